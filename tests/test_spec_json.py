"""``env.spec.to_json()`` and ``gym.make(EnvSpec.from_json(...))`` for env kwargs JSON has no type
for (:mod:`lrgym.spec_kwargs`): ``instances=range(...)`` or a NumPy array, ``factors`` as an
array, a NumPy integer ``horizon``. gymnasium's ``to_json`` raised ``TypeError: Object of type
range is not JSON serializable``; now the spec records the JSON value that makes the same env,
and the env made from the JSON runs the same episodes to the bit."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec

import lrgym  # noqa: F401  (registers the ids)
from lrgym.spec_kwargs import jsonable

SHORT = dict(horizon=np.int64(3), inner_steps=2)
ACTIONS = np.random.default_rng(7).integers(3, size=200)
KWARGS = [
    dict(instances=range(3, 9)),
    dict(instances=np.array([8, 1, 5], dtype=np.int32)),
    dict(instances=(4, 9, 2)),
    dict(instances=[4, 9], factors=np.array([0.5, 1.0, 2.0]), reward_alphas=(np.float64(1.0), 2)),
]


def _run(env, seed=3, n=12) -> list[bytes]:
    obs, info = env.reset(seed=seed)
    out = [obs.tobytes(), np.int64(info["instance"]).tobytes()]
    for a in ACTIONS[:n]:
        obs, reward, terminated, truncated, info = env.step(int(a))
        out += [obs.tobytes(), np.float64(reward).tobytes(), np.int64(info["instance"]).tobytes()]
        if terminated or truncated:
            obs, info = env.reset()
            out += [obs.tobytes(), np.int64(info["instance"]).tobytes()]
    return out


@pytest.mark.parametrize("kwargs", KWARGS)
def test_spec_to_json_round_trips_to_the_same_env(kwargs):
    env = gym.make("LRControl-v1", **kwargs, **SHORT)
    text = env.spec.to_json()
    recorded = json.loads(text)["kwargs"]
    for key, value in {**kwargs, **SHORT}.items():  # what was passed, as JSON writes it
        assert recorded[key] == json.loads(json.dumps(np.asarray(list(value) if isinstance(value, range) else value)
                                                      .tolist()))
    again = gym.make(EnvSpec.from_json(text))
    assert again.spec.to_json() == text
    assert _run(again) == _run(env)
    assert type(env.unwrapped.instances) is type(kwargs["instances"] if isinstance(kwargs["instances"], range) else ())


@pytest.mark.parametrize("kwargs", KWARGS[:2])
def test_vector_spec_to_json_round_trips_to_the_same_env(kwargs):
    envs = gym.make_vec("LRControl-v1", 2, vectorization_mode="vector_entry_point", **kwargs, **SHORT)
    text = envs.spec.to_json()
    again = gym.make_vec(EnvSpec.from_json(text))
    assert again.spec.to_json() == text
    for i in range(2):  # each sub-environment's own spec (SyncVectorEnv's) as well
        sub = envs.unwrapped.sub_env(i).spec.to_json()
        assert json.loads(sub)["kwargs"]["instances"] == json.loads(text)["kwargs"]["instances"]
    first = envs.reset(seed=4)[0]
    assert first.tobytes() == again.reset(seed=4)[0].tobytes()
    actions = np.array([1, 2])
    assert envs.step(actions)[0].tobytes() == again.step(actions)[0].tobytes()


def test_the_given_spec_and_other_values_are_left_alone():
    env = gym.make("LRControl-v1", instances=range(0, 3))
    assert env.spec.kwargs["instances"] == [0, 1, 2]
    assert env.unwrapped.instances == range(0, 3)  # the env keeps the range it was given
    family = object()
    assert jsonable({"a": (np.int64(2), [np.float32(0.5)]), "b": family, "c": "x", "d": None}) == \
        {"a": (2, [0.5]), "b": family, "c": "x", "d": None}
    assert type(jsonable(np.int64(2))) is int and type(jsonable((np.int8(1),))[0]) is int


def test_a_range_too_long_to_list_is_recorded_as_it_was_given():
    """A slice of the private set may hold up to 2**62 - 2**40 seeds: written out as a list,
    ``gym.make`` raised ``MemoryError`` (or ate the machine's memory, for a range of 10^9)."""
    start = 2**40
    whole = range(start, 2**62)
    env = gym.make("LRControl-v1", instance_set="private", instances=whole)
    assert env.spec.kwargs["instances"] == whole and env.unwrapped.instances == whole
    from lrgym.spec_kwargs import MAX_LISTED_RANGE

    longest = range(start, start + MAX_LISTED_RANGE)
    assert gym.make("LRControl-v1", instance_set="private", instances=longest).spec.kwargs["instances"] == list(longest)
    longer = range(start, start + MAX_LISTED_RANGE + 1)
    assert gym.make("LRControl-v1", instance_set="private", instances=longer).spec.kwargs["instances"] == longer


def test_a_task_cache_stays_an_ordered_dict_so_the_spec_makes_the_env_again():
    """``jsonable`` rebuilt every dict as a plain one, so the spec of
    ``gym.make(id, task_cache=OrderedDict())`` held a dict, and ``gym.make(env.spec)`` raised
    ``TypeError: task_cache must be a collections.OrderedDict, got dict`` (it made the env before
    spec_kwargs)."""
    from collections import OrderedDict

    env = gym.make("LRControl-LinReg-v1", task_cache=OrderedDict(), **SHORT)
    assert type(env.spec.kwargs["task_cache"]) is OrderedDict
    again = gym.make(env.spec)
    assert type(again.unwrapped.task_cache) is OrderedDict
    assert _run(again) == _run(env)


@pytest.mark.parametrize("family, options", [
    ("linreg", {"dim": 8, "streaming": True}),
    ("recsys", {"n_users": 50, "n_items": 40, "rank": np.int64(4)}),
    ("mixed", {"members": ("linreg", "quadratic"), "member_options": {"quadratic": {"dim": 6}}}),
])
def test_a_built_family_is_recorded_as_its_name_and_options_and_makes_the_same_env(family, options):
    """A built family had no JSON form: ``env.spec.to_json()`` of ``gym.make(id, family=make_family(...))``
    raised ``TypeError: Object of type LinRegFamily is not JSON serializable``. The spec records
    the name and options that make it again; the env keeps the family object it was given."""
    from lrgym.tasks import make_family

    built = make_family(family, **options)
    env = gym.make("LRControl-v1", family=built, **SHORT)
    assert env.unwrapped.family is built
    text = env.spec.to_json()
    recorded = json.loads(text)["kwargs"]
    assert recorded["family"] == family
    assert recorded["family_options"] == json.loads(json.dumps(jsonable(options)))
    again = gym.make(EnvSpec.from_json(text))
    assert type(again.unwrapped.family) is type(built) and again.spec.to_json() == text
    assert _run(again) == _run(env)
    assert _run(gym.make(env.spec)) == _run(env)
    envs = gym.make_vec("LRControl-v1", 2, vectorization_mode="vector_entry_point", family=built, **SHORT)
    vector_text = envs.spec.to_json()
    assert json.loads(vector_text)["kwargs"]["family_options"] == recorded["family_options"]
    twin = gym.make_vec(EnvSpec.from_json(vector_text))
    assert envs.reset(seed=4)[0].tobytes() == twin.reset(seed=4)[0].tobytes()
    assert envs.step(np.array([1, 3]))[0].tobytes() == twin.step(np.array([1, 3]))[0].tobytes()


def test_a_family_no_name_makes_is_recorded_as_it_was_given():
    """A subclass of a registered family is no family its name makes: the spec keeps the object
    (gym.make(env.spec) still works in the process), and to_json is gymnasium's TypeError."""
    from lrgym.tasks.linreg import LinRegFamily

    class Mine(LinRegFamily):
        pass

    built = Mine(dim=8)
    env = gym.make("LRControl-v1", family=built, **SHORT)
    assert type(env.spec.kwargs["family"]) is Mine and not env.spec.kwargs.get("family_options")
    with pytest.raises(TypeError, match="Mine"):
        env.spec.to_json()
    assert _run(gym.make(env.spec)) == _run(env)
