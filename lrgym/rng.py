"""Explicit-state random numbers for Numba kernels.

Every environment owns a one-word generator state (a ``uint64`` array of length 1) that
its kernels advance. Nothing in a kernel touches a global random state, so

* the same seed gives the same minibatches and noise to the bit,
* a pickled environment carries its generator and continues identically,
* N environments stepped in one batched call draw exactly what N single environments draw.

The generator is SplitMix64 (Steele, Lea & Flood 2014): a Weyl sequence
``s ← s + 0x9E3779B97F4A7C15`` followed by a bijective 64-bit mixer. It passes BigCrush,
needs one word of state and is cheap enough to draw minibatch indices inside a training loop.
Standard normals come from it by the ziggurat method (:func:`standard_normal`), one 64-bit draw
each on 98.5 % of calls and exactly N(0, 1) distributed.
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


@numba.njit(cache=True, nogil=True, inline="always")
def _mix(z):
    """SplitMix64's output function: a bijective mixer of the state word."""
    z = (z ^ (z >> _S30)) * _MIX_1
    z = (z ^ (z >> _S27)) * _MIX_2
    return z ^ (z >> _S31)


@numba.njit(cache=True, nogil=True, inline="always")
def next_u64(state):
    """Advance ``state[0]`` and return the next 64 random bits."""
    s = state[0] + _GOLDEN_GAMMA
    state[0] = s
    return _mix(s)


@numba.njit(cache=True, nogil=True, inline="always")
def uniform(state):
    """A float64 uniform on [0, 1) with 53 random bits."""
    return float(next_u64(state) >> _S11) * _TWO_POW_MINUS_53


@numba.njit(cache=True, nogil=True, inline="always")
def uniform_ahead(s0, k):
    """The uniform that the k-th :func:`uniform` call (k ≥ 1) from state word ``s0`` returns,
    without advancing anything.

    SplitMix64's state is a Weyl sequence, so the k-th draw's state is s₀ + k·γ (mod 2⁶⁴): the
    draws of a loop ``for k in 1..n: u[k] = uniform_ahead(s0, k)`` are independent of each
    other and the loop vectorises. Afterwards the state is ``skip_ahead(s0, n)``.
    """
    return float(_mix(s0 + np.uint64(k) * _GOLDEN_GAMMA) >> _S11) * _TWO_POW_MINUS_53


@numba.njit(cache=True, nogil=True, inline="always")
def skip_ahead(s0, n):
    """The state word after n draws from ``s0``."""
    return s0 + np.uint64(n) * _GOLDEN_GAMMA


@numba.njit(cache=True, nogil=True, inline="always")
def randint(state, n):
    """An integer uniform on {0, ..., n-1} (n ≤ 2**31; bias below 2**-22)."""
    return int(uniform(state) * n)


# --- Standard normals: the ziggurat method ---------------------------------------------------
#
# Tables built once at import, in plain Python with ``math`` (deterministic); the kernels read
# them as globals, which Numba freezes into the compiled code as constants (a change here
# recompiles every kernel that inlines them: see lrgym.kernel_cache).

ZIGGURAT_LAYERS = 256
"""N, the number of equal-area layers of the ziggurat (one byte of a draw picks one)."""


def _gauss(x: float) -> float:
    """f(x) = exp(−x²/2), the standard normal density without its 1/√(2π)."""
    return math.exp(-0.5 * x * x)


def _ziggurat_stack(r: float, n: int):
    """(v, [x_0, …, x_{n−1}], top) for a trial base edge r, or (v, None, None) if the stack
    overshoots the peak f(0) = 1 before its n-th layer (r too small).

    v = r f(r) + ∫_r^∞ f is the area of the base strip, x_0 = v / f(r), x_1 = r, and
    x_{i+1} = f⁻¹(f(x_i) + v / x_i) makes the layer [0, x_i] × [f(x_i), f(x_{i+1})] of area v.
    ``top`` = f(x_{n−1}) + v / x_{n−1} is where the last layer's ceiling would be: 1 for the right r.
    """
    f_r = _gauss(r)
    v = r * f_r + math.sqrt(0.5 * math.pi) * math.erfc(r / math.sqrt(2.0))
    xs = [v / f_r, r]
    for i in range(1, n - 1):
        ceiling = _gauss(xs[i]) + v / xs[i]
        if ceiling >= 1.0:
            return v, None, None
        xs.append(math.sqrt(-2.0 * math.log(ceiling)))
    return v, xs, _gauss(xs[n - 1]) + v / xs[n - 1]


