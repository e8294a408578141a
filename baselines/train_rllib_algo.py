"""RLlib's side of a training run (part of :mod:`lrgym.baselines.train_rllib`, which re-exports
it): the ``AlgorithmConfig`` an :class:`~lrgym.baselines.train_rllib_config.RLlibConfig` builds
(:func:`algo_config`, its ``algo_kwargs`` checked against RLlib's training keywords), and the
trained module's greedy network read back as a NumPy :class:`~lrgym.baselines.mlp_policy.MLPPolicy`
(:func:`export_policy`, checked against the module's own outputs)."""

from __future__ import annotations

import numpy as np

from lrgym.baselines.config_checks import ConfigError
from lrgym.baselines.mlp_policy import MLPPolicy
from lrgym.baselines.rllib_env import make_env, spread_cycles
from lrgym.baselines.train_rllib_config import ENV_NAME, RLlibConfig


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


def register_rllib_env() -> str:
    """Register the env creator of ``train_rllib``'s runs (:func:`make_env`) in Ray's registry
    under :data:`ENV_NAME` for this process's Ray job, and return the name. A checkpoint of a
    ``train_rllib`` run names its env by that name only, and Ray's registry is per job: RLlib's
    own ``Algorithm.from_checkpoint(path)`` in another process (to evaluate the run with
    ``algo.evaluate()``, or go on training it in a loop or a Tune run of your own) failed, every
    env runner raising gymnasium's ``NameNotFound: Environment `lrgym-rllib` doesn't exist`` into
    Ray's log and the driver RLlib's bare ``IndexError: list index out of range``. Call it before
    (or after) ``ray.init`` and before restoring; ``train`` calls it itself. Ray must be installed."""
    from ray.tune.registry import register_env

    register_env(ENV_NAME, make_env)
    return ENV_NAME
