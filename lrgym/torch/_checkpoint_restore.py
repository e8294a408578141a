"""Loading: :func:`restore_plan` walks a stored value beside the live one at the same place and
returns what it restores with the list of actions that load it into the live objects, so a
checkpoint that cannot be restored raises before anything changes (all or nothing);
:func:`from_checkpoint` is the plan, then its load. The load is all or nothing too: each action
keeps what it is about to change before it runs (:class:`Action`), so an action that raises (a
class's own ``__setstate__`` failing halfway, a tensor copy torch refuses) has every action run
before it, and its own part, undone in reverse order before the error is raised.

Objects, modules, optimizers, generators, enum members and same-shaped tensors are loaded **in
place** (as ``nn.Module.load_state_dict`` loads parameters); no class is imported or built from
the file. A live tensor that a copy would not load (:func:`why_no_copy`: an expanded view, an
inference tensor, another layout than the saved one's, an ``as_strided`` view whose shared elements
the saved values do not fit) is replaced by the saved one, as a tensor of another shape is; a parameter of that kind
(an optimizer's, a module's: never replaced) is a :class:`RestoreError` naming where it is. A
forged or damaged record becomes a :class:`RestoreError` naming where it sits and the record's
valid form (:data:`~lrgym.torch._checkpoint_format.RECORDS`).

The walk (:func:`_restore`) restores plain data and containers itself and hands each record to
its kind's restorer (:data:`_RECORD_RESTORERS`, one small function per kind): each checks what
it can on new objects, appends what changes a live object to ``memo.actions`` (an
:class:`Action`: the change and how to undo it), and returns the restored value.
"""

from __future__ import annotations

import copy
import enum
import fractions
import functools
import pathlib
import random
from collections import Counter, defaultdict, deque

import numpy as np
import torch

from lrgym.brief import brief
from lrgym.torch._checkpoint_actions import (
    Action,
    keep_items,
    keep_modes,
    keep_object,
    keep_state_dict,
    keep_tensor,
    load_tensor,
    loads_by_copy,
    put_back,
    replaced_tensors,
)
from lrgym.torch._checkpoint_checks import (
    check_live_class,
    check_module_state,
    check_optimizer_state,
    check_shared_memory,
    same_data,
    scalar_dtype,
    torch_generator,
    why_no_copy,
)
from lrgym.torch._checkpoint_factories import live_factory
from lrgym.torch._checkpoint_format import BIT_GENERATORS, RECORDS, TAG, TORCH_STATEFUL, RestoreError, class_name, named
from lrgym.torch._checkpoint_keys import enum_classes, restored_key
from lrgym.torch._checkpoint_memo import Memo
from lrgym.torch._object_state import check_object_state, get_object_state, set_object_state


def _live_member(value: dict, live, where: str) -> enum.Enum:
    """The member of the live value's enum class that :func:`_enum_member` stored: the class is the
    live member's, never imported (so the policy at ``where`` must hold a member of that class)."""
    if not isinstance(live, enum.Enum) or class_name(type(live)) != value["class"]:
        now = "nothing" if live is None else f"a {class_name(type(live))}"
        raise RestoreError(f"cannot restore {where}: the checkpoint holds a member of the enum "
                           f"{named(value['class'])} there, this policy has {now}. Enum members are looked up in the "
                           "policy's own enum class: build the policy the same way as the one that was saved")
    cls = type(live)
    if "name" in value:
        if value["name"] not in cls.__members__:
            raise RestoreError(f"cannot restore {where}: the enum {named(value['class'])} has no member "
                               f"{brief(value['name'])}; valid: {', '.join(cls.__members__)}")
        return cls.__members__[value["name"]]
    return cls(from_checkpoint(value["value"], None, f"{where}.value"))


def _other_modes(stored, live: torch.nn.Module, where: str) -> list:
    """(submodule, mode) of a module record's ``other_modes`` (the submodules whose training mode
    is not the module's), each submodule found in the live module by name; a ``RestoreError``
    naming a name it has not, a ``TypeError`` (a forged record) unless names map to bools."""
    if type(stored) is not dict or not all(type(k) is str and type(v) is bool for k, v in stored.items()):
        raise TypeError("its other_modes are no dict of submodule names to bools")
    found = []
    for name, mode in stored.items():
        try:
            found.append((live.get_submodule(name), mode))
        except AttributeError:
            raise RestoreError(f"cannot restore {where}: the checkpoint holds the training mode of a submodule "
                               f"{brief(name)}, which this policy's {class_name(type(live))} has not; valid: build "
                               "the policy the same way as the one that was saved") from None
    return found


