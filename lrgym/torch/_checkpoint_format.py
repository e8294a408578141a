"""What a checkpoint of :mod:`lrgym.torch.checkpoint` may hold and how its records are spelled:
the vocabulary that :mod:`~lrgym.torch._checkpoint_save` writes and
:mod:`~lrgym.torch._checkpoint_restore` reads.

A stored value is either data ``torch.load(weights_only=True)`` reads as it is (:data:`PLAIN`,
:data:`TORCH_PLAIN`, tensors, containers of them) or a *record*: a dict ``{TAG: kind, ...}`` whose
fields :data:`RECORDS` lists, one line per kind, which is also what an error about a forged
record says is valid. Nothing here walks a value or touches a live object.
"""

from __future__ import annotations

import functools
import types
from collections import Counter, OrderedDict, defaultdict, deque

import numpy as np
import torch

from lrgym.brief import brief


#: the key that marks a stored non-data value (a dict of the policy's own may not use it)
TAG = "__lrgym__"

PLAIN = (type(None), bool, int, float, complex, str, bytes)
#: NumPy dtype kinds stored: bool, signed / unsigned int, float, complex (arrays); + str, bytes (scalars)
ARRAY_KINDS = "biufc"
SCALAR_KINDS = "biufcUS"
#: torch values that ``torch.load(weights_only=True)`` reads as they are (a module's ``self.device``)
TORCH_PLAIN = (torch.device, torch.dtype, torch.Size)
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
#: objects that are code or handles, not state
NOT_DATA = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType,
             functools.partial)
#: torch objects whose state only their own ``state_dict()`` reads (an optimizer's is keyed by its
#: parameters' order, an LR scheduler's holds its optimizer): stored through it, loaded into the live
#: one with ``load_state_dict()``, as torch checkpoints them (a policy training a small net of its own)
TORCH_STATEFUL = (torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler)
#: the mutable containers a policy's attributes may share (met again: stored as a reference, :class:`Memo`)
SHARED_CONTAINERS = (list, deque, set, dict, OrderedDict, Counter, defaultdict)
#: the ``default_factory`` a stored ``defaultdict`` may have (besides None), by :func:`class_name`:
#: types that make an empty value of themselves. Restored from this table, never imported; a
#: factory of one's own (``lambda: defaultdict(int)``) is code: stored by name, restored as the
#: live defaultdict's factory at the same place (:func:`live_factory`)
DEFAULT_FACTORIES = {f"{cls.__module__}.{cls.__qualname__}": cls
                     for cls in (list, dict, set, frozenset, tuple, int, float, complex, bool, str, bytes,
                                 Counter, OrderedDict, deque)}

VALID = ("valid: numbers, str, bytes, None; lists, tuples, deques, dicts (OrderedDict, Counter, defaultdict) "
          "and sets of them; ranges, Fractions, enum members; NumPy arrays, scalars and dtypes; "
          "torch tensors and modules; pathlib paths; NumPy, `random` and torch generators; objects made of these. "
          "Otherwise give the policy state_dict() and load_state_dict(state) methods")

#: each record :func:`to_checkpoint` writes (``{TAG: kind, ...}``) as it is: what a forged one's
#: error says is valid
RECORDS = {
    "numpy": "{'__lrgym__': 'numpy', 'dtype': the str of a numeric, bool, str or bytes dtype ('<f8'), "
             "'value': its value}",
    "ndarray": "{'__lrgym__': 'ndarray', 'data': a tensor of a numeric or bool dtype}",
    "path": "{'__lrgym__': 'path', 'value': a str}",
    "frozenset": "{'__lrgym__': 'frozenset', 'items': a list of numbers, str, bytes, None, tuples}",
    "range": "{'__lrgym__': 'range', 'start': int, 'stop': int, 'step': a nonzero int}",
    "fraction": "{'__lrgym__': 'fraction', 'numerator': int, 'denominator': a nonzero int}",
    "dtype": "{'__lrgym__': 'dtype', 'str': a NumPy dtype's str such as '<f4'}",
    "enum": "{'__lrgym__': 'enum', 'class': 'pkg.mod.Name', 'name': a member's name (or 'value')}",
    "counter": "{'__lrgym__': 'counter', 'items': a dict}",
    "defaultdict": "{'__lrgym__': 'defaultdict', 'factory': a factory's name or None, 'items': a dict}",
    "deque": "{'__lrgym__': 'deque', 'items': a list, 'maxlen': an int >= 0 or None}",
    "generator": "{'__lrgym__': 'generator', 'state': a NumPy bit generator's state (bit_generator.state)}",
    "random_state": "{'__lrgym__': 'random_state', 'state': np.random.RandomState's get_state(legacy=False)}",
    "py_random": "{'__lrgym__': 'py_random', 'state': random.Random's getstate()}",
    "torch_generator": "{'__lrgym__': 'torch_generator', 'device': 'cpu' (a device), 'state': its get_state() tensor}",
    "torch_state_dict": "{'__lrgym__': 'torch_state_dict', 'class': 'torch.optim.adam.Adam', "
                        "'state': its state_dict()}",
    "module": "{'__lrgym__': 'module', 'class': 'pkg.mod.Net', 'numbered': True (numbered as shared: an older "
              "lrgym's record has none), 'training': bool, 'other_modes': {submodule name: "
              "bool}, 'state': its state_dict(), "
              "'attributes': {submodule name: {attribute: value}}}",
    "ref": "{'__lrgym__': 'ref', 'index': the index of a value restored before}",
    "object": "{'__lrgym__': 'object', 'class': 'pkg.mod.Name', 'numbered': True (numbered as shared: an older "
              "lrgym's record has none), 'state': its __getstate__()}",
}


def named(name) -> str:
    """A stored name (a class's, a submodule's) as an error message says it: as it is when it is a
    str of at most 80 characters, else :func:`~lrgym.brief.brief` (a forged one may be anything)."""
    return name if type(name) is str and len(name) <= 80 else brief(name)


class RestoreError(ValueError):
    """A checkpoint that cannot be restored, said with where in the policy and what is valid (a
    forged record's bare ``TypeError`` / ``ZeroDivisionError`` becomes one:
    :func:`~lrgym.torch._checkpoint_restore.restore_plan`)."""


def class_name(cls: type) -> str:
    """``package.module.Qualname`` of a class: how a checkpoint names the class of a stored object."""
    return f"{cls.__module__}.{cls.__qualname__}"


def too_wide(dtype: np.dtype) -> bool:
    """``np.longdouble`` / ``np.clongdouble``: wider than a Python float or a torch dtype."""
    return dtype.kind in "fc" and dtype.itemsize > (8 if dtype.kind == "f" else 16)
