"""Limits a hostile policy runs into in every sandbox mode (a review of the sandbox, 2026-12-03):

* without namespaces (``LRGYM_SANDBOX=off``, no ``unshare``) its scratch folder is capped at
  ``tmp_mb`` like the namespaced modes' tmpfs (only each file was capped: many files filled the
  disk) and removed with it (it was left in ``/tmp``); measured once per period, not after every
  reply (a cache of 3,000 files made every step 17 ms); a folder it makes unreadable counts as
  over the cap and is removed too (it escaped as a grader error, and was left behind);
* in the user-namespace sandbox its processes are bounded (a fork bomb was bounded by nothing
  but the machine): an ordinary user's (run as ``nobody`` when the tests run as root) and the
  one root gets with ``LRGYM_SANDBOX=userns``, each by what its kernel offers;
* ``/proc`` is read-only in the sandbox: a grader running as root in the user-namespace mode
  maps the policy to uid 0 outside, and uid 0 may write the machine's sysctls
  (``/proc/sys/kernel/core_pattern``: a program run as root outside) without any capability;
  so are the mounts below a bound system folder (only the bind's top was made read-only).

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

from lrgym.leaderboard.sandbox import mode
from lrgym.leaderboard.sandbox_folders import folder_bytes, remove_folder

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _hidden_python_folder() -> tuple[str, str] | None:
    """(a folder others cannot search, the entry of it on the way to this Python), or None if
    others can reach the Python (``/root/.pyenv/...`` under a 0700 ``/root``: no ordinary user
    could run the grader with it)."""
    path = os.path.realpath(sys.base_prefix)
    parts = path.strip("/").split("/")
    for i in range(len(parts) - 1):
        folder = "/" + "/".join(parts[:i])
        if not os.stat(folder).st_mode & 0o001:
            return folder, parts[i]
    return None


def _run_script(script: str, env: dict, user: str | None = None, timeout: float = 180,
                private_mounts: bool = False) -> dict:
    """Run ``script`` (it prints one JSON line last) with ``env`` added, as ``user`` if given
    (``setpriv``, from root), in a private mount namespace if told (as root: what it mounts
    vanishes with it); returns the JSON. For ``user``, a Python installation others cannot
    reach (:func:`_hidden_python_folder`) is made reachable in a private mount namespace: a
    tmpfs over the closed folder, holding a bind of just the way to the Python."""
    argv = [sys.executable, "-c", script]
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
        hidden = _hidden_python_folder()
        if hidden is not None:
            folder, entry = hidden
            # $d only carries the closed folder to its new place: unmounted and removed before
            # the exec (the bind made from it stays), or left behind in /tmp on every run
            steps = (f'set -e; d=$(mktemp -d); trap \'umount "$d" 2>/dev/null || true; rmdir "$d"\' EXIT; '
                     f'mount --bind "{folder}" "$d"; '
                     f'mount -t tmpfs -o mode=755,size=1m tmpfs "{folder}"; mkdir "{folder}/{entry}"; '
                     f'mount --bind "$d/{entry}" "{folder}/{entry}"; umount "$d"; rmdir "$d"; trap - EXIT; '
                     'exec "$@"')
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", steps, "sh", *argv]
    if private_mounts:
        argv = ["unshare", "--mount", "--propagation", "private", *argv]
    done = subprocess.run(argv, env={**os.environ, **env}, cwd="/", capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


#: ``nobody``'s Numba cache and home, one for the module (:func:`_nobody_cache`): made on first use
_NOBODY_CACHE: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _nobody_cache():
    """Removes the module's one Numba cache of ``nobody`` after its last test. One for all the
    tests, as an ordinary user's own cache lasts from one grader run to the next: each test
    with a cache of its own compiled lrgym's kernels afresh as ``nobody`` (seconds of CPU in
    every test that grades)."""
    import shutil

    yield
    while _NOBODY_CACHE:
        shutil.rmtree(_NOBODY_CACHE.pop(), ignore_errors=True)


def _copy_kernel_cache(cache: str) -> None:
    """Copy the kernels this checkout's tests already compiled (Numba's files in the
    ``__pycache__`` folders of lrgym's sources) to where Numba looks for them with
    ``NUMBA_CACHE_DIR=cache`` (its own :meth:`get_suitable_cache_subpath`). Each entry carries
    the package's fingerprint (:mod:`lrgym.kernel_cache`), so ``nobody`` loads only what its
    lrgym would compile the same; a kernel not compiled yet it compiles."""
    import shutil

    from numba.core.caching import UserProvidedCacheLocator

    for top in ("lrgym", "baselines", "leaderboard"):
        for folder, _, files in os.walk(os.path.join(REPO, top)):
            if os.path.basename(folder) != "__pycache__":
                continue
            kernels = [f for f in files if f.endswith((".nbi", ".nbc"))]
            if not kernels:
                continue
            source = os.path.join(os.path.dirname(folder), "x.py")  # any file of the source folder
            target = os.path.join(cache, UserProvidedCacheLocator.get_suitable_cache_subpath(source))
            os.makedirs(target, exist_ok=True)
            for name in kernels:
                shutil.copy(os.path.join(folder, name), target)


def _run_as_ordinary_user(script: str, env: dict) -> dict:
    """:func:`_run_script` as an ordinary user: ``nobody`` when the tests run as root (with a
    Numba cache and home of its own, the module's: :func:`_nobody_cache`), else as the tests'
    own user."""
    import tempfile

    if os.geteuid() != 0:
        return _run_script(script, env)
    if not _NOBODY_CACHE:
        cache = tempfile.mkdtemp(prefix="lrgym-test-numba-", dir="/tmp")  # the grader side's, the user's own
        _NOBODY_CACHE.append(cache)
        _copy_kernel_cache(cache)
        for root, dirs, files in os.walk(cache):
            for name in [root, *(os.path.join(root, f) for f in files)]:
                os.chown(name, 65534, 65534)
    cache = _NOBODY_CACHE[0]
    return _run_script(script, {**env, "NUMBA_CACHE_DIR": cache, "HOME": cache}, user="65534")


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


def test_a_folder_replaced_while_it_is_measured_is_counted_as_what_it_became(tmp_path, monkeypatch):
    """The race of the review, made deterministic: the policy replaces a folder by a file
    between the listing and the walk into it (NotADirectoryError counted the whole scratch
    folder as over the cap: an honest policy ended with a misleading reason). The file is
    counted instead; one that turns back into a folder as well cannot be measured."""
    import stat

    root, away = tmp_path / "scratch", tmp_path / "away"
    root.mkdir()
    (root / "a").mkdir()
    (root / "notes").write_bytes(b"x" * 10)
    real_open, real_scandir, real_lstat = os.open, os.scandir, os.lstat
    swapped = []

    def swap(path):
        if str(path) == str(root / "a") and not swapped:
            (root / "a").rename(away)  # the folder goes, a file of 100 KB takes its name
            (root / "a").write_bytes(b"y" * 100_000)
            swapped.append(True)

    monkeypatch.setattr(os, "open", lambda path, *a, **k: (swap(path), real_open(path, *a, **k))[1])
    monkeypatch.setattr(os, "scandir", lambda path=".": (swap(path), real_scandir(path))[1])
    got = folder_bytes(str(root), 10 << 20)
    monkeypatch.undo()
    assert swapped
    size = lambda p: max(os.lstat(p).st_blocks * 512, 4096)  # noqa: E731 - the definition, per entry
    # by the definition: the folder as listed (now "away"), the file now in its place, "notes"
    assert got == size(away) + size(root / "a") + size(root / "notes")

    # a name that is a file when opened and a folder again when looked at: not measurable
    (root / "a").unlink()
    (root / "a").mkdir()
    flipped = []

    def flip_back(path, *a, **k):
        if str(path) == str(root / "a") and not flipped and (root / "a").is_file():
            (root / "a").unlink()
            (root / "a").mkdir()
            flipped.append(True)
        return real_lstat(path, *a, **k)

    swapped.clear()
    away.rmdir()
    monkeypatch.setattr(os, "open", lambda path, *a, **k: (swap(path), real_open(path, *a, **k))[1])
    monkeypatch.setattr(os, "lstat", flip_back)
    with pytest.raises(OSError, match="kept changing between a folder and a file"):
        folder_bytes(str(root), 10 << 20)
    monkeypatch.undo()
    assert flipped and stat.S_ISDIR(os.lstat(root / "a").st_mode)


@pytest.mark.parametrize("swapped", ["the folder", "a folder above"])
def test_remove_folder_follows_no_link_swapped_in_for_a_folder(tmp_path, monkeypatch, swapped):
    """The race of the review, made deterministic: a policy process still running replaces a
    folder by a link to one outside while the grader (maybe root) makes its folders ``u+rwx``
    (a chmod by the path followed the link: the outside folder became 0o700). Swapped in for
    the folder between the look at it and the chmod, or for a folder above after that one
    was opened up: the outside folders keep their mode; the folder opened is the one changed."""
    import shutil
    import stat

    root, away, outside = tmp_path / "private", tmp_path / "away", tmp_path / "outside"
    (root / "a" / "b").mkdir(parents=True)
    (outside / "b").mkdir(parents=True)
    for folder in (root / "a", root / "a" / "b", outside, outside / "b"):
        folder.chmod(0o500)
    victim = os.lstat(root / "a").st_ino
    real_chmod = os.chmod
    done = []

    def chmod_racing(target, mode, *args, **kwargs):
        """chmod, with the swap before (of the folder) or after it (of the folder above)."""
        is_victim = not done and os.stat(target).st_ino == victim
        if is_victim and swapped == "the folder":
            swap()
        real_chmod(target, mode, *args, **kwargs)
        if is_victim and swapped == "a folder above":
            swap()

    def swap():
        (root / "a").rename(away)
        (root / "a").symlink_to(outside)
        done.append(True)

    # as if rmtree left it all (it does as an ordinary user, chmod 000; as root a policy writing on)
    monkeypatch.setattr(shutil, "rmtree", lambda *args, **kwargs: None)
    monkeypatch.setattr(os, "chmod", chmod_racing)
    remove_folder(str(root))
    monkeypatch.undo()
    assert done
    mode = lambda p: stat.S_IMODE(os.lstat(p).st_mode)  # noqa: E731
    assert (mode(outside), mode(outside / "b")) == (0o500, 0o500), "a folder outside was changed"
    assert mode(away) == 0o700, "the folder opened was not made u+rwx"
    remove_folder(str(root))  # (rmtree as it is)
    assert not os.path.lexists(root) and os.path.isdir(outside / "b")


WALKS_SCRIPT = '''
import json, time
from lrgym.leaderboard import sandbox
from lrgym.leaderboard.sandbox import Limits, start
from lrgym.leaderboard.step_message import encode_act

walks = []
measure = sandbox.folder_bytes

def counted(path, stop_above):  # every walk of the scratch folder, when it began
    walks.append(time.monotonic())
    return measure(path, stop_above)

sandbox.folder_bytes = counted
CACHED = """
import os
class Cached:  # honest: a cache of 300 small files (lrgym's own Numba cache is 506), then fast steps
    def __init__(self):
        os.makedirs("cache")
        for i in range(300):
            open(f"cache/f{i}", "w").close()
    def reset(self, info):
        pass
    def act(self, obs, info):
        return 2
"""
# a cap the file system cannot lose meanwhile, whatever else runs here: walks come from the period only
process = start(Limits(memory_mb=1500, cpu_seconds=60, tmp_mb=1 << 20))
try:
    process.request(("load", {"kind": "object", "module": "cached", "attr": "Cached", "file": "cached.py",
                              "source": "cached.py"}, {"cached.py": CACHED.encode()}))
    process.request(("policies", "quadratic", 1))
    process.request(("reset", "quadratic", [{}], ["e0"]))
    del walks[:]
    replies, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < 1.5:
        process.request(("act", "quadratic", [(0, encode_act([0.0], {}))]))
        replies += 1
    elapsed = time.monotonic() - t0
finally:
    process.close()
print(json.dumps({"kind": sandbox.mode()["kind"], "replies": replies, "walks": walks, "t0": t0,
                  "elapsed": elapsed, "period": sandbox.SCRATCH_CHECK_SECONDS}))
'''


def test_without_namespaces_the_scratch_folder_is_measured_once_per_period_not_per_reply():
    """The folder was walked after every reply, one per step: with 3,000 files each step took
    17 ms instead of 0.07 (charged to the policy's time limit). Over 1.5 s of fast replies the
    walks are at least a period apart, and there still are some (the period still applies)."""
    out = _run_script(WALKS_SCRIPT, {"LRGYM_SANDBOX": "off"})
    assert out["kind"] == "none"
    walks, period, elapsed = out["walks"], out["period"], out["elapsed"]
    assert out["replies"] > 10 * (elapsed / period + 1), out  # the replies were fast: many per period
    assert len(walks) <= elapsed / period + 1, (len(walks), out["replies"], elapsed)
    assert all(b - a >= period for a, b in zip(walks, walks[1:])), walks
    assert len(walks) >= elapsed / (2 * period) - 1, (len(walks), elapsed)


UNMEASURABLE_SCRIPT = '''
import json, os, time
from lrgym.leaderboard.sandbox import Limits, SandboxError, mode, start
from lrgym.leaderboard.step_message import encode_act

POLICIES = """
import os
class Unsearchable:  # a folder others may list but not enter: its entries cannot be measured
    def __init__(self):
        os.makedirs("d")
        with open("d/data", "wb") as f:
            f.write(b"x" * 100000)
        os.chmod("d", 0o600)
    def reset(self, info):
        pass
    def act(self, obs, info):
        return 2
class Closed(Unsearchable):  # a folder nobody may list, inside one (rmtree left them behind)
    def __init__(self):
        os.makedirs("d/sub")
        with open("d/sub/data", "wb") as f:
            f.write(b"x" * 100000)
        os.chmod("d/sub", 0)
"""
out = {"kind": mode()["kind"], "uid": os.getuid()}
for name in ("Unsearchable", "Closed"):
    process = start(Limits(memory_mb=1500, cpu_seconds=60, tmp_mb=8))
    scratch = process.scratch
    try:
        process.request(("load", {"kind": "object", "module": "pol", "attr": name, "file": "pol.py",
                                  "source": "pol.py"}, {"pol.py": POLICIES.encode()}))
        process.request(("policies", "quadratic", 1))
        process.request(("reset", "quadratic", [{}], ["e0"]))
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5:  # measured within a period of fast steps
            process.request(("act", "quadratic", [(0, encode_act([0.0], {}))]))
        out[name] = "ok"
    except SandboxError as exc:
        out[name] = str(exc)
    except Exception as exc:  # what escaped to the grader
        out[name] = f"grader error: {type(exc).__name__}: {exc}"
    out[name + "_closed"] = process.process.poll() is not None
    process.close()
    out[name + "_scratch_after_close"] = os.path.lexists(scratch)
print(json.dumps(out))
'''


def test_without_namespaces_a_scratch_folder_made_unreadable_counts_as_over_the_cap_and_is_removed():
    """As an ordinary user (``nobody`` when the tests run as root, whom permissions bind): a
    folder chmod 0600 raised PermissionError out of ``request()`` (a grader error, the policy
    left running), and one chmod 000 was left behind with the whole scratch folder."""
    out = _run_as_ordinary_user(UNMEASURABLE_SCRIPT, {"LRGYM_SANDBOX": "off"})
    assert out["kind"] == "none" and out["uid"] != 0
    for name, where in (("Unsearchable", "work/0/d/data"), ("Closed", "work/0/d/sub")):  # episode 0's folder
        assert out[name].startswith(f"the policy made its scratch folder impossible to measure (Permission denied: "
                                    f"{where}), which counts as more than its 8 MB (tmp_mb"), out[name]
        assert out[name + "_closed"], "the policy was left running"
        assert not out[name + "_scratch_after_close"], "its scratch folder was left behind"


KILLED_WORKER_POLICY = '''
import os, time
class Locks:  # leaves a folder of files that is not writable, then hangs
    name = "locks"; optimizer = "sgd"; action_mode = "discrete"
    def reset(self, info):
        pass
    def act(self, obs, info):
        os.makedirs("locked", exist_ok=True)
        open("locked/f", "w").close()
        os.chmod("locked", 0o500)
        with open(MARKER, "w") as f:
            f.write(f"{os.getpid()} {os.getppid()}")  # the episode's process, its job process
        time.sleep(3600)
'''

KILLED_WORKER_SCRIPT = '''
import json, os, shutil, sys, tempfile, time
sys.path.insert(0, TESTS)
from lb_helpers import tiny_suite
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec
from lrgym.leaderboard.sandbox import mode

tmp = tempfile.mkdtemp(prefix="lrgym-test-killed-worker-")  # the grader's temp folder: the workers' go there
aside = tempfile.mkdtemp(prefix="lrgym-test-killed-worker-aside-")


def alive(pids):
    running = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    running.append(pid)
        except OSError:
            pass
    return running


try:
    tempfile.tempdir = os.environ["TMPDIR"] = tmp
    os.environ["LRGYM_CACHE"] = os.path.join(aside, "cache")  # the references of this user's own
    marker = os.path.join(aside, "reached-act")
    with open(os.path.join(aside, "pol.py"), "w") as f:
        f.write(POLICY.replace("MARKER", repr(marker)))
    suite = tiny_suite("killed", seeds=(0,))
    [outcome] = run_suite([submission_spec(os.path.join(aside, "pol.py") + ":Locks")], suite,
                          references=load_references(suite, n_workers=1), n_workers=1, time_limit=TIME_LIMIT)
    pids = open(marker).read().split() if os.path.exists(marker) else []
    deadline = time.monotonic() + 10  # a SIGKILLed process may take a moment to end
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left_running = alive(pids)
    for pid in left_running:
        os.kill(int(pid), 9)
    out = {"kind": mode()["kind"], "uid": os.getuid(), "reason": outcome.entry.failure_reason,
           "reached_act": bool(pids), "left_running": left_running, "left_in_tmp": sorted(os.listdir(tmp))}
finally:
    for root, dirs, _ in os.walk(tmp):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o700)
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(aside, ignore_errors=True)
print(json.dumps(out))
'''


def test_without_namespaces_a_worker_killed_at_the_time_limit_leaves_no_policy_process_or_folder():
    """As an ordinary user without namespaces (where unprivileged user namespaces are not allowed,
    as on Ubuntu 24.04 by default): a policy hanging in ``act`` past the time limit, its grader
    worker killed. Its job process and episode process ran on for ever as the grader's user
    (only the host and the job starter had ``PR_SET_PDEATHSIG``, which ``fork`` does not pass on;
    no cgroup and no PID namespace ended the rest), and a folder of files it made unwritable
    (``chmod 500``) kept the killed worker's whole temp folder (``rmtree``), which no later sweep
    removed either (an audit, 2026-12-06)."""
    script = (KILLED_WORKER_SCRIPT.replace("TESTS", repr(os.path.join(REPO, "tests", "leaderboard")))
              .replace("POLICY", repr(KILLED_WORKER_POLICY)).replace("TIME_LIMIT", "15"))  # waited out in full: the references compiled the kernels before it
    out = _run_as_ordinary_user(script, {"LRGYM_SANDBOX": "off"})
    assert out["kind"] == "none" and out["uid"] != 0
    assert out["reason"].startswith("timeout: exceeded the wall-clock limit of 15 s"), out["reason"]
    assert out["reached_act"], "the policy never reached act() within the time limit: nothing was tested"
    assert out["left_running"] == [], "the policy's processes outlived its killed worker"
    assert out["left_in_tmp"] == [], "the killed worker's temp folder was left behind"


def _folder_chain(top, depth: int) -> None:
    """``depth`` folders ``a`` one in another below ``top``, made through descriptors (the path of
    the deepest is longer than any path the kernel takes), the one in the middle ``chmod 000``."""
    fd, middle = os.open(top, os.O_RDONLY | os.O_DIRECTORY), None
    try:
        for level in range(depth):
            os.mkdir("a", dir_fd=fd)
            child = os.open("a", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            if level == depth // 2:
                middle = os.dup(child)
            os.close(fd)
            fd = child
        open(os.open("data", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "w").close()
        os.chmod(f"/proc/self/fd/{middle}", 0)
    finally:
        os.close(fd)
        if middle is not None:
            os.close(middle)


def test_remove_folder_and_the_sweep_remove_a_chain_of_folders_deeper_than_pythons_recursion(tmp_path):
    """A chain of 3,000 folders (a policy makes one in well under a second without namespaces):
    ``shutil.rmtree``, recursive in Python 3.11, raised RecursionError out of ``remove_folder``
    (``ignore_errors`` ignores OSError only), so out of the grader closing the sandbox, and the
    worker's temp folder stayed, raising it again in every later grader's sweep, before any
    worker starts. Removed now, and in work linear in the depth: a few folders opened a level (no
    folder opened from the top one name at a time, ≈ 4.5 million opens for this chain). (The
    work is counted, not timed: the wall time of a removal on a loaded machine says nothing.)"""
    import subprocess

    from lrgym.leaderboard.pool import SCRATCH_PREFIX, sweep_orphaned_scratch

    try:
        (tmp_path / "private").mkdir()
        _folder_chain(tmp_path / "private", 3000)
        opened, real_open = [], os.open
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(os, "open", lambda *args, **kw: opened.append(args[0]) or real_open(*args, **kw))
            remove_folder(str(tmp_path / "private"))
        assert not os.path.lexists(tmp_path / "private")
        assert 3000 <= len(opened) <= 5 * 3000

        gone = subprocess.Popen(["true"])
        gone.wait()  # a worker's owner that has ended (an older name: the pid alone)
        left = tmp_path / f"{SCRATCH_PREFIX}{gone.pid}-x"
        left.mkdir()
        _folder_chain(left, 3000)
        assert sweep_orphaned_scratch(str(tmp_path)) == 1
        assert os.listdir(tmp_path) == []
    finally:  # what a failure left, which pytest's own clean-up (rmtree) could not remove either
        subprocess.run(["chmod", "-R", "u+rwx", str(tmp_path)], capture_output=True)
        subprocess.run(["rm", "-rf", *map(str, tmp_path.iterdir())], capture_output=True)


def test_remove_folder_removes_a_deep_chain_however_long_the_loaded_machine_keeps_it_waiting(tmp_path, monkeypatch):
    """A chain takes ``remove_folder`` one round a folder, and on a loaded machine (CI, a busy
    grader: two cores shared by a dozen processes) a 3,000-deep chain's 0.2 CPU-s took over 10 s
    of wall time: the 10 s wall-clock deadline meant for a live owner writing on for ever ended
    the removal while every round still removed something, and left the rest of the chain (the
    test above failed in two runs of four there). Here the machine keeps the removal waiting a
    second at every reading of a wall clock (``time``'s clocks as ``remove_folder`` sees them);
    its own CPU time is real. Failed before (a 300-deep chain left after ten rounds)."""
    import types

    from lrgym.leaderboard import sandbox_folders

    real_time, wall = sandbox_folders.time, [0.0]

    def waited() -> float:
        wall[0] += 1.0
        return real_time.monotonic() + wall[0]

    slow_machine = types.SimpleNamespace(**{name: getattr(real_time, name) for name in dir(real_time)
                                            if not name.startswith("__")})
    slow_machine.monotonic = slow_machine.time = slow_machine.perf_counter = waited
    slow_machine.monotonic_ns = slow_machine.time_ns = slow_machine.perf_counter_ns = lambda: int(waited() * 1e9)
    try:
        (tmp_path / "private").mkdir()
        _folder_chain(tmp_path / "private", 300)
        monkeypatch.setattr(sandbox_folders, "time", slow_machine)
        remove_folder(str(tmp_path / "private"))
        monkeypatch.undo()
        assert not os.path.lexists(tmp_path / "private")
    finally:  # what a failure left, which pytest's own clean-up (rmtree) could not remove either
        subprocess.run(["chmod", "-R", "u+rwx", str(tmp_path)], capture_output=True)
        subprocess.run(["rm", "-rf", *map(str, tmp_path.iterdir())], capture_output=True)


#: an owner that writes on in a folder (argv[1]) until it is killed or a minute has passed: a
#: chain of folders it makes deeper through a descriptor of the deepest (wherever the removal
#: moves it), 2,000 before it says so and up to 3,000 (then it idles: the test removes the rest)
GROWING_CHAIN_OWNER = """
import os, sys, time
fd, depth, end = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY), 0, time.monotonic() + 60
while time.monotonic() < end:
    if depth < 3_000:
        try:
            os.mkdir("a", dir_fd=fd)
            child = os.open("a", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        except OSError:  # removed up to here: the removal caught up with it
            break
        os.close(fd)
        fd, depth = child, depth + 1
        if depth == 2_000:
            print("writing", flush=True)
    else:
        time.sleep(0.01)
time.sleep(max(0.0, end - time.monotonic()))
"""


def test_remove_folder_stops_after_its_cpu_budget_while_a_live_owner_writes_on(tmp_path):
    """The bound that stays (:data:`~lrgym.leaderboard.sandbox_folders.REMOVE_CPU_SECONDS`, the
    removal's own CPU time, here cut to 0.01 s): an owner writing on (a policy process outliving
    its run) does not keep ``remove_folder`` (so the grader) for as long as it writes. The call
    returns with the folder still there (a chain of 2,000 folders growing: a folder costs the
    removal ≈ 60 µs of CPU here, ≈ 15 system calls, and no machine does one in 5 µs) while the
    owner still runs (it runs for a minute), and once the owner is gone the next call (the whole
    budget) removes everything."""
    from lrgym.leaderboard import sandbox_folders

    folder = tmp_path / "private"
    folder.mkdir()
    owner = subprocess.Popen([sys.executable, "-c", GROWING_CHAIN_OWNER, str(folder)], stdout=subprocess.PIPE)
    try:
        assert owner.stdout.readline() == b"writing\n"
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sandbox_folders, "REMOVE_CPU_SECONDS", 0.01)
            remove_folder(str(folder))
        assert os.path.lexists(folder)  # stopped by its budget, not by an empty folder
        assert owner.poll() is None  # and long before the owner stopped
    finally:
        owner.kill()
        owner.wait()
        owner.stdout.close()
    remove_folder(str(folder))
    assert not os.path.lexists(folder)


DEEP_FOLDERS_SCRIPT = '''
import json, os, sys, tempfile
sys.path.insert(0, TESTS)
from lb_helpers import tiny_suite
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec
from lrgym.leaderboard.sandbox import mode

POLICY = """
import os
class Deep:  # a chain of 1,500 folders in its scratch folder, then Keep's action
    name = "deep"; optimizer = "sgd"; action_mode = "discrete"
    made = False
    def reset(self, info):
        pass
    def act(self, obs, info):
        if not self.made:
            self.made = True
            fd = os.open(".", os.O_RDONLY)
            for _ in range(1500):
                os.mkdir("a", dir_fd=fd)
                child = os.open("a", os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = child
            os.close(fd)
        return 2
class Keep(Deep):
    name = "keep"
    made = True
"""
tmp = tempfile.mkdtemp(prefix="lrgym-test-deep-folders-")  # the grader's temp folder: the workers' go there
aside = tempfile.mkdtemp(prefix="lrgym-test-deep-folders-aside-")
tempfile.tempdir = os.environ["TMPDIR"] = tmp
os.environ["LRGYM_CACHE"] = os.path.join(aside, "cache")  # the references of this user's own
with open(os.path.join(aside, "pol.py"), "w") as f:
    f.write(POLICY)
suite = tiny_suite("deep", seeds=(0,))
references = load_references(suite, n_workers=1)
out = {"kind": mode()["kind"], "uid": os.getuid()}
for attr in ("Deep", "Keep"):
    try:
        [outcome] = run_suite([submission_spec(os.path.join(aside, "pol.py") + ":" + attr)], suite,
                              references=references, n_workers=1, time_limit=120)
        out[attr] = outcome.entry.failure_reason or [run.score for run in outcome.runs]
    except Exception as exc:  # what escaped the grader
        out[attr] = f"grader error: {type(exc).__name__}: {exc}"
    out[attr + "_left_in_tmp"] = sorted(os.listdir(tmp))
os.system(f"chmod -R u+rwx {tmp} {aside}; rm -rf {tmp} {aside}")  # what a failing grader left
print(json.dumps(out))
'''


def test_without_namespaces_a_policys_chain_of_folders_is_removed_and_its_entry_graded():
    """As an ordinary user without namespaces: a policy leaving a chain of 1,500 folders in its
    scratch folder (within ``tmp_mb``: 6 MB) made the host's clean-up between jobs raise
    RecursionError (the entry failed, said as the grader's error), then the grader's
    ``remove_folder`` raise it out of ``run_suite`` (no entry recorded), the worker's temp folder
    left for every later grader's sweep to raise on again. Now graded as ``Keep`` is, nothing left."""
    script = DEEP_FOLDERS_SCRIPT.replace("TESTS", repr(os.path.join(REPO, "tests", "leaderboard")))
    out = _run_as_ordinary_user(script, {"LRGYM_SANDBOX": "off"})
    assert out["kind"] == "none" and out["uid"] != 0
    assert isinstance(out["Keep"], list), out["Keep"]
    assert out["Deep"] == out["Keep"], out["Deep"]
    assert out["Deep_left_in_tmp"] == [] and out["Keep_left_in_tmp"] == []


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


SUBMOUNT_SCRIPT = '''
import json, os, subprocess, sys
sys.path.insert(0, TESTS)
from lb_helpers import probe_sandbox
from lrgym.leaderboard.sandbox import mode

subprocess.run(["mount", "--bind", MINE, TARGET], check=True)  # in this private mount namespace only
PROBE = f"""
import json, os
def opened(path):
    try:
        os.close(os.open(path, os.O_WRONLY))  # opened only: nothing is written
        return True
    except OSError as exc:
        return exc.strerror
class Probe:
    def __init__(self):
        facts = {{"seen": open({TARGET!r}).read(), "write": opened({TARGET!r})}}
        raise RuntimeError("FACTS" + json.dumps(facts) + "END")
"""
out = {}
for setting in ("auto", "userns"):
    os.environ["LRGYM_SANDBOX"] = setting
    mode.cache_clear()
    out[setting] = {"kind": mode()["kind"], **probe_sandbox(PROBE)}
print(json.dumps(out))
'''


@pytest.mark.skipif(mode()["kind"] == "none", reason="needs namespaces (unshare)")
def test_mounts_below_a_bound_system_folder_are_read_only_too(tmp_path):
    """The bind of a system folder is recursive, but only its top was remounted read-only: a
    mount below it (Docker binds /etc/hosts, /etc/hostname, /etc/resolv.conf) stayed writable,
    to a policy that is uid 0 outside with ``LRGYM_SANDBOX=userns`` as root. Made here in a
    private mount namespace: a world-writable file of the test's bound over a file of ``/etc``
    (so only the mount can refuse the write); only opened for writing, never written."""
    if os.geteuid() != 0:
        pytest.skip("binding a file over one of /etc takes root's mount namespace")
    target = next((p for p in ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")
                   if os.path.isfile(p) and not os.path.islink(p)), None)
    if target is None:
        pytest.skip("no regular file to bind over in /etc")
    mine = tmp_path / "bound-file"
    mine.write_text("the test's own file\n")
    mine.chmod(0o666)
    tests = os.path.dirname(os.path.abspath(__file__))
    script = f"TESTS, MINE, TARGET = {tests!r}, {str(mine)!r}, {target!r}\n" + SUBMOUNT_SCRIPT
    out = _run_script(script, {}, private_mounts=True)
    for setting, facts in out.items():
        assert facts["seen"] == "the test's own file\n", (setting, facts)  # the mount is in the sandbox
        assert facts["write"] == "Read-only file system", (setting, facts)
    assert out["userns"]["kind"] == "userns"


# ---- processes in the user-namespace sandbox ---------------------------------------------------

FORK_SCRIPT = '''
import json
from lrgym.leaderboard.sandbox import Limits, SandboxError, mode, start

PROBE = """
import json, os, time
class Probe:
    def __init__(self):
        forked, error = 0, None
        try:
            while forked < CAP:
                if os.fork() == 0:
                    time.sleep(20)  # ended with its namespace long before
                    os._exit(0)
                forked += 1
        except OSError as exc:
            error = exc.strerror
        raise RuntimeError("FACTS" + json.dumps({"forked": forked, "error": error}) + "END")
"""
process = start(Limits(memory_mb=1500, cpu_seconds=60, processes=PROCESSES))
facts = None
try:
    process.request(("load", {"kind": "object", "module": "bomb", "attr": "Probe", "file": "bomb.py",
                              "source": "bomb.py"}, {"bomb.py": f"CAP = {CAP}\\n{PROBE}".encode()}))
    try:
        process.request(("policies", "quadratic", 1), timeout=60)
    except SandboxError as exc:
        text = str(exc)
        facts = json.loads(text[text.index("FACTS") + 5:text.index("END")])
finally:
    process.close()
print(json.dumps({"kind": mode()["kind"], "processes": process.applied.get("processes"), **facts}))
'''

#: the tasks of the user namespace besides the policy's children: ``unshare`` (outside the PID
#: namespace), its PID 1, the host, the job starter and the job's waiter (job_starter.JobStarter),
#: the parent waiting for the job's process (outside the job's own PID namespace), the job's
#: process (the episodes' template) and the episode's own process
OWN_TASKS = 8


def _fork_bomb(processes: int, cap: int, ordinary_user: bool = False) -> dict:
    """The fork bomb's facts, its sandbox started by an ordinary user if told (else by this
    process's user)."""
    script = f"CAP = {cap}\n" + FORK_SCRIPT.replace("PROCESSES", str(processes))
    run = _run_as_ordinary_user if ordinary_user else _run_script
    return run(script, {"LRGYM_SANDBOX": "userns"})


def _kernel_at_least(major: int, minor: int) -> bool:
    release = os.uname().release.split(".")
    return (int(release[0]), int("".join(c for c in release[1] if c.isdigit()))) >= (major, minor)


def _a_pid_namespace_has_its_own_pid_max() -> bool:
    """Whether a new PID namespace here shows a ``pid_max`` other than the machine's: then it
    is its own (Linux 6.14), and the policy host may set it (read only here)."""
    argv = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount", "--mount-proc",
            "cat", "/proc/sys/kernel/pid_max"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    with open("/proc/sys/kernel/pid_max") as f:
        return done.returncode == 0 and done.stdout.strip() != f.read().strip()


def test_an_ordinary_users_sandbox_bounds_a_fork_bomb():
    """As an ordinary user (``nobody`` here, when the tests run as root) the sandbox is root of a
    user namespace with the user's uid outside; nothing bounded its processes. Since Linux 5.14
    ``RLIMIT_NPROC`` counts a user namespace's processes apart: exactly ``processes`` tasks."""
    if not _kernel_at_least(5, 14):
        pytest.skip("RLIMIT_NPROC counts every process of the uid before Linux 5.14 (documented gap)")
    out = _fork_bomb(processes=16, cap=120, ordinary_user=True)
    if out["kind"] != "userns":
        pytest.skip("user namespaces are not permitted on this machine")
    assert "RLIMIT_NPROC 16 of its user namespace" in out["processes"], out
    assert out["forked"] == 16 - OWN_TASKS and out["error"] == "Resource temporarily unavailable", out


def test_roots_user_namespace_sandbox_bounds_a_fork_bomb_by_its_pid_max():
    """As root with ``LRGYM_SANDBOX=userns`` the policy is uid 0 outside, which the kernel exempts
    from ``RLIMIT_NPROC``; the PID namespace's own ``pid_max`` (Linux 6.14) bounds it: fewer
    than 300 + ``processes`` tasks."""
    if os.geteuid() != 0:
        pytest.skip("the case of a grader running as root")
    if not _a_pid_namespace_has_its_own_pid_max():
        pytest.skip("no per-namespace pid_max known to be one here (Linux < 6.14?): documented gap")
    from lrgym.leaderboard.sandbox_cgroup import memory_bound

    out = _fork_bomb(processes=16, cap=360)
    assert out["kind"] == "userns" and out["processes"] == "pid_max 316 of its PID namespace", out
    if memory_bound()["cgroup"] is not None:  # the sandbox's cgroup bounds it first: pids.max 16
        assert out["forked"] == 16 - OWN_TASKS and out["error"] == "Resource temporarily unavailable", out
    else:  # pids 1 to 315 (none wrapped yet): its PID 1, the host, the job's parent, the job, the episode, 310 children
        assert out["forked"] == 315 - 5 and out["error"] == "Resource temporarily unavailable", out
