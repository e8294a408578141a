"""What a submitter controls besides code: limits, names, text; and a locked or killed store.

Covers the cheats "name squatting", "limits", "lost results" and "terminal and Markdown
injection" of issue #11 (the code cheats are in ``test_cheats.py``), and the private suite.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time

import pytest
from lb_helpers import HERE, policy, synthetic_entry, synthetic_runs, tiny_suite
from typer.testing import CliRunner

from lrgym.leaderboard.cli import app
from lrgym.leaderboard.limits import check_memory_limit, check_time_limit, machine_memory_mb, plan_workers
from lrgym.leaderboard.private import create_key, load_key, private_suite, references_dir
from lrgym.leaderboard.ranking import build_leaderboard
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.report import markdown
from lrgym.leaderboard.runner import run_suite, submission_spec
from lrgym.leaderboard.store import EntryRecord, NameTakenError, ResultStore
from lrgym.leaderboard.text import check_entry_name, clean, markdown_escape, name_key
from lrgym.tasks.base import INSTANCE_SETS

SUITE = tiny_suite("inputs")


# ---- limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0, -1, 0.5, 1e9, "soon", None, True])
def test_bad_time_limits_are_refused(value):
    with pytest.raises(ValueError, match="time limit"):
        check_time_limit(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, 0, -1, 100, 1e12])
def test_bad_memory_limits_are_refused(value):
    with pytest.raises(ValueError, match="memory limit"):
        check_memory_limit(value)


def test_good_limits_and_worker_caps():
    assert check_time_limit(60) == 60.0 and check_memory_limit(1024) == 1024.0
    assert plan_workers(8, 3, None, 2)[0] == 3  # never more workers than jobs
    assert plan_workers(None, 100, None, 2) == (2, "")
    total = machine_memory_mb()
    n, note = plan_workers(64, 1000, total / 4, 2)
    assert n == 4 and "fill the machine" in note  # workers x limit fits the machine
    with pytest.raises(ValueError, match="workers"):
        plan_workers(0, 3, None, 2)


@pytest.mark.parametrize("option, value", [("--time-limit", "nan"), ("--time-limit", "inf"), ("--time-limit", "0"),
                                           ("--time-limit", "-1"), ("--memory-limit", "0"),
                                           ("--memory-limit", "-5"), ("--memory-limit", "inf")])
def test_cli_refuses_bad_limits_before_running(tmp_path, option, value):
    db = tmp_path / "r.sqlite"
    result = CliRunner().invoke(app, ["leaderboard", "submit", policy("Keep"), "--suite", "quick", "--db", str(db),
                                      option, value])
    assert result.exit_code == 2
    assert option in result.output and ("out of range" in result.output or "finite" in result.output)
    assert not db.exists()


@pytest.mark.parametrize("option, value, valid", [("--time-limit", "10m", "seconds from 1 to 604800"),
                                                  ("--time-limit", "soon", "seconds from 1 to 604800"),
                                                  ("--memory-limit", "4G", "MB from 256 to"),
                                                  ("--memory-limit", "4096MB", "MB from 256 to")])
def test_cli_names_a_limit_that_is_no_number_and_the_valid_ones(tmp_path, option, value, valid):
    """A limit with a unit (``--time-limit 10m``) was typer's float error, "Input should be a valid
    number, unable to parse string as a number": neither the value nor the range nor the unit."""
    db = tmp_path / "r.sqlite"
    result = CliRunner().invoke(app, ["leaderboard", "submit", policy("Keep"), "--suite", "quick", "--db", str(db),
                                      option, value])
    text = " ".join(result.output.replace("│", " ").split())  # rich's error box, unwrapped
    assert result.exit_code == 2, text
    assert option in text and repr(value) in text and valid in text and "without a unit" in text, text
    assert not db.exists()


# ---- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["fixed", "Fixed", " fixed ", "ｆｉｘｅｄ", "ADAM"])
def test_baseline_names_are_reserved(name):
    with pytest.raises(ValueError, match="reserved for the baseline|invalid"):  # fullwidth: not ASCII at all
        submission_spec(policy("Keep"), name=name)


@pytest.mark.parametrize("name", ["[x](http://evil.example)", "![i](http://evil.example/i.png)", "<script>",
                                  "a\x1b[2Jb", "x" * 65, "", "-rf", "a|b"])
def test_unsafe_names_are_refused(name):
    with pytest.raises(ValueError, match="entry name"):
        check_entry_name(name)


def test_a_name_belongs_to_its_owner(tmp_path):
    """Another owner cannot take a name (the store checks it inside the write transaction);
    the owner re-submitting adds a new version, and the board shows the latest."""
    with ResultStore(tmp_path / "r.sqlite") as store:
        runs = synthetic_runs(SUITE, [[0.5], [0.5]])
        first = store.add_entry(synthetic_entry(SUITE, "mine", kind="submission", owner="alice", summary={}), runs)
        with pytest.raises(NameTakenError, match="another submitter"):
            store.add_entry(synthetic_entry(SUITE, "Mine", kind="submission", owner="mallory"), runs)
        store.add_entry(synthetic_entry(SUITE, "fixed", kind="baseline"), runs)
        with pytest.raises(NameTakenError, match="reserved for the baseline"):
            store.add_entry(synthetic_entry(SUITE, "FIXED", kind="submission", owner="alice"), runs)
        second = store.add_entry(synthetic_entry(SUITE, "mine", kind="submission", owner="alice", summary={}), runs)
        assert [e.id for e in store.latest_entries(SUITE.version, kind="submission")] == [second]
        assert store.entry(first).owner == "alice"
        assert store.name_available("mine", SUITE.version, "mallory") is not None
        assert store.name_available("mine", SUITE.version, "alice") is None


