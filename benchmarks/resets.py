"""Instance builds and resets, before and after the cheap-resets change (#13), in one run.

    python -m benchmarks.resets                  # the tables (≈ 6 – 8 min on a busy 2-core VM)
    python -m benchmarks.resets --quick          # fewer instances and episodes
    python -m benchmarks.resets --per-id         # does build_ahead pay here? per env id (≈ 1.5 – 3 min)

Three measurements, each with the build path of today ("after"), the one of main at 769b6f4
("main 769b6f4", :func:`main_769b6f4_build_path`: before stop 52, with the recommender's split
gathering through sorted row numbers; every older path below includes it), the one of main at cfecd14
("main cfecd14", :func:`main_cfecd14_build_path`: before the fifth round, with linreg's QR not
fused and the recommender's top keys bounded by table lookups), the one of main at 479ce56
("main 479ce56", :func:`main_479ce56_build_path`: before the fourth round, with the blocked QR
kernel on every matrix, ``rng.choice`` in the specs, fresh arrays for the MLP data's
temporaries), the one of main at 8a55173
("main 8a55173", :func:`main_8a55173_build_path`: the second #13 round, with NumPy drawing the
instances' normals and uniforms, the histogram-threshold top-k and fresh arrays for the builds'
temporaries), the one of main at 0e4fa09 ("main 0e4fa09", :func:`main_build_path`: the first
#13 round, with the canonical QR kernel and the one-pass Gumbel top-k) and the one before #13
("before", :func:`old_build_path`: no cache of built tasks, the recommender's NumPy generator
from ``tests/references.py``, the MLP data set re-split per instance) in the same process:

* **build time per family**: ``family.build`` of ``--instances`` train instances (the same
  ones on both paths, spread over the whole train set), CPU time, mean and p99;
* **``LRControl-v1`` with a new instance every episode**, single env (``gym.make``) and
  ``gym.make_vec(..., 16)``: random actions, default horizon (50); rounds alternate between
  the two paths, each round on new seeds (so on new instances: the cache is cleared before
  every "after" round and cannot help by remembering an earlier round's instances). Env
  steps/s of CPU time and the share of it spent in resets (``LRControlEnv.reset``, which
  builds the instance). Each round's seed is run once unmeasured first, so that no path pays
  alone for what the process meets the first time (pages for its largest instance yet, a
  kernel's first specialisation); a round is ≈ 40 episodes of the single env, so its share
  swings with the few large instances it happens to draw;
* **the same in a long run** (``--steady-steps``): per seed, one env runs ``--warm-steps``
  unmeasured steps, then the cache is emptied and ``--steady-steps`` steps are measured, as an
  RL run of many episodes sees them (paths "before, 2 BLAS threads", "before", "main
  cfecd14", "after", and "after, build ahead": today's envs with ``build_ahead``, building the
  next instances in a background thread; ≈ 400 episodes per seed and path, so the large
  instances' share averages out), in CPU time (the process's, so the builder thread's too) and
  in wall clock (where the 2-thread path's builds and the builder thread use the second core),
  each with the share in resets.

"before" runs the old build path with BLAS on one thread (the harness pins it, as the
leaderboard does); "before, 2 BLAS threads" runs it as a user's process did, with OpenBLAS's
default of one thread per core during the builds (today's builds always use one thread:
``lrgym.tasks.cache.build_task``). On a busy machine the second is what RL users saw; the
first isolates the gain of the compiled generator and the cache.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import time

from benchmarks import harness as _harness  # noqa: F401  (BLAS on one thread before NumPy loads)

import math  # noqa: E402

import gymnasium as gym  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402

import lrgym  # noqa: E402, F401  (registers the ids)
from lrgym import env as env_module  # noqa: E402
from lrgym import _env_tasks  # noqa: E402  (where the env builds a task for its own task_cache)
from lrgym.tasks import cache as cache_module  # noqa: E402
from lrgym.tasks import householder  # noqa: E402
from lrgym.tasks import linreg, make_family, mlp, pcg64, quadratic, recsys  # noqa: E402
from lrgym.tasks.recsys import family as recsys_family  # noqa: E402  (where RecsysTask looks up its builders)
from lrgym.tasks.recsys import split as recsys_split  # noqa: E402
from lrgym.tasks.recsys import synthetic as recsys_synthetic  # noqa: E402

FAMILIES = ("linreg", "quadratic", "mlp", "recsys")
ENV_ID = "LRControl-v1"


def _reference_generator():
    tests = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import references

    return references.synthetic_positives_numpy, references.split_positives_numpy


@contextlib.contextmanager
def old_build_path(blas_threads: int | None = None):
    """The build path before #13, for "before" rows: every reset builds (no cache), the
    recommender's data from the NumPy code, the MLP's data-set split made per instance; with
    ``blas_threads``, builds also run with that many BLAS threads (as NumPy starts OpenBLAS in
    a user's process: one per core) instead of the one thread of today's builds."""
    with main_build_path():  # main's canonical QR kernel; the recommender's generator replaced below
        with _pre_13_build_path(blas_threads):
            yield


@contextlib.contextmanager
def _pre_13_build_path(blas_threads: int | None):
    synthetic, split = _reference_generator()
    cache = cache_module.shared_cache()
    saved = (recsys_family.synthetic_positives, recsys_family.split_positives, mlp.load_real, cache.max_bytes,
             cache_module.build_task, _env_tasks.build_task)
    recsys_family.synthetic_positives, recsys_family.split_positives = synthetic, split
    mlp.load_real = mlp.load_real.__wrapped__
    cache.set_limit(0)
    limits = contextlib.nullcontext()
    if blas_threads is not None:
        from threadpoolctl import threadpool_limits

        cache_module.build_task = _env_tasks.build_task = lambda family, spec: family.build(spec)
        limits = threadpool_limits(blas_threads, user_api="blas")
    try:
        with limits:
            yield
    finally:
        recsys_family.synthetic_positives, recsys_family.split_positives, mlp.load_real = saved[:3]
        cache.set_limit(saved[3])
        cache_module.build_task, _env_tasks.build_task = saved[4:]


#: main 0e4fa09's resolution of the Gumbel bound table in its top-k
_MAIN_GUMBEL_BUCKETS = 4096


@numba.njit(inline="always")  # not cached: it is compiled with lrgym code (see hand_recsys)
def _heap_less(key_a, item_a, key_b, item_b):
    return key_a < key_b or (key_a == key_b and item_a > item_b)


@numba.njit  # no fastmath: the keys must round exactly as NumPy's expression does; not cached
def _top_keys_one_pass(log_pop, signal, scores, noise, uniform, counts, offsets, start, users, items):
    """main 0e4fa09's ``lrgym.tasks.recsys._top_keys`` (now in ``recsys/synthetic.py``), verbatim (for the "main" rows).

    For each row r (user start + r): the counts[user] items of largest key, largest first
    (equal keys: lower item first), into users / items at offsets[user].

    key = (log_pop + signal · score) + g, g = 0 − 1·log(−log(1 − u)) (NumPy's Gumbel with
    loc 0, scale 1, from its uniform double u) or g = noise itself when ``uniform`` is False.

    The kept items live in a binary min-heap ordered by (key, −item), so an item enters only
    with a key above the smallest kept one and, among equal smallest keys, the later item
    leaves first; the heap is sorted at the end. Speed: g decreases in u, so
    g(u) ≤ bound[⌊u·B⌋] = g(⌊u·B⌋ / B); once the heap is full, an item whose base + bound (with
    a margin far above rounding) cannot beat the heap's smallest key is skipped without its two
    logarithms. Kept items' keys are always computed exactly.
    """
    n_rows, n_i = scores.shape
    cap = 0
    for r in range(n_rows):
        cap = max(cap, counts[start + r])
    heap_key = np.empty(cap)
    heap_item = np.empty(cap, dtype=np.int64)
    bound = np.empty(_MAIN_GUMBEL_BUCKETS)
    bound[0] = np.inf
    for b in range(1, _MAIN_GUMBEL_BUCKETS):
        bound[b] = 0.0 - 1.0 * math.log(-math.log(1.0 - b / _MAIN_GUMBEL_BUCKETS))
    for r in range(n_rows):
        c = counts[start + r]
        m = 0
        skip_below = -np.inf  # base + bound below this: cannot enter the full heap
        for j in range(n_i):
            base = log_pop[j] + signal * scores[r, j]
            if uniform:
                u = noise[r, j]
                if m == c and base + bound[int(u * _MAIN_GUMBEL_BUCKETS)] < skip_below:
                    continue
                g = 0.0 - 1.0 * math.log(-math.log(1.0 - u))
            else:
                g = noise[r, j]
            key = base + g
            if m < c:  # sift up
                pos = m
                m += 1
                while pos > 0:
                    parent = (pos - 1) >> 1
                    if _heap_less(key, j, heap_key[parent], heap_item[parent]):
                        heap_key[pos] = heap_key[parent]
                        heap_item[pos] = heap_item[parent]
                        pos = parent
                    else:
                        break
                heap_key[pos] = key
                heap_item[pos] = j
            elif key > heap_key[0]:  # replace the root, sift down
                pos = 0
                while True:
                    child = 2 * pos + 1
                    if child >= c:
                        break
                    if child + 1 < c and _heap_less(heap_key[child + 1], heap_item[child + 1], heap_key[child], heap_item[child]):
                        child += 1
                    if _heap_less(heap_key[child], heap_item[child], key, j):
                        heap_key[pos] = heap_key[child]
                        heap_item[pos] = heap_item[child]
                        pos = child
                    else:
                        break
                heap_key[pos] = key
                heap_item[pos] = j
            else:
                continue
            if m == c:
                low = heap_key[0]
                skip_below = low - 1e-9 * (1.0 + abs(low))
        # largest key first, equal keys by item: sort the heap's (−key, item) pairs
        order = np.argsort(heap_item[:c], kind="mergesort")
        keys = heap_key[:c][order]
        its = heap_item[:c][order]
        order2 = np.argsort(-keys, kind="mergesort")
        o = offsets[start + r]
        for q in range(c):
            users[o + q] = start + r
            items[o + q] = its[order2[q]]


def _synthetic_positives_main(spec, rng):
    """main 0e4fa09's ``lrgym.tasks.recsys.synthetic_positives``, verbatim (whole chunks of
    uniforms, the one-pass top-k)."""
    n_u, n_i, k = spec.n_users, spec.n_items, spec.true_rank
    U = rng.standard_normal((n_u, k)) / k**0.25
    V = rng.standard_normal((n_i, k)) / k**0.25
    log_pop = -spec.zipf * np.log1p(rng.permutation(n_i).astype(np.float64))
    cap = max(3, n_i // 4)
    counts = np.clip(np.maximum(3, rng.poisson(spec.interactions, size=n_u)), 1, cap).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    users = np.empty(offsets[-1], dtype=np.int64)
    items = np.empty(offsets[-1], dtype=np.int64)
    chunk = max(1, 2_000_000 // n_i)
    for start in range(0, n_u, chunk):
        stop = min(n_u, start + chunk)
        scores = U[start:stop] @ V.T
        before = rng.bit_generator.state
        noise = rng.random((stop - start, n_i))
        uniform = True
        if not noise.all():  # a u = 0 draw: NumPy's gumbel would have drawn again
            rng.bit_generator.state = before
            noise = rng.gumbel(size=(stop - start, n_i))
            uniform = False
        _top_keys_one_pass(log_pop, float(spec.signal), scores, noise, uniform, counts, offsets, start, users, items)
    return users, items


# ---- main 8a55173's recommender generator, verbatim but for the names (for the "main 8a55173"
# rows): rng.random in blocks of 32k doubles, the histogram threshold over every item's lower
# bound, a heap of the kept items. Not cached: compiled with lrgym code (see hand_recsys).


def _synthetic_positives_8a55173(spec: recsys.RecsysSpec, rng: np.random.Generator):
    """Positive pairs (u, i) of the latent-factor model with Zipf popularity (module docstring).

    Per user, the ``n_u`` items of largest key log π_i + signal · u*·v*_i + G_ui (G standard
    Gumbel), in decreasing order of key. The NumPy draws are those of the original NumPy code
    (``tests/references.py: synthetic_positives_numpy``), in the same order; the keys and the
    top-n_u selection run compiled (:func:`_top_keys`), with NumPy's own arithmetic so that the
    instance is the same, to the bit (``tests/tasks/test_recsys_data.py``). The Gumbel noise
    comes from ``rng.random``: NumPy's ``gumbel`` is −log(−log(1 − u)) of the same doubles u
    (it draws again for u = 0, where this falls back to ``rng.gumbel``).
    """
    n_u, n_i, k = spec.n_users, spec.n_items, spec.true_rank
    U = rng.standard_normal((n_u, k)) / k**0.25
    V = rng.standard_normal((n_i, k)) / k**0.25
    log_pop = -spec.zipf * np.log1p(rng.permutation(n_i).astype(np.float64))
    cap = max(3, n_i // 4)
    counts = np.clip(np.maximum(3, rng.poisson(spec.interactions, size=n_u)), 1, cap).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    users = np.empty(offsets[-1], dtype=np.int64)
    items = np.empty(offsets[-1], dtype=np.int64)
    upper, lower = gumbel_bound_tables_8a55173()
    chunk = max(1, 2_000_000 // n_i)
    signal = float(spec.signal)
    for start in range(0, n_u, chunk):
        stop = min(n_u, start + chunk)
        scores = U[start:stop] @ V.T
        before = rng.bit_generator.state
        # the chunk's uniforms, drawn and used a few rows at a time (the same stream as one
        # draw of the whole chunk; the rows' noise stays in cache for _top_keys)
        step = max(1, _NOISE_ELEMENTS // n_i)
        for lo in range(start, stop, step):
            hi = min(stop, lo + step)
            noise = rng.random((hi - lo, n_i))
            if not _top_keys_8a55173(log_pop, signal, scores[lo - start : hi - start], noise, True, counts, offsets, lo,
                             users, items, upper, lower):
                # a u = 0 draw: NumPy's gumbel would have drawn again; redo the chunk with it
                rng.bit_generator.state = before
                noise = rng.gumbel(size=(stop - start, n_i))
                _top_keys_8a55173(log_pop, signal, scores, noise, False, counts, offsets, start, users, items, upper, lower)
                break
    return users, items


#: uniforms drawn per call of :func:`_top_keys` (256 KiB: they stay in cache between the draw and use)
_NOISE_ELEMENTS = 32_768


#: the Gumbel bound tables of :func:`_top_keys` have one bucket per (binary exponent, first
#: ``_BUCKET_BITS`` mantissa bits) of u, for u in [2⁻⁶⁰, 1): the bucket of u is its bit pattern
#: shifted right by ``_BUCKET_SHIFT``, minus that of 2⁻⁶⁰
_BUCKET_BITS = 6
_BUCKET_SHIFT = 52 - _BUCKET_BITS
_BUCKET_MIN = ((1023 - 60) << 52) >> _BUCKET_SHIFT
_N_BUCKETS = (1023 << 52 >> _BUCKET_SHIFT) - _BUCKET_MIN


@numba.njit  # no fastmath: the same arithmetic as the keys
def _gumbel_bound_tables_8a55173_kernel():
    """(upper, lower): for each bucket of u (see ``_BUCKET_BITS``), g at the bucket's lowest and
    at the next bucket's lowest u, g(u) = 0 − 1·log(−log(1 − u)) as the keys compute it. g
    decreases in u, so lower[b] ≤ g(u) ≤ upper[b] for every u of bucket b (up to rounding,
    which the callers' margins cover); −inf / +inf at the ends."""
    upper = np.empty(_N_BUCKETS)
    lower = np.empty(_N_BUCKETS)
    word = np.empty(1, dtype=np.int64)
    as_float = word.view(np.float64)
    for b in range(_N_BUCKETS):
        word[0] = (_BUCKET_MIN + b) << _BUCKET_SHIFT
        low_u = as_float[0]
        word[0] = (_BUCKET_MIN + b + 1) << _BUCKET_SHIFT
        high_u = as_float[0]
        upper[b] = 0.0 - 1.0 * math.log(-math.log(1.0 - low_u))
        lower[b] = 0.0 - 1.0 * math.log(-math.log(1.0 - high_u)) if high_u < 1.0 else -np.inf
    return upper, lower


@functools.cache
def gumbel_bound_tables_8a55173():
    """:func:`_gumbel_bound_tables`, computed once per process."""
    return _gumbel_bound_tables_8a55173_kernel()


@numba.njit(inline="always")
def _heap_less_8a55173(key_a, item_a, key_b, item_b):
    """Heap order: smaller key first; equal keys, larger item first (it leaves first)."""
    return key_a < key_b or (key_a == key_b and item_a > item_b)


@numba.njit
def _heap_offer_8a55173(heap_key, heap_item, m, c, key, item):
    """Offer (key, item) to a binary min-heap (:func:`_heap_less` order) that keeps the c
    largest of what it was offered; m entries are in use. Returns the new m.

    Not full: sift the new entry up. Full: it replaces the root (the smallest kept) only when
    its key is larger, then sifts down; an equal key does not enter (offered in increasing
    item order, the earlier item wins the tie)."""
    if m < c:
        pos = m
        while pos > 0:
            parent = (pos - 1) >> 1
            if _heap_less_8a55173(key, item, heap_key[parent], heap_item[parent]):
                heap_key[pos] = heap_key[parent]
                heap_item[pos] = heap_item[parent]
                pos = parent
            else:
                break
        heap_key[pos] = key
        heap_item[pos] = item
        return m + 1
    if key > heap_key[0]:
        _heap_sift_down_8a55173(heap_key, heap_item, c, key, item)
    return m


@numba.njit(inline="always")
def _heap_sift_down_8a55173(heap_key, heap_item, size, key, item):
    """Replace the root of the heap's first ``size`` entries by (key, item) and sift it down
    (size 0: nothing to do)."""
    if size == 0:
        return
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and _heap_less_8a55173(heap_key[child + 1], heap_item[child + 1], heap_key[child], heap_item[child]):
            child += 1
        if _heap_less_8a55173(heap_key[child], heap_item[child], key, item):
            heap_key[pos] = heap_key[child]
            heap_item[pos] = heap_item[child]
            pos = child
        else:
            break
    heap_key[pos] = key
    heap_item[pos] = item


@numba.njit
def _at_least_c_above_8a55173(lows, c, hist):
    """A value t with at least c of ``lows`` ≥ t, near the c-th largest (−inf when there is none
    or the finite values do not decide it): one counting pass into ``len(hist)`` equal bins
    between the smallest and largest finite value, then the lower edge (less half a bin, which
    covers rounding) of the highest bin that brings the count from the top to c."""
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


@numba.njit  # no fastmath: the keys must round exactly as NumPy's expression does
def _top_keys_8a55173(log_pop, signal, scores, noise, uniform, counts, offsets, start, users, items, upper, lower):
    """For each row r (user start + r): the counts[user] items of largest key, largest first
    (equal keys: lower item first), into users / items at offsets[user].

    key = (log_pop + signal · score) + g, g = 0 − 1·log(−log(1 − u)) (NumPy's Gumbel with
    loc 0, scale 1, from its uniform double u) or g = noise itself when ``uniform`` is False.

    Two passes per row, so that the two logarithms run for few items (≈ the kept ones):

    1. bounds without logarithms: g lies between ``lower`` and ``upper`` of u's bucket
       (:func:`_gumbel_bound_tables`; buckets by binary exponent and leading mantissa bits, so
       they are tight where the large keys are); a histogram of the lower bounds finds L with at
       least c lower bounds ≥ L, near the c-th largest (:func:`_at_least_c_above`). At least c
       keys are ≥ L, so the c-th largest key is ≥ L.
    2. the exact selection: items in increasing order, skipping those whose upper bound is
       below L (with a margin far above rounding: they cannot be among the c largest keys);
       the others get their exact key and are offered to a heap of the c largest keys
       (:func:`_heap_offer`, ordered by (key, −item)). The c largest keys of the items offered
       are the c largest of the row, so the result is that of offering every item.

    The row is written by popping the heap's minima (heapsort). Kept items' keys are always
    computed exactly. Returns False, leaving the work unfinished, when ``uniform`` and a u is 0
    (NumPy's ``gumbel`` would have drawn again: the caller redraws), else True.
    """
    n_rows, n_i = scores.shape
    cap = 0
    for r in range(n_rows):
        cap = max(cap, counts[start + r])
    heap_key = np.empty(cap)
    heap_item = np.empty(cap, dtype=np.int64)
    ub = np.empty(n_i)
    lows = np.empty(n_i)
    hist = np.empty(_THRESHOLD_BINS, dtype=np.int64)
    words = noise.view(np.int64)
    for r in range(n_rows):
        c = counts[start + r]
        for j in range(n_i):  # pass 1: bounds of every key
            base = log_pop[j] + signal * scores[r, j]
            if uniform:
                b = (words[r, j] >> _BUCKET_SHIFT) - _BUCKET_MIN
                if b < 0:  # u < 2⁻⁶⁰: 1 − u rounds to 1, g = +inf
                    if words[r, j] == 0:
                        return False  # u = 0: the caller redraws with NumPy's gumbel
                    ub[j] = np.inf
                    lows[j] = np.inf
                else:
                    ub[j] = base + upper[b]
                    lows[j] = base + lower[b]
            else:
                ub[j] = base + noise[r, j]
                lows[j] = ub[j]
        low = _at_least_c_above_8a55173(lows, c, hist)
        skip_below = low - 1e-9 * (1.0 + abs(low))
        m = 0
        for j in range(n_i):  # pass 2: exact keys of the items that can be kept
            if ub[j] < skip_below:
                continue
            base = log_pop[j] + signal * scores[r, j]
            if uniform:
                g = 0.0 - 1.0 * math.log(-math.log(1.0 - noise[r, j]))
            else:
                g = noise[r, j]
            m = _heap_offer_8a55173(heap_key, heap_item, m, c, base + g, j)
        # largest key first, equal keys lower item first: the heap's minima fill the row backwards
        o = offsets[start + r]
        for q in range(c - 1, -1, -1):
            users[o + q] = start + r
            items[o + q] = heap_item[0]
            _heap_sift_down_8a55173(heap_key, heap_item, q, heap_key[q], heap_item[q])
    return True




def _linreg_draw_8a55173(self, rng, n):
    """main 8a55173's ``LinRegTask._draw``, verbatim (fresh arrays for the temporaries)."""
    z = rng.standard_normal((n, self.spec.dim))
    X = np.ascontiguousarray((z * self.sqrt_eig) @ self.U.T)
    y = X @ self.w_star + self.spec.noise * rng.standard_normal(n)
    return X, y


def _qr_stats_8a55173(X, y, n_rows):
    """main 8a55173's ``linreg.qr_stats``, verbatim (a fresh working copy)."""
    d = X.shape[1]
    k = min(n_rows, d)
    A = np.empty((d + 1, n_rows))
    A[:d] = X[:n_rows].T
    A[d] = y[:n_rows]
    linreg.qr_kernel()(A, k)
    R = np.ascontiguousarray(np.triu(A[:d, :k].T))
    c = np.ascontiguousarray(A[d, :k])
    rho = float(A[d, k:] @ A[d, k:]) if n_rows > k else 0.0
    return R, c, rho


def _random_rotation_8a55173(rng, d):
    """main 8a55173's ``linreg.random_rotation``, verbatim (NumPy's normals)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _recsys_init_params_8a55173(self, rng):
    """main 8a55173's ``RecsysTask.init_params``, verbatim (NumPy's normals)."""
    params = np.zeros(self.n_params)
    users, items = self.tables(params)
    r = self.spec.rank
    users[:, :r] = rng.normal(0.0, self.spec.init_scale, size=(self.n_users, r))
    items[:, :r] = rng.normal(0.0, self.spec.init_scale, size=(self.n_items, r))
    return params


@numba.njit  # not cached (see above)
def _sorted_within_users_8a55173(pos_u, pos_i):
    """main 8a55173's ``recsys._sorted_within_users``, verbatim: per user's run, insertion sort by item."""
    n = pos_u.shape[0]
    order = np.arange(n)
    lo = 0
    while lo < n:
        hi = lo + 1
        while hi < n and pos_u[hi] == pos_u[lo]:
            hi += 1
        for a in range(lo + 1, hi):
            row = order[a]
            item = pos_i[row]
            b = a
            while b > lo and pos_i[order[b - 1]] > item:
                order[b] = order[b - 1]
                b -= 1
            order[b] = row
        lo = hi
    return order


def _user_item_order_8a55173(pos_u, pos_i):
    """main 8a55173's ``recsys._user_item_order``, verbatim."""
    if pos_u.shape[0] > 1 and (pos_u[1:] >= pos_u[:-1]).all():
        return _sorted_within_users_8a55173(np.ascontiguousarray(pos_u, dtype=np.int64), np.ascontiguousarray(pos_i, dtype=np.int64))
    return np.lexsort((pos_i, pos_u))


