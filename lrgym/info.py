"""The info schema: the keys and types every ``reset`` and ``step`` of every lrgym env returns.

RL libraries that turn infos into tensors (TorchRL's ``GymEnv`` and ``auto_register_info_dict``,
gymnasium's vector envs, SB3's buffers) need the *same* keys with the *same* types at every call:
a key that appears only at reset, a string, or a float that is sometimes a Python float and
sometimes a NumPy scalar breaks them. So every lrgym info holds exactly the keys of
:data:`INFO_SCHEMA`, on every family, at reset and at every step, each a NumPy scalar of the
listed dtype (``np.float64``, ``np.bool_``, ``np.int64``; TorchRL reads ``value.dtype``).
(gymnasium's own ``SyncVectorEnv`` / ``AsyncVectorEnv`` batch ``np.bool_`` values into object
arrays, which TorchRL stacks back into bool; lrgym's vector env returns bool arrays.)

==================  ========  =================================================================
key                 dtype     meaning
==================  ========  =================================================================
``lr``              float64   learning rate in force during the step (at reset: ``lr_init``)
``train_loss``      float64   training objective after the step's updates
``val_loss``        float64   validation loss
``val_metric``      float64   validation metric, higher is better (R², accuracy, AUC, −log₁₀ f)
``batch_loss``      float64   mean minibatch loss of the step's updates (0 at reset)
``loss_var``        float64   mean within-minibatch variance of per-example losses (0 at reset)
``grad_norm``       float64   mean raw minibatch gradient norm (0 at reset)
``grad_dot``        float64   mean g_k·g_{k−1} of consecutive raw gradients (0 at reset)
``grad_cos``        float64   mean cosine of consecutive raw gradients (0 at reset)
``excess_loss``     float64   ``train_loss`` − the known optimum (linreg, quadratic); **NaN**
                              where no optimum is known (mlp, recsys)
``diverged``        bool      the step diverged (the episode terminates)
``rejected``        bool      the step was undone (``rejection_threshold``)
``updates``         int64     inner updates run so far this episode
``family``          int64     index into :data:`FAMILY_NAMES`; a family of your own:
                              :func:`family_index` of its name (2**32 + CRC-32);
                              −1: no family (a PyTorch training, ``lrgym.torch``)
``instance``        int64     instance seed of the episode
``step``            int64     env steps taken this episode (0 at reset)
``horizon``         int64     the episode's length in env steps
``inner_steps``     int64     inner updates per env step
``lr_min``          float64   lower end of the LR range
``lr_max``          float64   upper end of the LR range
``optimizer``       int64     index into :data:`lrgym.optim.OPTIMIZERS` (the inner optimizer)
``action_mode``     int64     index into :data:`ACTION_MODES`
==================  ========  =================================================================

Name tables (``info["family"]`` → ``lrgym.info.family_name(info["family"])``):

* :data:`FAMILY_NAMES` = ``("linreg", "quadratic", "mlp", "recsys")`` (0 … 3); any other family
  (one of your own, :func:`lrgym.tasks.register_family`, or a ``FAMILIES`` line without
  ``mixed_v1``) is ``OWN_FAMILY_BASE + zlib.crc32(name)``
  (2**32 … 2**33 − 1): distinct for distinct registered names (a clash is refused when
  registered), the same in every process and on every machine, and outside the table, so a
  policy tells two families of your own apart in a mixture and the built-in indices stay frozen;
  :func:`family_name` maps either back to the name (−1: no family, ``lrgym.torch``'s training),
* :data:`lrgym.optim.OPTIMIZERS` = ``("sgd", "momentum", "nesterov", "adam", "rmsprop",
  "adagrad")`` (0 … 5),
* :data:`ACTION_MODES` = ``("discrete", "log_lr")`` (0, 1).

The vector env (:class:`lrgym.vector.LRControlVectorEnv`) returns the same keys as arrays of
these dtypes over the sub-environments, each with gymnasium's boolean mask ``"_key"``.
"""

