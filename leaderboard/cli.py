"""The ``lrgym`` command (Typer). ``lrgym.leaderboard.entry:main`` is the console entry point.

::

    lrgym leaderboard run-baselines            # main job: every baseline on the default suite (v2)
    lrgym leaderboard submit my_policy.py:MyPolicy --name mine
    lrgym leaderboard show
    lrgym leaderboard import-kept DB.pending/TOKEN.name-taken --name other   # a result whose name was taken meanwhile
    lrgym leaderboard report                   # runs/leaderboard.html + runs/LEADERBOARD.md (other suites: -<suite>)
    lrgym leaderboard run-baselines --ship     # maintainers: rewrite the shipped LEADERBOARD.md
    lrgym leaderboard references --suite v2    # (re)compute the best-fixed-LR references
    lrgym leaderboard export --format csv      # runs/results/{entries,runs,trajectories}.csv (or json)
    lrgym leaderboard suites
    lrgym leaderboard controller-ablation      # the learned controller's ablation table (suite val)
    lrgym leaderboard suites --private grader.key       # a hidden suite (see lrgym.leaderboard.private)
    lrgym --version                            # lrgym's version and the hash of its code
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.text import Text

from lrgym.baselines.backend import RayCannotRun
from lrgym.baselines.interrupts import STOP_EXCEPTIONS, interrupt_status, run_command
from lrgym.baselines.node_check import NodeMismatch
from lrgym.baselines.outputs import check_can_write, check_outside_package, write_output
from lrgym.baselines.shell_words import shell_option
from lrgym.leaderboard.suite import DEFAULT_SUITE
from lrgym.leaderboard.text import clean

app = typer.Typer(help="lrgym: learning-rate control environments and their leaderboard.",
                  no_args_is_help=True, add_completion=False)
leaderboard_app = typer.Typer(help="Score policies on a benchmark suite, keep results, build reports.",
                              no_args_is_help=True)
app.add_typer(leaderboard_app, name="leaderboard")


def _print_version(asked: bool) -> None:
    """``lrgym --version``: the installed lrgym's version and the hash of the code its nodes run
    (:func:`lrgym.baselines.node_check.code_hash`, what a Ray run compares between the driver and
    each node), so two machines, or a bug report, can be checked at a glance."""
    if asked:
        import lrgym
        from lrgym.baselines.node_check import code_hash

        typer.echo(f"lrgym {lrgym.__version__} (code {code_hash()})")
        raise typer.Exit()


@app.callback()
def _lrgym(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                        help="Print lrgym's version and the hash of its code, and exit.")) -> None:
    """lrgym: learning-rate control environments and their leaderboard."""


def _width(stream) -> int | None:
    """Piped or redirected output (a log, CI) is not squeezed into rich's default of 80 columns."""
    return None if stream.isatty() or os.environ.get("COLUMNS") else 200


def _console(stream, **kwargs) -> Console:
    """The console of ``stream``. Piped or redirected, its tables are :func:`_width` wide and its
    message lines are printed whole (rich's ``soft_wrap``): a ``wrote PATH ...`` line, a ``chmod 600
    PATH`` hint, is one line of the log whatever the path's length (until 2026-12-06 rich broke it
    where the 200 columns ended, a path longer than them inside itself). On a terminal rich wraps
    the lines at its width."""
    return Console(width=_width(stream), soft_wrap=not stream.isatty(), **kwargs)


console = _console(sys.stdout)
err = _console(sys.stderr, stderr=True)

def nonempty_path(text: str) -> Path:
    """A path option's value as a ``Path``; an empty one (``--markdown ""``, an unset shell
    variable) is the option's error, not ``Path("")``, which is ``.``: the current folder, where
    the command would have written or read its default file."""
    if text == "":
        raise typer.BadParameter("an empty path; valid: a file or folder path (leave the option out for its default)")
    return Path(text)


def at_least(minimum: int):
    """The parser of a whole-number option whose values start at ``minimum``: its error names the
    value given and the valid ones (typer's own said ``Input should be greater than or equal to 1``
    of ``--workers -1``, and of ``--top nan`` that a string is no integer, naming neither value)."""

    def parse(text) -> int:
        try:
            value = int(str(text).strip())
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise typer.BadParameter(f"{str(text)!r} invalid; valid: a whole number >= {minimum} ({minimum}, "
                                     f"{minimum + 1}, {minimum + 2}, ...)")
        return value

    parse.__name__ = f"at_least_{minimum}"
    return parse


SuiteOpt = typer.Option(DEFAULT_SUITE, "--suite", "-s",
                        help="Suite: v2 (leaderboard), v1 (previous, frozen), val (validation), quick (CI), "
                        "or a suite file of your own (PATH.json: lrgym.leaderboard.suite_file).")
DbOpt = typer.Option(None, "--db", parser=nonempty_path, metavar="PATH", help="SQLite results file (default: $LRGYM_STORE or ./lrgym_leaderboard.sqlite).")
WorkersOpt = typer.Option(None, "--workers", "-j", parser=at_least(1), metavar="N",
                          help="Worker processes (default: all cores; capped at the number of jobs and, for "
                          "sandboxed policies, at what this machine's memory holds at the memory limit).")
BackendOpt = typer.Option("local", "--backend", help="Where the jobs run: local (a process pool on this machine) "
                          "or ray (a Ray cluster; pip install \"lrgym\\[ray]\"). Same results.")
AddressOpt = typer.Option(None, "--address", help="Ray cluster: auto (the one this machine belongs to) or "
                          "HOST:PORT of its head (default: a Ray instance on this machine for this run).")
PrivateOpt = typer.Option(None, "--private", parser=nonempty_path, metavar="PATH", help="Use the hidden suite of this key file (the grader's "
                          "secret; see `lrgym leaderboard suites --private`). Overrides --suite.")

#: the ranking a source checkout ships at its top (README; tests/test_shipped_results.py): only
#: ``--ship`` writes it, every other run writes under runs/ (lrgym.baselines.outputs)
SHIPPED_BOARD = Path(__file__).resolve().parents[1] / "LEADERBOARD.md"
MarkdownOpt = typer.Option(None, "--markdown", parser=nonempty_path, metavar="PATH", help="Write the ranking here (Markdown; an existing folder: "
                           "the default file name inside it; default: runs/LEADERBOARD.md of the working directory, or "
                           "under $LRGYM_RUNS).")
