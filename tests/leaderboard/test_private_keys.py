"""The grader's key file of a private suite (:func:`lrgym.leaderboard.private.load_key` and
``create_key``): every refusal names the file, what is wrong and the valid form, is never a
traceback, and never shows a byte of the file (an operator's audit, 2026-12-05: a raw-binary key
printed "'utf-8' codec can't decode byte 0x8b in position 0", a dangling link was "not found"
and the command advised then crashed, ``--private /etc/passwd`` was told to chmod it, a FIFO was
"a folder?")."""

from __future__ import annotations

import os
import stat

import pytest
from link_races import links_removed_when_read
from typer.testing import CliRunner

from lrgym.leaderboard.cli import app
from lrgym.leaderboard.private import create_key, load_key, private_suite

VALID = "64 hex digits"


def _flat(output: str) -> str:
    return " ".join(output.replace("│", " ").split())


def _write(path, data: bytes, mode: int = 0o600):
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def _cli_suites(key) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["leaderboard", "suites", "--private", str(key)], env={"COLUMNS": "400"})
    return result.exit_code, _flat(result.output) + ("" if result.exception is None or isinstance(
        result.exception, SystemExit) else f" TRACEBACK {type(result.exception).__name__}")


@pytest.mark.parametrize("data", [
    bytes([0x8B]) + bytes(range(1, 32)),        # 32 raw bytes (head -c 32 /dev/urandom), not valid UTF-8
    b"\x89\xfe" + b"ab" * 15,                   # hex-looking bytes after binary ones
], ids=["urandom", "binary-then-hex"])
def test_a_raw_binary_key_is_named_and_its_bytes_are_not_shown(tmp_path, data):
    key = _write(tmp_path / "raw.key", data)
    with pytest.raises(ValueError) as info:
        load_key(key)
    message = str(info.value)
    assert str(key) in message and "binary data" in message and VALID in message
    for leak in ("0x8b", "0x89", "\\x", "position", "codec", "abab"):
        assert leak not in message.lower()
    code, out = _cli_suites(key)
    assert code == 2 and "binary data" in out and "TRACEBACK" not in out and "0x8b" not in out


@pytest.mark.parametrize("text, says", [
    ("ab" * 32 + "c", "odd number of hex digits (65)"),
    ("zz" * 32, "64 of its 64 non-blank characters are not hex digits"),
    ("ab" * 8, "too short (16 hex digits, 8 bytes; at least 32)"),
    ("", "empty"),
], ids=["odd", "not-hex", "short", "empty"])
def test_a_key_that_is_not_hex_says_what_is_wrong_and_the_valid_form(tmp_path, text, says):
    key = _write(tmp_path / "bad.key", (text + "\n").encode())
    with pytest.raises(ValueError) as info:
        load_key(key)
    message = str(info.value)
    assert f"private suite key {key} is not a key" in message and says in message and VALID in message
    if text:
        assert text[:8] not in message  # none of the file's characters


def test_a_key_written_by_create_key_or_with_blanks_still_loads(tmp_path):
    key = tmp_path / "k.key"
    assert create_key(key) and len(load_key(key)) == 32
    spaced = _write(tmp_path / "spaced.key", b"ab cd ef 01 23 45 67 89 ab cd ef 01 23 45 67 89\n")
    assert load_key(spaced) == bytes.fromhex("abcdef0123456789abcdef0123456789")  # as bytes.fromhex read it


def test_a_dangling_link_is_refused_by_name_and_suites_does_not_crash(tmp_path):
    """The key's volume not mounted: "not found; create it with `suites --private X`" sent the
    operator to a command that crashed with FileExistsError (and would have made a new key, a new
    suite, had the link not been there)."""
    link = tmp_path / "grader.key"
    link.symlink_to(tmp_path / "unmounted" / "grader.key")
    with pytest.raises(ValueError, match=r"is a symbolic link to .*unmounted/grader.key, which does not exist"):
        load_key(link)
    assert create_key(link) is False and os.path.islink(link) and not (tmp_path / "unmounted").exists()
    code, out = _cli_suites(link)
    assert code == 2 and "symbolic link" in out and "not found" not in out and "TRACEBACK" not in out


