"""Named positions instead of bare numbers: features (``F_*``), stats (``S_*``), memory (``M_*``)
and the kernels' accumulator (``A_*``) — each name points where its table says, and a few values
land in the named slots (checked against closed forms)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrgym import features
from lrgym.env import LRControlEnv
from lrgym.tasks import base
from lrgym.tasks import stats as step_stats


def constants(module, prefix: str) -> dict[str, int]:
    return {k: v for k, v in vars(module).items() if k.startswith(prefix) and isinstance(v, int) and k.isupper()}


def test_feature_positions_match_the_names():
    named = constants(features, "F_")
    assert len(named) == features.N_FEATURES
    for const, i in named.items():
        assert features.FEATURE_NAMES[i] == const[2:].lower(), const


def test_stat_positions_match_the_names():
    named = {k: v for k, v in constants(base, "S_").items()}
    assert sorted(named.values()) == list(range(base.N_STATS))
    for const, i in named.items():
        assert base.STAT_NAMES[i] == const[2:].lower(), const


def test_accumulator_slots_are_distinct_and_fit():
    slots = constants(step_stats, "A_")
    assert len(set(slots.values())) == len(slots) and max(slots.values()) < step_stats.N_ACC


def test_finish_stats_reads_the_named_slots():
    acc = np.zeros(step_stats.N_ACC)
    acc[step_stats.A_GRAD_NORM], acc[step_stats.A_GRAD_DOT], acc[step_stats.A_GRAD_COS] = 6.0, 3.0, 1.5
    acc[step_stats.A_GRAD_PAIRS], acc[step_stats.A_BATCH_LOSS], acc[step_stats.A_LOSS_VAR] = 2.0, 9.0, 0.3
    stats = np.zeros(base.N_STATS)
    step_stats.finish_stats(acc, 3, False, stats)
    assert stats[base.S_GRAD_NORM] == 2.0 and stats[base.S_GRAD_DOT] == 1.5 and stats[base.S_GRAD_COS] == 0.75
    assert stats[base.S_BATCH_LOSS] == 3.0 and stats[base.S_LOSS_VAR] == pytest.approx(0.1)
    assert stats[base.S_UPDATES] == 3 and stats[base.S_DIVERGED] == 0.0


def test_gradient_pair_accumulates_into_the_named_slots():
    acc = np.zeros(step_stats.N_ACC)
    prev = np.array([1.0, 0.0])
    step_stats.record_gradient_pair(np.array([3.0, 4.0]), prev, True, acc)
    assert acc[step_stats.A_GRAD_NORM] == 5.0 and acc[step_stats.A_GRAD_DOT] == 3.0
    assert acc[step_stats.A_GRAD_COS] == pytest.approx(0.6) and acc[step_stats.A_GRAD_PAIRS] == 1.0
    np.testing.assert_array_equal(prev, [3.0, 4.0])  # remembered for the next pair


def test_observation_slots_hold_what_their_names_say():
    env = LRControlEnv(family="linreg", action_mode="log_lr", horizon=4)
    obs, info0 = env.reset(seed=0)
    assert obs[features.F_PROGRESS] == 0.0 and obs[features.F_LOG_TRAIN_LOSS_REL] == 0.0
    obs, _, _, _, info = env.step(env.lr_to_action(0.05))
    assert obs[features.F_PROGRESS] == np.float32(1 / 4)
    assert obs[features.F_LOG10_LR] == pytest.approx(math.log10(info["lr"]), rel=1e-6)
    assert obs[features.F_LOG_TRAIN_LOSS_REL] == pytest.approx(math.log(info["train_loss"] / info0["train_loss"]),
                                                               rel=1e-6, abs=1e-6)
    assert obs[features.F_GRAD_COS] == pytest.approx(info["grad_cos"], rel=1e-6, abs=1e-7)


def _step_stats(train, val, metric, grad_norm, diverged=False):
    s = np.zeros(base.N_STATS)
    s[base.S_TRAIN_LOSS], s[base.S_VAL_LOSS], s[base.S_VAL_METRIC] = train, val, metric
    s[base.S_GRAD_NORM], s[base.S_DIVERGED] = grad_norm, float(diverged)
    return s


@pytest.mark.parametrize("diverged", [False, True])
def test_the_reward_reads_the_memory_and_the_features_advance_it(diverged):
    from lrgym.rewards import R_LOG_IMPROVEMENT, reward, reward_params

    memory = np.zeros(features.N_MEMORY)
    features.start_episode(_step_stats(2.0, 3.0, 0.1, 0.0), 10.0, math.nan, memory)
    assert memory[features.M_L_PREV] == 2.0 and memory[features.M_CAP] == 20.0  # cap_factor · L0
    stats = _step_stats(0.5, 0.75, 0.4, 4.0, diverged)
    before = memory.copy()
    r = reward(stats, memory, 1, 10, R_LOG_IMPROVEMENT, reward_params())
    assert memory.tobytes() == before.tobytes()  # the reward never writes the memory
    assert r == pytest.approx(math.log(2.0 / 20.0) if diverged else math.log(2.0 / 0.5))  # log(L_prev / cap or L_t)
    features.advance_memory(stats, memory)
    if diverged:  # a diverged step's losses are not remembered
        assert memory[features.M_L_PREV] == 2.0 and memory[features.M_V_PREV] == 3.0
    else:
        assert (memory[features.M_L_PREV], memory[features.M_V_PREV], memory[features.M_METRIC_PREV]) == (0.5, 0.75, 0.4)
    assert memory[features.M_G1] == memory[features.M_G_PREV] == 4.0  # first gradient norm seen
    features.advance_memory(_step_stats(0.25, 0.5, 0.5, 1.0), memory)
    assert memory[features.M_G1] == 4.0 and memory[features.M_G_PREV] == 1.0
