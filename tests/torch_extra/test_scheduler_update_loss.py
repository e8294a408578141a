"""PolicyScheduler measures each update's minibatch loss once and judges it by one mean.

The mean is the kernels' (``loss_moments``, the monitor's :func:`lrgym.monitor.update_loss`);
the reference decision is what a fresh :class:`~lrgym.monitor.TrainingMonitor` with the same cap
decides when it records the same losses (``record_update``'s return value).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lrgym.monitor as monitor_module  # noqa: E402
from lrgym.monitor import TrainingMonitor  # noqa: E402
from lrgym.tasks.stats import loss_moments  # noqa: E402
from lrgym.torch import PolicyScheduler  # noqa: E402

torch.set_num_threads(1)


class Keep:
    """A discrete policy that keeps the LR (factor 1.0 of the default factors)."""

    name = "keep"

    def reset(self, info):
        pass

    def act(self, obs, info):
        return 2


def _scheduler(cap_factor: float = 1e4, updates_per_step: int = 3) -> tuple:
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = PolicyScheduler(opt, Keep(), horizon=4, updates_per_step=updates_per_step, lr_init=1e-2,
                                train_loss_fn=lambda: 1.0, cap_factor=cap_factor)
    return model, opt, sched


def _update(model, opt) -> None:
    opt.zero_grad()
    model(torch.ones(2, 3)).pow(2).mean().backward()
    opt.step()


def test_one_step_call_computes_the_updates_moments_once(monkeypatch):
    model, opt, sched = _scheduler()
    calls = []

    def counting(losses, acc):
        calls.append(len(losses))
        return loss_moments(losses, acc)

    monkeypatch.setattr(monitor_module, "loss_moments", counting)
    for k in range(6):  # two whole steps: the check, the step's completion and the record share one
        _update(model, opt)
        sched.step(torch.tensor([0.5, 1.5, 2.5, 3.5]))
        assert calls == [4] * (k + 1)
    assert sched.last_epoch == 6 and sched.monitor.t == 2
