"""Observation features: the training statistics a policy sees, named and bounded.

Every family reports the same ``stats`` layout (:mod:`lrgym.tasks.base`), so the observation
means the same thing on every task. The features are logs and ratios, scale-free where a raw
value would depend on the task's units (losses relative to the episode's initial loss), following
the features of Daniel, Taylor & Nowozin (2016) and DACBench's SGD benchmark:

========================  =============================================================
name                      value
========================  =============================================================
log_train_loss_rel        log(L_t / L_0)          training objective vs the initial one
log_val_loss_rel          log(V_t / V_0)          validation loss vs the initial one
delta_log_train_loss      log(L_t / L_{t-1})      last step's change (0 at reset)
delta_log_val_loss        log(V_t / V_{t-1})
log_batch_loss_rel        log(B_t / L_0)          mean minibatch loss of the last step
log_val_train_ratio       log(V_t / L_t)          generalisation gap
log_loss_cv               ½ log(Var ℓ / (Eℓ)²)    spread of per-example losses in a minibatch
log_grad_norm_rel         log(G_t / G_1)          mean minibatch gradient norm vs the first
delta_log_grad_norm       log(G_t / G_{t-1})
grad_cos                  mean cos(g_k, g_{k-1})  consecutive-gradient agreement in [-1, 1]
log10_lr                  log₁₀ η                 the LR in force for the next step
progress                  t / T                   fraction of the episode done
========================  =============================================================

Non-finite inputs (a diverged step) are replaced by the loss cap, and every feature is clipped
to [-OBS_BOUND, OBS_BOUND], so observations are always finite. Gradient features are 0 until
the first step has measured a gradient.

The same compiled functions serve the single and the vector environment, and training loops
outside the kernels (:class:`lrgym.monitor.TrainingMonitor`, used by :mod:`lrgym.torch`): they
fill the same ``stats`` vector through the kernels' accumulators and call :func:`features`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from lrgym.tasks.base import (
    DBL_MAX,
    S_BATCH_LOSS,
    S_DIVERGED,
    S_GRAD_COS,
    S_GRAD_NORM,
    S_LOSS_VAR,
    S_TRAIN_LOSS,
    S_VAL_LOSS,
    S_VAL_METRIC,
)

FEATURE_NAMES = (
    "log_train_loss_rel",
    "log_val_loss_rel",
    "delta_log_train_loss",
    "delta_log_val_loss",
    "log_batch_loss_rel",
    "log_val_train_ratio",
    "log_loss_cv",
    "log_grad_norm_rel",
    "delta_log_grad_norm",
    "grad_cos",
    "log10_lr",
    "progress",
)
N_FEATURES = len(FEATURE_NAMES)
# ---- positions of the features in an observation (``FEATURE_NAMES[F_X] == "x"``) --------------
(
    F_LOG_TRAIN_LOSS_REL,
    F_LOG_VAL_LOSS_REL,
    F_DELTA_LOG_TRAIN_LOSS,
    F_DELTA_LOG_VAL_LOSS,
    F_LOG_BATCH_LOSS_REL,
    F_LOG_VAL_TRAIN_RATIO,
    F_LOG_LOSS_CV,
    F_LOG_GRAD_NORM_REL,
    F_DELTA_LOG_GRAD_NORM,
    F_GRAD_COS,
    F_LOG10_LR,
    F_PROGRESS,
) = range(N_FEATURES)
OBS_BOUND = 100.0
TINY = 1e-300

# ---- layout of the per-episode ``memory`` array -----------------------------------------------
M_L0, M_V0, M_METRIC0, M_L_PREV, M_V_PREV, M_METRIC_PREV, M_G1, M_G_PREV, M_CAP = range(9)
N_MEMORY = 9




@numba.njit(cache=True, nogil=True, error_model="numpy")
def safe_loss(value, cap):
    """A loss usable in a log: non-finite or above the cap → cap; ≤ 0 → TINY."""
    if not math.isfinite(value) or value > cap:
        return cap
    return max(value, TINY)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _clip(x):
    if x != x:
        return 0.0
    return min(OBS_BOUND, max(-OBS_BOUND, x))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def start_episode(stats, cap_factor, loss_scale, memory):
    """Fill ``memory`` from the stats measured at reset (before any update).

    The loss cap (divergence rule) is ``cap_factor · max(L₀, loss_scale)``, the task's
    :attr:`~lrgym.tasks.base.Task.loss_scale` (``nan``: L₀ alone).
    """
    l0 = max(stats[S_TRAIN_LOSS], TINY) if math.isfinite(stats[S_TRAIN_LOSS]) else 1.0
    v0 = max(stats[S_VAL_LOSS], TINY) if math.isfinite(stats[S_VAL_LOSS]) else 1.0
    memory[M_L0] = l0
    memory[M_V0] = v0
    memory[M_METRIC0] = stats[S_VAL_METRIC]
    memory[M_L_PREV] = l0
    memory[M_V_PREV] = v0
    memory[M_METRIC_PREV] = stats[S_VAL_METRIC]
    memory[M_G1] = 0.0
    memory[M_G_PREV] = 0.0
    # saturated at the largest float: a huge cap_factor means "no cap", not an infinite one whose
    # log would make the divergence penalty −inf
    memory[M_CAP] = min(cap_factor * (max(l0, loss_scale) if math.isfinite(loss_scale) else l0), DBL_MAX)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def features(stats, memory, t, horizon, lr, measured, out):
    """Write the observation for the state after ``t`` steps into ``out`` (float32).

    ``measured`` is False at reset, when no minibatch statistic exists yet.
    """
    cap = memory[M_CAP]
    lt = safe_loss(stats[S_TRAIN_LOSS], cap)
    vt = safe_loss(stats[S_VAL_LOSS], cap * memory[M_V0] / memory[M_L0])
    out[F_LOG_TRAIN_LOSS_REL] = _clip(math.log(lt / memory[M_L0]))
    out[F_LOG_VAL_LOSS_REL] = _clip(math.log(vt / memory[M_V0]))
    out[F_DELTA_LOG_TRAIN_LOSS] = _clip(math.log(lt / memory[M_L_PREV]))
    out[F_DELTA_LOG_VAL_LOSS] = _clip(math.log(vt / memory[M_V_PREV]))
    out[F_LOG_VAL_TRAIN_RATIO] = _clip(math.log(vt / lt))
    if measured:
        bt = safe_loss(stats[S_BATCH_LOSS], cap)
        out[F_LOG_BATCH_LOSS_REL] = _clip(math.log(bt / memory[M_L0]))
        var = stats[S_LOSS_VAR]
        mean_abs = max(abs(stats[S_BATCH_LOSS]), TINY)
        out[F_LOG_LOSS_CV] = (
            _clip(0.5 * math.log(max(var, TINY)) - math.log(mean_abs)) if math.isfinite(var) else OBS_BOUND
        )
        g = stats[S_GRAD_NORM]
        if math.isfinite(g) and g > 0.0 and memory[M_G1] > 0.0:
            out[F_LOG_GRAD_NORM_REL] = _clip(math.log(g / memory[M_G1]))
            out[F_DELTA_LOG_GRAD_NORM] = _clip(math.log(g / memory[M_G_PREV])) if memory[M_G_PREV] > 0.0 else 0.0
        else:
            out[F_LOG_GRAD_NORM_REL] = 0.0 if not (g > 0.0) or math.isfinite(g) else OBS_BOUND
            out[F_DELTA_LOG_GRAD_NORM] = 0.0
        out[F_GRAD_COS] = min(1.0, max(-1.0, _clip(stats[S_GRAD_COS])))  # the declared [−1, 1]
    else:
        out[F_LOG_BATCH_LOSS_REL] = 0.0
        out[F_LOG_LOSS_CV] = 0.0
        out[F_LOG_GRAD_NORM_REL] = 0.0
        out[F_DELTA_LOG_GRAD_NORM] = 0.0
        out[F_GRAD_COS] = 0.0
    out[F_LOG10_LR] = _clip(math.log10(lr))
    out[F_PROGRESS] = t / horizon


@numba.njit(cache=True, nogil=True, error_model="numpy")
def advance_memory(stats, memory):
    """After a step's features and reward: remember its losses, metric and gradient norm for
    the next step's deltas (a diverged step's losses are not remembered; the episode ends)."""
    if not stats[S_DIVERGED] > 0.0:
        cap = memory[M_CAP]
        memory[M_L_PREV] = safe_loss(stats[S_TRAIN_LOSS], cap)
        memory[M_V_PREV] = safe_loss(stats[S_VAL_LOSS], cap * memory[M_V0] / memory[M_L0])
        memory[M_METRIC_PREV] = stats[S_VAL_METRIC]
    g = stats[S_GRAD_NORM]
    if math.isfinite(g) and g > 0.0:
        if memory[M_G1] == 0.0:
            memory[M_G1] = g
        memory[M_G_PREV] = g


def observation_space_bounds(n: int = N_FEATURES):
    low = np.full(n, -OBS_BOUND, dtype=np.float32)
    high = np.full(n, OBS_BOUND, dtype=np.float32)
    low[F_PROGRESS], high[F_PROGRESS] = 0.0, 1.0
    low[F_GRAD_COS], high[F_GRAD_COS] = -1.0, 1.0
    return low, high
