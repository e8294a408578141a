"""The learned controller's training recipe (:class:`ControllerConfig`, part of the training
command :mod:`lrgym.baselines.train_controller`, which re-exports it): its fields, whose defaults
are the shipped recipe, every one checked when the config is made, before any reference is
computed, and what they are checked against (the train instances, the env keywords the trainer
sets itself or that training cannot feel, the largest reference grid)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lrgym.baselines.config_checks import (ConfigError, check_env_keywords, flag, read_config, widths,
                                           count as _count, names as _names,
                                           positive_real as _positive_real)
from lrgym.baselines.controller import INPUT_GROUPS
from lrgym.brief import brief
from lrgym.info import FAMILY_NAMES
from lrgym.optim import check_choice
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
