"""PolicyScheduler in the training loops PyTorch users write: mixed precision (GradScaler skipping
updates), sparse and complex gradients, parameter groups added during training.

Each reference is PyTorch itself: a run without the feature that must give the same observations
(a power-of-two loss scale is exact, a sparse gradient is a dense one with zeros, a complex
parameter is updated as its ``view_as_real``), or the SGD update written out.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrgym.baselines.registry import make_baseline  # noqa: E402
from lrgym.torch import PolicyScheduler  # noqa: E402

torch.set_num_threads(1)
HORIZON, INNER = 4, 3


def _regression(seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(96, 5, generator=g) * 30.0  # large inputs: a 2**120 loss scale overflows the gradients
    y = X @ torch.randn(5, generator=g) + torch.randn(96, generator=g)
    return X, y


def _trace(sched):
    return sched.last_obs.copy(), sched.lr, int(sched.last_info["updates"]), int(sched.monitor.t)


@pytest.mark.parametrize("name", ["plateau", "hypergradient"])
def test_updates_a_grad_scaler_skips_are_not_recorded(name):
    """GradScaler skips ``optimizer.step()`` while the scaled gradients overflow. The scheduler must
    observe only the updates taken: retrying each skipped minibatch, the scaled run takes exactly
    the plain run's updates (a power-of-two scale is exact), so it sees the same observations,
    LRs and update counts at every update."""
    X, y = _regression()
    runs = []
    for scaled in (False, True):
        torch.manual_seed(1)
        model = torch.nn.Linear(5, 1)
        opt = torch.optim.SGD(model.parameters(), lr=1e-4)
        sched = PolicyScheduler(opt, make_baseline(name), horizon=HORIZON, updates_per_step=INNER, lr_init=1e-4)
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**120, growth_interval=10**6) if scaled else None
        trace, skipped = [], 0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for k in range(HORIZON * INNER):
                rows = slice(8 * k, 8 * k + 8)
                while True:
                    opt.zero_grad()
                    losses = (model(X[rows]).squeeze(1) - y[rows]) ** 2
                    if scaler is None:
                        losses.mean().backward()
                        opt.step()
                        taken = True
                    else:
                        scale = scaler.get_scale()
                        scaler.scale(losses.mean()).backward()
                        scaler.step(opt)
                        scaler.update()
                        taken = scaler.get_scale() == scale  # the scale halves exactly when the step is skipped
                    sched.step(losses.detach())
                    skipped += not taken
                    if taken:
                        break
                trace.append(_trace(sched))
        runs.append(trace)
        if scaled:
            assert skipped > 0  # the test exercises skipped updates
            notes = [str(w.message) for w in caught if "did not run" in str(w.message)]
            assert len(notes) == 1 and "GradScaler" in notes[0]  # said once
            assert sched.last_epoch == HORIZON * INNER  # the updates taken, as info["updates"]
    for (obs, lr, updates, t), (obs_s, lr_s, updates_s, t_s) in zip(*runs):
        np.testing.assert_array_equal(obs_s, obs)
        assert (lr_s, updates_s, t_s) == (lr, updates, t)


def test_a_non_finite_loss_ends_the_run_even_when_the_step_is_skipped():
    """A GradScaler skips the update of an infinite loss too; the env's rule still calls it divergence."""
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([w], lr=0.01)
    sched = PolicyScheduler(opt, make_baseline("fixed", lr=0.01), horizon=HORIZON, updates_per_step=INNER)
    scaler = torch.amp.GradScaler("cpu")
    for value in (1.0, float("inf")):
        opt.zero_grad()
        loss = (w * w).sum() * value
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step(loss.detach())
    assert sched.diverged and sched.done and sched.last_info["diverged"]


def _embedding_run(sparse: bool):
    torch.manual_seed(2)
    emb = torch.nn.Embedding(12, 4, sparse=sparse)
    target = torch.linspace(-1.0, 1.0, 4)
    opt = torch.optim.SGD(emb.parameters(), lr=0.05)
    sched = PolicyScheduler(opt, make_baseline("hypergradient"), horizon=HORIZON, updates_per_step=INNER,
                            lr_init=0.05)
    g = torch.Generator().manual_seed(3)
    trace = []
    for _ in range(HORIZON * INNER):
        idx = torch.randint(0, 12, (6,), generator=g)  # repeated rows: the sparse gradient has duplicates
        opt.zero_grad()
        losses = ((emb(idx) - target) ** 2).sum(1)
        losses.mean().backward()
        opt.step()
        sched.step(losses.detach())
        trace.append(_trace(sched))
    return trace, emb.weight.grad


def test_sparse_gradients_are_observed_as_the_dense_ones():
    """``nn.Embedding(sparse=True)``: the scheduler reads the sparse gradient (it crashed:
    'reshape is not implemented for sparse tensors') and sees what it sees with the dense layer."""
    sparse, grad = _embedding_run(True)
    assert grad.is_sparse
    dense, _ = _embedding_run(False)
    for (obs_s, lr_s, *counts_s), (obs, lr, *counts) in zip(sparse, dense):
        np.testing.assert_allclose(obs_s, obs, rtol=1e-5, atol=1e-6)
        assert lr_s == pytest.approx(lr, rel=1e-5) and counts_s == counts


def _complex_run(as_real: bool):
    """A complex least-squares fit; ``as_real``: the same parameter stored as its view_as_real."""
    g = torch.Generator().manual_seed(4)
    X = torch.randn(60, 3, dtype=torch.complex64, generator=g)
    t = X @ torch.tensor([1 + 2j, -1j, 0.5], dtype=torch.complex64)
    start = torch.randn(3, dtype=torch.complex64, generator=g)
    w = torch.nn.Parameter(torch.view_as_real(start).clone() if as_real else start.clone())
    opt = torch.optim.SGD([w], lr=0.02)
    sched = PolicyScheduler(opt, make_baseline("hypergradient"), horizon=HORIZON, updates_per_step=INNER,
                            lr_init=0.02)
    trace = []
    for k in range(HORIZON * INNER):
        rows = slice(5 * k, 5 * k + 5)
        opt.zero_grad()
        weights = torch.view_as_complex(w) if as_real else w
        losses = (X[rows] @ weights - t[rows]).abs() ** 2
        losses.mean().backward()
        opt.step()
        sched.step(losses.detach())
        trace.append(_trace(sched))
    return trace


def test_complex_parameters_are_observed_as_their_real_view():
    """torch.optim updates a complex parameter as its ``view_as_real``; the gradient features must
    see the same vector (casting to float dropped the imaginary parts: a wrong norm and cosine)."""
    for (obs_c, lr_c, *counts_c), (obs, lr, *counts) in zip(_complex_run(False), _complex_run(True)):
        np.testing.assert_allclose(obs_c, obs, rtol=1e-5, atol=1e-6)
        assert lr_c == pytest.approx(lr, rel=1e-5) and counts_c == counts


def test_a_group_added_during_training_keeps_its_ratio_from_its_first_update():
    """``optimizer.add_param_group`` (unfreezing a layer): the new group's LR follows the policy,
    at its ratio to the first group, from its first update on (it kept its own LR for good)."""
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([a], lr=0.1)
    sched = PolicyScheduler(opt, make_baseline("cosine"), horizon=HORIZON, updates_per_step=1)
    for k in range(HORIZON):
        if k == 1:
            opt.add_param_group({"params": [b], "lr": 0.01})
        opt.zero_grad()
        loss = (a.sum() - 1.0) ** 2 + (b.sum() + 2.0) ** 2
        loss.backward()
        lr, b_before, grad_b = sched.lr, b.detach().clone(), b.grad.clone()
        opt.step()
        if k >= 1:  # SGD: b ← b − (policy LR · 0.01 / 0.1) · ∇b
            torch.testing.assert_close(b.detach(), b_before - lr * 0.1 * grad_b, rtol=0, atol=1e-7)
            assert opt.param_groups[1]["lr"] == pytest.approx(lr * 0.1, rel=1e-12)
        sched.step(loss.detach())
    assert sched.get_last_lr() == pytest.approx([sched.lr, sched.lr * 0.1], rel=1e-12)
    assert len(sched.state_dict()["ratios"]) == 2


