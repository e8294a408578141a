"""The ``lrgym leaderboard`` commands that read the results store (:mod:`lrgym.leaderboard.cli`
registers them): ``show`` (the ranking), ``report`` (HTML and Markdown), ``export`` (CSV / JSON)
and ``suites``; and the board printing that the grading commands end with too."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer
from rich.text import Text

from lrgym.baselines.outputs import check_can_write, check_outside_package
from lrgym.leaderboard.cli_files import (board_path, checked_output, file_out, labelled, open_existing_store,
    output_mode, published_board_command, refuse_shown_private, refuse_store_files, say_wrote,
    suite_output_name, write_file)
from lrgym.leaderboard.cli_options import (DbOpt, FamiliesOpt, InstancesOpt, MarkdownOpt, NoMarkdownOpt, PrivateOpt,
    SeedCountOpt, ShipBoardOpt, SuiteOpt, at_least, console, err, nonempty_path, parse_private_choices, parse_suite, refuse_shown_key, suite_refs_dir)
from lrgym.leaderboard.suite import DEFAULT_SUITE
from lrgym.leaderboard.text import clean


def cached_references(suite, private=None):
    """The suite's valid cached or shipped references (:func:`lrgym.leaderboard.references.find_cached`:
    reproduced by this code), or None: what a board compares its entries' initial losses with."""
    from lrgym.leaderboard.references import find_cached

    found = find_cached(suite, directory=suite_refs_dir(private))
    return found[0] if found else None


