"""NumPy's PCG64 stream of uniform doubles, drawn inside compiled code (instance builds).

An instance is defined by the draws of a NumPy ``Generator`` (``np.random.default_rng``, whose
bit generator is PCG64). Where a build needs many uniforms and consumes them in a compiled
loop (the recommender's Gumbel noise, one double per user × item), drawing them with
``rng.random(n)`` writes them to memory only to read them back. This module draws the *same*
doubles inside the compiled loop, and afterwards leaves the NumPy generator exactly where
``rng.random(n)`` would have left it, so every later NumPy draw is unchanged.

PCG64 (O'Neill 2014; NumPy's ``pcg64.h``): a 128-bit LCG ``s ← a·s + c (mod 2¹²⁸)`` with
NumPy's multiplier ``a`` (:data:`MULTIPLIER`) and the generator's odd increment ``c``; each
step outputs the XSL-RR permutation of the *new* state, ``rotr64(hi ^ lo, hi >> 58)``, and
``Generator.random`` turns a 64-bit output x into the double ``(x >> 11) · 2⁻⁵³``
(``random_standard_uniform_fill``: one output per double; a 32-bit value the generator
buffered, ``has_uint32``, is neither used nor changed).

Speed: the LCG is a serial chain (a 64×64→128-bit product and a carry per step, ≈ 6 cycles).
A *stream* (:func:`open_stream`) runs :data:`LANES` interleaved copies of it: lane j starts at
stream position j and steps by ``a^L`` (increment ``c·(1 + a + … + a^{L−1})``), which is the
same sequence jumped ahead L positions at a time, so the lanes' independent chains fill
positions j, j + L, j + 2L, … in parallel. After n draws the lanes are rotated so lane 0 again
holds the next position (:func:`fill_uniforms`). 128-bit products use LLVM's ``i128``
(:func:`mul_high`).

Usage (Python side)::

    stream, saved = open_stream(rng.bit_generator)
    ...  # compiled code calls fill_uniforms(stream, out) any number of times
    close_stream(rng.bit_generator, stream, saved)   # rng is where rng.random(total) leaves it

:func:`uniforms` is ``rng.random(n)`` through this path (tests check them equal on many seeds,
lengths and generator states, ``tests/tasks/test_pcg64.py``).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

#: NumPy's PCG64 multiplier (PCG_DEFAULT_MULTIPLIER_128)
MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341
_MASK = (1 << 128) - 1
_MULTIPLIER_INVERSE = pow(MULTIPLIER, -1, 1 << 128)
#: interleaved lanes of a stream (4 chains of 2 words each stay in registers)
LANES = 4
# layout of a stream array (uint64): jump multiplier (hi, lo), jump increment (hi, lo), then the
# lanes' states (hi, lo) in lane order
_JUMP_MUL = 0
_JUMP_INC = 2
_LANE0 = 4
STREAM_WORDS = _LANE0 + 2 * LANES

_U11 = np.uint64(11)
_U58 = np.uint64(58)
_U63 = np.uint64(63)
_U64 = np.uint64(64)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0


@intrinsic
def mul_high(typingctx, a, b):
    """The high 64 bits of the 128-bit product of two ``uint64`` (LLVM ``i128`` multiply; one
    ``mul`` instruction on x86-64)."""
    if not (isinstance(a, types.Integer) and isinstance(b, types.Integer)):
        return None
    if a.bitwidth != 64 or b.bitwidth != 64 or a.signed or b.signed:
        return None

    def codegen(context, builder, sig, args):
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))

    return types.uint64(types.uint64, types.uint64), codegen


@numba.njit(cache=True, inline="always")
def lcg_step(hi, lo, mul_hi, mul_lo, inc_hi, inc_lo):
    """(hi, lo)·(mul_hi, mul_lo) + (inc_hi, inc_lo) mod 2¹²⁸, as (high word, low word)."""
    prod_lo = lo * mul_lo
    prod_hi = mul_high(lo, mul_lo) + lo * mul_hi + hi * mul_lo
    out_lo = prod_lo + inc_lo
    carry = _ONE if out_lo < prod_lo else _ZERO
    return prod_hi + inc_hi + carry, out_lo


@numba.njit(cache=True, inline="always")
def output_double(hi, lo):
    """``Generator.random``'s double from a PCG64 state: XSL-RR output x, then (x >> 11)·2⁻⁵³."""
    x = hi ^ lo
    rot = hi >> _U58
    x = (x >> rot) | (x << ((_U64 - rot) & _U63))
    return float(x >> _U11) * _TWO_POW_MINUS_53


