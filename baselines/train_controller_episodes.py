"""The learned controller's episodes (part of :mod:`lrgym.baselines.train_controller`, which
re-exports them): :func:`run_batch` steps the episodes of every candidate parameter vector (or of
constant LRs) together, each on its own :class:`lrgym.env.LRControlEnv`, the envs sharing one
cache of built tasks; :func:`grid_references` finds each training instance's reference, the best
constant LR on a grid; :func:`episode_set` picks a family's instances and caches their references
(:func:`references_version`: the code they depend on); :func:`evaluate_theta` scores one
parameter vector on episode sets."""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrgym.baselines.code_version import code_version
from lrgym.baselines.controller import ControllerNet, action_from_ln_lr, controller_inputs
from lrgym.baselines.outputs import replace_file, runs_dir, status
from lrgym.baselines.score import floored, score
from lrgym.baselines.train_controller_config import TRAINER_SET, ControllerConfig


#: built tasks per (family, env options), shared by every episode of this process (bounded LRU
#: caches of :class:`lrgym.env.LRControlEnv`; a cached task behaves like a fresh one)
_TASKS: dict[str, OrderedDict] = {}


#: the most envs :func:`run_batch` steps together for constant LRs (a reference scan). Every env
#: holds its own built task (the shared cache keeps :data:`lrgym.env.TASK_CACHE_SIZE`), so memory
#: grows with the batch: the shipped recipe's first linreg scan, 128 instances × 17 grid LRs =
#: 2,176 envs in one batch, peaked at 4.2 GB; in chunks of 256 at 0.77 GB, with the same bits
#: (each run is independent of the others; tests/baselines/test_controller.py checks it)
SCAN_CHUNK = 256


def run_batch(net: ControllerNet, family: str, instances, seeds, thetas: np.ndarray | None = None,
              const_log_lr: np.ndarray | None = None, record: bool = False, env_options: dict | None = None,
              tasks: dict | None = None, chunk: int | None = None):
    """Run episodes of ``family`` on (instances[j], seeds[j]) for every parameter vector in
    ``thetas`` (P, n) — or, with ``const_log_lr`` (N,), constant LRs — stepped together, the
    controller's decisions batched over all of them (``tasks``: a shared cache of built tasks).
    Constant LRs without ``record`` run ``chunk`` envs at a time (default :data:`SCAN_CHUNK`: memory).

    Returns a dict of arrays (P, R) (or (N,)): ``initial``, ``final``, ``diverged`` (and with
    ``record`` the per-step ``lrs`` (…, T))."""
    from lrgym.env import LRControlEnv

    instances, seeds = list(map(int, instances)), list(map(int, seeds))
    chunk = SCAN_CHUNK if chunk is None else chunk
    if const_log_lr is not None and not record and len(instances) > chunk:
        const_log_lr = np.asarray(const_log_lr, dtype=np.float64)
        parts = [run_batch(net, family, instances[i:i + chunk], seeds[i:i + chunk],
                           const_log_lr=const_log_lr[i:i + chunk], env_options=env_options, tasks=tasks, chunk=chunk)
                 for i in range(0, len(instances), chunk)]
        return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
    R = len(instances)
    if const_log_lr is None:
        thetas = np.atleast_2d(net.theta if thetas is None else thetas)
        P = thetas.shape[0]
        inst, sd = instances * P, seeds * P
    else:
        P = None
        inst, sd = instances, seeds
    N = len(inst)
    kwargs = {"family": family, **TRAINER_SET, **(env_options or {})}
    if const_log_lr is None and net.rejection_threshold is not None:
        kwargs["rejection_threshold"] = float(net.rejection_threshold)
    # single envs sharing one cache of built tasks: the envs the leaderboard runs, and as fast as the
    # batched vector env for these rollouts (benchmarks/controller_rollout_envs.py: 0.94 – 0.97×)
    if tasks is None:
        key = json.dumps([family, env_options], sort_keys=True, default=str)
        tasks = _TASKS.setdefault(key, OrderedDict())
    envs = [LRControlEnv(**kwargs, task_cache=tasks) for _ in range(N)]
    obs = np.zeros((N, len(envs[0].feature_names)))
    fam = np.zeros(N, dtype=np.int64)
    initial = np.zeros(N)
    for i, env in enumerate(envs):
        o, info = env.reset(seed=sd[i], options={"instance": inst[i]})
        obs[i], fam[i], initial[i] = o, int(info["family"]), float(info["train_loss"])
    lmin, lmax = np.log(envs[0].lr_min), np.log(envs[0].lr_max)
    if const_log_lr is None:
        log_lr0 = np.concatenate([net.start_log_lr(fam[p * R:(p + 1) * R], thetas[p]) for p in range(P)])
    else:
        log_lr0 = np.asarray(const_log_lr, dtype=np.float64)
    log_lr = np.clip(log_lr0.copy(), lmin, lmax)
    final = initial.copy()
    diverged = np.zeros(N, dtype=bool)
    done = np.zeros(N, dtype=bool)
    rejected = np.zeros(N, dtype=bool)
    lrs = []
    t = 0
    while not done.all():
        if t > 0 and const_log_lr is None:
            x = controller_inputs(obs, log_lr - log_lr0, rejected)
            delta = np.concatenate([net.step_size(x[p * R:(p + 1) * R], fam[p * R:(p + 1) * R], thetas[p])
                                    for p in range(P)])
            log_lr = np.where(done, log_lr, np.clip(log_lr + delta, lmin, lmax))
        action = action_from_ln_lr(log_lr, lmin, lmax).astype(np.float32)
        if record:
            lrs.append(np.exp(log_lr))
        for i in np.flatnonzero(~done):
            o, _, term, trunc, info = envs[i].step(action[i:i + 1])
            obs[i] = o
            final[i] = float(info["train_loss"])
            rejected[i] = bool(info["rejected"])
            if term or trunc:
                done[i] = True
                diverged[i] = bool(info["diverged"])
        t += 1
    out = {"initial": initial, "final": np.where(diverged, np.inf, final), "diverged": diverged}
    if record:
        out["lrs"] = np.stack(lrs, axis=1)
    if P is not None:
        out = {k: v.reshape(P, R, *v.shape[1:]) for k, v in out.items()}
    return out


