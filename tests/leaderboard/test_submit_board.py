"""What ``submit`` and ``run-baselines`` print of the board after grading: a small board whole, of a
large one (a hosted board: thousands of rows) the top rows, the best baseline's and the rows of the
entries just graded, each as the whole board shows it."""

from types import SimpleNamespace

import numpy as np
import pytest
from lb_helpers import synthetic_entry, synthetic_runs

typer_testing = pytest.importorskip("typer.testing")

from lrgym.leaderboard import cli, cli_grading, cli_reading, report_terminal, scoring  # noqa: E402
from lrgym.leaderboard.ranking import build_leaderboard  # noqa: E402
from lrgym.leaderboard.runner import summarize  # noqa: E402
from lrgym.leaderboard.store import ResultStore  # noqa: E402
from lrgym.leaderboard.suite import get_suite  # noqa: E402

SUITE = get_suite("quick")  # 4 tasks × 2 seeds
EXAMPLE = "leaderboard/submissions/example_policy.py:LossWatcher"


def _store(path, n_entries: int, mine: float) -> None:
    """Baselines b0, b1, b2, fixed, cosine (b2 the best, at 0.705), submissions s05.. (the best
    first, at 0.96, then decreasing by 0.01) and ``mine`` scoring ``mine``, written last."""
    levels = [0.5, 0.6, 0.705, 0.3, 0.1] + [0.96 - 0.01 * i for i in range(n_entries - 6)] + [mine]
    baselines = ["b0", "b1", "b2", "fixed", "cosine"]
    rng = np.random.default_rng(0)
    with ResultStore(path) as store:
        for i, level in enumerate(levels):
            name, kind = (baselines[i], "baseline") if i < 5 else (("mine", "submission") if i == len(levels) - 1
                                                                   else (f"s{i:02d}", "submission"))
            matrix = level + 0.001 * np.arange(8).reshape(2, 4) + rng.normal(0, 0.02, (2, 4))  # PoIs of all sorts
            runs = synthetic_runs(SUITE, matrix)
            store.add_entry(synthetic_entry(SUITE, name, kind, summary=summarize(runs, SUITE, reps=20)), runs)


