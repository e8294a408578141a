"""pytest-benchmark rows of :mod:`benchmarks.scheduler_overhead`: one PyTorch update alone, with
``StepLR.step()`` and with ``PolicyScheduler.step(loss)``, per model size (one group per size:
compare the rows' means within a group). Run with

    pytest benchmarks/test_scheduler_overhead.py --benchmark-enable
"""

import warnings

import pytest

from benchmarks import scheduler_overhead as so


@pytest.mark.parametrize("loop", ["update", "steplr", "sched"])
@pytest.mark.parametrize("size", list(so.SIZES))
def test_scheduler_update(benchmark, size, loop):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    one = so.mlp_loops(so.SIZES[size])[loop]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(20):  # warm-up: compilation, allocator
            one()
        benchmark.group = f"update of an MLP of {size} parameters"
        benchmark(one)
