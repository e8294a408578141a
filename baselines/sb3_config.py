"""The Stable-Baselines3 keywords a ``train_sb3`` config sets (``algo_kwargs``, ``policy_kwargs``):
each value checked before SB3 starts, naming the key, the value and the valid range.

SB3 checks few of its hyper-parameters, and those late: ``batch_size: 0`` was SB3's
``AssertionError``, ``n_steps: "many"`` a ``TypeError`` naming no field, ``buffer_size: -5``
trained on a one-slot buffer and ``exploration_fraction: 0`` divides by zero at the first step.
:data:`HYPER` is the one table of the kinds and ranges (SB3 2.x's documented hyper-parameters of
the algorithms ``train_sb3`` trains, read against its source); ``policy_kwargs`` keys are checked
against the algorithm's policy class's own signature, values by the kind of its default.
:func:`build_model` builds the model and turns anything SB3 still refuses into a
:class:`ConfigError` (a usage error of the command), never a traceback.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping

from lrgym.baselines.config_checks import ConfigError
from lrgym.settings import range_or_type
from lrgym.tasks.base import is_integer, is_real

__all__ = ["ACTIVATIONS", "HYPER", "build_model", "check_algo_kwargs", "check_policy_kwargs", "policy_kwargs_for"]

INF = math.inf

#: a rule: ("int", low) an integer >= low; ("real", low, high, low_open, high_open) a finite number
#: in that interval; ("bool",); ("kwargs",) null or an object of keywords (SB3 checks its keys at
#: build); ("class",) null or a class (Python API only: JSON has none); ("train_freq",) a positive
#: integer or [n, "step" | "episode"]. ``schedule``: SB3 also takes a callable of the remaining
#: progress (Python API only); ``optional``: null is valid (SB3's "off").
_PROB = ("real", 0.0, 1.0, False, False)
_POSITIVE = ("real", 0.0, INF, True, True)
_NON_NEGATIVE = ("real", 0.0, INF, False, True)
_COMMON = {
    "learning_rate": (_POSITIVE, "schedule"),
    "gamma": (_PROB, ""),
    "max_grad_norm": (_POSITIVE, ""),
    "stats_window_size": (("int", 1), ""),
}
#: per algorithm: keyword -> (rule, flags); every hyper-parameter keyword of SB3's DQN and PPO
HYPER: dict[str, dict[str, tuple]] = {
    "dqn": {
        **_COMMON,
        "buffer_size": (("int", 1), ""),
        "learning_starts": (("int", 0), ""),
        "batch_size": (("int", 1), ""),
        "tau": (("real", 0.0, 1.0, True, False), ""),  # 0: the target network never moves
        "train_freq": (("train_freq",), ""),
        "gradient_steps": (("int", -1), ""),  # -1: as many as env steps in the rollout; 0: none
        "replay_buffer_class": (("class",), "optional"),
        "replay_buffer_kwargs": (("kwargs",), "optional"),
        "optimize_memory_usage": (("bool",), ""),
        "n_steps": (("int", 1), ""),  # n-step returns
        "target_update_interval": (("int", 1), ""),
        "exploration_fraction": (("real", 0.0, 1.0, True, False), ""),  # 0 divides by zero at step 1
        "exploration_initial_eps": (_PROB, ""),
        "exploration_final_eps": (_PROB, ""),
    },
    "ppo": {
        **_COMMON,
        "n_steps": (("int", 1), ""),
        "batch_size": (("int", 1), ""),  # > 1 while normalize_advantage (checked with it)
        "n_epochs": (("int", 1), ""),
        "gae_lambda": (_PROB, ""),
        "clip_range": (_POSITIVE, "schedule"),
        "clip_range_vf": (_POSITIVE, "schedule optional"),
        "normalize_advantage": (("bool",), ""),
        "ent_coef": (_NON_NEGATIVE, ""),
        "vf_coef": (_NON_NEGATIVE, ""),
        "use_sde": (("bool",), ""),
        "sde_sample_freq": (("int", -1), ""),  # -1: only at the start of a rollout
        "rollout_buffer_class": (("class",), "optional"),
        "rollout_buffer_kwargs": (("kwargs",), "optional"),
        "target_kl": (_POSITIVE, "optional"),
    },
}

#: ``activation_fn`` by name (JSON has no classes): torch.nn's activation modules that take no argument
ACTIVATIONS = ("ReLU", "Tanh", "ELU", "LeakyReLU", "GELU", "SiLU", "Sigmoid", "SELU", "Softplus", "Mish",
               "Hardswish", "Identity")
#: the policy's own arguments, which SB3 passes itself
_POLICY_SET = ("self", "observation_space", "action_space", "lr_schedule")


def _valid(rule: tuple, flags: str) -> str:
    kind = rule[0]
    if kind == "int":
        text = {1: "a positive integer (1, 2, 3, ...)", 0: "an integer >= 0 (0, 1, 2, ...)"}.get(
            rule[1], f"an integer >= {rule[1]}")
    elif kind == "real":
        _, low, high, low_open, high_open = rule
        if high == INF:
            text = f"a finite number {'>' if low_open else '>='} {low:g}"
        else:
            text = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif kind == "bool":
        text = "true or false"
    elif kind == "kwargs":
        text = "an object of keywords"
    elif kind == "class":
        text = "a class (Python API only; a JSON config cannot name one)"
    else:  # train_freq
        text = 'a positive integer or [n, "step"] / [n, "episode"] (n a positive integer)'
    if "schedule" in flags:
        text += " or a schedule (a callable of the remaining progress; Python API only)"
    if "optional" in flags:
        text = "null (off) or " + text
    return text


def _why(rule: tuple, value) -> str | None:
    """None if ``value`` passes ``rule``, else the error's verb (lrgym's wording)."""
    kind = rule[0]
    if kind == "int":
        if not is_integer(value):
            return "is not an integer"
        return None if value >= rule[1] else "out of range"
    if kind == "real":
        _, low, high, low_open, high_open = rule
        if not is_real(value):
            return range_or_type(value)
        if not math.isfinite(value):
            return "out of range"
        ok = (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
        return None if ok else "out of range"
    if kind == "bool":
        return None if isinstance(value, bool) else "invalid"
    if kind == "kwargs":
        return None if isinstance(value, Mapping) else "invalid"
    if kind == "class":
        return None if isinstance(value, type) else "invalid"
    # train_freq: an int, or (n, unit)
    if is_integer(value):
        return None if value >= 1 else "out of range"
    if isinstance(value, (list, tuple)) and len(value) == 2 and is_integer(value[0]) and _unit(value[1]) in (
            "step", "episode"):
        return None if value[0] >= 1 else "out of range"
    return "invalid"


def _unit(unit) -> object:
    """A ``train_freq`` unit as its name: ``"step"``, or SB3's own ``TrainFreq(4,
    TrainFrequencyUnit.STEP)``'s enum member (its ``value``), which the Python API may pass."""
    return getattr(unit, "value", unit)


