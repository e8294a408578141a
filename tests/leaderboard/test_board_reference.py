"""The board's cross-entry numbers (ranking order, PoI vs the best baseline, AlgoPerf on the
median steps to target, the cells shown) against slow implementations written here straight
from LEADERBOARD.md's "How to read it" (scipy.stats where it applies)."""

from __future__ import annotations

import dataclasses
import math
import statistics

import numpy as np
import pytest
from lb_helpers import synthetic_entry, synthetic_runs
from scipy.stats import mannwhitneyu, trim_mean

from lrgym.leaderboard.ranking import build_leaderboard
from lrgym.leaderboard.report_format import column_names, row_cells
from lrgym.leaderboard.runner import summarize
from lrgym.leaderboard.store import ResultStore
from lrgym.leaderboard.suite import FamilySuite, Suite

INF = math.inf
SUITE = Suite("board-ref", 1, "test", "test",
              (FamilySuite("quadratic", (20000, 20001)), FamilySuite("linreg", (20000, 20001))),
              seeds=(0, 1, 2))
FAMILIES = ["quadratic", "quadratic", "linreg", "linreg"]  # the columns, suite.tasks() order


def _family_iqm(scores) -> float:
    s = np.asarray(scores, dtype=float)
    labels = np.array(FAMILIES)
    return float(np.mean([trim_mean(s[:, labels == f].ravel(), 0.25) for f in dict.fromkeys(FAMILIES)]))


