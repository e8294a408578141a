"""How the grader reads an SB3 zip's sidecar (an audit, 2026-12): the sidecar's env options are
graded (they were dropped: SGD and the default start LR); a redundant ``--algo`` changes nothing
(it made the grader ignore the sidecar: no obs clipping, no trained factors) and a contradicting
one is refused before anything runs; a user's own ``<stem>.json`` beside a plain zip is no sidecar
(it failed the entry with ``KeyError: 'algo'``); a ``--algo`` or ``--env-options`` contradicting
what the zip says is refused up front (it was a stored failed entry)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from lb_helpers import tiny_suite

from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec

pytestmark = [pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")]

WEIGHTS = Path(__file__).resolve().parents[2] / "baselines" / "weights"
CHOICES = {"optimizer": "adam", "action_mode": "discrete", "lr_init": 0.001, "rejection_threshold": 0.04,
           "factors": [0.25, 0.5, 1, 2, 4]}


@pytest.fixture(scope="module")
def suite_refs():
    suite = tiny_suite("sb3-sidecar", families=("quadratic",), n_instances=1, seeds=(0,), horizon=3, inner_steps=2)
    return suite, load_references(suite, n_workers=1)


def dqn_with_sidecar(folder: Path, options: dict) -> Path:
    """The shipped DQN's weights with a train_sb3 sidecar (current format) of ``options``."""
    from lrgym.baselines.sb3_agents import SIDECAR_MARK

    shutil.copy(WEIGHTS / "dqn_mixed.zip", folder / "model.zip")
    meta = json.loads((WEIGHTS / "dqn_mixed.json").read_text())
    meta.update({SIDECAR_MARK: 2, "env_options": options})
    (folder / "model.json").write_text(json.dumps(meta))
    return folder / "model.zip"


def graded_env(spec, suite_refs) -> dict:
    suite, refs = suite_refs
    [outcome] = run_suite([spec], suite, references=refs, n_workers=1, time_limit=300)
    assert outcome.ok, outcome.entry.failure_reason
    return outcome.entry.env_spec["env_kwargs"]["quadratic"]


def test_the_env_options_an_agent_was_trained_with_are_graded(tmp_path, suite_refs):
    pytest.importorskip("stable_baselines3")
    from lrgym.baselines.train_sb3 import TrainConfig, train

    trained = {k: v for k, v in CHOICES.items() if k != "action_mode"}
    train(TrainConfig(algo="dqn", family="quadratic", env_kwargs={"horizon": 5, **trained}, total_timesteps=60,
                      algo_kwargs={"learning_starts": 50}, progress=False, out=str(tmp_path / "m"), net_arch=(8,)))
    env = graded_env(submission_spec(str(tmp_path / "m.zip"), name="trained-choices"), suite_refs)
    assert {k: env.get(k) for k in CHOICES} == CHOICES


def test_a_sidecars_env_options_are_graded(tmp_path, suite_refs):
    pytest.importorskip("stable_baselines3")
    path = dqn_with_sidecar(tmp_path, CHOICES)
    env = graded_env(submission_spec(str(path), name="sidecar-choices"), suite_refs)
    assert {k: env.get(k) for k in CHOICES} == CHOICES


# ---- the command line: what the zip's files say is checked before anything runs ---------------

typer_testing = pytest.importorskip("typer.testing")


class _Ran(Exception):
    pass


@pytest.fixture
def nothing_runs(monkeypatch):
    """The CLI's run replaced by a tripwire: a refused submission never reaches it."""
    from lrgym.leaderboard import cli

    def tripwire(specs, *args, **kw):
        raise _Ran

    monkeypatch.setattr(cli, "_run", tripwire)


def submit(*args):
    from lrgym.leaderboard.cli import app

    result = typer_testing.CliRunner().invoke(app, ["leaderboard", "submit", *map(str, args), "--suite", "quick",
                                                    "--db", "r.sqlite"], env={"COLUMNS": "400"})
    return result.exit_code, " ".join(result.output.replace("│", " ").split()), result.exception


