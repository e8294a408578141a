"""An RLlib checkpoint of your own ``PPOConfig`` / ``DQNConfig`` on an lrgym env, as an lrgym policy.

``train_rllib`` exports its own runs; a run of your own config (``PPOConfig().environment(
"lrgym:LRControl-v1", env_config={"action_mode": "log_lr"})``, any lrgym id, or
:class:`lrgym.env.LRControlEnv`) is exported from its checkpoint folder (``algo.save_to_path``)::

    python -m lrgym.baselines.rllib_export runs/my_ppo_ckpt --out runs/my_ppo   # → my_ppo.npz, my_ppo.py
    lrgym leaderboard submit runs/my_ppo.py:RLlibPolicy --name my-ppo

The policy (:class:`~lrgym.baselines.mlp_policy.MLPPolicy`, NumPy only) is the module's greedy
path: PPO's actor encoder and policy head (``discrete``: the argmax of the logits; ``log_lr``: the
Gaussian's mean, clipped to the action space [−1, 1] as RLlib's default ``normalize_actions``
does), DQN's encoder and advantage head; checked at export against the module's own
``forward_inference``. It acts on the raw observation, as the env gave it to the module (a
``train_rllib`` checkpoint: clipped to ±10, as it trained). The policy's own choices in the env
config (``optimizer``, ``action_mode``, ``lr_init``, ``factors``, ``rejection_threshold``:
:data:`lrgym.settings.POLICY_CHOICES`) go with it, so the grader and
:class:`lrgym.torch.PolicyScheduler` run it as it trained; every other env key (``horizon``,
``family``, ...) is the suite's when graded and is recorded (``meta["trained_on"]`` and the
submission file's ``TRAINED_ON`` line, which ``submit`` compares with its suite's: a setting it
grades at another value is noted, and the entry marked on the board).

Refused, naming why and what is taken: a checkpoint of another algorithm, of several modules
(multi-agent), of an env that is no lrgym id or class (a creator of your own may wrap the env in
anything), with connectors of your own (``env_to_module_connector``, e.g. a ``MeanStdFilter``:
the NumPy policy would act on other observations), or a module other than a plain MLP (LSTM,
attention). A checkpoint is pickles: export only checkpoints you or a source you trust wrote.
RLlib's notices while it loads the module (:data:`~lrgym.baselines.ray_logs.RLLIB_NOTICES`) are
dropped, as ``train_rllib`` drops them; ``$LRGYM_RAY_LOGS=all`` shows them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lrgym.baselines import outputs
from lrgym.baselines.config_checks import ConfigError
from lrgym.baselines.mlp_policy import CHOICES, policy_choices  # noqa: F401 (re-exported)

__all__ = ["ALGOS", "checkpoint_config", "export_checkpoint", "main", "policy_choices"]

#: the algorithms whose greedy path is exported (train_rllib.export_policy)
ALGOS = ("ppo", "dqn")
MODULE_FOLDER = Path("learner_group") / "learner" / "rl_module"


def checkpoint_config(path: str | Path):
    """The algorithm's name (lower case) and its config's state (``AlgorithmConfig.get_state()``:
    a dict), read from the checkpoint's ``class_and_ctor_args.pkl`` without building anything."""
    import pickle

    from ray.rllib.utils.checkpoints import Checkpointable

    file = Path(path) / Checkpointable.CLASS_AND_CTOR_ARGS_FILE_NAME
    if not file.is_file():
        raise ConfigError(f"{path}: no RLlib checkpoint there (no {file.name}); valid: the folder "
                          "algo.save_to_path(...) wrote")
    try:
        with open(file, "rb") as f:
            saved = pickle.load(f)  # the checkpoint is the user's own, as Algorithm.from_checkpoint reads it
        config, cls = saved["ctor_args_and_kwargs"][0][0], saved["class"]
        if not isinstance(config, dict):  # a folder inside a checkpoint: another object's arguments
            raise TypeError(f"it holds a {type(config).__name__}, not an algorithm's config")
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError, KeyError,
            TypeError, ValueError) as exc:
        raise ConfigError(f"{file} is no readable RLlib checkpoint file ({type(exc).__name__}: {exc}); valid: the "
                          "folder algo.save_to_path(...) wrote, whole") from None
    return cls.__name__.lower(), config


def _env_settings(env, env_config: dict) -> dict:
    """The env keywords the run trained with: an lrgym id's own keywords under the env config."""
    import gymnasium as gym

    import lrgym  # noqa: F401 - registers the ids
    from lrgym.baselines.train_rllib import ENV_NAME, RUN_KEYS
    from lrgym.env import LRControlEnv

    if env == ENV_NAME:  # train_rllib's creator: its env config is LRControlEnv's, reward_clip and (resumed) RUN_KEYS
        return {k: v for k, v in env_config.items() if k not in ("reward_clip", *RUN_KEYS)}
    if isinstance(env, type) and issubclass(env, LRControlEnv):
        return dict(env_config)
    if isinstance(env, str):
        try:  # "lrgym:LRControl-v1" is the id after the module gymnasium imports (lrgym, imported above)
            spec = gym.spec(env.split(":", 1)[1] if env.startswith("lrgym:") else env)
        except gym.error.Error:  # no gymnasium id: an env creator of RLlib's registry (register_env)
            spec = None
        if spec is not None and str(spec.entry_point).startswith("lrgym."):
            return {**{k: v for k, v in spec.kwargs.items() if not k.startswith("id_")}, **env_config}
    ids = sorted(k for k in gym.registry if k.startswith("LRControl"))
    raise ConfigError(f"the checkpoint's env is {env!r}; valid: an lrgym id ({', '.join(ids)}, or with the "
                      "'lrgym:' prefix), lrgym.env.LRControlEnv, or train_rllib's env (a creator of your own "
                      "may wrap the env in anything the exported policy would not do)")


