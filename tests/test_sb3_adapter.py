"""lrgym.sb3: which ids make_sb3_vec_env takes, and DummyVecEnv's step infos by default."""

import re

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

import lrgym  # noqa: E402,F401  (registers the ids)
from lrgym.info import INFO_KEYS  # noqa: E402
from lrgym.sb3 import make_sb3_vec_env  # noqa: E402

SHORT = dict(horizon=3, inner_steps=2)


@pytest.mark.parametrize("env_id, what", [
    ("CartPole-v1", "is not an lrgym id"),  # registered, another entry point: used to give an LRControl env
    ("LRControl-Nope-v1", "is not a registered id"),
])
@pytest.mark.parametrize("keywords", [{}, {"env_kwargs": {"horizon": 4}}, {"wrapper_class": None}])
def test_non_lrgym_ids_are_refused_naming_the_lrgym_ids(env_id, what, keywords):
    """Whatever else is given: with make_vec_env's own keywords, another env's id was first told to
    write them the adapter's way, then, so written, that it is no lrgym id."""
    with pytest.raises(ValueError, match=what) as raised:
        make_sb3_vec_env(env_id, n_envs=2, **keywords)
    message = str(raised.value)
    assert repr(env_id) in message
    assert all(i in message for i in ("LRControl-v1", "LRControl-LinReg-v1", "LRControl-Recsys-v1"))


def test_module_prefixed_id_is_the_plain_id():
    """gymnasium's and SB3's make_vec_env take 'lrgym:LRControl-v1' (the README's form for tools)."""
    prefixed = make_sb3_vec_env("lrgym:LRControl-Quadratic-v1", n_envs=2, seed=3, **SHORT)
    plain = make_sb3_vec_env("LRControl-Quadratic-v1", n_envs=2, seed=3, **SHORT)
    assert prefixed.get_attr("family")[0].name == "quadratic"
    assert prefixed.reset().tobytes() == plain.reset().tobytes()
    for venv in (prefixed, plain):
        venv.step_async(np.array([4, 0]))
    assert prefixed.step_wait()[0].tobytes() == plain.step_wait()[0].tobytes()


def test_default_step_infos_are_dummy_vec_envs_key_for_key():
    """Without info_keys, every step info holds DummyVecEnv's keys in its order, with its values,
    across automatic resets (a finished sub-env reports its last step, not its reset)."""
    ours = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=3, seed=4, **SHORT)
    dummy = DummyVecEnv([lambda: gym.make("LRControl-LinReg-v1", **SHORT) for _ in range(3)])
    dummy.seed(4)
    assert ours.reset().tobytes() == dummy.reset().tobytes()
    rng = np.random.default_rng(1)
    ended = 0
    for _ in range(7):
        actions = rng.integers(0, 5, size=3)
        ours.step_async(actions)
        dummy.step_async(actions)
        *_, dones, infos = ours.step_wait()
        *_, dummy_dones, dummy_infos = dummy.step_wait()
        assert (dones == dummy_dones).all()
        ended += dones.sum()
        for a, b in zip(infos, dummy_infos):
            assert list(a) == list(b)  # same keys, same order
            assert list(a)[:len(INFO_KEYS)] == list(INFO_KEYS)
            for key in INFO_KEYS:
                assert type(a[key]) is type(b[key]) and a[key] == b[key], key
            assert a["TimeLimit.truncated"] == b["TimeLimit.truncated"]
    assert ended >= 6


def test_info_keys_narrows_the_step_infos():
    lean = make_sb3_vec_env("LRControl-Quadratic-v1", n_envs=2, seed=0, info_keys=(), **SHORT)
    some = make_sb3_vec_env("LRControl-Quadratic-v1", n_envs=2, seed=0, info_keys=("train_loss", "lr"), **SHORT)
    for venv in (lean, some):
        venv.reset()
        venv.step_async(np.array([2, 2]))
    assert list(lean.step_wait()[3][0]) == ["TimeLimit.truncated"]
    info = some.step_wait()[3][0]
    assert list(info) == ["train_loss", "lr", "TimeLimit.truncated"] and isinstance(info["lr"], np.float64)
    assert set(lean.reset_infos[0]) == set(INFO_KEYS)  # reset infos always hold every key


