"""Synthetic implicit feedback: each user's positives are the items of largest Gumbel keys.

:func:`synthetic_positives` draws the latent factors and popularity of an instance and, per
user, keeps the ``n_u`` items of largest key log π_i + signal · u*·v*_i + G_ui (Gumbel top-n_u,
without replacement). The draws are NumPy's own, in NumPy's order, and the compiled selection
(:func:`_top_keys_streamed`, :func:`_top_row`) prunes items with bounds that provably never
change the result, so an instance is the same, to the bit, as the plain NumPy code's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from lrgym.tasks import pcg64
from lrgym.tasks.workspace import scratch

if TYPE_CHECKING:
    from lrgym.tasks.recsys.family import RecsysSpec


def synthetic_positives(spec: RecsysSpec, rng: np.random.Generator):
    """Positive pairs (u, i) of the latent-factor model with Zipf popularity (module docstring).

    Per user, the ``n_u`` items of largest key log π_i + signal · u*·v*_i + G_ui (G standard
    Gumbel), in decreasing order of key. The NumPy draws are those of the original NumPy code
    (``tests/references.py: synthetic_positives_numpy``), in the same order; the keys and the
    top-n_u selection run compiled (:func:`_top_keys_streamed`), with NumPy's own arithmetic so
    that the instance is the same, to the bit (``tests/tasks/test_recsys_data.py``). The Gumbel
    noise is NumPy's ``gumbel``, −log(−log(1 − u)) of the doubles u of ``rng.random``: those are
    drawn inside the compiled loop, one user row at a time, from ``rng``'s own PCG64 stream
    (:mod:`lrgym.tasks.pcg64`), which leaves ``rng`` where ``rng.random`` would have (another bit
    generator's by ``rng.random``). For a u = 0, where NumPy's ``gumbel`` draws again, the chunk
    of users is redone with ``rng.gumbel``. The factors' normals are drawn compiled as well.
    """
    n_u, n_i, k = spec.n_users, spec.n_items, spec.true_rank
    U = pcg64.standard_normal(rng, (n_u, k)) / k**0.25  # rng.standard_normal's doubles, drawn compiled
    V = pcg64.standard_normal(rng, (n_i, k)) / k**0.25
    log_pop = -spec.zipf * np.log1p(rng.permutation(n_i).astype(np.float64))
    cap = max(3, n_i // 4)
    counts = np.clip(np.maximum(3, rng.poisson(spec.interactions, size=n_u)), 1, cap).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    users = np.empty(offsets[-1], dtype=np.int64)
    items = np.empty(offsets[-1], dtype=np.int64)
    chunk = max(1, 2_000_000 // n_i)
    signal = float(spec.signal)
    for start in range(0, n_u, chunk):
        stop = min(n_u, start + chunk)
        # U[start:stop] @ V.T, written into reused memory (lrgym.tasks.workspace: no fresh pages)
        scores = np.matmul(U[start:stop], V.T, out=scratch("recsys.scores", (stop - start, n_i)))
        if pcg64.is_pcg64(rng.bit_generator):
            stream, before = pcg64.open_stream(rng.bit_generator)
            done = _top_keys_streamed(log_pop, signal, scores, stream, counts, offsets, start, users, items)
            if done:
                pcg64.close_stream(rng.bit_generator, stream, before)
        else:  # another bit generator: its own doubles
            before = rng.bit_generator.state
            done = _top_keys(log_pop, signal, scores, rng.random((stop - start, n_i)), True, counts, offsets, start,
                             users, items)
            if not done:
                rng.bit_generator.state = before
        if not done:  # a u = 0 draw (rng is back at the chunk's start): NumPy's gumbel would have drawn again
            noise = rng.gumbel(size=(stop - start, n_i))
            _top_keys(log_pop, signal, scores, noise, False, counts, offsets, start, users, items)
    return users, items


#: the upper bound of g in :func:`_gumbel_upper` is raised by this much, far above its rounding
#: (≈ 1e-7 at most, from 1 − u for u ≥ 2⁻³⁰, and ≈ 1e-14 from the logarithms and the sums)
_G_BOUND_MARGIN = 1e-4
#: the bit pattern of 2⁻³⁰: below it (probability 1e-9 per draw) the bound is +inf
_TINY_U_WORD = (1023 - 30) << 52
#: log2(1 + m) ≥ m + ``_LOG2_BEND`` · m(1 − m) on [0, 1) (the tightest constant is
#: 1 − 1/(2 ln 2) = 0.278652…, the slope ratio at m → 1)
_LOG2_BEND = 0.2786
#: log(1 + u/2) ≥ ``_HALF_U_CHORD`` · u on [0, 1] (the chord of the concave side, log 1.5 = 0.405465…)
_HALF_U_CHORD = 0.405
_LN2 = math.log(2.0)


@numba.njit(cache=True, nogil=True, inline="always")
def _gumbel_upper(u, word):
    """An upper bound, without logarithms, of g(u) = 0 − 1·log(−log(1 − u)) as the keys compute
    it, for the uniform double u whose bits are ``word`` (+inf for u < 2⁻³⁰); branch-free, so
    that the bounds pass vectorises.

    −log(1 − u) = u + u²/2 + u³/3 + … ≥ u(1 + u/2), so g ≤ −log u − log(1 + u/2) ≤ −log u −
    0.405·u. For −log u = −ln 2 · log2 u, the bit pattern gives log2 u nearly: with
    f = word·2⁻⁵² − 1023 = e + m (u = 2ᵉ(1 + m), m ∈ [0, 1)), log2 u = e + log2(1 + m) ≥
    f + 0.2786·m(1 − m). The margin covers rounding: int64 → double of ``word`` (2⁻⁴⁴ in f),
    1 − u (exact for NumPy's uniforms, multiples of 2⁻⁵³; for any double u ≥ 2⁻³⁰ it moves g by
    at most 2⁻⁵³/u ≤ 2⁻²³), the two logarithms and the sums (≈ 1e-14)."""
    f = float(word) * 2.0**-52 - 1023.0
    m = f - math.floor(f)
    log2_u = f + _LOG2_BEND * (m * (1.0 - m))
    bound = _G_BOUND_MARGIN - _LN2 * log2_u - _HALF_U_CHORD * u
    return bound if word >= _TINY_U_WORD else np.inf


@numba.njit(cache=True, nogil=True, inline="always")
def _gumbel(u):
    """NumPy's Gumbel (loc 0, scale 1) from its uniform double u, the same operations."""
    return 0.0 - 1.0 * math.log(-math.log(1.0 - u))


@numba.njit(cache=True, nogil=True)
def _at_least_c_above(lows, c, hist):
    """A value t with at least c of ``lows`` ≥ t, near the c-th largest (−inf when there is none
    or the finite values do not decide it): one counting pass into ``len(hist)`` equal bins
    between the smallest and largest finite value, then the lower edge (less half a bin, which
    covers rounding) of the highest bin that brings the count from the top to c. One exception:
    when the finite values are all equal it returns that value without counting, even if fewer
    than c values reach it (main's :func:`_top_row` trusted t there and could keep fewer than
    c items on such rows; today's only takes t as an estimate and checks its cutoff against the
    exact keys)."""
    top = -np.inf
    bottom = np.inf
    above = 0  # +inf values: above any t
    for v in lows:
        if math.isfinite(v):
            top = max(top, v)
            bottom = min(bottom, v)
        elif v > 0:
            above += 1
    if above >= c or not bottom <= top:
        return -np.inf
    n_bins = hist.shape[0]
    if top == bottom:
        return bottom
    scale = n_bins / (top - bottom)
    hist[:] = 0
    for v in lows:
        if math.isfinite(v):
            hist[min(n_bins - 1, int((v - bottom) * scale))] += 1
    count = above
    for b in range(n_bins - 1, -1, -1):
        count += hist[b]
        if count >= c:
            return bottom + (b - 0.5) / scale
    return -np.inf


#: bins of :func:`_at_least_c_above`
_THRESHOLD_BINS = 128


#: the first cutoff of :func:`_top_row` comes from the maxima of the upper bounds in
#: ``_GROUPS_PER_KEPT`` · c groups of items (at most one group per item)
_GROUPS_PER_KEPT = 4
#: candidates up to this many are sorted by insertion, more by a merge sort
_INSERTION_SORT_MAX = 64


@numba.njit(cache=True, nogil=True)
def _sort_candidates(cand_key, cand_item, n):
    """Sort the first n candidates by key, largest first, stably (they come in increasing item
    order, so equal keys keep the lower item first): by insertion for few, else a merge sort."""
    if n <= _INSERTION_SORT_MAX:
        for a in range(1, n):
            key = cand_key[a]
            item = cand_item[a]
            b = a
            while b > 0 and cand_key[b - 1] < key:
                cand_key[b] = cand_key[b - 1]
                cand_item[b] = cand_item[b - 1]
                b -= 1
            cand_key[b] = key
            cand_item[b] = item
        return
    order = np.argsort(-cand_key[:n], kind="mergesort")
    keys = cand_key[:n][order]
    its = cand_item[:n][order]
    cand_key[:n] = keys
    cand_item[:n] = its


#: the first cutoff of :func:`_top_row` lies this far below its estimate of the c-th largest
#: upper bound (the bounds of the top items overshoot their keys by up to ≈ 0.1)
_CUTOFF_SLACK = 0.1
#: candidates up to this many are ranked by counting (:func:`_place_candidates`), more sorted
_RANK_MAX = 128


@numba.njit(cache=True, nogil=True)
def _key_bounds(log_pop, signal, score_row, noise_row, uniform, ub):
    """ub[j] ≥ key j for every item, one branch-free loop (:func:`_gumbel_upper`); the keys
    themselves when ``uniform`` is False. Returns False when ``uniform`` and a u is 0."""
    n_i = score_row.shape[0]
    if not uniform:
        for j in range(n_i):
            ub[j] = log_pop[j] + signal * score_row[j] + noise_row[j]
        return True
    words = noise_row.view(np.int64)
    zero = False
    for j in range(n_i):
        word = words[j]
        ub[j] = (log_pop[j] + signal * score_row[j]) + _gumbel_upper(noise_row[j], word)
        zero |= word == 0
    return not zero


@numba.njit(cache=True, nogil=True)
def _group_maxima(values, n_groups, group_max):
    """group_max[g] = the largest of values[j] for j ≡ g (mod n_groups), a block at a time."""
    n = values.shape[0]
    group_max[:n_groups] = -np.inf
    for j0 in range(0, n, n_groups):
        m = min(n_groups, n - j0)
        block_max = group_max[:m]
        block = values[j0 : j0 + m]
        for g in range(m):
            block_max[g] = block[g] if block[g] > block_max[g] else block_max[g]


#: lanes of :func:`_compress_not_below` (8 doubles: one AVX-512 register)
_LANES = 8


@intrinsic
def _compress_not_below(typingctx, values, j0, cutoff, out, n):
    """Of the 8 indices j0 … j0 + 7, those j with ``not values[j] < cutoff``, in increasing
    order, into out[n:]; returns how many (LLVM's ``masked.compressstore``: one compare and one
    ``vpcompressq`` with AVX-512, element by element elsewhere). Only the kept lanes are
    written. The caller keeps j0 + 8 ≤ len(values) and n + 8 ≤ len(out) or fewer kept."""
    if not (isinstance(values, types.Array) and values.dtype == types.float64 and values.layout == "C"
            and isinstance(out, types.Array) and out.dtype == types.int64 and out.layout == "C"):
        return None

    def codegen(context, builder, sig, args):
        vals_arr = context.make_array(sig.args[0])(context, builder, args[0])
        out_arr = context.make_array(sig.args[3])(context, builder, args[3])
        start, cut, count = args[1], args[2], args[4]
        i32, i64 = ir.IntType(32), ir.IntType(64)
        doubles, indices = ir.VectorType(ir.DoubleType(), _LANES), ir.VectorType(i64, _LANES)
        mask_type = ir.VectorType(ir.IntType(1), _LANES)
        splat_order = ir.Constant(ir.VectorType(i32, _LANES), [0] * _LANES)

        def splat(vector_type, x):
            first = builder.insert_element(ir.Constant(vector_type, ir.Undefined), x, ir.Constant(i32, 0))
            return builder.shuffle_vector(first, ir.Constant(vector_type, ir.Undefined), splat_order)

        block = builder.load(builder.bitcast(builder.gep(vals_arr.data, [start]), doubles.as_pointer()), align=8)
        keep = builder.fcmp_unordered(">=", block, splat(doubles, cut))  # not (v < cutoff): NaN kept, as before
        js = builder.add(splat(indices, start), ir.Constant(indices, list(range(_LANES))))
        store = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [indices, i64.as_pointer(), mask_type]),
            "llvm.masked.compressstore.v8i64")
        builder.call(store, [js, builder.gep(out_arr.data, [count]), keep])
        popcount = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(_LANES), [ir.IntType(_LANES)]), f"llvm.ctpop.i{_LANES}")
        return builder.zext(builder.call(popcount, [builder.bitcast(keep, ir.IntType(_LANES))]), i64)

    return types.int64(values, types.int64, types.float64, out, types.int64), codegen


