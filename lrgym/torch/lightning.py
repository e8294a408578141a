"""An lrgym policy as the LR scheduler of a PyTorch Lightning ``Trainer`` (optional extra
``lightning``: ``pip install torch==2.13.0`` first, then ``pip install "lrgym[torch,lightning]"``).

::

    from lrgym.torch.lightning import PolicySchedulerCallback

    class Model(L.LightningModule):
        def training_step(self, batch, batch_idx):
            x, y = batch
            losses = F.cross_entropy(self(x), y, reduction="none")      # per-example losses
            return {"loss": losses.mean(), "losses": losses}            # or just the loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)          # no scheduler here

    policy_lr = PolicySchedulerCallback(make_baseline("plateau"), horizon=50, updates_per_step=10)
    L.Trainer(max_steps=500, callbacks=[policy_lr]).fit(Model(), loader)

The callback builds a :class:`~lrgym.torch.PolicyScheduler` on the Trainer's optimizer when
training starts (``on_train_start``, after a checkpoint is restored) and tells it every update's
loss at ``on_train_batch_end``: what ``training_step`` returned, its ``"losses"`` (per-example,
for the loss-spread feature) if there, else its ``"loss"``. That is the hand loop of
:mod:`lrgym.torch.scheduler` (``opt.step()`` then ``sched.step(losses)``), and the policy sees
the LRs, losses and gradients that loop would give it: Lightning's ``on_train_batch_end`` runs
after ``optimizer.step()`` and before the next ``zero_grad``, validation and checkpoint saving
(``ModelCheckpoint`` runs after every other callback). ``model=`` is the ``LightningModule``
(so an undone step, the bold driver's, puts its buffers back too) and ``scaler=`` Lightning's
``GradScaler`` when it uses one; any other keyword goes to ``PolicyScheduler`` (``val_fn``,
``train_loss_fn``, ``lr_init``, ``family``, ...). The scheduler is :attr:`scheduler` once
training has started.

The scheduler is told once per optimizer update, after the batch whose ``optimizer.step()`` ran
(``trainer.global_step``, Lightning's count of optimizer steps, moved), with the losses of every
batch since the last update. With ``Trainer(accumulate_grad_batches=k)`` an update is k
micro-batches (the epoch's last update fewer, when its batches do not divide by k: Lightning
steps on the epoch's last batch), and the scheduler is told after the k-th, with their losses
together, as the hand loop with accumulation tells it::

    opt.zero_grad()
    for x, y in micro_batches:                       # k of them
        losses = F.cross_entropy(model(x), y, reduction="none")
        (losses.mean() / k).backward()               # Lightning divides every loss by k
        told.append(losses)
    opt.step()
    sched.step(told)                                 # the k micro-batches' losses, concatenated

The ``"losses"`` returned are told as returned (concatenated); a ``"loss"`` only is told as
``training_step`` returned it: Lightning hands ``on_train_batch_end`` the loss divided by k
(the one it back-propagates), and the callback multiplies it back (in the loss's dtype: a
float32 loss ``x`` comes back as ``x`` exactly when k is a power of 2, else as ``x`` or one
float32 step away from it; Lightning keeps no undivided copy, its closure divides the loss
before handing it on; ``"losses"`` are told exactly), so the policy observes the losses'
level, not a k-th of it.

Manual optimization (``self.automatic_optimization = False``, ``opt.step()`` in
``training_step``): the same rule. The callback tells what ``training_step`` returned since the
last update (a loss tensor, or ``{"loss": ..., "losses": ...}``, undivided: Lightning divides
nothing here) after the batch whose ``training_step`` called ``opt.step()``, so accumulating by
hand (stepping every k-th batch) works as above. Call ``opt.zero_grad()`` before the backward, not
right after ``opt.step()``: the scheduler reads the update's gradient at ``on_train_batch_end``.
A batch that stepped the optimizer with no loss returned since the last update (``training_step``
returned None) is a ``ValueError`` saying to return it: the scheduler must be told every update,
and the callback has nothing to tell. (In automatic optimization a ``training_step`` returning
None is Lightning's "skip this batch": an update none of whose batches returned a loss is not
told.)

Why a callback, not ``configure_optimizers``: ``PolicyScheduler`` is a
``torch.optim.lr_scheduler.LRScheduler``, and Lightning accepts it there, but its scheduler loop
calls ``scheduler.step()`` without a loss (at the step or epoch interval), or, for a
``"reduce_on_plateau"`` entry, ``step(value)`` with a logged scalar after validation, which
releases the gradients first (``on_validation_model_zero_grad``): the policy would observe zero
gradients, and no per-example losses. A ``PolicyScheduler`` returned from ``configure_optimizers``
raises at its first ``step()`` naming this callback.

Checkpoints: the scheduler's :meth:`~lrgym.torch.PolicyScheduler.state_dict` is the callback's
state, which Lightning saves in its checkpoints; ``trainer.fit(model, ckpt_path=...)`` with a new
callback built as the saved one was (the same policy, ``horizon``, ... ) continues the saved run's
LRs to the bit (the model's and optimizer's states are Lightning's as usual).

Lightning's DDP (``Trainer(strategy="ddp", devices=2)``): nothing more to do. The scheduler is
built on every rank after Lightning initialised ``torch.distributed``, so it observes the global
run (:mod:`lrgym.torch._distributed`: the ranks' losses gathered in rank order, ``val_fn()``
averaged over the ranks) and every rank sets the same LRs, those of one process training on the
ranks' ``DistributedSampler`` shares of each update concatenated; every rank loads rank 0's
checkpoint, so a resumed run continues them. ``"ddp_spawn"`` (and ``"ddp_fork"``,
``"ddp_notebook"``, a notebook's only DDP) schedule the same LRs, but their ranks are processes
that multiprocessing starts, each training a copy of the callback, and Lightning sends back to the
process that called ``fit`` only the model's weights and the logged metrics: the callback you hold
has no scheduler after ``fit`` (rank 0 warns so at ``setup``). The scheduler's state is in the
run's checkpoints (the callback's state); use ``"ddp"`` to keep it in this process.

One optimizer: several (``configure_optimizers`` returning a list) are refused when training
starts, naming the setting.

A checkpoint between an update's micro-batches: Lightning saves one there when asked
(``trainer.save_checkpoint`` from a callback's hook, ``OnExceptionCheckpoint`` on an interrupt or
error, a ``ModelCheckpoint`` after a validation run that ``val_check_interval`` put between
micro-batches) and resumes at the update's next micro-batch (at the right batch if the loader is
resumable: it has ``state_dict``/``load_state_dict``). The losses of the update's earlier
micro-batches, which the callback holds until the update's last one, are part of its state
(:data:`HELD_KEY`), so the resumed run tells the scheduler the whole update's losses, as an
uninterrupted run does; under DDP every rank's (the callback's ``state_dict`` gathers them, a
collective as Lightning's checkpoint saving is: every rank builds the state, rank 0 writes it),
and each rank of the resumed run takes its own back (a checkpoint of another number of ranks is
resumed without them, with a warning). Lightning does not save the update's accumulated gradient, though: the
resumed update steps, and the scheduler reads, the later micro-batches' gradient only, so the
parameters and what the policy then observes differ from the uninterrupted run's (to resume to
the bit, save and restore the parameters' ``.grad`` yourself, in a callback of your own, as
``KeepGradients`` in tests/torch_extra/lightning_callbacks.py does; under DDP every rank's own,
gathered in the callback's ``state_dict``: until an update's last micro-batch DDP has not
synchronised them, and each rank holds its own rows' gradient). With that and a resumable loader
(each rank its own under DDP), a resumed run is the uninterrupted one to the bit, on every rank
(tests/torch_extra/test_lightning_ddp.py).
"""

