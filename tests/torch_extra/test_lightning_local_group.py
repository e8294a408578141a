"""PolicySchedulerCallback with ``process_group="local"`` inside ``torch.distributed``.

``"local"`` (:data:`lrgym.torch._distributed.LOCAL`) gives each rank its own schedule and runs no
collective. The callback's own collective, the gathering of every rank's held losses when a
checkpoint is saved (:data:`lrgym.torch.lightning.HELD_KEY`), took the scheduler's
``process_group`` for a group: under ``torch.distributed`` every checkpoint's ``state_dict``
raised ``AttributeError: 'str' object has no attribute 'size'`` (torch's ``get_world_size("local")``).
The reference is the same run outside ``torch.distributed``, where ``"local"`` is the one process's
schedule: the LRs, the checkpoint's held losses and its scheduler state are that run's, to the bit.
One gloo rank (a file store, no port) is enough: the error needs only an initialised process group.
"""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")

import torch.distributed as dist  # noqa: E402
from lightning_callbacks import SaveAfterBatch  # noqa: E402

from lrgym.baselines.registry import make_baseline  # noqa: E402
from lrgym.torch.lightning import HELD_KEY, PolicySchedulerCallback  # noqa: E402

HORIZON, INNER, BATCH, ROWS = 4, 3, 4, 16  # 12 updates of 2 micro-batches, 4 micro-batches an epoch
SAVED_AFTER = 4  # the first micro-batch of update 3: a checkpoint between an update's micro-batches


class Regression(L.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        self.lrs = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        self.lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])
        losses = ((self.net(x) - y) ** 2).mean(dim=1)
        return {"loss": losses.mean(), "losses": losses}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def _run(tmp_path, name):
    """A run of the bold driver (which undoes steps) with ``process_group="local"``, 2 micro-batches
    an update, a checkpoint saved after micro-batch :data:`SAVED_AFTER`: its LRs and the callback's
    state in that checkpoint."""
    g = torch.Generator().manual_seed(7)
    X = torch.randn(ROWS, 5, generator=g)
    y = X @ torch.randn(5, 1, generator=g) + 0.3 * torch.randn(ROWS, 1, generator=g)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=BATCH)
    model, path = Regression(), tmp_path / f"{name}.ckpt"
    callback = PolicySchedulerCallback(make_baseline("bold_driver"), horizon=HORIZON, updates_per_step=INNER,
                                       lr_init=0.6, process_group="local")
    trainer = L.Trainer(max_steps=HORIZON * INNER, accelerator="cpu", devices=1, logger=False,
                        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                        default_root_dir=tmp_path, accumulate_grad_batches=2,
                        callbacks=[callback, SaveAfterBatch(SAVED_AFTER, path)])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(num_workers|does not have many workers).*")
        trainer.fit(model, loader)
    return model.lrs, torch.load(path, weights_only=False)["callbacks"]["PolicySchedulerCallback"]


def test_a_checkpoint_under_process_group_local_holds_this_ranks_losses(tmp_path):
    alone_lrs, alone = _run(tmp_path, "alone")  # outside torch.distributed
    assert not dist.is_initialized()
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        lrs, saved = _run(tmp_path, "local")  # raised AttributeError at the checkpoint
    finally:
        dist.destroy_process_group()
    assert len(set(alone_lrs)) > 1 and lrs == alone_lrs
    assert len(saved[HELD_KEY]) == 1 and len(saved[HELD_KEY][0]) == 1  # this rank's list, one micro-batch held
    assert torch.equal(saved[HELD_KEY][0][0], alone[HELD_KEY][0][0])
    assert saved.keys() == alone.keys()
    assert saved["last_epoch"] == alone["last_epoch"] == SAVED_AFTER // 2
