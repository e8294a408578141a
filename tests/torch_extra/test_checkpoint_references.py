"""References in a checkpoint: a value met again, inside itself or under a second name.

``copy.deepcopy`` (Python's memo, as pickle's) is the reference: a helper's back-reference to its
owner, a list or dict that holds itself and an ``nn.Module`` under two names come back with the
same shape of sharing. Until 2026-12-06 the first two were refused as cycles, and a module met
twice was stored twice and, loaded into a policy that held two modules there, stayed two.
"""

from __future__ import annotations

import collections
import copy

import pytest

torch = pytest.importorskip("torch")

from lrgym.torch.checkpoint import TAG, class_name, from_checkpoint, to_checkpoint  # noqa: E402
from checkpoint_files import weights_only_round_trip  # noqa: E402

torch.set_num_threads(1)


class Helper:
    def __init__(self, owner):
        self.owner = owner
        self.n = 0


class Owner:
    def __init__(self, share_net=True):
        self.k = 1
        self.helper = Helper(self)
        self.net = torch.nn.Linear(2, 2)
        self.head = self.net if share_net else torch.nn.Linear(2, 2)
        self.loop = [0]
        self.loop.append(self.loop)
        self.books = {"n": 0}
        self.books["self"] = self.books
        self.frames = collections.deque([1], maxlen=3)
        self.frames.append(self.frames)
        self.net.owner = self  # a module's attribute of user code pointing back up
        self.net.helper = self.helper


def shape(value, seen=None):
    """The sharing of ``value``: each object, container or module numbered by its first meeting."""
    seen = {} if seen is None else seen
    if isinstance(value, (list, dict, collections.deque, Owner, Helper, torch.nn.Module)):
        if id(value) in seen:
            return ("again", seen[id(value)])
        seen[id(value)] = len(seen)
    if isinstance(value, dict):
        return ("dict", [(k, shape(v, seen)) for k, v in value.items()])
    if isinstance(value, (list, collections.deque)):
        return (type(value).__name__, [shape(v, seen) for v in value])
    if isinstance(value, torch.nn.Module):
        return ("module", [(k, shape(v, seen)) for k, v in vars(value).items() if k in ("owner", "helper")])
    if isinstance(value, (Owner, Helper)):
        return (type(value).__name__, [(k, shape(v, seen)) for k, v in vars(value).items()])
    return ("leaf", value)


def test_values_that_hold_themselves_come_back_as_copy_deepcopy_keeps_them():
    saved = Owner()
    saved.k, saved.helper.n = 7, 3
    with torch.no_grad():
        saved.net.weight.fill_(0.5)
    live = Owner()
    back = from_checkpoint(weights_only_round_trip(to_checkpoint(saved, "policy")), live, "policy")
    assert back is live and shape(live) == shape(copy.deepcopy(saved)) == shape(saved)
    assert live.helper.owner is live and live.net.owner is live and live.net.helper is live.helper
    assert live.loop[1] is live.loop and live.books["self"] is live.books and live.frames[1] is live.frames
    assert (live.k, live.helper.n) == (7, 3) and torch.equal(live.net.weight, saved.net.weight)


def test_a_tuple_that_contains_itself_is_refused_naming_it_and_the_fix():
    """A tuple is built from its items, so one that holds itself (through a list) cannot be restored."""
    t = ([],)
    t[0].append(t)
    with pytest.raises(TypeError, match=r"cannot checkpoint policy\['memo'\]\[0\]\[0\]: a tuple that contains itself "
                                        r".*valid: a list in the tuple's place"):
        to_checkpoint({"memo": t}, "policy")


def test_a_module_under_two_names_is_stored_once_and_shared_again_as_a_helper_object():
    """torch's own ``state_dict()`` keeps a submodule registered twice under both names and
    ``load_state_dict`` loads both, the live module's structure being its construction; a policy's
    attributes are its state, and a module among them is shared again as an object or a tensor is
    (the memo): the second name is stored as a reference and, loaded, is the first name's module."""
    saved = Owner(share_net=True)
    with torch.no_grad():
        saved.net.weight.fill_(0.25)
    stored = weights_only_round_trip(to_checkpoint(saved, "policy"))
    assert stored["state"]["net"][TAG] == "module" and stored["state"]["head"][TAG] == "ref"  # its weights once
    shared = Owner(share_net=True)
    from_checkpoint(stored, shared, "policy")
    assert shared.head is shared.net and torch.equal(shared.net.weight, saved.net.weight)
    apart = Owner(share_net=False)  # built otherwise: two modules where the saved policy had one
    net = apart.net
    from_checkpoint(stored, apart, "policy")
    reference = copy.deepcopy(saved)
    assert reference.head is reference.net  # what Python's memo does
    assert apart.head is apart.net is net and torch.equal(net.weight, saved.net.weight)


def test_two_modules_saved_apart_stay_apart():
    saved = Owner(share_net=False)
    with torch.no_grad():
        saved.net.weight.fill_(1.0)
        saved.head.weight.fill_(2.0)
    stored = weights_only_round_trip(to_checkpoint(saved, "policy"))
    live = Owner(share_net=False)
    from_checkpoint(stored, live, "policy")
    assert live.head is not live.net
    assert torch.equal(live.net.weight, saved.net.weight) and torch.equal(live.head.weight, saved.head.weight)


def test_an_older_lrgyms_module_record_is_not_numbered():
    """An older lrgym numbered no module (each was stored whole): a reference after one keeps
    pointing at the value it pointed at then."""
    net = torch.nn.Linear(2, 2)
    old_module = {TAG: "module", "class": class_name(torch.nn.Linear), "training": True, "other_modes": {},
                  "state": {k: torch.full_like(v, 3.0) for k, v in net.state_dict().items()}, "attributes": {}}
    helper = {TAG: "object", "class": class_name(Helper), "state": {"owner": None, "n": 4}}
    stored = {"net": old_module, "helper": helper, "again": {TAG: "ref", "index": 1}}  # 0: the dict, 1: the helper
    live = {"net": net, "helper": Helper(None), "again": None}
    back = from_checkpoint(stored, live)
    assert back["again"] is back["helper"] is live["helper"] and live["helper"].n == 4
    assert back["net"] is net and bool((net.weight == 3.0).all())


class WithExtraState(torch.nn.Module):
    """A module whose ``get_extra_state()`` (part of its ``state_dict()``, stored apart) holds its owner."""

    def __init__(self, owner):
        super().__init__()
        self.extra = {"owner": owner}

    def get_extra_state(self):
        return self.extra

    def set_extra_state(self, state):
        self.extra = state


def test_a_value_that_contains_itself_through_a_modules_state_dict_is_refused_naming_it():
    owner = Helper(None)
    owner.net = WithExtraState(owner)
    with pytest.raises(TypeError, match=r"cannot checkpoint policy\.net\.state_dict\(\)\['_extra_state'\]\['owner'\]: "
                                        r"it contains itself through a value stored apart \(a module's state_dict\(\)"):
        to_checkpoint(owner, "policy")
