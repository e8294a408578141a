"""The store against a hostile submission or a careless user (adversarial audit of 2026-12-05).

Each test reproduces one way a stored result could be lost, forged or misattributed, and fails on
the code before the fix:

* a lone surrogate in a policy's exception text (or in ``--owner``) made SQLite refuse the entry;
  its side file then stopped every later grading run of that store;
* ``report --markdown STORE`` (``--html``, ``export --out``) replaced the store with the report;
* another local user who made ``<db>.pending`` first had its files stored as results;
* ``import-kept --name fixed`` took a baseline's name, and a name claimed on one suite was free
  on another;
* two submissions that differed in a module beside the policy file had one source hash;
* two graders recording reference files at once lost records of the trusted-file registry.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
from pathlib import Path

import pytest
from lb_helpers import synthetic_entry, synthetic_runs, tiny_suite
from link_races import links_removed_when_read

from lrgym.leaderboard.store import (UNWRITABLE_SUFFIX, DanglingStoreLinkError, ForeignPendingError, KeptResultError,
                                    NameTakenError, ResultStore)
from lrgym.leaderboard.text import check_owner, clean

typer_testing = pytest.importorskip("typer.testing")

SUITE = tiny_suite()
SURROGATES = "bad \udc80\ud800 surrogate"


# ---- text a policy controls --------------------------------------------------------------------


def test_clean_removes_surrogates_and_invisible_format_characters_and_keeps_letters():
    hidden = "\udc80\ud800\u061c\u200b\u200d\u2060\ufeff\u202e\u2066\x85\u2028\u2029"
    assert clean(f"a{hidden}b") == "ab"
    assert clean("Grüße, 東京, Ελλάδα, مرحبا\nnext") == "Grüße, 東京, Ελλάδα, مرحبا\nnext"
    # every character left is UTF-8 text and none is a control or format character
    import unicodedata

    every = "".join(map(chr, range(0x110000)))
    kept = clean(every)
    kept.encode("utf-8")
    assert not [c for c in kept if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")]


@pytest.mark.parametrize("bad", ["", "   ", "x" * 65, "al\udc80ice", "al\u202eice", "a\nb", None, 3,
                                 "alice\u034f", "alice\ufe0f", "\u3164", "\u2800", "Álice", " alice", "-alice"])
def test_an_owner_that_cannot_be_stored_or_shown_as_itself_is_refused_naming_it(bad):
    """Surrogates broke the store; invisible marks (U+034F, U+FE0F) and blank letters (U+3164,
    U+2800) printed as another owner or as nothing (a security review, 2026-12-05)."""
    with pytest.raises(ValueError, match=r"owner .* invalid; valid: 1 to 64 ASCII letters, digits and"):
        check_owner(bad)
    for good in ("alice", "jose.nunez@example.org", "uid1000", "a_b+c-d", "_grader", "build$"):
        assert check_owner(good) == good


# ---- an entry the store refuses stops no later run -----------------------------------------------


def test_an_entry_the_store_refuses_is_set_aside_said_and_stops_no_later_run(tmp_path):
    db = tmp_path / "r.sqlite"
    runs = synthetic_runs(SUITE, [[0.25], [0.75]])
    with ResultStore(db) as store:
        bad = synthetic_entry(SUITE, "mallory", kind="submission", owner="x\udc80", summary={})
        with pytest.raises(KeptResultError, match="a finished result the store refuses") as caught:
            store.add_entry_durably(bad, runs)
        kept = caught.value.kept
        assert kept.name.endswith(UNWRITABLE_SUFFIX) and kept.exists()
        # a side file of a grader killed before the same write: the next flush sets it aside too
        store._side_files._write_pending(synthetic_entry(SUITE, "eve", kind="submission", owner="y\udc80", summary={},
                                             token="e" * 32), runs)
        said = []
        assert store.flush_pending(log=said.append) == []
        assert sorted(p.name for p in store.unwritable_results()) == sorted([kept.name, "e" * 32 + UNWRITABLE_SUFFIX])
        assert len(said) == 2 and all("no later run stops on it" in s and "owner=" in s for s in said)
        # later writes go on
        good = store.add_entry_durably(synthetic_entry(SUITE, "honest", kind="submission", owner="bob", summary={}), runs)
        assert store.entry(good).name == "honest"


def test_a_policy_raising_surrogates_is_recorded_as_failed_and_the_next_run_is_graded(tmp_path):
    from lrgym.leaderboard.references import load_references
    from lrgym.leaderboard.runner import run_suite, submission_spec

    (tmp_path / "surrogate.py").write_text(
        "class P:\n"
        "    def reset(self, info):\n"
        "        pass\n"
        "    def act(self, obs, info):\n"
        f"        raise ValueError({SURROGATES!r})\n")
    (tmp_path / "keep.py").write_text(
        "class P:\n"
        "    def reset(self, info):\n"
        "        pass\n"
        "    def act(self, obs, info):\n"
        "        return 2\n")
    suite = tiny_suite("surrogates", seeds=(0,), horizon=2, inner_steps=2)
    refs = load_references(suite, n_workers=1)
    with ResultStore(tmp_path / "r.sqlite") as store:
        [failed] = run_suite([submission_spec(f"{tmp_path}/surrogate.py:P", name="surrogate")], suite, store=store,
                             references=refs, n_workers=1, time_limit=120)
        assert not failed.ok and "bad  surrogate" in failed.entry.failure_reason
        assert store.entry(failed.entry.id).status == "failed" and not store.unwritable_results()
        [ok] = run_suite([submission_spec(f"{tmp_path}/keep.py:P", name="keep")], suite, store=store,
                         references=refs, n_workers=1, time_limit=120)
        assert ok.ok and store.entry(ok.entry.id).status == "ok"


# ---- the side-file folder is the grader's own ------------------------------------------------------


def test_a_side_file_folder_others_may_write_to_is_refused_before_anything_is_read(tmp_path):
    db = tmp_path / "board.sqlite"
    with ResultStore(db) as store:
        pending = store.pending_dir
        pending.mkdir()
        os.chmod(pending, 0o777)  # as another user who made it first would leave it
        (pending / ("f" * 32 + ".json")).write_text("{}")
        with pytest.raises(ForeignPendingError, match=r"not the grader's own: a folder of uid \d+, mode 777"):
            store.flush_pending()
        assert store.entries() == [] and (pending / ("f" * 32 + ".json")).exists()


def test_a_side_file_folder_made_by_another_user_during_the_run_loses_no_result(tmp_path, monkeypatch):
    """A security review (2026-12-05): another user's ``<db>.pending`` made while a policy ran
    (after the check at the start) made the write raise, and the finished result was dropped.
    The side file now goes to a private folder of its own; the free database takes the entry."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    runs = synthetic_runs(SUITE, [[0.25], [0.75]])
    with ResultStore(tmp_path / "board.sqlite") as store:
        store.pending_dir.mkdir()
        os.chmod(store.pending_dir, 0o777)
        said = []
        entry_id = store.add_entry_durably(synthetic_entry(SUITE, "mine", kind="submission", owner="bob", summary={}),
                                           runs, log=said.append)
        assert [(r.seed, r.score) for r in store.runs(entry_id)] == [(0, 0.25), (1, 0.75)]
        assert "no side file in" in said[0] and os.listdir(tmp_path / "tmp") == []  # its private folder is gone
        # the name taken meanwhile as well: kept in the private folder, and import-kept stores it from there
        store.pending_dir.mkdir(exist_ok=True)
        os.chmod(store.pending_dir, 0o777)
        store.add_entry(synthetic_entry(SUITE, "contested", kind="submission", owner="alice", summary={}))
        with pytest.raises(KeptResultError) as caught:
            store.add_entry_durably(synthetic_entry(SUITE, "contested", kind="submission", owner="bob", summary={}), runs)
        kept = caught.value.kept
        assert kept.parent.parent == tmp_path / "tmp" and kept.exists()
        stored = store.import_kept(kept, "bobs-result")
        assert store.entry(stored).owner == "bob" and not kept.exists()


def test_import_kept_takes_only_a_submission_the_grader_kept(tmp_path):
    """A security review (2026-12-05): import-kept stored any file as it stood, a forged
    ``kind: "baseline"`` entry with score 3.0 in another user's folder included."""
    runs = synthetic_runs(SUITE, [[0.5], [0.5]])
    with ResultStore(tmp_path / "board.sqlite") as store:
        forged = store._side_files._write_pending(synthetic_entry(SUITE, "f0rged", kind="baseline", summary={}, token="f" * 32), runs)
        with pytest.raises(ValueError, match="holds a 'baseline' entry, and only submissions are kept"):
            store.import_kept(forged, "best-ever")
        planted = tmp_path / "shared"
        planted.mkdir()
        os.chmod(planted, 0o777)
        side = store._side_files._write_pending(synthetic_entry(SUITE, "x", kind="submission", owner="alice", summary={},
                                                    token="a" * 32), runs)
        moved = planted / side.name
        os.rename(side, moved)
        with pytest.raises(ValueError, match="its folder is not uid .*'s alone"):
            store.import_kept(moved, "not-mine")
        link = tmp_path / "link.json"
        link.symlink_to(forged)
        with pytest.raises(ValueError, match="not a regular file"):
            store.import_kept(link, "linked")
        assert store.entries() == []


