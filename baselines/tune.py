"""Fair tuning of the hand-designed baselines: a small grid per family, on train instances only.

Tune (≈ minutes on 2 cores); the result goes to ``runs/tuned.json`` (a copy of the shipped
values with the re-tuned families replaced) unless ``--ship`` regenerates the shipped
``baselines/tuned.json`` or ``--out`` names a file (:mod:`lrgym.baselines.outputs`)::

    python -m lrgym.baselines.tune                      # every available family + the mixed family
    python -m lrgym.baselines.tune --families recsys    # re-tune some families, keep the others
    python -m lrgym.baselines.tune --ship               # regenerate the shipped tuned.json

Protocol (per family, and for the mixed family of ``LRControl-v1``):

* **Instances**: the first ``--instances`` (default 32) seeds of the **train** set, each run
  with env seeds ``--seeds`` (default 0), at the family's default horizon and inner steps.
  Validation and test instances are never used.
* **Score** of a configuration: the mean over those runs of the leaderboard's normalised score
  S = (log L0 − log LT) / (log L0 − log L_ref), with the precision floor, clipped to [−1, 2],
  −1 on divergence (:func:`lrgym.baselines.score.score`, the one score function), with L_ref
  the final loss of the reference of that train instance and seed: the best constant SGD LR
  by the leaderboard's fine search (:func:`lrgym.baselines.reference.search_reference`, the one
  reference rule) over the same seeds. The raw return log(L0/LT) would let a few noise-free
  quadratics, whose loss falls to 1e-300, outweigh everything else; S puts every instance on
  the same scale and is what the leaderboard ranks.
* **Grid**: stage 0 searches the reference of every train instance. Stage 1 runs fixed-LR SGD
  on the half-decade grid over the env's LR range (which gives "fixed" its tuned LR η_f, one per
  family) and Adam on its own LR grid. Stage 2 tries, for every other baseline, the LRs
  η_f × {10^−½, 1, 10^½, 10} (the peak / initial LR, capped at the range's top) crossed with the
  small grid of its other hyper-parameters in :data:`GRIDS`. The best mean score wins; ties go
  to the earlier (smaller-LR) configuration.

Jobs run in a process pool (``--workers``, default all cores, single-threaded BLAS each: see
:mod:`lrgym.baselines.parallel`), or on a Ray cluster with ``--backend ray [--address auto]``
(:mod:`lrgym.baselines.backend`; same values); built tasks are cached per worker.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from lrgym.baselines import outputs
from lrgym.baselines.backend import Backend, RayCannotRun, add_backend_arguments, connect, workers_type
from lrgym.baselines.families import MIXED, available_families, env_kwargs_for
from lrgym.baselines.node_check import NodeMismatch
from lrgym.baselines.reference import RULE, ConstantLRRuns, coarse_grid
from lrgym.baselines.registry import TUNABLE
from lrgym.baselines.score import score
from lrgym.settings import check_seed, positive_int, seed_argument

COMMAND = "python -m lrgym.baselines.tune"

ADAM_LRS: tuple[float, ...] = tuple(float(10.0 ** (e / 2.0)) for e in range(-8, -1))  # 1e-4 … 0.1
LR_MULTIPLIERS: tuple[float, ...] = (10.0**-0.5, 1.0, 10.0**0.5, 10.0)

#: the tuned baselines whose LR alone is searched (stage 1: the half-decade grid, Adam's own grid)
LR_ONLY: tuple[str, ...] = ("fixed", "adam")
#: baseline → grid of its hyper-parameters other than the LR (the LR is searched as above): one
#: for every baseline of :data:`lrgym.baselines.registry.TUNABLE` but :data:`LR_ONLY`
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
    # β has units of LR / gradient²: since env v1 the mlp and recsys families descend the summed
    # minibatch loss, whose consecutive-gradient products reach 1e2 – 1e5 on mlp, so β reaches
    # down to 1e-9 (a step's change β·K·ḡ stays ≲ 1e-3 there)
    "hypergradient": {"beta": tuple(10.0**e for e in range(-9, 0))},
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
        if hasattr(env, "task_cache"):  # share built instances between this family's envs
            env.task_cache = _TASKS.setdefault(family, OrderedDict())
        _ENVS[key] = env
    return env


def run_config(job: tuple) -> tuple:
    """Run one job → (job, runs); runs: (instance, seed, L0, LT, diverged) per run (LT = inf if
    the run diverged).

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
    runs = [(t.instance, t.seed, float(t.initial_loss), float(t.final_loss), bool(t.diverged)) for t in trajs]
    return job, runs


