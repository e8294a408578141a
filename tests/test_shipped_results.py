"""The results the repository ships are of the policies it ships.

``LEADERBOARD.md``, its HTML report (``docs/controller/report-v2.html``), the README's val table,
the transfer studies (``docs/transfer/``) and the README's copies of their tables are generated
files. A retune (``baselines/tuned.json``) or a retrain (``baselines/weights/``)
that is not followed by re-running them leaves numbers of other policies under the shipped
names — which happened (the transfer study of 2026-12-02 outlived a retune and two retrains,
the HTML report a retrain). These tests
compare recorded SHA-256s with the files shipped now, and the generated files with each other;
nothing is recomputed, so they hold on any machine.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lrgym.baselines.registry import MADE_FROM, shipped_inputs

ROOT = Path(__file__).resolve().parents[1]
BOARD = ROOT / "LEADERBOARD.md"
TRANSFER = ROOT / "docs" / "transfer"


def made_from(text: str) -> dict[str, str]:
    """The file → hash prefix pairs of the one "Baselines made from ..." sentence in ``text``."""
    [sentence] = re.findall(re.escape(MADE_FROM) + r"(.*?\.)(?:\n|$)", text)
    return dict(re.findall(r"`([^`]+)` ([0-9a-f]{12}(?: / [0-9a-f]{12})*)", sentence))


def shortened(inputs: dict[str, str]) -> dict[str, str]:
    return {name: digest[:12] for name, digest in inputs.items()}


def board_rows() -> dict[str, list[str]]:
    """Entry name → its cells on LEADERBOARD.md's ranking table."""
    rows = {}
    for line in BOARD.read_text().splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) > 4 and cells[0].isdigit():  # | # | entry | kind | IQM [CI] | ...
            rows[cells[1].replace("\\_", "_")] = cells
    return rows


#: the shipped transfer studies: (folder, README markers) — the main one and its summed-loss control
STUDIES = {"mean": (TRANSFER, "transfer"), "sum": (TRANSFER / "sum-loss", "transfer-sum")}


@pytest.fixture(scope="module", params=list(STUDIES))
def study(request):
    folder, marker = STUDIES[request.param]
    return folder, marker, json.loads((folder / "transfer.json").read_text())


def test_board_ran_the_shipped_tuned_values_and_weights():
    rows = board_rows()
    baselines = [name for name, cells in rows.items() if cells[2] in ("baseline", "learned")]
    assert len(baselines) == 18
    assert made_from(BOARD.read_text()) == shortened(shipped_inputs(baselines))


def test_transfer_study_ran_the_shipped_tuned_values_and_weights(study):
    _, _, result = study
    assert result["inputs"] == shipped_inputs(result["agreement"]["policies"])


def test_transfer_study_lrgym_side_is_the_board(study):
    """Its lrgym column is each policy's IQM on LEADERBOARD.md (both rounded to 0.01)."""
    rows = board_rows()
    ag = study[2]["agreement"]
    assert len(ag["policies"]) == 17
    for policy, iqm in zip(ag["policies"], ag["iqm"]["lrgym"]):
        assert f"{iqm:.2f}" == rows[policy][3].split()[0], policy


def readme_block(begin: str, end: str) -> str:
    return (ROOT / "README.md").read_text().split(begin)[1].split(end)[0]


def test_readme_val_table_ran_the_shipped_tuned_values_and_weights():
    from lrgym.baselines.registry import LEARNED

    block = readme_block("<!-- val-table:begin -->", "<!-- val-table:end -->")
    names = re.findall(r"^\| (\w+)(?: \(learned\))? \|(?: [-0-9.]+ \|)", block, re.MULTILINE)
    assert len(names) == 18 and set(LEARNED) <= set(names)
    assert made_from(block) == shortened(shipped_inputs(names))


def test_readme_shows_the_shipped_transfer_table(study):
    folder, marker, result = study
    block = readme_block(f"<!-- {marker}:start -->", f"<!-- {marker}:end -->")
    assert block.strip() == (folder / "transfer.md").read_text().strip()
    assert result["config"].get("loss_reduction", "mean") == ("sum" if folder.name == "sum-loss" else "mean")


def test_controller_report_ran_the_shipped_tuned_values_and_weights():
    """docs/controller/report-v2.html (the HTML report of the shipped board): every entry's
    details name the shipped files it ran."""
    page = (ROOT / "docs" / "controller" / "report-v2.html").read_text()
    entries = re.findall(r"<details><summary>([^<]+?) \((baseline|learned)\)</summary>(.*?)</details>", page, re.S)
    assert len(entries) == 18
    for name, _, details in entries:
        recorded = dict(re.findall(r"made from <code>([^<]+)</code> sha256 <code>([0-9a-f]{64})</code>", details))
        assert recorded == shipped_inputs([name]), name


def test_readme_headline_states_the_shipped_board_and_study():
    """The README's opening answer (the learned controller first, the ranking's transfer) quotes
    LEADERBOARD.md and the transfer study; its claim that the controller beats every
    hand-designed rule holds on the board (its CI's lower end above their best IQM)."""
    text = (ROOT / "README.md").read_text()
    head = " ".join(text.split("## Quick start")[0].split())
    found = re.search(r"controller beats every hand-designed rule \(family IQM of the normalised score "
                      r"([0-9.]+ \[[0-9.]+, [0-9.]+\]), against ([0-9.]+) for the (.+?): ", head)
    assert found, "the README's opening no longer states the controller's result"
    rows = board_rows()
    assert found.group(1) == rows["controller"][3]
    hand = {name: float(cells[3].split()[0]) for name, cells in rows.items() if cells[2] == "baseline"}
    best = max(hand.values())
    assert float(found.group(2)) == best
    named = {re.sub(r"^the ", "", n) for n in re.split(r",? and |, ", found.group(3))}  # "the plateau rule and ..."
    spoken = {"plateau": "plateau rule"}
    assert named == {spoken.get(n, n.replace("_", " ")) for n, v in hand.items() if v == best}
    low = float(rows["controller"][3].split("[")[1].split(",")[0])
    assert low > best, "the controller's CI no longer lies above the best hand-designed entry"
    tau = re.search(r"Kendall τ ([−+][0-9.]+ \[[−+][0-9.]+, [−+][0-9.]+\]) over", head)
    table = (TRANSFER / "transfer.md").read_text()
    pooled = [line for line in table.splitlines() if "Kendall τ" in line][0].split("|")[-2].strip()
    assert tau and tau.group(1).replace("−", "-") == pooled.replace("**", "")
