"""The batched drivers' native kernel calls: right arguments reach the kernel, wrong ones are
refused when the call is compiled (the native call itself checks nothing, so a 2-D array passed
as the loss caps once made the benchmark harness's kernel write its statistics into the env's
memory rows)."""

import numpy as np
import pytest
from numba.core.errors import TypingError

from benchmarks.harness import FAMILIES, INNER_STEPS, kernel
from lrgym.features import M_CAP
from lrgym.tasks.base import S_TRAIN_LOSS, S_UPDATES


def test_the_harness_kernel_writes_each_envs_statistics_and_leaves_the_memory_alone():
    step = kernel(FAMILIES["linreg"], n=4)
    memory_before = step.memory.copy()
    step()
    assert np.all(step.stats[:, S_UPDATES] == INNER_STEPS)
    assert np.all(np.isfinite(step.stats[:, S_TRAIN_LOSS])) and np.all(step.stats[:, S_TRAIN_LOSS] > 0)
    np.testing.assert_array_equal(step.memory, memory_before)
    assert np.all(step.memory[:, M_CAP] == 1e300)


@pytest.mark.parametrize("wrong", ["memory as caps", "a 2-D stats block per env"])
def test_a_call_with_wrongly_typed_caps_or_stats_is_refused_at_compile_time(wrong):
    step = kernel(FAMILIES["linreg"], n=4)
    run_serial, *head = step.call
    caps, stats = step.memory[:, M_CAP], step.stats
    if wrong == "memory as caps":
        args = (*head, step.memory, stats)
    else:
        args = (*head, caps, stats.reshape(4, 1, -1))
    with pytest.raises(TypingError, match="float loss cap and a 1-D float64 stats row"):
        run_serial(*args)
