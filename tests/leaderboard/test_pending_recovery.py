"""Results waiting in the store's side files (``<db>.pending``) when graders race each other or
the disk is full: every grader goes on, every result stays kept and is said (an audit of crashes
and concurrency, 2026-12: a grader whose flush met a side file another grader had just set aside
stopped with a FileNotFoundError traceback; a full disk stopped a run with SQLite's traceback; a
side file no flush could read was skipped in silence, run after run)."""

import dataclasses
import os
import sqlite3
from pathlib import Path

import pytest
from lb_helpers import synthetic_entry, synthetic_runs, tiny_suite

from lrgym.leaderboard import runner
from lrgym.leaderboard.store import KeptResultError, ResultStore, StoreUnwritableError
from lrgym.leaderboard.store_side_files import SideFiles

SUITE = tiny_suite()
TOKEN = "b" * 32


def _bobs_entry(**kw):
    return synthetic_entry(SUITE, "keeper", kind="submission", owner="bob", summary={}, **kw)


def _alice_claims(store: ResultStore) -> None:
    store.add_entry(synthetic_entry(SUITE, "Keeper", kind="submission", owner="alice", summary={}))


def _bobs_result_kept(db, runs):
    """Bob's finished entry graded into ``db`` after alice claimed its name: the path of the file
    it is kept in (``<token>.name-taken``, for ``import-kept``)."""
    with ResultStore(db) as store:
        _alice_claims(store)
        with pytest.raises(KeptResultError) as caught:
            store.add_entry_durably(_bobs_entry(token=TOKEN), runs)
    return caught.value.kept


def _other_grader_flushes_first(monkeypatch, this: ResultStore, other: ResultStore) -> list:
    """Make ``other`` (a second grader of the store) flush the side files right before ``this``
    one's next write: both read the same side file, ``other`` acts on it first."""
    real = ResultStore.add_entry
    said, flushed = [], []

    def other_first(self, entry, runs=()):
        if self is this and not flushed:
            flushed.append(other.flush_pending(log=said.append))
        return real(self, entry, runs)

    monkeypatch.setattr(ResultStore, "add_entry", other_first)
    return said


def test_two_graders_flushing_a_side_file_whose_name_was_taken_both_go_on_and_keep_it(tmp_path, monkeypatch):
    db = tmp_path / "r.sqlite"
    runs = synthetic_runs(SUITE, [[0.25], [0.75]])
    with ResultStore(db) as first, ResultStore(db) as second:
        first._side_files._write_pending(_bobs_entry(token=TOKEN), runs)
        _alice_claims(first)
        said_first = _other_grader_flushes_first(monkeypatch, second, first)
        said = []
        assert second.flush_pending(log=said.append) == []
        kept = first.pending_dir / (TOKEN + ".name-taken")
        assert kept.exists() and second.kept_results() == [kept]
        assert any(f"kept in {kept}" in m for m in said_first) and any(f"kept in {kept}" in m for m in said)
        monkeypatch.undo()
        entry_id = second.import_kept(kept, "bobs-keeper")
        assert [(r.seed, r.score) for r in second.runs(entry_id)] == [(0, 0.25), (1, 0.75)]


def test_a_result_set_aside_by_another_graders_flush_while_its_grader_waits_is_kept_and_said(tmp_path, monkeypatch):
    """Bob's grader waits for a locked store with his finished entry in its side file; another
    grader's flush meanwhile finds the name taken and sets the file aside: bob's grader says where
    it is kept (it said ``could not be stored (FileNotFoundError ...)`` for a result kept)."""
    db = tmp_path / "r.sqlite"
    runs = synthetic_runs(SUITE, [[0.25], [0.75]])
    with ResultStore(db) as other, ResultStore(db) as bobs:
        _alice_claims(other)
        _other_grader_flushes_first(monkeypatch, bobs, other)
        with pytest.raises(KeptResultError) as caught:
            bobs.add_entry_durably(_bobs_entry(token=TOKEN), runs, patience=0)
        kept = bobs.pending_dir / (TOKEN + ".name-taken")
        assert caught.value.kept == kept and kept.exists() and f"kept in {kept}" in str(caught.value)


def _long_runs():
    """Runs whose curves fill more than the pages a new store has free."""
    return [dataclasses.replace(r, curves={"lr": [0.1] * 2000}) for r in synthetic_runs(SUITE, [[0.25], [0.75]])]


