"""Hand-checked tests of lrgym.leaderboard.scoring (every expected value is worked out in a comment)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrgym.leaderboard.scoring import (
    Interval,
    aggregate,
    algoperf_profile,
    algoperf_score,
    family_iqm,
    instance_bootstrap_ci,
    instance_bootstrap_samples,
    iqm,
    mean,
    median,
    optimality_gap,
    performance_profile,
    performance_ratios,
    probability_of_improvement,
    probability_of_improvement_ci,
    probability_of_improvement_cis,
    run_score,
    steps_to_target,
    stratified_bootstrap_ci,
    stratified_bootstrap_samples,
)

INF = math.inf


# ------------------------------------------------------------------------------------ run_score


def test_run_score_hand_values():
    # log L0 = 2, log L_ref = 0: the reference closed a log-gap of 2.
    assert run_score(2.0, 1.0, 0.0, False) == pytest.approx(0.5)  # (2 − 1) / 2
    assert run_score(2.0, 0.0, 0.0, False) == pytest.approx(1.0)  # matches the reference
    assert run_score(2.0, 2.0, 0.0, False) == pytest.approx(0.0)  # no progress
    assert run_score(2.0, 3.0, 0.0, False) == pytest.approx(-0.5)  # (2 − 3) / 2
    assert run_score(2.0, -1.0, 0.0, False) == pytest.approx(1.5)  # (2 + 1) / 2


def test_run_score_clipping():
    assert run_score(2.0, -4.0, 0.0, False) == 2.0  # raw (2 + 4) / 2 = 3 → 2
    assert run_score(2.0, 5.0, 0.0, False) == -1.0  # raw (2 − 5) / 2 = −1.5 → −1
    assert run_score(2.0, -4.0, 0.0, False, clip=None) == pytest.approx(3.0)
    assert run_score(2.0, -4.0, 0.0, False, clip=(0.0, 1.0)) == 1.0


def test_run_score_divergence_floor():
    # Diverged runs get the floor whatever their final loss, even a good one.
    assert run_score(2.0, 0.0, 0.0, True) == -1.0
    # The floor is applied after clipping and used as given.
    assert run_score(2.0, 0.0, 0.0, True, floor=-2.0) == -2.0
    # A NaN or +inf final log-loss counts as divergence.
    assert run_score(2.0, math.nan, 0.0, False) == -1.0
    assert run_score(2.0, INF, 0.0, False, floor=-3.0) == -3.0
    # A loss of exactly 0 (log = −inf) is a perfect run, not a divergence.
    assert run_score(2.0, -INF, 0.0, False) == 2.0


def test_run_score_reference_without_progress():
    # log L0 = log L_ref = 1: 1 if the run ends at or below both, else 0.
    assert run_score(1.0, 1.0, 1.0, False) == 1.0
    assert run_score(1.0, 0.5, 1.0, False) == 1.0
    assert run_score(1.0, 1.5, 1.0, False) == 0.0
    # Reference got worse (log L_ref = 1.5 > log L0 = 1): must beat min(L0, L_ref) = L0.
    assert run_score(1.0, 1.2, 1.5, False) == 0.0
    assert run_score(1.0, 0.9, 1.5, False) == 1.0
    assert run_score(1.0, 0.9, 1.5, True) == -1.0


def test_run_score_vectorised_and_validated():
    log_lt = np.array([1.0, 0.0, -4.0, np.nan, 3.0])
    diverged = np.array([False, False, False, False, True])
    out = run_score(2.0, log_lt, 0.0, diverged)
    np.testing.assert_allclose(out, [0.5, 1.0, 2.0, -1.0, -1.0])
    assert out.shape == (5,) and out.dtype == np.float64
    # Broadcasting: per-task references along the columns, seeds along the rows.
    log_l0, log_lref = np.array([2.0, 4.0]), np.array([0.0, 2.0])
    s = run_score(log_l0, np.array([[1.0, 2.0], [0.0, 0.0]]), log_lref, False)
    np.testing.assert_allclose(s, [[0.5, 1.0], [1.0, 2.0]])
    with pytest.raises(ValueError):
        run_score(np.nan, 0.0, 0.0, False)
    with pytest.raises(ValueError):
        run_score(2.0, 0.0, np.inf, False)


# ------------------------------------------------------------------------------ steps_to_target


def test_steps_to_target():
    curve = [5.0, 4.0, 3.0, 2.0, 1.0]
    assert steps_to_target(curve, 3.0) == 3.0  # loss after step 3 is 3 ≤ 3
    assert steps_to_target(curve, 3.5) == 3.0
    assert steps_to_target(curve, 10.0) == 1.0  # first step already reaches it
    assert steps_to_target(curve, 1.0) == 5.0
    assert steps_to_target(curve, 0.5) == INF  # never
    assert steps_to_target([np.nan, np.inf, 2.0], 3.0) == 3.0  # NaN / inf never count
    assert steps_to_target([1.0, np.nan, np.nan], 1.0) == 1.0  # reached before diverging
    assert steps_to_target([], 1.0) == INF
    batch = np.array([[5.0, 4.0, 3.0], [1.0, 1.0, 1.0], [9.0, 9.0, 9.0]])
    np.testing.assert_array_equal(steps_to_target(batch, [3.0, 1.0, 1.0]), [3.0, 1.0, INF])


# ----------------------------------------------------------------------------------- aggregates


def test_iqm_hand_computed_8_values():
    scores = np.array([[0.0, 10.0], [1.0, 2.0], [3.0, -5.0], [4.0, 100.0]])
    # sorted: −5 0 | 1 2 3 4 | 10 100 → cut 8 // 4 = 2 from each end → (1+2+3+4)/4 = 2.5
    assert iqm(scores) == pytest.approx(2.5)


def test_iqm_odd_count_rounds_cut_down():
    scores = np.array([[1.0, 100.0, 3.0], [4.0, 5.0, 6.0], [-50.0, 8.0, 9.0]])
    # 9 entries, cut 9 // 4 = 2 (scipy.stats.trim_mean also rounds down):
    # sorted −50 1 | 3 4 5 6 8 | 9 100 → 26 / 5 = 5.2
    assert iqm(scores) == pytest.approx(5.2)


def test_mean_median_optimality_gap():
    assert mean([[0.0, 1.0], [2.0, 3.0]]) == pytest.approx(1.5)
    # task means 1, 15, 1 → median 1 (the median of all six entries would be 1.5)
    assert median([[0.0, 10.0, 1.0], [2.0, 20.0, 1.0]]) == pytest.approx(1.0)
    s = [[0.5, 1.5], [1.0, -1.0]]
    # max(1 − s, 0) = 0.5, 0, 0, 2 → 2.5 / 4
    assert optimality_gap(s) == pytest.approx(0.625)
    # max(2 − s, 0) = 1.5, 0.5, 1, 3 → 6 / 4
    assert optimality_gap(s, gamma=2.0) == pytest.approx(1.5)


def test_aggregates_reduce_stacks_over_last_two_axes():
    rng = np.random.default_rng(1)
    stack = rng.normal(size=(4, 3, 5))
    for f in (iqm, mean, median, optimality_gap):
        np.testing.assert_allclose(f(stack), [f(m) for m in stack])


def test_scores_are_validated():
    with pytest.raises(ValueError):
        iqm([1.0, 2.0])  # 1-D: which axis is runs?
    with pytest.raises(ValueError):
        mean([[1.0, np.nan]])
    with pytest.raises(ValueError):
        median(np.zeros((0, 3)))


# ---------------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_of_constant_matrix_collapses():
    scores = np.full((5, 3), 0.7)
    for f in (iqm, mean, median, optimality_gap):
        est, low, high = stratified_bootstrap_ci(scores, f, reps=200)
        assert est == pytest.approx(0.7 if f is not optimality_gap else 0.3)
        assert low == pytest.approx(est, abs=1e-12) and high == pytest.approx(est, abs=1e-12)


def test_column_constant_matrix_gives_zero_width_ci():
    # Each column is constant, so stratified resamples equal the original matrix; a bootstrap
    # that mixed columns would produce other means.
    scores = np.tile([0.0, 1.0, 5.0], (4, 1))
    est, low, high = stratified_bootstrap_ci(scores, mean, reps=500)
    assert est == pytest.approx(2.0)
    assert high - low == pytest.approx(0.0, abs=1e-12)
    assert low == pytest.approx(2.0)


def test_resampling_never_mixes_columns():
    scores = np.array([[0.0, 10.0, 20.0], [1.0, 11.0, 21.0], [2.0, 12.0, 22.0]])

    def columns_intact(s):
        return float(all(np.isin(s[:, m], scores[:, m]).all() for m in range(scores.shape[1])))

    samples = stratified_bootstrap_samples(scores, columns_intact, reps=300)
    assert samples.shape == (300,) and np.all(samples == 1.0)


def test_tasks_are_resampled_independently():
    # Rows [0, 0] and [1, 1]: resampling whole rows could only give means 0, 0.5, 1; per-task
    # resampling also gives 0.25 and 0.75 (column means differ by 0.5).
    scores = np.array([[0.0, 0.0], [1.0, 1.0]])
    samples = stratified_bootstrap_samples(scores, mean, reps=400)
    values = set(np.round(samples, 12))
    assert values <= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert 0.25 in values and 0.75 in values


def test_bootstrap_ci_tiny_matrix_contains_estimate_and_is_deterministic():
    scores = np.array([[0.1, 0.9], [0.4, 1.3], [0.2, 0.5]])
    a = stratified_bootstrap_ci(scores, iqm, reps=1000, seed=3)
    b = stratified_bootstrap_ci(scores, iqm, reps=1000, seed=3)
    c = stratified_bootstrap_ci(scores, iqm, reps=1000, seed=4)
    assert isinstance(a, Interval)
    assert a.low <= a.estimate <= a.high and a.low < a.high
    assert a == b
    assert (a.low, a.high) != (c.low, c.high)
    assert a.estimate == pytest.approx(iqm(scores))


def test_vectorized_and_looped_statistics_agree():
    scores = np.random.default_rng(0).normal(size=(4, 3))
    fast = stratified_bootstrap_samples(scores, iqm, reps=300, seed=5)
    slow = stratified_bootstrap_samples(scores, lambda s: iqm(s), reps=300, seed=5)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


def test_bootstrap_of_vector_statistic():
    scores = np.array([[0.2, 1.5], [0.8, -1.0], [0.3, 0.9]])
    taus = np.array([0.0, 0.5, 1.0])
    est, low, high = stratified_bootstrap_ci(
        scores, lambda s: performance_profile(s, taus), reps=300, vectorized=True
    )
    assert est.shape == low.shape == high.shape == (3,)
    assert np.all(low <= est) and np.all(est <= high)


def test_aggregate_matches_individual_cis():
    scores = np.array([[0.1, 0.9, 1.2], [0.4, 1.3, 0.7], [0.2, 0.5, -1.0]])
    out = aggregate(scores, reps=500, seed=7)
    assert set(out) == {"iqm", "mean", "median", "optimality_gap"}
    functions = {"iqm": iqm, "mean": mean, "median": median, "optimality_gap": optimality_gap}
    for name, f in functions.items():
        single = stratified_bootstrap_ci(scores, f, reps=500, seed=7)
        assert out[name] == pytest.approx(single, abs=1e-12)
        assert out[name].low <= out[name].estimate <= out[name].high


# ----------------------------------------------------------------------- probability of improvement


def test_poi_identical_and_dominating():
    x = np.array([[0.1, 2.0], [0.5, 3.0], [0.3, 1.0]])
    assert probability_of_improvement(x, x) == pytest.approx(0.5)
    assert probability_of_improvement(x + 10.0, x) == pytest.approx(1.0)
    assert probability_of_improvement(x, x + 10.0) == pytest.approx(0.0)


def test_poi_hand_computed_with_ties():
    x = np.array([[1.0], [2.0], [3.0]])
    y = np.array([[2.0], [2.0], [0.0]])
    # 9 pairs: x=1 beats 0 (1 win); x=2 ties 2 twice, beats 0 (1 win, 2 ties); x=3 beats all
    # (3 wins) → U = 5 + 0.5·2 = 6 → 6 / 9
    assert probability_of_improvement(x, y) == pytest.approx(2.0 / 3.0)
    assert probability_of_improvement(y, x) == pytest.approx(1.0 / 3.0)
    # (U = 6 is also scipy.stats.mannwhitneyu(x[:, 0], y[:, 0]).statistic.)


def test_poi_averages_over_tasks_and_allows_unequal_runs():
    x = np.array([[5.0, 0.0], [6.0, 0.0]])  # wins task 0, loses task 1
    y = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    assert probability_of_improvement(x, y) == pytest.approx(0.5)  # (1 + 0) / 2


def test_poi_ci():
    x = np.array([[0.1, 2.0], [0.5, 3.0], [0.3, 1.0]])
    est, low, high = probability_of_improvement_ci(x + 10.0, x, reps=300)
    assert (est, low, high) == pytest.approx((1.0, 1.0, 1.0))
    # Paired resampling of identical matrices keeps them identical: 0.5 in every replication.
    paired = probability_of_improvement_ci(x, x, reps=300, paired=True)
    assert paired == pytest.approx((0.5, 0.5, 0.5))
    y = x + np.array([[0.2, -0.5], [-0.3, 0.4], [0.0, 0.1]])
    a = probability_of_improvement_ci(x, y, reps=500, seed=2)
    assert a.low <= a.estimate <= a.high
    assert a == probability_of_improvement_ci(x, y, reps=500, seed=2)
    with pytest.raises(ValueError):
        probability_of_improvement_ci(x, x[:2], paired=True)


def _poi_bootstrap_pairwise(x, y, reps, seed, paired, chunk):
    """The PoI bootstrap the obvious way: the draws of probability_of_improvement_ci (per chunk of
    ``chunk`` replications, x's indices then y's), every pair of resampled runs compared."""
    rng = np.random.default_rng(seed)
    (nx, m), ny = x.shape, y.shape[0]
    samples = []
    for start in range(0, reps, chunk):
        size = min(chunk, reps - start)
        ix = rng.integers(0, nx, size=(size, nx, m))
        iy = ix if paired else rng.integers(0, ny, size=(size, ny, m))
        rx, ry = x[ix, np.arange(m)], y[iy, np.arange(m)]  # (size, n, m)
        greater = np.sum(rx[:, :, None, :] > ry[:, None, :, :], axis=(1, 2))
        ties = np.sum(rx[:, :, None, :] == ry[:, None, :, :], axis=(1, 2))
        samples.append(np.mean((greater + 0.5 * ties) / (nx * ny), axis=-1))
    low, high = np.quantile(np.concatenate(samples), [0.025, 0.975])
    return probability_of_improvement(x, y), low, high


@pytest.mark.parametrize("case", range(12))
def test_poi_ci_equals_the_pairwise_bootstrap_to_the_bit(case, monkeypatch):
    # the counting (no pairs) gives the pairwise counts exactly: the same CI, bit for bit, with ties
    # (scores on a grid of halves), unequal run counts, paired draws, and several chunks
    import lrgym.leaderboard.scoring as scoring

    rng = np.random.default_rng(case)
    nx = int(rng.integers(1, 8))
    ny = nx if case % 3 == 0 else int(rng.integers(1, 8))
    m = int(rng.integers(1, 50))
    grid = case % 2 == 1
    x, y = ((rng.integers(-2, 3, size=(n, m)) / 2.0) if grid else rng.normal(size=(n, m)) for n in (nx, ny))
    reps = int(rng.integers(1, 700))
    chunk = 64
    monkeypatch.setattr(scoring, "_CHUNK_ELEMENTS", chunk * max(nx * ny * m, (nx + ny) * m))
    want = _poi_bootstrap_pairwise(x, y, reps, case, case % 3 == 0, chunk)
    got = probability_of_improvement_ci(x, y, reps=reps, seed=case, paired=case % 3 == 0)
    assert [float(v) for v in got] == [float(v) for v in want]


def test_poi_cis_equal_one_call_each():
    rng = np.random.default_rng(7)
    y = rng.integers(-2, 3, size=(4, 6)) / 2.0
    # two run counts (two sets of draws), ties with y, and an x equal to y
    xs = [rng.integers(-2, 3, size=(4, 6)) / 2.0, rng.normal(size=(3, 6)), y, rng.normal(size=(4, 6))]
    got = probability_of_improvement_cis(xs, y, reps=300, seed=3)
    assert got == [probability_of_improvement_ci(x, y, reps=300, seed=3) for x in xs]
    assert probability_of_improvement_cis([], y) == []
    with pytest.raises(TypeError, match="seed must be an int"):
        probability_of_improvement_cis(xs, y, seed=np.random.default_rng(0))
    with pytest.raises(ValueError, match="same tasks"):
        probability_of_improvement_cis([y[:, :5]], y)


# --------------------------------------------------------------------------- performance profiles


def test_performance_profile_hand_values():
    scores = [[0.2, 1.5], [0.8, -1.0]]
    taus = [0.0, 0.3, 1.0]
    # entries > 0: 0.2, 1.5, 0.8 (3/4); > 0.3: 1.5, 0.8 (2/4); > 1: 1.5 (1/4)
    np.testing.assert_allclose(performance_profile(scores, taus), [0.75, 0.5, 0.25])
    # task means 0.5 and 0.25: > 0 both; > 0.3 only the first; > 1 none
    averaged = performance_profile(scores, taus, average_runs=True)
    np.testing.assert_allclose(averaged, [1.0, 0.5, 0.0])
    # strict comparison: a score equal to τ does not count
    np.testing.assert_allclose(performance_profile([[1.0]], [1.0]), [0.0])


# ------------------------------------------------------------------------------------- AlgoPerf

# Submission A and B on three tasks (times = env steps to target).
TIMES = np.array([[100.0, 300.0, 400.0], [200.0, 100.0, INF]])
# best per task: 100, 100, 400 → A: 1, 3, 1;  B: 2, 1, ∞


def test_performance_ratios_hand_example():
    np.testing.assert_array_equal(performance_ratios(TIMES), [[1.0, 3.0, 1.0], [2.0, 1.0, INF]])


def test_algoperf_profile_hand_example():
    rho = algoperf_profile(TIMES, [1.0, 2.0, 3.0, 4.0])
    # A: r ≤ 1 on tasks 1, 3 (2/3), r ≤ 2 same, r ≤ 3 all;  B: task 2, then tasks 1–2 from τ = 2
    np.testing.assert_allclose(rho, [[2 / 3, 2 / 3, 1.0, 1.0], [1 / 3, 2 / 3, 2 / 3, 2 / 3]])


def test_algoperf_score_hand_example():
    # Exact: a task solved at ratio r adds (4 − r)/3, averaged over the 3 tasks.
    # A: (3 + 1 + 3) / 9 = 7/9;  B: (2 + 3 + 0) / 9 = 5/9
    np.testing.assert_allclose(algoperf_score(TIMES, n_points=None), [7 / 9, 5 / 9])
    # Grid τ = 1, 1.5, …, 4 (step 0.5): a step at a grid point r > 1 adds half a step
    # (0.25) to its area. A: 3 + 1.25 + 3 = 7.25;  B: 2.25 + 3 + 0 = 5.25;  then / 3 / 3.
    np.testing.assert_allclose(algoperf_score(TIMES, n_points=7), [7.25 / 9, 5.25 / 9])
    # AlgoPerf's default grid (100 points) is within half a step of exact: ≤ (3/99)/2/3 = 1/198.
    default = algoperf_score(TIMES)
    assert np.all(np.abs(default - [7 / 9, 5 / 9]) <= 1 / 198 + 1e-12)


def test_algoperf_unreached_task_scores_zero_for_everyone():
    times = np.hstack([TIMES, [[INF], [INF]]])
    assert np.all(np.isinf(performance_ratios(times)[:, 3]))
    # The fourth task stays in the denominator: scores shrink by 3/4.
    np.testing.assert_allclose(algoperf_score(times, n_points=None), [7 / 12, 5 / 12])
    np.testing.assert_allclose(algoperf_score(times, n_points=7), [7.25 / 12, 5.25 / 12])


def test_algoperf_fastest_everywhere_scores_one_and_input_validation():
    times = [[1.0, 2.0], [5.0, 10.0]]  # B is 5× slower everywhere: beyond r_max = 4
    np.testing.assert_allclose(algoperf_score(times, n_points=None), [1.0, 0.0])
    np.testing.assert_allclose(algoperf_score(times), [1.0, 0.0])
    with pytest.raises(ValueError):
        performance_ratios([[0.0, 1.0]])
    with pytest.raises(ValueError):
        performance_ratios([[np.nan, 1.0]])
    with pytest.raises(ValueError):
        algoperf_score(TIMES, r_max=1.0)


# --------------------------------------------------------------------------------------------
# The ranking statistic and the bootstrap over instances
# --------------------------------------------------------------------------------------------

#: interleaved labels of unequal families: a has 5 tasks, b 2, c 1
FAMILIES = ["a", "b", "a", "a", "c", "b", "a", "a"]


def test_family_iqm_is_the_mean_of_scipys_trimmed_means_per_family():
    from scipy.stats import trim_mean

    rng = np.random.default_rng(3)
    for n_runs in (1, 3, 5):
        scores = np.round(rng.normal(0.8, 0.3, size=(n_runs, len(FAMILIES))), 1)  # ties too
        labels = np.array(FAMILIES)
        expected = np.mean([trim_mean(scores[:, labels == f].ravel(), 0.25) for f in ("a", "b", "c")])
        assert family_iqm(scores, FAMILIES) == pytest.approx(expected, abs=1e-15)
        stack = np.stack([scores, scores + 1.0])
        np.testing.assert_allclose(family_iqm(stack, FAMILIES), [expected, expected + 1.0], atol=1e-15)
    with pytest.raises(ValueError, match="one label per task"):
        family_iqm(np.ones((2, 3)), ["a", "b"])


def test_family_iqm_charges_a_small_family_given_up_in_full_where_the_pooled_iqm_trims_it():
    # 20 tasks of "big", 4 of "small" (1/6 of the runs, like mlp on suite v2): give "small" up
    labels = ["big"] * 20 + ["small"] * 4
    gives_up = np.array([[1.05] * 20 + [-1.0] * 4] * 5)
    honest = np.ones((5, 24))
    assert iqm(gives_up) == pytest.approx(1.05) and iqm(honest) == 1.0  # the pooled IQM never sees it
    assert family_iqm(gives_up, labels) == pytest.approx((1.05 - 1.0) / 2)
    assert family_iqm(honest, labels) == 1.0


def _slow_instance_bootstrap(mats, families, statistic, reps, seed):
    """The documented draws, one replication and one cell at a time (one chunk)."""
    rng = np.random.default_rng(seed)
    labels = np.array(families)
    n, m = mats[0].shape
    picked = np.empty((reps, m), dtype=int)
    for f in dict.fromkeys(families):
        cols = np.flatnonzero(labels == f)
        draws = rng.integers(0, len(cols), size=(reps, len(cols)))
        for r in range(reps):
            for k, col in enumerate(cols):
                picked[r, col] = cols[draws[r, k]]
    runs = rng.integers(0, n, size=(reps, n, m))
    out = []
    for r in range(reps):
        resampled = []
        for mat in mats:
            x = np.empty((n, m))
            for i in range(n):
                for j in range(m):
                    x[i, j] = mat[runs[r, i, j], picked[r, j]]
            resampled.append(x)
        out.append(statistic(*resampled))
    return np.array(out)


def test_instance_bootstrap_matches_a_slow_implementation_of_its_documented_draws():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 4, len(FAMILIES)))

    def stat(x):
        return family_iqm(x, FAMILIES)

    fast = instance_bootstrap_samples(a, FAMILIES, stat, reps=50, seed=7)
    np.testing.assert_array_equal(fast, _slow_instance_bootstrap((a,), FAMILIES, stat, 50, 7))
    np.testing.assert_array_equal(instance_bootstrap_samples(a, FAMILIES, stat, reps=50, seed=7, vectorized=True), fast)

    def diff(x, y):
        return family_iqm(x, FAMILIES) - family_iqm(y, FAMILIES)

    paired = instance_bootstrap_samples((a, b), FAMILIES, diff, reps=30, seed=1)
    np.testing.assert_array_equal(paired, _slow_instance_bootstrap((a, b), FAMILIES, diff, 30, 1))
    # paired: the same draws for both matrices, so an entry against itself differs by exactly 0
    assert np.all(instance_bootstrap_samples((a, a), FAMILIES, diff, reps=30, seed=1) == 0.0)
    iv = instance_bootstrap_ci(a, FAMILIES, stat, reps=50, seed=7)
    assert iv.estimate == stat(a) and iv.low <= iv.high


def test_instance_bootstrap_draws_instances_within_their_family_only():
    # each family's scores are one constant: any mixing across families would move the means
    labels = np.array(FAMILIES)
    scores = np.tile(np.where(labels == "a", 0.0, np.where(labels == "b", 10.0, 100.0)), (3, 1))
    means = instance_bootstrap_samples(
        scores, FAMILIES, lambda x: [x[:, labels == f].mean() for f in "abc"], reps=200, seed=0)
    assert np.all(means == [0.0, 10.0, 100.0])
    # and instances do vary: a family of distinct instances gives resamples of different means
    spread = instance_bootstrap_samples(np.tile(np.arange(8.0), (3, 1)), ["x"] * 8, lambda x: x.mean(), reps=200)
    assert spread.std() > 0.5 and not np.any(np.isnan(spread))
    with pytest.raises(ValueError, match="one shape"):
        instance_bootstrap_samples((scores, scores[:, :3]), FAMILIES, lambda x, y: 0.0)
