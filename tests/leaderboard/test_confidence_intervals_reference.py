"""The leaderboard's confidence intervals against closed forms: the percentile levels of the
bootstrap CIs, and which level (seeds within instances / instances within families) each CI of
an entry's summary resamples. Every expected value is worked out in a comment."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from lb_helpers import synthetic_runs
from scipy.stats import trim_mean

from lrgym.leaderboard.runner import summarize
from lrgym.leaderboard.scoring import instance_bootstrap_ci, stratified_bootstrap_ci
from lrgym.leaderboard.suite import FamilySuite, Suite


def _counter():
    """A statistic whose k-th call returns k: the R bootstrap samples are exactly 0, 1, …, R − 1
    whatever the draws, so their quantiles have a closed form."""
    calls = itertools.count()
    return lambda *_: float(next(calls))


def _linear_quantile_of_0_to_r_minus_1(q: float, reps: int) -> float:
    """The q-quantile, linearly interpolated (NumPy's default, "linear" = Hyndman–Fan type 7), of
    the sorted values 0, 1, …, R − 1: position q · (R − 1), and value k at position k."""
    return q * (reps - 1)


@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_bootstrap_ci_bounds_are_the_alpha_over_2_quantiles_linearly_interpolated(alpha):
    """Documented: (low, high) are the alpha/2 and 1 − alpha/2 quantiles with linear
    interpolation. With R = 200 samples 0 … 199 the 95 % bounds are 0.025 · 199 = 4.975 and
    0.975 · 199 = 194.025 (a 90 % interval would give 9.95 / 189.05; "lower" / "nearest"
    quantiles would give whole numbers)."""
    reps = 200
    scores = np.array([[0.1, 0.9], [0.4, 1.3], [0.2, 0.5]])
    expected_low = _linear_quantile_of_0_to_r_minus_1(alpha / 2, reps)
    expected_high = _linear_quantile_of_0_to_r_minus_1(1 - alpha / 2, reps)
    assert expected_low != round(expected_low)  # the interpolation matters here
    _, low, high = stratified_bootstrap_ci(scores, _counter(), reps=reps, alpha=alpha, vectorized=False)
    assert low == pytest.approx(expected_low, rel=1e-12)
    assert high == pytest.approx(expected_high, rel=1e-12)
    _, low, high = instance_bootstrap_ci(scores, ["a", "a"], _counter(), reps=reps, alpha=alpha)
    assert low == pytest.approx(expected_low, rel=1e-12)
    assert high == pytest.approx(expected_high, rel=1e-12)


def test_default_ci_is_95_percent():
    reps = 200
    _, low, high = stratified_bootstrap_ci(np.ones((2, 2)), _counter(), reps=reps, vectorized=False)
    assert (low, high) == pytest.approx((0.025 * 199, 0.975 * 199), rel=1e-12)


#: family "a": instance 0 always scores 0, instance 1 always 1 (every seed); family "b": always 1
SUITE = Suite("ci-levels", 1, "test", "test",
              (FamilySuite("quadratic", (20000, 20001)), FamilySuite("linreg", (20000, 20001))),
              seeds=(0, 1, 2, 3))
SCORES = np.array([[0.0, 1.0, 1.0, 1.0]] * 4)


def test_each_ci_of_the_summary_resamples_its_own_level():
    """Columns are constant over seeds, so resampling seeds within instances never changes the
    matrix: the family IQM's CI on the suite's instances, and each family's IQM CI, have zero
    width. Resampling instances within a family does: quadratic draws (inst 0, inst 0) with
    probability 1/4 (family IQM (0 + 1) / 2 = 0.5) and (inst 1, inst 1) with probability 1/4
    ((1 + 1) / 2 = 1): with 400 resamples the 2.5 % and 97.5 % quantiles are 0.5 and 1."""
    s = summarize(synthetic_runs(SUITE, SCORES), SUITE, reps=400)
    labels = np.array(["quadratic"] * 2 + ["linreg"] * 2)
    fam = {f: trim_mean(SCORES[:, labels == f].ravel(), 0.25) for f in ("quadratic", "linreg")}
    assert fam == {"quadratic": 0.5, "linreg": 1.0}  # 4 zeros and 4 ones: middle half 0, 0, 1, 1
    estimate = (fam["quadratic"] + fam["linreg"]) / 2  # 0.75

    assert s["family_iqm"] == pytest.approx([estimate, estimate, estimate], abs=1e-12)
    assert s["family_iqm_instances"] == pytest.approx([estimate, 0.5, 1.0], abs=1e-12)
    # each family's IQM and its CI come from that family's columns only
    assert s["families"]["quadratic"]["iqm"] == pytest.approx([0.5, 0.5, 0.5], abs=1e-12)
    assert s["families"]["linreg"]["iqm"] == pytest.approx([1.0, 1.0, 1.0], abs=1e-12)
    # the pooled IQM of all 16 runs: 4 zeros, 12 ones, cut 4 from each end: all ones
    assert s["iqm"] == pytest.approx([1.0, 1.0, 1.0], abs=1e-12)
