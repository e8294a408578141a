"""train_controller's checkpoint and --resume, and what ES does with the parameters a mask silences.

An interrupted run (Ctrl-C, a kill, ``--stop-after``) goes on from its last generation's checkpoint
to the state the uninterrupted run reaches, to the bit; a resume that would train other weights
(another config, seed or code) is refused naming the difference; a checkpoint is never thrown
away unasked and never lands among the shipped weights."""

import io
import json
import shlex

import numpy as np
import pytest

import lrgym.baselines.train_controller as tc
import lrgym.baselines.train_controller_episodes as episodes
from lrgym.baselines.controller import INPUT_GROUPS, INPUT_NAMES, N_INPUTS, ControllerNet, controller_inputs
from lrgym.baselines.controller_checkpoint import read_checkpoint
from lrgym.baselines.train_controller import ControllerConfig, checkpoint_path, main, train

TINY = {"families": ["quadratic", "linreg"], "generations": 5, "pairs": 2, "pool": {"quadratic": 2, "linreg": 2},
        "batch": {"quadratic": 1, "linreg": 1}, "holdout": 1, "holdout_every": 2, "ref_grid": [-3, 0, 1]}


def _quiet(*_):
    pass


def _state(path):
    """A checkpoint's whole ES state as plain values (the clock's seconds left out: wall time)."""
    state, run = read_checkpoint(path)
    history = [{k: v for k, v in h.items() if k != "seconds"} for h in state.history]
    arrays = {k: getattr(state, k).tobytes() for k in ("theta", "adam_m", "adam_v", "best_theta")}
    return {**arrays, "generation": state.generation, "rng": state.rng, "best": (state.best_score, state.best_generation),
            "history": history, "run": run}


def test_a_run_stopped_and_resumed_reaches_the_uninterrupted_runs_state_to_the_bit(tmp_path, monkeypatch):
    """Stopped after generation 1 and again after 3 (between holdout generations, 2 and 4), each
    resume in a fresh task cache as a new process has: θ, Adam's moments, the generator, the best
    generation and the holdout history after generation 5 are the uninterrupted run's."""
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    cfg = ControllerConfig(**TINY)
    net, info = train(cfg, 3, log=_quiet, checkpoint=tmp_path / "whole.npz")
    whole = _state(tmp_path / "whole.npz")
    assert whole["generation"] == 5 and "stopped_after" not in info
    assert whole["theta"] != np.zeros(net.n_params).tobytes()  # it moved: the comparison says something
    part = tmp_path / "part.npz"
    for stop in (1, 3, None):
        monkeypatch.setattr(episodes, "_TASKS", {})  # no task built by the earlier part
        resume = read_checkpoint(part)[0] if part.exists() else None
        net2, info2 = train(ControllerConfig(**TINY), 3, log=_quiet, checkpoint=part, resume=resume, stop_after=stop)
        if stop is not None:
            assert info2["stopped_after"] == stop == read_checkpoint(part)[0].generation
    assert _state(part) == whole
    assert net2.theta.tobytes() == net.theta.tobytes() and info2["best_generation"] == info["best_generation"]


def _run(tmp_path, *args, config=TINY):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(config))
    return main(["--config", str(cfg), "--seed", "3", "--out", str(tmp_path / "c.npz"), *args])


