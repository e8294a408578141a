"""Which policy and optimizer a :class:`~lrgym.torch.PolicyScheduler` drives: the check that a
policy is one (:func:`check_policy`, the leaderboard's rule), whether the optimizer runs the update
rule the policy's LRs were made for (:func:`other_optimizer`, :func:`other_optimizer_warning`), and
the identity a saved scheduler state records of its policy (:func:`policy_identity`), compared by
the one deep comparison of settings (:func:`same_value`)."""

from __future__ import annotations

import numbers
import re

import numpy as np
import torch

from lrgym.optim import OptimizerConfig
from lrgym.policy import missing_methods
from lrgym.settings import DEFAULT_FACTORS
from lrgym.torch.checkpoint import class_name
from lrgym.torch.optim import torch_optimizer

__all__ = ["check_policy", "identity_text", "other_optimizer", "other_optimizer_warning", "policy_identity",
           "policy_name", "same_value"]


def _one_value(value):
    """A tensor or NumPy value of one element as its Python number (``.item()``); else ``value``."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value
    if isinstance(value, (np.ndarray, np.generic)):
        return value.item() if value.size == 1 else value
    return value


_EXACT = (bool, int, float)  # the numbers same_value compares as Python does (exactly)


def same_value(a, b) -> bool:
    """The one deep comparison of settings in this module: an optimizer's argument against lrgym's
    (:func:`other_optimizer`) and a saved policy identity against the current one
    (:meth:`PolicyScheduler._check_same_policy`, on :func:`_plain` values).

    * dicts: the same keys, each value the same; lists and tuples (either kind, ``betas`` given as a
      list): the same length, element by element; a container and anything else: not the same;
    * a tensor or NumPy value of one element is its Python number (a float64 tensor 0.9 is 0.9; a
      float32 one is 0.89999998, which is not);
    * real numbers by value: Python's ints, floats and bools as Python compares them (exactly:
      ``0 == 0.0``, a bool as 0 or 1, ``2**60 + 1`` is not ``2**60``), another real (a ``Fraction``)
      by its float, the value torch computes with; NaN the same as NaN (``nan == nan`` is False, so a
      policy with a NaN setting never matched its own saved state);
    * a number and a non-number (a string ``"0.9"``, None, a complex) are not the same;
    * anything else (strings, None, the ``repr`` :func:`_plain` keeps of other objects) by ``==``.
    """
    a, b = _one_value(a), _one_value(b)
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(same_value(a[key], b[key]) for key in a))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(same_value(x, y) for x, y in zip(a, b)))
    real_a, real_b = isinstance(a, numbers.Real), isinstance(b, numbers.Real)
    if real_a and real_b:
        if not (type(a) in _EXACT and type(b) in _EXACT):  # a Fraction: the float torch computes with
            a, b = float(a), float(b)
        return a == b or (a != a and b != b)  # NaN: the one real number unequal to itself
    if real_a or real_b or isinstance(a, numbers.Number) or isinstance(b, numbers.Number):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError, RuntimeError):  # an array or a tensor of several elements
        return False


def other_optimizer(optimizer: torch.optim.Optimizer, lrgym_optimizer) -> tuple[str, str] | None:
    """None if ``optimizer`` runs the update rule of lrgym's ``lrgym_optimizer`` (the class and
    every argument :func:`lrgym.torch.optim.torch_optimizer` states: momentum, nesterov, betas,
    eps, weight decay, maximize, ...) in every parameter group (``optimizer.param_groups``: a
    group's own ``momentum`` overrides the constructor's), else (lrgym's, the optimizer's) as text:
    ``("torch.optim.SGD(momentum=0, nesterov=False)", "torch.optim.SGD(momentum=0.9, nesterov=True)")``,
    only the arguments that differ; when groups differ from each other, every group's values
    (``"torch.optim.SGD with param_groups[0]: momentum=0; param_groups[1]: momentum=0.9"``); the
    class and lrgym's arguments when the class differs."""
    cls, expected = torch_optimizer(lrgym_optimizer)
    if type(optimizer) is not cls:
        wanted = ", ".join(f"{key}={value!r}" for key, value in expected.items())
        return f"torch.optim.{cls.__name__}({wanted})", type(optimizer).__name__
    groups = optimizer.param_groups or [optimizer.defaults]
    differ = _differing_settings(optimizer, lrgym_optimizer)
    if not differ:
        return None
    lrgym_side = f"torch.optim.{cls.__name__}({', '.join(f'{key}={expected[key]!r}' for key in differ)})"
    sides = [", ".join(f"{key}={group.get(key)!r}" for key in differ) for group in groups]
    if all(side == sides[0] for side in sides):
        return lrgym_side, f"torch.optim.{cls.__name__}({sides[0]})"
    return lrgym_side, f"torch.optim.{cls.__name__} with " + "; ".join(
        f"param_groups[{i}]: {side}" for i, side in enumerate(sides))


def _differing_settings(optimizer: torch.optim.Optimizer, lrgym_optimizer) -> list[str] | None:
    """The arguments of lrgym's rule (:func:`~lrgym.torch.optim.torch_optimizer`) that some
    parameter group of ``optimizer`` sets otherwise; None when its class is another."""
    cls, expected = torch_optimizer(lrgym_optimizer)
    if type(optimizer) is not cls:
        return None
    groups = optimizer.param_groups or [optimizer.defaults]
    return [key for key, value in expected.items() if any(not same_value(group.get(key), value) for group in groups)]


