"""Batched training: one compiled call runs the inner training of many environments.

The vector environment (:mod:`lrgym.vector`) groups its sub-environments by the compiled kernel
their task runs (a *kind*, :attr:`KernelTask.kernel_name <lrgym.tasks.base.KernelTask>`: linear
regression on a finite data set, streaming linear regression, noisy quadratic, MLP, ...). A group
keeps a ``numba.typed.List`` with one item per environment — the family's own
:meth:`~lrgym.tasks.base.KernelTask.kernel_item`, the arguments of its ``run_*`` kernel that
belong to the environment (its :class:`~lrgym.tasks.base.TrainState` arrays and its task's
data), the same tuples :meth:`KernelTask.run` passes — and :func:`run_serial` /
:func:`run_parallel` loop over the list and call the kernel for each.

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
passes. A task that is not a :class:`~lrgym.tasks.base.KernelTask` (or overrides its ``run``)
still works in the vector env, through a Python loop over :meth:`Task.run` (:data:`FALLBACK`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numba
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic
from numba.typed.listobject import _container_get_data, ll_list_type, ll_voidptr_type



@dataclass(frozen=True)
class Kind:
    """A compiled kernel kind: the ``run_*`` kernel and how to pack one environment's arguments."""

    name: str
    #: the family's Numba ``run_*`` dispatcher (``None`` for :data:`FALLBACK`)
    kernel: Callable | None
    #: (task, state) -> (head, tail): the kernel's per-environment arguments before ``lr`` and
    #: between ``hyper`` and ``loss_cap``
    item: Callable | None
    #: run BLAS on one thread around the batched call (the kernel calls ``np.dot``, like the
    #: single env's :meth:`KernelTask.run <lrgym.tasks.base.KernelTask.run>`)
    single_thread_blas: bool = False


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
    return compiled_address(kernel, tuple(numba.typeof(a) for a in args))


def compiled_address(dispatcher, sig: tuple) -> int:
    """Address of ``dispatcher``'s native code for the Numba argument types ``sig`` (compiled,
    or loaded from Numba's cache, if needed)."""
    dispatcher.compile(sig)
    cres = dispatcher.overloads[sig]
    return cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)


def _emit_kernel_call(context, builder, addr, head, tail, head_vals, tail_vals, lr, n_updates, opt, hyper,
                      loss_cap, stats, argtys_mid):
    """Emit the call of the native kernel at ``addr`` with ``(*head, lr, n_updates, opt, hyper, *tail,
    loss_cap, stats)`` (LLVM values; ``head`` / ``tail`` their Numba types)."""
    lr_t, n_t, opt_t, hyper_t, cap_t, stats_t = argtys_mid
    argtys = list(head) + [lr_t, n_t, opt_t, hyper_t] + list(tail) + [cap_t, stats_t]
    llargs = list(head_vals) + [lr, n_updates, opt, hyper] + list(tail_vals) + [loss_cap, stats]
    fnty = context.call_conv.get_function_type(types.none, argtys)
    fnptr = builder.inttoptr(addr, fnty.as_pointer())
    # The kernels never raise (divergence is reported in ``stats``); the status is dropped.
    context.call_conv.call_function(builder, fnptr, types.none, argtys, llargs)


def _emit_item_call(context, builder, item_t, item, addr, lr, n_updates, opt, hyper, loss_cap, stats, argtys_mid):
    """:func:`_emit_kernel_call` for the LLVM value ``item`` of the Numba type ``item_t`` = (head, tail)."""
    head_t, tail_t = item_t.types
    head, tail = list(head_t.types), list(tail_t.types)
    a_head = builder.extract_value(item, 0)
    a_tail = builder.extract_value(item, 1)
    _emit_kernel_call(
        context, builder, addr, head, tail,
        [builder.extract_value(a_head, i) for i in range(len(head))],
        [builder.extract_value(a_tail, i) for i in range(len(tail))],
        lr, n_updates, opt, hyper, loss_cap, stats, argtys_mid,
    )


def _check_tail(loss_cap, stats) -> None:
    """The kernel's last two arguments must be a float loss cap and a 1-D float64 statistics row:
    the native call checks nothing, so a wrong type here would write into the wrong memory."""
    if not isinstance(loss_cap, types.Float) or not (
            isinstance(stats, types.Array) and stats.ndim == 1 and stats.dtype == types.float64):
        raise TypingError(f"a kernel call takes a float loss cap and a 1-D float64 stats row; "
                          f"got loss_cap: {loss_cap}, stats: {stats}")


