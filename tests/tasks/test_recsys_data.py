"""The recommender's compiled instance generator against the original NumPy code.

``lrgym.tasks.recsys.synthetic_positives`` / ``split_positives`` run their loops compiled
(Gumbel top-k per user; the validation hold-out's bounded-integer draws from raw 32-bit words);
``tests/references.py`` keeps the NumPy code they replaced. Both sides consume the same
generator: the positives, the split, the evaluation and validation triples and the generator's
state afterwards must be identical (integers compared exactly; the keys behind them are the
same arithmetic on both sides: libm's scalar log, not NumPy's SIMD-dispatched one).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from references import split_positives_numpy, synthetic_positives_numpy, top_keys_brute_force

from lrgym.tasks import make_family, pcg64
from lrgym.tasks.recsys import RecsysSpec, split_positives, synthetic_positives
from lrgym.tasks.recsys import synthetic
from lrgym.tasks.recsys.split import _bounded, _triples, _user_item_order, sorted_positives
from lrgym.tasks.recsys.synthetic import _top_keys, _top_keys_streamed


def _specs():
    family = make_family("recsys")
    specs = [family.sample(k) for k in (3, 7, 11, 4605, 10_003, 20_007)]
    base = RecsysSpec(family="recsys", instance=5)
    specs += [
        dataclasses.replace(base, n_users=3, n_items=8, interactions=1.0, n_negatives=1),  # tiny: 3 positives per user
        dataclasses.replace(base, n_users=40, n_items=12, interactions=30.0, n_negatives=2),  # users hold most items
        dataclasses.replace(base, n_users=2500, n_items=1500, n_negatives=8),  # several chunks of users
    ]
    return specs


@pytest.mark.parametrize("spec", _specs(), ids=lambda s: f"u{s.n_users}-i{s.n_items}-k{s.n_negatives}-s{s.instance}")
def test_compiled_generator_reproduces_the_numpy_instance(spec):
    fast_rng = np.random.default_rng([spec.instance, 7])
    slow_rng = np.random.default_rng([spec.instance, 7])
    fast = synthetic_positives(spec, fast_rng)
    slow = synthetic_positives_numpy(spec, slow_rng)
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)
    assert fast_rng.bit_generator.state == slow_rng.bit_generator.state
    fast_split = split_positives(fast_rng, *fast, spec.n_users, spec.n_items, spec.n_negatives)
    slow_split = split_positives_numpy(slow_rng, *slow, spec.n_users, spec.n_items, spec.n_negatives)
    flat = lambda split: [split[0], split[1], *split[2], *split[3]]  # noqa: E731
    for a, b in zip(flat(fast_split), flat(slow_split)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert fast_rng.bit_generator.state == slow_rng.bit_generator.state


@pytest.mark.parametrize("n", [1, 2, 3, 7, 1000, 2**31 + 5, 2**32])
def test_bounded_integers_follow_numpys_stream(n):
    """Lemire's method on raw words equals Generator.integers(n), drawn one at a time."""
    words = np.random.default_rng(1).integers(0, 2**32, size=4000, dtype=np.uint64)
    rng = np.random.default_rng(1)
    pos = 0
    for _ in range(500):
        value, pos = _bounded(words, pos, n)
        assert value == rng.integers(n)
    # the same number of words consumed: the stream continues identically
    assert np.random.default_rng(1).integers(0, 2**32, size=pos + 1, dtype=np.uint64)[pos] == rng.integers(
        0, 2**32, dtype=np.uint64
    )


def test_words_running_out_is_reported():
    assert _bounded(np.zeros(0, dtype=np.uint64), 0, 10) == (-1, 0)


