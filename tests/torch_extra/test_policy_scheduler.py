"""PolicyScheduler against the env it imitates.

Lock-step: PyTorch trains the linreg instance the env trains — the same initial parameters,
the exact minibatch rows the env's kernel draws (``draw_indices`` on a copy of the env's
SplitMix64 word), the training objective and validation loss written out in torch from the
data — and the scheduler, driven by a second copy of the same policy, must see the env's
observations and choose the env's LRs (to 1e-6) at every step.
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrgym.baselines.registry import make_baseline  # noqa: E402
from lrgym.env import LRControlEnv  # noqa: E402
from lrgym.policy import policy_env_kwargs  # noqa: E402
from lrgym.rng import draw_indices  # noqa: E402
from lrgym.settings import DEFAULT_FACTORS  # noqa: E402
from lrgym.torch import PolicyScheduler, make_optimizer  # noqa: E402

HORIZON, INNER = 16, 5
LINREG = {"dim": 12, "batch_size": 16, "n_train": 400, "streaming": False, "dataset": "synthetic",
          "condition": 30.0, "scale": 2.0}

torch.set_num_threads(1)


def env_episode(policy, seed=3, instance=7):
    env = LRControlEnv(family="linreg", family_options=LINREG, horizon=HORIZON, inner_steps=INNER,
                       **policy_env_kwargs(policy))
    obs, info = env.reset(seed=seed, options={"instance": instance})
    start = (env.task, env.state.params.copy(), env.state.rng.copy(), float(info["lr"]))
    policy.reset(info)
    observations, lrs, rejected = [obs], [], []
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(policy.act(obs, info))
        observations.append(obs)
        lrs.append(info["lr"])
        rejected.append(info["rejected"])
        done = terminated or truncated
    return start, np.array(observations), np.array(lrs), rejected


class TorchLinReg:
    """The env's linreg instance in torch: ½ (xᵀw − y)² on the task's arrays."""

    def __init__(self, task, w0, optimizer_name, lr=1.0):
        self.X, self.y = torch.from_numpy(task.X), torch.from_numpy(task.y)
        self.Xv, self.yv = torch.from_numpy(task.Xv), torch.from_numpy(task.yv)
        self.n_eval, self.val_var = task.n_eval, task.val_var
        self.w = torch.nn.Parameter(torch.from_numpy(w0.copy()))
        self.opt = make_optimizer([self.w], optimizer_name, lr=lr)

    def train_loss(self):
        r = self.X[: self.n_eval] @ self.w - self.y[: self.n_eval]
        return 0.5 * float((r * r).mean())

    def val(self):
        r = self.Xv @ self.w - self.yv
        v = 0.5 * float((r * r).mean())
        return v, 1.0 - 2.0 * v / self.val_var

    def update(self, rows):
        idx = torch.from_numpy(rows)
        self.opt.zero_grad()
        losses = 0.5 * (self.X[idx] @ self.w - self.y[idx]) ** 2
        losses.mean().backward()
        self.opt.step()
        return losses


def scheduler_episode(policy, start, optimizer_name, n_updates=None, sched_state=None):
    task, w0, rng_word, lr0 = start
    model = TorchLinReg(task, w0, optimizer_name, lr0)  # the optimizer built at the episode's start LR
    sched = PolicyScheduler(model.opt, policy, horizon=HORIZON, updates_per_step=INNER,
                            train_loss_fn=model.train_loss, val_fn=model.val, loss_scale=task.loss_scale)
    observations, lrs = [sched.last_obs], []
    rng = rng_word.copy()
    rows = np.zeros(task.spec.batch_size, dtype=np.int64)
    step_start_rng = rng.copy()
    for k in range(HORIZON * INNER):
        if k % INNER == 0:
            lrs.append(sched.get_last_lr()[0])
            step_start_rng = rng.copy()
        draw_indices(rng, task.X.shape[0], rows)
        losses = model.update(rows)
        sched.step(losses)
        if (k + 1) % INNER == 0:
            observations.append(sched.last_obs)
            if sched.last_info["rejected"]:  # the env restored its generator with the parameters
                rng[:] = step_start_rng
        if sched.done:
            break
    return np.array(observations), np.array(lrs), sched


# overrides so that each policy moves the LR within this short episode
@pytest.mark.parametrize("name, overrides", [
    ("cosine", {}), ("one_cycle", {}), ("hypergradient", {}), ("hypergradient_mult", {}),
    ("plateau", {"patience": 0, "threshold": 0.3}), ("bold_driver", {}), ("adam", {}),
    ("dqn", {}), ("ppo", {}), ("qlearning", {}),
])
def test_scheduler_matches_env_in_lock_step(name, overrides):
    env_policy = make_baseline(name, family="linreg", **overrides)
    sched_policy = make_baseline(name, family="linreg", **overrides)
    start, env_obs, env_lrs, rejected = env_episode(env_policy)
    obs, lrs, sched = scheduler_episode(sched_policy, start, policy_env_kwargs(sched_policy)["optimizer"])
    assert len(env_lrs) == HORIZON and len(lrs) == HORIZON
    np.testing.assert_allclose(lrs, env_lrs, rtol=1e-6, atol=0)
    np.testing.assert_allclose(obs, env_obs, rtol=1e-6, atol=1e-6)
    if name not in ("adam",):  # a constant policy; every other one actually moves the LR
        assert len(set(np.round(np.log10(env_lrs), 6))) > 1
    assert sched.done and not sched.diverged


def test_lock_step_covers_rejections():
    """The bold driver's undone steps happen in this episode, and the scheduler undoes them too."""
    policy = make_baseline("bold_driver", family="linreg", lr=0.5)
    start, env_obs, env_lrs, rejected = env_episode(policy)
    assert any(rejected)
    obs, lrs, sched = scheduler_episode(make_baseline("bold_driver", family="linreg", lr=0.5), start, "sgd")
    np.testing.assert_allclose(lrs, env_lrs, rtol=1e-6, atol=0)
    np.testing.assert_allclose(obs, env_obs, rtol=1e-6, atol=1e-6)


