"""A policy's own state inside a :class:`~lrgym.torch.PolicyScheduler` checkpoint: saved through
its ``state_dict()`` / ``load_state_dict()`` if it has both (:func:`_has_state_dict`; loaded all or
nothing, :func:`_load_own_state`), else as its attributes or as a module
(:mod:`lrgym.torch.checkpoint`)."""

from __future__ import annotations

import copy
import functools

import torch

from lrgym.torch._checkpoint_actions import put_back
from lrgym.torch.checkpoint import TAG, class_name, from_checkpoint, get_object_state, set_object_state, to_checkpoint

__all__ = ["load_policy_state", "policy_state"]


def _has_state_dict(policy) -> bool:
    """The policy checkpoints itself (``state_dict()`` and ``load_state_dict(state)``, PyTorch's hook).
    An ``nn.Module`` policy's inherited pair does not: it holds the parameters and buffers, not the
    module's other attributes (a step counter, a NumPy array), which were dropped in silence; such a
    policy is saved as a module (:func:`~lrgym.torch.checkpoint.to_checkpoint`: both)."""
    if (isinstance(policy, torch.nn.Module) and type(policy).state_dict is torch.nn.Module.state_dict
            and type(policy).load_state_dict is torch.nn.Module.load_state_dict):
        return False
    return callable(getattr(policy, "state_dict", None)) and callable(getattr(policy, "load_state_dict", None))


def _load_own_state(policy, state) -> None:
    """``policy.load_state_dict(state)``, all or nothing. The policy's own method may raise after
    it changed part of the policy (an attribute set before a later check fails; torch's strict
    ``load_state_dict`` copies the tensors that match before it raises about the rest): then the
    state the policy had, taken with its own ``state_dict()`` (deep-copied: it may hand out its
    live arrays) before the call, is loaded back and the error raised, so a refused state leaves
    the policy as it was, as every other part of :meth:`PolicyScheduler.load_state_dict` does.
    An interrupt halfway (Ctrl-C) too; the error raised is the first one, a put-back that fails
    as well said on it (a note), as :func:`~lrgym.torch.checkpoint.restore_plan`'s load does."""
    before = copy.deepcopy(policy.state_dict())
    try:
        policy.load_state_dict(state)
    except BaseException as exc:  # an interrupt halfway too: the policy as it was
        put_back([functools.partial(policy.load_state_dict, before)], exc)
        raise


def policy_state(policy):
    """The policy's part of :meth:`PolicyScheduler.state_dict`, as plain data and tensors."""
    if _has_state_dict(policy):
        return {TAG: "state_dict", "class": class_name(type(policy)),
                "state": to_checkpoint(policy.state_dict(), "policy.state_dict()")}
    return to_checkpoint(policy, "policy")


def load_policy_state(policy, stored) -> None:
    """Load :func:`policy_state`'s ``stored`` (also an older lrgym's) into ``policy``, all or nothing."""
    kind = stored.get(TAG) if isinstance(stored, dict) else None
    if kind == "state_dict":  # (an nn.Module policy's state_dict() alone: a state of an older lrgym)
        loads = _has_state_dict(policy) or isinstance(policy, torch.nn.Module)
        if stored["class"] != class_name(type(policy)) or not loads:
            raise ValueError(f"the state is of a policy {stored['class']} with load_state_dict(), this scheduler "
                             f"drives a {class_name(type(policy))}; valid: the same kind of policy")
        _load_own_state(policy, from_checkpoint(stored["state"], None, "policy.state_dict()"))
    elif kind in ("object", "module"):  # all or nothing (from_checkpoint builds and checks, then loads)
        from_checkpoint(stored, policy, "policy")
    else:  # a state of an older lrgym: the policy's raw __getstate__()
        set_object_state(policy, from_checkpoint(stored, get_object_state(policy), "policy"))
