"""``reward="metric_delta"`` without a validation metric is refused at the start of the episode.

The reward is M_t − M_{t−1}; with no metric (NaN, the default of ``TrainingMonitor.start`` and
what ``PolicyScheduler`` measures when ``val_fn`` returns a loss only) every healthy step's
reward was NaN, silently. With the metric given, the rewards are the metric's differences.
"""

import math

import numpy as np
import pytest

from lrgym.monitor import TrainingMonitor
from lrgym.rewards import REWARDS


def step(monitor, loss, metric):
    monitor.record_update([loss, loss], np.array([0.1, 0.2]))
    return monitor.finish_step(0.1, train_loss=loss, val_metric=metric)[1]


@pytest.mark.parametrize("missing", [math.nan, None, math.inf])
def test_metric_delta_without_a_metric_is_named(missing):
    monitor = TrainingMonitor(horizon=3, updates_per_step=1, reward="metric_delta")
    kwargs = {} if missing is None else {"val_metric": missing}
    with pytest.raises(ValueError) as err:
        monitor.start(0.1, train_loss=2.0, **kwargs)
    message = str(err.value)
    assert "metric_delta" in message and "val_metric" in message
    assert all(r in message for r in REWARDS if r != "metric_delta")


def test_metric_delta_rewards_the_metric_differences():
    monitor = TrainingMonitor(horizon=3, updates_per_step=1, reward="metric_delta")
    monitor.start(0.1, train_loss=2.0, val_metric=0.25)
    metrics = [0.5, 0.4, 0.75]
    rewards = [step(monitor, loss, m) for loss, m in zip([1.5, 1.2, 1.0], metrics)]
    assert rewards == pytest.approx(np.diff([0.25, *metrics]), rel=0, abs=1e-15)


def test_loss_rewards_need_no_metric():
    monitor = TrainingMonitor(horizon=2, updates_per_step=1, reward="log_improvement")
    monitor.start(0.1, train_loss=2.0)
    assert step(monitor, 1.0, math.nan) == pytest.approx(math.log(2.0))



def test_metric_delta_takes_a_metric_of_any_real_number_type():
    """A metric as users compute it, a NumPy integer (a count of correct answers) or a 0-d array,
    was refused as missing; the rewards are its differences, as for a float."""
    for start in (np.int64(3), np.array(3.0), np.float32(3.0)):
        monitor = TrainingMonitor(horizon=2, updates_per_step=1, reward="metric_delta")
        monitor.start(0.1, train_loss=2.0, val_metric=start)
        assert step(monitor, 1.5, 5.0) == pytest.approx(2.0, rel=0, abs=1e-12)
    for bad in (True, "0.5"):
        with pytest.raises(ValueError, match="metric_delta"):
            TrainingMonitor(horizon=2, updates_per_step=1, reward="metric_delta").start(0.1, train_loss=2.0,
                                                                                         val_metric=bad)
