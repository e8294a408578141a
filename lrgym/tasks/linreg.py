"""Linear regression: least squares on Gaussian features with a chosen covariance spectrum.

Model and loss, for a row x ∈ Rᵈ with target y:  ℓ(w; x, y) = ½ (xᵀw − y)².

Data: x = U (√λ ⊙ z) with z ~ N(0, I) and a random rotation U, so Cov(x) = H = U diag(λ) Uᵀ;
y = xᵀw* + σ ε. The spectrum λ is log-spaced from λ_max down to λ_max / κ.

Two modes:

* **finite** (default): ``n_train`` training rows and a validation split; the training
  objective reported each step is the mean loss on the first ``eval_rows`` (≤ 2,048) training
  rows; ``optimal_loss`` is that loss at the least-squares solution.
* **streaming**: every minibatch is fresh; the objective is the population loss, known exactly:
  L(w) = ½ eᵀ H e + σ²/2 with e = w − w*; ``optimal_loss`` = σ²/2.

One instance in twenty uses scikit-learn's bundled *diabetes* data set (442 rows, 10
standardised features, standardised target; an instance-specific 80/20 split).

Instance distribution (``LinRegFamily`` options override any of these):

=============  =====================================================
dim            4 – 256, log-uniform
condition      κ ∈ [1, 1e4], log-uniform
scale          λ_max ∈ [1, 100], log-uniform (so the best LR varies; [0.1, 10] before env
               v1, where some instances' best constant SGD LR reached the top of the LR range)
noise          σ ∈ [0.01, 1], log-uniform
batch_size     one of 8, 16, 32, 64, 128, 256
n_train        256 – 8,192, log-uniform (finite mode)
streaming      with probability 1/4
=============  =====================================================

Validation metric: R² = 1 − MSE / Var(y) on the validation rows (population R² when streaming).

Speed. A finite-mode step is ``n_updates`` minibatch gradients (4 rows at a time, so the short
dot products overlap) and two exact losses over fixed row sets (the ≤ 2,048 evaluation rows and
the validation rows). Those losses are computed from a QR factorisation of their rows, done once
per instance (:func:`qr_stats`): with X = QR, c = Qᵀy and ρ = ‖y − Qc‖²,

    ½ mean (Xw − y)² = (‖Rw − c‖² + ρ) / (2n)        (exact: Qᵀ(y − Qc) = 0, QᵀQ = I)

so each costs O(d²) instead of O(n·d) and touches a d×d triangle instead of the n×d rows — this
matters most when many instances are stepped together and their data no longer fit in cache.
The value is the same mean loss up to rounding (the tests compare it with the direct mean).
The QR's rounding is part of the instance: :func:`householder_qr` is the canonical kernel, and
builds run it in a ≈ 3× faster form (:func:`householder_qr_blocked`; for d ≥ 96, a form that
applies 16 reflectors at a time to each pair of rows, one pass over the pair per reflector,
:func:`householder_qr_panel` with ``fuse``, another 1.1 – 1.5×) only where a per-process
self-check shows that they give the same bits (:func:`qr_kernel`).

A streaming update never forms its rows: it works in the eigenbasis of H (:func:`stream_gradient`).
With e' = Uᵀ(w − w*) and v = √λ ⊙ z (so x = U v), the residual is xᵀw − y = vᵀe' − σ ε and the
gradient is U · mean(r v), so an update costs O(d² + b·d) instead of the O(b·d²) of x = U v for
every row — the same rows, from the same normals drawn in the same order, up to rounding.
Drawing the b·(d + 1) normals (ziggurat, :func:`lrgym.rng.fill_standard_normal`, ≈4 ns each) is
then about half the cost, and the population loss ½ Σᵢ λᵢ e'ᵢ² + σ²/2 is O(d²) once per step.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numba
import numpy as np

from lrgym import rng as _rng
from lrgym.rng import draw_indices
from lrgym.optim import apply_update
from lrgym.tasks.base import (
    FAST_MATH,
    S_TRAIN_LOSS,
    S_VAL_LOSS,
    S_VAL_METRIC,
    KernelTask,
    TaskFamily,
    TaskSpec,
    TrainState,
    check_options,
    choose,
    is_integer,
    is_real,
    log_uniform,
    log_uniform_int,
)
from lrgym.tasks import pcg64
from lrgym.tasks.datasets import bundled
from lrgym.tasks.stats import N_ACC, finish_stats, is_bad, loss_moments, record_gradient_pair
from lrgym.tasks.workspace import scratch

EVAL_ROWS = 2048
VAL_ROWS = 512
BATCH_SIZES = (8, 16, 32, 64, 128, 256)
DATASETS = ("synthetic", "diabetes")

#: λ_max of sampled instances: every train instance's best constant SGD LR then lies well inside
#: the env's LR range [1e-6, 10] (about 1e-3 – 0.6 on train instances 0 – 31)
SCALE_RANGE = (1.0, 100.0)


@dataclass(frozen=True)
class LinRegSpec(TaskSpec):
    dim: int = 32
    condition: float = 10.0
    scale: float = 1.0
    noise: float = 0.1
    batch_size: int = 64
    n_train: int = 2048
    streaming: bool = False
    dataset: str = "synthetic"


# ---- kernels -------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def mean_loss(w, X, y, n_rows):
    """½ · mean over the first ``n_rows`` rows of (xᵀw − y)²."""
    d = w.shape[0]
    total = 0.0
    for i in range(n_rows):
        r = -y[i]
        for j in range(d):
            r += X[i, j] * w[j]
        total += r * r
    return 0.5 * total / n_rows


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def eigen_error(w, w_star, UT, e):
    """e' = Uᵀ(w − w*) into ``e``: the error in the eigenbasis of H (row i of ``UT`` = Uᵀ is the
    eigenvector uᵢ, so e'ᵢ = uᵢᵀ(w − w*); the inner loop runs along a contiguous row)."""
    d = w.shape[0]
    for i in range(d):
        s = 0.0
        for j in range(d):
            s += UT[i, j] * (w[j] - w_star[j])
        e[i] = s


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def population_loss(w, w_star, UT, eigvals, noise):
    """L(w) = ½ eᵀHe + σ²/2 = ½ Σᵢ λᵢ (uᵢᵀe)² + σ²/2 with e = w − w*, H = U diag(λ) Uᵀ and
    ``UT`` = Uᵀ (row i is uᵢ)."""
    d = w.shape[0]
    total = 0.0
    for i in range(d):
        proj = 0.0
        for j in range(d):
            proj += UT[i, j] * (w[j] - w_star[j])
        total += eigvals[i] * proj * proj
    return 0.5 * total + 0.5 * noise * noise


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def minibatch_gradient(w, X, y, rows, grad, losses):
    """g = mean over rows of (xᵀw − y)·x; writes per-example losses ½ r² into ``losses``.

    Rows are taken four at a time: four independent dot products share each load of w and
    overlap their reductions, and one pass adds the four rows into g.
    """
    d = w.shape[0]
    b = rows.shape[0]
    for j in range(d):
        grad[j] = 0.0
    k = 0
    while k + 4 <= b:
        i0 = rows[k]
        i1 = rows[k + 1]
        i2 = rows[k + 2]
        i3 = rows[k + 3]
        r0 = -y[i0]
        r1 = -y[i1]
        r2 = -y[i2]
        r3 = -y[i3]
        for j in range(d):
            wj = w[j]
            r0 += X[i0, j] * wj
            r1 += X[i1, j] * wj
            r2 += X[i2, j] * wj
            r3 += X[i3, j] * wj
        losses[k] = 0.5 * r0 * r0
        losses[k + 1] = 0.5 * r1 * r1
        losses[k + 2] = 0.5 * r2 * r2
        losses[k + 3] = 0.5 * r3 * r3
        for j in range(d):
            grad[j] += (r0 * X[i0, j] + r1 * X[i1, j]) + (r2 * X[i2, j] + r3 * X[i3, j])
        k += 4
    while k < b:
        i = rows[k]
        r = -y[i]
        for j in range(d):
            r += X[i, j] * w[j]
        losses[k] = 0.5 * r * r
        for j in range(d):
            grad[j] += r * X[i, j]
        k += 1
    for j in range(d):
        grad[j] /= b


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def stream_gradient(rng, e, U, sqrt_eig, noise, z, g_eig, grad, losses):
    """Gradient of one fresh minibatch of b = ``losses.shape[0]`` rows, in the eigenbasis of H.

    Given e' = Uᵀ(w − w*) (:func:`eigen_error`), row k draws z_k ~ N(0, I_d) and then
    ε_k ~ N(0, 1) from ``rng``, and stands for x_k = U v_k with v_k = √λ ⊙ z_k and
    y_k = x_kᵀw* + σ ε_k, which is never formed: since UᵀU = I,

        r_k = x_kᵀw − y_k = v_kᵀe' − σ ε_k,        ℓ_k = ½ r_k²  (into ``losses``),
        g = (1/b) Σ_k r_k x_k = U a,   a = (1/b) Σ_k r_k v_k  (into ``g_eig``, then ``grad``).

    O(b·d + d²) instead of O(b·d²) for forming the rows. ``z`` (d,) holds z_k, then v_k.
    """
    d = e.shape[0]
    b = losses.shape[0]
    for i in range(d):
        g_eig[i] = 0.0
    for k in range(b):
        _rng.fill_standard_normal(rng, z)
        r = -noise * _rng.standard_normal(rng)
        for i in range(d):
            z[i] *= sqrt_eig[i]
            r += z[i] * e[i]
        losses[k] = 0.5 * r * r
        for i in range(d):
            g_eig[i] += r * z[i]
    for i in range(d):
        g_eig[i] /= b
    for j in range(d):
        s = 0.0
        for i in range(d):
            s += U[j, i] * g_eig[i]
        grad[j] = s


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def qr_loss(w, R, c, rho, n_rows):
    """½ mean of (xᵀw − y)² over ``n_rows`` rows factored by :func:`qr_stats`: (‖Rw − c‖² + ρ) / 2n."""
    k, d = R.shape
    total = 0.0
    for i in range(k):
        s = -c[i]
        for j in range(i, d):
            s += R[i, j] * w[j]
        total += s * s
    return 0.5 * (total + rho) / n_rows


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def evaluate_finite(w, R, c, rho, n_eval, Rv, cv, rho_v, n_val, val_var, stats):
    stats[S_TRAIN_LOSS] = qr_loss(w, R, c, rho, n_eval)
    val = qr_loss(w, Rv, cv, rho_v, n_val)
    stats[S_VAL_LOSS] = val
    stats[S_VAL_METRIC] = 1.0 - 2.0 * val / val_var


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def run_finite(
    params, slots, step, rng, grad, prev_grad, rows, losses, acc,
    X, y, R, c, rho, n_eval, Rv, cv, rho_v, n_val, val_var, lr, n_updates, opt, hyper, segments, loss_cap, stats,
):
    """``n_updates`` minibatch updates on the finite data set, then evaluation."""
    n = X.shape[0]
    acc[:] = 0.0
    diverged = False
    done = 0
    for _ in range(n_updates):
        draw_indices(rng, n, rows)
        minibatch_gradient(params, X, y, rows, grad, losses)
        batch_loss = loss_moments(losses, acc)
        record_gradient_pair(grad, prev_grad, step[0] > 0, acc)
        apply_update(params, grad, slots, step, lr, opt, hyper, segments)
        done += 1
        if is_bad(batch_loss, loss_cap) or not math.isfinite(params.sum()):
            diverged = True
            break
    evaluate_finite(params, R, c, rho, n_eval, Rv, cv, rho_v, n_val, val_var, stats)
    if is_bad(stats[S_TRAIN_LOSS], loss_cap):
        diverged = True
    finish_stats(acc, done, diverged, stats)


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def evaluate_stream(w, w_star, UT, eigvals, noise, y_var, stats):
    loss = population_loss(w, w_star, UT, eigvals, noise)
    stats[S_TRAIN_LOSS] = loss
    stats[S_VAL_LOSS] = loss
    stats[S_VAL_METRIC] = 1.0 - 2.0 * loss / y_var


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def run_stream(
    params, slots, step, rng, grad, prev_grad, losses, acc, z, e_eig, g_eig,
    w_star, U, UT, eigvals, sqrt_eig, noise, y_var, lr, n_updates, opt, hyper, segments, loss_cap, stats,
):
    """``n_updates`` updates on fresh minibatches (:func:`stream_gradient`, in the eigenbasis of
    H), then the exact population loss."""
    acc[:] = 0.0
    diverged = False
    done = 0
    for _ in range(n_updates):
        eigen_error(params, w_star, UT, e_eig)
        stream_gradient(rng, e_eig, U, sqrt_eig, noise, z, g_eig, grad, losses)
        batch_loss = loss_moments(losses, acc)
        record_gradient_pair(grad, prev_grad, step[0] > 0, acc)
        apply_update(params, grad, slots, step, lr, opt, hyper, segments)
        done += 1
        if is_bad(batch_loss, loss_cap) or not math.isfinite(params.sum()):
            diverged = True
            break
    evaluate_stream(params, w_star, UT, eigvals, noise, y_var, stats)
    if is_bad(stats[S_TRAIN_LOSS], loss_cap):
        diverged = True
    finish_stats(acc, done, diverged, stats)