@intrinsic
def _call_kernel(typingctx, addr, item, lr, n_updates, opt, hyper, loss_cap, stats):
    """Call the native kernel at ``addr`` with ``(*head, lr, n_updates, opt, hyper, *tail,
    loss_cap, stats)`` for ``item = (head, tail)`` — an opaque call LLVM can neither inline nor
    re-optimise."""
    _check_tail(loss_cap, stats)
    sig = types.none(addr, item, lr, n_updates, opt, hyper, loss_cap, stats)

    def codegen(context, builder, signature, args):
        a_addr, a_item, a_lr, a_n, a_opt, a_hyper, a_cap, a_stats = args
        _emit_item_call(context, builder, item, a_item, a_addr, a_lr, a_n, a_opt, a_hyper, a_cap, a_stats,
                        (lr, n_updates, opt, hyper, loss_cap, stats))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _call_kernel_at(typingctx, addr, item_ptr, lr, n_updates, opt, hyper, loss_cap, stats):
    """:func:`_call_kernel` for the item stored at ``item_ptr`` (a ``CPointer`` to the item's data
    representation, as a typed list stores it), read without reference counting: whoever stored
    it keeps its arrays alive."""
    item_t = item_ptr.dtype
    _check_tail(loss_cap, stats)
    sig = types.none(addr, item_ptr, lr, n_updates, opt, hyper, loss_cap, stats)

    def codegen(context, builder, signature, args):
        a_addr, a_ptr, a_lr, a_n, a_opt, a_hyper, a_cap, a_stats = args
        item = context.data_model_manager[item_t].load_from_data_pointer(builder, a_ptr)
        _emit_item_call(context, builder, item_t, item, a_addr, a_lr, a_n, a_opt, a_hyper, a_cap, a_stats,
                        (lr, n_updates, opt, hyper, loss_cap, stats))
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(cache=True, nogil=True)
def bound_call(item_ptr, addr, lr, n_updates, opt, hyper, loss_cap, stats):
    """The kernel at ``addr`` on the item at ``item_ptr`` (a ``CPointer`` of the item type).

    Compiled once per item type (:class:`BoundKernel`), and called only through its address
    (:func:`call_bound`): its own signature is the same for every family — (pointer, address,
    lr, n_updates, opt, hyper, loss_cap, stats) — so one compiled step (the env's
    ``train_and_observe``) calls any family's kernel with arguments that Python passes as plain
    integers, floats and arrays."""
    _call_kernel_at(addr, item_ptr, lr, n_updates, opt, hyper, loss_cap, stats)


@intrinsic
def call_bound(typingctx, call_addr, item_addr, addr, lr, n_updates, opt, hyper, loss_cap, stats):
    """Call :func:`bound_call`'s specialisation at ``call_addr`` on the item at address ``item_addr``
    with the kernel at ``addr`` (see :class:`BoundKernel`). The item's pointer is passed as an
    opaque pointer: every ``CPointer`` is one machine pointer."""
    sig = types.none(call_addr, item_addr, addr, lr, n_updates, opt, hyper, loss_cap, stats)

    def codegen(context, builder, signature, args):
        a_call, a_item, a_addr, a_lr, a_n, a_opt, a_hyper, a_cap, a_stats = args
        argtys = [types.voidptr, addr, lr, n_updates, opt, hyper, loss_cap, stats]
        llargs = [builder.inttoptr(a_item, context.get_value_type(types.voidptr)), a_addr, a_lr, a_n, a_opt,
                  a_hyper, a_cap, a_stats]
        fnty = context.call_conv.get_function_type(types.none, argtys)
        fnptr = builder.inttoptr(a_call, fnty.as_pointer())
        context.call_conv.call_function(builder, fnptr, types.none, argtys, llargs)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _list_data_address(typingctx, items):
    """The address of a typed list's item storage (item 0; items follow at the item size)."""
    sig = types.intp(items)

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ll_voidptr_type, [ll_list_type])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_list_base_ptr")
        base = builder.call(fn, [_container_get_data(context, builder, items, args[0])])
        return builder.ptrtoint(base, context.get_value_type(types.intp))

    return sig, codegen


@numba.njit(cache=True, nogil=True)
def item_address(items):
    """Address of ``items[0]``'s storage in a one-item typed list (valid while the list lives and
    does not grow: :func:`set_item` replaces the item in place)."""
    return _list_data_address(items)


@numba.njit(cache=True, nogil=True)
def run_serial(items, addr, env_idx, active, lrs, n_updates, opt, hyper, caps, stats):
    """Run the kernel at ``addr`` for every item whose environment ``env_idx[g]`` is active
    (``lrs[e]``, ``caps[e]``, ``stats[e]``: environment ``e``'s LR, loss cap and statistics row)."""
    for g in range(len(items)):
        e = env_idx[g]
        if active[e]:
            _call_kernel(addr, items[g], lrs[e], n_updates, opt, hyper, caps[e], stats[e])


@numba.njit(cache=True, nogil=True, parallel=True)
def run_parallel(items, addr, env_idx, active, lrs, n_updates, opt, hyper, caps, stats):
    """:func:`run_serial` with the environments spread over Numba's threads (``prange``).

    Call it with ``numba.set_parallel_chunksize(1)`` in force (the vector env does): environments
    are then handed out one at a time, so a thread that the OS preempts does not hold back a
    fixed share of the work.
    """
    for k in prange(len(items)):
        g = np.int64(k)
        e = env_idx[g]
        if active[e]:
            _call_kernel(addr, items[g], lrs[e], n_updates, opt, hyper, caps[e], stats[e])


