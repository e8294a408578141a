"""Every compiled kernel of lrgym releases the GIL (``nogil=True``), so a build ahead in a
background thread (lrgym/tasks/ahead.py) runs beside the env's steps instead of waiting for
them; and the GIL really is free during a kernel: a Python thread keeps running meanwhile."""

from __future__ import annotations

import importlib
import pkgutil
import threading
import time

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


@numba.njit(nogil=True)
def _spin(n):
    x = 0.0
    for i in range(n):
        x = x * 0.999999 + np.sqrt(i)
    return x


def test_a_python_thread_runs_while_a_kernel_runs():
    """The control: a nogil kernel taking ≈ 0.3 s in one thread; the main thread counts Python
    loop iterations meanwhile. With the GIL held it could count only after the kernel ended."""
    _spin(10)  # compile first
    done = threading.Event()
    counted_while_running = []

    def kernel():
        _spin(300_000_000)
        done.set()

    t = threading.Thread(target=kernel)
    t.start()
    count = 0
    while not done.is_set():
        count += 1
        if count % 1000 == 0:
            time.sleep(0)
    counted_while_running.append(count)
    t.join()
    assert counted_while_running[0] > 1000
