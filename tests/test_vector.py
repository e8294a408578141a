"""LRControlVectorEnv: bit-exact agreement with single envs, autoreset modes, gymnasium's vector API."""

import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import lrgym
from lrgym.env import LRControlEnv
from lrgym.tasks.batched import FALLBACK, kind_of
from lrgym.tasks.linreg import LinRegFamily, LinRegTask
from lrgym.vector import LRControlVectorEnv

SHORT = dict(horizon=4, inner_steps=3)

FAMILIES = {
    "linreg": dict(family="linreg"),
    "quadratic": dict(family="quadratic"),
    "mlp": dict(family="mlp", family_options=dict(n_train=512, hidden=16, input_dim=8)),
    "recsys": dict(family="recsys", family_options=dict(n_users=200, n_items=100, rank=4)),
    "mixed": dict(family="mixed", family_options=dict(
        member_options={
            "mlp": dict(n_train=512, hidden=16, input_dim=8),
            "recsys": dict(n_users=200, n_items=100, rank=4),
        },
    )),
}


def random_actions(space, rng, n):
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(0, space.n, size=n)
    return rng.uniform(-1, 1, size=(n, 1)).astype(np.float32)


def assert_info_matches(vec_infos, i, single_info):
    for key, value in single_info.items():
        assert vec_infos[f"_{key}"][i], key
        got = vec_infos[key][i]
        if isinstance(value, float) and np.isnan(value):
            assert np.isnan(got), key
        else:
            assert got == value, (key, got, value)
            assert type(got.item() if isinstance(got, np.generic) else got) is type(
                value.item() if isinstance(value, np.generic) else value
            ) or isinstance(value, (np.floating, float)), key


def lockstep(kwargs, n=5, steps=14, seed=100, action_seed=0, **vec_kwargs):
    """Step a vector env and n single envs with the same seeds and actions; compare everything."""
    vec = LRControlVectorEnv(n, **kwargs, **vec_kwargs)
    singles = [LRControlEnv(**kwargs) for _ in range(n)]
    obs, infos = vec.reset(seed=seed)
    for i, env in enumerate(singles):
        o, info = env.reset(seed=seed + i)
        assert o.tobytes() == obs[i].tobytes()
        assert_info_matches(infos, i, info)
    rng = np.random.default_rng(action_seed)
    finished = np.zeros(n, dtype=bool)
    n_resets = 0
    for _ in range(steps):
        actions = random_actions(singles[0].action_space, rng, n)
        obs, rewards, terminated, truncated, infos = vec.step(actions)
        for i, env in enumerate(singles):
            if finished[i]:  # NEXT_STEP autoreset: this step resets sub-env i
                o, info = env.reset()
                r, te, tr = 0.0, False, False
                n_resets += 1
            else:
                o, r, te, tr, info = env.step(actions[i])
            assert o.tobytes() == obs[i].tobytes(), i
            assert (r, te, tr) == (rewards[i], terminated[i], truncated[i]), i
            assert_info_matches(infos, i, info)
            finished[i] = te or tr
    return vec, n_resets


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("mode", ["discrete", "log_lr"])
def test_vector_env_reproduces_single_envs_bit_exactly_across_autoresets(family, mode):
    vec, n_resets = lockstep({**FAMILIES[family], **SHORT, "action_mode": mode}, n=6 if family == "mixed" else 5)
    assert n_resets >= 5
    if family == "mixed":  # several kernel kinds stepped in one vector step
        assert len({kind for kind, n in vec.kernel_groups() if n}) >= 3


@pytest.mark.parametrize("optimizer", ["adam", {"name": "momentum", "clip_norm": 0.5, "weight_decay": 1e-3}])
def test_optimizers_and_rewards_match(optimizer):
    lockstep({"family": "linreg", **SHORT, "optimizer": optimizer, "reward": "sign_delta"}, n=3, steps=9)


def test_heterogeneous_instances_share_one_call():
    vec, _ = lockstep({"family": "linreg", **SHORT}, n=8, steps=6)
    dims = {env.task.n_params for env in vec.envs}
    assert len(dims) > 3  # different sizes in the same batched call
    finite = [n for kind, n in vec.kernel_groups() if kind == "linreg_finite" and n]
    assert len(finite) == 1 and finite[0] >= 4


