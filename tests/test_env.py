"""LRControlEnv: the Gymnasium contract, determinism, pickling, rewards, features, bad input."""

import copy
import math
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest

import lrgym
from lrgym.env import LRControlEnv, log_lr_action
from lrgym.features import FEATURE_NAMES, OBS_BOUND

ENV_IDS = sorted(lrgym.ENV_IDS)
MODES = ["discrete", "log_lr"]


def fast(env_id, **kwargs):
    """A short-horizon version of an id (keeps the contract tests quick)."""
    return gym.make(env_id, horizon=kwargs.pop("horizon", 6), inner_steps=kwargs.pop("inner_steps", 3), **kwargs)


def _nan_is_nan(equivalence):
    """gymnasium's ``data_equivalence``, except that NaN equals NaN (``info["excess_loss"]`` is NaN
    on families without a known optimum, and gymnasium compares scalars with ``==``)."""

    def equal(a, b, exact=False):
        if isinstance(a, np.floating) and isinstance(b, np.floating) and np.isnan(a) and np.isnan(b):
            return type(a) is type(b)
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(equal(a[k], b[k], exact) for k in a)
        return equivalence(a, b, exact)

    return equal


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_env_checker_passes_without_warnings(env_id, mode, monkeypatch):
    from gymnasium.utils import env_checker

    env = fast(env_id, action_mode=mode).unwrapped
    if env_id in ("LRControl-LinReg-v1", "LRControl-Quadratic-v1"):  # no NaN in any info: unpatched
        assert not math.isnan(env.reset(seed=0)[1]["excess_loss"])
    else:
        monkeypatch.setattr(env_checker, "data_equivalence", _nan_is_nan(env_checker.data_equivalence))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env_checker.check_env(env)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sb3_env_checker_passes_without_warnings(env_id, mode):
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(fast(env_id, action_mode=mode).unwrapped, warn=True)


def rollout(env, seed, actions, instance=None):
    obs, info = env.reset(seed=seed, options=None if instance is None else {"instance": instance})
    out = [(obs, 0.0, False, False, info)]
    for a in actions:
        step = env.step(a)
        out.append(step)
        if step[2] or step[3]:
            break
    return out


def assert_identical(a, b):
    assert len(a) == len(b)
    for (o1, r1, te1, tr1, i1), (o2, r2, te2, tr2, i2) in zip(a, b):
        assert o1.tobytes() == o2.tobytes()
        assert (r1, te1, tr1) == (r2, te2, tr2)
        assert i1.keys() == i2.keys()
        for k in i1:
            v1, v2 = i1[k], i2[k]
            assert v1 == v2 or (isinstance(v1, float) and math.isnan(v1) and math.isnan(v2)), k


