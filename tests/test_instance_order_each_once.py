"""``instance_order="each_once"``: an evaluation set. Every reset of a vector env but its automatic
ones starts a pass over the list, sub-env i at the first seed of its block (the block SB3's
``evaluate_policy(..., n_eval_episodes=len(instances))`` counts for it), replaying the generator
of the last pass unless seeded; a single env's seeded reset starts one at the list's first seed.

The references are hand loops over bare envs (no list, no order) that ask for each instance by
name (``options={"instance": k}``: a reset given its instance draws nothing from ``np_random``,
and a cycled one draws nothing either, so both give the same episodes to the bit), and which
instance each counted episode got (``info["instance"]``).

Found by an SB3 user (2026-12-06): over a batched env, ``instance_order="cycle"`` gave sub-env i
the list's i-th seed and the next, so ``evaluate_policy`` / ``EvalCallback`` over
``[3, 7, 11, 15]`` with 2 sub-envs evaluated 3, 7 and 7, 11, never 15, another mix at every call;
the README's recipe needed ``n_envs`` dividing the list and could not go into ``EvalCallback``.
"""

from __future__ import annotations

import copy
import pickle

import gymnasium as gym
import numpy as np
import pytest

import episode_bytes
import lrgym  # noqa: F401  (registers the ids)
from lrgym.env import LRControlEnv
from lrgym.tasks.instance_order import IncompletePassWarning
from lrgym.vector import LRControlVectorEnv

#: these tests stop passes halfway on purpose (a short evaluation, a replay, a copy mid-pass): the
#: IncompletePassWarning their next pass start gives is tested in test_instance_order_pass_complete.py
pytestmark = pytest.mark.filterwarnings("ignore::lrgym.tasks.instance_order.IncompletePassWarning")

SHORT = dict(horizon=3, inner_steps=2)
LISTED = [3, 7, 11, 15, 19]
ACTIONS = np.random.default_rng(8).integers(5, size=1000)


def sb3_blocks(listed, n: int) -> list[list[int]]:
    """The reference division: sub-env i takes ``(len(listed) + i) // n`` seeds (how many episodes
    SB3's evaluate_policy counts for it), the blocks in list order."""
    blocks, start = [], 0
    for i in range(n):
        size = (len(listed) + i) // n
        blocks.append(list(listed[start:start + size]))
        start += size
    assert start == len(listed)
    return blocks


class ByFeatureSigns:
    """A stand-in SB3 model whose action depends on the observation (exact: a batch acts as its rows)."""

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        return (obs[:, :3] > 0).astype(np.int64) @ np.array([1, 2, 4]) % 3, state


def evaluated(model, env, n_eval_episodes: int) -> list[list[tuple[int, float]]]:
    """(instance, return) of each episode SB3's evaluate_policy counts, sub-env by sub-env."""
    from stable_baselines3.common.evaluation import evaluate_policy

    counted = [[] for _ in range(env.num_envs)]

    def record(local, _globals):
        if local["done"]:
            i = local["i"]
            counted[i].append((int(local["info"]["instance"]), float(local["current_rewards"][i])))

    evaluate_policy(model, env, n_eval_episodes=n_eval_episodes, warn=False, callback=record)
    return counted


