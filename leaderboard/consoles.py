"""The rich consoles the ``lrgym`` commands and the terminal board print through: on a terminal,
rich's own (its width, lines wrapped at it); piped or redirected (a log, CI, ``show > board.txt``),
tables :func:`output_width` wide and every message line printed whole (rich's ``soft_wrap``).

One place for the rule, so that a note printed below the command layer (the board's note that
columns were left out, :mod:`lrgym.leaderboard.report_terminal`) is printed as the commands'
own lines are: until 2026-12-07 that note went through a default console, which wraps at 80
columns whatever the stream."""

from __future__ import annotations

import os

from rich.console import Console

__all__ = ["REDIRECTED_WIDTH", "make_console", "output_width"]

#: how wide a table printed to a stream that is no terminal is, unless ``$COLUMNS`` says
REDIRECTED_WIDTH = 200


def output_width(stream) -> int | None:
    """Piped or redirected output is not squeezed into rich's default of 80 columns:
    :data:`REDIRECTED_WIDTH`, unless ``$COLUMNS`` is set (rich then takes it, as on a terminal);
    None on a terminal (rich measures it)."""
    return None if stream.isatty() or os.environ.get("COLUMNS") else REDIRECTED_WIDTH


def make_console(stream, **kwargs) -> Console:
    """The console of ``stream``. Piped or redirected, its tables are :func:`output_width` wide and its
    message lines are printed whole (rich's ``soft_wrap``): a ``wrote PATH ...`` line, a ``chmod 600
    PATH`` hint, is one line of the log whatever the path's length (until 2026-12-06 rich broke it
    where the 200 columns ended, a path longer than them inside itself). On a terminal rich wraps
    the lines at its width."""
    return Console(width=output_width(stream), soft_wrap=not stream.isatty(), **kwargs)
