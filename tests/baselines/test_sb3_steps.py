"""train_sb3's ``--steps`` against the env steps SB3 trains: its ``learn`` collects whole rollouts
(PPO: ``n_steps`` x ``n_envs``; DQN: ``train_freq`` x ``n_envs``) until ``total_timesteps`` is
reached, so it trains up to a rollout more. The run said nothing of it and recorded only the
request; it now says so on stderr before training and records the steps trained (the sidecar's
``env_steps``), counted here by the envs themselves."""

import json

import gymnasium as gym
import pytest

pytest.importorskip("stable_baselines3")

from lrgym.baselines import train_sb3  # noqa: E402
from lrgym.baselines.train_sb3 import TrainConfig, train  # noqa: E402

SMALL = {"horizon": 10, "inner_steps": 2}


class CountSteps(gym.Wrapper):
    steps = 0

    def step(self, action):
        CountSteps.steps += 1
        return self.env.step(action)


@pytest.mark.parametrize("algo, steps, n_envs, extra, chunk, trained", [
    ("ppo", 100, 2, {"n_steps": 32, "batch_size": 32, "n_epochs": 1}, 64, 128),  # 2 rollouts of 32 x 2
    ("dqn", 50, 3, {"learning_starts": 10, "buffer_size": 200, "train_freq": 4}, 12, 60),  # 5 collections of 4 x 3
    ("ppo", 128, 2, {"n_steps": 32, "batch_size": 32, "n_epochs": 1}, 64, 128),  # a whole multiple: nothing to say
])
def test_the_steps_trained_are_said_and_recorded(tmp_path, monkeypatch, capsys, algo, steps, n_envs, extra, chunk,
                                                 trained):
    made = train_sb3.make_train_env
    monkeypatch.setattr(train_sb3, "make_train_env", lambda config, rank=0: CountSteps(made(config, rank)))
    monkeypatch.setattr(CountSteps, "steps", 0)
    config = TrainConfig(algo=algo, family="quadratic", env_kwargs=SMALL, total_timesteps=steps, n_envs=n_envs,
                         algo_kwargs=extra, progress=False, out=str(tmp_path / algo), net_arch=(8,))
    train(config)
    assert CountSteps.steps == trained  # the envs' own count
    meta = json.loads((tmp_path / f"{algo}.json").read_text())
    assert meta["env_steps"] == trained and meta["config"]["total_timesteps"] == steps
    out, err = capsys.readouterr()
    assert out == ""
    if trained == steps:
        assert "rounded" not in err
    else:
        said = " ".join(err.split())
        assert f"--steps {steps} rounded up to {trained} env steps" in said, said
        assert f"x n_envs {n_envs} = {chunk} env steps" in said and f"--steps {trained} or {trained - chunk} trains exactly that" in said
