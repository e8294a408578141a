"""Live tensors that share memory, and the memory a module's load needs.

* Two live tensors whose memory overlaps (``b = a[1:3]``), loaded from a checkpoint whose saved
  ones were apart and differ there: each took its copy, the later one winning where they share
  elements, so the first read back otherwise than saved, in silence (torch's own
  ``load_state_dict`` into two overlapping buffers does the same: the reference below). The plan
  now refuses it naming both places, before anything loads; saved from views of one storage
  (values agreeing where shared) they load in place as before.
* A module's stored ``state_dict()`` was restored as a fresh copy of the checkpoint's tensors only
  for torch's ``load_state_dict`` to copy it into the parameters: it is handed over as it is when
  the load is torch's own (:func:`~lrgym.torch._checkpoint_actions.loads_by_copy`), still copied
  for a module of a load of its own, which may keep what it is given.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from lrgym.torch.checkpoint import from_checkpoint, to_checkpoint  # noqa: E402
from lrgym.torch._checkpoint_format import RestoreError  # noqa: E402
from checkpoint_files import weights_only_round_trip  # noqa: E402

torch.set_num_threads(1)


class Views:
    def __init__(self, view: bool):
        self.a = torch.zeros(4)
        self.b = self.a[1:3] if view else torch.zeros(2)


class ModuleViews(torch.nn.Module):
    def __init__(self, view: bool):
        super().__init__()
        self.register_buffer("a", torch.zeros(4))
        self.register_buffer("b", self.a[1:3] if view else torch.zeros(2))


def _saved_apart(cls):
    saved = cls(view=False)
    saved.a[:] = 1.0
    saved.b[:] = 2.0
    return saved


def test_torch_loads_two_overlapping_buffers_the_last_write_winning():
    """The reference: torch's own load_state_dict leaves ``a`` other than saved, in silence."""
    saved, live = _saved_apart(ModuleViews), ModuleViews(view=True)
    live.load_state_dict(saved.state_dict())
    assert torch.equal(live.b, saved.b) and not torch.equal(live.a, saved.a)
    assert live.a.tolist() == [1.0, 2.0, 2.0, 1.0]


@pytest.mark.parametrize("cls, first, second", [
    (Views, r"policy\.a", r"policy\.b"),
    (ModuleViews, r"policy\.state_dict\(\)\['a'\]", r"policy\.state_dict\(\)\['b'\]"),
])
def test_overlapping_live_tensors_saved_apart_are_refused_naming_both(cls, first, second):
    stored = weights_only_round_trip(to_checkpoint(_saved_apart(cls), "policy"))
    live = cls(view=True)
    with pytest.raises(RestoreError, match=rf"cannot restore {second}: its live tensor shares memory with the one "
                                           rf"at {first} .* where the saved values differ"):
        from_checkpoint(stored, live, "policy")
    assert torch.equal(live.a, torch.zeros(4)) and live.b.data_ptr() == live.a[1:].data_ptr()  # nothing loaded
    apart = cls(view=False)  # built as the saved one was: each holds its saved values
    from_checkpoint(stored, apart, "policy")
    assert apart.a.tolist() == [1.0] * 4 and apart.b.tolist() == [2.0] * 2


class NumpyViews:
    """Two tensors of one NumPy array's memory, each ``torch.from_numpy`` of a view: two storages
    (their own data pointers), the same bytes."""

    def __init__(self, view: bool):
        import numpy as np

        memory = np.zeros(4, dtype=np.float32)
        self.a = torch.from_numpy(memory)
        self.b = torch.from_numpy(memory[1:3] if view else np.zeros(2, dtype=np.float32))