def test_a_dangling_link_removed_while_its_refusal_is_written_is_still_refused_by_name(tmp_path, monkeypatch):
    """The refusal of a dangling key link reads the link again to name its target; a link removed
    (or replaced) by then made that read a bare ``FileNotFoundError`` in place of the refusal. The
    race is played out: the link is removed at the moment the message reads it (the walk's own
    reads, relative to a folder's descriptor, are left alone)."""
    link = tmp_path / "grader.key"
    link.symlink_to(tmp_path / "unmounted" / "grader.key")
    links_removed_when_read(monkeypatch)
    with pytest.raises(ValueError, match=r"private suite key .*grader.key is a symbolic link to \(a link that "
                                         r"changed while being read\), which does not exist"):
        load_key(link)
    assert not os.path.lexists(link)  # (the race did happen)


def test_a_link_to_a_key_is_followed_unless_anyone_could_repoint_it(tmp_path):
    """A mounted secret is a link (a Kubernetes secret volume's files are); one in a folder anyone
    may write to (no sticky bit) could be pointed at another file, so it is refused."""
    key = tmp_path / "real.key"
    create_key(key)
    link = tmp_path / "link.key"
    link.symlink_to(key)
    assert load_key(link) == load_key(key) and private_suite(link).name == private_suite(key).name

    def link_in(name: str, mode: int) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        os.chmod(folder, mode)
        (folder / "link.key").symlink_to(key)
        return folder / "link.key"

    shared = link_in("shared", 0o777)
    with pytest.raises(ValueError, match=r"leads through the symbolic link .*shared/link.key, which someone else could"):
        load_key(shared)
    # a final review (2026-12-05): only the first link's folder was checked, and only for world-writing
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    (mine / "key").symlink_to(shared)  # a chain through the shared folder's link
    with pytest.raises(ValueError, match=r"leads through the symbolic link .*shared/link.key"):
        load_key(mine / "key")
    with pytest.raises(ValueError, match=r"a folder of mode 770"):
        load_key(link_in("group", 0o770))
    # a folder link on the way counts as much as the key's own (README: "every link on the way"):
    # only links of the last component were judged, so a key reached through a folder link in a
    # folder anyone may write to was read wherever that link pointed
    (tmp_path / "shared" / "keys").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ValueError, match=r"leads through the symbolic link .*shared/keys, which someone else could"):
        load_key(tmp_path / "shared" / "keys" / "real.key")
    (mine / "keys").symlink_to(tmp_path, target_is_directory=True)  # in a folder of the grader's own
    assert load_key(mine / "keys" / "real.key") == load_key(key)
    (mine / "via").symlink_to(tmp_path / "shared" / "keys" / "real.key")  # a chain through that folder link
    with pytest.raises(ValueError, match=r"leads through the symbolic link .*shared/keys, which"):
        load_key(mine / "via")
    if os.geteuid() == 0:  # another user's link in a sticky folder leads to their key
        sticky = tmp_path / "sticky"
        sticky.mkdir()
        os.chmod(sticky, 0o1777)
        (sticky / "theirs.key").symlink_to(key)
        os.lchown(sticky / "theirs.key", 65534, 65534)
        with pytest.raises(ValueError, match=r"\(uid 65534\)"):
            load_key(sticky / "theirs.key")


def test_a_file_that_is_no_key_is_called_so_before_its_permissions(tmp_path):
    """``--private /etc/passwd`` (a typo) was told "readable by other users; chmod 600 /etc/passwd"."""
    passwd = _write(tmp_path / "passwd", b"root:x:0:0:root:/root:/bin/bash\n", 0o644)
    with pytest.raises(ValueError) as info:
        load_key(passwd)
    assert "is not a key" in str(info.value) and "chmod" not in str(info.value)
    assert stat.S_IMODE(passwd.stat().st_mode) == 0o644  # left as it was
    shared = _write(tmp_path / "shared.key", b"ab" * 32 + b"\n", 0o640)  # a real key: now its mode
    with pytest.raises(ValueError, match=r"readable by other users \(mode 0640\); chmod 600"):
        load_key(shared)


def test_a_fifo_is_named_as_such_and_never_opened(tmp_path):
    fifo = tmp_path / "k.key"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(ValueError, match=rf"{fifo} is a FIFO \(named pipe\), not a key file; valid: .*{VALID}"):
        load_key(fifo)  # opening it for reading would block: this returns at once
    assert create_key(fifo) is False
    code, out = _cli_suites(fifo)
    assert code == 2 and "FIFO" in out and "folder" not in out


def test_a_key_path_that_cannot_be_created_is_a_parser_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"cannot create the private suite key .*file/grader.key: .*file is not a "
                                         r"folder; valid"):
        create_key(tmp_path / "file" / "grader.key")
    code, out = _cli_suites(tmp_path / "file" / "grader.key")
    assert code == 2 and "cannot create the private suite key" in out and "TRACEBACK" not in out


