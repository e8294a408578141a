"""``instance_order="cycle"``: resets take the env's instances in turn (DACBench's round robin) —
the single env, the vector env's automatic resets (sub-env i from the list's i-th seed), the SB3
adapter's, build-ahead's predictions.

The reference is the obvious way to do it by hand with a plain env (no keyword): a wrapper that
keeps its own index into the list and resets the env with ``options={"instance":
listed[index]}``. A reset given its instance draws nothing from ``np_random``, and a cycled one
draws nothing either, so both give the same episodes to the bit.
"""

from __future__ import annotations

import copy
import json
import pickle

import gymnasium as gym
import numpy as np
import pytest

import episode_bytes
import lrgym  # noqa: F401  (registers the ids)
from lrgym.env import LRControlEnv
from lrgym.vector import LRControlVectorEnv

SHORT = dict(horizon=3, inner_steps=2)
LISTED = (4, 9, 2, 13)  # on LRControl-v1, all four families in no sorted order
ACTIONS = np.random.default_rng(6).integers(5, size=1000)


class CycledByHand(gym.Wrapper):
    """The reference: each reset takes ``listed[index]``, the index advanced by hand, from
    ``start``; a reset given its instance passes it on as it is, and a listed one moves the
    index to the seed after it (DACBench's ``set_inst_id``)."""

    def __init__(self, env, listed, start=0):
        super().__init__(env)
        self.listed, self.index = list(listed), start % len(listed)

    def reset(self, *, seed=None, options=None):
        if options and "instance" in options:
            if options["instance"] in self.listed:
                self.index = (self.listed.index(options["instance"]) + 1) % len(self.listed)
            return self.env.reset(seed=seed, options=options)
        k = self.listed[self.index]
        self.index = (self.index + 1) % len(self.listed)
        return self.env.reset(seed=seed, options={**(options or {}), "instance": k})


def episodes(reset, step, n: int) -> list[bytes]:
    """Every observation, reward, flag and info of ``n`` episodes of this file's fixed actions, to the bit."""
    return episode_bytes.episodes(reset, step, n, ACTIONS)


@pytest.mark.parametrize("env_id, listed, instance_set", [("LRControl-v1", LISTED, "train"),
                                                          ("LRControl-LinReg-v1", [10_004, 10_150, 10_007], "val")])
@pytest.mark.parametrize("seeded", ["first", "every"])
def test_resets_take_the_list_in_turn_as_the_hand_cycle_does(env_id, listed, instance_set, seeded):
    """A seed seeds the generator, not the cycle: ``reset(seed=e)`` every episode still goes on
    through the list."""
    def reset_of(env):
        return lambda e: env.reset(seed=e if seeded == "every" else 11 if e == 0 else None)

    env = gym.make(env_id, instances=listed, instance_set=instance_set, instance_order="cycle", **SHORT)
    ours = episodes(reset_of(env), env.step, 9)
    plain = CycledByHand(gym.make(env_id, instance_set=instance_set, **SHORT), listed)
    assert ours == episodes(reset_of(plain), plain.step, 9)
    env.reset()
    assert [int(env.reset()[1]["instance"]) for _ in range(7)] == [listed[(10 + j) % len(listed)] for j in range(7)]


def test_the_whole_set_is_cycled_from_its_first_seed():
    env = LRControlEnv(family="quadratic", instance_set="val", instance_order="cycle", **SHORT)
    assert [int(env.reset(seed=0)[1]["instance"]) for _ in range(3)] == [10_000, 10_001, 10_002]
    env.reset(options={"instance": 10_199})  # the set's last seed: the cycle goes on from its first
    assert int(env.reset()[1]["instance"]) == 10_000


