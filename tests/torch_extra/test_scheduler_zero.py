"""PolicyScheduler on a ``ZeroRedundancyOptimizer`` under DistributedDataParallel.

ZeRO (stage 1) shards only the optimizer's state: DDP's gradients and the parameters are whole on
every rank, and each rank's local optimizer steps the parameters it owns, then broadcasts them.
Two ranks (gloo on the loopback) train ddp_worker.py's tiny float64 model with SGD of momentum 0.5
(a state the bold driver's undo must put back) sharded by ZeRO, each rank on its half of every
global batch, under the plateau policy and the bold driver. The reference is a single process
training on the halves concatenated with the plain SGD of the same momentum: the same LRs
(discrete decisions far from their thresholds), the same observations and parameters within float
rounding, an undone step included.

Before the fix the bold driver's first step raised ZeRO's "Optimizer state has not been
consolidated on this rank" (the scheduler snapshotted ``optimizer.state_dict()``, which ZeRO builds
only from a ``consolidate_state_dict()``, a collective, and then from that moment's state: a
snapshot taken from it after any consolidation would silently restore a stale momentum). The
scheduler now snapshots and restores each rank's own shard of the state (ZeRO's local optimizer).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from dist_runs import POLICIES, WORLD, assert_reference_run, scheduler_runs  # noqa: E402

INNER = 3  # ddp_worker.py's updates per policy step


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"0", "1": the ZeRO ranks' results, "single": the one-process reference, same momentum}."""
    return scheduler_runs(tmp_path_factory, "zero")  # SGD's momentum: dist_runs.ZERO_MOMENTUM, 0.5


@pytest.mark.parametrize("name", [name for name, _ in POLICIES])
def test_zero_run_is_the_single_process_one(runs, name):
    """Both ranks set the single process's LRs at every update, observed what it observed (within
    float rounding) and end with its parameters (within rounding)."""
    single = runs["single"][name]
    assert len(set(single["lrs"])) >= 3  # the policy decided: the LR moved at least twice
    for rank in map(str, range(WORLD)):
        assert_reference_run(runs[rank][name], single)


def test_bold_driver_undid_a_step(runs):
    """The bold driver's ZeRO run undid a step (its LR multiplied by dec) after momentum had built
    up, so the undo of the sharded optimizer state is exercised."""
    lrs = runs["0"]["bold_driver"]["lrs"]
    undone = [i for i in range(1, len(lrs)) if lrs[i] < lrs[i - 1]]  # the updates after an undo
    assert any(i > INNER for i in undone)  # not only the first step's undo: the state put back holds momentum


def test_overlap_with_ddp_is_refused(runs):
    """A ZeroRedundancyOptimizer with overlap_with_ddp=True (its updates run in DDP's communication
    hook, not in optimizer.step()) is a ValueError at the scheduler's construction on every rank,
    naming the setting and what works. Before, it was accepted and the schedule went wrong in
    silence."""
    for rank in map(str, range(WORLD)):
        error = runs[rank]["refused overlap"]
        assert error is not None, "PolicyScheduler accepted ZeRO's overlap_with_ddp=True"
        assert "overlap_with_ddp=True" in error and "overlap_with_ddp=False" in error
        assert "DistributedDataParallel" in error


def test_a_state_loads_only_on_the_rank_that_saved_it(runs):
    """While a step may be undone, each rank's state holds its own shard of ZeRO's optimizer state
    and says whose ([rank, ranks]). Each rank loads its own; rank 0's loads on rank 0 only: rank 1
    (the habit of saving rank 0's state alone) and a plain one-process optimizer refuse it, naming
    the rank it came from and the loading one. Before, rank 1 took rank 0's shard in silence."""
    error = runs["1"]["rank 0's load"]
    assert "rank 0's shard (of 2 ranks" in error and "this scheduler is rank 1 of 2" in error
    assert "each rank loads the state it saved itself" in error
    assert "rank 0's shard" in runs["1"]["plain load"] and "holds no shard" in runs["1"]["plain load"]
    assert runs["0"]["rank 0's load"] == "loaded"
    for rank in range(WORLD):
        run = runs[str(rank)]
        assert run["shard_of"] == [rank, WORLD]
        assert run["own load"] == "loaded"
