"""Lightning helpers the Lightning tests share (test_lightning_callback.py and the DDP run's
script lightning_ddp_worker.py, which imports them from its own folder): callbacks that save a
checkpoint, keep the gradients in it and record what the policy observed, and a loader Lightning
can resume mid-epoch."""

from __future__ import annotations

import lightning.pytorch as L
import torch


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


class ResumableBatches:
    """``batches`` (the same every epoch) as a loader Lightning can resume mid-epoch (it has
    ``state_dict`` / ``load_state_dict``: a resumed epoch goes on at the batch after the
    checkpoint's). Under DDP give each rank its own (and ``Trainer(use_distributed_sampler=False)``):
    Lightning saves rank 0's loader state, which is every rank's when they count batches alike."""

    def __init__(self, batches):
        self.batches, self.start, self.at = list(batches), 0, -1

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        start, self.start = self.start, 0
        for self.at in range(start, len(self.batches)):
            yield self.batches[self.at]

    def state_dict(self):
        return {"at": self.at}

    def load_state_dict(self, state):
        self.start = state["at"] + 1


def _every_rank(value) -> list:
    """``[value]`` in one process; under ``torch.distributed`` every rank's ``value``, in rank order
    (a collective: Lightning builds a checkpoint's state on every rank, rank 0 writes it)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return [value]
    every_rank = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(every_rank, value)
    return every_rank


class KeepGradients(L.Callback):
    """Saves the parameters' gradients in the checkpoint, every rank's, and restores each rank its
    own when training starts. Lightning saves none: without this a run resumed between micro-batches
    steps with the later micro-batches' gradient only, and its parameters (so its losses and LRs)
    differ whatever the scheduler is told. Under DDP each rank's own: between an update's
    micro-batches DDP has not synchronised the gradients yet (Lightning accumulates under
    ``no_sync``), so each rank holds the gradient of its own rows, and a resumed rank 1 given rank
    0's would step with the wrong one. With this, the resumed run differs from the uninterrupted
    one only in what the policy callback restores."""

    def setup(self, trainer, pl_module, stage):
        self.module, self.grads = pl_module, getattr(self, "grads", None)

    def state_dict(self):
        return {"grads": _every_rank([None if p.grad is None else p.grad.clone() for p in self.module.parameters()])}

    def load_state_dict(self, state):
        self.grads = state["grads"]

    def on_train_start(self, trainer, pl_module):
        if self.grads is None:
            return
        assert len(self.grads) == trainer.world_size, "resumed with another number of ranks"
        for p, grad in zip(pl_module.parameters(), self.grads[trainer.global_rank]):
            p.grad = grad


class RecordTrainLoss(L.Callback):
    """The training loss the policy observed, after every batch (placed after the policy callback)."""

    def __init__(self, policy_callback):
        self.policy_callback, self.train_losses = policy_callback, []

    def on_train_batch_end(self, trainer, *args):
        self.train_losses.append(self.policy_callback.scheduler.last_info.get("train_loss"))
