"""The grader killed mid-run, and two submissions at once: the store stays valid, nothing is lost."""

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from lb_helpers import HERE, processes_with, tiny_suite

from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.store import ResultStore

SUITE_ARGS = dict(name="robust", families=("quadratic",), n_instances=2, seeds=(0, 1), horizon=20, inner_steps=2)
SUITE = tiny_suite(**SUITE_ARGS)


def _script(db, names, kind="submission", target="Slow", workers=2):
    """A grader process evaluating several policies into ``db`` (one entry each, in order)."""
    return textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {HERE!r})
        from lb_helpers import policy, tiny_suite
        from lrgym.leaderboard.runner import PolicySpec, run_suite
        from lrgym.leaderboard.store import ResultStore
        suite = tiny_suite(**{SUITE_ARGS!r})
        specs = [PolicySpec(n, {kind!r}, {{"kind": "object", "target": policy({target!r})}}) for n in {names!r}]
        with ResultStore({str(db)!r}) as store:
            run_suite(specs, suite, store=store, n_workers={workers}, time_limit=120)
    """)


def _spawn(code, token):
    env = dict(os.environ, LRGYM_TEST_TOKEN=token)
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=os.path.dirname(os.path.dirname(HERE)))


@pytest.fixture(scope="module", autouse=True)
def _references():
    load_references(SUITE, n_workers=2)  # cached for the subprocesses (same LRGYM_CACHE)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and PR_SET_PDEATHSIG")
def test_grader_killed_mid_run_leaves_store_valid_and_no_orphans(tmp_path):
    db = tmp_path / "results.sqlite"
    names = [f"slow{i}" for i in range(10)]
    token = uuid.uuid4().hex
    proc = _spawn(_script(db, names), token)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if db.exists():
                with ResultStore(db) as store:
                    if len(store.entries(SUITE.version)) >= 2:
                        break
            assert proc.poll() is None, "the grader finished before it could be killed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with ResultStore(db) as store:
        assert store.check_integrity()
        entries = store.entries(SUITE.version)
        assert 2 <= len(entries) < len(names)
        for e in entries:
            assert e.status == "ok"
            assert len(store.runs(e.id)) == SUITE.n_runs == e.n_runs
        # each a different one of the entries given (groups run two at a time: their order of
        # finishing is likely, not guaranteed, to be the order given)
        recorded = [e.name for e in entries]
        assert len(set(recorded)) == len(recorded) and set(recorded) <= set(names)
    # the workers die with their grader (PR_SET_PDEATHSIG)
    deadline = time.monotonic() + 10
    while processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(token) == []


def test_two_concurrent_graders_lose_nothing(tmp_path):
    db = tmp_path / "results.sqlite"
    token = uuid.uuid4().hex
    a = [f"a{i}" for i in range(3)]
    b = [f"b{i}" for i in range(3)]
    procs = [_spawn(_script(db, a, "submission", "HalfEvery10", workers=1), token),
             _spawn(_script(db, b, "submission", "Keep", workers=1), token)]
    for p in procs:
        assert p.wait(180) == 0
    with ResultStore(db) as store:
        assert store.check_integrity()
        entries = store.entries(SUITE.version)
        assert sorted(e.name for e in entries) == sorted(a + b)
        assert all(e.status == "ok" and len(store.runs(e.id)) == SUITE.n_runs for e in entries)