@pytest.mark.parametrize("name, same", [
    ("hypergradient_muIt", "hypergradient_mult"), ("m0del-1", "Model-l"), ("burner", "bumer"),
    ("VVave", "wave"), ("cIip", "dip"), (" Ｆｉｘｅｄ ", "fixed"), ("a  b", "A B"),
    # separators do not tell names apart (a second review, 2026-12-03: each of these passed as new)
    ("hypergradient-mult", "hypergradient_mult"), ("hypergradient.mult", "hypergradient_mult"),
    ("hypergradient__mult", "hypergradient_mult"), ("hyper gradient_mult", "hypergradient_mult"),
    ("hypergradient_mult.", "hypergradient_mult"), ("keeper-", "keeper"), ("a_b", "a-b"), ("ab", "a b")])
def test_lookalike_names_are_one_name(name, same):
    assert name_key(name) == name_key(same)


@pytest.mark.parametrize("name, other", [("model-2", "model-z"), ("sgd", "sgb"), ("adam", "adam_default"),
                                         ("hypergradient", "hypergradient_mult"),
                                         # the rule's scope (name_key): what TR39 does not list stays apart
                                         ("C05INE", "cosine"), ("ADAM8", "adamb"), ("lr-g", "lr-q"),
                                         ("lr5", "lrs"), ("sgdr-u", "sgdr-v")])
def test_distinct_names_stay_distinct(name, other):
    assert name_key(name) != name_key(other)


def test_a_lookalike_of_a_reserved_name_is_refused_naming_it(tmp_path):
    """``hypergradient_muIt`` (capital I) next to the baseline ``hypergradient_mult``: refused
    before running, and by the store; both errors name the baseline it is too close to."""
    with pytest.raises(ValueError, match="reserved for the baseline 'hypergradient_mult'"):
        submission_spec(policy("Keep"), name="hypergradient_muIt")
    with ResultStore(tmp_path / "r.sqlite") as store:
        runs = synthetic_runs(SUITE, [[0.5], [0.5]])
        store.add_entry(synthetic_entry(SUITE, "hypergradient_mult"), runs)
        with pytest.raises(NameTakenError, match="baseline 'hypergradient_mult' .too close"):
            store.add_entry(synthetic_entry(SUITE, "hypergradient_muIt", kind="submission", owner="eve"), runs)
        store.add_entry(synthetic_entry(SUITE, "keeper-1", kind="submission", owner="alice"), runs)
        with pytest.raises(NameTakenError, match="too close to 'keeper-1', a name of another submitter .'alice'."):
            store.add_entry(synthetic_entry(SUITE, "Keeper-l", kind="submission", owner="mallory"), runs)


def test_spellings_of_a_name_are_versions_of_one_entry(tmp_path):
    """``keeper``, ``KEEPER``, ``Keeper`` of one owner: one row on the board (the latest, under the
    name it was last submitted with), in the ranking, the failures list, the export and look-ups."""
    from lrgym.leaderboard.export import select_entries
    from lrgym.leaderboard.report import plotted_rows

    with ResultStore(tmp_path / "r.sqlite") as store:
        ids = [store.add_entry(synthetic_entry(SUITE, n, kind="submission", owner="alice", summary={}),
                               synthetic_runs(SUITE, [[s], [s]]))
               for n, s in (("keeper", 0.2), ("KEEPER", 0.4), ("Keeper", 0.6))]
        store.add_entry(synthetic_entry(SUITE, "fixed", summary={}), synthetic_runs(SUITE, [[0.5], [0.5]]))
        latest = store.latest_entries(SUITE.version, kind="submission")
        assert [(e.id, e.name) for e in latest] == [(ids[-1], "Keeper")]
        assert [e.id for e in store.entries(SUITE.version, name="keeper")] == ids
        assert [e.id for e in select_entries(store, SUITE.version)] == sorted([ids[-1], ids[-1] + 1])
        lb = build_leaderboard(store, SUITE, reps=50)
        assert sorted(r.name for r in lb.rows) == ["Keeper", "fixed"]
        assert lb.row("KEEPER").entry.id == ids[-1] and lb.row("keeper").family_iqm[0] == pytest.approx(0.6)
        assert [r.name for r in plotted_rows(lb, top=0, entries=["keeper"])] == ["Keeper"]
        # a failed later attempt in another spelling is that entry's failure, the success still ranked
        store.record_failure("KeePer", "submission", "boom", suite_version=SUITE.version, owner="alice")
        lb = build_leaderboard(store, SUITE, reps=50)
        assert [f.name for f in lb.failures] == ["KeePer"] and "Keeper" in [r.name for r in lb.rows]
        store.add_entry(synthetic_entry(SUITE, "keeper", kind="submission", owner="alice", summary={}),
                        synthetic_runs(SUITE, [[0.7], [0.7]]))
        assert build_leaderboard(store, SUITE, reps=50).failures == []


