"""The grader's worker pool on a Ray cluster: same jobs, same workers, same results.

:class:`RayWorkerPool` has the interface and the group semantics of
:class:`lrgym.leaderboard.pool.WorkerPool` (groups that fail as a whole, a wall-clock limit per
group, workers not shared between groups with ``isolate_groups``, ``on_reply`` /
``on_group_done`` called on the driver as results arrive), but its workers live on a Ray
cluster. Each worker slot is a Ray actor (:class:`GraderHost`, one CPU) that starts the very
same grader worker the local pool starts — ``python -m lrgym.leaderboard.worker``, a fresh
interpreter speaking JSON over pipes — on whatever node Ray placed it, and forwards jobs to it.
So the job code, its seeds and the submission's sandbox (its own process in PID, network and
mount namespaces, its limits: :mod:`lrgym.leaderboard.sandbox`) are the local pool's, inside
the Ray worker; only the driver writes the store.

Failures:

* the grader worker dies or a policy fails: the group fails with the reason, as locally;
* the *Ray* worker is lost (its actor process killed, its node gone): the job is run again on a
  new actor — which Ray places on a live node — once; a second loss fails the group with Ray's
  reason. Replies already received are kept: nothing finished is lost;
* a group over its time limit: its actors are killed (``ray.kill``); their grader worker and
  its sandbox die with them (``PR_SET_PDEATHSIG`` links actor → worker → sandbox).

A submission given as a file (``path/to/policy.py:Name`` and the ``.py`` files beside it, or an
SB3 zip and its sidecar) is read on the driver and written to a private temporary folder on the
node that runs it, so the cluster's nodes need no shared file system.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

from lrgym.baselines.backend import RAY_RETRIES, connect
from lrgym.leaderboard.import_paths import hidden_dirs
from lrgym.leaderboard.pool import GroupResult, Job, _Groups

__all__ = ["GraderHost", "RayWorkerPool", "ship_files"]


def ship_files(spec: dict) -> tuple[dict, dict[str, bytes]]:
    """(spec with its file path relative, the files it needs) for a policy spec that names files
    on the driver; ``(spec, {})`` for baselines and installed modules. The worker's own rules say
    which files belong to a submission and how they are read (:func:`lrgym.leaderboard.worker.read_policy_files`,
    :func:`~lrgym.leaderboard.worker.read_sb3_files`: the directory opened once, without following links)."""
    from lrgym.leaderboard.worker import read_policy_files, read_sb3_files

    kind = spec.get("kind")
    if kind == "sb3":
        path = Path(spec["path"])
        return {**spec, "path": path.name}, read_sb3_files(path)
    if kind == "object":
        where, _, attr = spec["target"].rpartition(":")
        if not (where.endswith(".py") or "/" in where or os.sep in where):
            return spec, {}  # an installed module: the cluster's Python has it
        path = Path(where)
        return {**spec, "target": f"{path.name}:{attr}"}, read_policy_files(path)
    return spec, {}


class GraderHost:
    """A Ray actor holding one grader worker process (:mod:`lrgym.leaderboard.worker`).

    ``run(payload, files)`` sends one job and blocks until its reply; returns ``(reply, None)``
    or ``(None, why the worker died)``, like the local pool's worker handle.
    """

    def __init__(self, quiet: bool = True, hidden: tuple[str, ...] | list[str] = ()):
        from lrgym.leaderboard.pool import _Worker

        # hidden: the driver's working directory, which Ray puts on this actor's sys.path
        self._make = lambda: _Worker(quiet, hidden)
        self.worker = None
        self.files_dir = None

    def pid(self) -> int:
        return os.getpid()

    def _localise(self, payload: dict, files: dict) -> dict:
        """Write a submission's files into this node's private temp folder; point the spec there."""
        if not files:
            return payload
        import tempfile

        if self.files_dir is None:
            from lrgym.leaderboard.pool import SCRATCH_PREFIX

            # mode 0700, named after this actor's process: stop() removes it, and if the actor is
            # killed (a time limit, a failed group, ^C of the driver) the next grader on this node
            # removes it (pool.sweep_orphaned_scratch), so no copy of a submission stays behind
            self.files_dir = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-submission-")
        for name, data in files.items():
            (Path(self.files_dir) / Path(name).name).write_bytes(data)
        policy = dict(payload["policy"])
        if policy.get("kind") == "sb3":
            policy["path"] = str(Path(self.files_dir) / policy["path"])
        else:
            policy["target"] = str(Path(self.files_dir) / policy["target"])
        return {**payload, "policy": policy}

    def run(self, payload: dict, files: dict | None = None):
        from multiprocessing.connection import wait

        from lrgym.leaderboard.pool import _death_reason

        if self.worker is None:
            self.worker = self._make()
        try:
            self.worker.send(0, Job("", self._localise(payload, files or {})))
        except (BrokenPipeError, OSError):  # the grader worker died before taking the job
            reply, problem = None, _death_reason(self.worker.process, self.worker.stderr)
        else:
            wait(self.worker.waitables)
            reply, problem = self.worker.receive()
        if reply is None:
            self.worker.kill()
            self.worker = None
        return reply, problem

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self.files_dir is not None:
            import shutil

            shutil.rmtree(self.files_dir, ignore_errors=True)


class _Slot:
    """The driver's handle of one actor: its current job, the groups it served."""

    def __init__(self, actor):
        self.actor = actor
        self.job: tuple[int, Job] | None = None
        self.ref = None
        self.groups: set[str] = set()