def test_another_lr_scheduler_on_the_optimizer_is_refused_before_its_update():
    """A LinearLR warm-up on the same optimizer rewrote the LR the policy had set: updates ran at
    an LR the policy's observation did not show. Refused before the first such update, naming
    both LRs; once the policy's run is over the LR is the user's again."""
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([w], lr=0.01)
    sched = PolicyScheduler(opt, make_baseline("fixed", lr=0.01), horizon=1, updates_per_step=2)
    torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=4)  # sets the LR to 0.001 now
    opt.zero_grad()
    (w * w).sum().backward()
    with pytest.raises(RuntimeError, match=r"param_groups\[0\]\['lr'\] is 0.001 .* PolicyScheduler set 0.01.*"
                                           r"LinearLR.*valid:"):
        opt.step()
    torch.testing.assert_close(w.detach(), torch.ones(3), rtol=0, atol=0)  # no update at the wrong LR
    opt.param_groups[0]["lr"] = 0.01
    for _ in range(2):
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        opt.step()
        sched.step(loss.detach())
    assert sched.done
    opt.param_groups[0]["lr"] = 0.5  # the run is over: the user takes the LR back
    before = w.detach().clone()
    opt.step()
    torch.testing.assert_close(w.detach(), before - 0.5 * w.grad, rtol=0, atol=1e-7)


@pytest.mark.filterwarnings("ignore:policy .* was designed for")  # SGD with momentum on purpose
def test_a_tensor_lr_is_filled_in_place_and_followed():
    """``SGD(lr=torch.tensor(...))``: the scheduler fills the tensor (float32 rounding is not taken
    for an outside change) and the run sees what the run with a float LR sees."""
    traces = []
    for tensor_lr in (False, True):
        torch.manual_seed(5)
        model = torch.nn.Linear(5, 1)
        lr = torch.tensor(1e-4) if tensor_lr else 1e-4
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, foreach=False)
        sched = PolicyScheduler(opt, make_baseline("hypergradient"), horizon=HORIZON, updates_per_step=INNER,
                                lr_init=1e-4)
        X, y = _regression(1)
        for k in range(HORIZON * INNER):
            opt.zero_grad()
            losses = (model(X[8 * k:8 * k + 8]).squeeze(1) - y[8 * k:8 * k + 8]) ** 2
            losses.mean().backward()
            opt.step()
            sched.step(losses.detach())
        if tensor_lr:
            assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(sched.lr, rel=1e-6)
        traces.append(sched.last_obs.copy())
    np.testing.assert_allclose(traces[1], traces[0], rtol=1e-4, atol=1e-5)


def test_gradient_accumulation_records_one_update_per_optimizer_step():
    """Four micro-batches per ``optimizer.step()``, ``sched.step`` called after each backward (a
    common slip): only the calls after an update count (warned once, naming accumulation), and
    the run equals the one calling ``sched.step`` once per update with the last micro-batch's
    losses; the gradient read is the accumulated one."""
    X, y = _regression(2)
    traces = []
    for per_micro_batch in (False, True):
        torch.manual_seed(6)
        model, opt, sched = _linear_sgd_run("hypergradient")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for k in range(HORIZON * INNER):
                opt.zero_grad()
                for m in range(4):
                    rows = slice(8 * (4 * k + m) % 96, 8 * (4 * k + m) % 96 + 8)
                    losses = (model(X[rows]).squeeze(1) - y[rows]) ** 2
                    (losses.mean() / 4).backward()
                    if m == 3:
                        opt.step()
                    if per_micro_batch or m == 3:
                        sched.step(losses.detach())
        notes = [str(w.message) for w in caught if "did not run" in str(w.message)]
        assert len(notes) == per_micro_batch and all("accumulating" in n for n in notes)
        assert sched.last_epoch == HORIZON * INNER
        traces.append((sched.last_obs.copy(), sched.lr))
    np.testing.assert_array_equal(traces[1][0], traces[0][0])
    assert traces[1][1] == traces[0][1]


@pytest.mark.parametrize("form", ["per-example", "means"])
def test_the_micro_batches_losses_as_a_list_of_tensors_are_their_values(form):
    """Accumulating, the natural call is ``sched.step(micro_losses)``: a list of the micro-batches'
    losses as the loop made them (attached to the graph; the last micro-batch smaller). NumPy
    read the list and raised torch's "Can't call numpy() on Tensor that requires grad" (and
    refused a ragged list). The list is its tensors' values, concatenated: the run equals the
    one given ``torch.cat`` of the detached losses."""
    X, y = _regression(3)
    sizes = (8, 8, 8, 5)
    traces = []
    for as_list in (False, True):
        torch.manual_seed(6)
        model, opt, sched = _linear_sgd_run("hypergradient")
        for k in range(HORIZON * INNER):
            opt.zero_grad()
            micro, start = [], (29 * k) % 60
            for size in sizes:
                losses = (model(X[start:start + size]).squeeze(1) - y[start:start + size]) ** 2
                (losses.sum() / sum(sizes)).backward()
                micro.append(losses if form == "per-example" else losses.mean())
                start += size
            opt.step()
            sched.step(micro if as_list else torch.cat([m.detach().reshape(-1) for m in micro]))
        assert sched.last_epoch == HORIZON * INNER
        traces.append((sched.last_obs.copy(), sched.lr))
    np.testing.assert_array_equal(traces[1][0], traces[0][0])
    assert traces[1][1] == traces[0][1]