def test_parallel_gives_the_same_trajectories():
    lockstep({"family": "linreg", **SHORT}, n=6, steps=9, parallel=True)


def test_divergence_terminates_and_autoresets():
    # lr = lr_max = 10 diverges every family member at once
    kwargs = dict(family="quadratic", family_options=dict(scale=10.0), horizon=20, inner_steps=5, action_mode="log_lr")
    vec = LRControlVectorEnv(3, **kwargs)
    single = LRControlEnv(**kwargs)
    vec.reset(seed=7)
    single.reset(seed=7)
    actions = np.ones((3, 1), dtype=np.float32)
    _, r, te, tr, infos = vec.step(actions)
    o1, r1, te1, tr1, i1 = single.step(actions[0])
    assert te.all() and not tr.any() and infos["diverged"].all()
    assert (r[0], te[0]) == (r1, te1)
    obs, r, te, tr, infos = vec.step(actions)  # autoreset step
    assert (r == 0).all() and not te.any() and (infos["step"] == 0).all() and infos["_horizon"].all()
    o, info = single.reset()
    assert obs[0].tobytes() == o.tobytes()


def test_rejection_threshold_matches_single_env():
    lockstep({"family": "linreg", **SHORT, "rejection_threshold": 0.0, "action_mode": "log_lr"}, n=3, steps=8)


def test_fallback_for_unknown_task_classes():
    calls = []

    class SlowTask(LinRegTask):  # a subclass that overrides run: no compiled kind
        def run(self, state, lr, n_updates, opt, hyper, loss_cap, stats):
            calls.append(lr)
            super().run(state, lr, n_updates, opt, hyper, loss_cap, stats)

    class SlowFamily(LinRegFamily):
        def build(self, spec):
            return SlowTask(spec)

    family = SlowFamily(dim=5, streaming=False, dataset="synthetic")
    assert kind_of(family.build(family.sample(0))) is FALLBACK
    lockstep({"family": family, **SHORT}, n=3, steps=6)
    assert calls  # the vector env went through the override


def test_subclass_keeping_the_kernel_call_is_batched():
    """A KernelTask subclass that keeps run() runs the family's compiled kind (its own
    kernel_item is the one argument list), and still matches single envs to the bit."""

    class SameTask(LinRegTask):
        pass

    class SameFamily(LinRegFamily):
        def build(self, spec):
            return SameTask(spec)

    family = SameFamily(dim=5, streaming=False, dataset="synthetic")
    task = family.build(family.sample(0))
    assert kind_of(task).name == "linreg_finite" and kind_of(task).kernel is task.kernel
    lockstep({"family": family, **SHORT}, n=3, steps=6)


def test_seeds_int_list_and_reset_mask():
    vec = LRControlVectorEnv(3, family="quadratic", **SHORT)
    a, _ = vec.reset(seed=[5, 6, 7])
    b, _ = vec.reset(seed=5)
    assert a.tobytes() == b.tobytes()
    single = LRControlEnv(family="quadratic", **SHORT)
    assert single.reset(seed=6)[0].tobytes() == a[1].tobytes()
    c, infos = vec.reset(seed=[None, 9, None], options={"reset_mask": np.array([False, True, False])})
    assert c[1].tobytes() == single.reset(seed=9)[0].tobytes()
    assert c[0].tobytes() == a[0].tobytes() and list(infos["_lr"]) == [False, True, False]
    with pytest.raises(ValueError, match="num_envs=3"):
        vec.reset(seed=[1, 2])


def test_per_env_instances_option():
    vec = LRControlVectorEnv(3, family="linreg", **SHORT)
    _, infos = vec.reset(seed=0, options={"instance": [3, 4, 3]})
    assert list(infos["instance"]) == [3, 4, 3]
    _, infos = vec.reset(seed=0, options={"instance": 11})
    assert list(infos["instance"]) == [11, 11, 11]
    assert vec.envs[0].task is vec.envs[2].task  # built once, shared
    for bad in (b"abc", "abc", bytearray(b"xyz"), {0: 1, 1: 2, 2: 3}):  # an audit: b"abc" was seeds 97, 98, 99
        with pytest.raises(ValueError, match=r"options\['instance'\]=.* invalid; valid: one instance seed or a sequence of 3"):
            vec.reset(seed=0, options={"instance": bad})


