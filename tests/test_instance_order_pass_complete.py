"""``instance_order="each_once"``: a pass started again before the last one was complete warns
:class:`~lrgym.tasks.instance_order.IncompletePassWarning` naming the seeds it left out, and
``pass_left`` / ``pass_complete`` say where a pass stands.

The reference is independent counting: the instance of every episode that ended
(``info["instance"]`` at the step that returned ``terminated`` or ``truncated``), compared with the
list (and with the blocks SB3's ``evaluate_policy`` counts per sub-env, computed here by hand).

Found at stop 47 (2026-12-06): with ``autoreset_mode=DISABLED`` a user who calls plain
``reset()`` after every round of episodes (the Gymnasium 1.x loop without a mask) restarts the pass
each time, so 2 sub-envs over [3, 7, 11, 15, 19] evaluate 3 and 11 over and over, 7, 15 and 19
never; a single env reset with a seed before the list is through, or ``evaluate_policy`` given
fewer episodes than the list, left seeds out the same way — in silence.
"""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest

import lrgym  # noqa: F401  (registers the ids)
from lrgym.env import LRControlEnv
from lrgym.tasks.instance_order import IncompletePassWarning
from lrgym.vector import LRControlVectorEnv

SHORT = dict(horizon=3, inner_steps=2)
LISTED = [3, 7, 11, 15, 19]
KEEP = 2  # the discrete action "LR x 1": no episode diverges, all end at the horizon together


def blocks_by_hand(listed, n):
    """Sub-env i's block: ``(len(listed) + i) // n`` seeds, in list order."""
    out, start = [], 0
    for i in range(n):
        size = (len(listed) + i) // n
        out.append(listed[start:start + size])
        start += size
    return out


def run_round(vec) -> list[list[int]]:
    """Step every sub-env until each episode has ended once (DISABLED: all at the horizon);
    the instance of each ended episode, sub-env by sub-env."""
    ended = [[] for _ in range(vec.num_envs)]
    done = np.zeros(vec.num_envs, dtype=bool)
    while not done.all():
        _, _, terminated, truncated, infos = vec.step(np.full(vec.num_envs, KEEP))
        for i in np.flatnonzero(terminated | truncated):
            ended[i].append(int(infos["instance"][i]))
        done |= terminated | truncated
    return ended


def test_plain_resets_of_a_disabled_vector_env_warn_naming_the_instances_left_out():
    """The trap: ``reset()`` after each round of a ``DISABLED`` vector env. Each round ends one
    episode per sub-env (3 and 11: the blocks' first seeds), and every ``reset()`` starts the pass
    again, so 7, 15 and 19 are never evaluated; the reset says so, naming them, and ``pass_left``
    names them before it."""
    vec = LRControlVectorEnv(2, family="linreg", instances=LISTED, instance_order="each_once",
                             autoreset_mode="Disabled", **SHORT)
    vec.reset(seed=0)
    evaluated = run_round(vec)
    assert evaluated == [[3], [11]]
    missing = sorted(set(LISTED) - {k for sub in evaluated for k in sub})
    assert list(vec.pass_left) == missing and vec.pass_complete is False
    with pytest.warns(IncompletePassWarning, match=r"instances \[7, 15, 19\] were not evaluated"):
        vec.reset()
    assert run_round(vec) == [[3], [11]]  # the same seeds again: the pass restarted
    assert list(vec.pass_left) == missing


def test_masked_resets_of_finished_sub_envs_complete_the_pass_and_the_next_reset_is_silent():
    """The documented loop (``reset(options={"reset_mask": done})`` for the finished sub-envs) until
    ``pass_complete``: the episodes that ended on a seed still in their sub-env's ``pass_left`` are
    the list, each once, every sub-env its block (more sub-envs than seeds: the first ones' blocks
    are empty, their episodes on the list's first seed count for none); ``pass_complete`` turns True at the step whose ended episodes
    leave no listed seed unevaluated, and the next ``reset()`` warns nothing."""
    for n in (1, 2, 3, 7):  # dividing the list, not, and more sub-envs than seeds
        vec = LRControlVectorEnv(n, family="linreg", instances=LISTED, instance_order="each_once",
                                 autoreset_mode="Disabled", **SHORT)
        vec.reset(seed=1)
        counted = [[] for _ in range(n)]
        seen: set[int] = set()
        with warnings.catch_warnings():
            warnings.simplefilter("error", IncompletePassWarning)
            while True:
                left = [set(vec.sub_env(i).pass_left) for i in range(n)]
                _, _, terminated, truncated, infos = vec.step(np.full(n, KEEP))
                done = terminated | truncated
                for i in np.flatnonzero(done):
                    k = int(infos["instance"][i])
                    seen.add(k)
                    if k in left[i]:
                        counted[i].append(k)
                assert vec.pass_complete is (seen >= set(LISTED))
                if vec.pass_complete:
                    break
                if done.any():
                    vec.reset(options={"reset_mask": done})
            assert counted == blocks_by_hand(LISTED, n)
            vec.reset()  # a complete pass: no warning
        assert list(vec.pass_left) == LISTED  # the new pass has all to do


