"""Stable-Baselines3 agents (DQN, PPO) as policies of the common protocol.

A trained agent is a pair of files in ``baselines/weights/``: ``<name>.zip`` (SB3's
``model.save``: network weights, no replay buffer) and ``<name>.json`` (what the agent needs to
act: algorithm, action mode, env options, observation clipping, and the training config).
:class:`SB3Policy` loads them lazily on first use, so importing this module (and the baseline
registry) does not import torch.

Both agents see the env's observation clipped to ``[-OBS_CLIP, OBS_CLIP]``
(:class:`lrgym.baselines.wrappers.ClipObservation`), in training and when acting.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lrgym.baselines.wrappers import OBS_CLIP, ClipObservation, HorizonIsTerminal, clip_obs  # noqa: F401 (re-exported)

ALGOS = ("dqn", "ppo")
#: what an SB3 policy runs on beyond lrgym's own requirements (pip names; their versions are recorded
#: with its leaderboard entries: an agent's actions depend on torch's arithmetic)
SB3_PACKAGES = ("torch", "stable-baselines3")
ACTION_MODES = {"dqn": "discrete", "ppo": "log_lr"}


def load_meta(path: str | Path) -> dict:
    with open(Path(path).with_suffix(".json")) as f:
        return json.load(f)


#: every algorithm Stable-Baselines3 ships, as ``--algo`` names them
SB3_ALGOS = ("a2c", "ddpg", "dqn", "ppo", "sac", "td3")


def algo_of_zip(path: str | Path) -> str:
    """The algorithm of any Stable-Baselines3 ``model.save`` zip (one of :data:`SB3_ALGOS`).

    Read from the zip's ``data`` JSON without unpickling anything: the policy class's module
    names DQN, SAC and TD3 (``stable_baselines3.dqn.policies``); PPO and A2C share
    ``stable_baselines3.common.policies`` and PPO alone saves ``n_epochs`` and ``clip_range``;
    DDPG is TD3 with ``policy_delay`` 1 and no target noise clipping (TD3's defaults are 2 and
    0.5; either class loads and acts the same way). ``ValueError`` for anything else.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            data = json.loads(zf.read("data"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a Stable-Baselines3 model zip (no readable 'data' entry: {exc})") from None
    policy_class = data.get("policy_class") if isinstance(data, dict) else None
    module = str(policy_class.get("__module__", "")) if isinstance(policy_class, dict) else ""
    parts = module.split(".")
    if len(parts) >= 3 and parts[0] == "stable_baselines3" and parts[2] == "policies":
        if parts[1] in ("dqn", "sac"):
            return parts[1]
        if parts[1] == "td3":
            return "ddpg" if data.get("policy_delay") == 1 and data.get("target_noise_clip") == 0.0 else "td3"
        if parts[1] == "common":
            return "ppo" if "n_epochs" in data or "clip_range" in data else "a2c"
    raise ValueError(f"cannot tell the algorithm of {path} (policy module {module!r}); valid: a zip saved by "
                     f"Stable-Baselines3's {', '.join(a.upper() for a in SB3_ALGOS)}, or pass --algo")


def zip_meta(path: str | Path, algo: str | None = None) -> dict:
    """What :class:`SB3Policy` needs for a zip without a sidecar (trained elsewhere): its
    algorithm, no observation clipping; the action mode follows the model's action space.
    An ``algo`` that contradicts the zip's own (:func:`algo_of_zip`) is a ``ValueError``."""
    try:
        found = algo_of_zip(path)
    except ValueError:
        if algo is None:
            raise
        found = None  # not one SB3 ships: the caller's algo is all there is
    if algo is not None and found is not None and algo.lower() != found and {algo.lower(), found} != {"ddpg", "td3"}:
        raise ValueError(f"--algo {algo!r} but {Path(path).name} was saved by {found.upper()}; "
                         f"pass --algo {found} or leave --algo out")
    return {"algo": (algo or found).lower(), "clip_obs": False, "env_options": {}}


def _load_keeping_random_streams(cls, path):
    """``cls.load(path)`` on the CPU, with Python's, NumPy's and torch's global random streams
    where they were: SB3's ``load`` seeds all three with the seed saved in the model
    (``set_random_seed`` in ``_setup_model``), which made every run that built a ``dqn`` or
    ``ppo`` policy (a :class:`lrgym.torch.PolicyScheduler`'s, at its first decision and again
    after a checkpoint's reload) draw the same dropout masks and batch orders whatever its seed.
    The policy acts deterministically, so nothing of it depends on those streams."""
    import random

    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    python, numpy = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=devices):
            return cls.load(path, device="cpu")
    finally:
        random.setstate(python)
        np.random.set_state(numpy)


class SB3Policy:
    """A trained SB3 agent: ``act`` is the deterministic ``model.predict`` of the clipped obs.

    ``path`` is the ``.zip``; ``meta`` defaults to its ``.json`` sidecar (written by
    :mod:`lrgym.baselines.train_sb3`); a zip trained elsewhere passes ``meta=zip_meta(path)``
    (any SB3 algorithm, no observation clipping, action mode from the model's action space).
    ``threads`` sets ``torch.set_num_threads`` when the model loads (1: best for these tiny
    networks).
    """

    optimizer = "sgd"
    lr_init = None

    def __init__(self, path: str | Path, name: str | None = None, threads: int | None = 1,
                 meta: dict | None = None):
        self.path = Path(path)
        self.threads = threads
        self._model = None
        self.meta = load_meta(self.path) if meta is None else dict(meta)
        self.algo = str(self.meta["algo"]).lower()
        self.clip = bool(self.meta.get("clip_obs", True))
        if meta is None:
            if self.algo not in ACTION_MODES:
                raise ValueError(f"unknown algo {self.algo!r} in {self.path}; valid choices: {', '.join(ALGOS)}")
            self.action_mode = ACTION_MODES[self.algo]
        else:  # a foreign zip: the action space decides
            from gymnasium import spaces

            discrete = isinstance(self.model.action_space, spaces.Discrete)
            self.action_mode = "discrete" if discrete else "log_lr"
        self.name = name or self.algo
        self.env_options = dict(self.meta.get("env_options", {}))
        if "factors" in self.env_options:
            self.env_options["factors"] = tuple(self.env_options["factors"])

    @property
    def model(self):
        if self._model is None:
            import torch
            from stable_baselines3 import DQN, PPO

            if self.threads is not None:
                torch.set_num_threads(self.threads)
            import stable_baselines3

            cls = {"dqn": DQN, "ppo": PPO}.get(self.algo) or getattr(stable_baselines3, self.algo.upper(), None)
            if cls is None:
                raise ValueError(f"unknown SB3 algorithm {self.algo!r} of {self.path}")
            self._model = _load_keeping_random_streams(cls, self.path)
        return self._model

    def reset(self, info: dict) -> None:
        self.model  # load before the first step

    def act(self, obs: np.ndarray, info: dict):
        action, _ = self.model.predict(clip_obs(obs) if self.clip else obs, deterministic=True)
        if self.action_mode == "discrete":
            return int(action)
        return np.asarray(action, dtype=np.float32).reshape(1)

    def __getstate__(self):  # picklable for process pools: the model reloads in the child
        state = dict(self.__dict__)
        state["_model"] = None
        return state
