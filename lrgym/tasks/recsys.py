"""Recommender: logistic matrix factorisation on implicit feedback, sparse row updates.

Model, for user u and item i:   p(click | u, i) = σ(s),   s = p_u · q_i + b_u + b_i,
with p_u, q_i ∈ Rʳ (r = ``rank``). Loss of a triple (u, i, y), y ∈ {0, 1}:

    ℓ = −y log σ(s) − (1 − y) log(1 − σ(s)) = softplus((1 − 2y) s),    ∂ℓ/∂s = σ(s) − y

A minibatch is ``batch_size`` positives (u, i) drawn uniformly with replacement from the
training positives, each followed by ``n_negatives`` = k triples (u, j, 0) with j uniform over
all items (a sampled "negative" may occasionally be a positive of u, as usual with negative
sampling). The minibatch loss is the mean over its T = batch_size · (1 + k) triples. Draw order
(what a reference must reproduce from a copy of the RNG word, with :mod:`lrgym.rng`): for each
positive, ``randint(n_train_positives)`` and then k × ``randint(n_items)``.

Parameters: one flat float64 vector of two tables, user rows then item rows, each row
(factors, bias): ``[p_u (r), b_u]`` for u < n_users, then ``[q_i (r), b_i]``. ``segments`` =
[0, n_users·(r+1), P] marks the two tables. Initialisation: factors N(0, init_scale²),
biases 0, drawn from the generator passed to :meth:`RecsysTask.init_params`.

Sparse updates: only the rows a minibatch touches change. The kernel gathers each touched row's
gradient once (summed over every triple that uses it), then applies the inner optimizer with
:func:`lrgym.optim.update_coordinate` to each touched coordinate, with the global step counter
(so Adam is *lazy* Adam: untouched rows keep their moments and get no update; momentum is
likewise applied only to touched rows). The gradient transforms of :mod:`lrgym.optim` act on
the minibatch gradient, which is zero outside the touched rows:

* clipping (first, as in :mod:`lrgym.optim`) uses the norm over the touched coordinates, which
  is the norm of the whole minibatch gradient;
* weight decay then adds ``wd · p`` on the touched coordinates only (lazy L2);
* ``normalize="global"`` divides by the norm of the touched coordinates' decayed gradient;
* ``normalize="layerwise"`` treats the two tables as the layers: each table's touched rows are
  scaled by ‖table‖ / ‖table's minibatch gradient‖ (LARS trust ratio), with ‖table‖ the norm of
  the *whole* table (computed at the start of every ``run`` call and kept up to date as rows
  change).

Statistics: the training objective (``S_TRAIN_LOSS``) is the mean log-loss on a fixed
evaluation set of up to 2,048 training triples (2,048 // (1 + k) training positives, each with
k uniform negatives drawn at build time, as in training). Validation: up to 512 held-out
positives (one per user, from users with at least 3 positives, never an item's last training
positive), each with k negatives drawn at build time uniformly from the items the user has no
positive for. ``S_VAL_LOSS`` is their mean log-loss; ``S_VAL_METRIC`` the sampled AUC: the
fraction of (held-out positive, its negative) pairs that the model ranks correctly, ties ½.

Data:

* **synthetic** (``data_path=None``): true factors u*, v* ~ N(0, I / √k*) (k* = ``true_rank``,
  so u*·v* has unit variance) and Zipf item popularity π_i ∝ 1 / rank(i)^``zipf`` (ranks in a
  random order). User u has n_u ~ max(3, Poisson(``interactions``)) positives (at most a quarter
  of the items), drawn without replacement with probability ∝ π_i · exp(``signal`` · u*·v*_i)
  (Gumbel top-n_u).
* **MovieLens-format file** (``data_path``): ``u.data`` (tab- or whitespace-separated
  ``user item rating timestamp``, no header) or ``ratings.csv`` (comma-separated, header
  ``userId,movieId,rating,timestamp``). Ratings ≥ 4 (``POSITIVE_RATING``, the usual
  implicit-feedback threshold on the 1–5 scale) are positives, the rest is ignored; users and
  items without a positive are dropped and ids are remapped to 0..n−1 in increasing order of
  the original id. ``n_users`` / ``n_items`` in the spec are set from the file; the
  synthetic-data fields are unused. A malformed file raises ``ValueError`` naming the file and
  the line. Nothing is downloaded: point ``data_path`` at a file you have.

The validation split and evaluation set are drawn from the instance seed.

Step sizes: the optimizer descends the minibatch's *summed* loss Σ_t ℓ_t (per-triple SGD, as
in classical matrix factorisation; :data:`GRADIENT_SCALE`), while every reported loss is a mean.
A row appears in few of a minibatch's triples, so with the mean its gradient was O(1/T) and the
best constant SGD LR of an instance grew with T (1.3 – 320 over train instances 0 – 7, mostly
above the env's range [1e-6, 10]); with the sum it lies in 0.04 – 0.5 on train instances 0 – 15
(tested over many instances in ``tests/test_lr_ranges.py``). Adam / Adagrad are unaffected
(scale-invariant) and work at their usual 0.01 – 0.1. Default episode: 50 steps × 10 updates;
on the default spec (``RecsysSpec()``) SGD at 0.2 or Adam at 0.01 reach a validation AUC ≈ 0.8
(≥ 0.75 is tested), from 0.5 at initialisation.

Speed (one core, rank 16, 64 positives × (1 + 3) = 256 triples, one env step = 10 updates +
evaluation): see ``benchmarks/reference_recsys.py`` for the NumPy (``np.add.at``) and PyTorch
(sparse embeddings) references of the same step.

Instance distribution (``RecsysFamily`` options override any of these):

============  ==========================================================
n_users       100 – 5,000, log-uniform
n_items       50 – 2,000, log-uniform
rank          4 – 32, log-uniform
true_rank     2 – 16, log-uniform
zipf          0.5 – 1.5, uniform
signal        1 – 4, log-uniform
interactions  10 – 50, log-uniform (mean positives per user)
batch_size    one of 16, 32, 64, 128, 256 (positives per minibatch)
n_negatives   one of 1, 2, 3, 4, 8
init_scale    0.1 (not sampled)
data_path     None (synthetic)
============  ==========================================================
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from dataclasses import dataclass, replace

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from lrgym.rng import skip_ahead, uniform_ahead
from lrgym.optim import H_CLIP_NORM, H_NORMALIZE, H_WEIGHT_DECAY, clip_coefficient
from lrgym.tasks import pcg64
from lrgym.tasks.prefetch import prefetch
from lrgym.tasks.base import (
    FAST_MATH,
    S_TRAIN_LOSS,
    S_VAL_LOSS,
    S_VAL_METRIC,
    KernelTask,
    TaskFamily,
    TaskSpec,
    TrainState,
    check_options,
    choose,
    is_integer,
    is_real,
    log_uniform,
    log_uniform_int,
)
from lrgym.tasks.stats import (
    N_ACC,
    add_gradient_pair,
    finish_stats,
    is_bad,
    loss_moments,
)
from lrgym.tasks.updates import apply_rule_rows
from lrgym.tasks.vmath import vexp, vlog1p_unit
from lrgym.tasks.workspace import scratch

EVAL_TRIPLES = 2048
#: the optimizer descends the minibatch's *summed* loss Σ_t ℓ_t (per-triple SGD, as in classical
#: matrix factorisation), not its mean: a row's gradient does not shrink as the batch grows, and
#: the best constant SGD LR of the instances lies around 0.03 – 0.5 (see the module docstring)
GRADIENT_SCALE = 1.0
VAL_POSITIVES = 512
POSITIVE_RATING = 4.0
BATCH_SIZES = (16, 32, 64, 128, 256)
NEGATIVE_COUNTS = (1, 2, 3, 4, 8)
# slots of ``prev_meta``, the previous sparse gradient's bookkeeping (record_sparse_gradient_pair)
PREV_N_ROWS = 0   # how many rows the previous gradient touched
PREV_NORM_SQ = 1  # its squared norm ‖g_prev‖²
PREV_BUFFER = 2   # which of the two gradient buffers (0 or 1) holds it; the other takes the next one
N_PREV_META = 3
CSV_HEADER = ("userid", "movieid", "rating", "timestamp")
_RATING_DTYPE = [("user", np.int64), ("item", np.int64), ("rating", np.float64), ("timestamp", np.float64)]


@dataclass(frozen=True)
class RecsysSpec(TaskSpec):
    n_users: int = 1000
    n_items: int = 500
    rank: int = 16
    true_rank: int = 8
    zipf: float = 1.0
    signal: float = 2.0
    interactions: float = 20.0
    batch_size: int = 64
    n_negatives: int = 3
    init_scale: float = 0.1
    data_path: str | None = None


# ---- kernels -------------------------------------------------------------------------------
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


# ---- data ----------------------------------------------------------------------------------


def _bad_line(path: str, line_no: int, problem: str) -> ValueError:
    return ValueError(f"{path}, line {line_no}: {problem}")


def _parse_fields(path: str, line_no: int, fields: list[str]) -> tuple[int, int, float]:
    if len(fields) != 4:
        raise _bad_line(path, line_no, f"expected 4 columns (user item rating timestamp), got {len(fields)}")
    out = []
    for name, text in zip(("user id", "item id"), fields[:2]):
        try:
            out.append(int(text))
        except ValueError:
            raise _bad_line(path, line_no, f"{name} {text!r} is not an integer") from None
    try:
        rating = float(fields[2])
    except ValueError:
        raise _bad_line(path, line_no, f"rating {fields[2]!r} is not a number") from None
    if not math.isfinite(rating):
        raise _bad_line(path, line_no, f"rating {fields[2]!r} is not finite")
    try:
        stamp = float(fields[3])
    except ValueError:
        raise _bad_line(path, line_no, f"timestamp {fields[3]!r} is not a number") from None
    if not math.isfinite(stamp):
        raise _bad_line(path, line_no, f"timestamp {fields[3]!r} is not finite")
    return out[0], out[1], rating


def load_ratings(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user ids, item ids, ratings) of a MovieLens ``u.data`` or ``ratings.csv`` file.

    The format is chosen by the first non-blank line: a comma-separated file must start with
    the header ``userId,movieId,rating,timestamp``; otherwise the file is ``u.data``-style,
    whitespace separated, without header. Blank lines are skipped. Raises ``ValueError`` naming
    the file and the line for a wrong column count, a non-integer id, a non-numeric or
    non-finite rating, a non-numeric timestamp, and for a file without ratings.

    Large files are parsed by ``np.loadtxt``; when it rejects a file, a line-by-line pass finds
    the first bad line for the error message.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such ratings file")
    first_no, first = 0, ""
    with open(path, encoding="utf-8", errors="replace") as f:
        for first_no, first in enumerate(f, start=1):
            if first.strip():
                break
    if not first.strip():
        raise ValueError(f"{path}, line 1: empty file, expected MovieLens ratings (u.data or ratings.csv)")
    is_csv = "," in first
    header = 0
    if is_csv:
        names = tuple(x.strip().lower() for x in first.strip().split(","))
        if names != CSV_HEADER:
            raise ValueError(
                f"{path}, line {first_no}: a comma-separated ratings file must start with the header "
                f"userId,movieId,rating,timestamp, got {first.strip()!r}"
            )
        header = first_no
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": reported below
            table = np.loadtxt(
                path, dtype=_RATING_DTYPE, delimiter="," if is_csv else None, skiprows=header,
                comments=None, ndmin=1, encoding="utf-8",
            )
        if len(table) and np.isfinite(table["rating"]).all() and np.isfinite(table["timestamp"]).all():
            return table["user"].copy(), table["item"].copy(), table["rating"].copy()
    except ValueError:
        pass
    users, items, ratings = [], [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, start=1):
            text = line.strip()
            if line_no <= header or not text:
                continue
            u, i, r = _parse_fields(path, line_no, text.split(",") if is_csv else text.split())
            users.append(u)
            items.append(i)
            ratings.append(r)
    if not users:
        raise ValueError(f"{path}, line {header + 1}: no ratings in the file")
    return np.array(users, dtype=np.int64), np.array(items, dtype=np.int64), np.array(ratings)


def positives_from_ratings(users, items, ratings, threshold: float = POSITIVE_RATING):
    """Remapped positive pairs (u, i), n_users, n_items from ratings ≥ ``threshold``."""
    keep = ratings >= threshold
    if not keep.any():
        raise ValueError(f"no rating >= {threshold}: no positives")
    user_ids, u = np.unique(users[keep], return_inverse=True)
    item_ids, i = np.unique(items[keep], return_inverse=True)
    pairs = np.unique(np.stack([u, i], axis=1), axis=0)
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64), len(user_ids), len(item_ids)


@functools.lru_cache(maxsize=4)
def _file_positives(path: str, mtime: float, size: int):
    users, items, ratings = load_ratings(path)
    try:
        return positives_from_ratings(users, items, ratings)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def file_positives(path: str):
    """Cached :func:`positives_from_ratings` of a ratings file (re-read when it changes)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such ratings file")
    st = os.stat(path)
    return _file_positives(path, st.st_mtime, st.st_size)


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
    order = _user_item_order(pos_u, pos_i)
    pos_u, pos_i = pos_u[order], pos_i[order]
    user_start = np.searchsorted(pos_u, np.arange(n_users + 1)).astype(np.int64)
    user_count = np.diff(user_start)
    item_count = np.bincount(pos_i, minlength=n_items).astype(np.int64)
    candidates = rng.permutation(np.flatnonzero((user_count >= 3) & (user_count <= n_items - 2 * n_negatives)))
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
            words, candidates.astype(np.int64), user_start, pos_i.astype(np.int64), counts, n_items, n_negatives, limit,
            held, val_u, val_i, negs,
        )
        rng.bit_generator.state = before
        if n_val >= 0:
            rng.integers(0, 2**32, size=used, dtype=np.uint64)  # advance rng past the words used
            break
        n_words *= 4
    if n_val == 0:
        raise ValueError("no user has 3 or more positives: cannot hold out validation positives")
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