@pytest.mark.parametrize("info_keys, message", [
    ("train_loss", r"info_keys='train_loss' invalid; valid: 'all', \(\) or a sequence of keys from lr, train_loss"),
    (("train_loss", "loss"), r"unknown info_keys \['loss'\]; valid: 'all'"),
    (5, r"info_keys=5 invalid"),
])
def test_bad_info_keys_name_the_valid_choices(info_keys, message):
    with pytest.raises(ValueError, match=message):
        make_sb3_vec_env("LRControl-Quadratic-v1", n_envs=1, info_keys=info_keys)


@pytest.fixture
def time_limited_id():
    """An id of the user's own: LRControlEnv with a TimeLimit of 3 steps before its horizon of 5."""
    env_id = "TimeLimitedLinReg-v0"
    gym.register(env_id, entry_point="lrgym.env:LRControlEnv", max_episode_steps=3,
                 kwargs=dict(family="linreg", horizon=5, inner_steps=2))
    yield env_id
    del gym.registry[env_id]


@pytest.mark.parametrize("override", [None, 4])
def test_a_registered_time_limit_is_kept_as_dummy_vec_env_keeps_it(time_limited_id, override):
    """An id registered with ``max_episode_steps`` truncates its episodes there under
    make_sb3_vec_env as under DummyVecEnv (gym.make's TimeLimit) and gym.make_vec; the keyword
    overrides it, as it does gym.make's. (make_sb3_vec_env dropped it: episodes ran to the horizon.)"""
    limit = {} if override is None else {"max_episode_steps": override}
    ours = make_sb3_vec_env(time_limited_id, n_envs=2, seed=1, **limit)
    dummy = DummyVecEnv([lambda: gym.make(time_limited_id, **limit) for _ in range(2)])
    dummy.seed(1)
    assert ours.reset().tobytes() == dummy.reset().tobytes()
    finished = 0
    for t in range(7):
        actions = np.array([2, 3])
        ours.step_async(actions)
        dummy.step_async(actions)
        (o1, r1, d1, i1), (o2, r2, d2, i2) = ours.step_wait(), dummy.step_wait()
        assert o1.tobytes() == o2.tobytes() and (d1 == d2).all() and r1.tobytes() == r2.tobytes(), t
        assert [i["TimeLimit.truncated"] for i in i1] == [i["TimeLimit.truncated"] for i in i2]
        finished += int(d1.sum())
    assert finished == 2 * (7 // (override or 3))  # the limit, not the horizon (5), ends them


@pytest.mark.parametrize("kwargs, named", [
    ({"autoreset_mode": "NextStep"}, "autoreset_mode='NextStep'"),  # was replaced by SameStep silently
    ({"autoreset_mode": "Disabled"}, "autoreset_mode='Disabled'"),
    ({"n_envs": 0}, "n_envs=0"),  # was named num_envs, a name the caller did not use
    ({"n_envs": True}, "n_envs=True"),
    ({"seed": -1}, "seed=-1 out of range"),  # was taken, and failed at the first reset (gymnasium's error)
    ({"seed": "x"}, "seed='x' is not an integer"),  # was a TypeError of 'x' + 0
    ({"seed": 1.5}, "seed=1.5 is not an integer"),
])
def test_arguments_the_adapter_cannot_honour_are_named(kwargs, named):
    with pytest.raises(ValueError, match=re.escape(named) + ".*valid"):
        make_sb3_vec_env("LRControl-LinReg-v1", **{"n_envs": 2, **kwargs}, **SHORT)
    venv = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=2, autoreset_mode="SameStep", **SHORT)  # SB3's own: fine
    assert venv.venv_gym.autoreset_mode.value == "SameStep"


