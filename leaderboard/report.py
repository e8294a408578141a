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
import warnings
from dataclasses import dataclass
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
learning rate found by a half-decade grid over the LR range refined to 1/64 decade around its
best point, run with the same seeds; "best": no other LR run scores a higher mean S against it). S = 1 matches the reference, 0 makes no progress; S is clipped
to [−1, 2] and a diverged run scores the floor −1. Losses below 1e-12 × L0 count as 1e-12 × L0
(float precision). Steps to target: the first env step whose training loss is ≤ L_ref (∞ if never).
Family IQM (it ranks): the mean over the families of each family's IQM (the mean of the middle
50 % of its seed × instance scores), so every family weighs the same and none can be given up;
95 % CI from 2,000 resamples of seeds within each instance (how sure the score is on these
instances). "CI, new instances": 2,000 resamples of instances within each family, then seeds
(how sure it is for other instances of the same families: wider). Per family: IQM / mean /
divergence rate — the IQM ignores the worst quarter of the family's runs, so its mean score
(diverged runs count −1) and its fraction of diverged runs stand next to it. IQM, all runs:
rliable's IQM of the whole matrix (it lets a family with under a quarter of the runs fail). Mean / median:
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


def _bounds(iv, digits: int = 2) -> str:
    """``"[low, high]"`` of an ``[estimate, low, high]`` interval whose estimate is shown elsewhere."""
    return f"[{_f(iv[1], digits)}, {_f(iv[2], digits)}]"


#: the ranking statistic's column, and its CI over new instances
RANK_COLUMN = "family IQM [95% CI]"
INSTANCES_COLUMN = "CI, new instances"
#: header suffix of the per-family columns; see :func:`family_cell`
FAMILY_CELL = "IQM / mean / div."


def _columns(lb: Leaderboard) -> list[str]:
    fams = [f"{f}\n{FAMILY_CELL}" for f in lb.suite.family_names]
    return ["#", "entry", "kind", RANK_COLUMN, INSTANCES_COLUMN, *fams, "IQM, all runs", "mean", "median", "opt. gap",
            f"PoI vs {lb.best_baseline or 'best baseline'}", "AlgoPerf", "diverged"]


