"""The transfer study: does lrgym's ranking of LR controllers predict their ranking on real
PyTorch training?

1. **Real side.** Every baseline (hand-designed ones with their mixed-family tuned values, the
   learned ones with their shipped weights) drives SGD (Adam for the Adam baselines) through
   :class:`lrgym.torch.PolicyScheduler` on each task of :mod:`lrgym.leaderboard.transfer.tasks`,
   for several seeds. Each run is scored with the leaderboard's normalised score
   (:func:`lrgym.baselines.score.score`) against the task's reference: the best constant SGD
   LR found by lrgym's one reference rule (:func:`lrgym.baselines.reference.search_reference`:
   half-decade grid over the env's LR range, then 1/16- and 1/64-decade refinements), each LR
   run through the same scheduler as the ``fixed`` baseline.
2. **lrgym side.** The same baselines on the default leaderboard suite, read from a result store
   (``--db``) or run into a temporary one (:func:`lrgym.leaderboard.runner.run_suite`).
3. **Agreement.** Policies are ranked on lrgym by the board's statistic (the family IQM,
   :func:`lrgym.leaderboard.scoring.family_iqm`) and on the real side by the IQM of their scores,
   on each real task and pooled over the real tasks; Kendall's τ (``scipy.stats.kendalltau``,
   τ-b) between lrgym's ranking and each real one, with a 95 % bootstrap CI (seeds resampled
   within each task on both sides, both statistics recomputed).
"""

from __future__ import annotations

import inspect
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lrgym.baselines.outputs import replace_file
from lrgym.baselines.owner_names import owned_temp_folder
from lrgym.baselines.reference import Row, search_reference
from lrgym.baselines.registry import shipped_inputs
from lrgym.baselines.score import score
from lrgym.env import LRControlEnv
from lrgym.leaderboard import scoring
from lrgym.leaderboard.suite import DEFAULT_SUITE
from lrgym.leaderboard.transfer.tasks import FULL, QUICK, TASKS, TaskSize, make_task

__all__ = ["StudyConfig", "FULL_CONFIG", "QUICK_CONFIG", "run_study", "kendall_tau_ci"]

#: the LR range of the reference search: the env's default range
LR_MIN, LR_MAX = (inspect.signature(LRControlEnv).parameters[k].default for k in ("lr_min", "lr_max"))


LOSS_REDUCTIONS = ("mean", "sum")
#: the start of the name of the temporary folder of a run's throwaway store (:func:`lrgym_scores`):
#: this prefix and its owner (:func:`lrgym.baselines.owner_names.owned_temp_folder`), so that the
#: folder of a run killed with ``kill -9`` is removed by the next run
STORE_PREFIX = "lrgym-transfer-"


@dataclass
class StudyConfig:
    tasks: tuple[str, ...] = tuple(TASKS)
    seeds: tuple[int, ...] = (0, 1, 2)
    horizon: int = 50
    inner_steps: int = 5
    size: TaskSize = field(default_factory=lambda: FULL)
    suite: str = DEFAULT_SUITE  # the leaderboard's default suite
    policies: tuple[str, ...] | None = None  # None: every baseline that can drive a non-lrgym task
    reps: int = 2000
    #: how a real task's minibatch loss is reduced for the backward pass: "mean" (what PyTorch
    #: users do) or "sum" (lrgym's convention since env v1: the MLP and recommender families
    #: descend the summed minibatch loss, so plain SGD's LR scale is 1 / batch size of "mean"'s)
    loss_reduction: str = "mean"

    def __post_init__(self):
        if self.loss_reduction not in LOSS_REDUCTIONS:
            raise ValueError(f"loss_reduction {self.loss_reduction!r} unknown; valid choices: {', '.join(LOSS_REDUCTIONS)}")


FULL_CONFIG = StudyConfig()
QUICK_CONFIG = StudyConfig(seeds=(0, 1), horizon=6, inner_steps=2, size=QUICK, suite="quick", reps=200)


def all_policies() -> tuple[str, ...]:
    """Every hand-designed and learned baseline except the family-bound ones (the real side's
    PyTorch tasks belong to no lrgym family, so a per-family controller has no weights there)."""
    from lrgym.baselines.registry import FAMILY_BOUND, HAND_DESIGNED, LEARNED

    return tuple(n for n in (*HAND_DESIGNED, *LEARNED) if n not in FAMILY_BOUND)


def make_policy(name: str, **overrides):
    """A baseline for real training: mixed-family tuning (no lrgym family applies)."""
    from lrgym.baselines.registry import make_baseline

    return make_baseline(name, family=None, **overrides)


