"""The update that makes a parameter non-finite is the last one a kernel runs.

Each kernel checks the loss *and* the parameters after every update (the divergence rule:
a non-finite loss or parameter, or a loss above the cap), so a step that overflows the
parameters stops there: ``S_UPDATES`` (the info's ``updates``) counts that update and no
further one, which would run on non-finite parameters. Here an SGD step at LR 1e308 overflows
parameters whose loss was finite and far below the cap.
"""

from __future__ import annotations

import numpy as np
import pytest

from lrgym.optim import OptimizerConfig
from lrgym.tasks import make_family
from lrgym.tasks.base import N_STATS, S_DIVERGED, S_UPDATES

CASES = {
    "quadratic": dict(dim=8, condition=10.0, scale=100.0, noise=0.0),
    "linreg": dict(dim=8, scale=100.0, streaming=False, dataset="synthetic", n_train=512),
    "linreg-stream": dict(dim=8, scale=100.0, streaming=True, dataset="synthetic"),
    "mlp": dict(dataset="teacher", input_dim=8, n_classes=3, hidden=16, depth=1, n_train=512, batch_size=32),
}


@pytest.mark.parametrize("case", CASES)
def test_an_update_that_overflows_the_parameters_ends_the_step(case):
    family = make_family(case.split("-")[0], **CASES[case])
    task = family.build(family.sample(1))
    state = task.new_state(np.random.default_rng(0))
    sgd = OptimizerConfig("sgd")
    stats = np.zeros(N_STATS)
    task.run(state, 1e308, 5, sgd.code, sgd.hyper(), 1e300, stats)
    assert not np.all(np.isfinite(state.params))  # the first update overflowed (the setup works)
    assert stats[S_DIVERGED] == 1.0
    assert stats[S_UPDATES] == 1
