"""Nothing of one job reaches a later job of the same sandbox (a security review, 2026-12): in
root's sandbox a job's import could leave a value for the next job in a POSIX message queue
(the clean-up removed System V objects only), in its uid's user keyring (one uid per sandbox)
or in the size of the sandbox's output file, which every job held as its stdout and stderr
(``ftruncate``, then ``fstat`` in the next job). Each job process now has an IPC namespace of
its own, a fresh uid and an output file of its own (:func:`lrgym.leaderboard.job_isolation.enter_job`).

Each policy below raises at import in any job that sees an earlier job's value; one worker runs
both jobs (two families) of each."""

from __future__ import annotations

import ctypes
import os
import platform
import sys

import pytest
from lb_helpers import probe_sandbox, tiny_suite

from lrgym.leaderboard import sandbox
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec
from lrgym.leaderboard.seccomp import FILTERED, SUPPORTED_MACHINES
from lrgym.leaderboard.step_message import encode_act

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

TAIL = '''

class P:
    name = "xjob"

    def reset(self, info):
        pass

    def act(self, obs, info):
        return 2
'''

MQUEUE = '''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
mq = libc.mq_open(b"/lrgym-xjob", os.O_RDWR | os.O_NONBLOCK)
if mq >= 0:
    raise RuntimeError("LEAK: a POSIX message queue of an earlier job")
mq = libc.mq_open(b"/lrgym-xjob", os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, 0o600, None)
assert mq >= 0, ctypes.get_errno()
''' + TAIL

KEYRING = '''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
if libc.syscall(250, 10, -4, b"user", b"lrgym-xjob", 0) > 0:  # KEYCTL_SEARCH in @u
    raise RuntimeError("LEAK: a key of an earlier job in the user keyring")
added = libc.syscall(248, b"user", b"lrgym-xjob", b"1", 1, -4)
assert added > 0 or ctypes.get_errno() == 38, ctypes.get_errno()  # ENOSYS: refused (lrgym.leaderboard.seccomp)
''' + TAIL

COUNTER = '''
import os
if os.fstat(1).st_size or os.fstat(2).st_size:
    raise RuntimeError(f"LEAK: an output file of size {os.fstat(1).st_size} left by an earlier job")
os.write(1, b"." * 4242)
os.ftruncate(2, 4343)
''' + TAIL


def _key_uids() -> set[int]:
    with open("/proc/key-users") as f:
        return {int(line.split(":")[0]) for line in f if line.strip()}


def _drop_keys(uids) -> None:
    """Invalidate the keys the test's sandbox uids left (the kernel keeps a dead uid's keys)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    for uid in uids:
        pid = os.fork()
        if pid == 0:  # pragma: no cover
            try:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                with open("/proc/keys") as f:
                    for row in f:
                        fields = row.split()
                        if fields[5] == str(uid):
                            libc.syscall(250, 21, int(fields[0], 16))  # KEYCTL_INVALIDATE
            finally:
                os._exit(0)
        os.waitpid(pid, 0)


@pytest.mark.skipif(os.geteuid() != 0 or sandbox.mode()["kind"] != "root", reason="root's sandbox")
def test_no_state_crosses_jobs_in_roots_sandbox(tmp_path):
    """The three probes (a message queue, a key, the output files) in one module, each checking
    at import what an earlier job left and leaving its own: one submission's two jobs test them
    all (a submission each ran six jobs for the same checks)."""
    (tmp_path / "xjob.py").write_text(MQUEUE.replace(TAIL, "\n") + KEYRING.replace(TAIL, "\n") + COUNTER)
    suite = tiny_suite("xjob", families=("quadratic", "linreg"), n_instances=1, seeds=(0,), horizon=2,
                       inner_steps=2)
    refs = load_references(suite, n_workers=1)
    before = _key_uids()
    try:
        results = run_suite([submission_spec(f"{tmp_path}/xjob.py:P", name="xjob")], suite, references=refs,
                            n_workers=1, time_limit=300)
    finally:
        _drop_keys({u for u in _key_uids() - before if u >= sandbox.UID_BASE})
    for result in results:
        assert result.ok, result.entry.failure_reason
        assert len(result.runs) == 2


NUMBA_CACHE = '''
import os
path = os.path.join(os.environ["NUMBA_CACHE_DIR"], "xjob")
if os.path.exists(path):
    raise RuntimeError(f"LEAK: {path} of an earlier job in Numba's cache folder")
with open(path, "w") as f:
    f.write("1")
''' + TAIL


@pytest.mark.skipif(sandbox.mode()["kind"] == "none", reason="no namespaces: the cache is the grader's own folder")
def test_numbas_cache_folder_is_emptied_between_jobs_when_the_temp_dir_is_not_tmp(tmp_path, monkeypatch):
    """A grader whose temp folder is outside /tmp (TMPDIR=/var/tmp/…) gives the sandbox a Numba
    cache folder outside the policy's /tmp, which the clean-up between jobs made again but did
    not empty: a file one job left there was read by the next."""
    import shutil
    import tempfile

    (tmp_path / "numba_cache.py").write_text(NUMBA_CACHE)
    suite = tiny_suite("xjob-numba", families=("quadratic", "linreg"), n_instances=1, seeds=(0,), horizon=2,
                       inner_steps=2)
    refs = load_references(suite, n_workers=1)
    elsewhere = tempfile.mkdtemp(prefix="lrgym-test-tmpdir-", dir="/var/tmp")
    try:
        monkeypatch.setenv("TMPDIR", elsewhere)
        monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR: the workers' folders go there
        [result] = run_suite([submission_spec(f"{tmp_path}/numba_cache.py:P", name="xjob-numba-cache")], suite,
                             references=refs, n_workers=1, time_limit=300)
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)
    assert result.ok, result.entry.failure_reason
    assert len(result.runs) == 2


@pytest.mark.skipif(os.geteuid() != 0 or sandbox.mode()["kind"] != "root", reason="root's sandbox (a uid per job)")
def test_a_module_installed_under_tmp_imports_in_every_job(tmp_path, monkeypatch):
    """A package directory under /tmp (a checkout or venv there, as CI's clean clone in /tmp/ci)
    is bound read-only into the sandbox's /tmp: the clean-up between jobs must leave the folders
    holding those binds alone. It made them root's 0700 while trying to empty /tmp, so the next
    job, with its fresh uid, could not import the policy ("No module named ..."). Reference: the
    same module's first job, which imported it."""
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "xjob_module_under_tmp.py").write_text(TAIL)
    monkeypatch.syspath_prepend(str(mods))
    suite = tiny_suite("xjob-tmp-module", families=("quadratic", "linreg"), n_instances=1, seeds=(0,), horizon=2,
                       inner_steps=2)
    refs = load_references(suite, n_workers=1)
    [result] = run_suite([submission_spec("xjob_module_under_tmp:P", name="xjob-tmp-module")], suite,
                         references=refs, n_workers=1, time_limit=300)
    assert result.ok, result.entry.failure_reason
    assert len(result.runs) == 2


