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
