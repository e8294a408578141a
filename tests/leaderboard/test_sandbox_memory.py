"""The memory limit bounds the whole sandbox, not each of its processes (an audit, 2026-12):
``--memory-limit`` was the address space of each process (``RLIMIT_AS``), so a policy forking
6 children held 4.8 GB under a 1 GB limit, and memfd pages (not in any address-space limit) let
one process hold 1.5 GB under 512 MB. Each sandbox now has a cgroup of its own whose limit holds
for all its processes, shared memory included; a sandbox over it fails only its submission,
with a reason naming the memory limit, and its group is removed afterwards.

The policies below allocate ``PARTS`` × ``PART_MB`` MB together (the reference: the sum of what
they allocate), more than ``SMALL_MB`` and well below ``LARGE_MB``; every allocation is
touched, so it is real memory, and each process stays far below ``SMALL_MB`` of address space
(each part alone fits in either limit; the policy fails differently if one does not).
"""

from __future__ import annotations

import os
import sys

import pytest
from lb_helpers import dead_sandbox_groups, descendants_seen, one_episode_setup, processes_with, sandbox_groups

from lrgym.leaderboard.runner import run_suite, submission_spec
from lrgym.leaderboard.sandbox_cgroup import CGROUP_PREFIX, _cgroup_parents, memory_bound, sweep_stale_cgroups

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

PARTS, PART_MB = 4, 160
SMALL_MB, LARGE_MB = 512, 1024

POLICIES = f'''
import os, time

PARTS, PART_MB = {PARTS}, {PART_MB}


def _hold(mb):
    block = bytearray(mb << 20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return block


class Forks:
    """{PARTS} children hold {PART_MB} MB each while the policy acts."""

    name = "fork-hog"

    def __init__(self):
        r, w = os.pipe()
        for _ in range(PARTS):
            if os.fork() == 0:
                try:
                    kept = _hold(PART_MB)
                    os.write(w, b"x")
                    time.sleep(600)
                except BaseException as exc:
                    os.write(w, b"e")
                finally:
                    os._exit(0)
        got = b""
        while len(got) < PARTS:
            got += os.read(r, 64)
        os.close(r)
        os.close(w)
        if b"e" in got:  # a child could not allocate its part (its own address space): not this test's case
            raise RuntimeError("a child could not allocate its part")

    def reset(self, info):
        pass

    def act(self, obs, info):
        return 2


class Memfd:
    """One process holds {PARTS} × {PART_MB} MB in memfds of 32 MB (not in its address space;
    each written file is capped at 64 MB)."""

    name = "memfd-hog"

    def __init__(self):
        self.fds = []
        chunk = b"\\1" * (1 << 20)
        for i in range(PARTS * PART_MB // 32):
            fd = os.memfd_create(f"m{{i}}")
            for _ in range(32):
                os.write(fd, chunk)
            self.fds.append(fd)

    def reset(self, info):
        pass

    def act(self, obs, info):
        return 2
'''


needs_cgroup = pytest.mark.skipif(memory_bound()["cgroup"] is None,
                                  reason="no cgroup can be made here (not root, no writable cgroup hierarchy): "
                                         "the memory limit is per process only, as the README says")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return one_episode_setup(tmp_path_factory.mktemp("hogs"), "hogs", POLICIES)


@needs_cgroup
@pytest.mark.parametrize("cls", ["Forks", "Memfd"])
def test_a_sandbox_over_its_memory_limit_together_fails_and_under_a_larger_one_passes(setup, cls, monkeypatch):
    path, suite, refs = setup
    assert PARTS * PART_MB > SMALL_MB and PARTS * PART_MB + 300 < LARGE_MB  # the reference: the sum
    token = f"memory-{cls}-{os.getpid()}"
    monkeypatch.setenv("LRGYM_TEST_TOKEN", token)
    before = set(sandbox_groups())
    with descendants_seen() as ours:  # (the makers of this test's groups, not a test's beside it)
        [small] = run_suite([submission_spec(f"{path}:{cls}", name=f"{cls.lower()}-small")], suite, references=refs,
                            n_workers=1, memory_mb=SMALL_MB, time_limit=120)
    assert not small.ok
    reason = small.entry.failure_reason
    assert f"memory limit of {SMALL_MB:g} MB" in reason and "OOM killer" in reason, reason
    with descendants_seen() as also_ours:
        [large] = run_suite([submission_spec(f"{path}:{cls}", name=f"{cls.lower()}-large")], suite, references=refs,
                            n_workers=1, memory_mb=LARGE_MB, time_limit=120)
    assert large.ok, large.entry.failure_reason
    assert "cgroup" in large.entry.env_spec["sandbox"]["memory"]
    # both sandboxes' groups are gone (the workers that made them have ended; a group of a live
    # process is a run's still in use, one of another maker another test's, run beside this one)
    assert dead_sandbox_groups(before, makers=ours | also_ours) == []
    assert processes_with(token) == []


@needs_cgroup
def test_the_groups_of_dead_sandboxes_are_swept():
    """A grader (or worker) killed with ``kill -9`` leaves its sandboxes' groups: the next
    sandbox removes those whose maker is dead, and no other."""
    import subprocess

    version, parents = _cgroup_parents()
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = [os.path.join(p, f"{CGROUP_PREFIX}{dead.pid}-feed") for p in parents]
    mine = [os.path.join(p, f"{CGROUP_PREFIX}{os.getpid()}-beef") for p in parents]
    for folder in stale + mine:
        os.mkdir(folder)
    try:
        sweep_stale_cgroups()  # its count is not asserted: another process's sweep may take some first
        assert not any(os.path.exists(f) for f in stale)
        assert all(os.path.isdir(f) for f in mine)
    finally:
        for folder in stale + mine:
            if os.path.isdir(folder):
                os.rmdir(folder)
