"""Inner update rules, shared by every task family.

The policy's learning rate is the step size ``lr`` of these rules. All parameters of a model
live in one flat float64 vector ``params``; the optimizer state is a ``(2, P)`` array (first and
second moment slots) plus a one-element ``int64`` step counter. Layer boundaries, where a model
has layers, are given by ``segments`` = ``[0, end_1, ..., P]`` and used only by the LARS-style
layer-wise normalisation.

One update, for the gradient ``g`` of the minibatch loss at ``p``, in PyTorch's order
(``torch.nn.utils.clip_grad_norm_`` on the loss gradient, then ``optimizer.step()``, which adds
the weight decay):

1. clipping (``clip_norm`` > 0):                    g ← g · min(1, c / (‖g‖ + 10⁻⁶))
   (``clip_grad_norm_``'s formula, with its 10⁻⁶ guard: :func:`clip_coefficient`)
2. weight decay (L2, as in ``torch.optim``):       g ← g + wd·p
3. normalisation: ``global``                        g ← g / ‖g‖
                  ``layerwise`` (LARS trust ratio)  g_l ← g_l · ‖p_l‖ / ‖g_l‖   (‖p_l‖ = 0 → 1/‖g_l‖)
4. the rule (t counts updates from 1; formulas are PyTorch's, so results match ``torch.optim``
   with ``weight_decay=wd`` after ``clip_grad_norm_(params, c)``; tested for every rule with
   weight decay, clipping and both):

=========  ====================================================================
sgd        p ← p − η g
momentum   b ← μ b + g;                 p ← p − η b
nesterov   b ← μ b + g;                 p ← p − η (g + μ b)
adam       m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
           p ← p − η (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
rmsprop    v ← α v + (1−α) g²;          p ← p − η g / (√v + ε)
adagrad    v ← v + g²;                  p ← p − η g / (√v + ε)
=========  ====================================================================

Normalisation (no ``torch.optim`` equivalent) acts on the decayed gradient g + wd·p, as LARS
does (You et al. 2017: the update direction is g + wd·p, scaled by ‖p‖ / ‖g + wd·p‖).
(Before env ``-v1``, the decay was added before clipping; PyTorch clips first.)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numba
import numpy as np

from lrgym.brief import brief
from lrgym.tasks.base import is_real, real_float

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad")
NORMALIZATIONS = ("none", "global", "layerwise")

SGD, MOMENTUM, NESTEROV, ADAM, RMSPROP, ADAGRAD = range(6)

# Layout of the ``hyper`` float64 array the kernels receive.
H_MOMENTUM, H_BETA1, H_BETA2, H_EPS, H_ALPHA, H_WEIGHT_DECAY, H_CLIP_NORM, H_NORMALIZE = range(8)
N_HYPER = 8

_DEFAULT_EPS = {"adagrad": 1e-10}


def check_choice(kind: str, value, choices) -> None:
    """Raise a ``ValueError`` naming the bad value and the valid choices (names, so only a str
    is one: a NumPy array compared element-wise with each choice, and ``value not in choices``
    raised NumPy's bare "truth value of an array ... is ambiguous"; a list in a dict's keys was a
    bare "unhashable type")."""
    if not (isinstance(value, str) and value in choices):
        raise ValueError(f"unknown {kind} {brief(value)}; valid choices: {', '.join(map(str, choices))}")


def _why(value) -> str:
    """How a hyper-parameter fails its check: a real number is out of range; anything else (a
    str, a bool, None, a list: every comparison raised a bare ``TypeError``, and ``False`` was
    taken as a momentum of 0) is not a number."""
    return "out of range" if is_real(value) else f"is not a real number (a {type(value).__name__})"


@dataclass(frozen=True)
class OptimizerConfig:
    """Which inner update rule to run and its hyper-parameters (the LR comes from the policy)."""

    name: str = "sgd"
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float | None = None  # None: 1e-8, or 1e-10 for adagrad (PyTorch's defaults)
    alpha: float = 0.99  # RMSprop's smoothing constant
    weight_decay: float = 0.0
    clip_norm: float | None = None
    normalize: str = "none"

    def __post_init__(self):
        check_choice("optimizer", self.name, OPTIMIZERS)
        check_choice("normalize", self.normalize, NORMALIZATIONS)
        for field, low, high in (
            ("momentum", 0.0, 1.0),
            ("beta1", 0.0, 1.0),
            ("beta2", 0.0, 1.0),
            ("alpha", 0.0, 1.0),
        ):
            value = getattr(self, field)
            if not (is_real(value) and low <= value < high):
                raise ValueError(f"{field}={brief(value)} {_why(value)}; valid: a number with {low} <= {field} < {high}")
        wd = self.weight_decay
        if not (is_real(wd) and 0 <= real_float(wd) < math.inf):
            raise ValueError(f"weight_decay={brief(wd)} {_why(wd)}; valid: a finite number >= 0")
        if self.clip_norm is not None and not (is_real(self.clip_norm) and 0 < real_float(self.clip_norm) < math.inf):
            raise ValueError(f"clip_norm={brief(self.clip_norm)} {_why(self.clip_norm)}; valid: None or a finite number > 0")
        if self.eps is not None and not (is_real(self.eps) and 0 < real_float(self.eps) < math.inf):
            raise ValueError(f"eps={brief(self.eps)} {_why(self.eps)}; valid: None or a finite number > 0")

    @classmethod
    def coerce(cls, value) -> "OptimizerConfig":
        """Accept a config, a name (``"adam"``) or a dict of fields."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls(name=value)
        if isinstance(value, dict):
            unknown = set(value) - set(cls.__dataclass_fields__)
            if unknown:
                raise ValueError(
                    f"unknown optimizer option(s) {sorted(unknown)}; "
                    f"valid: {sorted(cls.__dataclass_fields__)}"
                )
            return cls(**value)
        raise ValueError(f"optimizer must be a name, dict or OptimizerConfig, got {brief(value)}; valid names: "
                         f"{', '.join(OPTIMIZERS)}")

    @property
    def code(self) -> int:
        return OPTIMIZERS.index(self.name)

    def hyper(self) -> np.ndarray:
        """The float64 ``hyper`` array the kernels take."""
        h = np.zeros(N_HYPER)
        h[H_MOMENTUM] = self.momentum
        h[H_BETA1] = self.beta1
        h[H_BETA2] = self.beta2
        h[H_EPS] = self.eps if self.eps is not None else _DEFAULT_EPS.get(self.name, 1e-8)
        h[H_ALPHA] = self.alpha
        h[H_WEIGHT_DECAY] = self.weight_decay
        h[H_CLIP_NORM] = 0.0 if self.clip_norm is None else self.clip_norm
        h[H_NORMALIZE] = NORMALIZATIONS.index(self.normalize)
        return h

    def to_dict(self) -> dict:
        return asdict(self)


def new_state(n_params: int) -> tuple[np.ndarray, np.ndarray]:
    """Zeroed optimizer state ``(slots (2, P), step counter (1,))``."""
    return np.zeros((2, n_params)), np.zeros(1, dtype=np.int64)


@numba.njit(cache=True, nogil=True, inline="always")
def update_coordinate(params, slots, i, g, lr, t, opt, hyper):
    """Apply the update rule to coordinate ``i`` with (transformed) gradient ``g`` at step t."""
    if opt == SGD:
        params[i] -= lr * g
    elif opt == MOMENTUM:
        b = hyper[H_MOMENTUM] * slots[0, i] + g
        slots[0, i] = b
        params[i] -= lr * b
    elif opt == NESTEROV:
        b = hyper[H_MOMENTUM] * slots[0, i] + g
        slots[0, i] = b
        params[i] -= lr * (g + hyper[H_MOMENTUM] * b)
    elif opt == ADAM:
        b1 = hyper[H_BETA1]
        b2 = hyper[H_BETA2]
        m = b1 * slots[0, i] + (1.0 - b1) * g
        v = b2 * slots[1, i] + (1.0 - b2) * g * g
        slots[0, i] = m
        slots[1, i] = v
        m_hat = m / (1.0 - b1**t)
        v_hat = v / (1.0 - b2**t)
        params[i] -= lr * m_hat / (math.sqrt(v_hat) + hyper[H_EPS])
    elif opt == RMSPROP:
        a = hyper[H_ALPHA]
        v = a * slots[1, i] + (1.0 - a) * g * g
        slots[1, i] = v
        params[i] -= lr * g / (math.sqrt(v) + hyper[H_EPS])
    else:  # ADAGRAD
        v = slots[1, i] + g * g
        slots[1, i] = v
        params[i] -= lr * g / (math.sqrt(v) + hyper[H_EPS])


@numba.njit(cache=True, nogil=True)
def squared_norm(x, start, stop):
    s = 0.0
    for i in range(start, stop):
        s += x[i] * x[i]
    return s


