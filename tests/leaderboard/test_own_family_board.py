"""The board of a family of one's own (README "Adding a task family"): what the grading commands
say of it, checked on the toy family of ``tests/tasks/toy_family.py`` registered in this process
(its workers import it from ``sys.path``, named to them by ``$LRGYM_FAMILIES``)."""

import json
import math
import sys

import gymnasium as gym
import pytest
from typer import testing as typer_testing

from lrgym.leaderboard.cli import app
from lrgym.leaderboard.store import ResultStore
from lrgym.leaderboard.suite_file import load_suite_file
from lrgym.tasks import register_family


def _suite_file(folder, name, families, seeds=(0, 1)):
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"name": name, "revision": 1, "instance_set": "val", "seeds": list(seeds),
                                "families": families}))
    return path


def _invoke(*args):
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_the_controller_is_skipped_not_failed_on_a_family_it_has_no_weights_for(toy, tmp_path, monkeypatch):
    """``run-baselines`` on a suite of a family of one's own: the learned controller, whose weights
    are per family (linreg, quadratic, mlp, recsys), is not run and nothing is stored for it, one
    line saying why (it was a failed entry on every run, and the command's exit status 1); asked
    for by ``--only`` it is a bad value. The other baselines are graded as before."""
    from lrgym.leaderboard import runner

    suite_path = _suite_file(tmp_path, "toyboard", [{"family": "toy", "instances": [10000]}])
    db = tmp_path / "board.sqlite"
    real = runner.baseline_specs
    # the default set (every baseline with weights) less the slow ones: fixed and the controller
    monkeypatch.setattr(runner, "baseline_specs", lambda names=None, include_learned=False, tuned=None:
                        real(["fixed", "controller"] if names is None else names, tuned=tuned))
    code, out = _invoke("run-baselines", "--suite", str(suite_path), "--db", str(db), "--no-markdown",
                        "--workers", "1")
    assert code == 0, out
    assert ("skipped controller: its weights are per family, for linreg, quadratic, mlp, recsys (and their mixture) "
            "only; suite toyboard/r1's toy is none of them (not run, nothing stored)") in " ".join(out.split())
    assert "Failed" not in out
    suite = load_suite_file(suite_path)
    with ResultStore(db) as store:
        entries = store.entries(suite.version)
    assert sorted((e.name, e.status) for e in entries) == [("fixed", "ok")]

    code, out = _invoke("run-baselines", "--suite", str(suite_path), "--db", str(db), "--no-markdown",
                        "--only", "fixed", "--only", "controller")
    assert code == 2
    assert "Invalid value for --only: controller: its weights are per family" in " ".join(out.replace("│", " ").split())


def test_the_controller_applies_to_the_families_it_has_weights_for(toy, tmp_path):
    """The shipped suites keep the controller (their families are those of its weights), and so
    does a suite file of them; only a family outside them leaves it out, also beside built-in ones."""
    from lrgym.leaderboard.runner import baseline_specs, baselines_without_weights
    from lrgym.leaderboard.suite import SUITES, get_suite

    specs = baseline_specs(["fixed", "controller", "dqn", "qlearning"])
    for name in SUITES:
        assert baselines_without_weights(specs, get_suite(name)) == {}, name
    builtin = load_suite_file(_suite_file(tmp_path, "builtins", [{"family": "mlp", "instances": [10000]},
                                                                 {"family": "recsys", "instances": [10000]}]))
    assert baselines_without_weights(specs, builtin) == {}
    both = load_suite_file(_suite_file(tmp_path, "both", [{"family": "quadratic", "instances": [10000]},
                                                          {"family": "toy", "instances": [10000]}]))
    assert list(baselines_without_weights(specs, both)) == ["controller"]


def test_a_family_that_raises_in_the_reference_search_is_named_with_its_instance_and_seed(toy, monkeypatch):
    """A family whose task raises on one instance: computing the references fails with a message
    naming the family, its target, the instance and the seed, and the family's own exception with
    the line of its code that raised (it was "computing the references failed: grader error:
    ZeroDivisionError: ..." with nothing of which family, instance or seed)."""
    from lrgym.leaderboard.references import compute_references
    from lrgym.leaderboard.suite import FamilySuite, Suite

    register_family("toy_broken", "toy_family:BrokenToyFamily")
    suite = Suite("broken", 1, "a family with a bug", "val", (FamilySuite("toy_broken", (10_000, 10_001)),), (3, 5))
    with pytest.raises(RuntimeError) as caught:
        compute_references(suite, n_workers=1)
    message = str(caught.value)
    first = message.split("\n", 1)[0]
    assert first.startswith("computing the references of suite broken/r1 failed: ")
    # the first seed of the suite is the first run of the instance: seed 3
    assert ("family 'toy_broken' (toy_family:BrokenToyFamily) raised on instance 10001, seed 3, at the constant "
            "LR 1e-06 of the reference search: ZeroDivisionError: toy_broken's bug on instance 10001") in first
    assert 'toy_family.py", line' in message and "in run" in message  # the family's frame, in the traceback
    # the family's error, not the grader's: no "grader error: " and no frames of the worker's search above it
    assert "grader error" not in message and "worker.py" not in message and "direct cause" not in message


