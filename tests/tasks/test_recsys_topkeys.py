"""The recommender's top-keys row kernel against the one it replaced.

``lrgym.tasks.recsys.synthetic._top_row`` prunes with upper bounds computed from u's bit pattern (no
table) and checks its cutoff against the exact keys afterwards; main cfecd14's kernel (kept
below verbatim as ``_top_row_reference``, with its Gumbel bound tables) pruned with table
bounds. The selection (the c items of largest exact key, in order, equal keys by item) does not
depend on how items are pruned, so the two must give the same items, bit for bit, on any row:
ties, tiny and huge signals, uniforms from 2⁻⁷⁰ to the largest double below 1, rows of 1 to
2,000 items, c from 1 to n_i, NumPy's Gumbel values directly (``uniform`` False).
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
import pytest
from references import top_keys_brute_force

from lrgym.tasks.recsys.synthetic import (
    _GROUPS_PER_KEPT,
    _THRESHOLD_BINS,
    _at_least_c_above,
    _compress_not_below,
    _gumbel,
    _gumbel_upper,
    _place_candidates,
    _sort_candidates,
    _top_keys,
)

# ---- main cfecd14's kernel, verbatim (the reference) ----------------------------------------

#: the Gumbel bound tables of :func:`_top_row` have one bucket per (binary exponent, first
#: ``_BUCKET_BITS`` mantissa bits) of u, for u in [2⁻⁶⁰, 1), and bucket 0 for u < 2⁻⁶⁰: the
#: bucket of u ≥ 2⁻⁶⁰ is its bit pattern shifted right by ``_BUCKET_SHIFT``, minus that of 2⁻⁶⁰,
#: plus 1 (:func:`_bucket`)
_BUCKET_BITS = 6
_BUCKET_SHIFT = 52 - _BUCKET_BITS
_BUCKET_MIN = ((1023 - 60) << 52) >> _BUCKET_SHIFT
_N_BUCKETS = (1023 << 52 >> _BUCKET_SHIFT) - _BUCKET_MIN + 1


@numba.njit(cache=True, inline="always")
def _bucket(word):
    """The bound tables' bucket of the uniform double whose bits are ``word`` (0 for u < 2⁻⁶⁰);
    branch-free, so that the bounds pass vectorises."""
    b = (word >> _BUCKET_SHIFT) - (_BUCKET_MIN - 1)
    return b if b > 0 else 0


@numba.njit(cache=True)  # no fastmath: the same arithmetic as the keys
def _gumbel_bound_tables():
    """(upper, lower): for each bucket of u (see ``_BUCKET_BITS``), g at the bucket's lowest and
    at the next bucket's lowest u, g(u) = 0 − 1·log(−log(1 − u)) as the keys compute it. g
    decreases in u, so lower[b] ≤ g(u) ≤ upper[b] for every u of bucket b (up to rounding,
    which the callers' margins cover); bucket 0 (u < 2⁻⁶⁰, where 1 − u rounds to 1 and g = +inf)
    is +inf in both, the last bucket's lower bound −inf."""
    upper = np.empty(_N_BUCKETS)
    lower = np.empty(_N_BUCKETS)
    upper[0] = np.inf
    lower[0] = np.inf
    word = np.empty(1, dtype=np.int64)
    as_float = word.view(np.float64)
    for b in range(1, _N_BUCKETS):
        word[0] = (_BUCKET_MIN + b - 1) << _BUCKET_SHIFT
        low_u = as_float[0]
        word[0] = (_BUCKET_MIN + b) << _BUCKET_SHIFT
        high_u = as_float[0]
        upper[b] = 0.0 - 1.0 * math.log(-math.log(1.0 - low_u))
        lower[b] = 0.0 - 1.0 * math.log(-math.log(1.0 - high_u)) if high_u < 1.0 else -np.inf
    return upper, lower


@functools.cache
def gumbel_bound_tables():
    """:func:`_gumbel_bound_tables`, computed once per process."""
    return _gumbel_bound_tables()


@numba.njit(cache=True)  # no fastmath: the keys must round exactly as NumPy's expression does
def _top_row_reference(log_pop, signal, score_row, noise_row, uniform, c, user, o, users, items, upper, lower,
             ub, lows, group_max, hist, cand_key, cand_item):
    """main cfecd14's ``recsys._top_row``, verbatim (renamed). One user's row of :func:`_top_keys`: the c items of largest key, largest first (equal
    keys: lower item first), into users / items[o : o + c] (``user`` in users).

    key = (log_pop + signal · score) + g, g = 0 − 1·log(−log(1 − u)) (NumPy's Gumbel with
    loc 0, scale 1, from its uniform double u = ``noise_row[j]``) or g = ``noise_row[j]``
    itself when ``uniform`` is False.

    Two passes, so that the two logarithms run for few items (≈ the kept ones):

    1. bounds without logarithms: g lies between ``lower`` and ``upper`` of u's bucket
       (:func:`_gumbel_bound_tables`; buckets by binary exponent and leading mantissa bits, so
       they are tight where the large keys are), one branch-free loop. The items fall into
       G = min(n_i, 4c) groups (item j in group j mod G); a histogram of the G groups' maxima
       of the lower bounds gives L with at least c maxima ≥ L (:func:`_at_least_c_above`).
       Those c groups each hold an item whose lower bound is ≥ L, so at least c keys are ≥ L
       and the c-th largest key is ≥ L.
    2. the exact selection: items in increasing order, skipping those whose upper bound is
       below L (with a margin far above rounding: their key is below the c-th largest, so they
       cannot be kept, even on a tie); the others (≈ c) get their exact key and are sorted
       (:func:`_sort_candidates`). They include the c largest keys of the row, so their first c
       are the row's.

    Kept items' keys are always computed exactly. Returns False, writing nothing, when
    ``uniform`` and a u is 0 (NumPy's ``gumbel`` would have drawn again: the caller redraws),
    else True.
    """
    n_i = score_row.shape[0]
    if uniform:
        words = noise_row.view(np.int64)
        zero = False
        for j in range(n_i):  # pass 1: bounds of every key
            base = log_pop[j] + signal * score_row[j]
            b = _bucket(words[j])
            ub[j] = base + upper[b]
            lows[j] = base + lower[b]
            zero |= words[j] == 0
        if zero:
            return False  # u = 0: the caller redraws with NumPy's gumbel
    else:
        for j in range(n_i):
            ub[j] = log_pop[j] + signal * score_row[j] + noise_row[j]
            lows[j] = ub[j]
    n_groups = min(n_i, _GROUPS_PER_KEPT * c)
    group_max[:n_groups] = -np.inf
    for j0 in range(0, n_i, n_groups):  # the groups' maxima of the lower bounds, a block at a time
        m = min(n_groups, n_i - j0)
        block_max = group_max[:m]
        block = lows[j0 : j0 + m]
        for g in range(m):
            block_max[g] = block[g] if block[g] > block_max[g] else block_max[g]
    low = _at_least_c_above(group_max[:n_groups], c, hist)
    skip_below = low - 1e-9 * (1.0 + abs(low))
    n = 0
    for j in range(n_i):  # pass 2: exact keys of the items that can be kept
        if ub[j] < skip_below:
            continue
        base = log_pop[j] + signal * score_row[j]
        if uniform:
            g = 0.0 - 1.0 * math.log(-math.log(1.0 - noise_row[j]))
        else:
            g = noise_row[j]
        cand_key[n] = base + g
        cand_item[n] = j
        n += 1
    _sort_candidates(cand_key, cand_item, n)
    for q in range(c):
        users[o + q] = user
        items[o + q] = cand_item[q]
    return True


@numba.njit(cache=True)
def _top_keys_reference(log_pop, signal, scores, noise, uniform, counts, offsets, start, users, items, upper, lower):
    """main cfecd14's ``_top_keys`` (its row buffers inline), on :func:`_top_row_reference`."""
    n_rows, n_i = scores.shape
    ub, lows, group_max = np.empty(n_i), np.empty(n_i), np.empty(n_i)
    hist, cand_key, cand_item = np.empty(_THRESHOLD_BINS, dtype=np.int64), np.empty(n_i), np.empty(n_i, dtype=np.int64)
    for r in range(n_rows):
        user = start + r
        if not _top_row_reference(log_pop, signal, scores[r], noise[r], uniform, counts[user], user, offsets[user],
                                  users, items, upper, lower, ub, lows, group_max, hist, cand_key, cand_item):
            return False
    return True


# ---- the tests --------------------------------------------------------------------------------


def _rows(rng, n_rows, n_i, uniform):
    """Random rows of (log_pop, scores, noise) with the cases that stress pruning: equal bases,
    one u for a whole row (equal keys), tiny u (key +inf, several tie), u next to 1."""
    scores = rng.standard_normal((n_rows, n_i)) * rng.choice([1.0, 0.01, 10.0])
    scores[: n_rows // 8] = 0.0  # rows of equal bases: only the noise orders them
    log_pop = -rng.uniform(0.0, 1.5) * np.log1p(rng.permutation(n_i).astype(np.float64))
    log_pop[: n_i // 3] = 0.0
    if not uniform:
        noise = rng.gumbel(size=(n_rows, n_i))
        noise[n_rows // 2] = noise[n_rows // 2, 0]
        return log_pop, scores, noise
    noise = rng.random((n_rows, n_i))
    specials = [2.0**-70, 2.0**-55, 2.0**-40, 2.0**-30, 3 * 2.0**-31, np.nextafter(1.0, 0.0), 0.5, 2.0**-53]
    for r in range(1, n_rows, 3):
        k = rng.integers(1, max(2, n_i // 2) + 1)
        noise[r, rng.integers(0, n_i, size=k)] = rng.choice(specials)
    noise[n_rows // 2] = noise[n_rows // 2, 0]  # equal keys where the bases are equal
    if n_rows > 4:
        noise[3] = rng.random(n_i) * 2.0**-20  # doubles that are not multiples of 2⁻⁵³: 1 − u rounds
    return log_pop, scores, noise


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("seed", range(12))
def test_top_row_selects_the_reference_items(seed, uniform):
    """The new row kernel against main cfecd14's and against sorting every key, on many random
    rows: the same items. The old kernel is wrong on a few degenerate rows (c close to n_i and
    fewer than c finite lower bounds: its histogram shortcut for one distinct value skipped the
    count, so it kept fewer than c candidates and wrote stale items); there the new one agrees
    with sorting every key. Instances practically cannot meet that (n_i ≥ 50 and c ≤ n_i / 4 in
    the train / val / test sets: ≥ 3c of the 4c groups would need every item's u in the top
    1/128 of [0, 1); user specs with n_items 4 – 11 and c = 3: ≈ 2e-6 per user at n_items = 4),
    and bit_identity finds the same bits on every instance it builds."""
    rng = np.random.default_rng([seed, 29])
    upper, lower = gumbel_bound_tables()
    for n_i in [1, 2, 3, 5, 8, 17, 64, 65, 129, 300, 1000, 2000][seed % 4 :: 2] + [int(rng.integers(1, 2001))]:
        n_rows = 24
        signal = float(rng.choice([0.0, 1e-12, 1.0, 2.5, 4.0, 100.0, 1e6]))
        log_pop, scores, noise = _rows(rng, n_rows, n_i, uniform)
        counts = np.concatenate([[1, n_i, max(1, n_i // 4), max(1, n_i - 1)],
                                 rng.integers(1, n_i + 1, size=n_rows - 4)]).astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        got = (np.full(offsets[-1], -1, dtype=np.int64), np.full(offsets[-1], -1, dtype=np.int64))
        want = (np.full(offsets[-1], -1, dtype=np.int64), np.full(offsets[-1], -1, dtype=np.int64))
        assert _top_keys(log_pop, signal, scores, noise, uniform, counts, offsets, 0, *got)
        assert _top_keys_reference(log_pop, signal, scores, noise, uniform, counts, offsets, 0, *want, upper, lower)
        np.testing.assert_array_equal(got[0], np.repeat(np.arange(n_rows), counts))
        np.testing.assert_array_equal(got[1], top_keys_brute_force(log_pop, signal, scores, noise, uniform, counts)[1])
        for r in range(n_rows):
            row = slice(offsets[r], offsets[r + 1])
            if len(set(want[1][row])) == counts[r]:  # the old kernel's answer is a real one (else: its defect)
                np.testing.assert_array_equal(got[1][row], want[1][row])
                np.testing.assert_array_equal(got[0][row], want[0][row])
            else:
                assert counts[r] > n_i // 4


@pytest.mark.parametrize("seed", range(4))
def test_gumbel_upper_bounds_the_computed_gumbel(seed):
    """_gumbel_upper(u) ≥ g(u) as computed, on NumPy's uniforms and on arbitrary doubles of
    every binade down to 2⁻⁴⁰ (where 1 − u rounds), and it is tight where the top keys are:
    within 0.1 for 2⁻³⁰ ≤ u ≤ 1/4 (the margin of the first cutoff)."""
    rng = np.random.default_rng(seed)
    u = np.concatenate([rng.random(200_000), np.ldexp(1.0 + rng.random(200_000), -rng.integers(1, 41, 200_000)),
                        [2.0**-53, 2.0**-30, np.nextafter(1.0, 0.0), 0.5, 0.25]])
    u = np.minimum(u, np.nextafter(1.0, 0.0))
    words = u.view(np.int64)
    bound = np.array([_gumbel_upper(x, w) for x, w in zip(u[:2000], words[:2000])])
    g = np.array([_gumbel(x) for x in u[:2000]])
    assert (bound >= g).all()
    bound, g = _bounds_and_gumbels(u)
    assert (bound >= g).all()
    small = (u >= 2.0**-30) & (u <= 0.25)
    assert (bound[small] - g[small] <= 0.1).all()


@numba.njit(cache=True)
def _bounds_and_gumbels(u):
    words = u.view(np.int64)
    bound = np.empty(u.shape[0])
    g = np.empty(u.shape[0])
    for j in range(u.shape[0]):
        bound[j] = _gumbel_upper(u[j], words[j])
        g[j] = _gumbel(u[j])
    return bound, g


@pytest.mark.parametrize("seed", range(4))
def test_ranking_by_counting_is_the_stable_sort(seed):
    """_place_candidates (counting ranks; equal keys or many candidates: the sort) writes the
    same c items as a stable sort by decreasing key, and returns the c-th key."""
    rng = np.random.default_rng(seed)
    for _ in range(300):
        n = int(rng.integers(1, 200))
        keys = rng.standard_normal(n)
        if rng.random() < 0.3:
            keys = np.round(keys, 1)  # equal keys
        if rng.random() < 0.1:
            keys[rng.integers(0, n, size=3)] = np.inf
        c = int(rng.integers(1, n + 1))
        cand_key = np.empty(n + 8)
        cand_key[:n] = keys
        cand_key[n:] = np.nan  # the extra lanes are never read
        cand_item = np.arange(n, dtype=np.int64) * 3
        users = np.full(c, -1, dtype=np.int64)
        items = np.full(c, -1, dtype=np.int64)
        kth = _place_candidates(cand_key, cand_item, n, c, 7, 0, users, items, np.empty(n + 8, dtype=np.int64))
        order = np.argsort(-keys, kind="stable")[:c]
        np.testing.assert_array_equal(items, order * 3)
        np.testing.assert_array_equal(users, 7)
        assert kth == keys[order[-1]]


@numba.njit(cache=True)
def _gather_not_below(values, cutoff, out):
    n = 0
    j0 = 0
    while j0 + 8 <= values.shape[0]:
        n += _compress_not_below(values, j0, cutoff, out, n)
        j0 += 8
    return n, j0


def test_compress_not_below_keeps_the_indices_in_order():
    """The 8-lane compress store gathers the same indices as ``not (v < cutoff)`` one by one
    (NaN kept), in increasing order, and writes nothing past them."""
    rng = np.random.default_rng(3)
    for _ in range(300):
        n_i = int(rng.integers(8, 400))
        values = rng.standard_normal(n_i)
        values[rng.random(n_i) < 0.05] = np.nan
        values[rng.random(n_i) < 0.05] = np.inf
        cutoff = float(rng.choice([rng.standard_normal(), -np.inf, np.inf]))
        out = np.full(n_i + 1, -1, dtype=np.int64)
        n, j0 = _gather_not_below(values, cutoff, out)
        want = np.nonzero(~(values[:j0] < cutoff))[0]
        assert n == len(want)
        np.testing.assert_array_equal(out[:n], want)
        assert (out[n:] == -1).all()
