"""The ``torch.optim`` optimizer of an lrgym inner optimizer (name, dict or
:class:`~lrgym.optim.OptimizerConfig`), with the same hyper-parameters as lrgym's kernels.

lrgym's update rules follow PyTorch's formulas (:mod:`lrgym.optim`), so ``sgd``, ``momentum``,
``nesterov``, ``adam``, ``rmsprop`` and ``adagrad`` with weight decay map one to one. Gradient
clipping and normalisation are not part of ``torch.optim`` and are refused here (a clear error
rather than a silently different rule).
"""

from __future__ import annotations

import inspect

import torch

from lrgym.optim import H_EPS, OptimizerConfig
from lrgym.settings import default_lr_init

__all__ = ["make_optimizer", "torch_optimizer"]


def torch_optimizer(optimizer="sgd") -> tuple[type, dict]:
    """The ``torch.optim`` class and keyword arguments (all but ``lr``) of lrgym's ``optimizer``
    (name, dict or :class:`~lrgym.optim.OptimizerConfig`): its update rule spelt in PyTorch. Every
    argument that changes the rule is stated, also where lrgym's rule pins PyTorch's default
    (plain ``sgd`` is ``SGD(momentum=0, nesterov=False, dampening=0)``; every rule ``maximize=False``;
    Adam with weight decay ``decoupled_weight_decay=False`` where torch has it), so an optimizer can be
    compared with it (:class:`~lrgym.torch.PolicyScheduler` warns of a difference). Clipping and
    normalisation are not ``torch.optim`` arguments and are left out (:func:`make_optimizer`
    refuses them)."""
    cfg = OptimizerConfig.coerce(optimizer)
    eps = float(cfg.hyper()[H_EPS])
    wd = cfg.weight_decay
    if cfg.name == "sgd":
        cls, kwargs = torch.optim.SGD, {"momentum": 0, "dampening": 0, "nesterov": False, "weight_decay": wd}
    elif cfg.name in ("momentum", "nesterov"):
        cls, kwargs = torch.optim.SGD, {"momentum": cfg.momentum, "dampening": 0, "nesterov": cfg.name == "nesterov",
                                        "weight_decay": wd}
    elif cfg.name == "adam":
        cls, kwargs = torch.optim.Adam, {"betas": (cfg.beta1, cfg.beta2), "eps": eps, "weight_decay": wd,
                                         "amsgrad": False}
        if wd and "decoupled_weight_decay" in inspect.signature(torch.optim.Adam).parameters:
            kwargs["decoupled_weight_decay"] = False  # lrgym's Adam adds the decay to the gradient (not AdamW)
    elif cfg.name == "rmsprop":
        cls, kwargs = torch.optim.RMSprop, {"alpha": cfg.alpha, "eps": eps, "weight_decay": wd, "momentum": 0,
                                            "centered": False}
    else:  # the last of OPTIMIZERS
        cls, kwargs = torch.optim.Adagrad, {"eps": eps, "weight_decay": wd, "lr_decay": 0,
                                            "initial_accumulator_value": 0}
    kwargs["maximize"] = False  # lrgym's rules descend the loss: maximize=True is gradient ascent
    return cls, kwargs


def make_optimizer(params, optimizer="sgd", lr: float | None = None) -> torch.optim.Optimizer:
    """``torch.optim`` optimizer over ``params`` for lrgym's ``optimizer`` at step size ``lr``
    (:func:`torch_optimizer`). ``lr`` None (the default): where lrgym's episodes of that optimizer
    start, :func:`lrgym.settings.default_lr_init` (1e-3 for Adam and RMSprop, 1e-2 otherwise; it
    was 1e-2 for every one), so that a :class:`~lrgym.torch.PolicyScheduler` of a ``discrete``
    policy built on it starts where the env does, without a warning."""
    cfg = OptimizerConfig.coerce(optimizer)
    if lr is None:
        lr = default_lr_init(cfg.name)
    if cfg.clip_norm is not None or cfg.normalize != "none":
        raise ValueError(
            f"optimizer {cfg!r} clips or normalises gradients, which torch.optim does not; "
            "valid: clip_norm=None and normalize='none' (clip in your loop instead)"
        )
    cls, kwargs = torch_optimizer(cfg)
    return cls(params, lr=lr, **kwargs)
