"""Where the grading commands write: the result (the board, the rank, the ablation table) on stdout,
the progress and its log lines (references computed, each entry's outcome) on stderr, so that
``lrgym leaderboard controller-ablation > table.md`` is the table alone. The progress bar and its
lines went to stdout, ahead of the table (``test_controller_ablation_command.py`` runs the command)."""

from types import SimpleNamespace

import pytest

typer_testing = pytest.importorskip("typer.testing")

from lrgym.leaderboard import cli, runner  # noqa: E402
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
    outcomes, _, _ = cli._run([], get_suite("quick"), tmp_path / "r.sqlite", 1, "grading")
    assert outcomes == [outcome]
    out, err = capsys.readouterr()
    assert out == ""
    said = " ".join(err.split())
    for line in ("computing references of quick/r1", "a line of the grader's log", "✓ mine family IQM 0.900 [0.800, 1.000]"):
        assert line in said, said