def test_several_optimizer_steps_before_one_sched_step_are_warned_of_naming_the_counts():
    """Three ``optimizer.step()`` calls, then one ``sched.step(loss)``: one update is recorded (one
    loss, one gradient), as the README says ``last_epoch`` counts; that was silent (an audit,
    2026-12-05). A warning names the counts, once; one call per update warns of nothing."""
    X, y = _regression(2)
    model = torch.nn.Linear(5, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    sched = PolicyScheduler(opt, make_baseline("cosine"), horizon=HORIZON, updates_per_step=INNER)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one call per update: no warning
        _run_updates(model, opt, sched, range(2))
    assert sched.last_epoch == 2 and not sched.state_dict()["warned_multi"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in (3, 2):
            for k in range(n):
                opt.zero_grad()
                losses = (model(X[8 * k:8 * k + 8]).squeeze(1) - y[8 * k:8 * k + 8]) ** 2
                losses.mean().backward()
                opt.step()
            sched.step(losses.detach())
    assert [str(w.message)[:200] for w in caught] == [
        "PolicyScheduler.step(loss): optimizer.step() ran 3 times since the last call, but one call records one "
        "update (its loss, the gradient in p.grad now): the other 2 are not observed or counted (last_epoch, "
        "info['updates'] and the policy's steps count step(loss) calls)"[:200]]
    assert sched.last_epoch == 4  # step(loss) calls after an update, as documented (not the 7 updates)
    assert sched.state_dict()["warned_multi"]  # once per run, across a checkpoint too


class _ClippedSGD(torch.optim.SGD):
    """An optimizer subclass whose ``step`` clips, then calls ``super().step()``."""

    def step(self, closure=None):
        torch.nn.utils.clip_grad_norm_([p for g in self.param_groups for p in g["params"]], 1.0)
        return super().step(closure)


def test_an_optimizer_subclass_calling_super_step_is_one_update_per_step():
    """torch runs an optimizer's step hooks once per class in the call chain of ``step``: once a
    plain SGD has been built, a subclass calling ``super().step()`` ran the scheduler's hooks twice
    per update, which warned "optimizer.step() ran 2 times" to a loop calling ``sched.step`` after
    every update. Nested hook runs count once; several real calls still warn; another scheduler's
    LR is still refused from the outermost call."""
    torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)  # any plain SGD: SGD.step runs hooks too
    X, y = _regression(2)
    model = torch.nn.Linear(5, 1)
    opt = _ClippedSGD(model.parameters(), lr=1e-4)
    with pytest.warns(UserWarning, match="it drives _ClippedSGD here"):  # a class of its own: warned, as documented
        sched = PolicyScheduler(opt, make_baseline("fixed", lr=1e-4), horizon=HORIZON, updates_per_step=INNER)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _run_updates(model, opt, sched, range(2 * INNER))
    assert sched.last_epoch == 2 * INNER and sched.last_info["updates"] == 2 * INNER
    assert not sched.state_dict()["warned_multi"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            opt.zero_grad()
            losses = (model(X[:8]).squeeze(1) - y[:8]) ** 2
            losses.mean().backward()
            opt.step()
        sched.step(losses.detach())
    assert [str(w.message)[:62] for w in caught] == ["PolicyScheduler.step(loss): optimizer.step() ran 2 times since"]
    opt.param_groups[0]["lr"] = 0.5
    with pytest.raises(RuntimeError, match="something else changed it"):
        opt.step()
    opt.param_groups[0]["lr"] = sched.get_last_lr()[0]
    _run_updates(model, opt, sched, range(1))  # the refused call left no nesting behind: counted again
    assert sched.last_epoch == 2 * INNER + 2


def _linear_sgd_run(baseline: str):
    """(model, optimizer, scheduler) of the usual small run: a 5 → 1 linear model, SGD at 1e-4, the
    baseline ``baseline`` driving it from LR 1e-4 (seed torch before, for the model's draw)."""
    model = torch.nn.Linear(5, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    return model, opt, PolicyScheduler(opt, make_baseline(baseline), horizon=HORIZON, updates_per_step=INNER,
                                       lr_init=1e-4)


def _run_updates(model, opt, sched, batches):
    """``batches`` of (rows) updates, each: zero_grad, backward, optimizer.step, sched.step."""
    X, y = _regression(2)
    for k in batches:
        opt.zero_grad()
        losses = (model(X[8 * k:8 * k + 8]).squeeze(1) - y[8 * k:8 * k + 8]) ** 2
        losses.mean().backward()
        opt.step()
        sched.step(losses.detach())


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_scheduler_counts_the_updates_of_its_own_optimizer(how):
    """A scheduler copied (``copy.deepcopy``, ``pickle``) with its optimizer and model drives the
    copied optimizer: torch's Optimizer drops its step hooks when copied, so the copy saw none of
    its updates (each taken for one GradScaler skipped: nothing recorded, last_epoch stuck) and
    ``pickle`` failed on the hooks. The reference is the original run, continued on the same
    batches: the copy must give its observations, LR and update count."""
    import copy
    import pickle

    torch.manual_seed(3)
    model, opt, sched = _linear_sgd_run("plateau")
    _run_updates(model, opt, sched, range(4))
    bundle = (model, opt, sched)
    model2, opt2, sched2 = copy.deepcopy(bundle) if how == "deepcopy" else pickle.loads(pickle.dumps(bundle))
    assert sched2.optimizer is opt2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 'optimizer.step() did not run' warning
        _run_updates(model2, opt2, sched2, range(4, 9))
    _run_updates(model, opt, sched, range(4, 9))
    assert sched2.last_epoch == sched.last_epoch == 9
    assert _trace(sched2)[1:] == _trace(sched)[1:]
    np.testing.assert_array_equal(sched2.last_obs, sched.last_obs)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copy_made_between_opt_step_and_sched_step_observes_that_update(how):
    """Copied between ``optimizer.step()`` and ``step(loss)`` (with its model), the copy read the
    pending update's gradient from its parameters' ``.grad``, which torch's copy of an
    ``nn.Parameter`` does not have: it observed a zero gradient and warned that zero_grad() ran in
    between. The gradient goes with the copy (as ``state_dict()`` saves it). Reference: the
    original, told the same update and continued on the same batches."""
    import copy
    import pickle

    torch.manual_seed(3)
    model, opt, sched = _linear_sgd_run("plateau")
    _run_updates(model, opt, sched, range(2))
    X, y = _regression(2)
    opt.zero_grad()
    losses = (model(X[16:24]).squeeze(1) - y[16:24]) ** 2
    losses.mean().backward()
    opt.step()
    bundle = (model, opt, sched)
    model2, opt2, sched2 = copy.deepcopy(bundle) if how == "deepcopy" else pickle.loads(pickle.dumps(bundle))
    assert all(p.grad is None for p in model2.parameters())  # torch's copy: no .grad to read
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step(losses.detach())
        sched.step(losses.detach())
        assert sched2.last_info["grad_norm"] == sched.last_info["grad_norm"] > 0
        _run_updates(model2, opt2, sched2, range(3, 7))
    _run_updates(model, opt, sched, range(3, 7))
    assert sched2.lr == sched.lr and sched2.last_epoch == sched.last_epoch == 7
    np.testing.assert_array_equal(sched2.last_obs, sched.last_obs)


def test_a_shallow_copy_of_a_scheduler_is_refused_and_the_original_goes_on():
    """``copy.copy(sched)`` shared the optimizer, the policy and the monitor, and took the first two
    over: the original's next step failed with "a newer PolicyScheduler was built on this
    optimizer", which named no copy. It is a TypeError naming what copies; the original then
    runs as a scheduler never copied (the reference, on the same batches)."""
    import copy

    runs = []
    for copied in (False, True):
        torch.manual_seed(3)
        model, opt, sched = _linear_sgd_run("plateau")
        _run_updates(model, opt, sched, range(4))
        if copied:
            with pytest.raises(TypeError, match=r"copy\.copy of a PolicyScheduler would share its optimizer, "
                                                r"policy and episode.*valid: copy\.deepcopy\(\(model, optimizer, "
                                                r"sched\)\).*state_dict\(\)"):
                copy.copy(sched)
        trace = []
        for k in range(4, 9):
            _run_updates(model, opt, sched, [k])
            trace.append((sched.last_obs.tolist(), *_trace(sched)[1:], sched.last_epoch))
        runs.append(trace)
    assert runs[1] == runs[0] and runs[0][-1][-1] == 9


def _copies(how, model, opt, sched):
    """(the model the user trains, the copied scheduler) for each way of copying a scheduler: with
    its model in one call (any order), or without it (then the user trains the model they have)."""
    import copy
    import pickle

    if how == "deepcopy(sched)":
        return model, copy.deepcopy(sched)
    if how == "deepcopy((opt, sched))":
        return model, copy.deepcopy((opt, sched))[1]
    if how == "pickle(sched)":
        return model, pickle.loads(pickle.dumps(sched))
    if how == "deepcopy((model, opt, sched))":
        model2, _, sched2 = copy.deepcopy((model, opt, sched))
        return model2, sched2
    if how == "deepcopy((sched, model))":
        sched2, model2 = copy.deepcopy((sched, model))
        return model2, sched2
    assert how == "pickle((sched, model))"
    sched2, model2 = pickle.loads(pickle.dumps((sched, model)))
    return model2, sched2


_COPY_WARNING = (r"this scheduler is a copy \(copy\.deepcopy or pickle\) made without the model its losses are "
                 r"computed with.*no loss\.backward\(\) reached the parameters its optimizer trains.*valid: "
                 r"copy\.deepcopy\(\(model, optimizer, sched\)\) or pickle\.dumps\(\(model, optimizer, sched\)\)")


@pytest.mark.parametrize("zero", ["opt.zero_grad()", "opt.zero_grad(set_to_none=False)", "model.zero_grad()"])
@pytest.mark.parametrize("how", ["deepcopy(sched)", "deepcopy((opt, sched))", "pickle(sched)",
                                 "deepcopy((model, opt, sched))", "deepcopy((sched, model))", "pickle((sched, model))"])
def test_a_copied_scheduler_warns_when_its_optimizer_trains_no_model_of_the_loss(how, zero):
    """A scheduler copied without its model (deepcopy or pickle, alone or with the optimizer only)
    drives an optimizer over new copies of the parameters that no model holds: trained on the model
    the user has, its updates move tensors no loss is computed with. The reference is torch itself:
    whether the copied optimizer holds the trained model's parameters. Exactly then, the copy warns
    once, on the caller's line, by its second update (its first may use the gradient it was copied
    with), whatever clears the gradients; a whole copy, in any order, says nothing and trains its
    model. (The warning was given at copy time when the model was not copied before the scheduler:
    also for (sched, model), a whole copy; never for (opt, sched) or pickle, which were only told
    that no parameter had a .grad, blaming backward().)"""
    torch.manual_seed(3)
    model, opt, sched = _linear_sgd_run("plateau")
    _run_updates(model, opt, sched, range(2))
    X, y = _regression(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trained, copied = _copies(how, model, opt, sched)
        opt2 = copied.optimizer
        held = [p for group in opt2.param_groups for p in group["params"]]
        whole = len(held) == 2 and all(p is q for p, q in zip(held, trained.parameters()))
        before = [p.detach().clone() for p in held]
        told = []
        for k in range(2, 6):
            {"opt.zero_grad()": opt2.zero_grad, "model.zero_grad()": trained.zero_grad,
             "opt.zero_grad(set_to_none=False)": lambda: opt2.zero_grad(set_to_none=False)}[zero]()
            losses = (trained(X[8 * k:8 * k + 8]).squeeze(1) - y[8 * k:8 * k + 8]) ** 2
            losses.mean().backward()
            opt2.step()
            copied.step(losses.detach())
            told += [(k, w) for w in caught[len(told):]]
    assert whole == (how in ("deepcopy((model, opt, sched))", "deepcopy((sched, model))", "pickle((sched, model))"))
    moved = any(not torch.equal(p.detach(), b) for p, b in zip(held, before))
    if whole:
        assert told == [] and moved  # silent, and the copy trains the model the loss is computed with
        return
    assert not moved  # torch's side: the copied optimizer's tensors get no gradient
    copy_notes = [(k, w) for k, w in told if re.search(_COPY_WARNING, str(w.message))]
    assert len(copy_notes) == 1 and copy_notes[0][0] <= 3
    assert copy_notes[0][1].category is UserWarning and copy_notes[0][1].filename == __file__
    # before it, at the copy's first update, the zero-gradient warning may say what it cannot tell yet
    others = [str(w.message) for k, w in told if (k, w) not in copy_notes]
    assert all(k == 2 for k, w in told if (k, w) not in copy_notes)
    assert all("this scheduler is a copy (copy.deepcopy or pickle) and its optimizer's parameters have no other "
               ".grad than they were copied with" in note for note in others)


@pytest.mark.parametrize("zero", ["opt.zero_grad()", "none"])
@pytest.mark.parametrize("whole", [True, False])
def test_a_copy_over_plain_tensors_is_judged_as_one_over_parameters(whole, zero):
    """Plain tensors as the optimizer's parameters (``requires_grad=True``, no ``nn.Parameter``):
    torch's deepcopy copies their ``.grad`` (an ``nn.Parameter``'s it does not), so the copy starts
    with gradients that the loop then clears or leaves stale. Reference: torch, whether the copied
    optimizer holds the tensor the loss is computed with."""
    import copy

    w = torch.ones(3, requires_grad=True)
    opt = torch.optim.SGD([w], lr=1e-3)
    sched = PolicyScheduler(opt, make_baseline("plateau"), horizon=HORIZON, updates_per_step=INNER, lr_init=1e-3)

    def update(w, opt, sched):
        if zero == "opt.zero_grad()":
            opt.zero_grad()
        else:
            w.grad = None  # the loop clears the tensor it trains, not the optimizer's
        losses = (w - 2.0) ** 2
        losses.sum().backward()
        opt.step()
        sched.step(losses.detach())

    update(w, opt, sched)
    w2, opt2, sched2 = copy.deepcopy((w, opt, sched)) if whole else (w, *copy.deepcopy((opt, sched)))
    assert (opt2.param_groups[0]["params"][0] is w2) == whole
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        update(w2, opt2, sched2)
        update(w2, opt2, sched2)
        update(w2, opt2, sched2)
    notes = [str(c.message) for c in caught if re.search(_COPY_WARNING, str(c.message))]
    if whole:
        assert caught == []
    else:  # (and, at the copy's first update, at most the zero-gradient warning naming the copy)
        assert len(notes) == 1 and len(caught) <= 2


@pytest.mark.parametrize("when", ["between backward() and opt.step()", "between opt.step() and sched.step(loss)",
                                  "p.grad set by the loop", "a dead network"])
def test_a_whole_copy_is_not_warned_of_wherever_it_is_made(when):
    """No false warning of a copy made with its model: at any point of the loop (before its first
    update no backward runs), in a loop that sets ``p.grad`` itself (``torch.autograd.grad``, no
    accumulation), or of a dead network whose true gradient is 0 (backward still reaches it). The
    reference is torch: the copied optimizer holds the copied model's parameters. Copied between
    ``optimizer.step()`` and ``step(loss)``, the copy observes the update's gradient as the original
    does (it observed zeros: torch's copy of an ``nn.Parameter`` has no ``.grad``, and was warned
    that zero_grad() ran in between); copied between ``backward()`` and ``optimizer.step()``, that
    update moves nothing (torch's copy has no ``.grad``), which is said, naming the copy."""
    import copy

    torch.manual_seed(3)
    model = torch.nn.Linear(5, 1)
    if when == "a dead network":
        model = torch.nn.Sequential(torch.nn.Linear(5, 1), torch.nn.ReLU())
        with torch.no_grad():
            model[0].bias.fill_(-1e3)  # the ReLU inactive on every row: every gradient is exactly 0, the loss y²
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    sched = PolicyScheduler(opt, make_baseline("plateau"), horizon=HORIZON, updates_per_step=INNER, lr_init=1e-4)
    _run_updates(model, opt, sched, range(2))
    X, y = _regression(2)

    def loss_of(m, k):
        return (m(X[8 * k:8 * k + 8]).squeeze(1) - y[8 * k:8 * k + 8]) ** 2

    original = model, opt, sched
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if when == "between backward() and opt.step()":
            opt.zero_grad()
            losses = loss_of(model, 2)
            losses.mean().backward()
            model, opt, sched = copy.deepcopy((model, opt, sched))
            before = [p.detach().clone() for p in model.parameters()]
            opt.step()
            # torch's copy of an nn.Parameter has no .grad: this update moves nothing (the reference)
            assert all(torch.equal(p.detach(), b) for p, b in zip(model.parameters(), before))
            sched.step(losses.detach())
            assert len(caught) == 1 and "this scheduler is a copy" in str(caught[0].message)
            assert "copied between loss.backward() and optimizer.step()" in str(caught[0].message)
            caught.clear()
        elif when == "between opt.step() and sched.step(loss)":
            opt.zero_grad()
            losses = loss_of(model, 2)
            losses.mean().backward()
            opt.step()
            model, opt, sched = copy.deepcopy((model, opt, sched))
            sched.step(losses.detach())
            original[2].step(losses.detach())  # the reference: the original, told the same update
            assert sched.last_info["grad_norm"] == original[2].last_info["grad_norm"] > 0
        else:
            model, opt, sched = copy.deepcopy((model, opt, sched))
            _run_updates(model, opt, sched, [2])
        for k in range(3, 6):
            if when == "p.grad set by the loop":
                losses = loss_of(model, k)
                for p, g in zip(model.parameters(), torch.autograd.grad(losses.mean(), list(model.parameters()))):
                    p.grad = g
                opt.step()
                sched.step(losses.detach())
            else:
                _run_updates(model, opt, sched, [k])
                if when == "between opt.step() and sched.step(loss)":
                    _run_updates(*original, [k])
    assert caught == []
    if when == "between opt.step() and sched.step(loss)":  # the copy goes on as the original
        assert sched.lr == original[2].lr
        np.testing.assert_array_equal(sched.last_obs, original[2].last_obs)
    held = [p for g in opt.param_groups for p in g["params"]]
    assert len(held) == 2 and all(p is q for p, q in zip(held, model.parameters()))
    assert sched.last_epoch == 6
    if when == "a dead network":
        assert sched.last_info["grad_norm"] == 0.0  # the test exercises a zero gradient


class _Wrapped(torch.optim.Optimizer):
    """An optimizer wrapper as Accelerate's ``AcceleratedOptimizer`` is: a subclass of Optimizer
    that never calls ``Optimizer.__init__`` and delegates to the optimizer it wraps (so it has no
    step hooks of its own)."""

    def __init__(self, inner):  # noqa: D107 - no super().__init__(), as the wrappers do
        self.inner = inner

    @property
    def param_groups(self):
        return self.inner.param_groups

    @property
    def state(self):
        return self.inner.state

    def step(self, closure=None):
        return self.inner.step(closure)

    def zero_grad(self, set_to_none=True):
        self.inner.zero_grad(set_to_none)

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)


def test_an_optimizer_wrapper_without_step_hooks_is_driven_as_before():
    """A wrapper without step hooks was an AttributeError at construction. It is driven as any
    optimizer was before the hooks: every ``step(loss)`` an update. The reference is the same run
    on the bare SGD."""
    traces = []
    for wrapped in (False, True):
        torch.manual_seed(4)
        model = torch.nn.Linear(5, 1)
        opt = torch.optim.SGD(model.parameters(), lr=1e-4)
        driven = _Wrapped(opt) if wrapped else opt
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the wrapper is no torch.optim.SGD: the class warning
            sched = PolicyScheduler(driven, make_baseline("plateau"), horizon=HORIZON, updates_per_step=INNER,
                                    lr_init=1e-4)
        _run_updates(model, driven, sched, range(HORIZON * INNER))
        traces.append((sched.last_epoch, sched.lr, sched.last_obs.copy()))
    assert traces[1][:2] == traces[0][:2] == (HORIZON * INNER, traces[0][1])
    np.testing.assert_array_equal(traces[1][2], traces[0][2])


def test_a_group_added_after_the_run_leaves_the_users_lrs_alone():
    """Once ``done`` the LR is the user's: a group added then must not make the scheduler write
    its LRs back over those the user set (it did, at the new group's first update)."""
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([a], lr=0.1)
    sched = PolicyScheduler(opt, make_baseline("fixed", lr=0.1), horizon=1, updates_per_step=1)
    opt.zero_grad()
    loss = (a.sum() - 1.0) ** 2
    loss.backward()
    opt.step()
    sched.step(loss.detach())
    assert sched.done
    opt.param_groups[0]["lr"] = 0.5  # the user's LR after the run
    opt.add_param_group({"params": [b], "lr": 0.02})
    opt.zero_grad()
    loss = (a.sum() - 1.0) ** 2 + (b.sum() + 2.0) ** 2
    loss.backward()
    a_before, b_before = a.detach().clone(), b.detach().clone()
    opt.step()  # SGD as the user set it: a at 0.5, b at 0.02
    torch.testing.assert_close(a.detach(), a_before - 0.5 * a.grad, rtol=0, atol=1e-7)
    torch.testing.assert_close(b.detach(), b_before - 0.02 * b.grad, rtol=0, atol=1e-7)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.02]


def test_a_scheduler_built_anew_on_the_optimizer_owns_its_lrs():
    """Building a new scheduler on the same optimizer (re-running a notebook cell, starting over)
    while the old one is still referenced (the notebook's output history) raised 'something else
    changed it' at the first update: the old one's hook refused the new one's LR. The newest owns
    the LRs; the reference is SGD's update at the new policy's LR."""
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([w], lr=0.01)
    old = PolicyScheduler(opt, make_baseline("fixed", lr=0.01), horizon=4, updates_per_step=1)
    new = PolicyScheduler(opt, make_baseline("fixed", lr=0.05), horizon=4, updates_per_step=1)
    for _ in range(3):
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        before = w.detach().clone()
        opt.step()
        torch.testing.assert_close(w.detach(), before - 0.05 * w.grad, rtol=0, atol=1e-7)
        new.step(loss.detach())
    assert new.last_epoch == 3 and not old.done


@pytest.mark.parametrize("name", ["cosine", "hypergradient_mult", "linear"])
def test_one_policy_object_driving_two_schedulers_is_refused_at_the_older_ones_step(name):
    """Two optimizers, one ``policy`` passed to both schedulers: the policy keeps one episode's
    state (its step count, its LR), so the second scheduler's ``reset`` and both schedulers' ``act``
    mixed the two runs, and each got LRs of neither, in silence (every policy here differed from
    the run with an instance each). The newest scheduler drives the policy; the older one refuses
    its next step, before recording anything, naming the policy and the remedy."""
    X, y = _regression(4)

    def two_runs(shared: bool):
        torch.manual_seed(1)
        model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
        opts = [torch.optim.SGD(model[0].parameters(), lr=1e-3), torch.optim.SGD(model[2].parameters(), lr=1e-3)]
        policy = make_baseline(name, lr=1e-3)
        scheds = [PolicyScheduler(opt, policy if shared else make_baseline(name, lr=1e-3), horizon=HORIZON,
                                  updates_per_step=INNER) for opt in opts]
        trace = []
        for k in range(HORIZON * INNER):
            for opt in opts:
                opt.zero_grad()
            losses = (model(X[8 * k % 96:8 * k % 96 + 8]).squeeze(1) - y[8 * k % 96:8 * k % 96 + 8]) ** 2
            losses.mean().backward()
            for opt in opts:
                opt.step()
            for sched in scheds:
                sched.step(losses.detach())
            trace.append([sched.get_last_lr() for sched in scheds])
        return trace, scheds

    separate, _ = two_runs(shared=False)
    assert len({lrs[0][0] for lrs in separate}) > 1  # the LR moves
    with pytest.raises(RuntimeError, match=rf"policy '{name}' .* drives a newer PolicyScheduler.*valid: a policy "
                                           rf"instance per scheduler, e.g. make_baseline\('{name}'\) again"):
        two_runs(shared=True)


def test_an_older_scheduler_on_the_optimizer_refuses_its_step_instead_of_writing_its_lrs():
    """Two schedulers on one optimizer, both stepped: the newer owns the LRs, but the older one
    recorded updates at LRs it did not choose and wrote its own at each of its steps' ends, so the
    update after ran at the older policy's LR whenever it was stepped last (silently). It refuses
    its step now, before recording anything, naming the newer scheduler."""
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([w], lr=0.01)
    old = PolicyScheduler(opt, make_baseline("fixed", lr=0.01), horizon=4, updates_per_step=1)
    new = PolicyScheduler(opt, make_baseline("fixed", lr=0.05), horizon=4, updates_per_step=1)
    opt.zero_grad()
    (w * w).sum().backward()
    opt.step()
    new.step(1.0)
    with pytest.raises(RuntimeError, match=r"a newer PolicyScheduler was built on this optimizer.*valid: step the "
                                           r"newest scheduler only"):
        old.step(1.0)
    assert old.last_epoch == 0 and opt.param_groups[0]["lr"] == 0.05


def test_a_construction_that_raised_takes_neither_the_optimizer_nor_the_policy():
    """A scheduler whose construction raised (its object alive in the traceback, as a notebook keeps
    it) is not the newer one: the scheduler built before goes on."""
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([w], lr=0.01)
    policy = make_baseline("cosine", lr=0.01)
    sched = PolicyScheduler(opt, policy, horizon=3, updates_per_step=1)
    try:
        PolicyScheduler(opt, policy, horizon=3, updates_per_step=1, train_loss_fn=lambda: -1.0)
    except ValueError as refused:
        kept = refused.__traceback__  # noqa: F841 - keeps the failed scheduler's frame alive
    opt.zero_grad()
    (w * w).sum().backward()
    opt.step()
    sched.step(1.0)
    assert sched.last_epoch == 1


def test_a_policy_passed_to_a_new_scheduler_leaves_the_old_one_done_or_unused():
    """Starting over with the same policy object (a notebook cell run again, a second run after the
    first finished) is no error: only an older scheduler that still asks the policy is refused."""
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([w], lr=0.01)
    policy = make_baseline("cosine", lr=0.01)
    first = PolicyScheduler(opt, policy, horizon=2, updates_per_step=1)
    for _ in range(3):  # past the horizon: done
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        first.step((w * w).sum().detach())
    assert first.done
    second = PolicyScheduler(opt, policy, horizon=2, updates_per_step=1)
    opt.zero_grad()
    (w * w).sum().backward()
    opt.step()
    first.step(1.0)  # done: the policy is not asked, nothing to refuse
    second.step(1.0)
    assert second.last_epoch == 1 and first.last_epoch == 4


def _overflow_run(optimizer, fused: bool):
    """A GradScaler run whose 2nd update overflows (its loss × 1e6 at a 2**127 scale): the trace
    after every ``sched.step`` and the 'did not run' notes."""
    g = torch.Generator().manual_seed(7)
    X, y = torch.randn(32, 8, generator=g), torch.randint(0, 2, (32,), generator=g)
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 2)
    opt = optimizer(model.parameters(), lr=1e-2, fused=fused)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**127)
    trace = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched = PolicyScheduler(opt, make_baseline("hypergradient"), horizon=HORIZON, updates_per_step=2,
                                lr_init=1e-2)
        for k in range(2 * HORIZON + 1):
            opt.zero_grad()
            losses = torch.nn.functional.cross_entropy(model(X), y, reduction="none")
            scaler.scale(losses.mean() * (1e6 if k == 1 else 1.0)).backward()
            scaler.step(opt)
            scaler.update()
            sched.step(losses.detach())
            trace.append((sched.last_epoch, sched.last_obs.tolist(), sched.get_last_lr()))
    notes = [str(w.message) for w in caught if "did not run" in str(w.message)]
    return trace, notes, model.weight.detach().clone()