@numba.njit(cache=True, nogil=True)
def _exact_candidates(log_pop, signal, score_row, noise_row, uniform, ub, cutoff, cand_key, cand_item):
    """The items whose bound is not below ``cutoff``, in increasing order, into cand_item, and
    their exact keys into cand_key (the expression of NumPy's code); returns their number.
    The items are gathered branch-free, 8 at a time (:func:`_compress_not_below`), the last
    few one by one (every item is written, the count moves on survivors)."""
    n_i = score_row.shape[0]
    n = 0
    j0 = 0
    while j0 + _LANES <= n_i:
        n += _compress_not_below(ub, j0, cutoff, cand_item, n)
        j0 += _LANES
    for j in range(j0, n_i):
        cand_item[n] = j
        n += not (ub[j] < cutoff)
    for q in range(n):
        j = cand_item[q]
        g = _gumbel(noise_row[j]) if uniform else noise_row[j]
        cand_key[q] = (log_pop[j] + signal * score_row[j]) + g
    return n


@numba.njit(cache=True, nogil=True)
def _place_candidates(cand_key, cand_item, n, c, user, o, users, items, rank):
    """The c candidates of largest key, largest first (equal keys: the earlier candidate
    first), into users / items[o : o + c]; returns the c-th largest key (needs n ≥ c).

    Up to ``_RANK_MAX`` candidates, by counting: candidate a goes to place rank[a] = the number
    of larger keys, a loop over the candidates b with the a's in vector lanes. Distinct keys
    make the ranks 0 … n − 1, whose sum is n(n − 1)/2; equal keys share a rank and make it
    smaller, and then (as for more candidates) :func:`_sort_candidates` orders them: either
    way the order of a stable sort by decreasing key."""
    if n <= _RANK_MAX:
        lanes = (n + 7) & ~7  # whole vectors of a's (cand_key has room; the extra lanes are not read)
        keys = cand_key[:lanes]
        counts = rank[:lanes]
        counts[:] = 0
        for b in range(n):
            key_b = cand_key[b]
            for a in range(lanes):
                counts[a] += key_b > keys[a]
        total = 0
        for a in range(n):
            total += counts[a]
        if total == n * (n - 1) // 2:
            kth = np.inf
            for a in range(n):
                r = counts[a]
                if r < c:
                    users[o + r] = user
                    items[o + r] = cand_item[a]
                    kth = min(kth, cand_key[a])
            return kth
    _sort_candidates(cand_key, cand_item, n)
    for q in range(c):
        users[o + q] = user
        items[o + q] = cand_item[q]
    return cand_key[c - 1]


