"""What the sandbox costs a submission, piece by piece: a job, an episode's process, a step's relay.

    python -m benchmarks.sandbox_costs [--rounds 5] [--steps 50] [--sizes 1,8,40]

``lrgym.leaderboard.bench --isolation`` times whole entries; this splits a sandboxed entry's extra
time into the three things it pays for, driving the worker's own sandbox channel
(``lrgym.leaderboard.worker._SandboxChannel``: the messages, encoding and limits of a graded
submission) with the example submission (``leaderboard/submissions/example_policy.py:LossWatcher``)
and no env: every message carries one real observation and public info of ``LRControl-LinReg-v1``
(one reset), so only the sandbox's work and the policy's own ``act`` are timed.

* **start**: the sandbox's start (a fresh Python importing NumPy and lrgym, its root file system)
  and the load of the submission's files, once per worker and entry;
* **a job of n episodes**: ``policies`` (the job starter forks a job process, which enters its
  own namespaces, imports the policy's module and forks one process per episode) + ``reset`` +
  ``end`` (the job's processes ended), wall clock, for each n of ``--sizes``; the per-job and the
  per-episode cost are the least-squares line through each size's median;
* **a step**: ``--steps`` ``act`` messages to a job of 8 episodes (one message per step for all
  of them, relayed to each episode's process), per episode step, against the same policy's
  ``act`` called in this process on the same observation and info.

The sizes alternate within each round; the machine's load before and after is printed, as wall
clocks on a shared machine move with it. Linux only (the sandbox's own requirement).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "leaderboard" / "submissions" / "example_policy.py"
FAMILY = "linreg"


def _step_input():
    """(observation, public info) of one reset of ``LRControl-LinReg-v1``: what a step's message holds."""
    import gymnasium as gym

    import lrgym  # noqa: F401 - registers the ids
    from lrgym.leaderboard.settings import public_info

    env = gym.make("LRControl-LinReg-v1")
    obs, info = env.reset(seed=0)
    env.close()
    return obs, public_info(info)


def _job_seconds(channel, n: int, obs, info, steps: int = 0) -> tuple[float, float]:
    """(seconds of the job's start and end, seconds of its ``steps`` act messages) for a job of ``n``."""
    t0 = time.perf_counter()
    channel.request(("policies", FAMILY, n))
    channel.request(("reset", FAMILY, [info] * n, [f"episode {i}" for i in range(n)]))
    t1 = time.perf_counter()
    for _ in range(steps):
        reply = channel.request(("act", FAMILY, [(i, obs.copy(), info) for i in range(n)]))
        assert len(reply["actions"]) == n, reply
    t2 = time.perf_counter()
    channel.request(("end",))
    t3 = time.perf_counter()
    return (t1 - t0) + (t3 - t2), t2 - t1


def _in_process_act_seconds(obs, info, calls: int) -> float:
    """Seconds per ``act`` of the example policy called in this process (what a trusted baseline pays)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("example_policy", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    policy = module.LossWatcher(family=FAMILY)
    policy.reset(info)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            policy.act(obs, info)
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def _line(xs: list[int], ys: list[float]) -> tuple[float, float]:
    """(intercept, slope) of the least-squares line through (xs, ys)."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50, help="act messages timed per round (a job of 8)")
    parser.add_argument("--sizes", default="1,8,40", help="episodes per job, comma-separated (at least two sizes)")
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    if len(sizes) < 2 or sizes[0] < 1:
        parser.error(f"--sizes {args.sizes!r}: give at least two different positive sizes, e.g. 1,8,40")

    from lrgym.leaderboard.runner import cpu_description
    from lrgym.leaderboard.sandbox import Limits, mode
    from lrgym.leaderboard.worker import _SandboxChannel, policy_files

    obs, info = _step_input()
    host_spec, files, _ = policy_files({"kind": "object", "target": f"{EXAMPLE}:LossWatcher"}, FAMILY)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    channel = _SandboxChannel(host_spec, files, vars(Limits()))
    start = time.perf_counter() - t0
    jobs: dict[int, list[float]] = {n: [] for n in sizes}
    steps: list[float] = []
    try:
        _job_seconds(channel, 1, obs, info, steps=1)  # the first job warms the host's caches: not counted
        for _ in range(args.rounds):
            for n in sizes:
                jobs[n].append(_job_seconds(channel, n, obs, info)[0])
            steps.append(_job_seconds(channel, 8, obs, info, steps=args.steps)[1] / (8 * args.steps))
    finally:
        channel.close()
    load_after = os.getloadavg()
    medians = {n: statistics.median(v) for n, v in jobs.items()}
    per_job, per_episode = _line(sizes, [medians[n] for n in sizes])
    in_process = _in_process_act_seconds(obs, info, calls=20_000)
    print(json.dumps({
        "machine": f"{cpu_description()}, {os.cpu_count()} logical CPUs; {platform.platform()}",
        "sandbox": mode()["kind"],
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in load_after],
        "start_ms": round(1e3 * start, 1),
        "job_ms_by_episodes": {n: [round(1e3 * s, 1) for s in v] for n, v in jobs.items()},
        "per_job_ms": round(1e3 * per_job, 1), "per_episode_ms": round(1e3 * per_episode, 2),
        "relay_ms_per_episode_step": [round(1e3 * s, 3) for s in steps],
        "in_process_act_ms": round(1e3 * in_process, 5),
    }, indent=1))


if __name__ == "__main__":
    main()
