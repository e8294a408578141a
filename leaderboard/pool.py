"""Grader side of the runner: a pool of isolated worker processes that speak JSON.

:class:`WorkerPool` starts ``n_workers`` fresh interpreters (``python -m lrgym.leaderboard.worker``:
nothing of the grader is inherited but ``sys.path`` without the working directory, and the
environment; :mod:`lrgym.leaderboard.import_paths`), hands them jobs one
at a time as JSON and collects JSON replies with :func:`multiprocessing.connection.wait`.

Jobs belong to *groups* (one group = one policy being evaluated). A group fails as soon as one
of its jobs fails; its other jobs are then dropped (pending) or their workers killed (running):

* the worker replied ``{"ok": false, "reason": ...}`` (policy raised, invalid action, ...);
* the worker died (killed by a signal, out of memory, ``os._exit``): "worker process died";
* the group's wall-clock ``time_limit`` passed (counted from its first dispatched job):
  its running workers are killed.

A killed worker is replaced while jobs remain. Workers that ran a group's code are not reused
for another group when ``isolate_groups`` is set (untrusted submissions): each submission gets
workers (and sandboxes) of its own.

:meth:`WorkerPool.run` is a loop over four steps, each a method: hand out jobs
(:meth:`~WorkerPool._dispatch`), wait for a reply, a death or a deadline, read what arrived
(:meth:`~WorkerPool._collect`), and fail the groups whose time is up (:meth:`~WorkerPool._expire`);
the bookkeeping of groups (replies in job order, counts, deadlines) lives in :class:`_Groups`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Callable

from lrgym.leaderboard.import_paths import child_path_env
from lrgym.tasks.blas import SINGLE_THREAD_ENV

__all__ = ["Job", "GroupResult", "WorkerPool", "default_workers"]

MAX_REPLY_BYTES = 256 * 1024 * 1024


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS
        return max(1, os.cpu_count() or 1)


@dataclass
class Job:
    group: str
    payload: dict  # JSON-able; sent to the worker as is
    cost: float = 1.0  # rough relative cost (only for ordering)


@dataclass
class GroupResult:
    """Replies of one group, in job order, or the reason it failed."""

    name: str
    replies: list = field(default_factory=list)
    failed: bool = False
    reason: str | None = None
    started: float | None = None
    finished: float | None = None

    @property
    def elapsed(self) -> float:
        if self.started is None or self.finished is None:
            return 0.0
        return self.finished - self.started


def _child_env(hidden: tuple[str, ...] | list[str] = ()) -> dict:
    """A worker's environment: the grader's, importing what the grader imports (its ``sys.path``,
    like multiprocessing's spawn) except the working directory and ``hidden``
    (:mod:`lrgym.leaderboard.import_paths`)."""
    env = {**os.environ, **child_path_env(hidden)}
    for var, value in SINGLE_THREAD_ENV.items():  # BLAS on one thread unless the grader's env says otherwise
        env.setdefault(var, value)
    return env


#: prefix of a worker's temp folder: ``lrgym-worker-<pid of the process that owns the worker>-``
SCRATCH_PREFIX = "lrgym-worker-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def sweep_orphaned_scratch(tmp: str | None = None) -> int:
    """Remove the worker temp folders whose owning process has died (a grader killed with
    ``kill -9``: its workers die with it, by ``PR_SET_PDEATHSIG``, and nobody removed their
    folders). Folders of live processes, of other users and of other names are left alone.
    Returns how many were removed. (Assumes the graders sharing this temp dir share a PID
    namespace, as the processes of one machine or container do.)"""
    tmp = tmp or tempfile.gettempdir()
    removed = 0
    try:
        names = os.listdir(tmp)
    except OSError:
        return 0
    for name in names:
        if not name.startswith(SCRATCH_PREFIX):
            continue
        owner = name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        path = os.path.join(tmp, name)
        try:
            mine = os.stat(path).st_uid == os.getuid()
        except OSError:
            continue
        if owner.isdigit() and mine and not _alive(int(owner)):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


class _Worker:
    """One ``python -m lrgym.leaderboard.worker`` process: jobs on its stdin, replies on a pipe."""

    def __init__(self, quiet: bool, hidden: tuple[str, ...] | list[str] = ()):
        job_r, job_w = os.pipe()
        rep_r, rep_w = os.pipe()
        out = subprocess.DEVNULL if quiet else None
        # quiet: its stderr goes to a private file whose last lines explain a death (_death_reason)
        self.stderr = tempfile.TemporaryFile(prefix="lrgym-worker-") if quiet else None
        # the worker's temp folder (its TMPDIR: the sandboxes' private folders go there), made and
        # removed here, so a worker killed mid-job (time limit, failed group) leaves nothing behind;
        # named after this process, so that if this process is killed a later pool removes it
        sweep_orphaned_scratch()
        self.scratch = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lrgym.leaderboard.worker", str(rep_w)],
                stdin=job_r, stdout=out, stderr=self.stderr, pass_fds=(rep_w,),
                env={**_child_env(hidden), "TMPDIR": self.scratch}, cwd=self.scratch, close_fds=True,
                start_new_session=True,  # its own process group: killed as a whole, spared the terminal's ^C
            )
        except BaseException:
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise
        finally:
            os.close(job_r)
            os.close(rep_w)
        self.jobs = Connection(job_w, readable=False)
        self.conn = Connection(rep_r, writable=False)
        try:
            self.sentinel = os.pidfd_open(self.process.pid)
        except (AttributeError, OSError):  # pragma: no cover - old kernels / macOS: EOF only
            self.sentinel = None
        self.job: tuple[int, Job] | None = None
        self.groups: set[str] = set()

    @property
    def waitables(self) -> list:
        return [self.conn] if self.sentinel is None else [self.conn, self.sentinel]

    def send(self, index: int, job: Job) -> None:
        self.job = (index, job)
        self.groups.add(job.group)
        self.jobs.send_bytes(json.dumps(job.payload).encode())

    def receive(self) -> tuple[dict | None, str | None]:
        """(reply, None), or (None, why not) when the worker died or broke the protocol."""
        raw = None
        if self.conn.poll():
            try:
                raw = self.conn.recv_bytes(MAX_REPLY_BYTES)
            except (EOFError, OSError):  # dead, or an oversized message
                raw = None
        if raw is None:
            return None, _death_reason(self.process, self.stderr)
        try:
            reply = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            reply = None
        if not isinstance(reply, dict):
            return None, "malformed reply from the worker (protocol violated)"
        return reply, None

    def _close(self) -> None:
        for c in (self.jobs, self.conn, self.stderr):
            if c is None:
                continue
            try:
                c.close()
            except (OSError, ValueError):
                pass
        if self.sentinel is not None:
            os.close(self.sentinel)
            self.sentinel = None
        if self.process.poll() is not None:  # gone: nothing writes to its temp folder any more
            shutil.rmtree(self.scratch, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL the worker and its process group (its sandboxes die with it: PDEATHSIG)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, AttributeError):
            if self.process.poll() is None:
                self.process.kill()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        self._close()

    def stop(self) -> None:
        """Ask the worker to finish (it ends its sandboxes), kill it if it does not."""
        try:
            self.jobs.send_bytes(b'{"op": "stop"}')
        except (BrokenPipeError, OSError):
            pass
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()
            return
        self._close()


def _death_reason(process, stderr=None) -> str:
    """Why a worker died, with the last lines it wrote to stderr (control characters removed)."""
    from lrgym.leaderboard.sandbox import death_reason
    from lrgym.leaderboard.text import clean

    try:
        code = process.wait(1)
    except subprocess.TimeoutExpired:
        code = None
    reason = death_reason(code, who="worker process")
    tail = ""
    if stderr is not None:
        try:
            stderr.seek(0, os.SEEK_END)
            stderr.seek(max(0, stderr.tell() - 4000))
            tail = "\n".join(clean(stderr.read().decode("utf-8", "replace")).splitlines()[-20:])
        except (OSError, ValueError):
            tail = ""
    return reason + (f"\n--- last lines of the worker's stderr ---\n{tail}" if tail.strip() else "")


class _Groups:
    """Bookkeeping of a run: each group's replies in job order, jobs left, deadline, result."""

    def __init__(self, jobs: list[Job], time_limit: float | None, on_group_done):
        self.order: list[str] = list(dict.fromkeys(job.group for job in jobs))
        self.remaining = {g: 0 for g in self.order}
        self.slot_of: list[int] = []
        for job in jobs:
            self.slot_of.append(self.remaining[job.group])
            self.remaining[job.group] += 1
        self.results = {g: GroupResult(g, replies=[None] * self.remaining[g]) for g in self.order}
        self.pending = deque(enumerate(jobs))
        self.deadline: dict[str, float] = {}
        self.time_limit = time_limit
        self.on_group_done = on_group_done

    def started(self, group: str) -> None:
        res = self.results[group]
        if res.started is None:
            res.started = time.monotonic()
            if self.time_limit is not None:
                self.deadline[group] = res.started + self.time_limit

    def finish(self, group: str) -> None:
        res = self.results[group]
        if res.finished is None:
            res.finished = time.monotonic()
            if res.started is None:
                res.started = res.finished
            if self.on_group_done is not None:
                self.on_group_done(res)

    def fail(self, group: str, reason: str) -> bool:
        """Mark ``group`` failed and drop its pending jobs; False if it had already ended."""
        res = self.results[group]
        if res.failed or res.finished is not None:
            return False
        res.failed, res.reason, res.replies = True, reason, []
        for item in [p for p in self.pending if p[1].group == group]:
            self.pending.remove(item)
        self.finish(group)
        return True

    def replied(self, index: int, job: Job, reply: dict) -> bool:
        """Store a successful reply; True if it counts (its group has not failed)."""
        res = self.results[job.group]
        if res.failed:
            return False
        res.replies[self.slot_of[index]] = reply
        self.remaining[job.group] -= 1
        if self.remaining[job.group] == 0:
            self.finish(job.group)
        return True


class WorkerPool:
    """Run groups of JSON jobs on isolated worker processes (see the module docstring).

    Args:
        n_workers: processes (default: all cores).
        time_limit: wall-clock seconds per group, or None.
        isolate_groups: never run two groups' jobs in the same worker process.
        quiet: send the workers' stdout and stderr to /dev/null.
    """

    def __init__(self, n_workers: int | None = None, time_limit: float | None = None,
                 isolate_groups: bool = False, quiet: bool = True):
        self.n_workers = max(1, n_workers or default_workers())
        self.time_limit = time_limit
        self.isolate_groups = isolate_groups
        self.quiet = quiet

    def run(
        self,
        jobs: list[Job],
        on_reply: Callable[[Job, dict], None] | None = None,
        on_group_done: Callable[[GroupResult], None] | None = None,
    ) -> dict[str, GroupResult]:
        """Run every job; returns one :class:`GroupResult` per group (in first-job order).

        ``on_reply(job, reply)`` is called for every successful reply and
        ``on_group_done(result)`` once per group as soon as it has finished or failed: the
        caller can record it right away (one store transaction per finished entry).
        """
        groups = _Groups(jobs, self.time_limit, on_group_done)
        workers: list[_Worker] = []
        try:
            while groups.pending or any(w.job is not None for w in workers):
                self._dispatch(groups, workers)
                busy = [w for w in workers if w.job is not None]
                if not busy:
                    continue
                ready = wait([x for w in busy for x in w.waitables], self._timeout(groups, busy))
                self._collect(groups, workers, busy, ready, on_reply)
                self._expire(groups, workers)
        finally:
            for w in workers:
                w.stop() if w.job is None else w.kill()
        for g in groups.order:  # groups with no job left unfinished (cannot happen, but be total)
            groups.finish(g)
        return groups.results

    def _usable(self, w: _Worker, job: Job) -> bool:
        return not self.isolate_groups or not w.groups or w.groups == {job.group}

    def _dispatch(self, groups: _Groups, workers: list[_Worker]) -> None:
        """Retire idle workers another group may not use, start new ones, hand out jobs."""
        for w in list(workers):
            if w.job is None and groups.pending and not self._usable(w, groups.pending[0][1]):
                w.stop()
                workers.remove(w)
        while groups.pending and len(workers) < min(self.n_workers, len(groups.pending)
                                                      + sum(w.job is not None for w in workers)):
            workers.append(_Worker(self.quiet))
        for w in list(workers):
            if w in workers and w.job is None and groups.pending and self._usable(w, groups.pending[0][1]):
                index, job = groups.pending.popleft()
                groups.started(job.group)
                try:
                    w.send(index, job)
                except (BrokenPipeError, OSError):
                    reason = _death_reason(w.process, w.stderr)
                    w.kill()
                    workers.remove(w)
                    self._fail(groups, workers, job.group, reason)

    @staticmethod
    def _timeout(groups: _Groups, busy: list[_Worker]) -> float | None:
        live = [groups.deadline[w.job[1].group] for w in busy if w.job[1].group in groups.deadline]
        return max(0.0, min(live) - time.monotonic()) if live else None

    def _collect(self, groups: _Groups, workers: list[_Worker], busy: list[_Worker], ready: list,
                 on_reply) -> None:
        """Read the replies (or deaths) of the workers that are ready."""
        for w in busy:
            if w not in workers or w.job is None or not any(x in ready for x in w.waitables):
                continue
            index, job = w.job
            reply, problem = w.receive()
            if reply is None:
                w.kill()
                workers.remove(w)
                self._fail(groups, workers, job.group, problem)
                continue
            w.job = None
            if not reply.get("ok"):
                self._fail(groups, workers, job.group, str(reply.get("reason", "unknown failure")))
            elif groups.replied(index, job, reply) and on_reply is not None:
                on_reply(job, reply)

    def _expire(self, groups: _Groups, workers: list[_Worker]) -> None:
        """Fail the groups whose wall-clock limit has passed (their workers are killed)."""
        now = time.monotonic()
        for w in list(workers):
            if w.job is not None and now >= groups.deadline.get(w.job[1].group, math.inf):
                self._fail(groups, workers, w.job[1].group,
                           f"timeout: exceeded the wall-clock limit of {self.time_limit:g} s")

    @staticmethod
    def _fail(groups: _Groups, workers: list[_Worker], group: str, reason: str) -> None:
        """Fail ``group``: its pending jobs are dropped, its running workers killed."""
        if not groups.fail(group, reason):
            return
        for w in list(workers):
            if w.job is not None and w.job[1].group == group:
                w.kill()
                workers.remove(w)
