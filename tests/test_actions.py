"""The action contract's rules live once, in :mod:`lrgym.actions`: the single env's fast path,
:func:`~lrgym.actions.next_lr` (the env's slow path and :mod:`lrgym.torch`) and the vector env's
compiled loops all set the same LR to the bit; the inverse maps agree; and the modules that use
``observe``, ``next_lr`` and the settings import them from their homes, not through ``lrgym.env``."""

from __future__ import annotations

import ast
import math
import re
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from lrgym import actions
from lrgym.env import LRControlEnv
from lrgym.settings import EnvSettings
from lrgym.vector.actions import apply_actions

ROOT = Path(__file__).resolve().parents[1]
LR_RANGE = (1e-6, 10.0)


def _lrs_from_everywhere(action_mode, action_values, lrs):
    """(next_lr's LRs, the compiled rule's, the vector env's loop's) for each (action, lr)."""
    settings = EnvSettings.build(family="quadratic", action_mode=action_mode, lr_min=LR_RANGE[0], lr_max=LR_RANGE[1])
    lo, hi = settings.lr_min, settings.lr_max
    by_next_lr = [actions.next_lr(a, lr, action_mode, settings.factors, lo, hi) for a, lr in zip(action_values, lrs)]
    if action_mode == "discrete":
        compiled = [actions.factor_lr(lr, settings.factors[a], lo, hi) for a, lr in zip(action_values, lrs)]
        checked = np.array(action_values, dtype=np.int64)
    else:
        compiled = [actions.log_lr_to_lr(float(a), settings.log_lr_min, settings.log_lr_max, lo, hi) for a in action_values]
        checked = np.array(action_values, dtype=np.float64)
    vector = np.array(lrs, dtype=np.float64)
    apply_actions(checked, np.ones(len(lrs), dtype=np.bool_), settings, vector)
    return by_next_lr, compiled, vector.tolist()


def test_discrete_rule_is_one_rule_to_the_bit():
    rng = np.random.default_rng(0)
    lrs = (10.0 ** rng.uniform(-7, 2, size=200)).tolist() + [1e-6, 10.0, 5.0, 2e-6]
    acts = rng.integers(0, 5, size=len(lrs)).tolist()
    a, b, c = _lrs_from_everywhere("discrete", acts, lrs)
    assert [x.hex() for x in map(float, a)] == [x.hex() for x in b] == [x.hex() for x in c]
    assert all(LR_RANGE[0] <= x <= LR_RANGE[1] for x in c)


def test_log_lr_rule_is_one_rule_to_the_bit():
    rng = np.random.default_rng(1)
    acts = rng.uniform(-1, 1, size=200).tolist() + [-1.0, 1.0, 0.0]
    a, b, c = _lrs_from_everywhere("log_lr", acts, [1.0] * len(acts))
    assert [float(x).hex() for x in a] == [x.hex() for x in b] == [x.hex() for x in c]


@pytest.mark.parametrize("lr_min, lr_max", [(3e-5, 0.3), (1.234e-7, 0.777), (2e-3, 5.0), (1e-300, 1.7976931348623157e308)])
def test_log_lr_keeps_the_lr_inside_any_range_in_every_path(lr_min, lr_max):
    """An audit (2026-12-05): with bounds (3e-5, 0.3) action 1 set 0.30000000000000004 and action
    -1 set 3.0000000000000004e-05, outside the range; with lr_max the largest float the single
    env raised OverflowError and the vector env set inf. Every path clips to the range."""
    settings = EnvSettings.build(family="quadratic", action_mode="log_lr", lr_min=lr_min, lr_max=lr_max)
    acts = [-1.0, 1.0, -0.999999, 0.999999, 0.0]
    for path in (
        [actions.next_lr(a, 1.0, "log_lr", settings.factors, lr_min, lr_max) for a in acts],
        [actions.log_lr_to_lr(a, settings.log_lr_min, settings.log_lr_max, lr_min, lr_max) for a in acts],
    ):
        assert all(lr_min <= x <= lr_max for x in path), path
    vector = np.ones(len(acts))
    apply_actions(np.array(acts), np.ones(len(acts), dtype=np.bool_), settings, vector)
    assert all(lr_min <= x <= lr_max for x in vector)
    if lr_max == 0.3:  # the audit's range: the top action gave 0.30000000000000004
        assert vector[1] == lr_max
    # the default range and decade bounds come out exact without the clip: their LRs are unchanged
    for lo, hi in [LR_RANGE, (1e-4, 1.0), (1e-8, 100.0)]:
        assert 10.0 ** math.log10(lo) == lo and 10.0 ** math.log10(hi) == hi