def test_state_dict_round_trip_mid_training_continues_identically():
    policy = make_baseline("hypergradient", family="linreg")
    start, *_ = env_episode(make_baseline("hypergradient", family="linreg"))
    task, w0, rng_word, _ = start
    model = TorchLinReg(task, w0, "sgd")
    sched = PolicyScheduler(model.opt, policy, horizon=HORIZON, updates_per_step=INNER,
                            train_loss_fn=model.train_loss, val_fn=model.val)
    rng = rng_word.copy()
    rows = np.zeros(task.spec.batch_size, dtype=np.int64)
    cut = 3 * INNER + 2  # in the middle of a step

    def run(model, sched, rng, n):
        trace = []
        for _ in range(n):
            draw_indices(rng, task.X.shape[0], rows)
            sched.step(model.update(rows))
            trace.append((sched.get_last_lr()[0], sched.last_obs.copy(), model.w.detach().clone()))
        return trace

    run(model, sched, rng, cut)
    saved = (sched.state_dict(), model.opt.state_dict(), model.w.detach().clone(), rng.copy())
    first = run(model, sched, rng, HORIZON * INNER - cut)

    model2 = TorchLinReg(task, saved[2].numpy(), "sgd")
    model2.opt.load_state_dict(saved[1])
    policy2 = make_baseline("hypergradient", family="linreg", beta=123.0)  # state comes from the dict
    sched2 = PolicyScheduler(model2.opt, policy2, horizon=HORIZON, updates_per_step=INNER,
                             train_loss_fn=model2.train_loss, val_fn=model2.val)
    sched2.load_state_dict(saved[0])
    assert sched2.last_epoch == cut
    second = run(model2, sched2, saved[3].copy(), HORIZON * INNER - cut)
    assert len(first) == len(second)
    for (lr1, obs1, w1), (lr2, obs2, w2) in zip(first, second):
        assert lr1 == lr2
        np.testing.assert_array_equal(obs1, obs2)
        assert torch.equal(w1, w2)
    assert sched2.last_epoch == sched.last_epoch == HORIZON * INNER


def test_param_groups_keep_their_ratio_and_bad_inputs_are_named():
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.01}])
    sched = PolicyScheduler(opt, make_baseline("fixed", lr=0.3), horizon=4, updates_per_step=2)
    assert sched.get_last_lr() == pytest.approx([0.3, 0.03])
    with pytest.raises(TypeError, match="Policy"):
        PolicyScheduler(opt, object(), horizon=4)
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        PolicyScheduler("sgd", make_baseline("fixed", lr=0.3), horizon=4)
    with pytest.raises(ValueError, match="horizon"):
        PolicyScheduler(opt, make_baseline("fixed", lr=0.3), horizon=0)
    with pytest.raises(TypeError, match=r"step\(loss\) needs the loss.*reduction='none'.*or their mean"):
        sched.step()


