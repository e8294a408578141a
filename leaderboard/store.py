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
that died writing it (no result: :meth:`~ResultStore._settle_temp_files`). The entry's ``token``
makes that idempotent: an entry whose token is already stored is not written twice. A finished entry whose name another owner took after the
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

Encoding conventions
--------------------
* ``REAL`` columns: SQLite cannot hold NaN, so NaN is stored as ``NULL`` and read back as NaN;
  ``±inf`` is stored as is. Float fields of :class:`RunRecord` therefore never hold ``None``.
* JSON columns (curves, summary, env spec, ...) are strict JSON (no bare ``NaN``/``Infinity``
  tokens): a non-finite float is written as ``{"__float__": "nan" | "inf" | "-inf"}`` and
  decoded back to a float. NumPy scalars and arrays are converted to plain Python values.
* ``created_at`` is the wall-clock UTC time of the write (ISO 8601); it is metadata only.
  "Most recent" always means the highest ``id`` (insertion order), not the latest timestamp.

Schema version: ``PRAGMA user_version`` (see :data:`SCHEMA_VERSION`). A file written by a
newer schema is refused rather than misread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lrgym.baselines.interrupts import defer_stop_signals
from lrgym.baselines.outputs import replace_file
from lrgym.baselines.owner_names import owner_gone, owner_tag
from lrgym.baselines.shell_words import shell_option, shell_path
from lrgym.files import kind_of, link_target
from lrgym.leaderboard.ownership import own_problem
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
    "store_files",
    "stored_form",
    "version_key",
]

SCHEMA_VERSION = 2
"""Stored in ``PRAGMA user_version``; bump on any schema change (and add a migration).
v2: ``owner`` and ``token`` columns (name ownership, idempotent writes)."""

KINDS = ("baseline", "submission")
STATUSES = ("ok", "failed")
CURVE_KEYS = ("lr", "train_loss", "val_loss", "metric")
"""The per-step curves the runner records for each run (others are allowed and kept)."""

DEFAULT_STORE_PATH = "lrgym_leaderboard.sqlite"
"""Used when no path is given and ``$LRGYM_STORE`` is unset (relative to the cwd)."""

_DEFAULT_BUSY_TIMEOUT_S = 30.0
#: a half-written side file whose writer cannot be judged (:meth:`ResultStore._settle_temp_files`)
#: is said once it is this old: a side file of ≈ 1 MB is written in well under a second
STALE_TEMP_S = 3600.0


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


#: suffix of a side file set aside because its name was taken (:meth:`ResultStore.kept_results`)
KEPT_SUFFIX = ".name-taken"
#: the private temp folder of a result no side file could hold (a full disk: :meth:`ResultStore.import_kept` takes it)
KEPT_ELSEWHERE_PREFIX = "lrgym-kept-"
#: suffix of a side file set aside because the store refuses its entry (a field it cannot hold:
#: :meth:`ResultStore.unwritable_results`); every flush says so until someone looks at it
UNWRITABLE_SUFFIX = ".unwritable"
#: what the store refuses of an entry (each says why): it stays in its side file, set aside
_UNWRITABLE_ERRORS = (ValueError, TypeError, sqlite3.IntegrityError, sqlite3.InterfaceError)


def kept_message(name: str, reason: str, kept: Path, db: Path, ran: bool = True) -> str:
    """What a submitter whose result was set aside is told: the evaluation ran, its name was
    taken by another submitter in the meantime (``reason``: the name check's words), where the
    result is kept, and the command that stores it under another name."""
    what = "the evaluation ran to the end, but" if ran else "a finished evaluation waiting to be stored:"
    return (f"entry {name!r}: {what} its name was taken by another submitter in the meantime ({reason}); "
            f"the result is not lost: it is kept in {kept}; store it under another name with "
            f"`lrgym leaderboard import-kept {shell_path(kept)} --name NEW_NAME {shell_option('--db', db)}`")


def _check_own_file(path: Path) -> None:
    """``ValueError`` unless ``path`` is a regular file (no link) of this user in a folder of this
    user that no one else may write to: a kept result the grader wrote, not one another local
    user planted (whose entry :meth:`ResultStore.import_kept` would store as it stands)."""
    me = os.geteuid()
    file = own_problem(path, folder=False, closed=0)  # FileNotFoundError: said by the caller
    if file is not None:
        raise ValueError(f"it is not a regular file of uid {me} ({file.describe()})")
    folder = own_problem(path.parent, folder=True)
    if folder is not None:
        raise ValueError(f"its folder is not uid {me}'s alone ({folder.describe()})")


