"""pytest-benchmark suite: one env step (or one vector step of 64 env steps) per family and
implementation. Run with

    pytest benchmarks --benchmark-enable            # or: make bench

``extra_info["env_steps"]`` is the number of env steps per timed call (64 for vector rows), so
env steps/s = env_steps / mean time. ``python -m benchmarks.report`` prints the same comparison
as one table with ratios.
"""

import pytest

from benchmarks import harness as h

IMPLEMENTATIONS = {
    "single": (h.single, {}),
    "vector64": (h.vector, {}),
    "vector64_prange": (h.vector, {"parallel": True}),
    "numpy": (h.numpy_ref, {}),
    "torch": (h.torch_ref, {}),
}


@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("family", list(h.FAMILIES))
def test_env_step(benchmark, family, impl):
    if impl == "torch":
        pytest.importorskip("torch")
    runner, kwargs = IMPLEMENTATIONS[impl]
    step = runner(h.FAMILIES[family], **kwargs)
    h.rate(step, seconds=0.05, blocks=1)  # warm up (compilation, caches)
    benchmark.group = family
    benchmark.extra_info["env_steps"] = step()
    benchmark.extra_info["inner_steps"] = h.INNER_STEPS
    benchmark(step)
