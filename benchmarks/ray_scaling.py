"""Ray backend vs the local pool, measured in one run on this machine (issue #15).

    python -m benchmarks.ray_scaling [--out benchmarks/ray_scaling.json] [--skip-rllib] [--skip-references]

Every Ray measurement runs on a cluster of real nodes on this machine (Ray's ``cluster_utils``, bound to its address:
one raylet and object store per node, ``num_cpus=1`` each, no dashboard), stopped at the end,
next to the same work on the local pool; ratios are within this run. Measured:

1. **per job**: 40 empty jobs (``op: sleep 0``) through the grader pools — local
   :class:`~lrgym.leaderboard.pool.WorkerPool` vs :class:`~lrgym.leaderboard.ray_pool.RayWorkerPool` —
   minus a run of one job (pool and worker start-up); and through ``Backend.imap``'s tasks (tuning);
2. **per episode and throughput**: the ``fixed`` and ``bold_driver`` baselines on suite v2
   (2 entries × its tasks × 5 seeds, 50 steps each) with the local pool (2 workers), Ray on 1 node (1 worker)
   and Ray on 2 nodes (2 workers); the driver's serial work per entry (scoring with 2,000
   bootstrap resamples, one store transaction) and the longest job;
3. **references**: one v2 task per family (the reference search, ≈ 35 LRs × 5 seeds each) on
   the local pool, seconds per task;
4. **RLlib**: PPO with one env runner × 16 sub-envs on 2 nodes: env steps/s end to end, and the
   batched vector env alone (random actions) for the sampling rate per core.

Prints a table and writes the numbers as JSON (used by the README's "Running on a cluster").
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from contextlib import contextmanager


def _load() -> float:
    return os.getloadavg()[0]


@contextmanager
def ray_cluster(n_nodes: int):
    """A Ray cluster of ``n_nodes`` one-CPU nodes on this machine; the driver connected; stopped at exit."""
    import ray
    from ray.cluster_utils import Cluster

    from lrgym.baselines.backend import connect

    small = dict(num_cpus=1, object_store_memory=80 * 1024 * 1024)
    cluster = Cluster(initialize_head=True, head_node_args={**small, "include_dashboard": False})
    try:
        for _ in range(n_nodes - 1):
            cluster.add_node(**small)
        cluster.wait_for_nodes()
        connect(cluster.address)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def pool_overhead(make_pool, n: int = 40) -> dict:
    from lrgym.leaderboard.pool import Job

    t0 = time.perf_counter()
    make_pool().run([Job("g", {"op": "sleep", "seconds": 0})])
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    make_pool().run([Job("g", {"op": "sleep", "seconds": 0}) for _ in range(n + 1)])
    many = time.perf_counter() - t0
    return {"startup_s": round(one, 3), "per_job_ms": round(1000 * (many - one) / n, 2)}


def _noop(job):
    return job


def imap_overhead(backend, n: int = 200) -> dict:
    t0 = time.perf_counter()
    list(backend.imap(_noop, range(n), 2, desc=""))
    return {"per_task_ms": round(1000 * (time.perf_counter() - t0) / n, 2)}


def suite_run(backend, workers: int, refs) -> dict:
    from lrgym.leaderboard.runner import baseline_specs, run_suite
    from lrgym.leaderboard.store import ResultStore

    durations = []

    def on_outcome(o):
        durations.append(o.elapsed)

    with tempfile.TemporaryDirectory() as tmp, ResultStore(os.path.join(tmp, "r.sqlite")) as store:
        t0 = time.perf_counter()
        outs = run_suite(baseline_specs(["fixed", "bold_driver"]), "v2", store=store, references=refs,
                         n_workers=workers, backend=backend, on_outcome=on_outcome)
        wall = time.perf_counter() - t0
    episodes = sum(len(o.runs) for o in outs)
    assert all(o.ok for o in outs), [o.entry.failure_reason for o in outs]
    return {"wall_s": round(wall, 2), "episodes": episodes, "episodes_per_s": round(episodes / wall, 2),
            "episode_cpu_s": round(sum(o.entry.summary["episode_seconds"] for o in outs) / episodes, 4),
            "iqm": [o.entry.summary["iqm"][0] for o in outs], "outcomes": outs}


def driver_serial(outcome, suite) -> dict:
    """Seconds the driver spends per entry: summarising (bootstrap) and one store transaction."""
    from lrgym.leaderboard.runner import summarize
    from lrgym.leaderboard.store import ResultStore

    t0 = time.perf_counter()
    summarize(outcome.runs, suite)
    t_sum = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp, ResultStore(os.path.join(tmp, "r.sqlite")) as store:
        t0 = time.perf_counter()
        from dataclasses import replace

        for i in range(5):
            store.add_entry(replace(outcome.entry, name=f"copy{i}", id=None), outcome.runs)
        t_store = (time.perf_counter() - t0) / 5
    return {"summarize_s": round(t_sum, 3), "store_write_s": round(t_store, 4)}


def references_run(workers: int) -> dict:
    from lrgym.leaderboard.references import compute_references
    from lrgym.leaderboard.suite import FamilySuite, Suite, get_suite

    v2 = get_suite("v2")
    sub = Suite(name="v2-one-per-family", revision=1, description="bench", instance_set=v2.instance_set,
                families=tuple(FamilySuite(f.family, f.instances[:1], f.horizon, f.inner_steps, *_rest(f))
                               for f in v2.families), seeds=v2.seeds)
    t0 = time.perf_counter()
    compute_references(sub, n_workers=workers)
    wall = time.perf_counter() - t0
    return {"tasks": len(sub.tasks()), "wall_s": round(wall, 2), "per_task_cpu_s_upper": round(wall * workers / len(sub.tasks()), 2)}


def _rest(fs) -> tuple:
    """FamilySuite fields after (family, instances, horizon, inner_steps), if any."""
    from dataclasses import fields

    names = [f.name for f in fields(fs)][4:]
    return tuple(getattr(fs, n) for n in names)


def vector_env_rate(n_envs: int = 16, steps: int = 300) -> dict:
    import numpy as np

    from lrgym.baselines.train_rllib import RLlibConfig, make_env

    cfg = RLlibConfig()
    env = make_env({**cfg.full_env_kwargs(), "reward_clip": cfg.reward_clip, "num_envs": n_envs})
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    env.step(rng.integers(0, 5, n_envs))
    t0 = time.process_time()
    for _ in range(steps):
        env.step(rng.integers(0, 5, n_envs))
    cpu = time.process_time() - t0
    return {"env_steps_per_cpu_s": round(steps * n_envs / cpu, 1)}


def rllib_run(steps: int = 6000) -> dict:
    from lrgym.baselines.train_rllib import RLlibConfig, train

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        policy = train(RLlibConfig(algo="ppo", total_timesteps=steps, env_runners=1, envs_per_runner=16,
                                   train_batch_size=1000, out=os.path.join(tmp, "ppo"), progress=False),
                       log=lambda m: None)
        wall = time.perf_counter() - t0
        meta = policy.meta
    hist = meta["history"][1:] or meta["history"]  # the first iteration includes warm-up
    steps_per_iter = (hist[-1]["env_steps"] - meta["history"][0]["env_steps"]) / max(1, len(hist)) \
        if len(meta["history"]) > 1 else meta["env_steps"]
    # RLlib's timers (moving averages over the run's iterations: train_rllib.TIMERS)
    sample_s = [h["rllib_sample_ema_s"] for h in hist if h.get("rllib_sample_ema_s")]
    learn_s = [h["rllib_learn_ema_s"] for h in hist if h.get("rllib_learn_ema_s")]
    out = {"env_steps": meta["env_steps"], "train_s": meta["train_seconds"], "wall_with_startup_s": round(wall, 1),
           "env_steps_per_s": round(meta["env_steps"] / meta["train_seconds"], 1), "steps_per_iteration": steps_per_iter}
    if sample_s and learn_s:
        out["sample_steps_per_s_per_runner"] = round(steps_per_iter / (sum(sample_s) / len(sample_s)), 1)
        out["learner_steps_per_s"] = round(steps_per_iter / (sum(learn_s) / len(learn_s)), 1)
    return out


# ---- projection ----------------------------------------------------------------------------------

def _v2_tasks() -> dict:
    """Tasks per family of the current suite v2."""
    from lrgym.leaderboard.suite import get_suite

    return {fs.family: len(fs.instances) for fs in get_suite("v2").families}


def _cost() -> dict:
    """The runner's relative cost of an episode per family (turns the mean episode into the longest job)."""
    from lrgym.leaderboard.runner import FAMILY_COST

    return FAMILY_COST
