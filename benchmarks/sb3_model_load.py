"""What loading an SB3 zip costs a sandboxed job: the model's load after the host's imports
(``lrgym.leaderboard.policy_loading.preload_sb3``) against the same load in a fresh process that
imports torch and stable_baselines3 itself.

    python -m benchmarks.sb3_model_load [--zip baselines/weights/ppo_mixed.zip] [--repeats 5]

The grader's host imports torch, ``torch._dynamo``, stable_baselines3 and lrgym's SB3 policy once
(``preload_sb3``); each job process is forked from it and loads the model once
(``build_policy``: ``SB3Policy(path)`` and its ``reset``, which loads the model). Here:

* ``host``: this process runs ``preload_sb3`` (timed: the host's imports, once per grader worker),
  then forks ``--repeats`` children, one after the other, each timing its load of the zip (CPU and
  wall clock): what a job pays;
* ``fresh``: ``--repeats`` fresh Python processes (``python -c``), each timing the imports and the
  load together: what a job paid when its process imported both itself (the reference, same run).

No sandbox (namespaces, seccomp) is set up: this times the load alone, which the sandbox does
not change. The zip's sidecar (``<stem>.json``) is used when it is next to it, as the grader does.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ZIP = Path(__file__).resolve().parents[1] / "baselines" / "weights" / "ppo_mixed.zip"

_LOAD = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
{imports}
from lrgym.baselines.sb3_agents import SB3Policy
policy = SB3Policy(sys.argv[1])
policy.reset({{}})  # loads the model (build_policy's call)
print(json.dumps({{"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}}))
"""


def _clocks():
    return time.perf_counter(), time.process_time()


def _forked_load(path: str) -> dict:
    """Fork a child that loads ``path`` once and reports its clocks: a job process's load."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            from lrgym.baselines.sb3_agents import SB3Policy

            t0, c0 = _clocks()
            SB3Policy(path).reset({})
            t1, c1 = _clocks()
            os.write(write, json.dumps({"wall": t1 - t0, "cpu": c1 - c0}).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def _fresh_load(path: str) -> dict:
    code = _LOAD.format(imports="import torch, torch._dynamo, stable_baselines3")
    done = subprocess.run([sys.executable, "-c", code, path], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row(name: str, runs: list[dict]) -> str:
    cells = []
    for clock in ("cpu", "wall"):
        values = [r[clock] for r in runs]
        cells.append(f"{min(values):.3f} – {max(values):.3f} (median {statistics.median(values):.3f})")
    return f"| {name} | {' | '.join(cells)} |"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--zip", default=str(ZIP))
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    path = str(Path(args.zip).resolve())

    fresh = [_fresh_load(path) for _ in range(args.repeats)]  # before this process imports anything heavy
    from lrgym.leaderboard.policy_loading import preload_sb3

    t0, c0 = _clocks()
    preload_sb3()
    t1, c1 = _clocks()
    host = [_forked_load(path) for _ in range(args.repeats)]
    print(f"{Path(path).name}, {args.repeats} loads each; seconds")
    print("| way | CPU, s | wall, s |")
    print("|---|---:|---:|")
    print(f"| the host's imports (`preload_sb3`, once per worker) | {c1 - c0:.3f} | {t1 - t0:.3f} |")
    print(_row("a job's load, forked from the host (after its imports)", host))
    print(_row("a fresh process: imports + load (reference)", fresh))
    ratio = statistics.median(r["cpu"] for r in fresh) / statistics.median(r["cpu"] for r in host)
    print(f"fresh / forked, CPU medians: {ratio:.0f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