def test_the_command_resumes_to_the_same_weights_and_keeps_its_checkpoint_complete(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    assert _run(tmp_path) == 0
    whole = np.load(tmp_path / "c.npz")["theta"].tobytes()
    history = [h["holdout"] for h in json.loads((tmp_path / "c.json").read_text())["history"]]
    assert read_checkpoint(tmp_path / "c.checkpoint.npz")[0].generation == 5  # a whole run keeps it, complete
    (tmp_path / "c.npz").unlink()
    assert _run(tmp_path, "--stop-after", "2") == 0
    out = capsys.readouterr().err  # (status: the run wrote no result)
    assert "stopped after generation 2 of 5" in out and "--out " + str(tmp_path / "c.npz") + " --resume" in out
    assert (tmp_path / "c.checkpoint.npz").exists() and not (tmp_path / "c.npz").exists()
    monkeypatch.setattr(episodes, "_TASKS", {})
    assert _run(tmp_path, "--resume") == 0
    assert np.load(tmp_path / "c.npz")["theta"].tobytes() == whole
    side = json.loads((tmp_path / "c.json").read_text())
    assert [h["holdout"] for h in side["history"]] == history and side["resumed_after"] == 2
    assert read_checkpoint(tmp_path / "c.checkpoint.npz")[0].generation == 5


@pytest.mark.parametrize("args, config, said", [
    (["--resume"], {**TINY, "sigma": 0.05}, "the config's sigma is 0.05, the checkpoint's run had 0.04"),
    (["--resume", "--generations", "1"], TINY, "the config's generations is 1, fewer than the 2 the checkpoint has "
                                               "trained (the run had 5;"),
    (["--resume", "--seed", "4"], TINY, "--seed is 4, the checkpoint's run had 3"),
    ([], TINY, "an interrupted run left its checkpoint"),  # not thrown away unasked
])
def test_a_resume_that_would_train_other_weights_is_refused_naming_the_difference(tmp_path, monkeypatch, capsys,
                                                                                   args, config, said):
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    assert _run(tmp_path, "--stop-after", "2") == 0
    before = (tmp_path / "c.checkpoint.npz").read_bytes()
    with pytest.raises(SystemExit) as exc:
        _run(tmp_path, *args, config=config)  # (a later --seed wins over _run's)
    assert exc.value.code == 2 and said in capsys.readouterr().err
    assert (tmp_path / "c.checkpoint.npz").read_bytes() == before and not (tmp_path / "c.npz").exists()


def test_a_finished_run_extended_to_more_generations_trains_the_longer_run_from_the_start_to_the_bit(
        tmp_path, monkeypatch):
    """5 generations (holdout every 2: the last, 5, judged only because it is the last), then 7
    from its checkpoint, in a fresh task cache: the state after generation 7 — θ, Adam's moments,
    the generator, the best generation and the holdout history (0, 2, 4, 6, 7: not 5) — is the
    7-generation run's from the start. Before, the finished run removed its checkpoint, and a
    resume with other generations was refused."""
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    longer = {**TINY, "generations": 7}
    net, info = train(ControllerConfig(**longer), 3, log=_quiet, checkpoint=tmp_path / "whole.npz")
    whole = _state(tmp_path / "whole.npz")
    assert [h["generation"] for h in whole["history"]] == [0, 2, 4, 6]  # (7: judged after its checkpoint)
    assert [h["generation"] for h in info["history"]] == [0, 2, 4, 6, 7]
    short_net, short = train(ControllerConfig(**TINY), 3, log=_quiet, checkpoint=tmp_path / "part.npz")
    assert [h["generation"] for h in short["history"]] == [0, 2, 4, 5]  # the short run judges its last
    monkeypatch.setattr(episodes, "_TASKS", {})
    net2, info2 = train(ControllerConfig(**longer), 3, log=_quiet, checkpoint=tmp_path / "part.npz",
                        resume=read_checkpoint(tmp_path / "part.npz")[0])
    strip = [[{k: v for k, v in h.items() if k != "seconds"} for h in i["history"]] for i in (info, info2)]
    assert strip[0] == strip[1] and info2["best_generation"] == info["best_generation"]
    assert net2.theta.tobytes() == net.theta.tobytes()
    assert {**_state(tmp_path / "part.npz"), "run": None} == {**whole, "run": None}  # (run: its generations, 5)


def test_the_command_extends_a_finished_run_and_its_record_says_so(tmp_path, monkeypatch, capsys):
    """Through the command: ``--generations 7 --resume`` after a finished 5-generation run writes
    the weights, kept generation and holdout history a 7-generation run writes; the weights' header
    differs in the command and ``resumed_after`` only. A run without --resume replaces the finished
    checkpoint; fewer generations than it has trained are refused."""
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    assert _run(tmp_path) == 0
    err = capsys.readouterr().err
    assert f"its checkpoint {tmp_path / 'c.checkpoint.npz'} stays" in err
    assert f"--generations M --out {tmp_path / 'c.npz'} --resume" in err
    monkeypatch.setattr(episodes, "_TASKS", {})
    assert _run(tmp_path, "--generations", "7", "--resume") == 0
    assert read_checkpoint(tmp_path / "c.checkpoint.npz")[0].generation == 7
    extended = {k: (tmp_path / f"c.{k}").read_bytes() for k in ("npz", "json", "py")}
    cfg = tmp_path / "cfg.json"
    assert main(["--config", str(cfg), "--seed", "3", "--generations", "7", "--out", str(tmp_path / "d.npz")]) == 0

    def record(data: bytes):
        with np.load(io.BytesIO(data)) as saved:
            return saved["theta"].tobytes(), json.loads(str(saved["header"]))

    (theta, header), (theta7, header7) = record(extended["npz"]), record((tmp_path / "d.npz").read_bytes())
    assert theta == theta7
    assert header.pop("resumed_after") == 5
    assert "--resume" in header.pop("command") and "--resume" not in header7.pop("command")
    assert header == header7
    side, side7 = json.loads(extended["json"]), json.loads((tmp_path / "d.json").read_text())
    assert [h["holdout"] for h in side["history"]] == [h["holdout"] for h in side7["history"]]
    assert side["best_generation"] == side7["best_generation"] and side["config"] == side7["config"]
    with pytest.raises(SystemExit) as exc:
        _run(tmp_path, "--generations", "6", "--resume")
    assert exc.value.code == 2
    assert "the config's generations is 6, fewer than the 7 the checkpoint has" in capsys.readouterr().err
    assert _run(tmp_path, "--generations", "1") == 0  # a new run over a finished one: replaced, as the weights are
    assert read_checkpoint(tmp_path / "c.checkpoint.npz")[0].generation == 1


def test_an_out_in_a_folder_not_made_yet_is_made_before_the_first_checkpoint(tmp_path, monkeypatch):
    """``--out new/dir/c`` (new and new/dir not there): generation 0's checkpoint, written before
    anything else, raised FileNotFoundError after the references were computed; the folder was made
    only for the weights at the end. A run resumed from another checkpoint into a new folder too."""
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    (tmp_path / "cfg.json").write_text(json.dumps({**TINY, "generations": 1}))
    common = ["--config", str(tmp_path / "cfg.json"), "--seed", "3"]
    assert main([*common, "--out", str(tmp_path / "new" / "dir" / "c")]) == 0
    assert read_checkpoint(tmp_path / "new" / "dir" / "c.checkpoint.npz")[0].finished
    assert main([*common, "--generations", "2", "--resume", str(tmp_path / "new" / "dir" / "c.checkpoint.npz"),
                 "--out", str(tmp_path / "other" / "d.npz")]) == 0
    assert read_checkpoint(tmp_path / "other" / "d.checkpoint.npz")[0].generation == 2
    assert (tmp_path / "other" / "d.npz").exists()


def test_a_run_resumed_from_another_runs_checkpoint_writes_its_own_files_and_leaves_that_run_as_it_was(
        tmp_path, monkeypatch, capsys):
    """``--resume CHECKPOINT --out OTHER``: a finished 5-generation run extended to 7 into other
    files, with a stop at 6 on the way. Before, ``--resume`` took no path (the checkpoint was the
    output's), so extending a run wrote over its weights. The 5-generation run's weights, record,
    submission and checkpoint stay byte for byte; the extension's weights are the 7-generation
    run's from the start; the command printed at the stop goes on from the extension's own
    checkpoint (``--resume`` alone), not from the one it started from."""
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    assert _run(tmp_path) == 0
    kept = {p.name: p.read_bytes() for p in tmp_path.glob("c.*")}
    assert set(kept) == {"c.npz", "c.json", "c.py", "c.checkpoint.npz"}
    monkeypatch.setattr(episodes, "_TASKS", {})
    cfg, source, out = tmp_path / "cfg.json", tmp_path / "c.checkpoint.npz", tmp_path / "d.npz"
    capsys.readouterr()
    assert main(["--config", str(cfg), "--seed", "3", "--generations", "7", "--stop-after", "6", "--resume", str(source),
                 "--out", str(out)]) == 0
    printed = shlex.split(capsys.readouterr().err.split("go on with\n")[1].splitlines()[0])
    assert printed[3:] == ["--config", str(cfg), "--seed", "3", "--generations", "7", "--out", str(out), "--resume"]
    assert read_checkpoint(tmp_path / "d.checkpoint.npz")[0].generation == 6
    assert main(printed[3:]) == 0
    assert {p.name: p.read_bytes() for p in tmp_path.glob("c.*")} == kept
    assert main(["--config", str(cfg), "--seed", "3", "--generations", "7", "--out", str(tmp_path / "e.npz")]) == 0
    assert np.load(out)["theta"].tobytes() == np.load(tmp_path / "e.npz")["theta"].tobytes()
    assert json.loads(str(np.load(out)["header"]))["resumed_after"] == 6
    state = read_checkpoint(tmp_path / "d.checkpoint.npz")[0]
    assert state.generation == 7 and state.finished


@pytest.mark.parametrize("source, extra, said", [
    ("c.checkpoint.npz", {"sigma": 0.05}, "--resume {tmp}/c.checkpoint.npz: the config's sigma is 0.05, the "
                                          "checkpoint's run had 0.04; valid: the checkpoint's config"),
    ("w.npz", {}, "--resume: {tmp}/w.npz is no readable train_controller checkpoint"),  # (weights, say)
    ("none.npz", {}, "--resume {tmp}/none.npz: no such file; valid: a checkpoint a train_controller run wrote"),
    ("c.checkpoint.npz", {"interrupted": True}, "an interrupted run left its checkpoint {tmp}/d.checkpoint.npz "
                                                "(generation 1); valid: --resume to go on from it"),
])
def test_a_resume_from_a_checkpoint_path_that_would_not_go_on_is_refused_naming_it(tmp_path, monkeypatch, capsys,
                                                                                    source, extra, said):
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    assert _run(tmp_path, "--stop-after", "2") == 0
    if extra.pop("interrupted", False):  # the output's own checkpoint: another run's, not finished
        assert main(["--config", str(tmp_path / "cfg.json"), "--seed", "3", "--stop-after", "1",
                     "--out", str(tmp_path / "d.npz")]) == 0
    np.savez(tmp_path / "w.npz", theta=np.zeros(27))
    files = {p.name: p.read_bytes() for p in tmp_path.glob("[cd].*")}
    capsys.readouterr()
    cfg = tmp_path / "other.json"
    cfg.write_text(json.dumps({**TINY, **extra}))
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(cfg), "--seed", "3", "--resume", str(tmp_path / source), "--out", str(tmp_path / "d.npz")])
    assert exc.value.code == 2 and said.format(tmp=tmp_path) in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.glob("[cd].*")} == files


