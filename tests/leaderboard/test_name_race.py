"""A name claimed by another owner while a submission runs: the finished result is kept, the
submitter is told so (not "nothing was run"), and ``import-kept`` stores it under another name
with its per-run scores unchanged (audit of 2026-12: bob's finished run was dropped in silence).

The race is made deterministic: alice's entry is written by another connection right after
bob's check before the run, so his write after the run finds the name taken."""

import json
import math
from pathlib import Path

import pytest

typer_testing = pytest.importorskip("typer.testing")

from lb_helpers import synthetic_entry, synthetic_runs, tiny_suite  # noqa: E402

from lrgym.leaderboard import runner  # noqa: E402
from lrgym.leaderboard.cli import app  # noqa: E402
from lrgym.leaderboard.store import ResultStore  # noqa: E402
from lrgym.leaderboard.suite import get_suite  # noqa: E402

EXAMPLE = Path(runner.__file__).resolve().parent / "submissions" / "example_policy.py"
SUITE = tiny_suite()


def _invoke(*args):
    result = typer_testing.CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})
    return result.exit_code, " ".join(result.output.split())


def _claim_after_the_check(monkeypatch, db: Path, suite_version: str) -> list:
    """Make alice claim 'contested' (through another connection, as a second grader would) right
    after the submitting grader's checks before its run found the name free (they are done when
    run_suite plans its workers: the names are checked before and after the store's flush)."""
    real = runner.plan_workers
    claimed = []

    def alice_claims_then_plan(*args, **kwargs):
        if not claimed:
            with ResultStore(db) as other:
                claimed.append(other.add_entry(synthetic_entry(get_suite("quick"), "contested", kind="submission",
                                                               owner="alice", summary={})))
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "plan_workers", alice_claims_then_plan)
    return claimed


def test_a_name_taken_during_the_run_keeps_the_result_and_says_so(tmp_path, monkeypatch):
    db = tmp_path / "race.sqlite"
    claimed = _claim_after_the_check(monkeypatch, db, "quick/r1")
    finished = []  # bob's runs as the grader scored them, before any store saw them
    real_finish = runner.finish_entry

    def keep_finish(*args, **kw):
        outcome = real_finish(*args, **kw)
        finished.append([(r.family, r.instance, r.seed, r.score, r.final_loss, r.steps_to_target, dict(r.curves))
                         for r in outcome.runs])
        return outcome

    monkeypatch.setattr(runner, "finish_entry", keep_finish)
    code, out = _invoke("leaderboard", "submit", f"{EXAMPLE}:LossWatcher", "--name", "contested", "--owner", "bob",
                        "--suite", "quick", "--db", db, "--workers", "1")
    assert claimed and len(finished) == 1 and finished[0], out
    assert code == 3, out
    assert "nothing was run" not in out
    assert "the evaluation ran to the end, but its name was taken by another submitter in the meantime" in out
    assert "belongs to another submitter ('alice')" in out
    [kept] = list((tmp_path / "race.sqlite.pending").glob("*.name-taken"))
    assert f"kept in {kept}" in out
    assert f"lrgym leaderboard import-kept {kept} --name NEW_NAME --db {db}" in out
    assert json.loads(kept.read_text())["entry"]["owner"] == "bob"
    with ResultStore(db) as store:  # alice's entry only: bob's is not on the board under her name
        assert [(e.name, e.owner) for e in store.entries()] == [("contested", "alice")]
    monkeypatch.undo()

    # show reminds of it; another grading run (its flush) does too, and leaves it for import
    code, out = _invoke("leaderboard", "show", "--suite", "quick", "--db", db)
    assert code == 0 and f"not on the board: entry 'contested'" in out and str(kept) in out

    # a taken name again: refused, the file stays
    code, out = _invoke("leaderboard", "import-kept", kept, "--name", "Contested", "--db", db)
    assert code == 2 and "another submitter ('alice')" in out and kept.exists()
    code, out = _invoke("leaderboard", "import-kept", kept, "--name", "bob-watcher", "--db", db)
    assert code == 0, out
    assert not kept.exists() and not (tmp_path / "race.sqlite.pending").exists()
    with ResultStore(db) as store:
        [entry] = store.entries(name="bob-watcher")
        assert (entry.owner, entry.status, entry.kind, entry.suite_version) == ("bob", "ok", "submission", "quick/r1")
        stored = [(r.family, r.instance, r.seed, r.score, r.final_loss, r.steps_to_target, dict(r.curves))
                  for r in store.runs(entry.id)]
    assert stored == finished[0]  # bob's original per-run scores and curves, to the bit
    assert all(math.isfinite(row[3]) for row in stored)