from __future__ import annotations

import operator

import numba
import numpy as np

from lrgym.tasks import MIXED_V1, OWN_FAMILY_BASE, own_family_index
from lrgym.tasks.base import (
    S_BATCH_LOSS,
    S_DIVERGED,
    S_GRAD_COS,
    S_GRAD_DOT,
    S_GRAD_NORM,
    S_LOSS_VAR,
    S_TRAIN_LOSS,
    S_VAL_LOSS,
    S_VAL_METRIC,
)

#: the families an ``info["family"]`` index refers to (the members of ``LRControl-v1``, in the
#: mixed family's order: instance seed k of ``LRControl-v1`` has family k mod 4)
FAMILY_NAMES: tuple[str, ...] = MIXED_V1  # from the family registry (lrgym.tasks)
#: ``info["action_mode"]`` indexes this
ACTION_MODES: tuple[str, ...] = ("discrete", "log_lr")

_F, _B, _I = np.dtype(np.float64), np.dtype(np.bool_), np.dtype(np.int64)

#: key → dtype of every info value, in the order the envs build them
INFO_SCHEMA: dict[str, np.dtype] = {
    "lr": _F,
    "train_loss": _F,
    "val_loss": _F,
    "val_metric": _F,
    "batch_loss": _F,
    "loss_var": _F,
    "grad_norm": _F,
    "grad_dot": _F,
    "grad_cos": _F,
    "excess_loss": _F,
    "diverged": _B,
    "rejected": _B,
    "updates": _I,
    "family": _I,
    "instance": _I,
    "step": _I,
    "horizon": _I,
    "inner_steps": _I,
    "lr_min": _F,
    "lr_max": _F,
    "optimizer": _I,
    "action_mode": _I,
}
INFO_KEYS: tuple[str, ...] = tuple(INFO_SCHEMA)

#: The one stats → info table: each info key that reports a statistic of the kernels, with its
#: index in their statistics array (``lrgym.tasks.base.S_*``), in :data:`INFO_SCHEMA`'s order.
#: :func:`make_info`, :func:`write_step_values` and the vector env's
#: :meth:`lrgym.vector.infos.InfoColumns.step` read it; :func:`step_info` is written out for speed
#: and checked against it (``tests/test_info.py``). (``excess_loss`` and ``diverged`` derive from
#: ``S_TRAIN_LOSS`` and ``S_DIVERGED``; ``S_UPDATES`` is not an info value.)
STEP_STAT_KEYS: tuple[tuple[str, int], ...] = (
    ("train_loss", S_TRAIN_LOSS),
    ("val_loss", S_VAL_LOSS),
    ("val_metric", S_VAL_METRIC),
    ("batch_loss", S_BATCH_LOSS),
    ("loss_var", S_LOSS_VAR),
    ("grad_norm", S_GRAD_NORM),
    ("grad_dot", S_GRAD_DOT),
    ("grad_cos", S_GRAD_COS),
)


def family_index(name: str) -> int:
    """``info["family"]`` of a family name: its index in :data:`FAMILY_NAMES` (the built-in
    families, frozen with ``LRControl-v1``), else ``OWN_FAMILY_BASE + zlib.crc32(name)``: a
    family of your own gets an index of its name alone, the same in every process (the grader's
    workers, Ray nodes) whatever order families were registered in. Names are ASCII
    (:data:`lrgym.tasks.FAMILY_NAME`); two registered names with one index are refused by
    :func:`lrgym.tasks.register_family`."""
    if name in FAMILY_NAMES:
        return FAMILY_NAMES.index(name)
    return own_family_index(name)