@pytest.mark.skipif(os.geteuid() != 0, reason="making a folder of another uid needs root")
def test_a_side_file_folder_of_another_user_is_refused(tmp_path):
    db = tmp_path / "board.sqlite"
    with ResultStore(db) as store:
        store.pending_dir.mkdir(mode=0o700)
        os.chown(store.pending_dir, 65534, 65534)
        with pytest.raises(ForeignPendingError, match="of uid 65534"):
            store.flush_pending()


def test_a_link_in_place_of_the_side_file_folder_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    with ResultStore(tmp_path / "board.sqlite") as store:
        store.pending_dir.symlink_to(elsewhere)
        with pytest.raises(ForeignPendingError, match=r"not the grader's own: a symbolic link of uid \d+"):
            store.flush_pending()


# ---- names -----------------------------------------------------------------------------------


def test_a_kept_result_cannot_take_a_registered_baselines_name(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:  # a fresh store: no baseline entry yet
        side = store._side_files._write_pending(synthetic_entry(SUITE, "mine", kind="submission", owner="bob", summary={},
                                                    token="a" * 32), synthetic_runs(SUITE, [[0.5], [0.5]]))
        kept = store._side_files._set_aside(side)
        with pytest.raises(NameTakenError, match="reserved for the baseline 'fixed'"):
            store.import_kept(kept, "Fixed")
        assert kept.exists() and store.entries() == []


def test_a_name_belongs_to_its_owner_on_every_suite_of_the_store(tmp_path):
    other = tiny_suite("other-suite")
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.add_entry(synthetic_entry(SUITE, "shared-name", kind="submission", owner="alice", summary={}))
        assert "another submitter ('alice')" in store.name_available("shared-name", other.version, "bob")
        assert store.name_available("shared-name", other.version, "alice") is None


# ---- outputs never overwrite the store -------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ("report", "--markdown", "{db}"), ("report", "--html", "./{db}", "--no-markdown"),
    ("report", "--markdown", "{db}-wal"), ("export", "--format", "json", "--out", "{db}"),
    ("export", "--format", "csv", "--out", "{db}.pending"),
])
def test_no_output_may_be_the_store_or_one_of_its_files(tmp_path, monkeypatch, args):
    from lrgym.leaderboard.cli import app

    monkeypatch.chdir(tmp_path)
    with ResultStore(tmp_path / "b.sqlite") as store:
        store.add_entry(synthetic_entry(SUITE, "keeper", kind="submission", owner="bob", summary={}),
                        synthetic_runs(SUITE, [[0.5], [0.5]]))
    before = hashlib.sha256((tmp_path / "b.sqlite").read_bytes()).hexdigest()
    result = typer_testing.CliRunner().invoke(
        app, ["leaderboard", *[a.format(db="b.sqlite") for a in args], "--db", "b.sqlite", "--suite", "quick"],
        env={"COLUMNS": "400"})
    assert result.exit_code == 2, result.output
    assert "is the results store" in " ".join(result.output.split())
    assert hashlib.sha256((tmp_path / "b.sqlite").read_bytes()).hexdigest() == before


@pytest.mark.parametrize("case", ["hard link", "csv file a symlink to the store", "store inside the csv folder",
                                  "side files of a store given as a symlink"])
