"""Saving: :func:`to_checkpoint` walks a policy's value and returns it as plain data and records
(:mod:`~lrgym.torch._checkpoint_format`) that ``torch.load(weights_only=True)`` reads back.

The walk refuses what is not data (code, handles, classes that pickle themselves) and what it
would store without its value (a namedtuple, a subclass of dict or list: its attributes alone) with
a ``TypeError`` naming where it sits (``policy.memory['x'][2]``), and stores a container, array,
tensor, module or object met twice as a reference to the first (:class:`Memo`): also one met again
inside itself, such as a helper's back-reference to its owner (``helper.owner = policy``), as
pickle's memo stores it. A tuple that contains itself (through a list, say) is refused: it is
built from its items, so it cannot be restored before them.
"""

from __future__ import annotations

import enum
import fractions
import pathlib
import random
import types
from collections import Counter, OrderedDict, defaultdict, deque

import numpy as np
import torch

from lrgym.torch._checkpoint_factories import factory_name
from lrgym.torch._checkpoint_format import (
    ARRAY_KINDS,
    NOT_DATA,
    PLAIN,
    SCALAR_KINDS,
    SHARED_CONTAINERS,
    TAG,
    TORCH_PLAIN,
    TORCH_STATEFUL,
    VALID,
    class_name,
    too_wide,
)
from lrgym.torch._checkpoint_keys import stored_key
from lrgym.torch._checkpoint_memo import Memo
from lrgym.torch._object_state import get_object_state


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


def _other_modes(module: torch.nn.Module) -> dict:
    """The training mode of every submodule whose mode is not the module's own, by name: a
    submodule kept in eval mode (a frozen BatchNorm, a pretrained encoder) inside a training
    policy. ``module.train(mode)`` sets every submodule alike, so the module's own mode alone
    would bring such a submodule back in the other mode (its running statistics updated again)."""
    return {name: sub.training for name, sub in module.named_modules() if name and sub.training != module.training}


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


