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
training up to ``--steps`` in all).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from lrgym.baselines import outputs
from lrgym.baselines.families import env_kwargs_for
from lrgym.baselines.mlp_policy import MLPPolicy
from lrgym.tasks import FAMILIES

__all__ = ["ALGOS", "ENV_NAME", "RLlibConfig", "export_policy", "make_env", "train"]

ALGOS = ("ppo", "dqn")
#: the name the env creator is registered under in Ray's registry
ENV_NAME = "lrgym-rllib"


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
    out: str | None = None  # path without suffix; default runs/rllib_<algo>_<family>
    ship: bool = False

    def __post_init__(self):
        if self.algo not in ALGOS:
            raise ValueError(f"unknown algo {self.algo!r}; valid choices: {', '.join(ALGOS)}")
        for name in ("total_timesteps", "envs_per_runner", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} out of range; valid: an integer >= 1")
        if int(self.env_runners) < 0:
            raise ValueError(f"env_runners={self.env_runners!r} out of range; valid: 0 (sample in the driver) or more")

    def full_env_kwargs(self) -> dict:
        return {**env_kwargs_for(self.family), **self.env_kwargs, "instance_set": "train", "action_mode": "discrete"}

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


# ---- the env each runner steps ------------------------------------------------------------------


def make_env(config: dict):
    """RLlib's env creator: the batched vector env with ``num_envs`` (RLlib adds it) sub-envs,
    seen as in training (:func:`training_view`); without ``num_envs`` a single env, so RLlib can
    read the spaces."""
    import lrgym.env
    import lrgym.vector

    config = dict(config)
    n, clip = config.pop("num_envs", None), config.pop("reward_clip", None)
    if n is None:
        return training_view(lrgym.vector.LRControlVectorEnv(1, **config), clip)
    return training_view(lrgym.vector.LRControlVectorEnv(int(n), **config), clip)


def training_view(env, reward_clip):
    """The vector env as the agent trains on it: observations clipped to ±10
    (:func:`lrgym.baselines.wrappers.clip_obs`, applied again when the exported policy acts),
    the horizon counted as termination, rewards clipped."""
    import gymnasium as gym
    from gymnasium.vector import VectorWrapper

    from lrgym.baselines.wrappers import OBS_CLIP, clip_obs

    class TrainingView(VectorWrapper):
        def __init__(self, env):
            super().__init__(env)
            low = np.maximum(env.single_observation_space.low, -OBS_CLIP)
            high = np.minimum(env.single_observation_space.high, OBS_CLIP)
            self.single_observation_space = gym.spaces.Box(low, high, dtype=np.float32)
            self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, env.num_envs)

        def reset(self, *, seed=None, options=None):
            obs, info = self.env.reset(seed=seed, options=options)
            return clip_obs(obs), info

        def step(self, actions):
            obs, reward, terminated, truncated, info = self.env.step(actions)
            if reward_clip is not None:
                reward = np.clip(reward, *reward_clip)
            return clip_obs(obs), reward, terminated | truncated, np.zeros_like(truncated), info

    return TrainingView(env)


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
    return (
        base.environment(ENV_NAME, env_config=env_config)
        .env_runners(num_env_runners=config.env_runners, num_envs_per_env_runner=config.envs_per_runner,
                     gym_env_vectorize_mode="vector_entry_point", num_cpus_per_env_runner=1,
                     sample_timeout_s=600.0)
        .learners(num_learners=0)
        .rl_module(model_config=model)
        .training(**{**training, **config.algo_kwargs})
        .debugging(seed=config.seed, log_level="ERROR")
        .reporting(metrics_num_episodes_for_smoothing=20)
    )


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

    if algo == "ppo":
        parts = [module.encoder.actor_encoder, module.pi]
    else:
        parts = [module.encoder, module.af]
    policy = MLPPolicy(_linear_path(parts), name=name, meta=meta)
    obs = np.random.default_rng(0).normal(0, 3, size=(n_check, policy.layers[0][0].shape[0]))
    obs = np.clip(obs, -10, 10).astype(np.float32)
    with torch.no_grad():
        out = module.forward_inference({"obs": torch.from_numpy(obs)})
    mine = policy.outputs(obs)
    if algo == "ppo":
        theirs = out["action_dist_inputs"].double().numpy()
        if not np.allclose(mine, theirs, rtol=1e-4, atol=1e-4):
            raise RuntimeError(f"exported network differs from RLlib's (max |Δ| {np.max(np.abs(mine - theirs)):.3g})")
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
        raise ValueError(f"{source} needs {env_runners} CPUs (one per runner), "
                         f"but this Ray instance has {cpus:g}; valid: {valid}")
    log(f"note: {source} needs {env_runners} CPUs and the cluster at "
        f"{address} has {cpus:g} now: training starts when it has them")


