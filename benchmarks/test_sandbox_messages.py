"""pytest-benchmark: one episode's step message for a sandboxed policy, encoded by the grader
and read by the episode's process (:mod:`lrgym.leaderboard.step_message`'s flat layout), against
``Connection.send``'s pickle of the same ``("act", obs, info)``; a linear-regression step's
observation and public info.

    pytest benchmarks/test_sandbox_messages.py --benchmark-enable

The whole cost of the sandbox per entry is measured by ``python -m lrgym.leaderboard.bench
--isolation`` (README, "Speed cost of the isolation")."""

import pickle
from multiprocessing.reduction import ForkingPickler

import gymnasium as gym
import pytest

import lrgym  # noqa: F401 - registers the ids
from lrgym.leaderboard.settings import public_info
from lrgym.leaderboard.step_message import decode_message, encode_act

#: (encode, decode) of one episode's step
CODECS = {
    "pickle": (lambda obs, info: ForkingPickler.dumps(("act", obs, info)), pickle.loads),  # Connection.send's
    "step_message": (encode_act, decode_message),  # the flat layout
}


@pytest.mark.parametrize("impl", list(CODECS))
def test_step_message_round_trip(benchmark, impl):
    env = gym.make("LRControl-LinReg-v1")
    obs, info = env.reset(seed=0)
    info = public_info(info)
    encode, decode = CODECS[impl]
    benchmark.group = "sandbox step message (encode + decode)"
    benchmark(lambda: decode(encode(obs, info)))
