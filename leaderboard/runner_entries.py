"""A finished group of jobs made an entry (:func:`finish_entry`): failed with its cleaned reason,
or its trajectories checked against the suite (one per task and seed, the suite's horizon unless
diverged, the references' initial loss: :func:`_validate`), every job agreeing on what it ran
(:mod:`lrgym.leaderboard.job_agreement`), scored and summarised
(:mod:`lrgym.leaderboard.runner_scores`) and stamped with what it ran on (:func:`package_versions`,
:func:`cpu_description`, :class:`EntryContext`). :class:`Outcome` is what a run returns for it.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

from lrgym.leaderboard.job_agreement import disagreement, recorded_sandbox
from lrgym.leaderboard.pool import GroupResult
from lrgym.leaderboard.references import References
from lrgym.leaderboard.runner_jobs import JobUnit
from lrgym.leaderboard.runner_scores import score_runs, summarize
from lrgym.leaderboard.runner_specs import PolicySpec
from lrgym.leaderboard.store import EntryRecord, RunRecord
from lrgym.leaderboard.suite import Suite, Task
from lrgym.leaderboard.text import clean
from lrgym.leaderboard.trained_apart import TRAINED_APART_KEY, apart_record, settings_apart

__all__ = ["EntryContext", "Outcome", "cpu_description", "finish_entry", "package_versions", "policy_packages"]


#: relative tolerance of the initial-loss check against the references (CPU kinds round differently)
L0_RTOL = 1e-9


@dataclass
class Outcome:
    """What happened to one policy: its stored entry (with id if a store was given)."""

    spec: PolicySpec
    entry: EntryRecord
    runs: list[RunRecord] = field(default_factory=list)
    elapsed: float = 0.0
    #: the side file keeping the result when it ran but could not be stored because another
    #: owner took its name meanwhile (``ResultStore.import_kept`` stores it under another name),
    #: and what the submitter is told about it; None when stored (or no store was given)
    kept: Path | None = None
    kept_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.entry.status == "ok"


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Python's, lrgym's and its core packages' versions, plus those of the ``extra`` packages
    installed (pip names, e.g. :func:`policy_packages`)."""
    from importlib import metadata

    import lrgym

    out = {"python": platform.python_version(), "lrgym": lrgym.__version__}
    for pkg in ("numpy", "numba", "gymnasium", *extra):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def policy_packages(spec: dict) -> tuple[str, ...]:
    """The packages beyond lrgym's own a policy spec runs on, whose versions its entry records: an
    SB3 zip's and an SB3 baseline's torch and stable-baselines3
    (:func:`lrgym.baselines.registry.baseline_packages`). A policy class's imports are not known
    before it runs: none."""
    from lrgym.baselines.registry import baseline_packages
    from lrgym.baselines.sb3_agents import SB3_PACKAGES

    if spec.get("kind") == "sb3":
        return SB3_PACKAGES
    if spec.get("kind") == "baseline":
        return baseline_packages(spec["name"])
    return ()


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


def _horizon(suite: Suite, family: str) -> int:
    from lrgym.tasks import make_family

    kwargs = suite.env_kwargs(family)
    if kwargs.get("horizon") is not None:
        return int(kwargs["horizon"])
    return int(make_family(family, **dict(kwargs.get("family_options") or {})).default_horizon)


def _validate(trajectories, task: Task, seeds, suite: Suite, refs: References) -> str | None:
    """Why the trajectories of a task do not fit the suite, or None: one per seed, the task and
    seed asked for, the suite's horizon (fewer steps only after a divergence), numeric curves of
    consistent lengths, and the references' initial loss for that instance and seed."""
    horizon = _horizon(suite, task.family)
    if not isinstance(trajectories, list) or len(trajectories) != len(seeds):
        return "malformed reply: wrong number of trajectories"
    for tr, seed in zip(trajectories, seeds):
        try:
            if (tr["family"], int(tr["instance"]), int(tr["seed"])) != (task.family, task.instance, seed):
                return f"malformed reply: trajectory for the wrong task/seed ({task.label}, seed {seed})"
            n = len(tr["lrs"])
            if any(len(tr[k]) != n + 1 for k in ("train_losses", "val_losses", "val_metrics")):
                return "malformed reply: inconsistent curve lengths"
            if not (n == horizon or (1 <= n < horizon and tr["diverged"] is True)):
                return f"run length {n} on {task.label} seed {seed} does not match the suite's horizon {horizon}"
            for k in ("lrs", "train_losses", "val_losses", "val_metrics"):
                if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in tr[k]):
                    return "malformed reply: non-numeric curve"
            l0, want = float(tr["train_losses"][0]), float(refs.initial_loss(task, seed))
            if not (l0 == want or math.isclose(l0, want, rel_tol=L0_RTOL)):
                return (f"initial loss {l0!r} on {task.label} seed {seed} differs from the references' {want!r}: "
                        "the episode was not the suite's")
        except (KeyError, TypeError, ValueError, IndexError):
            return "malformed reply: missing fields"
    return None