CLIP_GUARD = 1e-6  # torch.nn.utils.clip_grad_norm_ divides by ‖g‖ + 1e-6


@numba.njit(cache=True, nogil=True, inline="always")
def clip_coefficient(clip, norm):
    """``min(1, c / (‖g‖ + 10⁻⁶))``: the factor ``torch.nn.utils.clip_grad_norm_`` scales by."""
    return min(1.0, clip / (norm + CLIP_GUARD))


@numba.njit(cache=True, nogil=True)
def transform_gradient(params, grad, hyper, segments):
    """Steps 1–3 (clipping, weight decay, normalisation) in place; returns the raw ‖g‖.

    The returned norm is that of the loss gradient before any transform, which is what the
    environment reports as the gradient norm.
    """
    n = grad.shape[0]
    raw_norm = math.sqrt(squared_norm(grad, 0, n))
    clip = hyper[H_CLIP_NORM]
    if clip > 0.0:
        scale = clip_coefficient(clip, raw_norm)
        if scale < 1.0:
            for i in range(n):
                grad[i] *= scale
    wd = hyper[H_WEIGHT_DECAY]
    if wd != 0.0:
        for i in range(n):
            grad[i] += wd * params[i]
    mode = int(hyper[H_NORMALIZE])
    if mode == 1:
        norm = math.sqrt(squared_norm(grad, 0, n))
        if norm > 0.0:
            inv = 1.0 / norm
            for i in range(n):
                grad[i] *= inv
    if mode == 2:
        for s in range(segments.shape[0] - 1):
            lo = segments[s]
            hi = segments[s + 1]
            g_norm = math.sqrt(squared_norm(grad, lo, hi))
            if g_norm > 0.0:
                p_norm = math.sqrt(squared_norm(params, lo, hi))
                ratio = (p_norm if p_norm > 0.0 else 1.0) / g_norm
                for i in range(lo, hi):
                    grad[i] *= ratio
    return raw_norm


@numba.njit(cache=True, nogil=True, inline="always")
def hyper_tuple(hyper):
    """The eight hyper-parameters as a tuple of values.

    Read from the array inside a loop that stores into ``params`` / ``slots``, LLVM cannot
    rule out aliasing and reloads them (and recomputes β₁ᵗ, β₂ᵗ) every coordinate.
    """
    return (hyper[0], hyper[1], hyper[2], hyper[3], hyper[4], hyper[5], hyper[6], hyper[7])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def apply_rule(params, slots, grad, t, lr, opt, hyper):
    """Step 4 on every coordinate, with (transformed) gradient ``grad`` at step t.

    Branches on ``opt`` once, outside the loop, and calls :func:`update_coordinate` with a
    constant rule in each branch, so the compiler drops the other rules and vectorises the loop
    (≈0.3 ns per coordinate for SGD, ≈3 ns for Adam, against ≈15 / 30 ns with the branch
    inside the loop). The step is a float, so β₁ᵗ, β₂ᵗ are ``pow`` calls hoisted out of the
    loop, as in ``torch.optim.Adam``.
    """
    n = params.shape[0]
    tf = float(t)
    h = hyper_tuple(hyper)
    if opt == SGD:
        for i in range(n):
            update_coordinate(params, slots, i, grad[i], lr, tf, SGD, h)
    elif opt == MOMENTUM:
        for i in range(n):
            update_coordinate(params, slots, i, grad[i], lr, tf, MOMENTUM, h)
    elif opt == NESTEROV:
        for i in range(n):
            update_coordinate(params, slots, i, grad[i], lr, tf, NESTEROV, h)
    elif opt == ADAM:
        for i in range(n):
            update_coordinate(params, slots, i, grad[i], lr, tf, ADAM, h)
    elif opt == RMSPROP:
        for i in range(n):
            update_coordinate(params, slots, i, grad[i], lr, tf, RMSPROP, h)
    else:
        for i in range(n):
            update_coordinate(params, slots, i, grad[i], lr, tf, ADAGRAD, h)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def apply_update(params, grad, slots, step, lr, opt, hyper, segments):
    """One full update of every coordinate (``grad`` is overwritten); returns the raw ‖g‖."""
    raw_norm = transform_gradient(params, grad, hyper, segments)
    step[0] += 1
    apply_rule(params, slots, grad, step[0], lr, opt, hyper)
    return raw_norm
