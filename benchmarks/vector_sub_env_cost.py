"""What one sub-env of lrgym's vector env costs: when the vector env is made, and at its first
reset (its own built instance); the cost behind the sub-env bound
(``lrgym.settings.MAX_NUM_ENVS`` = 65,536).

    python -m benchmarks.vector_sub_env_cost [--id LRControl-v1] [--made 1024,16384] [--reset 64]

* **made**: ``gym.make_vec(id, n, vectorization_mode="vector_entry_point")`` for each ``n`` of
  ``--made`` against ``n`` = 1 in the same process: CPU seconds (``time.process_time``) and memory
  (the resident set, ``VmRSS``, and what Python's allocators hold, ``tracemalloc``, in a second
  pass, since tracing slows the allocations the first pass times) per sub-env beyond the first;
* **first reset** (measured first, on the process's memory before the large makes): a vector env
  of ``--reset`` sub-envs reset with seed 0 (sub-env i builds train instance draw ``i``), with the
  process-wide cache of built instances (``lrgym.tasks.cache.shared_cache``) emptied first:
  per sub-env, what Python's allocators hold after the reset more than before (``tracemalloc``,
  which NumPy's arrays report to) and the resident set's growth; the reference, counted apart:
  the built instances' arrays as the cache counts them (``TaskCache.nbytes``, the sum of each
  task's arrays' ``nbytes``), per sub-env. Every kernel the id can need is loaded first
  (``lrgym.vector.warm.warm_kernels``), so no side counts machine code.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import gc
import time
import tracemalloc


def _rss() -> int:
    """This process's resident set, bytes (Linux ``/proc/self/status``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _make(env_id: str, n: int):
    import gymnasium as gym

    return gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point")


def _made_cost(env_id: str, n: int) -> tuple[float, int, int]:
    """(CPU s, resident bytes, traced bytes) of making a vector env of ``n`` sub-envs."""
    gc.collect()
    rss0, c0 = _rss(), time.process_time()
    envs = _make(env_id, n)
    cpu, rss = time.process_time() - c0, _rss() - rss0
    envs.close()
    del envs
    gc.collect()
    tracemalloc.start()
    envs = _make(env_id, n)
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    envs.close()
    return cpu, rss, traced


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--id", default="LRControl-v1")
    p.add_argument("--made", default="1024,16384", help="sub-env counts made, comma-separated")
    p.add_argument("--reset", type=int, default=64, help="sub-envs (and single envs) reset once")
    args = p.parse_args(argv)
    counts = [int(x) for x in args.made.split(",")]

    import gymnasium as gym

    import lrgym  # noqa: F401
    from lrgym.vector.warm import warm_kernels

    from lrgym.tasks.cache import shared_cache

    load = os.getloadavg()[0]
    kwargs = dict(gym.spec(args.id).kwargs)
    warm_kernels(**kwargs)
    print(f"{args.id}; load average {load:.1f} at the start")

    n = args.reset
    envs = _make(args.id, n)
    shared_cache().clear()
    gc.collect()
    rss0 = _rss()
    tracemalloc.start()
    envs.reset(seed=0)
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    rss = _rss() - rss0
    arrays = shared_cache().nbytes
    envs.close()
    print(f"first reset of {n} sub-envs (train draws 0 – {n - 1}), per sub-env, MB: traced "
          f"{traced / n / 2**20:.2f}, resident {rss / n / 2**20:.2f}; the built instances' arrays "
          f"(reference) {arrays / n / 2**20:.2f}")

    _made_cost(args.id, 1)  # the first make imports and sets up what every later one shares
    one = _made_cost(args.id, 1)
    print("| sub-envs made | CPU s | per extra sub-env: CPU ms | resident KB | traced KB |")
    print("|---:|---:|---:|---:|---:|")
    for n in counts:
        cpu, rss, traced = _made_cost(args.id, n)
        extra = n - 1
        print(f"| {n:,} | {cpu:.3f} | {1e3 * (cpu - one[0]) / extra:.3f} | "
              f"{(rss - one[1]) / extra / 1024:.2f} | {(traced - one[2]) / extra / 1024:.2f} |")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
