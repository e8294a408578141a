"""The package versions an entry records (and the HTML report's "packages:" line shows): lrgym's
own, plus torch and stable-baselines3 for a policy that runs on them (the SB3 baselines ``dqn``
and ``ppo``, an SB3 zip). An audit (2026-12-05): the dqn and ppo entries recorded python, lrgym,
numpy, numba and gymnasium only, though an SB3 agent's actions depend on torch's arithmetic."""

from __future__ import annotations

from importlib import metadata
from types import SimpleNamespace

import pytest
from lb_helpers import tiny_suite

from lrgym.leaderboard.report_html import _entries
from lrgym.leaderboard.runner import PolicySpec, baseline_specs, package_versions
from lrgym.leaderboard.runner_entries import EntryContext, finish_entry
from lrgym.leaderboard.scheduling import GroupResult

SB3 = ("torch", "stable-baselines3")


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False


pytestmark = pytest.mark.skipif(not all(_installed(p) for p in SB3), reason="needs torch and stable-baselines3")


def _entry(spec: PolicySpec):
    """The entry runner_entries.finish_entry makes of ``spec`` (a failed group: no policy needs to run)."""
    suite = tiny_suite("versions")
    ctx = EntryContext(suite, None, package_versions(), "a CPU", None)
    return finish_entry(spec, GroupResult(spec.name, failed=True, reason="not run"), ctx, []).entry


@pytest.mark.parametrize("spec, uses_sb3", [
    (baseline_specs(["dqn"])[0], True),
    (baseline_specs(["ppo"])[0], True),
    (PolicySpec("zip", "submission", {"kind": "sb3", "path": "/m.zip", "algo": "a2c"}), True),
    (baseline_specs(["fixed"])[0], False),
    (baseline_specs(["qlearning"])[0], False),  # learned, NumPy inference
    (PolicySpec("mine", "submission", {"kind": "object", "target": "p.py:P"}), False),  # its imports are unknown
])
def test_an_entry_records_the_versions_of_the_packages_its_policy_runs_on(spec, uses_sb3):
    versions = _entry(spec).package_versions
    assert {"python", "lrgym", "numpy", "numba", "gymnasium"} <= set(versions)
    for name in SB3:
        assert (versions.get(name) == metadata.version(name)) if uses_sb3 else name not in versions
    line = next(part for part in _entries(SimpleNamespace(rows=[SimpleNamespace(entry=_entry(spec))], skipped=[]))
                if "packages:" in part)
    assert (f"torch {metadata.version('torch')}" in line) == uses_sb3
    assert (f"stable-baselines3 {metadata.version('stable-baselines3')}" in line) == uses_sb3