def check_algo_kwargs(algo: str, kwargs: Mapping, n_envs: int = 1) -> dict:
    """``kwargs`` (keys already known to be the algorithm's) checked against :data:`HYPER`; a
    ``train_freq`` list becomes the tuple SB3 takes. Raises :class:`ConfigError`."""
    table = HYPER[algo]
    out = dict(kwargs)
    for key, value in kwargs.items():
        if key not in table:
            continue
        rule, flags = table[key]
        if value is None and "optional" in flags:
            continue
        if callable(value) and "schedule" in flags and not isinstance(value, type):
            continue
        why = _why(rule, value)
        if why is not None:
            raise ConfigError(f"algo_kwargs ({algo}): {key}={value!r} {why}; valid: {_valid(rule, flags)}")
        if rule[0] == "train_freq" and isinstance(value, list):
            out[key] = tuple(value)
    if algo == "ppo" and out.get("normalize_advantage", True) and out.get("batch_size", 2) < 2:
        raise ConfigError(f"algo_kwargs (ppo): batch_size={out['batch_size']!r} out of range; valid: an integer "
                          ">= 2 while normalize_advantage is true (SB3 normalises advantages over a mini-batch)")
    unit = out.get("train_freq")
    if algo == "dqn" and isinstance(unit, tuple) and _unit(unit[1]) == "episode" and n_envs > 1:
        raise ConfigError(f"algo_kwargs (dqn): train_freq={list(unit)!r} invalid with n_envs={n_envs}; valid: "
                          '[n, "episode"] with n_envs 1 only (SB3 trains per episode on one env), or an integer')
    return out


def _policy_class(algo: str):
    from stable_baselines3 import DQN, PPO

    return (DQN if algo == "dqn" else PPO).policy_aliases["MlpPolicy"]


