"""The tuning protocol: scores by hand, the leaderboard's reference rule, and a tiny end-to-end run."""

import json
import math
import re

import numpy as np
import pytest

from lrgym.baselines.tune import fixed_grid, merge, reference_job, run_scores, stage2_configs, tune


def test_scores_by_hand():
    # runs are (instance, seed, L0, LT, diverged); refs (instance, seed) → L_ref
    e = math.e
    refs = {(7, 0): e**-2, (7, 1): e**-2, (8, 0): 1e-30}
    runs = [(7, 0, 1.0, e**-1, False), (7, 1, 1.0, e**-6, False), (7, 0, 1.0, math.inf, True),
            (8, 0, 1.0, 1e-40, False)]
    # S = log LT / log L_ref: 0.5; 3 clipped to 2; diverged -> -1; both below the precision floor -> 1
    np.testing.assert_allclose(run_scores(runs, refs), [0.5, 2.0, -1.0, 1.0])


def test_tuner_references_are_the_leaderboard_rule():
    """Stage 0 of the tuner is search_reference on the train instance: the same LR and losses
    as the leaderboard's references of a suite on that instance."""
    from lrgym.baselines.reference import ConstantLRRuns

    job, refs = reference_job(("quadratic", 3, (0, 1), "train"))
    ref = ConstantLRRuns({"family": "quadratic", "instance_set": "train"}, 3, (0, 1)).search()
    assert refs == {(3, 0): ref.best.final_loss[0], (3, 1): ref.best.final_loss[1]}


def test_stage2_lrs_stay_in_the_env_range():
    lrs = sorted({c["lr"] for c in stage2_configs("bold_driver", 10.0)})
    assert lrs == [pytest.approx(10 ** 0.5), 10.0]
    assert len(stage2_configs("step", 0.1)) == 4 * 4  # 4 LRs x 4 gammas


def test_tiny_tuning_run_and_merge():
    out = tune(["quadratic"], instances=1, seeds=(0,), workers=1, names=["fixed", "cosine"])
    assert set(out["values"]) == {"fixed", "cosine"}
    assert out["values"]["fixed"]["quadratic"]["lr"] in [float(f"{lr:.6g}") for lr in fixed_grid("quadratic")]
    assert set(out["values"]["cosine"]["quadratic"]) == {"lr", "warmup_frac"}
    assert out["settings"]["quadratic"]["instances"] == [0]  # the first train instance
    merged = merge({"values": {"cosine": {"linreg": {"lr": 1.0}}}}, out)
    assert set(merged["values"]["cosine"]) == {"linreg", "quadratic"}
    assert merged["command"] == "python -m lrgym.baselines.tune"


@pytest.mark.parametrize("kwargs, bad", [({"names": ["cosin"]}, "cosin"), ({"names": ["adam_default"]}, "adam_default"),
                                         ({"families": ["mlpp"]}, "mlpp"), ({"instances": 0}, "instances=0"),
                                         ({"seeds": ()}, "seeds=()")])
def test_bad_arguments_stop_before_any_job_runs(kwargs, bad, monkeypatch):
    """A misspelt baseline was a KeyError after the reference searches and stage 1 had run
    (minutes). Now the error comes first, names the value and the valid choices: the baselines
    the shipped tuned.json holds values for (the reference) and the registry's families."""
    import json

    import lrgym.baselines.tune as tune_module
    from lrgym.baselines import outputs
    from lrgym.baselines.families import MIXED, available_families

    def no_jobs(*args, **kw):
        raise AssertionError("a job ran before the arguments were checked")

    monkeypatch.setattr(tune_module, "search_references", no_jobs)
    monkeypatch.setattr(tune_module, "_run_jobs", no_jobs)
    args = {"families": ["linreg"], "instances": 2, "seeds": (0,), "names": None, **kwargs}
    with pytest.raises(ValueError) as err:
        tune(args["families"], args["instances"], args["seeds"], None, args["names"])
    message = str(err.value)
    assert bad in message
    shipped = sorted(json.loads(outputs.SHIPPED_TUNED.read_text())["values"])
    if "names" in kwargs:
        assert sorted(message.split("valid choices: ")[1].split(", ")) == shipped
    if "families" in kwargs:
        assert message.split("valid choices: ")[1].split(", ") == [*available_families(), MIXED]
    with pytest.raises(SystemExit):  # the command line: argparse's error, no traceback
        tune_module.main([*(["--baselines", *kwargs["names"]] if "names" in kwargs else []),
                          *(["--families", *kwargs["families"]] if "families" in kwargs else ["--families", "linreg"]),
                          "--instances", str(args["instances"]), "--seeds", *map(str, args["seeds"]),
                          "--out", "/nonexistent/never-written.json"])


