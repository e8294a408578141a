"""Built instances: how they are built (one BLAS thread) and a byte-bounded LRU cache of them.

An environment builds the instance of an instance seed at ``reset`` (``family.build(spec)``).
Two things here make that cheap and reproducible:

* :func:`build_task` builds with the BLAS libraries on one thread
  (:func:`lrgym.tasks.blas.blas_single_thread`). The data of the linear-regression and quadratic
  instances come from NumPy matrix products and a QR factorisation whose rounding depends on
  how OpenBLAS splits the work between threads: built with two threads, some instances differ
  in the last bits from the same instance built with one. Every place that fixes results (the
  leaderboard's workers, tuning, reference search, the tests) runs BLAS on one thread, so one
  thread is the canonical build, on any number of cores. It is also faster: on a busy 2-core
  machine OpenBLAS's spinning workers made builds 2.4× (linreg) to 60× (quadratic) more
  expensive in CPU time (``python -m benchmarks.resets``, ``benchmarks/RESULTS.md``).
* :class:`TaskCache` keeps built tasks, least recently used first out, within a byte budget
  (the tasks' NumPy arrays, :func:`task_nbytes`) and an item count. A task is never changed
  by an episode (training state lives in :class:`~lrgym.tasks.base.TrainState`), so a cached
  task gives the same episode, to the bit, as a fresh build (``tests/tasks/test_cache.py``);
  caching is therefore always on.

Every environment of a process shares one cache, :func:`shared_cache`, keyed by the instance's
spec (family, seed and every override, so differently configured envs never share a task).
Its budget: ``LRGYM_TASK_CACHE_MB`` in the environment (default
:data:`DEFAULT_CACHE_MB`; 0 turns caching off) or :func:`set_cache_limit` at run time. A task
larger than the whole budget is built and used but not kept.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

from lrgym.tasks.base import Task, TaskFamily, TaskSpec
from lrgym.tasks.blas import blas_single_thread

#: default budget of the process-wide cache, in MiB (≈ 40 large linreg instances of 8,192 ×
#: 256 rows, or hundreds of typical instances)
DEFAULT_CACHE_MB = 512
#: default item bound (a cache of many tiny quadratics stays a cheap dict)
DEFAULT_CACHE_ITEMS = 4096


def build_task(family: TaskFamily, spec: TaskSpec) -> Task:
    """``family.build(spec)`` with BLAS on one thread: the canonical build (module docstring)."""
    with blas_single_thread():
        return family.build(spec)


def task_nbytes(task: Task) -> int:
    """Bytes of the NumPy arrays a task holds (its attributes, one level deep), counted once each."""
    seen: set[int] = set()
    total = 0
    for value in vars(task).values():
        arrays = value if isinstance(value, (tuple, list)) else (value,)
        for a in arrays:
            if isinstance(a, np.ndarray):
                base = a if a.base is None or not isinstance(a.base, np.ndarray) else a.base
                if id(base) not in seen:
                    seen.add(id(base))
                    total += base.nbytes
    return total


class TaskCache:
    """LRU map key → built task, bounded by ``max_bytes`` (the tasks' arrays) and ``max_items``.

    ``get_or_build(key, build)`` returns the cached task or calls ``build()`` and keeps the
    result, evicting the least recently used tasks until both bounds hold. ``hits`` /
    ``misses`` count lookups; ``nbytes`` is the bytes held.

    Thread-safe: a lock guards the map and the counts, not ``build()``, so builds in two threads
    (an env's reset and a build ahead, :mod:`lrgym.tasks.ahead`) run at once. Two threads that
    miss the same key both build it; the first result is kept, and both are the same instance
    to the bit (a build depends on the spec alone).
    """

    def __init__(self, max_bytes: int, max_items: int = DEFAULT_CACHE_ITEMS):
        self._items: OrderedDict[Hashable, tuple[Task, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self.set_limit(max_bytes, max_items)

    def set_limit(self, max_bytes: int, max_items: int | None = None) -> None:
        """New bounds (bytes ≥ 0, items ≥ 0; 0 keeps nothing); evicts to fit them."""
        if max_items is None:
            max_items = self.max_items
        for name, v in (("max_bytes", max_bytes), ("max_items", max_items)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name}={v!r} invalid; valid: an integer >= 0")
        with self._lock:
            self.max_bytes, self.max_items = int(max_bytes), int(max_items)
            self._evict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key) -> bool:
        return key in self._items

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.nbytes = 0

    def get_or_build(self, key: Hashable, build) -> Task:
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                self.hits += 1
                self._items.move_to_end(key)
                return entry[0]
            self.misses += 1
        task = build()  # outside the lock: other threads look up and build meanwhile
        size = task_nbytes(task)
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:  # built by another thread meanwhile: keep one copy
                self._items.move_to_end(key)
                return entry[0]
            if size <= self.max_bytes and self.max_items > 0:
                self._items[key] = (task, size)
                self.nbytes += size
                self._evict()
        return task

    def _evict(self) -> None:  # (with the lock held)
        while self._items and (self.nbytes > self.max_bytes or len(self._items) > self.max_items):
            _, (_, size) = self._items.popitem(last=False)
            self.nbytes -= size


def _budget_from_environment() -> int:
    text = os.environ.get("LRGYM_TASK_CACHE_MB", str(DEFAULT_CACHE_MB))
    try:
        mb = float(text)
    except ValueError:
        mb = -1.0
    if not mb >= 0:
        raise ValueError(f"LRGYM_TASK_CACHE_MB={text!r} invalid; valid: a number of MiB >= 0 (0: no cache)")
    return int(mb * 2**20)


_SHARED: TaskCache | None = None


def shared_cache() -> TaskCache:
    """The process-wide cache every environment uses (created on first use)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = TaskCache(_budget_from_environment())
    return _SHARED


def set_cache_limit(max_bytes: int, max_items: int | None = None) -> None:
    """Bound the process-wide cache (``0`` bytes: keep nothing, every reset builds anew)."""
    shared_cache().set_limit(max_bytes, max_items)


def cached_task(family: TaskFamily, instance: int) -> Task:
    """The built task of ``family``'s instance seed ``instance``, from the process-wide cache."""
    spec = family.sample(instance)
    return shared_cache().get_or_build(spec, lambda: build_task(family, spec))
