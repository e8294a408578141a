"""What the results store (:mod:`lrgym.leaderboard.store`) raises, in one place: its errors
and the one test of SQLite's error for another process's lock (:func:`is_lock_error`). The store,
its side files (:mod:`lrgym.leaderboard.store_side_files`) and the commands that catch them all
import them from here (or through :mod:`lrgym.leaderboard.store`, which re-exports them)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = [
    "DanglingStoreLinkError",
    "ForeignPendingError",
    "KeptResultError",
    "NameTakenError",
    "SchemaVersionError",
    "StoreLockedError",
    "StoreUnwritableError",
    "is_lock_error",
]


class SchemaVersionError(RuntimeError):
    """The file was written with a newer, unknown schema version."""


class StoreLockedError(sqlite3.OperationalError):
    """Opening the store waited its whole busy timeout for another process's lock (a grader
    committing; in a rollback journal, a board being read): the message says how long."""


class DanglingStoreLinkError(ValueError):
    """The store's path is a symbolic link to nothing. A new store made through it would land where
    the link points (an empty mount point while the store's volume is not mounted), and the
    results written there would be hidden, as good as lost, once the volume is back."""


class NameTakenError(ValueError):
    """A submission asked for a name held by a baseline or by another owner."""


class StoreUnwritableError(RuntimeError):
    """The store takes no entries now (a full disk, a read-only file, an I/O error: SQLite's
    error other than a lock) while :meth:`ResultStore.flush_pending` writes the results waiting
    in its side files: they stay there; ``str()`` says so and what to do."""


class ForeignPendingError(ValueError):
    """The store's side-file folder (``<db>.pending``) is not the grader's own (see
    :meth:`ResultStore.flush_pending`): nothing is read from it or written to it."""


class KeptResultError(RuntimeError):
    """A finished evaluation could not be stored: its name was taken in the meantime (by
    another owner, between the grader's check before the run and the write after it), or the
    store refuses the entry (a field it cannot hold). Nothing is lost: the result is kept in the
    side file :attr:`kept` (``<token>.name-taken``, until :meth:`ResultStore.import_kept` stores it
    under another name; ``<token>.unwritable``, for a person to look at). ``str()`` says all of
    that. Not a ``ValueError``: the evaluation did run."""

    def __init__(self, message: str, kept: Path, reason: str) -> None:
        super().__init__(message)
        self.kept = kept
        self.reason = reason


def is_lock_error(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite's error is another process's lock held past the busy timeout."""
    return "locked" in str(exc) or "busy" in str(exc)
