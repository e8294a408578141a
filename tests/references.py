"""Slow, obvious reference implementations that the fast kernels are checked against.

Written from the formulas, in plain Python / NumPy, sharing no code with ``lrgym``.
"""

from __future__ import annotations

import math

import numpy as np

MASK64 = (1 << 64) - 1


def ziggurat_normal_tables(n_layers: int = 256):
    """The Marsaglia–Tsang ziggurat for f(x) = exp(−x²/2): (r, v, x[0..n], f[0..n]).

    Layers of equal area v; x[1] = r is the base rectangle's right edge, x[0] = v / f(r) the
    width that gives the base (rectangle plus tail beyond r) area v, x[i+1] solves
    f(x[i+1]) = f(x[i]) + v / x[i], and x[n] = 0. f[i] = f(x[i]), except f[0] = 0 (the floor)
    and f[n] = 1 (the peak). r makes the last layer close at the peak, to the nearest double.
    """

    def f(x):
        return math.exp(-x * x / 2)

    def build(r):
        v = r * f(r) + math.sqrt(0.5 * math.pi) * math.erfc(r / math.sqrt(2.0))
        x = [v / f(r), r]
        while len(x) < n_layers:
            c = f(x[-1]) + v / x[-1]
            if c >= 1.0:
                return v, None, math.inf  # the stack reaches the peak too early: r too small
            x.append(math.sqrt(-2.0 * math.log(c)))
        return v, x, f(x[-1]) + v / x[-1]

    lo, hi = 3.0, 4.0
    mid = 0.5 * (lo + hi)
    while lo < mid < hi:
        _, x, top = build(mid)
        if top > 1.0:
            lo = mid
        else:
            hi = mid
        mid = 0.5 * (lo + hi)
    closures = {}
    for r in (lo, hi):
        v, x, top = build(r)
        if x is not None:
            closures[r] = abs(top - 1.0)
    r = min(closures, key=lambda c: (closures[c], c))
    v, x, _ = build(r)
    xs = np.array(x + [0.0])
    fs = np.array([0.0] + [f(t) for t in x[1:]] + [1.0])
    return r, v, xs, fs


ZIG_R, ZIG_V, ZIG_X, ZIG_F = ziggurat_normal_tables()


class SplitMix64:
    """SplitMix64 in Python integers (Steele, Lea & Flood 2014), with ziggurat normals.

    ``paths`` counts how each normal was produced (fast rectangle, wedge test, tail), so tests
    can check that a sample exercised every branch.
    """

    def __init__(self, state: int):
        self.state = int(state) & MASK64
        self.paths = {"fast": 0, "wedge_accepted": 0, "wedge_rejected": 0, "tail": 0}

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self) -> float:
        return (self.next_u64() >> 11) * 2.0**-53

    def randint(self, n: int) -> int:
        return int(self.uniform() * n)

    def normal(self) -> float:
        """One ziggurat draw: bits 0–7 pick the layer, bit 8 the sign, bits 11–63 the abscissa."""
        while True:
            bits = self.next_u64()
            layer = bits % 256
            negative = (bits >> 8) % 2 == 1
            x = ((bits >> 11) * 2.0**-53) * ZIG_X[layer]
            if x < ZIG_X[layer + 1]:
                self.paths["fast"] += 1
                break
            if layer == 0:
                # beyond r in the base: an exact draw from the tail x > r (Marsaglia 1964)
                self.paths["tail"] += 1
                while True:
                    t = -math.log(1.0 - self.uniform()) / ZIG_R
                    e = -math.log(1.0 - self.uniform())
                    if t * t < 2.0 * e:
                        break
                x = ZIG_R + t
                break
            # in a wedge: a uniform height in the layer, kept when under the curve
            height = ZIG_F[layer] + self.uniform() * (ZIG_F[layer + 1] - ZIG_F[layer])
            if height < math.exp(-x * x / 2):
                self.paths["wedge_accepted"] += 1
                break
            self.paths["wedge_rejected"] += 1
        return -x if negative else x

    def normals(self, n: int) -> np.ndarray:
        return np.array([self.normal() for _ in range(n)], dtype=np.float64)