def family_cell(stats: dict | None) -> str:
    """``"IQM / mean / divergence rate"`` of one family, e.g. ``"1.00 / 0.81 / 12%"``.

    The family's IQM is its share of the ranking statistic, but it drops the worst quarter of
    the family's runs: a policy that diverges in 12 %
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
        str(r.rank), clean(r.name, keep_newlines=False), _kind(r.entry), _ci(s["family_iqm"]),
        _bounds(s["family_iqm_instances"]), *fams, _f(s["iqm"][0]), _f(s["mean"][0]), _f(s["median"][0]), _f(s["optimality_gap"][0]),
        _ci(r.poi) if r.poi is not None else "–", _f(r.algoperf), _percent(s.get("diverged_fraction", 0)),
    ]


def _reason_line(reason: str | None, n: int = 160) -> str:
    text = " ".join(clean(reason or "").split("\n", 1)[0].split())
    return text if len(text) <= n else text[: n - 1] + "…"


# ---- terminal -------------------------------------------------------------------------------------


#: the columns a narrow terminal still shows (plus the PoI column)
COMPACT_COLUMNS = ("#", "entry", "kind", RANK_COLUMN, INSTANCES_COLUMN, "mean", "diverged")
MINIMAL_COLUMNS = ("#", "entry", RANK_COLUMN, "mean")


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
    # (the per-family IQM / mean / divergence columns go last: they show what an IQM hides)
    family = [i for i, c in enumerate(columns) if c.endswith(FAMILY_CELL)]
    essentials = [i for i, c in enumerate(columns) if c in COMPACT_COLUMNS or c.startswith("PoI")]
    layouts = [range(len(columns)), sorted(essentials + family), essentials,
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
        console.print(Text("(a narrow terminal: the other columns are in the Markdown ranking and the HTML "
                           "page `lrgym leaderboard report` writes; where: its `wrote ...` lines)"))
    if not lb.rows:
        from lrgym.leaderboard.private import is_private
        from lrgym.leaderboard.suite import DEFAULT_SUITE

        which = (" --private KEYFILE" if is_private(suite) else
                 "" if suite.name == DEFAULT_SUITE else f" --suite {suite.name}")
        console.print(Text(f"No entries yet: run `lrgym leaderboard run-baselines{which}`."))
    note = stale_note(lb)
    if note:
        console.print(Text(note, style="yellow"))
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


def baseline_inputs(lb: Leaderboard) -> dict[str, set[str]]:
    """File → SHA-256s of the shipped tuned values and weights the board's baseline entries ran
    (recorded by the worker, :func:`lrgym.baselines.registry.shipped_inputs`). One hash per file
    unless the board mixes entries run before and after a retune or a retrain."""
    out: dict[str, set[str]] = {}
    for r in lb.rows:
        if r.entry.kind == "baseline":
            for name, digest in ((r.entry.env_spec or {}).get("inputs") or {}).items():
                out.setdefault(str(name), set()).add(str(digest))
    return dict(sorted(out.items()))


def stale_baselines(lb: Leaderboard) -> list[str]:
    """Baseline rows not made from the tuned values / weights this install ships: the files
    their entries recorded (``env_spec["inputs"]``) differ from
    :func:`lrgym.baselines.registry.shipped_inputs`, or were not recorded (entries of an lrgym
    that did not record them). After a retune or a retrain their numbers are of other policies."""
    from lrgym.baselines.registry import BASELINES, shipped_inputs

    return [r.entry.name for r in lb.rows if r.entry.kind == "baseline" and r.entry.name in BASELINES
            and ((r.entry.env_spec or {}).get("inputs") or {}) != shipped_inputs([r.entry.name])]


def stale_note(lb: Leaderboard) -> str | None:
    """One sentence naming the :func:`stale_baselines`, or None."""
    stale = stale_baselines(lb)
    if not stale:
        return None
    return (f"Note: the row(s) of {', '.join(stale)} were not made from the tuned values or weights this "
            "install ships (they changed since, or the entry did not record them); "
            "`lrgym leaderboard run-baselines` runs them again.")


def markdown(lb: Leaderboard, command: str | None = None, elapsed: float | None = None,
             machine: str | None = None) -> str:
    """``LEADERBOARD.md``: the ranking, failures, suite and definitions."""
    suite = lb.suite
    lines = [
        "# lrgym leaderboard",
        "",
        f"Suite **{suite.version}** ({suite.description}): {len(suite.tasks())} instances "
        f"({', '.join(f'{fs.family} × {len(fs.instances)}' for fs in suite.families)}) × "
        f"{len(suite.seeds)} seeds = {suite.n_runs} runs per entry. Ranked by the family IQM (the mean over "
        f"families of each family's IQM) of the normalised score S (1 = the best constant SGD learning rate "
        f"per instance, by a fine search).",
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
    note = stale_note(lb)
    if note:
        lines += ["", note]
    if lb.failures:
        lines += ["", "## Failed (latest attempt)", "", "| entry | reason |", "|:---|:---|"]
        for e in lb.failures:
            lines.append(f"| {markdown_escape(e.name)} | {markdown_escape(_reason_line(e.failure_reason, 300))} |")
    lines += ["", "## How to read it", "", SCORE_DEFINITIONS, ""]
    made_from = baseline_inputs(lb)
    if made_from:
        from lrgym.baselines.registry import made_from_text

        lines += [made_from_text(made_from), ""]
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
#
# Which entries: every plot shows every submission, every entry named with ``--entry``, and the
# ``top`` best baselines (:func:`plotted_rows`); the CI plot shows the whole board. How: one style
# per entry (:func:`entry_styles`), the same in every figure. One function per figure.

#: 20 colours of maximum contrast (Kelly 1965, without white and black and the palest ones
#: replaced by darker kin); entry i gets colour i mod 20 and line style i // 20 (by rank)
PALETTE = ("#0067a5", "#f38400", "#008856", "#be0032", "#875692", "#882d17", "#e68fac", "#2b3d26",
           "#f3c300", "#604e97", "#8db600", "#654522", "#e25822", "#848482", "#a1caf1", "#b3446c",
           "#c2b280", "#f6a600", "#dcd300", "#000000")
LINE_STYLES = ("-", "--", ":", "-.")
#: the labels' suffix per kind (:func:`_kind`): the legend says what each entry is
KIND_SUFFIX = {"baseline": "", "learned": " (learned)", "submission": " (submission)"}
FONT_SIZE = 10  # readable at 1× on a laptop: the PNGs are shown at their pixel size (dpi 96)


@dataclass(frozen=True)
class Style:
    """How one entry is drawn in every figure."""

    color: str
    linestyle: str
    linewidth: float
    label: str


def entry_styles(lb: Leaderboard) -> dict[str, Style]:
    """A style per entry of the board, by rank: colours repeat only beyond 20 entries, and then
    with another line style; submissions are drawn thicker; labels carry the kind."""
    styles = {}
    for i, r in enumerate(lb.rows):
        kind = _kind(r.entry)
        styles[r.name] = Style(PALETTE[i % len(PALETTE)], LINE_STYLES[(i // len(PALETTE)) % len(LINE_STYLES)],
                               2.4 if kind == "submission" else 1.5, _label(r.name) + KIND_SUFFIX.get(kind, ""))
    return styles


def plotted_rows(lb: Leaderboard, top: int = 5, entries=()) -> list[Row]:
    """The entries the plots show, in rank order: the ``top`` best baselines (hand-designed or
    learned), every submission, and every entry named in ``entries`` (in any spelling of its name,
    :meth:`Leaderboard.row`; ValueError for a name not on the board)."""
    named = []
    for n in entries:
        try:
            named.append(lb.row(n))
        except KeyError:
            raise ValueError(f"entry {n!r} is not on the {lb.suite.version} board; valid choices: "
                             + ", ".join(r.name for r in lb.rows)) from None
    best = [r for r in lb.rows if r.entry.kind == "baseline"][: max(0, top)]
    keep = {id(r) for r in [*best, *named]} | {id(r) for r in lb.rows if r.entry.kind == "submission"}
    return [r for r in lb.rows if id(r) in keep]


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _label(name: str, n: int = 28) -> str:
    """A plot label: shortened, and ``$`` escaped so matplotlib never parses it as math."""
    name = name if len(name) <= n else name[: n - 1] + "…"
    return name.replace("$", r"\$")


def ci_figure(lb: Leaderboard, styles: dict[str, Style]):
    """The family IQM with its 95 % CI, every entry of the board (submissions' names in bold)."""
    from matplotlib.figure import Figure

    rows = lb.rows
    fig = Figure(figsize=(9, 0.32 * len(rows) + 1.4))
    ax = fig.subplots()
    ys = np.arange(len(rows))[::-1]
    for y, r in zip(ys, rows):
        e, lo, hi = r.family_iqm
        ax.errorbar(e, y, xerr=[[e - lo], [hi - e]], fmt="o", color=styles[r.name].color, capsize=3,
                    label=styles[r.name].label)
    ax.set_yticks(ys, [styles[r.name].label for r in rows])
    for tick, r in zip(ax.get_yticklabels(), rows):
        if r.entry.kind == "submission":
            tick.set_fontweight("bold")
    ax.axvline(1.0, color="k", ls="--", lw=0.8)
    ax.set_xlabel("family IQM of normalised score S (95% stratified-bootstrap CI); 1 = best fixed LR")
    ax.grid(axis="x", alpha=0.3)
    return fig


def profile_figure(rows: list[Row], styles: dict[str, Style]):
    """rliable's performance profiles (fraction of runs scoring above τ) with bootstrap bands."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.2, 4.2))  # two side by side on a laptop screen
    ax = fig.subplots()
    for r in rows:
        st = styles[r.name]
        iv = scoring.stratified_bootstrap_ci(r.scores, lambda s: scoring.performance_profile(s, PROFILE_TAUS),
                                             reps=500, seed=0, vectorized=True)
        ax.plot(PROFILE_TAUS, iv.estimate, color=st.color, ls=st.linestyle, lw=st.linewidth, label=st.label)
        ax.fill_between(PROFILE_TAUS, iv.low, iv.high, color=st.color, alpha=0.12)
    ax.set_xlabel("normalised score τ")
    ax.set_ylabel("fraction of runs with score > τ")
    ax.axvline(1.0, color="k", ls="--", lw=0.8)
    ax.legend(fontsize=FONT_SIZE - 1)
    ax.grid(alpha=0.3)
    return fig


def algoperf_figure(lb: Leaderboard, rows: list[Row], styles: dict[str, Style]):
    """AlgoPerf's time-to-target profiles (relative to every entry of the board) of ``rows``."""
    from matplotlib.figure import Figure

    rho = scoring.algoperf_profile(np.stack([r.times for r in lb.rows]), ALGOPERF_TAUS)
    index = {r.name: i for i, r in enumerate(lb.rows)}
    fig = Figure(figsize=(6.2, 4.2))  # two side by side on a laptop screen
    ax = fig.subplots()
    for r in rows:
        st = styles[r.name]
        ax.step(ALGOPERF_TAUS, rho[index[r.name]], where="post", color=st.color, ls=st.linestyle, lw=st.linewidth,
                label=f"{st.label} ({r.algoperf:.2f})")
    ax.set_xlabel("τ (steps to target / fastest entry's)")
    ax.set_ylabel("fraction of instances reached within τ")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=FONT_SIZE - 1)
    ax.grid(alpha=0.3)
    return fig