NoMarkdownOpt = typer.Option(False, "--no-markdown", help="Do not write the Markdown file.")
ShipBoardOpt = typer.Option(False, "--ship", help="Write the LEADERBOARD.md shipped at the top of the source "
                            "checkout instead (maintainers regenerating it; the default suite only).")


def _suite_file(name: str, suite) -> Path:
    """``name`` (``LEADERBOARD.md``, ``leaderboard.html``, ``results.json``, the folder
    ``results``) for the default suite, else with the suite's name in it
    (``LEADERBOARD-quick.md``, ``results-private-8c1d7061.json``), so outputs of different
    suites never overwrite each other under ``runs/``."""
    from lrgym.leaderboard.private import is_private

    if suite.name == DEFAULT_SUITE and not is_private(suite):
        return Path(name)
    return _labelled(name, suite.name)


def _labelled(name: str, label: str) -> Path:
    """``name`` with ``-label`` before its extension (a name without one, a folder: at its end)."""
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    return Path(f"{stem}-{label}{dot}{ext}")


def _board_path(markdown: Optional[Path], no_markdown: bool, ship: bool, suite, db: Optional[Path] = None) -> Optional[Path]:
    """Where the Markdown ranking of ``suite`` goes: nowhere (``--no-markdown``), ``--markdown``,
    the shipped ``LEADERBOARD.md`` (``--ship``), else ``runs/LEADERBOARD.md`` (another suite:
    ``runs/LEADERBOARD-<suite>.md``): a run never rewrites the shipped board unless asked."""
    from lrgym.baselines.outputs import runs_dir
    from lrgym.leaderboard.private import is_private

    name = _suite_file(SHIPPED_BOARD.name, suite)  # only the default suite's board is shipped
    shipped = SHIPPED_BOARD if name.name == SHIPPED_BOARD.name else name
    default = runs_dir() / name  # runs/LEADERBOARD[-suite].md, for the messages (_output checks it)
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
    return _file_out(_output(shipped, markdown, "--markdown", ship=ship, db=db), "--markdown")


def _shipped_files() -> list[Path]:
    """What the leaderboard ships beside the baselines' files (``lrgym.baselines.outputs.
    shipped_outputs``), which no output may overwrite without ``--ship``: ``LEADERBOARD.md`` and
    the references with their ``SHA256SUMS``."""
    from lrgym.leaderboard.references import SHIPPED_DIR

    return [SHIPPED_BOARD, *(sorted(SHIPPED_DIR.iterdir()) if SHIPPED_DIR.is_dir() else [])]


def _output(shipped: Path, out: Optional[Path], hint: str, ship: bool = False, db: Optional[Path] = None) -> Path:
    """:func:`lrgym.baselines.outputs.output_path` with its refusals (an ``--out`` or a
    ``$LRGYM_RUNS`` naming a shipped file, e.g. ``--markdown .`` in the source checkout) as the
    option's error. ``shipped`` is a bare name for an output nothing ships (``leaderboard.html``).
    A path that is the results store ``db`` or one of its files is refused too (``report
    --markdown board.sqlite`` replaced the store with the report, every result lost)."""
    from lrgym.baselines.outputs import output_path

    try:
        path = output_path(shipped, ship=ship, out=out, protected=_shipped_files(), option=hint,
                           in_place=True)  # (written by _write: write_output)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None
    _refuse_store_files(path, db, hint)
    return path


def _refuse_store_files(path: Path, db: Optional[Path], hint: str, inside: tuple[str, ...] = ()) -> None:
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


def _refuse_shown_private(path: Optional[Path], hint: str, what: str = "a private suite's board") -> None:
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


def _output_mode(private: bool) -> int:
    """The mode of an output file: owner-only (:data:`PRIVATE_MODE`) for a private suite's, whose
    HTML and exports name its hidden instances, env seeds and initial losses (and whose Markdown
    is kept so too, until the grader publishes it); 0644 (less the umask) otherwise."""
    return PRIVATE_MODE if private else 0o644


def _wrote(path: Path, what: str = "", private: bool = False, secrets: bool = True, to: Console = console) -> None:
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


