"""PolicyScheduler in PyTorch Lightning (lrgym.torch.lightning.PolicySchedulerCallback).

The reference is the documented hand loop (lrgym.torch.scheduler's module docstring):
``opt.zero_grad(); losses.mean().backward(); opt.step(); sched.step(losses)`` on the same model
init, data, seed and policy. A Lightning ``Trainer`` with the callback must run every update at
the LR that loop runs it at, to the bit (both sides are torch's same float32 arithmetic), also
for the bold driver, whose undone steps put the parameters and optimizer state back, and also
when the run is resumed from Lightning's own checkpoint. With gradient accumulation (and manual
optimization) the reference is that loop with accumulation: ``opt.zero_grad()``, k micro-batches'
``(losses.mean() / k).backward()``, ``opt.step()``, ``sched.step(the k micro-batches' losses)``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")

from lightning_callbacks import KeepGradients, RecordTrainLoss, ResumableBatches, SaveAfterBatch  # noqa: E402

from lrgym.baselines.registry import make_baseline  # noqa: E402
from lrgym.torch import PolicyScheduler  # noqa: E402
from lrgym.torch.lightning import HELD_KEY, PolicySchedulerCallback  # noqa: E402

torch.set_num_threads(1)
HORIZON, INNER, BATCH, BATCHES = 8, 3, 8, 4  # 24 updates, 4 batches an epoch: 6 epochs
STEPS = HORIZON * INNER
#: start LRs: the bold driver's is high enough that some of its steps raise the loss and are undone;
#: the multiplicative hypergradient's LR follows the cosine between consecutive updates' gradients
LR_INIT = {"plateau": 0.05, "bold_driver": 0.6, "hypergradient_mult": 0.01}


def _data():
    g = torch.Generator().manual_seed(7)
    X = torch.randn(BATCH * BATCHES, 5, generator=g)
    y = X @ torch.randn(5, 1, generator=g) + 0.3 * torch.randn(BATCH * BATCHES, 1, generator=g)
    return X, y


def _net():
    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def _losses(net, x, y):
    return ((net(x) - y) ** 2).mean(dim=1)  # per-example squared error


def _batches():
    X, y = _data()
    return [(X[i:i + BATCH], y[i:i + BATCH]) for i in range(0, len(X), BATCH)]


def hand_loop_lrs(policy_name: str, accumulate: int = 1, per_example: bool = True):
    """The LR of every (micro-)batch in the documented hand loop, and its scheduler. With
    ``accumulate`` = k, each epoch's batches go in groups of k (the epoch's last group the rest,
    as Lightning steps on an epoch's last batch), one update a group: every micro-batch's loss
    divided by k (as Lightning divides it) back-propagated, one ``opt.step()``, then
    ``sched.step`` with the group's losses, per-example or the undivided means."""
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    sched = PolicyScheduler(opt, make_baseline(policy_name), horizon=HORIZON, updates_per_step=INNER,
                            lr_init=LR_INIT[policy_name], model=net)
    batches = _batches()
    groups = [batches[i:i + accumulate] for i in range(0, BATCHES, accumulate)]
    lrs = []
    for k in range(STEPS):
        opt.zero_grad()
        told = []
        for x, y in groups[k % len(groups)]:
            losses = _losses(net, x, y)
            (losses.mean() / accumulate).backward()
            lrs.append(opt.param_groups[0]["lr"])
            told.append(losses if per_example else losses.mean())
        opt.step()
        sched.step(told[0] if len(told) == 1 else told)
    return lrs, sched


class Regression(L.LightningModule):
    def __init__(self, scheduler_in_configure: str | None = None, per_example: bool = True):
        super().__init__()
        self.net = _net()
        self.lrs: list[float] = []
        self.scheduler_in_configure = scheduler_in_configure
        self.per_example = per_example

    def training_step(self, batch, batch_idx):
        x, y = batch
        losses = _losses(self.net, x, y)
        self.lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])  # the LR this update runs at
        return {"loss": losses.mean(), "losses": losses} if self.per_example else losses.mean()

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.05)
        if self.scheduler_in_configure is None:
            return opt
        sched = PolicyScheduler(opt, make_baseline(self.scheduler_in_configure), horizon=HORIZON,
                                updates_per_step=INNER, lr_init=0.05)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class ManualRegression(Regression):
    """Manual optimization (Lightning's documented pattern), accumulating by hand: every
    ``accumulate``-th batch and the epoch's last steps the optimizer; ``training_step`` returns the
    undivided losses, or None (``returns=False``)."""

    def __init__(self, accumulate: int = 1, returns: bool = True):
        super().__init__()
        self.automatic_optimization = False
        self.accumulate, self.returns = accumulate, returns

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        if batch_idx % self.accumulate == 0:
            opt.zero_grad()
        x, y = batch
        losses = _losses(self.net, x, y)
        self.lrs.append(opt.param_groups[0]["lr"])
        self.manual_backward(losses.mean() / self.accumulate)
        if (batch_idx + 1) % self.accumulate == 0 or batch_idx + 1 == self.trainer.num_training_batches:
            opt.step()
        return {"loss": losses.mean(), "losses": losses} if self.returns else None


