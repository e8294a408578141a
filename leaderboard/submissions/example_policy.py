"""An example leaderboard submission: copy this file and make it better.

    lrgym leaderboard submit leaderboard/submissions/example_policy.py:LossWatcher --name my-first-try

A submission is any class following :class:`lrgym.baselines.policy.Policy`: a ``name``, the inner
``optimizer`` and ``action_mode`` it wants, ``reset(info)`` at the start of each episode and
``act(obs, info) -> action`` each step. Each episode gets an instance of its own, constructed
with ``family=...`` if its constructor accepts that argument (so state kept in ``self`` never
crosses episodes). It runs in a sandboxed process
with a wall-clock and a memory limit; if it raises, hangs, returns an invalid or NaN action or
gets killed, the entry is recorded as failed with the reason.
"""

import math


class LossWatcher:
    """Multiplies the LR by 1.25 while the training loss falls by >10 % per step, halves it when
    the loss rises, keeps it otherwise (discrete actions: x0.5, x0.8, x1, x1.25, x2)."""

    name = "loss-watcher"
    optimizer = "sgd"
    action_mode = "discrete"
    lr_init = 0.05

    def __init__(self, family: str | None = None):
        self.family = family  # the same class could specialise per family

    def reset(self, info: dict) -> None:
        self.prev = info["train_loss"]

    def act(self, obs, info: dict) -> int:
        loss = info["train_loss"]
        if not math.isfinite(loss) or loss > self.prev:
            action = 0  # x0.5
        elif loss < 0.9 * self.prev:
            action = 3  # x1.25
        else:
            action = 2  # keep
        self.prev = loss
        return action
