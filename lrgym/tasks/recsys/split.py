"""The train / validation split of an instance's positives, and its evaluation set.

:func:`split_positives` holds out one positive of some users for validation, draws their
negatives and the evaluation triples, with NumPy's draws reproduced in compiled code.
"""

from __future__ import annotations

import numba
import numpy as np

EVAL_TRIPLES = 2048
VAL_POSITIVES = 512


@numba.njit(cache=True, nogil=True)
def _bounded(words, pos, n):
    """NumPy's ``Generator.integers(n)`` (Lemire's method on 32-bit words, n ≤ 2³²) from the
    raw 32-bit words ``words[pos:]``: (value, next pos), or (−1, pos) when the words run out.
    n = 1 draws nothing, as NumPy's does."""
    if n == 1:
        return 0, pos
    rng_excl = np.uint64(n)
    threshold = (np.uint64(0xFFFFFFFF) - np.uint64(n - 1)) % rng_excl
    while True:
        if pos >= words.shape[0]:
            return -1, pos
        m = np.uint64(words[pos]) * rng_excl
        pos += 1
        leftover = m & np.uint64(0xFFFFFFFF)
        if leftover >= rng_excl or leftover >= threshold:
            return np.int64(m >> np.uint64(32)), pos


@numba.njit(cache=True, nogil=True)
def _hold_out(words, candidates, user_start, pos_i, item_count, n_items, n_negatives, limit, held, val_u, val_i, negs):
    """The validation draws of :func:`split_positives`, from raw 32-bit words.

    For each candidate user in order, until ``limit`` are held out: a uniform choice among the
    user's positives whose item keeps another training positive (``rng.choice``), held out
    (``held``, ``item_count`` updated). Then, per held-out user, ``n_negatives`` uniform items
    that are not the user's positives (rejection). Returns (held-out users, words used), or
    (−1, ·) when ``words`` ran out (the caller draws more).
    """
    pos = 0
    n_val = 0
    ok = np.empty(pos_i.shape[0], dtype=np.int64)
    for u in candidates:
        if n_val == limit:
            break
        n_ok = 0
        for row in range(user_start[u], user_start[u + 1]):
            if item_count[pos_i[row]] >= 2:
                ok[n_ok] = row
                n_ok += 1
        if n_ok == 0:
            continue
        j, pos = _bounded(words, pos, n_ok)
        if j < 0:
            return -1, pos
        row = ok[j]
        held[row] = True
        item_count[pos_i[row]] -= 1
        val_u[n_val] = u
        val_i[n_val] = pos_i[row]
        n_val += 1
    mine = np.zeros(n_items, dtype=np.bool_)
    for v in range(n_val):
        u = val_u[v]
        _mark_items(mine, pos_i, user_start[u], user_start[u + 1], True)
        got = 0
        while got < n_negatives:
            j, pos = _bounded(words, pos, n_items)
            if j < 0:
                return -1, pos
            if not mine[j]:
                negs[v * n_negatives + got] = j
                got += 1
        _mark_items(mine, pos_i, user_start[u], user_start[u + 1], False)
    return n_val, pos


@numba.njit(cache=True, nogil=True, inline="always")
def _mark_items(mine, pos_i, lo, hi, value):
    """``mine[item] = value`` for the items of rows lo..hi−1 (one user's positives)."""
    for row in range(lo, hi):
        mine[pos_i[row]] = value


@numba.njit(cache=True, nogil=True)
def _stable_counting_order(keys, order, n_keys, out):
    """``out`` = ``order`` stably sorted by ``keys[order]`` (integers 0 .. n_keys − 1): one
    counting pass, a prefix sum, one scatter pass."""
    start = np.zeros(n_keys + 1, dtype=np.int64)
    for row in order:
        start[keys[row] + 1] += 1
    for k in range(n_keys):
        start[k + 1] += start[k]
    for row in order:
        k = keys[row]
        out[start[k]] = row
        start[k] += 1