def _qr_kernel_479ce56():
    """main 479ce56's ``linreg.qr_kernel``: the blocked kernel alone (no panel form for large
    matrices), with the block length today's self-check found (else the canonical kernel)."""
    kernel = _QR_KERNEL_TODAY()
    block = getattr(kernel, "keywords", {}).get("block")
    return functools.partial(householder.householder_qr_blocked, block=block) if block else householder.householder_qr


def _choose_479ce56(rng, options):
    """main 479ce56's spec sampling of a batch size or negatives count: ``rng.choice``."""
    return rng.choice(options)


def _teacher_data_479ce56(rng, n, d, n_classes, normals=pcg64.standard_normal):
    """main 479ce56's ``mlp._teacher_data``, verbatim (fresh arrays for the hidden layer); with
    ``normals`` = NumPy's own, main 8a55173's (:func:`_teacher_data_8a55173`)."""
    W1 = rng.standard_normal((d, mlp.TEACHER_HIDDEN)) / math.sqrt(d)
    b1 = 0.5 * rng.standard_normal(mlp.TEACHER_HIDDEN)
    W2 = rng.standard_normal((mlp.TEACHER_HIDDEN, n_classes)) / math.sqrt(mlp.TEACHER_HIDDEN)
    X = normals(rng, (n, d))
    logits = np.tanh(X @ W1 + b1) @ W2
    logits = (logits - logits.mean(0)) / logits.std(0)
    return X, np.argmax(logits, axis=1).astype(np.int64)


