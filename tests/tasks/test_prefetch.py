"""``lrgym.tasks.prefetch.prefetch``: a hint that changes no value and never faults."""

import numba
import numpy as np
import pytest
from numba.core.errors import TypingError

from lrgym.tasks.prefetch import prefetch


@numba.njit
def _prefetched_sum(a, idx):
    """Σ a[idx] over the in-range indices, after prefetching every index (in range or not)."""
    for k in idx:
        prefetch(a, k)
    total = 0.0
    for k in idx:
        if 0 <= k < a.shape[0]:
            total += a[k]
    return total


def test_prefetch_changes_no_value_and_tolerates_any_index():
    a = np.random.default_rng(0).standard_normal(1000)
    idx = np.array([3, 999, 0, 1 << 40, -(1 << 40), -1, 500], dtype=np.int64)  # far outside the array too
    in_range = [k for k in idx if 0 <= k < len(a)]
    assert _prefetched_sum(a, idx) == sum(a[k] for k in in_range)  # same order: the same bits


def test_prefetch_takes_one_dimensional_arrays_only():
    @numba.njit
    def two_d(a):
        prefetch(a, 0)

    with pytest.raises(TypingError):
        two_d(np.zeros((2, 2)))
