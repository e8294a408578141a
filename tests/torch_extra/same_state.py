"""``assert_same_state``: two scheduler states (or any nest of dicts, lists, tensors and numbers)
equal to the bit, for tests whose two sides run the same code (the ranks of one DDP run)."""

from __future__ import annotations

import math

import torch


def assert_same_state(a, b, where="state") -> None:
    """``a`` and ``b`` equal to the bit, tensors and NaNs included; ``where`` names the first difference."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), where
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True, msg=where)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same_state(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"