def test_a_matching_algo_flag_grades_the_sidecar_as_without_it(tmp_path, suite_refs):
    """The audit's zip scored 0.084 without --algo and 0.214 with --algo dqn (its factors and
    the ±10 obs clipping dropped): now the two are the same runs."""
    pytest.importorskip("stable_baselines3")
    path = dqn_with_sidecar(tmp_path, {"optimizer": "sgd", "action_mode": "discrete", "factors": [0.25, 0.5, 1, 2, 4]})
    suite, refs = suite_refs
    plain, flagged = run_suite([submission_spec(str(path), name="no-flag"),
                                submission_spec(str(path), name="algo-flag", algo="DQN")],
                               suite, references=refs, n_workers=1, time_limit=300)
    assert plain.ok and flagged.ok, (plain.entry.failure_reason, flagged.entry.failure_reason)
    for outcome in (plain, flagged):
        assert outcome.entry.env_spec["env_kwargs"]["quadratic"]["factors"] == [0.25, 0.5, 1, 2, 4]

    def runs(outcome):
        return {(r.family, r.instance, r.seed): (r.score, r.curves["lr"]) for r in outcome.runs}

    assert runs(plain) == runs(flagged)


def test_an_algo_flag_contradicting_the_sidecar_is_refused_up_front(tmp_path, nothing_runs, monkeypatch):
    path = dqn_with_sidecar(tmp_path, {"optimizer": "sgd", "action_mode": "discrete"})
    monkeypatch.chdir(tmp_path)
    code, out, exc = submit(path, "--algo", "ppo")
    assert code == 2 and not isinstance(exc, _Ran), out
    assert "--algo 'ppo' contradicts model.json, the train_sb3 sidecar of model.zip, which says 'dqn'" in out
    assert not (tmp_path / "r.sqlite").exists()


def plain_zip(folder: Path) -> Path:
    """A zip saved by SB3's ``model.save`` alone (the shipped DQN's, without its sidecar)."""
    shutil.copy(WEIGHTS / "dqn_mixed.zip", folder / "model.zip")
    return folder / "model.zip"


def test_a_users_own_json_beside_a_plain_zip_is_ignored(tmp_path, suite_refs):
    """It was taken for the sidecar: the entry failed with KeyError: 'algo'. Now the zip is graded
    as the same zip without the json."""
    pytest.importorskip("stable_baselines3")
    suite, refs = suite_refs
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with_notes, alone = plain_zip(tmp_path / "a"), plain_zip(tmp_path / "b")
    (tmp_path / "a" / "model.json").write_text(json.dumps({"notes": "my run, lr 1e-4"}))
    noted, plain = run_suite([submission_spec(str(with_notes), name="with-notes"),
                              submission_spec(str(alone), name="alone")],
                             suite, references=refs, n_workers=1, time_limit=300)
    assert noted.ok and plain.ok, (noted.entry.failure_reason, plain.entry.failure_reason)
    assert ({(r.instance, r.seed): (r.score, r.curves["lr"]) for r in noted.runs}
            == {(r.instance, r.seed): (r.score, r.curves["lr"]) for r in plain.runs})


@pytest.mark.parametrize("text", ['{"notes": "mine"}', "[1, 2]", "not json", '{"algo": "dqn"}'])
def test_the_command_line_says_a_json_that_is_no_sidecar_is_ignored(tmp_path, nothing_runs, monkeypatch, text):
    path = plain_zip(tmp_path)
    (tmp_path / "model.json").write_text(text)
    monkeypatch.chdir(tmp_path)
    code, out, exc = submit(path, "--name", "mine")
    assert isinstance(exc, _Ran), out  # not refused: it goes on to run
    assert "note: model.json beside model.zip is not a train_sb3 sidecar" in out
    assert "ignored: model.zip is graded as a plain SB3 zip" in out


def test_make_baseline_loads_a_plain_zip_as_the_grader_does(tmp_path):
    pytest.importorskip("stable_baselines3")
    from lrgym.baselines.registry import make_baseline
    from lrgym.baselines.sb3_agents import load_meta
    from lrgym.policy import policy_env_kwargs

    path = plain_zip(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no sidecar .*model.json beside .*model.zip .*zip_meta\(path\)"):
        load_meta(path)
    policy = make_baseline("dqn", path=path)  # was FileNotFoundError: model.json
    assert (policy.algo, policy.clip, policy.sidecar) == ("dqn", False, False)
    assert policy_env_kwargs(policy) == {"optimizer": "sgd", "action_mode": "discrete"}
    (tmp_path / "model.json").write_text(json.dumps({"notes": "mine"}))
    with pytest.warns(UserWarning, match=r"model.json is not a train_sb3 sidecar.*ignored"):
        noted = make_baseline("dqn", path=path)  # was KeyError: 'algo'
    assert (noted.clip, noted.sidecar) == (False, False)
    (tmp_path / "model.json").unlink()
    with pytest.raises(ValueError, match=r"model.zip holds a DQN agent \(its zip says so\), not PPO"):
        make_baseline("ppo", path=path)
