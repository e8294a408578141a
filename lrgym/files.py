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

__all__ = ["file_problem", "kind_of", "read_regular_file"]


def kind_of(mode: int) -> str:
    """What a file of ``mode`` (``stat``'s) is, with its article, for messages: ``a folder``, ``a
    symbolic link``, ``a FIFO (named pipe)``..."""
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISREG, "a regular file"), (stat.S_ISLNK, "a symbolic link"),
             (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"))
    return next((name for test, name in kinds if test(mode)), "a special file")


def file_problem(path) -> str | None:
    """None if ``path`` is a regular file (symbolic links followed); else what is wrong, as the
    end of a sentence starting with the path: ``not found``, ``is a dangling symbolic link``,
    ``is a symbolic link loop``, ``is a folder``, ``is a FIFO (named pipe)``, ``cannot be read
    (Permission denied)``. Nothing is opened."""
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
    if problem is None:
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