#: leaves the next job of its sandbox a mark through counters no clean-up resets (two reviews,
#: 2026-12-05): the pid counter of the sandbox's PID namespace (forking until pids are high), the
#: inode numbers of its /tmp, /dev/shm and Numba's cache folder (making and removing files), the
#: network namespace's OutNoRoutes (failed sends) and the key quota /proc/key-users lists for a
#: dead job's uid (keys added to its keyring). With a job per seed,
#: the next job is usually the next seed of the same instances: such a mark can carry what the
#: last seed found. Each job now has a PID namespace and fresh tmpfs mounts of its own.
COUNTERS = '''
import ctypes
import os
import platform
import socket

MARK = 200  # well above what a fresh namespace or tmpfs starts at (a probe, 2026-12-07: pid 3, inodes 21 – 23)


def _counters():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    inodes = []
    for folder in ("/tmp", "/dev/shm", os.environ["NUMBA_CACHE_DIR"]):
        path = os.path.join(folder, f"probe-{os.getpid()}")
        open(path, "w").close()
        inodes.append(os.stat(path).st_ino)
        os.unlink(path)
    return pid, inodes


def _no_routes():
    """The network namespace's count of sends that found no route (a failed send raises it)."""
    rows = [line.split() for line in open("/proc/net/snmp") if line.startswith("Ip:")]
    return int(rows[1][rows[0].index("OutNoRoutes")])


def _send_nowhere(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(n):
        try:
            s.sendto(b"", ("127.0.0.1", 9))  # no interface is up
        except OSError:
            pass


def _other_key_users():
    """uids but ours that /proc/key-users lists with keys (a job's dead uid, in its fresh-uid range)."""
    with open("/proc/key-users") as f:
        rows = [line.split(":")[0].strip() for line in f if line.strip()]
    return [int(uid) for uid in rows if int(uid) >= 1_000_000 and int(uid) != os.getuid()]


def _add_keys(n):
    """``n`` keys in this uid's user keyring (add_key(2), x86-64 only)."""
    if platform.machine() != "x86_64":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for i in range(n):
        data = b"x" * 100
        libc.syscall(248, b"user", f"mark-{i}".encode(), data, ctypes.c_size_t(len(data)), ctypes.c_int(-4))


class Counters:
    name = "counters"

    def reset(self, info):
        self.found = None
        if os.path.basename(os.getcwd()) != "0":
            return
        pid, inodes = _counters()
        no_routes, key_users = _no_routes(), _other_key_users()
        if pid > MARK or max(inodes) > MARK or no_routes > MARK or key_users:
            self.found = (f"an earlier job left pid {pid}, inodes {inodes}, OutNoRoutes {no_routes}, "
                          f"key users {key_users}")
            return
        _send_nowhere(MARK + 100)
        _add_keys(3)
        for _ in range(MARK + 100):  # leave the mark
            child = os.fork()
            if child == 0:
                os._exit(0)
            os.waitpid(child, 0)
        for folder in ("/tmp", "/dev/shm", os.environ["NUMBA_CACHE_DIR"]):
            for i in range(MARK + 100):
                path = os.path.join(folder, f"mark-{i}")
                open(path, "w").close()
                os.unlink(path)

    def act(self, obs, info):
        if self.found:
            raise RuntimeError(self.found)
        return 2
'''