# ---- the real side ------------------------------------------------------------------------------


def train_run(task, policy, seed: int, horizon: int, inner_steps: int, loss_reduction: str = "mean") -> dict:
    """One training run of ``task`` with ``policy`` through PolicyScheduler; its trajectory.
    ``loss_reduction``: the backward pass descends the minibatch's mean or summed loss."""
    import torch

    from lrgym import rng as lrgym_rng
    from lrgym.settings import default_lr_init
    from lrgym.optim import OptimizerConfig
    from lrgym.policy import policy_env_kwargs
    from lrgym.torch import PolicyScheduler, make_optimizer

    torch.manual_seed(seed)
    model = task.model()
    kwargs = policy_env_kwargs(policy)
    optimizer = kwargs.get("optimizer", "sgd")
    # built at the LR the policy starts from (as lrgym's episodes do): the scheduler sets it anyway
    start = kwargs.get("lr_init") or default_lr_init(OptimizerConfig.coerce(optimizer).name)
    opt = make_optimizer(model.parameters(), optimizer, lr=start)
    sched = PolicyScheduler(opt, policy, horizon=horizon, updates_per_step=inner_steps,
                            train_loss_fn=lambda: task.objective(model), val_fn=lambda: task.validation(model),
                            task_name=task.name)
    word = lrgym_rng.new_state(np.random.default_rng([seed, 2718]))
    lrs, losses = [], [sched.last_info["train_loss"]]
    for k in range(horizon * inner_steps):
        if k % inner_steps == 0:
            lrs.append(sched.lr)
        x, y = task.minibatch(word)
        opt.zero_grad()
        batch = task.losses(model, x, y)
        (batch.sum() if loss_reduction == "sum" else batch.mean()).backward()
        opt.step()
        sched.step(batch.detach())
        if (k + 1) % inner_steps == 0 or sched.diverged:
            losses.append(sched.last_info["train_loss"])
        if sched.diverged:
            break
    return {"task": task.name, "seed": seed, "lrs": lrs, "train_losses": losses, "diverged": bool(sched.diverged),
            "initial_loss": losses[0], "final_loss": math.inf if sched.diverged else losses[-1]}


def reference(task, cfg: StudyConfig, log=print) -> dict:
    """The task's best constant SGD LR by lrgym's one reference rule
    (:func:`lrgym.baselines.reference.search_reference` over the env's LR range; each LR run
    through the scheduler as the ``fixed`` baseline on every seed), and its final loss per seed."""

    def run(lr: float) -> Row:
        runs = [train_run(task, make_policy("fixed", lr=lr), s, cfg.horizon, cfg.inner_steps, cfg.loss_reduction)
                for s in cfg.seeds]
        return Row(float(lr), tuple(r["initial_loss"] for r in runs), tuple(r["final_loss"] for r in runs))

    ref = search_reference(run, LR_MIN, LR_MAX)
    log(f"  {task.name}: reference LR {ref.lr:.4g} ({len(ref.evaluated)} LRs run; "
        f"{ref.margin_decades:.2f} decades inside the range)")
    return {"lr": ref.lr, "final_loss": dict(zip(cfg.seeds, ref.best.final_loss)),
            "margin_decades": ref.margin_decades, "rule": ref.rule, "grid": [r.to_dict() for r in ref.evaluated]}


def score_run(run: dict, ref_final_loss: float) -> float:
    """The leaderboard's normalised score (:func:`lrgym.baselines.score.score`) of a real run
    against the reference's run with the same seed."""
    return float(score(run["initial_loss"], run["final_loss"], ref_final_loss, run["diverged"]))


def real_scores(cfg: StudyConfig, log=print) -> tuple[dict, dict]:
    """``scores[policy][task]`` (list over seeds) and the references, for every task."""
    import torch

    torch.set_num_threads(1)
    policies = cfg.policies or all_policies()
    scores: dict = {p: {} for p in policies}
    refs, curves = {}, {}
    for name in cfg.tasks:
        t0 = time.perf_counter()
        task = make_task(name, cfg.size)
        ref = reference(task, cfg, log)
        refs[name] = ref
        for p in policies:
            policy = make_policy(p)
            runs = [train_run(task, policy, s, cfg.horizon, cfg.inner_steps, cfg.loss_reduction) for s in cfg.seeds]
            scores[p][name] = [score_run(r, ref["final_loss"][r["seed"]]) for r in runs]
            curves.setdefault(p, {})[name] = {"lr": runs[0]["lrs"], "train_loss": runs[0]["train_losses"]}
        log(f"  {name}: {len(policies)} policies × {len(cfg.seeds)} seeds in {time.perf_counter() - t0:.0f} s")
    return scores, {"references": refs, "curves": curves}


