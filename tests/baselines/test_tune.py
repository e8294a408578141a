"""The tuning protocol: reference choice by hand, scores, and a tiny end-to-end run."""

import math

import numpy as np
import pytest

from lrgym.baselines.tune import LR_GRID, merge, references, run_scores, stage2_configs, tune


def test_reference_rule_by_hand():
    # instance 7, seeds 0 and 1; runs are (instance, seed, log L0, log LT, diverged)
    fixed = {
        0.01: [(7, 0, 0.0, -1.0, False), (7, 1, 0.0, -1.2, False)],  # mean -1.1
        0.1: [(7, 0, 0.0, -3.0, False), (7, 1, 0.0, -2.0, False)],  # mean -2.5: best
        1.0: [(7, 0, 0.0, -9.0, False), (7, 1, 0.0, math.inf, True)],  # diverged on seed 1: never chosen
    }
    assert references(fixed) == {(7, 0): -3.0, (7, 1): -2.0}


def test_scores_by_hand():
    refs = {(7, 0): -2.0, (7, 1): -2.0}
    runs = [(7, 0, 0.0, -1.0, False), (7, 1, 0.0, -6.0, False), (7, 0, 0.0, math.inf, True)]
    # S = (0 - log LT) / (0 - (-2)): 0.5; 3 clipped to 2; diverged -> -1
    np.testing.assert_allclose(run_scores(runs, refs), [0.5, 2.0, -1.0])


def test_stage2_lrs_stay_in_the_env_range():
    lrs = sorted({c["lr"] for c in stage2_configs("bold_driver", 10.0)})
    assert lrs == [pytest.approx(10 ** 0.5), 10.0]
    assert len(stage2_configs("step", 0.1)) == 4 * 4  # 4 LRs x 4 gammas


def test_tiny_tuning_run_and_merge():
    out = tune(["quadratic"], instances=1, seeds=(0,), workers=1, names=["fixed", "cosine"])
    assert set(out["values"]) == {"fixed", "cosine"}
    assert out["values"]["fixed"]["quadratic"]["lr"] in [float(f"{lr:.6g}") for lr in LR_GRID]
    assert set(out["values"]["cosine"]["quadratic"]) == {"lr", "warmup_frac"}
    assert out["settings"]["quadratic"]["instances"] == [0]  # the first train instance
    merged = merge({"values": {"cosine": {"linreg": {"lr": 1.0}}}}, out)
    assert set(merged["values"]["cosine"]) == {"linreg", "quadratic"}
    assert merged["command"] == "python -m lrgym.baselines.tune"