@numba.njit(cache=True, nogil=True)  # no fastmath: the keys must round exactly as NumPy's expression does
def _top_row(log_pop, signal, score_row, noise_row, uniform, c, user, o, users, items, ub, group_max, hist,
             cand_key, cand_item, rank):
    """One user's row of :func:`_top_keys`: the c items of largest key, largest first (equal
    keys: lower item first), into users / items[o : o + c] (``user`` in users).

    key = (log_pop + signal · score) + g, g = 0 − 1·log(−log(1 − u)) (NumPy's Gumbel with
    loc 0, scale 1, from its uniform double u = ``noise_row[j]``) or g = ``noise_row[j]``
    itself when ``uniform`` is False.

    Why the result is the same bits however items are pruned: the row's answer is the c largest
    exact keys, and every key that is computed is computed exactly (NumPy's expression); an
    item may be skipped only when its key is certainly below the c-th largest key. Here:

    1. upper bounds ub ≥ key of every item, without logarithms (:func:`_key_bounds`), and an
       estimate of the c-th largest bound: the items fall into G = min(n_i, 4c) groups (item
       j in group j mod G) and a histogram of the groups' maxima gives t with at least c
       maxima ≥ t (:func:`_at_least_c_above`). The cutoff is t − ``_CUTOFF_SLACK``.
    2. the exact keys of the items with ub ≥ cutoff (≈ 1.2 c), ranked (:func:`_place_candidates`).
       Every skipped item has key ≤ ub < cutoff (ub = fl(base + bound) with the computed bound
       ≥ the computed g, and rounding is monotone, so ub ≥ fl(base + g) = the key, exactly; with
       ``uniform`` False ub is the key). If the c-th largest candidate key is ≥ cutoff,
       the skipped keys are below it, so the candidates hold the row's c largest keys (ties
       included) and their first c are the row's. Otherwise (≈ 7 % of train rows) step 2 runs
       again with the cutoff lowered to that c-th key, which then holds by construction. No
       count of bounds enters the proof: a cutoff that is too high costs a second step 2, one
       that is too low costs logarithms, neither changes the result.

    Returns False, writing nothing, when ``uniform`` and a u is 0 (NumPy's ``gumbel`` would
    have drawn again: the caller redraws), else True.
    """
    n_i = score_row.shape[0]
    if not _key_bounds(log_pop, signal, score_row, noise_row, uniform, ub):
        return False  # u = 0: the caller redraws with NumPy's gumbel
    n_groups = min(n_i, _GROUPS_PER_KEPT * c)
    _group_maxima(ub, n_groups, group_max)
    cutoff = _at_least_c_above(group_max[:n_groups], c, hist) - _CUTOFF_SLACK
    n = _exact_candidates(log_pop, signal, score_row, noise_row, uniform, ub, cutoff, cand_key, cand_item)
    kth = _place_candidates(cand_key, cand_item, n, c, user, o, users, items, rank) if n >= c else -np.inf
    if kth < cutoff:  # a skipped item could still rank: lower the cutoff to the c-th key found
        n = _exact_candidates(log_pop, signal, score_row, noise_row, uniform, ub, kth, cand_key, cand_item)
        _place_candidates(cand_key, cand_item, n, c, user, o, users, items, rank)
    return True


