"""Walking a path one component at a time, so that no symbolic link is followed unless judged.

The kernel's own resolution of ``/srv/keys/grader.key`` follows whatever link is at ``srv`` or
``keys`` at the moment of the open. A check made beforehand (``lstat`` of every component) is
outwitted by a swap between the check and the open: a folder on the way renamed and replaced by
a link, and the open goes where the link leads (``O_NOFOLLOW`` on the full path guards its last
component only). :func:`walk_to_last` never opens a path whole: it opens ``/``, then each
component relative to the descriptor of the one before, with ``O_NOFOLLOW``; the folders it
passes through are the ones it opened (a folder renamed meanwhile is still the one its
descriptor holds), and a link met on the way is followed only if ``on_link``, shown the link
and the descriptor of the folder it lies in, accepts it and says where it leads::

    fd, name, shown = walk_to_last("/srv/keys/grader.key", on_error=...)   # no link followed
    os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)                 # the caller opens the last

Two users, one walk: :mod:`lrgym.leaderboard.submission_files` (a submission's folder, no link
at any level) and :mod:`lrgym.leaderboard.private` (a private suite's key: links of the grader's
own or root's, in folders only their owner writes, followed; any other refused).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["MAX_LINKS", "SEARCH_FLAGS", "walk_to_last"]

#: links followed on one walk before it ends as a loop (the kernel's own limit, ``ELOOP``)
MAX_LINKS = 40
#: how a folder on the way is opened: to be searched only (``O_PATH``: no read permission
#: needed), never through a link (``O_NOFOLLOW``, and ``O_DIRECTORY``: a link is no folder)
SEARCH_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def walk_to_last(path: str | os.PathLike, *, on_error: Callable[[OSError, int, str, Path], BaseException],
                 on_link: Callable[[int, str, Path], str] | None = None) -> tuple[int, str, Path]:
    """(a descriptor of the folder holding the last component of ``path``, the last component's
    name in it, the path it is shown as), every folder on the way opened relative to the one
    before with ``O_NOFOLLOW`` (:data:`SEARCH_FLAGS`). The caller opens the last component
    relative to the descriptor (with ``O_NOFOLLOW``) and closes the descriptor. ``path`` is
    made absolute against the working directory; ``..`` is the parent of the folder reached
    (resolve it lexically first, :func:`os.path.abspath`, where no link may be on the way).
    ``/`` itself is (its descriptor, ``"."``, ``/``).

    A component that does not open: ``on_error(exc, folder descriptor, name, shown path)``
    returns the exception raised. ``on_link``: None, a link is such a component (no link is
    followed); else a link met at any level, the last too, is passed as ``on_link(folder
    descriptor, name, shown path)``, which raises to refuse it or returns where it leads
    (``os.readlink(name, dir_fd=...)``), and the walk goes on there (an absolute target from
    ``/``, a relative one from the link's folder). More than :data:`MAX_LINKS` links:
    ``on_error`` with ``ELOOP``. A last component that is missing is returned as it is (the
    caller's open says so)."""
    pending = list(Path(path).absolute().parts[1:])
    fd, shown, links = os.open("/", SEARCH_FLAGS), Path("/"), 0
    try:
        while pending:
            name = pending.pop(0)
            at = shown / name
            if not pending and (on_link is None or not _is_link(fd, name)):
                return fd, name, at
            if pending:
                try:
                    child = os.open(name, SEARCH_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if on_link is None or not _is_link(fd, name):
                        raise on_error(exc, fd, name, at) from None
                else:
                    os.close(fd)
                    fd, shown = child, at
                    continue
            links += 1
            if links > MAX_LINKS:
                raise on_error(OSError(errno.ELOOP, os.strerror(errno.ELOOP)), fd, name, at)
            target = Path(on_link(fd, name, at))
            pending[:0] = target.parts[1:] if target.is_absolute() else target.parts
            if target.is_absolute():
                root = os.open("/", SEARCH_FLAGS)
                os.close(fd)
                fd, shown = root, Path("/")
        return fd, ".", shown
    except BaseException:
        os.close(fd)
        raise


def _is_link(dir_fd: int, name: str) -> bool:
    import stat

    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    except OSError:
        return False