def test_same_step_autoreset_mode():
    kwargs = dict(family="linreg", horizon=3, inner_steps=2)
    vec = LRControlVectorEnv(2, autoreset_mode="SameStep", **kwargs)
    assert vec.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    singles = [LRControlEnv(**kwargs) for _ in range(2)]
    vec.reset(seed=3)
    for i, env in enumerate(singles):
        env.reset(seed=3 + i)
    for t in range(3):
        obs, r, te, tr, infos = vec.step(np.array([2, 3]))
        steps = [env.step(a) for env, a in zip(singles, (2, 3))]
    assert tr.all() and infos["_final_obs"].all()
    for i, (o, rew, _, _, info) in enumerate(steps):
        assert infos["final_obs"][i].tobytes() == o.tobytes() and r[i] == rew
        assert infos["final_info"]["train_loss"][i] == info["train_loss"]
        o2, _ = singles[i].reset()
        assert obs[i].tobytes() == o2.tobytes() and infos["step"][i] == 0


def test_disabled_autoreset_requires_reset_mask():
    vec = LRControlVectorEnv(2, autoreset_mode=AutoresetMode.DISABLED, family="quadratic", horizon=2, inner_steps=1)
    vec.reset(seed=0)
    vec.step(np.array([2, 2]))
    _, _, _, tr, _ = vec.step(np.array([2, 2]))
    assert tr.all()
    with pytest.raises(RuntimeError, match="reset_mask"):
        vec.step(np.array([2, 2]))
    vec.reset(options={"reset_mask": np.array([True, True])})
    vec.step(np.array([2, 2]))


def test_bad_actions_raise_and_change_nothing():
    vec = LRControlVectorEnv(2, family="quadratic", **SHORT)
    with pytest.raises(RuntimeError, match="reset"):
        vec.step(np.array([2, 2]))
    vec.reset(seed=0)
    lr = vec._lr.copy()
    for bad in (np.array([2, 5]), np.array([2.5, 1.0]), np.array([2]), np.array(["a", "b"])):
        with pytest.raises(ValueError, match="valid"):
            vec.step(bad)
    assert (vec._lr == lr).all() and (vec._t == 0).all()
    vec = LRControlVectorEnv(2, family="quadratic", action_mode="log_lr", **SHORT)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="NaN"):
        vec.step(np.array([[0.0], [np.nan]], dtype=np.float32))
    with pytest.raises(ValueError, match="out of range"):
        LRControlVectorEnv(0)
    with pytest.raises(ValueError, match="autoreset_mode"):
        LRControlVectorEnv(1, autoreset_mode="sometimes")



@pytest.mark.parametrize("seed, options", [
    (None, {"instance": [1, 2, -3]}),  # the third sub-env's instance is bad
    ([5, 6, -1], None),  # the third seed is bad (gymnasium's seeding refuses it)
    (7, {"lr_init": 100.0}),
    (7, {"instance": True}),
    (7, 5),
    (1.5, None),  # a float seed: was "TypeError: 'float' object is not iterable" (a gymnasium user's audit)
    ("ab", None),  # a str: was read as one seed per character (here: "length=2", not the seed's type)
    (np.array(5), None),  # a 0-d array: was "TypeError: iteration over a 0-d array"
], ids=repr)
def test_a_refused_vector_reset_resets_no_sub_env(seed, options):
    """A reset refused for any sub-environment resets none (it used to reset those before the
    bad one, and half-reset that one), like a twin that never saw the call."""
    vec, twin = (LRControlVectorEnv(3, family="linreg", **SHORT) for _ in range(2))
    for v in (vec, twin):
        v.reset(seed=0)
        v.step(np.array([4, 0, 2]))
    with pytest.raises((ValueError, gym.error.Error), match="valid|Seed must be"):
        vec.reset(seed=seed, options=options)
    assert vec.get_attr("instance") == twin.get_attr("instance")
    assert [g.bit_generator.state for g in vec.np_random] == [g.bit_generator.state for g in twin.np_random]
    for actions in ([1, 3, 2], [2, 2, 2], [0, 4, 1]):
        got, expected = vec.step(np.array(actions)), twin.step(np.array(actions))
        assert got[0].tobytes() == expected[0].tobytes()
        assert all((a == b).all() for a, b in zip(got[1:4], expected[1:4]))