@pytest.mark.parametrize("grader_tmp", ["default", "outside /tmp"])
def test_a_job_finds_no_mark_of_an_earlier_job_in_its_counters(tmp_path, monkeypatch, grader_tmp):
    """Two jobs (one per seed) in one sandbox; the first leaves its mark, the second looks for
    it. The code before each job had its own PID, mount and network namespaces failed with
    'an earlier job left pid 2108, inodes [4250, 4251, ...]', before /proc/key-users was masked
    with the earlier job's uid, and with the cache folder outside /tmp (a grader's TMPDIR
    elsewhere) with its inode number."""
    from lrgym.leaderboard.runner import job_layout

    if sandbox.mode()["kind"] == "none":
        pytest.skip("without namespaces jobs share the grader's pids and /tmp (documented)")
    if grader_tmp != "default":  # the grader's temporary folders, so Numba's cache folder in the sandbox, elsewhere
        import tempfile

        elsewhere = tempfile.mkdtemp(prefix="lrgym-test-", dir="/var/tmp")
        monkeypatch.setenv("TMPDIR", elsewhere)
        monkeypatch.setattr(tempfile, "tempdir", None)
    (tmp_path / "counters.py").write_text(COUNTERS)
    suite = tiny_suite("counters", families=("quadratic",), n_instances=1, seeds=(0, 1), horizon=2, inner_steps=2)
    assert len(job_layout(suite, 1, seeds_apart=True)) == 2
    refs = load_references(suite, n_workers=1)
    try:
        [counters] = run_suite([submission_spec(f"{tmp_path}/counters.py:Counters", name="counters")], suite,
                               references=refs, n_workers=1, time_limit=300)
    finally:
        if grader_tmp != "default":
            import shutil

            shutil.rmtree(elsewhere, ignore_errors=True)
    assert counters.ok, counters.entry.failure_reason


#: fills /tmp, then /dev/shm, 6 MB each, and fails naming which writes the 8 MB tmpfs took
SPACE = '''
import errno
import os


class Space:
    name = "space"

    def reset(self, info):
        self.took = []
        for folder in ("/tmp", "/dev/shm"):
            try:
                with open(os.path.join(folder, "fill"), "wb") as f:
                    f.write(b"x" * (6 << 20))
                self.took.append(folder)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise

    def act(self, obs, info):
        raise RuntimeError(f"TOOK {self.took} END")
'''


@pytest.mark.skipif(sandbox.mode()["kind"] == "none", reason="needs namespaces (the tmpfs mounts)")
def test_a_jobs_tmp_and_dev_shm_share_the_sandboxs_tmp_limit(tmp_path):
    """One tmpfs of ``tmp_mb`` holds a job's /tmp, /dev/shm and cache folder (a review,
    2026-12-05: the first per-job mounts gave /tmp and /dev/shm a tmpfs of ``tmp_mb`` each)."""
    from lrgym.leaderboard.sandbox import Limits, SandboxError, start

    process = start(Limits(memory_mb=1500, cpu_seconds=60, tmp_mb=8))
    try:
        process.request(("load", {"kind": "object", "module": "space", "attr": "Space", "file": "space.py",
                                  "source": "space.py"}, {"space.py": SPACE.encode()}))
        process.request(("policies", "quadratic", 1))
        process.request(("reset", "quadratic", [{}], ["e0"]))
        with pytest.raises(SandboxError, match=r"TOOK \['/tmp'\] END"):
            process.request(("act", "quadratic", [(0, encode_act([0.0], {}))]))
    finally:
        process.close()


#: the user-namespace sandbox's policy owns its root's /dev: it puts a link through the sandbox's
#: PID 1 (which never entered the chroot) in place of /dev/shm, for the host's clean-up to follow
PLANT = '''
import os

VICTIM = {victim!r}


class Plant:
    name = "plant"

    def reset(self, info):
        if os.path.basename(os.getcwd()) != "0" or os.path.islink("/dev/shm"):
            return
        try:
            os.rename("/dev", "/dev.old")
        except OSError:  # root's sandbox: / is not the policy's
            return
        os.mkdir("/dev")
        for name in os.listdir("/dev.old"):
            if name != "shm":
                os.symlink("/dev.old/" + name, "/dev/" + name)
        os.symlink("/proc/1/root" + VICTIM, "/dev/shm")

    def act(self, obs, info):
        return 2
'''


def test_the_host_follows_no_link_a_job_planted(tmp_path, monkeypatch):
    """A security review (2026-12-05): in the user-namespace sandbox a job replaced /dev/shm by a
    link to a folder of the machine, and the host's clean-up between jobs emptied that folder
    with the host's privileges. The host now cleans nothing in the namespaces (each job has fresh
    mounts of its own); the folder keeps its file."""
    monkeypatch.setenv("LRGYM_SANDBOX", "userns")
    sandbox.mode.cache_clear()
    try:
        if sandbox.mode()["kind"] != "userns":
            pytest.skip("user namespaces are not permitted on this machine")
        victim = tmp_path / "victim"
        victim.mkdir()
        (victim / "keep.txt").write_text("the machine's file")
        (tmp_path / "plant.py").write_text(PLANT.format(victim=str(victim)))
        suite = tiny_suite("plant", families=("quadratic",), n_instances=1, seeds=(0, 1), horizon=2, inner_steps=2)
        refs = load_references(suite, n_workers=1)
        run_suite([submission_spec(f"{tmp_path}/plant.py:Plant", name="plant")], suite, references=refs,
                  n_workers=1, time_limit=300)  # its second job may fail: its /dev/shm is its own link
    finally:
        sandbox.mode.cache_clear()
    assert (victim / "keep.txt").read_text() == "the machine's file"


