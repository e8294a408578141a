"""The leaderboard's results store: one embedded SQLite file.

One *entry* is one evaluation of one policy (a baseline or a submission) on one suite version;
its *runs* are the per-(family, instance, seed) results with their learning curves. An entry
and all its runs are written in a single ``BEGIN IMMEDIATE ... COMMIT`` transaction, so a
reader never sees an entry without all of its runs, even if the writer is killed mid-write.

Nothing is ever deleted or overwritten: re-submitting a name adds a new entry, and
:meth:`ResultStore.latest_entries` picks the most recent successful one per name
(:func:`version_key`: the same name in any spelling, ``keeper`` / ``Keeper`` / ``KEEPER``).

Concurrency: the file is opened in WAL mode with a busy timeout (30 s by default), so several
processes may write to the same file; writers queue instead of failing, readers never block.
:meth:`ResultStore.add_entry_durably` survives a database locked for longer: the finished entry
is first written to a side file (``<db>.pending/<token>.json``, beside the store's file itself: a
link to the store is followed once, when it is opened), the write is retried with
exponential backoff, and the side file is removed only after the commit; a side file left by a
grader that gave up or was killed is written by the next :meth:`~ResultStore.flush_pending`
(every grading run calls it), which also removes, and says, a side file half-written by a grader
that died writing it (no result: :meth:`~lrgym.leaderboard.store_side_files.SideFiles.
_settle_temp_files`). The entry's ``token`` makes that idempotent: an entry whose token is
already stored is not written twice. A finished entry whose name another owner took after the
grader's check before the run is never dropped: its side file is set aside as
``<token>.name-taken`` (:class:`KeptResultError` says so to the grader; every flush reports such
files) until :meth:`~ResultStore.import_kept` stores it under another name.

Names: a submission cannot take the name of a registered baseline or of a baseline entry of the
same suite, nor one held by another ``owner`` on any suite of the store; "the same name" is one
rule, :func:`lrgym.leaderboard.text.name_key` (NFKC, case, spaces and lookalikes such as
``I``/``l``/``1`` folded), and the error names the
existing name the new one is too close to. The check runs inside the write transaction, so two
concurrent graders cannot both claim a name. The same owner re-submitting a name, in any
spelling, adds a new version (:meth:`~ResultStore.latest_entries` shows the latest, under the
spelling it was last submitted with).

No key is stored: it is computed from the stored names whenever it is needed, so a change of
the rule applies to every existing file without a migration. A file written before the rule
folded lookalikes may hold two lookalike names of different owners (or of a baseline and a
submission); both stay on the board (versions are per kind and owner too), and the name
belongs to the one who claimed it first.

The file is created readable by its owner only (mode 0600).

Modules: this one holds :class:`ResultStore` (the SQLite file, its schema and rows) and is the
store's one import for its users: it re-exports the records and their JSON form
(:mod:`lrgym.leaderboard.store_records`), the errors (:mod:`lrgym.leaderboard.store_errors`) and
the side files' names (:mod:`lrgym.leaderboard.store_side_files`, whose :class:`~lrgym.leaderboard.
store_side_files.SideFiles` the store's side-file methods delegate to).

Encoding conventions
--------------------
* ``REAL`` columns: SQLite cannot hold NaN, so NaN is stored as ``NULL`` and read back as NaN;
  ``±inf`` is stored as is. Float fields of :class:`RunRecord` therefore never hold ``None``.
* JSON columns (curves, summary, env spec, ...) are strict JSON (no bare ``NaN``/``Infinity``
  tokens): a non-finite float is written as ``{"__float__": "nan" | "inf" | "-inf"}`` and
  decoded back to a float. NumPy scalars and arrays are converted to plain Python values
  (:func:`~lrgym.leaderboard.store_records.to_json`).
* ``created_at`` is the wall-clock UTC time of the write (ISO 8601); it is metadata only.
  "Most recent" always means the highest ``id`` (insertion order), not the latest timestamp.

Schema version: ``PRAGMA user_version`` (see :data:`SCHEMA_VERSION`). A file written by a
newer schema is refused rather than misread.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lrgym.files import link_target
from lrgym.leaderboard.store_errors import (DanglingStoreLinkError, ForeignPendingError, KeptResultError,
                                            NameTakenError, SchemaVersionError, StoreLockedError,
                                            StoreUnwritableError, is_lock_error)
from lrgym.leaderboard.store_records import (CURVE_KEYS, KINDS, STATUSES, EntryRecord, RunRecord,
                                             check_text_fields, from_json, stored_form, to_json, version_key)
from lrgym.leaderboard.store_side_files import UNWRITABLE_SUFFIX, SideFiles, kept_message
from lrgym.leaderboard.text import lookalike_note, name_key

__all__ = [
    "CURVE_KEYS",
    "DEFAULT_STORE_PATH",
    "KINDS",
    "SCHEMA_VERSION",
    "STATUSES",
    "UNWRITABLE_SUFFIX",
    "DanglingStoreLinkError",
    "EntryRecord",
    "ForeignPendingError",
    "KeptResultError",
    "NameTakenError",
    "ResultStore",
    "RunRecord",
    "SchemaVersionError",
    "StoreLockedError",
    "StoreUnwritableError",
    "default_store_path",
    "is_lock_error",
    "kept_message",
    "store_files",
    "stored_form",
    "version_key",
]

SCHEMA_VERSION = 2
"""Stored in ``PRAGMA user_version``; bump on any schema change (and add a migration).
v2: ``owner`` and ``token`` columns (name ownership, idempotent writes)."""

DEFAULT_STORE_PATH = "lrgym_leaderboard.sqlite"
"""Used when no path is given and ``$LRGYM_STORE`` is unset (relative to the cwd)."""

_DEFAULT_BUSY_TIMEOUT_S = 30.0


def store_files(path: str | os.PathLike) -> list[str]:
    """The files of the results store at ``path`` (by its real path, as :attr:`ResultStore.
    real_path`): the database, SQLite's ``-wal``, ``-shm`` and ``-journal`` beside it and the
    ``.pending`` side-file folder (:attr:`ResultStore.pending_dir`); none for an in-memory store."""
    if os.fspath(path) == ":memory:":
        return []
    db = os.path.realpath(path)
    return [db, db + "-wal", db + "-shm", db + "-journal", db + ".pending"]


def default_store_path() -> Path:
    """``$LRGYM_STORE`` if set, else :data:`DEFAULT_STORE_PATH`."""
    return Path(os.environ.get("LRGYM_STORE") or DEFAULT_STORE_PATH)


def _nan_to_null(x: float) -> float | None:
    return None if math.isnan(x) else x


def _null_to_nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# --------------------------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE entries (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    name                  TEXT    NOT NULL,
    kind                  TEXT    NOT NULL CHECK (kind IN ('baseline', 'submission')),
    status                TEXT    NOT NULL CHECK (status IN ('ok', 'failed')),
    failure_reason        TEXT,
    policy_source_hash    TEXT,
    suite_version         TEXT,
    env_spec_json         TEXT,
    package_versions_json TEXT,
    cpu                   TEXT,
    seeds_json            TEXT,
    created_at            TEXT    NOT NULL,
    summary_json          TEXT,
    n_runs                INTEGER NOT NULL,
    owner                 TEXT,
    token                 TEXT
);
CREATE INDEX entries_suite_name ON entries (suite_version, name, status);
CREATE UNIQUE INDEX entries_token ON entries (token);
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id        INTEGER NOT NULL REFERENCES entries (id),
    family          TEXT    NOT NULL,
    instance        INTEGER NOT NULL,
    seed            INTEGER NOT NULL,
    score           REAL,
    final_loss      REAL,
    initial_loss    REAL,
    diverged        INTEGER NOT NULL,
    steps_to_target REAL,
    curves_json     TEXT    NOT NULL
);
CREATE INDEX runs_entry ON runs (entry_id);
"""

