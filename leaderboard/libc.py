"""The C library, for the system calls :mod:`os` lacks: the sandbox's (``mount``, ``unshare``,
``prctl``, ``capset``) and the grader's (``prctl`` for a worker's ``PR_SET_PDEATHSIG`` and the
fallback's ``PR_SET_CHILD_SUBREAPER``, ``fstatfs`` for a submission's files). ``ctypes`` is
imported at the first call, as before the move of these helpers out of
:mod:`lrgym.leaderboard.policy_host`.

Two places load the library themselves and are kept as they were: the policy host's
``PR_SET_PDEATHSIG`` (:func:`lrgym.leaderboard.host_start.pdeathsig`), which runs between
``fork`` and ``exec`` in a child of a grader that may have threads, and the seccomp filter's
``prctl`` (:func:`lrgym.leaderboard.seccomp.refuse_keyrings`), which runs in forked job
processes: code that runs in a forked child is not given new calls."""

from __future__ import annotations

__all__ = ["c_library", "ctypes_errno"]


def c_library():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def ctypes_errno() -> int:
    import ctypes

    return ctypes.get_errno()
