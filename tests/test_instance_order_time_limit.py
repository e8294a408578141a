"""``instance_order="each_once"`` under a time limit shorter than the horizon: an episode that a
wrapper truncated (gymnasium's ``TimeLimit``: ``gym.make(..., max_episode_steps=k)``, or wrapped
by hand) and that a reset followed has ended on its instance, and counts in its pass.

The reference is independent counting: the instance of every episode the caller saw end
(``info["instance"]`` at the step that returned ``terminated`` or ``truncated``, through every
wrapper), compared with the list.

Found at stop 48 (2026-12-06): the env counted an episode only when its own step ended it, at the
horizon or by divergence; a ``TimeLimit`` truncates outside it, so with ``max_episode_steps`` below
the horizon no episode was ever counted: ``pass_complete`` stayed False and ``pass_left`` the whole
list however many episodes ran, and a seeded reset before the list was through warned nothing
(the warning needs an ended episode in the pass).
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest

import lrgym  # noqa: F401  (registers the ids)
from lrgym.env import LRControlEnv
from lrgym.tasks.instance_order import IncompletePassWarning

SHORT = dict(horizon=6, inner_steps=2)
LIMIT = 2  # the wrapper's time limit: every episode truncated at step 2 of 6
LISTED = [3, 7, 11, 15, 19]
KEEP = 2  # the discrete action "LR x 1": no episode diverges


def run_episode(env, seed=None) -> tuple[int, int]:
    """Reset (seeded or not) and step until the episode ends, as seen from the outermost wrapper:
    (its instance, its length)."""
    env.reset(seed=seed)
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, info = env.step(KEEP)
        steps += 1
        done = terminated or truncated
    return int(info["instance"]), steps


def made(**extra):
    return gym.make("LRControl-LinReg-v1", instances=LISTED, instance_order="each_once", **SHORT, **extra)


@pytest.mark.parametrize("make", [
    lambda: made(max_episode_steps=LIMIT),
    lambda: gym.wrappers.TimeLimit(LRControlEnv(family="linreg", instances=LISTED, instance_order="each_once",
                                                **SHORT), LIMIT),
], ids=["gym.make", "by hand"])
def test_episodes_a_time_limit_truncated_count_at_the_next_reset(make):
    """Five episodes truncated at step 2 of 6 take the list once; each counts at the reset after it,
    so the pass is complete once the fifth is followed by a reset (and not before: the env cannot
    see the wrapper's truncation), and the counts match the episodes seen end."""
    env = make()
    seen = [run_episode(env, seed=0 if e == 0 else None) for e in range(len(LISTED))]
    assert seen == [(k, LIMIT) for k in LISTED]
    inner = env.unwrapped
    assert inner.pass_episodes == len(LISTED) - 1 and inner.pass_left == (LISTED[-1],)
    env.reset()  # the next episode: the cut one before it has ended
    assert inner.pass_complete and inner.pass_left == () and inner.pass_episodes == len(LISTED)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IncompletePassWarning)
        env.reset(seed=0)  # a new pass, the last one complete: silent
    assert inner.pass_episodes == 0 and inner.pass_left == tuple(LISTED)


def test_a_seeded_reset_after_truncated_episodes_names_the_instances_left_out():
    """Two truncated episodes, then a seeded reset: the pass it ends evaluated 3 and 7 (the
    second counted by that reset itself), and it warns naming the rest (silent until the fix:
    no episode of the pass had ended, as far as the env knew)."""
    env = made(max_episode_steps=LIMIT)
    ended = [run_episode(env, seed=4 if e == 0 else None)[0] for e in range(2)]
    left = [k for k in LISTED if k not in ended]
    with pytest.warns(IncompletePassWarning, match=rf"instances \[{', '.join(map(str, left))}\] were not evaluated"):
        env.reset(seed=4)


@pytest.mark.parametrize("limit", [SHORT["horizon"], None])
def test_an_episode_the_env_ended_itself_counts_once(limit):
    """A time limit at the horizon (both end the episode at the same step) or none: the env's own
    step counted it, the reset after it counts nothing more."""
    env = made(max_episode_steps=limit) if limit else made()
    for e in range(3):
        assert run_episode(env, seed=0 if e == 0 else None) == (LISTED[e], SHORT["horizon"])
    env.reset()
    assert env.unwrapped.pass_episodes == 3 and env.unwrapped.pass_left == tuple(LISTED[3:])


def test_a_reset_before_any_step_counts_nothing():
    """A reset right after a reset visited nothing: no episode ends, no seed leaves pass_left."""
    env = made(max_episode_steps=LIMIT)
    env.reset(seed=0)
    env.reset()
    env.reset()
    assert env.unwrapped.pass_episodes == 0 and env.unwrapped.pass_left == tuple(LISTED)