#: a named keyring, opened to everyone and kept alive in its uid's user keyring, which every
#: later job of any uid, sandbox or run joined by name (a security review, 2026-12-05)
KEYJOIN = '''
import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NAME = {name!r}


def keyctl(*args):
    return libc.syscall(250, *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])


ring = keyctl(1, NAME)  # KEYCTL_JOIN_SESSION_KEYRING: joins the named keyring, or makes it
found = []
if ring > 0:
    buf = ctypes.create_string_buffer(4096)
    for i in range(0, max(keyctl(11, ring, buf, 4096), 0), 4):  # KEYCTL_READ: its keys
        value = ctypes.create_string_buffer(256)
        n = keyctl(11, int.from_bytes(buf.raw[i:i + 4], "little"), value, 256)
        if n > 0:
            found.append(value.raw[:n].decode())
    if not found:  # the first job: leave what it learnt
        keyctl(5, ring, 0x3F3F3F3F)  # KEYCTL_SETPERM: anyone may search, read and write it
        data = b"best lr index on seed 0 = 17"
        key = libc.syscall(248, b"user", b"mark", data, ctypes.c_size_t(len(data)), ctypes.c_long(ring))
        keyctl(5, key, 0x3F3F3F3F)
        keyctl(8, ring, -4)  # KEYCTL_LINK into the uid's user keyring: it outlives the job
ERRNO = ctypes.get_errno()


class Keyjoin:
    name = "keyjoin"

    def reset(self, info):
        pass

    def act(self, obs, info):
        if found:
            raise RuntimeError(f"LEAK: an earlier job's keyring holds {{found}}")
        if ring > 0:
            raise RuntimeError("the kernel's key management works in the sandbox")
        return 2
'''


@pytest.mark.skipif(sandbox.mode()["kind"] == "none", reason="needs namespaces (the filter is a job's)")
def test_no_job_reaches_the_kernels_keys(tmp_path):
    """Kernel keys outlive jobs, uids and sandboxes; every job is refused add_key, request_key
    and keyctl (lrgym.leaderboard.seccomp). The old code: the second job found the first's key."""
    if platform.machine() not in SUPPORTED_MACHINES:
        pytest.skip(f"no seccomp filter written for {platform.machine()} (documented)")
    (tmp_path / "keyjoin.py").write_text(KEYJOIN.format(name=f"lrgym-test-{os.urandom(6).hex()}".encode()))
    suite = tiny_suite("keyjoin", families=("quadratic",), n_instances=1, seeds=(0, 1), horizon=2, inner_steps=2)
    refs = load_references(suite, n_workers=1)
    [keyjoin] = run_suite([submission_spec(f"{tmp_path}/keyjoin.py:Keyjoin", name="keyjoin")], suite,
                          references=refs, n_workers=1, time_limit=300)
    assert keyjoin.ok, keyjoin.entry.failure_reason
    assert keyjoin.entry.env_spec["sandbox"]["kernel_keys"] == f"{FILTERED} in every job (seccomp)"


LOCKS_PROBE = r'''
import ctypes, errno, fcntl, json, os, struct

def attempt(f):
    try:
        f()
        return "done"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))

class Probe:
    def __init__(self):
        fd = os.open("/usr/lib/os-release", os.O_RDONLY)
        libc = ctypes.CDLL(None, use_errno=True)
        def inotify():
            if libc.inotify_init1(0) < 0:
                raise OSError(ctypes.get_errno(), "inotify_init1")
        def fanotify():  # unprivileged since Linux 5.13: FAN_REPORT_FID, inode marks
            if libc.fanotify_init(0x200, 0) < 0:
                raise OSError(ctypes.get_errno(), "fanotify_init")
        lock = struct.pack("hhqqi", fcntl.F_RDLCK, 0, 0, 0, 0)
        facts = {"flock": attempt(lambda: fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)),
                 "fcntl_setlk": attempt(lambda: fcntl.fcntl(fd, fcntl.F_SETLK, lock)),
                 "fcntl_getlk": attempt(lambda: fcntl.fcntl(fd, fcntl.F_GETLK, lock)),
                 "ofd_setlk": attempt(lambda: fcntl.fcntl(fd, 37, lock)),
                 "lockf": attempt(lambda: fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)),
                 "inotify": attempt(inotify),
                 "fanotify": attempt(fanotify),
                 "getfl": fcntl.fcntl(fd, fcntl.F_GETFL) & 3 == os.O_RDONLY}
        raise RuntimeError("FACTS" + json.dumps(facts) + "END")
'''


