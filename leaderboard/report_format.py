"""What every output of the leaderboard shows, as text: the columns, the cells of a row and the
fixed texts (the kinds legend, the score definitions).

The bottom of the report's modules: the terminal table (:mod:`lrgym.leaderboard.report_terminal`),
``LEADERBOARD.md`` (:mod:`lrgym.leaderboard.report_markdown`), the plots
(:mod:`lrgym.leaderboard.report_plots`) and the HTML page (:mod:`lrgym.leaderboard.report_html`)
build on it; it imports none of them. Cells are plain text, cleaned of control characters but
not escaped: each output escapes them its own way.
"""

from __future__ import annotations

import math

from lrgym.leaderboard.public_source import public_reason
from lrgym.leaderboard.ranking import Leaderboard, Row
from lrgym.leaderboard.text import clean

__all__ = ["KINDS_LEGEND", "SCORE_DEFINITIONS", "RANK_COLUMN", "INSTANCES_COLUMN", "FAMILY_CELL", "number", "interval",
           "interval_bounds", "percent", "column_names", "family_cell", "entry_kind", "row_cells", "failure_text",
           "reason_line", "skipped_line", "APART_MARK", "trained_apart", "trained_apart_line"]

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


# ---- numbers --------------------------------------------------------------------------------------


def number(x: float, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals; ``"–"`` for None or NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def interval(iv, digits: int = 2) -> str:
    """``"estimate [low, high]"`` of an ``[estimate, low, high]`` interval; ``"–"`` for None."""
    if iv is None:
        return "–"
    return f"{number(iv[0], digits)} [{number(iv[1], digits)}, {number(iv[2], digits)}]"


def interval_bounds(iv, digits: int = 2) -> str:
    """``"[low, high]"`` of an ``[estimate, low, high]`` interval whose estimate is shown elsewhere;
    ``"–"`` when it is undefined (None or NaN bounds, e.g. over new instances of a one-instance family)."""
    if any(b is None or math.isnan(b) for b in iv[1:3]):
        return "–"
    return f"[{number(iv[1], digits)}, {number(iv[2], digits)}]"


def percent(fraction: float) -> str:
    """A rate in whole percent, but never "0%" for a non-zero one (1 of 400 runs is "<1%") nor
    "100%" for one below 1 (239 of 240 runs is ">99%")."""
    whole = f"{100 * fraction:.0f}"
    if fraction > 0 and whole == "0":  # below 0.5 %, and 0.5 % itself (rounded half to even)
        return "<1%"
    if fraction < 1 and whole == "100":
        return ">99%"
    return f"{whole}%"


# ---- the ranking's columns and cells --------------------------------------------------------------

#: the ranking statistic's column, and its CI over new instances
RANK_COLUMN = "family IQM [95% CI]"
INSTANCES_COLUMN = "CI, new instances"
#: header suffix of the per-family columns; see :func:`family_cell`
FAMILY_CELL = "IQM / mean / div."


def column_names(lb: Leaderboard) -> list[str]:
    """The ranking's column headers (a per-family header is ``"<family>\\n" + FAMILY_CELL``)."""
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
    return (f"{number(stats['iqm'][0])} / {number(stats.get('mean'))} / "
            f"{'–' if div is None else percent(div)}")


def entry_kind(entry) -> str:
    """``baseline``, ``learned`` (a baseline with trained weights) or ``submission``."""
    if entry.kind != "baseline":
        return entry.kind
    policy = (entry.env_spec or {}).get("policy") or {}
    try:
        from lrgym.baselines.registry import is_learned

        return "learned" if policy.get("kind") == "baseline" and is_learned(policy.get("name")) else "baseline"
    except ImportError:  # pragma: no cover
        return "baseline"


#: the mark after the name of an entry trained at other settings than the board grades at
#: (:func:`trained_apart_line` says which, under the board)
APART_MARK = "†"


def trained_apart(entry, families=None) -> dict:
    """The settings ``entry`` was trained at other values of than it was graded at, as its entry
    keeps them (:func:`lrgym.leaderboard.trained_apart.entry_apart`: numbers and the board's
    ``families`` only), ``{}`` for none."""
    from lrgym.leaderboard.trained_apart import entry_apart

    return entry_apart(entry.env_spec, families)


def trained_apart_line(lb: Leaderboard, name=str) -> str:
    """The note under a board whose rows carry :data:`APART_MARK`: each such entry with the
    settings it was trained at and the suite's, as one line of plain text; ``""`` when there are
    none. Its text is lrgym's, the stored numbers and family names (checked:
    :func:`trained_apart`) and the entry names, the submitters', given through ``name`` (an output
    that escapes text passes its escape; the terminal and the HTML page escape the whole line)."""
    from lrgym.leaderboard.trained_apart import apart_text

    families = tuple(lb.suite.family_names)
    said = [f"{name(clean(r.name, keep_newlines=False))}: {apart_text(apart, families)}"
            for r in lb.rows if (apart := trained_apart(r.entry, families))]
    if not said:
        return ""
    return (f"{APART_MARK} Trained at other settings than this board grades every entry at, and graded at the "
            f"board's as every entry, not at those it learned: " + " — ".join(said) + ".")


def row_cells(lb: Leaderboard, r: Row) -> list[str]:
    """One row of the ranking, a cell per :func:`column_names` column (an entry trained at other
    settings than the board's: its name with :data:`APART_MARK`)."""
    s = r.summary
    fams = [family_cell(s.get("families", {}).get(f)) for f in lb.suite.family_names]
    mark = f" {APART_MARK}" if trained_apart(r.entry, tuple(lb.suite.family_names)) else ""
    return [
        str(r.rank), clean(r.name, keep_newlines=False) + mark, entry_kind(r.entry), interval(s["family_iqm"]),
        interval_bounds(s["family_iqm_instances"]), *fams, number(s["iqm"][0]), number(s["mean"][0]),
        number(s["median"][0]), number(s["optimality_gap"][0]),
        interval(r.poi) if r.poi is not None else "–", number(r.algoperf), percent(s.get("diverged_fraction", 0)),
    ]


def failure_text(entry) -> str:
    """A failed entry's reason as every output shows it (:func:`~lrgym.leaderboard.public_source.public_reason`)."""
    return public_reason(entry.failure_reason or "", entry.env_spec)


def reason_line(reason: str | None, n: int = 160) -> str:
    """The first line of a failure reason, whitespace collapsed, at most ``n`` characters."""
    text = " ".join(clean(reason or "").split("\n", 1)[0].split())
    return text if len(text) <= n else text[: n - 1] + "…"


def skipped_line(lb: Leaderboard) -> str:
    """The entries of the suite's version the board does not rank, each with why
    (:attr:`~lrgym.leaderboard.ranking.Leaderboard.skipped`), as one line of plain text; ``""``
    when there are none. Every output says it, so that no stored entry leaves the board unsaid."""
    if not lb.skipped:
        return ""
    return (f"Not ranked (stored for {lb.suite.version}): "
            + "; ".join(f"{clean(name, keep_newlines=False)} ({why})" for name, why in lb.skipped.items()) + ".")

