"""Run policies over a suite on all cores, score every run, record one store entry per policy.

::

    specs = baseline_specs()                     # or [submission_spec("my.py:MyPolicy", "mine")]
    outcomes = run_suite(specs, "v1", store=ResultStore("results.sqlite"))

Each policy is a *group* of jobs (one job = one task with all the suite's seeds) on a
:class:`~lrgym.leaderboard.pool.WorkerPool`; workers run :func:`lrgym.baselines.evaluation.run_episode`
and send back plain-JSON trajectories. As soon as all of a policy's jobs are in, its runs are
scored against the references (:func:`lrgym.leaderboard.scoring.run_score`,
:func:`~lrgym.leaderboard.scoring.steps_to_target`), summarised
(:func:`~lrgym.leaderboard.scoring.aggregate`) and written as one entry in one transaction. A policy
that fails (raises, hangs, invalid or NaN action, killed) is recorded as a failed entry with
its reason.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from lrgym.leaderboard import scoring
from lrgym.leaderboard.pool import GroupResult, Job, WorkerPool
from lrgym.leaderboard.references import References, floored, load_references
from lrgym.leaderboard.store import EntryRecord, ResultStore, RunRecord
from lrgym.leaderboard.suite import Suite, Task, get_suite

__all__ = [
    "DEFAULT_MEMORY_MB",
    "DEFAULT_TIME_LIMIT",
    "Outcome",
    "PolicySpec",
    "baseline_specs",
    "run_suite",
    "score_runs",
    "submission_spec",
    "summarize",
]

DEFAULT_TIME_LIMIT = 1800.0  # s of wall clock per submission
DEFAULT_MEMORY_MB = 4096.0  # address space per worker process
BOOTSTRAP_REPS = 2000

#: rough relative cost of one episode per family (orders jobs: expensive first)
FAMILY_COST = {"mlp": 20.0, "linreg": 3.0, "recsys": 3.0, "quadratic": 1.0}


@dataclass(frozen=True)
class PolicySpec:
    """What to evaluate: the entry ``name``, its ``kind`` (baseline / submission), the worker's
    policy spec (see :mod:`lrgym.leaderboard.worker`) and a human-readable ``source``."""

    name: str
    kind: str
    spec: dict
    source: str = ""


def baseline_specs(names: list[str] | None = None, include_learned: bool = False) -> list[PolicySpec]:
    """Specs of the registered baselines (:mod:`lrgym.baselines.registry`): the hand-designed ones,
    plus the learned ones whose weights are shipped if ``include_learned``; ``names`` picks a
    subset (in that order)."""
    from lrgym.baselines import registry

    known = list(registry.BASELINES)
    if names is None:
        names = [n for n in known if not _is_learned(registry, n)
                 or (include_learned and _has_weights(registry, n))]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; valid choices: {', '.join(known)}")
    return [PolicySpec(n, "baseline", {"kind": "baseline", "name": n}, f"lrgym.baselines.registry:{n}") for n in names]


def _has_weights(registry, name: str) -> bool:
    """Whether a learned baseline's weights are present (mixed-family file; see the registry)."""
    path_of = getattr(registry, "weights_path", None)
    if path_of is None:
        return True
    return any(path_of(name, None, suffix).exists() for suffix in (".npz", ".zip"))


def _is_learned(registry, name: str) -> bool:
    for attr in ("LEARNED", "LEARNED_BASELINES"):
        learned = getattr(registry, attr, None)
        if learned is not None:
            return name in learned
    if hasattr(registry, "is_learned"):
        return bool(registry.is_learned(name))
    entry = registry.BASELINES[name]
    return bool(getattr(entry, "learned", False))