@pytest.mark.parametrize("optimizer", [torch.optim.SGD, torch.optim.Adam], ids=["SGD", "Adam"])
def test_an_update_a_fused_optimizer_skips_for_an_overflow_is_not_recorded(optimizer):
    """``fused=True`` optimizers scale for AMP themselves: ``GradScaler.step`` always calls their
    ``step()`` (with ``optimizer.found_inf`` set) and the fused kernel skips the update. That update
    was counted and its inf/NaN gradient observed (NaN features, an LR driven to lr_min). It is
    not recorded, warned once, as the unfused run does. Reference: the ``fused=False`` run."""
    unfused, unfused_notes, w_unfused = _overflow_run(optimizer, fused=False)
    fused, fused_notes, w_fused = _overflow_run(optimizer, fused=True)
    assert unfused[1][0] == unfused[0][0] == 1  # the overflowing update is skipped, not counted
    assert len(unfused_notes) == len(fused_notes) == 1
    assert [epoch for epoch, *_ in fused] == [epoch for epoch, *_ in unfused]
    assert np.isfinite(fused[-1][1]).all()
    if optimizer is torch.optim.SGD:  # the fused SGD kernel computes what the foreach one does
        assert fused == unfused
        assert torch.equal(w_fused, w_unfused)
        return
    for (_, obs_f, lrs_f), (_, obs, lrs) in zip(fused, unfused):  # Adam's fused arithmetic: last bits differ
        np.testing.assert_allclose(obs_f, obs, rtol=1e-5, atol=1e-6)
        assert lrs_f == pytest.approx(lrs, rel=1e-6)
    torch.testing.assert_close(w_fused, w_unfused)