def test_an_asked_listed_seed_moves_the_cycle_an_unlisted_one_does_not():
    env = LRControlEnv(family="quadratic", instances=(5, 6, 7), instance_order="cycle", **SHORT)
    assert int(env.reset(seed=0)[1]["instance"]) == 5 and env.cycle_position == 1
    assert int(env.reset(options={"instance": 7})[1]["instance"]) == 7 and env.cycle_position == 0
    assert [int(env.reset()[1]["instance"]) for _ in range(2)] == [5, 6]
    assert int(env.reset(options={"instance": 9_999})[1]["instance"]) == 9_999  # any seed of the set
    assert int(env.reset()[1]["instance"]) == 7  # the cycle where it was


@pytest.mark.parametrize("ahead", [0, 2])
def test_setting_the_cycle_position_moves_it_as_shift_cycle_does(ahead):
    """``cycle_position = k`` (DACBench's set_inst_id; what reaches a sub-env in another process,
    through AsyncVectorEnv.set_attr) takes the next resets from the list's k-th seed on, modulo
    its length, as ``shift_cycle(k - position)`` does, the builds ahead too (same episodes to the
    bit); ``"draw"`` has no position and a non-integer is no position: both refused, named."""
    def run(move):
        env = LRControlEnv(family="quadratic", instances=(5, 6, 7, 8), instance_order="cycle", build_ahead=ahead,
                           **SHORT)
        first = episodes(lambda e: env.reset(seed=3) if e == 0 else env.reset(), env.step, 1)
        move(env)
        return first + episodes(lambda e: env.reset(), env.step, 3)

    def set_to(k):
        def move(env):
            env.cycle_position = k
        return move

    by_shift = run(lambda env: env.shift_cycle(2 - env.cycle_position))
    assert run(set_to(2)) == run(set_to(np.int64(6))) == by_shift != run(lambda env: None)
    env = LRControlEnv(family="quadratic", instances=(5, 6, 7), instance_order="cycle", **SHORT)
    env.cycle_position = -1
    assert env.cycle_position == 2 and int(env.reset()[1]["instance"]) == 7
    for bad in (1.0, True, "1", None):
        with pytest.raises(ValueError, match=r"cycle_position=.* is not an integer; valid: an integer, the position "
                                             r"in instances \(0 to 2\)"):
            env.cycle_position = bad
    with pytest.raises(ValueError, match=r"cycle_position=1 set on an env with instance_order='draw'; valid: an env "
                                         r"made with instance_order='cycle'"):
        LRControlEnv(family="quadratic", instances=(5, 6, 7), **SHORT).cycle_position = 1
    each_once = LRControlEnv(family="quadratic", instances=(5, 6, 7), instance_order="each_once", **SHORT)
    each_once.cycle_position = 2  # an unseeded reset of a single each_once env goes on as the cycle
    assert int(each_once.reset()[1]["instance"]) == 7 and each_once.cycle_position == 0


def test_draw_is_the_default_and_draws_as_before():
    """``instance_order="draw"`` is the default, to the bit (the default's draw: the same
    generator calls as a reset without the keyword made)."""
    def run(**kw):
        env = LRControlEnv(family="mixed", instances=LISTED, **SHORT, **kw)
        return episodes(lambda e: env.reset(seed=2) if e == 0 else env.reset(), env.step, 8)

    assert run(instance_order="draw") == run()
    assert LRControlEnv().instance_order == "draw" and LRControlEnv().cycle_position == 0
    assert run(instance_order="cycle") != run()


def test_vector_env_sub_env_i_cycles_from_the_lists_ith_seed_across_autoresets():
    n = 6  # more sub-envs than listed seeds: sub-env 4 starts at the first again
    vec = gym.make_vec("LRControl-v1", n, vectorization_mode="vector_entry_point", instances=LISTED,
                       instance_order="cycle", **SHORT)
    sync = gym.vector.SyncVectorEnv(
        [lambda i=i: CycledByHand(gym.make("LRControl-v1", **SHORT), LISTED, start=i) for i in range(n)])
    runs = []
    for envs in (vec, sync):
        obs, infos = envs.reset(seed=30)
        out, instances = [obs.tobytes()], [infos["instance"].tolist()]
        for t in range(14):
            obs, rewards, terminated, truncated, infos = envs.step(ACTIONS[n * t: n * t + n])
            out += [obs.tobytes(), rewards.tobytes(), terminated.tobytes(), truncated.tobytes(),
                    infos["instance"].tobytes(), infos["train_loss"].tobytes()]
            instances.append(infos["instance"].tolist())
        runs.append((out, instances))
    assert runs[0] == runs[1]
    assert runs[0][1][0] == [4, 9, 2, 13, 4, 9]
    assert runs[0][1][4] == [9, 2, 13, 4, 9, 2]  # after the first automatic reset (NEXT_STEP: step 4)


