"""Scratch buffers of instance builds (``lrgym.tasks.workspace``): reused per (thread, name),
never shared between names or threads, bounded in size."""

from __future__ import annotations

import threading

import numpy as np

from lrgym.tasks import workspace


def test_scratch_is_reused_per_name_and_never_aliases_another_name():
    a = workspace.scratch("test.a", (3, 4))
    assert a.shape == (3, 4) and a.dtype == np.float64 and a.flags.c_contiguous
    a[...] = 1.0
    again = workspace.scratch("test.a", (2, 5))  # the same memory, another shape
    assert np.shares_memory(a, again)
    b = workspace.scratch("test.b", (3, 4))
    assert not np.shares_memory(again, b)
    bigger = workspace.scratch("test.a", (1000,))  # grows: a new buffer, the right size
    assert bigger.shape == (1000,) and not np.shares_memory(bigger, a)


def test_threads_get_their_own_buffers():
    mine = workspace.scratch("test.thread", (64,))
    theirs = []
    t = threading.Thread(target=lambda: theirs.append(workspace.scratch("test.thread", (64,))))
    t.start()
    t.join()
    assert not np.shares_memory(mine, theirs[0])


def test_requests_above_the_bound_get_fresh_arrays():
    n = workspace.MAX_SCRATCH_BYTES // 8 + 1
    first = workspace.scratch("test.huge", (n,))
    second = workspace.scratch("test.huge", (n,))
    assert first.shape == (n,) and not np.shares_memory(first, second)
    kept = workspace.scratch("test.huge", (10,))  # nothing that size was kept
    assert not np.shares_memory(kept, second)
