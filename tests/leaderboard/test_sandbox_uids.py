"""Two root sandboxes running at once never share a uid (:mod:`lrgym.leaderboard.sandbox_uids`).

The kernel keeps ``RLIMIT_NPROC``'s count (a sandbox's process bound) and other quotas per uid, so
two sandboxes with a uid in common are coupled: one hostile submission's fork bomb takes the other's
processes. Until 2026-12-07 each sandbox drew its uid at random from 50,000 and each of its jobs
another from the same 50,000: two sandboxes side by side collided about once in 50,000 per pair of
draws. The end-to-end test forces that draw to collide (``random.randrange`` returning one value,
as the old draw used) and reads the uids the jobs really ran as: each job's import fails with its
``os.getuid()``, which comes back in the job's failure reason."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys

import pytest

from lrgym.leaderboard import sandbox

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0,
                                reason="root's sandbox: a private uid per job")

#: a policy whose import fails with the uid its job runs as
UID_PROBE = b'''
import os
raise RuntimeError(f"JOB-UID={os.getuid()}")
'''


def _job_uids(channel, jobs: int) -> list[int]:
    """The uids ``jobs`` jobs of ``channel``'s sandbox ran as (their failure reasons)."""
    from lrgym.leaderboard.worker import PolicyError

    uids = []
    for k in range(jobs):
        with pytest.raises(PolicyError) as failed:
            channel.request(("policies", ("quadratic", "linreg")[k % 2], 1))
        uids += [int(u) for u in re.findall(r"JOB-UID=(\d+)", str(failed.value))[-1:]]
    assert len(uids) == jobs
    return uids


@pytest.mark.skipif(sandbox.mode()["kind"] != "root", reason="root's sandbox")
def test_two_sandboxes_at_once_share_no_uid_even_when_the_random_draws_collide(monkeypatch):
    from lrgym.leaderboard.worker import _SandboxChannel

    monkeypatch.setattr(random, "randrange", lambda *a, **k: 1_912_345)  # the 1-in-50,000 draw, every time
    spec = {"kind": "object", "module": "uid_probe", "attr": "P", "file": "uid_probe.py", "source": "uid_probe.py:P"}
    first = _SandboxChannel(spec, {"uid_probe.py": UID_PROBE}, {"memory_mb": 2048})
    try:
        second = _SandboxChannel(spec, {"uid_probe.py": UID_PROBE}, {"memory_mb": 2048})
        try:
            assert first.applied["uid"] != second.applied["uid"]
            ran = {name: _job_uids(channel, 4) for name, channel in (("first", first), ("second", second))}
        finally:
            second.close()
    finally:
        first.close()
    assert ran["first"][0] == first.applied["uid"] and ran["second"][0] == second.applied["uid"]
    for uids in ran.values():
        assert len(set(uids)) == len(uids), uids  # a fresh uid per job, as before
    assert not set(ran["first"]) & set(ran["second"]), ran


def test_a_claimed_block_is_no_one_elses_until_released(tmp_path):
    from lrgym.leaderboard.sandbox_uids import BLOCK_SIZE, BLOCKS, UID_BASE, claim_block

    folder = str(tmp_path / "claims")
    held = [claim_block(folder) for _ in range(BLOCKS)]
    firsts = sorted(b.first for b in held)
    assert firsts == [UID_BASE + k * BLOCK_SIZE for k in range(BLOCKS)]  # every block once, none twice
    with pytest.raises(OSError, match=f"all {BLOCKS} uid blocks of {re.escape(folder)} are held"):
        claim_block(folder)
    freed = held.pop(7)
    freed.release()
    freed.release()  # idempotent
    again = claim_block(folder)
    assert again.first == freed.first
    for block in [*held, again]:
        block.release()


def test_the_claim_of_a_grader_killed_with_kill_9_ends_with_it(tmp_path):
    """No stale claim: the kernel drops the lock with the killed process's files."""
    from lrgym.leaderboard.sandbox_uids import BLOCKS, claim_block

    folder = str(tmp_path / "claims")
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom lrgym.leaderboard.sandbox_uids import claim_block\n"
         f"b = claim_block({folder!r})\nprint(b.first, flush=True)\ntime.sleep(600)"],
        stdout=subprocess.PIPE, text=True)
    try:
        dead_first = int(child.stdout.readline())
        held = [claim_block(folder) for _ in range(BLOCKS - 1)]  # all the others
        with pytest.raises(OSError, match="are held"):
            claim_block(folder)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    reclaimed = claim_block(folder)
    assert reclaimed.first == dead_first
    for block in [*held, reclaimed]:
        block.release()


def test_a_claims_folder_others_may_write_to_is_refused(tmp_path):
    from lrgym.leaderboard.sandbox_uids import claim_block

    folder = tmp_path / "claims"
    folder.mkdir(mode=0o777)
    os.chmod(folder, 0o777)  # anyone could take (hold) every block
    with pytest.raises(OSError, match=r"claims is not a folder of root's .* mode 777.*valid: remove it"):
        claim_block(str(folder))
    os.chmod(folder, 0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(OSError, match="of uid 65534"):
        claim_block(str(folder))


def test_jobs_draw_fresh_uids_from_their_sandboxs_block_and_reuse_ended_ones_once_it_is_used_up(monkeypatch):
    """Reference: the rule itself, counted: the first job has the sandbox's uid, the next
    ``size - 1`` jobs each another of the block, and later jobs uids of the block again, never
    the previous job's."""
    from lrgym.leaderboard import job_isolation

    first, size = 1_900_400, 5
    monkeypatch.setattr(job_isolation, "JOB_SETUP", {"uid": first, "uids": {first}, "range": (first, size)})
    uids = [job_isolation.next_job_uid() for _ in range(size + 20)]
    assert uids[0] == first
    assert sorted(uids[:size]) == list(range(first, first + size))
    assert all(first <= u < first + size for u in uids)
    assert all(a != b for a, b in zip(uids, uids[1:]))
