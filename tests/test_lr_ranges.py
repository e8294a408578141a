"""Every family's best constant SGD LR lies well inside the env's LR range [lr_min, lr_max].

For each of many train instances (default horizon and inner steps), a search over constant SGD
LRs that may leave the range (the env is built with a much wider one): a walk on a
half-decade grid from 0.01 towards lower final loss until it rises, then a refinement by
eighth-decades around the best point. Objective: the log of the final training loss (at most a
10¹²-fold reduction counts, as the leaderboard's precision floor; a diverged run is +inf).
The best LR must lie at least a quarter decade inside [1e-6, 10] on each side.

The fast tier checks 6 instances per family (≈ 15 s); ``-m slow`` 32 per family (≈ 2 min).
Measured on train instances 0 – 31 (log10 of the best LR, min – max): linreg −3.0 – −0.25,
quadratic −2.9 – 0.25, mlp −2.9 – −1.25, recsys −1.6 – −0.4; the allowed band is
−5.75 – 0.75.
"""

from __future__ import annotations

import math

import pytest

from lrgym.env import LRControlEnv

LR_MIN, LR_MAX = 1e-6, 10.0  # the env's defaults
MARGIN = 10.0**0.25  # a quarter decade
FAMILIES = ("linreg", "quadratic", "mlp", "recsys")


def _env_range():
    env = LRControlEnv()
    return env.lr_min, env.lr_max


def final_log_loss(env: LRControlEnv, instance: int, lr: float, seed: int = 0) -> float:
    """log L_T of constant-LR SGD (floored at 1e-12·L0); +inf if the run diverged."""
    _, info = env.reset(seed=seed, options={"instance": instance, "lr_init": lr})
    l0 = info["train_loss"]
    term = trunc = False
    while not (term or trunc):
        _, _, term, trunc, info = env.step(0)
    if term:
        return math.inf
    return math.log(max(info["train_loss"], 1e-12 * l0))


def best_constant_lr(env: LRControlEnv, instance: int) -> tuple[float, dict]:
    """The walk-and-refine search of the module docstring; returns (best LR, evaluations)."""
    seen: dict[float, float] = {}

    def value(e: float) -> float:  # e = log10 LR
        key = round(e, 6)
        if key not in seen:
            seen[key] = final_log_loss(env, instance, 10.0**key)
        return seen[key]

    e = -2.0
    for step in (0.5, -0.5):  # walk up while it helps, else down
        while -9.0 < e < 4.0 and value(e + step) < value(e):
            e += step
    best = min((e + x for x in (-0.25, -0.125, 0.0, 0.125, 0.25)), key=lambda x: (value(x), x))
    return 10.0**best, seen


def check_family(family: str, instances) -> list[str]:
    assert _env_range() == (LR_MIN, LR_MAX)
    env = LRControlEnv(family=family, factors=(1.0,), lr_min=1e-10, lr_max=1e5)
    problems = []
    for instance in instances:
        lr, seen = best_constant_lr(env, instance)
        assert math.isfinite(min(seen.values())), (family, instance, "every LR diverged")
        if not (LR_MIN * MARGIN <= lr <= LR_MAX / MARGIN):
            problems.append(f"{family} instance {instance}: best constant SGD LR {lr:.3g}")
    return problems


@pytest.mark.parametrize("family", FAMILIES)
def test_best_constant_lr_well_inside_range_fast(family):
    assert check_family(family, range(100, 106)) == []


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_best_constant_lr_well_inside_range_32_instances(family):
    assert check_family(family, range(32)) == []


def test_search_finds_the_closed_form_optimum_of_gradient_descent():
    """The search itself: on a noise-free quadratic with eigenvalues in [μ, L], constant-LR GD
    minimises the final loss near η = 2/(L + μ) (the contraction (κ−1)/(κ+1) is smallest
    there), and a 1-D quadratic's best η is 1/L (exact in one step); also outside the range."""
    for L in (2.0, 2e-3):  # 2e-3: the optimum η = 1/L = 500 lies far above lr_max
        env = LRControlEnv(family="quadratic", factors=(1.0,), lr_min=1e-10, lr_max=1e5, horizon=3, inner_steps=1,
                           family_options=dict(dim=1, condition=1.0, scale=L, noise=0.0))
        lr, _ = best_constant_lr(env, 0)
        assert lr == pytest.approx(1.0 / L, rel=0.34)  # within an eighth decade
        assert (LR_MIN * MARGIN <= lr <= LR_MAX / MARGIN) == (L == 2.0)
    env = LRControlEnv(family="quadratic", factors=(1.0,), lr_min=1e-10, lr_max=1e5, horizon=4, inner_steps=5,
                       family_options=dict(dim=16, condition=50.0, scale=3.0, noise=0.0))
    lr, _ = best_constant_lr(env, 0)
    assert lr == pytest.approx(2.0 / (3.0 + 3.0 / 50.0), rel=0.34)