def test_zero_grad_before_sched_step_is_warned_once():
    """``opt.zero_grad()`` (set_to_none) between ``opt.step()`` and ``sched.step(loss)`` left the
    policy zero gradients (norm 0, cosine 0) without a word. Warned once, naming the call order;
    the order the README shows gives no warning."""
    for zero_first in (False, True):
        w = torch.nn.Parameter(torch.ones(3))
        opt = torch.optim.SGD([w], lr=0.01)
        sched = PolicyScheduler(opt, make_baseline("hypergradient"), horizon=HORIZON, updates_per_step=INNER,
                                lr_init=0.01)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(4):
                opt.zero_grad()
                loss = ((w - 2.0) ** 2).sum()
                loss.backward()
                opt.step()
                if zero_first:
                    opt.zero_grad()
                sched.step(loss.detach())
        notes = [str(c.message) for c in caught if "zero gradients" in str(c.message)]
        assert len(notes) == zero_first
        if zero_first:
            assert "zero_grad() ran between optimizer.step() and step(loss)" in notes[0]
            assert "sched.step(loss) right after optimizer.step(), before the next zero_grad()" in notes[0]


def test_zero_grad_keeping_zeros_before_sched_step_is_warned_once_too():
    """``opt.zero_grad(set_to_none=False)`` (or ``model.zero_grad(set_to_none=False)``, as older
    loops write it) between ``opt.step()`` and ``sched.step(loss)`` leaves every ``.grad`` a tensor of
    zeros: the warning above looked for ``None`` only, so the policy observed zero gradients in
    silence. An update whose gradient is exactly zero everywhere is warned of once as well."""
    for zero_first in (False, True):
        w = torch.nn.Parameter(torch.ones(3))
        opt = torch.optim.SGD([w], lr=0.01)
        sched = PolicyScheduler(opt, make_baseline("hypergradient"), horizon=HORIZON, updates_per_step=INNER,
                                lr_init=0.01)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(4):
                opt.zero_grad(set_to_none=False)
                loss = ((w - 2.0) ** 2).sum()
                loss.backward()
                opt.step()
                if zero_first:
                    opt.zero_grad(set_to_none=False)
                sched.step(loss.detach())
        notes = [str(c.message) for c in caught if "zero gradients" in str(c.message)]
        assert len(notes) == zero_first
        if zero_first:
            assert "zero_grad() ran between optimizer.step() and step(loss)" in notes[0]
            assert "sched.step(loss) right after optimizer.step(), before the next zero_grad()" in notes[0]
            assert sched.monitor.acc[0] == 0.0  # what it observed: gradient norms of 0


