"""Hostile submissions: each tries one cheat of issue #11, then acts exactly like ``Keep``.

A cheat that worked would change the policy's score away from ``Keep``'s (or change another
entry, a reference or a weight file, or leave a process behind); the tests in ``test_cheats.py``
check that none does. Paths a real attacker would have to guess (the store, the reference cache)
are given to the policies in ``TARGETS`` (the test writes a copy of this file with them filled
in), so each cheat is tried with full knowledge.
"""

import gc
import json
import os
import subprocess
import sys

TARGETS: dict = {}  # replaced by the test: {"db": [...], "references": [...], "weights": [...]}


class Keep:
    """Keeps the initial LR (discrete action 2 = x1.0)."""

    name = "keep"
    optimizer = "sgd"
    action_mode = "discrete"

    def reset(self, info):
        pass

    def act(self, obs, info):
        return 2


# ---- the episode's settings ------------------------------------------------------------------


class SuiteOverride(Keep):
    """More inner steps per env step (the suite's setting) through the policy's env options."""

    env_options = {"inner_steps": 200}


class CapOverride(Keep):
    """A looser divergence cap and a wider LR range."""

    env_options = {"cap_factor": 1e30, "lr_max": 1e6}


class RewritesInfo(Keep):
    """Rewrites the recorded initial loss through the info dict it is given."""

    def reset(self, info):
        info["train_loss"] *= 1e11
        info["val_loss"] = 1e11


class RewritesEveryInfo(Keep):
    """Rewrites every info and the observation in place."""

    def act(self, obs, info):
        info["train_loss"] = 1e-30
        obs[:] = 0
        return 2


# ---- the recorder ----------------------------------------------------------------------------


def _patch_everything():
    import lrgym.baselines.evaluation as evaluation
    import lrgym.env as env_module

    original_step = env_module.LRControlEnv.step

    def step(self, action):
        obs, reward, terminated, truncated, info = original_step(self, action)
        info["train_loss"] = 1e-30
        return obs, reward, terminated, truncated, info

    env_module.LRControlEnv.step = step

    class Trajectory(evaluation.Trajectory):
        @property
        def final_loss(self):
            return 1e-30

    evaluation.Trajectory = Trajectory


_patch_everything()  # at import, as the cheat did


class MonkeyPatches(Keep):
    """Patched the env's step and Trajectory at import (above)."""


class FrameInspection(Keep):
    """Walks up the call stack to the code that runs the episode and edits its env."""

    def act(self, obs, info):
        frame = sys._getframe(1)
        while frame is not None:
            for value in list(frame.f_locals.values()):
                if hasattr(value, "inner_steps") and hasattr(value, "step"):
                    value.inner_steps = 200
                if hasattr(value, "train_losses"):
                    value.train_losses[:] = [1e-30] * len(value.train_losses)
            frame = frame.f_back
        return 2


class GcEnv(Keep):
    """Finds the live env with the garbage collector and raises its inner steps."""

    def act(self, obs, info):
        for obj in gc.get_objects():
            if type(obj).__name__ == "LRControlEnv":
                obj.inner_steps = 200
            elif type(obj).__name__ == "Trajectory":
                obj.train_losses[:] = [1e-30] * len(obj.train_losses)
        return 2


# ---- files: the store, the references, the weights --------------------------------------------


def _databases() -> list:
    """Every --db path on any command line it can see, plus the one it was told."""
    found = list(TARGETS.get("db", []))
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        for a, b in zip(args, args[1:]):
            if a == b"--db":
                found.append(b.decode())
    return found


def _edit_stores():
    import sqlite3

    for db in _databases():
        try:
            conn = sqlite3.connect(db, timeout=1)
            conn.execute("UPDATE runs SET score = -1")
            conn.execute("UPDATE entries SET summary_json = '{}' WHERE name != 'store-edit'")
            conn.commit()
            conn.close()
        except Exception:
            pass
        try:
            with open(db, "r+b") as f:
                f.seek(100)
                f.write(b"\0" * 64)
        except Exception:
            pass


