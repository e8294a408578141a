"""The CPU-time limit bounds the whole sandbox, not each of its processes: ``--time-limit`` was
also each process's ``RLIMIT_CPU``, and since every episode runs in a fresh process
(:class:`lrgym.leaderboard.episode_host.EpisodeHost`) every episode process, and every child a
policy forks, started with the whole budget. Where the sandbox has a cgroup that counts CPU time
(v2 ``cpu.stat``, v1 ``cpuacct``) the grader reads it while it waits and fails the submission
over the limit, naming it and the CPU time used; the group is removed afterwards.

The policy forks ``CHILDREN`` children that each burn ``BURN`` s of their own CPU time (below
the per-process limit, which they would all pass) and together more than ``LIMIT`` (the
reference: the sum of their CPU times, at least ``CHILDREN × BURN`` since each burns until its
own ``process_time`` reaches ``BURN``). The wall clock of the evaluation is bounded by the same
``--time-limit``; the tests lift it (the pool's) to ``WALL`` so that only the CPU bound can end
the policy: on 2 shared cores the children's wall clock is about as long as their CPU time.
"""

from __future__ import annotations

import os
import re
import sys

import pytest
from lb_helpers import dead_sandbox_groups, descendants_seen, one_episode_setup, processes_with, sandbox_groups

from lrgym.leaderboard import backends
from lrgym.leaderboard.runner import run_suite, submission_spec
from lrgym.leaderboard.sandbox import Limits, start
from lrgym.leaderboard.sandbox_cgroup import cpu_bound

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

CHILDREN, BURN = 3, 1.0  # s of CPU each
LIMIT, LARGE = 2.0, 20.0  # s of CPU: under and well over the children's sum
WALL = 120.0  # s: the pool's wall clock in these tests

POLICY = f'''
import os, time

CHILDREN, BURN = {CHILDREN}, {BURN}


class Burners:
    """{CHILDREN} children burn {BURN} s of CPU each, all at once, while the policy is built."""

    name = "burners"

    def __init__(self):
        kids = []
        for _ in range(CHILDREN):
            pid = os.fork()
            if pid == 0:
                while time.process_time() < BURN:
                    pass
                os._exit(0)
            kids.append(pid)
        for pid in kids:
            _, status = os.waitpid(pid, 0)
            if status:
                raise RuntimeError(f"a child ended with status {{status}}")

    def reset(self, info):
        pass

    def act(self, obs, info):
        return 2
'''

needs_cgroup = pytest.mark.skipif(cpu_bound()["cgroup"] is None,
                                  reason="no cgroup counting CPU time can be made here (not root, no writable "
                                         "cgroup hierarchy with CPU accounting): the CPU-time limit is per process "
                                         "only, as the README says")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return one_episode_setup(tmp_path_factory.mktemp("burners"), "burners", POLICY)


@pytest.fixture
def wall_clock(monkeypatch):
    """The pool's wall-clock limit lifted to WALL (the sandboxes keep the CPU limit of --time-limit)."""
    pool = backends.grader_pool

    def lifted(*args, **kwargs):
        kwargs["time_limit"] = WALL
        return pool(*args, **kwargs)

    monkeypatch.setattr(backends, "grader_pool", lifted)


@needs_cgroup
def test_children_over_the_sandbox_cpu_limit_together_fail_and_under_a_larger_one_pass(setup, wall_clock,
                                                                                      monkeypatch):
    path, suite, refs = setup
    assert CHILDREN * BURN > LIMIT + 0.5 and BURN < LIMIT - 0.5  # each under the per-process limit, together over
    token = f"cpu-{os.getpid()}"
    monkeypatch.setenv("LRGYM_TEST_TOKEN", token)
    before = set(sandbox_groups())
    with descendants_seen() as ours:  # (the makers of this test's groups, not a test's beside it)
        [small] = run_suite([submission_spec(f"{path}:Burners", name="burners-small")], suite, references=refs,
                            n_workers=1, time_limit=LIMIT)
    assert not small.ok
    reason = small.entry.failure_reason
    assert f"CPU time limit of {LIMIT:g} s" in reason and "whole sandbox" in reason, reason
    used = float(re.search(r"it used ([0-9.]+) s", reason)[1])
    # killed on its way to the children's sum (over the limit; the reason rounds to 0.01 s: '2.00')
    assert LIMIT <= used < CHILDREN * BURN + 2.0, reason
    with descendants_seen() as also_ours:
        [large] = run_suite([submission_spec(f"{path}:Burners", name="burners-large")], suite, references=refs,
                            n_workers=1, time_limit=LARGE)
    assert large.ok, large.entry.failure_reason
    recorded = large.entry.env_spec["sandbox"]
    assert recorded["cpu"].startswith("cgroup v") and f"{LARGE:g} s of CPU" in recorded["cpu"], recorded
    assert "whole sandbox" in recorded["cpu_bound"], recorded
    # both sandboxes' groups are gone with the workers that made them (a test beside this one, under
    # pytest-xdist, may leave groups of grader workers it kills for a while: not counted)
    assert dead_sandbox_groups(before, makers=ours | also_ours) == []
    assert processes_with(token) == []


@needs_cgroup
def test_the_sandbox_group_counts_the_cpu_time_of_ended_children(setup, monkeypatch):
    """The reference: the group's CPU time is at least the children's sum, though they all ended."""
    path, _, _ = setup
    token = f"cpu-direct-{os.getpid()}"
    monkeypatch.setenv("LRGYM_TEST_TOKEN", token)
    process = start(Limits(memory_mb=1500, cpu_seconds=LARGE))
    try:
        process.request(("load", {"kind": "object", "module": "burners", "attr": "Burners", "file": "burners.py",
                                  "source": "burners.py"}, {"burners.py": path.read_bytes()}))
        before = process.cgroup.cpu_used()
        process.request(("policies", "quadratic", 1), timeout=WALL)
        after = process.cgroup.cpu_used()
        folders = list(process.cgroup.folders)
    finally:
        process.close()
    assert after - before >= CHILDREN * BURN, (before, after)
    assert after < CHILDREN * BURN + before + 2.0, (before, after)
    assert not any(os.path.exists(f) for f in folders)
    assert processes_with(token) == []
