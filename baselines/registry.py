"""Every baseline by name, built with its tuned hyper-parameters.

::

    from lrgym.baselines.registry import BASELINES, LEARNED, HAND_DESIGNED, make_baseline

    policy = make_baseline("cosine", family="mlp")   # tuned on the mlp train instances
    policy = make_baseline("dqn")                    # weights trained on LRControl-v1 (mixed)
    policy = make_baseline("controller", family="mlp")  # the ES-trained controller (lrgym.baselines.controller)

``BASELINES[name](**hyper)`` builds a hand-designed baseline with the given hyper-parameters
(untuned textbook defaults otherwise); ``make_baseline(name, family)`` fills them from
``baselines/tuned.json`` (written by ``python -m lrgym.baselines.tune``; tuned per family on train
instances only; ``family=None`` means the mixed family of ``LRControl-v1``), or from a tuned.json
of your own: ``make_baseline("cosine", "logreg", tuned=read_tuned_file("runs/tuned.json"))`` (what a
suite file's ``"tuned"`` field makes the leaderboard do; the shipped file is never written). Learned
baselines (:data:`LEARNED`) load shipped weights from ``baselines/weights/``: the ones trained
for ``family`` if present, else those trained on the mixed family.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from functools import lru_cache
import inspect
from pathlib import Path
from typing import Callable

from lrgym.baselines.families import MIXED, family_key
from lrgym.baselines.heuristics import BoldDriver, Hypergradient, MultiplicativeHypergradient, ReduceOnPlateau
from lrgym.baselines.outputs import SHIPPED_TUNED, SHIPPED_WEIGHTS
from lrgym.baselines.policy import Policy
from lrgym.baselines.schedules import Constant, Cosine, ExponentialDecay, InverseSqrt, LinearDecay, OneCycle, StepDecay
from lrgym.keywords import check_keywords, keyword_names
from lrgym.optim import check_choice

#: the shipped files (one place: lrgym.baselines.outputs)
TUNED_PATH = SHIPPED_TUNED
WEIGHTS = SHIPPED_WEIGHTS


def _named(cls, name: str, **fixed):
    def factory(**hyper) -> Policy:
        check_keywords(f"baseline {name!r}", hyper, keyword_names(factory))  # not Python's bare TypeError
        return cls(**{**fixed, **hyper}, name=name)

    factory.__name__ = name
    summary = inspect.cleandoc(cls.__doc__ or "").partition("\n")[0] or f"{cls.__name__} (no docstring)"
    factory.__doc__ = f"{name}: {cls.__name__}({', '.join(f'{k}={v!r}' for k, v in fixed.items())}) — {summary}"
    # the class's parameters (what make_baseline may override), for help() and the option check
    factory.__signature__ = inspect.Signature(_parameters(cls))
    return factory


def _parameters(cls) -> list[inspect.Parameter]:
    """The keyword parameters of ``cls(...)`` but ``name``, those its ``**kw`` passes on to the
    base classes' ``__init__`` included (``Cosine(lr, ..., **kw)`` → ``Schedule``'s ``optimizer``)."""
    found: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or klass is object:
            continue
        params = list(inspect.signature(klass.__init__).parameters.values())[1:]
        for q in params:
            if q.kind in (q.POSITIONAL_OR_KEYWORD, q.KEYWORD_ONLY) and q.name != "name":
                found.setdefault(q.name, q.replace(kind=q.KEYWORD_ONLY) if q.name in found else q)
        if not any(q.kind == q.VAR_KEYWORD for q in params):
            break
    ordered = sorted(found.values(), key=lambda q: q.default is not inspect.Parameter.empty)  # required first
    return [q.replace(kind=q.KEYWORD_ONLY) for q in ordered]


def weights_path(name: str, family: str | None, suffix: str) -> Path:
    """``weights/<name>_<family><suffix>`` if shipped, else the mixed-family file."""
    own = WEIGHTS / f"{name}_{family_key(family)}{suffix}"
    return own if own.exists() else WEIGHTS / f"{name}_{MIXED}{suffix}"


def _qlearning(family: str | None = None, path: str | Path | None = None) -> Policy:
    from lrgym.baselines.qlearning import QLearningPolicy

    policy = QLearningPolicy.load(path or weights_path("qlearning", family, ".npz"))
    policy.name = "qlearning"
    return policy


def _sb3(algo: str):
    def factory(family: str | None = None, path: str | Path | None = None) -> Policy:
        from lrgym.baselines.sb3_agents import SB3Policy

        return SB3Policy(path or weights_path(algo, family, ".zip"), name=algo, algo=algo)

    factory.__name__ = algo
    return factory


def _controller(family: str | None = None, path: str | Path | None = None, mask=()) -> Policy:
    from lrgym.baselines.controller import ControllerPolicy

    return ControllerPolicy.load(path or weights_path("controller", family, ".npz"), mask=mask, name="controller")


#: name → factory(**hyper-parameters) of a Policy
BASELINES: dict[str, Callable[..., Policy]] = {
    # schedules (SGD)
    "fixed": _named(Constant, "fixed"),
    "step": _named(StepDecay, "step"),
    "exponential": _named(ExponentialDecay, "exponential"),
    "inverse_sqrt": _named(InverseSqrt, "inverse_sqrt"),
    "linear": _named(LinearDecay, "linear"),
    "cosine": _named(Cosine, "cosine"),
    "sgdr": _named(Cosine, "sgdr", cycles=3, cycle_mult=2.0),
    "one_cycle": _named(OneCycle, "one_cycle"),
    # loss-driven heuristics (SGD)
    "bold_driver": _named(BoldDriver, "bold_driver"),
    "plateau": _named(ReduceOnPlateau, "plateau"),
    "hypergradient": _named(Hypergradient, "hypergradient"),
    "hypergradient_mult": _named(MultiplicativeHypergradient, "hypergradient_mult"),
    # the adaptive inner optimizer at a fixed LR
    "adam": _named(Constant, "adam", optimizer="adam"),
    "adam_default": _named(Constant, "adam_default", optimizer="adam", lr=1e-3),
    # learned
    "qlearning": _qlearning,
    "dqn": _sb3("dqn"),
    "ppo": _sb3("ppo"),
    "controller": _controller,
}

#: baselines that load trained weights (the rest are hand-designed and tuned by lrgym.baselines.tune)
LEARNED: tuple[str, ...] = ("qlearning", "dqn", "ppo", "controller")
HAND_DESIGNED: tuple[str, ...] = tuple(n for n in BASELINES if n not in LEARNED)
#: Baselines whose weights are per lrgym family: they read ``info["family"]`` and refuse a task
#: outside the four families (e.g. a user's PyTorch training, ``info["family"] == -1``).
FAMILY_BOUND: tuple[str, ...] = ("controller",)
#: hand-designed baselines without tuned hyper-parameters (shown as published defaults)
UNTUNED: tuple[str, ...] = ("adam_default",)
#: The hand-designed baselines with tuned hyper-parameters, the one list of them: those a
#: tuned.json may hold values for (:func:`read_tuned_file`) and those ``python -m
#: lrgym.baselines.tune`` tunes (its ``tunable()``: ``fixed`` and ``adam`` by their LR, every
#: other one by its grid in ``GRIDS`` there). A new hand-designed baseline is in it unless listed
#: in :data:`UNTUNED`.
TUNABLE: tuple[str, ...] = tuple(n for n in HAND_DESIGNED if n not in UNTUNED)


def is_learned(name: str) -> bool:
    return name in LEARNED


def weights_families(name: str) -> tuple[str, ...] | None:
    """The families baseline ``name``'s weights have terms for, if they are per family
    (:data:`FAMILY_BOUND`: ``lrgym.info.FAMILY_NAMES``, the table its weights file records and
    its ``reset`` refuses any other family's episode by; LRControl-v1's mixture of them too); None
    for every other baseline, which runs on any family (the other learned ones read the
    observation only)."""
    if name not in FAMILY_BOUND:
        return None
    from lrgym.info import FAMILY_NAMES

    return (*FAMILY_NAMES, MIXED)


@lru_cache(maxsize=1)
def load_tuned() -> dict:
    """The contents of ``tuned.json`` (empty if it does not exist yet)."""
    if not TUNED_PATH.exists():
        return {"values": {}}
    with open(TUNED_PATH) as f:
        return json.load(f)


def read_tuned_file(path: str | Path) -> dict:
    """The contents of a tuned.json of your own (``python -m lrgym.baselines.tune --out``'s, by
    default ``runs/tuned.json``), checked: a JSON object whose ``values`` maps hand-designed
    baselines to ``{family: {hyper-parameter: value}}`` with keywords the baseline takes. A
    ``ValueError`` names the file, the bad part and the valid choices; nothing is written."""
    return read_tuned_file_with_digest(path)[0]


def read_tuned_file_with_digest(path: str | Path) -> tuple[dict, str]:
    """:func:`read_tuned_file` and the SHA-256 of the very bytes it parsed (what an entry graded
    with them records: a second read could hash a file rewritten in between)."""
    from lrgym.files import read_regular_file

    valid = "a tuned.json as python -m lrgym.baselines.tune writes it ({\"values\": {baseline: {family: {...}}}})"
    raw = read_regular_file(path, "tuned values", valid, binary=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"tuned values {path}: not UTF-8 text ({exc}); valid: {valid}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"tuned values {path}: not JSON ({exc}); valid: {valid}") from None
    values = data.get("values") if isinstance(data, dict) else None
    if not isinstance(values, dict):
        raise ValueError(f"tuned values {path}: no \"values\" object; valid: {valid}")
    for name, per_family in values.items():
        if name not in TUNABLE:
            raise ValueError(f"tuned values {path}: {name!r} is no tuned baseline; valid: {', '.join(TUNABLE)}")
        if not isinstance(per_family, dict) or not all(isinstance(f, str) and isinstance(v, dict)
                                                       for f, v in per_family.items()):
            raise ValueError(f"tuned values {path}: values of {name!r} are not {{family: {{...}}}}; valid: {valid}")
        for family, hyper in per_family.items():
            check_keywords(f"tuned values {path}: baseline {name!r} ({family})", hyper, keyword_names(BASELINES[name]))
    return data, hashlib.sha256(raw).hexdigest()


def tuned_values(name: str, family: str | None = None, tuned: dict | None = None) -> dict:
    """Tuned hyper-parameters of ``name`` for ``family`` from ``tuned`` (a tuned.json's contents,
    :func:`read_tuned_file`; None: the shipped ``baselines/tuned.json``). Falls back to the
    mixed-family values, then to the factory's defaults, with a warning."""
    values = (load_tuned() if tuned is None else tuned).get("values", {}).get(name, {})
    key = family_key(family)
    if key in values:
        return dict(values[key])
    if name in UNTUNED:
        return {}
    if MIXED in values:
        warnings.warn(f"baseline {name!r} has no tuned values for family {key!r}; using the mixed-family values "
                      f"(python -m lrgym.baselines.tune --families {key} writes them to runs/tuned.json; a suite "
                      f"file's \"tuned\": \"runs/tuned.json\" grades the baselines with them, "
                      f"make_baseline({name!r}, {key!r}, tuned=read_tuned_file('runs/tuned.json')) builds one)",
                      stacklevel=2)
        return dict(values[MIXED])
    warnings.warn(f"baseline {name!r} has no tuned values; using its untuned defaults "
                  "(run python -m lrgym.baselines.tune)", stacklevel=2)
    return {}


