"""The grader's folders of a sandbox: how much a policy's scratch folder holds, and the removal
of a folder whatever its owner did to it.

Without namespaces no tmpfs bounds what a policy writes (:mod:`lrgym.leaderboard.sandbox`'s
table): it works in a scratch folder inside the grader's private one, which
:class:`lrgym.leaderboard.sandbox.PolicyProcess` measures (:func:`folder_bytes`) every
:data:`SCRATCH_CHECK_SECONDS`, sooner when the file system's free space (:func:`free_bytes`)
dropped by more than the folder had left below ``tmp_mb``. The grader's private folder of every
sandbox, whatever the mode, is removed with :func:`remove_folder`.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat

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
    (a policy's ``chmod 000`` folder was left behind by ``rmtree(ignore_errors=True)``): every
    folder in it is made ``u+rwx`` again and the removal retried.

    The owner may still be running (a policy process outliving its worker) and the grader may be
    root, so no link is ever followed, not even one swapped in for a folder while it is opened
    up: each folder is opened (:func:`_open_folder`) one name at a time from ``path`` with
    ``O_NOFOLLOW``, and changed and listed through that descriptor, the folder opened, whatever
    has its name since."""
    shutil.rmtree(path, ignore_errors=True)
    if not os.path.lexists(path):
        return
    todo: list[tuple[str, ...]] = [()]  # folders to open up, as their names below ``path``
    while todo:
        names = todo.pop()
        try:
            fd = _open_folder(path, names)
        except OSError:
            continue  # gone, or no folder (any more): a file or a link, left to rmtree
        try:
            by_fd = f"/proc/self/fd/{fd}"  # the folder opened, not what its path names now
            os.chmod(by_fd, stat.S_IMODE(os.fstat(fd).st_mode) | stat.S_IRWXU)
            readable = os.open(by_fd, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                with os.scandir(readable) as listing:  # scandir lists a copy of the descriptor
                    todo.extend(names + (entry.name,) for entry in listing if entry.is_dir(follow_symlinks=False))
            finally:
                os.close(readable)
        except OSError:
            continue
        finally:
            os.close(fd)
    shutil.rmtree(path, ignore_errors=True)


def _open_folder(path: str, names: tuple[str, ...]) -> int:
    """An ``O_PATH`` descriptor of the folder ``path``/``names``, each of ``path``'s last name and
    ``names`` opened relative to the one before with ``O_NOFOLLOW | O_DIRECTORY``: a link or a
    file at any of them raises OSError (the folders above ``path`` are the grader's own). An
    ``O_PATH`` descriptor needs no read or search permission of the folder itself."""
    flags = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags)
    try:
        for name in names:
            child = os.open(name, flags, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd
