"""``controller``: a learned LR controller — a small network on the observation that moves the LR
by a bounded factor each step (numpy-only inference; trained by :mod:`lrgym.baselines.train_controller`).

**Rule.** With x_t the controller's inputs (below) and f the instance's family::

    η_0     = η_f · exp(c_f)                        η_f = the family's tuned fixed LR, c_f learned
    η_{t+1} = clip(η_t · exp(Δ_t), lr_min, lr_max)  Δ_t = Δ_max · tanh(net(x_t) + b_f + p_f · t/T)

``net`` is linear (``hidden=()``, the shipped default) or a tanh MLP; ``b_f`` is a learned bias per
family (= the family's one-hot as an input) and ``p_f`` a learned per-family slope over the episode's
progress (``family_progress=True``; a per-family schedule on top of the shared rule). The policy sets the LR itself (``action_mode
"log_lr"``) and trains with plain SGD, optionally with the env's step rejection
(``rejection_threshold``: a step whose loss rises by more than that fraction is undone, and the
``rejected`` input is 1 at the next decision).

**Inputs** (:data:`INPUT_NAMES`, each scaled to order 1 and clipped to ±:data:`INPUT_CLIP`), in
feature groups (:data:`INPUT_GROUPS`, the ablation's unit):

=========  ===========================================================================================
group      inputs
=========  ===========================================================================================
loss       log_train_loss_rel/10, log_val_loss_rel/10, tanh(10·Δlog train loss), tanh(10·Δlog val
           loss), log_batch_loss_rel/10, log_val_train_ratio/3
noise      log_loss_cv/3
gradient   log_grad_norm_rel/5, tanh(Δlog grad norm), grad_cos
lr_time    ln(η_t/η_0)/5, progress t/T
rejected   1 if the env undid the last step
bias       1
=========  ===========================================================================================

A masked group (``mask=("gradient",)``) is held at 0: the ablation of the README; masking
``family`` zeroes b_f, c_f and p_f (every family then starts at its base LR η_f with the shared rule).

The weights (``weights/controller_mixed.npz``) hold the parameter vector, the layer sizes, Δ_max,
the rejection threshold and the per-family base LRs, so the file alone defines the policy.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from lrgym.actions import action_from_log
from lrgym.baselines.outputs import replace_file
from lrgym.features import (
    F_DELTA_LOG_GRAD_NORM,
    F_DELTA_LOG_TRAIN_LOSS,
    F_DELTA_LOG_VAL_LOSS,
    F_GRAD_COS,
    F_LOG_BATCH_LOSS_REL,
    F_LOG_GRAD_NORM_REL,
    F_LOG_LOSS_CV,
    F_LOG_TRAIN_LOSS_REL,
    F_LOG_VAL_LOSS_REL,
    F_LOG_VAL_TRAIN_RATIO,
    F_PROGRESS,
    FEATURE_NAMES,
    N_FEATURES,
)
from lrgym.info import FAMILY_NAMES, family_name

#: lrgym's inverse action map, interpreted (it then maps NumPy arrays element-wise)
_action_from_log = action_from_log.py_func

INPUT_NAMES: tuple[str, ...] = (
    "log_train_loss_rel", "log_val_loss_rel", "delta_log_train_loss", "delta_log_val_loss",
    "log_batch_loss_rel", "log_val_train_ratio", "log_loss_cv", "log_grad_norm_rel",
    "delta_log_grad_norm", "grad_cos", "log_lr_rel", "progress", "rejected", "bias",
)
N_INPUTS = len(INPUT_NAMES)
INPUT_GROUPS: dict[str, tuple[str, ...]] = {
    "loss": INPUT_NAMES[0:6],
    "noise": ("log_loss_cv",),
    "gradient": ("log_grad_norm_rel", "delta_log_grad_norm", "grad_cos"),
    "lr_time": ("log_lr_rel", "progress"),
    "rejected": ("rejected",),
    "family": (),  # the per-family bias b_f, start offset c_f and progress slope p_f
}
INPUT_CLIP = 3.0
N_FAMILIES = len(FAMILY_NAMES)


def _named(family: int) -> str:
    """`` (family 'toy')`` for the index of a family registered in this process (a family of your
    own: its index is 2**32 + a CRC of its name, which says nothing to a reader), else ``""``."""
    try:
        return f" (family {family_name(family)!r})" if family >= 0 else ""
    except ValueError:  # an index no family of this process has
        return ""


def controller_inputs(obs: np.ndarray, log_lr_rel: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """(N, :data:`N_INPUTS`) inputs from observations (N, :data:`~lrgym.features.N_FEATURES`),
    ln(η_t/η_0) (N,) and rejection flags (N,). The observation's features are read by their
    names (the ``F_*`` positions of :mod:`lrgym.features`), so a feature appended there moves
    nothing; observations of another width are a ``ValueError`` naming the features read."""
    o = np.asarray(obs, dtype=np.float64)
    if o.ndim != 2 or o.shape[1] != N_FEATURES:
        raise ValueError(f"controller: observations of shape {o.shape}; valid: (N, {N_FEATURES}), the features "
                         f"{', '.join(FEATURE_NAMES)} of lrgym.features (an env of this lrgym version)")
    x = np.empty((o.shape[0], N_INPUTS))
    x[:, 0] = o[:, F_LOG_TRAIN_LOSS_REL] / 10.0
    x[:, 1] = o[:, F_LOG_VAL_LOSS_REL] / 10.0
    x[:, 2] = np.tanh(10.0 * o[:, F_DELTA_LOG_TRAIN_LOSS])
    x[:, 3] = np.tanh(10.0 * o[:, F_DELTA_LOG_VAL_LOSS])
    x[:, 4] = o[:, F_LOG_BATCH_LOSS_REL] / 10.0
    x[:, 5] = o[:, F_LOG_VAL_TRAIN_RATIO] / 3.0
    x[:, 6] = o[:, F_LOG_LOSS_CV] / 3.0
    x[:, 7] = o[:, F_LOG_GRAD_NORM_REL] / 5.0
    x[:, 8] = np.tanh(o[:, F_DELTA_LOG_GRAD_NORM])
    x[:, 9] = o[:, F_GRAD_COS]
    x[:, 10] = np.asarray(log_lr_rel, dtype=np.float64) / 5.0
    x[:, 11] = o[:, F_PROGRESS]
    x[:, 12] = np.asarray(rejected, dtype=np.float64)
    x[:, 13] = 1.0
    return np.clip(x, -INPUT_CLIP, INPUT_CLIP)


def input_mask(masked: Sequence[str] = ()) -> np.ndarray:
    """(N_INPUTS,) 0/1 vector that zeroes the inputs of the ``masked`` groups."""
    unknown = [g for g in masked if g not in INPUT_GROUPS]
    if unknown:
        raise ValueError(f"unknown input group(s) {unknown}; valid choices: {', '.join(INPUT_GROUPS)}")
    m = np.ones(N_INPUTS)
    for g in masked:
        for name in INPUT_GROUPS[g]:
            m[INPUT_NAMES.index(name)] = 0.0
    return m


@dataclass
class ControllerNet:
    """The controller's parameters and forward pass (batched; numpy only).

    ``theta`` is one flat vector: the layers' weights and biases (``hidden`` sizes, tanh), then the
    per-family output biases b (4), then the per-family start offsets c (4).
    """

    hidden: tuple[int, ...] = ()
    max_step: float = 0.5
    base_lr: tuple[float, ...] = (1e-2,) * N_FAMILIES
    rejection_threshold: float | None = None
    family_progress: bool = False
    theta: np.ndarray | None = None
    mask: tuple[str, ...] = ()
    _mask_vec: np.ndarray = field(default=None, repr=False)

    def __post_init__(self):
        self.hidden = tuple(int(h) for h in self.hidden)
        self.base_lr = tuple(float(v) for v in self.base_lr)
        if self.theta is None:
            self.theta = np.zeros(self.n_params)
        self.theta = np.asarray(self.theta, dtype=np.float64)
        if self.theta.shape != (self.n_params,):
            raise ValueError(f"theta has shape {self.theta.shape}; valid: ({self.n_params},) for hidden={self.hidden}")
        self._mask_vec = input_mask(self.mask)

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        sizes = (N_INPUTS, *self.hidden, 1)
        return [(a, b) for a, b in zip(sizes[:-1], sizes[1:])]

    @property
    def n_params(self) -> int:
        return sum(a * b + b for a, b in self.layer_shapes) + (3 if self.family_progress else 2) * N_FAMILIES

    def unpack(self, theta: np.ndarray):
        """(layers [(W, b)], family output bias (4,), family start offset (4,)) of a parameter vector
        (the per-family progress slopes, if any, follow: :meth:`progress_slopes`)."""
        layers, i = [], 0
        for a, b in self.layer_shapes:
            w = theta[i:i + a * b].reshape(a, b)
            i += a * b
            layers.append((w, theta[i:i + b]))
            i += b
        return layers, theta[i:i + N_FAMILIES], theta[i + N_FAMILIES:i + 2 * N_FAMILIES]

    def progress_slopes(self, theta: np.ndarray) -> np.ndarray:
        """p_f (4,): the per-family slopes over progress (zeros without ``family_progress``)."""
        if not self.family_progress:
            return np.zeros(N_FAMILIES)
        return theta[self.n_params - N_FAMILIES:]

    def inert_parameters(self) -> np.ndarray:
        """(n_params,) bool: the parameters the mask keeps from acting — the first layer's weights
        on masked inputs, and with ``family`` masked the family terms b_f, c_f, p_f. No output
        depends on them, so training leaves them at their start (ES's noise there moved them at
        random, without changing anything else: the same fitness, the same other parameters)."""
        inert = np.zeros(self.n_params, dtype=bool)
        a, b = self.layer_shapes[0]
        inert[:a * b] = np.repeat(self._mask_vec == 0, b)  # W (a, b) row-major: row i is input i
        if "family" in self.mask:
            inert[self.n_params - (3 if self.family_progress else 2) * N_FAMILIES:] = True
        return inert

    def start_log_lr(self, family: np.ndarray, theta: np.ndarray | None = None) -> np.ndarray:
        """ln η_0 per episode (family indices (N,))."""
        _, _, offset = self.unpack(self.theta if theta is None else theta)
        if "family" in self.mask:
            offset = np.zeros_like(offset)
        return np.log(np.asarray(self.base_lr))[family] + offset[family]

    def step_size(self, x: np.ndarray, family: np.ndarray, theta: np.ndarray | None = None) -> np.ndarray:
        """Δ (N,): the change of ln η for inputs x (N, N_INPUTS) of episodes of ``family`` (N,)."""
        theta = self.theta if theta is None else theta
        layers, fam_bias, _ = self.unpack(theta)
        slope = self.progress_slopes(theta)
        fam_term = fam_bias[family] + slope[family] * x[:, INPUT_NAMES.index("progress")]
        if "family" in self.mask:
            fam_term = np.zeros_like(fam_term)
        h = x * self._mask_vec
        for k, (w, b) in enumerate(layers):
            h = h @ w + b
            if k < len(layers) - 1:
                h = np.tanh(h)
        return self.max_step * np.tanh(h[:, 0] + fam_term)

    # ---- files -----------------------------------------------------------------------------

    def save(self, path: str | Path, meta: dict | None = None) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return replace_file(path, self.to_bytes(meta))

    def to_bytes(self, meta: dict | None = None) -> bytes:
        """The ``.npz`` :meth:`save` writes (``theta`` and a JSON ``header``: the shape, the
        input and family tables, the masked input groups, and ``meta``), which :meth:`load` reads.

        The mask is part of the policy: weights trained with ``mask=("gradient",)`` never had their
        gradient weights trained (ES leaves them at 0, since no fitness depends on them), so
        the file must keep those inputs at 0 wherever it is loaded."""
        header = {"hidden": list(self.hidden), "max_step": self.max_step, "base_lr": list(self.base_lr),
                  "rejection_threshold": self.rejection_threshold, "families": list(FAMILY_NAMES),
                  "family_progress": self.family_progress, "mask": list(self.mask),
                  "inputs": list(INPUT_NAMES), **(meta or {})}
        buf = io.BytesIO()
        np.savez(buf, theta=self.theta, header=np.array(json.dumps(header, sort_keys=True)))
        return buf.getvalue()

    @classmethod
    def load(cls, path: str | Path, mask: Sequence[str] = ()) -> "ControllerNet":
        """The net saved in ``path`` with the input groups it was trained without (its header's
        ``mask``; none for files older than that field) and ``mask`` masked."""
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            theta = np.array(data["theta"], dtype=np.float64)
        if header.get("inputs") != list(INPUT_NAMES):
            raise ValueError(f"{path}: weights for inputs {header.get('inputs')}, this code has {list(INPUT_NAMES)}")
        if header.get("families", list(FAMILY_NAMES)) != list(FAMILY_NAMES):
            # the per-family biases and offsets are indexed by info["family"]: weights of another
            # family table would act on the wrong families, or fail on theta's length unexplained
            raise ValueError(f"{path}: weights for families {header['families']}, this code has {list(FAMILY_NAMES)} "
                             "(lrgym.info.FAMILY_NAMES); valid: weights trained with this family table "
                             "(retrain: python -m lrgym.baselines.train_controller)")
        return cls(hidden=tuple(header["hidden"]), max_step=float(header["max_step"]),
                   base_lr=tuple(header["base_lr"]), rejection_threshold=header.get("rejection_threshold"),
                   family_progress=bool(header.get("family_progress", False)),
                   theta=theta, mask=tuple(dict.fromkeys((*header.get("mask", ()), *mask))))


class ControllerPolicy:
    """The Policy-protocol wrapper of a :class:`ControllerNet` for one episode at a time."""

    name = "controller"
    optimizer = "sgd"
    action_mode = "log_lr"

    def __init__(self, net: ControllerNet, name: str | None = None):
        self.net = net
        self.env_options = ({} if net.rejection_threshold is None
                            else {"rejection_threshold": float(net.rejection_threshold)})
        if name is not None:
            self.name = name

    @classmethod
    def load(cls, path: str | Path, mask: Sequence[str] = (), name: str | None = None) -> "ControllerPolicy":
        return cls(ControllerNet.load(path, mask=mask), name=name)

    def env_kwargs(self) -> dict:
        return {"optimizer": self.optimizer, "action_mode": self.action_mode, **self.env_options}

    def reset(self, info: dict) -> None:
        family = int(info["family"])
        if not 0 <= family < N_FAMILIES:
            raise ValueError(f"controller: family id {family} has no trained weights{_named(family)}; valid: "
                             f"0..{N_FAMILIES - 1} ({', '.join(FAMILY_NAMES)}): an env of one of these families, or in your own PyTorch "
                             "training PolicyScheduler(..., family=...) naming the one it resembles, e.g. family='mlp'")
        self.family = np.array([family])
        self.log_lr_min, self.log_lr_max = np.log(float(info["lr_min"])), np.log(float(info["lr_max"]))
        self.log_lr0 = float(self.net.start_log_lr(self.family)[0])
        self.log_lr = self.log_lr0
        self.t = 0

    def act(self, obs: np.ndarray, info: dict) -> np.ndarray:
        if self.t > 0:
            x = controller_inputs(np.asarray(obs, dtype=np.float64)[None, :], np.array([self.log_lr - self.log_lr0]),
                                  np.array([bool(info.get("rejected", False))]))
            self.log_lr += float(self.net.step_size(x, self.family)[0])
        self.log_lr = min(max(self.log_lr, self.log_lr_min), self.log_lr_max)
        self.t += 1
        return np.array([action_from_ln_lr(self.log_lr, self.log_lr_min, self.log_lr_max)], dtype=np.float32)


#: the class of the submission file :func:`submission_source` writes
SUBMISSION_CLASS = "TrainedController"


def submission_source(weights: bytes, name: str, class_name: str = SUBMISSION_CLASS, trained_on: dict | None = None) -> str:
    """A self-contained submission file of a trained controller: the bytes of its ``.npz``
    (``weights``) inline, base64, loaded by a :class:`ControllerPolicy` subclass ``class_name``
    whose entry is named ``name``. The grader copies only ``.py`` files into its sandbox, so a
    policy that loads ``runs/controller_mixed.npz`` by its path fails there; this file is what
    ``lrgym leaderboard submit FILE.py:TrainedController`` grades (``train_controller`` writes it
    beside the weights). It imports only lrgym and NumPy. ``trained_on``: the env options it
    trained with (its config's ``env_options``), its ``TRAINED_ON`` line
    (:func:`~lrgym.baselines.outputs.trained_on_lines`)."""
    from lrgym.baselines.outputs import trained_on_lines, weights_literal

    return (f'"""A controller trained by lrgym.baselines.train_controller (its weights inline).\n\n'
            f'lrgym leaderboard submit THIS_FILE.py:{class_name} --suite val\n"""\n\n'
            "import base64\nimport io\n\nfrom lrgym.baselines.controller import ControllerNet, ControllerPolicy\n\n"
            f"{trained_on_lines(trained_on)}"
            f"{weights_literal(weights)}\n\n"
            f"class {class_name}(ControllerPolicy):\n"
            f"    name = {name!r}\n\n"
            "    def __init__(self, family=None):\n"
            "        super().__init__(ControllerNet.load(io.BytesIO(base64.b64decode(WEIGHTS))), name=self.name)\n")