def grid_references(cfg: ControllerConfig, family: str, instances, seeds) -> dict:
    """Per (instance, seed): the final loss of the best constant SGD LR on ``cfg.ref_grid``
    (lowest mean log final loss over the instance's runs among LRs that diverged on none), and its
    stability ``margin``: decades from that LR up to the first grid LR that diverged (inf: none did)."""
    lo, hi, step = cfg.ref_grid
    grid = np.arange(lo, hi + 1e-9, step)
    R, G = len(instances), len(grid)
    log_lrs = np.repeat(grid * np.log(10.0), R)
    res = run_batch(None, family, list(instances) * G, list(seeds) * G, const_log_lr=log_lrs,
                    env_options=cfg.env_options)
    final = res["final"].reshape(G, R)
    initial = res["initial"][:R]
    ref = np.empty(R)
    ref_lr = np.empty(R)
    margin = np.full(R, np.inf)
    for inst in set(instances):
        cols = [j for j, k in enumerate(instances) if k == inst]
        logf = np.log(floored(final[:, cols], initial[cols]))  # the board's precision floor
        ok = np.isfinite(logf).all(axis=1)
        obj = np.where(ok, logf.mean(axis=1), np.inf)
        g = int(np.argmin(obj)) if ok.any() else 0
        ref[cols] = final[g, cols] if ok.any() else initial[cols]
        ref_lr[cols] = 10 ** grid[g]
        bad = np.flatnonzero(~ok & (np.arange(G) > g))
        if len(bad):
            margin[cols] = grid[bad[0]] - grid[g]
    return {"initial": initial, "reference": ref, "lr": ref_lr, "margin": margin}


def episode_scores(res: dict, ref: np.ndarray) -> np.ndarray:
    """S of every run in ``res`` against the per-run reference losses ``ref`` (R,)."""
    return score(res["initial"], res["final"], np.broadcast_to(ref, res["final"].shape), res["diverged"])


@dataclass
class EpisodeSet:
    family: str
    instances: list
    seeds: list
    reference: np.ndarray


#: the arrays of a training reference set (:func:`grid_references`), one value per scanned instance
REFERENCE_KEYS = ("initial", "reference", "lr", "margin")


#: the training command's files (its one module, train_controller.py, split by concern): what
#: :func:`references_version` hashes beside lrgym's code, which leaves out the driver-only
#: ``train_*.py`` (:data:`lrgym.baselines.node_check.DRIVER_ONLY`)
TRAINER_FILES = tuple(Path(__file__).with_name(name) for name in (
    "train_controller.py", "train_controller_config.py", "train_controller_episodes.py", "train_controller_es.py"))


def references_version() -> str:
    """What the training references' values depend on besides the arguments in their cache key:
    lrgym's code, the training command's files (:data:`TRAINER_FILES`: :func:`grid_references`,
    :func:`run_batch` and all they read) and NumPy's version
    (:func:`lrgym.baselines.code_version.code_version`). Any edit of lrgym's code thus recomputes
    the references once (≈ 1 – 4 min for the shipped recipe), where a stale cache would train
    against references the current code no longer reproduces."""
    return code_version(*TRAINER_FILES)


