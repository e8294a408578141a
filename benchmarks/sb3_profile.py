"""Where SB3's training time goes on ``LRControl-v1``: the env vs the agent (PPO, DQN).

    python -m benchmarks.sb3_profile                   # PPO and DQN, 16 envs, 20,000 env steps each
    python -m benchmarks.sb3_profile --steps 4000      # quicker

Each algorithm trains on :func:`lrgym.sb3.make_sb3_vec_env` (lrgym's batched vector env as an
SB3 ``VecEnv``; default settings: a new train instance at every reset, horizon 50) and on
SB3's own ``DummyVecEnv`` over ``gym.make`` envs (what ``make_vec_env`` gives), with the
same seeds. Time in the env is the time inside ``VecEnv.reset`` / ``step_wait`` (which include
the instance builds at automatic resets); the rest of ``learn`` is the agent (policy forward
passes, rollout buffer, gradient updates, SB3's bookkeeping). CPU time of the process; torch on
one thread (``torch.set_num_threads(1)``), as lrgym's baselines train.
"""

from __future__ import annotations

import argparse
import time

from benchmarks import harness as _harness  # noqa: F401  (BLAS on one thread before NumPy loads)

ENV_ID = "LRControl-v1"

#: the algorithms' settings for the vector env (n_envs = 16): PPO collects 16 × 128 steps per
#: update; DQN does one gradient step per 16 env steps (one vector step), as SB3's defaults per env
ALGOS = {
    "PPO": dict(n_steps=128, batch_size=256, n_epochs=4),
    "DQN": dict(learning_starts=1000, train_freq=1, gradient_steps=1, buffer_size=50_000, target_update_interval=500),
}


class _EnvClock:
    """Wraps an SB3 VecEnv's ``reset`` / ``step_wait`` and adds up their CPU time."""

    def __init__(self, venv):
        self.seconds = 0.0
        self.steps = 0
        for name in ("reset", "step_wait"):
            original = getattr(venv, name)

            def timed(*args, _original=original, _name=name, **kwargs):
                t0 = time.process_time()
                try:
                    return _original(*args, **kwargs)
                finally:
                    self.seconds += time.process_time() - t0
                    if _name == "step_wait":
                        self.steps += venv.num_envs

            setattr(venv, name, timed)


def make_env(kind: str, n_envs: int, seed: int):
    if kind == "lrgym":
        from lrgym.sb3 import make_sb3_vec_env

        return make_sb3_vec_env(ENV_ID, n_envs=n_envs, seed=seed)
    from stable_baselines3.common.env_util import make_vec_env

    import lrgym  # noqa: F401  (registers the ids)

    return make_vec_env(ENV_ID, n_envs=n_envs, seed=seed)


def profile(algo: str, kind: str, n_envs: int, steps: int, seed: int = 0) -> dict:
    """Train ``algo`` for ``steps`` env steps; CPU seconds in total and in the env."""
    import stable_baselines3
    import torch

    from lrgym.baselines.train_sb3 import logger_without_folder

    torch.set_num_threads(1)
    venv = make_env(kind, n_envs, seed)
    clock = _EnvClock(venv)
    model = getattr(stable_baselines3, algo)("MlpPolicy", venv, seed=seed, verbose=0, device="cpu", **ALGOS[algo])
    model.set_logger(logger_without_folder())  # SB3's made an empty /tmp/SB3-<time> folder per learn
    t0 = time.process_time()
    model.learn(steps)
    total = time.process_time() - t0
    venv.close()
    return {"total": total, "env": clock.seconds, "steps": clock.steps}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20_000, help="env steps per algorithm and env")
    ap.add_argument("--n-envs", type=int, default=16)
    ap.add_argument("--algos", default="PPO,DQN")
    args = ap.parse_args(argv)
    for kind in ("lrgym", "dummy"):  # warm up: kernels, SB3 and torch imports
        profile("PPO", kind, args.n_envs, 2 * args.n_envs * 128)
    print(f"SB3 on `{ENV_ID}`, {args.n_envs} envs, {args.steps:,} env steps per row, CPU time:\n")
    print("| algorithm | env | env steps/s (training) | in the env | in the agent | env alone, steps/s |")
    print("|---|---|---:|---:|---:|---:|")
    for algo in args.algos.split(","):
        for kind, label in (("lrgym", "`lrgym.sb3.make_sb3_vec_env`"), ("dummy", "SB3 `make_vec_env` (DummyVecEnv)")):
            r = profile(algo, kind, args.n_envs, args.steps)
            print(f"| {algo} | {label} | {r['steps'] / r['total']:,.0f} | {100 * r['env'] / r['total']:.0f} % | "
                  f"{100 * (1 - r['env'] / r['total']):.0f} % | {r['steps'] / r['env']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