@pytest.mark.parametrize("autoreset_mode", ["NextStep", "SameStep"])
def test_step_infos_are_the_callers_own_to_edit(autoreset_mode):
    """Every info array a step returns is writeable and shares no memory with another array of the
    infos or with a later step's, as SyncVectorEnv's are (a gymnasium user's audit: the constant
    keys, ``family`` and ``instance`` were shared read-only arrays, ``infos["horizon"][0] = 0``
    raised, and every ``_key`` mask was one array, so clearing ``_lr`` cleared them all). Edits
    change nothing the env returns later: a twin that nobody edits returns the same steps."""
    vec, twin = (LRControlVectorEnv(3, family="linreg", autoreset_mode=autoreset_mode, horizon=2, inner_steps=2)
                 for _ in range(2))
    vec.reset(seed=0)
    twin.reset(seed=0)
    kept = []
    for t in range(5):  # autoresets at steps 2 and 4 (NEXT_STEP: 3 and 5)
        got, expected = vec.step(np.array([1, 2, 3])), twin.step(np.array([1, 2, 3]))
        for a, b in zip(got[:4], expected[:4]):
            assert a.tobytes() == b.tobytes()
        infos = got[4]
        assert infos.keys() == expected[4].keys()
        columns = [(key, value) for key, value in infos.items() if isinstance(value, np.ndarray) and value.dtype != object]
        for key, value in columns:
            np.testing.assert_array_equal(value, expected[4][key], err_msg=f"step {t} {key}")
            assert value.flags.writeable, (t, key)
        for k, (key, value) in enumerate(columns):
            for other_key, other in columns[k + 1:] + [(f"step {s} {o}", c) for s, cols in enumerate(kept) for o, c in cols]:
                assert not np.shares_memory(value, other), (t, key, other_key)
        kept.append(columns)
        for key, value in columns:  # edit everything in place: the next steps must not see it
            value[...] = not value.flat[0] if value.dtype == np.bool_ else 7


@pytest.mark.parametrize("kwargs, named", [
    ({"num_envs": True}, "num_envs=True"),  # was one sub-environment
    ({"max_episode_steps": True}, "max_episode_steps=True"),  # was 1
    ({"parallel": "no"}, "parallel='no'"),  # was True (a non-empty string)
    ({"parallel": 0}, "parallel=0"),
])
def test_vector_arguments_of_the_wrong_kind_are_named(kwargs, named):
    """The vector env's own arguments follow the settings' rule: a bool is not a number, and
    ``parallel`` is a bool (anything truthy used to turn it on)."""
    kwargs = {"num_envs": 2, **kwargs}
    with pytest.raises(ValueError, match=re.escape(named) + ".*valid"):
        LRControlVectorEnv(kwargs.pop("num_envs"), family="linreg", **kwargs)
    assert LRControlVectorEnv(2, family="linreg", parallel=np.True_, max_episode_steps=np.int64(3)).parallel is True



@pytest.mark.parametrize("family", ["linreg", "mixed"])
@pytest.mark.parametrize("copy_of", ["pickle", "deepcopy"])
def test_a_copied_vector_env_continues_as_the_original(family, copy_of):
    """pickle / copy.deepcopy of a vector env mid-episode (as of gymnasium's SyncVectorEnv over
    the same envs) continues to the bit as the original, across autoresets, on its own state:
    stepping the copy leaves the original alone. (It raised: the compiled kernels' argument lists
    do not pickle; they are rebuilt.)"""
    import copy
    import pickle

    kwargs = {**FAMILIES[family], "horizon": 4, "inner_steps": 2}
    vec, twin = LRControlVectorEnv(3, **kwargs), LRControlVectorEnv(3, **kwargs)
    actions = np.random.default_rng(0).integers(0, 5, size=(12, 3))
    for v in (vec, twin):
        v.reset(seed=2)
        for a in actions[:3]:
            v.step(a)
    clone = pickle.loads(pickle.dumps(vec)) if copy_of == "pickle" else copy.deepcopy(vec)
    clone_steps = [clone.step(a) for a in actions[3:]]  # first: the original must not see them
    for got, a in zip(clone_steps, actions[3:]):
        expected, original = twin.step(a), vec.step(a)
        for out in (got, original):
            assert out[0].tobytes() == expected[0].tobytes() and out[1].tobytes() == expected[1].tobytes()
            assert (out[2] == expected[2]).all() and (out[3] == expected[3]).all()
            for key in ("train_loss", "instance", "step"):
                assert out[4][key].tobytes() == expected[4][key].tobytes(), key