def actions_for(env, n, seed=0):
    env.action_space.seed(seed)
    return [env.action_space.sample() for _ in range(n)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_and_actions_give_identical_trajectories(env_id, mode):
    env_a, env_b = fast(env_id, action_mode=mode, horizon=8), fast(env_id, action_mode=mode, horizon=8)
    actions = actions_for(env_a, 8)
    first = rollout(env_a, 123, actions)
    assert_identical(first, rollout(env_b, 123, actions))
    assert_identical(first, rollout(env_a, 123, actions))  # the same env object, reset again
    other = rollout(env_b, 124, actions)
    assert other[0][4]["instance"] != first[0][4]["instance"] or other[0][0].tobytes() != first[0][0].tobytes() \
        or other[-1][4]["train_loss"] != first[-1][4]["train_loss"]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickled_env_continues_identically(env_id):
    env = fast(env_id, horizon=10).unwrapped
    actions = actions_for(env, 10, seed=1)
    env.reset(seed=5)
    for a in actions[:4]:
        env.step(a)
    clone = pickle.loads(pickle.dumps(env))
    rest_a = [env.step(a) for a in actions[4:]]
    rest_b = [clone.step(a) for a in actions[4:]]
    assert_identical(rest_a, rest_b)


@pytest.mark.parametrize("env_id", ["LRControl-LinReg-v1", "LRControl-MLP-v1"])
def test_copied_env_steps_its_own_arrays(env_id):
    """A copy (copy.deepcopy) rebinds its compiled step to its own arrays: stepping the copy
    leaves the original's parameters alone and both continue like an untouched twin."""
    env = fast(env_id, horizon=10).unwrapped
    twin = fast(env_id, horizon=10).unwrapped
    actions = actions_for(env, 10, seed=2)
    for e in (env, twin):
        e.reset(seed=7)
        for a in actions[:3]:
            e.step(a)
    clone = copy.deepcopy(env)
    params = env.state.params.copy()
    rest_clone = [clone.step(a) for a in actions[3:]]
    assert env.state.params.tobytes() == params.tobytes() and env.t == 3
    rest_env = [env.step(a) for a in actions[3:]]
    rest_twin = [twin.step(a) for a in actions[3:]]
    assert_identical(rest_env, rest_twin)
    assert_identical(rest_clone, rest_twin)


def test_log_improvement_rewards_telescope_to_log_initial_over_final():
    env = gym.make("LRControl-LinReg-v1", action_mode="discrete", horizon=15)
    obs, info = env.reset(seed=3)
    l0, total = info["train_loss"], 0.0
    done = False
    while not done:
        obs, r, te, tr, info = env.step(1)
        total += r
        done = te or tr
    assert tr and not te
    assert total == pytest.approx(math.log(l0 / info["train_loss"]), rel=1e-9)
    assert info["step"] == 15 and info["updates"] == 15 * env.unwrapped.inner_steps


def test_divergence_terminates_with_penalty_and_finite_observation():
    env = gym.make("LRControl-LinReg-v1", action_mode="log_lr", horizon=20, cap_factor=100.0,
                   family_options={"dataset": "synthetic", "streaming": False})
    obs, info = env.reset(seed=0)
    l0, total = info["train_loss"], 0.0
    for _ in range(20):
        obs, r, te, tr, info = env.step(np.array([1.0], dtype=np.float32))  # lr = lr_max = 10
        total += r
        assert np.all(np.isfinite(obs)) and np.all(np.abs(obs) <= OBS_BOUND)
        if te:
            break
    assert te and not tr and info["diverged"]
    # the documented return of a diverged episode: log(L0 / cap), cap = cap_factor · max(L0, loss_scale)
    scale = env.unwrapped.task.loss_scale
    assert total == pytest.approx(-math.log(100.0 * max(l0, scale) / l0), rel=1e-9)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.array([0.0], dtype=np.float32))


def test_features_match_their_definitions():
    env = gym.make("LRControl-LinReg-v1", horizon=10, lr_init=0.05)
    obs0, info0 = env.reset(seed=2)
    names = env.unwrapped.feature_names
    assert names == FEATURE_NAMES and len(obs0) == len(names)
    assert obs0[names.index("progress")] == 0.0 and obs0[names.index("log10_lr")] == pytest.approx(math.log10(0.05))
    _, _, _, _, info1 = env.step(2)
    obs2, _, _, _, info2 = env.step(3)
    f = dict(zip(names, obs2.astype(float)))
    assert f["log_train_loss_rel"] == pytest.approx(math.log(info2["train_loss"] / info0["train_loss"]), rel=1e-6)
    assert f["log_val_loss_rel"] == pytest.approx(math.log(info2["val_loss"] / info0["val_loss"]), rel=1e-6)
    assert f["delta_log_train_loss"] == pytest.approx(math.log(info2["train_loss"] / info1["train_loss"]), rel=1e-5)
    assert f["log_val_train_ratio"] == pytest.approx(math.log(info2["val_loss"] / info2["train_loss"]), rel=1e-6)
    assert f["log_grad_norm_rel"] == pytest.approx(math.log(info2["grad_norm"] / info1["grad_norm"]), rel=1e-5)
    assert f["log_loss_cv"] == pytest.approx(0.5 * math.log(info2["loss_var"]) - math.log(info2["batch_loss"]), rel=1e-5)
    assert f["grad_cos"] == pytest.approx(info2["grad_cos"], rel=1e-6)
    assert f["log10_lr"] == pytest.approx(math.log10(0.05 * 1.25), rel=1e-6)
    assert f["progress"] == pytest.approx(0.2)
    assert info2["lr"] == pytest.approx(0.05 * 1.25)


