"""What the first data-set instance of a process pays for scikit-learn: its import, against the
import of lrgym itself in the same run.

    python -m benchmarks.sklearn_import [--repeats 5]

scikit-learn is a core dependency of lrgym, imported only when a data-set instance is first built
(``lrgym.tasks.datasets.bundled``: ``from sklearn import datasets``, then a ``load_*``). Each of
``--repeats`` fresh Python processes (``python -c``, BLAS on one thread) times, one after the
other, with its CPU clock (``time.process_time``: the process's user + system time, the cost
whatever else runs on the machine) and the wall clock:

* ``import lrgym`` (numpy, numba, gymnasium, lrgym's modules: the reference, what every process
  pays),
* ``from sklearn import datasets`` (what the first data-set instance adds; pandas, if installed,
  is imported by scikit-learn there),
* ``bundled("diabetes")``, reading the first data set once the import is done.

Processes start one after the other, so they do not compete with each other, only with whatever
else the machine runs (said by the load average printed before and after).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys

_CHILD = r"""
import json, time
def clocks():
    return time.process_time(), time.perf_counter()
c0, w0 = clocks()
import lrgym
c1, w1 = clocks()
from sklearn import datasets
c2, w2 = clocks()
from lrgym.tasks.datasets import bundled
bundled("diabetes")
c3, w3 = clocks()
print(json.dumps({
    "lrgym": [c1 - c0, w1 - w0],
    "sklearn": [c2 - c1, w2 - w1],
    "read": [c3 - c2, w3 - w2],
}))
"""

STAGES = (
    ("lrgym", "`import lrgym` (reference)"),
    ("sklearn", "`from sklearn import datasets` after it"),
    ("read", "`bundled(\"diabetes\")`, the first data set read"),
)


def _one_process() -> dict:
    done = subprocess.run([sys.executable, "-c", _CHILD], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _span(values: list[float]) -> str:
    return f"{min(values):.2f} – {max(values):.2f} ({statistics.median(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5, help="fresh processes (default 5)")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats must be a positive integer, got {args.repeats}")

    load_before = os.getloadavg()
    runs = [_one_process() for _ in range(args.repeats)]
    load_after = os.getloadavg()
    pandas = "installed" if importlib.util.find_spec("pandas") else "not installed"
    print(f"{args.repeats} fresh processes, one after the other; pandas {pandas}; "
          f"load average {load_before[0]:.1f} → {load_after[0]:.1f}")
    print("| stage | CPU s: range (median) | wall s: range (median) |")
    print("|---|---:|---:|")
    for key, name in STAGES:
        cpu = [r[key][0] for r in runs]
        wall = [r[key][1] for r in runs]
        print(f"| {name} | {_span(cpu)} | {_span(wall)} |")
    ratio = statistics.median(r["sklearn"][0] for r in runs) / statistics.median(r["lrgym"][0] for r in runs)
    print(f"scikit-learn's import / lrgym's, CPU medians: {ratio:.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