def reference_job(job: tuple) -> tuple:
    """Search the reference of one instance → (job, {(instance, seed): L_ref}).

    job = (family, instance, seeds, instance_set): :func:`lrgym.baselines.reference.search_reference`
    (the leaderboard's rule) at the family's default horizon and inner steps."""
    family, instance, seeds, instance_set = job
    kwargs = {**env_kwargs_for(None if family == MIXED else family), "instance_set": instance_set}
    runs = ConstantLRRuns(kwargs, instance, seeds, tasks=_TASKS.setdefault(family, OrderedDict()))
    best = runs.search().best
    return job, {(int(instance), int(s)): loss for s, loss in zip(seeds, best.final_loss)}


def search_references(families, instances, seeds, workers: int | None, instance_set: str = "train",
                      backend=None) -> dict:
    """family → {(instance, seed): L_ref} for every instance (on ``backend``: :mod:`lrgym.baselines.backend`)."""
    from lrgym.baselines.backend import get_backend

    jobs = [(f, int(k), tuple(seeds), instance_set) for f, inst in _per_family(families, instances).items()
            for k in inst]
    out: dict = {f: {} for f in _per_family(families, instances)}
    for job, refs in get_backend(backend).imap(reference_job, jobs, workers,
                                               "references (best constant LR per instance)"):
        out[job[0]].update(refs)
    return out


def _per_family(families, instances) -> dict:
    return instances if isinstance(instances, dict) else {f: list(instances) for f in families}


def lr_range(family: str) -> tuple[float, float]:
    """The env's LR range ``(lr_min, lr_max)`` for ``family``."""
    from lrgym.env import LRControlEnv

    env = LRControlEnv(**env_kwargs_for(None if family == MIXED else family))
    return env.lr_min, env.lr_max


def fixed_grid(family: str) -> list[float]:
    """The fixed-LR grid of stage 1: half-decades over the env's LR range (the reference
    search's stage-1 grid, :func:`lrgym.baselines.reference.coarse_grid`)."""
    return coarse_grid(*lr_range(family))


# ---- scoring ----------------------------------------------------------------------------------


def run_scores(runs: list, refs: dict) -> np.ndarray:
    """Normalised score S of each run (:func:`lrgym.baselines.score.score`); ``refs`` maps
    (instance, seed) to L_ref."""
    l0 = np.array([r[2] for r in runs], dtype=float)
    lt = np.array([r[3] for r in runs], dtype=float)
    ref = np.array([refs[(r[0], r[1])] for r in runs], dtype=float)
    ref = np.where(np.isfinite(ref), ref, l0)  # a reference that diverged everywhere: no progress
    return score(l0, lt, ref, np.array([r[4] for r in runs], dtype=bool))


# ---- driver -----------------------------------------------------------------------------------


def _run_jobs(jobs: list[tuple], workers: int | None, desc: str, backend=None) -> dict:
    from lrgym.baselines.backend import get_backend

    return {_key(job): runs for job, runs in get_backend(backend).imap(run_config, jobs, workers, desc)}


def _key(job: tuple) -> tuple:
    family, name, params = job[:3]
    return family, name, json.dumps(params, sort_keys=True)


def stage2_configs(name: str, lr_fixed: float, lr_max: float = 10.0) -> list[dict]:
    lrs = sorted({min(lr_max, lr_fixed * m) for m in LR_MULTIPLIERS})  # within the env's LR range
    return [{"lr": lr, **p} for lr in lrs for p in product(GRIDS[name])]