def test_log_lr_action_maps_onto_the_lr_range_and_back():
    env = LRControlEnv(action_mode="log_lr", lr_min=1e-5, lr_max=1.0)
    for a, lr in [(-1.0, 1e-5), (1.0, 1.0), (0.0, 10**-2.5), (0.2, 10**-2.0)]:
        env.reset(seed=0)
        _, _, _, _, info = env.step(np.array([a], dtype=np.float32))
        assert info["lr"] == pytest.approx(lr, rel=1e-6)
        assert log_lr_action(lr, 1e-5, 1.0)[0] == pytest.approx(a, abs=1e-6)


def test_discrete_lr_is_clipped_to_the_range():
    env = LRControlEnv(lr_init=5.0, lr_max=10.0, horizon=5, family="quadratic",
                       family_options={"scale": 1e-3, "noise": 0.0})
    env.reset(seed=0)
    _, _, _, _, info = env.step(4)  # ×2 → 10
    _, _, _, _, info = env.step(4)  # stays at lr_max
    assert info["lr"] == 10.0


def test_rejection_threshold_undoes_a_step_that_raises_the_loss():
    env = LRControlEnv(family="quadratic", family_options={"noise": 0.0, "scale": 1.0, "condition": 2.0},
                       action_mode="log_lr", lr_min=1e-3, lr_max=10.0, rejection_threshold=0.04, horizon=5, inner_steps=1)
    obs, info = env.reset(seed=0)
    params = env.state.params.copy()
    _, r, te, _, info = env.step(np.array([1.0], dtype=np.float32))  # lr 10 > 2/L: the loss rises
    assert info["rejected"] and not te and r == 0.0
    np.testing.assert_array_equal(env.state.params, params)
    _, r, _, _, info = env.step(env.lr_to_action(0.5))
    assert not info["rejected"] and r > 0


@pytest.mark.parametrize("action", [5, -1, 2.5, np.array([0, 1]), "up", None])
def test_bad_discrete_action_names_value_and_choices(action):
    env = LRControlEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"invalid action .*valid choices: integers 0\.\.4"):
        env.step(action)


