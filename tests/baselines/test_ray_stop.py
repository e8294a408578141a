"""The cooperative stop of a Ray task's job (lrgym.baselines.ray_stop.stops_when_asked), in this
process: the run's stop key is read through a stand-in for Ray's key-value store (a flag), and the
job runs in this thread as it runs in a Ray worker's. The stop through a real Ray cluster (the
driver writing the key, tasks on two nodes ending, the key deleted) is in
tests/leaderboard/test_ray_cluster.py."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from lrgym.baselines import ray_stop

POLL = 0.02


@pytest.fixture
def asked(monkeypatch):
    """The stop keys written (a set standing in for Ray's GCS store), read as a task reads them."""
    written: set[str] = set()
    monkeypatch.setattr(ray_stop, "_stop_asked", lambda key: key in written)
    return written


def _watchers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lrgym-stop-watch"]


def _python_work(seconds: float) -> int:
    """Python bytecode for ``seconds`` (where an asynchronous exception arrives), in small sleeps."""
    deadline, steps = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        time.sleep(0.005)
        steps += 1
    return steps


def test_a_job_ends_with_run_stopped_soon_after_its_stop_key_is_written(asked):
    """A job of 30 s ends within a few polls of its key being written, with RunStopped naming the
    key; its own ``finally`` runs and its ``except Exception`` does not swallow the stop."""
    seen = []

    def job():
        try:
            while True:
                try:
                    _python_work(30.0)
                    return "ran to its end"
                except Exception:  # noqa: BLE001 - a job catching its own errors
                    seen.append("swallowed")
        finally:
            seen.append("finally")

    threading.Timer(0.2, asked.add, args=("run-a",)).start()
    t0 = time.monotonic()
    with pytest.raises(ray_stop.RunStopped, match="'run-a' was written"):
        with ray_stop.stops_when_asked("run-a", poll=POLL):
            job()
    assert time.monotonic() - t0 < 10.0  # not the job's 30 s
    assert seen == ["finally"]
    _python_work(10 * POLL)  # nothing else arrives afterwards
    assert not _watchers()


def test_another_runs_key_does_not_stop_a_job(asked):
    asked.add("run-other")
    with ray_stop.stops_when_asked("run-mine", poll=POLL):
        steps = _python_work(10 * POLL)
    assert steps > 0


def test_a_job_that_ended_is_unaffected_by_its_runs_stop(asked):
    """The stop written after the job returned: its result stands, the watch has ended, and no
    exception reaches the code after it (in a Ray worker: Ray's own code, or the next task)."""
    with ray_stop.stops_when_asked("run-b", poll=POLL):
        out = sum(range(1000))
    asked.add("run-b")
    assert _python_work(20 * POLL) > 0 and out == 499500
    assert not _watchers()


def test_stops_as_jobs_end_never_reach_past_the_block(asked):
    """Stops written just as jobs end (the watcher raising while the block closes): each block
    either ends with RunStopped or returns; nothing arrives after it (a stop raised but not yet
    arrived is withdrawn; the watch ends with the block). Which of the two each block does depends
    on timing; that no stop escapes a block does not."""
    for round_ in range(60):
        key = f"run-{round_}"
        threading.Timer(POLL * (1 + round_ % 3) * 0.5, asked.add, args=(key,)).start()
        with contextlib.suppress(ray_stop.RunStopped):
            with ray_stop.stops_when_asked(key, poll=POLL / 4):
                _python_work(POLL * (1 + round_ % 3) * 0.5)
        _python_work(POLL)  # a stray stop would arrive here, as ray_stop._Stopped, and fail the test
    assert not _watchers()


def test_without_a_key_there_is_no_watch(asked):
    with ray_stop.stops_when_asked(None, poll=POLL):
        assert not _watchers()
        _python_work(3 * POLL)


def test_run_keys_are_unique():
    keys = {ray_stop.new_run_key() for _ in range(1000)}
    assert len(keys) == 1000 and all(k.startswith("run-") for k in keys)