def test_single_env_fast_and_slow_paths_set_the_same_lr():
    """An int takes the step's fast path, a float array action next_lr's: the same LRs."""
    fast, slow = LRControlEnv(family="quadratic", horizon=8), LRControlEnv(family="quadratic", horizon=8)
    fast.reset(seed=0)
    slow.reset(seed=0)
    for a in (4, 4, 0, 3, 1, 2, 4, 0):
        fast.step(a)
        slow.step(np.array([a]))
        assert fast.lr.hex() == float(slow.lr).hex()


@pytest.mark.parametrize("lr", [1e-6, 3.7e-4, 0.01, 1.0, 10.0])
def test_inverse_maps_agree_and_invert_the_rule(lr):
    from lrgym.baselines.controller import action_from_ln_lr

    a = actions.log_lr_action(lr, *LR_RANGE)
    assert a.dtype == np.float32 and a.shape == (1,)
    ln = action_from_ln_lr(math.log(lr), math.log(LR_RANGE[0]), math.log(LR_RANGE[1]))
    assert float(ln) == pytest.approx(float(a[0]), abs=1e-6)  # natural logs: the same action
    back = actions.log_lr_to_lr(float(a[0]), math.log10(LR_RANGE[0]), math.log10(LR_RANGE[1]), *LR_RANGE)
    assert back == pytest.approx(lr, rel=1e-5)



