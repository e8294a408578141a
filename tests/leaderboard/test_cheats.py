"""Every cheat of issue #11 as a hostile submission (``lb_cheats.py``), graded as ``submit`` does.

Each one must fail to raise its score (it scores exactly what the honest policy it imitates
scores, or it is recorded as failed), change another entry, change a reference or weight file,
or leave a process behind; and an honest resubmission after all of them scores exactly as
before them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import sys
import time
import uuid
from pathlib import Path

import pytest
from lb_helpers import HERE, policy, processes_with, tiny_suite

from lrgym.leaderboard.references import SHIPPED_DIR, cache_dir, load_references
from lrgym.leaderboard.runner import run_suite, submission_spec
from lrgym.leaderboard.store import ResultStore

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

SUITE = tiny_suite("cheats", families=("quadratic", "linreg"), n_instances=1, seeds=(0, 1), horizon=8,
                   inner_steps=3)
ROOT = Path(HERE).parents[1]
WEIGHTS = sorted((ROOT / "baselines" / "weights").glob("*"))

# cheat class -> the honest class whose score it must equal exactly (None: must be recorded failed)
CHEATS = {
    "SuiteOverride": None,
    "CapOverride": None,
    "RewritesInfo": "Keep",
    "RewritesEveryInfo": "Keep",
    "MonkeyPatches": "Keep",
    "FrameInspection": "Keep",
    "GcEnv": "Keep",
    "StoreEdit": "Keep",
    "ReferencePoison": "Keep",
    "LeavesProcesses": "Keep",
    "FloodsOutput": "Keep",
    "LooksUpInstance": "KeepLogLR",
    "DeepNestedAction": "KeepLogLR",
    "HugeAction": None,
    "TerminalInjection": None,
}


def _digest(paths) -> dict:
    return {str(p): hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths if Path(p).is_file()}


def _store_snapshot(db) -> list:
    with sqlite3.connect(db) as conn:
        return (conn.execute("SELECT * FROM entries ORDER BY id").fetchall(),
                conn.execute("SELECT * FROM runs ORDER BY id").fetchall())


def _scores(outcome) -> list:
    return [(r.family, r.instance, r.seed, r.score, r.final_loss, r.initial_loss) for r in outcome.runs]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The honest policies, then every cheat (each in its own workers and sandbox), then the
    honest policies again, all into one store."""
    tmp = tmp_path_factory.mktemp("cheats")
    db = tmp / "results.sqlite"
    refs = load_references(SUITE, n_workers=2)
    ref_files = sorted((cache_dir() / "references").glob("*.json")) + sorted(SHIPPED_DIR.glob("*.json"))
    targets = {"db": [str(db)], "references": [str(p) for p in ref_files], "weights": [str(p) for p in WEIGHTS]}
    source = (Path(HERE) / "lb_cheats.py").read_text()
    cheats = tmp / "sub" / "lb_cheats.py"
    cheats.parent.mkdir()
    cheats.write_text(source.replace("TARGETS: dict = {}", f"TARGETS: dict = {json.dumps(targets)}"))
    protected = ref_files + WEIGHTS
    before = _digest(protected)
    token = uuid.uuid4().hex
    os.environ["LRGYM_TEST_TOKEN"] = token
    try:
        with ResultStore(db) as store:
            honest = run_suite([submission_spec(policy("Keep"), name="honest"),
                                submission_spec(f"{cheats}:KeepLogLR", name="honest-log")],
                               SUITE, store=store, references=refs, n_workers=2, time_limit=120, memory_mb=2000)
            snapshot = _store_snapshot(db)
            specs = [submission_spec(f"{cheats}:{name}", name=name) for name in CHEATS]
            outcomes = run_suite(specs, SUITE, store=store, references=refs, n_workers=2, time_limit=120,
                                 memory_mb=2000)
            after_cheats = _store_snapshot(db)
            again = run_suite([submission_spec(policy("Keep"), name="honest")], SUITE, store=store,
                              references=refs, n_workers=2, time_limit=120, memory_mb=2000)
            integrity = store.check_integrity()
    finally:
        os.environ.pop("LRGYM_TEST_TOKEN", None)
    deadline = time.monotonic() + 10
    while processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    return {
        "honest": {o.spec.name: o for o in honest}, "cheats": {o.spec.name: o for o in outcomes},
        "again": again[0], "snapshot": snapshot, "after": after_cheats, "before": before,
        "after_files": _digest(protected), "left": processes_with(token), "integrity": integrity, "refs": refs,
    }


