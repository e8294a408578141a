"""The transfer study: its --quick mode end to end, checked against independent computations
(scipy's trimmed mean for the IQM, scipy's τ, the reference rule recomputed from the grid)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from scipy.stats import kendalltau, trim_mean  # noqa: E402

from lrgym.leaderboard.transfer.__main__ import main  # noqa: E402
from lrgym.leaderboard.transfer.study import QUICK_CONFIG, all_policies, kendall_tau_ci, make_policy, score_run, train_run  # noqa: E402
from lrgym.leaderboard.transfer.tasks import QUICK, make_task  # noqa: E402


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("transfer")
    main(["--quick", "--out", str(out)])
    return out, json.loads((out / "transfer.json").read_text())


def test_quick_study_writes_table_plot_and_results(quick):
    out, result = quick
    assert (out / "transfer.png").stat().st_size > 10_000
    table = (out / "transfer.md").read_text()
    policies = all_policies()
    assert len(policies) == 17
    for p in policies:
        assert f"| {p} |" in table
    assert "Kendall τ" in table
    for p in policies:
        for t in QUICK_CONFIG.tasks:
            scores = result["real_scores"][p][t]
            assert len(scores) == len(QUICK_CONFIG.seeds)
            assert all(-1.0 <= s <= 2.0 for s in scores)  # the board's clip range and floor
        assert np.asarray(result["lrgym_scores"][p]).shape == (2, 4)  # quick suite: 2 seeds x 4 tasks


def test_iqms_and_taus_match_an_independent_computation(quick):
    _, result = quick
    ag = result["agreement"]
    policies = ag["policies"]
    # lrgym's side: the board's family IQM, the mean over families of each family's trimmed mean
    from lrgym.leaderboard.suite import get_suite

    families = np.array([t.family for t in get_suite(QUICK_CONFIG.suite).tasks()])
    assert len(set(families)) > 1 and ag["lrgym_statistic"] == "family_iqm"
    iqm_lrgym = [np.mean([trim_mean(np.asarray(result["lrgym_scores"][p])[:, families == f].ravel(), 0.25)
                          for f in dict.fromkeys(families)]) for p in policies]
    np.testing.assert_allclose(ag["iqm"]["lrgym"], iqm_lrgym, rtol=1e-12)
    for side in [*QUICK_CONFIG.tasks, "pooled"]:
        tasks = QUICK_CONFIG.tasks if side == "pooled" else (side,)
        iqm = [trim_mean(np.ravel([result["real_scores"][p][t] for t in tasks]), 0.25) for p in policies]
        np.testing.assert_allclose(ag["iqm"][side], iqm, rtol=1e-12)
        tau, low, high = ag["tau"][side]
        assert tau == pytest.approx(kendalltau(iqm_lrgym, iqm).statistic, abs=1e-12)
        assert -1.0 <= low <= high <= 1.0


def test_reference_is_the_leaderboard_rule_and_scores_one(quick):
    _, result = quick
    task_name = "tabular_mlp"
    ref = result["references"][task_name]
    # the search's choice, recomputed over the LRs it ran: lowest mean log final loss over seeds
    # among LRs that never diverged (ties: the smaller LR)
    best, best_value = None, math.inf
    assert len(ref["grid"]) > 15  # the fine search refined the half-decade grid
    for row in sorted(ref["grid"], key=lambda r: r["lr"]):
        losses = np.asarray(row["final_loss"], dtype=float)
        if np.all(np.isfinite(losses)) and np.mean(np.log(losses)) < best_value:
            best, best_value = row["lr"], float(np.mean(np.log(losses)))
    assert ref["lr"] == best
    # the fixed policy at the reference LR reproduces the reference's runs and scores exactly 1
    task = make_task(task_name, QUICK)
    for seed in QUICK_CONFIG.seeds:
        run = train_run(task, make_policy("fixed", lr=ref["lr"]), seed, QUICK_CONFIG.horizon, QUICK_CONFIG.inner_steps)
        assert run["final_loss"] == ref["final_loss"][str(seed)]
        assert score_run(run, ref["final_loss"][str(seed)]) == 1.0
        assert run["lrs"] == [pytest.approx(ref["lr"], rel=1e-12)] * QUICK_CONFIG.horizon


def test_kendall_tau_ci_on_hand_checked_rankings():
    x = np.array([1.0, 2.0, 3.0, 4.0])[:, None, None] * np.ones((1, 3, 2))  # 4 policies, 3 runs, 2 tasks
    assert kendall_tau_ci(x, x, reps=50) == (1.0, 1.0, 1.0)
    assert kendall_tau_ci(x, -x, reps=50) == (-1.0, -1.0, -1.0)
    y = np.array([1.0, 3.0, 2.0, 4.0])[:, None, None] * np.ones((1, 5, 1))
    tau, low, high = kendall_tau_ci(x, y, reps=50)
    assert tau == pytest.approx(4 / 6)  # 5 concordant pairs, 1 discordant
    assert low == high == pytest.approx(4 / 6)  # no spread across runs: every replicate agrees


def test_reuse_takes_the_real_side_only_from_a_run_with_the_same_settings(quick):
    from dataclasses import replace

    from lrgym.leaderboard.transfer.study import reuse_real_side

    out, result = quick
    real, extra = reuse_real_side(out / "transfer.json", QUICK_CONFIG)
    assert real == result["real_scores"] and extra["references"] == result["references"]
    with pytest.raises(ValueError, match="seeds"):
        reuse_real_side(out / "transfer.json", replace(QUICK_CONFIG, seeds=(0, 1, 2)))
    with pytest.raises(ValueError, match="dqn_mixed.zip"):
        changed = json.loads((out / "transfer.json").read_text())
        changed["inputs"]["weights/dqn_mixed.zip"] = "0" * 64  # a run on other DQN weights
        (out / "other.json").write_text(json.dumps(changed))
        reuse_real_side(out / "other.json", QUICK_CONFIG)
    with pytest.raises(ValueError, match="does not record"):
        del changed["inputs"]
        (out / "other.json").write_text(json.dumps(changed))
        reuse_real_side(out / "other.json", QUICK_CONFIG)


def test_policy_inputs_hash_the_shipped_files(quick):
    import hashlib

    from lrgym.baselines.outputs import SHIPPED_TUNED, SHIPPED_WEIGHTS

    _, result = quick
    inputs = result["inputs"]
    assert inputs["tuned.json"] == hashlib.sha256(SHIPPED_TUNED.read_bytes()).hexdigest()
    for algo, suffix in (("dqn", ".zip"), ("ppo", ".zip"), ("qlearning", ".npz")):
        path = SHIPPED_WEIGHTS / f"{algo}_mixed{suffix}"
        assert inputs[f"weights/{path.name}"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not any("controller" in k for k in inputs)  # family-bound: not in the study


@pytest.mark.parametrize("task_name", ["digits_cnn", "tabular_mlp", "char_lstm"])
def test_summed_loss_is_plain_sgd_at_batch_size_times_the_lr(task_name):
    """The control's premise, checked on every task: with plain SGD, descending the summed
    minibatch loss at LR η takes the same steps as descending the mean at B·η."""
    task = make_task(task_name, QUICK)
    eta = 0.01
    summed = train_run(task, make_policy("fixed", lr=eta), 0, 4, 2, loss_reduction="sum")
    mean = train_run(task, make_policy("fixed", lr=eta * task.batch_size), 0, 4, 2, loss_reduction="mean")
    assert summed["lrs"] == [pytest.approx(eta, rel=1e-12)] * 4
    np.testing.assert_allclose(summed["train_losses"], mean["train_losses"], rtol=1e-5)
    assert summed["train_losses"][-1] != summed["train_losses"][0]  # it trained


def test_summed_loss_study_says_so_and_is_not_mixed_with_a_mean_one(quick, tmp_path):
    from dataclasses import replace

    from lrgym.leaderboard.transfer.study import StudyConfig, reuse_real_side

    out, _ = quick
    with pytest.raises(ValueError, match="loss_reduction"):
        reuse_real_side(out / "transfer.json", replace(QUICK_CONFIG, loss_reduction="sum"))
    with pytest.raises(ValueError, match="'max'.*valid choices: mean, sum"):
        StudyConfig(loss_reduction="max")
    main(["--quick", "--task", "tabular_mlp", "--loss-reduction", "sum", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "transfer.json").read_text())
    assert result["config"]["loss_reduction"] == "sum"
    assert "the minibatch loss summed over examples" in (tmp_path / "transfer.md").read_text()
    # the reference LR of the summed loss is ≈ the mean's / batch size (one grid point = 1/64 decade)
    from lrgym.leaderboard.transfer.tasks import TASKS

    ratio = json.loads((out / "transfer.json").read_text())["references"]["tabular_mlp"]["lr"] / result["references"]["tabular_mlp"]["lr"]
    assert ratio == pytest.approx(TASKS["tabular_mlp"].batch_size, rel=0.2)


def test_db_side_takes_only_entries_of_the_shipped_files(tmp_path, monkeypatch):
    """``--db``: a board's entries are reused only if they ran the shipped tuned values and
    weights; entries of other files are run again (with the files shipped now)."""
    from dataclasses import replace

    from lrgym.baselines import registry
    from lrgym.leaderboard.runner import baseline_specs, run_suite
    from lrgym.leaderboard.store import ResultStore
    from lrgym.leaderboard.transfer.study import lrgym_scores

    cfg = replace(QUICK_CONFIG, policies=("fixed", "cosine"))
    db = tmp_path / "board.sqlite"
    with ResultStore(db) as store:
        run_suite(baseline_specs(list(cfg.policies)), cfg.suite, store=store, n_workers=1)
    logs = []
    first = lrgym_scores(cfg, db=db, log=logs.append)
    assert logs == [f"  lrgym: 2 baselines read from {db}"]

    from lrgym.leaderboard.transfer import study

    real = registry.shipped_inputs
    monkeypatch.setattr(study, "shipped_inputs", lambda names: {k: "0" * 64 for k in real(names)})  # "retuned"
    logs.clear()
    again = lrgym_scores(cfg, db=db, workers=1, log=logs.append)
    assert "holds ['cosine', 'fixed'] of other tuned values or weights than the shipped ones" in logs[0]
    assert any("2 baselines on suite quick" in line for line in logs)
    for p in cfg.policies:  # the re-run used the same (actual) files: the same scores
        np.testing.assert_array_equal(again[p], first[p])


@pytest.mark.parametrize("flags, folder", [([], "transfer"), (["--quick"], "transfer-quick"),
                                           (["--loss-reduction", "sum"], "transfer-sum"),
                                           (["--quick", "--loss-reduction", "sum"], "transfer-sum-quick")])
def test_without_out_the_study_writes_under_runs_not_the_working_directory(flags, folder, tmp_path, monkeypatch):
    """Like training and tuning (``lrgym.baselines.outputs``), a run without ``--out`` writes under
    ``$LRGYM_RUNS`` (else ``./runs``), one folder per kind of run, and nothing else in the working
    directory (it wrote ``./transfer-study/``, where the mean and the summed-loss runs of the README
    replaced each other's results). The study itself is stood in for: only where it writes is asked."""
    import lrgym.leaderboard.transfer.__main__ as cli

    seen = []

    def fake_study(cfg, out_dir, **kwargs):
        seen.append((cfg, Path(out_dir)))
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "transfer.md").write_text("table")
        return {"cpu_seconds_this_process": 0.0}

    work, runs = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(cli, "run_study", fake_study)
    for env, where in ((str(runs), runs), (None, work / "runs")):
        if env is None:
            monkeypatch.delenv("LRGYM_RUNS", raising=False)
        else:
            monkeypatch.setenv("LRGYM_RUNS", env)
        seen.clear()
        cli.main(flags)
        [(cfg, out)] = seen
        assert out.absolute() == where / folder
        assert cfg.loss_reduction == ("sum" if "sum" in flags else "mean")
        assert sorted(p.name for p in work.iterdir()) == ([] if env else ["runs"])