def unwritable_message(name: str, reason: str, kept: Path) -> str:
    """What the grader says of a finished result the store refuses: why, and where it is kept."""
    return (f"entry {ascii(name)[1:-1][:80]!r}: a finished result the store refuses ({reason[:300]}); it is not "
            f"lost: it is kept in {kept} and no later run stops on it; look at it and remove it by hand")


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


def version_key(entry: EntryRecord) -> tuple:
    """Entries with equal keys are versions of one board entry (the latest is shown): the same
    name (:func:`~lrgym.leaderboard.text.name_key`, so ``keeper`` and ``KEEPER`` are one entry),
    kind and owner. The name check makes kind and owner follow from the name in a store written
    today; they keep apart the lookalike names an older store may hold (see the module docs)."""
    return entry.kind, entry.owner, name_key(entry.name)


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    """One run of a policy on one (family, instance, seed) of the suite.

    Float fields may be NaN (undefined) or ±inf; by convention ``steps_to_target`` is
    ``inf`` when the target loss was never reached. ``curves`` maps a curve name (see
    :data:`CURVE_KEYS`: ``lr``, ``train_loss``, ``val_loss``, ``metric``) to its per-step
    values. Inputs are normalised on construction (NumPy scalars/arrays become ``int`` /
    ``float`` / ``tuple[float, ...]``).
    """

    family: str
    instance: int
    seed: int
    score: float
    final_loss: float
    initial_loss: float
    diverged: bool
    steps_to_target: float = math.inf
    curves: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "family", str(self.family))
        object.__setattr__(self, "instance", int(self.instance))
        object.__setattr__(self, "seed", int(self.seed))
        for name in ("score", "final_loss", "initial_loss", "steps_to_target"):
            object.__setattr__(self, name, _as_float(getattr(self, name)))
        object.__setattr__(self, "diverged", bool(self.diverged))
        curves = {str(k): tuple(_as_float(x) for x in v) for k, v in dict(self.curves).items()}
        object.__setattr__(self, "curves", curves)


@dataclass(frozen=True)
class EntryRecord:
    """One evaluated policy on one suite version: its metadata and aggregate summary.

    ``id``, ``n_runs`` and ``created_at`` are filled in by the store: leave them ``None``
    when writing (``created_at`` may be given explicitly); records read back carry them.
    ``n_runs`` is the number of runs written with the entry, and the store guarantees that
    exactly that many runs exist for it.
    """

    name: str
    kind: str  # one of KINDS
    status: str = "ok"  # one of STATUSES
    failure_reason: str | None = None
    policy_source_hash: str | None = None
    suite_version: str | None = None
    env_spec: Any = None  # JSON-able (usually a dict)
    package_versions: Mapping[str, str] = field(default_factory=dict)
    cpu: str | None = None
    seeds: tuple[int, ...] = ()
    summary: Any = None  # JSON-able aggregate scores (IQM, CI, ...)
    created_at: str | None = None
    n_runs: int | None = None
    id: int | None = None
    owner: str | None = None  # who submitted it (a submission's name belongs to its owner)
    token: str | None = None  # unique per evaluation: a replayed write is not stored twice

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        object.__setattr__(self, "name", str(self.name))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        object.__setattr__(self, "package_versions", dict(self.package_versions or {}))


# --------------------------------------------------------------------------------------------
# Encoding helpers
# --------------------------------------------------------------------------------------------

_FLOAT_TAG = "__float__"


def _as_float(x: Any) -> float:
    return math.nan if x is None else float(x)


def _nan_to_null(x: float) -> float | None:
    return None if math.isnan(x) else x