def checkpoint_settings(path: str | Path) -> tuple[str, int] | None:
    """(algorithm name in lower case, env runners) of an RLlib checkpoint folder, read from its
    ``class_and_ctor_args.pkl`` without building anything: a resumed run uses the checkpoint's
    own settings, not the flags, so these are what the checks before training must see. None if
    the folder has no such file (no checkpoint: ``Algorithm.from_checkpoint`` says so)."""
    import pickle

    from ray.rllib.utils.checkpoints import Checkpointable

    file = Path(path) / Checkpointable.CLASS_AND_CTOR_ARGS_FILE_NAME
    if not file.is_file():
        return None
    with open(file, "rb") as f:
        saved = pickle.load(f)  # the checkpoint is the user's own; Algorithm.from_checkpoint unpickles it too
    config_state = saved["ctor_args_and_kwargs"][0][0]
    return saved["class"].__name__.lower(), int(config_state.get("num_env_runners", 0))


def _check_algo(config: RLlibConfig, found: str) -> None:
    """A resumed checkpoint's algorithm decides how it is exported: another ``--algo`` is refused."""
    if found != config.algo:
        raise ValueError(f"--resume {config.resume} is a {found.upper()} checkpoint but --algo is "
                         f"{config.algo!r}; valid: --algo {found}")


def train(config: RLlibConfig, log=print) -> MLPPolicy:
    """Train (or resume) until ``total_timesteps`` env steps in all; write the outputs; returns the
    exported policy."""
    from lrgym.baselines.backend import connect

    files = config.output_files()  # before training: a bad --out / --ship pair fails at once
    ckpt = files[".ckpt"]
    ray = connect(config.address)
    if config.resume:  # the checkpoint's own settings, checked like the flags before anything is built
        saved = checkpoint_settings(config.resume)
        if saved is not None:
            _check_algo(config, saved[0])
            _check_cpus(saved[1], config.address, ray.cluster_resources().get("CPU", 0), log,
                        source=f"--resume {config.resume} ({saved[1]} env runners, the checkpoint's own setting)")
    else:
        _check_cpus(config.env_runners, config.address, ray.cluster_resources().get("CPU", 0), log)
    from ray.tune.registry import register_env

    register_env(ENV_NAME, make_env)
    if config.resume:
        from ray.rllib.algorithms.algorithm import Algorithm

        algo = Algorithm.from_checkpoint(str(Path(config.resume).resolve()))
        try:  # again on what was built (a checkpoint without its settings file)
            _check_algo(config, type(algo).__name__.lower())
        except ValueError:
            algo.stop()
            raise
    else:
        algo = algo_config(config).build_algo()
    start, steps, iteration = time.time(), 0, 0
    history = []
    try:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.total_timesteps, desc=f"RLlib {config.algo}", disable=not config.progress)
        while steps < config.total_timesteps:
            result = algo.train()
            iteration += 1
            steps = _sampled(result, steps)  # lifetime count: a resumed run goes on from its checkpoint's
            bar.update(min(steps, config.total_timesteps) - bar.n)
            ret = (result.get("env_runners") or {}).get("episode_return_mean")
            timers = result.get("timers") or {}
            history.append({"iteration": iteration, "env_steps": steps,
                            "episode_return_mean": None if ret is None or not np.isfinite(ret) else float(ret),
                            # mean seconds per iteration spent sampling / updating (RLlib's timers)
                            **{k: _seconds(timers.get(key)) for k, key in
                               (("sample_s", "env_runner_sampling_timer"), ("learn_s", "learner_update_timer"))}})
            if iteration % config.checkpoint_every == 0:
                algo.save_to_path(str(ckpt.resolve()))
        bar.close()
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        algo.save_to_path(str(ckpt.resolve()))
        meta = {"algo": config.algo, "env_steps": steps, "train_seconds": round(time.time() - start, 1),
                "config": outputs.json_copy(asdict(config)),
                "trained_on": config.full_env_kwargs(), "ray": ray.__version__,
                "cluster_cpus": ray.cluster_resources().get("CPU"), "history": history[-50:]}
        policy = export_policy(algo.get_module(), config.algo, f"rllib_{config.algo}", meta)
    finally:
        algo.stop()
    policy.save(files[".npz"])
    files[".py"].write_text(policy.submission_source())
    files[".json"].write_text(json.dumps(meta, indent=1) + "\n")
    log(f"{steps} env steps in {meta['train_seconds']} s; wrote {', '.join(str(files[k]) for k in ('.npz', '.py', '.json'))} "
        f"and {ckpt}/")
    return policy


