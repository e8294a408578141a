"""Without namespaces (``LRGYM_SANDBOX=off``, or no ``unshare``) and without a cgroup (an
ordinary user's machine without a delegated one), nothing but the grader's own clean-up ends
what a policy started: the grader is a child subreaper, so the policy's orphans become its
children, and closing the sandbox kills them (:func:`lrgym.leaderboard.sandbox._kill_orphans`).

A red-team probe (2026-12-07): processes that hop from pid to pid (fork, the parent exits, the
child goes on) outran that clean-up, which killed pid by pid 20 times 10 ms apart: 30 of them
outlived their sandbox at every try, running on as the grader's user after ``close()``.
Reference: a counter the hoppers write; once the sandbox is closed it must stop moving."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

HOPPERS = r'''
import os, sys, time
MARK = MARK_PATH
HOP = """
import os, time
MARK = "HOP_MARK"
os.setsid()
with open(MARK + ".group", "w") as f:
    f.write(str(os.getpgrp()))
for _ in range(30):
    if os.fork() == 0:
        break
stop, n = time.monotonic() + 60, 0
while time.monotonic() < stop:  # bounded, should the clean-up under test fail
    try:
        if os.fork() != 0:
            os._exit(0)
    except OSError:
        continue
    n += 1
    if n % 50 == 0:
        with open(MARK + "." + str(os.getpid()), "w"):
            pass
        try:
            os.rename(MARK + "." + str(os.getpid()), MARK)
        except OSError:
            pass
os._exit(0)
""".replace("HOP_MARK", MARK)
if os.fork() == 0:
    os.execv(sys.executable, [sys.executable, "-S", "-I", "-c", HOP])


class P:
    optimizer = "sgd"
    action_mode = "log_lr"

    def reset(self, info):
        pass

    def act(self, obs, info):
        return 0.0
'''

SCRIPT = r'''
import json, os, signal, sys, time
os.environ["LRGYM_SANDBOX"] = "off"
import lrgym.leaderboard.sandbox as sandbox
sandbox.make_cgroup = lambda *a, **k: (None, "no cgroup (the test's)")  # as on a machine without one
mark = MARK_PATH
process = sandbox.start(sandbox.Limits(memory_mb=2000, cpu_seconds=120))
try:
    process.request(("load", {"kind": "object", "module": "hoppers", "attr": "P", "file": "hoppers.py",
                              "source": "hoppers.py"}, {"hoppers.py": SOURCE.encode()}))
    process.request(("policies", "quadratic", 1))
    deadline = time.monotonic() + 30
    while not os.path.exists(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    hopping = os.path.exists(mark)
    process.request(("end",))
finally:
    process.close()
def changes():
    try:
        return os.stat(mark).st_mtime_ns
    except OSError:
        return None
before = changes()
time.sleep(1.5)
after = changes()
group = int(open(mark + ".group").read()) if os.path.exists(mark + ".group") else None
if group is not None:  # the old clean-up's survivors: not left to the machine
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass
print(json.dumps({"kind": sandbox.mode()["kind"], "memory": process.applied.get("memory"), "hopping": hopping,
                  "moved_after_close": before != after}))
'''


def test_processes_hopping_from_pid_to_pid_do_not_outlive_a_sandbox_without_namespaces(tmp_path):
    mark = str(tmp_path / "hopped")
    source = HOPPERS.replace("MARK_PATH", repr(mark))
    script = SCRIPT.replace("MARK_PATH", repr(mark)).replace("SOURCE", repr(source))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["kind"] == "none" and "RLIMIT_AS" in out["memory"], out  # no namespaces, no cgroup: the case
    assert out["hopping"], "the policy's processes never started hopping: nothing was tested"
    assert not out["moved_after_close"], "the policy's processes ran on after the sandbox was closed"


TWO_SANDBOXES = r'''
import json, os
os.environ["LRGYM_SANDBOX"] = "off"
import lrgym.leaderboard.sandbox as sandbox
from lrgym.leaderboard.sandbox import Limits, SandboxError, start
GOOD = "class P:\n    optimizer = 'sgd'\n    action_mode = 'log_lr'\n    def reset(self, info): pass\n    def act(self, obs, info): return 0.0\n"
SPEC = {"kind": "object", "module": "good", "attr": "P", "file": "good.py", "source": "good.py"}
first = start(Limits(memory_mb=1500, cpu_seconds=60))
try:
    first.request(("load", SPEC, {"good.py": GOOD.encode()}))
    built = first.request(("policies", "quadratic", 1))["ok"]
    second = start(Limits(memory_mb=1500, cpu_seconds=60))
    try:  # a submission whose load fails: the worker closes its sandbox at once (worker._SandboxChannel)
        second.request(("load", SPEC, {"../outside.py": b"?"}))
        refused = None
    except SandboxError as exc:
        refused = str(exc)
    finally:
        second.close()
    try:
        again = first.request(("policies", "quadratic", 1))["ok"]
    except SandboxError as exc:
        again = str(exc)
finally:
    first.close()
print(json.dumps({"kind": sandbox.mode()["kind"], "built": built, "refused": refused, "first_after": again}))
'''


def test_closing_one_sandbox_leaves_another_open_sandbox_of_the_process_alone():
    """Found beside the hoppers (2026-12-07): the clean-up killed every child of the worker,
    so closing one submission's sandbox (its load failed) killed another submission's sandbox
    that the same worker keeps open between jobs (one per policy, ``worker._State``): that
    innocent entry failed at its next request, "policy process died". Reference: the same
    request on the first sandbox before the second was opened."""
    run = subprocess.run([sys.executable, "-c", TWO_SANDBOXES], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["kind"] == "none" and out["built"] is True, out
    assert out["refused"] and "bad submission file name" in out["refused"], out  # the second one did fail
    assert out["first_after"] is True, out
