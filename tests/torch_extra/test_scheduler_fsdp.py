"""PolicyScheduler under FSDP2 (``fully_shard``): gradients and parameters sharded over the ranks.

Two ranks (gloo on the loopback) train ddp_worker.py's tiny float64 model, sharded whole by
``fully_shard`` (each rank holds a shard of every parameter; rank 1's shard of the last layer is
empty), on the same data as test_scheduler_ddp.py: each rank its half of every global batch,
under the plateau policy and the bold driver (which undoes steps). The reference is a single
process training the unsharded model on the two halves concatenated: FSDP's gradient (the mean
of the halves' gradients, reduce-scattered) equals its full-batch gradient up to rounding, so the
policy's observations, gradient features included, agree within float rounding, its LRs exactly
(discrete decisions far from their thresholds), the final parameters within rounding.

Before the fix the first ``sched.step(loss)`` raised torch's "aten.copy_.default got mixed
torch.Tensor and DTensor" (the scheduler copied the DTensor gradient into a plain vector); a
rank's own shard alone would have given another gradient norm and cosine. And an undone step was
invisible to FSDP: ``val_fn()``'s forward under ``no_grad`` leaves the root module's parameters
gathered, so the next forward ran on the parameters of the undone step (test_bold_driver fails
without the reshard after an undo). The same runs shard the model the common FSDP2 way too,
``fully_shard`` on each Linear layer, then on the root: several units, each gathering its own
layer's parameters.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from dist_runs import POLICIES, WORLD, assert_reference_run, scheduler_runs  # noqa: E402



#: the sharding recipes: "" the whole model one unit; "layers " each Linear a unit, then the root
RECIPES = ["", "layers "]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"0", "1": the FSDP ranks' results (under each recipe's prefix), "single": the unsharded
    one-process reference}."""
    return scheduler_runs(tmp_path_factory, "fsdp")


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("name", [name for name, _ in POLICIES])
def test_sharded_run_is_the_single_process_one(runs, name, recipe):
    """Both ranks set the single process's LRs at every update; the policy observed what it
    observed there (every feature, the gradient norm and cosine too, within float rounding); the
    whole parameters end within rounding of the reference's. Whether the model is one FSDP unit
    or one per layer (each layer's parameters gathered by its own unit, resharded after an undo)."""
    single = runs["single"][name]
    assert len(set(single["lrs"])) >= 3  # the policy decided: the LR moved at least twice
    for rank in map(str, range(WORLD)):
        assert_reference_run(runs[rank][recipe + name], single)


@pytest.mark.parametrize("recipe", RECIPES)
def test_bold_driver_undid_a_step(runs, recipe):
    """The bold driver's sharded runs undid a step (its LR multiplied by dec), so the undo of
    sharded parameters is exercised."""
    lrs = runs["0"][recipe + "bold_driver"]["lrs"]
    assert any(b < a for a, b in zip(lrs, lrs[1:]))


def test_refusals(runs):
    """A sharded model under ``process_group="local"`` (a shard's gradient is not the model's) and a
    policy that undoes steps without ``model=`` (FSDP could not be told to gather the restored
    shards) are ValueErrors on every rank, naming what to do."""
    for rank in map(str, range(WORLD)):
        assert "shares no schedule (process_group='local')" in runs[rank]["refused local"]
        assert "fully_shard" in runs[rank]["refused local"]
        assert "PolicyScheduler(..., model=model)" in runs[rank]["refused no model"]


def test_a_state_loads_only_on_the_rank_that_saved_it(runs):
    """A sharded scheduler's state holds this rank's shards (the monitor's previous gradient, an
    undo's parameters and optimizer state) and says whose ([rank, ranks]). Each rank loads its own;
    rank 0's state (the habit of saving rank 0's alone) is refused on rank 1, naming the rank it
    came from and the loading one. Before, rank 1 took rank 0's shards in silence."""
    error = runs["1"]["rank 0's load"]
    assert "rank 0's shard (of 2 ranks" in error and "this scheduler is rank 1 of 2" in error
    assert runs["0"]["rank 0's load"] == "loaded"
    for rank in range(WORLD):
        assert runs[str(rank)]["shard_of"] == [rank, WORLD]
        assert runs[str(rank)]["own load"] == "loaded"