@numba.njit(cache=True, nogil=True)
def _radix_user_item_order(pos_u, pos_i, n_users, n_items):
    """``np.lexsort((pos_i, pos_u))`` for users in 0 .. n_users − 1 and items in 0 .. n_items − 1:
    a stable sort by item, then a stable sort of that by user (least significant key first),
    so rows sort by (user, item) and equal pairs keep their order, as lexsort's. O(rows +
    users + items), no comparisons."""
    n = pos_u.shape[0]
    by_item = np.empty(n, dtype=np.int64)
    _stable_counting_order(pos_i, np.arange(n), n_items, by_item)
    order = np.empty(n, dtype=np.int64)
    _stable_counting_order(pos_u, by_item, n_users, order)
    return order


def _user_item_order(pos_u, pos_i):
    """The permutation sorting positives by (user, item), stably: ``np.lexsort((pos_i, pos_u))``,
    compiled (two counting-sort passes, :func:`_radix_user_item_order`) for non-negative ids."""
    pos_u = np.ascontiguousarray(pos_u, dtype=np.int64)
    pos_i = np.ascontiguousarray(pos_i, dtype=np.int64)
    if pos_u.shape[0] == 0 or min(pos_u.min(), pos_i.min()) < 0:
        return np.lexsort((pos_i, pos_u))
    return _radix_user_item_order(pos_u, pos_i, int(pos_u.max()) + 1, int(pos_i.max()) + 1)


@numba.njit(cache=True, nogil=True)
def _sorted_positives(pos_u, pos_i, n_users, n_items):
    """The positives sorted by (user, item) with what the split counts of them, in two counting
    passes: (sorted users, sorted items, ``user_start``, ``item_count``), the values of
    ``pos_u[order]``, ``pos_i[order]`` for ``order = np.lexsort((pos_i, pos_u))``,
    ``np.searchsorted(sorted users, np.arange(n_users + 1))`` and ``np.bincount(pos_i,
    minlength=n_items)``, for users in 0 .. n_users − 1 and items in 0 .. n_items − 1.

    The stable sort by item, then by user, of :func:`_radix_user_item_order`, scattering the
    ids themselves instead of row numbers (no gather afterwards); its two prefix sums are
    ``item_count``'s and ``user_start``'s."""
    n = pos_u.shape[0]
    item_count = np.zeros(n_items, dtype=np.int64)
    for row in range(n):
        item_count[pos_i[row]] += 1
    next_row = np.empty(n_items, dtype=np.int64)
    total = 0
    for k in range(n_items):
        next_row[k] = total
        total += item_count[k]
    by_item = np.empty(n, dtype=np.int64)  # rows, stably sorted by item
    for row in range(n):
        k = pos_i[row]
        by_item[next_row[k]] = row
        next_row[k] += 1
    user_start = np.zeros(n_users + 1, dtype=np.int64)
    for row in range(n):
        user_start[pos_u[row] + 1] += 1
    for u in range(n_users):
        user_start[u + 1] += user_start[u]
    sorted_u = np.empty(n, dtype=np.int64)
    sorted_i = np.empty(n, dtype=np.int64)
    next_u = user_start[:n_users].copy()
    for row in by_item:
        u = pos_u[row]
        j = next_u[u]
        sorted_u[j] = u
        sorted_i[j] = pos_i[row]
        next_u[u] = j + 1
    return sorted_u, sorted_i, user_start, item_count


def sorted_positives(pos_u, pos_i, n_users, n_items):
    """(pos_u, pos_i sorted by (user, item), user_start, item_count) as :func:`split_positives`
    needs them: :func:`_sorted_positives` when every id is in range (every synthetic and file
    instance), else the NumPy calls it stands for."""
    pos_u = np.ascontiguousarray(pos_u, dtype=np.int64)
    pos_i = np.ascontiguousarray(pos_i, dtype=np.int64)
    if pos_u.shape[0] and 0 <= min(pos_u.min(), pos_i.min()) and pos_u.max() < n_users and pos_i.max() < n_items:
        return _sorted_positives(pos_u, pos_i, n_users, n_items)
    order = _user_item_order(pos_u, pos_i)
    pos_u, pos_i = pos_u[order], pos_i[order]
    user_start = np.searchsorted(pos_u, np.arange(n_users + 1)).astype(np.int64)
    item_count = np.bincount(pos_i, minlength=n_items).astype(np.int64)
    return pos_u, pos_i, user_start, item_count