# ---- task and family ----------------------------------------------------------------------


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def householder_qr(A, k):
    """In-place Householder QR of the matrix whose *columns* are the rows of ``A`` (so every
    inner loop runs along a contiguous row of ``A``): afterwards ``A[j, :j+1]`` holds column j
    of R for the first ``k`` columns, and the later columns hold Qᵀ times the original column.
    """
    m, n = A.shape
    for col in range(k):
        a = A[col]
        norm2 = 0.0
        for i in range(col, n):
            norm2 += a[i] * a[i]
        if norm2 == 0.0:
            continue
        x0 = a[col]
        alpha = -math.sqrt(norm2) if x0 >= 0.0 else math.sqrt(norm2)
        vv = norm2 - x0 * x0 + (x0 - alpha) * (x0 - alpha)
        a[col] = x0 - alpha  # a[col:] is now the Householder vector v
        scale = 2.0 / vv
        j = col + 1
        while j + 1 < m:  # two columns per pass over v (2.4x faster than one)
            t0 = A[j]
            t1 = A[j + 1]
            s0 = 0.0
            s1 = 0.0
            for i in range(col, n):
                s0 += a[i] * t0[i]
                s1 += a[i] * t1[i]
            f0 = scale * s0
            f1 = scale * s1
            for i in range(col, n):
                t0[i] -= f0 * a[i]
                t1[i] -= f1 * a[i]
            j += 2
        if j < m:
            t = A[j]
            s = 0.0
            for i in range(col, n):
                s += a[i] * t[i]
            f = scale * s
            for i in range(col, n):
                t[i] -= f * a[i]
        a[col] = alpha
        for i in range(col + 1, n):
            a[i] = 0.0


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _sq_rest(a, lo, n, s):
    """s + Σ a[i]² over i = lo..n−1: the loop of :func:`householder_qr`, started from s."""
    for i in range(lo, n):
        s += a[i] * a[i]
    return s


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _dot_rest(a, t, lo, n, s):
    """s + Σ a[i]·t[i] over i = lo..n−1: the loop of :func:`householder_qr`, started from s."""
    for i in range(lo, n):
        s += a[i] * t[i]
    return s


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _dot2_rest(a, t0, t1, lo, n, s0, s1):
    """The two-column loop of :func:`householder_qr` over i = lo..n−1, started from (s0, s1)."""
    for i in range(lo, n):
        s0 += a[i] * t0[i]
        s1 += a[i] * t1[i]
    return s0, s1


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def householder_qr_blocked(A, k, block):
    """:func:`householder_qr` with the same arithmetic, ≈ 3× faster: every sum's first
    ⌊len/block⌋·block terms run in a loop over contiguous slices, the rest in the canonical loop
    (``_*_rest``), started from the partial sum.

    Why it can be the same to the bit: the compiler vectorises the canonical loops (``reassoc``)
    into a main loop over blocks of VF·UF terms (VF lanes, UF accumulators, combined in a fixed
    tree), then a vector epilogue and a scalar tail that continue from the main loop's sum.
    Numba's negative-index wraparound makes those loads gathers (slow); over a slice indexed
    from 0 they are plain loads. When ``block`` = VF·UF and both loops get the same VF, UF and
    tree, the main blocks add up identically and the rest is the canonical loop itself. That is
    a property of the compiler's choices on the running CPU, so it is checked there, not assumed:
    :func:`qr_kernel` uses this kernel only after it reproduced :func:`householder_qr` bit for bit
    on every sum length from 1 to 160 (pair and single columns).
    """
    m, n = A.shape
    for col in range(k):
        a = A[col]
        mid = col + ((n - col) // block) * block
        made, alpha, scale = _reflector(a, col, mid, n)
        if not made:
            continue
        j = col + 1
        while j + 1 < m:
            s0, s1 = _dot_pair(a, A[j], A[j + 1], col, mid, n)
            _axpy_pair(a, A[j], A[j + 1], col, n, scale * s0, scale * s1)
            j += 2
        if j < m:
            _axpy_single(a, A[j], col, n, scale * _dot_single(a, A[j], col, mid, n))
        a[col] = alpha
        for i in range(col + 1, n):
            a[i] = 0.0


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _reflector(a, col, mid, n):
    """Turn column ``col`` (row ``a`` of the QR's working array, entries col..n−1) into its
    Householder vector, as :func:`householder_qr` does: returns (made, α, 2 / vᵀv) with
    ``a[col]`` set to x₀ − α; (False, 0, 0) and ``a`` unchanged for a zero column. ‖a‖² runs over
    slices up to ``mid``, then the canonical loop (see :func:`householder_qr_blocked`)."""
    av = a[col:mid]
    norm2 = 0.0
    for i in range(mid - col):
        norm2 += av[i] * av[i]
    norm2 = _sq_rest(a, mid, n, norm2)
    if norm2 == 0.0:
        return False, 0.0, 0.0
    x0 = a[col]
    alpha = -math.sqrt(norm2) if x0 >= 0.0 else math.sqrt(norm2)
    vv = norm2 - x0 * x0 + (x0 - alpha) * (x0 - alpha)
    a[col] = x0 - alpha
    return True, alpha, 2.0 / vv


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _dot_pair(a, t0, t1, col, mid, n):
    """(a·t0, a·t1) over i = col..n−1: the two-column sums of :func:`householder_qr_blocked`
    (main blocks over slices up to ``mid``, then the canonical loop)."""
    av = a[col:mid]
    t0v = t0[col:mid]
    t1v = t1[col:mid]
    s0 = 0.0
    s1 = 0.0
    for i in range(mid - col):
        s0 += av[i] * t0v[i]
        s1 += av[i] * t1v[i]
    return _dot2_rest(a, t0, t1, mid, n, s0, s1)


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _dot_single(a, t, col, mid, n):
    """a·t over i = col..n−1: the one-column sum of :func:`householder_qr_blocked`."""
    av = a[col:mid]
    tv = t[col:mid]
    s = 0.0
    for i in range(mid - col):
        s += av[i] * tv[i]
    return _dot_rest(a, t, mid, n, s)


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _axpy_pair(a, t0, t1, col, n, f0, f1):
    """t0 −= f0·a, t1 −= f1·a over i = col..n−1 (elementwise: each row's values do not depend
    on the other's)."""
    aw = a[col:]
    t0w = t0[col:]
    t1w = t1[col:]
    for i in range(n - col):
        t0w[i] -= f0 * aw[i]
        t1w[i] -= f1 * aw[i]


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _axpy_single(a, t, col, n, f):
    """t −= f·a over i = col..n−1."""
    aw = a[col:]
    tw = t[col:]
    for i in range(n - col):
        tw[i] -= f * aw[i]


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _axpy_dot2_blocks(vv, wv, t0v, t1v, f0, f1):
    """t0 −= f0·v, t1 −= f1·v and, from the new values, (w·t0, w·t1): one pass over slices of
    the same length (a multiple of the main block), so each row entry is loaded and stored once.

    The update rounds as in :func:`_axpy_pair` (one FMA per entry); the two sums are
    :func:`_dot_pair`'s main loop over the updated values when the compiler vectorises this
    loop as that one (same VF, UF and tree). Written so that it can: its own function (its own
    register budget: the compiler's choice of UF depends on it — inlined into a larger loop body
    it got UF = 2 here and other bits), ``w`` loaded once, the sums before the stores. The rows
    and the reflectors live in different arrays, so the loop's run-time overlap check always
    takes the vectorised path. Checked with the rest of :func:`householder_qr_panel` by
    :func:`qr_kernel`."""
    s0 = 0.0
    s1 = 0.0
    for i in range(vv.shape[0]):
        w = wv[i]
        v = vv[i]
        x0 = t0v[i] - f0 * v
        x1 = t1v[i] - f1 * v
        s0 += w * x0
        s1 += w * x1
        t0v[i] = x0
        t1v[i] = x1
    return s0, s1


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _axpy_dot_pair(v, w, t0, t1, col, colw, midw, n, f0, f1, one1):
    """Reflector ``v`` (from ``col``) applied to rows t0, t1 with factors f0, f1, fused with the
    sums of the next reflector ``w`` (from ``colw`` > ``col``, main blocks up to ``midw``) over
    the updated rows: returns (w·t0, w·t1) over i = colw..n−1 as :func:`_dot_pair` would compute
    them after :func:`_axpy_pair` — the one-column sum (:func:`_dot_single`) for t1 when
    ``one1``. Entries before ``colw`` and from ``midw`` on are updated first (elementwise, so
    the same bits in any order), then the canonical loops run the rest of the sums."""
    for i in range(col, colw):
        t0[i] -= f0 * v[i]
        t1[i] -= f1 * v[i]
    vr = v[midw:n]
    t0r = t0[midw:n]
    t1r = t1[midw:n]
    for i in range(n - midw):
        t0r[i] -= f0 * vr[i]
        t1r[i] -= f1 * vr[i]
    s0, s1 = _axpy_dot2_blocks(v[colw:midw], w[colw:midw], t0[colw:midw], t1[colw:midw], f0, f1)
    if one1:
        s0, _ = _dot2_rest(w, t0, t1, midw, n, s0, s1)
        return s0, _dot_rest(w, t1, midw, n, s1)
    return _dot2_rest(w, t0, t1, midw, n, s0, s1)


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _apply_panel_fused(t0, t1, V, scales, made, c0, c1, tail, last, block):
    """Reflectors c0..c1−1 (vectors ``V``, 2 / vᵀv ``scales``, skipping those not ``made``)
    applied in turn to the rows t0, t1 (``tail``: t1 is the last row of the matrix), each update
    fused with the next reflector's sums (:func:`_axpy_dot_pair`): the same operations on every
    entry as in :func:`householder_qr_panel`'s unfused loop, one pass per reflector instead of
    two. The first reflector's sums are a plain :func:`_dot_pair`, the last one's update a plain
    :func:`_axpy_pair`."""
    n = t0.shape[0]
    prev = -1
    s0 = 0.0
    s1 = 0.0
    for col in range(c0, c1):
        p = col - c0
        if not made[p]:
            continue
        mid = col + ((n - col) // block) * block
        one1 = tail and (last - col) % 2 == 1  # the canonical one-column case
        if prev < 0:
            s0, s1 = _dot_pair(V[p], t0, t1, col, mid, n)
            if one1:
                s1 = _dot_single(V[p], t1, col, mid, n)
        else:
            f = scales[prev]
            s0, s1 = _axpy_dot_pair(V[prev], V[p], t0, t1, c0 + prev, col, mid, n, f * s0, f * s1, one1)
        prev = p
    if prev >= 0:
        f = scales[prev]
        _axpy_pair(V[prev], t0, t1, c0 + prev, n, f * s0, f * s1)


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def householder_qr_panel(A, k, block, panel, fuse=False):
    """:func:`householder_qr_blocked`'s arithmetic in another order of the same operations:
    reflectors are made ``panel`` at a time and then applied to the rows below the panel one
    pair of rows at a time, every reflector of the panel in turn, while the pair stays in the
    L1 cache and the panel's reflectors in L2 (the right-looking kernels stream every remaining
    row through the cache once per reflector: ≈ 4 MB per reflector at 2,048 × 256).

    Why it gives the same bits: a row's values after reflector c depend only on its values
    before it and on reflector c, through one dot product (a vectorised sum, :func:`_dot_pair`
    or :func:`_dot_single`) and one elementwise update. Every row still receives reflectors
    0, 1, … in order, each reflector is made from its row after all earlier reflectors (the
    panel is first worked right-looking within itself), and each (reflector, row) sum runs the
    loop the canonical kernel runs for it: the one-column loop for the last row when the rows
    after the reflector's are odd in number, the two-column loop otherwise (in either slot of
    the pair, or paired with itself: a sum over one row does not read the other). A reflector
    vector is kept in ``V`` until its panel is done (the canonical kernel overwrites it by the
    column of R at once). That the compiled loops behave so (both slots of the two-column loop
    alike, the update's contraction the same in every loop) is the compiler's choice on the
    running CPU, so :func:`qr_kernel` checks it against :func:`householder_qr` before use.

    ``fuse``: the pairs of rows go through :func:`_apply_panel_fused`, which makes one pass over
    the pair per reflector instead of two (the update by reflector c and the sums of reflector
    c + 1 in one loop, :func:`_axpy_dot_pair`): the same operations on every entry, so the same
    bits when that loop's sums are vectorised as :func:`_dot_pair`'s — checked separately
    (:func:`qr_kernel`).
    """
    m, n = A.shape
    V = np.empty((panel, n))
    scales = np.empty(panel)
    made = np.empty(panel, dtype=np.bool_)  # False: the column was zero, no reflector
    last = m - 1
    c0 = 0
    while c0 < k:
        c1 = min(k, c0 + panel)
        # 1. the panel's reflectors, right-looking within the panel's rows
        for col in range(c0, c1):
            p = col - c0
            a = A[col]
            mid = col + ((n - col) // block) * block
            made[p], alpha, scale = _reflector(a, col, mid, n)
            if not made[p]:  # no reflector (the canonical kernel's ``continue``)
                continue
            scales[p] = scale
            v = V[p]
            for i in range(col, n):
                v[i] = a[i]
            j = col + 1
            while j + 1 < c1:  # panel rows are below k <= m - 1: never the one-column case
                s0, s1 = _dot_pair(v, A[j], A[j + 1], col, mid, n)
                _axpy_pair(v, A[j], A[j + 1], col, n, scale * s0, scale * s1)
                j += 2
            if j < c1:
                s0, s1 = _dot_pair(v, A[j], A[j], col, mid, n)
                _axpy_single(v, A[j], col, n, scale * s0)
            a[col] = alpha
            for i in range(col + 1, n):
                a[i] = 0.0
        # 2. the rows below the panel: a pair of rows at a time, every reflector of the panel
        j = c1
        while fuse and j + 1 < m:  # fused: one pass over the pair per reflector
            _apply_panel_fused(A[j], A[j + 1], V, scales, made, c0, c1, j + 1 == last, last, block)
            j += 2
        while j + 1 < m:  # unfused (no pairs left here when fused): sums, then the update
            t0 = A[j]
            t1 = A[j + 1]
            for col in range(c0, c1):
                p = col - c0
                if not made[p]:
                    continue
                scale = scales[p]
                v = V[p]
                mid = col + ((n - col) // block) * block
                s0, s1 = _dot_pair(v, t0, t1, col, mid, n)
                if j + 1 == last and (last - col) % 2 == 1:  # the canonical one-column case
                    s1 = _dot_single(v, t1, col, mid, n)
                _axpy_pair(v, t0, t1, col, n, scale * s0, scale * s1)
            j += 2
        if j < m:  # the last row alone
            t = A[j]
            for col in range(c0, c1):
                p = col - c0
                if not made[p]:
                    continue
                scale = scales[p]
                v = V[p]
                mid = col + ((n - col) // block) * block
                if (last - col) % 2 == 1:
                    s = _dot_single(v, t, col, mid, n)
                else:
                    s, _ = _dot_pair(v, t, t, col, mid, n)
                _axpy_single(v, t, col, n, scale * s)
        c0 = c1


#: main-block lengths tried by :func:`qr_kernel` (VF·UF: 8 lanes × 4 on AVX-512, 4 × 4 on AVX2, ...)
QR_BLOCKS = (32, 16, 64, 8)
#: reflectors per panel of :func:`householder_qr_panel` (16 rows of 2,048 doubles: 256 KiB in L2)
QR_PANEL = 16
#: :func:`householder_qr_fast` runs the panel kernel on matrices of more rows than this (its
#: fused form: than :data:`QR_FUSED_MIN_ROWS`) and at least :data:`QR_PANEL_MIN_COLS` columns
#: (every eval and validation QR of an instance with d ≥ 96, fused d ≥ 64), the blocked kernel on
#: the others. Measured on the benchmark machine (AMD EPYC, 1 MiB L2 per core; median of 7 – 9,
#: interleaved), ms per QR (blocked / panel / fused) of d + 1 rows × n columns: d = 250:
#: n = 256 1.41 / 1.32 / 1.32 (from another run), 512 2.76 / 2.60 / 2.07, 1,024 5.45 / 4.57 /
#: 3.63; d = 128: n = 512 0.78 / 0.71 / 0.60, 1,024 1.48 / 1.32 / 1.09; d = 96: n = 256
#: 0.251 / 0.244, 512 0.445 / 0.432, 1,536 1.28 / 1.19; d = 64 (blocked / fused): n = 256
#: 0.119 / 0.114, 512 0.210 / 0.186, 2,048 0.776 / 0.699; d = 60: n = 256 0.110 / 0.115, 512
#: 0.192 / 0.167; d = 48: n = 256 0.070 / 0.071, 1,024 0.224 / 0.235; d = 32: n = 512
#: 0.059 / 0.065. Unfused, the panel form pays off once there are enough rows below a panel to
#: amortise its copies (d ≳ 80), at every column count from 256 on: the working set (≈ 8·d·n
#: bytes) passes through L1 once per panel instead of once per reflector; fused, it makes one
#: pass per reflector where the blocked kernel makes two, and pays off from d ≈ 64.
QR_PANEL_MIN_ROWS = 96
QR_FUSED_MIN_ROWS = 64
QR_PANEL_MIN_COLS = 256
_QR_KERNEL = None


@numba.njit(cache=True, nogil=True)
def householder_qr_fast(A, k, block, panel, fuse=False):
    """:func:`householder_qr_panel` (``fuse``: its fused form) for large matrices,
    :func:`householder_qr_blocked` for the others (:data:`QR_PANEL_MIN_ROWS`): both compute the
    canonical kernel's bits (checked by :func:`qr_kernel`)."""
    min_rows = QR_FUSED_MIN_ROWS if fuse else QR_PANEL_MIN_ROWS
    if A.shape[0] > min_rows and A.shape[1] >= QR_PANEL_MIN_COLS:
        householder_qr_panel(A, k, block, panel, fuse)
    else:
        householder_qr_blocked(A, k, block)


def _reproduces_canonical_qr(block: int, panel: int = 0, fuse: bool = False) -> bool:
    """Whether :func:`householder_qr_blocked` with ``block`` (with ``panel`` > 0:
    :func:`householder_qr_panel` with ``block``, ``panel`` and ``fuse``) gives
    :func:`householder_qr`'s bits on this CPU for every sum length 1..160 (two matrices: the odd
    column of each pass falls on every length in one or the other; for the panel kernel, every
    (reflector, row) case — both slots of the two-column loop, a row paired with itself, the
    one-column last row, fused or not — occurs on every length)."""
    rng = np.random.default_rng(12345)
    for rows in (161, 162):
        A = rng.standard_normal((rows, 160)) * np.exp(rng.uniform(-3.0, 3.0, size=(rows, 1)))
        B = A.copy()
        householder_qr(A, 160)
        if panel:
            householder_qr_panel(B, 160, block, panel, fuse)
        else:
            householder_qr_blocked(B, 160, block)
        if not np.array_equal(A.view(np.int64), B.view(np.int64)):
            return False
    return True


def qr_kernel():
    """The QR kernel :func:`qr_stats` uses: ``A, k ->`` in-place :func:`householder_qr`, computed
    by the first faster form that reproduces the canonical kernel on this CPU (checked once per
    process, ≈ 30 ms): :func:`householder_qr_fast` (blocked, and panels for large matrices, fused
    when that form passes too) when both :func:`householder_qr_blocked` and
    :func:`householder_qr_panel` pass the check with a block length,
    :func:`householder_qr_blocked` when only it does, else the canonical kernel itself."""
    global _QR_KERNEL
    if _QR_KERNEL is None:
        kernel = householder_qr
        for block in QR_BLOCKS:
            if _reproduces_canonical_qr(block):
                kernel = functools.partial(householder_qr_blocked, block=block)
                if _reproduces_canonical_qr(block, QR_PANEL):
                    fuse = _reproduces_canonical_qr(block, QR_PANEL, fuse=True)
                    kernel = functools.partial(householder_qr_fast, block=block, panel=QR_PANEL, fuse=fuse)
                break
        _QR_KERNEL = kernel
    return _QR_KERNEL


def qr_stats(X: np.ndarray, y: np.ndarray, n_rows: int):
    """(R, c, ρ) for the first ``n_rows`` rows: X = QR (R k × d upper triangular, k = min(n, d)),
    c = Qᵀy, ρ = ‖y − Qc‖² (the least-squares residual), so that ``qr_loss(w, R, c, ρ, n_rows)``
    is ½ mean over those rows of (xᵀw − y)².

    Householder QR of [X | y] in a compiled loop (:func:`householder_qr`, run by
    :func:`qr_kernel` in its faster form where that is checked to give the same bits):
    single-threaded and deterministic. (LAPACK's QR through NumPy is as fast on one thread, but
    with OpenBLAS's default of one thread per core it took 100–200 ms instead of 1 ms on a busy
    2-core machine.)
    """
    d = X.shape[1]
    k = min(n_rows, d)
    A = scratch("linreg.qr", (d + 1, n_rows))  # reused memory (lrgym.tasks.workspace); R and c are copies
    A[:d] = X[:n_rows].T
    A[d] = y[:n_rows]
    qr_kernel()(A, k)
    R = np.ascontiguousarray(np.triu(A[:d, :k].T))
    c = A[d, :k].copy()
    rho = float(A[d, k:] @ A[d, k:]) if n_rows > k else 0.0
    return R, c, rho


def _min_residual(R: np.ndarray, c: np.ndarray) -> float:
    """min over w of ‖Rw − c‖² for an upper-triangular R (0 when its diagonal has no zero)."""
    k = R.shape[0]
    diag = np.abs(np.diag(R[:, :k]))
    if k and diag.min() > 1e-12 * max(diag.max(), 1e-300):
        return 0.0
    w = np.linalg.lstsq(R, c, rcond=None)[0]
    r = R @ w - c
    return float(r @ r)


def random_rotation(rng: np.random.Generator, d: int) -> np.ndarray:
    """A Haar-random orthogonal matrix (QR of a Gaussian matrix with sign correction)."""
    q, r = np.linalg.qr(pcg64.standard_normal(rng, (d, d)))
    return q * np.sign(np.diag(r))


def spectrum(dim: int, condition: float, scale: float) -> np.ndarray:
    """Eigenvalues log-spaced from ``scale`` down to ``scale / condition``."""
    if dim == 1:
        return np.array([scale])
    return scale * condition ** (-np.arange(dim) / (dim - 1))


def _load_diabetes(spec: "LinRegSpec"):
    X, y = bundled("diabetes")
    X = (X - X.mean(0)) / X.std(0)
    y = (y - y.mean()) / y.std()
    order = np.random.default_rng(spec.instance).permutation(len(y))
    n_train = int(round(0.8 * len(y)))
    tr, va = order[:n_train], order[n_train:]
    return X[tr], y[tr], X[va], y[va]


class LinRegTask(KernelTask):
    metric_name = "r2"

    def __init__(self, spec: LinRegSpec):
        self.spec = spec
        data_rng = np.random.default_rng([spec.instance, 7])
        if spec.dataset == "diabetes":
            self.X, self.y, self.Xv, self.yv = _load_diabetes(spec)
            d = self.X.shape[1]
        else:
            d = spec.dim
            self.eigvals = spectrum(d, spec.condition, spec.scale)
            self.sqrt_eig = np.sqrt(self.eigvals)
            self.U = np.ascontiguousarray(random_rotation(data_rng, d))
            self.UT = np.ascontiguousarray(self.U.T)  # rows are the eigenvectors (streaming loops)
            self.w_star = data_rng.standard_normal(d) / math.sqrt(d)
            if not spec.streaming:
                self.X, self.y = self._draw(data_rng, spec.n_train)
                self.Xv, self.yv = self._draw(data_rng, VAL_ROWS)
        self.dim = d
        self.n_params = d
        self.segments = np.array([0, d], dtype=np.int64)
        if spec.streaming and spec.dataset == "synthetic":
            self.optimal_loss = 0.5 * spec.noise**2
            # Var(y) = w*ᵀHw* + σ²: the population R² denominator (2·½ Var(y)).
            self.y_var = float(self.w_star @ (self.U * self.eigvals) @ self.U.T @ self.w_star + spec.noise**2)
            # E over w₀ ~ N(0, I/d) of ½(w₀ − w*)ᵀH(w₀ − w*) + σ²/2
            self.loss_scale = 0.5 * (float(self.eigvals.mean()) + self.y_var)
        else:
            self.n_eval = min(EVAL_ROWS, self.X.shape[0])
            self.n_val = self.Xv.shape[0]
            self.val_var = float(np.mean((self.yv - self.yv.mean()) ** 2))
            self.R, self.c, self.rho = qr_stats(self.X, self.y, self.n_eval)
            self.Rv, self.cv, self.rho_v = qr_stats(self.Xv, self.yv, self.n_val)
            # min over w of ‖Rw − c‖² is 0 unless R is rank-deficient (then solve the small system)
            self.optimal_loss = float(0.5 * (_min_residual(self.R, self.c) + self.rho) / self.n_eval)
            # E over w₀ ~ N(0, I/d) of ½(‖Rw₀ − c‖² + ρ)/n = ½(‖R‖²_F / d + ‖c‖² + ρ)/n
            self.loss_scale = float(
                0.5 * (np.sum(self.R**2) / d + self.c @ self.c + self.rho) / self.n_eval
            )

    @property
    def streaming(self) -> bool:
        return self.spec.streaming and self.spec.dataset == "synthetic"

    def _draw(self, rng, n):
        # z ~ N(0, I) rows (rng.standard_normal's, drawn compiled: lrgym.tasks.pcg64), then
        # X = (z · √λ) Uᵀ; z is scaled in place in reused memory (lrgym.tasks.workspace: the same
        # draws and products as fresh arrays, no fresh pages)
        z = pcg64.fill_normal(rng, scratch("linreg.normals", (n, self.spec.dim)))
        np.multiply(z, self.sqrt_eig, out=z)
        X = np.ascontiguousarray(z @ self.U.T)
        y = X @ self.w_star + self.spec.noise * rng.standard_normal(n)
        return X, y

    def init_params(self, rng):
        """w₀ ~ N(0, I/d): the same scale as w*, so the initial loss is O(λ_max)."""
        return rng.standard_normal(self.dim) / math.sqrt(self.dim)

    def new_scratch(self):
        b = self.spec.batch_size
        scratch = {"losses": np.zeros(b), "acc": np.zeros(N_ACC)}
        if self.streaming:
            scratch["z"] = np.zeros(self.dim)  # z_k, then v_k = √λ ⊙ z_k
            scratch["e_eig"] = np.zeros(self.dim)  # Uᵀ(w − w*)
            scratch["g_eig"] = np.zeros(self.dim)  # Uᵀg
        else:
            scratch["rows"] = np.zeros(b, dtype=np.int64)
        return scratch

    @property
    def kernel_name(self) -> str:
        return "linreg_stream" if self.streaming else "linreg_finite"

    @property
    def kernel(self):
        return run_stream if self.streaming else run_finite

    def kernel_item(self, state: TrainState) -> tuple[tuple, tuple]:
        s = state.scratch
        if self.streaming:
            head = (
                state.params, state.slots, state.step, state.rng, state.grad, state.prev_grad,
                s["losses"], s["acc"], s["z"], s["e_eig"], s["g_eig"],
                self.w_star, self.U, self.UT, self.eigvals, self.sqrt_eig, self.spec.noise, self.y_var,
            )
        else:
            head = (
                state.params, state.slots, state.step, state.rng, state.grad, state.prev_grad,
                s["rows"], s["losses"], s["acc"],
                self.X, self.y, self.R, self.c, self.rho, self.n_eval,
                self.Rv, self.cv, self.rho_v, self.n_val, self.val_var,
            )
        return head, (self.segments,)

    def evaluate(self, state: TrainState, stats):
        if self.streaming:
            evaluate_stream(state.params, self.w_star, self.UT, self.eigvals, self.spec.noise, self.y_var, stats)
        else:
            evaluate_finite(
                state.params, self.R, self.c, self.rho, self.n_eval,
                self.Rv, self.cv, self.rho_v, self.n_val, self.val_var, stats,
            )


class LinRegFamily(TaskFamily):
    """Least-squares instances; see the module docstring for the distribution."""

    name = "linreg"
    spec_class = LinRegSpec
    default_horizon = 50
    default_inner_steps = 10

    def _validate_overrides(self):
        o = self.overrides
        check_options(self.name, o, {
            "dim": (lambda v: is_integer(v) and 1 <= v <= 4096, "integer 1..4096"),
            "condition": (lambda v: is_real(v) and 1.0 <= v <= 1e8, "1 <= condition <= 1e8"),
            "scale": (lambda v: is_real(v) and 0 < v < 1e6, "> 0"),
            "noise": (lambda v: is_real(v) and 0 <= v < 1e6, ">= 0"),
            "batch_size": (lambda v: is_integer(v) and v >= 1, "integer >= 1"),
            "n_train": (lambda v: is_integer(v) and v >= 2, "integer >= 2"),
            "streaming": (lambda v: isinstance(v, bool), "True or False"),
        })
        if "dataset" in o and o["dataset"] not in DATASETS:
            raise ValueError(f"unknown linreg dataset {o['dataset']!r}; valid choices: {', '.join(DATASETS)}")

    def _sample(self, rng, instance_seed):
        return LinRegSpec(
            family=self.name,
            instance=instance_seed,
            dim=log_uniform_int(rng, 4, 256),
            condition=log_uniform(rng, 1.0, 1e4),
            scale=log_uniform(rng, SCALE_RANGE[0], SCALE_RANGE[1]),
            noise=log_uniform(rng, 0.01, 1.0),
            batch_size=int(choose(rng, BATCH_SIZES)),
            n_train=log_uniform_int(rng, 256, 8192),
            streaming=bool(rng.uniform() < 0.25),
            dataset="diabetes" if rng.uniform() < 0.05 else "synthetic",
        )

    def build(self, spec):
        return LinRegTask(spec)
