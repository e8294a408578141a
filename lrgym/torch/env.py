"""``TorchTrainingEnv``: your PyTorch training run as an :class:`lrgym.LRControlEnv`-style episode.

::

    env = TorchTrainingEnv(
        model=lambda: nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10)),
        train_data=(X_train, y_train), val_data=(X_val, y_val), batch_size=64,
        loss_fn=nn.CrossEntropyLoss(reduction="none"), metric_fn=accuracy,
        optimizer="sgd", horizon=50, inner_steps=10,
    )
    obs, info = env.reset(seed=0)             # a freshly initialised model
    obs, reward, terminated, truncated, info = env.step(action)

The contract is the env's (see :class:`lrgym.LRControlEnv` for the details, which apply here):
the same action spaces and LR map (``discrete`` factors or ``log_lr``), the same observation
(12 named features, ``env.feature_names``, computed by the env's own code through
:class:`lrgym.monitor.TrainingMonitor`), the same rewards by name with the same divergence
penalty, truncation after ``horizon`` steps, termination on divergence, and the same ``info``
keys (``excess_loss``, which only a synthetic task knows, is NaN). So every lrgym policy and
agent runs on it unchanged (``lrgym.baselines.evaluation.run_episode(policy, env, seed)``).

Data: ``train_data`` is a tuple of tensors ``(X, y)`` (minibatches of ``batch_size`` rows drawn
with replacement by lrgym's SplitMix64 generator seeded from ``reset(seed=...)``, so episodes
are reproducible) or any re-iterable of ``(x, y)`` batches such as a ``DataLoader`` or a list
(cycled: each pass is a new ``iter()``, so a shuffling loader reshuffles, from the env's own
torch stream, see "Randomness"), or an endless iterator such as a generator streaming batches (read on across
episodes). A finite one-shot iterator is a ``ValueError`` once used up, and so is data without a
batch: the env could not start its next pass.
Anything else (a bare tensor, ``(X, y, w)``, X and y of different lengths) is refused at
construction, naming it.
The training objective reported each step is the mean loss over ``eval_data`` (default: the
first ``eval_rows`` training rows, or the first ``eval_batches`` batches of a loader, drawn once
at construction in a forked torch RNG seeded with :data:`EVAL_DATA_SEED`, the loader's own
generator seeded so too and put back, so envs built alike evaluate on the same batches); the validation loss and ``metric_fn`` over ``val_data`` (default
metric: 1 − V/V0, V and V0 floored at ``lrgym.features.TINY`` as the features floor losses
≤ 0: 0.0 while a first validation loss of 0 stays 0). The losses follow the rule of
:func:`lrgym.monitor.check_loss`, as under :class:`~lrgym.torch.PolicyScheduler`: the first
training loss (L0, measured at reset) must be > 0 and every later loss (each update's mean loss,
the objective and the validation loss after each step) >= 0, else a ``ValueError`` names it; a
later 0 is observed floored, NaN and inf are a divergence. Updates run in
``model.train()`` mode, measurements (at reset too) in ``model.eval()``: no dropout, and
BatchNorm's running statistics are used, not moved.

Randomness: each env has a torch CPU random stream of its own, seeded at every reset from the
env's ``np_random`` (``torch.manual_seed``, which also seeds CUDA's generators) and swapped in
for the global one during ``reset`` and ``step`` only: model initialisation, dropout and a
shuffling ``DataLoader`` draw from it, so an episode depends on its seed and actions alone, even
with other envs stepped in between, and the user's global stream is left as it was. A
``DataLoader`` with a generator of its own (``generator=``, or its sampler's) is treated the same
way: that generator is seeded at reset from the env's stream and holds the env's state during
``reset`` and ``step`` only (it made episodes differ before). (On a GPU, CUDA's generators are
seeded at reset but not kept apart.)

``model`` is a zero-argument callable returning a fresh ``nn.Module`` (called at every reset,
in the env's own stream), or a module, whose parameters are then
re-initialised at reset with each submodule's ``reset_parameters`` (``_reset_parameters`` for
``nn.MultiheadAttention`` and ``nn.Transformer``, torch's name there; submodules before their
parent, as torch builds them; the layers of a stack torch builds by copying one layer, as
``nn.TransformerEncoder``'s, are drawn each on its own), after the module's whole state
(parameters and buffers no ``reset_parameters`` covers, such as a custom module's bare
``nn.Parameter``) is put back as it was given. ``optimizer`` is an lrgym
optimizer name / dict / :class:`~lrgym.optim.OptimizerConfig` (built by
:func:`lrgym.torch.make_optimizer`) or a callable ``(params, lr) -> torch.optim.Optimizer``; a
tensor LR it builds (``Adam(params, lr=torch.tensor(lr), capturable=True)``) stays that tensor,
filled in place with each step's LR, as ``torch.optim.lr_scheduler`` does. The LR is the first
parameter group's with a nonzero LR; a callable's other groups keep the ratio of their LR to that
group's that the callable gave them (``lambda params, lr: SGD([{"params": body}, {"params": head,
"lr": 10 * lr}], lr=lr)`` trains the head at ten times the policy's LR; a group built with
``"lr": 0.0``, a frozen backbone, stays at 0), as :class:`~lrgym.torch.PolicyScheduler` does.
"""

