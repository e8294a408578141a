"""Fair tuning of the hand-designed baselines: a small grid per family, on train instances only.

Tune (≈ minutes on 2 cores); the result goes to ``runs/tuned.json`` (a copy of the shipped
values with the re-tuned families replaced) unless ``--ship`` regenerates the shipped
``baselines/tuned.json`` or ``--out`` names a file (:mod:`lrgym.baselines.outputs`)::

    python -m lrgym.baselines.tune                      # every available family + the mixed family
    python -m lrgym.baselines.tune --families recsys    # re-tune some families, keep the others
    python -m lrgym.baselines.tune --ship               # regenerate the shipped tuned.json

Protocol (per family, and for the mixed family of ``LRControl-v1``):

* **Instances**: the first ``--instances`` (default 8) seeds of the **train** set, each run
  with env seeds ``--seeds`` (default 0), at the family's default horizon and inner steps.
  Validation and test instances are never used.
* **Score** of a configuration: the mean over those runs of the leaderboard's normalised score
  S = (log L0 − log LT) / (log L0 − log L_ref), clipped to [−1, 2], −1 on divergence
  (:func:`lrgym.leaderboard.scoring.run_score`), with L_ref the final loss of the best fixed SGD LR
  on the leaderboard's grid (1e-6 … 10, half-decades) for that train instance and seed. The
  raw return log(L0/LT) would let a few noise-free quadratics, whose loss falls to 1e-300,
  outweigh everything else; S puts every instance on the same scale and is what the
  leaderboard ranks.
* **Grid**: stage 1 runs fixed-LR SGD on the whole reference grid (which also gives "fixed"
  its tuned LR η_f) and Adam on its own LR grid. Stage 2 tries, for every other baseline, the
  LRs η_f × {10^−½, 1, 10^½, 10} (the peak / initial LR) crossed with the small grid of its
  other hyper-parameters in :data:`GRIDS`. The best mean score wins; ties go to the earlier
  (smaller-LR) configuration.

Jobs run in a process pool (``--workers``, default all cores, single-threaded BLAS each: see
:mod:`lrgym.baselines.parallel`); built tasks are cached per worker.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import time
from collections import OrderedDict

import numpy as np

from lrgym.baselines import outputs
from lrgym.baselines.families import MIXED, available_families, env_kwargs_for

COMMAND = "python -m lrgym.baselines.tune"

#: the leaderboard's fixed-LR reference grid: 1e-6, 3.16e-6, ..., 3.16, 10
LR_GRID: tuple[float, ...] = tuple(float(10.0 ** (e / 2.0)) for e in range(-12, 3))
ADAM_LRS: tuple[float, ...] = tuple(float(10.0 ** (e / 2.0)) for e in range(-8, -1))  # 1e-4 … 0.1
LR_MULTIPLIERS: tuple[float, ...] = (10.0**-0.5, 1.0, 10.0**0.5, 10.0)

#: baseline → grid of its hyper-parameters other than the LR (the LR is searched as above)
GRIDS: dict[str, dict[str, tuple]] = {
    "step": {"gamma": (0.1, 0.3, 0.5, 0.7)},
    "exponential": {"final_ratio": (0.1, 0.01, 0.001)},
    "inverse_sqrt": {},
    "linear": {"end_factor": (0.0, 0.1, 0.3)},
    "cosine": {"warmup_frac": (0.0, 0.1)},
    "sgdr": {"cycles": (2, 3)},
    "one_cycle": {"pct_start": (0.15, 0.3)},
    "bold_driver": {},
    "plateau": {"patience": (2, 5)},
    "hypergradient": {"beta": (1e-4, 1e-3, 1e-2, 1e-1)},
    "hypergradient_mult": {"beta": (0.1, 0.3, 1.0, 3.0)},
}


def product(grid: dict[str, tuple]) -> list[dict]:
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


# ---- worker side ------------------------------------------------------------------------------

_ENVS: dict = {}
_TASKS: dict = {}


def _env_for(family: str, instance_set: str, policy) -> object:
    """A cached env per (family, instance set, policy env keywords); built tasks are shared
    between a family's envs."""
    from lrgym.baselines.evaluation import make_env
    from lrgym.baselines.policy import policy_env_kwargs

    key = (family, instance_set, json.dumps(policy_env_kwargs(policy), sort_keys=True, default=str))
    env = _ENVS.get(key)
    if env is None:
        kwargs = {**env_kwargs_for(None if family == MIXED else family), "instance_set": instance_set}
        env = make_env(policy, kwargs)
        if hasattr(env, "_tasks"):  # share built instances between this family's envs
            env._tasks = _TASKS.setdefault(family, OrderedDict())
        _ENVS[key] = env
    return env