def family_name(index) -> str:
    """The family name of an ``info["family"]`` index: a :data:`FAMILY_NAMES` entry, a family
    registered in this process (:func:`family_index` of its name), or ``"unknown"`` for −1 (no
    family: ``lrgym.torch``'s training). Anything else is no index an env of this process gives:
    ``ValueError`` naming it and the valid ones (a wrong column or a float read as the family must
    not pass as "unknown"; an index of a family not registered here names how to register it).
    An integer is any object Python takes as an index (``operator.index``): a NumPy integer or
    0-d array, a one-element integer tensor (TorchRL's infos), not a bool or a float."""
    from lrgym.tasks import FAMILIES
    from lrgym.tasks.mixture import MixtureFamily

    i = None
    if not (isinstance(index, (bool, np.bool_)) or str(getattr(index, "dtype", "")).endswith("bool")):
        try:
            i = operator.index(index)
        except TypeError:
            pass
    if i is not None and -1 <= i < len(FAMILY_NAMES):
        return FAMILY_NAMES[i] if i >= 0 else "unknown"
    # every registered family outside the table, whether registered from outside the package or by a
    # FAMILIES line of its own inside it (one without mixed_v1: until 2026-12-06 only the former were
    # named, so such a family's own index was refused); not the mixture, whose episodes report their
    # member's index
    own = {family_index(name): name for name in FAMILIES if name not in FAMILY_NAMES and name != MixtureFamily.name}
    if i is not None and i in own:
        return own[i]
    registered = "".join(f", {k} ({n})" for k, n in sorted(own.items()))
    unregistered = ("; an index of a family of your own not registered in this process: register it "
                    "(lrgym.tasks.register_family or $LRGYM_FAMILIES)" if i is not None and OWN_FAMILY_BASE <= i < 2 * OWN_FAMILY_BASE else "")
    raise ValueError(f"family index {index!r} invalid; valid: -1 (no family), "
                     + ", ".join(f"{i} ({n})" for i, n in enumerate(FAMILY_NAMES)) + registered + unregistered)


def info_constants(horizon: int, inner_steps: int, lr_min: float, lr_max: float, optimizer: int,
                   action_mode: int) -> tuple:
    """The entries fixed for an env's lifetime, as the NumPy scalars :func:`make_info` puts in
    every info (``optimizer`` / ``action_mode`` are indices)."""
    return (np.int64(horizon), np.int64(inner_steps), np.float64(lr_min), np.float64(lr_max), np.int64(optimizer),
            np.int64(action_mode))


def episode_constants(family: int, instance: int, optimal_loss: float) -> tuple:
    """The entries fixed for an episode (``family`` index, instance seed) and the loss at the
    instance's optimum (``excess_loss`` = train_loss − it; NaN where none is known)."""
    return np.int64(family), np.int64(instance), np.float64(optimal_loss)


def make_info(stats: np.ndarray, lr: float, rejected: bool, updates: int, step: int, episode: tuple,
              constants: tuple) -> dict:
    """The info of one reset or step, :data:`INFO_SCHEMA`'s keys and dtypes: the one builder of
    the env (:class:`lrgym.env.LRControlEnv`) and of :class:`lrgym.monitor.TrainingMonitor`.

    ``stats`` is the kernels' statistics array (``lrgym.tasks.base.S_*``), ``episode`` from
    :func:`episode_constants`, ``constants`` from :func:`info_constants`. (The constant entries
    come from one dict per (episode, constants) pair, copied: the step's info costs ≈ 1 µs less.)
    """
    info = _template(episode, constants).copy()
    info["lr"] = np.float64(lr)
    for key, index in STEP_STAT_KEYS:
        info[key] = stats[index]  # np.float64 scalars
    info["excess_loss"] = stats[S_TRAIN_LOSS] - episode[2]  # NaN where no optimum is known
    info["diverged"] = stats[S_DIVERGED] > 0.0  # np.bool_
    info["rejected"] = np.bool_(rejected)
    info["updates"] = np.int64(updates)
    info["step"] = np.int64(step)
    return info


#: (episode, constants, template) of the last :func:`_template` call, swapped as one object
_last_template: tuple = (None, None, None)


