"""Rewards by name.

All rewards are computed on the training objective L_t (the loss the inner optimizer
minimises, measured after the step's updates) unless noted:

==================  ==========================================================================
name                reward of step t
==================  ==========================================================================
log_improvement     log(L_{t-1} / L_t); telescopes to log(L_0 / L_T) (default)
sign_delta          α1·sign(ΔL) + α2·ΔL with ΔL = (L_{t-1} − L_t) / L_0 (α1 = α2 = 1 default)
final               0 until the last step, then log(L_0 / L_T) (sparse)
metric_delta        M_t − M_{t-1}: change of the validation metric (accuracy, AUC, R², ...)
==================  ==========================================================================

Divergence penalty (the episode terminates): ``log_improvement`` and ``final`` give the episode
a total return of log(L_0 / cap) (as if the loss had ended at the cap, ``cap_factor``·max(L_0,
loss_scale), see the env's Episode End; −log(cap_factor) unless L_0 < the task's loss scale);
``metric_delta`` a total of −1; ``sign_delta`` −α1 for the diverging and every remaining step.

A reward reads the features' memory of the previous step (:mod:`lrgym.features`, slots ``M_*``)
and never writes it: :func:`lrgym.features.advance_memory` moves the memory on after the reward
(:func:`lrgym.step.observe` runs features, reward, advance in that order).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np

from lrgym.brief import brief
from lrgym.features import M_CAP, M_L0, M_L_PREV, M_METRIC0, M_METRIC_PREV, safe_loss
from lrgym.tasks.base import S_DIVERGED, S_TRAIN_LOSS, S_VAL_METRIC, is_real

REWARDS = ("log_improvement", "sign_delta", "final", "metric_delta")
R_LOG_IMPROVEMENT, R_SIGN_DELTA, R_FINAL, R_METRIC_DELTA = range(4)
#: the largest ``sign_delta`` weight α1, α2. The reward α1·sign(ΔL) + α2·ΔL/L_0 is finite for
#: every finite α only while α·ΔL/L_0 is; with α ≤ 10⁶ that holds for any |ΔL/L_0| up to
#: ≈ 10³⁰² (the losses are capped at ``cap_factor``·max(L_0, loss_scale)), and the divergence
#: penalty −α1·(steps left) is at most 10⁶ · 10⁹ (the largest horizon,
#: :data:`lrgym.settings.MAX_COUNT`) = 10¹⁵, exact in a float64 and finite in the float32 RL
#: libraries cast rewards to (α2 = 10³⁰⁶ gave a reward of −inf). A weight beyond 10⁶ has no use
#: a rescaled pair (α1, α2) cannot have.
MAX_REWARD_ALPHA = 1e6
# reward_params layout
P_ALPHA1, P_ALPHA2 = range(2)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def reward(stats, memory, t, horizon, reward_code, reward_params):
    """The reward of the step that produced ``stats`` (the ``t``-th), against the previous
    step's feature memory (read only: :func:`lrgym.features.advance_memory` moves it on).

    Divergence (``stats[S_DIVERGED]``) gets the documented penalty: the telescoping rewards
    give the diverged episode a total return of log(L_0 / cap) (``log_improvement``,
    ``final``) or −1 (``metric_delta``); ``sign_delta`` gives −α1 for this and every remaining
    step.
    """
    diverged = stats[S_DIVERGED] > 0.0
    cap = memory[M_CAP]
    l_prev = memory[M_L_PREV]
    lt = safe_loss(stats[S_TRAIN_LOSS], cap)
    metric = stats[S_VAL_METRIC]
    if reward_code == R_LOG_IMPROVEMENT:
        r = math.log(l_prev / cap) if diverged else math.log(l_prev / lt)
    elif reward_code == R_SIGN_DELTA:
        if diverged:
            r = -reward_params[P_ALPHA1] * (horizon - t + 1)
        else:
            delta = (l_prev - lt) / memory[M_L0]
            sign = 1.0 if delta > 0 else (-1.0 if delta < 0 else 0.0)
            r = reward_params[P_ALPHA1] * sign + reward_params[P_ALPHA2] * delta
    elif reward_code == R_FINAL:
        if diverged:
            r = math.log(memory[M_L0] / cap)
        elif t >= horizon:
            r = math.log(memory[M_L0] / lt)
        else:
            r = 0.0
    else:  # R_METRIC_DELTA
        if diverged or not math.isfinite(metric):
            r = memory[M_METRIC0] - memory[M_METRIC_PREV] - 1.0
        else:
            r = metric - memory[M_METRIC_PREV]
    return r


def reward_code(name: str) -> int:
    if name not in REWARDS:
        raise ValueError(f"unknown reward {name!r}; valid choices: {', '.join(REWARDS)}")
    return REWARDS.index(name)


def check_reward_alphas(alphas) -> tuple[float, float]:
    """``reward_alphas`` as two floats ``(α1, α2)``, or ``ValueError`` naming the value.

    ``sign_delta`` pays α1·sign(ΔL) + α2·ΔL/L_0 and −α1 per step lost to divergence, so both
    weights must be ≥ 0 (a negative one would pay for a rising loss, or for diverging), at most
    :data:`MAX_REWARD_ALPHA` (so every reward stays finite), and one of them > 0 (else every
    reward is 0). Checked for every reward, though only ``sign_delta`` reads them; the one check
    of the env, the vector env and :class:`lrgym.monitor.TrainingMonitor` (the PyTorch bridge).
    """
    valid = f"two numbers (α1, α2) with 0 <= α <= {MAX_REWARD_ALPHA:g}, not both 0, e.g. (1.0, 1.0)"
    # a sequence (a tuple, a list) or an array: not bytes (b'ab' was the weights (97, 98)), a set
    # (no order: which is α1?) or a mapping (its keys were the weights)
    ordered = hasattr(alphas, "__array__") or (isinstance(alphas, Sequence) and not isinstance(alphas, (str, bytes, bytearray)))
    try:
        pair = tuple(alphas) if ordered else None
    except (TypeError, ValueError, RuntimeError):  # a 0-d array; a tensor that refuses iteration
        pair = None
    if pair is None:
        raise ValueError(f"reward_alphas={brief(alphas)} invalid; valid: {valid}") from None
    if len(pair) != 2 or not all(is_real(a) for a in pair):
        raise ValueError(f"reward_alphas={brief(alphas)} invalid; valid: {valid}")
    # compared before float(): an integer past the largest float was a bare OverflowError
    if not (all(0 <= a <= MAX_REWARD_ALPHA for a in pair) and any(a > 0 for a in pair)):
        raise ValueError(f"reward_alphas={brief(alphas)} out of range; valid: {valid}")
    return float(pair[0]), float(pair[1])


def reward_params(alpha1: float = 1.0, alpha2: float = 1.0) -> np.ndarray:
    """The float64 parameter array of the rewards (``sign_delta``'s α1, α2; checked with
    :func:`check_reward_alphas`)."""
    return np.array(check_reward_alphas((alpha1, alpha2)), dtype=np.float64)
