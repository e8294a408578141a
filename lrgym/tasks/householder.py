"""Householder QR in compiled code, whose rounding is part of a linreg instance.

Linear regression's exact losses come from a QR factorisation of each instance's rows
(:func:`lrgym.tasks.linreg.qr_stats`), so the QR's bits are part of the instance.
:func:`householder_qr` is the canonical kernel: one reflector at a time, each inner loop along a
contiguous row. Builds run it in a ≈ 3× faster form (:func:`householder_qr_blocked`; for
d ≥ 96, a form that applies 16 reflectors at a time to each pair of rows, one pass over the
pair per reflector, :func:`householder_qr_panel` with ``fuse``, another 1.1 – 1.5×) only where a
per-process self-check shows that they give the same bits (:func:`qr_kernel`). Where no
block length passes (AVX2, AMD znver3: the canonical loop compiled on its own, ``_*_rest``, is
vectorised unlike its copy inside :func:`householder_qr`), block length 1 runs every sum as one
loop over a slice, vector epilogue and tail included (see :data:`QR_BLOCKS`), and the fused
panel pass runs one row at a time (:data:`FUSE_ROWS`).
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np

from lrgym.tasks.base import FAST_MATH


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def householder_qr(A, k):
    """In-place Householder QR of the matrix whose *columns* are the rows of ``A`` (so every
    inner loop runs along a contiguous row of ``A``): afterwards ``A[j, :j+1]`` holds column j
    of R for the first ``k`` columns, and the later columns hold Qᵀ times the original column.
    """
    m, n = A.shape
    for col in range(k):
        a = A[col]
        norm2 = 0.0
        for i in range(col, n):
            norm2 += a[i] * a[i]
        if norm2 == 0.0:
            continue
        x0 = a[col]
        alpha = -math.sqrt(norm2) if x0 >= 0.0 else math.sqrt(norm2)
        vv = norm2 - x0 * x0 + (x0 - alpha) * (x0 - alpha)
        a[col] = x0 - alpha  # a[col:] is now the Householder vector v
        scale = 2.0 / vv
        j = col + 1
        while j + 1 < m:  # two columns per pass over v (2.4x faster than one)
            t0 = A[j]
            t1 = A[j + 1]
            s0 = 0.0
            s1 = 0.0
            for i in range(col, n):
                s0 += a[i] * t0[i]
                s1 += a[i] * t1[i]
            f0 = scale * s0
            f1 = scale * s1
            for i in range(col, n):
                t0[i] -= f0 * a[i]
                t1[i] -= f1 * a[i]
            j += 2
        if j < m:
            t = A[j]
            s = 0.0
            for i in range(col, n):
                s += a[i] * t[i]
            f = scale * s
            for i in range(col, n):
                t[i] -= f * a[i]
        a[col] = alpha
        for i in range(col + 1, n):
            a[i] = 0.0


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _sq_rest(a, lo, n, s):
    """s + Σ a[i]² over i = lo..n−1: the loop of :func:`householder_qr`, started from s."""
    for i in range(lo, n):
        s += a[i] * a[i]
    return s


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _dot_rest(a, t, lo, n, s):
    """s + Σ a[i]·t[i] over i = lo..n−1: the loop of :func:`householder_qr`, started from s."""
    for i in range(lo, n):
        s += a[i] * t[i]
    return s


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _dot2_rest(a, t0, t1, lo, n, s0, s1):
    """The two-column loop of :func:`householder_qr` over i = lo..n−1, started from (s0, s1)."""
    for i in range(lo, n):
        s0 += a[i] * t0[i]
        s1 += a[i] * t1[i]
    return s0, s1


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def householder_qr_blocked(A, k, block):
    """:func:`householder_qr` with the same arithmetic, ≈ 3× faster: every sum's first
    ⌊len/block⌋·block terms run in a loop over contiguous slices, the rest in the canonical loop
    (``_*_rest``), started from the partial sum.

    Why it can be the same to the bit: the compiler vectorises the canonical loops (``reassoc``)
    into a main loop over blocks of VF·UF terms (VF lanes, UF accumulators, combined in a fixed
    tree), then a vector epilogue and a scalar tail that continue from the main loop's sum.
    Numba's negative-index wraparound makes those loads gathers (slow); over a slice indexed
    from 0 they are plain loads. When ``block`` = VF·UF and both loops get the same VF, UF and
    tree, the main blocks add up identically and the rest is the canonical loop itself. That is
    a property of the compiler's choices on the running CPU, so it is checked there, not assumed:
    :func:`qr_kernel` uses this kernel only after it reproduced :func:`householder_qr` bit for bit
    on every sum length from 1 to 160 (pair and single columns).

    ``block`` = 1: ``mid`` = n, every sum is one loop over a slice (its main loop, vector
    epilogue and scalar tail all the compiler's), the canonical loop runs no term. The same
    bits where the slice loop gets the canonical loop's whole structure, not only its main
    block: on AVX2 (znver3) both are a main loop of 4 × 4 lanes, a vector epilogue of 4 lanes
    started from the main loop's sum, then a scalar tail (read from the assembly), while the
    canonical loop compiled on its own (``_*_rest``) gets a main loop of 4 × 2 lanes and no
    vector epilogue, so no longer block passes there.
    """
    m, n = A.shape
    for col in range(k):
        a = A[col]
        mid = col + ((n - col) // block) * block
        made, alpha, scale = _reflector(a, col, mid, n)
        if not made:
            continue
        j = col + 1
        while j + 1 < m:
            s0, s1 = _dot_pair(a, A[j], A[j + 1], col, mid, n)
            _axpy_pair(a, A[j], A[j + 1], col, n, scale * s0, scale * s1)
            j += 2
        if j < m:
            _axpy_single(a, A[j], col, n, scale * _dot_single(a, A[j], col, mid, n))
        a[col] = alpha
        for i in range(col + 1, n):
            a[i] = 0.0


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _reflector(a, col, mid, n):
    """Turn column ``col`` (row ``a`` of the QR's working array, entries col..n−1) into its
    Householder vector, as :func:`householder_qr` does: returns (made, α, 2 / vᵀv) with
    ``a[col]`` set to x₀ − α; (False, 0, 0) and ``a`` unchanged for a zero column. ‖a‖² runs over
    slices up to ``mid``, then the canonical loop (see :func:`householder_qr_blocked`)."""
    av = a[col:mid]
    norm2 = 0.0
    for i in range(mid - col):
        norm2 += av[i] * av[i]
    norm2 = _sq_rest(a, mid, n, norm2)
    if norm2 == 0.0:
        return False, 0.0, 0.0
    x0 = a[col]
    alpha = -math.sqrt(norm2) if x0 >= 0.0 else math.sqrt(norm2)
    vv = norm2 - x0 * x0 + (x0 - alpha) * (x0 - alpha)
    a[col] = x0 - alpha
    return True, alpha, 2.0 / vv


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _dot_pair(a, t0, t1, col, mid, n):
    """(a·t0, a·t1) over i = col..n−1: the two-column sums of :func:`householder_qr_blocked`
    (main blocks over slices up to ``mid``, then the canonical loop)."""
    av = a[col:mid]
    t0v = t0[col:mid]
    t1v = t1[col:mid]
    s0 = 0.0
    s1 = 0.0
    for i in range(mid - col):
        s0 += av[i] * t0v[i]
        s1 += av[i] * t1v[i]
    return _dot2_rest(a, t0, t1, mid, n, s0, s1)


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _dot_single(a, t, col, mid, n):
    """a·t over i = col..n−1: the one-column sum of :func:`householder_qr_blocked`."""
    av = a[col:mid]
    tv = t[col:mid]
    s = 0.0
    for i in range(mid - col):
        s += av[i] * tv[i]
    return _dot_rest(a, t, mid, n, s)


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _axpy_pair(a, t0, t1, col, n, f0, f1):
    """t0 −= f0·a, t1 −= f1·a over i = col..n−1 (elementwise: each row's values do not depend
    on the other's)."""
    aw = a[col:]
    t0w = t0[col:]
    t1w = t1[col:]
    for i in range(n - col):
        t0w[i] -= f0 * aw[i]
        t1w[i] -= f1 * aw[i]


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _axpy_single(a, t, col, n, f):
    """t −= f·a over i = col..n−1."""
    aw = a[col:]
    tw = t[col:]
    for i in range(n - col):
        tw[i] -= f * aw[i]


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _axpy_dot2_blocks(vv, wv, t0v, t1v, f0, f1):
    """t0 −= f0·v, t1 −= f1·v and, from the new values, (w·t0, w·t1): one pass over slices of
    the same length (a multiple of the main block), so each row entry is loaded and stored once.

    The update rounds as in :func:`_axpy_pair` (one FMA per entry); the two sums are
    :func:`_dot_pair`'s main loop over the updated values when the compiler vectorises this
    loop as that one (same VF, UF and tree). Written so that it can: its own function (its own
    register budget: the compiler's choice of UF depends on it — inlined into a larger loop body
    it got UF = 2 here and other bits), ``w`` loaded once, the sums before the stores. The rows
    and the reflectors live in different arrays, so the loop's run-time overlap check always
    takes the vectorised path. Checked with the rest of :func:`householder_qr_panel` by
    :func:`qr_kernel`."""
    s0 = 0.0
    s1 = 0.0
    for i in range(vv.shape[0]):
        w = wv[i]
        v = vv[i]
        x0 = t0v[i] - f0 * v
        x1 = t1v[i] - f1 * v
        s0 += w * x0
        s1 += w * x1
        t0v[i] = x0
        t1v[i] = x1
    return s0, s1


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _axpy_dot1_blocks(vv, wv, tv, f):
    """t −= f·v and, from the new values, w·t: :func:`_axpy_dot2_blocks` for one row
    (:data:`FUSE_ROWS`). With one row's sum in the loop, the compiler vectorises it as the
    canonical loop where the two-row loop is vectorised otherwise (AVX2, znver3: 4 × 4 lanes
    and a 4-lane epilogue here, 4 × 2 and none in the two-row loop)."""
    s = 0.0
    for i in range(vv.shape[0]):
        x = tv[i] - f * vv[i]
        s += wv[i] * x
        tv[i] = x
    return s


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _axpy_dot_pair(v, w, t0, t1, col, colw, midw, n, f0, f1, one1, rows=False):
    """Reflector ``v`` (from ``col``) applied to rows t0, t1 with factors f0, f1, fused with the
    sums of the next reflector ``w`` (from ``colw`` > ``col``, main blocks up to ``midw``) over
    the updated rows: returns (w·t0, w·t1) over i = colw..n−1 as :func:`_dot_pair` would compute
    them after :func:`_axpy_pair` — the one-column sum (:func:`_dot_single`) for t1 when
    ``one1``. Entries before ``colw`` and from ``midw`` on are updated first (elementwise, so
    the same bits in any order), then the canonical loops run the rest of the sums. ``rows``:
    the fused pass runs one row at a time (:func:`_axpy_dot1_blocks`), the other entries alike."""
    for i in range(col, colw):
        t0[i] -= f0 * v[i]
        t1[i] -= f1 * v[i]
    vr = v[midw:n]
    t0r = t0[midw:n]
    t1r = t1[midw:n]
    for i in range(n - midw):
        t0r[i] -= f0 * vr[i]
        t1r[i] -= f1 * vr[i]
    if rows:
        s0 = _axpy_dot1_blocks(v[colw:midw], w[colw:midw], t0[colw:midw], f0)
        s1 = _axpy_dot1_blocks(v[colw:midw], w[colw:midw], t1[colw:midw], f1)
    else:
        s0, s1 = _axpy_dot2_blocks(v[colw:midw], w[colw:midw], t0[colw:midw], t1[colw:midw], f0, f1)
    if one1:
        s0, _ = _dot2_rest(w, t0, t1, midw, n, s0, s1)
        return s0, _dot_rest(w, t1, midw, n, s1)
    return _dot2_rest(w, t0, t1, midw, n, s0, s1)


@numba.njit(cache=True, nogil=True, _nrt=False, fastmath=FAST_MATH, error_model="numpy")
def _apply_panel_fused(t0, t1, V, scales, made, c0, c1, tail, last, block, rows=False):
    """Reflectors c0..c1−1 (vectors ``V``, 2 / vᵀv ``scales``, skipping those not ``made``)
    applied in turn to the rows t0, t1 (``tail``: t1 is the last row of the matrix), each update
    fused with the next reflector's sums (:func:`_axpy_dot_pair`): the same operations on every
    entry as in :func:`householder_qr_panel`'s unfused loop, one pass per reflector instead of
    two. The first reflector's sums are a plain :func:`_dot_pair`, the last one's update a plain
    :func:`_axpy_pair`. ``rows``: see :func:`_axpy_dot_pair`."""
    n = t0.shape[0]
    prev = -1
    s0 = 0.0
    s1 = 0.0
    for col in range(c0, c1):
        p = col - c0
        if not made[p]:
            continue
        mid = col + ((n - col) // block) * block
        one1 = tail and (last - col) % 2 == 1  # the canonical one-column case
        if prev < 0:
            s0, s1 = _dot_pair(V[p], t0, t1, col, mid, n)
            if one1:
                s1 = _dot_single(V[p], t1, col, mid, n)
        else:
            f = scales[prev]
            s0, s1 = _axpy_dot_pair(V[prev], V[p], t0, t1, c0 + prev, col, mid, n, f * s0, f * s1, one1, rows)
        prev = p
    if prev >= 0:
        f = scales[prev]
        _axpy_pair(V[prev], t0, t1, c0 + prev, n, f * s0, f * s1)


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def householder_qr_panel(A, k, block, panel, fuse=False):
    """:func:`householder_qr_blocked`'s arithmetic in another order of the same operations:
    reflectors are made ``panel`` at a time and then applied to the rows below the panel one
    pair of rows at a time, every reflector of the panel in turn, while the pair stays in the
    L1 cache and the panel's reflectors in L2 (the right-looking kernels stream every remaining
    row through the cache once per reflector: ≈ 4 MB per reflector at 2,048 × 256).

    Why it gives the same bits: a row's values after reflector c depend only on its values
    before it and on reflector c, through one dot product (a vectorised sum, :func:`_dot_pair`
    or :func:`_dot_single`) and one elementwise update. Every row still receives reflectors
    0, 1, … in order, each reflector is made from its row after all earlier reflectors (the
    panel is first worked right-looking within itself), and each (reflector, row) sum runs the
    loop the canonical kernel runs for it: the one-column loop for the last row when the rows
    after the reflector's are odd in number, the two-column loop otherwise (in either slot of
    the pair, or paired with itself: a sum over one row does not read the other). A reflector
    vector is kept in ``V`` until its panel is done (the canonical kernel overwrites it by the
    column of R at once). That the compiled loops behave so (both slots of the two-column loop
    alike, the update's contraction the same in every loop) is the compiler's choice on the
    running CPU, so :func:`qr_kernel` checks it against :func:`householder_qr` before use.

    ``fuse``: the pairs of rows go through :func:`_apply_panel_fused`, which makes one pass over
    the pair per reflector instead of two (the update by reflector c and the sums of reflector
    c + 1 in one loop, :func:`_axpy_dot_pair`): the same operations on every entry, so the same
    bits when that loop's sums are vectorised as :func:`_dot_pair`'s — checked separately
    (:func:`qr_kernel`). ``fuse`` = :data:`FUSE_ROWS`: that pass runs one row of the pair at a
    time (:func:`_axpy_dot1_blocks`), for a CPU where only that loop is vectorised so.
    """
    m, n = A.shape
    V = np.empty((panel, n))
    scales = np.empty(panel)
    made = np.empty(panel, dtype=np.bool_)  # False: the column was zero, no reflector
    last = m - 1
    c0 = 0
    while c0 < k:
        c1 = min(k, c0 + panel)
        # 1. the panel's reflectors, right-looking within the panel's rows
        for col in range(c0, c1):
            p = col - c0
            a = A[col]
            mid = col + ((n - col) // block) * block
            made[p], alpha, scale = _reflector(a, col, mid, n)
            if not made[p]:  # no reflector (the canonical kernel's ``continue``)
                continue
            scales[p] = scale
            v = V[p]
            for i in range(col, n):
                v[i] = a[i]
            j = col + 1
            while j + 1 < c1:  # panel rows are below k <= m - 1: never the one-column case
                s0, s1 = _dot_pair(v, A[j], A[j + 1], col, mid, n)
                _axpy_pair(v, A[j], A[j + 1], col, n, scale * s0, scale * s1)
                j += 2
            if j < c1:
                s0, s1 = _dot_pair(v, A[j], A[j], col, mid, n)
                _axpy_single(v, A[j], col, n, scale * s0)
            a[col] = alpha
            for i in range(col + 1, n):
                a[i] = 0.0
        # 2. the rows below the panel: a pair of rows at a time, every reflector of the panel
        j = c1
        while fuse and j + 1 < m:  # fused: one pass over the pair per reflector
            _apply_panel_fused(A[j], A[j + 1], V, scales, made, c0, c1, j + 1 == last, last, block,
                               fuse == FUSE_ROWS)
            j += 2
        while j + 1 < m:  # unfused (no pairs left here when fused): sums, then the update
            t0 = A[j]
            t1 = A[j + 1]
            for col in range(c0, c1):
                p = col - c0
                if not made[p]:
                    continue
                scale = scales[p]
                v = V[p]
                mid = col + ((n - col) // block) * block
                s0, s1 = _dot_pair(v, t0, t1, col, mid, n)
                if j + 1 == last and (last - col) % 2 == 1:  # the canonical one-column case
                    s1 = _dot_single(v, t1, col, mid, n)
                _axpy_pair(v, t0, t1, col, n, scale * s0, scale * s1)
            j += 2
        if j < m:  # the last row alone
            t = A[j]
            for col in range(c0, c1):
                p = col - c0
                if not made[p]:
                    continue
                scale = scales[p]
                v = V[p]
                mid = col + ((n - col) // block) * block
                if (last - col) % 2 == 1:
                    s = _dot_single(v, t, col, mid, n)
                else:
                    s, _ = _dot_pair(v, t, t, col, mid, n)
                _axpy_single(v, t, col, n, scale * s)
        c0 = c1


#: main-block lengths tried by :func:`qr_kernel` (VF·UF: 8 lanes × 4 on AVX-512, 4 × 4 on AVX2, ...),
#: in this order; 1 last: each sum in one slice loop (:func:`householder_qr_blocked`), the form
#: that passes on AVX2 (AMD znver3), where every longer block fails the check
QR_BLOCKS = (32, 16, 64, 8, 1)
#: ``fuse`` of :func:`householder_qr_panel` whose fused pass runs one row at a time (True: both rows
#: in one loop); tried by :func:`qr_kernel` where the two-row form fails its check
FUSE_ROWS = 2
#: reflectors per panel of :func:`householder_qr_panel` (16 rows of 2,048 doubles: 256 KiB in L2)
QR_PANEL = 16
#: :func:`householder_qr_fast` runs the panel kernel on matrices of more rows than this (its
#: fused form: than :data:`QR_FUSED_MIN_ROWS`) and at least :data:`QR_PANEL_MIN_COLS` columns
#: (every eval and validation QR of an instance with d ≥ 96, fused d ≥ 64), the blocked kernel on
#: the others. Measured on the benchmark machine (AMD EPYC, 1 MiB L2 per core; median of 7 – 9,
#: interleaved), ms per QR (blocked / panel / fused) of d + 1 rows × n columns: d = 250:
#: n = 256 1.41 / 1.32 / 1.32 (from another run), 512 2.76 / 2.60 / 2.07, 1,024 5.45 / 4.57 /
#: 3.63; d = 128: n = 512 0.78 / 0.71 / 0.60, 1,024 1.48 / 1.32 / 1.09; d = 96: n = 256
#: 0.251 / 0.244, 512 0.445 / 0.432, 1,536 1.28 / 1.19; d = 64 (blocked / fused): n = 256
#: 0.119 / 0.114, 512 0.210 / 0.186, 2,048 0.776 / 0.699; d = 60: n = 256 0.110 / 0.115, 512
#: 0.192 / 0.167; d = 48: n = 256 0.070 / 0.071, 1,024 0.224 / 0.235; d = 32: n = 512
#: 0.059 / 0.065. Unfused, the panel form pays off once there are enough rows below a panel to
#: amortise its copies (d ≳ 80), at every column count from 256 on: the working set (≈ 8·d·n
#: bytes) passes through L1 once per panel instead of once per reflector; fused, it makes one
#: pass per reflector where the blocked kernel makes two, and pays off from d ≈ 64.
QR_PANEL_MIN_ROWS = 96
QR_FUSED_MIN_ROWS = 64
QR_PANEL_MIN_COLS = 256
_QR_KERNEL = None


@numba.njit(cache=True, nogil=True)
def householder_qr_fast(A, k, block, panel, fuse=False):
    """:func:`householder_qr_panel` (``fuse``: its fused form) for large matrices,
    :func:`householder_qr_blocked` for the others (:data:`QR_PANEL_MIN_ROWS`): both compute the
    canonical kernel's bits (checked by :func:`qr_kernel`)."""
    min_rows = QR_FUSED_MIN_ROWS if fuse else QR_PANEL_MIN_ROWS
    if A.shape[0] > min_rows and A.shape[1] >= QR_PANEL_MIN_COLS:
        householder_qr_panel(A, k, block, panel, fuse)
    else:
        householder_qr_blocked(A, k, block)


def _reproduces_canonical_qr(block: int, panel: int = 0, fuse: bool | int = False) -> bool:
    """Whether :func:`householder_qr_blocked` with ``block`` (with ``panel`` > 0:
    :func:`householder_qr_panel` with ``block``, ``panel`` and ``fuse``) gives
    :func:`householder_qr`'s bits on this CPU for every sum length 1..160 (two matrices: the odd
    column of each pass falls on every length in one or the other; for the panel kernel, every
    (reflector, row) case — both slots of the two-column loop, a row paired with itself, the
    one-column last row, fused or not — occurs on every length)."""
    rng = np.random.default_rng(12345)
    for rows in (161, 162):
        A = rng.standard_normal((rows, 160)) * np.exp(rng.uniform(-3.0, 3.0, size=(rows, 1)))
        B = A.copy()
        householder_qr(A, 160)
        if panel:
            householder_qr_panel(B, 160, block, panel, fuse)
        else:
            householder_qr_blocked(B, 160, block)
        if not np.array_equal(A.view(np.int64), B.view(np.int64)):
            return False
    return True


def qr_kernel():
    """The QR kernel :func:`qr_stats` uses: ``A, k ->`` in-place :func:`householder_qr`, computed
    by the first faster form that reproduces the canonical kernel on this CPU (checked once per
    process, ≈ 30 ms): :func:`householder_qr_fast` (blocked, and panels for large matrices, fused
    when that form passes too, else fused one row at a time, :data:`FUSE_ROWS`, when that
    passes) when both :func:`householder_qr_blocked` and :func:`householder_qr_panel` pass the
    check with a block length,
    :func:`householder_qr_blocked` when only it does, else the canonical kernel itself."""
    global _QR_KERNEL
    if _QR_KERNEL is None:
        kernel = householder_qr
        for block in QR_BLOCKS:
            if _reproduces_canonical_qr(block):
                kernel = functools.partial(householder_qr_blocked, block=block)
                if _reproduces_canonical_qr(block, QR_PANEL):
                    fuse = _reproduces_canonical_qr(block, QR_PANEL, fuse=True)
                    if not fuse and _reproduces_canonical_qr(block, QR_PANEL, fuse=FUSE_ROWS):
                        fuse = FUSE_ROWS
                    kernel = functools.partial(householder_qr_fast, block=block, panel=QR_PANEL, fuse=fuse)
                break
        _QR_KERNEL = kernel
    return _QR_KERNEL