@pytest.mark.parametrize("name", list(CHEATS))
def test_cheat_does_not_raise_its_score(graded, name):
    outcome = graded["cheats"][name]
    twin = CHEATS[name]
    if twin is None:
        assert not outcome.ok
        assert outcome.runs == []
        return
    assert outcome.ok, outcome.entry.failure_reason
    honest = graded["honest"]["honest" if twin == "Keep" else "honest-log"]
    assert _scores(outcome) == _scores(honest)
    assert outcome.entry.summary["iqm"] == honest.entry.summary["iqm"]


def test_settings_cheats_are_refused_with_the_reason(graded):
    for name in ("SuiteOverride", "CapOverride"):
        reason = graded["cheats"][name].entry.failure_reason
        assert "fixed by the suite" in reason and "a policy may choose only" in reason
    assert graded["cheats"]["SuiteOverride"].entry.failure_reason.count("inner_steps") >= 1


def test_the_recorded_episode_is_the_suites(graded):
    """The stored settings are the suite's (plus the policy's allowed choices), and every run has
    the suite's length and the references' initial loss."""
    refs = graded["refs"]
    for name, outcome in graded["cheats"].items():
        if not outcome.ok:
            continue
        for family, kwargs in outcome.entry.env_spec["env_kwargs"].items():
            assert kwargs["inner_steps"] == 3 and kwargs["horizon"] == 8
        for r in outcome.runs:
            assert len(r.curves["lr"]) == 8 and len(r.curves["train_loss"]) == 9
            from lrgym.leaderboard.suite import Task

            assert r.initial_loss == refs.initial_loss(Task(r.family, r.instance), r.seed)


def test_no_other_entry_changed(graded):
    entries, runs = graded["snapshot"]
    entries_after, runs_after = graded["after"]
    assert entries_after[: len(entries)] == entries
    assert runs_after[: len(runs)] == runs
    assert graded["integrity"]


def test_no_reference_or_weight_file_changed(graded):
    assert graded["after_files"] == graded["before"]
    assert graded["before"]  # the cache, the shipped references and the weights were all there


def test_no_process_left_behind(graded):
    assert graded["left"] == []


def test_honest_resubmission_scores_exactly_as_before(graded):
    first, again = graded["honest"]["honest"], graded["again"]
    assert again.ok
    assert _scores(again) == _scores(first)
    assert again.entry.summary["iqm"] == first.entry.summary["iqm"]


def test_failure_reasons_hold_no_control_characters(graded):
    reason = graded["cheats"]["TerminalInjection"].entry.failure_reason
    assert "RuntimeError" in reason and "pwned" in reason
    assert not any(ord(c) < 32 and c != "\n" or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in reason)


def test_unbounded_output_is_cut(graded):
    flood = graded["cheats"]["FloodsOutput"]
    assert flood.ok  # its 200 MB of output and its 1 GB file were cut by the limits, not stored
    huge = graded["cheats"]["HugeAction"].entry.failure_reason
    assert "larger than" in huge or "invalid action" in huge
    assert len(huge) < 8000


def test_instance_id_is_hidden(graded):
    """The look-up policy never learns its instance: it scores what keeping the LR scores."""
    lookup = graded["cheats"]["LooksUpInstance"]
    assert lookup.ok
    assert not math.isclose(lookup.entry.summary["iqm"][0], 1.0, abs_tol=1e-3)


def test_changed_or_foreign_reference_file_is_recomputed(tmp_path, monkeypatch):
    """A references file that is not exactly what the grader wrote is never used: a poisoned
    cache file (easy targets) and a foreign one are both recomputed, and an honest policy
    scores exactly as against the true references."""
    from lrgym.leaderboard import references as references_module

    monkeypatch.setenv("LRGYM_CACHE", str(tmp_path / "cache"))
    suite = tiny_suite("poison", families=("quadratic",), n_instances=1, seeds=(0, 1), horizon=8, inner_steps=3)
    true = load_references(suite, n_workers=1)
    path = cache_dir() / "references" / "poison-r1.json"
    assert references_module.find_cached(suite)[1] == path
    data = json.loads(path.read_text())
    for task in data["tasks"].values():
        task["final_loss"] = list(task["initial_loss"])  # every target = the initial loss
    path.write_text(json.dumps(data))
    assert references_module.find_cached(suite) is None
    again = load_references(suite, n_workers=1)
    assert again.tasks == true.tasks
    (cache_dir() / "references" / "trusted.json").unlink()  # the file is now foreign
    assert references_module.find_cached(suite) is None
    honest = run_suite([submission_spec(policy("Keep"), name="honest")], suite, references=load_references(suite),
                       n_workers=1, time_limit=120)[0]
    exact = run_suite([submission_spec(policy("Keep"), name="honest")], suite, references=true, n_workers=1,
                      time_limit=120)[0]
    assert _scores(honest) == _scores(exact)