def _fill(store: ResultStore) -> None:
    """The store's file can grow no more (SQLite's own SQLITE_FULL, as on a full disk)."""
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")


def test_a_full_store_stops_the_flush_with_what_waits_where_and_the_next_flush_writes_it(tmp_path):
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        side = store._side_files._write_pending(_bobs_entry(token=TOKEN), _long_runs())
        _fill(store)
        with pytest.raises(StoreUnwritableError, match="database or disk is full") as caught:
            store.flush_pending(log=lambda message: None)
        assert str(store.pending_dir) in str(caught.value) and "the next grading run writes them" in str(caught.value)
        assert side.exists() and store.entries() == []
    with ResultStore(db) as store:  # room again
        [entry_id] = store.flush_pending(log=lambda message: None)
        assert not side.exists() and store.entry(entry_id).token == TOKEN
        assert [(r.seed, r.score) for r in store.runs(entry_id)] == [(0, 0.25), (1, 0.75)]


def test_a_grading_run_on_a_full_store_says_so_in_one_line_and_runs_nothing(tmp_path, monkeypatch):
    typer_testing = pytest.importorskip("typer.testing")
    from lrgym.leaderboard import cli_grading
    from lrgym.leaderboard.cli import app

    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        side = store._side_files._write_pending(_bobs_entry(token=TOKEN), _long_runs())
    real_flush = ResultStore.flush_pending

    def flush_on_a_full_disk(self, log=None):
        _fill(self)
        return real_flush(self, log)

    monkeypatch.setattr(ResultStore, "flush_pending", flush_on_a_full_disk)
    monkeypatch.setattr(cli_grading, "_references", lambda *a, **kw: None)  # the flush comes before they are used
    ran = []
    monkeypatch.setattr(runner, "grading_jobs", lambda *a, **kw: ran.append(1) or [])
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", "run-baselines", "--suite", "quick", "--only",
                                                    "fixed", "--db", str(db), "--workers", "1", "--no-markdown"],
                                              env={"COLUMNS": "400"})
    out = " ".join(result.output.split())
    assert result.exit_code == 1, out
    assert isinstance(result.exception, SystemExit), out  # said, not SQLite's traceback
    assert f"takes no entries (database or disk is full); the finished results waiting in {db}.pending" in out
    assert "nothing was run" in out and ran == [] and side.exists()


@pytest.mark.parametrize("content", ['{"entry": {"name": "x"', '{"entry": {"name": "x", "future_field": 1}, "runs": []}',
                                     "[]"])
def test_a_side_file_no_flush_can_read_is_said_every_time_and_stays(tmp_path, content):
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        store._side_files._write_pending(_bobs_entry(token=TOKEN), [])  # a readable one beside it is written
        odd = store.pending_dir / ("c" * 32 + ".json")
        odd.write_text(content)
        ids = []
        for _ in range(2):
            said = []
            ids += store.flush_pending(log=said.append)
            [message] = said
            assert f"a side file {odd} could not be read" in message and "it was not stored and stays there" in message
            assert odd.exists() and Path(store.pending_dir).is_dir()
        assert [store.entry(i).token for i in ids] == [TOKEN]
        assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM entries").fetchone() == (1,)


_IMPORT_KILLED_AFTER_COMMIT = """
import os, signal, sys
from lrgym.leaderboard.store import ResultStore
real = ResultStore.add_entry
def add_entry_then_killed(self, entry, runs=()):
    real(self, entry, runs)
    os.kill(os.getpid(), signal.SIGKILL)  # after the commit, before import_kept removes the file
ResultStore.add_entry = add_entry_then_killed
with ResultStore(sys.argv[1]) as store:
    store.import_kept(sys.argv[2], "bobs-keeper")
"""