def _write(path: Path, text: str, mode: int, hint: str) -> None:
    """Write an output the user named (:func:`~lrgym.baselines.outputs.write_output`), its folder
    made if missing; a path the checks before the run could not foresee (``--markdown
    /proc/x.md``) is the option's error, not a traceback."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_output(path, text, mode=mode)
    except OSError as exc:
        raise typer.BadParameter(f"cannot write {path}: {exc.strerror or exc}; valid: a path in a folder you can "
                                 "write", param_hint=hint) from None


def _file_out(path: Optional[Path], hint: str) -> Optional[Path]:
    """``path`` for a file the command will write; an existing folder there (``--markdown DIR``
    whose ``DIR/LEADERBOARD.md`` is a folder too: output_path already put a plain folder's file
    inside it) is refused before anything runs (it was an IsADirectoryError once the work was done)."""
    if path is not None and path.is_dir():
        raise typer.BadParameter(f"{path} is a folder; valid: a file path (its folder is made if missing)",
                                 param_hint=hint)
    return path


def _suite(name: str, private: Optional[Path] = None, grading: bool = True):
    """The suite of ``--suite`` / ``--private``; ``grading=False`` for a command that reads results
    only (a suite file's "tuned" file is then not read: :func:`~lrgym.leaderboard.suite_file.load_suite_file`)."""
    from lrgym.leaderboard.suite import get_suite

    if private is not None:
        from lrgym.leaderboard.private import private_suite

        _refuse_shown_key(private)
        try:
            return private_suite(private)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--private") from None
    try:
        return get_suite(name, grading=grading)
    except ValueError as exc:
        from lrgym.leaderboard.private import REVISION, is_private_version
        from lrgym.leaderboard.suite_file import is_suite_file

        # the name the board, the export and the key's id give it (a suite file's path is no such name)
        if is_private_version(name) and not is_suite_file(name):
            version = name if "/" in name else f"{name}/r{REVISION}"
            raise typer.BadParameter(
                f"{exc}; a private suite ({name}) is named by its key: --private KEYFILE (without the key, "
                f"`lrgym leaderboard export {shell_option('--suite', version)}` exports its stored results)",
                param_hint="--suite") from None
        raise typer.BadParameter(str(exc), param_hint="--suite") from None


def _refuse_shown_key(private: Path) -> None:
    """``BadParameter`` if the key of ``--private`` (or its references beside it) lies where the
    sandbox of a command not naming it would show it (:func:`lrgym.leaderboard.grader_places.
    check_key_place`): before the key is made, read or used."""
    from lrgym.leaderboard.grader_places import check_key_place

    try:
        check_key_place(private)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--private / $LRGYM_HIDDEN_DIRS") from None


def _refs_dir(private: Optional[Path]):
    """Where the references of the suite live: beside the key of a private suite, else the cache."""
    if private is None:
        return None
    from lrgym.leaderboard.private import references_dir

    try:
        return references_dir(private)
    except ValueError as exc:  # a folder others can read, a link, another user's
        raise typer.BadParameter(str(exc), param_hint="--private") from None


def _store(db: Optional[Path]):
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
    """The usage error of a path SQLite cannot use as a store (:func:`_store`)."""
    if os.path.isfile(path) and not all(os.access(p, os.W_OK) for p in (path, os.path.dirname(os.path.abspath(path)))):
        return typer.BadParameter(
            f"{path}: {exc}: the store or its folder is read-only, and every command opens the store for writing "
            "(its journal mode, an older schema brought up to date, <db>-shm beside it); valid: a store in a "
            "folder you can write: copy it there (with <db>-wal if there is one)", param_hint="--db / $LRGYM_STORE")
    return typer.BadParameter(f"{path}: {exc}; valid: an lrgym results store (SQLite) or a new file path",
                              param_hint="--db / $LRGYM_STORE")


class _Progress:
    """A rich progress bar fed by the runner's callbacks, on stderr with its log lines (references
    computed, each entry's outcome): a command's stdout is its result alone (the board, the
    ablation table), so ``> table.md`` captures the result and the terminal still shows the progress."""

    def __init__(self, description: str):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=err, transient=True)
        self.description = description
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def update(self, done: int, total: int, description: str | None = None) -> None:
        if self.task is None:
            self.task = self.progress.add_task(self.description, total=total)
        self.progress.update(self.task, completed=done, total=total,
                             description=description or self.description)

    def reset(self, description: str) -> None:
        """Start a new bar."""
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = None
        self.description = description

    def log(self, message) -> None:
        self.progress.console.print(message if not isinstance(message, str) else Text(message))


def _board_command(command: str, suite: str, private: Optional[Path]) -> str:
    """The command that makes a Markdown board again, as the board names it: a private suite's key
    as the placeholder ``KEYFILE`` and a suite file by its file name, never the grader's paths
    (the board is what is published)."""
    from lrgym.leaderboard.provenance import board_command
    from lrgym.leaderboard.suite_file import is_suite_file

    return board_command(command, Path(suite).name if is_suite_file(suite) else suite, private=private is not None)


def _show_command(suite: str, private: Optional[Path], db: Optional[Path]) -> str:
    """The ``show`` command of this board, for a grading run's line that it printed some rows only."""
    return _command_of_this_board("show", suite, private, db)


def _command_of_this_board(command: str, suite: str, private: Optional[Path], db: Optional[Path]) -> str:
    """``lrgym leaderboard COMMAND`` for the board a command just used: its suite as a board names
    it (:func:`_board_command`) and its store, ``--db``, if one was given."""
    return _board_command(command, suite, private) + (f" {shell_option('--db', db)}" if db is not None else "")


def _outcome_line(outcome) -> Text:
    e = outcome.entry
    if outcome.kept is not None:  # it ran, but another owner took its name meanwhile (said in full by submit)
        return Text.assemble(("✗ ", "red"), (clean(e.name, keep_newlines=False), "bold"),
                             f"  ran, but not stored: its name was taken meanwhile; kept in {outcome.kept}")
    if e.status == "ok":
        ranked = e.summary["family_iqm"]
        return Text.assemble(("✓ ", "green"), (e.name, "bold"),
                             f"  family IQM {ranked[0]:.3f} [{ranked[1]:.3f}, {ranked[2]:.3f}]  ({outcome.elapsed:.1f} s)")
    reason = clean(e.failure_reason or "").split("\n", 1)[0]
    return Text.assemble(("✗ ", "red"), (clean(e.name, keep_newlines=False), "bold"), f"  failed: {reason}")


