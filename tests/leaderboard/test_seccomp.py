"""The seccomp filter that refuses the kernel's keys to a policy (lrgym.leaderboard.seccomp):
its BPF program run by a small interpreter written from the classic-BPF rules, against the table
in the module's docstring, and the filter installed in a fresh process on this kernel."""

import platform
import subprocess
import sys

import pytest

from lrgym.leaderboard import seccomp

X86_64, I386, AARCH64, ARM = 0xC000003E, 0x40000003, 0xC00000B7, 0x40000028
ALLOW, ENOSYS = 0x7FFF0000, 0x00050000 | 38


def run_bpf(ops, nr: int, arch: int) -> int:
    """Classic BPF as seccomp runs it over ``struct seccomp_data`` (nr at 0, arch at 4): loads
    of a word, jumps forward only, a return ends it."""
    data = {0: nr, 4: arch}
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = ops[pc]
        if code == 0x20:  # BPF_LD | BPF_W | BPF_ABS
            acc, pc = data[k], pc + 1
        elif code == 0x15:  # BPF_JMP | BPF_JEQ | BPF_K
            pc = pc + 1 + (jt if acc == k else jf)
        elif code == 0x35:  # BPF_JMP | BPF_JGE | BPF_K
            pc = pc + 1 + (jt if acc >= k else jf)
        elif code == 0x06:  # BPF_RET | BPF_K
            return k
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")


def expected(nr: int, arch: int) -> int:
    """The module docstring's table."""
    if arch == X86_64 and (nr >= 0x40000000 or nr in (248, 249, 250)):
        return ENOSYS
    if arch == I386 and nr in (286, 287, 288):
        return ENOSYS
    if arch == AARCH64 and nr in (217, 218, 219):
        return ENOSYS
    if arch == ARM and nr in (309, 310, 311):
        return ENOSYS
    return ALLOW


def test_the_program_refuses_exactly_the_key_calls_of_each_architecture():
    ops = seccomp._program()
    assert len(ops) < 64 and all(jt < 256 and jf < 256 for _, jt, jf, _ in ops)
    numbers = list(range(0, 600)) + [0x40000000 + n for n in (0, 39, 248, 250)]
    for arch in (X86_64, I386, AARCH64, ARM, 0xC0000028, 0):
        for nr in numbers:
            assert run_bpf(ops, nr, arch) == expected(nr, arch), (hex(arch), nr)


LIVE = r'''
import ctypes, errno, json, os
from lrgym.leaderboard.seccomp import refuse_keyrings
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(*args):
    r = libc.syscall(*args)
    return r if r >= 0 else errno.errorcode.get(ctypes.get_errno())
before = call(250, 0, -4, 0)  # KEYCTL_GET_KEYRING_ID of the user keyring
libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS, which seccomp requires
applied = refuse_keyrings()
after = {"keyctl": call(250, 0, -4, 0), "add_key": call(248, b"user", b"k", b"1", 1, -4),
         "request_key": call(249, b"user", b"k", None, 0), "x32_getpid": call(0x40000000 + 39)}
pid = os.fork()
if pid == 0:
    os._exit(0 if call(250, 0, -4, 0) == "ENOSYS" else 1)  # inherited by a child
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
    assert facts["applied"].startswith("add_key, request_key and keyctl refused")
    assert facts["after"] == {"keyctl": "ENOSYS", "add_key": "ENOSYS", "request_key": "ENOSYS",
                              "x32_getpid": "ENOSYS", "child": 0, "getpid": True}