def test_a_kept_result_imported_by_a_grader_killed_before_it_removed_the_file_is_no_longer_said_to_wait(tmp_path):
    import signal
    import subprocess
    import sys

    db = tmp_path / "r.sqlite"
    kept = _bobs_result_kept(db, synthetic_runs(SUITE, [[0.25], [0.75]]))
    done = subprocess.run([sys.executable, "-c", _IMPORT_KILLED_AFTER_COMMIT, str(db), str(kept)])
    assert done.returncode == -signal.SIGKILL and kept.exists()
    with ResultStore(db) as store:
        [entry] = store.entries(name="bobs-keeper")
        assert entry.token == TOKEN and store.kept_results() == []  # show lists it no more
        said = []
        assert store.flush_pending(log=said.append) == []
        assert said == [] and not kept.exists() and not store.pending_dir.exists()
        assert [e.name for e in store.entries()] == ["Keeper", "bobs-keeper"]


def _show_in_a_read_only_folder(folder: Path) -> tuple[int, str]:
    """``lrgym leaderboard show`` of ``folder/r.sqlite`` with ``folder`` read-only: a chmod 0500 for
    a user, for root (who writes to any folder whatever its mode) a read-only bind mount of it in a
    mount namespace of its own, as a read-only share or volume is."""
    import shutil
    import subprocess
    import sys

    command = [sys.executable, "-m", "lrgym.leaderboard.entry", "leaderboard", "show", "--suite", "quick", "--db",
               str(folder / "r.sqlite")]
    env = {**os.environ, "COLUMNS": "400"}
    if os.geteuid() == 0:
        if shutil.which("unshare") is None or subprocess.run(["unshare", "--mount", "true"]).returncode != 0:
            pytest.fail("root without mount namespaces: no folder can be made read-only for it here")
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"', str(folder), *command]
    else:
        folder.chmod(0o500)
    try:
        out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    finally:
        folder.chmod(0o700)
    return out.returncode, " ".join((out.stdout + out.stderr).replace("│", " ").split())


def test_a_store_in_a_read_only_folder_is_refused_saying_why_and_what_to_do(tmp_path):
    """Every command opens the store for writing (README: Where results live); SQLite's 'unable to
    open database file' was answered with 'valid: an lrgym results store', which it is."""
    pytest.importorskip("typer")
    folder = tmp_path / "ro"
    folder.mkdir()
    with ResultStore(folder / "r.sqlite") as store:
        store.add_entry(synthetic_entry(SUITE, "fixed"), synthetic_runs(SUITE, [[0.25], [0.75]]))
    code, out = _show_in_a_read_only_folder(folder)
    assert code == 2, out
    assert "the store or its folder is read-only" in out and "copy it there" in out, out
    with ResultStore(folder / "r.sqlite") as store:
        assert [e.name for e in store.entries()] == ["fixed"]


_WRITER_KILLED_BEFORE_ITS_RENAME = """
import os, signal, sys
from lrgym.leaderboard.store import EntryRecord, ResultStore, RunRecord
real_replace = os.replace
def killed_before_the_rename(src, dst, *a, **kw):
    if str(dst).endswith(".json"):  # the side file, written and synced, not yet renamed
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *a, **kw)
os.replace = killed_before_the_rename
runs = [RunRecord("quadratic", 20000, seed, score=0.25 + seed / 2, final_loss=0.1, initial_loss=1.0, diverged=False)
        for seed in (0, 1)]
with ResultStore(sys.argv[1]) as store:
    store.add_entry_durably(EntryRecord(name="fixed", kind="baseline", suite_version="tiny/r1", token="d" * 32), runs)
"""


def test_a_side_file_whose_grader_was_killed_before_renaming_it_is_written_by_the_next_flush(tmp_path):
    import signal
    import subprocess
    import sys

    db = tmp_path / "r.sqlite"
    done = subprocess.run([sys.executable, "-c", _WRITER_KILLED_BEFORE_ITS_RENAME, str(db)])
    assert done.returncode == -signal.SIGKILL
    [tmp] = [p.name for p in (tmp_path / "r.sqlite.pending").iterdir()]
    assert tmp.startswith("." + "d" * 32 + ".json.") and tmp.endswith(".tmp")
    half = tmp_path / "r.sqlite.pending" / ("." + "e" * 32 + ".json.abcd1234.tmp")  # a writer still writing
    half.write_text('{"entry": {"name": "x", "token": "' + "e" * 32 + '"}, "runs": [')
    with ResultStore(db) as store:
        [entry_id] = store.flush_pending(log=lambda message: None)
        assert store.entry(entry_id).token == "d" * 32
        assert [(r.seed, r.score) for r in store.runs(entry_id)] == [(0, 0.25), (1, 0.75)]
        assert [p.name for p in store.pending_dir.iterdir()] == [half.name]  # left to its writer


