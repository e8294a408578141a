"""Gymnasium wrappers the learned baselines train with.

* :class:`ClipObservation`: the agents' view, features clipped to ``[-OBS_CLIP, OBS_CLIP]``
  (features are logs and ratios; only diverging or fully converged runs go beyond ±10, and
  large inputs hurt small networks). The trained policies apply :func:`clip_obs` when acting.
* :class:`HorizonIsTerminal`: the end of the horizon is the end of the task (``progress`` is in
  the observation), so value targets must not bootstrap past it.
* :class:`RepeatInstances`: draw a new train instance only every ``repeats`` episodes (fresh
  env seeds in between). Building an instance (data, rotations) costs more than running its
  episode, so repeating each a few times makes training several times faster while still
  visiting hundreds of instances.
* :class:`ClipReward`: clip per-step rewards to ``[low, high]`` (as DQN on Atari; Mnih et al.
  2015), so that a few noise-free problems whose loss falls by e⁴ per step do not drown the rest.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np

from lrgym.brief import brief
from lrgym.tasks.base import is_real, real_float

OBS_CLIP = 10.0


def clip_obs(obs: np.ndarray) -> np.ndarray:
    return np.clip(obs, -OBS_CLIP, OBS_CLIP).astype(np.float32)


class ClipObservation(gym.ObservationWrapper):
    def __init__(self, env: gym.Env):
        super().__init__(env)
        low = np.maximum(env.observation_space.low, -OBS_CLIP)
        high = np.minimum(env.observation_space.high, OBS_CLIP)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)

    def observation(self, obs):
        return clip_obs(obs)


class HorizonIsTerminal(gym.Wrapper):
    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated or truncated, False, info


class RepeatInstances(gym.Wrapper):
    """New instance every ``repeats`` resets, uniform over what the env's resets draw from
    (``env.unwrapped.instances``: its instance set, or its ``instances=`` list)."""

    def __init__(self, env: gym.Env, repeats: int = 4, seed: int = 0):
        super().__init__(env)
        self.repeats = int(repeats)
        self._rng = np.random.default_rng(seed)
        self._count = 0
        self._instance = None

    def reset(self, *, seed=None, options=None):
        if options is None or "instance" not in options:
            if self._count % self.repeats == 0:
                instances = self.env.unwrapped.instances
                self._instance = int(instances[int(self._rng.integers(len(instances)))])
            self._count += 1
            options = {**(options or {}), "instance": self._instance}
        return self.env.reset(seed=seed, options=options)


def check_reward_clip(clip, name: str = "reward_clip") -> tuple[float, float] | None:
    """``clip``, None (no clipping) or a pair ``(low, high)``, as None or two floats if two finite
    numbers with ``low < high``, else a ``ValueError`` naming it: ``(1, -1)`` turned every reward
    into -1, NaN or an overflowed 1e400 clipped nothing or everything, silently. The rule of
    :class:`ClipReward` and of the training configs' ``reward_clip``."""
    if clip is None:
        return None
    pair = isinstance(clip, (list, tuple)) and len(clip) == 2
    if not (pair and all(is_real(v) for v in clip) and -math.inf < real_float(clip[0]) < real_float(clip[1]) < math.inf):
        why = "out of range" if pair and all(is_real(v) for v in clip) else "invalid"
        raise ValueError(f"{name}={brief(clip)} {why}; valid: two finite numbers (LOW, HIGH) with LOW < HIGH, "
                         "e.g. (-10, 1), or None (no clipping)")
    return float(clip[0]), float(clip[1])


class ClipReward(gym.RewardWrapper):
    def __init__(self, env: gym.Env, low: float = -10.0, high: float = 1.0):
        low, high = check_reward_clip((low, high), "ClipReward's (low, high)")  # before wrapping anything
        super().__init__(env)
        self.low, self.high = low, high

    def reward(self, reward):
        return float(np.clip(reward, self.low, self.high))
