"""Small policies for the leaderboard tests (loaded by file path, like a user's submission)."""

import os
import time

import numpy as np


class Keep:
    """Keeps the initial LR (discrete action 2 = x1.0)."""

    name = "keep"
    optimizer = "sgd"
    action_mode = "discrete"

    def reset(self, info):
        pass

    def act(self, obs, info):
        return 2


class HalfEvery10:
    """Fixed LR 0.05, halved every 10 steps (log_lr mode)."""

    name = "half10"
    optimizer = "sgd"
    action_mode = "log_lr"

    def reset(self, info):
        self.t = 0
        self.lo, self.hi = np.log10(info["lr_min"]), np.log10(info["lr_max"])

    def act(self, obs, info):
        lr = 0.05 * 0.5 ** (self.t // 10)
        self.t += 1
        return np.array([2 * (np.log10(lr) - self.lo) / (self.hi - self.lo) - 1], dtype=np.float32)


class PerFamily(HalfEvery10):
    """Takes ``family=`` in its constructor."""

    def __init__(self, family):
        self.family = family
        self.name = f"perfamily-{family}"


class Raises(Keep):
    def act(self, obs, info):
        raise RuntimeError("boom from the policy")


class Hangs(Keep):
    def act(self, obs, info):
        time.sleep(3600)


class NaNAction(HalfEvery10):
    def act(self, obs, info):
        return np.array([np.nan], dtype=np.float32)


class InvalidAction(Keep):
    def act(self, obs, info):
        return 7  # only 0..4 are valid


class KillsItself(Keep):
    def act(self, obs, info):
        os.kill(os.getpid(), 9)


class EatsMemory(Keep):
    def act(self, obs, info):
        self.hog = np.ones(10**10)  # 80 GB


class BadConstructor(Keep):
    def __init__(self):
        raise ValueError("cannot build")


class Slow(Keep):
    """Sleeps a little each step (for kill-mid-run tests)."""

    def act(self, obs, info):
        time.sleep(0.01)
        return 2


class ForksAndHangs(Keep):
    """Starts a child process that would outlive it, then hangs."""

    def act(self, obs, info):
        import subprocess
        import sys

        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        time.sleep(3600)


class CorruptsTheChannel(Keep):
    """Writes garbage on every open descriptor above stderr (the reply pipe among them)."""

    def act(self, obs, info):
        for fd in range(3, 64):
            try:
                os.write(fd, b"\x00\x00\x00\x05garbage")
            except OSError:
                pass
        time.sleep(3600)


class Segfaults(Keep):
    """Dereferences a null pointer."""

    def act(self, obs, info):
        import ctypes

        ctypes.string_at(0)


class ExitsQuietly(Keep):
    """Ends its process with exit code 0 in the middle of an episode."""

    def act(self, obs, info):
        os._exit(0)
