"""When the worker pool sweeps stale sandbox cgroups: once per process before its first run's
first worker (groups a grader killed earlier left), and after a worker ended abnormally (killed,
crashed: its sandboxes' groups may be left), never after a worker that ended normally, which
removed its sandboxes' groups itself. A sweep walks every cgroup hierarchy of the host from its
top (:func:`lrgym.leaderboard.sandbox_cgroup.sweep_stale_cgroups`; ≈ 1 ms on the project's
machine, growing with the host's cgroup tree); the pool ran one after every worker it reaped.

The sweeps are counted by wrapping the real sweep (which still runs); the reference for "ended
abnormally" is the jobs themselves (a crash, a SIGKILL) and for "removed its own groups" the
cgroup tree after a run with real sandboxes."""

from __future__ import annotations

import os
import signal
import sys

import pytest
from lb_helpers import POLICIES, sandbox_groups, tiny_suite

from lrgym.leaderboard import pool, sandbox_cgroup
from lrgym.leaderboard.pool import Job, WorkerPool

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux worker pool")


@pytest.fixture(autouse=True)
def _stops_are_waited_for(monkeypatch):
    """A worker asked to stop is given the time it takes (300 s: a bound on a hang) before the
    pool kills it, not ``pool.STOP_WAIT`` (15 s). A worker killed so ended abnormally and is rightly
    swept, so with 15 s the counts below depended on the machine's load: a worker retired
    normally that took over 15 s to exit on a busy machine added a sweep, and the test failed
    although the pool was right. Waiting for the exit itself makes "ended normally" a fact of
    the jobs, not of the scheduler. (``stop`` returns as soon as the worker has exited: no
    run is longer.)"""
    monkeypatch.setattr(pool, "STOP_WAIT", 300.0)


def _counted_sweeps(monkeypatch) -> list:
    """The ``tops`` of every :func:`~lrgym.leaderboard.sandbox_cgroup.sweep_stale_cgroups` this
    process runs from now on (the real sweep runs too)."""
    calls = []
    real = sandbox_cgroup.sweep_stale_cgroups

    def counting(tops=None):
        calls.append(tops)
        return real(tops)

    monkeypatch.setattr(sandbox_cgroup, "sweep_stale_cgroups", counting)
    return calls


def test_the_pool_sweeps_once_per_process_before_its_first_worker(monkeypatch):
    """A fresh process (the once-per-process sweep not run yet): its first run sweeps every
    hierarchy once, before any worker starts; its workers ending normally add none, nor does a
    second run. (It swept at every reaped worker: once per worker here, 4 in all.)"""
    sandbox_cgroup.sweep_stale_cgroups_once.cache_clear()  # as in a process that has not swept yet
    calls = _counted_sweeps(monkeypatch)
    started = []
    real_start = WorkerPool._start

    def start(self):
        started.append(len(calls))  # sweeps run before this worker started
        return real_start(self)

    monkeypatch.setattr(WorkerPool, "_start", start)
    jobs = [Job(group, {"op": "sleep", "seconds": 0}) for group in ("a", "a", "b", "b")]
    pool = WorkerPool(2, isolate_groups=True)  # each group's workers are retired (stopped) after it
    for _ in range(2):
        results = pool.run(jobs)
        assert not any(r.failed for r in results.values()), [r.reason for r in results.values()]
    assert len(started) >= 4  # two runs, two groups each, a worker of their own
    assert calls == [None] and started[0] == 1  # one whole-tree sweep, before the first worker


def test_the_pool_sweeps_after_each_abnormal_worker_end_only(tmp_path, monkeypatch):
    """Workers that end normally (retired between groups, stopped at the end), one that crashes
    (exit code 3: its group fails) and one killed by SIGKILL (its job runs again on a new worker):
    two sweeps, one per abnormal end. (It swept at each of the 5 reaped workers.)"""
    pool = WorkerPool(1, isolate_groups=True)
    pool.run([])  # this process's start sweep, if no run before ran it
    calls = _counted_sweeps(monkeypatch)
    marker = tmp_path / "killed-once"
    jobs = [Job("a", {"op": "sleep", "seconds": 0}), Job("a", {"op": "sleep", "seconds": 0}),
            Job("crash", {"op": "die", "code": 3}),
            Job("killed", {"op": "die", "signal": int(signal.SIGKILL), "once": str(marker)}),
            Job("b", {"op": "sleep", "seconds": 0})]
    results = pool.run(jobs)
    assert results["crash"].failed and "exit code 3" in results["crash"].reason, results["crash"].reason
    assert not results["killed"].failed and marker.exists() and pool.lost_workers == 1
    assert not results["a"].failed and not results["b"].failed
    assert len(calls) == 2 and calls == [None, None]  # the crashed worker's and the killed one's


@pytest.mark.skipif(sandbox_cgroup.memory_bound()["cgroup"] is None, reason="no sandbox cgroup on this machine")
def test_a_worker_that_ended_normally_left_no_group_without_a_sweep(monkeypatch):
    """The premise of sweeping after abnormal ends only, on real sandboxes: a graded submission
    (a cgroup per sandbox) whose worker is stopped normally leaves no group of that worker's, and
    the pool swept nothing after it."""
    from lrgym.leaderboard.references import load_references
    from lrgym.leaderboard.runner import run_suite, submission_spec

    suite = tiny_suite("normal-end", seeds=(0,), horizon=3, inner_steps=2)
    refs = load_references(suite, n_workers=1)
    WorkerPool(1).run([])  # this process's start sweep, if no run before ran it
    calls = _counted_sweeps(monkeypatch)
    workers = []
    real_start = WorkerPool._start

    def start(self):
        worker = real_start(self)
        workers.append(worker.process.pid)
        return worker

    monkeypatch.setattr(WorkerPool, "_start", start)
    [outcome] = run_suite([submission_spec(f"{POLICIES}:Keep", name="keep")], suite, references=refs, n_workers=1)
    assert outcome.entry.failure_reason is None and workers
    makers = tuple(f"{sandbox_cgroup.CGROUP_PREFIX}{pid}." for pid in workers)
    assert [g for g in sandbox_groups() if os.path.basename(g).startswith(makers)] == []
    assert calls == []
