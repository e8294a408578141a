"""NumPy's PCG64 stream drawn in compiled code (``lrgym.tasks.pcg64``) against NumPy itself.

The reference is ``Generator.random`` of the same generator: the doubles must be equal to the
bit and the generator must be left in the same state (so every later draw, 64- or 32-bit, is
unchanged), for any length (the four interleaved lanes leave remainders 0 – 3) and any state,
including a generator holding a buffered 32-bit value (``has_uint32``).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from lrgym.tasks import pcg64

_MASK64 = (1 << 64) - 1


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype == np.float64
    np.testing.assert_array_equal(a.view(np.uint64), b.view(np.uint64))


def _later_draws(rng: np.random.Generator):
    """Draws that use every part of the state: 32-bit (the buffered half first), 64-bit, doubles."""
    return (
        rng.integers(0, 2**32, size=3, dtype=np.uint32).tolist(),
        rng.integers(0, 2**63, size=2, dtype=np.int64).tolist(),
        rng.random(3).tolist(),
    )


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 31, 1001, 65_537])
@pytest.mark.parametrize("seed", [0, 1, 12345, [7, 7]])
@pytest.mark.parametrize("buffered", [False, True])
def test_uniforms_are_numpys_random(n, seed, buffered):
    ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
    for rng in (ours, numpys):
        rng.standard_normal(3)  # somewhere inside the stream
        if buffered:  # an odd number of 32-bit draws leaves one buffered
            rng.integers(0, 2**32, size=3, dtype=np.uint32)
    assert ours.bit_generator.state["has_uint32"] == int(buffered)
    _same(pcg64.uniforms(ours, n), numpys.random(n))
    assert ours.bit_generator.state == numpys.bit_generator.state
    assert _later_draws(ours) == _later_draws(numpys)


def test_several_fills_continue_one_stream():
    """Fills of lengths with every remainder mod 4, in a row, are one ``random`` of their total."""
    rng = np.random.default_rng(99)
    stream, saved = pcg64.open_stream(rng.bit_generator)
    assert rng.bit_generator.state == saved  # opening does not move the generator
    parts = []
    for n in (3, 1, 0, 6, 2, 13, 4, 5, 97):
        out = np.empty(n)
        pcg64.fill_uniforms(stream, out)
        parts.append(out)
    pcg64.close_stream(rng.bit_generator, stream, saved)
    reference = np.random.default_rng(99)
    _same(np.concatenate(parts), reference.random(sum(len(p) for p in parts)))
    assert rng.bit_generator.state == reference.bit_generator.state


@pytest.mark.parametrize("state", [0, 1, (1 << 128) - 1, (1 << 127) + 12345, 0xDEADBEEF << 64])
def test_any_state_and_increment(state):
    """States at the edges of 128 bits, where the carries and the rotation's ends show."""
    ours, numpys = np.random.default_rng(0), np.random.default_rng(0)
    for rng in (ours, numpys):
        s = rng.bit_generator.state
        s["state"] = {"state": state, "inc": (((1 << 127) - 1) | 1) if state % 2 else s["state"]["inc"]}
        rng.bit_generator.state = s
    _same(pcg64.uniforms(ours, 1027), numpys.random(1027))
    assert ours.bit_generator.state == numpys.bit_generator.state


@numba.njit
def _mul_high(a, b):
    return pcg64.mul_high(a, b)  # an intrinsic: callable from compiled code only


def test_128_bit_arithmetic_against_python_integers():
    rng = np.random.default_rng(3)
    words = [0, 1, 2, _MASK64, _MASK64 - 1, 1 << 63, (1 << 63) - 1]
    words += [int(w) for w in rng.integers(0, 2**64, size=40, dtype=np.uint64)]
    for a in words:
        for b in words[::3]:
            assert int(_mul_high(np.uint64(a), np.uint64(b))) == (a * b) >> 64
    for _ in range(200):
        s, m, c = (int.from_bytes(rng.bytes(16), "little") for _ in range(3))
        hi, lo = pcg64.lcg_step(*(np.uint64(w) for w in (s >> 64, s & _MASK64, m >> 64, m & _MASK64, c >> 64, c & _MASK64)))
        assert (int(hi) << 64) | int(lo) == (s * m + c) % (1 << 128)


def test_other_bit_generators_are_refused_by_name():
    with pytest.raises(ValueError, match="'MT19937'.*valid: 'PCG64'"):
        pcg64.uniforms(np.random.Generator(np.random.MT19937(1)), 4)
    with pytest.raises(ValueError, match="n=-1"):
        pcg64.uniforms(np.random.default_rng(1), -1)


# ---- standard normals: NumPy's ziggurat on the stream ------------------------------------------


