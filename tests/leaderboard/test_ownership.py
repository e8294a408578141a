"""``own_problem``: a path is the grader's own only as a real folder or file of its uid with none
of the closed permission bits; a link never is, whoever made it."""

from __future__ import annotations

import os

import pytest

from lrgym.leaderboard.ownership import NOT_WRITABLE_BY_OTHERS, PRIVATE, kind_of, own_problem


def _what(path, **kw):
    problem = own_problem(path, **kw)
    return None if problem is None else problem.what


def test_a_folder_of_mine_closed_to_others_is_mine_and_each_failure_is_named(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    os.chmod(mine, 0o700)
    assert _what(mine, folder=True) is None and _what(mine, folder=True, closed=PRIVATE) is None
    os.chmod(mine, 0o755)  # others may read: fine for side files, not for a private suite's answers
    assert _what(mine, folder=True, closed=NOT_WRITABLE_BY_OTHERS) is None
    assert _what(mine, folder=True, closed=PRIVATE) == "mode"
    os.chmod(mine, 0o1777)  # sticky or not, others may write in it
    problem = own_problem(mine, folder=True)
    assert problem.what == "mode" and problem.describe() == f"a folder of uid {os.geteuid()}, mode 1777"
    assert _what(mine, folder=False) == "kind"


def test_a_link_is_never_mine_even_to_a_folder_of_mine(tmp_path):
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(target)
    problem = own_problem(link, folder=True)
    assert problem.what == "kind" and problem.describe().startswith("a symbolic link of uid")
    (tmp_path / "file").write_text("x")
    assert _what(tmp_path / "file", folder=False, closed=0) is None
    assert _what(tmp_path / "file", folder=True) == "kind"
    with pytest.raises(FileNotFoundError):
        own_problem(tmp_path / "missing", folder=True)


def test_another_users_folder_is_not_mine(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("making a folder of another uid needs root")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 4321, 4321)
    problem = own_problem(theirs, folder=True)
    assert problem.what == "owner" and problem.describe() == "a folder of uid 4321, mode 700"


def test_kinds_are_named_with_their_article(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "file").write_text("")
    assert kind_of(os.lstat(tmp_path / "fifo").st_mode) == "a FIFO (named pipe)"
    assert kind_of(os.lstat(tmp_path / "file").st_mode) == "a regular file"
    assert kind_of(os.lstat("/dev/null").st_mode) == "a character device"
