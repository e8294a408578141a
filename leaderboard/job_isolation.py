"""What each job of a sandbox gets of its own (step 5 of :mod:`lrgym.leaderboard.policy_host`),
so that nothing an earlier job did is left for it to read.

In the job process, before anything of the policy runs (called by the job's waiter,
:mod:`lrgym.leaderboard.job_starter`):

* :func:`job_namespaces`: PID, mount, network and UTS namespaces of its own, with a fresh
  ``/proc``, ``/tmp`` (the submission's files written anew), ``/dev/shm`` and cache folder;
* :func:`enter_job`: its own output file as stdout and stderr, an IPC namespace of its own,
  every privilege dropped (:func:`lrgym.leaderboard.sandbox_privileges.drop_privileges`), and
  the kernel's key management, file locks and file watches (inotify, fanotify) refused (:func:`lrgym.leaderboard.seccomp.refuse_kernel_channels`).

In the pristine host: :func:`next_job_uid` draws each job's fresh uid in root's sandbox, and
:func:`seccomp_problem` checks once, at the start, that the kernel takes the seccomp filter.
:data:`JOB_SETUP` and :data:`KEEP_FOLDERS` are filled by
:func:`lrgym.leaderboard.policy_host.confine` and :func:`~lrgym.leaderboard.policy_host.main`.
"""

from __future__ import annotations

import os

from lrgym.leaderboard import sandbox_root
from lrgym.leaderboard.libc import c_library, ctypes_errno
from lrgym.leaderboard.policy_loading import write_files
from lrgym.leaderboard.sandbox_privileges import drop_privileges
from lrgym.leaderboard.sandbox_root import (JOB_STAGING, MS_BIND, MS_MOVE, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE,
                                            MS_RDONLY, MS_REC, MS_REMOUNT, bind, kept_flags, mount, mount_points)
from lrgym.leaderboard.seccomp import refuse_kernel_channels

__all__ = ["JOB_KEEP", "JOB_SETUP", "JOB_SHM", "KEEP_FOLDERS", "MASKED_PROC", "enter_job", "job_namespaces",
           "next_job_uid", "seccomp_problem"]

_CLONE_NEWNS, _CLONE_NEWPID, _CLONE_NEWNET, _CLONE_NEWUTS = 0x00020000, 0x20000000, 0x40000000, 0x04000000
#: files of a job's own ``/proc`` covered by an empty one: the key quota of every uid, dead jobs'
#: included (a job added keys to its user keyring and the next job read their count and bytes
#: there), and the keys a job may view
MASKED_PROC = ("key-users", "keys")
#: where in a job's ``/tmp`` its ``/dev/shm`` and Numba's cache folder (when it lies outside
#: ``/tmp``) live: one tmpfs, one size limit for all of them
JOB_SHM, JOB_KEEP = ".lrgym-shm", ".lrgym-keep"


#: the jobs' set-up in the namespaces: the first job's uid (None: user-namespace sandbox, no
#: uid to change to), the uids used so far, the sandbox's block ``(first uid, size)`` fresh ones
#: are drawn from
JOB_SETUP: dict = {"uid": None, "uids": set(), "range": None}


#: folders the sandbox made for the policy outside ``work`` (Numba's cache): fresh in every job
#: (:func:`job_namespaces`), a job's compiled cache is not a later job's (it could carry state)
KEEP_FOLDERS: list[str] = []


def next_job_uid() -> int | None:
    """A uid no earlier job of this sandbox had (the first job: the sandbox's own), None when
    there is none to change to (user-namespace sandbox). Drawn from the sandbox's own block
    (:data:`JOB_SETUP` ``range``: ``(first, size)``, claimed by the grader so that no other
    sandbox of the machine has it: :mod:`lrgym.leaderboard.sandbox_uids`); once every uid of the
    block has had a job, the uids of its ended jobs are drawn again (their processes all died with
    their PID namespaces)."""
    if not JOB_SETUP["uid"]:
        return None
    if JOB_SETUP["range"] is None or not JOB_SETUP.get("started"):
        JOB_SETUP["started"] = True
        return JOB_SETUP["uid"]
    first, size = JOB_SETUP["range"]
    if len(JOB_SETUP["uids"]) >= size:  # all had a job: any but the last one's again
        JOB_SETUP["uids"] = {JOB_SETUP["last"]} if "last" in JOB_SETUP else set()
    while True:
        uid = first + int.from_bytes(os.urandom(4), "little") % size
        if uid not in JOB_SETUP["uids"]:
            JOB_SETUP["uids"].add(uid)
            JOB_SETUP["last"] = uid
            return uid


