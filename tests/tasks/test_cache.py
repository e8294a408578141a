"""The process-wide cache of built instances (lrgym/tasks/cache.py).

A cached task must give the same episodes, to the bit, as a fresh build; the cache must stay
within its byte and item bounds, evicting the least recently used task; and a build must not
depend on how many threads the BLAS library runs.
"""

from __future__ import annotations

import numpy as np
import pytest

from lrgym.env import LRControlEnv
from lrgym.tasks import make_family
from lrgym.tasks.cache import TaskCache, build_task, cached_task, set_cache_limit, shared_cache, task_nbytes

FAMILIES = [("linreg", {}), ("quadratic", {}), ("mlp", {}), ("recsys", {}), ("mlp", {"dataset": "digits"})]


def trajectory(env: LRControlEnv, instance: int, seed: int) -> list[bytes]:
    obs, info = env.reset(seed=seed, options={"instance": instance})
    out = [obs.tobytes(), np.float64(info["train_loss"]).tobytes()]
    for a in (4, 3, 0, 2, 1, 4, 2, 2):
        obs, reward, terminated, truncated, info = env.step(a)
        out += [obs.tobytes(), np.float64(reward).tobytes(), np.float64(info["val_metric"]).tobytes(), terminated]
        if terminated or truncated:
            break
    return out


@pytest.fixture
def fresh_cache():
    cache = shared_cache()
    limits = cache.max_bytes, cache.max_items
    cache.clear()
    yield cache
    cache.set_limit(*limits)
    cache.clear()


@pytest.mark.parametrize("family, options", FAMILIES, ids=lambda x: str(x))
def test_cached_task_runs_the_same_episodes_as_a_fresh_build(family, options, fresh_cache):
    kwargs = dict(family=family, family_options=options, horizon=8, inner_steps=3)
    set_cache_limit(0)  # no caching: every reset builds
    uncached_env = LRControlEnv(**kwargs)
    fresh = trajectory(uncached_env, 5, seed=11)
    assert len(fresh_cache) == 0 and fresh_cache.misses >= 1
    set_cache_limit(2**30)
    env = LRControlEnv(**kwargs)
    first = trajectory(env, 5, seed=11)  # builds and keeps the task
    trajectory(env, 5, seed=12)  # other episodes on the kept task
    trajectory(LRControlEnv(**{**kwargs, "optimizer": "adam"}), 5, seed=13)
    hits = fresh_cache.hits
    again = trajectory(LRControlEnv(**kwargs), 5, seed=11)  # a new env, served from the cache
    assert fresh_cache.hits > hits
    assert fresh == first == again


def test_cache_is_keyed_by_the_spec_so_family_options_never_share_a_task(fresh_cache):
    a = LRControlEnv(family="linreg", family_options={"dim": 8}).task_for(3)
    b = LRControlEnv(family="linreg", family_options={"dim": 9}).task_for(3)
    assert a.dim == 8 and b.dim == 9
    assert LRControlEnv(family="linreg", family_options={"dim": 8}).task_for(3) is a


def test_byte_bound_evicts_least_recently_used():
    family = make_family("quadratic", dim=16)  # 16 × 16 float64 H: ≥ 2 KiB per task
    tasks = {k: build_task(family, family.sample(k)) for k in range(4)}
    size = task_nbytes(tasks[0])
    assert size >= 16 * 16 * 8 and all(task_nbytes(t) == size for t in tasks.values())
    cache = TaskCache(max_bytes=3 * size)
    for k in range(3):
        cache.get_or_build(k, lambda k=k: tasks[k])
    cache.get_or_build(0, lambda: pytest.fail("0 is cached"))  # 0 is now the most recent
    cache.get_or_build(3, lambda: tasks[3])  # evicts 1, the least recently used
    assert 1 not in cache and all(k in cache for k in (0, 2, 3))
    assert cache.nbytes == 3 * size <= cache.max_bytes and (cache.hits, cache.misses) == (1, 4)
    cache.set_limit(size)  # shrinking evicts down to the new bound
    assert len(cache) == 1 and 3 in cache and cache.nbytes == size
    small = TaskCache(max_bytes=size - 1)  # a task larger than the budget is used, not kept
    assert small.get_or_build(0, lambda: tasks[0]) is tasks[0] and len(small) == 0 and small.nbytes == 0
    counted = TaskCache(max_bytes=10 * size, max_items=2)
    for k in range(4):
        counted.get_or_build(k, lambda k=k: tasks[k])
    assert len(counted) == 2 and 2 in counted and 3 in counted