def curve_matrix(runs, key: str, length: int, relative: bool = False) -> np.ndarray:
    """(runs, length) matrix of one curve; a run that ended early (diverged) is padded with inf
    for losses and NaN for the LR. ``relative``: divided by the run's first value (L_t / L_0)."""
    pad = np.nan if key == "lr" else np.inf
    out = np.full((len(runs), length), pad)
    for i, x in enumerate(runs):
        c = np.asarray(x.curves.get(key, ()), dtype=float)[:length]
        if relative and len(c):
            c = c / c[0] if c[0] > 0 and np.isfinite(c[0]) else np.full(len(c), np.nan)
        out[i, : len(c)] = c
    return out


def median_band(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and 25–75 % quantiles per column, NaN ignored (inf counts as the worst value)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        q = np.nanquantile(m, [0.5, 0.25, 0.75], axis=0) if m.size else np.full((3, m.shape[1]), np.nan)
    return q[0], q[1], q[2]


def progress_matrix(runs, references, family: str, length: int) -> np.ndarray:
    """(runs, length) normalised score S of the loss reached after each step (clipped; a run
    that ended early keeps its last value, −1 if it diverged)."""
    out = []
    for x in runs:
        tl = np.asarray(x.curves.get("train_loss", ()), dtype=float)
        p = np.atleast_1d(scoring.score(tl[0], tl, references.final_loss(Task(family, x.instance), x.seed)))
        full = np.full(length, -1.0 if x.diverged else (p[-1] if len(p) else 0.0))
        full[: min(len(p), length)] = p[:length]
        out.append(np.clip(full, -1.0, 2.0))
    return np.stack(out) if out else np.zeros((0, length))


def family_figure(lb: Leaderboard, fs, rows: list[Row], styles: dict[str, Style], references=None):
    """One family: LR and training loss (relative to L0) over the steps — median over every seed
    and instance with the 25–75 % band, and one example run as a thin line — and the median
    normalised progress S(t) (needs the references)."""
    from matplotlib.figure import Figure

    family, instance, seed = fs.family, fs.instances[0], lb.suite.seeds[0]
    n = fs_len(lb, family)
    fig = Figure(figsize=(12.5, 4.2))
    ax_lr, ax_loss, ax_prog = fig.subplots(1, 3)
    for r in rows:
        st = styles[r.name]
        mine = [x for x in r.runs if x.family == family]
        if not mine:
            continue
        example = next((x for x in mine if (x.instance, x.seed) == (instance, seed)), mine[0])
        for ax, key, length, rel, steps in ((ax_lr, "lr", n, False, np.arange(n)),
                                            (ax_loss, "train_loss", n + 1, True, np.arange(n + 1))):
            med, lo, hi = median_band(curve_matrix(mine, key, length, relative=rel))
            ax.plot(steps, med, color=st.color, ls=st.linestyle, lw=st.linewidth, label=st.label)
            ax.fill_between(steps, lo, hi, color=st.color, alpha=0.12, lw=0)
            one = curve_matrix([example], key, length, relative=rel)[0]
            ax.plot(steps, np.where(np.isfinite(one), one, np.nan), color=st.color, lw=0.7, alpha=0.6)
        if references is not None:
            ax_prog.plot(np.arange(n + 1), np.median(progress_matrix(mine, references, family, n + 1), axis=0),
                         color=st.color, ls=st.linestyle, lw=st.linewidth)
    if references is not None:
        tasks = [Task(family, i) for i in fs.instances]
        ax_lr.axhline(float(np.median([references.lr(t) for t in tasks])), color="k", ls="--", lw=0.8,
                      label="reference LR (median)")
    ax_lr.set_yscale("log")
    lo, hi = _lr_range(references, Task(family, instance))
    ax_lr.set_ylim(lo / 2, hi * 2)
    ax_lr.set_title(f"{family}: learning rate", fontsize=FONT_SIZE)
    ax_loss.set_yscale("log")
    ax_loss.set_title(f"{family}: training loss / initial loss", fontsize=FONT_SIZE)
    ax_prog.axhline(1.0, color="k", ls="--", lw=0.8)
    ax_prog.set_title(f"{family}: median normalised progress S(t)", fontsize=FONT_SIZE)
    ax_prog.set_ylim(-1.05, 2.05)
    for a in (ax_lr, ax_loss, ax_prog):
        a.set_xlabel("env step")
        a.grid(alpha=0.3)
    handles, labels = ax_lr.get_legend_handles_labels()
    ncol = min(6, max(1, len(labels)))
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=FONT_SIZE - 1,
               bbox_to_anchor=(0.5, -0.02), frameon=False)
    fig.subplots_adjust(bottom=0.16 + 0.06 * ((len(labels) - 1) // ncol), wspace=0.25)
    return fig


#: the learned controller's entry, whose LR curves the report sets against each instance's reference LR
CONTROLLER_ENTRY = "controller"


def controller_figure(lb: Leaderboard, references, name: str = CONTROLLER_ENTRY, per_family: int = 3):
    """The learned controller's LR on a few held-out (suite) instances per family, seed 0, each
    against that instance's best constant LR (the reference, dashed, same colour); ``None`` if the
    board has no entry ``name`` or no references."""
    from matplotlib.figure import Figure

    row = next((r for r in lb.rows if r.name == name), None)
    if row is None or references is None:
        return None
    families = [fs for fs in lb.suite.families if any(x.family == fs.family for x in row.runs)]
    fig = Figure(figsize=(3.4 * max(1, len(families)), 3.6))
    axes = np.atleast_1d(fig.subplots(1, max(1, len(families))))
    seed = lb.suite.seeds[0]
    for ax, fs in zip(axes, families):
        for k, instance in enumerate(fs.instances[:per_family]):
            run = next((x for x in row.runs if (x.family, x.instance, x.seed) == (fs.family, instance, seed)), None)
            if run is None:
                continue
            color = f"C{k}"
            lrs = np.asarray(run.curves.get("lr", ()), dtype=float)
            ax.plot(np.arange(len(lrs)), lrs, color=color, lw=1.4, label=f"{instance}")
            ax.axhline(references.lr(Task(fs.family, instance)), color=color, ls="--", lw=0.9)
        ax.set_yscale("log")
        ax.set_title(f"{fs.family}", fontsize=FONT_SIZE)
        ax.set_xlabel("env step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=FONT_SIZE - 2, title="instance", title_fontsize=FONT_SIZE - 2)
    axes[0].set_ylabel("learning rate")
    fig.subplots_adjust(wspace=0.45, bottom=0.16)
    return fig


def figures(lb: Leaderboard, top: int = 5, references=None, entries=()) -> dict:
    """Every figure of the report (matplotlib Figures): ``ci``, ``profile``, ``algoperf`` and
    ``family:<name>`` per family."""
    import matplotlib

    if not lb.rows:
        return {}
    styles = entry_styles(lb)
    shown = plotted_rows(lb, top, entries)
    with matplotlib.rc_context({"font.size": FONT_SIZE}):
        out = {"ci": ci_figure(lb, styles), "profile": profile_figure(shown, styles),
               "algoperf": algoperf_figure(lb, shown, styles)}
        for fs in lb.suite.families:
            out[f"family:{fs.family}"] = family_figure(lb, fs, shown, styles, references)
        controller = controller_figure(lb, references)
        if controller is not None:
            out["controller"] = controller
    return out


def plots(lb: Leaderboard, top: int = 5, references=None, entries=()) -> dict[str, str]:
    """Base64 PNGs of :func:`figures`."""
    return {key: _png(fig) for key, fig in figures(lb, top, references, entries).items()}


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
.wide{overflow-x:auto}
"""


def html_page(lb: Leaderboard, references=None, top: int = 5, with_plots: bool = True, entries=()) -> str:
    """The self-contained HTML report (tables, plots as base64 PNG, definitions).

    The plots show every submission, every entry named in ``entries`` and the ``top`` best
    baselines (:func:`plotted_rows`)."""
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
    parts.append('<div class="wide"><table class="ranking"><thead><tr>' + "".join(
        f'<th class="{"name" if i in (1, 2) else ""}">{e(c)}</th>' for i, c in enumerate(cols)) + "</tr></thead><tbody>")
    for r in lb.rows:
        cells = _cells(lb, r)
        parts.append(f'<tr class="{e(r.entry.kind)}">' + "".join(
            f'<td class="{"name" if i in (1, 2) else ""}">{e(c)}</td>' for i, c in enumerate(cells)) + "</tr>")
    parts.append("</tbody></table></div>")
    parts.append(f'<p class="sub">{e(KINDS_LEGEND)}</p>')
    note = stale_note(lb)
    if note:
        parts.append(f'<p class="sub"><b>{e(note)}</b></p>')
    if not lb.rows:
        parts.append("<p>No entries yet: run <code>lrgym leaderboard run-baselines</code>.</p>")

    if with_plots and lb.rows:
        shown = ", ".join(r.name for r in plotted_rows(lb, top, entries))  # checks the names first
        try:
            images = plots(lb, top=top, references=references, entries=entries)
        except ImportError:
            images = None
        if images is None:
            parts.append('<p class="note">Plots need matplotlib: <code>pip install \'lrgym[report]\'</code>.</p>')
        else:
            def img(key, alt):
                return f'<img alt="{e(alt)}" src="data:image/png;base64,{images[key]}">' if key in images else ""

            parts += ["<h2>Score confidence intervals</h2>", img("ci", "family IQM with 95% CIs"),
                      "<h2>Performance profiles</h2>",
                      f"<p>Shown here and below: every submission, the {top} best baselines"
                      + (" and the entries asked for" if entries else "") + f" ({e(shown)}). "
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
                parts.append(f"<h3>{e(fs.family)}</h3>" + img(f"family:{fs.family}", f"{fs.family} curves"))
            if "controller" in images:
                parts += ["<h2>The learned controller against the best constant LR</h2>",
                          f"<p>The LR the learned <code>{e(CONTROLLER_ENTRY)}</code> entry sets at each step (solid) on "
                          "the first instances of each family of this suite (held out: it trained on train "
                          f"instances only), seed {e(suite.seeds[0])}, and each instance's best constant LR, the "
                          "reference of the score (dashed, same colour).</p>",
                          img("controller", "controller LR against the reference LR")]

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
            f"<details><summary>{e(en.name)} ({e(_kind(en))})</summary><ul>"
            f"<li>source: <code>{e(str((en.env_spec or {}).get('source', '')))}</code></li>"
            f"<li>policy source sha256: <code>{e(en.policy_source_hash or '–')}</code></li>"
            + "".join(f"<li>made from <code>{e(str(k))}</code> sha256 <code>{e(str(v))}</code></li>"
                      for k, v in ((en.env_spec or {}).get("inputs") or {}).items() if en.kind == "baseline")
            +
            f"<li>recorded: {e(en.created_at or '')}, in {e(_f((en.summary or {}).get('elapsed_seconds'), 1))} s</li>"
            f"<li>CPU: {e(en.cpu or '')}</li><li>packages: {e(versions)}</li>"
            f"<li>seeds: {e(', '.join(map(str, en.seeds)))}</li></ul></details>")
    if lb.skipped:
        parts.append(f"<p>Skipped (runs do not match the suite): {e(', '.join(lb.skipped))}</p>")
    parts += ["<h2>How to read it</h2>", f'<div class="defs">{e(SCORE_DEFINITIONS)}</div>', "</body></html>"]
    return "\n".join(parts)
