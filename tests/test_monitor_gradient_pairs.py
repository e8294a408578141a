"""TrainingMonitor pairs an update's gradient with the previous one (g·g_prev, cos) only when
there is a previous gradient of the same size: a parameter group added mid-step (more
parameters) starts afresh, as an env's first update after a reset, instead of pairing with a
zero vector. Expected values are closed forms of the definitions (dot products of the
gradients handed over), never numbers produced by lrgym."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrgym.monitor import TrainingMonitor
from lrgym.tasks.stats import A_GRAD_COS, A_GRAD_DOT, A_GRAD_PAIRS


def test_a_gradient_of_another_size_has_no_pair_and_the_next_one_pairs_with_it():
    monitor = TrainingMonitor(horizon=4, updates_per_step=4)
    monitor.start(0.1, train_loss=1.0)
    g1, g2, g3 = np.array([1.0, 2.0, 2.0]), np.array([0.5, -1.0, 2.0, 1.0, 0.0]), np.array([1.0, 1.0, 0.0, 2.0, 3.0])
    monitor.record_update([1.0], g1)
    assert monitor.acc[A_GRAD_PAIRS] == 0.0  # the first update: nothing to pair with
    monitor.record_update([1.0], g2)  # a group was added: 5 parameters now
    assert monitor.acc[A_GRAD_PAIRS] == 0.0 and monitor.acc[A_GRAD_DOT] == 0.0 and monitor.acc[A_GRAD_COS] == 0.0
    monitor.record_update([1.0], g3)
    dot = sum(a * b for a, b in zip(g3, g2))
    cos = dot / math.sqrt(sum(a * a for a in g3) * sum(b * b for b in g2))
    assert monitor.acc[A_GRAD_PAIRS] == 1.0
    assert monitor.acc[A_GRAD_DOT] == pytest.approx(dot, rel=1e-12)
    assert monitor.acc[A_GRAD_COS] == pytest.approx(cos, rel=1e-12)


def test_an_emptied_previous_gradient_means_no_pair():
    """What PolicyScheduler leaves after undoing an episode's first step (prev_grad emptied)."""
    monitor = TrainingMonitor(horizon=4, updates_per_step=4)
    monitor.start(0.1, train_loss=1.0)
    monitor.record_update([1.0], np.array([1.0, 2.0]))
    monitor.prev_grad = np.zeros(0)
    monitor.record_update([1.0], np.array([3.0, 4.0]))
    assert monitor.acc[A_GRAD_PAIRS] == 0.0 and monitor.acc[A_GRAD_DOT] == 0.0


def test_a_kept_gradient_records_what_a_copied_one_does_to_the_bit():
    """record_update(keep_grad=True) keeps the caller's vector as prev_grad instead of copying it:
    the same accumulators, to the bit, over gradients of changing size (no pair after a change),
    and prev_grad is then that very vector, holding the values handed over."""
    rng = np.random.default_rng(7)
    sizes = [3, 3, 1001, 1001, 1001, 5, 5]
    grads = [rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4) for n in sizes]
    copied, kept = (TrainingMonitor(horizon=4, updates_per_step=len(sizes)) for _ in range(2))
    for monitor in (copied, kept):
        monitor.start(0.1, train_loss=1.0)
    for g in grads:
        copied.record_update([1.0], g.copy())
        given = g.copy()
        kept.record_update([1.0], given, keep_grad=True)
        assert kept.prev_grad is given and np.array_equal(given, g)
        assert np.array_equal(kept.acc.view(np.uint64), copied.acc.view(np.uint64))
        assert np.array_equal(kept.prev_grad, copied.prev_grad)
    assert copied.acc[A_GRAD_PAIRS] == 4.0
