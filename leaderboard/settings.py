"""Episode settings of a graded run: the suite decides, the policy may choose a few things.

A graded episode is built from the suite's env keywords (:meth:`Suite.env_kwargs`: family,
instance set, horizon, inner steps, ...) plus the few *policy choices* below, which describe how
the policy acts, not how hard the problem is. Anything else a policy asks for (``inner_steps``,
``horizon``, ``cap_factor``, ``lr_max``, ``reward``, ``family_options``, ...) is refused with an
error that names the key and the allowed ones: a policy cannot change the episode. A key that is
no env keyword at all (``lr_int``, meant ``lr_init``) is named as unknown, with the closest choice.

==========================  ==================================================================
choice                      allowed values
==========================  ==================================================================
``optimizer``               a name from :data:`ALLOWED_OPTIMIZERS` (the suite may narrow it
                            with an ``optimizers`` attribute); default ``"sgd"``
``action_mode``             ``"discrete"`` or ``"log_lr"``; default ``"discrete"`` (the env's)
``lr_init``                 the LR the episode starts from, within the suite's LR range
``factors``                 the discrete action's LR multipliers: 1 to 16 numbers in
                            [1e-3, 1e3]
``rejection_threshold``     ``None`` or a number in [0, 10]: undo a step whose loss rises by
                            more than this fraction (the bold driver's mechanism)
==========================  ==================================================================

The policy sees copies of the observation and of :func:`public_info`: the keys of the env's info
schema (:data:`lrgym.info.INFO_KEYS`) listed in :data:`PUBLIC_INFO_KEYS`, every one but the
instance id (a policy must not look up per-instance answers). An allowlist: a key the schema
does not list (a wrapper's, a future one) reaches no policy until it is added here.
"""

from __future__ import annotations

import math
import re

from lrgym.brief import brief
from lrgym.info import ACTION_MODES, INFO_KEYS
from lrgym.optim import OPTIMIZERS
from lrgym.settings import DEFAULT_LR_MAX, DEFAULT_LR_MIN, POLICY_CHOICES, range_or_type
from lrgym.tasks.base import is_real

__all__ = ["ALLOWED_OPTIMIZERS", "HIDDEN_INFO_KEYS", "POLICY_CHOICES", "PUBLIC_INFO_KEYS", "SettingsError",
           "TRAINED_APART_KEY", "TRAINED_SETTINGS", "allowed_optimizers", "apart_record", "apart_text", "check_choices",
           "episode_kwargs", "episode_kwargs_from", "public_info", "read_apart_record", "settings_apart",
           "trained_apart_note"]

ALLOWED_OPTIMIZERS: tuple[str, ...] = tuple(OPTIMIZERS)
#: info keys a graded policy never sees (the instance id would let it look answers up)
HIDDEN_INFO_KEYS = frozenset({"instance"})
#: the info keys a graded policy sees (:func:`public_info`): the schema's, but the hidden ones
PUBLIC_INFO_KEYS = frozenset(INFO_KEYS) - HIDDEN_INFO_KEYS
MAX_FACTORS = 16
#: the settings a suite fixes that change what a trained policy's actions do or what it sees: the LR
#: range (the LR a ``log_lr`` action sets; where ``discrete`` factors clip), the loss cap, the
#: horizon (the ``progress`` feature t/T) and the inner steps an LR acts for. A policy trained at
#: others (its ``trained_on``) is graded at the suite's: :func:`settings_apart` names them.
TRAINED_SETTINGS = ("lr_min", "lr_max", "cap_factor", "horizon", "inner_steps")


class SettingsError(ValueError):
    """A policy asked for an episode setting it may not choose, or a value out of range."""


def public_info(info: dict) -> dict:
    """The part of an env info dict a graded policy may see, a fresh dict in the info's order:
    the keys of :data:`PUBLIC_INFO_KEYS` only (an allowlist: any other key is left out)."""
    return {k: v for k, v in info.items() if k in PUBLIC_INFO_KEYS}


def _number(name: str, value, low: float, high: float) -> float:
    """``value`` as a float if it is an int or float in ``[low, high]`` (an int beyond the largest
    float, ``10**400``, is out of range like any other, not an ``OverflowError``)."""
    if not (is_real(value) and low <= value <= high):  # '0.1' is no LR
        # (reprlib: a hostile value of 900 KB is not repeated whole in the error)
        raise SettingsError(f"{name}={brief(value)} {range_or_type(value)}; valid: a number in "
                            f"[{low:g}, {high:g}]")
    return float(value)


def _refuse_unknown(choices: dict) -> None:
    """Refuse a key that is no env keyword at all (a misspelt choice: ``lr_int``), naming the
    closest choice and every one (:func:`lrgym.keywords.check_keywords`); a real env keyword the
    suite fixes (``horizon``) is left to the "fixed by the suite" message."""
    if all(k in POLICY_CHOICES for k in choices):
        return
    from lrgym.env import LRControlEnv
    from lrgym.keywords import UnknownKeywordError, check_keywords, keyword_names

    env_keywords = set(keyword_names(LRControlEnv))
    try:
        check_keywords("the policy's env_options", [k for k in choices if k not in env_keywords],
                       POLICY_CHOICES)
    except UnknownKeywordError as exc:
        raise SettingsError(str(exc)) from None