def test_get_lr_and_base_lrs_answer_as_torchs_schedulers_do():
    """torch's ``LRScheduler`` API, which ``isinstance(sched, LRScheduler)`` promises: ``get_lr()``
    (what tutorials log) is the LRs in effect, read back from the optimizer, through an undone
    step too; ``base_lrs`` every group's LR as built, a group added later included. Before,
    ``get_lr()`` was the base class's bare ``NotImplementedError`` and ``base_lrs`` an
    ``AttributeError``."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    x, y = torch.randn(32, 4), torch.randn(32, 1)
    opt = torch.optim.SGD([{"params": [model.weight], "lr": 0.9}, {"params": [model.bias], "lr": 0.225}])
    sched = PolicyScheduler(opt, make_baseline("bold_driver"), horizon=12, updates_per_step=2, model=model,
                            lr_init=0.9)
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler)
    assert sched.base_lrs == [0.9, 0.225]
    seen, rejected = set(), False
    for _ in range(24):
        opt.zero_grad()
        losses = ((model(x) - y) ** 2).squeeze(1)
        losses.mean().backward()
        opt.step()
        sched.step(losses)
        rejected |= bool(sched.last_info["rejected"])
        lrs = [group["lr"] for group in opt.param_groups]
        assert sched.get_lr() == lrs == sched.get_last_lr()
        assert lrs[1] == pytest.approx(lrs[0] / 4, rel=1e-12)
        seen.add(lrs[0])
    assert len(seen) > 2 and rejected  # the policy moved the LR, down through an undo too
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 0.1})
    assert sched.base_lrs == [0.9, 0.225, 0.1]


def test_divergence_stops_the_policy_and_keeps_the_lr():
    w = torch.nn.Parameter(torch.ones(4))
    opt = torch.optim.SGD([w], lr=1.0)
    sched = PolicyScheduler(opt, make_baseline("fixed", lr=10.0), horizon=5, updates_per_step=2,
                            train_loss_fn=lambda: float((w * w).sum()))
    for _ in range(10):
        opt.zero_grad()
        loss = (w * w).sum() * 1e3
        loss.backward()
        opt.step()
        sched.step(loss)
        if sched.done:
            break
    assert sched.diverged and sched.last_info["diverged"]
    assert np.isfinite(sched.last_obs).all()
    lr = sched.get_last_lr()
    opt.zero_grad()
    sched.step(torch.tensor(1.0))  # after the end the LR stays and nothing is recorded
    assert sched.get_last_lr() == lr


def _gaussian_nll_run(offset: float, first: str = "step"):
    """A Gaussian NLL fine-tuning (mean and log-variance heads), pre-trained until its NLL is below
    0 (about -0.95), then driven by the scheduler with the NLL + ``offset`` (the audit's reproducer,
    2026-12-05). ``first``: where the run's first loss comes from ("step": the first minibatch
    loss; "train_loss_fn": the objective at construction)."""
    torch.manual_seed(0)
    X = torch.randn(256, 4)
    y = X @ torch.randn(4, 1) + 0.01 * torch.randn(256, 1)
    model = torch.nn.Linear(4, 2)

    def nll(xb, yb):
        out = model(xb)
        return torch.nn.functional.gaussian_nll_loss(out[:, :1], yb, out[:, 1:].exp(), reduction="none").squeeze(1)

    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        opt.zero_grad()
        nll(X, y).mean().backward()
        opt.step()
    assert float(nll(X, y).detach().mean()) < -0.9
    kw = {"train_loss_fn": lambda: nll(X, y).mean() + offset} if first == "train_loss_fn" else {}
    sched = PolicyScheduler(opt, make_baseline("adam"), horizon=5, updates_per_step=4, **kw)
    for _ in range(20):
        idx = torch.randint(0, 256, (32,))
        opt.zero_grad()
        losses = nll(X[idx], y[idx])
        losses.mean().backward()
        opt.step()
        sched.step(losses + offset)
    return sched


@pytest.mark.parametrize("first", ["step", "train_loss_fn"])
def test_a_first_loss_at_or_below_zero_is_refused_naming_it_and_an_offset_one_trains(first):
    """A first loss (L0) <= 0 was floored to 1e-300: every later positive loss passed the divergence
    cap and the LR froze at the first step, with no word (``diverged=True`` after 4 updates of a
    Gaussian NLL at -0.95). lrgym's policies observe log losses relative to L0: an L0 <= 0 is a
    ValueError naming it and the remedy; the NLL offset by a constant trains through the horizon."""
    remedy = "it must be > 0.*valid: a finite first loss > 0, e.g. yours plus a constant"
    where = "step\\(loss\\): the update's mean loss" if first == "step" else "train_loss_fn\\(\\)"
    with pytest.raises(ValueError, match=f"{where} is -0.[5-9][0-9]*, the episode's first loss \\(L0\\): {remedy}"):
        _gaussian_nll_run(0.0, first)
    sched = _gaussian_nll_run(10.0, first)
    assert sched.done and not sched.diverged and sched.last_epoch == 20


def _separable_ce_run(lr: float = 5.0, updates: int = 200, **kwargs):
    """Per-example float32 cross-entropy on separable data at a large LR: once every margin passes
    about 17 each loss is exactly -0.0 (``F.cross_entropy([[17., 0.]], [0])`` is ``tensor([-0.])``)."""
    torch.manual_seed(0)
    X = torch.randn(64, 2)
    y = (X[:, 0] > 0).long()
    X[:, 0] += torch.where(y == 1, 3.0, -3.0)
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def ce():
        return torch.nn.functional.cross_entropy(model(X), y, reduction="none")

    sched = PolicyScheduler(opt, make_baseline("fixed", lr=lr), horizon=updates // 10, updates_per_step=10,
                            **{key: (lambda: ce().mean()) if f == "ce" else f for key, f in kwargs.items()})
    zeros = 0
    for _ in range(updates):
        opt.zero_grad()
        losses = ce()
        losses.mean().backward()
        opt.step()
        sched.step(losses.detach())
        zeros += bool((losses == 0).all())
    return sched, zeros


@pytest.mark.parametrize("measured", [{}, {"train_loss_fn": "ce", "val_fn": "ce"}])
def test_a_later_loss_of_exactly_zero_from_float32_cross_entropy_trains_to_the_end(measured):
    """A later loss of 0 or -0.0 crashed training mid-run (every loss <= 0 was refused), though the
    README recommends cross-entropy: in float32 it is exactly -0.0 at large margins. A later 0 is
    observed as the env observes it (floored at TINY): the run goes on to its horizon."""
    assert str(torch.nn.functional.cross_entropy(torch.tensor([[17.0, 0.0]]), torch.tensor([0]),
                                                 reduction="none")) == "tensor([-0.])"
    sched, zeros = _separable_ce_run(**measured)
    assert zeros > 50  # the run reached exact zeros, for many updates
    assert sched.done and not sched.diverged and sched.last_epoch == 200
    assert sched.last_info["train_loss"] == 0.0 and np.all(np.isfinite(sched.last_obs))


def test_a_first_loss_of_zero_or_any_negative_loss_is_refused_and_nan_or_inf_still_end_the_run():
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([w], lr=0.01)
    first = r"the episode's first loss \(L0\): it must be > 0"
    negative = r"losses must be >= 0 \(> 0 for the first\).*valid: a finite loss >= 0"
    with pytest.raises(ValueError, match=rf"train_loss_fn\(\) is 0, {first}"):
        PolicyScheduler(opt, make_baseline("fixed"), horizon=3, train_loss_fn=lambda: 0.0)
    with pytest.raises(ValueError, match=rf"val_fn\(\)'s loss is -1: {negative}"):
        PolicyScheduler(opt, make_baseline("fixed"), horizon=3, val_fn=lambda: (-1.0, 0.5))
    PolicyScheduler(opt, make_baseline("fixed"), horizon=3, val_fn=lambda: 0.0)  # V0 = 0: floored, as in the env
    for bad in (0.0, -0.0, torch.tensor([0.0, -0.0])):  # a deferred L0: the first minibatch loss
        sched = PolicyScheduler(opt, make_baseline("fixed"), horizon=3, updates_per_step=2)
        (w * w).sum().backward()
        opt.step()
        with pytest.raises(ValueError, match=rf"the update's mean loss is -?0, {first}"):
            sched.step(bad)
        assert sched.last_epoch == 0 and sched.monitor.updates == 0
    for bad in (-1e-3, torch.tensor([0.5, -0.6])):
        sched = PolicyScheduler(opt, make_baseline("fixed"), horizon=3, updates_per_step=2)
        for loss in (1.0, 0.9, 0.8):  # a step and a half of positive losses
            (w * w).sum().backward()
            opt.step()
            sched.step(loss)
        (w * w).sum().backward()
        opt.step()
        with pytest.raises(ValueError, match=rf"the update's mean loss is -0\.0(01|5): {negative}"):
            sched.step(bad)
        assert sched.last_epoch == 3 and not sched.done  # nothing recorded: the update waits for a valid loss
        sched.step(0.0)  # a later 0 is a loss
        assert sched.last_epoch == 4 and sched.last_info["updates"] == 4 and sched.last_info["step"] == 2
    for bad in (math.nan, math.inf, -math.inf):  # the divergence path, as in the env: not refused
        sched = PolicyScheduler(opt, make_baseline("fixed"), horizon=3, updates_per_step=2)
        (w * w).sum().backward()
        opt.step()
        sched.step(bad)
        assert sched.done and sched.diverged


@pytest.mark.parametrize("which", ["train_loss_fn", "val_fn"])
def test_a_measured_loss_refused_at_the_end_of_a_later_step_leaves_the_scheduler_as_it_was(which):
    """train_loss_fn() / val_fn() run when an update completes a step. Refused after that update
    was recorded, the documented retry recorded one update more into the same step (a step of 3
    updates with updates_per_step=2). They are measured before the update is recorded now: the
    refusal leaves the scheduler as it was, and the corrected call closes the step as usual."""
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([w], lr=0.01)
    values = iter([1.0, 0.9, -0.5, 0.7, 0.6, 0.5])
    sched = PolicyScheduler(opt, make_baseline("fixed", lr=0.01), horizon=5, updates_per_step=2,
                            **{which: lambda: next(values)})

    def update(loss):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        sched.step(loss)

    for loss in (1.0, 0.9, 0.8):
        update(loss)
    before = (sched.last_epoch, sched.monitor.step_updates, sched.monitor.updates, sched.monitor.t, sched.lr)
    assert before[:4] == (3, 1, 3, 1)
    name = "train_loss_fn\\(\\)" if which == "train_loss_fn" else "val_fn\\(\\)"
    with pytest.raises(ValueError, match=f"{name} is -0.5: "):
        update(0.7)
    assert (sched.last_epoch, sched.monitor.step_updates, sched.monitor.updates, sched.monitor.t, sched.lr) == before
    sched.step(0.7)  # the corrected call records the update: the step closes with its 2 updates
    assert sched.last_epoch == 4 and sched.last_info["updates"] == 4 and sched.last_info["step"] == 2
    assert sched.monitor.step_updates == 0
    update(0.6)
    update(0.5)
    assert sched.last_info["updates"] == 6 and sched.last_info["step"] == 3


def test_without_evaluation_functions_l0_is_the_first_minibatch_loss():
    """No train_loss_fn / val_fn: the objective is the step's mean minibatch loss and L0 the first
    minibatch loss; checked against the feature definitions written out here."""
    torch.manual_seed(0)
    X, w_true = torch.randn(64, 3, dtype=torch.float64), torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    y = X @ w_true
    w = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=0.05)
    sched = PolicyScheduler(opt, make_baseline("fixed", lr=0.05), horizon=3, updates_per_step=4)
    assert np.count_nonzero(sched.last_obs[:10]) == 0  # nothing measured yet: relative features 0
    batch_means, grads = [], []
    for k in range(8):
        rows = torch.arange(8 * k, 8 * k + 8)
        opt.zero_grad()
        losses = 0.5 * (X[rows] @ w - y[rows]) ** 2
        losses.mean().backward()
        grads.append(w.grad.detach().clone())
        opt.step()
        batch_means.append(float(losses.detach().mean()))
        sched.step(losses.mean())  # a scalar: no loss spread
        if k == 3:
            first_obs = sched.last_obs.copy()
    l0, l1, l2 = batch_means[0], np.mean(batch_means[:4]), np.mean(batch_means[4:])
    assert first_obs[0] == pytest.approx(math.log(l1 / l0), rel=1e-5)  # log_train_loss_rel
    assert sched.last_obs[0] == pytest.approx(math.log(l2 / l0), rel=1e-5)
    assert sched.last_obs[2] == pytest.approx(math.log(l2 / l1), rel=1e-5)  # delta_log_train_loss
    assert first_obs[6] == pytest.approx(0.0, abs=1e-12)  # log_loss_cv of a scalar loss
    norms = [float(g.norm()) for g in grads]
    cos = [float(grads[k] @ grads[k - 1] / (grads[k].norm() * grads[k - 1].norm())) for k in range(1, 8)]
    assert sched.last_obs[7] == pytest.approx(math.log(np.mean(norms[4:]) / np.mean(norms[:4])), rel=1e-5)
    assert sched.last_obs[9] == pytest.approx(np.mean(cos[3:]), rel=1e-5)  # grad_cos of updates 5..8
    assert sched.last_obs[11] == pytest.approx(2 / 3)


def _controller_run(family, policy_family=None, updates=40):
    """The learned controller driving a small torch MLP classifier (the audit's reproducer: it
    was refused for family -1, with "valid: 0..3" ids the scheduler had no argument for)."""
    torch.manual_seed(0)
    X = torch.randn(256, 8)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    objective = lambda: torch.nn.functional.cross_entropy(model(X), y).detach()  # noqa: E731
    sched = PolicyScheduler(opt, make_baseline("controller", family=policy_family), horizon=10, updates_per_step=4,
                            train_loss_fn=objective, model=model, family=family)
    start, lrs = float(objective()), []
    for k in range(updates):
        rows = torch.arange(32 * (k % 8), 32 * (k % 8 + 1))
        opt.zero_grad()
        losses = torch.nn.functional.cross_entropy(model(X[rows]), y[rows], reduction="none")
        losses.mean().backward()
        opt.step()
        sched.step(losses)
        lrs.append(opt.param_groups[0]["lr"])
    return sched, start, float(objective()), lrs


def test_the_controller_runs_in_a_torch_loop_on_the_weights_of_the_family_named():
    with pytest.raises(ValueError, match=r"family id -1 has no trained weights; valid: 0\.\.3 \(linreg, quadratic, "
                                         r"mlp, recsys\).*PolicyScheduler\(\.\.\., family=\.\.\.\)"):
        _controller_run(None)
    with pytest.raises(ValueError, match=r"unknown family 'cnn'; valid choices: linreg, quadratic, mlp, recsys"):
        _controller_run("cnn")
    sched, start, end, lrs = _controller_run("mlp", policy_family="mlp")
    assert sched.done and not sched.diverged and sched.last_epoch == 40
    assert sched.last_info["family"] == 2 and sched.family == "mlp"  # mlp's index, as in the mlp env
    assert end < start  # it trained
    assert all(sched.lr_min <= lr <= sched.lr_max for lr in lrs)
    # the family picks the controller's per-family start and bias: another family, other LRs
    _, _, _, linreg_lrs = _controller_run("linreg", updates=4)
    assert linreg_lrs[0] != lrs[0]
    # a state saved for one family continues only a scheduler of that family
    state = sched.state_dict()
    other, *_ = _controller_run("linreg", updates=0)
    with pytest.raises(ValueError, match=r"saved by a PolicyScheduler with family='mlp', this scheduler has "
                                         r"family='linreg'; valid: build the scheduler as the saved one was"):
        other.load_state_dict(state)
    same, *_ = _controller_run("mlp", updates=0)
    same.load_state_dict(state)
    assert same.last_epoch == 40


def test_a_misspelt_keyword_is_named_with_the_valid_ones():
    """``PolicyScheduler(..., lr_mx=1)`` was Python's bare "__init__() got an unexpected keyword
    argument 'lr_mx'"; the valid names are the signature's (the reference), which stays as it was."""
    from lrgym.keywords import UnknownKeywordError

    w = torch.nn.Parameter(torch.ones(2))
    valid = list(inspect.signature(PolicyScheduler).parameters)
    with pytest.raises(UnknownKeywordError) as caught:
        PolicyScheduler(torch.optim.SGD([w], lr=0.01), make_baseline("fixed"), horizon=3, lr_mx=1.0)
    assert isinstance(caught.value, TypeError)
    assert str(caught.value) == ("PolicyScheduler() got an unexpected keyword argument 'lr_mx' (did you mean "
                                 f"'lr_max'?); valid: {', '.join(valid)}")
    assert valid[:3] == ["optimizer", "policy", "horizon"] and "lr_max" in valid
    with pytest.warns(UserWarning) as caught:  # the constructor's warnings point at the caller's line, not the check
        PolicyScheduler(torch.optim.Adam([w], lr=0.5), make_baseline("fixed"), horizon=3)
    assert len(caught) == 1 and caught[0].filename == __file__