# ---- gymnasium's vector API -----------------------------------------------------------------


@pytest.mark.parametrize("env_id", sorted(lrgym.ENV_IDS))
def test_make_vec_vector_entry_point_without_warnings(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        envs = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", **SHORT)
    assert isinstance(envs.unwrapped, LRControlVectorEnv)
    assert envs.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert envs.spec.id == env_id and envs.num_envs == 3
    obs, infos = envs.reset(seed=1)
    assert envs.observation_space.contains(obs) and obs.dtype == np.float32
    envs.action_space.seed(0)
    for _ in range(6):
        actions = envs.action_space.sample()
        assert envs.action_space.contains(actions)
        obs2, rewards, terminated, truncated, infos = envs.step(actions)
        assert envs.observation_space.contains(obs2)
        assert obs2 is not obs and not np.shares_memory(obs, obs2)  # returned data not reused
        assert rewards.dtype == np.float64 and terminated.dtype == truncated.dtype == np.bool_
        obs = obs2
    envs.close()


def test_vector_env_determinism_and_default_is_gym_make_vec():
    def run():
        envs = gym.make_vec("LRControl-LinReg-v1", num_envs=4, **SHORT)
        assert isinstance(envs.unwrapped, LRControlVectorEnv)  # vector entry point is the default
        obs, _ = envs.reset(seed=11)
        out = [obs]
        for a in np.random.default_rng(0).integers(0, 5, size=(7, 4)):
            out.append(envs.step(a)[0])
        return np.stack(out)

    assert run().tobytes() == run().tobytes()


def test_gymnasium_vector_wrappers_work():
    from gymnasium.wrappers.vector import DictInfoToList, NormalizeObservation, RecordEpisodeStatistics

    envs = gym.make_vec("LRControl-Quadratic-v1", num_envs=3, horizon=3, inner_steps=2)
    envs = RecordEpisodeStatistics(NormalizeObservation(envs))
    envs = DictInfoToList(envs)
    envs.reset(seed=0)
    episodes = 0
    for _ in range(8):
        _, _, te, tr, infos = envs.step(envs.action_space.sample())
        assert isinstance(infos, list) and len(infos) == 3
        episodes += sum("episode" in info for info in infos)
    assert episodes >= 3


def assert_same_info(got, want):
    """A single env's info, key for key in order, each value of the same type and bytes (NaN too)."""
    assert list(got) == list(want)
    for key, value in want.items():
        assert type(got[key]) is type(value) and np.asarray(got[key]).tobytes() == np.asarray(value).tobytes(), key


@pytest.mark.parametrize("env_id", ["LRControl-LinReg-v1", "LRControl-Quadratic-v1"])
def test_max_episode_steps_at_the_horizon_serves_time_aware_observation_and_changes_no_step(env_id):
    """No id registers ``max_episode_steps`` (it would cut a longer ``horizon`` short), so
    gymnasium's TimeAwareObservation refuses the plain env; ``gym.make(id, max_episode_steps=horizon)``
    (README, The environment) serves it and changes no step: observations, rewards, flags and infos
    are the plain env's to the bit across episodes, the time feature is the step count. One
    difference, TimeLimit's own rule: an episode that diverges at its last step is reported
    truncated as well as terminated."""
    from gymnasium.wrappers import TimeAwareObservation

    h = 6
    with pytest.raises(ValueError, match="max_episode_steps"):
        TimeAwareObservation(gym.make(env_id, horizon=h))
    plain = gym.make(env_id, horizon=h, action_mode="log_lr")
    limited = gym.make(env_id, horizon=h, action_mode="log_lr", max_episode_steps=h)
    timed = TimeAwareObservation(gym.make(env_id, horizon=h, action_mode="log_lr", max_episode_steps=h))
    assert plain.spec.max_episode_steps is None and limited.spec.max_episode_steps == h
    rng = np.random.default_rng(0)
    for seed in range(3):
        (o1, i1), (o2, i2), (o3, i3) = plain.reset(seed=seed), limited.reset(seed=seed), timed.reset(seed=seed)
        assert o1.tobytes() == o2.tobytes() and o3.tobytes() == np.append(o1.astype(np.float64), 0.0).tobytes()
        assert_same_info(i2, i1), assert_same_info(i3, i1)
        for t in range(1, h + 1):
            action = rng.uniform(-0.6, 0.2, size=1).astype(np.float32)
            a, b, c = plain.step(action), limited.step(action), timed.step(action)
            assert a[0].tobytes() == b[0].tobytes() and c[0].tobytes() == np.append(a[0].astype(np.float64), t).tobytes()
            assert a[1:4] == b[1:4] == c[1:4] and type(a[1]) is type(b[1]) is float
            assert_same_info(b[4], a[4]), assert_same_info(c[4], a[4])
            if a[2] or a[3]:
                break
        assert a[3] or a[2]  # every episode ended at the horizon (or diverged) in all three
    # the one difference: divergence at the last step (LR 10 on a horizon of 1)
    plain, limited = (gym.make(env_id, horizon=1, action_mode="log_lr", **kw) for kw in ({}, {"max_episode_steps": 1}))
    flags = []
    for env in (plain, limited):
        env.reset(seed=0, options={"lr_init": 10.0})
        flags.append(env.step(np.array([1.0], dtype=np.float32))[2:4])
    assert flags == [(True, False), (True, True)]



def same_vector_output(ours, theirs, where: str) -> None:
    """One reset's or step's output of two vector envs, to the bit: arrays equal, every info key's
    mask equal and its values equal where the mask is set (SyncVectorEnv leaves the others
    unset: 0, or None in the object arrays it makes of the ``np.bool_`` flags); nested dicts
    (``final_info``) alike; ``final_obs`` None where no episode ended."""
    if isinstance(ours, dict):
        assert set(ours) == set(theirs), where
        for key, value in ours.items():
            mask = ours.get("_" + key)
            if key.startswith("_") or isinstance(value, dict) or mask is None:
                same_vector_output(value, theirs[key], f"{where} {key}")
            else:
                assert (mask == theirs["_" + key]).all(), f"{where} _{key}"
                for i in np.flatnonzero(mask):
                    same_vector_output(value[i], theirs[key][i], f"{where} {key}[{i}]")
    elif isinstance(ours, tuple):
        for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            same_vector_output(a, b, f"{where} [{k}]")
    elif isinstance(ours, np.ndarray) and ours.dtype == object:
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert (a is None) == (b is None), f"{where}[{i}]"
            if a is not None:
                same_vector_output(a, b, f"{where}[{i}]")
    else:
        a, b = np.asarray(ours), np.asarray(theirs)
        assert a.shape == b.shape and a.tobytes() == b.astype(a.dtype).tobytes(), (where, a, b)


@pytest.mark.parametrize("mode", list(AutoresetMode))
@pytest.mark.parametrize("env_id, kwargs", [
    ("LRControl-LinReg-v1", dict(horizon=3, inner_steps=2)),
    ("LRControl-Quadratic-v1", dict(horizon=4, inner_steps=2, max_episode_steps=2)),
    ("LRControl-LinReg-v1", dict(horizon=3, inner_steps=2, max_episode_steps=3, lr_init=2.0)),  # diverges, often at the limit
])
def test_each_autoreset_mode_is_sync_vector_envs_over_the_single_envs(mode, env_id, kwargs):
    """The vector entry point in each autoreset mode against gymnasium's own SyncVectorEnv in
    that mode over ``gym.make`` envs: every reset and step to the bit — episodes ending at
    different steps, by the horizon, by ``max_episode_steps`` (TimeLimit) or by divergence,
    SAME_STEP's ``final_obs`` / ``final_info``, masked resets with their own seeds and options,
    and DISABLED's masked restarts."""
    n, rng = 3, np.random.default_rng(5)
    ours = gym.make_vec(env_id, n, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs)
    theirs = gym.make_vec(env_id, n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}, **kwargs)
    assert ours.metadata["autoreset_mode"] is theirs.metadata["autoreset_mode"] is mode
    same_vector_output(ours.reset(seed=11), theirs.reset(seed=11), "reset")
    finished, ended = np.zeros(n, dtype=bool), 0
    for t in range(24):
        if t % 7 == 6:  # a masked reset, its own seeds and start LR
            mask = np.arange(n) == t % n
            options = {"reset_mask": mask, "lr_init": 0.01}
            same_vector_output(ours.reset(seed=[t, t + 1, t + 2], options=dict(options)),
                               theirs.reset(seed=[t, t + 1, t + 2], options=dict(options)), f"t={t} masked reset")
            finished[mask] = False
            continue
        if mode is AutoresetMode.DISABLED and finished.any():
            same_vector_output(ours.reset(options={"reset_mask": finished.copy()}),
                               theirs.reset(options={"reset_mask": finished.copy()}), f"t={t} restart")
        actions = rng.integers(5, size=n)
        step = ours.step(actions)
        same_vector_output(step, theirs.step(actions), f"t={t} step")
        finished = step[2] | step[3]
        ended += int(finished.sum())
    assert ended >= 6