@pytest.mark.skipif(os.geteuid() != 0, reason="a file of another uid needs root to make")
def test_a_key_of_another_users_is_refused(tmp_path):
    """Root (a hosted grader runs as root) reads a 0600 file of any user's: a key that belongs to
    another user, who knows it and could have written it (in a folder anyone may write to, they
    could replace the grader's own), was taken, and its suite graded as hidden (an audit, 2026-12-06)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    key = shared / "grader.key"
    create_key(key)
    mine = load_key(key)
    os.chown(key, 1234, 1234)
    with pytest.raises(ValueError, match=r"grader.key belongs to another user \(uid 1234\)") as info:
        load_key(key)
    assert mine.hex() not in str(info.value)
    code, out = _cli_suites(key)
    assert code == 2 and "belongs to another user (uid 1234)" in out and "private-" not in out.split("Error")[0]
    os.chown(key, 0, 0)  # root's, as a mounted secret's files are
    assert load_key(key) == mine


def test_a_key_swapped_between_its_check_and_its_read_is_judged_as_read(tmp_path, monkeypatch):
    """The owner and mode were those of the file ``lstat`` saw, and the key was read from what the
    path named a moment later: another user's key put in its place meanwhile (a folder of the path
    renamed away and replaced, as anyone may in a folder all users write to) was taken as the
    grader's own. Owner and mode are now those of the file read (its ``fstat``)."""
    from lrgym.leaderboard import private

    key = tmp_path / "grader.key"
    create_key(key)
    theirs = _write(tmp_path / "theirs.key", b"ab" * 32)
    os.chown(theirs, 1234, 1234)
    real_open = os.open

    def swapped_open(path, *args, **kwargs):  # the other user's key lands between the lstat and the open
        if str(path) in (str(key), key.name):  # (opened by its full path, or by its name in its folder)
            os.replace(theirs, key)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(private.os, "open", swapped_open)
    with pytest.raises(ValueError, match=r"grader.key belongs to another user \(uid 1234\)"):
        load_key(key)


def test_a_folder_on_the_way_swapped_for_a_link_is_never_followed(tmp_path, monkeypatch):
    """The links on the key's way were judged, then the key was opened by its whole path: a folder
    of the path in a folder anyone may write to (``/srv/shared/keys/grader.key``) renamed away and
    replaced by a link between the check and the open was followed, and the key read was the one
    the link's maker chose. The path is now opened one name at a time, each relative to the
    folder opened before with ``O_NOFOLLOW``, following only the links judged. The swap is made
    before each open ``load_key`` makes in turn (every moment between two steps of the walk):
    each time the grader's key is read (from the folder it opened before the swap) or the link
    is refused by name, never the other key."""
    shared = tmp_path / "shared"
    (shared / "keys").mkdir(parents=True)
    os.chmod(shared, 0o777)  # anyone may rename keys and put a link in its place
    create_key(shared / "keys" / "grader.key")
    mine = load_key(shared / "keys" / "grader.key")
    (tmp_path / "theirs").mkdir()
    create_key(tmp_path / "theirs" / "grader.key")
    theirs = load_key(tmp_path / "theirs" / "grader.key")
    assert theirs != mine
    real_open = os.open
    opens = []

    def counting_open(*args, **kwargs):
        opens.append(args[0])
        return real_open(*args, **kwargs)

    monkeypatch.setattr(os, "open", counting_open)
    assert load_key(shared / "keys" / "grader.key") == mine
    monkeypatch.setattr(os, "open", real_open)
    for n in range(1, len(opens) + 1):
        calls = []

        def swapping_open(*args, **kwargs):
            calls.append(args[0])
            if len(calls) == n:  # the folder becomes a link to theirs right before this open
                os.rename(shared / "keys", shared / f"keys.{n}")
                os.symlink(tmp_path / "theirs", shared / "keys")
            return real_open(*args, **kwargs)

        monkeypatch.setattr(os, "open", swapping_open)
        try:
            got = load_key(shared / "keys" / "grader.key")
        except ValueError as exc:
            assert f"leads through the symbolic link {shared / 'keys'}, which someone else could" in str(exc), (n, exc)
        else:
            assert got == mine, f"the key read after a swap before open {n} of {len(opens)}: " + (
                "theirs" if got == theirs else "another")
        finally:
            monkeypatch.setattr(os, "open", real_open)
        assert len(calls) >= n, (n, calls)  # the swap was made
        os.unlink(shared / "keys")
        os.rename(shared / f"keys.{n}", shared / "keys")
