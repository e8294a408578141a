"""Task families by name. Modules are imported on first use, so ``import lrgym`` stays quick."""

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


def make_family(name: str, **options) -> TaskFamily:
    """A family by name, with spec overrides (e.g. ``make_family("linreg", dim=32)``)."""
    return family_class(name)(**options)


__all__ = ["FAMILIES", "INSTANCE_SETS", "Task", "TaskFamily", "TaskSpec", "TrainState", "family_class", "make_family"]
