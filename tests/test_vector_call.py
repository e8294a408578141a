"""``call`` on the vector env and ``env_method`` on the SB3 adapter: a ``reset`` through them resets
the sub-environments for real (the batched step goes on from the new episodes), step for step as
gymnasium's ``SyncVectorEnv`` and SB3's ``DummyVecEnv`` over the same single envs; calls that
would desynchronise the batched step are refused by name."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import lrgym  # noqa: F401  (registers the ids)

KW = dict(horizon=3, inner_steps=2)


def assert_same(ours, ref, where=""):
    """Equal to the bit: arrays by their bytes (the reference's object arrays of NumPy bools, as
    SyncVectorEnv batches the two flag infos, as our bool arrays), dicts key for key (a vector
    info's array where its ``_key`` mask is set: gymnasium leaves the other entries unspecified),
    scalars by value and type."""
    if isinstance(ref, dict):
        assert isinstance(ours, dict) and ours.keys() == ref.keys(), (where, set(ours) ^ set(ref))
        for key in ref:
            mask = ref.get("_" + key)
            if mask is not None and isinstance(ref[key], np.ndarray):  # a vector info: where its mask is set
                assert_same(ours["_" + key], mask, f"{where}._{key}")
                assert_same(np.asarray(ours[key])[mask], ref[key][mask], f"{where}.{key}")
            else:
                assert_same(ours[key], ref[key], f"{where}.{key}")
    elif isinstance(ref, (tuple, list)):
        assert type(ours) is type(ref) and len(ours) == len(ref), where
        for j, (a, b) in enumerate(zip(ours, ref)):
            assert_same(a, b, f"{where}[{j}]")
    elif isinstance(ref, np.ndarray) and ref.dtype == object:
        ours = np.asarray(ours)
        assert ours.shape == ref.shape, where
        if all(isinstance(v, (bool, np.bool_)) for v in ref.flat):
            assert ours.dtype == np.bool_ and ours.tolist() == [bool(v) for v in ref.flat], where
        else:
            for j, (a, b) in enumerate(zip(ours.flat, ref.flat)):
                assert_same(a, b, f"{where}[{j}]")
    elif isinstance(ref, np.ndarray):
        assert isinstance(ours, np.ndarray) and ours.dtype == ref.dtype and ours.shape == ref.shape, where
        assert ours.tobytes() == ref.tobytes(), (where, ours, ref)
    else:
        assert type(ours) is type(ref), (where, type(ours), type(ref))
        assert np.asarray(ours).tobytes() == np.asarray(ref).tobytes(), (where, ours, ref)


def vector_pair(env_id, n, mode, **kwargs):
    ours = gym.make_vec(env_id, n, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs)
    sync = gym.make_vec(env_id, n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}, **kwargs)
    assert type(sync).__name__ == "SyncVectorEnv"
    return ours, sync


def step_both(ours, sync, actions, where):
    a, b = ours.step(actions), sync.step(actions)
    assert_same(a[:4], b[:4], where)
    assert_same(a[4], b[4], where + " infos")
    return a


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED])
@pytest.mark.parametrize("env_id, extra", [
    ("LRControl-LinReg-v1", {}),
    ("LRControl-Quadratic-v1", {"action_mode": "log_lr", "optimizer": "adam"}),
])
@pytest.mark.parametrize("steps_before", [2, 3])  # mid-episode; right after every episode ended (horizon 3)
def test_call_reset_goes_on_as_sync_vector_env(mode, env_id, extra, steps_before):
    """After ``call("reset", seed=..., options=...)`` every later step (observations, rewards,
    flags, infos) is SyncVectorEnv's to the bit: the new episodes, their instance and step count —
    also where an episode had just ended (NEXT_STEP: the next step still autoresets it, as
    SyncVectorEnv's call leaves its autoreset flags; DISABLED: both refuse that step)."""
    n = 3
    ours, sync = vector_pair(env_id, n, mode, **KW, **extra)
    assert_same(ours.reset(seed=0), sync.reset(seed=0), "reset")
    ours.action_space.seed(1)
    for t in range(steps_before):
        step_both(ours, sync, ours.action_space.sample(), f"before {t}")
    options = {"instance": 42, "lr_init": 0.05}
    got = ours.call("reset", seed=5, options=dict(options))
    want = sync.call("reset", seed=5, options=dict(options))
    assert_same(got, want, "call reset")
    assert [int(info["instance"]) for _, info in got] == [42] * n
    if mode == AutoresetMode.DISABLED and steps_before == 3:  # every episode ended at the last step
        with pytest.raises(AssertionError):
            sync.step(ours.action_space.sample())
        with pytest.raises(RuntimeError, match="reset_mask"):
            ours.step(ours.action_space.sample())
        return
    steps_after = []
    for t in range(7):
        actions = ours.action_space.sample()
        _, _, te, tr, infos = step_both(ours, sync, actions, f"after {t}")
        steps_after.append(infos["step"].tolist())
        done = te | tr
        if mode == AutoresetMode.DISABLED and done.any():
            assert_same(ours.reset(options={"reset_mask": done.copy()}), sync.reset(options={"reset_mask": done.copy()}),
                        f"masked reset {t}")
    if steps_before == 2:  # the call's episodes really started (the old code went on to step 3)
        assert steps_after[0] == [1] * n
    assert_same(tuple(ours.get_attr("instance")), tuple(sync.get_attr("instance")), "get_attr")
    ours.close(), sync.close()


def test_call_reset_returns_and_leaves_what_the_sub_envs_reset_does():
    """The call's (obs, info) per sub-env are the single env's reset values; a bad option raises
    the single env's ValueError and resets nothing (the run goes on as a twin's that never saw
    the call)."""
    ours, sync = vector_pair("LRControl-LinReg-v1", 2, AutoresetMode.NEXT_STEP, **KW)
    twin, _ = vector_pair("LRControl-LinReg-v1", 2, AutoresetMode.NEXT_STEP, **KW)
    for env in (ours, sync, twin):
        env.reset(seed=3)
        env.step(np.array([1, 3]))
    single = gym.make("LRControl-LinReg-v1", **KW)
    got = ours.call("reset", seed=9)
    assert_same(got, sync.call("reset", seed=9), "seeded")
    assert_same(got[1], single.reset(seed=9), "single")
    assert_same(ours.call("reset"), sync.call("reset"), "unseeded")  # both continue the seeded generators  # both continue the seeded generators
    with pytest.raises(ValueError, match="instance 99999 not in the 'train' set"):
        twin.call("reset", seed=1, options={"instance": 99999})
    ours.reset(seed=3)
    ours.step(np.array([1, 3]))
    for _ in range(4):
        assert_same(twin.step(np.array([2, 4])), ours.step(np.array([2, 4])), "twin")


def sb3_pair(n, **kwargs):
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.vec_env import DummyVecEnv

    from lrgym.sb3 import make_sb3_vec_env

    ours = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=n, seed=4, **kwargs)
    dummy = DummyVecEnv([lambda: gym.make("LRControl-LinReg-v1", **kwargs) for _ in range(n)])
    dummy.seed(4)
    assert_same(ours.reset(), dummy.reset(), "reset")
    return ours, dummy


def sb3_step_both(ours, dummy, actions, where):
    a, b = ours.step(actions), dummy.step(actions)
    assert_same(a[:3], b[:3], where)
    assert_same(a[3], b[3], where + " infos")  # every info key, terminal_observation included
    return a


@pytest.mark.parametrize("indices", [None, [0, 2], 1, -1, np.array([2, 0])])
def test_env_method_reset_goes_on_as_dummy_vec_env(indices):
    """``env_method("reset", ..., indices=...)`` resets exactly those sub-envs for real, as
    DummyVecEnv's does: the returns, every later step and the reset infos are DummyVecEnv's."""
    ours, dummy = sb3_pair(3, **KW)
    rng = np.random.default_rng(0)
    for t in range(2):
        sb3_step_both(ours, dummy, rng.integers(0, 5, size=3), f"before {t}")
    options = {"instance": 42}
    got = ours.env_method("reset", seed=5, options=dict(options), indices=indices)
    want = dummy.env_method("reset", seed=5, options=dict(options), indices=indices)
    assert_same(got, want, "env_method reset")
    for t in range(7):
        sb3_step_both(ours, dummy, rng.integers(0, 5, size=3), f"after {t}")
        assert_same(ours.reset_infos, dummy.reset_infos, f"reset_infos {t}")
    assert ours.get_attr("instance") == dummy.get_attr("instance")
    ours.close(), dummy.close()


def test_env_method_indices_out_of_range_raise_as_dummy_vec_env():
    ours, dummy = sb3_pair(2, **KW)
    for bad in ([2], 5, [-3]):
        with pytest.raises(IndexError):
            dummy.env_method("lr_to_action", 0.1, indices=bad)
        with pytest.raises(IndexError, match="out of range; valid: None, an int or a sequence of ints in -2..1"):
            ours.env_method("lr_to_action", 0.1, indices=bad)
    assert_same(ours.env_method("lr_to_action", 0.1, indices=[-1]), dummy.env_method("lr_to_action", 0.1, indices=[-1]),
                "negative index")


def test_calls_that_would_desynchronise_the_batched_step_are_refused_by_name():
    """``step`` (and the vector env's own hooks, private methods, an attribute setter given a
    step-state attribute) through ``call`` / ``env_method`` raise ValueError naming the method and
    what to use instead, and change nothing: the run goes on as a twin's that never saw them.
    Harmless methods and attributes still pass through, with SyncVectorEnv's values."""
    ours, sync = vector_pair("LRControl-LinReg-v1", 2, AutoresetMode.NEXT_STEP, **KW)
    twin, _ = vector_pair("LRControl-LinReg-v1", 2, AutoresetMode.NEXT_STEP, **KW)
    for env in (ours, sync, twin):
        env.reset(seed=7)
        env.step(np.array([0, 4]))
    refused = [
        (("step", 2), r"call\('step'\) refused: .*desynchronise.*valid: the vector env's step\(actions\)"),
        (("load_step",), r"call\('load_step'\) refused"),
        (("record_step", {}), r"call\('record_step'\) refused"),
        (("_bind_kernel",), r"call\('_bind_kernel'\) refused: a private method.*valid: a public method"),
        (("__setstate__", {}), r"call\('__setstate__'\) refused"),
        (("set_wrapper_attr", "lr", 0.5), r"set_attr\('lr'\) would have no effect.*valid:"),
        (("__setattr__", "t", 0), r"set_attr\('t'\) would have no effect"),
    ]
    for args, message in refused:
        with pytest.raises(ValueError, match=message):
            ours.call(*args)
    assert_same(ours.call("lr_to_action", 0.01), sync.call("lr_to_action", 0.01), "lr_to_action")
    assert_same(ours.call("horizon"), sync.call("horizon"), "attribute")
    assert_same(ours.call("set_wrapper_attr", "level", 3), sync.call("set_wrapper_attr", "level", 3), "own attribute")
    assert ours.get_attr("level") == (3, 3)
    for _ in range(5):
        assert_same(ours.step(np.array([1, 2])), twin.step(np.array([1, 2])), "twin")
    venv, _ = sb3_pair(2, **KW)
    with pytest.raises(ValueError, match=r"env_method\('step'\) refused: .*valid: .*venv.step\(actions\)"):
        venv.env_method("step", 2, indices=[0])
    ours.close(), sync.close(), twin.close(), venv.close()


@pytest.mark.parametrize("env_id, kwargs", [
    ("LRControl-v1", {}),
    ("LRControl-Digits-v1", {"horizon": 7, "family_options": {"hidden": 16}}),
    ("LRControl-Quadratic-v1", {"max_episode_steps": 5, "optimizer": "adam"}),
])
def test_get_attr_spec_is_each_sub_envs_spec_as_sync_vector_envs(env_id, kwargs):
    """``get_attr("spec")`` of ``gym.make_vec``'s native vector env: each sub-environment's
    ``EnvSpec`` as ``SyncVectorEnv``'s sub-environments (made by ``gym.make``: the reference)
    have it, the id's own data set (Digits') kept (each was None); ``gym.make`` of it makes the
    same env; the vector env's own spec is untouched (``num_envs``, ``vectorization_mode``)."""
    ours = gym.make_vec(env_id, 2, vectorization_mode="vector_entry_point", **kwargs)
    sync = gym.make_vec(env_id, 2, vectorization_mode="sync", **kwargs)
    try:
        specs, reference = ours.get_attr("spec"), sync.get_attr("spec")
        assert specs == reference and all(s is not None for s in specs)
        assert specs[0] is not specs[1]  # each sub-environment's own
        assert ours.spec.kwargs["num_envs"] == 2 and ours.spec.kwargs["vectorization_mode"] == "vector_entry_point"
        single = gym.make(specs[0])
        assert single.spec == reference[0]
        single.close()
    finally:
        ours.close()
        sync.close()