@pytest.mark.skipif(not os.path.isfile("/usr/lib/os-release"), reason="needs /usr/lib/os-release")
def test_no_job_takes_a_file_lock_or_a_file_watch():
    """File locks and file watches on the read-only system files every sandbox sees are seen by
    every process of the machine: a red-team policy passed 64 bits from one sandbox to another
    running beside it through ``flock`` (2026-12-05). A job is refused them (``ENOLCK``, ``ENOSYS``:
    lrgym.leaderboard.seccomp); other ``fcntl`` commands work. The old code: every lock was taken;
    then ``fanotify`` (unprivileged since Linux 5.13) still was."""
    if platform.machine() not in SUPPORTED_MACHINES:
        pytest.skip(f"no seccomp filter written for {platform.machine()} (documented)")
    facts = probe_sandbox(LOCKS_PROBE)
    assert facts == {"flock": "ENOLCK", "fcntl_setlk": "ENOLCK", "fcntl_getlk": "ENOLCK", "ofd_setlk": "ENOLCK",
                     "lockf": "ENOLCK", "inotify": "ENOSYS", "fanotify": "ENOSYS",
                     "getfl": True}


def _probe_in(monkeypatch, kind: str, source: str) -> dict:
    """:func:`lb_helpers.probe_sandbox` of ``source`` in the ``kind`` sandbox (``"root"`` or
    ``"userns"``; skipped where this machine has no such sandbox)."""
    monkeypatch.setenv("LRGYM_SANDBOX", "userns" if kind == "userns" else "auto")
    sandbox.mode.cache_clear()
    try:
        if sandbox.mode()["kind"] != kind:
            pytest.skip(f"no {kind} sandbox on this machine")
        return probe_sandbox(source)
    finally:
        sandbox.mode.cache_clear()


LEASE_PROBE = r'''
import errno, fcntl, json, os

F_SETLEASE, F_GETLEASE = 1024, 1025

def attempt(*args):
    try:
        fcntl.fcntl(*args)
        return "done"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))

class Probe:
    def __init__(self):
        fd = os.open(os.path.realpath(os.__file__), os.O_RDONLY)  # the standard library's: the grader's own in userns
        facts = {"setlease": attempt(fd, F_SETLEASE, fcntl.F_RDLCK), "getlease": attempt(fd, F_GETLEASE)}
        raise RuntimeError("FACTS" + json.dumps(facts) + "END")
'''


@pytest.mark.parametrize("kind", ["root", "userns"])
def test_no_job_takes_a_file_lease(monkeypatch, kind):
    """A lease is a file lock the machine sees: in the user-namespace sandbox a job (the grader's
    uid outside, owner of the venv's files) took a write lease on a file of the venv, and every
    other process of the machine opening that file got ``EAGAIN`` or waited up to 45 s for it
    (a red team, 2026-12-06: a bit per file for a sandbox beside it, and a stall of the grader's
    other processes). ``F_SETLEASE`` and ``F_GETLEASE`` are refused like the other locks
    (``ENOLCK``, lrgym.leaderboard.seccomp). The old code: the lease was taken (userns), refused
    with ``EACCES`` by the file's owner (root's sandbox) and ``F_GETLEASE`` answered in both."""
    if platform.machine() not in SUPPORTED_MACHINES:
        pytest.skip(f"no seccomp filter written for {platform.machine()} (documented)")
    facts = _probe_in(monkeypatch, kind, LEASE_PROBE)
    assert facts == {"setlease": "ENOLCK", "getlease": "ENOLCK"}


ROOT_WRITES = '''
import errno
import json
import os


def attempt(what, *args):
    try:
        what(*args)
        return "done"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))


class Probe:
    def __init__(self):
        top = "/" + os.path.realpath(os.__file__).split("/")[1]  # the folder holding the standard library's bind
        facts = {"rename_dev": attempt(os.rename, "/dev", "/dev.old"), "rename_top": attempt(os.rename, top, top + ".old"),
                 "mkdir": attempt(os.mkdir, "/planted"), "tmp": attempt(os.mkdir, "/tmp/mine"),
                 "chmod_null": attempt(os.chmod, "/dev/null", 0o666), "utime_full": attempt(os.utime, "/dev/full", None),
                 "write_null": attempt(lambda: open("/dev/null", "w").write("x"))}
        raise RuntimeError("FACTS" + json.dumps(facts) + "END")
'''


@pytest.mark.parametrize("kind", ["root", "userns"])
def test_the_sandboxs_root_is_read_only_to_a_job(monkeypatch, kind):
    """A security review (2026-12-05): in the user-namespace sandbox the policy (uid 0 of the
    namespace) renamed the root's folders that hold the read-only binds and planted a codec
    where the host's standard library had been, which the host then imported; and it could chmod
    and touch the machine's device nodes bound in /dev. The root is read-only once the host has
    built it, the devices are read-only binds; a job writes only to its own /tmp."""
    facts = _probe_in(monkeypatch, kind, ROOT_WRITES)
    assert facts["tmp"] == "done"
    assert facts["rename_dev"] in ("EROFS", "EACCES", "EPERM") and facts["rename_top"] in ("EROFS", "EACCES", "EPERM")
    assert facts["mkdir"] in ("EROFS", "EACCES", "EPERM"), facts
    # the machine's device nodes (uid 0 outside owns them in userns): used, not changed
    assert facts["write_null"] == "done"
    assert facts["chmod_null"] in ("EROFS", "EPERM") and facts["utime_full"] in ("EROFS", "EPERM"), facts


