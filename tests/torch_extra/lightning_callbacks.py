"""A Lightning callback the Lightning tests share (test_lightning_callback.py and the DDP run's
script lightning_ddp_worker.py, which imports it from its own folder)."""

from __future__ import annotations

import lightning.pytorch as L


class SaveAfterBatch(L.Callback):
    """``trainer.save_checkpoint(path)`` at the end of the run's ``batch``-th batch (counted from 0),
    after the ``on_train_batch_end`` of the callbacks before it (callbacks run in order): between
    an update's micro-batches when that batch is not an update's last."""

    def __init__(self, batch, path):
        self.batch, self.path, self.seen = batch, path, 0

    def on_train_batch_end(self, trainer, *args):
        if self.seen == self.batch:
            trainer.save_checkpoint(self.path)
        self.seen += 1