@numba.njit(cache=True, nogil=True)
def _row_buffers(n_i):
    """Scratch of :func:`_top_row` for rows of n_i items: upper bounds, group maxima, histogram,
    candidates' keys (whole vectors of 8 more), items and ranks."""
    return (np.empty(n_i), np.empty(n_i), np.empty(_THRESHOLD_BINS, dtype=np.int64), np.empty(n_i + 8),
            np.empty(n_i, dtype=np.int64), np.empty(n_i + 8, dtype=np.int64))


@numba.njit(cache=True, nogil=True)
def _top_keys(log_pop, signal, scores, noise, uniform, counts, offsets, start, users, items):
    """For each row r (user start + r): the counts[user] items of largest key, largest first
    (equal keys: lower item first), into users / items at offsets[user] (:func:`_top_row`, the
    noise of row r in ``noise[r]``). Returns False, leaving the work unfinished, when ``uniform``
    and a u is 0, else True."""
    n_rows, n_i = scores.shape
    ub, group_max, hist, cand_key, cand_item, rank = _row_buffers(n_i)
    for r in range(n_rows):
        user = start + r
        if not _top_row(log_pop, signal, scores[r], noise[r], uniform, counts[user], user, offsets[user], users,
                        items, ub, group_max, hist, cand_key, cand_item, rank):
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _top_keys_streamed(log_pop, signal, scores, stream, counts, offsets, start, users, items):
    """:func:`_top_keys` with uniforms drawn row by row from a PCG64 ``stream``
    (:func:`lrgym.tasks.pcg64.fill_uniforms`: the doubles ``rng.random`` gives, in the same order,
    so the noise never leaves the cache). Returns False when a u is 0 (the stream has then moved
    past it: the caller restarts from the generator, which a stream does not move)."""
    n_rows, n_i = scores.shape
    ub, group_max, hist, cand_key, cand_item, rank = _row_buffers(n_i)
    noise_row = np.empty(n_i)
    for r in range(n_rows):
        user = start + r
        pcg64.fill_uniforms(stream, noise_row)
        if not _top_row(log_pop, signal, scores[r], noise_row, True, counts[user], user, offsets[user], users,
                        items, ub, group_max, hist, cand_key, cand_item, rank):
            return False
    return True