@pytest.mark.parametrize("stop", ["KeyboardInterrupt", "StopEscalated"])
def test_a_stopped_run_names_its_checkpoint_and_the_command_to_go_on(tmp_path, monkeypatch, capsys, stop):
    """A run stopped during training says where its checkpoint is and how to go on, and lets the
    stop through: for Ctrl-C's ``KeyboardInterrupt`` and for a stop that code in the run swallowed
    again and again, raised as ``StopEscalated`` (a ``SystemExit``, which an ``except
    KeyboardInterrupt`` let through without the line)."""
    import signal

    from lrgym.baselines import interrupts

    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    raised = KeyboardInterrupt() if stop == "KeyboardInterrupt" else interrupts.StopEscalated(signal.SIGTERM)

    def stopped(cfg, seed, *, checkpoint, **kwargs):  # a generation's checkpoint written, then the stop
        checkpoint.write_bytes(b"a generation's state")
        raise raised

    monkeypatch.setattr(tc, "train", stopped)
    with pytest.raises(type(raised)) as exc:
        _run(tmp_path)
    assert exc.value is raised
    err = " ".join(capsys.readouterr().err.split())
    assert f"interrupted; the checkpoint of the last finished generation is {tmp_path / 'c.checkpoint.npz'}" in err
    assert "--resume" in err


