"""Bold driver, reduce-on-plateau and hypergradient descent: their update rules by hand."""

import math

import numpy as np
import pytest

from lrgym.baselines.evaluation import evaluate, make_env
from lrgym.baselines.heuristics import BoldDriver, Hypergradient, MultiplicativeHypergradient, ReduceOnPlateau

# a noise-free quadratic with L = 1: GD diverges for lr > 2, so lr_init 3 makes the loss rise
QUAD = {"family": "quadratic", "family_options": {"noise": 0.0, "scale": 1.0, "condition": 10.0, "dim": 8},
        "horizon": 40, "inner_steps": 3}


def test_bold_driver_rejects_rises_and_uses_exact_factors():
    policy = BoldDriver(lr=3.0)
    traj = evaluate(policy, QUAD, instances=[0])[0]
    env = make_env(policy, QUAD)
    assert env.rejection_threshold == 0.04 and tuple(env.factors) == (0.7, 1.0, 1.05)
    assert traj.rejected_steps > 0 and not traj.diverged
    # replay the episode step by step to see each step's info
    obs, info = env.reset(seed=0, options={"instance": 0})
    policy.reset(info)
    prev_loss, increases, decreases = info["train_loss"], 0, 0
    a = policy.act(obs, info)
    assert a == BoldDriver.KEEP  # the first step runs at lr_init
    done = False
    while not done:
        lr = env.lr
        obs, _, terminated, truncated, info = env.step(a)
        done = terminated or truncated
        a = policy.act(obs, info)
        if info["rejected"]:
            assert info["train_loss"] == prev_loss  # the step was undone
            assert a == BoldDriver.DEC
        elif info["train_loss"] < prev_loss:
            assert a == BoldDriver.INC
        else:
            assert a == BoldDriver.KEEP
        if not done:
            env_lr_next = min(env.lr_max, max(env.lr_min, lr * env.factors[a]))
            assert env_lr_next == lr * (0.7, 1.0, 1.05)[a]  # exactly the factor
            decreases += a == BoldDriver.DEC
            increases += a == BoldDriver.INC
        prev_loss = info["train_loss"]
    assert increases > 0 and decreases > 0
    np.testing.assert_array_equal(traj.lrs[:2], [3.0, 3.0 * 0.7])  # rise > 4 % at once: rejected, x0.7


def test_bold_driver_trajectory_lr_ratios():
    traj = evaluate(BoldDriver(lr=3.0), QUAD, instances=[0])[0]
    ratios = {round(b / a, 12) for a, b in zip(traj.lrs, traj.lrs[1:])}
    assert ratios <= {0.7, 1.0, 1.05}


def test_plateau_follows_pytorch_rule_by_hand():
    p = ReduceOnPlateau(lr=1.0, factor=0.5, patience=1, threshold=0.1, cooldown=1)
    p.reset({"horizon": 10, "inner_steps": 1, "lr_min": 1e-6, "lr_max": 10.0})
    # best 1.0; 0.95 is not < 0.9 (bad 1); 0.96 (bad 2 > 1 -> lr 0.5, cooldown 1);
    # 0.5 improves (best 0.5, cooldown 1 -> 0); 0.5 (bad 1); 0.5 (bad 2 -> lr 0.25)
    lrs = []
    for loss in [1.0, 0.95, 0.96, 0.5, 0.5, 0.5, 0.5]:
        p.observe(loss)
        lrs.append(p.current_lr)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    losses = [1.0, 0.9, 0.9, 0.91, 0.89, 0.7, 0.7, 0.7, 0.7, 0.69, 0.5, 0.5, 0.5, 0.5, 0.5]
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.3, patience=2, threshold=0.01, cooldown=1)
    p = ReduceOnPlateau(lr=1.0, factor=0.3, patience=2, threshold=0.01, cooldown=1)
    p.reset({"horizon": 10, "inner_steps": 1, "lr_min": 0.0, "lr_max": 10.0})
    for loss in losses:
        sched.step(loss)
        p.observe(loss)
        assert math.isclose(p.current_lr, opt.param_groups[0]["lr"], rel_tol=1e-12)


def _drive(policy, kwargs, steps):
    env = make_env(policy, kwargs)
    obs, info = env.reset(seed=0, options={"instance": 0})
    policy.reset(info)
    out = []
    for _ in range(steps):
        alpha_before = getattr(policy, "alpha", None)
        action = policy.act(obs, info)
        out.append((alpha_before, info, policy.alpha))
        obs, _, _, _, info = env.step(action)
    return env, out


def test_hypergradient_update_by_hand():
    kwargs = {"family": "linreg", "horizon": 10, "inner_steps": 5}
    policy = Hypergradient(lr=0.01, beta=0.002)  # small enough not to diverge on linreg instance 0
    env, steps = _drive(policy, kwargs, 6)
    assert steps[0][2] == 0.01  # no gradient yet: alpha_0 = lr
    for alpha_before, info, alpha in steps[1:]:
        # alpha <- alpha + beta * K * mean(g_k . g_{k-1}), K = inner_steps
        expected = min(env.lr_max, max(env.lr_min, alpha_before + 0.002 * 5 * info["grad_dot"]))
        assert alpha == expected
        assert info["grad_dot"] != 0.0
    assert math.isclose(steps[-1][1]["lr"], steps[-2][2], rel_tol=1e-5)  # the env ran at alpha


def test_hypergradient_clips_to_lr_range():
    policy = Hypergradient(lr=0.01, beta=1.0)
    policy.reset({"horizon": 10, "inner_steps": 10, "lr_min": 1e-6, "lr_max": 10.0})
    assert policy.update(-5.0) == 1e-6
    assert policy.update(1e9) == 10.0
    assert policy.update(float("nan")) == 1e-6


def test_multiplicative_hypergradient_update_by_hand():
    policy = MultiplicativeHypergradient(lr=0.01, beta=0.5)
    _, steps = _drive(policy, {"family": "quadratic", "horizon": 10, "inner_steps": 5}, 5)
    for alpha_before, info, alpha in steps[1:]:
        assert math.isclose(alpha, alpha_before * math.exp(0.5 * info["grad_cos"]), rel_tol=1e-12)