from __future__ import annotations

import warnings

import torch

from lrgym.extras import import_extra
from lrgym.torch._distributed import resolve_group
from lrgym.torch.scheduler import PolicyScheduler

_pl = import_extra("lightning.pytorch", "lightning", "lrgym.torch.lightning", torch_first=True)
# the launcher of "ddp_spawn", "ddp_fork", "ddp_notebook" (exported by its package, no public alias)
from lightning.pytorch.strategies.launchers import _MultiProcessingLauncher  # noqa: E402

__all__ = ["PolicySchedulerCallback", "LOSSES_KEY", "HELD_KEY"]

#: the key of ``training_step``'s returned dict whose per-example losses the policy observes
LOSSES_KEY = "losses"
#: the key of the callback's ``state_dict`` holding the losses of an update's micro-batches run
#: before a checkpoint saved in the middle of the update, every rank's (``[rank 0's list, rank
#: 1's, ...]``, one list outside ``torch.distributed``); absent when no rank holds any
HELD_KEY = "lightning_held_losses"


class PolicySchedulerCallback(_pl.Callback):
    """Drive the Trainer's optimizer's LR with ``policy`` (see the module docstring).

    Args:
        policy: any lrgym policy (as for :class:`~lrgym.torch.PolicyScheduler`).
        horizon, updates_per_step, **scheduler_kwargs: ``PolicyScheduler``'s arguments, but
            ``optimizer`` (the Trainer's), ``model`` (the ``LightningModule``) and ``scaler``
            (Lightning's ``GradScaler``, if any), which the callback passes.
    """

    def __init__(self, policy, horizon: int, updates_per_step: int = 10, **scheduler_kwargs):
        taken = sorted({"optimizer", "model", "scaler"} & set(scheduler_kwargs))
        if taken:
            raise TypeError(f"PolicySchedulerCallback passes {taken} itself (the Trainer's optimizer, the "
                            "LightningModule, Lightning's GradScaler); valid: PolicyScheduler's other keywords")
        self.policy = policy
        self.horizon, self.updates_per_step = horizon, updates_per_step
        self.scheduler_kwargs = scheduler_kwargs
        self.scheduler: PolicyScheduler | None = None
        self._loaded: dict | None = None  # a checkpoint's state, loaded once the scheduler is built
        self._told: list = []  # the losses of the batches since the last update, told at the next one
        self._global_step = 0  # trainer.global_step when the scheduler was last told (or training started)

    def setup(self, trainer, pl_module, stage: str) -> None:
        """Warn (rank 0, once) under a strategy whose ranks train copies of the callback in processes
        that multiprocessing starts (``"ddp_spawn"``, ``"ddp_fork"``, ``"ddp_notebook"``): their LRs are
        scheduled as under ``"ddp"``, but nothing of a rank's callback comes back to the one the user
        holds (Lightning sends back only the model's weights and the logged metrics), so it has no
        scheduler after ``fit``; the checkpoints hold its state."""
        if isinstance(trainer.strategy.launcher, _MultiProcessingLauncher):
            _pl.utilities.rank_zero_warn(
                f"PolicySchedulerCallback under {type(trainer.strategy).__name__} started by multiprocessing "
                "(strategy 'ddp_spawn', 'ddp_fork' or 'ddp_notebook'): each rank schedules the LRs with a copy of "
                "the callback, and the one you hold keeps no scheduler after fit (its state is in the run's "
                "checkpoints); strategy='ddp' keeps it in this process (the ranks run your script again, this "
                "process is rank 0)", category=UserWarning)

    def on_train_start(self, trainer, pl_module) -> None:
        """Build the scheduler on the Trainer's optimizer (restored from a checkpoint by now) and
        load the checkpoint's scheduler state, if any."""
        if len(trainer.optimizers) != 1:
            raise ValueError(f"PolicySchedulerCallback drives one optimizer, the Trainer has "
                             f"{len(trainer.optimizers)}; valid: configure_optimizers returning one optimizer")
        for config in trainer.lr_scheduler_configs:
            if isinstance(config.scheduler, PolicyScheduler):
                raise ValueError("configure_optimizers returned a PolicyScheduler, and PolicySchedulerCallback builds "
                                 "its own; valid: return only the optimizer from configure_optimizers")
        scaler = getattr(trainer.precision_plugin, "scaler", None)
        self.scheduler = PolicyScheduler(
            trainer.optimizers[0], self.policy, horizon=self.horizon, updates_per_step=self.updates_per_step,
            model=pl_module, scaler=scaler, **self.scheduler_kwargs)
        held = []
        if self._loaded is not None:
            state, self._loaded = dict(self._loaded), None
            held = [losses.to(pl_module.device) for losses in self._my_share(state.pop(HELD_KEY, None))]
            self.scheduler.load_state_dict(state)
        self._told, self._global_step = held, trainer.global_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """Keep the batch's losses; if the optimizer stepped in this batch (``trainer.global_step``
        moved), tell the scheduler the losses of the update's batches (see the module docstring)."""
        losses = _returned_losses(outputs, trainer.accumulate_grad_batches if pl_module.automatic_optimization else 1)
        if losses is not None:
            self._told.append(losses)
        if trainer.global_step == self._global_step:
            return  # accumulating: no optimizer step in this batch
        self._global_step = trainer.global_step
        told, self._told = self._told, []
        if told:
            self.scheduler.step(told[0] if len(told) == 1 else told)
        elif not pl_module.automatic_optimization:
            raise ValueError(
                f"PolicySchedulerCallback: training_step stepped the optimizer in batch {batch_idx} (manual "
                f"optimization) and no loss was returned since the last update (this batch's training_step returned "
                f"{_short_type(outputs)}), "
                "and the scheduler must be told every update's loss; valid: return the loss from training_step, "
                f'a tensor or {{"loss": loss, "{LOSSES_KEY}": per-example losses}}')

    def state_dict(self) -> dict:
        """The scheduler's state (Lightning saves it in its checkpoints), with, under
        :data:`HELD_KEY`, the losses held for the update in progress when the checkpoint is saved
        between its micro-batches (detached, on the CPU); a state loaded but not yet used, before
        training starts; empty before either."""
        if self.scheduler is None:
            return dict(self._loaded or {})
        state = self.scheduler.state_dict()
        every_rank = self._every_ranks([losses.detach().cpu() for losses in self._told])
        if any(every_rank):
            state[HELD_KEY] = every_rank
        return state

    def _group(self):
        """The ``torch.distributed`` ranks sharing the schedule (the scheduler's ``process_group``,
        else the default group), or None outside ``torch.distributed``, with one rank, or for
        ``process_group="local"`` (each rank its own schedule: no collective, a checkpoint holds
        the saving rank's losses), as the scheduler resolves it
        (:func:`lrgym.torch._distributed.resolve_group`; until 2026-12-07 ``"local"`` was taken
        for a group, and saving a checkpoint under ``torch.distributed`` raised
        ``AttributeError: 'str' object has no attribute 'size'``)."""
        shared = resolve_group(self.scheduler_kwargs.get("process_group"))
        return None if shared is None else shared.group

    def _every_ranks(self, held: list) -> list:
        """Every rank's held losses, in rank order (a collective under ``torch.distributed``:
        Lightning builds a checkpoint's state on every rank and rank 0 writes it)."""
        group = self._group()
        if group is None:
            return [held]
        every_rank = [None] * torch.distributed.get_world_size(group)
        torch.distributed.all_gather_object(every_rank, held, group=group)
        return every_rank

    def _my_share(self, every_rank) -> list:
        """This rank's held losses of a checkpoint's :data:`HELD_KEY` (none if it holds none); a
        checkpoint of another number of ranks cannot be split, and is resumed without them."""
        if not every_rank:
            return []
        group = self._group()
        world, rank = (1, 0) if group is None else (torch.distributed.get_world_size(group),
                                                    torch.distributed.get_rank(group))
        if len(every_rank) != world:
            warnings.warn(f"PolicySchedulerCallback: the checkpoint was saved between an update's micro-batches by "
                          f"{len(every_rank)} ranks and this run has {world}: the update's earlier micro-batches' "
                          "losses are not told (they cannot be split over other ranks)", stacklevel=2)
            return []
        return every_rank[rank]

    def load_state_dict(self, state_dict: dict) -> None:
        """Keep a checkpoint's state (Lightning restores callbacks before it builds the optimizer):
        it is loaded into the scheduler when training starts."""
        self._loaded = dict(state_dict) if state_dict else None


def _returned_losses(outputs, divided_by: int):
    """The losses a batch's ``training_step`` returned, as the scheduler is told them: its
    ``"losses"`` as returned, else its ``"loss"`` times ``divided_by`` (Lightning's automatic
    optimization hands callbacks the loss divided by ``accumulate_grad_batches``); None when it
    returned neither (None: a skipped batch)."""
    if not outputs:
        return None
    if LOSSES_KEY in outputs:
        return outputs[LOSSES_KEY]
    loss = outputs.get("loss")
    if loss is None or divided_by == 1:
        return loss
    return loss * divided_by


def _short_type(outputs) -> str:
    """What ``training_step`` returned, as Lightning hands it on (a dict's keys, else None)."""
    return f"a dict with keys {sorted(outputs)}" if outputs else "None"
