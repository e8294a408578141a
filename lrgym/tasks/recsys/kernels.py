"""The recommender's compiled training and evaluation: scores, log-losses, sparse row gradients
and their updates, minibatch draws, and :func:`run_recsys`, the kernel of one env step.

The model, the loss and the sparse-update rules are described in :mod:`lrgym.tasks.recsys`.
"""

from __future__ import annotations

import math

import numba

from lrgym.rng import skip_ahead, uniform_ahead
from lrgym.optim import H_CLIP_NORM, H_NORMALIZE, H_WEIGHT_DECAY, clip_coefficient
from lrgym.tasks.base import FAST_MATH, S_TRAIN_LOSS, S_VAL_LOSS, S_VAL_METRIC
from lrgym.tasks.prefetch import prefetch
from lrgym.tasks.stats import add_gradient_pair, finish_stats, is_bad, loss_moments
from lrgym.tasks.updates import apply_rule_rows
from lrgym.tasks.vmath import vexp, vlog1p_unit

#: the optimizer descends the minibatch's *summed* loss Σ_t ℓ_t (per-triple SGD, as in classical
#: matrix factorisation), not its mean: a row's gradient does not shrink as the batch grows, and
#: the best constant SGD LR of the instances lies around 0.03 – 0.5 (see the module docstring)
GRADIENT_SCALE = 1.0
# slots of ``prev_meta``, the previous sparse gradient's bookkeeping (record_sparse_gradient_pair)
PREV_N_ROWS = 0   # how many rows the previous gradient touched
PREV_NORM_SQ = 1  # its squared norm ‖g_prev‖²
PREV_BUFFER = 2   # which of the two gradient buffers (0 or 1) holds it; the other takes the next one
N_PREV_META = 3

