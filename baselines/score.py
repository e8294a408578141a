"""The normalised score S of one run: the one score function of lrgym.

Everything that scores a run — the leaderboard (:mod:`lrgym.leaderboard.runner`), the tuner
(:mod:`lrgym.baselines.tune`), the README tables (:mod:`lrgym.leaderboard.val_table`) and the tests —
calls :func:`score` (raw losses in, with the precision floor) or :func:`run_score` (logs in).
It lives on the baselines floor because the tuner needs it and ``lrgym.baselines`` must not
import ``lrgym.leaderboard``; :mod:`lrgym.leaderboard.scoring` re-exports it.

With ``L0`` the initial training loss, ``LT`` the run's final one and ``L_ref`` the final loss
of the instance's reference (the best constant SGD learning rate, :mod:`lrgym.baselines.reference`)
on the same seed::

    S = (log L0 − log LT) / (log L0 − log L_ref)

S = 1 matches the reference, 0 makes no progress, 2 doubles its log-improvement; clipped to
[−1, 2]; a diverged run scores the floor −1. Losses below :data:`PRECISION_FLOOR` × L0 count as
that (:func:`floored`): beyond a 10¹²-fold reduction the digits are floating-point noise.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["PRECISION_FLOOR", "floored", "run_score", "score"]

#: losses below PRECISION_FLOOR × the initial loss count as that (see :func:`floored`)
PRECISION_FLOOR = 1e-12
#: the smallest log-improvement of a reference that counts as progress (:func:`run_score`)
MIN_PROGRESS = 1e-12


def floored(loss: ArrayLike, initial_loss: ArrayLike) -> np.ndarray:
    """``max(loss, PRECISION_FLOOR · L0)``: losses below a 10¹²-fold reduction count as equal
    (only noise-free problems get there, to 1e-50 … 1e-300, where the digits are float noise).
    NaN stays NaN and +inf stays +inf."""
    loss = np.asarray(loss, dtype=float)
    floor = PRECISION_FLOOR * np.asarray(initial_loss, dtype=float)
    return np.where(np.isnan(loss), np.nan, np.maximum(loss, floor))


def run_score(
    log_l0: ArrayLike,
    log_lt: ArrayLike,
    log_lref: ArrayLike,
    diverged: ArrayLike,
    floor: float = -1.0,
    clip: tuple[float, float] | None = (-1.0, 2.0),
    *,
    min_progress: float = MIN_PROGRESS,
) -> np.ndarray:
    """Normalised score of one run (or of many, element-wise) from log losses: 1 = the reference,
    0 = no progress (see the module docstring; :func:`score` takes raw losses and applies the
    precision floor first).

    Conventions, applied in this order:

    1. **Reference without progress.** If ``log L0 − log L_ref ≤ min_progress`` the ratio is
       meaningless (division by ~0, or by a negative number if the reference got worse). Then
       S = 1 if ``log LT ≤ min(log L0, log L_ref)`` (the run did at least as well as both the
       start and the reference) and S = 0 otherwise. Suites should not contain such instances;
       the rule only keeps the score finite and monotone in LT.
    2. **Clipping.** S is clipped to ``clip = (low, high)``, default ``(-1, 2)``, so one
       instance cannot dominate the aggregates. ``clip=None`` disables clipping.
    3. **Divergence.** A run with ``diverged`` true, or whose ``log LT`` is NaN or +inf (a NaN
       or infinite loss), scores ``floor`` (default −1). The floor is applied *after* clipping
       and is used as given; with the defaults a diverged run ties with the worst
       non-diverged run. ``log LT = −inf`` (a loss of exactly 0) is not divergence: it is a
       perfect run and scores ``clip[1]`` (+inf when ``clip=None``; 1 under rule 1).

    Args:
        log_l0: natural log of the initial loss L0; must be finite.
        log_lt: log of the run's final loss LT.
        log_lref: log of the reference's final loss L_ref; must be finite.
        diverged: whether the run diverged (bool).
        floor: score of a diverged run.
        clip: ``(low, high)`` range of non-diverged scores, or None.
        min_progress: smallest reference log-improvement treated as progress.

    All array arguments broadcast against each other.

    Returns:
        float64 array of the broadcast shape (a 0-d input gives a NumPy float).

    Example: ``run_score(2.0, 1.0, 0.0, False)`` is 0.5: the run halved the log-loss gap the
    reference closed.
    """
    log_l0, log_lt, log_lref = (np.asarray(a, dtype=np.float64) for a in (log_l0, log_lt, log_lref))
    diverged = np.asarray(diverged, dtype=bool)
    log_l0, log_lt, log_lref, diverged = np.broadcast_arrays(log_l0, log_lt, log_lref, diverged)
    if not (np.all(np.isfinite(log_l0)) and np.all(np.isfinite(log_lref))):
        raise ValueError("log_l0 and log_lref must be finite")
    if clip is not None and not clip[0] <= clip[1]:
        raise ValueError(f"clip must be (low, high) with low <= high, got {clip}")

    bad = diverged | np.isnan(log_lt) | (log_lt == np.inf)
    safe_lt = np.where(bad, log_l0, log_lt)  # placeholder for diverged runs, overwritten below
    ref_progress = log_l0 - log_lref
    has_progress = ref_progress > min_progress
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = (log_l0 - safe_lt) / np.where(has_progress, ref_progress, 1.0)
    fallback = np.where(safe_lt <= np.minimum(log_l0, log_lref), 1.0, 0.0)
    score = np.where(has_progress, ratio, fallback)
    if clip is not None:
        score = np.clip(score, clip[0], clip[1])
    score = np.where(bad, float(floor), score)
    return score[()]


def _log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


def score(initial_loss: ArrayLike, final_loss: ArrayLike, reference_loss: ArrayLike,
          diverged: ArrayLike = False, clip: tuple[float, float] | None = (-1.0, 2.0)) -> np.ndarray:
    """S of runs from raw losses (element-wise): the score the leaderboard ranks by.

    ``final_loss`` and ``reference_loss`` are first raised to :data:`PRECISION_FLOOR` × L0
    (:func:`floored`); a diverged run, or a final loss that is NaN or +inf, scores −1. L0 and
    L_ref must be positive and finite. ``clip`` as in :func:`run_score` (the reference search
    compares unclipped scores).

    Example: ``score(1.0, 1e-3, 1e-6)`` is 0.5; ``score(1.0, 1e-20, 1e-13)`` is 1.0 (both at the
    floor).
    """
    l0 = np.asarray(initial_loss, dtype=float)
    lref = np.asarray(reference_loss, dtype=float)
    if not (np.all(np.isfinite(l0)) and np.all(l0 > 0) and np.all(np.isfinite(lref)) and np.all(lref >= 0)):
        raise ValueError("initial_loss must be positive and finite, reference_loss finite and >= 0")
    return run_score(_log(l0), _log(floored(final_loss, l0)), _log(floored(lref, l0)), diverged, clip=clip)
