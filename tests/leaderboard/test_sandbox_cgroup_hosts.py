"""Which machines get the whole-sandbox bounds (a review, 2026-12): the grader makes a sandbox's
cgroup v2 group inside its own group, which needs ``memory`` in that group's
``cgroup.subtree_control``; the kernel's "no internal processes" rule allows that only in the
root cgroup, as the grader's own group holds the grader. The README and the fallback's reason
said a systemd ``Delegate=`` unit or a container with its own cgroup namespace got the bound: it
never does. This checks the reason the grader warns with and records (this machine's v2 mount
has no controllers: the v2 path itself is untested, as the README says).
"""

from __future__ import annotations

from lrgym.leaderboard import sandbox_cgroup


def test_a_delegated_v2_group_holding_the_grader_gets_the_per_process_bound_and_is_told_why(tmp_path,
                                                                                             monkeypatch):
    # a delegated group holding the grader: controllers available, none enabled for children
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("\n")
    monkeypatch.setattr(sandbox_cgroup, "_own_cgroup_dir", lambda version, controller="": str(tmp_path)
                        if version == 2 else None)
    version, why = sandbox_cgroup._cgroup_parents()
    assert version is None
    assert "root cgroup" in why and "Delegate=" in why and "container" in why, why