def run_config(job: tuple) -> tuple:
    """Run one job → (job, runs); runs: (instance, seed, log L0, log LT, diverged) per run.

    job = (family, name, params, instances, seeds[, instance_set]): baseline ``name`` built
    with ``params`` (``None``: :func:`lrgym.baselines.registry.make_baseline` for the family, i.e.
    tuned values or shipped weights) on the given instances of ``instance_set`` (default train).
    """
    family, name, params, instances, seeds = job[:5]
    instance_set = job[5] if len(job) > 5 else "train"
    from lrgym.baselines.evaluation import evaluate
    from lrgym.baselines.registry import BASELINES, make_baseline

    if params is None:
        policy = make_baseline(name, None if family == MIXED else family)
    else:
        policy = BASELINES[name](**params)
    env = _env_for(family, instance_set, policy)
    trajs = evaluate(policy, env=env, instances=list(instances), seeds=list(seeds))
    runs = [(t.instance, t.seed, _log(t.initial_loss), _log(t.final_loss), bool(t.diverged)) for t in trajs]
    return job, runs


def _log(loss: float) -> float:
    """log of a loss: a loss of exactly 0 counts as 1e-300, a non-finite one as +inf."""
    return math.log(max(loss, 1e-300)) if math.isfinite(loss) else math.inf


# ---- scoring ----------------------------------------------------------------------------------


def references(fixed_runs: dict[float, list]) -> dict[tuple[int, int], float]:
    """(instance, seed) → log L_ref, from the fixed-LR runs of every grid LR (leaderboard rule:
    lowest mean log final loss over seeds; an LR diverging on any seed is never chosen)."""
    by_instance: dict[int, list] = {}
    for lr in sorted(fixed_runs):
        for inst, seed, _, log_lt, div in fixed_runs[lr]:
            by_instance.setdefault(inst, []).append((lr, seed, log_lt, div))
    out = {}
    for inst, rows in by_instance.items():
        best_lr, best = None, math.inf
        for lr in sorted({r[0] for r in rows}):
            mine = [r for r in rows if r[0] == lr]
            if any(r[3] or not math.isfinite(r[2]) for r in mine):
                continue
            value = float(np.mean([r[2] for r in mine]))
            if value < best:
                best_lr, best = lr, value
        if best_lr is None:  # everything diverged somewhere: the smallest LR
            best_lr = min(r[0] for r in rows)
        for lr, seed, log_lt, _ in rows:
            if lr == best_lr:
                out[(inst, seed)] = log_lt
    return out


def run_scores(runs: list, refs: dict) -> np.ndarray:
    """Normalised score S of each run (:func:`lrgym.leaderboard.scoring.run_score`)."""
    from lrgym.leaderboard.scoring import run_score

    l0 = np.array([r[2] for r in runs])
    lt = np.array([r[3] for r in runs])
    ref = np.array([refs[(r[0], r[1])] for r in runs])
    ref = np.where(np.isfinite(ref), ref, l0)
    return run_score(l0, lt, ref, np.array([r[4] for r in runs], dtype=bool))


# ---- driver -----------------------------------------------------------------------------------


def _run_jobs(jobs: list[tuple], workers: int, desc: str) -> dict:
    from lrgym.baselines.parallel import imap

    return {_key(job): runs for job, runs in imap(run_config, jobs, workers, desc)}


def _key(job: tuple) -> tuple:
    family, name, params = job[:3]
    return family, name, json.dumps(params, sort_keys=True)


def stage2_configs(name: str, lr_fixed: float) -> list[dict]:
    lrs = sorted({min(LR_GRID[-1], lr_fixed * m) for m in LR_MULTIPLIERS})  # within the env's LR range
    return [{"lr": lr, **p} for lr in lrs for p in product(GRIDS[name])]


