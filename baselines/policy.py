"""The Policy protocol every baseline and every leaderboard submission implements (defined in
:mod:`lrgym.policy`, re-exported here), and :class:`LRPolicy`, the base of the LR-value baselines.

A policy is driven by :func:`lrgym.baselines.evaluation.run_episode`::

    obs, info = env.reset(...)
    policy.reset(info)                 # info has lr, horizon, inner_steps, lr_min, lr_max, ...
    while not done:
        action = policy.act(obs, info)
        obs, reward, terminated, truncated, info = env.step(action)

Class attributes tell the evaluation how to build the environment for this policy:
``optimizer`` (inner update rule, name or dict for :class:`lrgym.optim.OptimizerConfig`;
default ``"sgd"``), ``action_mode`` (``"log_lr"`` to set the LR directly, ``"discrete"`` to
multiply it by one of the env's factors; default :data:`DEFAULT_ACTION_MODE`, the env's own
default ``"discrete"``), and
``env_options`` (further :class:`lrgym.env.LRControlEnv` keywords the policy needs, e.g. the
bold driver's ``rejection_threshold``). ``lr_init`` (None: the env's default) is the LR the
episode starts from.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Callable

import numpy as np

from lrgym.actions import log_lr_action
from lrgym.brief import brief
from lrgym.tasks.base import is_integer, is_real
from lrgym.policy import DEFAULT_ACTION_MODE, Policy, policy_env_kwargs  # noqa: F401 (re-exported: the protocol lives in lrgym.policy)

__all__ = ["DEFAULT_ACTION_MODE", "LRPolicy", "Policy", "hyper_parameter", "policy_env_kwargs"]


def hyper_parameter(name: str, value, valid: str, in_range: Callable[[float], bool], integer: bool = False):
    """A hand-designed baseline's hyper-parameter as a float (an ``int`` if ``integer``): a Python
    or NumPy number (an integer if ``integer``; never a bool), finite, for which ``in_range``
    holds; else ``ValueError`` naming it and ``valid``. The one check of every baseline's numbers:
    a str or None was a bare ``TypeError`` from a comparison, NaN or inf a silent LR of ``lr_min``
    (``cycle_mult``, ``div_factor``), ``True`` a 1, and ``patience=0.5`` a patience of 0."""
    if integer:
        number = int(value) if is_integer(value) else None
    elif is_real(value):
        try:
            number = float(value)
        except OverflowError:  # an int beyond the largest float
            number = math.inf
    else:
        number = None
    if number is None or not ((integer or math.isfinite(number)) and in_range(number)):
        why = "out of range" if number is not None else (
            f"is not {'an integer' if integer else 'a real number'} (a {type(value).__name__})")
        raise ValueError(f"{name}={brief(value)} {why}; valid: {valid}")
    return number


class LRPolicy(ABC):
    """Base class for policies that decide an LR value each step (``log_lr`` mode).

    Subclasses implement :meth:`lr_at` (or override :meth:`act`); :meth:`act` turns the LR into
    the env's action. ``self.t`` counts steps taken in the episode, ``self.horizon`` and
    ``self.inner_steps`` come from the reset info.
    """

    name = "lr-policy"
    optimizer: Any = "sgd"
    action_mode = "log_lr"
    env_options: dict = {}
    lr_init: float | None = None

    def reset(self, info: dict) -> None:
        self.t = 0
        self.horizon = int(info["horizon"])
        self.inner_steps = int(info["inner_steps"])
        self.lr_min = float(info["lr_min"])
        self.lr_max = float(info["lr_max"])

    @abstractmethod
    def lr_at(self, t: int, obs: np.ndarray, info: dict) -> float:
        """The LR for step ``t`` of the episode, given the current observation and info."""

    def act(self, obs: np.ndarray, info: dict) -> np.ndarray:
        lr = self.lr_at(self.t, obs, info)
        self.t += 1
        return log_lr_action(lr, self.lr_min, self.lr_max)

    def env_kwargs(self) -> dict:
        """The :class:`~lrgym.env.LRControlEnv` keywords this policy needs."""
        kwargs = {"optimizer": self.optimizer, "action_mode": self.action_mode, **self.env_options}
        if self.lr_init is not None:
            kwargs["lr_init"] = self.lr_init
        return kwargs
