"""Train the learned LR controller (:mod:`lrgym.baselines.controller`) by evolution strategies.

::

    python -m lrgym.baselines.train_controller                          # → runs/controller_mixed.{npz,py,json}
    python -m lrgym.baselines.train_controller --config my.json --seed 1
    python -m lrgym.baselines.train_controller --ship                   # → baselines/weights/controller_mixed.{npz,json}
    python -m lrgym.baselines.train_controller --resume                 # go on after Ctrl-C / a kill / --stop-after G
    python -m lrgym.baselines.train_controller --generations 60 --resume runs/c40.checkpoint.npz --out runs/c60
    lrgym leaderboard submit runs/controller_mixed.py:TrainedController --suite quick   # grade a run

Besides the weights and their record (``.json``) a run writes a self-contained submission file
(``.py``, the weights inline: :func:`lrgym.baselines.controller.submission_source`), since the
grader's sandbox holds only the submitted ``.py`` files; ``--ship`` writes none (the shipped
weights are the ``controller`` baseline: ``lrgym leaderboard run-baselines --only controller``).

**Checkpoints**: after every generation the run replaces ``<weights>.checkpoint.npz`` beside its
weights (a ``--ship`` run's under ``runs/``) with its whole ES state
(:mod:`lrgym.baselines.controller_checkpoint`); ``--resume`` goes on from it to the weights the
uninterrupted run trains, to the bit, and is refused if the config (but ``generations``), seed or
code differ. A run that completes keeps it, so that ``--generations M --resume`` extends it to M
generations: the weights a run of M generations from the start trains, to the bit (:func:`train`);
``--resume CHECKPOINT --out OTHER`` does so from a checkpoint file into other files, the
checkpoint's run left as it is (:func:`resume_source`).

**Objective** = what the leaderboard ranks by: the normalised score S (:func:`lrgym.baselines.score.score`)
of each episode against a per-run reference, averaged over a batch of **train** instances of
every family (plus ``div_penalty`` per diverged run, so that divergence costs more than S's floor).
The training reference of an (instance, seed) is the best constant SGD LR on a quarter-decade
grid (:func:`grid_references`): cheaper than the leaderboard's fine search, and computed on train
instances only. Validation and test instances are never touched: model selection uses a held-out
block of *train* instances (``holdout_start``).

**Optimiser**: antithetic OpenAI-ES (Salimans et al. 2017) with centred-rank fitness shaping and
Adam on the parameter vector; every candidate of a generation runs on the same episodes (common
random numbers), each on its own :class:`lrgym.env.LRControlEnv` (the env the leaderboard runs),
stepped together in one process, the envs sharing one cache of built instances and the
controller's decisions batched over all of them (:func:`run_batch`).
"""

from __future__ import annotations

import argparse
import hashlib
import dataclasses
import json
import math
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lrgym.baselines.code_version import code_version, git_commit
from lrgym.baselines.config_checks import (MAX_HIDDEN, ConfigError, check_env_keywords, flag, read_config, widths,  # noqa: F401 (re-exported)
                                           count as _count, names as _names,
                                           positive_real as _positive_real)
from lrgym.baselines.controller import (INPUT_GROUPS, SUBMISSION_CLASS, ControllerNet, action_from_ln_lr, controller_inputs,
                                        submission_source)
from lrgym.baselines.controller_ablation import ABLATIONS, ablation_source
from lrgym.baselines.controller_checkpoint import MARK, ESState, read_checkpoint, resume_problem, write_checkpoint
from lrgym.baselines.interrupts import STOP_EXCEPTIONS
from lrgym.baselines.outputs import (SHIPPED_WEIGHTS, add_output_arguments, companion_problem, output_path,
                                     replace_file, replace_files, runs_dir, status, with_suffix_added)
from lrgym.baselines.score import floored, score
from lrgym.baselines.shell_words import shell_option, shell_path
from lrgym.brief import brief
from lrgym.info import FAMILY_NAMES
from lrgym.optim import check_choice
from lrgym.settings import positive_int, seed_argument
from lrgym.tasks.base import INSTANCE_SETS, is_integer, is_real, real_float

TRAIN_INSTANCES = INSTANCE_SETS["train"]


def _seeds(start: int, stop: int) -> str:
    """Instance seeds ``start`` to ``stop - 1`` as the errors write them: ``0 ... 127``."""
    return f"{start} ... {stop - 1}"


#: the train instance seeds, as the errors write them
TRAIN_SEEDS = _seeds(TRAIN_INSTANCES.start, TRAIN_INSTANCES.stop)

HERE = Path(__file__).parent
#: the shipped recipe
DEFAULT_CONFIG = HERE / "controller.json"
WEIGHTS_NAME = "controller_mixed.npz"


#: per-family settings a config may give for some families only (the rest keep the shipped value)
PER_FAMILY = ("pool", "batch", "scan", "base_lr")
#: the env keywords of every training episode besides ``family`` and ``rejection_threshold`` (the
#: config's own fields); ``env_options`` may not set any of them
TRAINER_SET = {"instance_set": "train", "optimizer": "sgd", "action_mode": "log_lr"}