@pytest.fixture
def compiled_always(monkeypatch):
    """Every size through the compiled ziggurat (fill_normal leaves small ones to NumPy)."""
    monkeypatch.setattr(pcg64, "SMALL_NORMALS", 0)


def _next_output_is(rng: np.random.Generator, word: int) -> np.random.Generator:
    """Set ``rng``'s state so that its next 64-bit output is ``word`` (a state whose high half is
    below 2⁵⁸ rotates by 0, so its output is high ^ low), keeping its increment."""
    state = rng.bit_generator.state
    inc = state["state"]["inc"]
    high = 0x0123456789ABCDE
    after = (high << 64) | (high ^ word)
    before = ((after - inc) * pow(pcg64.MULTIPLIER, -1, 1 << 128)) % (1 << 128)
    rng.bit_generator.state = {**state, "state": {"state": before, "inc": inc}}
    return rng


@pytest.mark.parametrize("n", [0, 1, 2, 255, 256, 257, 4099])
@pytest.mark.parametrize("seed", [0, 5, [3, 7]])
@pytest.mark.parametrize("buffered", [False, True])
def test_standard_normal_is_numpys(n, seed, buffered, compiled_always):
    ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
    for rng in (ours, numpys):
        rng.random(5)
        if buffered:
            rng.integers(0, 2**32, size=1, dtype=np.uint32)
    _same(pcg64.standard_normal(ours, (n,)), numpys.standard_normal(n))
    assert ours.bit_generator.state == numpys.bit_generator.state
    assert _later_draws(ours) == _later_draws(numpys)


def test_standard_normal_over_many_draws_takes_every_path():
    """500,000 draws: rejections (≈ 0.7 %, one or more extra outputs) and the tail beyond
    r = 3.654… (idx 0, two more outputs per try) both occur, and all equal NumPy's."""
    ours, numpys = np.random.default_rng(2024), np.random.default_rng(2024)
    got = pcg64.standard_normal(ours, (500, 1000))
    want = numpys.standard_normal((500, 1000))
    _same(got, want)
    assert ours.bit_generator.state == numpys.bit_generator.state
    assert (np.abs(want) > 3.9).sum() > 10  # beyond the base strip's reach (rabs·wi[0] ≤ 3.91): the tail


@pytest.mark.parametrize(
    "word",
    [
        (0xFFFFFFFFFFFFF << 9) | 0x000,  # idx 0, rabs at its largest (≥ ki[0]): the tail
        (0xFFFFFFFFFFEFF << 9) | 0x100,  # the same with the sign bit set and rabs's bit 8 clear
        (0xFFFFFFFFFFFFF << 9) | 0x005,  # idx 5, rabs ≥ ki[5]: the wedge test, maybe a rejection
        (0x7 << 9) | 0x001,  # idx 1: ki[1] = 0, always the wedge test
        0x100 | 0x002,  # idx 2, rabs 0, sign set: x = −0.0
    ],
)
def test_standard_normal_rare_paths_from_a_chosen_output(word, compiled_always):
    ours = _next_output_is(np.random.default_rng(11), word)
    numpys = _next_output_is(np.random.default_rng(11), word)
    _same(pcg64.standard_normal(ours, (3,)), numpys.standard_normal(3))
    assert ours.bit_generator.state == numpys.bit_generator.state
    ours = _next_output_is(np.random.default_rng(11), word)
    numpys = _next_output_is(np.random.default_rng(11), word)
    _same(pcg64.fill_normal(ours, np.empty(3), 0.0, 0.1), numpys.normal(0.0, 0.1, 3))  # −0.0 → +0.0 as NumPy


def test_normals_of_other_bit_generators_are_their_own(compiled_always):
    ours, numpys = (np.random.Generator(np.random.MT19937(4)) for _ in range(2))
    _same(pcg64.standard_normal(ours, (7, 3)), numpys.standard_normal((7, 3)))
    _same(pcg64.fill_normal(ours, np.empty(5), 1.0, 2.0), numpys.normal(1.0, 2.0, 5))
    with pytest.raises(ValueError, match="C-contiguous float64"):
        pcg64.fill_normal(ours, np.empty(4, dtype=np.float32))


@pytest.mark.parametrize("n", [1, pcg64.SMALL_NORMALS - 1, pcg64.SMALL_NORMALS])
def test_small_and_large_draws_agree_at_the_size_threshold(n):
    """Below SMALL_NORMALS NumPy draws, from it on the compiled ziggurat: the same doubles."""
    ours, numpys = np.random.default_rng(8), np.random.default_rng(8)
    _same(pcg64.fill_normal(ours, np.empty(n), 0.5, 2.0), numpys.normal(0.5, 2.0, n))
    assert ours.bit_generator.state == numpys.bit_generator.state