def _dead_relu_run(order_right: bool = True):
    """A ReLU network whose every hidden unit is dead (biases far below any input) and whose head
    has no bias: its true gradient is exactly 0 at a loss above 0 (MSE to targets of 1)."""
    torch.manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        model[0].bias.fill_(-100.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    sched = PolicyScheduler(opt, make_baseline("hypergradient"), horizon=HORIZON, updates_per_step=INNER,
                            lr_init=0.01)
    X = torch.randn(8, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2 * INNER):
            opt.zero_grad(set_to_none=False)
            losses = (model(X).squeeze(1) - 1.0) ** 2
            losses.mean().backward()
            opt.step()
            if not order_right:
                opt.zero_grad(set_to_none=False)
            sched.step(losses)
    assert all(float(p.grad.abs().max()) == 0.0 for p in model.parameters())  # truly zero
    assert float(losses.detach().mean()) == pytest.approx(1.0)
    return [str(c.message) for c in caught if "zero gradients" in str(c.message)], sched


def test_a_true_gradient_of_zero_at_a_loss_above_zero_is_observed_without_blaming_the_call_order():
    """A dead network's gradient is 0 at a loss above 0; the loop's call order is the README's.
    The warning told it to move its zero_grad() (the audit's case); the step hook's record of the
    gradients optimizer.step() used (untouched since: the same tensors, the same versions) tells
    the true zero apart, and it is observed as the env observes it, without a warning. The same
    network with zero_grad(set_to_none=False) between the two calls is still warned of."""
    notes, sched = _dead_relu_run(order_right=True)
    assert notes == []
    assert sched.last_info["grad_norm"] == 0.0 and sched.last_obs[9] == 0.0  # grad_cos
    notes, _ = _dead_relu_run(order_right=False)
    assert len(notes) == 1 and "zero_grad() ran between optimizer.step() and step(loss)" in notes[0]


def test_an_update_without_any_gradient_is_warned_of_as_such():
    """optimizer.step() with no .grad at all (backward never ran into the parameters) is warned
    of as what it is, not as a zero_grad() in the wrong place."""
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([w], lr=0.01)
    sched = PolicyScheduler(opt, make_baseline("hypergradient"), horizon=HORIZON, updates_per_step=INNER,
                            lr_init=0.01)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            opt.zero_grad()
            loss = ((w.detach() - 2.0) ** 2).sum()  # detached: backward() would raise, so none is called
            opt.step()
            sched.step(loss)
    notes = [str(c.message) for c in caught if "zero gradients" in str(c.message)]
    assert len(notes) == 1
    assert "no parameter the policy's LR trains has a .grad" in notes[0]
    assert "loss.backward() did not reach them" in notes[0] and "ran between" not in notes[0]


def test_a_tiny_gradient_is_no_zero_gradient():
    """The zero test compared the step's sum of gradient norms before and after the update: a
    gradient of norm 1e-20 after one of norm 1 left that sum unchanged in float64, and the
    warning said every .grad was 0. Reference: the gradient itself, 1e-20 · (1, 1)."""
    w = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=1e-3)
    sched = PolicyScheduler(opt, make_baseline("hypergradient"), horizon=HORIZON, updates_per_step=INNER,
                            lr_init=1e-3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for scale in (1.0, 1e-20):
            opt.zero_grad()
            loss = 1.0 + scale * w.sum()
            loss.backward()
            assert float(w.grad.abs().min()) == scale  # the gradient is not 0
            opt.step()
            sched.step(loss.detach())
    assert [str(c.message) for c in caught if "zero gradients" in str(c.message)] == []


class _Keep:
    """A discrete policy that keeps its start LR (the factor 1)."""

    def __init__(self, lr_init):
        self.lr_init = lr_init

    def reset(self, info):
        pass

    def act(self, obs, info):
        from lrgym.settings import DEFAULT_FACTORS

        return list(DEFAULT_FACTORS).index(1.0)


def _frozen_groups():
    torch.manual_seed(8)
    body, head, extra = torch.nn.Linear(4, 4), torch.nn.Linear(4, 1), torch.nn.Linear(4, 1)
    groups = [{"params": body.parameters(), "lr": 0.0}, {"params": head.parameters(), "lr": 0.5},
              {"params": extra.parameters(), "lr": 2.0}]
    return (body, head, extra), groups


def test_a_first_group_at_lr_0_stays_frozen_as_under_lambda_lr():
    """A first parameter group at LR 0 (a frozen backbone) got the policy's LR, as every group did:
    the ratios were taken to the first group, and a ratio to 0 was 1. The reference group is the
    first with a nonzero LR. Reference: torch's ``LambdaLR`` with the constant factor policy LR /
    that group's LR (powers of two: exact), which keeps the zero group at 0."""
    _, groups = _frozen_groups()
    sched = PolicyScheduler(torch.optim.SGD(groups), _Keep(0.25), horizon=HORIZON, updates_per_step=1)
    _, groups = _frozen_groups()
    lambda_lr = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD(groups), lambda epoch: 0.25 / 0.5)
    assert sched.get_last_lr() == lambda_lr.get_last_lr() == [0.0, 0.25, 1.0]
    assert [g["lr"] for g in sched.optimizer.param_groups] == [0.0, 0.25, 1.0]
    assert sched.last_info["lr"] == 0.25  # the policy's LR is the reference group's