def _same_info(a: dict, b: dict) -> bool:
    """Two infos hold the same keys and values, to the bit (NaN, a value not reported, equals NaN)."""
    return a.keys() == b.keys() and all(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a)


def _loader(batch=BATCH):
    X, y = _data()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=batch, shuffle=False)


def _trainer(tmp_path, callbacks, max_steps=STEPS, accumulate=1):
    return L.Trainer(max_steps=max_steps, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                     enable_model_summary=False, enable_checkpointing=True, default_root_dir=tmp_path,
                     callbacks=callbacks, accumulate_grad_batches=accumulate)


def lightning_lrs(tmp_path, policy_name: str, ckpt_path=None, callbacks=(), batch=BATCH, accumulate=1, model=None):
    """The LR of every (micro-)batch of a Lightning run of ``model`` (default: :class:`Regression`)
    with the callback, and the callback."""
    model = Regression() if model is None else model
    callback = PolicySchedulerCallback(make_baseline(policy_name), horizon=HORIZON, updates_per_step=INNER,
                                       lr_init=LR_INIT[policy_name])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(num_workers|does not have many workers).*")
        _trainer(tmp_path, [callback, *callbacks], accumulate=accumulate).fit(model, _loader(batch),
                                                                              ckpt_path=ckpt_path)
    return model.lrs, callback


def test_a_policy_scheduler_is_a_torch_lr_scheduler():
    """Code that checks ``isinstance(s, LRScheduler)`` (Lightning's configure_optimizers, torch's
    SequentialLR) sees one, and its construction still neither wraps ``optimizer.step`` nor steps:
    ``last_epoch`` 0, the policy's first LR set, ``state_dict`` the scheduler's own (no ``__dict__``
    dump: no optimizer, no policy object)."""
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    sched = PolicyScheduler(opt, make_baseline("plateau"), horizon=HORIZON, updates_per_step=INNER, lr_init=0.05)
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler)
    assert not hasattr(opt.step, "_wrapped_by_lr_sched")
    assert sched.last_epoch == 0
    assert sched.get_last_lr() == [opt.param_groups[0]["lr"]]
    state = sched.state_dict()
    assert "optimizer" not in state and "policy" in state and not any(k.startswith("_") for k in state)


@pytest.mark.parametrize("policy_name", ["plateau", "bold_driver"])
def test_a_lightning_run_takes_the_hand_loops_lrs(tmp_path, policy_name):
    """Every update of the Lightning run runs at the hand loop's LR; the policy changed the LR
    (else the comparison would say nothing); the bold driver undid steps (it lowers the LR by its
    factor 0.7 after a rejected step), which inside Lightning restores the parameters and the
    optimizer state as in the loop: its later LRs depend on the restored run's losses."""
    expected, _ = hand_loop_lrs(policy_name)
    lrs, callback = lightning_lrs(tmp_path, policy_name)
    assert len(set(expected)) > 1
    assert lrs == expected
    assert callback.scheduler.last_epoch == STEPS and callback.scheduler.done
    if policy_name == "bold_driver":
        assert any(math.isclose(b, a * 0.7) for a, b in zip(lrs, lrs[1:]))  # its factor down


def test_a_run_resumed_from_lightnings_checkpoint_continues_the_lrs(tmp_path):
    """Lightning saves the callback's state (the scheduler's) in its checkpoints; a new Trainer,
    model and callback resumed from the checkpoint after update 8 (inside the policy's third
    step, whose undo snapshot the state holds) run the uninterrupted run's remaining LRs to the
    bit, bold driver's rejections included (they depend on the losses, so on the restored run).

    One batch an epoch (the whole data): resumed from an end-of-epoch checkpoint of 4 batches an
    epoch, Lightning 2.6 gave the first two updates after the restart the epoch's first batch
    (their losses showed it), so the data, not the scheduler, would differ from the uninterrupted run."""
    every_epoch = L.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_epochs=1, save_top_k=-1)
    whole, _ = lightning_lrs(tmp_path, "bold_driver", callbacks=[every_epoch], batch=BATCH * BATCHES)
    ckpt = tmp_path / "ckpt" / "epoch=7-step=8.ckpt"
    assert ckpt.exists(), sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    resumed, callback = lightning_lrs(tmp_path / "resumed", "bold_driver", ckpt_path=ckpt, batch=BATCH * BATCHES)
    assert any(math.isclose(b, a * 0.7) for a, b in zip(whole[8:], whole[9:]))  # a rejection after the resume
    assert resumed == whole[8:]
    assert callback.scheduler.last_epoch == STEPS


