"""A store where the file system refuses WAL (SQLite falls back to its rollback journal) is said by
every command that opens it: there a board's read holds up graders' commits, and a commit waiting
holds up new reads (``ResultStore.snapshot``). Nothing said so (``ResultStore.journal_mode`` was read
by no command), and a command that found the store locked past the busy timeout said
"Invalid value for --db: ... database is locked; valid: an lrgym results store": the wrong reason."""

from __future__ import annotations

import sqlite3

import pytest

typer_testing = pytest.importorskip("typer.testing")

from lb_helpers import synthetic_entry, synthetic_runs  # noqa: E402

from lrgym.leaderboard import cli, store as store_module  # noqa: E402
from lrgym.leaderboard.store import ResultStore  # noqa: E402
from lrgym.leaderboard.suite import get_suite  # noqa: E402

SUITE = get_suite("quick")


def rollback_journal(self, timeout):
    """What SQLite answers ``PRAGMA journal_mode = WAL`` on a file system without shared memory."""
    self.journal_mode = str(self.conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]).lower()


def invoke(*args):
    from typer.testing import CliRunner

    return CliRunner().invoke(cli.app, list(args), env={"COLUMNS": "400"})


def test_a_store_without_wal_is_said_on_stderr(tmp_path, monkeypatch):
    db = tmp_path / "r.sqlite"
    monkeypatch.setattr(ResultStore, "_set_wal", rollback_journal)
    with ResultStore(db) as store:
        store.add_entry(synthetic_entry(SUITE, "fixed"), synthetic_runs(SUITE, [[0.5] * 4] * 2))
        assert store.journal_mode == "delete"
        raw = sqlite3.connect(db)
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # SQLite's own word
        raw.close()
    result = invoke("leaderboard", "show", "--suite", "quick", "--db", str(db))
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert f"note: the results store {db} is in SQLite's rollback-journal mode (delete)" in said
    assert "holds up graders' commits" in said and "rollback" not in result.stdout and "fixed" in result.stdout


def test_a_store_in_wal_mode_is_not_noted(tmp_path):
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        store.add_entry(synthetic_entry(SUITE, "fixed"), synthetic_runs(SUITE, [[0.5] * 4] * 2))
        assert store.journal_mode == "wal" and store.journal_note is None
    result = invoke("leaderboard", "show", "--suite", "quick", "--db", str(db))
    assert result.exit_code == 0 and "rollback" not in result.stderr


@pytest.mark.timeout(120)
def test_a_store_locked_past_the_busy_timeout_is_said_as_locked_not_as_a_bad_db(tmp_path, monkeypatch):
    """Another process holds the store's lock (here an exclusive one, as a commit in a rollback
    journal does); the command waits its busy timeout (0.2 s here) and says the store is locked."""
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        store.add_entry(synthetic_entry(SUITE, "fixed"), synthetic_runs(SUITE, [[0.5] * 4] * 2))
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode = DELETE")
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):  # the reference: SQLite's own verdict
            sqlite3.connect(db, timeout=0.1).execute("SELECT count(*) FROM entries").fetchall()

        class Impatient(ResultStore):
            def __init__(self, path=None, *, timeout=0.2):
                super().__init__(path, timeout=timeout)

        monkeypatch.setattr(store_module, "ResultStore", Impatient)
        result = invoke("leaderboard", "show", "--suite", "quick", "--db", str(db))
    finally:
        holder.close()
    flat = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 1, result.output
    assert f"error: the results store {db} stayed locked by another process (database is locked)" in flat
    assert "Invalid value" not in flat
