"""The files an ``lrgym`` command (:mod:`lrgym.leaderboard.cli`) writes and the store it opens:
where each output goes (``runs/`` unless asked; the shipped ``LEADERBOARD.md`` only with
``--ship``), the refusals before any work (a path that is the results store or one of its files,
a private suite's output where a sandbox would show it), writing it with its mode and saying so,
and opening the results store with a usage error, not a traceback, for a path SQLite cannot use."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.text import Text

from lrgym.baselines.outputs import write_output
from lrgym.leaderboard.cli_options import (console, err)
from lrgym.leaderboard.suite import DEFAULT_SUITE

#: the ranking a source checkout ships at its top (README; tests/test_shipped_results.py): only
#: ``--ship`` writes it, every other run writes under runs/ (lrgym.baselines.outputs)
SHIPPED_BOARD = Path(__file__).resolve().parents[1] / "LEADERBOARD.md"


def suite_output_name(name: str, suite) -> Path:
    """``name`` (``LEADERBOARD.md``, ``leaderboard.html``, ``results.json``, the folder
    ``results``) for the default suite, else with the suite's name in it
    (``LEADERBOARD-quick.md``, ``results-private-8c1d7061.json``), so outputs of different
    suites never overwrite each other under ``runs/``."""
    from lrgym.leaderboard.private import is_private

    if suite.name == DEFAULT_SUITE and not is_private(suite):
        return Path(name)
    return labelled(name, suite.name)


def labelled(name: str, label: str) -> Path:
    """``name`` with ``-label`` before its extension (a name without one, a folder: at its end)."""
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    return Path(f"{stem}-{label}{dot}{ext}")


def board_path(markdown: Optional[Path], no_markdown: bool, ship: bool, suite, db: Optional[Path] = None) -> Optional[Path]:
    """Where the Markdown ranking of ``suite`` goes: nowhere (``--no-markdown``), ``--markdown``,
    the shipped ``LEADERBOARD.md`` (``--ship``), else ``runs/LEADERBOARD.md`` (another suite:
    ``runs/LEADERBOARD-<suite>.md``): a run never rewrites the shipped board unless asked."""
    from lrgym.baselines.outputs import runs_dir
    from lrgym.leaderboard.private import is_private

    name = suite_output_name(SHIPPED_BOARD.name, suite)  # only the default suite's board is shipped
    shipped = SHIPPED_BOARD if name.name == SHIPPED_BOARD.name else name
    default = runs_dir() / name  # runs/LEADERBOARD[-suite].md, for the messages (checked_output checks it)
    if ship and (markdown is not None or no_markdown):
        given = f"--markdown {markdown}" if markdown is not None else "--no-markdown"
        raise typer.BadParameter(f"{given} and --ship both given; valid: one of them (or neither: {default})",
                                 param_hint="--ship")
    if no_markdown and markdown is not None:
        raise typer.BadParameter(f"--markdown {markdown} and --no-markdown both given; valid: one of them "
                                 f"(or neither: {default})", param_hint="--no-markdown")
    if no_markdown:
        return None
    if ship:
        if is_private(suite) or suite.name != DEFAULT_SUITE:
            raise typer.BadParameter(f"the shipped LEADERBOARD.md ranks the default suite {DEFAULT_SUITE!r} only; "
                                     "valid for another suite: --markdown PATH", param_hint="--ship")
        if not (SHIPPED_BOARD.parent / "pyproject.toml").is_file():
            raise typer.BadParameter("this install is not a source checkout, so it ships no LEADERBOARD.md; "
                                     "valid: --markdown PATH", param_hint="--ship")
    return file_out(checked_output(shipped, markdown, "--markdown", ship=ship, db=db), "--markdown")


def _shipped_files() -> list[Path]:
    """What the leaderboard ships beside the baselines' files (``lrgym.baselines.outputs.
    shipped_outputs``), which no output may overwrite without ``--ship``: ``LEADERBOARD.md`` and
    the references with their ``SHA256SUMS``."""
    from lrgym.leaderboard.references import SHIPPED_DIR

    return [SHIPPED_BOARD, *(sorted(SHIPPED_DIR.iterdir()) if SHIPPED_DIR.is_dir() else [])]


def checked_output(shipped: Path, out: Optional[Path], hint: str, ship: bool = False, db: Optional[Path] = None) -> Path:
    """:func:`lrgym.baselines.outputs.output_path` with its refusals (an ``--out`` or a
    ``$LRGYM_RUNS`` naming a shipped file, e.g. ``--markdown .`` in the source checkout) as the
    option's error. ``shipped`` is a bare name for an output nothing ships (``leaderboard.html``).
    A path that is the results store ``db`` or one of its files is refused too (``report
    --markdown board.sqlite`` replaced the store with the report, every result lost)."""
    from lrgym.baselines.outputs import output_path

    try:
        path = output_path(shipped, ship=ship, out=out, protected=_shipped_files(), option=hint,
                           in_place=True)  # (written by write_file: write_output)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None
    refuse_store_files(path, db, hint)
    return path


def refuse_store_files(path: Path, db: Optional[Path], hint: str, inside: tuple[str, ...] = ()) -> None:
    """``BadParameter`` if writing ``path`` (a folder: the files ``inside`` it) would overwrite the
    results store ``db`` (default: the default store), its SQLite journals (``-wal``, ``-shm``,
    ``-journal``) or its side-file folder (``<db>.pending``): by any spelling of the path, through
    a symbolic link to it or the store's, or as a hard link to one of them (the same inode).
    Outputs are also written by replacing the file (:func:`lrgym.baselines.outputs.write_output`),
    never through a link; this check names the mistake before any work."""
    from lrgym.leaderboard.store import default_store_path

    store = Path(db) if db is not None else default_store_path()
    names, inodes = set(), set()
    for base in {store.absolute(), store.resolve()}:  # the store as given (its side files) and its target
        for p in (base, *(base.with_name(base.name + s) for s in ("-wal", "-shm", "-journal", ".pending"))):
            names.add(p)
            try:
                st = p.stat()
                inodes.add((st.st_dev, st.st_ino))
            except OSError:
                pass
    pendings = {n for n in names if n.name.endswith(".pending")}
    for target in (path, *(path / name for name in inside)):
        spellings = {target.absolute(), target.resolve()}
        try:
            st = target.stat()
            same_inode = (st.st_dev, st.st_ino) in inodes
        except OSError:
            same_inode = False
        if same_inode or spellings & names or any(p in s.parents for p in pendings for s in spellings):
            raise typer.BadParameter(f"{target} is the results store {store} or one of its files: writing it "
                                     "would destroy the stored results; valid: another path", param_hint=hint)


def refuse_shown_private(path: Optional[Path], hint: str, what: str = "a private suite's board") -> None:
    """``BadParameter`` if a private suite's output at ``path`` would lie in a folder every
    sandbox shows (:func:`lrgym.leaderboard.grader_places.check_private_output`): a later
    submission's policy would read the hidden instances it names (0600 keeps out no policy of the
    user-namespace sandbox, whose uid outside is the grader's)."""
    from lrgym.leaderboard.grader_places import check_private_output

    if path is None:
        return
    try:
        check_private_output(path, what)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None