def _board(tmp_path, entries, steps=None, diverged=None, reps=200):
    """A store holding ``entries`` ({name: (kind, (3, 4) scores)}), added in the given order;
    ``steps`` / ``diverged`` override the runs' steps to target / divergence flags per entry."""
    with ResultStore(tmp_path / "b.sqlite") as s:
        for name, (kind, scores) in entries.items():
            runs = synthetic_runs(SUITE, scores)
            if steps and name in steps:
                runs = [dataclasses.replace(r, steps_to_target=float(steps[name][i // 4][i % 4]))
                        for i, r in enumerate(runs)]
            if diverged and name in diverged:
                runs = [dataclasses.replace(r, diverged=bool(diverged[name][i // 4][i % 4]))
                        for i, r in enumerate(runs)]
            s.add_entry(synthetic_entry(SUITE, name, kind, summary=summarize(runs, SUITE, reps=reps)), runs)
        return build_leaderboard(s, SUITE, reps=reps)


def _poi(x, y) -> float:
    """Mean over tasks of the Mann–Whitney U (ties ½) over all run pairs / (n_x · n_y)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    per_task = [mannwhitneyu(x[:, m], y[:, m]).statistic / (len(x) * len(y)) for m in range(x.shape[1])]
    return float(np.mean(per_task))


# a submission leads, two baselines follow: PoI is against the better baseline, not the leader
SUB = [[1.4, 1.1, 1.3, 1.0], [1.2, 1.5, 1.1, 1.2], [1.3, 1.2, 1.0, 1.4]]
BASE_A = [[1.0, 1.1, 0.9, 1.2], [1.2, 1.0, 1.0, 1.1], [0.9, 1.2, 1.1, 1.0]]  # ties with SUB too
BASE_B = [[0.5, 0.6, 1.0, 0.4], [0.7, 0.5, 0.6, 1.1], [0.6, 0.4, 0.5, 0.6]]


def test_poi_is_against_the_best_baseline_not_the_leader(tmp_path):
    lb = _board(tmp_path, {"sub": ("submission", SUB), "base_b": ("baseline", BASE_B),
                           "base_a": ("baseline", BASE_A)})
    assert _family_iqm(SUB) > _family_iqm(BASE_A) > _family_iqm(BASE_B)
    assert [r.name for r in lb.rows] == ["sub", "base_a", "base_b"]
    assert lb.best_baseline == "base_a"
    assert lb.row("base_a").poi is None
    assert lb.row("sub").poi[0] == pytest.approx(_poi(SUB, BASE_A), rel=1e-12)
    assert lb.row("base_b").poi[0] == pytest.approx(_poi(BASE_B, BASE_A), rel=1e-12)
    assert 0.5 < lb.row("sub").poi[0] < 1.0  # not a degenerate 0 / 1
    for name in ("sub", "base_b"):
        est, low, high = lb.row(name).poi
        assert low <= est <= high


def test_ranked_by_the_point_estimate_then_by_name(tmp_path):
    """"spread" has the higher family IQM (1.05: each family's six runs 0.2, 0.2, 1.2, 1.2, 1.6,
    1.6, middle four 0.2, 1.2, 1.2, 1.6) but a CI reaching far below "steady"'s constant 0.9;
    it ranks first. Two entries with equal scores are ordered by name, whatever the order they
    were stored in."""
    spread = [[0.2] * 4, [1.2] * 4, [1.6] * 4]
    steady = [[0.9] * 4] * 3
    lb = _board(tmp_path, {"zeta_tie": ("submission", steady), "spread": ("submission", spread),
                           "beta_tie": ("submission", steady), "alpha_tie": ("submission", steady)})
    assert _family_iqm(spread) == pytest.approx(1.05, rel=1e-12)
    assert lb.row("spread").family_iqm[1] < 0.9  # its CI's low end is below the others' estimate
    assert [r.name for r in lb.rows] == ["spread", "alpha_tie", "beta_tie", "zeta_tie"]
    assert [r.rank for r in lb.rows] == [1, 2, 3, 4]


def _algoperf(times: dict[str, list[float]], r_max: float = 4.0, n_points: int = 100) -> dict[str, float]:
    """AlgoPerf's score, slowly: ratio to the fastest entry per task (∞ if nobody reached it),
    profile ρ(τ) = fraction of tasks with ratio ≤ τ on τ = linspace(1, r_max, n_points),
    trapezoidal area / (r_max − 1)."""
    names = list(times)
    n_tasks = len(times[names[0]])
    taus = [1 + (r_max - 1) * k / (n_points - 1) for k in range(n_points)]
    out = {}
    for name in names:
        ratios = []
        for k in range(n_tasks):
            best = min(times[o][k] for o in names)
            ratios.append(INF if math.isinf(best) else times[name][k] / best)
        rho = [sum(r <= tau for r in ratios) / n_tasks for tau in taus]
        area = sum(0.5 * (rho[i] + rho[i + 1]) * (taus[i + 1] - taus[i]) for i in range(n_points - 1))
        out[name] = area / (r_max - 1)
    return out


# steps to target, (seeds, tasks); medians over seeds P: 20, 30, ∞, 50;  Q: 16, 65, ∞, 110
# (no ratio but 1 falls on a point of the τ grid, so rounding cannot flip a comparison)
STEPS = {
    "P": [[10, 30, 5, 40], [20, 30, INF, 50], [100, 30, INF, INF]],
    "Q": [[16, 10, INF, 110], [16, 65, INF, 110], [16, 90, INF, 110]],
}


def test_algoperf_uses_the_median_over_seeds_of_the_steps_to_target(tmp_path):
    lb = _board(tmp_path, {"P": ("submission", BASE_A), "Q": ("submission", BASE_B)}, steps=STEPS)
    medians = {n: [statistics.median(sorted(col)) for col in zip(*STEPS[n])] for n in STEPS}
    assert medians == {"P": [20, 30, INF, 50], "Q": [16, 65, INF, 110]}
    expected = _algoperf(medians)
    # by hand: P's ratios 5/4, 1, ∞, 1 and Q's 1, 13/6, ∞, 11/5; a task solved at ratio r adds
    # (4 − r) / 3 / 4 to the exact area: P (11/4 + 3 + 0 + 3) / 12 = 35/48,
    # Q (3 + 11/6 + 0 + 9/5) / 12 = 199/360; the 100-point trapezoid is within 1/198 of them
    assert expected["P"] == pytest.approx(35 / 48, abs=1 / 198)
    assert expected["Q"] == pytest.approx(199 / 360, abs=1 / 198)
    for name in STEPS:
        np.testing.assert_array_equal(lb.row(name).times, medians[name])
        assert lb.row(name).algoperf == pytest.approx(expected[name], rel=1e-12)


def test_the_plotted_algoperf_profile_spans_tau_1_to_4(tmp_path):
    pytest.importorskip("matplotlib")
    from lrgym.leaderboard.report_plots import algoperf_figure, entry_styles

    lb = _board(tmp_path, {"P": ("submission", BASE_A), "Q": ("submission", BASE_B)}, steps=STEPS)
    fig = algoperf_figure(lb, lb.rows, entry_styles(lb))
    ratios = {"P": [20 / 16, 1, INF, 1], "Q": [1, 65 / 30, INF, 110 / 50]}  # from the medians above
    lines = {line.get_label().split(" (")[0]: line for line in fig.axes[0].get_lines()}
    for name, r in ratios.items():
        x, y = lines[name].get_xdata(), lines[name].get_ydata()
        assert x[0] == 1.0 and x[-1] == pytest.approx(4.0, rel=1e-12)
        np.testing.assert_allclose(y, [sum(v <= tau for v in r) / 4 for tau in x], rtol=0, atol=1e-12)


def test_the_ranking_cells_show_each_statistic_under_its_own_header(tmp_path):
    """One entry; the cells next to its family IQM, computed here from their definitions:
    IQM of all runs (scipy's 25 %-trimmed mean), mean, median over tasks of the per-task mean
    over seeds, optimality gap mean(max(1 − S, 0)), fraction of runs that diverged (a run with
    S = −1 that did not diverge is not one)."""
    scores = np.array([[-1.0, 0.2, 1.8, 0.9], [0.4, -1.0, 1.6, 1.0], [-1.0, 0.3, 2.0, 0.8]])
    div = [[True, False, False, False], [False, False, False, False], [False, False, False, False]]
    lb = _board(tmp_path, {"one": ("submission", scores)}, diverged={"one": div})
    cells = dict(zip(column_names(lb), row_cells(lb, lb.row("one"))))
    task_means = [statistics.fmean(scores[:, m]) for m in range(4)]
    expected = {
        "IQM, all runs": trim_mean(scores.ravel(), 0.25),
        "mean": statistics.fmean(scores.ravel()),
        "median": statistics.median(task_means),
        "opt. gap": statistics.fmean(max(1.0 - s, 0.0) for s in scores.ravel()),
    }
    assert len({f"{v:.2f}" for v in expected.values()}) == 4  # all four cells differ
    for header, value in expected.items():
        assert cells[header] == f"{value:.2f}", header
    assert cells["diverged"] == f"{100 * 1 / 12:.0f}%"  # 1 of 12 runs diverged (3 score −1)
    assert lb.row("one").summary["diverged_fraction"] == pytest.approx(1 / 12, rel=1e-12)
    assert lb.row("one").summary["families"]["quadratic"]["diverged_fraction"] == pytest.approx(1 / 6, rel=1e-12)