def _cluster_data_479ce56(rng, n, d, n_classes, separation, normals=pcg64.standard_normal):
    """main 479ce56's ``mlp._cluster_data``, verbatim (fresh arrays for the gather and the
    noise); with ``normals`` = NumPy's own, main 8a55173's (:func:`_cluster_data_8a55173`)."""
    per_class = 2
    centres = rng.standard_normal((n_classes * per_class, d)) * (separation / math.sqrt(2 * d))
    which = rng.integers(0, n_classes * per_class, size=n)
    X = centres[which] + normals(rng, (n, d))
    return X, (which // per_class).astype(np.int64)


def _numpy_normals(rng, shape):
    """``rng.standard_normal(shape)``: NumPy drawing the normals itself (main 8a55173)."""
    return rng.standard_normal(shape)


#: main 8a55173's MLP data: 479ce56's code with NumPy's own normals
_teacher_data_8a55173 = functools.partial(_teacher_data_479ce56, normals=_numpy_normals)
_cluster_data_8a55173 = functools.partial(_cluster_data_479ce56, normals=_numpy_normals)


_QR_KERNEL_TODAY = linreg.qr_kernel

#: (module or class, attribute, main 479ce56's version) of everything the fourth round of
#: cheaper resets (branch ``resets5``) changed
_REPLACED_479CE56 = (
    (linreg, "qr_kernel", _qr_kernel_479ce56),
    (linreg, "choose", _choose_479ce56),
    (quadratic, "choose", _choose_479ce56),
    (mlp, "choose", _choose_479ce56),
    (recsys_family, "choose", _choose_479ce56),
    (mlp, "_teacher_data", _teacher_data_479ce56),
    (mlp, "_cluster_data", _cluster_data_479ce56),
)


@contextlib.contextmanager
def _replaced(replacements):
    """Each (owner, name, old) of ``replacements`` set while active, today's put back after."""
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in replacements]
    for owner, name, old in replacements:
        setattr(owner, name, old)
    try:
        yield
    finally:
        for owner, name, current in saved:
            setattr(owner, name, current)


