"""The job process's reports to the sandbox's host (its episodes' pids, how each ended) are
untrusted: the policy's import runs in that process (a security review, 2026-12). Half a
message kept the host blocked in ``recv_bytes`` until the wall-clock limit, and an exit status
of 2**70 put the host's own ``OverflowError`` into the recorded reason. Reference: the same
policy without the forged report (every episode dies in its constructor with exit code 9)."""

from __future__ import annotations

import sys
import time

import pytest
from lb_helpers import tiny_suite

from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

FIND_STATUS = '''
import json, os, sys, time
frame = sys._getframe()
while frame.f_code.co_name != "job_main":
    frame = frame.f_back
status = frame.f_locals["status"]
'''
DIES = '''
class P:
    def __init__(self):
        os._exit(9)
'''
FORGED = {
    # half a length header from a child that keeps only the status pipe open (so the episodes'
    # ends still close when they die); the job process itself reports nothing
    "half_message": '''
status.send_bytes = lambda data: None
if os.fork() == 0:
    keep = status.fileno()
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 16)
    os.write(keep, b"\\x00\\x00")
    time.sleep(10**6)
''',
    # an exit status no wait status can be
    "huge_status": '''
status.send_bytes(json.dumps({"pids": [7]}).encode())
status.send_bytes(json.dumps({"pid": 7, "status": 2**70}).encode())
''',
}


@pytest.fixture(scope="module")
def suite_and_refs():
    suite = tiny_suite("status")
    return suite, load_references(suite, n_workers=1)


def _failure(tmp_path, name, source, suite, refs, time_limit=60.0):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    start = time.monotonic()
    [outcome] = run_suite([submission_spec(f"{path}:P")], suite, references=refs, n_workers=1,
                          time_limit=time_limit)
    return outcome.entry.failure_reason or "", time.monotonic() - start


@pytest.mark.parametrize("forgery", sorted(FORGED))
def test_a_forged_report_fails_the_policy_in_time_and_in_the_hosts_words(tmp_path, suite_and_refs, forgery):
    suite, refs = suite_and_refs
    honest, honest_s = _failure(tmp_path, "honest", FIND_STATUS + DIES, suite, refs)
    assert "exit code 9" in honest  # the reference: what the host says without the forgery
    reason, seconds = _failure(tmp_path, forgery, FIND_STATUS + FORGED[forgery] + DIES, suite, refs)
    assert reason and "timeout" not in reason and "wall-clock" not in reason, reason
    assert "OverflowError" not in reason and "too large" not in reason, reason
    assert seconds < honest_s + 30  # the host gave up on the report within its own deadline, not the 60 s limit
