"""Leaderboard output: terminal table (rich), ``LEADERBOARD.md`` and a self-contained HTML page.

The HTML page embeds its plots as base64 PNGs (matplotlib, the ``report`` extra, imported only
here and only when plotting); without matplotlib it still renders the tables and says which
extra the plots need. Every user-supplied string (entry names, failure reasons, sources) is
escaped: ``html.escape`` in the page, ``rich.text.Text`` (no markup) in the terminal, and
Markdown-escaped in ``LEADERBOARD.md``.
"""

from __future__ import annotations

import base64
import html
import io
import math
from datetime import datetime, timezone

import numpy as np

from lrgym.leaderboard import scoring
from lrgym.leaderboard.ranking import ALGOPERF_TAUS, PROFILE_TAUS, Leaderboard, Row
from lrgym.leaderboard.suite import Task
from lrgym.leaderboard.text import clean, markdown_escape

__all__ = ["print_table", "markdown", "html_page", "SCORE_DEFINITIONS", "KINDS_LEGEND"]

KINDS_LEGEND = ("kind: baseline = hand-designed (hyper-parameters tuned per family on train instances), "
                "learned = trained policy with shipped weights, submission = a user's entry.")

SCORE_DEFINITIONS = """\
Per run: S = (log L0 − log LT) / (log L0 − log L_ref), where L0 is the initial training loss,
LT the final one, and L_ref the final loss of the instance's reference (the best constant SGD
learning rate: a half-decade grid over the LR range refined to 1/64 decade around its best
point, run with the same seeds). S = 1 matches the reference, 0 makes no progress; S is clipped
to [−1, 2] and a diverged run scores the floor −1. Losses below 1e-12 × L0 count as 1e-12 × L0
(float precision). Steps to target: the first env step whose training loss is ≤ L_ref (∞ if never).
IQM: mean of the middle 50 % of all (seed × instance) scores, with a 95 % stratified-bootstrap
CI (2,000 resamples of seeds within each instance); it ranks. Per family: IQM / mean /
divergence rate — the IQM ignores the worst quarter of the runs, so the family's mean score
(diverged runs count −1) and its fraction of diverged runs stand next to it. Mean / median:
over instances of the per-instance mean over seeds. Optimality gap: mean of max(1 − S, 0) (lower is better). PoI:
probability that a run of the entry beats a run of the best baseline on a random instance
(Mann–Whitney, ties ½), with a bootstrap CI. AlgoPerf: AlgoPerf's performance-profile score
(area under the fraction of instances solved within τ × the fastest entry's steps to target,
τ ∈ [1, 4], normalised to [0, 1]); it is relative to the entries on this board."""


# ---- formatting ---------------------------------------------------------------------------------