def main_479ce56_build_path():
    """The build path of main at 479ce56 (before the fourth round): the blocked QR kernel on
    every matrix, the specs' batch sizes and negatives counts drawn by ``rng.choice``, fresh
    arrays for the MLP data's temporaries; the recommender's top keys of main cfecd14 (the same
    at 479ce56) and its split of main 769b6f4 (the same there)."""
    return _replaced(_REPLACED_479CE56 + (_replaced_cfecd14()[1],) + _REPLACED_769B6F4)


def _top_keys_streamed_cfecd14():
    """main cfecd14's ``recsys._top_keys_streamed`` (table bounds, no cutoff check), with the
    signature of today's: its row kernel is the reference of ``tests/tasks/test_recsys_topkeys.py``
    (kept there verbatim), called with its Gumbel bound tables."""
    tests = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
    for here in (tests, os.path.join(tests, "tasks")):  # as pytest imports it (Numba's cache of it applies)
        if here not in sys.path:
            sys.path.insert(0, here)
    import test_recsys_topkeys as ref

    upper, lower = ref.gumbel_bound_tables()
    kernel = _streamed_rows_cfecd14(ref._top_row_reference)

    def top_keys_streamed(log_pop, signal, scores, stream, counts, offsets, start, users, items):
        return kernel(log_pop, signal, scores, stream, counts, offsets, start, users, items, upper, lower)

    return top_keys_streamed


@functools.cache
def _streamed_rows_cfecd14(top_row):
    """main cfecd14's ``_top_keys_streamed`` loop around ``top_row`` (compiled once per process)."""

    @numba.njit
    def kernel(log_pop, signal, scores, stream, counts, offsets, start, users, items, upper, lower):
        n_rows, n_i = scores.shape
        ub, lows, group_max = np.empty(n_i), np.empty(n_i), np.empty(n_i)
        hist, cand_key, cand_item = np.empty(128, dtype=np.int64), np.empty(n_i), np.empty(n_i, dtype=np.int64)
        noise_row = np.empty(n_i)
        for r in range(n_rows):
            user = start + r
            pcg64.fill_uniforms(stream, noise_row)
            if not top_row(log_pop, signal, scores[r], noise_row, True, counts[user], user, offsets[user], users,
                           items, upper, lower, ub, lows, group_max, hist, cand_key, cand_item):
                return False
        return True

    return kernel


def _qr_kernel_cfecd14():
    """main cfecd14's ``linreg.qr_kernel`` (:func:`benchmarks.qr_kernels.main_cfecd14_kernel`:
    no fused form, the panel kernel only from 1,536 columns), with the block length and panel
    today's self-check found (else today's kernel)."""
    from benchmarks.qr_kernels import main_cfecd14_kernel

    kernel = _QR_KERNEL_TODAY()
    kw = getattr(kernel, "keywords", {})
    return main_cfecd14_kernel(kw["block"], kw["panel"]) if "panel" in kw else kernel


@functools.cache
def _replaced_cfecd14():
    """(module, attribute, main cfecd14's version) of what the fifth round (stop 22: the fused
    QR and the recommender's top keys without tables) changed."""
    qr = _qr_kernel_cfecd14()
    return ((linreg, "qr_kernel", lambda: qr), (recsys_synthetic, "_top_keys_streamed", _top_keys_streamed_cfecd14()))


