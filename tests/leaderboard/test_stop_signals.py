"""A grader stopped by SIGTERM (or SIGHUP) cleans up as one stopped by Ctrl-C.

Real graders in subprocesses, each with a temp folder of its own (``TMPDIR``) and a token in its
environment (inherited by its workers and sandboxes), stopped mid-grading: once its worker
folders exist and a sandboxed policy process runs. Reference: what Ctrl-C always did (the
workers stopped, their folders and sandbox cgroups removed, finished entries kept, the
"interrupted" line, exit status 128 + the signal). Before :mod:`lrgym.baselines.interrupts`
SIGTERM ended the grader at once: exit status -15, the worker folders left for a later sweep.
(The mechanism's own tests: ``tests/baselines/test_interrupts.py``.)
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from lb_helpers import HERE, dead_sandbox_groups, descendants_seen, policy, processes_with, sandbox_groups, tiny_suite

from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.store import ResultStore

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and PR_SET_PDEATHSIG")

SUITE_ARGS = dict(name="stopsig", families=("quadratic",), n_instances=1, seeds=(0,), horizon=6, inner_steps=2)
SUITE = tiny_suite(**SUITE_ARGS)


@pytest.fixture(scope="module", autouse=True)
def _references():
    load_references(SUITE, n_workers=2)  # cached for the subprocesses (same LRGYM_CACHE)


def _children(pid: int) -> dict[int, str]:
    """{pid: command line} of the live descendants of ``pid``."""
    parent, cmd = {}, {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                parent[int(p)] = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd[int(p)] = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
    found, todo = {}, [pid]
    while todo:
        p = todo.pop()
        for child, ppid in parent.items():
            if ppid == p and child not in found:
                found[child] = cmd.get(child, "")
                todo.append(child)
    return found


def _worker_folders(tmp) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("lrgym-worker-"))


def _start(argv, tmp_path, token):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, LRGYM_TEST_TOKEN=token, TMPDIR=str(tmp))
    proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, tmp


def _wait_mid_grading(proc, tmp, n_workers: int, store_path=None, n_entries: int = 0) -> None:
    """Until ``n_workers`` worker folders exist, a sandboxed policy process runs under the grader
    and (``store_path``) ``n_entries`` entries are stored."""
    # a bound on a stuck grader, not a timing assertion. It must hold a cold start: the module's
    # first test (its fixture warms only the tiny suite's kernels) has the grader, its workers and
    # the sandboxed policy compile the quick suite's Numba kernels (the cache is keyed on lrgym's
    # source: any edit makes it cold), which took over 180 s at load 10 - 20 (3 of 3 cold runs
    # failed so, 12 of 12 warm passed; 2026-12-07). Under pytest-timeout's 600 s for the test.
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        ready = len(_worker_folders(tmp)) >= n_workers \
            and any("lrgym.leaderboard.policy_host" in c for c in _children(proc.pid).values())
        if ready and store_path is not None:
            with ResultStore(store_path) as store:
                ready = len(store.entries(SUITE.version)) >= n_entries
        if ready:
            return
        time.sleep(0.05)
    raise AssertionError("the grader never got mid-grading")


def _stop(proc, signals) -> tuple[int, str]:
    for i, sig in enumerate(signals):
        if i:
            time.sleep(0.2)  # the next one during the cleanup (or, on a slow machine, before it)
        os.kill(proc.pid, sig)
    try:
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err.decode()


def _nothing_left(tmp, token, before_groups, makers) -> None:
    assert sorted(p.name for p in tmp.iterdir()) == []  # no worker folder, no sandbox folder
    deadline = time.monotonic() + 10  # the sandboxes' last processes (other PID namespaces) may still be exiting
    while processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(token) == []
    assert dead_sandbox_groups(before_groups, makers=makers) == []  # (of this test's grader workers only)


@pytest.mark.parametrize("signals", [(signal.SIGTERM,), (signal.SIGHUP,), (signal.SIGTERM, signal.SIGTERM, signal.SIGINT)],
                         ids=["TERM", "HUP", "TERM-TERM-INT"])
def test_submit_stopped_by_a_signal_cleans_up_like_ctrl_c(tmp_path, signals):
    """``lrgym leaderboard submit`` of a policy that hangs in act(), stopped mid-grading: exit status
    128 + the first signal, the "interrupted" line, no worker folder, process or sandbox cgroup
    left, the store valid and without the unfinished entry. Further signals during the cleanup
    change nothing but a note."""
    token = uuid.uuid4().hex
    db = tmp_path / "results.sqlite"
    before = sandbox_groups()
    with descendants_seen() as ours:  # (the makers of this test's groups, not a test's beside it)
        proc, tmp = _start([sys.executable, "-m", "lrgym.leaderboard.cli", "leaderboard", "submit", policy("Hangs"),
                            "--suite", "quick", "--db", str(db), "--workers", "2", "--time-limit", "600"], tmp_path, token)
        _wait_mid_grading(proc, tmp, 2)
        code, err = _stop(proc, signals)
    assert code == 128 + signals[0], err
    assert f"interrupted: 0 finished entries are saved in {db}" in " ".join(err.split()), err
    assert "Traceback" not in err, err
    _nothing_left(tmp, token, before, ours)
    with ResultStore(db) as store:
        assert store.check_integrity()
        assert store.entries() == [] and not store.pending_dir.exists()


def _script(db, specs, workers=2):
    """A library user's grader: ``run_suite`` under :func:`~lrgym.baselines.interrupts.run_command`."""
    return textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {HERE!r})
        from lb_helpers import policy, tiny_suite
        from lrgym.baselines.interrupts import run_command
        from lrgym.leaderboard.runner import PolicySpec, run_suite
        from lrgym.leaderboard.store import ResultStore

        def main():
            suite = tiny_suite(**{SUITE_ARGS!r})
            specs = [PolicySpec(n, "submission", {{"kind": "object", "target": policy(t)}}) for n, t in {specs!r}]
            with ResultStore({str(db)!r}) as store:
                run_suite(specs, suite, store=store, n_workers={workers}, time_limit=600)

        sys.exit(run_command(main, "grader", exiting=True))
    """)


def test_run_suite_stopped_by_sigterm_keeps_the_finished_entries(tmp_path):
    """Two entries finish, two hang in act(): SIGTERM then leaves exactly the two finished ones in
    the store (their runs complete), nothing in the side folder, and no folder or process."""
    token = uuid.uuid4().hex
    db = tmp_path / "results.sqlite"
    before = sandbox_groups()
    specs = [("keep0", "Keep"), ("keep1", "Keep"), ("hang0", "Hangs"), ("hang1", "Hangs")]
    with descendants_seen() as ours:  # (the makers of this test's groups, not a test's beside it)
        proc, tmp = _start([sys.executable, "-c", _script(db, specs)], tmp_path, token)
        _wait_mid_grading(proc, tmp, 2, db, 2)
        code, err = _stop(proc, (signal.SIGTERM,))
    assert code == 143, err
    assert "grader: interrupted (SIGTERM)" in err, err
    _nothing_left(tmp, token, before, ours)
    with ResultStore(db) as store:
        assert store.check_integrity()
        entries = store.entries(SUITE.version)
        assert sorted(e.name for e in entries) == ["keep0", "keep1"]
        assert all(e.status == "ok" and len(store.runs(e.id)) == SUITE.n_runs == e.n_runs for e in entries)
        assert not store.pending_dir.exists()  # no side file waits
