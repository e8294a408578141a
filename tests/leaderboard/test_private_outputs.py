"""What a private suite leaves on the grader's disk: the references beside the key, and (below)
the reports and exports. Its secrets (instance ids, env seeds, reference LRs and losses) stay
readable by the grader alone (an operator's audit, 2026-12-05)."""

from __future__ import annotations

import os
import stat

import pytest
from typer.testing import CliRunner

from lrgym.leaderboard.cli import app

from lrgym.leaderboard.private import create_key, references_dir
from lrgym.leaderboard.references import References, save_references
from lrgym.leaderboard.store import ResultStore


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# ---- the references folder beside the key -------------------------------------------------------


def test_an_open_references_folder_is_refused_not_kept(tmp_path, umask022):
    """``KEYFILE.references/`` that already existed with mode 0755 was kept as it was
    (``mkdir(mode=0o700, exist_ok=True)``), and the references were written 0644 into it."""
    key = tmp_path / "grader.key"
    create_key(key)
    folder = tmp_path / "grader.key.references"
    folder.mkdir()  # 0755 under this umask
    with pytest.raises(ValueError, match=rf"{folder} is open to other users \(mode 0755\): .* chmod 700 {folder}"):
        references_dir(key)
    assert _mode(folder) == 0o755  # refused, not silently changed: the operator judges the exposure
    ResultStore(tmp_path / "r.sqlite").close()
    result = CliRunner().invoke(app, ["leaderboard", "report", "--private", str(key), "--db", str(tmp_path / "r.sqlite"),
                                      "--html", str(tmp_path / "b.html"), "--no-markdown"], env={"COLUMNS": "400"})
    assert result.exit_code == 2 and "open to other users (mode 0755)" in result.output, result.output
    os.chmod(folder, 0o700)
    assert references_dir(key) == folder


def test_a_references_folder_is_made_0700_and_a_link_is_refused(tmp_path, umask022):
    key = tmp_path / "grader.key"
    create_key(key)
    assert _mode(references_dir(key)) == 0o700
    other = tmp_path / "other.key"
    create_key(other)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "other.key.references").symlink_to(elsewhere)
    with pytest.raises(ValueError, match=r"other.key.references is a symbolic link, not a folder of your own"):
        references_dir(other)


def test_a_private_suites_references_are_written_owner_only(tmp_path, umask022):
    refs = References("private-0123abcd/r2", "fp", {"quadratic/1099511627776": {"lr": 0.5}}, (7, 9), {})
    path = save_references(refs, tmp_path)
    assert _mode(path) == 0o600
    public = save_references(References("quick/r1", "fp", {}, (0,), {}), tmp_path)
    assert _mode(public) == 0o644  # public references as before
