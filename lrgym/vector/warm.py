"""Compile (or load from Numba's disk cache) every kernel a vector env of some keywords can need,
once, before many processes start stepping such envs.

Every kernel is ``cache=True``: the first process to compile one writes it to the cache, later
ones load it. Processes that start together on a cold cache (after an install, an upgrade or an
edit of lrgym: :mod:`lrgym.kernel_cache`) each compile the same kernels at once, on cores they
share: RLlib's env runners took 239 s to sample a first 2,000 steps on two runners (a later run:
34 s in all). :func:`warm_kernels` run once first, in one process, fills the cache; the others
then load. ``lrgym.baselines.train_rllib`` runs it on the driver (and on each node of a cluster)
before RLlib builds its runners; ``benchmarks/harness.py`` before timing.

What it steps: one sub-env on an instance of each *kind* (:func:`kind_instances`: family,
streaming or not, data set, depth, activation; what decides the compiled kernels and their
argument types), reset onto the same again (the typed lists' item replaced in place), a few
steps with ``horizon=2`` (an automatic reset included), then every sub-env reset onto another
kind (the typed lists' items removed and appended).

One warm-up at a time per cache: :func:`warm_kernels` holds a lock file in the cache folder of
lrgym's kernels (:func:`one_warm_up_at_a_time`), so that warm-ups started together on one machine
(``train_rllib --address`` runs one on each Ray node, and nodes may share a machine and its
cache) do not each compile every kernel at once: the first compiles, the others wait, then load.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from typing import Iterable

import numpy as np

__all__ = ["KIND_FIELDS", "LOCK_PATIENCE", "kind_instances", "one_warm_up_at_a_time", "warm_kernels"]

#: the :class:`~lrgym.tasks.base.TaskSpec` fields whose values pick other kernels or argument types
#: (a field a family's spec lacks counts as None)
KIND_FIELDS = ("family", "streaming", "dataset", "depth", "activation")
#: how many of the candidate seeds are looked at (the first 400 meet every kind of the mixed family)
LOOKED_AT = 400
#: seconds a warm-up waits for another one of the same cache to end; then it warms alongside (a
#: bound on a stuck holder, not a timing: the mixed family's kernels take 2.5 min from empty)
LOCK_PATIENCE = 900.0


def kind_instances(family, seeds: Iterable[int], limit: int = LOOKED_AT) -> list[int]:
    """The first seed of each kind (:data:`KIND_FIELDS` of ``family.sample(seed)``) among the
    first ``limit`` of ``seeds``, in the order met."""
    picks: dict[tuple, int] = {}
    for i, k in enumerate(seeds):
        if i >= limit:
            break
        spec = family.sample(int(k))
        picks.setdefault(tuple(getattr(spec, f, None) for f in KIND_FIELDS), int(k))
    return list(picks.values())


def _lock_path() -> str | None:
    """The warm-up's lock file: in the folder Numba caches :mod:`lrgym.rng`'s kernels in (in the
    tree, ``NUMBA_CACHE_DIR`` or the user-wide cache: :mod:`lrgym.kernel_cache`), named by the
    machine code Numba compiles for (target, CPU, features: part of every cache entry's key), so
    processes of one cache but other CPUs do not wait for each other. None if there is none."""
    from numba.core.dispatcher import Dispatcher
    from numba.core.registry import cpu_target

    from lrgym import rng

    folder = next((f.stats.cache_path for f in vars(rng).values() if isinstance(f, Dispatcher) and f.stats.cache_path),
                  None)
    if folder is None:
        return None
    machine = hashlib.sha256(repr(cpu_target.target_context.codegen().magic_tuple()).encode()).hexdigest()[:12]
    return os.path.join(folder, f"lrgym-warm-up-{machine}.lock")


@contextlib.contextmanager
def one_warm_up_at_a_time(patience: float = LOCK_PATIENCE, poll: float = 0.2):
    """Hold the warm-up's lock file (``flock``, exclusive: released when the holder ends, however)
    while the block runs: a second warm-up of the same cache waits until the first has filled it,
    then loads what it compiled instead of compiling it again beside it. Without a lock to take (no
    ``fcntl``, a cache folder it cannot write, locks refused) or after ``patience`` s of waiting,
    the block runs anyway: the lock only saves work, results never depend on it."""
    try:
        import fcntl

        path = _lock_path()
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644) if path else None  # (flock needs no write access)
    except (ImportError, OSError):
        fd = None
    try:
        if fd is not None:
            deadline = time.monotonic() + patience
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(poll)
                except OSError:  # locks refused here (ENOLCK): run unlocked
                    break
        yield
    finally:
        if fd is not None:
            os.close(fd)  # (releases the lock if held)


def warm_kernels(**env_kwargs) -> list[int]:
    """Run an :class:`~lrgym.vector.LRControlVectorEnv` of ``env_kwargs`` (less ``horizon``
    and ``inner_steps``: 2 and 1, which change no kernel) on one instance of each kind its resets
    can draw (:func:`kind_instances` of its ``instances``), so that every kernel such an env
    needs is in Numba's disk cache; returns those instances. Results of later envs do not
    depend on it (the same machine code, compiled or loaded)."""
    from lrgym.vector import LRControlVectorEnv

    kwargs = {**env_kwargs, "horizon": 2, "inner_steps": 1}
    with one_warm_up_at_a_time():
        probe = LRControlVectorEnv(1, **kwargs)  # (builds no instance)
        picks = kind_instances(probe.settings.family, probe.settings.instances)
        probe.close()
        _step_each_kind(LRControlVectorEnv(len(picks), **kwargs), picks)
    return picks


def _step_each_kind(envs, picks: list[int]) -> None:
    """:func:`warm_kernels`'s steps on ``envs``, one sub-env of each kind of ``picks``; closes them."""
    try:
        envs.action_space.seed(0)
        envs.reset(seed=0, options={"instance": picks})
        envs.reset(seed=0, options={"instance": picks})  # each sub-env onto its own kind again: set_item
        for _ in range(3):  # horizon 2: the third step is the automatic reset's
            envs.step(envs.action_space.sample())
        if len(picks) > 1:  # every sub-env onto another kind: the typed lists remove, pop and set items
            envs.reset(seed=1, options={"instance": picks[1:] + picks[:1]})
            envs.step(envs.action_space.sample())
    finally:
        envs.close()
