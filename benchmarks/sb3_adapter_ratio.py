"""``lrgym.sb3.make_sb3_vec_env`` against SB3's ``DummyVecEnv`` over 64 ``gym.make`` envs, every
info key in both, and the adapter with ``info_keys=()``: env steps/s on the benchmark
configurations (:data:`benchmarks.harness.FAMILIES`), CPU time of one thread, the variants
alternating three times in one run (best block of each).

    python -m benchmarks.sb3_adapter_ratio
"""

from __future__ import annotations

import numpy as np


def main() -> None:
    import argparse

    # no options; parsed so that --help prints this and does not start the minutes-long run
    argparse.ArgumentParser(prog="python -m benchmarks.sb3_adapter_ratio", description=__doc__.splitlines()[0]).parse_args()
    import torch

    torch.set_num_threads(1)
    from benchmarks import harness as h
    from lrgym.sb3 import make_sb3_vec_env

    def adapter(fam, **kw):
        # render_mode None: as h.sb3_dummy's gym.make envs (make_vec_env's rgb_array default records frames)
        venv = make_sb3_vec_env(fam.env_id, n_envs=h.N_ENVS, seed=0, render_mode=None, **h._env_kwargs(fam), **kw)
        venv.reset()
        actions = np.full(h.N_ENVS, h.KEEP)

        def step():
            venv.step_async(actions)
            venv.step_wait()
            return h.N_ENVS

        return step

    print("| family | adapter | DummyVecEnv | ratio | adapter, info_keys=() | full infos cost |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in ("linreg", "quadratic", "recsys", "mlp"):
        fam = h.FAMILIES[name]
        variants = {"adapter": adapter(fam), "dummy": h.sb3_dummy(fam), "bare": adapter(fam, info_keys=())}
        rates = {k: [] for k in variants}
        for _ in range(3):
            for k, step in variants.items():
                rates[k].append(h.rate(step, seconds=0.5, blocks=3))
        a, d, b = (max(rates[k]) for k in ("adapter", "dummy", "bare"))
        print(f"| {name} | {a:,.0f} | {d:,.0f} | {a / d:.2f}× | {b:,.0f} | {1 - a / b:.0%} "
              f"({1e6 / a - 1e6 / b:.1f} µs per env step) |", flush=True)


if __name__ == "__main__":
    main()
