"""NumPy's PCG64 draws — uniform doubles and standard normals — made in compiled code (builds).

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

Standard normals: :func:`fill_standard_normal` is NumPy's ziggurat (``random_standard_normal``)
statement for statement, with NumPy's tables (:mod:`lrgym.tasks.ziggurat_tables`) and libm's
``log1p`` / ``exp`` as NumPy calls them, on a stream's raw 64-bit outputs (drawn ahead, the unused
ones given back by :func:`rewind`). :func:`fill_normal` / :func:`standard_normal` are
``rng.standard_normal`` / ``rng.normal`` with the same doubles and the same generator state
afterwards (NumPy itself draws for another bit generator or few values).
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from lrgym.tasks import ziggurat_tables as _zig

#: NumPy's PCG64 multiplier (PCG_DEFAULT_MULTIPLIER_128)
MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341
_MASK = (1 << 128) - 1
_MULTIPLIER_INVERSE = pow(MULTIPLIER, -1, 1 << 128)
#: interleaved lanes of a stream (4 chains of 2 words each stay in registers)
LANES = 4
# layout of a stream array (uint64), each 128-bit value as (hi, lo): the map of LANES steps
# s ↦ jump_mul·s + jump_inc, of one step (a, c), of one step back (a⁻¹, −a⁻¹c), then the lanes'
# states in lane order
_JUMP_MUL = 0
_JUMP_INC = 2
_STEP_MUL = 4
_STEP_INC = 6
_BACK_MUL = 8
_BACK_INC = 10
_LANE0 = 12
#: raw outputs drawn ahead by :func:`fill_standard_normal` (the unused ones are given back)
_RAW_BUFFER = 256
#: :func:`fill_normal` lets NumPy draw fewer normals than this (the same doubles): opening and
#: closing a stream costs ≈ 10 µs of Python, NumPy ≈ 10 ns a normal on the benchmark machine
SMALL_NORMALS = 1024

_U1 = np.uint64(1)
_U8 = np.uint64(8)
_U255 = np.uint64(0xFF)
_U511 = np.uint64(0x1FF)
_U9 = np.uint64(9)
_MASK52 = np.uint64(0x000FFFFFFFFFFFFF)
_U11 = np.uint64(11)
_U58 = np.uint64(58)
_U63 = np.uint64(63)
_U64 = np.uint64(64)
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


@numba.njit(cache=True, nogil=True, inline="always")
def lcg_step(hi, lo, mul_hi, mul_lo, inc_hi, inc_lo):
    """(hi, lo)·(mul_hi, mul_lo) + (inc_hi, inc_lo) mod 2¹²⁸, as (high word, low word)."""
    prod_lo = lo * mul_lo
    prod_hi = mul_high(lo, mul_lo) + lo * mul_hi + hi * mul_lo
    out_lo = prod_lo + inc_lo
    carry = _U1 if out_lo < prod_lo else _ZERO
    return prod_hi + inc_hi + carry, out_lo


@numba.njit(cache=True, nogil=True, inline="always")
def output_u64(hi, lo):
    """PCG64's 64-bit output of a state: XSL-RR, rotr64(hi ^ lo, hi >> 58)."""
    x = hi ^ lo
    rot = hi >> _U58
    return (x >> rot) | (x << ((_U64 - rot) & _U63))


@numba.njit(cache=True, nogil=True, inline="always")
def output_double(hi, lo):
    """``Generator.random``'s double from a PCG64 state: output x, then (x >> 11)·2⁻⁵³."""
    return float(output_u64(hi, lo) >> _U11) * _TWO_POW_MINUS_53


@numba.njit(cache=True, nogil=True, inline="always")
def load_lanes(stream):
    """The four lanes' states (hi, lo) of a stream, in lane order (they then live in registers)."""
    return (stream[_LANE0], stream[_LANE0 + 1], stream[_LANE0 + 2], stream[_LANE0 + 3],
            stream[_LANE0 + 4], stream[_LANE0 + 5], stream[_LANE0 + 6], stream[_LANE0 + 7])


