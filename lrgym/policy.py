"""The Policy protocol: what every LR controller implements (baselines, submissions, and what
:class:`lrgym.torch.PolicyScheduler` drives).

A policy is driven like this (by :func:`lrgym.baselines.evaluation.run_episode`, by the
leaderboard's grader, and by the torch scheduler inside a user's training loop)::

    obs, info = env.reset(...)
    policy.reset(info)                 # info has lr, horizon, inner_steps, lr_min, lr_max, ...
    while not done:
        action = policy.act(obs, info)
        obs, reward, terminated, truncated, info = env.step(action)

Class attributes say how the episode must be set up for this policy (:func:`policy_env_kwargs`):
``optimizer`` (inner update rule, name or dict for :class:`lrgym.optim.OptimizerConfig`;
default ``"sgd"``), ``action_mode`` (``"log_lr"`` to set the LR directly, ``"discrete"`` to
multiply it by one of the env's factors; default :data:`DEFAULT_ACTION_MODE`, the env's own
default ``"discrete"``), and
``env_options`` (further :class:`lrgym.env.LRControlEnv` keywords the policy needs, e.g. the
bold driver's ``factors`` and ``rejection_threshold``: read from there only, an attribute
``factors`` that they lack is an error, :func:`stray_settings`). ``lr_init`` (None: the env's default)
is the LR the episode starts from.

This module is floor 1 of the stack (it imports nothing from ``lrgym.baselines``);
``lrgym.baselines.policy`` re-exports it.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: a policy without ``action_mode`` acts in the env's default mode (the default of
#: :class:`~lrgym.env.LRControlEnv`'s ``action_mode`` is this constant, so the two never
#: disagree): ``"discrete"``. Imported from :mod:`lrgym.actions`, not read from the env's
#: signature: this module (and every policy) imports without the env and Numba.
from lrgym.actions import DEFAULT_ACTION_MODE  # noqa: E402


@runtime_checkable
class Policy(Protocol):
    """What a policy must have: ``reset(info)`` and ``act(obs, info)`` (:data:`REQUIRED_METHODS`).

    The attributes ``name``, ``optimizer``, ``action_mode``, ``env_options`` and ``lr_init`` are
    optional (:func:`policy_env_kwargs` gives their defaults; an entry without ``name`` takes its
    class's name), so they are no members of the protocol: ``isinstance(p, Policy)`` is True for
    every object that the grader, the evaluation loop and :class:`lrgym.torch.PolicyScheduler`
    drive. The check they make is :func:`missing_methods`, which also refuses a method that is
    not callable (``act = 3``), as ``isinstance`` does not.
    """

    def reset(self, info: dict) -> None: ...

    def act(self, obs: np.ndarray, info: dict) -> Any: ...


#: what every policy must have; everything else has a default (:func:`policy_env_kwargs`)
REQUIRED_METHODS = ("reset", "act")


def missing_methods(policy) -> list[str]:
    """The required methods ``policy`` lacks (empty: it can be driven by an env, graded by the
    leaderboard and drive a PyTorch optimizer). The one rule all three use."""
    return [m for m in REQUIRED_METHODS if not callable(getattr(policy, m, None))]


#: env keywords a policy may choose that are read from its ``env_options`` only, never from an
#: attribute of the same name (:func:`policy_env_kwargs` refuses such an attribute that its
#: ``env_options`` do not carry)
ENV_OPTIONS_ONLY = ("factors", "rejection_threshold")


def _same_setting(a, b) -> bool:
    try:
        return np.asarray(a, dtype=float).ravel().tolist() == np.asarray(b, dtype=float).ravel().tolist()
    except (TypeError, ValueError):
        return a == b


def stray_settings(policy, options: dict) -> str:
    """What of :data:`ENV_OPTIONS_ONLY` ``policy`` has as an attribute that its env ``options`` do
    not carry with the same value ('' when none): a class attribute ``factors = (0.5, 1.0, 2.0)``
    beside ``lr_init`` (which is an attribute) was ignored, and the episodes ran with the env's
    default factors, the policy's actions meaning other factors than it chose (an audit,
    2026-12-07). A policy that keeps them as attributes too (the Q-learning baseline) keeps them
    equal."""
    wrong = []
    for key in ENV_OPTIONS_ONLY:
        value = getattr(policy, key, None)
        if value is None or callable(value) or (key in options and _same_setting(value, options[key])):
            continue
        if key in options:
            wrong.append(f"the attribute {key} = {value!r} differs from its env_options' {key} {options[key]!r}: "
                         "keep one, in env_options")
        else:
            wrong.append(f"the attribute {key} = {value!r} is read by no env: declare it as env_options = "
                         f"{{{key!r}: {value!r}}} (as it stands, the episodes run with the env's default {key})")
    return "; ".join(wrong)


def policy_env_kwargs(policy) -> dict:
    """Env keywords for any Policy (the protocol's attributes, with defaults). ValueError for an
    attribute :func:`stray_settings` names: a setting the policy meant that no env would read."""
    if hasattr(policy, "env_kwargs"):
        return policy.env_kwargs()
    options = dict(getattr(policy, "env_options", {}))
    stray = stray_settings(policy, options)
    if stray:
        raise ValueError(f"policy {getattr(policy, 'name', type(policy).__name__)!r}: {stray}")
    kwargs = {
        "optimizer": getattr(policy, "optimizer", "sgd"),
        "action_mode": getattr(policy, "action_mode", DEFAULT_ACTION_MODE),
        **options,
    }
    if getattr(policy, "lr_init", None) is not None:
        kwargs["lr_init"] = policy.lr_init
    return kwargs
