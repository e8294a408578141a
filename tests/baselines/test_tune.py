"""The tuning protocol: scores by hand, the leaderboard's reference rule, and a tiny end-to-end run."""

import math

import numpy as np
import pytest

from lrgym.baselines.tune import fixed_grid, merge, reference_job, run_scores, stage2_configs, tune


def test_scores_by_hand():
    # runs are (instance, seed, L0, LT, diverged); refs (instance, seed) → L_ref
    e = math.e
    refs = {(7, 0): e**-2, (7, 1): e**-2, (8, 0): 1e-30}
    runs = [(7, 0, 1.0, e**-1, False), (7, 1, 1.0, e**-6, False), (7, 0, 1.0, math.inf, True),
            (8, 0, 1.0, 1e-40, False)]
    # S = log LT / log L_ref: 0.5; 3 clipped to 2; diverged -> -1; both below the precision floor -> 1
    np.testing.assert_allclose(run_scores(runs, refs), [0.5, 2.0, -1.0, 1.0])


def test_tuner_references_are_the_leaderboard_rule():
    """Stage 0 of the tuner is search_reference on the train instance: the same LR and losses
    as the leaderboard's references of a suite on that instance."""
    from lrgym.baselines.reference import ConstantLRRuns

    job, refs = reference_job(("quadratic", 3, (0, 1), "train"))
    ref = ConstantLRRuns({"family": "quadratic", "instance_set": "train"}, 3, (0, 1)).search()
    assert refs == {(3, 0): ref.best.final_loss[0], (3, 1): ref.best.final_loss[1]}


def test_stage2_lrs_stay_in_the_env_range():
    lrs = sorted({c["lr"] for c in stage2_configs("bold_driver", 10.0)})
    assert lrs == [pytest.approx(10 ** 0.5), 10.0]
    assert len(stage2_configs("step", 0.1)) == 4 * 4  # 4 LRs x 4 gammas


def test_tiny_tuning_run_and_merge():
    out = tune(["quadratic"], instances=1, seeds=(0,), workers=1, names=["fixed", "cosine"])
    assert set(out["values"]) == {"fixed", "cosine"}
    assert out["values"]["fixed"]["quadratic"]["lr"] in [float(f"{lr:.6g}") for lr in fixed_grid("quadratic")]
    assert set(out["values"]["cosine"]["quadratic"]) == {"lr", "warmup_frac"}
    assert out["settings"]["quadratic"]["instances"] == [0]  # the first train instance
    merged = merge({"values": {"cosine": {"linreg": {"lr": 1.0}}}}, out)
    assert set(merged["values"]["cosine"]) == {"linreg", "quadratic"}
    assert merged["command"] == "python -m lrgym.baselines.tune"
