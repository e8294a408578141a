"""A saved tensor loaded into a live tensor that a copy would not leave holding it.

Two cases that torch's ``copy_`` gets wrong or refuses late, told before anything is loaded:

* a live view whose elements share memory through ``torch.as_strided`` (overlapping strides, not
  a stride of 0): torch's overlap test cannot tell it ("too hard") and copies, each shared place
  keeping one element's value, so the live tensor read back otherwise than the saved one, in
  silence (torch's own ``load_state_dict`` into such a buffer does the same: the reference below);
* a live tensor of another layout than the saved one (sparse and strided, compressed sparse ones
  of other numbers of elements): torch refuses the copy, which the load met only when it ran it,
  after the actions before it (undone then).

A plain tensor attribute takes the saved tensor in its place (as one of another shape does); a
parameter or a module's buffer, never replaced, is a ``RestoreError`` naming it from
``restore_plan``, before any load. A view of the same overlapping layout, whose saved values agree
where its elements share memory, still loads in place.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from lrgym.torch.checkpoint import from_checkpoint, restore_plan, to_checkpoint  # noqa: E402
from lrgym.torch._checkpoint_format import RestoreError  # noqa: E402
from checkpoint_files import weights_only_round_trip  # noqa: E402

torch.set_num_threads(1)


def _overlapping():
    """[[0, 1], [1, 2]]: w[0, 1] and w[1, 0] are one place in memory."""
    return torch.arange(3.0).as_strided((2, 2), (1, 1))


class Holder:
    def __init__(self, w):
        self.k = 0
        self.net = torch.nn.Linear(2, 2)
        self.w = w


def _saved(w):
    saved = Holder(w)
    saved.k = 5
    with torch.no_grad():
        saved.net.weight.fill_(3.0)
    return saved, weights_only_round_trip(to_checkpoint(saved, "policy"))


def test_torch_copies_into_an_overlapping_view_keeping_one_value_per_place():
    """The reference: torch's copy_ and load_state_dict write, and the view reads back otherwise."""
    plain = torch.tensor([[5.0, 6.0], [7.0, 8.0]])
    live = _overlapping()
    live.copy_(plain)
    assert not torch.equal(live, plain)
    module = torch.nn.Module()
    module.register_buffer("b", _overlapping())
    module.load_state_dict({"b": plain})
    assert not torch.equal(module.b, plain)


def test_a_plain_tensor_saved_into_an_overlapping_view_takes_its_place():
    saved, stored = _saved(torch.tensor([[5.0, 6.0], [7.0, 8.0]]))  # replaced by a plain tensor during the run
    live = Holder(_overlapping())
    from_checkpoint(stored, live, "policy")
    assert torch.equal(live.w, saved.w) and live.k == 5 and torch.equal(live.net.weight, saved.net.weight)


def test_an_overlapping_view_saved_from_its_own_layout_loads_in_place():
    saved, stored = _saved(torch.tensor([0.0, 2.0, 4.0]).as_strided((2, 2), (1, 1)))
    base = torch.zeros(3)
    live = Holder(base.as_strided((2, 2), (1, 1)))
    view = live.w
    from_checkpoint(stored, live, "policy")
    assert live.w is view and torch.equal(live.w, saved.w) and torch.equal(base, torch.tensor([0.0, 2.0, 4.0]))


def test_an_overlapping_parameter_or_buffer_is_refused_before_anything_loads():
    saved, stored = _saved(torch.nn.Parameter(torch.tensor([[5.0, 6.0], [7.0, 8.0]])))
    live = Holder(torch.nn.Parameter(_overlapping()))
    with pytest.raises(RestoreError, match=r"cannot restore policy\.w: the live parameter is a view whose elements "
                                           r"share memory \(as_strided\), where the saved values differ"):
        restore_plan(stored, live, "policy")

    class Net(torch.nn.Module):
        def __init__(self, b):
            super().__init__()
            self.register_buffer("b", b)

    net = Net(torch.tensor([[5.0, 6.0], [7.0, 8.0]]))
    live_net = Net(_overlapping())
    with pytest.raises(RestoreError, match=r"cannot restore net: its live state_dict\(\)\['b'\] is a view whose "
                                           r"elements share memory"):
        restore_plan(weights_only_round_trip(to_checkpoint(net, "net")), live_net, "net")
    assert torch.equal(live_net.b, _overlapping())


@pytest.mark.parametrize("saved_sparse", [True, False])
def test_a_tensor_of_another_layout_takes_its_place(saved_sparse):
    dense = torch.tensor([[0.0, 3.0], [4.0, 0.0]])
    saved, stored = _saved(dense.to_sparse() if saved_sparse else dense)
    live = Holder(torch.zeros(2, 2) if saved_sparse else torch.zeros(2, 2).to_sparse())
    from_checkpoint(stored, live, "policy")  # (a copy_ torch refuses at load, and the net's weights undone)
    assert live.w.layout == saved.w.layout and torch.equal(live.w.to_dense(), dense) and live.k == 5


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
def test_a_compressed_sparse_tensor_of_other_nonzeros_takes_its_place():
    dense = torch.tensor([[0.0, 3.0], [4.0, 5.0]])
    saved = Holder(dense.to_sparse_csr())
    stored = to_checkpoint(saved, "policy")
    live = Holder(torch.tensor([[0.0, 1.0], [0.0, 0.0]]).to_sparse_csr())
    from_checkpoint(stored, live, "policy")
    assert live.w.layout == torch.sparse_csr and torch.equal(live.w.to_dense(), dense)


def test_a_module_buffer_of_another_layout_is_refused_by_the_plan():
    """torch's load_state_dict raises at the copy (after the buffers before it were written)."""
    class Net(torch.nn.Module):
        def __init__(self, b):
            super().__init__()
            self.lin = torch.nn.Linear(2, 2)
            self.register_buffer("b", b)

    net = Net(torch.tensor([[0.0, 3.0], [4.0, 0.0]]).to_sparse())
    live = Net(torch.zeros(2, 2))
    with pytest.raises(RestoreError, match=r"cannot restore net: its live state_dict\(\)\['b'\] is a strided tensor, "
                                           r"the saved one sparse_coo"):
        restore_plan(weights_only_round_trip(to_checkpoint(net, "net")), live, "net")