def print_board(suite, db, show_failures=True, references=None, private=None, graded=None, show_command=None,
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
        references = cached_references(suite, private)
    with open_existing_store(db, suite) as store:
        # the side files before the board: a result another grader commits meanwhile (then removing its
        # side file) is on the board or said to wait, never in neither
        try:
            kept = store.side_file_notes()
        except ForeignPendingError as exc:  # the board is shown; the folder's files are not read
            kept = [str(exc)]
        # a table: no curves; of the rows a grading run prints, their PoI alone
        lb = build_leaderboard(store, suite, references=references, curves=False, poi=every_poi or graded is None)
        held = store.suite_versions() if not lb.rows else None  # an empty board names the suites the store has
    rows = printed_rows(lb, graded) if graded is not None else None
    if rows is not None and not every_poi:
        compare_with_best(rows, lb.row(lb.best_baseline) if lb.best_baseline else None)
    print_table(lb, console, show_failures=show_failures, rows=rows, db=db, held=held)
    if rows is not None and len(rows) < len(lb.rows):
        extra = ["the best baseline's" if r.name == lb.best_baseline else f"{clean(r.name, keep_newlines=False)}'s"
                 for r in rows[TOP_ROWS:]]
        console.print(Text(f"{len(rows)} of the board's {len(lb.rows)} rows (the top {TOP_ROWS}"
                           + "".join(f", {w}" for w in extra) + f"); every row: `{show_command}`"))
    for note in kept:  # results waiting to be written, that ran but wait for another name (import-kept), or that the store refused
        err.print(Text(f"not on the board: {note}"))
    return lb


def show(
    suite: str = SuiteOpt,
    db: Optional[Path] = DbOpt,
    failures: bool = typer.Option(True, "--failures/--no-failures", help="List failed submissions."),
    private: Optional[Path] = PrivateOpt,
    families: Optional[str] = FamiliesOpt,
    instances: Optional[str] = InstancesOpt,
    seed_count: Optional[str] = SeedCountOpt,
):
    """Print the ranking of a suite."""
    print_board(parse_suite(suite, private, grading=False, families=families, instances=instances, seed_count=seed_count),
                db, show_failures=failures, private=private)


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
    families: Optional[str] = FamiliesOpt,
    instances: Optional[str] = InstancesOpt,
    seed_count: Optional[str] = SeedCountOpt,
):
    """Write the HTML report (tables and plots; runs/leaderboard.html) and the Markdown ranking
    (runs/LEADERBOARD.md; the shipped LEADERBOARD.md with --ship). A private suite's files are
    written owner-only (mode 0600); its Markdown names no hidden instance or seed."""
    from lrgym.leaderboard.private import is_private
    from lrgym.leaderboard.provenance import empty_board_note
    from lrgym.leaderboard.ranking import build_leaderboard
    from lrgym.leaderboard.references import find_cached
    from lrgym.leaderboard.report import html_page
    from lrgym.leaderboard.report import markdown as to_markdown
    from lrgym.leaderboard.report import drawn_rows

    s = parse_suite(suite, private, grading=False, families=families, instances=instances, seed_count=seed_count)
    board = board_path(markdown, no_markdown, ship, s, db)
    if no_html and html is not None:
        raise typer.BadParameter(f"--html {html} and --no-html both given; valid: one of them", param_hint="--no-html")
    if no_html and entry:  # --entry names what the HTML's plots draw
        raise typer.BadParameter(f"--entry {' --entry '.join(entry)} draws entries in the HTML report's plots, and "
                                 "--no-html writes none; valid: one of them", param_hint="--entry / --no-html")
    if no_html and board is None:
        raise typer.BadParameter("--no-html and --no-markdown both given: nothing to write; valid: at most one of "
                                 "them (`lrgym leaderboard show` prints the ranking)", param_hint="--no-html")
    if not no_html:  # runs/leaderboard[-suite].html unless --html
        html = file_out(checked_output(suite_output_name("leaderboard.html", s), html, "--html", db=db), "--html")
    if is_private(s):  # before any work: a later sandbox would show them
        refuse_shown_private(html, "--html", "a private suite's report")
        refuse_shown_private(board, "--markdown")
    found = find_cached(s, directory=suite_refs_dir(private))  # (entries of other task dynamics are not ranked)
    with open_existing_store(db, s) as store:
        # the curves of the rows a figure draws only: a hosted board's are gigabytes
        lb = build_leaderboard(store, s, references=found[0] if found else None, curves=False)
        held = store.suite_versions() if not lb.rows else None  # an empty board names the suites the store has
        if not no_html:
            try:  # the names of --entry, checked before the page (whose other errors are no bad --entry)
                drawn = drawn_rows(lb, top, tuple(entry or ()), submissions)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--entry") from None
            for row in drawn:
                row.runs = store.runs(row.entry.id)
    mode = output_mode(is_private(s))
    if not no_html:
        refs = found[0] if found else None
        page = html_page(lb, references=refs, top=top, entries=tuple(entry or ()), submissions=submissions, held=held)
        write_file(html, page, mode, "--html")
        say_wrote(html, f" ({len(lb.rows)} entries)", private=is_private(s))
    empty = empty_board_note(lb, held, db)  # (the page's, with this store's --db)
    if empty:
        err.print(Text(empty))
    if board is not None:
        cmd = published_board_command("report", suite, private, s)
        write_file(board, to_markdown(lb, command=cmd), mode, "--markdown")
        say_wrote(board, private=is_private(s), secrets=False)


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
    families: Optional[str] = FamiliesOpt,
    instances: Optional[str] = InstancesOpt,
    seed_count: Optional[str] = SeedCountOpt,
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
    # (a stored version below takes none: refused, not ignored, without --private)
    parse_private_choices(private, families, instances, seed_count)
    # a stored version, by name: no key needed (a suite file's path holds a "/" too)
    stored = private is None and suite not in SUITES and "/" in suite and not is_suite_file(suite)
    if stored:
        version, default = suite, labelled(name, suite.replace("/", "-"))
    else:
        s = parse_suite(suite, private, grading=False, families=families, instances=instances, seed_count=seed_count)
        version, default = s.version, suite_output_name(name, s)
    if every_entry:
        default = labelled(name, "all")  # every suite's rows: never the name of one suite's export
    if fmt == "json" or out is None:  # csv's output is itself a folder: its --out is taken as is
        out = checked_output(default, out, "--out", db=db)  # runs/… unless --out
    refuse_store_files(out, db, "--out", tuple(f"{t}.csv" for t in TABLES) if fmt == "csv" else ())
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
    with open_existing_store(db) as store:
        if stored and not every_entry:
            versions = sorted({e.suite_version for e in store.entries() if e.suite_version})
            if suite not in versions:
                raise typer.BadParameter(f"no entries of suite version {suite!r} in {store.path}; valid: "
                                         f"{', '.join(SUITES)}, --private KEYFILE, or a stored version: "
                                         f"{', '.join(versions) or '(none stored)'}", param_hint="--suite")
        data = table_rows(store, version, every_entry)  # one read of the entries: what is written is what is said of it
        held = store.suite_versions() if not data["entries"] and not every_entry else None
        private_rows = holds_private(data)
        if private_rows:
            refuse_shown_private(out, "--out", "a private suite's results")
        try:
            paths = write_tables(data, fmt, out)  # owner-only if it holds a private suite's rows
        except OSError as exc:
            raise typer.BadParameter(f"cannot write {exc.filename or out}: {exc.strerror or exc}; valid: a path in a "
                                     "folder you can write", param_hint="--out") from None
    for path in paths:
        say_wrote(path, private=private_rows)
    if held is not None:  # files of headers alone: say why, and where the store's rows are
        err.print(Text(empty_export_note(held, version, store.path, db)))


