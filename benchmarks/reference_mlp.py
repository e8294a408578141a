"""Reference implementations of one MLP environment step, for speed comparisons.

The same math as :mod:`lrgym.tasks.mlp` (widths d → h [→ h] → C, tanh or relu, softmax
cross-entropy, float64), written the usual way in vectorised NumPy and in PyTorch (CPU):

    one env step = ``n_updates`` plain-SGD minibatch updates (rows drawn with replacement)
                   + mean cross-entropy on the first ``n_eval`` training rows
                   + cross-entropy and accuracy on the validation rows

The compiled kernel does this plus its per-update statistics (per-example loss variance,
gradient norm, g·g_prev, cosine), so the comparison slightly favours the references.
Both take their data and initial parameters from a built :class:`lrgym.tasks.mlp.MLPTask`::

    task = MLPFamily(dataset="teacher", input_dim=64, n_classes=10, hidden=64).build(spec)
    params = task.init_params(np.random.default_rng(0))
    ref = NumpyMLP(task, params)            # or TorchMLP(task, params)
    train_loss, val_loss, val_acc = ref.env_step(lr=0.002, n_updates=10)

Pin one thread for a single-core comparison (``OPENBLAS_NUM_THREADS=1``,
``torch.set_num_threads(1)``); :func:`time_env_steps` does the latter.
"""

from __future__ import annotations

import time

import numpy as np


class NumpyMLP:
    """Vectorised NumPy forward/backward and SGD on a copy of ``params``."""

    def __init__(self, task, params: np.ndarray, seed: int = 0):
        self.task = task
        self.params = np.array(params, dtype=np.float64)
        self.layers = task.layers(self.params)  # views (W, b)
        self.relu = bool(task.relu)
        self.rng = np.random.default_rng(seed)

    def _forward(self, X):
        acts = [X]
        A = X
        for l, (W, b) in enumerate(self.layers):
            Z = A @ W + b
            if l < len(self.layers) - 1:
                Z = np.maximum(Z, 0.0) if self.relu else np.tanh(Z)
            acts.append(Z)
            A = Z
        return acts

    @staticmethod
    def _xent(logits, y):
        m = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - m)
        s = e.sum(axis=1, keepdims=True)
        losses = (np.log(s) + m)[:, 0] - logits[np.arange(len(y)), y]
        return losses, e / s

    def loss_and_grad(self, rows):
        X, y = self.task.X[rows], self.task.y[rows]
        acts = self._forward(X)
        losses, probs = self._xent(acts[-1], y)
        D = probs
        D[np.arange(len(y)), y] -= 1.0  # gradient of the summed loss, as the kernel
        grads = []
        for l in range(len(self.layers) - 1, -1, -1):
            W, _ = self.layers[l]
            A_prev = acts[l]
            grads.append((A_prev.T @ D, D.sum(axis=0)))
            if l > 0:
                D = D @ W.T
                D *= (A_prev > 0) if self.relu else (1.0 - A_prev * A_prev)
        return losses.mean(), grads[::-1]

    def evaluate(self):
        t = self.task
        train = self._xent(self._forward(t.X[: t.n_eval])[-1], t.y[: t.n_eval])[0].mean()
        logits = self._forward(t.Xv)[-1]
        val = self._xent(logits, t.yv)[0].mean()
        acc = float((logits.argmax(axis=1) == t.yv).mean())
        return float(train), float(val), acc

    def env_step(self, lr: float, n_updates: int = 10):
        n, b = self.task.X.shape[0], self.task.spec.batch_size
        for _ in range(n_updates):
            rows = self.rng.integers(0, n, size=b)
            _, grads = self.loss_and_grad(rows)
            for (W, bias), (gW, gb) in zip(self.layers, grads):
                W -= lr * gW
                bias -= lr * gb
        return self.evaluate()


class TorchMLP:
    """``torch.nn`` model with ``torch.optim.SGD`` (float64, CPU), initialised from ``params``."""

    def __init__(self, task, params: np.ndarray, seed: int = 0):
        import torch

        self.torch = torch
        self.task = task
        mods = []
        layers = task.layers(np.array(params, dtype=np.float64))
        for l, (W, b) in enumerate(layers):
            lin = torch.nn.Linear(W.shape[0], W.shape[1], dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(W.T.copy()))
                lin.bias.copy_(torch.from_numpy(b.copy()))
            mods.append(lin)
            if l < len(layers) - 1:
                mods.append(torch.nn.ReLU() if task.relu else torch.nn.Tanh())
        self.model = torch.nn.Sequential(*mods)
        self.X = torch.from_numpy(task.X)
        self.y = torch.from_numpy(task.y)
        self.Xv = torch.from_numpy(task.Xv)
        self.yv = torch.from_numpy(task.yv)
        self.gen = torch.Generator().manual_seed(seed)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)

    def evaluate(self):
        torch, t = self.torch, self.task
        F = torch.nn.functional
        with torch.no_grad():
            train = F.cross_entropy(self.model(self.X[: t.n_eval]), self.y[: t.n_eval]).item()
            logits = self.model(self.Xv)
            val = F.cross_entropy(logits, self.yv).item()
            acc = (logits.argmax(dim=1) == self.yv).double().mean().item()
        return train, val, acc

    def env_step(self, lr: float, n_updates: int = 10):
        torch = self.torch
        F = torch.nn.functional
        for group in self.opt.param_groups:
            group["lr"] = lr
        n, b = self.X.shape[0], self.task.spec.batch_size
        for _ in range(n_updates):
            rows = torch.randint(0, n, (b,), generator=self.gen)
            loss = F.cross_entropy(self.model(self.X[rows]), self.y[rows], reduction="sum")
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return self.evaluate()


def reference_task():
    """The reference speed configuration: 64 → 64 → 10 tanh, batch 64, 4,096 teacher rows."""
    from lrgym.tasks.mlp import MLPFamily

    fam = MLPFamily(
        dataset="teacher", input_dim=64, n_classes=10, hidden=64, depth=1, activation="tanh",
        batch_size=64, n_train=4096, init="torch", label_noise=0.0,
    )
    return fam.build(fam.sample(0))


def time_env_steps(step_fn, seconds: float = 2.0) -> float:
    """Env steps per second of ``step_fn()`` (after one warm-up call)."""
    step_fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step_fn()
        n += 1
    return n / (time.perf_counter() - start)


if __name__ == "__main__":
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one core for every implementation (NumPy's BLAS included)

    from lrgym.optim import OptimizerConfig
    from lrgym.tasks.base import N_STATS

    torch.set_num_threads(1)
    task = reference_task()
    params = task.init_params(np.random.default_rng(0))
    state = task.new_state(np.random.default_rng(0))
    state.params[:] = params
    stats, cfg = np.zeros(N_STATS), OptimizerConfig("sgd")
    code, hyper = cfg.code, cfg.hyper()
    rates = {
        "lrgym kernel": time_env_steps(lambda: task.run(state, 0.002, 10, code, hyper, 1e9, stats)),
        "numpy": time_env_steps(lambda ref=NumpyMLP(task, params): ref.env_step(0.05)),
        "torch": time_env_steps(lambda ref=TorchMLP(task, params): ref.env_step(0.05)),
    }
    for name, rate in rates.items():
        print(f"{name:>13}: {rate:8.0f} env steps/s  ({rates['lrgym kernel'] / rate:5.2f}x)")
