"""The step statistics a training kernel accumulates: slots ``A_*`` and the helpers that fill them.

A kernel runs its updates, feeding each raw minibatch gradient to :func:`record_gradient_pair`
and each minibatch's per-example losses to :func:`loss_moments` (both accumulate into a small
float64 ``acc`` array of length :data:`N_ACC`, slots ``A_*``), then calls :func:`finish_stats` to
write the ``S_*`` minibatch entries of ``stats`` (layout: :mod:`lrgym.tasks.base`).
:func:`is_bad` is the one divergence test: a loss that is not finite or exceeds the cap.
(Minibatch row indices come from :func:`lrgym.rng.draw_indices`; the kernels' compile options
are :data:`lrgym.tasks.base.FAST_MATH`.)
"""

from __future__ import annotations

import math

import numba

from lrgym.tasks.base import (
    DBL_MAX,
    DBL_MIN,
    FAST_MATH,
    S_BATCH_LOSS,
    S_DIVERGED,
    S_GRAD_COS,
    S_GRAD_DOT,
    S_GRAD_NORM,
    S_LOSS_VAR,
    S_UPDATES,
)

# ---- slots of the per-step accumulator ``acc`` (summed over a step's updates) ------------------
A_GRAD_NORM = 0  # Σ ‖g_k‖
A_GRAD_DOT = 1  # Σ g_k · g_{k-1} (over updates that have a previous gradient)
A_GRAD_COS = 2  # Σ cos(g_k, g_{k-1})
A_GRAD_PAIRS = 3  # number of (g_k, g_{k-1}) pairs
A_BATCH_LOSS = 4  # Σ mean minibatch loss
A_LOSS_VAR = 5  # Σ within-minibatch variance of the per-example losses
N_ACC = 8  # (slots 6, 7 spare)


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def record_gradient_pair(grad, prev_grad, have_prev, acc):
    """Accumulate ‖g‖, g·g_prev and cos(g, g_prev) into ``acc`` and remember g."""
    accumulate_gradient_pair(grad, prev_grad, have_prev, acc)
    for j in range(grad.shape[0]):
        prev_grad[j] = grad[j]


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def accumulate_gradient_pair(grad, prev_grad, have_prev, acc):
    """:func:`record_gradient_pair` without remembering g: for a caller that keeps ``grad`` itself
    as the next update's ``prev_grad`` (:meth:`lrgym.monitor.TrainingMonitor.record_update` with
    ``keep_grad``), which saves the copy, half of this kernel's time on a large gradient. The one
    loop over the gradient: the same sums, to the bit, in both."""
    d = grad.shape[0]
    gg = 0.0
    gp = 0.0
    pp = 0.0
    for j in range(d):
        gg += grad[j] * grad[j]
        gp += grad[j] * prev_grad[j]
        pp += prev_grad[j] * prev_grad[j]
    add_gradient_pair(gg, gp, pp, have_prev, acc)


@numba.njit(cache=True, nogil=True, inline="always", fastmath=FAST_MATH, error_model="numpy")
def add_gradient_pair(gg, gp, pp, have_prev, acc):
    """Accumulate ‖g‖ = √gg and, with a previous gradient, g·g_prev = gp and
    cos(g, g_prev) = gp / √(gg·pp) (0 if either is zero) into ``acc``: the one definition of the
    gradient-pair features, for dense (:func:`record_gradient_pair`) and row-wise gradients
    (:func:`lrgym.tasks.recsys.kernels.record_sparse_gradient_pair`)."""
    acc[A_GRAD_NORM] += math.sqrt(gg)
    if have_prev:
        acc[A_GRAD_DOT] += gp
        acc[A_GRAD_COS] += cosine(gg, gp, pp)
        acc[A_GRAD_PAIRS] += 1.0


@numba.njit(cache=True, nogil=True, inline="always", fastmath=FAST_MATH, error_model="numpy")
def cosine(gg, gp, pp):
    """cos(g, h) = g·h / √(‖g‖²‖h‖²) from gg = ‖g‖², gp = g·h and pp = ‖h‖², in [−1, 1] (0 if
    either vector is zero). Where gg·pp leaves the normal range (gradients near 1e-80, as at a
    converged noise-free instance, or near 1e+77) the denominator is √gg·√pp instead, which
    neither underflows into subnormals that have lost digits nor overflows; a rounding just past
    ±1 is clamped (the observation space declares [−1, 1])."""
    product = gg * pp
    if DBL_MIN <= product <= DBL_MAX:
        denom = math.sqrt(product)
    else:
        denom = math.sqrt(gg) * math.sqrt(pp)
    if not denom > 0.0:
        return 0.0
    cos = gp / denom
    if cos > 1.0:
        return 1.0
    if cos < -1.0:
        return -1.0
    return cos  # (NaN stays NaN: a non-finite gradient)


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def loss_moments(losses, acc):
    """Accumulate the mean and the variance of the per-example losses into ``acc``."""
    b = losses.shape[0]
    m = 0.0
    for k in range(b):
        m += losses[k]
    m /= b
    v = 0.0
    for k in range(b):
        v += (losses[k] - m) ** 2
    acc[A_BATCH_LOSS] += m
    acc[A_LOSS_VAR] += v / b
    return m


@numba.njit(cache=True, nogil=True)
def finish_stats(acc, n_done, diverged, stats):
    """Turn the accumulators of ``n_done`` updates into the ``S_*`` minibatch entries."""
    n = max(n_done, 1)
    pairs = acc[A_GRAD_PAIRS]
    stats[S_GRAD_NORM] = acc[A_GRAD_NORM] / n
    stats[S_GRAD_DOT] = acc[A_GRAD_DOT] / pairs if pairs > 0 else 0.0
    stats[S_GRAD_COS] = acc[A_GRAD_COS] / pairs if pairs > 0 else 0.0
    stats[S_BATCH_LOSS] = acc[A_BATCH_LOSS] / n
    stats[S_LOSS_VAR] = acc[A_LOSS_VAR] / n
    stats[S_DIVERGED] = 1.0 if diverged else 0.0
    stats[S_UPDATES] = n_done


@numba.njit(cache=True, nogil=True)
def is_bad(value, cap):
    return not math.isfinite(value) or value > cap
