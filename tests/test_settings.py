"""EnvSettings: one checked settings object, shared by the single env and every sub-env of the vector env."""

import dataclasses
import math
import pickle
import re

import gymnasium as gym
import numpy as np
import pytest

from lrgym.env import LRControlEnv
from lrgym.optim import OPTIMIZERS
import lrgym  # noqa: F401  (registers the ids)
from lrgym.settings import CONSTANT_INFO_KEYS, MAX_NUM_ENVS, SETTING_ATTRIBUTES, EnvSettings, check_factors
from lrgym.vector import LRControlVectorEnv


def test_vector_env_and_its_sub_envs_read_one_settings_object():
    vec = LRControlVectorEnv(3, family="linreg", optimizer="adam", horizon=7, action_mode="log_lr", lr_max=3.0)
    assert all(env.settings is vec.settings for env in vec.envs)
    s = vec.settings
    assert (s.horizon, s.optimizer.name, s.action_mode, s.lr_max) == (7, "adam", "log_lr", 3.0)
    assert s.lr_init == 1e-3  # the adaptive optimizers' default
    assert s.log_lr_max == math.log10(3.0) and s.log_lr_min == math.log10(1e-6)
    assert vec.horizon == 7 and vec.lr_max == 3.0


def test_settings_are_frozen():
    s = EnvSettings.build(family="quadratic")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.horizon = 3


def test_single_env_attributes_are_its_settings():
    env = LRControlEnv(family="quadratic", optimizer={"name": "momentum", "clip_norm": 1.0}, inner_steps=4, factors=(0.5, 2.0))
    s = env.settings
    assert env.inner_steps == s.inner_steps == 4
    assert env.optimizer is s.optimizer and _reads(env.factors, s.factors)  # (an array: a read-only view)
    assert env.factors.tolist() == [0.5, 2.0] and env.action_space.n == 2
    assert s.horizon == env.family.default_horizon  # the family's default when not given
    # the info entries fixed for the env's lifetime come from the settings
    _, info = env.reset(seed=0)
    fixed = s.constant_info_items()
    assert tuple(fixed) == CONSTANT_INFO_KEYS
    for key, value in fixed.items():
        assert info[key] == value and type(info[key]) is type(value)
    assert info["optimizer"] == OPTIMIZERS.index("momentum")