@pytest.mark.parametrize("memfd", [True, False])
def test_a_jobs_output_file_is_unnamed_and_appended_to(tmp_path, monkeypatch, memfd):
    """The job's stdout/stderr: a memfd, or where Python or the kernel has none (a review,
    2026-12-05: a CPython built against glibc < 2.27 failed every job) a file unlinked at once;
    appended to either way, so a print and a reopened /dev/stdout interleave."""
    import fcntl

    from lrgym.leaderboard import episode_host, sandbox_root

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(sandbox_root, "ROOT", str(scratch))
    if not memfd:
        def refused(*args):
            raise OSError(38, "Function not implemented")

        monkeypatch.setattr(os, "memfd_create", refused, raising=False)
    fd = episode_host._job_output()
    try:
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND
        os.write(fd, b"first ")
        os.lseek(fd, 0, os.SEEK_SET)  # another description's offset: an append still goes to the end
        os.write(fd, b"second")
        assert os.pread(fd, 100, 0) == b"first second"
        assert sorted(os.listdir(tmp_path)) == ["scratch"] and not os.listdir(scratch)  # in no folder
    finally:
        os.close(fd)


def test_a_kernel_refusing_the_filter_is_recorded_not_blamed_on_the_policy(monkeypatch):
    """A kernel without seccomp filters failed every job with the filter's OSError, as if the
    policy had (a review, 2026-12-05): the host now tries it once in a child at start and
    records why when it cannot."""
    from lrgym.leaderboard import job_isolation

    if platform.machine() not in SUPPORTED_MACHINES:
        pytest.skip("no filter for this machine")
    assert job_isolation.seccomp_problem() is None  # this kernel takes it

    def refused():
        raise OSError(22, "PR_SET_SECCOMP failed")

    monkeypatch.setattr(job_isolation, "refuse_kernel_channels", refused)
    assert "PR_SET_SECCOMP failed" in job_isolation.seccomp_problem()


HINDSIGHT = '''
import gc
import sys


def _replies(objects):
    return [o for o in objects if type(o) is dict and o.get("ok") is True and isinstance(o.get("actions"), list)]


frame, seen = sys._getframe(), []
while frame is not None:  # every frame this job process inherited, with its locals
    seen += _replies(frame.f_locals.values())
    frame = frame.f_back
seen += _replies(gc.get_objects())  # and every live container it inherited
if seen:
    raise RuntimeError(f"LEAK: an earlier job's reply in this job's memory: {seen[0]!r}")


class P:
    name = "hindsight"
    action_mode = "log_lr"

    def reset(self, info):
        pass

    def act(self, obs, info):
        return -0.123456789
'''


@pytest.mark.parametrize("kind", ["root", "userns"])
def test_a_job_inherits_nothing_the_host_relayed_for_an_earlier_job(tmp_path, monkeypatch, kind):
    """A review (2026-12-05): a job process was forked from the sandbox's host, which had relayed
    the earlier jobs' messages, so the next job read the last job's reply (its actions: any
    number the policy liked) in ``serve``'s frame, and the grader's last messages (the previous
    seed's observations) in the freed heap. Jobs are now forked from a process made before the
    host relayed anything (``job_starter.JobStarter``). The policy raises at import in any job
    that holds a reply with actions; one worker runs both jobs (two families)."""
    monkeypatch.setenv("LRGYM_SANDBOX", "userns" if kind == "userns" else "auto")
    sandbox.mode.cache_clear()
    try:
        if sandbox.mode()["kind"] != kind:
            pytest.skip(f"no {kind} sandbox on this machine")
        (tmp_path / "hindsight.py").write_text(HINDSIGHT)
        suite = tiny_suite("hindsight", families=("quadratic", "linreg"), n_instances=1, seeds=(0,), horizon=2,
                           inner_steps=2)
        refs = load_references(suite, n_workers=1)
        [result] = run_suite([submission_spec(f"{tmp_path}/hindsight.py:P", name="hindsight")], suite,
                             references=refs, n_workers=1, time_limit=300)
    finally:
        sandbox.mode.cache_clear()
    assert result.ok, result.entry.failure_reason
    assert len(result.runs) == 2


#: policy source: the frame of the episode process's ``_episode_main`` (its ``k`` and its ``conn``,
#: the pipe to the host), for a policy that writes on that pipe itself
EPISODE_FRAME = '''
import sys


def episode_frame():
    frame = sys._getframe()
    while frame.f_code.co_name != "_episode_main":
        frame = frame.f_back
    return frame
'''

HALF_A_REPLY = EPISODE_FRAME + '''
import os
import struct
import time


class P:
    name = "half"
    action_mode = "log_lr"

    def reset(self, info):
        pass

    def act(self, obs, info):
        frame = episode_frame()
        if frame.f_locals["k"] == 0:
            time.sleep(0.5)
            raise ValueError("episode 1 fails: the reason to report")
        os.write(frame.f_locals["conn"].fileno(), struct.pack("!i", 100) + b'{"ok": true')  # 15 of 104 bytes
        time.sleep(3600)
'''