def test_no_output_reaches_the_store_through_a_link(tmp_path, monkeypatch, case):
    """A security review of the check above (2026-12-05) overwrote the store through a hard link,
    a symlink among the csv files, a store named like one of them, and the side-file folder of a
    store given by a symlink (``<link>.pending``): each is refused by inode or by name."""
    from lrgym.leaderboard.cli import app

    monkeypatch.chdir(tmp_path)
    db = "b.sqlite"
    with ResultStore(tmp_path / "b.sqlite") as store:
        store.add_entry(synthetic_entry(SUITE, "keeper", kind="submission", owner="bob", summary={}),
                        synthetic_runs(SUITE, [[0.5], [0.5]]))
    if case == "hard link":
        os.link("b.sqlite", "board.md")
        args = ["report", "--markdown", "board.md"]
    elif case == "csv file a symlink to the store":
        os.mkdir("out")
        os.symlink("../b.sqlite", "out/entries.csv")
        args = ["export", "--format", "csv", "--out", "out"]
    elif case == "store inside the csv folder":
        os.mkdir("out")
        os.rename("b.sqlite", "out/runs.csv")
        db = "out/runs.csv"
        args = ["export", "--format", "csv", "--out", "out"]
    else:
        os.symlink("b.sqlite", "link.sqlite")
        db = "link.sqlite"
        args = ["export", "--format", "json", "--out", "link.sqlite.pending/x.json"]
    real = os.path.realpath(db)
    before = hashlib.sha256(Path(real).read_bytes()).hexdigest()
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", *args, "--db", db, "--suite", "quick"],
                                              env={"COLUMNS": "400"})
    assert result.exit_code == 2 and "is the results store" in " ".join(result.output.split()), result.output
    assert hashlib.sha256(Path(real).read_bytes()).hexdigest() == before
    assert not Path("link.sqlite.pending").exists()


def test_an_output_replaces_a_link_at_its_path_and_never_writes_through_it(tmp_path):
    from lrgym.baselines.outputs import write_output

    (tmp_path / "precious").write_text("keep me")
    os.link(tmp_path / "precious", tmp_path / "hard")
    os.symlink("precious", tmp_path / "soft")
    for name in ("hard", "soft"):
        write_output(tmp_path / name, "report")
        assert (tmp_path / name).read_text() == "report" and not (tmp_path / name).is_symlink()
    assert (tmp_path / "precious").read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == ["hard", "precious", "soft"]  # no temporary file left


# ---- the source hash covers every file the sandbox gets -------------------------------------------


def test_the_source_hash_covers_modules_beside_the_policy_file(tmp_path):
    from lrgym.leaderboard.worker import policy_files

    hashes = []
    for k, helper in enumerate(("SCALE = 1\n", "SCALE = 2\n")):
        folder = tmp_path / f"s{k}"
        folder.mkdir()
        (folder / "p.py").write_text("from helper import SCALE\nclass P:\n    pass\n")
        (folder / "helper.py").write_text(helper)
        *_, source_hash = policy_files({"kind": "object", "target": f"{folder}/p.py:P"})
        hashes.append(source_hash)
    assert hashes[0] != hashes[1]
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "p.py").write_text("class P:\n    pass\n")
    *_, source_hash = policy_files({"kind": "object", "target": f"{alone}/p.py:P"})
    assert source_hash == hashlib.sha256(b"class P:\n    pass\n").hexdigest()  # sha256sum p.py


# ---- the trusted-file registry under two writers -----------------------------------------------------


def _record_many(folder: str, k: int) -> None:
    from lrgym.leaderboard import trust

    for i in range(150):
        path = Path(folder) / f"suite{k}-{i}.json"
        path.write_text("{}")
        trust.record(path)


def test_two_graders_recording_reference_files_at_once_lose_no_record(tmp_path):
    from lrgym.leaderboard import trust

    ctx = mp.get_context("fork")
    writers = [ctx.Process(target=_record_many, args=(str(tmp_path), k)) for k in range(2)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    files = sorted(tmp_path.glob("suite*.json"))
    assert len(files) == 300
    assert [f.name for f in files if not trust.is_trusted(f)] == []
    assert sorted(os.listdir(tmp_path)) == sorted([f.name for f in files] + [trust.REGISTRY, trust.LOCK])
    assert os.stat(tmp_path / trust.LOCK).st_mode & 0o777 == 0o600  # no other user can take the lock


def test_show_prints_the_board_and_names_a_foreign_side_file_folder(tmp_path, monkeypatch):
    from lrgym.leaderboard.cli import app

    from lrgym.leaderboard.suite import get_suite

    quick = get_suite("quick")
    monkeypatch.chdir(tmp_path)
    with ResultStore(tmp_path / "b.sqlite") as store:
        store.add_entry(synthetic_entry(quick, "keeper", kind="submission", owner="bob", summary={}),
                        synthetic_runs(quick, [[0.5] * len(quick.tasks())] * len(quick.seeds)))
        store.pending_dir.mkdir()
        os.chmod(store.pending_dir, 0o777)
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", "show", "--db", "b.sqlite", "--suite", "quick"],
                                              env={"COLUMNS": "400"})
    flat = " ".join(result.output.split())
    assert result.exit_code == 0, flat
    assert "not on the board: the store's side-file folder" in flat and "not the grader's own" in flat


