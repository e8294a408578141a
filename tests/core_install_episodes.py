"""Run episodes of ``LRControl-v1`` on train instances and print what ran, as JSON.

Run by ``tests/test_core_install.py`` inside a fresh virtual environment that has exactly the
core install (``pip install .``, no extras): any instance needing a package outside the core
dependencies raises here. Usage::

    python core_install_episodes.py EPISODES

Episodes are short (horizon 3, 2 inner updates: what is tested is that every instance builds and
steps, not training). Instances are drawn uniformly from the whole train set by the env itself,
and every 10th episode is pinned to one of the train set's data-set instances (diabetes, digits,
breast cancer; 3.9 % of the set), found by scanning every train spec.

The JSON also says how many kernels this process compiled (``compiled``: Numba cache misses of
lrgym's kernels; the rest it loaded from the install's Numba cache). :func:`warm` is what the
test runs in its own process first, with the suite's lrgym: it fills the suite's cache with
every kernel these episodes can need, which the test copies into the fresh install.
"""

from __future__ import annotations

import json
import sys
import time

import gymnasium as gym
import numpy as np


#: the episodes' settings (short: every instance builds and steps; no training is tested)
SETTINGS = {"horizon": 3, "inner_steps": 2}


def compiled_kernels() -> list[str]:
    """The kernels of lrgym this process compiled (Numba's cache misses of its dispatchers), by name."""
    from numba.core.dispatcher import Dispatcher

    return sorted({f"{name}.{attr}" for name, module in list(sys.modules.items())
                   if name.split(".")[0] == "lrgym" and module is not None
                   for attr, f in vars(module).items() if isinstance(f, Dispatcher) and f.stats.cache_misses})


def warm() -> list[int]:
    """Compile (or load) every kernel :func:`main`'s episodes can need, in this process's lrgym's
    cache: two episodes on an instance of each kind of the train set (family, data set, depth,
    ...: :func:`lrgym.vector.warm.kind_instances`, the picks of the vector env's warm-up; the
    second rebinds the env's typed list in place, ``lrgym.tasks.batched.set_item``) under the
    warm-up's lock (:func:`lrgym.vector.warm.one_warm_up_at_a_time`: a warm-up of another test
    process waits, then loads); returns the instances."""
    from lrgym.vector.warm import kind_instances, one_warm_up_at_a_time

    env = gym.make("LRControl-v1", **SETTINGS)
    try:
        with one_warm_up_at_a_time():
            picks = kind_instances(env.unwrapped.family, env.unwrapped.instances)
            env.action_space.seed(0)
            env.reset(seed=0)
            for k in [k for k in picks for _ in range(2)]:
                env.reset(options={"instance": int(k)})
                done = False
                while not done:
                    _, _, terminated, truncated, _ = env.step(env.action_space.sample())
                    done = terminated or truncated
    finally:
        env.close()
    return picks


def main(episodes: int) -> dict:
    import lrgym  # noqa: F401  (registers the ids)
    from lrgym.info import FAMILY_NAMES

    env = gym.make("LRControl-v1", **SETTINGS)
    family = env.unwrapped.family
    train = env.unwrapped.instances
    data_set_instances = [k for k in train if getattr(family.sample(k), "dataset", "synthetic") in ("diabetes", "digits", "breast_cancer")]
    pinned = np.random.default_rng(1).permutation(data_set_instances)
    counts: dict[str, int] = {}
    steps, start = 0, time.perf_counter()
    env.reset(seed=0)
    for e in range(episodes):
        options = {"instance": int(pinned[(e // 10) % len(pinned)])} if e % 10 == 9 else None
        obs, info = env.reset(options=options)
        spec = env.unwrapped.task.spec
        name = FAMILY_NAMES[info["family"]] + (f"/{spec.dataset}" if getattr(spec, "dataset", None) in ("diabetes", "digits", "breast_cancer") else "")
        counts[name] = counts.get(name, 0) + 1
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert np.isfinite(obs).all()
            steps += 1
            done = terminated or truncated
    return {
        "episodes": episodes,
        "steps": steps,
        "seconds": time.perf_counter() - start,
        "counts": counts,
        "data_set_instances_in_train": len(data_set_instances),
        "lrgym_file": lrgym.__file__,
        "compiled": compiled_kernels(),
        "numba": sys.modules["numba"].__version__,
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
