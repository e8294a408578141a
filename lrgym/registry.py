"""Environment ids and the keyword arguments they stand for.

Bump ``-vN`` on any change of dynamics, reward, features or episode length.
"""

from __future__ import annotations

import gymnasium as gym

ENTRY_POINT = "lrgym.env:LRControlEnv"
#: ``gym.make_vec(id, num_envs=N)`` builds the batched :class:`lrgym.vector.LRControlVectorEnv`
VECTOR_ENTRY_POINT = "lrgym.vector:LRControlVectorEnv"

#: id → kwargs of :class:`lrgym.env.LRControlEnv`
ENV_IDS: dict[str, dict] = {
    "LRControl-LinReg-v1": {"family": "linreg"},
    "LRControl-Quadratic-v1": {"family": "quadratic"},
    "LRControl-MLP-v1": {"family": "mlp"},
    "LRControl-Digits-v1": {"family": "mlp", "family_options": {"dataset": "digits"}},
    "LRControl-BreastCancer-v1": {"family": "mlp", "family_options": {"dataset": "breast_cancer"}},
    "LRControl-Recsys-v1": {"family": "recsys"},
    "LRControl-v1": {"family": "mixed"},
}


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