def test_from_settings_reproduces_the_keyword_env_to_the_bit():
    kwargs = dict(family="linreg", optimizer="adam", horizon=6, reward="sign_delta", reward_alphas=(0.5, 2.0))
    a = LRControlEnv(**kwargs)
    b = LRControlEnv.from_settings(EnvSettings.build(**kwargs))
    oa, _ = a.reset(seed=3)
    ob, _ = b.reset(seed=3)
    assert oa.tobytes() == ob.tobytes()
    for action in (0, 4, 3, 3, 1, 2):
        sa, sb = a.step(action), b.step(action)
        assert sa[0].tobytes() == sb[0].tobytes() and sa[1:4] == sb[1:4]


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"horizon": 0}, "horizon=0"),
    ({"horizon": True}, "horizon=True"),  # a bool is not a horizon (it was taken as 1)
    ({"inner_steps": False}, "inner_steps=False"),
    ({"lr_max": math.nan}, "lr_max=nan"),
    ({"lr_max": math.inf}, "lr_max=inf"),
    ({"lr_max": True}, "lr_max=True"),
    ({"lr_init": math.nan}, "lr_init=nan"),
    ({"lr_min": 0.1, "lr_max": 1.0}, "lr_init=None"),  # the default start LR (sgd: 0.01) outside
    ({"cap_factor": math.inf}, "cap_factor=inf"),
    ({"inner_steps": 2.5}, "inner_steps=2.5"),
    ({"lr_min": 1.0, "lr_max": 0.1}, "lr_min=1.0"),
    ({"lr_init": 100.0}, "lr_init=100.0"),
    ({"cap_factor": 1.0}, "cap_factor=1.0"),
    ({"rejection_threshold": -0.1}, "rejection_threshold=-0.1"),
    ({"rejection_threshold": True}, "rejection_threshold=True is not a real number (a bool)"),  # was "out of range"
    ({"cap_factor": "1e4"}, "cap_factor='1e4' is not a real number (a str)"),
    ({"factors": (0.5, math.inf)}, "factors=(0.5, inf) invalid; valid: a non-empty sequence of finite"),
    ({"factors": (1.0, -2.0)}, "factors="),
    ({"factors": (True, 2.0)}, "factors=(True, 2.0) invalid"),  # a bool is not a factor (it was 1.0)
    ({"factors": ("0.5", "2")}, "factors=('0.5', '2') invalid"),  # nor a string (it was 0.5)
    ({"factors": {0.5: 1, 2.0: 1}}, "factors={0.5: 1, 2.0: 1} invalid"),  # a mapping (its keys were taken)
    ({"factors": np.array([True, False])}, "factors=array([ True, False]) invalid"),
    ({"factors": np.array([[0.5, 2.0]])}, "factors=array([[0.5, 2. ]]) invalid"),
    ({"family_options": 1}, "family_options=1 invalid; valid: None or a dict"),  # was a TypeError
    ({"family_options": []}, "family_options=[] invalid; valid: None or a dict"),  # was ignored
    ({"action_mode": "continuous"}, "continuous"),
    ({"reward": "profit"}, "profit"),
    ({"instance_set": "holdout"}, "holdout"),
    # a choice is a name: an array was NumPy's bare "truth value of an array ... is ambiguous"
    ({"action_mode": np.array(["discrete", "log_lr"])}, "unknown action_mode array(['discr..., dtype='<U8'); valid choices: discrete, log_lr"),
    ({"reward": np.array([1.0, 2.0])}, "unknown reward array([1., 2.]); valid choices: log_improvement"),
    # the optimizer's numbers are numbers: a str or None was a bare TypeError from a comparison
    ({"optimizer": {"momentum": "0.9"}}, "momentum='0.9' is not a real number (a str); valid: a number with 0.0 <="),
    ({"optimizer": {"beta2": None}}, "beta2=None is not a real number (a NoneType)"),
    ({"optimizer": {"eps": "1e-8"}}, "eps='1e-8' is not a real number (a str); valid: None or a finite number > 0"),
    ({"optimizer": {"clip_norm": [1.0]}}, "clip_norm=[1.0] is not a real number (a list)"),
    ({"optimizer": {"weight_decay": np.array([0.1, 0.2])}}, "weight_decay=array([0.1, 0.2]) is not a real number"),
    ({"optimizer": {"momentum": False}}, "momentum=False is not a real number (a bool)"),  # was a momentum of 0
    ({"optimizer": {"eps": float("inf")}}, "eps=inf out of range"),  # every Adam step was 0
    ({"optimizer": {"name": np.array(["sgd", "adam"])}}, "unknown optimizer array(['sgd',..., dtype='<U4'); valid choices: sgd, momentum"),
    ({"optimizer": 3}, "got 3; valid names: sgd, momentum, nesterov, adam, rmsprop, adagrad"),
])
def test_bad_values_are_named_by_the_single_and_the_vector_env(kwargs, named):
    for make in (lambda: EnvSettings.build(**kwargs), lambda: LRControlEnv(**kwargs),
                 lambda: LRControlVectorEnv(2, **kwargs)):
        with pytest.raises(ValueError, match=re.escape(named)):
            make()



def test_family_options_with_a_built_family_are_refused_not_ignored():
    """``family_options`` build a family from its name; beside a built family they were dropped
    without a word (the env ran the family's defaults)."""
    from lrgym.tasks import make_family

    family = make_family("linreg")
    for make in (lambda: EnvSettings.build(family=family, family_options={"dim": 3}),
                 lambda: LRControlEnv(family=family, family_options={"dim": 3}),
                 lambda: LRControlVectorEnv(2, family=family, family_options={"dim": 3})):
        with pytest.raises(ValueError, match=re.escape("family_options={'dim': 3} given with a built family")):
            make()
    assert EnvSettings.build(family=family, family_options={}).family is family  # no options: fine


def test_vector_env_rejects_unknown_keywords_with_the_valid_ones():
    with pytest.raises(TypeError, match="horizn.*valid:.*horizon"):
        LRControlVectorEnv(2, horizn=5)


