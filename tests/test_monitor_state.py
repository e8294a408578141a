"""TrainingMonitor.load_state_dict checks every value of a state before it sets any: the arrays'
dtypes and shapes (tests/torch_extra/test_scheduler_checkpoint.py) and here the scalars — the
counters, flags, losses and constant info entries — which were set as they came: a counter of
another type or out of range, a flag that is no bool, a forged ``_constants`` went into the
compiled steps and :meth:`~TrainingMonitor.info` later, failing there (or not at all) mid-run.
The reference for a good state is the monitor it came from, continued alongside."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrgym.monitor import TrainingMonitor

HORIZON, INNER = 5, 2


def monitor_after(updates: int) -> TrainingMonitor:
    """A described monitor after ``updates`` updates of a fixed run (steps closed as they fill)."""
    monitor = TrainingMonitor(horizon=HORIZON, updates_per_step=INNER)
    monitor.start(0.1, val_loss=np.float32(2.5))  # deferred: L0 from the first loss, V0 kept as given
    monitor.describe(1e-4, 1.0, "adam", "discrete")
    for k in range(updates):
        monitor.record_update([1.0 / (k + 1), 2.0 / (k + 1)], np.array([1.0, -2.0, 0.5]) / (k + 1))
        if monitor.step_complete:
            monitor.finish_step(0.1, 1.5 / (k + 1), 1.6 / (k + 1))
    return monitor


def everything(monitor: TrainingMonitor):
    """The monitor's state, comparable: arrays and losses by their bits (a loss given as a NumPy
    float32 comes back as the Python float of its value), the rest by repr."""
    arrays = tuple(getattr(monitor, name).tobytes() for name in TrainingMonitor._ARRAYS)
    losses = ("_first_loss", "_pending_val")
    return arrays, tuple(repr(getattr(monitor, name)) if name not in losses else
                         None if getattr(monitor, name) is None else np.float64(getattr(monitor, name)).tobytes()
                         for name in TrainingMonitor._SCALARS)


CONSTANTS = monitor_after(0)._constants


@pytest.mark.parametrize("name, forged, said", [
    ("t", "3", r"'t' is '3' \(str\); valid: an integer from 0 to 5"),
    ("t", 2.0, r"'t' is 2.0 \(float\); valid: an integer from 0 to 5"),
    ("t", HORIZON + 1, r"'t' is 6 \(int\); valid: an integer from 0 to 5"),
    ("updates", -1, r"'updates' is -1 \(int\); valid: an integer from 0 to 1000000000"),
    ("step_updates", True, r"'step_updates' is True \(bool\); valid: an integer"),
    ("step_updates", None, r"'step_updates' is None \(NoneType\); valid: an integer"),
    # more updates than a step has: its statistics, averaged over them, wrong (until 2026-12-06: up to 1e9)
    ("step_updates", INNER + 1, r"'step_updates' is 3 \(int\); valid: an integer from 0 to 2"),
    ("started", 1, r"'started' is 1 \(int\); valid: True or False"),
    ("diverged", "no", r"'diverged' is 'no' \(str\); valid: True or False"),
    ("_scalar_losses", None, r"'_scalar_losses' is None \(NoneType\); valid: True or False"),
    ("_first_loss", "0.5", r"'_first_loss' is '0.5' \(str\); valid: a real number"),
    ("_pending_val", [1.0, 2.0], r"'_pending_val' is \[1.0, 2.0\] \(list\); valid: a real number"),
    ("_constants", (1, 2), r"'_constants' is \(1, 2\) \(tuple\); valid: None or the 8 entries \(family, "),
    ("_constants", CONSTANTS[:6] + (np.int64(99),) + CONSTANTS[7:],
     r"'_constants' optimizer is .*99.* \(int64\); valid: an integer from 0 to"),
    ("_constants", CONSTANTS[:4] + ("1e-4",) + CONSTANTS[5:],
     r"'_constants' lr_min is '1e-4' \(str\); valid: a real number"),
])
def test_a_forged_scalar_is_refused_naming_it_and_nothing_changes(name, forged, said):
    state = monitor_after(5).state_dict()
    monitor = monitor_after(1)
    before = everything(monitor)
    with pytest.raises(ValueError, match=f"monitor state {said}"):
        monitor.load_state_dict({**state, name: forged})
    assert everything(monitor) == before
    monitor.load_state_dict(state)  # the good state still loads
    assert everything(monitor) == everything(monitor_after(5))


@pytest.mark.parametrize("saved_after", [0, 1, 3, 6])
def test_a_loaded_state_continues_as_the_monitor_it_came_from(saved_after):
    """The reference: the saved monitor itself, continued; the loaded one, given its state with
    NumPy counters and flags (as a state loaded through NumPy may hold them), gives the same
    observations, rewards and info to the bit, its scalars of the types a monitor makes."""
    saved = monitor_after(saved_after)
    state = saved.state_dict()
    state.update({k: np.int64(state[k]) for k in ("t", "updates", "step_updates")})
    state.update({k: np.bool_(state[k]) for k in ("started", "diverged", "_scalar_losses")})
    loaded = TrainingMonitor(horizon=HORIZON, updates_per_step=INNER)
    loaded.load_state_dict(state)
    assert all(type(getattr(loaded, k)) is int for k in ("t", "updates", "step_updates"))
    assert all(type(getattr(loaded, k)) is bool for k in ("started", "diverged", "_scalar_losses"))
    for k in range(saved_after, 2 * HORIZON):
        if saved.done:
            break
        grad = np.array([0.3, 1.0, -0.25]) * math.cos(k)
        assert saved.record_update([0.5 + k, 0.25], grad) == loaded.record_update([0.5 + k, 0.25], grad)
        if saved.step_complete:
            a, b = saved.finish_step(0.2, 0.9, 1.1), loaded.finish_step(0.2, 0.9, 1.1)
            assert a[0].tobytes() == b[0].tobytes() and np.float64(a[1]).tobytes() == np.float64(b[1]).tobytes()
            assert repr(saved.info(0.2)) == repr(loaded.info(0.2))
    assert everything(saved) == everything(loaded)
