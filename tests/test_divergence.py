"""The divergence rule: loss above cap_factor · max(L0, the task's loss_scale), or non-finite.

It must not fire on healthy noisy steps (an episode that starts by chance near the optimum),
and must still fire on real divergence, in every family and in the vector env.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from lrgym.env import LRControlEnv
from lrgym.features import M_CAP, N_MEMORY, start_episode
from lrgym.tasks import make_family
from lrgym.tasks.base import N_STATS, S_TRAIN_LOSS
from lrgym.tasks.quadratic import expected_second_moments
from lrgym.vector import LRControlVectorEnv

# The false-divergence reproducer of issue #10: a 1-D noisy quadratic whose episode can start
# next to the optimum (L0 = 1.5e-6 at seed 7), then makes one healthy SGD step.
REPRO = dict(
    family="quadratic",
    family_options=dict(dim=1, condition=1.0, scale=2.0, noise=1.0, batch_size=1),
    factors=(1.0,), horizon=1, inner_steps=1, lr_init=0.4,
)


def test_reproducer_never_terminates_over_3000_seeds():
    env = LRControlEnv(**REPRO)
    terminated, old_rule_fires = 0, 0
    for seed in range(3000):
        _, info0 = env.reset(seed=seed, options={"instance": 6})
        _, _, term, trunc, info = env.step(0)
        terminated += term
        assert trunc or term
        old_rule_fires += info["train_loss"] > 1e4 * info0["train_loss"]  # cap_factor · L0 alone
    assert terminated == 0
    # the seeds that the old rule (cap relative to L0 alone) ended as "diverged" are there
    assert old_rule_fires >= 3


def test_seed_7_of_the_reproducer_is_a_healthy_step():
    env = LRControlEnv(**REPRO)
    _, info0 = env.reset(seed=7, options={"instance": 6})
    _, _, term, _, info = env.step(0)
    assert info0["train_loss"] < 1e-5 and info["train_loss"] > 1e4 * info0["train_loss"]
    assert not term and not info["diverged"]


def test_vector_env_follows_the_same_rule():
    n = 16
    vec = LRControlVectorEnv(n, **REPRO)
    for start in range(0, 400, n):
        vec.reset(seed=list(range(start, start + n)), options={"instance": 6})
        _, _, term, trunc, _ = vec.step(np.zeros(n, dtype=np.int64))
        assert not term.any() and trunc.all()
    vec.close()


@pytest.mark.parametrize("factor, diverges", [(2.5, True), (3.0, True), (1.9, False), (1.0, False)])
def test_sgd_above_2_over_L_on_noise_free_quadratic_terminates(factor, diverges):
    options = dict(dim=8, condition=10.0, scale=2.0, noise=0.0, batch_size=1)
    L = 2.0
    env = LRControlEnv(family="quadratic", family_options=options, factors=(1.0,), lr_init=factor / L)
    for seed in range(3):
        env.reset(seed=seed, options={"instance": 3})
        term = trunc = False
        while not (term or trunc):
            _, _, term, trunc, info = env.step(0)
        assert term == diverges and info["diverged"] == diverges


def test_cap_is_cap_factor_times_max_of_l0_and_loss_scale():
    memory = np.zeros(N_MEMORY)
    stats = np.zeros(N_STATS)
    for l0, scale, cap in [(2.0, 1.0, 200.0), (0.01, 1.0, 100.0), (0.5, math.nan, 50.0), (3.0, 0.0, 300.0)]:
        stats[S_TRAIN_LOSS] = l0
        start_episode(stats, 100.0, scale, memory)
        assert memory[M_CAP] == pytest.approx(cap, rel=1e-15)


# ---- every family: a much-too-large LR still terminates ----------------------------------------

SMALL = {
    "linreg": {},
    "quadratic": {},
    "mlp": dict(n_train=512),
    "recsys": dict(n_users=300, n_items=150),
}


@pytest.mark.parametrize("family", sorted(SMALL))
def test_much_too_large_lr_terminates_in_every_family(family):
    env = LRControlEnv(family=family, family_options=SMALL[family], factors=(1.0,), lr_max=1e4, lr_init=1e3)
    for instance in range(4):
        env.reset(seed=instance, options={"instance": instance})
        term = trunc = False
        while not (term or trunc):
            _, reward, term, trunc, info = env.step(0)
        assert term and info["diverged"], (family, instance, info["train_loss"])


# ---- the loss scales are what they say --------------------------------------------------------


@pytest.mark.parametrize(
    "family, options",
    [
        ("linreg", dict(streaming=False, dataset="synthetic")),
        ("linreg", dict(streaming=True, dataset="synthetic")),
        ("linreg", dict(dataset="diabetes")),
        ("quadratic", dict(noise=0.0)),
        ("mlp", dict(init="torch", n_train=512)),
        ("recsys", dict(n_users=300, n_items=150)),
    ],
)
def test_loss_scale_is_the_expected_initial_loss(family, options):
    """Monte Carlo mean of L0 over initial-parameter draws against the stated scale (closed form
    for linreg / quadratic; log C and log 2, the loss of a uniform prediction, for mlp /
    recsys, whose small initialisations start near it)."""
    fam = make_family(family, **options)
    for instance in range(3):
        task = fam.build(fam.sample(instance))
        stats = np.zeros(N_STATS)
        draws = []
        rng = np.random.default_rng(instance)
        for _ in range(400 if family in ("linreg", "quadratic") else 20):
            task.evaluate(task.new_state(rng), stats)
            draws.append(stats[S_TRAIN_LOSS])
        mean, sem = np.mean(draws), np.std(draws) / math.sqrt(len(draws))
        if family in ("linreg", "quadratic"):
            assert abs(mean - task.loss_scale) < 5 * sem + 1e-12 * task.loss_scale, (instance, mean, task.loss_scale)
        else:
            assert mean == pytest.approx(task.loss_scale, rel=0.1)


def test_quadratic_noise_term_is_the_stationary_loss_of_sgd_at_one_over_L():
    fam = make_family("quadratic", dim=5, condition=30.0, scale=4.0, noise=0.7, batch_size=4)
    task = fam.build(fam.sample(0))
    noise_free = 0.5 * np.mean(task.eigvals)
    m = np.zeros(5)
    for _ in range(20000):  # iterate the exact second-moment recursion to its fixed point
        m = expected_second_moments(task.eigvals, m, 1.0 / task.L, task.noise_var)
    assert task.loss_scale - noise_free == pytest.approx(0.5 * np.sum(task.eigvals * m), rel=1e-9)


@pytest.mark.parametrize("reward", ["log_improvement", "final"])
def test_a_huge_cap_factor_saturates_the_cap_and_keeps_the_penalty_finite(reward):
    """cap_factor = 1e308 means "no cap": the cap is the largest float, not inf, so a run that
    diverges (to a non-finite loss) gets the documented penalty log(L_prev / cap) — resp.
    log(L0 / cap) — finite (reference: Python's math on the losses the env reported)."""
    env = LRControlEnv(family="linreg", cap_factor=1e308, reward=reward, horizon=200, lr_init=1.0)
    _, info = env.reset(seed=0)
    l0 = previous = info["train_loss"]
    assert env.feature_memory[M_CAP] == sys.float_info.max
    for _ in range(200):
        _, r, terminated, truncated, info = env.step(4)  # LR × 2 until the loss is no longer finite
        if terminated or truncated:
            break
        previous = info["train_loss"]
    assert terminated and info["diverged"]
    expected = math.log((previous if reward == "log_improvement" else l0) / sys.float_info.max)
    assert math.isfinite(r) and r == pytest.approx(expected, rel=1e-12)
