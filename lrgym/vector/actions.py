"""The vector env's actions: check a batch of actions and set every sub-environment's new LR.

The compiled loops apply the single env's rules (:mod:`lrgym.actions`: :func:`~lrgym.actions.factor_lr`,
:func:`~lrgym.actions.log_lr_to_lr`, which :func:`lrgym.actions.next_lr` applies) element by element,
without fast-math, so every LR is the one the single env would set, to the bit. Only the
sub-environments in ``active`` are checked and updated (under ``NEXT_STEP`` autoreset the others
restart in this step and ignore their action).
"""

from __future__ import annotations

import numba
import numpy as np

from lrgym.actions import discrete_choices, factor_lr, log_lr_to_lr
from lrgym.brief import brief
from lrgym.settings import EnvSettings


@numba.njit(cache=True, nogil=True)
def _next_lrs_discrete(actions, active, factors, lr, lr_min, lr_max):
    for e in range(lr.shape[0]):
        if active[e]:
            lr[e] = factor_lr(lr[e], factors[actions[e]], lr_min, lr_max)


@numba.njit(cache=True, nogil=True)
def _next_lrs_log(actions, active, lr, log_lr_min, log_lr_max, lr_min, lr_max):
    for e in range(lr.shape[0]):
        if active[e]:
            lr[e] = log_lr_to_lr(actions[e], log_lr_min, log_lr_max, lr_min, lr_max)


@numba.njit(cache=True, nogil=True)
def _valid_discrete(actions, active, k):
    for e in range(actions.shape[0]):
        if active[e] and not (0 <= actions[e] < k):
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _valid_box(actions, active):
    for e in range(actions.shape[0]):
        a = actions[e]
        if active[e] and not (-1.0 <= a <= 1.0):  # also catches NaN
            return False
    return True


def check_actions(actions, active: np.ndarray, settings: EnvSettings) -> np.ndarray:
    """The batch of actions as a flat array (int64 indices or float64 in [-1, 1]); an action of
    an active sub-environment outside the single action space raises ``ValueError`` naming the
    valid choices (nothing has changed then)."""
    n = active.shape[0]
    try:
        arr = np.asarray(actions)
    except ValueError:  # a ragged sequence: it was NumPy's "setting an array element with a sequence"
        valid = f"({n},) integers" if settings.action_mode == "discrete" else f"({n}, 1) floats in [-1, 1]"
        raise ValueError(f"invalid actions {brief(actions)} (a ragged sequence); valid: {valid}") from None
    if settings.action_mode == "discrete":
        if arr.shape not in ((n,), (n, 1)):
            raise ValueError(f"actions of shape {arr.shape} invalid; valid: ({n},) integers")
        arr = arr.reshape(n)
        k = len(settings.factors)
        ok = arr.dtype.kind in "iu"  # integers only, as the single env (lrgym.actions.discrete_index)
        if ok:
            out = arr.astype(np.int64, copy=False)
            ok = _valid_discrete(out, active, k)
        if not ok:
            raise ValueError(f"invalid actions {brief(actions)}; valid choices: {discrete_choices(settings.factors, arr, n)}")
        return out
    if arr.shape not in ((n,), (n, 1)):
        raise ValueError(f"actions of shape {arr.shape} invalid; valid: ({n}, 1) floats in [-1, 1]")
    if arr.dtype.kind not in "iuf":  # not numbers: bools, strings, complex, objects
        raise ValueError(f"invalid actions {brief(actions)}; valid: ({n}, 1) floats in [-1, 1]")
    out = arr.reshape(n).astype(np.float64)
    if not _valid_box(out, active):
        raise ValueError(f"invalid actions {brief(actions)}; valid: floats in [-1, 1] (NaN is not allowed)")
    return out


def apply_actions(checked: np.ndarray, active: np.ndarray, settings: EnvSettings, lr: np.ndarray) -> None:
    """Set ``lr[e]`` of every active sub-environment to the LR its (checked) action sets."""
    if settings.action_mode == "discrete":
        _next_lrs_discrete(checked, active, settings.factors, lr, settings.lr_min, settings.lr_max)
    else:
        _next_lrs_log(checked, active, lr, settings.log_lr_min, settings.log_lr_max, settings.lr_min, settings.lr_max)
