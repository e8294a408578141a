"""One process of a small training run for test_scheduler_ddp.py, run as a script::

    python ddp_worker.py RUNS.json

``RUNS.json`` is a list of runs, run one after the other in this process (each rank's process
group is set up and destroyed for each run, under the run's own rendezvous). A run says what to run: ``{"policies": [[name, overrides], ...], "out": path,
"mode": "ddp", "rank": r, "world": n, "init": "file:///..."}`` for one rank of a
DistributedDataParallel run (gloo, on the loopback), ``"mode": "zero"`` for the same with the
optimizer sharded by ``ZeroRedundancyOptimizer``, ``"mode": "fsdp"`` for one rank of the same
run with the model sharded by FSDP2's ``fully_shard`` instead (the whole model one unit, and
again each layer a unit, then the root; ``"mixed": true`` with bfloat16 mixed precision), ``"mode": "local"`` for one rank
training an independent model on its own slices (no DDP), under ``process_group="local"`` and
under the default (shared) schedule, or ``{"mode": "single", "world": n}`` for the one-process
reference that trains on the n ranks' minibatches concatenated (the same global batch every
update), ``{"mode": "single_rank", "rank": r, "world": n}`` for the one that trains on rank r's
slices alone. ``"momentum"`` (default 0) is SGD's, for the runs whose optimizer state an undo
must put back. The worker saves to ``out`` what the test compares: the LR of every update, the
final parameters and the scheduler's ``state_dict()`` under each policy; the ranks also record
the exchanges on inputs that differ by rank (:func:`probe`) and the error a policy seeded per
rank raises (:class:`CoinPolicy`), and under ZeRO and FSDP what loading another rank's state does
(:func:`cross_rank_loads`) and, under ZeRO, the refusal of ``overlap_with_ddp=True``.

The data is one fixed stream of global batches; rank r takes the r-th equal slice of each
(a ``DistributedSampler``'s split), and its slices are noisier than rank 0's (r adds noise of
scale r), so that the ranks' own minibatch losses differ, as two shards of real data do. The
validation and the training-objective rows are split between the ranks the same way; each rank's
``val_fn`` / ``train_loss_fn`` measures its own share (the scheduler averages them over the ranks).
"""

from __future__ import annotations

import datetime
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HORIZON, INNER, PER_RANK = 10, 3, 8  # 30 updates of 8 examples a rank
FEATURES = 4


def _stream(world: int):
    """(X, y) of every global batch in order, the validation rows and the training-objective rows,
    each as ``world`` equal slices in rank order (float64: the reference's rounding stays far below
    any decision's margin)."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(FEATURES, generator=g, dtype=torch.float64)

    def rows(n_per_rank):
        parts = []
        for r in range(world):
            X = torch.randn(n_per_rank, FEATURES, generator=g, dtype=torch.float64)
            noise = torch.randn(n_per_rank, generator=g, dtype=torch.float64)
            parts.append((X, torch.tanh(X @ w) + 0.1 * (1 + 3 * r) * noise))
        return parts

    batches = [rows(PER_RANK) for _ in range(HORIZON * INNER)]
    return batches, rows(16), rows(16)


def _model():
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(FEATURES, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1)).double()


def _cat(parts):
    return torch.cat([X for X, _ in parts]), torch.cat([y for _, y in parts])


class CoinPolicy:
    """A policy drawing its factor at random from a generator seeded with ``seed``: seeded per rank,
    the ranks' policies decide differently from the same observations."""

    name = "coin"
    action_mode = "discrete"

    def __init__(self, seed: int):
        self.seed = seed

    def reset(self, info):
        self.rng = np.random.default_rng(self.seed)

    def act(self, obs, info):
        return int(self.rng.integers(3))


