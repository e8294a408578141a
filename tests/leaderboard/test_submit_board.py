"""What ``submit`` prints of the board after a graded submission: a small board whole, of a large
one (a hosted board: thousands of rows) the top rows, the best baseline's and the submission's own."""

from types import SimpleNamespace

import numpy as np
import pytest
from lb_helpers import synthetic_entry, synthetic_runs

typer_testing = pytest.importorskip("typer.testing")

from lrgym.leaderboard import cli, report_terminal  # noqa: E402
from lrgym.leaderboard.ranking import build_leaderboard  # noqa: E402
from lrgym.leaderboard.runner import summarize  # noqa: E402
from lrgym.leaderboard.store import ResultStore  # noqa: E402
from lrgym.leaderboard.suite import get_suite  # noqa: E402

SUITE = get_suite("quick")  # 4 tasks × 2 seeds
EXAMPLE = "leaderboard/submissions/example_policy.py:LossWatcher"


def _store(path, n_entries: int, mine: float) -> None:
    """Baselines b0..b4 (b2 the best, at 0.705), submissions s05.. (the best first, at 0.96, then
    decreasing by 0.01) and ``mine`` scoring ``mine``, written last."""
    levels = [0.5, 0.6, 0.705, 0.3, 0.1] + [0.96 - 0.01 * i for i in range(n_entries - 6)] + [mine]
    with ResultStore(path) as store:
        for i, level in enumerate(levels):
            name, kind = (f"b{i}", "baseline") if i < 5 else (("mine", "submission") if i == len(levels) - 1
                                                               else (f"s{i:02d}", "submission"))
            matrix = level + 0.001 * np.arange(8).reshape(2, 4)
            runs = synthetic_runs(SUITE, matrix)
            store.add_entry(synthetic_entry(SUITE, name, kind, summary=summarize(runs, SUITE, reps=20)), runs)


def _submit(tmp_path, monkeypatch):
    """``submit`` of "mine" with the grading replaced by the entry already stored: what it prints."""
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        entry = next(e for e in store.entries(SUITE.version) if e.name == "mine")

    def graded(specs, *args, **kw):
        return [SimpleNamespace(kept=None, entry=entry, ok=True)], None, db

    monkeypatch.setattr(cli, "_run", graded)
    monkeypatch.setattr(cli, "_cached_references", lambda suite, private=None: None)  # synthetic runs
    result = typer_testing.CliRunner().invoke(
        cli.app, ["leaderboard", "submit", EXAMPLE, "--name", "mine", "--suite", "quick", "--db", str(db)],
        env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    return result.output


def _ranks(out: str) -> list[str]:
    """The first cell of each table row: a rank or the "…" of left-out ranks."""
    return [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")]


def test_a_large_board_prints_the_top_the_best_baseline_and_the_submission(tmp_path, monkeypatch):
    _store(tmp_path / "r.sqlite", 60, mine=0.2)
    out = _submit(tmp_path, monkeypatch)
    with ResultStore(tmp_path / "r.sqlite") as store:
        lb = build_leaderboard(store, SUITE, reps=20)
    best, mine = lb.row("b2").rank, lb.row("mine").rank
    assert report_terminal.SUBMIT_TOP_ROWS < best < mine - 1 < len(lb.rows) - 1  # gaps on either side
    top = [str(k) for k in range(1, report_terminal.SUBMIT_TOP_ROWS + 1)]
    assert _ranks(out) == top + ["…", str(best), "…", str(mine), "…"]
    assert (f"22 of the board's {len(lb.rows)} rows (the top 20, the best baseline's, mine's); every row: "
            f"`lrgym leaderboard show --suite quick --db {tmp_path / 'r.sqlite'}`") in " ".join(out.split())
    assert f"mine: rank {mine} of {len(lb.rows)} on quick/r1" in out


def test_a_submission_in_the_top_rows_is_not_printed_twice(tmp_path, monkeypatch):
    _store(tmp_path / "r.sqlite", 60, mine=0.99)
    out = _submit(tmp_path, monkeypatch)
    ranks = _ranks(out)
    assert ranks[0] == "1" and ranks.count("1") == 1 and "│ mine " in out
    assert len([r for r in ranks if r != "…"]) == report_terminal.SUBMIT_TOP_ROWS + 1  # and the best baseline


def test_a_small_board_is_printed_whole(tmp_path, monkeypatch):
    _store(tmp_path / "r.sqlite", report_terminal.SUBMIT_WHOLE_BOARD, mine=0.2)
    out = _submit(tmp_path, monkeypatch)
    assert _ranks(out) == [str(k) for k in range(1, report_terminal.SUBMIT_WHOLE_BOARD + 1)]
    assert "rows (the top" not in out
