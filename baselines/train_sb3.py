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
import functools
import io
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lrgym.baselines import outputs
from lrgym.baselines.code_version import made_by
from lrgym.baselines.config_checks import (ConfigError, check_env_keywords, check_mapping, flag, optional_text, positive_real,
                                           read_config, widths)
from lrgym.baselines.families import env_kwargs_for
from lrgym.rewards import REWARDS
from lrgym.settings import MAX_NUM_ENVS, check_seed, positive_int, seed_argument
from lrgym.tasks import FAMILIES
from lrgym.tasks.base import is_real
from lrgym.baselines.sb3_agents import (ACTION_MODES, ALGOS, DEFAULT_OPTIMIZER, SIDECAR_CHOICES, SIDECAR_MARK,
                                        SIDECAR_VERSION, SB3Policy)
from lrgym.baselines.sb3_config import build_model, check_algo_kwargs, check_policy_kwargs
from lrgym.baselines.wrappers import ClipObservation, ClipReward, HorizonIsTerminal, RepeatInstances, check_reward_clip

#: the largest seed SB3 takes (its set_random_seed seeds NumPy's legacy generator: 0 ... 2**32 - 1)
MAX_SB3_SEED = 2**32 - 1
#: the widest layer of an SB3 network a config may ask for (SB3 itself takes any; 2**16 keeps a typo of
#: 10**9 units from failing minutes in, out of memory)
MAX_SB3_WIDTH = 2**16
#: LRControlEnv keywords the trainer sets itself (``env_kwargs`` may not: they were overridden silently)
TRAINER_SET = ("instance_set", "action_mode", "reward", "reward_alphas")
#: the algorithms' keywords that are not hyper-parameters (``algo_kwargs`` may not set them)
NOT_HYPER = ("policy", "env", "seed", "device", "verbose", "tensorboard_log", "policy_kwargs", "_init_setup_model")

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
        self.check()

    def check(self) -> None:
        """Check every field (``--config`` files, flags, the API alike): a bad value raises
        :class:`~lrgym.baselines.config_checks.ConfigError` naming the field, the value and the
        valid ones, before SB3 starts (it was a TypeError, a torch RuntimeError or an
        AssertionError from inside SB3). Lists become tuples. The env keywords are checked by the
        env's own checks (:meth:`lrgym.settings.EnvSettings.build`)."""
        if self.algo not in ALGOS:
            raise ConfigError(f"unknown algo {self.algo!r}; valid choices: {', '.join(ALGOS)}")
        if self.family is not None and self.family not in FAMILIES:
            raise ConfigError(f"family={self.family!r} invalid; valid: null (the mixed family) or one of "
                              f"{', '.join(FAMILIES)}")
        if self.reward not in REWARDS:
            raise ConfigError(f"reward={self.reward!r} invalid; valid choices: {', '.join(REWARDS)}")
        for key in ("total_timesteps", "n_envs", "repeats", "threads"):  # a Python or NumPy integer, not a bool
            try:
                setattr(self, key, positive_int(key, getattr(self, key), *([MAX_NUM_ENVS] if key == "n_envs" else [])))
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        try:
            self.seed = check_seed("seed", self.seed, MAX_SB3_SEED)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.net_arch = widths("net_arch", self.net_arch, MAX_SB3_WIDTH)
        if not (is_real(self.gamma) and 0 <= self.gamma <= 1):
            raise ConfigError(f"gamma={self.gamma!r} {'out of range' if is_real(self.gamma) else 'invalid'}; "
                              "valid: a number from 0 to 1 (the discount)")
        if self.learning_rate is not None:
            self.learning_rate = positive_real("learning_rate", self.learning_rate)
        try:
            self.reward_clip = check_reward_clip(self.reward_clip)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        for name in ("progress", "ship"):
            setattr(self, name, flag(name, getattr(self, name)))
        self.out = optional_text("out", self.out, "a file path")
        self.tensorboard_log = optional_text("tensorboard_log", self.tensorboard_log, "a folder path")
        self._check_keywords()

    def _check_keywords(self) -> None:
        from lrgym.env import LRControlEnv
        from lrgym.keywords import check_keywords, keyword_names
        from lrgym.settings import EnvSettings

        self.algo_kwargs = check_mapping("algo_kwargs", self.algo_kwargs, '{"buffer_size": 10000}')
        self.policy_kwargs = check_mapping("policy_kwargs", self.policy_kwargs, '{"net_arch": [32]}')
        if isinstance(self.reward_alphas, list):
            self.reward_alphas = tuple(self.reward_alphas)
        settings = keyword_names(EnvSettings.build)  # (the others, build_ahead, ..., LRControlEnv checks)

        def build(env_kwargs: dict) -> None:
            try:
                EnvSettings.build(**{k: v for k, v in self.full_env_kwargs(env_kwargs).items() if k in settings})
            except (TypeError, ValueError) as exc:  # reward_alphas is a field: its own name leads the message
                if str(exc).startswith("reward_alphas"):
                    raise ConfigError(str(exc)) from None
                raise

        self.env_kwargs = check_env_keywords(
            "env_kwargs", self.env_kwargs,
            dict.fromkeys(TRAINER_SET, "which the trainer sets itself (action_mode: the algo's; reward, "
                                       "reward_alphas: the config's fields; instance_set: train)"),
            valid=[k for k in keyword_names(LRControlEnv) if k not in TRAINER_SET], build=build,
            example='{"lr_init": 0.01}')
        self.reward_alphas = tuple(float(a) for a in self.reward_alphas)
        try:
            from stable_baselines3 import DQN, PPO
        except ImportError:  # the [rl] extra is missing: train() says so; the names are checked there
            return
        algo_names = [k for k in keyword_names(DQN if self.algo == "dqn" else PPO) if k not in NOT_HYPER]
        try:
            check_keywords(f"algo_kwargs ({self.algo})", self.algo_kwargs, algo_names)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        # the values too (sb3_config.HYPER's kinds and ranges), and policy_kwargs against the policy class
        self.algo_kwargs = check_algo_kwargs(self.algo, self.algo_kwargs, self.n_envs)
        check_policy_kwargs(self.algo, self.policy_kwargs, MAX_SB3_WIDTH)

    @property
    def action_mode(self) -> str:
        return ACTION_MODES[self.algo]

    def full_env_kwargs(self, env_kwargs: dict | None = None) -> dict:
        """The training env's keywords: the family's, ``env_kwargs`` (default: the field's), and
        those the trainer sets (:data:`TRAINER_SET`)."""
        return {
            **env_kwargs_for(self.family), **(self.env_kwargs if env_kwargs is None else env_kwargs), "instance_set": "train",
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
    from lrgym.extras import import_extra

    import_extra("stable_baselines3", "rl", "train_sb3", torch_first=True)  # (without the rl extra: what to install)
    import torch
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    torch.set_num_threads(config.threads)
    vec_env = DummyVecEnv([lambda r=r: make_train_env(config, r) for r in range(config.n_envs)])
    kwargs = {**algo_defaults(config), **config.algo_kwargs}
    cls = DQN if config.algo == "dqn" else PPO
    model = build_model(  # what SB3 still refuses: a ConfigError (main: usage, exit 2), before training
        cls, vec_env, seed=config.seed, device="cpu", verbose=0, tensorboard_log=config.tensorboard_log,
        policy_kwargs={**policy_defaults(config), **config.policy_kwargs}, algo_kwargs=kwargs,
    )
    if config.tensorboard_log is None:  # SB3's own logger made an empty /tmp/SB3-<time> folder per run
        model.set_logger(logger_without_folder(verbose=0))
    zip_path, json_path = config.output_files()  # before training: a bad --out / --ship pair fails at once
    chunk = rollout_steps(model)
    if chunk is not None and config.total_timesteps % chunk:
        outputs.status(f"{steps_rounded(config, chunk)}; the sidecar records the steps trained (env_steps)")
    start = time.time()
    model.learn(total_timesteps=config.total_timesteps, callback=progress_bar() if config.progress else None)
    steps = int(model.num_timesteps)
    if chunk is None and steps > config.total_timesteps:  # whole episodes per collection: known only now
        outputs.status(f"trained {steps:,} env steps: --steps {config.total_timesteps:,} rounded up to whole "
                       f"collections of train_freq {model.train_freq.frequency} episode(s)")
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    weights = io.BytesIO()
    model.save(weights)  # SB3 writes a path in place (through a link at it): replaced whole instead
    outputs.replace_files({zip_path: weights.getvalue(),  # together: a new zip never beside an old sidecar
                           json_path: json.dumps(sidecar(config, kwargs, time.time() - start, steps), indent=1)})
    return SB3Policy(zip_path, name=config.algo)


def logger_without_folder(verbose: int = 0):
    """The logger SB3's ``learn`` makes for a model without ``tensorboard_log`` (its progress table
    on stdout at ``verbose`` >= 1, nothing at 0), with no folder: SB3's own
    (``utils.configure_logger`` -> ``logger.configure(folder=None)``) makes
    ``<tempdir>/SB3-<date-time>`` at every ``learn`` unless ``$SB3_LOGDIR`` names a folder, and
    writes nothing in it: each run left an empty folder in ``/tmp``. Give it to the model before
    ``learn`` (``model.set_logger(logger_without_folder(model.verbose))``); a model that logs to
    TensorBoard keeps SB3's, whose folder is the one ``tensorboard_log`` names."""
    from stable_baselines3.common.logger import HumanOutputFormat, Logger

    return Logger(folder=None, output_formats=[HumanOutputFormat(sys.stdout)] if verbose >= 1 else [])


def rollout_steps(model) -> int | None:
    """The env steps SB3 collects between two checks of ``total_timesteps``: ``learn`` collects
    until ``num_timesteps`` reaches it, so it trains a whole multiple of these. PPO (on-policy):
    a rollout, ``n_steps`` x ``n_envs``; DQN (off-policy): ``train_freq`` steps x ``n_envs`` (each
    step of the vector env counts ``n_envs``); None for a ``train_freq`` in episodes (their length
    is the run's)."""
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
    from stable_baselines3.common.type_aliases import TrainFrequencyUnit

    if isinstance(model, OnPolicyAlgorithm):
        return model.n_steps * model.n_envs
    if model.train_freq.unit == TrainFrequencyUnit.STEP:
        return model.train_freq.frequency * model.n_envs
    return None


def steps_rounded(config: TrainConfig, chunk: int) -> str:
    """What a run says before training when ``--steps`` is no multiple of :func:`rollout_steps`
    (``chunk``): SB3 rounds it up to whole rollouts, silently."""
    steps = -(-config.total_timesteps // chunk) * chunk
    per = "rollouts of n_steps" if config.algo == "ppo" else "collections of train_freq"
    exact = f"--steps {steps:,}" + (f" or {steps - chunk:,}" if steps > chunk else "")
    return (f"--steps {config.total_timesteps:,} rounded up to {steps:,} env steps: {config.algo.upper()} trains whole "
            f"{per} {chunk // config.n_envs} x n_envs {config.n_envs} = {chunk:,} env steps (SB3's learn stops "
            f"at the first that reaches --steps; {exact} trains exactly that)")


def progress_bar():
    """SB3's progress bar (its ``ProgressBarCallback``, what ``learn(progress_bar=True)`` adds) drawn
    on stderr: SB3's draws it with rich's default console, on stdout, so ``train_sb3 ... > out.txt``
    captured the bar ahead of the ``saved ...`` line, the command's result. Without tqdm and rich,
    SB3's ImportError says what to install, as ``progress_bar=True`` did."""
    from stable_baselines3.common.callbacks import ProgressBarCallback

    class OnStderr(ProgressBarCallback):
        def _on_training_start(self) -> None:
            import warnings

            from rich.console import Console
            from tqdm import TqdmExperimentalWarning
            from tqdm.rich import tqdm

            with warnings.catch_warnings():  # (SB3's own bar silences it too)
                warnings.simplefilter("ignore", TqdmExperimentalWarning)
                self.pbar = tqdm(total=self.locals["total_timesteps"] - self.model.num_timesteps,
                                 options={"console": Console(stderr=True)})

    return OnStderr()


def sidecar(config: TrainConfig, algo_kwargs: dict, seconds: float, env_steps: int | None = None) -> dict:
    """The sidecar json of a trained agent (:func:`lrgym.baselines.sb3_agents.is_sidecar`):
    ``env_options`` holds every policy choice of the env it trained in
    (:data:`~lrgym.baselines.sb3_agents.SIDECAR_CHOICES`: optimizer, always, and its action mode;
    lr_init, factors, rejection_threshold when set), so :class:`SB3Policy`, ``make_baseline(...,
    path=...)`` and the leaderboard run it in that env; ``trained_on`` records every env keyword;
    ``env_steps`` the env steps it trained (SB3 rounds ``config.total_timesteps`` up to whole
    rollouts: :func:`rollout_steps`)."""
    env_kwargs = config.full_env_kwargs()
    choices = {"optimizer": DEFAULT_OPTIMIZER, **{k: env_kwargs[k] for k in SIDECAR_CHOICES if k in env_kwargs}}
    return {
        SIDECAR_MARK: SIDECAR_VERSION,
        "algo": config.algo,
        "env_options": outputs.json_copy(choices),
        "trained_on": {k: v for k, v in env_kwargs.items() if k != "action_mode"},
        "config": outputs.json_copy(asdict(config)),
        "algo_kwargs": outputs.json_copy(algo_kwargs),
        "train_seconds": round(seconds, 1),
        **({} if env_steps is None else {"env_steps": env_steps}),
        **made_by(__file__),  # the commit and code that trained it (lrgym.baselines.code_version)
    }


def _parser() -> argparse.ArgumentParser:
    default = TrainConfig.__dataclass_fields__  # the defaults --help names are the config's own
    low, high = default["reward_clip"].default
    p = argparse.ArgumentParser(prog="python -m lrgym.baselines.train_sb3", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", help="JSON file of TrainConfig fields (flags override it)")
    p.add_argument("--algo", choices=ALGOS,
                   help=f"DQN (discrete actions) or PPO (log_lr actions); default {default['algo'].default}")
    p.add_argument("--family", choices=FAMILIES, help="task family (default: the mixed family)")
    p.add_argument("--reward", choices=REWARDS, help=f"env reward (default: {default['reward'].default})")
    clip = p.add_mutually_exclusive_group()
    clip.add_argument("--reward-clip", type=float, nargs=2, metavar=("LOW", "HIGH"),
                      help=f"clip per-step rewards to [LOW, HIGH] (finite, LOW < HIGH; default {low:g} {high:g})")
    clip.add_argument("--no-reward-clip", action="store_true", help="do not clip rewards")
    p.add_argument("--steps", type=int, dest="total_timesteps",
                   help=f"total env steps, SB3's total_timesteps (default {default['total_timesteps'].default:,})")
    p.add_argument("--seed", type=functools.partial(seed_argument, maximum=MAX_SB3_SEED),
                   help=f"random seed (an integer from 0 to {MAX_SB3_SEED:,}; default {default['seed'].default})")
    p.add_argument("--n-envs", type=int, dest="n_envs", help=f"envs of SB3's DummyVecEnv (default {default['n_envs'].default})")
    p.add_argument("--threads", type=int, help=f"torch threads (default {default['threads'].default})")
    p.add_argument("--tensorboard", dest="tensorboard_log", help="TensorBoard log folder (SB3's tensorboard_log)")
    outputs.add_output_arguments(p, "weights", "PATH.zip and PATH.json; .zip is added unless PATH ends in it")
    p.add_argument("--no-progress", action="store_false", dest="progress", default=None, help="no progress bar")
    return p


def parse_config(argv=None) -> TrainConfig:
    p = _parser()
    args = vars(p.parse_args(_negative_numbers_taken(sys.argv[1:] if argv is None else argv)))
    config_path, clip_off = args.pop("config"), args.pop("no_reward_clip")
    if not args["ship"]:
        del args["ship"]  # a config file may ask to ship; the flag can only add it
    values = {}
    if config_path:
        try:  # missing, a folder, a FIFO, not JSON, not an object, an unknown field: named, exit 2
            values.update(read_config(TrainConfig, config_path))
        except ValueError as exc:
            p.error(f"--config {config_path}: {exc}")
    values.update({k: v for k, v in args.items() if v is not None})
    if clip_off:
        values["reward_clip"] = None
    try:
        config = TrainConfig(**values)
    except ValueError as exc:  # --steps is total_timesteps, --n-envs n_envs: the message names the field
        p.error(str(exc) if not config_path else f"{exc} (--config {config_path} or the flags)")
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
    zip_path, json_path = config.output_files()  # the user's notes.json beside --out notes is not replaced
    problem = outputs.companion_problem(json_path, zip_path, (f'"{SIDECAR_MARK}"'.encode(), b'"trained_on"'))
    if problem:
        p.error(f"--out {config.output()}: {problem}")
    return config


def _negative_numbers_taken(argv: list[str]) -> list[str]:
    """``argv`` with the two values after ``--reward-clip`` kept as values when they are negative
    numbers argparse would take for options (``-inf``, ``-1e5``: "expected 2 arguments"): a
    leading space makes them values (``float`` ignores it)."""
    argv = list(argv)
    for i, arg in enumerate(argv):
        if arg == "--reward-clip":
            for j in range(i + 1, min(i + 3, len(argv))):
                try:
                    float(argv[j])
                except ValueError:
                    continue
                if argv[j].startswith("-"):
                    argv[j] = " " + argv[j]
    return argv


def main(argv=None) -> None:
    config = parse_config(argv)
    try:
        policy = train(config)
    except ConfigError as exc:  # SB3 refused to build the model (sb3_config.build_model): nothing trained or written
        _parser().error(str(exc))
    zip_path = policy.path
    print(f"saved {zip_path} ({zip_path.stat().st_size // 1024} KB) and {zip_path.with_suffix('.json').name}")


if __name__ == "__main__":
    main()
