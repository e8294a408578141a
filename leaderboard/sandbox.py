"""Start and talk to the sandboxed policy process (:mod:`lrgym.leaderboard.policy_host`).

What the sandbox gives, by how the grader runs (see the README's threat model):

===============================  ==================  ===================  ====================
                                 root (CI, hosted)   ordinary user        no ``unshare``
===============================  ==================  ===================  ====================
own PID namespace: whole tree    yes                 yes (user ns)        no: process group
killed, own-session children too                                         and PDEATHSIG; at
                                                                         close every process
                                                                         below the worker,
                                                                         group and all
no network                       yes                 yes                  no
read-only file system, fresh     yes                 yes                  fresh temp dir only
tmpfs ``/tmp``, grader folders                                           (nothing is masked)
masked (:func:`masked_dirs`)
its scratch space capped at      yes (tmpfs size)    yes (tmpfs size)     its folder only: measured
``tmp_mb``                                                               (:class:`PolicyProcess`)
unprivileged uid (cannot read    yes (a private uid  no (same uid, no     no
the store, refs, other entries)  per sandbox)        capabilities)
resource limits                  yes                 yes                  yes
processes and threads bounded    yes: RLIMIT_NPROC   RLIMIT_NPROC (Linux  no: the grader's uid
(``processes``)                  of its private uid  5.14+), pid_max of   runs other processes
                                                     its PID ns (6.14+)
memory limit for the whole        cgroup of its own   only in v2's root   as root: cgroup;
sandbox (children, shared memory  (v1; v2 only in     cgroup; else per    else per process
included: :class:`SandboxCgroup`) the root cgroup)    process             (RLIMIT_AS)
CPU-time limit for the whole      the same cgroup     the same cgroup;    the same cgroup;
sandbox (all its processes, the   (v2 ``cpu.stat``,   else per process    else per process
ended ones included)              v1 ``cpuacct``)     (RLIMIT_CPU)        (RLIMIT_CPU)
===============================  ==================  ===================  ====================

How processes are bounded, and why not otherwise: :func:`lrgym.leaderboard.sandbox_privileges.bound_processes`.

``unshare`` (util-linux) is on every Linux this project targets; when it cannot create the
namespaces the grader says so (:func:`mode`) and either refuses (``LRGYM_SANDBOX=require``) or
falls back with a warning that is stored with the entry. As root, ``require`` also refuses to
run policies without their private uid (the Python installation not readable by other users, or
root's namespaces not permitted): root of a user namespace reads every root-only file of the
system folders. ``LRGYM_SANDBOX=userns`` gives root the
ordinary user's sandbox (to test it), ``LRGYM_SANDBOX=off`` the weakest one.

The process is started in its own session with ``PR_SET_PDEATHSIG``: if the grader dies, the
sandbox dies, and with its PID 1 every process in it.

This module is the grader's side and its map (the sandboxed side's map is
:mod:`lrgym.leaderboard.policy_host`); each module imports only those listed after it:

* here: which sandbox this machine gives (:func:`mode`, ``$LRGYM_SANDBOX``: :func:`setting`),
  the running host (:class:`PolicyProcess`: started, asked, its limits checked while it waits,
  ended with everything it started) and :func:`start`;
* :mod:`lrgym.leaderboard.host_start`: what the host is started with (``unshare``'s flags, its
  environment, ``PR_SET_PDEATHSIG``, its root's contents and the folders masked in it);
* :mod:`lrgym.leaderboard.sandbox_cgroup`: the cgroup that bounds the whole sandbox's memory,
  processes and CPU time (:class:`~lrgym.leaderboard.sandbox_cgroup.SandboxCgroup`), and which of
  those bounds this machine gives;
* :mod:`lrgym.leaderboard.sandbox_folders`: without namespaces the scratch folder measured against
  ``tmp_mb``; the grader's folders of a sandbox removed, whatever the policy did to them;
* :mod:`lrgym.leaderboard.mountinfo` (the cgroup mounts' escapes; shared with the sandboxed side)
  and :mod:`lrgym.leaderboard.libc` (the C library).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection, wait

from lrgym.leaderboard.failures import quoted
from lrgym.leaderboard.host_start import (machine_pid_max, masked_dirs, pdeathsig, reshown_dirs, root_contents,
                                           sandbox_env, unshare_flags)
from lrgym.leaderboard.libc import c_library
from lrgym.leaderboard.sandbox_cgroup import OOM_CHECK_SECONDS, SandboxCgroup, cpu_bound, make_cgroup, memory_bound
from lrgym.leaderboard.sandbox_folders import SCRATCH_CHECK_SECONDS, folder_bytes, free_bytes, remove_folder
from lrgym.leaderboard.sandbox_uids import UID_BASE, UID_SPAN, UidBlock, claim_block  # noqa: F401 - UID_* as before
from lrgym.leaderboard.text import clean

__all__ = ["Limits", "PolicyProcess", "SandboxError", "mode", "start"]

#: largest reply a policy may send (an action is a few bytes)
MAX_REPLY_BYTES = 64 * 1024
STDERR_TAIL_LINES = 20
STDERR_TAIL_CHARS = 2000


class SandboxError(Exception):
    """The policy process failed, died or broke the protocol; ``str`` is the recorded reason."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one policy process."""

    memory_mb: float | None = 4096.0  # the sandbox's cgroup, where it has one; each process's address space (RLIMIT_AS)
    cpu_seconds: float | None = None  # CPU time: of the sandbox's cgroup, where it counts CPU; each process's (RLIMIT_CPU)
    open_files: int = 256  # RLIMIT_NOFILE
    file_mb: int = 64  # largest file it may write, its stdout/stderr included (RLIMIT_FSIZE)
    tmp_mb: int = 256  # size of its tmpfs /tmp; without namespaces, what its scratch folder may hold
    processes: int = 256  # its processes and threads (how, by sandbox: sandbox_privileges.bound_processes)


