"""One episode's step as a sandboxed policy receives it: encoded once, by the grader.

A job's episodes run in lockstep, each in a process of its own inside the sandbox
(:class:`lrgym.leaderboard.episode_host.EpisodeHost`). The grader sends one message per step for
all of them, and the sandbox's host hands each episode its part as the bytes the grader encoded
(:func:`encode_act`), never reading them; the episode's process decodes them
(:func:`decode_message`). Both ends are trusted code: the grader, and the sandbox's own code in
the episode's process before the policy is called.

What an episode gets is what pickling ``("act", obs, info)`` gives (the objects, their types
and their bits), made cheaply. Its public info is a dict of about 20 NumPy scalars
(:mod:`lrgym.info`'s schema), and pickle is slow at those: NumPy reduces each scalar to its
dtype and raw bytes, ≈ 20 µs to encode an info dict and ≈ 11 µs to decode it. So a step whose
observation is a C-contiguous ``numpy.ndarray`` and whose info holds only ``numpy.float64``,
``numpy.int64`` and ``numpy.bool_`` values under string keys goes in a **flat layout**:

    0x00 | layout length (2 bytes) | layout | the info's values (struct: d, q, ?) | obs bytes

where the layout names the observation's dtype and shape, each value's type and the keys in
their order. The decoder keeps the layouts it has seen, so a step costs it one ``struct``
unpack, one array copy and the dict: ≈ 2 µs to encode and ≈ 5 µs to decode. It builds
``numpy.float64(x)`` from the float with the same 8 bytes (a NaN's payload and ``-0.0`` kept),
an observation that owns its data (a copy, as unpickling makes), and the keys in the same
order. Anything else (another observation type, a Python float in the info, a nested value)
goes as ``Connection.send``'s pickle with the same protocol (``pickle.DEFAULT_PROTOCOL``:
protocol 5 would hand the policy an observation that views the message's buffer instead of
owning its data), whose first byte is never 0x00 (``tests/leaderboard/test_step_message.py``
checks both ways against ``ForkingPickler``'s own pickle).
"""

from __future__ import annotations

import pickle
import struct

import numpy as np

__all__ = ["decode_message", "encode_act"]

#: first byte of a flat-layout message (a pickle of protocol 2 or later starts with 0x80)
FLAT = 0
_CODES = {np.float64: "d", np.int64: "q", np.bool_: "?"}
_TYPES = {"d": np.float64, "q": np.int64, "?": np.bool_}
_HEAD = struct.Struct("<BH")
_SEP = "\x1f"  # between the layout's fields (no key of the schema holds it)
_KINDS = "biufc"  # observation dtypes whose ``dtype.str`` names them whole (bool, integers, floats, complex;
#                   in the native byte order: pickle gives a big-endian array back as a native one)

#: grader side: (keys, their types, value types, obs dtype, obs shape) → (head bytes, values struct)
_encoders: dict = {}
#: episode side: layout bytes → (obs dtype, obs shape, values struct, keys, value types)
_decoders: dict = {}


def _flat_layout(keys: tuple, key_types: tuple, types: tuple, dtype: np.dtype, shape: tuple):
    """The head (first byte, layout length, layout) and the values' struct of one layout, or
    None when the step does not fit the flat layout."""
    if not all(t is str for t in key_types) or any(_SEP in k for k in keys) or not all(t in _CODES for t in types):
        return None
    codes = "".join(_CODES[t] for t in types)
    try:
        layout = _SEP.join((dtype.str, ",".join(map(str, shape)), codes, *keys)).encode()
    except UnicodeEncodeError:  # a key with a lone surrogate
        return None
    if len(layout) > 0xFFFF:
        return None
    return _HEAD.pack(FLAT, len(layout)) + layout, struct.Struct("<" + codes)


def encode_act(obs, info: dict) -> bytes:
    """The bytes of ``("act", obs, info)`` that :func:`decode_message` reads back (see the module)."""
    if (type(obs) is np.ndarray and obs.flags.c_contiguous and obs.dtype.kind in _KINDS and obs.dtype.isnative
            and obs.dtype.metadata is None and type(info) is dict):
        # the keys' types too: "lr" == np.str_("lr"), and a layout found for one must not serve the other
        key = (tuple(info), tuple(map(type, info)), tuple(map(type, info.values())), obs.dtype, obs.shape)
        try:
            flat = _encoders[key]
        except KeyError:
            flat = _encoders[key] = _flat_layout(*key)
        if flat is not None:
            head, values = flat
            return b"".join((head, values.pack(*info.values()), obs.tobytes()))
    return pickle.dumps(("act", obs, info), protocol=pickle.DEFAULT_PROTOCOL)  # Connection.send's: arrays own their data


def _decoder(layout: bytes):
    fields = layout.decode().split(_SEP)
    dtype, shape, codes, keys = np.dtype(fields[0]), tuple(int(s) for s in fields[1].split(",") if s), fields[2], fields[3:]
    return dtype, shape, struct.Struct("<" + codes), tuple(keys), tuple(_TYPES[c] for c in codes)


def decode_message(data: bytes):
    """A message from the host to an episode's process: a flat-layout ``act`` (:func:`encode_act`)
    or any pickled message (``reset``, and every ``act`` that did not fit the layout)."""
    if data[:1] != b"\x00":
        return pickle.loads(data)
    _, n = _HEAD.unpack_from(data)
    layout = data[_HEAD.size:_HEAD.size + n]
    try:
        dtype, shape, values, keys, types = _decoders[layout]
    except KeyError:
        dtype, shape, values, keys, types = _decoders[layout] = _decoder(layout)
    at = _HEAD.size + n
    info = {k: t(v) for k, t, v in zip(keys, types, values.unpack_from(data, at))}
    count = int(np.prod(shape, dtype=np.int64))
    obs = np.frombuffer(data, dtype, count, at + values.size).reshape(shape).copy()  # owns its data
    return "act", obs, info