def train(policy, net, model, mine, world: int, momentum: float = 0.0, zero: bool = False, **sched_kwargs) -> dict:
    """Train ``net`` for HORIZON × INNER updates under ``policy`` with SGD (``momentum``: its state
    is what an undo must put back; ``zero``: sharded over the ranks by ZeroRedundancyOptimizer) and
    ``sched_kwargs``, more PolicyScheduler arguments (e.g. ``process_group``): the LR of every
    update, the observation after every step, the final parameters (whole, also of a sharded
    model), the scheduler's state."""
    from lrgym.torch import PolicyScheduler

    batches, val_rows, objective_rows = _stream(world)

    def mean_loss(parts):
        X, y = mine(parts)
        return F.mse_loss(model(X).squeeze(-1), y).item()

    if zero:
        from torch.distributed.optim import ZeroRedundancyOptimizer

        opt = ZeroRedundancyOptimizer(net.parameters(), optimizer_class=torch.optim.SGD, lr=0.1, momentum=momentum)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=momentum)
    sched = PolicyScheduler(opt, policy, horizon=HORIZON, updates_per_step=INNER, lr_init=0.3,
                            val_fn=lambda: mean_loss(val_rows), train_loss_fn=lambda: mean_loss(objective_rows),
                            model=model, **sched_kwargs)
    lrs, obs = [], []
    for parts in batches:
        X, y = mine(parts)
        opt.zero_grad()
        losses = F.mse_loss(net(X).squeeze(-1), y, reduction="none")
        losses.mean().backward()
        opt.step()
        sched.step(losses)
        lrs.append(opt.param_groups[0]["lr"])
        if len(lrs) % INNER == 0:
            obs.append(sched.last_obs.copy())
    if hasattr(net, "reshard"):  # FSDP2: the root may hold its gathered (under mixed precision bfloat16) copies
        net.reshard()
    whole = [p.full_tensor() if hasattr(p, "full_tensor") else p for p in model.parameters()]  # FSDP2: gathered
    return {"lrs": lrs, "obs": obs, "params": [p.detach().clone() for p in whole],
            "state": sched.state_dict(), "done": sched.done}


def probe(rank: int) -> dict:
    """The exchanges themselves, with what a rank gives them differing by rank: per-example losses
    of rank-dependent numbers (rank r gives r + 2 of them), a scalar loss on every rank, and the
    measures (train loss, val loss, metric)."""
    from lrgym.torch._distributed import global_losses, global_measures, resolve_group

    group = resolve_group(None)
    uneven = torch.arange(rank + 2, dtype=torch.float64).numpy() + 10.0 * rank
    return {"uneven": global_losses(group, lambda: uneven, True),
            "scalar": global_losses(group, lambda: np.array([1.0 + rank]), True),
            "measures": global_measures(group, lambda: (0.5 + rank, 2.0 * (rank + 1), 0.25 * rank))}


def zero_checks(world: int, mine, momentum: float) -> dict:
    """What a ZeRO run is refused: a ``ZeroRedundancyOptimizer(overlap_with_ddp=True)`` at the
    scheduler's construction (``"refused overlap"``), and a state holding another rank's shard of
    the optimizer state: after INNER + 1 updates under the bold driver (a step that may still be
    undone, momentum built up), each rank loads its own state into a fresh scheduler
    (``"own load"``: what it raised, or "loaded") and rank 0's, broadcast to every rank, the
    habit of saving rank 0's only (``"rank 0's load"``), and rank 0's into a plain SGD scheduler
    of this rank alone (``"plain load"``)."""
    from torch.distributed.optim import ZeroRedundancyOptimizer

    from lrgym.baselines.registry import make_baseline
    from lrgym.torch import PolicyScheduler

    out = {}
    model = _model()
    overlap = ZeroRedundancyOptimizer(model.parameters(), optimizer_class=torch.optim.SGD, overlap_with_ddp=True, lr=0.1)
    try:
        PolicyScheduler(overlap, make_baseline("plateau"), horizon=HORIZON, lr_init=0.3)
        out["refused overlap"] = None
    except ValueError as exc:
        out["refused overlap"] = str(exc)

    def scheduler(plain: bool = False):
        model = _model()
        if plain:
            opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=momentum)
            return model, PolicyScheduler(opt, make_baseline("bold_driver"), horizon=HORIZON, updates_per_step=INNER,
                                          lr_init=0.3, model=model, process_group="local")
        net = torch.nn.parallel.DistributedDataParallel(model)
        opt = ZeroRedundancyOptimizer(net.parameters(), optimizer_class=torch.optim.SGD, lr=0.1, momentum=momentum)
        return net, PolicyScheduler(opt, make_baseline("bold_driver"), horizon=HORIZON, updates_per_step=INNER,
                                    lr_init=0.3, model=model)

    net, sched = scheduler()
    for parts in _stream(world)[0][:INNER + 1]:
        X, y = mine(parts)
        sched.optimizer.zero_grad()
        losses = F.mse_loss(net(X).squeeze(-1), y, reduction="none")
        losses.mean().backward()
        sched.optimizer.step()
        sched.step(losses)
    out.update(cross_rank_loads(sched.state_dict(), lambda: scheduler()[1]))
    out["plain load"] = load_outcome(scheduler(plain=True)[1], out.pop("rank 0's state"))
    return out


def load_outcome(sched, state) -> str:
    """What ``sched.load_state_dict(state)`` raised (its ValueError's message), or "loaded"."""
    try:
        sched.load_state_dict(state)
    except ValueError as exc:
        return str(exc)
    return "loaded"


