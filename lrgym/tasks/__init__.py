"""Task families by name: the one family registry. Modules are imported on first use, so
``import lrgym`` stays quick.

A new family is three things: its module (a :class:`~lrgym.tasks.base.TaskFamily` subclass and
its :class:`~lrgym.tasks.base.Task`; ``lrgym/tasks/<name>.py``), its tests (the family contract
test in ``tests/tasks/test_family_contract.py`` runs over every registered family by itself),
and one registry line: an entry of :data:`FAMILIES` here, or, from outside the package,
:func:`register_family`. Everything else derives from this registry:

* the gymnasium ids (single and vector entry points): :data:`lrgym.registry.ENV_IDS` is built
  from the entries' ``env_ids``;
* the baselines, tuning and a leaderboard suite take the family by name
  (:func:`lrgym.baselines.families.available_families` lists the registry);
* the members of the mixed family behind ``LRControl-v1`` and the info schema's family name
  table (``info["family"]`` indexes it): :data:`MIXED_V1`, the entries with ``mixed_v1=True``
  in registry order. These are versioned decisions: a new family joins ``LRControl-v1`` only
  with a new env version (its instance seed k belongs to member k mod the number of members),
  so :func:`register_family` cannot set the flag; a new family mixes with the others on
  request, ``family_options={"members": (..., "toy")}`` of ``family="mixed"``.

A family registered from outside the package is known in the processes lrgym starts for it (the
grader's and the tuner's workers, Ray workers): they get :data:`FAMILIES_ENV`
(``LRGYM_FAMILIES=name=module:Class,...``, :func:`families_env`), which every process reads when
it imports ``lrgym``. Set it yourself to name your family to a command that never imports your
module, such as ``lrgym leaderboard`` or ``python -m lrgym.baselines.tune``.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lrgym.brief import brief
from lrgym.tasks.base import INSTANCE_SETS, Task, TaskFamily, TaskSpec, TrainState


@dataclass(frozen=True)
class FamilyEntry:
    """A registered family: where its class lives and which gymnasium ids stand for it."""

    #: ``"package.module:ClassName"`` of the :class:`~lrgym.tasks.base.TaskFamily` (imported on first use)
    target: str
    #: gymnasium id → ``family_options`` of that id (``{}``: the family's defaults)
    env_ids: dict[str, dict] = field(default_factory=dict)
    #: a member of ``LRControl-v1``'s mixture and of the info schema's name table (versioned)
    mixed_v1: bool = False


#: family name → its entry (one line per family)
FAMILIES: dict[str, FamilyEntry] = {
    "linreg": FamilyEntry("lrgym.tasks.linreg:LinRegFamily", {"LRControl-LinReg-v1": {}}, mixed_v1=True),
    "quadratic": FamilyEntry("lrgym.tasks.quadratic:QuadraticFamily", {"LRControl-Quadratic-v1": {}}, mixed_v1=True),
    "mlp": FamilyEntry("lrgym.tasks.mlp:MLPFamily", {
        "LRControl-MLP-v1": {},
        "LRControl-Digits-v1": {"dataset": "digits"},
        "LRControl-BreastCancer-v1": {"dataset": "breast_cancer"},
    }, mixed_v1=True),
    "recsys": FamilyEntry("lrgym.tasks.recsys:RecsysFamily", {"LRControl-Recsys-v1": {}}, mixed_v1=True),
    "mixed": FamilyEntry("lrgym.tasks.mixture:MixtureFamily", {"LRControl-v1": {}}),
}

#: the members of ``LRControl-v1``'s mixed family, in order (instance seed k → member k mod 4);
#: also ``lrgym.info.FAMILY_NAMES``, the table ``info["family"]`` indexes
MIXED_V1: tuple[str, ...] = tuple(name for name, entry in FAMILIES.items() if entry.mixed_v1)


#: the keyword under which an id registers family options of its own (``LRControl-Digits-v1``'s
#: ``{"dataset": "digits"}``): not ``family_options``, which gymnasium's ``make(id, family_options=...)``
#: would replace whole (an id's data set was silently dropped), but merged under the user's
#: ``family_options`` by every entry point (:func:`with_id_options`)
ID_FAMILY_OPTIONS = "id_family_options"
#: the keyword under which an id of a family from outside the package carries the family's
#: ``"name=module:Class"``: every entry point registers the family from it (:func:`with_id_options`), so
#: the id builds its env in any process, also one that never imported the family's module (a
#: ``spawn`` / ``forkserver`` child: gymnasium's ``AsyncVectorEnv``, SB3's ``SubprocVecEnv``)
ID_FAMILY_TARGET = "id_family_target"


def env_ids() -> dict[str, dict]:
    """Every registered gymnasium id → its keywords (:class:`~lrgym.env.LRControlEnv`'s, and the
    id's own family options under :data:`ID_FAMILY_OPTIONS`)."""
    out = {}
    for name, entry in FAMILIES.items():
        for env_id, options in entry.env_ids.items():
            out[env_id] = _id_kwargs(name, options)
    return out


def _id_kwargs(name: str, options: dict) -> dict:
    """The gymnasium kwargs of an id of family ``name`` with its own family ``options``: the
    family's target too for a family from outside the package (:data:`ID_FAMILY_TARGET`)."""
    kwargs: dict = {"family": name}
    if options:
        kwargs[ID_FAMILY_OPTIONS] = dict(options)
    if name not in BUILT_IN:
        kwargs[ID_FAMILY_TARGET] = f"{name}={FAMILIES[name].target}"
    return kwargs


def with_id_options(kwargs: dict) -> dict:
    """An id's keywords updated with the user's (what gymnasium hands an entry point), with the
    id's own family options (:data:`ID_FAMILY_OPTIONS`) merged under the user's ``family_options``:
    ``gym.make("LRControl-Digits-v1", family_options={"hidden": 32})`` trains on digits. A user
    value that contradicts the id's is refused, naming both. Returns a new dict."""
    kwargs = dict(kwargs)
    item = kwargs.pop(ID_FAMILY_TARGET, None)
    if item is not None:  # an id of a family from outside the package: known in this process too
        _register_item(item, f"the id's {ID_FAMILY_TARGET}")
    fixed = kwargs.pop(ID_FAMILY_OPTIONS, None)
    if not fixed:
        return kwargs
    user = kwargs.get("family_options")
    if user is None:
        user = {}
    if not isinstance(user, Mapping):
        return {**kwargs, "family_options": user}  # the env refuses it, naming it
    clash = {key: value for key, value in user.items() if key in fixed and value != fixed[key]}
    if clash:
        raise ValueError(f"family_options {clash} contradict this id's own {dict(fixed)}; valid: leave those "
                         f"keys out, or use the id of the family without fixed options for other values")
    return {**kwargs, "family_options": {**fixed, **user}}


def family_class(name: str) -> type[TaskFamily]:
    """The class of family ``name``, imported on first use; an unknown name (or one that is no str:
    a list was a bare ``TypeError: unhashable type``) is a ``ValueError`` naming the valid ones."""
    if not isinstance(name, str) or name not in FAMILIES:
        raise ValueError(f"unknown family {brief(name)}; valid choices: {', '.join(FAMILIES)}")
    target = FAMILIES[name].target
    module, cls = target.split(":")
    found = _import_target(name, target, module, cls)
    if getattr(found, "name", None) != name:
        # the class's name seeds its instances and is each spec's ``family``, which a mixture
        # looks its member up by: a registry key that differs worked alone and failed in a mixture
        raise ValueError(f"family {name!r} is registered as {target!r}, whose name is {getattr(found, 'name', None)!r}; "
                         f"valid: a TaskFamily whose name attribute is the registry key {name!r}")
    return found


class FamilyImportError(ImportError, ValueError):
    """A registered family whose ``"module:Class"`` cannot be imported in this process: an
    ``ImportError`` (it is one) and a ``ValueError`` (a registration that names no importable
    class is bad input, which every command reports by its message, as ``io.UnsupportedOperation``
    is both an ``OSError`` and a ``ValueError``)."""


def _import_target(name: str, target: str, module: str, cls: str):
    """The class ``cls`` of ``module`` (family ``name``'s ``target``); a module that cannot be
    imported, or one without that class, is a :class:`FamilyImportError` naming the family, the
    target, what failed and where a module must be for lrgym's processes to import it. Until
    2026-12-07 it was a bare ``ModuleNotFoundError`` / ``AttributeError`` traceback, in
    ``lrgym leaderboard`` and the tuner too, e.g. for a module that lay in the working directory."""
    where = ("valid: a module in a folder on sys.path that neither is nor holds the working directory (install "
             "it, or put its folder on PYTHONPATH; lrgym's workers leave such a folder out even when PYTHONPATH "
             "names it), and in $LRGYM_FAMILIES or register_family its 'package.module:ClassName'")
    try:
        found = importlib.import_module(module)
    except ImportError as exc:
        raise FamilyImportError(f"family {name!r} is registered as {target!r}, whose module cannot be imported "
                                f"here ({type(exc).__name__}: {exc}); {where}") from exc
    if not hasattr(found, cls):
        families = sorted(key for key, value in vars(found).items()
                          if isinstance(value, type) and issubclass(value, TaskFamily) and value is not TaskFamily)
        raise FamilyImportError(f"family {name!r} is registered as {target!r}, but module {module!r} has no {cls!r} "
                                f"(its TaskFamily classes: {', '.join(families) or 'none'}); {where}")
    return getattr(found, cls)


#: ``info["family"]`` of a family outside the info schema's table (:data:`MIXED_V1`) is this + the
#: CRC-32 of its name (:func:`own_family_index`): above any table index and below 2**33 (int64)
OWN_FAMILY_BASE = 1 << 32


def own_family_index(name: str) -> int:
    """``info["family"]`` of a family outside :data:`MIXED_V1` (one of your own):
    ``OWN_FAMILY_BASE + zlib.crc32(name)``, an index of its name alone, the same in every process
    (the grader's workers, Ray nodes) whatever order the families were registered in
    (:func:`lrgym.info.family_index` is the one entry point; names are ASCII, :data:`FAMILY_NAME`)."""
    import zlib

    return OWN_FAMILY_BASE + zlib.crc32(name.encode("utf-8"))


#: a family name :func:`register_family` takes: what :data:`FAMILIES_ENV` and an id's
#: :data:`ID_FAMILY_TARGET` carry to another process as it is (no ``,``, ``=`` or space)
FAMILY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def register_family(name: str, target: str, env_id: str | None = None) -> None:
    """Add family ``name`` implemented by ``target`` (``"module:Class"``, imported on first use);
    with ``env_id`` (e.g. ``"LRControl-Toy-v0"``) also register that gymnasium id for it.

    For families outside the package (inside it, add a line to :data:`FAMILIES`). The worker
    processes lrgym starts from this process (grader, tuner, references, Ray) register it too
    (:func:`families_env`); a process of your own that evaluates the family must run this, or
    have ``$LRGYM_FAMILIES`` name it. ``target``'s module must be importable there (on
    ``sys.path`` other than the working directory, which the grader's workers do not import
    from). Re-registering the same target is a no-op; another target is an error. Its episodes'
    ``info["family"]`` is :func:`lrgym.info.family_index` of ``name`` (2**32 + the CRC-32 of the
    name: stable across processes; a name whose index another registered family has is refused).
    """
    if not isinstance(name, str) or not FAMILY_NAME.fullmatch(name):
        # (a ',', '=' or a space could not reach the workers: $LRGYM_FAMILIES is 'name=module:Class,...',
        # and the workers failed at 'import lrgym' on an item they split apart)
        raise ValueError(f"family name {name!r} invalid; valid: letters, digits and _ . - (starting with a letter, "
                         "digit or _), such as 'logreg'")
    module, sep, cls = target.partition(":") if isinstance(target, str) else ("", "", "")
    if not (sep and cls.isidentifier() and all(part.isidentifier() for part in module.split("."))):
        raise ValueError(f"target {target!r} invalid; valid: 'package.module:ClassName'")
    old = FAMILIES.get(name)
    if old is not None and old.target != target:
        # (naming both: a misspelt $LRGYM_FAMILIES target, registered first, met the module's own
        # register_family, and the message named only the misspelt one, as if it were the module's)
        raise ValueError(f"family {name!r} is already registered as {old.target!r}, not {target!r}; valid: one "
                         f"target per name (the same in $LRGYM_FAMILIES and in register_family)")
    if old is None:
        index = own_family_index(name)
        clash = [other for other in FAMILIES if own_family_index(other) == index]
        if clash:  # info["family"] would not tell the two apart (a CRC-32 clash: about 1 in 4 billion)
            raise ValueError(f"family name {name!r} has the info index {index} of the registered family {clash[0]!r} "
                             "(lrgym.tasks.own_family_index: 2**32 + the CRC-32 of the name); valid: another name")
    ids = dict(old.env_ids) if old is not None else {}
    id_kwargs = {"family": name, ID_FAMILY_TARGET: f"{name}={target}"}
    if env_id is not None:
        from lrgym.registry import check_id

        check_id(env_id, id_kwargs)  # before anything is registered: a refused id leaves no half entry
        ids.setdefault(env_id, {})
    FAMILIES[name] = FamilyEntry(target, ids, mixed_v1=old.mixed_v1 if old is not None else False)
    if env_id is not None:
        from lrgym.registry import register_id

        register_id(env_id, id_kwargs)


#: the environment variable naming families from outside the package, ``name=module:Class``
#: items separated by commas; read when ``lrgym`` is imported (:func:`register_from_env`)
FAMILIES_ENV = "LRGYM_FAMILIES"
#: the families of the package itself (what :data:`FAMILIES_ENV` never needs to name)
BUILT_IN: tuple[str, ...] = tuple(FAMILIES)


def families_env() -> dict[str, str]:
    """``{FAMILIES_ENV: "name=module:Class,..."}`` naming every family registered from outside the
    package (:func:`register_family`), for the environment of a child process; ``{}`` if none."""
    items = [f"{name}={entry.target}" for name, entry in FAMILIES.items() if name not in BUILT_IN]
    return {FAMILIES_ENV: ",".join(items)} if items else {}


def register_from_env(value: str | None = None) -> None:
    """Register the families :data:`FAMILIES_ENV` names (``value``: that variable's value, by
    default read from the environment), without gymnasium ids. A malformed item is a
    ``ValueError`` naming the variable, the item and the valid form."""
    value = os.environ.get(FAMILIES_ENV, "") if value is None else value
    for item in filter(None, (part.strip() for part in value.split(","))):
        _register_item(item, f"${FAMILIES_ENV}")


def _register_item(item, where: str) -> None:
    """Register the family of one ``"name=module:Class"`` item (of ``where``, which errors name)."""
    name, sep, target = item.partition("=") if isinstance(item, str) else ("", "", "")
    if not (sep and name.strip() and target.strip()):
        raise ValueError(f"{where} item {item!r} invalid; valid: 'name=package.module:ClassName' "
                         f"items separated by commas")
    try:
        register_family(name.strip(), target.strip())
    except ValueError as exc:
        raise ValueError(f"{where} item {item!r}: {exc}") from None


def make_family(name: str, **options) -> TaskFamily:
    """A family by name, with spec overrides (e.g. ``make_family("linreg", dim=32)``)."""
    return family_class(name)(**options)


register_from_env()

__all__ = ["BUILT_IN", "FAMILIES", "FAMILIES_ENV", "FamilyImportError", "ID_FAMILY_OPTIONS", "ID_FAMILY_TARGET", "INSTANCE_SETS", "MIXED_V1", "FamilyEntry", "env_ids", "Task", "TaskFamily",
           "OWN_FAMILY_BASE", "TaskSpec", "TrainState", "families_env", "family_class", "make_family", "own_family_index",
           "register_family", "register_from_env"]
