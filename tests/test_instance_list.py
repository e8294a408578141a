"""``instances=``: a fixed list of instance seeds that every reset without
``options={"instance": k}`` draws from — the single env, the vector env's automatic resets, the
SB3 adapter's — uniformly with the env's ``np_random``, as the env draws from its whole set.

The reference is the slow, obvious way to do the same with a plain env (no keyword): a
wrapper that draws ``k = L[np_random.integers(len(L))]`` from the env's own generator and then
resets it with ``options={"instance": k}`` (a reset given its instance draws nothing more).
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
LISTED = (4, 9, 2, 13)  # on LRControl-v1, all four families (k mod 4: 0, 1, 2, 1) in no sorted order
ACTIONS = np.random.default_rng(5).integers(5, size=1000)


def episodes(reset, step, n: int) -> list[bytes]:
    """Every observation, reward, flag and info of ``n`` episodes of this file's fixed actions, to the bit."""
    return episode_bytes.episodes(reset, step, n, ACTIONS)


def drawn_by_hand(env: LRControlEnv, listed, seed: int):
    """The reference's reset: seed the generator (first reset only), draw an index into the list
    from it, reset the plain env with that instance."""
    def reset(e):
        if e == 0:
            gym.Env.reset(env, seed=seed)  # seeds np_random as reset(seed=...) does, and nothing else
        k = listed[int(env.np_random.integers(len(listed)))]
        return env.reset(options={"instance": k})
    return reset


@pytest.mark.parametrize("env_id, listed", [("LRControl-v1", LISTED), ("LRControl-Quadratic-v1", (7, 3)),
                                            ("LRControl-LinReg-v1", [10_004, 10_150])])
def test_resets_draw_from_the_list_as_the_reference_does(env_id, listed):
    instance_set = "val" if listed[0] >= 10_000 else "train"
    env = gym.make(env_id, instances=listed, instance_set=instance_set, **SHORT)
    ours = episodes(lambda e: env.reset(seed=11) if e == 0 else env.reset(), env.step, 12)
    plain = gym.make(env_id, instance_set=instance_set, **SHORT).unwrapped
    assert ours == episodes(drawn_by_hand(plain, listed, 11), plain.step, 12)
    assert env.unwrapped.instances == tuple(listed)


def test_same_seed_same_instances_and_only_listed_ones():
    def instances(seed):
        env = LRControlEnv(family="mixed", instances=LISTED, **SHORT)
        env.reset(seed=seed)
        return [int(env.reset()[1]["instance"]) for _ in range(60)]

    first = instances(0)
    assert first == instances(0)
    assert set(first) == set(LISTED)  # each drawn (60 uniform draws from 4: all but surely)
    assert first != instances(1)


def test_the_whole_set_as_a_list_is_the_default_to_the_bit():
    """``instances=range(...)`` of the whole set draws as the default (the same generator calls)."""
    def run(**kw):
        env = LRControlEnv(family="mixed", **SHORT, **kw)
        return episodes(lambda e: env.reset(seed=2) if e == 0 else env.reset(), env.step, 8)

    default = run()
    assert run(instances=range(0, 10_000)) == default
    assert run(instances=None) == default
    assert run(instances=list(range(0, 10_000))) == default


def test_an_asked_instance_is_any_of_the_set_for_that_reset_only():
    env = LRControlEnv(family="quadratic", instances=(5, 6), **SHORT)
    env.reset(seed=0)
    assert env.reset(options={"instance": 9_999})[1]["instance"] == 9_999  # listed or not, as before
    assert {int(env.reset()[1]["instance"]) for _ in range(20)} == {5, 6}
    with pytest.raises(ValueError, match=r"instance 10000 not in the 'train' set; valid: integers 0\.\.9999"):
        env.reset(options={"instance": 10_000})


def _vector_steps(envs, n_steps, n):
    obs, infos = envs.reset(seed=30)
    out, seen = [obs.tobytes(), infos["instance"].tobytes()], set(infos["instance"].tolist())
    for t in range(n_steps):
        obs, rewards, terminated, truncated, infos = envs.step(ACTIONS[n * t: n * t + n])
        out += [obs.tobytes(), rewards.tobytes(), terminated.tobytes(), truncated.tobytes(),
                infos["instance"].tobytes(), infos["train_loss"].tobytes()]
        seen |= set(infos["instance"].tolist())
    return out, seen


def test_vector_env_sub_envs_are_single_envs_with_the_list_across_autoresets():
    n, kwargs = 3, dict(family="mixed", instances=LISTED, **SHORT)
    vec = gym.make_vec("LRControl-v1", n, vectorization_mode="vector_entry_point", instances=LISTED, **SHORT)
    sync = gym.vector.SyncVectorEnv([lambda: LRControlEnv(**kwargs) for _ in range(n)])
    ours, seen = _vector_steps(vec, 25, n)
    assert ours == _vector_steps(sync, 25, n)[0]
    assert seen == set(LISTED)  # 3 × 25 steps of 3-step episodes: ≈ 20 automatic resets
    assert vec.unwrapped.settings.instances == LISTED


def test_builds_ahead_predict_the_listed_instances():
    def run(depth):
        env = LRControlEnv(family="mixed", instances=LISTED, build_ahead=depth, **SHORT)
        out = episodes(lambda e: env.reset(seed=4) if e == 0 else env.reset(), env.step, 10)
        counts = env.build_ahead_counts
        env.close()
        return out, counts

    reference, _ = run(0)
    ours, (hits, misses) = run(2)
    assert ours == reference
    assert (hits, misses) == (9, 1)  # every reset after the first predicted from the list


