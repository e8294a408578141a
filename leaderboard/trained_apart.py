"""A policy trained at other settings than a suite grades it at: what submit says, what its entry
keeps, what a board shows.

A board grades every entry at its suite's settings. A trained policy's record of what it learned
at (its ``trained_on``: a train_sb3 sidecar's, an exported RLlib policy's or a train_controller
file's ``TRAINED_ON`` line, a learned baseline's) is compared with the suite's, family by family,
for the settings that change what its actions do or what it sees (:data:`TRAINED_SETTINGS`):

* :func:`settings_apart` finds them, :func:`trained_apart_note` is the note ``submit`` prints
  before grading; a value of the record the env refuses is left out of the comparison, and
  :func:`unread_settings_note` tells the submitter which and why;
* :func:`apart_record` is what the entry keeps (``env_spec[TRAINED_APART_KEY]``: the numbers the
  env resolved, no text of the submitter's);
* :func:`entry_apart` reads an entry's record back, keeping only what a board may show, and
  :func:`apart_text` says it (the board's † note, the export's column).
"""

from __future__ import annotations

import math
import re

from lrgym.settings import DEFAULT_LR_MIN, EnvSettings

__all__ = ["TRAINED_APART_KEY", "TRAINED_SETTINGS", "apart_record", "apart_text", "entry_apart", "read_apart_record",
           "settings_apart", "trained_apart_note", "unread_settings", "unread_settings_note"]

#: the settings a suite fixes that change what a trained policy's actions do or what it sees: the LR
#: range (the LR a ``log_lr`` action sets; where ``discrete`` factors clip), the loss cap, the
#: horizon (the ``progress`` feature t/T) and the inner steps an LR acts for. A policy trained at
#: others (its ``trained_on``) is graded at the suite's: :func:`settings_apart` names them.
TRAINED_SETTINGS = ("lr_min", "lr_max", "cap_factor", "horizon", "inner_steps")


#: the groups of :data:`TRAINED_SETTINGS` the env checks together (the LR range is one check): a
#: claim's group the env refuses is left out of the comparison, the others are compared
_CHECKED_TOGETHER = (("lr_min", "lr_max"), ("cap_factor",), ("horizon",), ("inner_steps",))


def _build(family: str, given: dict):
    """:class:`~lrgym.settings.EnvSettings` of ``family`` at the settings ``given``, starting at
    its ``lr_min`` (the start LR is no trained setting: a range below the optimizer's default start
    LR is a valid claim)."""
    return EnvSettings.build(family=family, lr_init=given.get("lr_min", DEFAULT_LR_MIN), **given)


def _read_claim(trained_on: dict, family: str) -> tuple[dict, dict[tuple, str]]:
    """``(given, unread)``: the :data:`TRAINED_SETTINGS` of ``trained_on`` the env takes (a value
    left out or None: none given) and ``{(setting, ...): the env's reason}`` of those it refuses (each
    group of :data:`_CHECKED_TOGETHER` alone: its ``ValueError`` names the value, briefly, and what
    is valid)."""
    given, unread = {}, {}
    for group in _CHECKED_TOGETHER:
        part = {k: trained_on[k] for k in group if trained_on.get(k) is not None}
        if not part:
            continue
        try:
            _build(family, part)
        except (TypeError, ValueError) as exc:
            unread[tuple(part)] = str(exc)
        else:
            given.update(part)
    return given, unread


def _resolved(given: dict, family: str) -> dict:
    """The :data:`TRAINED_SETTINGS` an env of ``family`` runs at given the settings ``given``
    (checked ones; one left out: the env's or the family's default)."""
    settings = _build(family, given)
    return {k: getattr(settings, k) for k in TRAINED_SETTINGS}


def settings_apart(trained_on: dict, suite) -> dict[str, tuple]:
    """{setting: (the value it trained at, {family: the suite's value})} of each of
    :data:`TRAINED_SETTINGS` that ``suite`` grades some family at another value than the policy
    trained at (``trained_on``: a train_sb3 sidecar's, an exported RLlib policy's record; a
    setting it leaves out is the env's default, as in training, compared family by family). A
    ``trained_on`` that is no mapping is no settings: ``{}``; a value the env refuses is left out
    (not known, not taken as the default; :func:`unread_settings` says which and why), the others
    are compared."""
    if not isinstance(trained_on, dict):
        return {}
    apart: dict[str, tuple] = {}
    for family in suite.family_names:
        given, unread = _read_claim(trained_on, family)
        unknown = {k for group in unread for k in group}  # refused: not known, not the default either
        mine = _resolved(given, family)
        graded = _resolved({k: v for k, v in suite.env_kwargs(family).items()
                            if k in TRAINED_SETTINGS and v is not None}, family)
        for key in TRAINED_SETTINGS:
            if key not in unknown and mine[key] != graded[key]:
                apart.setdefault(key, (mine[key], {}))[1][family] = graded[key]
    return apart


def unread_settings(trained_on, suite) -> list[str]:
    """Why a policy's claim ``trained_on`` could not be read in part: the env's reason for each
    setting of :data:`TRAINED_SETTINGS` it refuses (``horizon=12.5 is not an integer; valid: a
    positive integer ...``), or that it is no mapping; ``[]`` when every one is read. What it
    names is left out of :func:`settings_apart`."""
    if not isinstance(trained_on, dict):
        return [f"it is no mapping of settings (a {type(trained_on).__name__}); valid: a dict such as "
                "{'lr_max': 1.0, 'horizon': 50}"]
    reasons: list[str] = []
    for family in suite.family_names:  # a value is valid or not whatever the family: each reason once
        reasons += [why for why in _read_claim(trained_on, family)[1].values() if why not in reasons]
    return reasons


def unread_settings_note(what: str, trained_on, suite) -> str | None:
    """The note ``submit`` prints before grading ``what`` when its claim of what it trained at could
    not be read in part (:func:`unread_settings`), or None: the settings named are left out of the
    comparison (no note of them, no mark on the board), the policy is graded as every entry."""
    unread = unread_settings(trained_on, suite)
    if not unread:
        return None
    return (f"{what}: the settings it records training at could not all be read: {'; '.join(unread)}. What is "
            f"named here is left out of the comparison with suite {suite.version}'s (the board marks none of it); "
            "the policy is graded at the suite's settings as every entry")


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


def entry_apart(env_spec, families=None) -> dict[str, tuple]:
    """:func:`read_apart_record` of the record an entry keeps in its ``env_spec`` (none, or no
    mapping: ``{}``); ``families`` as there (the board's suite's; None: any)."""
    spec = env_spec if isinstance(env_spec, dict) else {}
    return read_apart_record(spec.get(TRAINED_APART_KEY), families)


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

