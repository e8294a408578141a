"""A checkpoint's load is all or nothing, also when a load action itself raises.

:func:`lrgym.torch.checkpoint.restore_plan` checks everything before it loads anything, but the
load's own actions can still fail: a class's own ``__setstate__`` that sets attributes and then
raises, a tensor copy torch refuses (a live tensor that is an expanded view). The actions that ran
before it (a tensor, a net's weights, modes and attributes, an optimizer and an LR scheduler, the
three kinds of random generator, objects with attributes and slots) are undone. The reference is
each live part as it was before the load, read through its public API, to the bit; each part is
checked to differ from the saved one, so a part the load did not undo would show.
"""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrgym.torch import PolicyScheduler  # noqa: E402
from lrgym.torch.checkpoint import from_checkpoint, to_checkpoint  # noqa: E402
from checkpoint_files import weights_only_round_trip  # noqa: E402

torch.set_num_threads(1)


class Counted(torch.nn.Module):
    """A net with an attribute of its own and a submodule kept in eval mode."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Linear(3, 4)
        self.norm = torch.nn.BatchNorm1d(4)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.norm(self.body(x))


class Slotted:
    __slots__ = ("a", "__b")

    def __init__(self, a):
        self.a = a
        self.__b = a + 1

    def b(self):
        return self.__b


class Plain:
    def __init__(self, x):
        self.x = x


class Fussy:
    """Its own ``__setstate__`` changes it, then raises (a check of its own, made too late)."""

    def __init__(self, x):
        self.x = x

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.added = True
        raise RuntimeError("Fussy refuses its state after setting it")


class Holder:
    """One of each kind a load changes in place; ``last`` is the part whose load raises."""

    name, action_mode = "holder", "log_lr"

    def __init__(self, seed, last):
        torch.manual_seed(seed)
        self.w = torch.full((3,), float(seed))
        self.net = Counted()
        self.net.norm.eval()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=0.01)
        self.decay = torch.optim.lr_scheduler.StepLR(self.opt, step_size=1, gamma=0.5)
        self.rng = np.random.default_rng(seed)
        self.legacy = np.random.RandomState(seed)
        self.py_rng = random.Random(seed)
        self.torch_rng = torch.Generator().manual_seed(seed)
        self.slotted = Slotted(seed)
        self.plain = Plain(seed)
        self.count = seed
        if last == "setstate":
            self.last = Fussy(seed)
        else:  # a view whose elements share memory: torch refuses to copy into it
            self.last = torch.full((1, 3), float(seed)).expand(2, 3)

    def reset(self, info):
        pass

    def act(self, obs, info):
        return np.array([0.0], dtype=np.float32)

    def advance(self):
        """Change every part, as a run does."""
        self.w += 0.5
        for _ in range(2):
            self.opt.zero_grad()
            self.net.train()
            self.net(torch.randn(5, 3)).pow(2).mean().backward()
            self.opt.step()
            self.decay.step()
        self.net.norm.eval()
        self.net.body.eval()  # a mode the fresh one has not
        self.net.extra = "added during the run"
        self.rng.random(3)
        self.legacy.random_sample(3)
        self.py_rng.random()
        torch.rand(2, generator=self.torch_rng)
        self.slotted.a += 10
        self.plain.x += 10
        self.count += 10
        if isinstance(self.last, Fussy):
            self.last.x += 10
        else:
            self.last = torch.ones(2, 3)  # saved: a plain tensor of the live view's shape


def observed(policy) -> dict:
    """Every part a load changes, as comparable plain values (bytes and lists)."""
    net = policy.net
    return {
        "w": policy.w.numpy().tobytes(),
        "net.state_dict": [t.numpy().tobytes() for t in net.state_dict().values()],
        "net.modes": [m.training for m in net.modules()],
        "net.attributes": (net.calls, getattr(net, "extra", None)),
        "opt": repr(policy.opt.state_dict()),
        "decay": repr(policy.decay.state_dict()),
        "rng": repr(policy.rng.bit_generator.state),
        "legacy": repr(policy.legacy.get_state(legacy=False)),
        "py_rng": repr(policy.py_rng.getstate()),
        "torch_rng": policy.torch_rng.get_state().numpy().tobytes(),
        "slotted": (policy.slotted.a, policy.slotted.b()),
        "plain": policy.plain.x,
        "count": policy.count,
        "last": repr(vars(policy.last)) if isinstance(policy.last, Fussy) else policy.last.numpy().tobytes(),
    }


@pytest.mark.parametrize("last", ["setstate", "tensor_copy"])
def test_a_load_action_that_raises_undoes_every_action_before_it(last):
    """Until 2026-12-06 every action before the failing one stayed applied: the tensor, the net,
    the optimizer, the generators and the objects were the saved run's, the rest the live one's."""
    saved = Holder(1, last)
    saved.advance()
    stored = weights_only_round_trip(to_checkpoint(saved, "policy"))
    live = Holder(2, last)
    before = observed(live)
    differs = {k for k in before if before[k] != observed(saved)[k]}
    assert differs == set(before)  # each part is loaded
    with pytest.raises(RuntimeError, match="Fussy refuses" if last == "setstate" else "more than one element"):
        from_checkpoint(stored, live, "policy")
    after = observed(live)
    assert [k for k in before if after[k] != before[k]] == []
    if last == "setstate":
        assert not hasattr(live.last, "added")  # an attribute the failed __setstate__ added is gone
    assert live.opt.param_groups[0]["params"][0] is live.net.body.weight  # still the live net's optimizer


def test_a_scheduler_whose_policy_load_raises_halfway_changes_nothing():
    """PolicyScheduler.load_state_dict promises all or nothing; a policy whose helper's
    ``__setstate__`` raised left its other attributes (and the net) loaded."""
    def build(seed):
        w = torch.nn.Parameter(torch.ones(2))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return PolicyScheduler(torch.optim.SGD([w], lr=0.01), Holder(seed, "setstate"), horizon=4,
                                   updates_per_step=1)

    sched = build(1)
    sched.policy.advance()
    state = weights_only_round_trip(sched.state_dict())
    other = build(2)
    before = observed(other.policy)
    with pytest.raises(RuntimeError, match="Fussy refuses"):
        other.load_state_dict(state)
    assert observed(other.policy) == before and other.last_epoch == 0


def test_a_load_without_a_failure_loads_every_part():
    """The same policies load whole when no action raises (the reference the undo is judged by)."""
    saved = Holder(1, "tensor_copy")
    saved.advance()
    live = Holder(2, "tensor_copy")
    live.last = torch.zeros(2, 3)  # a tensor of its own: the copy succeeds
    from_checkpoint(weights_only_round_trip(to_checkpoint(saved, "policy")), live, "policy")
    assert observed(live) == observed(saved)
