"""What a restore plan's ``load()`` does to the live objects, and how each change is undone:
:class:`Action` pairs a change (a tensor copied into, a generator's state set, an object's state
set, a module's or optimizer's ``load_state_dict``...) with a ``keep()`` that, called just before
the change, returns the function putting back what it changes. So
:func:`~lrgym.torch._checkpoint_restore.restore_plan`'s load is all or nothing even when one of
its changes raises halfway (a class's own ``__setstate__``, a tensor copy torch refuses):
:func:`put_back` undoes the changes made, in reverse order.

What is kept is what the change writes, read through each object's public API (a shallow copy of
an object's ``__dict__`` and its slots: the values it holds are loaded in place by their own
actions, or are new objects). A class whose ``__setstate__`` keeps state elsewhere than in its
attributes and slots is beyond it.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Callable

import torch

from lrgym.torch._checkpoint_checks import same_bits
from lrgym.torch._checkpoint_format import RestoreError


def copy_into(live: torch.Tensor, value: torch.Tensor) -> None:
    """``value``'s elements into the live tensor (a parameter too: outside autograd)."""
    with torch.no_grad():
        live.copy_(value)


def load_tensor(live: torch.Tensor, value: torch.Tensor, where: str) -> None:
    """:func:`copy_into`, a copy torch refuses all the same (one
    :func:`~lrgym.torch._checkpoint_checks.why_no_copy` cannot
    foresee: a tensor subclass's own ``copy_``...) a :class:`RestoreError` naming ``where``."""
    try:
        copy_into(live, value)
    except RuntimeError as exc:
        raise RestoreError(f"cannot restore {where}: torch refuses to copy the saved tensor into the live one "
                           f"({type(exc).__name__}: {str(exc)[:160]}); valid: a live tensor that takes a copy_() "
                           "of one of its shape and dtype") from exc


@dataclasses.dataclass(frozen=True)
class Action:
    """One change of a live object that a plan's ``load()`` makes: ``apply()`` makes it;
    ``keep()``, called just before, returns the function that puts back what ``apply`` changes
    (the live tensor's values, a generator's state, an object's attributes and slots, a module's
    ``state_dict()``...). ``load()`` calls the undo functions in reverse order when an action
    raises, so a load that fails halfway leaves the live objects as they were."""

    apply: Callable[[], object]
    keep: Callable[[], Callable[[], object]]


def put_back(undo: list, error: BaseException) -> None:
    """Undo the actions applied (``undo``: their undo functions, in the order applied) in reverse.
    An undo that raises too is said on ``error`` (a note) and the others still run."""
    for undo_one in reversed(undo):
        try:
            undo_one()
        except Exception as exc:  # noqa: BLE001 - the load's own error is the one raised
            note = f"lrgym could not undo part of the load: {type(exc).__name__}: {str(exc)[:160]}"
            if hasattr(error, "add_note"):  # Python >= 3.11
                error.add_note(note)


#: a key or slot that had no value before the change (removed again by its undo)
_UNSET = object()


def keep_tensor(live: torch.Tensor) -> Callable[[], object]:
    """The live tensor's elements, copied back into it. A copy back that torch refuses as it refused
    the load's own (which then wrote nothing: torch checks before it writes) has nothing to undo:
    the elements are still the kept ones, to the bit, and nothing is said."""
    kept = live.detach().clone()

    def put_back() -> None:
        try:
            copy_into(live, kept)
        except RuntimeError:
            if not same_bits(live, kept):
                raise

    return put_back


def keep_object(obj) -> Callable[[], object]:
    """What :func:`~lrgym.torch._object_state.set_object_state` (or a class's own
    ``__setstate__``) changes: the object's ``__dict__`` (a shallow copy: the values it holds are
    restored in place by their own actions, or are new objects) and its slots; put back as they
    were, attributes added since removed."""
    attributes = dict(vars(obj)) if hasattr(obj, "__dict__") else None
    slots = {}
    for name in _slot_names(type(obj)):
        try:
            slots[name] = object.__getattribute__(obj, name)
        except AttributeError:
            slots[name] = _UNSET

    def put_back() -> None:
        if attributes is not None:
            obj.__dict__.clear()
            obj.__dict__.update(attributes)
        for name, value in slots.items():
            if value is _UNSET:
                try:
                    object.__delattr__(obj, name)
                except AttributeError:  # (still unset)
                    pass
            else:
                object.__setattr__(obj, name, value)

    return put_back