def _backend(backend: str, address: Optional[str]):
    """The :class:`lrgym.baselines.backend.Backend` of ``--backend`` / ``--address`` (checked)."""
    from lrgym.baselines.backend import Backend, connect, import_ray

    try:
        b = Backend(backend, address)
        if b.is_ray:
            import_ray()
            connect(b.address)  # now, before a store or anything else is made
    except (ValueError, ImportError, ConnectionError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--backend / --address") from None
    return b


def _references(suite, workers, progress: _Progress, directory=None, backend=None):
    from lrgym.leaderboard.references import load_references

    return load_references(
        suite, n_workers=workers, log=progress.log,
        progress=lambda d, t: progress.update(d, t, "references"), directory=directory, backend=backend,
    )


def _run(specs, suite, db, workers, description, refs_dir=None, backend=None, private=None, **kw):
    from lrgym.leaderboard.runner import check_places, run_suite
    from lrgym.leaderboard.store import StoreUnwritableError, default_store_path

    def on_outcome(outcome):
        progress.log(_outcome_line(outcome))

    try:  # before the store is made (run_suite checks it too)
        check_places(specs, db if db is not None else default_store_path(),
                     sandbox_baselines=kw.get("sandbox_baselines", False))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--db / $LRGYM_STORE / the working directory") from None
    with _store(db) as store:
        try:
            with _Progress(description) as progress:
                refs = _references(suite, workers, progress, refs_dir, backend)
                progress.reset(description)
                # a private suite's key and references: covered in every sandbox, as the store is
                secret = [private, refs_dir] if private is not None else []
                outcomes = run_suite(specs, suite, store=store, references=refs, n_workers=workers,
                                     on_progress=progress.update, on_outcome=on_outcome, log=progress.log,
                                     backend=backend, grader_files=secret, **kw)
        except ValueError as exc:  # a name taken before the run, a bad limit: nothing was run
            # (a name taken during the run is no exception: the outcome says where its result is kept)
            err.print(Text(f"error: {clean(str(exc))}"))
            raise typer.Exit(2) from None
        except StoreUnwritableError as exc:  # a full disk before the run: the waiting results stay in their side files
            err.print(Text(f"error: {clean(str(exc))}; nothing was run"))
            raise typer.Exit(1) from None
        except STOP_EXCEPTIONS as exc:  # Ctrl-C, or SIGTERM / SIGHUP under main() (escalated too): the pool cleaned up
            with contextlib.suppress(OSError):  # a terminal closed (SIGHUP)
                err.print(Text(f"interrupted: {store.entries_added} finished entries are saved in {store.path}"))
            raise typer.Exit(interrupt_status(exc)) from None
        except (NodeMismatch, RayCannotRun) as exc:  # a Ray node runs other code, Ray cannot run a job: stopped
            _node_mismatch(exc, f"{store.entries_added} finished entries are saved in {store.path}")
        return outcomes, refs, store.path


def _node_mismatch(exc: Exception, saved: str = ""):
    """Stop the command on a :class:`~lrgym.baselines.node_check.NodeMismatch` (a Ray node that
    differs from the driver, named with each value there and here) or a
    :class:`~lrgym.baselines.backend.RayCannotRun` (Ray's error that no retry helps): that message and ``saved``
    on stderr, exit status 1; it was a traceback of the grader's internals around the one line
    that says what to fix."""
    err.print(Text(f"error: {clean(str(exc))}"))
    if saved:
        err.print(Text(saved))
    raise typer.Exit(1) from None


def _existing_store(db: Optional[Path], suite=None):
    """The store at ``db`` for reading; exits with a hint if there is none yet: the command that
    grades ``suite``'s baselines (the board asked for) into it (without its --suite it graded the
    default suite there, and the board asked for stayed empty)."""
    from lrgym.leaderboard.provenance import run_baselines_command
    from lrgym.leaderboard.store import default_store_path

    path = Path(db) if db is not None else default_store_path()
    if not os.path.lexists(path):  # (a dangling link is refused by name: _store)
        hint = f"`{run_baselines_command(suite, db)}` first " + ("(or pass --db)" if db is None else "(or check the path)")
        err.print(Text(f"no results at {path}: run {hint}"))
        raise typer.Exit(1)
    return _store(path)


def _cached_references(suite, private=None):
    """The suite's valid cached or shipped references (:func:`lrgym.leaderboard.references.find_cached`:
    reproduced by this code), or None: what a board compares its entries' initial losses with."""
    from lrgym.leaderboard.references import find_cached

    found = find_cached(suite, directory=_refs_dir(private))
    return found[0] if found else None


def _print_board(suite, db, show_failures=True, references=None, private=None, graded=None, show_command=None,
                 every_poi=True):
    """Print the ranking of ``suite`` in the store at ``db``; entries whose runs started from other
    losses than ``references`` (default: the valid cached or shipped ones, if any) are not ranked.
    ``graded`` (the entries a grading run just stored: ``submit``'s, ``run-baselines``'): of a large
    board, only the top rows, the best baseline's and theirs
    (:func:`~lrgym.leaderboard.report_terminal.printed_rows`), and a line naming ``show_command``;
    unless ``every_poi`` (the board returned is written out too: every row's PoI), only the printed rows' PoI is computed
    (:func:`~lrgym.leaderboard.ranking.compare_with_best`: the same intervals)."""
    from lrgym.leaderboard.ranking import build_leaderboard, compare_with_best
    from lrgym.leaderboard.report import TOP_ROWS, print_table, printed_rows

    from lrgym.leaderboard.store import ForeignPendingError

    if references is None:
        references = _cached_references(suite, private)
    with _existing_store(db, suite) as store:
        # the side files before the board: a result another grader commits meanwhile (then removing its
        # side file) is on the board or said to wait, never in neither
        try:
            kept = store.side_file_notes()
        except ForeignPendingError as exc:  # the board is shown; the folder's files are not read
            kept = [str(exc)]
        # a table: no curves; of the rows a grading run prints, their PoI alone
        lb = build_leaderboard(store, suite, references=references, curves=False, poi=every_poi or graded is None)
    rows = printed_rows(lb, graded) if graded is not None else None
    if rows is not None and not every_poi:
        compare_with_best(rows, lb.row(lb.best_baseline) if lb.best_baseline else None)
    print_table(lb, console, show_failures=show_failures, rows=rows, db=db)
    if rows is not None and len(rows) < len(lb.rows):
        extra = ["the best baseline's" if r.name == lb.best_baseline else f"{clean(r.name, keep_newlines=False)}'s"
                 for r in rows[TOP_ROWS:]]
        console.print(Text(f"{len(rows)} of the board's {len(lb.rows)} rows (the top {TOP_ROWS}"
                           + "".join(f", {w}" for w in extra) + f"); every row: `{show_command}`"))
    for note in kept:  # results waiting to be written, that ran but wait for another name (import-kept), or that the store refused
        err.print(Text(f"not on the board: {note}"))
    return lb


@leaderboard_app.command("run-baselines")
def run_baselines(
    suite: str = SuiteOpt,
    db: Optional[Path] = DbOpt,
    workers: Optional[int] = WorkersOpt,
    learned: bool = typer.Option(True, "--learned/--no-learned",
                                 help="Include the learned baselines (those whose weights are shipped)."),
    only: Optional[List[str]] = typer.Option(None, "--only", help="Run just these baselines (repeatable)."),
    markdown: Optional[Path] = MarkdownOpt,
    no_markdown: bool = NoMarkdownOpt,
    ship: bool = ShipBoardOpt,
    private: Optional[Path] = PrivateOpt,
    backend: str = BackendOpt,
    address: Optional[str] = AddressOpt,
):
    """Run the baselines on a suite (all cores), record them, print the ranking and write it
    (runs/LEADERBOARD.md; the shipped LEADERBOARD.md with --ship)."""
    from lrgym.leaderboard.runner import baseline_specs, cpu_description

    if only and not learned:
        raise typer.BadParameter(f"--only {' --only '.join(only)} names the baselines to run; --no-learned would "
                                 "drop some of them: give one of the two", param_hint="--only / --no-learned")
    s = _suite(suite, private)
    board = _board_path(markdown, no_markdown, ship, s, db)
    if private is not None:
        _refuse_shown_private(board, "--markdown")
    backend_ = _backend(backend, address)
    try:
        specs = baseline_specs(only or None, include_learned=learned, tuned=s.tuned)  # a suite file's own values
    except ValueError as exc:  # an unknown name: a bad value of --only, said as every bad value is
        raise typer.BadParameter(str(exc), param_hint="--only") from None
    except ImportError as exc:
        err.print(Text(f"error: {exc}"))
        raise typer.Exit(2) from None
    t0 = time.perf_counter()
    outcomes, refs, path = _run(specs, s, db, workers, f"{len(specs)} baselines on {s.version}",
                                refs_dir=_refs_dir(private), backend=backend_, private=private)
    elapsed = time.perf_counter() - t0
    lb = _print_board(s, db, references=refs, graded=[spec.name for spec in specs],
                      show_command=_show_command(suite, private, db),
                      every_poi=board is not None)  # (the Markdown ranking has every row)
    n_ok = sum(o.ok for o in outcomes)
    # stdout: the board (the result); how the run went and the file written: stderr
    err.print(Text(f"{n_ok}/{len(outcomes)} baselines on suite {s.version} in {elapsed:.1f} s "
                   f"({cpu_description()}); results in {path}"))
    if board is not None:
        from lrgym.leaderboard.report import markdown as to_markdown

        cmd = _board_command("run-baselines", suite, private)
        _write(board, to_markdown(lb, command=cmd, elapsed=elapsed, machine=cpu_description()),
               _output_mode(private is not None), "--markdown")
        _wrote(board, private=private is not None, secrets=False, to=err)
    if n_ok < len(outcomes):
        raise typer.Exit(1)


@leaderboard_app.command("controller-ablation")
def controller_ablation(
    suite: str = typer.Option("val", "--suite", "-s", help="Suite (default: val, the README's table's; v2, quick, "
                              "or a suite file of your own)."),
    db: Optional[Path] = DbOpt,
    workers: Optional[int] = WorkersOpt,
    submission: Optional[Path] = typer.Option(None, "--submission", parser=nonempty_path, metavar="FILE.py",
                                              help="A run's submission file (train_controller's "
                                              "runs/controller_mixed.py): its weights' table (default: the shipped "
                                              "weights')."),
    grade: bool = typer.Option(True, "--grade/--no-grade", help="Grade every row first (default), or print the "
                               "table of the entries the store holds."),
):
    """The learned controller's ablation table (README): the trained weights, random weights and each
    input group held at 0, with bold_driver and plateau for scale, graded into the store; prints
    the table in Markdown (IQM of all runs with its 95% CI, per family IQM / mean / divergence)."""
    from lrgym.leaderboard.ablation_table import ablation_rows, markdown_table
    from lrgym.leaderboard.ranking import build_leaderboard
    from lrgym.leaderboard.runner import baseline_specs, submission_spec

    s = _suite(suite, grading=grade)
    try:
        rows = ablation_rows(None if submission is None else str(submission))
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--submission") from None
    refs = None
    if grade:
        try:
            specs = [baseline_specs([r.target], tuned=s.tuned)[0] if r.kind == "baseline"
                     else submission_spec(r.target, r.name) for r in rows]
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--submission") from None
        _, refs, _ = _run(specs, s, db, workers, f"controller ablation on {s.version}")
    if refs is None:
        refs = _cached_references(s)
    with _existing_store(db, s) as store:
        lb = build_leaderboard(store, s, references=refs, curves=False, poi=False)
    summaries = {}
    for r in rows:
        try:
            summaries[r.name] = lb.row(r.name).summary
        except KeyError:
            pass
    sys.stdout.write(markdown_table(rows, summaries, tuple(s.family_names), s.name))
    sys.stdout.flush()
    if len(summaries) < len(rows):
        raise typer.Exit(1)


@leaderboard_app.command()
def submit(
    target: str = typer.Argument(..., help="path/to/policy.py:ClassName, package.module:ClassName, or an SB3 model .zip"),
    name: Optional[str] = typer.Option(None, "--name", "-n",
                                       help="Entry name (default: the policy's `name`, else the class / file name)."),
    suite: str = SuiteOpt,
    db: Optional[Path] = DbOpt,
    workers: Optional[int] = WorkersOpt,
    time_limit: float = typer.Option(1800.0, "--time-limit", help="Wall-clock (and CPU-time) limit for the whole "
                                     "evaluation (s, 1 to 604800)."),
    memory_limit: Optional[float] = typer.Option(None, "--memory-limit", help="Memory limit of the whole sandbox: "
                                                 "every process of the policy, its shared memory and /tmp files, where "
                                                 "the grader can make a cgroup, else each process's address space (MB, "
                                                 "256 to the machine's memory) (default: 4096, at most half the "
                                                 "machine's memory)."),
    algo: Optional[str] = typer.Option(None, "--algo", help="SB3 algorithm of a .zip (dqn, ppo, ...) (default: from the file)."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="SB3 models: inner optimizer they were trained "
                                            "with (default: the sidecar's, else sgd)."),
    env_options: Optional[str] = typer.Option(None, "--env-options", help="SB3 models: JSON of the policy choices "
                                              "(lr_init, factors, rejection_threshold); the suite fixes the rest."),
    owner: Optional[str] = typer.Option(None, "--owner", help="Who owns the entry name (default: your user name); "
                                        "a hosted grader sets the account."),
    private: Optional[Path] = PrivateOpt,
    backend: str = BackendOpt,
    address: Optional[str] = AddressOpt,
):
    """Evaluate your policy on a suite in a sandboxed process and record it."""
    from lrgym.leaderboard.limits import check_memory_limit, check_time_limit
    from lrgym.leaderboard.runner import checked_submission, submission_spec

    s = _suite(suite, private)
    backend_ = _backend(backend, address)
    if private is not None:
        _private_needs_namespaces(backend_)
    for value, check, hint in ((time_limit, check_time_limit, "--time-limit"),
                               (memory_limit, check_memory_limit, "--memory-limit")):
        try:
            if value is not None:
                check(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=hint) from None
    try:
        options = json.loads(env_options) if env_options else None
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--env-options") from None
    try:
        # no --name: the policy's declared name, else the class's (submission_spec); an empty one is refused
        spec = submission_spec(target, name, algo=algo, optimizer=optimizer, env_options=options)
        # a linked or special file: refused now, not after a sandbox run; the spec carries what it trained at
        spec, notes = checked_submission(spec, s)
    except FileNotFoundError as exc:  # the file named is missing (a folder is a ValueError saying so)
        raise typer.BadParameter(str(exc), param_hint="TARGET") from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="TARGET / --name / --algo / --optimizer / --env-options") from None
    for note in notes:
        err.print(Text(f"note: {note}", style="yellow"))
    outcomes, refs, path = _run([spec], s, db, workers, f"{spec.name} on {s.version}", refs_dir=_refs_dir(private),
                                backend=backend_, private=private, time_limit=time_limit, memory_mb=memory_limit,
                                owner=owner)
    outcome = outcomes[0]
    if outcome.kept is not None:  # ran, but another owner took the name between the check and the write
        err.print(Text("submission not stored:", style="red bold"))
        err.print(Text(clean(outcome.kept_message or "")))
        raise typer.Exit(3)
    if outcome.entry.id is None:  # the store could not take it (said above by the run's log)
        err.print(Text(f"submission {'ran' if outcome.ok else 'failed'} but is not stored in {path}; "
                       "see the error above", style="red bold"))
        raise typer.Exit(1)
    if not outcome.ok:
        err.print(Text("submission failed:", style="red bold"))
        err.print(Text(clean(outcome.entry.failure_reason or "")))
        err.print(Text(f"recorded as failed in {path}"))
        raise typer.Exit(1)
    lb = _print_board(s, db, show_failures=False, references=refs, graded=[spec.name],
                      show_command=_show_command(suite, private, db),
                      every_poi=False)
    row = lb.row(spec.name)
    console.print(Text(f"{spec.name}: rank {row.rank} of {len(lb.rows)} on {s.version}; results in {path}"))
    if lb.best_baseline is None:  # the rank says nothing, the PoI is "–": where the comparison comes from
        from lrgym.leaderboard.provenance import run_baselines_command

        err.print(Text(f"no baseline ranked on this board to compare {clean(spec.name, keep_newlines=False)} with "
                       f"(PoI –): grade them with `{run_baselines_command(s, db)}`"))