def hand_evaluation(model, listed, n: int, seed: int) -> list[list[tuple[int, float]]]:
    """The reference: sub-env i as a bare env reset with ``seed + i`` and the first seed of its
    block, then each next seed of its block asked for by name; returns summed as SB3 sums them."""
    out = []
    for i, block in enumerate(sb3_blocks(listed, n)):
        env = gym.make("LRControl-LinReg-v1", **SHORT)
        episodes = []
        for e, k in enumerate(block):
            obs, _ = env.reset(seed=seed + i if e == 0 else None, options={"instance": k})
            total, done = 0.0, False
            while not done:
                obs, reward, terminated, truncated, info = env.step(int(ByFeatureSigns().predict(obs[None])[0][0]))
                total += float(np.float32(reward))  # SB3 adds the vec env's float32 rewards into float64
                done = terminated or truncated
            episodes.append((int(info["instance"]), total))
        out.append(episodes)
        env.close()
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7])  # 5 seeds: n dividing it, not, and more sub-envs than seeds
@pytest.mark.parametrize("seed", [0, None])
def test_evaluate_policy_takes_each_instance_once_the_same_episodes_at_every_call(n, seed):
    """Over ``make_sb3_vec_env(..., instance_order="each_once")``, every call of evaluate_policy
    with ``n_eval_episodes=len(instances)`` counts each listed instance once, sub-env i its block,
    the hand loop's episodes to the bit (seeded at creation), and every call the same episodes,
    unseeded too, whatever calls of other lengths ran in between."""
    pytest.importorskip("stable_baselines3")
    from lrgym.sb3 import make_sb3_vec_env

    env = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=n, seed=seed, instances=LISTED, instance_order="each_once",
                           **SHORT)
    model = ByFeatureSigns()
    first = evaluated(model, env, len(LISTED))
    assert [[k for k, _ in sub] for sub in first] == sb3_blocks(LISTED, n)
    if seed is not None:
        assert first == hand_evaluation(model, LISTED, n, seed)
    evaluated(model, env, 3)  # moves the cycles and the generators
    assert evaluated(model, env, len(LISTED)) == first
    env.close()


def test_the_cycle_does_not_take_each_instance_once_in_a_batched_evaluation():
    """Why the order exists: the same call over ``"cycle"`` misses seeds and repeats others."""
    pytest.importorskip("stable_baselines3")
    from lrgym.sb3 import make_sb3_vec_env

    env = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=2, seed=0, instances=LISTED, instance_order="cycle", **SHORT)
    got = [k for sub in evaluated(ByFeatureSigns(), env, len(LISTED)) for k, _ in sub]
    assert sorted(got) != LISTED
    env.close()


def vector_run(envs, steps: int, reset_kwargs: dict) -> tuple[list[bytes], list[list[int]]]:
    """A reset and ``steps`` steps of this file's actions: every array to the bit, and each
    step's instances."""
    obs, infos = envs.reset(**reset_kwargs)
    out, instances = [obs.tobytes()], [infos["instance"].tolist()]
    n = envs.num_envs
    for t in range(steps):
        obs, rewards, terminated, truncated, infos = envs.step(ACTIONS[n * t: n * t + n])
        out += [obs.tobytes(), rewards.tobytes(), terminated.tobytes(), truncated.tobytes(),
                infos["instance"].tobytes(), infos["train_loss"].tobytes()]
        instances.append(infos["instance"].tolist())
    return out, instances


class PassesByHand(gym.Wrapper):
    """The reference sub-env: a bare env whose resets ask for ``listed[position]`` by name, the
    position advanced by hand from ``start``; a seeded reset goes back to ``start``."""

    def __init__(self, env, listed, start):
        super().__init__(env)
        self.listed, self.start, self.position = list(listed), start, start

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.position = self.start
        k = self.listed[self.position]
        self.position = (self.position + 1) % len(self.listed)
        return self.env.reset(seed=seed, options={"instance": k})


@pytest.mark.parametrize("build_ahead", [0, 2])
def test_a_batched_reset_starts_each_sub_env_at_its_block_and_automatic_resets_go_on(build_ahead):
    """``gym.make_vec``: sub-env i starts at its block's first seed, its automatic resets go on
    round the list (as the hand loop's), and a later unseeded reset replays the first pass to the
    bit (its generator as the pass left it); with builds ahead, the same episodes."""
    n = 3
    vec = gym.make_vec("LRControl-v1", n, vectorization_mode="vector_entry_point", instances=LISTED,
                       instance_order="each_once", build_ahead=build_ahead, **SHORT)
    starts = [0, 1, 3]  # blocks [3], [7, 11], [15, 19]: 1, 2 and 2 seeds
    sync = gym.vector.SyncVectorEnv(
        [lambda i=i: PassesByHand(gym.make("LRControl-v1", **SHORT), LISTED, starts[i]) for i in range(n)])
    ours, instances = vector_run(vec, 9, {"seed": 40})
    assert (ours, instances) == vector_run(sync, 9, {"seed": 40})
    assert instances[0] == [3, 7, 15] and instances[4] == [7, 11, 19]  # NEXT_STEP: the step after the end
    assert vector_run(vec, 9, {}) == (ours, instances)  # unseeded: the same pass again
    vec.close()


