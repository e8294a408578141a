"""Ablations of the shipped controller, as leaderboard submissions (README, "Learned controller").

Each class is the shipped :mod:`lrgym.baselines.controller` with one input group held at 0
(masked, not retrained), or with random weights::

    lrgym leaderboard submit lrgym.baselines.controller_ablation:NoGradient --name ctl-no-gradient --suite val

``RandomWeights`` draws every parameter from N(0, s²), s = the standard deviation of the
trained parameters (numpy seed 0): the same agent without training.
"""

from __future__ import annotations

import numpy as np

from lrgym.baselines.controller import INPUT_GROUPS, ControllerNet, ControllerPolicy
from lrgym.baselines.registry import weights_path


def _shipped(mask=()) -> ControllerNet:
    return ControllerNet.load(weights_path("controller", None, ".npz"), mask=mask)


def _masked(group: str):
    class Masked(ControllerPolicy):
        def __init__(self, family: str | None = None):
            super().__init__(_shipped((group,)), name=f"controller-no-{group}")

    Masked.__name__ = Masked.__qualname__ = "No" + "".join(p.capitalize() for p in group.split("_"))
    Masked.__doc__ = f"The shipped controller with its {group!r} inputs held at 0 (not retrained)."
    return Masked


NoLoss = _masked("loss")
NoNoise = _masked("noise")
NoGradient = _masked("gradient")
NoLrTime = _masked("lr_time")
NoRejected = _masked("rejected")
NoFamily = _masked("family")


class RandomWeights(ControllerPolicy):
    """The shipped controller's architecture with random parameters (the agent without training)."""

    def __init__(self, family: str | None = None, seed: int = 0):
        net = _shipped()
        scale = float(np.std(net.theta)) or 0.1
        net.theta = np.random.default_rng(seed).normal(0.0, scale, net.n_params)
        super().__init__(net, name="controller-random")


ABLATIONS = {"random weights": RandomWeights, **{f"no {g}": _masked(g) for g in INPUT_GROUPS}}

__all__ = ["ABLATIONS", "NoFamily", "NoGradient", "NoLoss", "NoLrTime", "NoNoise", "NoRejected", "RandomWeights"]
