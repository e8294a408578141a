"""Builds ahead (lrgym/tasks/ahead.py): an env that builds its next instances in a background
thread runs the same episodes, to the bit, as one that builds at reset — with and without
interference (reset seeds, forced instances, a user's own draws from ``np_random``) — and its
predictions are what its resets draw.

The reference is the same env with ``build_ahead=0``; the shared task cache is off in these
tests, so every instance is really built (in the background for predicted resets).
"""

from __future__ import annotations

import copy
import pickle
import threading
from collections import OrderedDict

import gymnasium as gym
import numpy as np
import pytest

import lrgym  # noqa: F401  (registers the ids)
from lrgym.env import LRControlEnv
from lrgym.tasks.ahead import MAX_DEPTH
from lrgym.tasks.cache import shared_cache

KWARGS = dict(family="mixed", horizon=3, inner_steps=2)
ACTIONS = np.random.default_rng(7).integers(5, size=400)


@pytest.fixture
def no_cache():
    """The process-wide cache keeps nothing: every reset (or build ahead) builds."""
    cache = shared_cache()
    limits = cache.max_bytes, cache.max_items
    cache.clear()
    cache.set_limit(0)
    yield cache
    cache.set_limit(*limits)
    cache.clear()


@pytest.fixture(autouse=True)
def close_builders(monkeypatch):
    """Close every env's builder at the end of its test (as ``env.close()`` does): no builder
    works, and no env holds BLAS at one thread, into the next test."""
    made = []
    new_build_ahead = LRControlEnv._new_build_ahead

    def recording(env):
        ahead = new_build_ahead(env)
        if ahead is not None:
            made.append(ahead)
        return ahead

    monkeypatch.setattr(LRControlEnv, "_new_build_ahead", recording)
    yield
    for ahead in made:
        ahead.close()


def _info_bytes(info: dict) -> bytes:
    return b"".join(np.asarray(info[k]).tobytes() for k in sorted(info))


def run(env, interfere: bool, episodes: int = 24) -> list[bytes]:
    """Episodes of fixed actions; with ``interfere``, some resets are seeded, some force an
    instance, and the user draws from ``np_random`` before some."""
    out = []
    obs, info = env.reset(seed=3)
    out += [obs.tobytes(), _info_bytes(info)]
    a = 0
    for e in range(episodes):
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(int(ACTIONS[a % len(ACTIONS)]))
            a += 1
            out += [obs.tobytes(), np.float64(reward).tobytes(), _info_bytes(info)]
            done = terminated or truncated
        if interfere and e % 6 == 1:
            obs, info = env.reset(seed=100 + e)
        elif interfere and e % 6 == 3:
            obs, info = env.reset(options={"instance": 40 + e})
        elif interfere and e % 6 == 4:
            env.unwrapped.np_random.random()  # the user's own draw: the chain's guess is off
            obs, info = env.reset()
        else:
            obs, info = env.reset()
        out += [obs.tobytes(), _info_bytes(info)]
    return out


@pytest.mark.parametrize("interfere", [False, True], ids=["plain", "interference"])
def test_builds_ahead_give_the_same_episodes_to_the_bit(interfere, no_cache):
    reference = run(gym.make("LRControl-v1", **KWARGS), interfere)
    for depth in (1, 3):
        env = gym.make("LRControl-v1", **KWARGS, build_ahead=depth)
        assert run(env, interfere) == reference
        hits, misses = env.unwrapped.build_ahead_counts
        assert hits + misses == 25
        if interfere:  # the first reset, and 4 seeded, 4 forced and 4 disturbed ones
            assert misses == 1 + 4 + 4 + 4 and hits == 25 - misses
        else:  # every reset after the first was predicted
            assert (hits, misses) == (24, 1)
        env.close()


def test_predicted_instances_are_built_in_the_background_thread(no_cache, monkeypatch):
    env = LRControlEnv(**KWARGS, build_ahead=2)
    threads = []
    build = env.family.build

    def recording_build(spec):
        threads.append(threading.current_thread().name)
        return build(spec)

    monkeypatch.setattr(env.family, "build", recording_build)
    env.reset(seed=5)
    for _ in range(10):
        done = False
        while not done:
            *_, terminated, truncated, _ = env.step(2)
            done = terminated or truncated
        env.reset()
    env.close()
    assert threads[0] == threading.current_thread().name  # the first reset builds itself
    ahead = [t for t in threads[1:] if t.startswith("lrgym-build-ahead")]
    assert len(ahead) == len(threads) - 1 >= 10  # all others in the worker (+ up to 2 queued)
    assert env.build_ahead_counts == (10, 1)


def test_an_env_with_its_own_task_cache_builds_ahead_into_it(no_cache):
    reference = run(LRControlEnv(**KWARGS, task_cache=OrderedDict()), interfere=False, episodes=10)
    own = OrderedDict()
    env = LRControlEnv(**KWARGS, task_cache=own, build_ahead=2)
    assert run(env, interfere=False, episodes=10) == reference
    assert env.instance in own and own[env.instance] is env.task
    assert env.build_ahead_counts == (10, 1)


def test_vector_env_builds_ahead_with_the_same_steps(no_cache):
    def steps(build_ahead):
        envs = gym.make_vec("LRControl-v1", num_envs=4, vectorization_mode="vector_entry_point", **KWARGS,
                            build_ahead=build_ahead)
        obs, info = envs.reset(seed=9)
        out = [obs.tobytes()]
        for t in range(30):
            obs, rewards, terminated, truncated, infos = envs.step(ACTIONS[4 * t: 4 * t + 4])
            out += [obs.tobytes(), rewards.tobytes(), terminated.tobytes(), infos["instance"].tobytes(),
                    infos["train_loss"].tobytes()]
        envs.close()
        return out

    assert steps(2) == steps(0)