@pytest.mark.parametrize("seed", range(6))
def test_user_item_order_is_numpys_lexsort(seed):
    """The compiled (user, item) sort of the split equals ``np.lexsort`` (stable: duplicate
    pairs keep their order), for users in order and shuffled, and NumPy's own for negative ids."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    pos_u = np.sort(rng.integers(0, 1 + n // 8, size=n))
    pos_i = rng.integers(0, 1 + n // 10, size=n)  # many duplicate (user, item) pairs
    for users in (pos_u, rng.permutation(pos_u), pos_u - 3):
        got = _user_item_order(users, pos_i)
        np.testing.assert_array_equal(got, np.lexsort((pos_i, users)))
    np.testing.assert_array_equal(_user_item_order(pos_u[:0], pos_i[:0]), np.lexsort((pos_i[:0], pos_u[:0])))


@pytest.mark.parametrize("seed", range(6))
def test_sorted_positives_are_numpys_sort_counts_and_starts(seed):
    """The split's one-pass sort and counts (:func:`sorted_positives`) equal the NumPy calls they
    replace: the gathers by ``np.lexsort``, ``np.searchsorted`` of the sorted users and
    ``np.bincount`` of the items, as int64; with duplicate pairs, users and items that hold no
    positive (the last ones too), ids as int32, users in any order, and ids out of range
    (negative, or not below ``n_users`` / ``n_items``), which take NumPy's own path."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    n_users, n_items = 2 + n // 8, 2 + n // 10
    pos_u = rng.integers(0, n_users - 1, size=n)  # the last user holds no positive
    pos_i = rng.integers(0, n_items - 1, size=n)  # many duplicate (user, item) pairs

    def numpy_calls(users, items, n_u, n_i):
        order = np.lexsort((items, users))
        su, si = users[order], items[order]
        return su, si, np.searchsorted(su, np.arange(n_u + 1)), np.bincount(si, minlength=n_i)

    cases = [
        (pos_u, pos_i, n_users, n_items),
        (np.sort(pos_u), pos_i, n_users, n_items),
        (pos_u.astype(np.int32), pos_i.astype(np.int32), n_users, n_items),
        (pos_u - 3, pos_i, n_users, n_items),  # negative users
        (pos_u, pos_i, n_users - 2, n_items),  # users beyond n_users
        (pos_u, pos_i, n_users, n_items - 2),  # items beyond n_items
        (pos_u[:0], pos_i[:0], n_users, n_items),
    ]
    for users, items, n_u, n_i in cases:
        got = sorted_positives(users, items, n_u, n_i)
        want = numpy_calls(users, items, n_u, n_i)
        for a, b in zip(got, want):
            assert a.dtype == np.int64
            np.testing.assert_array_equal(a, b)