def test_env_keywords_and_defaults_are_the_settings_ones():
    """LRControlEnv spells out EnvSettings.build's keywords (so ``help`` and IDEs show them): the
    names, order and defaults must be the same, or an env default would silently differ."""
    import inspect

    env_params = dict(inspect.signature(LRControlEnv.__init__).parameters)
    settings_params = dict(inspect.signature(EnvSettings.build).parameters)
    env_only = {"self", "render_mode", "task_cache", "build_ahead"}
    assert [n for n in env_params if n not in env_only] == [n for n in settings_params if n != "cls"]
    for name, p in settings_params.items():
        if name != "cls":
            assert env_params[name].default == p.default, name


def test_settings_arrays_feed_the_kernels_unchanged():
    s = EnvSettings.build(family="linreg", optimizer="adam")
    assert s.hyper.dtype == np.float64 and s.reward_params.dtype == np.float64
    assert s.opt_code == s.optimizer.code


@pytest.mark.parametrize("alphas, problem", [
    ((1.0,), "invalid"),  # used to be accepted, α2 silently 1
    ((1.0, 2.0, 3.0), "invalid"),  # used to be a TypeError from reward_params
    ((float("nan"), 1.0), "out of range"),  # used to be accepted
    ((1.0, float("inf")), "out of range"),
    ((-1.0, 1.0), "out of range"),  # would pay −α1·(−1) for diverging
    ((0.0, 0.0), "out of range"),  # every reward 0
    (1.0, "invalid"),
    (("a", "b"), "invalid"),
    ((True, 1.0), "invalid"),
    ((1.0, 1e306), "out of range"),  # the auditor's: a step's reward was -inf (α2 · ΔL/L0 overflowed)
    ((1e306, 1.0), "out of range"),
    ((0.0, float(np.nextafter(1e6, math.inf))), "out of range"),  # just past the bound
    (b"ab", "invalid"),  # bytes were the weights (97, 98)
    ({1.0, 2.0}, "invalid"),  # a set has no order: which is α1?
    ({1.0: "a", 2.0: "b"}, "invalid"),  # a mapping's keys were the weights
])
def test_bad_reward_alphas_name_the_value_and_the_valid_range(alphas, problem):
    message = rf"reward_alphas={re.escape(repr(alphas))} {problem}; valid: two numbers \(α1, α2\) with 0 <= α <= 1e\+06, not both 0"
    with pytest.raises(ValueError, match=message):
        EnvSettings.build(family="quadratic", reward="sign_delta", reward_alphas=alphas)
    with pytest.raises(ValueError, match=message):  # whatever the reward: a bad value is bad input
        LRControlEnv(family="quadratic", reward_alphas=alphas)
    with pytest.raises(ValueError, match=message):
        LRControlVectorEnv(2, family="quadratic", reward="sign_delta", reward_alphas=alphas)
    from lrgym.monitor import TrainingMonitor

    with pytest.raises(ValueError, match=message):  # the PyTorch side's monitor checks it the same way
        TrainingMonitor(horizon=10, updates_per_step=2, reward="sign_delta", reward_alphas=alphas)


def test_reward_alphas_past_the_largest_float_are_out_of_range():
    """An integer weight beyond the largest float (JSON reads one from an env_options sidecar) was
    a bare ``OverflowError: int too large to convert to float``."""
    with pytest.raises(ValueError, match=r"reward_alphas=\(1000.*\) out of range; valid: two numbers"):
        EnvSettings.build(family="quadratic", reward="sign_delta", reward_alphas=(10**400, 1.0))


@pytest.mark.parametrize("alphas", [(0.5, 2.0), [0, 1], np.array([2.0, 0.0]), (np.float32(1.0), np.int64(3))])
def test_good_reward_alphas_become_two_floats(alphas):
    s = EnvSettings.build(family="quadratic", reward="sign_delta", reward_alphas=alphas)
    assert s.reward_alphas == tuple(float(a) for a in alphas) and all(type(a) is float for a in s.reward_alphas)
    assert s.reward_params.tolist() == list(s.reward_alphas)


