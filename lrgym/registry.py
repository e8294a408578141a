"""Environment ids, the keyword arguments they stand for, and the entry point that checks them.

Bump ``-vN`` on any change of dynamics, instances, reward, features or episode length beyond rounding
(a change of rounding only keeps the id: docs/ARCHITECTURE.md, "Bump").

Every id's entry point is :func:`make_env`: it checks the keywords against
:class:`~lrgym.env.LRControlEnv`'s signature before building, so a misspelt one
(``gym.make("LRControl-v1", horizn=10)``) raises :class:`~lrgym.keywords.UnknownKeywordError`
naming it, the closest valid name and every valid one. The vector entry point, the class
:class:`~lrgym.vector.LRControlVectorEnv`, checks its own the same way. An id of your own may
register the class itself (:data:`CLASS_ENTRY_POINT`): lrgym's tools accept both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gymnasium as gym

from lrgym.keywords import check_keywords, keyword_names
from lrgym.render import RENDER_FPS, RENDER_MODES
from lrgym.tasks import env_ids, with_id_options

if TYPE_CHECKING:  # imported by make_env when it builds one: registering the ids needs no env (nor Numba)
    from lrgym.env import LRControlEnv

#: what the ids register: :func:`make_env`, LRControlEnv(**kwargs) after checking the keywords
ENTRY_POINT = "lrgym.registry:make_env"
#: the class itself, as an id of your own may register it (no keyword check before Python's)
CLASS_ENTRY_POINT = "lrgym.env:LRControlEnv"
#: ``gym.make_vec(id, num_envs=N)`` builds the batched :class:`lrgym.vector.LRControlVectorEnv`
#: (through :func:`lrgym.vector.vector_entry_point`, which merges an id's own family options)
VECTOR_ENTRY_POINT = "lrgym.vector:vector_entry_point"

#: id → the keywords its entry point :func:`make_env` takes: :class:`lrgym.env.LRControlEnv`'s,
#: and an id's own family options under :data:`lrgym.tasks.ID_FAMILY_OPTIONS` (which
#: :func:`make_env` merges into ``family_options``; ``LRControlEnv(**ENV_IDS[id])`` would refuse
#: that key: build with ``make_env(**ENV_IDS[id])``). Derived from the family registry
#: (:data:`lrgym.tasks.FAMILIES`, each entry's ``env_ids``), plus ids registered later
ENV_IDS: dict[str, dict] = env_ids()


def make_env(**kwargs: Any) -> LRControlEnv:
    """Gymnasium's ``entry_point`` of every lrgym id: ``LRControlEnv(**kwargs)``, its keywords
    checked first (:func:`~lrgym.keywords.check_keywords`)."""
    from lrgym.env import LRControlEnv

    kwargs = with_id_options(kwargs)
    check_keywords("LRControlEnv()", kwargs, keyword_names(LRControlEnv))
    return LRControlEnv(**kwargs)


#: gym.make reads the creator's render modes (to wrap "human" in its HumanRendering): the env's
#: own :attr:`~lrgym.env.LRControlEnv.metadata`, built from the same constants
#: (tests/test_render.py checks they are equal)
make_env.metadata = {"render_modes": list(RENDER_MODES), "render_fps": RENDER_FPS}


def register_all() -> None:
    """Register every id with gymnasium (idempotent)."""
    for env_id, kwargs in ENV_IDS.items():
        register_id(env_id, kwargs)


def check_id(env_id: str, kwargs: dict) -> None:
    """Refuse ``env_id`` if it is no id gymnasium takes (``[namespace/]name[-vN]``: gymnasium's
    own error came from ``gym.register``, after the id was recorded as the family's and lrgym's,
    and every later :func:`register_all` raised it again) or if it is registered already with
    other keywords, naming them: as an lrgym id, or with gymnasium as another environment
    (another package's id, ``CartPole-v1``: it was taken as the family's, and ``gym.make`` built
    the other environment)."""
    from gymnasium.envs.registration import parse_env_id

    try:
        parse_env_id(env_id)
    except (gym.error.Error, TypeError):  # malformed, or no str
        raise ValueError(f"env id {env_id!r} is malformed; valid: an id of gymnasium's form "
                         "[namespace/]name[-vN], such as 'LRControl-Toy-v0'") from None
    if ENV_IDS.get(env_id, kwargs) != kwargs:
        raise ValueError(f"env id {env_id!r} is already registered with {ENV_IDS[env_id]!r}; valid: a new id")
    taken = gym.registry.get(env_id)
    if taken is not None and (taken.entry_point not in (ENTRY_POINT, CLASS_ENTRY_POINT) or taken.kwargs != kwargs):
        raise ValueError(f"env id {env_id!r} is already registered with gymnasium as {taken.entry_point!r} with "
                         f"{taken.kwargs!r}; valid: a new id")


def register_id(env_id: str, kwargs: dict) -> None:
    """Register one id (single and vector entry points) for these env keywords (idempotent)."""
    check_id(env_id, kwargs)
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