def test_sub_env_i_is_the_single_env_given_the_ith_seed_first():
    vec = LRControlVectorEnv(3, family="mixed", instances=LISTED, instance_order="cycle", **SHORT)
    vec.reset(seed=1)
    single = LRControlEnv(family="mixed", instances=LISTED, instance_order="cycle", **SHORT)
    single.reset(seed=3, options={"instance": LISTED[2]})
    assert vec.sub_env(2).cycle_position == single.cycle_position == 3


@pytest.mark.parametrize("build_ahead", [0, 2])
def test_a_vector_reset_giving_every_sub_env_one_seed_keeps_their_cycles_apart(build_ahead):
    """``reset(options={"instance": k})`` of the vector env (SB3's ``set_options`` of one dict)
    moved every sub-env's cycle to the seed after k: from then on they all trained one instance
    at once (a review of the day's merges). Sub-env i goes on i seeds after the seed after k, as
    the single env given k and then moved on i seeds by hand does, and builds ahead predict it."""
    n = 3
    vec = LRControlVectorEnv(n, family="mixed", instances=LISTED, instance_order="cycle", build_ahead=build_ahead,
                             **SHORT)
    vec.reset(seed=7)
    vec.step(ACTIONS[:n])
    obs, infos = vec.reset(seed=7, options={"instance": LISTED[1]})
    assert infos["instance"].tolist() == [LISTED[1]] * n
    assert [vec.sub_env(i).cycle_position for i in range(n)] == [(2 + i) % len(LISTED) for i in range(n)]
    seen = [[LISTED[1]] * n]
    for t in range(12):  # horizon 3: automatic resets
        obs, rewards, terminated, truncated, infos = vec.step(ACTIONS[n * t: n * t + n])
        seen.append(infos["instance"].tolist())
    for i in range(n):  # each sub-env's episodes, in order (a cycle of 4 distinct seeds never repeats one)
        episodes_i = [row[i] for j, row in enumerate(seen) if j == 0 or row[i] != seen[j - 1][i]]
        assert episodes_i == [LISTED[1]] + [LISTED[(2 + i + e) % len(LISTED)] for e in range(len(episodes_i) - 1)]
        assert len(episodes_i) >= 3
    assert all(len(set(row)) == n for row in seen[4:])  # apart, not one instance for all


def test_a_vector_reset_giving_every_sub_env_one_unlisted_seed_leaves_their_cycles():
    """A seed off the list moves no cycle (as in the single env), so the sub-envs go on from
    where they were: each reset of the vector env given one unlisted seed shifted sub-env i by i
    more seeds, and after a few the two sub-envs of a list of 4 trained one instance at once."""
    n, unlisted = 2, 5  # a train seed, not in LISTED
    vec = LRControlVectorEnv(n, family="mixed", instances=LISTED, instance_order="cycle", **SHORT)
    fresh = LRControlVectorEnv(n, family="mixed", instances=LISTED, instance_order="cycle", **SHORT)
    for _ in range(len(LISTED) - 1):
        _, infos = vec.reset(seed=7, options={"instance": unlisted})
        assert infos["instance"].tolist() == [unlisted] * n
        assert [vec.sub_env(i).cycle_position for i in range(n)] == list(range(n))
    assert vec.reset(seed=7)[1]["instance"].tolist() == fresh.reset(seed=7)[1]["instance"].tolist() == list(LISTED[:n])