def test_seed_checks_its_seed_at_once_and_still_offsets_each_sub_env():
    venv = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=2, seed=np.int64(5), **SHORT)
    assert venv.seed(np.int64(7)) == [7, 8]
    with pytest.raises(ValueError, match=re.escape("seed=-3 out of range; valid: an integer >= 0")):
        venv.seed(-3)
    assert venv._seeds == [7, 8]  # a refused seed changes nothing


@pytest.mark.parametrize("action_mode", ["discrete", "log_lr"])
def test_seed_seeds_each_sub_envs_action_space_as_make_vec_env_does(action_mode):
    """make_vec_env(seed=s) seeds env i's action space with s + i (the VecEnv's action_space, which
    SB3 algorithms sample for random exploration when given no seed of their own, is env 0's); the
    adapter seeded none, so their samples differed from make_vec_env's and from run to run."""
    ours = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=3, seed=5, action_mode=action_mode, **SHORT)
    dummy = _dummy_of_make_vec_env("LRControl-LinReg-v1", 3, 5, action_mode=action_mode, **SHORT)
    spaces, dummy_spaces = ours.get_attr("action_space"), dummy.get_attr("action_space")
    assert ours.action_space is spaces[0] and dummy.action_space is dummy_spaces[0]
    for space, dummy_space in zip(spaces, dummy_spaces):
        assert space == dummy_space
        drawn, dummy_drawn = [space.sample() for _ in range(20)], [dummy_space.sample() for _ in range(20)]
        assert np.array_equal(drawn, dummy_drawn)
    # the sub-envs draw apart (seeds s + i)
    assert len({tuple(np.ravel([s.sample() for _ in range(20)])) for s in spaces}) == 3


def _dummy_of_make_vec_env(env_id, n, seed, **env_kwargs):
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(env_id, n_envs=n, seed=seed, env_kwargs=env_kwargs)
    assert isinstance(venv, DummyVecEnv)
    return venv


def _without_monitor(spec):
    """make_vec_env's Monitor adds itself to a spec's additional_wrappers; the adapter has no Monitor
    (VecMonitor goes around it), so the rest of the spec is compared."""
    import dataclasses

    return dataclasses.replace(spec, additional_wrappers=tuple(w for w in spec.additional_wrappers
                                                               if w.name != "Monitor"))


@pytest.mark.parametrize("env_id, kwargs", [("lrgym:LRControl-v1", {}), ("LRControl-Quadratic-v1", SHORT),
                                            ("LRControl-LinReg-v1", {**SHORT, "render_mode": "ansi"})])
