"""Process pool for the tuning and report scripts, with single-threaded BLAS in every worker.

The MLP family's kernels call OpenBLAS for their matrix products; on a small machine its
default of one thread per core makes episodes 20–50× slower as soon as two processes compete
(measured on 2 cores: 11 s instead of 0.23 s for a 124-unit MLP episode). Each worker therefore
limits BLAS to one thread and the pool provides the parallelism.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable

from lrgym.tasks.blas import SINGLE_THREAD_ENV


def single_threaded_blas() -> None:
    """Limit the BLAS / OpenMP thread pools of this process to one thread: the loaded libraries
    now (threadpoolctl, a core dependency), and those loaded later or by child processes
    (:data:`lrgym.tasks.blas.SINGLE_THREAD_ENV` into ``os.environ``)."""
    from threadpoolctl import threadpool_limits

    os.environ.update(SINGLE_THREAD_ENV)
    threadpool_limits(1)


def imap(fn: Callable, jobs: Iterable, workers: int | None = None, desc: str = "", total: int | None = None):
    """``fn`` over ``jobs`` in ``workers`` processes (unordered), with a progress bar."""
    from multiprocessing import get_context

    from tqdm.auto import tqdm

    from lrgym.baselines.interrupts import defer_stop_signals

    jobs = list(jobs)
    workers = min(workers or os.cpu_count() or 1, max(1, len(jobs)))
    single_threaded_blas()
    bar = tqdm(total=total or len(jobs), desc=desc)
    try:
        if workers <= 1:
            for job in jobs:
                yield fn(job)
                bar.update(1)
            return
        ctx = get_context("fork" if os.name == "posix" else "spawn")
        with contextlib.ExitStack() as stack:
            with defer_stop_signals():  # a SIGTERM cutting the set-up short left its workers running
                pool = stack.enter_context(ctx.Pool(workers, initializer=single_threaded_blas))
            for out in pool.imap_unordered(fn, jobs):
                yield out
                bar.update(1)
    finally:
        bar.close()
