"""Single-threaded BLAS around the kernels that call ``np.dot`` (the MLP's matrix products).

Numba's ``np.dot`` calls the BLAS library SciPy ships (OpenBLAS in the wheels), which by
default starts one thread per core for a 256 × 64 × 64 product. For these small products the
threads do not pay: on an idle two-core machine they are no faster, and with the other core
busy (a second environment, a policy update, a parallel leaderboard run) OpenBLAS's
spin-waiting workers made one MLP environment step about 75× slower (8 instead of 600 steps/s,
measured). Environments are parallelised across processes instead, so the kernels run BLAS on
one thread.

:func:`blas_single_thread` is a cheap context manager (≈2 µs per BLAS library) that sets every
loaded BLAS library to one thread and restores the previous counts on exit, so code outside
the kernels (the user's NumPy, SciPy) keeps its threading. It drives the libraries through
``threadpoolctl`` (a core dependency); if threadpoolctl cannot inspect them it warns once and does
nothing (then start the process with :data:`SINGLE_THREAD_ENV`, e.g. ``OPENBLAS_NUM_THREADS=1``).
The thread count is process-wide state, so the context is counted across threads: the first
entry (of any thread) sets one thread, the last exit restores the counts. Without the count a
build ahead in a background thread (:mod:`lrgym.tasks.ahead`) that exits while an MLP step of
the main thread is inside ``np.dot`` would hand that product back to several threads. While any
thread is inside, the user's own NumPy in other threads runs BLAS on one thread as well.

One more rule of OpenBLAS (0.3.30, measured: ``tests/tasks/test_blas.py``): once the main thread
has set a thread count, a count set from another thread is ignored, in that thread too. A
background builder therefore cannot make its own BLAS single-threaded; the env's thread holds
the count for it (:func:`enter_single_thread` at its first build ahead, :func:`leave_single_thread`
at ``close``) and the builder checks :func:`runs_single_threaded` before each build.

Processes started to run environments in parallel (the tuning pool, Ray workers, the grader's
workers and policy processes) start their BLAS and OpenMP libraries on one thread instead, with
:data:`SINGLE_THREAD_ENV` in their environment.
"""

from __future__ import annotations

import threading
import warnings
from contextlib import contextmanager
from types import MappingProxyType

#: The environment variables that start the BLAS / OpenMP libraries (OpenBLAS, OpenMP, MKL) of a
#: process on one thread; read when a library loads, so set them in a child process's environment
#: (or before SciPy is imported). The one list of them: the tuning pool
#: (:mod:`lrgym.baselines.parallel`), Ray workers (:data:`lrgym.baselines.backend.RAY_WORKER_ENV`)
#: and the grader's workers and policy processes (:mod:`lrgym.leaderboard.pool`,
#: :mod:`lrgym.leaderboard.worker`, :mod:`lrgym.leaderboard.sandbox`) use it. Numba's own thread
#: pool (``NUMBA_NUM_THREADS``: the vector env's opt-in ``prange`` threads) is not in it; only the
#: sandboxed policy process also sets that.
SINGLE_THREAD_ENV = MappingProxyType({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})

_controllers: list | None = None
_lock = threading.Lock()  # guards the three below
_inside = 0  # threads (and nested entries) inside blas_single_thread now
_saved: dict = {}  # controller → thread count to restore when the last one leaves


def _blas_controllers() -> list:
    global _controllers
    if _controllers is None:  # (under _lock: found once)
        try:
            import scipy.linalg.cython_blas  # noqa: F401  (the library numba's np.dot calls)
            from threadpoolctl import ThreadpoolController
        except ImportError:  # both are core dependencies: only a partial install lacks them
            _controllers = []
            return _controllers
        try:
            _controllers = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        except Exception as exc:  # a library threadpoolctl cannot inspect: say so, run on
            _controllers = []  # (first: found once, also if the warning is turned into an error)
            warnings.warn(f"lrgym cannot limit BLAS to one thread inside its kernels (threadpoolctl failed: {exc!r}); "
                          "MLP steps may run many times slower while other processes use the cores. Start the "
                          "process with OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "
                          "(lrgym.tasks.blas.SINGLE_THREAD_ENV).", RuntimeWarning, stacklevel=2)
    return _controllers


def enter_single_thread() -> None:
    """Count one more user of one BLAS thread and set every library that runs more to one (also
    when others are inside: someone may have raised the count meanwhile, e.g. a threadpoolctl
    limit of the user's; that count is the one the last user out restores)."""
    global _inside
    with _lock:
        if _inside == 0:
            _saved.clear()
        for c in _blas_controllers():
            n = c.get_num_threads()
            if n is not None and n > 1:
                c.set_num_threads(1)
                _saved[c] = n
        _inside += 1


def leave_single_thread() -> None:
    """Count one user less; the last restores the thread counts found above one."""
    global _inside
    with _lock:
        _inside -= 1
        if _inside == 0:
            for c, n in _saved.items():
                c.set_num_threads(n)
            _saved.clear()


def runs_single_threaded() -> bool:
    """Whether BLAS calls of the calling thread run on one thread now. OpenBLAS (0.3.30) ignores
    a thread count set from a thread other than the main one once the main thread has set one,
    so a background thread cannot make itself single-threaded: it can only check."""
    return all((c.get_num_threads() or 1) <= 1 for c in _blas_controllers())


@contextmanager
def blas_single_thread():
    """Run the BLAS libraries on one thread inside the block (any thread; nests; module docstring)."""
    enter_single_thread()
    try:
        yield
    finally:
        leave_single_thread()