@dataclass
class EntryContext:
    """What every entry of a run is checked against and stamped with."""

    suite: Suite
    refs: References
    versions: dict
    cpu: str
    owner: str | None


def _apart_field(trained_on: dict, suite: Suite) -> dict:
    """``{TRAINED_APART_KEY: record}`` of a policy trained at other settings than ``suite``'s
    (:func:`~lrgym.leaderboard.trained_apart.apart_record`: the numbers the env took, no text of the
    submitter's), else ``{}``. The claim is the submitter's: one the comparison cannot read is no
    record, never a reason to lose the entry."""
    try:
        apart = settings_apart(trained_on, suite)
    except Exception:  # noqa: BLE001 - a hostile record must not cost the result
        return {}
    return {TRAINED_APART_KEY: apart_record(apart)} if apart else {}


def finish_entry(spec: PolicySpec, result: GroupResult, ctx: EntryContext, layout: list[JobUnit]) -> Outcome:
    """The entry of a finished group: failed with its (cleaned) reason, or its runs checked
    against the suite (``layout``: the group's jobs, in reply order) and scored from their losses
    by the grader."""
    from lrgym.leaderboard.private import is_private, private_reason, public_description

    suite = ctx.suite
    extra = policy_packages(spec.spec)  # torch and stable-baselines3 for an SB3 policy: its actions depend on them
    common = dict(name=spec.name, kind=spec.kind, suite_version=suite.version, cpu=ctx.cpu,
                  seeds=() if is_private(suite) else tuple(suite.seeds),  # a private suite's seeds are its secret
                  package_versions=package_versions(extra) if extra else ctx.versions,
                  owner=ctx.owner if spec.kind == "submission" else None)

    described = public_description(suite) if is_private(suite) else suite.to_dict()  # hidden instances stay hidden
    env_spec: dict = {"suite": described, "policy": spec.spec, "source": spec.source}
    if spec.trained_on is not None:  # trained at other settings than graded: the board notes it
        env_spec.update(_apart_field(spec.trained_on, suite))

    def failed(reason: str) -> Outcome:
        if is_private(suite) and spec.kind == "submission":  # its words could carry the hidden instances out
            reason = private_reason(reason)
        entry = EntryRecord(status="failed", failure_reason=clean(reason), env_spec=env_spec,
                            summary={"elapsed_seconds": round(result.elapsed, 3)}, **common)
        return Outcome(spec, entry, [], result.elapsed)

    if result.failed:
        return failed(result.reason or "unknown failure")
    trajectories, policy_env, infos = [], {}, []
    timing = {"seconds": 0.0, "policy_seconds": 0.0, "steps": 0}
    for (group, seeds), reply in zip(layout, result.replies):
        n_seeds = len(seeds)
        got = reply.get("trajectories")
        if not isinstance(got, list) or len(got) != len(group) * n_seeds:
            return failed("malformed reply: wrong number of trajectories")
        for i, t in enumerate(group):  # instance by instance, the job's seeds in suite order
            problem = _validate(got[i * n_seeds:(i + 1) * n_seeds], t, list(seeds), suite, ctx.refs)
            if problem is not None:
                return failed(problem)
        trajectories.extend(got)
        info = reply.get("policy_info") or {}
        family = group[0].family
        if family in policy_env and policy_env[family] != info.get("env_kwargs"):
            return failed(f"the policy asked for different env options in two jobs of {family}")
        policy_env[family] = info.get("env_kwargs")
        infos.append(info)
        for k in timing:
            timing[k] += (info.get("timing") or {}).get(k, 0)
    changed = disagreement(infos)  # every job must have run the same files (lrgym.leaderboard.job_agreement)
    if changed is not None:
        return failed(changed)
    ran = infos[0] if infos else {}  # what every job ran
    source_hash, inputs = ran.get("source_hash"), ran.get("inputs")
    runs = score_runs(trajectories, ctx.refs)
    order = {(t.family, t.instance): i for i, t in enumerate(suite.tasks())}
    runs.sort(key=lambda r: (order[(r.family, r.instance)], suite.seeds.index(r.seed)))
    summary = summarize(runs, suite)
    summary["elapsed_seconds"] = round(result.elapsed, 3)
    # worker time in episodes, and the part of it spent waiting for the policy (its compute + messages)
    summary["episode_seconds"] = round(timing["seconds"], 3)
    summary["policy_seconds"] = round(timing["policy_seconds"], 3)
    summary["policy_steps"] = int(timing["steps"])
    env_spec["env_kwargs"] = policy_env
    env_spec["sandbox"] = recorded_sandbox([info.get("sandbox") for info in infos])  # the weakest, if they differ
    if spec.kind == "baseline" and inputs:
        env_spec["inputs"] = inputs  # the shipped tuned values / weights it ran (lrgym.baselines.registry)
    if source_hash is None:
        source_hash = hashlib.sha256(repr(sorted(spec.spec.items())).encode()).hexdigest()
    entry = EntryRecord(status="ok", policy_source_hash=source_hash, env_spec=env_spec, summary=summary, **common)
    return Outcome(spec, entry, runs, result.elapsed)
