"""The benchmarks that train SB3 agents leave no folder in the temp folder: SB3's own logger (a
model without a logger of its caller's or ``tensorboard_log``) made an empty
``<tempdir>/SB3-<date-time>`` at every ``learn``, six per run of ``benchmarks.sb3_profile``."""

import tempfile

import pytest

pytest.importorskip("stable_baselines3")


def _sb3_folders(temp):
    return [p.name for p in temp.iterdir() if p.name.startswith("SB3-")]


@pytest.fixture
def temp(tmp_path, monkeypatch):
    """An empty temp folder, the process's (``tempfile.gettempdir()``) for the test, and no
    ``$SB3_LOGDIR`` (the test session's conftest sets one)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    return tmp_path


def test_the_sb3_profile_trains_without_a_folder(temp):
    from benchmarks.sb3_profile import profile

    row = profile("PPO", "lrgym", n_envs=2, steps=256)
    assert row["steps"] >= 256  # it trained: the env stepped that often
    assert _sb3_folders(temp) == []


def test_the_client_matrix_sb3_client_trains_without_a_folder(temp):
    from benchmarks.clients.matrix import client_sb3_batched

    row = client_sb3_batched(1)
    assert row["steps"] == 1024  # one rollout: n_steps 256 x 4 envs
    assert _sb3_folders(temp) == []