def test_builds_ahead_predict_the_cycle():
    def run(depth, listed):
        env = LRControlEnv(family="mixed", instances=listed, instance_order="cycle", build_ahead=depth, **SHORT)
        out = episodes(lambda e: env.reset(seed=4) if e == 0 else env.reset(options={"instance": 9})
                       if e == 5 else env.reset(), env.step, 10)
        counts = env.build_ahead_counts
        env.close()
        return out, counts

    for listed in (LISTED, None):
        reference, _ = run(0, listed)
        ours, (hits, misses) = run(2, listed)
        assert ours == reference
        assert (hits, misses) == (8, 2)  # every reset predicted but the first and the asked one


@pytest.mark.parametrize("make", ["copy", "pickle"])
def test_a_copy_goes_on_with_the_same_cycle(make):
    env = LRControlEnv(family="quadratic", instances=(1, 2, 3), instance_order="cycle", **SHORT)
    env.reset(seed=8)
    twin = copy.deepcopy(env) if make == "copy" else pickle.loads(pickle.dumps(env))
    assert [int(env.reset()[1]["instance"]) for _ in range(5)] == [int(twin.reset()[1]["instance"]) for _ in range(5)] \
        == [2, 3, 1, 2, 3]


def test_sb3_adapter_cycles_as_dummy_vec_env_over_hand_cycles():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.vec_env import DummyVecEnv

    from lrgym.sb3 import make_sb3_vec_env

    listed = [10, 21, 32]
    ours = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=2, seed=4, instances=listed, instance_order="cycle", **SHORT)
    dummy = DummyVecEnv([lambda i=i: CycledByHand(gym.make("LRControl-LinReg-v1", **SHORT), listed, start=i)
                         for i in range(2)])
    dummy.seed(4)
    assert ours.reset().tobytes() == dummy.reset().tobytes()
    for t in range(10):
        episode_bytes.same_vec_step(ours, dummy, ACTIONS[2 * t: 2 * t + 2])


