"""``PolicyScheduler``: an lrgym policy as the LR scheduler of a ``torch.optim`` optimizer.

::

    policy = make_baseline("plateau", family="mlp")                # or any Policy
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = PolicyScheduler(opt, policy, horizon=50, updates_per_step=10, val_fn=val_loss)
    for x, y in batches:                                            # horizon × updates_per_step
        opt.zero_grad()
        losses = F.cross_entropy(model(x), y, reduction="none")    # per-example losses
        losses.mean().backward()
        opt.step()
        sched.step(losses)                                          # after each update

Every ``updates_per_step`` updates is one *step* of the policy's episode: the scheduler turns
what it recorded into the env's observation and info (:class:`lrgym.monitor.TrainingMonitor`,
the env's own code) and asks the policy for the LR of the next step, exactly as
:class:`lrgym.LRControlEnv` would: the same features (losses relative to the first, gradient
norm and cosine between consecutive minibatch gradients, LR, progress), the same action
contract (``discrete`` factors or ``log_lr`` in [lr_min, lr_max], from the policy's
``env_options``) and the same starting LR.

Policies: anything the leaderboard grades, i.e. an object with ``reset(info)`` and
``act(obs, info)`` (:func:`check_policy`); ``name``, ``optimizer`` (default ``"sgd"``),
``action_mode`` (default ``"discrete"``), ``env_options`` and ``lr_init`` are optional. The
policy's ``optimizer`` is the update rule its LRs were made for: an optimizer of another class,
or of its class with other arguments (``SGD(momentum=0.9)`` under a plain-SGD policy), is warned
of, naming both (:func:`other_optimizer`); weight decay alone too (the "decay on weights, none on
biases" groups), saying why it matters and how to keep it (:func:`other_optimizer_warning`).

The optimizer's own LR (``SGD(params, lr=0.1)``) is **not** where the schedule starts: the
policy owns the LR from the first update on, as in the env. The scheduler sets every group's LR
at construction, before your first update: a ``log_lr`` policy picks its LR itself; a
``discrete`` policy multiplies the start LR ``lr_init`` by its factors, and that start is the
``lr_init`` argument, else the policy's ``lr_init``, else the env's default (1e-2; 1e-3 for
Adam and RMSprop). When that default replaces a different optimizer LR (the first group's with a
nonzero LR), a ``UserWarning`` says so; pass ``lr_init=`` your LR (a float, of a group that trains) to start from
yours. The optimizer's LR still sets the ratio between parameter groups.

What it measures:

* gradients: the minibatch gradient ``p.grad`` of the parameters the policy's LR trains, as in
  the env: every parameter group except any held at LR 0 (a frozen backbone, whose gradient is
  not observed, ``requires_grad`` or not; a parameter without a ``.grad`` in a group that trains
  counts as zeros, which change no norm or cosine). Read in ``step``, so call ``step`` after
  ``optimizer.step()`` and before the next ``zero_grad``: what the optimizer used, so clipped if
  you clip it, accumulated over micro-batches if you accumulate, unscaled after
  ``GradScaler.step``; a sparse gradient as its dense vector, a complex one as its
  ``view_as_real`` (as ``torch.optim`` treats it). A gradient of exactly 0 at a loss above 0 is
  warned of once when the loop caused it — ``zero_grad()`` between ``optimizer.step()`` and
  ``step(loss)``, or no ``.grad`` at ``optimizer.step()`` (backward never reached the parameters)
  — and observed without a word when it is the update's true gradient (a dead network), which the
  optimizer's step hook tells apart (:meth:`PolicyScheduler._zero_gradient`);
* training loss: ``train_loss_fn()`` after each step if given (the training objective on fixed
  rows, as lrgym's families report it), else the step's mean minibatch loss; the episode's L0
  is ``train_loss_fn()`` at construction, else the first minibatch loss. That one is known only
  once the first update is told, after the policy's ``reset`` and first ``act`` (which set the
  first update's LR): without ``train_loss_fn`` their ``info["train_loss"]`` and ``["val_loss"]``
  are NaN, where the env reports L0 (the observation agrees: its relative features are 0 either
  way). A policy that reads those at the start needs ``train_loss_fn`` to see what the env shows
  it: the bold driver compares its first step with it, and keeps the LR after a first step
  that lowered the loss where the env raises it. An undone first step is judged against L0 all
  the same, and reports it. **L0 must be > 0, every
  later loss >= 0** (the minibatch losses' mean, ``train_loss_fn()``, ``val_fn()``'s loss; the
  rule of :func:`lrgym.monitor.check_loss`, which :class:`~lrgym.torch.TorchTrainingEnv` applies
  too): the policy observes log losses relative to L0, and an L0 <= 0 has no log (floored, every
  later loss would read as a divergence), nor has a negative loss, one not bounded below by 0 (a
  Gaussian NLL below 0). Either is a ``ValueError`` naming it, before anything is recorded. Add
  a constant that keeps yours above 0 (the NLL + 10) or use a loss bounded below by 0 (MSE,
  cross-entropy). A later loss of exactly 0 (float32 cross-entropy is ``-0.0`` at large margins,
  an exactly fitted MSE 0) is no error: it is observed as the env observes it, floored at
  1e-300. A NaN or infinite loss is no error either: it is a divergence, which ends the run
  (below), as in the env;
* validation: ``val_fn()`` returns a loss, or a tuple ``(loss, metric)`` (metric higher is
  better; a list is refused: per-example losses or a pair, it cannot tell);
  without it the validation features repeat the training loss. Both functions run under
  ``torch.no_grad()`` in whatever mode the model is in (the scheduler does not know the model):
  with dropout or BatchNorm, call ``model.eval()`` in them and ``model.train()`` before returning.
* ``step(losses)`` takes per-example losses (``reduction="none"``) for the loss-spread feature;
  a scalar loss works too (that feature then reads 0). It is required: the policy observes
  every update, so ``step()`` without a loss, epoch style, raises ``TypeError``. Losses are real
  numbers (a tensor of any real dtype, a number, a list; a list of tensors, the micro-batches'
  losses when accumulating, is their values concatenated): a string (even ``"0.5"``), a bool or a
  complex loss is a ``ValueError`` naming it, raised before anything is recorded, so the corrected
  call still records the update (``train_loss_fn()`` and ``val_fn()`` too: they run before the
  update that completes a step is recorded); ``train_loss_fn()`` and ``val_fn()`` return one such number each
  (a one-element tensor too), and either not being callable is a ``TypeError`` naming it.

Only updates taken are observed: ``step(loss)`` after an ``optimizer.step()`` that did not run
(``torch.amp.GradScaler`` skips it while the gradients overflow; optimizer step hooks tell) or
that skipped its update itself (a ``fused=True`` optimizer, which ``GradScaler`` always calls,
with ``optimizer.found_inf`` set) is not an update, warned once, and not counted, unless its
loss is non-finite or over the cap, which ends the run as divergence.

LR: the policy's LR is set on the first parameter group with a nonzero LR (the reference group);
every group keeps its initial LR's ratio to the reference's (like ``LambdaLR``'s per-group base
LRs), so a group at LR 0, a frozen backbone, stays at 0 (if every group's LR is 0, every group
gets the policy's LR); a group added later with ``optimizer.add_param_group`` gets its own LR's
ratio to the reference group's initial LR, from its first update. The policy owns the LR: until
``done``, an update at an LR something else set (another scheduler on the optimizer, a
``LinearLR`` warm-up) is refused with a ``RuntimeError`` before it runs; PolicyScheduler is not
chainable (``ChainedScheduler``, ``SequentialLR``). After ``horizon`` steps, or once training
diverged (a non-finite or capped loss, non-finite parameters), the policy is no longer asked and
the LR stays (``sched.done``). A policy with the env's ``rejection_threshold`` (the bold driver)
gets its step undone as in the env: the parameters and the optimizer's state are restored, and,
given ``model=`` and ``scaler=``, the model's buffers (BatchNorm's running statistics) and the
``GradScaler``'s scale and growth tracker: all as they were before the step, as if its updates never
ran (the data stream is not rewound; a tensor LR stays the same tensor). The scaler is restored
because its scale after the undone updates describes gradients at the parameters that were thrown
away (backed off for their overflows, grown for their clean updates); at the restored parameters the
scale that held there is the one that fits, and the undone run continues as the run that never took
those updates would. If that scale overflows again, the scaler backs off and skips the update as
usual, which the scheduler does not count (above).

DistributedDataParallel: when ``torch.distributed`` is initialised (or given ``process_group=``),
every rank's scheduler observes the global run, as one process training on the ranks' minibatches
concatenated would: the per-example losses all-gathered (the global batch), ``train_loss_fn()`` and
``val_fn()`` averaged over the ranks (equal weights: give each rank an equal share of their rows, or
all of them), the gradient as DDP leaves it in ``p.grad`` (averaged over the ranks already). Every
rank's policy thus decides alike; after each decision the ranks check that they agree (LR, undo)
and set rank 0's LR, else every rank raises a ``RuntimeError`` naming their decisions (a policy
drawing random numbers must be seeded alike on every rank). An undone step is undone on every
rank; ``state_dict()`` is the same on every rank (save rank 0's). Build the scheduler on every
rank, call ``step(loss)`` on every rank after every update (it is a collective, as DDP's backward
is). FSDP2 (``fully_shard``) works the same way: each rank reads its shard of the gradient and the
gradient features' sums are summed over the ranks (a policy that undoes steps needs ``model=``,
and each rank's ``state_dict()`` holds its own shard: save every rank's); FSDP1 and meshes of more
than one dimension are refused. A ``ZeroRedundancyOptimizer`` (ZeRO under DDP: the optimizer state
sharded) works as DDP does; an undo puts back each rank's own shard of the state (its local
optimizer's), so each rank's ``state_dict()`` holds its own shard there too; ``overlap_with_ddp=True``
is refused. A state holding a rank's shard records the rank and loads only on it (``ValueError``).
``process_group="local"`` opts out: each rank's own schedule, no collective (independent
trainings on the ranks of one group). Outside ``torch.distributed`` no
collective runs. :mod:`lrgym.torch._distributed` has the details::

    model = DDP(net)                                # after torch.distributed.init_process_group(...)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = PolicyScheduler(opt, make_baseline("bold_driver"), horizon=50, val_fn=val_loss_on_my_shard)
    for x, y in loader:                             # a DistributedSampler: this rank's share of each batch
        ...; opt.step(); sched.step(losses)         # per-example losses of this rank's share

Conventions of ``torch.optim.lr_scheduler``: :meth:`get_last_lr` (Python floats, as in every
``param_groups[i]["lr"]`` it writes; a tensor LR is filled in place), :attr:`last_epoch`
(updates taken and told: the ``step(loss)`` calls that followed at least one ``optimizer.step()``;
several ``optimizer.step()`` calls before one ``step(loss)`` count as one, warned once with the
counts: call it after every update), :meth:`state_dict` / :meth:`load_state_dict` (scheduler and
policy state; the optimizer and model checkpoint themselves as usual)::

    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, path)
    ...
    ckpt = torch.load(path)                        # weights_only=True, torch's default: plain data
    model.load_state_dict(ckpt["model"]); opt.load_state_dict(ckpt["opt"])
    sched = PolicyScheduler(opt, make_baseline("plateau"), horizon=50, ...)   # built as before
    sched.load_state_dict(ckpt["sched"])           # continues the saved run to the bit

Saved between ``optimizer.step()`` and ``step(loss)``, the state holds the gradient of the update
taken but not yet told (the resumed model has no ``p.grad``). A state saved by a scheduler with
another ``horizon``, ``updates_per_step``, ``family``, ``lr_min``, ``lr_max``, ``cap_factor``,
``loss_scale`` or ``reward``, or with another policy (another name, such as a
``dqn`` state into a ``ppo`` scheduler, class, or env contract: :func:`policy_identity`), is a
``ValueError`` naming both sides, and nothing is loaded. Any state that cannot be loaded (a
policy's module of other shapes, a damaged generator or monitor state) raises before anything is
loaded: loading is all or nothing, as ``optimizer.load_state_dict``.

The policy's state is saved with the scheduler's: its own ``state_dict()`` / ``load_state_dict()``
if it has both, else its attributes, NumPy arrays as tensors, a ``torch.optim`` optimizer or LR
scheduler through its own ``state_dict()``, what two attributes share shared again
(:mod:`lrgym.torch.checkpoint` lists what can be saved; anything else raises ``TypeError`` naming
the attribute).
"""

