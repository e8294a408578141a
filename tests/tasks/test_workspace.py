"""Scratch buffers of instance builds (``lrgym.tasks.workspace``): reused per (thread, name),
never shared between names or threads, bounded in size."""

from __future__ import annotations

import threading

import numpy as np
import pytest

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


def _arrays(task):
    """Every NumPy array a task holds (attributes, one level into tuples and lists)."""
    for value in vars(task).values():
        for a in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(a, np.ndarray):
                yield a


@pytest.mark.parametrize("family", ["linreg", "recsys", "mlp", "quadratic"])
def test_a_built_instance_holds_no_scratch_memory(family):
    """Scratch buffers are reused by the next build: no array of a built task may share memory
    with one, or building another instance would change it (checked both ways: no shared
    memory, and the arrays are unchanged after more builds of the same family)."""
    from lrgym.tasks import make_family
    from lrgym.tasks.cache import build_task

    fam = make_family(family)
    # a finite linreg instance (a streaming one has no rows): the first such train seed
    seed = next(s for s in range(100) if not getattr(fam.sample(s), "streaming", False))
    task = build_task(fam, fam.sample(seed))
    before = [a.copy() for a in _arrays(task)]
    buffers = list(getattr(workspace._LOCAL, "buffers", {}).values())
    for a in _arrays(task):
        for buf in buffers:
            assert not np.shares_memory(a, buf)
    for other in range(seed + 1, seed + 4):
        build_task(fam, fam.sample(other))
    for old, a in zip(before, _arrays(task)):
        np.testing.assert_array_equal(a, old)
