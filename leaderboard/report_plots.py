"""The report's figures (matplotlib, the ``report`` extra, imported only here and only when plotting).

Which entries: every plot shows the ``submissions`` best submissions (:data:`PLOTTED_SUBMISSIONS`
by default), every entry named with ``--entry``, and the ``top`` best baselines
(:func:`plotted_rows`); the CI plot shows the :data:`CI_ROWS` first rows of the board and those
(:func:`ci_rows`). A hosted board of 2,000 submissions drew every one in every plot: a CI figure
47,591 pixels tall, legends of 38,000 (benchmarks/RESULTS.md); ``show``, ``export`` and
``LEADERBOARD.md`` carry every row. How: one style
per entry (:func:`entry_styles`), the same in every figure. One function per figure;
:func:`figures` makes them all and :func:`plots` encodes them as base64 PNGs for the HTML page.
"""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass

import numpy as np

from lrgym.leaderboard import scoring
from lrgym.leaderboard.ranking import ALGOPERF_TAUS, PROFILE_TAUS, Leaderboard, Row
from lrgym.leaderboard.report_format import entry_kind
from lrgym.leaderboard.suite import Task

__all__ = ["PALETTE", "LINE_STYLES", "KIND_SUFFIX", "FONT_SIZE", "Style", "entry_styles", "plotted_rows", "drawn_rows", "ci_rows", "CI_ROWS", "PLOTTED_SUBMISSIONS", "ci_figure",
           "profile_figure", "algoperf_figure", "curve_matrix", "median_band", "progress_matrix", "family_figure",
           "CONTROLLER_ENTRY", "controller_figure", "lr_figure_key", "instance_label", "figures", "plots", "fs_len", "LABEL_CHARS",
           "shorten", "plot_labels"]

#: 20 colours of maximum contrast (Kelly 1965, without white and black and the palest ones
#: replaced by darker kin); entry i gets colour i mod 20 and line style i // 20 (by rank)
PALETTE = ("#0067a5", "#f38400", "#008856", "#be0032", "#875692", "#882d17", "#e68fac", "#2b3d26",
           "#f3c300", "#604e97", "#8db600", "#654522", "#e25822", "#848482", "#a1caf1", "#b3446c",
           "#c2b280", "#f6a600", "#dcd300", "#000000")
