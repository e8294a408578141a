"""Stable-Baselines3 agents (DQN, PPO) as policies of the common protocol.

A trained agent is a pair of files in ``baselines/weights/``: ``<name>.zip`` (SB3's
``model.save``: network weights, no replay buffer) and ``<name>.json`` (what the agent needs to
act: algorithm, action mode, env options, observation clipping, and the training config).
:class:`SB3Policy` loads them lazily on first use, so importing this module (and the baseline
registry) does not import torch.

Both agents see the env's observation clipped to ``[-OBS_CLIP, OBS_CLIP]`` (features are logs
and ratios; beyond ±10 only diverging or fully converged runs reach, and large inputs hurt
small networks). Training (:mod:`baselines.train_sb3`) applies the same clipping.
"""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np

OBS_CLIP = 10.0
ALGOS = ("dqn", "ppo")
ACTION_MODES = {"dqn": "discrete", "ppo": "log_lr"}


def clip_obs(obs: np.ndarray) -> np.ndarray:
    return np.clip(obs, -OBS_CLIP, OBS_CLIP).astype(np.float32)


class ClipObservation(gym.ObservationWrapper):
    """The agents' view of the env: observations clipped to ``[-OBS_CLIP, OBS_CLIP]``."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        low = np.maximum(env.observation_space.low, -OBS_CLIP)
        high = np.minimum(env.observation_space.high, OBS_CLIP)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)

    def observation(self, obs):
        return clip_obs(obs)


class HorizonIsTerminal(gym.Wrapper):
    """Report the end of the horizon as termination: the task ends there (``progress`` is in the
    observation), so value targets must not bootstrap past it."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated or truncated, False, info


def load_meta(path: str | Path) -> dict:
    with open(Path(path).with_suffix(".json")) as f:
        return json.load(f)


class SB3Policy:
    """A trained SB3 agent: ``act`` is the deterministic ``model.predict`` of the clipped obs.

    ``path`` is the ``.zip`` (its ``.json`` sidecar must sit next to it). ``threads`` sets
    ``torch.set_num_threads`` when the model loads (1: best for these tiny networks).
    """

    optimizer = "sgd"
    lr_init = None

    def __init__(self, path: str | Path, name: str | None = None, threads: int | None = 1):
        self.path = Path(path)
        self.meta = load_meta(self.path)
        self.algo = self.meta["algo"]
        if self.algo not in ALGOS:
            raise ValueError(f"unknown algo {self.algo!r} in {self.path}; valid choices: {', '.join(ALGOS)}")
        self.name = name or self.algo
        self.action_mode = ACTION_MODES[self.algo]
        self.env_options = dict(self.meta.get("env_options", {}))
        if "factors" in self.env_options:
            self.env_options["factors"] = tuple(self.env_options["factors"])
        self.threads = threads
        self._model = None

    @property
    def model(self):
        if self._model is None:
            import torch
            from stable_baselines3 import DQN, PPO

            if self.threads is not None:
                torch.set_num_threads(self.threads)
            cls = {"dqn": DQN, "ppo": PPO}[self.algo]
            self._model = cls.load(self.path, device="cpu")
        return self._model

    def reset(self, info: dict) -> None:
        self.model  # load before the first step

    def act(self, obs: np.ndarray, info: dict):
        action, _ = self.model.predict(clip_obs(obs), deterministic=True)
        if self.action_mode == "discrete":
            return int(action)
        return np.asarray(action, dtype=np.float32).reshape(1)

    def __getstate__(self):  # picklable for process pools: the model reloads in the child
        state = dict(self.__dict__)
        state["_model"] = None
        return state