def test_a_run_stopped_after_its_last_generation_but_before_its_weights_is_not_replaced_unasked(
        tmp_path, monkeypatch, capsys):
    """Its checkpoint holds every generation but is not marked finished: a new run is refused, and
    --resume writes the weights the run would have written (no generation trained again)."""
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    config = {**TINY, "generations": 3}
    assert _run(tmp_path, config=config) == 0
    whole = (tmp_path / "c.npz").read_bytes()
    assert read_checkpoint(tmp_path / "c.checkpoint.npz")[0].finished
    (tmp_path / "c.checkpoint.npz").unlink()
    (tmp_path / "c.npz").unlink()

    def killed(files):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(tc, "replace_files", killed)
        with pytest.raises(KeyboardInterrupt):
            _run(tmp_path, config=config)
    state = read_checkpoint(tmp_path / "c.checkpoint.npz")[0]
    assert state.generation == 3 and not state.finished and not (tmp_path / "c.npz").exists()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        _run(tmp_path, config=config)
    assert exc.value.code == 2 and "an interrupted run left its checkpoint" in capsys.readouterr().err
    assert _run(tmp_path, "--resume", config=config) == 0
    assert np.load(tmp_path / "c.npz")["theta"].tobytes() == np.load(io.BytesIO(whole))["theta"].tobytes()


