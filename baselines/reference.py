"""The reference of an instance: the best constant SGD learning rate, by a fine search.

The one reference rule of lrgym: the leaderboard's references (:mod:`lrgym.leaderboard.references`),
the suite selection (:mod:`lrgym.leaderboard.selection`), the tuner (:mod:`lrgym.baselines.tune`)
and the tests all call :func:`search_reference`. It lives on the baselines floor because the
tuner needs it and ``lrgym.baselines`` must not import ``lrgym.leaderboard``.

**Choice** among the LRs run so far (:func:`best_row`): the reference η* is the LR against
which no other LR run scores a higher mean S (:func:`lrgym.baselines.score.score`, averaged over
the seeds): it minimises ``max_η mean_s S(η; η*)`` — the minimax rule, so the best constant LR
found never scores above 1 (scores unclipped here). An LR that diverged (or ended non-finite)
on any seed, or made no progress on some seed, is never chosen (if no LR made progress on every
seed: the lowest mean log final loss); ties go to the smaller LR. With one seed this is simply the lowest final loss; with
several it is not the lowest mean log loss, because S divides each seed's log-improvement by
the reference's on that seed (a seed the reference improves little weighs more).

**Search** (:func:`search_reference`), on log10 LR inside the env's range ``[lr_min, lr_max]``,
with the suite's seeds, horizon and inner steps:

1. *Grid*: ``lr_min · 10^(k/2)``, k = 0, 1, … up to ``lr_max`` (plus ``lr_max`` itself),
   in ascending order; the first LR that diverges on any seed ends the grid (nothing past a
   divergence is ever run).
2. *Refinements*: around the chosen LR so far, the points ``η · 10^(j·h)`` for
   ``h = 1/16`` decade, ``j = ±1 … ±7`` (the open half-decade on each side), then
   ``h = 1/64``, ``j = ±1 … ±3`` — skipping points outside the range, at or past the
   smallest LR that diverged, or already run.
3. The reference is the choice among every LR run. If every LR diverged, the smallest LR of
   the grid (a reference without progress; the score handles it).

The grid's resolution is then 1/128 decade (a factor 1.018). Where the final loss is smooth in
log LR (linreg, quadratic, recsys) that pins the optimum; the small MLPs' final loss is rugged
in the LR (peaks 1/1000 decade apart, a second optimum a tenth of a decade away), so there η*
is the best point of the grid rather than the exact optimum. Either way an independent dense
search over the same seeds (``tests/leaderboard/test_suite_v2.py``, 1/56 decade around η*) finds
no constant LR whose mean score exceeds 1.01. Narrower MLP peaks exist (on suite v2/r2's mlp
20007 and 20011, 2.9 % and 2.3 % above their references): suite v2 keeps only instances on which
a 1/1000-decade scan finds none above 1.01 (:mod:`lrgym.leaderboard.selection`, criterion 4).
:attr:`Reference.margin_decades` says how far the reference lies inside the LR range.

Runs go through :class:`ConstantLRRuns`: one ``LRControlEnv`` per LR with ``lr_init`` = η and
the single action "×1" (the env the leaderboard's constant-LR policy gets), sharing the built
task between LRs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from lrgym.baselines.score import MIN_PROGRESS, floored, score

__all__ = [
    "COARSE_STEP", "REFINEMENTS", "RULE", "ConstantLRRuns", "Reference", "Row", "TaskRunError", "best_row",
    "coarse_grid", "objective", "search_reference",
]

#: grid step of stage 1, in decades
COARSE_STEP = 0.5
#: refinement stages: (step in decades, points on each side of the best point)
REFINEMENTS: tuple[tuple[float, int], ...] = ((1 / 16, 7), (1 / 64, 3))
#: names the rule in stored references; bump when anything above changes
RULE = "grid-1/2+refine-1/16x7+1/64x3:minimax-mean-score"

_REL = 1e-9  # two LRs closer than this (relative) are the same point


@dataclass(frozen=True)
class Row:
    """Constant-LR SGD at ``lr`` on every seed: initial and final training losses (the final
    loss is ``inf`` where the run diverged)."""

    lr: float
    initial_loss: tuple[float, ...]
    final_loss: tuple[float, ...]

    @property
    def objective(self) -> float:
        return objective(self.initial_loss, self.final_loss)

    @property
    def diverged(self) -> bool:
        return not math.isfinite(self.objective)

    def to_dict(self) -> dict:
        return {"lr": self.lr, "initial_loss": list(self.initial_loss), "final_loss": list(self.final_loss)}


def objective(initial_loss: Sequence[float], final_loss: Sequence[float]) -> float:
    """Mean over seeds of log(floored final loss); ``+inf`` if any seed diverged or is NaN
    (only its finiteness matters to the choice: see :func:`best_row`)."""
    final = np.asarray(final_loss, dtype=float)
    if final.size == 0 or not np.all(np.isfinite(final)):
        return math.inf
    return float(np.mean(np.log(np.maximum(floored(final, initial_loss), 1e-300))))


@dataclass
class Reference:
    """The result of :func:`search_reference`."""

    best: Row
    evaluated: list[Row]  # every LR run, ascending
    lr_min: float
    lr_max: float
    rule: str = field(default=RULE)

    @property
    def lr(self) -> float:
        return self.best.lr

    @property
    def margin_decades(self) -> float:
        """Distance of the reference LR to the nearer end of the LR range, in decades."""
        return min(math.log10(self.lr / self.lr_min), math.log10(self.lr_max / self.lr))

    @property
    def bracketed(self) -> bool:
        """Whether a run LR below and one above the reference both scored worse (a local
        minimum found inside the range, not one capped by it)."""
        lrs = [r.lr for r in self.evaluated]
        i = next(i for i, r in enumerate(self.evaluated) if r is self.best or r.lr == self.lr)
        return 0 < i < len(lrs) - 1


def coarse_grid(lr_min: float, lr_max: float, step: float = COARSE_STEP) -> list[float]:
    """``lr_min · 10^(k·step)`` up to ``lr_max``, and ``lr_max`` itself (ascending)."""
    lo, hi = math.log10(lr_min), math.log10(lr_max)
    n = int(math.floor((hi - lo) / step + 1e-9))
    grid = [float(10.0 ** (lo + k * step)) for k in range(n + 1)]
    if grid[-1] < lr_max * (1 - _REL):
        grid.append(float(lr_max))
    return grid


def best_row(rows: Sequence[Row]) -> Row:
    """The minimax choice (module docstring): the non-diverged row ``i`` minimising
    ``max_j mean_s S(row j; reference row i)``; ties → the smaller LR; all diverged → the
    smallest LR."""
    rows = sorted(rows, key=lambda r: r.lr)
    ok = [r for r in rows if not r.diverged]
    if not ok:
        return rows[0]
    l0 = np.asarray(ok[0].initial_loss, dtype=float)
    progress = [r for r in ok if np.all(np.log(l0 / floored(r.final_loss, l0)) > MIN_PROGRESS)]
    if not progress:  # no LR improved on every seed: S is undefined; the lowest mean log loss
        return min(ok, key=lambda r: r.objective)
    finals = np.array([r.final_loss for r in rows], dtype=float)  # (n_rows, n_seeds), inf = diverged
    best, best_value = progress[0], math.inf
    for ref in progress:
        s = score(l0, finals, np.asarray(ref.final_loss, dtype=float), ~np.isfinite(finals), clip=None)
        value = float(np.max(np.mean(s, axis=1)))
        if value < best_value:
            best, best_value = ref, value
    return best


def search_reference(run: Callable[[float], Row], lr_min: float, lr_max: float) -> Reference:
    """The best constant LR in ``[lr_min, lr_max]`` by the rule of the module docstring.

    ``run(lr)`` runs constant-LR SGD on every seed of the instance (e.g. :class:`ConstantLRRuns`)
    and returns a :class:`Row`.
    """
    if not (0 < lr_min < lr_max and math.isfinite(lr_max)):
        raise ValueError(f"need 0 < lr_min < lr_max < inf, got lr_min={lr_min!r}, lr_max={lr_max!r}")
    rows: dict[float, Row] = {}
    first_divergence = math.inf

    def known(lr: float) -> bool:
        return any(abs(lr - x) <= _REL * x for x in rows)

    def evaluate(lr: float) -> None:
        nonlocal first_divergence
        row = run(lr)
        rows[lr] = row
        if row.diverged:
            first_divergence = min(first_divergence, lr)

    for lr in coarse_grid(lr_min, lr_max):
        evaluate(lr)
        if lr >= first_divergence:
            break

    def best() -> Row:
        return best_row(list(rows.values()))

    for step, span in REFINEMENTS:
        centre = best()
        if centre.diverged:
            break
        c = math.log10(centre.lr)
        for j in [k for i in range(1, span + 1) for k in (-i, i)]:
            lr = float(10.0 ** (c + j * step))
            if lr < lr_min * (1 - _REL) or lr > lr_max * (1 + _REL) or lr >= first_divergence * (1 - _REL) or known(lr):
                continue
            evaluate(lr)
    ordered = [rows[lr] for lr in sorted(rows)]
    return Reference(best(), ordered, float(lr_min), float(lr_max))


class TaskRunError(RuntimeError):
    """A family's task raised during a run of :class:`ConstantLRRuns`: the message names the family,
    its registered target, the instance, the seed and the LR; the family's own exception is its
    ``__cause__`` (a task reports divergence and never raises, so this is a bug of the family)."""


class ConstantLRRuns:
    """``run(lr)`` for :func:`search_reference`: constant-LR SGD on one instance, every seed.

    ``env_kwargs`` are :class:`lrgym.env.LRControlEnv` keywords of the suite (family, instance
    set, horizon, inner steps, ...); ``tasks`` an optional ``OrderedDict`` of built tasks to share
    (``LRControlEnv(task_cache=...)``). :attr:`lr_min` / :attr:`lr_max` are the env's LR range.
    """

    def __init__(self, env_kwargs: dict, instance: int, seeds: Sequence[int], tasks: dict | None = None):
        from lrgym.env import LRControlEnv

        self.env_kwargs = {**env_kwargs, "optimizer": "sgd", "action_mode": "discrete", "factors": (1.0,)}
        self.instance = int(instance)
        self.seeds = [int(s) for s in seeds]
        probe = LRControlEnv(**{**self.env_kwargs, "lr_init": self.env_kwargs.get("lr_min", 1e-6)})
        self.lr_min, self.lr_max = probe.lr_min, probe.lr_max
        self.tasks = tasks if tasks is not None else probe.task_cache

    def env(self, lr: float):
        """The env a constant-LR policy with ``lr`` gets (its built tasks shared)."""
        from lrgym.env import LRControlEnv

        return LRControlEnv(**{**self.env_kwargs, "lr_init": float(lr)}, task_cache=self.tasks)

    def __call__(self, lr: float) -> Row:
        env = self.env(lr)
        initial, final = [], []
        for seed in self.seeds:
            try:
                _, info = env.reset(seed=seed, options={"instance": self.instance})
                initial.append(float(info["train_loss"]))
                done = False
                while not done:
                    _, _, terminated, truncated, info = env.step(0)
                    done = terminated or truncated
            except Exception as exc:  # a family's bug: said with where it happened (its traceback chained)
                raise TaskRunError(f"{self.where(seed, lr)}: {type(exc).__name__}: {exc}") from exc
            final.append(math.inf if info["diverged"] else float(info["train_loss"]))
        return Row(float(env.lr_init), tuple(initial), tuple(final))

    def where(self, seed: int, lr: float) -> str:
        """The run of ``seed`` at ``lr`` in words: its family and the family's registered target,
        instance and seed (what :class:`TaskRunError` says)."""
        from lrgym.tasks import FAMILIES

        family = self.env_kwargs.get("family")
        entry = FAMILIES.get(family) if isinstance(family, str) else None
        target = entry.target if entry is not None else "not registered"
        return (f"family {family!r} ({target}) raised on instance {self.instance}, seed {seed}, at the constant "
                f"LR {lr:.6g} of the reference search")

    def search(self) -> Reference:
        """:func:`search_reference` on this instance over the env's LR range."""
        return search_reference(self, self.lr_min, self.lr_max)