from __future__ import annotations

import copy
import math
import warnings
import weakref

import numpy as np
import torch

from lrgym.actions import next_lr
from lrgym.info import ACTION_MODES, FAMILY_NAMES, INFO_SCHEMA, family_index
from lrgym.keywords import checked_keywords
from lrgym.monitor import TrainingMonitor, update_loss
from lrgym.optim import OptimizerConfig, check_choice
from lrgym.policy import policy_env_kwargs
from lrgym.settings import (
    DEFAULT_CAP_FACTOR,
    DEFAULT_FACTORS,
    DEFAULT_LR_MAX,
    DEFAULT_LR_MIN,
    check_factors,
    check_label,
    check_lr_range,
    check_rejection_threshold,
    default_lr_init,
    resolve_lr_init,
)
from lrgym.tasks.base import S_TRAIN_LOSS
from lrgym.torch._copies import NOT_YET, ORPHANED, BackwardWatch
from lrgym.torch._distributed import (
    agreed_decision,
    check_shard_owner,
    check_zero_mode,
    global_losses,
    global_measures,
    resolve_group,
    shard_owner,
    sharded_params,
    state_holder,
    summed,
)
from lrgym.torch._measure import MEASURES, measure
from lrgym.torch._policy_checks import (  # noqa: F401 (other_optimizer: named in the docstring above)
    check_policy,
    identity_text,
    other_optimizer,
    other_optimizer_warning,
    policy_identity,
    policy_name,
    same_value,
)
from lrgym.torch._policy_state import load_policy_state, policy_state
from lrgym.torch._step_hooks import grad_marks, runs_step_hooks, skipped_inside
from lrgym.torch._tensors import (  # noqa: F401 (flat_grad: lrgym.torch.flat_grad)
    any_nonzero,
    flat_grad,
    losses_array,
    lr_ratios,
    observed_params,
    params_finite,
    record_flat_grad,
    reference_lr,
    set_group_lr,
)
from lrgym.torch.checkpoint import from_checkpoint, to_checkpoint

__all__ = ["PolicyScheduler", "check_policy", "flat_grad", "measure", "other_optimizer_warning"]

#: env keywords a policy may ask for that the scheduler honours (the last four unless given to it)
SUPPORTED_OPTIONS = ("optimizer", "action_mode", "factors", "rejection_threshold", "lr_init",
                     "lr_min", "lr_max", "cap_factor", "reward")


def _family_arg(index: int) -> str | None:
    """The ``family`` argument of an ``info["family"]`` index: its name, None for −1."""
    return FAMILY_NAMES[index] if 0 <= index < len(FAMILY_NAMES) else None


def _normal_tensors():
    """A block whose new tensors are normal tensors, also inside the caller's
    ``torch.inference_mode()``: the tensors the scheduler keeps and later puts into the optimizer
    (the undo's snapshot), which an ``opt.step()`` outside inference mode updates in place."""
    return torch.inference_mode(False)


#: the newest :class:`PolicyScheduler` built on each optimizer, held weakly on both sides: it
#: owns the optimizer's LRs (an older one, still referenced somewhere such as a notebook's output
#: history, must not refuse the newer one's LRs). Kept here, not as an attribute of the optimizer.
_OWNERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


#: the newest :class:`PolicyScheduler` built with each policy object, by ``id`` (a policy need not be
#: hashable or weakly referenceable; the scheduler holds its policy, so the id is that policy's while
#: the scheduler lives), held weakly: a policy keeps one episode's state, so only that scheduler asks it.
_POLICY_OWNERS: dict = {}


def _reshard(model: torch.nn.Module) -> None:
    """After an undo put a sharded model's shards back (FSDP2): every ``fully_shard`` module
    drops the whole parameters it gathered, so its next forward gathers the restored shards. A
    module that a forward without backward left gathered (``val_fn()``'s, under ``no_grad``: the
    root module keeps its parameters gathered after forward) would otherwise go on computing with
    the parameters of the undone step."""
    from torch.distributed.fsdp import FSDPModule

    for module in model.modules():
        if isinstance(module, FSDPModule):
            module.reshard()