def check_policy_kwargs(algo: str, kwargs: Mapping, max_width: int) -> None:
    """``kwargs`` checked against the algorithm's ``MlpPolicy`` class: its keys against the
    class's ``__init__`` (with "did you mean"), ``net_arch``'s shape (a list of widths; PPO also
    ``{"pi": [...], "vf": [...]}``), ``activation_fn`` a name of :data:`ACTIVATIONS` (or a torch
    module class), other values by the kind of their default. Raises :class:`ConfigError`."""
    from lrgym.keywords import check_keywords

    cls = _policy_class(algo)
    params = {k: p for k, p in inspect.signature(cls.__init__).parameters.items() if k not in _POLICY_SET}
    try:
        check_keywords(f"policy_kwargs ({algo}: {cls.__name__})", kwargs, list(params))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    for key, value in kwargs.items():
        where = f"policy_kwargs ({algo}): {key}={value!r}"
        if key == "net_arch":
            _check_net_arch(algo, where, value, max_width)
        elif key == "activation_fn":
            activation(value, where)
        else:
            default = params[key].default
            if isinstance(default, bool):
                rule = ("bool",)
            elif isinstance(default, (int, float)):
                rule = ("real", -INF, INF, True, True)
            elif isinstance(default, type):
                rule = ("class",)
            elif default is None:  # SB3's optional keyword dicts (optimizer_kwargs, ...)
                rule = ("kwargs",)
                if value is None:
                    continue
            else:
                continue
            why = _why(rule, value)
            if why is not None:
                valid = "a finite number" if rule[0] == "real" else _valid(rule, "")
                raise ConfigError(f"{where} {why}; valid: {valid}")


def _check_net_arch(algo: str, where: str, value, max_width: int) -> None:
    from lrgym.baselines.config_checks import widths

    heads = ("pi", "vf") if algo == "ppo" else ()
    valid = (f"a list of layer widths from 1 to {max_width:,}, e.g. [64, 64]" +
             (' or {"pi": [...], "vf": [...]} (the actor\'s and the critic\'s)' if heads else ""))
    if isinstance(value, Mapping) and heads:
        unknown = [k for k in value if k not in heads]
        if unknown:
            raise ConfigError(f"{where} invalid: unknown key {unknown[0]!r}; valid: {valid}")
        for k, v in value.items():
            widths(f"policy_kwargs ({algo}): net_arch[{k!r}]", v, max_width)
    elif isinstance(value, (list, tuple)):
        widths(f"policy_kwargs ({algo}): net_arch", value, max_width)
    else:
        raise ConfigError(f"{where} invalid; valid: {valid}")


def activation(value, where: str = "activation_fn"):
    """The torch module class ``value`` names (a name of :data:`ACTIVATIONS`, any case, ``nn.``
    or ``torch.nn.`` before it as in rl-zoo's files), or ``value`` itself if it is a torch module
    class; else :class:`ConfigError`."""
    import torch

    if isinstance(value, type) and issubclass(value, torch.nn.Module):
        return value
    if isinstance(value, str):
        name = value.removeprefix("torch.").removeprefix("nn.")
        match = [a for a in ACTIVATIONS if a.lower() == name.lower()]
        if match:
            return getattr(torch.nn, match[0])
    raise ConfigError(f"{where} invalid; valid: the name of an activation, one of {', '.join(ACTIVATIONS)}")


def policy_kwargs_for(kwargs: Mapping) -> dict:
    """``kwargs`` as SB3 takes them: ``activation_fn`` named → its class; ``net_arch`` lists."""
    out = dict(kwargs)
    if "activation_fn" in out:
        out["activation_fn"] = activation(out["activation_fn"])
    if isinstance(out.get("net_arch"), tuple):
        out["net_arch"] = list(out["net_arch"])
    return out


def build_model(cls, env, *, algo_kwargs: Mapping, policy_kwargs: Mapping, **kwargs):
    """``cls("MlpPolicy", env, policy_kwargs=..., **algo_kwargs, **kwargs)``; anything SB3 raises
    building it (an assertion, a TypeError of a keyword dict, torch's errors) is a
    :class:`ConfigError` naming the config keys its message mentions."""
    try:
        return cls("MlpPolicy", env, policy_kwargs=policy_kwargs_for(policy_kwargs), **algo_kwargs, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every refusal of SB3's is the config's
        text = f"{type(exc).__name__}: {exc}"
        named = [f"{group}[{k!r}]" for group, given in (("algo_kwargs", algo_kwargs), ("policy_kwargs", policy_kwargs))
                 for k, v in given.items()  # the key, or a key of its keyword dict (replay_buffer_kwargs' 'bogus')
                 if k in str(exc) or (isinstance(v, Mapping) and any(str(i) in str(exc) for i in v))]
        what = ", ".join(named) if named else "algo_kwargs / policy_kwargs"
        raise ConfigError(f"{what}: Stable-Baselines3 refused the config building its {cls.__name__} "
                          f"({text}); algo_kwargs={dict(algo_kwargs)!r}, policy_kwargs={dict(policy_kwargs)!r}") from exc
