"""References: the best constant LR by the one fine search, deterministic, cached per suite version."""

import json
import math
import re

import numpy as np
import pytest
from lb_helpers import tiny_suite

from lrgym.baselines.evaluation import make_env, run_episode
from lrgym.baselines.schedules import Constant
from lrgym.leaderboard import references as R
from lrgym.leaderboard import trust


def test_compute_matches_direct_runs_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("LRGYM_CACHE", str(tmp_path))
    suite = tiny_suite("reftest", families=("quadratic", "linreg"), n_instances=1, seeds=(0, 3))
    refs = R.load_references(suite, n_workers=2)
    path = tmp_path / "references" / "reftest-r1.json"
    assert path.exists()
    for task in suite.tasks():
        lr = refs.lr(task)
        entry = refs.tasks[task.label]
        assert entry["lr_range"] == [1e-6, 10.0] and entry["bracketed"] == (0 < entry["margin_decades"])
        # the stored losses are those of run_episode with a constant LR, seed by seed
        policy = Constant(lr)
        env = make_env(policy, suite.env_kwargs(task.family))
        for seed in suite.seeds:
            traj = run_episode(policy, env, seed=seed, instance=task.instance)
            assert refs.final_loss(task, seed) == traj.final_loss
            assert refs.initial_loss(task, seed) == traj.initial_loss
        # and no LR the search ran scores above 1 against it (mean S over the seeds)
        rows = entry["evaluated"]
        l0 = np.asarray(entry["initial_loss"])
        with np.errstate(divide="ignore"):
            g_ref = np.log(l0 / np.maximum(entry["final_loss"], 1e-12 * l0))
            for r in rows:
                g = np.log(l0 / np.maximum(r["final_loss"], 1e-12 * l0))
                assert np.mean(g / g_ref) <= 1 + 1e-12, (task, r["lr"])
        assert len(rows) > 15  # the half-decade grid and its refinements

    # second call: from the cache (no recompute)
    monkeypatch.setattr(R, "compute_references", lambda *a, **k: pytest.fail("recomputed"))
    again = R.load_references(suite)
    assert again.tasks == refs.tasks


def test_stale_cache_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("LRGYM_CACHE", str(tmp_path))
    suite = tiny_suite("stale", n_instances=1, seeds=(0,), horizon=3)
    refs = R.load_references(suite, n_workers=1)
    path = tmp_path / "references" / "stale-r1.json"
    data = json.loads(path.read_text())
    data["fingerprint"] = "0" * 16
    path.write_text(json.dumps(data))
    assert R.find_cached(suite) is None
    calls = []
    real = R.compute_references
    monkeypatch.setattr(R, "compute_references", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = R.load_references(suite, n_workers=1)
    assert calls and again.tasks == refs.tasks  # deterministic


def test_changed_dynamics_invalidate_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRGYM_CACHE", str(tmp_path))
    suite = tiny_suite("dynamics", n_instances=1, seeds=(0,), horizon=3)
    refs = R.load_references(suite, n_workers=1)
    assert R.find_cached(suite) is not None
    path = tmp_path / "references" / "dynamics-r1.json"
    data = json.loads(path.read_text())
    label = suite.tasks()[0].label
    data["tasks"][label]["final_loss"][0] *= 1.001  # as if the kernels had changed
    path.write_text(json.dumps(data))
    trust.record(path)  # a file the grader wrote with older kernels: trusted, but not reproduced
    assert R.find_cached(suite) is None
    assert R.find_cached(suite, verify=False) is not None
    assert R.load_references(suite, n_workers=1).tasks == refs.tasks


def test_specs_that_differ_only_in_rounding_keep_the_cache_valid(tmp_path, monkeypatch):
    """A reference computed on another CPU (last-bit differences in exp/log) stays usable;
    a real change of a spec does not."""
    monkeypatch.setenv("LRGYM_CACHE", str(tmp_path))
    suite = tiny_suite("portable", families=("linreg",), n_instances=1, seeds=(0,), horizon=3)
    R.load_references(suite, n_workers=1)
    path = tmp_path / "references" / "portable-r1.json"
    data = json.loads(path.read_text())
    spec = data["specs"][suite.tasks()[0].label]
    original = spec["condition"]
    spec["condition"] = math.nextafter(original, math.inf)  # one ulp: another machine's exp
    path.write_text(json.dumps(data))
    trust.record(path)  # written by the grader on another machine
    assert R.find_cached(suite, verify=False) is not None
    spec["condition"] = original * (1 + 1e-6)  # a different instance
    path.write_text(json.dumps(data))
    trust.record(path)
    assert R.find_cached(suite, verify=False) is None
    spec["condition"], spec["dim"] = original, spec["dim"] + 1  # integers must match exactly
    path.write_text(json.dumps(data))
    trust.record(path)
    assert R.find_cached(suite, verify=False) is None


def test_trust_forgets_the_records_of_removed_files(tmp_path):
    kept, removed = tmp_path / "a-r1.json", tmp_path / "b-r1.json"
    for path in (kept, removed):
        path.write_text(json.dumps({"name": path.name}))
        trust.record(path)
    removed.unlink()
    assert trust.forget_missing(tmp_path) == ["b-r1.json"]
    assert json.loads((tmp_path / trust.REGISTRY).read_text()) == {"a-r1.json": trust.digest(kept)}
    assert trust.is_trusted(kept) and trust.forget_missing(tmp_path) == []
    removed.write_text(json.dumps({"name": removed.name}))  # back, but its record is gone: foreign
    assert not trust.is_trusted(removed)


@pytest.mark.timeout(60)  # reading the FIFO waited for a writer forever
@pytest.mark.parametrize("kind, what", [("fifo", "a FIFO (named pipe)"), ("folder", "a folder")])
def test_trust_names_a_json_that_is_no_regular_file_and_records_nothing(kind, what, tmp_path, capsys):
    import os

    (tmp_path / "a-r1.json").write_text("{}")
    odd = tmp_path / "x.json"
    os.mkfifo(odd) if kind == "fifo" else odd.mkdir()
    with pytest.raises(SystemExit) as stop:
        trust.main([str(tmp_path)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"{odd} is {what}, not a references file; valid: regular *.json files" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-r1.json", "x.json"]  # nothing recorded
    with pytest.raises(ValueError, match=f"references file {odd} is {re.escape(what)}"):
        trust.digest(odd)
    assert not trust.is_trusted(odd)


@pytest.mark.parametrize("name", ["v2", "v1", "val", "quick"])
def test_every_shipped_references_file_is_valid_for_the_current_code(name, tmp_path, monkeypatch):
    """A clean clone grades every suite from the shipped references (nothing is recomputed): the
    file is trusted, in the current format, matches the suite and its specs, and the current
    code reproduces its first run per family."""
    from lrgym.leaderboard.suite import get_suite

    monkeypatch.setenv("LRGYM_CACHE", str(tmp_path))  # an empty cache, as in a clean clone
    suite = get_suite(name)
    found = R.find_cached(suite)
    assert found is not None, f"shipped references of {suite.version} are stale: re-ship them"
    assert found[1] == R.SHIPPED_DIR / R._file_name(suite)
    assert {t.label for t in suite.tasks()} <= set(found[0].tasks)
