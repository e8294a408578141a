"""The training configs' field checks and JSON files: one mechanism for ``train_controller``,
``train_sb3`` and ``train_rllib`` (``--config FILE``), and the env keywords they take
(:func:`check_env_keywords`).

A config is a dataclass whose ``__post_init__`` checks every field, raising :class:`ConfigError`
(a ``ValueError``) naming the field, the value and the valid ones; :func:`read_config` reads a
JSON object of its fields (a FIFO, a folder, a list, an unknown key: refused by name). The
commands report either as the argument parser's error (usage, exit 2), before anything runs.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from lrgym.brief import brief
from lrgym.files import read_regular_file
from lrgym.keywords import check_keywords
from lrgym.optim import check_choice
from lrgym.settings import positive_int
from lrgym.tasks.base import is_integer, is_real, real_float

__all__ = ["MAX_HIDDEN", "ConfigError", "check_env_keywords", "check_mapping", "count", "flag", "names", "optional_text",
           "positive_real", "read_config", "widths"]

#: the widest hidden layer a config may ask for (a 10^9-unit layer failed minutes into a run)
MAX_HIDDEN = 1024


class ConfigError(ValueError):
    """A bad config value; the message names the field, the value and the valid ones."""


def count(name: str, value) -> int:
    """A positive integer (a Python or NumPy one, not a bool): :func:`lrgym.settings.positive_int`'s rule."""
    try:
        return positive_int(name, value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def positive_real(name: str, value) -> float:
    """A finite number > 0 (an integer too large for a float, which JSON writes, is out of
    range: :func:`lrgym.tasks.base.real_float`)."""
    if not (is_real(value) and 0 < real_float(value) < math.inf):
        raise ConfigError(f"{name}={brief(value)} {'out of range' if is_real(value) else 'invalid'}; "
                          "valid: a finite number > 0")
    return float(value)


def names(field_name: str, value, choices: tuple[str, ...], distinct: bool) -> tuple[str, ...]:
    """``value`` as a tuple of names from ``choices``, or a ConfigError naming the first bad one."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"{field_name}={value!r} invalid; valid: a list of names from {', '.join(choices)}")
    for v in value:
        try:
            check_choice("name", v, choices)  # lrgym's wording of an unknown choice
        except ValueError as exc:
            raise ConfigError(f"{field_name}={list(value)!r}: {exc}") from None
    if distinct and len(set(value)) < len(value):
        raise ConfigError(f"{field_name}={list(value)!r} repeats a name; valid: distinct names from {', '.join(choices)}")
    return tuple(value)


def widths(field_name: str, value, maximum: int = MAX_HIDDEN) -> tuple[int, ...]:
    """Hidden layer widths: a list of integers from 1 to ``maximum`` (possibly empty;
    :data:`MAX_HIDDEN` for the controller's evolution strategy, whose cost grows with the square)."""
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{field_name}={value!r} invalid; valid: a list of layer widths from 1 to {maximum:,}, "
                          "e.g. [] or [64, 64]")
    for i, width in enumerate(value):  # (one valid range in every message: count's named 2**63 - 1 for a bool or -1)
        if not (is_integer(width) and 1 <= width <= maximum):
            why = "out of range" if is_integer(width) else "is not an integer"
            raise ConfigError(f"{field_name}[{i}]={width!r} {why}; valid: a layer width from 1 to {maximum:,}")
    return tuple(int(w) for w in value)


def flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name}={value!r} invalid; valid: true or false")
    return bool(value)


def optional_text(name: str, value, what: str) -> str | None:
    """None or a non-empty string (a path)."""
    if value is not None and not (isinstance(value, str) and value):
        raise ConfigError(f"{name}={value!r} invalid; valid: null or {what}")
    return value


def read_config(cls, path: str | Path, internal: tuple[str, ...] = ()) -> dict:
    """The fields of a JSON config file for the dataclass ``cls``: an object with any subset of
    its fields but the ``internal`` ones (and an optional ``_comment``), unchecked (``cls(**fields)``
    checks them). The file must be a regular file (:func:`lrgym.files.read_regular_file`: a FIFO is
    refused, not waited on); its JSON an object; its keys field names. Raises ``ValueError``
    (:class:`ConfigError`)."""
    data = json.loads(read_regular_file(path, "", "a JSON file of config fields"))
    fields = [f for f in dataclasses.fields(cls) if f.name not in internal]
    if not isinstance(data, dict):
        # an example of this config's own fields (``{"seed": 1}`` was no field of the controller's)
        example = next(({f.name: f.default} for f in fields if type(f.default) is int), {})
        raise ConfigError(f"the file holds a JSON {type(data).__name__}; valid: an object of config fields, "
                          f"e.g. {json.dumps(example)}")
    valid = sorted(f.name for f in fields)
    unknown = sorted(set(data) - set(valid) - {"_comment"})
    if unknown:
        close = {k: difflib.get_close_matches(k, valid, n=1) for k in unknown}
        hint = ", ".join(f"{k!r} → {m[0]!r}" for k, m in close.items() if m)
        raise ConfigError(f"unknown config key(s) {unknown}{f' (did you mean: {hint}?)' if hint else ''}; "
                          f"valid: {', '.join(valid)}")
    data.pop("_comment", None)
    return data


def check_mapping(name: str, value, example: str) -> dict:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}={value!r} invalid; valid: an object of keywords, e.g. {example}")
    return dict(value)


def check_env_keywords(name: str, value, set_elsewhere: Mapping[str, str], valid: Sequence[str],
                       build: Callable[[dict], object], example: str = '{"horizon": 50}') -> dict:
    """A trainer's LRControlEnv keywords (``env_kwargs``, ``env_options``) checked before it
    starts, one way for every trainer: ``value`` must be an object (:func:`check_mapping`); a key of
    ``set_elsewhere`` (one the trainer sets itself, or one its training cannot feel) is refused
    with its clause (what sets it, what to change instead) and the ``valid`` keys; another key not
    in ``valid`` as :func:`lrgym.keywords.check_keywords` names it (the closest valid one, every
    valid one); a bad value as ``build(keywords)`` (which makes the env or its settings and drops
    them) raises it, after ``name={keywords!r}:`` (a :class:`ConfigError` it raises, as it is).
    Returns the keywords as a dict. (``{"action_mode": "log_lr"}`` given to a trainer that sets
    it: ``env_kwargs sets 'action_mode', which the trainer sets itself (...); valid: horizon, ...``.)"""
    keywords = check_mapping(name, value, example)
    refused = next((k for k in keywords if k in set_elsewhere), None)
    if refused is not None:
        raise ConfigError(f"{name} sets {refused!r}, {set_elsewhere[refused]}; valid: {', '.join(valid)}")
    try:
        check_keywords(name, keywords, valid)
        build(keywords)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}={keywords!r}: {exc}") from None
    return keywords