def test_render_and_spec_are_make_vec_envs(env_id, kwargs):
    """Side by side with SB3's make_vec_env (a DummyVecEnv of gym.make envs): the render_mode it asks
    an id's envs for (rgb_array unless given), the same tiled frame after the same steps with no
    warning, and get_attr("spec") each env's EnvSpec. (The adapter had render_mode None: render()
    was None with a warning; its specs were [None, None].)"""
    import warnings

    ours = make_sb3_vec_env(env_id, n_envs=2, seed=5, **kwargs)
    dummy = _dummy_of_make_vec_env(env_id, 2, 5, **kwargs)
    assert ours.render_mode == dummy.render_mode == kwargs.get("render_mode", "rgb_array")
    assert ours.get_attr("render_mode") == dummy.get_attr("render_mode")
    assert ours.reset().tobytes() == dummy.reset().tobytes()
    for t in range(4):
        actions = np.array([t % 5, 4 - t % 5])
        ours.step_async(actions)
        dummy.step_async(actions)
        ours.step_wait(), dummy.step_wait()
    def calls(venv):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = venv.render(), venv.get_images(), venv.env_method("render")
        return out, [str(w.message) for w in caught]

    (frame, frames, rendered), said = calls(ours)
    (dummy_frame, dummy_frames, dummy_rendered), dummy_said = calls(dummy)
    assert said == dummy_said  # none with rgb_array; SB3's get_images warning with ansi
    if ours.render_mode == "rgb_array":
        assert not said and frame.shape == dummy_frame.shape and frame.tobytes() == dummy_frame.tobytes()
        assert all(a.tobytes() == b.tobytes() for a, b in zip(frames, dummy_frames))
    else:
        assert frame is dummy_frame is None and frames == dummy_frames == [None, None]
        assert rendered == dummy_rendered and all(isinstance(r, str) and r for r in rendered)
    specs, dummy_specs = ours.get_attr("spec"), dummy.get_attr("spec")
    assert specs[0] is not None and specs[0] is not specs[1]
    assert specs == [_without_monitor(s) for s in dummy_specs]
    plain = DummyVecEnv([lambda: gym.make(env_id, **{"render_mode": "rgb_array", **kwargs}) for _ in range(2)])
    assert specs == plain.get_attr("spec") and ours.get_attr("spec", indices=1) == plain.get_attr("spec", indices=1)


@pytest.mark.parametrize("render_mode", ["rgb_array", "ansi", None])
def test_metadata_is_dummy_vec_envs(render_mode):
    """DummyVecEnv's metadata is its first env's (VecVideoRecorder reads render_fps from it: 4 frames
    a second); the adapter had SB3 VecEnv's default, the render modes alone ('human', none of the
    env's), so a video of it ran at VecVideoRecorder's fallback of 30."""
    ours = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=2, render_mode=render_mode, **SHORT)
    dummy = _dummy_of_make_vec_env("LRControl-LinReg-v1", 2, None, render_mode=render_mode, **SHORT)
    assert ours.metadata == dummy.metadata and ours.metadata["render_fps"] == dummy.metadata["render_fps"]


def test_render_mode_none_is_taken_as_make_vec_env_takes_it():
    ours = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=2, render_mode=None, **SHORT)
    dummy = _dummy_of_make_vec_env("LRControl-LinReg-v1", 2, None, render_mode=None, **SHORT)
    assert ours.render_mode is dummy.render_mode is None
    assert ours.get_attr("spec") == [_without_monitor(s) for s in dummy.get_attr("spec")]
    assert ours.get_attr("spec")[0].kwargs["render_mode"] is None


def test_a_spec_records_the_env_keywords_and_time_limit_not_the_adapters(time_limited_id):
    """The spec is gym.make's for the same keywords: the time limit a keyword sets, the env's own
    keywords; the adapter's own (info_keys, parallel) are no env keywords and are not recorded."""
    ours = make_sb3_vec_env(time_limited_id, n_envs=2, max_episode_steps=4, info_keys=(), horizon=6)
    made = gym.make(time_limited_id, max_episode_steps=4, render_mode="rgb_array", horizon=6)
    assert ours.get_attr("spec") == [made.spec, made.spec]
    assert ours.get_attr("spec")[0].max_episode_steps == 4 and "info_keys" not in ours.get_attr("spec")[0].kwargs