def tune(families: list[str], instances: int = 8, seeds: tuple[int, ...] = (0,), workers: int | None = None,
         names: list[str] | None = None) -> dict:
    """Tune every hand-designed baseline on ``families``; returns the tuned.json content for them."""
    from lrgym.tasks.base import instance_set

    workers = workers or os.cpu_count() or 1
    train = list(instance_set("train")[:instances])
    names = names or ["fixed", "adam", *GRIDS]
    start = time.time()

    def job(family, name, params):
        return (family, name, params, tuple(train), tuple(seeds))

    stage1 = [job(f, "fixed", {"lr": lr}) for f in families for lr in LR_GRID]
    if "adam" in names:
        stage1 += [job(f, "adam", {"lr": lr}) for f in families for lr in ADAM_LRS]
    res = _run_jobs(stage1, workers, "stage 1: fixed-LR references, Adam")

    def mean_score(f: str, name: str, params: dict) -> float:
        return float(np.mean(run_scores(res[(f, name, json.dumps(params, sort_keys=True))], refs[f])))

    refs, lr_fixed = {}, {}
    for f in families:
        refs[f] = references({lr: res[(f, "fixed", json.dumps({"lr": lr}))] for lr in LR_GRID})
        lr_fixed[f] = max(LR_GRID, key=lambda lr: mean_score(f, "fixed", {"lr": lr}))  # ties: the smaller LR

    stage2 = [job(f, n, p) for f in families for n in names if n in GRIDS for p in stage2_configs(n, lr_fixed[f])]
    res.update(_run_jobs(stage2, workers, "stage 2: schedules and heuristics"))

    values: dict = {}
    train_scores: dict = {}
    for name in names:
        for f in families:
            grid = _grid_of(name, lr_fixed[f])  # ascending LR; max() keeps the first of equal scores
            best = max(grid, key=lambda p: mean_score(f, name, p))
            values.setdefault(name, {})[f] = _rounded(best)
            train_scores.setdefault(name, {})[f] = round(mean_score(f, name, best), 4)
    return {
        "values": values,
        "train_scores": train_scores,
        "fixed_lr": {f: lr_fixed[f] for f in families},
        "settings": {f: {"instances": train, "seeds": list(seeds), **_episode_settings(f)} for f in families},
        "last_run": {"families": list(families), "seconds": round(time.time() - start, 1)},
    }


def _grid_of(name: str, lr_fixed: float) -> list[dict]:
    if name == "fixed":
        return [{"lr": lr} for lr in LR_GRID]
    if name == "adam":
        return [{"lr": lr} for lr in ADAM_LRS]
    return stage2_configs(name, lr_fixed)


def _rounded(params: dict) -> dict:
    return {k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in params.items()}


def _episode_settings(family: str) -> dict:
    from lrgym.env import LRControlEnv

    env = LRControlEnv(**env_kwargs_for(None if family == MIXED else family))
    return {"env_kwargs": env_kwargs_for(None if family == MIXED else family), "horizon": env.horizon,
            "inner_steps": env.inner_steps}


def merge(old: dict, new: dict) -> dict:
    """``new`` results replace ``old`` ones family by family."""
    out = json.loads(json.dumps(old)) if old else {}
    for section in ("values", "train_scores"):
        for name, per_family in new[section].items():
            out.setdefault(section, {}).setdefault(name, {}).update(per_family)
    for section in ("fixed_lr", "settings"):
        out.setdefault(section, {}).update(new[section])
    out["last_run"] = new["last_run"]
    out["command"] = COMMAND
    out["protocol"] = __doc__.split("Protocol")[1].split("Jobs run")[0].strip(" :\n")
    out["grids"] = {"fixed": list(LR_GRID), "adam": list(ADAM_LRS), "lr_multipliers": list(LR_MULTIPLIERS),
                    **{k: {p: list(v) for p, v in g.items()} for k, g in GRIDS.items()}}
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Tune the hand-designed baselines on train instances.")
    p.add_argument("--families", nargs="*", help=f"families to (re-)tune (default: every available one and {MIXED})")
    p.add_argument("--baselines", nargs="*", help="only these baselines (default: all hand-designed)")
    p.add_argument("--instances", type=int, default=8, help="train instances per family")
    p.add_argument("--seeds", type=int, nargs="*", default=[0])
    p.add_argument("--workers", type=int, default=None)
    outputs.add_output_arguments(p, "tuned values (tuned.json)")
    args = p.parse_args(argv)
    out = outputs.output_path(outputs.SHIPPED_TUNED, ship=args.ship, out=args.out)
    families = args.families or [*available_families(), MIXED]
    new = tune(families, args.instances, tuple(args.seeds), args.workers, args.baselines)
    base = out if out.exists() else outputs.SHIPPED_TUNED  # untouched families keep their shipped values
    old = json.loads(base.read_text()) if base.exists() else {}
    out.parent.mkdir(parents=True, exist_ok=True)
    merged = merge(old, new)
    out.write_text(json.dumps(merged, indent=1) + "\n")
    print(f"wrote {out}")
    for name, per_family in new["values"].items():
        print(f"  {name:20s} " + "  ".join(f"{f}: {v} (S={new['train_scores'][name][f]:.2f})"
                                            for f, v in per_family.items()))


if __name__ == "__main__":
    main()
