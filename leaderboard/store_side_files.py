"""The results store's side files: a finished result the database could not take yet, kept in a
file until it can (:class:`SideFiles`, the side of :class:`~lrgym.leaderboard.store.ResultStore`
that :meth:`~lrgym.leaderboard.store.ResultStore.add_entry_durably`, ``flush_pending``,
``import_kept`` and the board's notes delegate to).

The files, in the store's side-file folder ``<db>.pending`` (:attr:`~lrgym.leaderboard.store.
ResultStore.pending_dir`; only the grader's own folder is read or written, else
:class:`~lrgym.leaderboard.store_errors.ForeignPendingError`):

* ``<token>.json``: a finished entry waiting for the database (locked too long, a full disk, a
  grader killed before its commit); the next :meth:`SideFiles.flush_pending` writes it, and its
  token makes that idempotent;
* ``<token>.name-taken`` (:data:`KEPT_SUFFIX`): a submission whose name another owner took after the
  grader's check before the run, kept until :meth:`SideFiles.import_kept` stores it under another name;
* ``<token>.unwritable`` (:data:`UNWRITABLE_SUFFIX`): an entry the store refuses (a field it cannot
  hold), kept for a person to look at;
* ``.<token>.json.<writer>-<random>.tmp``: a side file being written (a temp file renamed once whole);
  one a grader left half-written dying is settled by the flush (:meth:`SideFiles._settle_temp_files`).

When the folder cannot hold a side file (a full disk), the result goes to a private
``lrgym-kept-*`` folder in the temp folder (:data:`KEPT_ELSEWHERE_PREFIX`), which only
``import-kept`` reads. Every file is said (on a board, by every flush) until it is stored or removed:
no result is dropped silently.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import stat
import time
from collections.abc import Sequence
from pathlib import Path

from lrgym.baselines.interrupts import defer_stop_signals
from lrgym.baselines.outputs import replace_file
from lrgym.baselines.owner_names import owner_gone, owner_tag
from lrgym.baselines.shell_words import shell_option, shell_path
from lrgym.files import kind_of
from lrgym.leaderboard.ownership import own_problem
from lrgym.leaderboard.store_errors import (ForeignPendingError, KeptResultError, NameTakenError,
                                            StoreUnwritableError, is_lock_error)
from lrgym.leaderboard.store_records import EntryRecord, RunRecord, check_text_fields, from_json, to_json

__all__ = [
    "KEPT_ELSEWHERE_PREFIX",
    "KEPT_SUFFIX",
    "STALE_TEMP_S",
    "UNWRITABLE_SUFFIX",
    "NotRegularFileError",
    "SideFiles",
    "kept_message",
    "unwritable_message",
]

#: a half-written side file whose writer cannot be judged (:meth:`SideFiles._settle_temp_files`)
#: is said once it is this old: a side file of ≈ 1 MB is written in well under a second
STALE_TEMP_S = 3600.0

#: suffix of a side file set aside because its name was taken (:meth:`SideFiles.kept_results`)
KEPT_SUFFIX = ".name-taken"
#: the private temp folder of a result no side file could hold (a full disk: :meth:`SideFiles.import_kept` takes it)
KEPT_ELSEWHERE_PREFIX = "lrgym-kept-"
#: suffix of a side file set aside because the store refuses its entry (a field it cannot hold:
#: :meth:`SideFiles.unwritable_results`); every flush says so until someone looks at it
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
    user planted (whose entry :meth:`SideFiles.import_kept` would store as it stands)."""
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
    by the flush, :meth:`SideFiles.import_kept` and a board's note (which said a file whose
    name read, but not its entry or runs, waits for a run that would write it). Raises one of
    :data:`_SIDE_FILE_ERRORS` for a file that is none (``FileNotFoundError`` for a file gone)."""
    data = from_json(_read_side_file(path))
    entry = EntryRecord(**{**data["entry"], "id": None, "n_runs": None})
    return entry, [RunRecord(**r) for r in data["runs"]]


def _unreadable_side_file_note(path: Path, exc: BaseException) -> str:
    """What a grading run's flush and a board say of a side file no run can read (damaged, of another
    lrgym version, no regular file): it was not stored, and it stays until someone looks at it."""
    return (f"a side file {path} could not be read ({type(exc).__name__}: {str(exc)[:300]}); it was not stored "
            "and stays there: look at it (a result of another lrgym version?)")


def side_file_text(entry: EntryRecord, runs: Sequence[RunRecord]) -> str:
    """A side file's text: ``{"entry": <the entry record>, "runs": [<its run records>]}`` as JSON
    (:func:`to_json`), which :func:`_read_side_result` reads back into records."""
    return to_json({"entry": dataclasses.asdict(entry), "runs": [dataclasses.asdict(r) for r in runs]})


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
    :func:`to_json` of its record), quoted, or ``(name not written yet)``."""
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