from __future__ import annotations

import collections.abc
import contextlib
import copy
import math
from typing import Callable

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from lrgym import rng as lrgym_rng
from lrgym.actions import next_lr
from lrgym.brief import brief
from lrgym.features import FEATURE_NAMES, TINY, observation_space_bounds
from lrgym.info import ACTION_MODES
from lrgym.keywords import checked_keywords
from lrgym.monitor import TrainingMonitor
from lrgym.optim import OptimizerConfig, check_choice
from lrgym.rewards import REWARDS
from lrgym.rng import draw_indices
from lrgym.settings import (
    DEFAULT_CAP_FACTOR,
    DEFAULT_FACTORS,
    DEFAULT_LR_MAX,
    DEFAULT_LR_MIN,
    DEFAULT_REWARD_ALPHAS,
    check_factors,
    check_label,
    check_lr_init,
    check_lr_range,
    positive_int,
    resolve_lr_init,
)
from lrgym.torch._tensors import (
    loss_tensor,
    losses_array,
    lr_ratios,
    observed_params,
    one_number,
    params_finite,
    record_flat_grad,
    set_group_lr,
)
from lrgym.torch.optim import make_optimizer

__all__ = ["EVAL_DATA_SEED", "TorchTrainingEnv"]

#: the torch seed under which the default evaluation batches of batch data (``eval_batches``
#: first batches of a ``DataLoader``) are drawn, in a forked RNG: two envs built with the same
#: arguments evaluate on the same batches, whatever the global RNG's state (which is left alone)
EVAL_DATA_SEED = 0

#: torch's modules that name their re-initialiser ``_reset_parameters`` and have no public one
_PRIVATE_RESET = (torch.nn.MultiheadAttention, torch.nn.Transformer)

_TRAIN_DATA_CHOICES = ("a pair (X, y) of tensors with the same first dimension (one row per example), a "
                       "re-iterable of (x, y) batches such as a DataLoader or a list, or an iterator of (x, y) "
                       "batches such as an endless generator")


def _children_first(model: torch.nn.Module):
    """Every submodule once (shared ones too), each after its own submodules: the order in which
    construction initialises them (a parent's ``__init__`` finishes after its children's)."""
    seen: set[int] = set()

    def visit(module):
        for child in module.children():
            if id(child) not in seen:
                yield from visit(child)
        seen.add(id(module))
        yield module

    return visit(model)