# ---- the lrgym side -----------------------------------------------------------------------------


def lrgym_scores(cfg: StudyConfig, db: str | Path | None = None, workers: int | None = None,
                 log=print) -> dict:
    """``scores[policy]``: the (n_seeds, n_tasks) score matrix of each policy on ``cfg.suite``.

    Read from the store ``db`` when it holds every policy for that suite; otherwise the
    baselines run into a temporary store (the leaderboard's ``run-baselines``).
    """
    from lrgym.leaderboard.ranking import build_leaderboard
    from lrgym.leaderboard.runner import baseline_specs, run_suite
    from lrgym.leaderboard.store import ResultStore

    policies = list(cfg.policies or all_policies())
    if db is not None and Path(db).exists():
        with ResultStore(db) as store:
            board = build_leaderboard(store, cfg.suite, reps=10)
            rows = {r.name: r for r in board.rows if r.entry.kind == "baseline"}
        # only entries of the shipped tuned values / weights: the real side runs those
        have = {p: r.scores for p, r in rows.items() if ((r.entry.env_spec or {}).get("inputs") or {}) == shipped_inputs([p])}
        if all(p in have for p in policies):
            log(f"  lrgym: {len(policies)} baselines read from {db}")
            return {p: have[p] for p in policies}
        stale = sorted(p for p in policies if p in rows and p not in have)
        log(f"  lrgym: {db} lacks {sorted(set(policies) - set(rows))}"
            + (f" and holds {stale} of other tuned values or weights than the shipped ones" if stale else "")
            + "; running them all")
    with owned_temp_folder(STORE_PREFIX) as tmp:  # a run killed with kill -9: removed by the next run
        t0 = time.perf_counter()
        with ResultStore(Path(tmp) / "transfer.db") as store:
            run_suite(baseline_specs(policies, include_learned=True), cfg.suite, store=store, n_workers=workers)
            board = build_leaderboard(store, cfg.suite, reps=10)
            out = {r.name: r.scores for r in board.rows}
        log(f"  lrgym: {len(policies)} baselines on suite {cfg.suite} in {time.perf_counter() - t0:.0f} s")
    missing = [p for p in policies if p not in out]
    if missing:
        raise RuntimeError(f"the leaderboard run failed for {missing}")
    return out


# ---- agreement ----------------------------------------------------------------------------------


