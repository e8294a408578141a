"""The grader's encoding of one episode's step for a sandboxed policy
(lrgym.leaderboard.step_message) against pickle's own: the same objects, types and bits."""

import pickle
import struct
from multiprocessing.reduction import ForkingPickler

import gymnasium as gym
import numpy as np
import pytest

import lrgym  # noqa: F401 - registers the ids
from lrgym.leaderboard.settings import public_info
from lrgym.leaderboard.step_message import encode_act


def _bits(value):
    """What must survive: the exact type, and the value's bytes (a NaN's payload, -0.0); of an
    array also its flags (owning its data, writeable, contiguity) and whether it has a base."""
    if isinstance(value, np.ndarray):
        return (type(value), value.dtype.str, value.shape, value.tobytes(), value.base is None,
                value.flags.owndata, value.flags.writeable, value.flags.c_contiguous)
    if isinstance(value, (np.generic,)):
        return type(value), np.asarray(value).tobytes()
    if isinstance(value, float):
        return type(value), struct.pack("<d", value)
    return type(value), value


def _steps(env_id: str, n: int = 4):
    env = gym.make(env_id)
    obs, info = env.reset(seed=3)
    yield obs, public_info(info)
    for _ in range(n):
        obs, _, terminated, truncated, info = env.step(env.action_space.sample())
        yield obs, public_info(info)
        if terminated or truncated:
            break


@pytest.mark.parametrize("env_id", ["LRControl-LinReg-v1", "LRControl-Quadratic-v1", "LRControl-MLP-v1",
                                    "LRControl-Recsys-v1", "LRControl-BreastCancer-v1"])
def test_an_episodes_step_reads_back_as_pickle_would_give_it(env_id):
    for obs, info in _steps(env_id):
        op, obs2, info2 = pickle.loads(encode_act(obs, info))
        # the reference: what the episode's process read before, Connection.send's pickle (numpy's own reduce)
        ref_op, ref_obs, ref_info = pickle.loads(ForkingPickler.dumps(("act", obs, info)))
        assert op == ref_op == "act"
        assert _bits(obs2) == _bits(ref_obs)
        assert obs2.tobytes() == obs.tobytes() and obs2.dtype == obs.dtype
        assert list(info2) == list(ref_info) == list(info)
        assert {k: _bits(v) for k, v in info2.items()} == {k: _bits(v) for k, v in ref_info.items()}


def test_special_values_keep_their_type_and_bits():
    payload = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_DEAD_BEEF))[0]  # a NaN with a payload
    info = {"nan": np.float64(payload), "neg_zero": np.float64(-0.0), "inf": np.float64(-np.inf),
            "tiny": np.float64(5e-324), "big": np.int64(-(2**63)), "top": np.int64(2**63 - 1),
            "yes": np.True_, "no": np.False_, "f32": np.float32(0.1), "i32": np.int32(-7),
            "py": 0.1, "nested": {"a": [np.float64(1e-300), np.int64(3)]}, "text": "x"}
    obs = np.array([np.nan, -0.0, 1e38], dtype=np.float32)
    _, obs2, info2 = pickle.loads(encode_act(obs, info))
    assert _bits(obs2) == _bits(pickle.loads(ForkingPickler.dumps(obs)))
    assert obs2.tobytes() == obs.tobytes()
    for key in ("nan", "neg_zero", "inf", "tiny", "big", "top", "yes", "no", "f32", "i32", "py", "text"):
        assert _bits(info2[key]) == _bits(info[key]), key
    assert [_bits(v) for v in info2["nested"]["a"]] == [_bits(v) for v in info["nested"]["a"]]