_ENTRY_DATA_COLUMNS = (
    "name, kind, status, failure_reason, policy_source_hash, suite_version, env_spec_json, "
    "package_versions_json, cpu, seeds_json, created_at, summary_json, n_runs, owner, token"
)
_ENTRY_COLUMNS = "id, " + _ENTRY_DATA_COLUMNS
_RUN_COLUMNS = (
    "family, instance, seed, score, final_loss, initial_loss, diverged, steps_to_target, "
    "curves_json"
)


class ResultStore:
    """Append-only results store in one SQLite file (created, with its schema, on open).

    ``path`` defaults to :func:`default_store_path`; missing parent directories are created.
    Use as a context manager or call :meth:`close`. One instance per thread; any number of
    processes may open the same file.
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, timeout: float = _DEFAULT_BUSY_TIMEOUT_S
    ) -> None:
        #: the store as named (``--db``, ``$LRGYM_STORE``): what messages say
        self.path = Path(path) if path is not None else default_store_path()
        #: the file itself, resolved once here (links followed, absolute): what SQLite opens and
        #: where the side files go (:attr:`pending_dir`), so that every grader of one store, through
        #: a link or its real path, relative or absolute, shares one side-file folder
        self.real_path = self.path
        #: entries this object has committed (:meth:`add_entry`; replays not counted): what an
        #: interrupted command has saved, exact even when the stop signal came right after a commit
        self.entries_added = 0
        #: the side files of finished results the database has not taken (:attr:`pending_dir`)
        self._side_files = SideFiles(self)
        if str(self.path) != ":memory:":
            if self.path.is_symlink() and not self.path.exists():
                raise DanglingStoreLinkError(
                    f"results store {self.path} is a symbolic link to {link_target(self.path)}, which does not "
                    "exist (a store on a volume not mounted?); nothing was created through it; valid: a link to "
                    "an existing store, or a path without a link (a new store is made there)")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():  # readable by its owner only (not by a sandboxed policy)
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            self.real_path = Path(os.path.realpath(self.path))  # it exists now: no link to nothing is followed
        # isolation_level=None: no implicit transactions; we issue BEGIN IMMEDIATE ourselves.
        opened = time.monotonic()
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            str(self.real_path), timeout=timeout, isolation_level=None
        )
        try:
            self._conn.execute("PRAGMA foreign_keys = ON")
            # opening waits for another process's lock once, up to the busy timeout in all: each
            # statement that may wait gets what is left of it (_wait_left), not a timeout of its own
            self._open_deadline = opened + timeout
            self._set_wal()
            self._ensure_schema()
            self._open_deadline = None
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        except sqlite3.OperationalError as exc:
            self.close()
            if not is_lock_error(exc):
                raise
            raise StoreLockedError(f"{exc}; waited {time.monotonic() - opened:.1f} s, the busy timeout "
                                   f"({timeout:g} s)") from None
        except BaseException:
            self.close()
            raise

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r})"

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise sqlite3.ProgrammingError("ResultStore is closed")
        return self._conn

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _wait_left(self) -> None:
        """While the store opens: let the next statement wait for another process's lock only
        what is left of the open's busy timeout (SQLite's busy timeout is per statement: the open's
        three waits took up to three timeouts, 92 s at the default 30 s); none left: the statement
        still runs once, waiting for nothing (``timeout=0`` opens a store no one holds)."""
        if self._open_deadline is None:
            return
        left = self._open_deadline - time.monotonic()
        self.conn.execute(f"PRAGMA busy_timeout = {max(0, int(left * 1000))}")

    def _set_wal(self) -> None:
        # Switching a fresh file to WAL needs an exclusive lock and can report "locked" without
        # going through the busy handler when several processes open it at once: retry, within
        # the open's busy timeout (_wait_left).
        while True:
            self._wait_left()
            try:
                #: the journal mode SQLite set: ``wal``, or the file system's fallback (a rollback
                #: journal, ``delete``), where a read holds up writers (:meth:`snapshot`)
                self.journal_mode = str(self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or self._open_deadline is None or time.monotonic() >= self._open_deadline:
                    raise
                time.sleep(0.01)

    @property
    def journal_note(self) -> str | None:
        """None in WAL mode; else what a rollback journal (:attr:`journal_mode`: the file system
        refused WAL, as some network or FUSE ones do) means for this store, for the commands to
        say: a board's read (:meth:`snapshot`) holds graders' commits until it ends, and a commit
        waiting for it holds new reads; each waits up to the busy timeout, a grader then retries
        (:meth:`add_entry_durably`) and at worst leaves its result in :attr:`pending_dir`."""
        if self.journal_mode == "wal":
            return None
        return (f"note: the results store {self.path} is in SQLite's rollback-journal mode ({self.journal_mode}): its "
                f"file system refused WAL. A board being read (show, submit's board, report) holds up graders' commits "
                f"until it is read, and a commit waiting holds up new reads (each waits up to {self.busy_timeout:g} s; "
                f"a grader then retries, and at worst its result waits in {self.pending_dir} for the next grading run). "
                "A store on a local disk has no such waits")

    @property
    def busy_timeout(self) -> float:
        """Seconds a statement waits for another process's lock (SQLite's busy timeout)."""
        return int(self.conn.execute("PRAGMA busy_timeout").fetchone()[0]) / 1000

    def _ensure_schema(self) -> None:
        self._wait_left()
        version = self.schema_version
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{self.path} has schema version {version}; this lrgym knows up to "
                f"{SCHEMA_VERSION}. Upgrade lrgym to read it."
            )
        self._wait_left()
        with self._write_transaction() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version == 0:  # re-checked under the write lock: another process may have won
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            elif version == 1:  # v1 -> v2: name owners and write tokens
                conn.execute("ALTER TABLE entries ADD COLUMN owner TEXT")
                conn.execute("ALTER TABLE entries ADD COLUMN token TEXT")
                conn.execute("CREATE UNIQUE INDEX entries_token ON entries (token)")
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _write_transaction(self) -> _WriteTransaction:
        return _WriteTransaction(self.conn)

    # -- writing -----------------------------------------------------------------------------

    def add_entry(self, entry: EntryRecord, runs: Sequence[RunRecord] = ()) -> int:
        """Write ``entry`` and all its ``runs`` atomically; return the new entry id.

        ``entry.id`` must be ``None`` (records are never updated; re-adding a name creates a
        new entry). ``entry.n_runs``, if given, must equal ``len(runs)``.
        """
        if entry.id is not None:
            raise ValueError("entry already has an id; entries are never updated "
                             "(use dataclasses.replace(entry, id=None) to add a copy)")
        runs = list(runs)
        if entry.n_runs is not None and entry.n_runs != len(runs):
            raise ValueError(f"entry declares n_runs={entry.n_runs} but {len(runs)} runs given")
        # Encode everything before taking the write lock: keeps the lock short and means an
        # encoding error cannot happen mid-transaction.
        check_text_fields(entry)
        entry_row = (
            entry.name,
            entry.kind,
            entry.status,
            entry.failure_reason,
            entry.policy_source_hash,
            entry.suite_version,
            to_json(entry.env_spec),
            to_json(entry.package_versions),
            entry.cpu,
            to_json(list(entry.seeds)),
            entry.created_at or _now(),
            to_json(entry.summary),
            len(runs),
            entry.owner,
            entry.token,
        )
        run_rows = [
            (
                r.family,
                r.instance,
                r.seed,
                _nan_to_null(r.score),
                _nan_to_null(r.final_loss),
                _nan_to_null(r.initial_loss),
                int(r.diverged),
                _nan_to_null(r.steps_to_target),
                to_json(r.curves),
            )
            for r in runs
        ]
        with self._write_transaction() as conn:
            if entry.token is not None:
                row = conn.execute("SELECT id FROM entries WHERE token = ?", (entry.token,)).fetchone()
                if row is not None:  # a replayed write (see flush_pending): already stored
                    return int(row[0])
            if entry.kind == "submission":
                self._check_name(conn, entry)
            cur = conn.execute(
                f"INSERT INTO entries ({_ENTRY_DATA_COLUMNS}) "
                f"VALUES ({', '.join('?' * len(entry_row))})",
                entry_row,
            )
            entry_id = int(cur.lastrowid)
            conn.executemany(
                f"INSERT INTO runs (entry_id, {_RUN_COLUMNS}) VALUES (?, {', '.join('?' * 9)})",
                [(entry_id, *row) for row in run_rows],
            )
        self.entries_added += 1
        return entry_id

    @staticmethod
    def _check_name(conn: sqlite3.Connection, entry: EntryRecord) -> None:
        """``NameTakenError`` naming the existing name if ``entry``'s is the same name
        (:func:`~lrgym.leaderboard.text.name_key`) as a registered baseline's
        (:data:`lrgym.baselines.registry.BASELINES`), a baseline entry's of its suite, or a
        submission's of another owner on any suite of the store. The first submission of a name
        claims it for the whole store (an older store may hold lookalikes of two owners, or one
        name of two owners on two suites: the later one cannot add versions)."""
        from lrgym.baselines.registry import BASELINES

        key = name_key(entry.name)
        for name in BASELINES:  # whether or not the store holds it yet (import_kept, a new suite)
            if name_key(name) == key:
                raise NameTakenError(f"entry name {entry.name!r} is reserved for the baseline {name!r}"
                                     f"{lookalike_note(entry.name, name)}; choose another name")
        rows = conn.execute("SELECT name, kind, owner, suite_version FROM entries ORDER BY id")
        claim = None  # (name, owner) of the first submission with this key, on any suite
        for name, kind, owner, suite_version in rows:
            if name_key(name) != key:
                continue
            if kind == "baseline":
                if suite_version != entry.suite_version:
                    continue  # a baseline entry of another suite, of a name no longer registered
                raise NameTakenError(f"entry name {entry.name!r} is reserved for the baseline {name!r}"
                                     f"{lookalike_note(entry.name, name)}; choose another name")
            if claim is None:
                claim = (name, owner)
        if claim is not None and claim[1] != entry.owner:
            name, owner = claim
            which = "belongs to" if name == entry.name else f"is too close to {name!r}, a name of"
            raise NameTakenError(f"entry name {entry.name!r} {which} another submitter ({owner!r})"
                                 f"{lookalike_note(entry.name, name)}; choose another name")

    def name_available(self, name: str, suite_version: str | None, owner: str | None) -> str | None:
        """None if ``owner`` may submit under ``name`` on this suite, else the reason why not."""
        try:
            self._check_name(self.conn, EntryRecord(name=name, kind="submission", suite_version=suite_version,
                                                    owner=owner))
        except NameTakenError as exc:
            return str(exc)
        return None

    def record_failure(self, name: str, kind: str, reason: str, **metadata: Any) -> int:
        """Record a failed evaluation (no runs) with its ``reason``; return the entry id.

        ``metadata`` are further :class:`EntryRecord` fields (suite_version, env_spec,
        policy_source_hash, package_versions, cpu, seeds, summary, created_at).
        """
        entry = EntryRecord(name=name, kind=kind, status="failed", failure_reason=reason,
                            **metadata)
        return self.add_entry(entry, [])

    # -- its files ---------------------------------------------------------------------------

    def grader_files(self) -> list[str]:
        """The store's files, which no policy may read (each sandbox covers them, and their
        folder, where its bound folders show them: :func:`lrgym.leaderboard.host_start.masked_dirs`):
        the database, SQLite's ``-wal``, ``-shm`` and ``-journal`` beside it and :attr:`pending_dir`;
        none for an in-memory store."""
        return store_files(self.path if str(self.path) == ":memory:" else self.real_path)

    @property
    def pending_dir(self) -> Path:
        """Side files of finished entries not yet in the database: ``<db>.pending`` beside the
        store's file itself (:attr:`real_path`), however the store was named."""
        return self.real_path.with_name(self.real_path.name + ".pending")

    def has_token(self, token: str) -> bool:
        """Whether an entry written with this ``token`` (:attr:`EntryRecord.token`) is stored."""
        return self.conn.execute("SELECT 1 FROM entries WHERE token = ?", (token,)).fetchone() is not None

    # -- side files: kept results (lrgym.leaderboard.store_side_files.SideFiles) ---------------

    def add_entry_durably(self, entry: EntryRecord, runs: Sequence[RunRecord] = (), *,
                          patience: float = 600.0, log=None) -> int | None:
        """:meth:`add_entry`, surviving a locked database: the entry waits in a side file meanwhile
        (:meth:`~lrgym.leaderboard.store_side_files.SideFiles.add_entry_durably`)."""
        return self._side_files.add_entry_durably(entry, runs, patience=patience, log=log)

    def flush_pending(self, log=None) -> list[int]:
        """Write every side file left by an earlier run (:meth:`SideFiles.flush_pending
        <lrgym.leaderboard.store_side_files.SideFiles.flush_pending>`)."""
        return self._side_files.flush_pending(log)

    def import_kept(self, path: str | os.PathLike[str], name: str) -> int:
        """Store the result kept in ``path`` under the entry name ``name`` (:meth:`SideFiles.import_kept
        <lrgym.leaderboard.store_side_files.SideFiles.import_kept>`)."""
        return self._side_files.import_kept(path, name)

    def waiting_results(self) -> list[Path]:
        """The side files of finished entries not in the database yet (:meth:`SideFiles.waiting_results
        <lrgym.leaderboard.store_side_files.SideFiles.waiting_results>`)."""
        return self._side_files.waiting_results()

    def kept_results(self) -> list[Path]:
        """The side files set aside because their name was taken (:meth:`SideFiles.kept_results
        <lrgym.leaderboard.store_side_files.SideFiles.kept_results>`)."""
        return self._side_files.kept_results()

    def unwritable_results(self) -> list[Path]:
        """The side files set aside because the store refuses their entry (:meth:`SideFiles.
        unwritable_results <lrgym.leaderboard.store_side_files.SideFiles.unwritable_results>`)."""
        return self._side_files.unwritable_results()

    def side_file_notes(self) -> list[str]:
        """What a board says of the results not on it (:meth:`SideFiles.side_file_notes
        <lrgym.leaderboard.store_side_files.SideFiles.side_file_notes>`)."""
        return self._side_files.side_file_notes()

    def waiting_note(self, side: Path) -> str | None:
        """What a board says of a side file waiting to be written (:meth:`SideFiles.waiting_note
        <lrgym.leaderboard.store_side_files.SideFiles.waiting_note>`)."""
        return self._side_files.waiting_note(side)

    def kept_note(self, kept: Path) -> str | None:
        """What a board says of a result kept for another name (:meth:`SideFiles.kept_note
        <lrgym.leaderboard.store_side_files.SideFiles.kept_note>`)."""
        return self._side_files.kept_note(kept)

    def unwritable_note(self, kept: Path) -> str | None:
        """What a board says of a result the store refuses (:meth:`SideFiles.unwritable_note
        <lrgym.leaderboard.store_side_files.SideFiles.unwritable_note>`)."""
        return self._side_files.unwritable_note(kept)

    # -- reading -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def snapshot(self):
        """Every read inside the ``with`` sees the store at one moment: one SQLite read
        transaction, begun at once (its first read fixes the moment). A board reads its latest
        entries, their runs and its failures in several queries, and an entry another grader
        committed between two of them was half in it (its failure listed beside a ranking of the
        moment before). In WAL mode (every store lrgym opens, where the file system allows it:
        :attr:`journal_mode`) writers go on meanwhile and their entries wait for the next read;
        in a rollback journal they wait for the read to end (up to the busy timeout, then
        :meth:`add_entry_durably`'s side file). Nested: the outer one holds. No write may run
        inside it."""
        conn = self.conn
        if conn.in_transaction:  # inside an outer snapshot: its moment holds
            yield self
            return
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT 1 FROM entries LIMIT 1").fetchall()  # the read transaction starts here
            yield self
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")  # (read only: ends the read)

    def entries(
        self,
        suite_version: str | None = None,
        status: str | None = None,
        *,
        name: str | None = None,
        kind: str | None = None,
    ) -> list[EntryRecord]:
        """All entries matching the given filters (``None`` = any), oldest first. ``name``
        matches the same name in any spelling (:func:`~lrgym.leaderboard.text.name_key`:
        ``name="keeper"`` finds the versions submitted as ``Keeper`` too)."""
        where, params = [], []
        for column, value in (("suite_version", suite_version), ("status", status), ("kind", kind)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT {_ENTRY_COLUMNS} FROM entries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"
        rows = self.conn.execute(sql, params)
        if name is not None:
            key = name_key(name)
            rows = (row for row in rows if name_key(row[1]) == key)
        return [_entry_from_row(row) for row in rows]

    def suite_versions(self) -> dict[str, int]:
        """How many entries (of any status) the store holds of each suite version, by version: what
        a reader who asked for a suite the store holds nothing of is told it does hold
        (:func:`lrgym.leaderboard.provenance.other_suites_note`, ``load_results``' warning)."""
        rows = self.conn.execute("SELECT suite_version, COUNT(*) FROM entries WHERE suite_version IS NOT NULL "
                                 "GROUP BY suite_version ORDER BY suite_version")
        return {str(version): int(n) for version, n in rows}

    def entry(self, entry_id: int) -> EntryRecord:
        """The entry with this id (``KeyError`` if there is none)."""
        row = self.conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE id = ?", (entry_id,)
        ).fetchone()
        if row is None:
            raise KeyError(entry_id)
        return _entry_from_row(row)

    def latest_entries(self, suite_version: str, *, kind: str | None = None) -> list[EntryRecord]:
        """The most recent (highest id) ``ok`` entry of every board entry (:func:`version_key`:
        ``keeper``, ``KEEPER`` and ``Keeper`` of one owner are versions of one) for this suite
        version, sorted by the name it was last submitted with. Failed attempts never replace an
        earlier successful one."""
        sql = (f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE suite_version = ? AND status = 'ok'"
               + (" AND kind = ?" if kind is not None else "") + " ORDER BY id")
        params = (suite_version,) if kind is None else (suite_version, kind)
        latest = {}  # version key -> its newest entry (rows come oldest first)
        for row in self.conn.execute(sql, params):
            entry = _entry_from_row(row)
            latest[version_key(entry)] = entry
        return sorted(latest.values(), key=lambda e: (e.name, e.id))

    def runs(self, entry_id: int, *, curves: bool = True) -> list[RunRecord]:
        """The runs of an entry, in the order they were given to :meth:`add_entry`. ``curves=False``
        leaves their curves out (``{}``): a ranking needs none, and they are nearly all of a run's
        bytes (≈ 1 MB of JSON per v2 entry, decoded into ≈ 2 MB of Python floats)."""
        columns = _RUN_COLUMNS if curves else _RUN_COLUMNS.replace("curves_json", "NULL")
        rows = self.conn.execute(
            f"SELECT {columns} FROM runs WHERE entry_id = ? ORDER BY id", (entry_id,)
        )
        return [_run_from_row(row) for row in rows]

    def check_integrity(self) -> bool:
        """True iff SQLite's ``integrity_check`` says ok, no run points at a missing entry, and
        every entry has exactly ``n_runs`` runs (no partial entries)."""
        conn = self.conn
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        if rows != [("ok",)]:
            return False
        if conn.execute("PRAGMA foreign_key_check").fetchall():
            return False
        partial = conn.execute(
            "SELECT 1 FROM entries e WHERE e.n_runs != "
            "(SELECT COUNT(*) FROM runs r WHERE r.entry_id = e.id) LIMIT 1"
        ).fetchone()
        return partial is None