def test_max_episode_steps_below_the_horizon_cuts_episodes_the_env_still_counts_to_its_horizon():
    """What the README (The environment, Episode end) warns of: ``max_episode_steps`` below
    ``horizon`` cuts the episode (gym.make's TimeLimit, the vector env's own limit alike), but the
    episode goes on as if it had its whole horizon: ``progress`` ends at k/horizon,
    ``info["horizon"]`` says the horizon, and ``reward="final"`` (paid at the horizon) pays 0;
    ``horizon=k`` gives the short episode its progress and its final reward."""
    from lrgym.features import FEATURE_NAMES

    progress = FEATURE_NAMES.index("progress")
    k, h = 3, 8
    kw = dict(reward="final", inner_steps=2)
    single = gym.make("LRControl-LinReg-v1", horizon=h, max_episode_steps=k, **kw)
    vec = gym.make_vec("LRControl-LinReg-v1", 2, vectorization_mode="vector_entry_point", horizon=h,
                       max_episode_steps=k, **kw)
    short = gym.make("LRControl-LinReg-v1", horizon=k, **kw)
    for env in (single, vec, short):
        env.reset(seed=0)
    rewards = {"single": [], "vec": [], "short": []}
    for t in range(1, k + 1):
        o, r, te, tr, info = single.step(2)
        rewards["single"].append(r)
        vo, vr, vte, vtr, vinfo = vec.step(np.array([2, 2]))
        rewards["vec"].append(vr)
        so, sr, _, _, sinfo = short.step(2)
        rewards["short"].append(sr)
        assert (te, tr) == (False, t == k) and not vte.any() and (vtr == (t == k)).all()
        assert o[progress] == np.float32(t / h) and (vo[:, progress] == np.float32(t / h)).all()
        assert so[progress] == np.float32(t / k)
        assert info["horizon"] == h and (vinfo["horizon"] == h).all() and sinfo["horizon"] == k
    assert rewards["single"] == [0.0] * k and (np.array(rewards["vec"]) == 0.0).all()
    assert rewards["short"][:-1] == [0.0] * (k - 1) and rewards["short"][-1] > 0.0  # the run's log(L0/LT)

