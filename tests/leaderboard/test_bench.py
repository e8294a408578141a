"""The main-job benchmark's split of CPU time into per-instance costs per family (hand-checked)."""

import pytest

from lrgym.leaderboard.bench import per_family_costs


def test_per_family_costs_by_hand():
    # fixed cost 10, linreg 2 CPU-s per instance × 8, mlp 5 × 4: all = 10 + 16 + 20 = 46,
    # alone: linreg 10 + 16 = 26, mlp 10 + 20 = 30
    text = per_family_costs({"all": 46.0, "linreg": 26.0, "mlp": 30.0}, {"linreg": 8, "mlp": 4})
    assert text == "CPU-s per instance: linreg 2.00, mlp 5.00; fixed cost of a run 10.0 CPU-s"


def test_per_family_costs_needs_every_family():
    with pytest.raises(KeyError):
        per_family_costs({"all": 46.0, "linreg": 26.0}, {"linreg": 8, "mlp": 4})