def _private_needs_namespaces(backend) -> None:
    """``submit --private`` grades only in the namespaces sandbox (:func:`~lrgym.leaderboard.sandbox.private_refusal`),
    refused here before the references are read; a bad setting, or ``require`` where it cannot be
    met, is left to the run's own check."""
    from lrgym.leaderboard import sandbox

    try:
        refusal = sandbox.private_refusal(here=not backend.is_ray)
    except (ValueError, sandbox.SandboxError):
        return
    if refusal:
        raise typer.BadParameter(refusal, param_hint="--private / $LRGYM_SANDBOX")


@leaderboard_app.command("import-kept")
def import_kept(
    kept: Path = typer.Argument(..., parser=nonempty_path, metavar="PATH", help="A kept result: <db>.pending/<token>.name-taken (named by submit, "
                                "show and every grading run)."),
    name: str = typer.Option(..., "--name", "-n", help="The entry name to store it under (not taken by "
                             "another submitter nor a baseline)."),
    db: Optional[Path] = DbOpt,
):
    """Store a result that ran but was kept aside because another submitter took its name meanwhile,
    under another --name (its owner, runs and scores unchanged)."""
    import sqlite3

    from lrgym.leaderboard.store import default_store_path

    path = Path(db) if db is not None else default_store_path()
    if not path.is_file():
        raise typer.BadParameter(f"{path}: no results store there; valid: the store the result was meant for "
                                 "(the --db the message named)", param_hint="--db / $LRGYM_STORE")
    with _store(path) as store:
        try:
            entry_id = store.import_kept(kept, name)
        except ValueError as exc:  # a bad or taken name, a file that is no kept result: the file stays
            raise typer.BadParameter(clean(str(exc)), param_hint="KEPT / --name") from None
        except sqlite3.OperationalError as exc:  # locked past the busy timeout, a full disk: the file stays
            err.print(Text(f"error: the results store {path} takes no entries now ({exc}); the result stays in "
                           f"{kept}: run this command again once it does"))
            raise typer.Exit(1) from None
        entry = store.entry(entry_id)
    console.print(Text(f"stored {entry.name!r} (owner {entry.owner!r}, {entry.n_runs} runs, {entry.status}) "
                       f"in {path} as entry {entry_id}; removed {kept}"))