def main_cfecd14_build_path():
    """The build path of main at cfecd14 (before the fifth round): linreg's QR without the
    fused panel form (panels only from 1,536 columns), the recommender's top keys with the
    Gumbel bound tables; its split of main 769b6f4 (the same there)."""
    return _replaced(_replaced_cfecd14() + _REPLACED_769B6F4)


def _split_positives_769b6f4(rng, pos_u, pos_i, n_users, n_items, n_negatives):
    """main 769b6f4's ``split_positives``, verbatim but for names (its error message shortened):
    the (user, item) order as row numbers, then gathers, ``searchsorted``, ``bincount`` and
    copies of ``candidates`` and ``pos_i``."""
    group = 1 + n_negatives
    order = recsys_split._user_item_order(pos_u, pos_i)
    pos_u, pos_i = pos_u[order], pos_i[order]
    user_start = np.searchsorted(pos_u, np.arange(n_users + 1)).astype(np.int64)
    user_count = np.diff(user_start)
    item_count = np.bincount(pos_i, minlength=n_items).astype(np.int64)
    candidates = rng.permutation(np.flatnonzero((user_count >= 3) & (user_count <= n_items - 2 * n_negatives)))
    limit = recsys_split.VAL_POSITIVES
    val_u = np.zeros(limit, dtype=np.int64)
    val_i = np.zeros(limit, dtype=np.int64)
    negs = np.zeros(limit * n_negatives, dtype=np.int64)
    n_words = 2 * (len(candidates) + limit * n_negatives) + 1024
    while True:
        before = rng.bit_generator.state
        words = rng.integers(0, 2**32, size=n_words, dtype=np.uint64)
        held = np.zeros(len(pos_u), dtype=bool)
        counts = item_count.copy()
        n_val, used = recsys_split._hold_out(
            words, candidates.astype(np.int64), user_start, pos_i.astype(np.int64), counts, n_items, n_negatives, limit,
            held, val_u, val_i, negs,
        )
        rng.bit_generator.state = before
        if n_val >= 0:
            rng.integers(0, 2**32, size=used, dtype=np.uint64)
            break
        n_words *= 4
    if n_val == 0:
        raise ValueError("no user can hold out a validation positive")
    triples = recsys_split._triples
    va_u, va_i, va_y = triples(val_u[:n_val], val_i[:n_val], negs[: n_val * n_negatives].reshape(n_val, n_negatives))
    train_u, train_i = pos_u[~held], pos_i[~held]
    n_eval = min(len(train_u), recsys_split.EVAL_TRIPLES // group)
    pick = rng.choice(len(train_u), size=n_eval, replace=False)
    ev_negs = np.empty((n_negatives, n_eval), dtype=np.int64)
    for j in range(n_negatives):
        ev_negs[j] = rng.integers(n_items, size=n_eval)
    ev_u, ev_i, ev_y = triples(train_u[pick], train_i[pick], ev_negs.T)
    as_int = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
    return (
        as_int(train_u), as_int(train_i),
        (as_int(ev_u), as_int(ev_i), np.ascontiguousarray(ev_y)),
        (as_int(va_u), as_int(va_i), np.ascontiguousarray(va_y)),
    )


#: (module or class, attribute, main 769b6f4's version) of what stop 52 changed
_REPLACED_769B6F4 = (
    (recsys_family, "split_positives", _split_positives_769b6f4),
)


def main_769b6f4_build_path():
    """The build path of main at 769b6f4 (before stop 52): the recommender's split sorting row
    numbers and gathering through them."""
    return _replaced(_REPLACED_769B6F4)


#: (module or class, attribute, main 8a55173's version) of everything the third round changed
_REPLACED_8A55173 = (
    (recsys_family, "synthetic_positives", _synthetic_positives_8a55173),
    (recsys.RecsysTask, "init_params", _recsys_init_params_8a55173),
    (recsys_split, "_user_item_order", _user_item_order_8a55173),
    (linreg.LinRegTask, "_draw", _linreg_draw_8a55173),
    (linreg, "qr_stats", _qr_stats_8a55173),
    (linreg, "random_rotation", _random_rotation_8a55173),
    (quadratic, "random_rotation", _random_rotation_8a55173),
    (mlp, "_teacher_data", _teacher_data_8a55173),
    (mlp, "_cluster_data", _cluster_data_8a55173),
)


@contextlib.contextmanager
def main_8a55173_build_path():
    """The build path of main at 8a55173 (before this round): NumPy's own normals and uniforms
    (no :mod:`lrgym.tasks.pcg64`), the recommender's histogram threshold and heap
    (:func:`_synthetic_positives_8a55173`), fresh arrays for the builds' large temporaries (no
    :mod:`lrgym.tasks.workspace`)."""
    with main_479ce56_build_path(), _replaced(_REPLACED_8A55173):
        yield


@contextlib.contextmanager
def main_build_path():
    """The build path of main at 0e4fa09 (after the first #13 round, before this one): the
    canonical Householder QR kernel, main's recommender generator (whole chunks of uniforms,
    the one-pass Gumbel top-k), ``np.lexsort`` for the split, fresh arrays for linreg's
    temporaries (as at 8a55173)."""
    with main_8a55173_build_path():
        saved = (linreg.qr_kernel, recsys_family.synthetic_positives, recsys_split._user_item_order)
        linreg.qr_kernel = lambda: householder.householder_qr
        recsys_family.synthetic_positives = _synthetic_positives_main
        recsys_split._user_item_order = lambda pos_u, pos_i: np.lexsort((pos_i, pos_u))
        try:
            yield
        finally:
            linreg.qr_kernel, recsys_family.synthetic_positives, recsys_split._user_item_order = saved


#: the build paths compared: name → context manager
PATHS = {
    "before, 2 BLAS threads": lambda: old_build_path(blas_threads=2),
    "before": old_build_path,
    "main 0e4fa09": main_build_path,
    "main 8a55173": main_8a55173_build_path,
    "main 479ce56": main_479ce56_build_path,
    "main cfecd14": main_cfecd14_build_path,
    "main 769b6f4": main_769b6f4_build_path,
    "after": contextlib.nullcontext,
}


#: the paths "after" is compared with, in the ratio columns
BASELINES = ("main cfecd14", "main 479ce56", "main 8a55173", "main 0e4fa09", "before", "before, 2 BLAS threads")

WARM_UP_INSTANCES = range(10_000, 10_024)  # val instances: every kernel kind, never measured


_warm = False


def warm_up() -> None:
    """Load every compiled kernel both paths use (a one-time cost per process), on instances
    that are not measured: a few steps on each of 24 instances (6 of each family, streaming
    and data-set linreg among them), on both paths."""
    global _warm
    if _warm:
        return
    _warm = True
    from lrgym.tasks import datasets

    for name in datasets.NAMES:  # scikit-learn's import and the bundled files: once per process
        datasets.bundled(name)
    for ctx in PATHS.values():
        with ctx():
            env = gym.make(ENV_ID, instance_set="val")
            for k in WARM_UP_INSTANCES:
                env.reset(seed=k, options={"instance": k})
                for _ in range(3):
                    env.step(2)
        cache_module.shared_cache().clear()


#: OpenBLAS's worker threads spin on after a multi-threaded call before they sleep, and process
#: CPU time counts them: a path measured right after a 2-thread path was charged for it
_BLAS_SPIN_SECONDS = 0.5


def _let_blas_workers_sleep(path: str) -> None:
    """After a path that ran BLAS on several threads, wait (not measured) until its workers sleep."""
    if "BLAS threads" in path:
        time.sleep(_BLAS_SPIN_SECONDS)


def build_times(family: str, n: int) -> dict[str, np.ndarray]:
    """CPU seconds of ``n`` builds per path (the same train instances on every path,
    alternating which path builds an instance first). Paths that run BLAS on several threads
    build their instances after the others: OpenBLAS's workers spin on after a call, and process
    CPU time would charge that to the path measured next."""
    fam = make_family(family)
    seeds = [int(s) for s in np.linspace(1, 9_999, n)]
    for s in WARM_UP_INSTANCES:  # compile / load the generators' kernels
        cache_module.build_task(fam, fam.sample(s))
    warm_up()  # once per process
    out = {path: [] for path in PATHS}
    one_thread = [p for p in PATHS if "BLAS threads" not in p]
    for i, s in enumerate(seeds):
        spec = fam.sample(s)
        for path in one_thread[:: 1 if i % 2 == 0 else -1]:
            with PATHS[path]():
                t0 = time.process_time()
                cache_module.build_task(fam, spec)
                out[path].append(time.process_time() - t0)
    for path in PATHS:
        if path in one_thread:
            continue
        for s in seeds:
            spec = fam.sample(s)
            with PATHS[path]():
                t0 = time.process_time()
                cache_module.build_task(fam, spec)
                out[path].append(time.process_time() - t0)
        _let_blas_workers_sleep(path)
    return {k: np.array(v) for k, v in out.items()}


class _ResetClock:
    """CPU time (``seconds``, the process's: every thread) and wall-clock time (``wall``) spent
    inside ``LRControlEnv.reset`` (patched on the class while active)."""

    def __init__(self):
        self.seconds = 0.0
        self.wall = 0.0
        self.calls = 0

    def __enter__(self):
        original = self._original = env_module.LRControlEnv.reset
        clock = self

        def timed_reset(env, *args, **kwargs):
            t0, w0 = time.process_time(), time.perf_counter()
            try:
                return original(env, *args, **kwargs)
            finally:
                clock.seconds += time.process_time() - t0
                clock.wall += time.perf_counter() - w0
                clock.calls += 1

        env_module.LRControlEnv.reset = timed_reset
        return self

    def __exit__(self, *exc):
        env_module.LRControlEnv.reset = self._original


def rollout(n_envs: int, steps: int, seed: int) -> tuple[float, float]:
    """(CPU seconds, of which in resets) of ``steps`` random-action steps of ``LRControl-v1``
    (``gym.make`` for n_envs = 0, else ``gym.make_vec(ENV_ID, n_envs)``), seeded ``seed``."""
    actions = np.random.default_rng(seed)
    with _ResetClock() as clock:
        t0 = time.process_time()
        if n_envs == 0:
            env = gym.make(ENV_ID)
            env.reset(seed=seed)
            for _ in range(steps):
                _, _, terminated, truncated, _ = env.step(int(actions.integers(5)))
                if terminated or truncated:
                    env.reset()
        else:
            env = gym.make_vec(ENV_ID, num_envs=n_envs, vectorization_mode="vector_entry_point")
            env.reset(seed=seed)
            for _ in range(steps // n_envs):
                env.step(actions.integers(5, size=n_envs))
        env.close()
        total = time.process_time() - t0
    return total, clock.seconds


def env_rates(n_envs: int, steps: int, rounds: int, first_seed: int = 1000) -> dict[str, dict[str, float]]:
    """Env steps/s and reset share per path, over ``rounds`` interleaved rounds (new seeds each)."""
    warm_up()
    rollout(n_envs, 100 if n_envs == 0 else n_envs * 50, seed=7)  # the vector env's batched kernels
    sums = {p: [0.0, 0.0] for p in PATHS}
    for r in range(rounds):
        seed = first_seed + 1000 * r
        # not measured: the round's instances once, so that no path pays alone for what a
        # process does the first time it meets them (pages for a larger instance than any before,
        # a kernel's first specialisation); the path measured first used to (the order alternates)
        cache_module.shared_cache().clear()
        rollout(n_envs, steps, seed)
        for path in list(PATHS)[:: 1 if r % 2 == 0 else -1]:
            cache_module.shared_cache().clear()
            with PATHS[path]():
                total, in_reset = rollout(n_envs, steps, seed)
            _let_blas_workers_sleep(path)
            sums[path][0] += total
            sums[path][1] += in_reset
    done = steps - steps % max(n_envs, 1) if n_envs else steps
    return {
        p: {"steps_per_s": rounds * done / t, "reset_share": r / t} for p, (t, r) in sums.items()
    }


#: the paths of the steady-state table (a long run per path and seed: today's, main before this
#: round and the one before #13, as the leaderboard ran it and as a user's process did)
STEADY_PATHS = ("before, 2 BLAS threads", "before", "main cfecd14", "after", "after, build ahead")

#: ``build_ahead`` of the single env and of each of the vector env's sub-envs on the "after,
#: build ahead" path (≈ 0.9 MiB per built instance of ``LRControl-v1`` on average, ≤ 11 MiB)
BUILD_AHEAD = {"single": 16, "vector": 4}
_build_ahead = {"single": 0, "vector": 0}


@contextlib.contextmanager
def build_ahead_path():
    """Today's build path, with every env building its next instances in a background thread
    (``build_ahead`` = :data:`BUILD_AHEAD`, :mod:`lrgym.tasks.ahead`)."""
    _build_ahead.update(BUILD_AHEAD)
    try:
        yield
    finally:
        _build_ahead.update(single=0, vector=0)


#: the long runs' paths: name → context manager
STEADY_CONTEXTS = {**PATHS, "after, build ahead": build_ahead_path}


def _random_actions(env, actions, n_envs: int, steps: int) -> None:
    """``steps`` env steps of random actions (a reset after every finished episode of the single
    env; the vector env resets its finished sub-envs itself)."""
    if n_envs == 0:
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(int(actions.integers(5)))
            if terminated or truncated:
                env.reset()
    else:
        for _ in range(steps // n_envs):
            env.step(actions.integers(5, size=n_envs))


def steady_state(n_envs: int, warm_steps: int, steps: int, seed: int) -> dict[str, float]:
    """A long run of one env, as an RL run sees it: ``warm_steps`` random-action steps (not
    measured: they load the kernels this seed's instances need and grow the process's heap,
    one-time costs of a process), then the cache of built tasks is emptied and ``steps`` steps
    are measured (CPU time, and the part of it in ``LRControlEnv.reset``). Returns the seconds,
    the seconds in resets, the resets and the cache hits among them (the train set has 10,000
    instances: a few draws repeat, and the cache serves those, as it would in a user's run)."""
    actions = np.random.default_rng(seed)
    if n_envs == 0:
        env = gym.make(ENV_ID, build_ahead=_build_ahead["single"])
    else:
        env = gym.make_vec(ENV_ID, num_envs=n_envs, vectorization_mode="vector_entry_point",
                           build_ahead=_build_ahead["vector"])
    env.reset(seed=seed)
    _random_actions(env, actions, n_envs, warm_steps)
    cache = cache_module.shared_cache()
    cache.clear()
    hits, misses = cache.hits, cache.misses
    with _ResetClock() as clock:
        t0, w0 = time.process_time(), time.perf_counter()
        _random_actions(env, actions, n_envs, steps)
        total, wall = time.process_time() - t0, time.perf_counter() - w0
    env.close()
    return {"seconds": total, "wall": wall, "in_resets": clock.seconds, "wall_in_resets": clock.wall, "resets": clock.calls,
            "hits": cache.hits - hits, "builds": cache.misses - misses}


def steady_rates(n_envs: int, warm_steps: int, steps: int, seeds: int, first_seed: int = 50_000):
    """:func:`steady_state` per path of :data:`STEADY_PATHS` and seed (each seed once unmeasured,
    then on every path, in alternating order): per path, env steps/s and the share in resets
    over all seeds, and the per-seed shares."""
    warm_up()
    out = {p: [] for p in STEADY_PATHS}
    for k in range(seeds):
        seed = first_seed + 1000 * k
        steady_state(n_envs, warm_steps, steps, seed)  # not measured: as in env_rates
        for path in STEADY_PATHS[:: 1 if k % 2 == 0 else -1]:
            with STEADY_CONTEXTS[path]():
                out[path].append(steady_state(n_envs, warm_steps, steps, seed))
            _let_blas_workers_sleep(path)
    done = steps - steps % max(n_envs, 1)
    rows = {}
    for path, runs in out.items():
        t = sum(r["seconds"] for r in runs)
        rows[path] = {
            "steps_per_s": len(runs) * done / t,
            "wall_steps_per_s": len(runs) * done / sum(r["wall"] for r in runs),
            "wall_reset_share": sum(r["wall_in_resets"] for r in runs) / sum(r["wall"] for r in runs),
            "reset_share": sum(r["in_resets"] for r in runs) / t,
            "shares": [r["in_resets"] / r["seconds"] for r in runs],
            "resets": sum(r["resets"] for r in runs),
            "hits": sum(r["hits"] for r in runs),
        }
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=60, help="instances per family for the build times")
    ap.add_argument("--steps", type=int, default=2000, help="env steps per round")
    ap.add_argument("--rounds", type=int, default=4, help="rounds per path (interleaved)")
    ap.add_argument("--steady-steps", type=int, default=20_000,
                    help="measured env steps per seed and path of the steady-state table (0: no table)")
    ap.add_argument("--steady-seeds", type=int, default=3, help="seeds (long runs) per path of the steady-state table")
    ap.add_argument("--warm-steps", type=int, default=4_000, help="unmeasured env steps before each long run")
    ap.add_argument("--quick", action="store_true", help="20 instances, 1,000 steps, 2 rounds; steady state 2 × 5,000 steps")
    ap.add_argument("--steady-only", action="store_true", help="only the long-run table")
    ap.add_argument("--per-id", action="store_true",
                    help="only the per-env-id table of build_ahead (does it pay on this machine?)")
    ap.add_argument("--per-id-steps", type=int, default=8_000,
                    help="measured steps per seed of the per-id table (scaled per id by PER_ID_STEPS)")
    ap.add_argument("--per-id-seeds", type=int, default=2, help="seeds per env id and path of the per-id table")
    args = ap.parse_args(argv)
    if args.quick:
        args.instances, args.steps, args.rounds = 20, 1000, 2
        args.steady_steps, args.steady_seeds, args.warm_steps = 5_000, 2, 2_000
    if args.steady_only:
        print_steady(args)
        return
    if args.per_id:
        print_per_id(args)
        return
    print(f"Build time per family ({args.instances} train instances, CPU ms, mean / p99; "
          "speed-up of the mean vs each before):\n")
    print("| family | " + " | ".join(PATHS) + " | " + " | ".join(f"after vs {p}" for p in BASELINES) + " |")
    print("|---|" + "---:|" * (len(PATHS) + len(BASELINES)))
    for family in FAMILIES:
        t = {p: v * 1e3 for p, v in build_times(family, args.instances).items()}
        cells = " | ".join(f"{v.mean():.1f} / {np.percentile(v, 99):.1f}" for v in t.values())
        after = t["after"].mean()
        ratios = " | ".join(f"{t[p].mean() / after:.2f}×" for p in BASELINES)
        print(f"| {family} | {cells} | {ratios} |", flush=True)
    print(f"\n`{ENV_ID}`, a new instance every episode, random actions ({args.rounds} interleaved rounds × "
          f"{args.steps} env steps per path, CPU time; env steps/s, share of it in resets):\n")
    print("| env | " + " | ".join(PATHS) + " | " + " | ".join(f"after vs {p}" for p in BASELINES) + " |")
    print("|---|" + "---:|" * (len(PATHS) + len(BASELINES)))
    for n_envs, label in ((0, "single (`gym.make`)"), (16, "`gym.make_vec(..., 16)`")):
        r = env_rates(n_envs, args.steps, args.rounds)
        cells = " | ".join(f"{v['steps_per_s']:,.0f} ({100 * v['reset_share']:.0f} % resets)" for v in r.values())
        a = r["after"]["steps_per_s"]
        ratios = " | ".join(f"{a / r[p]['steps_per_s']:.2f}×" for p in BASELINES)
        print(f"| {label} | {cells} | {ratios} |", flush=True)
    if args.steady_steps > 0:
        print_steady(args)


def _family_of(task) -> str:
    return type(task).__name__.removesuffix("Task").lower()


def reset_in_steps(build_ahead: int, warm_steps: int, steps: int, seed: int) -> dict[str, tuple[float, float, int]]:
    """A long run of one ``gym.make`` env (today's path, ``build_ahead`` as given), wall clock of
    the env's thread: per family of the instance, (mean µs per env step, mean µs per reset into
    that family, resets) over ``steps`` measured steps after ``warm_steps`` unmeasured ones."""
    actions = np.random.default_rng(seed)
    env = gym.make(ENV_ID, build_ahead=build_ahead)
    env.reset(seed=seed)
    _random_actions(env, actions, 0, warm_steps)
    cache_module.shared_cache().clear()
    step_s, step_n, reset_s, reset_n = {}, {}, {}, {}
    for _ in range(steps):
        family = _family_of(env.unwrapped.task)
        t0 = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(int(actions.integers(5)))
        step_s[family] = step_s.get(family, 0.0) + time.perf_counter() - t0
        step_n[family] = step_n.get(family, 0) + 1
        if terminated or truncated:
            t0 = time.perf_counter()
            env.reset()
            family = _family_of(env.unwrapped.task)
            reset_s[family] = reset_s.get(family, 0.0) + time.perf_counter() - t0
            reset_n[family] = reset_n.get(family, 0) + 1
    env.close()
    return {f: (1e6 * step_s[f] / step_n[f], 1e6 * reset_s[f] / reset_n[f], reset_n[f]) for f in sorted(reset_s)}


def print_reset_in_steps(args) -> None:
    """A reset's cost in its family's own env steps, without and with ``build_ahead``."""
    depth = BUILD_AHEAD["single"]
    seed = 50_000
    warm_up()
    reset_in_steps(0, args.warm_steps, args.steady_steps // 4, seed)  # not measured
    rows = {d: reset_in_steps(d, args.warm_steps, args.steady_steps, seed) for d in (0, depth)}
    print(f"\nA reset in its family's own env steps (one `gym.make` env, seed {seed}, {args.steady_steps:,} "
          f"measured steps after {args.warm_steps:,}; wall clock of the env's thread; µs per env step, µs per "
          "reset, resets):\n")
    print(f"| family | env step, µs | reset, µs | reset in env steps | with `build_ahead={depth}`: reset, µs | "
          "reset in env steps | resets |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for family, (step, reset, n) in rows[0].items():
        step_a, reset_a, _ = rows[depth].get(family, (float("nan"),) * 3)
        print(f"| {family} | {step:,.0f} | {reset:,.0f} | {reset / step:.1f} | {reset_a:,.0f} | "
              f"{reset_a / step:.1f} | {n} |", flush=True)


#: the per-id table's env ids: each family's own and the mixed one (one family's instances per
#: episode, or any family's)
PER_ID = ("LRControl-LinReg-v1", "LRControl-Quadratic-v1", "LRControl-MLP-v1", "LRControl-Recsys-v1", ENV_ID)


def env_thread_run(env_id: str, build_ahead: int, warm_steps: int, steps: int, seed: int) -> dict[str, float]:
    """A long run of one ``gym.make(env_id, build_ahead=...)`` env, random actions, after
    ``warm_steps`` unmeasured steps (cache emptied after them): the wall clock, and the CPU time
    of the env's own thread (``time.thread_time``) in its steps, in µs per step, and the resets
    served by a build ahead. The second
    tells whether the builder's core slows the env's own work (a shared core, or vector units
    shared by the two vCPUs): the same steps take more of the env thread's CPU time."""
    actions = np.random.default_rng(seed)
    env = gym.make(env_id, build_ahead=build_ahead)
    env.reset(seed=seed)
    _random_actions(env, actions, 0, warm_steps)
    cache_module.shared_cache().clear()
    step_cpu = 0.0
    w0 = time.perf_counter()
    for _ in range(steps):
        c0 = time.thread_time()
        _, _, terminated, truncated, _ = env.step(int(actions.integers(5)))
        step_cpu += time.thread_time() - c0
        if terminated or truncated:
            env.reset()
    wall = time.perf_counter() - w0
    hits = env.unwrapped.build_ahead_counts[0]
    env.close()
    return {"wall": wall, "step_cpu_us": 1e6 * step_cpu / steps, "hits": hits}


#: measured steps per env id of the per-id table, scaled to its step's cost (≈ the same wall
#: clock per id)
PER_ID_STEPS = {"LRControl-LinReg-v1": 1.0, "LRControl-Quadratic-v1": 4.0, "LRControl-MLP-v1": 0.25,
                "LRControl-Recsys-v1": 0.5, ENV_ID: 0.5}


def per_id_rates(steps: int, seeds: int, first_seed: int = 70_000) -> dict[str, dict[int, dict[str, float]]]:
    """:func:`env_thread_run` per env id of :data:`PER_ID`, ``build_ahead`` 0 and
    :data:`BUILD_AHEAD` ``["single"]``, ``seeds`` seeds each (alternating which goes first),
    over all seeds: {id: {depth: {steps/s of wall clock, env thread µs per step, hits}}}."""
    warm_up()
    depth = BUILD_AHEAD["single"]
    out = {}
    for env_id in PER_ID:
        n = max(200, int(steps * PER_ID_STEPS[env_id]))
        runs = {0: [], depth: []}
        for k in range(seeds):
            for d in (0, depth)[:: 1 if k % 2 == 0 else -1]:
                runs[d].append(env_thread_run(env_id, d, n // 5, n, first_seed + 1000 * k))
        out[env_id] = {
            d: {"steps_per_s": len(r) * n / sum(x["wall"] for x in r),
                "step_cpu_us": float(np.mean([x["step_cpu_us"] for x in r])),
                "hits": sum(x["hits"] for x in r)}
            for d, r in runs.items()
        }
    return out


@numba.njit(cache=True, nogil=True)
def _dependent_adds(x, rounds):
    """Scalar work bound by latency: one running sum (the core's adder waits on itself)."""
    s = 0.0
    for _ in range(rounds):
        for i in range(x.shape[0]):
            s += x[i] * 1.0000001
    return s


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _vector_fmas(x, y, rounds):
    """Work bound by the vector units' throughput: y ← 0.999 y + x over an L1-sized array."""
    for _ in range(rounds):
        for i in range(x.shape[0]):
            y[i] = y[i] * 0.999 + x[i]
    return y[0]


@numba.njit(cache=True, nogil=True)
def _small_gemms(A, W, Z, rounds):
    """An MLP evaluation chunk's product (256 × 50 by 50 × 50) through BLAS, on one thread."""
    for _ in range(rounds):
        np.dot(A, W, Z)


def two_thread_scaling(repeats: int = 3) -> dict[str, float]:
    """How much a second thread adds on this machine: per kind of work, the wall-clock speed-up
    of two threads each doing one job over one thread doing both (2.0: two independent cores;
    ≈ 1: the second vCPU shares the first's execution units; < 1: it also slows the first).
    Best of ``repeats``. The builder of ``build_ahead`` is such a second thread."""
    from concurrent.futures import ThreadPoolExecutor

    from lrgym.tasks.blas import blas_single_thread

    rng = np.random.default_rng(0)
    xv, ys = [rng.random(512), rng.random(512)], [np.zeros(512), np.zeros(512)]
    A, W = rng.random((256, 50)), rng.random((50, 50))
    Zs = [np.zeros((256, 50)), np.zeros((256, 50))]
    xs = [rng.random(4096), rng.random(4096)]
    jobs = {
        "scalar, latency-bound adds": lambda i: _dependent_adds(xs[i], 4000),
        "vector FMAs (L1)": lambda i: _vector_fmas(xv[i], ys[i], 200_000),
        "BLAS products (one thread each)": lambda i: _small_gemms(A, W, Zs[i], 1500),
    }
    out = {}
    with blas_single_thread(), ThreadPoolExecutor(1) as pool:
        for name, job in jobs.items():
            job(0), job(1)  # compile / warm
            best = 0.0
            for _ in range(repeats):
                t0 = time.perf_counter()
                job(0), job(1)
                one = time.perf_counter() - t0
                t0 = time.perf_counter()
                other = pool.submit(job, 1)
                job(0)
                other.result()
                best = max(best, one / (time.perf_counter() - t0))
            out[name] = best
    return out


def print_per_id(args) -> None:
    """Does ``build_ahead`` pay on this machine? Per env id, with and without (:func:`per_id_rates`),
    after the machine's two-thread scaling (:func:`two_thread_scaling`)."""
    scaling = two_thread_scaling()
    print("\nTwo threads against one on this machine (wall clock, best of 3; 2.00× = two independent cores):\n")
    print("| work | two threads vs one |")
    print("|---|---:|")
    for name, r in scaling.items():
        print(f"| {name} | {r:.2f}× |")
    depth = BUILD_AHEAD["single"]
    steps, seeds = args.per_id_steps, args.per_id_seeds
    rows = per_id_rates(steps, seeds)
    print(f"\nOne `gym.make` env per id, a new instance every episode, random actions ({seeds} seeds; measured "
          f"steps per seed: {steps:,} × {', '.join(f'{PER_ID_STEPS[i]:g}' for i in PER_ID)} for the ids in order, "
          "each after a fifth as many unmeasured ones); env steps/s of wall clock, and the env thread's CPU "
          "time per step:\n")
    print(f"| env id | `build_ahead=0`: steps/s | step, env thread µs | `build_ahead={depth}`: steps/s | "
          "step, env thread µs | with vs without | resets served ahead |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for env_id, r in rows.items():
        off, on = r[0], r[depth]
        print(f"| `{env_id}` | {off['steps_per_s']:,.0f} | {off['step_cpu_us']:,.0f} | {on['steps_per_s']:,.0f} | "
              f"{on['step_cpu_us']:,.0f} | {on['steps_per_s'] / off['steps_per_s']:.2f}× | {on['hits']:,} |", flush=True)


def print_steady(args) -> None:
    """The steady-state table (:func:`steady_rates`)."""
    print(f"\n`{ENV_ID}` in a long run, a new instance every episode, random actions ({args.steady_seeds} seeds × "
          f"{args.steady_steps:,} measured env steps per path, each after {args.warm_steps:,} unmeasured ones; env "
          "steps/s of CPU time (the process's, every thread), share of it in resets over all seeds, [per seed]; "
          "env steps/s of wall clock (share of it in resets); \"after, build ahead\": `build_ahead="
          f"{BUILD_AHEAD['single']}` (single), `{BUILD_AHEAD['vector']}` (each sub-env)):\n")
    print("| env | " + " | ".join(STEADY_PATHS) + " | resets (cache hits) per path | wall clock: after, build ahead vs "
          "before, 2 BLAS threads / vs after |")
    print("|---|" + "---:|" * (len(STEADY_PATHS) + 2))
    for n_envs, label in ((0, "single (`gym.make`)"), (16, "`gym.make_vec(..., 16)`")):
        r = steady_rates(n_envs, args.warm_steps, args.steady_steps, args.steady_seeds)
        cells = " | ".join(
            f"{v['steps_per_s']:,.0f} ({100 * v['reset_share']:.1f} % resets) "
            f"[{', '.join(f'{100 * s:.1f}' for s in v['shares'])}]; wall {v['wall_steps_per_s']:,.0f} "
            f"({100 * v['wall_reset_share']:.1f} %)"
            for v in r.values()
        )
        counts = r["after"]
        ahead = r["after, build ahead"]["wall_steps_per_s"]
        ratios = (f"{ahead / r['before, 2 BLAS threads']['wall_steps_per_s']:.2f}× / "
                  f"{ahead / r['after']['wall_steps_per_s']:.2f}×")
        print(f"| {label} | {cells} | {counts['resets']:,} ({counts['hits']}) | {ratios} |", flush=True)
    print_reset_in_steps(args)


if __name__ == "__main__":
    main()
