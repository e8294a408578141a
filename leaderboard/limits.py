"""Checks of the grader's limits: finite, positive, within sane bounds, within the machine.

``--time-limit nan`` used to remove the limit, ``inf`` crashed the grader and ``--memory-limit
0`` removed the memory limit: every limit now goes through :func:`check_time_limit` /
:func:`check_memory_limit` (a ``ValueError`` naming the value and the valid range), and
:func:`plan_workers` caps the number of workers at the number of jobs and at what the machine's
memory can hold (workers × memory limit).
"""

from __future__ import annotations

import math
import os

__all__ = ["MAX_TIME_LIMIT", "MIN_MEMORY_MB", "MIN_TIME_LIMIT", "check_memory_limit", "check_time_limit",
           "check_workers", "machine_memory_mb", "plan_workers"]

MIN_TIME_LIMIT = 1.0  # s
MAX_TIME_LIMIT = 7 * 24 * 3600.0  # a week
MIN_MEMORY_MB = 256.0  # Python with NumPy needs about this much address space


def machine_memory_mb() -> float:
    """Physical memory of this machine (MB)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return math.inf


def _finite(name: str, value, valid: str) -> float:
    """``value`` as a finite float, else ValueError naming it and ``valid`` (the range and unit: a
    ``--time-limit 10m`` was typer's "Input should be a valid number", naming neither)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} invalid; valid: {valid}") from None
    if isinstance(value, bool) or not math.isfinite(x):
        raise ValueError(f"{name} {value!r} invalid; valid: {valid}")
    return x


def check_time_limit(seconds) -> float:
    """``seconds`` if it is a finite number in [MIN_TIME_LIMIT, MAX_TIME_LIMIT], else ValueError."""
    x = _finite("time limit", seconds, f"a finite number of seconds from {MIN_TIME_LIMIT:g} to {MAX_TIME_LIMIT:g}, "
                "without a unit (10 min: 600)")
    if not MIN_TIME_LIMIT <= x <= MAX_TIME_LIMIT:
        raise ValueError(f"time limit {x:g} s out of range; valid: {MIN_TIME_LIMIT:g} to {MAX_TIME_LIMIT:g} s")
    return x


def check_memory_limit(mb) -> float:
    """``mb`` if it is a finite number from MIN_MEMORY_MB to the machine's memory, else ValueError."""
    top = machine_memory_mb()
    x = _finite("memory limit", mb, f"a finite number of MB from {MIN_MEMORY_MB:g} to {top:.0f} (this machine's memory), "
                "without a unit (4 GB: 4096)")
    if not MIN_MEMORY_MB <= x <= top:
        raise ValueError(f"memory limit {x:g} MB out of range; valid: {MIN_MEMORY_MB:g} to {top:.0f} MB "
                         "(this machine's memory)")
    return x


def check_workers(requested: int | None) -> int | None:
    """``requested`` if it is None (the default) or a positive integer, else ValueError naming it
    (``run_suite`` calls it before its store is opened: a refused call writes nothing)."""
    if requested is not None and (isinstance(requested, bool) or not isinstance(requested, int) or requested < 1):
        raise ValueError(f"workers={requested!r} invalid; valid: a positive integer")
    return requested


def plan_workers(requested: int | None, n_jobs: int, memory_mb: float | None, default: int) -> tuple[int, str]:
    """(workers, note): ``requested`` (or ``default``; :func:`check_workers`) capped at the number
    of jobs and at the number of ``memory_mb`` limits the machine's memory holds; the note says
    what was capped."""
    n = check_workers(requested) or default
    notes = []
    if n > max(1, n_jobs):
        n = max(1, n_jobs)
        notes.append(f"capped at the {n_jobs} jobs")
    if memory_mb:
        fit = int(machine_memory_mb() // memory_mb)
        if fit < 1:
            raise ValueError(f"memory limit {memory_mb:g} MB is more than this machine's "
                             f"{machine_memory_mb():.0f} MB")
        if n > fit:
            n = fit
            notes.append(f"capped at {fit}: {fit} x {memory_mb:g} MB fill the machine's {machine_memory_mb():.0f} MB")
    return n, "; ".join(notes)