def ziggurat_tables(n: int = ZIGGURAT_LAYERS):
    """(r, v, x, f): the ziggurat of Marsaglia & Tsang (2000) for f(x) = exp(−x²/2), x ≥ 0.

    The area under f on [0, ∞) is cut into ``n`` horizontal layers of the same area v:

    * layer 0, the base: the rectangle [0, r] × [0, f(r)] plus the tail {x > r, y < f(x)}, of
      area v = r f(r) + ∫_r^∞ f = r f(r) + √(π/2) erfc(r/√2). It is drawn as the rectangle
      [0, x_0] × [0, f(r)] with x_0 = v / f(r): a point with x < r is in the base rectangle,
      any other stands for the tail (its area (x_0 − r) f(r) is the tail's);
    * layer i = 1 … n−1: the rectangle [0, x_i] × [f(x_i), f(x_{i+1})] with x_1 = r and
      x_{i+1} = f⁻¹(f(x_i) + v / x_i) = √(−2 log(f(x_i) + v / x_i)), so x_i (f(x_{i+1}) − f(x_i)) = v;
      the top layer n−1 reaches the peak, x_n = 0 and f(x_n) = 1.

    r is the root of "the n-th layer closes exactly at the peak", f(x_{n−1}) + v / x_{n−1} = 1:
    bisection brackets it between adjacent doubles and r is the one whose stack closes nearer
    to 1. For n = 256 that is r = 3.6541528853610088 (the value Marsaglia & Tsang give), with
    v = 0.004928673233974658 (they quote 0.00492867323399); the top layer's area is then v to
    2e-13, the rounding limit (one ulp of r moves the closure by 1e-14).

    Returned tables, both of length n + 1 and indexed by layer: x[0] = v / f(r), x[1] = r, …,
    x[n] = 0 (decreasing), and f[i] = f(x[i]) for i ≥ 1 with f[0] = 0 (the base's floor) and
    f[n] = 1, so layer i is always the rectangle [0, x[i]] × [f[i], f[i+1]].
    """
    lo, hi = 3.0, 4.0  # the stack of 256 (and 128) layers overshoots at r = 3, falls short at r = 4
    while True:
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        _, xs, top = _ziggurat_stack(mid, n)
        if xs is None or top > 1.0:
            lo = mid
        else:
            hi = mid
    r, best = hi, math.inf
    for candidate in (lo, hi):
        _, xs, top = _ziggurat_stack(candidate, n)
        if xs is not None and abs(top - 1.0) < best:
            r, best = candidate, abs(top - 1.0)
    v, xs, _ = _ziggurat_stack(r, n)
    x = np.array(xs + [0.0], dtype=np.float64)
    f = np.array([0.0] + [_gauss(xi) for xi in xs[1:]] + [1.0], dtype=np.float64)
    return r, v, x, f


ZIGGURAT_R, ZIGGURAT_V, ZIGGURAT_X, ZIGGURAT_F = ziggurat_tables()
_ZIG_R = ZIGGURAT_R
_ZIG_X = ZIGGURAT_X
_ZIG_F = ZIGGURAT_F
_LAYER_MASK = np.uint64(ZIGGURAT_LAYERS - 1)
_S7 = np.uint64(7)
_TWO = np.uint64(2)


@numba.njit(cache=True, nogil=True, inline="always")
def _signed(x, z):
    """x with the sign given by bit 8 of the draw z: x·(1 − 2·bit), without a branch (a branch
    on a random bit is mispredicted half the time, which would double the cost of a draw)."""
    return x * (1.0 - float((z >> _S7) & _TWO))


@numba.njit(cache=True, nogil=True, inline="always")
def _layer_point(z):
    """(i, x) for the draw z: layer i = bits 0–7, abscissa x = u·x[i] with u = (z >> 11)·2⁻⁵³."""
    i = np.int64(z & _LAYER_MASK)
    return i, float(z >> _S11) * _TWO_POW_MINUS_53 * _ZIG_X[i]


