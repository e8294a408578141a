"""``path_walk.walk_to_last`` against the kernel's own resolution of the same path, and its file
descriptors: every error path closes the folders it opened (counted in ``/proc/self/fd``), and a
success leaves exactly one open, the caller's to close."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest

from lrgym.leaderboard.path_walk import MAX_LINKS, walk_to_last

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/fd, O_PATH")


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


class Refused(Exception):
    pass


def _error(exc, fd, name, shown):
    return Refused(exc.errno, name, str(shown))


def _follow(fd, name, shown):
    return os.readlink(name, dir_fd=fd)


def _refuse(fd, name, shown):
    raise Refused("link", name, str(shown))


def _walk(path, on_link=_follow):
    """The walk's result as (the folder's identity, the name, the path shown); its descriptor closed."""
    fd, name, shown = walk_to_last(path, on_error=_error, on_link=on_link)
    try:
        info = os.fstat(fd)
        return (info.st_dev, info.st_ino), name, shown
    finally:
        os.close(fd)


def _identity(path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


@pytest.fixture
def tree(tmp_path):
    """tmp/a/b/key, tmp/c/other; tmp/a/up -> ../c (relative, out of its folder); tmp/abs -> tmp/a/b."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "c").mkdir()
    (tmp_path / "a" / "b" / "key").write_text("k")
    (tmp_path / "c" / "other").write_text("o")
    os.symlink("../c", tmp_path / "a" / "up")
    os.symlink(tmp_path / "a" / "b", tmp_path / "abs")
    os.symlink("../../c/other", tmp_path / "a" / "b" / "to_other")
    return tmp_path


@pytest.mark.parametrize("relative", [
    "a/b/key", "a/b/../b/key", "a/up/other", "a/up/../a/b/key", "abs/key", "abs/../../c/other", "abs/to_other",
    "a/b/to_other", "a/./b/key",
])
def test_a_walk_following_every_link_reaches_what_the_kernel_reaches(tree, relative):
    """``..`` after a link is the link target's parent (the kernel's rule, not the text's), a
    relative link leading out of its folder goes on from that folder: the folder the walk holds
    is the real path's parent folder and the name its last component."""
    path = tree / relative
    real = os.path.realpath(path)
    before = _open_fds()
    folder, name, shown = _walk(path)
    assert _open_fds() == before
    assert folder == _identity(os.path.dirname(real)) and name == os.path.basename(real)
    assert os.path.realpath(Path(os.path.normpath(shown))) == real


@pytest.mark.parametrize("relative", ["a/up/other", "abs/key", "a/b/to_other"])
def test_a_link_refused_at_any_level_closes_every_folder_opened(tree, relative):
    before = _open_fds()
    with pytest.raises(Refused, match="link"):
        walk_to_last(tree / relative, on_error=_error, on_link=_refuse)
    assert _open_fds() == before


@pytest.mark.parametrize("relative", ["a/up/other", "abs/key"])
def test_with_no_on_link_a_linked_folder_is_a_component_that_does_not_open(tree, relative):
    before = _open_fds()
    with pytest.raises(Refused) as raised:
        walk_to_last(tree / relative, on_error=_error)
    assert raised.value.args[0] == errno.ENOTDIR and raised.value.args[1] == relative.split("/")[-2]
    assert _open_fds() == before


def test_with_no_on_link_a_last_component_link_is_returned_for_the_callers_nofollow_open(tree):
    fd, name, _ = walk_to_last(tree / "a" / "b" / "to_other", on_error=_error)
    try:
        assert name == "to_other" and os.fstat(fd).st_ino == _identity(tree / "a" / "b")[1]
        with pytest.raises(OSError) as raised:
            os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
        assert raised.value.errno == errno.ELOOP
    finally:
        os.close(fd)


@pytest.mark.parametrize("relative, code", [
    ("missing/key", errno.ENOENT), ("a/b/key/deeper", errno.ENOTDIR), ("dangling/key", errno.ENOENT),
])
def test_a_component_that_does_not_open_is_on_error_and_closes_every_folder(tree, relative, code):
    os.symlink(tree / "nowhere", tree / "dangling")
    before = _open_fds()
    for on_link in (_follow, None):
        with pytest.raises(Refused) as raised:
            walk_to_last(tree / relative, on_error=_error, on_link=on_link)
        expected = errno.ENOTDIR if relative.startswith("dangling") and on_link is None else code
        assert raised.value.args[0] == expected
        assert _open_fds() == before