@pytest.mark.parametrize("options", [[{}, {"instance": 21}, {}], [{"instance": 43}, {}, {"instance": 43}]])
def test_sb3_per_sub_env_options_move_each_cycle_as_dummy_vec_env_moves_its_envs(options):
    """SB3's ``set_options`` of a list of dicts gives each sub-env its own options, which the
    adapter applies by one masked reset each: a sub-env i given a listed seed k went on i seeds
    after the seed after k (the shift that keeps the sub-envs of a reset giving all of them k
    apart), so ``[{}, {"instance": 21}, {}]`` took sub-env 1 from 21 to 43, skipping 32. Each
    moves as the single env does, as ``DummyVecEnv``'s own envs move."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.vec_env import DummyVecEnv

    from lrgym.sb3 import make_sb3_vec_env

    listed, n = [10, 21, 32, 43, 54], 3
    ours = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=n, seed=4, instances=listed, instance_order="cycle", **SHORT)
    dummy = DummyVecEnv([lambda i=i: CycledByHand(gym.make("LRControl-LinReg-v1", **SHORT), listed, start=i)
                         for i in range(n)])
    dummy.seed(4)
    assert ours.reset().tobytes() == dummy.reset().tobytes()
    for t in range(4):
        episode_bytes.same_vec_step(ours, dummy, ACTIONS[n * t: n * t + n])
    for venv in (ours, dummy):
        venv.set_options(options)
    assert ours.reset().tobytes() == dummy.reset().tobytes()
    assert [int(i["instance"]) for i in ours.reset_infos] == [int(i["instance"]) for i in dummy.reset_infos]
    for t in range(12):  # horizon 3: four automatic resets each
        episode_bytes.same_vec_step(ours, dummy, ACTIONS[n * t: n * t + n])


def test_a_masked_vector_reset_giving_one_seed_keeps_apart_only_the_sub_envs_it_resets():
    """With a ``reset_mask``, the j-th sub-env the reset gives one listed seed k goes on j seeds
    after the seed after k: one reset alone moves as a single env given k does (it was moved i
    seeds, its index, further)."""
    n = 4
    vec = LRControlVectorEnv(n, family="quadratic", instances=LISTED, instance_order="cycle", **SHORT)
    vec.reset(seed=2)
    single = LRControlEnv(family="quadratic", instances=LISTED, instance_order="cycle", **SHORT)
    single.reset(options={"instance": LISTED[0]})
    before = [vec.sub_env(i).cycle_position for i in range(n)]
    vec.reset(options={"instance": LISTED[0], "reset_mask": np.array([False, False, True, False])})
    assert [vec.sub_env(i).cycle_position for i in range(n)] == [before[0], before[1], single.cycle_position, before[3]]
    vec.reset(options={"instance": LISTED[0], "reset_mask": np.array([False, True, False, True])})
    assert [vec.sub_env(i).cycle_position for i in (1, 3)] == [1, 2]  # apart: the seed after k, and one on


@pytest.mark.parametrize("bad", ["round_robin", "Cycle", None, 1, ("cycle",)])
def test_a_bad_order_is_named_with_the_valid_choices(bad):
    named = f"instance_order={bad!r} invalid; valid choices: 'draw', 'cycle'".replace("(", "\\(").replace(")", "\\)")
    with pytest.raises(ValueError, match=named):
        gym.make("LRControl-v1", instance_order=bad)
    with pytest.raises(ValueError, match=named):
        gym.make_vec("LRControl-v1", 2, vectorization_mode="vector_entry_point", instance_order=bad)


def test_the_batched_env_refuses_to_set_the_order_on_a_sub_env():
    vec = LRControlVectorEnv(2, instances=(1, 2), instance_order="cycle", **SHORT)
    with pytest.raises(ValueError, match="set_attr\\('instance_order'\\) would have no effect"):
        vec.set_attr("instance_order", "draw")


def test_a_suite_file_and_a_policy_may_not_set_the_order():
    from lrgym.leaderboard.settings import SettingsError, check_choices
    from lrgym.leaderboard.suite_file import SuiteFileError, suite_from_dict

    suite = {"name": "mine", "revision": 1, "instance_set": "val", "seeds": [0],
             "families": [{"family": "linreg", "instances": [10_000], "env_options": {"instance_order": "cycle"}}]}
    with pytest.raises(SuiteFileError, match="sets 'instance_order', which is the family's instances field"):
        suite_from_dict(json.loads(json.dumps(suite)))
    with pytest.raises(SettingsError, match="env option\\(s\\) instance_order are fixed by the suite"):
        check_choices({"instance_order": "cycle"})


@pytest.mark.parametrize("ahead", [0, 2])
def test_a_set_attr_one_sub_env_refuses_changes_no_sub_env(ahead):
    """``set_attr`` is all or nothing: ``set_attr("cycle_position", [3, 0, "x"])`` is refused for
    sub-env 2 and leaves sub-envs 0 and 1 where they were (it moved them and raised), so the
    episodes after it are those of a twin never asked (builds ahead too); so for a setter's
    TypeError (a ``task_cache`` that is no OrderedDict: sub-env 0 kept the good one)."""
    from collections import OrderedDict

    def make():
        vec = LRControlVectorEnv(3, family="quadratic", instances=LISTED, instance_order="cycle", build_ahead=ahead,
                                 **SHORT)
        vec.reset(seed=4)
        return vec

    def run(vec):
        out = []
        for a in ACTIONS[:30].reshape(10, 3):
            obs, rewards, terminated, truncated, infos = vec.step(a)
            out += [obs.tobytes(), rewards.tobytes(), infos["instance"].tobytes()]
        return out

    vec, twin = make(), make()
    before = vec.get_attr("cycle_position")
    with pytest.raises(ValueError, match=r"cycle_position='x' is not an integer"):
        vec.set_attr("cycle_position", [3, 0, "x"])
    assert vec.get_attr("cycle_position") == before == (1, 2, 3)
    assert run(vec) == run(twin)
    with pytest.raises(TypeError, match="task_cache must be a collections.OrderedDict, got dict"):
        vec.set_attr("task_cache", [OrderedDict(), OrderedDict(), {}])
    assert [vars(env)["_tasks"] for env in vec._sub_envs] == [None] * 3
    vec.set_attr("cycle_position", [3, 0, 1])  # the good values are set, all of them
    assert vec.get_attr("cycle_position") == (3, 0, 1)
    vec.close(), twin.close()


def test_set_attr_at_needs_one_value_per_index():
    """``set_attr_at`` (public, the SB3 adapter's way in) zipped its indices with its values: two
    indices and one value set the first sub-env and dropped the other in silence. Other counts are
    refused naming both, and nothing is set."""
    vec = LRControlVectorEnv(3, family="quadratic", instances=LISTED, instance_order="cycle", **SHORT)
    vec.reset(seed=4)
    before = vec.get_attr("cycle_position")
    for indices, values in (([0, 1], [3]), ([0], [3, 4]), ([], [3])):
        with pytest.raises(ValueError, match=rf"set_attr_at\('cycle_position'\) got {len(indices)} indices and "
                                             rf"{len(values)} values; valid: one value per index"):
            vec.set_attr_at(indices, "cycle_position", values)
        assert vec.get_attr("cycle_position") == before
    vec.set_attr_at([2, 0], "cycle_position", [0, 3])  # one value per index: each its own
    assert vec.get_attr("cycle_position") == (3, 2, 0)
    vec.close()


def test_an_sb3_set_attr_one_sub_env_refuses_changes_no_sub_env():
    """The SB3 adapter's ``set_attr`` is the vector env's (one value for the given indices), all
    or nothing: a sub-env whose setter refuses the value leaves those before it as they were."""
    pytest.importorskip("stable_baselines3")
    from lrgym.sb3 import make_sb3_vec_env

    class Picky(LRControlEnv):
        """A sub-env class whose ``level`` setter refuses a value on odd sub-envs only."""

        @property
        def level(self):
            return self.__dict__.get("_level", 0)

        @level.setter
        def level(self, value):
            if self.__dict__.get("odd"):
                raise ValueError(f"level={value} refused")
            self._level = value

    venv = make_sb3_vec_env("LRControl-Quadratic-v1", n_envs=3, instances=LISTED, instance_order="cycle", **SHORT)
    for i, env in enumerate(venv.venv_gym._sub_envs):
        env.__class__, env.odd = Picky, i % 2 == 1
    with pytest.raises(ValueError, match="level=5 refused"):
        venv.set_attr("level", 5)
    assert venv.get_attr("level") == [0, 0, 0]
    with pytest.raises(ValueError, match="level=6 refused"):
        venv.set_attr("level", 6, indices=[0, 0, 1])  # an index twice: back to its first state
    assert venv.get_attr("level") == [0, 0, 0]
    venv.set_attr("level", 5, indices=[0, 2])
    assert venv.get_attr("level") == [5, 0, 5]
    venv.close()


def test_shift_cycle_refuses_a_number_of_seeds_that_is_no_integer():
    """``shift_cycle("2")``, ``(1.7)``, ``(True)`` and ``(3.0)`` were taken through ``int()``
    (moved by 2, 1, 1 and 3 seeds); public through ``call("shift_cycle", ...)``, they are
    refused naming the value, and change nothing. Integers (NumPy's too) move it as before."""
    env = LRControlEnv(family="quadratic", instances=(5, 6, 7), instance_order="cycle", **SHORT)
    for bad in ("2", 1.7, True, np.float64(3.0), None):
        with pytest.raises(ValueError, match=r"shift_cycle\(.*\): not an integer; valid: an integer"):
            env.shift_cycle(bad)
        assert env.cycle_position == 0
    env.shift_cycle(np.int64(2))
    env.shift_cycle(-1)
    assert env.cycle_position == 1