@pytest.mark.parametrize("action_mode, action", [
    ("discrete", True),  # was action 1 (×0.8)
    ("discrete", False),
    ("log_lr", True),  # was action 1.0 (lr_max)
    ("log_lr", np.bool_(False)),
    ("log_lr", np.array([True])),
    ("log_lr", "0.5"),  # was 0.5
    ("log_lr", ["0.5"]),
    ("log_lr", np.array([0.5 + 0.5j])),  # was 0.5, the imaginary part dropped with a warning
    ("log_lr", 0.5 + 0j),  # was a TypeError
    ("log_lr", np.array([0.5], dtype=object)),
], ids=repr)
def test_an_action_that_is_not_a_number_is_refused_as_the_vector_env_refuses_it(action_mode, action):
    """Bools, strings, complex numbers and object arrays are not actions: the single env (and
    next_lr, lrgym.torch's rule) refuses them by name and changes nothing, as the vector env
    refuses the same action in a batch."""
    from lrgym.vector import LRControlVectorEnv

    kwargs = dict(family="quadratic", action_mode=action_mode, horizon=3, inner_steps=1)
    vec = LRControlVectorEnv(1, **kwargs)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="invalid actions"):  # the reference: the batched check
        vec.step(np.array([action]))
    env = LRControlEnv(**kwargs)
    env.reset(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way
        with pytest.raises(ValueError, match=re.escape(f"invalid action {action!r}; valid")):
            env.step(action)
    assert (env.lr, env.t) == (env.lr_init, 0)


def test_controller_old_helper_name_warns_and_is_not_the_envs():
    from lrgym.baselines import controller

    assert "log_lr_action" not in controller.__all__
    with pytest.warns(DeprecationWarning, match="action_from_ln_lr"):
        old = controller.log_lr_action(np.log(0.01), np.log(1e-6), np.log(10.0))
    assert float(old) == float(controller.action_from_ln_lr(np.log(0.01), np.log(1e-6), np.log(10.0)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from lrgym.env import log_lr_action  # the env's own name stays: (lr, lr_min, lr_max)
    assert log_lr_action is actions.log_lr_action


#: the modules that must import these names from their homes, not through lrgym.env (a re-export hub)
HOMES = {"observe": "lrgym.step", "next_lr": "lrgym.actions", "log_lr_action": "lrgym.actions",
         "ACTION_MODES": "lrgym.info", "DEFAULT_FACTORS": "lrgym.settings", "default_lr_init": "lrgym.settings",
         "flat_grad": "lrgym.torch._tensors", "params_finite": "lrgym.torch._tensors"}
IMPORTERS = ["lrgym/monitor.py", "lrgym/vector/training.py", "lrgym/vector/actions.py", "lrgym/torch/env.py",
             "lrgym/torch/scheduler.py", "baselines/policy.py"]


@pytest.mark.parametrize("path", IMPORTERS)
def test_names_are_imported_from_their_home_module(path):
    tree = ast.parse((ROOT / path).read_text())
    wrong = [f"{path}:{node.lineno}: {alias.name} from {node.module} (home: {HOMES[alias.name]})"
             for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             for alias in node.names if alias.name in HOMES and node.module != HOMES[alias.name]]
    assert wrong == []


def test_public_names_stay_importable_where_users_import_them():
    import lrgym.env as env

    for name in ("observe", "next_lr", "log_lr_action", "ACTION_MODES", "DEFAULT_FACTORS", "default_lr_init"):
        assert getattr(env, name) is not None
    pytest.importorskip("torch")
    import lrgym.torch
    from lrgym.torch import _tensors, scheduler

    assert lrgym.torch.flat_grad is scheduler.flat_grad is _tensors.flat_grad


@pytest.mark.parametrize("action", [10**400, -(10**400), Fraction(10**400, 3)], ids=["1e400", "-1e400", "Fraction"])
def test_a_number_beyond_the_largest_float_is_an_invalid_action_not_an_overflow(action):
    """An adversarial audit (2026-12-05): ``float(10**400)`` raised ``OverflowError``, which the
    grader recorded as its own error; it is out of range like any other number."""
    env = LRControlEnv(family="quadratic", action_mode="log_lr", horizon=3, inner_steps=1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action .*; valid: one float in \\[-1, 1\\]"):
        env.step(action)
    assert (env.lr, env.t) == (env.lr_init, 0)


#: the discrete actions real clients pass: a Python int (gymnasium's SyncVectorEnv and SB3's
#: DummyVecEnv pass a NumPy integer, an element of their batch), SB3's predict on one observation
#: (a 0-d int64 array) or on one with its batch axis (shape (1,)), a list of one int
WHOLE_INTEGERS = [4, np.int64(4), np.int32(4), np.uint8(4), np.array(4), np.array([4]), [4],
                  np.array([4], dtype=np.int16)]
#: not an index: floats (even whole ones, which gymnasium's Discrete.contains refuses too),
#: bools, strings, more than one number or more axes
NOT_INDICES = [2.0, np.float32(2.0), np.float64(2.0), np.array(2.0), np.array([2.0]), [2.0], 2.5, True,
               np.bool_(True), np.array([True]), "2", ["2"], [[2]], np.array([[2]]), np.array([2, 2])]


@pytest.mark.parametrize("action", WHOLE_INTEGERS, ids=repr)
def test_a_discrete_action_of_an_integer_type_sets_the_ints_lr_in_both_envs(action):
    from lrgym.vector import LRControlVectorEnv

    kwargs = dict(family="quadratic", horizon=3, inner_steps=1)
    env, reference = LRControlEnv(**kwargs), LRControlEnv(**kwargs)
    env.reset(seed=0)
    reference.reset(seed=0)
    assert env.step(action)[0].tobytes() == reference.step(4)[0].tobytes()
    assert env.lr == reference.lr == 0.02  # × factors[4]
    vec = LRControlVectorEnv(2, **kwargs)
    vec.reset(seed=0)
    vec.step(np.stack([np.asarray(action)] * 2))
    assert (vec._lr == 0.02).all()


@pytest.mark.parametrize("action", NOT_INDICES, ids=repr)
def test_a_discrete_action_that_is_no_integer_is_refused_by_both_envs(action):
    """The single env names the value and the valid choices (a float: int() it) and changes
    nothing; the vector env refuses the same action in a batch of two."""
    from lrgym.vector import LRControlVectorEnv

    kwargs = dict(family="quadratic", horizon=3, inner_steps=1)
    env = LRControlEnv(**kwargs)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=re.escape(f"invalid action {action!r}; valid choices: integers 0..4 "
                                                   "(factors (0.5, 0.8, 1.0, 1.25, 2.0)): an int, a NumPy integer, "
                                                   "or an integer array of shape () or (1,)")) as raised:
        env.step(action)
    assert ("a float is no index" in str(raised.value)) == (np.asarray(action).dtype.kind == "f")
    assert (env.lr, env.t) == (env.lr_init, 0)
    vec = LRControlVectorEnv(2, **kwargs)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="invalid"):
        vec.step(np.stack([np.asarray(action)] * 2))
    assert (vec._t == 0).all()


@pytest.mark.parametrize("algo", ["PPO", "DQN"])
def test_sb3_predictions_are_valid_discrete_actions_everywhere(algo):
    """What SB3's predict returns (read in its source: a 0-d int64 array for one observation,
    shape (1,) for one with its batch axis, (n,) int64 for a VecEnv) steps the single env, the SB3
    adapter and SB3's own DummyVecEnv over gym.make, which passes each env a NumPy integer."""
    pytest.importorskip("stable_baselines3")
    import gymnasium as gym
    import stable_baselines3
    from stable_baselines3.common.vec_env import DummyVecEnv

    from lrgym.sb3 import make_sb3_vec_env

    kwargs = dict(horizon=3, inner_steps=1)
    ours = make_sb3_vec_env("LRControl-Quadratic-v1", n_envs=2, seed=0, **kwargs)
    dummy = DummyVecEnv([lambda: gym.make("LRControl-Quadratic-v1", **kwargs)] * 2)
    model = getattr(stable_baselines3, algo)("MlpPolicy", ours, seed=0)
    for venv in (ours, dummy):
        actions, _ = model.predict(venv.reset(), deterministic=True)
        assert actions.dtype == np.int64 and actions.shape == (2,)
        venv.step(actions)
    env = gym.make("LRControl-Quadratic-v1", **kwargs)
    obs, _ = env.reset(seed=0)
    one, _ = model.predict(obs, deterministic=True)
    batch_of_one, _ = model.predict(obs[None], deterministic=True)
    assert one.shape == () and batch_of_one.shape == (1,) and env.action_space.contains(one)
    for action in (one, batch_of_one):
        lr = env.unwrapped.lr
        env.step(action)
        assert env.unwrapped.lr == min(10.0, lr * env.unwrapped.factors[int(one)])


@pytest.mark.parametrize("action_mode", ["discrete", "log_lr"])
def test_a_ragged_action_is_an_invalid_action_not_numpys_error(action_mode):
    """A ragged nested list was NumPy's bare "setting an array element with a sequence ...
    inhomogeneous shape" (the single env's discrete check, the vector env's check of a batch)."""
    from lrgym.vector import LRControlVectorEnv

    kwargs = dict(family="quadratic", action_mode=action_mode, horizon=3, inner_steps=1)
    env = LRControlEnv(**kwargs)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=re.escape("invalid action [[1, 2], [3]]; valid")):
        env.step([[1, 2], [3]])
    assert (env.lr, env.t) == (env.lr_init, 0)
    vec = LRControlVectorEnv(2, **kwargs)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=re.escape("invalid actions [[1, 2], [3]] (a ragged sequence); valid: (2")):
        vec.step([[1, 2], [3]])
    good = [2, 2] if action_mode == "discrete" else [[0.0], [0.0]]
    assert vec.step(good)[4]["step"].tolist() == [1, 1]  # nothing was stepped by the refused batch