class ReferenceOptimizer:
    """The six update rules with clipping, weight decay and normalisation, from the formulas
    (PyTorch's order: clip the loss gradient, then add wd·p; normalise the decayed gradient)."""

    def __init__(self, name, n, momentum=0.9, beta1=0.9, beta2=0.999, eps=None, alpha=0.99,
                 weight_decay=0.0, clip_norm=None, normalize="none", segments=None):
        self.name, self.mu, self.b1, self.b2, self.alpha = name, momentum, beta1, beta2, alpha
        self.eps = eps if eps is not None else (1e-10 if name == "adagrad" else 1e-8)
        self.wd, self.clip, self.normalize = weight_decay, clip_norm, normalize
        self.segments = segments if segments is not None else [0, n]
        self.buf = np.zeros(n)
        self.sq = np.zeros(n)
        self.t = 0

    def step(self, p: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
        if self.clip is not None:  # torch.nn.utils.clip_grad_norm_: c / (‖g‖ + 1e-6), at most 1
            g = g * min(1.0, self.clip / (np.linalg.norm(g) + 1e-6))
        g = g + self.wd * p
        if self.normalize == "global":
            g = g / np.linalg.norm(g)
        elif self.normalize == "layerwise":
            g = g.copy()
            for lo, hi in zip(self.segments[:-1], self.segments[1:]):
                pn, gn = np.linalg.norm(p[lo:hi]), np.linalg.norm(g[lo:hi])
                g[lo:hi] *= (pn if pn > 0 else 1.0) / gn
        self.t += 1
        if self.name == "sgd":
            return p - lr * g
        if self.name in ("momentum", "nesterov"):
            self.buf = self.mu * self.buf + g
            step = g + self.mu * self.buf if self.name == "nesterov" else self.buf
            return p - lr * step
        if self.name == "adam":
            self.buf = self.b1 * self.buf + (1 - self.b1) * g
            self.sq = self.b2 * self.sq + (1 - self.b2) * g * g
            m_hat = self.buf / (1 - self.b1**self.t)
            v_hat = self.sq / (1 - self.b2**self.t)
            return p - lr * m_hat / (np.sqrt(v_hat) + self.eps)
        if self.name == "rmsprop":
            self.sq = self.alpha * self.sq + (1 - self.alpha) * g * g
            return p - lr * g / (np.sqrt(self.sq) + self.eps)
        if self.name == "adagrad":
            self.sq = self.sq + g * g
            return p - lr * g / (np.sqrt(self.sq) + self.eps)
        raise ValueError(self.name)


def rel_err(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# ---- the recommender's instance data as lrgym built it before its compiled generator ---------
# (lrgym.tasks.recsys: synthetic_positives / split_positives, NumPy draws and Python loops). The
# compiled generator must give the same instances (tests/tasks/test_recsys_data.py); the
# benchmarks time it as the "before" build.

VAL_POSITIVES = 512
EVAL_TRIPLES = 2048


def synthetic_positives_numpy(spec: RecsysSpec, rng: np.random.Generator):
    """Positive pairs (u, i) of the latent-factor model with Zipf popularity (module docstring)."""
    n_u, n_i, k = spec.n_users, spec.n_items, spec.true_rank
    U = rng.standard_normal((n_u, k)) / k**0.25
    V = rng.standard_normal((n_i, k)) / k**0.25
    log_pop = -spec.zipf * np.log1p(rng.permutation(n_i).astype(np.float64))
    cap = max(3, n_i // 4)
    counts = np.clip(np.maximum(3, rng.poisson(spec.interactions, size=n_u)), 1, cap)
    users, items = [], []
    chunk = max(1, 2_000_000 // n_i)
    for start in range(0, n_u, chunk):
        stop = min(n_u, start + chunk)
        keys = log_pop + spec.signal * (U[start:stop] @ V.T) + rng.gumbel(size=(stop - start, n_i))
        if cap < n_i:
            top = np.argpartition(-keys, cap - 1, axis=1)[:, :cap]
        else:
            top = np.tile(np.arange(n_i), (stop - start, 1))
        order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        for row in range(stop - start):
            c = counts[start + row]
            users.append(np.full(c, start + row, dtype=np.int64))
            items.append(top[row, :c].astype(np.int64))
    return np.concatenate(users), np.concatenate(items)


def split_positives_numpy(rng, pos_u, pos_i, n_users, n_items, n_negatives):
    """Hold out validation positives; draw validation negatives and the evaluation set.

    Returns (train_u, train_i, eval triples (u, i, y), validation triples (u, i, y)), the
    triples in groups of 1 + k: a positive, then its k negatives.
    """
    group = 1 + n_negatives
    order = np.lexsort((pos_i, pos_u))
    pos_u, pos_i = pos_u[order], pos_i[order]
    user_start = np.searchsorted(pos_u, np.arange(n_users + 1))
    user_count = np.diff(user_start)
    item_count = np.bincount(pos_i, minlength=n_items)
    held = np.zeros(len(pos_u), dtype=bool)
    val_u, val_i = [], []
    for u in rng.permutation(np.flatnonzero((user_count >= 3) & (user_count <= n_items - 2 * n_negatives))):
        if len(val_u) == VAL_POSITIVES:
            break
        rows = np.arange(user_start[u], user_start[u + 1])
        ok = rows[item_count[pos_i[rows]] >= 2]
        if len(ok) == 0:
            continue
        r = int(rng.choice(ok))
        held[r] = True
        item_count[pos_i[r]] -= 1
        val_u.append(u)
        val_i.append(pos_i[r])
    if not val_u:
        raise ValueError("no user has 3 or more positives: cannot hold out validation positives")
    va_u, va_i, va_y = [], [], []
    for u, i in zip(val_u, val_i):
        mine = set(pos_i[user_start[u] : user_start[u + 1]].tolist())
        negs = []
        while len(negs) < n_negatives:
            j = int(rng.integers(n_items))
            if j not in mine:
                negs.append(j)
        va_u += [u] * group
        va_i += [i] + negs
        va_y += [1.0] + [0.0] * n_negatives
    train_u, train_i = pos_u[~held], pos_i[~held]
    n_eval = min(len(train_u), EVAL_TRIPLES // group)
    pick = rng.choice(len(train_u), size=n_eval, replace=False)
    ev_u = np.repeat(train_u[pick], group)
    ev_i = np.empty(n_eval * group, dtype=np.int64)
    ev_i[::group] = train_i[pick]
    ev_y = np.zeros(n_eval * group)
    ev_y[::group] = 1.0
    for j in range(1, group):
        ev_i[j::group] = rng.integers(n_items, size=n_eval)
    as_int = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
    return (
        as_int(train_u), as_int(train_i),
        (as_int(ev_u), as_int(ev_i), np.ascontiguousarray(ev_y)),
        (as_int(va_u), as_int(va_i), np.array(va_y)),
    )


def top_keys_brute_force(log_pop, signal, scores, noise, uniform, counts):
    """The recommender's top keys the obvious way: every key of every row in plain Python (the
    same scalar operations as NumPy's expression: IEEE arithmetic and libm's log), sorted by
    (−key, item), the counts[r] largest of row r. Returns (rows, items), one entry per kept item.
    ``noise`` holds uniforms u (``uniform``: the Gumbel is −log(−log(1 − u))) or the Gumbel values."""
    rows, items = [], []
    for r in range(scores.shape[0]):
        keyed = []
        for j in range(scores.shape[1]):
            base = float(log_pop[j]) + float(signal) * float(scores[r, j])
            u = float(noise[r, j])
            if not uniform:
                g = u
            elif 1.0 - u == 1.0:
                g = math.inf  # log(−log(1)) = log(0) = −inf
            else:
                g = 0.0 - 1.0 * math.log(-math.log(1.0 - u))
            keyed.append((-(base + g), j))
        keyed.sort()
        c = int(counts[r])
        rows += [r] * c
        items += [j for _, j in keyed[:c]]
    return np.array(rows, dtype=np.int64), np.array(items, dtype=np.int64)
