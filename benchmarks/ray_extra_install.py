"""What the ``[ray]`` extra adds to an install: ``pip install -e ".[ray]"`` on top of the core,
against the core's own install in the same run.

    python -m benchmarks.ray_extra_install [--python python3]

In a new virtual environment in a temporary folder: ``pip install -e .`` (the core: numpy, numba,
gymnasium, scipy, threadpoolctl, scikit-learn; the reference), then ``pip install -e ".[ray]"``
(``ray[default,rllib]`` and its dependencies), each timed by the wall clock and by the CPU
seconds of pip and its children (``resource.RUSAGE_CHILDREN``). pip uses the machine's own
configuration (its index, its wheel folders and its cache: a warm cache measures unpacking and
installing more than downloading; the output counts the lines pip printed as "Downloading"). ``make setup``
installs the extra together with the others (``.[all,dev]``), so what it adds there is about
this row, not exactly it.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(cmd: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s of the command and its children, its "Downloading" lines) of ``cmd``."""
    c0, w0 = _children_cpu(), time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    downloads = sum(line.lstrip().startswith("Downloading") for line in done.stdout.splitlines())
    return time.perf_counter() - w0, _children_cpu() - c0, downloads


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--python", default="python3", help="the interpreter of the new environment")
    args = p.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="lrgym-ray-install-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([args.python, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install"]
        core = _timed(pip + ["-e", "."])
        ray = _timed(pip + ["-e", ".[ray]"])
    print(f"load average {load_before:.1f} → {os.getloadavg()[0]:.1f}")
    print("| install | wall s | CPU s (pip and its children) | pip's \"Downloading\" lines |")
    print("|---|---:|---:|---:|")
    print(f"| `pip install -e .` (the core; reference) | {core[0]:.1f} | {core[1]:.1f} | {core[2]} |")
    print(f"| then `pip install -e \".[ray]\"` | {ray[0]:.1f} | {ray[1]:.1f} | {ray[2]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