def _null_to_nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _tagged_json(obj: Any) -> Any:
    """Plain-JSON version of ``obj``; non-finite floats become tagged objects."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if math.isfinite(obj):
            return float(obj)
        return {_FLOAT_TAG: "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")}
    if isinstance(obj, Mapping):
        return {str(k): _tagged_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_tagged_json(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _tagged_json(dataclasses.asdict(obj))
    if hasattr(obj, "tolist"):  # NumPy arrays and scalars
        return _tagged_json(obj.tolist())
    if isinstance(obj, Iterable):
        return [_tagged_json(v) for v in obj]
    raise TypeError(f"cannot store {type(obj).__name__} as JSON: {obj!r}")


#: the entry's columns stored as SQLite TEXT (UTF-8)
_TEXT_FIELDS = ("name", "kind", "status", "failure_reason", "policy_source_hash", "suite_version", "cpu",
                "created_at", "owner", "token")


def _check_text_fields(entry: EntryRecord) -> None:
    """``ValueError`` naming the field if one of ``entry``'s text columns is no UTF-8 text (a lone
    surrogate such as ``"\\udc80"``: Python holds it, SQLite's encoder refuses it)."""
    for name in _TEXT_FIELDS:
        value = getattr(entry, name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise TypeError(f"entry field {name}={value!r} is a {type(value).__name__}; valid: a string or None")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"entry field {name}={ascii(value)[:200]} is not UTF-8 text ({exc.reason} at "
                             f"position {exc.start}); valid: text without lone surrogates") from None


def _dumps(obj: Any) -> str:
    return json.dumps(_tagged_json(obj), allow_nan=False, separators=(",", ":"))


def _untag(d: dict) -> Any:
    if len(d) == 1 and _FLOAT_TAG in d:
        return float(d[_FLOAT_TAG])
    return d


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text, object_hook=_untag)


