"""Scoring for the lrgym leaderboard: per-run scores, aggregates with confidence intervals,
probability of improvement and performance profiles.

Pure functions of NumPy arrays (NumPy only: no pandas, no rliable, no SciPy). The aggregate
metrics and the stratified bootstrap follow rliable (Agarwal et al. 2021, "Deep Reinforcement
Learning at the Edge of the Statistical Precipice"); the time-to-target performance profiles
and the profile score follow AlgoPerf (Dahl et al. 2023, "Benchmarking Neural Network Training
Algorithms"), which in turn follow Dolan & Moré (2002).

Array convention
----------------
A **score matrix** has shape ``(n_runs, n_tasks)``: ``scores[n, m]`` is the score of run ``n``
on task ``m``. A *task* is one instance of the suite (family × test instance); a *run* is one
seed. **Higher scores are better.** Every task must have the same number of runs.

The aggregate functions (``iqm``, ``mean``, ``median``, ``optimality_gap``,
``performance_profile``, ``probability_of_improvement``) also accept a stack of matrices of
shape ``(..., n_runs, n_tasks)`` and reduce over the last two axes only; the bootstrap uses
this to evaluate thousands of resampled matrices in a few NumPy calls.

Time-to-target arrays for AlgoPerf's profiles have shape ``(n_submissions, n_tasks)`` and hold
positive step counts, with ``inf`` where a submission never reached the target;
**lower times are better**.

Pipeline
--------
1. ``score`` (raw losses, precision floor applied) / ``run_score`` (log losses) turn each run into
   a normalised score S (1 = as good as the reference, 0 = no progress, floor on divergence,
   clipped). Both are defined in :mod:`lrgym.baselines.score`, the one score function of lrgym,
   and re-exported here.
2. Scores are arranged as a ``(n_runs, n_tasks)`` matrix per policy and summarised with
   ``aggregate`` (IQM, mean, median, optimality gap, each with a stratified-bootstrap 95% CI),
   ``probability_of_improvement`` (+ ``probability_of_improvement_ci``, and
   ``probability_of_improvement_cis`` for many entries at once) against the best baseline,
   and ``performance_profile`` (rliable's score distribution).
3. ``steps_to_target`` gives per-run times to reach the reference's loss; collapsed per task
   (e.g. the median over seeds) they feed ``performance_ratios``, ``algoperf_profile`` and
   ``algoperf_score``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

# The per-run score lives with the reference rule on the baselines floor (the tuner needs it and
# lrgym.baselines must not import lrgym.leaderboard); re-exported here for the board's users.
from lrgym.baselines.score import PRECISION_FLOOR, floored, run_score, score

__all__ = [
    "Interval",
    "run_score",
    "score",
    "floored",
    "PRECISION_FLOOR",
    "steps_to_target",
    "iqm",
    "mean",
    "median",
    "optimality_gap",
    "family_iqm",
    "stratified_bootstrap_samples",
    "stratified_bootstrap_ci",
    "instance_bootstrap_samples",
    "instance_bootstrap_ci",
    "probability_of_improvement",
    "probability_of_improvement_ci",
    "probability_of_improvement_cis",
    "performance_profile",
    "performance_ratios",
    "algoperf_profile",
    "algoperf_score",
    "aggregate",
]

# Upper bound on the number of array elements one bootstrap chunk materialises (≈32 MB of
# float64). Chunks are drawn one after another from one generator, so results depend only on
# (inputs, reps, seed), never on memory.
_CHUNK_ELEMENTS = 1 << 22


class Interval(NamedTuple):
    """A point estimate with a confidence interval; unpacks as ``(estimate, low, high)``.

    Fields are floats for scalar statistics and arrays for vector-valued ones (e.g. a
    performance profile evaluated at several thresholds).
    """

    estimate: float | np.ndarray
    low: float | np.ndarray
    high: float | np.ndarray


# --------------------------------------------------------------------------------------------
# Per-run quantities
# --------------------------------------------------------------------------------------------


def steps_to_target(loss_curve: ArrayLike, target: ArrayLike) -> np.ndarray:
    """Number of env steps until the loss first reaches ``target`` (``inf`` if it never does).

    ``loss_curve[..., t - 1]`` is the loss after ``t`` env steps (the initial loss L0 is not
    part of the curve), so the result is ``min{t ≥ 1 : loss_curve[t - 1] ≤ target}``, a count
    of env steps in ``{1, ..., T}``, or ``inf`` when no entry is ≤ target. NaN entries never
    count as reached; a run that reaches the target and diverges afterwards keeps its time,
    as in AlgoPerf's time-to-target. ``inf`` (a float, not None) is the "never" value so the
    result can go straight into ``performance_ratios``. In the leaderboard ``target`` is the
    reference's final loss L_ref.

    Args:
        loss_curve: losses along the last axis, shape ``(..., T)``.
        target: target loss, broadcastable to ``loss_curve.shape[:-1]``.

    Returns:
        float64 array of shape ``loss_curve.shape[:-1]`` (a NumPy float for a 1-D curve).

    Example: ``steps_to_target([5, 4, 3, 2], 3)`` is 3.0.
    """
    curve = np.asarray(loss_curve, dtype=np.float64)
    if curve.ndim == 0:
        raise ValueError("loss_curve must have at least one axis (time)")
    target = np.broadcast_to(np.asarray(target, dtype=np.float64), curve.shape[:-1])
    if curve.shape[-1] == 0:
        return np.full(curve.shape[:-1], np.inf)[()]
    reached = curve <= target[..., None]
    first = np.argmax(reached, axis=-1) + 1.0
    return np.where(np.any(reached, axis=-1), first, np.inf)[()]


# --------------------------------------------------------------------------------------------
# Aggregates of a score matrix (rliable's definitions)
# --------------------------------------------------------------------------------------------


def _score_array(scores: ArrayLike, name: str = "scores") -> np.ndarray:
    """``scores`` as float64 with shape (..., n_runs ≥ 1, n_tasks ≥ 1) and finite entries."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-1] == 0 or arr.shape[-2] == 0:
        raise ValueError(
            f"{name} must have shape (..., n_runs, n_tasks) with n_runs, n_tasks >= 1, "
            f"got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (score diverged runs with run_score's floor)")
    return arr