def _restored_items(items: dict, live, where: str, memo: Memo) -> dict:
    """The values of a stored mapping's items restored, each into the live mapping's value of the
    same key (``live``: None or not a mapping, none), as a dict in the stored order."""
    counterpart = live if isinstance(live, dict) else {}
    classes = enum_classes(counterpart)
    keys = [restored_key(k, classes, where) for k in items]
    return {k: _restore(v, counterpart.get(k), f"{where}[{brief(k)}]", memo) for k, v in zip(keys, items.values())}


def _restored_list(items: list, live, where: str, memo: Memo) -> list:
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
    caller restoring more than one thing builds them all before loading any. ``load()`` is all
    or nothing as well: an action that raises (a class's own ``__setstate__``, a tensor copy
    torch refuses) has the actions before it undone (:class:`Action`), then the error raised."""
    memo = Memo()
    restored = _restore(value, live, where, memo)
    check_shared_memory(memo.copied)

    def load() -> None:
        undo = []
        try:
            for action in memo.actions:
                undo.append(action.keep())
                action.apply()
        except BaseException as exc:  # an interrupt halfway too: the live objects as they were
            put_back(undo, exc)
            raise

    return restored, load


def _load_into(memo: Memo, live, where: str, kind: str, stored=None) -> None:
    """Note that a record at ``where`` is loaded into the live object ``live``, a ``kind`` (a
    tensor, a module...). A second record loaded into the same live object means the saved policy
    had two objects where this one shares one (one object met twice is stored as a reference): a
    ``RestoreError`` naming both places, since loading both would keep one's state and lose the
    other's, in silence (torch's ``load_state_dict`` into a module registered under two names
    does: the last name's weights win). ``stored``: what the record holds, for the values stored
    once per place even when shared (a tensor of an older lrgym's checkpoint, which stored no
    references; a generator, an optimizer): the same data twice loads the same state and is let
    through; None: a numbered record, so any second one is refused."""
    first = memo.loaded.get(id(live))
    if first is None:
        memo.loaded[id(live)] = (live, where, stored)
        return
    _, first_where, first_stored = first
    if stored is None or first_stored is None or not same_data(first_stored, stored):
        raise RestoreError(
            f"cannot restore {where}: the checkpoint holds a {kind} there apart from the one at {first_where} (the "
            f"saved policy had two), and this policy has one {kind} at both places (shared): loading both into it "
            f"would keep one's state and lose the other's; valid: build the policy the same way as the one that "
            f"was saved, a {kind} of its own at each place")


def _restore(value, live, where: str, memo: Memo):
    """:func:`restore_plan`'s walk: what changes a live object is added to ``memo.actions``."""
    if isinstance(value, torch.Tensor):
        index = memo.reserve()
        if isinstance(live, torch.Tensor) and live.shape == value.shape and live.dtype == value.dtype:
            refused = why_no_copy(live, value)
            if refused is None:
                _load_into(memo, live, where, "tensor", value)
                memo.copied.append((live, value, where))
                memo.actions.append(Action(functools.partial(load_tensor, live, value, where),
                                           functools.partial(keep_tensor, live)))
                return memo.restore(index, live)
            if isinstance(live, torch.nn.Parameter):  # an optimizer's or a module's: never replaced
                raise RestoreError(f"cannot restore {where}: the live parameter is {refused}, which torch cannot "
                                   "copy the saved values into; valid: a parameter of its own memory, of the saved "
                                   "tensor's layout, e.g. torch.nn.Parameter(tensor.clone())")
            # no copy loads it (another layout, elements sharing memory): the saved tensor in its place, on its device
            return memo.restore(index, value.to(device=live.device, copy=True))
        return memo.restore(index, value.clone() if memo.copies else value)
    if isinstance(value, np.ndarray):  # a checkpoint of an older lrgym (weights_only=False)
        return value.copy()
    if type(value) is tuple:
        return tuple(_restored_list(list(value), live, where, memo))
    if type(value) is list:  # numbered before its items (an item may refer to it: Memo)
        restored = memo.restore(memo.reserve(), [])
        restored.extend(_restored_list(value, live, where, memo))
        return restored
    if isinstance(value, set):
        classes = enum_classes(live) if isinstance(live, (set, frozenset)) else {}
        return memo.restore(memo.reserve(), {restored_key(k, classes, where) for k in value})
    if not isinstance(value, dict):
        return value
    kind = value.get(TAG)
    if kind is None:
        restored = memo.restore(memo.reserve(), type(value)())
        restored.update(_restored_items(value, live, where, memo))
        return restored
    try:
        return _restore_record(kind, value, live, where, memo)
    except RestoreError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError, RuntimeError) as exc:
        # a forged record (or one damaged): what it holds is not what to_checkpoint writes
        why = (f"it has no field {brief(exc.args[0])}" if type(exc) is KeyError and exc.args
               else f"{type(exc).__name__}: {str(exc)[:160]}")
        raise RestoreError(f"cannot restore {where}: its {brief(kind)} record {brief(value)} is none lrgym writes "
                           f"({why}); valid: {RECORDS.get(kind, 'a record of to_checkpoint')}") from None