def submission_spec(
    target: str,
    name: str | None = None,
    algo: str | None = None,
    optimizer: str = "sgd",
    env_options: dict | None = None,
) -> PolicySpec:
    """A submission: ``path/to/file.py:Name``, ``package.module:Name`` or an SB3 ``.zip``.

    Nothing is imported here: the policy is loaded only inside the worker processes.
    """
    if target.endswith(".zip"):
        path = str(Path(target).resolve())
        spec = {"kind": "sb3", "path": path, "algo": algo, "optimizer": optimizer,
                "env_options": env_options or {}, "name": name}
        default_name = Path(target).stem
    else:
        if ":" not in target:
            raise ValueError(f"submission {target!r}: expected path/to/policy.py:ClassName, module:ClassName or model.zip")
        where, _, attr = target.rpartition(":")
        if where.endswith(".py") or "/" in where or os.sep in where:
            path = Path(where)
            if not path.is_file():
                raise FileNotFoundError(f"policy file {where} not found")
            target = f"{path.resolve()}:{attr}"
        spec = {"kind": "object", "target": target}
        default_name = attr
    return PolicySpec(name or default_name, "submission", spec, target)


@dataclass
class Outcome:
    """What happened to one policy: its stored entry (with id if a store was given)."""

    spec: PolicySpec
    entry: EntryRecord
    runs: list[RunRecord] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.entry.status == "ok"


# ---- scoring ----------------------------------------------------------------------------------


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


def summarize(runs: list[RunRecord], suite: Suite, reps: int = BOOTSTRAP_REPS) -> dict:
    """Aggregates of one entry that do not depend on other entries (stored with it)."""
    scores = score_matrix(runs, suite)
    agg = scoring.aggregate(scores, reps=reps, seed=0)
    tasks = suite.tasks()
    families = {}
    diverged = score_matrix(runs, suite, "diverged")
    for f in suite.family_names:
        cols = [i for i, t in enumerate(tasks) if t.family == f]
        # IQM (the ranking's statistic) hides up to a quarter of failed runs: the mean and the
        # divergence rate next to it show them
        families[f] = {
            "iqm": _interval(scoring.stratified_bootstrap_ci(scores[:, cols], scoring.iqm, reps=reps, seed=0)),
            "mean": float(scoring.mean(scores[:, cols])),
            "diverged_fraction": float(np.mean(diverged[:, cols])),
        }
    steps = score_matrix(runs, suite, "steps_to_target")
    return {
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


# ---- metadata ---------------------------------------------------------------------------------


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    from importlib import metadata

    import lrgym

    out = {"python": platform.python_version(), "lrgym": lrgym.__version__}
    for pkg in ("numpy", "numba", "gymnasium", *extra):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def cpu_description() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model} ({os.cpu_count()} logical cores)"


def _validate(trajectories, task: Task, seeds, suite: Suite) -> str | None:
    """Why a reply is malformed, or None."""
    if not isinstance(trajectories, list) or len(trajectories) != len(seeds):
        return "malformed reply: wrong number of trajectories"
    for tr, seed in zip(trajectories, seeds):
        try:
            if (tr["family"], int(tr["instance"]), int(tr["seed"])) != (task.family, task.instance, seed):
                return f"malformed reply: trajectory for the wrong task/seed ({task.label}, seed {seed})"
            n = len(tr["lrs"])
            if not (1 <= n) or any(len(tr[k]) != n + 1 for k in ("train_losses", "val_losses", "val_metrics")):
                return "malformed reply: inconsistent curve lengths"
            for k in ("lrs", "train_losses", "val_losses", "val_metrics"):
                if not all(isinstance(x, (int, float)) for x in tr[k]):
                    return "malformed reply: non-numeric curve"
        except (KeyError, TypeError, ValueError):
            return "malformed reply: missing fields"
    return None


# ---- running ----------------------------------------------------------------------------------


