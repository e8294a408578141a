"""The C library, for the system calls the sandbox makes that :mod:`os` lacks (``mount``,
``unshare``, ``prctl``, ``capset``). ``ctypes`` is imported at the first call, as before the
move of these helpers out of :mod:`lrgym.leaderboard.policy_host`."""

from __future__ import annotations

__all__ = ["c_library", "ctypes_errno"]


def c_library():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def ctypes_errno() -> int:
    import ctypes

    return ctypes.get_errno()