def tuned_key(path: str | Path) -> str:
    """How :func:`shipped_inputs` names a tuned.json of your own: ``tuned values <file name>``
    (never the shipped file's key, ``tuned.json``, whatever the file is called)."""
    return f"tuned values {Path(path).name}"


def _own_tuned_holds(path: str | Path, name: str) -> bool:
    """Whether the tuned.json of your own at ``path`` has values for the baseline ``name`` (one it
    lacks keeps the shipped ones); True if it cannot be read, so that an entry's record is compared
    with the missing file."""
    try:
        return name in read_tuned_file(path)["values"]
    except (OSError, ValueError):
        return True


def shipped_inputs(names, tuned: str | Path | None = None) -> dict[str, str]:
    """SHA-256 of the shipped files the baselines ``names`` are made from, keyed ``tuned.json``
    (the tuned hand-designed ones) and ``weights/<file>`` (each learned one's weights); with
    ``tuned`` (a tuned.json of your own, as a suite file names it) the tuned ones it has values
    for are made from that file instead, keyed :func:`tuned_key` (``"missing"`` if it is gone).

    Results recorded with these (a board's entries, the transfer study) can be checked against
    the files shipped now: a retune or a retrain that was not followed by a re-run shows.
    """
    files: dict[str, Path] = {}
    for name in names:
        if name in LEARNED:
            files.update((f"weights/{f.name}", f) for f in sorted(WEIGHTS.glob(f"{name}_*")))
        elif name not in UNTUNED and tuned is not None and _own_tuned_holds(tuned, name):
            files[tuned_key(tuned)] = Path(tuned)
        elif name not in UNTUNED and TUNED_PATH.exists():
            files["tuned.json"] = TUNED_PATH
    return {key: hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
            for key, path in sorted(files.items())}