def test_make_vec_envs_own_keywords_are_refused_naming_what_does_their_job():
    """SB3's make_vec_env keywords (``env_kwargs={...}``, ``monitor_dir``, ``wrapper_class``, ...) went
    on to the env and were refused as its keywords (``LRControlVectorEnv() got an unexpected keyword
    argument 'env_kwargs'``; ``num_envs`` a TypeError of two values): an SB3 user swapping
    make_vec_env for the adapter was told the env's keywords, not the way to get what they asked."""
    import inspect

    from stable_baselines3.common.env_util import make_vec_env

    from lrgym.keywords import UnknownKeywordError

    taken = inspect.signature(make_sb3_vec_env).parameters
    theirs = [k for k in inspect.signature(make_vec_env).parameters if k not in taken]
    assert {"env_kwargs", "monitor_dir", "wrapper_class", "vec_env_cls", "start_index"} <= set(theirs)
    for name in [*theirs, "num_envs"]:
        with pytest.raises(UnknownKeywordError,
                           match=rf"^make_sb3_vec_env\(\) got an unexpected keyword argument '{name}'.*valid instead: "):
            make_sb3_vec_env("LRControl-LinReg-v1", n_envs=2, **{name: None}, **SHORT)
    with pytest.raises(ValueError) as raised:
        make_sb3_vec_env("LRControl-LinReg-v1", n_envs=2, env_kwargs={"horizon": 4, "lr_init": 0.5})
    shown = str(raised.value).rsplit(": ", 1)[1]
    assert shown == "make_sb3_vec_env('LRControl-LinReg-v1', n_envs=2, horizon=4, lr_init=0.5)"
    venv = eval(shown)  # the call the message shows makes the env env_kwargs asked for
    assert venv.get_attr("horizon") == [4, 4] and venv.reset().shape == (2, 12)
    assert [float(i["lr"]) for i in venv.reset_infos] == [0.5, 0.5]


@pytest.mark.parametrize("typo, meant", [("n_env", "n_envs"), ("info_key", "info_keys"), ("horizn", "horizon")])
def test_a_misspelt_keyword_is_named_with_what_make_sb3_vec_env_takes(typo, meant):
    """The adapter's keywords were checked as the vector env's: ``n_env`` was told "did you mean
    'num_envs'", which make_sb3_vec_env then refused, ``info_key`` got a list without
    ``info_keys``, and every error named ``LRControlVectorEnv()``, a class the caller never called.
    The reference: the suggestion is taken by the call it was suggested for, and every name the
    error lists is one of make_sb3_vec_env's own keywords or an env keyword (the signatures)."""
    import inspect

    from lrgym.env import LRControlEnv
    from lrgym.keywords import UnknownKeywordError
    from lrgym.vector import LRControlVectorEnv

    with pytest.raises(UnknownKeywordError) as raised:
        make_sb3_vec_env("LRControl-LinReg-v1", n_envs=2, **{typo: 2}, **SHORT)
    message = str(raised.value)
    assert message.startswith(f"make_sb3_vec_env() got an unexpected keyword argument '{typo}' "
                              f"(did you mean '{meant}'?); valid: ")
    valid = message.rsplit("; valid: ", 1)[1].split(", ")
    assert "num_envs" not in valid and {"n_envs", "seed", "info_keys", "horizon", "parallel"} <= set(valid)
    vector_env = set(inspect.signature(LRControlVectorEnv).parameters) - {"num_envs", "env_kwargs"}
    env = set(inspect.signature(LRControlEnv).parameters)
    assert set(valid) <= {"n_envs", "seed", "info_keys"} | vector_env | env
    value = {"n_envs": 2, "info_keys": (), "horizon": 2}[meant]
    venv = make_sb3_vec_env("LRControl-LinReg-v1", **{"n_envs": 2, **SHORT, meant: value})  # the suggestion works
    assert venv.reset().shape == (2, 12)


def test_the_adapter_class_names_itself_and_info_keys_for_a_misspelt_keyword():
    from lrgym.keywords import UnknownKeywordError
    from lrgym.sb3 import LRControlSB3VecEnv

    with pytest.raises(UnknownKeywordError,
                       match=r"^LRControlSB3VecEnv\(\) got an unexpected keyword argument 'info_key' "
                             r"\(did you mean 'info_keys'\?\); valid: num_envs, info_keys, "):
        LRControlSB3VecEnv(2, family="linreg", info_key=(), **SHORT)
    assert LRControlSB3VecEnv(2, family="linreg", info_keys=(), **SHORT).reset().shape == (2, 12)