@numba.njit(cache=True, nogil=True, inline="always")
def store_lanes(stream, h0, l0, h1, l1, h2, l2, h3, l3):
    """Write the four lanes' states back into the stream (the inverse of :func:`load_lanes`)."""
    stream[_LANE0], stream[_LANE0 + 1] = h0, l0
    stream[_LANE0 + 2], stream[_LANE0 + 3] = h1, l1
    stream[_LANE0 + 4], stream[_LANE0 + 5] = h2, l2
    stream[_LANE0 + 6], stream[_LANE0 + 7] = h3, l3


@numba.njit(cache=True, nogil=True)
def fill_uniforms(stream, out):
    """The stream's next ``out.shape[0]`` doubles into ``out`` (1-d), advancing the stream."""
    n = out.shape[0]
    m_hi, m_lo = stream[_JUMP_MUL], stream[_JUMP_MUL + 1]
    c_hi, c_lo = stream[_JUMP_INC], stream[_JUMP_INC + 1]
    h0, l0, h1, l1, h2, l2, h3, l3 = load_lanes(stream)
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
    store_lanes(stream, h0, l0, h1, l1, h2, l2, h3, l3)


@numba.njit(cache=True, nogil=True)
def fill_raw(stream, out):
    """The stream's next 64-bit outputs into ``out`` (uint64, a length divisible by 4)."""
    m_hi, m_lo = stream[_JUMP_MUL], stream[_JUMP_MUL + 1]
    c_hi, c_lo = stream[_JUMP_INC], stream[_JUMP_INC + 1]
    h0, l0, h1, l1, h2, l2, h3, l3 = load_lanes(stream)
    for t in range(0, out.shape[0] - out.shape[0] % 4, 4):
        out[t] = output_u64(h0, l0)
        out[t + 1] = output_u64(h1, l1)
        out[t + 2] = output_u64(h2, l2)
        out[t + 3] = output_u64(h3, l3)
        h0, l0 = lcg_step(h0, l0, m_hi, m_lo, c_hi, c_lo)
        h1, l1 = lcg_step(h1, l1, m_hi, m_lo, c_hi, c_lo)
        h2, l2 = lcg_step(h2, l2, m_hi, m_lo, c_hi, c_lo)
        h3, l3 = lcg_step(h3, l3, m_hi, m_lo, c_hi, c_lo)
    store_lanes(stream, h0, l0, h1, l1, h2, l2, h3, l3)


@numba.njit(cache=True, nogil=True)
def rewind(stream, k):
    """Move the stream k positions back (outputs drawn ahead and not used are given back)."""
    if k <= 0:
        return
    h, lo = stream[_LANE0], stream[_LANE0 + 1]
    for _ in range(k):
        h, lo = lcg_step(h, lo, stream[_BACK_MUL], stream[_BACK_MUL + 1], stream[_BACK_INC], stream[_BACK_INC + 1])
    for j in range(LANES):  # lane j: j steps after lane 0
        stream[_LANE0 + 2 * j], stream[_LANE0 + 2 * j + 1] = h, lo
        h, lo = lcg_step(h, lo, stream[_STEP_MUL], stream[_STEP_MUL + 1], stream[_STEP_INC], stream[_STEP_INC + 1])


@numba.njit(cache=True, nogil=True, inline="always")
def _next_word(stream, buf, pos):
    """(next raw output, new position) from ``buf``, refilled from the stream when used up."""
    if pos == buf.shape[0]:
        fill_raw(stream, buf)
        pos = 0
    return buf[pos], pos + 1


