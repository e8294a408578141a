"""``lrgym leaderboard controller-ablation``: the README's ablation table in one command (a smoke
test on a tiny suite file), checked against the stored runs' own scores; nothing shipped is written."""

import json
import re

import numpy as np
from typer.testing import CliRunner

from lrgym.baselines.controller import INPUT_GROUPS
from lrgym.baselines.outputs import shipped_outputs
from lrgym.leaderboard import scoring
from lrgym.leaderboard.ablation_table import FOR_SCALE, ablation_rows, markdown_table
from lrgym.leaderboard.cli import app
from lrgym.leaderboard.runner import score_matrix
from lrgym.leaderboard.store import ResultStore
from lrgym.leaderboard.suite import get_suite

TINY_SUITE = {"name": "ablation-smoke", "revision": 1, "instance_set": "val", "seeds": [0],
              "families": [{"family": f, "instances": [10000], "horizon": 4, "inner_steps": 2}
                           for f in ("linreg", "quadratic", "mlp", "recsys")]}


def _shipped_bytes():
    return {p: p.read_bytes() for p in shipped_outputs() if p.is_file()}


def test_the_command_grades_every_row_and_prints_the_readmes_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    suite_file = tmp_path / "tiny.json"
    suite_file.write_text(json.dumps(TINY_SUITE))
    db = tmp_path / "r.sqlite"
    before = _shipped_bytes()
    result = CliRunner().invoke(app, ["leaderboard", "controller-ablation", "--suite", str(suite_file), "--db", str(db),
                                      "--workers", "2"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    rows = ablation_rows()
    assert [r.name for r in rows] == ["controller", "controller-random", *(f"controller-no-{g}" for g in INPUT_GROUPS),
                                      *FOR_SCALE]
    table = result.output[result.output.index("| variant (ablation-smoke suite) |"):]
    # stdout is the table alone (`> table.md`); the grading's progress and outcome lines are on stderr
    assert result.stdout == table and "✓ controller-random" in result.stderr
    lines = table.strip().splitlines()
    assert len(lines) == 2 + len(rows)
    suite = get_suite(str(suite_file))
    with ResultStore(db) as store:
        entries = {e.name: e for e in store.latest_entries(suite.version)}
        for row, line in zip(rows, lines[2:]):
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert cells[0] == row.label
            scores = score_matrix(store.runs(entries[row.name].id, curves=False), suite)
            # the IQM of all runs, by the scoring module on the stored scores, to 3 decimals
            iqm = float(scoring.iqm(scores))
            shown = re.match(r"\**(−?[\d.]+) \[(−?[\d.]+), (−?[\d.]+)\]", cells[1])
            assert float(shown[1].replace("−", "-")) == round(iqm, 3)
            assert float(shown[2].replace("−", "-")) <= round(iqm, 3) + 1e-9 <= float(shown[3].replace("−", "-")) + 2e-9
            assert cells[-2].replace("−", "-") == f"{np.mean(scores):.2f}".replace("-0.00", "0.00")
    assert _shipped_bytes() == before
    # the table again from the store, grading nothing
    again = CliRunner().invoke(app, ["leaderboard", "controller-ablation", "--suite", str(suite_file), "--db", str(db),
                                     "--no-grade"], env={"COLUMNS": "400"})
    assert again.exit_code == 0 and again.stdout == table


def test_the_tables_cells_are_written_as_the_readmes():
    rows = ablation_rows()[:2]
    fam = {"iqm": [1.0041, 0.99, 1.01], "mean": 0.9949, "diverged_fraction": 0.025}
    summary = {"iqm": [1.00716, 1.00449, 1.01001], "mean": [0.9801, 0.97, 0.99], "diverged_fraction": 1 / 160,
               "families": {"linreg": fam, "recsys": {"iqm": [-0.31, -0.4, -0.2], "mean": -0.273,
                                                      "diverged_fraction": 0.075}}}
    text = markdown_table(rows, {"controller": summary}, ("linreg", "recsys"), "val")
    assert text.splitlines() == [
        "| variant (val suite) | IQM [95 % CI] | linreg | recsys | mean | diverged |",
        "|:--|--:|--:|--:|--:|--:|",
        "| **controller** (trained) | **1.007 [1.004, 1.010]** | 1.00 / 0.99 / 2 % | −0.31 / −0.27 / 8 % | 0.98 | 0.6 % |",
        "| random weights (N(0, s²), s = std of the trained ones; one draw) | not on the board (controller-random: "
        "failed or not graded) | | | | |",
    ]
