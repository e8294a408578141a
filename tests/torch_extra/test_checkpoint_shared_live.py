"""Two objects saved apart, loaded into a policy that shares one object at both places.

A checkpoint stores one object met twice as a reference (:class:`~lrgym.torch._checkpoint_memo.Memo`),
so two records loaded into one live object mean the saved policy had two objects where the live
one has one (built otherwise, or shared by a run that the saved one was not). Until 2026-12-06
both records were loaded into it, the second over the first: the live object held the second
place's state and the first place's was lost, in silence, as torch's own ``load_state_dict``
loses one when a submodule registered under two names is given two names' different weights (the
reference below). lrgym refuses it, naming both places, before anything is loaded. The same
state twice (a generator or an optimizer, stored at each place even when shared; an older
lrgym's record, stored without references) loads as before.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrgym.torch.checkpoint import TAG, from_checkpoint, to_checkpoint  # noqa: E402
from lrgym.torch._checkpoint_format import RestoreError  # noqa: E402
from checkpoint_files import weights_only_round_trip  # noqa: E402

torch.set_num_threads(1)


class Helper:
    def __init__(self):
        self.n = 0


def _net():
    return torch.nn.Linear(2, 2)


def _sgd():
    return torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1, momentum=0.9)


#: kind -> (make one, make the two saved ones differ: first, second)
KINDS = {
    "module": (_net, lambda m, v: torch.nn.init.constant_(m.weight, v)),
    "tensor": (lambda: torch.zeros(3), lambda t, v: t.fill_(v)),
    "helper object": (Helper, lambda h, v: setattr(h, "n", v)),
    "generator": (lambda: np.random.default_rng(0), lambda g, v: g.random(int(v))),
    "RandomState": (lambda: np.random.RandomState(0), lambda g, v: g.random_sample(int(v))),
    "random.Random": (lambda: random.Random(0), lambda g, v: [g.random() for _ in range(int(v))]),
    "torch.Generator": (lambda: torch.Generator().manual_seed(0), lambda g, v: torch.rand(int(v), generator=g)),
    "optimizer": (_sgd, lambda o, v: o.param_groups[0].__setitem__("lr", v)),
}


class Pair:
    def __init__(self, make, shared: bool):
        self.k = 0
        self.first = make()
        self.second = self.first if shared else make()


def _state(value):
    """The live value's state, read through its public API (to see that nothing was loaded)."""
    if isinstance(value, torch.nn.Module):
        return {k: v.clone() for k, v in value.state_dict().items()}
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, Helper):
        return value.n
    if isinstance(value, np.random.Generator):
        return value.bit_generator.state
    if isinstance(value, np.random.RandomState):
        state = value.get_state(legacy=False)
        return state["state"]["key"].tolist(), state["state"]["pos"]
    if isinstance(value, random.Random):
        return value.getstate()
    if isinstance(value, torch.Generator):
        return value.get_state()
    return value.param_groups[0]["lr"]


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return a == b


@pytest.mark.parametrize("kind", list(KINDS))
def test_two_saved_apart_are_refused_in_one_shared_live_object_naming_both(kind):
    make, change = KINDS[kind]
    torch.manual_seed(0)
    saved = Pair(make, shared=False)
    saved.k = 5
    with torch.no_grad():
        change(saved.first, 1.0)
        change(saved.second, 2.0)
    stored = weights_only_round_trip(to_checkpoint(saved, "policy"))
    torch.manual_seed(1)
    live = Pair(make, shared=True)
    before = _state(live.first)
    with pytest.raises(RestoreError, match=r"cannot restore policy\.second: the checkpoint holds a .* apart from "
                                           r"the one at policy\.first .* this policy has one .* at both places"):
        from_checkpoint(stored, live, "policy")
    assert live.k == 0 and live.second is live.first and _same(_state(live.first), before)  # nothing loaded
    apart = Pair(make, shared=False)  # built as the saved one was: both places loaded
    from_checkpoint(stored, apart, "policy")
    assert _same(_state(apart.first), _state(saved.first)) and _same(_state(apart.second), _state(saved.second))
    assert not _same(_state(apart.first), _state(apart.second))


@pytest.mark.parametrize("kind", ["generator", "RandomState", "random.Random", "torch.Generator", "optimizer"])
def test_a_shared_value_stored_at_each_place_loads_into_the_shared_live_one(kind):
    """Generators and optimizers are stored at each place they are met (no reference): the same
    state twice, loaded into a policy that shares them as the saved one did."""
    make, change = KINDS[kind]
    saved = Pair(make, shared=True)
    change(saved.first, 3.0)
    stored = weights_only_round_trip(to_checkpoint(saved, "policy"))
    live = Pair(make, shared=True)
    from_checkpoint(stored, live, "policy")
    assert live.second is live.first and _same(_state(live.first), _state(saved.first))


