"""train_sb3's sidecar carries every env option the agent chose in training (an audit, 2026-12: it
kept only ``factors``, so an agent trained with ``optimizer: adam, lr_init: 0.001`` was evaluated by
``make_baseline(..., path=...)`` and graded with SGD and the default start LR, silently); the
shipped sidecars, written before, still load into the same policies."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from lrgym.baselines.registry import make_baseline
from lrgym.baselines.sb3_agents import OBS_CLIP, SIDECAR_CHOICES, SB3Policy, is_sidecar
from lrgym.baselines.train_sb3 import TrainConfig, train
from lrgym.policy import policy_env_kwargs

WEIGHTS = Path(__file__).resolve().parents[2] / "baselines" / "weights"
SMALL = {"horizon": 10, "inner_steps": 2}
CHOICES = {"optimizer": "adam", "lr_init": 0.001, "rejection_threshold": 0.04, "factors": [0.25, 0.5, 1, 2, 4]}


def test_the_policy_choices_a_sidecar_records_are_env_keywords_a_suite_does_not_fix():
    """lrgym.settings.POLICY_CHOICES (the sidecar's, the grader's, an exported MLP's): keywords
    LRControlEnv takes, none of the settings a trained policy is compared by (the suite's)."""
    import inspect

    from lrgym.env import LRControlEnv
    from lrgym.leaderboard.trained_apart import TRAINED_SETTINGS

    keywords = set(inspect.signature(LRControlEnv.__init__).parameters)
    assert set(SIDECAR_CHOICES) <= keywords, set(SIDECAR_CHOICES) - keywords
    assert not set(SIDECAR_CHOICES) & set(TRAINED_SETTINGS)


def test_a_trained_agent_acts_with_the_env_options_it_was_trained_with(tmp_path):
    config = TrainConfig(algo="dqn", family="quadratic", env_kwargs={**SMALL, **CHOICES}, total_timesteps=100,
                         algo_kwargs={"learning_starts": 50}, progress=False, out=str(tmp_path / "m"), net_arch=(8,))
    trained = train(config)
    full = config.full_env_kwargs()  # the env it trained in
    expected = {k: tuple(full[k]) if k == "factors" else full[k] for k in SIDECAR_CHOICES if k in full}
    assert expected == {**CHOICES, "factors": (0.25, 0.5, 1, 2, 4), "action_mode": "discrete"}
    meta = json.loads((tmp_path / "m.json").read_text())
    assert is_sidecar(meta) and meta["trained_on"]["optimizer"] == "adam"
    for policy in (trained, SB3Policy(tmp_path / "m.zip"), make_baseline("dqn", path=tmp_path / "m.zip")):
        assert (policy.optimizer, policy.lr_init, policy.action_mode) == ("adam", 0.001, "discrete")
        assert policy.env_options == {"rejection_threshold": 0.04, "factors": (0.25, 0.5, 1, 2, 4)}
        assert policy_env_kwargs(policy) == expected


def test_an_agent_trained_with_the_defaults_records_sgd():
    from lrgym.baselines.train_sb3 import sidecar

    meta = sidecar(TrainConfig(algo="ppo", family="linreg", progress=False), {}, 1.0)
    assert meta["env_options"] == {"optimizer": "sgd", "action_mode": "log_lr"}
    from lrgym.baselines import train_sb3
    from lrgym.baselines.code_version import made_by

    assert {k: meta[k] for k in ("commit", "code")} == made_by(train_sb3.__file__)  # the code that trained it


def test_a_sidecar_written_before_the_mark_reads_its_choices_from_trained_on(tmp_path):
    """An unmarked sidecar (version 1) kept only factors in env_options: the other choices, under
    trained_on, are read from there (the audit's adam model acts with adam once reloaded)."""
    shutil.copy(WEIGHTS / "dqn_mixed.zip", tmp_path / "old.zip")
    meta = json.loads((WEIGHTS / "dqn_mixed.json").read_text())
    meta["trained_on"].update(optimizer="adam", lr_init=0.001, rejection_threshold=0.04, lr_max=1.0)
    meta["env_options"] = {"factors": [0.5, 1, 2]}
    (tmp_path / "old.json").write_text(json.dumps(meta))
    policy = make_baseline("dqn", path=tmp_path / "old.zip")
    assert policy_env_kwargs(policy) == {"optimizer": "adam", "action_mode": "discrete", "lr_init": 0.001,
                                         "rejection_threshold": 0.04, "factors": (0.5, 1, 2)}  # lr_max: the suite's


@pytest.mark.parametrize("algo", ["dqn", "ppo"])
def test_the_shipped_sidecars_load_into_the_same_policies(algo):
    """The shipped weights' sidecars (unmarked, empty env_options) give the env options the board
    ran them with, and the policy acts as the SB3 model's own predict of the clipped obs."""
    import stable_baselines3

    meta = json.loads((WEIGHTS / f"{algo}_mixed.json").read_text())
    assert is_sidecar(meta) and meta["env_options"] == {}
    policy = make_baseline(algo)
    mode = {"dqn": "discrete", "ppo": "log_lr"}[algo]
    assert policy_env_kwargs(policy) == {"optimizer": "sgd", "action_mode": mode}
    assert (policy.optimizer, policy.lr_init, policy.env_options, policy.clip) == ("sgd", None, {}, True)
    model = getattr(stable_baselines3, algo.upper()).load(WEIGHTS / f"{algo}_mixed.zip", device="cpu")
    rng = np.random.default_rng(0)
    policy.reset({})
    for _ in range(20):
        obs = (rng.standard_normal(12) * 3 * OBS_CLIP).astype(np.float32)
        want, _ = model.predict(np.clip(obs, -OBS_CLIP, OBS_CLIP), deterministic=True)
        got = policy.act(obs, {})
        np.testing.assert_array_equal(np.asarray(got).reshape(-1), np.asarray(want).reshape(-1))
