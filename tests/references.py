"""Slow, obvious reference implementations that the fast kernels are checked against.

Written from the formulas, in plain Python / NumPy, sharing no code with ``lrgym``.
"""

from __future__ import annotations

import math

import numpy as np

MASK64 = (1 << 64) - 1


class SplitMix64:
    """SplitMix64 in Python integers (Steele, Lea & Flood 2014)."""

    def __init__(self, state: int):
        self.state = int(state) & MASK64

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

    def normals(self, n: int) -> np.ndarray:
        out = np.zeros(n)
        i = 0
        while i < n:
            u1 = 1.0 - self.uniform()
            u2 = self.uniform()
            r = math.sqrt(-2.0 * math.log(u1))
            out[i] = r * math.cos(2.0 * math.pi * u2)
            if i + 1 < n:
                out[i + 1] = r * math.sin(2.0 * math.pi * u2)
            i += 2
        return out


class ReferenceOptimizer:
    """The six update rules with weight decay, clipping and normalisation, from the formulas."""

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
        g = g + self.wd * p
        if self.clip is not None:
            norm = np.linalg.norm(g)
            if norm > self.clip:
                g = g * (self.clip / norm)
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
