"""PolicyScheduler in PyTorch Lightning (lrgym.torch.lightning.PolicySchedulerCallback).

The reference is the documented hand loop (lrgym.torch.scheduler's module docstring):
``opt.zero_grad(); losses.mean().backward(); opt.step(); sched.step(losses)`` on the same model
init, data, seed and policy. A Lightning ``Trainer`` with the callback must run every update at
the LR that loop runs it at, to the bit (both sides are torch's same float32 arithmetic), also
for the bold driver, whose undone steps put the parameters and optimizer state back, and also
when the run is resumed from Lightning's own checkpoint.
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

from lrgym.baselines.registry import make_baseline  # noqa: E402
from lrgym.torch import PolicyScheduler  # noqa: E402
from lrgym.torch.lightning import PolicySchedulerCallback  # noqa: E402

torch.set_num_threads(1)
HORIZON, INNER, BATCH, BATCHES = 8, 3, 8, 4  # 24 updates, 4 batches an epoch: 6 epochs
STEPS = HORIZON * INNER
#: start LRs: the bold driver's is high enough that some of its steps raise the loss and are undone
LR_INIT = {"plateau": 0.05, "bold_driver": 0.6}


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


def hand_loop_lrs(policy_name: str) -> list[float]:
    """The LR of every update in the documented hand loop."""
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    sched = PolicyScheduler(opt, make_baseline(policy_name), horizon=HORIZON, updates_per_step=INNER,
                            lr_init=LR_INIT[policy_name], model=net)
    lrs = []
    for k in range(STEPS):
        x, y = _batches()[k % BATCHES]
        opt.zero_grad()
        losses = _losses(net, x, y)
        losses.mean().backward()
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(losses)
    return lrs


class Regression(L.LightningModule):
    def __init__(self, scheduler_in_configure: str | None = None):
        super().__init__()
        self.net = _net()
        self.lrs: list[float] = []
        self.scheduler_in_configure = scheduler_in_configure

    def training_step(self, batch, batch_idx):
        x, y = batch
        losses = _losses(self.net, x, y)
        self.lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])  # the LR this update runs at
        return {"loss": losses.mean(), "losses": losses}

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.05)
        if self.scheduler_in_configure is None:
            return opt
        sched = PolicyScheduler(opt, make_baseline(self.scheduler_in_configure), horizon=HORIZON,
                                updates_per_step=INNER, lr_init=0.05)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _loader(batch=BATCH):
    X, y = _data()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=batch, shuffle=False)


def _trainer(tmp_path, callbacks, max_steps=STEPS):
    return L.Trainer(max_steps=max_steps, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                     enable_model_summary=False, enable_checkpointing=True, default_root_dir=tmp_path,
                     callbacks=callbacks)


def lightning_lrs(tmp_path, policy_name: str, ckpt_path=None, callbacks=(), batch=BATCH):
    model = Regression()
    callback = PolicySchedulerCallback(make_baseline(policy_name), horizon=HORIZON, updates_per_step=INNER,
                                       lr_init=LR_INIT[policy_name])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(num_workers|does not have many workers).*")
        _trainer(tmp_path, [callback, *callbacks]).fit(model, _loader(batch), ckpt_path=ckpt_path)
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
    expected = hand_loop_lrs(policy_name)
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
    """Gradient accumulation (several batches an update) and a PolicyScheduler also returned from
    configure_optimizers are refused when training starts, naming the setting."""
    callback = PolicySchedulerCallback(make_baseline("plateau"), horizon=HORIZON, updates_per_step=INNER)
    trainer = L.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, accumulate_grad_batches=2, callbacks=[callback])
    with pytest.raises(ValueError, match="accumulate_grad_batches=2"):
        trainer.fit(Regression(), _loader())
    callback = PolicySchedulerCallback(make_baseline("plateau"), horizon=HORIZON, updates_per_step=INNER)
    with pytest.raises(ValueError, match="return only the optimizer"):
        _trainer(tmp_path, [callback]).fit(Regression(scheduler_in_configure="plateau"), _loader())
    with pytest.raises(TypeError, match="optimizer"):
        PolicySchedulerCallback(make_baseline("plateau"), horizon=HORIZON, optimizer=None)


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
