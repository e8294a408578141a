"""The sandbox's private root file system (step 3 of :mod:`lrgym.leaderboard.policy_host`).

The host builds it once, as root of its namespaces, and ``chroot`` s into it
(:func:`new_root`): a size-limited tmpfs holding read-only binds of the system directories, the
Python installation and the packages on ``sys.path`` only (:func:`bind`, every mount below a
bound folder remounted read-only too), the grader's folders inside them covered and the
folders policies import from inside a covered one bound again (:func:`_cover`), a few devices,
a read-only ``/proc`` and a writable ``/tmp``; once the host has made all it needs there, the
root itself is remounted read-only (:func:`seal_root`). Each job
later builds its own ``/proc``, ``/tmp`` and ``/dev/shm`` with the same mount helpers
(:func:`lrgym.leaderboard.job_isolation.job_namespaces`).

:data:`ROOT` is the folder the submission's files are written to and the policy works in: the
fresh ``/tmp`` in the namespaces, the grader's scratch folder without them (set by
:func:`lrgym.leaderboard.policy_host.confine`; read it as ``sandbox_root.ROOT``, at call time).
"""

from __future__ import annotations

import os

from lrgym.leaderboard.libc import c_library
from lrgym.leaderboard.mountinfo import read_lines, split_line, unescape_field

__all__ = ["JOB_STAGING", "MS_BIND", "MS_MOVE", "MS_NODEV", "MS_NOEXEC", "MS_NOSUID", "MS_PRIVATE", "MS_RDONLY",
           "MS_REC", "MS_REMOUNT", "ROOT", "bind", "kept_flags", "mount", "mount_points", "new_root", "seal_root"]

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
#: statvfs's ``f_flag`` bits → the mount flags they stand for (:func:`kept_flags`)
_ST_TO_MS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME,
             2048: MS_NODIRATIME, 4096: MS_RELATIME}


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    import ctypes

    libc = c_library()
    rc = libc.mount(os.fsencode(source), os.fsencode(target), fstype.encode() if fstype else None,
                    ctypes.c_ulong(flags), data.encode() if data else None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


MS_REC = 16384
_DEVICES = ("null", "zero", "random", "urandom", "full")
MS_MOVE, MS_PRIVATE = 8192, 1 << 18


def kept_flags(path: str) -> int:
    """The mount flags of ``path`` a remount must keep (a user namespace may not clear them;
    a remount without an atime flag would mean ``relatime``, so ``strictatime`` is said)."""
    st = os.statvfs(path)
    keep = 0
    for st_flag, ms_flag in _ST_TO_MS.items():
        if st.f_flag & st_flag:
            keep |= ms_flag
    if not keep & (MS_NOATIME | MS_RELATIME):
        keep |= MS_STRICTATIME
    return keep


def mount_points(top: str) -> list[str]:
    """``top`` and every mount point below it in this mount namespace (the fifth field of
    ``/proc/self/mountinfo``, whose ``\\040``-style escapes are undone:
    :func:`lrgym.leaderboard.mountinfo.unescape_field`)."""
    points = [unescape_field(split_line(line)[0][4]) for line in read_lines()]
    top = os.path.realpath(top)
    return [p for p in points if p == top or p.startswith(top.rstrip("/") + "/")]


def bind(source: str, target: str, read_only: bool = True) -> None:
    """Bind ``source`` (and the mounts below it) at ``target``; ``read_only``: all of them.

    The bind is recursive, so the mounts below ``source`` come along (Docker binds
    ``/etc/hosts``, ``/etc/hostname`` and ``/etc/resolv.conf`` into ``/etc``), and a remount
    changes one mount only: each of them is remounted read-only (when only the top was, a file
    of the machine bound below stayed writable to a policy that is uid 0 outside, as in the
    user-namespace sandbox of a grader running as root). A
    mount point no path reaches any more (hidden under a later mount) is skipped; any remount
    that fails stops the sandbox from starting."""
    if os.path.isdir(source):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC, None)
    if not read_only:
        return
    points = mount_points(target)
    if not points:
        raise OSError(f"mount {target}: the bind is not in /proc/self/mountinfo")
    for point in points:
        if os.path.lexists(point):
            mount("none", point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(point), None)


#: the mount flags of the empty tmpfs covering a grader's folder (:func:`_cover`)
_COVER_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC


def _cover(root: str, masked: list[str], reshown: list[str] = ()) -> None:
    """Cover each of ``masked`` (the grader's folders and files inside a bound directory, e.g. a
    ``WORKDIR /usr/src/app``, a store given as ``--db /etc/lrgym/results.sqlite``): a folder with
    an empty read-only tmpfs, a file with an empty read-only file; one that is neither in the new
    root (or is reached through a symlink) is not there to hide. Then show each of ``reshown``
    again (the folders the policy imports from inside a covered one, such as the venv
    ``/usr/src/app/.venv``: :func:`lrgym.leaderboard.host_start.reshown_dirs`), bound read-only
    into its cover, which is read-only once they are made. Outermost first, so a grader file in
    a reshown folder is covered over its bind. Any failure is fatal."""
    real_root = os.path.realpath(root)
    empty = root + _EMPTY_FILE
    open_covers = []  # covers that reshown folders are bound into: writable until those binds are made
    steps = sorted([(p, False) for p in masked] + [(p, True) for p in reshown], key=lambda s: (len(s[0]), s[0]))
    for path, shown in steps:
        target = root + path
        if os.path.realpath(target) != os.path.normpath(real_root + path):
            continue
        if shown:  # inside a cover (else it is there already): bound again into it
            if not os.path.lexists(target) and os.path.isdir(path):
                bind(path, target)
        elif os.path.isdir(target):
            holds_shown = any(r.startswith(path.rstrip("/") + "/") for r in reshown)
            mount("tmpfs", target, "tmpfs", (0 if holds_shown else MS_RDONLY) | _COVER_FLAGS, "size=4k,mode=555")
            if holds_shown:
                open_covers.append(target)
        elif os.path.isfile(target):
            if not os.path.exists(empty):
                os.close(os.open(empty, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444))
            mount(empty, target, None, MS_BIND, None)
            mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(target), None)
    for target in open_covers:
        mount("none", target, None, MS_REMOUNT | MS_RDONLY | _COVER_FLAGS, None)


#: the empty file bound over each grader file a bound folder shows (:func:`_cover`)
_EMPTY_FILE = "/.lrgym-masked-file"


def new_root(root: str, paths: list[str], links: dict[str, str], size_mb: int, masked: list[str] = (),
             reshown: list[str] = ()) -> None:
    """Build the policy's whole file system in ``root`` and ``chroot`` into it: a size-limited
    tmpfs holding read-only binds of ``paths`` only (the system, the Python installation, the
    packages on ``sys.path``), with an empty tmpfs over each of ``masked`` (the grader's folders
    inside them) and ``reshown`` (the folders imported from inside those) bound again over it,
    ``links`` (``/bin -> usr/bin``), a few devices, ``/proc`` of the PID namespace (read-only)
    and a writable ``/tmp``. The store, the references, the caches and every other
    file of the machine are simply not there.

    ``/proc`` is read-only because in the user-namespace sandbox of a grader running as root the
    policy is uid 0 outside, and the kernel lets uid 0 write the machine's sysctls
    (``/proc/sys/kernel/core_pattern``: a program run as root on the host) and
    ``/proc/sysrq-trigger`` by file permissions alone, without any capability."""
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode=755")
    for tmp in ("/tmp", "/dev/shm"):  # tmpfs of their own: writable once the root is read-only (seal_root)
        os.makedirs(root + tmp, exist_ok=True)
        mount("tmpfs", root + tmp, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode=1777")
    os.makedirs(root + JOB_STAGING, mode=0o700)
    for path in paths:  # after /tmp's mount: a checkout or venv under /tmp is bound inside it
        bind(path, root + path)
    _cover(root, list(masked), list(reshown))
    for link, target in links.items():
        os.symlink(target, root + link)
    for dev in _DEVICES:  # read-only binds: the device reads and writes as before, but no job may
        if os.path.exists(f"/dev/{dev}"):  # chmod or touch the machine's node (uid 0 outside in userns)
            bind(f"/dev/{dev}", f"{root}/dev/{dev}")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    bind("/proc", root + "/proc")
    os.chroot(root)
    os.chdir("/")


def seal_root() -> None:
    """Make the sandbox's root tmpfs read-only, once the host has made all it needs in it (its
    own ``/tmp`` and ``/dev/shm`` are mounts of their own, the job output files are ``memfd``).

    A security review (2026-12-05): in the user-namespace sandbox the policy is uid 0 of the
    namespace, and the root's folders holding the binds were its to rename. A job renamed
    ``/root`` aside and put its own ``encodings/utf_8_sig.py`` where the host's standard library
    had been; a reply starting with a byte-order mark made the host's ``json.loads`` import it,
    running the policy's code in the privileged host, which reached the machine through
    ``/proc/1/root``. (Replies are also decoded as UTF-8 before parsing now, which imports no codec.)"""
    mount("none", "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags("/"), None)


#: where a job's /tmp is built before it is moved on /tmp (a folder of the sandbox's root)
JOB_STAGING = "/.lrgym-job-staging"


#: where the submission's files are written and where it works (a fresh tmpfs in the namespaces)
ROOT = "/tmp"