class SideFiles:
    """The side files of one open :class:`~lrgym.leaderboard.store.ResultStore` (``store``): it
    writes, reads, sets aside and lists them, and stores what they hold through the store's public
    methods (``add_entry``, ``name_available``, ``has_token``, ``path``, ``pending_dir``), read
    from ``store`` at each use. The store's methods of the same names delegate here."""

    def __init__(self, store) -> None:
        self.store = store

    def add_entry_durably(self, entry: EntryRecord, runs: Sequence[RunRecord] = (), *,
                          patience: float = 600.0, log=None) -> int | None:
        """:meth:`ResultStore.add_entry`, surviving a locked database: the entry goes to a side file
        first, the write is retried with exponential backoff for ``patience`` seconds, and the side
        file is removed after the commit. Returns the entry id, or None if the database stayed locked
        (the entry then waits in :attr:`ResultStore.pending_dir` for :meth:`flush_pending`). A name
        taken by another owner since the check before the run raises :class:`KeptResultError`: the
        side file is set aside (``<token>.name-taken``) for :meth:`import_kept`, never dropped."""
        import uuid

        if entry.token is None:
            entry = dataclasses.replace(entry, token=uuid.uuid4().hex)
        try:
            side = self._write_pending(entry, runs)
        except (ForeignPendingError, OSError) as exc:  # (another user made <db>.pending during the run)
            side = self._write_elsewhere(entry, runs)
            if log is not None:
                log(f"entry {entry.name!r}: no side file in {self.store.pending_dir} ({exc}); kept in {side} "
                    "until the store has it")
        deadline, delay = time.monotonic() + patience, 0.05
        while True:
            try:
                # committed and its side file removed together: a stop signal (SIGTERM, Ctrl-C) waits
                # the few ms between them, so an interrupted grader leaves no side file of a stored entry
                with defer_stop_signals():
                    entry_id = self.store.add_entry(entry, runs)
                    self._remove_side_file(side)
            except NameTakenError as exc:  # claimed by another owner since the check before the run
                kept = self._set_aside(side)
                raise KeptResultError(kept_message(entry.name, str(exc), kept, self.store.path), kept,
                                      str(exc)) from None
            except _UNWRITABLE_ERRORS as exc:  # the store refuses it: kept, said, never dropped
                kept = self._set_aside(side, UNWRITABLE_SUFFIX)
                raise KeptResultError(unwritable_message(entry.name, f"{type(exc).__name__}: {exc}", kept), kept,
                                      str(exc)) from None
            except sqlite3.OperationalError as exc:
                if not is_lock_error(exc) or time.monotonic() + delay > deadline:
                    if log is not None:
                        log(f"could not write entry {entry.name!r} ({exc}); kept in {side}; "
                            f"{self._kept_how(entry, side)}")
                    return None
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            return entry_id

    def _kept_how(self, entry: EntryRecord, side: Path) -> str:
        """How a finished entry the database did not take (locked too long, a full disk) gets in:
        a side file in :attr:`ResultStore.pending_dir` by the next grading run (:meth:`flush_pending`); one
        kept elsewhere (``_write_elsewhere``: the side-file folder was not usable, as on a full
        disk) by no run, so the command that stores it is named (:meth:`import_kept`, which takes
        submissions only: a baseline is run again)."""
        if side.parent == self.store.pending_dir:
            return "the next grading run of this store writes it"
        if entry.kind != "submission":
            return (f"no run reads it from there (a baseline's result is not imported): once the store can take "
                    f"entries, run it again on {entry.suite_version} (`lrgym leaderboard run-baselines "
                    f"{shell_option('--only', entry.name)} {shell_option('--db', self.store.path)}` with that suite's "
                    f"--suite or --private)")
        return (f"no run reads it from there: once the store can take entries, store it with "
                f"`lrgym leaderboard import-kept {shell_path(side)} {shell_option('--name', entry.name)} "
                f"{shell_option('--db', self.store.path)}`")

    def _remove_side_file(self, side: Path) -> None:
        """Remove a stored entry's side file, its private folder (``_write_elsewhere``'s) and an
        empty :attr:`ResultStore.pending_dir`."""
        side.unlink(missing_ok=True)
        if side.parent != self.store.pending_dir:  # a private folder of _write_elsewhere
            side.parent.rmdir()
        self._remove_pending_dir_if_empty()

    def _write_elsewhere(self, entry: EntryRecord, runs: Sequence[RunRecord]) -> Path:
        """The side file of ``entry`` in a new private folder (``lrgym-kept-*`` in the temp
        folder, mode 0700) when :attr:`ResultStore.pending_dir` cannot hold it: the result is never only in
        memory. :meth:`import_kept` takes it from there; :meth:`flush_pending` does not look.
        Written as every side file is (:func:`~lrgym.baselines.outputs.replace_file`: a temp file
        renamed once whole), so a grader killed while writing it leaves no half ``<token>.json``
        that ``import-kept`` would refuse with no word of where it came from; a write that fails
        leaves no folder."""
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix=KEPT_ELSEWHERE_PREFIX))
        data = side_file_text(entry, runs)
        try:
            return replace_file(folder / f"{entry.token}.json", data, 0o600, sync=True, tmp_tag=owner_tag())
        except BaseException:
            with contextlib.suppress(OSError):
                folder.rmdir()
            raise

    def _own_pending_dir(self) -> bool:
        """Whether :attr:`ResultStore.pending_dir` exists; ``ForeignPendingError`` if it is not this grader's
        own: a real folder (no link) of this user that no one else may write to. Another local
        user who made ``<db>.pending`` first (beside a store in a shared folder) could otherwise
        have its files stored as results by the next grading run."""
        directory = self.store.pending_dir
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
        """Leave no empty :attr:`ResultStore.pending_dir` beside the store (a folder with side files, this
        grader's or another's, stays)."""
        try:
            self.store.pending_dir.rmdir()
        except OSError:  # not empty, or gone already
            pass

    def _write_pending(self, entry: EntryRecord, runs: Sequence[RunRecord]) -> Path:
        directory = self.store.pending_dir
        path = directory / f"{entry.token}.json"
        data = side_file_text(entry, runs)
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
        directory = self.store.pending_dir
        if str(self.store.path) == ":memory:" or not self._own_pending_dir():
            return []
        return sorted(directory.glob("*" + UNWRITABLE_SUFFIX))

    def waiting_results(self) -> list[Path]:
        """The side files of finished entries not in the database yet (a store locked too long, a
        full disk, a grader killed before its write): what :meth:`flush_pending` writes."""
        directory = self.store.pending_dir
        if str(self.store.path) == ":memory:" or not self._own_pending_dir():
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
                f"next grading run of {self.store.path} writes it")

    def kept_results(self) -> list[Path]:
        """The side files set aside because their name was taken (:meth:`import_kept` stores one),
        but for those stored already (:meth:`_stored_already`)."""
        directory = self.store.pending_dir
        if str(self.store.path) == ":memory:" or not self._own_pending_dir():
            return []
        return sorted(path for path in directory.glob("*" + KEPT_SUFFIX) if not self._stored_already(path))

    def _stored_already(self, kept: Path) -> bool:
        """Whether the result kept in ``kept`` is in the store (its entry's token): an
        :meth:`import_kept` stopped between its commit and the file's removal (SIGKILL) leaves the
        file of a stored result, which would be said to wait for a name, run after run."""
        try:
            token = from_json(_read_side_file(kept))["entry"]["token"]
        except _SIDE_FILE_ERRORS:
            return False
        return token is not None and self.store.has_token(token)

    def import_kept(self, path: str | os.PathLike[str], name: str) -> int:
        """Store the result kept in ``path`` (a side file of :attr:`ResultStore.pending_dir`, usually one set
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
                             f"{self.store.pending_dir}/<token>{KEPT_SUFFIX}") from None
        entry_id = self.store.add_entry(dataclasses.replace(entry, name=name), runs)
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

        directory = self.store.pending_dir
        if str(self.store.path) == ":memory:" or not self._own_pending_dir():
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
                ids.append(self.store.add_entry(entry, runs))
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
                    f"the results store {self.store.path} takes no entries ({exc}); the finished results waiting in "
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
                data = from_json(raw.decode("utf-8"))
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
        if self.store.has_token(token):
            return "its result is in the store (written again by its grader before it ended): nothing is lost"
        if (self.store.pending_dir / f"{token}.json").exists():
            return f"its result waits whole in {self.store.pending_dir / (token + '.json')}: nothing is lost"
        return "its result was in that grader's memory only and is lost; grade that entry again"

    def unwritable_note(self, kept: Path) -> str | None:
        """:func:`unwritable_message` for a side file set aside because the store refuses it; None if
        it is gone since it was listed (removed by hand)."""
        try:
            entry = from_json(_read_side_file(kept))["entry"]
            name = str(entry["name"])
        except FileNotFoundError:
            return None
        except _SIDE_FILE_ERRORS as exc:
            return f"a result is kept in {kept} (unreadable: {type(exc).__name__}); it was not stored"
        try:  # the store's reason, found again
            check_text_fields(EntryRecord(**{**entry, "id": None, "n_runs": None}))
            reason = "the store refused it"
        except _UNWRITABLE_ERRORS as exc:
            reason = f"{type(exc).__name__}: {exc}"
        return unwritable_message(name, reason, kept)

    def kept_note(self, kept: Path) -> str | None:
        """:func:`kept_message` for a set-aside side file, with the name check's reason now; None if
        it is gone since it was listed (stored by an ``import-kept`` meanwhile)."""
        try:
            entry = from_json(_read_side_file(kept))["entry"]
            name, owner, suite = entry["name"], entry.get("owner"), entry.get("suite_version")
        except FileNotFoundError:
            return None
        except _SIDE_FILE_ERRORS:
            return f"a result is kept in {kept} (unreadable: {kept.name}); it was not stored"
        reason = self.store.name_available(name, suite, owner) or "the name is free again"
        return kept_message(name, f"{reason}; owner {owner!r}", kept, self.store.path, ran=False)
