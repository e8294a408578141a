"""The Ray grader actor's abort, run in this process without Ray (``GraderHost`` is a plain class
that Ray makes an actor): it ends a job under way by killing the grader worker, and returns once
``run`` has reaped the worker and removed its temp folder; a job sent after it never starts."""

from __future__ import annotations

import os
import threading
import time

from lrgym.leaderboard.pool import SCRATCH_PREFIX
from lrgym.leaderboard.ray_pool import GraderHost


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_abort_ends_a_job_under_way_and_removes_its_workers_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the worker's temp folder is made here
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    host = GraderHost(quiet=True)
    outcome = {}
    run = threading.Thread(target=lambda: outcome.update(zip(("reply", "problem"),
                                                              host.run({"op": "sleep", "seconds": 120}))))
    run.start()
    deadline = time.monotonic() + 60
    while host.worker is None and time.monotonic() < deadline:
        time.sleep(0.01)
    worker = host.worker
    assert worker is not None, "the job never started its grader worker"
    pid = worker.process.pid
    assert [n for n in os.listdir(tmp_path) if n.startswith(SCRATCH_PREFIX)], "no worker temp folder"
    started = time.monotonic()
    host.abort()
    assert not run.is_alive(), "abort returned before run ended"
    run.join()
    assert time.monotonic() - started < 60  # a bound on a stuck abort, not a timing claim: sleep was 120 s
    assert outcome["reply"] is None and "SIGKILL" in outcome["problem"], outcome
    assert not _alive(pid)
    assert host.worker is None
    assert [n for n in os.listdir(tmp_path) if n.startswith(SCRATCH_PREFIX)] == []


def test_a_job_sent_after_abort_never_starts_a_worker():
    host = GraderHost(quiet=True)
    host.abort()
    reply, problem = host.run({"op": "sleep", "seconds": 0})
    assert reply is None and "stopped before the job started" in problem
    assert host.worker is None


def test_abort_of_an_idle_actor_returns_at_once():
    host = GraderHost(quiet=True)
    assert host.run({"op": "sleep", "seconds": 0}) == ({"ok": True}, None)
    worker = host.worker
    host.abort(seconds=0.0)
    assert host.worker is None and worker.process.poll() is not None  # stopped, reaped