def test_the_printed_commands_name_each_option_in_full_and_go_on(tmp_path, monkeypatch, capsys):
    """argparse takes any unambiguous prefix of an option. The command a run printed to go on was
    the words as typed with ``--resume`` added, ``--stop-after`` and ``--generations`` removed by
    their full names only: ``--stop 1`` stayed, so the printed command stopped after generation 1
    again at once, and ``--gen 3`` stayed beside the extension's ``--generations M``; a path with a
    space was not quoted. The commands are now rebuilt from the parsed options (full names, quoted):
    the one printed goes on to the end, and the extension's names its generations once."""
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    cfg, out = tmp_path / "cfg.json", tmp_path / "my runs" / "c.npz"
    cfg.write_text(json.dumps(TINY))
    out.parent.mkdir()
    assert main(["--config", str(cfg), "--see", "3", "--gen", "3", "--stop", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().err.split("go on with\n")[1].splitlines()[0].strip()
    words = shlex.split(printed)
    assert words == ["python", "-m", "lrgym.baselines.train_controller", "--config", str(cfg), "--seed", "3",
                     "--generations", "3", "--out", str(out), "--resume"]
    monkeypatch.setattr(episodes, "_TASKS", {})
    assert main(words[3:]) == 0  # the printed command, as a shell would split it
    assert read_checkpoint(tmp_path / "my runs" / "c.checkpoint.npz")[0].generation == 3 and out.exists()
    err = capsys.readouterr().err
    kept, in_place = (shlex.split(err.split(start)[1].splitlines()[0]) for start in ("these kept: ", "of these: "))
    start = ["python", "-m", "lrgym.baselines.train_controller", "--config", str(cfg), "--seed", "3", "--generations", "M"]
    assert kept == [*start, "--out", "PATH", "--resume", str(tmp_path / "my runs" / "c.checkpoint.npz")]
    assert in_place == [*start, "--out", str(out), "--resume"]


def test_a_resume_needs_a_checkpoint_and_the_code_that_wrote_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    with pytest.raises(SystemExit) as exc:
        _run(tmp_path, "--resume")
    assert exc.value.code == 2 and f"--resume: no checkpoint at {tmp_path / 'c.checkpoint.npz'}" in capsys.readouterr().err
    assert _run(tmp_path, "--stop-after", "1") == 0
    monkeypatch.setattr(tc, "references_version", lambda: "code other")
    with pytest.raises(SystemExit):
        _run(tmp_path, "--resume")
    assert "lrgym's code is 'code other'" in capsys.readouterr().err
    (tmp_path / "c.checkpoint.npz").write_text("not a checkpoint")  # a file of the user's: not replaced
    with pytest.raises(SystemExit):
        _run(tmp_path)
    assert "c.checkpoint.npz is a file this command did not write" in capsys.readouterr().err
    from lrgym.baselines.controller_checkpoint import MARK

    (tmp_path / "c.checkpoint.npz").write_bytes(MARK + b" cut short")  # a damaged one: named, before any work
    with pytest.raises(SystemExit):
        _run(tmp_path, "--resume")
    assert "c.checkpoint.npz is no readable train_controller checkpoint" in capsys.readouterr().err


def test_a_shipping_runs_checkpoint_goes_to_runs_not_beside_the_shipped_weights(tmp_path, monkeypatch):
    shipped = tmp_path / "weights"
    monkeypatch.setattr(tc, "SHIPPED_WEIGHTS", shipped)
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(TINY))
    assert main(["--config", str(cfg), "--seed", "3", "--ship", "--stop-after", "1"]) == 0
    assert not shipped.exists()
    assert read_checkpoint(tmp_path / "runs" / "controller_mixed.ship.checkpoint.npz")[0].generation == 1
    assert checkpoint_path(shipped / "controller_mixed.npz", ship=True) == tmp_path / "runs" / "controller_mixed.ship.checkpoint.npz"


# ---- the parameters a mask silences ------------------------------------------------------------


@pytest.mark.parametrize("hidden, mask", [((), ("gradient",)), ((), ("family", "noise")), ((3,), ("loss",))])
def test_the_inert_parameters_are_those_no_output_depends_on(hidden, mask):
    """Against the definition: a parameter is inert iff changing it alone changes no start LR and
    no step of any input."""
    net = ControllerNet(hidden=hidden, family_progress=True, mask=mask, base_lr=(0.02, 0.01, 0.01, 0.1))
    rng = np.random.default_rng(0)
    theta = rng.normal(0, 0.5, net.n_params)
    x = controller_inputs(rng.normal(0, 2, (64, 12)), rng.normal(0, 1, 64), rng.random(64) < 0.3)
    fam = np.arange(64) % 4

    def outputs(t):
        return np.concatenate([net.step_size(x, fam, t), net.start_log_lr(fam, t)])

    base = outputs(theta)
    moves = np.array([not np.array_equal(outputs(theta + 0.7 * np.eye(net.n_params)[i]), base)
                      for i in range(net.n_params)])
    assert np.array_equal(net.inert_parameters(), ~moves)
    assert net.inert_parameters().sum() == (len(INPUT_GROUPS["gradient"]) if mask == ("gradient",) else
                                            12 + 1 if "family" in mask else 6 * 3)
    assert N_INPUTS == len(INPUT_NAMES)


def test_es_leaves_the_masked_parameters_at_their_start_and_trains_the_others_as_before(tmp_path, monkeypatch):
    """ES drew noise for every parameter, so a run with ``mask`` moved the silenced ones at random
    (no fitness depends on them) and wrote them into the weights. Its noise there is now 0: those
    parameters stay at 0, while every other parameter, the kept generation and the holdout history
    are what perturbing them too gave (the same draws of the generator; the fitness cannot see
    them), so a run without a mask, such as the shipped recipe, trains what it trained."""
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    cfg = {**TINY, "mask": ["gradient", "family"]}
    net, info = train(ControllerConfig(**cfg), 3, log=_quiet, checkpoint=tmp_path / "new.npz")
    inert = net.inert_parameters()
    assert inert.sum() == 3 + 12
    monkeypatch.setattr(ControllerNet, "inert_parameters", lambda self: np.zeros(self.n_params, dtype=bool))
    old_net, old_info = train(ControllerConfig(**cfg), 3, log=_quiet, checkpoint=tmp_path / "old.npz")
    new, old = read_checkpoint(tmp_path / "new.npz")[0], read_checkpoint(tmp_path / "old.npz")[0]
    assert np.all(new.theta[inert] == 0) and np.all(old.theta[inert] != 0)  # the old code's random walk
    assert new.theta[~inert].tobytes() == old.theta[~inert].tobytes()
    assert new.adam_m[~inert].tobytes() == old.adam_m[~inert].tobytes()
    strip = [[{k: v for k, v in h.items() if k != "seconds"} for h in s.history] for s in (new, old)]
    assert strip[0] == strip[1] and info["best_generation"] == old_info["best_generation"]
    # and no mask: nothing is inert, the shipped recipe's draws are untouched
    assert not ControllerNet(family_progress=True).inert_parameters().any()


def _checkpoint_members(tmp_path) -> dict:
    """The members (name: bytes) of a checkpoint :func:`write_checkpoint` wrote of a small state."""
    import zipfile

    from lrgym.baselines.controller_checkpoint import ESState, write_checkpoint

    rng = np.random.default_rng(0)
    state = ESState(generation=1, theta=np.ones(3), adam_m=np.zeros(3), adam_v=np.zeros(3),
                    rng=rng.bit_generator.state, best_theta=np.ones(3), best_score=0.5, best_generation=1,
                    history=[], seconds=1.0)
    path = write_checkpoint(tmp_path / "real.npz", state, {"seed": 0})
    assert read_checkpoint(path)[0].generation == 1
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _npy_bytes(array=None, *, header_shape=None) -> bytes:
    """``array`` as an .npy file; ``header_shape``: its header claims that shape instead."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                               "shape": header_shape or array.shape})
    return buf.getvalue() + np.asarray(array, dtype=np.float64).tobytes()


def test_a_checkpoint_whose_array_header_claims_more_than_its_member_is_refused_naming_the_file(tmp_path):
    """An array whose .npy header claims 2**40 float64 (8 TiB) in a member of a few bytes: NumPy
    allocated what the header said before reading, a bare MemoryError out of --resume."""
    import zipfile

    members = _checkpoint_members(tmp_path)
    members["theta.npy"] = _npy_bytes(np.ones(3), header_shape=(2 ** 40,))
    forged = tmp_path / "forged.npz"
    with zipfile.ZipFile(forged, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match=rf"{forged} is no readable train_controller checkpoint .*theta\.npy claims "
                                         r"an array of shape \(1099511627776,\)"):
        read_checkpoint(forged)


def test_a_checkpoint_whose_member_inflates_past_the_file_is_refused_before_it_is_read(tmp_path):
    """A member compressed to a small part of what it inflates to (write_checkpoint stores its
    members): refused from the zip's directory, before any array is allocated; read as it was, a
    large one was a bare MemoryError, a smaller one a state nobody wrote."""
    import zipfile

    members = _checkpoint_members(tmp_path)
    for name in ("theta.npy", "adam_m.npy", "adam_v.npy", "best_theta.npy"):
        members[name] = _npy_bytes(np.zeros(1_000_000))
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    size = bomb.stat().st_size
    assert size < 100_000
    with pytest.raises(ValueError, match=rf"{bomb} is no readable train_controller checkpoint .*member \w+\.npy "
                                         rf"inflates to \d+ bytes, more than the whole file's {size}"):
        read_checkpoint(bomb)


def test_a_bare_npy_file_as_checkpoint_is_refused_before_numpy_allocates_its_header_shape(tmp_path):
    """A checkpoint path holding a bare .npy file (its header claiming 2**40 float64, 8 TiB), whose
    data holds the checkpoint's MARK, as train_controller's check of the file beside its output asks:
    np.load reads a .npy by its first bytes as one array, allocating the header's shape first, a
    bare MemoryError that the zip members' bounds never saw."""
    from lrgym.baselines.controller_checkpoint import MARK

    forged = tmp_path / "c.checkpoint.npz"
    forged.write_bytes(_npy_bytes(np.ones(3), header_shape=(2 ** 40,)) + MARK)
    with pytest.raises(ValueError, match=rf"{forged} is no readable train_controller checkpoint .*not a zip archive"):
        read_checkpoint(forged)


def test_random_weights_of_masked_weights_draw_at_the_scale_of_the_parameters_that_act():
    """Weights trained with a mask hold its silenced parameters at 0; RandomWeights' scale is the
    std of the others (here exactly 0.5: ±0.5 on an even count of them), not shrunk by the zeros
    (the std of all 27 parameters, 0.47 with the 3 gradient weights at 0). Unmasked weights, as the
    shipped ones, draw at the std of all their parameters, as before (test_controller.py)."""
    from lrgym.baselines.controller_ablation import random_weights

    net = ControllerNet(family_progress=True, mask=("gradient",), base_lr=(0.02, 0.01, 0.01, 0.1))
    acting = ~net.inert_parameters()
    assert acting.sum() % 2 == 0 and (~acting).sum() == 3
    theta = np.zeros(net.n_params)
    theta[acting] = np.resize([0.5, -0.5], acting.sum())
    net.theta = theta
    drawn = random_weights(net, seed=0).theta
    unit = np.random.default_rng(0).standard_normal(net.n_params)
    np.testing.assert_allclose(drawn, 0.5 * unit, rtol=1e-12)


def test_extending_a_run_that_wrote_its_weights_without_npz_says_that_file_is_left(tmp_path, monkeypatch, capsys):
    """Before 30dd10f ``--out runs/d`` wrote the weights to ``runs/d``; extended in place
    (``--generations M --resume``), the run writes ``runs/d.npz`` and leaves ``runs/d``, the old
    weights, which ``make_baseline(path="runs/d")`` goes on loading: said, naming both files. A
    file of the user's at ``runs/d`` (no weights) is not mentioned."""
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    cfg, out = tmp_path / "cfg.json", tmp_path / "d"
    cfg.write_text(json.dumps({**TINY, "generations": 3}))
    assert main(["--config", str(cfg), "--seed", "3", "--out", str(out)]) == 0
    (tmp_path / "d.npz").rename(out)  # the files such a run left: d, d.json, d.py, d.checkpoint.npz
    old = out.read_bytes()
    capsys.readouterr()
    monkeypatch.setattr(episodes, "_TASKS", {})
    assert main(["--config", str(cfg), "--seed", "3", "--out", str(out), "--generations", "4", "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"note: {out} is left as it was" in err and f"this run's weights are {tmp_path / 'd.npz'}" in err
    assert out.read_bytes() == old and read_checkpoint(tmp_path / "d.checkpoint.npz")[0].generation == 4
    out.write_text("my notes")
    (tmp_path / "d.checkpoint.npz").unlink()
    monkeypatch.setattr(episodes, "_TASKS", {})
    assert main(["--config", str(cfg), "--seed", "3", "--out", str(out), "--generations", "1"]) == 0
    assert "is left as it was" not in capsys.readouterr().err and out.read_text() == "my notes"