def _reinitialise(model: torch.nn.Module) -> None:
    """Re-draw every submodule's parameters as torch draws them at construction: its
    ``reset_parameters()``, or, for torch's modules whose re-initialiser is private
    (``nn.MultiheadAttention``'s ``in_proj_weight``, ``nn.Transformer``), ``_reset_parameters()``.
    Children first, as at construction: ``nn.MultiheadAttention`` zeroes its ``out_proj.bias``
    after that ``Linear`` drew it, ``nn.Transformer`` re-draws its layers' weights after them.
    (Modules that only have leaves with ``reset_parameters`` draw in the same order either way.)
    One difference stays: a stack built by copying one layer (``nn.TransformerEncoder`` /
    ``Decoder`` with ``num_layers`` > 1 deep-copies its first layer) starts from copies at
    construction, while here every layer is drawn anew — a fresh draw of the same distributions,
    not the module torch would build under the same seed."""
    for module in _children_first(model):
        if callable(getattr(module, "reset_parameters", None)):
            module.reset_parameters()
        elif isinstance(module, _PRIVATE_RESET):
            module._reset_parameters()


def _check_model(model) -> None:
    """``model`` is a module or a callable that makes one (what it returns is checked at reset)."""
    if not (isinstance(model, torch.nn.Module) or callable(model)):
        raise TypeError(f"model={brief(model)} ({type(model).__name__}) is not a model; valid: a "
                        "torch.nn.Module, or a zero-argument callable returning one (e.g. lambda: "
                        "nn.Linear(8, 2)); lrgym's family names such as 'mlp' name LRControlEnv's tasks")


def _optimizer_config(optimizer) -> OptimizerConfig:
    """An lrgym optimizer (name, dict, :class:`~lrgym.optim.OptimizerConfig`); a refusal also names
    the env's other kind, a callable (``"adamw"`` or an optimizer instance named lrgym's kinds only,
    and a PyTorch user did not learn that any torch optimizer runs through a callable)."""
    try:
        return OptimizerConfig.coerce(optimizer)
    except ValueError as e:
        raise ValueError(f"{e}; or a callable (params, lr) returning a torch.optim.Optimizer, built at every reset, "
                         "e.g. lambda params, lr: torch.optim.AdamW(params, lr=lr), or the class torch.optim.AdamW "
                         "itself") from None


def _check_iterable(data) -> None:
    """Batch data the env cycles: a ``DataLoader`` or a list of batches starts over at each
    ``iter()``; an endless iterator (a generator streaming batches) is read on. A finite one-shot
    iterator cannot start over: :meth:`TorchTrainingEnv._next_batch` says so when it is used up."""
    if not (hasattr(data, "__iter__") or hasattr(data, "__getitem__")):  # not iterated here: no worker starts
        raise TypeError(f"train_data of type {type(data).__name__} is not iterable; valid: {_TRAIN_DATA_CHOICES}")


def _check_train_data(data) -> bool:
    """True for tensor data, a pair ``(X, y)`` with as many targets as rows (at least one); False
    for batch data (:func:`_check_iterable`). A bare tensor, or a tuple of other than two tensors
    (``(X, y, w)``), would be read as batches and fail at the first one: refused here, named."""
    if isinstance(data, torch.Tensor):
        raise TypeError(f"train_data is a bare tensor of shape {tuple(data.shape)}, not data with targets; "
                        f"valid: {_TRAIN_DATA_CHOICES}")
    _refuse_arrays("train_data", data)
    if isinstance(data, (tuple, list)) and data and all(isinstance(t, torch.Tensor) for t in data):
        shapes = ", ".join(str(tuple(t.shape)) for t in data)
        if len(data) != 2:
            raise ValueError(f"train_data is a {type(data).__name__} of {len(data)} tensors (shapes {shapes}); "
                             f"valid: {_TRAIN_DATA_CHOICES}")
        X, y = data
        if X.dim() == 0 or y.dim() == 0 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise ValueError(f"train_data (X, y) has shapes {shapes}: not the same positive number of rows; "
                             f"valid: {_TRAIN_DATA_CHOICES}")
        return True
    _check_iterable(data)
    return False