#: the mode of every file ``report``, ``run-baselines`` and ``export`` write for a private suite
PRIVATE_MODE = 0o600


def output_mode(private: bool) -> int:
    """The mode of an output file: owner-only (:data:`PRIVATE_MODE`) for a private suite's, whose
    HTML and exports name its hidden instances, env seeds and initial losses (and whose Markdown
    is kept so too, until the grader publishes it); 0644 (less the umask) otherwise."""
    return PRIVATE_MODE if private else 0o644


def say_wrote(path: Path, what: str = "", private: bool = False, secrets: bool = True, to: Console = console) -> None:
    """Say that ``path`` was written; for a private suite in the same line that it is kept owner-only,
    and whether it holds the suite's details (``secrets``) or is fit to publish. ``to``: stdout
    where the files are the command's result (``report``, ``export``), stderr where the command
    printed its result (``run-baselines``' board). A file that is
    still open to others (an existing one :func:`~lrgym.baselines.outputs.write_output` had to
    write in place, its folder taking no new file) is said to be so, with the fix."""
    import stat

    note = ""
    if private:
        try:
            st = os.stat(path)
            loose = stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077 else 0
        except OSError:
            loose = 0
        details = "it holds the private suite's details (hidden instances, seeds, losses)" if secrets else \
            "no hidden instance, seed or reference in it (fit to publish)"
        if loose:
            note = (f"; {details}, but it stays mode {loose:04o} (an existing file written in place: its folder "
                    f"takes no new file): chmod 600 {path}")
        elif secrets:
            note = f"; {details}: kept owner-only (mode 0600)"
        else:
            note = f"; {details}, written owner-only (mode 0600) as every output of a private suite"
    to.print(Text(f"wrote {path}{what}{note}"))


