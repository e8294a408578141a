"""Sparse row updates over :func:`lrgym.optim.update_coordinate` for the recommender kernels
(the dense update every other family uses is :func:`lrgym.optim.apply_update`, imported from there).

(History: ``optim.apply_update`` called ``update_coordinate(..., opt, ...)`` with a run-time ``opt``
inside its coordinate loop, so every coordinate goes through the six-way branch of update
rules and nothing vectorised: ≈15 ns per coordinate for SGD and ≈30 ns for Adam, measured on a
4,810-parameter MLP (75 µs per update, more than its forward and backward passes together);
the dense loop now lives in ``optim.apply_update``.)
The functions here branch on ``opt`` once and call ``update_coordinate`` with a *constant*
rule in each branch, so LLVM removes the other rules and vectorises the loop (SGD ≈0.3 ns,
Adam ≈3 ns per coordinate). ``error_model="numpy"`` drops the division-by-zero checks, and the
step counter is passed as a float, so Adam's bias corrections β₁ᵗ, β₂ᵗ are ``pow`` calls
that LLVM hoists out of the loop (as in ``torch.optim.Adam``, which also takes the power of a
float step). The hyper-parameters are passed on as a tuple of floats: read from the ``hyper``
array, LLVM cannot rule out that the stores into ``params`` / ``slots`` change them, reloads
them every coordinate and recomputes β₁ᵗ, β₂ᵗ (5× slower sparse Adam).

The update formulas are ``optim``'s, unchanged (the same ``update_coordinate``); results can
differ from ``optim.apply_update`` in the last bit: there β₁ᵗ is an integer power by repeated
multiplication, and that compilation may fuse ``p − η g`` into one FMA. No fast-math here, so
each update is rounded exactly like the formula in ``torch.optim``.
"""

from __future__ import annotations

import numba

from lrgym.optim import (
    ADAGRAD,
    ADAM,
    MOMENTUM,
    NESTEROV,
    RMSPROP,
    SGD,
    hyper_tuple,
    update_coordinate,
)


#: the sum of the updated coordinates' new values cannot overflow when each has |x| ≤ this / their count
SAFE_SUM = 1e300


@numba.njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _rows(params, slots, starts, G, n_rows, tf, lr, opt, hyper, large):
    width = G.shape[1]
    limit = SAFE_SUM / max(n_rows * width, 1)
    # the large values are counted per column, elementwise across rows (large[j] += ...): a count
    # per row would end every row's vectorised loop in a horizontal sum (≈ 25 % of this function
    # on the recommender's 17-wide rows)
    for j in range(width):
        large[j] = 0.0
    for k in range(n_rows):  # G[k, j], params[s + j]: no per-row views (a refcount pair each)
        # max(·, 0) (a no-op: offsets are ≥ 0) tells LLVM that s + j is not a negative index,
        # so Numba's wrap-around select goes and the row's loop vectorises (elementwise: no
        # change in any bit; no fast-math here)
        s = max(starts[k], 0)
        for j in range(width):
            update_coordinate(params, slots, s + j, G[k, j], lr, tf, opt, hyper)
            large[j] += 0.0 if abs(params[s + j]) <= limit else 1.0  # NaN counts as large
    n_large = 0.0
    for j in range(width):
        n_large += large[j]
    if n_large == 0.0:
        return 0.0
    total = 0.0
    for k in range(n_rows):
        s = starts[k]
        for j in range(width):
            total += params[s + j]
    return total


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _dispatch(params, slots, starts, G, n_rows, t, lr, opt, hyper, large):
    tf = float(t)
    h = hyper_tuple(hyper)
    if opt == SGD:
        return _rows(params, slots, starts, G, n_rows, tf, lr, SGD, h, large)
    elif opt == MOMENTUM:
        return _rows(params, slots, starts, G, n_rows, tf, lr, MOMENTUM, h, large)
    elif opt == NESTEROV:
        return _rows(params, slots, starts, G, n_rows, tf, lr, NESTEROV, h, large)
    elif opt == ADAM:
        return _rows(params, slots, starts, G, n_rows, tf, lr, ADAM, h, large)
    elif opt == RMSPROP:
        return _rows(params, slots, starts, G, n_rows, tf, lr, RMSPROP, h, large)
    return _rows(params, slots, starts, G, n_rows, tf, lr, ADAGRAD, h, large)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def apply_rule_rows(params, slots, starts, G, n_rows, t, lr, opt, hyper, large):
    """Sparse update: for k < n_rows, coordinates ``starts[k] + j`` get gradient ``G[k, j]``.

    Only these coordinates (and their optimizer slots) change: lazy semantics, with the
    global step counter t in Adam's bias corrections.

    Returns a number that is finite iff the sum of the updated coordinates' new values is (not
    finite iff one of them is not finite, or they overflow): 0.0 when every one is finite with
    |x| ≤ :data:`SAFE_SUM` / their count, so that no sum of them can overflow, else their sum in
    row order. The common case costs a vectorised count, not a serial chain of additions (one
    per coordinate, ≈ 4 cycles each: a third of a recommender update). ``large`` (length ≥ the
    row width) is scratch for that count.
    """
    return _dispatch(params, slots, starts, G, n_rows, t, lr, opt, hyper, large)