def _f(x: float, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def _ci(iv, digits: int = 2) -> str:
    if iv is None:
        return "–"
    return f"{_f(iv[0], digits)} [{_f(iv[1], digits)}, {_f(iv[2], digits)}]"


#: header suffix of the per-family columns; see :func:`family_cell`
FAMILY_CELL = "IQM / mean / div."


def _columns(lb: Leaderboard) -> list[str]:
    fams = [f"{f} {FAMILY_CELL}" for f in lb.suite.family_names]
    return ["#", "entry", "kind", "IQM [95% CI]", *fams, "mean", "median", "opt. gap",
            f"PoI vs {lb.best_baseline or 'best baseline'}", "AlgoPerf", "diverged"]


def family_cell(stats: dict | None) -> str:
    """``"IQM / mean / divergence rate"`` of one family, e.g. ``"1.00 / 0.81 / 12%"``.

    The IQM ranks, but it drops the worst quarter of the runs: a policy that diverges in 12 %
    of a family's runs can have IQM 1.00 there. The mean (a diverged run counts −1) and the
    divergence rate next to it show the failures."""
    if not stats:
        return "–"
    div = stats.get("diverged_fraction")
    return (f"{_f(stats['iqm'][0])} / {_f(stats.get('mean'))} / "
            f"{'–' if div is None else _percent(div)}")


def _percent(fraction: float) -> str:
    """A rate in whole percent, but never "0%" for a non-zero one (1 of 400 runs is "<1%")."""
    if fraction > 0 and fraction < 0.005:
        return "<1%"
    return f"{100 * fraction:.0f}%"


def _kind(entry) -> str:
    """``baseline``, ``learned`` (a baseline with trained weights) or ``submission``."""
    if entry.kind != "baseline":
        return entry.kind
    policy = (entry.env_spec or {}).get("policy") or {}
    try:
        from lrgym.baselines.registry import is_learned

        return "learned" if policy.get("kind") == "baseline" and is_learned(policy.get("name")) else "baseline"
    except ImportError:  # pragma: no cover
        return "baseline"


def _cells(lb: Leaderboard, r: Row) -> list[str]:
    s = r.summary
    fams = [family_cell(s.get("families", {}).get(f)) for f in lb.suite.family_names]
    return [
        str(r.rank), clean(r.name, keep_newlines=False), _kind(r.entry), _ci(s["iqm"]), *fams,
        _f(s["mean"][0]), _f(s["median"][0]), _f(s["optimality_gap"][0]),
        _ci(r.poi) if r.poi is not None else "–", _f(r.algoperf), _percent(s.get("diverged_fraction", 0)),
    ]


def _reason_line(reason: str | None, n: int = 160) -> str:
    text = " ".join(clean(reason or "").split("\n", 1)[0].split())
    return text if len(text) <= n else text[: n - 1] + "…"


# ---- terminal -------------------------------------------------------------------------------------


#: the columns a narrow terminal still shows (plus the PoI column)
COMPACT_COLUMNS = ("#", "entry", "kind", "IQM [95% CI]", "mean", "diverged")
MINIMAL_COLUMNS = ("#", "entry", "IQM [95% CI]", "mean")


def print_table(lb: Leaderboard, console=None, show_failures: bool = True) -> None:
    """The ranking as a rich table (names are shown verbatim, never parsed as markup)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    suite = lb.suite
    title = f"lrgym leaderboard — suite {suite.version} ({len(suite.tasks())} instances × {len(suite.seeds)} seeds)"
    columns = _columns(lb)
    # the widest layout that fits the terminal: all columns, the essentials, the bare ranking
    layouts = [range(len(columns)),
               [i for i, c in enumerate(columns) if c in COMPACT_COLUMNS or c.startswith("PoI")],
               [i for i, c in enumerate(columns) if c in MINIMAL_COLUMNS]]
    for compact, keep in enumerate(layouts):
        table = Table(title=Text(title), header_style="bold")
        for i in keep:
            table.add_column(Text(columns[i]), justify="left" if i in (1, 2) else "right", no_wrap=True)
        for r in lb.rows:
            cells = _cells(lb, r)
            table.add_row(*(Text(cells[i]) for i in keep), style="cyan" if r.entry.kind == "submission" else None)
        if console.measure(table, options=console.options.update(max_width=10_000)).maximum <= console.width:
            break
    console.print(table)
    if compact and lb.rows:
        console.print(Text("(a narrow terminal: the other columns are in `lrgym leaderboard report` and "
                           "LEADERBOARD.md)"))
    if not lb.rows:
        console.print(Text("No entries yet: run `lrgym leaderboard run-baselines`."))
    if show_failures and lb.failures:
        ft = Table(title=Text("Failed (latest attempt)"), header_style="bold")
        ft.add_column("entry")
        ft.add_column("when")
        ft.add_column("reason", overflow="fold")
        for e in lb.failures:
            ft.add_row(Text(clean(e.name, keep_newlines=False)), Text((e.created_at or "")[:19]),
                       Text(_reason_line(e.failure_reason, 300)))
        console.print(ft)
    if lb.skipped:
        console.print(Text(f"skipped (runs do not match suite {suite.version}): {', '.join(lb.skipped)}"))


# ---- markdown -------------------------------------------------------------------------------------


def _md(text: str) -> str:
    return (str(text).replace("\\", "\\\\").replace("|", "\\|").replace("&", "&amp;")
            .replace("<", "&lt;").replace(">", "&gt;").replace("\n", " "))


def markdown(lb: Leaderboard, command: str | None = None, elapsed: float | None = None,
             machine: str | None = None) -> str:
    """``LEADERBOARD.md``: the ranking, failures, suite and definitions."""
    suite = lb.suite
    lines = [
        "# lrgym leaderboard",
        "",
        f"Suite **{suite.version}** ({suite.description}): {len(suite.tasks())} instances "
        f"({', '.join(f'{fs.family} × {len(fs.instances)}' for fs in suite.families)}) × "
        f"{len(suite.seeds)} seeds = {suite.n_runs} runs per entry. Ranked by IQM of the normalised "
        f"score S (1 = best fixed SGD learning rate per instance).",
        "",
    ]
    cols = _columns(lb)
    lines.append("| " + " | ".join(_md(c) for c in cols) + " |")
    lines.append("|" + "|".join("---:" if i not in (1, 2) else ":---" for i in range(len(cols))) + "|")
    for r in lb.rows:
        # the name is the submitter's: no links, images or tags (lrgym.leaderboard.text.markdown_escape)
        lines.append("| " + " | ".join(markdown_escape(c) if i == 1 else _md(c) for i, c in enumerate(_cells(lb, r)))
                     + " |")
    lines += ["", KINDS_LEGEND]
    if lb.failures:
        lines += ["", "## Failed (latest attempt)", "", "| entry | reason |", "|:---|:---|"]
        for e in lb.failures:
            lines.append(f"| {markdown_escape(e.name)} | {markdown_escape(_reason_line(e.failure_reason, 300))} |")
    lines += ["", "## How to read it", "", SCORE_DEFINITIONS, ""]
    meta = []
    if command:
        meta.append(f"Generated by `{command}`")
    if elapsed is not None:
        meta.append(f"in {elapsed:.1f} s")
    if machine:
        meta.append(f"on {machine}")
    meta.append(f"({datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}).")
    lines += [" ".join(meta), ""]
    return "\n".join(lines)


# ---- plots ------------------------------------------------------------------------------------------


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _colors(names: list[str]) -> dict[str, str]:
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"]
    return {n: palette[i % len(palette)] for i, n in enumerate(names)}


def _label(name: str, n: int = 28) -> str:
    """A plot label: shortened, and ``$`` escaped so matplotlib never parses it as math."""
    name = name if len(name) <= n else name[: n - 1] + "…"
    return name.replace("$", r"\$")


def plots(lb: Leaderboard, top: int = 5, references=None) -> dict[str, str]:
    """Base64 PNGs: ``ci``, ``profile``, ``algoperf`` and ``family:<name>`` per family."""
    from matplotlib.figure import Figure

    out: dict[str, str] = {}
    rows = lb.rows
    if not rows:
        return out
    colors = _colors([r.name for r in rows])
    # 1. IQM with CIs
    fig = Figure(figsize=(7, 0.35 * len(rows) + 1.2))
    ax = fig.subplots()
    ys = np.arange(len(rows))[::-1]
    for y, r in zip(ys, rows):
        e, lo, hi = r.iqm
        ax.errorbar(e, y, xerr=[[e - lo], [hi - e]], fmt="o", color=colors[r.name], capsize=3)
    ax.set_yticks(ys, [_label(r.name) for r in rows])
    ax.axvline(1.0, color="k", ls="--", lw=0.8)
    ax.set_xlabel("IQM of normalised score S (95% stratified-bootstrap CI); 1 = best fixed LR")
    ax.grid(axis="x", alpha=0.3)
    out["ci"] = _png(fig)

    shown = rows[: max(1, top)]
    # 2. rliable performance profiles (run-score distributions) with bootstrap bands
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for r in shown:
        iv = scoring.stratified_bootstrap_ci(r.scores, lambda s: scoring.performance_profile(s, PROFILE_TAUS),
                                             reps=500, seed=0, vectorized=True)
        ax.plot(PROFILE_TAUS, iv.estimate, color=colors[r.name], label=_label(r.name))
        ax.fill_between(PROFILE_TAUS, iv.low, iv.high, color=colors[r.name], alpha=0.15)
    ax.set_xlabel("normalised score τ")
    ax.set_ylabel("fraction of runs with score > τ")
    ax.axvline(1.0, color="k", ls="--", lw=0.8)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    out["profile"] = _png(fig)

    # 3. AlgoPerf time-to-target profiles (relative to all entries)
    times = np.stack([r.times for r in rows])
    rho = scoring.algoperf_profile(times, ALGOPERF_TAUS)
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for i, r in enumerate(rows[: max(1, top)]):
        ax.step(ALGOPERF_TAUS, rho[i], where="post", color=colors[r.name],
                label=f"{_label(r.name)} ({r.algoperf:.2f})")
    ax.set_xlabel("τ (steps to target / fastest entry's)")
    ax.set_ylabel("fraction of instances reached within τ")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    out["algoperf"] = _png(fig)

    # 4. per family: LR schedule and loss curve of one run, and median progress over all runs
    for fs in lb.suite.families:
        family, instance, seed = fs.family, fs.instances[0], lb.suite.seeds[0]
        fig = Figure(figsize=(13, 3.6))
        ax_lr, ax_loss, ax_prog = fig.subplots(1, 3)
        ref_lr = ref_loss = None
        task = Task(family, instance)
        if references is not None:
            ref_lr, ref_loss = references.lr(task), references.final_loss(task, seed)
        for r in shown:
            run = next((x for x in r.runs if (x.family, x.instance, x.seed) == (family, instance, seed)), None)
            if run is None:
                continue
            lr = np.asarray(run.curves.get("lr", ()), dtype=float)
            loss = np.asarray(run.curves.get("train_loss", ()), dtype=float)
            c = colors[r.name]
            if len(lr):
                ax_lr.step(np.arange(len(lr)), lr, where="post", color=c, label=_label(r.name))
            if len(loss):
                ax_loss.plot(np.arange(len(loss)), np.where(loss > 0, loss, np.nan), color=c)
                if run.diverged:
                    finite = np.flatnonzero(np.isfinite(loss) & (loss > 0))
                    if len(finite):
                        ax_loss.plot(finite[-1], loss[finite[-1]], "x", color=c, ms=8)
            # median normalised progress over this family's runs
            prog = []
            for x in r.runs:
                if x.family != family or references is None:
                    continue
                tl = np.asarray(x.curves.get("train_loss", ()), dtype=float)
                # S of the loss reached after each step (the one score function; clipped, −1 where
                # the loss is no longer finite)
                p = np.atleast_1d(scoring.score(tl[0], tl, references.final_loss(Task(family, x.instance), x.seed)))
                full = np.full(fs_len(lb, family) + 1, -1.0 if x.diverged else (p[-1] if len(p) else 0.0))
                full[: len(p)] = p
                prog.append(np.clip(full, -1.0, 2.0))
            if prog:
                ax_prog.plot(np.arange(len(prog[0])), np.median(np.stack(prog), axis=0), color=c)
        if ref_lr is not None:
            ax_lr.axhline(ref_lr, color="k", ls="--", lw=0.8, label="reference (best fixed)")
            ax_loss.axhline(ref_loss, color="k", ls="--", lw=0.8, label="target L_ref")
            ax_loss.legend(fontsize=8)
        ax_lr.set_yscale("log")
        lo, hi = _lr_range(references, task)
        ax_lr.set_ylim(lo / 2, hi * 2)
        ax_lr.set_title(f"{family}: learning rate (instance {instance}, seed {seed})", fontsize=9)
        ax_lr.set_xlabel("env step")
        ax_lr.legend(fontsize=7)
        ax_loss.set_yscale("log")
        ax_loss.set_title(f"{family}: training loss (instance {instance}, seed {seed})", fontsize=9)
        ax_loss.set_xlabel("env step")
        ax_prog.axhline(1.0, color="k", ls="--", lw=0.8)
        ax_prog.set_title(f"{family}: median normalised progress, all runs", fontsize=9)
        ax_prog.set_xlabel("env step")
        ax_prog.set_ylim(-1.05, 2.05)
        for a in (ax_lr, ax_loss, ax_prog):
            a.grid(alpha=0.3)
        out[f"family:{family}"] = _png(fig)
    return out


def _lr_range(references, task) -> tuple[float, float]:
    """The env's LR range the reference of ``task`` was searched in (default 1e-6 … 10)."""
    try:
        lo, hi = references.tasks[task.label]["lr_range"]
        return float(lo), float(hi)
    except (AttributeError, KeyError, TypeError, ValueError):
        return 1e-6, 10.0


def fs_len(lb: Leaderboard, family: str) -> int:
    """Episode length (env steps) of ``family`` in the suite (longest run seen)."""
    n = 0
    for r in lb.rows:
        for x in r.runs:
            if x.family == family:
                n = max(n, len(x.curves.get("lr", ())))
    return n


# ---- HTML -------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1250px;color:#222;padding:0 1em}
h1{margin-bottom:.2em} .sub{color:#555;margin-top:0}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
th{background:#f4f4f4} td.name,th.name,td.left{text-align:left}
tr.submission td{background:#eef7ff}
td.reason{text-align:left;white-space:pre-wrap;font-family:monospace;font-size:12px;max-width:800px}
img{max-width:100%} .note{background:#fff6dd;padding:.6em;border-left:4px solid #e0b000}
.defs{white-space:pre-wrap;font-size:13px;color:#333;background:#fafafa;padding:1em}
details{margin:.3em 0} code{font-size:12px}
"""


def html_page(lb: Leaderboard, references=None, top: int = 5, with_plots: bool = True) -> str:
    """The self-contained HTML report (tables, plots as base64 PNG, definitions)."""
    def e(text) -> str:  # control characters removed, then HTML-escaped
        return html.escape(clean(text))

    suite = lb.suite
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>lrgym leaderboard — {e(suite.version)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>lrgym leaderboard</h1>",
        f'<p class="sub">Suite <b>{e(suite.version)}</b> — {e(suite.description)}. '
        f"{len(suite.tasks())} instances × {len(suite.seeds)} seeds = {suite.n_runs} runs per entry. "
        f"Generated {e(datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))}.</p>",
    ]
    cols = _columns(lb)
    parts.append('<table class="ranking"><thead><tr>' + "".join(
        f'<th class="{"name" if i in (1, 2) else ""}">{e(c)}</th>' for i, c in enumerate(cols)) + "</tr></thead><tbody>")
    for r in lb.rows:
        cells = _cells(lb, r)
        parts.append(f'<tr class="{e(r.entry.kind)}">' + "".join(
            f'<td class="{"name" if i in (1, 2) else ""}">{e(c)}</td>' for i, c in enumerate(cells)) + "</tr>")
    parts.append("</tbody></table>")
    parts.append(f'<p class="sub">{e(KINDS_LEGEND)}</p>')
    if not lb.rows:
        parts.append("<p>No entries yet: run <code>lrgym leaderboard run-baselines</code>.</p>")

    if with_plots and lb.rows:
        try:
            images = plots(lb, top=top, references=references)
        except ImportError:
            images = None
        if images is None:
            parts.append('<p class="note">Plots need matplotlib: <code>pip install \'lrgym[report]\'</code>.</p>')
        else:
            def img(key, alt):
                return f'<img alt="{e(alt)}" src="data:image/png;base64,{images[key]}">' if key in images else ""

            parts += ["<h2>Score confidence intervals</h2>", img("ci", "IQM with 95% CIs"),
                      "<h2>Performance profiles</h2>",
                      f"<p>Left: fraction of runs scoring above τ (rliable), top {top} entries, shaded 95% "
                      "bootstrap bands. Right: AlgoPerf's time-to-target profiles.</p>",
                      img("profile", "performance profiles"), img("algoperf", "AlgoPerf profiles"),
                      "<h2>Per family: schedules and losses of the top entries</h2>"]
            for fs in suite.families:
                parts.append(f"<h3>{e(fs.family)}</h3>" + img(f"family:{fs.family}", f"{fs.family} curves"))

    if lb.failures:
        parts.append('<h2>Failed (latest attempt)</h2><table><tr><th class="name">entry</th><th>when</th>'
                     '<th class="name">reason</th></tr>')
        for f in lb.failures:
            parts.append(f'<tr><td class="name">{e(f.name)}</td><td>{e((f.created_at or "")[:19])}</td>'
                         f'<td class="reason">{e(f.failure_reason or "")}</td></tr>')
        parts.append("</table>")

    parts.append("<h2>Entries</h2>")
    for r in lb.rows:
        en = r.entry
        versions = ", ".join(f"{k} {v}" for k, v in (en.package_versions or {}).items())
        parts.append(
            f"<details><summary>{e(en.name)} ({e(en.kind)})</summary><ul>"
            f"<li>source: <code>{e(str((en.env_spec or {}).get('source', '')))}</code></li>"
            f"<li>policy source sha256: <code>{e(en.policy_source_hash or '–')}</code></li>"
            f"<li>recorded: {e(en.created_at or '')}, in {e(_f((en.summary or {}).get('elapsed_seconds'), 1))} s</li>"
            f"<li>CPU: {e(en.cpu or '')}</li><li>packages: {e(versions)}</li>"
            f"<li>seeds: {e(', '.join(map(str, en.seeds)))}</li></ul></details>")
    if lb.skipped:
        parts.append(f"<p>Skipped (runs do not match the suite): {e(', '.join(lb.skipped))}</p>")
    parts += ["<h2>How to read it</h2>", f'<div class="defs">{e(SCORE_DEFINITIONS)}</div>', "</body></html>"]
    return "\n".join(parts)