def _restore_record(kind, value: dict, live, where: str, memo: Memo):
    """:func:`_restore` of a record of a non-data value (``value[TAG]`` is ``kind``): its kind's
    function of :data:`_RECORD_RESTORERS`, each of the form ``(value, live, where, memo)``."""
    restorer = _RECORD_RESTORERS.get(kind) if type(kind) is str else None
    if restorer is None:
        raise RestoreError(f"cannot restore {where}: unknown marker {TAG}={brief(kind)} (a checkpoint of a newer "
                           f"lrgym?); valid: {', '.join(map(repr, RECORDS))}")
    return restorer(value, live, where, memo)


def _restore_ref(value: dict, live, where: str, memo: Memo):
    """A value met before: the value restored at its index (:class:`Memo`)."""
    return memo.resolve(value, where)


def _restore_numpy(value: dict, live, where: str, memo: Memo):
    """A NumPy scalar of an allowed dtype (:func:`scalar_dtype`)."""
    return scalar_dtype(value["dtype"], where).type(value["value"])


def _restore_ndarray(value: dict, live, where: str, memo: Memo):
    """A NumPy array: a new copy of the stored tensor's data."""
    return memo.restore(memo.reserve(), value["data"].numpy().copy())


def _restore_path(value: dict, live, where: str, memo: Memo):
    """A ``pathlib.Path``."""
    if type(value["value"]) is not str:
        raise TypeError(f"its value is a {type(value['value']).__name__}")
    return pathlib.Path(value["value"])


def _restore_frozenset(value: dict, live, where: str, memo: Memo):
    """A frozenset of keys (:func:`restored_key`: enum members from the live set's classes)."""
    if type(value["items"]) not in (list, tuple, set, frozenset):
        raise TypeError(f"its items are a {type(value['items']).__name__}")
    classes = enum_classes(live) if isinstance(live, (set, frozenset)) else {}
    return frozenset(restored_key(k, classes, where) for k in value["items"])


def _restore_range(value: dict, live, where: str, memo: Memo):
    """A ``range`` of three ints."""
    if not all(type(value[k]) is int for k in ("start", "stop", "step")):
        raise TypeError("start, stop and step are not all ints")
    return range(value["start"], value["stop"], value["step"])


def _restore_fraction(value: dict, live, where: str, memo: Memo):
    """A ``fractions.Fraction`` (a zero denominator: ``ZeroDivisionError``, a forged record)."""
    if not (type(value["numerator"]) is int and type(value["denominator"]) is int):
        raise TypeError("numerator and denominator are not both ints")
    return fractions.Fraction(value["numerator"], value["denominator"])


def _restore_dtype(value: dict, live, where: str, memo: Memo):
    """A NumPy dtype by its str."""
    if type(value["str"]) is not str:
        raise TypeError(f"its str is a {type(value['str']).__name__}")
    return np.dtype(value["str"])


def _restore_enum(value: dict, live, where: str, memo: Memo):
    """An enum member, looked up in the live member's class (:func:`_live_member`)."""
    return _live_member(value, live, where)


def _restore_counter(value: dict, live, where: str, memo: Memo):
    """A ``collections.Counter`` of restored items."""
    if type(value["items"]) is not dict:
        raise TypeError(f"its items are a {type(value['items']).__name__}")
    restored = memo.restore(memo.reserve(), Counter())
    restored.update(_restored_items(value["items"], live, where, memo))  # (update adds counts: to an empty one)
    return restored


def _restore_defaultdict(value: dict, live, where: str, memo: Memo):
    """A ``defaultdict`` whose factory is the table's or the live one's (:func:`live_factory`)."""
    if type(value["items"]) is not dict:
        raise TypeError(f"its items are a {type(value['items']).__name__}")
    factory = live_factory(value["factory"], live, where)
    restored = memo.restore(memo.reserve(), defaultdict(factory))
    restored.update(_restored_items(value["items"], live, where, memo))
    return restored


