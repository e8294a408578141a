"""An entry's numbers from its trajectories: each run scored against the references
(:func:`score_runs`: the one score, steps to target) and the entry's aggregates with their
bootstrap confidence intervals (:func:`summarize`), which do not depend on other entries and are
stored with it. The ranking (:mod:`lrgym.leaderboard.ranking`) reads them back.
"""

from __future__ import annotations

import math

import numpy as np

from lrgym.leaderboard import scoring
from lrgym.leaderboard.references import References, floored
from lrgym.leaderboard.store import RunRecord
from lrgym.leaderboard.suite import Suite, Task

__all__ = ["BOOTSTRAP_REPS", "score_matrix", "score_runs", "summarize"]


BOOTSTRAP_REPS = 2000


def score_runs(trajectories: list[dict], refs: References) -> list[RunRecord]:
    """Score plain-dict trajectories (``Trajectory.to_dict()``) against the references.

    S = :func:`lrgym.baselines.score.score` (the one score function: LT and L_ref raised to the
    precision floor, clipped to [−1, 2], −1 on divergence). Steps to target: first step with a
    training loss ≤ L_ref (floored likewise).
    """
    runs = []
    for tr in trajectories:
        task = Task(tr["family"], int(tr["instance"]))
        seed = int(tr["seed"])
        l0 = tr["train_losses"][0]
        l_ref = float(floored(refs.final_loss(task, seed), l0))
        diverged = bool(tr["diverged"])
        lt = math.inf if diverged else tr["train_losses"][-1]
        score = float(scoring.score(l0, lt, refs.final_loss(task, seed), diverged))
        stt = float(scoring.steps_to_target(np.asarray(tr["train_losses"][1:], dtype=float), l_ref)) \
            if len(tr["train_losses"]) > 1 else math.inf
        runs.append(RunRecord(
            family=task.family, instance=task.instance, seed=seed, score=score,
            final_loss=lt, initial_loss=l0, diverged=diverged, steps_to_target=stt,
            curves={"lr": tr["lrs"], "train_loss": tr["train_losses"], "val_loss": tr["val_losses"],
                    "metric": tr["val_metrics"]},
        ))
    return runs


def score_matrix(runs: list[RunRecord], suite: Suite, field_name: str = "score") -> np.ndarray:
    """``(n_seeds, n_tasks)`` matrix of a run field, columns in ``suite.tasks()`` order."""
    index = {(r.family, r.instance, r.seed): getattr(r, field_name) for r in runs}
    tasks = suite.tasks()
    return np.array([[index[(t.family, t.instance, s)] for t in tasks] for s in suite.seeds], dtype=float)


def _interval(iv) -> list[float]:
    return [float(iv[0]), float(iv[1]), float(iv[2])]


def _new_instances_interval(scores: np.ndarray, labels: list[str], statistic, reps: int) -> list[float]:
    """The ranking statistic's CI over new instances of the suite's families — undefined (bounds
    None) when a family has a single instance: resampling it says nothing about other instances."""
    if min(labels.count(f) for f in set(labels)) < 2:
        return [float(statistic(scores)), None, None]
    return _interval(scoring.instance_bootstrap_ci(scores, labels, statistic, reps=reps, seed=0, vectorized=True))


def summarize(runs: list[RunRecord], suite: Suite, reps: int = BOOTSTRAP_REPS) -> dict:
    """Aggregates of one entry that do not depend on other entries (stored with it)."""
    scores = score_matrix(runs, suite)
    agg = scoring.aggregate(scores, reps=reps, seed=0)
    tasks = suite.tasks()
    labels = [t.family for t in tasks]

    def ranked(s):
        return scoring.family_iqm(s, labels)

    families = {}
    diverged = score_matrix(runs, suite, "diverged")
    for f in suite.family_names:
        cols = [i for i, t in enumerate(tasks) if t.family == f]
        # the family's IQM (its share of the ranking statistic) hides up to a quarter of its
        # failed runs: the mean and the divergence rate next to it show them
        families[f] = {
            "iqm": _interval(scoring.stratified_bootstrap_ci(scores[:, cols], scoring.iqm, reps=reps, seed=0)),
            "mean": float(scoring.mean(scores[:, cols])),
            "diverged_fraction": float(np.mean(diverged[:, cols])),
        }
    steps = score_matrix(runs, suite, "steps_to_target")
    return {
        # the ranking statistic, with its CI on the suite's instances (seeds resampled) and on
        # new instances of the same families (instances, then seeds, resampled)
        "family_iqm": _interval(scoring.stratified_bootstrap_ci(scores, ranked, reps=reps, seed=0, vectorized=True)),
        "family_iqm_instances": _new_instances_interval(scores, labels, ranked, reps),
        "iqm": _interval(agg["iqm"]),
        "mean": _interval(agg["mean"]),
        "median": _interval(agg["median"]),
        "optimality_gap": _interval(agg["optimality_gap"]),
        "families": families,
        "diverged_fraction": float(np.mean([r.diverged for r in runs])),
        "reached_fraction": float(np.mean(np.isfinite(steps))),
        "n_runs": len(runs),
        "bootstrap_reps": reps,
    }