def _refuse_arrays(name: str, data) -> None:
    """A pair holding NumPy arrays (``(X, y)`` as NumPy gives them) would be read as two batches and
    fail at reset (an audit, 2026-12-05): refused when the env is built, naming it."""
    if isinstance(data, (tuple, list)) and any(isinstance(t, np.ndarray) for t in data):
        kinds = ", ".join(type(t).__name__ for t in data)
        raise TypeError(f"{name} is a {type(data).__name__} of ({kinds}): NumPy arrays; valid: tensors, "
                        f"(torch.as_tensor(X), torch.as_tensor(y)), or {_TRAIN_DATA_CHOICES}")


def _own_generators(data) -> list:
    """The ``torch.Generator`` objects a ``DataLoader`` draws from instead of torch's global one:
    its ``generator`` and its sampler's (each once)."""
    found = []
    for holder in (data, getattr(data, "sampler", None), getattr(getattr(data, "batch_sampler", None), "sampler", None)):
        g = getattr(holder, "generator", None)
        if isinstance(g, torch.Generator) and all(g is not f for f in found):
            found.append(g)
    return found


def _first_batches(data, n: int | None = None) -> list:
    """The first ``n`` batches of batch data (the default evaluation data; ``None``: all of them,
    a given ``eval_data`` or ``val_data``), drawn in a forked
    torch RNG seeded with :data:`EVAL_DATA_SEED`: a shuffling ``DataLoader`` gives every env built
    with the same arguments the same batches, and the global RNG is as it was. A loader's own
    generators (:func:`_own_generators`), which its sampler draws from instead, are seeded so too
    and put back where they were (they were read as found, and advanced: the batches depended on
    where the user's generator stood when the env was built)."""
    own = _own_generators(data)
    users = [g.get_state() for g in own]
    with torch.random.fork_rng(devices=[]):  # the CPU generator, which DataLoader's samplers draw from
        torch.default_generator.manual_seed(EVAL_DATA_SEED)
        for g in own:
            g.manual_seed(EVAL_DATA_SEED)
        try:
            return list(data) if n is None else [batch for _, batch in zip(range(n), data)]
        finally:
            for g, state in zip(own, users):
                g.set_state(state)


def default_metric(val: float, v0: float) -> float:
    """The default validation metric, 1 − V/V0, with V and V0 floored at ``lrgym.features.TINY``
    as the relative-loss features floor losses ≤ 0 (``safe_loss``, ``start_episode``): a first
    validation loss of 0 gives 0.0 while V stays 0 (log(V/V0) reads 0 likewise), not a division
    by zero. NaN when V is not finite."""
    if not math.isfinite(val):
        return math.nan
    return 1.0 - max(val, TINY) / max(v0, TINY)


