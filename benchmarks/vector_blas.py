"""The vector env's MLP step with BLAS on one thread (as now) vs the BLAS library's default threads.

    python -m benchmarks.vector_blas [--envs 16 --rounds 4 --steps 40]

The MLP kernels call ``np.dot``, i.e. the BLAS library SciPy ships (OpenBLAS: one thread per
core by default). The single env pins it to one thread around its kernel call
(:mod:`lrgym.tasks.blas`); the vector env's batched call now does the same. This runs
``gym.make_vec("LRControl-MLP-v1", envs)`` with random actions, alternating rounds with the
pin on and off (the kernel kinds' ``single_thread_blas`` flag switched in place), and prints the
best env steps/s of each, CPU time and wall clock. On a busy 2-core machine the default threads
spin-wait for a core; the CPU-time rate counts that spinning, the wall-clock rate the waiting.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import gymnasium as gym

import lrgym  # noqa: F401
from lrgym.tasks import batched
from lrgym.tasks.blas import _blas_controllers


def _pin(envs, flag: bool) -> None:
    for key, kind in list(batched._KINDS.items()):
        batched._KINDS[key] = dataclasses.replace(kind, single_thread_blas=flag)
    for group in envs.unwrapped._kernels._groups.values():
        group.kind = batched._KINDS[(group.kind.name, group.kind.kernel)]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args(argv)
    threads = [c.get_num_threads() for c in _blas_controllers()]
    envs = gym.make_vec("LRControl-MLP-v1", num_envs=args.envs, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    envs.action_space.seed(0)
    actions = [envs.action_space.sample() for _ in range(args.steps)]

    def run():
        cpu, wall = time.process_time(), time.perf_counter()
        for a in actions:
            envs.step(a)
        n = args.envs * len(actions)
        return n / (time.process_time() - cpu), n / (time.perf_counter() - wall)

    run()
    best = {True: (0.0, 0.0), False: (0.0, 0.0)}
    for _ in range(args.rounds):
        for flag in (True, False):
            _pin(envs, flag)
            cpu, wall = run()
            best[flag] = (max(best[flag][0], cpu), max(best[flag][1], wall))
    _pin(envs, True)
    print(f"BLAS libraries' default threads: {threads}")
    print(f"| `gym.make_vec(\"LRControl-MLP-v1\", {args.envs})` | env steps/s, CPU time | env steps/s, wall clock |")
    print("|---|---:|---:|")
    print(f"| BLAS default threads (before) | {best[False][0]:,.0f} | {best[False][1]:,.0f} |")
    print(f"| BLAS on one thread (now) | {best[True][0]:,.0f} | {best[True][1]:,.0f} |")
    print(f"| ratio | **{best[True][0] / best[False][0]:.2f}×** | **{best[True][1] / best[False][1]:.2f}×** |")


if __name__ == "__main__":
    main()