_WRITER_KILLED_MID_WRITE = """
import os, signal, sys
from lrgym.leaderboard.store import EntryRecord, ResultStore, RunRecord
def killed_mid_write(fd):  # the side file's bytes are written; the grader dies with half of them on disk
    os.ftruncate(fd, os.fstat(fd).st_size // 2)
    os.kill(os.getpid(), signal.SIGKILL)
os.fsync = killed_mid_write
runs = [RunRecord("quadratic", 20000, seed, score=0.5, final_loss=0.1, initial_loss=1.0, diverged=False)
        for seed in (0, 1)]
with ResultStore(sys.argv[1]) as store:
    store.add_entry_durably(EntryRecord(name="mine", kind="submission", suite_version="tiny/r1", owner="bob",
                                        token=sys.argv[2]), runs)
"""


def _killed_mid_write(db: Path, token: str) -> Path:
    """Run a grader that is killed while writing the side file of entry 'mine'; its temp file."""
    import signal
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _WRITER_KILLED_MID_WRITE, str(db), token])
    assert done.returncode == -signal.SIGKILL
    [tmp] = [p for p in Path(f"{db}.pending").iterdir() if token in p.name]
    assert tmp.name.startswith(f".{token}.json.") and tmp.name.endswith(".tmp") and tmp.stat().st_size > 10
    return tmp


def test_a_side_file_left_half_written_by_a_dead_grader_is_removed_and_said(tmp_path):
    """A grader killed while writing its side file left a half-written ``.<token>.json.*.tmp``:
    the result was in its memory only, and every later flush kept the file without a word. Its
    temp file now names its writer (owner_tag): the next flush removes it and says the result is
    lost (a whole one, its writer killed before the rename, is still stored: the test above); a
    half-written one of a live grader stays in silence, and an older lrgym's unnamed one stays,
    said once it is old."""
    from lrgym.baselines.owner_names import owner_tag

    db = tmp_path / "r.sqlite"
    dead = _killed_mid_write(db, "c" * 32)
    pending = tmp_path / "r.sqlite.pending"
    live = pending / (".%s.json.%s-abcd1234.tmp" % ("e" * 32, owner_tag()))  # this process: alive, still writing
    live.write_text('{"entry":{"name":"x","token":"' + "e" * 32 + '"},"runs":[')
    old = pending / (".%s.json.abcd1234.tmp" % ("f" * 32))  # an older lrgym's name: its writer cannot be judged
    old.write_text('{"entry":{"name":"older","token":"' + "f" * 32 + '"},"runs":[')
    said = []
    with ResultStore(db) as store:
        assert store.flush_pending(log=said.append) == []
        assert len(said) == 1 and str(dead) in said[0], said
        assert "entry 'mine'" in said[0] and "half-written" in said[0] and "is lost; grade that entry again" in said[0]
        assert sorted(p.name for p in pending.iterdir()) == sorted([live.name, old.name])
        os.utime(old, (old.stat().st_atime - 7200, old.stat().st_mtime - 7200))
        said.clear()
        assert store.flush_pending(log=said.append) == []
        assert len(said) == 1 and str(old) in said[0] and "entry 'older'" in said[0] and "stays" in said[0], said
        assert sorted(p.name for p in pending.iterdir()) == sorted([live.name, old.name])  # neither removed


def test_a_half_written_side_file_of_a_stored_result_is_removed_as_nothing_lost(tmp_path):
    """A half-written temp file whose token is stored (its grader wrote its side file again after
    another flush had renamed the first, and died in that write) is removed, and said to lose nothing."""
    db = tmp_path / "r.sqlite"
    token = "d" * 32
    with ResultStore(db) as store:
        store.add_entry(synthetic_entry(SUITE, "mine", kind="submission", owner="bob", token=token),
                        synthetic_runs(SUITE, [[0.5], [0.5]]))
    tmp = _killed_mid_write(db, token)
    said = []
    with ResultStore(db) as store:
        assert store.flush_pending(log=said.append) == []
        assert len(said) == 1 and str(tmp) in said[0] and "in the store" in said[0] and "nothing is lost" in said[0]
        assert [e.token for e in store.entries()] == [token]
    assert not (tmp_path / "r.sqlite.pending").exists()