@leaderboard_app.command()
def show(
    suite: str = SuiteOpt,
    db: Optional[Path] = DbOpt,
    failures: bool = typer.Option(True, "--failures/--no-failures", help="List failed submissions."),
    private: Optional[Path] = PrivateOpt,
):
    """Print the ranking of a suite."""
    _print_board(_suite(suite, private, grading=False), db, show_failures=failures, private=private)


@leaderboard_app.command()
def report(
    suite: str = SuiteOpt,
    db: Optional[Path] = DbOpt,
    html: Optional[Path] = typer.Option(None, "--html", parser=nonempty_path, metavar="PATH", help="HTML report path (an existing folder: the default file "
                                        "name inside it; default: runs/leaderboard.html, or under $LRGYM_RUNS)."),
    no_html: bool = typer.Option(False, "--no-html", help="Do not write the HTML report (with --private: it names "
                                 "the hidden instances' curves; publish the Markdown)."),
    markdown: Optional[Path] = MarkdownOpt,
    no_markdown: bool = NoMarkdownOpt,
    ship: bool = ShipBoardOpt,
    top: int = typer.Option(5, "--top", parser=at_least(1), metavar="N", help="Best baselines drawn in the plots."),
    submissions: int = typer.Option(20, "--submissions", parser=at_least(0), metavar="N", help="Best submissions drawn in the plots (the "
                                    "ranking has every one; --entry draws any other)."),
    entry: Optional[List[str]] = typer.Option(None, "--entry", help="Also draw this entry in every plot, and its LR "
                                       "against each instance's reference LR (repeatable)."),
    private: Optional[Path] = PrivateOpt,
):
    """Write the HTML report (tables and plots; runs/leaderboard.html) and the Markdown ranking
    (runs/LEADERBOARD.md; the shipped LEADERBOARD.md with --ship). A private suite's files are
    written owner-only (mode 0600); its Markdown names no hidden instance or seed."""
    from lrgym.leaderboard.private import is_private
    from lrgym.leaderboard.ranking import build_leaderboard
    from lrgym.leaderboard.references import find_cached
    from lrgym.leaderboard.report import html_page
    from lrgym.leaderboard.report import markdown as to_markdown
    from lrgym.leaderboard.report import drawn_rows

    s = _suite(suite, private, grading=False)
    board = _board_path(markdown, no_markdown, ship, s, db)
    if no_html and html is not None:
        raise typer.BadParameter(f"--html {html} and --no-html both given; valid: one of them", param_hint="--no-html")
    if no_html and entry:  # --entry names what the HTML's plots draw
        raise typer.BadParameter(f"--entry {' --entry '.join(entry)} draws entries in the HTML report's plots, and "
                                 "--no-html writes none; valid: one of them", param_hint="--entry / --no-html")
    if no_html and board is None:
        raise typer.BadParameter("--no-html and --no-markdown both given: nothing to write; valid: at most one of "
                                 "them (`lrgym leaderboard show` prints the ranking)", param_hint="--no-html")
    if not no_html:  # runs/leaderboard[-suite].html unless --html
        html = _file_out(_output(_suite_file("leaderboard.html", s), html, "--html", db=db), "--html")
    if is_private(s):  # before any work: a later sandbox would show them
        _refuse_shown_private(html, "--html", "a private suite's report")
        _refuse_shown_private(board, "--markdown")
    found = find_cached(s, directory=_refs_dir(private))  # (entries of other task dynamics are not ranked)
    with _existing_store(db, s) as store:
        # the curves of the rows a figure draws only: a hosted board's are gigabytes
        lb = build_leaderboard(store, s, references=found[0] if found else None, curves=False)
        if not no_html:
            try:  # the names of --entry, checked before the page (whose other errors are no bad --entry)
                drawn = drawn_rows(lb, top, tuple(entry or ()), submissions)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--entry") from None
            for row in drawn:
                row.runs = store.runs(row.entry.id)
    mode = _output_mode(is_private(s))
    if not no_html:
        refs = found[0] if found else None
        page = html_page(lb, references=refs, top=top, entries=tuple(entry or ()), submissions=submissions)
        _write(html, page, mode, "--html")
        _wrote(html, f" ({len(lb.rows)} entries)", private=is_private(s))
    if board is not None:
        cmd = _board_command("report", suite, private)
        _write(board, to_markdown(lb, command=cmd), mode, "--markdown")
        _wrote(board, private=is_private(s), secrets=False)


