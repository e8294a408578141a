"""A trusted baseline is graded in the worker itself (``worker._InlineChannel``, through the
policy host's own request handler), outside any sandbox: there ``sandbox_root.ROOT`` is the
machine's temp folder, and loading the baseline must leave nothing in it (it used to make an
empty ``/tmp/submission`` at every leaderboard run)."""

from __future__ import annotations

import os

from lrgym.leaderboard import sandbox_root
from lrgym.leaderboard.policy_loading import write_files
from lrgym.leaderboard.worker import _InlineChannel


def test_a_trusted_baseline_loads_without_making_a_folder_in_the_temp_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox_root, "ROOT", str(tmp_path))
    channel = _InlineChannel({"kind": "baseline", "name": "fixed"})
    built = channel.request(("policies", "quadratic", 2))
    assert built and os.listdir(tmp_path) == []


def test_a_submissions_files_are_still_written_into_a_new_folder(tmp_path):
    where = tmp_path / "submission"
    write_files({"policy.py": b"X = 1\n", "helper.py": b""}, str(where))
    assert sorted(os.listdir(where)) == ["helper.py", "policy.py"]
    assert (where / "policy.py").read_bytes() == b"X = 1\n"
