"""A board's probabilities of improvement: every entry's PoI CI against the best baseline as
``build_leaderboard`` computed them before (``probability_of_improvement_ci`` per entry: its own
draws, every pair of resampled runs compared) and now (``probability_of_improvement_cis``: one set
of draws for all, runs counted, no pairs), alternating in one run: seconds (best of ``--repeats``),
their ratio, and whether every interval is the same to the bit.

    python -m benchmarks.poi_board --entries 500
    python -m benchmarks.poi_board --db STORE.sqlite   # the score matrices of a store's v2 board

Synthetic entries have the v2 suite's shape (5 seeds × 48 instances), scores clipped to [-1, 1.5]
on a grid of 1/64 (ties, as clipped and floored scores have them). 2,000 replications each.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lrgym.leaderboard import scoring
from lrgym.leaderboard.runner import BOOTSTRAP_REPS


def old_poi_ci(x, y, reps=BOOTSTRAP_REPS, alpha=0.05, seed=0, paired=False) -> scoring.Interval:
    """``scoring.probability_of_improvement_ci`` before the counting: all pairs of each resample."""
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    (nx, m), ny = xa.shape, ya.shape[0]
    rng = np.random.default_rng(seed)
    columns = np.arange(m)
    out = []
    for size in scoring._chunk_sizes(int(reps), max(nx * ny * m, (nx + ny) * m)):
        ix = rng.integers(0, nx, size=(size, nx, m))
        iy = ix if paired else rng.integers(0, ny, size=(size, ny, m))
        out.append(scoring.probability_of_improvement(xa[ix, columns], ya[iy, columns]))
    return scoring._percentile_interval(scoring.probability_of_improvement(xa, ya), np.concatenate(out), alpha)


def synthetic(n: int, rng) -> tuple[list[np.ndarray], np.ndarray]:
    mats = [np.round(np.clip(rng.normal(rng.uniform(0.2, 0.9), 0.4, size=(5, 48)), -1.0, 1.5) * 64) / 64
            for _ in range(n + 1)]
    return mats[1:], mats[0]


def from_store(path: str) -> tuple[list[np.ndarray], np.ndarray]:
    from lrgym.leaderboard.ranking import build_leaderboard
    from lrgym.leaderboard.store import ResultStore

    with ResultStore(path) as store:
        lb = build_leaderboard(store, "v2", curves=False, reps=1)  # the matrices only
    best = lb.row(lb.best_baseline)
    return [r.scores for r in lb.rows if r is not best], best.scores


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--entries", type=int, default=200)
    p.add_argument("--db", default=None, help="take the score matrices of this store's v2 board")
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    xs, y = from_store(args.db) if args.db else synthetic(args.entries, np.random.default_rng(0))
    seconds: dict[str, list[float]] = {"old": [], "new": []}
    results = {}
    for _ in range(args.repeats):
        for label in ("old", "new"):
            t0 = time.perf_counter()
            results[label] = ([old_poi_ci(x, y, seed=0) for x in xs] if label == "old"
                              else scoring.probability_of_improvement_cis(xs, y, seed=0))
            seconds[label].append(time.perf_counter() - t0)
    same = [[float(v) for v in iv] for iv in results["old"]] == [[float(v) for v in iv] for iv in results["new"]]
    old_s, new_s = min(seconds["old"]), min(seconds["new"])
    print(f"{len(xs)} entries ({xs[0].shape[0]} seeds × {xs[0].shape[1]} tasks), {BOOTSTRAP_REPS} replications each")
    print(f"before (pairs, per entry): {old_s:.2f} s, {1e3 * old_s / len(xs):.1f} ms per entry")
    print(f"now (counts, shared draws): {new_s:.2f} s, {1e3 * new_s / len(xs):.1f} ms per entry")
    print(f"ratio: {old_s / new_s:.1f}x faster; every interval the same to the bit: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
