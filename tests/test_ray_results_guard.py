"""The test session's guard for Ray's ``~/ray_results`` (tests/conftest.py): an RLlib algorithm
built outside :func:`lrgym.baselines.rllib_logdir.logdirs_in_temp` makes
``~/ray_results/<date-time><random>`` for its ``logdir`` (Tune's ``Trainable``); nothing stopped a
new test from doing so and littering the home folder at every run. In a test process Ray's
default folder is one of the process's own, and a test that made something there fails, named.

Checked on a pytest session of its own (a subprocess with the suite's conftest, ``$HOME`` at an
empty folder): Ray's own ``Trainable`` (the ``__init__`` RLlib's ``Algorithm`` runs, where the
``logdir`` is made; no Ray instance needed) built outside the block, and inside it; and so
again with Tune imported by a plugin before the conftest configured the session."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile

import pytest

pytest.importorskip("ray.tune")

HERE = os.path.dirname(os.path.abspath(__file__))

_SESSION_TESTS = '''
import pytest
from ray.tune import Trainable


class Smallest(Trainable):
    def step(self):
        return {}


def test_builds_outside_the_block():
    Smallest().stop()


def test_builds_inside_the_block():
    from lrgym.baselines.rllib_logdir import logdirs_in_temp

    with logdirs_in_temp():
        Smallest().stop()


def test_builds_nothing():
    pass


@pytest.fixture(scope="module")
def built_for_the_module():
    Smallest().stop()


def test_uses_a_module_fixture_that_builds_outside(built_for_the_module):
    pass
'''


def _session(tmp_path, plugins: tuple[str, ...] = ()) -> tuple[str, int, object]:
    """Run :data:`_SESSION_TESTS` in a pytest session of its own with the suite's conftest (after
    ``plugins``, modules in ``tmp_path``), ``$HOME`` at an empty folder: (its output, its return
    code, the home folder). Asserts the session's own folder for Ray's results is gone after it."""
    (tmp_path / "test_offender.py").write_text(_SESSION_TESTS)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COLUMNS"))}
    env.update(HOME=str(home), PYTHONPATH=os.pathsep.join(filter(None, [HERE, str(tmp_path), env.get("PYTHONPATH")])))
    loaded = [arg for plugin in (*plugins, "conftest") for arg in ("-p", plugin)]
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *loaded,
                             "--rootdir", str(tmp_path), str(tmp_path / "test_offender.py")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=600)
    # the session's own folder for Ray's results is gone with it
    assert glob.glob(os.path.join(tempfile.gettempdir(), f"lrgym-test-ray-results-{proc.pid}-*")) == []
    return out, proc.returncode, home


def _offenders_failed_by_name(out: str, returncode: int, home) -> None:
    assert returncode == 1, out
    assert "4 passed, 2 errors" in out, out
    for name in ("test_builds_outside_the_block", "test_uses_a_module_fixture_that_builds_outside"):
        assert f"ERROR at teardown of {name}" in out, out
        assert f"test_offender.py::{name} (or a fixture set up for it) made ['" in out, out
    assert "logdirs_in_temp" in out and "inside_the_block (or" not in out and "nothing (or" not in out, out
    assert not (home / "ray_results").exists()  # Ray's default would have been here


def test_a_test_that_builds_an_algorithm_outside_the_block_fails_by_name_and_the_home_gets_nothing(tmp_path):
    """Built by a test, and by a module fixture (set up before the guard's function fixture):
    each test fails at its teardown, named; the one building inside the block and the one
    building nothing pass; nothing in ``$HOME``, and the session's folder is gone after it."""
    _offenders_failed_by_name(*_session(tmp_path))


def test_the_guard_holds_when_a_plugin_imported_tune_before_the_session_was_configured(tmp_path):
    """A plugin loaded before the suite's conftest (``-p``) that imports Tune: Tune's trainable
    module has already copied Ray's default (``from ray.train.constants import
    DEFAULT_STORAGE_PATH``) when the conftest configures the session. The copy is pointed at the
    process's folder too, so the same tests fail by name and ``$HOME`` gets nothing (setting the
    constants' value alone left the copy at ``~/ray_results``: the session passed and littered the
    home folder)."""
    (tmp_path / "tune_first.py").write_text("import ray.tune.trainable.trainable\n")
    _offenders_failed_by_name(*_session(tmp_path, plugins=("tune_first",)))