LINE_STYLES = ("-", "--", ":", "-.")
#: the labels' suffix per kind (:func:`~lrgym.leaderboard.report_format.entry_kind`): the legend says what each entry is
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
    labels = plot_labels([r.name for r in lb.rows])
    for i, r in enumerate(lb.rows):
        kind = entry_kind(r.entry)
        styles[r.name] = Style(PALETTE[i % len(PALETTE)], LINE_STYLES[(i // len(PALETTE)) % len(LINE_STYLES)],
                               2.4 if kind == "submission" else 1.5, labels[r.name] + KIND_SUFFIX.get(kind, ""))
    return styles


#: how many of the best submissions the plots draw by default (``report --submissions``)
PLOTTED_SUBMISSIONS = 20
#: how many of the board's first rows the CI figure shows (beside the entries the other plots draw)
CI_ROWS = 60


def plotted_rows(lb: Leaderboard, top: int = 5, entries=(), submissions: int = PLOTTED_SUBMISSIONS) -> list[Row]:
    """The entries the plots show, in rank order: the ``top`` best baselines (hand-designed or
    learned), the ``submissions`` best submissions, and every entry named in ``entries`` (in any
    spelling of its name, :meth:`Leaderboard.row`; ValueError for a name not on the board)."""
    named = []
    for n in entries:
        try:
            named.append(lb.row(n))
        except KeyError:
            raise ValueError(f"entry {n!r} is not on the {lb.suite.version} board; valid choices: "
                             + ", ".join(r.name for r in lb.rows)) from None
    best = [r for r in lb.rows if r.entry.kind == "baseline"][: max(0, top)]
    subs = [r for r in lb.rows if r.entry.kind == "submission"][: max(0, submissions)]
    keep = {id(r) for r in [*best, *named, *subs]}
    return [r for r in lb.rows if id(r) in keep]


def drawn_rows(lb: Leaderboard, top: int = 5, entries=(), submissions: int = PLOTTED_SUBMISSIONS) -> list[Row]:
    """The rows whose runs' curves a figure draws: :func:`plotted_rows` and the learned
    controller's (:func:`controller_figure`). The others' curves need not be read (a board built
    with ``curves=False``: ``lrgym leaderboard report`` reads these rows' curves only)."""
    rows = plotted_rows(lb, top, entries, submissions)
    keep = {id(r) for r in rows} | {id(r) for r in lb.rows if r.name == CONTROLLER_ENTRY}
    return [r for r in lb.rows if id(r) in keep]


def ci_rows(lb: Leaderboard, shown: list[Row]) -> list[Row]:
    """The rows of the CI figure, in rank order: the board's first :data:`CI_ROWS` and ``shown``
    (the entries the other plots draw)."""
    keep = {id(r) for r in shown}
    return [r for i, r in enumerate(lb.rows) if i < CI_ROWS or id(r) in keep]


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


#: the longest plot label, in characters (an entry name may have 64): longer names are shortened
LABEL_CHARS = 28


def shorten(name: str, n: int = LABEL_CHARS) -> str:
    """``name`` if it has at most ``n`` characters, else its start and its end around an ellipsis
    (``n`` characters in all, two thirds of them the start): ``my-policy-with-a-very-…variant-A``."""
    if len(name) <= n:
        return name
    tail = (n - 1) // 3
    return name[: n - 1 - tail] + "…" + name[len(name) - tail:]


def plot_labels(names: list[str], n: int = LABEL_CHARS) -> dict[str, str]:
    """A label per entry name, distinct for distinct names: each :func:`shorten`-ed to ``n``
    characters, and the names whose short forms would still read alike (the same start and end)
    shortened less, a few characters at a time, up to their whole name. ``$`` is escaped, so
    matplotlib never parses a label as math."""
    width = dict.fromkeys(names, n)
    while True:
        short = {name: shorten(name, width[name]) for name in names}
        alike: dict[str, list[str]] = {}
        for name, label in short.items():
            alike.setdefault(label, []).append(name)
        longer = [name for group in alike.values() if len(group) > 1 for name in group if short[name] != name]
        if not longer:  # (distinct names at full length are distinct labels: the loop ends)
            return {name: label.replace("$", r"\$") for name, label in short.items()}
        for name in longer:
            width[name] += 4


def ci_figure(lb: Leaderboard, styles: dict[str, Style], rows: list[Row] | None = None):
    """The family IQM with its 95 % CI of ``rows`` (default: every entry of the board;
    submissions' names in bold)."""
    from matplotlib.figure import Figure

    rows = lb.rows if rows is None else rows
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
    for losses and NaN for the LR. ``relative``: divided by the run's first value (L_t / L_0) and
    raised to the score's precision floor (:data:`~lrgym.leaderboard.scoring.PRECISION_FLOOR`:
    below it the digits are float noise, which drew noise-free quadratics down to 1e-127 and
    squeezed every other curve into the panel's top tenth)."""
    pad = np.nan if key == "lr" else np.inf
    out = np.full((len(runs), length), pad)
    for i, x in enumerate(runs):
        c = np.asarray(x.curves.get(key, ()), dtype=float)[:length]
        if relative and len(c):
            c = np.maximum(c / c[0], scoring.PRECISION_FLOOR) if c[0] > 0 and np.isfinite(c[0]) \
                else np.full(len(c), np.nan)
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
    that ended early keeps its last value; a diverged run scores −1, as the board scores it,
    from its diverging step on: its last recorded loss is that step's, above the env's cap
    but not necessarily low enough for the clipped ratio to reach −1)."""
    out = []
    for x in runs:
        tl = np.asarray(x.curves.get("train_loss", ()), dtype=float)
        p = np.atleast_1d(scoring.score(tl[0], tl, references.final_loss(Task(family, x.instance), x.seed)))
        full = np.full(length, -1.0 if x.diverged else (p[-1] if len(p) else 0.0))
        full[: min(len(p), length)] = p[:length]
        if x.diverged and len(p):
            full[min(len(p), length) - 1:] = -1.0
        out.append(np.clip(full, -1.0, 2.0))
    return np.stack(out) if out else np.zeros((0, length))


#: the family figure's height without its legend's extra rows, and what each extra row adds (inches)
FAMILY_HEIGHT, LEGEND_ROW_HEIGHT = 4.2, 0.252


def family_figure(lb: Leaderboard, fs, rows: list[Row], styles: dict[str, Style], references=None):
    """One family: LR and training loss (relative to L0) over the steps — median over every seed
    and instance with the 25–75 % band, and one example run as a thin line — and the median
    normalised progress S(t) (needs the references)."""
    from matplotlib.figure import Figure

    family, instance, seed = fs.family, fs.instances[0], lb.suite.seeds[0]
    n = fs_len(lb, family)
    fig = Figure(figsize=(12.5, FAMILY_HEIGHT))
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
    ax_loss.set_title(f"{family}: training loss / initial loss (≥ {scoring.PRECISION_FLOOR:g})", fontsize=FONT_SIZE)
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
    _room_for_legend(fig, (len(labels) - 1) // ncol)
    fig.subplots_adjust(wspace=0.25)
    return fig


def _room_for_legend(fig, extra_rows: int) -> None:
    """Make the family figure taller by :data:`LEGEND_ROW_HEIGHT` per legend row beyond the first,
    its panels keeping their height: a board of many entries plotted has a legend of many rows (a
    hosted board draws every submission), and the panels had been squeezed instead, until, from 73
    labels on, their bottom passed their top and matplotlib refused the figure (the report failed)."""
    extra = LEGEND_ROW_HEIGHT * max(0, extra_rows)
    height = FAMILY_HEIGHT + extra
    fig.set_size_inches(fig.get_size_inches()[0], height)
    top = 1 - (1 - fig.subplotpars.top) * FAMILY_HEIGHT / height  # the same margin above, in inches
    fig.subplots_adjust(bottom=(0.16 * FAMILY_HEIGHT + extra) / height, top=top)


#: the learned controller's entry, whose LR curves the report sets against each instance's reference LR
CONTROLLER_ENTRY = "controller"


def controller_figure(lb: Leaderboard, references, name: str = CONTROLLER_ENTRY, per_family: int = 3):
    """The LR of entry ``name`` (the learned controller's by default; ``report --entry NAME`` draws
    any other's, a variant's) on a few held-out (suite) instances per family, the suite's first
    seed, each against that instance's best constant LR (the reference, dashed, same colour);
    ``None`` if the board has no entry ``name`` or no references. A row not made from the weights
    this install ships (:func:`lrgym.leaderboard.provenance.stale_baselines`) says so in its title.

    The legend names each instance by its seed on a public suite, and by its position on a
    private one ("1 of 8"): a private suite's instance seeds are its secret, and a figure is
    copied more freely than the page it came in (:func:`instance_label`)."""
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
            ax.plot(np.arange(len(lrs)), lrs, color=color, lw=1.4, label=instance_label(lb.suite, fs, k))
            ax.axhline(references.lr(Task(fs.family, instance)), color=color, ls="--", lw=0.9)
        ax.set_yscale("log")
        ax.set_title(f"{fs.family}", fontsize=FONT_SIZE)
        ax.set_xlabel("env step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=FONT_SIZE - 2, title="instance", title_fontsize=FONT_SIZE - 2)
    axes[0].set_ylabel("learning rate")
    fig.subplots_adjust(wspace=0.45, bottom=0.16)
    from lrgym.leaderboard.provenance import stale_baselines

    if name in stale_baselines(lb):  # the board's note says it under the table; a figure travels alone
        fig.suptitle(f"{name}: not made from the weights this install ships (stale row)", color="C3",
                     fontsize=FONT_SIZE)
        fig.subplots_adjust(top=0.8)
    elif name != CONTROLLER_ENTRY:  # an entry asked for (--entry): whose LR, said in the figure
        fig.suptitle(f"{name}: LR against the reference LR", fontsize=FONT_SIZE)
        fig.subplots_adjust(top=0.8)
    return fig


def instance_label(suite, fs, k: int) -> str:
    """How a figure names instance ``k`` (0-based) of family suite ``fs``: its seed (``17``) on a
    public suite, its position (``1 of 8``) on a private one, whose instance seeds are secret."""
    from lrgym.leaderboard.private import is_private

    return f"{k + 1} of {len(fs.instances)}" if is_private(suite) else str(fs.instances[k])


def figures(lb: Leaderboard, top: int = 5, references=None, entries=(),
            submissions: int = PLOTTED_SUBMISSIONS) -> dict:
    """Every figure of the report (matplotlib Figures): ``ci``, ``profile``, ``algoperf``,
    ``family:<name>`` per family, ``controller`` (:func:`controller_figure`) and, for every entry
    named in ``entries`` (``--entry``), its LR against the reference LR, ``lr:<name>`` (a
    controller trained by ``train_controller`` is a submission under a name of its own)."""
    import matplotlib

    if not lb.rows:
        return {}
    styles = entry_styles(lb)
    shown = plotted_rows(lb, top, entries, submissions)
    with matplotlib.rc_context({"font.size": FONT_SIZE}):
        out = {"ci": ci_figure(lb, styles, ci_rows(lb, shown)), "profile": profile_figure(shown, styles),
               "algoperf": algoperf_figure(lb, shown, styles)}
        for fs in lb.suite.families:
            out[f"family:{fs.family}"] = family_figure(lb, fs, shown, styles, references)
        controller = controller_figure(lb, references)
        if controller is not None:
            out["controller"] = controller
        for name in dict.fromkeys(entries):  # a variant of the controller, under its own name
            if name != CONTROLLER_ENTRY and (fig := controller_figure(lb, references, name=name)) is not None:
                out[lr_figure_key(name)] = fig
    return out


def lr_figure_key(name: str) -> str:
    """The key of the figure of entry ``name``'s LR against the reference LR (``--entry NAME``)."""
    return f"lr:{name}"


def plots(lb: Leaderboard, top: int = 5, references=None, entries=(),
          submissions: int = PLOTTED_SUBMISSIONS) -> dict[str, str]:
    """Base64 PNGs of :func:`figures`."""
    return {key: _png(fig) for key, fig in figures(lb, top, references, entries, submissions).items()}


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
