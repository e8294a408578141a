"""The board of a hosted leaderboard at scale: ``build_leaderboard`` on a store of many v2 entries,
as ``show`` built it before (every run's curves decoded, each run rescored on its own) and as it
builds it now (no curves: ``curves=False``; one rescoring call per entry), alternating in one run:
seconds (best of ``--repeats``) and peak Python memory (tracemalloc), and that both boards are equal.

    python -m benchmarks.board_scale --entries 200

The store is written through :class:`~lrgym.leaderboard.store.ResultStore` into a temporary folder:
``--entries`` entries of the v2 suite (48 tasks × 5 seeds, 240 runs each, four curves of 50 steps:
≈ 1.1 MB per entry, as the grader's), their losses scored against the suite's references as the
grader scores them (five run sets, each stored under many names). Both boards take time in
proportion to the entries; the old one's memory grows by the decoded curves of every entry.

Measured (2 shared cores, Xeon): 100 entries, 115 MB: 5.29 s / 198 MB before, 1.33 s / 30 MB now
(4.0x, 6.6x; "before" is the rescoring rule of ranking.TARGET_RTOL, two scores per run). ``lrgym leaderboard show`` on a store of 2,005 ranked v2 entries (2.6 GB): see RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from lrgym.leaderboard import ranking, scoring
from lrgym.leaderboard.ranking import build_leaderboard
from lrgym.leaderboard.references import find_cached
from lrgym.leaderboard.runner import summarize
from lrgym.leaderboard.store import EntryRecord, ResultStore, RunRecord
from lrgym.leaderboard.suite import Task, get_suite

STEPS = 50


def old_other_targets(runs, references) -> bool:
    """``ranking.other_targets`` before the one-call rescoring: each run on its own (NumPy on scalars)."""
    for r in runs:
        try:
            target = references.final_loss(Task(r.family, r.instance), r.seed)
        except (KeyError, ValueError, IndexError):
            continue
        if not math.isfinite(r.score):
            continue
        ends = [float(scoring.score(r.initial_loss, r.final_loss, t, r.diverged))
                for t in (target * (1 - ranking.TARGET_RTOL), target * (1 + ranking.TARGET_RTOL))]
        if all(math.isfinite(e) for e in ends) and not (min(ends) - ranking.SCORE_ATOL <= r.score
                                                        <= max(ends) + ranking.SCORE_ATOL):
            return True
    return False


def run_sets(suite, refs, rng) -> list[list[RunRecord]]:
    """Five policies' runs of the suite, scored as the grader scores them, with curves of STEPS steps."""
    out = []
    for level in (0.3, 0.5, 0.7, 0.9, 1.1):
        runs = []
        for seed in suite.seeds:
            for task in suite.tasks():
                l0, target = refs.initial_loss(task, seed), refs.final_loss(task, seed)
                final = float(l0 * (target / l0) ** (level * rng.uniform(0.8, 1.2)))
                losses = list(np.geomspace(l0, final, STEPS + 1) * rng.uniform(0.99, 1.01, STEPS + 1))
                runs.append(RunRecord(task.family, task.instance, seed, float(scoring.score(l0, final, target)), final,
                                      l0, False, float(rng.integers(1, STEPS)),
                                      {"lr": list(rng.uniform(1e-3, 1e-1, STEPS)), "train_loss": losses,
                                       "val_loss": losses, "metric": list(rng.uniform(0, 1, STEPS + 1))}))
        out.append(runs)
    return out


def build_store(path: Path, suite, refs, n: int) -> None:
    sets = run_sets(suite, refs, np.random.default_rng(0))
    summaries = [summarize(runs, suite) for runs in sets]
    with ResultStore(path) as store:
        for i in range(n):
            k = i % len(sets)
            kind = "baseline" if i < len(sets) else "submission"
            store.add_entry(EntryRecord(name=f"{kind[:4]}{i:05d}", kind=kind, suite_version=suite.version,
                                        summary=summaries[k], owner=None if kind == "baseline" else f"u{i % 97}"),
                            sets[k])


def board(store, suite, refs, old: bool):
    if old:
        ranking.other_targets, kept = old_other_targets, ranking.other_targets
        try:
            return build_leaderboard(store, suite, references=refs)
        finally:
            ranking.other_targets = kept
    return build_leaderboard(store, suite, references=refs, curves=False)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--entries", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    suite = get_suite("v2")
    refs = find_cached(suite)[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "board.sqlite"
        t0 = time.perf_counter()
        build_store(path, suite, refs, args.entries)
        print(f"store: {args.entries} v2 entries, {path.stat().st_size / 1e6:.0f} MB, "
              f"written in {time.perf_counter() - t0:.0f} s")
        seconds = {True: [], False: []}
        boards = {}
        with ResultStore(path) as store:
            for _ in range(args.repeats):
                for old in (True, False):
                    t0 = time.perf_counter()
                    boards[old] = board(store, suite, refs, old)
                    seconds[old].append(time.perf_counter() - t0)
            peak = {}
            for old in (True, False):
                tracemalloc.start()
                board(store, suite, refs, old)
                peak[old] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
        a, b = boards[True], boards[False]
        same = [(r.name, r.rank, r.summary, r.poi, r.algoperf) for r in a.rows] == \
               [(r.name, r.rank, r.summary, r.poi, r.algoperf) for r in b.rows] and a.skipped == b.skipped
    old_s, new_s = min(seconds[True]), min(seconds[False])
    print("| board | seconds (best of %d) | ms per entry | peak Python memory |" % args.repeats)
    print("|---|---:|---:|---:|")
    for label, s, m in (("before (curves, run-by-run rescoring)", old_s, peak[True]),
                        ("now (`curves=False`, one rescoring call)", new_s, peak[False])):
        print(f"| {label} | {s:.2f} | {1e3 * s / args.entries:.1f} | {m / 1e6:.0f} MB |")
    print(f"ratio: {old_s / new_s:.2f}x faster, {peak[True] / peak[False]:.1f}x less memory; same board: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
