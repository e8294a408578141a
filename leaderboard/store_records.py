"""The results store's records and their JSON form: :class:`EntryRecord` (one evaluated policy on
one suite version), :class:`RunRecord` (one of its runs, with its curves), which entries are versions
of one board entry (:func:`version_key`), and the strict JSON every JSON column and side file holds
(:func:`to_json`, :func:`from_json`).

JSON conventions: strict JSON (no bare ``NaN``/``Infinity`` tokens): a non-finite float is written as
``{"__float__": "nan" | "inf" | "-inf"}`` and decoded back to a float. NumPy scalars and arrays are
converted to plain Python values. The SQLite rows of the records are :mod:`lrgym.leaderboard.store`'s
(its schema's columns)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lrgym.leaderboard.text import name_key

__all__ = [
    "CURVE_KEYS",
    "KINDS",
    "STATUSES",
    "EntryRecord",
    "RunRecord",
    "check_text_fields",
    "from_json",
    "stored_form",
    "to_json",
    "version_key",
]

KINDS = ("baseline", "submission")
STATUSES = ("ok", "failed")
CURVE_KEYS = ("lr", "train_loss", "val_loss", "metric")
"""The per-step curves the runner records for each run (others are allowed and kept)."""


def version_key(entry: EntryRecord) -> tuple:
    """Entries with equal keys are versions of one board entry (the latest is shown): the same
    name (:func:`~lrgym.leaderboard.text.name_key`, so ``keeper`` and ``KEEPER`` are one entry),
    kind and owner. The name check makes kind and owner follow from the name in a store written
    today; they keep apart the lookalike names an older store may hold (see
    :mod:`lrgym.leaderboard.store`)."""
    return entry.kind, entry.owner, name_key(entry.name)


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    """One run of a policy on one (family, instance, seed) of the suite.

    Float fields may be NaN (undefined) or ±inf; by convention ``steps_to_target`` is
    ``inf`` when the target loss was never reached. ``curves`` maps a curve name (see
    :data:`CURVE_KEYS`: ``lr``, ``train_loss``, ``val_loss``, ``metric``) to its per-step
    values. Inputs are normalised on construction (NumPy scalars/arrays become ``int`` /
    ``float`` / ``tuple[float, ...]``).
    """

    family: str
    instance: int
    seed: int
    score: float
    final_loss: float
    initial_loss: float
    diverged: bool
    steps_to_target: float = math.inf
    curves: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "family", str(self.family))
        object.__setattr__(self, "instance", int(self.instance))
        object.__setattr__(self, "seed", int(self.seed))
        for name in ("score", "final_loss", "initial_loss", "steps_to_target"):
            object.__setattr__(self, name, _as_float(getattr(self, name)))
        object.__setattr__(self, "diverged", bool(self.diverged))
        curves = {str(k): tuple(_as_float(x) for x in v) for k, v in dict(self.curves).items()}
        object.__setattr__(self, "curves", curves)


@dataclass(frozen=True)
class EntryRecord:
    """One evaluated policy on one suite version: its metadata and aggregate summary.

    ``id``, ``n_runs`` and ``created_at`` are filled in by the store: leave them ``None``
    when writing (``created_at`` may be given explicitly); records read back carry them.
    ``n_runs`` is the number of runs written with the entry, and the store guarantees that
    exactly that many runs exist for it.
    """

    name: str
    kind: str  # one of KINDS
    status: str = "ok"  # one of STATUSES
    failure_reason: str | None = None
    policy_source_hash: str | None = None
    suite_version: str | None = None
    env_spec: Any = None  # JSON-able (usually a dict)
    package_versions: Mapping[str, str] = field(default_factory=dict)
    cpu: str | None = None
    seeds: tuple[int, ...] = ()
    summary: Any = None  # JSON-able aggregate scores (IQM, CI, ...)
    created_at: str | None = None
    n_runs: int | None = None
    id: int | None = None
    owner: str | None = None  # who submitted it (a submission's name belongs to its owner)
    token: str | None = None  # unique per evaluation: a replayed write is not stored twice

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        object.__setattr__(self, "name", str(self.name))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        object.__setattr__(self, "package_versions", dict(self.package_versions or {}))


# --------------------------------------------------------------------------------------------
# Encoding helpers
# --------------------------------------------------------------------------------------------

_FLOAT_TAG = "__float__"


def _as_float(x: Any) -> float:
    return math.nan if x is None else float(x)


def _tagged_json(obj: Any) -> Any:
    """Plain-JSON version of ``obj``; non-finite floats become tagged objects."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if math.isfinite(obj):
            return float(obj)
        return {_FLOAT_TAG: "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")}
    if isinstance(obj, Mapping):
        return {str(k): _tagged_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_tagged_json(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _tagged_json(dataclasses.asdict(obj))
    if hasattr(obj, "tolist"):  # NumPy arrays and scalars
        return _tagged_json(obj.tolist())
    if isinstance(obj, Iterable):
        return [_tagged_json(v) for v in obj]
    raise TypeError(f"cannot store {type(obj).__name__} as JSON: {obj!r}")


#: the entry's columns stored as SQLite TEXT (UTF-8)
_TEXT_FIELDS = ("name", "kind", "status", "failure_reason", "policy_source_hash", "suite_version", "cpu",
                "created_at", "owner", "token")


def check_text_fields(entry: EntryRecord) -> None:
    """``ValueError`` naming the field if one of ``entry``'s text columns is no UTF-8 text (a lone
    surrogate such as ``"\\udc80"``: Python holds it, SQLite's encoder refuses it)."""
    for name in _TEXT_FIELDS:
        value = getattr(entry, name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise TypeError(f"entry field {name}={value!r} is a {type(value).__name__}; valid: a string or None")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"entry field {name}={ascii(value)[:200]} is not UTF-8 text ({exc.reason} at "
                             f"position {exc.start}); valid: text without lone surrogates") from None


def to_json(obj: Any) -> str:
    """``obj`` as the strict JSON text the store and its side files hold (non-finite floats tagged)."""
    return json.dumps(_tagged_json(obj), allow_nan=False, separators=(",", ":"))


def _untag(d: dict) -> Any:
    if len(d) == 1 and _FLOAT_TAG in d:
        return float(d[_FLOAT_TAG])
    return d


def from_json(text: str | None) -> Any:
    """The value :func:`to_json` wrote (tagged floats back to floats); None for None (a NULL column)."""
    return None if text is None else json.loads(text, object_hook=_untag)


def stored_form(obj: Any) -> Any:
    """``obj`` as the store gives it back (tuples as lists, NumPy values as Python's): what a
    value computed now is compared with a stored one in."""
    return from_json(to_json(obj))