def to_checkpoint(value, where: str = "value", _stack: tuple = (), _memo: Memo | None = None):
    """``value`` as data that ``torch.load(weights_only=True)`` reads (the module docstring's
    table); arrays and tensors are copies. ``where`` names the value in errors. A container,
    array, tensor or object met twice is stored the second time as a reference to the first
    (:class:`Memo`): what the policy shares stays shared."""
    memo = Memo() if _memo is None else _memo
    if type(value) in PLAIN or type(value) in TORCH_PLAIN:
        return value
    if isinstance(value, np.generic):
        if value.dtype.kind not in SCALAR_KINDS or too_wide(value.dtype):
            raise TypeError(f"cannot checkpoint {where}: a NumPy {value.dtype} scalar; {VALID}")
        return {TAG: "numpy", "dtype": value.dtype.str, "value": value.item()}
    if isinstance(value, np.ndarray):
        if type(value) is not np.ndarray or value.dtype.kind not in ARRAY_KINDS or too_wide(value.dtype):
            raise TypeError(f"cannot checkpoint {where}: a {type(value).__name__} of dtype {value.dtype}; "
                            f"valid: a numeric or bool np.ndarray. {VALID}")
        native = value.astype(value.dtype.newbyteorder("="), order="C", copy=True)
        return memo.ref(value) or {TAG: "ndarray", "data": torch.from_numpy(native)}
    if isinstance(value, torch.nn.Module):  # numbered: a module met again is a reference, as an object
        return memo.ref(value) or {
                TAG: "module", "class": class_name(type(value)), "numbered": True, "training": value.training,
                "other_modes": _other_modes(value),
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
    if id(value) in _stack:  # met again inside itself: a reference, as any value met before
        ref = memo.known(value)
        if ref is None and type(value) is tuple:  # never numbered: built from its items, so restored after them
            raise TypeError(f"cannot checkpoint {where}: a tuple that contains itself (through its items: a tuple "
                            "is built from its items, so it cannot be restored before them); valid: a list in the "
                            "tuple's place")
        if ref is None:  # met in a walk of its own (a module's state_dict(), an enum member's value)
            raise TypeError(f"cannot checkpoint {where}: it contains itself through a value stored apart (a "
                            f"module's state_dict(), an enum member's value); {VALID}")
        return ref
    stack = (*_stack, id(value))
    if type(value) is tuple:
        return tuple(to_checkpoint(v, f"{where}[{i}]", stack, memo) for i, v in enumerate(value))
    if type(value) in SHARED_CONTAINERS:
        ref = memo.ref(value)
        if ref is not None:
            return ref
    if type(value) is list:
        return [to_checkpoint(v, f"{where}[{i}]", stack, memo) for i, v in enumerate(value)]
    if type(value) is deque:
        return {TAG: "deque", "items": [to_checkpoint(v, f"{where}[{i}]", stack, memo) for i, v in enumerate(value)],
                "maxlen": value.maxlen}
    if type(value) in (set, frozenset):
        items = [stored_key(v, where) for v in value]
        return set(items) if type(value) is set else {TAG: "frozenset", "items": items}
    if type(value) in (dict, OrderedDict):
        return _stored_items(value, type(value)(), where, stack, memo)
    if type(value) is Counter:
        return {TAG: "counter", "items": _stored_items(value, {}, where, stack, memo)}
    if type(value) is defaultdict:
        return {TAG: "defaultdict", "factory": factory_name(value.default_factory, where),
                "items": _stored_items(value, {}, where, stack, memo)}
    cls = type(value)
    if isinstance(value, TORCH_STATEFUL):  # its state is keyed by its parameters: its own state_dict() reads it
        return {TAG: "torch_state_dict", "class": class_name(cls),
                "state": to_checkpoint(value.state_dict(), f"{where}.state_dict()")}
    if (isinstance(value, NOT_DATA) or not hasattr(value, "__dict__") and not hasattr(cls, "__slots__")
            or cls.__reduce_ex__ is not object.__reduce_ex__ or cls.__reduce__ is not object.__reduce__):
        raise TypeError(f"cannot checkpoint {where}: a {class_name(cls)}, which is not data; {VALID}")
    _refuse_value_subclass(value, where)
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
    return {TAG: "object", "class": class_name(cls), "numbered": True, "state": stored}


#: the builtins whose value is not in an instance's attributes: a subclass's instance (a
#: namedtuple, a dict or list subclass) stored as an object would keep its ``__dict__`` alone
_VALUE_BUILTINS = (tuple, list, dict, set, frozenset, deque, int, float, complex, str, bytes)


def _refuse_value_subclass(value, where: str) -> None:
    """Refuse an instance of a subclass of a builtin container or scalar (:data:`_VALUE_BUILTINS`;
    the builtins themselves are stored above): its items or its value are not among the attributes
    that :func:`get_object_state` reads and :func:`set_object_state` loads, so the load would leave
    the live value's (a namedtuple came back as the freshly built policy's, a dict subclass
    empty) and the resumed run would differ in silence. A class of its own ``__setstate__`` loads
    what its ``__getstate__`` gives, and is stored as any object."""
    cls = type(value)
    base = next((b for b in _VALUE_BUILTINS if isinstance(value, b)), None)
    if base is None or getattr(cls, "__setstate__", None) is not None:
        return
    raise TypeError(f"cannot checkpoint {where}: a {class_name(cls)}, a subclass of {base.__name__} whose "
                    f"{'value' if base in (int, float, complex, str, bytes) else 'items'} would not be stored "
                    f"(only its attributes: the live one's would stay); valid: a plain {base.__name__} in its place "
                    f"({base.__name__}(value)), or a class with __getstate__ and __setstate__ of its own. {VALID}")


def _stored_items(mapping, out: dict, where: str, stack: tuple, memo: Memo) -> dict:
    """``mapping``'s items stored into ``out`` (a dict or an OrderedDict): keys by
    :func:`stored_key` (plain data and enum members), values by :func:`to_checkpoint`."""
    if TAG in mapping:
        raise TypeError(f"cannot checkpoint {where}: its key {TAG!r} is reserved for lrgym's own markers")
    for key, item in mapping.items():
        out[stored_key(key, where)] = to_checkpoint(item, f"{where}[{key!r}]", stack, memo)
    return out


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