def _slot_names(cls: type) -> list[str]:
    """The slots of ``cls`` and its bases (private names mangled), as ``copyreg`` lists them."""
    names = []
    for base in cls.__mro__:
        declared = base.__dict__.get("__slots__", ())
        for name in [declared] if isinstance(declared, str) else declared:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{base.__name__.lstrip('_')}{name}"
            names.append(name)
    return names


def keep_items(mapping: dict, keys) -> Callable[[], object]:
    """``mapping.update(...)`` of ``keys`` undone: each key's value put back, a key added removed."""
    kept = {key: mapping.get(key, _UNSET) for key in keys}

    def put_back() -> None:
        for key, value in kept.items():
            if value is _UNSET:
                mapping.pop(key, None)
            else:
                mapping[key] = value

    return put_back


def keep_state_dict(live) -> Callable[[], object]:
    """A module's, optimizer's or LR scheduler's ``state_dict()`` as it is, loaded back with
    ``load_state_dict()``: deep-copied, since it holds the live tensors, but for the tensors the
    load replaces rather than writes into (:func:`replaced_tensors`: a torch optimizer's state,
    kept by reference, not copied: twice the parameters' memory for Adam)."""
    return functools.partial(live.load_state_dict, copy.deepcopy(live.state_dict(), replaced_tensors(live)))


def replaced_tensors(live) -> dict:
    """A ``copy.deepcopy`` memo that keeps, as themselves, the tensors ``live.load_state_dict``
    replaces and never writes into: a ``torch.optim`` optimizer's parameters and state tensors
    when its ``load_state_dict`` is torch's own (which builds a new state from the one given);
    an LR scheduler's optimizer, whole, when the ``load_state_dict`` of the scheduler and of every
    scheduler it holds (``SequentialLR``'s, ``ChainedScheduler``'s) is torch's own (which sets the
    scheduler's attributes and never touches its optimizer: the check's copy of a scheduler copied
    the optimizer with every parameter and state tensor, three times the parameters' memory for
    Adam); else none (a module's ``load_state_dict`` copies into its parameters, a class's own
    method may write anywhere)."""
    if isinstance(live, torch.optim.lr_scheduler.LRScheduler) and _torchs_own_scheduler_loads(live):
        optimizer = live.optimizer
        return {id(optimizer): optimizer}
    if not isinstance(live, torch.optim.Optimizer) or \
            type(live).load_state_dict is not torch.optim.Optimizer.load_state_dict:
        return {}
    kept = {id(p): p for group in live.param_groups for p in group["params"]}
    kept.update((id(v), v) for state in live.state.values() for v in state.values() if isinstance(v, torch.Tensor))
    return kept


def loads_by_copy(module: torch.nn.Module) -> bool:
    """Whether ``module.load_state_dict(state)`` only copies the given tensors into its parameters
    and buffers and keeps none of them: torch's own load all the way down (``nn.Module``'s
    ``load_state_dict``, each submodule's ``_load_from_state_dict`` torch's, no extra state, no
    load hooks, torch's ``copy_`` rather than its swap of tensors). Then the state handed to it
    need not be a fresh copy of the checkpoint's tensors. A class's own method or hook may keep
    what it is given (which would then be the caller's checkpoint): False."""
    if type(module).load_state_dict is not torch.nn.Module.load_state_dict or \
            torch.__future__.get_swap_module_params_on_conversion():
        return False
    return all(type(sub)._load_from_state_dict.__module__.split(".")[0] == "torch"
               and type(sub).set_extra_state is torch.nn.Module.set_extra_state
               and not sub._load_state_dict_pre_hooks and not sub._load_state_dict_post_hooks
               for sub in module.modules())


def _torchs_own_scheduler_loads(scheduler) -> bool:
    """Whether ``scheduler``'s ``load_state_dict``, and that of each scheduler it holds, is one of
    :mod:`torch.optim.lr_scheduler`'s own, all on one optimizer."""
    if type(scheduler).load_state_dict.__module__ != "torch.optim.lr_scheduler":
        return False
    held = getattr(scheduler, "_schedulers", [])
    return all(isinstance(s, torch.optim.lr_scheduler.LRScheduler) and s.optimizer is scheduler.optimizer
               and _torchs_own_scheduler_loads(s) for s in held)


def keep_modes(module: torch.nn.Module) -> Callable[[], object]:
    """The training mode of the module and of each of its submodules, put back one by one."""
    modes = [(sub, sub.training) for sub in module.modules()]

    def put_back() -> None:
        for sub, mode in modes:
            sub.training = mode

    return put_back