@numba.njit(cache=True, nogil=True)
def fill_standard_normal(stream, out, ki, signed_wi, fi, r, inv_r):
    """``Generator.standard_normal``'s next ``out.shape[0]`` doubles into ``out`` (1-d):
    NumPy's ziggurat (``random_standard_normal`` in ``distributions.c``), statement for
    statement, with its tables (:mod:`lrgym.tasks.ziggurat_tables`) and libm's ``log1p`` and
    ``exp`` as NumPy calls them. One 64-bit output per draw in ≈ 99 % of draws, more on a
    rejection or in the tail: the outputs are drawn ahead in blocks and the unused ones given
    back (:func:`rewind`), so the stream ends where NumPy's generator would. (≈ 3 ns a draw, NumPy's
    ≈ 10 ns on the benchmark machine: there the first pass's one loop with its rare paths in
    nested loops was as slow as NumPy; the flat loop with early ``continue`` is not.)"""
    buf = np.empty(_RAW_BUFFER, dtype=np.uint64)
    pos = _RAW_BUFFER  # empty: the first draw fills it
    n = out.shape[0]
    i = 0
    while i < n:  # one draw per pass; out[i] is written when the draw is accepted
        if pos == _RAW_BUFFER:
            fill_raw(stream, buf)
            pos = 0
        word = buf[pos]
        pos += 1
        idx = int(word & _U255)
        rabs = (word >> _U9) & _MASK52
        # wi[idx] · rabs, negated when bit 8 is set: one load from ±wi by those 9 bits (no
        # branch on a random sign; a product with −wi is the negated product, to the bit)
        x = float(rabs) * signed_wi[int(word & _U511)]
        if rabs < ki[idx]:  # 99.3 % of the draws
            out[i] = x
            i += 1
            continue
        if idx == 0:  # the tail, from 1 − u (as NumPy: no log(0))
            while True:
                word, pos = _next_word(stream, buf, pos)
                xx = -inv_r * math.log1p(-(float(word >> _U11) * _TWO_POW_MINUS_53))
                word, pos = _next_word(stream, buf, pos)
                yy = -math.log1p(-(float(word >> _U11) * _TWO_POW_MINUS_53))
                if yy + yy > xx * xx:
                    break
            out[i] = -(r + xx) if (rabs >> _U8) & _U1 else r + xx
            i += 1
            continue
        word, pos = _next_word(stream, buf, pos)
        u = float(word >> _U11) * _TWO_POW_MINUS_53
        if (fi[idx - 1] - fi[idx]) * u + fi[idx] < math.exp(-0.5 * x * x):
            out[i] = x
            i += 1
        # else rejected: draw again
    rewind(stream, _RAW_BUFFER - pos)


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
    back_mul = _MULTIPLIER_INVERSE
    back_inc = (-_MULTIPLIER_INVERSE * inc) & _MASK
    words = [*_words(jump_mul), *_words(jump_inc), *_words(MULTIPLIER), *_words(inc), *_words(back_mul), *_words(back_inc)]
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


@functools.cache
def ziggurat() -> tuple:
    """NumPy's ziggurat tables as arrays, the arguments of :func:`fill_standard_normal` after
    ``out`` (made once per process); ``wi`` followed by −``wi``, indexed by the sign bit and idx."""
    wi = np.array(_zig.WI)
    return (np.array(_zig.KI, dtype=np.uint64), np.concatenate([wi, -wi]), np.array(_zig.FI), _zig.R, _zig.INV_R)


def is_pcg64(bit_generator) -> bool:
    """Is this NumPy's PCG64 (what ``np.random.default_rng`` and gymnasium's ``np_random`` use)?"""
    return type(bit_generator) is np.random.PCG64


def standard_normal(rng: np.random.Generator, shape) -> np.ndarray:
    """``rng.standard_normal(shape)``: the same doubles and the same generator state afterwards,
    drawn in compiled code (≈ 3× faster) when ``rng`` is a PCG64 generator, else by ``rng``."""
    return fill_normal(rng, np.empty(shape))


def fill_normal(rng: np.random.Generator, out: np.ndarray, loc: float | None = None, scale: float | None = None) -> np.ndarray:
    """``rng.standard_normal(out=out)``, or with ``loc`` and ``scale`` ``out[...] = rng.normal(loc,
    scale, out.shape)`` (``loc + scale · z`` as NumPy computes it), through
    :func:`fill_standard_normal` for a PCG64 generator and at least :data:`SMALL_NORMALS`
    values (else by NumPy itself); ``out`` a C-contiguous float64 array."""
    if not (isinstance(out, np.ndarray) and out.dtype == np.float64 and out.flags.c_contiguous):
        raise ValueError("out must be a C-contiguous float64 array")
    standard = loc is None and scale is None
    if out.size < SMALL_NORMALS or not is_pcg64(rng.bit_generator):  # NumPy's own draw
        if standard:
            return rng.standard_normal(out=out)
        out[...] = rng.normal(loc, scale, out.shape)
        return out
    stream, saved = open_stream(rng.bit_generator)
    fill_standard_normal(stream, out.reshape(-1), *ziggurat())
    close_stream(rng.bit_generator, stream, saved)
    if not standard:
        np.multiply(float(scale), out, out=out)
        np.add(float(loc), out, out=out)
    return out


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