class RayWorkerPool:
    """:class:`~lrgym.leaderboard.pool.WorkerPool` on a Ray cluster (see the module docstring).

    Args:
        n_workers: actors at once (default: the cluster's CPUs).
        time_limit: wall-clock seconds per group, or None.
        isolate_groups: never run two groups' jobs on the same actor (and grader worker).
        quiet: the grader workers' stdout to /dev/null (their stderr explains a death).
        address: the Ray cluster (:func:`lrgym.baselines.backend.connect`).
    """

    def __init__(self, n_workers: int | None = None, time_limit: float | None = None,
                 isolate_groups: bool = False, quiet: bool = True, address: str | None = None):
        self.ray = connect(address)
        self.n_workers = max(1, n_workers or int(self.ray.cluster_resources().get("CPU", 1)))
        self.time_limit = time_limit
        self.isolate_groups = isolate_groups
        self.quiet = quiet
        self._host = self.ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(GraderHost)
        self.lost_workers = 0  # Ray workers lost during the last run (each cost a retry)

    def run(
        self,
        jobs: list[Job],
        on_reply: Callable[[Job, dict], None] | None = None,
        on_group_done: Callable[[GroupResult], None] | None = None,
    ) -> dict[str, GroupResult]:
        """Run every job; one :class:`GroupResult` per group (see ``WorkerPool.run``)."""
        from lrgym.leaderboard.pool import sweep_orphaned_scratch

        sweep_orphaned_scratch()  # what killed actors of an earlier run left on this node
        groups = _Groups(jobs, self.time_limit, on_group_done)
        attempts: dict[int, int] = {}
        shipped: dict[str, tuple] = {}
        slots: list[_Slot] = []
        self.lost_workers = 0
        try:
            while groups.pending or any(s.job is not None for s in slots):
                self._dispatch(groups, slots, shipped)
                busy = [s for s in slots if s.job is not None]
                if not busy:
                    continue
                ready, _ = self.ray.wait([s.ref for s in busy], num_returns=1, timeout=self._timeout(groups, busy))
                for slot in [s for s in busy if s.ref in ready]:
                    self._collect(groups, slots, slot, attempts, on_reply)
                self._expire(groups, slots)
        finally:
            for s in slots:
                self._end(s, graceful=s.job is None)
        for g in groups.order:
            groups.finish(g)
        return groups.results

    # -- the four steps of the loop -------------------------------------------------------------

    def _usable(self, slot: _Slot, job: Job) -> bool:
        return not self.isolate_groups or not slot.groups or slot.groups == {job.group}

    def _dispatch(self, groups: _Groups, slots: list[_Slot], shipped: dict) -> None:
        for s in list(slots):
            if s.job is None and groups.pending and not self._usable(s, groups.pending[0][1]):
                self._end(s, graceful=True)
                slots.remove(s)
        while groups.pending and len(slots) < min(self.n_workers,
                                                  len(groups.pending) + sum(s.job is not None for s in slots)):
            slots.append(_Slot(self._host.remote(self.quiet, hidden_dirs())))
        for s in slots:
            if s.job is None and groups.pending and self._usable(s, groups.pending[0][1]):
                index, job = groups.pending.popleft()
                groups.started(job.group)
                payload, files = self._shipped(job, shipped)
                s.job, s.ref = (index, job), s.actor.run.remote(payload, files)
                s.groups.add(job.group)

    def _shipped(self, job: Job, cache: dict) -> tuple[dict, dict]:
        """The job's payload with a submission's files attached (read once per policy)."""
        policy = job.payload.get("policy")
        if not isinstance(policy, dict):
            return job.payload, {}
        key = json.dumps(policy, sort_keys=True)
        if key not in cache:
            try:
                cache[key] = ship_files(policy)
            except (OSError, ValueError, KeyError):  # missing or oversized: the worker reports it
                cache[key] = (policy, {})
        rel, files = cache[key]
        return {**job.payload, "policy": rel}, files

    @staticmethod
    def _timeout(groups: _Groups, busy: list[_Slot]) -> float | None:
        live = [groups.deadline[s.job[1].group] for s in busy if s.job[1].group in groups.deadline]
        return max(0.0, min(live) - time.monotonic()) if live else None

    def _collect(self, groups: _Groups, slots: list[_Slot], slot: _Slot, attempts: dict, on_reply) -> None:
        ray = self.ray
        index, job = slot.job
        try:
            reply, problem = ray.get(slot.ref)
        except ray.exceptions.RayTaskError as exc:  # GraderHost itself raised (a bug, not a loss)
            self._end(slot, graceful=False)
            slots.remove(slot)
            self._fail(groups, slots, job.group, f"grader error on the Ray worker: {exc}")
            return
        except ray.exceptions.RayError as exc:  # the actor (Ray worker) or its node is gone
            self.lost_workers += 1
            self._end(slot, graceful=False)
            slots.remove(slot)
            if groups.results[job.group].failed:
                return
            attempts[index] = attempts.get(index, 0) + 1
            if attempts[index] <= RAY_RETRIES:
                groups.pending.appendleft((index, job))  # run again, on a new actor
            else:
                self._fail(groups, slots, job.group,
                           f"lost its Ray worker {attempts[index]} times (retried on a new one): "
                           f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            return
        slot.job, slot.ref = None, None
        if reply is None:
            self._end(slot, graceful=False)
            slots.remove(slot)
            self._fail(groups, slots, job.group, problem)
        elif not reply.get("ok"):
            self._fail(groups, slots, job.group, str(reply.get("reason", "unknown failure")))
        elif groups.replied(index, job, reply) and on_reply is not None:
            on_reply(job, reply)

    def _expire(self, groups: _Groups, slots: list[_Slot]) -> None:
        now = time.monotonic()
        for s in list(slots):
            if s.job is not None and now >= groups.deadline.get(s.job[1].group, float("inf")):
                self._fail(groups, slots, s.job[1].group,
                           f"timeout: exceeded the wall-clock limit of {self.time_limit:g} s")

    def _fail(self, groups: _Groups, slots: list[_Slot], group: str, reason: str) -> None:
        if not groups.fail(group, reason):
            return
        for s in list(slots):
            if s.job is not None and s.job[1].group == group:
                self._end(s, graceful=False)
                slots.remove(s)

    def _end(self, slot: _Slot, graceful: bool) -> None:
        """Stop an idle actor's worker (it ends its sandboxes), or kill a busy actor outright."""
        ray = self.ray
        if graceful:
            try:
                ray.get(slot.actor.stop.remote(), timeout=20)
            except Exception:  # noqa: BLE001 - already dead or stuck: killed below
                pass
        try:
            ray.kill(slot.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        slot.job = slot.ref = None

