"""The C library, for the system calls :mod:`os` lacks: the sandbox's (``mount``, ``unshare``,
``prctl``, ``capset``) and the grader's (``prctl`` for a worker's ``PR_SET_PDEATHSIG`` and the
fallback's ``PR_SET_CHILD_SUBREAPER``, ``fstatfs`` for a submission's files). ``ctypes`` is
imported at the first call, as before the move of these helpers out of
:mod:`lrgym.leaderboard.policy_host`.

A child between ``fork`` and ``exec`` of a grader that may have threads must not load a library
(another thread may have held the loader's lock at the fork): the policy host's
``PR_SET_PDEATHSIG`` (:func:`lrgym.leaderboard.host_start.pdeathsig`) looks its ``prctl`` up
here before the fork. The seccomp filter's ``prctl``
(:func:`lrgym.leaderboard.seccomp.refuse_kernel_channels`) loads the library itself in forked job
processes of the single-threaded policy host, as it always did."""

from __future__ import annotations

import os

__all__ = ["c_library", "ctypes_errno", "die_with_parent"]


def c_library():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def ctypes_errno() -> int:
    import ctypes

    return ctypes.get_errno()


def die_with_parent():
    """A function for a child this process is about to fork, run first thing in it: the child
    gets ``PR_SET_PDEATHSIG`` SIGKILL (it dies when this process dies) and exits at once if this
    process has already ended (between the fork and the call, when the signal would never
    come). The sandbox's trusted processes chain it (job starter → waiter → job process →
    episode processes): without namespaces nothing else ended them when their grader worker was
    killed (a time limit, a failed group), and a policy hanging in ``act`` ran on for ever as the
    grader's user (an audit, 2026-12-06; ``PR_SET_PDEATHSIG`` is not inherited across ``fork``).
    The C library is looked up here, before the fork (a process with threads must not load a
    library in a child)."""
    prctl = c_library().prctl
    parent = os.getpid()

    def set_in_child() -> None:  # pragma: no cover - in the child
        prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG SIGKILL
        if os.getppid() != parent:
            os._exit(0)

    return set_in_child