#: (argv, what argparse's error says): each was taken silently (an empty --families or --baselines
#: tuned everything; --instances beyond the train set was cut to its 10,000; a repeated family was
#: tuned twice, a repeated seed counted twice) or was gymnasium's error minutes into the references
BAD_COMMAND_LINES = [
    (["--families"], "families [] is empty; valid: at least one of linreg"),
    (["--families", "linreg", "--baselines"], "baselines [] is empty; valid: at least one of fixed"),
    (["--families", "linreg", "linreg"], "families ['linreg', 'linreg'] repeats 'linreg'; valid: distinct names"),
    (["--families", "linreg", "--seeds", "0", "0"], "seeds [0, 0] repeats 0; valid: distinct env seeds"),
    (["--families", "linreg", "--baselines", "fixed", "fixed"], "baselines ['fixed', 'fixed'] repeats 'fixed'"),
    (["--families", "linreg", "--instances", "99999999999"],
     "instances=99999999999 out of range; valid: a positive integer (1, 2, 3, ...) at most 10,000"),
    (["--families", "linreg", "--seeds", "-1"], "argument --seeds: '-1' out of range; valid: an integer >= 0"),
    (["--families", "linreg", "--seeds", "x"], "argument --seeds: 'x' is not an integer; valid: an integer >= 0"),
]


