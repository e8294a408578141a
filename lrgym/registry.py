"""Environment ids and the keyword arguments they stand for.

Bump ``-vN`` on any change of dynamics, reward, features or episode length.
"""

from __future__ import annotations

import gymnasium as gym

from lrgym.tasks import env_ids

ENTRY_POINT = "lrgym.env:LRControlEnv"
#: ``gym.make_vec(id, num_envs=N)`` builds the batched :class:`lrgym.vector.LRControlVectorEnv`
VECTOR_ENTRY_POINT = "lrgym.vector:LRControlVectorEnv"

#: id → kwargs of :class:`lrgym.env.LRControlEnv`: derived from the family registry
#: (:data:`lrgym.tasks.FAMILIES`, each entry's ``env_ids``), plus ids registered later
ENV_IDS: dict[str, dict] = env_ids()


def register_all() -> None:
    """Register every id with gymnasium (idempotent)."""
    for env_id, kwargs in ENV_IDS.items():
        register_id(env_id, kwargs)


def register_id(env_id: str, kwargs: dict) -> None:
    """Register one id (single and vector entry points) for these env keywords (idempotent)."""
    if ENV_IDS.get(env_id, kwargs) != kwargs:
        raise ValueError(f"env id {env_id!r} is already registered with {ENV_IDS[env_id]!r}")
    ENV_IDS[env_id] = dict(kwargs)
    if env_id in gym.registry:
        return
    gym.register(
        id=env_id,
        entry_point=ENTRY_POINT,
        vector_entry_point=VECTOR_ENTRY_POINT,
        kwargs=dict(kwargs),
        disable_env_checker=False,
    )
