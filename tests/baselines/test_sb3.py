"""SB3 agents: CI-sized DQN and PPO smoke tests (train, save, reload, evaluate) and the slow
learning test on the 100×-too-small-LR quadratic."""

import json

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from lrgym.baselines.evaluation import evaluate
from lrgym.baselines.sb3_agents import OBS_CLIP, SB3Policy
from lrgym.baselines.train_sb3 import TrainConfig, parse_config, train
from learning_setup import HELD_OUT, KeepLR, env_kwargs, mean_final_log_loss

SMALL = {"horizon": 10, "inner_steps": 2}


@pytest.mark.parametrize("algo, extra", [
    ("dqn", {"learning_starts": 50, "buffer_size": 500}),
    ("ppo", {"n_steps": 64, "batch_size": 32, "n_epochs": 2}),
])
def test_smoke_train_save_load_evaluate(tmp_path, algo, extra):
    config = TrainConfig(algo=algo, family="quadratic", env_kwargs=SMALL, total_timesteps=300,
                         algo_kwargs=extra, progress=False, out=str(tmp_path / algo), net_arch=(16,))
    policy = train(config)
    assert (tmp_path / f"{algo}.zip").exists()
    meta = json.loads((tmp_path / f"{algo}.json").read_text())
    assert meta["algo"] == algo and meta["trained_on"]["instance_set"] == "train"
    reloaded = SB3Policy(tmp_path / f"{algo}.zip")
    assert reloaded.action_mode == ("discrete" if algo == "dqn" else "log_lr")
    trajs = evaluate(reloaded, {"family": "quadratic", **SMALL}, instance_set="val", instances=[10_000, 10_001])
    assert all(len(t.lrs) == 10 or t.diverged for t in trajs)
    # deterministic: the same actions from the in-memory and the reloaded policy
    obs = np.linspace(-2 * OBS_CLIP, 2 * OBS_CLIP, 12).astype(np.float32)
    policy.reset({})
    reloaded.reset({})
    np.testing.assert_array_equal(policy.act(obs, {}), reloaded.act(obs, {}))


def test_sign_delta_reward_is_selectable(tmp_path):
    config = TrainConfig(algo="dqn", family="linreg", env_kwargs=SMALL, reward="sign_delta", total_timesteps=100,
                         algo_kwargs={"learning_starts": 50}, progress=False, out=str(tmp_path / "d"))
    assert config.full_env_kwargs()["reward"] == "sign_delta"
    train(config)
    assert json.loads((tmp_path / "d.json").read_text())["trained_on"]["reward"] == "sign_delta"


def test_cli_config(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"algo": "ppo", "total_timesteps": 123, "net_arch": [8, 8]}))
    config = parse_config(["--config", str(cfg), "--seed", "3"])
    assert (config.algo, config.total_timesteps, config.net_arch, config.seed) == ("ppo", 123, (8, 8), 3)
    with pytest.raises(SystemExit):
        parse_config(["--algo", "a2c"])


@pytest.mark.slow
def test_dqn_learns_to_raise_a_too_small_lr(tmp_path):
    kwargs = env_kwargs()
    keep = evaluate(KeepLR(), kwargs, instance_set="val", instances=HELD_OUT)
    config = TrainConfig(algo="dqn", family="quadratic", env_kwargs=kwargs, total_timesteps=15_000, progress=False,
                         out=str(tmp_path / "dqn"), algo_kwargs={"exploration_fraction": 0.5})
    agent = train(config)
    trained = evaluate(agent, kwargs, instance_set="val", instances=HELD_OUT)
    assert not any(t.diverged for t in trained)
    assert mean_final_log_loss(trained) < mean_final_log_loss(keep) - 2.0
    assert np.median([t.lrs[-1] for t in trained]) > 10 * kwargs["lr_init"]


def test_cli_reward_clip_flags():
    assert parse_config([]).reward_clip == (-10.0, 1.0)
    assert parse_config(["--no-reward-clip", "--reward", "sign_delta"]).reward_clip is None
    assert parse_config(["--reward-clip", "-5", "2"]).reward_clip == (-5.0, 2.0)


def test_training_leaves_no_folder_in_the_temp_folder(tmp_path, monkeypatch):
    """Without ``--tensorboard``, SB3's default logger made an empty ``/tmp/SB3-<date-time>``
    folder in every run: the trainer writes where its docs say (the weights and the sidecar)."""
    import tempfile

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    config = TrainConfig(algo="dqn", family="quadratic", env_kwargs=SMALL, total_timesteps=100,
                         algo_kwargs={"learning_starts": 50}, progress=False, out=str(tmp_path / "d"), net_arch=(8,))
    train(config)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "d.zip", "tmp"]
    assert [p.name for p in temp.iterdir() if p.name.startswith("SB3-")] == []


def _sb3_table(out: str) -> list[tuple[str, str]]:
    """(key, value) rows of SB3's progress tables in ``out``, the clock's (``fps``,
    ``time_elapsed``) without their values."""
    rows = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2:
            rows.append((cells[0], "" if cells[0] in ("fps", "time_elapsed") else cells[1]))
    return rows


@pytest.mark.parametrize("verbose", [0, 1])
def test_the_logger_without_folder_prints_what_sb3s_own_prints_and_makes_no_folder(tmp_path, monkeypatch, capsys,
                                                                                  verbose):
    """:func:`logger_without_folder` is SB3's own logger (what ``learn`` makes without
    ``tensorboard_log``: the reference, its folder put in ``$SB3_LOGDIR``) less the folder: at
    ``verbose=1`` the same progress tables on stdout, row for row (the same seed: the same losses;
    the clock's values aside), at 0 nothing; and nothing in the temp folder, where SB3's made
    ``SB3-<date-time>``."""
    import tempfile

    from stable_baselines3 import PPO

    from lrgym.baselines.train_sb3 import logger_without_folder
    from lrgym.sb3 import make_sb3_vec_env

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))

    def learn(ours: bool) -> str:
        venv = make_sb3_vec_env("LRControl-Quadratic-v1", n_envs=2, seed=0, **SMALL)
        model = PPO("MlpPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, seed=0, verbose=verbose, device="cpu")
        if ours:
            model.set_logger(logger_without_folder(verbose))
        capsys.readouterr()
        model.learn(64)
        return capsys.readouterr().out

    monkeypatch.setenv("SB3_LOGDIR", str(tmp_path / "own"))
    own = learn(ours=False)
    monkeypatch.delenv("SB3_LOGDIR")
    ours = learn(ours=True)
    assert (tmp_path / "own").is_dir()  # SB3's own logger made its folder (there: $SB3_LOGDIR)
    assert [p.name for p in temp.iterdir() if p.name.startswith("SB3-")] == []  # (torch's torchinductor_<user> cache may be there)
    assert _sb3_table(ours) == _sb3_table(own)
    if verbose:
        assert ("total_timesteps", "64") in _sb3_table(ours) and ("n_updates", "1") in _sb3_table(ours)
    else:
        assert ours == own == ""
