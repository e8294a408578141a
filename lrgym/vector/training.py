"""The vector env's batched step: every sub-environment's inner training, then its bookkeeping.

:class:`KernelGroups` sorts the sub-environments by the compiled kernel their task runs (a
*kind*, :mod:`lrgym.tasks.batched`; one for a single-family id, up to five for ``LRControl-v1``)
and runs each group's inner training in **one** compiled call — the identical machine code the
single env's :meth:`Task.run` reaches. A task without a compiled kind runs through a Python loop
over :meth:`Task.run` (correct, slower). :func:`observe_all` then does the single env's step
bookkeeping (features, reward, episode end) for every sub-environment in one compiled loop, and
:func:`undo_rejected` applies the single env's rejection rule. The arrays are the vector env's
rows, one per sub-environment: ``stats`` (N, N_STATS), ``memory`` (N, N_MEMORY), ``lr`` (N,).
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext

import numba
import numpy as np

from lrgym.features import M_CAP
from lrgym.settings import EnvSettings
from lrgym.step import observe
from lrgym.tasks import batched
from lrgym.tasks.base import S_DIVERGED, S_TRAIN_LOSS, S_UPDATES, S_VAL_LOSS, S_VAL_METRIC
from lrgym.tasks.blas import blas_single_thread


@numba.njit(cache=True, nogil=True)
def observe_all(
    active, stats, memory, t, updates, horizon, max_steps, lr, reward_code, reward_params, obs,
    rewards, terminated, truncated,
):
    """The single env's step bookkeeping after its kernel ran, for every active env: count the
    updates and the step, compute features and reward (:func:`lrgym.step.observe`), decide the
    episode's end (``max_steps`` > 0: also truncate after that many steps)."""
    for e in range(stats.shape[0]):
        if not active[e]:
            continue
        updates[e] += int(stats[e, S_UPDATES])
        t[e] += 1
        rewards[e] = observe(stats[e], memory[e], t[e], horizon, lr[e], reward_code, reward_params, obs[e])
        term = stats[e, S_DIVERGED] > 0.0
        terminated[e] = term
        truncated[e] = ((not term) and t[e] >= horizon) or (max_steps > 0 and t[e] >= max_steps)


def snapshot(states: list, stats: np.ndarray, active: np.ndarray) -> dict:
    """Copies of the training state and statistics of every active sub-env (before a step that
    the rejection rule may undo)."""
    return {i: (states[i].copy(), stats[i].copy()) for i in np.flatnonzero(active)}


def undo_rejected(before: dict, states: list, stats: np.ndarray, threshold: float, rejected: np.ndarray) -> None:
    """The single env's rejection rule: undo a step whose training loss rose by more than
    ``threshold`` (a fraction): training state and losses back to ``before``, ``rejected[i]`` set."""
    for i, (state_before, stats_before) in before.items():
        s = stats[i]
        if s[S_DIVERGED] == 0.0 and s[S_TRAIN_LOSS] > (1.0 + threshold) * stats_before[S_TRAIN_LOSS]:
            states[i].restore(state_before)
            for k in (S_TRAIN_LOSS, S_VAL_LOSS, S_VAL_METRIC):
                s[k] = stats_before[k]
            rejected[i] = True



class _Group:
    """The sub-environments of one kernel kind (and item type): a typed list of kernel-argument
    tuples, their vector indices, and the address of the kernel's compiled code."""

    def __init__(self, kind, addr: int, key: tuple):
        self.kind = kind
        self.addr = addr
        self.key = key
        self.items = None  # numba.typed.List, created on the first append (its type is the item's)
        self.envs: list[int] = []
        self.env_idx = np.zeros(0, dtype=np.int64)

    def __len__(self):
        return len(self.envs)


