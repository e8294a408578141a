"""Learning-rate schedules: the LR is a fixed function of the step t and the horizon T.

Every schedule is expressed over env steps t = 0, 1, ..., T−1 (T = ``info["horizon"]`` from
``reset``); step t runs ``inner_steps`` updates at η_t. Parameters that set a *length* are given
as fractions of the horizon, so a tuned schedule means the same thing at any horizon.

==================  ===================================================================
name                η_t
==================  ===================================================================
fixed               η0
step                η0 · γ^⌊t/s⌋,                s = max(1, round(step_frac · T))
exponential         η0 · γ^t,                    γ = r^(1/T)  (r = ``final_ratio``)
inverse_sqrt        η0 / √(t + 1)
linear              η0 · (1 − (1 − e) · t/T)      (e = ``end_factor``)
cosine              warm-up, then SGDR (Loshchilov & Hutter 2017), see :class:`Cosine`
one_cycle           PyTorch's ``OneCycleLR`` (Smith & Topin 2019), see :class:`OneCycle`
==================  ===================================================================

Each class implements :meth:`Schedule.lr` (a pure function of ``t`` and ``T``, used by the
tests) and acts in the env's ``log_lr`` mode through :class:`~lrgym.baselines.policy.LRPolicy`.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

import numpy as np

from lrgym.baselines.policy import LRPolicy, hyper_parameter
from lrgym.brief import brief


class Schedule(LRPolicy):
    """A policy whose LR depends on (t, T) only. Subclasses implement :meth:`lr`."""

    name = "schedule"

    def __init__(self, lr: float, optimizer: Any = "sgd", name: str | None = None):
        self.lr0 = hyper_parameter("lr", lr, "a positive finite number", lambda x: x > 0)
        self.optimizer = optimizer
        if name is not None:
            self.name = name

    @abstractmethod
    def lr(self, t: int, horizon: int) -> float:
        """η_t for step ``t`` of an episode of ``horizon`` steps."""

    def lr_at(self, t: int, obs: np.ndarray, info: dict) -> float:
        return self.lr(t, self.horizon)

    def sequence(self, horizon: int) -> np.ndarray:
        """η_0, ..., η_{T−1}."""
        return np.array([self.lr(t, horizon) for t in range(horizon)])

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_") and k not in (
            "t", "horizon", "inner_steps", "lr_min", "lr_max", "lr_init", "env_options"))
        return f"{type(self).__name__}({params})"


class Constant(Schedule):
    """η_t = η0. With ``optimizer="adam"`` this is Adam at a fixed LR.

    Runs in the env's ``discrete`` mode with the single factor 1 and ``lr_init = η0``, so the
    LR is exactly η0 (the ``log_lr`` action is float32) and a constant policy at a grid LR is
    exactly the leaderboard's fixed-LR reference.
    """

    name = "fixed"
    action_mode = "discrete"

    def __init__(self, lr: float, optimizer: Any = "sgd", name: str | None = None):
        super().__init__(lr, optimizer=optimizer, name=name)
        self.lr_init = self.lr0
        self.env_options = {"factors": (1.0,)}

    def lr(self, t: int, horizon: int) -> float:
        return self.lr0

    def act(self, obs: np.ndarray, info: dict) -> int:
        self.t += 1
        return 0  # × 1.0


class StepDecay(Schedule):
    """η_t = η0 · γ^⌊t/s⌋ with s = max(1, round(step_frac · T)) (PyTorch's ``StepLR``)."""

    name = "step"

    def __init__(self, lr: float, gamma: float = 0.1, step_frac: float = 1 / 3, **kw):
        super().__init__(lr, **kw)
        gamma = hyper_parameter("gamma", gamma, "0 < gamma <= 1", lambda x: 0 < x <= 1)
        step_frac = hyper_parameter("step_frac", step_frac, "0 < step_frac <= 1", lambda x: 0 < x <= 1)
        self.gamma, self.step_frac = float(gamma), float(step_frac)

    def step_size(self, horizon: int) -> int:
        return max(1, round(self.step_frac * horizon))

    def lr(self, t: int, horizon: int) -> float:
        return self.lr0 * self.gamma ** (t // self.step_size(horizon))


class ExponentialDecay(Schedule):
    """η_t = η0 · γ^t with γ = r^(1/T): the LR shrinks by the factor r over the episode."""

    name = "exponential"

    def __init__(self, lr: float, final_ratio: float = 0.01, **kw):
        super().__init__(lr, **kw)
        final_ratio = hyper_parameter("final_ratio", final_ratio, "0 < final_ratio <= 1", lambda x: 0 < x <= 1)
        self.final_ratio = float(final_ratio)

    def gamma(self, horizon: int) -> float:
        return self.final_ratio ** (1.0 / horizon)

    def lr(self, t: int, horizon: int) -> float:
        return self.lr0 * self.gamma(horizon) ** t


class InverseSqrt(Schedule):
    """η_t = η0 / √(t + 1): the classic η0/√k decay with k = t + 1 counting steps from 1."""

    name = "inverse_sqrt"

    def lr(self, t: int, horizon: int) -> float:
        return self.lr0 / math.sqrt(t + 1)


class LinearDecay(Schedule):
    """η_t = η0 · (1 − (1 − e) · t/T): from η0 towards e·η0 (e = 0: linear decay to zero)."""

    name = "linear"

    def __init__(self, lr: float, end_factor: float = 0.0, **kw):
        super().__init__(lr, **kw)
        end_factor = hyper_parameter("end_factor", end_factor, "0 <= end_factor <= 1", lambda x: 0 <= x <= 1)
        self.end_factor = float(end_factor)

    def lr(self, t: int, horizon: int) -> float:
        return self.lr0 * (1.0 - (1.0 - self.end_factor) * t / horizon)


class Cosine(Schedule):
    """Cosine annealing with optional linear warm-up and warm restarts (SGDR).

    With η_max = ``lr``, η_min = ``min_ratio`` · η_max, W = round(``warmup_frac`` · T) warm-up
    steps and R = T − W remaining steps split into n = ``cycles`` cycles of lengths
    T_i = T_0 · m^i (m = ``cycle_mult``, T_0 chosen so that Σ T_i = R)::

        t <  W:   η_t = η_max · (t + 1) / W
        t >= W:   η_t = η_min + ½ (η_max − η_min) (1 + cos(π T_cur / T_i))

    where cycle i contains step t and T_cur = t − W − Σ_{j<i} T_j counts steps since the last
    restart (Loshchilov & Hutter 2017, eq. 5; PyTorch's ``CosineAnnealingWarmRestarts``).
    ``cycles=1`` is plain cosine annealing.
    """

    name = "cosine"

    def __init__(
        self, lr: float, min_ratio: float = 0.0, warmup_frac: float = 0.0, cycles: int = 1,
        cycle_mult: float = 2.0, **kw,
    ):
        super().__init__(lr, **kw)
        min_ratio = hyper_parameter("min_ratio", min_ratio, "0 <= min_ratio <= 1", lambda x: 0 <= x <= 1)
        warmup_frac = hyper_parameter("warmup_frac", warmup_frac, "0 <= warmup_frac < 1", lambda x: 0 <= x < 1)
        cycles = hyper_parameter("cycles", cycles, "an integer >= 1", lambda x: x >= 1, integer=True)
        cycle_mult = hyper_parameter("cycle_mult", cycle_mult, "a finite number >= 1", lambda x: x >= 1)
        self.min_ratio, self.warmup_frac = float(min_ratio), float(warmup_frac)
        self.cycles, self.cycle_mult = int(cycles), float(cycle_mult)

    def warmup_steps(self, horizon: int) -> int:
        return min(horizon - 1, round(self.warmup_frac * horizon))

    def cycle_lengths(self, horizon: int) -> list[float]:
        """T_0, ..., T_{n−1} (they sum to T − W)."""
        rest, m, n = horizon - self.warmup_steps(horizon), self.cycle_mult, self.cycles
        t0 = rest / n if m == 1 else rest * (m - 1) / (m**n - 1)
        return [t0 * m**i for i in range(n)]

    def lr(self, t: int, horizon: int) -> float:
        w = self.warmup_steps(horizon)
        if t < w:
            return self.lr0 * (t + 1) / w
        t_cur = float(t - w)
        lengths = self.cycle_lengths(horizon)
        for t_i in lengths[:-1]:
            if t_cur < t_i - 1e-9:
                break
            t_cur -= t_i
        else:
            t_i = lengths[-1]
        lr_min = self.min_ratio * self.lr0
        return lr_min + 0.5 * (self.lr0 - lr_min) * (1.0 + math.cos(math.pi * t_cur / t_i))


class OneCycle(Schedule):
    """The one-cycle policy (Smith & Topin 2019), exactly PyTorch's ``OneCycleLR`` (two phases).

    With η_max = ``lr``, η_start = η_max / ``div_factor``, η_end = η_start / ``final_div_factor``
    and the phase boundary p = ``pct_start`` · T − 1::

        t <= p:  η_t = anneal(η_start, η_max, t / p)
        t >  p:  η_t = anneal(η_max, η_end, (t − p) / (T − 1 − p))

    with the cosine anneal(a, b, x) = b + ½ (a − b)(1 + cos(π x)) (``anneal="cos"``) or the
    linear one a + (b − a) x (``anneal="linear"``).
    """

    name = "one_cycle"

    def __init__(
        self, lr: float, pct_start: float = 0.3, div_factor: float = 25.0, final_div_factor: float = 1e4,
        anneal: str = "cos", **kw,
    ):
        super().__init__(lr, **kw)
        pct_start = hyper_parameter("pct_start", pct_start, "0 < pct_start < 1", lambda x: 0 < x < 1)
        div_factor = hyper_parameter("div_factor", div_factor, "a finite number > 0", lambda x: x > 0)
        final_div_factor = hyper_parameter("final_div_factor", final_div_factor, "a finite number > 0", lambda x: x > 0)
        if not (isinstance(anneal, str) and anneal in ("cos", "linear")):
            raise ValueError(f"anneal={brief(anneal)} invalid; valid choices: cos, linear")
        self.pct_start, self.div_factor = float(pct_start), float(div_factor)
        self.final_div_factor, self.anneal = float(final_div_factor), anneal

    def _anneal(self, start: float, end: float, x: float) -> float:
        if self.anneal == "cos":
            return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * x))
        return start + (end - start) * x

    def lr(self, t: int, horizon: int) -> float:
        lr_start = self.lr0 / self.div_factor
        lr_end = lr_start / self.final_div_factor
        p = self.pct_start * horizon - 1.0
        if t <= p:
            return self._anneal(lr_start, self.lr0, t / p) if p > 0 else self.lr0
        last = horizon - 1.0
        return self._anneal(self.lr0, lr_end, (t - p) / (last - p)) if last > p else lr_end