def tunable() -> list[str]:
    """The baselines the tuner tunes, in the order it tunes them: :data:`LR_ONLY` (stage 1), then
    the rest of :data:`lrgym.baselines.registry.TUNABLE` (the one list of tuned baselines), each
    with its grid in :data:`GRIDS` (stage 2)."""
    return [*LR_ONLY, *(n for n in TUNABLE if n not in LR_ONLY)]


def check_arguments(families, instances, seeds, names) -> list[str]:
    """The baselines to tune (``names``, default (None) :func:`tunable`) once ``families``,
    ``instances`` (at most the train set's 10,000) and ``seeds`` are valid, each list non-empty and
    without repeats; ``ValueError`` naming the bad value and the valid ones, before any of
    the minutes of reference searches that precede the first use of a baseline's name."""
    from lrgym.tasks import family_class
    from lrgym.tasks.base import instance_set

    valid_families = [*available_families(), MIXED]
    if not families:  # an empty --families tuned every family, silently
        raise ValueError(f"families {list(families)!r} is empty; valid: at least one of {', '.join(valid_families)}")
    bad = [f for f in families if f not in valid_families]
    if bad:
        raise ValueError(f"families {bad!r} invalid; valid choices: {', '.join(valid_families)}")
    _distinct("families", families, f"distinct names from {', '.join(valid_families)}")
    for family in families:  # importable here (lrgym.tasks.FamilyImportError, a ValueError), not in the pool's traceback
        family_class(family)
    bad = [n for n in names or () if n not in tunable()]
    if bad:
        raise ValueError(f"baseline(s) {bad!r} not tuned here; valid choices: {', '.join(tunable())}")
    if names is not None and not names:  # an empty --baselines tuned every one, silently
        raise ValueError(f"baselines {list(names)!r} is empty; valid: at least one of {', '.join(tunable())}, "
                         "or leave it out for all")
    if names is not None:
        _distinct("baselines", names, f"distinct names from {', '.join(tunable())}")
    # train instances per family, a Python or NumPy integer: at most the train set (more were cut to it silently)
    positive_int("instances", instances, len(instance_set("train")))
    if not seeds:
        raise ValueError(f"seeds={seeds!r} invalid; valid: at least one env seed, e.g. (0,)")
    for i, seed in enumerate(seeds):
        check_seed(f"seeds[{i}]", seed)  # a negative one was gymnasium's error minutes into the references
    _distinct("seeds", seeds, "distinct env seeds (a repeat runs the same episodes twice)")
    return list(names or tunable())


def _distinct(what: str, values, valid: str) -> None:
    """A ``ValueError`` naming the first repeated value of ``values``: a repeat was tuned twice
    (a family), or counted twice in every mean score (a seed), silently."""
    seen = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{what} {list(values)!r} repeats {v!r}; valid: {valid}")
        seen.add(v)


def tune(families: list[str], instances: int = 32, seeds: tuple[int, ...] = (0,), workers: int | None = None,
         names: list[str] | None = None, backend=None) -> dict:
    """Tune every hand-designed baseline on ``families``; returns the tuned.json content for them.

    ``backend`` (:mod:`lrgym.baselines.backend`: ``"local"`` by default, or ``"ray"``) runs the
    jobs; ``workers`` defaults to its CPUs. Both give the same values."""
    from lrgym.baselines.backend import get_backend
    from lrgym.tasks.base import instance_set

    names = check_arguments(families, instances, seeds, names)
    backend = get_backend(backend)
    train = list(instance_set("train")[:instances])
    start = time.time()

    def job(family, name, params):
        return (family, name, params, tuple(train), tuple(seeds))

    refs = search_references(families, train, seeds, workers, backend=backend)  # stage 0
    grids = {f: fixed_grid(f) for f in families}
    lr_max = {f: lr_range(f)[1] for f in families}
    stage1 = [job(f, "fixed", {"lr": lr}) for f in families for lr in grids[f]]
    if "adam" in names:
        stage1 += [job(f, "adam", {"lr": lr}) for f in families for lr in ADAM_LRS]
    res = _run_jobs(stage1, workers, "stage 1: fixed LR, Adam", backend)

    def mean_score(f: str, name: str, params: dict) -> float:
        return float(np.mean(run_scores(res[(f, name, json.dumps(params, sort_keys=True))], refs[f])))

    lr_fixed = {}
    for f in families:
        lr_fixed[f] = max(grids[f], key=lambda lr: mean_score(f, "fixed", {"lr": lr}))  # ties: the smaller LR

    stage2 = [job(f, n, p) for f in families for n in names if n in GRIDS
              for p in stage2_configs(n, lr_fixed[f], lr_max[f])]
    res.update(_run_jobs(stage2, workers, "stage 2: schedules and heuristics", backend))

    values: dict = {}
    train_scores: dict = {}
    for name in names:
        for f in families:
            grid = _grid_of(name, f, lr_fixed[f], lr_max[f])  # ascending LR; max() keeps the first of equal scores
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