def stored_form(obj: Any) -> Any:
    """``obj`` as the store gives it back (tuples as lists, NumPy values as Python's): what a
    value computed now is compared with a stored one in."""
    return _loads(_dumps(obj))


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
        _check_text_fields(entry)
        entry_row = (
            entry.name,
            entry.kind,
            entry.status,
            entry.failure_reason,
            entry.policy_source_hash,
            entry.suite_version,
            _dumps(entry.env_spec),
            _dumps(entry.package_versions),
            entry.cpu,
            _dumps(list(entry.seeds)),
            entry.created_at or _now(),
            _dumps(entry.summary),
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
                _dumps(r.curves),
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

    # -- durable writes ----------------------------------------------------------------------

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

    def add_entry_durably(self, entry: EntryRecord, runs: Sequence[RunRecord] = (), *,
                          patience: float = 600.0, log=None) -> int | None:
        """:meth:`add_entry`, surviving a locked database: the entry goes to a side file first,
        the write is retried with exponential backoff for ``patience`` seconds, and the side file
        is removed after the commit. Returns the entry id, or None if the database stayed locked
        (the entry then waits in :attr:`pending_dir` for :meth:`flush_pending`). A name taken by
        another owner since the check before the run raises :class:`KeptResultError`: the side file
        is set aside (``<token>.name-taken``) for :meth:`import_kept`, never dropped."""
        import uuid

        if entry.token is None:
            entry = dataclasses.replace(entry, token=uuid.uuid4().hex)
        try:
            side = self._write_pending(entry, runs)
        except (ForeignPendingError, OSError) as exc:  # (another user made <db>.pending during the run)
            side = self._write_elsewhere(entry, runs)
            if log is not None:
                log(f"entry {entry.name!r}: no side file in {self.pending_dir} ({exc}); kept in {side} "
                    "until the store has it")
        deadline, delay = time.monotonic() + patience, 0.05
        while True:
            try:
                # committed and its side file removed together: a stop signal (SIGTERM, Ctrl-C) waits
                # the few ms between them, so an interrupted grader leaves no side file of a stored entry
                with defer_stop_signals():
                    entry_id = self.add_entry(entry, runs)
                    self._remove_side_file(side)
            except NameTakenError as exc:  # claimed by another owner since the check before the run
                kept = self._set_aside(side)
                raise KeptResultError(kept_message(entry.name, str(exc), kept, self.path), kept, str(exc)) from None
            except _UNWRITABLE_ERRORS as exc:  # the store refuses it: kept, said, never dropped
                kept = self._set_aside(side, UNWRITABLE_SUFFIX)
                raise KeptResultError(unwritable_message(entry.name, f"{type(exc).__name__}: {exc}", kept), kept,
                                      str(exc)) from None
            except sqlite3.OperationalError as exc:
                if not is_lock_error(exc) or time.monotonic() + delay > deadline:
                    if log is not None:
                        log(f"could not write entry {entry.name!r} ({exc}); kept in {side}; {self._kept_how(entry, side)}")
                    return None
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            return entry_id

    def _kept_how(self, entry: EntryRecord, side: Path) -> str:
        """How a finished entry the database did not take (locked too long, a full disk) gets in:
        a side file in :attr:`pending_dir` by the next grading run (:meth:`flush_pending`); one
        kept elsewhere (``_write_elsewhere``: the side-file folder was not usable, as on a full
        disk) by no run, so the command that stores it is named (:meth:`import_kept`, which takes
        submissions only: a baseline is run again)."""
        if side.parent == self.pending_dir:
            return "the next grading run of this store writes it"
        if entry.kind != "submission":
            return (f"no run reads it from there (a baseline's result is not imported): once the store can take "
                    f"entries, run it again on {entry.suite_version} (`lrgym leaderboard run-baselines "
                    f"{shell_option('--only', entry.name)} {shell_option('--db', self.path)}` with that suite's "
                    f"--suite or --private)")
        return (f"no run reads it from there: once the store can take entries, store it with "
                f"`lrgym leaderboard import-kept {shell_path(side)} {shell_option('--name', entry.name)} "
                f"{shell_option('--db', self.path)}`")

    def _remove_side_file(self, side: Path) -> None:
        """Remove a stored entry's side file, its private folder (``_write_elsewhere``'s) and an
        empty :attr:`pending_dir`."""
        side.unlink(missing_ok=True)
        if side.parent != self.pending_dir:  # a private folder of _write_elsewhere
            side.parent.rmdir()
        self._remove_pending_dir_if_empty()

    def _write_elsewhere(self, entry: EntryRecord, runs: Sequence[RunRecord]) -> Path:
        """The side file of ``entry`` in a new private folder (``lrgym-kept-*`` in the temp
        folder, mode 0700) when :attr:`pending_dir` cannot hold it: the result is never only in
        memory. :meth:`import_kept` takes it from there; :meth:`flush_pending` does not look.
        Written as every side file is (:func:`~lrgym.baselines.outputs.replace_file`: a temp file
        renamed once whole), so a grader killed while writing it leaves no half ``<token>.json``
        that ``import-kept`` would refuse with no word of where it came from; a write that fails
        leaves no folder."""
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix=KEPT_ELSEWHERE_PREFIX))
        data = _dumps({"entry": dataclasses.asdict(entry), "runs": [dataclasses.asdict(r) for r in runs]})
        try:
            return replace_file(folder / f"{entry.token}.json", data, 0o600, sync=True, tmp_tag=owner_tag())
        except BaseException:
            with contextlib.suppress(OSError):
                folder.rmdir()
            raise

    def _own_pending_dir(self) -> bool:
        """Whether :attr:`pending_dir` exists; ``ForeignPendingError`` if it is not this grader's
        own: a real folder (no link) of this user that no one else may write to. Another local
        user who made ``<db>.pending`` first (beside a store in a shared folder) could otherwise
        have its files stored as results by the next grading run."""
        directory = self.pending_dir
        try:
            problem = own_problem(directory, folder=True)
        except FileNotFoundError:
            return False
        if problem is not None:
            raise ForeignPendingError(
                f"the store's side-file folder {directory} is not the grader's own: {problem.describe()}; "
                f"valid: a folder of uid {os.geteuid()} that only it may write "
                f"to. Nothing was read from it: look at its files (results left by a grader of this store "
                f"are <token>.json) and move it away")
        return True

    def _remove_pending_dir_if_empty(self) -> None:
        """Leave no empty :attr:`pending_dir` beside the store (a folder with side files, this
        grader's or another's, stays)."""
        try:
            self.pending_dir.rmdir()
        except OSError:  # not empty, or gone already
            pass

    def _write_pending(self, entry: EntryRecord, runs: Sequence[RunRecord]) -> Path:
        directory = self.pending_dir
        path = directory / f"{entry.token}.json"
        data = _dumps({"entry": dataclasses.asdict(entry), "runs": [dataclasses.asdict(r) for r in runs]})
        attempts = 5
        while True:
            directory.mkdir(mode=0o700, exist_ok=True)
            self._own_pending_dir()
            try:
                # its temp file names this grader (owner_tag): one it left half-written dying is removed (_settle_temp_files)
                return replace_file(path, data, 0o600, sync=True, tmp_tag=owner_tag())
            except FileNotFoundError:  # another grader removed the empty folder in between
                attempts -= 1
                if not attempts:
                    raise

    def _set_aside(self, side: Path, suffix: str = KEPT_SUFFIX) -> Path:
        """Rename a side file whose name was taken to ``<token>.name-taken`` (one the store
        refuses: ``suffix`` :data:`UNWRITABLE_SUFFIX`); returns its new path. Another grader of
        the store may have set it aside first (its :meth:`flush_pending` read the same side file,
        the store refused it there too): the file is then where this one would put it."""
        kept = side.with_suffix(suffix)
        try:
            side.rename(kept)
        except FileNotFoundError:
            if not kept.exists():
                raise
        return kept

    def unwritable_results(self) -> list[Path]:
        """The side files set aside because the store refuses their entry (every flush says so)."""
        directory = self.pending_dir
        if str(self.path) == ":memory:" or not self._own_pending_dir():
            return []
        return sorted(directory.glob("*" + UNWRITABLE_SUFFIX))

    def waiting_results(self) -> list[Path]:
        """The side files of finished entries not in the database yet (a store locked too long, a
        full disk, a grader killed before its write): what :meth:`flush_pending` writes."""
        directory = self.pending_dir
        if str(self.path) == ":memory:" or not self._own_pending_dir():
            return []
        return sorted(directory.glob("*.json"))

    def side_file_notes(self) -> list[str]:
        """What a board says of the results not on it, read before the board is (a result another
        grader commits meanwhile, then removing its side file, is on the board or said, never
        neither): each waiting one (:meth:`waiting_note`), then each kept for another name
        (:meth:`kept_note`), then each the store refuses (:meth:`unwritable_note`). A file gone
        between its listing and its reading is not named: its grader committed it (it is on the
        board), or it was set aside (then listed among the kept ones, which are listed after)."""
        notes = [self.waiting_note(path) for path in self.waiting_results()]
        notes += [self.kept_note(path) for path in self.kept_results()]
        notes += [self.unwritable_note(path) for path in self.unwritable_results()]
        return [note for note in notes if note is not None]

    def waiting_note(self, side: Path) -> str | None:
        """What a board says of a side file waiting to be written (:meth:`waiting_results`); None if
        it is gone (stored or set aside since it was listed: :meth:`side_file_notes`). One no run can
        read (damaged, no regular file) is said as the flush says it: not stored, and staying (it
        read as a finished result that the next grading run writes, which none does)."""
        try:
            entry, _ = _read_side_result(side)  # read as the flush reads it, not its name alone
        except FileNotFoundError:
            return None
        except _SIDE_FILE_ERRORS as exc:  # no grading run writes it: said as the flush says it
            return _unreadable_side_file_note(side, exc)
        name = repr(str(entry.name))
        return (f"entry {name}: a finished result waits in {side}; the grader still waiting for the store or the "
                f"next grading run of {self.path} writes it")

    def kept_results(self) -> list[Path]:
        """The side files set aside because their name was taken (:meth:`import_kept` stores one),
        but for those stored already (:meth:`_stored_already`)."""
        directory = self.pending_dir
        if str(self.path) == ":memory:" or not self._own_pending_dir():
            return []
        return sorted(path for path in directory.glob("*" + KEPT_SUFFIX) if not self._stored_already(path))

    def _stored_already(self, kept: Path) -> bool:
        """Whether the result kept in ``kept`` is in the store (its entry's token): an
        :meth:`import_kept` stopped between its commit and the file's removal (SIGKILL) leaves the
        file of a stored result, which would be said to wait for a name, run after run."""
        try:
            token = _loads(_read_side_file(kept))["entry"]["token"]
        except _SIDE_FILE_ERRORS:
            return False
        return token is not None and self.conn.execute(
            "SELECT 1 FROM entries WHERE token = ?", (token,)).fetchone() is not None

    def import_kept(self, path: str | os.PathLike[str], name: str) -> int:
        """Store the result kept in ``path`` (a side file of :attr:`pending_dir`, usually one set
        aside as ``<token>.name-taken``) under the entry name ``name``: its owner, runs, scores
        and every other field unchanged. Returns the entry id and removes the file;
        ``NameTakenError`` if ``name`` is taken too (the file stays), ``ValueError`` if ``name``
        is no valid entry name or the file is no side file. Idempotent: a result already stored
        (its token) is not stored twice."""
        from lrgym.leaderboard.text import check_entry_name

        path = Path(path)
        name = check_entry_name(name)
        try:
            _check_own_file(path)
            entry, runs = _read_side_result(path)
            if entry.kind != "submission":  # only a submission's name can be taken
                raise ValueError(f"it holds a {entry.kind!r} entry, and only submissions are kept")
        except FileNotFoundError:
            raise ValueError(f"{path}: no such file; valid: a kept result of this store "
                             f"({', '.join(map(str, self.kept_results())) or 'none now'})") from None
        except _SIDE_FILE_ERRORS as exc:
            raise ValueError(f"{path} is not a kept result ({type(exc).__name__}: {exc}); valid: a file "
                             f"{self.pending_dir}/<token>{KEPT_SUFFIX}") from None
        entry_id = self.add_entry(dataclasses.replace(entry, name=name), runs)
        path.unlink(missing_ok=True)
        self._remove_pending_dir_if_empty()
        if path.parent.name.startswith(KEPT_ELSEWHERE_PREFIX):  # its private folder (_write_elsewhere), now empty
            with contextlib.suppress(OSError):
                path.parent.rmdir()
        return entry_id

    def flush_pending(self, log=None) -> list[int]:
        """Write every side file left by an earlier run (idempotent: tokens already stored are
        skipped); returns the ids of the entries it wrote or found. A side file whose name another
        owner has taken meanwhile is set aside (``<token>.name-taken``, for :meth:`import_kept`),
        and every set-aside file is reported through ``log`` (default: a ``UserWarning``), so a
        kept result is never forgotten silently; so is a side file it cannot read (it stays). A
        store locked too long is left for the next flush; one that takes no entries (a full
        disk) raises :class:`StoreUnwritableError`, the side files kept."""
        import warnings

        directory = self.pending_dir
        if str(self.path) == ":memory:" or not self._own_pending_dir():
            return []
        say = log if log is not None else (lambda message: warnings.warn(message, UserWarning, stacklevel=3))
        ids, unreadable = [], self._settle_temp_files(directory)
        for path in sorted(directory.glob("*.json")):
            try:
                entry, runs = _read_side_result(path)
            except FileNotFoundError:  # written meanwhile by another grader's flush
                continue
            except _SIDE_FILE_ERRORS as exc:
                # no writer leaves half a file (replace_file): one of another lrgym, or damaged; it stays, said
                unreadable.append(_unreadable_side_file_note(path, exc))
                continue
            try:
                ids.append(self.add_entry(entry, runs))
            except NameTakenError:  # claimed by someone else meanwhile: set aside (reported below), never dropped
                self._set_aside(path)
                continue
            except _UNWRITABLE_ERRORS:  # refused (reported below): set aside, so no later run stops on it
                self._set_aside(path, UNWRITABLE_SUFFIX)
                continue
            except sqlite3.OperationalError as exc:
                if is_lock_error(exc):
                    break
                raise StoreUnwritableError(
                    f"the results store {self.path} takes no entries ({exc}); the finished results waiting in "
                    f"{directory} stay there, and the next grading run writes them: free disk space or make "
                    f"the store writable, then run again") from exc
            path.unlink(missing_ok=True)
        for note in unreadable:
            say(note)
        for kept in directory.glob("*" + KEPT_SUFFIX):
            if self._stored_already(kept):  # (an import-kept killed before it removed the file)
                kept.unlink(missing_ok=True)
        for note in map(self.kept_note, self.kept_results()):  # set aside now or earlier: said every time until stored
            if note is not None:  # (None: stored by an import-kept since it was listed)
                say(note)
        for note in map(self.unwritable_note, self.unwritable_results()):
            if note is not None:
                say(note)
        self._remove_pending_dir_if_empty()
        return ids

    def _settle_temp_files(self, directory: Path) -> list[str]:
        """The side files' temp files (:func:`~lrgym.baselines.outputs.replace_file`'s
        ``.<token>.json.<writer>-<random>.tmp``) a grader left: returns what to say of them.

        A whole one is renamed to ``<token>.json`` (a grader killed between writing it and
        renaming it, the fsync in between the longest step of the write, left a finished result no
        flush read; a writer whose file is renamed here writes it again, :meth:`_write_pending`, and
        its token stores it once). A half-written one (its JSON ends with its last byte) whose
        writer has ended (``<writer>``: :func:`~lrgym.baselines.owner_names.owner_tag`, judged by
        :func:`~lrgym.baselines.owner_names.owner_gone`) is no result: the grader died writing it,
        its result was in its memory only. It is removed, and said (the entry it was of, if its
        first bytes name it, and whether that result is stored or waits after all). One whose
        writer may be alive stays silently; one whose writer cannot be judged (an older lrgym's
        name, a grader in other namespaces) stays and is said once it is older than
        :data:`STALE_TEMP_S`."""
        notes = []
        for tmp in directory.glob(".*.json.*.tmp"):
            token, _, writer = tmp.name[1:].partition(".json.")
            name = token + ".json"
            try:
                raw = _read_side_bytes(tmp)  # read once: judged and described from these bytes
            except NotRegularFileError as exc:  # no grader's: said, never read
                notes.append(f"{exc}: no grader wrote it, it stays; remove it")
                continue
            except OSError:  # renamed or removed by its writer meanwhile
                continue
            try:  # (bytes that are no UTF-8, a UnicodeDecodeError, are no whole result: graders write ASCII JSON)
                data = _loads(raw.decode("utf-8"))
                whole = data["entry"]["token"] + ".json" == name and isinstance(data["runs"], list)
            except _SIDE_FILE_ERRORS:
                whole = False
            text = raw.decode("utf-8", "replace")
            if whole:
                with contextlib.suppress(FileNotFoundError):  # its writer renamed it meanwhile
                    os.replace(tmp, directory / name)
                continue
            entry = _partial_entry_name(text)
            if owner_gone(writer, ""):
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                notes.append(f"removed {tmp}, the side file of entry {entry} that a grader ({writer.split('-')[0]}) "
                             f"left half-written ({len(raw)} bytes) when it ended: "
                             + self._partial_outcome(token))
                continue
            try:
                age = time.time() - tmp.stat().st_mtime
            except OSError:
                continue
            if age > STALE_TEMP_S and not _judged_writer(writer):
                notes.append(f"a half-written side file {tmp} (entry {entry}, {len(raw)} bytes, last written "
                             f"{age / 3600:.1f} h ago) stays: its grader (an older lrgym, or one in another container) "
                             "cannot be told dead from here; no result is in it. If no grader of this store is "
                             f"writing it, remove it: {self._partial_outcome(token)}")
        return notes

    def _partial_outcome(self, token: str) -> str:
        """What became of the result whose side file was left half-written (:meth:`_settle_temp_files`)."""
        if self.conn.execute("SELECT 1 FROM entries WHERE token = ?", (token,)).fetchone() is not None:
            return "its result is in the store (written again by its grader before it ended): nothing is lost"
        if (self.pending_dir / f"{token}.json").exists():
            return f"its result waits whole in {self.pending_dir / (token + '.json')}: nothing is lost"
        return "its result was in that grader's memory only and is lost; grade that entry again"

    def unwritable_note(self, kept: Path) -> str | None:
        """:func:`unwritable_message` for a side file set aside because the store refuses it; None if
        it is gone since it was listed (removed by hand)."""
        try:
            entry = _loads(_read_side_file(kept))["entry"]
            name = str(entry["name"])
        except FileNotFoundError:
            return None
        except _SIDE_FILE_ERRORS as exc:
            return f"a result is kept in {kept} (unreadable: {type(exc).__name__}); it was not stored"
        try:  # the store's reason, found again
            _check_text_fields(EntryRecord(**{**entry, "id": None, "n_runs": None}))
            reason = "the store refused it"
        except _UNWRITABLE_ERRORS as exc:
            reason = f"{type(exc).__name__}: {exc}"
        return unwritable_message(name, reason, kept)

    def kept_note(self, kept: Path) -> str | None:
        """:func:`kept_message` for a set-aside side file, with the name check's reason now; None if
        it is gone since it was listed (stored by an ``import-kept`` meanwhile)."""
        try:
            entry = _loads(_read_side_file(kept))["entry"]
            name, owner, suite = entry["name"], entry.get("owner"), entry.get("suite_version")
        except FileNotFoundError:
            return None
        except _SIDE_FILE_ERRORS:
            return f"a result is kept in {kept} (unreadable: {kept.name}); it was not stored"
        reason = self.name_available(name, suite, owner) or "the name is free again"
        return kept_message(name, f"{reason}; owner {owner!r}", kept, self.path, ran=False)

    def record_failure(self, name: str, kind: str, reason: str, **metadata: Any) -> int:
        """Record a failed evaluation (no runs) with its ``reason``; return the entry id.

        ``metadata`` are further :class:`EntryRecord` fields (suite_version, env_spec,
        policy_source_hash, package_versions, cpu, seeds, summary, created_at).
        """
        entry = EntryRecord(name=name, kind=kind, status="failed", failure_reason=reason,
                            **metadata)
        return self.add_entry(entry, [])

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


