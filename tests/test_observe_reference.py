"""Every feature and every reward of a step against a plain-Python reference written from the
tables of :mod:`lrgym.features` and :mod:`lrgym.rewards` (this file shares no code with them).

The env's step runs :func:`lrgym.step.observe` (features, reward, then the memory moves on) on
the kernel's statistics; here it runs on statistics made up step by step, so every feature
slot, the step-to-step memory (L_{t-1}, V_{t-1}, G_1, G_{t-1}, M_{t-1}) and the divergence
penalties are checked against their definitions. An env episode then checks the features
against the losses and gradient norms its infos report.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrgym.env import LRControlEnv
from lrgym.features import FEATURE_NAMES, N_FEATURES, N_MEMORY, start_episode
from lrgym.rewards import REWARDS, reward_code, reward_params
from lrgym.step import observe
from lrgym.tasks import base

BOUND = 100.0
TINY = 1e-300


def clip(x):
    return 0.0 if math.isnan(x) else min(BOUND, max(-BOUND, x))


class ReferenceObserver:
    """The documented features and rewards, keeping its own history of the episode."""

    def __init__(self, l0, v0, m0, cap_factor, loss_scale, horizon, reward, alphas):
        self.l0, self.v0, self.m0 = l0, v0, m0
        self.l_prev, self.v_prev, self.m_prev = l0, v0, m0
        self.cap = cap_factor * (max(l0, loss_scale) if math.isfinite(loss_scale) else l0)
        self.g1 = self.g_prev = None
        self.horizon, self.reward, self.alphas = horizon, reward, alphas

    def safe(self, x, cap):
        return cap if not math.isfinite(x) or x > cap else max(x, TINY)

    def step(self, t, lr, train, val, metric, batch, var, gnorm, cos, diverged):
        lt = self.safe(train, self.cap)
        vt = self.safe(val, self.cap * self.v0 / self.l0)
        bt = self.safe(batch, self.cap)
        f = {
            "log_train_loss_rel": clip(math.log(lt / self.l0)),
            "log_val_loss_rel": clip(math.log(vt / self.v0)),
            "delta_log_train_loss": clip(math.log(lt / self.l_prev)),
            "delta_log_val_loss": clip(math.log(vt / self.v_prev)),
            "log_batch_loss_rel": clip(math.log(bt / self.l0)),
            "log_val_train_ratio": clip(math.log(vt / lt)),
            "log_loss_cv": clip(0.5 * math.log(var) - math.log(batch)),  # ½ log(Var ℓ / (E ℓ)²)
            "log_grad_norm_rel": clip(math.log(gnorm / self.g1)) if self.g1 else 0.0,
            "delta_log_grad_norm": clip(math.log(gnorm / self.g_prev)) if self.g_prev else 0.0,
            "grad_cos": clip(cos),
            "log10_lr": clip(math.log10(lr)),
            "progress": t / self.horizon,
        }
        a1, a2 = self.alphas
        if self.reward == "log_improvement":
            r = math.log(self.l_prev / (self.cap if diverged else lt))
        elif self.reward == "sign_delta":
            if diverged:  # −α1 for this and every remaining step
                r = -a1 * (self.horizon - t + 1)
            else:
                delta = (self.l_prev - lt) / self.l0
                r = a1 * np.sign(delta) + a2 * delta
        elif self.reward == "final":
            r = math.log(self.l0 / self.cap) if diverged else (math.log(self.l0 / lt) if t == self.horizon else 0.0)
        else:  # metric_delta: a diverged episode's total is −1
            r = (self.m0 - self.m_prev - 1.0) if diverged else metric - self.m_prev
        if not diverged:
            self.l_prev, self.v_prev, self.m_prev = lt, vt, metric
        if gnorm > 0 and math.isfinite(gnorm):
            self.g1 = self.g1 or gnorm
            self.g_prev = gnorm
        return np.array([f[name] for name in FEATURE_NAMES]), r


def stats_of(train, val, metric, batch, var, gnorm, cos, diverged):
    s = np.zeros(base.N_STATS)
    s[base.S_TRAIN_LOSS], s[base.S_VAL_LOSS], s[base.S_VAL_METRIC] = train, val, metric
    s[base.S_BATCH_LOSS], s[base.S_LOSS_VAR], s[base.S_GRAD_NORM] = batch, var, gnorm
    s[base.S_GRAD_COS], s[base.S_DIVERGED] = cos, float(diverged)
    return s


def run_episode(reward, diverge_at=None, horizon=8, seed=0, alphas=(0.5, 2.0), cap_factor=50.0, loss_scale=1.5):
    """Made-up statistics of a healthy episode (losses and gradient norms that rise and fall
    independently, so every ratio differs from the others), diverging at step ``diverge_at``
    (the loss far above the cap). Returns the observations and rewards of lrgym and reference."""
    rng = np.random.default_rng(seed)
    l0, v0, m0 = 2.0, 2.5, 0.3
    stats = stats_of(l0, v0, m0, 0.0, 0.0, 0.0, 0.0, False)
    memory = np.zeros(N_MEMORY)
    start_episode(stats, cap_factor, loss_scale, memory)
    ref = ReferenceObserver(l0, v0, m0, cap_factor, loss_scale, horizon, reward, alphas)
    code, params = reward_code(reward), reward_params(*alphas)
    obs = np.zeros(N_FEATURES, dtype=np.float32)
    got, want = [], []
    for t in range(1, horizon + 1):
        lr = 10 ** rng.uniform(-4, 0)
        train = l0 * math.exp(rng.uniform(-2.0, 0.5))
        val = train * math.exp(rng.uniform(-0.3, 0.6))
        metric = m0 + rng.uniform(-0.2, 0.6)
        batch = train * math.exp(rng.uniform(-0.5, 0.5))
        var = (batch * rng.uniform(0.1, 3.0)) ** 2
        gnorm = math.exp(rng.uniform(-2.0, 2.0))
        cos = rng.uniform(-1.0, 1.0)
        diverged = t == diverge_at
        if diverged:
            train = val = batch = 1e6 * ref.cap
        s = stats_of(train, val, metric, batch, var, gnorm, cos, diverged)
        r = observe(s, memory, t, horizon, lr, code, params, obs)
        f_ref, r_ref = ref.step(t, lr, train, val, metric, batch, var, gnorm, cos, diverged)
        got.append((obs.astype(np.float64).copy(), r))
        want.append((f_ref, r_ref))
        if diverged:
            break
    return got, want


def assert_same(got, want):
    for t, ((obs, r), (obs_ref, r_ref)) in enumerate(zip(got, want), start=1):
        for name, a, b in zip(FEATURE_NAMES, obs, obs_ref):
            # float32 observations: equal to the float64 reference up to float32 rounding
            assert a == pytest.approx(b, rel=1e-6, abs=1e-6), (t, name, a, b)
        assert r == pytest.approx(r_ref, rel=1e-12, abs=1e-15), (t, r, r_ref)
    assert len(got) == len(want)


@pytest.mark.parametrize("reward", REWARDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_features_and_rewards_of_a_healthy_episode_follow_their_definitions(reward, seed):
    got, want = run_episode(reward, seed=seed)
    assert_same(got, want)


@pytest.mark.parametrize("reward", REWARDS)
@pytest.mark.parametrize("diverge_at", [1, 4])
def test_divergence_penalties_follow_their_definitions(reward, diverge_at):
    got, want = run_episode(reward, diverge_at=diverge_at)
    assert_same(got, want)


@pytest.mark.parametrize("reward", ["log_improvement", "final", "metric_delta"])
def test_a_diverged_episode_returns_its_documented_total(reward):
    """The totals the rewards' docstring states, in closed form: log(L0 / cap) for the
    telescoping rewards, −1 for metric_delta (cap = cap_factor · max(L0, loss_scale))."""
    got, _ = run_episode(reward, diverge_at=5, cap_factor=50.0, loss_scale=1.5)
    total = sum(r for _, r in got)
    expected = math.log(2.0 / (50.0 * max(2.0, 1.5))) if reward != "metric_delta" else -1.0
    assert total == pytest.approx(expected, rel=1e-12)


def test_sign_delta_charges_alpha1_for_every_step_lost_to_divergence():
    """Diverging at step 4 of 8 costs −α1 · 5: the diverging step and the four never run."""
    got, _ = run_episode("sign_delta", diverge_at=4, horizon=8, alphas=(0.5, 2.0))
    assert len(got) == 4 and got[-1][1] == pytest.approx(-0.5 * 5, rel=1e-15)


def test_env_features_at_every_step_match_the_infos():
    """In an env episode, each step's features recomputed from the infos it reported (losses,
    batch loss, loss variance, gradient norms, cosine) and the LR in force."""
    env = LRControlEnv(family="linreg", family_options={"streaming": False, "dataset": "synthetic"},
                       horizon=6, lr_init=0.02)
    obs, info0 = env.reset(seed=4, options={"instance": 3})
    infos = [info0]
    for action in (3, 3, 1, 4, 2, 2):
        obs, _, term, trunc, info = env.step(action)
        assert not term
        infos.append(info)
        t = len(infos) - 1
        prev, g1 = infos[t - 1], infos[1]["grad_norm"]
        want = {
            "log_train_loss_rel": math.log(info["train_loss"] / info0["train_loss"]),
            "log_val_loss_rel": math.log(info["val_loss"] / info0["val_loss"]),
            "delta_log_train_loss": math.log(info["train_loss"] / prev["train_loss"]),
            "delta_log_val_loss": math.log(info["val_loss"] / prev["val_loss"]),
            "log_batch_loss_rel": math.log(info["batch_loss"] / info0["train_loss"]),
            "log_val_train_ratio": math.log(info["val_loss"] / info["train_loss"]),
            "log_loss_cv": 0.5 * math.log(info["loss_var"]) - math.log(info["batch_loss"]),
            "log_grad_norm_rel": math.log(info["grad_norm"] / g1),
            "delta_log_grad_norm": math.log(info["grad_norm"] / prev["grad_norm"]) if t > 1 else 0.0,
            "grad_cos": info["grad_cos"],
            "log10_lr": math.log10(info["lr"]),
            "progress": t / 6,
        }
        for name, value in zip(FEATURE_NAMES, obs.astype(float)):
            assert value == pytest.approx(want[name], rel=1e-5, abs=1e-6), (t, name)
    assert trunc


def test_non_finite_statistics_give_a_finite_bounded_observation():
    """A diverged step whose statistics are NaN or infinite (a gradient that overflowed):
    every feature is finite and within ±100; a NaN value reads 0, an infinite loss the cap."""
    memory = np.zeros(N_MEMORY)
    start_episode(stats_of(2.0, 2.5, 0.3, 0.0, 0.0, 0.0, 0.0, False), 50.0, 1.5, memory)
    obs = np.zeros(N_FEATURES, dtype=np.float32)
    for bad in (math.nan, math.inf):
        s = stats_of(bad, bad, bad, bad, 1.0, bad, math.nan, True)
        m = memory.copy()
        observe(s, m, 1, 8, 0.1, reward_code("log_improvement"), reward_params(), obs)
        assert np.all(np.isfinite(obs)) and np.all(np.abs(obs) <= BOUND), (bad, obs)
        f = dict(zip(FEATURE_NAMES, obs.astype(float)))
        assert f["grad_cos"] == 0.0
        assert f["log_train_loss_rel"] == pytest.approx(math.log(50.0 * 2.0 / 2.0), rel=1e-6)  # log(cap / L0)