def item_layout(item: tuple) -> tuple:
    """What decides an item's Numba type, cheaply (``numba.typeof`` of a nested tuple of 20 arrays
    costs milliseconds): per element its Python type, and for arrays dtype, ndim, layout, flags."""
    out = []
    for part in item:
        for x in part:
            if isinstance(x, np.ndarray):
                f = x.flags
                out.append((x.dtype.str, x.ndim, f.c_contiguous, f.f_contiguous, f.writeable, f.aligned))
            else:
                out.append(type(x))
    return tuple(out)


class BoundKernel:
    """One environment's kernel call with its arguments bound once per episode (the single env).

    Numba unboxes every argument of every call from Python (≈ 0.1 µs per array in a tuple, ≈ 1 µs
    for a typed list; a kernel has 20 – 36 arguments): the single env's step paid that for
    arguments that change only at a reset. A bound kernel stores the item once per episode in a
    one-element typed list (which owns references to its arrays) and keeps three integers:

    * :attr:`addr`, the kernel's compiled specialisation (:func:`kernel_address`), the identical
      machine code :meth:`KernelTask.run <lrgym.tasks.base.KernelTask.run>` reaches and
      :func:`run_serial` calls for the vector env;
    * :attr:`item_addr`, where the typed list stores the item (:func:`item_address`);
    * :attr:`call_addr`, :func:`bound_call` compiled for the item's type: it reads the item at
      ``item_addr`` and calls the kernel with it.

    A compiled step then runs any family's kernel with :func:`call_bound` from arguments that
    Python passes as plain integers, floats and arrays — the cheapest for Numba to unbox.
    """

    #: (kernel address, bound_call address) per (kind, item layout, types of the per-step arguments)
    _addresses: dict = {}

    def __init__(self):
        self.items = None
        self.addr = 0
        self.item_addr = 0
        self.call_addr = 0
        self._layout = None

    def bind(self, kind: Kind, item: tuple, lr: float, n_updates: int, opt: int, hyper, loss_cap: float,
             stats) -> None:
        """Bind ``item`` (``kind.item(task, state)``); the other arguments only type the kernel."""
        layout = (kind.name, item_layout(item), type(hyper), getattr(hyper, "dtype", None))
        if self.items is not None and layout == self._layout:
            set_item(self.items, 0, item)
        else:
            self.items = new_items(item)
        key = (kind.kernel, layout)
        addrs = self._addresses.get(key)
        if addrs is None:
            args = kernel_args(item, float(lr), int(n_updates), int(opt), hyper, float(loss_cap), stats)
            sig = (types.CPointer(numba.typeof(item)), types.intp, types.float64, types.int64, types.int64,
                   numba.typeof(hyper), types.float64, numba.typeof(stats))
            addrs = self._addresses[key] = (kernel_address(kind.kernel, args), compiled_address(bound_call, sig))
        self.addr, self.call_addr = addrs
        self.item_addr = item_address(self.items)
        self._layout = layout


# ---- the typed lists, built and edited by cached compiled helpers -----------------------------
# (numba.typed.List's own Python methods compile for every new item type in every process; these
# helpers are compiled once per item type and cached on disk)


@numba.njit(cache=True, nogil=True)
def new_items(item):
    """A typed list holding ``item``."""
    items = numba.typed.List()
    items.append(item)
    return items


@numba.njit(cache=True, nogil=True)
def append_item(items, item):
    items.append(item)


@numba.njit(cache=True, nogil=True)
def set_item(items, i, item):
    items[i] = item


@numba.njit(cache=True, nogil=True)
def remove_item(items, i):
    """Remove item i by moving the last item into its place (order is not kept)."""
    last = len(items) - 1
    if i != last:
        items[i] = items[last]
    items.pop()


# ---- kinds ------------------------------------------------------------------------------------


_KINDS: dict[tuple[str, Callable], Kind] = {}


def _task_item(task, state) -> tuple:
    return task.kernel_item(state)


def check_item(kind: Kind, item: tuple) -> bool:
    """Does ``item`` fill the kernel's signature? (A sanity check of a family's
    :meth:`~lrgym.tasks.base.KernelTask.kernel_item` against its kernel's parameter count.)"""
    import inspect

    head, tail = item
    n_params = len(inspect.signature(kind.kernel.py_func).parameters)
    return n_params == len(head) + len(tail) + 6


def kind_of(task) -> Kind:
    """The batched kernel kind of a built task (:data:`FALLBACK` when there is none).

    A :class:`~lrgym.tasks.base.KernelTask` whose class keeps :meth:`KernelTask.run` is called
    through its kernel with its own :meth:`~lrgym.tasks.base.KernelTask.kernel_item` — the one
    argument list of the family; any other task (or a subclass that overrides ``run``) runs
    through a Python loop over ``task.run``.
    """
    from lrgym.tasks.base import KernelTask

    if not isinstance(task, KernelTask) or type(task).run is not KernelTask.run:
        return FALLBACK
    kernel = task.kernel
    key = (task.kernel_name, kernel)
    kind = _KINDS.get(key)
    if kind is None:
        kind = _KINDS[key] = Kind(task.kernel_name, kernel, _task_item, bool(task.single_thread_blas))
    return kind