@pytest.mark.parametrize("number", [
    pytest.param(lambda x: x, id="float"),
    pytest.param(lambda x: np.float32(x), id="np.float32"),
    pytest.param(lambda x: np.array(x), id="0-d array"),
    pytest.param(lambda x: __import__("fractions").Fraction(str(x)), id="Fraction"),
    pytest.param(lambda x: __import__("decimal").Decimal(str(x)), id="Decimal"),
])
def test_any_real_number_is_a_setting_and_becomes_a_float(number):
    """Real numbers of any kind are settings (a bool, a string or an array of several is not):
    they become Python floats, the same as the float they are."""
    # (powers of two: exact in float32 and in decimal)
    s = EnvSettings.build(family="quadratic", lr_min=number(2.0**-17), lr_max=number(2.0), lr_init=number(0.5),
                          cap_factor=number(128.0))
    assert (s.lr_min, s.lr_max, s.lr_init, s.cap_factor) == (2.0**-17, 2.0, 0.5, 128.0)
    assert all(type(v) is float for v in (s.lr_min, s.lr_max, s.lr_init, s.cap_factor))
    env = LRControlEnv(family="quadratic", horizon=2, inner_steps=1)
    _, info = env.reset(seed=0, options={"lr_init": number(0.03125)})
    assert info["lr"] == 0.03125


@pytest.mark.parametrize("bad", ["0.01", np.array([0.01]), np.bool_(True), None, 1j], ids=repr)
def test_a_start_lr_that_is_not_a_real_number_is_refused_by_name(bad):
    env = LRControlEnv(family="quadratic", horizon=2, inner_steps=1)
    with pytest.raises(ValueError, match=re.escape(f"lr_init={bad!r}") + ".*valid: a number"):
        env.reset(seed=0, options={"lr_init": bad})


def test_factors_of_every_array_and_sequence_kind_give_the_same_floats():
    """An array-like is judged by its dtype (a torch tensor, as ``lrgym.torch`` passes one), a
    sequence by its items; a one-shot iterator is refused with the named error, not a bare
    TypeError. The reference: float() of each value."""
    from fractions import Fraction

    torch = pytest.importorskip("torch")
    expected = [0.5, 0.8, 1.0, 1.25, 2.0]
    for factors in (expected, tuple(expected), np.array(expected), np.array(expected, dtype=np.float32),
                    torch.tensor(expected, dtype=torch.float64), [Fraction(1, 2), Fraction(4, 5), 1, Fraction(5, 4), 2]):
        assert check_factors(factors).tolist() == [float(f) for f in factors], factors
    assert check_factors(np.array([1, 2])).dtype == np.float64
    with pytest.raises(ValueError, match=r"factors=<generator ob.* invalid; valid: a non-empty sequence"):
        check_factors(f for f in expected)




def test_reward_alphas_at_the_bound_give_finite_rewards_and_the_exact_penalty():
    """(1e6, 1e6) is taken; an episode that diverges at its first step (LR 10 on linreg) pays
    −α1 · (horizon − t + 1), Python's own product, and every step's reward is finite."""
    horizon = 5
    env = LRControlEnv(family="linreg", action_mode="log_lr", reward="sign_delta", reward_alphas=(1e6, 1e6),
                       horizon=horizon)
    env.reset(seed=0, options={"lr_init": 10.0})
    _, reward, terminated, _, info = env.step(np.array([1.0], dtype=np.float32))
    assert terminated and info["diverged"]
    assert reward == -1e6 * (horizon - 1 + 1)
    env.reset(seed=0)
    for action in (-0.2, 0.0, 0.2, -0.4, 0.1):
        _, reward, terminated, truncated, _ = env.step(np.array([action], dtype=np.float32))
        assert math.isfinite(reward) and not terminated


COUNT_LIMIT = 10**9
assert COUNT_LIMIT * COUNT_LIMIT <= 2**63 - 1  # horizon · inner_steps updates fit the int64 `updates` counter


@pytest.mark.parametrize("name, value", [
    ("horizon", 2**63),  # was a bare OverflowError from np.int64(horizon) (info.py)
    ("horizon", COUNT_LIMIT + 1),
    ("horizon", np.uint64(2**63)),
    ("inner_steps", 2**70),  # was a bare OverflowError
    ("inner_steps", COUNT_LIMIT + 1),
])
def test_counts_above_the_bound_are_refused_naming_value_and_range(name, value):
    message = re.escape(f"{name}={value!r} out of range; valid: a positive integer (1, 2, 3, ...) at most 1,000,000,000")
    for make in (lambda: EnvSettings.build(family="linreg", **{name: value}),
                 lambda: LRControlEnv(family="linreg", **{name: value}),
                 lambda: LRControlVectorEnv(2, family="linreg", **{name: value})):
        with pytest.raises(ValueError, match=message):
            make()