def job_namespaces(files: dict[str, bytes], uid: int | None) -> None:
    """Give the job namespaces of its own, so that nothing an earlier job of this sandbox did is
    left for it to read (reviews, 2026-12-05: with a job per seed, the next job in a sandbox is
    usually the next seed of the same instances, and a job could leave it a number through the
    sandbox's pid counter, forking until its pids read the number, its files' inode numbers,
    the network namespace's counters, ``/proc/net/snmp``'s ``OutNoRoutes`` raised by failed
    sends, and the key quota ``/proc/key-users`` lists for its dead uid):

    * a **PID namespace**: this process forks, the child goes on as the job's process, PID 1 of
      the new namespace (its pids count from 1 in every job; it sees no process of the sandbox),
      and this process waits for it and ends as it ended (:func:`_end_as`);
    * a **network** and a **UTS namespace** (no interface up, as in the sandbox's; counters from 0);
    * a **mount namespace**, with ``/proc`` of the new PID namespace (read-only;
      :data:`MASKED_PROC` covered) and one fresh tmpfs of the sandbox's ``tmp_mb`` on ``/tmp``
      holding the submission's files, ``work`` and the read-only binds the sandbox has below
      ``/tmp`` (a checkout or venv there), of which a folder is bound on ``/dev/shm`` and one on
      Numba's cache folder where it lies outside ``/tmp``; owned by the job's ``uid``. A fresh
      tmpfs numbers its inodes from the start. (So the host never cleans a folder a job could
      write to: in the user-namespace sandbox a job could plant a link there.)

    Runs in the job's process as root of the sandbox, before anything of the policy; any failure
    is the job's (every episode's) reply."""
    libc = c_library()
    if libc.unshare(_CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWNET | _CLONE_NEWUTS) != 0:
        raise OSError(ctypes_errno(), "unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS) failed")
    child = os.fork()
    if child != 0:
        _end_as(child)
    mount("none", "/", None, MS_REC | MS_PRIVATE, None)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, None)
    for name in MASKED_PROC:
        target = f"/proc/{name}"
        if os.path.exists(target):
            mount("/dev/null", target, None, MS_BIND, None)
            mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(target), None)
    staging = JOB_STAGING  # made by new_root in the root, read-only since (seal_root)
    mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NODEV, f"size={JOB_SETUP['tmp_mb']}m,mode=1777")
    points = [p for p in mount_points(sandbox_root.ROOT) if p != sandbox_root.ROOT]
    for point in points:  # the outermost binds; bind brings the ones below along, read-only
        if not any(point.startswith(other + "/") for other in points):
            bind(point, staging + point[len(sandbox_root.ROOT):])
    mount(staging, sandbox_root.ROOT, None, MS_MOVE, None)
    shm = os.path.join(sandbox_root.ROOT, JOB_SHM)
    os.mkdir(shm)
    os.chmod(shm, 0o1777)
    bind(shm, "/dev/shm", read_only=False)
    own = [os.path.join(sandbox_root.ROOT, "work")]
    for k, folder in enumerate(KEEP_FOLDERS):
        if folder == sandbox_root.ROOT or folder.startswith(sandbox_root.ROOT.rstrip("/") + "/"):
            os.makedirs(folder, mode=0o700, exist_ok=True)
        else:  # outside /tmp: a folder of the job's tmpfs bound there
            inside = os.path.join(sandbox_root.ROOT, f"{JOB_KEEP}-{k}")
            os.mkdir(inside, 0o700)
            bind(inside, folder, read_only=False)
        own.append(folder)
    write_files(files, os.path.join(sandbox_root.ROOT, "submission"))
    os.makedirs(os.path.join(sandbox_root.ROOT, "work"), mode=0o700, exist_ok=True)
    if uid:  # what the job may write to: its uid's
        for path in [*own, *_tree(os.path.join(sandbox_root.ROOT, "submission"))]:
            os.lchown(path, uid, uid)
    os.chdir(os.path.join(sandbox_root.ROOT, "work"))


def _tree(top: str) -> list[str]:
    """``top`` and every file and folder below it (links not followed)."""
    found = [top]
    for folder, dirs, files in os.walk(top):
        found += [os.path.join(folder, n) for n in dirs + files]
    return found


def _end_as(child: int) -> None:
    """Wait for ``child`` and end as it ended (killed by the same signal, or its exit code), with
    every descriptor closed first: the job's pipes are then held by the job's processes only."""
    import signal

    os.closerange(3, 1 << 16)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:  # pragma: no cover
            continue
        except ChildProcessError:
            os._exit(1)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL, SIGSTOP: no handler to reset
            pass
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def seccomp_problem() -> str | None:
    """Why this kernel refuses the jobs' seccomp filter, or None: a child sets
    ``PR_SET_NO_NEW_PRIVS``, installs it and exits (a kernel without ``CONFIG_SECCOMP_FILTER``
    would otherwise fail every job, as if the policy had). Recorded with the entry."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the probe
        os.close(read)
        try:
            if c_library().prctl(38, 1, 0, 0, 0) != 0:
                raise OSError(ctypes_errno(), "PR_SET_NO_NEW_PRIVS failed")
            refuse_kernel_channels()
            message = b""
        except OSError as exc:
            message = str(exc).encode()[:500] or b"refused"
        os.write(write, message)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        message = f.read(1000)
    os.waitpid(pid, 0)
    return message.decode(errors="replace") or None


def enter_job(uid: int | None, namespaces: bool, out_fd: int | None) -> None:
    """In the job process, before the policy's module is imported: its stdout and stderr become
    the job's own output file, and in the namespaces it gets an IPC namespace of its own (System
    V objects and POSIX message queues die with the job) and drops every privilege, as ``uid``
    (a fresh one per job) in root's sandbox, as root of the user namespace without any
    capability otherwise; then the kernel's key management, file locks and file watches are refused to
    it and to all it forks
    (:func:`lrgym.leaderboard.seccomp.refuse_kernel_channels`)."""
    if out_fd is not None:
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
    if not namespaces:
        return
    libc = c_library()
    if libc.unshare(0x08000000) != 0:  # CLONE_NEWIPC
        raise OSError(ctypes_errno(), "unshare(CLONE_NEWIPC) failed")
    drop_privileges(uid)
    if JOB_SETUP.get("seccomp"):  # keys outlive jobs; locks and watches reach other sandboxes (lrgym.leaderboard.seccomp)
        refuse_kernel_channels()
    if not uid:  # same uid as before (root of the user namespace): dumpable again, as it was
        libc.prctl(4, 1, 0, 0, 0)