def _grid_of(name: str, family: str, lr_fixed: float, lr_max: float) -> list[dict]:
    if name == "fixed":
        return [{"lr": lr} for lr in fixed_grid(family)]
    if name == "adam":
        return [{"lr": lr} for lr in ADAM_LRS]
    return stage2_configs(name, lr_fixed, lr_max)


def _rounded(params: dict) -> dict:
    return {k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in params.items()}


def _episode_settings(family: str) -> dict:
    from lrgym.env import LRControlEnv

    env = LRControlEnv(**env_kwargs_for(None if family == MIXED else family))
    return {"env_kwargs": env_kwargs_for(None if family == MIXED else family), "horizon": env.horizon,
            "inner_steps": env.inner_steps}


#: the protocol's budget (the shipped values'): train instances per family and env seeds;
#: ``--ship`` refuses another (a shortened tuning shipped as the baselines' values)
INSTANCES = 32
SEEDS = (0,)

#: the sections of a tuned.json that :func:`merge` updates (each a JSON object)
SECTIONS = ("values", "train_scores", "fixed_lr", "settings")


def read_tuned(path: Path) -> dict:
    """The tuned values of ``path`` for :func:`merge` (``{}`` if there is no such file), or a
    ``ValueError`` naming it when it is no tuned.json: ``--out notes.txt`` of an existing file
    (or a ``runs/tuned.json`` edited into junk) ended a finished tuning in a JSONDecodeError or
    AttributeError traceback, its result lost; a JSON object of the user's without tune's
    :data:`SECTIONS` (``--out settings.json``) was merged into, rewritten with them added."""
    from lrgym.files import read_regular_file

    if not path.exists():  # (a dangling link at the output is replaced, as any output path is)
        return {}
    valid = "a tuned.json to merge into (a JSON object), or a new file"
    text = read_regular_file(path, "", valid)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{path} is no tuned.json (not JSON: {exc}); valid: {valid}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is no tuned.json (a JSON {type(data).__name__}); valid: {valid}")
    # every tuned.json tune has written holds all of SECTIONS: a JSON object without them is a file
    # of the user's (--out settings.json), which the merge would have rewritten with them added
    missing = [k for k in SECTIONS if k not in data]
    if missing:
        raise ValueError(f"{path} is no tuned.json (no {', '.join(missing)}: the sections tune writes); valid: {valid}")
    bad = [k for k in SECTIONS if not (isinstance(data[k], dict) and (k not in ("values", "train_scores")
           or all(isinstance(v, dict) for v in data[k].values())))]
    if bad:
        raise ValueError(f"{path} is no tuned.json (its {', '.join(bad)} not as tune writes it); valid: {valid}")
    return data


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
    out["grids"] = {"fixed": "half-decades over the env's LR range", "reference": RULE, "adam": list(ADAM_LRS),
                    "lr_multipliers": list(LR_MULTIPLIERS),
                    **{k: {p: list(v) for p, v in g.items()} for k, g in GRIDS.items()}}
    return out