def _triples(pos_u, pos_i, negatives):
    """Triples (u, i, y) in groups of 1 + k: each positive (u, i, 1), then its k negatives
    (u, negatives[p, j], 0); ``negatives`` is (n positives, k)."""
    n, k = negatives.shape
    group = 1 + k
    tri_u = np.repeat(np.asarray(pos_u, dtype=np.int64), group)
    tri_i = np.empty((n, group), dtype=np.int64)
    tri_i[:, 0] = pos_i
    tri_i[:, 1:] = negatives
    tri_y = np.zeros((n, group))
    tri_y[:, 0] = 1.0
    return tri_u, tri_i.reshape(-1), tri_y.reshape(-1)


def split_positives(rng, pos_u, pos_i, n_users, n_items, n_negatives):
    """Hold out validation positives; draw validation negatives and the evaluation set.

    Returns (train_u, train_i, eval triples (u, i, y), validation triples (u, i, y)), the
    triples in groups of 1 + k: a positive, then its k negatives.

    The per-user draws run compiled (:func:`_hold_out`) on raw 32-bit words of ``rng``
    (``integers(0, 2**32, dtype=uint64)`` returns them), reproducing NumPy's bounded integers,
    so the split and the generator's state afterwards are those of the original NumPy loop
    (``tests/references.py: split_positives_numpy``; ``tests/tasks/test_recsys_data.py``).
    """
    group = 1 + n_negatives
    pos_u, pos_i, user_start, item_count = sorted_positives(pos_u, pos_i, n_users, n_items)
    user_count = np.diff(user_start)
    candidates = rng.permutation(
        np.flatnonzero((user_count >= 3) & (user_count <= n_items - 2 * n_negatives))
    ).astype(np.int64, copy=False)
    limit = VAL_POSITIVES
    val_u = np.zeros(limit, dtype=np.int64)
    val_i = np.zeros(limit, dtype=np.int64)
    negs = np.zeros(limit * n_negatives, dtype=np.int64)
    n_words = 2 * (len(candidates) + limit * n_negatives) + 1024
    while True:
        before = rng.bit_generator.state
        words = rng.integers(0, 2**32, size=n_words, dtype=np.uint64)
        held = np.zeros(len(pos_u), dtype=bool)
        counts = item_count.copy()
        n_val, used = _hold_out(
            words, candidates, user_start, pos_i, counts, n_items, n_negatives, limit,
            held, val_u, val_i, negs,
        )
        rng.bit_generator.state = before
        if n_val >= 0:
            rng.integers(0, 2**32, size=used, dtype=np.uint64)  # advance rng past the words used
            break
        n_words *= 4
    if n_val == 0:
        raise ValueError(
            f"no user can hold out a validation positive (n_users={n_users:,}, n_items={n_items:,}, "
            f"n_negatives={n_negatives:,}): one needs 3 to n_items − 2·n_negatives = {n_items - 2 * n_negatives:,} "
            "positives, one of them on an item another user also holds; raise n_users or n_items, or lower "
            "n_negatives"
        )
    va_u, va_i, va_y = _triples(val_u[:n_val], val_i[:n_val], negs[: n_val * n_negatives].reshape(n_val, n_negatives))
    train_u, train_i = pos_u[~held], pos_i[~held]
    n_eval = min(len(train_u), EVAL_TRIPLES // group)
    pick = rng.choice(len(train_u), size=n_eval, replace=False)
    # the evaluation negatives: one draw of n_eval items per negative slot, slot by slot
    ev_negs = np.empty((n_negatives, n_eval), dtype=np.int64)
    for j in range(n_negatives):
        ev_negs[j] = rng.integers(n_items, size=n_eval)
    ev_u, ev_i, ev_y = _triples(train_u[pick], train_i[pick], ev_negs.T)
    as_int = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
    return (
        as_int(train_u), as_int(train_i),
        (as_int(ev_u), as_int(ev_i), np.ascontiguousarray(ev_y)),
        (as_int(va_u), as_int(va_i), np.ascontiguousarray(va_y)),
    )
