"""The self-contained HTML report (``lrgym leaderboard report``): the ranking, the plots as
base64 PNGs, the failures, each entry's provenance and the score definitions.

The plots come from :mod:`lrgym.leaderboard.report_plots`; without matplotlib the page still
renders the tables and says which extra the plots need. Every user-supplied string (entry
names, failure reasons, sources, the suite's description) is cleaned of control characters and
``html.escape``-d (:func:`_e`); a submission's source and failure reason name no folder of the
submitter's (:mod:`lrgym.leaderboard.public_source`).

A private suite's page names none of its instance seeds or env seeds (the controller figure's
legend and caption say "1 of 8" and "the first env seed"), but its plots still draw the hidden
instances' curves and reference LRs: ``lrgym leaderboard report --private`` writes it readable
by the grader alone, and the Markdown ranking is what is published.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone

from lrgym.leaderboard.private import is_private
from lrgym.leaderboard.provenance import empty_board_note, stale_note
from lrgym.leaderboard.public_source import public_source
from lrgym.leaderboard.ranking import Leaderboard
from lrgym.leaderboard.report_format import (KINDS_LEGEND, SCORE_DEFINITIONS, column_names, entry_kind, failure_text,
                                             number, row_cells, skipped_line, trained_apart_line)
from lrgym.leaderboard.report_plots import (CI_ROWS, CONTROLLER_ENTRY, PLOTTED_SUBMISSIONS, ci_rows, lr_figure_key, plots,
                                            plotted_rows)
from lrgym.leaderboard.text import clean

__all__ = ["html_page"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1250px;color:#222;padding:0 1em}
h1{margin-bottom:.2em} .sub{color:#555;margin-top:0}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
th{background:#f4f4f4} td.name,th.name,td.left{text-align:left}
tr.submission td{background:#eef7ff}
td.reason{text-align:left;white-space:pre-wrap;overflow-wrap:anywhere;font-family:monospace;font-size:12px;max-width:800px}
img{max-width:100%} .note{background:#fff6dd;padding:.6em;border-left:4px solid #e0b000}
.defs{white-space:pre-wrap;font-size:13px;color:#333;background:#fafafa;padding:1em}
details{margin:.3em 0} code{font-size:12px}
.wide{overflow-x:auto}
"""


def html_page(lb: Leaderboard, references=None, top: int = 5, with_plots: bool = True, entries=(),
              submissions: int = PLOTTED_SUBMISSIONS, held: dict[str, int] | None = None) -> str:
    """The self-contained HTML report (tables, plots as base64 PNG, definitions).

    The plots show the ``submissions`` best submissions, every entry named in ``entries`` and the
    ``top`` best baselines (:func:`~lrgym.leaderboard.report_plots.plotted_rows`). ``held``: the
    entries per suite version of the store it was read from
    (:meth:`~lrgym.leaderboard.store.ResultStore.suite_versions`): a board with no ranked row
    names the other suites it holds and the commands that show them, as the terminal does
    (:func:`~lrgym.leaderboard.provenance.empty_board_note`; without the store's path: a page is
    published)."""
    parts = [*_head(lb), *_ranking(lb, held)]
    if with_plots and lb.rows:
        parts += _plots(lb, references, top, entries, submissions)
    parts += [*_failures(lb), *_entries(lb),
              "<h2>How to read it</h2>", f'<div class="defs">{_e(SCORE_DEFINITIONS)}</div>', "</body></html>"]
    return "\n".join(parts)


def _e(text) -> str:
    """``text`` with control characters removed, then HTML-escaped."""
    return html.escape(clean(text))


