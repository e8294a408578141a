"""Tensor helpers shared by :class:`~lrgym.torch.PolicyScheduler` and :class:`~lrgym.torch.TorchTrainingEnv`:
what :class:`lrgym.monitor.TrainingMonitor` records from a PyTorch model after each update."""

from __future__ import annotations

import numpy as np
import torch


def flat_grad(params) -> np.ndarray:
    """All parameters' ``.grad`` as one flat float64 NumPy vector (zeros where ``grad`` is None)."""
    parts = [(p.grad if p.grad is not None else torch.zeros_like(p)).detach().reshape(-1) for p in params]
    if not parts:
        return np.zeros(0)
    return torch.cat(parts).to(dtype=torch.float64, device="cpu").numpy()


def params_finite(params) -> bool:
    """True if every parameter tensor is finite (no NaN or inf)."""
    with torch.no_grad():
        return bool(all(torch.isfinite(p).all() for p in params))