def test_triples_interleave_positives_and_their_negatives():
    got_u, got_i, got_y = _triples(np.array([4, 7]), np.array([1, 2]), np.array([[5, 6, 8], [9, 10, 11]]))
    np.testing.assert_array_equal(got_u, [4, 4, 4, 4, 7, 7, 7, 7])
    np.testing.assert_array_equal(got_i, [1, 5, 6, 8, 2, 9, 10, 11])
    np.testing.assert_array_equal(got_y, [1, 0, 0, 0, 1, 0, 0, 0])


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_top_keys_against_sorting_every_key(seed, uniform):
    """The compiled two-pass selection against computing and sorting every key: uniforms from
    tiny (g = +inf, and the bound's +inf below 2⁻³⁰) to the largest double below 1, ties of equal
    keys (broken by the lower item), NumPy's Gumbel values directly (``uniform`` False)."""
    rng = np.random.default_rng(seed)
    n_rows, n_i = 40, int(rng.integers(8, 300))
    scores = rng.standard_normal((n_rows, n_i))
    scores[:5] = 0.0  # rows of equal bases: only the noise orders them
    log_pop = -rng.uniform(0.5, 1.5) * np.log1p(rng.permutation(n_i).astype(np.float64))
    log_pop[: n_i // 3] = 0.0
    if uniform:
        noise = rng.random((n_rows, n_i))
        noise[0, ::7] = 2.0**-70  # 1 − u rounds to 1: key +inf, several tie
        noise[1, ::5] = 2.0**-55
        noise[2, ::3] = np.nextafter(1.0, 0.0)
        noise[3] = noise[3, 0]  # one u for the whole row: equal keys where the bases are equal
        noise[4, ::2] = 2.0**-60
    else:
        noise = rng.gumbel(size=(n_rows, n_i))
        noise[3] = noise[3, 0]
    counts = rng.integers(1, max(2, n_i // 4) + 1, size=n_rows).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    users = np.empty(offsets[-1], dtype=np.int64)
    items = np.empty(offsets[-1], dtype=np.int64)
    _top_keys(log_pop, 2.5, scores, noise, uniform, counts, offsets, 0, users, items)
    want_u, want_i = top_keys_brute_force(log_pop, 2.5, scores, noise, uniform, counts)
    np.testing.assert_array_equal(users, want_u)
    np.testing.assert_array_equal(items, want_i)


_MASK128 = (1 << 128) - 1


def _steps_between(start: dict, end: dict) -> int:
    """How many PCG64 steps lead from one state dict to another (counted one by one)."""
    s, inc, target = start["state"]["state"], start["state"]["inc"], end["state"]["state"]
    n = 0
    while s != target:
        s = (pcg64.MULTIPLIER * s + inc) & _MASK128
        n += 1
        assert n < 10**6
    return n


def _with_zero_ahead(seed, distance: int) -> np.random.Generator:
    """A generator of ``default_rng(seed)``'s increment whose ``distance``-th next 64-bit output
    is 0 (its state then has equal halves, so XSL-RR gives 0): ``random`` would return u = 0."""
    rng = np.random.default_rng(seed)
    state = rng.bit_generator.state
    inc = state["state"]["inc"]
    s = (0x0123456789ABCDEF << 64) | 0x0123456789ABCDEF
    back = pow(pcg64.MULTIPLIER, -1, 1 << 128)
    for _ in range(distance):
        s = ((s - inc) * back) & _MASK128
    rng.bit_generator.state = {**state, "state": {"state": s, "inc": inc}}
    return rng


@pytest.mark.parametrize("row", [0, 7, 899])
def test_a_zero_uniform_redraws_the_chunk_with_numpys_gumbel(row, monkeypatch):
    """u = 0 (NumPy's ``gumbel`` draws again): the compiled generator returns to the chunk's start
    and draws it with ``gumbel``, so the instance is still the NumPy code's (which draws
    ``gumbel`` throughout, skipping the 0). The generator is made so that the chunk's uniforms
    hold a real 0 of NumPy's stream, in the first, an early or the last row of users."""
    spec = RecsysSpec(family="recsys", instance=5, n_users=900, n_items=300)
    starts = []
    open_stream = pcg64.open_stream
    monkeypatch.setattr(pcg64, "open_stream", lambda bg: starts.append(bg.state) or open_stream(bg))
    probe = np.random.default_rng([5, 7])
    before = probe.bit_generator.state
    synthetic_positives(spec, probe)
    # the chunk's stream is the last one opened (the factors' normals open theirs before)
    ahead = _steps_between(before, starts[-1]) + row * spec.n_items + 123  # draws before the chunk, then the 0
    gumbel_chunks = []
    top_keys = synthetic._top_keys
    monkeypatch.setattr(synthetic, "_top_keys", lambda *a: gumbel_chunks.append(a[4]) or top_keys(*a))
    rng = _with_zero_ahead([5, 7], ahead)
    got = synthetic_positives(spec, rng)
    assert gumbel_chunks == [False]  # the zero was met: the chunk redrawn with NumPy's gumbel
    reference = _with_zero_ahead([5, 7], ahead)
    want = synthetic_positives_numpy(spec, reference)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert rng.bit_generator.state == reference.bit_generator.state


@pytest.mark.parametrize("seed", range(3))
def test_streamed_top_keys_are_those_of_numpys_uniforms(seed):
    """Uniforms drawn row by row inside the kernel = ``rng.random`` of the block, then
    :func:`_top_keys`; a 0 in the stream is reported (False) without moving the generator."""
    rng = np.random.default_rng(seed)
    n_rows, n_i = 37, int(rng.integers(5, 400))
    scores = rng.standard_normal((n_rows, n_i))
    log_pop = -np.log1p(rng.permutation(n_i).astype(np.float64))
    counts = rng.integers(1, max(2, n_i // 4) + 1, size=n_rows).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    out = [np.empty(offsets[-1], dtype=np.int64) for _ in range(4)]
    numpys = np.random.default_rng([seed, 1])
    ours = np.random.default_rng([seed, 1])
    noise = numpys.random((n_rows, n_i))
    assert _top_keys(log_pop, 1.5, scores, noise, True, counts, offsets, 0, out[0], out[1])
    stream, saved = pcg64.open_stream(ours.bit_generator)
    assert _top_keys_streamed(log_pop, 1.5, scores, stream, counts, offsets, 0, out[2], out[3])
    pcg64.close_stream(ours.bit_generator, stream, saved)
    np.testing.assert_array_equal(out[2], out[0])
    np.testing.assert_array_equal(out[3], out[1])
    assert ours.bit_generator.state == numpys.bit_generator.state
    zero = _with_zero_ahead(seed, 3 * n_i + 2)  # row 3
    before = zero.bit_generator.state
    stream, _ = pcg64.open_stream(zero.bit_generator)
    assert not _top_keys_streamed(log_pop, 1.5, scores, stream, counts, offsets, 0, out[2], out[3])
    assert zero.bit_generator.state == before


def test_top_keys_reports_a_zero_uniform():
    noise = np.full((2, 6), 0.5)
    counts = np.array([2, 2])
    offsets = np.array([0, 2, 4])
    out = (np.empty(4, dtype=np.int64), np.empty(4, dtype=np.int64))
    args = (np.zeros(6), 1.0, np.zeros((2, 6)))
    assert _top_keys(*args, noise, True, counts, offsets, 0, *out)
    noise[1, 3] = 0.0
    assert not _top_keys(*args, noise, True, counts, offsets, 0, *out)
    assert _top_keys(*args, noise, False, counts, offsets, 0, *out)