class KernelGroups:
    """Which compiled kernel runs each sub-environment's inner training, and running them.

    :meth:`place` (after a sub-environment's reset) files its task and training state under the
    kernel kind of its task; :meth:`run` runs every group in one compiled call per kind (and the
    tasks without a kind in a Python loop).
    """

    def __init__(self, num_envs: int, settings: EnvSettings, parallel: bool = False):
        self.settings = settings
        self.parallel = parallel
        self._groups: dict[tuple, _Group] = {}
        self._slot: list[tuple[_Group, int] | None] = [None] * num_envs
        self._fallback: dict[int, tuple] = {}  # env index -> (task, state) without a compiled kind

    def place(self, i: int, task, state, lr: float, loss_cap: float, stats_row: np.ndarray) -> None:
        """Sub-environment i now trains ``task`` from ``state`` (its reset just happened);
        ``lr``, ``loss_cap`` and ``stats_row`` type the kernel on first use of a kind."""
        kind = batched.kind_of(task)
        old = self._slot[i]
        self._fallback.pop(i, None)
        if kind is batched.FALLBACK:
            if old is not None:
                self._remove(i)
            self._fallback[i] = (task, state)
            return
        item = kind.item(task, state)
        key = (kind.name, batched.item_layout(item))
        if old is not None and old[0].key == key:
            batched.set_item(old[0].items, old[1], item)
            return
        if old is not None:
            self._remove(i)
        group = self._groups.get(key)
        if group is None:
            if not batched.check_item(kind, item):
                warnings.warn(
                    f"lrgym.tasks.batched: the {kind.name!r} kernel's arguments changed; the vector env "
                    "falls back to a Python loop over Task.run for these tasks (correct, slower)",
                    RuntimeWarning,
                )
                self._fallback[i] = (task, state)
                return
            s = self.settings
            args = batched.kernel_args(item, lr, s.inner_steps, s.opt_code, s.hyper, loss_cap, stats_row)
            group = self._groups[key] = _Group(kind, batched.kernel_address(kind.kernel, args), key)
        if group.items is None:
            group.items = batched.new_items(item)
        else:
            batched.append_item(group.items, item)
        group.envs.append(i)
        group.env_idx = np.array(group.envs, dtype=np.int64)
        self._slot[i] = (group, len(group.envs) - 1)

    def summary(self) -> list[tuple[str, int]]:
        """(kernel kind name, number of sub-environments) per group, in creation order; tasks
        without a compiled kind count under :data:`lrgym.tasks.batched.FALLBACK`'s name."""
        out = [(g.kind.name, len(g)) for g in self._groups.values()]
        if self._fallback:
            out.append((batched.FALLBACK.name, len(self._fallback)))
        return out

    def _remove(self, i: int) -> None:
        group, pos = self._slot[i]
        last = len(group.envs) - 1
        batched.remove_item(group.items, pos)
        if pos != last:
            moved = group.envs[last]
            group.envs[pos] = moved
            self._slot[moved] = (group, pos)
        group.envs.pop()
        group.env_idx = np.array(group.envs, dtype=np.int64)
        self._slot[i] = None

    def run(self, active: np.ndarray, lr: np.ndarray, memory: np.ndarray, stats: np.ndarray) -> None:
        """The inner training of every active sub-environment: one compiled call per kind."""
        s = self.settings
        driver = batched.run_parallel if self.parallel else batched.run_serial
        caps = memory[:, M_CAP]  # each env's loss cap (a view)
        if self.parallel:  # dynamic scheduling, one env at a time (see run_parallel)
            chunksize = numba.set_parallel_chunksize(1)
        try:
            for group in self._groups.values():
                if len(group):
                    # BLAS on one thread where the single env has it (kernels calling np.dot):
                    # OpenBLAS's own threads make small products slower, much slower on a busy
                    # machine (lrgym.tasks.blas), and the vector env reproduces the single env
                    blas = blas_single_thread() if group.kind.single_thread_blas else nullcontext()
                    with blas:
                        driver(group.items, group.addr, group.env_idx, active, lr, s.inner_steps, s.opt_code,
                               s.hyper, caps, stats)
        finally:
            if self.parallel:
                numba.set_parallel_chunksize(chunksize)
        for i, (task, state) in self._fallback.items():
            if active[i]:
                task.run(state, float(lr[i]), s.inner_steps, s.opt_code, s.hyper, memory[i, M_CAP], stats[i])
