"""Noisy quadratic: the analytic family whose best LR is known in closed form.

Objective f(x) = ½ xᵀ H x with H = U diag(λ) Uᵀ (U a random rotation, or the identity when
``rotate=False``), λ log-spaced in [μ, L] with L = ``scale`` and κ = L/μ = ``condition``.
The minimum is f(0) = 0, so ``info["excess_loss"]`` is the optimality gap f(x).

Minibatch model (the noisy quadratic model of Zhang et al. 2019): a minibatch of b examples has
loss ℓ_B(x) = f(x) + (σ/√b) ξᵀx, ξ ~ N(0, I), hence gradient ∇ℓ_B = Hx + (σ/√b) ξ. The
per-example losses ℓ_i = f(x) + σ ξ_iᵀx have variance σ²‖x‖², which the kernel reports
exactly. ``noise = 0`` gives deterministic full-batch gradient descent.

Known results the tests check:

* GD with constant LR η converges iff η < 2/L; at η = 2/(L+μ) the error along the extreme
  eigen-directions contracts by exactly (κ−1)/(κ+1) per update.
* With noise, writing m_i = E[(uᵢᵀx)²], one SGD update gives
  m_i ← (1 − ηλ_i)² m_i + η² s²  (s² = σ²/b),  E f = ½ Σ λ_i m_i,
  and the LR that minimises the next expected loss is, in closed form,
  η* = Σ λ_i² m_i / (Σ λ_i³ m_i + s² Σ λ_i)   (:func:`greedy_optimal_lr`).

Instance distribution: dim 2–256 log-uniform; κ ∈ [1, 1e4] and L ∈ [1, 100] log-uniform (so the
best constant SGD LR, ≤ 2/L, stays well inside the env's LR range; [0.1, 10] before env v1);
deterministic with probability ½, else σ ∈ [0.01, 1] log-uniform; batch size 1–256;
rotated. Validation loss is f(x) itself; the validation metric is −log₁₀ f(x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from lrgym import rng as _rng
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
from lrgym.tasks.stats import (
    A_BATCH_LOSS,
    A_LOSS_VAR,
    N_ACC,
    finish_stats,
    is_bad,
    record_gradient_pair,
)
from lrgym.tasks.covariance import random_rotation, spectrum

BATCH_SIZES = (1, 4, 16, 64, 256)
#: L of sampled instances (log-uniform); see the module docstring
SCALE_RANGE = (1.0, 100.0)


@dataclass(frozen=True)
class QuadraticSpec(TaskSpec):
    dim: int = 16
    condition: float = 10.0
    scale: float = 1.0
    noise: float = 0.0
    batch_size: int = 1
    rotate: bool = True


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def hessian_product(H, x, out):
    """out = H x."""
    d = x.shape[0]
    for i in range(d):
        s = 0.0
        for j in range(d):
            s += H[i, j] * x[j]
        out[i] = s


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def objective(H, x, hx):
    """f(x) = ½ xᵀHx (``hx`` is scratch for Hx)."""
    hessian_product(H, x, hx)
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * hx[i]
    return 0.5 * s


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def evaluate_quadratic(H, x, hx, stats):
    f = objective(H, x, hx)
    stats[S_TRAIN_LOSS] = f
    stats[S_VAL_LOSS] = f
    stats[S_VAL_METRIC] = -math.log10(f) if f > 0.0 else 300.0


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def run_quadratic(
    params, slots, step, rng, grad, prev_grad, xi, acc,
    H, noise_scale, per_example_sigma, lr, n_updates, opt, hyper, segments, loss_cap, stats,
):
    """``n_updates`` updates with gradient Hx + (σ/√b)ξ, then the exact objective."""
    d = params.shape[0]
    acc[:] = 0.0
    diverged = False
    done = 0
    for _ in range(n_updates):
        hessian_product(H, params, grad)
        f = 0.0
        x_sq = 0.0
        for i in range(d):
            f += params[i] * grad[i]
            x_sq += params[i] * params[i]
        f *= 0.5
        batch_loss = f
        if noise_scale > 0.0:
            _rng.fill_standard_normal(rng, xi)
            for i in range(d):
                grad[i] += noise_scale * xi[i]
                batch_loss += noise_scale * xi[i] * params[i]
        acc[A_BATCH_LOSS] += batch_loss
        acc[A_LOSS_VAR] += per_example_sigma * per_example_sigma * x_sq
        record_gradient_pair(grad, prev_grad, step[0] > 0, acc)
        apply_update(params, grad, slots, step, lr, opt, hyper, segments)
        done += 1
        if is_bad(f, loss_cap) or not math.isfinite(params.sum()):
            diverged = True
            break
    evaluate_quadratic(H, params, grad, stats)
    if is_bad(stats[S_TRAIN_LOSS], loss_cap):
        diverged = True
    finish_stats(acc, done, diverged, stats)


def greedy_optimal_lr(eigvals: np.ndarray, second_moments: np.ndarray, noise_var: float) -> float:
    """The LR minimising the next expected loss of SGD on the noisy quadratic (closed form).

    ``second_moments`` m_i = E[(uᵢᵀx)²] along the eigen-directions; ``noise_var`` s² = σ²/b.
    """
    lam, m = np.asarray(eigvals), np.asarray(second_moments)
    return float(np.sum(lam**2 * m) / (np.sum(lam**3 * m) + noise_var * np.sum(lam)))


def expected_second_moments(eigvals, second_moments, lr, noise_var):
    """One SGD update of m_i = E[(uᵢᵀx)²]: (1 − ηλ_i)² m_i + η² s²."""
    return (1.0 - lr * np.asarray(eigvals)) ** 2 * np.asarray(second_moments) + lr**2 * noise_var


def quadratic_loss_scale(eigvals, noise_var: float) -> float:
    """The loss scale of the divergence rule (:attr:`lrgym.tasks.base.Task.loss_scale`).

    E f(x₀) = ½ tr(H)/d for x₀ ~ N(0, I/d), plus the stationary loss of SGD at η = 1/L under
    the minibatch noise, ½ Σ_i η s² / (2 − ηλ_i) (the fixed point of
    :func:`expected_second_moments`): how high noise alone keeps a healthy run.
    """
    lam = np.asarray(eigvals, dtype=np.float64)
    eta = 1.0 / float(lam.max())
    return float(0.5 * lam.mean() + 0.5 * np.sum(eta * noise_var / (2.0 - eta * lam)))


class QuadraticTask(KernelTask):
    optimal_loss = 0.0
    metric_name = "neg_log10_gap"

    def __init__(self, spec: QuadraticSpec):
        self.spec = spec
        d = spec.dim
        self.eigvals = spectrum(d, spec.condition, spec.scale)
        rot_rng = np.random.default_rng([spec.instance, 11])
        self.U = random_rotation(rot_rng, d) if spec.rotate else np.eye(d)
        self.H = np.ascontiguousarray((self.U * self.eigvals) @ self.U.T)
        self.H = 0.5 * (self.H + self.H.T)
        self.noise_var = spec.noise**2 / spec.batch_size
        self.loss_scale = quadratic_loss_scale(self.eigvals, self.noise_var)
        self.n_params = d
        self.segments = np.array([0, d], dtype=np.int64)

    @property
    def L(self) -> float:
        return float(self.eigvals.max())

    @property
    def mu(self) -> float:
        return float(self.eigvals.min())

    def init_params(self, rng):
        """x₀ ~ N(0, I/d), so E‖x₀‖² = 1."""
        return rng.standard_normal(self.spec.dim) / math.sqrt(self.spec.dim)

    def new_scratch(self):
        return {"xi": np.zeros(self.spec.dim), "acc": np.zeros(N_ACC)}

    kernel_name = "quadratic"
    kernel = staticmethod(run_quadratic)

    def kernel_item(self, state: TrainState) -> tuple[tuple, tuple]:
        s = state.scratch
        head = (
            state.params, state.slots, state.step, state.rng, state.grad, state.prev_grad,
            s["xi"], s["acc"], self.H, math.sqrt(self.noise_var), self.spec.noise,
        )
        return head, (self.segments,)

    def evaluate(self, state: TrainState, stats):
        evaluate_quadratic(self.H, state.params, state.grad.copy(), stats)


class QuadraticFamily(TaskFamily):
    """Noisy quadratics; see the module docstring for the distribution and the theory."""

    name = "quadratic"
    spec_class = QuadraticSpec

    def _validate_overrides(self):
        check_options(self.name, self.overrides, {
            "dim": (lambda v: is_integer(v) and 1 <= v <= 2048, "integer 1..2048"),
            "condition": (lambda v: is_real(v) and 1.0 <= v <= 1e8, "1 <= condition <= 1e8"),
            # a denormal scale (5e-324) passed "> 0" and made every loss and reward 0
            "scale": (lambda v: is_real(v) and 1e-6 <= v < 1e6, "1e-6 <= scale < 1e6"),
            "noise": (lambda v: is_real(v) and 0 <= v < 1e6, ">= 0"),
            # the other families' bound (10**30 was taken: a gradient noise of 0 by another name)
            "batch_size": (lambda v: is_integer(v) and 1 <= v <= 65536, "integer 1..65536"),
            "rotate": (lambda v: isinstance(v, bool), "True or False"),
        })

    def _sample(self, rng, instance_seed):
        noisy = rng.uniform() < 0.5
        return QuadraticSpec(
            family=self.name,
            instance=instance_seed,
            dim=log_uniform_int(rng, 2, 256),
            condition=log_uniform(rng, 1.0, 1e4),
            scale=log_uniform(rng, SCALE_RANGE[0], SCALE_RANGE[1]),
            noise=log_uniform(rng, 0.01, 1.0) if noisy else 0.0,
            batch_size=int(choose(rng, BATCH_SIZES)),
            rotate=True,
        )

    def build(self, spec):
        return QuadraticTask(spec)
