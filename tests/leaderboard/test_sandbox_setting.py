"""``$LRGYM_SANDBOX`` is the grader's setting: checked before anything runs, and said when weak.

A misspelt value made every submission a stored *failed* entry ("grader error: ...") after the
workers had started, and the weak mode without namespaces ran without a word to the user,
although the README says the grader warns.
"""

from __future__ import annotations

import pytest
from lb_helpers import policy, tiny_suite

from lrgym.leaderboard import runner, sandbox
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec
from lrgym.leaderboard.store import ResultStore

SUITE = tiny_suite("sandbox-setting")


@pytest.fixture
def fresh_mode():
    """``sandbox.mode()`` is probed once per process: forget it around a changed setting."""
    sandbox.mode.cache_clear()
    yield
    sandbox.mode.cache_clear()


def test_a_bad_setting_stops_the_grader_and_stores_nothing(tmp_path, monkeypatch, fresh_mode):
    def no_pool(*args, **kwargs):
        raise AssertionError("workers started before the sandbox setting was checked")

    monkeypatch.setattr("lrgym.leaderboard.backends.grader_pool", no_pool)
    monkeypatch.setenv("LRGYM_SANDBOX", "requir")
    with ResultStore(tmp_path / "r.sqlite") as store:
        with pytest.raises(ValueError) as err:
            run_suite([submission_spec(policy("Keep"), name="keep")], SUITE, store=store, references=object())
        assert list(store.entries()) == []
    assert str(err.value) == f"LRGYM_SANDBOX='requir' invalid; valid choices: {', '.join(sandbox.SETTINGS)}"
    for good in sandbox.SETTINGS:  # the choices named are the ones the setting takes
        monkeypatch.setenv("LRGYM_SANDBOX", good)
        assert sandbox.setting() == good


def test_the_weak_mode_is_said_before_the_run(tmp_path, monkeypatch, fresh_mode):
    """``off`` (what a machine without ``unshare`` gets) logs the mode's own note as a warning, and
    the entry is still graded; with namespaces nothing is said."""
    refs = load_references(SUITE, n_workers=1)
    monkeypatch.setenv("LRGYM_SANDBOX", "off")
    said = []
    [outcome] = run_suite([submission_spec(policy("Keep"), name="keep")], SUITE, references=refs, n_workers=1,
                          time_limit=60, log=said.append)
    assert outcome.ok, outcome.entry.failure_reason
    note = sandbox.mode()["note"]
    assert sandbox.mode()["kind"] == "none" and "no namespaces (LRGYM_SANDBOX=off)" in note  # its cause, not a guess
    assert f"warning: {note}" in said
    assert outcome.entry.env_spec["sandbox"]["kind"] == "none"
