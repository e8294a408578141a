"""Scratch memory for instance builds, reused from build to build (one buffer per thread and name).

A build's large temporaries (the recommender's score matrix of a block of users, linear
regression's Gaussian rows before their rotation, the QR's working copy, the MLP teacher's hidden
layer and the cluster data's noise) used to be new NumPy
arrays every time. In a training process that keeps built instances (the task cache) and steps
between builds, freed blocks of that size are often handed back to the operating system, and
the next build's array arrives as fresh pages that the kernel must zero on first touch (NumPy
also asks for 2 MiB huge pages for arrays from 4 MiB up): in the resets of one rollout in a fresh
process, a recommender build took 10.7 ms with a fresh score block and 6.9 ms with a reused one
(``benchmarks/RESULTS.md``).

:func:`scratch` returns a view of a buffer kept per thread (builds in different threads never
share one) and per ``name`` (two temporaries of one build never alias), grown when a build
needs more, up to :data:`MAX_SCRATCH_BYTES` per buffer (larger requests get a fresh array, as
before). The values a build computes in it are those it computed in a fresh array: the same
NumPy calls write the same bits whatever memory they write to (``out=`` of the same shape,
C-contiguous). Memory: at most ``MAX_SCRATCH_BYTES`` per name per building thread stays held.
"""

from __future__ import annotations

import threading

import numpy as np

#: the largest buffer kept per (thread, name); 16 MiB, the recommender's block of 2,000,000 scores
MAX_SCRATCH_BYTES = 16 * 2**20

_LOCAL = threading.local()


def scratch(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised C-contiguous float64 array of ``shape`` in the calling thread's buffer
    ``name`` (its contents are whatever the last user left; the caller overwrites them). Valid
    until the next ``scratch(name, ...)`` call in the same thread."""
    n = 1
    for s in shape:
        n *= int(s)
    if 8 * n > MAX_SCRATCH_BYTES:
        return np.empty(shape)
    buffers = getattr(_LOCAL, "buffers", None)
    if buffers is None:
        buffers = _LOCAL.buffers = {}
    buf = buffers.get(name)
    if buf is None or buf.shape[0] < n:  # grow (at least doubling, within the bound)
        size = max(n, min(2 * (0 if buf is None else buf.shape[0]), MAX_SCRATCH_BYTES // 8))
        buf = buffers[name] = np.empty(size)
    return buf[:n].reshape(shape)
