"""A seccomp filter that refuses a policy the kernel state every process of the machine shares
and can leave a mark in: the kernel's key management (``add_key``, ``request_key``,
``keyctl``: ``ENOSYS``, as on a kernel built without keys), file locks (``flock`` and the lock
commands of ``fcntl``: ``ENOLCK``, "no locks available") and file watches (``inotify`` and
``fanotify``: ``ENOSYS``).

Why: sandboxes are their own users and namespaces, but one kernel. Kernel keys outlive the
processes that made them (a security review, 2026-12-05): a job made a named keyring, opened it
to everyone and linked it into its uid's user keyring; every later job, of any uid, in any
sandbox, in any later run, joined it by name and read what the first job had learned (on the
seed before, the same instances). File locks and inotify watches are seen by every process of
the machine on the read-only system files every sandbox sees: a red-team policy passed its
initial loss, 64 bits at once, from one sandbox to another running beside it through ``flock``
on a file of ``/usr/lib`` (2026-12-05; the grader no longer runs an entry's jobs on one instance
at once, but two entries graded at the same time could still use it). ``fanotify`` watches
the same files as ``inotify`` without any privilege since Linux 5.13 (a review, 2026-12-06: a
job's mark on ``/usr/lib/os-release`` got the events of others' opens). No honest policy needs
any of them: a policy writes no shared file.

The filter is classic BPF over ``struct seccomp_data`` (``nr`` at offset 0, ``arch`` at 4, the
low word of ``args[1]`` at 24 on these little-endian machines), read like this::

    arch == x86-64:  nr >= 0x40000000 (the x32 ABI) or nr in (248, 249, 250) -> ENOSYS (keys)
                     nr in (253, 294) -> ENOSYS (inotify);  nr == 300 -> ENOSYS (fanotify)
                     nr == 73 -> ENOLCK (flock)
                     nr == 72 and args[1] in LOCK_COMMANDS -> ENOLCK (fcntl: locks, leases, dnotify)
    arch == i386:    keys (286, 287, 288), inotify (291, 332), fanotify 338, flock 143,
                     fcntl (55, 221) (a 64-bit process may still enter through int 0x80)
    arch == aarch64: keys (217, 218, 219), inotify 26, fanotify 262, flock 32, fcntl 25
    arch == arm:     keys (309, 310, 311), inotify (316, 360), fanotify 367, flock 143, fcntl (55, 221)
                     (a 32-bit program a job runs on an aarch64 kernel)
    anything else    -> allowed

``LOCK_COMMANDS``: ``F_GETLK``, ``F_SETLK``, ``F_SETLKW`` (5 – 7), their 64-bit forms of 32-bit
programs (12 – 14), the open-file-description locks ``F_OFD_GETLK`` … ``F_OFD_SETLKW`` (36 – 38),
the leases ``F_SETLEASE`` and ``F_GETLEASE`` (1024, 1025) and ``F_NOTIFY`` (1026, dnotify); every
other ``fcntl`` command (``F_GETFL``, ``F_SETFD``, ...) is allowed. Leases (a red team,
2026-12-06): the user-namespace sandbox's policy has the grader's uid outside and so owns the
venv's and the Python installation's files, on which a process may take a lease; while a job held
a write lease on a file of the venv, every other process of the machine opening it got
``EAGAIN`` (``O_NONBLOCK``: one bit for a sandbox beside it) or waited for the lease's break,
up to ``/proc/sys/fs/lease-break-time`` (45 s), a job that ignores ``SIGIO`` taking the whole
of it (root's sandbox, whose jobs own no shared file, was refused them: ``EACCES``). It is installed with ``PR_SET_SECCOMP`` after ``PR_SET_NO_NEW_PRIVS`` (which it
requires), is inherited by every child and can never be removed.
"""

from __future__ import annotations

import ctypes
import platform

__all__ = ["FILTERED", "LOCK_COMMANDS", "REFUSED", "SUPPORTED_MACHINES", "refuse_kernel_channels"]

_LD_ABS_W, _JEQ, _JGE, _JA, _RET = 0x20, 0x15, 0x35, 0x05, 0x06
_ALLOW, _ERRNO, _ENOSYS, _ENOLCK = 0x7FFF0000, 0x00050000, 38, 37
_NR, _ARCH, _ARG1 = 0, 4, 24
_X86_64, _I386, _AARCH64, _ARM = 0xC000003E, 0x40000003, 0xC00000B7, 0x40000028
_X32_BIT = 0x40000000
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2

