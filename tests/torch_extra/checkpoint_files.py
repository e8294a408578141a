"""A checkpoint as a file gives it back: ``torch.save`` then ``torch.load(weights_only=True)``, the
loader a resumed run uses, which reads data only (the tests of :mod:`lrgym.torch.checkpoint`)."""

from __future__ import annotations

import io

import torch


def weights_only_round_trip(obj):
    """``obj`` saved with ``torch.save`` and read back with ``torch.load(weights_only=True)``."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)
