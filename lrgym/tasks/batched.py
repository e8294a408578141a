"""Batched training: one compiled call runs the inner training of many environments.

The vector environment (:mod:`lrgym.vector`) groups its sub-environments by the compiled kernel
their task runs (a *kind*: linear regression on a finite data set, streaming linear regression,
noisy quadratic, MLP, ...). A group keeps a ``numba.typed.List`` with one tuple per environment —
the arguments of the family's ``run_*`` kernel that belong to the environment (its
:class:`~lrgym.tasks.base.TrainState` arrays and its task's data), in the kernel's order — and
:func:`run_serial` / :func:`run_parallel` loop over the list and call the kernel for each.

**Same machine code as the single environment.** The drivers do not call the ``run_*`` kernel
as a Numba function (Numba would link a copy of it into the driver and optimise it again; with
``fastmath={"reassoc", "contract"}`` the copy may sum in another order and differ in the last
bit). They call the kernel's already compiled specialisation — the one :meth:`Task.run` reaches
from Python — through its address (:func:`kernel_address`, :func:`_call_kernel`). So a
sub-environment of the vector env performs exactly the floating-point operations of a single
environment; ``tests/test_vector.py`` checks trajectories to the bit.

Every ``run_*`` kernel has the signature ``(<head...>, lr, n_updates, opt, hyper, <tail...>,
loss_cap, stats)`` (the tail is ``segments`` for most families, empty for the recommender); a
kind's item is the pair ``(head, tail)`` of tuples holding exactly the objects :meth:`Task.run`
passes. A task whose class has no kind here still works in the vector env, through a Python loop
over :meth:`Task.run` (:data:`FALLBACK`); :func:`register_kind` adds kinds for new families.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numba
import numpy as np
from numba import prange, types
from numba.extending import intrinsic

from lrgym.features import M_CAP


@dataclass(frozen=True)
class Kind:
    """A compiled kernel kind: the ``run_*`` kernel and how to pack one environment's arguments."""

    name: str
    #: the family's Numba ``run_*`` dispatcher (``None`` for :data:`FALLBACK`)
    kernel: Callable | None
    #: (task, state) -> (head, tail): the kernel's per-environment arguments before ``lr`` and
    #: between ``hyper`` and ``loss_cap``
    item: Callable | None


FALLBACK = Kind("python", None, None)


def kernel_args(item: tuple, lr: float, n_updates: int, opt: int, hyper, loss_cap: float, stats) -> tuple:
    """The full argument tuple of a kind's kernel, as :meth:`Task.run` passes it."""
    head, tail = item
    return (*head, lr, n_updates, opt, hyper, *tail, loss_cap, stats)


def kernel_address(kernel, args: tuple) -> int:
    """Address of ``kernel``'s native code for the types of ``args`` (compiled or loaded if needed).

    This is the specialisation a Python call ``kernel(*args)`` dispatches to, so calling the
    address runs the identical machine code.
    """
    sig = tuple(numba.typeof(a) for a in args)
    kernel.compile(sig)
    cres = kernel.overloads[sig]
    return cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)


@intrinsic
def _call_kernel(typingctx, addr, item, lr, n_updates, opt, hyper, loss_cap, stats):
    """Call the native kernel at ``addr`` with ``(*head, lr, n_updates, opt, hyper, *tail,
    loss_cap, stats)`` for ``item = (head, tail)`` — an opaque call LLVM can neither inline nor
    re-optimise."""
    head_t, tail_t = item.types
    head, tail = list(head_t.types), list(tail_t.types)
    argtys = head + [lr, n_updates, opt, hyper] + tail + [loss_cap, stats]
    sig = types.none(addr, item, lr, n_updates, opt, hyper, loss_cap, stats)

    def codegen(context, builder, signature, args):
        a_addr, a_item, a_lr, a_n, a_opt, a_hyper, a_cap, a_stats = args
        a_head = builder.extract_value(a_item, 0)
        a_tail = builder.extract_value(a_item, 1)
        llargs = (
            [builder.extract_value(a_head, i) for i in range(len(head))]
            + [a_lr, a_n, a_opt, a_hyper]
            + [builder.extract_value(a_tail, i) for i in range(len(tail))]
            + [a_cap, a_stats]
        )
        fnty = context.call_conv.get_function_type(types.none, argtys)
        fnptr = builder.inttoptr(a_addr, fnty.as_pointer())
        # The kernels never raise (divergence is reported in ``stats``); the status is dropped.
        context.call_conv.call_function(builder, fnptr, types.none, argtys, llargs)
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(cache=True)
def run_serial(items, addr, env_idx, active, lrs, n_updates, opt, hyper, memory, stats):
    """Run the kernel at ``addr`` for every item whose environment ``env_idx[g]`` is active."""
    for g in range(len(items)):
        e = env_idx[g]
        if active[e]:
            _call_kernel(addr, items[g], lrs[e], n_updates, opt, hyper, memory[e, M_CAP], stats[e])


@numba.njit(cache=True, parallel=True)
def run_parallel(items, addr, env_idx, active, lrs, n_updates, opt, hyper, memory, stats):
    """:func:`run_serial` with the environments spread over Numba's threads (``prange``).

    Call it with ``numba.set_parallel_chunksize(1)`` in force (the vector env does): environments
    are then handed out one at a time, so a thread that the OS preempts does not hold back a
    fixed share of the work.
    """
    for k in prange(len(items)):
        g = np.int64(k)
        e = env_idx[g]
        if active[e]:
            _call_kernel(addr, items[g], lrs[e], n_updates, opt, hyper, memory[e, M_CAP], stats[e])