@pytest.mark.parametrize("depth", [33, 40, 64])
def test_a_log_lr_number_nested_past_32_lists_sets_the_lr_of_the_number(depth):
    """NumPy 2 holds up to 64 axes but its flat iterator 32: a one-number action nested 33 - 64 lists
    deep raised NumPy's RuntimeError in next_lr (a graded entry failed as a "grader error").
    Reference: the same number given bare (and the log rule's closed form), through the env and
    next_lr (lrgym.torch's path) alike; and one
    nested past NumPy's 64 axes is an invalid action (ValueError) naming it."""
    nested = 0.5
    for _ in range(depth):
        nested = [nested]
    env = LRControlEnv(family="quadratic", action_mode="log_lr", horizon=3, inner_steps=1)
    env.reset(seed=0)
    try:
        held = np.asarray(nested).ndim == depth
    except ValueError:  # NumPy 1 holds 32 axes at most: there the action is no array, so invalid
        held = False
    if not held:
        with pytest.raises(ValueError, match=re.escape("valid: one float in [-1, 1]")):
            env.step(nested)
        return
    env.step(nested)
    bare = LRControlEnv(family="quadratic", action_mode="log_lr", horizon=3, inner_steps=1)
    bare.reset(seed=0)
    bare.step(0.5)
    assert env.lr == bare.lr  # the same code on both sides: to the bit
    assert env.lr == pytest.approx(10 ** (-6 + 0.75 * 7), rel=1e-12)  # the log rule's closed form
    assert actions.next_lr(nested, 0.01, "log_lr", np.array([1.0]), *LR_RANGE) == bare.lr
    too_deep = 0.5
    for _ in range(65):
        too_deep = [too_deep]
    with pytest.raises(ValueError, match=re.escape("valid: one float in [-1, 1]")):
        env.step(too_deep)
