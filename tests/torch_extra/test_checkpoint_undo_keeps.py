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


class _Policy:
    def __init__(self, seed, scheduler):
        self.net, self.opt = _stepped(seed=seed)
        self.sched = scheduler(self.opt)
        self.sched.step(*[1.0] * isinstance(self.sched, torch.optim.lr_scheduler.ReduceLROnPlateau))


class _OwnLoad(torch.optim.lr_scheduler.StepLR):
    """A scheduler whose own ``load_state_dict`` writes into its optimizer (as a user's may)."""

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group in self.optimizer.param_groups:
            group["lr"] = self.get_last_lr()[0]


_SCHEDULERS = {
    "StepLR": lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
    "ReduceLROnPlateau": lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt),
    "SequentialLR": lambda opt: torch.optim.lr_scheduler.SequentialLR(
        opt, [torch.optim.lr_scheduler.ConstantLR(opt), torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)],
        milestones=[1]),
    "own load_state_dict": lambda opt: _OwnLoad(opt, step_size=1),
}


@pytest.mark.parametrize("kind", list(_SCHEDULERS))
def test_checking_an_lr_schedulers_state_copies_no_optimizer_state_unless_its_load_may_write_there(kind, monkeypatch):
    """restore_plan checks a scheduler's state by loading it into a deep copy of the live scheduler,
    which holds the optimizer: the copy took the optimizer with every parameter and state tensor
    (Adam: three times the parameters' memory, on top of 7da84aa's peak) though torch's own
    scheduler loads never touch it. Seen here as the Adam state tensors ``copy.deepcopy`` copies
    during the load (none; a scheduler whose own load writes into its optimizer: copied, as
    before), the load still putting every part in place."""
    from lrgym.torch.checkpoint import from_checkpoint, to_checkpoint
    from checkpoint_files import weights_only_round_trip

    scheduler = _SCHEDULERS[kind]
    saved = _Policy(1, scheduler)
    stored = weights_only_round_trip(to_checkpoint(saved, "policy"))
    live = _Policy(2, scheduler)
    adam_state = {v.untyped_storage().data_ptr() for s in live.opt.state.values() for v in s.values()}
    copied = []
    deepcopy = torch.Tensor.__deepcopy__

    def watched(tensor, memo):
        copied.append(tensor.untyped_storage().data_ptr())
        return deepcopy(tensor, memo)

    monkeypatch.setattr(torch.Tensor, "__deepcopy__", watched)
    from_checkpoint(stored, live, "policy")
    monkeypatch.undo()
    assert bool(adam_state & set(copied)) == (kind == "own load_state_dict")
    assert _equal(_bits(live.opt), _bits(saved.opt))
    assert repr(live.sched.state_dict()) == repr(saved.sched.state_dict())
