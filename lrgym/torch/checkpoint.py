"""Policy and scheduler state as plain data that ``torch.load`` reads with ``weights_only=True``.

Since torch 2.6, ``torch.load`` only unpickles *data* by default: numbers, strings, bytes,
``None``, lists, tuples, dicts, sets and tensors. lrgym's policies and its training monitor keep
NumPy arrays and NumPy scalars, some keep small helper objects (the Q-learner's discretiser), a
path (the SB3 agents) or a random generator. :func:`to_checkpoint` turns such a value into data
of the allowed kinds, :func:`from_checkpoint` turns it back, bit for bit:

=================================  ===============================================================
value                              stored as
=================================  ===============================================================
None, bool, int, float, complex,   itself
str, bytes, ``torch.Tensor``,
``torch.device``, ``torch.dtype``,
``torch.Size``
list, tuple, dict, OrderedDict,    the same container of stored items (dict keys and set items:
set                                numbers, strings, bytes, None, enum members or tuples of them;
                                   a member as ``("__lrgym__", "enum", module, qualname, "name",
                                   "A")``, found in the class of a live key, else of a module
                                   imported already, by name: never imported from the file)
``collections.deque``              ``{"__lrgym__": "deque", "items": [...], "maxlen": n}`` (a
                                   frame stack's ``deque(maxlen=n)``)
``collections.Counter``            ``{"__lrgym__": "counter", "items": {...}}``
``collections.defaultdict``        ``{"__lrgym__": "defaultdict", "factory": "builtins.list",
                                   "items": {...}}``: its ``default_factory`` by name, one of
                                   :data:`DEFAULT_FACTORIES` (``list``, ``int``, ``float``, ...)
                                   or None; a factory of the policy's own code (a function
                                   without a closure, a lambda over no variable, a class) by
                                   its qualified name, found again as the factory of the live
                                   defaultdict at the same place; a closure is refused
``enum.Enum`` member               ``{"__lrgym__": "enum", "class": "pkg.mod.Mode", "name": "A"}``
                                   (a combined ``Flag``: its ``"value"``), found again in the
                                   live member's class
``range``, ``fractions.Fraction``  ``{"__lrgym__": "range", "start": 0, "stop": 9, "step": 3}``,
                                   ``{"__lrgym__": "fraction", "numerator": 1, "denominator": 3}``
``np.dtype``                       ``{"__lrgym__": "dtype", "str": "<f4"}`` (not a structured dtype)
``np.ndarray`` (numeric or bool)   ``{"__lrgym__": "ndarray", "data": tensor}`` (same dtype)
NumPy scalar (``np.float64`` …)    ``{"__lrgym__": "numpy", "dtype": "<f8", "value": 0.5}``
``pathlib`` path                   ``{"__lrgym__": "path", "value": "/the/path"}``
``np.random.Generator``,           the generator's state (``bit_generator.state``,
``np.random.RandomState``,         ``get_state()``, ``getstate()``)
``random.Random``
``torch.Generator``                ``{"__lrgym__": "torch_generator", "device": "cpu",
                                   "state": generator.get_state()}`` (a uint8 tensor)
``torch.nn.Module``                ``{"__lrgym__": "module", "state": module.state_dict(),
                                   "attributes": ...}``: its parameters and buffers, and the
                                   attributes of its own and of its submodules whose class is
                                   not torch's (a step counter, an array: what
                                   ``state_dict()`` leaves out; code — a function without a
                                   closure, a builtin, a class — is construction, not stored)
``torch.optim`` optimizer,         ``{"__lrgym__": "torch_state_dict", "class": "torch.optim.adam.Adam",
LR scheduler                       "state": optimizer.state_dict()}``, loaded with the live one's
                                   ``load_state_dict()`` (a policy training a net of its own)
a value met before (shared)        ``{"__lrgym__": "ref", "index": n}``: the container, array,
                                   tensor or object met n-th in the walk (:class:`_Memo`), so
                                   what shared one object shares it again after a load
any other object                   ``{"__lrgym__": "object", "class": "pkg.mod.Name",
                                   "state": ...}``: the stored ``__getstate__()`` (its
                                   ``__dict__`` unless the class says otherwise)
=================================  ===============================================================

Objects, modules, optimizers, generators, enum members and tensors are restored **in place**, the way
``nn.Module.load_state_dict`` restores parameters: :func:`from_checkpoint` gets the live value
at the same place (``live``) and loads the stored state into it, so the policy you pass to a
new scheduler must be built like the one that was saved (same class, same helper objects, an
enum member where the saved one had one; its other attributes are overwritten). All or
nothing: :func:`restore_plan` builds and checks everything before it loads anything. No class is
ever imported or constructed from a checkpoint, which is what keeps it safe to load: an enum
member is looked up in the live member's class, a ``defaultdict``'s factory in a fixed table
or, the policy's own, in the live defaultdict at the same place.

Anything else — functions, lambdas, open files, locks, classes with their own pickling
(``__reduce__``) — raises ``TypeError`` naming where it sits (``policy.schedule``,
``policy.memory['x'][2]``): such a policy gives itself ``state_dict()`` and
``load_state_dict(state)`` methods (the PyTorch convention; their values may be anything from
the table), and the scheduler saves what those return instead.
"""

from __future__ import annotations

import copy
import enum
import fractions
import functools
import pathlib
import random
import sys
import types
from collections import Counter, OrderedDict, defaultdict, deque

