"""Which task families exist, and the env keywords baselines are tuned, trained and scored on.

``family=None`` or ``"mixed"`` means the default env ``LRControl-v1``'s mixed family (its
registered keywords once the id exists). While
some member families of the mixture are not implemented yet, the mixture is restricted to the
ones that import (``family_options={"members": ...}``), so every baseline runs today and picks
up new families as they land.
"""

from __future__ import annotations

import importlib

from lrgym.tasks import FAMILIES

MIXED = "mixed"
DEFAULT_ENV_ID = "LRControl-v1"


def available_families() -> list[str]:
    """Single task families whose module imports (``mixed`` excluded), in registry order."""
    out = []
    for name in FAMILIES:
        if name == MIXED:
            continue
        module = FAMILIES[name].target.split(":")[0]
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        out.append(name)
    return out


def mixed_members() -> tuple[str, ...]:
    """The members the mixed family has here (its defaults, minus families not available)."""
    from lrgym.tasks.mixture import DEFAULT_MEMBERS

    have = set(available_families())
    return tuple(m for m in DEFAULT_MEMBERS if m in have)


def family_key(family: str | None) -> str:
    """``None`` → ``"mixed"``; a family name is checked against the registry."""
    if family is None:
        return MIXED
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; valid choices: {', '.join(FAMILIES)}")
    return family


def env_kwargs_for(family: str | None) -> dict:
    """:class:`~lrgym.env.LRControlEnv` keywords of a family at its default horizon and inner steps."""
    key = family_key(family)
    if key != MIXED:
        return {"family": key}
    from lrgym.registry import ENV_IDS
    from lrgym.tasks.mixture import DEFAULT_MEMBERS

    if DEFAULT_ENV_ID in ENV_IDS:
        return dict(ENV_IDS[DEFAULT_ENV_ID])

    members = mixed_members()
    if members == tuple(DEFAULT_MEMBERS):
        return {"family": MIXED}
    return {"family": MIXED, "family_options": {"members": members}}