def test_an_old_store_with_lookalikes_of_two_owners_keeps_both(tmp_path):
    """A file written before lookalikes were folded may hold ``keeper-1`` (alice, first) and
    ``keeper-l`` (mallory), and a submission ``hypergradient_muIt`` beside the baseline: it opens,
    every row stays on the board, the first claimant keeps adding versions, the other is refused."""
    db = tmp_path / "old.sqlite"
    with ResultStore(db) as store:  # written by hand, as the old name check let them through
        runs = synthetic_runs(SUITE, [[0.5], [0.5]])
        rows = [("keeper-1", "submission", "alice"), ("keeper-l", "submission", "mallory"),
                ("hypergradient_mult", "baseline", None), ("hypergradient_muIt", "submission", "eve")]
        for name, kind, owner in rows:
            store.conn.execute("INSERT INTO entries (name, kind, status, suite_version, created_at, n_runs, owner, "
                               "summary_json) VALUES (?, ?, 'ok', ?, 'x', 0, ?, '{}')",
                               (name, kind, SUITE.version, owner))
    with ResultStore(db) as store:
        assert sorted(e.name for e in store.latest_entries(SUITE.version)) == sorted(n for n, _, _ in rows)
        store.add_entry(synthetic_entry(SUITE, "keeper-1", kind="submission", owner="alice"), runs)
        with pytest.raises(NameTakenError, match="too close to 'keeper-1'"):
            store.add_entry(synthetic_entry(SUITE, "keeper-l", kind="submission", owner="mallory"), runs)
        assert len(store.latest_entries(SUITE.version)) == 4 and store.check_integrity()


def test_run_suite_refuses_a_taken_name_before_running(tmp_path):
    refs = load_references(SUITE, n_workers=1)
    with ResultStore(tmp_path / "r.sqlite") as store:
        [ok] = run_suite([submission_spec(policy("Keep"), name="squat")], SUITE, store=store, references=refs,
                         n_workers=1, time_limit=120, owner="alice")
        assert ok.ok
        before = store.entries()
        with pytest.raises(ValueError, match="another submitter"):
            run_suite([submission_spec(policy("Keep"), name="Squat")], SUITE, store=store, references=refs,
                      n_workers=1, time_limit=120, owner="mallory")
        assert store.entries() == before


# ---- text --------------------------------------------------------------------------------------


def test_clean_and_markdown_escape():
    assert clean("a\x1b[2Jb\x07\r\nc\td\u202ee\x9b") == "a[2Jb\nc de"
    assert clean("line1\nline2", keep_newlines=False) == "line1 line2"
    md = markdown_escape("[x](http://e.example) ![i](u) <b>&|*_`")
    assert "](" not in md.replace("\\](", "") and "<" not in md and "|" not in md.replace("\\|", "")
    assert name_key(" Ｆｉｘｅｄ ") == name_key("fixed")


def test_injected_text_in_the_store_is_harmless_in_every_output(tmp_path):
    """Entries written by an older grader (or by hand) with hostile names and reasons: the
    Markdown has no link, image or tag, the terminal no escape code."""
    evil = "[x](http://evil.example)![i](http://evil.example/i.png)<img src=x>\x1b]0;pwned\x07"
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        store.add_entry(synthetic_entry(SUITE, evil, kind="submission", summary=_summary()),
                        synthetic_runs(SUITE, [[0.5], [0.4]]))
        store.record_failure("bad\x1b[2J", "submission", "boom \x1b[2J\x1b]8;;http://evil.example\x1b\\link",
                             suite_version=SUITE.version)
        lb = build_leaderboard(store, SUITE)
    md = markdown(lb)
    assert "](http" not in md and "<img" not in md and "\x1b" not in md and "\x07" not in md
    from rich.console import Console

    from lrgym.leaderboard.report import print_table

    console = Console(record=True, width=300, force_terminal=False)
    print_table(lb, console)
    assert "\x1b" not in console.export_text()


def _summary():
    iv = [0.5, 0.4, 0.6]
    return {"iqm": iv, "mean": iv, "median": iv, "optimality_gap": iv, "families": {"quadratic": {"iqm": iv}},
            "diverged_fraction": 0.0, "reached_fraction": 1.0, "n_runs": 2, "bootstrap_reps": 10}


# ---- a locked or killed store ------------------------------------------------------------------


def _lock(db, seconds: float, ready: threading.Event):
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    ready.set()
    time.sleep(seconds)
    conn.execute("ROLLBACK")
    conn.close()