def action_from_ln_lr(ln_lr, ln_lr_min, ln_lr_max):
    """The env's ``log_lr`` action in [-1, 1] for **natural-log** LRs ``ln_lr`` in
    ``[ln_lr_min, ln_lr_max]`` (element-wise, clipped): the env's inverse map
    (:func:`lrgym.actions.action_from_log`, any log base) on natural logs. For an LR itself use
    :func:`lrgym.env.log_lr_action` ``(lr, lr_min, lr_max)``."""
    return np.clip(_action_from_log(np.asarray(ln_lr), ln_lr_min, ln_lr_max), -1.0, 1.0)


def log_lr_action(log_lr, log_lr_min, log_lr_max):
    """Deprecated name of :func:`action_from_ln_lr` (natural-log inputs; not
    :func:`lrgym.env.log_lr_action`, which takes the LR and its range)."""
    warnings.warn("lrgym.baselines.controller.log_lr_action is renamed action_from_ln_lr (it takes natural-log "
                  "LRs; lrgym.env.log_lr_action takes the LR itself)", DeprecationWarning, stacklevel=2)
    return action_from_ln_lr(log_lr, log_lr_min, log_lr_max)


__all__ = ["ControllerNet", "ControllerPolicy", "INPUT_GROUPS", "INPUT_NAMES", "SUBMISSION_CLASS", "action_from_ln_lr",
           "controller_inputs", "input_mask", "submission_source"]
