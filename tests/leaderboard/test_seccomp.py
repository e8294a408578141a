"""The seccomp filter that refuses a policy kernel keys, file locks and file watches
(lrgym.leaderboard.seccomp): its BPF program run by a small interpreter written from the
classic-BPF rules, against the table in the module's docstring, and the filter installed in a
fresh process on this kernel."""

import platform
import subprocess
import sys

import pytest

from lrgym.leaderboard import seccomp

X86_64, I386, AARCH64, ARM = 0xC000003E, 0x40000003, 0xC00000B7, 0x40000028
ALLOW, ENOSYS, ENOLCK = 0x7FFF0000, 0x00050000 | 38, 0x00050000 | 37


def run_bpf(ops, nr: int, arch: int, arg1: int = 0) -> int:
    """Classic BPF as seccomp runs it over ``struct seccomp_data`` (nr at 0, arch at 4, the low
    word of args[1] at 24 on a little-endian machine): loads of a word, jumps forward only, a
    return ends it."""
    data = {0: nr, 4: arch, 24: arg1 & 0xFFFFFFFF}
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = ops[pc]
        if code == 0x20:  # BPF_LD | BPF_W | BPF_ABS
            acc, pc = data[k], pc + 1
        elif code == 0x15:  # BPF_JMP | BPF_JEQ | BPF_K
            pc = pc + 1 + (jt if acc == k else jf)
        elif code == 0x35:  # BPF_JMP | BPF_JGE | BPF_K
            pc = pc + 1 + (jt if acc >= k else jf)
        elif code == 0x05:  # BPF_JMP | BPF_JA
            pc = pc + 1 + k
        elif code == 0x06:  # BPF_RET | BPF_K
            return k
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")


#: the module docstring's table, written out: keys, inotify and fanotify, flock, fcntl per architecture
TABLE = {X86_64: ((248, 249, 250), (253, 294, 300), (73,), (72,)),
         I386: ((286, 287, 288), (291, 332, 338), (143,), (55, 221)),
         AARCH64: ((217, 218, 219), (26, 262), (32,), (25,)),
         ARM: ((309, 310, 311), (316, 360, 367), (143,), (55, 221))}
# F_GETLK .. F_SETLKW64, F_OFD_*, F_SETLEASE, F_GETLEASE, F_NOTIFY
LOCK_COMMANDS = (5, 6, 7, 12, 13, 14, 36, 37, 38, 1024, 1025, 1026)


def expected(nr: int, arch: int, arg1: int = 0) -> int:
    """The module docstring's table."""
    if arch == X86_64 and nr >= 0x40000000:
        return ENOSYS
    if arch not in TABLE:
        return ALLOW
    keys, watches, flock, fcntl = TABLE[arch]
    if nr in keys or nr in watches:
        return ENOSYS
    if nr in flock or nr in fcntl and arg1 in LOCK_COMMANDS:
        return ENOLCK
    return ALLOW


def test_the_program_refuses_exactly_the_calls_of_the_table_on_each_architecture():
    ops = seccomp._program()
    assert len(ops) < 128 and all(jt < 256 and jf < 256 for _, jt, jf, _ in ops)
    numbers = list(range(0, 600)) + [0x40000000 + n for n in (0, 39, 248, 250)]
    commands = [0, 1, 2, 3, 4, 8, 11, 15, 35, 39, 1024, 1025, 1027, 2**32 - 1, *LOCK_COMMANDS]
    for arch in (X86_64, I386, AARCH64, ARM, 0xC0000028, 0):
        for nr in numbers:
            assert run_bpf(ops, nr, arch) == expected(nr, arch), (hex(arch), nr)
        for nr in {n for t in TABLE.values() for n in t[3]} | {0, 73}:  # every fcntl number, and others
            for cmd in commands:
                assert run_bpf(ops, nr, arch, cmd) == expected(nr, arch, cmd), (hex(arch), nr, cmd)


LIVE = r'''
import ctypes, errno, json, os
from lrgym.leaderboard.seccomp import refuse_kernel_channels
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(*args):
    r = libc.syscall(*args)
    return r if r >= 0 else errno.errorcode.get(ctypes.get_errno())
before = call(250, 0, -4, 0)  # KEYCTL_GET_KEYRING_ID of the user keyring
libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS, which seccomp requires
applied = refuse_kernel_channels()
after = {"keyctl": call(250, 0, -4, 0), "add_key": call(248, b"user", b"k", b"1", 1, -4),
         "request_key": call(249, b"user", b"k", None, 0), "x32_getpid": call(0x40000000 + 39)}
import fcntl, struct
fd = os.open("/usr/lib/os-release", os.O_RDONLY)
lock = struct.pack("hhqqi", fcntl.F_RDLCK, 0, 0, 0, 0)
after.update({"flock": call(73, fd, 1 | 4), "setlk": call(72, fd, 6, lock), "ofd_setlk": call(72, fd, 37, lock),
              "notify": call(72, fd, 1026, 0), "setlease": call(72, fd, 1024, 0), "getlease": call(72, fd, 1025),
              "inotify_init1": call(294, 0), "inotify_init": call(253),
              "fanotify_init": call(300, 0x200, 0),
              "getfl": call(72, fd, 3) >= 0})
pid = os.fork()
if pid == 0:
    os._exit(0 if call(250, 0, -4, 0) == "ENOSYS" and call(73, fd, 1 | 4) == "ENOLCK" else 1)  # inherited by a child
after["child"] = os.waitpid(pid, 0)[1]
after["getpid"] = call(39) == os.getpid()
print(json.dumps({"before": before, "applied": applied, "after": after}))
'''


def test_the_filter_on_this_kernel():
    if platform.machine() not in seccomp.SUPPORTED_MACHINES:
        pytest.skip(f"no filter written for {platform.machine()}")
    if platform.machine() != "x86_64":
        pytest.skip("the live probe calls x86-64 numbers")
    import json

    out = subprocess.run([sys.executable, "-c", LIVE], capture_output=True, text=True, check=True)
    facts = json.loads(out.stdout.splitlines()[-1])
    assert isinstance(facts["before"], int) and facts["before"] > 0  # the keys work before
    assert facts["applied"] == ("kernel keys, file locks (flock, fcntl) and file watches (inotify, fanotify) "
                                "refused (seccomp)")
    assert facts["after"] == {"keyctl": "ENOSYS", "add_key": "ENOSYS", "request_key": "ENOSYS",
                              "x32_getpid": "ENOSYS", "flock": "ENOLCK", "setlk": "ENOLCK", "ofd_setlk": "ENOLCK",
                              "notify": "ENOLCK", "setlease": "ENOLCK", "getlease": "ENOLCK", "inotify_init1": "ENOSYS", "inotify_init": "ENOSYS",
                              "fanotify_init": "ENOSYS", "getfl": True, "child": 0, "getpid": True}