def test_a_raising_on_error_closes_every_folder(tree):
    def broken(exc, fd, name, shown):
        raise KeyError("on_error itself failed")

    before = _open_fds()
    with pytest.raises(KeyError):
        walk_to_last(tree / "a" / "missing" / "key", on_error=broken)
    assert _open_fds() == before


@pytest.mark.parametrize("links", [MAX_LINKS, MAX_LINKS + 1])
def test_a_chain_of_links_ends_where_the_kernels_does(tree, links):
    """The kernel follows 40 links on one lookup and fails the 41st with ELOOP; so does the walk."""
    (tree / "l0").mkdir()
    for k in range(1, links + 1):
        os.symlink(f"l{k - 1}", tree / f"l{k}")
    path = tree / f"l{links}" / "x"
    (tree / "l0" / "x").write_text("x")
    before = _open_fds()
    try:
        kernel = _identity(path)
    except OSError as exc:
        kernel = exc.errno
    try:
        folder, name, _ = _walk(path)
    except Refused as exc:
        walked = exc.args[0]
    else:
        walked = (folder, name)
        kernel = (_identity(tree / "l0"), "x") if kernel == _identity(tree / "l0" / "x") else kernel
    assert _open_fds() == before
    assert walked == kernel == (errno.ELOOP if links > MAX_LINKS else (_identity(tree / "l0"), "x"))


def test_a_loop_is_eloop_with_every_folder_closed(tree):
    os.symlink("loop_b", tree / "loop_a")
    os.symlink("loop_a", tree / "loop_b")
    before = _open_fds()
    for path in (tree / "loop_a", tree / "loop_a" / "key"):
        with pytest.raises(Refused) as raised:
            walk_to_last(path, on_error=_error, on_link=_follow)
        assert raised.value.args[0] == errno.ELOOP
        assert _open_fds() == before


def test_the_root_itself_is_its_descriptor_and_dot():
    fd, name, shown = walk_to_last("/", on_error=_error)
    try:
        assert (name, shown) == (".", Path("/")) and os.fstat(fd).st_ino == os.stat("/").st_ino
    finally:
        os.close(fd)


def test_its_two_callers_close_every_descriptor_on_every_refusal(tree):
    """``load_key`` (links judged) and the submission folder's walk (no link): each refusal named,
    and no descriptor left open by it."""
    from lrgym.leaderboard.failures import PolicyError
    from lrgym.leaderboard.private import create_key, load_key
    from lrgym.leaderboard.submission_files import _open_directory

    create_key(tree / "a" / "b" / "grader.key")
    os.symlink(tree / "nowhere", tree / "dangling")
    os.symlink("loop_b", tree / "loop_a")
    os.symlink("loop_a", tree / "loop_b")
    os.mkfifo(tree / "fifo")
    shared = tree / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    os.symlink(tree / "a", shared / "keys")
    os.chmod(tree / "a" / "b" / "key", 0o600)
    before = _open_fds()
    refusals = {
        "missing": r"not found", "dangling": r"symbolic link to .*nowhere, which does not exist",
        "loop_a": r"symbolic link loop", "a": r"is a folder", "fifo": r"is a FIFO",
        "a/b/key": r"is not a key", "shared/keys/b/grader.key": r"leads through the symbolic link .*shared/keys",
        "a/b/key/deeper": r"cannot read|cannot be read",
    }
    for relative, says in refusals.items():
        with pytest.raises(ValueError, match=says):
            load_key(tree / relative)
        assert _open_fds() == before, relative
    assert len(load_key(tree / "a" / "b" / "grader.key")) == 32 and _open_fds() == before
    for relative, says in {"missing": "not found", "a/up": "symbolic link", "abs/x": "symbolic link",
                           "a/b/key": "not a directory", "dangling": "symbolic link"}.items():
        with pytest.raises(PolicyError, match=says):
            _open_directory(tree / relative)
        assert _open_fds() == before, relative
    fd = _open_directory(tree / "a" / "b")
    os.close(fd)
    assert _open_fds() == before
