"""What an RLlib training run is (part of :mod:`lrgym.baselines.train_rllib`, which re-exports it):
:class:`RLlibConfig`, its fields checked when it is made, before Ray starts (the env keywords as
the env runners would check them), the outputs it names, and the settings it is checked against
(the algorithms, the env keywords the trainer sets itself, the flag of each field, the fields a
resumed run may set anew)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from lrgym.baselines import outputs
# a setting refused before training starts (a bad value, one that contradicts the resumed
# checkpoint, more env runners than the Ray instance has CPUs, an --address with no Ray head, Ray
# missing): main reports it as the parser's error (exit 2, no traceback); the trainers' one class
from lrgym.baselines.config_checks import ConfigError
from lrgym.baselines.families import env_kwargs_for, family_key
from lrgym.settings import MAX_NUM_ENVS


ALGOS = ("ppo", "dqn")


#: the name the env creator is registered under in Ray's registry
ENV_NAME = "lrgym-rllib"


#: the command-line flag of each :class:`RLlibConfig` field that has one (errors name the flag)
FLAGS = {"algo": "--algo", "family": "--family", "total_timesteps": "--steps", "env_runners": "--env-runners",
         "envs_per_runner": "--envs-per-runner", "seed": "--seed", "checkpoint_every": "--checkpoint-every",
         "resume": "--resume", "address": "--address", "out": "--out", "ship": "--ship", "progress": "--no-progress",
         "verbose": "--verbose"}


#: the fields a ``--resume`` run may set anew: how far to go, how often to checkpoint, where to run
#: and write; every other one is the checkpoint's (:func:`resumed_config`)
RESUME_MAY_DIFFER = ("total_timesteps", "checkpoint_every", "resume", "address", "progress", "out", "ship", "verbose")


#: the env keywords the trainer sets itself (:meth:`RLlibConfig.full_env_kwargs`): train instances,
#: discrete actions (what :func:`export_policy` exports); ``env_kwargs`` setting one is refused
TRAINER_SET = {"instance_set": "train", "action_mode": "discrete"}


@dataclass
class RLlibConfig:
    algo: str = "ppo"
    family: str | None = None  # None: the mixed family of LRControl-v1
    env_kwargs: dict = field(default_factory=dict)  # further LRControlEnv keywords (horizon, ...)
    reward_clip: tuple[float, float] | None = (-10.0, 1.0)
    total_timesteps: int = 200_000
    env_runners: int = 2  # Ray actors sampling (each on one CPU)
    envs_per_runner: int = 8  # sub-envs of each runner's vector env
    seed: int = 0
    net_arch: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    gamma: float = 0.95
    learning_rate: float | None = None  # None: 3e-4 (PPO), 1e-3 (DQN)
    train_batch_size: int | None = None  # None: 2,000 (PPO), 64 (DQN)
    algo_kwargs: dict = field(default_factory=dict)  # further AlgorithmConfig.training() keywords
    checkpoint_every: int = 10  # iterations
    resume: str | None = None  # an RLlib checkpoint folder (our .ckpt)
    address: str | None = None  # Ray cluster (None: a Ray instance on this machine)
    progress: bool = True
    verbose: bool = False  # Ray's and RLlib's own logging whole (lrgym.baselines.ray_logs), as $LRGYM_RAY_LOGS=all
    out: str | None = None  # path without suffix; default runs/rllib_<algo>_<family>
    ship: bool = False
    #: the fields the user set (``parse_config``: flags and ``--config``), which a resumed
    #: checkpoint's settings must not contradict; None (a config built in Python): those that
    #: differ from their defaults. Not recorded in the ``.json``.
    given: frozenset[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.algo not in ALGOS:
            raise ConfigError(f"unknown algo {self.algo!r}; valid choices: {', '.join(ALGOS)}")
        for name in ("total_timesteps", "envs_per_runner", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{_valued(name, getattr(self, name))} out of range; valid: an integer >= 1")
        if int(self.envs_per_runner) > MAX_NUM_ENVS:  # each runner's vector env refused it, after Ray started
            raise ConfigError(f"{_valued('envs_per_runner', self.envs_per_runner)} out of range; valid: an integer "
                              f"from 1 to {MAX_NUM_ENVS:,} (the most sub-envs of one vector env)")
        if int(self.env_runners) < 0:
            raise ConfigError(f"{_valued('env_runners', self.env_runners)} out of range; valid: 0 (sample in "
                              "the driver) or more")
        self._check_env_kwargs()

    def _check_env_kwargs(self) -> None:
        """Refuse, before Ray starts, env keywords the env runners would refuse: each remote runner
        raised lrgym's error in its own process, RLlib logged it and the driver ended in RLlib's
        bare ``IndexError: list index out of range`` (``env_kwargs={"horizn": 5}``); and keywords
        the trainer sets itself (:data:`TRAINER_SET`), which were overridden without a word
        (``{"action_mode": "log_lr"}`` trained discrete actions, recorded as log_lr), and the family,
        which is the ``family`` field's (``{"family": "linreg"}`` trained linreg as ``rllib_ppo_mixed``)."""
        from lrgym.baselines.config_checks import check_env_keywords
        from lrgym.env import LRControlEnv
        from lrgym.keywords import keyword_names
        from lrgym.vector import LRControlVectorEnv

        try:
            family_key(self.family)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        trainer_set = (f"which the trainer sets itself ({', '.join(f'{k}={v!r}' for k, v in TRAINER_SET.items())}: "
                       "the exported policy acts by the discrete factors)")
        set_elsewhere = {**dict.fromkeys(TRAINER_SET, trainer_set),
                         "family": "which the family field sets (--family NAME), as it names the outputs"}
        self.env_kwargs = check_env_keywords(
            "env_kwargs", self.env_kwargs, set_elsewhere,
            valid=[k for k in keyword_names(LRControlEnv) if k not in set_elsewhere],
            build=lambda kwargs: LRControlVectorEnv(1, **self.full_env_kwargs(kwargs)).close())  # (builds no instance)

    def set_fields(self) -> frozenset[str]:
        """The fields this config sets: :attr:`given`, or those differing from their defaults."""
        if self.given is not None:
            return frozenset(self.given)
        return frozenset(f.name for f in fields(self) if f.name != "given" and getattr(self, f.name) != _default(f))

    def record(self) -> dict:
        """The fields as the ``.json`` record holds them (JSON types; :attr:`given` left out)."""
        return outputs.json_copy({k: v for k, v in asdict(self).items() if k != "given"})

    def full_env_kwargs(self, env_kwargs: dict | None = None) -> dict:
        """The env runners' keywords: the family's, ``env_kwargs`` (default: the field's), :data:`TRAINER_SET`."""
        return {**env_kwargs_for(self.family), **(self.env_kwargs if env_kwargs is None else env_kwargs), **TRAINER_SET}

    def output(self) -> Path:
        """The output path without suffix (:func:`lrgym.baselines.outputs.output_path`)."""
        name = f"rllib_{self.algo}_{self.family or 'mixed'}"
        return outputs.output_path(outputs.SHIPPED_WEIGHTS / name, ship=self.ship, out=self.out)

    def output_files(self) -> dict[str, Path]:
        """What a run writes, by suffix: the policy ``.npz`` (:meth:`output` with ``.npz`` appended
        unless it ends in it: :func:`lrgym.baselines.outputs.with_suffix_added`) and, that name's
        ``.npz`` replaced, the submission ``.py``, the ``.json`` record and the ``.ckpt/`` folder.
        ``--out runs/ppo.lr0.5`` → ``runs/ppo.lr0.5.npz``, ``.py``, ``.json``, ``.ckpt``; not
        ``Path.with_suffix``, which replaced the ``.5`` (``runs/ppo.lr0.npz``: runs given
        ``--out runs/ppo.lr0.5`` and ``--out runs/ppo.lr0.7`` overwrote each other's policy)."""
        npz = outputs.with_suffix_added(self.output(), ".npz")
        return {suffix: npz.with_suffix(suffix) for suffix in (".npz", ".py", ".json", ".ckpt")}


def _valued(name: str, value) -> str:
    """A field and its value, with the flag that sets it, for errors: ``total_timesteps=0 (--steps 0)``."""
    return f"{name}={value!r}" + (f" ({FLAGS[name]} {value})" if name in FLAGS else "")


def _default(f):
    from dataclasses import MISSING

    return f.default_factory() if f.default is MISSING else f.default