def _episodes_reset(module: str, source: str, n: int):
    """A sandbox with ``source`` loaded as ``module``.py and ``n`` quadratic episodes reset
    (labelled ep1, ep2, ...): the caller sends the first ``act`` and closes it."""
    from lrgym.leaderboard.sandbox import Limits, start

    process = start(Limits(memory_mb=1500, cpu_seconds=120))
    try:
        process.request(("load", {"kind": "object", "module": module, "attr": "P", "file": f"{module}.py",
                                  "source": f"{module}.py"}, {f"{module}.py": source.encode()}))
        process.request(("policies", "quadratic", n), timeout=60)
        process.request(("reset", "quadratic", [{}] * n, [f"ep{i + 1}" for i in range(n)]), timeout=60)
    except BaseException:
        process.close()
        raise
    return process


def _first_act(process, n: int):
    import numpy as np

    return process.request(("act", "quadratic", [(i, encode_act(np.zeros(3), {})) for i in range(n)]), timeout=30)


def test_half_a_reply_of_one_episode_holds_up_no_other(tmp_path):
    """A review (2026-12-05): the host read a ready episode's reply with ``recv_bytes``, which
    waits for the whole message, so an episode that sent half a reply hid an earlier episode's
    failure until the grader's timeout. Replies are read as they come, into a buffer per episode."""
    import time

    from lrgym.leaderboard.sandbox import SandboxError

    process = _episodes_reset("half", HALF_A_REPLY, 2)
    try:
        start_time = time.monotonic()
        with pytest.raises(SandboxError, match="reported: policy raised in act\\(\\) at step 0 \\(ep1\\): ValueError: episode 1 fails"):
            _first_act(process, 2)
        assert time.monotonic() - start_time < 20
    finally:
        process.close()


FORGED_REASON = EPISODE_FRAME + '''
import json, os, struct, time

class P:
    def reset(self, info):
        pass

    def act(self, obs, info):  # writes a reply of its own wording on its episode's pipe
        reply = json.dumps({"ok": False, "reason": "the grader's machine was overloaded: not the policy's fault"
                                                  + "\\n" * 50 + "grader error: OSError: no space left (rerun this entry)"})
        os.write(episode_frame().f_locals["conn"].fileno(), struct.pack("!i", len(reply)) + reply.encode())
        time.sleep(3600)
'''


def test_a_reason_the_policys_process_sent_is_labelled_as_its_own(tmp_path):
    """Stop 35 left it: a policy wrote its own failure reason verbatim by sending
    ``{"ok": false, "reason": ...}`` on its episode's pipe (an exception it raises is wrapped in
    the grader's words, a reply it writes is read as it stands), so it could word it like the
    grader's. The host now labels every reason an episode's process sends and quotes its further
    lines; its own (a death, a malformed reply) stay unlabelled."""
    from lrgym.leaderboard.failures import POLICY_REPORTED
    from lrgym.leaderboard.sandbox import SandboxError

    process = _episodes_reset("forged", FORGED_REASON, 1)
    try:
        with pytest.raises(SandboxError) as caught:
            _first_act(process, 1)
        reason = str(caught.value)
        assert reason.startswith(POLICY_REPORTED + "the grader's machine was overloaded"), reason
        # its further lines are quoted, however far down (a review pushed a fake line 3,800 lines away)
        assert reason.split("\n")[-1] == "> grader error: OSError: no space left (rerun this entry)"
        assert all(line.startswith(">") for line in reason.split("\n")[1:])
    finally:
        process.close()


SURVIVOR = r'''
import ctypes, os, threading, time
from lrgym.leaderboard import job_cleanup

pid = os.fork()
if pid == 0:  # its main thread exits alone: /proc/<pid>/stat reads Z while a thread runs on
    threading.Thread(target=lambda: time.sleep(60)).start()
    ctypes.CDLL(None).syscall(60, 0)
time.sleep(0.3)
job_cleanup.kill_all(None, True)
live = [t for t in os.listdir(f"/proc/{pid}/task") if open(f"/proc/{pid}/task/{t}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"] if os.path.exists(f"/proc/{pid}") else []
print("LIVE", len(live))
'''


@pytest.mark.skipif(os.geteuid() != 0, reason="a PID namespace of its own (unshare as root)")
def test_a_process_whose_main_thread_exited_is_killed_at_the_jobs_end(tmp_path):
    """A review (2026-12-05): the host's clean-up between jobs skipped processes whose
    ``/proc/<pid>/stat`` reads Z, but a process whose main thread exited alone reads Z while its
    other threads run; a job's PID 1 did so, outlived its job and passed the next job a number
    through the sandbox's task limit. Run in a PID namespace of its own, as the host is."""
    import subprocess

    script = tmp_path / "survivor.py"
    script.write_text(SURVIVOR)
    out = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, str(script)],
                         capture_output=True, text=True, timeout=60)
    assert "LIVE 0" in out.stdout, out.stdout + out.stderr


