"""A board (``show``, ``report``, ``make leaderboard``) is one moment of the store
(:meth:`~lrgym.leaderboard.store.ResultStore.snapshot`): it reads its latest entries, their runs
and its failures in several queries, and an entry another grader committed between them was half
on it (a review, 2026-12). Each test has a second grader commit between the board's queries, at
the board's first read of runs (a hook, no sleeps), and compares with the boards of the moments
before and after the commit."""

from __future__ import annotations

from lb_helpers import synthetic_entry, synthetic_runs, tiny_suite

from lrgym.leaderboard.ranking import build_leaderboard
from lrgym.leaderboard.store import ResultStore

SUITE = tiny_suite("snapshot")


def _board(lb) -> tuple:
    return [r.name for r in lb.rows], [(e.name, e.failure_reason) for e in lb.failures]


def _commit_at_first_runs_read(monkeypatch, db, write) -> list:
    """Have ``write(other)`` run on a second store of ``db`` (another grader) at the first
    :meth:`ResultStore.runs` of any store; returns a list that holds True once it ran."""
    real, done = ResultStore.runs, []

    def runs_then_commit(self, *args, **kwargs):
        runs = real(self, *args, **kwargs)
        if not done:
            with ResultStore(db) as other:
                write(other)
            done.append(True)
        return runs

    monkeypatch.setattr(ResultStore, "runs", runs_then_commit)
    return done


def test_a_board_is_one_moment_of_a_store_written_while_it_reads(tmp_path, monkeypatch):
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        store.add_entry(synthetic_entry(SUITE, "fixed"), synthetic_runs(SUITE, [[0.5], [0.5]]))
        before = _board(build_leaderboard(store, SUITE, reps=20))

    def another_grader(other):
        other.record_failure("late", "submission", "raised in act()", suite_version=SUITE.version, owner="bob")
        other.add_entry(synthetic_entry(SUITE, "later", kind="submission", owner="bob"),
                        synthetic_runs(SUITE, [[0.9], [0.9]]))

    done = _commit_at_first_runs_read(monkeypatch, db, another_grader)
    with ResultStore(db) as store:
        during = _board(build_leaderboard(store, SUITE, reps=20))
        assert done
        after = _board(build_leaderboard(store, SUITE, reps=20))
    assert before == (["fixed"], [])
    assert during == before  # the failure committed after the board's first query is not on it
    assert after == (["later", "fixed"], [("late", "raised in act()")])


def test_a_snapshot_holds_up_no_grader_and_nests(tmp_path):
    """WAL mode: a grader commits (without waiting: busy timeout 0) while a board's snapshot is
    open, and the snapshot still sees the moment it began, also in a nested one; after it, the
    store's next read sees the entry."""
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store, ResultStore(db, timeout=0) as grader:
        assert store.journal_mode == "wal"
        with store.snapshot():
            assert store.entries() == []
            grader.add_entry(synthetic_entry(SUITE, "fixed"), synthetic_runs(SUITE, [[0.5], [0.5]]))
            with store.snapshot():
                assert store.entries() == []
            assert store.entries() == []
        assert [e.name for e in store.entries()] == ["fixed"]
        assert not store.conn.in_transaction


def test_a_board_read_in_a_rollback_journal_holds_no_grader_while_it_computes(tmp_path, monkeypatch):
    """A rollback journal (a file system without WAL): a read holds graders' commits until it
    ends. The board computed its rows (every entry's scores and bootstrapped summary) inside its
    read, so a grader committing meanwhile waited for all of it, and at busy timeout 0 was
    refused. The board now reads its rows in the snapshot and computes after it: a grader commits
    (timeout 0) while the board computes, and the board is still the moment it read."""
    import lrgym.leaderboard.ranking as ranking

    monkeypatch.setattr(ResultStore, "_set_wal", lambda self: setattr(
        self, "journal_mode", str(self.conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]).lower()))
    db = tmp_path / "r.sqlite"
    real, committed = ranking.current_summary, []

    def summary_then_commit(*args, **kwargs):
        if not committed:
            with ResultStore(db, timeout=0) as grader:
                grader.add_entry(synthetic_entry(SUITE, "later", kind="submission", owner="bob"),
                                 synthetic_runs(SUITE, [[0.9], [0.9]]))
            committed.append(True)
        return real(*args, **kwargs)

    with ResultStore(db) as store:
        assert store.journal_mode == "delete"
        store.add_entry(synthetic_entry(SUITE, "fixed"), synthetic_runs(SUITE, [[0.5], [0.5]]))
        monkeypatch.setattr(ranking, "current_summary", summary_then_commit)
        during = _board(build_leaderboard(store, SUITE, reps=20))
        assert committed and not store.conn.in_transaction
        assert during == (["fixed"], [])
        assert _board(build_leaderboard(store, SUITE, reps=20)) == (["later", "fixed"], [])