@numba.njit(cache=True, nogil=True)
def _normal_rare(state, z, i, x):
    """The ziggurat's rare paths (1.5 % of draws), continuing the draw z that fell in layer i
    at abscissa x ≥ x[i+1]. Restarts with a fresh draw after a rejection."""
    while True:
        if i == 0:
            # The tail x > r, by Marsaglia's (1964) method: t = −log(U₁)/r, e = −log(U₂) until
            # 2e > t², then r + t has density ∝ f on (r, ∞). U = 1 − uniform is in (0, 1].
            while True:
                t = -math.log(1.0 - uniform(state)) / _ZIG_R
                e = -math.log(1.0 - uniform(state))
                if 2.0 * e > t * t:
                    return _signed(_ZIG_R + t, z)
        # A wedge x[i+1] ≤ x < x[i]: y uniform on [f[i], f[i+1]]; keep x if the point is under f.
        f_lo = _ZIG_F[i]
        y = f_lo + uniform(state) * (_ZIG_F[i + 1] - f_lo)
        if y < math.exp(-0.5 * x * x):
            return _signed(x, z)
        z = next_u64(state)
        i, x = _layer_point(z)
        if x < _ZIG_X[i + 1]:
            return _signed(x, z)


@numba.njit(cache=True, nogil=True, inline="always")
def standard_normal(state):
    """A standard normal deviate by the ziggurat method (Marsaglia & Tsang 2000), 256 layers.

    One ``next_u64`` z gives independent bits (as in Doornik's 2005 ZIGNOR, which fixes the
    original's reuse of one 32-bit word for both): the layer i = bits 0–7, the sign = bit 8 and
    a 53-bit uniform u = (z >> 11)·2⁻⁵³ on [0, 1). The point x = u·x[i] is uniform across layer i's
    rectangle [0, x[i]]; all layers have area v, so picking one uniformly and a point uniformly in
    it is a uniform point of the ziggurat, and keeping those under f gives |X| with density ∝ f.

    * fast path (98.5 % of draws, no transcendental): x < x[i+1], the point lies in the part of
      layer i entirely under the curve (f(x) ≥ f(x[i+1]) there) — return ±x;
    * layer 0 beyond r: the tail, sampled exactly by Marsaglia's method;
    * layer i ≥ 1 beyond x[i+1] (the wedge; the whole top layer, x[256] = 0): a second uniform
      gives the height y ∈ [f(x[i]), f(x[i+1])], kept if y < exp(−x²/2), else start over.

    See :func:`ziggurat_tables` for the construction of x, f, r and v.
    """
    z = next_u64(state)
    i, x = _layer_point(z)
    if x < _ZIG_X[i + 1]:
        return _signed(x, z)
    return _normal_rare(state, z, i, x)


@numba.njit(cache=True, nogil=True)
def fill_standard_normal(state, out):
    """Fill ``out`` (1-D) with standard normals: exactly ``out.shape[0]`` successive
    :func:`standard_normal` draws (the same code, with the fast path written into the loop:
    ≈ 3 ns a normal, half the cost of calling :func:`standard_normal` per element)."""
    for k in range(out.shape[0]):
        z = next_u64(state)
        i, x = _layer_point(z)
        if x < _ZIG_X[i + 1]:
            out[k] = _signed(x, z)
        else:
            out[k] = _normal_rare(state, z, i, x)


@numba.njit(cache=True, nogil=True)
def fill_randint(state, n, out):
    """Fill ``out`` (1-D int64) with integers uniform on {0, ..., n-1}."""
    for i in range(out.shape[0]):
        out[i] = randint(state, n)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def draw_indices(state, n, out):
    """Fill ``out`` with integers uniform on {0, ..., n-1}: bit-identical to
    :func:`lrgym.rng.fill_randint` (same draws, same final state), about 4× faster.

    The draws are independent of each other (:func:`lrgym.rng.uniform_ahead`): the loop
    vectorises.
    """
    s0 = state[0]
    m = out.shape[0]
    fn = float(n)
    for i in range(m):
        out[i] = int(uniform_ahead(s0, i + 1) * fn)
    state[0] = skip_ahead(s0, m)
