"""TrainingMonitor's divergence rule on a loop of your own: a non-finite loss, or a loss above
cap_factor · max(L0, loss_scale), ends the episode — also when L0 is the first minibatch loss
(``start`` without ``train_loss``), where the cap is only known after the first update.

Expected values are the rule's closed form; no lrgym number is used as a reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrgym.monitor import TrainingMonitor

GRAD = np.array([0.3, -0.4])


@pytest.mark.parametrize("losses", [[1.0, math.nan, 2.0], [math.nan], [math.inf, 1.0]])
def test_a_non_finite_minibatch_loss_is_divergence(losses):
    monitor = TrainingMonitor(horizon=5, updates_per_step=3, cap_factor=100.0)
    monitor.start(0.1, train_loss=2.0, val_loss=2.0)
    assert monitor.record_update([1.5, 2.5], GRAD) is False
    assert monitor.record_update(losses, GRAD, params_finite=True) is True
    assert monitor.diverged and monitor.step_complete
    _, reward = monitor.finish_step(0.1, train_loss=1.0)
    assert monitor.done
    assert reward == pytest.approx(math.log(2.0 / (100.0 * 2.0)), rel=1e-12)  # log(L_prev / cap)


def test_a_nan_training_loss_after_the_step_is_divergence():
    monitor = TrainingMonitor(horizon=5, updates_per_step=1, cap_factor=100.0)
    monitor.start(0.1, train_loss=2.0)
    assert monitor.record_update([1.0, 2.0], GRAD) is False
    obs, reward = monitor.finish_step(0.1, train_loss=math.nan)
    assert monitor.diverged and monitor.done
    assert np.all(np.isfinite(obs))
    assert reward == pytest.approx(math.log(2.0 / 200.0), rel=1e-12)


def test_deferred_l0_sets_no_cap_before_the_first_loss_is_known():
    """Started without a loss, the monitor takes L0 from the first minibatch: a first loss of
    any size is healthy (here 10⁶, far above cap_factor · 1), and the cap becomes cap_factor · L0."""
    monitor = TrainingMonitor(horizon=5, updates_per_step=2, cap_factor=100.0)
    monitor.start(0.1)
    assert monitor.record_update([1e6, 3e6], GRAD) is False
    assert monitor.record_update([1.5e6, 2.5e6], GRAD) is False
    monitor.finish_step(0.1, train_loss=1.5e6)
    assert not monitor.diverged
    assert monitor.loss_cap == pytest.approx(100.0 * 2e6, rel=1e-15)  # cap_factor · first mean loss


def test_deferred_l0_still_ends_a_first_step_that_blew_past_the_cap():
    """With L0 deferred, the first step's updates run uncapped; once L0 (the first minibatch
    loss, 5) is known, a step whose mean minibatch loss passed cap_factor · L0 = 500 is
    divergence — as it is for a monitor that was given L0 = 5 at the start."""
    given = TrainingMonitor(horizon=5, updates_per_step=2, cap_factor=100.0)
    given.start(0.1, train_loss=5.0)
    given.record_update([5.0, 5.0], GRAD)
    assert given.record_update([4e3, 6e3], GRAD) is True  # 5,000 > 500

    deferred = TrainingMonitor(horizon=5, updates_per_step=2, cap_factor=100.0)
    deferred.start(0.1)
    assert deferred.record_update([5.0, 5.0], GRAD) is False
    assert deferred.record_update([4e3, 6e3], GRAD) is False  # cap not known yet
    deferred.finish_step(0.1, train_loss=4.0)  # a healthy-looking evaluation does not hide it
    assert deferred.loss_cap == pytest.approx(500.0, rel=1e-15)
    assert deferred.diverged and deferred.done


def test_a_nan_gradient_and_loss_still_give_a_finite_bounded_observation():
    """A loop whose last update went NaN (loss, gradient, parameters): the observation stays
    finite and inside the observation bounds, as the features' docstring promises."""
    monitor = TrainingMonitor(horizon=5, updates_per_step=3, cap_factor=100.0)
    monitor.start(0.1, train_loss=2.0)
    monitor.record_update([1.0, 2.0], GRAD)
    assert monitor.record_update([math.nan, math.nan], np.array([math.nan, 1.0]), params_finite=False) is True
    obs, _ = monitor.finish_step(0.1, train_loss=math.nan, val_loss=math.nan)
    assert monitor.diverged
    assert np.all(np.isfinite(obs)) and np.all(np.abs(obs) <= 100.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("which", ["train_loss", "val_loss"])
def test_a_start_loss_that_is_not_finite_is_refused_not_replaced_by_one(which, bad):
    """A loss measured before the first update (L0, V0) is the episode's reference, not a
    divergence: nothing has trained yet. A NaN or inf there used to be replaced by 1.0
    (``start_episode``'s fallback) in silence: the run went on, every feature read relative to 1
    and the cap was cap_factor · 1, whatever the task's loss scale."""
    monitor = TrainingMonitor(horizon=5, updates_per_step=2)
    losses = {"train_loss": 2.0, which: bad}
    with pytest.raises(ValueError, match=rf"the first {which.replace('_loss', '')}\w* loss is -?(nan|inf), measured "
                                         r"before the first update: it must be finite"):
        monitor.start(0.1, **losses)
    deferred = TrainingMonitor(horizon=5, updates_per_step=2)
    if which == "val_loss":  # a deferred L0 with a given V0: V0 is checked all the same
        with pytest.raises(ValueError, match=r"the first validation loss is -?(nan|inf)"):
            deferred.start(0.1, val_loss=bad)
    monitor.start(0.1, train_loss=2.0, val_loss=3.0)  # the refusal changed nothing: a valid start runs
    assert monitor.record_update([1.0, 3.0], GRAD) is False and not monitor.diverged


def test_a_first_minibatch_loss_that_is_not_finite_still_ends_the_run():
    """The deferred L0 is the first update's loss: a NaN there is a divergence, as in the env."""
    monitor = TrainingMonitor(horizon=5, updates_per_step=2)
    monitor.start(0.1)
    assert monitor.record_update([math.nan, 1.0], GRAD) is True
    monitor.finish_step(0.1)
    assert monitor.done and monitor.diverged