def iqm(scores: ArrayLike) -> np.ndarray:
    """Interquartile mean (IQM) over all runs and tasks: the 25%-trimmed mean.

    The ``K = n_runs · n_tasks`` entries are sorted, ``c = floor(K / 4)`` are dropped from each
    end and the remaining ``K − 2c`` are averaged::

        IQM = mean(sorted(scores.ravel())[c : K − c])

    This is rliable's ``aggregate_iqm`` (``scipy.stats.trim_mean(scores, 0.25, axis=None)``,
    which also rounds the cut down). Unlike the mean it ignores the worst and best quarter of
    the runs, so a few diverged or lucky runs do not move it, yet it uses half the data, so it
    is far less noisy than the median. E.g. for the 8 entries −5, 0, 1, 2, 3, 4, 10, 100 the
    IQM is (1 + 2 + 3 + 4) / 4 = 2.5.
    """
    arr = _score_array(scores)
    flat = arr.reshape(*arr.shape[:-2], -1)
    k = flat.shape[-1]
    cut = k // 4
    return np.mean(np.sort(flat, axis=-1)[..., cut : k - cut], axis=-1)[()]


def mean(scores: ArrayLike) -> np.ndarray:
    """Mean over tasks of the per-task mean over runs (rliable's ``aggregate_mean``).

    ``mean = (1/M) Σ_m (1/N) Σ_n scores[n, m]``; with equal run counts this is the plain mean
    of all entries.
    """
    arr = _score_array(scores)
    return np.mean(np.mean(arr, axis=-2), axis=-1)[()]


def median(scores: ArrayLike) -> np.ndarray:
    """Median over tasks of the per-task mean over runs (rliable's ``aggregate_median``).

    ``median = median_m (1/N) Σ_n scores[n, m]``. Note: this is *not* the median of all
    entries; runs are averaged within each task first.
    """
    arr = _score_array(scores)
    return np.median(np.mean(arr, axis=-2), axis=-1)[()]


def optimality_gap(scores: ArrayLike, gamma: float = 1.0) -> np.ndarray:
    """How far runs fall short of the target score ``gamma``, on average (lower is better).

    ``gap = mean over all runs and tasks of max(gamma − s, 0) = gamma − mean(min(s, gamma))``
    (rliable's ``aggregate_optimality_gap``). Scores above ``gamma`` earn nothing extra, so a
    policy cannot hide failures behind a few outstanding runs. With the default ``gamma = 1``
    it is the average shortfall from the reference.
    """
    arr = _score_array(scores)
    flat = arr.reshape(*arr.shape[:-2], -1)
    return np.mean(np.maximum(gamma - flat, 0.0), axis=-1)[()]


