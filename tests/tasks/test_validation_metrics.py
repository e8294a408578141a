"""The validation metrics the families report, against their closed forms.

* quadratic: −log₁₀ f(x), f(x) = ½ xᵀHx with H = U diag(λ) Uᵀ rebuilt here from its factors;
* streaming linear regression: the population R² = 1 − E(xᵀw − y)² / Var(y)
  = 1 − (eᵀHe + σ²) / (w*ᵀHw* + σ²), e = w − w*; 0 at w = 0 (predicting the mean, 0, of y) and
  1 − σ²/Var(y) at w = w*;
* MLP: accuracy counts a row as correct when its *first* arg-max is the label (NumPy's
  ``argmax`` rule), ties included — an all-equal row of logits (a dead ReLU network) is
  "class 0".

(The finite-data linear-regression R² is checked in ``test_linreg.py``.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrgym.tasks import make_family
from lrgym.tasks.base import N_STATS, S_TRAIN_LOSS, S_VAL_METRIC
from lrgym.tasks.mlp import softmax_cross_entropy


def build(family, **options):
    fam = make_family(family, **options)
    return fam.build(fam.sample(7))


def evaluate_at(task, params):
    state = task.new_state(np.random.default_rng(0))
    state.params[:] = params
    stats = np.zeros(N_STATS)
    task.evaluate(state, stats)
    return stats


def test_quadratic_metric_is_minus_log10_of_the_objective():
    task = build("quadratic", dim=6, condition=40.0, scale=3.0, noise=0.0)
    H = task.U @ np.diag(task.eigvals) @ task.U.T
    rng = np.random.default_rng(1)
    for scale in (1e-4, 0.3, 20.0):
        x = scale * rng.standard_normal(6)
        f = 0.5 * x @ H @ x
        stats = evaluate_at(task, x)
        assert stats[S_TRAIN_LOSS] == pytest.approx(f, rel=1e-10)
        assert stats[S_VAL_METRIC] == pytest.approx(-math.log10(f), rel=1e-10)


def test_streaming_linreg_metric_is_the_population_r2():
    task = build("linreg", dim=5, condition=20.0, scale=2.0, noise=0.4, streaming=True, dataset="synthetic")
    assert task.streaming
    H = task.U @ np.diag(task.eigvals) @ task.U.T
    w_star, sigma2 = task.w_star, 0.4**2
    var_y = w_star @ H @ w_star + sigma2
    assert evaluate_at(task, np.zeros(5))[S_VAL_METRIC] == pytest.approx(0.0, abs=1e-12)
    assert evaluate_at(task, w_star)[S_VAL_METRIC] == pytest.approx(1.0 - sigma2 / var_y, rel=1e-12)
    w = np.random.default_rng(2).standard_normal(5)
    e = w - w_star
    assert evaluate_at(task, w)[S_VAL_METRIC] == pytest.approx(1.0 - (e @ H @ e + sigma2) / var_y, rel=1e-10)


def test_streaming_linreg_r2_matches_a_monte_carlo_estimate():
    """The same R² from drawn rows x = U(√λ ⊙ z), y = xᵀw* + σε (1 − MSE / Var y)."""
    task = build("linreg", dim=4, condition=10.0, scale=1.0, noise=0.5, streaming=True, dataset="synthetic")
    rng = np.random.default_rng(3)
    n = 200_000
    X = (rng.standard_normal((n, 4)) * np.sqrt(task.eigvals)) @ task.U.T
    y = X @ task.w_star + 0.5 * rng.standard_normal(n)
    w = task.w_star + 0.3 * rng.standard_normal(4)
    r2_mc = 1.0 - np.mean((X @ w - y) ** 2) / np.var(y)
    assert evaluate_at(task, w)[S_VAL_METRIC] == pytest.approx(r2_mc, abs=0.01)


def test_mlp_accuracy_counts_the_first_arg_max_on_ties():
    rng = np.random.default_rng(4)
    rows, classes = 64, 5
    logits = rng.integers(-2, 3, size=(rows, classes)).astype(np.float64)  # many tied maxima
    logits[:8] = 0.0  # all-equal rows
    y = rng.integers(0, classes, size=rows).astype(np.int64)
    y[:4] = 0
    y[4:8] = classes - 1
    expected_correct = int(np.sum(np.argmax(logits, axis=1) == y))
    shifted = logits - logits.max(axis=1, keepdims=True)
    expected_losses = np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(rows), y]
    work, losses = logits.copy(), np.zeros(rows)
    assert softmax_cross_entropy(work, y, losses) == expected_correct
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(work, np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True), rtol=1e-12)
