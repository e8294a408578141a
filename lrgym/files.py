"""Input files a user names (a config, a ratings file, a references file), judged by what they
are before anything reads them: a folder, a FIFO (named pipe), a socket, a device, a symbolic
link loop or a dangling link is refused by name, never opened (reading a FIFO waits for a
writer forever). One home for the core, the baselines and the leaderboard::

    file_problem("runs/x.json")           # None for a regular file (links followed), else
                                          # "is a FIFO (named pipe)", "not found", ...
    read_regular_file(path, "--config")   # its text, or ValueError: --config PATH is a folder
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["file_problem", "is_descriptor_path", "kind_of", "link_target", "read_regular_file"]

#: what :func:`link_target` says of a link it cannot read
CHANGED_LINK = "(a link that changed while being read)"


def kind_of(mode: int) -> str:
    """What a file of ``mode`` (``stat``'s) is, with its article, for messages: ``a folder``, ``a
    symbolic link``, ``a FIFO (named pipe)``..."""
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISREG, "a regular file"), (stat.S_ISLNK, "a symbolic link"),
             (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"))
    return next((name for test, name in kinds if test(mode)), "a special file")


def link_target(path) -> str:
    """Where the symbolic link ``path`` leads, as written in it, for a message that names it
    (``... is a symbolic link to /mnt/keys/grader.key, which does not exist``); if it cannot be read
    now (removed or replaced by a file since it was seen to be a link), :data:`CHANGED_LINK`: the
    message is still the clear error it was built for, not a bare ``OSError`` from building it."""
    try:
        return os.readlink(path)
    except OSError:
        return CHANGED_LINK


def is_descriptor_path(path) -> bool:
    """Whether ``path`` names a file descriptor the process holds, through any chain of links:
    ``/dev/stdin``, ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N`` (bash's ``<(...)``) or
    ``/proc/<pid>/fd/N``. Such a path is a stream the user handed over (``--config /dev/stdin``,
    ``--markdown /dev/stdout``), read or written as it is, even when it is a pipe; the link chain
    is followed hop by hop (resolving ``/proc/self/fd/1`` would name its target instead)."""
    from pathlib import Path

    hop = Path(os.fspath(path)).absolute()
    for _ in range(40):
        parts = hop.parts
        if parts[1:3] == ("dev", "fd") or parts[1:2] == ("dev",) and parts[2:3] in (("stdin",), ("stdout",), ("stderr",)) \
                or parts[1:2] == ("proc",) and len(parts) > 3 and parts[3] == "fd":
            return True
        if not hop.is_symlink():
            return False
        try:
            link = Path(os.readlink(hop))
        except OSError:  # removed or replaced since it was a link: no descriptor (file_problem says what is there)
            return False
        hop = link if link.is_absolute() else hop.parent / link
    return False


def file_problem(path) -> str | None:
    """None if ``path`` is a regular file (symbolic links followed); else what is wrong, as the
    end of a sentence starting with the path: ``not found``, ``is a dangling symbolic link``,
    ``is a symbolic link loop``, ``is a folder``, ``is a FIFO (named pipe)``, ``cannot be read
    (Permission denied)``. Nothing is opened. A descriptor the process holds
    (:func:`is_descriptor_path`: ``/dev/stdin``, bash's ``<(...)``) is no problem: a stream the
    user handed over, read as it is."""
    if is_descriptor_path(path):
        return None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "is a dangling symbolic link" if os.path.islink(path) else "not found"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop"
        return f"cannot be read ({exc.strerror or exc})"
    except ValueError as exc:  # an embedded NUL byte
        return f"is no file path ({exc})"
    return None if stat.S_ISREG(st.st_mode) else f"is {kind_of(st.st_mode)}"


def read_regular_file(path, what: str, valid: str = "a regular file", binary: bool = False) -> str | bytes:
    """The contents of the regular file ``path`` (text, UTF-8; ``binary``: bytes), or a
    ``ValueError`` ``"{what} {path} is a FIFO (named pipe); valid: {valid}"`` (``what`` may be
    empty) for anything else
    (:func:`file_problem`), without opening it. Opened non-blocking and checked again once open,
    so a FIFO swapped in meanwhile is refused too, not waited on."""
    problem = file_problem(path)
    if problem is None and is_descriptor_path(path):  # a pipe the user handed over: read to its end
        with open(path, "rb") as f:
            data = f.read()
        try:
            return data if binary else data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = f"is not UTF-8 text ({exc})"
    elif problem is None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            problem = f"cannot be read ({exc.strerror or exc})"
        else:
            with os.fdopen(fd, "rb") as f:
                mode = os.fstat(f.fileno()).st_mode
                if stat.S_ISREG(mode):
                    data = f.read()
                    try:
                        return data if binary else data.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        problem = f"is not UTF-8 text ({exc})"
                else:
                    problem = f"is {kind_of(mode)}"
    raise ValueError(f"{what} {os.fspath(path)}".lstrip() + f" {problem}; valid: {valid}")