# ---- Stable-Baselines3 adapter --------------------------------------------------------------


def test_sb3_adapter_matches_dummy_vec_env():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.vec_env import DummyVecEnv

    from lrgym.sb3 import make_sb3_vec_env

    kwargs = dict(horizon=3, inner_steps=2)
    ours = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=3, seed=4, info_keys="all", **kwargs)
    dummy = DummyVecEnv([lambda: gym.make("LRControl-LinReg-v1", **kwargs) for _ in range(3)])
    dummy.seed(4)
    assert ours.reset().tobytes() == dummy.reset().tobytes()
    assert ours.reset_infos[1] == dummy.reset_infos[1]
    rng = np.random.default_rng(0)
    for _ in range(7):
        actions = rng.integers(0, 5, size=3)
        ours.step_async(actions)
        dummy.step_async(actions)
        o1, r1, d1, i1 = ours.step_wait()
        o2, r2, d2, i2 = dummy.step_wait()
        assert o1.tobytes() == o2.tobytes() and r1.tobytes() == r2.tobytes() and (d1 == d2).all()
        for a, b in zip(i1, i2):
            assert a.keys() == b.keys()
            for key in a:
                if key == "terminal_observation":
                    assert a[key].tobytes() == b[key].tobytes()
                else:
                    assert a[key] == b[key], key
    assert ours.get_attr("horizon") == [3, 3, 3]
    assert ours.env_method("lr_to_action", 0.01)[0].shape == (1,)


