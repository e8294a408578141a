"""The per-run score S and the reference's "best" rule against plain-Python implementations of
LEADERBOARD.md's definitions (natural logs from the math module, loops over hand-made losses)."""

from __future__ import annotations

import math

import pytest

from lrgym.baselines.reference import Row, best_row
from lrgym.leaderboard.scoring import score


def _s(l0: float, lt: float, lref: float, clip=(-1.0, 2.0)) -> float:
    """S = (log L0 − log LT) / (log L0 − log L_ref), losses below 1e-12 × L0 counting as
    1e-12 × L0, clipped (no divergence here)."""
    floor = 1e-12 * l0
    lt, lref = max(lt, floor), max(lref, floor)
    s = (math.log(l0) - math.log(lt)) / (math.log(l0) - math.log(lref))
    return s if clip is None else min(max(s, clip[0]), clip[1])


@pytest.mark.parametrize("l0, lt, lref", [
    (1.0, 1e-6, 1e-13),  # the reference below the floor: 6 / 12 = 0.5
    (1.0, 1e-6, 1e-30),
    (2.0, 2e-13, 2e-10),  # the run below the floor: 12 / 10 = 1.2
    (3.0, 1e-40, 3e-11),  # 12 / 11
    (5.0, 5e-12, 5e-9),  # at the floor exactly: 12 / 9
    (1.0, 10 ** -12.5, 1e-9),  # half a decade below: 12 / 9
])
def test_the_precision_floor_is_1e_12_times_the_initial_loss(l0, lt, lref):
    assert float(score(l0, lt, lref, clip=None)) == pytest.approx(_s(l0, lt, lref, clip=None), rel=1e-12)
    assert float(score(l0, lt, lref)) == pytest.approx(_s(l0, lt, lref), rel=1e-12)


def test_the_floor_by_hand():
    assert float(score(1.0, 1e-6, 1e-13)) == pytest.approx(0.5, rel=1e-12)  # log 1e6 / log 1e12
    assert float(score(2.0, 2e-13, 2e-10, clip=None)) == pytest.approx(1.2, rel=1e-12)  # 12 / 10


def _minimax_choice(rows: list[Row]) -> float:
    """The documented rule, slowly (every row made progress on every seed, none diverged): the
    LR η* against which the highest mean-over-seeds S of any LR run is lowest; ties → smaller LR."""
    def mean_s(row, ref):
        return sum(_s(l0, lt, lr, clip=None) for l0, lt, lr in zip(row.initial_loss, row.final_loss, ref.final_loss)) \
            / len(row.final_loss)

    worst = {ref.lr: max(mean_s(row, ref) for row in rows) for ref in rows}
    return min(worst, key=lambda lr: (worst[lr], lr))


def test_the_reference_minimises_the_best_mean_score_against_it():
    """Log-improvements g (L0 = 1, LT = e^−g) on two seeds: A (4, 5), B (6, 4), C (2, 8).
    max over LRs of the mean S against A: B's (6/4 + 4/5)/2 = 1.15; against B: C's
    (2/6 + 8/4)/2 = 7/6; against C: B's (6/2 + 4/8)/2 = 1.75 → A. (Taking each seed's best LR
    first, mean over seeds of max g / g_ref, would give A (6/4 + 8/5)/2 = 1.55, B (1 + 2)/2 = 1.5
    → B; the lowest mean log loss, the highest mean g, ties B and C at 5 → B.)"""
    g = {0.01: (4.0, 5.0), 0.1: (6.0, 4.0), 1.0: (2.0, 8.0)}
    rows = [Row(lr, (1.0, 1.0), tuple(math.exp(-x) for x in gs)) for lr, gs in g.items()]
    assert _minimax_choice(rows) == 0.01
    assert best_row(rows).lr == 0.01
    assert best_row(list(reversed(rows))).lr == 0.01  # whatever order the LRs were run in
