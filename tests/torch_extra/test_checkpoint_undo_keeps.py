"""What a checkpoint's undo keeps of an optimizer: the tensors torch's ``load_state_dict`` replaces.

``Optimizer.load_state_dict`` builds a new state from the one it is given and never writes into the
old state's tensors, so the undo keeps those tensors by reference (until 2026-12-06 it deep-copied
them: twice the parameters' memory for Adam, ``benchmarks/checkpoint_load_memory.py``) and still
puts the optimizer back to the bit. An optimizer class with a ``load_state_dict`` of its own may
write anywhere: its state is copied as before.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from lrgym.torch._checkpoint_actions import keep_state_dict  # noqa: E402

torch.set_num_threads(1)


def _stepped(cls=torch.optim.Adam, seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Linear(3, 2)
    opt = cls(net.parameters(), lr=1e-2)
    for _ in range(2):
        opt.zero_grad()
        net(torch.randn(4, 3)).square().sum().backward()
        opt.step()
    return net, opt


def _bits(opt):
    sd = opt.state_dict()
    return {k: {n: v.clone() for n, v in s.items()} for k, s in sd["state"].items()}, sd["param_groups"]


def _equal(a, b):
    return a[1] == b[1] and a[0].keys() == b[0].keys() and all(
        torch.equal(a[0][k][n], b[0][k][n]) for k in a[0] for n in a[0][k])


def test_the_undo_keeps_an_optimizers_state_tensors_by_reference_and_puts_them_back():
    net, opt = _stepped()
    before = _bits(opt)
    undo = keep_state_dict(opt)
    kept = undo.args[0]["state"]
    live = opt.state_dict()["state"]
    assert all(kept[k][n] is live[k][n] for k in live for n in live[k])  # no copy
    other_net, other = _stepped(seed=1)
    opt.load_state_dict(other.state_dict())
    opt.param_groups[0]["lr"] = 0.5
    assert not _equal(_bits(opt), before)
    undo()
    assert _equal(_bits(opt), before)


def test_an_optimizer_with_its_own_load_state_dict_is_copied():
    class Own(torch.optim.Adam):
        def load_state_dict(self, state_dict):  # may write into the old state's tensors
            super().load_state_dict(state_dict)

    net, opt = _stepped(Own)
    undo = keep_state_dict(opt)
    kept, live = undo.args[0]["state"], opt.state_dict()["state"]
    assert all(kept[k][n] is not live[k][n] and torch.equal(kept[k][n], live[k][n]) for k in live for n in live[k])
