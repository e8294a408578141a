"""A ``defaultdict``'s ``default_factory`` in a checkpoint: code, so stored by name only and found
again either in the fixed table :data:`~lrgym.torch._checkpoint_format.DEFAULT_FACTORIES` or as
the factory of the live policy's defaultdict at the same place; never imported from the file."""

from __future__ import annotations

import types
from collections import defaultdict

from lrgym.brief import brief
from lrgym.torch._checkpoint_format import DEFAULT_FACTORIES, RestoreError


def factory_name(factory, where: str) -> str | None:
    """A ``defaultdict``'s ``default_factory`` by name: None, a :data:`DEFAULT_FACTORIES` type, or
    code of the policy's own — a function holding no variables (a ``def``, a lambda over no
    variable), a class, a builtin — by its qualified name (restored from the live policy, as
    pickle names a function, but never imported: :func:`live_factory`). A closure, a
    ``functools.partial``, a bound method or a callable object hold state of their own: refused."""
    if factory is None:
        return None
    name = f"{getattr(factory, '__module__', None)}.{getattr(factory, '__qualname__', type(factory).__name__)}"
    if DEFAULT_FACTORIES.get(name) is factory or isinstance(factory, (type, types.BuiltinFunctionType)) or (
            isinstance(factory, types.FunctionType) and factory.__closure__ is None):
        return name
    raise TypeError(
        f"cannot checkpoint {where}: a defaultdict whose default_factory is {factory!r}, which holds state of its own "
        "(a closure over a variable, a functools.partial, a bound method or a callable object). A checkpoint stores "
        "no code: a factory is stored by its name and found again as the factory of the policy's own defaultdict at "
        "the same place, so it must be a builtin type (None, "
        f"{', '.join(c.__name__ for c in DEFAULT_FACTORIES.values())}), a function holding no variables (a def, "
        "a lambda over no variable: lambda: defaultdict(int)) or a class. Otherwise give the policy state_dict() "
        "and load_state_dict(state) methods")


def live_factory(name, live, where: str):
    """The ``default_factory`` stored as ``name`` (:func:`factory_name`): from the fixed table, or
    the live defaultdict's at the same place if its name is ``name``; never imported."""
    if name is None or type(name) is str and name in DEFAULT_FACTORIES:
        return None if name is None else DEFAULT_FACTORIES[name]
    factory = live.default_factory if type(live) is defaultdict else None
    if factory is not None and type(name) is str and _factory_name_or_none(factory) == name:
        return factory
    now = ("nothing" if live is None else f"a defaultdict whose default_factory is {factory!r}"
           if type(live) is defaultdict else f"a {type(live).__name__}")
    raise RestoreError(
        f"cannot restore {where}: the checkpoint holds a defaultdict whose default_factory is {brief(name)} there, "
        f"this policy has {now}. A factory of the policy's own is taken from the policy's defaultdict at the same "
        "place, never imported from the file: build the policy the same way as the one that was saved. A "
        "defaultdict made during the run (a value another defaultdict's factory made) has none there: give it a builtin factory "
        f"({', '.join(c.__name__ for c in DEFAULT_FACTORIES.values())}), or the policy state_dict() and "
        "load_state_dict(state) methods")


def _factory_name_or_none(factory):
    try:
        return factory_name(factory, "")
    except TypeError:
        return None
