"""PolicySchedulerCallback under Lightning's own DDP: ``Trainer(strategy="ddp", devices=2,
accelerator="cpu")`` (gloo, 127.0.0.1), started as a user starts it, by running a script
(lightning_ddp_worker.py) whose Trainer launches rank 1 itself.

The references: the ranks against each other (bit-exact: they run the same code on the same
global statistics), and the documented one-process hand loop (``opt.step(); sched.step(losses)``)
training on the global batches, every rank's rows of an update concatenated in rank order. Which
rows those are is Lightning's choice: it replaces a training loader's sampler with torch's
``DistributedSampler(shuffle=True, seed=0)``, ``set_epoch(epoch)`` every epoch, and the test
checks the rows each rank trained on against that sampler before the reference uses it. DDP's
gradient, the mean of the ranks' mean gradients over equal shares, is the global batch's mean
gradient up to rounding (float64 here), so the parameters agree within a tolerance and the LRs
exactly: both policies' LRs are products of discrete decisions (the plateau policy's on the
validation loss, which the ranks measure on their halves of the rows and the scheduler averages).

A resumed run: a new Trainer, model and callback fitted with ``ckpt_path=`` a checkpoint rank 0
saved after update 8. It continues the saved run's schedule: its LRs are the hand loop's that
trained on the first 8 global batches and then on the rows the resumed run trained on. Those
are not the uninterrupted run's rows: resumed from this end-of-epoch checkpoint, Lightning 2.6
ran one batch of the next epoch (its first) and then went on to the epoch after, so the data,
not the scheduler, differs from the uninterrupted run's after the first resumed update.

To the bit: the same bold driver accumulating, on resumable loaders (each rank its own rows) and
keeping every rank's gradients in the checkpoints (what Lightning itself needs to resume exactly),
validating every 3 micro-batches with a ``ModelCheckpoint`` after each validation, resumed from
its checkpoint at an update's end and from one between micro-batches: every rank's resumed run is
the uninterrupted one's rest, LRs, losses, observed training losses, parameters and scheduler
state equal to the bit.

The callback needed no change for this: the test is the evidence that the scheduler's
torch.distributed support (lrgym.torch._distributed) holds inside Lightning's DDP.

With ``accumulate_grad_batches=2`` the reference is the hand loop with accumulation on the global
micro-batches, told once an update with the losses in the order the ranks tell them (each rank
its micro-batches' losses, gathered in rank order). ``"ddp_spawn"`` schedules as ``"ddp"`` does
(its own script, run both ways).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lightning.pytorch")

import lightning_ddp_worker as run  # noqa: E402
from same_state import assert_same_state  # noqa: E402

from lrgym.baselines.registry import make_baseline  # noqa: E402
from lrgym.torch import PolicyScheduler  # noqa: E402

WORKER = Path(run.__file__)
#: the uninterrupted runs, the bold driver's run resumed from a checkpoint, its run accumulating and
#: that one resumed from a checkpoint between micro-batches
RUNS = [*run.POLICIES, "resumed", "accumulate", "mid_resumed", "exact"]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """[rank 0's results, rank 1's]. The script runs in a session of its own (with the rank its
    Trainer launches), killed whole if it outlives the timeout or leaves a process behind."""
    folder = tmp_path_factory.mktemp("lightning_ddp")
    (folder / "run.json").write_text(json.dumps({"folder": str(folder)}))
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(WORKER), str(folder / "run.json")], env=env, cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        log = proc.communicate(timeout=180)[0]
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the session's processes: the script and the rank it launched
        except ProcessLookupError:
            pass  # none left (rank 0 waits for rank 1 before it exits)
        proc.wait()
    assert proc.returncode == 0, f"exit {proc.returncode}\n{log[-4000:]}"
    return [torch.load(folder / f"rank{rank}.pt", weights_only=False) for rank in range(run.WORLD)]


def sampler_rows(epoch: int, rank: int) -> list[list[int]]:
    """The rows of each of ``rank``'s batches in ``epoch``, as the ``DistributedSampler`` Lightning
    puts in a training loader splits and shuffles them."""
    sampler = torch.utils.data.DistributedSampler(range(run.ROWS), num_replicas=run.WORLD, rank=rank,
                                                  shuffle=True, seed=0)
    sampler.set_epoch(epoch)
    rows = list(sampler)
    return [rows[i:i + run.BATCH] for i in range(0, len(rows), run.BATCH)]


def expected_rows() -> list[list[list[int]]]:
    """Every update's rows on every rank (``[update][rank]``): epoch after epoch of the sampler's batches."""
    return [[sampler_rows(k // run.BATCHES, rank)[k % run.BATCHES] for rank in range(run.WORLD)]
            for k in range(run.STEPS)]


def hand_loop(name: str, rows: list[list[list[int]]]):
    """The LR of every update, the final parameters and the scheduler's state of the one-process
    loop on the global batches
    (``rows[update]``: every rank's rows, concatenated in rank order), ``val_fn`` on all the
    validation rows (the ranks measure half each)."""
    (X, y, _), (X_val, y_val) = run.data()
    overrides, lr_init, with_val = run.POLICIES[name]
    net = run.net()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    val = {"val_fn": lambda: run.val_loss(net, X_val, y_val)} if with_val else {}
    sched = PolicyScheduler(opt, make_baseline(name, **overrides), horizon=run.HORIZON, updates_per_step=run.INNER,
                            lr_init=lr_init, model=net, **val)
    lrs = []
    for parts in rows:
        batch = [row for part in parts for row in part]
        opt.zero_grad()
        losses = run.losses_of(net, X[batch], y[batch])
        losses.mean().backward()
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(losses)
    return lrs, [p.detach().clone() for p in net.parameters()], sched.state_dict()


def assert_same_observation(ddp: dict, single: dict) -> None:
    """The policy's last observation and info (losses, their spread, validation, gradient features)
    as the one process's, up to rounding: the ranks observed the global batch's per-example losses
    and the mean of their validation halves, not their own."""
    np.testing.assert_allclose(ddp["last_obs"], single["last_obs"], rtol=1e-5, atol=1e-6)
    assert ddp["last_info"].keys() == single["last_info"].keys()
    for key, value in single["last_info"].items():
        if isinstance(value, float):
            assert math.isclose(ddp["last_info"][key], value, rel_tol=1e-9, abs_tol=1e-12) or (
                math.isnan(value) and math.isnan(ddp["last_info"][key])), key
        else:
            assert ddp["last_info"][key] == value, key


def test_each_rank_trains_on_its_sampler_share(ranks):
    """Lightning ran 2 ranks, and each trained at every update on its ``DistributedSampler`` share
    of the rows (the reference's global batches are built from it)."""
    expected = expected_rows()
    for rank, out in enumerate(ranks):
        assert out["world"] == run.WORLD
        for name in run.POLICIES:
            assert out[name]["seen"] == [parts[rank] for parts in expected], (rank, name)


@pytest.mark.parametrize("name", RUNS)
def test_ranks_share_one_schedule(ranks, name):
    """Every rank set the same LR at every update and ends with the same parameters and the same
    scheduler state, to the bit; the policy moved the LR (else the comparison says little)."""
    zero, one = ranks[0][name], ranks[1][name]
    assert len(set(zero["lrs"])) >= 3
    assert zero["lrs"] == one["lrs"]
    assert_same_state(zero["params"], one["params"], "params")
    assert_same_state(zero["state"], one["state"])


@pytest.mark.parametrize("name", list(run.POLICIES))
def test_schedule_is_the_single_process_one(ranks, name):
    """The ranks' schedule is the one the hand loop on the global batches gets: the same LRs, the
    same parameters up to rounding, the same last observation; the bold driver undid steps (its LR times 0.7), which rank
    alike and as in the loop."""
    lrs, params, state = hand_loop(name, expected_rows())
    ddp = ranks[0][name]
    assert ddp["lrs"] == lrs
    assert_same_observation(ddp["state"], state)
    assert ddp["last_epoch"] == run.STEPS
    for a, b in zip(ddp["params"], params):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    if name == "bold_driver":
        assert any(math.isclose(b, a * 0.7) for a, b in zip(lrs, lrs[1:]))


def test_a_resumed_ddp_run_continues_the_lrs(ranks):
    """Resumed from rank 0's checkpoint after update 8, a new Trainer, model and callback on every
    rank continue the saved schedule: the LRs of the hand loop that trained on the first 8 global
    batches, then on the rows the resumed run trained on (Lightning's choice after a restart,
    see the module docstring), from the saved run's LR at update 8 on (not the policy's start)."""
    resumed, whole = ranks[0]["resumed"], ranks[0]["bold_driver"]
    seen = [list(parts) for parts in zip(*(out["resumed"]["seen"] for out in ranks))]
    assert len(seen) == run.STEPS - run.RESUME_STEP
    for parts in seen:  # each update a global batch: equal shares, no row on two ranks
        assert [len(part) for part in parts] == [run.BATCH] * run.WORLD
        assert len({row for part in parts for row in part}) == run.BATCH * run.WORLD
    lrs, params, state = hand_loop("bold_driver", expected_rows()[:run.RESUME_STEP] + seen)
    assert resumed["lrs"][0] == whole["lrs"][run.RESUME_STEP] != run.POLICIES["bold_driver"][1]
    assert resumed["lrs"] == lrs[run.RESUME_STEP:]
    assert resumed["last_epoch"] == run.STEPS
    assert_same_observation(resumed["state"], state)
    for a, b in zip(resumed["params"], params):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def hand_loop_accumulating(rows: list[list[list[int]]], k: int):
    """The LR of every micro-batch and the scheduler's state of the one-process hand loop with
    accumulation on the global micro-batches (``rows[micro-batch][rank]``), ``k`` an update: each
    micro-batch's ``(losses.mean() / k).backward()``, one ``opt.step()``, then ``sched.step`` with
    the update's losses in the order the ranks tell them: every rank's micro-batches' losses
    concatenated (what a rank tells), in rank order (what the scheduler gathers)."""
    (X, y, _), _ = run.data()
    overrides = run.POLICIES["bold_driver"][0]
    net = run.net()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    sched = PolicyScheduler(opt, make_baseline("bold_driver", **overrides), horizon=run.HORIZON,
                            updates_per_step=run.INNER, lr_init=run.ACCUMULATE_LR_INIT, model=net)
    lrs = []
    for first in range(0, len(rows), k):
        opt.zero_grad()
        by_rank = [[] for _ in range(run.WORLD)]
        for parts in rows[first:first + k]:
            batch = [row for part in parts for row in part]
            losses = run.losses_of(net, X[batch], y[batch])
            (losses.mean() / k).backward()
            lrs.append(opt.param_groups[0]["lr"])
            for rank, share in enumerate(losses.split([len(part) for part in parts])):
                by_rank[rank].append(share)
        opt.step()
        sched.step(torch.cat([share for shares in by_rank for share in shares]))
    return lrs, [p.detach().clone() for p in net.parameters()], sched.state_dict()


def test_ddp_with_accumulation_is_the_single_process_loop(ranks):
    """``accumulate_grad_batches=2`` on 2 ranks: each rank trains every micro-batch on its sampler
    share, and both ranks' LRs (every micro-batch's, to the bit), last observation and parameters
    are the one-process hand loop's with accumulation on the global micro-batches, told once an
    update with all the update's losses (the bold driver, which undoes accumulated updates)."""
    micro_batches = run.STEPS * run.ACCUMULATE
    expected = [[sampler_rows(m // run.BATCHES, rank)[m % run.BATCHES] for rank in range(run.WORLD)]
                for m in range(micro_batches)]
    for rank, out in enumerate(ranks):
        assert out["accumulate"]["seen"] == [parts[rank] for parts in expected], rank
    lrs, params, state = hand_loop_accumulating(expected, run.ACCUMULATE)
    ddp = ranks[0]["accumulate"]
    assert len(lrs) == micro_batches and len(set(lrs)) >= 3
    assert ddp["lrs"] == lrs
    assert ddp["last_epoch"] == run.STEPS
    assert_same_observation(ddp["state"], state)
    for a, b in zip(ddp["params"], params):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    assert any(math.isclose(b, a * 0.7) for a, b in zip(lrs, lrs[1:]))  # an undone accumulated update


def test_a_checkpoint_between_micro_batches_keeps_every_ranks_losses(ranks):
    """The accumulating run saved a checkpoint after micro-batch 6, its update's first. Rank 0
    writes the checkpoint, and the callback's state in it holds every rank's losses of that
    micro-batch (gathered, in rank order); a run resumed from it gives each rank its own back:
    once training started, the resumed callbacks' state holds, on both ranks, exactly the
    uninterrupted run's losses of each rank's micro-batch 6 (the ranks' differ). Without the
    gather every rank would have resumed with rank 0's (told twice) or, before, with none; the
    resumed run then tells the scheduler the whole update's losses, as the uninterrupted one."""
    saved = [out["accumulate"]["losses"][run.MID_BATCH] for out in ranks]
    assert not torch.equal(saved[0], saved[1])
    for out in ranks:
        held = out["mid_resumed"]["held_at_start"]
        assert held is not None and len(held) == run.WORLD
        for rank in range(run.WORLD):
            assert len(held[rank]) == 1 and torch.equal(held[rank][0], saved[rank]), rank
    resumed, whole = ranks[0]["mid_resumed"], ranks[0]["accumulate"]
    assert resumed["lrs"][0] == whole["lrs"][run.MID_BATCH + 1]
    assert resumed["last_epoch"] == run.STEPS


@pytest.mark.parametrize("saved_after", list(run.EXACT_SAVES))
def test_a_resumed_ddp_run_is_the_uninterrupted_one_to_the_bit(ranks, saved_after):
    """The accumulating bold driver (undoing accumulated updates) on resumable loaders, each rank
    its own rows, with every rank's gradients kept in the checkpoints (``KeepGradients``: Lightning
    saves none), validating every 3 micro-batches (``val_check_interval``) with a ``ModelCheckpoint``
    saving after each validation, resumed in a new Trainer, model and callback from the checkpoint
    rank 0 saved at an update's end (after micro-batch 5, mid-epoch) or between an update's
    micro-batches (after micro-batch 8): on every rank the resumed run trains on the uninterrupted
    run's rows, at its LRs, with its per-example losses and the training loss the policy observed
    after every micro-batch, and ends with its parameters and scheduler state, all to the bit (both
    are the same code on the same numbers). Between micro-batches the ranks held different losses
    and gradients (DDP synchronises at an update's last micro-batch): each resumed rank continued
    with its own (given rank 0's gradient, the resumed LRs differ from micro-batch 19 on)."""
    assert set(run.EXACT_SAVES.values()) <= set(ranks[0]["exact_checkpoints"]), ranks[0]["exact_checkpoints"]
    resumed_name = run.EXACT[1 + list(run.EXACT_SAVES).index(saved_after)]
    later = slice(saved_after + 1, None)
    for rank, out in enumerate(ranks):
        whole, resumed = out["exact"], out[resumed_name]
        assert len(whole["lrs"]) == run.STEPS * run.ACCUMULATE and len(set(whole["lrs"][later])) >= 3
        assert any(math.isclose(b, a * 0.7) for a, b in zip(whole["lrs"][later], whole["lrs"][saved_after + 2:]))
        observed = [loss for loss in whole["observed"][later] if not math.isnan(loss)]
        assert len(set(observed)) >= 3  # the policy observes a new training loss every INNER updates
        assert resumed["seen"] == whole["seen"][later], rank
        assert resumed["lrs"] == whole["lrs"][later], rank
        assert_same_state(resumed["observed"], whole["observed"][later], f"rank {rank} observed")
        assert_same_state(resumed["losses"], whole["losses"][later], f"rank {rank} losses")
        assert_same_state(resumed["params"], whole["params"], f"rank {rank} params")
        assert_same_state(resumed["state"], whole["state"], f"rank {rank} state")
    assert ranks[0]["exact"]["seen"] != ranks[1]["exact"]["seen"]
    assert not torch.equal(ranks[0]["exact"]["losses"][saved_after], ranks[1]["exact"]["losses"][saved_after])


def _spawned_two_ranks(tmp_path) -> str:
    """lightning_two_ranks.py run as a script under ``ddp_spawn``; its output."""
    script = WORKER.parent / "lightning_two_ranks.py"
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "default"}
    proc = subprocess.Popen([sys.executable, str(script), "spawn"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        log = proc.communicate(timeout=120)[0]
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the script and the ranks it started, if any are left
        except ProcessLookupError:
            pass
        proc.wait()
    assert proc.returncode == 0, log[-4000:]
    return log


def _line(log: str, head: str) -> str:
    lines = [line for line in log.splitlines() if line.startswith(head)]
    assert len(lines) == 1, log[-4000:]
    return lines[0]


def test_ddp_spawn_schedules_as_ddp_and_warns_that_the_held_callback_keeps_no_scheduler(tmp_path, ranks):
    """``strategy="ddp_spawn"`` (2 CPU ranks, gloo): its ranks train copies of the callback in
    processes multiprocessing starts, and Lightning sends back only the weights and metrics. The LRs
    are scheduled as under ``"ddp"`` (the bold driver, undoing steps, from LR 1.5: the weights sent
    back equal a ``"ddp"`` run's to the bit, and so does the last LR logged), and rank 0 warns
    once that the callback held after ``fit`` has no scheduler, naming ``'ddp'``. (For a while it
    was refused at ``setup``, which left a notebook's only DDP, ``ddp_notebook``, without the
    callback.) The ``"ddp"`` run is the module's (lightning_ddp_worker.py fits the same model on its
    ranks: lightning_two_ranks.two_rank_fit), its lines and warnings in rank 0's results."""
    spawned = _spawned_two_ranks(tmp_path)
    popen = "\n".join(ranks[0]["two_ranks"])
    assert _line(spawned, "WEIGHTS") == _line(popen, "WEIGHTS")
    assert _line(spawned, "LAST LR") == _line(popen, "LAST LR")
    assert float(_line(spawned, "LAST LR").split()[-1]) not in (0.1, 1.5)  # the policy moved it
    assert _line(spawned, "SCHEDULER HELD") == "SCHEDULER HELD False"
    assert _line(popen, "SCHEDULER HELD") == "SCHEDULER HELD True"
    warned = [line for line in spawned.splitlines() if "keeps no scheduler after fit" in line]
    assert len(warned) == 1 and "strategy='ddp'" in warned[0] and "'ddp_spawn'" in warned[0], spawned[-4000:]
    assert not [w for w in ranks[0]["two_ranks_warnings"] if "keeps no scheduler" in w], ranks[0]["two_ranks_warnings"]