def test_a_locked_database_loses_nothing(tmp_path):
    db = tmp_path / "r.sqlite"
    entry = synthetic_entry(SUITE, "patient", kind="submission", summary={})
    runs = synthetic_runs(SUITE, [[0.5], [0.4]])
    with ResultStore(db, timeout=0.2) as store:
        assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
        ready = threading.Event()
        locker = threading.Thread(target=_lock, args=(db, 1.5, ready))
        locker.start()
        ready.wait()
        # the lock outlasts the busy timeout but not the patience: retried until written
        entry_id = store.add_entry_durably(entry, runs, patience=30)
        locker.join()
        assert entry_id is not None and len(store.runs(entry_id)) == 2
        assert not store.pending_dir.exists()  # no empty folder left beside the store
        # locked for longer than the patience: the entry waits in the side file ...
        ready = threading.Event()
        locker = threading.Thread(target=_lock, args=(db, 2.0, ready))
        locker.start()
        ready.wait()
        assert store.add_entry_durably(entry, runs, patience=0.5) is None
        locker.join()
        assert len(list(store.pending_dir.glob("*.json"))) == 1
        # ... and is written once by the next flush, never twice
        [written] = store.flush_pending()
        assert not store.pending_dir.exists()
        assert store.flush_pending() == []
        assert [e.name for e in store.entries()] == ["patient", "patient"]
        assert len(store.runs(written)) == 2 and store.check_integrity()


def test_a_grader_killed_after_the_side_file_loses_and_duplicates_nothing(tmp_path):
    """kill -9 between the side file and the commit, or between the commit and the side file's
    removal: the next flush writes the entry exactly once."""
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        entry = synthetic_entry(SUITE, "killed", kind="submission", summary={}, token="t" * 32)
        runs = synthetic_runs(SUITE, [[0.5], [0.4]])
        store._side_files._write_pending(entry, runs)  # killed before the commit
        store.add_entry(entry, runs)
        store._side_files._write_pending(entry, runs)  # committed, killed before the side file was removed
    with ResultStore(db) as store:
        store.flush_pending()
        assert [e.name for e in store.entries()] == ["killed"]
        assert list(store.pending_dir.glob("*.json")) == []


