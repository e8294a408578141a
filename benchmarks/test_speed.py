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


ID_ROUNDS = {4: 4, 16: 2}


@pytest.mark.parametrize("mode", ["sync", "vector_entry_point"])
@pytest.mark.parametrize("n", list(ID_ROUNDS))
@pytest.mark.parametrize("env_id", list(h.DEFAULT_IDS))
def test_id_vector_vs_sync(benchmark, env_id, n, mode):
    """Each default id at its defaults (new instances at every reset), gymnasium's SyncVectorEnv
    (``mode="sync"``) vs lrgym's vector env on the same seeds: same episodes, same builds."""
    run = h.id_rollouts(env_id, n, mode)
    h.id_rollouts(env_id, n, mode, first_seed=900_000)()  # warm-up on other seeds
    benchmark.group = f"{env_id} × {n}"
    benchmark.extra_info["env_steps"] = n * h.ROLLOUT_STEPS
    benchmark.pedantic(run, rounds=ID_ROUNDS[n], iterations=1)