def other_optimizer_warning(optimizer: torch.optim.Optimizer, lrgym_optimizer, policy) -> str | None:
    """What :class:`PolicyScheduler` warns of when ``optimizer`` runs another rule than the policy's
    (:func:`other_optimizer`), else None. When weight decay is all that differs (the usual
    "decay on weights, none on biases" groups of an SGD or Adam recipe), it says why that matters:
    torch adds ``weight_decay·p`` to a group's gradient inside ``optimizer.step()``, so the LR the
    policy chooses also scales the decay (plain SGD shrinks those weights by ``lr·weight_decay`` of
    themselves every update), a rule its LRs were not chosen for; lrgym's rules decay every
    parameter alike (one ``weight_decay``), so no lrgym policy was made for decay on some groups
    only. (The gradient it observes is the loss's, ``p.grad``, in lrgym's env too: not the issue.)"""
    other = other_optimizer(optimizer, lrgym_optimizer)
    if other is None:
        return None
    name = OptimizerConfig.coerce(lrgym_optimizer).name
    text = f"policy {policy_name(policy)!r} was designed for lrgym's {name!r} ({other[0]}), it drives {other[1]} here"
    if _differing_settings(optimizer, lrgym_optimizer) != ["weight_decay"]:
        return text + "; lrgym.torch.make_optimizer(params, policy.optimizer) builds the matching one"
    wd = OptimizerConfig.coerce(lrgym_optimizer).weight_decay
    made_for = "without weight decay" if wd == 0 else f"with weight_decay={wd:g} on every parameter"
    return (text + ": they differ in weight decay only, which is part of the update the LR scales (torch adds "
            "weight_decay·p to a group's gradient in optimizer.step(), so the policy's LR also sets how fast those "
            "weights shrink: by lr·weight_decay of themselves per update under plain SGD), and the policy's LRs were "
            f"chosen for updates {made_for}. lrgym's optimizers decay every parameter alike: a policy trained on "
            f"lrgym's optimizer={{'name': {name!r}, 'weight_decay': wd}} matches one weight_decay in every group "
            "(make_optimizer builds that), none matches decay on some groups only (weights but not biases). To "
            "keep yours: warnings.filterwarnings('ignore', message='policy .* differ in weight decay only')")


def policy_name(policy) -> str:
    """``policy.name``, else its class name (as the evaluation and the leaderboard name it)."""
    return str(getattr(policy, "name", type(policy).__name__))


def check_policy(policy) -> None:
    """Accept what the leaderboard grades and :func:`lrgym.baselines.evaluation.run_episode`
    drives: an object with callable ``reset(info)`` and ``act(obs, info)``. Everything else is
    optional, with the defaults :func:`lrgym.policy.policy_env_kwargs` fills in (``optimizer``
    ``"sgd"``, ``action_mode`` ``"discrete"``, no ``env_options``, no ``lr_init``; ``name``: the
    class name). The rule is :func:`lrgym.policy.missing_methods`, the leaderboard's too."""
    if isinstance(policy, type):
        raise TypeError(f"policy {policy.__name__} is a class; valid: an instance of it, e.g. {policy.__name__}()")
    missing = [f"{method}()" for method in missing_methods(policy)]
    if missing:
        raise TypeError(
            f"policy {policy_name(policy)!r} ({type(policy).__name__}) has no {' and no '.join(missing)} method; "
            "valid: an object with reset(info) and act(obs, info) (name, optimizer, action_mode, env_options and "
            "lr_init are optional: see lrgym.policy.Policy)")


def _plain(value):
    """A setting as plain data that compares by value (:func:`same_value`) and survives
    ``torch.load(weights_only=True)``: NumPy values as Python numbers, tuples and arrays as lists;
    anything else by its ``repr`` without a memory address (``<function f at 0x7f..>`` is
    ``<function f>``: an address differs in every process, so the state of a restarted run would
    never be its policy's)."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or type(value) in (bool, int, float, str):
        return value
    return _ADDRESS.sub("", repr(value))


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # the default repr's address: <pkg.Class object at 0x7f...>


def _optimizer_fields(optimizer) -> dict:
    """An lrgym optimizer (name, dict or :class:`~lrgym.optim.OptimizerConfig`) as its name and the
    fields it sets to other than their defaults: ``{'name': 'adam'}``, ``{'name': 'momentum',
    'momentum': 0.5}``."""
    fields = OptimizerConfig.coerce(optimizer).to_dict()
    defaults = OptimizerConfig().to_dict()
    return {key: value for key, value in fields.items() if key == "name" or value != defaults[key]}


def policy_identity(policy, kwargs: dict) -> dict:
    """What makes a policy the one a saved state belongs to: its name (a baseline's registry name:
    ``fixed`` and ``adam`` are both a ``Constant``, ``dqn`` and ``ppo`` both an ``SB3Policy``), its
    class, and the episode contract the scheduler took from it at construction (``kwargs``, from
    :func:`lrgym.policy.policy_env_kwargs`: the optimizer, its name and every field it sets, the
    action mode and the env options: factors, rejection threshold, start LR, LR range, ...). The scheduler's LR rule
    follows that contract and is not part of the state, so a state of another contract cannot
    continue here. The policy's other attributes (a schedule's LR, an agent's weights file) are its
    state, loaded with it."""
    kwargs = {"optimizer": "sgd", "factors": DEFAULT_FACTORS, **kwargs}  # the defaults, stated or not
    config = {key: _optimizer_fields(value) if key == "optimizer" else _plain(value)
              for key, value in sorted(kwargs.items())}
    return {"name": policy_name(policy), "class": class_name(type(policy)), "config": config}


def identity_text(identity: dict, keys) -> str:
    """``'dqn' (pkg.Class; action_mode='discrete')``: a policy identity with the config ``keys`` shown."""
    config = identity["config"]
    shown = "; ".join(f"{key}={config[key]!r}" if key in config else f"no {key}" for key in keys)
    return f"{identity['name']!r} ({identity['class']}{'; ' + shown if shown else ''})"