def test_a_frozen_first_group_stays_frozen_through_undos_round_trips_and_added_groups():
    """The bold driver (LR moves, steps undone) on a frozen first group: every LR is the policy's
    times the group's ratio to the first group with a nonzero LR (0 for the frozen one), the frozen
    parameters never move (reference: their values at the start), a state_dict round trip keeps
    the LRs, and groups added later follow the same reference (one at LR 0 stays at 0)."""
    (body, head, extra), groups = _frozen_groups()
    opt = torch.optim.SGD(groups)
    X, y = _regression(3)
    X = X[:, :4] / 30.0
    model = torch.nn.Sequential(body, torch.nn.Tanh())

    def loss_of(rows):
        h = model(X[rows])
        return (head(h).squeeze(1) + extra(h).squeeze(1) - y[rows]) ** 2

    sched = PolicyScheduler(opt, make_baseline("bold_driver", lr=0.05), horizon=8, updates_per_step=2,
                            train_loss_fn=lambda: loss_of(slice(0, 64)).mean())
    body_start = [p.detach().clone() for p in body.parameters()]
    late_frozen, late = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    lrs, rejected = set(), 0
    for k in range(16):
        if k == 5:
            opt.add_param_group({"params": [late_frozen], "lr": 0.0})
            opt.add_param_group({"params": [late], "lr": 0.125})
        rows = slice(8 * k % 96, 8 * k % 96 + 8)
        opt.zero_grad()
        losses = loss_of(rows)
        (losses.mean() + (late_frozen.sum() + late.sum()) ** 2).backward()
        opt.step()
        lr_taken = sched.lr
        sched.step(losses.detach())
        if sched.monitor.step_updates == 0:  # a step ended: its info reports the LR it ran at
            assert sched.last_info["lr"] == lr_taken
        lr = sched.lr
        expected = [0.0, lr, lr * 4.0] + ([0.0, lr * 0.25] if k >= 5 else [])
        assert sched.get_last_lr() == pytest.approx(expected, rel=1e-12)
        assert [float(g["lr"]) for g in opt.param_groups] == pytest.approx(expected, rel=1e-12)
        lrs.add(lr)
        rejected += bool(sched.last_info["rejected"]) and sched.monitor.step_updates == 0
        if k == 9:
            state = sched.state_dict()
            sched = PolicyScheduler(opt, make_baseline("bold_driver", lr=0.05), horizon=8, updates_per_step=2,
                                    train_loss_fn=lambda: loss_of(slice(0, 64)).mean())
            sched.load_state_dict(state)
            assert sched.get_last_lr() == pytest.approx(expected, rel=1e-12)
    assert len(lrs) > 1 and rejected > 0  # the LR moved and steps were undone
    for before, p in zip(body_start, body.parameters()):
        assert torch.equal(before, p.detach())
    torch.testing.assert_close(late_frozen.detach(), torch.ones(2), rtol=0, atol=0)