def test_a_mismatched_optimizer_is_named_in_a_warning():
    w = torch.nn.Parameter(torch.ones(2))
    with pytest.warns(UserWarning, match="'adam'.*torch.optim.Adam.*SGD"):
        PolicyScheduler(torch.optim.SGD([w], lr=0.1), make_baseline("adam"), horizon=3)


@pytest.mark.parametrize("policy, make, lrgym_side, torch_side", [
    # the class matched, so these drove a rule the policy was not made for, silently (an audit, 2026-12-05)
    ("plateau", lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
     "'sgd' (torch.optim.SGD(momentum=0, nesterov=False))", "torch.optim.SGD(momentum=0.9, nesterov=True)"),
    ("adam", lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6),
     "'adam' (torch.optim.Adam(betas=(0.9, 0.999), eps=1e-08))", "torch.optim.Adam(betas=(0.8, 0.99), eps=1e-06)"),
    ("adam", lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True),
     "'adam' (torch.optim.Adam(amsgrad=False))", "torch.optim.Adam(amsgrad=True)"),
    ("plateau", lambda p: torch.optim.AdamW(p, lr=0.01),  # another class: lrgym's arguments in full
     "'sgd' (torch.optim.SGD(momentum=0, dampening=0, nesterov=False, weight_decay=0.0, maximize=False))", "AdamW"),
    # maximize and settings of a parameter group of its own were not compared (a review, 2026-12-05)
    ("plateau", lambda p: torch.optim.SGD(p, lr=0.01, maximize=True),
     "'sgd' (torch.optim.SGD(maximize=False))", "torch.optim.SGD(maximize=True)"),
    ("plateau", lambda p: torch.optim.SGD([{"params": p, "momentum": 0.9, "nesterov": True}], lr=0.01),
     "'sgd' (torch.optim.SGD(momentum=0, nesterov=False))", "torch.optim.SGD(momentum=0.9, nesterov=True)"),
    ("plateau", lambda p: torch.optim.SGD([{"params": p[:1]}, {"params": [torch.nn.Parameter(torch.ones(1))],
                                                                "momentum": 0.9}], lr=0.01),
     "'sgd' (torch.optim.SGD(momentum=0))", "torch.optim.SGD with param_groups[0]: momentum=0; "
                                            "param_groups[1]: momentum=0.9"),
])
def test_an_optimizer_with_other_settings_than_the_policys_is_named_in_a_warning(policy, make, lrgym_side, torch_side):
    w = torch.nn.Parameter(torch.ones(2))
    with pytest.warns(UserWarning) as caught:
        PolicyScheduler(make([w]), make_baseline(policy), horizon=3, lr_init=0.01)
    assert [str(c.message) for c in caught] == [
        f"policy {policy!r} was designed for lrgym's {lrgym_side}, it drives {torch_side} here; "
        "lrgym.torch.make_optimizer(params, policy.optimizer) builds the matching one"]


