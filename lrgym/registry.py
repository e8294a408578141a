"""Environment ids, the keyword arguments they stand for, and the entry points that check them.

Bump ``-vN`` on any change of dynamics, reward, features or episode length.

:func:`make_env` and :func:`make_vector_env` check the keywords against the signature of the
class they build before building it: a misspelt one (``horizn=10``) raises
:class:`UnknownKeywordError` naming it, the closest valid name and every valid one, where Python
would say only ``__init__() got an unexpected keyword argument 'horizn'``. They are meant to be
the ids' entry points (:data:`CHECKED_ENTRY_POINT`, :data:`CHECKED_VECTOR_ENTRY_POINT`); the ids
still register the classes themselves until ``lrgym.sb3`` (``_lrgym_spec``, which recognises an
lrgym id by its entry point) accepts the checked ones too, so that an id of the user's own
registered with ``"lrgym.env:LRControlEnv"`` keeps working there.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any, Callable, Iterable

import gymnasium as gym

from lrgym.env import LRControlEnv
from lrgym.tasks import env_ids

#: what the ids register: the class every id builds (an id of your own may register it too)
ENTRY_POINT = "lrgym.env:LRControlEnv"
#: ``gym.make_vec(id, num_envs=N)`` builds the batched :class:`lrgym.vector.LRControlVectorEnv`
VECTOR_ENTRY_POINT = "lrgym.vector:LRControlVectorEnv"
#: :func:`make_env`: LRControlEnv(**kwargs) after checking the keywords (see the module docstring)
CHECKED_ENTRY_POINT = "lrgym.registry:make_env"
#: :func:`make_vector_env`: LRControlVectorEnv(num_envs, **kwargs) after checking the keywords
CHECKED_VECTOR_ENTRY_POINT = "lrgym.registry:make_vector_env"

#: id → kwargs of :class:`lrgym.env.LRControlEnv`: derived from the family registry
#: (:data:`lrgym.tasks.FAMILIES`, each entry's ``env_ids``), plus ids registered later
ENV_IDS: dict[str, dict] = env_ids()


class UnknownKeywordError(TypeError, ValueError):
    """A keyword argument the callee does not take. A ``TypeError``, as Python's own error for it
    is (gymnasium's ``make`` catches that and re-raises ``type(e)(message)``: keep the one-string
    constructor), and a ``ValueError``, as lrgym's other argument errors are."""


def keyword_names(*callables: Callable) -> list[str]:
    """The names ``callables`` take as keywords, in signature order, first callable first
    (``self``, ``*args`` and ``**kwargs`` are not names; a class gives its ``__init__``'s)."""
    names: list[str] = []
    for fn in callables:
        for name, p in inspect.signature(fn).parameters.items():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in names:
                names.append(name)
    return names


def check_keywords(what: str, given: Iterable[str], valid: Iterable[str]) -> None:
    """Raise :class:`UnknownKeywordError` if a name in ``given`` is not in ``valid``::

        check_keywords("LRControlEnv", ["horizn"], keyword_names(LRControlEnv))
        # UnknownKeywordError: LRControlEnv has no keyword 'horizn' (did you mean 'horizon'?);
        #   valid: family, family_options, instance_set, ...
    """
    valid = list(valid)
    unknown = [k for k in given if k not in valid]
    if not unknown:
        return
    hints = []
    for k in unknown:
        close = difflib.get_close_matches(str(k), valid, n=1)
        hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    noun = "keyword" if len(unknown) == 1 else "keywords"
    raise UnknownKeywordError(f"{what} has no {noun} {', '.join(hints)}; valid: {', '.join(valid) or 'none'}")


def make_env(**kwargs: Any):
    """Gymnasium's ``entry_point`` of every lrgym id: ``LRControlEnv(**kwargs)``, its keywords
    checked first (:func:`check_keywords`)."""
    check_keywords("LRControlEnv", kwargs, keyword_names(LRControlEnv))
    return LRControlEnv(**kwargs)


#: gym.make reads the creator's render modes (to wrap "human" in its HumanRendering)
make_env.metadata = LRControlEnv.metadata


def make_vector_env(num_envs: int = 1, **kwargs: Any):
    """Gymnasium's ``vector_entry_point`` of every lrgym id: ``LRControlVectorEnv(num_envs,
    **kwargs)``, its keywords checked first: the vector env's own and those it passes to its
    sub-environments' settings (LRControlEnv's; the vector env refuses those it cannot honour)."""
    from lrgym.vector import LRControlVectorEnv  # imported when first used: gym.make never needs it

    check_keywords("LRControlVectorEnv", kwargs, keyword_names(LRControlVectorEnv, LRControlEnv))
    return LRControlVectorEnv(num_envs=num_envs, **kwargs)


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
