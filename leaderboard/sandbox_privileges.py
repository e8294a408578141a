"""What the sandbox's processes may do (step 3 of :mod:`lrgym.leaderboard.policy_host`): resource
limits, the bound on their processes, and privileges kept or dropped.

* the host sets the resource limits (:func:`set_limits`: core dumps, open files, file size,
  CPU time) and bounds the policy's processes and threads (:func:`bound_processes`, the way
  depending on the sandbox: root's, an ordinary user's, none);
* in the namespaces the pristine host keeps the privileges setting up a job needs
  (:func:`keep_host_privileges`: non-dumpable, every other capability out of its bounding set,
  ``PR_SET_NO_NEW_PRIVS``);
* each job process drops them all before the policy is imported (:func:`drop_privileges`: a
  fresh uid in root's sandbox, no capability as root of a user namespace; called by
  :func:`lrgym.leaderboard.job_isolation.enter_job`).

``resource`` and ``ctypes`` are imported where they are used, as before the move of these
functions out of :mod:`lrgym.leaderboard.policy_host`.
"""

from __future__ import annotations

import os

from lrgym.leaderboard.libc import c_library, ctypes_errno

__all__ = ["PID_MAX", "RESERVED_PIDS", "bound_processes", "drop_privileges", "keep_host_privileges", "set_limits"]


def _cap(kind: int, value) -> None:
    """Set the resource limit ``kind`` to ``value`` (soft and hard), never above its hard limit."""
    import resource

    value = int(value)
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def set_limits(cfg: dict) -> None:
    import resource

    _cap(resource.RLIMIT_CORE, 0)
    _cap(resource.RLIMIT_NOFILE, cfg["open_files"])
    _cap(resource.RLIMIT_FSIZE, cfg["file_mb"] * 1024 * 1024)
    if cfg.get("cpu_seconds"):
        _cap(resource.RLIMIT_CPU, max(1, int(cfg["cpu_seconds"] + 0.999)))


#: pids below this are skipped once a PID namespace's numbers wrap (the kernel's RESERVED_PIDS)
RESERVED_PIDS = 300
PID_MAX = "/proc/sys/kernel/pid_max"


def _kernel_at_least(major: int, minor: int) -> bool:
    import re

    found = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return bool(found) and (int(found[1]), int(found[2])) >= (major, minor)


def _outside_uid() -> int | None:
    """The uid outside its user namespace this process's uid is, None in the machine's own."""
    try:
        with open("/proc/self/uid_map") as f:
            rows = [tuple(map(int, line.split())) for line in f if line.strip()]
    except (OSError, ValueError):
        return None
    if rows == [(0, 0, 2**32 - 1)]:  # the initial user namespace
        return None
    uid = os.getuid()
    return next((outside + uid - inside for inside, outside, count in rows if inside <= uid < inside + count), None)


def bound_processes(cfg: dict) -> str:
    """Bound how many processes (and threads: both are tasks) the policy may have; returns how,
    recorded with the entry. Called as root of the namespaces, before
    :func:`lrgym.leaderboard.sandbox_root.new_root`.

    * root's sandbox: ``RLIMIT_NPROC`` of its private uid, which nothing else uses;
    * the user-namespace sandbox: its uid outside is the grader's, whose other processes a plain
      ``RLIMIT_NPROC`` would count, and root outside is exempt from it. Two bounds, each where
      the kernel offers it: ``RLIMIT_NPROC``, which since Linux 5.14 counts the processes of a
      user namespace apart (not for root outside); and the PID namespace's own ``pid_max``
      (Linux 6.14) of ``RESERVED_PIDS + processes``: pids wrap to ``RESERVED_PIDS``, so it holds
      at least ``processes`` tasks and fewer than ``RESERVED_PIDS + processes``. On an older
      kernel that file is the machine's, which root outside could write: it is written only when
      the policy's uid outside is not root (the kernel then refuses the machine's) or when its
      value differs from the machine's (``machine_pid_max``, read by the grader), which proves it
      is the namespace's own;
    * without namespaces: none (the grader's user may run other processes); the process group,
      the subreaper and the time limit end them.
    """
    import resource

    n = int(cfg.get("processes") or 0)
    if not cfg.get("namespaces") or n <= 0:
        return "not bounded (no namespaces: ended by process group and time limit)"
    if cfg.get("uid"):
        _cap(resource.RLIMIT_NPROC, n)
        return f"RLIMIT_NPROC {n} of its private uid"
    bounds, outside = [], _outside_uid()
    try:
        with open(PID_MAX) as f:
            own = int(f.read())
    except (OSError, ValueError):
        own = None
    machine = cfg.get("machine_pid_max")
    if own is not None and (outside not in (None, 0) or (machine is not None and own != machine)):
        try:
            with open(PID_MAX, "w") as f:
                f.write(str(RESERVED_PIDS + n))
            with open(PID_MAX) as f:
                if int(f.read()) == RESERVED_PIDS + n:
                    bounds.append(f"pid_max {RESERVED_PIDS + n} of its PID namespace")
        except (OSError, ValueError):  # not the namespace's own (Linux < 6.14): left alone
            pass
    if outside not in (None, 0) and _kernel_at_least(5, 14):
        _cap(resource.RLIMIT_NPROC, n)
        bounds.append(f"RLIMIT_NPROC {n} of its user namespace")
    return " and ".join(bounds) or "not bounded (this kernel counts neither per user nor per PID namespace)"


def drop_privileges(uid: int | None) -> None:
    libc = c_library()
    if uid:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    else:  # user namespace: stay uid 0 of the namespace but without any capability
        import ctypes

        for cap in range(64):
            libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP (fails harmlessly past the last cap)
        libc.prctl(8, 0x2F, 0, 0, 0)  # PR_SET_SECUREBITS: NOROOT, NO_SETUID_FIXUP, both locked

        class Header(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

        class Data(ctypes.Structure):
            _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                        ("inheritable", ctypes.c_uint32)]

        header, data = Header(0x20080522, 0), (Data * 2)()
        if libc.capset(ctypes.byref(header), data) != 0:
            raise OSError(ctypes.get_errno(), "capset: cannot drop capabilities")
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes_errno(), "PR_SET_NO_NEW_PRIVS failed")


#: capabilities the host keeps in its bounding set: chown, dac_override, dac_read_search,
#: fowner, kill, setgid, setuid, setpcap, sys_admin (unshare of an IPC namespace)
_HOST_CAPS = (0, 1, 2, 3, 5, 6, 7, 8, 21)


def keep_host_privileges() -> None:
    """The pristine host in the namespaces keeps its privileges (the job processes, which run the
    policy, drop them): it is made non-dumpable (no process of the policy may ptrace it or write
    its memory, even one of its uid), every capability it does not need leaves its bounding set,
    and ``PR_SET_NO_NEW_PRIVS``."""
    libc = c_library()
    if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE 0
        raise OSError(ctypes_errno(), "PR_SET_DUMPABLE failed")
    for cap in range(64):
        if cap not in _HOST_CAPS:
            libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP (fails harmlessly past the last cap)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes_errno(), "PR_SET_NO_NEW_PRIVS failed")
