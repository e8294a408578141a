"""Run episodes of ``LRControl-v1`` on train instances and print what ran, as JSON.

Run by ``tests/test_core_install.py`` inside a fresh virtual environment that has exactly the
core install (``pip install .``, no extras): any instance needing a package outside the core
dependencies raises here. Usage::

    python core_install_episodes.py EPISODES

Episodes are short (horizon 3, 2 inner updates: what is tested is that every instance builds and
steps, not training). Instances are drawn uniformly from the whole train set by the env itself,
and every 10th episode is pinned to one of the train set's data-set instances (diabetes, digits,
breast cancer; 3.9 % of the set), found by scanning every train spec.
"""

from __future__ import annotations

import json
import sys
import time

import gymnasium as gym
import numpy as np


def main(episodes: int) -> dict:
    import lrgym  # noqa: F401  (registers the ids)
    from lrgym.info import FAMILY_NAMES

    env = gym.make("LRControl-v1", horizon=3, inner_steps=2)
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
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
