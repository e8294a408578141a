"""lrgym.tasks.base.data_rng: the one seed of an instance's synthetic data (it was spelled out in
linreg, mlp and recsys); the same generator as before, so every instance keeps its bits."""

from __future__ import annotations

import numpy as np
import pytest

from lrgym.tasks import make_family
from lrgym.tasks.base import TaskFamily, data_rng


@pytest.mark.parametrize("instance", [0, 7, 10_003, 2**31 + 5])
def test_data_rng_is_the_generator_the_families_used(instance):
    spec = make_family("linreg").sample(instance)
    ours, theirs = data_rng(spec), np.random.default_rng([instance, 7])
    assert ours.bit_generator.state == theirs.bit_generator.state
    assert ours.standard_normal(5).tobytes() == theirs.standard_normal(5).tobytes()


@pytest.mark.parametrize("name", ["linreg", "quadratic", "mlp", "recsys", "mixed"])
def test_families_run_the_base_defaults(name):
    family = make_family(name)
    assert (family.default_horizon, family.default_inner_steps) == (TaskFamily.default_horizon,
                                                                    TaskFamily.default_inner_steps) == (50, 10)