#: how generated results (LEADERBOARD.md, the README's val table) state their baselines' inputs
MADE_FROM = "Baselines made from (SHA-256 of the shipped files they ran, first 12 hex digits): "


def made_from_text(inputs) -> str:
    """``MADE_FROM`` + "`tuned.json` c05cb334d9ce, `weights/dqn_mixed.zip` 8bb3097bd5f8.": one
    sentence for :func:`shipped_inputs` (a file's value may be a set of hashes: joined by " / ")."""
    def short(v) -> str:
        return v[:12] if isinstance(v, str) else " / ".join(h[:12] for h in sorted(v))

    lead = MADE_FROM
    if any(name.startswith(tuned_key("")) for name in inputs):  # a suite file's own tuned values: not shipped
        lead = MADE_FROM.replace("the shipped files", "the files")
    return lead + ", ".join(f"`{name}` {short(v)}" for name, v in sorted(inputs.items())) + "."


def trained_on(name: str, family: str | None = None) -> dict | None:
    """The env settings the learned baseline ``name``'s weights for ``family`` (the file
    :func:`make_baseline` loads: :func:`weights_path`) were trained at, as their training recorded
    them: an SB3 agent's sidecar ``trained_on``, the Q-table's ``meta["env_kwargs"]``, the
    controller's config ``env_options`` (each trained at the env's defaults but those). The board
    compares them with a suite's (:func:`lrgym.leaderboard.trained_apart.settings_apart`), as it does a
    submission's. None for a hand-designed baseline, absent weights, or a record that cannot be
    read (nothing to compare; a damaged file fails when the baseline runs, not here)."""
    if name not in LEARNED:
        return None
    try:
        if name == "qlearning":
            meta = json.loads(str(_npz_member(weights_path(name, family, ".npz"), "meta")))
            record = meta.get("env_kwargs")
        elif name == "controller":
            header = json.loads(str(_npz_member(weights_path(name, family, ".npz"), "header")))
            record = header.get("config", {}).get("env_options")
        else:  # an SB3 agent: its train_sb3 sidecar
            from lrgym.baselines.sb3_agents import parse_sidecar

            record = (parse_sidecar(weights_path(name, family, ".zip").with_suffix(".json").read_bytes())
                      or {}).get("trained_on")
    except (OSError, ValueError, KeyError, AttributeError):
        return None
    return dict(record) if isinstance(record, dict) else None


