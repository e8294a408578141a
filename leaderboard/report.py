"""Leaderboard output: terminal table (rich), ``LEADERBOARD.md`` and a self-contained HTML page.

The public face of the report: every name is re-exported from the module that owns it, one
concern each (imports point down this list; none of them imports this module):

* :mod:`lrgym.leaderboard.report_html`: the HTML page (:func:`html_page`), plots embedded as
  base64 PNGs;
* :mod:`lrgym.leaderboard.report_plots`: the matplotlib figures (the ``report`` extra, imported
  only there and only when plotting) and which entries they show;
* :mod:`lrgym.leaderboard.report_markdown`: ``LEADERBOARD.md`` (:func:`markdown`);
* :mod:`lrgym.leaderboard.report_terminal`: the rich table (:func:`print_table`);
* :mod:`lrgym.leaderboard.provenance`: which shipped tuned values and weights the baseline rows
  were made from, and which rows are stale;
* :mod:`lrgym.leaderboard.report_format`: the columns, cells and fixed texts all of them share.

Every user-supplied string (entry names, failure reasons, sources) is escaped: ``html.escape``
in the page, ``rich.text.Text`` (no markup) in the terminal, and Markdown-escaped in
``LEADERBOARD.md``.
"""

from __future__ import annotations

from lrgym.leaderboard.provenance import baseline_inputs, stale_baselines, stale_note
from lrgym.leaderboard.report_format import (FAMILY_CELL, INSTANCES_COLUMN, KINDS_LEGEND, RANK_COLUMN,
                                             SCORE_DEFINITIONS, family_cell)
from lrgym.leaderboard.report_html import html_page
from lrgym.leaderboard.report_markdown import markdown
from lrgym.leaderboard.report_plots import (CI_ROWS, CONTROLLER_ENTRY, FONT_SIZE, KIND_SUFFIX, LABEL_CHARS,
                                            LINE_STYLES, PALETTE, PLOTTED_SUBMISSIONS, Style, algoperf_figure,
                                            ci_figure, ci_rows, controller_figure, drawn_rows,
                                            curve_matrix, entry_styles, family_figure, figures, fs_len, median_band,
                                            plot_labels, plots, plotted_rows, profile_figure, progress_matrix)
from lrgym.leaderboard.report_terminal import (COMPACT_COLUMNS, MINIMAL_COLUMNS, TOP_ROWS, WHOLE_BOARD,
                                              print_table, printed_rows)

__all__ = [
    # outputs
    "print_table", "markdown", "html_page", "printed_rows", "TOP_ROWS", "WHOLE_BOARD",
    # shared texts and cells
    "SCORE_DEFINITIONS", "KINDS_LEGEND", "RANK_COLUMN", "INSTANCES_COLUMN", "FAMILY_CELL", "family_cell",
    "COMPACT_COLUMNS", "MINIMAL_COLUMNS",
    # provenance of the baseline rows
    "baseline_inputs", "stale_baselines", "stale_note",
    # figures
    "PALETTE", "LINE_STYLES", "KIND_SUFFIX", "FONT_SIZE", "CONTROLLER_ENTRY", "Style", "entry_styles",
    "LABEL_CHARS", "plot_labels",
    "plotted_rows", "drawn_rows", "PLOTTED_SUBMISSIONS", "ci_rows", "CI_ROWS", "figures", "plots", "ci_figure", "profile_figure", "algoperf_figure", "family_figure",
    "controller_figure", "curve_matrix", "median_band", "progress_matrix", "fs_len",
]