@leaderboard_app.command()
def references(
    suite: str = typer.Option(DEFAULT_SUITE, "--suite", "-s", help="Suite name, 'all', or a suite file (PATH.json)."),
    workers: Optional[int] = WorkersOpt,
    recompute: bool = typer.Option(False, "--recompute", help="Recompute even if a valid cache exists."),
    ship: bool = typer.Option(False, "--ship", help="Also write the copy shipped in the package (maintainers)."),
    private: Optional[Path] = PrivateOpt,
    backend: str = BackendOpt,
    address: Optional[str] = AddressOpt,
):
    """Compute (or show the cached) best-fixed-LR references of a suite."""
    import numpy as np
    from rich.table import Table

    from lrgym.leaderboard.references import SHIPPED_DIR, load_references, save_references
    from lrgym.leaderboard.suite import SUITES
    from lrgym.leaderboard.suite_file import is_suite_file

    if private is not None and ship:
        raise typer.BadParameter("a private suite's references are never shipped", param_hint="--ship")
    if ship and is_suite_file(suite):
        raise typer.BadParameter(f"--ship with --suite {suite}: a suite file's references are never shipped (they "
                                 "are cached, and its results keyed, under its own name); valid: leave --ship out",
                                 param_hint="--ship")
    if private is None and suite != "all" and suite not in SUITES and not is_suite_file(suite):
        raise typer.BadParameter(f"unknown suite {suite!r}; valid choices: {', '.join(SUITES)}, all (every one), "
                                 "or a suite file (PATH.json)", param_hint="--suite")
    backend_ = _backend(backend, address)
    for name in ([None] if private is not None else list(SUITES) if suite == "all" else [suite]):
        s = _suite(name, private)
        t0 = time.perf_counter()
        try:
            with _Progress(f"references of {s.version}") as progress:
                refs = load_references(s, n_workers=workers, recompute=recompute, log=progress.log,
                                       progress=lambda d, t: progress.update(d, t), directory=_refs_dir(private),
                                       backend=backend_)
        except (NodeMismatch, RayCannotRun) as exc:
            _node_mismatch(exc)
        table = Table(title=Text(f"references of {s.version} ({time.perf_counter() - t0:.1f} s)"))
        for col in ("instance", "best fixed LR", "median L0", "median L_ref"):
            table.add_column(col, justify="right")
        for t in ([] if private is not None else s.tasks()):  # a private suite's answers stay private
            d = refs.tasks[t.label]
            table.add_row(t.label, f"{d['lr']:.3g}", f"{np.median(d['initial_loss']):.4g}",
                          f"{np.median(d['final_loss']):.4g}")
        console.print(table)
        if private is not None:  # the empty table alone said nothing of why
            console.print(Text(f"{len(refs.tasks)} references, not shown (a private suite's answers); "
                               f"kept in {_refs_dir(private)}"), soft_wrap=True)
        if ship:
            err.print(Text(f"wrote {save_references(refs, SHIPPED_DIR)}"))  # stdout: the table alone


