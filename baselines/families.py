"""Which task families exist, and the env keywords baselines are tuned, trained and scored on.

The families are the registry's (:data:`lrgym.tasks.FAMILIES`); ``family=None`` or ``"mixed"``
means the default env ``LRControl-v1`` (its registered keywords: the mixed family).
"""

from __future__ import annotations

from lrgym.tasks import FAMILIES

MIXED = "mixed"
DEFAULT_ENV_ID = "LRControl-v1"


def available_families() -> list[str]:
    """The single task families of the registry (``mixed`` excluded), in registry order. A family
    whose module fails to import is listed all the same: it fails where it is used, loudly."""
    return [name for name in FAMILIES if name != MIXED]


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

    return dict(ENV_IDS[DEFAULT_ENV_ID])
