"""The grader's folders of a sandbox: how much a policy's scratch folder holds, and the removal
of a folder whatever its owner did to it.

Without namespaces no tmpfs bounds what a policy writes (:mod:`lrgym.leaderboard.sandbox`'s
table): it works in a scratch folder inside the grader's private one, which
:class:`lrgym.leaderboard.sandbox.PolicyProcess` measures (:func:`folder_bytes`) every
:data:`SCRATCH_CHECK_SECONDS`, sooner when the file system's free space (:func:`free_bytes`)
dropped by more than the folder had left below ``tmp_mb``. The grader's private folder of every
sandbox, whatever the mode, is removed with :func:`remove_folder`, as are a worker's temp folder
and, without namespaces, what a job left in the scratch folder
(:func:`lrgym.leaderboard.job_cleanup.clean_files`).
"""

from __future__ import annotations

import errno
import os
import stat
import time

__all__ = ["SCRATCH_CHECK_SECONDS", "SCRATCH_MIN_ENTRY_BYTES", "folder_bytes", "free_bytes", "remove_folder"]


#: without namespaces: how often the grader measures the policy's scratch folder (at a reply or
#: while it waits; sooner only when the file system lost more space than the folder had left)
SCRATCH_CHECK_SECONDS = 0.2
#: what a file or folder costs at least when the scratch folder is measured (empty files are not free)
SCRATCH_MIN_ENTRY_BYTES = 4096


def folder_bytes(path: str, stop_above: int) -> int:
    """The disk space ``path`` and everything in it take (each entry its allocated blocks, at
    least :data:`SCRATCH_MIN_ENTRY_BYTES`, a hard-linked file once; links not followed),
    counted until the total passes ``stop_above`` (so the walk is short whatever it holds).

    The policy may change the folder while it is measured: an entry gone since it was listed
    is skipped, and a folder replaced by a file or a link since it was listed is counted as
    what it is now (never walked through). Anything else that cannot be measured (a folder the
    policy made unreadable or unsearchable, ``chmod 000`` or ``0600``) raises OSError naming
    it: the grader counts that as over the cap
    (:meth:`lrgym.leaderboard.sandbox.PolicyProcess._check_scratch`)."""
    total, seen, todo = 0, set(), [path]

    def count(info: os.stat_result) -> bool:
        """Add ``info``'s entry (once); True once the total is past ``stop_above``."""
        nonlocal total
        if (info.st_dev, info.st_ino) not in seen:
            seen.add((info.st_dev, info.st_ino))
            total += max(info.st_blocks * 512, SCRATCH_MIN_ENTRY_BYTES)
        return total > stop_above

    while todo:
        folder = todo.pop()
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # removed since it was listed
        except NotADirectoryError:  # replaced by a file or a link since it was listed
            try:
                info = os.lstat(folder)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(info.st_mode):  # and back again: it changes faster than it is measured
                raise OSError(errno.EAGAIN, "it kept changing between a folder and a file", folder) from None
            if count(info):
                return total
            continue
        try:
            with os.scandir(fd) as listing:  # entries stat-ed inside this folder, wherever it moves
                for entry in listing:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    except OSError as exc:
                        raise OSError(exc.errno, exc.strerror, os.path.join(folder, entry.name)) from None
                    if count(info):
                        return total
                    if stat.S_ISDIR(info.st_mode):
                        todo.append(os.path.join(folder, entry.name))
        finally:
            os.close(fd)
    return total


def free_bytes(path: str) -> int | None:
    """Free space of the file system holding ``path`` (None if it cannot be read): a change of
    it is the cheap sign that a folder on it may have grown
    (:meth:`lrgym.leaderboard.sandbox.PolicyProcess._scratch_due`)."""
    try:
        info = os.statvfs(path)
    except OSError:
        return None
    return info.f_bfree * info.f_frsize


