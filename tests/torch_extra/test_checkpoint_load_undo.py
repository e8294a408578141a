"""A checkpoint's load is all or nothing, also when a load action itself raises.

:func:`lrgym.torch.checkpoint.restore_plan` checks everything before it loads anything, but the
load's own actions can still fail: a class's own ``__setstate__`` that sets attributes and then
raises, a tensor copy refused at load (a tensor subclass's own ``copy_``). The actions that ran
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


class Refusing(torch.Tensor):
    """A tensor whose ``copy_`` raises, as torch's own does into a tensor it cannot write: a copy
    refused at load, which no check before the load foresees."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func is torch.Tensor.copy_:
            raise RuntimeError("Refusing takes no copy")
        return super().__torch_function__(func, types, args, kwargs or {})


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
        else:  # a tensor whose copy_ raises (Refusing)
            self.last = torch.full((2, 3), float(seed)).as_subclass(Refusing)

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
            self.last = torch.ones(2, 3)  # saved: a plain tensor of the live one's shape


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
    with pytest.raises((RuntimeError, ValueError), match="Fussy refuses" if last == "setstate" else
                       r"^cannot restore policy\.last: torch refuses to copy .*Refusing takes no copy") as raised:
        from_checkpoint(stored, live, "policy")
    assert getattr(raised.value, "__notes__", None) is None  # every undo ran (the refused copy wrote nothing)
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


class Views:
    """Tensor attributes a run replaces: ``mean`` built as an expanded view (no copy goes into its
    shared elements), ``frozen`` made under ``torch.inference_mode()`` (no copy into it outside),
    ``same`` the expanded view under a second name too; ``w`` an ordinary tensor."""

    def __init__(self, seed):
        self.w = torch.full((3,), float(seed))
        self.mean = torch.full((1, 3), float(seed)).expand(2, 3)
        self.same = self.mean
        with torch.inference_mode():
            self.frozen = torch.full((4,), float(seed))

    def advance(self):
        self.w += 1.0
        self.mean = self.same = torch.arange(6.0).reshape(2, 3)
        self.frozen = torch.arange(4.0) / 3


def test_a_tensor_attribute_that_takes_no_copy_is_replaced_by_the_saved_one():
    """Until 2026-12-06 an expanded view (or an inference tensor) built at construction, replaced by
    a plain tensor during the run, could not be resumed: the load raised torch's bare 'more than
    one element of the written-to tensor refers to a single memory location', naming no attribute,
    noted 'lrgym could not undo part of the load'. The reference: the saved policy (the values, and
    that the two names share one tensor); an ordinary tensor is still loaded in place."""
    saved = Views(1)
    saved.advance()
    live = Views(2)
    w = live.w
    from_checkpoint(weights_only_round_trip(to_checkpoint(saved, "policy")), live, "policy")
    assert live.w is w and torch.equal(live.w, saved.w)
    for name in ("mean", "frozen"):
        assert getattr(live, name).numpy().tobytes() == getattr(saved, name).numpy().tobytes(), name
    assert live.same is live.mean
    live.mean += 1.0  # a plain tensor of its own now: the run writes into it again
    assert not live.frozen.is_inference()


def test_a_parameter_that_takes_no_copy_is_refused_by_name_before_anything_loads():
    """A parameter is the optimizer's and the module's: never replaced. One built as an expanded
    view is refused naming where it is, before the ordinary tensor beside it is loaded."""
    class WithParameter:
        def __init__(self, seed):
            self.w = torch.full((3,), float(seed))
            self.p = torch.nn.Parameter(torch.full((1, 3), float(seed)).expand(2, 3))

    live = WithParameter(2)
    w, p = live.w.clone(), live.p
    with pytest.raises(ValueError, match=r"^cannot restore policy\.p: the live parameter is an expanded view"):
        from_checkpoint(weights_only_round_trip(to_checkpoint(WithParameter(1), "policy")), live, "policy")
    assert torch.equal(live.w, w) and live.p is p