def test_show_names_the_finished_results_that_wait_to_be_written(tmp_path):
    """A grader that gave up on a locked store leaves its result in a side file for the next run;
    the board said nothing of it, as if the result were lost."""
    typer_testing = pytest.importorskip("typer.testing")
    from lrgym.leaderboard.cli import app

    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store, ResultStore(db) as locker:
        store.add_entry(synthetic_entry(SUITE, "fixed"), synthetic_runs(SUITE, [[0.25], [0.75]]))
        locker.conn.execute("BEGIN IMMEDIATE")
        store.conn.execute("PRAGMA busy_timeout = 0")
        assert store.add_entry_durably(_bobs_entry(token=TOKEN), synthetic_runs(SUITE, [[0.5], [0.5]]),
                                       patience=0) is None
        locker.conn.execute("ROLLBACK")
    side = tmp_path / "r.sqlite.pending" / (TOKEN + ".json")
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", "show", "--suite", "quick", "--db", str(db)],
                                              env={"COLUMNS": "400"})
    out = " ".join(result.output.split())
    assert result.exit_code == 0, out
    assert f"not on the board: entry 'keeper': a finished result waits in {side}" in out
    assert f"the next grading run of {db} writes it" in out
    with ResultStore(db) as store:
        store.flush_pending(log=lambda message: None)
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", "show", "--suite", "quick", "--db", str(db)],
                                              env={"COLUMNS": "400"})
    assert result.exit_code == 0 and "waits in" not in result.output


def test_import_kept_on_a_full_store_says_so_and_keeps_the_file(tmp_path, monkeypatch):
    typer_testing = pytest.importorskip("typer.testing")
    from lrgym.leaderboard.cli import app

    db = tmp_path / "r.sqlite"
    kept = _bobs_result_kept(db, _long_runs())
    real_import = ResultStore.import_kept

    def import_on_a_full_disk(self, path, name):
        _fill(self)
        return real_import(self, path, name)

    monkeypatch.setattr(ResultStore, "import_kept", import_on_a_full_disk)
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", "import-kept", str(kept), "--name", "bobs-keeper",
                                                    "--db", str(db)], env={"COLUMNS": "400"})
    out = " ".join(result.output.split())
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), out  # said, not SQLite's traceback
    assert f"takes no entries now (database or disk is full); the result stays in {kept}" in out
    assert kept.exists()
    monkeypatch.undo()
    with ResultStore(db) as store:
        assert store.entry(store.import_kept(kept, "bobs-keeper")).token == TOKEN


def _without_blocking(call, fifos):
    """``call()`` in a thread; a call still blocked after a while (reading a FIFO, waiting for a
    writer forever) is released (each FIFO opened for writing and closed) and fails the test."""
    import threading

    result = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(timeout=20)
    blocked = thread.is_alive()
    while thread.is_alive():  # release it, so the test fails instead of hanging
        for fifo in fifos:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # no reader on it now
                pass
        thread.join(timeout=0.1)
    assert not blocked, "blocked reading a FIFO of the side-file folder"
    return result[0]


def test_a_fifo_named_like_a_side_file_is_said_and_never_blocks_the_flush_or_the_board(tmp_path):
    """A FIFO (or any file that is no regular one) named like a side file, a set-aside one or a
    temp file in ``<db>.pending``: the flush and ``show``'s notes read it with ``read_text`` and
    waited for a writer forever. It is said, never opened for reading, and stays."""
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        store._side_files._write_pending(_bobs_entry(token=TOKEN), synthetic_runs(SUITE, [[0.25], [0.75]]))
        names = ["c" * 32 + ".json", "d" * 32 + ".name-taken", "e" * 32 + ".unwritable",
                 "." + "f" * 32 + ".json.grader-x1y2.tmp"]
        fifos = [store.pending_dir / name for name in names]
        for fifo in fifos:
            os.mkfifo(fifo)
    said = []

    def flush():  # (a store of the thread's own: SQLite's connections stay in their thread)
        with ResultStore(db) as grader:
            return grader.flush_pending(log=said.append)

    def notes():
        with ResultStore(db) as shown:
            return ([shown.waiting_note(p) for p in shown.waiting_results()]
                    + [shown.kept_note(p) for p in shown.kept_results()]
                    + [shown.unwritable_note(p) for p in shown.unwritable_results()])

    ids = _without_blocking(flush, fifos)
    with ResultStore(db) as store:
        assert [store.entry(i).token for i in ids] == [TOKEN]
        for fifo in (fifos[0], fifos[3]):  # a waiting side file, a temp file
            assert any(f"{fifo} is a FIFO (named pipe), not a regular file" in m for m in said), said
        assert any(f"a result is kept in {fifos[1]} (unreadable" in m for m in said)
        assert any(f"a result is kept in {fifos[2]} (unreadable: NotRegularFileError)" in m for m in said)
    shown = _without_blocking(notes, fifos)
    assert len(shown) == 3 and all(str(fifo) in note for fifo, note in zip(fifos, shown))
    assert all(fifo.exists() for fifo in fifos)