def kendall_tau_ci(x: np.ndarray, y: np.ndarray, reps: int = 2000, seed: int = 0, alpha: float = 0.05,
                   x_statistic=scoring.iqm):
    """Kendall τ-b between the policies' statistics of two score stacks, with a bootstrap CI.

    ``x`` (n_policies, n_runs_x, n_tasks_x) and ``y`` (n_policies, n_runs_y, n_tasks_y): one
    score matrix per policy, same policy order; ``x`` is summarised by ``x_statistic`` (a
    stack-aware statistic, e.g. the board's family IQM), ``y`` by the IQM. Each bootstrap
    replicate resamples the runs (seeds) of every task with replacement, on both sides, the
    same rows for every policy. Returns (τ, low, high).
    """
    from scipy.stats import kendalltau

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    tau = float(kendalltau(x_statistic(x), scoring.iqm(y)).statistic)
    rng = np.random.default_rng(seed)
    taus = np.empty(reps)
    for i in range(reps):
        ix = rng.integers(0, x.shape[1], size=x.shape[1:])
        iy = rng.integers(0, y.shape[1], size=y.shape[1:])
        xb = np.take_along_axis(x, np.broadcast_to(ix, x.shape), axis=1)
        yb = np.take_along_axis(y, np.broadcast_to(iy, y.shape), axis=1)
        taus[i] = kendalltau(x_statistic(xb), scoring.iqm(yb)).statistic
    taus = taus[np.isfinite(taus)]
    if taus.size == 0:
        return tau, math.nan, math.nan
    low, high = np.percentile(taus, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return tau, float(low), float(high)


def agreement(lrgym: dict, real: dict, cfg: StudyConfig) -> dict:
    """Each policy's statistic on every side (lrgym: the board's family IQM; a real side: the
    IQM) and τ [CI] of each real side against lrgym."""
    from lrgym.leaderboard.suite import get_suite

    policies = list(cfg.policies or all_policies())
    x = np.stack([lrgym[p] for p in policies])
    families = [t.family for t in get_suite(cfg.suite).tasks()]

    def board_statistic(s):
        return scoring.family_iqm(s, families)

    sides = {t: np.stack([np.asarray(real[p][t], dtype=float)[:, None] for p in policies]) for t in cfg.tasks}
    sides["pooled"] = np.stack([np.stack([real[p][t] for t in cfg.tasks], axis=1) for p in policies])
    out = {"policies": policies, "lrgym_statistic": "family_iqm",
           "iqm": {"lrgym": board_statistic(x).tolist()}, "tau": {}}
    for name, y in sides.items():
        out["iqm"][name] = scoring.iqm(y).tolist()
        out["tau"][name] = list(kendall_tau_ci(x, y, reps=cfg.reps, seed=0, x_statistic=board_statistic))
    return out


# ---- the whole study ----------------------------------------------------------------------------


def _config_dict(cfg: StudyConfig) -> dict:
    return {**asdict(cfg), "size": asdict(cfg.size)}


def reuse_real_side(path: str | Path, cfg: StudyConfig) -> tuple[dict, dict]:
    """The real side of an earlier ``transfer.json`` (same tasks, seeds, episode and sizes, and
    the same policy inputs, :func:`lrgym.baselines.registry.shipped_inputs`, which the earlier
    run must have recorded), so that only lrgym's side is recomputed after the board changed."""
    old = json.loads(Path(path).read_text())
    keys = ("tasks", "seeds", "horizon", "inner_steps", "size", "loss_reduction")
    now = json.loads(json.dumps(_config_dict(cfg)))
    was = {"loss_reduction": "mean", **old["config"]}  # runs before the option averaged
    differ = [k for k in keys if was[k] != now[k]]
    if differ:
        raise ValueError(f"{path} was run with other settings ({', '.join(differ)}); valid: the same as this run")
    policies = list(cfg.policies or all_policies())
    missing = [p for p in policies if p not in old["real_scores"]]
    if missing:
        raise ValueError(f"{path} has no real-task scores for {missing}")
    if "inputs" not in old:
        raise ValueError(f"{path} does not record the files its policies were made from; "
                         "valid: a run that records them (an 'inputs' entry)")
    now_inputs = shipped_inputs(policies)
    changed = sorted(k for k in now_inputs if old["inputs"].get(k) != now_inputs[k])
    if changed:
        raise ValueError(f"{path} ran its policies from other files ({', '.join(changed)} changed since); "
                         "valid: a run on the shipped tuned values and weights")
    return ({p: old["real_scores"][p] for p in policies},
            {"references": old["references"], "curves": old["curves"]})


def run_study(cfg: StudyConfig, out_dir: str | Path, db: str | Path | None = None, workers: int | None = None,
              log=print, reuse: str | Path | None = None) -> dict:
    """Run both sides, compute the agreement, write ``transfer.json``, ``transfer.md`` and
    ``transfer.png`` into ``out_dir``; returns the results. ``reuse``: take the real side from
    an earlier ``transfer.json`` (:func:`reuse_real_side`)."""
    from lrgym.leaderboard.transfer.report import markdown_table, plot

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.process_time()
    log(f"real tasks: {', '.join(cfg.tasks)}; seeds {list(cfg.seeds)}; {cfg.horizon} steps × {cfg.inner_steps} updates"
        + ("; minibatch loss summed" if cfg.loss_reduction == "sum" else ""))
    if reuse is not None:
        real, extra = reuse_real_side(reuse, cfg)
        log(f"  real side reused from {reuse}")
    else:
        real, extra = real_scores(cfg, log)
    log(f"lrgym suite {cfg.suite}")
    board = lrgym_scores(cfg, db, workers, log)
    from lrgym.leaderboard.runner import cpu_description, package_versions

    result = {
        "config": _config_dict(cfg),
        "inputs": shipped_inputs(list(cfg.policies or all_policies())),
        "machine": {"cpu": cpu_description(), **package_versions(("torch",))},
        "real_scores": real,
        "lrgym_scores": {p: np.asarray(m).tolist() for p, m in board.items()},
        "agreement": agreement(board, real, cfg),
        **extra,
        "cpu_seconds_this_process": round(time.process_time() - t0, 1),
    }
    replace_file(out_dir / "transfer.json", json.dumps(result, indent=1, default=float))
    replace_file(out_dir / "transfer.md", markdown_table(result))
    plot(result, out_dir / "transfer.png")
    log(f"wrote {out_dir / 'transfer.md'}, {out_dir / 'transfer.png'}, {out_dir / 'transfer.json'}")
    return result
