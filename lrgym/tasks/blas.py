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
the kernels (the user's NumPy, SciPy) keeps its threading. It needs ``threadpoolctl`` (a
scikit-learn dependency); without it, it does nothing (then set ``OPENBLAS_NUM_THREADS=1``).
The thread count is process-wide state: environments stepped from several Python threads at
once may see each other's limit, which is harmless (one thread is what each wants).
"""

from __future__ import annotations

from contextlib import contextmanager

_controllers: list | None = None


def _blas_controllers() -> list:
    global _controllers
    if _controllers is None:
        try:
            import scipy.linalg.cython_blas  # noqa: F401  (the library numba's np.dot calls)
            from threadpoolctl import ThreadpoolController

            _controllers = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        except Exception:  # no threadpoolctl / scipy, or a library it cannot drive
            _controllers = []
    return _controllers


@contextmanager
def blas_single_thread():
    saved = []
    for c in _blas_controllers():
        n = c.get_num_threads()
        if n is not None and n > 1:
            c.set_num_threads(1)
            saved.append((c, n))
    try:
        yield
    finally:
        for c, n in saved:
            c.set_num_threads(n)