def _family_columns(families, n_tasks: int) -> list[np.ndarray]:
    """Column indices of each family, families in order of first appearance."""
    labels = np.asarray(families)
    if labels.shape != (n_tasks,):
        raise ValueError(f"families must give one label per task ({n_tasks}), got shape {labels.shape}")
    order = list(dict.fromkeys(labels.tolist()))
    return [np.flatnonzero(labels == f) for f in order]


def family_iqm(scores: ArrayLike, families) -> np.ndarray:
    """Mean over families of each family's IQM: the leaderboard's ranking statistic.

    ``families[m]`` names the family of task ``m``. For each family ``f`` with task columns
    ``C_f``, ``IQM_f = iqm(scores[:, C_f])`` (over its runs × instances); the statistic is
    ``(1/F) Σ_f IQM_f``, every family weighing the same however many instances it has.

    Why not the IQM of all runs pooled: it drops the worst quarter of *all* runs, and a family
    with fewer than a quarter of them (mlp and recsys are 1/6 each on suite v2) can fail
    entirely — every run diverged, S = −1 — and still be trimmed away, so a policy that knows
    its family (it is told) could give one up and rank first. Here a family that fails costs
    its full share: ``(IQM_f + 1) / F``. Within a family the IQM still drops the worst quarter
    of its runs; the board shows each family's mean and divergence rate beside it.
    """
    arr = _score_array(scores)
    groups = _family_columns(families, arr.shape[-1])
    return np.mean(np.stack([iqm(arr[..., cols]) for cols in groups], axis=-1), axis=-1)[()]


# Statistics of this module that reduce over the last two axes and so accept stacks.
_STACK_AWARE: frozenset[Callable] = frozenset({iqm, mean, median, optimality_gap})


# --------------------------------------------------------------------------------------------
# Stratified bootstrap
# --------------------------------------------------------------------------------------------


