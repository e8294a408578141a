"""The hand-written recommender kernels of the speed benchmark (``benchmarks/hand_recsys.py``)
compute the math lrgym's kernel computes, so their speed ratios compare like with like."""

import numpy as np
import pytest

from benchmarks.hand_recsys import HandRecsys, HandRecsysSGD
from benchmarks.reference_recsys import NumpyRecsys
from lrgym.optim import OptimizerConfig
from lrgym.tasks import make_family
from lrgym.tasks.base import N_STATS, S_DIVERGED, S_GRAD_DOT, S_TRAIN_LOSS, S_UPDATES, S_VAL_LOSS, S_VAL_METRIC
from lrgym.tasks.recsys import draw_minibatch


@pytest.fixture(scope="module")
def task():
    fam = make_family("recsys", n_users=120, n_items=80, rank=4, batch_size=8, n_negatives=3)
    return fam.build(fam.sample(0))


@pytest.mark.parametrize("shape", [dict(n_users=120, n_items=80, rank=4, batch_size=8, n_negatives=3),
                                   dict(n_users=300, n_items=40, rank=16, batch_size=64, n_negatives=1)],
                         ids=["small", "rank16-repeated-items"])
def test_same_math_kernel_equals_lrgym_parameters_and_statistics(shape):
    """The same-math kernel: after several env steps, lrgym's parameters and every statistic the
    environment observes (loss moments, ‖g‖, g·g_prev, cosine, evaluation), to 1e-12."""
    fam = make_family("recsys", **shape)
    task = fam.build(fam.sample(0))
    state = task.new_state(np.random.default_rng(0))
    hand = HandRecsys(task, state.params, state.rng)
    stats, cfg = np.zeros(N_STATS), OptimizerConfig("sgd")
    for lr, n in ((0.3, 10), (0.1, 1), (0.5, 7)):
        task.run(state, lr, n, cfg.code, cfg.hyper(), 1e300, stats)
        out = hand.env_step(lr, n)
        np.testing.assert_allclose(hand.P.ravel(), state.params, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(hand.rng, state.rng)  # the same draws
        np.testing.assert_allclose(out, stats, rtol=1e-12, atol=1e-15)
        assert stats[S_UPDATES] == n and stats[S_DIVERGED] == 0
    assert stats[S_GRAD_DOT] != 0.0  # pairs across the env steps were counted
    assert not np.array_equal(hand.P.ravel(), task.new_state(np.random.default_rng(0)).params)  # it trained


def test_same_math_kernel_reports_divergence_like_lrgym(task):
    state = task.new_state(np.random.default_rng(2))
    hand = HandRecsys(task, state.params, state.rng)
    stats, cfg = np.zeros(N_STATS), OptimizerConfig("sgd")
    task.run(state, 1e8, 10, cfg.code, cfg.hyper(), 5.0, stats)
    out = hand.env_step(1e8, 10, loss_cap=5.0)
    assert stats[S_DIVERGED] == 1.0 and stats[S_UPDATES] < 10
    assert out[S_DIVERGED] == 1.0 and out[S_UPDATES] == stats[S_UPDATES]


def test_plain_sgd_kernel_same_updates_and_evaluation_as_lrgym_sgd(task):
    state = task.new_state(np.random.default_rng(0))
    hand = HandRecsysSGD(task, state.params, state.rng)
    stats, cfg = np.zeros(N_STATS), OptimizerConfig("sgd")
    task.run(state, 0.3, 10, cfg.code, cfg.hyper(), 1e300, stats)
    out = hand.env_step(0.3, 10)
    np.testing.assert_allclose(hand.P.ravel(), state.params, rtol=1e-12, atol=1e-14)
    assert not np.array_equal(hand.P.ravel(), task.new_state(np.random.default_rng(0)).params)  # it trained
    np.testing.assert_array_equal(hand.rng, state.rng)  # the same draws
    np.testing.assert_allclose(out[[S_TRAIN_LOSS, S_VAL_LOSS]], stats[[S_TRAIN_LOSS, S_VAL_LOSS]], rtol=1e-12)
    assert out[S_VAL_METRIC] == stats[S_VAL_METRIC]


def test_plain_sgd_one_update_matches_numpy_scatter_add(task):
    """An independent reference: one minibatch's SGD step by NumPy's ``np.add.at``."""
    state = task.new_state(np.random.default_rng(1))
    hand = HandRecsysSGD(task, state.params, state.rng)
    ref = NumpyRecsys(task, state.params)
    # the triples the hand kernel will draw, from the same state word
    n = len(hand.tri_u)
    u, i, y, scratch = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n), np.zeros(n)
    draw_minibatch(hand.rng.copy(), task.pos_u, task.pos_i, task.n_items, task.group, u, i, y, scratch)
    ref.sgd_update(u, i, y, 0.5)
    hand.env_step(0.5, 1)
    np.testing.assert_allclose(hand.P[: ref.U.shape[0]], ref.U, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hand.P[ref.U.shape[0]:], ref.V, rtol=1e-12, atol=1e-14)