# ---- the typed lists, built and edited by cached compiled helpers -----------------------------
# (numba.typed.List's own Python methods compile for every new item type in every process; these
# helpers are compiled once per item type and cached on disk)


@numba.njit(cache=True)
def new_items(item):
    """A typed list holding ``item``."""
    items = numba.typed.List()
    items.append(item)
    return items


@numba.njit(cache=True)
def append_item(items, item):
    items.append(item)


@numba.njit(cache=True)
def set_item(items, i, item):
    items[i] = item


@numba.njit(cache=True)
def remove_item(items, i):
    """Remove item i by moving the last item into its place (order is not kept)."""
    last = len(items) - 1
    if i != last:
        items[i] = items[last]
    items.pop()


# ---- kinds of the built-in families ----------------------------------------------------------


def _linreg_finite_item(task, state):
    s = state.scratch
    return (
        (
            state.params, state.slots, state.step, state.rng, state.grad, state.prev_grad,
            s["rows"], s["losses"], s["acc"],
            task.X, task.y, task.R, task.c, task.rho, task.n_eval,
            task.Rv, task.cv, task.rho_v, task.n_val, task.val_var,
        ),
        (task.segments,),
    )


def _linreg_stream_item(task, state):
    s = state.scratch
    return (
        (
            state.params, state.slots, state.step, state.rng, state.grad, state.prev_grad,
            s["losses"], s["acc"], s["z"], s["e_eig"], s["g_eig"],
            task.w_star, task.U, task.UT, task.eigvals, task.sqrt_eig, task.spec.noise, task.y_var,
        ),
        (task.segments,),
    )


def _quadratic_item(task, state):
    s = state.scratch
    return (
        (
            state.params, state.slots, state.step, state.rng, state.grad, state.prev_grad,
            s["xi"], s["acc"], task.H, math.sqrt(task.noise_var), task.spec.noise,
        ),
        (task.segments,),
    )


def _mlp_item(task, state):
    s = state.scratch
    return (
        (
            state.params, state.slots, state.step, state.rng, state.grad, state.prev_grad,
            s["rows"], s["Xb"], s["yb"], s["losses"], s["eval_losses"], s["acts"], task.act_offsets,
            s["delta_a"], s["delta_b"], s["acc"], task.widths, task.offsets, task.relu,
            task.X, task.y, task.n_eval, task.Xv, task.yv,
        ),
        (task.segments,),
    )


def _recsys_item(task, state):
    s = state.scratch
    return (
        (
            state.params, state.slots, state.step, state.rng,
            s["tri_u"], s["tri_i"], s["tri_y"], s["scores"], s["losses"], s["dscores"], s["row_slot"], s["rows"],
            s["starts"], s["G"], s["uacc"], s["prev_G"], s["prev_slot"], s["prev_rows"], s["prev_meta"],
            s["table_sq"], s["acc"],
            s["ev_scores"], s["ev_losses"], s["ev_dscores"],
            task.width, task.v_off, task.pos_u, task.pos_i, task.n_items, task.spec.n_negatives,
            task.ev_u, task.ev_i, task.ev_y, task.va_u, task.va_i, task.va_y,
        ),
        (),
    )


_KINDS: dict[str, Kind] = {}
_CHOOSERS: list[tuple[str, str, Callable]] = []  # (module, class name, task -> Kind)


def register_kind(module: str, class_name: str, chooser: Callable) -> None:
    """Teach :func:`kind_of` a task class (by module and name, imported lazily):
    ``chooser(task) -> Kind``."""
    _CHOOSERS.append((module, class_name, chooser))


def _kind(name: str, module: str, kernel: str, item: Callable) -> Kind:
    if name not in _KINDS:
        import importlib

        _KINDS[name] = Kind(name, getattr(importlib.import_module(module), kernel), item)
    return _KINDS[name]


def check_item(kind: Kind, item: tuple) -> bool:
    """Does ``item`` fill the kernel's signature? (A family that changed its kernel's arguments
    without updating its kind here must not be called with the old layout.)"""
    import inspect

    head, tail = item
    n_params = len(inspect.signature(kind.kernel.py_func).parameters)
    return n_params == len(head) + len(tail) + 6


register_kind(
    "lrgym.tasks.linreg", "LinRegTask",
    lambda task: _kind("linreg_stream", "lrgym.tasks.linreg", "run_stream", _linreg_stream_item)
    if task.streaming else _kind("linreg_finite", "lrgym.tasks.linreg", "run_finite", _linreg_finite_item),
)
register_kind("lrgym.tasks.quadratic", "QuadraticTask", lambda task: _kind("quadratic", "lrgym.tasks.quadratic", "run_quadratic", _quadratic_item))
register_kind("lrgym.tasks.mlp", "MLPTask", lambda task: _kind("mlp", "lrgym.tasks.mlp", "run_mlp", _mlp_item))
register_kind("lrgym.tasks.recsys", "RecsysTask", lambda task: _kind("recsys", "lrgym.tasks.recsys", "run_recsys", _recsys_item))


def kind_of(task) -> Kind:
    """The batched kernel kind of a built task (:data:`FALLBACK` when there is none).

    Only the exact registered classes match: a subclass may override ``run``.
    """
    cls = type(task)
    for module, name, chooser in _CHOOSERS:
        if cls.__name__ == name and cls.__module__ == module:
            return chooser(task)
    return FALLBACK
