"""A first ``train_rllib`` run on a cold Numba cache: the env runners compiling the kernels each
(as before) vs the kernels warmed once on the driver first (``train_rllib.warm_up_nodes``).

    python -m benchmarks.rllib_warm_up [--steps 2000] [--env-runners 2] [--repeats 1]

Each run is ``python -m lrgym.baselines.train_rllib --steps STEPS --env-runners N`` in a process
of its own, on its own Ray instance, with an empty ``NUMBA_CACHE_DIR`` (a first run, an upgrade
or an edit of lrgym: :mod:`lrgym.kernel_cache`); "runners compile" replaces ``warm_up_nodes`` by
a no-op. Reported per run: the command's wall time, RLlib's sampling timer of its first
iteration (the first value of its moving average: that iteration's own) and the warm-up's
seconds. The two ways alternate within the run; the ratio is the claim, the absolute times are
this machine's and its load's. A run with a warm cache (the second run of a machine) is timed
last, for scale.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

_RUN = """
import sys
from lrgym.baselines import train_rllib
if sys.argv[1] == "off":
    train_rllib.warm_up_nodes = lambda config: None
train_rllib.main(sys.argv[2:])
"""


def one_run(warm: bool, steps: int, runners: int, cache: str, tmp: str) -> dict:
    out = os.path.join(tmp, f"run{time.monotonic_ns()}")
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    argv = [sys.executable, "-c", _RUN, "on" if warm else "off", "--steps", str(steps), "--env-runners",
            str(runners), "--no-progress", "--out", out]
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    wall = time.perf_counter() - start
    with open(out + ".json") as f:
        meta = json.load(f)
    return {"wall_s": round(wall, 1), "first_sample_s": meta["history"][0]["rllib_sample_ema_s"],
            "warm_up_s": meta.get("warm_up_s"), "train_s": meta["train_seconds"]}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--env-runners", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args(argv)
    runs: dict[str, list] = {"runners compile": [], "warmed first": []}
    with tempfile.TemporaryDirectory(prefix="lrgym-warm-") as tmp:
        for r in range(args.repeats):
            for name, warm in (("runners compile", False), ("warmed first", True)):
                cache = tempfile.mkdtemp(dir=tmp, prefix="numba-")  # empty: a first run
                runs[name].append(one_run(warm, args.steps, args.env_runners, cache, tmp))
                print(name, runs[name][-1], flush=True)
        warm_cache = one_run(True, args.steps, args.env_runners, cache, tmp)  # the last cache, now full
    mean = {k: sum(r["wall_s"] for r in v) / len(v) for k, v in runs.items()}
    print(json.dumps({"steps": args.steps, "env_runners": args.env_runners, "cpus": os.cpu_count(),
                      "load": os.getloadavg()[0], "runs": runs, "warm cache": warm_cache,
                      "wall ratio (runners compile / warmed first)": round(mean["runners compile"] / mean["warmed first"], 2)},
                     indent=1))


if __name__ == "__main__":
    main()