_edit_stores()


class StoreEdit(Keep):
    """Tried to rewrite every other entry at import (above) and tries again at each reset."""

    def reset(self, info):
        _edit_stores()


def _poison(path):
    """Rewrite a references file so that every target is the initial loss (easy to beat)."""
    try:
        with open(path) as f:
            data = json.load(f)
        for task in data["tasks"].values():
            task["final_loss"] = list(task["initial_loss"])
        with open(path, "w") as f:
            json.dump(data, f)
    except Exception:
        pass


class ReferencePoison(Keep):
    """Rewrites the reference cache, the shipped references and a weight file."""

    def reset(self, info):
        for path in TARGETS.get("references", []):
            _poison(path)
        for path in TARGETS.get("weights", []):
            try:
                with open(path, "ab") as f:
                    f.write(b"poison")
            except Exception:
                pass


# ---- processes and output ----------------------------------------------------------------------


class LeavesProcesses(Keep):
    """Starts a child, a child in its own session and a double-forked daemon, then finishes."""

    started = False

    def reset(self, info):
        if LeavesProcesses.started:
            return
        LeavesProcesses.started = True
        sleeper = [sys.executable, "-c", "import time; time.sleep(3600)"]
        subprocess.Popen(sleeper)
        subprocess.Popen(sleeper, start_new_session=True)
        if os.fork() == 0:  # double fork: the grandchild is orphaned at once
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, sleeper)
            os._exit(0)
        os.wait()


class FloodsOutput(Keep):
    """Writes 200 MB to stdout and stderr and a 1 GB file, then acts normally."""

    def reset(self, info):
        chunk = "x" * (1 << 20) + "\n"
        try:
            for _ in range(100):
                sys.stdout.write(chunk)
                sys.stderr.write(chunk)
            with open("big.bin", "wb") as f:
                for _ in range(1024):
                    f.write(b"\0" * (1 << 20))
        except OSError:
            pass


class HugeAction(Keep):
    """Answers with ten million numbers."""

    def act(self, obs, info):
        return list(range(10_000_000))


class TerminalInjection(Keep):
    """Fails with escape codes (clear screen, set title, hyperlink) in its message."""

    def act(self, obs, info):
        raise RuntimeError("\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\\u202eevil")


class LooksUpInstance(Keep):
    """Looks the instance up in the shipped references (the LR that is exactly the reference)."""

    action_mode = "log_lr"

    def reset(self, info):
        self.lr = None
        instance = info.get("instance")
        if instance is not None:
            for path in TARGETS.get("references", []):
                try:
                    with open(path) as f:
                        tasks = json.load(f)["tasks"]
                    self.lr = tasks[f"{info['family']}/{instance}"]["lr"]
                except Exception:
                    pass
        self.lo, self.hi = info["lr_min"], info["lr_max"]

    def act(self, obs, info):
        import math

        import numpy as np

        lr = self.lr if self.lr is not None else info["lr"]  # unknown instance: keep the LR
        lo, hi = math.log10(self.lo), math.log10(self.hi)
        return np.array([2 * (math.log10(lr) - lo) / (hi - lo) - 1], dtype=np.float32)


class KeepLogLR(LooksUpInstance):
    """The same policy without the look-up: what LooksUpInstance must score."""

    def reset(self, info):
        self.lr = None
        self.lo, self.hi = info["lr_min"], info["lr_max"]


class DeepNestedAction(KeepLogLR):
    """KeepLogLR's action as one number nested 40 lists deep: NumPy takes it as an array of 40
    axes, but its flat iterator holds 32 at most, and the grader's action check raised NumPy's
    RuntimeError, which failed the entry as a "grader error" with the grader's traceback (until
    2026-12-07). It must score exactly what KeepLogLR scores, as ``[[x]]`` does."""

    def act(self, obs, info):
        action = float(super().act(obs, info)[0])
        for _ in range(40):
            action = [action]
        return action

