"""The ``torch.optim`` optimizer of an lrgym inner optimizer (name, dict or
:class:`~lrgym.optim.OptimizerConfig`), with the same hyper-parameters as lrgym's kernels.

lrgym's update rules follow PyTorch's formulas (:mod:`lrgym.optim`), so ``sgd``, ``momentum``,
``nesterov``, ``adam``, ``rmsprop`` and ``adagrad`` with weight decay map one to one. Gradient
clipping and normalisation are not part of ``torch.optim`` and are refused here (a clear error
rather than a silently different rule).
"""

from __future__ import annotations

import torch

from lrgym.optim import H_EPS, OptimizerConfig

__all__ = ["make_optimizer"]


def make_optimizer(params, optimizer="sgd", lr: float = 1e-2) -> torch.optim.Optimizer:
    """``torch.optim`` optimizer over ``params`` for lrgym's ``optimizer`` at step size ``lr``."""
    cfg = OptimizerConfig.coerce(optimizer)
    if cfg.clip_norm is not None or cfg.normalize != "none":
        raise ValueError(
            f"optimizer {cfg!r} clips or normalises gradients, which torch.optim does not; "
            "valid: clip_norm=None and normalize='none' (clip in your loop instead)"
        )
    eps = float(cfg.hyper()[H_EPS])
    wd = cfg.weight_decay
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if cfg.name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, nesterov=cfg.name == "nesterov", weight_decay=wd)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), eps=eps, weight_decay=wd)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=cfg.alpha, eps=eps, weight_decay=wd)
    return torch.optim.Adagrad(params, lr=lr, eps=eps, weight_decay=wd)  # the last of OPTIMIZERS
