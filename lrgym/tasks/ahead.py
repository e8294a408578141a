"""Build the instances an environment will draw next, in a background thread (opt-in).

An env's reset draws the instance seed from ``env.np_random`` (``integers(len(instances))``, over
the whole instance set or the env's ``instances=`` list: the chain is given the same sequence;
or, with ``instance_order="cycle"``, takes the next in turn: the chain is given the env's cycle
position too; :mod:`lrgym.tasks.instance_order`),
builds that instance, and draws the episode's initial parameters and RNG word from
``env.np_random`` again (:meth:`~lrgym.tasks.base.Task.new_state`). Steps never touch
``np_random``. So right after a reset the next instances are known: copy the generator, draw
as reset draws, build, draw the initial state on the copy (it advances the copy exactly as the
next reset will advance ``np_random``), and repeat. :class:`BuildAhead` does this ``depth``
instances ahead in a background thread, while the env steps in the caller's thread, and keeps
what the reset would make of those draws (:class:`Prediction`: the built task, the initial
training state, its first evaluation, the generator's state after): a reset then finds its
episode ready (or waits for it, which releases the GIL to the builder), sets ``np_random`` to
the predicted state and goes on with its cheap part (binding the kernel, features, info).

**Same results, whatever is predicted.** A build of instance seed k is a function of k alone
(:func:`lrgym.tasks.cache.build_task`), so a prediction only decides what is ready, never what
an episode contains. A reset uses a prediction only when the env's generator is exactly where
the chain expected it (its state equals the state right after the previous reset) and the
instance was drawn, not given; otherwise — ``reset(seed=...)``, ``options={"instance": k}``, a
user's own draw from ``env.np_random`` — it builds as without build-ahead and the chain
starts again from the new state. Tests: ``tests/tasks/test_ahead.py`` (the same observations,
rewards and infos to the bit with and without, over mixed-family runs with interference, in
the vector env, after a copy, a pickle, a fork and a failed build).

**Threads.** One worker thread per process (:class:`~concurrent.futures.ThreadPoolExecutor`
with one worker, made on first use and made again in a forked child), shared by every env in
first-come order. Kernels release the GIL (``nogil=True``), so the builder runs beside the
env's steps on a second core; its Python glue (spec sampling, NumPy calls) takes the GIL in
short pieces. BLAS must run on one thread in the builder (the canonical build), and only the
main thread can set that (:mod:`lrgym.tasks.blas`): an env that builds ahead holds the BLAS
libraries at one thread for the whole process from its first reset until ``close()`` (or until
it is collected), and the builder checks before each build; if another thread count is in force
it builds nothing and the reset builds as without build-ahead.

**Costs.** A second core's time (the same builds and first evaluations, moved), and memory: up
to ``depth`` built instances per env beyond the task cache (≈ 0.9 MiB each on ``LRControl-v1``
on average, ≤ 11 MiB). The builder's Python takes the GIL in short pieces, so the cheapest env
steps get slower (a quadratic's ≈ 12 → 20 µs on an AMD EPYC, 28 → 40 µs on an Intel Xeon VM
whose second vCPU also slows the first's vector arithmetic): an env of quadratics alone ran
0.79 – 0.91× as fast with it there, while the recommender's ran 1.8 – 2×. With one core, or when
every core is busy with other envs (a leaderboard's worker processes), it gains nothing: keep it
off there. ``python -m benchmarks.resets --per-id`` tells, per env id, whether it pays on a
machine (``--steady-only``: long runs of ``LRControl-v1``). ``close()`` drops the queue and waits
for the env's running build (one at most).

**Fork.** A forked child has no worker thread: its env does not wait for the parent's queue,
builds its next instance itself and starts its own chain.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from lrgym.brief import brief
from lrgym.tasks.base import N_STATS, Task, TrainState
from lrgym.tasks.blas import enter_single_thread, leave_single_thread, runs_single_threaded
from lrgym.tasks.instance_order import next_instance

#: the largest ``build_ahead`` an env accepts (each keeps up to this many built instances)
MAX_DEPTH = 64

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
#: live chains, cancelled when the interpreter exits (their queued builds are then skipped)
_chains: weakref.WeakSet = weakref.WeakSet()


def check_depth(depth) -> int:
    """``depth`` as an int, or a ValueError naming it and the valid values."""
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or not 0 <= depth <= MAX_DEPTH:
        raise ValueError(f"build_ahead={brief(depth)} invalid; valid: an integer 0..{MAX_DEPTH} "
                         "(the number of next instances built in a background thread; 0: off)")
    return int(depth)


def _worker() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lrgym-build-ahead")
        return _executor


def _forget_worker_in_child() -> None:  # a forked child has no worker thread
    global _executor, _executor_lock
    _executor, _executor_lock = None, threading.Lock()


def _cancel_all_chains() -> None:
    for chain in list(_chains):
        chain.cancelled = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_worker_in_child)
# before the executor joins its worker at exit (threading's exit hooks run last-registered first)
if hasattr(threading, "_register_atexit"):
    threading._register_atexit(_cancel_all_chains)


class Prediction(NamedTuple):
    """What a reset would make of its draws, made ahead: the instance seed, its built task, the
    episode's initial training state, the statistics of its first evaluation (the rest 0), and
    the generator's state after the draws of that training state."""

    instance: int
    task: Task
    state: TrainState
    stats: np.ndarray
    rng_state: dict


