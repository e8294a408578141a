"""Layer-wise (LARS) normalisation of a layer whose parameters are all zero: the trust ratio
‖p_l‖ / ‖g_l‖ would be 0 and freeze the layer forever, so the rule takes ‖p_l‖ = 0 → 1/‖g_l‖
(a unit step in the gradient's direction). Glorot-initialised MLP biases start at exactly 0.
"""

from __future__ import annotations

import numpy as np
import pytest

from lrgym.optim import OPTIMIZERS, OptimizerConfig, apply_update
from lrgym.tasks.base import N_STATS
from lrgym.tasks.mlp import MLPFamily
from references import ReferenceOptimizer, rel_err


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_zero_layer_moves_under_layerwise_normalisation(name):
    rng = np.random.default_rng(5)
    segments = np.array([0, 3, 7, 9], dtype=np.int64)
    p = rng.standard_normal(9)
    p[3:7] = 0.0  # the middle layer starts at zero
    p_ref = p.copy()
    config = OptimizerConfig(name=name, normalize="layerwise")
    ref = ReferenceOptimizer(name, 9, segments=list(segments), normalize="layerwise")
    slots, step = np.zeros((2, 9)), np.zeros(1, dtype=np.int64)
    for k in range(5):
        g = rng.standard_normal(9)
        apply_update(p, g.copy(), slots, step, 0.05, config.code, config.hyper(), segments)
        p_ref = ref.step(p_ref, g, 0.05)
        assert rel_err(p, p_ref) < 1e-12, k
    assert np.all(p[3:7] != 0.0)


def test_first_sgd_step_of_a_zero_layer_is_a_unit_step():
    g = np.array([3.0, 4.0, 1.0, -2.0, 2.0])
    p = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    segments = np.array([0, 2, 5], dtype=np.int64)
    config = OptimizerConfig("sgd", normalize="layerwise")
    apply_update(p, g.copy(), np.zeros((2, 5)), np.zeros(1, dtype=np.int64), 0.1, config.code, config.hyper(), segments)
    np.testing.assert_allclose(p[2:], -0.1 * g[2:] / 3.0, rtol=1e-15)  # ‖g_l‖ = 3: the step has length lr
    np.testing.assert_allclose(p[:2], 1.0 - 0.1 * g[:2] * np.sqrt(2.0) / 5.0, rtol=1e-15)  # ‖p_l‖ / ‖g_l‖


def test_glorot_mlp_biases_take_a_step_of_length_lr_under_layerwise_sgd():
    fam = MLPFamily(dataset="teacher", input_dim=6, n_classes=3, hidden=8, depth=1, n_train=512,
                    batch_size=16, init="glorot")
    task = fam.build(fam.sample(2))
    state = task.new_state(np.random.default_rng(0))
    biases = [slice(int(lo), int(hi)) for lo, hi in zip(task.segments[1::2], task.segments[2::2])]
    assert all(np.all(state.params[b] == 0.0) for b in biases)
    config = OptimizerConfig("sgd", normalize="layerwise")
    stats = np.zeros(N_STATS)
    task.run(state, 0.01, 1, config.code, config.hyper(), 1e12, stats)
    for b in biases:
        assert np.linalg.norm(state.params[b]) == pytest.approx(0.01, rel=1e-12)
