"""The speed benchmarks run only when asked for: ``pytest benchmarks --benchmark-enable``.

(``pytest`` alone collects ``tests/`` only; and a plain ``pytest benchmarks`` skips these, so a
test run never spends minutes timing.)
"""

import pytest


def pytest_collection_modifyitems(config, items):
    enabled = config.getoption("benchmark_enable", False) or config.getoption("benchmark_only", False)
    if enabled:
        return
    skip = pytest.mark.skip(reason="speed benchmark: run with `pytest benchmarks --benchmark-enable`")
    for item in items:
        item.add_marker(skip)
