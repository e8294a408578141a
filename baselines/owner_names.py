"""Names that say which process made a thing, so that a later sweep can tell a leftover from a
thing still in use: a sandbox's cgroups (``lrgym-sandbox-<owner>-<random>``,
:mod:`lrgym.leaderboard.sandbox_cgroup`), a worker's temp folders (``lrgym-worker-<owner>-...``,
:mod:`lrgym.leaderboard.pool`), a Ray driver's empty folder (``lrgym-ray-driver-<owner>-...``,
:mod:`lrgym.baselines.backend`) and the throwaway stores of the timing and transfer runs
(``lrgym-bench-<owner>-...``, ``lrgym-transfer-<owner>-...``: :func:`owned_temp_folder`). A
grader or driver killed with ``kill -9`` leaves them behind; the next one removes those whose
owner has ended (:func:`owner_gone`). Floor 2
(``lrgym.baselines``), so that the Ray backend and the leaderboard's pools share it.

A pid alone cannot say that: once a process has died the kernel gives its number to a later
process, and a leftover named after a reused pid looked owned for as long as that unrelated
process lived (a leak; a review, 2026-12). So the owner field is ``<pid>.<start time>.<namespaces>``
(:func:`owner_tag`), the start time being field 22 of ``/proc/<pid>/stat`` (clock ticks after
boot, :func:`start_time`): no two processes of one boot share both. The owner is alive only
while a process with that pid exists *and* started at that time::

    owner_tag()                                   # "4242.6778310.4026531836x4026531834"
    owner_gone("lrgym-sandbox-4242.6778310.4026531836x4026531834-ab12", "lrgym-sandbox-")
    # False while process 4242 started at tick 6778310 runs; True once it ended, even if
    # another process has pid 4242 now

Pids and start times are those of the maker's PID and time namespaces (:func:`namespaces`, their
inodes): a grader in another container sharing the folder sees other numbers for the same
process, and judging by them swept a live grader's folder (a review, 2026-12-05). A name made
in other namespaces is not judged.

Where this process's ``/proc`` cannot be read or shows another PID namespace (a container that
shares the host's ``/proc``: ``unshare -p -f`` without ``--mount-proc``), no start time is known
and the name says so: ``4242.unknown.<namespaces>`` (``unknown`` too where the namespaces cannot
be read). In the same namespaces its owner is alive while a process has that pid (a pid with no
process there is provably no live owner's: the maker's namespace, where it had that pid, is this
one; a pid another process now has keeps it, as no start time tells that process from the
maker); elsewhere, or with unknown namespaces, it is not judged. Every sweep judges it so,
:func:`owned_temp_folder`'s and a Ray driver's too (until 2026-12-06 those two took it for a
pid-only name and left it for ever). (Until 2026-12-06 such a process wrote the pid alone,
and a grader in the host's namespace judged that pid, another process's number or none there, by
its own processes: it swept a live worker's folder, pid 12 in its namespace and no process here.)

Backward compatible: an older name carries the pid only (``lrgym-sandbox-4242-ab12``) and keeps
the older rule (its owner is alive while any process has that pid). When in doubt the owner
counts as alive: a sweep may leave a leftover for the next one, never remove a live process's
cgroup (its sandbox would be killed) or folder. (An older grader reads ``4242.6778310.…`` and
``4242.unknown.…`` as no pid and leaves such a name alone.)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["UNKNOWN", "namespaces", "owned_temp_folder", "owner_gone", "owner_tag", "start_time", "sweep_folders"]

#: the start time's place among the fields after the command name in ``/proc/<pid>/stat``: field
#: 22 of the file, counted from 1, where the first after the name is field 3 (the state)
_START_TIME_AFTER_NAME = 22 - 3


def _stat_fields(pid: int | str) -> tuple[bytes, list[bytes]] | None:
    """(field 1: the pid as this ``/proc`` shows it, [field 3, field 4, ...]) of
    ``/proc/<pid>/stat``, or None if it cannot be read. Field 2 is the command name in
    parentheses, and may itself hold spaces and parentheses (``(a) b)``): the fields after it
    begin after the *last* ``)``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    head, _, after_name = stat.rpartition(b")")
    return head.split(b" ", 1)[0], after_name.split()


def start_time(pid: int | str) -> int | None:
    """When process ``pid`` (``"self"``: this one) started, in clock ticks after boot (field 22
    of ``/proc/<pid>/stat``), or None if there is no such process or it cannot be read."""
    fields = _stat_fields(pid)
    try:
        return int(fields[1][_START_TIME_AFTER_NAME])
    except (TypeError, IndexError, ValueError):
        return None


def _own_start_time() -> int | None:
    """This process's start time, or None unless ``/proc`` shows this process under its own pid
    (``/proc`` of another PID namespace, or none: start times read there would be another
    process's)."""
    fields = _stat_fields("self")
    if fields is None or fields[0] != str(os.getpid()).encode():
        return None
    return start_time("self")


def namespaces() -> str | None:
    """This process's PID and time namespaces as ``"<pid ns inode>x<time ns inode>"`` (0 where
    the kernel has no time namespaces), or None if they cannot be read. A pid and a start time
    mean something only in the namespaces they were read in: a grader in a container sees other
    pids for the same processes, and a time namespace shifts start times."""
    try:
        pid_ns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    try:
        time_ns = os.stat("/proc/self/ns/time").st_ino
    except OSError:  # a kernel before 5.6: no time namespaces
        time_ns = 0
    return f"{pid_ns}x{time_ns}"


#: the start time or namespaces of a name whose maker could not read them (:func:`owner_tag`)
UNKNOWN = "unknown"


