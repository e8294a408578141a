"""The grader's encoding of one episode's step for a sandboxed policy and the episode process's
decoding (lrgym.leaderboard.step_message) against pickle's own: the same objects, types and
bits, on the flat layout and on the pickle it falls back to."""

import pickle
import struct
from multiprocessing.reduction import ForkingPickler

import gymnasium as gym
import numpy as np
import pytest

import lrgym  # noqa: F401 - registers the ids
from lrgym.leaderboard.settings import public_info
from lrgym.leaderboard.step_message import FLAT, decode_message, encode_act


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
        data = encode_act(obs, info)
        assert data[0] == FLAT  # every step of every id fits the flat layout
        op, obs2, info2 = decode_message(data)
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
    data = encode_act(obs, info)
    assert data[0] != FLAT  # nested values, Python floats, other scalar types: pickled
    _, obs2, info2 = decode_message(data)
    assert _bits(obs2) == _bits(pickle.loads(ForkingPickler.dumps(obs)))
    assert obs2.tobytes() == obs.tobytes()
    for key in ("nan", "neg_zero", "inf", "tiny", "big", "top", "yes", "no", "f32", "i32", "py", "text"):
        assert _bits(info2[key]) == _bits(info[key]), key
    assert [_bits(v) for v in info2["nested"]["a"]] == [_bits(v) for v in info["nested"]["a"]]



def _reference(obs, info):
    return pickle.loads(ForkingPickler.dumps(("act", obs, info)))


def _same(got, ref):
    assert got[0] == ref[0] == "act"
    assert _bits(got[1]) == _bits(ref[1])
    assert list(got[2]) == list(ref[2])
    assert [_bits(v) for v in got[2].values()] == [_bits(v) for v in ref[2].values()]


def test_the_flat_layout_keeps_special_values_order_and_array_flags():
    quiet = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_DEAD_BEEF))[0]
    signalling = struct.unpack("<d", struct.pack("<Q", 0x7FF0_0000_0000_0001))[0]
    info = {"z": np.float64(quiet), "a": np.float64(signalling), "neg_zero": np.float64(-0.0),
            "inf": np.float64(-np.inf), "tiny": np.float64(5e-324), "big": np.int64(-(2**63)),
            "top": np.int64(2**63 - 1), "yes": np.True_, "no": np.False_, "": np.float64(1.0)}
    for obs in (np.array([np.nan, -0.0, 1e38], dtype=np.float32), np.arange(6.0).reshape(2, 3),
                np.array(3.0), np.zeros(0), np.array([True, False]),
                np.array([2**62, -1], dtype=np.int64), np.array([1 + 2j])):
        data = encode_act(obs, info)
        assert data[0] == FLAT, obs.dtype
        got = decode_message(data)
        _same(got, _reference(obs, info))
        assert got[1].flags.owndata and got[1].flags.writeable and got[1].base is None


def test_steps_that_do_not_fit_the_layout_are_pickled_and_read_back_the_same():
    base = {"lr": np.float64(0.1), "step": np.int64(3)}
    cases = [
        (np.ones(4)[::2], base),  # not contiguous
        (np.asfortranarray(np.ones((2, 3))), base),  # Fortran order is kept by pickle
        (np.array(["a"]), base),  # a dtype the layout does not name
        (np.array([1.5, -2.0], dtype=">f8"), base),  # not in the native byte order (pickle makes it native)
        ([0.0], base),  # not an array
        (np.ones(2), {**base, "py": 0.5}),  # a Python float
        (np.ones(2), {**base, "f32": np.float32(0.5)}),
        (np.ones(2), {**base, 3: np.float64(1.0)}),  # a key that is no string
        (np.ones(2), {**base, "a\x1fb": np.float64(1.0)}),  # a key holding the layout's separator
        (np.ones(2), {**base, "\ud800": np.float64(1.0)}),  # a key UTF-8 cannot encode
        (np.ones(2), {np.str_("lr"): np.float64(0.1), "step": np.int64(3)}),  # a key that is a str subclass (a review)
        (np.ones(2, dtype=np.dtype(np.float64, metadata={"unit": "lr"})), base),  # dtype metadata pickle keeps
    ]
    for obs, info in cases:
        data = encode_act(obs, info)
        assert data[0] != FLAT, (obs, info)
        got = decode_message(data)
        ref = _reference(obs, info)
        assert got[0] == "act" and list(got[2]) == list(ref[2])
        if isinstance(obs, np.ndarray):
            assert _bits(got[1]) == _bits(ref[1])
        assert [_bits(v) for v in got[2].values()] == [_bits(v) for v in ref[2].values()]


def test_layouts_change_between_steps_and_other_messages_are_pickles():
    a = {"lr": np.float64(0.25), "diverged": np.False_}
    b = {"diverged": np.True_, "lr": np.float64(-1.0), "n": np.int64(7)}
    for obs, info in [(np.ones(3), a), (np.ones(5, dtype=np.float32), b), (np.ones(3), a), (np.ones(3), b)]:
        _same(decode_message(encode_act(obs, info)), _reference(obs, info))
    reset = ("reset", {"lr": np.float64(0.1)}, "episode 1 of the job")
    assert decode_message(ForkingPickler.dumps(reset)) == reset


def test_a_layout_found_for_str_keys_does_not_serve_equal_keys_of_another_type():
    """A review (2026-12-05): layouts were cached by key equality, and np.str_("lr") == "lr", so a
    step keyed by np.str_ after one keyed by str went flat and came back with plain str keys."""
    obs = np.ones(3, dtype=np.float32)
    plain = {"lr": np.float64(0.1), "step": np.int64(3)}
    assert encode_act(obs, plain)[0] == FLAT
    odd = {np.str_("lr"): np.float64(0.1), "step": np.int64(3)}
    data = encode_act(obs, odd)
    assert data[0] != FLAT
    assert [type(k) for k in decode_message(data)[2]] == [np.str_, str]
