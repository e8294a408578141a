"""The ranking as a rich table in the terminal (``lrgym leaderboard show`` / ``run-baselines``).

Every user-supplied string is shown through ``rich.text.Text``: verbatim, never parsed as markup.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from lrgym.leaderboard.consoles import make_console
from lrgym.leaderboard.provenance import empty_board_note, stale_note
from lrgym.leaderboard.ranking import Leaderboard, Row
from lrgym.leaderboard.report_format import (FAMILY_CELL, INSTANCES_COLUMN, RANK_COLUMN, column_names, failure_text,
                                             reason_line, row_cells, skipped_line, trained_apart_line)
from lrgym.leaderboard.text import clean

__all__ = ["COMPACT_COLUMNS", "MINIMAL_COLUMNS", "TOP_ROWS", "WHOLE_BOARD", "columns_note", "print_table",
           "printed_rows"]

#: the columns a narrow terminal still shows (plus the PoI column)
COMPACT_COLUMNS = ("#", "entry", "kind", RANK_COLUMN, INSTANCES_COLUMN, "mean", "diverged")
MINIMAL_COLUMNS = ("#", "entry", RANK_COLUMN, "mean")
#: after a grading run (``submit``, ``run-baselines``) a board of up to this many rows is printed whole ...
WHOLE_BOARD = 40
#: ... and of a larger one (a hosted board: thousands) the top rows, the best baseline's and the
#: rows of the entries just graded (:func:`printed_rows`)
TOP_ROWS = 20


def printed_rows(lb: Leaderboard, names: Iterable[str]) -> list[Row]:
    """The rows a grading run (``submit``, ``run-baselines``) prints after grading the entries
    ``names``: every row of a board of at most :data:`WHOLE_BOARD`; else the first
    :data:`TOP_ROWS`, the best baseline's (what the PoI column compares with) and those of
    ``names`` (each if ranked), in rank order. A hosted board of 2,000 entries printed all of them
    after every submission; the submitter wants their rank and row."""
    if len(lb.rows) <= WHOLE_BOARD:
        return list(lb.rows)
    keep = {id(r) for r in lb.rows[:TOP_ROWS]}
    for wanted in (lb.best_baseline, *names):
        try:
            keep.add(id(lb.row(wanted)))
        except KeyError:  # no baseline ranked, or the entry is not (said by the board's notes)
            pass
    return [r for r in lb.rows if id(r) in keep]


def columns_note(terminal: bool, width: int, needed: int) -> str:
    """The note that the board's table left columns out (printed on stderr): on a terminal, that it
    is narrow; written to a file or a pipe (whose tables are
    :data:`~lrgym.leaderboard.consoles.REDIRECTED_WIDTH` wide, or ``$COLUMNS``), how wide it was,
    and the ``COLUMNS`` that prints every column (``needed``: the whole table's width). Until
    2026-12-07 redirected output was told it was "a narrow terminal", in lines broken at 80 columns."""
    where = ("the other columns are in the Markdown ranking and the HTML page `lrgym leaderboard report` writes; "
             "where: its `wrote ...` lines")
    if terminal:
        return f"(a narrow terminal: {where})"
    return (f"(columns left out: the output is no terminal and its tables are {width} columns wide, the whole table "
            f"{needed}; COLUMNS={needed} in the command's environment prints every column, e.g. "
            f"`COLUMNS={needed} lrgym leaderboard show > board.txt`; {where})")


def print_table(lb: Leaderboard, console=None, show_failures: bool = True, rows: list[Row] | None = None,
                db=None, held: dict[str, int] | None = None) -> None:
    """The ranking as a rich table (names are shown verbatim, never parsed as markup).

    ``rows``: the board's rows to show (default: all), in rank order; a ``…`` row stands where
    ranks are left out (e.g. :func:`printed_rows`). ``db``: the store it was read from (``--db``),
    named in the commands it suggests, which otherwise grade into the default store. ``held``: the
    entries per suite version of that store (:meth:`~lrgym.leaderboard.store.ResultStore.suite_versions`):
    an empty board names the other suites it holds and how to show them
    (:func:`~lrgym.leaderboard.provenance.empty_board_note`)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    suite = lb.suite
    title = f"lrgym leaderboard — suite {suite.version} ({len(suite.tasks())} instances × {len(suite.seeds)} seeds)"
    columns = column_names(lb)
    # the widest layout that fits the terminal: all columns, the essentials, the bare ranking
    # (the per-family IQM / mean / divergence columns go last: they show what an IQM hides)
    family = [i for i, c in enumerate(columns) if c.endswith(FAMILY_CELL)]
    essentials = [i for i, c in enumerate(columns) if c in COMPACT_COLUMNS or c.startswith("PoI")]
    layouts = [range(len(columns)), sorted(essentials + family), essentials,
               [i for i, c in enumerate(columns) if c in MINIMAL_COLUMNS]]
    whole = 0
    for compact, keep in enumerate(layouts):
        table = Table(title=Text(title), header_style="bold")
        for i in keep:
            table.add_column(Text(columns[i]), justify="left" if i in (1, 2) else "right", no_wrap=True)
        previous = 0
        for r in lb.rows if rows is None else rows:
            if r.rank > previous + 1:  # ranks left out
                table.add_row(*(Text("…") for _ in keep), style="dim")
            previous = r.rank
            cells = row_cells(lb, r)
            table.add_row(*(Text(cells[i]) for i in keep), style="cyan" if r.entry.kind == "submission" else None)
        if rows is not None and lb.rows and previous < lb.rows[-1].rank:
            table.add_row(*(Text("…") for _ in keep), style="dim")
        wide = console.measure(table, options=console.options.update(max_width=10_000)).maximum
        whole = whole or wide  # the width every column needs (the first layout's)
        if wide <= console.width:
            break
    console.print(table)
    if compact and lb.rows:  # about the rendering, not the board: on stderr, so `show > board.txt` holds the board
        make_console(sys.stderr, stderr=True).print(Text(columns_note(console.is_terminal, console.width, whole)))
    empty = empty_board_note(lb, held, db)
    if empty:
        console.print(Text(empty))
    note = stale_note(lb, db)
    if note:
        console.print(Text(note, style="yellow"))
    apart = trained_apart_line(lb)
    if apart:
        console.print(Text(apart, style="yellow"))
    if show_failures and lb.failures:
        ft = Table(title=Text("Failed (latest attempt)"), header_style="bold")
        ft.add_column("entry")
        ft.add_column("when")
        ft.add_column("reason", overflow="fold")
        for e in lb.failures:
            ft.add_row(Text(clean(e.name, keep_newlines=False)), Text((e.created_at or "")[:19]),
                       Text(reason_line(failure_text(e), 300)))
        console.print(ft)
    if lb.skipped:
        console.print(Text(skipped_line(lb)))