def test_an_output_to_a_stream_is_written_to_not_replaced(tmp_path):
    """``--markdown /dev/stdout`` must print, not replace the /dev/stdout link (as root it could)."""
    from lrgym.baselines.outputs import write_output

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "out"
    link.symlink_to(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_output(link, "through the stream")
        assert os.read(reader, 100) == b"through the stream"
    finally:
        os.close(reader)
    assert link.is_symlink() and sorted(os.listdir(tmp_path)) == ["fifo", "out"]


def test_an_output_through_dev_stdout_sent_to_a_file_is_written_through(tmp_path):
    """A second review (2026-12-05): with stdout sent to a file, /dev/stdout leads to a regular
    file, so the link was replaced (as root, a file in /dev) and the redirected file got nothing."""
    import subprocess
    import sys

    board = tmp_path / "board.md"
    link = tmp_path / "stdout"  # a copy of the /dev/stdout link, so the real /dev is never at risk
    link.symlink_to("/proc/self/fd/1")
    code = f"from lrgym.baselines.outputs import write_output; write_output({str(link)!r}, 'the board')"
    with open(board, "w") as out:
        subprocess.run([sys.executable, "-c", code], stdout=out, check=True)
    assert board.read_text() == "the board" and link.is_symlink()


def test_an_output_keeps_its_files_tighter_mode_and_writes_in_place_where_no_file_can_be_added(tmp_path, monkeypatch):
    """A second review (2026-12-05): replacing made an owner-only (0600) export 0644, and failed
    where the user may write the file but not add one beside it (a folder of another account's)."""
    import tempfile

    from lrgym.baselines.outputs import write_output

    private = tmp_path / "export.json"
    private.write_text("old")
    os.chmod(private, 0o600)
    write_output(private, "new")
    assert private.read_text() == "new" and private.stat().st_mode & 0o777 == 0o600
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "board.md").write_text("old")
    real = tempfile.mkstemp

    def no_new_files_in_shared(*args, **kwargs):  # as a folder of another account's (root would not see it)
        if Path(kwargs.get("dir", "")) == shared:
            raise PermissionError(13, "Permission denied", str(shared))
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", no_new_files_in_shared)
    write_output(shared / "board.md", "new")
    assert (shared / "board.md").read_text() == "new"
    with pytest.raises(PermissionError):  # no file there yet: nothing to write in place
        write_output(shared / "new.md", "x")


def test_a_regular_file_under_dev_is_replaced_with_its_mode_not_written_through(tmp_path):
    """A final review (2026-12-05): every path under /dev counted as a stream, so a private
    export to /dev/shm was written 0644, and a link planted there was written through."""
    from lrgym.baselines.outputs import write_output

    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no writable /dev/shm on this machine")
    out = shm / f"lrgym-test-{os.getpid()}.json"
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    try:
        write_output(out, "private", mode=0o600)
        assert out.read_text() == "private" and out.stat().st_mode & 0o777 == 0o600
        out.unlink()
        out.symlink_to(victim)
        write_output(out, "through?", mode=0o600)
        assert victim.read_text() == "keep me" and not out.is_symlink()
    finally:
        out.unlink(missing_ok=True)