def write_file(path: Path, text: str, mode: int, hint: str) -> None:
    """Write an output the user named (:func:`~lrgym.baselines.outputs.write_output`), its folder
    made if missing; a path the checks before the run could not foresee (``--markdown
    /proc/x.md``) is the option's error, not a traceback."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_output(path, text, mode=mode)
    except OSError as exc:
        raise typer.BadParameter(f"cannot write {path}: {exc.strerror or exc}; valid: a path in a folder you can "
                                 "write", param_hint=hint) from None


def file_out(path: Optional[Path], hint: str) -> Optional[Path]:
    """``path`` for a file the command will write; an existing folder there (``--markdown DIR``
    whose ``DIR/LEADERBOARD.md`` is a folder too: output_path already put a plain folder's file
    inside it) is refused before anything runs (it was an IsADirectoryError once the work was done)."""
    if path is not None and path.is_dir():
        raise typer.BadParameter(f"{path} is a folder; valid: a file path (its folder is made if missing)",
                                 param_hint=hint)
    return path


def open_store(db: Optional[Path]):
    """The results store at ``db``; a path SQLite cannot use (a folder, a file of another kind)
    stops the command with the path and SQLite's reason instead of a traceback, a store locked
    past the busy timeout with that reason (exit 1), and a store in a rollback journal (its file
    system refused WAL) is said on stderr (:attr:`~lrgym.leaderboard.store.ResultStore.journal_note`)."""
    import sqlite3

    from lrgym.leaderboard.store import DanglingStoreLinkError, ResultStore, default_store_path, is_lock_error

    path = db if db is not None else default_store_path()
    try:
        store = ResultStore(db)
    except DanglingStoreLinkError as exc:
        raise typer.BadParameter(str(exc), param_hint="--db / $LRGYM_STORE") from None
    except sqlite3.OperationalError as exc:  # (busy, not bad: it was "Invalid value for --db")
        if not is_lock_error(exc):
            raise _bad_store(path, exc) from None
        err.print(Text(f"error: the results store {path} stayed locked by another process ({exc}): a grader "
                       "committing, or, where its file system refuses WAL, a board being read; nothing was changed: "
                       "run the command again"))
        raise typer.Exit(1) from None
    except sqlite3.DatabaseError as exc:
        raise _bad_store(path, exc) from None
    if store.journal_note is not None:  # (stderr: the command's result stays its stdout alone)
        err.print(Text(store.journal_note))
    return store


def _bad_store(path, exc) -> typer.BadParameter:
    """The usage error of a path SQLite cannot use as a store (:func:`open_store`)."""
    if os.path.isfile(path) and not all(os.access(p, os.W_OK) for p in (path, os.path.dirname(os.path.abspath(path)))):
        return typer.BadParameter(
            f"{path}: {exc}: the store or its folder is read-only, and every command opens the store for writing "
            "(its journal mode, an older schema brought up to date, <db>-shm beside it); valid: a store in a "
            "folder you can write: copy it there (with <db>-wal if there is one)", param_hint="--db / $LRGYM_STORE")
    return typer.BadParameter(f"{path}: {exc}; valid: an lrgym results store (SQLite) or a new file path",
                              param_hint="--db / $LRGYM_STORE")


def open_existing_store(db: Optional[Path], suite=None):
    """The store at ``db`` for reading; exits with a hint if there is none yet: the command that
    grades ``suite``'s baselines (the board asked for) into it (without its --suite it graded the
    default suite there, and the board asked for stayed empty)."""
    from lrgym.leaderboard.provenance import run_baselines_command
    from lrgym.leaderboard.store import default_store_path

    path = Path(db) if db is not None else default_store_path()
    if not os.path.lexists(path):  # (a dangling link is refused by name: open_store)
        hint = f"`{run_baselines_command(suite, db)}` first " + ("(or pass --db)" if db is None else "(or check the path)")
        err.print(Text(f"no results at {path}: run {hint}"))
        raise typer.Exit(1)
    return open_store(path)


def published_board_command(command: str, suite: str, private: Optional[Path], shape=None) -> str:
    """The command that makes a Markdown board again, as the board names it: a private suite's key
    as the placeholder ``KEYFILE`` (with the ``--families``, ``--instances`` and ``--seed-count``
    of the private suite ``shape`` where it is not the default one) and
    a suite file by its file name, never the grader's paths (the board is what is published)."""
    from lrgym.leaderboard.provenance import board_command
    from lrgym.leaderboard.suite_file import is_suite_file

    return board_command(command, Path(suite).name if is_suite_file(suite) else suite, private=private is not None,
                         shape=shape)