def _submit(tmp_path, monkeypatch, result_of=None):
    """``submit`` of "mine" with the grading replaced by the entry already stored: what it prints
    (``result_of``: a list the CliRunner result is appended to, for its stdout and stderr apart)."""
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        entry = next(e for e in store.entries(SUITE.version) if e.name == "mine")

    def graded(specs, *args, **kw):
        return [SimpleNamespace(kept=None, entry=entry, ok=True)], None, db

    monkeypatch.setattr(cli_grading, "_run", graded)
    monkeypatch.setattr(cli_reading, "cached_references", lambda suite, private=None: None)  # synthetic runs
    result = typer_testing.CliRunner().invoke(
        cli.app, ["leaderboard", "submit", EXAMPLE, "--name", "mine", "--suite", "quick", "--db", str(db)],
        env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    if result_of is not None:
        result_of.append(result)
    return result.output


def test_a_board_without_a_baseline_points_to_run_baselines_on_stderr(tmp_path, monkeypatch):
    """``submit`` to a board with no baseline printed "rank 1 of 1" and a PoI of "–" with nothing
    saying where a comparison comes from (the "No entries yet" hint is an empty board's only). One
    line on stderr names the command, for this suite and store; a board with a baseline has none."""
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        runs = synthetic_runs(SUITE, 0.5 + 0.001 * np.arange(8).reshape(2, 4))
        store.add_entry(synthetic_entry(SUITE, "mine", "submission", summary=summarize(runs, SUITE, reps=20)), runs)
    results = []
    _submit(tmp_path, monkeypatch, results)
    [result] = results
    assert "mine: rank 1 of 1 on quick/r1" in result.stdout
    hint = f"`lrgym leaderboard run-baselines --suite quick --db {db}`"
    assert hint in " ".join(result.stderr.split()) and "no baseline ranked on this board" in result.stderr
    assert "run-baselines" not in result.stdout
    _store(tmp_path / "other.sqlite", report_terminal.WHOLE_BOARD, mine=0.2)  # b0, b1, b2, ... ranked
    db.unlink()
    (tmp_path / "other.sqlite").rename(db)
    _submit(tmp_path, monkeypatch, results)
    assert "run-baselines" not in results[-1].stderr and "no baseline" not in results[-1].output


def _ranks(out: str) -> list[str]:
    """The first cell of each table row: a rank or the "…" of left-out ranks."""
    return [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")]


def test_a_large_board_prints_the_top_the_best_baseline_and_the_submission(tmp_path, monkeypatch):
    _store(tmp_path / "r.sqlite", 60, mine=0.2)
    out = _submit(tmp_path, monkeypatch)
    with ResultStore(tmp_path / "r.sqlite") as store:
        lb = build_leaderboard(store, SUITE, reps=20)
    best, mine = lb.row("b2").rank, lb.row("mine").rank
    assert report_terminal.TOP_ROWS < best < mine - 1 < len(lb.rows) - 1  # gaps on either side
    top = [str(k) for k in range(1, report_terminal.TOP_ROWS + 1)]
    assert _ranks(out) == top + ["…", str(best), "…", str(mine), "…"]
    assert (f"22 of the board's {len(lb.rows)} rows (the top 20, the best baseline's, mine's); every row: "
            f"`lrgym leaderboard show --suite quick --db {tmp_path / 'r.sqlite'}`") in " ".join(out.split())
    assert f"mine: rank {mine} of {len(lb.rows)} on quick/r1" in out


def test_a_submission_in_the_top_rows_is_not_printed_twice(tmp_path, monkeypatch):
    _store(tmp_path / "r.sqlite", 60, mine=0.99)
    out = _submit(tmp_path, monkeypatch)
    ranks = _ranks(out)
    assert ranks[0] == "1" and ranks.count("1") == 1 and "│ mine " in out
    assert len([r for r in ranks if r != "…"]) == report_terminal.TOP_ROWS + 1  # and the best baseline


def test_a_small_board_is_printed_whole(tmp_path, monkeypatch):
    _store(tmp_path / "r.sqlite", report_terminal.WHOLE_BOARD, mine=0.2)
    out = _submit(tmp_path, monkeypatch)
    assert _ranks(out) == [str(k) for k in range(1, report_terminal.WHOLE_BOARD + 1)]
    assert "rows (the top" not in out


def _table_rows(out: str) -> list[str]:
    """The table's rows, each cell as printed."""
    return [[cell.strip() for cell in line.split("│")] for line in out.splitlines() if line.startswith("│")]


def _whole_board_text(path, names) -> str:
    """The printed rows of ``names``' grading as the whole board (every PoI computed) shows them."""
    import io

    from rich.console import Console

    with ResultStore(path) as store:
        lb = build_leaderboard(store, SUITE, curves=False)
    console = Console(file=io.StringIO(), width=cli.console.width)  # the layout the CLI chooses
    report_terminal.print_table(lb, console, show_failures=False, rows=report_terminal.printed_rows(lb, names))
    return console.file.getvalue()


def _poi_counted(monkeypatch) -> list[int]:
    """How many entries each board's PoI call compares (appended per call)."""
    counted, cis = [], scoring.probability_of_improvement_cis

    def counting(xs, *args, **kw):
        counted.append(len(xs))
        return cis(xs, *args, **kw)

    monkeypatch.setattr(scoring, "probability_of_improvement_cis", counting)
    return counted


def test_submit_computes_the_poi_of_the_printed_rows_only_and_prints_them_as_the_whole_board(tmp_path, monkeypatch):
    """A scale audit (2026-12-06): submit built the whole board (every entry's PoI CI: a third of its
    12 s at 2,000 entries) to print 22 rows. It computes the printed rows' PoIs alone (the best
    baseline's own row has none), and the table is the whole board's, to the character."""
    _store(tmp_path / "r.sqlite", 60, mine=0.2)
    expected = _whole_board_text(tmp_path / "r.sqlite", ["mine"])
    counted = _poi_counted(monkeypatch)
    out = _submit(tmp_path, monkeypatch)
    assert counted == [report_terminal.TOP_ROWS + 2 - 1]  # the top rows, mine's, the best baseline's: its own left out
    assert _table_rows(out) == _table_rows(expected)


def _run_baselines(tmp_path, monkeypatch, *args) -> str:
    """``run-baselines --only cosine --only fixed`` with the grading replaced by the entries stored."""
    db = tmp_path / "r.sqlite"

    def graded(specs, *a, **kw):
        return [SimpleNamespace(kept=None, ok=True) for _ in specs], None, db

    monkeypatch.setattr(cli_grading, "_run", graded)
    monkeypatch.setattr(cli_reading, "cached_references", lambda suite, private=None: None)  # synthetic runs
    result = typer_testing.CliRunner().invoke(
        cli.app, ["leaderboard", "run-baselines", "--only", "cosine", "--only", "fixed", "--suite", "quick",
                  "--db", str(db), *args], env={"COLUMNS": "300", "LRGYM_RUNS": str(tmp_path / "runs")})
    assert result.exit_code == 0, result.output
    return result.output


def test_run_baselines_prints_a_large_board_as_submit_does(tmp_path, monkeypatch):
    """run-baselines printed every row of the board (a hosted board: thousands) after grading a few
    baselines: now, as submit, the top rows, the best baseline's and the graded baselines' (one rule,
    report_terminal.printed_rows), as the whole board shows them; the Markdown ranking it writes
    still has every row."""
    _store(tmp_path / "r.sqlite", 60, mine=0.2)
    with ResultStore(tmp_path / "r.sqlite") as store:
        lb = build_leaderboard(store, SUITE, reps=20)
    ranks = {name: lb.row(name).rank for name in ("b2", "fixed", "cosine")}
    assert report_terminal.TOP_ROWS < ranks["b2"] < ranks["fixed"] - 1 < ranks["cosine"] - 1 == len(lb.rows) - 1
    expected = _whole_board_text(tmp_path / "r.sqlite", ["cosine", "fixed"])
    counted = _poi_counted(monkeypatch)
    out = _run_baselines(tmp_path, monkeypatch, "--no-markdown")
    assert _ranks(out) == [str(k) for k in range(1, report_terminal.TOP_ROWS + 1)] + [
        "…", str(ranks["b2"]), "…", str(ranks["fixed"]), "…", str(ranks["cosine"])]  # (the last row)
    assert _table_rows(out) == _table_rows(expected)
    assert counted == [report_terminal.TOP_ROWS + 3 - 1]
    assert (f"23 of the board's {len(lb.rows)} rows (the top 20, the best baseline's, fixed's, cosine's); every "
            f"row: `lrgym leaderboard show --suite quick --db {tmp_path / 'r.sqlite'}`") in " ".join(out.split())
    out = _run_baselines(tmp_path, monkeypatch)  # the Markdown ranking: every row, every PoI
    assert _table_rows(out) == _table_rows(expected) and counted[1:] == [len(lb.rows) - 1]
    board = (tmp_path / "runs" / "LEADERBOARD-quick.md").read_text()
    assert all(f"| {r.rank} |" in board for r in lb.rows)