def test_sync_vector_envs_autoreset_counts_the_truncated_episodes():
    """``gym.make_vec(..., vectorization_mode="sync", max_episode_steps=k)``: a ``SyncVectorEnv``
    of single envs under ``TimeLimit``; its automatic reset (the step after the truncation,
    NEXT_STEP) counts each ended episode, so after five episodes and that step each sub-env
    (each walks the whole list from its first seed) has completed its pass."""
    vec = gym.make_vec("LRControl-LinReg-v1", num_envs=2, vectorization_mode="sync", max_episode_steps=LIMIT,
                       instances=LISTED, instance_order="each_once", **SHORT)
    vec.reset(seed=0)
    ended = [[], []]
    while min(map(len, ended)) < len(LISTED):
        _, _, terminated, truncated, infos = vec.step(np.full(2, KEEP))
        for i in np.flatnonzero(terminated | truncated):
            ended[i].append(int(infos["instance"][i]))
    assert ended == [LISTED, LISTED]
    vec.step(np.full(2, KEEP))  # the automatic resets
    assert vec.get_attr("pass_complete") == (True, True)
    vec.close()


def test_the_batched_vector_envs_own_time_limit_counts_its_episodes():
    """lrgym's vector env truncates at ``max_episode_steps`` itself (``gym.make_vec``'s
    vector_entry_point): its step counts the episodes at once, blocks [3, 7] and [11, 15, 19]."""
    vec = gym.make_vec("LRControl-LinReg-v1", num_envs=2, vectorization_mode="vector_entry_point",
                       max_episode_steps=LIMIT, instances=LISTED, instance_order="each_once", **SHORT)
    vec.reset(seed=0)
    ended = []
    for _ in range(3 * (LIMIT + 1)):  # NEXT_STEP: an episode of LIMIT steps and its reset step
        _, _, terminated, truncated, infos = vec.step(np.full(2, KEEP))
        ended += [int(infos["instance"][i]) for i in np.flatnonzero(terminated | truncated)]
    assert set(ended) == set(LISTED) and vec.unwrapped.pass_complete
    vec.close()


def test_sb3_evaluate_policy_over_monitored_time_limited_envs_completes_one_pass():
    """SB3's ``DummyVecEnv`` (what ``EvalCallback`` makes of a single env) over ``Monitor`` or
    ``RecordEpisodeStatistics`` over ``gym.make(..., max_episode_steps=k)``: ``evaluate_policy`` of
    ``len(listed)`` episodes (``EvalCallback``'s call) sees each listed instance end once, and the
    env's pass is complete (``DummyVecEnv`` resets a sub-env as soon as its episode ends)."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    class Keep:
        def predict(self, obs, state=None, episode_start=None, deterministic=False):
            return np.full(len(obs), KEEP), state

    for wrap in (Monitor, gym.wrappers.RecordEpisodeStatistics):
        inner = made(max_episode_steps=LIMIT)
        vec = DummyVecEnv([lambda: wrap(inner)])
        ended = []
        evaluate_policy(Keep(), vec, n_eval_episodes=len(LISTED), warn=False,
                        callback=lambda local, _: ended.append(local["info"]["instance"]) if local["done"] else None)
        assert ended == LISTED, wrap
        assert vec.get_attr("pass_complete") == [True] and vec.get_attr("pass_episodes") == [len(LISTED)], wrap
        vec.close()


def test_a_vector_sub_env_inspected_mid_episode_counts_each_episode_once():
    """The batched vector env brings a sub-env's step state over when it is inspected
    (``sub_env(i)``: mid-episode, its ``t`` above 0 and not ended) and counts the sub-env's
    episodes itself. Such an episode, ended by the vector env's time limit at its next step and
    counted there, is not counted again by the sub-env's automatic reset after it (its ``t`` is
    still the inspected one, and nothing inspected it since it ended): each sub-env's
    ``pass_episodes`` is the number of its episodes seen end, and its ``pass_left`` the seeds of
    its block none of them was on."""
    vec = gym.make_vec("LRControl-LinReg-v1", num_envs=2, vectorization_mode="vector_entry_point",
                       max_episode_steps=LIMIT, instances=LISTED, instance_order="each_once", **SHORT)
    inner = vec.unwrapped
    vec.reset(seed=0)
    ended, done = [[], []], np.zeros(2, dtype=bool)
    for _ in range(2 * (LIMIT + 1)):  # NEXT_STEP: two episodes of LIMIT steps and their reset steps
        for i in np.flatnonzero(~done):
            inner.sub_env(i)  # inspected mid-episode only (once ended, the next step resets it)
        _, _, terminated, truncated, infos = vec.step(np.full(2, KEEP))
        done = terminated | truncated
        for i in np.flatnonzero(done):
            ended[i].append(int(infos["instance"][i]))
    for i in range(2):
        env = inner.sub_env(i)
        assert len(ended[i]) == 2 and env.pass_episodes == 2, (i, ended[i], env.pass_episodes)
        assert env.pass_left == tuple(k for k in env.pass_block if k not in ended[i])
    vec.close()
