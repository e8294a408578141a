"""One schedule for every rank of a ``torch.distributed`` run (DistributedDataParallel).

DDP all-reduces the gradients, not the LRs: a :class:`~lrgym.torch.PolicyScheduler` on each rank
that observed only its own minibatch losses and its own ``val_fn()`` let the policy choose
different LRs on different ranks, and the replicas drifted apart in silence. Under
``torch.distributed`` the scheduler therefore observes the **global** run, the one a single
process training on the ranks' minibatches concatenated would observe:

* the update's per-example losses are all-gathered and concatenated in rank order (the global
  batch; ranks may hold different numbers; scalar losses on every rank: their mean, no spread),
  :func:`global_losses`;
* ``train_loss_fn()`` and ``val_fn()`` (loss and metric) are averaged over the ranks with equal
  weights (:func:`global_measures`): give each rank an equal share of the rows they measure (a
  ``DistributedSampler``'s split), or every rank all of them (the mean of equal values is that
  value);
* the gradient is read from ``p.grad`` as DDP leaves it: already averaged over the ranks, the
  same on each. A gradient sharded over the ranks (FSDP2's ``fully_shard``: ``DTensor``
  parameters, each rank holding a shard, :func:`sharded_params`) is read shard by shard: every
  rank reads its own, and the sums its features are made of (‖g‖², g·g_prev, ‖g_prev‖²) are
  summed over the ranks (:func:`summed`), as is whether every shard of the parameters is finite,
  so the features are the whole gradient's. FSDP1 (``FullyShardedDataParallel``'s flattened
  parameters) and meshes of more than one dimension (HSDP, tensor parallelism) are refused.

Every rank's policy then takes the same decision from the same observation. That is checked, not
trusted (:func:`agreed_decision`): after every decision the ranks compare their LR and whether
they undid the step; rank 0's LR is the one every rank sets (ranks on different CPUs may round
an LR an ulp apart), and ranks that disagree by more than rounding (a stochastic policy seeded
differently per rank, data that differs in ways the averages hide) or on an undo raise a
``RuntimeError`` on every rank, naming each rank's decision. A policy that draws random numbers
must be seeded identically on every rank.

A rank whose loss or ``train_loss_fn()`` / ``val_fn()`` is refused (``ValueError``) still joins
the exchange with a failure flag, so every rank raises (the others name the failing rank) instead
of waiting for it in the next collective until the process group's timeout.

Collectives run on the CPU for gloo (and the CPU part of a ``"cpu:gloo,cuda:nccl"`` group), on
the current CUDA device for NCCL. Outside ``torch.distributed`` (not initialised, one rank) the
scheduler calls none of this: :func:`resolve_group` is None and the single-process path is the
one it always was. ``process_group="local"`` opts out inside ``torch.distributed``: ranks that
train independent models in one process group (a hyper-parameter sweep, one model per rank; model
parallelism whose ranks' losses must not be mixed) each get the schedule a single process
training on that rank's data gets, and no collective runs.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lrgym.torch._tensors import is_sharded

__all__ = ["LOCAL", "SharedGroup", "agreed_decision", "check_shard_owner", "check_zero_mode", "global_losses",
           "global_measures", "resolve_group", "shard_owner", "sharded_params", "state_holder", "summed"]

#: relative difference between two ranks' LRs still taken as rounding (different CPUs' math)
LR_RTOL = 1e-9


class SharedGroup:
    """The process group a scheduler's ranks share. A copy of the scheduler (``copy.deepcopy``)
    shares it: a process group belongs to the process. Pickled (into another process), only the
    default group can go along: it is looked up there again (:func:`_default_group`)."""

    def __init__(self, group):
        self.group = group

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        import torch.distributed as dist

        if self.group is not dist.group.WORLD:
            raise TypeError("a PolicyScheduler with an explicit process_group cannot be pickled (a process group "
                            "belongs to its process); valid: pickle one on the default group, or save "
                            "sched.state_dict() and load it into a scheduler built in the other process")
        return (_default_group, ())

    @property
    def rank(self) -> int:
        import torch.distributed as dist

        return dist.get_rank(self.group)

    @property
    def size(self) -> int:
        import torch.distributed as dist

        return dist.get_world_size(self.group)


def _default_group() -> SharedGroup | None:
    """The default group of the process a pickled scheduler is loaded in (None: not distributed)."""
    return resolve_group(None)


#: ``process_group=LOCAL``: this rank's own schedule, no collectives, also inside ``torch.distributed``
LOCAL = "local"


def resolve_group(process_group) -> SharedGroup | None:
    """The ranks that share one schedule: ``process_group`` if given, else the default group when
    ``torch.distributed`` is initialised; None (no collectives) outside ``torch.distributed``, for
    a group of one rank, or for ``process_group="local"`` (:data:`LOCAL`): the opt-out for ranks
    that train independently inside one process group (a sweep with one model per rank, model
    parallelism whose ranks' losses must not be mixed). Anything else is a ``ValueError`` naming
    it and the choices."""
    import torch.distributed as dist

    if isinstance(process_group, str) and process_group == LOCAL:
        return None
    initialised = dist.is_available() and dist.is_initialized()
    # (inside torch.distributed or not: outside it a misspelt "LOCAL" read as if a later
    # init_process_group would make it valid)
    if process_group is not None and not (dist.is_available() and isinstance(process_group, dist.ProcessGroup)):
        raise ValueError(f"process_group={process_group!r} is not a process group; valid: None (every rank of the "
                         "default group when torch.distributed is initialised, else no collectives), a "
                         "torch.distributed.ProcessGroup this rank belongs to (torch.distributed.new_group), or "
                         f"{LOCAL!r} (this rank's own schedule: no collectives)")
    if process_group is None:
        if not initialised:
            return None
        process_group = dist.group.WORLD
    elif not initialised:
        raise ValueError(f"process_group={process_group!r} was given, but torch.distributed is not initialised; "
                         f"valid: None or {LOCAL!r} outside torch.distributed, or a group of the initialised "
                         "default group (torch.distributed.new_group)")
    if dist.get_rank(process_group) < 0:
        raise ValueError(f"process_group={process_group!r} does not include this process (rank "
                         f"{dist.get_rank()}); valid: a group this rank belongs to, or None for the default group")
    return SharedGroup(process_group) if dist.get_world_size(process_group) > 1 else None


def sharded_params(params, group: SharedGroup | None) -> bool:
    """Whether ``params`` (the parameters whose gradient the policy observes) are sharded over
    ``group``'s ranks, FSDP2's way: every one a ``DTensor`` sharded (``Shard`` placements) on a
    one-dimensional device mesh of exactly the group's ranks; False when none is a ``DTensor``. A
    layout whose statistics a rank cannot complete by summing over the group is a ``ValueError``
    naming it and what works: FSDP1's flattened parameters, sharded and unsharded parameters
    mixed, a mesh of other ranks or more dimensions, a replicated or partial placement, and
    sharded parameters under a scheduler that shares nothing (``process_group="local"``)."""
    import torch.distributed as dist

    valid = ("valid: FSDP2 (torch.distributed.fsdp.fully_shard) over a one-dimensional mesh of the scheduler's "
             "ranks with process_group=None (the default group) or that mesh's group, or DistributedDataParallel")
    if any(getattr(p, "_fsdp_flattened", False) for p in params):
        raise ValueError("the optimizer holds FSDP1 parameters (FullyShardedDataParallel's flattened parameters), "
                         "whose gradient the scheduler cannot read as the model's; " + valid)
    shards = [p for p in params if is_sharded(p)]
    if not shards:
        return False
    if len(shards) != len(params):
        raise ValueError(f"{len(shards)} of the {len(params)} parameters the policy's LR trains are sharded "
                         "(DTensor) and the others not: the gradient's sums cannot be completed over the ranks; "
                         "valid: shard every parameter the optimizer trains (fully_shard on the root module too)")
    ranks = None if group is None else dist.get_process_group_ranks(group.group)
    for p in shards:
        mesh, placements = p.device_mesh, tuple(p.placements)
        if mesh.size() == 1 and group is None:
            continue  # a mesh of one rank: the "shard" is the whole parameter
        if group is None:
            raise ValueError(f"a parameter is sharded over {mesh.size()} ranks (DTensor on {mesh}), but this "
                             "scheduler shares no schedule (process_group='local'): a shard's gradient is not the "
                             "model's; " + valid)
        if mesh.ndim != 1 or not all(pl.is_shard() for pl in placements):
            raise ValueError(f"a parameter is a DTensor with placements {placements} on a {mesh.ndim}-dimensional "
                             "mesh (HSDP, tensor parallelism, a replicated or partial tensor): not supported; "
                             + valid)
        if dist.get_process_group_ranks(mesh.get_group()) != ranks:
            raise ValueError(f"a parameter is sharded over ranks {dist.get_process_group_ranks(mesh.get_group())}, "
                             f"the scheduler's group is ranks {ranks}; " + valid)
    return True


def is_zero(optimizer) -> bool:
    """Whether ``optimizer`` is a ``ZeroRedundancyOptimizer`` (ZeRO: its state sharded over the ranks)."""
    import torch.distributed as dist

    if not dist.is_available():
        return False
    from torch.distributed.optim import ZeroRedundancyOptimizer

    return isinstance(optimizer, ZeroRedundancyOptimizer)


def check_zero_mode(optimizer) -> None:
    """Refuse a ``ZeroRedundancyOptimizer`` built with ``overlap_with_ddp=True`` (``ValueError``
    naming the setting and what works): its updates run inside DDP's communication hook during
    ``backward()``, and its ``step()`` does nothing, so the scheduler, which acts at
    ``optimizer.step()`` / ``step(loss)``, would count no update, undo none, and set LRs in a local
    optimizer that does not exist yet. torch (2.13) keeps the setting only as the private
    attribute ``_overlap_with_ddp`` (no public accessor): it is read with ``getattr`` and a
    default, and, should that name go, the other sign of the mode is taken: ZeRO builds no local
    optimizer (``.optim``) at construction then (DDP's hook builds it at the first steps)."""
    if not is_zero(optimizer):
        return
    overlap = getattr(optimizer, "_overlap_with_ddp", None)  # private in torch; see the docstring
    if overlap is None:
        overlap = not hasattr(optimizer, "optim")
    if overlap:
        raise ValueError("optimizer is a ZeroRedundancyOptimizer with overlap_with_ddp=True: its updates run inside "
                         "DDP's communication hook during backward(), not in optimizer.step(), so the scheduler "
                         "cannot count, undo or set the LR of them; valid: ZeroRedundancyOptimizer(..., "
                         "overlap_with_ddp=False) (the default), a plain optimizer under DistributedDataParallel, "
                         "or FSDP2 (fully_shard)")


def state_holder(optimizer):
    """The optimizer whose ``state_dict()`` an undo's snapshot takes and loads back: ``optimizer``
    itself, or for a ``ZeroRedundancyOptimizer`` this rank's local optimizer (``.optim``), which
    holds the rank's shard of the state. ZeRO's own ``state_dict()`` is the state a collective
    ``consolidate_state_dict()`` gathered, when it last ran (a stale momentum restored in silence),
    and raises on a rank it was not gathered to. The parameters are whole on every rank (DDP's), so
    each rank puts back all of them and its own shard of the state; ZeRO copies the LR the
    scheduler sets from its own groups into the local optimizer's at every ``step()``."""
    return optimizer.optim if is_zero(optimizer) else optimizer


def shard_owner(optimizer, group: SharedGroup | None, sharded: bool) -> list[int] | None:
    """``[rank, ranks]`` of the shard a scheduler's state holds of this rank's alone: under FSDP2
    (``sharded``: the monitor's previous gradient and an undo's parameters and optimizer state
    are this rank's shards) this rank in the scheduler's group, on a ``ZeroRedundancyOptimizer``
    (an undo's optimizer state is this rank's shard) this rank in ZeRO's group; None when the
    state is every rank's alike (DDP, one process)."""
    if sharded and group is not None:
        return [group.rank, group.size]
    if is_zero(optimizer) and optimizer.world_size > 1:
        return [int(optimizer.rank), int(optimizer.world_size)]
    return None


def check_shard_owner(saved: list | None, mine: list[int] | None) -> None:
    """A state that holds one rank's shard (``saved``: its ``[rank, ranks]``, :func:`shard_owner`;
    None: a state every rank may load) loads only on that rank of as many (``mine``), else a
    ``ValueError`` naming both: loading another rank's shard (rank 0's state on every rank, the
    common habit of saving rank 0's only) would restore the wrong shard in silence at the next
    undo, and mix its previous gradient into this rank's gradient features."""
    if saved is None or (mine is not None and [int(v) for v in saved] == list(mine)):
        return
    here = "this scheduler holds no shard (one process or DDP)" if mine is None else \
        f"this scheduler is rank {mine[0]} of {mine[1]}"
    raise ValueError(f"the state holds rank {int(saved[0])}'s shard (of {int(saved[1])} ranks: FSDP2's or "
                     f"ZeroRedundancyOptimizer's), {here}; loading it would restore another rank's shard; valid: "
                     "each rank loads the state it saved itself (save every rank's sched.state_dict(), e.g. one "
                     "file per rank), on as many ranks")


def summed(group: SharedGroup, values) -> tuple[float, ...]:
    """Every rank's ``values`` (numbers, as many on each) summed over the ranks, in rank order:
    the same numbers on every rank."""
    rows = _gather(group, values)
    return tuple(sum(float(v) for v in rows[:, column]) for column in range(rows.shape[1]))


def _device(group: SharedGroup) -> torch.device:
    """Where the group's collectives take their tensors: the current CUDA device for an NCCL-only
    group, else the CPU."""
    import torch.distributed as dist

    backend = str(dist.get_backend(group.group)).lower()
    if "nccl" in backend and "gloo" not in backend:
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _gather(group: SharedGroup, row) -> np.ndarray:
    """Every rank's ``row`` (float64 numbers, the same length on each), stacked in rank order:
    the same array on every rank."""
    import torch.distributed as dist

    mine = torch.as_tensor(np.asarray(row, dtype=np.float64), device=_device(group))
    rows = [torch.empty_like(mine) for _ in range(group.size)]
    dist.all_gather(rows, mine, group=group.group)
    return torch.stack(rows).cpu().numpy()


def _raise_if_failed(group: SharedGroup, failed: np.ndarray, error: BaseException | None, what: str) -> None:
    """After an exchange: this rank's own ``error`` if it had one, else a ``RuntimeError`` naming the
    ranks whose ``what`` failed (they raise their own), so no rank waits for the others."""
    if error is not None:
        raise error
    bad = [rank for rank, flag in enumerate(failed) if flag]
    if bad:
        raise RuntimeError(f"{what} was refused on rank(s) {bad} of this process group (see the error raised "
                           f"there); every rank stops, none waits for them in the next collective")


def global_losses(group: SharedGroup, read_losses, stepped: bool) -> np.ndarray:
    """The update's global losses, from ``read_losses()`` (this rank's, as a flat float64 vector:
    :func:`~lrgym.torch._tensors.losses_array`, which raises on a refused loss): every rank's
    concatenated in rank order, or, when every rank gave one number (a scalar mean loss), their
    mean as one number (no spread). ``stepped``: whether ``optimizer.step()`` ran on this rank;
    under DDP it runs on all ranks or none (a ``GradScaler`` skips on every rank alike: the
    gradients are the same), and a rank that differs is a ``RuntimeError`` on every rank."""
    try:
        local, error = read_losses(), None
    except Exception as exc:  # a refused loss: every rank learns it before the next collective
        local, error = np.zeros(0), exc
    heads = _gather(group, [local.shape[0], float(stepped), float(error is not None)])
    _raise_if_failed(group, heads[:, 2], error, "step(loss)'s loss")
    if len(set(heads[:, 1])) > 1:
        took = [rank for rank, flag in enumerate(heads[:, 1]) if flag]
        raise RuntimeError(
            f"optimizer.step() ran on rank(s) {took} of this process group but not on the others since the last "
            "sched.step(loss): the ranks' schedules would part; valid: every rank takes the same updates "
            "(DistributedDataParallel: the same number of batches on every rank, a GradScaler skips on all alike)")
    sizes = heads[:, 0].astype(np.int64)
    padded = np.zeros(int(sizes.max()))
    padded[:local.shape[0]] = local
    rows = _gather(group, padded)
    if (sizes == 1).all():  # a scalar mean loss on every rank: their mean, no spread measured
        return np.array([sum(float(v) for v in rows[:, 0]) / group.size])
    return np.concatenate([row[:n] for row, n in zip(rows, sizes)])


def global_measures(group: SharedGroup, measure_here) -> tuple[float | None, float | None, float]:
    """``measure_here()``'s (train_loss, val_loss, val_metric) (:func:`~lrgym.torch._measure.measure`:
    None / nan where absent) averaged over the ranks with equal weights, summed in rank order (the
    same number on every rank). A measure present on some ranks only, or refused on one, is an
    error on every rank."""
    try:
        (train, val, metric), error = measure_here(), None
    except Exception as exc:  # refused, or the user's function failed: every rank learns it
        train, val, metric, error = None, None, math.nan, exc
    rows = _gather(group, [math.nan if train is None else train, math.nan if val is None else val, metric,
                           float(train is None), float(val is None), float(error is not None)])
    _raise_if_failed(group, rows[:, 5], error, "train_loss_fn() or val_fn()")
    for column, name in ((3, "train_loss_fn"), (4, "val_fn")):
        if len(set(rows[:, column])) > 1:
            raise ValueError(f"{name} was given on some ranks of this process group and not on others; valid: "
                             f"build the PolicyScheduler of every rank alike (with {name} on all or on none)")

    def mean(column: int) -> float:
        return sum(float(v) for v in rows[:, column]) / group.size

    return (None if rows[0, 3] else mean(0), None if rows[0, 4] else mean(1), mean(2))


def agreed_decision(group: SharedGroup, lr: float, rejected: bool, done: bool) -> float:
    """Rank 0's LR, after checking every rank took the same decision: an LR equal to rank 0's up to
    rounding (:data:`LR_RTOL`), the same undo, the same end of the run. Otherwise a ``RuntimeError``
    on every rank naming each rank's decision and the usual causes."""
    rows = _gather(group, [lr, float(rejected), float(done)])
    first = rows[0]
    same = all(math.isclose(row[0], first[0], rel_tol=LR_RTOL) and row[1] == first[1] and row[2] == first[2]
               for row in rows)
    if not same:
        decisions = "; ".join(f"rank {rank}: lr={row[0]:.10g}, undone={bool(row[1])}, done={bool(row[2])}"
                              for rank, row in enumerate(rows))
        raise RuntimeError(
            f"the ranks of this process group took different LR decisions ({decisions}): their replicas would "
            "drift apart. The scheduler shares the losses and validation values of every rank, so the causes "
            "left are a policy that draws random numbers, seeded differently per rank (seed it identically on "
            "every rank), a policy or scheduler built differently on some rank, or a gradient that differs "
            "between ranks (not DistributedDataParallel: a sharded or a rank-local gradient)")
    return float(first[0])
