"""Grader side of the runner: a pool of isolated worker processes that speak JSON.

:class:`WorkerPool` starts ``n_workers`` fresh interpreters (``python -m lrgym.leaderboard.worker``:
nothing of the grader is inherited but ``sys.path`` and the environment), hands them jobs one
at a time as JSON and collects JSON replies with :func:`multiprocessing.connection.wait`.

Jobs belong to *groups* (one group = one policy being evaluated). A group fails as soon as one
of its jobs fails; its other jobs are then dropped (pending) or their workers killed (running):

* the worker replied ``{"ok": false, "reason": ...}`` (policy raised, invalid action, ...);
* the worker died (killed by a signal, out of memory, ``os._exit``): "worker process died";
* the group's wall-clock ``time_limit`` passed (counted from its first dispatched job):
  its running workers are killed.

A killed worker is replaced while jobs remain. Workers that ran a group's code are not reused
for another group when ``isolate_groups`` is set (untrusted submissions), so one policy cannot
tamper with another's results.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Callable

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


def _child_env() -> dict:
    env = dict(os.environ)
    # the worker imports what the grader imports (same sys.path, like multiprocessing's spawn)
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    return env


class _Worker:
    """One ``python -m lrgym.leaderboard.worker`` process: jobs on its stdin, replies on a pipe."""

    def __init__(self, memory_mb: float | None, quiet: bool):
        job_r, job_w = os.pipe()
        rep_r, rep_w = os.pipe()
        out = subprocess.DEVNULL if quiet else None
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lrgym.leaderboard.worker", str(rep_w), str(memory_mb or 0)],
                stdin=job_r, stdout=out, stderr=out, pass_fds=(rep_w,), env=_child_env(), close_fds=True,
                start_new_session=True,  # its own process group: killed as a whole, spared the terminal's ^C
            )
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
        self.started_at = 0.0
        self.groups: set[str] = set()

    @property
    def waitables(self) -> list:
        return [self.conn] if self.sentinel is None else [self.conn, self.sentinel]

    def send(self, index: int, job: Job) -> None:
        self.job = (index, job)
        self.started_at = time.monotonic()
        self.groups.add(job.group)
        self.jobs.send_bytes(json.dumps(job.payload).encode())

    def _close(self) -> None:
        for c in (self.jobs, self.conn):
            try:
                c.close()
            except OSError:
                pass
        if self.sentinel is not None:
            os.close(self.sentinel)
            self.sentinel = None

    def kill(self) -> None:
        """SIGKILL the worker and anything it started (its own process group)."""
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
        try:
            self.jobs.send_bytes(b'{"op": "stop"}')
        except (BrokenPipeError, OSError):
            pass
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(2)
        self._close()


def _death_reason(process) -> str:
    try:
        code = process.wait(1)
    except subprocess.TimeoutExpired:
        code = None
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory or killed)" if name == "SIGKILL" else ""
        return f"worker process died: killed by {name}{hint}"
    return f"worker process died: exit code {code}"


class WorkerPool:
    """Run groups of JSON jobs on isolated worker processes (see the module docstring).

    Args:
        n_workers: processes (default: all cores).
        memory_mb: address-space limit per worker (``RLIMIT_AS``), or None.
        time_limit: wall-clock seconds per group, or None.
        isolate_groups: never run two groups' jobs in the same worker process.
        quiet: send the workers' stdout to /dev/null (stderr is kept).
    """

    def __init__(self, n_workers: int | None = None, memory_mb: float | None = None,
                 time_limit: float | None = None, isolate_groups: bool = False, quiet: bool = True):
        self.n_workers = max(1, n_workers or default_workers())
        self.memory_mb = memory_mb
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
        order: list[str] = []
        remaining: dict[str, int] = {}
        for job in jobs:
            if job.group not in remaining:
                order.append(job.group)
                remaining[job.group] = 0
            remaining[job.group] += 1
        results = {g: GroupResult(g, replies=[None] * remaining[g]) for g in order}
        slot_of: list[int] = []
        seen: dict[str, int] = {g: 0 for g in order}
        for job in jobs:
            slot_of.append(seen[job.group])
            seen[job.group] += 1
        pending = deque(enumerate(jobs))
        workers: list[_Worker] = []
        deadline: dict[str, float] = {}

        def finish(group: str) -> None:
            res = results[group]
            if res.finished is None:
                res.finished = time.monotonic()
                if res.started is None:
                    res.started = res.finished
                if on_group_done is not None:
                    on_group_done(res)

        def fail(group: str, reason: str) -> None:
            res = results[group]
            if res.failed or res.finished is not None:
                return
            res.failed, res.reason = True, reason
            res.replies = []
            # drop its pending jobs and stop its running ones
            for item in [p for p in pending if p[1].group == group]:
                pending.remove(item)
            for w in list(workers):
                if w.job is not None and w.job[1].group == group:
                    w.kill()
                    workers.remove(w)
            finish(group)

        def usable(w: _Worker, job: Job) -> bool:
            return not self.isolate_groups or not w.groups or w.groups == {job.group}

        try:
            while pending or any(w.job is not None for w in workers):
                # hand out jobs
                for w in list(workers):
                    if w.job is None and pending and self.isolate_groups and not usable(w, pending[0][1]):
                        w.stop()
                        workers.remove(w)
                while pending and len(workers) < self.n_workers:
                    workers.append(_Worker(self.memory_mb, self.quiet))
                for w in list(workers):
                    if w in workers and w.job is None and pending and usable(w, pending[0][1]):
                        index, job = pending.popleft()
                        res = results[job.group]
                        if res.started is None:
                            res.started = time.monotonic()
                            if self.time_limit is not None:
                                deadline[job.group] = res.started + self.time_limit
                        try:
                            w.send(index, job)
                        except (BrokenPipeError, OSError):
                            reason = _death_reason(w.process)
                            w.kill()
                            workers.remove(w)
                            fail(job.group, reason)
                busy = [w for w in workers if w.job is not None]
                if not busy:
                    continue
                timeout = None
                if deadline:
                    live = [deadline[w.job[1].group] for w in busy if w.job[1].group in deadline]
                    if live:
                        timeout = max(0.0, min(live) - time.monotonic())
                ready = wait([x for w in busy for x in w.waitables], timeout)
                now = time.monotonic()
                for w in busy:
                    if w not in workers or w.job is None:
                        continue
                    index, job = w.job
                    if any(x in ready for x in w.waitables):
                        reply, problem = None, None
                        if w.conn.poll():
                            try:
                                raw = w.conn.recv_bytes(MAX_REPLY_BYTES)
                            except (EOFError, OSError):  # dead, or an oversized message
                                raw = None
                            if raw is not None:
                                try:
                                    reply = json.loads(raw)
                                except (ValueError, UnicodeDecodeError):
                                    reply = None
                                if not isinstance(reply, dict):
                                    reply, problem = None, "malformed reply from the worker (protocol violated)"
                        if reply is None:
                            reason = problem or _death_reason(w.process)
                            w.kill()
                            workers.remove(w)
                            fail(job.group, reason)
                            continue
                        w.job = None
                        if not reply.get("ok"):
                            fail(job.group, str(reply.get("reason", "unknown failure")))
                            continue
                        res = results[job.group]
                        if res.failed:
                            continue
                        res.replies[slot_of[index]] = reply
                        if on_reply is not None:
                            on_reply(job, reply)
                        remaining[job.group] -= 1
                        if remaining[job.group] == 0:
                            finish(job.group)
                    elif job.group in deadline and now >= deadline[job.group]:
                        fail(job.group, f"timeout: exceeded the wall-clock limit of {self.time_limit:g} s")
        finally:
            for w in workers:
                if w.job is None:
                    w.stop()
                else:
                    w.kill()
        for g in order:  # groups with no job left unfinished (cannot happen, but be total)
            finish(g)
        return results