class _Chain:
    """The draws of the resets to come, on a copy of the env's generator: advanced only by the
    worker thread, one :meth:`next` per queued build, in order."""

    def __init__(self, rng: np.random.Generator, instances: Sequence[int], build: Callable[[int], Task],
                 order: str = "draw", position: int = 0):
        self.rng = np.random.Generator(type(rng.bit_generator)())
        self.rng.bit_generator.state = rng.bit_generator.state
        self.instances = instances
        self.order = order
        self.position = position  # the cycle position of the next reset (instance_order="cycle")
        self.build = build
        self.cancelled = False
        _chains.add(self)

    def next(self) -> Prediction | None:
        """The next reset's :class:`Prediction`, drawn as that reset will draw it; None if the
        chain was cancelled before this build started."""
        if self.cancelled:
            return None
        if not runs_single_threaded():  # see the module docstring: the reset builds it instead
            self.cancelled = True
            return None
        k, self.position = next_instance(self.instances, self.order, self.rng, self.position)
        task = self.build(k)
        state = task.new_state(self.rng)  # advances the copy as the reset advances np_random
        stats = np.zeros(N_STATS)
        task.evaluate(state, stats)
        return Prediction(k, task, state, stats, self.rng.bit_generator.state)


class BuildAhead:
    """Keeps ``depth`` builds queued ahead of one env's resets (module docstring).

    The env calls :meth:`take` in ``reset`` after drawing its instance and :meth:`refill` at
    the end of ``reset``; :meth:`close` (the env's ``close``) drops what is queued and releases
    the BLAS hold. ``hits`` counts the resets served by a prediction, ``misses`` the others.
    """

    def __init__(self, depth: int, instances: Sequence[int], build: Callable[[int], Task], order: str = "draw"):
        self.depth = check_depth(depth)
        self.instances = instances
        self.build = build
        self.order = order  # the env's instance_order (lrgym.tasks.instance_order)
        self._chain: _Chain | None = None
        self._queued: deque[Future] = deque()
        self._expected_state: dict | None = None  # np_random's state right after the last reset
        self._expected_position: int | None = None  # and the env's cycle position
        self._pid = os.getpid()  # the process whose worker holds the queued builds
        self._holding_blas = False  # this env holds the BLAS libraries at one thread (close releases)
        self._release = None  # weakref.finalize that releases the hold if the env is collected
        self.hits = 0
        self.misses = 0

    def take(self, rng: np.random.Generator, instance: int, drawn: bool, state_before: dict | None,
             position_before: int = 0) -> Prediction | None:
        """The :class:`Prediction` of this reset if the chain made it, else None (and the chain
        is dropped). ``drawn``: the reset took the next instance (no ``options["instance"]``);
        ``state_before``, ``position_before``: ``rng``'s state and the env's cycle position
        before it took it. Waits for the build if it is still running; a build's exception is
        raised here."""
        valid = (drawn and self._queued and state_before == self._expected_state
                 and position_before == self._expected_position
                 and self._pid == os.getpid())  # (a forked child never gets the parent's results)
        if not valid:
            self.cancel()
            self.misses += 1
            return None
        try:
            result = self._queued.popleft().result()
        except BaseException:  # the build failed: raised here as an inline build would raise it
            self.cancel()
            raise
        if result is None or result.instance != instance:  # (the second cannot happen while the states agree)
            self.cancel()
            self.misses += 1
            return None
        self.hits += 1
        return result

    def refill(self, rng: np.random.Generator, position: int = 0) -> None:
        """Queue builds up to ``depth`` ahead of ``rng``'s current state and the env's cycle
        ``position`` (the end of a reset)."""
        if self.depth == 0:
            return
        if not self._holding_blas:  # from the env's thread, the one that can set it
            enter_single_thread()
            self._holding_blas = True
            self._release = weakref.finalize(self, leave_single_thread)
        if self._chain is None or self._chain.cancelled or self._pid != os.getpid():
            self._chain, self._queued = _Chain(rng, self.instances, self.build, self.order, position), deque()
            self._pid = os.getpid()
        self._expected_state, self._expected_position = rng.bit_generator.state, position
        worker = _worker()
        while len(self._queued) < self.depth:
            self._queued.append(worker.submit(self._chain.next))

    def close(self) -> None:
        """Drop the queued builds, wait for this env's running one (at most one build) and release
        the BLAS hold (the env's ``close``): after it, no builder works for this env."""
        queued = list(self._queued) if self._pid == os.getpid() else []  # (a fork's are not its own)
        self.cancel()
        concurrent.futures.wait(queued)
        if self._holding_blas:
            self._release()  # leave_single_thread, once
            self._holding_blas = False

    def cancel(self) -> None:
        """Drop the queued builds (a running one finishes; its task goes to the cache)."""
        if self._chain is not None:
            self._chain.cancelled = True
        if self._pid == os.getpid():  # (a forked child leaves the parent's futures alone: their
            for future in self._queued:  # locks may have been held by the worker at the fork)
                future.cancel()  # (a queued one leaves the queue; a running one ignores this)
        self._chain, self._queued, self._expected_state, self._expected_position = None, deque(), None, None