class NotRegularFileError(OSError):
    """A file of the side-file folder is no regular file (a FIFO, a socket, a device, a folder, a
    symbolic link): it was not opened or read (:func:`_read_side_file`)."""


#: what reading a side file that is no result of this lrgym raises (:func:`_read_side_result`):
#: damaged, of another lrgym version (a field this one has not), no regular file, JSON nested
#: deeper than the parser recurses (``[`` 100,000 times: RecursionError, which stopped every flush,
#: so every grading run of the store, and every board, until the file was removed by hand)
_SIDE_FILE_ERRORS = (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError)


def _read_side_result(path: Path) -> tuple[EntryRecord, list[RunRecord]]:
    """The entry (without id) and runs a side file holds: the one reading of a side file's result,
    by the flush, :meth:`ResultStore.import_kept` and a board's note (which said a file whose
    name read, but not its entry or runs, waits for a run that would write it). Raises one of
    :data:`_SIDE_FILE_ERRORS` for a file that is none (``FileNotFoundError`` for a file gone)."""
    data = _loads(_read_side_file(path))
    entry = EntryRecord(**{**data["entry"], "id": None, "n_runs": None})
    return entry, [RunRecord(**r) for r in data["runs"]]


def _unreadable_side_file_note(path: Path, exc: BaseException) -> str:
    """What a grading run's flush and a board say of a side file no run can read (damaged, of another
    lrgym version, no regular file): it was not stored, and it stays until someone looks at it."""
    return (f"a side file {path} could not be read ({type(exc).__name__}: {str(exc)[:300]}); it was not stored "
            "and stays there: look at it (a result of another lrgym version?)")