def test_a_masked_reset_restarts_only_the_sub_envs_it_resets():
    vec = LRControlVectorEnv(2, family="linreg", instances=LISTED, instance_order="each_once", **SHORT)
    first, _ = vector_run(vec, 4, {"seed": 5})  # blocks [3, 7] and [11, 15, 19]; step 4 starts each's second
    assert [vec.sub_env(i).cycle_position for i in range(2)] == [2, 4]
    with pytest.warns(IncompletePassWarning, match=r"instances \[15, 19\] were not evaluated"):  # 11 ended; 15 under way
        obs, infos = vec.reset(options={"reset_mask": np.array([False, True])})
    assert int(infos["instance"][1]) == 11 and vec.sub_env(0).cycle_position == 2
    assert obs[1].tobytes() == np.frombuffer(first[0], np.float32).reshape(2, -1)[1].tobytes()  # replayed


@pytest.mark.parametrize("bad", [{"options": {"instance": 10**9}}, {"seed": -1}])
def test_a_refused_reset_by_call_starts_no_pass(bad):
    """``call("reset", ...)`` that its options or seed refuse changes nothing: it marked sub-env 0's
    next reset a pass start, so its next automatic reset went back to its block's first seed (and
    replayed its generator) instead of going on round the list, as the twin never refused does."""
    def build():
        vec = LRControlVectorEnv(2, family="linreg", instances=LISTED, instance_order="each_once", **SHORT)
        vector_run(vec, 4, {"seed": 5})  # blocks [3, 7] and [11, 15, 19]; in their second episodes
        return vec

    vec, twin = build(), build()
    with pytest.raises(Exception, match="instance 1000000000|-1"):
        vec.call("reset", **bad)
    steps = [vec.step(np.array(a)) for a in ACTIONS[:16].reshape(8, 2)]
    want = [twin.step(np.array(a)) for a in ACTIONS[:16].reshape(8, 2)]
    assert [list(map(int, s[4]["instance"])) for s in steps] == [list(map(int, s[4]["instance"])) for s in want]
    assert all(a[0].tobytes() == b[0].tobytes() for a, b in zip(steps, want))


def test_a_single_envs_seeded_reset_starts_a_pass_and_unseeded_ones_go_on_as_the_cycle():
    """``gym.make``: from a seeded reset the episodes are the cycle's to the bit; the next seeded
    reset goes back to the list's first seed (the cycle goes on), the same episodes for the same seed."""
    def run(env, seeds):
        return episode_bytes.episodes(lambda e: env.reset(seed=seeds[e]), env.step, len(seeds), ACTIONS)

    once = gym.make("LRControl-LinReg-v1", instances=LISTED, instance_order="each_once", **SHORT)
    cycle = gym.make("LRControl-LinReg-v1", instances=LISTED, instance_order="cycle", **SHORT)
    seeds = [2, None, None]
    assert run(once, seeds) == run(cycle, seeds)
    assert int(once.reset(seed=2)[1]["instance"]) == 3 and int(cycle.reset(seed=2)[1]["instance"]) == 15
    assert run(once, seeds) == run(once, seeds)


@pytest.mark.parametrize("make", ["copy", "pickle"])
def test_a_copy_replays_the_same_pass(make):
    vec = LRControlVectorEnv(2, family="linreg", instances=LISTED, instance_order="each_once", **SHORT)
    vector_run(vec, 5, {"seed": 1})
    twin = copy.deepcopy(vec) if make == "copy" else pickle.loads(pickle.dumps(vec))
    assert vector_run(twin, 5, {}) == vector_run(vec, 5, {})


