"""The gradient-cosine feature stays the cosine, in the [−1, 1] the observation space declares, at
any gradient scale: a converged noise-free instance's gradients near 1e-82 make ‖g‖²·‖h‖² a
subnormal that has lost its digits (the cosine came out as −1.0013 on ``LRControl-Quadratic-v1``),
and gradients near 1e+80 overflow it (the cosine came out as 0). Reference: the cosine of the same
vectors computed exactly with Python's ``fractions.Fraction`` (the square root in 60-digit
``decimal``), never a number produced by lrgym."""

from __future__ import annotations

import decimal
from fractions import Fraction

import gymnasium as gym
import numpy as np
import pytest

import lrgym  # noqa: F401  (registers the ids)
from lrgym.tasks.stats import A_GRAD_COS, A_GRAD_PAIRS, N_ACC, record_gradient_pair


def exact_cosine(g, h) -> float:
    """cos(g, h) from the float64 values taken as exact rationals: Σgh / √(Σg² Σh²)."""
    g, h = [Fraction(float(x)) for x in g], [Fraction(float(x)) for x in h]
    dot = sum(a * b for a, b in zip(g, h))
    norms = sum(a * a for a in g) * sum(b * b for b in h)
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        root = (decimal.Decimal(norms.numerator) / decimal.Decimal(norms.denominator)).sqrt()
        return float(decimal.Decimal(dot.numerator) / decimal.Decimal(dot.denominator) / root)


def lrgym_cosine(g, h) -> float:
    acc, prev = np.zeros(N_ACC), np.array(h, dtype=np.float64)
    record_gradient_pair(np.array(g, dtype=np.float64), prev, True, acc)
    assert acc[A_GRAD_PAIRS] == 1.0
    return float(acc[A_GRAD_COS])


@pytest.mark.parametrize("scale", [1.0, 1e-60, 1e-82, 1e-100, 1e-150, 1e+80, 1e+120])
@pytest.mark.parametrize("seed", range(4))
def test_the_cosine_is_exact_to_rounding_at_every_scale(scale, seed):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(7) * scale
    h = (g + 0.3 * rng.standard_normal(7) * scale) if seed % 2 else -g * 0.5  # seed 0, 2: antiparallel
    expected = exact_cosine(g, h)
    got = lrgym_cosine(g, h)
    assert -1.0 <= got <= 1.0
    assert got == pytest.approx(expected, rel=1e-13, abs=1e-15)


def test_a_zero_gradient_has_cosine_zero():
    assert lrgym_cosine([0.0, 0.0], [1.0, 2.0]) == 0.0
    assert lrgym_cosine([1e-200, 0.0], [0.0, 0.0]) == 0.0


def test_a_converging_noise_free_quadratic_keeps_its_observations_in_the_space():
    """The auditor's trajectory: instance 254 at a constant LR converges to a loss near 1e-164,
    where the cosine had left [−1, 1] at step 41."""
    env = gym.make("LRControl-Quadratic-v1")
    obs, _ = env.reset(seed=0, options={"instance": 254, "lr_init": 0.0777})
    cosines = []
    for _ in range(50):
        obs, _, terminated, truncated, info = env.step(2)  # keep the LR
        assert env.observation_space.contains(obs), obs
        assert -1.0 <= info["grad_cos"] <= 1.0
        cosines.append(info["grad_cos"])
        if terminated or truncated:
            break
    assert info["train_loss"] < 1e-100  # the regime the test is about was reached
    assert min(cosines) < -0.99  # the gradients alternate there: the cosine sits at −1
