"""Explicit-state random numbers for Numba kernels.

Every environment owns a one-word generator state (a ``uint64`` array of length 1) that
its kernels advance. Nothing in a kernel touches a global random state, so

* the same seed gives the same minibatches and noise to the bit,
* a pickled environment carries its generator and continues identically,
* N environments stepped in one batched call draw exactly what N single environments draw.

The generator is SplitMix64 (Steele, Lea & Flood 2014): a Weyl sequence
``s ← s + 0x9E3779B97F4A7C15`` followed by a bijective 64-bit mixer. It passes BigCrush,
needs one word of state and is cheap enough to draw minibatch indices inside a training loop.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0


def new_state(seed_source: np.random.Generator) -> np.ndarray:
    """A fresh generator state drawn from a NumPy ``Generator`` (e.g. ``env.np_random``)."""
    return seed_source.integers(0, 2**63 - 1, size=1, dtype=np.int64).astype(np.uint64)


@numba.njit(cache=True, inline="always")
def next_u64(state):
    """Advance ``state[0]`` and return the next 64 random bits."""
    s = state[0] + _GOLDEN_GAMMA
    state[0] = s
    z = s
    z = (z ^ (z >> _S30)) * _MIX_1
    z = (z ^ (z >> _S27)) * _MIX_2
    return z ^ (z >> _S31)


@numba.njit(cache=True, inline="always")
def uniform(state):
    """A float64 uniform on [0, 1) with 53 random bits."""
    return float(next_u64(state) >> _S11) * _TWO_POW_MINUS_53


@numba.njit(cache=True, inline="always")
def randint(state, n):
    """An integer uniform on {0, ..., n-1} (n ≤ 2**31; bias below 2**-22)."""
    return int(uniform(state) * n)


@numba.njit(cache=True)
def standard_normal(state):
    """A standard normal deviate by the Box–Muller transform (one of the pair is used)."""
    u1 = 1.0 - uniform(state)  # in (0, 1], so the log is finite
    u2 = uniform(state)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@numba.njit(cache=True)
def fill_standard_normal(state, out):
    """Fill ``out`` (1-D) with standard normals, two per Box–Muller draw."""
    n = out.shape[0]
    i = 0
    while i < n:
        u1 = 1.0 - uniform(state)
        u2 = uniform(state)
        r = math.sqrt(-2.0 * math.log(u1))
        out[i] = r * math.cos(2.0 * math.pi * u2)
        if i + 1 < n:
            out[i + 1] = r * math.sin(2.0 * math.pi * u2)
        i += 2


@numba.njit(cache=True)
def fill_randint(state, n, out):
    """Fill ``out`` (1-D int64) with integers uniform on {0, ..., n-1}."""
    for i in range(out.shape[0]):
        out[i] = randint(state, n)