WEIGHT_DECAY_ONLY = (
    ": they differ in weight decay only, which is part of the update the LR scales (torch adds weight_decay·p to a "
    "group's gradient in optimizer.step(), so the policy's LR also sets how fast those weights shrink: by "
    "lr·weight_decay of themselves per update under plain SGD), and the policy's LRs were chosen for updates {made_for}. "
    "lrgym's optimizers decay every parameter alike: a policy trained on lrgym's optimizer={{'name': {name!r}, "
    "'weight_decay': wd}} matches one weight_decay in every group (make_optimizer builds that), none matches decay on "
    "some groups only (weights but not biases). To keep yours: warnings.filterwarnings('ignore', message='policy .* "
    "differ in weight decay only')")


@pytest.mark.parametrize("policy_optimizer, make, lrgym_side, torch_side, made_for", [
    # the AdamW recipe's groups under plain SGD: the warning said only "make_optimizer builds the matching
    # one", which drops the decay of the weights, and not why the difference matters
    ("sgd", lambda m: torch.optim.SGD([{"params": [m.weight], "weight_decay": 0.01},
                                       {"params": [m.bias], "weight_decay": 0.0}], lr=0.01),
     "torch.optim.SGD(weight_decay=0.0)", "torch.optim.SGD with param_groups[0]: weight_decay=0.01; "
                                          "param_groups[1]: weight_decay=0.0", "without weight decay"),
    ("sgd", lambda m: torch.optim.SGD(m.parameters(), lr=0.01, weight_decay=5e-4),
     "torch.optim.SGD(weight_decay=0.0)", "torch.optim.SGD(weight_decay=0.0005)", "without weight decay"),
    ({"name": "adam", "weight_decay": 0.1}, lambda m: torch.optim.Adam([{"params": [m.weight]},
                                                                       {"params": [m.bias], "weight_decay": 0.0}],
                                                                      lr=0.01, weight_decay=0.1),
     "torch.optim.Adam(weight_decay=0.1)", "torch.optim.Adam with param_groups[0]: weight_decay=0.1; "
                                           "param_groups[1]: weight_decay=0.0", "with weight_decay=0.1 on every parameter"),
])
def test_weight_decay_alone_is_warned_of_saying_why_it_matters(policy_optimizer, make, lrgym_side, torch_side, made_for):
    """Weight decay is part of the update the LR scales, so a policy made without it (or with one decay for
    every parameter, as lrgym's rules have) is warned of on decay groups; the warning says why, that
    make_optimizer matches one weight_decay only, and how to keep the recipe without the warning."""
    from lrgym.optim import OptimizerConfig

    model = torch.nn.Linear(3, 2)
    policy = make_baseline("fixed", lr=0.01, optimizer=policy_optimizer)
    name = OptimizerConfig.coerce(policy_optimizer).name
    with pytest.warns(UserWarning) as caught:
        PolicyScheduler(make(model), policy, horizon=3)
    assert [str(c.message) for c in caught] == [
        f"policy 'fixed' was designed for lrgym's {name!r} ({lrgym_side}), it drives {torch_side} here"
        + WEIGHT_DECAY_ONLY.format(made_for=made_for, name=name)]
    assert caught[0].filename == __file__  # the user's line, above the keyword check's wrapper
    with warnings.catch_warnings():  # the filter the warning gives silences it, and nothing else
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message="policy .* differ in weight decay only")
        PolicyScheduler(make(model), make_baseline("fixed", lr=0.01, optimizer=policy_optimizer), horizon=3)
        with pytest.raises(UserWarning, match="make_optimizer\\(params, policy.optimizer\\) builds the matching one"):
            PolicyScheduler(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=0.01),
                            make_baseline("fixed", lr=0.01), horizon=3)