#: the machines (``platform.machine()``) the filter is written for; elsewhere it is not installed
SUPPORTED_MACHINES = ("x86_64", "aarch64")
#: what is refused on each architecture the filter knows: {arch: {what: system call numbers}}
#: (``keys``: add_key, request_key, keyctl; ``inotify``: inotify_init(1); ``fanotify``:
#: fanotify_init; ``flock``; ``fcntl``:
#: fcntl (and fcntl64), refused for :data:`LOCK_COMMANDS` only)
REFUSED = {
    _X86_64: {"keys": (248, 249, 250), "inotify": (253, 294), "fanotify": (300,), "flock": (73,), "fcntl": (72,)},
    _I386: {"keys": (286, 287, 288), "inotify": (291, 332), "fanotify": (338,), "flock": (143,), "fcntl": (55, 221)},
    _AARCH64: {"keys": (217, 218, 219), "inotify": (26,), "fanotify": (262,), "flock": (32,), "fcntl": (25,)},
    _ARM: {"keys": (309, 310, 311), "inotify": (316, 360), "fanotify": (367,), "flock": (143,), "fcntl": (55, 221)},
}
#: the ``fcntl`` commands refused: record or test a lock (POSIX, 64-bit, open file description),
#: take or read a lease (``F_SETLEASE``, ``F_GETLEASE``) and dnotify's ``F_NOTIFY``
LOCK_COMMANDS = (5, 6, 7, 12, 13, 14, 36, 37, 38, 1024, 1025, 1026)
#: what the filter refuses, as the entry records it
FILTERED = "kernel keys, file locks (flock, fcntl) and file watches (inotify, fanotify) refused"


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


def _program() -> list[tuple[int, int, int, int]]:
    """The filter's instructions ``(code, jt, jf, k)``; jumps count forward from the next one.
    Written with named targets (``"allow"``, ``"enosys"``, ``"enolck"``, ``"fcntl"``, the next
    architecture's block), resolved at the end."""
    code: list[list] = []  # [code, jt target, jf target, k]; a target None: the next instruction
    labels: dict[str, int] = {}
    goes_to = {"keys": "enosys", "inotify": "enosys", "fanotify": "enosys", "flock": "enolck", "fcntl": "fcntl"}

    code.append([_LD_ABS_W, None, None, _ARCH])
    for i, (arch, table) in enumerate(REFUSED.items()):
        code.append([_JEQ, None, f"arch{i + 1}", arch])  # another architecture: its block
        code.append([_LD_ABS_W, None, None, _NR])
        if arch == _X86_64:
            code.append([_JGE, "enosys", None, _X32_BIT])
        for what, numbers in table.items():
            code += [[_JEQ, goes_to[what], None, n] for n in numbers]
        code.append([_JA, None, None, "allow"])
        labels[f"arch{i + 1}"] = len(code)
    code.append([_RET, None, None, _ALLOW])  # an architecture the filter does not know
    labels["fcntl"] = len(code)
    code.append([_LD_ABS_W, None, None, _ARG1])
    code += [[_JEQ, "enolck", None, cmd] for cmd in LOCK_COMMANDS]
    labels["allow"] = len(code)
    code.append([_RET, None, None, _ALLOW])
    labels["enosys"] = len(code)
    code.append([_RET, None, None, _ERRNO | _ENOSYS])
    labels["enolck"] = len(code)
    code.append([_RET, None, None, _ERRNO | _ENOLCK])

    def offset(pc: int, target) -> int:
        return 0 if target is None else labels[target] - (pc + 1)

    ops = []
    for pc, (op, jt, jf, k) in enumerate(code):
        if op == _JA:
            ops.append((op, 0, 0, offset(pc, k)))
        else:
            ops.append((op, offset(pc, jt), offset(pc, jf), k))
    return ops


def refuse_kernel_channels() -> str:
    """Install the filter in this process (and so in all it forks); returns what was applied,
    recorded with the entry. Raises ``OSError`` when the kernel refuses it."""
    if platform.machine() not in SUPPORTED_MACHINES:
        return (f"kernel keys, file locks and file watches not filtered (seccomp filter written for x86_64 and aarch64, "
                f"not {platform.machine()})")
    ops = _program()
    filters = (_Filter * len(ops))(*[_Filter(*op) for op in ops])
    program = _Program(len(ops), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP failed")
    return f"{FILTERED} (seccomp)"