def check_choices(choices: dict, allowed_optimizers: tuple[str, ...] = ALLOWED_OPTIMIZERS,
                  lr_range: tuple[float, float] = (DEFAULT_LR_MIN, DEFAULT_LR_MAX)) -> dict:
    """``choices`` validated and normalised (plain JSON values); raises :class:`SettingsError`.

    ``lr_init`` must lie in ``lr_range``, the suite's ``[lr_min, lr_max]`` (the env's default range
    unless the suite sets its own), as the env requires: so the command line refuses an SB3 zip's
    ``--env-options '{"lr_init": 100}'`` before anything runs, instead of a failed entry.
    """
    if not isinstance(choices, dict):
        raise SettingsError(f"the policy's env options {str(choices)[:200]} are a {type(choices).__name__}; valid: "
                            f"a dict (a JSON object) of {', '.join(POLICY_CHOICES)}")
    _refuse_unknown(choices)
    fixed = sorted(str(k) for k in choices if k not in POLICY_CHOICES)
    if fixed:
        raise SettingsError(
            f"env option(s) {', '.join(fixed)} are fixed by the suite; a policy may choose only "
            f"{', '.join(POLICY_CHOICES)}")
    out: dict = {}
    optimizer = choices.get("optimizer", "sgd")
    if not isinstance(optimizer, str) or optimizer not in allowed_optimizers:
        raise SettingsError(f"optimizer={brief(optimizer)} not allowed; valid choices: "
                            f"{', '.join(allowed_optimizers)}")
    out["optimizer"] = optimizer
    mode = choices.get("action_mode", "discrete")
    if mode not in ACTION_MODES:
        raise SettingsError(f"action_mode={brief(mode)} invalid; valid choices: {', '.join(ACTION_MODES)}")
    out["action_mode"] = mode
    if choices.get("lr_init") is not None:
        out["lr_init"] = _number("lr_init", choices["lr_init"], *lr_range)
    if "factors" in choices:
        factors = choices["factors"]
        if not isinstance(factors, (list, tuple)) or not 1 <= len(factors) <= MAX_FACTORS:
            # (reprlib: a hostile policy's million factors are not repeated whole in its failure reason)
            raise SettingsError(f"factors={brief(factors)} invalid; valid: 1 to {MAX_FACTORS} numbers in "
                                "[1e-3, 1e3]")
        out["factors"] = tuple(_number(f"factors[{i}]", f, 1e-3, 1e3) for i, f in enumerate(factors))
    if choices.get("rejection_threshold") is not None:
        out["rejection_threshold"] = _number("rejection_threshold", choices["rejection_threshold"], 0.0, 10.0)
    return out


def allowed_optimizers(suite) -> tuple[str, ...]:
    """The inner optimizers a policy may pick on ``suite`` (its ``optimizers`` attribute, if any)."""
    return tuple(getattr(suite, "optimizers", None) or ALLOWED_OPTIMIZERS)


def episode_kwargs_from(suite_kwargs: dict, choices: dict, optimizers=None) -> dict:
    """:class:`lrgym.env.LRControlEnv` keywords of a graded episode: the suite's keywords, then
    the policy's validated choices (a suite that fixes one of the choices itself wins)."""
    lr_range = (suite_kwargs.get("lr_min", DEFAULT_LR_MIN), suite_kwargs.get("lr_max", DEFAULT_LR_MAX))
    chosen = check_choices(choices, tuple(optimizers or ALLOWED_OPTIMIZERS), lr_range)
    return {**suite_kwargs, **{k: v for k, v in chosen.items() if k not in suite_kwargs}}


def episode_kwargs(suite, family: str, choices: dict) -> dict:
    """:func:`episode_kwargs_from` for ``family`` of ``suite``."""
    return episode_kwargs_from(suite.env_kwargs(family), choices, allowed_optimizers(suite))


def _resolved(kwargs: dict, family: str) -> dict:
    """The :data:`TRAINED_SETTINGS` an env of ``family`` with the keywords ``kwargs`` runs at (a
    value left out or None: the env's or the family's default)."""
    from lrgym.settings import EnvSettings

    given = {k: kwargs[k] for k in TRAINED_SETTINGS if kwargs.get(k) is not None}
    settings = EnvSettings.build(family=family, **given)
    return {k: getattr(settings, k) for k in TRAINED_SETTINGS}