def test_a_reset_before_any_episode_ended_loses_nothing_and_says_nothing():
    vec = LRControlVectorEnv(2, family="linreg", instances=LISTED, instance_order="each_once", **SHORT)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IncompletePassWarning)
        vec.reset(seed=0)
        vec.step(np.full(2, KEEP))
        vec.reset()
        env = LRControlEnv(family="linreg", instances=LISTED, instance_order="each_once", **SHORT)
        env.reset(seed=0)
        env.reset(seed=0)


def test_a_single_envs_seeded_reset_before_the_list_is_through_warns():
    """A single env: ``reset(seed=s)`` starts a pass; two episodes of five, then another seeded reset,
    leaves 11, 15 and 19 out (warned); five episodes, then one, says nothing."""
    env = gym.make("LRControl-LinReg-v1", instances=LISTED, instance_order="each_once", **SHORT)

    def episodes(count, seed):
        ended = []
        for e in range(count):
            env.reset(seed=seed if e == 0 else None)
            done = False
            while not done:
                _, _, terminated, truncated, info = env.step(KEEP)
                done = terminated or truncated
            ended.append(int(info["instance"]))
        return ended

    assert episodes(2, 4) == [3, 7]
    assert list(env.unwrapped.pass_left) == [11, 15, 19] and not env.unwrapped.pass_complete
    with pytest.warns(IncompletePassWarning, match=r"instances \[11, 15, 19\] were not evaluated"):
        got = episodes(5, 4)
    assert got == LISTED and env.unwrapped.pass_complete and env.unwrapped.pass_episodes == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error", IncompletePassWarning)
        env.reset(seed=4)


def test_evaluate_policy_of_fewer_episodes_than_the_list_warns_at_the_next_call():
    """Through :mod:`lrgym.sb3`: ``evaluate_policy(..., n_eval_episodes=len(instances))`` completes a
    pass on every sub-env (``get_attr("pass_complete")``) and the next call warns nothing; a call
    of 3 episodes leaves seeds out, and the call after it names those no episode ended on
    (independently: the list minus the instances of every episode a wrapper saw end, those SB3
    counts and those of a sub-env done with its count that it steps on)."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecEnvWrapper

    from lrgym.sb3 import make_sb3_vec_env

    class Keep:
        def predict(self, obs, state=None, episode_start=None, deterministic=False):
            return np.full(len(obs), KEEP), state

    class Ended(VecEnvWrapper):
        """Records the instance of every episode that ends."""

        def __init__(self, venv):
            super().__init__(venv)
            self.ended = []

        def reset(self):
            return self.venv.reset()

        def step_wait(self):
            obs, rewards, dones, infos = self.venv.step_wait()
            self.ended += [int(infos[i]["instance"]) for i in np.flatnonzero(dones)]
            return obs, rewards, dones, infos

    inner = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=2, seed=0, instances=LISTED, instance_order="each_once",
                             **SHORT)
    env = Ended(inner)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IncompletePassWarning)
        evaluate_policy(Keep(), env, n_eval_episodes=len(LISTED), warn=False)
        assert set(env.ended) == set(LISTED) and inner.get_attr("pass_complete") == [True, True]
        evaluate_policy(Keep(), env, n_eval_episodes=len(LISTED), warn=False)
    env.ended.clear()
    evaluate_policy(Keep(), env, n_eval_episodes=3, warn=False)
    missing = sorted(set(LISTED) - set(env.ended))
    assert missing  # SB3 counts 1 and 2 episodes of the blocks [3, 7] and [11, 15, 19]
    assert sorted(inner.venv_gym.pass_left) == missing
    with pytest.warns(IncompletePassWarning, match=rf"instances \[{', '.join(map(str, missing))}\] were not"):
        evaluate_policy(Keep(), env, n_eval_episodes=len(LISTED), warn=False)
    env.close()


def test_pass_read_outs_need_each_once_and_survive_a_pickle():
    for order in ("draw", "cycle"):
        env = LRControlEnv(family="linreg", instances=LISTED, instance_order=order, **SHORT)
        for name in ("pass_left", "pass_complete", "pass_block", "pass_episodes"):
            with pytest.raises(ValueError, match=f"{name} read on an env with instance_order='{order}'; valid: .*"
                                                 "'each_once'"):
                getattr(env, name)
    vec = LRControlVectorEnv(2, family="linreg", instances=LISTED, instance_order="each_once",
                             autoreset_mode="Disabled", **SHORT)
    vec.reset(seed=0)
    run_round(vec)
    twin = pickle.loads(pickle.dumps(vec))
    assert twin.pass_left == vec.pass_left == (7, 15, 19)
    assert [twin.sub_env(i).pass_block for i in range(2)] == [(3, 7), (11, 15, 19)]
    # an env pickled before passes were counted: its pass is the whole list, none of it done
    state = LRControlEnv(family="linreg", instances=LISTED, instance_order="each_once", **SHORT).__getstate__()
    for key in ("_pass_block", "_pass_left", "_pass_episodes"):
        del state[key]
    old = LRControlEnv.__new__(LRControlEnv)
    old.__setstate__(state)
    assert old.pass_left == tuple(LISTED) and old.pass_episodes == 0
