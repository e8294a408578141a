"""A race played out on purpose, for the tests of code that reads a symbolic link it has seen:
the link vanishes between the look and the read."""

from __future__ import annotations

import os


def links_removed_when_read(monkeypatch) -> None:
    """From now on, ``os.readlink`` of a path (not of a name relative to a folder's descriptor, as
    a walk reads its links) first removes the link, as if it vanished just before, and then reads
    it: ``FileNotFoundError``, as the real race gives."""
    real_readlink = os.readlink

    def removed_first(path, *, dir_fd=None):
        if dir_fd is None and os.path.lexists(path):
            os.unlink(path)
        return real_readlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "readlink", removed_first)