#: a learned entry (torch inference per step) costs this many hand-designed ones (README timing: 17 vs 14 entries)
LEARNED_FACTOR = 2.3


def project(res: dict, cores_per_machine: int = 16, machines=(1, 10, 100)) -> list[dict]:
    """Wall-clock projections from the measured per-job and per-episode costs (see the README).

    Assumptions: one worker per core (Ray actor, ``num_cpus=1``); a core of the cluster runs an
    episode as fast as one of this machine did (same CPU kind); the driver's serial work per
    entry (bootstrap summary + one store transaction) is not overlapped with anything; Ray's
    per-job cost is the measured dispatch + round trip; workers start in parallel.
    """
    e = res["local_suite"]["episode_cpu_s"]
    o_job = 2 * res["ray_pool"]["per_job_ms"] / 1000  # measured with 2 workers in parallel
    startup = res["ray_pool"]["startup_s"]
    serial = res["driver_serial"]["summarize_s"] + res["driver_serial"]["store_write_s"]
    tasks, cost = _v2_tasks(), _cost()
    n_tasks = sum(tasks.values())
    mean_cost = sum(tasks[f] * cost[f] for f in tasks) / n_tasks
    longest = 5 * e * cost["mlp"] / mean_cost  # one mlp instance, its 5 seeds in lockstep
    rows = []
    entries, learned = 17, 3
    episodes = entries * n_tasks * 5
    work = (entries - learned + learned * LEARNED_FACTOR) * n_tasks * 5 * e
    for m in machines:
        w = m * cores_per_machine
        jobs = entries * n_tasks  # one instance per job once workers >= 2 x cost / mlp cost
        wall = startup + max((work + jobs * o_job) / w, longest) + entries * serial
        rows.append({"what": f"full v2 leaderboard ({entries} entries, {episodes} episodes)", "machines": m,
                     "cores": w, "wall_s": round(wall, 1), "cpu_s": round(work + jobs * o_job, 1)})
    if "references" in res:
        r = res["references"]
        per_task = r["per_task_cpu_s_upper"]
        big = 10 * n_tasks
        for m in machines:
            w = m * cores_per_machine
            wall = startup + max((big * per_task + big * o_job) / w, r["wall_s"])
            rows.append({"what": f"references of a 10x suite ({big} tasks)", "machines": m, "cores": w,
                         "wall_s": round(wall, 1), "cpu_s": round(big * per_task, 1)})
    if "rllib" in res and "learner_steps_per_s" in res["rllib"]:
        s_run, learn = res["rllib"]["sample_steps_per_s_per_runner"], res["rllib"]["learner_steps_per_s"]
        for learners in (1, cores_per_machine):
            for m in machines[1:]:
                runners = m * cores_per_machine - learners
                rate = 1 / (1 / (runners * s_run) + 1 / (learners * learn))
                rows.append({"what": f"RLlib PPO, 1e8 env steps, {learners} CPU learner(s)", "machines": m,
                             "cores": m * cores_per_machine, "wall_s": round(1e8 / rate, 0),
                             "env_steps_per_s": round(rate, 0)})
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="benchmarks/ray_scaling.json")
    p.add_argument("--skip-rllib", action="store_true")
    p.add_argument("--skip-references", action="store_true")
    p.add_argument("--project", metavar="JSON", help="only print the projections from a measurement file")
    args = p.parse_args(argv)
    if args.project:
        with open(args.project) as f:
            for row in project(json.load(f)):
                print(row)
        return
    from lrgym.baselines.backend import Backend
    from lrgym.leaderboard.pool import WorkerPool
    from lrgym.leaderboard.ray_pool import RayWorkerPool
    from lrgym.leaderboard.references import load_references
    from lrgym.leaderboard.suite import get_suite

    res: dict = {"load_start": round(_load(), 2), "cpus": os.cpu_count(), "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    refs = load_references("v2")
    local = Backend("local")
    res["local_pool"] = pool_overhead(lambda: WorkerPool(2))
    res["local_imap"] = imap_overhead(local)
    res["local_suite"] = suite_run(local, 2, refs)
    res["driver_serial"] = driver_serial(res["local_suite"]["outcomes"][0], get_suite("v2"))
    with ray_cluster(1):
        res["ray1_suite"] = suite_run(Backend("ray"), 1, refs)
    with ray_cluster(2):
        res["ray_pool"] = pool_overhead(lambda: RayWorkerPool(2))
        res["ray_imap"] = imap_overhead(Backend("ray"))
        res["ray2_suite"] = suite_run(Backend("ray"), 2, refs)
        if not args.skip_rllib:
            res["rllib"] = rllib_run()
    res["vector_env"] = vector_env_rate()
    if not args.skip_references:
        res["references"] = references_run(2)
    same = all(a.runs == b.runs for a, b in zip(res["local_suite"]["outcomes"], res["ray2_suite"]["outcomes"]))
    res["ray_equals_local"] = same
    for k in ("local_suite", "ray1_suite", "ray2_suite"):
        res[k].pop("outcomes")
    loc, r2 = res["local_suite"], res["ray2_suite"]
    res["ratios"] = {
        "ray2_over_local_wall": round(r2["wall_s"] / loc["wall_s"], 3),
        "ray2_over_ray1_throughput": round(r2["episodes_per_s"] / res["ray1_suite"]["episodes_per_s"], 3),
        "ray_overhead_per_episode_s": round((r2["wall_s"] - loc["wall_s"]) / r2["episodes"] * 2, 4),
    }
    res["load_end"] = round(_load(), 2)
    res["projection"] = project(res)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