def _checksum(refs: dict) -> str:
    return hashlib.sha256(json.dumps(refs, sort_keys=True).encode()).hexdigest()


def _read_references(cache: Path, key: str, n: int, log) -> dict | None:
    """The references cached in ``cache`` if the file is whole: its key is ``key``, its checksum
    (``sha256`` of the values, written beside them) matches, and every array has ``n`` values;
    else None after a warning (the caller recomputes and rewrites the file)."""
    try:
        data = json.loads(cache.read_text())
        refs = data["refs"]
        if data.get("key") != key:
            problem = "its key differs from its name's"
        elif data.get("sha256") != _checksum(refs):
            problem = "its values do not match their checksum (edited or damaged)"
        elif sorted(refs) != sorted(REFERENCE_KEYS) or any(len(refs[k]) != n for k in REFERENCE_KEYS):
            problem = f"it does not hold {n} values of each of {', '.join(REFERENCE_KEYS)}"
        else:
            return {k: np.asarray(refs[k], dtype=float) for k in REFERENCE_KEYS}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = f"it cannot be read ({type(exc).__name__}: {exc})"
    log(f"  warning: the cached training references {cache} are not used: {problem}; recomputing them")
    return None


def episode_set(cfg: ControllerConfig, family: str, start: int, n: int, log=status) -> EpisodeSet:
    """``n`` train instances of ``family`` from ``start`` with their training references. With
    ``cfg.scan[family] = m`` the first m·n instances are scanned and the ``cfg.hard_fraction`` of the
    set with the smallest stability margin (the best constant LR closest to divergence) is taken
    first, the rest in order: the leaderboard's suites keep the instances that discriminate, which
    are often such instances, and a random draw has few of them.

    The references are cached under ``runs/controller_references/``, in a file named by a hash of
    everything they depend on: the family, instances, seeds, ``ref_grid``, ``env_options`` and the
    code that computes them (:func:`references_version`); the file holds a checksum of its values,
    and one that does not match (edited, truncated) is recomputed and rewritten with a warning."""
    m = max(1, int(cfg.scan.get(family, 1)))
    members = list(range(start, start + m * n))  # a single-family env: every instance seed is its family's
    seeds = [1000 + k % 1000 for k in members]  # one env seed per instance (minibatch order, init)
    t0 = time.time()
    key = json.dumps([family, members, seeds, list(cfg.ref_grid), cfg.env_options, references_version()],
                     sort_keys=True, default=str)
    cache = runs_dir() / "controller_references" / f"{family}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    refs = _read_references(cache, key, len(members), log) if cache.exists() else None
    if refs is None:
        refs = grid_references(cfg, family, members, seeds)
        values = {k: refs[k].tolist() for k in REFERENCE_KEYS}
        cache.parent.mkdir(parents=True, exist_ok=True)
        replace_file(cache, json.dumps({"key": key, "refs": values, "sha256": _checksum(values)}))
    pick = list(range(n))
    if m > 1:
        n_hard = int(round(cfg.hard_fraction * n))
        hard = [int(j) for j in np.argsort(refs["margin"], kind="stable")[:n_hard]]
        pick = sorted(hard + [j for j in range(len(members)) if j not in hard][:n - n_hard])
    log(f"  references {family} × {n} (from {start}, scanned {len(members)}): {time.time() - t0:.1f} s, "
        f"best grid LR median {np.median(refs['lr'][pick]):.3g}, "
        f"margin ≤ 0.5 decades: {int(np.sum(refs['margin'][pick] <= 0.5))}")
    return EpisodeSet(family, [members[j] for j in pick], [seeds[j] for j in pick], refs["reference"][pick])


def evaluate_theta(net: ControllerNet, sets: list[EpisodeSet], theta=None, env_options: dict | None = None) -> dict:
    """Mean S, per-family mean S and divergence rates of one parameter vector on episode sets."""
    out = {}
    all_s = []
    for es in sets:
        res = run_batch(net, es.family, es.instances, es.seeds, None if theta is None else theta[None],
                        env_options=env_options)
        s = episode_scores({k: v[0] for k, v in res.items()}, es.reference)
        out[es.family] = {"mean": float(np.mean(s)), "div": float(np.mean(res["diverged"]))}
        all_s.append(s)
    s = np.concatenate(all_s)
    out["all"] = {"mean": float(np.mean(s)), "iqm": float(_iqm(s))}
    return out


def _iqm(x: np.ndarray) -> float:
    x = np.sort(np.asarray(x, dtype=float))
    n = len(x)
    return float(np.mean(x[n // 4: n - n // 4])) if n >= 4 else float(np.mean(x))