import numpy as np
import torch

from lrgym.brief import brief

__all__ = ["DEFAULT_FACTORIES", "TAG", "class_name", "from_checkpoint", "get_object_state", "restore_plan",
           "set_object_state", "to_checkpoint"]

#: the key that marks a stored non-data value (a dict of the policy's own may not use it)
TAG = "__lrgym__"

_PLAIN = (type(None), bool, int, float, complex, str, bytes)
#: NumPy dtype kinds stored: bool, signed / unsigned int, float, complex (arrays); + str, bytes (scalars)
_ARRAY_KINDS = "biufc"
_SCALAR_KINDS = "biufcUS"
#: torch values that ``torch.load(weights_only=True)`` reads as they are (a module's ``self.device``)
_TORCH_PLAIN = (torch.device, torch.dtype, torch.Size)
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
#: objects that are code or handles, not state
_NOT_DATA = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType,
             functools.partial)
#: torch objects whose state only their own ``state_dict()`` reads (an optimizer's is keyed by its
#: parameters' order, an LR scheduler's holds its optimizer): stored through it, loaded into the live
#: one with ``load_state_dict()``, as torch checkpoints them (a policy training a small net of its own)
_TORCH_STATEFUL = (torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler)
#: the mutable containers a policy's attributes may share (met again: stored as a reference, :class:`_Memo`)
_SHARED_CONTAINERS = (list, deque, set, dict, OrderedDict, Counter, defaultdict)
#: the ``default_factory`` a stored ``defaultdict`` may have (besides None), by :func:`class_name`:
#: types that make an empty value of themselves. Restored from this table, never imported; a
#: factory of one's own (``lambda: defaultdict(int)``) is code: stored by name, restored as the
#: live defaultdict's factory at the same place (:func:`_live_factory`)
DEFAULT_FACTORIES = {f"{cls.__module__}.{cls.__qualname__}": cls
                     for cls in (list, dict, set, frozenset, tuple, int, float, complex, bool, str, bytes,
                                 Counter, OrderedDict, deque)}

_VALID = ("valid: numbers, str, bytes, None; lists, tuples, deques, dicts (OrderedDict, Counter, defaultdict) "
          "and sets of them; ranges, Fractions, enum members; NumPy arrays, scalars and dtypes; "
          "torch tensors and modules; pathlib paths; NumPy, `random` and torch generators; objects made of these. "
          "Otherwise give the policy state_dict() and load_state_dict(state) methods")

#: each record :func:`to_checkpoint` writes (``{TAG: kind, ...}``) as it is: what a forged one's
#: error says is valid
_RECORDS = {
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
    "module": "{'__lrgym__': 'module', 'class': 'pkg.mod.Net', 'training': bool, 'state': its state_dict(), "
              "'attributes': {submodule name: {attribute: value}}}",
    "ref": "{'__lrgym__': 'ref', 'index': the index of a value restored before}",
    "object": "{'__lrgym__': 'object', 'class': 'pkg.mod.Name', 'state': its __getstate__()}",
}


_FLAG_NEEDS_LIVE_KEY = " (a combined Flag: a live key of its class is needed)"


def _named(name) -> str:
    """A stored name (a class's, a submodule's) as an error message says it: as it is when it is a
    str of at most 80 characters, else :func:`~lrgym.brief.brief` (a forged one may be anything)."""
    return name if type(name) is str and len(name) <= 80 else brief(name)


class _RestoreError(ValueError):
    """A checkpoint that cannot be restored, said with where in the policy and what is valid (a
    forged record's bare ``TypeError`` / ``ZeroDivisionError`` becomes one: :func:`_restore`)."""


#: what every ``nn.Module`` keeps in its ``__dict__`` (parameters, buffers, submodules, hooks, the
#: training mode): saved by ``state_dict()`` or rebuilt with the module, none of its own attributes
_MODULE_BOOKKEEPING = frozenset(vars(torch.nn.Module())) | {"_compiled_call_impl"}


def _module_attributes(module: torch.nn.Module, where: str, stack: tuple, memo) -> dict:
    """The attributes ``state_dict()`` leaves out, by submodule name (``""``: the module itself):
    those of every module in ``module`` whose class is not torch's (user code: a step counter, a
    NumPy array, a helper object), each stored by :func:`to_checkpoint` (a value that is not data
    raises ``TypeError`` naming it). A torch module's attributes (``nn.Linear``'s
    ``in_features``, an LSTM's weight references) are its construction, built again with it."""
    stored = {}
    for name, sub in module.named_modules():
        if type(sub).__module__.split(".")[0] == "torch":
            continue
        path = f"{where}.{name}" if name else where
        attributes = {key: to_checkpoint(value, f"{path}.{key}", stack, memo)
                      for key, value in vars(sub).items() if key not in _MODULE_BOOKKEEPING and not _is_code(value)}
        if attributes:
            stored[name] = attributes
    return stored


def _is_code(value) -> bool:
    """A module's attribute that is code, not state: a function holding no variables
    (``self.activation = F.relu``), a builtin (``torch.tanh``), a class or a Python module. It is
    the module's construction, as a torch module's attributes are (not stored: built again with
    the module). A closure (a lambda over a variable) may hold state, and is refused as usual. A
    logger (``self.log = logging.getLogger(__name__)``) is found again by its name: construction too."""
    import logging

    if isinstance(value, types.FunctionType):
        return value.__closure__ is None
    return isinstance(value, (types.BuiltinFunctionType, type, types.ModuleType, logging.Logger))


