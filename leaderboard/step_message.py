"""One episode's step as a sandboxed policy receives it: encoded once, by the grader.

A job's episodes run in lockstep, each in a process of its own inside the sandbox
(:class:`lrgym.leaderboard.policy_host.EpisodeHost`). The grader sends one message per step for
all of them, and the sandbox's host hands each episode its part. When the host unpickled the
grader's message and pickled every part again, each episode step paid for pickling twice, and
pickling the public info (a dict of about 20 NumPy scalars) is the slow part: NumPy reduces a
scalar to its dtype and raw bytes, ≈ 30 µs per info dict.

So the grader encodes each episode's ``("act", obs, info)`` here, once, as the pickle the
episode's process reads with ``Connection.recv``, and the host forwards those bytes unread
(``Connection.send_bytes``). :func:`encode` pickles ``numpy.float64``, ``numpy.int64`` and
``numpy.bool_`` as the type called on the equal Python number: the episode gets objects of the
same types and the same bits (a NaN's payload and ``-0.0`` included, since a float is pickled
as its 8 bytes), at about half the cost. Every other object is pickled as ``Connection.send``
pickles it, with the same protocol (``pickle.DEFAULT_PROTOCOL``: protocol 5 would hand the
policy an observation that views the message's buffer instead of owning its data).
"""

from __future__ import annotations

import copyreg
import io
import pickle

import numpy as np

__all__ = ["encode_act"]


def _as_float64(value: np.float64):
    return np.float64, (float(value),)


def _as_int64(value: np.int64):
    return np.int64, (int(value),)


def _as_bool(value: np.bool_):
    return np.bool_, (bool(value),)


_TABLE = {**copyreg.dispatch_table, np.float64: _as_float64, np.int64: _as_int64, np.bool_: _as_bool}


def encode_act(obs, info: dict) -> bytes:
    """The pickle of ``("act", obs, info)`` that an episode's process unpickles (see the module)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.DEFAULT_PROTOCOL)  # Connection.send's: arrays own their data
    pickler.dispatch_table = _TABLE
    pickler.dump(("act", obs, info))
    return buffer.getvalue()
