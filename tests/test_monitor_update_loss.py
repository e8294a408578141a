"""TrainingMonitor measures an update's minibatch loss once (``update_loss``) and records it.

The accumulator must end with exactly the float64 values the monitor's older code left there,
which accumulated with the kernels' ``loss_moments`` directly into ``acc`` (the scalar loss added
as it is): :class:`OldAccumulation` below is that code, written out, run on this machine beside
the monitor and compared to the bit. The mean and the variance themselves are checked against an
exact sum (``math.fsum``), and the number of ``loss_moments`` calls per update is counted.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrgym.monitor as monitor_module
from lrgym.monitor import TrainingMonitor, UpdateLoss, update_loss
from lrgym.tasks.base import S_BATCH_LOSS, S_LOSS_VAR
from lrgym.tasks.stats import A_BATCH_LOSS, A_LOSS_VAR, N_ACC, finish_stats, loss_moments

GRAD = np.array([0.3, -0.4, 1.2])


class OldAccumulation:
    """The loss half of ``record_update`` before it measured once: ``loss_moments`` straight into
    the accumulator, a scalar loss added as it is; ``finish_stats`` at the end of a step and the
    scalar step's Var = mean² (``close_step``)."""

    def __init__(self):
        self.acc = np.zeros(N_ACC)
        self.scalar = False

    def record(self, losses: np.ndarray) -> float:
        if losses.shape[0] == 1:
            self.acc[A_BATCH_LOSS] += float(losses[0])
            self.scalar = True
            return float(losses[0])
        return float(loss_moments(losses, self.acc))

    def close(self, n: int) -> np.ndarray:
        stats = np.zeros_like(TrainingMonitor(1, 1).stats)
        finish_stats(self.acc, n, False, stats)
        if self.scalar:
            stats[S_LOSS_VAR] = stats[S_BATCH_LOSS] ** 2
        self.acc[:] = 0.0
        self.scalar = False
        return stats


def _random_losses(rng: np.random.Generator) -> np.ndarray:
    """A minibatch of per-example losses of mixed sizes and magnitudes (1 = a scalar loss), with
    exact zeros and -0.0 among them: the cases where an added +0.0 could show."""
    b = int(rng.choice([1, 1, 2, 3, 7, 8, 9, 16, 33, 100, 257]))
    scale = 10.0 ** rng.uniform(-8, 6)
    losses = scale * rng.lognormal(0.0, rng.uniform(0.0, 3.0), size=b)
    if rng.random() < 0.2:
        losses[rng.random(b) < 0.3] = 0.0
    if rng.random() < 0.1:
        losses[:] = rng.choice([0.0, -0.0], size=b)
    return losses


def _bits(values) -> list[int]:
    return np.asarray(values, dtype=np.float64).view(np.uint64).tolist()


def test_many_updates_leave_the_accumulator_and_stats_of_the_old_formula_to_the_bit():
    rng = np.random.default_rng(20261205)
    updates_per_step = 7
    monitor = TrainingMonitor(horizon=200, updates_per_step=updates_per_step, cap_factor=1e300)
    monitor.start(0.1, train_loss=1.0, val_loss=1.0)
    old = OldAccumulation()
    steps = 0
    while steps < 150:
        losses = _random_losses(rng)
        expected_mean = old.record(losses)
        given = losses if rng.random() < 0.5 else update_loss(losses)  # raw, or measured beforehand
        monitor.record_update(given, GRAD * rng.normal())
        assert _bits(monitor.acc[[A_BATCH_LOSS, A_LOSS_VAR]]) == _bits(old.acc[[A_BATCH_LOSS, A_LOSS_VAR]])
        assert _bits([update_loss(losses).mean]) == _bits([expected_mean])
        if monitor.step_complete:
            stats = old.close(monitor.step_updates)
            monitor.close_step()
            assert _bits(monitor.stats[[S_BATCH_LOSS, S_LOSS_VAR]]) == _bits(stats[[S_BATCH_LOSS, S_LOSS_VAR]])
            monitor.observe(0.1)
            steps += 1
            if monitor.done:
                monitor.start(0.1, train_loss=1.0, val_loss=1.0)


@pytest.mark.parametrize("b", [2, 3, 8, 9, 31, 256])
def test_the_measured_mean_and_variance_are_the_exact_ones_to_rounding(b):
    rng = np.random.default_rng(b)
    for _ in range(50):
        losses = 10.0 ** rng.uniform(-3, 3) * rng.lognormal(0.0, 1.0, size=b)
        measured = update_loss(losses)
        mean = math.fsum(losses) / b
        var = math.fsum((x - mean) ** 2 for x in losses) / b
        assert measured.mean == pytest.approx(mean, rel=1e-13)
        assert measured.var == pytest.approx(var, rel=1e-9, abs=1e-12 * mean * mean)
    scalar = update_loss(np.float32(0.25))
    assert scalar == UpdateLoss(0.25, None)


def count_loss_moments(monkeypatch) -> list:
    """The batch sizes of the ``loss_moments`` calls lrgym.monitor makes from now on (the monitor's
    and everything that measures through it: ``update_loss``, PolicyScheduler.step)."""
    calls = []

    def counting(losses, acc):
        calls.append(len(losses))
        return loss_moments(losses, acc)

    monkeypatch.setattr(monitor_module, "loss_moments", counting)
    return calls


def test_one_update_computes_its_moments_once_however_many_questions_are_asked(monkeypatch):
    monitor = TrainingMonitor(horizon=5, updates_per_step=3, cap_factor=100.0)
    monitor.start(0.1, train_loss=2.0)
    calls = count_loss_moments(monkeypatch)
    losses = np.array([1.0, 2.0, 4.0])
    measured = update_loss(losses)  # the caller measures once ...
    assert monitor.check_update_loss(measured, "my loss") == pytest.approx(7.0 / 3.0, rel=1e-15)
    assert monitor.completes_step(measured) is False
    assert monitor.diverges(measured) is False
    assert monitor.record_update(measured, GRAD) is False  # ... and every call reads that measurement
    assert calls == [3]
    monitor.record_update(losses, GRAD)  # raw losses: measured inside, once (was twice)
    assert calls == [3, 3]


def test_a_refused_measured_loss_records_nothing():
    monitor = TrainingMonitor(horizon=5, updates_per_step=3)
    monitor.start(0.1)  # deferred: the first minibatch loss is L0 and must be > 0
    before = monitor.state_dict()
    with pytest.raises(ValueError, match="first loss"):
        monitor.record_update(update_loss([0.0, 0.0]), GRAD)
    after = monitor.state_dict()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            assert _bits(after[key]) == _bits(value), key
        else:
            assert after[key] == value or (value != value and after[key] != after[key]), key