def _head(lb: Leaderboard) -> list[str]:
    """The document's head and the page's title: the suite and when the page was made."""
    suite = lb.suite
    return [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>lrgym leaderboard — {_e(suite.version)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>lrgym leaderboard</h1>",
        f'<p class="sub">Suite <b>{_e(suite.version)}</b> — {_e(suite.description)}. '
        f"{len(suite.tasks())} instances × {len(suite.seeds)} seeds = {suite.n_runs} runs per entry. "
        f"Generated {_e(datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))}.</p>",
    ]


def _with_code(text: str) -> str:
    """``text`` (:func:`_e`-d) with its spans between backticks (the commands lrgym's notes name) as
    ``<code>``."""
    return "".join(f"<code>{_e(part)}</code>" if i % 2 else _e(part) for i, part in enumerate(text.split("`")))


def _ranking(lb: Leaderboard, held: dict[str, int] | None = None) -> list[str]:
    """The ranking table, the kinds legend, the stale-baselines note, the note of entries trained at
    other settings, or why the board has no row (its store ``held`` other suites' entries)."""
    cols = column_names(lb)
    parts = ['<div class="wide"><table class="ranking"><thead><tr>' + "".join(
        f'<th class="{"name" if i in (1, 2) else ""}">{_e(c)}</th>' for i, c in enumerate(cols)) + "</tr></thead><tbody>"]
    for r in lb.rows:
        cells = row_cells(lb, r)
        parts.append(f'<tr class="{_e(r.entry.kind)}">' + "".join(
            f'<td class="{"name" if i in (1, 2) else ""}">{_e(c)}</td>' for i, c in enumerate(cells)) + "</tr>")
    parts.append("</tbody></table></div>")
    parts.append(f'<p class="sub">{_e(KINDS_LEGEND)}</p>')
    note = stale_note(lb)
    if note:
        parts.append(f'<p class="sub"><b>{_e(note)}</b></p>')
    apart = trained_apart_line(lb)
    if apart:
        parts.append(f'<p class="sub">{_e(apart)}</p>')
    empty = empty_board_note(lb, held)
    if empty:  # (until 2026-12-07: "No entries yet: run run-baselines" of any suite, of unranked entries too)
        parts.append(f"<p>{_with_code(empty)}</p>")
    return parts


def _plots(lb: Leaderboard, references, top: int, entries, submissions: int) -> list[str]:
    """The plots with their captions, or a note that they need matplotlib (ValueError for an
    ``entries`` name not on the board, checked first)."""
    drawn = plotted_rows(lb, top, entries, submissions)  # checks the names first
    ci_rows_shown = len(ci_rows(lb, drawn))
    try:
        images = plots(lb, top=top, references=references, entries=entries, submissions=submissions)
    except ImportError:
        return ['<p class="note">Plots need matplotlib: <code>pip install \'lrgym[report]\'</code>.</p>']

    def img(key, alt):
        return f'<img alt="{_e(alt)}" src="data:image/png;base64,{images[key]}">' if key in images else ""

    suite = lb.suite
    ci_note = ([] if ci_rows_shown == len(lb.rows) else
               [f"<p>The first {CI_ROWS} of the board's {len(lb.rows)} rows and the entries drawn below "
                "(the ranking above has every row).</p>"])
    parts = ["<h2>Score confidence intervals</h2>", *ci_note, img("ci", "family IQM with 95% CIs"),
             "<h2>Performance profiles</h2>",
             f"<p>Shown here and below: {_drawn_caption(lb, drawn, top, submissions)}. "
             "Left: fraction of runs scoring above τ (rliable), shaded 95% bootstrap bands. "
             "Right: AlgoPerf's time-to-target profiles.</p>",
             img("profile", "performance profiles"), img("algoperf", "AlgoPerf profiles"),
             "<h2>Per family: learning rates and losses</h2>",
             f"<p>Thick lines: the median over all {len(suite.seeds)} seeds and every instance of the "
             "family, shaded from the 25th to the 75th percentile; thin line: one example run (the "
             "family's first instance, first seed). Losses are relative to the run's initial loss. "
             "Right: the median over runs of the normalised score S of the loss reached by each "
             "step.</p>"]
    for fs in suite.families:
        parts.append(f"<h3>{_e(fs.family)}</h3>" + img(f"family:{fs.family}", f"{fs.family} curves"))
    # a private suite's env seeds are its secret: its caption says which seed, not the number
    seed = "the suite's first env seed" if is_private(suite) else f"seed {_e(suite.seeds[0])}"
    hidden = " — instances by their position in the suite, as its seeds are hidden" if is_private(suite) else ""
    if "controller" in images:
        parts += ["<h2>The learned controller against the best constant LR</h2>",
                  f"<p>The LR the learned <code>{_e(CONTROLLER_ENTRY)}</code> entry sets at each step (solid) on "
                  "the first instances of each family of this suite (held out: it trained on train "
                  f"instances only), {seed}, and each instance's best constant LR, the "
                  f"reference of the score (dashed, same colour){hidden}.</p>",
                  img("controller", "controller LR against the reference LR")]
    named = [n for n in dict.fromkeys(entries) if lr_figure_key(n) in images]
    if named:
        parts.append("<h2>Entries asked for against the best constant LR</h2>")
    for name in named:
        parts += [f"<h3>{_e(name)}</h3>",
                  f"<p>The LR the <code>{_e(name)}</code> entry (<code>--entry</code>) sets at each step (solid) "
                  f"on the first instances of each family of this suite, {seed}, and each instance's best "
                  f"constant LR, the reference of the score (dashed, same colour){hidden}.</p>",
                  img(lr_figure_key(name), f"{name} LR against the reference LR")]
    return parts


def _drawn_caption(lb: Leaderboard, drawn, top: int, submissions: int) -> str:
    """What the plots draw (``drawn``: :func:`~lrgym.leaderboard.report_plots.plotted_rows`), as
    the caption says it (HTML): how many entries, then each group counted and named, in rank
    order: the best submissions (``--submissions``), the best baselines (``--top``) and the other
    entries asked for (``--entry``). Until 2026-12-07 it read "the 5 best baselines (...)" of a
    list that held the submission too, six names, and said ``top`` of a board with fewer baselines."""
    subs = [r for r in lb.rows if r.entry.kind == "submission"]
    bases = [r for r in lb.rows if r.entry.kind == "baseline"]
    best_subs, best_bases = subs[: max(0, submissions)], bases[: max(0, top)]
    grouped = {id(r) for r in (*best_subs, *best_bases)}
    asked = [r for r in drawn if id(r) not in grouped]

    def group(rows, one: str, many: str) -> str:
        return f"{one if len(rows) == 1 else many} ({_e(', '.join(r.name for r in rows))})"

    if not drawn:
        return "no entry (<code>--submissions N</code> and <code>--top N</code> draw none of this board's)"
    parts = []
    if best_subs:
        if len(best_subs) == len(subs):
            parts.append(group(best_subs, "the board's one submission", f"the board's {len(subs)} submissions"))
        else:
            parts.append(group(best_subs, f"the best of the board's {len(subs)} submissions",
                               f"the {len(best_subs)} best of the board's {len(subs)} submissions")
                         + " (<code>--submissions N</code>)")
    if best_bases:
        if len(best_bases) == len(bases):
            parts.append(group(best_bases, "the board's one baseline", f"the board's {len(bases)} baselines"))
        else:
            parts.append(group(best_bases, "the best baseline", f"the {len(best_bases)} best baselines")
                         + " (<code>--top N</code>)")
    if asked:
        parts.append(group(asked, "the entry asked for", f"the {len(asked)} entries asked for")
                     + " (<code>--entry</code>)")
    listed = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    return f"{len(drawn)} {'entry' if len(drawn) == 1 else 'entries'}: {listed}"


def _failures(lb: Leaderboard) -> list[str]:
    """The latest failed attempts, with their full reasons (none: nothing)."""
    if not lb.failures:
        return []
    parts = ['<h2>Failed (latest attempt)</h2><table><tr><th class="name">entry</th><th>when</th>'
             '<th class="name">reason</th></tr>']
    for f in lb.failures:
        parts.append(f'<tr><td class="name">{_e(f.name)}</td><td>{_e((f.created_at or "")[:19])}</td>'
                     f'<td class="reason">{_e(failure_text(f))}</td></tr>')
    parts.append("</table>")
    return parts


def _entries(lb: Leaderboard) -> list[str]:
    """Each entry's provenance (source without the submitter's folders, hashes, the shipped files a
    baseline was made from, machine, packages, seeds), and the entries not ranked, with why."""
    parts = ["<h2>Entries</h2>"]
    for r in lb.rows:
        en = r.entry
        versions = ", ".join(f"{k} {v}" for k, v in (en.package_versions or {}).items())
        parts.append(
            f"<details><summary>{_e(en.name)} ({_e(entry_kind(en))})</summary><ul>"
            f"<li>source: <code>{_e(public_source(en.env_spec) or '–')}</code></li>"
            f"<li>policy source sha256: <code>{_e(en.policy_source_hash or '–')}</code></li>"
            + "".join(f"<li>made from <code>{_e(str(k))}</code> sha256 <code>{_e(str(v))}</code></li>"
                      for k, v in ((en.env_spec or {}).get("inputs") or {}).items() if en.kind == "baseline")
            + f"<li>recorded: {_e(en.created_at or '')}, in "
            f"{_e(number((en.summary or {}).get('elapsed_seconds'), 1))} s</li>"
            f"<li>CPU: {_e(en.cpu or '')}</li><li>packages: {_e(versions)}</li>"
            f"<li>seeds: {_e(', '.join(map(str, en.seeds)))}</li></ul></details>")
    if lb.skipped:
        parts.append(f"<p>{_e(skipped_line(lb))}</p>")
    return parts