class TorchTrainingEnv(gym.Env):
    """A PyTorch training run as an LR-control episode (see the module docstring).

    Arguments: ``model`` (a ``torch.nn.Module`` or a zero-argument callable returning one);
    ``train_data`` (a pair ``(X, y)`` of tensors with the same first dimension, a re-iterable of
    ``(x, y)`` batches, or an iterator of them); ``loss_fn(outputs, targets)`` returning
    per-example losses (``reduction="none"``) or their mean; ``val_data`` (default: the evaluation
    rows); ``metric_fn(outputs, targets) -> float`` (higher is better); ``batch_size`` (tensor
    data); ``eval_data``, ``eval_rows``, ``eval_batches`` (positive integers); ``optimizer``; and
    the env's ``action_mode``,
    ``factors``, ``horizon``, ``inner_steps``, ``reward``, ``reward_alphas``, ``lr_init``,
    ``lr_min``, ``lr_max``, ``cap_factor``, ``loss_scale`` (divergence cap
    ``cap_factor · max(L0, loss_scale)``; nan: L0 alone); ``name`` (a label; ``info["family"]``
    is −1, no family of lrgym's (:mod:`lrgym.info`), and ``info["optimizer"]`` 0 for a custom optimizer).
    """

    metadata = {"render_modes": []}

    @checked_keywords
    def __init__(
        self,
        model: Callable[[], torch.nn.Module] | torch.nn.Module,
        train_data,
        loss_fn: Callable,
        val_data=None,
        metric_fn: Callable | None = None,
        batch_size: int = 64,
        eval_data=None,
        eval_rows: int = 2048,
        eval_batches: int = 8,
        optimizer="sgd",
        action_mode: str = "discrete",
        factors: tuple[float, ...] = DEFAULT_FACTORS,
        horizon: int = 50,
        inner_steps: int = 10,
        reward: str = "log_improvement",
        reward_alphas: tuple[float, float] = DEFAULT_REWARD_ALPHAS,
        lr_init: float | None = None,
        lr_min: float = DEFAULT_LR_MIN,
        lr_max: float = DEFAULT_LR_MAX,
        cap_factor: float = DEFAULT_CAP_FACTOR,
        loss_scale: float = math.nan,
        name: str = "torch",
        render_mode: str | None = None,
    ):
        if render_mode is not None:
            raise ValueError(f"unknown render_mode {render_mode!r}; valid choices: None")
        check_choice("action_mode", action_mode, ACTION_MODES)
        check_choice("reward", reward, REWARDS)
        self.name = check_label("name", name)
        # the env's checks (lrgym.settings; horizon, inner_steps, cap_factor, reward_alphas: the monitor's)
        self.lr_min, self.lr_max = check_lr_range(lr_min, lr_max)
        self.factors = check_factors(factors)
        batch_size = positive_int("batch_size", batch_size)
        eval_rows, eval_batches = positive_int("eval_rows", eval_rows), positive_int("eval_batches", eval_batches)
        _check_model(model)
        self.make_optimizer = optimizer if callable(optimizer) else None
        self.optimizer_config = None if callable(optimizer) else _optimizer_config(optimizer)
        opt_name = self.optimizer_config.name if self.optimizer_config is not None else "custom"
        self.model_fn = model if not isinstance(model, torch.nn.Module) else None
        self.model = model if isinstance(model, torch.nn.Module) else None
        # a module's state as given (on the CPU): reset returns what no reset_parameters() re-draws to it
        self._initial_state = None if self.model is None else {
            k: v.detach().to("cpu", copy=True) if isinstance(v, torch.Tensor) else copy.deepcopy(v)
            for k, v in self.model.state_dict().items()}  # a module's get_extra_state() may be any object
        self.loss_fn, self.metric_fn = loss_fn, metric_fn
        self.batch_size = int(batch_size)
        self._tensor_data = _check_train_data(train_data)
        self.train_data = train_data
        #: generators of the train DataLoader's own (its ``generator``, its sampler's), kept per env
        self._data_generators = _own_generators(train_data)
        self._data_states: list = []
        if eval_data is None:
            if self._tensor_data:
                eval_data = [(train_data[0][:eval_rows], train_data[1][:eval_rows])]
            else:
                eval_data = _first_batches(train_data, eval_batches)
        elif isinstance(eval_data, (tuple, list)) and len(eval_data) == 2 and isinstance(eval_data[0], torch.Tensor):
            eval_data = [tuple(eval_data)]
        for which, data in (("val_data", val_data), ("eval_data", eval_data)):
            _refuse_arrays(which, data)
        if val_data is not None and isinstance(val_data, (tuple, list)) and len(val_data) == 2 \
                and isinstance(val_data[0], torch.Tensor):
            val_data = [tuple(val_data)]
        # a shuffling DataLoader given as eval_data or val_data is read once, as the default's batches are
        # (its batches, and so a metric averaged over them, were the global stream's as the user left it)
        self.eval_data, self.val_data = _first_batches(eval_data), None if val_data is None else _first_batches(val_data)
        if not self.eval_data:
            raise ValueError(f"the evaluation data has no batch (train_data {type(train_data).__name__} yields "
                             "none, or eval_data is empty); valid: a tuple (X, y) of tensors or an iterable of "
                             "(x, y) batches with at least one batch")
        self.action_mode, self.reward_name = action_mode, reward
        self.lr_init = resolve_lr_init(lr_init, opt_name, self.lr_min, self.lr_max)
        self.optimizer_name = opt_name
        self._describe = (self.lr_min, self.lr_max, opt_name if opt_name != "custom" else "sgd", action_mode)
        self.monitor = TrainingMonitor(horizon, inner_steps, cap_factor, reward, reward_alphas, loss_scale)
        self.horizon, self.inner_steps = self.monitor.horizon, self.monitor.updates_per_step
        self.monitor.describe(*self._describe)
        self.action_space = (spaces.Discrete(len(self.factors)) if action_mode == "discrete"
                             else spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32))
        low, high = observation_space_bounds()
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.feature_names = FEATURE_NAMES
        self.optimizer = None
        self.lr = self.lr_init
        self._rng_word = np.zeros(1, dtype=np.uint64)
        self._grad_buffer = None  # the float64 vector record_flat_grad fills at the next update (_step)
        self._rows = np.zeros(self.batch_size, dtype=np.int64)
        self._batches = None
        self._torch_rng = None  # the env's own torch CPU stream (_own_rng), made at reset
        self._done = True
        self._reset_failed = False  # the last reset() raised part way: no episode to step

    # ---- data and model -----------------------------------------------------------------------

    def _next_batch(self):
        if self._tensor_data:
            X, y = self.train_data
            draw_indices(self._rng_word, X.shape[0], self._rows)
            idx = torch.from_numpy(self._rows)
            return X[idx], y[idx]
        if self._batches is not None:
            try:
                return next(self._batches)
            except StopIteration:  # one pass done: start the next (a DataLoader reshuffles)
                pass
        self._batches = iter(self.train_data)
        try:
            return next(self._batches)
        except StopIteration:
            if isinstance(self.train_data, collections.abc.Iterator):
                raise ValueError(f"train_data, a one-shot iterator ({type(self.train_data).__name__}), is used up: "
                                 "it cannot start a new pass; valid: a re-iterable of (x, y) batches such as a "
                                 "DataLoader or a list (list(...) of your generator), or an endless iterator") from None
            raise ValueError(f"train_data ({type(self.train_data).__name__}) yielded no batch in a new pass; "
                             "valid: a re-iterable of (x, y) batches that yields at least one") from None

    def _mean_loss(self, batches) -> float:
        total, n = 0.0, 0
        with torch.no_grad():
            for x, y in batches:
                losses = loss_tensor(self.loss_fn(self.model(x), y)).reshape(-1)
                k = len(y) if losses.numel() == 1 else losses.numel()
                total += float(losses.double().mean()) * k
                n += k
        return total / max(n, 1)

    def _measure(self) -> tuple[float, float, float]:
        """(objective, validation loss, metric) in eval mode: no dropout, BatchNorm's running
        statistics used and left as they are (also at reset, where a fresh model is in train mode)."""
        self.model.eval()
        train = self._mean_loss(self.eval_data)
        val_data = self.eval_data if self.val_data is None else self.val_data  # (the documented default)
        val = train if self.val_data is None else self._mean_loss(val_data)
        if self.metric_fn is None:
            metric = math.nan
        else:  # on the evaluation data without val_data (it was NaN: an audit, 2026-12-05)
            with torch.no_grad():
                metric = float(np.mean([one_number(self.metric_fn(self.model(x), y), "metric_fn(outputs, targets)",
                                                   "the metric of the batch, higher is better")
                                        for x, y in val_data]))
        return train, val, metric

    def _metric(self, val: float, metric: float) -> float:
        """The default metric 1 − V/V0 (:func:`default_metric`) when no ``metric_fn`` is given."""
        if self.metric_fn is not None:
            return metric
        return default_metric(val, self._v0)

    # ---- copies -------------------------------------------------------------------------------

    def __copy__(self) -> "TorchTrainingEnv":
        """``copy.copy(env)``: an independent env at the same point of the same episode, as
        :meth:`lrgym.LRControlEnv.__copy__` makes one: the model, the optimizer, the episode's
        statistics and random streams are copied (stepping the copy leaves the original as it
        was), and what the env never changes is shared (:meth:`copy_shared`: the data, the
        functions). The default shallow copy shared the model, the optimizer and the monitor, so
        a step of the copy trained the original's model and moved its episode.

        Batch data read on from an iterator cannot be copied: an endless iterator (a generator)
        would feed both envs from one stream, and a ``DataLoader``'s pass under way is an
        iterator torch does not copy. Either is a ``TypeError`` saying what works."""
        if isinstance(self.train_data, collections.abc.Iterator):
            raise TypeError(
                f"copy.copy of a TorchTrainingEnv whose train_data is an iterator ({type(self.train_data).__name__}): "
                "the copy and the original would read one stream of batches; valid: train_data as tensors (X, y), "
                "a list of batches or a DataLoader (re-iterable), or a new TorchTrainingEnv reset with the same seed")
        shared = self.copy_shared()
        if self._batches is not None:
            try:  # a list's iterator copies (over the shared list); a DataLoader's does not
                copy.deepcopy(self._batches, dict(shared))
            except (TypeError, NotImplementedError) as e:
                raise TypeError(
                    f"copy.copy of a TorchTrainingEnv in the middle of a pass over its train_data "
                    f"({type(self.train_data).__name__}): its iterator ({type(self._batches).__name__}) cannot be "
                    f"copied ({e}); valid: copy before the episode's first step, train_data as tensors (X, y) or a "
                    "list of batches, or a new TorchTrainingEnv reset with the same seed and given the same "
                    "actions") from None
        return copy.deepcopy(self, shared)

    def copy_shared(self) -> dict:
        """The objects a :meth:`__copy__` shares with the original, as a ``copy.deepcopy`` memo
        (id → object): what the env reads and never changes — the training, evaluation and
        validation data (tensors, batches, a ``DataLoader``, whose own generators the env swaps
        in and out per env anyway), the model's state as given, ``loss_fn``, ``metric_fn``, the
        model and optimizer factories and the optimizer config."""
        shared = [self.train_data, self.eval_data, self.val_data, self._initial_state, self.loss_fn, self.metric_fn,
                  self.model_fn, self.make_optimizer, self.optimizer_config, *self._data_generators]
        return {id(x): x for x in shared if x is not None}

    # ---- gymnasium API ------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        unknown = set(options or {}) - {"lr_init"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; valid: lr_init")
        # from here the old episode is gone: a reset that raises part way (a loss_fn refused, the
        # optimizer callable's error) leaves no episode to step, not the old one half rebuilt
        self._done, self._reset_failed = True, True
        with self._own_rng(seed=int(self.np_random.integers(2**62))):
            out = self._reset(options)
        self._reset_failed = False
        return out

    def _reset(self, options: dict | None):
        if self.model_fn is not None:
            self.model = self.model_fn()
            if not isinstance(self.model, torch.nn.Module):
                raise TypeError(f"model() returned {brief(self.model)} ({type(self.model).__name__}); "
                                "valid: a zero-argument callable returning a torch.nn.Module")
        else:
            self.model.load_state_dict(self._initial_state)  # e.g. a bare nn.Parameter of a custom module
            _reinitialise(self.model)
        self._rng_word = lrgym_rng.new_state(self.np_random)
        self._batches = None
        self.lr = check_lr_init((options or {}).get("lr_init", self.lr_init), self.lr_min, self.lr_max)
        params = list(self.model.parameters())
        if self.make_optimizer is not None:
            self.optimizer = self.make_optimizer(params, self.lr)
            if not isinstance(self.optimizer, torch.optim.Optimizer):
                raise TypeError(f"optimizer(params, lr) returned {brief(self.optimizer)} "
                                f"({type(self.optimizer).__name__}); valid: an lrgym optimizer name, or a callable "
                                "(params, lr) returning a torch.optim.Optimizer, e.g. lambda params, lr: "
                                "torch.optim.AdamW(params, lr=lr)")
        else:
            self.optimizer = make_optimizer(params, self.optimizer_config, self.lr)
        self._lr_ratios = lr_ratios(group["lr"] for group in self.optimizer.param_groups)
        train, val, metric = self._measure()
        self._v0 = val
        obs = self.monitor.start(self.lr, train, val, self._metric(val, metric))
        self._done = False
        return obs, self.monitor.info(self.lr)

    def step(self, action):
        if self._done:  # LRControlEnv's words: before the first reset there is no episode to have finished
            raise RuntimeError("step() called before the first reset(); call reset() first" if self.optimizer is None
                               else "step() called after a reset() that raised; call reset() again"
                               if self._reset_failed
                               else "step() called on a finished episode; call reset() first")
        with self._own_rng():
            return self._step(action)

    @contextlib.contextmanager
    def _own_rng(self, seed: int | None = None):
        """Run with this env's own torch CPU random stream in place of the global one (seeded
        with ``seed`` at reset, where ``torch.manual_seed`` also seeds CUDA's generators), and
        put the global stream back afterwards. Everything an episode draws on the CPU (a fresh
        model's initialisation, dropout, a shuffling ``DataLoader``'s order at each pass, the
        base seed of its workers) comes from the env's stream, so its trajectory depends on its
        seed and actions only: another env stepped in between (``SyncVectorEnv``), or the
        user's own draws between steps, change nothing in it, and the env leaves the user's
        global stream as it found it."""
        users = [g.get_state() for g in self._data_generators]
        with torch.random.fork_rng(devices=[]):  # the CPU generator: restored on leaving
            if seed is not None:
                torch.manual_seed(seed)
                for g in self._data_generators:  # a loader's own generator: seeded from the env's stream
                    g.manual_seed(int(torch.randint(0, 2**62, ())))
            else:
                torch.set_rng_state(self._torch_rng)
                for g, state in zip(self._data_generators, self._data_states):
                    g.set_state(state)
            try:
                yield
            finally:
                self._torch_rng = torch.get_rng_state()
                self._data_states = [g.get_state() for g in self._data_generators]
                for g, state in zip(self._data_generators, users):
                    g.set_state(state)

    def _step(self, action):
        self.lr = float(next_lr(action, self.lr, self.action_mode, self.factors, self.lr_min, self.lr_max))
        for group, ratio in zip(self.optimizer.param_groups, self._lr_ratios):
            set_group_lr(group, self.lr * ratio)  # a tensor LR stays the user's tensor, filled in place
        params = list(self.model.parameters())
        observed = observed_params(self.optimizer.param_groups, self._lr_ratios)  # not a group at LR 0
        self.model.train()
        while not self.monitor.step_complete:
            x, y = self._next_batch()
            self.optimizer.zero_grad()
            losses = loss_tensor(self.loss_fn(self.model(x), y))
            losses.mean().backward()
            self.optimizer.step()
            # two gradient vectors an episode, in turns (record_flat_grad)
            _, self._grad_buffer = record_flat_grad(self.monitor, losses_array(losses), observed,
                                                    params_finite(params), self._grad_buffer)
        self.model.eval()
        if self.monitor.diverged:
            train, val, metric = math.inf, math.inf, math.nan
        else:
            train, val, metric = self._measure()
        self.monitor.close_step(train, val, self._metric(val, metric))
        obs, reward = self.monitor.observe(self.lr)
        terminated = bool(self.monitor.diverged)
        truncated = (not terminated) and self.monitor.t >= self.horizon
        self._done = terminated or truncated
        return obs, reward, terminated, truncated, self.monitor.info(self.lr)
