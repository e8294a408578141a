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

from lrgym.monitor import TrainingMonitor  # noqa: E402
from lrgym.tasks.stats import loss_moments  # noqa: E402
from lrgym.torch import PolicyScheduler  # noqa: E402
from test_monitor_update_loss import count_loss_moments  # noqa: E402 (tests/ is on sys.path: conftest)

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
    calls = count_loss_moments(monkeypatch)
    for k in range(6):  # two whole steps: the check, the step's completion and the record share one
        _update(model, opt)
        sched.step(torch.tensor([0.5, 1.5, 2.5, 3.5]))
        assert calls == [4] * (k + 1)
    assert sched.last_epoch == 6 and sched.monitor.t == 2


def _straddling_cases(n_cases: int = 12) -> list:
    """Loss vectors whose NumPy mean and kernel mean (``loss_moments``) differ, each with a cap
    between them (the lower of the two: one rule says over the cap, the other not), found by a
    seeded search: half with NumPy's mean the higher, half with the kernel's."""
    rng = np.random.default_rng(5)
    found = {True: [], False: []}
    for _ in range(20000):
        losses = rng.uniform(2.0, 1000.0, size=int(rng.integers(9, 300)))
        kernel = float(loss_moments(losses, np.zeros(8)))
        numpy_mean = float(np.mean(losses))
        if kernel != numpy_mean and len(found[numpy_mean > kernel]) < n_cases // 2:
            found[numpy_mean > kernel].append((losses, min(kernel, numpy_mean)))
        if all(len(v) == n_cases // 2 for v in found.values()):
            break
    return found[True] + found[False]


def test_a_skipped_update_is_judged_by_the_mean_record_update_judges_by():
    cases = _straddling_cases()
    assert len(cases) == 12  # both directions occur: NumPy's mean over the cap and the kernels' not, and back
    for losses, cap in cases:
        reference = TrainingMonitor(horizon=4, updates_per_step=3, cap_factor=cap)
        reference.start(1e-2, train_loss=1.0)
        assert reference.loss_cap == cap
        diverged = reference.record_update(losses, np.zeros(4))
        assert diverged == (float(loss_moments(losses, np.zeros(8))) > cap)

        model, opt, sched = _scheduler(cap_factor=cap)
        assert sched.monitor.loss_cap == cap
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched.step(torch.from_numpy(losses))  # no optimizer.step() ran: a skipped update, unless diverged
        assert sched.diverged == diverged and sched.done == diverged
        assert sched.last_epoch == int(diverged) and sched.monitor.updates == int(diverged)
        assert any("did not run" in str(w.message) for w in caught) == (not diverged)


def test_a_skipped_update_with_a_non_finite_loss_still_ends_the_run():
    for losses in ([1.0, float("nan")], [float("inf")], [1.0, 2.0, float("-inf")]):
        model, opt, sched = _scheduler()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched.step(torch.tensor(losses, dtype=torch.float64))
        assert sched.diverged and sched.last_epoch == 1
