"""train_controller's checkpoint and --resume.

An interrupted run (Ctrl-C, a kill, ``--stop-after``) goes on from its last generation's checkpoint
to the state the uninterrupted run reaches, to the bit; a resume that would train other weights
(another config, seed or code) is refused naming the difference; a checkpoint is never thrown
away unasked and never lands among the shipped weights."""

import json

import numpy as np
import pytest

import lrgym.baselines.train_controller as tc
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
        monkeypatch.setattr(tc, "_TASKS", {})  # no task built by the earlier part
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


def test_the_command_resumes_to_the_same_weights_and_removes_its_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    assert _run(tmp_path) == 0
    whole = np.load(tmp_path / "c.npz")["theta"].tobytes()
    history = [h["holdout"] for h in json.loads((tmp_path / "c.json").read_text())["history"]]
    assert not (tmp_path / "c.checkpoint.npz").exists()  # a whole run leaves none
    (tmp_path / "c.npz").unlink()
    assert _run(tmp_path, "--stop-after", "2") == 0
    out = capsys.readouterr().out
    assert "stopped after generation 2 of 5" in out and "--out " + str(tmp_path / "c.npz") + " --resume" in out
    assert (tmp_path / "c.checkpoint.npz").exists() and not (tmp_path / "c.npz").exists()
    monkeypatch.setattr(tc, "_TASKS", {})
    assert _run(tmp_path, "--resume") == 0
    assert np.load(tmp_path / "c.npz")["theta"].tobytes() == whole
    side = json.loads((tmp_path / "c.json").read_text())
    assert [h["holdout"] for h in side["history"]] == history and side["resumed_after"] == 2
    assert not (tmp_path / "c.checkpoint.npz").exists()


@pytest.mark.parametrize("args, config, said", [
    (["--resume"], {**TINY, "sigma": 0.05}, "the config's sigma is 0.05, the checkpoint's run had 0.04"),
    (["--resume", "--generations", "6"], TINY, "the config's generations is 6, the checkpoint's run had 5"),
    (["--resume", "--seed", "4"], TINY, "--seed is 4, the checkpoint's run had 3"),
    ([], TINY, "an interrupted run left its checkpoint"),  # not thrown away unasked
])
def test_a_resume_that_would_train_other_weights_is_refused_naming_the_difference(tmp_path, monkeypatch, capsys,
                                                                                   args, config, said):
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    assert _run(tmp_path, "--stop-after", "1") == 0
    before = (tmp_path / "c.checkpoint.npz").read_bytes()
    with pytest.raises(SystemExit) as exc:
        _run(tmp_path, *args, config=config)  # (a later --seed wins over _run's)
    assert exc.value.code == 2 and said in capsys.readouterr().err
    assert (tmp_path / "c.checkpoint.npz").read_bytes() == before and not (tmp_path / "c.npz").exists()


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