@numba.njit(cache=True)
def fill_uniforms(stream, out):
    """The stream's next ``out.shape[0]`` doubles into ``out`` (1-d), advancing the stream."""
    n = out.shape[0]
    m_hi, m_lo = stream[_JUMP_MUL], stream[_JUMP_MUL + 1]
    c_hi, c_lo = stream[_JUMP_INC], stream[_JUMP_INC + 1]
    h0, l0 = stream[_LANE0], stream[_LANE0 + 1]
    h1, l1 = stream[_LANE0 + 2], stream[_LANE0 + 3]
    h2, l2 = stream[_LANE0 + 4], stream[_LANE0 + 5]
    h3, l3 = stream[_LANE0 + 6], stream[_LANE0 + 7]
    full = n - n % 4
    for t in range(0, full, 4):
        out[t] = output_double(h0, l0)
        out[t + 1] = output_double(h1, l1)
        out[t + 2] = output_double(h2, l2)
        out[t + 3] = output_double(h3, l3)
        h0, l0 = lcg_step(h0, l0, m_hi, m_lo, c_hi, c_lo)
        h1, l1 = lcg_step(h1, l1, m_hi, m_lo, c_hi, c_lo)
        h2, l2 = lcg_step(h2, l2, m_hi, m_lo, c_hi, c_lo)
        h3, l3 = lcg_step(h3, l3, m_hi, m_lo, c_hi, c_lo)
    rest = n - full
    # the last rest (< 4) positions come from lanes 0 .. rest−1, which then step once; lane
    # (rest + k) mod 4 holds the next position + k, so the lanes rotate left by rest
    if rest > 0:
        out[full] = output_double(h0, l0)
        h0, l0 = lcg_step(h0, l0, m_hi, m_lo, c_hi, c_lo)
    if rest > 1:
        out[full + 1] = output_double(h1, l1)
        h1, l1 = lcg_step(h1, l1, m_hi, m_lo, c_hi, c_lo)
    if rest > 2:
        out[full + 2] = output_double(h2, l2)
        h2, l2 = lcg_step(h2, l2, m_hi, m_lo, c_hi, c_lo)
    if rest == 1:
        h0, l0, h1, l1, h2, l2, h3, l3 = h1, l1, h2, l2, h3, l3, h0, l0
    elif rest == 2:
        h0, l0, h1, l1, h2, l2, h3, l3 = h2, l2, h3, l3, h0, l0, h1, l1
    elif rest == 3:
        h0, l0, h1, l1, h2, l2, h3, l3 = h3, l3, h0, l0, h1, l1, h2, l2
    stream[_LANE0], stream[_LANE0 + 1] = h0, l0
    stream[_LANE0 + 2], stream[_LANE0 + 3] = h1, l1
    stream[_LANE0 + 4], stream[_LANE0 + 5] = h2, l2
    stream[_LANE0 + 6], stream[_LANE0 + 7] = h3, l3


def _words(value: int) -> tuple[int, int]:
    return value >> 64, value & ((1 << 64) - 1)


def _check_pcg64(bit_generator) -> dict:
    state = bit_generator.state
    if state.get("bit_generator") != "PCG64":
        raise ValueError(
            f"bit generator {state.get('bit_generator')!r} not supported; valid: 'PCG64' (np.random.default_rng)"
        )
    return state


def open_stream(bit_generator) -> tuple[np.ndarray, dict]:
    """(stream, saved state) for a PCG64 bit generator at its current position: the stream's
    lanes start at the generator's next draw. The generator itself is not changed until
    :func:`close_stream`."""
    saved = _check_pcg64(bit_generator)
    s, inc = saved["state"]["state"], saved["state"]["inc"]
    jump_mul, jump_inc = 1, 0  # the map of LANES steps: s ↦ jump_mul·s + jump_inc
    for _ in range(LANES):
        jump_mul, jump_inc = (MULTIPLIER * jump_mul) & _MASK, (MULTIPLIER * jump_inc + inc) & _MASK
    words = [*_words(jump_mul), *_words(jump_inc)]
    for _ in range(LANES):
        s = (MULTIPLIER * s + inc) & _MASK  # lane j: the state whose output is draw j
        words += _words(s)
    return np.array(words, dtype=np.uint64), saved


def close_stream(bit_generator, stream: np.ndarray, saved: dict) -> None:
    """Move the generator to the stream's position (what ``random`` of as many doubles as the
    stream gave would leave), keeping its buffered 32-bit value (``has_uint32``, ``uinteger``)."""
    inc = saved["state"]["inc"]
    lane0 = (int(stream[_LANE0]) << 64) | int(stream[_LANE0 + 1])
    state = ((lane0 - inc) * _MULTIPLIER_INVERSE) & _MASK  # one step back from lane 0
    bit_generator.state = {**saved, "state": {"state": state, "inc": inc}}


def uniforms(rng: np.random.Generator, n: int) -> np.ndarray:
    """``rng.random(n)`` drawn through a stream (the same doubles, the same generator state
    afterwards)."""
    if n < 0:
        raise ValueError(f"n={n!r} invalid; valid: an integer >= 0")
    stream, saved = open_stream(rng.bit_generator)
    out = np.empty(int(n))
    fill_uniforms(stream, out)
    close_stream(rng.bit_generator, stream, saved)
    return out
