"""README's RLlib evaluation recipe with ``instance_order="each_once"`` ("One evaluation runner of
one sub-env does take each instance once per round"), run as written: every evaluation round ends
one episode on each listed instance, in list order, and every round is the same episodes.

The reference is the list itself and the first round: the instance of every episode RLlib's
evaluation runner ended and its first loss (the reset's ``info["train_loss"]``, which the
instance's initial parameters fix, whatever the policy does: RLlib's evaluation samples its
actions, so the returns differ from round to round). Until stop 48 the recipe was checked by hand
only (a full training run took over a minute). The fast test builds the runner RLlib's local
evaluation samples with (``SingleAgentEnvRunner`` of the recipe's evaluation config, no Ray
started) and asks it for ``evaluation_duration`` episodes per round, as ``algo.evaluate()`` does;
the slow one (≈ 2 min under load: Ray's start) runs ``algo.evaluate()`` itself, twice, on the
fresh policy, on a local Ray instance of the test's own (``connect(None)``).
"""

from __future__ import annotations

import pytest

pytest.importorskip("ray.rllib")

LISTED = [3, 7, 11]
ENV_CONFIG = {"horizon": 4, "inner_steps": 2}
#: (instance, first loss) of every evaluation episode that ended, in order (the local evaluation
#: runner runs in this process)
ENDED: list[tuple[int, float]] = []


def episode_key(episode) -> tuple[int, float]:
    """An episode's instance and its reset's loss (the same for the same initial parameters)."""
    infos = episode.get_infos()
    return int(infos[-1]["instance"]), float(infos[0]["train_loss"])


def record_evaluation_episode(*, episode, env_runner, **kwargs) -> None:
    if env_runner.config.in_evaluation:
        ENDED.append(episode_key(episode))


def recipe_config(**callbacks):
    """A PPO config of LRControl-LinReg-v1 and README's evaluation recipe, as written there."""
    from ray.rllib.algorithms.ppo import PPOConfig

    env_config = ENV_CONFIG
    config = (PPOConfig().environment("lrgym:LRControl-LinReg-v1", env_config=env_config)
              .env_runners(num_env_runners=0, num_envs_per_env_runner=2, gym_env_vectorize_mode="vector_entry_point")
              .training(train_batch_size_per_learner=32, minibatch_size=16, num_epochs=1)
              .rl_module(model_config={"fcnet_hiddens": [8]})
              .callbacks(**callbacks)
              .debugging(seed=0))
    listed = LISTED
    config = config.evaluation(
        evaluation_interval=1, evaluation_num_env_runners=0,   # the local evaluation runner (or 1 remote one)
        evaluation_duration=len(listed), evaluation_duration_unit="episodes",
        evaluation_config={"num_envs_per_env_runner": 1,
                           "env_config": {**env_config, "instances": listed, "instance_order": "each_once"}})
    return config


def check_rounds(rounds: list[list[tuple[int, float]]]) -> None:
    assert [[k for k, _ in r] for r in rounds] == [LISTED] * len(rounds)
    assert all(r == rounds[0] for r in rounds)  # the same episodes: each round's pass replays its draws
    assert len({loss for _, loss in rounds[0]}) == len(LISTED)  # (the loss tells the instances apart)


def test_the_recipes_evaluation_runner_takes_each_instance_once_the_same_episodes_every_round():
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    config = recipe_config()
    runner = SingleAgentEnvRunner(config=config.get_evaluation_config_object())
    try:
        check_rounds([[episode_key(e) for e in runner.sample(num_episodes=config.evaluation_duration)]
                      for _ in range(2)])
    finally:
        runner.stop()


@pytest.mark.slow
def test_the_readme_recipe_evaluates_each_instance_once_the_same_episodes_every_round():
    from lrgym.baselines.backend import connect
    from lrgym.baselines.rllib_logdir import logdirs_in_temp

    config = recipe_config(on_episode_end=record_evaluation_episode)
    ray = connect(None)  # a Ray instance of this test's own, ended below
    ENDED.clear()
    try:
        with logdirs_in_temp():  # not a new ~/ray_results/<date-time><random>
            algo = config.build_algo()
            try:
                rounds = []
                for _ in range(2):
                    algo.evaluate()
                    rounds.append(list(ENDED))
                    ENDED.clear()
            finally:
                algo.stop()
    finally:
        ray.shutdown()
    check_rounds(rounds)
