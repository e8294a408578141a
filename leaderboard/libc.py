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

__all__ = ["c_library", "ctypes_errno"]


def c_library():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def ctypes_errno() -> int:
    import ctypes

    return ctypes.get_errno()