@pytest.mark.parametrize("name, value", [
    ("max_episode_steps", 2**70),  # was a Numba TypingError at the first step
    ("max_episode_steps", 2**63),
    ("max_episode_steps", COUNT_LIMIT + 1),
])
def test_vector_counts_above_the_bound_are_refused_naming_value_and_range(name, value):
    message = re.escape(f"{name}={value!r} out of range; valid: a positive integer (1, 2, 3, ...) at most 1,000,000,000")
    kwargs = {"num_envs": 2, name: value}
    with pytest.raises(ValueError, match=message):
        LRControlVectorEnv(family="linreg", **kwargs)


@pytest.mark.parametrize("value", [
    MAX_NUM_ENVS + 1,  # was made: 65,537 sub-envs, ≈ 12 s and 300 MB before anything ran
    10**9,  # was hours of making sub-envs, or out of memory (the bound was MAX_COUNT)
    2**63,  # was a hang (making 2**63 sub-envs), then the MAX_COUNT error
])
def test_more_sub_envs_than_the_bound_are_refused_at_once_naming_value_and_bound(value):
    message = re.escape(f"={value!r} out of range; valid: a positive integer (1, 2, 3, ...) at most 65,536")
    with pytest.raises(ValueError, match="num_envs" + message):
        LRControlVectorEnv(value, family="linreg")
    with pytest.raises(ValueError, match="num_envs" + message):
        gym.make_vec("LRControl-LinReg-v1", num_envs=value, vectorization_mode="vector_entry_point")
    pytest.importorskip("stable_baselines3")
    from lrgym.sb3 import make_sb3_vec_env

    with pytest.raises(ValueError, match="n_envs" + message):
        make_sb3_vec_env("LRControl-LinReg-v1", n_envs=value)


def test_counts_at_the_bound_are_taken_and_reported_as_int64():
    """horizon = inner_steps = 10**9 make an env whose info holds them as the int64s Python's
    ints are (a reset runs no update, so this is quick); the vector env takes the bound too."""
    env = LRControlEnv(family="linreg", horizon=COUNT_LIMIT, inner_steps=COUNT_LIMIT)
    obs, info = env.reset(seed=0)
    assert info["horizon"] == np.int64(COUNT_LIMIT) and type(info["horizon"]) is np.int64
    assert info["inner_steps"] == COUNT_LIMIT and env.observation_space.contains(obs)
    vec = LRControlVectorEnv(2, family="linreg", horizon=COUNT_LIMIT, max_episode_steps=COUNT_LIMIT)
    assert vec.reset(seed=0)[1]["horizon"].tolist() == [COUNT_LIMIT] * 2
    vec.close()


@pytest.mark.parametrize("kwargs, named", [
    # an integer past the largest float (JSON writes one: a suite file, a sidecar's env_options) was
    # a bare OverflowError: int too large to convert to float
    ({"lr_max": 10**400}, "lr_min=1e-06, lr_max=1000"),
    ({"cap_factor": 10**400}, "cap_factor=1000"),
    ({"factors": (0.5, 10**400)}, "factors=(0.5, 1000"),
    ({"optimizer": {"name": "sgd", "weight_decay": 10**400}}, "weight_decay=1000"),
    ({"optimizer": {"name": "sgd", "clip_norm": 10**400}}, "clip_norm=1000"),
    ({"optimizer": {"name": "adam", "eps": 10**400}}, "eps=1000"),
    # one past Python's 4,300 digits: its repr raised "Exceeds the limit (4300 digits) for integer
    # string conversion" in place of the message (lrgym.brief quotes it)
    ({"horizon": 10**5000}, "horizon=<an integer of 16,610 bits> out of range; valid: a positive integer"),
    ({"lr_init": 10**5000}, "lr_init=<an integer of 16,610 bits> out of range; valid: a number with"),
    ({"build_ahead": 10**5000}, "build_ahead=<an integer of 16,610 bits> invalid; valid: an integer 0..64"),
    ({"family_options": {"dim": 10**5000}}, "linreg option dim=<an integer of 16,610 bits> out of range"),
    ({"family": 10**5000}, "unknown family <an integer of 16,610 bits>; valid choices: linreg"),
])
def test_integers_too_large_for_a_float_or_a_repr_are_named_out_of_range(kwargs, named):
    with pytest.raises(ValueError, match=re.escape(named)):
        LRControlEnv(**kwargs)
    env = LRControlEnv(family="quadratic", horizon=2, inner_steps=1)
    with pytest.raises(ValueError, match=re.escape("instance <an integer of 16,610 bits> not in the 'train' set")):
        env.reset(seed=0, options={"instance": 10**5000})


