"""Reference implementations of one recommender environment step, for speed comparisons.

The same math as :mod:`lrgym.tasks.recsys` (logistic matrix factorisation, rows
(p_u, b_u) and (q_i, b_i), SGD on the summed log-loss of the minibatch's triples, negative
sampling),
written the usual way in vectorised NumPy (scatter-adds with ``np.add.at``) and in PyTorch
(CPU, ``nn.Embedding(sparse=True)`` + ``torch.optim.SGD``, which applies sparse gradients):

    one env step = ``n_updates`` plain-SGD minibatch updates (batch_size positives, each with
                   n_negatives uniform negatives)
                   + mean log-loss on the task's evaluation triples (≤ 2,048)
                   + log-loss and sampled AUC on the validation triples

The compiled kernel does this plus its per-update statistics (loss variance, gradient norm,
g·g_prev, cosine), so the comparison slightly favours the references. Both take their data and
initial parameters from a built :class:`lrgym.tasks.recsys.RecsysTask`::

    task = reference_task()
    params = task.init_params(np.random.default_rng(0))
    ref = NumpyRecsys(task, params)          # or TorchRecsys(task, params)
    train_loss, val_loss, val_auc = ref.env_step(lr=0.1, n_updates=10)
"""

from __future__ import annotations

import time

import numpy as np


def _softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _auc(scores, group):
    s = scores.reshape(-1, group)
    pos, neg = s[:, :1], s[:, 1:]
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


class NumpyRecsys:
    """Vectorised NumPy forward/backward and SGD with ``np.add.at`` on a copy of ``params``."""

    def __init__(self, task, params: np.ndarray, seed: int = 0):
        self.task = task
        self.params = np.array(params, dtype=np.float64)
        self.U, self.V = task.tables(self.params)  # views (rows × (r + 1))
        self.rng = np.random.default_rng(seed)
        self.r = task.spec.rank

    def scores(self, u, i):
        U, V, r = self.U, self.V, self.r
        return np.einsum("ij,ij->i", U[u, :r], V[i, :r]) + U[u, r] + V[i, r]

    def mean_logloss(self, u, i, y):
        s = self.scores(u, i)
        return float(_softplus((1.0 - 2.0 * y) * s).mean()), s

    def draw(self):
        t = self.task
        k, b = t.spec.n_negatives, t.spec.batch_size
        p = self.rng.integers(0, len(t.pos_u), size=b)
        u = np.repeat(t.pos_u[p], 1 + k)
        i = np.empty(b * (1 + k), dtype=np.int64)
        i[:: 1 + k] = t.pos_i[p]
        y = np.zeros(b * (1 + k))
        y[:: 1 + k] = 1.0
        for j in range(1, 1 + k):
            i[j :: 1 + k] = self.rng.integers(0, t.n_items, size=b)
        return u, i, y

    def sgd_update(self, u, i, y, lr):
        U, V, r = self.U, self.V, self.r
        s = self.scores(u, i)
        d = 1.0 / (1.0 + np.exp(-s)) - y  # gradient of the summed loss, as the kernel
        gU = np.empty((len(y), r + 1))
        gV = np.empty((len(y), r + 1))
        gU[:, :r] = d[:, None] * V[i, :r]
        gV[:, :r] = d[:, None] * U[u, :r]
        gU[:, r] = d
        gV[:, r] = d
        np.add.at(U, u, -lr * gU)
        np.add.at(V, i, -lr * gV)

    def evaluate(self):
        t = self.task
        train, _ = self.mean_logloss(t.ev_u, t.ev_i, t.ev_y)
        val, s = self.mean_logloss(t.va_u, t.va_i, t.va_y)
        return train, val, _auc(s, t.group)

    def env_step(self, lr: float, n_updates: int = 10):
        for _ in range(n_updates):
            self.sgd_update(*self.draw(), lr)
        return self.evaluate()


class TorchRecsys:
    """Two ``nn.Embedding(sparse=True)`` tables (rows (factors, bias)) and ``torch.optim.SGD``."""

    def __init__(self, task, params: np.ndarray, seed: int = 0):
        import torch

        self.torch = torch
        self.task = task
        U, V = task.tables(np.array(params, dtype=np.float64))
        self.U = torch.nn.Embedding.from_pretrained(torch.from_numpy(U.copy()), freeze=False, sparse=True)
        self.V = torch.nn.Embedding.from_pretrained(torch.from_numpy(V.copy()), freeze=False, sparse=True)
        self.r = task.spec.rank
        self.opt = torch.optim.SGD([self.U.weight, self.V.weight], lr=1.0)
        self.gen = torch.Generator().manual_seed(seed)
        self.pos_u, self.pos_i = torch.from_numpy(task.pos_u), torch.from_numpy(task.pos_i)
        self.ev = [torch.from_numpy(a) for a in (task.ev_u, task.ev_i, task.ev_y)]
        self.va = [torch.from_numpy(a) for a in (task.va_u, task.va_i, task.va_y)]

    def scores(self, u, i):
        pu, qi, r = self.U(u), self.V(i), self.r
        return (pu[:, :r] * qi[:, :r]).sum(dim=1) + pu[:, r] + qi[:, r]

    def evaluate(self):
        torch, F, t = self.torch, self.torch.nn.functional, self.task
        with torch.no_grad():
            train = F.binary_cross_entropy_with_logits(self.scores(*self.ev[:2]), self.ev[2]).item()
            s = self.scores(*self.va[:2])
            val = F.binary_cross_entropy_with_logits(s, self.va[2]).item()
        return train, val, _auc(s.numpy(), t.group)

    def env_step(self, lr: float, n_updates: int = 10):
        torch, F, t = self.torch, self.torch.nn.functional, self.task
        for group in self.opt.param_groups:
            group["lr"] = lr
        k, b = t.spec.n_negatives, t.spec.batch_size
        for _ in range(n_updates):
            p = torch.randint(0, len(self.pos_u), (b,), generator=self.gen)
            u = self.pos_u[p].repeat_interleave(1 + k)
            i = torch.randint(0, t.n_items, (b, 1 + k), generator=self.gen)
            i[:, 0] = self.pos_i[p]
            y = torch.zeros(b, 1 + k, dtype=torch.float64)
            y[:, 0] = 1.0
            loss = F.binary_cross_entropy_with_logits(self.scores(u, i.reshape(-1)), y.reshape(-1), reduction="sum")
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
        return self.evaluate()


def reference_task():
    """The reference speed configuration: rank 16, 64 positives × (1 + 3) = 256 triples."""
    from lrgym.tasks.recsys import RecsysFamily

    fam = RecsysFamily(n_users=2000, n_items=1000, rank=16, batch_size=64, n_negatives=3)
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
    rates = {}
    for name, lr in (("sgd", 10.0), ("adam", 0.01)):
        state = task.new_state(np.random.default_rng(0))
        state.params[:] = params
        stats, cfg = np.zeros(N_STATS), OptimizerConfig(name)
        code, hyper = cfg.code, cfg.hyper()
        rates[f"lrgym kernel ({name})"] = time_env_steps(lambda: task.run(state, lr, 10, code, hyper, 1e9, stats))
    rates["numpy (sgd)"] = time_env_steps(lambda ref=NumpyRecsys(task, params): ref.env_step(10.0))
    rates["torch (sgd)"] = time_env_steps(lambda ref=TorchRecsys(task, params): ref.env_step(10.0))
    base = rates["lrgym kernel (sgd)"]
    for name, rate in rates.items():
        print(f"{name:>20}: {rate:8.0f} env steps/s  (kernel sgd is {base / rate:5.2f}x)")