def _read_side_file(path: Path) -> str:
    """The text of a file of :attr:`ResultStore.pending_dir` (:func:`_read_side_bytes`, as UTF-8:
    ``UnicodeDecodeError``, a ``ValueError``, for bytes that are none)."""
    return _read_side_bytes(path).decode("utf-8")


def _read_side_bytes(path: Path) -> bytes:
    """The bytes of a file of :attr:`ResultStore.pending_dir` (a side file, a kept one, a temp file),
    or :class:`NotRegularFileError` if it is no regular file: judged by ``lstat`` before it is opened,
    opened with ``O_NONBLOCK | O_NOFOLLOW`` and judged again once open (one swapped in meanwhile). A
    FIFO named ``<token>.json`` would otherwise block the flush of every grading run and ``show`` in
    the read, waiting for a writer forever. A file that vanished meanwhile is ``FileNotFoundError``."""
    mode = os.lstat(path).st_mode
    if stat.S_ISREG(mode):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            if not os.path.islink(path):
                raise
            mode = os.lstat(path).st_mode  # replaced by a link meanwhile (ELOOP of O_NOFOLLOW)
        else:
            with os.fdopen(fd, "rb") as f:
                mode = os.fstat(f.fileno()).st_mode
                if stat.S_ISREG(mode):
                    return f.read()
    raise NotRegularFileError(f"{path} is {kind_of(mode)}, not a regular file")


