"""lrgym policies in real PyTorch training (optional extra: ``pip install torch==2.13.0`` first,
then ``pip install "lrgym[torch]"``).

* :class:`PolicyScheduler`: any lrgym policy drives the LR of any ``torch.optim`` optimizer in
  your own training loop (``sched.step(loss)`` after each update).
* :class:`TorchTrainingEnv`: a Gymnasium env around your model, data, loss and optimizer with
  :class:`lrgym.LRControlEnv`'s action / observation / reward contract.
* :func:`make_optimizer`: the ``torch.optim`` optimizer of an lrgym optimizer name or config.

Both compute observations with the env's own code (:class:`lrgym.monitor.TrainingMonitor`).
``import lrgym`` never imports this package or torch; torch is imported when a name below is
first used.
"""

from __future__ import annotations

import importlib

_NAMES = {
    "PolicyScheduler": "lrgym.torch.scheduler",
    "TorchTrainingEnv": "lrgym.torch.env",
    "make_optimizer": "lrgym.torch.optim",
    "flat_grad": "lrgym.torch.scheduler",
}

__all__ = list(_NAMES)


def __getattr__(name: str):
    if name not in _NAMES:
        raise AttributeError(f"module 'lrgym.torch' has no attribute {name!r}; valid: {', '.join(_NAMES)}")
    from lrgym.extras import import_extra

    import_extra("torch", "torch", "lrgym.torch", torch_first=True)
    return getattr(importlib.import_module(_NAMES[name]), name)
