"""A resumed ``train_rllib`` run samples with fresh randomness, on a real RLlib build.

RLlib's checkpoint holds no random generator's state, and RLlib seeds Python's, NumPy's and
torch's generators from its config's seed at every build: a resumed run built with the run's
``--seed`` again sampled its actions and shuffled PPO's minibatches exactly as the run's first
iteration had (a demanding user's audit, 2026-12-06). A resumed run is now built with a seed
drawn from ``(seed, checkpoint steps)`` (``train_rllib.rllib_seed``).

A Ray instance of this test's own on this machine (``backend.connect(None)``), ended at the end;
the local env runner samples (no env runner actors); learning rate 0, so the resumed module has
the new run's weights and the actions it samples on the same observations differ by the
generator's stream alone. Each build is stopped where the runners are first seen
(``check_env_runner_nodes``, before any sample of train_rllib's) after what it sampled is read.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("ray.rllib")

from lrgym.baselines import train_rllib  # noqa: E402
from lrgym.baselines.node_check import NodeMismatch  # noqa: E402

#: a fixed batch of observations (within the ±10 the runners clip to) the module samples actions for
OBS = np.random.default_rng(7).normal(0.0, 3.0, size=(64, 12)).astype(np.float32)


def _first_draws(algo) -> dict:
    """What the build's first samples are, read in the sampling process (the driver: the local env
    runner samples): the exploration actions the module draws for :data:`OBS`, an env runner
    sample's actions, and the next draws of torch's, NumPy's and Python's global generators."""
    import torch

    module = algo.env_runner.module
    with torch.no_grad():
        logits = module.forward_exploration({"obs": torch.from_numpy(OBS)})["action_dist_inputs"]
    dist = module.get_exploration_action_dist_cls().from_logits(logits)
    actions = dist.sample().numpy().tolist()
    episodes = algo.env_runner.sample(num_timesteps=16, random_actions=False)
    sampled = [int(a) for e in episodes for a in e.get_actions()]
    return {"seed": algo.config.seed, "actions": actions, "sampled": sampled,
            "streams": (torch.rand(4).tolist(), np.random.random(4).tolist(), random.random())}


@pytest.fixture(scope="module")
def ray_instance():
    from lrgym.baselines.backend import connect

    ray = connect(None)  # a Ray instance of this test's own, on this machine; ended below (never `ray stop`)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_a_resumed_run_samples_fresh_streams_and_the_same_ones_when_resumed_again(ray_instance, tmp_path,
                                                                                    monkeypatch):
    seen = []

    def first_seen(algo):
        seen.append(_first_draws(algo))
        raise NodeMismatch("stopped where the runners are first seen")

    out = str(tmp_path / "ppo")
    common = dict(algo="ppo", env_runners=0, envs_per_runner=2, train_batch_size=32, seed=4,
                  env_kwargs={"horizon": 4, "instances": [0]}, algo_kwargs={"lr": 0.0}, out=out, progress=False)
    monkeypatch.setattr(train_rllib, "check_env_runner_nodes", first_seen)
    with pytest.raises(NodeMismatch):  # the new run's first draws
        train_rllib.train(train_rllib.RLlibConfig(total_timesteps=32, **common), log=lambda _: None)
    monkeypatch.setattr(train_rllib, "check_env_runner_nodes", lambda algo: None)
    train_rllib.train(train_rllib.RLlibConfig(total_timesteps=32, **common), log=lambda _: None,
                      wrote=lambda _: None)  # the run itself, to its checkpoint
    steps = train_rllib.checkpoint_steps(tmp_path / "ppo.ckpt")
    assert steps and steps >= 32
    monkeypatch.setattr(train_rllib, "check_env_runner_nodes", first_seen)
    resume = {k: v for k, v in common.items() if k != "algo_kwargs"}  # (the checkpoint's; refused if given)
    for _ in range(2):
        with pytest.raises(NodeMismatch):
            train_rllib.train(train_rllib.RLlibConfig(total_timesteps=64, resume=str(tmp_path / "ppo.ckpt"), **resume),
                              log=lambda _: None)
    fresh, resumed, again = seen
    # same weights (lr 0), same observations: the actions differ by the generator's stream alone
    assert resumed["actions"] != fresh["actions"]
    assert all(r != f for r, f in zip(resumed["streams"], fresh["streams"]))
    # the same checkpoint resumed again: the same build, to the draw
    assert again == resumed
    assert fresh["seed"] == 4 and resumed["seed"] == train_rllib.rllib_seed(4, steps) != 4
