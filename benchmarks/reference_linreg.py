"""Reference implementations of one linear-regression environment step, for speed comparisons.

The same math as :mod:`lrgym.tasks.linreg` in finite mode (float64), written the usual way in
vectorised NumPy and in PyTorch (CPU, autograd + ``torch.optim.SGD``):

    one env step = ``n_updates`` plain-SGD minibatch updates (rows drawn with replacement,
                   g = X_bᵀ(X_b w − y_b)/b)
                   + the mean loss on the first ``n_eval`` (≤ 2,048) training rows
                   + the mean loss and R² on the validation rows

Both losses are evaluated the way the compiled kernel evaluates them, from the task's QR
factorisation of those rows: ½ mean (Xw − y)² = (‖Rw − c‖² + ρ)/2n (O(d²); see
:mod:`lrgym.tasks.linreg`). ``eval="direct"`` evaluates them over the rows instead (O(n·d)), to
show what that choice is worth. The compiled kernel also computes its per-update statistics
(per-example loss variance, gradient norm, g·g_prev, cosine), so the comparison slightly favours
the references. Both take their data and initial parameters from a built
:class:`lrgym.tasks.linreg.LinRegTask`::

    task = reference_task()
    params = task.init_params(np.random.default_rng(0))
    ref = NumpyLinReg(task, params)          # or TorchLinReg(task, params)
    train_loss, val_loss, val_r2 = ref.env_step(lr=0.05, n_updates=10)
"""

from __future__ import annotations

import numpy as np

#: the reference speed configuration of the core issue
REFERENCE_OPTIONS = dict(dim=32, batch_size=64, n_train=2048, streaming=False, dataset="synthetic")


class NumpyLinReg:
    """Vectorised NumPy minibatch SGD on a copy of ``params``."""

    def __init__(self, task, params: np.ndarray, seed: int = 0, eval: str = "qr"):
        self.task = task
        self.w = np.array(params, dtype=np.float64)
        self.rng = np.random.default_rng(seed)
        self.b = task.spec.batch_size
        self.n = task.X.shape[0]
        self.eval = eval

    def evaluate(self):
        t, w = self.task, self.w
        if self.eval == "qr":
            r = t.R @ w - t.c
            train = 0.5 * (r @ r + t.rho) / t.n_eval
            rv = t.Rv @ w - t.cv
            val = 0.5 * (rv @ rv + t.rho_v) / t.n_val
        else:
            r = t.X[: t.n_eval] @ w - t.y[: t.n_eval]
            train = 0.5 * (r @ r) / t.n_eval
            rv = t.Xv @ w - t.yv
            val = 0.5 * (rv @ rv) / t.n_val
        return float(train), float(val), float(1.0 - 2.0 * val / t.val_var)

    def env_step(self, lr: float, n_updates: int = 10):
        X, y = self.task.X, self.task.y
        for _ in range(n_updates):
            rows = self.rng.integers(0, self.n, self.b)
            Xb = X[rows]
            r = Xb @ self.w - y[rows]
            self.w -= lr * (Xb.T @ r) / self.b
        return self.evaluate()


class TorchLinReg:
    """PyTorch (CPU, float64): ``w`` an ``nn.Parameter``, autograd and ``torch.optim.SGD``."""

    def __init__(self, task, params: np.ndarray, seed: int = 0, eval: str = "qr"):
        import torch

        self.torch = torch
        self.task = task
        self.X = torch.from_numpy(task.X)
        self.y = torch.from_numpy(task.y)
        self.w = torch.nn.Parameter(torch.tensor(params, dtype=torch.float64))
        self.opt = torch.optim.SGD([self.w], lr=0.1)
        self.gen = torch.Generator().manual_seed(seed)
        self.b = task.spec.batch_size
        self.n = task.X.shape[0]
        self.eval = eval
        if eval == "qr":
            self.R, self.c = torch.from_numpy(task.R), torch.from_numpy(task.c)
            self.Rv, self.cv = torch.from_numpy(task.Rv), torch.from_numpy(task.cv)
        else:
            self.Xe, self.ye = self.X[: task.n_eval], self.y[: task.n_eval]
            self.Xv, self.yv = torch.from_numpy(task.Xv), torch.from_numpy(task.yv)

    def evaluate(self):
        t = self.task
        with self.torch.no_grad():
            if self.eval == "qr":
                r = self.R @ self.w - self.c
                train = 0.5 * (r @ r + t.rho) / t.n_eval
                rv = self.Rv @ self.w - self.cv
                val = 0.5 * (rv @ rv + t.rho_v) / t.n_val
            else:
                train = 0.5 * ((self.Xe @ self.w - self.ye) ** 2).mean()
                val = 0.5 * ((self.Xv @ self.w - self.yv) ** 2).mean()
        val = float(val)
        return float(train), val, 1.0 - 2.0 * val / t.val_var

    def env_step(self, lr: float, n_updates: int = 10):
        torch = self.torch
        for group in self.opt.param_groups:
            group["lr"] = lr
        for _ in range(n_updates):
            rows = torch.randint(0, self.n, (self.b,), generator=self.gen)
            loss = 0.5 * ((self.X[rows] @ self.w - self.y[rows]) ** 2).mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return self.evaluate()


def reference_task():
    """d = 32, batch 64, 2,048 training rows (all of them evaluated), 512 validation rows."""
    from lrgym.tasks.linreg import LinRegFamily

    fam = LinRegFamily(**REFERENCE_OPTIONS)
    return fam.build(fam.sample(0))