def test_task_nbytes_counts_each_array_once():
    task = build_task(make_family("linreg", dim=8, n_train=300, streaming=False), make_family("linreg").sample(1))
    arrays = [v for v in vars(task).values() if isinstance(v, np.ndarray)]
    bases = {id(a if a.base is None else a.base): (a if a.base is None else a.base).nbytes for a in arrays}
    assert task_nbytes(task) == sum(bases.values()) > 300 * 8 * 8


@pytest.mark.parametrize("family", ["linreg", "quadratic"])
def test_build_does_not_depend_on_the_blas_thread_count(family):
    """Two BLAS threads change the rounding of NumPy's products and QR for some instances;
    build_task runs BLAS on one thread, so it builds the canonical instance whatever the
    caller's BLAS setting."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    fam = make_family(family)
    specs = [fam.sample(k) for k in (3 * 37, 19 * 37, 35 * 37, 4 * 37, 11 * 37)]
    with threadpoolctl.threadpool_limits(1):
        canonical = [build_task(fam, s) for s in specs]
    with threadpoolctl.threadpool_limits(2):
        threaded = [build_task(fam, s) for s in specs]
    for a, b in zip(canonical, threaded):
        for key, value in vars(a).items():
            if isinstance(value, np.ndarray):
                assert value.tobytes() == getattr(b, key).tobytes(), (a.spec, key)


def test_bad_cache_settings_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="max_bytes=-1 invalid; valid: an integer >= 0"):
        TaskCache(max_bytes=-1)
    from lrgym.tasks import cache as cache_module

    monkeypatch.setenv("LRGYM_TASK_CACHE_MB", "lots")
    with pytest.raises(ValueError, match="LRGYM_TASK_CACHE_MB='lots' invalid; valid: a number of MiB >= 0"):
        cache_module._budget_from_environment()
    monkeypatch.setenv("LRGYM_TASK_CACHE_MB", "1.5")
    assert cache_module._budget_from_environment() == int(1.5 * 2**20)


def test_cached_task_is_the_family_build(fresh_cache):
    family = make_family("recsys")
    task = cached_task(family, 9)
    assert task.spec == family.sample(9) and cached_task(family, 9) is task


def test_cache_is_thread_safe_and_keeps_one_copy_of_a_key_built_twice():
    """Four threads look up and build 40 keys at once (builds outside the lock, slowed so they
    overlap): the counts add up, the bytes held are those of the tasks kept, and every lookup of a
    key after the first returns the one kept task."""
    import threading
    import time

    cache = TaskCache(max_bytes=2**30)
    family = make_family("quadratic")
    tasks = {k: build_task(family, family.sample(k)) for k in range(40)}
    results = {k: [] for k in tasks}
    lock = threading.Lock()

    def build_of(k):
        def build():
            time.sleep(0.001)
            return tasks[k]
        return build

    def worker(offset):
        for j in range(80):
            k = (j + offset) % 40
            task = cache.get_or_build(k, build_of(k))
            with lock:
                results[k].append(task)

    threads = [threading.Thread(target=worker, args=(10 * i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.hits + cache.misses == 4 * 80
    assert len(cache) == 40 and cache.nbytes == sum(task_nbytes(t) for t in tasks.values())
    for k, seen in results.items():
        assert all(t is tasks[k] for t in seen)