def cross_rank_loads(own: dict, build) -> dict:
    """This rank's saved state ``own`` and rank 0's (broadcast: the habit of saving rank 0's only)
    loaded into fresh schedulers (``build()``): {"own load", "rank 0's load": :func:`load_outcome`,
    "shard_of": whose shard ``own`` says it holds, "rank 0's state"}."""
    import torch.distributed as dist

    shared = [own]
    dist.broadcast_object_list(shared, src=0)  # rank 0's state, on every rank
    return {"own load": load_outcome(build(), own), "rank 0's load": load_outcome(build(), shared[0]),
            "shard_of": own.get("shard_of"), "rank 0's state": shared[0]}


def main(run: dict) -> None:
    from lrgym.baselines.registry import make_baseline

    torch.set_num_threads(1)
    world, mode = run["world"], run["mode"]
    out = {}
    momentum = run.get("momentum", 0.0)
    if mode in ("ddp", "fsdp", "zero", "local"):
        import torch.distributed as dist

        rank = run["rank"]
        dist.init_process_group("gloo", init_method=run["init"], rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=60))
        mine = lambda parts: parts[rank]  # noqa: E731 (this rank's slice)
        wrap = torch.nn.parallel.DistributedDataParallel
    elif mode == "single_rank":  # the reference of process_group="local": rank r's slices alone, one process
        rank = run["rank"]
        mine, wrap = (lambda parts: parts[rank]), (lambda model: model)
    else:
        mine, wrap = _cat, (lambda model: model)  # the reference: every rank's slice, concatenated in rank order
    if mode == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        # "mixed": the forward and backward in bfloat16, the gradients reduced in float32
        mp = {"mp_policy": MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)} \
            if run.get("mixed") else {}

        def wrap(model):  # FSDP2, the whole model one unit: each rank holds a shard of every parameter
            return fully_shard(model, **mp)  # (rank 1's of the last layer is empty: 1 row over 2 ranks)

        def wrap_layers(model):  # FSDP2's common recipe: each layer a unit of its own, then the root
            for layer in model:
                if isinstance(layer, torch.nn.Linear):
                    fully_shard(layer, **mp)
            return fully_shard(model, **mp)
    if mode == "local":  # independent models per rank: each rank's own schedule, and the default's shared one
        for name, overrides in run["policies"]:
            model = _model()
            out[name] = train(make_baseline(name, **overrides), model, model, mine, world, process_group="local")
            model = _model()
            out["shared " + name] = train(make_baseline(name, **overrides), model, model, mine, world)
        try:  # a misspelt opt-out inside torch.distributed: refused, naming it and the choices
            train(make_baseline("bold_driver"), model, model, mine, world, process_group="Local")
        except ValueError as exc:
            out["bad_group_error"] = str(exc)
        dist.destroy_process_group()
        torch.save(out, run["out"])
        return
    for name, overrides in run["policies"]:
        model = _model()
        out[name] = train(make_baseline(name, **overrides), wrap(model), model, mine, world, momentum=momentum,
                          zero=mode == "zero")
        if mode == "fsdp":
            model = _model()
            out["layers " + name] = train(make_baseline(name, **overrides), wrap_layers(model), model, mine, world)
    if mode == "ddp":
        out["probe"] = probe(rank)
        model = _model()
        try:  # last: every rank raises at the same exchange, and the group is left
            train(CoinPolicy(seed=rank), wrap(model), model, mine, world)
        except RuntimeError as exc:
            out["coin_error"] = str(exc)
    if mode == "fsdp":  # what a sharded model is refused with, raised alike on every rank
        from lrgym.torch import PolicyScheduler

        model = wrap(_model())
        refusals = {"local": dict(policy=make_baseline("plateau"), process_group="local"),
                    "no model": dict(policy=make_baseline("bold_driver"))}
        for key, kwargs in refusals.items():
            try:
                PolicyScheduler(torch.optim.SGD(model.parameters(), lr=0.1), horizon=2, lr_init=0.3, **kwargs)
            except ValueError as exc:
                out[f"refused {key}"] = str(exc)

        def build():  # a fresh sharded model's scheduler, as the bold driver's run built it
            model = _model()
            return PolicyScheduler(torch.optim.SGD(wrap(model).parameters(), lr=0.1), make_baseline("bold_driver"),
                                   horizon=HORIZON, updates_per_step=INNER, lr_init=0.3, model=model)

        loads = cross_rank_loads(out["bold_driver"]["state"], build)
        out.update({key: value for key, value in loads.items() if key != "rank 0's state"})
    if mode == "zero":
        out.update(zero_checks(world, mine, momentum))
    if mode in ("ddp", "fsdp", "zero"):
        dist.destroy_process_group()
    torch.save(out, run["out"])


if __name__ == "__main__":
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # gloo's connections on the loopback
    with open(sys.argv[1]) as f:
        for one in json.load(f):  # importing torch is most of a run's cost: one process, many runs
            main(one)