def class_name(cls: type) -> str:
    """``package.module.Qualname`` of a class: how a checkpoint names the class of a stored object."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _too_wide(dtype: np.dtype) -> bool:
    """``np.longdouble`` / ``np.clongdouble``: wider than a Python float or a torch dtype."""
    return dtype.kind in "fc" and dtype.itemsize > (8 if dtype.kind == "f" else 16)


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


class _Memo:
    """The containers, arrays, tensors and objects met so far in one :func:`to_checkpoint` /
    :func:`from_checkpoint` walk, numbered in the order met (the walks visit the same values in
    the same order): a value met again is stored as ``{"__lrgym__": "ref", "index": n}`` and comes
    back as the object restored at ``n``, so two attributes sharing one dict, list or helper still
    share it after a load (as pickle's memo keeps them). The values are kept alive while the walk
    runs: no temporary's ``id`` is taken by another."""

    def __init__(self):
        self.seen: dict[int, int] = {}  # id -> index (saving)
        self.kept: list = []  # the values numbered, alive (saving)
        self.restored: dict[int, object] = {}  # index -> the value restored there (loading)
        self.count = 0
        self.actions: list = []  # what loads the restored values into the live objects (loading: restore_plan)

    def fresh(self) -> _Memo:
        """A walk of its own (a module's, an optimizer's or a generator's state: numbered apart),
        adding to the same actions."""
        memo = _Memo()
        memo.actions = self.actions
        return memo

    def ref(self, value) -> dict | None:
        """The reference to ``value`` if the walk met it before; else None, and ``value`` is numbered."""
        index = self.seen.get(id(value))
        if index is not None:
            return {TAG: "ref", "index": index}
        self.seen[id(value)] = self.count
        self.kept.append(value)
        self.count += 1
        return None

    def reserve(self) -> int:
        """The number of the value being restored (the one it had when saved)."""
        self.count += 1
        return self.count - 1

    def restore(self, index: int, value):
        self.restored[index] = value
        return value

    def resolve(self, stored: dict, where: str):
        index = stored.get("index")
        if type(index) is not int or index not in self.restored:
            raise _RestoreError(f"cannot restore {where}: a reference to value {brief(index)}, which the checkpoint "
                                f"did not hold before it; valid: an index of a value restored before "
                                f"({len(self.restored)})")
        return self.restored[index]


def to_checkpoint(value, where: str = "value", _stack: tuple = (), _memo: _Memo | None = None):
    """``value`` as data that ``torch.load(weights_only=True)`` reads (the module docstring's
    table); arrays and tensors are copies. ``where`` names the value in errors. A container,
    array, tensor or object met twice is stored the second time as a reference to the first
    (:class:`_Memo`): what the policy shares stays shared."""
    memo = _Memo() if _memo is None else _memo
    if type(value) in _PLAIN or type(value) in _TORCH_PLAIN:
        return value
    if isinstance(value, np.generic):
        if value.dtype.kind not in _SCALAR_KINDS or _too_wide(value.dtype):
            raise TypeError(f"cannot checkpoint {where}: a NumPy {value.dtype} scalar; {_VALID}")
        return {TAG: "numpy", "dtype": value.dtype.str, "value": value.item()}
    if isinstance(value, np.ndarray):
        if type(value) is not np.ndarray or value.dtype.kind not in _ARRAY_KINDS or _too_wide(value.dtype):
            raise TypeError(f"cannot checkpoint {where}: a {type(value).__name__} of dtype {value.dtype}; "
                            f"valid: a numeric or bool np.ndarray. {_VALID}")
        native = value.astype(value.dtype.newbyteorder("="), order="C", copy=True)
        return memo.ref(value) or {TAG: "ndarray", "data": torch.from_numpy(native)}
    if isinstance(value, torch.nn.Module):
        return {TAG: "module", "class": class_name(type(value)), "training": value.training,
                "state": to_checkpoint(value.state_dict(), f"{where}.state_dict()", _stack),
                "attributes": _module_attributes(value, where, (*_stack, id(value)), memo)}
    if isinstance(value, torch.Tensor):
        return memo.ref(value) or value.detach().clone()
    if isinstance(value, pathlib.PurePath):
        return {TAG: "path", "value": str(value)}
    if type(value) is range:
        return {TAG: "range", "start": value.start, "stop": value.stop, "step": value.step}
    if type(value) is fractions.Fraction:
        return {TAG: "fraction", "numerator": value.numerator, "denominator": value.denominator}
    if isinstance(value, np.dtype):
        if value.fields is not None or value.subdtype is not None or np.dtype(value.str) != value:
            raise TypeError(f"cannot checkpoint {where}: the NumPy dtype {value!r}, which its name does not make "
                            "again (a structured or sub-array dtype); valid: a dtype such as np.dtype('float32')")
        return {TAG: "dtype", "str": value.str}
    if isinstance(value, enum.Enum):
        return _enum_member(value, where, _stack)
    if isinstance(value, np.random.Generator):
        return {TAG: "generator", "state": to_checkpoint(value.bit_generator.state, where, _stack)}
    if isinstance(value, np.random.RandomState):
        return {TAG: "random_state", "state": to_checkpoint(value.get_state(legacy=False), where, _stack)}
    if type(value) is random.Random:
        return {TAG: "py_random", "state": value.getstate()}
    if isinstance(value, torch.Generator):  # a torch user's policy sampling with a generator of its own
        return {TAG: "torch_generator", "device": str(value.device), "state": value.get_state()}
    if id(value) in _stack:
        raise TypeError(f"cannot checkpoint {where}: it contains itself (a cycle); {_VALID}")
    stack = (*_stack, id(value))
    if type(value) is tuple:
        return tuple(to_checkpoint(v, f"{where}[{i}]", stack, memo) for i, v in enumerate(value))
    if type(value) in _SHARED_CONTAINERS:
        ref = memo.ref(value)
        if ref is not None:
            return ref
    if type(value) is list:
        return [to_checkpoint(v, f"{where}[{i}]", stack, memo) for i, v in enumerate(value)]
    if type(value) is deque:
        return {TAG: "deque", "items": [to_checkpoint(v, f"{where}[{i}]", stack, memo) for i, v in enumerate(value)],
                "maxlen": value.maxlen}
    if type(value) in (set, frozenset):
        items = [_stored_key(v, where) for v in value]
        return set(items) if type(value) is set else {TAG: "frozenset", "items": items}
    if type(value) in (dict, OrderedDict):
        return _stored_items(value, type(value)(), where, stack, memo)
    if type(value) is Counter:
        return {TAG: "counter", "items": _stored_items(value, {}, where, stack, memo)}
    if type(value) is defaultdict:
        return {TAG: "defaultdict", "factory": _factory_name(value.default_factory, where),
                "items": _stored_items(value, {}, where, stack, memo)}
    cls = type(value)
    if isinstance(value, _TORCH_STATEFUL):  # its state is keyed by its parameters: its own state_dict() reads it
        return {TAG: "torch_state_dict", "class": class_name(cls),
                "state": to_checkpoint(value.state_dict(), f"{where}.state_dict()")}
    if (isinstance(value, _NOT_DATA) or not hasattr(value, "__dict__") and not hasattr(cls, "__slots__")
            or cls.__reduce_ex__ is not object.__reduce_ex__ or cls.__reduce__ is not object.__reduce__):
        raise TypeError(f"cannot checkpoint {where}: a {class_name(cls)}, which is not data; {_VALID}")
    ref = memo.ref(value)
    if ref is not None:
        return ref
    state = get_object_state(value)
    if type(state) is dict and all(type(k) is str for k in state):  # attributes: named policy.attr in errors
        stored = {key: to_checkpoint(item, f"{where}.{key}", stack, memo) for key, item in state.items()}
    elif type(state) is dict:  # walked as the attributes are (from_checkpoint restores both alike)
        stored = _stored_items(state, {}, where, stack, memo)
    else:
        stored = to_checkpoint(state, where, stack, memo)
    return {TAG: "object", "class": class_name(cls), "state": stored}


def _stored_items(mapping, out: dict, where: str, stack: tuple, memo: _Memo) -> dict:
    """``mapping``'s items stored into ``out`` (a dict or an OrderedDict): keys by
    :func:`_stored_key` (plain data and enum members), values by :func:`to_checkpoint`."""
    if TAG in mapping:
        raise TypeError(f"cannot checkpoint {where}: its key {TAG!r} is reserved for lrgym's own markers")
    for key, item in mapping.items():
        out[_stored_key(key, where)] = to_checkpoint(item, f"{where}[{key!r}]", stack, memo)
    return out


def _stored_key(key, where: str):
    """A dict key or set item as a key ``torch.load(weights_only=True)`` reads: a number, str,
    bytes or None as it is, a tuple item by item, an enum member as the tuple
    ``("__lrgym__", "enum", module, qualname, "name", name)`` (a combined ``Flag``: ``"value"``,
    its value), found again by :func:`_restored_key` (a tuple of the policy's own may not start
    with ``"__lrgym__"``)."""
    if type(key) in _PLAIN:
        return key
    if type(key) is tuple:
        if key and type(key[0]) is str and key[0] == TAG:
            raise TypeError(f"cannot checkpoint {where}: its key {key!r} starts with {TAG!r}, which is reserved "
                            "for lrgym's own markers")
        return tuple(_stored_key(k, where) for k in key)
    if isinstance(key, enum.Enum):
        cls = type(key)
        if key.name is not None and cls.__members__.get(key.name) is key:
            return (TAG, "enum", cls.__module__, cls.__qualname__, "name", key.name)
        return (TAG, "enum", cls.__module__, cls.__qualname__, "value", _stored_key(key.value, where))
    raise TypeError(f"cannot checkpoint {where}: a key of type {type(key).__name__} ({key!r}); valid keys: numbers, "
                    "str, bytes, None, enum members or tuples of them")


def _enum_classes(keys) -> dict:
    """The enum classes of the live keys (inside tuples too), by (module, qualname)."""
    found = {}
    for key in keys:
        if isinstance(key, enum.Enum):
            found.setdefault((type(key).__module__, type(key).__qualname__), type(key))
        elif type(key) is tuple:
            found.update({k: v for k, v in _enum_classes(key).items() if k not in found})
    return found


def _imported_enum(module: str, qualname: str):
    """The enum class ``module.qualname`` if its module is imported already, else None. Read from
    the module's and classes' ``__dict__``: nothing is imported (not even by a module's lazy
    ``__getattr__``) and no code runs."""
    found = sys.modules.get(module)
    for part in qualname.split("."):
        namespace = getattr(found, "__dict__", None) if isinstance(found, (types.ModuleType, type)) else None
        found = namespace.get(part) if isinstance(namespace, (dict, types.MappingProxyType)) else None
    return found if isinstance(found, enum.EnumMeta) else None


def _restored_key(key, live_classes: dict, where: str):
    """The key :func:`_stored_key` stored. An enum member is looked up in the class of a live key
    of the same name, else in that class of an imported module (by name only: a combined ``Flag``
    stored by value needs a live member of its class); never imported from the file."""
    if type(key) is not tuple:
        return key
    if not (key and type(key[0]) is str and key[0] == TAG):
        return tuple(_restored_key(k, live_classes, where) for k in key)
    if len(key) != 6 or key[1] != "enum" or key[4] not in ("name", "value") or not all(
            type(k) is str for k in key[2:4]):
        raise _RestoreError(f"cannot restore {where}: the key {brief(key)} is no stored enum member; valid: "
                            f"({TAG!r}, 'enum', module, qualname, 'name' or 'value', name or value)")
    _, _, module, qualname, how, what = key
    cls = live_classes.get((module, qualname))
    if cls is None and how == "name":
        cls = _imported_enum(module, qualname)
    if cls is None:
        raise _RestoreError(f"cannot restore {where}: a key is a member of the enum {_named(f'{module}.{qualname}')}, "
                            "which is neither the class of a key this policy has there nor an enum of a module "
                            f"imported here{_FLAG_NEEDS_LIVE_KEY if how == 'value' else ''}; valid: build the policy as "
                            "the saved one was, its code imported")
    if how == "value":
        return cls(what)
    if type(what) is not str or what not in cls.__members__:
        raise _RestoreError(f"cannot restore {where}: the enum {_named(f'{module}.{qualname}')} has no member "
                            f"{brief(what)}; valid: {', '.join(cls.__members__)}")
    return cls.__members__[what]


def _factory_name(factory, where: str) -> str | None:
    """A ``defaultdict``'s ``default_factory`` by name: None, a :data:`DEFAULT_FACTORIES` type, or
    code of the policy's own — a function holding no variables (a ``def``, a lambda over no
    variable), a class, a builtin — by its qualified name (restored from the live policy, as
    pickle names a function, but never imported: :func:`_live_factory`). A closure, a
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


def _live_factory(name, live, where: str):
    """The ``default_factory`` stored as ``name`` (:func:`_factory_name`): from the fixed table, or
    the live defaultdict's at the same place if its name is ``name``; never imported."""
    if name is None or type(name) is str and name in DEFAULT_FACTORIES:
        return None if name is None else DEFAULT_FACTORIES[name]
    factory = live.default_factory if type(live) is defaultdict else None
    if factory is not None and type(name) is str and _factory_name_or_none(factory) == name:
        return factory
    now = ("nothing" if live is None else f"a defaultdict whose default_factory is {factory!r}"
           if type(live) is defaultdict else f"a {type(live).__name__}")
    raise _RestoreError(
        f"cannot restore {where}: the checkpoint holds a defaultdict whose default_factory is {brief(name)} there, "
        f"this policy has {now}. A factory of the policy's own is taken from the policy's defaultdict at the same "
        "place, never imported from the file: build the policy the same way as the one that was saved. A "
        "defaultdict made during the run (a value another defaultdict's factory made) has none there: give it a builtin factory "
        f"({', '.join(c.__name__ for c in DEFAULT_FACTORIES.values())}), or the policy state_dict() and "
        "load_state_dict(state) methods")


def _factory_name_or_none(factory):
    try:
        return _factory_name(factory, "")
    except TypeError:
        return None


def _enum_member(member: enum.Enum, where: str, stack: tuple) -> dict:
    """An enum member by its class and name (a combined ``Flag``, which has no member name of its
    own: by its value), to be looked up again in the live member's class (:func:`_live_member`)."""
    cls = type(member)
    stored = {TAG: "enum", "class": class_name(cls)}
    if member.name is not None and cls.__members__.get(member.name) is member:
        stored["name"] = member.name
    else:
        stored["value"] = to_checkpoint(member.value, f"{where}.value", stack)
    return stored


def _live_member(value: dict, live, where: str) -> enum.Enum:
    """The member of the live value's enum class that :func:`_enum_member` stored: the class is the
    live member's, never imported (so the policy at ``where`` must hold a member of that class)."""
    if not isinstance(live, enum.Enum) or class_name(type(live)) != value["class"]:
        now = "nothing" if live is None else f"a {class_name(type(live))}"
        raise _RestoreError(f"cannot restore {where}: the checkpoint holds a member of the enum "
                            f"{_named(value['class'])} there, this policy has {now}. Enum members are looked up in the "
                            "policy's own enum class: build the policy the same way as the one that was saved")
    cls = type(live)
    if "name" in value:
        if value["name"] not in cls.__members__:
            raise _RestoreError(f"cannot restore {where}: the enum {_named(value['class'])} has no member "
                                f"{brief(value['name'])}; valid: {', '.join(cls.__members__)}")
        return cls.__members__[value["name"]]
    return cls(from_checkpoint(value["value"], None, f"{where}.value"))


def _scalar_dtype(name, where: str) -> np.dtype:
    """The dtype of a stored NumPy scalar: one :func:`to_checkpoint` stores (:data:`_SCALAR_KINDS`),
    else a ``ValueError`` naming it. A forged one was made whatever it was: ``np.dtype("V1").type``
    is ``np.void``, which makes a scalar of as many zero bytes as the stored value says (2 GiB)."""
    try:
        dtype = np.dtype(name) if type(name) is str else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in _SCALAR_KINDS or _too_wide(dtype) or dtype.fields is not None \
            or dtype.subdtype is not None:
        raise _RestoreError(f"cannot restore {where}: a NumPy scalar of dtype {brief(name)}; valid: a bool, integer, "
                         "float, complex, str or bytes dtype such as '<f8'")
    return dtype


def _torch_generator(device: str, where: str) -> torch.Generator:
    """A new ``torch.Generator`` on the stored ``device``; ``ValueError`` naming it and what to do
    if this machine's torch has no such device (a CUDA generator saved on a GPU machine, resumed on
    one without: torch's bare ``RuntimeError`` about its ATen_cuda library). A generator's state
    is its device's own (a CUDA one's is not a CPU one's): it cannot move to another device."""
    try:
        return torch.Generator(device=device)
    except RuntimeError as exc:
        here = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        raise _RestoreError(
            f"cannot restore {where}: the checkpoint holds a torch.Generator on device {brief(device)}, which this "
            f"machine's torch cannot make ({str(exc).splitlines()[0][:160]}); devices here: {', '.join(here)}. "
            f"Resume it on a machine with {brief(device)}: a generator's state is its device's own and cannot move to "
            "another. To go on here, give the policy state_dict() and load_state_dict(state) methods that rebuild "
            "its generator on a device of this machine") from None


def _check_module_state(state, live: torch.nn.Module, where: str) -> None:
    """The stored ``state_dict()`` has the live module's keys and tensor shapes (torch's strict
    ``load_state_dict`` copies what matches before it raises about the rest)."""
    mine = live.state_dict()
    if not isinstance(state, dict) or set(state) != set(mine):
        got = list(state) if isinstance(state, dict) else type(state).__name__
        raise _RestoreError(f"cannot restore {where}: its state_dict() holds {brief(got)}, this policy's "
                            f"{list(mine)}; valid: build the policy the same way as the one that was saved")
    for key, tensor in mine.items():
        stored = state[key]
        if isinstance(tensor, torch.nn.parameter.UninitializedTensorMixin):
            continue  # a lazy module's parameter takes the stored shape (torch materializes it)
        if isinstance(tensor, torch.Tensor) and (not isinstance(stored, torch.Tensor) or stored.shape != tensor.shape):
            shape = tuple(stored.shape) if isinstance(stored, torch.Tensor) else type(stored).__name__
            raise _RestoreError(f"cannot restore {where}: its state_dict()[{brief(key)}] is {shape}, this policy's "
                                f"{tuple(tensor.shape)}; valid: build the policy the same way as the one that was "
                                "saved")


def _check_optimizer_state(state, live: torch.optim.Optimizer, where: str) -> None:
    """The stored optimizer state has the live optimizer's parameter groups, of the same sizes
    (what ``Optimizer.load_state_dict`` checks), before anything is loaded."""
    groups = state.get("param_groups") if isinstance(state, dict) else None
    ok = isinstance(groups, list) and isinstance(state.get("state"), dict) and all(
        isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups)
    sizes = [len(g["params"]) for g in groups] if ok else None
    mine = [len(g["params"]) for g in live.param_groups]
    if sizes != mine:
        raise _RestoreError(f"cannot restore {where}: its state_dict() has parameter groups of sizes {sizes}, this "
                            f"policy's optimizer {mine}; valid: build the policy the same way as the one that was "
                            "saved")


def _check_object_state(live, state, where: str) -> None:
    """``state`` is one :func:`set_object_state` loads into ``live`` (a class of its own
    ``__setstate__`` checks its own)."""
    if getattr(type(live), "__setstate__", None) is not None or state is None or isinstance(state, dict):
        return
    if isinstance(state, tuple) and len(state) == 2 and (state[0] is None or isinstance(state[0], dict)) \
            and (state[1] is None or isinstance(state[1], dict)):
        return
    raise _RestoreError(f"cannot restore {where}: a {type(live).__name__} from a state of type {type(state).__name__}; "
                        "valid: None, a dict, or (dict, slots)")


def _check_live_class(value: dict, live, where: str) -> None:
    """The live value at ``where`` is of the stored object's class (it is loaded into, never built)."""
    if live is None or class_name(type(live)) != value["class"]:
        now = "nothing" if live is None else f"a {class_name(type(live))}"
        raise _RestoreError(
            f"cannot restore {where}: the checkpoint holds a {_named(value['class'])} there, this policy has {now}. "
            "Objects are loaded into the policy's own (as nn.Module.load_state_dict loads parameters): "
            "build the policy the same way as the one that was saved")


def _restored_items(items: dict, live, where: str, memo: _Memo) -> dict:
    """The values of a stored mapping's items restored, each into the live mapping's value of the
    same key (``live``: None or not a mapping, none), as a dict in the stored order."""
    counterpart = live if isinstance(live, dict) else {}
    classes = _enum_classes(counterpart)
    keys = [_restored_key(k, classes, where) for k in items]
    return {k: _restore(v, counterpart.get(k), f"{where}[{brief(k)}]", memo) for k, v in zip(keys, items.values())}


def _restored_list(items: list, live, where: str, memo: _Memo) -> list:
    """The stored items restored, each into the live sequence's item at the same place (if as long)."""
    same = isinstance(live, (list, tuple, deque)) and len(live) == len(items)
    counterpart = list(live) if same else [None] * len(items)
    return [_restore(v, c, f"{where}[{i}]", memo) for i, (v, c) in enumerate(zip(items, counterpart))]


def from_checkpoint(value, live=None, where: str = "value"):
    """The value :func:`to_checkpoint` stored (arrays and tensors are fresh copies). Objects,
    modules, optimizers, generators and same-shaped tensors are loaded into ``live``, the value at
    the same place now, and returned; an object or module without a live counterpart of its class
    raises ``ValueError``. A value stored as a reference to one met before is that restored value:
    what shared one object when saved shares one again. All or nothing: :func:`restore_plan`."""
    restored, load = restore_plan(value, live, where)
    load()
    return restored


def restore_plan(value, live=None, where: str = "value"):
    """``(restored, load)``: the value :func:`from_checkpoint` gives, built and checked without
    touching ``live`` (a stored module's keys and shapes against the live module's, an
    optimizer's groups against the live one's, a generator's state on a new generator of its
    kind), and ``load()``, which loads it into the live objects. So a checkpoint that cannot be
    restored raises before anything is loaded, as ``optimizer.load_state_dict`` does, and a
    caller restoring more than one thing builds them all before loading any."""
    memo = _Memo()
    restored = _restore(value, live, where, memo)

    def load() -> None:
        for action in memo.actions:
            action()

    return restored, load


def _copy_into(live: torch.Tensor, value: torch.Tensor) -> None:
    with torch.no_grad():
        live.copy_(value)


def _restore(value, live, where: str, memo: _Memo):
    """:func:`restore_plan`'s walk: what changes a live object is added to ``memo.actions``."""
    if isinstance(value, torch.Tensor):
        index = memo.reserve()
        if isinstance(live, torch.Tensor) and live.shape == value.shape and live.dtype == value.dtype:
            memo.actions.append(functools.partial(_copy_into, live, value))
            return memo.restore(index, live)
        return memo.restore(index, value.clone())
    if isinstance(value, np.ndarray):  # a checkpoint of an older lrgym (weights_only=False)
        return value.copy()
    if type(value) is tuple:
        return tuple(_restored_list(list(value), live, where, memo))
    if type(value) is list:
        index = memo.reserve()
        return memo.restore(index, _restored_list(value, live, where, memo))
    if isinstance(value, set):
        classes = _enum_classes(live) if isinstance(live, (set, frozenset)) else {}
        return memo.restore(memo.reserve(), {_restored_key(k, classes, where) for k in value})
    if not isinstance(value, dict):
        return value
    kind = value.get(TAG)
    if kind is None:
        index = memo.reserve()
        return memo.restore(index, type(value)(_restored_items(value, live, where, memo)))
    try:
        return _restore_record(kind, value, live, where, memo)
    except _RestoreError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError, RuntimeError) as exc:
        # a forged record (or one damaged): what it holds is not what to_checkpoint writes
        why = (f"it has no field {brief(exc.args[0])}" if type(exc) is KeyError and exc.args
               else f"{type(exc).__name__}: {str(exc)[:160]}")
        raise _RestoreError(f"cannot restore {where}: its {brief(kind)} record {brief(value)} is none lrgym writes "
                            f"({why}); valid: {_RECORDS.get(kind, 'a record of to_checkpoint')}") from None