def _partial_entry_name(text: str) -> str:
    """The entry name a half-written side file's first bytes hold (``{"entry":{"name":"…"``,
    :func:`_dumps` of its record), quoted, or ``(name not written yet)``."""
    import re

    found = re.match(r'\{"entry":\{"name":("(?:[^"\\]|\\.)*")', text)
    try:
        return repr(str(json.loads(found.group(1)))) if found else "(name not written yet)"
    except ValueError:
        return "(name not written yet)"


def _judged_writer(writer: str) -> bool:
    """Whether the ``<writer>-<random>.tmp`` of a side file's temp file names a writer whose death
    this process can see (:func:`~lrgym.baselines.owner_names.owner_tag` of these namespaces)."""
    from lrgym.baselines.owner_names import namespaces

    fields = writer.split("-", 1)[0].split(".")
    return len(fields) == 3 and fields[2] == namespaces()


def is_lock_error(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite's error is another process's lock held past the busy timeout."""
    return "locked" in str(exc) or "busy" in str(exc)


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
        env_spec=_loads(env_spec_json),
        package_versions=_loads(package_versions_json) or {},
        cpu=cpu,
        seeds=tuple(_loads(seeds_json) or ()),
        summary=_loads(summary_json),
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
        curves=_loads(curves_json) or {},
    )