def _template(episode: tuple, constants: tuple) -> dict:
    """The info dict in :data:`INFO_SCHEMA`'s key order with the entries fixed by ``episode`` and
    ``constants`` filled in (the others None), rebuilt when either tuple is another object."""
    global _last_template
    last_episode, last_constants, d = _last_template
    if last_episode is episode and last_constants is constants:
        return d
    family, instance, _ = episode
    horizon, inner_steps, lr_min, lr_max, optimizer, action_mode = constants
    d = dict.fromkeys(INFO_KEYS)
    d.update(family=family, instance=instance, horizon=horizon, inner_steps=inner_steps, lr_min=lr_min,
             lr_max=lr_max, optimizer=optimizer, action_mode=action_mode)
    _last_template = (episode, constants, d)
    return d


# ---- the step's info from compiled code (the single env's fast step) ---------------------------

#: the float64 entries of a step's info that change every step, in :data:`INFO_SCHEMA`'s order:
#: what :func:`write_step_values` writes and :func:`step_info` puts into the info (in this order):
#: ``lr``, the :data:`STEP_STAT_KEYS`, ``excess_loss``
STEP_FLOAT_KEYS: tuple[str, ...] = ("lr", *(key for key, _ in STEP_STAT_KEYS), "excess_loss")
N_STEP_VALUES = len(STEP_FLOAT_KEYS)
if STEP_FLOAT_KEYS != INFO_KEYS[:N_STEP_VALUES]:  # make_info and step_info fill the template in place
    raise AssertionError(f"STEP_STAT_KEYS out of INFO_SCHEMA's order: {STEP_FLOAT_KEYS}")
#: the statistics' indices of :data:`STEP_STAT_KEYS` (a constant of the compiled code)
_STEP_STAT_INDICES = np.array([index for _, index in STEP_STAT_KEYS], dtype=np.int64)


@numba.njit(cache=True, nogil=True)
def write_step_values(stats, lr, optimal_loss, out):
    """Write the :data:`STEP_FLOAT_KEYS` values of a step into ``out`` (float64): ``lr``, the
    statistics of :data:`STEP_STAT_KEYS` and ``excess_loss`` = train_loss − ``optimal_loss`` (the
    same IEEE operations as :func:`make_info`, so the same bits)."""
    out[0] = lr
    for j in range(len(_STEP_STAT_INDICES)):
        out[1 + j] = stats[_STEP_STAT_INDICES[j]]
    out[len(_STEP_STAT_INDICES) + 1] = stats[S_TRAIN_LOSS] - optimal_loss


def step_info(template: dict, values: np.ndarray, counts: np.ndarray, diverged: bool) -> dict:
    """The info of a step whose changing float entries :func:`write_step_values` wrote into
    ``values`` and whose ``updates`` and ``step`` are ``counts`` (int64): a copy of ``template``
    (an info of the same episode with ``rejected`` False, e.g. the reset's; it fixes the keys'
    order and the constant entries) with those entries and ``diverged`` set.

    Equal, key by key, dtype by dtype and bit by bit, to :func:`make_info` of the same step
    (``tests/test_info.py``), in about 40 % of its time: indexing a NumPy array makes its
    ``np.float64`` / ``np.int64`` scalars faster than wrapping Python numbers (``np.int64(n)``
    costs ≈ 0.2 µs). Its keys are written out, not looped over (≈ 1 µs more);
    ``tests/test_info.py`` checks them against :data:`STEP_FLOAT_KEYS`."""
    info = template.copy()
    info["lr"] = values[0]
    info["train_loss"] = values[1]
    info["val_loss"] = values[2]
    info["val_metric"] = values[3]
    info["batch_loss"] = values[4]
    info["loss_var"] = values[5]
    info["grad_norm"] = values[6]
    info["grad_dot"] = values[7]
    info["grad_cos"] = values[8]
    info["excess_loss"] = values[9]
    info["diverged"] = _TRUE if diverged else _FALSE
    info["updates"] = counts[0]
    info["step"] = counts[1]
    return info


_TRUE, _FALSE = np.bool_(True), np.bool_(False)