@pytest.mark.parametrize("build", [
    pytest.param(lambda nan: LRControlEnv(family="quadratic", reward="sign_delta", reward_alphas=(nan, 1.0)),
                 id="reward_alphas"),
    pytest.param(lambda nan: LRControlEnv(family="quadratic", optimizer={"name": "sgd", "momentum": nan}),
                 id="momentum"),
    pytest.param(lambda nan: LRControlEnv(family="quadratic", rejection_threshold=nan), id="rejection_threshold"),
    pytest.param(lambda nan: LRControlEnv(family="linreg", family_options={"scale": nan}), id="linreg scale"),
    pytest.param(lambda nan: LRControlEnv(family="quadratic", lr_init=nan), id="lr_init"),
])
@pytest.mark.parametrize("nan", ["NaN", "sNaN"])
def test_a_decimal_nan_is_refused_by_name(build, nan):
    """``Decimal('NaN') > 0`` raises ``decimal.InvalidOperation``: a Decimal NaN given for a number
    was that bare traceback out of a range check; it is refused naming the value like any other
    non-number (a float NaN is refused as out of range)."""
    import decimal

    value = decimal.Decimal(nan)
    with pytest.raises(ValueError, match=re.escape(repr(value))):
        build(value)


#: an attribute of each setting and a value of the right kind it does not have
ASSIGNED = [("horizon", 3), ("inner_steps", 1), ("lr_min", 1e-3), ("lr_max", 1.0), ("lr_init", 0.1), ("cap_factor", 2.0),
            ("rejection_threshold", 0.04), ("factors", (0.1, 0.1, 0.1, 0.1, 0.1)), ("reward_name", "final"),
            ("action_mode", "log_lr"), ("instances", (3, 7)), ("instance_order", "cycle"), ("instance_set", "val"),
            ("instance_range", range(3)), ("optimizer", "adam"), ("family", "quadratic")]


def _episode(env, seed=0, actions=(1, np.int8(3), 2, 4, 0, 2)):
    """A whole episode of plain-int and NumPy-integer actions (the step's two paths), as bytes."""
    obs, info = env.reset(seed=seed)
    out = [obs.tobytes(), sorted(info.items())]
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        out += [obs.tobytes(), reward, terminated, truncated, float(info["lr"]), int(info["horizon"])]
        if terminated or truncated:
            break
    return out


def _reads(attribute, value) -> bool:
    """Whether a setting attribute read gives the settings' ``value`` itself (an array: a read-only
    view of it)."""
    return attribute is value or (isinstance(value, np.ndarray) and attribute.base is value
                                  and not attribute.flags.writeable)


@pytest.mark.parametrize("rejection", [None, 1e9])  # the fast compiled step, and the Python one
@pytest.mark.parametrize("name, value", ASSIGNED)
def test_a_setting_assigned_to_a_made_env_is_refused_by_name_and_changes_nothing(name, value, rejection):
    """The settings are read by the compiled step, the features and the info as the env was made
    with them; an assigned one half applied (``env.unwrapped.horizon = 3`` on a horizon-5 env
    truncated at step 3 with ``progress`` 0.6 on the fast step and 1.0 on the Python one, and
    ``info["horizon"]`` 5; ``factors`` set the LR of a NumPy-integer action but not of a plain
    int). Assigning one is refused, naming it and the keyword that sets it, and the env goes on
    as its untouched twin, whichever way it is assigned."""
    kwargs = dict(horizon=5, inner_steps=2, rejection_threshold=rejection)
    twin = gym.make("LRControl-LinReg-v1", **kwargs)
    expected = _episode(twin)
    env = gym.make("LRControl-LinReg-v1", **kwargs)
    env.reset(seed=0)
    before = getattr(env.unwrapped.settings, SETTING_ATTRIBUTES[name][0] or name)
    how = {"reward_name": "reward=", "instance_range": "with instance_set or instances"}.get(name, f"{name}=")
    with pytest.raises(AttributeError, match=rf"\.{name} = .* refused: .*gym\.make\(id, .*{how}"):
        setattr(env.unwrapped, name, value)
    with pytest.raises(AttributeError, match=name):
        env.set_wrapper_attr(name, value)
    assert _reads(getattr(env.unwrapped, name), before)
    assert _episode(env) == expected


@pytest.mark.parametrize("name, value", [("horizon", 3), ("factors", (0.1,) * 5), ("lr_max", 1.0)])
def test_vector_envs_refuse_an_assigned_setting_as_the_single_env_does(name, value):
    """``SyncVectorEnv.set_attr`` (gymnasium's way to change its sub-envs) reaches the single
    env's refusal; lrgym's vector env refuses its own attribute (it never read it: the value was
    kept and did nothing) as ``set_attr`` on its sub-environments refuses."""
    sync = gym.make_vec("LRControl-LinReg-v1", 2, vectorization_mode="sync", horizon=5)
    sync.reset(seed=0)
    with pytest.raises(AttributeError, match=name):
        sync.set_attr(name, [value, value])
    assert _reads(sync.get_attr(name)[0], getattr(sync.envs[0].unwrapped.settings, name))
    vec = LRControlVectorEnv(2, family="linreg", horizon=5)
    with pytest.raises(AttributeError, match=name):
        setattr(vec, name, value)
    assert _reads(getattr(vec, name), getattr(vec.settings, name))


def test_an_env_pickled_with_its_settings_as_plain_attributes_loads_and_goes_on():
    """Pickles made before the settings were read-only hold them as plain attributes beside the
    settings object; they load, read the settings, and go on as the env went on."""
    env = LRControlEnv(family="linreg", horizon=6, inner_steps=2)
    env.reset(seed=4)
    env.step(1)
    state = {**env.__getstate__(), **{name: getattr(env, name) for name, _ in ASSIGNED}}  # as the old __getstate__'s
    state = pickle.loads(pickle.dumps(state))  # (its own arrays, as unpickling gives them)
    old = LRControlEnv.__new__(LRControlEnv)
    old.__setstate__(state)
    assert old.horizon == 6 and "horizon" not in vars(old)
    assert [old.step(a)[0].tobytes() for a in (2, 3)] == [env.step(a)[0].tobytes() for a in (2, 3)]


def test_every_setting_attribute_is_refused_by_set_attr_naming_the_keyword_its_assignment_names():
    """``set_attr`` on lrgym's vector env refuses every setting attribute (:data:`SETTING_ATTRIBUTES`,
    the one list) and offers the keyword the attribute's own refusal offers: the vector env's list
    of the attributes it owns (``BATCH_OWNED``) and its keywords were written out a second time, so
    a setting added to the one list would reach a sub-env's ``set_attr`` unrefused by name."""
    from lrgym.settings import SETTING_ATTRIBUTES

    vec = LRControlVectorEnv(2, family="linreg", horizon=5)
    for name in SETTING_ATTRIBUTES:
        with pytest.raises(AttributeError) as assigned:
            setattr(vec, name, 1)
        offered = re.search(r"gym\.make\(id, (.*)$", str(assigned.value)).group(1)
        with pytest.raises(ValueError, match=rf"set_attr\('{name}'\) would have no effect") as refused:
            vec.set_attr(name, [1, 1])
        assert str(refused.value).endswith(f"vectorization_mode='vector_entry_point', {offered}"), (name, refused.value)
    vec.close()


@pytest.mark.parametrize("make", ["single", "vector"])
def test_the_factors_attribute_cannot_be_written_into(make):
    """``env.factors`` was the settings' own writeable array: written into (``env.factors[4] =
    10.0``), it half applied as an assignment did: the vector env's step took the new factor
    (LR x 10), the single env's the one it had cached (LR x 2), and the attribute said 10 either
    way. It reads as a read-only view now; the env then steps as its untouched twin (reference)."""
    def made():
        if make == "vector":
            return LRControlVectorEnv(2, family="linreg", horizon=5, inner_steps=2)
        return gym.make("LRControl-LinReg-v1", horizon=5, inner_steps=2)

    def first_lrs(env):
        env.reset(seed=0)
        if make == "vector":
            env.step(np.array([4, 4]))
            return env.unwrapped._lr.tolist()
        return [env.step(4)[4]["lr"]]

    expected = first_lrs(made())
    env = made()
    for factors in (env.unwrapped.factors, env.get_wrapper_attr("factors") if make == "single" else env.factors):
        with pytest.raises(ValueError, match="read-only"):
            factors[4] = 10.0
    assert env.unwrapped.factors.tolist() == [0.5, 0.8, 1.0, 1.25, 2.0]
    assert first_lrs(env) == expected
    assert env.unwrapped.settings.factors.flags.writeable  # (the kernels' array is the settings' own, unchanged)


@pytest.mark.parametrize("make", ["made", "pickled", "deep-copied", "env copy"])
@pytest.mark.parametrize("kind", ["single", "vector"])
def test_the_factors_view_is_made_once_and_stays_read_only_through_pickles_and_copies(kind, make):
    """``env.factors`` is one read-only view of the settings' own (writeable, the kernels') array,
    made when the settings are (it was made anew at every read). A view pickles and deep-copies as
    a writeable array of its own, so the settings leave it out of their state and make it again
    when loaded (their state is then as before the view existed: older pickles load the same way)."""
    import copy

    env = (LRControlVectorEnv(2, family="linreg", factors=(0.5, 2.0)) if kind == "vector"
           else LRControlEnv(family="linreg", factors=(0.5, 2.0)))
    if make == "pickled":
        env = pickle.loads(pickle.dumps(env))
    elif make == "deep-copied":
        env = copy.deepcopy(env)
    elif make == "env copy":
        env = copy.copy(env)  # (the envs' own __copy__: the settings shared)
    settings, factors = env.settings, env.factors
    assert env.factors is factors and settings.factors_view is factors  # made once, not at every read
    assert factors.base is settings.factors and settings.factors.flags.writeable
    assert factors.tolist() == [0.5, 2.0]
    with pytest.raises(ValueError, match="read-only"):
        factors[1] = 10.0
    if kind == "vector":
        assert all(sub.factors is factors for sub in env.envs)  # one settings object, one view
    assert settings.factors.tolist() == [0.5, 2.0]


@pytest.mark.parametrize("how", ["fast step", "next_lr action", "Python step (rejection)", "vector env"])
def test_a_step_reads_no_setting_descriptor(monkeypatch, how):
    """The step reads its settings from ``env.settings``, not through the read-only public
    attributes: each of those is a :class:`~lrgym.settings.Setting` descriptor, a Python call per
    read, which cost a linreg step 3-6 % when the step read three (``benchmarks/settings_read_cost.py``).
    Reads are counted on the descriptor itself; a reset (once per episode) may read them."""
    from lrgym.settings import Setting

    kwargs = dict(family="quadratic", horizon=10**6)
    if how == "vector env":
        env = LRControlVectorEnv(2, **kwargs)
        action = np.array([3, 1])
    else:
        env = LRControlEnv(**kwargs, **({"rejection_threshold": 0.0} if how.startswith("Python") else {}))
        action = np.array([1]) if how == "next_lr action" else 3  # a 1-element array: next_lr's rule
    env.reset(seed=0)
    if how != "vector env":
        assert (env._step_args is None) == how.startswith("Python")  # the path named is the one taken
    reads = []
    get = Setting.__get__

    def counted(self, obj, owner=None):
        if obj is not None:
            reads.append(self.name)
        return get(self, obj, owner)

    monkeypatch.setattr(Setting, "__get__", counted)
    assert env.horizon == 10**6 and reads == ["horizon"]  # the count sees a read
    reads.clear()
    for _ in range(3):
        env.step(action)
    assert reads == []
