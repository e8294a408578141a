"""Train an LR controller with Ray RLlib (PPO, or the off-policy DQN) on a Ray cluster.

RLlib spreads sampling over ``--env-runners`` Ray actors; each steps lrgym's batched vector env
(:class:`lrgym.vector.LRControlVectorEnv`, ``--envs-per-runner`` sub-envs in one compiled call
per step; RLlib's ``gym_env_vectorize_mode="vector_entry_point"``) and the learner updates the
module from their batches. The agent sees what the SB3 baselines see (:mod:`lrgym.baselines.train_sb3`):
train instances of ``LRControl-v1``'s mixed family (or ``--family``), observations clipped to
±10, the horizon as the end of the task, per-step rewards clipped to [−10, 1], discrete actions
(LR × 0.5, 0.8, 1, 1.25, 2).

::

    python -m lrgym.baselines.train_rllib --algo ppo --steps 200000                  # a local Ray instance
    python -m lrgym.baselines.train_rllib --algo dqn --address auto --env-runners 32 # an existing cluster
    python -m lrgym.baselines.train_rllib --algo ppo --resume runs/rllib_ppo_mixed.ckpt --steps 400000

Outputs (``runs/`` unless ``--out PATH`` or ``--ship``: :mod:`lrgym.baselines.outputs`):
``rllib_<algo>_<family>.npz`` (the greedy network as NumPy arrays, :class:`~lrgym.baselines.mlp_policy.MLPPolicy`),
``.py`` (a self-contained submission: ``lrgym leaderboard submit runs/rllib_ppo_mixed.py:RLlibPolicy``;
grading needs NumPy only, no Ray or torch), ``.json`` (config, steps, time) and ``.ckpt/`` (RLlib's
checkpoint, written every ``--checkpoint-every`` iterations and at the end; ``--resume`` it to go on
training up to ``--steps`` in all). Nothing in ``~/ray_results``: RLlib's ``logdir``, where it writes
nothing, is a temp folder removed when the run ends (:mod:`lrgym.baselines.rllib_logdir`).

A resumed run is the checkpoint's run going on: its algorithm, family, env keywords, runners,
seed and training settings are read from the checkpoint before anything starts
(:func:`checkpoint_settings`) and name the outputs and the ``.json`` record; a flag that
contradicts them is refused naming both values (only :data:`RESUME_MAY_DIFFER` may differ). A
checkpoint already at or beyond ``--steps`` trains nothing and writes nothing. A resumed run is
not the uninterrupted run to the bit (:data:`RESUME_DIFFERS`: RLlib's checkpoint holds no env
state, no random generator's state, no DQN replay buffer). Bad values (and a
refused ``--address``, too many ``--env-runners`` for the Ray instance, Ray not installed) are
the parser's errors, exit 2: :class:`ConfigError`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from lrgym.baselines import outputs
from lrgym.baselines.backend import RayCannotRun
from lrgym.baselines.code_version import made_by
# a setting refused before training starts (a bad value, one that contradicts the resumed
# checkpoint, more env runners than the Ray instance has CPUs, an --address with no Ray head, Ray
# missing): main reports it as the parser's error (exit 2, no traceback); the trainers' one class
from lrgym.baselines.config_checks import ConfigError, read_config
from lrgym.baselines.families import MIXED, env_kwargs_for, family_key
from lrgym.baselines.mlp_policy import MLPPolicy, policy_choices
from lrgym.baselines.node_check import NodeMismatch
# what the env runners run on their nodes, in a module of its own so that the node check hashes it
# (this file is driver-only: lrgym.baselines.node_check.DRIVER_ONLY)
from lrgym.baselines.rllib_env import (RESUMED_AT, RUN_KEYS, RUN_SEED, make_env, resumed_seed, runner_cycle_offset,
                                      runner_seeds, spread_cycles, training_view, warm_runner_kernels)
from lrgym.settings import MAX_NUM_ENVS
from lrgym.tasks import FAMILIES

__all__ = ["ALGOS", "ENV_NAME", "RESUMED_AT", "RESUME_DIFFERS", "RESUME_MAY_DIFFER", "RLLIB_SEED_BITS", "RUN_KEYS",
           "RUN_SEED", "TRAINER_SET", "ConfigError", "RLlibConfig", "checkpoint_settings", "checkpoint_steps",
           "export_policy", "make_env", "resumed_algo_config", "resumed_config", "resumed_seed", "rllib_seed",
           "runner_cycle_offset", "runner_seeds", "spread_cycles", "steps_said", "train", "training_view",
           "warm_runner_kernels", "warm_up_nodes"]

ALGOS = ("ppo", "dqn")
#: the name the env creator is registered under in Ray's registry
ENV_NAME = "lrgym-rllib"
#: the ``.json`` history's names of RLlib's timers (``result["timers"]``): moving averages over the
#: run's iterations, restored by a resume, not this iteration's seconds (that is ``iteration_s``)
TIMERS = {"rllib_sample_ema_s": "env_runner_sampling_timer", "rllib_learn_ema_s": "learner_update_timer"}
#: the command-line flag of each :class:`RLlibConfig` field that has one (errors name the flag)
FLAGS = {"algo": "--algo", "family": "--family", "total_timesteps": "--steps", "env_runners": "--env-runners",
         "envs_per_runner": "--envs-per-runner", "seed": "--seed", "checkpoint_every": "--checkpoint-every",
         "resume": "--resume", "address": "--address", "out": "--out", "ship": "--ship", "progress": "--no-progress",
         "verbose": "--verbose"}
#: the fields a ``--resume`` run may set anew: how far to go, how often to checkpoint, where to run
#: and write; every other one is the checkpoint's (:func:`resumed_config`)
RESUME_MAY_DIFFER = ("total_timesteps", "checkpoint_every", "resume", "address", "progress", "out", "ship", "verbose")
#: why a resumed run is not the uninterrupted run to the bit (its ``--help``; README "RLlib training"):
#: what RLlib 2.60's checkpoint (``Algorithm.save_to_path``, the new API stack's ``get_state``) does
#: not hold. It holds the weights, the optimizer's state, the connectors' states, the metrics
#: (lifetime steps: DQN's epsilon and learning start go on) and the iteration count.
RESUME_DIFFERS = ("not the uninterrupted run to the bit: RLlib's checkpoint holds no env state (the resumed runners "
                  "start new episodes, on instances drawn from seeds of the checkpoint's steps), no state of the "
                  "random generators (RLlib seeds Python's, NumPy's and torch's anew at every build: a resumed run's "
                  "from a seed drawn from --seed and the checkpoint's steps, recorded as rllib_seed, so its action "
                  "sampling and PPO's minibatch shuffles are fresh streams, not the run's first ones again nor the "
                  "uninterrupted run's) and no DQN replay buffer (a resumed DQN starts with an empty one)")
#: the bits of a resumed run's RLlib seed (:func:`rllib_seed`): RLlib seeds NumPy's global generator
#: (seeds below 2³² only) with it plus the env runner's index, plus 10⁶ on an evaluation runner
RLLIB_SEED_BITS = 31
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


# ---- the env each runner steps ------------------------------------------------------------------


def check_env_runner_nodes(algo) -> None:
    """Raise :class:`~lrgym.baselines.node_check.NodeMismatch` (naming the node and what differs)
    unless the node of every remote env runner has the driver's fingerprint
    (:func:`~lrgym.baselines.node_check.node_differences`: lrgym's code, the packages results depend
    on, the families of one's own; not the CPU kind). The grader and the tuner check each node
    their jobs run on; the env runners stepped whatever lrgym their node had, and a run trained on
    other dynamics without a word (a Ray operator's audit)."""
    from lrgym.baselines.backend import node_report
    from lrgym.baselines.node_check import node_differences, node_fingerprint

    mine = node_fingerprint()
    for theirs in algo.env_runner_group.foreach_env_runner(lambda _runner: node_report(), local_env_runner=False):
        theirs = dict(theirs)
        problem = node_differences(mine, theirs, theirs.pop("node"))
        if problem:
            raise NodeMismatch(problem)


def warm_up_nodes(config: RLlibConfig, log=outputs.status) -> float | None:
    """Fill Numba's disk cache with the kernels the env runners will need, once per machine,
    before RLlib builds them (:func:`~lrgym.baselines.rllib_env.warm_runner_kernels`): on this
    machine (the Ray instance ``train`` starts here), or with ``--address`` in one task on each
    node of the cluster (:func:`~lrgym.baselines.backend.on_each_node`). On a cold cache (a first
    run, after an upgrade or an edit of lrgym) the runners of a node each compiled the same kernels
    at once, on the cores they share: 239 s of sampling for a first 2,000 steps on two runners.
    Returns the seconds it took (the ``.json``'s ``warm_up_s``), or None with fewer than 2 env
    runners (one process compiles either way) or where it failed.

    ``log`` says one line of it (stderr, with the run's other notes; it ran without a word, and a
    minute of a cold cache looked like a hang): what was warmed, where and how long
    (``warmed lrgym's kernels for the env runners (4 kinds of linreg instances) on 2 nodes in
    12.3 s``). A failure is named with its node and error, and then:

    * a node with other code (:class:`NodeMismatch`) or a runtime environment a node cannot set up
      (:class:`~lrgym.baselines.backend.RayCannotRun`, naming the node and the fix) stops the run:
      RLlib would place env runners there, which would train other dynamics or fail too;
    * lrgym's own error there, or a lost Ray worker (:class:`~lrgym.baselines.backend.NodeTaskFailed`;
      on this machine: any ``Exception``) is a ``warning: ... continuing cold`` line: the warm-up only
      saves time, and the runners compile what they need themselves (the same error, if theirs
      too, is then RLlib's, after this line named it)."""
    if config.env_runners < 2:
        return None
    from lrgym.baselines import rllib_env

    start, failed = time.perf_counter(), None
    if config.address is None:
        where = "this machine"
        try:
            kinds = len(rllib_env.warm_runner_kernels(config.full_env_kwargs()))
        except Exception as exc:  # noqa: BLE001 - the warm-up only saves time: said, then training goes on
            failed = f"on this machine: {type(exc).__name__}: {exc}"
    else:
        from lrgym.baselines.backend import NodeTaskFailed, on_each_node

        try:
            done = on_each_node(rllib_env.warm_runner_kernels, config.full_env_kwargs(), config.address)
        except NodeTaskFailed as exc:  # (NodeMismatch, RayCannotRun: raised, the run stops)
            failed = str(exc)
        else:
            kinds, where = (len(done[0]) if done else 0), f"{len(done)} node{'s' if len(done) != 1 else ''}"
    if failed is not None:
        log(f"warning: warming lrgym's kernels for the env runners failed {failed}; continuing cold: each env runner "
            "compiles the kernels it needs itself (on a cold cache, minutes at its first sample)")
        return None
    seconds = round(time.perf_counter() - start, 1)
    log(f"warmed lrgym's kernels for the env runners ({kinds} kinds of {config.family or 'mixed'} instances) on "
        f"{where} in {seconds} s")
    return seconds


@contextlib.contextmanager
def _runner_failures_named(config: RLlibConfig):
    """Building the algorithm (its env runners, Ray actors of the job's runtime environment), with
    a failure whose cause is a node that cannot set up that runtime environment named as such.
    RLlib logs each runner's ``RuntimeEnvSetupError`` (``ERROR actor_manager.py ... taking actor 1
    out of service``) and then fails in its own ``IndexError: list index out of range`` (no runner
    answered its question for the spaces), a traceback after a minute that names neither the
    node nor the fix; Ray does not retry a runtime environment (it would fail the same way:
    :func:`~lrgym.baselines.backend.cannot_run`). So a failed build asks each node to run a task
    of nothing in the same runtime environment (:func:`~lrgym.baselines.backend.on_each_node`, of no
    CPU: the runners RLlib left may hold them all);
    one that cannot raises :class:`~lrgym.baselines.backend.RayCannotRun` naming the node, its
    ``runtime_env_agent.log`` and the fix (the command's one-line error); a node with other code
    (the task checks each node as the warm-up does, which runs only with 2 or more env runners)
    raises :class:`NodeMismatch` naming it and what differs (until 2026-12-06 RLlib's error came
    instead, its runners' failure on that node naming neither); otherwise RLlib's own error is
    raised as it was."""
    try:
        yield
    except Exception:
        from lrgym.baselines.backend import on_each_node

        try:  # of no CPU: placed beside whatever runners RLlib left holding theirs
            on_each_node(_nothing, None, config.address, num_cpus=0)
        except (RayCannotRun, NodeMismatch) as exc:
            raise type(exc)(f"RLlib could not start its env runners: {exc}") from None
        except Exception:  # noqa: BLE001 - not the nodes: RLlib's own error says what happened
            pass
        raise


def _nothing(_job) -> None:
    """The task :func:`_runner_failures_named` runs on each node: its runtime environment alone."""


# ---- RLlib -------------------------------------------------------------------------------------


def algo_config(config: RLlibConfig):
    """The RLlib ``AlgorithmConfig`` of ``config``."""
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    env_config = {**config.full_env_kwargs(), "reward_clip": config.reward_clip}
    model = DefaultModelConfig(fcnet_hiddens=list(config.net_arch), fcnet_activation=config.activation,
                               vf_share_layers=False)
    if config.algo == "ppo":
        from ray.rllib.algorithms.ppo import PPOConfig

        batch = config.train_batch_size or 2000
        training = dict(lr=config.learning_rate or 3e-4, gamma=config.gamma, train_batch_size_per_learner=batch,
                        minibatch_size=min(128, batch), num_epochs=5, lambda_=0.95, clip_param=0.2)
        base = PPOConfig()
    else:
        from ray.rllib.algorithms.dqn import DQNConfig

        explore = max(1, int(0.3 * config.total_timesteps))
        training = dict(lr=config.learning_rate or 1e-3, gamma=config.gamma,
                        train_batch_size_per_learner=config.train_batch_size or 64,
                        num_steps_sampled_before_learning_starts=min(1000, config.total_timesteps // 4),
                        target_network_update_freq=1000, epsilon=[(0, 1.0), (explore, 0.05)],
                        replay_buffer_config={"type": "PrioritizedEpisodeReplayBuffer", "capacity": 50_000})
        base = DQNConfig()
    _check_training_keywords(base, config.algo, config.algo_kwargs)
    return (
        base.environment(ENV_NAME, env_config=env_config)
        .env_runners(num_env_runners=config.env_runners, num_envs_per_env_runner=config.envs_per_runner,
                     gym_env_vectorize_mode="vector_entry_point", num_cpus_per_env_runner=1,
                     sample_timeout_s=600.0)
        .learners(num_learners=0)
        .callbacks(on_environment_created=spread_cycles)  # cycles apart across runners, not only sub-envs
        .rl_module(model_config=model)
        .training(**{**training, **config.algo_kwargs})
        .debugging(seed=config.seed, log_level="ERROR")
        .reporting(metrics_num_episodes_for_smoothing=20)
    )


def _check_training_keywords(base, algo: str, algo_kwargs: dict) -> None:
    """Refuse an ``algo_kwargs`` key that ``base.training()`` does not take, naming the closest and
    every valid one (the keywords of ``training`` along the config class's MRO): RLlib's own
    ``TypeError`` (``{"lamda": 0.9}``, ``{"framework": "tf2"}``) came after Ray had started, as a
    traceback naming no valid key."""
    import inspect

    from lrgym.keywords import check_keywords

    if "framework" in algo_kwargs:  # RLlib's .framework(), not a training keyword
        raise ConfigError(f"algo_kwargs sets 'framework' ({algo_kwargs['framework']!r}); valid: leave it out: "
                          "train_rllib trains torch modules (RLlib's new API stack; the export reads torch layers)")
    valid = []
    for cls in type(base).__mro__:
        if "training" in vars(cls):
            valid += [name for name, p in inspect.signature(vars(cls)["training"]).parameters.items()
                      if name != "self" and p.kind is not p.VAR_KEYWORD and name not in valid]
    try:
        check_keywords(f"algo_kwargs ({algo.upper()}Config.training())", algo_kwargs, valid)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _linear_path(parts) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """The Linear layers and activations of torch ``parts`` (in forward order) as MLP layers."""
    import torch

    acts = {torch.nn.Tanh: "tanh", torch.nn.ReLU: "relu"}
    layers: list = []
    for part in parts:
        for m in part.modules():
            if isinstance(m, torch.nn.Linear):
                layers.append([m.weight.detach().double().numpy().T.copy(), m.bias.detach().double().numpy().copy(),
                               "linear"])
            elif type(m) in acts:
                if not layers or layers[-1][2] != "linear":
                    raise ValueError(f"cannot export: activation {m} does not follow a Linear layer")
                layers[-1][2] = acts[type(m)]
            elif not list(m.children()) and sum(p.numel() for p in m.parameters(recurse=False)):
                raise ValueError(f"cannot export the layer {m}: only Linear, Tanh and ReLU layers are supported")
    return [tuple(x) for x in layers]


def export_policy(module, algo: str, name: str, meta: dict | None = None, n_check: int = 512) -> MLPPolicy:
    """The greedy path of an RLlib module as an :class:`MLPPolicy`, checked against the module's
    ``forward_inference`` on ``n_check`` random observations (same greedy actions; PPO: same
    logits up to float32 rounding)."""
    import torch

    if algo == "ppo":  # the actor's own encoder, or the one it shares with the critic (vf_share_layers=True)
        encoder = module.encoder
        actor = getattr(encoder, "actor_encoder", None)
        parts = [encoder.encoder if actor is None else actor, module.pi]
    else:
        parts = [module.encoder, module.af]
    policy = MLPPolicy(_linear_path(parts), name=name, meta=meta)
    # within the clip it acts under (train_rllib's ±10), or the raw observation's ±100
    spread, bound = (3.0, policy.obs_clip) if policy.obs_clip is not None else (30.0, 100.0)
    obs = np.random.default_rng(0).normal(0, spread, size=(n_check, policy.layers[0][0].shape[0]))
    obs = np.clip(obs, -bound, bound).astype(np.float32)
    with torch.no_grad():
        out = module.forward_inference({"obs": torch.from_numpy(obs)})
    mine = policy.outputs(obs)
    if algo == "ppo":
        theirs = out["action_dist_inputs"].double().numpy()
        if not np.allclose(mine, theirs, rtol=1e-4, atol=1e-4):
            raise RuntimeError(f"exported network differs from RLlib's (max |Δ| {np.max(np.abs(mine - theirs)):.3g})")
        if policy.action_mode == "log_lr":  # the Gaussian's mean (and log std) checked above: the greedy action
            return policy
        greedy = np.argmax(theirs, axis=1)
    else:
        greedy = out["actions"].numpy()
    top2 = np.sort(mine, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 1e-4  # ties within float32 rounding may go either way
    if not np.array_equal(np.argmax(mine, axis=1)[clear], greedy[clear]):
        raise RuntimeError("exported network's greedy actions differ from RLlib's")
    return policy


def _seconds(value) -> float | None:
    try:
        return round(float(value), 4)
    except (TypeError, ValueError):
        return None


def _sampled(result: dict, before: int) -> int:
    runners = result.get("env_runners") or {}
    value = runners.get("num_env_steps_sampled_lifetime")
    return int(value) if value is not None else before


def steps_said(steps: int, requested: int, iterations: int) -> str:
    """What a finished run says of its env steps: RLlib samples whole training iterations (PPO:
    about ``train_batch_size`` steps each, 2000 by default; DQN: what its runners sample per
    iteration), so a run stops at the first iteration that reaches ``--steps``, and ``steps``
    may exceed ``requested``; the line then says by how much and why (the ``.json`` records
    both: ``env_steps`` and ``config.total_timesteps``)."""
    if steps <= requested:
        return f"{steps} env steps"
    return (f"{steps} env steps (--steps {requested} rounded up to whole training iterations: "
            f"{iterations} this run, {steps - requested} steps more)")


def _check_cpus(env_runners: int, address: str | None, cpus: float, log, source: str | None = None) -> None:
    """Each env runner is an actor of one CPU, and RLlib waits, silently, until every one is
    placed: ``env_runners`` above the CPUs of the Ray instance lrgym started on this machine
    (no ``--address``: it never gets more) would wait forever, so it is refused; on a cluster
    (``--address``) that may grow, the wait is only announced. ``source`` says where the count
    comes from (default: the ``--env-runners`` flag; a resumed checkpoint's own settings). Both
    paths of :func:`train` call it before anything is built."""
    if env_runners <= cpus:
        return
    valid = "--address of a cluster with more CPUs"
    if source is None:
        source, valid = f"--env-runners {env_runners}", f"--env-runners 0 to {int(cpus)}, or {valid}"
    if address is None:
        raise ConfigError(f"{source} needs {env_runners} CPUs (one per runner), "
                         f"but this Ray instance has {cpus:g}; valid: {valid}")
    log(f"note: {source} needs {env_runners} CPUs and the cluster at "
        f"{address} has {cpus:g} now: training starts when it has them")


def _unpickle(file: Path):
    import pickle

    with open(file, "rb") as f:
        return pickle.load(f)  # the checkpoint is the user's own; Algorithm.from_checkpoint unpickles it too


def checkpoint_settings(path: str | Path) -> dict | None:
    """The :class:`RLlibConfig` fields an RLlib checkpoint folder holds, read from its
    ``class_and_ctor_args.pkl`` (the ``AlgorithmConfig`` it was built from) without building
    anything: ``algo`` (its class name in lower case), ``family`` (None: mixed), ``env_kwargs``
    (the env keywords beyond the family's: ``horizon``, ...), ``reward_clip``, ``env_runners``,
    ``envs_per_runner``, ``seed`` (the run's ``--seed``: a resumed run's checkpoint holds it as
    :data:`RUN_SEED`, its RLlib seed being another, :func:`rllib_seed`), ``gamma``,
    ``learning_rate``, ``train_batch_size``, ``net_arch`` and ``activation``; a key is left out
    where the checkpoint has no value for it. A resumed run
    is built from these, not from the flags (:func:`resumed_config`). None if the folder has no
    such file (no checkpoint); a ``ValueError`` if the file is damaged or the checkpoint is not a
    train_rllib run's (another env than :data:`ENV_NAME`, or no family or reward clip in its env
    config: its settings would be guessed and recorded wrong)."""
    from ray.rllib.utils.checkpoints import Checkpointable

    import pickle

    file = Path(path) / Checkpointable.CLASS_AND_CTOR_ARGS_FILE_NAME
    if not file.is_file():
        return None
    try:
        saved = _unpickle(file)
        state = saved["ctor_args_and_kwargs"][0][0]
        cls = saved["class"]
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError, KeyError,
            TypeError, ValueError) as exc:  # a damaged or foreign file
        raise ValueError(f"{file} is no readable RLlib checkpoint file ({type(exc).__name__}: {exc}); valid: "
                         "the OUT.ckpt folder a train_rllib run wrote, whole") from None
    if not isinstance(state, dict):  # a sub-folder of a checkpoint (a connector's): another object's arguments
        raise ValueError(f"{file} holds a {type(state).__name__}, not an algorithm's config; valid: the OUT.ckpt "
                         "folder a train_rllib run wrote, whole (not a folder inside it)")
    env = dict(state.get("env_config") or {})
    if state.get("env") != ENV_NAME or "family" not in env or "reward_clip" not in env:
        # another program's checkpoint (RLlib's own PPOConfig().environment(LRControlEnv, ...)): its
        # family, reward and env would be guessed (mixed, the default clip) and recorded wrong
        raise ValueError(f"{Path(path)} is an RLlib checkpoint of env {state.get('env')!r} with env_config keys "
                         f"{sorted(env)}, not one train_rllib wrote (env {ENV_NAME!r}, its env_config naming the family "
                         "and reward_clip); valid: the OUT.ckpt folder a train_rllib run wrote (to go on training "
                         "another program's checkpoint, restore it with RLlib itself: Algorithm.from_checkpoint)")
    out: dict = {"algo": cls.__name__.lower(), "env_runners": int(state.get("num_env_runners") or 0)}
    if "family" in env:
        family = env.pop("family")
        out["family"] = None if family == MIXED else family
    if "reward_clip" in env:
        clip = env.pop("reward_clip")
        out["reward_clip"] = None if clip is None else tuple(clip)
    run_seed = env.get(RUN_SEED)  # a resumed run's checkpoint: its config's seed is the one drawn for RLlib
    for key in ("instance_set", "action_mode", *RUN_KEYS):  # lrgym's own (RLlibConfig.full_env_kwargs,
        env.pop(key, None)  # resumed_algo_config), not the user's
    out["env_kwargs"] = env
    model = state.get("_model_config")
    seed = state.get("seed") if run_seed is None else run_seed
    for name, value in (("envs_per_runner", state.get("num_envs_per_env_runner")), ("seed", seed),
                        ("gamma", state.get("gamma")), ("learning_rate", state.get("lr")),
                        ("train_batch_size", state.get("_train_batch_size_per_learner")),
                        ("net_arch", getattr(model, "fcnet_hiddens", None)),
                        ("activation", getattr(model, "fcnet_activation", None))):
        if value is not None:
            out[name] = tuple(value) if name == "net_arch" else value
    return out


def resumed_algo_config(path: str | Path, config: RLlibConfig, log=outputs.status,
                        resumed_at: int | None = None) -> dict:
    """The ``AlgorithmConfig`` state of the checkpoint at ``path`` (its ``class_and_ctor_args.pkl``,
    which :func:`checkpoint_settings` read), which a resumed run is built from, with
    :func:`spread_cycles` as its ``on_environment_created`` callback, as :func:`algo_config` gives
    a new run, and the checkpoint's env steps ``resumed_at`` in its env config
    (:data:`~lrgym.baselines.rllib_env.RESUMED_AT`), from which the runners draw their seeds anew:
    RLlib resets a restored run's new runners with the seeds the run started with, and they
    replayed its first instances in the same order (:func:`~lrgym.baselines.rllib_env.runner_seeds`;
    ``None``, the steps not found in the checkpoint's files: the run's own seeds, as before). Its
    ``seed`` is :func:`rllib_seed` of the run's (``config.seed``) and ``resumed_at``, and the env
    config keeps the run's as :data:`RUN_SEED`: RLlib seeds Python's, NumPy's and torch's
    generators from the config's seed at every build, and a resumed run sampled its actions and
    shuffled its minibatches as the run's first iteration had. A checkpoint written before the callback existed (2026-12-06) holds none, and RLlib
    rebuilt it so: its resumed runners walked an ``instance_order="cycle"`` list in lockstep, without
    a word. The resumed run now spreads them, and ``log`` says so where the checkpoint's list is a
    cycle (``config``: the run's settings, the checkpoint's: :func:`resumed_config`)."""
    from ray.rllib.utils.checkpoints import Checkpointable

    state = dict(_unpickle(Path(path) / Checkpointable.CLASS_AND_CTOR_ARGS_FILE_NAME)["ctor_args_and_kwargs"][0][0])
    if state.get("callbacks_on_environment_created") is None and config.env_kwargs.get("instance_order") == "cycle":
        log(f"note: --resume {path} was written before train_rllib spread its env runners' instance cycles apart "
            "(spread_cycles): its runners walked the instances list in lockstep; they now start apart, as a new "
            "run's do")
    state["callbacks_on_environment_created"] = spread_cycles
    env_config = {k: v for k, v in (state.get("env_config") or {}).items() if k not in RUN_KEYS}
    if resumed_at:
        env_config.update({RESUMED_AT: int(resumed_at), RUN_SEED: int(config.seed)})
    state["env_config"] = env_config
    state["seed"] = rllib_seed(config.seed, resumed_at)
    return state


def rllib_seed(seed: int, resumed_at: int | None = None) -> int:
    """The seed RLlib builds a run with (its config's ``seed``, from which it seeds Python's,
    NumPy's and torch's generators in the driver, the learner and each env runner): the run's
    ``seed`` for a new run (its results unchanged) or where the checkpoint's steps are unknown
    (``resumed_at`` None or 0); for a run resumed at ``resumed_at`` env steps, a
    :data:`RLLIB_SEED_BITS`-bit seed drawn from both (:func:`~lrgym.baselines.rllib_env.resumed_seed`,
    as the runners' env seeds are), so the resumed run's action sampling and minibatch shuffles
    do not replay the run's first streams, and the same checkpoint resumed twice samples alike."""
    return resumed_seed(seed, resumed_at, RLLIB_SEED_BITS) if resumed_at else int(seed)


def checkpoint_steps(path: str | Path) -> int | None:
    """The env steps a checkpoint has sampled in its lifetime (RLlib's
    ``env_runners/num_env_steps_sampled_lifetime``, which a resumed run counts on from), read
    from its ``algorithm_state.pkl`` without building anything; None where the file or the count
    is not found (another RLlib's layout: :func:`train` then reads the built algorithm's)."""
    import pickle

    file = Path(path) / "algorithm_state.pkl"
    try:
        stats = _unpickle(file)["metrics_logger"]["stats"]
        return int(stats["env_runners--num_env_steps_sampled_lifetime"]["lifetime_sum"])
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError, KeyError,
            TypeError, ValueError):  # no such file, another layout, or a damaged file: train() reads the algorithm's
        return None


def _lifetime_steps(algo) -> int | None:
    """What :func:`checkpoint_steps` reads, from a built (restored) algorithm's metrics."""
    try:
        value = algo.metrics.peek(("env_runners", "num_env_steps_sampled_lifetime"), default=None)
        return None if value is None else int(value)
    except Exception:  # noqa: BLE001 - another RLlib's metrics API: train as before
        return None


def _shown(name: str, value) -> str:
    """A setting as its flag takes it: ``--family mixed`` for the family None."""
    return "mixed" if name == "family" and value is None else str(value)


def resumed_config(config: RLlibConfig, saved: dict) -> RLlibConfig:
    """``config`` with the checkpoint's settings ``saved`` (:func:`checkpoint_settings`) in place
    of its own: the run goes on as the checkpoint's, under the checkpoint's name
    (``rllib_<algo>_<family>``: a linreg run resumed without ``--family`` wrote
    ``rllib_ppo_mixed.*`` over a mixed run's files) and with the checkpoint's settings in its
    record. A field the user set (:meth:`RLlibConfig.set_fields`) to another value than the
    checkpoint's is a :class:`ConfigError` naming both, unless it is in :data:`RESUME_MAY_DIFFER`
    (``--steps``, ``--checkpoint-every``, ``--address``, ``--out`` / ``--ship``, ``--no-progress``,
    ``--verbose``);
    the same value given again is taken.
    ``algo_kwargs`` (training keywords the checkpoint holds among all of RLlib's) cannot be told
    apart, so setting any on resume is refused, and the record has None for them."""
    given = config.set_fields()
    where = f"--resume {config.resume}"
    why = ("a resumed run goes on with the checkpoint's settings; only --steps, --checkpoint-every, --address, "
           "--out / --ship, --no-progress and --verbose may differ")
    for name, theirs in saved.items():
        if name not in given:
            continue
        mine = getattr(config, name)
        if name == "env_kwargs":
            for key, value in mine.items():
                if theirs.get(key, "its family's default") != value:
                    label = "--horizon" if key == "horizon" else f"env_kwargs[{key!r}]"
                    raise ConfigError(f"{where} holds {label} {_shown(key, theirs.get(key, 'its family default'))} but "
                                      f"{label} {_shown(key, value)} was given; valid: leave {label} out ({why})")
            continue
        if name == "family":
            same = family_key(mine) == family_key(theirs)
        elif name == "learning_rate" and mine is None:
            same = True  # the algorithm's default: nothing given
        else:
            same = mine == theirs or (isinstance(mine, (tuple, list)) and tuple(mine) == tuple(theirs))
        if not same:
            flag = FLAGS.get(name, f"{name} (a --config field)")
            raise ConfigError(f"{where} holds {flag} {_shown(name, theirs)} but {flag} {_shown(name, mine)} was "
                              f"given; valid: leave {flag} out, or {flag} {_shown(name, theirs)} ({why})")
    if config.algo_kwargs:
        raise ConfigError(f"{where}: algo_kwargs {config.algo_kwargs} were given, but the checkpoint's training "
                          f"settings hold; valid: leave algo_kwargs out ({why})")
    return replace(config, **saved)


def _check_algo(config: RLlibConfig, found: str) -> None:
    """A resumed checkpoint's algorithm decides how it is exported: another ``--algo`` is refused."""
    if found != config.algo:
        raise ConfigError(f"--resume {config.resume} is a {found.upper()} checkpoint but --algo is "
                          f"{config.algo!r}; valid: --algo {found}")


def train(config: RLlibConfig, log=outputs.status, wrote=print) -> MLPPolicy | None:
    """Train (or resume) until ``total_timesteps`` env steps in all; write the outputs; returns the
    exported policy. ``log`` says its notes (stderr by default; the progress bar is there too),
    ``wrote`` the last line, naming the files written (stdout by default: the command's result).
    A resumed run takes the checkpoint's settings (:func:`resumed_config`); one whose checkpoint
    already has ``total_timesteps`` steps or more trains nothing, writes nothing
    and returns None. What is refused before training (anything that would fail, or wait for
    ever, later) is a :class:`ConfigError`. RLlib's notices (:data:`~lrgym.baselines.ray_logs.RLLIB_NOTICES`)
    are not said while it runs, unless ``config.verbose`` or ``$LRGYM_RAY_LOGS=all``. The algorithm's
    ``logdir``, where RLlib writes nothing, is a temp folder removed at the end, not a new
    ``~/ray_results/<date-time><random>`` (:func:`~lrgym.baselines.rllib_logdir.logdirs_in_temp`)."""
    from lrgym.baselines.backend import import_ray
    from lrgym.baselines.ray_logs import RLLIB_NOTICES, notices_dropped, ray_logs_shown
    from lrgym.baselines.rllib_logdir import logdirs_in_temp

    try:
        import_ray()
        shown = ray_logs_shown(config.verbose)
    except (ImportError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    with notices_dropped(RLLIB_NOTICES, shown), logdirs_in_temp():
        return _train(config, log, wrote)


def _train(config: RLlibConfig, log, wrote) -> MLPPolicy | None:
    """:func:`train`, Ray there."""
    from lrgym.baselines.backend import connect

    resumed_from = None
    if config.resume:  # the checkpoint's own settings, checked like the flags before anything is built
        try:
            saved = checkpoint_settings(config.resume)
        except ValueError as exc:
            raise ConfigError(f"--resume {config.resume}: {exc}") from None
        if saved is None:
            raise ConfigError(f"--resume {config.resume}: no RLlib checkpoint there (no class_and_ctor_args.pkl); "
                              "valid: the OUT.ckpt folder a train_rllib run wrote")
        config = resumed_config(config, saved)
        resumed_from = checkpoint_steps(config.resume)
        if resumed_from is not None and resumed_from >= config.total_timesteps:
            log(f"--resume {config.resume} already has {resumed_from} env steps, at or beyond --steps "
                f"{config.total_timesteps}: nothing to train, nothing written (give --steps above {resumed_from} "
                "to go on)")
            return None
    try:
        files = config.output_files()  # before training: a bad --out / --ship pair fails at once
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    for suffix, mark in ((".py", b"exported by lrgym.baselines.train_rllib"), (".json", b'"env_steps"')):
        problem = outputs.companion_problem(files[suffix], files[".npz"], (mark,))
        if problem:  # a file of the user's beside --out (their policy.py) is not replaced
            raise ConfigError(f"--out {config.output()}: {problem}")
    ckpt = files[".ckpt"]
    if not config.resume:  # a bad algo_kwargs key, before Ray starts (a resume refuses them all)
        algo_config(config)
    try:
        ray = connect(config.address, verbose=config.verbose)
    except (ValueError, ConnectionError) as exc:  # a malformed address, no Ray head there
        raise ConfigError(str(exc)) from None
    source = None
    if config.resume:
        source = f"--resume {config.resume} ({config.env_runners} env runners, the checkpoint's own setting)"
    _check_cpus(config.env_runners, config.address, ray.cluster_resources().get("CPU", 0), log, source=source)
    from ray.tune.registry import register_env

    register_env(ENV_NAME, make_env)
    warm_up_s = warm_up_nodes(config, log)
    built_seed = rllib_seed(config.seed, resumed_from)  # what resumed_algo_config gives RLlib (a new run: --seed)
    if config.resume:
        from ray.rllib.algorithms.algorithm import Algorithm

        # built from the checkpoint's config with this file's cycle callback (resumed_algo_config)
        with _runner_failures_named(config):
            algo = Algorithm.from_checkpoint(str(Path(config.resume).resolve()),
                                             config=resumed_algo_config(config.resume, config, log, resumed_from))
        try:  # again on what was built
            _check_algo(config, type(algo).__name__.lower())
        except ConfigError:
            algo.stop()
            raise
        if resumed_from is None:  # its steps were not found in the files: the restored metrics'
            resumed_from = _lifetime_steps(algo)
            if resumed_from is not None and resumed_from >= config.total_timesteps:
                algo.stop()
                log(f"--resume {config.resume} already has {resumed_from} env steps, at or beyond --steps "
                    f"{config.total_timesteps}: nothing to train, nothing written")
                return None
    else:
        with _runner_failures_named(config):
            algo = algo_config(config).build_algo()
    try:  # before any sample: a runner on a node with other code would train on other dynamics
        check_env_runner_nodes(algo)
    except NodeMismatch:
        algo.stop()
        raise
    start, steps, iteration = time.time(), resumed_from or 0, 0
    history = []
    try:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.total_timesteps, desc=f"RLlib {config.algo}", disable=not config.progress)
        bar.update(min(steps, config.total_timesteps))
        while steps < config.total_timesteps:
            began = time.perf_counter()
            result = algo.train()
            iteration_s = time.perf_counter() - began
            iteration += 1
            steps = _sampled(result, steps)  # lifetime count: a resumed run goes on from its checkpoint's
            bar.update(min(steps, config.total_timesteps) - bar.n)
            ret = (result.get("env_runners") or {}).get("episode_return_mean")
            timers = result.get("timers") or {}
            history.append({"iteration": iteration, "env_steps": steps,
                            "episode_return_mean": None if ret is None or not np.isfinite(ret) else float(ret),
                            # this iteration's own wall time (algo.train(), measured here)
                            "iteration_s": round(iteration_s, 4),
                            # RLlib's timers as RLlib means them: an exponential moving average (weight 0.01
                            # per iteration, from the first iteration's value) over the whole run's
                            # iterations, a resumed run's earlier ones included (the checkpoint holds it)
                            **{k: _seconds(timers.get(key)) for k, key in TIMERS.items()}})
            if iteration % config.checkpoint_every == 0:
                algo.save_to_path(str(ckpt.resolve()))
        bar.close()
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        algo.save_to_path(str(ckpt.resolve()))
        record = config.record()
        if config.resume:
            record["algo_kwargs"] = None  # in the checkpoint, among RLlib's own: not read back (resumed_config)
        meta = {"algo": config.algo, "env_steps": steps, "train_seconds": round(time.time() - start, 1),
                "warm_up_s": warm_up_s,
                # the seed RLlib seeded its generators from: config.seed, or a resumed run's own (rllib_seed)
                "rllib_seed": built_seed,
                "config": record, "trained_on": config.full_env_kwargs(),
                # what the policy chose of its episodes (optimizer, lr_init, factors, ...: MLPPolicy and the
                # grader run it so); without them a run with env_kwargs {"optimizer": "adam"} was graded with SGD
                "choices": outputs.json_copy(policy_choices(config.full_env_kwargs())), "ray": ray.__version__,
                "cluster_cpus": ray.cluster_resources().get("CPU"), "history": history[-50:], **made_by(__file__)}
        if config.resume:
            meta["resumed_from"] = {"checkpoint": str(config.resume), "env_steps": resumed_from}
        policy = export_policy(algo.get_module(), config.algo, f"rllib_{config.algo}", meta)
    finally:
        algo.stop()
    outputs.replace_files({files[".npz"]: policy.to_bytes(), files[".py"]: policy.submission_source(),
                           files[".json"]: json.dumps(meta, indent=1) + "\n"})  # together, or none of them
    wrote(f"{steps_said(steps, config.total_timesteps, iteration)} in {meta['train_seconds']} s; wrote "
          f"{', '.join(str(files[k]) for k in ('.npz', '.py', '.json'))} and {ckpt}/")
    return policy


def _parser() -> argparse.ArgumentParser:
    default = {name: f.default for name, f in RLlibConfig.__dataclass_fields__.items()}  # what --help names is the config's
    p = argparse.ArgumentParser(
        prog="python -m lrgym.baselines.train_rllib", description=__doc__.split("\n\n")[0],
        epilog="With 2 or more env runners, lrgym's kernels are first compiled into Numba's disk cache once per "
               "machine (with --address: on each node), said in one line on stderr ('warmed lrgym's kernels ...'; "
               "a failure there is a warning, and training goes on cold). Exit status: 0 when trained; 2 for an "
               "option or --config error; 1 when a Ray node runs other code than this one or cannot set up the "
               "run's runtime environment (one line naming the node and the fix, nothing written); 128 + the "
               "signal's number when stopped (130 for Ctrl-C).")
    p.add_argument("--config", help="JSON file of RLlibConfig fields (flags override it)")
    p.add_argument("--algo", choices=ALGOS, help=f"ppo or dqn (default {default['algo']}; on --resume: the checkpoint's)")
    p.add_argument("--family", choices=FAMILIES, help="task family (default: the mixed family; on --resume: the checkpoint's)")
    p.add_argument("--steps", type=int, dest="total_timesteps", help=f"env steps in all (a resumed run included; default {default['total_timesteps']:,}), rounded up to whole "
                        "training iterations (PPO: about its train batch, 2,000 by default, each)")
    p.add_argument("--env-runners", type=int, dest="env_runners", help=f"sampling actors (default {default['env_runners']}; on --resume: the checkpoint's)")
    p.add_argument("--envs-per-runner", type=int, dest="envs_per_runner", help=f"sub-envs per runner (default {default['envs_per_runner']}; on --resume: the checkpoint's)")
    p.add_argument("--seed", type=int, help=f"random seed (default {default['seed']}; on --resume: the checkpoint's)")
    p.add_argument("--horizon", type=int, help="episode length (default: the family's; on --resume: the checkpoint's)")
    p.add_argument("--checkpoint-every", type=int, dest="checkpoint_every", help=f"training iterations between checkpoints (default {default['checkpoint_every']})")
    p.add_argument("--resume", help="continue from this checkpoint folder (OUT.ckpt) with its own settings, up to "
                   f"--steps; {RESUME_DIFFERS}")
    p.add_argument("--address", help="Ray cluster: auto or HOST:PORT (default: a Ray instance on this machine)")
    outputs.add_output_arguments(p, "policy", "a path without suffix")
    p.add_argument("--no-progress", action="store_false", dest="progress", default=None,
                   help="no progress bar (default: a bar of env steps on stderr)")
    p.add_argument("--verbose", action="store_true", default=None,
                   help="show Ray's and RLlib's own logging whole: their notices, Ray's INFO lines, the env runners' "
                        "output (as $LRGYM_RAY_LOGS=all; default: their warnings and errors only)")
    return p


def parse_config(argv=None, parser: argparse.ArgumentParser | None = None) -> RLlibConfig:
    """The :class:`RLlibConfig` of the command line (``--config`` file, then the flags over it),
    its :attr:`~RLlibConfig.given` the fields set there. Every value that can be checked without
    Ray is checked here, as the parser's error."""
    from lrgym.baselines.backend import check_address_form

    p = parser or _parser()
    args = vars(p.parse_args(argv))
    config_path, horizon = args.pop("config"), args.pop("horizon")
    if not args["ship"]:
        del args["ship"]
    values: dict = {}
    if config_path:
        try:  # missing, a folder, a FIFO, not JSON, not an object, an unknown field: named, exit 2
            values.update(read_config(RLlibConfig, config_path, internal=("given",)))
        except ValueError as exc:
            p.error(f"--config {config_path}: {exc}")
    values.update({k: v for k, v in args.items() if v is not None})
    if horizon is not None and isinstance(values.get("env_kwargs", {}), dict):  # (else RLlibConfig names it)
        values["env_kwargs"] = {**values.get("env_kwargs", {}), "horizon": horizon}
    known = {f.name for f in fields(RLlibConfig)} - {"given"}
    unknown = sorted(set(values) - known)
    if unknown:
        p.error(f"--config {config_path}: unknown config field(s) {unknown}; valid: {sorted(known)}")
    for key in ("net_arch", "reward_clip"):
        if values.get(key) is not None:
            values[key] = tuple(values[key])
    try:
        check_address_form(values.get("address"))
        config = RLlibConfig(**values, given=frozenset(values))
        config.output_files()  # an --out naming a shipped file (outputs.output_path): an option error, before Ray
    except (ValueError, TypeError) as exc:
        p.error(str(exc))
    return config


def main(argv=None) -> None:
    """The command: what :func:`train` refuses before training (:class:`ConfigError`) is the
    parser's error, exit 2; a Ray instance it started is shut down however it ends."""
    import sys

    p = _parser()
    config = parse_config(argv, p)
    try:
        train(config)
    except ConfigError as exc:
        p.error(str(exc))
    except (NodeMismatch, RayCannotRun) as exc:  # a Ray node with other code, or one that cannot run lrgym's
        # workers (its runtime environment): one line, as the leaderboard and tune say it
        print(f"{p.prog}: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        ray = sys.modules.get("ray")  # imported only if it could be: a missing Ray's hint is said once
        if ray is not None and ray.is_initialized():
            ray.shutdown()


if __name__ == "__main__":  # SIGTERM / SIGHUP stop it as Ctrl-C does (its pool cleaned up), exit 128 + signal
    from lrgym.baselines.interrupts import run_command

    raise SystemExit(run_command(main, "python -m lrgym.baselines.train_rllib", exiting=True))