def _readable_by_others(path: str) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return bool(mode & stat.S_IROTH and mode & stat.S_IXOTH)


#: the values of ``$LRGYM_SANDBOX`` (``auto`` when unset)
SETTINGS = ("auto", "require", "off", "userns")


def setting() -> str:
    """``$LRGYM_SANDBOX`` (``auto`` when unset); ``ValueError`` naming it and :data:`SETTINGS` otherwise."""
    value = os.environ.get("LRGYM_SANDBOX", "auto")
    if value not in SETTINGS:
        raise ValueError(f"LRGYM_SANDBOX={value!r} invalid; valid choices: {', '.join(SETTINGS)}")
    return value


@functools.lru_cache(maxsize=1)
def mode() -> dict:
    """How policies are confined on this machine: ``{"kind": "root" | "userns" | "none",
    "uid_drop": bool, "note": str, "memory_bound": str, "cpu_bound": str}`` (probed once per
    process; the memory and CPU bounds, :func:`~lrgym.leaderboard.sandbox_cgroup.memory_bound` and
    :func:`~lrgym.leaderboard.sandbox_cgroup.cpu_bound`, warn once
    where no cgroup can be made)."""
    setting_ = setting()
    root = os.geteuid() == 0
    # userns: what an ordinary user gets, also when running as root (to test that path)
    kinds = [] if setting_ == "off" else (["root", "userns"] if root and setting_ != "userns" else ["userns"])
    if shutil.which("unshare") is None:
        kinds = []
    for kind in kinds:
        try:
            ok = subprocess.run(unshare_flags(kind == "userns") + ["true"], capture_output=True,
                                timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if not ok:
            continue
        note = ""
        uid_drop = kind == "root"
        if uid_drop:
            hidden = [p for p in root_contents()[0] if not _readable_by_others(p)]
            if hidden:
                uid_drop = False
                note = (f"{hidden[0]} is not readable by other users: the policy runs as root of a user "
                        "namespace without capabilities instead of an unprivileged uid; make the Python "
                        "installation and the packages readable by all (chmod o+rX)")
                kind = "userns"
        if root and not uid_drop and setting_ == "require":
            # root of a user namespace, uid 0 outside: it reads every root-only file of the bound
            # system folders (/etc/shadow, SSH host keys), so not what a hosted grader requires
            raise SandboxError("LRGYM_SANDBOX=require but the policy would not run as an unprivileged uid: "
                               + (note or "root's own namespaces (unshare as root) are not permitted here"))
        return {"kind": kind, "uid_drop": uid_drop, "note": note, "memory_bound": memory_bound()["note"],
                "cpu_bound": cpu_bound()["note"]}
    why = "LRGYM_SANDBOX=off" if setting_ == "off" else "unshare missing or not permitted"
    note = (f"no namespaces ({why}): the policy runs in a fresh temp dir with "
            "resource limits only; it can reach what the grader's user can")
    if setting_ == "require":
        raise SandboxError(f"LRGYM_SANDBOX=require but {note}")
    return {"kind": "none", "uid_drop": False, "note": note, "memory_bound": memory_bound()["note"],
            "cpu_bound": cpu_bound()["note"]}


#: why a private suite's submission is graded only in namespaces (the words of every refusal)
PRIVATE_NEEDS_NAMESPACES = (
    "a private suite's submissions are graded only in the namespaces sandbox ({why}): without it the policy "
    "runs as the grader's user and can read the key and its references (KEYFILE.references/), the hidden "
    "suite's answers; valid: a machine where unshare works, with LRGYM_SANDBOX unset, auto or require (a "
    "container allowed to make namespaces), or a public suite (--suite) to test the policy")


def private_refusal(here: bool = True) -> str | None:
    """Why a private suite's submission may not be graded, or None.

    Without namespaces (``LRGYM_SANDBOX=off``, or ``auto`` where ``unshare`` is not permitted, which
    goes on with a warning) a policy is the grader's user: an audit's (2026-12-06) found ``--private
    KEYFILE`` in the grader's ``/proc/<pid>/cmdline``, read ``KEYFILE.references/`` and acted at every
    hidden run's reference LR (family IQM 1.000). ``here=False`` judges the setting only: a Ray
    driver's, whose nodes each judge their own sandbox when a job starts (:func:`start`). A bad
    setting raises ``ValueError``, ``require`` where it cannot be met :class:`SandboxError`."""
    off = setting() == "off"
    if not off and not (here and mode()["kind"] == "none"):
        return None
    why = "LRGYM_SANDBOX=off" if off else "no namespaces on this machine: unshare is missing or not permitted"
    return PRIVATE_NEEDS_NAMESPACES.format(why=why)


def death_reason(code: int | None, who: str = "policy process") -> str:
    """Why a process ended, from its exit code (a shell-style 128 + n is signal n)."""
    if code is None:
        return f"{who} died"
    sig = -code if code < 0 else (code - 128 if 128 < code < 128 + 65 else None)
    if sig:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        hint = {"SIGKILL": " (out of memory or killed)", "SIGXCPU": " (CPU time limit)",
                "SIGXFSZ": " (output size limit)", "SIGSEGV": " (segmentation fault)"}.get(name, "")
        return f"{who} died: killed by {name}{hint}"
    return f"{who} died: exit code {code}"


class PolicyProcess:
    """One running policy host: :meth:`request` sends a message and returns the reply dict.

    Without namespaces (``mode()["kind"] == "none"``) the policy works in ``scratch``, a folder
    inside the grader's private one, and no tmpfs bounds what it writes there: the grader
    measures it (:func:`~lrgym.leaderboard.sandbox_folders.folder_bytes`) every
    :data:`~lrgym.leaderboard.sandbox_folders.SCRATCH_CHECK_SECONDS`, at a reply or while
    it waits (not after every reply: a walk of a cache of a few hundred files costs more than a
    step), and at once when its file system lost more free space than the folder had left
    (a burst), and ends the policy, removing the folder, as soon as it holds more than
    ``limits.tmp_mb`` or cannot be measured."""

    scratch: str | None = None
    #: the sandbox's cgroup (:class:`~lrgym.leaderboard.sandbox_cgroup.SandboxCgroup`), None where none
    #: can be made
    cgroup: "SandboxCgroup | None" = None
    #: root's sandbox: the uids its jobs run as, claimed for as long as it runs
    #: (:mod:`lrgym.leaderboard.sandbox_uids`), None elsewhere
    uid_block: "UidBlock | None" = None
    _oom_checked: float = float("-inf")
    #: (when the scratch folder was last measured, the file system's free bytes then, what the
    #: folder had left below its cap then); never measured yet
    _measured: tuple[float, int | None, int] = (float("-inf"), None, 0)

    def __init__(self, limits: Limits, sandbox_mode: dict | None = None, start_timeout: float = 120.0):
        self.mode = dict(sandbox_mode or mode())
        self.limits = limits
        self._private = tempfile.mkdtemp(prefix="lrgym-grader-")  # the grader's; 0700
        self.process = self.commands = self.replies = None
        try:
            self.cgroup, why = make_cgroup(limits.memory_mb, limits.processes, limits.cpu_seconds)
            self.memory = (self.cgroup.describe() if self.cgroup is not None else
                           f"address space of each process only (RLIMIT_AS, {limits.memory_mb:g} MB): {why}"
                           if limits.memory_mb else "none")
            if not limits.cpu_seconds:
                self.cpu = "none"
            elif self.cgroup is not None and self.cgroup.cpu_file is not None:
                self.cpu = self.cgroup.describe_cpu()
            else:
                why = why if self.cgroup is None else f"cgroup v{self.cgroup.version} without CPU accounting"
                self.cpu = (f"CPU time of each process only (RLIMIT_CPU, {limits.cpu_seconds:g} s; every episode "
                            f"process and every child has the whole budget): {why}")
            self._start(start_timeout)
        except BaseException:  # a sandbox that did not start leaves no process and no folder
            self.close()
            raise

    def _start(self, start_timeout: float) -> None:
        uid = None
        if self.mode["uid_drop"]:  # a block of uids no other sandbox of this machine has while this one runs
            try:
                self.uid_block = claim_block()
            except OSError as exc:
                raise SandboxError(f"no private uid for the policy: {exc}") from None
            uid = self.uid_block.first
        self.output_path = os.path.join(self._private, "policy-output.txt")
        out = os.open(self.output_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        cmd_r, cmd_w = os.pipe()
        rep_r, rep_w = os.pipe()
        kind = self.mode["kind"]
        if kind == "none":  # no private /tmp: a folder of the grader's, measured (see the class)
            self.scratch = os.path.join(self._private, "scratch")
            os.mkdir(self.scratch, 0o700)
            work = os.path.join(self.scratch, "work")
            numba_cache = os.path.join(work, ".numba")
        else:
            # Numba checks that its cache is writable when lrgym is imported, before the host is
            # confined: a folder of the grader's (a fixed /tmp/work was made in the machine's /tmp,
            # and an ordinary user's sandbox could not start when another user's was there); the
            # host makes the same path in its private root (policy_host.confine)
            work, numba_cache = "/tmp/work", os.path.join(self._private, "numba")
        prefix = [] if kind == "none" else unshare_flags(kind == "userns")
        group = self.cgroup
        set_pdeathsig = pdeathsig()  # its C function looked up now, not in the child

        def preexec() -> None:  # pragma: no cover - in the child, before exec: nothing of it runs outside
            set_pdeathsig()
            if group is not None:
                group.join()

        argv = prefix + [sys.executable, "-m", "lrgym.leaderboard.policy_host", str(cmd_r), str(rep_w)]
        try:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, pass_fds=(cmd_r, rep_w),
                env=sandbox_env(work, numba_cache), cwd="/", close_fds=True, start_new_session=True,
                preexec_fn=preexec,
            )
        except BaseException:
            os.close(cmd_w)
            os.close(rep_r)
            raise
        finally:
            for fd in (cmd_r, rep_w, out):
                os.close(fd)
        _OPEN_HOSTS.add(self.process.pid)
        self.commands = Connection(cmd_w, readable=False)
        self.replies = Connection(rep_r, writable=False)
        new_root = os.path.join(self._private, "root")
        os.mkdir(new_root)
        paths, links = root_contents()
        # without namespaces there is no private root, and nothing can be masked (see the README)
        masked = masked_dirs(paths) if kind != "none" else []
        cfg = {"namespaces": kind != "none", "uid": uid, "new_root": new_root, "paths": paths, "links": links,
               "masked": masked, "reshown": reshown_dirs(masked), "scratch": self.scratch,
               "numba_cache": numba_cache,
               "uid_range": [self.uid_block.first, self.uid_block.size] if self.uid_block is not None else None,
               "machine_pid_max": machine_pid_max(), **asdict(self.limits)}
        self.applied = {**self.request(cfg, timeout=start_timeout)["sandbox"], "memory": self.memory, "cpu": self.cpu}

    def request(self, msg, timeout: float | None = None) -> dict:
        """Send ``msg`` (pickled), return the decoded reply; raises :class:`SandboxError` if
        the process died, broke the protocol, replied ``{"ok": false}`` or (without namespaces)
        filled its scratch folder past ``limits.tmp_mb``."""
        try:
            self.commands.send(msg)
        except (BrokenPipeError, OSError):
            raise SandboxError(self._died()) from None
        self._wait_reply(timeout)
        try:
            raw = self.replies.recv_bytes(MAX_REPLY_BYTES)
        except EOFError:
            raise SandboxError(self._died()) from None
        except OSError:  # a message above the limit (or garbage that claims to be one)
            raise SandboxError(f"the policy process sent a reply larger than {MAX_REPLY_BYTES} bytes "
                               "(protocol violated)") from None
        try:
            reply = json.loads(raw.decode("utf-8"))  # decoded here: json.loads would look up a codec for bytes
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
            reply = None
        if not isinstance(reply, dict):
            raise SandboxError("malformed reply from the policy process (protocol violated)")
        if not reply.get("ok"):
            self._check_cgroup(force=True)
            raise SandboxError(clean(str(reply.get("reason", "unknown failure")))[:4000] + self._tail_note())
        self._check_cgroup()
        return reply

    def _check_cgroup(self, force: bool = False) -> None:
        """End the sandbox with a reason naming the memory limit once the OOM killer has killed
        any of its processes (its cgroup went over ``limits.memory_mb``), or naming the CPU-time
        limit once its processes together used more than ``limits.cpu_seconds`` of CPU (where
        the group counts it); read at most every
        :data:`~lrgym.leaderboard.sandbox_cgroup.OOM_CHECK_SECONDS` unless ``force`` (the sandbox
        failed: why)."""
        if self.cgroup is None or (not force and time.monotonic() < self._oom_checked + OOM_CHECK_SECONDS):
            return
        self._oom_checked = time.monotonic()
        kills = self.cgroup.oom_kills() if self.limits.memory_mb else 0
        if kills:
            peak = self.cgroup.peak_mb()
            tail = self._tail_note()  # before close() removes the output file with the private folder
            self.close()
            raise SandboxError(
                f"the policy went over its memory limit of {self.limits.memory_mb:g} MB (memory of the whole "
                f"sandbox: all its processes, shared memory included{'' if peak is None else f'; peak {peak:.0f} MB'}): "
                f"the kernel's OOM killer killed {kills} of its processes" + tail)
        limit = self.limits.cpu_seconds
        used = self.cgroup.cpu_used() if limit else None
        if used is not None and used > limit:
            tail = self._tail_note()
            self.close(grace=0)  # every moment it lives it burns more
            raise SandboxError(
                f"the policy went over its CPU time limit of {limit:g} s (CPU time of the whole sandbox: all its "
                f"processes together, ended ones included): it used {used:.2f} s" + tail)

    def _wait_reply(self, timeout: float | None) -> None:
        """Wait until a reply can be read (or the process ended), at most ``timeout`` seconds;
        the scratch folder is measured meanwhile and once the reply is there, when due
        (:meth:`_scratch_due`)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if self.scratch is not None:  # wake up when the folder is next due to be measured
                due = max(0.0, self._measured[0] + SCRATCH_CHECK_SECONDS - time.monotonic())
                left = due if left is None else min(left, due)
            if self.cgroup is not None:  # wake up to see whether it went over its memory or CPU time
                left = OOM_CHECK_SECONDS if left is None else min(left, OOM_CHECK_SECONDS)
            ready = wait([self.replies], left)
            if self.scratch is not None:
                self._check_scratch()
            if not ready:
                self._check_cgroup()
            if ready:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise SandboxError(f"the policy process did not answer within {timeout:g} s")

    def _scratch_due(self) -> bool:
        """Whether the scratch folder is to be measured now:
        :data:`~lrgym.leaderboard.sandbox_folders.SCRATCH_CHECK_SECONDS` after
        the end of the last measure, or at once when its file system has lost more free space
        since then than the folder had left below its cap (it may be over: a burst). The free
        space is a sign only (others write to that file system too, and empty files take none):
        the period bounds how long anything goes unmeasured."""
        measured_at, free_then, left = self._measured
        if time.monotonic() >= measured_at + SCRATCH_CHECK_SECONDS:
            return True
        free = free_bytes(self.scratch)
        return free is None or free_then is None or free_then - free > left

    def _check_scratch(self) -> None:
        """When due (:meth:`_scratch_due`), measure the scratch folder; end the policy if it holds
        more than ``limits.tmp_mb`` or cannot be measured (a folder it made unreadable)."""
        if not self._scratch_due():
            return
        cap = int(self.limits.tmp_mb) << 20
        free = free_bytes(self.scratch)  # before the walk: what is written during it counts later
        try:
            used = folder_bytes(self.scratch, cap)
        except OSError as exc:
            name = exc.filename if isinstance(exc.filename, str) else ""
            name = clean(os.path.relpath(name, self.scratch) if name.startswith(self.scratch) else ".",
                         keep_newlines=False)[:200]  # the policy's own name, not the grader's path
            self.close()  # stop it now; its folder is removed
            raise SandboxError(f"the policy made its scratch folder impossible to measure ({exc.strerror}: {name}), "
                               f"which counts as more than its {self.limits.tmp_mb} MB (tmp_mb: the size of the "
                               "sandbox's /tmp, a limit of its own without namespaces)") from None
        self._measured = (time.monotonic(), free, cap - used)
        if used > cap:
            self.close()  # stop the writing now; its folder is removed
            raise SandboxError(f"the policy wrote more than {self.limits.tmp_mb} MB into its scratch folder "
                               "(tmp_mb: the size of the sandbox's /tmp, a limit of its own without namespaces)")

    def _died(self) -> str:
        try:
            code = self.process.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        self._check_cgroup(force=True)
        return death_reason(code) + self._tail_note()

    def output_tail(self) -> str:
        """The last lines the policy wrote to stdout / stderr (control characters removed)."""
        try:
            with open(self.output_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 16 * STDERR_TAIL_CHARS))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        lines = clean(text).splitlines()[-STDERR_TAIL_LINES:]
        return "\n".join(lines)[-STDERR_TAIL_CHARS:]

    def _tail_note(self) -> str:
        tail = self.output_tail()
        return f"\n--- last lines of the policy's output ---\n{quoted(tail)}" if tail.strip() else ""

    def close(self, grace: float = 2.0) -> None:
        """End the policy and everything it started: its command pipe is closed (the host
        returns, PID 1 exits and the kernel kills the rest of the namespace; everyone is reaped,
        so its CPU time is accounted to the grader); after ``grace`` seconds, SIGKILL."""
        for conn in (self.commands, self.replies):
            try:
                if conn is not None:
                    conn.close()
            except OSError:
                pass
        if self.process is None:  # it never started
            self._remove_cgroup()
            self._release_uids()
            remove_folder(self._private)
            return
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.process.kill()
            except ProcessLookupError:
                pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        _OPEN_HOSTS.discard(self.process.pid)
        if self.mode["kind"] == "none":
            _kill_orphans(spare=frozenset(_OPEN_HOSTS))
        self._remove_cgroup()
        self._release_uids()
        remove_folder(self._private)

    def _release_uids(self) -> None:
        """Its uid block free for another sandbox, once its processes ended (or never started)."""
        if self.uid_block is not None:
            self.uid_block.release()

    def _remove_cgroup(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


#: how long :func:`_kill_orphans` goes on killing what a policy left without namespaces
ORPHANS_KILL_SECONDS = 10.0
#: the host processes of this process's open sandboxes (:class:`PolicyProcess`): spared, with
#: everything below them, when another sandbox's clean-up kills what is below this process
_OPEN_HOSTS: set[int] = set()


def _descendants(spare=frozenset()) -> tuple[dict[int, tuple[int, bool]], set[int]]:
    """Every process below this one (from ``/proc``'s parent links) but the processes ``spare``
    and those below them: its process group and whether it has ended (a zombie, for its parent
    to reap); and the process groups of the spared ones."""
    children: dict[int, list[tuple[int, int, bool]]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                state, ppid, pgid = f.read().rsplit(b")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        children.setdefault(int(ppid), []).append((int(name), int(pgid), state in (b"Z", b"X")))
    found: dict[int, tuple[int, bool]] = {}
    spared_groups: set[int] = set()
    todo = [(os.getpid(), False)]
    while todo:
        parent, spared = todo.pop()
        for pid, pgid, ended in children.get(parent, ()):
            below_spared = spared or pid in spare
            if below_spared:
                spared_groups.add(pgid)
            elif pid not in found:
                found[pid] = (pgid, ended)
            todo.append((pid, below_spared))
    return found, spared_groups


def _kill_orphans(spare=frozenset()) -> None:
    """Fallback without PID namespaces: this process is a child subreaper, so everything a
    policy started ends up below it; kill every process below it, and each one's process group,
    until none is left (at most :data:`ORPHANS_KILL_SECONDS`), reaping them. The host processes
    ``spare`` (another sandbox of this process, still open: a worker keeps one per policy it
    grades), what runs below them and their process groups are left alone.

    A process group is killed whole at once (the kernel lets no member fork past the signal), so
    a policy's processes that hop from pid to pid (fork, the parent exits, the child goes on) die
    with their group however fast they hop. Killing pids one by one, 20 times 10 ms apart, lost
    that race: 30 such processes of a red-team probe (2026-12-07) outlived their sandbox every
    time, as the grader's user, and ended as orphans of the machine's init; and it killed every
    child of this process, so closing one sandbox (a submission whose load failed) killed
    another submission's open sandbox in the same worker, failing that innocent entry at its
    next request (``tests/leaderboard/test_sandbox_orphans.py``)."""
    own_group = os.getpgrp()
    deadline = time.monotonic() + ORPHANS_KILL_SECONDS
    while True:
        found, spared_groups = _descendants(spare)
        groups = {pgid for pgid, _ in found.values()} - spared_groups - {0, 1, own_group}  # a zombie's too
        for target in [-pgid for pgid in groups] + [pid for pid, (_, ended) in found.items() if not ended]:
            try:
                os.kill(target, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in found:  # this process's own children among them (the others are their parents' to reap)
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        if all(ended for _, ended in found.values()) or time.monotonic() > deadline:
            return
        time.sleep(0.001)


def become_subreaper() -> None:
    """``PR_SET_CHILD_SUBREAPER`` (used by the fallback without namespaces)."""
    try:
        c_library().prctl(36, 1, 0, 0, 0)
    except Exception:  # pragma: no cover - non-Linux
        pass


def start(limits: Limits, namespaces_only: bool = False) -> PolicyProcess:
    """A new policy host under the strongest confinement this machine allows (:func:`mode`);
    ``namespaces_only`` (a private suite's job) refuses where that is no namespaces
    (:func:`private_refusal`: a Ray node, or a direct ``run_suite``, the CLI's checks did not see)."""
    if namespaces_only and (refusal := private_refusal()):
        raise SandboxError(refusal)
    if mode()["kind"] == "none":
        become_subreaper()
    return PolicyProcess(limits)