def test_a_compiled_optimizer_step_compiles_as_often_as_under_torchs_own_scheduler():
    """PyTorch's recipe for a compiled optimizer (a tensor LR, ``torch.compile`` around
    ``opt.step()``, the scheduler stepped outside it) compiles the step once whatever LRs the
    scheduler sets. The scheduler's step hooks run inside that compiled call: traced, they
    graph-broke on reading the tensor LR and recompiled at every update (dynamo guarded on each
    ``.grad``'s identity) up to dynamo's recompile limit. Reference: the graphs dynamo compiles for
    the same loop under ``LambdaLR``; and the compiled run sees every update at the eager run's LRs."""
    X, y = _regression()
    X = X / 30.0

    def run(kind, compiled):
        torch._dynamo.reset()
        torch.manual_seed(1)
        model = torch.nn.Linear(5, 1)
        opt = torch.optim.Adam(model.parameters(), lr=torch.tensor(1e-2))
        if kind == "lambda":
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.9 ** k)
        else:
            sched = PolicyScheduler(opt, make_baseline("adam"), horizon=HORIZON, updates_per_step=INNER)
        graphs = []

        def counting_backend(gm, example_inputs):
            graphs.append(gm)
            return gm.forward

        def update():
            opt.step()

        step = torch.compile(update, backend=counting_backend) if compiled else update
        lrs = []
        for k in range(HORIZON * INNER):
            rows = slice(8 * k, 8 * k + 8)
            opt.zero_grad()
            losses = (model(X[rows]).squeeze(1) - y[rows]) ** 2
            losses.mean().backward()
            step()
            sched.step() if kind == "lambda" else sched.step(losses)
            lrs.append(float(opt.param_groups[0]["lr"]))
        return len(graphs), lrs, sched

    reference_graphs, _, _ = run("lambda", compiled=True)
    graphs, lrs, sched = run("policy", compiled=True)
    _, eager_lrs, _ = run("policy", compiled=False)
    assert graphs == reference_graphs
    assert sched.last_epoch == HORIZON * INNER and sched.done
    np.testing.assert_allclose(lrs, eager_lrs, rtol=1e-6)


def test_a_closure_optimizer_records_one_update_per_step_with_the_closures_first_loss():
    """LBFGS runs ``max_iter`` iterations inside one ``opt.step(closure)``: that is one update, told
    with the loss ``step`` returns (the closure's first), and the policy observes the gradient the
    closure's last call left. Reference: the same LBFGS run without a scheduler at the same LRs."""
    X, y = _regression()

    def run(with_sched):
        torch.manual_seed(0)
        model = torch.nn.Linear(5, 1)
        opt = torch.optim.LBFGS(model.parameters(), lr=0.01, max_iter=4, history_size=3)
        calls, firsts = [], []

        def closure():
            opt.zero_grad()
            loss = ((model(X).squeeze(1) - y) ** 2).mean() / 1e3
            loss.backward()
            calls.append(1)
            return loss

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched = (PolicyScheduler(opt, make_baseline("fixed", lr=0.01), horizon=HORIZON, updates_per_step=INNER)
                     if with_sched else None)
        grads = []
        for _ in range(HORIZON * INNER):
            loss = opt.step(closure)
            firsts.append(loss.item())
            grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]).double())
            if sched is not None:
                sched.step(loss)
        return sched, caught, firsts, grads, len(calls), [p.detach().clone() for p in model.parameters()]

    sched, caught, firsts, grads, n_calls, params = run(True)
    _, _, ref_firsts, ref_grads, ref_calls, ref_params = run(False)
    assert any("LBFGS" in str(w.message) for w in caught)  # the policy was made for another rule: named
    assert n_calls == ref_calls > HORIZON * INNER  # several closure calls per step, as without a scheduler
    assert firsts == ref_firsts
    assert all(torch.equal(a, b) for a, b in zip(params, ref_params))
    assert sched.last_epoch == int(sched.last_info["updates"]) == HORIZON * INNER and sched.done
    # the last step's mean minibatch loss is the mean of the losses step() returned in it
    assert float(sched.last_info["batch_loss"]) == pytest.approx(np.mean(firsts[-INNER:]), rel=1e-6)
    # its gradient norm feature is the last closure call's gradient
    prev, last = ref_grads[-2].numpy(), ref_grads[-1].numpy()
    cos = float(prev @ last / np.linalg.norm(prev) / np.linalg.norm(last))
    assert float(sched.last_info["grad_cos"]) == pytest.approx(cos, rel=1e-5, abs=1e-6)


def test_a_warm_up_by_a_torch_scheduler_then_the_policy_runs_the_policys_lrs():
    """The hand-off README describes: a LambdaLR warm-up stepped to its end, then a PolicyScheduler
    built with lr_init= the LR reached and stepped alone. Reference: the same policy from a copy of
    the warmed-up model on a fresh optimizer at that LR (no warm-up scheduler ever attached)."""
    import copy

    X, y = _regression()

    def policy_run(model, opt):
        sched = PolicyScheduler(opt, make_baseline("bold_driver"), horizon=HORIZON, updates_per_step=INNER,
                                model=model, lr_init=1e-4)
        lrs = []
        for _ in range(HORIZON * INNER):
            opt.zero_grad()
            losses = (model(X).squeeze(1) - y) ** 2
            losses.mean().backward()
            opt.step()
            sched.step(losses)
            lrs.append(opt.param_groups[0]["lr"])
        return lrs, [p.detach().clone() for p in model.parameters()]

    torch.manual_seed(0)
    model = torch.nn.Linear(5, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    warm = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: min(1.0, (k + 1) / 4))
    for _ in range(5):
        opt.zero_grad()
        ((model(X).squeeze(1) - y) ** 2).mean().backward()
        opt.step()
        warm.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-4)
    ref_model = copy.deepcopy(model)
    lrs, params = policy_run(model, opt)
    ref_lrs, ref_params = policy_run(ref_model, torch.optim.SGD(ref_model.parameters(), lr=1e-4))
    assert lrs == ref_lrs and len(set(lrs)) > 1
    assert all(torch.equal(a, b) for a, b in zip(params, ref_params))