def _release_policy(key: int, owner: "weakref.ref") -> None:
    """A scheduler is gone: forget that it drove the policy ``key``, unless a newer one drives it."""
    if _POLICY_OWNERS.get(key) is owner:
        del _POLICY_OWNERS[key]


class PolicyScheduler(torch.optim.lr_scheduler.LRScheduler):
    """Drive ``optimizer``'s LR with ``policy`` (see the module docstring).

    A ``torch.optim.lr_scheduler.LRScheduler`` (``isinstance`` holds, as for torch's own
    schedulers), built as ``ReduceLROnPlateau`` is: without ``LRScheduler.__init__``, whose
    side effects do not fit a scheduler whose ``step`` needs the update's loss (it calls
    ``step()`` once at construction, and wraps ``optimizer.step`` to warn of a call order this
    scheduler checks itself with step hooks). Every method a caller uses is this class's own:
    :meth:`step` (which needs the loss), :meth:`get_last_lr`, :attr:`last_epoch`,
    :meth:`state_dict` / :meth:`load_state_dict` (not ``LRScheduler``'s dump of ``__dict__``).
    In PyTorch Lightning, use :class:`lrgym.torch.lightning.PolicySchedulerCallback`, which
    tells the scheduler every update's loss; Lightning's own scheduler loop calls ``step()``
    without one.

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        policy: any object with ``reset(info)`` and ``act(obs, info)`` (:class:`lrgym.policy.Policy`;
            a baseline from ``lrgym.baselines.registry.make_baseline``, a learned agent, a
            submission class instance).
        horizon: policy steps in the run (``progress`` = t / horizon).
        updates_per_step: optimizer updates per policy step (the env's ``inner_steps``).
        val_fn: ``() -> loss`` or ``() -> (loss, metric)`` on validation data, called after each
            step (and once at construction).
        train_loss_fn: ``() -> loss``, the training objective, called likewise; None uses the
            step's mean minibatch loss.
        lr_init: the LR before the policy's first action, which a ``discrete`` policy multiplies
            (None: the policy's ``lr_init``, else the env's default for the policy's optimizer,
            with a warning if the optimizer's LR differs; not the optimizer's LR).
        lr_min, lr_max, cap_factor, reward: as in :class:`lrgym.LRControlEnv`; None (the
            default): the policy's own env option, else the env's default (a ``log_lr``
            policy's action means an LR between its ``lr_min`` and ``lr_max``). A policy's env
            option the scheduler does not apply (``reward_alphas``, ``horizon``, ...) is warned of.
        loss_scale: the task's typical loss; training diverged when a loss passes
            ``cap_factor · max(L0, loss_scale)`` (nan, the default: ``cap_factor · L0``).
        task_name: a name for the run.
        family: None (the default): ``info["family"]`` is −1, a task outside lrgym's families;
            or one of lrgym's family names (``"linreg"``, ``"quadratic"``, ``"mlp"``,
            ``"recsys"``), the one your training resembles: ``info["family"]`` is its index, as
            in that family's env. A policy with weights per family needs it: the learned
            ``controller`` refuses −1 (``make_baseline("controller")`` with
            ``PolicyScheduler(..., family="mlp")`` runs on the mlp family's weights).
        model: the ``nn.Module`` being trained, for a policy that undoes steps (the bold driver):
            its buffers (BatchNorm's ``running_mean`` / ``running_var`` / ``num_batches_tracked``)
            are then put back with the parameters. Without it the scheduler knows only the
            optimizer's parameters, and an undo leaves the buffers as the undone updates moved them.
        scaler: your ``torch.amp.GradScaler``, for the same policies: an undo then restores its
            scale and growth tracker too (module docstring: why). Call ``sched.step(loss)`` after
            ``scaler.update()``, as for any scheduler, else the pending update moves the restored scale.
        process_group: the ``torch.distributed`` ranks that share one schedule (None, the default:
            every rank of the default group when ``torch.distributed`` is initialised, else none).
            Build the scheduler alike on each of them: it observes the global run and every rank
            sets the same LRs (module docstring, "DistributedDataParallel"). ``"local"``: this
            rank's own schedule, no collectives, also inside ``torch.distributed`` (ranks that train
            independently); anything else is a ``ValueError`` naming the choices.
    """

    @checked_keywords
    def __init__(self, optimizer: torch.optim.Optimizer, policy, horizon: int, updates_per_step: int = 10,
                 val_fn=None, train_loss_fn=None, lr_init: float | None = None, lr_min: float | None = None,
                 lr_max: float | None = None, cap_factor: float | None = None, reward: str | None = None,
                 task_name: str = "torch", loss_scale: float = math.nan, model: torch.nn.Module | None = None,
                 scaler=None, family: str | None = None, process_group=None):
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        check_zero_mode(optimizer)  # ZeRO's overlap_with_ddp=True: its updates happen outside optimizer.step()
        if model is not None and not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}; valid: the module the "
                            "optimizer trains (its buffers are restored when a step is undone), or None")
        if scaler is not None and not isinstance(scaler, torch.amp.GradScaler):
            raise TypeError(f"scaler must be a torch.amp.GradScaler, got {type(scaler).__name__}; valid: the "
                            "GradScaler of your loop (its state is restored when a step is undone), or None")
        for name, fn in (("train_loss_fn", train_loss_fn), ("val_fn", val_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name}={fn!r} is not callable; valid: None or {MEASURES[name]}")
        self.model, self.scaler = model, scaler
        #: the ranks sharing this schedule (:mod:`lrgym.torch._distributed`); None: one process, no collectives
        self._group = resolve_group(process_group)
        if family is not None:
            check_choice("family", family, FAMILY_NAMES)
        check_policy(policy)
        kwargs = policy_env_kwargs(policy)
        own = {"lr_min": DEFAULT_LR_MIN, "lr_max": DEFAULT_LR_MAX, "cap_factor": DEFAULT_CAP_FACTOR,
               "reward": "log_improvement"}
        own = {key: kwargs.get(key, default) for key, default in own.items()}  # the policy's, else the env's
        lr_min, lr_max = own["lr_min"] if lr_min is None else lr_min, own["lr_max"] if lr_max is None else lr_max
        cap_factor = own["cap_factor"] if cap_factor is None else cap_factor
        reward = own["reward"] if reward is None else reward
        self.lr_min, self.lr_max = check_lr_range(lr_min, lr_max)
        check_choice("action_mode", kwargs["action_mode"], ACTION_MODES)
        self.optimizer = optimizer
        self.policy = policy
        self.action_mode = kwargs["action_mode"]
        self.factors = check_factors(kwargs.get("factors", DEFAULT_FACTORS), name="policy factors")
        self.rejection_threshold = check_rejection_threshold(kwargs.get("rejection_threshold"),
                                                             name="policy rejection_threshold")
        self.policy_optimizer = OptimizerConfig.coerce(kwargs.get("optimizer", "sgd")).name
        other = other_optimizer_warning(optimizer, kwargs.get("optimizer", "sgd"), policy)
        if other is not None:
            warnings.warn(other, stacklevel=3)  # the caller's line (above the checked_keywords wrapper)
        self._identity = policy_identity(policy, kwargs)
        self.ignored_options = sorted(set(kwargs) - set(SUPPORTED_OPTIONS))
        if self.ignored_options:
            warnings.warn(
                f"policy {policy_name(policy)!r} asks for env options PolicyScheduler does not apply: "
                f"{ {k: kwargs[k] for k in self.ignored_options} }; it applies {', '.join(SUPPORTED_OPTIONS)}", stacklevel=3)
        given_lr = reference_lr(g.get("initial_lr", g["lr"]) for g in optimizer.param_groups)
        if lr_init is None:
            lr_init = kwargs.get("lr_init")
            if (lr_init is None and self.action_mode == "discrete"
                    and not math.isclose(given_lr, default_lr_init(self.policy_optimizer), rel_tol=1e-9)):
                start = default_lr_init(self.policy_optimizer)
                warnings.warn(
                    f"policy {policy_name(policy)!r} multiplies the LR by its factors and states no start LR of its "
                    f"own: it starts from lr_init={start:g} (the env's default for "
                    f"{self.policy_optimizer!r}, where lrgym's episodes start), not from the optimizer's "
                    f"lr={given_lr:g}. Pass PolicyScheduler(..., lr_init={given_lr:g}) to start from yours, or "
                    f"build the optimizer with lr={start:g}", stacklevel=3)
        # the env's rule: a start LR outside [lr_min, lr_max] is an error, not clipped
        self.lr = resolve_lr_init(lr_init, self.policy_optimizer, self.lr_min, self.lr_max)
        self.val_fn, self.train_loss_fn = val_fn, train_loss_fn
        self.task_name = check_label("task_name", task_name)
        self.monitor = TrainingMonitor(horizon, updates_per_step, cap_factor, reward, loss_scale=loss_scale)
        self.horizon, self.updates_per_step = self.monitor.horizon, self.monitor.updates_per_step
        for group in optimizer.param_groups:  # as torch.optim.lr_scheduler.LRScheduler records them
            lr = group["lr"]
            group.setdefault("initial_lr", lr.clone() if isinstance(lr, torch.Tensor) else lr)
        self._ratios = lr_ratios(g["initial_lr"] for g in optimizer.param_groups)
        #: the observed gradient is sharded over the group's ranks (FSDP2): its sums are summed over them
        self._sharded = sharded_params(self.observed_params, self._group)
        self._global_gg = math.nan  # the sharded gradient's last ‖g‖², summed over the ranks (_pair_sums)
        if self._sharded and self.rejection_threshold is not None and model is None:
            raise ValueError(
                f"policy {policy_name(policy)!r} undoes steps (rejection_threshold={self.rejection_threshold}), and "
                "the parameters are sharded (FSDP2): an undo puts the shards back, and FSDP must then gather them "
                "again, which the scheduler can ask only of the model; valid: PolicyScheduler(..., model=model) "
                "with the fully_shard model")
        self._last_lr: list[float] = []
        self.last_epoch = 0  # optimizer updates taken, told by step(): one per call that followed an update
        self.last_reward = 0.0
        self._snapshot = None
        self._opt_steps = 0  # optimizer.step() calls since the last step(): 0 = the update was skipped
        self._pending_grad = None  # the flat gradient of that update, when a checkpoint brought it (load_state_dict)
        self._grad_buffer = None  # the float64 vector record_flat_grad fills at the next update (not saved or copied)
        self._warned_skip = False
        self._warned_no_grad = False
        self._warned_multi = False
        #: the ``.grad`` tensors the last ``optimizer.step()`` left (:func:`grad_marks`; None: unknown)
        self._grad_marks = None
        self._step_depth = 0  # optimizer.step() calls running now, nested by super().step(): _before_update
        self._hooks = self._register_hooks()
        self._copy_watch = None  # a copy's (__setstate__): does backward() reach its optimizer's parameters?

        train, val, metric = self._measure(first=True)
        self.last_obs = self.monitor.start(self.lr, train, val, metric)
        self.family = family
        self.monitor.describe(self.lr_min, self.lr_max, self.policy_optimizer, self.action_mode,
                              family=-1 if family is None else family_index(family))
        self.last_info = self.monitor.info(self.lr)
        self.policy.reset(dict(self.last_info))
        self._apply_lr()
        self._begin_step()
        self._agree(rejected=False)
        self._take_ownership()

    # ---- the loop ------------------------------------------------------------------------------

    @property
    def params(self) -> list:
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    @property
    def observed_params(self) -> list:
        """The parameters whose gradient the policy observes: those of the groups the policy's LR
        trains, not of a group at LR 0 (:func:`~lrgym.torch._tensors.observed_params`)."""
        return observed_params(self.optimizer.param_groups, self._ratios)

    @property
    def done(self) -> bool:
        """The policy's episode is over (horizon reached or training diverged); the LR stays."""
        return self.monitor.done

    @property
    def diverged(self) -> bool:
        return self.monitor.diverged

    def step(self, loss=None) -> None:
        """Record the update just taken (its minibatch ``loss``, per-example or scalar, real
        numbers whose mean is >= 0, > 0 when it is the episode's L0: :func:`lrgym.monitor.check_loss`);
        every ``updates_per_step`` updates, observe and set the policy's next LR. If
        ``optimizer.step()`` did not run since the last call (a ``GradScaler`` skipped it), nothing
        is recorded. A refused loss raises ``ValueError`` before anything is recorded, so the
        corrected call records the update: the minibatch loss (not real numbers, a mean < 0, or
        <= 0 as L0) and, on the update that completes a step, ``train_loss_fn()`` and ``val_fn()``,
        which are measured before that update is recorded."""
        if loss is None:
            raise TypeError(
                "PolicyScheduler.step(loss) needs the loss of the update just taken: its per-example losses "
                "(e.g. F.cross_entropy(output, target, reduction='none')) or their mean, a tensor or a number. "
                "Call it after every optimizer.step(), not once per epoch: the policy observes each update. "
                "In PyTorch Lightning (whose scheduler loop calls step() without a loss), do not return it from "
                "configure_optimizers: Trainer(callbacks=[lrgym.torch.lightning.PolicySchedulerCallback(policy, "
                "horizon=...)]) builds it on your optimizer and tells it every update's loss")
        if not self.monitor.done:  # refused before anything changes
            self._check_optimizer_owner()
            self._check_policy_owner()
        # step(loss) runs outside optimizer.step(): an optimizer.step() that raised (its post-hooks
        # never ran) leaves no nesting depth behind (_before_update)
        self._step_depth = 0
        # checked before anything changes: a refused loss leaves the update to the corrected call
        # the update's mean loss, measured once (the kernels' moments): the monitor's check, the
        # step's completion, the record and the divergence of a skipped update all read this one mean
        stepped = self._opt_steps > 0 or self._hooks is None
        losses = None if self.monitor.done else update_loss(self._update_losses(loss, stepped))
        if losses is not None:
            self.monitor.check_update_loss(losses, "step(loss): the update's mean loss")
        if not self.monitor.done and (stepped or self.monitor.diverges(losses)):
            params = self.params
            finite = params_finite(params)
            if self._sharded:  # each rank checked its shards: finite only if every rank's are
                finite = summed(self._group, [float(not finite)])[0] == 0.0
            # the losses after a step are measured before its last update is recorded: a refused
            # train_loss_fn() / val_fn() leaves the scheduler as it was (the corrected call records it)
            measured = self._measure() if self.monitor.completes_step(losses, finite) else None
        if stepped and self._copy_watch is not None:
            self._check_copy()
        if self._opt_steps > 1 and not self.monitor.done:
            self._several_updates(self._opt_steps)
        self._opt_steps = 0
        pending_grad, self._pending_grad = self._pending_grad, None
        if self.monitor.done:
            self.last_epoch += stepped
            return
        if not stepped and not self.monitor.diverges(losses):
            self._skipped_update()
            return  # nothing changed: no update to observe (a non-finite loss still ends the run)
        self.last_epoch += 1
        observed = self.observed_params
        # after an undone first step prev_grad is empty: no pair for this update (the env's update
        # counter, restored to 0, says the same), as TrainingMonitor.record_update documents
        if pending_grad is None:
            # two gradient vectors a run, in turns (record_flat_grad)
            grad, self._grad_buffer = record_flat_grad(self.monitor, losses, observed, finite,
                                                       getattr(self, "_grad_buffer", None), self._pair_sums())
        else:
            grad = pending_grad
            self.monitor.record_update(losses, grad, finite, pair_sums=self._pair_sums())
        zero = self._global_gg == 0.0 if self._sharded else not any_nonzero(grad)  # a shard may be all 0, or empty
        # a gradient of 0 at a loss of 0 is a fit (float32 cross-entropy saturates to both): no slip
        if stepped and pending_grad is None and not self._warned_no_grad and losses.mean > 0 and zero:
            self._zero_gradient(observed)
        if self.monitor.step_complete:
            self._end_step(measured)

    def _take_ownership(self) -> None:
        """Own the optimizer's LRs (:data:`_OWNERS`, known for an optimizer with step hooks) and drive
        the policy (:data:`_POLICY_OWNERS`) from now on: a scheduler built before on the same optimizer
        or with the same policy object refuses its next step (:meth:`_check_optimizer_owner`,
        :meth:`_check_policy_owner`). Taken once the scheduler is built: a construction that raised
        (its object kept alive by a notebook's traceback) takes nothing from the one before."""
        owner = weakref.ref(self)
        if self._hooks is not None:
            _OWNERS[self.optimizer] = owner
        _POLICY_OWNERS[id(self.policy)] = owner
        weakref.finalize(self, _release_policy, id(self.policy), owner)

    def _check_optimizer_owner(self) -> None:
        """Before a step that may set the LRs: no newer scheduler was built on the optimizer
        (:data:`_OWNERS`; not known for an optimizer without step hooks). The newest owns the LRs: an
        older one still stepped would record updates at LRs it did not choose and write its own."""
        if self._hooks is None:
            return
        owner = _OWNERS.get(self.optimizer)
        if owner is None or owner() is not self:
            raise RuntimeError(
                "a newer PolicyScheduler was built on this optimizer: it owns the optimizer's LRs, and this older "
                "one would record updates at LRs it did not choose and write its own over them; valid: step the "
                "newest scheduler only (to drive two optimizers, build a scheduler and a policy for each)")

    def _check_policy_owner(self) -> None:
        """Before a step that may ask the policy: this scheduler is the newest one built with it. A
        policy keeps one episode's state (its step, its LR, an agent's history): a newer scheduler
        reset it, and an older one asking it too would mix the two runs, each getting LRs of neither."""
        owner = _POLICY_OWNERS.get(id(self.policy))
        if owner is None or owner() is not self:
            name = policy_name(self.policy)
            raise RuntimeError(
                f"policy {name!r} ({type(self.policy).__name__}) drives a newer PolicyScheduler, built with the same "
                "policy object after this one: a policy keeps one episode's state (reset at the newer one's "
                "start, asked by both, it would give LRs of neither run); valid: a policy instance per scheduler, "
                f"e.g. make_baseline({name!r}) again or copy.deepcopy(policy) for each optimizer")

    def _zero_gradient(self, params) -> None:
        """The gradient read from ``p.grad`` of the observed parameters (``params``) was exactly 0
        in every entry at a loss above 0. Two causes, told apart by what ``optimizer.step()`` left
        (:attr:`_grad_marks`, recorded by the step hook: each ``.grad`` tensor and its version
        counter, which every in-place change such as ``zero_()`` advances):

        * the loop cleared the gradients between ``optimizer.step()`` and this ``step(loss)``
          (``zero_grad()``: no ``.grad`` left; ``zero_grad(set_to_none=False)``: zeros), so the
          policy observes zero gradients instead of the update's: warned once, with the call order;
        * ``optimizer.step()`` itself had no gradient: no ``.grad`` (backward never reached these
          parameters: a loss detached from them, backward after ``optimizer.step()``): warned once
          too; or a gradient of exactly 0 left untouched since (a dead network: every ReLU
          inactive, weights all 0): that is the update's true gradient, observed as the env would
          observe it, and not warned of (the warning used to tell such a loop, whose call order is
          right, to move its ``zero_grad()``).

        Without step hooks (an optimizer wrapper whose ``step`` runs none) the cause is unknown and
        the warning names both. At a copy's first update on the ``.grad`` it was copied with (none,
        for ``nn.Parameter``: :meth:`_check_copy` judges it at the next), the warning names the
        copy's two causes instead: made between ``backward()`` and ``optimizer.step()``, or without its model."""
        marks = getattr(self, "_grad_marks", None)  # (a scheduler unpickled from an older lrgym has none)
        now = grad_marks(params)
        had_grads = marks is not None and any(mark is not None for mark in marks)
        if marks is not None and marks == now and had_grads:
            return  # the gradient optimizer.step() used is 0: true, not a slip of the loop
        self._warned_no_grad = True
        what = ("no parameter the policy's LR trains has a .grad" if all(p.grad is None for p in params)
                else "every .grad of the parameters the policy's LR trains is 0")
        order = ("call sched.step(loss) right after optimizer.step(), before the next zero_grad(): "
                 "it reads the gradient from p.grad")
        if self._copy_watch is not None:  # a copy's first update, on the .grad it was copied with (_check_copy)
            why = ("this scheduler is a copy (copy.deepcopy or pickle) and its optimizer's parameters have no other "
                   ".grad than they were copied with: either it was copied between loss.backward() and "
                   "optimizer.step() (torch does not copy an nn.Parameter's .grad, so this update moved nothing; copy "
                   "after sched.step(loss) instead), or without the model its losses are computed with (then no "
                   "backward reaches its parameters, warned at the next update)")
        elif marks is None:  # no step hooks: the cause is not known
            why = ("either zero_grad() ran between optimizer.step() and step(loss) (then: " + order + "), or the "
                   "update had no gradient (loss.backward() did not reach these parameters, or a gradient of "
                   "exactly 0, e.g. a dead network: the policy then observes it as the env would)")
        elif had_grads:
            why = "zero_grad() ran between optimizer.step() and step(loss): " + order
        else:
            why = ("optimizer.step() ran without a gradient for them: loss.backward() did not reach them (a loss "
                   "detached from the parameters, or backward() after optimizer.step()), so the update moved "
                   "none of them")
        warnings.warn(
            f"PolicyScheduler.step(loss): at a loss above 0, {what}, so the policy observes zero gradients: "
            f"{why}. Warned once", stacklevel=3)

    def _skipped_update(self) -> None:
        if not self._warned_skip:
            self._warned_skip = True
            warnings.warn(
                "PolicyScheduler.step(loss): optimizer.step() did not run since the last call (torch.amp.GradScaler "
                "skips it when the gradients overflow; or step() was called before optimizer.step(), or once per "
                "micro-batch when accumulating gradients: call it once per optimizer.step(), with all the "
                "micro-batches' losses), so this call is not counted as an update: the policy observes the updates "
                "taken. Warned once", stacklevel=3)

    def _several_updates(self, n: int) -> None:
        """``optimizer.step()`` ran ``n`` > 1 times since the last ``step(loss)``: the scheduler
        records one update per call (it has one loss and reads one gradient), so ``last_epoch``,
        ``info["updates"]`` and the policy's steps count calls, not the optimizer's updates. Warned
        once, naming the counts."""
        if not self._warned_multi:
            self._warned_multi = True
            warnings.warn(
                f"PolicyScheduler.step(loss): optimizer.step() ran {n} times since the last call, but one call records "
                f"one update (its loss, the gradient in p.grad now): the other {n - 1} are not observed or counted "
                "(last_epoch, info['updates'] and the policy's steps count step(loss) calls). Call sched.step(loss) "
                "after every optimizer.step(). Warned once", stacklevel=3)

    def _register_hooks(self) -> tuple | None:
        """Optimizer step hooks (``register_step_pre_hook`` / ``_post_hook``; they run under a
        compiled ``opt.step()`` too, outside the graph: ``torch.compiler.disable``) holding the scheduler weakly: before each update, adopt parameter
        groups added since and check that nothing else changed the LRs (only the optimizer's owner,
        :data:`_OWNERS`); after it, count it, so :meth:`step` knows whether the update it is told
        about happened. Removed when the scheduler is garbage-collected. None for an optimizer
        whose ``step`` runs no hooks (:func:`runs_step_hooks`): every ``step(loss)`` is then an
        update taken, and the LRs are not checked."""
        optimizer = self.optimizer
        if not runs_step_hooks(optimizer):
            return None
        before_update = weakref.WeakMethod(self._before_update)
        after_update = weakref.WeakMethod(self._after_update)

        def before(optimizer, args, kwargs):
            method = before_update()
            if method is not None:
                owner = _OWNERS.get(optimizer)
                method(owns=owner is not None and owner() is method.__self__)

        def after(optimizer, args, kwargs):
            method = after_update()
            if method is not None:
                method()

        # bookkeeping in Python, never traced: under a compiled optimizer.step() dynamo guarded on
        # each .grad's identity in _grad_marks and recompiled at every update (its recompile limit)
        before, after = torch.compiler.disable(before), torch.compiler.disable(after)
        handles = (optimizer.register_step_pre_hook(before), optimizer.register_step_post_hook(after))
        for handle in handles:
            weakref.finalize(self, handle.remove)
        return handles

    def _before_update(self, owns: bool = True) -> None:
        """Before ``optimizer.step()`` (hook): if this scheduler ``owns`` the optimizer's LRs
        (:data:`_OWNERS`), groups added since get their LR and no LR was changed by another.

        torch runs an optimizer's step hooks once per class in the call chain of ``step``: a
        subclass whose ``step`` calls ``super().step()`` (gradient clipping, logging, a Lookahead
        wrapper) runs them twice per update once its parent class has been instantiated too. The
        depth of those nested runs (:attr:`_step_depth`) makes one ``optimizer.step()`` one update:
        only the outermost run checks the LRs here and counts the update in :meth:`_after_update`."""
        depth = getattr(self, "_step_depth", 0)
        if depth == 0 and owns:
            if len(self.optimizer.param_groups) > len(self._ratios):
                self._adopt_new_groups()
            self._check_lrs()
        self._step_depth = depth + 1  # after the check: a refused update ran no step, and no post-hook

    def _after_update(self) -> None:
        """After ``optimizer.step()`` ran (hook): the update was taken, unless the optimizer itself
        skipped it for an AMP overflow (:func:`skipped_inside`): that one is not counted, exactly as
        an update ``GradScaler`` does not run at all. A taken update's gradient is in ``p.grad``:
        a pending one loaded from a checkpoint is superseded. The post-hook of a nested
        ``super().step()`` counts nothing: the outermost one counts the update (:meth:`_before_update`)."""
        self._step_depth = max(getattr(self, "_step_depth", 1) - 1, 0)
        if self._step_depth > 0 or skipped_inside(self.optimizer):
            return
        self._opt_steps += 1
        self._pending_grad = None
        if not self._warned_no_grad:  # read only by the zero-gradient check, which warns once
            self._grad_marks = grad_marks(self.observed_params)

    def _adopt_new_groups(self) -> None:
        """Groups added by ``optimizer.add_param_group`` after construction get the policy's LR times
        their ratio to the reference group (their own LR over the ``initial_lr`` of the first group
        with a nonzero one, :func:`~lrgym.torch._tensors.lr_ratios`; a group added at LR 0 stays at
        0), before their first update. The groups already there keep their ratios."""
        groups = self.optimizer.param_groups
        for group in groups[len(self._ratios):]:
            lr = group["lr"]
            group.setdefault("initial_lr", lr.clone() if isinstance(lr, torch.Tensor) else lr)
        self._ratios += lr_ratios(g["initial_lr"] for g in groups)[len(self._ratios):]
        if self.monitor.done:  # the run is over: the LRs are the user's, none is set
            return
        self._snapshot = None  # the optimizer state saved for undoing this step no longer fits: not undone
        self._apply_lr()

    def _check_lrs(self) -> None:
        """Before an update: every group still has the LR this scheduler set. Another LR scheduler on
        the same optimizer (``LinearLR`` warm-up, ``ChainedScheduler``, ``SequentialLR``) or code of
        yours that moved it would run updates at an LR the policy does not know it chose. Once the
        policy's run is over (``done``) the LR is yours again. (A tensor LR off the CPU is not read:
        reading it would synchronise the device.)"""
        if self.monitor.done:
            return
        for i, (group, lr) in enumerate(zip(self.optimizer.param_groups, self._last_lr)):
            now = group["lr"]
            if isinstance(now, torch.Tensor) and now.device.type != "cpu":
                continue
            if not math.isclose(float(now), lr, rel_tol=1e-6):  # a float32 tensor LR holds lr rounded
                raise RuntimeError(
                    f"optimizer.param_groups[{i}]['lr'] is {float(now):g} at this update, but PolicyScheduler set "
                    f"{lr:g}: something else changed it (another LR scheduler on this optimizer, e.g. a LinearLR "
                    "warm-up, or code assigning param_groups[i]['lr']). The policy owns the LR of every group "
                    "until sched.done and cannot be chained with other schedulers (ChainedScheduler, "
                    "SequentialLR); valid: leave the LR to the policy (resuming, load the scheduler's state too)")

    def _begin_step(self) -> None:
        """Ask the policy for this step's LR (the first step uses ``lr_init`` only if the policy
        says so: the env too asks the policy before its first step)."""
        action = self.policy.act(self.last_obs.copy(), dict(self.last_info))
        self.lr = float(next_lr(action, self.lr, self.action_mode, self.factors, self.lr_min, self.lr_max,
                                driver="scheduler"))
        self._apply_lr()
        if self.rejection_threshold is not None:
            self._snapshot = self._take_snapshot()

    def _pair_sums(self):
        """``record_update``'s ``pair_sums`` for a sharded gradient (FSDP2, :func:`sharded_params`):
        this rank's shard's ‖g‖², g·g_prev and ‖g_prev‖² summed over the ranks (the whole
        gradient's; ‖g‖² kept for the zero-gradient check); None for a whole one."""
        if not self._sharded:
            return None

        def over_ranks(gg: float, gp: float, pp: float) -> tuple:
            sums = summed(self._group, [gg, gp, pp])
            self._global_gg = sums[0]
            return sums

        return over_ranks

    def _update_losses(self, loss, stepped: bool) -> np.ndarray:
        """The update's losses as the policy observes them: this rank's (:func:`losses_array`), or
        under ``torch.distributed`` every rank's, the global batch (:func:`global_losses`)."""
        if self._group is None:
            return losses_array(loss)
        return global_losses(self._group, lambda: losses_array(loss), stepped)

    def _measure(self, first: bool = False) -> tuple:
        """``train_loss_fn()`` and ``val_fn()`` (:func:`measure`), under ``torch.distributed``
        averaged over the ranks (:func:`global_measures`)."""
        if self._group is None:
            return measure(self.train_loss_fn, self.val_fn, first=first)
        return global_measures(self._group, lambda: measure(self.train_loss_fn, self.val_fn, first=first))

    def _agree(self, rejected: bool) -> None:
        """Under ``torch.distributed``, after a decision: every rank took the same one, and sets
        rank 0's LR (:func:`agreed_decision`; a ``RuntimeError`` on every rank if they differ)."""
        if self._group is None:
            return
        lr = agreed_decision(self._group, self.lr, rejected, self.monitor.done)
        if lr != self.lr:  # rounding apart (ranks on other CPUs): rank 0's, so the replicas stay the same
            self.lr = lr
            self._apply_lr()

    def _take_snapshot(self) -> tuple:
        """What an undo of the step beginning now puts back: (parameters, optimizer state, the
        monitor's previous gradient, the losses before the step, the model's buffers by name or None,
        the GradScaler's state or None). Buffers (BatchNorm's running statistics and batch counter)
        and the scaler's state are only known when the scheduler was given ``model`` / ``scaler``.
        Copied outside ``torch.inference_mode`` (:func:`_normal_tensors`): clones made under the
        caller's inference mode (``sched.step`` in a logging block) are inference tensors, which
        an undo put into the optimizer's state, and the next ``opt.step()`` outside it refused to
        update in place."""
        with _normal_tensors():
            return (
                [p.detach().clone() for p in self.params],
                copy.deepcopy(state_holder(self.optimizer).state_dict()),
                self.monitor.prev_grad.copy(),
                self.monitor.losses(),
                None if self.model is None else {name: b.detach().clone() for name, b in self.model.named_buffers()},
                None if self.scaler is None else self.scaler.state_dict(),
            )

    def _end_step(self, measured: tuple | None = None) -> None:
        """Close the step with the losses ``measured`` after it (:func:`measure`; measured here if None)."""
        train, val, metric = self._measure() if measured is None else measured
        self.monitor.close_step(train, val, metric)
        rejected = False
        if self._snapshot is not None and not self.monitor.diverged:
            before = self._snapshot[3]  # (train loss, val loss, metric) before the step
            if math.isnan(before[0]):  # the first step of a deferred start: L0 is known now (the env's reset loss)
                before = self.monitor.deferred_start_losses()
            train_before = before[0]
            if self.monitor.stats[S_TRAIN_LOSS] > (1.0 + self.rejection_threshold) * train_before:
                self._restore(self._snapshot)
                self.monitor.restore_losses(*before)
                rejected = True
        self.last_obs, self.last_reward = self.monitor.observe(self.lr)
        self.last_info = self.monitor.info(self.lr, rejected=rejected)
        if not self.monitor.done:
            self._begin_step()
        self._agree(rejected)

    def _restore(self, snapshot) -> None:
        """Undo the step: parameters, buffers and the scaler's state copied back in place, the
        optimizer's state loaded, keeping the user's tensor hyper-parameters (a tensor LR) as the
        same tensor objects: ``optimizer.load_state_dict`` alone would replace them with copies.
        (A snapshot of an older lrgym has no buffers or scaler state: those are left as they are.)
        Outside ``torch.inference_mode``, as the snapshot is taken: the optimizer's state loaded
        here is copied again, and must not become inference tensors."""
        with _normal_tensors():
            self._put_back(snapshot)

    def _put_back(self, snapshot) -> None:
        saved_params, saved_opt, prev_grad, _, saved_buffers, saved_scaler = (*snapshot, None, None)[:6]
        with torch.no_grad():
            for p, saved in zip(self.params, saved_params):
                p.copy_(saved)
        if self._sharded:
            _reshard(self.model)
        with torch.no_grad():
            if self.model is not None and saved_buffers is not None:
                for name, buffer in self.model.named_buffers():
                    if name in saved_buffers:
                        buffer.copy_(saved_buffers[name])
        holder = state_holder(self.optimizer)
        tensors = [{key: value for key, value in group.items() if isinstance(value, torch.Tensor)}
                   for group in holder.param_groups]
        holder.load_state_dict(copy.deepcopy(saved_opt))
        with torch.no_grad():
            for group, kept in zip(holder.param_groups, tensors):
                for key, tensor in kept.items():
                    saved = group.get(key)
                    if isinstance(saved, torch.Tensor):
                        tensor.copy_(saved)
                    elif isinstance(saved, (float, int)) and not isinstance(saved, bool):
                        tensor.fill_(saved)  # the number itself, at the tensor's precision (not via float32)
                    group[key] = tensor
        if self.scaler is not None and saved_scaler is not None:
            self.scaler.load_state_dict(saved_scaler)
        self.monitor.prev_grad = prev_grad.copy()  # empty when the step undone was the first: see step()

    def _apply_lr(self) -> None:
        """Set every group's LR (Python floats; a tensor LR is filled in place, as torch's schedulers do)."""
        self._last_lr = [self.lr * ratio for ratio in self._ratios]
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            set_group_lr(group, lr)

    def __copy__(self):
        """``copy.copy(sched)`` is refused: a scheduler's copy is independent only with an optimizer
        and a policy of its own (one optimizer's LRs have one owner, one policy runs one episode),
        and those a shallow copy shares. It used to share them, and the monitor: the copy took the
        optimizer and the policy over, and the original's next step failed with "a newer
        PolicyScheduler was built on this optimizer". ``copy.deepcopy((model, optimizer, sched))``
        copies the three together (the copy trains the copied model); a state moves between
        schedulers with :meth:`state_dict` / :meth:`load_state_dict`."""
        raise TypeError(
            "copy.copy of a PolicyScheduler would share its optimizer, policy and episode with the original, and "
            "one optimizer's LRs have one owner; valid: copy.deepcopy((model, optimizer, sched)) for an "
            "independent copy of the run (the copied scheduler drives the copied optimizer, which trains the "
            "copied model), or sched.state_dict() loaded into a PolicyScheduler built on another optimizer and "
            "policy (load_state_dict)")

    def __getstate__(self) -> dict:
        """``copy.deepcopy`` / ``pickle``: everything but the hook handles (a copied optimizer has
        no hooks: torch's ``Optimizer.__getstate__`` drops them) and a copy's watch of its
        parameters; :meth:`__setstate__` registers the copy's own on its optimizer, so the copy
        counts its own updates. Copied between ``optimizer.step()`` and ``step(loss)``, the update's
        gradient is copied too (the copy's parameters have no ``.grad``: torch copies none)."""
        state = self.__dict__.copy()
        state.pop("_hooks", None)
        state.pop("_copy_watch", None)
        state.pop("_grad_buffer", None)  # scratch space, refilled at every update
        if self._opt_steps > 0 and self._pending_grad is None and not self.monitor.done:
            # copied between optimizer.step() and step(loss): the update's gradient goes with the copy,
            # as in state_dict(), since torch's copy of an nn.Parameter has no .grad to read it from
            state["_pending_grad"] = flat_grad(self.observed_params)
        return state

    def __setstate__(self, state: dict) -> None:
        """A copy (``copy.deepcopy`` or ``pickle``) of a scheduler: it drives the copied optimizer,
        whose parameters are the copied model's only if the model was copied in the same call. It
        watches whether ``backward()`` reaches them (:class:`~lrgym.torch._copies.BackwardWatch`),
        judged at its first updates (:meth:`_check_copy`), since at copy time that is not known."""
        self.__dict__.update(state)
        self.__dict__.setdefault("_group", None)  # a scheduler pickled by an older lrgym: one process
        self.__dict__.setdefault("_sharded", False)
        self.__dict__.setdefault("_global_gg", math.nan)
        self._grad_buffer = None
        self._hooks = self._register_hooks()
        self._copy_watch = BackwardWatch(self.params)
        self._take_ownership()  # of the copy's optimizer and policy (shared by a shallow copy)

    def _check_copy(self) -> None:
        """At an update of a copy still watched: warn once if no ``backward()`` since the copy
        reached the parameters its optimizer trains (:mod:`lrgym.torch._copies`): it was copied
        without the model the loss is computed with. The generic zero-gradient warning, which
        would blame ``backward()``, is then not repeated."""
        verdict = self._copy_watch.verdict()
        if verdict == NOT_YET:
            return
        self._copy_watch = None
        if verdict == ORPHANED:
            self._warned_no_grad = True
            warnings.warn(
                "PolicyScheduler.step(loss): this scheduler is a copy (copy.deepcopy or pickle) made without the "
                "model its losses are computed with: since the copy, no loss.backward() reached the parameters its "
                "optimizer trains, which are new copies no model holds (the model was not copied in the same call), "
                "so its updates train tensors no loss is computed with and the model is never updated; valid: "
                "copy.deepcopy((model, optimizer, sched)) or pickle.dumps((model, optimizer, sched)), the three in "
                "one call (any order), training the copied model, or sched.state_dict() loaded into a "
                "PolicyScheduler built on another optimizer and policy (load_state_dict). Warned once",
                stacklevel=3)

    # ---- torch.optim.lr_scheduler conventions ----------------------------------------------------

    def get_last_lr(self) -> list[float]:
        """The LR of every parameter group set by the last decision (Python floats)."""
        return list(self._last_lr)

    def get_lr(self) -> list[float]:
        """The LR of every parameter group in effect now, as :meth:`get_last_lr` (prefer that
        one). torch's schedulers compute the next LRs here from a closed form; a policy decides
        its next LR only from what the step it is in observes, so the LRs known are those set.
        (``LRScheduler.get_lr``, inherited, raised a bare ``NotImplementedError``, though
        ``isinstance(sched, LRScheduler)`` holds and tutorials call ``get_lr()`` to log the LR.)"""
        return self.get_last_lr()

    @property
    def base_lrs(self) -> list:
        """Every parameter group's ``initial_lr``, as torch's schedulers keep it: the LR the group
        had when the scheduler was built (or when it was added), which sets only its ratio to the
        policy's LR here (class docstring), not where the schedule starts."""
        return [group.get("initial_lr", group["lr"]) for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Everything but the optimizer and the model (checkpoint those with their own
        ``state_dict()``): counters, LR, the monitor's statistics, the step being undone (bold
        driver) and the policy's state, and whether an ``optimizer.step()`` ran that ``step(loss)``
        has not been told about yet, with that update's gradient (``pending_grad``, the flat
        float64 vector :func:`flat_grad` reads; None when no update is pending): saved at any point
        of the loop, also between the two calls, the loaded scheduler continues exactly, also into
        a fresh model and optimizer whose ``p.grad`` is None. Plain data and tensors only, so
        ``torch.save`` then ``torch.load`` with its default ``weights_only=True`` read it back
        (:mod:`lrgym.torch.checkpoint`).

        The policy's state: what its ``state_dict()`` returns if it has ``state_dict()`` and
        ``load_state_dict(state)`` methods, else its attributes (``__getstate__()``: NumPy arrays
        as tensors, helper objects attribute by attribute). A value that is not data (a function,
        an open file) raises ``TypeError`` naming it, e.g. ``policy.schedule``: give such a policy
        the two methods.
        """
        return {
            "last_epoch": int(self.last_epoch),
            "lr": float(self.lr),
            "ratios": [float(r) for r in self._ratios],
            "last_obs": self.last_obs.tolist(),
            "last_info": {k: v.item() if isinstance(v, np.generic) else v for k, v in self.last_info.items()},
            "last_reward": float(self.last_reward),
            "monitor": to_checkpoint(self.monitor.state_dict(), "monitor"),
            "policy": policy_state(self.policy),
            "policy_identity": copy.deepcopy(self._identity),
            "snapshot": to_checkpoint(self._snapshot, "snapshot"),
            # optimizer.step() ran since the last step(loss): saved between the two, the next step(loss)
            # after loading must record that update, as it would have without the round trip
            "opt_steps": int(self._opt_steps),
            "pending_grad": self._pending_grad_tensor(),
            "horizon": int(self.horizon),
            "updates_per_step": int(self.updates_per_step),
            "settings": self._episode_settings(),
            "warned_skip": bool(self._warned_skip),
            "warned_no_grad": bool(self._warned_no_grad),
            "warned_multi": bool(self._warned_multi),
            # [rank, ranks] when the state holds this rank's shard (FSDP2; ZeRO while a step may be undone)
            "shard_of": self._shard_of() if (self._sharded or self._snapshot is not None) else None,
        }

    def _shard_of(self) -> list[int] | None:
        """This rank's ``[rank, ranks]`` when its state holds a shard of its own (:func:`shard_owner`)."""
        return shard_owner(self.optimizer, self._group, self._sharded)

    def _pending_grad_tensor(self) -> torch.Tensor | None:
        """The gradient of the update taken but not yet told (``step(loss)`` reads it from ``p.grad``,
        which a resumed model does not have), as a float64 CPU tensor; None when none is pending
        (or the run is over: ``step`` then reads no gradient)."""
        if self._opt_steps == 0 or self.monitor.done:
            return None
        grad = self._pending_grad if self._pending_grad is not None else flat_grad(self.observed_params)
        return torch.from_numpy(np.array(grad, dtype=np.float64))  # a copy

    _KEYS = ("last_epoch", "lr", "ratios", "last_obs", "last_info", "last_reward", "monitor", "policy", "snapshot")

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` (also after ``torch.load``): the next updates give the
        LRs and observations of the run that was saved, to the bit. Build the scheduler with the
        policy the state was saved with: the same name (a baseline's registry name), class and
        env contract (optimizer, action mode, env options: :func:`policy_identity`), e.g.
        ``make_baseline("dqn")`` again, not ``"ppo"`` (its state is loaded into it, as
        ``nn.Module.load_state_dict`` loads into a module: attributes such as a schedule's LR come
        from the state); on an optimizer with as many parameter groups; with the same ``horizon``,
        ``updates_per_step``, ``family`` and episode settings (:meth:`_episode_settings`). Otherwise a ``ValueError`` names what differs, the saved value and
        this scheduler's, and nothing is loaded. Load the model's, the optimizer's and this state in
        any order. A state of an older lrgym (no ``pending_grad``, no ``policy_identity``: only the
        policy's class is checked) still loads."""
        missing = [key for key in self._KEYS if key not in state]
        if missing:
            raise ValueError(f"not a PolicyScheduler state: missing {missing}; valid: a dict from state_dict()")
        ratios = [float(r) for r in state["ratios"]]
        if len(ratios) != len(self.optimizer.param_groups):
            raise ValueError(f"the state has {len(ratios)} parameter group(s), the optimizer "
                             f"{len(self.optimizer.param_groups)}; valid: the optimizer the state was saved with")
        self._check_same_episode(state)
        self._check_same_policy(state.get("policy_identity"))
        check_shard_owner(state.get("shard_of"), self._shard_of())  # absent from an older lrgym's state
        # all or nothing: everything is built and checked first (the policy's state against the live
        # policy, the monitor's by its prepare_load), then loaded; a state that cannot be loaded changes nothing
        load_monitor = self.monitor.prepare_load(from_checkpoint(state["monitor"], None, "monitor"))
        with _normal_tensors():  # the snapshot's tensors go into the optimizer if its step is undone
            snapshot = from_checkpoint(state["snapshot"], None, "snapshot")
        last_info = {k: INFO_SCHEMA[k].type(v) if k in INFO_SCHEMA else v for k, v in state["last_info"].items()}
        pending = state.get("pending_grad")  # absent from an older lrgym's state: p.grad is read
        loaded = {
            "last_epoch": int(state["last_epoch"]), "lr": float(state["lr"]), "_ratios": ratios,
            "last_obs": np.array(state["last_obs"], dtype=np.float32), "last_info": last_info,
            "last_reward": float(state["last_reward"]), "_snapshot": snapshot,
            "_opt_steps": int(state.get("opt_steps", 0)),  # absent from an older lrgym's state
            "_pending_grad": None if pending is None else pending.detach().to("cpu", torch.float64).numpy().copy(),
            **{name: bool(state.get(name.lstrip("_"), getattr(self, name)))
               for name in ("_warned_skip", "_warned_no_grad", "_warned_multi")}}
        load_policy_state(self.policy, state["policy"])  # last to raise: a policy's own load_state_dict may
        load_monitor()
        for name, value in loaded.items():
            setattr(self, name, value)
        self._apply_lr()

    def _episode_settings(self) -> dict:
        """The scheduler's own episode settings, beside ``horizon`` and ``updates_per_step``: the LR
        range its ``log_lr`` actions are decoded in and clipped to, the divergence cap's
        ``cap_factor`` and ``loss_scale``, and the reward (Python numbers and a str)."""
        monitor = self.monitor
        return {"lr_min": float(self.lr_min), "lr_max": float(self.lr_max), "cap_factor": float(monitor.cap_factor),
                "loss_scale": float(monitor.loss_scale), "reward": str(monitor.reward)}

    def _check_same_episode(self, state: dict) -> None:
        """The state continues an episode of this scheduler's length, family and settings: the same
        ``horizon``, ``updates_per_step`` (an older lrgym's state has them in its ``last_info``,
        as the env's ``horizon`` / ``inner_steps``), ``family`` (its info index) and
        ``lr_min``, ``lr_max``, ``cap_factor``, ``loss_scale`` and ``reward`` (:meth:`_episode_settings`;
        an older lrgym's state has the LR range in its ``last_info``). Otherwise progress t/T, the
        info and the step boundaries would mix the two runs, and a resumed ``log_lr`` policy's
        actions would be decoded in another LR range (the run went on at other LRs, in silence,
        while its info still showed the saved range)."""
        info = state["last_info"]
        saved = {}
        for name, info_key in (("horizon", "horizon"), ("updates_per_step", "inner_steps")):
            value = state.get(name, info.get(info_key))
            if value is not None:
                saved[name] = int(value)
        if "family" in info:
            saved["family"] = _family_arg(int(info["family"]))
        settings = state.get("settings") or {key: info[key] for key in ("lr_min", "lr_max") if key in info}
        saved.update({key: value for key, value in settings.items()})
        mine = {"horizon": self.horizon, "updates_per_step": self.updates_per_step, "family": self.family,
                **self._episode_settings()}
        wrong = [name for name in saved if name in mine and not same_value(saved[name], mine[name])]
        if wrong:
            was = ", ".join(f"{name}={saved[name]!r}" for name in wrong)
            now = ", ".join(f"{name}={mine[name]!r}" for name in wrong)
            raise ValueError(f"the state was saved by a PolicyScheduler with {was}, this scheduler has {now}; "
                             f"valid: build the scheduler as the saved one was ({was})")

    def _check_same_policy(self, saved: dict | None) -> None:
        """The state's policy is this scheduler's (:func:`policy_identity`); None: a state of an
        older lrgym, which recorded only the class (checked when the policy's state loads)."""
        if saved is None or same_value(saved, self._identity):
            return
        mine = self._identity
        keys = [key for key in sorted(set(saved["config"]) | set(mine["config"]))
                if not same_value(saved["config"].get(key), mine["config"].get(key))]
        raise ValueError(
            f"the state was saved with policy {identity_text(saved, keys)}, this scheduler drives policy "
            f"{identity_text(mine, keys)}; valid: build the scheduler with the policy the state was saved with "
            f"({saved['name']!r}, built the same way, e.g. make_baseline({saved['name']!r}) for a baseline)")