@pytest.mark.parametrize("argv, message", BAD_COMMAND_LINES, ids=[" ".join(a) for a, _ in BAD_COMMAND_LINES])
def test_the_command_refuses_empty_repeated_and_out_of_range_lists(argv, message, tmp_path, monkeypatch, capsys):
    import lrgym.baselines.tune as tune_module

    monkeypatch.setattr(tune_module, "tune", lambda *a, **k: pytest.fail("tuning started"))
    with pytest.raises(SystemExit) as stop:
        tune_module.main([*argv, "--out", str(tmp_path / "never.json")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("usage:") and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_the_api_checks_seeds_and_instances_as_the_command_does():
    """``tune(..., seeds=(-1,))`` reached gymnasium's "Seed must be greater or equal to zero" after
    the references' set-up; a NumPy seed is a seed, a bool is not."""
    from lrgym.baselines.tune import check_arguments, tunable

    assert check_arguments(["linreg"], 10_000, (np.int64(3), 0), None) == tunable()  # the bound is valid
    for seeds, message in (((-1,), "seeds[0]=-1 out of range"), ((0, True), "seeds[1]=True is not an integer"),
                           ((0, 1.5), "seeds[1]=1.5 is not an integer")):
        with pytest.raises(ValueError, match=re.escape(message) + ".*valid: an integer >= 0"):
            check_arguments(["linreg"], 2, seeds, None)
    with pytest.raises(ValueError, match="instances=10001 out of range.*at most 10,000"):
        check_arguments(["linreg"], 10_001, (0,), None)


@pytest.mark.parametrize("content, message", [
    ("notes\n", "is no tuned.json (not JSON: Expecting value"),
    ("[1, 2]\n", "is no tuned.json (a JSON list)"),
    ('{"values": {"fixed": 3}, "train_scores": {}, "fixed_lr": {}, "settings": {}}\n',
     "is no tuned.json (its values not as tune writes it)"),
    # a JSON object of the user's: it was merged into, rewritten with tune's sections added
    ('{"theme": "dark"}\n', "is no tuned.json (no values, train_scores, fixed_lr, settings: the sections tune writes)"),
    ('{"values": {}}\n', "is no tuned.json (no train_scores, fixed_lr, settings: the sections tune writes)"),
])
def test_an_out_file_that_is_no_tuned_json_stops_before_the_tuning(content, message, tmp_path, monkeypatch, capsys):
    """An existing ``--out`` file is the one the result merges into; one that is no tuned.json
    (``--out notes.txt``, a ``runs/tuned.json`` edited into junk) was read only after the tuning
    (22 min for every family) and ended it in a JSONDecodeError or AttributeError traceback, the
    result lost; a JSON object without tune's sections (``--out settings.json``) was merged into.
    The file is left as it was."""
    import lrgym.baselines.tune as tune_module

    monkeypatch.setattr(tune_module, "tune", lambda *a, **k: pytest.fail("tuning started"))
    out = tmp_path / "notes.txt"
    out.write_text(content)
    with pytest.raises(SystemExit) as stop:
        tune_module.main(["--families", "linreg", "--baselines", "fixed", "--out", str(out)])
    err = " ".join(capsys.readouterr().err.split())
    assert stop.value.code == 2 and f"{out} {message}" in err and "valid: a tuned.json to merge into" in err, err
    assert out.read_text() == content and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_an_out_tuned_json_gets_the_retuned_families_merged_in(tmp_path, monkeypatch):
    """A valid existing ``--out`` still takes the re-tuned families over its own (the tuning
    stood in for by a fixed result)."""
    import json

    import lrgym.baselines.tune as tune_module
    from lrgym.baselines import outputs

    new = {"values": {"fixed": {"linreg": {"lr": 0.5}}}, "train_scores": {"fixed": {"linreg": 0.9}},
           "fixed_lr": {"linreg": 0.5}, "settings": {"linreg": {}}, "last_run": {"families": ["linreg"], "seconds": 0}}
    monkeypatch.setattr(tune_module, "tune", lambda *a, **k: new)
    out = tmp_path / "tuned.json"
    out.write_text(outputs.SHIPPED_TUNED.read_text())
    tune_module.main(["--families", "linreg", "--baselines", "fixed", "--out", str(out)])
    merged, shipped = json.loads(out.read_text()), json.loads(outputs.SHIPPED_TUNED.read_text())
    assert merged["values"]["fixed"] == {**shipped["values"]["fixed"], "linreg": {"lr": 0.5}}
    assert merged["values"]["cosine"] == shipped["values"]["cosine"]


def test_the_commands_stdout_is_the_line_naming_the_file_it_wrote(tmp_path, monkeypatch, capsys):
    """``tune ... > out.txt``: stdout is its result, the ``wrote PATH`` line; the values it tuned
    (each baseline's per family, with its train score) are said on stderr. They were on stdout,
    after the line (the tuning stood in for by a fixed result)."""
    import lrgym.baselines.tune as tune_module

    new = {"values": {"fixed": {"linreg": {"lr": 0.5}}}, "train_scores": {"fixed": {"linreg": 0.9}},
           "fixed_lr": {"linreg": 0.5}, "settings": {"linreg": {}}, "last_run": {"families": ["linreg"], "seconds": 0}}
    monkeypatch.setattr(tune_module, "tune", lambda *a, **k: new)
    out = tmp_path / "tuned.json"
    tune_module.main(["--families", "linreg", "--baselines", "fixed", "--out", str(out)])
    printed, said = capsys.readouterr()
    assert printed == f"wrote {out}\n"
    assert said.split() == ["fixed", "linreg:", "{'lr':", "0.5}", "(S=0.90)"]


def test_an_out_another_run_made_during_the_tuning_keeps_its_families(tmp_path, monkeypatch):
    """The file merged into is read again after the tuning (another run may have merged its
    families meanwhile), but which file was chosen before it: an ``--out`` another run made
    during the tuning was ignored, the result merged into the shipped values, and the other
    run's families lost."""
    import json

    import lrgym.baselines.tune as tune_module
    from lrgym.baselines import outputs

    out = tmp_path / "tuned.json"
    theirs = json.loads(outputs.SHIPPED_TUNED.read_text())
    theirs["values"]["cosine"]["quadratic"] = {"lr_max": 0.123}  # what the other run tuned

    def tuned_while_another_run_wrote(*args, **kwargs):
        out.write_text(json.dumps(theirs))
        return {"values": {"fixed": {"linreg": {"lr": 0.5}}}, "train_scores": {"fixed": {"linreg": 0.9}},
                "fixed_lr": {"linreg": 0.5}, "settings": {"linreg": {}}, "last_run": {"families": ["linreg"]}}

    monkeypatch.setattr(tune_module, "tune", tuned_while_another_run_wrote)
    tune_module.main(["--families", "linreg", "--baselines", "fixed", "--out", str(out)])
    merged = json.loads(out.read_text())
    assert merged["values"]["cosine"]["quadratic"] == {"lr_max": 0.123}  # the other run's, kept
    assert merged["values"]["fixed"]["linreg"] == {"lr": 0.5}  # ours, merged in


@pytest.mark.parametrize("kind", ["NodeMismatch", "RayCannotRun"])
def test_a_ray_node_that_differs_stops_the_tuning_in_one_line(kind, tmp_path, monkeypatch, capsys):
    """A Ray node with other code (``NodeMismatch``, raised by the tuning's tasks) ended ``tune
    --backend ray`` in Python's traceback around Ray's traceback of the node's task, the one
    line saying what differs at its very end (a Ray operator's audit, 2026-12-06). It is now the
    command's error: that line, exit status 1, nothing written. Ray's errors that are no lost
    worker (``RayCannotRun``: a runtime environment that cannot be set up...) stop it alike."""
    import lrgym.baselines.tune as tune_module
    from lrgym.baselines.backend import RayCannotRun
    from lrgym.baselines.node_check import NodeMismatch

    error, message = {"NodeMismatch": (NodeMismatch, "the Ray node 10.0.0.7 differs from the driver in what results "
                                                     "depend on: code a there, b here"),
                      "RayCannotRun": (RayCannotRun, "Ray cannot run job 'x': RuntimeEnvSetupError: Failed to set up "
                                                     "runtime environment. (no Ray worker was lost, so it does not "
                                                     "run again: it would fail the same way)")}[kind]

    def differs(*args, **kwargs):
        raise error(message)

    monkeypatch.setattr(tune_module, "tune", differs)
    out = tmp_path / "tuned.json"
    with pytest.raises(SystemExit) as stop:
        tune_module.main(["--families", "linreg", "--baselines", "fixed", "--out", str(out)])
    err = capsys.readouterr().err
    assert stop.value.code == 1 and err == f"python -m lrgym.baselines.tune: error: {message}\n"
    assert not out.exists()


def test_two_runs_merging_into_one_file_keep_both_families(tmp_path):
    """tune read --out, merged its families and replaced the file: a run that replaced it between
    another's read and write had its families dropped (a review, 2026-12-06). The merge holds a
    lock on the folder: here another run holds it while it writes the linreg values, and this
    run's merge of recsys waits for it and keeps them."""
    import threading
    import time

    from lrgym.baselines import outputs
    from lrgym.baselines.tune import merge_into

    out = tmp_path / "tuned.json"

    def result(family: str, lr: float) -> dict:
        return {"values": {"fixed": {family: {"lr": lr}}}, "train_scores": {"fixed": {family: 0.5}},
                "fixed_lr": {family: lr}, "settings": {family: {"instances": 1}}, "last_run": {"families": [family]}}

    holding = threading.Event()

    def other_run():
        with outputs.folder_locked(tmp_path):
            holding.set()
            time.sleep(0.5)  # this run's merge starts meanwhile, and must wait
            out.write_text(json.dumps({**result("linreg", 0.1), "command": "the other run"}))

    thread = threading.Thread(target=other_run)
    thread.start()
    holding.wait()
    merged = merge_into(out, result("recsys", 0.2))
    thread.join()
    assert merged["values"]["fixed"] == {"linreg": {"lr": 0.1}, "recsys": {"lr": 0.2}}
    assert json.loads(out.read_text())["values"]["fixed"] == {"linreg": {"lr": 0.1}, "recsys": {"lr": 0.2}}


def test_every_hand_designed_baseline_is_tuned_or_listed_untuned():
    """README, "Adding a baseline": a hand-designed baseline is either tuned (in ``TUNABLE`` of
    baselines/registry.py, the one list: every hand-designed baseline not in ``UNTUNED``) or
    listed in ``UNTUNED`` (it runs with its defaults). The tuner tunes ``TUNABLE`` exactly, so a
    tuned baseline needs a grid in ``GRIDS`` (``fixed`` and ``adam`` are searched by LR alone): a
    new baseline in ``BASELINES`` alone was refused by ``tune --baselines NAME``, warned "no tuned
    values" at every use and ran untuned, and its registry test failed on a bare ``KeyError``."""
    from lrgym.baselines.registry import HAND_DESIGNED, TUNABLE, UNTUNED
    from lrgym.baselines.tune import GRIDS, LR_ONLY, tunable

    # the definition, from the registry's own names (an independent reading of "tuned")
    assert set(TUNABLE) == set(HAND_DESIGNED) - set(UNTUNED) and not set(TUNABLE) & set(UNTUNED)
    assert sorted(tunable()) == sorted(TUNABLE) and len(tunable()) == len(set(tunable()))
    no_grid = [n for n in TUNABLE if n not in LR_ONLY and n not in GRIDS]
    assert not no_grid, f"{no_grid}: give each a grid in GRIDS of baselines/tune.py or list it in UNTUNED of baselines/registry.py"
    assert set(GRIDS) | set(LR_ONLY) == set(TUNABLE), f"{sorted(set(GRIDS) - set(TUNABLE))}: a grid but no tuned baseline"


def test_a_tuned_json_takes_the_baselines_the_tuner_tunes(tmp_path):
    """A tuned.json may hold values for exactly the baselines ``tune`` tunes (both read
    ``TUNABLE``): each of them is taken, every other baseline is refused naming the same list."""
    from lrgym.baselines.registry import BASELINES, TUNABLE, read_tuned_file
    from lrgym.baselines.tune import tunable

    path = tmp_path / "tuned.json"
    for name in BASELINES:
        path.write_text(json.dumps({"values": {name: {"linreg": {}}}}))
        if name in tunable():
            assert read_tuned_file(path)["values"] == {name: {"linreg": {}}}
        else:
            with pytest.raises(ValueError, match=f"'{name}' is no tuned baseline; valid: {', '.join(TUNABLE)}$"):
                read_tuned_file(path)
