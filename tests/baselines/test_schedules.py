"""Every schedule's LR sequence against its textbook formula, with hand-computed values."""

import math
import re

import numpy as np
import pytest

from lrgym.baselines.evaluation import evaluate
from lrgym.baselines.schedules import Constant, Cosine, ExponentialDecay, InverseSqrt, LinearDecay, OneCycle, StepDecay


def seq(schedule, horizon):
    return schedule.sequence(horizon)


def test_constant():
    np.testing.assert_array_equal(seq(Constant(0.3), 4), [0.3, 0.3, 0.3, 0.3])


def test_step_decay_drops_by_gamma_every_s_steps():
    # T = 10, step_frac 0.3 -> s = 3: eta0 * 0.1 ** floor(t / 3)
    np.testing.assert_allclose(
        seq(StepDecay(1.0, gamma=0.1, step_frac=0.3), 10),
        [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001], rtol=1e-12,
    )


def test_exponential_decay_reaches_final_ratio_after_T_steps():
    # gamma = 0.01 ** (1/4) = 0.316227766...
    np.testing.assert_allclose(
        seq(ExponentialDecay(2.0, final_ratio=0.01), 4), [2.0, 0.6324555320336759, 0.2, 0.06324555320336759], rtol=1e-12
    )


def test_inverse_sqrt():
    # 0.6 / sqrt(1), 0.6 / sqrt(2), 0.6 / sqrt(3), 0.6 / sqrt(4)
    np.testing.assert_allclose(seq(InverseSqrt(0.6), 4), [0.6, 0.4242640687119285, 0.34641016151377546, 0.3], rtol=1e-12)


def test_linear_decay():
    np.testing.assert_allclose(seq(LinearDecay(1.0), 4), [1.0, 0.75, 0.5, 0.25], rtol=1e-12)
    # end_factor 0.2: 1 - 0.8 t / 5
    np.testing.assert_allclose(seq(LinearDecay(1.0, end_factor=0.2), 5), [1.0, 0.84, 0.68, 0.52, 0.36], rtol=1e-12)


def test_cosine_annealing():
    # 1/2 (1 + cos(pi t / 4))
    np.testing.assert_allclose(seq(Cosine(1.0), 4), [1.0, 0.8535533905932737, 0.5, 0.14644660940672627], rtol=1e-12)
    # eta_min = 0.1: 0.1 + 0.45 (1 + cos(pi t / 4))
    np.testing.assert_allclose(
        seq(Cosine(1.0, min_ratio=0.1), 4), [1.0, 0.8682, 0.55, 0.2318], rtol=1e-4
    )


def test_cosine_linear_warmup():
    # T = 8, warmup 0.25 -> W = 2: 0.5, 1.0; then cosine over the remaining 6 steps
    np.testing.assert_allclose(
        seq(Cosine(1.0, warmup_frac=0.25), 8),
        [0.5, 1.0, 1.0, 0.9330127018922194, 0.75, 0.5, 0.25, 0.06698729810778065], rtol=1e-12,
    )


def test_sgdr_warm_restarts():
    # T = 14, 3 cycles, T_mult 2 -> T_0 = 2, cycles of 2, 4, 8 steps, restarting at t = 2 and 6
    expected = [1.0, 0.5,
                1.0, 0.8535533905932737, 0.5, 0.14644660940672627,
                1.0, 0.9619397662556434, 0.8535533905932737, 0.6913417161825449, 0.5, 0.30865828381745514,
                0.14644660940672627, 0.03806023374435663]
    np.testing.assert_allclose(seq(Cosine(1.0, cycles=3, cycle_mult=2.0), 14), expected, rtol=1e-12)


def test_one_cycle():
    # T = 10, pct_start 0.3 -> phase boundary p = 2; start 1/25, end 1/25/1e4 = 4e-6
    expected = [0.04, 0.52, 1.0, 0.9504846320134737, 0.8117456539497631, 0.6112620219362893,
                0.38874197806371075, 0.18825834605023697, 0.049519367986526286, 4e-06]
    np.testing.assert_allclose(seq(OneCycle(1.0), 10), expected, rtol=1e-12)