@pytest.mark.parametrize("algo", ["DQN", "PPO"])
def test_sb3_algorithms_train_on_the_vector_env(algo):
    sb3 = pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.vec_env import VecMonitor

    from lrgym.sb3 import make_sb3_vec_env

    venv = VecMonitor(make_sb3_vec_env("LRControl-Quadratic-v1", n_envs=4, seed=0, horizon=10, inner_steps=2))
    if algo == "DQN":
        model = sb3.DQN("MlpPolicy", venv, learning_starts=32, train_freq=4, batch_size=16, buffer_size=500, seed=0)
    else:
        model = sb3.PPO("MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=1, seed=0)
    model.learn(total_timesteps=300)
    assert model.num_timesteps >= 300
    assert len(venv.episode_returns) >= 0 and venv.episode_count >= 10


def test_set_attr_refuses_what_the_batched_step_keeps_itself_where_sync_would_step_with_it():
    """SyncVectorEnv's ``set_attr("lr", x)`` changes its sub-envs' next step; the batched env
    steps from its own arrays, so it refuses (naming the attribute and what to do instead) rather
    than ignore the value. An attribute of the user's own is still set, on every sub-env."""
    sync = gym.vector.SyncVectorEnv([lambda: LRControlEnv(family="quadratic") for _ in range(2)])
    sync.reset(seed=0)
    sync.set_attr("lr", 0.5)
    keep = list(LRControlEnv(family="quadratic").factors).index(1.0)
    assert list(sync.step(np.array([keep, keep]))[4]["lr"]) == [0.5, 0.5]  # the reference steps with it
    envs = gym.make_vec("LRControl-Quadratic-v1", 2, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    for name in ("lr", "t", "horizon", "lr_max", "factors"):
        with pytest.raises(ValueError, match=rf"set_attr\('{name}'\) would have no effect.*valid:"):
            envs.set_attr(name, 10.0)
    envs.set_attr("curriculum_level", [1, 2])
    assert envs.get_attr("curriculum_level") == (1, 2)
    from lrgym.sb3 import make_sb3_vec_env

    venv = make_sb3_vec_env("LRControl-Quadratic-v1", n_envs=2)
    venv.reset()
    with pytest.raises(ValueError, match=r"set_attr\('lr'\) would have no effect"):
        venv.set_attr("lr", 10.0)
    venv.set_attr("curriculum_level", 3, indices=[1])
    assert venv.get_attr("curriculum_level", indices=[1]) == [3]
    sync.close(), envs.close(), venv.close()


def test_a_refused_set_attr_names_a_remedy_that_works():
    """Each refused ``set_attr`` says what does the job, and that works: a make_vec keyword that the
    env takes, or reset options for the step state. It used to offer ``gym.make_vec(..., t=...)``
    (and ``lr=``, ``task=``, ``reward_name=``, ...) for every name, keywords the env refuses."""
    import re

    from lrgym.keywords import UnknownKeywordError
    from lrgym.vector.vector_env import BATCH_OWNED

    envs = gym.make_vec("LRControl-Quadratic-v1", 2, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    for name in sorted(BATCH_OWNED):
        with pytest.raises(ValueError, match=rf"set_attr\('{name}'\) would have no effect") as refused:
            envs.set_attr(name, 1)
        message = str(refused.value)
        keyword = re.search(r"vectorization_mode='vector_entry_point', (\w+)=\.\.\.\)", message)
        if keyword:  # the keyword offered is one the env takes (the value None may still be refused)
            try:
                gym.make_vec("LRControl-Quadratic-v1", 2, vectorization_mode="vector_entry_point",
                             **{keyword.group(1): None}).close()
            except UnknownKeywordError:
                pytest.fail(f"set_attr({name!r})'s error offers {keyword.group(1)}=, which the env refuses: {message}")
            except (TypeError, ValueError):
                pass
        else:
            assert "envs.reset(options=" in message or " with " in message, message
    _, infos = envs.reset(options={"lr_init": 0.05, "instance": 3})  # the step state's remedy
    assert list(infos["lr"]) == [0.05, 0.05] and list(infos["instance"]) == [3, 3]
    envs.close()
