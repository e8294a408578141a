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
import math

import numpy as np
import pytest
from references import split_positives_numpy, synthetic_positives_numpy

from lrgym.tasks import make_family
from lrgym.tasks.recsys import (
    RecsysSpec,
    _bounded,
    _top_keys,
    _triples,
    _user_item_order,
    gumbel_bound_tables,
    split_positives,
    synthetic_positives,
)


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
    pairs keep their order), for users in order (the compiled path) and shuffled (NumPy's)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    pos_u = np.sort(rng.integers(0, 1 + n // 8, size=n))
    pos_i = rng.integers(0, 1 + n // 10, size=n)  # many duplicate (user, item) pairs
    for users in (pos_u, rng.permutation(pos_u)):
        got = _user_item_order(users, pos_i)
        np.testing.assert_array_equal(got, np.lexsort((pos_i, users)))


def test_triples_interleave_positives_and_their_negatives():
    got_u, got_i, got_y = _triples(np.array([4, 7]), np.array([1, 2]), np.array([[5, 6, 8], [9, 10, 11]]))
    np.testing.assert_array_equal(got_u, [4, 4, 4, 4, 7, 7, 7, 7])
    np.testing.assert_array_equal(got_i, [1, 5, 6, 8, 2, 9, 10, 11])
    np.testing.assert_array_equal(got_y, [1, 0, 0, 0, 1, 0, 0, 0])


def _top_keys_brute_force(log_pop, signal, scores, noise, uniform, counts):
    """Every key of every row in plain Python (the same scalar operations: IEEE arithmetic and
    libm's log), sorted by (−key, item): the c largest per row."""
    users, items = [], []
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
        users += [r] * c
        items += [j for _, j in keyed[:c]]
    return np.array(users), np.array(items)


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_top_keys_against_sorting_every_key(seed, uniform):
    """The compiled two-pass selection against computing and sorting every key: uniforms from
    tiny (g = +inf, and the table's first buckets) to the largest double below 1, ties of equal
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
    _top_keys(log_pop, 2.5, scores, noise, uniform, counts, offsets, 0, users, items, *gumbel_bound_tables())
    want_u, want_i = _top_keys_brute_force(log_pop, 2.5, scores, noise, uniform, counts)
    np.testing.assert_array_equal(users, want_u)
    np.testing.assert_array_equal(items, want_i)


class _ZeroOnce:
    """A generator whose ``random`` returns a 0 in its ``call``-th draw (as NumPy's can, with
    probability 2⁻⁵³ per double), otherwise NumPy's own."""

    def __init__(self, seed, call):
        self._rng, self._call, self.calls = np.random.default_rng(seed), call, 0

    def __getattr__(self, name):
        return getattr(self._rng, name)

    def random(self, size):
        self.calls += 1
        out = self._rng.random(size)
        if self.calls == self._call:
            out.flat[out.size // 2] = 0.0
        return out


@pytest.mark.parametrize("call", [1, 3])
def test_a_zero_uniform_redraws_the_chunk_with_numpys_gumbel(call):
    """u = 0 (NumPy's ``gumbel`` would have drawn again): the generator returns to the chunk's
    start and draws it with ``gumbel``, so the instance is still the NumPy code's (which draws
    ``gumbel`` throughout); here in the first or a later block of rows of the first chunk."""
    spec = RecsysSpec(family="recsys", instance=5, n_users=900, n_items=300)
    rng = _ZeroOnce([5, 7], call)
    got = synthetic_positives(spec, rng)
    assert rng.calls >= call
    want = synthetic_positives_numpy(spec, np.random.default_rng([5, 7]))
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    after_numpy = np.random.default_rng([5, 7])
    synthetic_positives_numpy(spec, after_numpy)
    assert rng.bit_generator.state == after_numpy.bit_generator.state


def test_top_keys_reports_a_zero_uniform():
    noise = np.full((2, 6), 0.5)
    counts = np.array([2, 2])
    offsets = np.array([0, 2, 4])
    out = (np.empty(4, dtype=np.int64), np.empty(4, dtype=np.int64))
    args = (np.zeros(6), 1.0, np.zeros((2, 6)))
    assert _top_keys(*args, noise, True, counts, offsets, 0, *out, *gumbel_bound_tables())
    noise[1, 3] = 0.0
    assert not _top_keys(*args, noise, True, counts, offsets, 0, *out, *gumbel_bound_tables())
    assert _top_keys(*args, noise, False, counts, offsets, 0, *out, *gumbel_bound_tables())
