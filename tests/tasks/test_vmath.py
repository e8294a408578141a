"""Vectorisable elementary functions and the hoisted optimizer loops used by the MLP and
recommender kernels."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from lrgym.optim import OPTIMIZERS, OptimizerConfig, apply_update
from lrgym.tasks.updates import apply_rule_rows
from lrgym.tasks.vmath import vexp, vlog1p_unit, vsoftplus, vtanh


@numba.njit
def _map(kind, x, out):
    for i in range(x.shape[0]):
        if kind == 0:
            out[i] = vexp(x[i])
        elif kind == 1:
            out[i] = vtanh(x[i])
        elif kind == 2:
            out[i] = vlog1p_unit(x[i])
        else:
            out[i] = vsoftplus(x[i])


def apply(kind, x):
    out = np.empty_like(x)
    _map(kind, np.ascontiguousarray(x, dtype=np.float64), out)
    return out


RNG = np.random.default_rng(0)


def test_vexp_matches_numpy():
    x = np.concatenate([RNG.uniform(-708, 709, 50_000), RNG.normal(0, 3, 50_000), [0.0, -0.0, 1e-300, -1e-20]])
    np.testing.assert_allclose(apply(0, x), np.exp(x), rtol=5e-16, atol=0)
    assert apply(0, np.array([0.0]))[0] == 1.0


def test_vtanh_matches_numpy_to_a_few_ulp():
    x = np.concatenate(
        [RNG.uniform(-25, 25, 50_000), RNG.normal(0, 1, 50_000), RNG.normal(0, 1e-9, 100), [0.0, 5e-324, 19.9, 20.5]]
    )
    ref = np.tanh(x)
    err = np.abs(apply(1, x) - ref)
    assert np.all(err <= 16 * np.spacing(np.abs(ref)) + 1e-320)
    assert apply(1, np.array([30.0, -1e300]))[0] == 1.0


def test_vlog1p_and_softplus():
    e = np.concatenate([RNG.uniform(0, 1, 50_000), 10.0 ** RNG.uniform(-300, 0, 1000), [0.0, 1.0]])
    np.testing.assert_allclose(apply(2, e), np.log1p(e), rtol=5e-16, atol=0)
    x = np.concatenate([RNG.uniform(-700, 700, 50_000), RNG.normal(0, 3, 50_000)])
    np.testing.assert_allclose(apply(3, x), np.logaddexp(0, x), rtol=1e-15, atol=0)


@pytest.mark.parametrize("kind", [0, 1, 3])
def test_non_finite_inputs(kind):
    out = apply(kind, np.array([np.nan, np.inf, -np.inf]))
    assert np.isnan(out[0])
    expect = {0: (np.inf, 0.0), 1: (1.0, -1.0), 3: (np.inf, 0.0)}[kind]
    # exp saturates at exp(709) / exp(-708) rather than inf / 0: documented
    if kind == 0:
        assert out[1] > 1e307 and 0 < out[2] < 1e-307
    else:
        assert out[1] == expect[0] and abs(out[2] - expect[1]) < 1e-300


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_apply_rule_rows_touches_only_given_rows(name):
    cfg = OptimizerConfig(name)
    rng = np.random.default_rng(2)
    p = rng.normal(size=40)
    slots = np.abs(rng.normal(size=(2, 40)))
    G = rng.normal(size=(3, 5))
    starts = np.array([30, 0, 10, 99])  # only the first 3 are used
    dense_g = np.zeros(40)
    for k in range(3):
        dense_g[starts[k] : starts[k] + 5] = G[k]
    touched = dense_g != 0
    pa, sa = p.copy(), slots.copy()
    apply_rule_rows(pa, sa, starts, G, 3, 7, 0.05, cfg.code, cfg.hyper(), np.zeros(5))
    pb, sb = p.copy(), slots.copy()
    apply_update(pb, dense_g.copy(), sb, np.array([6]), 0.05, cfg.code, cfg.hyper(), np.array([0, 40]))
    np.testing.assert_allclose(pa[touched], pb[touched], rtol=1e-13)
    assert np.array_equal(pa[~touched], p[~touched]) and np.array_equal(sa[:, ~touched], slots[:, ~touched])
