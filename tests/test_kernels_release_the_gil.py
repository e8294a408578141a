"""Every compiled kernel of lrgym releases the GIL (``nogil=True``), so a build ahead in a
background thread (lrgym/tasks/ahead.py) runs beside the env's steps instead of waiting for
them; and the GIL really is free during a kernel: a Python thread keeps running meanwhile."""

from __future__ import annotations

import importlib
import pkgutil
import threading

import numba
import numpy as np
from numba.core.registry import CPUDispatcher

import lrgym


def lrgym_dispatchers():
    for info in pkgutil.walk_packages(lrgym.__path__, "lrgym."):
        if info.name.startswith(("lrgym.torch", "lrgym.leaderboard")):
            continue  # optional extras (torch); no kernels there
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == info.name:
                yield f"{info.name}.{name}", value


def test_every_kernel_is_compiled_without_the_gil():
    found = dict(lrgym_dispatchers())
    assert len(found) > 100  # the families' kernels, the step, the optimizers, the vector env's
    holding = sorted(name for name, d in found.items() if not d.targetoptions.get("nogil"))
    assert holding == []


def _spin_source(n):
    x = 0.0
    for i in range(n):
        x = x * 0.999999 + np.sqrt(i)
    return x


_spin = numba.njit(nogil=True)(_spin_source)
_spin_holding_the_gil = numba.njit(_spin_source)


def python_iterations_during(kernel) -> int:
    """Iterations of a Python loop in this thread while ``kernel`` runs (≈ 0.3 s) in another."""
    kernel(10)  # compile first
    started, done = threading.Event(), threading.Event()

    def run():
        started.set()
        kernel(300_000_000)
        done.set()

    t = threading.Thread(target=run)
    t.start()
    started.wait()
    count = 0
    while not done.is_set():
        count += 1
    t.join()
    return count


def test_a_python_thread_runs_while_a_kernel_runs():
    """The control: a ``nogil`` kernel lets this thread's Python loop run for the whole ≈ 0.3 s
    (millions of iterations); the same kernel holding the GIL stops it after at most one switch
    interval (5 ms: ≈ 2 – 3 × 10⁵ iterations here) until the kernel is done."""
    free = python_iterations_during(_spin)
    held = python_iterations_during(_spin_holding_the_gil)
    assert free > 10 * held
