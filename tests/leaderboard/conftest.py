"""Leaderboard tests: references and stores live in temporary directories, never in ~/.cache."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True, scope="session")
def _lrgym_cache(tmp_path_factory):
    old = os.environ.get("LRGYM_CACHE")
    os.environ["LRGYM_CACHE"] = str(tmp_path_factory.mktemp("lrgym-cache"))
    yield
    if old is None:
        os.environ.pop("LRGYM_CACHE", None)
    else:
        os.environ["LRGYM_CACHE"] = old