def test_schema_v1_files_are_migrated(tmp_path):
    db = tmp_path / "old.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript("""
        CREATE TABLE entries (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, kind TEXT NOT NULL,
          status TEXT NOT NULL, failure_reason TEXT, policy_source_hash TEXT, suite_version TEXT,
          env_spec_json TEXT, package_versions_json TEXT, cpu TEXT, seeds_json TEXT, created_at TEXT NOT NULL,
          summary_json TEXT, n_runs INTEGER NOT NULL);
        CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, entry_id INTEGER NOT NULL REFERENCES entries (id),
          family TEXT NOT NULL, instance INTEGER NOT NULL, seed INTEGER NOT NULL, score REAL, final_loss REAL,
          initial_loss REAL, diverged INTEGER NOT NULL, steps_to_target REAL, curves_json TEXT NOT NULL);
        INSERT INTO entries (name, kind, status, created_at, n_runs) VALUES ('old', 'baseline', 'ok', 'x', 0);
        PRAGMA user_version = 1;
    """)
    conn.close()
    with ResultStore(db) as store:
        assert store.schema_version == 2
        assert [(e.name, e.owner, e.token) for e in store.entries()] == [("old", None, None)]
        store.add_entry(EntryRecord(name="new", kind="submission", token="abc"), [])
        assert store.check_integrity()


# ---- the private suite ---------------------------------------------------------------------------


def test_private_suite_is_hidden_deterministic_and_disjoint(tmp_path):
    key = tmp_path / "grader.key"
    assert create_key(key) and not create_key(key)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    a, b = private_suite(key), private_suite(key)
    assert a == b and a.instance_set == "private" and a.n_runs == 160
    other = tmp_path / "other.key"
    create_key(other)
    c = private_suite(other)
    assert c.name != a.name and {t.instance for t in c.tasks()} != {t.instance for t in a.tasks()}
    public = set().union(*(INSTANCE_SETS[s] for s in ("train", "val", "test")))
    assert not {t.instance for t in a.tasks()} & public
    assert key.read_text().strip()[:8] not in a.name  # the name carries a hash, not the key
    os.chmod(key, 0o644)
    with pytest.raises(ValueError, match="readable by other users"):
        load_key(key)
    with pytest.raises(ValueError, match="not found"):
        load_key(tmp_path / "missing.key")


def test_the_private_pool_cannot_be_enumerated(tmp_path):
    """The hidden instances come from a pool no one can tabulate offline (a policy recognises a
    pooled instance from seed-independent facts such as its optimum loss; 200,000 instances took
    ≈ 35 CPU-minutes), disjoint from the public sets, and such seeds work end to end: the env
    builds and resets on one, and the store keeps it as the same integer (SQLite's INTEGER is
    signed 64-bit)."""
    from lrgym.env import LRControlEnv

    pool = INSTANCE_SETS["private"]
    assert len(pool) >= 2**60 and pool.stop <= 2**63  # un-enumerable, and still an int64
    for public in ("train", "val", "test"):
        other = INSTANCE_SETS[public]
        assert pool.start >= other.stop or pool.stop <= other.start, public
    key = tmp_path / "grader.key"
    create_key(key)
    suite = private_suite(key)
    assert suite.revision == 2  # the old pool's entries and references (r1) are never mixed in
    drawn = [t.instance for t in suite.tasks()]
    assert all(k in pool for k in drawn) and max(drawn) > 2**50  # spread over the pool, not its start
    k = next(t.instance for t in suite.tasks() if t.family == "quadratic")
    env = LRControlEnv("quadratic", instance_set="private", horizon=2)
    _, info = env.reset(seed=0, options={"instance": k})
    assert int(info["instance"]) == k
    _, info = env.reset(seed=1)  # a random draw from the pool
    assert int(info["instance"]) in pool
    with ResultStore(tmp_path / "r.sqlite") as store:
        runs = synthetic_runs(suite.restrict(["quadratic"]), [[0.5] * 8] * 5)
        entry_id = store.add_entry(synthetic_entry(suite, "big"), runs)
        assert [r.instance for r in store.runs(entry_id)] == [r.instance for r in runs]


def test_grading_on_a_private_suite(tmp_path):
    """References computed by the grader and kept beside the key; an entry records the suite's
    shape, not its instances; a look-up policy finds nothing to look up."""
    key = tmp_path / "grader.key"
    create_key(key)
    suite = private_suite(key, n_instances=1, n_seeds=2).restrict(["quadratic"])
    refs_dir = references_dir(key)
    assert stat.S_IMODE(os.stat(refs_dir).st_mode) == 0o700
    refs = load_references(suite, n_workers=1, directory=refs_dir)
    assert (refs_dir / f"{suite.name}-r{suite.revision}.json").exists()
    [outcome] = run_suite([submission_spec(policy("Keep"), name="hidden")], suite, references=refs, n_workers=1,
                          time_limit=300)
    assert outcome.ok, outcome.entry.failure_reason
    described = outcome.entry.env_spec["suite"]
    hidden = [str(t.instance) for t in suite.tasks()] + [str(s) for s in suite.seeds]
    assert described["families"] == [{"family": "quadratic", "n_instances": 1}]
    assert not any(h in str(described) for h in hidden)
    assert outcome.entry.seeds == ()  # the entry's own seeds field too (a second review, 2026-12-03)


def test_cli_suites_creates_and_lists_a_private_suite(tmp_path):
    key = tmp_path / "k.key"
    result = CliRunner().invoke(app, ["leaderboard", "suites", "--private", str(key)])
    assert result.exit_code == 0, result.output
    assert "created the key" in result.output and private_suite(key).name in result.output


def test_cli_show_strips_escape_codes(tmp_path):
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        store.record_failure("evil", "submission", "\x1b[2J\x1b]0;pwned\x07 boom", suite_version="quick/r1")
    result = subprocess.run([sys.executable, "-m", "lrgym.leaderboard.entry", "leaderboard", "show", "--suite",
                             "quick", "--db", str(db)], capture_output=True, text=True, cwd=HERE)
    assert result.returncode == 0, result.stderr
    assert "boom" in result.stdout and "\x1b]0" not in result.stdout and "\x1b[2J" not in result.stdout


# ---- the grader's checks of a recorded run -------------------------------------------------------


def test_runs_are_checked_against_the_suite_and_the_references():
    """The worker is the grader's, but its trajectories are still checked: one per seed, the
    suite's length unless diverged, the references' initial loss."""
    from lrgym.leaderboard.runner_entries import _validate
    from lrgym.leaderboard.suite import Task

    suite = tiny_suite("checks", horizon=6)
    refs = load_references(suite, n_workers=1)
    task = Task("quadratic", 20000)
    l0 = [refs.initial_loss(task, s) for s in suite.seeds]

    def traj(seed, n=6, first=None, diverged=False):
        losses = [first if first is not None else l0[suite.seeds.index(seed)]] + [0.5] * n
        return {"family": "quadratic", "instance": 20000, "seed": seed, "lrs": [0.1] * n, "train_losses": losses,
                "val_losses": losses, "val_metrics": [0.0] * (n + 1), "diverged": diverged}

    good = [traj(s) for s in suite.seeds]
    assert _validate(good, task, list(suite.seeds), suite, refs) is None
    assert _validate([traj(0, n=3, diverged=True), traj(1)], task, [0, 1], suite, refs) is None
    assert "horizon 6" in _validate([traj(0, n=200), traj(1)], task, [0, 1], suite, refs)
    assert "horizon 6" in _validate([traj(0, n=3), traj(1)], task, [0, 1], suite, refs)
    assert "initial loss" in _validate([traj(0, first=l0[0] * 1e11), traj(1)], task, [0, 1], suite, refs)
    assert "wrong number" in _validate(good[:1], task, [0, 1], suite, refs)
    assert "wrong task/seed" in _validate([traj(1), traj(0)], task, [0, 1], suite, refs)


def test_a_dying_worker_reports_its_last_stderr_lines():
    from lrgym.leaderboard.pool import Job, WorkerPool

    message = "".join(f"line {i}\n" for i in range(100)) + "the last words\x1b[2J\n"
    pool = WorkerPool(1)
    result = pool.run([Job("g", {"op": "die", "message": message, "code": 3})])["g"]
    assert pool.lost_workers == 0  # a worker that exits is no machine fault: not run again
    assert result.failed
    assert result.reason.startswith("worker process died: exit code 3")
    assert "line 99" in result.reason and "the last words" in result.reason and "line 10\n" not in result.reason
    assert "\x1b" not in result.reason


# ---- an SB3 zip's choices on the command line ------------------------------------------------


@pytest.mark.parametrize("lr_init", [100.0, 10.5, 1e-7, 0.0, 1e-6, 0.05, 10.0])
def test_a_zips_lr_init_is_checked_on_the_command_line_as_the_env_checks_it(lr_init, tmp_path):
    """``--env-options '{"lr_init": ...}'`` of an SB3 zip is refused before anything runs or is
    stored exactly when the env itself refuses that start LR (the reference: ``LRControlEnv``'s
    own check on the suite's LR range); it passed any positive number, and lr_init=100 became a
    failed entry. The error names the value and the range."""
    from lrgym.env import LRControlEnv

    zip_path = tmp_path / "model.zip"
    zip_path.write_bytes(b"not read on the command line")
    try:
        LRControlEnv(family="quadratic", lr_init=lr_init)
        env_refuses = False
    except ValueError:
        env_refuses = True
    if env_refuses:
        with pytest.raises(ValueError, match=rf"lr_init={lr_init!r} out of range; valid: a number in \[1e-06, 10\]"):
            submission_spec(str(zip_path), env_options={"lr_init": lr_init})
        result = CliRunner().invoke(app, ["leaderboard", "submit", str(zip_path), "--suite", "quick",
                                          "--db", str(tmp_path / "s.sqlite"), "--env-options",
                                          f'{{"lr_init": {lr_init!r}}}'])
        assert result.exit_code != 0 and "lr_init" in result.output
        assert not (tmp_path / "s.sqlite").exists()  # nothing stored, nothing ran
    else:
        spec = submission_spec(str(zip_path), env_options={"lr_init": lr_init})
        assert spec.spec["env_options"] == {"lr_init": lr_init}


def test_a_policy_file_that_is_not_python_stops_on_the_command_line(tmp_path):
    """``policy.txt:Name`` passed the command line and became a stored failed entry ("not a Python
    file"); the suffix is known before anything runs. The same source as ``.py`` is accepted."""
    source = "class Keep:\n    name = 'keep'\n    def reset(self, info): pass\n    def act(self, obs, info): return 2\n"
    txt, py = tmp_path / "policy.txt", tmp_path / "sub" / "policy.py"
    py.parent.mkdir()
    txt.write_text(source)
    py.write_text(source)
    with pytest.raises(ValueError, match=rf"policy file {txt} is not a Python file; valid: path/to/file.py:Name"):
        submission_spec(f"{txt}:Keep", name="keep-txt")
    db = tmp_path / "s.sqlite"
    result = CliRunner().invoke(app, ["leaderboard", "submit", f"{txt}:Keep", "--name", "keep-txt", "--suite", "quick",
                                      "--db", str(db)])
    assert result.exit_code == 2 and "not a Python file" in " ".join(result.output.replace("│", " ").split())
    assert not db.exists()
    assert submission_spec(f"{py}:Keep", name="keep-py").spec["target"].endswith("policy.py:Keep")


def test_a_key_path_that_is_a_folder_is_named_as_such(tmp_path):
    """``suites --private DIR`` said the key was "not found; create it with `lrgym leaderboard
    suites --private DIR`" — the very command that had failed. Now it says the path is a folder
    and shows a key path inside it; that path then works (the reference: create_key + load_key)."""
    folder = tmp_path / "keys"
    folder.mkdir()
    with pytest.raises(ValueError, match=rf"private suite key {folder} is a folder, not a key file; valid: .*"
                                         rf"{folder / 'grader.key'}"):
        load_key(folder)
    result = CliRunner().invoke(app, ["leaderboard", "suites", "--private", str(folder)], env={"COLUMNS": "200"})
    flat = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and "is a folder, not a key file" in flat and "not found" not in flat
    assert create_key(folder / "grader.key") and len(load_key(folder / "grader.key")) >= 16


@pytest.mark.parametrize("options, message", [
    ({"factors": [0.5, 1e9]}, r"^factors\[1\]=1000000000.0 out of range; valid: a number in \[0.001, 1000\]"),  # printed [i]
    ({"lr_init": "0.1"}, r"^lr_init='0.1' is not a real number \(a str\); valid: a number in"),  # was "out of range"
    ({"rejection_threshold": True}, r"^rejection_threshold=True is not a real number \(a bool\)"),
])
def test_a_bad_choice_is_named_by_index_and_by_what_is_wrong(options, message):
    from lrgym.leaderboard.settings import SettingsError, check_choices

    with pytest.raises(SettingsError, match=message):
        check_choices(options)


@pytest.mark.parametrize("options, message", [
    ({"lr_init": "x" * 900_000}, r"^lr_init='x+\.\.\.x+' is not a real number \(a str\); valid: a number in"),
    ({f"k{i:05d}": 1 for i in range(60_000)}, r"got an unexpected keyword argument 'k00000'; also unexpected: "
                                               r"'k00001', .*'k00010' and 59989 more; valid: optimizer, action_mode"),
])
def test_a_hostile_choice_is_named_briefly(options, message):
    """A submission's sidecar of 1 MB holding a 900 KB string or 60,000 keys was refused in a
    message as long (a review, 2026-12-05; the factors were shortened before): named in a line."""
    from lrgym.leaderboard.settings import SettingsError, check_choices

    with pytest.raises(SettingsError, match=message) as caught:
        check_choices(options)
    assert len(str(caught.value)) < 500


@pytest.mark.parametrize("options, message", [
    ({"lr_int": 1.0}, r"env_options got an unexpected keyword argument 'lr_int' \(did you mean 'lr_init'\?\); valid: optimizer, action_mode, "
                      r"lr_init, factors, rejection_threshold$"),
    ({"factor": [0.5, 2.0]}, r"got an unexpected keyword argument 'factor' \(did you mean 'factors'\?\)"),
    ({"horizon": 5}, r"^env option\(s\) horizon are fixed by the suite; a policy may choose only optimizer"),
    ({"lr_init": 0.1, "inner_steps": 3}, r"^env option\(s\) inner_steps are fixed by the suite"),
])
def test_a_misspelt_env_option_is_named_apart_from_one_the_suite_fixes(options, message, tmp_path):
    """``--env-options '{"lr_int": 1}'`` (meant lr_init) said "lr_int are fixed by the suite", as
    if the suite had set it: a key that is no env keyword at all now names the closest choice and
    every valid one; a real env keyword the suite fixes (horizon, inner_steps) keeps its message."""
    from lrgym.leaderboard.settings import SettingsError, check_choices

    with pytest.raises(SettingsError, match=message):
        check_choices(options)
    zip_path = tmp_path / "model.zip"
    zip_path.write_bytes(b"not read on the command line")
    db = tmp_path / "s.sqlite"
    result = CliRunner().invoke(app, ["leaderboard", "submit", str(zip_path), "--suite", "quick", "--db", str(db),
                                      "--env-options", json.dumps(options)], env={"COLUMNS": "300"})
    flat = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and not db.exists()
    wrong = next(iter(k for k in options if k != "lr_init"))
    assert wrong in flat and ("did you mean" in flat) == (wrong in ("lr_int", "factor"))


@pytest.mark.parametrize("target, named", [("{d}:P", "policy file {d}"), ("{d}/:P", "policy file {d}"),
                                           ("{d}/sub.py:P", "policy file {d}/sub.py"),
                                           ("{d}/model.zip", "SB3 model {d}/model.zip")])
def test_a_folder_given_as_the_submission_file_is_named_as_a_folder(target, named, tmp_path):
    """``submit /tmp:P`` said "policy file /tmp not found"; a folder (also one named like a file,
    ``sub.py`` or ``model.zip``) is now named as a folder, with the forms a submission takes, before
    anything runs or is stored. A path that does not exist is still "not found"."""
    (tmp_path / "sub.py").mkdir()
    (tmp_path / "model.zip").mkdir()
    db = tmp_path / "s.sqlite"

    def submit(t):
        result = CliRunner().invoke(app, ["leaderboard", "submit", t, "--suite", "quick", "--db", str(db)],
                                    env={"COLUMNS": "300"})
        return result.exit_code, " ".join(result.output.replace("│", " ").split())

    code, flat = submit(target.format(d=tmp_path))
    assert code == 2 and not db.exists()
    assert f"{named.format(d=tmp_path)} is a folder, not a file; valid: path/to/policy.py:ClassName, " \
           "package.module:ClassName or an SB3 model.zip" in flat and "not found" not in flat
    missing = target.format(d=tmp_path / "gone")
    code, flat = submit(missing)
    assert code == 2 and "not found" in flat and "is a folder" not in flat and not db.exists()
    assert "not found; valid: path/to/policy.py:ClassName" in flat  # an audit: the valid forms were missing


def test_submission_spec_names_a_folder_as_a_folder_from_python_too(tmp_path):
    """The CLI's message comes from ``submission_spec`` itself, so a Python caller gets it too."""
    from lrgym.leaderboard.runner import submission_spec

    (tmp_path / "model.zip").mkdir()
    with pytest.raises(ValueError, match=rf"policy file {tmp_path} is a folder, not a file; valid: "):
        submission_spec(f"{tmp_path}:P", "p")
    with pytest.raises(ValueError, match=r"SB3 model .*model.zip is a folder, not a file"):
        submission_spec(str(tmp_path / "model.zip"), "p")
    with pytest.raises(FileNotFoundError, match=r"policy file .*gone.py not found"):
        submission_spec(f"{tmp_path}/gone.py:P", "p")


@pytest.mark.parametrize("lr_init", [10**400, -(10**400), float("nan")], ids=["1e400", "-1e400", "nan"])
def test_a_policys_lr_init_beyond_the_largest_float_is_invalid_settings_not_an_overflow(lr_init):
    """An adversarial audit (2026-12-05): ``lr_init = 10**400`` raised ``OverflowError`` in the
    grader's check, recorded as "grader error" with the grader's traceback."""
    from lrgym.leaderboard.settings import SettingsError, check_choices

    with pytest.raises(SettingsError, match=r"lr_init=.* out of range; valid: a number in"):
        check_choices({"lr_init": lr_init})


@pytest.mark.parametrize("reason, kind", [
    ("the policy's process reported: importing p.py raised ValueError: LOSS=0.123", "the policy could not be loaded"),
    ("the policy's process reported: policy raised in reset() (ep1): KeyError: 'x'", "the policy raised an exception in reset()"),
    ("the policy's process reported: policy raised in act() at step 3 (q): RuntimeError: memory 0.5",
     "the policy raised an exception in act()"),
    ("the policy's process reported: anything at all 12345", "the policy's process reported a failure"),
    ("invalid action at step 3 (quadratic, episode 1 of 1 of the job): ValueError: invalid action 0.98765",
     "the policy returned an invalid action"),
    ("invalid policy settings: lr_init=0.0031 out of range", "the policy's settings are invalid"),
    ("the policy went over its memory limit of 512 MB", "the policy went over its memory limit"),
    ("the policy went over its CPU time limit of 20 s: it used 20.28 s", "the policy went over its CPU time limit"),
    ("timeout: exceeded 600 s", "the policy went over its time limit"),
    ("the policy's process died in act (q): exit code 137", "the policy's process died"),
    ("the policy process sent a reply larger than 65536 bytes", "the policy's process broke the grader's protocol"),
    ("something new 42", "the policy failed"),
    # a second review (2026-12-05): a SIGKILL of its own read as the memory limit, an honest MemoryError
    # (RLIMIT_AS) as an exception, a class without act() as a reported failure, and an unanchored
    # pattern let an action's text pick the kind
    ("the policy process was killed by SIGKILL (out of memory or killed)", "the policy's process died"),
    ("the policy's process reported: policy raised in act() at step 2 (q): MemoryError: \n> Traceback",
     "the policy went over its memory limit"),
    ("the policy's process reported: the policy P has no act() method (its class must define it)",
     "the policy could not be loaded"),
    ("invalid action at step 0 (quadratic): ValueError: invalid action 'could not be loaded'",
     "the policy returned an invalid action"),
    # the policy's output tail (quoted) must not pick the kind of a death: it printed "CPU time limit"
    ("the policy process died: exit code 3\n--- last lines of the policy's output ---\n> over its CPU time limit",
     "the policy's process died"),
    # the grader's check of the runs names the task, seed and losses (a baseline's, on a board)
    ("initial loss 0.5731 on linreg/4548039995220109115 seed 1955951904 differs from the references' 0.5724: "
     "the episode was not the suite's", "the runs did not match the suite's references (the grader's check of each "
     "run's length and initial loss)"),
    ("run length 3 on mlp/4548039995220109115 seed 1955951904 does not match the suite's horizon 50",
     "the runs did not match the suite's references (the grader's check of each run's length and initial loss)"),
])
def test_a_private_suite_records_only_the_kind_of_a_failure(reason, kind):
    from lrgym.leaderboard.private import PRIVATE_REASON_NOTE, private_reason

    assert private_reason(reason) == kind + PRIVATE_REASON_NOTE
    assert not any(ch.isdigit() for ch in private_reason(reason))


def test_a_grader_worker_killed_by_sigkill_runs_its_job_again_once(tmp_path):
    """A grader worker killed by SIGKILL mid-job (the kernel's OOM killer, an operator's kill -9) is
    a fault of the grader's machine, not of the submission: the job runs again on a new worker
    once, as the Ray pool runs a job again whose Ray worker is lost (it failed the entry: "worker
    process died: killed by SIGKILL"). Killed once: the group succeeds, keeping its other replies;
    killed every time: it fails after one retry, saying so."""
    import signal

    from lrgym.leaderboard.pool import Job, WorkerPool

    marker = tmp_path / "killed-once"
    jobs = [Job("survives", {"op": "sleep", "seconds": 0.1}),
            Job("survives", {"op": "die", "signal": int(signal.SIGKILL), "once": str(marker)}),
            Job("lost", {"op": "die", "signal": int(signal.SIGKILL)})]
    done = []
    pool = WorkerPool(2)
    results = pool.run(jobs, on_group_done=done.append)
    assert marker.exists()
    ok, lost = results["survives"], results["lost"]
    assert not ok.failed and len(ok.replies) == 2 and "pid" in ok.replies[1], ok.reason
    assert lost.failed and lost.reason.startswith("worker process died: killed by SIGKILL") \
        and "(2 times: a job whose worker is killed runs again on a new one 1 time(s))" in lost.reason, lost.reason
    assert pool.lost_workers == 3
    assert sorted(r.name for r in done) == ["lost", "survives"]


def test_an_integer_too_long_to_print_is_still_refused_by_name():
    """reprlib.repr(10**5000) raises Python's 'Exceeds the limit (4300 digits)', which replaced
    the refusal naming lr_init (a review, 2026-12-06): lrgym.brief quotes it by its size."""
    from lrgym.brief import brief
    from lrgym.leaderboard.settings import SettingsError, check_choices

    huge = 10**5000
    assert brief(huge) == f"<an integer of {huge.bit_length():,} bits>" and brief([huge]) == f"[{brief(huge)}]"
    assert brief(12345) == "12345" and brief("x" * 100) == repr("x" * 100)[:13] + "..." + repr("x" * 100)[-14:]
    with pytest.raises(SettingsError, match=r"^lr_init=<an integer of 16,610 bits> out of range"):
        check_choices({"lr_init": huge})
