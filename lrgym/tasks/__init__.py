"""Task families by name. Modules are imported on first use, so ``import lrgym`` stays quick.

A new family is three things: its module (a :class:`~lrgym.tasks.base.TaskFamily` subclass and
its :class:`~lrgym.tasks.base.Task`; ``lrgym/tasks/<name>.py``), its tests (the family contract
test in ``tests/tasks/test_family_contract.py`` runs over every registered family by itself),
and one registry line: an entry of :data:`FAMILIES` here, or, from outside the package,
:func:`register_family` (which can also give it a gymnasium id). Everything else (the env, the
vector env, gymnasium ids, SB3's ``make_vec_env``, the baselines, tuning, a leaderboard suite
that names the family) takes the family by name. Which families the mixed env ``LRControl-v1``
and the leaderboard's frozen suites contain are versioned decisions, made in
:mod:`lrgym.tasks.mixture` and :mod:`lrgym.leaderboard.suite`, never implied by registering.
"""

from __future__ import annotations

import importlib

from lrgym.tasks.base import INSTANCE_SETS, Task, TaskFamily, TaskSpec, TrainState

#: family name → "module:Class"
FAMILIES: dict[str, str] = {
    "linreg": "lrgym.tasks.linreg:LinRegFamily",
    "quadratic": "lrgym.tasks.quadratic:QuadraticFamily",
    "mlp": "lrgym.tasks.mlp:MLPFamily",
    "recsys": "lrgym.tasks.recsys:RecsysFamily",
    "mixed": "lrgym.tasks.mixture:MixtureFamily",
}


def family_class(name: str) -> type[TaskFamily]:
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; valid choices: {', '.join(FAMILIES)}")
    module, cls = FAMILIES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def register_family(name: str, target: str, env_id: str | None = None) -> None:
    """Add family ``name`` implemented by ``target`` (``"module:Class"``, imported on first use);
    with ``env_id`` (e.g. ``"LRControl-Toy-v0"``) also register that gymnasium id for it.

    For families outside the package (inside it, add a line to :data:`FAMILIES`). A process that
    evaluates the family must run this too (e.g. in the module that defines it, or in the
    policy's module). Re-registering the same target is a no-op; another target is an error.
    """
    if FAMILIES.get(name, target) != target:
        raise ValueError(f"family {name!r} is already registered as {FAMILIES[name]!r}")
    module, sep, cls = target.partition(":")
    if not (module and sep and cls):
        raise ValueError(f"target {target!r} invalid; valid: 'package.module:ClassName'")
    FAMILIES[name] = target
    if env_id is not None:
        from lrgym.registry import register_id

        register_id(env_id, {"family": name})


def make_family(name: str, **options) -> TaskFamily:
    """A family by name, with spec overrides (e.g. ``make_family("linreg", dim=32)``)."""
    return family_class(name)(**options)


__all__ = ["FAMILIES", "INSTANCE_SETS", "Task", "TaskFamily", "TaskSpec", "TrainState", "family_class", "make_family",
           "register_family"]