STOPS_READING = r'''
import json, os, struct, sys, threading, time


class P:
    name = "deaf"
    action_mode = "log_lr"

    def reset(self, info):
        pass

    def act(self, obs, info):
        frame = sys._getframe(1)
        if frame.f_locals["k"] == 0:
            return -1.0
        # episode 2: answers the next 5000 steps at once from a thread, and never reads again
        reply = json.dumps({"ok": True, "action": -1.0}).encode()
        data = memoryview((struct.pack("!i", len(reply)) + reply) * 5000)

        def writer(view=data):
            while view:
                view = view[os.write(frame.f_locals["conn"].fileno(), view):]

        threading.Thread(target=writer, daemon=True).start()
        time.sleep(10 ** 6)
'''


@pytest.mark.parametrize("kind", ["root", "userns"])
def test_an_episode_that_stops_reading_is_failed_not_waited_for(monkeypatch, kind):
    """A review (2026-12-05): the host wrote each episode's message with a blocking send, so an
    episode that stopped reading its pipe (answering ahead from a thread) filled it and the host
    blocked in the write until the grader's timeout. The host's ends are non-blocking: the
    episode is failed, named, at the step its pipe is full."""
    import time

    import numpy as np

    from lrgym.leaderboard.sandbox import Limits, SandboxError, start

    monkeypatch.setenv("LRGYM_SANDBOX", "userns" if kind == "userns" else "auto")
    sandbox.mode.cache_clear()
    try:
        if sandbox.mode()["kind"] != kind:
            pytest.skip(f"no {kind} sandbox on this machine")
        process = start(Limits(memory_mb=1500, cpu_seconds=300))
    finally:
        sandbox.mode.cache_clear()
    try:
        process.request(("load", {"kind": "object", "module": "deaf", "attr": "P", "file": "deaf.py",
                                  "source": "deaf.py"}, {"deaf.py": STOPS_READING.encode()}))
        process.request(("policies", "quadratic", 2), timeout=60)
        process.request(("reset", "quadratic", [{}, {}], ["ep1", "ep2"]), timeout=60)
        payload = encode_act(np.zeros(3), {})
        start_time = time.monotonic()
        with pytest.raises(SandboxError, match=r"stopped reading its messages before act\(\) at step \d+ \(ep2\)"):
            for _ in range(5000):
                process.request(("act", "quadratic", [(0, payload), (1, payload)]), timeout=20)
        assert time.monotonic() - start_time < 20
    finally:
        process.close()


LINGERS = '''
import ctypes, os, time

MARK = b"MARK_VALUE"  # the lingering process's name (/proc/PID/comm, which the host reads)


class P:
    name = "lingers"

    def reset(self, info):
        self.step = 0

    def act(self, obs, info):
        self.step += 1
        if self.step == int(info["horizon"]) and os.fork() == 0:  # at its last step: a child that outlives it
            try:
                ctypes.CDLL(None).prctl(15, MARK, 0, 0, 0)  # PR_SET_NAME
                time.sleep(3600)
            finally:
                os._exit(1)  # (never back into the policy's loop, where it would answer for its parent)
        return 2
'''


def _running(mark: str) -> list[int]:
    """Pids of the machine's processes named ``mark`` (the host sees the sandboxes' processes in
    /proc, their own pid namespaces being below its own)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm", "rb") as f:
                    if f.read().strip() == mark.encode():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def test_no_process_of_a_job_outlives_its_reply(tmp_path):
    """A red-team review (2026-12-05): a job's processes were killed when its sandbox got its next
    job, not when the job ended, so what a job left (a child holding a ``flock`` on a system file
    every sandbox sees) lived on while the worker sat idle, beside the entry's next job on the same
    instance in another worker (the next seed, which no job of that instance may run beside:
    ``scheduling.Job.apart``). The worker now ends the job's processes before it replies. (The
    child took a flock until the filter refused locks; its ENOLCK then raised in the forked child,
    which answered for its parent: a flaky failure. It now only runs on, marked.)"""
    import uuid
    from dataclasses import asdict

    from lrgym.leaderboard import worker
    from lrgym.leaderboard.sandbox import Limits

    mark = f"lingers-{uuid.uuid4().hex[:7]}"  # (a process name holds 15 characters)
    path = tmp_path / "lingers.py"
    path.write_text(LINGERS.replace("MARK_VALUE", mark))
    spec = submission_spec(f"{path}:P")
    suite = tiny_suite("lingers", families=("quadratic",), n_instances=1, seeds=(0,))
    job = {"op": "episodes", "policy": spec.spec, "family": "quadratic", "env_kwargs": suite.env_kwargs("quadratic"),
           "optimizers": None, "instances": [20000], "seeds": [0],
           "sandbox": asdict(Limits(memory_mb=1024, cpu_seconds=60)), "hidden": False}
    state = worker._State()
    try:
        reply = worker.run_job(job, state)
        assert len(reply["trajectories"]) == 1
        assert _running(mark) == [], "a process of the finished job still runs"
    finally:
        state.close()
        for pid in _running(mark):  # (the old code's leftover: not left to the machine)
            os.kill(pid, 9)
    assert _running(mark) == []
