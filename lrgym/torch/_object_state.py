"""An object's state as ``pickle`` reads and writes it (``__getstate__`` / ``__setstate__``),
without pickling: how :mod:`lrgym.torch.checkpoint` stores a plain helper object's attributes and
loads them back into the live object (never constructing one)."""

from __future__ import annotations

from lrgym.torch._checkpoint_format import RestoreError


def get_object_state(obj):
    """What ``pickle`` stores of ``obj``: ``obj.__getstate__()`` (Python ≥ 3.11 gives every object
    one: its ``__dict__``, ``None`` when that is empty, ``(dict, slots)`` with ``__slots__``), or on
    Python 3.10 a class's own ``__getstate__`` else a copy of ``__dict__``."""
    getstate = getattr(obj, "__getstate__", None)
    if getstate is not None:
        return getstate()
    return dict(vars(obj)) if hasattr(obj, "__dict__") else None


def set_object_state(obj, state) -> None:
    """Restore ``state`` (from :func:`get_object_state`) into ``obj`` as ``pickle`` would:
    ``obj.__setstate__(state)`` if the class has one, else ``None`` → nothing, a dict → its
    ``__dict__`` updated, ``(dict, slots)`` → both."""
    if getattr(type(obj), "__setstate__", None) is not None:
        obj.__setstate__(state)
        return
    if state is None:
        return
    slots = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    if state:
        if not isinstance(state, dict):
            raise TypeError(f"cannot restore a {type(obj).__name__} from a state of type {type(state).__name__}; "
                            "valid: None, a dict, or (dict, slots), or a class with __setstate__")
        obj.__dict__.update(state)
    for name, value in (slots or {}).items():
        object.__setattr__(obj, name, value)


def check_object_state(live, state, where: str) -> None:
    """``state`` is one :func:`set_object_state` loads into ``live`` (a class of its own
    ``__setstate__`` checks its own)."""
    if getattr(type(live), "__setstate__", None) is not None or state is None or isinstance(state, dict):
        return
    if isinstance(state, tuple) and len(state) == 2 and (state[0] is None or isinstance(state[0], dict)) \
            and (state[1] is None or isinstance(state[1], dict)):
        return
    raise RestoreError(f"cannot restore {where}: a {type(live).__name__} from a state of type {type(state).__name__}; "
                       "valid: None, a dict, or (dict, slots)")