def test_the_references_command_says_a_familys_error_in_one_message(toy, tmp_path):
    """``lrgym leaderboard references`` and a grading command on a suite whose family raises in the
    reference search: exit 1 and one message on stderr, ``error: computing the references of suite
    ... failed: family 'toy_broken' (...) raised on instance 10001, seed 3, at the constant LR ...``,
    then the frames down to the family's line; no "grader error: " (the family's bug is not the
    grader's) and no traceback of the command itself (it printed both: the worker's prefix and
    the driver's RuntimeError traceback, rich's box around the CLI's frames); the grading command
    stores nothing."""
    register_family("toy_broken", "toy_family:BrokenToyFamily")
    suite_path = _suite_file(tmp_path, "brokenrefs", [{"family": "toy_broken", "instances": [10000, 10001]}],
                             seeds=(3,))
    said = ("computing the references of suite brokenrefs/r1 failed: family 'toy_broken' (toy_family:BrokenToyFamily) "
            "raised on instance 10001, seed 3, at the constant LR 1e-06 of the reference search: ZeroDivisionError: "
            "toy_broken's bug on instance 10001")
    db = tmp_path / "board.sqlite"
    for args in (["references"], ["run-baselines", "--only", "fixed", "--db", str(db), "--no-markdown"]):
        result = typer_testing.CliRunner().invoke(app, ["leaderboard", *args, "--suite", str(suite_path), "--workers",
                                                        "1"], env={"COLUMNS": "2000"})
        assert result.exit_code == 1, result.output
        error = result.stderr[result.stderr.index("error: "):]
        first, _, frames = error.partition("\n")
        assert first == "error: " + said, result.stderr
        assert frames.startswith("Traceback (most recent call last):") and 'toy_family.py", line' in frames
        assert frames.rstrip().endswith("ZeroDivisionError: toy_broken's bug on instance 10001")
        for ours in ("grader error", "worker.py", "references.py", "cli_grading.py", "RuntimeError", "╭"):
            assert ours not in result.output, (ours, result.output)
    with ResultStore(db) as store:
        assert store.entries(load_suite_file(suite_path).version) == []


def test_references_flags_a_best_lr_at_or_near_the_edge_of_the_lr_range(toy, tmp_path):
    """``references`` notes each instance whose best constant LR lies less than a decade inside
    [lr_min, lr_max], or that no worse LR brackets (it printed the LR alone). The toy quadratic's
    instance 10000 has curvatures 1 to 6.2, so up to LR 1/6.2 every component contracts faster as
    the LR grows (noise 0.04, far below its loss after 24 updates): with lr_max = 0.05 its best
    constant LR is lr_max, not bracketed. Every row's note is checked against the stored
    reference's LR and range (log10 here, not the JSON's margin)."""
    from toy_family import ToyFamily
    from lrgym.leaderboard.references import load_references

    suite_path = _suite_file(tmp_path, "edges", [
        {"family": "quadratic", "instances": [10000], "horizon": 10, "inner_steps": 5},
        {"family": "toy", "instances": [10000], "env_options": {"lr_max": 0.05}}], seeds=(0,))
    assert ToyFamily().sample(10_000).condition < 1 / 0.05  # the premise above
    code, out = _invoke("references", "--suite", str(suite_path), "--workers", "1")
    assert code == 0, out
    refs = load_references(load_suite_file(suite_path))  # the cached file the command wrote
    rows = {line.split("│")[1].strip(): line.split("│")[5].strip() for line in out.splitlines()
            if line.startswith("│")}
    toy_entry = refs.tasks["toy/10000"]
    assert toy_entry["lr"] == toy_entry["lr_range"][1] == 0.05 and not toy_entry["bracketed"]
    assert rows["toy/10000"] == "at lr_max = 0.05, not bracketed"
    for label, note in rows.items():
        entry = refs.tasks[label]
        lo, hi = entry["lr_range"]
        inside = min(math.log10(entry["lr"] / lo), math.log10(hi / entry["lr"]))
        assert (note != "–") == (inside < 1.0 or not entry["bracketed"]), (label, note, inside)
    assert rows["quadratic/10000"] == "–"  # well inside: the note is no constant
    assert ("1 of 2 best fixed LRs lie less than 1 decade inside the LR range or at its end (the range, not the "
            "task, may bound them): toy/10000;") in " ".join(out.split())


def test_controller_ablation_refuses_a_suite_with_a_family_it_has_no_weights_for(toy, tmp_path):
    """``controller-ablation`` on a suite with a family of one's own: every row but bold_driver and
    plateau holds the controller's weights, which have no terms for it, so the command is refused
    before anything runs (exit 2), naming the family, the families the weights cover and the fix;
    nothing is graded or stored (it graded every row, each a failed entry, and exited 1). With a
    run's weights (``--submission``) and with ``--no-grade`` alike; a suite file of built-in
    families only is not refused by it (checked on the refusal function: grading one is the
    ablation command test's)."""
    db = tmp_path / "board.sqlite"
    for families in (["toy"], ["quadratic", "toy"]):
        suite_path = _suite_file(tmp_path, "ownablation", [{"family": f, "instances": [10000]} for f in families])
        for extra in ([], ["--no-grade"], ["--submission", str(tmp_path / "controller_mixed.py")]):
            code, out = _invoke("controller-ablation", "--suite", str(suite_path), "--db", str(db), "--workers", "1",
                                *extra)
            said = " ".join(out.replace("│", " ").split())
            assert code == 2, out
            assert ("Invalid value for --suite: every row but bold_driver and plateau holds the controller's weights "
                    "and would fail: its weights are per family, for linreg, quadratic, mlp, recsys (and their "
                    "mixture) only; suite ownablation/r1's toy is none of them; valid: a suite of those families "
                    "(val, v2, quick, or a suite file of them only)") in said, out
    assert not db.exists()  # nothing graded, no store made
    from lrgym.leaderboard.ablation_table import unfit_suite

    builtin = load_suite_file(_suite_file(tmp_path, "builtins", [{"family": "mlp", "instances": [10000]}]))
    assert unfit_suite(builtin) is None
    from lrgym.leaderboard.suite import SUITES, get_suite

    assert all(unfit_suite(get_suite(name)) is None for name in SUITES)
