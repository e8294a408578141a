"""The runner's use of the scoring functions, checked against hand-computed values."""

import dataclasses
import math

import numpy as np
import pytest
from lb_helpers import tiny_suite

from lrgym.leaderboard.references import References
from lrgym.leaderboard.runner import score_matrix, score_runs, summarize
from lrgym.leaderboard.suite import Task

SUITE = tiny_suite("scoring", families=("quadratic",), n_instances=2, seeds=(0, 1))


def _refs(final):
    """References with L0 = e² on every run and the given final losses {(instance, seed): L_ref}."""
    tasks = {}
    for t in SUITE.tasks():
        tasks[t.label] = {"lr": 0.1, "initial_loss": [math.e ** 2] * 2,
                          "final_loss": [final[(t.instance, s)] for s in SUITE.seeds], "grid": []}
    return References(SUITE.version, SUITE.fingerprint(), tasks, SUITE.seeds, {})


def _traj(instance, seed, losses, diverged=False):
    n = len(losses) - 1
    return {"family": "quadratic", "instance": instance, "seed": seed, "lrs": [0.1] * n,
            "train_losses": list(losses), "val_losses": list(losses), "val_metrics": [0.0] * (n + 1),
            "diverged": diverged}


def test_scores_and_steps_to_target_by_hand():
    e = math.e
    refs = _refs({(20000, 0): 1.0, (20000, 1): 1.0, (20001, 0): e ** -2, (20001, 1): e ** -2})
    trajs = [
        # log L0 = 2, log L_ref = 0: S = (2 − log LT) / 2
        _traj(20000, 0, [e**2, e, 1.0]),  # LT = 1 → S = 1, target reached at step 2
        _traj(20000, 1, [e**2, e, e]),  # LT = e → S = 0.5, never reached
        # log L_ref = −2: S = (2 − log LT) / 4
        _traj(20001, 0, [e**2, e**-3, e**-6]),  # S = 8/4 = 2 (at the clip), reached at step 1
        _traj(20001, 1, [e**2, e**2, math.inf], diverged=True),  # floor −1
    ]
    runs = score_runs(trajs, refs)
    assert [r.score for r in runs] == pytest.approx([1.0, 0.5, 2.0, -1.0])
    assert [r.steps_to_target for r in runs] == [2.0, math.inf, 1.0, math.inf]
    assert runs[3].final_loss == math.inf and runs[3].diverged
    assert runs[0].curves["train_loss"] == pytest.approx((e**2, e, 1.0))

    m = score_matrix(runs, SUITE)  # (seeds, tasks)
    np.testing.assert_allclose(m, [[1.0, 2.0], [0.5, -1.0]])
    s = summarize(runs, SUITE, reps=200)
    # IQM of {−1, 0.5, 1, 2}: drop one from each end → (0.5 + 1) / 2
    assert s["iqm"][0] == pytest.approx(0.75)
    assert s["mean"][0] == pytest.approx(0.625)
    assert s["median"][0] == pytest.approx(0.625)  # median over 2 tasks of means 0.75, 0.5
    assert s["optimality_gap"][0] == pytest.approx((0 + 0.5 + 0 + 2) / 4)
    assert s["diverged_fraction"] == 0.25 and s["reached_fraction"] == 0.5
    assert s["iqm"][1] <= s["iqm"][0] <= s["iqm"][2]
    assert set(s["families"]) == {"quadratic"}
    assert s["families"]["quadratic"]["mean"] == pytest.approx(0.625)
    assert s["families"]["quadratic"]["diverged_fraction"] == 0.25


def test_family_mean_and_divergence_show_what_the_iqm_hides():
    """Two families: one policy diverges in 12 % of the quadratic runs (6 of 50) and matches
    the reference elsewhere. Its quadratic IQM stays 1.00; the mean and the divergence rate
    next to it do not (hand-computed: mean = (44 · 1 + 6 · (−1)) / 50 = 0.76)."""
    from lb_helpers import synthetic_runs

    from lrgym.leaderboard.suite import FamilySuite, Suite

    suite = Suite("two", 1, "test", "test",
                  (FamilySuite("quadratic", tuple(range(20000, 20010))), FamilySuite("linreg", (20000, 20001))),
                  seeds=(0, 1, 2, 3, 4))
    scores = np.ones((5, 12))
    diverged = np.zeros((5, 12), dtype=bool)
    diverged[[0, 1, 2, 3, 4, 0], [0, 1, 2, 3, 4, 9]] = True
    scores[diverged] = -1.0
    runs = [dataclasses.replace(r, diverged=bool(diverged[i // 12, i % 12]))
            for i, r in enumerate(synthetic_runs(suite, scores))]
    fam = summarize(runs, suite, reps=200)["families"]
    assert fam["quadratic"]["iqm"][0] == 1.0  # the ranking statistic reads perfect...
    assert fam["quadratic"]["mean"] == pytest.approx(0.76)  # ...the mean does not
    assert fam["quadratic"]["diverged_fraction"] == pytest.approx(0.12)
    assert fam["linreg"] == {"iqm": [1.0, 1.0, 1.0], "mean": 1.0, "diverged_fraction": 0.0}


def test_runs_on_the_real_env_start_where_the_reference_starts():
    """Same seed → same initial loss for the policy and its reference (fair normalisation)."""
    from lb_helpers import policy

    from lrgym.leaderboard.references import load_references
    from lrgym.leaderboard.runner import run_suite, submission_spec

    suite = tiny_suite("same-start", families=("quadratic", "linreg"), seeds=(0, 2))
    refs = load_references(suite, n_workers=2)
    [outcome] = run_suite([submission_spec(policy("HalfEvery10"))], suite, references=refs, n_workers=2)
    assert outcome.ok, outcome.entry.failure_reason
    for r in outcome.runs:
        assert r.initial_loss == refs.initial_loss(Task(r.family, r.instance), r.seed)
        assert len(r.curves["lr"]) == 6 and len(r.curves["train_loss"]) == 7
    assert np.isfinite([r.score for r in outcome.runs]).all()


def test_precision_floor():
    """Losses below 1e-12 · L0 count as 1e-12 · L0 (noise-free quadratics reach 1e-150)."""
    refs = _refs({(20000, 0): 1e-200, (20000, 1): 1e-3, (20001, 0): 1.0, (20001, 1): 1.0})
    l0 = math.e ** 2
    trajs = [
        _traj(20000, 0, [l0, 1e-20, 1e-30]),  # both at the floor: S = 1, reached at step 1
        _traj(20000, 1, [l0, 1e-300, 0.0]),  # loss 0 → floor: S = log(L0/floor) / log(L0/1e-3)
        _traj(20001, 0, [l0, 1.0, 1.0]),
        _traj(20001, 1, [l0, 1.0, 1.0]),
    ]
    runs = score_runs(trajs, refs)
    assert runs[0].score == pytest.approx(1.0) and runs[0].steps_to_target == 1.0
    assert runs[1].score == 2.0  # 12 ln 10 / (2 + 3 ln 10) = 3.10, clipped to 2
    assert runs[1].final_loss == 0.0


def test_reference_objective_uses_the_floor():
    from lrgym.baselines.reference import Row, search_reference

    def run(lr):  # 0.1 and above reach far below the floor: all tie, the smallest LR wins
        return Row(lr, (1.0, 1.0), (1e-100, 1e-150) if lr >= 0.1 else (1.0, 1.0))

    assert search_reference(run, 0.01, 1.0).lr == pytest.approx(0.1)
