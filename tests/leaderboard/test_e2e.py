"""End to end on the ``quick`` suite, through the CLI: run-baselines → submit → show → report."""

import re

from lb_helpers import policy

from typer import testing as typer_testing

from lrgym.leaderboard.cli import SHIPPED_BOARD, app
from lrgym.leaderboard.store import ResultStore
from lrgym.leaderboard.suite import get_suite

BASELINES = ("fixed", "cosine", "bold_driver")


def _invoke(*args, env=None):
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", *args], env={"COLUMNS": "250", **(env or {})})
    return result.exit_code, result.output


def test_quick_suite_end_to_end(tmp_path):
    db = tmp_path / "results.sqlite"
    md = tmp_path / "LEADERBOARD.md"
    only = [a for b in BASELINES for a in ("--only", b)]

    code, out = _invoke("run-baselines", "--suite", "quick", "--db", str(db), "--markdown", str(md), *only)
    assert code == 0, out
    text = md.read_text()
    for b in BASELINES:
        assert b in out and b in text
    from lrgym.baselines.registry import shipped_inputs

    tuned = shipped_inputs(["fixed"])["tuned.json"]
    assert f"Baselines made from (SHA-256 of the shipped files they ran, first 12 hex digits): `tuned.json` {tuned[:12]}." in text
    with ResultStore(db) as store:
        assert all(e.env_spec["inputs"] == {"tuned.json": tuned} for e in store.entries("quick/r1"))

    code, out = _invoke("submit", policy("HalfEvery10"), "--name", "my-policy", "--suite", "quick", "--db", str(db))
    assert code == 0, out
    assert re.search(r"my-policy: rank \d of 4 on quick/r1", out), out

    code, out = _invoke("submit", policy("NaNAction"), "--name", "nan-policy", "--suite", "quick", "--db", str(db),
                        "--time-limit", "60")
    assert code == 1
    assert "invalid action" in out

    code, out = _invoke("show", "--suite", "quick", "--db", str(db))
    assert code == 0, out
    assert "my-policy" in out and "nan-policy" in out and "invalid action" in out

    html, md2 = tmp_path / "board.html", tmp_path / "board.md"
    code, out = _invoke("report", "--suite", "quick", "--db", str(db), "--html", str(html), "--markdown", str(md2))
    assert code == 0, out
    page = html.read_text()
    n_families = len(get_suite("quick").families)
    assert page.count('src="data:image/png;base64,') == 3 + n_families  # CIs, 2 profiles, one per family
    for name in ("my-policy", *BASELINES):
        assert name in page and name in md2.read_text()

    # without --markdown / --html the ranking and the page go to runs/ (here $LRGYM_RUNS), never over the shipped board
    shipped = SHIPPED_BOARD.read_bytes()
    runs = tmp_path / "runs"
    code, out = _invoke("report", "--suite", "quick", "--db", str(db), env={"LRGYM_RUNS": str(runs)})
    assert code == 0, out
    assert sorted(p.name for p in runs.iterdir()) == ["LEADERBOARD-quick.md", "leaderboard-quick.html"]
    assert "my-policy" in (runs / "LEADERBOARD-quick.md").read_text()
    assert "my-policy" in (runs / "leaderboard-quick.html").read_text()
    assert SHIPPED_BOARD.read_bytes() == shipped

    with ResultStore(db) as store:
        assert store.check_integrity()
        entries = store.entries("quick/r1")
        assert {e.name for e in entries} == {*BASELINES, "my-policy", "nan-policy"}