def owner_tag() -> str:
    """The owner field for a name this process makes: ``"<pid>.<start time>.<namespaces>"``
    (:func:`namespaces`), with :data:`UNKNOWN` for what ``/proc`` does not show (this process
    under its own pid: :func:`_own_start_time`; its namespaces). Never the pid alone: a pid
    whose namespaces are not said is judged by whichever namespaces a sweep runs in."""
    start, spaces = _own_start_time(), namespaces()
    if start is None or spaces is None:
        start = UNKNOWN
    return f"{os.getpid()}.{start}.{spaces or UNKNOWN}"


def _owner(name: str, prefix: str) -> tuple[int, int | None, str | None] | None:
    """(pid, start time, namespaces) of ``prefix + owner + "-..."``, start time and namespaces
    None in an older pid-only name, start time None where its maker could not read it; None for a name not of either form (``<pid>.<start>``
    without namespaces, written by lrgym for a few hours on 2026-12-05, included: not judged)."""
    if not name.startswith(prefix):
        return None
    fields = name[len(prefix):].split("-", 1)[0].split(".")
    if len(fields) == 1 and _is_number(fields[0]):
        return int(fields[0]), None, None
    if len(fields) == 3 and _is_number(fields[0]) and fields[1] == UNKNOWN and fields[2]:
        return int(fields[0]), None, fields[2]  # (UNKNOWN namespaces are no one's: not judged)
    if len(fields) == 3 and _is_number(fields[0]) and _is_number(fields[1]) and fields[2]:
        return int(fields[0]), int(fields[1]), fields[2]
    return None


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()  # ("²".isdigit() is True, and no int)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _owner_alive(pid: int, start: int | None, spaces: str | None) -> bool:
    """Whether the process that made a name may still be running. An older pid-only name: while
    a process ``pid`` exists. A name of :func:`owner_tag`: made in other namespaces than this
    process's (a grader in another container or PID namespace sharing the folder) or unknown
    ones, its pid and start time say nothing here, so it counts as alive; made in these
    namespaces, while a process ``pid`` exists that started at ``start`` (any, if unknown). An
    unreadable start time counts as alive (a leftover stays for a later sweep; a live sandbox is
    never removed)."""
    if not _pid_exists(pid):
        return spaces is not None and spaces != namespaces()  # another namespace's pid: not judged
    if start is None:
        return True
    if spaces != namespaces() or _own_start_time() is None:
        return True
    now = start_time(pid)
    return now is None or now == start


def owner_gone(name: str, prefix: str, *, pid_only_names: bool = True) -> bool:
    """Whether ``name`` is ``prefix + owner + "-..."`` (:func:`owner_tag`) and its owner has
    ended: a leftover to remove. Any other name is not judged (False), nor, with
    ``pid_only_names=False``, an older name that carries the pid alone (no namespaces: the pid
    may be another namespace's). A name of :func:`owner_tag` whose start time is
    :data:`UNKNOWN` is judged by its pid: made in these namespaces, its owner has ended once no
    process has that pid (while one has, it may be the owner: no start time tells)."""
    owner = _owner(name, prefix)
    if owner is None or (not pid_only_names and owner[2] is None):
        return False
    return not _owner_alive(*owner)


def sweep_folders(prefix: str, tmp: str | None = None, *, pid_only_names: bool = True,
                  remove: Callable[[str], object] | None = None) -> int:
    """Remove the folders ``prefix + owner + "-..."`` of ``tmp`` (default: the temp folder) that
    are this user's own (not a link) and whose owner has ended (:func:`owner_gone`): the one
    sweep of a temp folder's leftovers (a pool's worker folders, a Ray driver's empty folder).
    ``pid_only_names=False`` also leaves an older name that carries the pid alone (a Ray
    driver's: a live driver's folder is on its workers' ``sys.path``, and a pid of unknown
    namespaces says too little to remove it); a name ``<pid>.unknown.<namespaces>`` is judged
    either way (:func:`owner_gone`). ``remove(path)`` removes one folder (default ``shutil.rmtree``, errors ignored; a
    pool's, whose folders may hold what a policy made unwritable:
    :func:`lrgym.leaderboard.sandbox_folders.remove_folder`). Returns how many were removed."""
    import shutil
    import stat
    import tempfile

    if remove is None:
        def remove(path: str) -> None:
            shutil.rmtree(path, ignore_errors=True)

    tmp = tmp or tempfile.gettempdir()
    try:
        names = os.listdir(tmp)
    except OSError:
        return 0
    removed = 0
    for name in names:
        if not owner_gone(name, prefix, pid_only_names=pid_only_names):
            continue
        path = os.path.join(tmp, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
            remove(path)
            removed += not os.path.lexists(path)
    return removed


@contextmanager
def owned_temp_folder(prefix: str) -> Iterator[str]:
    """A new folder of the temp folder, ``prefix + owner + "-<random>"`` (:func:`owner_tag`), for
    the time of a ``with`` block and removed after it (as :class:`tempfile.TemporaryDirectory`),
    the folders of that prefix whose owner has ended removed first (:func:`sweep_folders`). A
    process killed with ``kill -9`` ends no ``with`` block: its folder stays until the next one
    of that prefix starts (a ``tmpXXXXXXXX`` folder of ``TemporaryDirectory()`` stayed for ever,
    nothing telling whose it was). A live process's folder is never removed::

        with owned_temp_folder("lrgym-bench-") as folder:   # /tmp/lrgym-bench-4242.6778310.…-k2j4
            ...
    """
    import tempfile

    sweep_folders(prefix, pid_only_names=False)
    with tempfile.TemporaryDirectory(prefix=f"{prefix}{owner_tag()}-") as folder:
        yield folder
