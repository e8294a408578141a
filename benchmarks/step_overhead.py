"""The Python part of a linreg ``gym.make`` step: the step's time minus its compiled work.

    python -m benchmarks.step_overhead                       # this tree
    python -m benchmarks.step_overhead --before /path/to/old/tree   # and an older tree, interleaved

One step of ``LRControl-LinReg-v1`` on the reference configuration (d 32, batch 64, 2,048
rows, 10 updates, the action that keeps the LR), through ``gym.make``'s wrappers, against the
same work done in one compiled loop (the harness's ``kernel`` row: the family kernel called
64 times per Python call). The difference is what Python adds per step: gymnasium's wrappers,
the env's bookkeeping, the kernel call's argument passing (Numba unboxing), the observation and
reward call, the info dict. CPU time, best of ``--blocks`` blocks.

With ``--before TREE`` the same measurement also runs on another source tree (e.g. ``git
archive`` of an older commit unpacked to a directory), in a subprocess with that tree first on
``sys.path``, the two alternating block by block so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys



#: run in a subprocess with a tree first on sys.path, using that tree's own benchmark harness
#: (``single`` and ``kernel`` runners, present in every tree since the benchmarks began)
_MEASURE = """
import json
from benchmarks import harness as h
bench = h.FAMILIES["linreg"]
step, kernel = h.single(bench), h.kernel(bench)
h.rate(step, seconds=0.2, blocks=1)
h.rate(kernel, seconds=0.2, blocks=1)
print(json.dumps({{"step_us": 1e6 / h.rate(step, seconds={seconds}, blocks={blocks}),
                  "kernel_us": 1e6 / h.rate(kernel, seconds={seconds}, blocks={blocks})}}))
"""


def _run_tree(tree: str, blocks: int, seconds: float) -> dict:
    """µs per env step in ``tree``: ``gym.make`` step and compiled kernel loop (best of ``blocks``)."""
    env = dict(os.environ, PYTHONPATH=tree)
    code = _MEASURE.format(blocks=blocks, seconds=seconds)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", help="an older source tree to measure too (interleaved)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=0.3)
    args = ap.parse_args(argv)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = {"after": here} | ({"before": os.path.abspath(args.before)} if args.before else {})
    best: dict[str, dict] = {}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            r = _run_tree(tree, args.blocks, args.seconds)
            for key, value in r.items():
                best.setdefault(name, {})[key] = min(value, best.get(name, {}).get(key, float("inf")))
    print("| tree | `gym.make` step, µs | compiled work, µs | Python per step, µs |")
    print("|---|---:|---:|---:|")
    for name, r in best.items():
        print(f"| {name} | {r['step_us']:.2f} | {r['kernel_us']:.2f} | {r['step_us'] - r['kernel_us']:.2f} |")


if __name__ == "__main__":
    main()
