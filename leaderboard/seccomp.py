"""A seccomp filter that refuses a policy the kernel's key management (``add_key``,
``request_key``, ``keyctl``: they fail with ``ENOSYS``, as on a kernel built without keys).

Why (a security review, 2026-12-05): kernel keys outlive the processes that made them. A job
made a named keyring, opened it to everyone and linked it into its uid's user keyring; every
later job, of any uid, in any sandbox, in any later run, joined it by name and read what the
first job had learned (on the seed before, the same instances). A fresh uid per job, the job's
own namespaces and covering ``/proc/keys`` do not reach it: keyrings belong to the machine's
user namespace. No honest policy needs kernel keys.

The filter is classic BPF over ``struct seccomp_data`` (``nr`` at offset 0, ``arch`` at 4), read
like this::

    arch == x86-64:  nr >= 0x40000000 (the x32 ABI) or nr in (248, 249, 250) -> ENOSYS
    arch == i386:    nr in (286, 287, 288)  (a 64-bit process may still enter through int 0x80) -> ENOSYS
    arch == aarch64: nr in (217, 218, 219) -> ENOSYS
    arch == arm:     nr in (309, 310, 311)  (a 32-bit program a job runs on an aarch64 kernel) -> ENOSYS
    anything else    -> allowed

It is installed with ``PR_SET_SECCOMP`` after ``PR_SET_NO_NEW_PRIVS`` (which it requires), is
inherited by every child and can never be removed.
"""

from __future__ import annotations

import ctypes
import platform

__all__ = ["KEY_SYSCALLS", "SUPPORTED_MACHINES", "refuse_keyrings"]

_LD_ABS_W, _JEQ, _JGE, _RET = 0x20, 0x15, 0x35, 0x06
_ALLOW, _ERRNO, _ENOSYS = 0x7FFF0000, 0x00050000, 38
_NR, _ARCH = 0, 4
_X86_64, _I386, _AARCH64, _ARM = 0xC000003E, 0x40000003, 0xC00000B7, 0x40000028
_X32_BIT = 0x40000000
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2

#: the machines (``platform.machine()``) the filter is written for; elsewhere it is not installed
SUPPORTED_MACHINES = ("x86_64", "aarch64")
#: add_key, request_key, keyctl on each architecture the filter knows
KEY_SYSCALLS = {_X86_64: (248, 249, 250), _I386: (286, 287, 288), _AARCH64: (217, 218, 219), _ARM: (309, 310, 311)}


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


def _program() -> list[tuple[int, int, int, int]]:
    """The filter's instructions ``(code, jt, jf, k)``; jumps count forward from the next one."""
    ops: list[tuple[int, int, int, int]] = []
    # one block per architecture: [JEQ arch (skip the block if not), LD nr, (JGE x32), JEQ nr...]
    blocks = []
    for arch, numbers in KEY_SYSCALLS.items():
        body = [("nr",)] + ([("x32",)] if arch == _X86_64 else []) + [("eq", n) for n in numbers]
        blocks.append((arch, body))
    total = 1 + sum(1 + len(body) for _, body in blocks) + 2  # LD arch, blocks, RET ALLOW, RET ERRNO
    allow, deny = total - 2, total - 1
    ops.append((_LD_ABS_W, 0, 0, _ARCH))
    for arch, body in blocks:
        here = len(ops)
        next_block = here + 1 + len(body)
        ops.append((_JEQ, 0, next_block - (here + 1), arch))
        for item in body:
            at = len(ops)
            if item[0] == "nr":
                ops.append((_LD_ABS_W, 0, 0, _NR))
            elif item[0] == "x32":
                ops.append((_JGE, deny - (at + 1), 0, _X32_BIT))
            else:
                last = item is body[-1]
                ops.append((_JEQ, deny - (at + 1), (allow - (at + 1)) if last else 0, item[1]))
        # after the block's last JEQ (not taken), it jumped to allow; a block always ends there
    ops.append((_RET, 0, 0, _ALLOW))
    ops.append((_RET, 0, 0, _ERRNO | _ENOSYS))
    assert len(ops) == total
    return ops


def refuse_keyrings() -> str:
    """Install the filter in this process (and so in all it forks); returns what was applied,
    recorded with the entry. Raises ``OSError`` when the kernel refuses it."""
    if platform.machine() not in SUPPORTED_MACHINES:
        return f"kernel keys not filtered (seccomp filter written for x86_64 and aarch64, not {platform.machine()})"
    ops = _program()
    filters = (_Filter * len(ops))(*[_Filter(*op) for op in ops])
    program = _Program(len(ops), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP failed")
    return "add_key, request_key and keyctl refused (seccomp)"
