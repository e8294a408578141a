"""A hint to the CPU's memory system from compiled code: fetch a cache line before it is needed.

``prefetch(a, i)`` emits LLVM's ``llvm.prefetch`` for the address of ``a[i]`` (``prefetcht0``
on x86-64: into every cache level). It reads nothing and changes no value — a kernel computes
the same bits with or without it — and an address outside the array is harmless (a prefetch
never faults), so there is no bounds check.

Use it where a kernel knows, well ahead, which scattered elements of an array larger than the
caches it will load: the recommender's next minibatch of positives (:func:`lrgym.tasks.recsys.
draw_minibatch` draws them from a counter-based generator, so their indices are known one update
early). Loads that miss every cache cost ≈ 100 ns each and, when later stores depend on them,
stall the core; issued as prefetches one update earlier they arrive while other work runs.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def prefetch(typingctx, a, i):
    """Prefetch the cache line of ``a[i]`` (a 1-D array, an integer index) for reading."""
    if not (isinstance(a, types.Array) and a.ndim == 1 and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        array_t, index_t = sig.args
        ary = context.make_array(array_t)(context, builder, args[0])
        index = context.cast(builder, args[1], index_t, types.intp)
        ptr = cgutils.get_item_pointer(context, builder, array_t, ary, [index], wraparound=False)
        i32 = ir.IntType(32)
        voidptr = ir.PointerType(ir.IntType(8))
        fnty = ir.FunctionType(ir.VoidType(), [voidptr, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # (address, 0 = read, 3 = keep in all cache levels, 1 = data cache)
        builder.call(fn, [builder.bitcast(ptr, voidptr), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(a, i), codegen