def test_an_output_is_never_written_into_another_users_file_in_a_sticky_folder(tmp_path):
    """A review (2026-12-05): the rename over another user's file in a sticky folder is refused
    (EPERM), and write_output then wrote the private report into that file, which its owner reads."""
    import subprocess
    import sys

    if os.geteuid() != 0:
        pytest.skip("needs root to make files of two other users")
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="lrgym-sticky-"))  # pytest's folders are root's alone (0700)
    os.chmod(top, 0o755)
    sticky = top / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    planted = sticky / "board.html"
    planted.write_text("planted")
    os.chown(planted, 1234, 1234)
    os.chmod(planted, 0o666)
    code = ("import os, stat, sys, tempfile\n"  # imported first: the Python install is root's alone
            "from lrgym.baselines.outputs import write_output\n"
            "os.setgid(65534); os.setuid(65534)\n"
            "try:\n    write_output(sys.argv[1], 'PRIVATE SUITE DETAILS', 0o600)\n"
            "except PermissionError as exc:\n    print('refused:', exc)\n")
    try:
        out = subprocess.run([sys.executable, "-c", code, str(planted)], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "refused:" in out.stdout and "belongs to uid 1234" in out.stdout, out.stdout
        assert planted.read_text() == "planted"
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_kept_files_keep_the_owners_read_and_write_under_any_umask(tmp_path):
    """A review (2026-12-05): under umask 0277 a private suite's references were written 0400
    (asked 0600), and every later write kept them so."""
    from lrgym.baselines.outputs import replace_file

    old = os.umask(0o277)
    try:
        path = replace_file(tmp_path / "v2p-r1.json", "{}", 0o600)
        assert path.stat().st_mode & 0o777 == 0o600
        public = replace_file(tmp_path / "v2-r2.json", "{}", 0o666)
        assert public.stat().st_mode & 0o777 == 0o600  # the umask takes the group's and others' bits
    finally:
        os.umask(old)
    os.chmod(path, 0o400)
    replace_file(path, "{}", 0o600)
    assert path.stat().st_mode & 0o777 == 0o600  # an owner's missing bits are not inherited


# ---- an operator's store: a link to nothing, a full disk (an operator's audit, 2026-12-06) -------


def test_a_store_path_that_is_a_link_to_nothing_is_refused_and_nothing_is_made_through_it(tmp_path, monkeypatch):
    """``--db`` a link to a store on a volume not mounted: a new empty store was made through the
    link in the empty mount point, the board read as empty and the next results written there,
    hidden once the volume is mounted again. Refused by name, as a dangling key link is."""
    from lrgym.leaderboard.cli import app

    mount_point = tmp_path / "results-volume"
    mount_point.mkdir()
    (tmp_path / "board.sqlite").symlink_to(mount_point / "board.sqlite")
    with pytest.raises(ValueError, match="symbolic link to .*results-volume/board.sqlite, which does not exist"):
        ResultStore(tmp_path / "board.sqlite")
    assert os.listdir(mount_point) == []
    monkeypatch.chdir(tmp_path)
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", "show", "--db", "board.sqlite", "--suite", "quick"],
                                              env={"COLUMNS": "400"})
    flat = " ".join(result.output.split())
    assert result.exit_code != 0 and "is a symbolic link to" in flat and "a volume not mounted?" in flat, flat
    assert os.listdir(mount_point) == []
    real = mount_point / "board.sqlite"  # the volume back: the link is followed as before
    ResultStore(real).close()
    with ResultStore(tmp_path / "board.sqlite") as store:
        assert store.entries() == []


def test_a_store_link_to_nothing_removed_while_its_refusal_is_written_is_still_refused(tmp_path, monkeypatch):
    """The refusal of a store link to nothing reads the link again to name its target; a link
    removed by then made that read a bare ``FileNotFoundError`` in place of the refusal. The race
    is played out: the link is removed at the moment the message reads it."""
    mount_point = tmp_path / "results-volume"
    mount_point.mkdir()
    link = tmp_path / "board.sqlite"
    link.symlink_to(mount_point / "board.sqlite")
    links_removed_when_read(monkeypatch)
    with pytest.raises(DanglingStoreLinkError, match=r"is a symbolic link to \(a link that changed while being "
                                                     r"read\), which does not exist"):
        ResultStore(link)
    assert os.listdir(mount_point) == [] and not os.path.lexists(link)


