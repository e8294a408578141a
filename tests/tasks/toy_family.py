"""A toy task family for the registry test: a diagonal quadratic in plain NumPy (no Numba).

f(x) = ½ Σ h_i x_i², h log-spaced in [1, ``condition``], minibatch gradients h·x + σ ξ with ξ
drawn from the training state's SplitMix64 word (:func:`lrgym.rng.uniform`, so episodes are
reproducible to the bit), each update applied by :func:`lrgym.optim.apply_update`, the inner
optimizer every family shares (so ``optimizer="adam"``, weight decay and clipping act here as on
the built-in families; the contract checks that a family honours them). It exists to show what
a new family needs: this module, its tests, and one registry line
(:func:`lrgym.tasks.register_family`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lrgym import rng as _rng
from lrgym.optim import apply_update
from lrgym.tasks.base import (
    S_BATCH_LOSS,
    S_DIVERGED,
    S_GRAD_COS,
    S_GRAD_DOT,
    S_GRAD_NORM,
    S_LOSS_VAR,
    S_TRAIN_LOSS,
    S_UPDATES,
    S_VAL_LOSS,
    S_VAL_METRIC,
    Task,
    TaskFamily,
    TaskSpec,
    log_uniform,
)


@dataclass(frozen=True)
class ToySpec(TaskSpec):
    dim: int = 4
    condition: float = 10.0
    noise: float = 0.1


class ToyTask(Task):
    metric_name = "1 - f/f0"
    optimal_loss = 0.0

    def __init__(self, spec: ToySpec):
        self.spec = spec
        self.h = np.logspace(0.0, math.log10(spec.condition), spec.dim)
        self.n_params = spec.dim
        self.segments = np.array([0, spec.dim], dtype=np.int64)

    def init_params(self, rng):
        return rng.normal(size=self.spec.dim)

    def loss(self, x) -> float:
        return float(0.5 * np.sum(self.h * x * x))

    def evaluate(self, state, stats) -> None:
        f = self.loss(state.params)
        stats[S_TRAIN_LOSS] = stats[S_VAL_LOSS] = f
        stats[S_VAL_METRIC] = 1.0 - f / max(self.loss_at_start(state), 1e-300)

    def loss_at_start(self, state) -> float:
        return state.scratch["f0"][0] if state.scratch["f0"][0] > 0 else self.loss(state.params)

    def new_scratch(self) -> dict:
        return {"f0": np.zeros(1)}

    def run(self, state, lr, n_updates, opt, hyper, loss_cap, stats) -> None:
        x = state.params
        if state.scratch["f0"][0] == 0.0:
            state.scratch["f0"][0] = self.loss(x)
        batch, norms, dots, coss, done = [], [], [], [], 0
        for _ in range(n_updates):
            xi = np.array([_rng.uniform(state.rng) - 0.5 for _ in range(self.spec.dim)])
            g = self.h * x + self.spec.noise * xi
            batch.append(self.loss(x))
            norms.append(float(np.linalg.norm(g)))
            if state.step[0] > 0:
                dot = float(g @ state.prev_grad)
                dots.append(dot)
                coss.append(dot / max(norms[-1] * float(np.linalg.norm(state.prev_grad)), 1e-300))
            state.prev_grad[:] = g
            apply_update(x, g, state.slots, state.step, lr, opt, hyper, self.segments)  # g is overwritten
            done += 1
            f = self.loss(x)
            if not math.isfinite(f) or f > loss_cap:
                stats[S_DIVERGED] = 1.0
                break
        else:
            stats[S_DIVERGED] = 0.0
        self.evaluate(state, stats)
        stats[S_BATCH_LOSS] = float(np.mean(batch))
        stats[S_LOSS_VAR] = 0.0
        stats[S_GRAD_NORM] = float(np.mean(norms))
        stats[S_GRAD_DOT] = float(np.mean(dots)) if dots else 0.0
        stats[S_GRAD_COS] = float(np.mean(coss)) if coss else 0.0
        stats[S_UPDATES] = float(done)


class ToyFamily(TaskFamily):
    name = "toy"
    default_horizon = 8
    default_inner_steps = 3
    spec_class = ToySpec

    def _sample(self, rng, instance_seed):
        return ToySpec(family=self.name, instance=instance_seed, dim=int(rng.integers(2, 6)),
                       condition=log_uniform(rng, 1.0, 100.0), noise=log_uniform(rng, 0.01, 0.3))

    def build(self, spec):
        return ToyTask(spec)


class ToyTwinFamily(ToyFamily):
    """The toy under another name: a second family of one's own (two in one mixture)."""

    name = "toy_twin"


class BrokenToyTask(ToyTask):
    """The toy's task, with a bug on one instance: its run raises (a task must never raise)."""

    BROKEN_INSTANCE = 10_001

    def run(self, state, lr, n_updates, opt, hyper, loss_cap, stats) -> None:
        if self.spec.instance == self.BROKEN_INSTANCE:
            raise ZeroDivisionError(f"toy_broken's bug on instance {self.spec.instance}")
        super().run(state, lr, n_updates, opt, hyper, loss_cap, stats)


class BrokenToyFamily(ToyFamily):
    """The toy under the name ``toy_broken``, whose task raises on instance 10001 (a family bug)."""

    name = "toy_broken"

    def build(self, spec):
        return BrokenToyTask(spec)