def test_flush_pending_reports_what_it_sets_aside(tmp_path):
    """A side file (a grader killed before its write) whose name another owner took since: the
    next flush sets it aside and says where, and says it again until it is stored."""
    db = tmp_path / "r.sqlite"
    runs = synthetic_runs(SUITE, [[0.25], [0.75]])
    with ResultStore(db) as store:
        store._side_files._write_pending(synthetic_entry(SUITE, "keeper", kind="submission", owner="bob", summary={},
                                             token="b" * 32), runs)
        store.add_entry(synthetic_entry(SUITE, "Keeper", kind="submission", owner="alice", summary={}))
        said = []
        assert store.flush_pending(log=said.append) == []
        kept = store.pending_dir / ("b" * 32 + ".name-taken")
        assert kept.exists() and store.kept_results() == [kept]
        [message] = said
        assert f"kept in {kept}" in message and "taken by another submitter in the meantime" in message
        assert "alice" in message and f"import-kept {kept} --name NEW_NAME --db {db}" in message
        with pytest.warns(UserWarning, match="kept in"):  # no log given: a warning, never silence
            store.flush_pending()
        entry_id = store.import_kept(kept, "bobs-keeper")
        assert store.import_kept.__doc__ and not kept.exists()
        assert [(r.seed, r.score) for r in store.runs(entry_id)] == [(0, 0.25), (1, 0.75)]
        assert store.entry(entry_id).owner == "bob"
        said.clear()
        store.flush_pending(log=said.append)
        assert said == []


def test_a_refused_run_suite_writes_nothing_to_the_store_it_was_given(tmp_path):
    """An open store given to ``run_suite`` exists before any refusal, but a refused call now
    writes nothing to it: a submission's name another owner holds, and a bad ``n_workers``, are
    refused with the store's waiting side file (an earlier run's result) still waiting and its
    entries as they were; a store given by path is not made. Until 2026-12-07 both refusals came
    after ``flush_pending`` had written the waiting result (and ``n_workers`` after the references
    were read, a path's store made). A name that the waiting result itself holds is refused after
    the flush that stores it (the check before the flush cannot see it)."""
    from lb_helpers import policy

    from lrgym.leaderboard.runner import baseline_specs, run_suite, submission_spec
    from lrgym.leaderboard.store import NameTakenError

    runs = synthetic_runs(SUITE, [[0.25], [0.75]])
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.add_entry(synthetic_entry(SUITE, "taken", kind="submission", owner="alice", summary={}))
        store._side_files._write_pending(synthetic_entry(SUITE, "waiting", kind="submission", owner="bob",
                                                         summary={}, token="a" * 32), runs)
        waiting = sorted(store.pending_dir.iterdir())

        def state():
            return sorted(e.name for e in store.entries()), sorted(store.pending_dir.glob("*"))  # (gone once empty)

        before = state()
        with pytest.raises(NameTakenError, match="'taken' belongs to another submitter"):
            run_suite([submission_spec(policy("Keep"), name="taken")], SUITE, store=store, owner="carol", n_workers=1)
        assert state() == before
        with pytest.raises(ValueError, match=r"workers=0 invalid; valid: a positive integer"):
            run_suite(baseline_specs(["fixed"]), SUITE, store=store, n_workers=0)
        assert state() == before == (["taken"], waiting)
        with pytest.raises(NameTakenError, match="'waiting' belongs to another submitter"):
            run_suite([submission_spec(policy("Keep"), name="waiting")], SUITE, store=store, owner="carol",
                      n_workers=1)
        assert state() == (["taken", "waiting"], [])  # the earlier run's result, stored by the flush
    with pytest.raises(ValueError, match=r"workers=0 invalid"):
        run_suite(baseline_specs(["fixed"]), SUITE, store=tmp_path / "new.sqlite", n_workers=0)
    assert not (tmp_path / "new.sqlite").exists()