@pytest.mark.parametrize("flag", ["--db", "--reuse"])
def test_a_missing_db_or_reuse_file_stops_before_the_study(flag, tmp_path, monkeypatch, capsys):
    """``--db`` at a path with no file silently ran lrgym's whole side itself (the README's
    ``--db lrgym_leaderboard.sqlite`` from another folder); ``--reuse`` at one failed with a
    traceback. Both now stop at once, naming the path."""
    import lrgym.leaderboard.transfer.__main__ as cli

    monkeypatch.setattr(cli, "run_study", lambda *a, **k: pytest.fail("the study ran"))
    missing = tmp_path / "nowhere" / "x.sqlite"
    with pytest.raises(SystemExit) as stop:
        cli.main(["--quick", flag, str(missing), "--out", str(tmp_path / "out")])
    assert stop.value.code == 2 and f"{flag} {missing}: no such file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_out_or_runs_dir_on_the_shipped_study_stops_before_it(tmp_path, monkeypatch, capsys):
    """``--out docs/transfer`` (or ``$LRGYM_RUNS=docs``, whose ``transfer/`` it is) wrote the study
    over the shipped one without ``--ship``; both stop before the study now, naming the folder."""
    import lrgym.leaderboard.transfer.__main__ as cli

    docs = tmp_path / "docs"
    (docs / "transfer" / "sum-loss").mkdir(parents=True)
    monkeypatch.setattr(cli, "SHIP_DIR", docs / "transfer")
    monkeypatch.setattr(cli, "run_study", lambda *a, **k: pytest.fail("the study ran"))
    monkeypatch.chdir(tmp_path)
    for argv, env in ((["--out", "docs/transfer/"], None), (["--out", "docs/transfer/sum-loss"], None), ([], str(docs))):
        if env is None:
            monkeypatch.delenv("LRGYM_RUNS", raising=False)
        else:
            monkeypatch.setenv("LRGYM_RUNS", env)
        with pytest.raises(SystemExit) as stop:
            cli.main(argv)
        err = " ".join(capsys.readouterr().err.split())
        shipped = docs / "transfer" / ("sum-loss" if "sum-loss" in str(argv) else "")
        assert stop.value.code == 2 and f"the shipped study's {str(shipped).rstrip('/')}; valid: another folder" in err, err