# ---- task and family ----------------------------------------------------------------------


class RecsysTask(KernelTask):
    metric_name = "auc"
    #: the divergence rule's scale: log 2, the log-loss of σ(0) (≈ L₀ at the small init)
    loss_scale = math.log(2.0)

    def __init__(self, spec: RecsysSpec):
        self.spec = spec
        rng = np.random.default_rng([spec.instance, 7])
        if spec.data_path is not None:
            pos_u, pos_i, n_users, n_items = file_positives(spec.data_path)
        else:
            pos_u, pos_i = synthetic_positives(spec, rng)
            n_users, n_items = spec.n_users, spec.n_items
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.pos_u, self.pos_i, (self.ev_u, self.ev_i, self.ev_y), (self.va_u, self.va_i, self.va_y) = split_positives(
            rng, pos_u, pos_i, self.n_users, self.n_items, spec.n_negatives
        )
        self.group = 1 + spec.n_negatives
        self.width = spec.rank + 1
        self.v_off = self.n_users * self.width
        self.n_params = self.v_off + self.n_items * self.width
        self.segments = np.array([0, self.v_off, self.n_params], dtype=np.int64)
        self.n_triples = spec.batch_size * self.group

    def tables(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Views (user rows (n_users, r+1), item rows (n_items, r+1)) of a flat parameter vector."""
        return (
            params[: self.v_off].reshape(self.n_users, self.width),
            params[self.v_off :].reshape(self.n_items, self.width),
        )

    def init_params(self, rng):
        params = np.zeros(self.n_params)
        users, items = self.tables(params)
        r = self.spec.rank
        # rng.normal(0, init_scale, size)'s doubles, drawn compiled (lrgym.tasks.pcg64)
        users[:, :r] = pcg64.fill_normal(rng, np.empty((self.n_users, r)), 0.0, self.spec.init_scale)
        items[:, :r] = pcg64.fill_normal(rng, np.empty((self.n_items, r)), 0.0, self.spec.init_scale)
        return params

    def new_scratch(self):
        T = self.n_triples
        n_eval = max(len(self.ev_u), len(self.va_u))
        return {
            "tri_u": np.zeros(T, dtype=np.int64),
            "tri_i": np.zeros(T, dtype=np.int64),
            "tri_y": np.zeros(T),
            "scores": np.zeros(T),
            "losses": np.zeros(T),
            "dscores": np.zeros(T),
            # two gradient buffers (current / previous, roles swapped every update: run_recsys)
            "row_slot": np.full((2, self.n_users + self.n_items), -1, dtype=np.int64),
            "rows": np.zeros((2, 2 * T), dtype=np.int64),
            "starts": np.zeros(2 * T, dtype=np.int64),
            "G": np.zeros((2, 2 * T, self.width)),
            "uacc": np.zeros(self.width),
            "both": np.zeros((2, 2 * T), dtype=np.int64),  # rows in g and g_prev (sparse_gradient_pair_sums)
            "prev_meta": np.zeros(N_PREV_META),
            "table_sq": np.zeros(2),
            "acc": np.zeros(N_ACC),
            "ev_scores": np.zeros(n_eval),
            "ev_losses": np.zeros(n_eval),
            "ev_dscores": np.zeros(n_eval),
        }

    kernel_name = "recsys"
    kernel = staticmethod(run_recsys)

    def kernel_item(self, state: TrainState) -> tuple[tuple, tuple]:
        s = state.scratch
        head = (
            state.params, state.slots, state.step, state.rng,
            s["tri_u"], s["tri_i"], s["tri_y"], s["scores"], s["losses"], s["dscores"], s["row_slot"], s["rows"],
            s["starts"], s["G"], s["uacc"], s["both"], s["prev_meta"], s["table_sq"], s["acc"],
            s["ev_scores"], s["ev_losses"], s["ev_dscores"],
            self.width, self.v_off, self.pos_u, self.pos_i, self.n_items, self.spec.n_negatives,
            self.ev_u, self.ev_i, self.ev_y, self.va_u, self.va_i, self.va_y,
        )
        return head, ()

    def evaluate(self, state: TrainState, stats):
        s = state.scratch
        evaluate_recsys(
            state.params, self.width, self.v_off, self.ev_u, self.ev_i, self.ev_y, self.va_u, self.va_i,
            self.va_y, self.group, s["ev_scores"], s["ev_losses"], s["ev_dscores"], stats,
        )

    # -- helpers for tests and references --------------------------------------------------

    def loss_and_grad(self, params, users, items, labels) -> tuple[float, np.ndarray]:
        """Summed log-loss Σ_t ℓ_t of the given triples and its (dense) gradient, with the kernel
        code: what one minibatch update descends (:data:`GRADIENT_SCALE`)."""
        u = np.ascontiguousarray(users, dtype=np.int64)
        i = np.ascontiguousarray(items, dtype=np.int64)
        y = np.ascontiguousarray(labels, dtype=np.float64)
        n = len(u)
        params = np.ascontiguousarray(params, dtype=np.float64)
        scores, losses, dscores = np.zeros(n), np.zeros(n), np.zeros(n)
        triple_scores(params, self.width, self.v_off, u, i, n, scores)
        logistic_losses(scores, y, n, losses, dscores, True)
        row_slot = np.full(self.n_users + self.n_items, -1, dtype=np.int64)
        rows, starts = np.zeros(2 * n, dtype=np.int64), np.zeros(2 * n, dtype=np.int64)
        G = np.zeros((2 * n, self.width))
        no_prev = np.full(self.n_users + self.n_items, -1, dtype=np.int64)  # no previous gradient
        n_rows, _ = gather_row_gradients(
            params, self.width, self.n_users, u, i, dscores, n, GRADIENT_SCALE, row_slot, rows, starts, G,
            np.zeros(self.width), no_prev, np.zeros((2, 2 * n), dtype=np.int64),
        )
        grad = np.zeros(self.n_params)
        for k in range(n_rows):
            grad[starts[k] : starts[k] + self.width] = G[k]
        return float(losses.sum()), grad


class RecsysFamily(TaskFamily):
    """Logistic matrix-factorisation instances; see the module docstring for the distribution."""

    name = "recsys"
    spec_class = RecsysSpec
    default_horizon = 50
    default_inner_steps = 10

    def _validate_overrides(self):
        o = self.overrides
        check_options(self.name, o, {
            "n_users": (lambda v: is_integer(v) and 3 <= v <= 10_000_000, "integer 3..10,000,000"),
            "n_items": (lambda v: is_integer(v) and 4 <= v <= 10_000_000, "integer 4..10,000,000"),
            "rank": (lambda v: is_integer(v) and 1 <= v <= 1024, "integer 1..1024"),
            "true_rank": (lambda v: is_integer(v) and 1 <= v <= 1024, "integer 1..1024"),
            "zipf": (lambda v: is_real(v) and 0 <= v <= 5, "0 <= zipf <= 5"),
            "signal": (lambda v: is_real(v) and 0 <= v <= 100, "0 <= signal <= 100"),
            "interactions": (lambda v: is_real(v) and 1 <= v <= 1e6, "1 <= interactions <= 1e6"),
            "batch_size": (lambda v: is_integer(v) and 1 <= v <= 65536, "integer 1..65536"),
            "n_negatives": (lambda v: is_integer(v) and 1 <= v <= 1000, "integer 1..1000"),
            "init_scale": (lambda v: is_real(v) and 0 <= v < 1e3, "0 <= init_scale < 1000"),
            "data_path": (lambda v: v is None or isinstance(v, (str, os.PathLike)), "None or a file path"),
        })
        if o.get("data_path") is not None:
            o["data_path"] = os.fspath(o["data_path"])
            fixed = sorted({"n_users", "n_items"} & set(o))
            if fixed:
                raise ValueError(f"recsys option(s) {fixed} cannot be set with data_path: they come from the file")
            file_positives(o["data_path"])  # a missing or malformed file fails here, with the line

    def sample(self, instance_seed: int) -> RecsysSpec:
        spec = super().sample(instance_seed)
        if spec.data_path is not None:
            _, _, n_users, n_items = file_positives(spec.data_path)
            spec = replace(spec, n_users=n_users, n_items=n_items, true_rank=0, zipf=0.0, signal=0.0, interactions=0.0)
        return spec

    def _sample(self, rng, instance_seed):
        return RecsysSpec(
            family=self.name,
            instance=instance_seed,
            n_users=log_uniform_int(rng, 100, 5000),
            n_items=log_uniform_int(rng, 50, 2000),
            rank=log_uniform_int(rng, 4, 32),
            true_rank=log_uniform_int(rng, 2, 16),
            zipf=float(rng.uniform(0.5, 1.5)),
            signal=log_uniform(rng, 1.0, 4.0),
            interactions=log_uniform(rng, 10.0, 50.0),
            batch_size=int(choose(rng, BATCH_SIZES)),
            n_negatives=int(choose(rng, NEGATIVE_COUNTS)),
        )

    def build(self, spec):
        if spec.data_path is None and spec.n_users < 3:
            raise ValueError(f"recsys n_users={spec.n_users} too small; valid: >= 3")
        return RecsysTask(spec)
