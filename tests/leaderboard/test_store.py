"""Tests for the leaderboard results store (SQLite): round trips, failures, concurrency, crashes."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import sqlite3
import time

import numpy as np
import pytest

from lrgym.leaderboard.store import (
    SCHEMA_VERSION,
    EntryRecord,
    ResultStore,
    RunRecord,
    SchemaVersionError,
)

SUITE = "suite-test-v0"


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _same_curves(a, b) -> bool:
    return a.keys() == b.keys() and all(
        len(a[k]) == len(b[k]) and all(_same(x, y) for x, y in zip(a[k], b[k])) for k in a
    )


def _assert_same_run(got: RunRecord, want: RunRecord) -> None:
    assert (got.family, got.instance, got.seed, got.diverged) == (
        want.family, want.instance, want.seed, want.diverged
    )
    for name in ("score", "final_loss", "initial_loss", "steps_to_target"):
        assert _same(getattr(got, name), getattr(want, name)), name
    assert _same_curves(got.curves, want.curves)


def _make_runs(n: int, n_steps: int = 5, family: str = "linreg") -> list[RunRecord]:
    steps = np.arange(n_steps, dtype=float)
    return [
        RunRecord(
            family=family,
            instance=i,
            seed=100 + i,
            score=0.5 + i,
            final_loss=1.0 / (i + 1),
            initial_loss=2.0,
            diverged=False,
            steps_to_target=float(i + 3),
            curves={
                "lr": 1e-3 * (1 + steps),
                "train_loss": 2.0 - 0.1 * steps,
                "val_loss": 2.1 - 0.1 * steps,
                "metric": 0.1 * steps,
            },
        )
        for i in range(n)
    ]


def _entry(name: str, n_runs: int, **kw) -> EntryRecord:
    kw.setdefault("summary", {"expected_runs": n_runs})
    return EntryRecord(name=name, kind="submission", suite_version=SUITE, **kw)


# --------------------------------------------------------------------------------------------
# Single process
# --------------------------------------------------------------------------------------------


def test_round_trip_with_nan_and_inf(tmp_path):
    nan, inf = math.nan, math.inf
    runs = [
        RunRecord(
            family="linreg", instance=np.int64(3), seed=np.int32(7), score=np.float64(0.75),
            final_loss=0.01, initial_loss=2.5, diverged=np.bool_(False), steps_to_target=12.0,
            curves={"lr": np.array([0.1, 0.2, 0.3]), "train_loss": [2.5, 1.0, 0.01],
                    "val_loss": [2.6, 1.1, 0.02], "metric": [0.1, 0.5, 0.9]},
        ),
        RunRecord(  # a diverged run: NaN/inf everywhere they can appear
            family="mlp", instance=4, seed=8, score=-inf, final_loss=nan, initial_loss=2.5,
            diverged=True, steps_to_target=inf,
            curves={"lr": [0.1, 10.0, 100.0], "train_loss": [2.5, inf, nan],
                    "val_loss": [2.6, -inf, nan], "metric": [0.1, nan, nan]},
        ),
        RunRecord(family="recsys", instance=5, seed=9, score=nan, final_loss=-inf,
                  initial_loss=inf, diverged=False, steps_to_target=nan, curves={}),
    ]
    entry = EntryRecord(
        name="adam-cosine",
        kind="baseline",
        policy_source_hash="sha256:abc",
        suite_version=SUITE,
        env_spec={"id": "LRControl-v1", "kwargs": {"horizon": 50, "lr_max": inf}},
        package_versions={"numpy": "2.4.6", "lrgym": "0.1.0"},
        cpu="Test CPU @ 3 GHz",
        seeds=[np.int64(0), 1, 2],
        summary={"iqm": 0.7, "ci": [0.6, 0.8], "worst": -inf, "undefined": nan, "n": 3},
    )
    path = tmp_path / "sub" / "results.sqlite"  # parent directory is created
    with ResultStore(path) as store:
        entry_id = store.add_entry(entry, runs)
        assert store.check_integrity()

    with ResultStore(path) as store:  # reopen an existing file
        (got,) = store.entries()
        assert got.id == entry_id and got.n_runs == 3
        assert got.created_at  # filled in by the store
        assert (got.name, got.kind, got.status, got.failure_reason) == (
            "adam-cosine", "baseline", "ok", None)
        assert got.policy_source_hash == "sha256:abc"
        assert got.suite_version == SUITE
        assert got.env_spec == {"id": "LRControl-v1", "kwargs": {"horizon": 50, "lr_max": inf}}
        assert got.package_versions == {"numpy": "2.4.6", "lrgym": "0.1.0"}
        assert got.cpu == "Test CPU @ 3 GHz"
        assert got.seeds == (0, 1, 2)
        assert got.summary["worst"] == -inf and math.isnan(got.summary["undefined"])
        assert {k: v for k, v in got.summary.items() if k != "undefined"} == {
            "iqm": 0.7, "ci": [0.6, 0.8], "worst": -inf, "n": 3}
        assert store.entry(entry_id).id == entry_id and store.entry(entry_id).name == got.name

        got_runs = store.runs(entry_id)
        assert len(got_runs) == len(runs)
        for g, w in zip(got_runs, runs):
            _assert_same_run(g, w)
        assert isinstance(got_runs[0].instance, int) and got_runs[0].diverged is False

    # NaN is stored as NULL (SQLite REAL cannot hold it) and JSON columns are strict JSON.
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("SELECT score, final_loss FROM runs WHERE family='mlp'").fetchone() == (
            -inf, None)
        for (curves_json,) in raw.execute("SELECT curves_json FROM runs"):
            assert "NaN" not in curves_json and "Infinity" not in curves_json
    finally:
        raw.close()


def test_failed_submission_is_recorded_and_listed(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        ok_id = store.add_entry(_entry("mine", 2), _make_runs(2))
        fail_id = store.record_failure(
            "mine", "submission", "TimeoutError: exceeded 600 s",
            suite_version=SUITE, policy_source_hash="sha256:def", seeds=[0, 1],
        )
        assert fail_id > ok_id
        (failed,) = store.entries(status="failed")
        assert failed.id == fail_id
        assert (failed.name, failed.kind, failed.status) == ("mine", "submission", "failed")
        assert failed.failure_reason == "TimeoutError: exceeded 600 s"
        assert failed.policy_source_hash == "sha256:def" and failed.seeds == (0, 1)
        assert failed.n_runs == 0 and store.runs(fail_id) == []
        assert [e.id for e in store.entries(SUITE)] == [ok_id, fail_id]
        assert [e.id for e in store.entries(SUITE, "ok")] == [ok_id]
        # A later failure does not hide the earlier successful entry.
        assert [e.id for e in store.latest_entries(SUITE)] == [ok_id]
        assert store.check_integrity()


def test_history_is_kept_and_latest_entry_per_name(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        a1 = store.add_entry(_entry("a", 1), _make_runs(1))
        b1 = store.add_entry(_entry("b", 2), _make_runs(2))
        a2 = store.add_entry(_entry("a", 3), _make_runs(3))  # re-submission: new entry
        store.add_entry(EntryRecord(name="a", kind="submission", suite_version="other"), [])
        store.record_failure("b", "submission", "crashed", suite_version=SUITE)
        assert [e.id for e in store.entries(name="a", suite_version=SUITE)] == [a1, a2]
        latest = store.latest_entries(SUITE)
        assert [(e.name, e.id) for e in latest] == [("a", a2), ("b", b1)]
        assert len(store.runs(a1)) == 1 and len(store.runs(a2)) == 3
        assert store.latest_entries("no-such-suite") == []


def test_validation(tmp_path):
    with pytest.raises(ValueError):
        EntryRecord(name="x", kind="hero")
    with pytest.raises(ValueError):
        EntryRecord(name="x", kind="baseline", status="meh")
    with ResultStore(tmp_path / "r.sqlite") as store:
        with pytest.raises(ValueError):
            store.add_entry(EntryRecord(name="x", kind="baseline", n_runs=3), _make_runs(2))
        eid = store.add_entry(_entry("x", 1), _make_runs(1))
        with pytest.raises(ValueError):  # records read back are never re-written in place
            store.add_entry(store.entry(eid), _make_runs(1))
        with pytest.raises(TypeError):  # nothing half-written when encoding fails
            store.add_entry(_entry("y", 0, summary={"bad": object()}), [])
        with pytest.raises(KeyError):
            store.entry(12345)
        assert [e.name for e in store.entries()] == ["x"]


def test_schema_version_recorded_and_newer_schema_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        store.add_entry(_entry("a", 1), _make_runs(1))
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()
    with ResultStore(path) as store:  # reopening neither recreates nor loses anything
        assert len(store.entries()) == 1 and store.schema_version == SCHEMA_VERSION
        store.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaVersionError):
        ResultStore(path)


# --------------------------------------------------------------------------------------------
# Several processes ('spawn': a fresh interpreter, as the leaderboard runner uses)
# --------------------------------------------------------------------------------------------


def _write_entries(path: str, writer: int, n_entries: int, go) -> None:
    go.wait(30)  # start together, so that the writers really overlap
    with ResultStore(path) as store:
        for k in range(n_entries):
            n_runs = 1 + (k % 4)
            store.add_entry(_entry(f"w{writer}-{k}", n_runs), _make_runs(n_runs, n_steps=50))


def _write_forever(path: str) -> None:
    with ResultStore(path) as store:
        k = 0
        while True:  # killed by the parent
            n_runs = 1 + (k % 12)
            store.add_entry(_entry(f"e{k}", n_runs), _make_runs(n_runs, n_steps=400))
            k += 1


def _commit_then_hang_in_transaction(path: str, n_committed: int, in_transaction) -> None:
    import lrgym.leaderboard.store as store_module

    class _HangBeforeCommit(store_module._WriteTransaction):
        def __exit__(self, *exc):
            in_transaction.set()
            time.sleep(3600)  # killed here: all rows inserted, COMMIT never reached

    with ResultStore(path) as store:
        for k in range(n_committed):
            store.add_entry(_entry(f"e{k}", 3), _make_runs(3))
        store._write_transaction = lambda: _HangBeforeCommit(store.conn)
        # Large enough (a few MB) to overflow SQLite's page cache, so uncommitted pages are
        # already written to the WAL file when the process dies.
        store.add_entry(_entry("partial", 30), _make_runs(30, n_steps=2000))


def _assert_complete(store: ResultStore) -> list[EntryRecord]:
    assert store.check_integrity()
    entries = store.entries()
    for e in entries:
        runs = store.runs(e.id)
        assert len(runs) == e.n_runs == e.summary["expected_runs"], e
        assert all(len(r.curves["lr"]) == len(runs[0].curves["lr"]) for r in runs)
    return entries


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "r.sqlite")  # fresh file: the writers also race to create the schema
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    procs = [ctx.Process(target=_write_entries, args=(path, w, 20, go)) for w in range(2)]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    with ResultStore(path) as store:
        entries = _assert_complete(store)
        assert sorted(e.name for e in entries) == sorted(
            f"w{w}-{k}" for w in range(2) for k in range(20))
        assert sum(e.n_runs for e in entries) == 2 * sum(1 + (k % 4) for k in range(20))


def test_writer_killed_mid_write_leaves_store_valid(tmp_path):
    path = str(tmp_path / "r.sqlite")
    ctx = mp.get_context("spawn")
    committed = []
    for _round in range(2):  # kill a second writer on top of the first one's leftovers
        proc = ctx.Process(target=_write_forever, args=(path,))
        proc.start()
        try:
            target = len(committed) + 5
            deadline = time.monotonic() + 30
            with ResultStore(path) as reader:  # reads while the child writes (WAL)
                while len(reader.entries()) < target:
                    assert proc.is_alive() and time.monotonic() < deadline
                    time.sleep(0.005)
            proc.kill()  # SIGKILL at an arbitrary point: no cleanup, no rollback
        finally:
            proc.kill()
            proc.join(timeout=10)
        assert proc.exitcode == -9
        with ResultStore(path) as store:
            entries = _assert_complete(store)
            assert len(entries) >= target
            committed = entries
    with ResultStore(path) as store:  # the dead writer's lock is gone: writing works again
        eid = store.add_entry(_entry("after", 2), _make_runs(2))
        assert len(store.runs(eid)) == 2 and store.check_integrity()


def test_writer_killed_inside_transaction_leaves_no_partial_entry(tmp_path):
    path = str(tmp_path / "r.sqlite")
    ctx = mp.get_context("spawn")
    in_transaction = ctx.Event()
    proc = ctx.Process(target=_commit_then_hang_in_transaction, args=(path, 4, in_transaction))
    proc.start()
    try:
        assert in_transaction.wait(30), "writer never reached its transaction"
        wal_size = os.path.getsize(path + "-wal")
        proc.kill()
    finally:
        proc.kill()
        proc.join(timeout=10)
    assert proc.exitcode == -9
    assert wal_size > 500_000  # uncommitted pages had already been spilled to the WAL
    with ResultStore(path) as store:
        entries = _assert_complete(store)
        assert [e.name for e in entries] == ["e0", "e1", "e2", "e3"]  # no "partial"
        assert store.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 12
        eid = store.add_entry(_entry("after", 2), _make_runs(2))
        assert len(store.runs(eid)) == 2 and store.check_integrity()
