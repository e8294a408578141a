"""PolicyScheduler under DistributedDataParallel: one schedule for every rank.

Two ranks (gloo on the loopback, a ``file://`` rendezvous in the test's temporary folder) train a
tiny float64 model for 30 updates under the plateau policy and the bold driver (which undoes
steps), each rank on its own, noisier or less noisy, half of every global batch (ddp_worker.py).
The references: the ranks against each other (bit-exact: they run the same code on the same
global statistics), and a single process that trains on the two halves concatenated (the same
global batch): DDP's gradient, the mean of the halves' mean gradients, equals its full-batch mean
gradient up to rounding, so its parameters are compared within a tolerance and its LRs exactly,
both policies' LRs being products of discrete decisions (a decision could flip only where a
compared loss lies within rounding of its threshold; the margins here are far wider, and the
parameters agree to ~1e-16).

Before the fix each rank observed only its own minibatch losses and its own validation share:
the bold driver undid steps on one rank and not on the other, and the ranks' LRs and parameters
parted (test_ranks_share_one_schedule fails on the old code).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrgym.baselines.registry import make_baseline  # noqa: E402
from lrgym.torch import PolicyScheduler  # noqa: E402
from dist_runs import POLICIES, WORLD, scheduler_runs, train_linear  # noqa: E402
from same_state import assert_same_state  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"0": rank 0's results, "1": rank 1's, "single": the one-process reference}; made with
    the other distributed modules' runs by three processes at once (dist_runs.scheduler_runs),
    killed if they outlive the timeout."""
    return scheduler_runs(tmp_path_factory, "ddp")


@pytest.mark.parametrize("name", [name for name, _ in POLICIES])
def test_ranks_share_one_schedule(runs, name):
    """Every rank set the same LR at every update, undid the same steps, and ends with the same
    parameters and the same scheduler state, to the bit."""
    zero, one = runs["0"][name], runs["1"][name]
    assert len(set(zero["lrs"])) >= 3  # the policy decided: the LR moved at least twice
    assert zero["lrs"] == one["lrs"]
    assert_same_state(zero["params"], one["params"], "params")
    assert_same_state(zero["state"], one["state"])


def test_the_bold_driver_undid_a_step(runs):
    """The bold driver's run exercises the undo: some step was rejected (its LR multiplied by dec)."""
    lrs = runs["0"]["bold_driver"]["lrs"]
    assert any(b < a for a, b in zip(lrs, lrs[1:]))


@pytest.mark.parametrize("name", [name for name, _ in POLICIES])
def test_schedule_is_the_single_process_one(runs, name):
    """The ranks' schedule is the one a single process training on the global batch gets: the same
    LRs (discrete decisions) and the same parameters up to rounding."""
    ddp, single = runs["0"][name], runs["single"][name]
    assert ddp["lrs"] == single["lrs"]
    for a, b in zip(ddp["params"], single["params"]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_exchanges(runs):
    """The exchanges against their definitions: uneven per-example losses concatenated in rank order,
    scalar losses averaged (one number: no spread), the measures averaged with equal weights."""
    for rank in map(str, range(WORLD)):
        probe = runs[rank]["probe"]
        expected = np.concatenate([np.arange(r + 2, dtype=np.float64) + 10.0 * r for r in range(WORLD)])
        np.testing.assert_array_equal(probe["uneven"], expected)
        np.testing.assert_array_equal(probe["scalar"], [1.5])
        assert probe["measures"] == (1.0, 3.0, 0.125)


def test_ranks_that_decide_differently_stop_together(runs):
    """A random policy seeded per rank decides differently on the ranks: every rank raises,
    naming each rank's decision, instead of letting the replicas drift apart."""
    for rank in map(str, range(WORLD)):
        error = runs[rank].get("coin_error")
        assert error is not None and "different LR decisions" in error
        assert "rank 0: lr=" in error and "rank 1: lr=" in error


def test_no_process_group_outside_torch_distributed(monkeypatch):
    """Outside torch.distributed the scheduler runs no collective, and an explicit process group
    there is an error naming it."""
    import torch.distributed as dist

    assert not dist.is_initialized()

    def refuse(*args, **kwargs):
        raise AssertionError("a collective ran outside torch.distributed")

    monkeypatch.setattr(dist, "all_gather", refuse)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    sched = PolicyScheduler(opt, make_baseline("bold_driver"), horizon=2, updates_per_step=1,
                            val_fn=lambda: 1.0, train_loss_fn=lambda: 1.0)
    train_linear(model, opt, sched, 2)
    assert sched.done
    with pytest.raises(ValueError, match=r"process_group='group' is not a process group; valid: None"):
        PolicyScheduler(torch.optim.SGD(model.parameters(), lr=0.01), make_baseline("bold_driver"), horizon=2,
                        process_group="group")
