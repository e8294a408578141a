"""The one reference rule (best constant LR by a fine search) and the one score function."""

import math

import numpy as np
import pytest

from lrgym.baselines.reference import (
    ConstantLRRuns, Row, coarse_grid, objective, search_reference,
)
from lrgym.baselines.score import PRECISION_FLOOR, floored, score


def synthetic(log10_opt: float, diverge_above: float = math.inf, seeds: int = 2, calls: list | None = None):
    """A constant-LR "run" whose mean log final loss is a parabola in log10 LR with its minimum
    at ``log10_opt`` (seed s shifts the loss by a constant factor), diverging above a given LR."""

    def run(lr: float) -> Row:
        if calls is not None:
            calls.append(lr)
        x = math.log10(lr) - log10_opt
        final = tuple(math.inf if lr > diverge_above else math.exp(-10.0 + 4.0 * x * x + 0.1 * s)
                      for s in range(seeds))
        return Row(lr, (1.0,) * seeds, final)

    return run


@pytest.mark.parametrize("log10_opt", [-3.3, -1.0, 0.123, -4.91])
def test_search_finds_the_optimum_of_a_smooth_objective_to_1_128_decade(log10_opt):
    ref = search_reference(synthetic(log10_opt), 1e-6, 10.0)
    assert abs(math.log10(ref.lr) - log10_opt) <= 1 / 128 + 1e-12  # closed form: the parabola's minimum
    assert ref.bracketed and ref.margin_decades > 0.5
    # the stated precision in S: the best point of the parabola scores at most 1 % above the reference
    best_loss = math.exp(-10.0)
    assert math.log(1.0 / best_loss) / -math.log(ref.best.final_loss[0]) <= 1.01


def test_search_never_runs_past_a_divergence():
    calls = []
    ref = search_reference(synthetic(-0.2, diverge_above=0.5, calls=calls), 1e-6, 10.0)
    assert max(calls) == pytest.approx(1.0)  # the grid stops at its first diverging point, 1.0
    for i, lr in enumerate(calls):  # and no LR at or above one that already diverged is ever run
        assert all(lr < earlier for earlier in calls[:i] if earlier > 0.5)
    assert sum(lr > 0.5 for lr in calls) >= 2  # the refinement did probe (and stop at) the edge
    assert ref.lr < 0.5 and not ref.best.diverged


def test_search_at_the_range_edge_is_flagged():
    ref = search_reference(synthetic(2.0), 1e-6, 10.0)  # optimum above lr_max
    assert ref.lr == pytest.approx(10.0)
    assert ref.margin_decades == pytest.approx(0.0) and not ref.bracketed


def test_everything_diverges_gives_the_smallest_lr():
    ref = search_reference(synthetic(-3.0, diverge_above=0.0), 1e-6, 10.0)
    assert ref.lr == pytest.approx(1e-6) and ref.best.diverged
    assert len(ref.evaluated) == 1


def test_ties_go_to_the_smaller_lr_and_the_floor_makes_ties():
    def run(lr):  # every LR above 1e-3 reaches far below the precision floor
        return Row(lr, (1.0,), (1e-40 * lr if lr > 1e-3 else 1.0,))

    ref = search_reference(run, 1e-6, 10.0)
    # the smallest LR the search ran that reaches the floor: grid 10^-2.5, then 7/16 and 3/64 lower
    assert ref.lr == pytest.approx(10 ** (-2.5 - 7 / 16 - 3 / 64))
    assert objective((1.0,), (1e-100,)) == objective((1.0,), (1e-13,)) == pytest.approx(math.log(PRECISION_FLOOR))
    assert objective((1.0, 1.0), (0.1, math.inf)) == math.inf and objective((1.0,), (math.nan,)) == math.inf


def test_coarse_grid_is_half_decades_over_the_range():
    grid = coarse_grid(1e-6, 10.0)
    assert len(grid) == 15 and grid[0] == 1e-6 and grid[-1] == pytest.approx(10.0)
    assert np.allclose(np.diff(np.log10(grid)), 0.5)
    assert coarse_grid(1e-4, 0.5)[-1] == 0.5  # the top of the range is always run


def test_constant_lr_runs_are_constant_lr_episodes():
    """ConstantLRRuns gives the losses of an obvious hand-written constant-LR loop."""
    from lrgym.env import LRControlEnv

    kwargs = {"family": "quadratic", "instance_set": "test", "horizon": 5, "inner_steps": 3}
    row = ConstantLRRuns(kwargs, 20001, (0, 3))(0.002)
    for i, seed in enumerate((0, 3)):
        env = LRControlEnv(**kwargs, lr_init=0.002, factors=(1.0,))
        _, info = env.reset(seed=seed, options={"instance": 20001})
        assert row.initial_loss[i] == info["train_loss"]
        for _ in range(5):
            _, _, term, trunc, info = env.step(0)
            assert info["lr"] == 0.002 and not term
        assert row.final_loss[i] == info["train_loss"]


# ---- the score -----------------------------------------------------------------------------------


def test_score_by_hand_with_the_floor():
    assert score(1.0, 1e-3, 1e-6) == pytest.approx(0.5)  # log 1e3 / log 1e6
    assert score(1.0, 1e-20, 1e-13) == pytest.approx(1.0)  # both at the floor
    assert score(1.0, 0.0, 1e-6) == 2.0  # 12/6 at the floor, clipped to 2
    assert score(1.0, math.inf, 1e-6, True) == -1.0 and score(1.0, math.nan, 1e-6) == -1.0
    assert score(1.0, 10.0, 1e-2) == pytest.approx(-0.5)
    np.testing.assert_allclose(score([1.0, 4.0], [0.1, 2.0], [0.01, 1.0], [False, False]), [0.5, 0.5])
    assert floored(1e-30, 2.0) == 2 * PRECISION_FLOOR and np.isnan(floored(math.nan, 1.0))
    with pytest.raises(ValueError, match="initial_loss"):
        score(0.0, 1.0, 1.0)


def test_one_score_function_everywhere():
    """The leaderboard re-exports the baselines' score: one object, not a copy."""
    from lrgym.baselines import score as base
    from lrgym.leaderboard import references, scoring

    assert scoring.run_score is base.run_score and scoring.score is base.score
    assert references.floored is base.floored and references.PRECISION_FLOOR is base.PRECISION_FLOOR


def test_minimax_rule_where_the_lowest_mean_log_loss_is_beaten_in_score():
    """Two seeds whose log-improvements g_s(x) (x = log10 LR) differ in scale and optimum. The
    lowest mean log loss sits near the big seed's optimum, where another LR scores > 1.05 in S
    (S weighs each seed by 1/g_s(η*)); the minimax reference is beaten by no LR of a dense
    independent grid by more than 0.1 %."""

    def g(x):
        return np.array([5.0 - 10.0 * (x - 0.3) ** 2, 0.5 - (x + 0.3) ** 2])

    def run(lr):
        return Row(lr, (1.0, 1.0), tuple(np.exp(-g(math.log10(lr)))))

    def worst_against(x_ref):
        xs = np.linspace(-1.0, 1.0, 4001)
        return max(float(np.mean(g(x) / g(x_ref))) for x in xs)

    ref = search_reference(run, 1e-3, 100.0)
    assert worst_against(math.log10(ref.lr)) <= 1.001
    x_mean_log = 0.3 * 10 / 11 - 0.3 * 1 / 11  # argmax of g_0 + g_1 (closed form)
    assert worst_against(x_mean_log) > 1.05
