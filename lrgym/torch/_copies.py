"""Whether a copied :class:`~lrgym.torch.PolicyScheduler` trains the parameters its losses are computed with.

``copy.deepcopy`` or ``pickle`` of a scheduler copies its optimizer, and the optimizer's parameters
with it. Copied in the same call as the model (``copy.deepcopy((model, opt, sched))``, any order:
``(sched, model)`` too), the copied optimizer holds the copied model's parameters. Copied without
it (``copy.deepcopy(sched)``, ``(opt, sched)``, ``pickle.dumps(sched)``), it holds new tensors that
no model holds: the copy's updates train tensors no loss is computed with, while the model trained
is never updated.

The copy cannot tell which at copy time: the model may be copied after the scheduler in the same
call, or never, and a pickle is unpickled elsewhere. What tells is the training loop itself: the
user's ``loss.backward()`` reaches the parameters of the model the loss was computed with.
:class:`BackwardWatch` hooks the copied parameters (``register_post_accumulate_grad_hook``: it
fires when backward accumulates into a parameter's ``.grad``, a gradient of exactly 0 too) and
judges at the copy's first updates:

* backward reached one of them, or one of them holds a ``.grad`` set since the copy (a loop that
  assigns ``p.grad`` itself): the copy trains the loss's parameters;
* at the first update, every ``.grad`` is still what the copy was made with (the same tensor,
  untouched, or None: torch's copy of an ``nn.Parameter`` has no ``.grad``): the copy may have been
  made between ``backward()`` and ``optimizer.step()``, or before ``step(loss)``, when no backward
  could run before this update: not known yet, judged at the next update;
* else (``.grad`` tensors only cleared or left stale since the copy, or none at a second update):
  no loss reaches them.

A copy without its model is thus told at its first or second update, and a whole copy never is.
"""

from __future__ import annotations

import weakref

#: what :meth:`BackwardWatch.verdict` returns
REACHED, NOT_YET, ORPHANED = "reached", "not yet", "orphaned"


def _grad_ref(param):
    """The parameter's ``.grad`` as (weak reference, version counter), or None without one."""
    grad = param.grad
    return None if grad is None else (weakref.ref(grad), grad._version)


class BackwardWatch:
    """Watches whether any ``loss.backward()`` reaches ``params`` (a copied optimizer's parameters)
    until :meth:`verdict` is final; its hooks are removed then, or when the watch is collected."""

    def __init__(self, params):
        self.params = list(params)
        self.reached = False
        self.updates = 0
        self._grads = [_grad_ref(p) for p in self.params]  # the .grad tensors the copy was made with
        seen = weakref.ref(self)

        def hook(param):
            watch = seen()
            if watch is not None:
                watch.reached = True

        handles = [p.register_post_accumulate_grad_hook(hook) for p in self.params if p.requires_grad]
        self._finalizer = weakref.finalize(self, _remove, handles)

    def _new_grad(self) -> bool:
        """Some parameter holds a ``.grad`` tensor other than the one it had at the copy."""
        return any(p.grad is not None and (ref is None or ref[0]() is not p.grad)
                   for p, ref in zip(self.params, self._grads))

    def _copied_grads_untouched(self) -> bool:
        """Every parameter's ``.grad`` is the one it was copied with, unchanged (None still None)."""
        return all(_same_grad(p, ref) for p, ref in zip(self.params, self._grads))

    def verdict(self) -> str:
        """At an update of the copy: :data:`REACHED`, :data:`NOT_YET` (its first update, on the
        gradients it was copied with) or :data:`ORPHANED`. The hooks are removed once it is final."""
        self.updates += 1
        if self.reached or self._new_grad():
            result = REACHED
        elif self.updates == 1 and self._copied_grads_untouched():
            return NOT_YET
        else:
            result = ORPHANED
        self._finalizer()
        return result


def _same_grad(param, ref) -> bool:
    """``param.grad`` is what :func:`_grad_ref` recorded: None still, or that tensor, unchanged."""
    grad = param.grad
    if ref is None or grad is None:
        return ref is None and grad is None  # (a recorded tensor since freed is no longer the .grad)
    return ref[0]() is grad and grad._version == ref[1]


def _remove(handles) -> None:
    for handle in handles:
        handle.remove()