def _torch_lrs(make_scheduler, horizon):
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = make_scheduler(torch.optim.lr_scheduler, opt)
    out = []
    for _ in range(horizon):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (StepDecay(1.0, gamma=0.5, step_frac=0.25), lambda m, o: m.StepLR(o, step_size=5, gamma=0.5)),
        (ExponentialDecay(1.0, final_ratio=0.5**20), lambda m, o: m.ExponentialLR(o, gamma=0.5)),
        (Cosine(1.0), lambda m, o: m.CosineAnnealingLR(o, T_max=20)),
        (Cosine(1.0, cycles=2, cycle_mult=1.0), lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=10)),
        (OneCycle(1.0, pct_start=0.25), lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=20, pct_start=0.25)),
        (LinearDecay(1.0, end_factor=0.1), lambda m, o: m.LinearLR(o, 1.0, 0.1, total_iters=20)),
    ],
)
def test_schedules_match_torch(ours, theirs):
    np.testing.assert_allclose(ours.sequence(20), _torch_lrs(theirs, 20), rtol=1e-9)


@pytest.mark.parametrize("schedule", [Constant(0.05), Cosine(0.2, warmup_frac=0.1), OneCycle(0.3), StepDecay(0.1)])
def test_env_runs_the_schedule(schedule):
    traj = evaluate(schedule, {"family": "quadratic", "horizon": 12, "inner_steps": 2}, instances=[0])[0]
    # the log_lr action is float32: the LR in force matches to ~1e-6 (Constant is exact)
    np.testing.assert_allclose(traj.lrs, schedule.sequence(12), rtol=1e-5)
    if isinstance(schedule, Constant):
        assert traj.lrs == [0.05] * 12


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="lr"):
        Constant(-1.0)
    with pytest.raises(ValueError, match="gamma"):
        StepDecay(0.1, gamma=2.0)
    with pytest.raises(ValueError, match="anneal"):
        OneCycle(0.1, anneal="exp")
    assert math.isclose(Cosine(1.0, cycles=3, cycle_mult=2.0).cycle_lengths(14)[0], 2.0)


@pytest.mark.parametrize("name, key, bad, why", [
    ("fixed", "lr", "0.1", "is not a real number (a str)"),  # was a bare TypeError from a comparison
    ("fixed", "lr", True, "is not a real number (a bool)"),  # was an LR of 1
    ("step", "gamma", None, "is not a real number (a NoneType)"),
    ("cosine", "cycle_mult", float("nan"), "out of range"),  # was accepted: every LR lr_min
    ("cosine", "cycle_mult", float("inf"), "out of range"),
    ("cosine", "cycles", 1.5, "is not an integer (a float)"),  # was 1 cycle
    ("one_cycle", "div_factor", float("inf"), "out of range"),  # was accepted
    ("plateau", "patience", 0.5, "is not an integer (a float)"),  # was a patience of 0
    ("plateau", "cooldown", float("inf"), "is not an integer (a float)"),  # was a bare OverflowError
    ("plateau", "monitor", np.array(["val_loss"]), "invalid"),
    ("bold_driver", "lr", float("inf"), "out of range"),  # was accepted
    ("bold_driver", "inc", [1.1], "is not a real number (a list)"),
    ("hypergradient", "beta", np.array([0.1, 0.2]), "is not a real number (a ndarray)"),  # was NumPy's "ambiguous"
    ("hypergradient", "lr", 10**400, "out of range"),  # was a bare OverflowError
])
def test_bad_hyper_parameters_are_named_with_the_valid_range(name, key, bad, why):
    """Every hand-designed baseline checks its numbers one way (lrgym.baselines.policy.hyper_parameter)."""
    from lrgym.baselines.registry import BASELINES

    with pytest.raises(ValueError, match=rf"{key}=.* {re.escape(why)}; valid"):
        BASELINES[name](**({} if key == "lr" else {"lr": 0.01}), **{key: bad})


def test_an_integer_hyper_parameter_past_the_largest_float_is_checked_as_an_integer():
    """``cycles=10**400`` was compared through ``math.isfinite``: a bare OverflowError."""
    from lrgym.baselines.registry import BASELINES

    with pytest.raises(ValueError, match=r"patience=-1000.* out of range; valid: an integer >= 0"):
        BASELINES["plateau"](lr=0.01, patience=-10**400)
