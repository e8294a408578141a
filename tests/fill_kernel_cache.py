"""Fill Numba's disk cache with the kernels the test suite's envs use, in one process, before
``make test`` starts pytest's workers.

On a fresh clone the cache is empty (every entry also carries a hash of lrgym's source:
:mod:`lrgym.kernel_cache`), and the suite's first tests start many processes at once — two
pytest-xdist workers, a two-node Ray cluster's grader actors and RLlib's env runners, sandboxed
jobs — each of which compiled the same kernels on the same two cores until one of them had
written it (the Ray module's PPO test took 193 s on a fresh clone of an AVX2 VM, 35 s with a
warm cache). Run once here, every later process loads them. What it runs: the vector env on an
instance of each kind of ``LRControl-v1`` (:func:`lrgym.vector.warm.warm_kernels`: family,
streaming, data set, depth, activation) and a single env on the same instances, a few steps
each. Results do not depend on it (a loaded kernel is the compiled one); tests that check
compiling itself use a cache of their own (``NUMBA_CACHE_DIR``).

    python tests/fill_kernel_cache.py      # (make test runs it first)
"""

from __future__ import annotations

import time


def main() -> None:
    started = time.perf_counter()
    import gymnasium as gym

    import lrgym  # noqa: F401  (registers the ids)
    from lrgym.vector.warm import warm_kernels

    picks = warm_kernels(**gym.spec("LRControl-v1").kwargs)
    env = gym.make("LRControl-v1")
    for k in picks:
        env.reset(seed=0, options={"instance": k})
        for _ in range(3):
            env.step(env.action_space.sample())
    env.close()
    print(f"Numba's cache holds the kernels of {len(picks)} instance kinds ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
