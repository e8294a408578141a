"""Whole episodes as bytes, to compare two ways of running them to the bit (the instance-list
and instance-order tests: an env keyword against a wrapper doing the same by hand), and one step
of two SB3 VecEnvs compared so."""

from __future__ import annotations

import numpy as np


def info_bytes(info: dict) -> bytes:
    """Every value of ``info``, key by key in sorted order."""
    return b"".join(np.asarray(info[k]).tobytes() for k in sorted(info))


def episodes(reset, step, n: int, actions) -> list[bytes]:
    """Every observation, reward, flag and info of ``n`` episodes (``reset(e)`` starts episode e),
    stepped with ``actions`` in turn across the episodes."""
    out, a = [], 0
    for e in range(n):
        obs, info = reset(e)
        out += [obs.tobytes(), info_bytes(info)]
        done = False
        while not done:
            obs, reward, terminated, truncated, info = step(int(actions[a]))
            a += 1
            out += [obs.tobytes(), np.float64(reward).tobytes(), bytes([terminated, truncated]), info_bytes(info)]
            done = terminated or truncated
    return out


def same_vec_step(ours, theirs, actions) -> list[dict]:
    """Step two SB3 VecEnvs (``step_async`` / ``step_wait``) with ``actions``: the same
    observations, rewards and dones to the bit, and the same instance in each info; returns
    ``ours``'s infos."""
    ours.step_async(actions)
    theirs.step_async(actions)
    o1, r1, d1, i1 = ours.step_wait()
    o2, r2, d2, i2 = theirs.step_wait()
    assert o1.tobytes() == o2.tobytes() and r1.tobytes() == r2.tobytes() and (d1 == d2).all()
    assert [int(i["instance"]) for i in i1] == [int(i["instance"]) for i in i2]
    return i1
