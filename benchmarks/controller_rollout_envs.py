"""The controller trainer's rollouts on the mlp family: lrgym's batched vector env against the
single envs it steps (``baselines/train_controller.py: run_batch``), the choice README's
"What was tried" (3) explains.

    python -m benchmarks.controller_rollout_envs [--envs 16] [--steps 10] [--rounds 5]

Both ways run ``--envs`` episodes on mlp train instances 0, 1, ... (mixed sizes, the trainer's
env settings ``TRAINER_SET``: SGD, ``log_lr`` actions), one per instance, each reset on its
instance and stepped ``--steps`` times at a constant LR (the action 0: 10^-2.5):

* ``single``: ``LRControlEnv``\\ s sharing one task cache, stepped one after the other (the trainer's
  way);
* ``vector``: one ``LRControlVectorEnv`` of as many sub-envs, reset with the list of instances,
  stepped with one action for all.

A first round of each builds the instances and compiles the kernels (not timed); then the two
alternate ``--rounds`` times, each timed in CPU seconds of this process (BLAS on one thread) from
the reset to the last step. Both ways' final training losses are checked equal to the bit (the
same episodes), and the ratio vector / single is that of the medians, from the same run.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import statistics
import time
from collections import OrderedDict

import numpy as np

SEED = 0


def _single(kwargs: dict, instances: list[int], steps: int, tasks: OrderedDict) -> np.ndarray:
    from lrgym.env import LRControlEnv

    envs = [LRControlEnv(**kwargs, task_cache=tasks) for _ in instances]
    losses = np.zeros(len(instances))
    action = np.zeros(1, dtype=np.float32)
    for i, (env, inst) in enumerate(zip(envs, instances)):
        env.reset(seed=SEED + i, options={"instance": inst})
    for _ in range(steps):
        for i, env in enumerate(envs):
            _, _, _, _, info = env.step(action)
            losses[i] = info["train_loss"]
    return losses


def _vector(kwargs: dict, instances: list[int], steps: int) -> np.ndarray:
    from lrgym.vector import LRControlVectorEnv

    envs = LRControlVectorEnv(len(instances), **kwargs)
    envs.reset(seed=[SEED + i for i in range(len(instances))], options={"instance": instances})
    action = np.zeros((len(instances), 1), dtype=np.float32)
    for _ in range(steps):
        _, _, _, _, infos = envs.step(action)
    envs.close()
    return np.asarray(infos["train_loss"], dtype=np.float64)


def _cpu(fn):
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--envs", type=int, default=16)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)

    from lrgym.baselines.train_controller import TRAINER_SET

    kwargs = {"family": "mlp", **TRAINER_SET}
    instances = list(range(args.envs))
    tasks: OrderedDict = OrderedDict()
    single = lambda: _single(kwargs, instances, args.steps, tasks)  # noqa: E731
    vector = lambda: _vector(kwargs, instances, args.steps)  # noqa: E731
    first = single()
    assert np.array_equal(first, vector()), "the vector env's episodes differ from the single envs'"
    times: dict[str, list[float]] = {"single": [], "vector": []}
    for _ in range(args.rounds):
        for name, fn in (("single", single), ("vector", vector)):
            seconds, losses = _cpu(fn)
            assert np.array_equal(losses, first), f"{name}: a round's episodes differ"
            times[name].append(seconds)
    s, v = statistics.median(times["single"]), statistics.median(times["vector"])
    print(f"mlp train instances {instances[0]} – {instances[-1]}, {args.envs} envs × {args.steps} steps, "
          f"CPU seconds over {args.rounds} alternated rounds (min – max, median)")
    print("| way | CPU s | median |")
    print("|---|---:|---:|")
    for name, med in (("single `LRControlEnv`s, one task cache", s), ("`LRControlVectorEnv`", v)):
        ts = times["single" if name.startswith("single") else "vector"]
        print(f"| {name} | {min(ts):.3f} – {max(ts):.3f} | {med:.3f} |")
    print(f"vector / single: {v / s:.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