def parse_config(argv=None) -> RLlibConfig:
    p = argparse.ArgumentParser(prog="python -m lrgym.baselines.train_rllib", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", help="JSON file of RLlibConfig fields (flags override it)")
    p.add_argument("--algo", choices=ALGOS)
    p.add_argument("--family", choices=FAMILIES, help="task family (default: the mixed family)")
    p.add_argument("--steps", type=int, dest="total_timesteps", help="env steps in all (a resumed run included)")
    p.add_argument("--env-runners", type=int, dest="env_runners", help="sampling actors (default 2)")
    p.add_argument("--envs-per-runner", type=int, dest="envs_per_runner", help="sub-envs per runner (default 8)")
    p.add_argument("--seed", type=int)
    p.add_argument("--horizon", type=int, help="episode length (default: the family's)")
    p.add_argument("--checkpoint-every", type=int, dest="checkpoint_every", help="iterations between checkpoints")
    p.add_argument("--resume", help="continue from this checkpoint folder (OUT.ckpt)")
    p.add_argument("--address", help="Ray cluster: auto or HOST:PORT (default: a Ray instance on this machine)")
    outputs.add_output_arguments(p, "policy", "a path without suffix")
    p.add_argument("--no-progress", action="store_false", dest="progress", default=None)
    args = vars(p.parse_args(argv))
    config_path, horizon = args.pop("config"), args.pop("horizon")
    if not args["ship"]:
        del args["ship"]
    values: dict = {}
    if config_path:
        try:
            values.update(json.loads(Path(config_path).read_text()))
        except (OSError, ValueError) as exc:  # missing, a folder, not JSON: named, not a traceback
            p.error(f"--config {config_path}: {exc}; valid: a JSON file of RLlibConfig fields")
    values.update({k: v for k, v in args.items() if v is not None})
    if horizon is not None:
        values["env_kwargs"] = {**values.get("env_kwargs", {}), "horizon": horizon}
    known = {f.name for f in fields(RLlibConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SystemExit(f"unknown config field(s) {unknown}; valid: {sorted(known)}")
    for key in ("net_arch", "reward_clip"):
        if values.get(key) is not None:
            values[key] = tuple(values[key])
    config = RLlibConfig(**values)
    try:
        config.output_files()  # an --out naming a shipped file (outputs.output_path): an option error, before Ray
    except ValueError as exc:
        p.error(str(exc))
    return config


def main(argv=None) -> None:
    config = parse_config(argv)
    try:
        train(config)
    finally:
        from lrgym.baselines.backend import import_ray

        ray = import_ray()
        if ray.is_initialized():
            ray.shutdown()


if __name__ == "__main__":
    main()
