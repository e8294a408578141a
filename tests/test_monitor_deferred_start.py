"""TrainingMonitor started without a training loss: L0 is the first minibatch loss, V0 the
validation loss given at the start (else L0), and the relative features use them.

Expected values are closed forms of the features' definitions (log ratios of the losses
handed to the monitor), never numbers produced by lrgym.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrgym.features import FEATURE_NAMES
from lrgym.monitor import TrainingMonitor

GRAD = np.array([0.3, -0.4, 1.2])


def features_after_one_step(val_at_start):
    monitor = TrainingMonitor(horizon=4, updates_per_step=2)
    obs0 = monitor.start(0.05, val_loss=val_at_start)
    assert np.all(obs0[:6] == 0.0)  # nothing measured yet: relative features 0
    monitor.record_update([1.0, 3.0], GRAD)  # first minibatch loss 2.0 = L0
    monitor.record_update([1.5, 2.5], 0.5 * GRAD)
    obs, reward = monitor.finish_step(0.05, train_loss=1.6, val_loss=2.4)
    return dict(zip(FEATURE_NAMES, obs.astype(float))), reward


def test_validation_loss_given_at_start_is_v0():
    f, reward = features_after_one_step(val_at_start=3.0)
    assert f["log_train_loss_rel"] == pytest.approx(math.log(1.6 / 2.0), rel=1e-6)
    assert f["log_val_loss_rel"] == pytest.approx(math.log(2.4 / 3.0), rel=1e-6)
    assert f["delta_log_val_loss"] == pytest.approx(math.log(2.4 / 3.0), rel=1e-6)
    assert f["log_batch_loss_rel"] == pytest.approx(math.log(2.0 / 2.0), abs=1e-7)  # mean batch loss 2.0
    assert reward == pytest.approx(math.log(2.0 / 1.6), rel=1e-12)


def test_without_a_validation_loss_v0_is_l0():
    f, _ = features_after_one_step(val_at_start=None)
    assert f["log_val_loss_rel"] == pytest.approx(math.log(2.4 / 2.0), rel=1e-6)