#: LRControlEnv keywords the env takes but training cannot feel, which ``env_options`` may not set
#: (each ran to the same bits as without it, while the references were recomputed for its new
#: cache key): what to change instead
NO_EFFECT = {
    "reward": "the fitness is the board's score S of each episode's final loss against its training "
              "reference, not the env's reward (to weigh divergence: div_penalty)",
    "reward_alphas": "the fitness is the board's score S, not the env's reward",
    "lr_init": "the controller sets the LR from the first step (its start: base_lr times a learned factor)",
    "factors": "the controller moves the LR itself (action_mode 'log_lr'), not by the discrete factors",
    "instances": "the trainer picks its instances (train_start, pool, scan; holdout_start, holdout)",
    "instance_order": "the trainer resets every episode to the instance it picked (train_start, pool, scan; "
                      "holdout_start, holdout)",
}


#: the most LRs a reference grid may hold: a bound that stops a config from asking for 10^12
#: reference episodes minutes into a run
MAX_REF_GRID = 200


def _per_family(field_name: str, value, check) -> None:
    """Check a per-family dict: family names as keys, ``check(f"{field_name}[{family!r}]", v)`` on each value."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{field_name}={value!r} invalid; valid: an object of family: value, "
                          f"families {', '.join(FAMILY_NAMES)}")
    for family, v in value.items():
        try:
            check_choice("family", family, FAMILY_NAMES)  # the env's wording of an unknown family
        except ValueError as exc:
            raise ConfigError(f"{field_name}: {exc}") from None
        check(f"{field_name}[{family!r}]", v)


@dataclass
class ControllerConfig:
    """Everything the training run depends on (with the seed).

    **The defaults are the shipped recipe**, the one that trained ``weights/controller_mixed.npz``
    (its sidecar's ``config``); ``baselines/controller.json`` writes the same values out for the
    README's command, and a test keeps the three equal. So ``ControllerConfig()``, a run without
    ``--config``, ``--config baselines/controller.json`` and an empty ``{}`` config all train the
    same way, and a partial config changes only what it names: ``{"generations": 5}`` is the
    shipped recipe, shorter (it used to be an older recipe's defaults).

    The per-family dicts (:data:`PER_FAMILY`: ``pool``, ``batch``, ``scan``, ``base_lr``) are
    merged family by family over the shipped ones: ``{"pool": {"linreg": 4}}`` changes linreg's
    pool and keeps the others' (it replaced the whole dict, and training then failed on the
    families it left out). To stop scanning a family, give it 1 (``"scan": {"quadratic": 1}``).

    JSON file (:meth:`from_json`): an object with any subset of the fields (and an optional
    ``_comment``)."""

    families: tuple[str, ...] = FAMILY_NAMES
    #: train instances (instance seeds) per family in the training pool, from ``train_start``
    pool: dict = field(default_factory=lambda: {"linreg": 32, "quadratic": 48, "mlp": 8, "recsys": 16})
    #: episodes per family per generation (drawn from the pool)
    batch: dict = field(default_factory=lambda: {"linreg": 8, "quadratic": 12, "mlp": 2, "recsys": 4})
    train_start: int = 0
    #: held-out train instances per family (for model selection), from ``holdout_start``
    holdout: int = 8
    #: scan this many times the pool (and holdout) size per family and take ``hard_fraction`` of the
    #: instances with the smallest stability margin (see :func:`episode_set`; 1: no scan)
    scan: dict = field(default_factory=lambda: {"linreg": 4, "quadratic": 2})
    hard_fraction: float = 0.5
    holdout_start: int = 9000
    holdout_every: int = 10
    generations: int = 150
    #: antithetic pairs of candidates per generation
    pairs: int = 6
    #: ES noise scale on the parameters
    sigma: float = 0.04
    #: Adam's step size on the parameters
    step_size: float = 0.02
    #: penalty per diverged run, on top of its score's floor
    div_penalty: float = 2.0
    hidden: tuple[int, ...] = ()
    family_progress: bool = True
    #: Δ_max: the largest change of ln LR per env step
    max_step: float = 0.3
    rejection_threshold: float | None = 0.1
    #: quarter-decade grid of the training references, log10 LR
    ref_grid: tuple[float, float, float] = (-3.5, 0.5, 0.25)
    #: base LR per family: the tuned ``fixed`` LR of baselines/tuned.json (None, or a family missing
    #: from the dict)
    base_lr: dict | None = None
    mask: tuple[str, ...] = ()
    #: further LRControlEnv keywords of the training episodes (``family_options``, ``horizon``, ...;
    #: default: each family's own defaults, as the leaderboard's suites use them)
    env_options: dict = field(default_factory=dict)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            given = getattr(self, f.name)
            if f.name in PER_FAMILY and f.default_factory is not dataclasses.MISSING and isinstance(given, Mapping):
                setattr(self, f.name, {**f.default_factory(), **given})  # base_lr: merged in resolved_base_lr
        self.check()

    def check(self) -> None:
        """Check every field, before any reference is computed (minutes for a first run): a bad
        value raises :class:`ConfigError` naming the field, the value and the valid choices
        (``main`` reports it as the argument parser's error). Lists become tuples.

        Beyond each field's own range: the env options are checked by the env's own checks
        (:meth:`lrgym.settings.EnvSettings.build`, for each family), ``ref_grid`` must lie in the
        env's LR range (outside it the env clips, and grid points repeat), and the instances the
        pools and the holdout scan must be train instances, the holdout's apart from the pools'."""
        self.families = _names("families", self.families, FAMILY_NAMES, distinct=True)
        if not self.families:
            raise ConfigError(f"families={list(self.families)!r} is empty; valid: a non-empty list of "
                              f"{', '.join(FAMILY_NAMES)}")
        for name in ("pool", "batch", "scan"):
            _per_family(name, getattr(self, name), _count)
        if self.base_lr is not None:
            _per_family("base_lr", self.base_lr, _positive_real)
        for name in ("pool", "batch"):  # the shipped recipe gives counts for its families only
            missing = [f for f in self.families if f not in getattr(self, name)]
            if missing:
                raise ConfigError(f"{name} has no count for {', '.join(missing)}; valid: a count for every trained "
                                  f"family, e.g. {{\"{name}\": {{\"{missing[0]}\": 8}}}} in the --config file")
        over = [f for f in self.families if int(self.batch[f]) > int(self.pool[f])]
        if over:  # each generation draws its batch from the pool without replacement: it ran min(batch, pool)
            f = over[0]
            raise ConfigError(f"batch[{f!r}]={self.batch[f]!r} is more than pool[{f!r}]={self.pool[f]!r}; valid: a "
                              "batch of at most its pool's count (a generation draws its batch from the pool "
                              "without replacement)")
        for name in ("train_start", "holdout_start"):
            value = getattr(self, name)
            if not (is_integer(value) and value >= 0):
                raise ConfigError(f"{name}={value!r} out of range; valid: a train instance seed "
                                  f"(an integer {TRAIN_SEEDS})")
        for name in ("holdout", "holdout_every", "generations", "pairs"):
            _count(name, getattr(self, name))
        for name in ("sigma", "step_size", "max_step"):
            _positive_real(name, getattr(self, name))
        if not (is_real(self.div_penalty) and 0 <= real_float(self.div_penalty) < math.inf):
            raise ConfigError(f"div_penalty={brief(self.div_penalty)} out of range; valid: a number >= 0")
        if not (is_real(self.hard_fraction) and 0 <= self.hard_fraction <= 1):
            raise ConfigError(f"hard_fraction={self.hard_fraction!r} out of range; valid: a number from 0 to 1 "
                              "(the share of a scanned set taken among its hardest instances)")
        self.hidden = widths("hidden", self.hidden)
        self.family_progress = flag("family_progress", self.family_progress)
        if self.rejection_threshold is not None and not (
                is_real(self.rejection_threshold) and 0 <= self.rejection_threshold < math.inf):
            raise ConfigError(f"rejection_threshold={self.rejection_threshold!r} out of range; valid: null "
                              "(no step rejection) or a number >= 0 (e.g. 0.1: undo a step that raises the "
                              "training loss by more than 10 %)")
        self.mask = _names("mask", self.mask, tuple(INPUT_GROUPS), distinct=False)
        self._check_env_options()
        self._check_ref_grid()
        self._check_instances()

    def _check_env_options(self) -> None:
        from lrgym.keywords import keyword_names
        from lrgym.settings import EnvSettings

        trainer_set = ("which the trainer sets itself (family: each of families, rejection_threshold: the config's "
                       f"field, {', '.join(f'{k}={v!r}' for k, v in TRAINER_SET.items())})")
        set_elsewhere = {**{k: f"which training does not use: {why}" for k, why in NO_EFFECT.items()},
                         **dict.fromkeys(("family", *TRAINER_SET, "rejection_threshold"), trainer_set)}

        def build(options: dict) -> None:
            for family in self.families:
                EnvSettings.build(family=family, rejection_threshold=self.rejection_threshold, **TRAINER_SET, **options)

        self.env_options = check_env_keywords(
            "env_options", self.env_options, set_elsewhere,
            valid=[k for k in keyword_names(EnvSettings.build) if k not in set_elsewhere], build=build,
            example='{"horizon": 100}')

    def _check_ref_grid(self) -> None:
        from lrgym.settings import DEFAULT_LR_MAX, DEFAULT_LR_MIN

        grid = self.ref_grid
        lr_min = self.env_options.get("lr_min", DEFAULT_LR_MIN)
        lr_max = self.env_options.get("lr_max", DEFAULT_LR_MAX)
        lo_ok, hi_ok = math.log10(lr_min), math.log10(lr_max)
        if not (isinstance(grid, (list, tuple)) and len(grid) == 3 and all(is_real(v) for v in grid)
                and lo_ok <= grid[0] <= grid[1] <= hi_ok and 0 < grid[2] < math.inf
                and (grid[1] - grid[0]) / grid[2] < MAX_REF_GRID):
            raise ConfigError(f"ref_grid={list(grid) if isinstance(grid, tuple) else grid!r} invalid; valid: "
                              f"[lowest, highest, step] in log10 LR with {lo_ok:g} <= lowest <= highest <= "
                              f"{hi_ok:g} (the env's LR range), step > 0 and at most {MAX_REF_GRID} LRs, "
                              "e.g. [-3.5, 0.5, 0.25]")
        self.ref_grid = tuple(float(v) for v in grid)

    def _check_instances(self) -> None:
        for family in self.families:
            m = int(self.scan.get(family, 1))
            spans = {"pool": (self.train_start, self.train_start + m * int(self.pool[family])),
                     "holdout": (self.holdout_start, self.holdout_start + m * int(self.holdout))}
            for name, (a, b) in spans.items():
                if b > len(TRAIN_INSTANCES):
                    start = "train_start" if name == "pool" else "holdout_start"
                    raise ConfigError(f"{family}'s {name} scans instances {_seeds(a, b)} ({start} + scan × {name}), "
                                      f"past the train instances; valid: instance seeds {TRAIN_SEEDS} "
                                      f"(lower {start}, {name} or scan)")
            (a, b), (c, d) = spans["pool"], spans["holdout"]
            if a < d and c < b:
                raise ConfigError(f"{family}'s holdout (instances {_seeds(c, d)}) overlaps its training pool "
                                  f"({_seeds(a, b)}); valid: holdout_start and train_start whose ranges "
                                  "(start + scan × size) are disjoint")

    @classmethod
    def from_json(cls, path: str | Path | None) -> "ControllerConfig":
        """The config of a JSON file (None: the defaults), every value checked (:meth:`check`); the
        file read by :func:`lrgym.baselines.config_checks.read_config` (a FIFO is refused, not read)."""
        return cls(**({} if path is None else read_config(cls, path)))

    def resolved_base_lr(self) -> tuple[float, ...]:
        """The base LR of every family (of :data:`FAMILY_NAMES`): ``base_lr``'s, else the tuned ``fixed`` LR."""
        given = self.base_lr or {}
        if all(f in given for f in FAMILY_NAMES):
            return tuple(float(given[f]) for f in FAMILY_NAMES)
        from lrgym.baselines.registry import tuned_values

        return tuple(float(given[f]) if f in given else float(tuned_values("fixed", f)["lr"]) for f in FAMILY_NAMES)


# ---- batched episodes ------------------------------------------------------------------------

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


# ---- training ---------------------------------------------------------------------------------


@dataclass
class EpisodeSet:
    family: str
    instances: list
    seeds: list
    reference: np.ndarray


#: the arrays of a training reference set (:func:`grid_references`), one value per scanned instance
REFERENCE_KEYS = ("initial", "reference", "lr", "margin")


#: what the files a run writes beside its weights always hold (:func:`~lrgym.baselines.outputs.companion_problem`):
#: the sidecar's command, the submission file's first line (:func:`lrgym.baselines.controller.submission_source`)
SIDECAR_MARK = b'"command": "python -m lrgym.baselines.train_controller'
SUBMISSION_MARK = b"trained by lrgym.baselines.train_controller"


def references_version() -> str:
    """What the training references' values depend on besides the arguments in their cache key:
    lrgym's code, this file (:func:`grid_references`, :func:`run_batch`) and NumPy's version
    (:func:`lrgym.baselines.code_version.code_version`). Any edit of lrgym's code thus recomputes
    the references once (≈ 1 – 4 min for the shipped recipe), where a stale cache would train
    against references the current code no longer reproduces."""
    return code_version(__file__)


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


def centred_ranks(f: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(f))
    ranks[np.argsort(f)] = np.arange(len(f))
    return ranks / (len(f) - 1) - 0.5


def train(cfg: ControllerConfig, seed: int, log=status, *, checkpoint: str | Path | None = None,
          resume: ESState | None = None, stop_after: int | None = None) -> tuple[ControllerNet, dict]:
    """Train by ES (the module's docstring); returns the net with the best holdout generation's θ
    and a record (``best_generation``, ``history``, ...).

    ``checkpoint``: after every generation the whole ES state is written there
    (:mod:`lrgym.baselines.controller_checkpoint`); ``resume``: a state read back from one, from
    which the run goes on to the same θ, holdout history and kept generation as the run never
    stopped (the same config and seed; :func:`main` checks them). ``stop_after``: stop after that
    generation (its checkpoint written) if the run has not ended by then; the record then has
    ``stopped_after`` and the net the current θ.

    **Extension**: ``cfg.generations`` may be more than the checkpoint's run had (a completed
    run's checkpoint too), never fewer than its ``generation``; the run then trains what a run of
    ``cfg.generations`` from the start trains, to the bit. Nothing of a generation depends on the
    run's length (σ and Adam's step size are constant, Adam's bias correction and the draws follow
    the generation's number) but the holdout judging the last generation when it is no multiple
    of ``holdout_every``: that happens after the last checkpoint is written, so the checkpoint
    holds the state a longer run has at that generation, and a longer run never judges it."""
    rng = np.random.default_rng(seed)
    net = ControllerNet(hidden=cfg.hidden, max_step=cfg.max_step, base_lr=cfg.resolved_base_lr(),
                        rejection_threshold=cfg.rejection_threshold, family_progress=cfg.family_progress,
                        mask=cfg.mask)
    if cfg.hidden:
        # small random first layers (an all-zero MLP has no ES gradient through its hidden units)
        layers, _, _ = net.unpack(net.theta)
        for w, _b in layers[:-1]:
            w[...] = rng.normal(0, 1.0 / np.sqrt(w.shape[0]), w.shape)
    # parameters the mask keeps from acting (weights on masked inputs; with "family" masked, the
    # family terms): ES gets no fitness signal there, so it leaves them at their start
    inert = net.inert_parameters()
    t_start = time.time()
    log(f"train_controller: seed {seed}, {net.n_params} parameters, families {list(cfg.families)}")
    pools = {f: episode_set(cfg, f, cfg.train_start, int(cfg.pool[f]), log) for f in cfg.families}
    holdout = [episode_set(cfg, f, cfg.holdout_start, cfg.holdout, log) for f in cfg.families]
    if resume is None:
        state = ESState(generation=0, theta=net.theta.copy(), adam_m=np.zeros(net.n_params),
                        adam_v=np.zeros(net.n_params), rng={}, best_theta=net.theta.copy(), best_score=-np.inf,
                        best_generation=0, history=[], seconds=0.0)
    else:
        if resume.generation > cfg.generations:
            raise ValueError(f"the checkpoint is at generation {resume.generation}, past this config's "
                             f"{cfg.generations} generations")
        if resume.theta.shape != (net.n_params,):
            raise ValueError(f"the checkpoint holds {resume.theta.size} parameters, this config's net {net.n_params}")
        state = resume
        rng.bit_generator.state = resume.rng
        log(f"resumed after generation {state.generation} of {cfg.generations} (best holdout so far: generation "
            f"{state.best_generation})")
    theta, m, v = state.theta.copy(), state.adam_m.copy(), state.adam_v.copy()
    b1, b2 = 0.9, 0.999
    clock = state.seconds - time.time()  # + time.time(): seconds of training, across resumes

    def select(gen: int):
        ev = evaluate_theta(net, holdout, theta, cfg.env_options)
        state.history.append({"generation": gen, "holdout": ev, "seconds": round(clock + time.time(), 1)})
        sel = ev["all"]["mean"] - cfg.div_penalty * np.mean([ev[f]["div"] for f in cfg.families])
        tag = ""
        if sel > state.best_score:
            state.best_score, state.best_theta, state.best_generation = float(sel), theta.copy(), gen
            tag = " *"
        fam = "  ".join(f"{f} {ev[f]['mean']:.3f}/{ev[f]['div']:.0%}" for f in cfg.families)
        log(f"gen {gen:4d}  holdout mean {ev['all']['mean']:.3f} IQM {ev['all']['iqm']:.3f}  {fam}"
            f"  ({clock + time.time():.0f} s){tag}")

    def save(gen: int):
        state.generation, state.theta, state.adam_m, state.adam_v = gen, theta, m, v
        state.rng, state.seconds = rng.bit_generator.state, round(clock + time.time(), 1)
        state.finished = False  # (main marks it once the weights are written)
        if checkpoint is not None:
            write_checkpoint(checkpoint, state, {"config": dataclasses.asdict(cfg), "seed": seed,
                                                 "code": references_version()})

    if resume is None:
        select(0)
        save(0)
    for gen in range(state.generation + 1, cfg.generations + 1):
        if stop_after is not None and gen > stop_after:
            break
        eps = rng.normal(size=(cfg.pairs, theta.size))
        eps[:, inert] = 0.0  # (drawn all the same: the stream of draws does not depend on the mask)
        cands = np.concatenate([theta + cfg.sigma * eps, theta - cfg.sigma * eps])
        fitness = np.zeros(len(cands))
        for f in cfg.families:
            pool = pools[f]
            idx = rng.choice(len(pool.instances), size=min(int(cfg.batch[f]), len(pool.instances)), replace=False)
            res = run_batch(net, f, [pool.instances[i] for i in idx], [pool.seeds[i] for i in idx], cands,
                            env_options=cfg.env_options)
            s = episode_scores(res, pool.reference[idx]) - cfg.div_penalty * res["diverged"]
            fitness += s.sum(axis=1)
        total = sum(min(int(cfg.batch[f]), len(pools[f].instances)) for f in cfg.families)
        fitness /= total
        shaped = centred_ranks(fitness)
        grad = ((shaped[:cfg.pairs] - shaped[cfg.pairs:])[:, None] * eps).sum(axis=0) / (2 * cfg.pairs * cfg.sigma)
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad ** 2
        theta = theta + cfg.step_size * (m / (1 - b1 ** gen)) / (np.sqrt(v / (1 - b2 ** gen)) + 1e-8)
        if gen % 5 == 0:
            log(f"gen {gen:4d}  train fitness mean {fitness.mean():.3f} max {fitness.max():.3f}"
                f"  ({clock + time.time():.0f} s)")
        if gen % cfg.holdout_every == 0:
            select(gen)
        save(gen)
    if state.generation == cfg.generations and cfg.generations % cfg.holdout_every:
        # the last generation is judged on the holdout too, after its checkpoint: a longer run
        # (--generations M --resume) goes on from the state a run of M generations has there
        select(cfg.generations)
    info = {"seed": seed, "best_generation": state.best_generation, "holdout_selection_score": state.best_score,
            "seconds": round(clock + time.time(), 1), "history": state.history}
    if state.generation < cfg.generations:
        net.theta = theta.copy()
        info["stopped_after"] = state.generation
    else:
        net.theta = state.best_theta
    return net, info


def _generations_argument(text: str) -> int:
    """``--generations``' value as an integer (its range is checked with the config's, in
    :func:`main`); the parser's error names a value that is none and the valid ones (argparse's
    own said ``invalid int value: 'nan'``)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; valid: a positive integer (1, 2, 3, ...)") from None


def _generation_argument(text: str) -> int:
    """``--stop-after``'s value: a generation, an integer >= 1 (the parser's error names a bad one)."""
    try:
        return positive_int("--stop-after", int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a generation; valid: an integer >= 1 (1, 2, 3, ...)") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="JSON file of ControllerConfig fields "
                        f"(default: the shipped recipe {DEFAULT_CONFIG.name})")
    parser.add_argument("--seed", type=seed_argument, default=0, help="the run's random seed (an integer >= 0; default 0)")
    parser.add_argument("--generations", type=_generations_argument, default=None, help="override the config's generations")
    parser.add_argument("--resume", nargs="?", const=True, default=None, metavar="CHECKPOINT",
                        help="go on from CHECKPOINT (the .checkpoint.npz a run wrote beside its weights; its run's "
                             "files are left as they are) or, given alone, from the checkpoint of this run's output; "
                             "the weights go to --out (its config but generations, seed and code must be this run's; "
                             "generations: as many as it has trained or more): the same weights as a run of this "
                             "many generations that never stopped")
    parser.add_argument("--stop-after", type=_generation_argument, default=None, metavar="G",
                        help="stop after generation G, its checkpoint written, if the run has not ended by then "
                             "(go on later with --resume)")
    add_output_arguments(parser, f"controller weights ({WEIGHTS_NAME})",
                         "PATH.npz, with PATH.json, PATH.py and PATH.checkpoint.npz beside it; .npz is added "
                         "unless PATH ends in it")
    args = parser.parse_args(argv)
    try:
        cfg = ControllerConfig.from_json(args.config)
    except (OSError, ValueError, TypeError) as exc:
        parser.error(f"--config {args.config}: {exc}")
    if args.generations is not None:
        cfg.generations = args.generations
    try:
        cfg.generations = positive_int("generations", cfg.generations)
    except ValueError as exc:
        parser.error(f"{exc}: --generations or the config's generations")
    try:
        path = output_path(SHIPPED_WEIGHTS / WEIGHTS_NAME, ship=args.ship, out=args.out)
        earlier = path if earlier_weights(path) else None  # (before this run: --out d wrote d until 30dd10f)
        weights_path = with_suffix_added(path, ".npz")  # --out runs/c0.5 → runs/c0.5.npz, as qlearning's
        if weights_path != path and not weights_path.is_dir():  # (a folder: refused below, not written into)
            path = output_path(SHIPPED_WEIGHTS / WEIGHTS_NAME, out=weights_path)  # checked as given
    except ValueError as exc:
        parser.error(str(exc))
    if path.is_dir():  # before the references and generations, not after
        parser.error(f"--out {path} is a folder; valid: a file path, e.g. {path / WEIGHTS_NAME}")
    if weights_path != path and weights_path.is_dir():
        parser.error(f"--out {path}: its weights {weights_path} would be a folder; valid: another file path")
    sidecar = path.with_suffix(".json")  # runs/c0.5.npz → runs/c0.5.json
    # the shipped weights are the `controller` baseline, graded by run-baselines: no submission file
    submission = None if args.ship else path.with_suffix(".py")
    try:
        checkpoint = checkpoint_path(path, args.ship)
    except ValueError as exc:
        parser.error(str(exc))
    for beside, mark in ((sidecar, SIDECAR_MARK), (submission, SUBMISSION_MARK), (checkpoint, CHECKPOINT_MARK)):
        problem = companion_problem(beside, path, (mark,)) if beside is not None else None
        if problem:  # a file of the user's beside --out (their policy.py) is not replaced
            parser.error(f"--out {path}: {problem}")
    command = command_line(args)  # each option by its full name, as the hints below print it
    run = {"config": dataclasses.asdict(cfg), "seed": args.seed, "code": references_version()}
    resume, source = None, resume_source(args.resume, checkpoint)
    if source is not None:
        if source == checkpoint and not checkpoint.exists():
            parser.error(f"--resume: no checkpoint at {checkpoint} (a run with this output writes it after each "
                         "generation and keeps it when it completes; one finished before 2026-12-06 removed it); "
                         "valid: the output of an interrupted or finished run, --resume CHECKPOINT, or no --resume "
                         "to start one")
        if source != checkpoint and not source.is_file():
            parser.error(f"--resume {source}: {'a folder' if source.is_dir() else 'no such file'}; valid: "
                         "a checkpoint a train_controller run wrote (OUT.checkpoint.npz beside its weights OUT.npz)")
        try:
            resume, saved = read_checkpoint(source)
        except ValueError as exc:
            parser.error(f"--resume: {exc}; valid: " + ("remove it and start over without --resume" if source == checkpoint
                         else "a checkpoint a train_controller run wrote (OUT.checkpoint.npz beside its weights OUT.npz)"))
        problem = resume_problem(saved, run, resume.generation)
        if problem:
            parser.error(f"--resume {source}: {problem}; valid: the checkpoint's config (generations: "
                         f"{resume.generation} or more), seed and code" + (f", or remove {checkpoint} and start over "
                         "without --resume" if source == checkpoint else ""))
    if source != checkpoint and checkpoint.exists():  # an interrupted run's generations are not thrown away unasked
        try:
            held = read_checkpoint(checkpoint)[0]
            finished, held = held.finished, f"generation {held.generation}"
        except ValueError:
            held, finished = "an unreadable checkpoint", False
        if not finished:  # (a finished run's is replaced, as its weights are)
            parser.error(f"an interrupted run left its checkpoint {checkpoint} ({held}); valid: --resume to go on "
                         "from it (the same config and seed), "
                         + (f"another --out for the run from {source}, " if source is not None else "")
                         + "or remove it to start over")
    checkpoint.parent.mkdir(parents=True, exist_ok=True)  # generation 0's checkpoint failed in a new folder
    if source is not None and source != checkpoint:  # this run's own checkpoint from the start: a Ctrl-C's
        write_checkpoint(checkpoint, dataclasses.replace(resume, finished=False), run)  # --resume goes on from it
    resumed_after = None if resume is None else resume.generation  # (train goes on in that state)
    t0, c0 = time.time(), time.process_time()
    try:
        net, info = train(cfg, args.seed, checkpoint=checkpoint, resume=resume, stop_after=args.stop_after)
    except STOP_EXCEPTIONS:  # (a stop swallowed by code in the run again and again comes as StopEscalated)
        if checkpoint.exists():
            print(f"interrupted; the checkpoint of the last finished generation is {checkpoint}: go on with\n"
                  f"  {resume_command(args)}", file=sys.stderr, flush=True)
        raise
    if "stopped_after" in info:
        status(f"stopped after generation {info['stopped_after']} of {cfg.generations} (--stop-after); "
               f"checkpoint {checkpoint}: go on with\n  {resume_command(args)}")
        return 0
    meta = {**run, "best_generation": info["best_generation"], "command": command, "commit": git_commit()}
    if resumed_after is not None:
        meta["resumed_after"] = resumed_after
    weights = net.to_bytes(meta)
    files = {path: weights, sidecar: json.dumps({**meta, "wall_seconds": round(time.time() - t0, 1),
                                                 "cpu_seconds": round(time.process_time() - c0, 1),
                                                 "history": info["history"]}, indent=1, default=float) + "\n"}
    if submission is not None:
        name = submission_name(path)
        files[submission] = (submission_source(weights, name=name, trained_on=dict(cfg.env_options))
                             + ablation_source(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_files(files)  # together, or none of them
    # the checkpoint stays: --generations M --resume extends the run; marked finished, a new run replaces it
    try:
        finished, saved = read_checkpoint(checkpoint)
    except ValueError as exc:  # removed or replaced while the weights were written: the run is whole, not extensible
        finished = saved = None
        kept = f"its checkpoint could not be marked finished ({exc}): this run cannot be extended"
    else:
        finished.finished = True
        write_checkpoint(checkpoint, finished, saved)
        kept = (f"its checkpoint {checkpoint} stays: to train on to M generations (the weights a run of M trains)\n"
                f"  into other files, these kept: "
                f"{resume_command(args, generations='M', resume=str(checkpoint), out='PATH', ship=False)}\n"
                f"  in place of these: {resume_command(args, generations='M')}")
    took = f"({time.time() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s)"
    # stdout: the files written (the result), alone; what the run kept and what to do next: stderr
    status(kept_generation(info["best_generation"], cfg.generations))
    status(kept)
    if earlier is not None and earlier != path:
        status(f"note: {earlier} is left as it was: the weights an earlier run of --out {earlier} wrote there, "
               f"before --out PATH wrote PATH.npz; this run's weights are {path} (its sidecar and submission file "
               f"replaced that run's); a make_baseline(\"controller\", path={json.dumps(str(earlier))}) still loads the "
               f"earlier weights: load {path}, and remove {earlier} once nothing reads it")
    if submission is None:
        print(f"wrote {path} and {sidecar} {took}", flush=True)
        return 0
    print(f"wrote {path}, {submission} and {sidecar} {took}", flush=True)
    status(f"grade it: lrgym leaderboard submit {shell_path(f'{submission}:{SUBMISSION_CLASS}')} --suite val   "
           f"(the validation suite, at the settings it trained at; --suite quick, a smoke test at a shorter horizon, "
           f"marks it trained apart †; in Python: make_baseline(\"controller\", path={json.dumps(str(path))}))\n"
           f"its ablations: lrgym leaderboard submit {shell_path(f'{submission}:NoGradient')} --suite val   (any of "
           f"{', '.join(c.__name__ for c in ABLATIONS.values())})")
    return 0


def earlier_weights(path: Path) -> bool:
    """Whether ``path`` is a file of controller weights this command wrote (its header's
    ``command`` is :data:`COMMAND`'s): before 30dd10f, ``--out runs/d`` wrote them to ``runs/d``,
    where a run now writes ``runs/d.npz`` and leaves that file as it was, which
    ``make_baseline("controller", path="runs/d")`` goes on loading (:func:`main` says so)."""
    if path.suffix == ".npz" or not path.is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as data:
            command = json.loads(str(data["header"])).get("command")
    except Exception:  # noqa: BLE001 - any other file: not weights of this command's
        return False
    return isinstance(command, str) and (command == COMMAND or command.startswith(COMMAND + " "))


#: what a checkpoint always holds at its start (:mod:`lrgym.baselines.controller_checkpoint`)
CHECKPOINT_MARK = MARK


def checkpoint_path(path: Path, ship: bool) -> Path:
    """Where a run writing the weights ``path`` keeps its checkpoint: beside them
    (``runs/controller_mixed.npz`` → ``runs/controller_mixed.checkpoint.npz``); for ``--ship``
    under :func:`~lrgym.baselines.outputs.runs_dir` (``controller_mixed.ship.checkpoint.npz``:
    nothing but the weights is written where they ship). ``ValueError`` if that is a shipped place."""
    if ship:
        return output_path(Path(WEIGHTS_NAME.replace(".npz", ".ship.checkpoint.npz")))
    return with_suffix_added(path, ".npz").with_suffix(".checkpoint.npz")


#: how the command is run (the start of every command line it prints or records)
COMMAND = "python -m lrgym.baselines.train_controller"


def command_line(args: argparse.Namespace, **changes) -> str:
    """The command line of the parsed ``args`` with ``changes`` (``generations="M"``,
    ``stop_after=None``, ...): each option by its full name and only where it is not the default,
    values quoted for the shell, one that starts with ``-`` joined to its option (``--out=-x``,
    :func:`~lrgym.baselines.shell_words.shell_option`: ``--out -x`` is an option without its value
    to argparse). Not the words as typed: argparse takes any unambiguous prefix of
    an option (``--gen 40``, ``--stop 2``), so a command rebuilt from them by replacing
    ``--generations`` and removing ``--stop-after`` kept ``--gen 40`` beside the new
    ``--generations M``, and kept ``--stop 2``, which stopped the resumed run at once again."""
    values = {**vars(args), **changes}
    words = [COMMAND]
    if values["config"] != str(DEFAULT_CONFIG):
        words.append(shell_option("--config", values["config"]))
    for name, option in (("seed", "--seed"), ("generations", "--generations"), ("stop_after", "--stop-after"),
                         ("out", "--out")):
        if values[name] is not None and not (name == "seed" and values[name] == 0):
            words.append(shell_option(option, values[name]))
    words += ["--ship"] * bool(values["ship"])
    if values["resume"]:  # alone: this output's checkpoint
        words.append("--resume" if values["resume"] is True else shell_option("--resume", values["resume"]))
    return " ".join(words)


def resume_command(args: argparse.Namespace, **changes) -> str:
    """The command that goes on from the checkpoint of the run of ``args`` (:func:`command_line`
    with ``--resume`` alone, so from the checkpoint the run writes beside its output, not from the
    one it may have resumed from; without ``--stop-after``; ``changes``: e.g. ``generations="M"``)."""
    return command_line(args, **{"resume": True, "stop_after": None, **changes})


def resume_source(resume: str | bool | None, checkpoint: Path) -> Path | None:
    """The checkpoint a run given ``--resume`` (``resume``: None without it, True given alone, else
    its path) goes on from: ``checkpoint``, the run's own beside its output, for ``--resume`` alone
    or a path naming that file; the path given otherwise (a run of other files: its weights,
    record and checkpoint are left as they are, and this run writes its own at ``checkpoint``)."""
    if resume is None:
        return None
    if resume is True:
        return checkpoint
    given = Path(resume)
    same = given.resolve() == checkpoint.resolve() or (given.exists() and checkpoint.exists()
                                                       and given.samefile(checkpoint))
    return checkpoint if same else given


def kept_generation(best: int, generations: int) -> str:
    """The line that says which generation's parameters a run keeps (the best on the holdout).
    Generation 0 is the start, all parameters 0: each family's base LR, kept, with no change a
    step. A short run (``--generations 5``) often keeps it, and the weights it writes are then
    the untrained controller, which nothing else in its output said."""
    line = f"kept generation {best} of {generations} (the best on the holdout)"
    if best == 0:
        line += ("; that is the start, the untrained controller (every parameter 0: each family's base LR, "
                 "unchanged): no later generation scored better on the holdout; train longer (--generations)")
    return line


def submission_name(path: Path) -> str:
    """The entry name of the submission file written beside weights ``path``: its stem
    (``runs/controller_mixed.npz`` → ``controller_mixed``, ``runs/c0.5`` → ``c0.5``), with every
    character an entry name cannot hold (letters, digits, space and ``. _ + -``) made ``_``."""
    stem = with_suffix_added(path, ".npz").stem
    name = re.sub(r"[^A-Za-z0-9 ._+-]", "_", stem).strip()
    return (name if name[:1].isalnum() else f"controller-{name}")[:64].strip()


if __name__ == "__main__":
    from lrgym.baselines.interrupts import run_command

    raise SystemExit(run_command(main, COMMAND, exiting=True))