def _npz_member(path: Path, member: str):
    """The array ``member`` of the ``.npz`` at ``path`` (no pickled objects)."""
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return data[member]


def baseline_packages(name: str) -> tuple[str, ...]:
    """The packages beyond lrgym's own requirements that baseline ``name`` runs on (pip names):
    torch and stable-baselines3 for the SB3 agents (``dqn``, ``ppo``), none for the others
    (NumPy inference). The leaderboard records their versions with the baseline's entries."""
    from lrgym.baselines.sb3_agents import ALGOS, SB3_PACKAGES

    return SB3_PACKAGES if name in ALGOS else ()


def make_baseline(name: str, family: str | None = None, *, tuned: dict | None = None, **overrides) -> Policy:
    """Baseline ``name`` with its tuned hyper-parameters (or weights) for ``family``.

    ``tuned``: the contents of a tuned.json of your own (:func:`read_tuned_file`) to take a
    hand-designed baseline's values from (None: the shipped ones; learned baselines ignore it).
    ``overrides`` replace tuned values (hand-designed) or pass ``path=`` to other weights
    (learned); a name the baseline does not take raises :class:`lrgym.keywords.UnknownKeywordError`
    (a ValueError and TypeError) naming it, the closest valid name and every valid one.
    """
    check_choice("baseline", name, BASELINES)  # a str: a list was a bare "unhashable type"
    check_keywords(f"baseline {name!r}", overrides, [q for q in keyword_names(BASELINES[name]) if q != "family"])
    if name in LEARNED:
        path = overrides.get("path")
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"weights for the learned baseline {name!r} not found: {path}")
        return BASELINES[name](family=family, **overrides)
    return BASELINES[name](**{**tuned_values(name, family, tuned), **overrides})


__all__ = ["BASELINES", "FAMILY_BOUND", "HAND_DESIGNED", "LEARNED", "TUNABLE", "UNTUNED", "baseline_packages", "is_learned",
           "load_tuned", "make_baseline",
           "made_from_text", "read_tuned_file", "read_tuned_file_with_digest", "shipped_inputs", "trained_on", "tuned_key", "tuned_values", "weights_families"]
