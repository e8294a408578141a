"""A trained policy graded at other settings than it learned: ``submit`` says so before grading.

A policy trained with its own ``lr_min`` / ``lr_max``, ``cap_factor``, ``horizon`` or
``inner_steps`` is graded at the suite's (every entry is): its ``log_lr`` actions then set LRs of
the suite's range, which it never learned, and its progress feature runs at another pace. The
train_sb3 sidecar and the exported RLlib policy recorded the settings (``trained_on``) but nothing
read them, so the board was silently unfair to the submitter. ``submit`` now compares them with its
suite's, family by family (:func:`lrgym.leaderboard.trained_apart.settings_apart`), and prints a note
naming each setting, the value it trained at and the suite's; the entry is graded as before."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lrgym.baselines.mlp_policy import MLPPolicy
from lrgym.env import LRControlEnv
from lrgym.leaderboard.runner import checked_submission, submission_spec
from lrgym.leaderboard.trained_apart import TRAINED_SETTINGS, settings_apart, unread_settings
from lrgym.leaderboard.submission_files import declared_trained_on
from lrgym.leaderboard.suite import get_suite

WEIGHTS = Path(__file__).resolve().parents[2] / "baselines" / "weights"


def _reference_apart(trained_on: dict, suite) -> dict:
    """The slow obvious way: build the env the policy trained in and the suite's env of each
    family, and compare what they run at."""
    apart: dict = {}
    for family in suite.family_names:
        given = {k: trained_on[k] for k in (*TRAINED_SETTINGS, "lr_init") if k in trained_on}
        mine = LRControlEnv(family=family, **given)
        theirs = LRControlEnv(**suite.env_kwargs(family))
        for key in TRAINED_SETTINGS:
            if getattr(mine, key) != getattr(theirs, key):
                apart.setdefault(key, (getattr(mine, key), {}))[1][family] = getattr(theirs, key)
        mine.close()
        theirs.close()
    return apart


@pytest.mark.parametrize("trained_on", [
    {},  # the env's defaults
    {"family": "linreg", "lr_max": 1.0, "horizon": 20},
    {"family": "mixed", "lr_min": 1e-4, "lr_max": 10.0, "cap_factor": 100.0, "inner_steps": 5, "reward": "sign_delta"},
    {"horizon": 12, "inner_steps": 5, "optimizer": "adam", "lr_init": 0.01},
])
@pytest.mark.parametrize("suite", ["v2", "quick"])
def test_the_settings_apart_are_those_the_envs_run_at(trained_on, suite):
    suite = get_suite(suite)
    assert settings_apart(trained_on, suite) == _reference_apart(trained_on, suite)


def test_a_record_that_is_no_settings_is_compared_with_nothing():
    suite = get_suite("v2")
    assert settings_apart(["lr_max", 1.0], suite) == {}
    assert settings_apart({"lr_max": "ten"}, suite) == {}


def test_a_setting_the_env_refuses_is_left_out_and_said_the_others_compared(tmp_path):
    """One bad value of a TRAINED_ON line hid the whole claim: {"lr_max": 1, "horizon": 12.5} got no
    note and no mark. The value the env refuses is named to the submitter (with what is valid), the
    others are compared as without it; hostile values are quoted briefly."""
    suite = get_suite("v2")
    path = _exported(tmp_path, {"lr_max": 1, "horizon": 12.5})
    spec, notes = checked_submission(submission_spec(f"{path}:RLlibPolicy", "mine"), suite)
    [unread, apart] = notes
    assert "mine.py (its TRAINED_ON): the settings it records training at could not all be read: " in unread
    assert "horizon=12.5 is not an integer; valid: a positive integer" in unread and "lr_max" not in unread
    assert "lr_max trained at 1.0, graded at 10.0" in apart and "horizon" not in apart
    assert settings_apart(spec.trained_on, suite) == _reference_apart({"lr_max": 1}, suite)
    # a range below the optimizer's default start LR is a valid claim (it was refused whole)
    low = {"lr_min": 1e-7, "lr_max": 1e-5}
    assert settings_apart(low, suite) == _reference_apart({**low, "lr_init": 1e-7}, suite) != {}
    assert unread_settings(low, suite) == []
    hostile = {"lr_min": "x" * 4000, "cap_factor": {"a": [[1]] * 10_000}, "horizon": float("nan"),
               "inner_steps": 10**5000, "lr_max": 1.0}
    reasons = unread_settings(hostile, suite)
    assert [r.split("=")[0] for r in reasons] == ["lr_min", "cap_factor", "horizon", "inner_steps"]
    assert "<an integer of 16,610 bits>" in reasons[3] and all(len(r) < 200 for r in reasons)
    assert settings_apart(hostile, suite) == {}  # lr_max went with its lr_min: the range is one check
    assert unread_settings(["lr_max", 1.0], suite) == [
        "it is no mapping of settings (a list); valid: a dict such as {'lr_max': 1.0, 'horizon': 50}"]
    (tmp_path / "same").mkdir()
    same = _exported(tmp_path / "same", {"horizon": 50})
    assert checked_submission(submission_spec(f"{same}:RLlibPolicy", "mine"), suite)[1] == []


def _sb3_zip(folder: Path, trained_on: dict) -> Path:
    """The shipped PPO's weights with a train_sb3 sidecar recording ``trained_on``."""
    shutil.copy(WEIGHTS / "ppo_mixed.zip", folder / "model.zip")
    meta = json.loads((WEIGHTS / "ppo_mixed.json").read_text())
    meta["trained_on"] = {**meta["trained_on"], **trained_on}
    (folder / "model.json").write_text(json.dumps(meta))
    return folder / "model.zip"


