"""``copy.copy`` of an env mid-episode is an independent env at the same point (as
``copy.deepcopy`` and pickle make one): stepping the copy leaves the original as it was, and both
go on as an env run from the start with the same seed and actions. A shallow copy shared the
training arrays (parameters, statistics), so a step of the copy changed the original.

The reference is the obvious one: a fresh env given the same seed and actions from the start.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from lrgym.env import LRControlEnv
from lrgym.vector import LRControlVectorEnv

ACTIONS = np.random.default_rng(9).integers(5, size=400)


def _step_bytes(out) -> bytes:
    obs, reward, terminated, truncated, info = out
    return b"".join([np.asarray(obs).tobytes(), np.asarray(reward).tobytes(), np.asarray(terminated).tobytes(),
                     np.asarray(truncated).tobytes(), np.asarray(info["train_loss"]).tobytes()])


def copied_midway_go_on_as_the_reference(make, action, copied_at: int, steps: int):
    """An env of ``make()`` stepped ``copied_at`` times, then ``copy.copy``'d: the copy stepped on
    to ``steps`` first, then the original, each as the reference (a fresh ``make()`` stepped from
    the start with the same ``action(i)``), to the bit; so stepping the copy left the original
    where it was. Returns (original, copy)."""
    reference = make()
    want = [_step_bytes(reference.step(action(i))) for i in range(steps)]
    env = make()
    for i in range(copied_at):
        env.step(action(i))
    twin = copy.copy(env)
    assert [_step_bytes(twin.step(action(i))) for i in range(copied_at, steps)] == want[copied_at:]
    assert [_step_bytes(env.step(action(i))) for i in range(copied_at, steps)] == want[copied_at:]
    return env, twin


@pytest.mark.parametrize("kwargs", [dict(family="mlp"), dict(family="linreg", rejection_threshold=0.01),
                                    dict(family="quadratic", action_mode="log_lr")])
def test_a_copy_steps_on_its_own_and_both_go_on_as_the_reference(kwargs):
    def make():
        env = LRControlEnv(horizon=12, inner_steps=3, **kwargs)
        env.reset(seed=5)
        return env

    def action(i):
        return int(ACTIONS[i]) if kwargs.get("action_mode") != "log_lr" else np.float32([ACTIONS[i] / 4 - 0.5])

    env, twin = copied_midway_go_on_as_the_reference(make, action, copied_at=4, steps=10)
    assert twin.task is env.task and twin.settings is env.settings  # the immutable parts shared


def test_a_copy_of_the_vector_env_steps_on_its_own_across_autoresets():
    def make():
        envs = LRControlVectorEnv(3, family="mixed", horizon=4, inner_steps=2)
        envs.reset(seed=2)
        return envs

    def actions(t):
        return ACTIONS[3 * t: 3 * t + 3]

    envs, twin = copied_midway_go_on_as_the_reference(make, actions, copied_at=3, steps=12)
    assert twin.settings is envs.settings


def test_a_copy_of_an_env_building_ahead_goes_on_across_resets_as_the_reference():
    """``build_ahead``'s background chain stays with the original (the copy starts its own at its
    next reset), and ``instance_order="cycle"``'s position is copied: both go on through the next
    episodes, instances and all, as a fresh env of the same seed, actions and no build ahead."""
    kwargs = dict(family="linreg", horizon=4, inner_steps=2, instances=(3, 7, 11, 19), instance_order="cycle")

    def episodes(env, first_action: int, n: int = 3) -> list[bytes]:
        out, i = [], first_action
        for _ in range(n):
            obs, info = env.reset()
            out += [obs.tobytes(), np.int64(info["instance"]).tobytes()]
            for _ in range(4):
                out.append(_step_bytes(env.step(int(ACTIONS[i]))))
                i += 1
        return out

    reference = LRControlEnv(**kwargs)
    reference.reset(seed=5)
    for i in range(2):
        reference.step(int(ACTIONS[i]))
    want = episodes(reference, 2)
    env = LRControlEnv(build_ahead=2, **kwargs)
    env.reset(seed=5)
    for i in range(2):
        env.step(int(ACTIONS[i]))
    twin = copy.copy(env)
    assert episodes(twin, 2) == want
    assert episodes(env, 2) == want
    assert env.build_ahead_counts[0] >= 2 and twin.build_ahead_counts[0] >= 1  # both were served by their chains
