"""A policy graded at other settings than it trained at: its entry keeps which, and the board says so.

``submit`` printed a note on stderr (:mod:`test_trained_apart`), but the entry kept nothing of it,
so a reader of the board (``show``, ``LEADERBOARD.md``, the HTML page, the export) could not tell
a PPO trained with lr_max 1 and graded with its actions setting LRs up to the suite's 10 from one
graded as it learned. The entry now keeps the settings apart (``env_spec["trained_apart"]``: the
numbers the env took, never the submitter's text); its row carries a mark (†) and the note under
the board names each setting with both values. A stored record is read back keeping only numbers
and the board's families (a hand-edited store, a record of another lrgym), and a private board's
note names nothing of its hidden instances."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from lb_helpers import synthetic_entry, synthetic_runs, tiny_suite
from test_trained_apart import _reference_apart

from lrgym.leaderboard.export import tables
from lrgym.leaderboard.ranking import build_leaderboard
from lrgym.leaderboard.report_html import html_page
from lrgym.leaderboard.report_markdown import markdown
from lrgym.leaderboard.runner import checked_submission, run_suite, submission_spec, summarize
from lrgym.leaderboard.trained_apart import TRAINED_APART_KEY, apart_record, read_apart_record
from lrgym.leaderboard.store import ResultStore
from lrgym.leaderboard.suite import get_suite
from lrgym.leaderboard.text import markdown_escape

EXAMPLE = Path(__file__).resolve().parents[2] / "leaderboard" / "submissions" / "example_policy.py"
QUICK = get_suite("quick")  # 4 tasks × 2 seeds; horizon 12, inner steps 5, the LR range [1e-6, 10]
EVIL = "mine <b>x</b> [click](http://evil.example)"


def _terminal(lb) -> str:
    from rich.console import Console

    from lrgym.leaderboard.report_terminal import print_table

    console = Console(record=True, width=400)
    print_table(lb, console=console)
    return console.export_text()


def _board(tmp_path, suite, records: dict, kinds=None):
    """A store with one synthetic entry per name of ``records`` (its env_spec's trained-apart
    record, or None, beside the suite's description, as the grader stores them) and the board of
    ``suite`` over it."""
    from lrgym.leaderboard.private import is_private, public_description

    described = public_description(suite) if is_private(suite) else suite.to_dict()
    db = tmp_path / "b.sqlite"
    with ResultStore(db) as store:
        for i, (name, record) in enumerate(records.items()):
            runs = synthetic_runs(suite, np.full((len(suite.seeds), len(suite.tasks())), 0.5 + 0.1 * i))
            env_spec = {"suite": described, **({} if record is None else {TRAINED_APART_KEY: record})}
            kind = (kinds or {}).get(name, "submission")
            store.add_entry(synthetic_entry(suite, name, kind, env_spec=env_spec,
                                            summary=summarize(runs, suite, reps=20)), runs)
        return build_leaderboard(store, suite, reps=20), store.path


def test_a_graded_submission_keeps_the_settings_it_trained_apart_and_the_board_notes_them(tmp_path):
    """The whole way: a policy file whose TRAINED_ON line says lr_max 1 and horizon 50, graded on
    a suite of horizon 6: the stored entry keeps exactly what the envs built both ways differ in
    (the test's own comparison), its row is marked and the note under the board says both values."""
    from lrgym.leaderboard.references import load_references

    suite = tiny_suite("apart", families=("quadratic",), n_instances=1, seeds=(0,), horizon=6, inner_steps=3)
    trained_on = {"family": "quadratic", "lr_max": 1.0, "horizon": 50, "inner_steps": 3}
    path = tmp_path / "trained.py"
    path.write_text(f"TRAINED_ON = {trained_on!r}\n\n" + EXAMPLE.read_text())
    spec, notes = checked_submission(submission_spec(f"{path}:LossWatcher", "mine"), suite)
    assert len(notes) == 1 and "lr_max trained at 1.0, graded at 10.0" in notes[0]
    with ResultStore(tmp_path / "r.sqlite") as store:
        [outcome] = run_suite([spec], suite, store=store, references=load_references(suite, n_workers=1), n_workers=1)
        assert outcome.ok, outcome.entry.failure_reason
        entry = store.entry(outcome.entry.id)
        lb = build_leaderboard(store, suite, reps=20)
    expected = _reference_apart(trained_on, suite)
    assert set(expected) == {"lr_max", "horizon"}
    kept = read_apart_record(entry.env_spec[TRAINED_APART_KEY], suite.family_names)
    assert {k: (mine, dict(graded)) for k, (mine, graded) in kept.items()} == expected
    said = "mine: lr_max 1 (graded at 10); horizon 50 (graded at 6)"
    md = markdown(lb)
    assert "| mine † |" in md and f"\n\n† Trained at other settings" in md and said in md
    assert said in " ".join(_terminal(lb).split())


def test_every_output_of_the_board_marks_the_row_and_notes_it_escaped(tmp_path):
    record = apart_record(_reference_apart({"lr_max": 1.0, "horizon": 100}, QUICK))
    lb, db = _board(tmp_path, QUICK, {"b0": None, EVIL: record, "plain": None}, kinds={"b0": "baseline"})
    values = "lr_max 1 (graded at 10); horizon 100 (graded at 12); inner_steps 10 (graded at 5)"
    said = f"{EVIL}: {values}"

    md = markdown(lb)
    rows = {line.split("|")[2].strip(): line for line in md.splitlines() if re.match(r"\| \d+ \|", line)}
    assert set(rows) == {"b0", markdown_escape(EVIL) + " †", "plain"}  # the other rows carry no mark
    assert f"{markdown_escape(EVIL)}: {values}." in md
    assert "<b>" not in md and "](http" not in md  # the name stays text in the note as in the row

    page = html_page(lb, with_plots=False)
    assert "<b>x</b>" not in page and f"<p class=\"sub\">† Trained at other settings" in page
    assert f"{values}." in page

    text = " ".join(_terminal(lb).split())
    assert said in text and f"{EVIL} †" in text

    entries = {row["name"]: row for row in tables(ResultStore(db), QUICK.version)["entries"]}
    assert entries[EVIL]["trained_apart"] == values
    assert entries["b0"]["trained_apart"] is None and entries["plain"]["trained_apart"] is None
    json.dumps(entries[EVIL], allow_nan=False)  # what export's JSON writes


def test_a_board_without_such_entries_is_unchanged(tmp_path):
    """No record, no mark and no note: the shipped boards' rows (no baseline carries a record)."""
    lb, _ = _board(tmp_path, QUICK, {"b0": None, "s1": None}, kinds={"b0": "baseline"})
    md = markdown(lb)
    assert "†" not in md and "Trained at other settings" not in md
    assert "†" not in _terminal(lb) and "†" not in html_page(lb, with_plots=False)


def test_a_stored_record_shows_only_bounded_numbers_of_the_boards_families(tmp_path):
    """A record the grader did not write (a hand-edited store, another lrgym's) is read keeping
    only settings of the list, finite numbers of at most 1e15 and the suite's family names: no
    markup, no long text, no value the env never took."""
    hostile = {
        "lr_max": {"trained": "<script>alert(1)</script>", "graded": {"linreg": 10.0}},  # no number
        "lr_min": {"trained": 1e-3, "graded": {"<img src=x>": 1e-6, "x" * 5000: 1e-6, "linreg": True}},
        "horizon": {"trained": 10**40, "graded": {"linreg": 200}},  # too large to be a horizon
        "cap_factor": {"trained": 50.0, "graded": {"linreg": 1e4, "nosuch": 1.0}},
        "reward": {"trained": 1, "graded": {"linreg": 2}},  # not a setting the board compares
        "inner_steps": [1, 2],
    }
    lb, db = _board(tmp_path, QUICK, {"mine": hostile})
    md = markdown(lb)
    line = next(line for line in md.splitlines() if line.startswith("†"))
    assert line.endswith("mine: cap_factor 50 (graded at linreg 10000).")
    assert "script" not in md and "img" not in md and "x" * 100 not in md and "nosuch" not in md
    assert len(line) < 300
    [row] = tables(ResultStore(db), QUICK.version)["entries"]
    assert row["trained_apart"] == "cap_factor 50 (graded at linreg 10000)"
    # nothing usable: no mark, no note
    lb, _ = _board(tmp_path / "none", QUICK, {"mine": {"lr_max": {"trained": "ten", "graded": {"linreg": 10.0}}}})
    assert "†" not in markdown(lb)


@pytest.mark.parametrize("trained_on", [{"horizon": 10**40}, {"lr_max": "<b>10</b>"}, {"lr_min": 5.0, "lr_max": 1.0},
                                        {"horizon": [1] * 10_000}])
def test_a_claim_the_env_refuses_stores_nothing_and_loses_no_entry(trained_on):
    """What the submitter's file claims is compared through the env's checks: a value it refuses
    makes no record of it (neither it nor the default in its place), never an entry the store
    refuses; the settings it leaves out are the env's defaults, compared as ever."""
    from lrgym.leaderboard.runner_entries import _apart_field

    record = _apart_field(trained_on, QUICK).get(TRAINED_APART_KEY, {})
    assert not set(record) & set(trained_on)
    assert record == apart_record({k: v for k, v in _reference_apart({}, QUICK).items() if k not in trained_on})


def test_a_private_board_notes_it_naming_nothing_hidden(tmp_path, monkeypatch):
    from lrgym.leaderboard.private import create_key, private_suite

    key = tmp_path / "grader.key"
    create_key(key)
    suite = private_suite(key)
    record = apart_record(_reference_apart({"lr_max": 1.0, "inner_steps": 3}, suite))
    lb, db = _board(tmp_path, suite, {"controller": None, "mine": record}, kinds={"controller": "baseline"})
    hidden = [str(t.instance) for t in suite.tasks()] + [str(s) for s in suite.seeds] + [key.read_text().strip()]
    md = markdown(lb)
    line = next(line for line in md.splitlines() if line.startswith("†"))
    assert "mine: lr_max 1 (graded at 10); inner_steps 3 (graded at " in line
    assert not [h for h in hidden if h in md]
    [row] = [r for r in tables(ResultStore(db), suite.version)["entries"] if r["name"] == "mine"]
    assert not [h for h in hidden if h in row["trained_apart"]]


def test_submit_hands_the_grader_what_the_file_says_it_trained_at(tmp_path, monkeypatch):
    """``submit`` reads the TRAINED_ON line once, before grading, and the spec it grades carries
    it (what its entry keeps); the note it prints is unchanged."""
    typer_testing = pytest.importorskip("typer.testing")
    from lrgym.leaderboard import cli, cli_grading

    trained_on = {"lr_max": 1.0, "horizon": 100}
    path = tmp_path / "trained.py"
    path.write_text(f"TRAINED_ON = {trained_on!r}\n\n" + EXAMPLE.read_text())
    graded = []

    def run(specs, *args, **kw):
        graded.extend(specs)
        raise SystemExit(0)

    monkeypatch.setattr(cli_grading, "_run", run)
    result = typer_testing.CliRunner().invoke(
        cli.app, ["leaderboard", "submit", f"{path}:LossWatcher", "--name", "mine", "--suite", "quick",
                  "--db", str(tmp_path / "r.sqlite")], env={"COLUMNS": "300"})
    assert "lr_max trained at 1.0, graded at 10.0" in " ".join(result.output.split())
    [spec] = graded
    assert spec.trained_on == trained_on