def _side_files_no_run_reads_are_said_and_stay(tmp_path, write_side_files, reason: str = "") -> None:
    """Beside bob's readable result waiting in the pending folder, the side files that
    ``write_side_files(pending_dir)`` makes (and returns) are ones no run can read: ``show`` says
    each could not be read (``reason`` starting the parenthesis) and stays there, never that it
    waits for a run to write it, and still says bob's waits; a grading run's flush stores bob's
    alone, says each of the others, and leaves them where they are."""
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        store.add_entry(synthetic_entry(SUITE, "fixed"), synthetic_runs(SUITE, [[0.25], [0.75]]))
        store._side_files._write_pending(_bobs_entry(token=TOKEN), synthetic_runs(SUITE, [[0.5], [0.5]]))
        paths = write_side_files(store.pending_dir)
    out = _show(db)
    for path in paths:
        assert f"a side file {path} could not be read ({reason}" in out and "stays there" in out, out
        assert f"waits in {path}" not in out, out
    assert f"entry 'keeper': a finished result waits in {store.pending_dir / (TOKEN + '.json')}" in out, out
    said = []
    with ResultStore(db) as grader:
        assert len(grader.flush_pending(log=said.append)) == 1  # bob's; the others stay, said
    assert len(said) == len(paths), said
    assert all(f"could not be read ({reason}" in m and "stays there" in m for m in said), said
    assert all(path.exists() for path in paths)


def test_the_board_says_a_side_file_no_run_can_read_stays_not_that_a_run_writes_it(tmp_path):
    """``show`` said of a damaged side file and of a FIFO named like one ``entry '(unreadable)': a
    finished result waits in ...; the grader still waiting for the store or the next grading run of
    ... writes it``, while every grading run's flush leaves it (it cannot read it) and says so. The
    board now says what the flush says: not stored, it stays, look at it."""

    def damaged_and_fifo(pending_dir: Path) -> list[Path]:
        damaged = pending_dir / ("c" * 32 + ".json")
        damaged.write_text('{"entry": {"na')
        fifo = pending_dir / ("d" * 32 + ".json")
        os.mkfifo(fifo)
        return [damaged, fifo]

    _side_files_no_run_reads_are_said_and_stay(tmp_path, damaged_and_fifo)


def test_the_board_reads_a_side_file_as_the_flush_does_not_its_name_alone(tmp_path):
    """A side file whose entry name reads but whose entry or runs do not (one of another lrgym
    version: an entry field this one has not; runs that are no list of runs) was said by ``show`` as
    ``entry 'x': a finished result waits in ...; ... the next grading run of ... writes it`` (the
    board read the name alone), while every flush leaves it unread and says so. The board reads it
    as the flush does: said as staying, by both."""
    import json

    def newer_and_no_runs(pending_dir: Path) -> list[Path]:
        good = json.loads((pending_dir / f"{TOKEN}.json").read_text())
        newer = pending_dir / ("c" * 32 + ".json")
        newer.write_text(json.dumps({**good, "entry": {**good["entry"], "token": "c" * 32, "added_later": 1}}))
        no_runs = pending_dir / ("d" * 32 + ".json")
        no_runs.write_text(json.dumps({**good, "entry": {**good["entry"], "token": "d" * 32}, "runs": [3]}))
        return [newer, no_runs]

    _side_files_no_run_reads_are_said_and_stay(tmp_path, newer_and_no_runs)