def test_submit_notes_an_sb3_agent_trained_at_another_lr_range(tmp_path):
    spec = submission_spec(str(_sb3_zip(tmp_path, {"lr_max": 1.0})), "mine")
    [note] = checked_submission(spec, get_suite("v2"))[1]
    assert "model.zip (its sidecar's trained_on) was trained at other settings than suite v2/r3" in note
    assert "lr_max trained at 1.0, graded at 10.0" in note and "its actions set and clip LRs in the suite's LR range" in note
    # on the quick suite its horizon and inner steps are apart too, named with each value
    [note] = checked_submission(spec, get_suite("quick"))[1]
    assert "horizon trained at 50, graded at 12; inner_steps trained at 10, graded at 5" in note
    assert checked_submission(submission_spec(str(_sb3_zip(tmp_path, {})), "mine"), get_suite("v2"))[1] == []


def _exported(folder: Path, trained_on: dict) -> Path:
    """An exported RLlib policy's submission file (a stand-in network; its meta as rllib_export writes it)."""
    layer = (np.zeros((12, 2)), np.zeros(2), "linear")
    meta = {"action_mode": "log_lr", "obs_clip": None, "choices": {"action_mode": "log_lr"}, "trained_on": trained_on}
    path = folder / "mine.py"
    path.write_text(MLPPolicy([layer], "mine", meta).submission_source())
    return path


def test_submit_notes_an_exported_rllib_policy_trained_at_other_settings(tmp_path):
    trained_on = {"family": "quadratic", "action_mode": "log_lr", "lr_min": 1e-4, "lr_max": 1.0, "horizon": 8}
    path = _exported(tmp_path, trained_on)
    assert declared_trained_on(path.read_bytes()) == trained_on  # read without running the file
    [note] = checked_submission(submission_spec(f"{path}:RLlibPolicy", "mine"), get_suite("v2"))[1]
    assert ("mine.py (its TRAINED_ON) was trained at other settings than suite v2/r3 grades every entry at "
            "(lr_min trained at 0.0001, graded at 1e-06; lr_max trained at 1.0, graded at 10.0; horizon trained at "
            "8, graded at 50)") in note
    (tmp_path / "mine.py").unlink()
    same = _exported(tmp_path, {"family": "quadratic", "action_mode": "log_lr", "horizon": 12, "inner_steps": 5})
    assert checked_submission(submission_spec(f"{same}:RLlibPolicy", "mine"), get_suite("quick"))[1] == []


def test_a_trained_on_line_is_read_never_run(tmp_path):
    marker = tmp_path / "ran"
    source = f"TRAINED_ON = __import__('pathlib').Path({str(marker)!r}).touch()\n".encode()
    assert declared_trained_on(source) is None and not marker.exists()
    assert declared_trained_on(b"TRAINED_ON = " + b"[" * 100_000 + b"\n") is None  # built to exhaust the parser
    assert declared_trained_on(b"TRAINED_ON = ['lr_max', 1.0]\n") is None
    assert declared_trained_on(b"x = 1\n" * 10_000 + b"TRAINED_ON = {'lr_max': 1.0}\n") is None  # past the scanned head


def test_submit_notes_a_controller_trained_at_another_horizon(tmp_path):
    """train_controller's submission file records its config's env_options (it acts in LR units
    through the episode's LR range, but its progress input runs at the horizon's pace)."""
    from lrgym.baselines.controller import submission_source

    weights = (WEIGHTS / "controller_mixed.npz").read_bytes()
    path = tmp_path / "controller_mixed.py"
    path.write_text(submission_source(weights, "mine", trained_on={"horizon": 100, "family_options": {"dim": (8,)}}))
    assert declared_trained_on(path.read_bytes()) == {"horizon": 100, "family_options": {"dim": [8]}}
    [note] = checked_submission(submission_spec(f"{path}:TrainedController", "mine"), get_suite("v2"))[1]
    assert "(horizon trained at 100, graded at 50): it is graded at the suite's (its progress feature" in note
    path.write_text(submission_source(weights, "mine"))  # without a record: nothing to compare, no note
    assert declared_trained_on(path.read_bytes()) is None
    assert checked_submission(submission_spec(f"{path}:TrainedController", "mine"), get_suite("v2"))[1] == []
