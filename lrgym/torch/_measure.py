"""The losses a :class:`~lrgym.torch.PolicyScheduler` measures with the user's callables
(``train_loss_fn()``, ``val_fn()``), each checked by the rule of every loss a policy observes."""

from __future__ import annotations

import math

import torch

from lrgym.brief import brief
from lrgym.monitor import check_loss
from lrgym.torch._tensors import one_number

__all__ = ["MEASURES", "measure"]


#: what ``train_loss_fn`` and ``val_fn`` must be (named when they are not)
MEASURES = {"train_loss_fn": "a function () -> loss, e.g. lambda: objective(model)",
            "val_fn": "a function () -> loss or () -> (loss, metric), e.g. lambda: (val_loss(model), accuracy(model))"}


def measure(train_loss_fn, val_fn, first: bool = False) -> tuple[float | None, float | None, float]:
    """(train_loss, val_loss, val_metric) from the user's callables (None / nan where absent),
    each loss checked by :func:`lrgym.monitor.check_loss`, the rule of every loss a policy observes:
    ``train_loss_fn()`` > 0 when it is the episode's L0 (``first``, at construction), else >= 0;
    ``val_fn()``'s loss >= 0; at construction both finite (``at_start``: nothing has trained, so a
    NaN there is no divergence); a metric of None is none (nan). A loss or metric that is not a real
    number (None, a string, a bool) is a ``ValueError`` naming the function, as is a refused loss."""
    with torch.no_grad():
        train = None if train_loss_fn is None else check_loss(
            one_number(train_loss_fn(), "train_loss_fn()", "the loss"), "train_loss_fn()", first=first,
            at_start=first)
        val, metric = None, math.nan
        if val_fn is not None:
            out = val_fn()
            if isinstance(out, list):  # per-example losses, or (loss, metric) as a list? not guessed
                raise ValueError(f"val_fn() returned a list, {brief(out)}; valid: one number (the mean "
                                 "validation loss), or a tuple (loss, metric)")
            if isinstance(out, tuple):
                if len(out) != 2:
                    raise ValueError(f"val_fn() returned {brief(out)}; valid: a loss, or (loss, metric)")
                val = check_loss(one_number(out[0], "val_fn()'s loss", "the validation loss"), "val_fn()'s loss",
                                 at_start=first)
                if out[1] is not None:  # (loss, None): no metric, as with val_fn() -> loss
                    metric = one_number(out[1], "val_fn()'s metric", "the metric, higher is better")
            else:
                val = check_loss(one_number(out, "val_fn()", "the validation loss, or return (loss, metric)"),
                                 "val_fn()", at_start=first)
    return train, val, metric