def _check_config(algo: str, config: dict) -> None:
    if algo not in ALGOS:
        raise ConfigError(f"the checkpoint is of {algo.upper()}; valid: a checkpoint of {' or '.join(a.upper() for a in ALGOS)}")
    policies = sorted(config.get("policies") or {})
    if policies != ["default_policy"]:
        raise ConfigError(f"the checkpoint's policies are {policies} (multi-agent); valid: one, 'default_policy'")
    for name in ("_env_to_module_connector", "_module_to_env_connector"):
        if config.get(name) is not None:
            raise ConfigError(f"the checkpoint's config sets {name.lstrip('_')}, connectors of your own the NumPy "
                              "policy does not run; valid: a config without them (RLlib's default pipelines)")


def export_checkpoint(path: str | Path, name: str | None = None):
    """The :class:`~lrgym.baselines.mlp_policy.MLPPolicy` of the checkpoint at ``path`` (module
    docstring), checked against the module's ``forward_inference``; a :class:`ConfigError` names
    what is refused."""
    from ray.rllib.core import DEFAULT_MODULE_ID
    from ray.rllib.core.rl_module.rl_module import RLModule

    from lrgym.baselines.code_version import made_by
    from lrgym.baselines.train_rllib import ENV_NAME, export_policy
    from lrgym.baselines.wrappers import OBS_CLIP
    from lrgym.env import LRControlEnv

    path = Path(path)
    algo, config = checkpoint_config(path)
    _check_config(algo, config)
    env = config.get("env")
    settings = _env_settings(env, dict(config.get("env_config") or {}))
    try:  # the keywords as the env takes them (an id's family included): a bad one is named here
        LRControlEnv(dict(settings)).close()  # the one-mapping form RLlib uses, whose errors suggest a name
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"the checkpoint's env config {settings}: {exc}") from None
    action_mode = settings.get("action_mode", "discrete")
    if algo == "dqn" and action_mode != "discrete":
        raise ConfigError(f"a DQN checkpoint with action_mode={action_mode!r}; valid: discrete")
    folder = path / MODULE_FOLDER
    modules = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if modules != [DEFAULT_MODULE_ID]:
        raise ConfigError(f"{path / MODULE_FOLDER} holds the modules {modules}; valid: one, {DEFAULT_MODULE_ID!r}")
    module = RLModule.from_checkpoint(str((path / MODULE_FOLDER / DEFAULT_MODULE_ID).resolve()))
    meta = {"checkpoint": str(path), "algo": algo, "env": env if isinstance(env, str) else
            f"{env.__module__}.{env.__qualname__}", "trained_on": outputs.json_copy(settings),
            "action_mode": action_mode, "obs_clip": OBS_CLIP if env == ENV_NAME else None,
            "choices": outputs.json_copy(policy_choices(settings)), **made_by(__file__)}
    try:
        return export_policy(module, algo, name or f"rllib_{algo}", meta)
    except (ValueError, AttributeError, RuntimeError) as exc:  # a layer that is no Linear / Tanh / ReLU (an
        # LSTM, attention), a module of another layout, or a network that does not act as the module does
        raise ConfigError(f"{path}: cannot export its module ({type(exc).__name__}: {exc}); valid: RLlib's "
                          "default PPO / DQN module, an MLP of Linear, Tanh and ReLU layers") from None


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m lrgym.baselines.rllib_export", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="the folder algo.save_to_path(...) wrote")
    p.add_argument("--out", required=True, help="a path without suffix: OUT.npz (the policy) and OUT.py (the submission)")
    p.add_argument("--name", help="the entry's name (default rllib_<algo>)")
    args = p.parse_args(argv)
    try:  # never over a shipped file (train_rllib's weights, ...) in any spelling
        out = outputs.output_path(Path("rllib_export"), out=args.out)
    except ValueError as exc:
        p.error(str(exc))
    npz = outputs.with_suffix_added(out, ".npz")
    py = npz.with_suffix(".py")
    problem = outputs.companion_problem(py, npz, (b"exported by lrgym.baselines.train_rllib",))
    if problem:  # a file of the user's beside --out is not replaced
        p.error(f"--out {args.out}: {problem}")
    from lrgym.baselines.ray_logs import RLLIB_NOTICES, notices_dropped, ray_logs_shown

    try:
        shown = ray_logs_shown()  # RLlib's notices (its deprecation of the RLModuleConfig it builds itself,
    except ValueError as exc:  # on loading the module) dropped, as train_rllib drops them; $LRGYM_RAY_LOGS=all
        p.error(str(exc))  # shows them
    try:
        with notices_dropped(RLLIB_NOTICES, shown):
            policy = export_checkpoint(args.checkpoint, args.name)
    except ConfigError as exc:
        p.error(str(exc))
    outputs.replace_files({npz: policy.to_bytes(), py: policy.submission_source()})
    print(f"wrote {npz} and {py} ({policy.action_mode}, {json.dumps(policy.meta['choices'])})")


if __name__ == "__main__":
    main()
