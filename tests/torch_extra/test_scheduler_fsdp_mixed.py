"""PolicyScheduler under FSDP2 with mixed precision: ``fully_shard(...,
mp_policy=MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32))``.

FSDP then keeps the sharded parameters (and their gradients) in the model's dtype, gathers them
cast to bfloat16 for the forward and backward, and reduce-scatters the gradients in float32 into
the shards. The scheduler reads the sharded gradient as without mixed precision (the shard in the
parameters' dtype, its sums summed over the ranks), and an undo puts back the sharded parameters
(the full-precision ones) and reshards, so the next forward gathers and casts them again.

Two ranks (gloo on the loopback) train ddp_worker.py's float64 model this way, each on its half of
every global batch, under the plateau policy and the bold driver (which undoes steps), whole
model one unit and one unit per layer. The reference is test_scheduler_fsdp.py's: one process
training the unsharded model in float64 on the halves concatenated. bfloat16 keeps 8 significant
bits (a rounding of relative size 2^-9 ≈ 0.002 at each operation), so the runs cannot agree to
float rounding; the tolerance stated here is 3e-2 on every feature of the observation (log-scaled
losses and gradient norms, cosines: about fifteen bfloat16 roundings) and 2e-2 relative on the
final parameters; the LRs must be the same (the decisions are far from their thresholds, also at
this precision). That the run was in bfloat16 is checked too: its observations differ from the
float64 reference by more than float rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dist_runs import POLICIES, WORLD, scheduler_runs  # noqa: E402

RECIPES = ["", "layers "]  # ddp_worker.py's: the whole model one unit; each Linear a unit, then the root
OBS_ATOL = 3e-2  # about fifteen bfloat16 roundings (2^-9 each) on a log-scaled or cosine feature
PARAMS_RTOL = 2e-2


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"0", "1": the mixed-precision FSDP ranks' results (under each recipe's prefix), "single":
    the float64 one-process reference}."""
    return scheduler_runs(tmp_path_factory, "fsdp_mixed")


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("name", [name for name, _ in POLICIES])
def test_mixed_precision_run_is_the_reference_within_bfloat16(runs, name, recipe):
    """Both ranks set the reference's LRs at every update (so also the bold driver's undone steps);
    every observation, the gradient features summed over the shards included, is the reference's
    within OBS_ATOL, and the final whole parameters within PARAMS_RTOL; and the run was in
    bfloat16: its observations are not the float64 reference's to float rounding."""
    single = runs["single"][name]
    assert len(set(single["lrs"])) >= 3  # the policy decided: the LR moved at least twice
    for rank in map(str, range(WORLD)):
        run = runs[rank][recipe + name]
        assert run["lrs"] == single["lrs"]
        mixed, reference = np.array(run["obs"]), np.array(single["obs"])
        np.testing.assert_allclose(mixed, reference, rtol=0, atol=OBS_ATOL)
        assert np.abs(mixed - reference).max() > 1e-4  # bfloat16 was used: more than float32 rounding
        for a, b in zip(run["params"], single["params"]):
            torch.testing.assert_close(a, b, rtol=PARAMS_RTOL, atol=PARAMS_RTOL * float(b.abs().max()))


def test_bold_driver_undid_steps(runs):
    """The bold driver's mixed-precision runs undid a step (its LR multiplied by dec) after the
    first policy step, so an undo of bfloat16-gathered sharded parameters is exercised."""
    for recipe in RECIPES:
        lrs = runs["0"][recipe + "bold_driver"]["lrs"]
        assert any(b < a for a, b in zip(lrs[3:], lrs[4:]))