def run_suite(
    specs: list[PolicySpec],
    suite: Suite | str = "v1",
    *,
    store: ResultStore | None = None,
    references: References | None = None,
    n_workers: int | None = None,
    time_limit: float | None = None,
    memory_mb: float | None = None,
    isolate: bool | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    log: Callable[[str], None] | None = None,
    quiet_workers: bool = True,
) -> list[Outcome]:
    """Evaluate every spec on ``suite``; record each as soon as it is done (if ``store``).

    ``time_limit`` (seconds of wall clock per policy) and ``memory_mb`` (per worker) default
    to :data:`DEFAULT_TIME_LIMIT` / :data:`DEFAULT_MEMORY_MB` for submissions and to no limit
    when every spec is a baseline; ``isolate`` (never share a worker between policies)
    defaults to true when any spec is a submission.
    """
    suite = get_suite(suite)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate entry names in {names}")
    untrusted = any(s.kind != "baseline" for s in specs)
    if time_limit is None and untrusted:
        time_limit = DEFAULT_TIME_LIMIT
    if memory_mb is None and untrusted:
        memory_mb = DEFAULT_MEMORY_MB
    if isolate is None:
        isolate = untrusted
    refs = references if references is not None else load_references(suite, n_workers=n_workers, log=log)

    tasks = sorted(suite.tasks(), key=lambda t: -FAMILY_COST.get(t.family, 3.0))
    jobs = [
        Job(spec.name, {
            "op": "episodes", "policy": spec.spec, "family": t.family, "env_kwargs": suite.env_kwargs(t.family),
            "instance": t.instance, "seeds": list(suite.seeds),
        }, FAMILY_COST.get(t.family, 3.0))
        for spec in specs
        for t in tasks
    ]
    by_name = {s.name: s for s in specs}
    left = {s.name: len(tasks) for s in specs}
    done = [0]
    outcomes: list[Outcome] = []
    meta_versions = package_versions()
    cpu = cpu_description()

    def on_reply(job: Job, reply: dict) -> None:
        done[0] += 1
        left[job.group] -= 1
        if on_progress is not None:
            on_progress(done[0], len(jobs))

    def on_group_done(result: GroupResult) -> None:
        spec = by_name[result.name]
        outcome = _finish(spec, result, suite, refs, meta_versions, cpu)
        if store is not None:
            entry_id = store.add_entry(outcome.entry, outcome.runs)
            outcome.entry = store.entry(entry_id)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
        if result.failed:  # its remaining jobs are dropped
            done[0] += left[result.name]
            left[result.name] = 0
            if on_progress is not None:
                on_progress(done[0], len(jobs))

    pool = WorkerPool(n_workers, memory_mb=memory_mb, time_limit=time_limit, isolate_groups=isolate,
                      quiet=quiet_workers)
    pool.run(jobs, on_reply=on_reply, on_group_done=on_group_done)
    order = {n: i for i, n in enumerate(names)}
    return sorted(outcomes, key=lambda o: order[o.spec.name])


def _finish(spec: PolicySpec, result: GroupResult, suite: Suite, refs: References, versions: dict,
            cpu: str) -> Outcome:
    common = dict(name=spec.name, kind=spec.kind, suite_version=suite.version, cpu=cpu,
                  seeds=tuple(suite.seeds), package_versions=versions)
    env_spec: dict = {"suite": suite.to_dict(), "policy": spec.spec, "source": spec.source}
    if result.failed:
        entry = EntryRecord(status="failed", failure_reason=result.reason, env_spec=env_spec,
                            summary={"elapsed_seconds": round(result.elapsed, 3)}, **common)
        return Outcome(spec, entry, [], result.elapsed)
    tasks = sorted(suite.tasks(), key=lambda t: -FAMILY_COST.get(t.family, 3.0))
    trajectories, policy_env, source_hash = [], {}, None
    for t, reply in zip(tasks, result.replies):
        problem = _validate(reply.get("trajectories"), t, list(suite.seeds), suite)
        if problem is not None:
            entry = EntryRecord(status="failed", failure_reason=problem, env_spec=env_spec, **common)
            return Outcome(spec, entry, [], result.elapsed)
        trajectories.extend(reply["trajectories"])
        info = reply.get("policy_info") or {}
        policy_env[t.family] = info.get("env_kwargs")
        source_hash = source_hash or info.get("source_hash")
    runs = score_runs(trajectories, refs)
    order = {(t.family, t.instance): i for i, t in enumerate(suite.tasks())}
    runs.sort(key=lambda r: (order[(r.family, r.instance)], suite.seeds.index(r.seed)))
    summary = summarize(runs, suite)
    summary["elapsed_seconds"] = round(result.elapsed, 3)
    env_spec["env_kwargs"] = policy_env
    if source_hash is None:
        source_hash = hashlib.sha256(repr(sorted(spec.spec.items())).encode()).hexdigest()
    entry = EntryRecord(status="ok", policy_source_hash=source_hash, env_spec=env_spec, summary=summary, **common)
    return Outcome(spec, entry, runs, result.elapsed)