@pytest.mark.parametrize("action", [np.array([1.5]), np.array([np.nan]), float("nan"), np.array([0.1, 0.2])])
def test_bad_continuous_action_names_value_and_range(action):
    env = LRControlEnv(action_mode="log_lr")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"invalid action .*\[-1, 1\]"):
        env.step(action)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"family": "cnn"}, "unknown family 'cnn'; valid choices: linreg, quadratic"),
        ({"optimizer": "lbfgs"}, "unknown optimizer 'lbfgs'; valid choices: sgd"),
        ({"reward": "accuracy"}, "unknown reward 'accuracy'; valid choices: log_improvement"),
        ({"action_mode": "continuous"}, "unknown action_mode 'continuous'; valid choices: discrete, log_lr"),
        ({"instance_set": "holdout"}, "unknown instance_set 'holdout'; valid choices: train, val, test"),
        # no str: a list was "TypeError: unhashable type: 'list'" (a gymnasium user's audit)
        ({"instance_set": ["train"]}, r"unknown instance_set \['train'\]; valid choices: train, val, test"),
        ({"family": ["linreg"]}, r"unknown family \['linreg'\]; valid choices: linreg, quadratic"),
        ({"horizon": 0}, "horizon=0"),
        ({"inner_steps": 2.5}, "inner_steps=2.5"),
        ({"lr_init": 100.0}, "lr_init=100.0"),
        ({"lr_min": -1.0}, "lr_min=-1.0"),
        ({"cap_factor": 0.5}, "cap_factor=0.5"),
        ({"factors": (1.0, -2.0)}, "factors="),
        ({"family_options": {"dim": -3}}, "dim=-3"),
        ({"render_mode": "human"}, "render_mode 'human'"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LRControlEnv(**kwargs)


def test_member_option_of_the_mixed_id_names_the_valid_options():
    """LRControl-v1's family (mixed) has options of its own only; a member's option is a
    ValueError saying where it goes, not a TypeError from the family's constructor."""
    with pytest.raises(ValueError, match=r"unknown mixed family option\(s\) \['dim'\]; valid choices: members, "
                                         r"member_options.*\{'member_options': \{'linreg': \{'dim': 32\}"):
        gym.make("LRControl-v1", family_options={"dim": 32})
    env = gym.make("LRControl-v1", family_options={"member_options": {"linreg": {"dim": 32}}})
    _, info = env.reset(seed=0, options={"instance": 0})  # instance 0: linreg
    assert env.unwrapped.task.spec.dim == 32


def test_bad_reset_options():
    env = LRControlEnv(instance_set="val")
    with pytest.raises(ValueError, match=r"instance 5 not in the 'val' set; valid: integers 10000\.\.10199"):
        env.reset(seed=0, options={"instance": 5})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(seed=0, options={"level": 3})
    _, info = env.reset(seed=0, options={"instance": 10_007})
    assert info["instance"] == 10_007


def test_instances_are_drawn_from_the_chosen_set():
    for name, lo, hi in [("train", 0, 10_000), ("val", 10_000, 10_200), ("test", 20_000, 20_200)]:
        env = LRControlEnv(instance_set=name)
        seen = {env.reset(seed=s)[1]["instance"] for s in range(30)}
        assert all(lo <= k < hi for k in seen) and len(seen) > 20


@pytest.mark.parametrize("reward", ["sign_delta", "final", "metric_delta"])
def test_other_rewards_follow_their_formulas(reward):
    env = LRControlEnv(reward=reward, horizon=5, reward_alphas=(0.5, 2.0))
    obs, info = env.reset(seed=1)
    l0, m0 = info["train_loss"], info["val_metric"]
    prev_l, prev_m = l0, m0
    for t in range(1, 6):
        _, r, _, _, info = env.step(2)
        if reward == "sign_delta":
            delta = (prev_l - info["train_loss"]) / l0
            assert r == pytest.approx(0.5 * np.sign(delta) + 2.0 * delta, rel=1e-9)
        elif reward == "final":
            assert r == (pytest.approx(math.log(l0 / info["train_loss"])) if t == 5 else 0.0)
        else:
            assert r == pytest.approx(info["val_metric"] - prev_m, rel=1e-9, abs=1e-12)
        prev_l, prev_m = info["train_loss"], info["val_metric"]


#: one env per compiled kernel kind (finite and streaming linreg, data sets, quadratic, MLP, recsys)
KERNEL_KINDS = {
    "linreg": dict(family="linreg", family_options={"streaming": False, "dataset": "synthetic"}),
    "linreg-stream": dict(family="linreg", family_options={"streaming": True, "dataset": "synthetic"}),
    "linreg-diabetes": dict(family="linreg", family_options={"dataset": "diabetes"}),
    "quadratic": dict(family="quadratic"),
    "mlp": dict(family="mlp", optimizer="adam"),
    "mlp-digits": dict(family="mlp", family_options={"dataset": "digits"}),
    "recsys": dict(family="recsys", family_options={"n_users": 200, "n_items": 100}, optimizer="momentum"),
}


@pytest.mark.parametrize("case", list(KERNEL_KINDS))
def test_compiled_step_runs_the_kernel_as_task_run_does(case):
    """The single env's step calls the family kernel through native addresses (a bound item,
    lrgym.tasks.batched.BoundKernel); Task.run calls the same kernel from Python with its full
    argument list. From copies of the same state, both give the same parameters, optimizer
    state and statistics to the bit, step after step."""
    from lrgym.features import M_CAP
    from lrgym.tasks.base import N_STATS

    env = LRControlEnv(horizon=6, inner_steps=3, **KERNEL_KINDS[case])
    env.reset(seed=4)
    assert env._step_args is not None  # the compiled step applies
    state, stats = env.state.copy(), np.zeros(N_STATS)
    for a in (2, 3, 1, 4):
        cap = env.feature_memory[M_CAP]
        env.step(a)
        env.task.run(state, env.lr, env.inner_steps, env.settings.opt_code, env.settings.hyper, cap, stats)
        assert env.stats.tobytes() == stats.tobytes()
        for name in ("params", "slots", "step", "rng", "grad", "prev_grad"):
            assert getattr(env.state, name).tobytes() == getattr(state, name).tobytes(), name


def test_integer_action_types_give_the_same_trajectory():
    """Python ints and NumPy integers take the step's fast path of the discrete rule, other
    integer forms (uint8, a 0-d array, an array of one) the general next_lr: all give the same
    LRs and trajectories to the bit. (A float, even a whole one, is no action:
    tests/test_actions.py.)"""
    actions = [4, 4, 0, 3, 1, 2, 4, 0]
    forms = [int, np.int64, np.int32, np.uint8, np.array, lambda a: np.array([a])]
    runs = [rollout(LRControlEnv(family="linreg", horizon=8, inner_steps=2), 3, [form(a) for a in actions])
            for form in forms]
    for run in runs[1:]:
        assert_identical(runs[0], run)
    assert [step[4]["lr"] for step in runs[0][1:]] == pytest.approx([0.02, 0.04, 0.02, 0.025, 0.02, 0.02, 0.04, 0.02])


@pytest.mark.parametrize("options, named", [
    ({"instance": 4, "lr_init": 100.0}, "lr_init=100.0"),  # a valid instance, a bad start LR
    ({"lr_init": math.nan}, "lr_init=nan"),
    ({"instance": 4, "level": 3}, r"unknown reset option\(s\) \['level'\]; valid: instance, lr_init"),
    ({"instance": True}, "instance True not in the 'train' set; valid: integers 0..9999"),  # was instance 1
    (5, "options=5 invalid; valid: None or a dict with the keys instance, lr_init"),  # was a TypeError
    (["instance"], r"options=\['instance'\] invalid; valid: None or a dict"),
], ids=repr)
def test_a_refused_reset_changes_nothing(options, named):
    """A reset whose options are refused leaves the env as it was — its episode, its generator,
    the seed it was given unused — like a twin that never saw the call. (It used to take the
    asked-for instance's task and state while its step stayed bound to the old episode, and a
    copy of it then continued another episode.)"""
    env, twin = (LRControlEnv(family="linreg", horizon=6, inner_steps=2) for _ in range(2))
    for e in (env, twin):
        e.reset(seed=0, options={"instance": 3})
        e.step(4)
    with pytest.raises(ValueError, match=named):
        env.reset(seed=99, options=options)
    assert (env.instance, env.task, env.t) == (twin.instance, twin.task, twin.t)
    assert env.np_random.bit_generator.state == twin.np_random.bit_generator.state
    actions = [1, 3, 2, 4]
    clone = pickle.loads(pickle.dumps(env))  # rebinds its step to env.task / env.state
    expected = [twin.step(a) for a in actions]
    next_obs, next_info = twin.reset()
    for e in (env, clone):
        assert_identical(expected, [e.step(a) for a in actions])
        obs, info = e.reset()  # the same next instance and initial parameters: the same generator
        assert obs.tobytes() == next_obs.tobytes() and info["instance"] == next_info["instance"]


@pytest.mark.parametrize("cache", [{}, 1, ["tasks"]], ids=repr)
def test_a_task_cache_that_is_not_an_ordered_dict_is_refused_at_construction(cache):
    """As the ``task_cache`` setter refuses it (the constructor took it, and the env's first reset
    failed on it with an AttributeError)."""
    with pytest.raises(TypeError, match=f"task_cache must be a collections.OrderedDict, got {type(cache).__name__}"):
        LRControlEnv(family="linreg", task_cache=cache)


def test_step_before_the_first_reset_is_named_as_such():
    """An audit (2026-12-05): a bare env (as RLlib builds it) stepped before any reset said "a
    finished episode"."""
    env = LRControlEnv(family="quadratic", horizon=1)
    with pytest.raises(RuntimeError, match="before the first reset"):
        env.step(0)
    env.reset(seed=0)
    env.step(0)
    with pytest.raises(RuntimeError, match="on a finished episode"):
        env.step(0)
