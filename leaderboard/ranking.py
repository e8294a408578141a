"""The ranking of one suite version: every entry's aggregates, and the comparisons between them.

Per entry (from its own runs, also stored in its summary): the **family IQM** — the mean over
the suite's families of each family's IQM (:func:`lrgym.leaderboard.scoring.family_iqm`) — with
two 95 % CIs: on the suite's instances (seeds resampled within each instance) and on new
instances of the same families (instances resampled within each family, then seeds); per-family
IQM with the family's mean score and fraction of diverged runs next to it; the IQM of all runs
pooled, mean, median, optimality gap, fraction of diverged runs. Across entries (depends on who
else is on the board, so computed at display time):

* **PoI**: probability of improvement over the *best baseline* (the baseline entry with the
  highest family IQM), with a bootstrap CI;
* **AlgoPerf**: AlgoPerf's profile score on steps-to-target, each task's time being the median
  over seeds of the steps the run needed to reach the reference's final loss (∞ if at least half
  of the runs never did: with an even number of seeds the median averages the middle two, so one
  never-reached run of two is enough, as on the quick suite), ratios taken against the fastest
  entry on the board.

Entries are ranked by family IQM (point estimate; ties by name). Every family weighs the same:
with the IQM of all runs pooled, a family with under a quarter of the runs (mlp, recsys) could
fail entirely and be trimmed away. The latest successful entry per name counts (a
name in any spelling, :func:`lrgym.leaderboard.store.version_key`: ``keeper`` and ``KEEPER``
are two versions of one entry); a name whose most recent attempt failed is listed under
failures (with any earlier success still ranked).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lrgym.leaderboard import scoring
from lrgym.leaderboard.runner import BOOTSTRAP_REPS, score_matrix, summarize
from lrgym.leaderboard.store import EntryRecord, ResultStore, RunRecord, version_key
from lrgym.leaderboard.suite import Suite, get_suite
from lrgym.leaderboard.text import name_key

__all__ = ["Leaderboard", "Row", "build_leaderboard", "compare_with_best", "PROFILE_TAUS", "ALGOPERF_TAUS",
           "NOT_THE_SUITES_RUNS", "NON_FINITE_SCORE", "OTHER_DEFINITION", "OTHER_DYNAMICS", "OTHER_TARGETS",
           "other_definition", "other_dynamics", "other_targets"]

PROFILE_TAUS = np.linspace(-1.0, 2.0, 61)
ALGOPERF_TAUS = np.linspace(1.0, 4.0, 100)

#: why an entry of the suite's version is not ranked: its runs are not the suite's tasks × seeds ...
NOT_THE_SUITES_RUNS = "its runs do not match the suite"
#: ... or one of its runs has a score that is not a finite number (the store keeps NaN and ±inf;
#: no aggregate of the board is defined with one, and the grader never scores a run so)
NON_FINITE_SCORE = "a run's score is not a finite number"
#: ... or its runs started from other losses than the suite's references do (each run's initial
#: loss is the instance's and seed's, whatever the policy): an lrgym whose task dynamics differ
#: made it, under the same suite version (the quick suite's tasks changed since 2026-11-22), and
#: its scores are of other problems
OTHER_DYNAMICS = ("its runs started from other losses than the suite's references (an lrgym whose tasks differ "
                  "made it): run it again")
#: ... or it was graded under another definition of the suite's version: a suite file edited
#: (its horizon, inner steps or env options) without a new revision, so its runs are other episodes
#: than the suite's (their initial losses can be the same: the check above does not see it)
OTHER_DEFINITION = ("it was graded under another definition of this suite version (its episode settings "
                    "differ: a suite file changed without a new revision): run it again, or bump the revision")
#: ... or its scores are not what its losses score against the suite's references: it was scored
#: against other references, which the grader recomputed since because the code no longer
#: reproduced them (a family's module edited, another lrgym), with the same initial losses
OTHER_TARGETS = ("its scores are not its losses' scores against the suite's references (it was scored against "
                 "references of other task dynamics: a family's code or lrgym changed since): run it again")
#: how far a reference's target may be from the one a run was scored against and be the same
#: reference: the grader's own test that cached references still hold
#: (:func:`lrgym.leaderboard.references.reproduces`, relative 1e-6); on an instance with little
#: progress a target 1e-6 off moves a score by ≈ 3e-6, so a fixed tolerance on the score itself
#: unranked entries the grader counts as scored against the same references
TARGET_RTOL = 1e-6
#: and the score's own rounding on top
SCORE_ATOL = 1e-9
#: how far a run's initial loss may be from the reference's and be the same problem: the last bits
#: of another CPU kind (≈ 1e-15), never another instance or dynamics (a factor, typically)
INITIAL_LOSS_RTOL = 1e-6


@dataclass
class Row:
    entry: EntryRecord
    runs: list[RunRecord]
    scores: np.ndarray  # (n_seeds, n_tasks)
    summary: dict
    rank: int = 0
    poi: list[float] | None = None  # [estimate, low, high] vs the best baseline
    algoperf: float = float("nan")
    times: np.ndarray | None = None  # per-task median steps to target

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def family_iqm(self) -> list[float]:
        """``[estimate, low, high]`` of the ranking statistic (CI on the suite's instances)."""
        return self.summary["family_iqm"]


@dataclass
class Leaderboard:
    suite: Suite
    rows: list[Row]
    failures: list[EntryRecord] = field(default_factory=list)
    best_baseline: str | None = None
    #: entries that cannot be ranked, name → why (:data:`NOT_THE_SUITES_RUNS`, :data:`OTHER_DEFINITION`,
    #: :data:`NON_FINITE_SCORE`, :data:`OTHER_DYNAMICS`, :data:`OTHER_TARGETS`)
    skipped: dict[str, str] = field(default_factory=dict)

    def row(self, name: str) -> Row:
        """The row of the entry named ``name``: the one shown under that exact name, else the
        only one whose name is the same name in another spelling (``keeper`` finds the row
        shown as ``Keeper``; :func:`~lrgym.leaderboard.text.name_key`). ``KeyError`` if none."""
        exact = [r for r in self.rows if r.name == name]
        same = exact or [r for r in self.rows if name_key(r.name) == name_key(name)]
        if len(same) == 1 or exact:
            return same[0]
        raise KeyError(name)


def _complete(summary) -> bool:
    """Whether a stored summary has every field the board shows (older entries lack the
    per-family mean and divergence rate, or the family IQM: they are recomputed from the
    stored runs)."""
    return (isinstance(summary, dict)
            and all(k in summary for k in ("family_iqm", "family_iqm_instances", "iqm"))
            and all("mean" in v and "diverged_fraction" in v for v in summary.get("families", {}).values()))


def current_summary(summary, runs: list[RunRecord], suite: Suite, reps: int = BOOTSTRAP_REPS) -> dict:
    """An entry's summary with every field the board shows: the stored one, or, for an entry
    stored by an older lrgym, recomputed from its runs (``KeyError`` if they do not match ``suite``)."""
    return summary if _complete(summary) else summarize(runs, suite, reps)


def other_dynamics(runs: list[RunRecord], references) -> bool:
    """Whether ``runs`` started from other losses than the suite's ``references`` did on the same
    instances and seeds (beyond :data:`INITIAL_LOSS_RTOL`): a run's initial loss depends on its
    instance and seed only, so a difference means other task dynamics — an entry an older lrgym
    stored under the same suite version (an upgrade's store: the same policy ranked 0.19 and 0.63
    side by side, an operator's audit). A run without a recorded initial loss (NaN) or a task the
    references lack is not judged."""
    import math

    from lrgym.leaderboard.suite import Task

    for r in runs:
        try:
            expected = references.initial_loss(Task(r.family, r.instance), r.seed)
        except (KeyError, ValueError, IndexError):
            continue
        if math.isfinite(r.initial_loss) and math.isfinite(expected) and not math.isclose(
                r.initial_loss, expected, rel_tol=INITIAL_LOSS_RTOL, abs_tol=0.0):
            return True
    return False


def other_targets(runs: list[RunRecord], references) -> bool:
    """Whether a run's stored score is not the score of its own initial and final losses against
    ``references``' target for its instance and seed (:func:`lrgym.baselines.score.score`, as the
    grader scored it), nor against any target within :data:`TARGET_RTOL` of it: the entry was
    scored against other references. The grader recomputes a suite's references when the code no longer reproduces
    them (:func:`lrgym.leaderboard.references.find_cached`), so its older entries were graded on other
    task dynamics, though their runs may start from the same losses (a red team: the toy family's
    gradient noise raised 5x without a new suite revision, its references recomputed, and ``fixed``
    of the old dynamics ranked beside ``hypergradient`` of the new). A run whose score or rescore is
    not finite, whose initial loss is no positive finite number (NaN: not recorded), or a task the
    references lack, is not judged. All of an entry's runs are rescored in one call (per run, the
    NumPy calls on scalars had been a quarter of a board's time)."""
    from lrgym.leaderboard.suite import Task

    judged, targets = [], []
    for r in runs:
        try:
            target = float(references.final_loss(Task(r.family, r.instance), r.seed))
        except (KeyError, ValueError, IndexError):
            continue
        judged.append(r)
        targets.append(target)
    initial = np.array([r.initial_loss for r in judged])
    targets, stored = np.array(targets), np.array([r.score for r in judged])
    # what scoring.score takes (positive finite L0, finite L_ref >= 0); it raises on any other, and a
    # run without a recorded initial loss (NaN, as other_dynamics) took the whole board down
    keep = np.isfinite(stored) & np.isfinite(initial) & (initial > 0) & np.isfinite(targets) & (targets >= 0)
    if not keep.any():
        return False
    final = np.array([r.final_loss for r in judged])[keep]
    diverged = np.array([r.diverged for r in judged], dtype=bool)[keep]
    # the scores of targets the grader takes for this one (the score is monotone in the target)
    ends = np.stack([np.asarray(scoring.score(initial[keep], final, targets[keep] * factor, diverged))
                     for factor in (1 - TARGET_RTOL, 1 + TARGET_RTOL)])
    low, high, score = ends.min(axis=0), ends.max(axis=0), stored[keep]
    outside = np.isfinite(ends).all(axis=0) & ~((low - SCORE_ATOL <= score) & (score <= high + SCORE_ATOL))
    return bool(outside.any())


def other_definition(entry: EntryRecord, suite: Suite) -> bool:
    """Whether ``entry`` was graded with other env keywords (horizon, inner steps, env options)
    for one of ``suite``'s families than the suite has now: what the grader stored of the suite
    (``env_spec["suite"]``, :meth:`Suite.to_dict`) differs. A suite file edited without a bump of
    its revision keeps its version, and its stored entries' runs are then of other episodes (a
    horizon of 4 ranked beside a horizon of 6; the initial losses, which :func:`other_dynamics`
    compares, are the same). An entry that recorded no env keywords for a family (a private
    suite's entries store its shape only; a synthetic entry stores none) is not judged."""
    from lrgym.leaderboard.store import stored_form

    spec = entry.env_spec if isinstance(entry.env_spec, dict) else {}
    described = spec.get("suite")
    items = described.get("families") if isinstance(described, dict) else None
    if not isinstance(items, list):
        return False
    graded = {item.get("family"): item.get("env_kwargs") for item in items if isinstance(item, dict)}
    return any(graded.get(fs.family) is not None and graded[fs.family] != stored_form(suite.env_kwargs(fs.family))
               for fs in suite.families)


def build_leaderboard(store: ResultStore, suite: Suite | str, reps: int = BOOTSTRAP_REPS,
                      references=None, curves: bool = True, poi: bool = True) -> Leaderboard:
    """Read the latest entries of ``suite`` from ``store`` and rank them; an entry that cannot be
    ranked (its runs are not the suite's, it was graded under another definition of the suite's
    version (:func:`other_definition`), a score is NaN or infinite, or, given the suite's
    ``references``, its runs started from other initial losses than theirs, :func:`other_dynamics`, or
    its scores are not its losses' against them, :func:`other_targets`)
    is listed in :attr:`Leaderboard.skipped` with why, and every other entry is ranked as without it.

    ``curves=False``: the rows' runs carry no curves (:meth:`ResultStore.runs`), the same board
    otherwise; a table needs none, the report's plots do. A board of 2,000 v2 entries read its
    2 GB of curves into 4.7 GB of memory to print a table.

    ``poi=False``: no row's PoI is computed (``None``); :func:`compare_with_best` adds those of
    the rows to show, each the same to the bit as on the whole board (a third of the board's time
    at 2,000 entries, where ``submit`` shows 22 rows). Every other field is the whole board's."""
    suite = get_suite(suite, grading=False)  # (a suite file's "tuned" file may be gone: stale_note says so)
    # every query of the board at one moment of the store (graders may commit meanwhile), and only
    # the queries: in a rollback journal the read holds up graders' commits until it ends, so
    # nothing is computed inside it (the bootstrap of every entry's summary held them for seconds)
    with store.snapshot():
        latest = [(entry, store.runs(entry.id, curves=curves)) for entry in store.latest_entries(suite.version)]
        entries_ok = store.entries(suite.version, status="ok")
        entries_failed = store.entries(suite.version, status="failed")
    rows, skipped = _ranked_rows(latest, suite, references, reps)
    rows.sort(key=lambda r: (-r.family_iqm[0], r.name))
    for i, r in enumerate(rows, 1):
        r.rank = i

    baselines = [r for r in rows if r.entry.kind == "baseline"]
    best = baselines[0] if baselines else None
    if poi:
        compare_with_best(rows, best, reps)
    if rows:
        times = np.stack([np.median(score_matrix(r.runs, suite, "steps_to_target"), axis=0) for r in rows])
        times = np.where(np.isnan(times), np.inf, times)
        for r, t, s in zip(rows, times, scoring.algoperf_score(times)):
            r.times, r.algoperf = t, float(s)

    ok_after = {}  # version key -> id of its latest success (entries come oldest first)
    for e in entries_ok:
        ok_after[version_key(e)] = e.id
    latest_failure: dict[tuple, EntryRecord] = {}
    for e in entries_failed:
        if e.id > ok_after.get(version_key(e), 0):
            latest_failure[version_key(e)] = e
    failures = sorted(latest_failure.values(), key=lambda e: -e.id)
    return Leaderboard(suite, rows, _private_failures(suite, failures), best.name if best else None, skipped)


def _ranked_rows(latest: list[tuple[EntryRecord, list[RunRecord]]], suite: Suite, references, reps: int
                 ) -> tuple[list[Row], dict]:
    """The rows of ``latest``, the latest entries of ``suite`` with their runs, that can be
    ranked, unsorted, and ``{name: why}`` of those that cannot (:func:`build_leaderboard`)."""
    rows, skipped = [], {}
    for entry, runs in latest:
        try:
            scores = score_matrix(runs, suite)
        except KeyError:
            skipped[entry.name] = NOT_THE_SUITES_RUNS
            continue
        if other_definition(entry, suite):
            skipped[entry.name] = OTHER_DEFINITION
            continue
        if not np.all(np.isfinite(scores)):
            skipped[entry.name] = NON_FINITE_SCORE
            continue
        if references is not None and other_dynamics(runs, references):
            skipped[entry.name] = OTHER_DYNAMICS
            continue
        if references is not None and other_targets(runs, references):
            skipped[entry.name] = OTHER_TARGETS
            continue
        summary = current_summary(entry.summary, runs, suite, reps)
        rows.append(Row(entry, runs, scores, summary))
    return rows, skipped


def compare_with_best(rows: list[Row], best: Row | None, reps: int = BOOTSTRAP_REPS) -> None:
    """Set the PoI of each of ``rows`` against ``best`` (the board's best baseline; None: no PoI),
    its own row left out: one set of bootstrap draws for all (seed 0), so a row's interval does not
    depend on which other rows are compared with it in the same call."""
    if best is None:
        return
    others = [r for r in rows if r is not best]
    for r, iv in zip(others, scoring.probability_of_improvement_cis([r.scores for r in others], best.scores,
                                                                    reps=reps, seed=0)):
        r.poi = [float(iv[0]), float(iv[1]), float(iv[2])]


def _private_failures(suite: Suite, failures: list[EntryRecord]) -> list[EntryRecord]:
    """``failures`` as a board shows them: on a private suite every reason is its kind only
    (:func:`lrgym.leaderboard.private.board_reason`), a submission's also when stored before the
    grader recorded only the kind, and a baseline's, whose grader-worded reason can name a hidden
    instance, seed and losses (the stored words stay in the store and its owner-only exports,
    never on a board)."""
    from dataclasses import replace

    from lrgym.leaderboard.private import board_reason, is_private

    if not is_private(suite):
        return failures
    return [replace(e, failure_reason=board_reason(e.kind, e.failure_reason or "")) for e in failures]
