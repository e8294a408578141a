"""``TrainingMonitor``: the environment's statistics, observations and rewards for a training
loop that runs outside lrgym's kernels (a user's PyTorch loop, :mod:`lrgym.torch`).

It is the env's own code, not a copy: per update, the loop hands over the minibatch's
per-example losses and the raw minibatch gradient, which go through the kernels' accumulators
(:func:`lrgym.tasks.stats.loss_moments`, :func:`~lrgym.tasks.stats.record_gradient_pair`,
:func:`~lrgym.tasks.stats.finish_stats`) into the same ``stats`` vector (``S_*`` layout of
:mod:`lrgym.tasks.base`) a kernel fills; at the end of a step the env's compiled
:func:`lrgym.step.observe` turns it into the observation (:func:`lrgym.features.features`) and
the reward (:func:`lrgym.rewards.reward`). So a policy sees the same features with
the same definitions in both places::

    monitor = TrainingMonitor(horizon=50, updates_per_step=10)
    obs, info = monitor.start(lr, train_loss=L0, val_loss=V0, val_metric=M0)
    for each update k of step t:
        monitor.record_update(per_example_losses, flat_gradient, params_finite)
    obs, reward, info = monitor.finish_step(lr, train_loss, val_loss, val_metric)

Definitions that differ from an lrgym kernel only where a real loop has less to offer:

* ``train_loss``: the training objective after the step. Pass it (e.g. the loss on a fixed set
  of training rows, as lrgym's families do); if the loop has no such evaluation, pass ``None``
  and the step's mean minibatch loss is used.
* A scalar minibatch loss (no per-example losses) has no spread: the step is recorded with
  Var ℓ = (E ℓ)², so the ``log_loss_cv`` feature reads 0 (cv = 1) instead of an invented value.
* ``start`` without ``train_loss`` (nothing measured before the first update) defers the
  episode's reference values L0, V0 to the first minibatch loss (measured at the initial
  parameters); until then the observation is the one every episode starts from (relative
  features 0).

Which losses a policy can observe (:func:`check_loss`, applied to every loss the monitor takes):
the features are logs of losses relative to the first training loss L0, so L0 must be > 0 and
every later loss (minibatch means, training and validation losses) >= 0. A later 0 is observed as
the env observes it (floored at :data:`lrgym.features.TINY`); NaN and ±inf are a divergence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lrgym.brief import brief
from lrgym.features import M_CAP, M_METRIC0, N_FEATURES, N_MEMORY, features, start_episode
from lrgym.info import ACTION_MODES, make_info
from lrgym.optim import OPTIMIZERS, check_choice
from lrgym.rewards import REWARDS, check_reward_alphas, reward_code, reward_params
from lrgym.settings import (
    DEFAULT_CAP_FACTOR,
    DEFAULT_REWARD_ALPHAS,
    MAX_COUNT,
    check_cap_factor,
    check_loss_scale,
    check_lr_range,
    positive_int,
)
from lrgym.step import observe
from lrgym.tasks.base import (
    N_STATS,
    S_BATCH_LOSS,
    S_DIVERGED,
    S_LOSS_VAR,
    S_TRAIN_LOSS,
    S_VAL_LOSS,
    S_VAL_METRIC,
)
from lrgym.tasks.stats import (
    A_BATCH_LOSS,
    A_LOSS_VAR,
    N_ACC,
    accumulate_gradient_pair,
    add_gradient_pair,
    finish_stats,
    is_bad,
    loss_moments,
    record_gradient_pair,
)

_NO_OPTIMUM = np.float64(math.nan)  # a monitored task of your own states no optimum: excess_loss NaN

__all__ = ["TrainingMonitor", "UpdateLoss", "check_loss", "update_loss"]

_LOSS_REMEDY = ("e.g. yours plus a constant that keeps it above 0 (a Gaussian NLL + 10), or a loss bounded "
                "below by 0 (MSE, cross-entropy)")


def check_loss(value: float, name: str, first: bool = False, at_start: bool = False) -> float:
    """``value`` if a policy can observe it as a loss, else a ``ValueError`` naming it (``name``)
    and the remedy. lrgym's features are logs of losses relative to the episode's first training
    loss L0 (:mod:`lrgym.features`), so:

    * the first loss (``first=True``: L0, measured before the first update or, deferred, the first
      minibatch's mean loss) must be > 0. An L0 of 0 or below has no log: floored at
      :data:`lrgym.features.TINY` (1e-300) it makes the divergence cap ``cap_factor · L0`` tiny, so
      every later positive loss would read as a divergence and end the run at once, silently;
    * every later loss must be >= 0. A negative one means a loss not bounded below by 0 (a Gaussian
      NLL, an ELBO-style or offset loss), whose logs mean nothing. A later 0 (or ``-0.0``, which
      float32 cross-entropy returns for a large margin; an exactly fitted MSE) is accepted: it is
      observed as the env observes it, floored at TINY (the log features saturate at their clip);
    * NaN and ±inf pass, first or later: they are the divergence the run ends on, as in the env —
      except ``at_start``: a loss measured before the first update (L0 and V0 given to
      :meth:`TrainingMonitor.start`: ``PolicyScheduler``'s ``train_loss_fn()`` / ``val_fn()`` at
      construction, ``TorchTrainingEnv``'s reset) is the episode's reference, not a divergence:
      nothing has trained yet. It must be finite (a NaN or inf there was replaced by 1.0 in
      silence: the run went on with every feature relative to 1 and a cap of ``cap_factor · 1``).
    """
    value = float(value)
    if not math.isfinite(value):
        if at_start:
            raise ValueError(
                f"{name} is {value:g}, measured before the first update: it must be finite, because it is the "
                "episode's reference (lrgym's policies observe losses relative to it) and nothing has trained yet, "
                "so it is no divergence; valid: a model and a loss that are finite at the start (a NaN or inf "
                "loss after an update is a divergence, which ends the run)")
        return value
    if first and value <= 0:
        raise ValueError(
            f"{name} is {value:g}, the episode's first loss (L0): it must be > 0, because lrgym's policies observe "
            "log losses relative to it and a first loss <= 0 has no log (floored, every later loss would read as a "
            f"divergence); valid: a finite first loss > 0, {_LOSS_REMEDY} that is not already 0 at the start")
    if value < 0:
        raise ValueError(
            f"{name} is {value:g}: losses must be >= 0 (> 0 for the first), because lrgym's policies observe log "
            "losses and a negative loss, one not bounded below by 0, has no log; valid: a finite loss >= 0 (a later "
            f"0 reads as the floor 1e-300, as in the env), {_LOSS_REMEDY}")
    return value


@dataclass(frozen=True)
class UpdateLoss:
    """One update's minibatch loss, measured once (:func:`update_loss`) and passed along: what
    :meth:`TrainingMonitor.check_update_loss`, :meth:`~TrainingMonitor.completes_step` and
    :meth:`~TrainingMonitor.record_update` judge and record, so the kernels' moments of an update
    are computed once, and every decision about it reads the same mean.

    ``mean``: the kernels' mean of the per-example losses (:func:`lrgym.tasks.stats.loss_moments`),
    or the scalar loss itself; ``var``: the within-minibatch variance ``loss_moments`` adds into
    the accumulator (None for a scalar loss: no spread measured)."""

    mean: float
    var: float | None


def update_loss(losses) -> UpdateLoss:
    """The :class:`UpdateLoss` of an update's losses (per-example losses, or a scalar mean loss:
    anything ``np.asarray`` reads as float64), an :class:`UpdateLoss` as it is. The moments are
    ``loss_moments``' own, into a scratch accumulator: its entries are ``0.0 + m`` and ``0.0 + v``,
    which are ``m`` and ``v`` exactly (``v`` is never −0.0: a sum of squares from +0.0), so adding
    them to :attr:`TrainingMonitor.acc` later leaves there what ``loss_moments`` adds directly."""
    if isinstance(losses, UpdateLoss):
        return losses
    losses = np.ascontiguousarray(np.atleast_1d(np.asarray(losses, dtype=np.float64)).ravel())
    if losses.shape[0] == 1:  # a scalar loss: no spread measured (close_step sets cv = 1)
        return UpdateLoss(float(losses[0]), None)
    scratch = np.zeros(N_ACC)
    mean = loss_moments(losses, scratch)
    return UpdateLoss(float(mean), float(scratch[A_LOSS_VAR]))


def _finite_number(value) -> bool:
    """``value`` is a finite number (any real a float() reads: a NumPy integer, a 0-d tensor), not a bool."""
    if value is None or isinstance(value, (bool, np.bool_, str, bytes)):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


class TrainingMonitor:
    """Statistics → observation and reward, one env step = ``updates_per_step`` updates.

    ``horizon`` steps make an episode (``progress = t / horizon``); ``cap_factor`` and
    ``loss_scale`` set the divergence cap (``cap_factor · max(L0, loss_scale)``, as in
    :class:`~lrgym.env.LRControlEnv`; ``loss_scale`` nan: L0 alone); ``reward`` and
    ``reward_alphas`` as in the env. All state is NumPy arrays and numbers (:meth:`state_dict`).
    """

    def __init__(self, horizon: int, updates_per_step: int, cap_factor: float = DEFAULT_CAP_FACTOR,
                 reward: str = "log_improvement", reward_alphas: tuple[float, float] = DEFAULT_REWARD_ALPHAS,
                 loss_scale: float = math.nan):
        # the env's checks (lrgym.settings), so a bad value fails here as it fails in the env
        self.horizon = positive_int("horizon", horizon, MAX_COUNT)
        self.updates_per_step = positive_int("updates_per_step", updates_per_step, MAX_COUNT)
        self.cap_factor = check_cap_factor(cap_factor)
        check_choice("reward", reward, REWARDS)
        self.loss_scale = check_loss_scale(loss_scale)
        self.reward = reward
        self._reward_code = reward_code(reward)
        self._reward_params = reward_params(*check_reward_alphas(reward_alphas))  # a pair, as the env checks it
        self.stats = np.zeros(N_STATS)
        self.memory = np.zeros(N_MEMORY)
        self.obs = np.zeros(N_FEATURES, dtype=np.float32)
        self.acc = np.zeros(N_ACC)
        self.prev_grad = np.zeros(0)
        self.t = 0  # env steps finished
        self.updates = 0  # updates recorded in the episode
        self.step_updates = 0  # updates recorded in the current step
        self.started = False  # L0, V0 known
        self.diverged = False
        self._first_loss = math.nan
        self._scalar_losses = False
        self._constants = None

    # ---- episode ------------------------------------------------------------------------------

    def start(self, lr: float, train_loss: float | None = None, val_loss: float | None = None,
              val_metric: float = math.nan) -> np.ndarray:
        """Begin an episode at LR ``lr``; returns the initial observation (a copy).

        ``reward="metric_delta"`` rewards the change of the validation metric, so it needs
        ``val_metric`` from the start (a ``ValueError`` otherwise: every reward would be NaN).
        ``train_loss`` (L0) must be finite and > 0, ``val_loss`` finite and >= 0 (:func:`check_loss`
        ``at_start``: no update has run, so a NaN is no divergence); a ``ValueError`` otherwise, before
        anything changes.
        """
        if self.reward == "metric_delta" and not _finite_number(val_metric):
            raise ValueError(
                f"reward='metric_delta' rewards the change of the validation metric, but the episode "
                f"starts with val_metric={val_metric!r}: give the metric (PolicyScheduler: a val_fn "
                f"returning (loss, metric); TorchTrainingEnv: val_data and metric_fn; "
                f"TrainingMonitor.start(..., val_metric=M0)), or choose a "
                f"reward of the loss; valid choices: "
                + ", ".join(r for r in REWARDS if r != "metric_delta"))
        if train_loss is not None:
            check_loss(train_loss, "the first training loss", first=True, at_start=True)
        if val_loss is not None:
            check_loss(val_loss, "the first validation loss", at_start=True)
        self.stats[:] = 0.0
        self.acc[:] = 0.0
        self.prev_grad = np.zeros(0)
        self.t = self.updates = self.step_updates = 0
        self.diverged = False
        self._first_loss = math.nan
        self._scalar_losses = False
        self._pending_val = val_loss
        self.stats[S_VAL_METRIC] = val_metric
        if train_loss is not None:
            self.stats[S_TRAIN_LOSS] = train_loss
            self.stats[S_VAL_LOSS] = train_loss if val_loss is None else val_loss
            start_episode(self.stats, self.cap_factor, self.loss_scale, self.memory)
            self.started = True
        else:  # deferred: the first minibatch loss becomes L0 (and V0 unless given)
            self.stats[S_TRAIN_LOSS] = self.stats[S_VAL_LOSS] = 1.0  # placeholders: relative features 0
            start_episode(self.stats, self.cap_factor, self.loss_scale, self.memory)
            self.started = False
        features(self.stats, self.memory, 0, self.horizon, lr, False, self.obs)
        if not self.started:
            self.memory[M_CAP] = math.inf  # no cap until L0 is known
            self.stats[S_TRAIN_LOSS] = self.stats[S_VAL_LOSS] = math.nan  # info: not measured
        return self.obs.copy()

    @property
    def loss_cap(self) -> float:
        """Training losses above this count as divergence (``cap_factor · max(L0, loss_scale)``)."""
        return float(self.memory[M_CAP])

    def record_update(self, losses, grad: np.ndarray, params_finite: bool = True, keep_grad: bool = False,
                      pair_sums=None) -> bool:
        """Record one update: the minibatch's per-example losses (or its scalar mean loss, or their
        :class:`UpdateLoss` already measured by :func:`update_loss`) and the raw minibatch gradient
        as one flat float64 vector. Returns True if this update diverged (non-finite or capped loss,
        or non-finite parameters after it).

        The gradient pairs with the previous update's (the cosine and norm-ratio features) only if
        there is one of its size: the first update of an episode, one after :attr:`prev_grad` was
        emptied (an undone first update), or one whose parameters changed in number (a parameter
        group added) has no pair, as an env's first update after a reset.

        The minibatch's mean loss must be >= 0, or > 0 when it is L0 (:func:`check_loss`,
        :attr:`next_loss_is_first`): a ``ValueError`` otherwise, before anything is recorded.

        ``keep_grad``: the monitor keeps ``grad`` itself as :attr:`prev_grad` instead of copying it
        (a float64 vector the caller gives away and never changes again; the caller may reuse the
        previous :attr:`prev_grad` object for its next gradient): the same record, without a copy
        of the gradient's size.

        ``pair_sums``: ``grad`` is this process's shard of a gradient sharded over processes (FSDP:
        :mod:`lrgym.torch._distributed`), and ``pair_sums(gg, gp, pp)`` turns the shard's ‖g‖²,
        g·g_prev and ‖g_prev‖² into the whole gradient's (their sums over the shards): the
        features are the whole gradient's, and :attr:`prev_grad` stays this shard."""
        measured = update_loss(losses)
        check_loss(measured.mean, "the update's mean minibatch loss", first=self.next_loss_is_first)
        grad = np.ascontiguousarray(grad, dtype=np.float64)
        paired = self.updates > 0 and self.prev_grad.shape == grad.shape
        if self.prev_grad.shape != grad.shape:
            self.prev_grad = np.zeros_like(grad)
        batch_loss = measured.mean
        self.acc[A_BATCH_LOSS] += batch_loss
        if measured.var is None:  # a scalar loss: no spread measured (close_step sets cv = 1)
            self._scalar_losses = True
        else:
            self.acc[A_LOSS_VAR] += measured.var
        if pair_sums is not None:  # a shard: its sums, summed over the shards, give the whole gradient's
            prev = self.prev_grad
            add_gradient_pair(*pair_sums(float(grad @ grad), float(grad @ prev), float(prev @ prev)), paired,
                              self.acc)
            self.prev_grad = grad if keep_grad else grad.copy()
        elif keep_grad:
            accumulate_gradient_pair(grad, self.prev_grad, paired, self.acc)
            self.prev_grad = grad
        else:
            record_gradient_pair(grad, self.prev_grad, paired, self.acc)
        if not self.started and self.updates == 0:
            self._first_loss = batch_loss
        self.updates += 1
        self.step_updates += 1
        bad = is_bad(batch_loss, self.loss_cap) or not params_finite
        self.diverged = self.diverged or bad
        return bad

    @property
    def next_loss_is_first(self) -> bool:
        """The next minibatch loss becomes L0 (``start`` was given no ``train_loss``, no update yet)."""
        return not self.started and self.updates == 0

    def check_update_loss(self, losses, name: str = "the update's mean minibatch loss") -> float:
        """The mean loss of an update about to be recorded, checked as :meth:`record_update` checks it
        (:func:`check_loss`), without recording anything: a caller that must refuse a loss before it
        changes its own state checks it here first, with its own ``name`` for the error. ``losses``
        may be the update's :class:`UpdateLoss` (:func:`update_loss`), measured once for every call."""
        return check_loss(update_loss(losses).mean, name, first=self.next_loss_is_first)

    def completes_step(self, losses, params_finite: bool = True) -> bool:
        """Whether :meth:`record_update` of this update would complete the step (its
        ``updates_per_step``-th update, or a divergence), so that a caller can measure the losses
        after the step before it records anything. ``losses`` as in :meth:`check_update_loss`."""
        bad = self.diverges(losses) or not params_finite
        return self.step_updates + 1 >= self.updates_per_step or self.diverged or bad

    def diverges(self, losses) -> bool:
        """Whether this update's mean loss is a divergence (non-finite, or over :attr:`loss_cap`),
        judged as :meth:`record_update` judges it: the same mean (:class:`UpdateLoss`), the same cap."""
        return bool(is_bad(update_loss(losses).mean, self.loss_cap))

    @property
    def step_complete(self) -> bool:
        """The current step has its ``updates_per_step`` updates (or diverged)."""
        return self.step_updates >= self.updates_per_step or self.diverged

    def finish_step(self, lr: float, train_loss: float | None = None, val_loss: float | None = None,
                    val_metric: float = math.nan) -> tuple[np.ndarray, float]:
        """Close the step run at ``lr`` and observe it: (observation copy, reward).

        ``train_loss`` None: the step's mean minibatch loss; ``val_loss`` None: the training loss.
        Same as :meth:`close_step` then :meth:`observe` (an undone step goes in between).
        """
        self.close_step(train_loss, val_loss, val_metric)
        return self.observe(lr)

    def close_step(self, train_loss: float | None = None, val_loss: float | None = None,
                   val_metric: float = math.nan) -> None:
        """Fill ``stats`` for the step's updates and the losses measured after them (each >= 0:
        :func:`check_loss`; a ``ValueError`` otherwise, before anything changes)."""
        if train_loss is not None:
            check_loss(train_loss, "the training loss after the step")
        if val_loss is not None:
            check_loss(val_loss, "the validation loss after the step")
        if not self.started:
            l0 = self._first_loss
            v0 = self._pending_val if self._pending_val is not None else l0
            self.stats[S_TRAIN_LOSS], self.stats[S_VAL_LOSS] = l0, v0
            start_episode(self.stats, self.cap_factor, self.loss_scale, self.memory)  # metric: the one given at start
            self.started = True
            if is_bad(self.acc[A_BATCH_LOSS] / max(self.step_updates, 1), self.loss_cap):
                self.diverged = True
        finish_stats(self.acc, self.step_updates, self.diverged, self.stats)
        if self._scalar_losses:  # spread unmeasured: Var ℓ = (E ℓ)², so log_loss_cv reads 0
            self.stats[S_LOSS_VAR] = self.stats[S_BATCH_LOSS] ** 2
            self._scalar_losses = False
        self.stats[S_TRAIN_LOSS] = self.stats[S_BATCH_LOSS] if train_loss is None else train_loss
        self.stats[S_VAL_LOSS] = self.stats[S_TRAIN_LOSS] if val_loss is None else val_loss
        self.stats[S_VAL_METRIC] = val_metric
        if is_bad(self.stats[S_TRAIN_LOSS], self.loss_cap):
            self.diverged = True
            self.stats[S_DIVERGED] = 1.0

    def observe(self, lr: float) -> tuple[np.ndarray, float]:
        """The env's :func:`~lrgym.step.observe` of the closed step: (observation copy, reward)."""
        self.t += 1
        reward = observe(self.stats, self.memory, self.t, self.horizon, lr, self._reward_code,
                         self._reward_params, self.obs)
        self.acc[:] = 0.0
        self.step_updates = 0
        return self.obs.copy(), float(reward)

    @property
    def done(self) -> bool:
        """The episode is over: diverged, or ``horizon`` steps observed."""
        return self.diverged or self.t >= self.horizon

    def losses(self) -> tuple[float, float, float]:
        """(train_loss, val_loss, val_metric) of the last closed step (or of the start)."""
        return float(self.stats[S_TRAIN_LOSS]), float(self.stats[S_VAL_LOSS]), float(self.stats[S_VAL_METRIC])

    def deferred_start_losses(self) -> tuple[float, float, float]:
        """(L0, V0, metric) of a deferred start (:meth:`start` without ``train_loss``), once its first
        step closed: the first minibatch's mean loss, the validation loss given at the start (else
        L0) and the metric given: what the env reports at reset, and what undoing the first step
        restores (NaN before the first update)."""
        l0 = float(self._first_loss)
        return l0, l0 if self._pending_val is None else float(self._pending_val), float(self.memory[M_METRIC0])

    def restore_losses(self, train_loss: float, val_loss: float, val_metric: float) -> None:
        """After an undone step (the bold driver's rejection): report the restored losses."""
        self.stats[S_TRAIN_LOSS], self.stats[S_VAL_LOSS], self.stats[S_VAL_METRIC] = train_loss, val_loss, val_metric

    # ---- info ---------------------------------------------------------------------------------

    def describe(self, lr_min: float, lr_max: float, optimizer: str, action_mode: str, family: int = -1,
                 instance: int = 0) -> None:
        """The episode's constant ``info`` entries (:mod:`lrgym.info`): ``family`` −1 is no family (a
        training of your own, as :mod:`lrgym.torch` runs), ``optimizer`` / ``action_mode`` names
        become their indices. The LR range is checked as the env checks it (``0 < lr_min < lr_max <
        inf``)."""
        lr_min, lr_max = check_lr_range(lr_min, lr_max)
        check_choice("optimizer", optimizer, OPTIMIZERS)
        check_choice("action_mode", action_mode, ACTION_MODES)
        self._constants = (
            np.int64(family), np.int64(instance), np.int64(self.horizon), np.int64(self.updates_per_step),
            np.float64(lr_min), np.float64(lr_max), np.int64(OPTIMIZERS.index(optimizer)),
            np.int64(ACTION_MODES.index(action_mode)),
        )

    def info(self, lr: float, rejected: bool = False) -> dict:
        """The env's ``info`` (:data:`lrgym.info.INFO_SCHEMA`'s keys and dtypes, every call;
        ``excess_loss`` is NaN: no optimum is known), from :func:`lrgym.info.make_info`, the
        env's own builder. Call :meth:`describe` first."""
        family, instance, *constants = self._constants
        return make_info(self.stats, lr, rejected, self.updates, self.t, (family, instance, _NO_OPTIMUM), constants)

    # ---- checkpointing --------------------------------------------------------------------------

    _ARRAYS = ("stats", "memory", "obs", "acc", "prev_grad")
    #: the arrays' shapes for a whole run (``prev_grad``: one dimension, the last gradient's size or 0)
    _SHAPES = {"stats": (N_STATS,), "memory": (N_MEMORY,), "obs": (N_FEATURES,), "acc": (N_ACC,)}
    _SCALARS = ("t", "updates", "step_updates", "started", "diverged", "_first_loss", "_pending_val",
                "_scalar_losses", "_constants")

    def state_dict(self) -> dict:
        state = {name: getattr(self, name).copy() for name in self._ARRAYS}
        state.update({name: getattr(self, name) for name in self._SCALARS})
        return state

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`: every value is checked (:meth:`prepare_load`) before
        any is set, so a state that cannot be loaded raises a ``ValueError`` naming the bad value
        and changes nothing."""
        self.prepare_load(state)()

    def prepare_load(self, state: dict):
        """The function that loads ``state`` into this monitor, after every value of it was checked
        and converted here, without changing the monitor: a caller loading several things (the
        scheduler: its policy, its monitor, its counters) checks them all before it loads any.

        Arrays: this monitor's dtypes, and the shapes a monitor keeps for a whole run (the compiled
        steps index ``stats``, ``memory``, ``obs`` and ``acc`` without a bounds check); ``prev_grad``
        one-dimensional. Scalars: the counters ``t`` (at most ``horizon``), ``updates``
        (at most :data:`~lrgym.settings.MAX_COUNT`) and ``step_updates`` (at most ``updates_per_step``:
        a step's statistics are the mean over its updates) integers from 0; the flags bools;
        ``_first_loss`` a real number, ``_pending_val`` one or None; ``_constants`` None or the 8
        constant info entries :meth:`describe` makes. Each becomes the type the monitor's own
        code gives it, so the compiled steps and :meth:`info` get what they always get."""
        missing = [k for k in self._ARRAYS + self._SCALARS if k not in state]
        if missing:
            raise ValueError(f"monitor state is missing {missing}")
        values = {}  # all converted before any is set: a state that cannot be loaded changes nothing
        for name in self._ARRAYS:
            dtype = getattr(self, name).dtype
            try:
                values[name] = np.array(state[name], dtype=dtype)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"monitor state {name!r} is no {dtype} array ({str(exc)[:160]}); valid: a monitor's "
                                 "state_dict()") from None
            shape, valid = values[name].shape, self._SHAPES.get(name)
            if shape != valid if valid is not None else len(shape) != 1:
                # the compiled steps index stats, memory, obs and acc unchecked (Numba: no bounds check)
                raise ValueError(f"monitor state {name!r} has shape {shape}; valid: "
                                 f"{valid if valid is not None else '(n,), one dimension'} (a monitor's state_dict())")
        # step_updates: at most a step's updates (the statistics of a step are averaged over them)
        for name, limit in (("t", self.horizon), ("updates", MAX_COUNT), ("step_updates", self.updates_per_step)):
            values[name] = _count(state[name], repr(name), limit)
        for name in ("started", "diverged", "_scalar_losses"):
            if not isinstance(state[name], (bool, np.bool_)):
                raise ValueError(f"monitor state {name!r} is {_shown(state[name])}; valid: True or False")
            values[name] = bool(state[name])
        values["_first_loss"] = _real(state["_first_loss"], "'_first_loss'")
        values["_pending_val"] = None if state["_pending_val"] is None else _real(state["_pending_val"], "'_pending_val'")
        values["_constants"] = _info_constants(state["_constants"])

        def load() -> None:
            for key, value in values.items():
                setattr(self, key, value)

        return load


def _shown(value) -> str:
    """A value of a refused monitor state as its error shows it: briefly, with its type."""
    return f"{brief(value)} ({type(value).__name__})"


def _count(value, name: str, limit: int) -> int:
    """A counter of a monitor state as a Python int, refused unless an integer from 0 to ``limit``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 0 <= value <= limit:
        raise ValueError(f"monitor state {name} is {_shown(value)}; valid: an integer from 0 to {limit}")
    return int(value)


def _real(value, name: str) -> float:
    """A loss of a monitor state as a Python float (NaN, ±inf allowed): any real number ``float()``
    reads (a NumPy scalar, a 0-d tensor, as :meth:`TrainingMonitor.start` takes them), refused
    otherwise (a bool, a string, None, a complex)."""
    if not isinstance(value, (bool, np.bool_, str, bytes)):
        try:
            return float(value)
        except (TypeError, ValueError, RuntimeError):
            pass
    raise ValueError(f"monitor state {name} is {_shown(value)}; valid: a real number")


#: the constant info entries :meth:`TrainingMonitor.describe` makes, in order: (name, NumPy type, valid values)
_CONSTANTS = (("family", np.int64, range(-2**63, 2**63)), ("instance", np.int64, range(-2**63, 2**63)),
              ("horizon", np.int64, range(1, MAX_COUNT + 1)), ("inner_steps", np.int64, range(1, MAX_COUNT + 1)),
              ("lr_min", np.float64, None), ("lr_max", np.float64, None),
              ("optimizer", np.int64, range(len(OPTIMIZERS))), ("action_mode", np.int64, range(len(ACTION_MODES))))


def _info_constants(value):
    """``_constants`` of a monitor state: None (not described yet) or the 8 entries of
    :meth:`TrainingMonitor.describe`, each an integer in its range or a real number, as the NumPy
    scalars ``describe`` makes; a ``ValueError`` naming the entry otherwise (:meth:`info` would
    fail on it, or report an optimizer or action mode that does not exist)."""
    if value is None:
        return None
    if not isinstance(value, (tuple, list)) or len(value) != len(_CONSTANTS):
        raise ValueError(f"monitor state '_constants' is {_shown(value)}; valid: None or the {len(_CONSTANTS)} "
                         f"entries ({', '.join(name for name, _, _ in _CONSTANTS)}) describe() makes")
    out = []
    for item, (name, kind, valid) in zip(value, _CONSTANTS):
        if kind is np.float64:
            out.append(np.float64(_real(item, f"'_constants' {name}")))
            continue
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)) or int(item) not in valid:
            raise ValueError(f"monitor state '_constants' {name} is {_shown(item)}; valid: an integer from "
                             f"{valid.start} to {valid.stop - 1}")
        out.append(np.int64(item))
    return tuple(out)
