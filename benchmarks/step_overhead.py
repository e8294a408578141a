"""The Python part of a linreg ``gym.make`` step: the step's time minus its compiled work.

    python -m benchmarks.step_overhead                       # this tree
    python -m benchmarks.step_overhead --before /path/to/old/tree   # and an older tree, interleaved

One step of ``LRControl-LinReg-v1`` on the reference configuration (d 32, batch 64, 2,048
rows, 10 updates, the action that keeps the LR), through ``gym.make``'s wrappers, against the
same compiled work done in one compiled loop (:data:`_FUSED`): per step the family kernel
(called through its compiled specialisation's address on an item held by the loop, as the env
calls it on its bound item) and then ``lrgym.env.observe`` (features, reward, the features'
memory), 64 steps per Python call, on the env's own instance data (a copy of its training
state), with the env's horizon. The difference is what Python adds per step:
gymnasium's wrappers, the env's bookkeeping, the compiled call's argument passing (Numba
unboxing), the info dict. CPU time, best of ``--blocks`` blocks per round, the three rows
alternating block by block.

The table also shows the harness's ``kernel`` row (the kernel alone in the vector env's compiled
loop, no features or reward), which this benchmark subtracted before: the env's compiled step
also computes the features and the reward, so subtracting the kernel alone counted them as
Python.

With ``--before TREE`` the same measurement also runs on another source tree (e.g. ``git
archive`` of an older commit unpacked to a directory), in a subprocess with that tree first on
``sys.path``, the two alternating block by block so both see the same machine load. The compiled
loop uses only what every tree since 5d54488 has (``batched._call_kernel``, ``observe`` from
``lrgym.step`` or, before 935ee41, ``lrgym.env``,
``features.start_episode``, the kinds' ``item``), each tree its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

#: the env's compiled work of a step in a compiled loop (run in the measured tree)
_FUSED = '''
import numba
import numpy as np
from benchmarks import harness as h
try:
    from lrgym.step import observe
except ImportError:  # a tree from before lrgym/step.py (935ee41)
    from lrgym.env import observe
from lrgym.features import M_CAP, N_FEATURES, N_MEMORY, start_episode
from lrgym.optim import OptimizerConfig
from lrgym.rewards import reward_code, reward_params
from lrgym.tasks.base import N_STATS
from lrgym.tasks.batched import _call_kernel, kernel_address, kernel_args, kind_of


@numba.njit
def fused_loop(n, item, addr, lr, n_updates, opt, hyper, stats, memory, t0, horizon, rk, rp, obs):
    r = 0.0
    for g in range(n):
        _call_kernel(addr, item, lr, n_updates, opt, hyper, memory[M_CAP], stats)
        r += observe(stats, memory, t0 + g, horizon, lr, rk, rp, obs)
    return r


def single_and_fused(bench, n=h.N_ENVS):
    """Two runners on one instance's data: ``gym.make`` steps (as the harness's ``single``) and
    n env steps of compiled work per call (the kernel, then features and reward) on the same
    task's arrays with a copy of the env's training state — so both rows read the same data
    at the same addresses (cache placement differs between allocations, not between rows)."""
    import gymnasium as gym

    import lrgym  # noqa: F401

    env = gym.make(bench.env_id, **h._env_kwargs(bench))
    env.reset(seed=0, options={"instance": 0})

    def single():
        _, _, terminated, truncated, _ = env.step(h.KEEP)
        if terminated or truncated:
            env.reset()
        return 1

    task = env.unwrapped.task
    state = env.unwrapped.state.copy()
    kind = kind_of(task)
    item = kind.item(task, state)
    cfg = OptimizerConfig("sgd")
    hyper = cfg.hyper()
    stats, memory = np.zeros(N_STATS), np.zeros(N_MEMORY)
    obs = np.zeros(N_FEATURES, dtype=np.float32)
    task.evaluate(state, stats)
    start_episode(stats, 1e4, task.loss_scale, memory)
    args = kernel_args(item, bench.lr, h.INNER_STEPS, cfg.code, hyper, memory[M_CAP], stats)
    addr = kernel_address(kind.kernel, args)
    rk, rp, t = reward_code("log_improvement"), reward_params(1.0, 1.0), [1]

    def fused():
        fused_loop(n, item, addr, bench.lr, h.INNER_STEPS, cfg.code, hyper, stats, memory, t[0], 10**9, rk, rp, obs)
        t[0] += n
        return n

    return single, fused
'''

#: times the ``runs`` (name → runner) the code before it made, block by block, and prints µs per step
_TIME_RUNS = '''
for run in runs.values():
    h.rate(run, seconds=0.2, blocks=1)
best = dict.fromkeys(runs, 0.0)
for _ in range(BLOCKS):  # the rows alternate block by block: each sees the same machine load
    for key, run in runs.items():
        best[key] = max(best[key], h.rate(run, seconds=SECONDS, blocks=1, warmup=0.02))
print(json.dumps(dict((key, 1e6 / rate) for key, rate in best.items())))
'''

#: run in a subprocess with a tree first on sys.path, using that tree's own benchmark harness
#: (``single`` and ``kernel`` runners, present in every tree since the benchmarks began)
_MEASURE = _FUSED + '''
import json

bench = h.FAMILIES["linreg"]
single, fused = single_and_fused(bench)
runs = dict(step_us=single, kernel_us=h.kernel(bench), fused_us=fused)
''' + _TIME_RUNS


def _run_tree(tree: str, blocks: int, seconds: float, measure: str = "") -> dict:
    """µs per env step in ``tree``: ``gym.make`` step, kernel loop, kernel + observe loop (best of
    ``blocks``); or the rows of another ``measure`` (code ending in :data:`_TIME_RUNS`)."""
    env = dict(os.environ, PYTHONPATH=tree)
    code = (measure or _MEASURE).replace("SECONDS", repr(float(seconds))).replace("BLOCKS", repr(int(blocks)))
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
    print("| tree | `gym.make` step, µs | kernel alone, µs | compiled work: kernel + features + reward, µs "
          "| Python per step, µs |")
    print("|---|---:|---:|---:|---:|")
    for name, r in best.items():
        print(f"| {name} | {r['step_us']:.2f} | {r['kernel_us']:.2f} | {r['fused_us']:.2f} "
              f"| {r['step_us'] - r['fused_us']:.2f} |")
    if len(best) == 2:
        python = {name: r["step_us"] - r["fused_us"] for name, r in best.items()}
        print(f"\nPython per step, after / before: {python['after'] / python['before']:.2f}")


if __name__ == "__main__":
    main()
