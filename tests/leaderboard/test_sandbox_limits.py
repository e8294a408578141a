"""Limits a hostile policy runs into in every sandbox mode (a review of the sandbox, 2026-12-03):

* without namespaces (``LRGYM_SANDBOX=off``, no ``unshare``) its scratch folder is capped at
  ``tmp_mb`` like the namespaced modes' tmpfs (only each file was capped: many files filled the
  disk) and removed with it (it was left in ``/tmp``);
* ``/proc`` is read-only in the sandbox: a grader running as root in the user-namespace mode
  maps the policy to uid 0 outside, and uid 0 may write the machine's sysctls
  (``/proc/sys/kernel/core_pattern``: a program run as root outside) without any capability.

Each hostile policy runs in a sandbox of its own, started from a subprocess where the test
needs another mode or another user; everything it starts dies with it, also when a test fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from lb_helpers import probe_sandbox

from lrgym.leaderboard.sandbox import folder_bytes, mode

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run_script(script: str, env: dict, user: str | None = None, timeout: float = 180) -> dict:
    """Run ``script`` (it prints one JSON line last) with ``env`` added, as ``user`` if given
    (``setpriv``, from root); returns the JSON."""
    argv = [sys.executable, "-c", script]
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
    done = subprocess.run(argv, env={**os.environ, **env}, cwd="/", capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- the scratch folder without namespaces -----------------------------------------------------

SCRATCH_SCRIPT = '''
import json, os, time
from lrgym.leaderboard.sandbox import Limits, SandboxError, mode, start

WRITER = """
import os, time
class Burst:  # files of 1 MB, each within file_mb: only the total is over tmp_mb
    def __init__(self):
        for i in range(12):
            with open(f"burst-{i}", "wb") as f:
                f.write(b"x" * (1 << 20))
class Trickle:  # writes for ever without answering: found while the grader waits
    def __init__(self):
        i = 0
        while True:
            with open(f"trickle-{i}", "wb") as f:
                f.write(b"x" * (1 << 20))
            i += 1
            time.sleep(0.05)
class Honest:  # a few small files
    def __init__(self):
        with open("notes.txt", "w") as f:
            f.write("fine")
    def reset(self, info):
        pass
    def act(self, obs, info):
        return 2
"""
out = {"kind": mode()["kind"]}
for name in ("Burst", "Trickle", "Honest"):
    process = start(Limits(memory_mb=1500, cpu_seconds=60, file_mb=2, tmp_mb=8))
    scratch = getattr(process, "scratch", None)  # (none before the cap)
    t0 = time.monotonic()
    try:
        process.request(("load", {"kind": "object", "module": "writer", "attr": name, "file": "writer.py",
                                  "source": "writer.py"}, {"writer.py": WRITER.encode()}))
        process.request(("policies", "quadratic", 1), timeout=60)
        out[name] = "ok"
    except SandboxError as exc:
        out[name] = str(exc)
    out[name + "_seconds"] = time.monotonic() - t0
    out[name + "_scratch_left"] = bool(scratch) and os.path.exists(scratch)
    process.close()
    out[name + "_scratch_after_close"] = bool(scratch) and os.path.exists(scratch)
print(json.dumps(out))
'''


def test_without_namespaces_the_scratch_folder_is_capped_and_removed():
    """``tmp_mb`` 8, ``file_mb`` 2: twelve files of 1 MB were all written (only each file was
    capped), and the folder was left in ``/tmp`` after the sandbox closed."""
    out = _run_script(SCRATCH_SCRIPT, {"LRGYM_SANDBOX": "off"})
    assert out["kind"] == "none"
    for name in ("Burst", "Trickle"):
        assert "the policy wrote more than 8 MB into its scratch folder" in out[name], out[name]
        assert not out[name + "_scratch_left"], "the folder of a policy over the cap was kept"
    assert out["Trickle_seconds"] < 30, "found at the time limit, not while the grader waited"
    assert out["Honest"] == "ok" and out["Honest_scratch_left"] and not out["Honest_scratch_after_close"]


def test_folder_bytes_counts_every_entry_once_and_stops_past_the_cap(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "data").write_bytes(b"x" * 100_000)
    os.link(tmp_path / "a" / "data", tmp_path / "same")  # one file, two names
    for i in range(10):
        (tmp_path / f"empty-{i}").touch()
    (tmp_path / "out").symlink_to("/usr")  # not followed
    data = os.stat(tmp_path / "a" / "data").st_blocks * 512
    # by the definition: the folder a, the data once, ten empty files and a link, each at least 4 KB
    whole = 4096 * 12 + max(data, 4096)
    assert folder_bytes(str(tmp_path), 10 << 20) == whole
    assert 4096 < folder_bytes(str(tmp_path), 4096) < whole  # the walk stops once past the cap
    assert folder_bytes(str(tmp_path / "gone"), 1) == 0


# ---- /proc -------------------------------------------------------------------------------------

PROC_PROBE = '''
import json, os

def opened(path, flags):
    try:
        os.close(os.open(path, flags))  # opened only: nothing is written
        return True
    except OSError as exc:
        return exc.strerror

class Probe:
    def __init__(self):
        facts = {"write": {p: opened(p, os.O_WRONLY) for p in MACHINE if os.path.exists(p)},
                 "uid_map": open("/proc/self/uid_map").read().split(),
                 "read_own": open("/proc/self/status").read().startswith("Name:")}
        raise RuntimeError("FACTS" + json.dumps(facts) + "END")
'''

#: files of the machine, not of the sandbox: opening them for writing must fail
MACHINE = ["/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe", "/proc/sys/vm/drop_caches",
           "/proc/sys/kernel/pid_max", "/proc/sysrq-trigger"]


@pytest.mark.skipif(mode()["kind"] == "none", reason="needs namespaces (unshare)")
@pytest.mark.parametrize("kind", ["auto", "userns"])
def test_the_policy_cannot_write_the_machines_sysctls(monkeypatch, kind):
    """With ``LRGYM_SANDBOX=userns`` as root (also what root gets when its Python is not readable
    by others) the policy is uid 0 outside, without capabilities: it could open
    ``/proc/sys/kernel/core_pattern`` for writing (a core dump then runs any program as root on
    the machine). Only opened here, never written."""
    if kind == "userns":
        monkeypatch.setenv("LRGYM_SANDBOX", "userns")
    mode.cache_clear()
    try:
        if kind == "userns" and mode()["kind"] != "userns":
            pytest.skip("user namespaces are not permitted on this machine")
        facts = probe_sandbox(f"MACHINE = {MACHINE!r}\n" + PROC_PROBE)
    finally:
        mode.cache_clear()
    assert facts["read_own"]
    assert facts["write"] and not any(v is True for v in facts["write"].values()), facts
