"""What an ``optimizer.step()`` did, as a :class:`~lrgym.torch.PolicyScheduler`'s step hooks read
it: whether the optimizer's ``step`` runs hooks at all (:func:`runs_step_hooks`), whether the step
skipped its update for an AMP overflow (:func:`skipped_inside`), and which ``.grad`` tensors it left
(:func:`grad_marks`)."""

from __future__ import annotations

import torch

__all__ = ["grad_marks", "runs_step_hooks", "skipped_inside"]


def skipped_inside(optimizer) -> bool:
    """Whether the ``optimizer.step()`` running now skips its update for an AMP overflow.

    An optimizer that handles AMP scaling itself (``fused=True`` SGD, Adam, AdamW: torch's
    ``_step_supports_amp_scaling``) is always called by ``GradScaler.step``, which sets
    ``optimizer.found_inf`` (nonzero: the scaled gradients overflowed) and ``optimizer.grad_scale``
    for that call only (it deletes them afterwards); the fused kernel then leaves the parameters
    and the state as they were. Other optimizers are not called at all on an overflow, and have no
    ``found_inf``. (Reading it synchronises a device, as ``GradScaler``'s own check of the unfused
    path does on every step.)"""
    found_inf = getattr(optimizer, "found_inf", None)
    return isinstance(found_inf, torch.Tensor) and bool(found_inf.item() != 0)


def grad_marks(params) -> list:
    """What each parameter's ``.grad`` is now, cheaply and without reading a device: None, or the
    tensor's ``id`` and version counter (every in-place change, ``zero_()`` of
    ``zero_grad(set_to_none=False)`` too, advances it). Equal marks: the gradients were not
    touched in between."""
    return [None if p.grad is None else (id(p.grad), p.grad._version) for p in params]


def runs_step_hooks(optimizer) -> bool:
    """Whether ``optimizer.step`` runs ``register_step_pre_hook`` / ``_post_hook`` hooks: not for a
    wrapper subclassing ``Optimizer`` without calling its ``__init__`` (such as Accelerate's)."""
    return (getattr(type(optimizer).step, "hooked", False) and hasattr(optimizer, "_optimizer_step_pre_hooks")
            and hasattr(optimizer, "_optimizer_step_post_hooks"))