class ExpandedBuffer(torch.nn.Module):
    """A module whose buffer is registered as an expanded view; ``load_state_dict`` copies into it."""

    def __init__(self, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.body = torch.nn.Linear(2, 3)
        self.register_buffer("scale", torch.full((1, 3), float(seed)).expand(2, 3))


def test_a_module_buffer_that_takes_no_copy_is_refused_by_name_before_anything_loads():
    """Until 2026-12-06 torch's load_state_dict copied the weights, then raised about the buffer
    ('While copying the parameter named "scale"...'), and the undo, refused alike, added 'lrgym
    could not undo part of the load'. It is refused before the load, naming the policy's place and
    the key; nothing changes (the reference: the live module's state_dict() before)."""
    saved = ExpandedBuffer(1)
    saved.scale = torch.ones(2, 3)  # replaced during the run: a buffer of its own memory
    live = ExpandedBuffer(2)
    before = [t.clone() for t in live.state_dict().values()]
    with pytest.raises(ValueError, match=r"^cannot restore policy: its live state_dict\(\)\['scale'\] is an "
                                         r"expanded view") as raised:
        from_checkpoint(weights_only_round_trip(to_checkpoint(saved, "policy")), live, "policy")
    assert getattr(raised.value, "__notes__", None) is None
    assert all(torch.equal(a, b) for a, b in zip(live.state_dict().values(), before))


class _Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Linear(3, 3)
        self.dec = torch.nn.Linear(3, 3)
        self.dec.weight = self.enc.weight  # tied weights: one Parameter under two names


class _Aliased:
    """A policy whose parts alias each other as ordinary torch code makes them: tied weights, an
    attribute holding the optimizer's own ``exp_avg`` tensor (read before and after the optimizer
    in the walk's order), a view of a parameter; its last part's load raises (:class:`Fussy`)."""

    def __init__(self, seed):
        torch.manual_seed(seed)
        self.first_alias = None
        self.net = _Tied()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=0.01, amsgrad=True)
        self.sched = torch.optim.lr_scheduler.StepLR(self.opt, step_size=1, gamma=0.5)
        self.row = self.net.enc.bias[1:]  # a view of a parameter, not registered
        for _ in range(seed):
            self.opt.zero_grad()
            self.net.dec(self.net.enc(torch.randn(4, 3))).pow(2).sum().backward()
            self.opt.step()
            self.sched.step()
        weight = self.net.enc.weight
        self.first_alias = self.opt.state[weight]["exp_avg"]  # met before the optimizer
        self.last_alias = self.opt.state[weight]["exp_avg_sq"]  # met after it
        self.last = Fussy(seed)


def _bits(policy) -> dict:
    """Every tensor and state of the policy as bytes (``tobytes``, so a NaN or -0.0 counts), and
    which tensors are which (the aliases)."""
    opt = policy.opt.state_dict()
    return {
        "net": {k: v.numpy().tobytes() for k, v in policy.net.state_dict().items()},
        "opt.state": {i: {k: v.numpy().tobytes() for k, v in s.items()} for i, s in opt["state"].items()},
        "opt.groups": repr(opt["param_groups"]),
        "sched": repr(policy.sched.state_dict()),
        "aliases": (policy.first_alias.numpy().tobytes(), policy.last_alias.numpy().tobytes(),
                    policy.row.detach().numpy().tobytes()),
        "identity": (policy.net.dec.weight is policy.net.enc.weight,
                     policy.first_alias is policy.opt.state[policy.net.enc.weight]["exp_avg"],
                     policy.last_alias is policy.opt.state[policy.net.enc.weight]["exp_avg_sq"],
                     policy.row._base is policy.net.enc.bias,
                     policy.opt.param_groups[0]["params"][0] is policy.net.enc.weight),
        "last": repr(vars(policy.last)),
    }


def test_a_load_failing_at_its_last_step_puts_back_every_tensor_and_optimizer_state_to_the_bit():
    """The undo keeps Adam's state tensors by reference (replaced_tensors), not copied: after a load
    that fails at its last action, every tensor, the optimizer's state (amsgrad's three tensors
    and its step, each to the bit), the scheduler, and the aliases between them (tied weights, an
    attribute holding the optimizer's exp_avg, a view of a parameter) are as before the load."""
    saved = _Aliased(3)
    stored = weights_only_round_trip(to_checkpoint(saved, "policy"))
    live = _Aliased(2)
    before = _bits(live)
    loaded = _bits(saved)
    assert [k for k in before if k != "identity" and before[k] == loaded[k]] == []  # each part is loaded
    assert all(before["identity"])
    with pytest.raises(RuntimeError, match="Fussy refuses"):
        from_checkpoint(stored, live, "policy")
    assert _bits(live) == before
    live.last = Fussy(2)
    live.last.__class__ = Plain  # (a class that takes its state): the same load now goes through
    saved.last.__class__ = Plain
    stored = weights_only_round_trip(to_checkpoint(saved, "policy"))
    from_checkpoint(stored, live, "policy")
    after = _bits(live)
    assert {k: after[k] == loaded[k] for k in after if k not in ("identity", "aliases")} == \
        {k: True for k in after if k not in ("identity", "aliases")}
