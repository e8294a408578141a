"""Reference implementations of one noisy-quadratic environment step, for speed comparisons.

The same math as :mod:`lrgym.tasks.quadratic` (f(x) = ½ xᵀHx, minibatch gradient
Hx + (σ/√b) ξ with ξ ~ N(0, I), float64), in vectorised NumPy and in PyTorch (CPU, autograd on
ℓ_B(x) = f(x) + (σ/√b) ξᵀx and ``torch.optim.SGD``):

    one env step = ``n_updates`` plain-SGD updates + the exact objective f(x)

The compiled kernel also computes its per-update statistics, so the comparison slightly favours
the references::

    task = reference_task()
    ref = NumpyQuadratic(task, task.init_params(np.random.default_rng(0)))
    f = ref.env_step(lr=0.5, n_updates=10)
"""

from __future__ import annotations

import math

import numpy as np

#: the speed configuration used in the benchmark table (the issue names none for this family)
REFERENCE_OPTIONS = dict(dim=32, condition=100.0, scale=1.0, noise=0.1, batch_size=16, rotate=True)


class NumpyQuadratic:
    def __init__(self, task, params: np.ndarray, seed: int = 0):
        self.H = task.H
        self.x = np.array(params, dtype=np.float64)
        self.s = math.sqrt(task.noise_var)
        self.rng = np.random.default_rng(seed)

    def env_step(self, lr: float, n_updates: int = 10):
        for _ in range(n_updates):
            g = self.H @ self.x + self.s * self.rng.standard_normal(self.x.shape[0])
            self.x -= lr * g
        return float(0.5 * self.x @ (self.H @ self.x))


class TorchQuadratic:
    def __init__(self, task, params: np.ndarray, seed: int = 0):
        import torch

        self.torch = torch
        self.H = torch.from_numpy(task.H)
        self.x = torch.nn.Parameter(torch.tensor(params, dtype=torch.float64))
        self.s = math.sqrt(task.noise_var)
        self.opt = torch.optim.SGD([self.x], lr=0.1)
        self.gen = torch.Generator().manual_seed(seed)

    def env_step(self, lr: float, n_updates: int = 10):
        torch = self.torch
        for group in self.opt.param_groups:
            group["lr"] = lr
        for _ in range(n_updates):
            xi = torch.randn(self.x.shape[0], generator=self.gen, dtype=torch.float64)
            loss = 0.5 * self.x @ (self.H @ self.x) + self.s * (xi @ self.x)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        with torch.no_grad():
            return float(0.5 * self.x @ (self.H @ self.x))


def reference_task():
    from lrgym.tasks.quadratic import QuadraticFamily

    fam = QuadraticFamily(**REFERENCE_OPTIONS)
    return fam.build(fam.sample(0))