def test_a_policy_scheduler_in_configure_optimizers_names_the_callback(tmp_path):
    """Lightning's scheduler loop calls ``step()`` without the update's loss: the scheduler refuses
    it naming the callback (it used to be refused by Lightning with advice to override
    ``lr_scheduler_step``, which gets no loss either)."""
    with pytest.raises(TypeError, match="PolicySchedulerCallback"):
        _trainer(tmp_path, []).fit(Regression(scheduler_in_configure="plateau"), _loader())


def test_the_callback_refuses_what_it_cannot_drive(tmp_path):
    """A PolicyScheduler also returned from configure_optimizers is refused when training starts,
    naming the setting, and so is an optimizer or model passed to the callback."""
    callback = PolicySchedulerCallback(make_baseline("plateau"), horizon=HORIZON, updates_per_step=INNER)
    with pytest.raises(ValueError, match="return only the optimizer"):
        _trainer(tmp_path, [callback]).fit(Regression(scheduler_in_configure="plateau"), _loader())
    with pytest.raises(TypeError, match="optimizer"):
        PolicySchedulerCallback(make_baseline("plateau"), horizon=HORIZON, optimizer=None)


@pytest.mark.parametrize("policy_name", ["hypergradient_mult", "bold_driver"])
def test_gradient_accumulation_takes_the_hand_loops_lrs(tmp_path, policy_name):
    """``Trainer(accumulate_grad_batches=3)`` over 4 batches an epoch (updates of 3 micro-batches and
    of the epoch's last 1): every micro-batch runs at the LR of the hand loop with accumulation, the
    scheduler is told once per update (``last_epoch``: updates, not micro-batches), with the
    update's micro-batches' losses (the policy's last observation and info, its loss level
    included, are the loop's to the bit) and the update's accumulated gradient (the hypergradient
    policy's LR follows the cosine between consecutive updates' gradients), and the bold driver's
    undone steps undo accumulated updates as in the loop. It used to be refused when training
    started."""
    expected, hand = hand_loop_lrs(policy_name, accumulate=3)
    lrs, callback = lightning_lrs(tmp_path, policy_name, accumulate=3)
    assert len(set(expected)) > 1 and len(expected) == STEPS // 2 * 4  # 2 updates an epoch of 4 batches
    assert lrs == expected
    assert callback.scheduler.last_epoch == STEPS and callback.scheduler.done
    assert _same_info(callback.scheduler.last_info, hand.last_info)
    assert callback.scheduler.last_obs.tobytes() == hand.last_obs.tobytes()
    if policy_name == "bold_driver":
        assert any(math.isclose(b, a * 0.7) for a, b in zip(lrs, lrs[1:]))  # its factor down


def test_a_scalar_loss_is_told_undivided_when_accumulating(tmp_path):
    """A ``training_step`` returning only its loss: Lightning hands ``on_train_batch_end`` the loss
    divided by ``accumulate_grad_batches``, and the callback tells the scheduler the loss
    ``training_step`` returned (times 3 again: within float32 rounding of it), so the training loss
    the policy is shown is the loop's undivided one, not a third of it. The LRs are the loop's
    (the bold driver compares the losses)."""
    expected, hand = hand_loop_lrs("bold_driver", accumulate=3, per_example=False)
    lrs, callback = lightning_lrs(tmp_path, "bold_driver", accumulate=3, model=Regression(per_example=False))
    assert lrs == expected
    assert callback.scheduler.last_epoch == STEPS
    told, loop = callback.scheduler.last_info["train_loss"], hand.last_info["train_loss"]
    assert math.isclose(told, loop, rel_tol=1e-6), (told, loop)


@pytest.mark.parametrize("accumulate", [1, 3])
def test_manual_optimization_takes_the_hand_loops_lrs(tmp_path, accumulate):
    """Manual optimization: the callback tells the losses ``training_step`` returned since the last
    update after the batch whose ``training_step`` stepped the optimizer, so a module stepping every
    batch runs at the hand loop's LRs, and one accumulating by hand (stepping every 3rd batch and at
    the epoch's end) at the LRs of the loop with accumulation, the bold driver's undone steps too."""
    expected, hand = hand_loop_lrs("bold_driver", accumulate=accumulate)
    lrs, callback = lightning_lrs(tmp_path, "bold_driver", model=ManualRegression(accumulate))
    assert lrs == expected
    assert callback.scheduler.last_epoch == STEPS
    assert _same_info(callback.scheduler.last_info, hand.last_info)
    assert any(math.isclose(b, a * 0.7) for a, b in zip(lrs, lrs[1:]))


