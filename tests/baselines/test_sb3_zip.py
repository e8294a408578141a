"""The algorithm of any Stable-Baselines3 zip is read from the file (no ``--algo`` needed).

Each model is built untrained (no learning: only what ``model.save`` writes matters) and saved;
the answer must be the class that made it, for every algorithm SB3 ships.
"""

from __future__ import annotations

import zipfile

import pytest

sb3 = pytest.importorskip("stable_baselines3")

from lrgym.baselines.sb3_agents import SB3_ALGOS, algo_of_zip  # noqa: E402
from lrgym.env import LRControlEnv  # noqa: E402

OFF_POLICY = {"dqn", "sac", "td3", "ddpg"}


def saved(algo: str, tmp_path, **kwargs) -> str:
    mode = "discrete" if algo == "dqn" else "log_lr"
    env = LRControlEnv(family="quadratic", action_mode=mode)
    extra = {"buffer_size": 64, "learning_starts": 0} if algo in OFF_POLICY else {}
    model = getattr(sb3, algo.upper())("MlpPolicy", env, device="cpu", seed=0,
                                       policy_kwargs={"net_arch": [8]}, **extra, **kwargs)
    path = tmp_path / f"{algo}_model.zip"
    model.save(path)
    return str(path)


def test_every_algorithm_sb3_ships_is_listed():
    shipped = {name.lower() for name in ("A2C", "DDPG", "DQN", "PPO", "SAC", "TD3") if hasattr(sb3, name)}
    assert set(SB3_ALGOS) == shipped


@pytest.mark.parametrize("algo", SB3_ALGOS)
def test_algorithm_read_from_the_zip(algo, tmp_path):
    assert algo_of_zip(saved(algo, tmp_path)) == algo


def test_ppo_and_a2c_with_both_action_modes(tmp_path):
    """PPO and A2C share their policy class; PPO on a discrete env is still PPO."""
    env = LRControlEnv(family="quadratic")  # discrete
    for cls in (sb3.PPO, sb3.A2C):
        path = tmp_path / f"{cls.__name__}.zip"
        cls("MlpPolicy", env, device="cpu", policy_kwargs={"net_arch": [8]}).save(path)
        assert algo_of_zip(path) == cls.__name__.lower()


def test_td3_configured_like_ddpg_loads_either_way(tmp_path):
    """TD3 with DDPG's settings reads as DDPG; the two classes load and act identically."""
    import numpy as np

    path = saved("td3", tmp_path, policy_delay=1, target_noise_clip=0.0)
    assert algo_of_zip(path) == "ddpg"
    obs = LRControlEnv(family="quadratic", action_mode="log_lr").reset(seed=0)[0]
    a = sb3.TD3.load(path, device="cpu").predict(obs, deterministic=True)[0]
    b = sb3.DDPG.load(path, device="cpu").predict(obs, deterministic=True)[0]
    np.testing.assert_array_equal(a, b)


def test_not_an_sb3_zip(tmp_path):
    junk = tmp_path / "junk.zip"
    with zipfile.ZipFile(junk, "w") as zf:
        zf.writestr("data", '{"policy_class": {"__module__": "my_rl_lib.policies"}}')
    with pytest.raises(ValueError, match=r"cannot tell the algorithm .*my_rl_lib.policies.*A2C, DDPG, DQN, PPO, SAC, TD3"):
        algo_of_zip(junk)
    text = tmp_path / "text.zip"
    text.write_text("not a zip")
    with pytest.raises(ValueError, match="is not a Stable-Baselines3 model zip"):
        algo_of_zip(text)
