"""How a grading run cuts each entry into jobs for the pool: the (tasks, seeds) of each job
(:func:`job_layout`: fewer, larger jobs where a trusted baseline runs all seeds in lockstep; one
seed per job, and jobs of one instance never at once, for every sandboxed policy) and the jobs'
messages to the grader's workers (:func:`grading_jobs`).
"""

from __future__ import annotations

from lrgym.leaderboard.pool import Job
from lrgym.leaderboard.runner_specs import PolicySpec
from lrgym.leaderboard.settings import allowed_optimizers
from lrgym.leaderboard.suite import Suite, Task

__all__ = ["FAMILY_COST", "JobUnit", "entry_layouts", "grading_jobs", "job_layout"]


#: rough relative cost of one episode per family (orders jobs: expensive first)
FAMILY_COST = {"mlp": 20.0, "linreg": 3.0, "recsys": 3.0, "quadratic": 1.0}
#: one job of a run: the tasks (instances of one family) and the seeds it runs, in lockstep
JobUnit = tuple[list[Task], tuple[int, ...]]


def job_layout(suite: Suite, workers: int = 2, seeds_apart: bool = False) -> list[JobUnit]:
    """The (tasks, seeds) of each job, expensive jobs first (better packing of the pool).

    A job runs all its (instance, seed) episodes in lockstep, one message to the policy per step
    for all of them, so fewer, larger jobs mean fewer messages; but the pool needs enough jobs
    to keep ``workers`` busy. Each family's instances are cut into jobs that cost at most
    ``max(one instance, the whole suite / (2 × workers))``: on 2 workers v1 makes 7 jobs of all
    seeds (mlp in pairs, every other family whole) instead of 32.

    ``seeds_apart`` (every sandboxed policy): each job runs **one seed**, so the episodes that
    run at the same time in one sandbox are of different instances. The episodes of a job can
    reach each other while they run (they share the sandbox's uid and ``/tmp``, and each knows
    its place in the job), and the seeds of one instance were a job's neighbours: a policy could
    run them as a population, each trying another LR and all following the best, and so beat
    any honest policy on the suite's own instances. Jobs of one seed hold up to 5 × the
    instances (v2 on 2 workers: 20 jobs of 8 – 16 episodes instead of 6 of 10 – 80).

    Two jobs of such an entry on one instance (its seeds) never run at the same time (sandboxes
    running at once reach each other through the kernel: :attr:`lrgym.leaderboard.scheduling.Job.apart`),
    so with ``seeds_apart`` a family's instances are also cut into at least ``workers`` jobs per
    seed (as far as it has instances): a family of one job per seed (v2's mlp on 2 workers) ran
    its seeds one after another, v2's wall clock +28 % on 2 workers and 2.2× on 4 (a scheduling
    model of the job costs); cut so, v2 on 2 workers makes 40 jobs of 4 – 8 episodes.
    """
    import math

    seed_sets = [(s,) for s in suite.seeds] if seeds_apart else [tuple(suite.seeds)]
    cap = max(1.0, sum(FAMILY_COST.get(t.family, 3.0) for t in suite.tasks()) / (2 * max(1, workers)))
    units: list[JobUnit] = []
    for seeds in seed_sets:
        for fs in suite.families:
            cost = FAMILY_COST.get(fs.family, 3.0) * len(seeds) / len(suite.seeds)
            size = max(1, int(cap // cost))
            if seeds_apart:  # so that each worker can run a part of the family's seed beside the others
                size = max(1, min(size, math.ceil(len(fs.instances) / max(1, workers))))
            tasks = [Task(fs.family, k) for k in fs.instances]
            units += [(tasks[i:i + size], seeds) for i in range(0, len(tasks), size)]
    return sorted(units, key=lambda u: -_unit_cost(u, suite))


def _unit_cost(unit: JobUnit, suite: Suite) -> float:
    tasks, seeds = unit
    return FAMILY_COST.get(tasks[0].family, 3.0) * len(tasks) * len(seeds) / len(suite.seeds)


def entry_layouts(specs: list[PolicySpec], suite: Suite, workers: int, sandbox_baselines: bool) -> dict[str, list[JobUnit]]:
    """Each entry's job layout: seeds apart wherever the policy runs in the sandbox."""
    return {spec.name: job_layout(suite, workers, seeds_apart=spec.kind != "baseline" or sandbox_baselines)
            for spec in specs}


def grading_jobs(specs: list[PolicySpec], suite: Suite, memory_mb: float, time_limit: float | None,
          sandbox_baselines: bool, layouts: dict[str, list[JobUnit]]) -> list[Job]:
    from dataclasses import asdict

    from lrgym.leaderboard.global_streams import episode_stream_seed
    from lrgym.leaderboard.private import is_private
    from lrgym.leaderboard.sandbox import Limits

    limits = asdict(Limits(memory_mb=memory_mb, cpu_seconds=time_limit))
    optimizers = list(allowed_optimizers(suite))
    return [
        Job(spec.name, {
            "op": "episodes", "policy": spec.spec, "family": tasks[0].family,
            "env_kwargs": suite.env_kwargs(tasks[0].family), "optimizers": optimizers,
            "instances": [t.instance for t in tasks], "seeds": list(seeds),
            "sandbox": limits if (spec.kind != "baseline" or sandbox_baselines) else None,
            "hidden": is_private(suite),  # its failure reasons then name no instance and no seed
            # each episode's global streams: its run's, whatever the job (global_streams)
            "stream_seeds": [[t.instance, s, episode_stream_seed(suite, t.family, t.instance, s)]
                             for t in tasks for s in seeds],
        }, _unit_cost((tasks, seeds), suite),
            # a sandboxed entry's jobs on one instance (its seeds) never run at once (Job.apart)
            frozenset((t.family, t.instance) for t in tasks) if (spec.kind != "baseline" or sandbox_baselines)
            else frozenset())
        for spec in specs
        for tasks, seeds in layouts[spec.name]
    ]