@leaderboard_app.command()
def export(
    fmt: str = typer.Option("csv", "--format", "-f", help="csv (a folder of three files) or json (one file)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", parser=nonempty_path, metavar="PATH",
                                       help="Output folder (csv) or file (json; an existing folder: the default "
                                            "file name inside it) (default: runs/results/ or runs/results.json, "
                                            "under $LRGYM_RUNS if set; another suite: results-<suite>, --all: "
                                            "results-all)."),
    suite: str = typer.Option(DEFAULT_SUITE, "--suite", "-s", help="Suite: v2, v1, val, quick, a suite file (PATH.json), or a version "
                              "stored in the results (such as private-8c1d7061/r2, an earlier key's)."),
    db: Optional[Path] = DbOpt,
    every_entry: bool = typer.Option(False, "--all", help="Every entry of the store (failed, older, any suite)."),
    private: Optional[Path] = PrivateOpt,
):
    """Export entries, per-run scores and trajectories as CSV or JSON (lrgym.leaderboard.export).
    A private suite's rows (--private, a stored private version, or --all of a store holding
    them) are written owner-only (mode 0600)."""
    from lrgym.leaderboard.export import FORMATS, TABLES, holds_private, table_rows, write_tables
    from lrgym.leaderboard.suite import SUITES
    from lrgym.leaderboard.suite_file import is_suite_file

    if fmt not in FORMATS:
        raise typer.BadParameter(f"unknown format {fmt!r}; valid choices: {', '.join(FORMATS)}", param_hint="--format")
    name = "results" if fmt == "csv" else "results.json"
    # a stored version, by name: no key needed (a suite file's path holds a "/" too)
    stored = private is None and suite not in SUITES and "/" in suite and not is_suite_file(suite)
    if stored:
        version, default = suite, _labelled(name, suite.replace("/", "-"))
    else:
        s = _suite(suite, private, grading=False)
        version, default = s.version, _suite_file(name, s)
    if every_entry:
        default = _labelled(name, "all")  # every suite's rows: never the name of one suite's export
    if fmt == "json" or out is None:  # csv's output is itself a folder: its --out is taken as is
        out = _output(default, out, "--out", db=db)  # runs/… unless --out
    _refuse_store_files(out, db, "--out", tuple(f"{t}.csv" for t in TABLES) if fmt == "csv" else ())
    if fmt == "csv" and out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} is a file, and csv writes a folder of three files; valid: a folder "
                                 "(new or existing), or --format json for one file", param_hint="--out")
    if fmt == "json" and out.is_dir():
        raise typer.BadParameter(f"{out} is a folder, and json writes one file; valid: a file path, or "
                                 "--format csv for a folder", param_hint="--out")
    if fmt == "csv":  # its --out, taken as is, gets output_path's checks here
        try:
            check_outside_package(out / "entries.csv", f"--out {out}")  # (its three files)
            check_can_write(out / "entries.csv", f"--out {out}", in_place=True)  # (export's write_output)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--out") from None
    with _existing_store(db) as store:
        if stored and not every_entry:
            versions = sorted({e.suite_version for e in store.entries() if e.suite_version})
            if suite not in versions:
                raise typer.BadParameter(f"no entries of suite version {suite!r} in {store.path}; valid: "
                                         f"{', '.join(SUITES)}, --private KEYFILE, or a stored version: "
                                         f"{', '.join(versions) or '(none stored)'}", param_hint="--suite")
        data = table_rows(store, version, every_entry)  # one read of the entries: what is written is what is said of it
        private_rows = holds_private(data)
        if private_rows:
            _refuse_shown_private(out, "--out", "a private suite's results")
        try:
            paths = write_tables(data, fmt, out)  # owner-only if it holds a private suite's rows
        except OSError as exc:
            raise typer.BadParameter(f"cannot write {exc.filename or out}: {exc.strerror or exc}; valid: a path in a "
                                     "folder you can write", param_hint="--out") from None
    for path in paths:
        _wrote(path, private=private_rows)


@leaderboard_app.command()
def suites(
    private: Optional[Path] = typer.Option(None, "--private", parser=nonempty_path, metavar="PATH", help="Key file of a hidden suite: created (mode "
                                           "0600) if missing, then listed; keep it secret."),
):
    """List the benchmark suites (and the private one of a key file)."""
    from rich.table import Table

    from lrgym.leaderboard.suite import DEFAULT_SUITE, SUITES

    table = Table(title="suites")
    for col in ("name", "version", "instance set", "families × instances", "seeds", "runs/entry", "description"):
        table.add_column(col)
    listed = list(SUITES.values())
    if private is not None:
        from lrgym.leaderboard.private import create_key

        _refuse_shown_key(private)  # before it is made: a public submit's sandbox would show it
        try:
            if not os.path.lexists(private):  # a new key (its references beside it) never inside the package
                check_outside_package(private, f"--private {private}", "a key file outside it")
            created = create_key(private)
        except ValueError as exc:  # a path that cannot be made (its folder is a file, no permission)
            raise typer.BadParameter(str(exc), param_hint="--private") from None
        if created:
            err.print(Text(f"created the key {private} (mode 0600): the grader's secret, never share it"))
        listed.append(_suite("", private))
    for s in listed:
        fams = ", ".join(f"{fs.family}×{len(fs.instances)}" for fs in s.families)
        table.add_row(s.name + (" (default)" if s.name == DEFAULT_SUITE else ""), s.version, s.instance_set, fams,
                      str(len(s.seeds)), str(s.n_runs), s.description)
    console.print(table)


def main(exiting: bool = False) -> None:
    """The ``lrgym`` command: SIGTERM and SIGHUP stop it as Ctrl-C does (workers stopped, their
    temp folders removed, finished entries kept), with exit status 128 + the signal's number
    (:mod:`lrgym.baselines.interrupts`). ``exiting``: the process ends right after (the ``lrgym``
    script, ``python -m``); a program calling ``main()`` keeps its own signal handlers."""
    run_command(app, exiting=exiting)


if __name__ == "__main__":
    sys.exit(main(exiting=True))