def test_a_side_file_nested_deeper_than_the_parser_recurses_is_said_and_never_stops_the_flush(tmp_path):
    """A side file of ``[`` 100,000 times (100 KB: anyone who writes as the grader's user, a policy
    without namespaces among them) raised RecursionError out of every flush, so out of every
    grading run of the store before it graded anything, bob's whole result beside it never stored,
    and out of ``show``. It is one more side file no run can read: said by both, it stays."""

    def nested(pending_dir: Path) -> list[Path]:
        path = pending_dir / ("c" * 32 + ".json")
        path.write_text("[" * 100_000)
        return [path]

    _side_files_no_run_reads_are_said_and_stay(tmp_path, nested, reason="RecursionError")


def _show(db: Path) -> str:
    typer_testing = pytest.importorskip("typer.testing")
    from lrgym.leaderboard.cli import app

    result = typer_testing.CliRunner().invoke(app, ["leaderboard", "show", "--suite", "quick", "--db", str(db)],
                                              env={"COLUMNS": "400"})
    out = " ".join(result.output.split())
    assert result.exit_code == 0, out
    return out


def _stored_right_after_the_listing(monkeypatch, listing: str, store_it) -> None:
    """Make ``show``'s ``SideFiles.<listing>`` (the store's side files) list them, then another grader
    store the result (removing its file) before ``show`` reads them: milliseconds apart in a real race."""
    real = getattr(SideFiles, listing)

    def listed_then_stored(self):
        paths = real(self)
        if paths:
            store_it()
        return paths

    monkeypatch.setattr(SideFiles, listing, listed_then_stored)


def test_show_says_nothing_of_a_waiting_result_stored_between_the_listing_and_the_reading(tmp_path, monkeypatch):
    """Another grader's flush commits a waiting result and removes its side file after ``show``
    listed it: ``show`` said ``entry '(unreadable)': a finished result waits in ...`` of a result on
    its board."""
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        store.add_entry(synthetic_entry(SUITE, "fixed"), synthetic_runs(SUITE, [[0.25], [0.75]]))
        store._side_files._write_pending(_bobs_entry(token=TOKEN), synthetic_runs(SUITE, [[0.5], [0.5]]))

    def other_grader_flushes():
        with ResultStore(db) as other:
            assert len(other.flush_pending(log=lambda message: None)) == 1

    _stored_right_after_the_listing(monkeypatch, "waiting_results", other_grader_flushes)
    out = _show(db)
    assert "not on the board" not in out and "unreadable" not in out, out
    with ResultStore(db) as store:
        assert [e.token for e in store.entries(kind="submission")] == [TOKEN]


def test_show_says_nothing_of_a_kept_result_imported_between_the_listing_and_the_reading(tmp_path, monkeypatch):
    db = tmp_path / "r.sqlite"
    kept = _bobs_result_kept(db, synthetic_runs(SUITE, [[0.5], [0.5]]))

    def bob_imports_it():
        with ResultStore(db) as other:
            other.import_kept(kept, "bobs-keeper")

    _stored_right_after_the_listing(monkeypatch, "kept_results", bob_imports_it)
    out = _show(db)
    assert "not on the board" not in out and "unreadable" not in out, out
    with ResultStore(db) as store:
        assert [(e.name, e.token) for e in store.entries(kind="submission") if e.owner == "bob"] == [("bobs-keeper", TOKEN)]


def test_a_dead_graders_temp_file_that_is_no_utf_8_is_removed_and_said_not_a_stopped_flush(tmp_path):
    """A temp file of a dead grader whose bytes are no UTF-8 (graders write ASCII JSON, so no whole
    result: cut in a multi-byte character by a hand edit, or another tool's) stopped every flush
    with a bare UnicodeDecodeError; it is judged as a half-written one: removed and said."""
    db = tmp_path / "r.sqlite"
    tmp = _killed_mid_write(db, "c" * 32)
    left = b'{"entry":{"name":"mine\xff\xfe'
    tmp.write_bytes(left)
    said = []
    with ResultStore(db) as store:
        assert store.flush_pending(log=said.append) == []
    assert len(said) == 1 and str(tmp) in said[0] and "half-written" in said[0], said
    # the file's own size, not that of its text with the two bytes replaced (U+FFFD: 3 bytes each)
    assert f"half-written ({len(left)} bytes)" in said[0], said
    assert not tmp.exists()
