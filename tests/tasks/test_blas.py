"""``lrgym.tasks.blas.blas_single_thread``: one BLAS thread inside, the counts restored after —
also when two threads (an env's step and a build ahead) are inside at once."""

from __future__ import annotations

import threading

import pytest

from lrgym.tasks.blas import blas_single_thread


@pytest.fixture
def blas_controllers():
    import gc

    import scipy.linalg.cython_blas  # noqa: F401  (the library numba's np.dot calls)
    import threadpoolctl  # a scikit-learn dependency

    from lrgym.tasks import blas

    gc.collect()  # envs of earlier tests that built ahead hold one thread until collected
    assert blas._inside == 0, "something still holds BLAS at one thread"
    ctl = threadpoolctl.ThreadpoolController().select(user_api="blas")
    with ctl.limit(limits=2):
        yield ctl.lib_controllers


def threads_of(controllers) -> list[int]:
    return [c.get_num_threads() for c in controllers]


def test_blas_single_thread_limits_and_restores(blas_controllers):
    before = threads_of(blas_controllers)
    assert max(before) == 2
    with blas_single_thread():
        assert threads_of(blas_controllers) == [1] * len(before)
        with blas_single_thread():  # nested
            assert threads_of(blas_controllers) == [1] * len(before)
        assert threads_of(blas_controllers) == [1] * len(before)
    assert threads_of(blas_controllers) == before


def in_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join(10)
    return out[0]


def test_a_thread_leaving_does_not_restore_while_another_is_inside(blas_controllers):
    """The main thread holds one BLAS thread (as an env building ahead does); a builder thread
    enters and leaves the context: the main thread's products must stay on one thread (the
    uncounted context restored the builder's saved count and gave them two), and the builder
    sees one thread too."""
    from lrgym.tasks.blas import enter_single_thread, leave_single_thread, runs_single_threaded

    before = threads_of(blas_controllers)
    enter_single_thread()
    try:
        def builder():
            with blas_single_thread():
                return runs_single_threaded(), threads_of(blas_controllers)

        assert in_thread(builder) == (True, [1] * len(before))
        assert threads_of(blas_controllers) == [1] * len(before) and runs_single_threaded()
    finally:
        leave_single_thread()
    assert threads_of(blas_controllers) == before and not runs_single_threaded()


def test_runs_single_threaded_tells_a_thread_what_its_products_get(blas_controllers):
    """Whatever OpenBLAS lets a non-main thread set, the check reports what is in force for that
    thread: one thread exactly when every library reports one."""
    from lrgym.tasks.blas import runs_single_threaded

    def after_trying():
        with blas_single_thread():
            return runs_single_threaded(), threads_of(blas_controllers)

    single, counts = in_thread(after_trying)
    assert single == (max(counts) == 1)


def test_a_count_raised_while_held_is_set_back_and_restored_at_the_end(blas_controllers):
    """The user raises the thread count (a threadpoolctl limit) while an env holds one thread:
    the next kernel's entry sets one again, and the last one out restores the user's count."""
    from lrgym.tasks.blas import enter_single_thread, leave_single_thread

    before = threads_of(blas_controllers)
    enter_single_thread()  # an env building ahead
    try:
        for c in blas_controllers:
            c.set_num_threads(2)  # the user's
        with blas_single_thread():  # a kernel
            assert threads_of(blas_controllers) == [1] * len(before)
    finally:
        leave_single_thread()
    assert threads_of(blas_controllers) == [2] * len(before)
