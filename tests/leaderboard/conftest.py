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


#: the folder of tests/tasks/toy_family.py, the toy family the own-family tests register
TASKS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tasks")


@pytest.fixture
def toy(monkeypatch):
    """The toy family of ``tests/tasks/toy_family.py`` registered in this process (its module's
    folder on ``sys.path``: the grader's workers import it from there, named to them by
    ``$LRGYM_FAMILIES``), then removed again with any family or id a test registered."""
    from lrgym.registry import ENV_IDS
    from lrgym.tasks import FAMILIES, register_family

    monkeypatch.syspath_prepend(TASKS_DIR)
    families, ids = dict(FAMILIES), dict(ENV_IDS)
    register_family("toy", "toy_family:ToyFamily")
    yield "toy"
    FAMILIES.clear()
    FAMILIES.update(families)
    ENV_IDS.clear()
    ENV_IDS.update(ids)
