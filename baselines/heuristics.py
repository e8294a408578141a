"""Loss-driven heuristics: the LR reacts to what training reports after each step.

==================  ==========================================================================
name                rule (applied after step t, sets the LR of step t + 1)
==================  ==========================================================================
bold_driver         loss rose > 4 %: undo the step, η ← 0.7 η; loss fell: η ← 1.05 η;
                    else keep η (MATLAB ``traingda`` defaults; the env undoes the step)
plateau             PyTorch ``ReduceLROnPlateau``: η ← max(f·η, η_min) once the monitored loss
                    has not improved by a relative ``threshold`` for more than ``patience`` steps
hypergradient       SGD-HD (Baydin et al. 2018): α ← α + β · K · ḡ,  ḡ = ``info["grad_dot"]``
hypergradient_mult  scale-free multiplicative variant: α ← α · exp(β · ``info["grad_cos"]``)
==================  ==========================================================================

The LR is kept within the env's ``[lr_min, lr_max]``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrgym.baselines.policy import LRPolicy, hyper_parameter
from lrgym.brief import brief


class BoldDriver:
    """Bold driver (Battiti 1989; Vogl et al. 1988), with MATLAB ``traingda``'s defaults.

    After each step, with L the training loss before and L' after it::

        L' > (1 + max_increase) · L:  the step is undone (the env's ``rejection_threshold``),
                                      η ← dec · η                     (dec = 0.7)
        L' < L:                       η ← inc · η                     (inc = 1.05)
        otherwise:                    η unchanged

    The policy runs in the env's ``discrete`` mode with ``factors = (dec, 1, inc)``, so the LR is
    multiplied by exactly these factors; it starts from ``lr`` (the env's ``lr_init``).
    """

    name = "bold_driver"
    action_mode = "discrete"
    DEC, KEEP, INC = 0, 1, 2

    def __init__(
        self, lr: float = 1e-2, inc: float = 1.05, dec: float = 0.7, max_increase: float = 0.04,
        optimizer: Any = "sgd", name: str | None = None,
    ):
        self.lr_init = hyper_parameter("lr", lr, "a positive finite number", lambda x: x > 0)
        self.inc = hyper_parameter("inc", inc, "a finite number >= 1", lambda x: x >= 1)
        self.dec = hyper_parameter("dec", dec, "0 < dec <= 1", lambda x: 0 < x <= 1)
        self.max_increase = hyper_parameter("max_increase", max_increase, "a finite number >= 0", lambda x: x >= 0)
        self.optimizer = optimizer
        self.env_options = {"factors": (self.dec, 1.0, self.inc), "rejection_threshold": self.max_increase}
        if name is not None:
            self.name = name

    def env_kwargs(self) -> dict:
        return {"optimizer": self.optimizer, "action_mode": self.action_mode, "lr_init": self.lr_init,
                **self.env_options}

    def reset(self, info: dict) -> None:
        self.prev_loss = info["train_loss"]
        self.t = 0

    def act(self, obs: np.ndarray, info: dict) -> int:
        if self.t == 0:
            a = self.KEEP  # the first step runs at the initial LR
        elif info["rejected"]:
            a = self.DEC
        elif info["train_loss"] < self.prev_loss:
            a = self.INC
        else:
            a = self.KEEP
        self.prev_loss = info["train_loss"]  # after a rejection the env reports the restored loss
        self.t += 1
        return a


class ReduceOnPlateau(LRPolicy):
    """PyTorch's ``ReduceLROnPlateau`` (mode "min", relative threshold) on the env's losses.

    After each step, with m the monitored loss (``monitor``: ``"train_loss"``, the objective,
    or ``"val_loss"``)::

        m < best · (1 − threshold):  best ← m, bad ← 0      else: bad ← bad + 1
        in cooldown:                 cooldown ← cooldown − 1, bad ← 0
        bad > patience:              η ← max(factor · η, lr_min), cooldown ← cooldown_steps, bad ← 0
    """

    name = "plateau"

    def __init__(
        self, lr: float = 1e-2, factor: float = 0.5, patience: int = 3, threshold: float = 1e-3,
        cooldown: int = 0, monitor: str = "train_loss", optimizer: Any = "sgd", name: str | None = None,
    ):
        self.lr0 = hyper_parameter("lr", lr, "a positive finite number", lambda x: x > 0)
        self.factor = hyper_parameter("factor", factor, "0 < factor < 1", lambda x: 0 < x < 1)
        self.patience = hyper_parameter("patience", patience, "an integer >= 0", lambda x: x >= 0, integer=True)
        self.threshold = hyper_parameter("threshold", threshold, "a finite number >= 0", lambda x: x >= 0)
        self.cooldown_steps = hyper_parameter("cooldown", cooldown, "an integer >= 0", lambda x: x >= 0, integer=True)
        if not (isinstance(monitor, str) and monitor in ("train_loss", "val_loss")):
            raise ValueError(f"monitor={brief(monitor)} invalid; valid choices: train_loss, val_loss")
        self.monitor = monitor
        self.optimizer = optimizer
        if name is not None:
            self.name = name

    def reset(self, info: dict) -> None:
        super().reset(info)
        self.current_lr = self.lr0
        self.best = math.inf
        self.bad = 0
        self.cooldown = 0

    def observe(self, loss: float) -> None:
        """PyTorch's ``ReduceLROnPlateau.step(loss)``."""
        if loss < self.best * (1.0 - self.threshold):
            self.best, self.bad = loss, 0
        else:
            self.bad += 1
        if self.cooldown > 0:
            self.cooldown -= 1
            self.bad = 0
        if self.bad > self.patience:
            self.current_lr = max(self.current_lr * self.factor, self.lr_min)
            self.cooldown, self.bad = self.cooldown_steps, 0

    def lr_at(self, t: int, obs: np.ndarray, info: dict) -> float:
        if t > 0:
            self.observe(info[self.monitor])
        return self.current_lr


class Hypergradient(LRPolicy):
    """SGD with hypergradient descent, SGD-HD (Baydin et al. 2018, Algorithm 1).

    Per update k the paper sets α_k = α_{k−1} + β · g_k · g_{k−1}. The env holds the LR fixed
    for the K = ``inner_steps`` updates of a step and reports their mean consecutive-gradient
    product ḡ = ``info["grad_dot"]``, so the step's K increments add up to::

        α_{t+1} = clip(α_t + β · K · ḡ_t,  lr_min, lr_max)

    ``beta`` has units of LR / gradient²; it is tuned per family.
    """

    name = "hypergradient"

    def __init__(self, lr: float = 1e-2, beta: float = 1e-3, optimizer: Any = "sgd", name: str | None = None):
        self.lr0 = hyper_parameter("lr", lr, "a positive finite number", lambda x: x > 0)
        self.beta = hyper_parameter("beta", beta, "a finite number >= 0", lambda x: x >= 0)
        self.optimizer = optimizer
        if name is not None:
            self.name = name

    def reset(self, info: dict) -> None:
        super().reset(info)
        self.alpha = self.lr0

    def update(self, grad_dot: float) -> float:
        """One env step's hypergradient update of α (returns the new α)."""
        alpha = self.alpha + self.beta * self.inner_steps * grad_dot
        if not math.isfinite(alpha):
            alpha = self.lr_min
        self.alpha = min(self.lr_max, max(self.lr_min, alpha))
        return self.alpha

    def lr_at(self, t: int, obs: np.ndarray, info: dict) -> float:
        if t > 0:
            self.update(info["grad_dot"])
        return self.alpha


class MultiplicativeHypergradient(Hypergradient):
    """Scale-free hypergradient rule: α_{t+1} = clip(α_t · exp(β · c_t), lr_min, lr_max).

    c_t = ``info["grad_cos"]`` ∈ [−1, 1] is the mean cosine between consecutive minibatch
    gradients: the normalised hypergradient. Agreeing gradients (c > 0) mean the LR is too small,
    alternating ones (c < 0) that it overshoots. Unlike the additive rule, β is dimensionless
    (β = 0.5: at most ×1.65 per step), so one value works across problem scales.
    """

    name = "hypergradient_mult"

    def __init__(self, lr: float = 1e-2, beta: float = 0.5, optimizer: Any = "sgd", name: str | None = None):
        super().__init__(lr=lr, beta=beta, optimizer=optimizer, name=name)

    def update(self, grad_cos: float) -> float:
        alpha = self.alpha * math.exp(self.beta * grad_cos) if math.isfinite(grad_cos) else self.alpha
        self.alpha = min(self.lr_max, max(self.lr_min, alpha))
        return self.alpha

    def lr_at(self, t: int, obs: np.ndarray, info: dict) -> float:
        if t > 0:
            self.update(info["grad_cos"])
        return self.alpha