def test_graders_of_one_store_by_a_link_its_real_path_or_a_relative_path_share_its_side_files(tmp_path, monkeypatch):
    """``<db>.pending`` was made beside the path as given: a grader reaching the store through a
    link kept its waiting results in ``<link>.pending``, which a grader of the real path never
    flushed (and the reverse), and a store opened by a relative path put them beside the working
    directory of the moment. The path is resolved once, when the store is opened: one folder."""
    disk = tmp_path / "disk"
    disk.mkdir()
    real = disk / "r.sqlite"
    ResultStore(real).close()
    (tmp_path / "board.sqlite").symlink_to(real)
    runs = synthetic_runs(SUITE, [[0.25], [0.75]])
    monkeypatch.chdir(disk)
    with ResultStore(tmp_path / "board.sqlite") as by_link, ResultStore("r.sqlite") as relative:
        assert by_link.path == tmp_path / "board.sqlite"  # messages still name the store as given
        monkeypatch.chdir(tmp_path)  # (a grader's working directory is no part of where its results wait)
        for store, name in ((by_link, "by-link"), (relative, "relative")):  # their graders died before the commit
            store._side_files._write_pending(synthetic_entry(SUITE, name, kind="submission", owner="bob", summary={},
                                                 token=name[0] * 32), runs)
    assert sorted(os.listdir(disk / "r.sqlite.pending")) == ["b" * 32 + ".json", "r" * 32 + ".json"]
    assert not (tmp_path / "board.sqlite.pending").exists() and not (tmp_path / "r.sqlite.pending").exists()
    with ResultStore(real) as store:  # the next grading run, by the real path, writes both
        assert len(store.flush_pending()) == 2
        assert sorted(e.name for e in store.entries()) == ["by-link", "relative"]
        assert not store.pending_dir.exists()


@pytest.mark.parametrize("kind", ["submission", "baseline"])
def test_a_result_kept_outside_the_side_file_folder_names_how_it_gets_into_the_store(tmp_path, monkeypatch, kind):
    """A store on a full disk (a tmpfs filled during the run): neither the side file nor the entry
    could be written, the result went to a private ``lrgym-kept-*`` folder, and the grader said
    only "kept in ...": no run reads that folder, and nothing named ``import-kept``. The message
    now names the command (a submission), or says to run a baseline again (import-kept takes
    submissions only); the command it names stores the result."""
    import errno
    import sqlite3
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    runs = synthetic_runs(SUITE, [[0.25], [0.75]])
    owner = "bob" if kind == "submission" else None
    entry = synthetic_entry(SUITE, "mine", kind=kind, owner=owner, summary={})
    with ResultStore(tmp_path / "board.sqlite") as store:
        def disk_full(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        def database_full(*args, **kwargs):
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(store._side_files, "_write_pending", disk_full)
        monkeypatch.setattr(store, "add_entry", database_full)
        said = []
        assert store.add_entry_durably(entry, runs, log=said.append) is None
        monkeypatch.undo()
        (kept,) = (tmp_path / "tmp").glob("lrgym-kept-*/*.json")
        last = said[-1]
        assert f"could not write entry 'mine' (database or disk is full); kept in {kept}" in last
        if kind == "baseline":
            assert "run it again on tiny/r1" in last and "run-baselines --only mine" in last
            assert "import-kept" not in last
            return
        command = f"`lrgym leaderboard import-kept {kept} --name mine --db {store.path}`"
        assert command in last, last
        stored = store.import_kept(kept, "mine")  # what that command does
        assert [(r.seed, r.score) for r in store.runs(stored)] == [(0, 0.25), (1, 0.75)]
        assert not kept.parent.exists()  # its private folder too, empty once imported (it was left in /tmp)


def test_a_result_kept_outside_the_side_file_folder_is_never_half_written(tmp_path, monkeypatch):
    """The private ``lrgym-kept-*`` copy was written in place: a grader stopped in the middle
    (killed, or its write failing) left half a ``<token>.json`` there, which ``import-kept``
    refuses as no kept result, without a word of where it came from. It is written as every side
    file is (a temp file renamed once whole): a write stopped after its first bytes leaves no
    ``<token>.json`` and no folder. (The stop is a data stream that fails after its first chunk.)"""
    import errno
    import tempfile

    import lrgym.leaderboard.store_side_files as side_files_module

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    whole = side_files_module.to_json

    def stops_after_its_first_bytes(data):
        text = whole(data)

        def chunks():
            yield text[: len(text) // 2]
            raise OSError(errno.EIO, "Input/output error")

        return chunks()

    entry = synthetic_entry(SUITE, "mine", kind="submission", owner="bob", summary={}, token="a" * 32)
    with ResultStore(tmp_path / "board.sqlite") as store:
        monkeypatch.setattr(side_files_module, "to_json", stops_after_its_first_bytes)
        with pytest.raises(OSError, match="Input/output error"):
            store._side_files._write_elsewhere(entry, synthetic_runs(SUITE, [[0.25], [0.75]]))
    assert list((tmp_path / "tmp").rglob("*")) == []