def empty_export_note(held: dict[str, int], version: str, path, db=None) -> str:
    """What ``export`` of the suite version ``version`` says when its files hold no row: the store
    at ``path`` has no successful entry of it, its failed ones if any (``--all`` exports them), and
    the other suites it ``held`` with the commands that export them
    (:func:`~lrgym.leaderboard.provenance.other_suites_note`). Until 2026-12-07 it said "wrote"
    of files of headers alone, and a store of ``quick`` results exported without ``--suite quick``
    looked empty."""
    from lrgym.baselines.shell_words import shell_option
    from lrgym.leaderboard.provenance import other_suites_note

    failed = held.get(version, 0)  # (an entry is ok or failed)
    every = "lrgym leaderboard export --all" + (f" {shell_option('--db', str(db))}" if db is not None else "")
    said = [f"The files hold no rows: {path} has no successful entry of suite {version}"
            + (f" ({failed} failed: `{every}` exports them)." if failed else ".")]
    elsewhere = other_suites_note(held, version, db, command="export")
    return " ".join(said + ([elsewhere] if elsewhere else []))


def suites(
    private: Optional[Path] = typer.Option(None, "--private", parser=nonempty_path, metavar="PATH", help="Key file of a hidden suite: created (mode "
                                           "0600) if missing, then listed; keep it secret."),
    families: Optional[str] = FamiliesOpt,
    instances: Optional[str] = InstancesOpt,
    seed_count: Optional[str] = SeedCountOpt,
):
    """List the benchmark suites (and the private one of a key file)."""
    from rich.table import Table

    from lrgym.leaderboard.suite import DEFAULT_SUITE, SUITES

    table = Table(title="suites")
    for col in ("name", "version", "instance set", "families × instances", "seeds", "runs/entry", "description"):
        table.add_column(col)
    listed = list(SUITES.values())
    # a bad list or size (or one without --private): refused before a key is made
    parse_private_choices(private, families, instances, seed_count)
    if private is not None:
        from lrgym.leaderboard.private import create_key

        refuse_shown_key(private)  # before it is made: a public submit's sandbox would show it
        try:
            if not os.path.lexists(private):  # a new key (its references beside it) never inside the package
                check_outside_package(private, f"--private {private}", "a key file outside it")
            created = create_key(private)
        except ValueError as exc:  # a path that cannot be made (its folder is a file, no permission)
            raise typer.BadParameter(str(exc), param_hint="--private") from None
        if created:
            err.print(Text(f"created the key {private} (mode 0600): the grader's secret, never share it"))
        listed.append(parse_suite("", private, families=families, instances=instances, seed_count=seed_count))
    for s in listed:
        fams = ", ".join(f"{fs.family}×{len(fs.instances)}" for fs in s.families)
        table.add_row(s.name + (" (default)" if s.name == DEFAULT_SUITE else ""), s.version, s.instance_set, fams,
                      str(len(s.seeds)), str(s.n_runs), s.description)
    console.print(table)
