"""Data-set instances built from the per-process copy of a bundled data set
(lrgym/tasks/datasets.py) are, to the bit, the instances built from a fresh read."""

import numpy as np
import pytest

from lrgym.env import LRControlEnv
from lrgym.tasks import datasets, mlp
from lrgym.tasks.cache import shared_cache

CASES = [("linreg", "diabetes"), ("mlp", "digits"), ("mlp", "breast_cancer")]


def arrays(task) -> dict:
    return {k: v for k, v in vars(task).items() if isinstance(v, np.ndarray)}


def episode(env: LRControlEnv, instance: int) -> list[bytes]:
    obs, info = env.reset(seed=3, options={"instance": instance})
    out = [obs.tobytes(), np.float64(info["train_loss"]).tobytes()]
    for a in (4, 3, 0, 2, 1, 4):
        obs, reward, terminated, truncated, info = env.step(a)
        out += [obs.tobytes(), np.float64(reward).tobytes(), np.float64(info["val_metric"]).tobytes(), terminated]
        if terminated or truncated:
            break
    return out


@pytest.mark.parametrize("family, dataset", CASES)
def test_kept_data_set_builds_the_same_instance_as_a_fresh_read(family, dataset):
    options = {"dataset": dataset}
    datasets.bundled.cache_clear()
    mlp.load_real.cache_clear()  # the MLP's standardised split, also kept per process
    shared_cache().clear()  # the built instances (lrgym.tasks.cache)
    fresh_env = LRControlEnv(family=family, family_options=options, horizon=6, inner_steps=3)
    fresh = fresh_env.task_for(7)  # built right after the data set was read
    assert datasets.bundled.cache_info().misses == 1
    mlp.load_real.cache_clear()
    shared_cache().clear()
    kept_env = LRControlEnv(family=family, family_options=options, horizon=6, inner_steps=3)
    kept = kept_env.task_for(7)  # built from the kept arrays
    assert datasets.bundled.cache_info().hits >= 1 and kept is not fresh
    a, b = arrays(fresh), arrays(kept)
    assert a.keys() == b.keys() and a
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes(), key
        assert not np.shares_memory(a[key], datasets.bundled(dataset)[0]), key  # own copies
    assert episode(fresh_env, 7) == episode(kept_env, 7)


def test_kept_arrays_are_read_only_and_unknown_names_are_refused():
    X, y = datasets.bundled("digits")
    assert not X.flags.writeable and not y.flags.writeable
    with pytest.raises(ValueError, match="unknown data set 'mnist'; valid choices: diabetes, digits, breast_cancer"):
        datasets.bundled("mnist")