def test_manual_optimization_without_a_returned_loss_is_refused(tmp_path):
    """A manual ``training_step`` that steps the optimizer and returns no loss leaves the callback
    nothing to tell: a ValueError naming the batch and saying to return the loss (it used to be
    skipped in silence, so the policy never acted and the LR stayed the first one)."""
    with pytest.raises(ValueError, match=r"batch 0 .*returned None.*valid: return the loss from training_step"):
        lightning_lrs(tmp_path, "plateau", model=ManualRegression(returns=False))


def test_lrgym_torch_does_not_import_lightning():
    """``lrgym.torch`` and a PolicyScheduler stay free of Lightning (an optional extra): only
    ``lrgym.torch.lightning`` imports it."""
    script = """
import json, sys, torch
from lrgym.torch import PolicyScheduler
from lrgym.baselines.registry import make_baseline
opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.01)
PolicyScheduler(opt, make_baseline("plateau"), horizon=2, updates_per_step=1)
before = [m for m in ("lightning", "pytorch_lightning") if m in sys.modules]
import lrgym.torch.lightning
print(json.dumps([before, "lightning" in sys.modules]))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[], True]


@pytest.mark.parametrize(("policy_name", "saved_after"), [("hypergradient_mult", 4), ("bold_driver", 8)])
def test_a_checkpoint_between_micro_batches_keeps_the_updates_losses(tmp_path, policy_name, saved_after):
    """Lightning saves checkpoints between an update's micro-batches (``trainer.save_checkpoint``
    from a callback, ``OnExceptionCheckpoint`` on an interrupt, a ``val_check_interval`` not a
    multiple of ``accumulate_grad_batches``) and resumes there, at the update's next micro-batch
    (with a resumable loader). The callback's state holds the losses of the update's micro-batches
    run before the checkpoint, so the resumed run tells the scheduler the whole update's losses:
    the training loss the policy observes after every batch and the LRs are the uninterrupted
    run's, to the bit. ``accumulate_grad_batches=2``, saved after the first micro-batch of update
    3 (which completes the policy's first step) or of update 5. It used to resume without them:
    the update's observed loss was its later micro-batch's alone."""
    path = tmp_path / "mid_update.ckpt"

    def fit(callbacks, ckpt_path=None):
        model = Regression()
        policy = PolicySchedulerCallback(make_baseline(policy_name), horizon=HORIZON, updates_per_step=INNER,
                                         lr_init=LR_INIT[policy_name])
        record = RecordTrainLoss(policy)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*(num_workers|does not have many workers).*")
            _trainer(tmp_path, [policy, KeepGradients(), *callbacks, record], accumulate=2).fit(
                model, ResumableBatches(_batches()), ckpt_path=ckpt_path)
        return model.lrs, record.train_losses, policy

    whole, whole_losses, _ = fit([SaveAfterBatch(saved_after, path)])
    resumed, resumed_losses, policy = fit([], ckpt_path=path)
    assert len(set(whole)) > 1 and len(resumed) == len(whole) - saved_after - 1
    assert resumed_losses == whole_losses[saved_after + 1:]
    assert resumed == whole[saved_after + 1:]
    assert policy.scheduler.last_epoch == STEPS
    saved = torch.load(path, weights_only=False)["callbacks"]["PolicySchedulerCallback"]
    assert len(saved[HELD_KEY]) == 1 and len(saved[HELD_KEY][0]) == 1  # one process, one micro-batch held


def test_a_scalar_loss_multiplied_back_is_within_one_float32_step():
    """The documented bound of a ``"loss"`` alone under ``accumulate_grad_batches=k``: Lightning
    hands the callback ``loss / k`` (it keeps no undivided copy: its closure divides what
    ``training_step`` returned before handing it on), and the callback's ``(loss / k) * k`` is the
    float32 loss itself when k is a power of 2, and otherwise at most one float32 step from it
    (the spacing above it, ``torch.nextafter``), over 200,000 losses from 1e-9 to 5e8; for k = 3
    many are one step off (else the caveat would be moot). ``"losses"`` are told as returned."""
    from lrgym.torch.lightning import _returned_losses

    g = torch.Generator().manual_seed(0)
    loss = torch.exp(torch.empty(200_000, dtype=torch.float64).uniform_(-20, 20, generator=g)).float()
    step = torch.nextafter(loss, torch.tensor(math.inf)) - loss
    for k in range(1, 17):
        told = _returned_losses({"loss": loss / k}, k)
        assert told.dtype == torch.float32
        off = (told - loss).abs()
        assert bool((off <= step).all()), k
        if k & (k - 1) == 0:
            assert torch.equal(told, loss), k
    assert int(((_returned_losses({"loss": loss / 3}, 3) - loss) != 0).sum()) > 1000
