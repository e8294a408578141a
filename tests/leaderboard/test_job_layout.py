"""How a run is cut into jobs (lrgym.leaderboard.runner.job_layout), and how their replies are
put together again (runner.finish_entry), against the suite's own list of runs."""

import copy

import pytest
from lb_helpers import tiny_suite

from lrgym.leaderboard import runner
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import FAMILY_COST, baseline_specs, job_layout, run_suite
from lrgym.leaderboard.suite import get_suite


@pytest.mark.parametrize("version", ["v1", "v2", "quick"])
@pytest.mark.parametrize("workers", [1, 2, 3, 8])
@pytest.mark.parametrize("seeds_apart", [False, True])
def test_every_run_of_the_suite_is_in_exactly_one_job(version, workers, seeds_apart):
    suite = get_suite(version)
    layout = job_layout(suite, workers, seeds_apart)
    runs = [(t.family, t.instance, s) for tasks, seeds in layout for t in tasks for s in seeds]
    assert sorted(runs) == sorted((t.family, t.instance, s) for t in suite.tasks() for s in suite.seeds)
    for tasks, seeds in layout:
        assert len({t.family for t in tasks}) == 1  # one family per job
        assert list(seeds) == sorted(seeds, key=list(suite.seeds).index)  # the suite's seed order
        if seeds_apart:
            assert len(seeds) == 1
        else:
            assert tuple(seeds) == tuple(suite.seeds)
    cap = sum(FAMILY_COST.get(t.family, 3.0) for t in suite.tasks()) / (2 * workers)
    for tasks, seeds in layout:  # no job costs more than the cap, unless it is one instance
        cost = FAMILY_COST.get(tasks[0].family, 3.0) * len(tasks) * len(seeds) / len(suite.seeds)
        assert len(tasks) == 1 or cost <= max(1.0, cap)



@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("workers", [2, 3, 8])
def test_a_sandboxed_entrys_family_keeps_every_worker_busy_on_one_seed(version, workers):
    """Jobs of one instance never run at once for a sandboxed entry (scheduling.Job.apart), so each
    family's seed is cut into at least as many jobs as there are workers (as far as it has
    instances): v2's mlp was one job per seed on 2 workers, its five seeds then one at a time."""
    suite = get_suite(version)
    layout = job_layout(suite, workers, seeds_apart=True)
    for fs in suite.families:
        for s in suite.seeds:
            jobs = [tasks for tasks, seeds in layout if tasks[0].family == fs.family and seeds == (s,)]
            assert len(jobs) >= min(workers, len(fs.instances)), (fs.family, s, [len(j) for j in jobs])

def test_a_policy_asking_for_other_env_options_in_another_job_of_a_family_fails(monkeypatch):
    """The entry records one set of env options per family: two jobs of one family that ran with
    different ones fail it (the replies of a real run, one of them altered)."""
    suite = tiny_suite("layout", families=("linreg",), n_instances=2, seeds=(0, 1), horizon=3, inner_steps=2)
    refs = load_references(suite, n_workers=1)
    seen = []
    real_finish = runner.finish_entry

    def keep(spec, result, ctx, layout):
        seen.append((spec, copy.deepcopy(result), ctx, layout))
        return real_finish(spec, result, ctx, layout)

    monkeypatch.setattr(runner, "finish_entry", keep)
    [fixed] = run_suite(baseline_specs(["fixed"]), suite, references=refs, n_workers=1, sandbox_baselines=True)
    assert fixed.ok
    spec, result, ctx, layout = seen[0]
    assert len(layout) == 2 and len(result.replies) == 2  # one job per seed
    assert real_finish(spec, result, ctx, layout).entry.status != "failed"
    result.replies[1]["policy_info"]["env_kwargs"]["optimizer"] = "adam"
    outcome = real_finish(spec, result, ctx, layout)
    assert outcome.entry.status == "failed"
    assert "different env options in two jobs of linreg" in outcome.entry.failure_reason
