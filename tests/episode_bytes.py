"""Whole episodes as bytes, to compare two ways of running them to the bit (the instance-list
and instance-order tests: an env keyword against a wrapper doing the same by hand)."""

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