def test_adam_with_decoupled_weight_decay_under_an_adam_policy_with_weight_decay_is_warned_of():
    """``Adam(decoupled_weight_decay=True)`` is AdamW's rule: under a policy made for lrgym's Adam
    with weight decay (the decay added to the gradient) it was not warned of."""
    if "decoupled_weight_decay" not in torch.optim.Adam([torch.nn.Parameter(torch.ones(1))]).defaults:
        pytest.skip("this torch has no decoupled_weight_decay")
    w = torch.nn.Parameter(torch.ones(2))
    policy = make_baseline("fixed", lr=0.01, optimizer={"name": "adam", "weight_decay": 0.1})
    with pytest.warns(UserWarning, match=r"torch.optim.Adam\(decoupled_weight_decay=False\)\), it drives "
                                         r"torch.optim.Adam\(decoupled_weight_decay=True\) here"):
        PolicyScheduler(torch.optim.Adam([w], lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), policy,
                        horizon=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PolicyScheduler(make_optimizer([w], {"name": "adam", "weight_decay": 0.1}, lr=0.01), policy, horizon=3)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad",
                                       {"name": "momentum", "momentum": 0.5, "weight_decay": 1e-4}])
def test_the_optimizer_make_optimizer_builds_is_the_policys_without_a_warning(optimizer):
    from lrgym.optim import OptimizerConfig

    w = torch.nn.Parameter(torch.ones(2))
    policy = make_baseline("fixed", lr=0.01, optimizer=optimizer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = PolicyScheduler(make_optimizer([w], optimizer, lr=0.01), policy, horizon=3)
    assert sched.policy_optimizer == OptimizerConfig.coerce(optimizer).name


def test_undoing_the_first_step_matches_the_env():
    """Undone before any earlier update, the env's counter is back at 0: the next update has no
    previous gradient to compare with (no cosine pair), as after a reset. The scheduler used to
    crash restoring the empty previous gradient of that point (a ValueError)."""
    policy = make_baseline("bold_driver", family="linreg", lr=1.0)
    start, env_obs, env_lrs, rejected = env_episode(policy)
    assert rejected[0]
    obs, lrs, sched = scheduler_episode(make_baseline("bold_driver", family="linreg", lr=1.0), start, "sgd")
    np.testing.assert_allclose(lrs, env_lrs, rtol=1e-6, atol=0)
    np.testing.assert_allclose(obs, env_obs, rtol=1e-6, atol=1e-6)


class _Top:
    """A log_lr policy that always asks for the top of its LR range."""

    name = "top"
    action_mode = "log_lr"

    def __init__(self, **env_options):
        self.env_options = env_options

    def reset(self, info):
        pass

    def act(self, obs, info):
        return np.array([1.0], dtype=np.float32)


def test_the_policys_own_lr_range_and_cap_apply_unless_given_and_others_are_warned_of():
    """An audit (2026-12-05): a policy's ``env_options={"lr_max": 0.1}`` was dropped in silence, so
    its top action set LR 10 instead of 0.1. lr_min, lr_max, cap_factor and reward now come from
    the policy unless given to the scheduler; an option it cannot apply is warned of."""
    def first_lr(policy, **kw):
        w = torch.nn.Parameter(torch.ones(2))
        opt = torch.optim.SGD([w], lr=0.01)
        sched = PolicyScheduler(opt, policy, horizon=3, updates_per_step=1, **kw)
        opt.zero_grad()
        (w ** 2).sum().backward()
        opt.step()
        sched.step((w ** 2).sum())
        return opt.param_groups[0]["lr"], sched

    lr, sched = first_lr(_Top(lr_max=0.1, cap_factor=5.0))
    assert lr == pytest.approx(0.1) and sched.monitor.cap_factor == 5.0
    assert first_lr(_Top(lr_max=0.1), lr_max=2.0)[0] == pytest.approx(2.0)  # the caller's wins
    assert first_lr(_Top())[0] == pytest.approx(10.0)  # the env's default range
    with pytest.warns(UserWarning, match=r"does not apply: \{'reward_alphas': \[1.0, 2.0\]\}"):
        first_lr(_Top(reward_alphas=[1.0, 2.0]))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_train_or_val_loss_that_is_not_finite_at_construction_is_refused(bad):
    """train_loss_fn() / val_fn() at construction give L0 / V0, measured before any update. A NaN
    or inf there ran on in silence with the reference replaced by 1.0: not diverged, every later
    observation relative to 1 (an audit's digits MLP saw log_train_loss_rel 0.83 at its start)."""
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([w], lr=0.01)
    first = r"measured before the first update: it must be finite"
    with pytest.raises(ValueError, match=rf"train_loss_fn\(\) is {bad}, {first}"):
        PolicyScheduler(opt, make_baseline("fixed"), horizon=3, train_loss_fn=lambda: bad)
    with pytest.raises(ValueError, match=rf"val_fn\(\)'s loss is {bad}, {first}"):
        PolicyScheduler(opt, make_baseline("fixed"), horizon=3, val_fn=lambda: (bad, 0.5))
    with pytest.raises(ValueError, match=rf"val_fn\(\) is {bad}, {first}"):
        PolicyScheduler(opt, make_baseline("fixed"), horizon=3, val_fn=lambda: bad)
    later = iter([1.0, bad, 0.5])  # after a step, a non-finite training loss is still a divergence
    sched = PolicyScheduler(opt, make_baseline("fixed"), horizon=3, updates_per_step=1,
                            train_loss_fn=lambda: next(later))
    (w * w).sum().backward()
    opt.step()
    sched.step(1.0)
    assert sched.done and sched.diverged


def test_without_train_loss_fn_the_first_step_is_undone_against_the_first_minibatch_loss():
    """The env compares a step's training loss with the one before it, and for the first step that
    is L0 (the reset's loss): its first step can be undone (test above). Without train_loss_fn the
    scheduler's L0 is the first minibatch's mean loss, known once the first update is told; the
    undo compared the first step with the loss before it as recorded at construction, NaN (nothing
    measured yet), so a bold driver's first step was never undone (and an undo would have reported
    NaN losses). Reference: the env's rule written out, step mean loss > 1.04 · L0."""
    X = torch.linspace(-1.0, 1.0, 24, dtype=torch.float64).reshape(12, 2)
    y = X @ torch.tensor([1.0, -1.0], dtype=torch.float64) + 0.5
    w = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    w0 = w.detach().clone()
    opt = torch.optim.SGD([w], lr=3.0)
    sched = PolicyScheduler(opt, make_baseline("bold_driver", lr=3.0), horizon=4, updates_per_step=3)
    assert math.isnan(sched.last_info["train_loss"])  # nothing measured before the first update
    means = []
    for k in range(3):
        rows = torch.arange(4 * k, 4 * k + 4)
        opt.zero_grad()
        losses = 0.5 * (X[rows] @ w - y[rows]) ** 2
        losses.mean().backward()
        opt.step()
        means.append(float(losses.detach().mean()))
        sched.step(losses)
    l0, step_loss = means[0], float(np.mean(means))
    assert step_loss > 1.04 * l0  # the env's rule: this step is undone
    assert sched.last_info["rejected"]
    torch.testing.assert_close(w.detach(), w0, rtol=0, atol=0)  # the parameters as before the step
    assert sched.last_info["train_loss"] == sched.last_info["val_loss"] == l0  # as the env reports after an undo
    assert sched.last_obs[0] == 0.0  # log_train_loss_rel: back at L0


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad"])
def test_make_optimizer_starts_where_the_env_starts(optimizer):
    """make_optimizer's default LR is the env's start LR for that optimizer (it was 1e-2 for every
    one, and the env starts Adam and RMSprop at 1e-3): reference, the LR of LRControlEnv's reset.
    A discrete policy of that optimizer without a start LR of its own then starts from the
    optimizer's LR without the warning that the env's default replaces it."""
    env = LRControlEnv(family="linreg", family_options=LINREG, optimizer=optimizer)
    _, info = env.reset(seed=0)
    opt = make_optimizer([torch.nn.Parameter(torch.ones(2))], optimizer)
    assert opt.param_groups[0]["lr"] == float(info["lr"])

    class Keep:  # discrete, no lr_init: starts from the env's default
        def __init__(self):
            self.optimizer = optimizer

        def reset(self, info):
            pass

        def act(self, obs, info):
            return list(DEFAULT_FACTORS).index(1.0)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = PolicyScheduler(opt, Keep(), horizon=3)
    assert sched.get_last_lr() == [float(info["lr"])]
