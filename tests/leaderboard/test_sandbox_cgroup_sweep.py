"""A worker killed at the time limit leaves no cgroup of its sandbox behind (a security review,
2026-12): its groups (memory, pids, cpuacct ``lrgym-sandbox-<worker pid>-*``) stayed until
another sandbox was made on the machine; the pool now sweeps them once it has reaped the worker."""

from __future__ import annotations

import sys

import pytest
from lb_helpers import dead_sandbox_groups, tiny_suite

from lrgym.leaderboard import sandbox_cgroup
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")


@pytest.mark.skipif(sandbox_cgroup.memory_bound()["cgroup"] is None, reason="no sandbox cgroup on this machine")
def test_a_time_limit_kill_leaves_no_cgroup(tmp_path):
    (tmp_path / "hang.py").write_text("import time\nclass P:\n    def __init__(self):\n        time.sleep(3600)\n")
    suite = tiny_suite("hang")
    refs = load_references(suite, n_workers=1)
    [outcome] = run_suite([submission_spec(f"{tmp_path}/hang.py:P")], suite, references=refs, n_workers=1,
                          time_limit=4)
    assert "timeout" in outcome.entry.failure_reason
    assert dead_sandbox_groups() == []