def test_close_drops_the_queue_and_the_env_still_runs_the_same(no_cache):
    reference = run(LRControlEnv(**KWARGS), interfere=False, episodes=6)
    env = LRControlEnv(**KWARGS, build_ahead=4)
    env.reset(seed=3)
    env.close()  # drops the 4 queued builds
    assert run(env, interfere=False, episodes=6) == reference
    hits, misses = env.build_ahead_counts
    assert (hits, misses) == (6, 2)  # the reset after close, and the seeded first reset, missed


def test_a_copy_or_pickle_builds_ahead_on_its_own(no_cache):
    env = LRControlEnv(**KWARGS, build_ahead=2)
    env.reset(seed=3)
    for clone in (copy.deepcopy(env), pickle.loads(pickle.dumps(env))):
        assert clone.build_ahead == 2 and clone.build_ahead_counts == (0, 0)
        assert run(clone, interfere=False, episodes=4) == run(env, interfere=False, episodes=4)


def test_a_failing_build_ahead_raises_at_the_reset_that_needs_it(no_cache, monkeypatch):
    env = LRControlEnv(**KWARGS, build_ahead=1)
    env.reset(seed=3)
    build = env.family.build

    def failing_build(spec):
        if threading.current_thread().name.startswith("lrgym-build-ahead"):
            raise MemoryError(f"no memory for {type(spec).__name__}")
        return build(spec)

    monkeypatch.setattr(env.family, "build", failing_build)
    env.close()
    env.reset(seed=4)  # a miss (seeded): built inline; the next instance fails in the worker
    with pytest.raises(MemoryError, match="no memory"):
        env.reset()
    monkeypatch.setattr(env.family, "build", build)
    env.reset()  # the failed chain was dropped: the env goes on


@pytest.mark.parametrize("bad", [-1, MAX_DEPTH + 1, True, 2.0, "4", None])
def test_bad_build_ahead_is_refused_with_the_valid_values(bad):
    with pytest.raises(ValueError, match=rf"build_ahead={bad!r} invalid; valid: an integer 0\.\.{MAX_DEPTH}"):
        LRControlEnv(**KWARGS, build_ahead=bad)
    with pytest.raises(ValueError, match=r"build_ahead=.* invalid"):
        gym.make_vec("LRControl-v1", num_envs=2, vectorization_mode="vector_entry_point", build_ahead=bad)


def test_the_env_holds_blas_at_one_thread_while_it_builds_ahead(no_cache):
    """Only the main thread can set OpenBLAS's thread count (lrgym/tasks/blas.py): the env holds
    it at one from its first reset until close, and the builder finds it so."""
    import scipy.linalg.cython_blas  # noqa: F401
    import threadpoolctl

    from lrgym.tasks.blas import runs_single_threaded

    import gc

    gc.collect()  # envs of earlier tests that were not closed hold the count until collected
    ctl = threadpoolctl.ThreadpoolController().select(user_api="blas")
    with ctl.limit(limits=2):
        env = LRControlEnv(**KWARGS, build_ahead=2)
        assert not runs_single_threaded()
        env.reset(seed=1)
        assert runs_single_threaded()
        for _ in range(3):
            env.step(0)
        env.reset()
        assert env.build_ahead_counts == (1, 1)  # the builder found one thread and built
        env.close()
        assert not runs_single_threaded() and [c.get_num_threads() for c in ctl.lib_controllers] == [2] * len(ctl.lib_controllers)


def test_a_builder_that_finds_several_blas_threads_builds_nothing(no_cache, monkeypatch):
    from lrgym.tasks import ahead

    reference = run(LRControlEnv(**KWARGS), interfere=False, episodes=5)
    monkeypatch.setattr(ahead, "runs_single_threaded", lambda: False)
    env = LRControlEnv(**KWARGS, build_ahead=2)
    assert run(env, interfere=False, episodes=5) == reference
    assert env.build_ahead_counts == (0, 6)  # every reset built its own instance


def test_a_forked_child_builds_its_own(no_cache):
    """The worker thread does not survive a fork: a child's env must not wait for the parent's
    queued builds, and runs the same episodes."""
    import multiprocessing

    global _FORKED_ENV
    env = _FORKED_ENV = LRControlEnv(**KWARGS, build_ahead=3)
    env.reset(seed=3)  # three builds queued in this process's worker
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:  # the child inherits the env as it is (memory, not a pickle)
        child = pool.apply_async(_continue_in_child).get(timeout=120)
    assert child == _continue(env)
    _FORKED_ENV = None


def _continue(env) -> list[bytes]:
    out = []
    for _ in range(4):
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(1)
            out += [obs.tobytes(), np.float64(reward).tobytes()]
            done = terminated or truncated
        obs, info = env.reset()
        out += [obs.tobytes(), _info_bytes(info)]
    return out


_FORKED_ENV = None


def _continue_in_child() -> list[bytes]:
    hits, misses = _FORKED_ENV.build_ahead_counts
    out = _continue(_FORKED_ENV)
    assert _FORKED_ENV.build_ahead_counts == (hits + 3, misses + 1)  # the first reset built itself
    return out

