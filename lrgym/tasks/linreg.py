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
The QR's rounding is part of the instance: :mod:`lrgym.tasks.householder` holds the canonical
kernel and the faster forms builds run where a per-process self-check shows the same bits.

A streaming update never forms its rows: it works in the eigenbasis of H (:func:`stream_gradient`).
With e' = Uᵀ(w − w*) and v = √λ ⊙ z (so x = U v), the residual is xᵀw − y = vᵀe' − σ ε and the
gradient is U · mean(r v), so an update costs O(d² + b·d) instead of the O(b·d²) of x = U v for
every row — the same rows, from the same normals drawn in the same order, up to rounding.
Drawing the b·(d + 1) normals (ziggurat, :func:`lrgym.rng.fill_standard_normal`, ≈4 ns each) is
then about half the cost, and the population loss ½ Σᵢ λᵢ e'ᵢ² + σ²/2 is O(d²) once per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from lrgym import rng as _rng
from lrgym.rng import draw_indices
from lrgym.optim import apply_update, check_choice
from lrgym.tasks.base import (
    FAST_MATH,
    MAX_ARRAY_ITEMS,
    S_TRAIN_LOSS,
    S_VAL_LOSS,
    S_VAL_METRIC,
    KernelTask,
    TaskFamily,
    TaskSpec,
    TrainState,
    check_build_size,
    check_options,
    choose,
    data_rng,
    is_integer,
    is_real,
    log_uniform,
    log_uniform_int,
    worst_case,
)
from lrgym.tasks import pcg64
from lrgym.tasks.covariance import random_rotation, spectrum
from lrgym.tasks.datasets import bundled
from lrgym.tasks.householder import qr_kernel
from lrgym.tasks.stats import N_ACC, finish_stats, is_bad, loss_moments, record_gradient_pair
from lrgym.tasks.workspace import scratch

EVAL_ROWS = 2048
VAL_ROWS = 512
BATCH_SIZES = (8, 16, 32, 64, 128, 256)
DATASETS = ("synthetic", "diabetes")

#: λ_max of sampled instances: every train instance's best constant SGD LR then lies well inside
#: the env's LR range [1e-6, 10] (about 1e-3 – 0.6 on train instances 0 – 31)
SCALE_RANGE = (1.0, 100.0)
#: the sampled dimension and number of training rows (finite mode)
DIM_RANGE = (4, 256)
N_TRAIN_RANGE = (256, 8192)


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


# ---- the instance's data -------------------------------------------------------------------


def qr_stats(X: np.ndarray, y: np.ndarray, n_rows: int):
    """(R, c, ρ) for the first ``n_rows`` rows: X = QR (R k × d upper triangular, k = min(n, d)),
    c = Qᵀy, ρ = ‖y − Qc‖² (the least-squares residual), so that ``qr_loss(w, R, c, ρ, n_rows)``
    is ½ mean over those rows of (xᵀw − y)².

    Householder QR of [X | y] in a compiled loop (:func:`lrgym.tasks.householder.householder_qr`,
    run by :func:`~lrgym.tasks.householder.qr_kernel` in its faster form where that is checked
    to give the same bits):
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


def _load_diabetes(spec: "LinRegSpec"):
    X, y = bundled("diabetes")
    X = (X - X.mean(0)) / X.std(0)
    y = (y - y.mean()) / y.std()
    order = np.random.default_rng(spec.instance).permutation(len(y))
    n_train = int(round(0.8 * len(y)))
    tr, va = order[:n_train], order[n_train:]
    return X[tr], y[tr], X[va], y[va]


# ---- task and family ----------------------------------------------------------------------


class LinRegTask(KernelTask):
    metric_name = "r2"

    def __init__(self, spec: LinRegSpec):
        self.spec = spec
        rng = data_rng(spec)
        if spec.dataset == "diabetes":
            self.X, self.y, self.Xv, self.yv = _load_diabetes(spec)
            d = self.X.shape[1]
        else:
            d = spec.dim
            self.eigvals = spectrum(d, spec.condition, spec.scale)
            self.sqrt_eig = np.sqrt(self.eigvals)
            self.U = np.ascontiguousarray(random_rotation(rng, d))
            self.UT = np.ascontiguousarray(self.U.T)  # rows are the eigenvectors (streaming loops)
            self.w_star = rng.standard_normal(d) / math.sqrt(d)
            if not spec.streaming:
                self.X, self.y = self._draw(rng, spec.n_train)
                self.Xv, self.yv = self._draw(rng, VAL_ROWS)
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

    def _validate_overrides(self):
        o = self.overrides
        check_options(self.name, o, {
            "dim": (lambda v: is_integer(v) and 1 <= v <= 4096, "integer 1..4096"),
            "condition": (lambda v: is_real(v) and 1.0 <= v <= 1e8, "1 <= condition <= 1e8"),
            # a denormal scale (5e-324) passed "> 0" and failed in NumPy's SVD (LinAlgError)
            "scale": (lambda v: is_real(v) and 1e-6 <= v < 1e6, "1e-6 <= scale < 1e6"),
            "noise": (lambda v: is_real(v) and 0 <= v < 1e6, ">= 0"),
            # the bounds of the mlp family's: an unbounded batch ran for minutes per step
            # (batch_size=10**9) and an unbounded n_train was a bare MemoryError at the build
            "batch_size": (lambda v: is_integer(v) and 1 <= v <= 65536, "integer 1..65536"),
            "n_train": (lambda v: is_integer(v) and 2 <= v <= 10_000_000, "integer 2..10,000,000"),
            "streaming": (lambda v: isinstance(v, bool), "True or False"),
        })
        if "dataset" in o:
            check_choice("linreg dataset", o["dataset"], DATASETS)
        if o.get("streaming") is not True and o.get("dataset", "synthetic") == "synthetic":
            # the finite data matrix, n_train × dim (and the normals it is drawn from, as large)
            n, n_words = worst_case(o, "n_train", N_TRAIN_RANGE[1])
            d, d_words = worst_case(o, "dim", DIM_RANGE[1])
            check_build_size(self.name, [n_words, d_words], "a data matrix of n_train × dim", n * d, MAX_ARRAY_ITEMS,
                             lower="lower n_train or dim, or set streaming=True")

    def _sample(self, rng, instance_seed):
        return LinRegSpec(
            family=self.name,
            instance=instance_seed,
            dim=log_uniform_int(rng, *DIM_RANGE),
            condition=log_uniform(rng, 1.0, 1e4),
            scale=log_uniform(rng, SCALE_RANGE[0], SCALE_RANGE[1]),
            noise=log_uniform(rng, 0.01, 1.0),
            batch_size=int(choose(rng, BATCH_SIZES)),
            n_train=log_uniform_int(rng, *N_TRAIN_RANGE),
            streaming=bool(rng.uniform() < 0.25),
            dataset="diabetes" if rng.uniform() < 0.05 else "synthetic",
        )

    def build(self, spec):
        return LinRegTask(spec)
