"""Train a Stable-Baselines3 agent (DQN or PPO) to control the learning rate.

DQN acts in the env's ``discrete`` mode (multiply the LR by 0.5, 0.8, 1, 1.25 or 2: decrease
/ keep / increase); PPO in the continuous ``log_lr`` mode (set log10 η in [lr_min, lr_max]).
Both train on the **train** instances and see clipped observations
(:class:`lrgym.baselines.wrappers.ClipObservation`); the end of the horizon counts as termination
(:class:`lrgym.baselines.wrappers.HorizonIsTerminal`); each train instance serves ``repeats``
consecutive episodes (:class:`lrgym.baselines.wrappers.RepeatInstances`: building an instance costs
more than running it).

Commands (``torch.set_num_threads(1)`` unless ``--threads``). Outputs go to ``runs/`` unless
``--ship`` (the shipped weights) or ``--out`` says otherwise (:mod:`lrgym.baselines.outputs`)::

    python -m lrgym.baselines.train_sb3 --algo dqn --steps 3000   # → runs/dqn_mixed.{zip,json}
    python -m lrgym.baselines.train_sb3 --algo dqn --ship         # → baselines/weights/dqn_mixed.{zip,json}
    python -m lrgym.baselines.train_sb3 --algo ppo --ship         # → baselines/weights/ppo_mixed.{zip,json}
    python -m lrgym.baselines.train_sb3 --algo dqn --reward sign_delta --steps 20000 --out /tmp/dqn
    python -m lrgym.baselines.train_sb3 --algo dqn --tensorboard runs/tb   # SB3's TensorBoard logs
    python -m lrgym.baselines.train_sb3 --config my_run.json   # any TrainConfig field, as JSON

``family`` None trains on the mixed family of the default env ``LRControl-v1``.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from lrgym.baselines import outputs
from lrgym.baselines.families import env_kwargs_for
from lrgym.rewards import REWARDS
from lrgym.settings import positive_int
from lrgym.tasks import FAMILIES
from lrgym.baselines.sb3_agents import ACTION_MODES, ALGOS, SB3Policy
from lrgym.baselines.wrappers import ClipObservation, ClipReward, HorizonIsTerminal, RepeatInstances

@dataclass
class TrainConfig:
    algo: str = "dqn"
    family: str | None = None  # None: the mixed family of LRControl-v1
    env_kwargs: dict = field(default_factory=dict)  # further LRControlEnv keywords (lr_init, ...)
    reward: str = "log_improvement"  # any lrgym reward, e.g. "sign_delta"
    reward_alphas: tuple[float, float] = (1.0, 1.0)
    # clip per-step rewards during training (None: off). log_improvement's steps on noise-free
    # quadratics reach +4 and would drown the other families; −10 keeps divergence costly.
    reward_clip: tuple[float, float] | None = (-10.0, 1.0)
    repeats: int = 4  # episodes per train instance before drawing a new one (RepeatInstances)
    total_timesteps: int = 150_000
    seed: int = 0
    n_envs: int = 1
    net_arch: tuple[int, ...] = (64, 64)
    gamma: float = 0.95
    learning_rate: float | None = None  # None: 1e-3 (DQN), 3e-4 (PPO)
    algo_kwargs: dict = field(default_factory=dict)  # overrides of algo_defaults()
    policy_kwargs: dict = field(default_factory=dict)  # overrides of policy_defaults()
    threads: int = 1
    progress: bool = True
    out: str | None = None  # path, .zip added unless it ends in it; default runs/<algo>_<family> (see ship)
    ship: bool = False  # write over the shipped baselines/weights/<algo>_<family>.{zip,json}
    tensorboard_log: str | None = None  # SB3's TensorBoard log folder (the [rl] extra has tensorboard)

    def __post_init__(self):
        if self.algo not in ALGOS:
            raise ValueError(f"unknown algo {self.algo!r}; valid choices: {', '.join(ALGOS)}")
        for key in ("total_timesteps", "n_envs", "repeats", "threads"):  # a Python or NumPy integer, not a bool
            setattr(self, key, positive_int(key, getattr(self, key)))

    @property
    def action_mode(self) -> str:
        return ACTION_MODES[self.algo]

    def full_env_kwargs(self) -> dict:
        return {
            **env_kwargs_for(self.family), **self.env_kwargs, "instance_set": "train",
            "action_mode": self.action_mode, "reward": self.reward, "reward_alphas": tuple(self.reward_alphas),
        }

    def output(self) -> Path:
        """The output path without suffix (:func:`lrgym.baselines.outputs.output_path`)."""
        name = f"{self.algo}_{self.family or 'mixed'}"
        return outputs.output_path(outputs.SHIPPED_WEIGHTS / name, ship=self.ship, out=self.out)

    def output_files(self) -> tuple[Path, Path]:
        """(model zip, sidecar json): :meth:`output` with ``.zip`` appended unless it ends in it
        (``--out runs/lr0.5`` → ``runs/lr0.5.zip``, ``--out x.zip`` → ``x.zip``), and that name with
        ``.json`` for ``.zip``, the sidecar :class:`~lrgym.baselines.sb3_agents.SB3Policy` reads."""
        model = outputs.with_suffix_added(self.output(), ".zip")
        return model, model.with_suffix(".json")


def algo_defaults(config: TrainConfig) -> dict:
    """Hyper-parameters of the agent (CleanRL / rl-zoo style defaults for small problems)."""
    if config.algo == "dqn":
        return dict(
            learning_rate=config.learning_rate or 1e-3, buffer_size=50_000, learning_starts=1_000,
            batch_size=64, train_freq=4, gradient_steps=1, target_update_interval=1_000,
            exploration_fraction=0.3, exploration_final_eps=0.05, gamma=config.gamma,
        )
    return dict(
        learning_rate=config.learning_rate or 3e-4, n_steps=256, batch_size=64, n_epochs=10,
        gae_lambda=0.95, ent_coef=0.0, clip_range=0.2, gamma=config.gamma,
    )


def policy_defaults(config: TrainConfig) -> dict:
    """Network of the agent: an MLP ``net_arch``; PPO starts with σ = e^−1 ≈ 0.37 (in units of
    the action range's half-width: ±1.3 decades of LR) instead of 1, which clips constantly."""
    kwargs: dict = {"net_arch": list(config.net_arch)}
    if config.algo == "ppo":
        kwargs["log_std_init"] = -1.0
    return kwargs


def make_train_env(config: TrainConfig, rank: int = 0):
    from stable_baselines3.common.monitor import Monitor

    from lrgym.env import LRControlEnv

    env = LRControlEnv(**config.full_env_kwargs())
    env = RepeatInstances(env, config.repeats, seed=config.seed * 1000 + rank)
    env.reset(seed=config.seed * 1000 + rank)
    env = HorizonIsTerminal(ClipObservation(env))
    if config.reward_clip is not None:
        env = ClipReward(env, *config.reward_clip)
    return Monitor(env)


def train(config: TrainConfig):
    """Train, save the model zip and its sidecar json (:meth:`TrainConfig.output_files`); returns
    the loaded :class:`SB3Policy`."""
    import torch
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    torch.set_num_threads(config.threads)
    vec_env = DummyVecEnv([lambda r=r: make_train_env(config, r) for r in range(config.n_envs)])
    kwargs = {**algo_defaults(config), **config.algo_kwargs}
    cls = DQN if config.algo == "dqn" else PPO
    model = cls(
        "MlpPolicy", vec_env, seed=config.seed, device="cpu", verbose=0, tensorboard_log=config.tensorboard_log,
        policy_kwargs={**policy_defaults(config), **config.policy_kwargs}, **kwargs,
    )
    zip_path, json_path = config.output_files()  # before training: a bad --out / --ship pair fails at once
    start = time.time()
    model.learn(total_timesteps=config.total_timesteps, progress_bar=config.progress)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    weights = io.BytesIO()
    model.save(weights)  # SB3 writes a path in place (through a link at it): replaced whole instead
    outputs.replace_file(zip_path, weights.getvalue())
    env_kwargs = config.full_env_kwargs()
    meta = {
        "algo": config.algo,
        "env_options": {k: env_kwargs[k] for k in ("factors",) if k in env_kwargs},
        "trained_on": {k: v for k, v in env_kwargs.items() if k != "action_mode"},
        "config": outputs.json_copy(asdict(config)),
        "algo_kwargs": outputs.json_copy(kwargs),
        "train_seconds": round(time.time() - start, 1),
    }
    outputs.replace_file(json_path, json.dumps(meta, indent=1))
    return SB3Policy(zip_path, name=config.algo)


def parse_config(argv=None) -> TrainConfig:
    p = argparse.ArgumentParser(prog="python -m lrgym.baselines.train_sb3", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", help="JSON file of TrainConfig fields (flags override it)")
    p.add_argument("--algo", choices=ALGOS)
    p.add_argument("--family", choices=FAMILIES, help="task family (default: the mixed family)")
    p.add_argument("--reward", choices=REWARDS, help="env reward (default: log_improvement)")
    p.add_argument("--reward-clip", type=float, nargs=2, metavar=("LOW", "HIGH"), help="clip per-step rewards")
    p.add_argument("--no-reward-clip", action="store_true", help="do not clip rewards")
    p.add_argument("--steps", type=int, dest="total_timesteps", help="total env steps")
    p.add_argument("--seed", type=int)
    p.add_argument("--n-envs", type=int, dest="n_envs")
    p.add_argument("--threads", type=int)
    p.add_argument("--tensorboard", dest="tensorboard_log", help="TensorBoard log folder (SB3's tensorboard_log)")
    outputs.add_output_arguments(p, "weights", "PATH.zip and PATH.json; .zip is added unless PATH ends in it")
    p.add_argument("--no-progress", action="store_false", dest="progress", default=None)
    args = vars(p.parse_args(argv))
    config_path, clip_off = args.pop("config"), args.pop("no_reward_clip")
    if not args["ship"]:
        del args["ship"]  # a config file may ask to ship; the flag can only add it
    values = {}
    if config_path:
        try:
            with open(config_path) as f:
                values.update(json.load(f))
        except (OSError, ValueError) as exc:  # missing, a folder, not JSON: named, not a traceback
            p.error(f"--config {config_path}: {exc}; valid: a JSON file of TrainConfig fields")
    values.update({k: v for k, v in args.items() if v is not None})
    if clip_off:
        values["reward_clip"] = None
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SystemExit(f"unknown config field(s) {unknown}; valid: {sorted(known)}")
    for key in ("net_arch", "reward_alphas", "reward_clip"):
        if values.get(key) is not None:
            values[key] = tuple(values[key])
    try:
        config = TrainConfig(**values)
    except ValueError as exc:  # --steps is total_timesteps, --n-envs n_envs: the message names the field
        p.error(str(exc))
    try:
        config.output()  # --out naming the shipped weights: refused (outputs.output_path)
    except ValueError as exc:
        p.error(str(exc))
    if config.output().is_dir():  # --out DIR is DIR/<algo>_<family>: a folder of that name too is refused
        p.error(f"--out {config.output()} is a folder; valid: a path without suffix, e.g. "
                f"{config.output() / (config.algo + '_' + (config.family or 'mixed'))}")
    for path in config.output_files():  # SB3 would save a folder's zip as <folder>_2, the json would fail
        if path.is_dir():
            p.error(f"output {path} is a folder; valid: an --out whose .zip and .json are not folders")
    return config


def main(argv=None) -> None:
    config = parse_config(argv)
    policy = train(config)
    zip_path = policy.path
    print(f"saved {zip_path} ({zip_path.stat().st_size // 1024} KB) and {zip_path.with_suffix('.json').name}")


if __name__ == "__main__":
    main()
