"""A Lightning DDP run of PolicySchedulerCallback for test_lightning_ddp.py, run as a script::

    python lightning_ddp_worker.py RUN.json

The script is what a user runs: ``Trainer(strategy="ddp", devices=2, accelerator="cpu")`` (gloo,
on 127.0.0.1), whose own launcher starts rank 1 by running this script again (Lightning's
subprocess launcher); rank 0 waits for it before it exits. ``RUN.json`` holds ``{"folder": path}``,
where each rank saves ``rank<r>.pt`` and the checkpoints go.

Every rank runs, in order:

* the plateau policy on the validation loss, ``val_fn`` measuring this rank's share of the
  validation rows (the scheduler averages the shares over the ranks);
* the bold driver (which undoes steps), with a ``ModelCheckpoint`` every epoch;
* the bold driver again, a new Trainer, model and callback resumed from its checkpoint after
  update :data:`RESUME_STEP` (saved by rank 0, read by both);
* the bold driver with ``accumulate_grad_batches=``:data:`ACCUMULATE` (from :data:`ACCUMULATE_LR_INIT`),
  saving a checkpoint after micro-batch :data:`MID_BATCH`, the first of its update;
* that run resumed from that checkpoint (its loader is not resumable: the data differs after it),
  recording the callback's held losses once training started;
* the accumulating bold driver again, the :data:`EXACT` runs: on resumable loaders (each rank its
  own rows, ``use_distributed_sampler=False``), keeping every rank's gradients in the checkpoints
  (``KeepGradients``), validating every :data:`VAL_EVERY` micro-batches with a ``ModelCheckpoint``
  after each validation (Lightning's own checkpoints, between micro-batches or at an update's end
  as the count falls), and the run resumed from two of them (:data:`EXACT_SAVES`): with nothing
  left to differ, the resumed runs must be the uninterrupted one to the bit;
* lightning_two_ranks.py's fit under ``"ddp"`` (the reference of the test's ``ddp_spawn`` run).

For each: the LR of every (micro-)batch, the dataset rows the rank trained on at every (micro-)batch (the
``DistributedSampler`` Lightning puts in), the final parameters and the scheduler's
``state_dict()``. The data, model and policies are defined here and imported by the test, whose
one-process reference trains on the global batches (every rank's rows of an update, in rank
order) with the documented hand loop.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import warnings
from pathlib import Path

import torch

WORLD = 2
HORIZON, INNER = 6, 4  # 24 updates
BATCH, BATCHES = 4, 4  # per rank: 4 rows a batch, 4 batches an epoch (the sampler's share of 32 rows)
ROWS = WORLD * BATCH * BATCHES
STEPS = HORIZON * INNER
RESUME_STEP = 8  # the end of epoch 2: the checkpoint "epoch=1-step=8.ckpt"
ACCUMULATE = 2  # the accumulating run's micro-batches an update (2 updates an epoch)
ACCUMULATE_LR_INIT = 1.5  # its bold driver's start LR: high enough that some accumulated updates are undone
MID_BATCH = 6  # the accumulating run saves "mid_update.ckpt" after this micro-batch, its update's first
VAL_EVERY = 3  # the exact run validates (and checkpoints) after micro-batches 2, 5, 8, 11, ... (val_check_interval)
#: the exact run's checkpoints it is resumed from: micro-batch -> ModelCheckpoint's file; after micro-batch 5
#: (update 3's last, in the middle of epoch 1) and after micro-batch 8 (update 5's first, epoch 2's first)
EXACT_SAVES = {5: "epoch=1-step=3.ckpt", 8: "epoch=2-step=4.ckpt"}
#: the exact runs: the uninterrupted one, then one resumed from each of its checkpoints
EXACT = ["exact", *(f"exact_from_{batch}" for batch in EXACT_SAVES)]
FEATURES = 5
#: policy name -> (make_baseline overrides, lr_init, whether val_fn is given)
POLICIES = {"plateau": ({"lr": 0.5, "patience": 0, "threshold": 0.05, "monitor": "val_loss"}, 0.5, True),
            "bold_driver": ({}, 0.6, False)}


def data():
    """(X, y, index) of the training rows and (X, y) of the validation rows, float64; the noise of
    odd rows (rank 1's under the sampler) is 4 times the even rows', so the ranks' losses differ."""
    g = torch.Generator().manual_seed(7)
    w = torch.randn(FEATURES, 1, generator=g, dtype=torch.float64)

    def rows(n):
        X = torch.randn(n, FEATURES, generator=g, dtype=torch.float64)
        scale = 0.1 * (1 + 3 * (torch.arange(n) % 2)).to(torch.float64).unsqueeze(1)
        return X, torch.tanh(X @ w) + scale * torch.randn(n, 1, generator=g, dtype=torch.float64)

    X, y = rows(ROWS)
    return (X, y, torch.arange(ROWS)), rows(16)


def net():
    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Linear(FEATURES, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()


def losses_of(model, x, y):
    return ((model(x) - y) ** 2).mean(dim=1)  # per-example squared error


def val_loss(model, X, y) -> float:
    return losses_of(model, X, y).mean().item()


def main(run: dict) -> None:
    import lightning.pytorch as L
    import torch.distributed as dist
    from lightning.pytorch.strategies import DDPStrategy

    from lightning_callbacks import KeepGradients, RecordTrainLoss, ResumableBatches, SaveAfterBatch
    from lightning_two_ranks import only_the_callbacks_warnings, report, two_rank_fit

    from lrgym.baselines.registry import make_baseline
    from lrgym.torch.lightning import HELD_KEY, PolicySchedulerCallback

    torch.set_num_threads(1)
    folder = Path(run["folder"])
    (X, y, index), (X_val, y_val) = data()

    class Regression(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = net()
            self.lrs, self.seen, self.losses = [], [], []

        def training_step(self, batch, batch_idx):
            x, target, rows = batch
            self.lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])
            self.seen.append(rows.tolist())
            losses = losses_of(self.net, x, target)
            self.losses.append(losses.detach().clone())
            return {"loss": losses.mean(), "losses": losses}

        def validation_step(self, batch, batch_idx):
            return losses_of(self.net, batch[0], batch[1]).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    class HeldAtStart(L.Callback):  # the policy callback's held losses once training started (resumed)
        def __init__(self, policy):
            self.policy, self.held = policy, None

        def on_train_start(self, trainer, pl_module):
            self.held = self.policy.state_dict().get(HELD_KEY)

    def fit(name, ckpt_dir=None, ckpt_path=None, accumulate=1, lr_init=None, save_after=None, exact=False):
        overrides, default_lr_init, with_val = POLICIES[name]
        lr_init = default_lr_init if lr_init is None else lr_init
        model = Regression()
        rank_share = None

        def my_val_share():  # this rank's share of the validation rows, as a DistributedSampler splits them
            return val_loss(model.net, X_val[rank_share], y_val[rank_share])

        callback = PolicySchedulerCallback(make_baseline(name, **overrides), horizon=HORIZON, updates_per_step=INNER,
                                           lr_init=lr_init, **({"val_fn": my_val_share} if with_val else {}))
        held_at_start, observed = HeldAtStart(callback), RecordTrainLoss(callback)
        callbacks = [callback, held_at_start, observed, *([KeepGradients()] if exact else [])]
        if save_after is not None:
            callbacks.append(SaveAfterBatch(save_after, folder / "mid_update.ckpt"))
        if ckpt_dir is not None:
            callbacks.append(L.callbacks.ModelCheckpoint(dirpath=ckpt_dir, every_n_epochs=1, save_top_k=-1))
        validating = {"val_check_interval": VAL_EVERY, "check_val_every_n_epoch": None} if exact else {}
        trainer = L.Trainer(
            strategy=DDPStrategy(process_group_backend="gloo", timeout=datetime.timedelta(seconds=60)),
            accelerator="cpu", devices=WORLD, max_steps=STEPS, logger=False, enable_progress_bar=False,
            enable_model_summary=False, enable_checkpointing=ckpt_dir is not None, default_root_dir=folder,
            callbacks=callbacks, accumulate_grad_batches=accumulate, use_distributed_sampler=not exact,
            num_sanity_val_steps=0, **validating)
        rank_share = slice(trainer.global_rank, None, WORLD)
        if exact:  # this rank's rows (those the sampler would give it, unshuffled), resumable mid-epoch
            mine = index[rank_share]
            loader = ResumableBatches((X[rows], y[rows], rows) for rows in mine.split(BATCH))
            val_loader = torch.utils.data.DataLoader(  # this rank's share, one batch
                torch.utils.data.TensorDataset(X_val[rank_share], y_val[rank_share]), batch_size=len(X_val))
        else:
            loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y, index), batch_size=BATCH)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*(num_workers|does not have many workers).*")
            trainer.fit(model, loader, *([val_loader] if exact else []), ckpt_path=ckpt_path)
        return trainer, {"lrs": model.lrs, "seen": model.seen, "losses": model.losses,
                         "observed": observed.train_losses, "held_at_start": held_at_start.held,
                         "params": [p.detach().clone() for p in model.parameters()],
                         "state": callback.scheduler.state_dict(), "last_epoch": callback.scheduler.last_epoch}

    out = {}
    first, out["plateau"] = fit("plateau")  # its launcher, on rank 0, started rank 1 (later Trainers reuse it)
    _, out["bold_driver"] = fit("bold_driver", ckpt_dir=folder / "ckpt")
    _, out["resumed"] = fit("bold_driver", ckpt_path=folder / "ckpt" / f"epoch=1-step={RESUME_STEP}.ckpt")
    _, out["accumulate"] = fit("bold_driver", accumulate=ACCUMULATE, lr_init=ACCUMULATE_LR_INIT, save_after=MID_BATCH)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*dataloader is not resumable.*")
        _, out["mid_resumed"] = fit("bold_driver", ckpt_path=folder / "mid_update.ckpt", accumulate=ACCUMULATE,
                                    lr_init=ACCUMULATE_LR_INIT)
    exact = {"accumulate": ACCUMULATE, "lr_init": ACCUMULATE_LR_INIT, "exact": True}
    trainer, out["exact"] = fit("bold_driver", ckpt_dir=folder / "exact_ckpt", **exact)
    out["exact_checkpoints"] = sorted(path.name for path in (folder / "exact_ckpt").iterdir())
    for file, name in zip(EXACT_SAVES.values(), EXACT[1:]):
        trainer, out[name] = fit("bold_driver", ckpt_path=folder / "exact_ckpt" / file, **exact)
    with warnings.catch_warnings(record=True) as caught:  # the "ddp" side of test_lightning_ddp's ddp_spawn test
        only_the_callbacks_warnings()
        fitted = two_rank_fit("popen")
        out["two_ranks"] = report(*fitted) if fitted[0].global_rank == 0 else None
    out["two_ranks_warnings"] = [str(w.message) for w in caught]
    out["world"] = dist.get_world_size()
    torch.save(out, folder / f"rank{trainer.global_rank}.pt")
    trainer.strategy.barrier()
    children = first.strategy.launcher.procs if trainer.global_rank == 0 else []
    assert trainer.global_rank > 0 or len(children) == WORLD - 1, children
    for child in children:  # rank 0 exits after rank 1: the test's run ends with every process it started
        child.wait(timeout=60)


if __name__ == "__main__":
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # gloo's connections on the loopback
    with open(sys.argv[1]) as f:
        main(json.load(f))
