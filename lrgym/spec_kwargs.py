"""The keyword arguments an env's ``EnvSpec`` records, as JSON values.

``gym.make(id, **kwargs)`` and ``gym.make_vec`` record the kwargs an env was made with in
``env.spec.kwargs``; ``env.spec.to_json()`` writes them with ``json.dumps`` and
``gym.make(EnvSpec.from_json(text))`` makes the env again. lrgym's keywords take values JSON has
no type for — ``instances=range(0, 100)`` or a NumPy array of seeds, ``factors`` as an array,
``horizon=np.int64(20)`` — and ``to_json()`` failed on them (``TypeError: Object of type range is
not JSON serializable``). The envs' ``spec`` setters (:class:`~lrgym.env.LRControlEnv`,
:class:`~lrgym.vector.LRControlVectorEnv`) record such a value as the JSON value that makes the
same env: a range or an array of numbers as a list, a NumPy number as a Python one (inside
lists, tuples and dicts too). The env is unchanged: ``env.instances`` of ``range(0, 100)``
stays that range; its spec says ``[0, 1, ..., 99]``, which makes an env of the same episodes.
A built family (``family=make_family("linreg", dim=8)``) is recorded as the name and options
that make it again (``family="linreg", family_options={"dim": 8}``: :func:`family_form`) when
they do. Other values (a family of a class of your own that no name makes, an
``OptimizerConfig``) are recorded as they were given, and so is
a range of more than :data:`MAX_LISTED_RANGE` seeds (only a slice of the ``private`` set, of
2**62 − 2**40 seeds, is that long: ``instances=range(2**40, 2**62)`` would be a list of 4.6·10^18
ints, a ``MemoryError`` in ``gym.make``; its ``to_json()`` raises ``TypeError`` as gymnasium's does).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

__all__ = ["MAX_LISTED_RANGE", "family_form", "jsonable", "jsonable_spec"]

#: the longest range :func:`jsonable` writes out as a list (every public instance set is shorter)
MAX_LISTED_RANGE = 100_000


def jsonable(value):
    """``value`` as JSON can hold it if it is a range (of at most :data:`MAX_LISTED_RANGE`), a NumPy number or an array of numbers (a
    NumPy array, a torch tensor: anything with ``__array__`` of a bool, integer or float dtype),
    looked for inside lists, tuples and dicts (of those types exactly: a subclass, such as the
    ``OrderedDict`` a ``task_cache`` must be, is kept as it is); anything else as it is."""
    if isinstance(value, range):
        try:
            return list(value) if len(value) <= MAX_LISTED_RANGE else value
        except OverflowError:  # (longer than sys.maxsize)
            return value
    if isinstance(value, np.generic):
        return value.item() if value.dtype.kind in "biuf" else value
    if isinstance(value, dict):  # (a dict subclass as it is: task_cache must stay an OrderedDict)
        return {k: jsonable(v) for k, v in value.items()} if type(value) is dict else value
    if isinstance(value, (list, tuple)):
        return type(value)(jsonable(v) for v in value) if type(value) in (list, tuple) else value
    if hasattr(value, "__array__") and not isinstance(value, (str, bytes)):
        try:
            array = np.asarray(value)
        except (TypeError, ValueError, RuntimeError):  # (a torch tensor that needs grad)
            return value
        if array.dtype.kind in "biuf":
            return array.tolist()
    return value


def family_form(kwargs: dict) -> dict:
    """``kwargs`` with a built family (``family=make_family("linreg", dim=8)``, a
    :class:`~lrgym.tasks.base.TaskFamily`) as its name and spec overrides
    (``family="linreg", family_options={"dim": 8}``) when those are JSON values and make the
    family again: a family of the class registered under its name
    (:func:`lrgym.tasks.family_class`), rebuilt from its JSON-written options with the same
    overrides. Else (a class of your own, a subclass) ``kwargs`` as they are: gymnasium's
    ``to_json`` then raises its ``TypeError`` naming the family's class."""
    from lrgym.tasks import family_class
    from lrgym.tasks.base import TaskFamily

    family = kwargs.get("family")
    if not isinstance(family, TaskFamily) or kwargs.get("family_options"):
        return kwargs
    try:
        options = json.loads(json.dumps(jsonable(dict(family.overrides))))
        again = family_class(family.name)(**options)
        same = type(again) is type(family) and jsonable(dict(again.overrides)) == jsonable(dict(family.overrides))
    except (TypeError, ValueError):  # (no JSON form, no registered name, options the class refuses)
        return kwargs
    return {**kwargs, "family": family.name, "family_options": options} if same else kwargs


def jsonable_spec(spec):
    """``spec`` with :func:`jsonable` kwargs (a built family as :func:`family_form` records it):
    a new ``EnvSpec`` (the one given is not changed); None or a spec without a kwargs dict as it is."""
    if spec is None or not isinstance(getattr(spec, "kwargs", None), dict):
        return spec
    return dataclasses.replace(spec, kwargs=jsonable(family_form(spec.kwargs)))
