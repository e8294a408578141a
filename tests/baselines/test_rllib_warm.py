"""What ``train_rllib``'s ``.json`` history says of an iteration's time: its own wall time, and
RLlib's timers named as what they are. ``sample_s`` / ``learn_s`` were RLlib's moving averages,
which a resume restores: a resumed run said 5.15 s of sampling for iterations of ~100 s (an
RLlib user's audit).
"""

from __future__ import annotations

import json
import os
import time
import types

import pytest


class _Algo:
    """RLlib's algorithm stood in for: each iteration takes ``seconds`` and reports RLlib's timers
    as a resumed run restores them (moving averages of the earlier iterations)."""

    def __init__(self, seconds: float, built: list):
        self.seconds, self.steps = seconds, 0
        built.append("algorithm")

    def train(self):
        time.sleep(self.seconds)
        self.steps += 64
        return {"env_runners": {"num_env_steps_sampled_lifetime": self.steps},
                "timers": {"env_runner_sampling_timer": 0.0515, "learner_update_timer": 0.0012}}

    def save_to_path(self, path):
        os.makedirs(path, exist_ok=True)

    def get_module(self):
        return None

    def stop(self):
        pass

    class env_runner_group:
        @staticmethod
        def foreach_env_runner(func, local_env_runner=True):
            return []


class _Exported:
    def to_bytes(self):
        return b"x"

    def submission_source(self):
        return "# x\n"


def _stand_ins(monkeypatch, built: list, seconds: float = 0.0):
    pytest.importorskip("ray.rllib")
    from lrgym.baselines import backend, train_rllib

    fake_ray = types.SimpleNamespace(__version__="test", cluster_resources=lambda: {"CPU": 4.0})
    monkeypatch.setattr(backend, "connect", lambda address=None, verbose=False: fake_ray)
    monkeypatch.setattr(train_rllib, "algo_config", lambda config: types.SimpleNamespace(
        build_algo=lambda: _Algo(seconds, built)))
    monkeypatch.setattr(train_rllib, "export_policy", lambda *args: _Exported())
    return train_rllib


def test_the_history_records_each_iterations_own_time_and_names_rllibs_timers(tmp_path, monkeypatch):
    """``iteration_s`` is this run's wall time of each iteration; RLlib's timers (moving averages
    a resume restores: 0.0515 s here for iterations of 0.2 s) are recorded under names that say
    so, not as ``sample_s`` / ``learn_s``."""
    built: list = []
    train_rllib = _stand_ins(monkeypatch, built, seconds=0.2)
    config = train_rllib.RLlibConfig(total_timesteps=128, env_runners=0, family="quadratic",
                                     out=str(tmp_path / "run"), progress=False)
    train_rllib.train(config, log=lambda m: None, wrote=lambda m: None)
    history = json.loads((tmp_path / "run.json").read_text())["history"]
    assert [h["iteration"] for h in history] == [1, 2]
    for h in history:
        assert 0.2 <= h["iteration_s"] < 5.0
        assert (h["rllib_sample_ema_s"], h["rllib_learn_ema_s"]) == (0.0515, 0.0012)
        assert "sample_s" not in h and "learn_s" not in h
