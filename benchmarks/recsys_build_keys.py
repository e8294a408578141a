"""What a synthetic recommender instance's build costs per Gumbel key, the cost behind the key
bound (``lrgym.tasks.recsys.family.MAX_KEYS`` = 2³¹ keys, n_users × n_items).

    python -m benchmarks.recsys_build_keys [--keys 1e7,2**27,2**29] [--instances 0,1,2,3] [--repeats 2]

A build draws one Gumbel key per user × item and keeps each user's largest
(``lrgym.tasks.recsys.synthetic.synthetic_positives``), then splits the positives and makes the
evaluation sets (``RecsysTask``). For each key count and each of ``--instances``: that train
instance's spec of the ``recsys`` family (its rank, popularity, signal and positives per user,
which move the selection's pruning) with ``n_items`` = 2,000 (the largest sampled) and
``n_users`` = keys / 2,000, built whole (``RecsysFamily.build``) and its positives drawn alone,
CPU time of this process (one BLAS thread), the best of ``--repeats``, as nanoseconds per key. At
the first count (by default 10⁷ keys: 5,000 × 2,000, the largest instance the family samples)
the plain NumPy code of the same draws (``tests/references.py: synthetic_positives_numpy``) is
the reference in the same run: its positives are checked equal to the bit and its time given as
a ratio.

The bound itself (2³¹ keys) is not built by default (≈ 80 s, a few GB): the per-key cost across
the counts measured says whether the extrapolation to it holds; pass ``--keys 2**31`` to build it.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy: the scores' matmul on one thread
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

N_ITEMS = 2000  # the largest n_items the family samples (N_ITEMS_RANGE)
TESTS = str(Path(__file__).resolve().parents[1] / "tests")


def _key_count(text: str) -> int:
    """``1e7`` or ``2**27``: a key count, rounded to a multiple of :data:`N_ITEMS`."""
    base, _, power = text.strip().partition("**")
    value = float(base) ** float(power) if power else float(base)
    return max(1, round(value / N_ITEMS)) * N_ITEMS


def _cpu_best(fn, repeats: int):
    """(least CPU seconds of ``repeats`` calls of ``fn``, its last result)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--keys", default="1e7,2**27,2**29", help="key counts, comma-separated (n_items 2,000)")
    p.add_argument("--instances", default="0,1,2,3", help="train instance seeds whose specs are scaled")
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    counts = [_key_count(k) for k in args.keys.split(",")]

    from lrgym.tasks.base import data_rng
    from lrgym.tasks.recsys.family import MAX_KEYS, RecsysFamily
    from lrgym.tasks.recsys.synthetic import synthetic_positives

    if TESTS not in sys.path:
        sys.path.insert(0, TESTS)
    from references import synthetic_positives_numpy

    family = RecsysFamily()
    family.build(dataclasses.replace(family.sample(0), n_users=500, n_items=N_ITEMS))  # kernels compiled first
    seeds = [int(s) for s in args.instances.split(",")]

    print(f"MAX_KEYS = 2**31 = {MAX_KEYS:,}; n_items {N_ITEMS:,}; CPU seconds, best of {args.repeats}")
    print("| keys (n_users × n_items) | instance | positives | build, s | ns per key | positives alone, s | ns per key | "
          "plain NumPy positives, s | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for keys, seed in ((k, s) for k in counts for s in seeds):
        spec = dataclasses.replace(family.sample(seed), n_users=keys // N_ITEMS, n_items=N_ITEMS)
        build_s, task = _cpu_best(lambda: family.build(spec), args.repeats)
        n_pos = len(task.pos_u) + len(task.va_u) // (1 + spec.n_negatives)
        del task
        alone_s, (pu, pi) = _cpu_best(lambda: synthetic_positives(spec, data_rng(spec)), args.repeats)
        ref_cells = ["–", "–"]
        if keys == counts[0]:
            numpy_s, (ru, ri) = _cpu_best(lambda: synthetic_positives_numpy(spec, data_rng(spec)), args.repeats)
            assert np.array_equal(pu, ru) and np.array_equal(pi, ri), "the compiled and NumPy positives differ"
            ref_cells = [f"{numpy_s:.2f}", f"{numpy_s / alone_s:.1f}×"]
        print(f"| {keys:,} ({keys // N_ITEMS:,} × {N_ITEMS:,}) | {seed} | {n_pos:,} | {build_s:.2f} | {build_s / keys * 1e9:.1f} "
              f"| {alone_s:.2f} | {alone_s / keys * 1e9:.1f} | {' | '.join(ref_cells)} |", flush=True)
        del pu, pi
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