def test_overlapping_live_tensors_of_two_storages_are_refused_too():
    """Memory is compared by address, not by storage: tensors made from overlapping NumPy views
    are two storages over the same bytes, and the check that grouped tensors by storage let them
    load as torch's load_state_dict does (``a`` read back [1, 2, 2, 1], saved [1, 1, 1, 1]; a
    review, 2026-12-06). Refused as views of one storage are; built as the saved one was, they
    load; saved from such views (values agreeing), they load in place."""
    saved = _saved_apart(NumpyViews)
    stored = weights_only_round_trip(to_checkpoint(saved, "policy"))
    live = NumpyViews(view=True)
    assert live.a.untyped_storage().data_ptr() != live.b.untyped_storage().data_ptr()  # (two storages)
    with pytest.raises(RestoreError, match=r"cannot restore policy\.b: its live tensor shares memory with the one "
                                           r"at policy\.a .* where the saved values differ"):
        from_checkpoint(stored, live, "policy")
    assert live.a.tolist() == [0.0] * 4  # nothing loaded
    apart = NumpyViews(view=False)
    from_checkpoint(stored, apart, "policy")
    assert apart.a.tolist() == [1.0] * 4 and apart.b.tolist() == [2.0] * 2
    same = NumpyViews(view=True)
    same.a[:] = torch.arange(4.0)
    in_place = NumpyViews(view=True)
    from_checkpoint(weights_only_round_trip(to_checkpoint(same, "policy")), in_place, "policy")
    assert in_place.a.tolist() == [0.0, 1.0, 2.0, 3.0] and in_place.b.tolist() == [1.0, 2.0]


def test_a_policy_tensor_viewing_its_net_parameter_saved_apart_is_refused():
    """The overlap is found across a module's parameters and the policy's own tensors too."""
    class Policy:
        def __init__(self, view: bool):
            self.net = torch.nn.Linear(3, 2)
            self.row = self.net.weight.detach()[0] if view else torch.zeros(3)

    saved = Policy(view=False)
    with torch.no_grad():
        saved.net.weight.fill_(0.5)
    stored = to_checkpoint(saved, "policy")
    live = Policy(view=True)
    before = live.net.weight.detach().clone()
    with pytest.raises(RestoreError, match=r"cannot restore policy\.row: its live tensor shares memory with the one "
                                           r"at policy\.net\.state_dict\(\)\['weight'\]"):
        from_checkpoint(stored, live, "policy")
    assert torch.equal(live.net.weight, before)


@pytest.mark.parametrize("cls", [Views, ModuleViews])
def test_overlapping_live_tensors_saved_from_views_load_in_place(cls):
    saved = cls(view=True)
    saved.a[:] = torch.arange(4.0)
    stored = weights_only_round_trip(to_checkpoint(saved, "policy"))
    live = cls(view=True)
    a, b = live.a, live.b
    from_checkpoint(stored, live, "policy")
    assert live.a is a and live.b is b and torch.equal(live.a, saved.a) and torch.equal(live.b, saved.b)


class KeepsItsState(torch.nn.Linear):
    """A module whose load keeps the tensor it is given (assign, as load_state_dict(assign=True))."""

    def _load_from_state_dict(self, state_dict, prefix, *args):
        self.weight = torch.nn.Parameter(state_dict[prefix + "weight"])
        self.bias = torch.nn.Parameter(state_dict[prefix + "bias"])


def _loaded_state(module):
    """The state dicts the checkpoint's load hands to ``module.load_state_dict`` (watched on the
    instance: its class's method stays torch's)."""
    given, load = [], module.load_state_dict
    module.load_state_dict = lambda state, *a, **k: (given.append(state), load(state, *a, **k))[1]
    return given


def test_a_modules_state_goes_to_torchs_load_uncopied_and_to_its_own_load_copied():
    saved = torch.nn.Linear(3, 2)
    stored = to_checkpoint(saved, "net")
    live = torch.nn.Linear(3, 2)
    given = _loaded_state(live)
    from_checkpoint(stored, live, "net")
    assert given[0]["weight"] is stored["state"]["weight"]  # torch's load copies from it: no copy made
    assert torch.equal(live.weight, saved.weight) and live.weight.data_ptr() != stored["state"]["weight"].data_ptr()

    own = KeepsItsState(3, 2)
    stored = to_checkpoint(KeepsItsState(3, 2), "net")
    given = _loaded_state(own)
    from_checkpoint(stored, own, "net")
    assert given[0]["weight"] is not stored["state"]["weight"]
    assert torch.equal(own.weight, stored["state"]["weight"])
    assert own.weight.data_ptr() != stored["state"]["weight"].data_ptr()  # it keeps a copy, not the checkpoint