def _chunk_sizes(reps: int, elements_per_rep: int):
    per_chunk = max(1, _CHUNK_ELEMENTS // max(1, elements_per_rep))
    for start in range(0, reps, per_chunk):
        yield min(per_chunk, reps - start)


def _apply(statistic: Callable, stacks: tuple[np.ndarray, ...], vectorized: bool) -> np.ndarray:
    """``statistic`` on each replication of ``stacks`` (each of shape (R, n, M)); shape (R, ...)."""
    if vectorized:
        out = np.asarray(statistic(*stacks), dtype=np.float64)
        if out.ndim == 0 or out.shape[0] != stacks[0].shape[0]:
            raise ValueError(
                "a vectorized statistic must return one value per replication (leading axis)"
            )
        return out
    n_reps = stacks[0].shape[0]
    return np.stack(
        [np.asarray(statistic(*(s[r] for s in stacks)), dtype=np.float64) for r in range(n_reps)]
    )


def _check_reps_alpha(reps: int, alpha: float | None = None) -> None:
    if int(reps) < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    if alpha is not None and not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def stratified_bootstrap_samples(
    scores: ArrayLike,
    statistic: Callable[[np.ndarray], ArrayLike],
    reps: int = 2000,
    seed: int | np.random.Generator | None = 0,
    vectorized: bool | None = None,
) -> np.ndarray:
    """Values of ``statistic`` on ``reps`` stratified-bootstrap resamples of ``scores``.

    One resample: for every task (column) ``m`` independently, draw ``n_runs`` run indices
    uniformly with replacement and take that column's scores at those indices::

        resampled[n, m] = scores[I[n, m], m],   I[n, m] ~ Uniform{0, …, n_runs − 1} i.i.d.

    Runs are never moved between tasks (the strata) and every task keeps its ``n_runs``
    entries, which is rliable's ``StratifiedBootstrap``. It suits benchmarks with few runs per
    task: the variability comes from the seeds, while the task set is fixed by the suite.

    Args:
        scores: score matrix ``(n_runs, n_tasks)``.
        statistic: maps a score matrix to a float or a 1-D array (e.g. a profile).
        reps: number of bootstrap replications.
        seed: anything ``np.random.default_rng`` accepts; the same seed gives the same
            samples. A ``Generator`` is advanced.
        vectorized: whether ``statistic`` accepts a stack ``(R, n_runs, n_tasks)`` and returns
            ``(R, ...)``. None: true for this module's ``iqm``, ``mean``, ``median`` and
            ``optimality_gap``, false for anything else (called once per replication).

    Returns:
        array of shape ``(reps, ...)``.
    """
    arr = _score_array(scores)
    if arr.ndim != 2:
        raise ValueError(f"scores must be a (n_runs, n_tasks) matrix, got shape {arr.shape}")
    _check_reps_alpha(reps)
    if vectorized is None:
        vectorized = statistic in _STACK_AWARE
    n, m = arr.shape
    rng = np.random.default_rng(seed)
    columns = np.arange(m)
    out = []
    for size in _chunk_sizes(int(reps), n * m):
        idx = rng.integers(0, n, size=(size, n, m))
        out.append(_apply(statistic, (arr[idx, columns],), vectorized))
    return np.concatenate(out, axis=0)


def _percentile_interval(estimate, samples: np.ndarray, alpha: float) -> Interval:
    low, high = np.quantile(samples, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
    return Interval(np.asarray(estimate, dtype=np.float64)[()], low[()], high[()])


def stratified_bootstrap_ci(
    scores: ArrayLike,
    statistic: Callable[[np.ndarray], ArrayLike],
    reps: int = 2000,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = 0,
    vectorized: bool | None = None,
) -> Interval:
    """Point estimate and percentile ``1 − alpha`` stratified-bootstrap CI of ``statistic``.

    ``estimate = statistic(scores)``; ``(low, high)`` are the ``alpha/2`` and ``1 − alpha/2``
    quantiles (linear interpolation) of the statistic over ``reps`` resamples drawn by
    ``stratified_bootstrap_samples`` (see there for the resampling and the arguments). This is
    rliable's ``get_interval_estimates`` with ``method="percentile"``; the default gives a
    95% interval. Vector-valued statistics give element-wise intervals, e.g.
    ``stratified_bootstrap_ci(s, lambda x: performance_profile(x, taus), vectorized=True)``.

    A matrix whose columns are each constant has zero-width intervals for every statistic of
    this module, since every resample equals the original matrix.

    Returns:
        ``Interval(estimate, low, high)``, which unpacks as a 3-tuple.
    """
    _check_reps_alpha(reps, alpha)
    samples = stratified_bootstrap_samples(
        scores, statistic, reps=reps, seed=seed, vectorized=vectorized
    )
    return _percentile_interval(statistic(_score_array(scores)), samples, alpha)


def instance_bootstrap_samples(
    scores: ArrayLike | tuple[ArrayLike, ...],
    families,
    statistic: Callable[..., ArrayLike],
    reps: int = 2000,
    seed: int | np.random.Generator | None = 0,
    vectorized: bool = False,
) -> np.ndarray:
    """Values of ``statistic`` on ``reps`` two-level bootstrap resamples: instances, then runs.

    The stratified bootstrap (:func:`stratified_bootstrap_samples`) keeps the suite's instances
    fixed, so its interval answers "how sure are we of this score *on these instances*". This
    one also asks "on other instances of the same families": one resample first draws, within
    each family, as many of its instances as it has, uniformly with replacement (column
    ``m`` of the resample is instance ``J[m]`` of the same family as ``m``), then, for every
    drawn column independently, ``n_runs`` runs with replacement::

        resampled[n, m] = scores[I[n, m], J[m]],   J[m] ~ Uniform(C_family(m)),  I[n, m] ~ Uniform{0..n_runs−1}

    Each family keeps its size and its column positions, so ``families`` still labels the
    resample (``statistic`` may be ``lambda s: family_iqm(s, families)``).

    ``scores`` may be a tuple of matrices of equal shape — entries run on the same instances
    and seeds — which are resampled with the *same* ``J`` and ``I`` (a paired bootstrap), and
    ``statistic`` is then called with one resample of each, e.g. the difference of two
    entries' statistics. Draw order, per chunk of replications (chunks as in the stratified
    bootstrap): ``J`` family by family, then ``I``; the samples depend only on the inputs,
    ``reps`` and ``seed``.

    Args:
        vectorized: whether ``statistic`` accepts stacks ``(R, n_runs, n_tasks)`` and returns
            ``(R, ...)``; otherwise it is called once per replication.

    Returns:
        array of shape ``(reps, ...)``.
    """
    mats = tuple(_score_array(s) for s in (scores if isinstance(scores, tuple) else (scores,)))
    if any(m.ndim != 2 or m.shape != mats[0].shape for m in mats):
        raise ValueError(f"scores must be (n_runs, n_tasks) matrices of one shape, got {[m.shape for m in mats]}")
    _check_reps_alpha(reps)
    n, m = mats[0].shape
    groups = _family_columns(families, m)
    rng = np.random.default_rng(seed)
    out = []
    for size in _chunk_sizes(int(reps), n * m * len(mats)):
        picked = np.empty((size, m), dtype=np.intp)
        for cols in groups:
            picked[:, cols] = cols[rng.integers(0, len(cols), size=(size, len(cols)))]
        runs = rng.integers(0, n, size=(size, n, m))
        stacks = tuple(mat[runs, picked[:, None, :]] for mat in mats)
        out.append(_apply(statistic, stacks, vectorized))
    return np.concatenate(out, axis=0)


def instance_bootstrap_ci(
    scores: ArrayLike | tuple[ArrayLike, ...],
    families,
    statistic: Callable[..., ArrayLike],
    reps: int = 2000,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = 0,
    vectorized: bool = False,
) -> Interval:
    """Point estimate and percentile ``1 − alpha`` CI of ``statistic`` over the two-level
    bootstrap of :func:`instance_bootstrap_samples` (instances within families, then runs)."""
    _check_reps_alpha(reps, alpha)
    samples = instance_bootstrap_samples(scores, families, statistic, reps=reps, seed=seed, vectorized=vectorized)
    mats = tuple(_score_array(s) for s in (scores if isinstance(scores, tuple) else (scores,)))
    return _percentile_interval(statistic(*mats), samples, alpha)


# --------------------------------------------------------------------------------------------
# Probability of improvement
# --------------------------------------------------------------------------------------------


def probability_of_improvement(x: ArrayLike, y: ArrayLike) -> np.ndarray:
    """Probability that a run of X beats a run of Y on a random task (rliable's definition).

    ``x`` is ``(n_runs_x, n_tasks)``, ``y`` is ``(n_runs_y, n_tasks)``, same tasks in the same
    column order. For each task ``m`` the Mann–Whitney U statistic (ties count one half) over
    all ``n_runs_x · n_runs_y`` pairs of runs is::

        U_m = #{(i, j) : x[i, m] > y[j, m]} + 0.5 · #{(i, j) : x[i, m] = y[j, m]}

    (``scipy.stats.mannwhitneyu(x[:, m], y[:, m]).statistic``), and the estimate of
    ``P(X_m > Y_m) + 0.5 · P(X_m = Y_m)`` is ``U_m / (n_runs_x · n_runs_y)``. The result is the
    average over tasks::

        PoI(X, Y) = (1 / n_tasks) Σ_m U_m / (n_runs_x · n_runs_y)

    PoI(X, Y) + PoI(Y, X) = 1; identical distributions give 0.5; X better than Y in every
    pair on every task gives 1. It says how *often* X is better, not by how much.
    Stacks ``(..., n_runs, n_tasks)`` with equal leading shapes give one value per matrix.
    """
    xa = _score_array(x, "x")
    ya = _score_array(y, "y")
    if xa.shape[-1] != ya.shape[-1] or xa.shape[:-2] != ya.shape[:-2]:
        raise ValueError(f"x and y must cover the same tasks, got shapes {xa.shape} and {ya.shape}")
    xi = xa[..., :, None, :]
    yj = ya[..., None, :, :]
    greater = np.sum(xi > yj, axis=(-3, -2))
    ties = np.sum(xi == yj, axis=(-3, -2))
    per_task = (greater + 0.5 * ties) / (xa.shape[-2] * ya.shape[-2])
    return np.mean(per_task, axis=-1)[()]


def _poi_inputs(x: ArrayLike, y: ArrayLike, paired: bool) -> tuple[np.ndarray, np.ndarray]:
    xa = _score_array(x, "x")
    ya = _score_array(y, "y")
    if xa.ndim != 2 or ya.ndim != 2 or xa.shape[1] != ya.shape[1]:
        raise ValueError(
            "x and y must be (n_runs, n_tasks) matrices over the same tasks, "
            f"got {xa.shape}, {ya.shape}"
        )
    if paired and xa.shape[0] != ya.shape[0]:
        raise ValueError("paired=True needs the same number of runs in x and y")
    return xa, ya


def _counts_below(idx: np.ndarray, n: int) -> np.ndarray:
    """How many of each replication's and task's indices ``idx`` ``(R, k, n_tasks)`` are below
    ``0, 1, …, n``: ``(R, n + 1, n_tasks)``."""
    size, k, m = idx.shape
    below = np.zeros((size, n + 1, m), dtype=np.int32)
    levels = np.arange(n + 1)[:, None]
    for i in range(k):  # k planes added (a sum over the short axis 1 is several times slower)
        below += idx[:, i, None, :] < levels
    return below


def _poi_samples(xs: list[np.ndarray], ya: np.ndarray, reps: int, rng: np.random.Generator,
                 paired: bool) -> list[np.ndarray]:
    """Bootstrap PoIs of each matrix of ``xs`` (all of one shape) against ``ya``: for each, what
    ``probability_of_improvement(xa[ix, columns], ya[iy, columns])`` gives on the draws of
    :func:`probability_of_improvement_ci`, to the bit, from one set of draws of ``rng``.

    The all-pairs comparison of two resamples needs no pairs: a resample is how often it drew each
    run (``cx``, ``cy``), and with ``y``'s runs sorted per task, the drawn ``y`` below a run ``a`` of
    ``x`` are a prefix of that order, ``lt[a]`` long (``le[a]`` with the ties), so::

        greater = Σ_a cx[a] · Cy[lt[a]],   ties = Σ_a cx[a] · Cy[le[a]] − greater

    with ``Cy`` the cumulative counts of ``y``'s draws in sorted order: the same integers as the
    pairwise counts, in ``n_x`` products instead of ``n_x · n_y`` comparisons, and the draws and
    ``Cy`` are made once for every ``x``. The float steps after them are those of
    :func:`probability_of_improvement`, on arrays of the same shapes (the chunks of replications).
    """
    nx, m = xs[0].shape
    ny = ya.shape[0]
    order = np.argsort(ya, axis=0, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(ny)[:, None], axis=0)  # rank[b, m]: b's place in m's order
    columns = np.arange(m)
    # each x's place in y's order, per run and task: how many of y's runs are below it, and up to it,
    # as positions in the flattened (place, task) axis of Cy below
    below = [np.sum(ya[None, :, :] < xa[:, None, :], axis=1) * m + columns for xa in xs]  # (nx, M) each
    upto = [np.sum(ya[None, :, :] <= xa[:, None, :], axis=1) * m + columns for xa in xs]
    out: list[list[np.ndarray]] = [[] for _ in xs]
    for size in _chunk_sizes(int(reps), max(nx * ny * m, (nx + ny) * m)):
        ix = rng.integers(0, nx, size=(size, nx, m))
        iy = ix if paired else rng.integers(0, ny, size=(size, ny, m))
        cx = np.diff(_counts_below(ix, nx), axis=1)  # how often each run of x is drawn: (R, nx, M)
        cum = _counts_below(rank[iy, columns], ny).reshape(size, (ny + 1) * m)  # Cy: (R, (ny + 1) · M)
        for samples, lt, le in zip(out, below, upto):
            greater = np.sum(cx * np.take(cum, lt, axis=1), axis=1)  # (R, M)
            ties = (np.sum(cx * np.take(cum, le, axis=1), axis=1) - greater if (lt != le).any()
                    else np.zeros_like(greater))
            per_task = (greater + 0.5 * ties) / (nx * ny)
            samples.append(np.mean(per_task, axis=-1))
    return [np.concatenate(samples, axis=0) for samples in out]


def probability_of_improvement_ci(
    x: ArrayLike,
    y: ArrayLike,
    reps: int = 2000,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = 0,
    paired: bool = False,
) -> Interval:
    """``probability_of_improvement(x, y)`` with a percentile stratified-bootstrap CI.

    Each replication resamples ``x`` and ``y`` by the stratified bootstrap (per task, runs
    with replacement) and recomputes the PoI; ``(low, high)`` are the ``alpha/2`` and
    ``1 − alpha/2`` quantiles.

    ``paired=False`` (default) resamples ``x`` and ``y`` independently, which allows different
    run counts and matches the PoI's own all-pairs comparison. ``paired=True`` draws one set of
    indices for both (row ``n`` of ``x`` and of ``y`` stay together, e.g. the same seed); this
    is what rliable's ``get_interval_estimates`` does, and needs ``n_runs_x == n_runs_y``.

    Draw order, per chunk of replications (chunks as in the stratified bootstrap): the ``x``
    indices ``(size, n_runs_x, n_tasks)``, then (unpaired) the ``y`` indices; the samples depend only
    on the inputs, ``reps`` and ``seed``. Many ``x`` against one ``y``: :func:`probability_of_improvement_cis`.
    """
    xa, ya = _poi_inputs(x, y, paired)
    _check_reps_alpha(reps, alpha)
    samples = _poi_samples([xa], ya, reps, np.random.default_rng(seed), paired)[0]
    return _percentile_interval(probability_of_improvement(xa, ya), samples, alpha)


def probability_of_improvement_cis(
    xs: list[ArrayLike],
    y: ArrayLike,
    reps: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    paired: bool = False,
) -> list[Interval]:
    """``[probability_of_improvement_ci(x, y, reps, alpha, seed, paired) for x in xs]``, the same
    intervals to the bit, faster: a board's PoI of every entry against the best baseline.

    With one integer ``seed`` every call draws the same indices for the same shapes, so they are
    drawn once for all the ``x`` of a run count (and ``y``'s resamples sorted once), not once per
    ``x``. ``seed`` must be an int: a ``Generator`` would give each call other draws.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int (each x gets the draws of that seed), got {seed!r}")
    _check_reps_alpha(reps, alpha)
    pairs = [_poi_inputs(x, y, paired) for x in xs]
    ya = pairs[0][1] if pairs else _score_array(y, "y")  # (checked with each x by _poi_inputs)
    by_runs: dict[int, list[int]] = {}  # run count -> positions in xs: one set of draws each
    for i, (xa, _) in enumerate(pairs):
        by_runs.setdefault(xa.shape[0], []).append(i)
    out: list[Interval | None] = [None] * len(pairs)
    for positions in by_runs.values():
        group = [pairs[i][0] for i in positions]
        for i, xa, samples in zip(positions, group,
                                  _poi_samples(group, ya, reps, np.random.default_rng(seed), paired)):
            out[i] = _percentile_interval(probability_of_improvement(xa, ya), samples, alpha)
    return out


# --------------------------------------------------------------------------------------------
# Performance profiles
# --------------------------------------------------------------------------------------------


def performance_profile(
    scores: ArrayLike, taus: ArrayLike, average_runs: bool = False
) -> np.ndarray:
    """rliable's performance profile: the fraction of runs scoring above each threshold τ.

    ``average_runs=False`` (the *run-score distribution*, rliable's default)::

        F(τ) = (1 / (N·M)) Σ_{n,m} 1[scores[n, m] > τ]

    ``average_runs=True`` (the *average-score distribution*): the fraction of tasks whose mean
    score over runs exceeds τ, ``(1/M) Σ_m 1[(1/N) Σ_n scores[n, m] > τ]``.

    F is non-increasing in τ; a profile that lies above another everywhere is stochastically
    dominant. The comparison is strict (``>``), as in rliable. For bootstrap bands use
    ``stratified_bootstrap_ci(scores, lambda s: performance_profile(s, taus), vectorized=True)``.

    Returns:
        array of shape ``(..., len(taus))``.
    """
    arr = _score_array(scores)
    taus = np.atleast_1d(np.asarray(taus, dtype=np.float64))
    if taus.ndim != 1:
        raise ValueError("taus must be a 1-D sequence of thresholds")
    if average_runs:
        values = np.mean(arr, axis=-2)  # (..., M)
    else:
        values = arr.reshape(*arr.shape[:-2], -1)  # (..., N·M)
    return np.mean(values[..., :, None] > taus, axis=-2)


def _times_array(times: ArrayLike) -> np.ndarray:
    arr = np.asarray(times, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"times must have shape (n_submissions, n_tasks), got {arr.shape}")
    if np.any(np.isnan(arr)) or np.any(arr <= 0):
        raise ValueError("times must be positive (inf where the target was never reached), not NaN")
    return arr


def performance_ratios(times: ArrayLike) -> np.ndarray:
    """AlgoPerf / Dolan–Moré performance ratios: each time over the fastest time on its task.

    For time-to-target ``t[s, k]`` of submission ``s`` on task ``k`` (``inf`` = not reached)::

        r[s, k] = t[s, k] / min_{s'} t[s', k]

    so the fastest submission on a task has r = 1 and one twice as slow has r = 2. A
    submission that missed the target has r = ∞. A task that *no* submission reached has
    r = ∞ for everyone: it still counts in the denominator of the profile and gives 0 to
    every submission (AlgoPerf gets the same through NaN ratios). Ratios are relative to the
    submissions passed in: adding a faster one changes everyone's ratios.

    Args:
        times: ``(n_submissions, n_tasks)`` positive times, ``inf`` where never reached.

    Returns:
        ``(n_submissions, n_tasks)`` float64 array of ratios ≥ 1 (or ``inf``).
    """
    t = _times_array(times)
    best = np.min(t, axis=0)
    with np.errstate(invalid="ignore"):
        ratios = t / best
    return np.where(np.isinf(best), np.inf, ratios)


def algoperf_profile(times: ArrayLike, taus: ArrayLike) -> np.ndarray:
    """AlgoPerf performance profile: fraction of tasks each submission solves within τ × best.

    ``ρ_s(τ) = (1 / n_tasks) Σ_k 1[r[s, k] ≤ τ]`` with ``r = performance_ratios(times)``.
    ρ_s is a non-decreasing step function; ρ_s(1) is the fraction of tasks on which ``s`` is
    (one of) the fastest, and ρ_s(∞) the fraction it solves at all.

    Returns:
        ``(n_submissions, len(taus))`` array.
    """
    r = performance_ratios(times)
    taus = np.atleast_1d(np.asarray(taus, dtype=np.float64))
    if taus.ndim != 1:
        raise ValueError("taus must be a 1-D sequence of thresholds")
    return np.mean(r[:, :, None] <= taus, axis=1)


def algoperf_score(times: ArrayLike, r_max: float = 4.0, n_points: int | None = 100) -> np.ndarray:
    """AlgoPerf benchmark score: the normalised area under each submission's profile.

    ::

        score_s = (1 / (r_max − 1)) ∫_1^{r_max} ρ_s(τ) dτ  ∈ [0, 1]

    1 means fastest on every task; a task solved at ratio r contributes
    ``max(r_max − r, 0) / (r_max − 1)`` (averaged over tasks), so being more than ``r_max``
    times slower than the best counts as not solving it.

    ``n_points`` chooses the integration, as AlgoPerf's scoring code does it by default:
    ``τ = linspace(1, r_max, n_points)`` (AlgoPerf: min_tau=1, max_tau=4, num_points=100,
    scale="linear") and the trapezoidal rule on that grid (``compute_leaderboard_score(...,
    normalize=True)``). Because ρ is a step function the trapezoid is off by at most half a
    grid step per task (≤ 1/198 of the score with the defaults). ``n_points=None`` returns the
    exact integral ``mean_k max(r_max − r[s, k], 0) / (r_max − 1)``.

    Tasks nobody reached give 0 to everyone (see ``performance_ratios``).

    Returns:
        ``(n_submissions,)`` array of scores.
    """
    if not r_max > 1.0:
        raise ValueError(f"r_max must be > 1, got {r_max}")
    if n_points is None:
        r = performance_ratios(times)
        return np.mean(np.maximum(r_max - r, 0.0), axis=1) / (r_max - 1.0)
    if int(n_points) < 2:
        raise ValueError(f"n_points must be >= 2 (or None for the exact integral), got {n_points}")
    taus = np.linspace(1.0, r_max, int(n_points))
    rho = algoperf_profile(times, taus)
    area = np.sum(0.5 * (rho[:, 1:] + rho[:, :-1]) * np.diff(taus), axis=1)
    return area / (r_max - 1.0)


# --------------------------------------------------------------------------------------------
# Everything at once
# --------------------------------------------------------------------------------------------


def aggregate(
    scores: ArrayLike,
    reps: int = 2000,
    seed: int | np.random.Generator | None = 0,
    alpha: float = 0.05,
    gamma: float = 1.0,
) -> dict[str, Interval]:
    """IQM, mean, median and optimality gap of a score matrix, each with a bootstrap CI.

    All four intervals come from the *same* ``reps`` stratified-bootstrap resamples, so with an
    integer seed each entry equals ``stratified_bootstrap_ci(scores, f, reps, alpha, seed)``
    for the corresponding function ``f`` (with ``gamma`` for the optimality gap).

    Returns:
        ``{"iqm": Interval, "mean": Interval, "median": Interval, "optimality_gap": Interval}``;
        each ``Interval`` unpacks as ``(estimate, low, high)``.
    """
    _check_reps_alpha(reps, alpha)
    arr = _score_array(scores)
    names = ("iqm", "mean", "median", "optimality_gap")

    def all_four(s: np.ndarray) -> np.ndarray:
        return np.stack([iqm(s), mean(s), median(s), optimality_gap(s, gamma)], axis=-1)

    samples = stratified_bootstrap_samples(arr, all_four, reps=reps, seed=seed, vectorized=True)
    estimates = all_four(arr)
    return {
        name: _percentile_interval(estimates[i], samples[:, i], alpha)
        for i, name in enumerate(names)
    }