class _WriteTransaction:
    """``BEGIN IMMEDIATE`` (take the write lock up front, waiting up to the busy timeout) ...
    ``COMMIT``, or ``ROLLBACK`` on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
                return
            except BaseException:
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        # SQLite rolls back by itself after some errors; a second ROLLBACK would then raise
        # and hide the original exception.
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


def _entry_from_row(row: tuple) -> EntryRecord:
    (id_, name, kind, status, failure_reason, source_hash, suite_version, env_spec_json,
     package_versions_json, cpu, seeds_json, created_at, summary_json, n_runs, owner, token) = row
    return EntryRecord(
        name=name,
        kind=kind,
        status=status,
        failure_reason=failure_reason,
        policy_source_hash=source_hash,
        suite_version=suite_version,
        env_spec=from_json(env_spec_json),
        package_versions=from_json(package_versions_json) or {},
        cpu=cpu,
        seeds=tuple(from_json(seeds_json) or ()),
        summary=from_json(summary_json),
        created_at=created_at,
        n_runs=int(n_runs),
        id=int(id_),
        owner=owner,
        token=token,
    )


def _run_from_row(row: tuple) -> RunRecord:
    (family, instance, seed, score, final_loss, initial_loss, diverged, steps_to_target,
     curves_json) = row
    return RunRecord(
        family=family,
        instance=instance,
        seed=seed,
        score=_null_to_nan(score),
        final_loss=_null_to_nan(final_loss),
        initial_loss=_null_to_nan(initial_loss),
        diverged=bool(diverged),
        steps_to_target=_null_to_nan(steps_to_target),
        curves=from_json(curves_json) or {},
    )