# The kernels an update and an evaluation call are compiled without Numba's reference counting
# (``_nrt=False``; they allocate nothing): with it, every array argument of every call costs an
# atomic increment and decrement of its reference count, ≈ 100 per update, and each atomic operation is a full
# memory barrier that stalls the loads in flight around it (≈ 6.5 % of an update in ``perf``).
# The arrays are owned by the caller for the whole call, so no count is needed.


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def triple_scores(params, width, v_off, tri_u, tri_i, n, scores):
    """s = p_u · q_i + b_u + b_i for the first n triples (rows are (factors, bias)).

    The parameters are indexed as one (rows, width) table ``P`` (user u is row u, item i row
    n_users + i), made once per call: a row slice ``params[a : a + r]`` per triple would be a
    new array view, i.e. an atomic reference-count increment and decrement per triple, which
    cost more than the 16-term dot product itself.
    """
    r = width - 1
    n_users = v_off // width
    P = params.reshape((params.shape[0] // width, width))
    for t in range(n):
        ru = tri_u[t]
        ri = n_users + tri_i[t]
        s = 0.0
        for c in range(r):
            s += P[ru, c] * P[ri, c]
        scores[t] = s + P[ru, r] + P[ri, r]


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def logistic_losses(scores, tri_y, n, losses, dscores, want_grad):
    """ℓ = softplus((1 − 2y) s) into ``losses`` and, if ``want_grad``, ∂ℓ/∂s = σ(s) − y.

    Both from one e = exp(−|s|): softplus(x) = max(x, 0) + log1p(e) for x = ±s, and
    σ(s) = 1 / (1 + e) for s ≥ 0, e / (1 + e) otherwise.
    """
    if not want_grad:
        for t in range(n):
            s = scores[t]
            x = s - 2.0 * tri_y[t] * s
            losses[t] = (x if x > 0.0 else 0.0) + vlog1p_unit(vexp(-(s if s >= 0.0 else -s)))
        return
    for t in range(n):
        s = scores[t]
        y = tri_y[t]
        x = s - 2.0 * y * s
        e = vexp(-(s if s >= 0.0 else -s))
        losses[t] = (x if x > 0.0 else 0.0) + vlog1p_unit(e)
        inv = 1.0 / (1.0 + e)
        dscores[t] = (inv if s >= 0.0 else e * inv) - y


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def gather_row_gradients(params, width, n_users, tri_u, tri_i, dscores, n, scale, row_slot, rows, starts, G, uacc,
                         prev_slot, both):
    """Sum ``scale``·∂ℓ/∂row over the n triples into one row of ``G`` per touched row.

    ∂ℓ/∂p_u = ℓ'·q_i, ∂ℓ/∂q_i = ℓ'·p_u, ∂ℓ/∂b_u = ∂ℓ/∂b_i = ℓ' (ℓ' = ∂ℓ/∂s, from ``dscores``).
    Rows are numbered globally: user u is row u, item i is row n_users + i (row k starts at
    ``k · width`` in ``params``). ``row_slot`` (−1 = untouched) maps a row to its slot in ``G``;
    ``rows[k]`` / ``starts[k]`` are slot k's row and flat offset. Consecutive triples of the
    same user (a positive and its negatives) are summed in ``uacc`` before touching the user's
    row. The touched rows that the previous gradient touched too (``prev_slot``: its row map,
    −1 = untouched) are listed as pairs (slot, its previous slot) in ``both[0]``, ``both[1]``,
    without a branch, as they get their slot. Returns (touched rows, listed pairs).

    Everything is indexed as 2-D tables (``P[row, c]``, ``G[slot, c]``), never through per-row
    slices: each slice is an array view with an atomic reference-count increment and decrement,
    ≈40 ns per triple, 4× the arithmetic (see :func:`triple_scores`).
    """
    r = width - 1
    P = params.reshape((params.shape[0] // width, width))
    n_rows = 0
    n_both = 0
    t = 0
    while t < n:
        ru = tri_u[t]
        for c in range(width):
            uacc[c] = 0.0
        while t < n and tri_u[t] == ru:
            ri = n_users + tri_i[t]
            d = dscores[t] * scale
            for c in range(r):
                uacc[c] += d * P[ri, c]
            uacc[r] += d
            slot = row_slot[ri]
            if slot < 0:  # first touch: a new slot
                slot = n_rows
                n_rows += 1
                row_slot[ri] = slot
                rows[slot] = ri
                starts[slot] = ri * width
                j = prev_slot[ri]
                both[0, n_both] = slot
                both[1, n_both] = j
                n_both += 1 if j >= 0 else 0
                for c in range(r):
                    G[slot, c] = d * P[ru, c]
                G[slot, r] = d
            else:
                for c in range(r):
                    G[slot, c] += d * P[ru, c]
                G[slot, r] += d
            t += 1
        slot = row_slot[ru]
        if slot < 0:
            slot = n_rows
            n_rows += 1
            row_slot[ru] = slot
            rows[slot] = ru
            starts[slot] = ru * width
            j = prev_slot[ru]
            both[0, n_both] = slot
            both[1, n_both] = j
            n_both += 1 if j >= 0 else 0
            for c in range(width):
                G[slot, c] = uacc[c]
        else:
            for c in range(width):
                G[slot, c] += uacc[c]
    return n_rows, n_both


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def sparse_gradient_pair_sums(G, n_rows, prev_G, both, n_both, colsum):
    """(‖g‖², g·g_prev) of a gradient kept as rows, ``G[k]`` for k < ``n_rows`` (the first
    rows of a C-contiguous ``G``), and the previous one, ``prev_G``; the ``n_both`` rows both
    touch are ``G[both[0, m]]`` and ``prev_G[both[1, m]]`` (:func:`gather_row_gradients`).
    ``colsum`` (length ≥ width) is scratch.

    Both are summed in the kernels' relaxed order (:data:`~lrgym.tasks.base.FAST_MATH`, as a
    hand-written ``gg += g * g`` is), in long vectorised loops rather than a short sum per row:
    ‖g‖² is one sum over the n_rows · width contiguous values; g·g_prev adds, column by column,
    the products of the listed rows into ``colsum`` (elementwise across rows), then sums the
    columns. Reproducible to the bit on one CPU kind, like every kernel sum. (Until 2026-12-02
    both were summed row by row with the running total entering each row's vectorised sum in
    its first lane, a serial chain of ≈ 30 cycles per row, after a search for each row in the
    previous gradient: ≈ 10 % of an update. The features ‖g‖, g·g_prev and cos differ from that
    order by rounding only.)
    """
    width = G.shape[1]
    flat = G.reshape(G.shape[0] * width)
    gg = 0.0
    for q in range(n_rows * width):
        gg += flat[q] * flat[q]
    for c in range(width):
        colsum[c] = 0.0
    for m in range(n_both):
        k = both[0, m]
        j = both[1, m]
        for c in range(width):
            colsum[c] += G[k, c] * prev_G[j, c]
    gp = 0.0
    for c in range(width):
        gp += colsum[c]
    return gg, gp


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def record_sparse_gradient_pair(
    G, n_rows, prev_G, prev_rows, prev_slot, both, n_both, prev_meta, have_prev, acc, colsum
):
    """:func:`lrgym.tasks.stats.record_gradient_pair` for a gradient that lives on rows.

    The previous gradient is kept compactly, like the current one: row ``prev_rows[k]`` of it
    is ``prev_G[k]`` and ``prev_slot`` maps a row to k (−1: zero there); ``prev_meta`` holds
    its row count and squared norm (slots ``PREV_N_ROWS``, ``PREV_NORM_SQ``). Only ‖g‖ and
    g·g_prev are needed (:func:`sparse_gradient_pair_sums`; ``colsum`` is its scratch), so a
    dense (P,) copy would only add scattered memory traffic. Accumulates ‖g‖, g·g_prev, cos
    into ``acc``, in O(touched rows).

    Nothing is copied: the caller keeps two gradient buffers (:func:`run_recsys`) and the
    current one — (``G``, ``rows``) with the row map :func:`gather_row_gradients` filled — simply
    becomes the previous one. This function clears ``prev_slot`` (the outgoing previous
    gradient's row map, all −1 again, ready to be the next update's map) and records g's row
    count and squared norm in ``prev_meta``; the caller flips ``prev_meta[PREV_BUFFER]``.
    """
    gg, gp = sparse_gradient_pair_sums(G, n_rows, prev_G, both, n_both, colsum)
    for k in range(int(prev_meta[PREV_N_ROWS])):
        prev_slot[prev_rows[k]] = -1
    add_gradient_pair(gg, gp, prev_meta[PREV_NORM_SQ], have_prev, acc)
    prev_meta[PREV_N_ROWS] = n_rows
    prev_meta[PREV_NORM_SQ] = gg


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def rows_sq_norm(x, starts, n_rows, width, v_off, table):
    """Σ x² over the touched rows of one table (0 users, 1 items), or of both (table −1)."""
    total = 0.0
    for k in range(n_rows):
        if table >= 0 and (starts[k] >= v_off) != (table == 1):
            continue
        for c in range(starts[k], starts[k] + width):
            total += x[c] * x[c]
    return total


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def transform_rows(params, G, starts, n_rows, v_off, hyper, table_sq):
    """``optim.transform_gradient`` for a row-sparse gradient (see the module docstring)."""
    width = G.shape[1]
    clip = hyper[H_CLIP_NORM]
    if clip > 0.0:
        g_sq = 0.0
        for k in range(n_rows):
            for c in range(width):
                g_sq += G[k, c] * G[k, c]
        scale = clip_coefficient(clip, math.sqrt(g_sq))
        if scale < 1.0:
            for k in range(n_rows):
                for c in range(width):
                    G[k, c] *= scale
    wd = hyper[H_WEIGHT_DECAY]
    if wd != 0.0:
        for k in range(n_rows):
            for c in range(width):
                G[k, c] += wd * params[starts[k] + c]
    mode = int(hyper[H_NORMALIZE])
    if mode == 1:
        norm = 0.0
        for k in range(n_rows):
            for c in range(width):
                norm += G[k, c] * G[k, c]
        if norm > 0.0:
            inv = 1.0 / math.sqrt(norm)
            for k in range(n_rows):
                for c in range(width):
                    G[k, c] *= inv
    if mode == 2:
        for table in range(2):
            g_sq = 0.0
            for k in range(n_rows):
                if (starts[k] >= v_off) == (table == 1):
                    for c in range(width):
                        g_sq += G[k, c] * G[k, c]
            if g_sq > 0.0:
                p_norm = math.sqrt(max(table_sq[table], 0.0))
                ratio = (p_norm if p_norm > 0.0 else 1.0) / math.sqrt(g_sq)
                for k in range(n_rows):
                    if (starts[k] >= v_off) == (table == 1):
                        for c in range(width):
                            G[k, c] *= ratio


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def mean_logloss(params, width, v_off, tri_u, tri_i, tri_y, scores, losses, dscores):
    n = tri_u.shape[0]
    triple_scores(params, width, v_off, tri_u, tri_i, n, scores)
    logistic_losses(scores, tri_y, n, losses, dscores, False)
    total = 0.0
    for t in range(n):
        total += losses[t]
    return total / n


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH)
def sampled_auc(scores, n_groups, group):
    """Fraction of (positive, negative) pairs ranked correctly; groups = [pos, k negs], ties ½.

    Branch-free (a comparison's outcome is a coin flip early in training: as branches they were
    mispredicted about half the time) and summed in any order: every partial sum is a multiple
    of ½ below 2⁵³, so it is exact and the fast-math reassociation cannot change a bit."""
    good = 0.0
    for g in range(n_groups):
        sp = scores[g * group]
        for j in range(1, group):
            sn = scores[g * group + j]
            good += (1.0 if sp > sn else 0.0) + (0.5 if sp == sn else 0.0)
    return good / (n_groups * (group - 1))


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def evaluate_recsys(params, width, v_off, ev_u, ev_i, ev_y, va_u, va_i, va_y, group, scores, losses, dscores, stats):
    stats[S_TRAIN_LOSS] = mean_logloss(params, width, v_off, ev_u, ev_i, ev_y, scores, losses, dscores)
    stats[S_VAL_LOSS] = mean_logloss(params, width, v_off, va_u, va_i, va_y, scores, losses, dscores)
    stats[S_VAL_METRIC] = sampled_auc(scores, va_u.shape[0] // group, group)


@numba.njit(cache=True, nogil=True, _nrt=False, error_model="numpy")
def draw_minibatch(rng, pos_u, pos_i, n_items, group, tri_u, tri_i, tri_y, uniforms):
    """Fill the triples: per positive, ``randint(n_train_positives)``, then k × ``randint(n_items)``.

    Bit-identical to that sequence of :func:`lrgym.rng.randint` calls (module docstring), but
    draw t (the t-th triple's) is computed from its own SplitMix64 state
    (:func:`lrgym.rng.uniform_ahead`, as in :func:`lrgym.rng.draw_indices`), so the uniforms come from one vectorised loop
    into ``uniforms`` (length ≥ the number of triples) instead of a serial chain of draws.

    Memory: the positives are scattered reads of ``pos_u`` / ``pos_i`` (two arrays of the size of
    the training set, larger than the core's caches), the one part of an update that waits on
    memory. The same counter-based draws give the *next* minibatch's positives now, so their cache
    lines are prefetched (:func:`lrgym.tasks.prefetch.prefetch`) at the end and arrive while the
    rest of this update runs; the positives are read in a loop of their own, whose loads do not
    wait for each other. Neither changes a value.
    """
    n = tri_u.shape[0]
    s0 = rng[0]
    for t in range(n):
        uniforms[t] = uniform_ahead(s0, t + 1)
    s_next = skip_ahead(s0, n)
    rng[0] = s_next
    n_pos = pos_u.shape[0]
    for base in range(0, n, group):
        p = int(uniforms[base] * n_pos)
        tri_u[base] = pos_u[p]
        tri_i[base] = pos_i[p]
    for base in range(0, n, group):
        u = tri_u[base]
        tri_y[base] = 1.0
        for j in range(base + 1, base + group):
            tri_u[j] = u
            tri_i[j] = int(uniforms[j] * n_items)
            tri_y[j] = 0.0
    for base in range(0, n, group):  # the next minibatch's positives (its draws base + 1)
        p = int(uniform_ahead(s_next, base + 1) * n_pos)
        prefetch(pos_u, p)
        prefetch(pos_i, p)


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def run_recsys(
    params, slots, step, rng,
    tri_u, tri_i, tri_y, scores, losses, dscores, row_slot, rows, starts, G, uacc, both,
    prev_meta, table_sq, acc, ev_scores, ev_losses, ev_dscores,
    width, v_off, pos_u, pos_i, n_items, n_negatives,
    ev_u, ev_i, ev_y, va_u, va_i, va_y,
    lr, n_updates, opt, hyper, loss_cap, stats,
):
    """``n_updates`` sparse minibatch updates with negative sampling, then evaluation.

    Two gradient buffers — ``G[b]``, ``rows[b]``, ``row_slot[b]`` for b = 0, 1 — alternate:
    an update gathers its gradient into buffer ``1 − prev_meta[PREV_BUFFER]`` while the other
    still holds the previous update's raw gradient for g·g_prev
    (:func:`record_sparse_gradient_pair`; the gather lists the rows both touch in ``both``); then
    the roles swap, without a copy. With a gradient
    transform (clipping, weight decay, normalisation) the outgoing buffer, no longer needed,
    takes the transformed copy the rule applies, so the raw gradient stays the next "previous".
    """
    n_users = v_off // width
    group = 1 + n_negatives
    n_triples = tri_u.shape[0]
    scale = GRADIENT_SCALE
    layerwise = int(hyper[H_NORMALIZE]) == 2
    plain = hyper[H_CLIP_NORM] <= 0.0 and hyper[H_WEIGHT_DECAY] == 0.0 and int(hyper[H_NORMALIZE]) == 0
    if layerwise:
        table_sq[0] = 0.0
        table_sq[1] = 0.0
        for j in range(v_off):
            table_sq[0] += params[j] * params[j]
        for j in range(v_off, params.shape[0]):
            table_sq[1] += params[j] * params[j]
    acc[:] = 0.0
    diverged = False
    done = 0
    for _ in range(n_updates):
        old = int(prev_meta[PREV_BUFFER])
        cur = 1 - old
        G_cur = G[cur]
        G_old = G[old]
        draw_minibatch(rng, pos_u, pos_i, n_items, group, tri_u, tri_i, tri_y, scores)
        triple_scores(params, width, v_off, tri_u, tri_i, n_triples, scores)
        logistic_losses(scores, tri_y, n_triples, losses, dscores, True)
        batch_loss = loss_moments(losses, acc)
        n_rows, n_both = gather_row_gradients(
            params, width, n_users, tri_u, tri_i, dscores, n_triples, scale, row_slot[cur], rows[cur], starts, G_cur,
            uacc, row_slot[old], both,
        )
        record_sparse_gradient_pair(  # (uacc, free after the gather, is its scratch)
            G_cur, n_rows, G_old, rows[old], row_slot[old], both, n_both, prev_meta, step[0] > 0, acc, uacc
        )
        prev_meta[PREV_BUFFER] = cur
        G_step = G_cur
        if not plain:  # the outgoing buffer is free: it takes the transformed copy
            for k in range(n_rows):
                for c in range(width):
                    G_old[k, c] = G_cur[k, c]
            G_step = G_old
            transform_rows(params, G_step, starts, n_rows, v_off, hyper, table_sq)
            if layerwise:
                table_sq[0] -= rows_sq_norm(params, starts, n_rows, width, v_off, 0)
                table_sq[1] -= rows_sq_norm(params, starts, n_rows, width, v_off, 1)
        step[0] += 1
        updated_sum = apply_rule_rows(params, slots, starts, G_step, n_rows, step[0], lr, opt, hyper, uacc)
        if layerwise:
            table_sq[0] += rows_sq_norm(params, starts, n_rows, width, v_off, 0)
            table_sq[1] += rows_sq_norm(params, starts, n_rows, width, v_off, 1)
        done += 1
        if is_bad(batch_loss, loss_cap) or not math.isfinite(updated_sum):  # only touched rows changed
            diverged = True
            break
    evaluate_recsys(
        params, width, v_off, ev_u, ev_i, ev_y, va_u, va_i, va_y, group, ev_scores, ev_losses, ev_dscores, stats
    )
    if is_bad(stats[S_TRAIN_LOSS], loss_cap):
        diverged = True
    finish_stats(acc, done, diverged, stats)