@pytest.mark.parametrize("make", ["copy", "pickle"])
def test_a_copy_draws_the_same_next_instances(make):
    env = LRControlEnv(family="quadratic", instances=(1, 2, 3), **SHORT)
    env.reset(seed=8)
    twin = copy.deepcopy(env) if make == "copy" else pickle.loads(pickle.dumps(env))
    assert [int(env.reset()[1]["instance"]) for _ in range(10)] == \
        [int(twin.reset()[1]["instance"]) for _ in range(10)]


def test_sb3_adapter_auto_resets_draw_only_listed_instances_as_dummy_vec_env():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.vec_env import DummyVecEnv

    from lrgym.sb3 import make_sb3_vec_env

    kwargs = dict(instances=[10, 21, 32], **SHORT)
    ours = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=3, seed=4, **kwargs)
    dummy = DummyVecEnv([lambda: gym.make("LRControl-LinReg-v1", **kwargs) for _ in range(3)])
    dummy.seed(4)
    assert ours.reset().tobytes() == dummy.reset().tobytes()
    seen = {int(info["instance"]) for info in ours.reset_infos}
    for t in range(20):
        episode_bytes.same_vec_step(ours, dummy, ACTIONS[3 * t: 3 * t + 3])
        seen |= {int(info["instance"]) for info in ours.reset_infos}
    assert seen == {10, 21, 32}
    ours.set_options({"instance": 7})  # SB3's set_options: that one reset only, then the list again
    ours.reset()
    assert [int(i["instance"]) for i in ours.reset_infos] == [7, 7, 7]
    for t in range(6):
        ours.step_async(ACTIONS[:3])
        ours.step_wait()
    assert {int(i["instance"]) for i in ours.reset_infos} <= {10, 21, 32}


BAD = [
    ([], "instances=\\[\\] is empty"),
    ((3, 7, 3), "instances\\[2\\]=3 repeats an earlier seed"),
    ((3, 10_000), "instances\\[1\\]=10000 not in the 'train' set"),
    ([-1], "instances\\[0\\]=-1 not in the 'train' set"),
    (range(9_990, 10_010), "instances\\[19\\]=10009 not in the 'train' set"),
    ([True, 2], "instances\\[0\\]=True is not an integer \\(a bool\\)"),
    ([3.0], "instances\\[0\\]=3.0 is not an integer \\(a float\\)"),
    ({3, 7}, "instances=\\{3, 7\\} is unordered"),
    (5, "instances=5 invalid"),
    ("3,7", "instances='3,7' invalid"),
    ({"a": 3}, "instances=\\{'a': 3\\} invalid"),
    (np.array([1.5, 2.0]), "instances=array\\(\\[1.5, 2. \\]\\) invalid"),
    (np.array([[1, 2]]), "invalid"),
]


@pytest.mark.parametrize("bad, named", BAD)
def test_bad_lists_are_named_with_the_valid_range(bad, named):
    valid = "valid: None \\(the whole set\\) or a non-empty sequence of distinct instance seeds of the 'train' set, " \
            "integers 0\\.\\.9999"
    with pytest.raises(ValueError, match=f"{named}.*; {valid}"):
        gym.make("LRControl-v1", instances=bad)
    with pytest.raises(ValueError, match=named):
        gym.make_vec("LRControl-v1", 2, vectorization_mode="vector_entry_point", instances=bad)


def test_the_range_named_is_the_env_sets_and_arrays_are_taken():
    with pytest.raises(ValueError, match=r"instances\[0\]=5 not in the 'val' set; valid: .* integers 10000\.\.10199"):
        LRControlEnv(instance_set="val", instances=[5])
    env = LRControlEnv(instances=np.array([8, 1], dtype=np.int32))
    assert env.instances == (8, 1) and all(type(k) is int for k in env.instances)


def test_sb3_adapter_names_a_bad_list():
    pytest.importorskip("stable_baselines3")
    from lrgym.sb3 import make_sb3_vec_env

    with pytest.raises(ValueError, match=r"instances\[1\]=20000 not in the 'train' set"):
        make_sb3_vec_env("LRControl-v1", n_envs=2, instances=[1, 20_000])


def test_the_batched_env_refuses_to_set_the_list_on_a_sub_env():
    vec = LRControlVectorEnv(2, instances=(1, 2), **SHORT)
    for name in ("instances", "instance_range"):
        with pytest.raises(ValueError, match=f"set_attr\\('{name}'\\) would have no effect"):
            vec.set_attr(name, (3,))


def test_a_suite_file_may_not_fix_the_list(tmp_path):
    from lrgym.leaderboard.suite_file import SuiteFileError, suite_from_dict

    suite = {"name": "mine", "revision": 1, "instance_set": "val", "seeds": [0],
             "families": [{"family": "linreg", "instances": [10_000]}]}
    for where, edit in (("env_options", {"env_options": {"instances": [10_001]}}),
                        ("families\\[0\\].env_options", {"families": [{**suite["families"][0],
                                                                      "env_options": {"instances": [10_001]}}]})):
        with pytest.raises(SuiteFileError, match=f"{where} sets 'instances', which is the family's instances field"):
            suite_from_dict(json.loads(json.dumps({**suite, **edit})))


def test_a_policy_may_not_choose_the_list():
    from lrgym.leaderboard.settings import SettingsError, check_choices

    with pytest.raises(SettingsError, match="env option\\(s\\) instances are fixed by the suite"):
        check_choices({"instances": [3]})
