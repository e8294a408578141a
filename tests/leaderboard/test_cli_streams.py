"""Where the grading commands write: the result (the board, the rank, the ablation table) on stdout,
the progress and its log lines (references computed, each entry's outcome) on stderr, so that
``lrgym leaderboard controller-ablation > table.md`` is the table alone. The progress bar and its
lines went to stdout, ahead of the table (``test_controller_ablation_command.py`` runs the command)."""

from types import SimpleNamespace

import pytest

typer_testing = pytest.importorskip("typer.testing")

from lrgym.leaderboard import cli, cli_grading, runner  # noqa: E402
from lrgym.leaderboard.suite import get_suite  # noqa: E402


def test_the_grading_runs_progress_and_outcome_lines_go_to_stderr(tmp_path, monkeypatch, capsys):
    """``_run`` (what submit, run-baselines and controller-ablation grade through), with the
    references and the grading stood in for: every line it logs is on stderr, nothing on stdout."""
    entry = SimpleNamespace(name="mine", status="ok", summary={"family_iqm": [0.9, 0.8, 1.0]}, failure_reason=None)
    outcome = SimpleNamespace(entry=entry, kept=None, ok=True, elapsed=1.5)

    def references(suite, n_workers=None, log=print, progress=None, **kw):
        log("computing references of quick/r1")
        progress(1, 1)
        return None

    def run_suite(specs, suite, *, on_progress, on_outcome, log, **kw):
        log("a line of the grader's log")
        on_progress(1, 1)
        on_outcome(outcome)
        return [outcome]

    monkeypatch.setattr("lrgym.leaderboard.references.load_references", references)
    monkeypatch.setattr(runner, "run_suite", run_suite)
    outcomes, _, _ = cli_grading._run([], get_suite("quick"), tmp_path / "r.sqlite", 1, "grading")
    assert outcomes == [outcome]
    out, err = capsys.readouterr()
    assert out == ""
    said = " ".join(err.split())
    for line in ("computing references of quick/r1", "a line of the grader's log", "✓ mine family IQM 0.900 [0.800, 1.000]"):
        assert line in said, said


def test_run_baselines_stdout_is_the_board_alone(tmp_path, monkeypatch):
    """``run-baselines > board.txt``: stdout is the board; the run's summary (how many baselines
    ran, in how long, where the results are) and the ``wrote runs/LEADERBOARD.md`` line are on
    stderr. Both were on stdout, after the board. The grading and the board stood in for."""
    from typer.testing import CliRunner

    from lrgym.leaderboard import report

    entry = SimpleNamespace(name="fixed", status="ok", summary={"family_iqm": [0.9, 0.8, 1.0]}, failure_reason=None)
    outcome = SimpleNamespace(entry=entry, kept=None, ok=True, elapsed=1.5)
    db = tmp_path / "r.sqlite"
    monkeypatch.setattr(cli_grading, "_run", lambda specs, suite, db_, *a, **kw: ([outcome], None, db))

    def board(*args, **kwargs):
        cli.console.print("| the board |")
        return SimpleNamespace()

    monkeypatch.setattr(cli_grading, "print_board", board)
    monkeypatch.setattr(report, "markdown", lambda lb, **kw: "# the board\n")
    markdown = tmp_path / "board.md"
    result = CliRunner().invoke(cli.app, ["leaderboard", "run-baselines", "--only", "fixed", "--suite", "quick",
                                          "--db", str(db), "--markdown", str(markdown)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert result.stdout == "| the board |\n"
    said = " ".join(result.stderr.split())
    assert "1/1 baselines on suite quick" in said and f"results in {db}" in said and f"wrote {markdown}" in said
    assert markdown.read_text() == "# the board\n"


def test_suites_stdout_is_the_table_and_a_new_keys_note_is_on_stderr(tmp_path):
    """``suites --private KEY > suites.txt``: stdout is the table; the note that the key was
    created (and is a secret) is on stderr. It was on stdout, ahead of the table."""
    from typer.testing import CliRunner

    key = tmp_path / "k.key"
    result = CliRunner().invoke(cli.app, ["leaderboard", "suites", "--private", str(key)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "created the key" not in result.stdout and result.stdout.lstrip().startswith("suites")
    assert " ".join(result.stderr.split()) == f"created the key {key} (mode 0600): the grader's secret, never share it"