def remove_folder(path: str) -> None:
    """Remove ``path`` and everything in it, also what its owner made unreadable or unsearchable
    (a policy's ``chmod 000`` folder was left behind by ``rmtree(ignore_errors=True)``), however
    deep: every folder is made ``u+rwx`` and emptied, its folders first moved up into ``path``
    itself (:func:`_empty_folder`), so no folder is ever more than one name below ``path``. (A
    chain of 1,500 folders made Python's recursive ``rmtree`` raise RecursionError out of the
    grader, and every later sweep of the leftover (:func:`lrgym.leaderboard.pool.sweep_orphaned_scratch`)
    raised it again: no grader of that user could start a worker; opening each folder from
    ``path`` one name at a time cost a chain's depth squared.)

    The owner may still be running (a policy process outliving its worker) and the grader may be
    root, so no link is ever followed, not even one swapped in for a folder while it is opened
    up: each folder is opened by its name in the folder opened before it with ``O_PATH |
    O_NOFOLLOW``, changed and listed through that descriptor (the folder opened, whatever has its
    name since), and moved or removed by its name in that folder (a link moved is a link). What
    cannot be removed (a live owner writing on while this call spent :data:`REMOVE_CPU_SECONDS`
    of its thread's CPU time) stays for the caller's next try. The bound is CPU time, not the
    wall clock: a chain takes one round a folder, and a 3,000-deep chain's 0.2 CPU-s took over
    10 s on a loaded machine (two cores shared by a dozen processes), so a 10 s wall-clock
    deadline left much of a finite folder behind while every round still removed something."""
    try:
        listing = _opened_up(_open_folder(path))
    except OSError:
        return  # gone, or no folder: a link or a file at ``path`` is not the grader's to follow
    moved, budget_end = 0, time.thread_time() + REMOVE_CPU_SECONDS
    try:
        progress = True
        # a round over ``path``'s entries; the folders moved up in one come in the next
        while progress and time.thread_time() < budget_end:
            progress = False
            with os.scandir(listing) as entries:  # scandir lists a copy of the descriptor
                names = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
            for name, is_folder in names:
                if is_folder:
                    moved, emptied = _empty_folder(listing, name, moved)
                    progress |= emptied
                try:
                    (os.rmdir if is_folder else os.unlink)(name, dir_fd=listing)
                    progress = True
                except OSError:
                    pass  # changed meanwhile: looked at again in the next round
    finally:
        os.close(listing)
    try:
        os.rmdir(path)
    except OSError:
        pass  # not empty: a live owner wrote on, or what stayed above


#: the CPU time (of the calling thread: its own work, whatever the machine's load) one
#: :func:`remove_folder` spends at most while each round over the folder still removes something
#: (a live owner may write on for ever); ≈ 50 times what a 3,000-deep chain takes
REMOVE_CPU_SECONDS = 10.0
#: the name a folder moved up into the removed folder gets (:func:`_empty_folder`), numbered
_MOVED_UP = ".lrgym-removing-{}"


def _empty_folder(parent: int, name: str, moved: int) -> tuple[int, bool]:
    """Open up the folder ``name`` of the folder ``parent`` (a readable descriptor) and empty
    it: its files and links are removed, its folders moved up into ``parent`` (named
    :data:`_MOVED_UP`, numbered from ``moved``). Returns (the next number, whether anything
    changed). A name that is no folder (any more), or that cannot be opened, changes nothing."""
    try:
        listing = _opened_up(_open_folder(name, parent))
    except OSError:
        return moved, False
    changed = False
    try:
        with os.scandir(listing) as entries:
            names = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
        for child, is_folder in names:
            try:
                if is_folder:
                    # a folder moved to another folder needs write permission of its own
                    os.close(_opened_up(_open_folder(child, listing), readable=False))
                    os.rename(child, _MOVED_UP.format(moved), src_dir_fd=listing, dst_dir_fd=parent)
                    moved += 1
                else:
                    os.unlink(child, dir_fd=listing)
                changed = True
            except OSError:
                moved += 1  # (a name taken by the owner: the next one)
    finally:
        os.close(listing)
    return moved, changed


def _open_folder(name: str, dir_fd: int | None = None) -> int:
    """An ``O_PATH`` descriptor of the folder ``name`` (in the folder ``dir_fd``, if given),
    opened with ``O_NOFOLLOW | O_DIRECTORY``: a link or a file there raises OSError. An
    ``O_PATH`` descriptor needs no read or search permission of the folder itself."""
    return os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


def _opened_up(fd: int, readable: bool = True) -> int | None:
    """Make the folder of the ``O_PATH`` descriptor ``fd`` ``u+rwx`` (through ``/proc/self/fd``:
    the folder opened, not what its path names now) and return a descriptor that lists it (or,
    not ``readable``, ``fd`` itself). Closes ``fd`` when it raises or returns another."""
    by_fd = f"/proc/self/fd/{fd}"
    try:
        os.chmod(by_fd, stat.S_IMODE(os.fstat(fd).st_mode) | stat.S_IRWXU)
        if not readable:
            return fd
        listing = os.open(by_fd, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return listing
