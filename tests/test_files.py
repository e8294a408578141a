"""lrgym.files: a user's input file judged by what it is, under a link that vanishes meanwhile."""

from __future__ import annotations

import pytest
from link_races import links_removed_when_read

from lrgym.files import file_problem, is_descriptor_path, read_regular_file


def test_a_link_removed_while_its_chain_is_followed_is_judged_not_a_bare_oserror(tmp_path, monkeypatch):
    """``is_descriptor_path`` follows a link chain hop by hop (``is_symlink``, then ``readlink``);
    a link removed between the two raised a bare ``FileNotFoundError`` out of ``file_problem`` and
    ``read_regular_file`` (every ``--config`` / ratings / references file goes through them) in
    place of their clear "not found". The race is played out on the first hop."""
    (tmp_path / "real.json").write_text("{}")
    link = tmp_path / "config.json"
    for judge in (is_descriptor_path, file_problem, read_regular_file):
        link.symlink_to(tmp_path / "real.json")
        with monkeypatch.context() as patched:
            links_removed_when_read(patched)
            if judge is is_descriptor_path:
                assert is_descriptor_path(link) is False
            elif judge is file_problem:
                assert file_problem(link) == "not found"
            else:
                with pytest.raises(ValueError, match=r"--config .*config.json not found; valid: a regular file"):
                    read_regular_file(link, "--config")
        assert not link.exists() and not link.is_symlink()  # (the race did happen)
