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

One optimizer, one update per batch: ``accumulate_grad_batches`` > 1 (one loss told per update
would be the last micro-batch's, divided by Lightning) and several optimizers are refused when
training starts, naming the setting.
"""

from __future__ import annotations

from lrgym.extras import import_extra
from lrgym.torch.scheduler import PolicyScheduler

_pl = import_extra("lightning.pytorch", "lightning", "lrgym.torch.lightning", torch_first=True)

__all__ = ["PolicySchedulerCallback", "LOSSES_KEY"]

#: the key of ``training_step``'s returned dict whose per-example losses the policy observes
LOSSES_KEY = "losses"


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

    def on_train_start(self, trainer, pl_module) -> None:
        """Build the scheduler on the Trainer's optimizer (restored from a checkpoint by now) and
        load the checkpoint's scheduler state, if any."""
        if trainer.accumulate_grad_batches != 1:
            raise ValueError(
                f"PolicySchedulerCallback: Trainer(accumulate_grad_batches={trainer.accumulate_grad_batches}) is not "
                "supported: the callback tells the scheduler one batch's loss per update; valid: 1")
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
        if self._loaded is not None:
            state, self._loaded = self._loaded, None
            self.scheduler.load_state_dict(state)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """Tell the scheduler the update's loss (``training_step`` returning None skipped the
        update: nothing to tell)."""
        if not outputs:
            return
        self.scheduler.step(outputs[LOSSES_KEY] if LOSSES_KEY in outputs else outputs["loss"])

    def state_dict(self) -> dict:
        """The scheduler's state (Lightning saves it in its checkpoints); a state loaded but not yet
        used, before training starts; empty before either."""
        if self.scheduler is not None:
            return self.scheduler.state_dict()
        return dict(self._loaded or {})

    def load_state_dict(self, state_dict: dict) -> None:
        """Keep a checkpoint's state (Lightning restores callbacks before it builds the optimizer):
        it is loaded into the scheduler when training starts."""
        self._loaded = dict(state_dict) if state_dict else None
