"""One warm-up of Numba's cache at a time (:func:`lrgym.vector.warm.one_warm_up_at_a_time`).

``train_rllib --address`` runs :func:`~lrgym.vector.warm.warm_kernels` on every Ray node at once;
two nodes of one machine share its cache, and each compiled every kernel beside the other (a
two-node test cluster's PPO test: 193 s on a fresh clone, 35 s warm). The warm-up now holds a
lock file in the cache folder: a second one waits for the first, then loads what it compiled.
``flock`` locks belong to an open file, so two holders in one process exclude each other as two
processes do: the checks run in threads, no process started.
"""

from __future__ import annotations

import os
import threading
import time

from lrgym.vector import warm


def _enter_and_note(seen: list, **kwargs) -> threading.Thread:
    """A thread that enters the lock (with ``kwargs``), notes the time it got in, and leaves."""

    def enter():
        with warm.one_warm_up_at_a_time(**kwargs):
            seen.append(time.monotonic())

    thread = threading.Thread(target=enter, daemon=True)
    thread.start()
    return thread


def test_a_second_warm_up_waits_until_the_first_has_ended():
    """The file is in the folder Numba caches lrgym's kernels in, named by the CPU the machine code
    is for; a second holder enters only once the first has left."""
    path = warm._lock_path()
    assert path is not None and os.path.basename(path).startswith("lrgym-warm-up-")
    assert os.path.dirname(path).endswith("__pycache__") or os.environ.get("NUMBA_CACHE_DIR")
    seen: list = []
    with warm.one_warm_up_at_a_time():
        second = _enter_and_note(seen, poll=0.01)
        time.sleep(0.5)
        assert seen == []  # waiting
        left = time.monotonic()
    second.join(10)
    assert len(seen) == 1 and seen[0] >= left
    assert os.path.exists(path)


def test_a_warm_up_waits_no_longer_than_its_patience():
    """A holder that does not end (stuck) delays another warm-up by ``patience`` s, no more: then
    it runs beside it (the lock only saves work)."""
    seen: list = []
    with warm.one_warm_up_at_a_time():
        start = time.monotonic()
        second = _enter_and_note(seen, patience=0.3, poll=0.01)
        second.join(10)
        assert len(seen) == 1 and 0.3 <= seen[0] - start < 5


def test_without_a_lock_file_the_warm_up_runs_unlocked(monkeypatch):
    """No cache folder to hold the file (or one it cannot create it in): the block runs at once."""
    monkeypatch.setattr(warm, "_lock_path", lambda: None)
    with warm.one_warm_up_at_a_time(patience=60):
        with warm.one_warm_up_at_a_time(patience=60):
            pass
    monkeypatch.setattr(warm, "_lock_path", lambda: "/nonexistent-lrgym-folder/x.lock")
    with warm.one_warm_up_at_a_time(patience=60):
        with warm.one_warm_up_at_a_time(patience=60):
            pass