def merge_into(out: Path, new: dict, old: dict | None = None) -> dict:
    """Merge ``new`` results into ``out`` as it is now (:func:`merge`), the shipped values if it
    does not exist yet, and write it; returns what was written. ``old``: what was read before the
    tuning, kept if ``out`` has become unreadable since. Under a lock on ``out``'s folder
    (:func:`lrgym.baselines.outputs.folder_locked`): another run may merge its families meanwhile,
    or make ``out`` (both merges kept: the run replacing last dropped the other's)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with outputs.folder_locked(out.parent):
        base = out if out.exists() else outputs.SHIPPED_TUNED
        try:
            old = read_tuned(base)
        except ValueError:
            pass
        merged = merge(old or {}, new)
        outputs.replace_file(out, json.dumps(merged, indent=1) + "\n")
    return merged


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m lrgym.baselines.tune", description="Tune the hand-designed baselines on train instances.")
    p.add_argument("--families", nargs="*", help=f"families to (re-)tune (default: every available one and {MIXED})")
    p.add_argument("--baselines", nargs="*", help="only these baselines (default: all hand-designed)")
    p.add_argument("--instances", type=int, default=INSTANCES, help=f"train instances per family (at most 10,000; "
                   f"default {INSTANCES})")
    p.add_argument("--seeds", type=seed_argument, nargs="*", default=list(SEEDS),
                   help=f"env seeds (integers >= 0; default {' '.join(map(str, SEEDS))})")
    p.add_argument("--workers", type=workers_type, default=None, help="parallel jobs (default: the backend's CPUs)")
    add_backend_arguments(p)
    outputs.add_output_arguments(p, "tuned values (tuned.json)")
    args = p.parse_args(argv)
    try:
        backend = Backend(args.backend, args.address)
        if backend.is_ray:  # joined now, as the lrgym CLI does: Ray missing or no head there is the parser's error
            connect(backend.address)
    except (ValueError, ImportError, ConnectionError) as exc:
        p.error(str(exc))
    if args.ship:  # the shipped values are of the protocol's budget (a --families subset is merged into them)
        problem = (outputs.part_run_problem("--ship", "--instances", args.instances, INSTANCES,
                                            f"the shipped values are tuned on {INSTANCES} train instances per family")
                   or outputs.part_run_problem("--ship", "--seeds", [str(s) for s in args.seeds], [str(s) for s in SEEDS],
                                               f"the shipped values are tuned with env seeds {' '.join(map(str, SEEDS))}"))
        if problem:
            p.error(problem)
    try:
        out = outputs.output_path(outputs.SHIPPED_TUNED, ship=args.ship, out=args.out)
    except ValueError as exc:
        p.error(str(exc))
    # None: every family; an empty --families is refused (it tuned every family, silently)
    families = [*available_families(), MIXED] if args.families is None else args.families
    try:
        check_arguments(families, args.instances, tuple(args.seeds), args.baselines)
    except ValueError as exc:
        p.error(str(exc))
    if out.is_dir():  # before the tuning (minutes), not when writing its result
        p.error(f"--out {out} is a folder; valid: a file path, e.g. {out / 'tuned.json'}")
    base = out if out.exists() else outputs.SHIPPED_TUNED  # untouched families keep their values
    try:  # the file the result merges into, checked before the tuning: it was read only after it
        old = read_tuned(base)
    except ValueError as exc:
        p.error(str(exc))
    try:
        new = tune(families, args.instances, tuple(args.seeds), args.workers, args.baselines, backend)
    except (NodeMismatch, RayCannotRun) as exc:  # a Ray node with other code, Ray cannot run a job: one line
        p.exit(1, f"{p.prog}: error: {exc}\n")
    merge_into(out, new, old)
    print(f"wrote {out}", flush=True)  # stdout: the file written (the result); the values tuned: stderr
    for name, per_family in new["values"].items():
        outputs.status(f"  {name:20s} " + "  ".join(f"{f}: {v} (S={new['train_scores'][name][f]:.2f})"
                                                    for f, v in per_family.items()))


if __name__ == "__main__":  # SIGTERM / SIGHUP stop it as Ctrl-C does (its pool cleaned up), exit 128 + signal
    from lrgym.baselines.interrupts import run_command

    raise SystemExit(run_command(main, "python -m lrgym.baselines.tune", exiting=True))
