"""Would the MLP's evaluation run faster on two threads, with the same bits? (issue #13)

    python -m benchmarks.mlp_eval_threads            # 12 instances of LRControl-MLP-v1 (≈ 1 min)

An MLP env step is ``n_updates`` minibatch updates and then an evaluation: the mean
cross-entropy over up to 2,048 training rows (and the validation rows), in fixed chunks of
:data:`lrgym.tasks.mlp.EVAL_CHUNK` rows whose per-row losses are added in row order. The chunks
are independent, so they can run on two threads with the same bits, as long as every chunk's
losses are kept and then added in the same order and grouping as
:func:`lrgym.tasks.mlp.dataset_loss` adds them (per chunk, with the kernels' fast-math flags:
the compiler vectorises each chunk's sum, so one running sum over all rows would differ in the
last bits). This module times the training-set evaluation three ways, on the same instances and
parameters, after checking that all three give the same (loss, accuracy) to the bit:

* **serial**: :func:`lrgym.tasks.mlp.dataset_loss`, as the env runs it;
* **prange**: a ``parallel=True`` kernel, the chunks split in two contiguous halves over Numba's
  threads;
* **two Python threads**: the second half of the chunks in a worker thread (a ``nogil`` kernel),
  the first half in the caller's thread.

BLAS runs on one thread per call in all three (as in the env). Wall clock, best of
``--repeats`` blocks of ``--calls`` calls, per instance; the table gives the mean over instances.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from benchmarks import harness as _harness  # noqa: F401  (BLAS on one thread before NumPy loads)

import gymnasium as gym  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import prange  # noqa: E402

import lrgym  # noqa: E402, F401  (registers the ids)
from lrgym.tasks.base import FAST_MATH  # noqa: E402
from lrgym.tasks.blas import blas_single_thread  # noqa: E402
from lrgym.tasks.mlp import EVAL_CHUNK, dataset_loss, forward, softmax_cross_entropy  # noqa: E402


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def chunk_losses(params, widths, offsets, relu, X, y, first, stop, acts, act_offsets, losses):
    """Per-row losses of rows ``first`` .. ``stop`` − 1 into ``losses[first:stop]``, in chunks of
    :data:`EVAL_CHUNK` from ``first`` (a multiple of it); returns the correct predictions."""
    correct = 0
    for start in range(first, stop, EVAL_CHUNK):
        rows = min(EVAL_CHUNK, stop - start)
        logits = forward(params, widths, offsets, relu, X[start:start + rows], acts, act_offsets)
        correct += softmax_cross_entropy(logits, y[start:start + rows], losses[start:start + rows])
    return correct


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def chunked_mean(losses, n_rows):
    """Σ losses / n_rows, added chunk by chunk exactly as :func:`dataset_loss` adds them."""
    total = 0.0
    for start in range(0, n_rows, EVAL_CHUNK):
        rows = min(EVAL_CHUNK, n_rows - start)
        part = losses[start:start + rows]
        for k in range(rows):
            total += part[k]
    return total / n_rows


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def split_point(n_rows):
    """The first row of the second half of the chunks."""
    n_chunks = (n_rows + EVAL_CHUNK - 1) // EVAL_CHUNK
    return min(n_rows, (n_chunks // 2) * EVAL_CHUNK) if n_chunks > 1 else n_rows


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=FAST_MATH, error_model="numpy")
def dataset_loss_prange(params, widths, offsets, relu, X, y, n_rows, acts2, act_offsets, losses):
    """:func:`dataset_loss` with the two halves of the chunks in a ``prange`` (``acts2``: one
    activation buffer per half)."""
    mid = split_point(n_rows)
    correct = np.zeros(2, dtype=np.int64)
    for h in prange(2):
        first = 0 if h == 0 else mid
        stop = mid if h == 0 else n_rows
        correct[h] = chunk_losses(params, widths, offsets, relu, X, y, first, stop, acts2[h], act_offsets, losses)
    return chunked_mean(losses, n_rows), (correct[0] + correct[1]) / n_rows


def dataset_loss_threads(pool, params, widths, offsets, relu, X, y, n_rows, acts2, act_offsets, losses):
    """:func:`dataset_loss` with the second half of the chunks in ``pool``'s worker thread."""
    mid = int(split_point(n_rows))
    other = pool.submit(chunk_losses, params, widths, offsets, relu, X, y, mid, n_rows, acts2[1], act_offsets, losses)
    correct = chunk_losses(params, widths, offsets, relu, X, y, 0, mid, acts2[0], act_offsets, losses)
    correct += other.result()
    return chunked_mean(losses, n_rows), correct / n_rows


def best_seconds(call, calls: int, repeats: int) -> float:
    """Seconds per call, best of ``repeats`` blocks of ``calls`` calls (wall clock)."""
    call()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def measure(instances: int, calls: int, repeats: int) -> list[dict]:
    """Per instance (seeds 0 .. ``instances`` − 1 of ``LRControl-MLP-v1``, its initial
    parameters): widths, rows, and µs per training-set evaluation on each path."""
    env = gym.make("LRControl-MLP-v1")
    rows = []
    with blas_single_thread(), ThreadPoolExecutor(1) as pool:
        for seed in range(instances):
            env.reset(seed=seed)
            task, state = env.unwrapped.task, env.unwrapped.state
            head = (state.params, task.widths, task.offsets, task.relu, task.X, task.y, task.n_eval)
            acts, acts2 = np.zeros(task.act_size), np.zeros((2, task.act_size))
            chunk, losses = np.zeros(EVAL_CHUNK), np.zeros(task.n_eval)
            paths = {
                "serial": lambda: dataset_loss(*head, acts, task.act_offsets, chunk),
                "prange": lambda: dataset_loss_prange(*head, acts2, task.act_offsets, losses),
                "two Python threads": lambda: dataset_loss_threads(pool, *head, acts2, task.act_offsets, losses),
            }
            reference = paths["serial"]()
            for name, call in paths.items():  # the same bits, or the timing means nothing
                if call() != reference:
                    raise AssertionError(f"{name}: {call()!r} != serial {reference!r} (seed {seed})")
            us = {name: 1e6 * best_seconds(call, calls, repeats) for name, call in paths.items()}
            rows.append({"seed": seed, "widths": task.widths.tolist(), "rows": task.n_eval, **us})
    env.close()
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=12)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    rows = measure(args.instances, args.calls, args.repeats)
    print(f"\nThe MLP's training-set evaluation, µs per call (wall clock, best of {args.repeats} × {args.calls} calls; "
          f"Numba threading layer {numba.threading_layer()}, {numba.get_num_threads()} threads):\n")
    print("| seed | widths | rows | serial | prange | two Python threads |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['seed']} | {r['widths']} | {r['rows']:,} | {r['serial']:,.0f} | {r['prange']:,.0f} | "
              f"{r['two Python threads']:,.0f} |")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("serial", "prange", "two Python threads")}
    print(f"| mean | | | {mean['serial']:,.0f} | {mean['prange']:,.0f} ({mean['serial'] / mean['prange']:.2f}×) | "
          f"{mean['two Python threads']:,.0f} ({mean['serial'] / mean['two Python threads']:.2f}×) |")


if __name__ == "__main__":
    main()
