"""Ablations of the shipped controller, as leaderboard submissions (README, "Learned controller").

Each class is the shipped :mod:`lrgym.baselines.controller` with one input group held at 0
(masked, not retrained), or with random weights::

    lrgym leaderboard submit lrgym.baselines.controller_ablation:NoGradient --name ctl-no-gradient --suite val

``RandomWeights`` draws every parameter from N(0, s²), s = the standard deviation of the
trained parameters that act (numpy seed 0): the same agent without training.
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


def random_weights(net: ControllerNet, seed: int = 0) -> ControllerNet:
    """``net`` with every parameter drawn from N(0, s²), s = the standard deviation of its trained
    ones (0.1 if they are all equal): its architecture without training.

    Of the parameters that act only: weights trained with a ``mask`` hold the parameters it
    silences at 0 (:meth:`~lrgym.baselines.controller.ControllerNet.inert_parameters`: ES leaves
    them at their start), which would shrink s by how many there are, not by anything trained. The
    shipped weights have no mask, so their s is the standard deviation of all their parameters."""
    acting = net.theta[~net.inert_parameters()]
    scale = (float(np.std(acting)) if acting.size else 0.0) or 0.1
    net.theta = np.random.default_rng(seed).normal(0.0, scale, net.n_params)
    return net


class RandomWeights(ControllerPolicy):
    """The shipped controller's architecture with random parameters (the agent without training)."""

    def __init__(self, family: str | None = None, seed: int = 0):
        super().__init__(random_weights(_shipped(), seed), name="controller-random")


def ablation_name(name: str, suffix: str) -> str:
    """The entry name of ``name``'s ablation ``suffix`` (``-no-gradient``), within an entry name's 64 characters."""
    return f"{name[:64 - len(suffix)]}{suffix}"


def ablation_source(name: str) -> str:
    """Ablation classes for a submission file of :func:`lrgym.baselines.controller.submission_source`
    (appended to it: they load its ``WEIGHTS``): ``NoLoss`` … ``NoFamily`` (one input group masked,
    not retrained) and ``RandomWeights``, as this module's for the shipped weights, entries named
    ``NAME-no-<group>`` and ``NAME-random``. ``train_controller`` writes them into every run's
    file, so a variant's ablation is ``lrgym leaderboard submit runs/controller_mixed.py:NoGradient``."""
    load = "ControllerNet.load(io.BytesIO(base64.b64decode(WEIGHTS)){})"
    classes = [(_masked(g).__name__, ablation_name(name, f"-no-{g}"), load.format(f", mask=({g!r},)"))
               for g in INPUT_GROUPS]
    classes.append(("RandomWeights", ablation_name(name, "-random"), f"random_weights({load.format('')})"))
    out = ["\n\n# Ablations of these weights: an input group held at 0 (not retrained), or random parameters",
           "from lrgym.baselines.controller_ablation import random_weights  # noqa: E402\n"]
    for cls, entry, net in classes:
        out.append(f"\nclass {cls}(ControllerPolicy):\n    name = {entry!r}\n\n"
                   f"    def __init__(self, family=None):\n        super().__init__({net}, name=self.name)\n")
    return "\n".join(out)


ABLATIONS = {"random weights": RandomWeights, **{f"no {g}": _masked(g) for g in INPUT_GROUPS}}

__all__ = ["ABLATIONS", "NoFamily", "NoGradient", "NoLoss", "NoLrTime", "NoNoise", "NoRejected", "RandomWeights",
           "ablation_name", "ablation_source", "random_weights"]
