"""Noisy quadratic: the kernel against the formulas, and the classical theory of GD."""

import gymnasium as gym
import numpy as np
import pytest

import lrgym  # noqa: F401  (registers the ids)
from lrgym.features import M_L0
from lrgym.optim import OptimizerConfig
from lrgym.tasks import make_family
from lrgym.tasks.base import N_STATS, S_BATCH_LOSS, S_LOSS_VAR, S_TRAIN_LOSS
from lrgym.tasks.quadratic import expected_second_moments, greedy_optimal_lr
from references import SplitMix64, rel_err

SGD = OptimizerConfig()


def build(**options):
    family = make_family("quadratic", **options)
    return family.build(family.sample(3))


def test_hessian_has_the_requested_spectrum():
    task = build(dim=9, condition=50.0, scale=3.0)
    eig = np.linalg.eigvalsh(task.H)
    assert eig.max() == pytest.approx(3.0, rel=1e-12) and eig.min() == pytest.approx(3.0 / 50, rel=1e-10)


def test_noisy_kernel_matches_reference_in_lock_step():
    task = build(dim=5, noise=0.7, batch_size=4)
    state = task.new_state(np.random.default_rng(0))
    ref = SplitMix64(int(state.rng[0]))
    x = state.params.copy()
    stats = np.zeros(N_STATS)
    task.run(state, 0.3, 6, SGD.code, SGD.hyper(), 1e9, stats)
    batch_losses, variances = [], []
    for _ in range(6):
        xi = ref.normals(5)
        s = 0.7 / 2.0  # σ/√b
        batch_losses.append(0.5 * x @ task.H @ x + s * xi @ x)
        variances.append(0.7**2 * x @ x)
        x = x - 0.3 * (task.H @ x + s * xi)
    assert rel_err(state.params, x) < 1e-10
    assert stats[S_TRAIN_LOSS] == pytest.approx(0.5 * x @ task.H @ x, rel=1e-10)
    assert stats[S_BATCH_LOSS] == pytest.approx(np.mean(batch_losses), rel=1e-10)
    assert stats[S_LOSS_VAR] == pytest.approx(np.mean(variances), rel=1e-10)


def quadratic_env(**family_options):
    options = {"dim": 8, "condition": 20.0, "scale": 2.0, "noise": 0.0, **family_options}
    return gym.make("LRControl-Quadratic-v1", family_options=options, action_mode="log_lr", horizon=60,
                    inner_steps=20, lr_max=10.0)


@pytest.mark.parametrize("factor, diverges", [(1.99, False), (2.01, True)])
def test_gd_converges_below_2_over_L_and_diverges_above(factor, diverges):
    env = quadratic_env()
    obs, info = env.reset(seed=0)
    lr = factor / env.unwrapped.task.L
    action = env.unwrapped.lr_to_action(lr)
    terminated = truncated = False
    while not (terminated or truncated):
        obs, reward, terminated, truncated, info = env.step(action)
        assert info["lr"] == pytest.approx(lr, rel=1e-6)
        assert np.all(np.isfinite(obs))
    assert bool(info["diverged"]) is diverges and terminated is diverges  # info flags are np.bool_
    if not diverges:
        assert info["train_loss"] < 1e-6 * env.unwrapped.feature_memory[M_L0]  # the initial loss


def test_contraction_at_two_over_L_plus_mu_on_extreme_directions():
    task = build(dim=6, condition=30.0, scale=1.5, noise=0.0)
    L, mu = task.L, task.mu
    kappa = L / mu
    u_max, u_min = task.U[:, 0], task.U[:, -1]
    state = task.new_state(np.random.default_rng(0))
    state.params[:] = 0.7 * u_max - 1.3 * u_min
    stats = np.zeros(N_STATS)
    task.run(state, 2 / (L + mu), 1, SGD.code, SGD.hyper(), 1e9, stats)
    rate = (kappa - 1) / (kappa + 1)
    assert state.params @ u_max == pytest.approx(-rate * 0.7, rel=1e-10)  # 1 − 2L/(L+μ) = −rate
    assert state.params @ u_min == pytest.approx(rate * -1.3, rel=1e-10)  # 1 − 2μ/(L+μ) = +rate


def test_greedy_optimal_lr_minimises_the_next_expected_loss():
    lam = np.array([2.0, 0.5, 0.1])
    m = np.array([0.3, 1.0, 2.0])
    s2 = 0.05
    eta = greedy_optimal_lr(lam, m, s2)
    grid = np.linspace(0.01, 1.5, 20001)
    expected = [0.5 * lam @ expected_second_moments(lam, m, g, s2) for g in grid]
    assert eta == pytest.approx(grid[int(np.argmin(expected))], abs=1e-4)


def test_expected_second_moments_match_monte_carlo():
    task = build(dim=3, condition=4.0, scale=1.0, noise=0.5, batch_size=1, rotate=False)
    lam = np.sort(np.diag(task.H))[::-1]
    finals = []
    stats = np.zeros(N_STATS)
    for seed in range(400):
        state = task.new_state(np.random.default_rng(seed))
        state.params[:] = [1.0, 1.0, 1.0]
        task.run(state, 0.4, 5, SGD.code, SGD.hyper(), 1e9, stats)
        finals.append(state.params**2)
    m = np.ones(3)
    for _ in range(5):
        m = expected_second_moments(lam, m, 0.4, 0.25)
    np.testing.assert_allclose(np.mean(finals, axis=0), m, rtol=0.15)