def test_the_order_is_named_among_the_valid_choices():
    with pytest.raises(ValueError, match="valid choices: 'draw', 'cycle', 'each_once'"):
        LRControlEnv(instance_order="each-once")
    with pytest.raises(ValueError, match="instance_order='once' invalid; valid choices: 'draw', 'cycle', 'each_once'"):
        gym.make_vec("LRControl-v1", 2, vectorization_mode="vector_entry_point", instance_order="once")


@pytest.mark.parametrize("kind", [np.random.MT19937, np.random.PCG64])
def test_a_generator_set_between_passes_starts_the_next_pass(kind):
    """``env.np_random = generator`` (gymnasium's setter) is as a seed: the next pass starts
    from it, the episodes of a bare env given that generator and the list's seeds by name. The
    pass start wrote the old pass's state into it: NumPy's 'state must be for a MT19937 PRNG' for
    another kind of generator, the user's generator silently set back to the old pass's for the
    same kind. A later unseeded pass replays the new one."""
    def run(env, reset):
        return episode_bytes.episodes(reset, env.step, 2, ACTIONS)

    env = LRControlEnv(family="linreg", instances=LISTED, instance_order="each_once", **SHORT)
    env.reset(seed=3)
    env.reset()
    env.np_random = np.random.Generator(kind(9))
    env.start_pass()
    got = run(env, lambda e: env.reset())
    plain = LRControlEnv(family="linreg", **SHORT)
    plain.np_random = np.random.Generator(kind(9))
    assert got == run(plain, lambda e: plain.reset(options={"instance": LISTED[e]}))
    assert type(env.np_random.bit_generator) is kind
    env.start_pass()
    assert run(env, lambda e: env.reset()) == got  # the pass after replays it


@pytest.mark.parametrize("mode", ["Disabled", "NextStep"])
def test_a_masked_reset_of_finished_sub_envs_takes_their_next_episodes(mode):
    """With ``autoreset_mode=DISABLED`` the user resets finished sub-envs (``reset_mask``): that
    reset is their autoreset, so each goes on round the list from its block, the episodes of a
    bare env given the seeds by name in turn (so in ``NEXT_STEP`` for a masked reset of finished
    sub-envs). Each such reset started a pass: every episode of a sub-env was its block's first
    seed with the generator replayed, the same episode over and over. A reset without a mask
    still starts a pass."""
    n, steps, seed = 2, 14, 5
    vec = LRControlVectorEnv(n, family="linreg", instances=LISTED, instance_order="each_once", autoreset_mode=mode,
                             **SHORT)
    obs, infos = vec.reset(seed=seed)
    ours = [[obs[i].tobytes(), int(infos["instance"][i])] for i in range(n)]
    for t in range(steps):
        obs, rewards, terminated, truncated, infos = vec.step(ACTIONS[n * t: n * t + n])
        for i in range(n):
            ours[i] += [obs[i].tobytes(), rewards[i].tobytes(), bool(terminated[i] or truncated[i])]
        done = terminated | truncated
        if done.any():
            obs, infos = vec.reset(options={"reset_mask": done})
            for i in np.flatnonzero(done):
                ours[i] += [obs[i].tobytes(), int(infos["instance"][i])]
    for i, start in enumerate([0, 2]):  # blocks [3, 7] and [11, 15, 19]
        env, position = LRControlEnv(family="linreg", **SHORT), start
        obs, info = env.reset(seed=seed + i, options={"instance": LISTED[position]})
        hand = [obs.tobytes(), int(info["instance"])]
        for t in range(steps):
            obs, reward, terminated, truncated, info = env.step(int(ACTIONS[n * t + i]))
            hand += [obs.tobytes(), np.float64(reward).tobytes(), bool(terminated or truncated)]
            if terminated or truncated:
                position = (position + 1) % len(LISTED)
                obs, info = env.reset(options={"instance": LISTED[position]})
                hand += [obs.tobytes(), int(info["instance"])]
        assert ours[i] == hand
    assert vec.reset()[1]["instance"].tolist() == [3, 11]