@pytest.mark.parametrize("flags, message", [
    (["--quick"], "--ship with --quick: the shipped study is the full one"),
    (["--task", "tabular_mlp"], "--ship with --task tabular_mlp: the shipped study runs every real task"),
    (["--seeds", "1"], "--ship with --seeds 1: the shipped study runs"),
])
def test_ship_refuses_a_smaller_study_before_it_runs(flags, message, tmp_path, monkeypatch, capsys):
    """``--quick --ship`` replaced the shipped ``docs/transfer/`` with a 17-second smoke run (the
    quick suite, 6 steps of 2 updates) that the README's tables no longer matched; a ``--task`` or
    ``--seeds`` subset would ship a smaller study under the same name."""
    import lrgym.leaderboard.transfer.__main__ as cli

    ship = tmp_path / "docs" / "transfer"
    monkeypatch.setattr(cli, "SHIP_DIR", ship)
    monkeypatch.setattr(cli, "run_study", lambda *a, **k: pytest.fail("the study ran"))
    with pytest.raises(SystemExit) as stop:
        cli.main([*flags, "--ship", "--out", str(tmp_path / "out")])
    assert stop.value.code == 2 and message in " ".join(capsys.readouterr().err.split())
    assert not ship.exists() and not (tmp_path / "out").exists()