def _restore_deque(value: dict, live, where: str, memo: Memo):
    """A ``collections.deque`` with its ``maxlen``."""
    if type(value["items"]) is not list or not (value["maxlen"] is None or type(value["maxlen"]) is int):
        raise TypeError("its items are no list or its maxlen no int or None")
    restored = memo.restore(memo.reserve(), deque(maxlen=value["maxlen"]))
    restored.extend(_restored_list(value["items"], live if isinstance(live, deque) else None, where, memo))
    return restored


def _restore_generator(value: dict, live, where: str, memo: Memo):
    """A NumPy ``Generator``: its state is set on a new bit generator of its kind first (a bad
    state raises here), then, at load, on the live one's if it is of that kind."""
    state = _restore(value["state"], None, where, memo.fresh())
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in BIT_GENERATORS:
        raise RestoreError(f"cannot restore {where}: a generator record of an unknown bit generator "
                           f"{brief(name)}; valid: {', '.join(BIT_GENERATORS)}")
    bit_generator = getattr(np.random, name)()
    bit_generator.state = state
    if isinstance(live, np.random.Generator) and type(live.bit_generator).__name__ == name:
        _load_into(memo, live, where, "generator", bit_generator.state)
        memo.actions.append(Action(functools.partial(setattr, live.bit_generator, "state", bit_generator.state),
                                   lambda: functools.partial(setattr, live.bit_generator, "state",
                                                             live.bit_generator.state)))
        return live
    return np.random.Generator(bit_generator)


def _restore_random_state(value: dict, live, where: str, memo: Memo):
    """A legacy ``np.random.RandomState``: checked on a new one, loaded into the live one."""
    generator = np.random.RandomState()
    generator.set_state(_restore(value["state"], None, where, memo.fresh()))
    if isinstance(live, np.random.RandomState):
        _load_into(memo, live, where, "generator", generator.get_state(legacy=False))
        memo.actions.append(Action(functools.partial(live.set_state, generator.get_state(legacy=False)),
                                   lambda: functools.partial(live.set_state, live.get_state(legacy=False))))
        return live
    return generator


def _restore_py_random(value: dict, live, where: str, memo: Memo):
    """A ``random.Random``: checked on a new one, loaded into the live one."""
    generator = random.Random()
    generator.setstate(value["state"])
    if type(live) is random.Random:
        _load_into(memo, live, where, "generator", generator.getstate())
        memo.actions.append(Action(functools.partial(live.setstate, generator.getstate()),
                                   lambda: functools.partial(live.setstate, live.getstate())))
        return live
    return generator


def _restore_torch_generator(value: dict, live, where: str, memo: Memo):
    """A ``torch.Generator`` on its stored device (:func:`torch_generator`), loaded into the live
    one on the same device."""
    generator = torch_generator(value["device"], where)
    generator.set_state(value["state"])
    if isinstance(live, torch.Generator) and str(live.device) == value["device"]:
        _load_into(memo, live, where, "generator", generator.get_state())
        memo.actions.append(Action(functools.partial(live.set_state, generator.get_state()),
                                   lambda: functools.partial(live.set_state, live.get_state())))
        return live
    return generator


def _restore_torch_state_dict(value: dict, live, where: str, memo: Memo):
    """An optimizer's or LR scheduler's ``state_dict()``: checked by loading it into a copy of the
    live one (torch's own checks), then loaded into the live one."""
    check_live_class(value, live, where)
    if not isinstance(live, TORCH_STATEFUL):  # (a forged file: a module's state unchecked, or no such method)
        raise RestoreError(f"cannot restore {where}: the checkpoint holds an optimizer's or LR scheduler's "
                           f"state_dict() there, this policy has a {class_name(type(live))}; valid: a "
                           "torch.optim optimizer or LR scheduler of the class stored")
    state = _restore(value["state"], None, f"{where}.state_dict()", memo.fresh())
    if isinstance(live, torch.optim.Optimizer):
        check_optimizer_state(state, live, where)
    try:  # torch's own check of what it loads, on a copy (sharing the tensors the load replaces): before any load
        copy.deepcopy(live, replaced_tensors(live)).load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - torch says why in its own words, any kind
        raise RestoreError(f"cannot restore {where}: its state_dict() is none {named(value['class'])} loads "
                           f"({type(exc).__name__}: {str(exc)[:160]}); valid: the state_dict() of a "
                           f"{named(value['class'])} over this policy's parameters") from None
    _load_into(memo, live, where, "optimizer" if isinstance(live, torch.optim.Optimizer) else "LR scheduler", state)
    memo.actions.append(Action(functools.partial(live.load_state_dict, state),
                               functools.partial(keep_state_dict, live)))
    return live