def _restore_record(kind, value: dict, live, where: str, memo: _Memo):
    """:func:`_restore` of a record of a non-data value (``value[TAG]`` is ``kind``)."""
    if kind == "ref":
        return memo.resolve(value, where)
    if kind == "numpy":
        return _scalar_dtype(value["dtype"], where).type(value["value"])
    if kind == "ndarray":
        return memo.restore(memo.reserve(), value["data"].numpy().copy())
    if kind == "path":
        if type(value["value"]) is not str:
            raise TypeError(f"its value is a {type(value['value']).__name__}")
        return pathlib.Path(value["value"])
    if kind == "frozenset":
        if type(value["items"]) not in (list, tuple, set, frozenset):
            raise TypeError(f"its items are a {type(value['items']).__name__}")
        classes = _enum_classes(live) if isinstance(live, (set, frozenset)) else {}
        return frozenset(_restored_key(k, classes, where) for k in value["items"])
    if kind == "range":
        if not all(type(value[k]) is int for k in ("start", "stop", "step")):
            raise TypeError("start, stop and step are not all ints")
        return range(value["start"], value["stop"], value["step"])
    if kind == "fraction":
        if not (type(value["numerator"]) is int and type(value["denominator"]) is int):
            raise TypeError("numerator and denominator are not both ints")
        return fractions.Fraction(value["numerator"], value["denominator"])
    if kind == "dtype":
        if type(value["str"]) is not str:
            raise TypeError(f"its str is a {type(value['str']).__name__}")
        return np.dtype(value["str"])
    if kind == "enum":
        return _live_member(value, live, where)
    if kind == "counter":
        if type(value["items"]) is not dict:
            raise TypeError(f"its items are a {type(value['items']).__name__}")
        index = memo.reserve()
        return memo.restore(index, Counter(_restored_items(value["items"], live, where, memo)))
    if kind == "defaultdict":
        if type(value["items"]) is not dict:
            raise TypeError(f"its items are a {type(value['items']).__name__}")
        factory = _live_factory(value["factory"], live, where)
        index = memo.reserve()
        items = _restored_items(value["items"], live, where, memo)
        return memo.restore(index, defaultdict(factory, items))
    if kind == "deque":
        if type(value["items"]) is not list or not (value["maxlen"] is None or type(value["maxlen"]) is int):
            raise TypeError("its items are no list or its maxlen no int or None")
        index = memo.reserve()
        items = _restored_list(value["items"], live if isinstance(live, deque) else None, where, memo)
        return memo.restore(index, deque(items, maxlen=value["maxlen"]))
    if kind == "generator":  # each generator's state is set on a new one first: a bad state raises here
        state = _restore(value["state"], None, where, memo.fresh())
        name = state.get("bit_generator") if isinstance(state, dict) else None
        if name not in _BIT_GENERATORS:
            raise _RestoreError(f"cannot restore {where}: a generator record of an unknown bit generator "
                                f"{brief(name)}; valid: {', '.join(_BIT_GENERATORS)}")
        bit_generator = getattr(np.random, name)()
        bit_generator.state = state
        if isinstance(live, np.random.Generator) and type(live.bit_generator).__name__ == name:
            memo.actions.append(functools.partial(setattr, live.bit_generator, "state", bit_generator.state))
            return live
        return np.random.Generator(bit_generator)
    if kind == "random_state":
        generator = np.random.RandomState()
        generator.set_state(_restore(value["state"], None, where, memo.fresh()))
        if isinstance(live, np.random.RandomState):
            memo.actions.append(functools.partial(live.set_state, generator.get_state(legacy=False)))
            return live
        return generator
    if kind == "py_random":
        generator = random.Random()
        generator.setstate(value["state"])
        if type(live) is random.Random:
            memo.actions.append(functools.partial(live.setstate, generator.getstate()))
            return live
        return generator
    if kind == "torch_generator":
        generator = _torch_generator(value["device"], where)
        generator.set_state(value["state"])
        if isinstance(live, torch.Generator) and str(live.device) == value["device"]:
            memo.actions.append(functools.partial(live.set_state, generator.get_state()))
            return live
        return generator
    if kind == "torch_state_dict":
        _check_live_class(value, live, where)
        if not isinstance(live, _TORCH_STATEFUL):  # (a forged file: a module's state unchecked, or no such method)
            raise _RestoreError(f"cannot restore {where}: the checkpoint holds an optimizer's or LR scheduler's "
                             f"state_dict() there, this policy has a {class_name(type(live))}; valid: a "
                             "torch.optim optimizer or LR scheduler of the class stored")
        state = _restore(value["state"], None, f"{where}.state_dict()", memo.fresh())
        if isinstance(live, torch.optim.Optimizer):
            _check_optimizer_state(state, live, where)
        try:  # torch's own check of what it loads, on a copy: a forged state raises here, before any load
            copy.deepcopy(live).load_state_dict(state)
        except Exception as exc:  # noqa: BLE001 - torch says why in its own words, any kind
            raise _RestoreError(f"cannot restore {where}: its state_dict() is none {_named(value['class'])} loads "
                                f"({type(exc).__name__}: {str(exc)[:160]}); valid: the state_dict() of a "
                                f"{_named(value['class'])} over this policy's parameters") from None
        memo.actions.append(functools.partial(live.load_state_dict, state))
        return live
    if kind in ("module", "object"):
        _check_live_class(value, live, where)
        if kind == "module":
            state = _restore(value["state"], None, f"{where}.state_dict()", memo.fresh())
            _check_module_state(state, live, where)
            memo.actions.append(functools.partial(live.load_state_dict, state))
            if type(value["training"]) is not bool or type(value.get("attributes", {})) is not dict:
                raise TypeError("its training is no bool or its attributes no dict")
            memo.actions.append(functools.partial(live.train, value["training"]))
            for name, attributes in value.get("attributes", {}).items():  # none in an older lrgym's
                path = f"{where}.{_named(name)}" if name else where
                try:
                    sub = live.get_submodule(name)
                except AttributeError:
                    raise _RestoreError(f"cannot restore {path}: the checkpoint holds attributes of a submodule "
                                        f"{brief(name)}, which this policy's {_named(value['class'])} has not; valid: "
                                        "build the policy the same way as the one that was saved") from None
                current = vars(sub)
                restored = {key: _restore(item, current.get(key), f"{path}.{key}", memo)
                            for key, item in attributes.items()}
                memo.actions.append(functools.partial(sub.__dict__.update, restored))
            return live
        index = memo.reserve()
        stored = value["state"]
        current = get_object_state(live)
        if type(stored) is dict and TAG not in stored:  # its attributes (to_checkpoint: a dict state)
            current = current if isinstance(current, dict) else {}
            state = {k: _restore(v, current.get(k), f"{where}.{k}" if type(k) is str else f"{where}[{brief(k)}]", memo)
                     for k, v in stored.items()}
        else:
            state = _restore(stored, current, where, memo)
        _check_object_state(live, state, where)
        memo.actions.append(functools.partial(set_object_state, live, state))
        return memo.restore(index, live)
    raise _RestoreError(f"cannot restore {where}: unknown marker {TAG}={brief(kind)} (a checkpoint of a newer lrgym?); "
                       f"valid: {', '.join(map(repr, _RECORDS))}")
