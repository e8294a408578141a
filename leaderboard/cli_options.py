"""What the ``lrgym`` commands (:mod:`lrgym.leaderboard.cli`) share to read their options: the
consoles (stdout for a command's result, stderr for its progress and messages), the parsers of
path and whole-number options, the options several commands take (``--suite``, ``--db``,
``--workers``, ``--backend``, ``--private``, ``--markdown``, ...), and the checked suite, key,
references folder and backend they name; the progress bar and the stop on a Ray node that differs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.text import Text

from lrgym.baselines.shell_words import shell_option
from lrgym.leaderboard.consoles import make_console
from lrgym.leaderboard.private_size import MAX_INSTANCES, MAX_SEEDS, N_INSTANCES, N_SEEDS
from lrgym.leaderboard.suite import DEFAULT_SUITE
from lrgym.leaderboard.text import clean


console = make_console(sys.stdout)
err = make_console(sys.stderr, stderr=True)

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


def checked_by(check):
    """The parser of a number option whose value ``check`` (a function of ``limits``: the value, or
    ValueError naming it and the valid range) judges: ``--time-limit 10m`` or ``--memory-limit 4G``
    is the option's error naming the value and the valid ones (typer's own float parser said
    ``Input should be a valid number, unable to parse string as a number``, naming neither)."""

    def parse(text) -> float:
        try:
            return check(text)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

    parse.__name__ = f"checked_by_{check.__name__}"
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
FamiliesOpt = typer.Option(None, "--families", metavar="A,B,...", help="With --private: the hidden suite over "
                           "these registered families, in this order (default: linreg,quadratic,mlp,recsys); one of "
                           "your own is named by $LRGYM_FAMILIES=name=module:Class.")
InstancesOpt = typer.Option(None, "--instances", metavar="N", help="With --private: the hidden suite's instances per "
                            f"family, 1 to {MAX_INSTANCES} (default {N_INSTANCES}; more: tighter confidence intervals, "
                            "a longer run). Part of the suite's name: each size its own board.")
SeedCountOpt = typer.Option(None, "--seed-count", metavar="M", help="With --private: how many hidden env seeds every "
                            f"instance runs with, 1 to {MAX_SEEDS} (default {N_SEEDS}; fewer: a cheaper board). Part of "
                            "the suite's name: each size its own board.")
MarkdownOpt = typer.Option(None, "--markdown", parser=nonempty_path, metavar="PATH", help="Write the ranking here (Markdown; an existing folder: "
                           "the default file name inside it; default: runs/LEADERBOARD.md of the working directory, or "
                           "under $LRGYM_RUNS).")
NoMarkdownOpt = typer.Option(False, "--no-markdown", help="Do not write the Markdown file.")
ShipBoardOpt = typer.Option(False, "--ship", help="Write the LEADERBOARD.md shipped at the top of the source "
                            "checkout instead (maintainers regenerating it; the default suite only).")


def parse_private_choices(private: Optional[Path], families: Optional[str] = None, instances: Optional[str] = None,
                          seed_count: Optional[str] = None) -> dict:
    """The keyword arguments of :func:`lrgym.leaderboard.private.private_suite` that ``--families``,
    ``--instances`` and ``--seed-count`` give (those not given left out), each checked
    (:func:`lrgym.leaderboard.private.parse_families`, ``check_instances``, ``check_seed_count``:
    a bad value is its option's error naming it and the valid ones). Any of them without
    ``--private`` is refused: a public suite of your own families or size is a suite file."""
    from lrgym.leaderboard import private as hidden

    given = {"--families": families, "--instances": instances, "--seed-count": seed_count}
    checks = {"--families": ("families", hidden.parse_families), "--instances": ("n_instances", hidden.check_instances),
              "--seed-count": ("n_seeds", hidden.check_seed_count)}
    chosen = {}
    for option, value in given.items():
        if value is None:
            continue
        if private is None:
            raise typer.BadParameter(f"{value!r} without --private; valid: --private KEYFILE {option} {value} "
                                     "(a hidden suite), or a suite file of the families and instances you choose "
                                     "for a public one (--suite PATH.json: lrgym.leaderboard.suite_file)",
                                     param_hint=option)
        argument, check = checks[option]
        try:
            chosen[argument] = check(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=option) from None
    return chosen


def parse_suite(name: str, private: Optional[Path] = None, grading: bool = True, families: Optional[str] = None,
                instances: Optional[str] = None, seed_count: Optional[str] = None):
    """The suite of ``--suite`` / ``--private`` (over ``--families``, of the size ``--instances`` x
    ``--seed-count``: :func:`parse_private_choices`); ``grading=False`` for a command that reads
    results only (a suite file's "tuned" file is then not read:
    :func:`~lrgym.leaderboard.suite_file.load_suite_file`)."""
    from lrgym.leaderboard.suite import get_suite

    chosen = parse_private_choices(private, families, instances, seed_count)
    if private is not None:
        from lrgym.leaderboard.private import private_suite

        refuse_shown_key(private)
        try:
            return private_suite(private, **chosen)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--private") from None
    try:
        return get_suite(name, grading=grading)
    except ValueError as exc:
        from lrgym.leaderboard.private import REVISION, is_private_version, private_options
        from lrgym.leaderboard.suite_file import is_suite_file

        # the name the board, the export and the key's id give it (a suite file's path is no such name)
        if is_private_version(name) and not is_suite_file(name):
            version = name if "/" in name else f"{name}/r{REVISION}"
            raise typer.BadParameter(
                f"{exc}; a private suite ({name}) is named by its key: --private KEYFILE{private_options(version)} (without the key, "
                f"`lrgym leaderboard export {shell_option('--suite', version)}` exports its stored results)",
                param_hint="--suite") from None
        raise typer.BadParameter(str(exc), param_hint="--suite") from None


def refuse_shown_key(private: Path) -> None:
    """``BadParameter`` if the key of ``--private`` (or its references beside it) lies where the
    sandbox of a command not naming it would show it (:func:`lrgym.leaderboard.grader_places.
    check_key_place`): before the key is made, read or used."""
    from lrgym.leaderboard.grader_places import check_key_place

    try:
        check_key_place(private)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--private / $LRGYM_HIDDEN_DIRS") from None


def suite_refs_dir(private: Optional[Path]):
    """Where the references of the suite live: beside the key of a private suite, else the cache."""
    if private is None:
        return None
    from lrgym.leaderboard.private import references_dir

    try:
        return references_dir(private)
    except ValueError as exc:  # a folder others can read, a link, another user's
        raise typer.BadParameter(str(exc), param_hint="--private") from None


def parse_backend(backend: str, address: Optional[str]):
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


class CommandProgress:
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


def stop_on_node_mismatch(exc: Exception, saved: str = ""):
    """Stop the command on a :class:`~lrgym.baselines.node_check.NodeMismatch` (a Ray node that
    differs from the driver, named with each value there and here) or a
    :class:`~lrgym.baselines.backend.RayCannotRun` (Ray's error that no retry helps): that message and ``saved``
    on stderr, exit status 1; it was a traceback of the grader's internals around the one line
    that says what to fix."""
    err.print(Text(f"error: {clean(str(exc))}"))
    if saved:
        err.print(Text(saved))
    raise typer.Exit(1) from None