def _restore_module(value: dict, live, where: str, memo: Memo):
    """An ``nn.Module``, loaded into the live one of its class: its ``state_dict()`` (keys and
    shapes checked first: :func:`check_module_state`), its training modes, and the attributes
    ``state_dict()`` leaves out, submodule by submodule."""
    check_live_class(value, live, where)
    numbered = value.get("numbered", False)  # False in an older lrgym's record: a module met twice stored twice
    if type(numbered) is not bool:
        raise TypeError("its numbered is no bool")
    if numbered:  # before its attributes, which may refer to it (Memo)
        memo.restore(memo.reserve(), live)
    _load_into(memo, live, where, "module", None if numbered else value)  # (an older record: each name's own)
    # (a load that copies from the state, torch's own, needs no copy of it: 1x the weights less at the peak)
    state = _restore(value["state"], None, f"{where}.state_dict()", memo.fresh(copies=not loads_by_copy(live)))
    check_module_state(state, live, where)
    memo.copied.extend((tensor, state[key], f"{where}.state_dict()[{brief(key)}]")
                       for key, tensor in live.state_dict(keep_vars=True).items()
                       if isinstance(tensor, torch.Tensor) and isinstance(state[key], torch.Tensor)
                       and not isinstance(tensor, torch.nn.parameter.UninitializedTensorMixin))
    memo.actions.append(Action(functools.partial(live.load_state_dict, state),
                               functools.partial(keep_state_dict, live)))
    if type(value["training"]) is not bool or type(value.get("attributes", {})) is not dict:
        raise TypeError("its training is no bool or its attributes no dict")
    memo.actions.append(Action(functools.partial(live.train, value["training"]), functools.partial(keep_modes, live)))
    for sub, mode in _other_modes(value.get("other_modes", {}), live, where):  # none in an older lrgym's
        memo.actions.append(Action(functools.partial(setattr, sub, "training", mode),
                                   functools.partial(keep_modes, sub)))
    for name, attributes in value.get("attributes", {}).items():  # none in an older lrgym's
        path = f"{where}.{named(name)}" if name else where
        try:
            sub = live.get_submodule(name)
        except AttributeError:
            raise RestoreError(f"cannot restore {path}: the checkpoint holds attributes of a submodule "
                               f"{brief(name)}, which this policy's {named(value['class'])} has not; valid: "
                               "build the policy the same way as the one that was saved") from None
        current = vars(sub)
        restored = {key: _restore(item, current.get(key), f"{path}.{key}", memo)
                    for key, item in attributes.items()}
        memo.actions.append(Action(functools.partial(sub.__dict__.update, restored),
                                   functools.partial(keep_items, sub.__dict__, list(restored))))
    return live


def _restore_object(value: dict, live, where: str, memo: Memo):
    """Any other object, loaded into the live one of its class as pickle would
    (:func:`set_object_state`): its attributes, each into the live attribute of its name."""
    check_live_class(value, live, where)
    numbered = value.get("numbered", False)  # False in an older lrgym's record, stored at each place if shared
    if type(numbered) is not bool:
        raise TypeError("its numbered is no bool")
    _load_into(memo, live, where, "helper object", None if numbered else value)
    memo.restore(memo.reserve(), live)  # before its state, which may refer to it (a helper's owner: Memo)
    stored = value["state"]
    current = get_object_state(live)
    if type(stored) is dict and TAG not in stored:  # its attributes (to_checkpoint: a dict state)
        current = current if isinstance(current, dict) else {}
        state = {k: _restore(v, current.get(k), f"{where}.{k}" if type(k) is str else f"{where}[{brief(k)}]", memo)
                 for k, v in stored.items()}
    else:
        state = _restore(stored, current, where, memo)
    check_object_state(live, state, where)
    memo.actions.append(Action(functools.partial(set_object_state, live, state), functools.partial(keep_object, live)))
    return live


#: each record kind's restorer (:data:`~lrgym.torch._checkpoint_format.RECORDS` lists their fields)
_RECORD_RESTORERS = {
    "ref": _restore_ref,
    "numpy": _restore_numpy,
    "ndarray": _restore_ndarray,
    "path": _restore_path,
    "frozenset": _restore_frozenset,
    "range": _restore_range,
    "fraction": _restore_fraction,
    "dtype": _restore_dtype,
    "enum": _restore_enum,
    "counter": _restore_counter,
    "defaultdict": _restore_defaultdict,
    "deque": _restore_deque,
    "generator": _restore_generator,
    "random_state": _restore_random_state,
    "py_random": _restore_py_random,
    "torch_generator": _restore_torch_generator,
    "torch_state_dict": _restore_torch_state_dict,
    "module": _restore_module,
    "object": _restore_object,
}