def test_an_older_lrgyms_records_stored_twice_load_into_the_shared_live_object():
    """An lrgym of before references stored a shared helper, module and tensor at each place: the
    same data twice (no ``numbered`` field), which loads into the policy sharing them."""
    class Three:
        def __init__(self):
            self.helper, self.net, self.t = Helper(), _net(), torch.zeros(2)
            self.helper2, self.net2, self.t2 = self.helper, self.net, self.t

    saved = Three()
    saved.helper.n, saved.t[:] = 4, 7.0
    with torch.no_grad():
        saved.net.weight.fill_(0.5)
    stored = to_checkpoint(saved, "policy")
    state = stored["state"]
    for name in ("helper", "net"):
        state[name].pop("numbered", None)
    assert all(state[f"{name}2"][TAG] == "ref" for name in ("helper", "net", "t"))
    for name in ("helper", "net", "t"):  # as an older lrgym stored them: the first record again
        state[f"{name}2"] = state[name]
    live = Three()
    from_checkpoint(weights_only_round_trip(stored), live, "policy")
    assert live.helper2 is live.helper and live.helper.n == 4 and torch.equal(live.t, saved.t)
    assert live.net2 is live.net and torch.equal(live.net.weight, saved.net.weight)


def test_torchs_load_state_dict_keeps_the_last_name_of_a_shared_submodule():
    """The reference: torch loads both names into the shared submodule, the last one winning."""
    class Two(torch.nn.Module):
        def __init__(self, shared):
            super().__init__()
            self.a = torch.nn.Linear(2, 2)
            self.b = self.a if shared else torch.nn.Linear(2, 2)

    saved = Two(shared=False)
    with torch.no_grad():
        saved.a.weight.fill_(1.0)
        saved.b.weight.fill_(2.0)
    live = Two(shared=True)
    live.load_state_dict(saved.state_dict())  # no error
    assert torch.equal(live.a.weight, saved.b.weight) and not torch.equal(live.a.weight, saved.a.weight)


class _BestSoFar(torch.optim.lr_scheduler.LRScheduler):
    """An LR scheduler of the user's own whose state holds a NaN (no loss seen yet)."""

    def __init__(self, optimizer):
        self.best = math.nan
        super().__init__(optimizer)

    def get_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]


class _SharedScheduler:
    def __init__(self):
        self.net = _net()
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.1)
        self.sched = _BestSoFar(self.opt)
        self.by_name = {"sched": self.sched}  # the same scheduler at a second place


def test_a_shared_state_holding_a_nan_is_the_same_data_at_both_places():
    """A scheduler's state is stored at each place it is met; one holding a NaN was two different
    records (``nan == nan`` is False) and the policy sharing it, as the saved one did, was refused
    ("the saved policy had two") until 2026-12-06. Likewise an older lrgym's helper stored at
    each place with a NaN attribute and a NaN array. The same bits twice are the same data."""
    saved = _SharedScheduler()
    saved.opt.step()
    saved.sched.step()
    live = _SharedScheduler()
    from_checkpoint(weights_only_round_trip(to_checkpoint(saved, "policy")), live, "policy")
    assert live.by_name["sched"] is live.sched and live.sched.last_epoch == saved.sched.last_epoch == 1
    assert math.isnan(live.sched.best)

    class Two:
        def __init__(self):
            self.helper = Helper()
            self.helper.loss, self.helper.seen = math.nan, np.array([np.nan, -0.0])
            self.helper2 = self.helper

    saved = Two()
    saved.helper.n = 5
    stored = to_checkpoint(saved, "policy")
    stored["state"]["helper"].pop("numbered")
    stored["state"]["helper2"] = stored["state"]["helper"]  # as an older lrgym stored it
    live = Two()
    from_checkpoint(weights_only_round_trip(stored), live, "policy")
    assert live.helper2 is live.helper and live.helper.n == 5 and math.isnan(live.helper.loss)
    assert live.helper.seen.tobytes() == saved.helper.seen.tobytes()


def test_records_that_differ_only_in_the_sign_of_a_zero_are_two():
    """Bit for bit: ``-0.0`` and ``0.0`` are equal by ``==`` but two states (``1 / x`` tells them):
    two older records (no ``numbered``) holding them are two helpers, not one stored twice."""
    class Two:
        def __init__(self, a, b):
            self.first, self.second = Helper(), Helper()
            self.first.x, self.second.x = a, b

    stored = to_checkpoint(Two(0.0, -0.0), "policy")
    for name in ("first", "second"):  # as an older lrgym stored them: compared by their data
        stored["state"][name].pop("numbered")
    live = Two(1.0, 1.0)
    live.second = live.first
    with pytest.raises(RestoreError, match=r"^cannot restore policy\.second: .* apart from the one at policy\.first"):
        from_checkpoint(weights_only_round_trip(stored), live, "policy")
