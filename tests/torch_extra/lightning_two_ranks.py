"""A two-rank Lightning fit under PolicySchedulerCallback (the bold driver from LR 1.5, a linear
model, 6 steps), for test_lightning_ddp.py's ``ddp_spawn`` test, both ways:

    python lightning_two_ranks.py spawn     # strategy "ddp_spawn": multiprocessing starts both ranks

prints rank 0's :func:`report` lines (``WEIGHTS``, ``LAST LR``, ``SCHEDULER HELD``; warnings
go to stderr); and :func:`two_rank_fit` with ``"popen"`` (``strategy="ddp"``) is run by
lightning_ddp_worker.py on its own two ranks (its first Trainer launched rank 1; this Trainer
reuses the process group), so the ``"ddp"`` side costs no processes of its own (it had its own
run of this script: two more processes importing torch and Lightning, ≈ 30 s of the test).
"""

from __future__ import annotations

import datetime
import sys
import warnings

import lightning.pytorch as L
import torch
from lightning.pytorch.strategies import DDPStrategy

from lrgym.baselines.registry import make_baseline
from lrgym.torch.lightning import PolicySchedulerCallback


class Model(L.LightningModule):  # (at the top level: "ddp_spawn" pickles it for its ranks)
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"])
        return (self.net(batch[0]) - batch[1]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def two_rank_fit(start: str):
    """Fit the model on 2 CPU ranks (gloo) with ``DDPStrategy(start_method=start)``; returns
    (trainer, model, callback)."""
    callback = PolicySchedulerCallback(make_baseline("bold_driver"), horizon=6, updates_per_step=1, lr_init=1.5)
    trainer = L.Trainer(strategy=DDPStrategy(start_method=start, process_group_backend="gloo",
                                             timeout=datetime.timedelta(seconds=60)),
                        accelerator="cpu", devices=2, max_steps=6, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False, callbacks=[callback])
    g = torch.Generator().manual_seed(1)
    X = torch.randn(24, 2, generator=g)
    data = torch.utils.data.TensorDataset(X, X @ torch.tensor([[2.0], [-3.0]]) + 1.0)
    model = Model()
    trainer.fit(model, torch.utils.data.DataLoader(data, batch_size=2))
    return trainer, model, callback


def only_the_callbacks_warnings() -> None:
    """Show PolicySchedulerCallback's warnings (every time) and no others (Lightning's own
    notices), as both sides of the test compare them: in the current warnings filters."""
    warnings.filterwarnings("ignore")
    warnings.filterwarnings("always", message="PolicySchedulerCallback")


def report(trainer, model, callback) -> list[str]:
    """What the test compares: the weights rank 0 holds after ``fit``, the last LR it logged, and
    whether the callback still holds a scheduler."""
    return [f"WEIGHTS {[v.double().tolist() for v in model.state_dict().values()]}",
            f"LAST LR {float(trainer.callback_metrics['lr'])}",
            f"SCHEDULER HELD {callback.scheduler is not None}"]


if __name__ == "__main__":
    only_the_callbacks_warnings()
    fitted = two_rank_fit(sys.argv[1])
    if fitted[0].global_rank == 0:
        print("\n".join(report(*fitted)))
