"""pytest-benchmark suite: one env step (or one vector step of 64 env steps) per family and
implementation. Run with

    pytest benchmarks --benchmark-enable            # or: make bench

``extra_info["env_steps"]`` is the number of env steps per timed call (64 for vector rows), so
env steps/s = env_steps / mean time. ``python -m benchmarks.report`` prints the same comparison
as one table with ratios.
"""

import contextlib

import pytest

from benchmarks import harness as h  # sets the BLAS thread variables before NumPy loads

import numpy as np  # noqa: E402

IMPLEMENTATIONS = {
    "single": (h.single, {}),
    "kernel": (h.kernel, {}),  # the kernel alone (benchmarks/step_overhead.py: a step's Python part)
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
    h.warm_up(env_id, mode)  # every kernel kind loaded (a one-time cost per process)
    h.id_rollouts(env_id, n, mode, first_seed=900_000)()  # warm-up on other seeds
    benchmark.group = f"{env_id} × {n}"
    benchmark.extra_info["env_steps"] = n * h.ROLLOUT_STEPS
    benchmark.pedantic(run, rounds=ID_ROUNDS[n], iterations=1)


# ---- cheap resets (#13): before / after in the same run (benchmarks/resets.py) ----------------

BUILD_SEEDS = [int(s) for s in np.linspace(1, 9_999, 12)]
#: the build paths of benchmarks/resets.py: before #13, main at 0e4fa09 (first #13 round), today
RESET_PATHS = ["before", "main", "after"]


def _build_path(path):
    from benchmarks import resets

    return {"before": resets.old_build_path, "main": resets.main_build_path, "after": contextlib.nullcontext}[path]


@pytest.mark.parametrize("path", RESET_PATHS)
@pytest.mark.parametrize("family", ["linreg", "quadratic", "mlp", "recsys"])
def test_build(benchmark, family, path):
    """One call = building 12 train instances of the family (spread over the train set);
    ``before``: the build path before the cheap-resets change (``resets.old_build_path``);
    ``main``: main at 0e4fa09 (``resets.main_build_path``)."""
    from benchmarks import resets
    from lrgym.tasks import make_family
    from lrgym.tasks.cache import build_task

    fam = make_family(family)
    specs = [fam.sample(s) for s in BUILD_SEEDS]
    for s in resets.WARM_UP_INSTANCES:
        build_task(fam, fam.sample(s))
    ctx = _build_path(path)

    def build_all():
        with ctx():
            for spec in specs:
                build_task(fam, spec)

    benchmark.group = f"build {family}"
    benchmark.extra_info["instances"] = len(specs)
    benchmark.pedantic(build_all, rounds=3, iterations=1)


@pytest.mark.parametrize("path", RESET_PATHS)
@pytest.mark.parametrize("n_envs", [0, 16])
def test_lrcontrol_new_instance_every_episode(benchmark, n_envs, path):
    """``LRControl-v1`` (single env for n_envs 0, else ``gym.make_vec(..., 16)``), random actions,
    a new instance at every reset, 1,600 env steps per round on new seeds each round."""
    from benchmarks import resets
    from lrgym.tasks.cache import shared_cache

    resets.warm_up()
    seeds = iter(range(5000, 10**6, 1000))
    ctx = _build_path(path)

    def run():
        shared_cache().clear()
        with ctx():
            resets.rollout(n_envs, 1600, next(seeds))

    benchmark.group = f"LRControl-v1 new instances, {'single' if n_envs == 0 else f'vector {n_envs}'}"
    benchmark.extra_info["env_steps"] = 1600
    benchmark.pedantic(run, rounds=3, iterations=1)


@pytest.mark.parametrize("build_ahead", [0, 16])
def test_lrcontrol_long_run_build_ahead(benchmark, build_ahead):
    """``LRControl-v1``, one ``gym.make`` env, random actions, a new instance every episode, in a
    long run (wall clock, the pytest-benchmark timer): 4,000 steps per round after the env's
    first 2,000, with and without ``build_ahead`` (the builder uses the second core; the ratio
    of the two rows is its gain; ``python -m benchmarks.resets --steady-only`` has the full table)."""
    import gymnasium as gym

    from benchmarks import resets

    resets.warm_up()
    actions = np.random.default_rng(7)
    env = gym.make(resets.ENV_ID, build_ahead=build_ahead)
    env.reset(seed=60_000)
    resets._random_actions(env, actions, 0, 2000)

    benchmark.group = "LRControl-v1 long run, single env, build_ahead"
    benchmark.extra_info["env_steps"] = 4000
    benchmark.pedantic(lambda: resets._random_actions(env, actions, 0, 4000), rounds=3, iterations=1)
    env.close()


@pytest.mark.parametrize("impl", ["lrgym", "hand"])
def test_recsys_update_path(benchmark, impl):
    """The recommender's env step (10 SGD updates + evaluation): lrgym's kernel vs the
    hand-written kernel of the same math and statistics (``benchmarks/hand_recsys.py``; ratio there)."""
    from benchmarks.hand_recsys import HandRecsys
    from benchmarks.reference_recsys import reference_task
    from lrgym.optim import OptimizerConfig
    from lrgym.tasks.base import N_STATS

    task = reference_task()
    state = task.new_state(np.random.default_rng(0))
    if impl == "hand":
        hand = HandRecsys(task, state.params, state.rng)
        step = lambda: hand.env_step(0.1)  # noqa: E731
    else:
        stats, cfg = np.zeros(N_STATS), OptimizerConfig("sgd")
        step = lambda: task.run(state, 0.1, h.INNER_STEPS, cfg.code, cfg.hyper(), 1e300, stats)  # noqa: E731
    step()
    benchmark.group = "recsys update path"
    benchmark(step)
