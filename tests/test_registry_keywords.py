"""A misspelt keyword through lrgym's checked entry points names itself, the closest valid
keyword and every valid one (it was Python's bare ``__init__() got an unexpected keyword
argument``); the error stays a TypeError (gymnasium's and Python's type for it), and specs,
copies and pickles of the envs work as with the class as entry point.

The registered ids still use the classes (lrgym.registry's docstring says why); an id registered
here with the checked entry points shows how ``gym.make`` behaves once they switch.
"""

from __future__ import annotations

import copy
import inspect
import pickle

import gymnasium as gym
import pytest

import lrgym  # noqa: F401  (registers the ids)
from lrgym.env import LRControlEnv
from lrgym.registry import CHECKED_ENTRY_POINT, CHECKED_VECTOR_ENTRY_POINT, UnknownKeywordError, make_env


@pytest.fixture(scope="module")
def checked_id():
    env_id = "CheckedLinReg-v0"
    gym.register(env_id, entry_point=CHECKED_ENTRY_POINT, vector_entry_point=CHECKED_VECTOR_ENTRY_POINT,
                 kwargs={"family": "linreg"})
    yield env_id
    del gym.registry[env_id]


def test_make_env_names_a_misspelt_keyword_and_the_valid_ones():
    with pytest.raises(UnknownKeywordError) as caught:
        make_env(horizn=10, optimiser="adam")
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, ValueError)
    valid = list(inspect.signature(LRControlEnv).parameters)  # the reference: the signature
    assert str(caught.value) == ("LRControlEnv has no keywords 'horizn' (did you mean 'horizon'?), 'optimiser' "
                                 f"(did you mean 'optimizer'?); valid: {', '.join(valid)}")


def test_gym_make_through_the_checked_entry_point(checked_id):
    with pytest.raises(TypeError, match=r"LRControlEnv has no keyword 'horizn' \(did you mean 'horizon'\?\); valid: "):
        gym.make(checked_id, horizn=10)
    with pytest.raises(TypeError, match=r"no keyword 'optimiser' \(did you mean 'optimizer'\?\); valid: num_envs"):
        gym.make_vec(checked_id, 2, vectorization_mode="vector_entry_point", optimiser="adam")


def test_specs_copies_pickles_and_render_modes_are_unchanged(checked_id):
    env = gym.make(checked_id, horizon=3, inner_steps=2)
    again = gym.make(env.spec)
    assert again.spec.kwargs == env.spec.kwargs and again.unwrapped.horizon == 3
    env.reset(seed=1)
    expected = copy.deepcopy(env).step(2)[0].tobytes()
    for clone in (copy.deepcopy(env), pickle.loads(pickle.dumps(env))):
        assert clone.step(2)[0].tobytes() == expected
    venv = gym.make_vec(checked_id, 2, vectorization_mode="vector_entry_point", horizon=3)
    assert venv.num_envs == 2 and venv.reset(seed=0)[0].shape[0] == 2
    assert gym.make(checked_id, render_mode="rgb_array").render_mode == "rgb_array"
    assert type(gym.make(checked_id, render_mode="human")).__name__ == "HumanRendering"  # creator's metadata read


@pytest.mark.xfail(strict=True, reason="the ids still register the class: lrgym/sb3.py must accept the checked "
                   "entry point first (lrgym.registry's docstring)")
def test_the_registered_ids_check_their_keywords():
    with pytest.raises(UnknownKeywordError):
        gym.make("LRControl-v1", horizn=10)