def settings_apart(trained_on: dict, suite) -> dict[str, tuple]:
    """{setting: (the value it trained at, {family: the suite's value})} of each of
    :data:`TRAINED_SETTINGS` that ``suite`` grades some family at another value than the policy
    trained at (``trained_on``: a train_sb3 sidecar's, an exported RLlib policy's record; a
    setting it leaves out is the env's default, as in training, compared family by family). A
    ``trained_on`` that is no mapping, or values the env refuses, are no settings: ``{}``."""
    if not isinstance(trained_on, dict):
        return {}
    apart: dict[str, tuple] = {}
    for family in suite.family_names:
        try:
            mine = _resolved(trained_on, family)
        except (TypeError, ValueError):  # a record of another lrgym, or hand-written: nothing to compare
            return {}
        graded = _resolved(suite.env_kwargs(family), family)
        for key in TRAINED_SETTINGS:
            if mine[key] != graded[key]:
                apart.setdefault(key, (mine[key], {}))[1][family] = graded[key]
    return apart


def trained_apart_note(what: str, trained_on: dict, suite) -> str | None:
    """The note ``submit`` prints before grading ``what`` (a policy file, a zip) trained at other
    :data:`TRAINED_SETTINGS` than ``suite`` grades it at (:func:`settings_apart`), or None: the
    board is the suite's settings for every entry, so a policy trained at lr_max 1 is graded with
    its ``log_lr`` actions setting LRs of the suite's range, which it never learned."""
    apart = settings_apart(trained_on, suite)
    if not apart:
        return None

    def graded(values: dict) -> str:
        if len(set(values.values())) == 1 and len(values) == len(suite.family_names):
            return f"{next(iter(values.values()))!r}"
        return ", ".join(f"{f} {v!r}" for f, v in values.items())

    said = "; ".join(f"{k} trained at {mine!r}, graded at {graded(values)}" for k, (mine, values) in apart.items())
    why = []
    if {"lr_min", "lr_max"} & set(apart):
        why.append("its actions set and clip LRs in the suite's LR range (a log_lr action: another LR)")
    if "horizon" in apart:
        why.append("its progress feature t/T runs at another pace")
    if {"inner_steps", "cap_factor"} & set(apart):
        why.append("an LR acts for other inner steps or under another loss cap")
    return (f"{what} was trained at other settings than suite {suite.version} grades every entry at ({said}): "
            f"it is graded at the suite's ({'; '.join(why)}), not at the settings it learned; to be graded as it "
            f"learned, train it at the suite's")


# ---- the record an entry keeps (``env_spec["trained_apart"]``) and what a board says of it -------------

#: the key of an entry's ``env_spec`` that keeps its :func:`apart_record` (none: trained at the
#: suite's settings, or no record of what it trained at, as every baseline)
TRAINED_APART_KEY = "trained_apart"
#: a family name a stored record may name (the suites' families are such names)
_FAMILY_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,40}")
#: the largest magnitude a stored value may have (a horizon or inner steps is at most 10⁹)
_MAX_VALUE = 1e15


def apart_record(apart: dict) -> dict:
    """:func:`settings_apart`'s ``{setting: (trained, {family: graded})}`` as the JSON an entry
    stores: ``{setting: {"trained": value, "graded": {family: value}}}``. Its values are those the
    env resolved (numbers it accepted): nothing the submitter wrote is stored as text."""
    return {key: {"trained": mine, "graded": dict(graded)} for key, (mine, graded) in apart.items()}


def _storable(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and abs(value) <= _MAX_VALUE)


def read_apart_record(record, families=None) -> dict[str, tuple]:
    """An entry's stored :func:`apart_record` back as ``{setting: (trained, {family: graded})}``,
    keeping only what a board may show: settings of :data:`TRAINED_SETTINGS`, finite numbers of
    at most 10¹⁵ in magnitude, family names of letters, digits, ``_ . -`` (at most 40 characters)
    and of ``families`` (the board's suite's; None: any). Anything else (a record of another lrgym, a
    hand-edited store) is left out; no record: ``{}``."""
    if not isinstance(record, dict):
        return {}
    apart: dict[str, tuple] = {}
    for key in TRAINED_SETTINGS:
        item = record.get(key)
        if not isinstance(item, dict) or not _storable(item.get("trained")) or not isinstance(item.get("graded"), dict):
            continue
        graded = {f: v for f, v in item["graded"].items() if isinstance(f, str) and _storable(v)
                  and (_FAMILY_NAME.fullmatch(f) if families is None else f in families)}
        if graded:
            apart[key] = (item["trained"], graded)
    return apart


def _shown(value) -> str:
    """A stored setting as a board shows it: an integer as it is, a real with 6 significant digits."""
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def apart_text(apart: dict[str, tuple], families=()) -> str:
    """What a board says of an entry's :func:`read_apart_record`: each setting with the value it
    trained at and the suite's (one value if it is every one of the suite's ``families``', else
    each family's), e.g. ``lr_max 1 (graded at 10); horizon 100 (graded at linreg 200, mlp 150)``;
    ``""`` for none."""
    def graded(values: dict) -> str:
        if len(set(values.values())) == 1 and set(values) == set(families):
            return _shown(next(iter(values.values())))
        return ", ".join(f"{f} {_shown(v)}" for f, v in values.items())

    return "; ".join(f"{key} {_shown(mine)} (graded at {graded(values)})" for key, (mine, values) in apart.items())

