"""``process_group="local"``: independent trainings on the ranks of one process group.

Two ranks (gloo on the loopback) each train a model of their own (no DDP) on their own slices of
ddp_worker.py's data (rank 1's noisier), under the plateau policy and the bold driver, once with
``process_group="local"`` and once with the default. The references: a single process training on
rank r's slices alone (the schedule rank r must get under ``"local"``: the same code on the same
numbers, so the LRs, observations and parameters are equal to the bit), and, for the default,
the other rank (the default shares one schedule: both ranks set the same LRs).

Before the opt-out there was no way to say "local" inside an initialised process group: the
scheduler always synchronised, and ``process_group="local"`` was refused ("torch.distributed is
not initialised" outside it; inside, ``dist.get_rank("local")`` failed).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dist_runs import POLICIES, WORLD, scheduler_runs, train_linear  # noqa: E402
from same_state import assert_same_state  # noqa: E402

from lrgym.baselines.registry import make_baseline  # noqa: E402
from lrgym.torch import PolicyScheduler  # noqa: E402

NAMES = [name for name, _ in POLICIES]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"0", "1": the ranks' results, "alone 0", "alone 1": one process on rank r's slices}."""
    return scheduler_runs(tmp_path_factory, "local")


@pytest.mark.parametrize("name", NAMES)
def test_local_is_each_ranks_own_run(runs, name):
    """Under ``process_group="local"`` rank r's run is the one a single process gets on rank r's
    data: the same LRs, observations, parameters and scheduler state, to the bit."""
    for rank in map(str, range(WORLD)):
        local, alone = runs[rank][name], runs[f"alone {rank}"][name]
        assert local["lrs"] == alone["lrs"]
        np.testing.assert_array_equal(np.array(local["obs"]), np.array(alone["obs"]))
        assert_same_state(local["params"], alone["params"], "params")
        assert_same_state(local["state"], alone["state"])


@pytest.mark.parametrize("name", NAMES)
def test_default_shares_one_schedule(runs, name):
    """The same trainings under the default share one schedule (both ranks set the same LRs),
    which is not both ranks' own: the two ranks' own schedules differ, so the opt-out changes
    something."""
    shared = [runs[rank]["shared " + name]["lrs"] for rank in map(str, range(WORLD))]
    own = [runs[rank][name]["lrs"] for rank in map(str, range(WORLD))]
    assert shared[0] == shared[1]
    assert own[0] != own[1]


def test_bad_process_group_inside_torch_distributed(runs):
    """Inside torch.distributed a misspelt opt-out ("Local") is a ValueError naming it and the
    choices, on every rank."""
    for rank in map(str, range(WORLD)):
        error = runs[rank].get("bad_group_error")
        assert error is not None and "process_group='Local' is not a process group" in error
        assert "'local'" in error and "None" in error


@pytest.mark.parametrize("bad", ["Local", "LOCAL", "global", 0, False, object()])
def test_bad_process_group_is_named(bad):
    """Outside torch.distributed a value other than None, "local" or a group is a ValueError
    naming it and the choices ("local" among them), saying it is no process group: it said "was
    given, but torch.distributed is not initialised", as if it would do inside it."""
    model = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match=r"process_group=.* is not a process group; valid: None .*'local'") as caught:
        PolicyScheduler(torch.optim.SGD(model.parameters(), lr=0.01), make_baseline("bold_driver"), horizon=2,
                        process_group=bad)
    assert "not initialised" not in str(caught.value)


def test_local_outside_torch_distributed():
    """``process_group="local"`` outside torch.distributed is the single-process scheduler: the
    same LRs and state as the default's, to the bit."""
    states = []
    for group in (None, "local"):
        torch.manual_seed(0)
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        sched = PolicyScheduler(opt, make_baseline("bold_driver"), horizon=3, updates_per_step=2, lr_init=0.1,
                                process_group=group, train_loss_fn=lambda: 1.0)
        train_linear(model, opt, sched, 6)
        states.append(sched.state_dict())
    assert_same_state(states[0], states[1])
