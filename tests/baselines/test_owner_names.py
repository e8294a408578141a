"""``owner_names``: a leftover's name says which process made it (pid and start time), so a sweep
removes it once that process has ended, even when another process has its pid now; older
pid-only names keep the pid rule."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lrgym.baselines import owner_names
from lrgym.baselines.owner_names import namespaces, owner_gone, owner_tag, start_time

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")

PREFIX = "lrgym-test-"


def _dead_pid() -> int:
    dead = subprocess.Popen(["true"])
    dead.wait()
    return dead.pid


@pytest.fixture
def live_child():
    """A sleeping child process (stdin: a line makes it rename itself, then it answers)."""
    rename = ("import sys; sys.stdin.readline(); open('/proc/self/comm', 'w').write(sys.argv[1]); "
              "print('ok', flush=True); sys.stdin.readline()")
    child = subprocess.Popen([sys.executable, "-c", rename, "a) 1 2 (b) c"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    yield child
    child.kill()
    child.wait()


def test_the_start_time_is_read_after_the_last_parenthesis_of_the_command_name(live_child):
    before = start_time(live_child.pid)
    live_child.stdin.write("rename\n")
    live_child.stdin.flush()
    assert live_child.stdout.readline() == "ok\n"
    with open(f"/proc/{live_child.pid}/comm") as f:
        assert f.read() == "a) 1 2 (b) c\n"  # spaces and parentheses in field 2 of its stat
    assert before is not None and start_time(live_child.pid) == before


def test_the_start_time_is_field_22_of_the_stat_file(monkeypatch, tmp_path):
    fake = tmp_path / "stat"
    fields_after_name = [f"f{n}" for n in range(3, 22)] + ["987654"] + [f"f{n}" for n in range(23, 53)]
    fake.write_bytes(b"4242 (x) (y) z) " + " ".join(fields_after_name).encode() + b"\n")
    monkeypatch.setattr(owner_names, "open", lambda path, *a, **k: open(fake, *a, **k), raising=False)
    assert start_time(4242) == 987654


def test_no_start_time_for_a_process_that_has_ended():
    assert start_time(_dead_pid()) is None


def test_the_owner_tag_is_this_process_pid_start_time_and_namespaces():
    pid_ns, time_ns = os.stat("/proc/self/ns/pid").st_ino, os.stat("/proc/self/ns/time").st_ino
    assert owner_tag() == f"{os.getpid()}.{start_time(os.getpid())}.{pid_ns}x{time_ns}"
    assert start_time("self") == start_time(os.getpid()) is not None


def test_a_name_of_a_reused_pid_is_gone_and_its_true_owners_is_not(live_child):
    """The pid of a name belongs to a live process that started at another time: the maker has
    ended and the kernel gave its pid to this one."""
    ns = namespaces()
    for pid in (os.getpid(), live_child.pid):
        started = start_time(pid)
        assert not owner_gone(f"{PREFIX}{pid}.{started}.{ns}-ab12", PREFIX)
        assert owner_gone(f"{PREFIX}{pid}.{started - 1}.{ns}-ab12", PREFIX)
        assert owner_gone(f"{PREFIX}{pid}.{started + 1}.{ns}-submission-ab12", PREFIX)
    assert owner_gone(f"{PREFIX}{_dead_pid()}.{start_time(os.getpid())}.{ns}-ab12", PREFIX)


def test_a_name_made_in_other_namespaces_is_not_judged(live_child):
    """Another container's grader sharing the folder: its pids and start times are its own
    namespaces' numbers. A live process's folder was swept when they were read as this
    namespace's (a review, 2026-12-05); whatever they say here, the name stays."""
    other = "1x1"
    assert other != namespaces()
    started = start_time(os.getpid())
    for name in (f"{os.getpid()}.{started - 1}.{other}", f"{_dead_pid()}.{started}.{other}",
                 f"{live_child.pid}.{start_time(live_child.pid) + 1}.{other}"):
        assert not owner_gone(f"{PREFIX}{name}-ab12", PREFIX), name


def test_an_older_pid_only_name_keeps_the_pid_rule():
    assert not owner_gone(f"{PREFIX}{os.getpid()}-ab12", PREFIX)  # any process with the pid: alive
    assert not owner_gone(f"{PREFIX}{os.getpid()}-submission-ab12", PREFIX)
    assert not owner_gone(f"{PREFIX}{os.getpid()}", PREFIX)
    assert owner_gone(f"{PREFIX}{_dead_pid()}-ab12", PREFIX)


@pytest.mark.parametrize("name", ["lrgym-test-notapid", "lrgym-test-", "lrgym-test-.5-a", "lrgym-test-1.-a",
                                  "lrgym-test-1.x-a", "lrgym-test-1.2-a", "lrgym-test-1.2.-a", "lrgym-test-\u00b2-a",
                                  "lrgym-test-1.\u00b2-a", "other-1-a"])
def test_a_name_of_another_form_is_not_judged(name):
    assert not owner_gone(name, PREFIX)


def test_where_proc_does_not_show_this_process_names_say_the_start_time_is_unknown(monkeypatch):
    """``/proc`` of another PID namespace (seen here as a pid that is not this process's): its
    start times are another process's, so none is written or trusted. The name still says its
    namespaces (it said the pid alone, which a sweep judged in its own namespaces): in these, its
    owner is alive while a process has the pid; in others, or unknown ones, it is not judged."""
    me, ns = os.getpid(), namespaces()
    monkeypatch.setattr(os, "getpid", lambda: me + 1)
    assert owner_tag() == f"{me + 1}.unknown.{ns}"
    monkeypatch.setattr(owner_names, "namespaces", lambda: None)
    assert owner_tag() == f"{me + 1}.unknown.unknown"
    monkeypatch.undo()
    dead = _dead_pid()
    assert not owner_gone(f"{PREFIX}{me}.unknown.{ns}-ab12", PREFIX)  # exists: alive
    assert owner_gone(f"{PREFIX}{dead}.unknown.{ns}-ab12", PREFIX)  # these namespaces, no such process
    for spaces in ("1x1", "unknown"):
        assert not owner_gone(f"{PREFIX}{dead}.unknown.{spaces}-ab12", PREFIX)  # not judged


def _absent_pid(below: int = 2000) -> int | None:
    """The smallest pid from 3 up that no process has here (None below ``below``)."""
    return next((pid for pid in range(3, below) if not os.path.exists(f"/proc/{pid}")), None)


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/unshare"), reason="a PID namespace needs root")
def test_a_live_grader_in_a_pid_namespace_without_its_own_proc_keeps_its_folder(tmp_path):
    """A worker in its own PID namespace that sees this /proc (``unshare -p -f`` without
    ``--mount-proc``: a container sharing the host's /proc and the temp folder): its pid there
    (made here to be one no process has in this namespace) named its folder alone,
    ``lrgym-worker-12-...``, and this grader's sweep, finding no process 12, removed the live
    worker's folder."""
    from lrgym.leaderboard.pool import sweep_orphaned_scratch

    pid = _absent_pid()
    if pid is None:
        pytest.skip("every pid below 2000 is taken here")
    make = ("import os, sys, tempfile; from lrgym.leaderboard.pool import scratch_prefix; "
            "print(os.getpid(), tempfile.mkdtemp(prefix=scratch_prefix(), dir=sys.argv[1]), flush=True); "
            "sys.stdin.read()")
    # sh is pid 1 there, each /bin/true the next pid, python the one after them: pid
    script = f'i=2; while [ $i -lt {pid} ]; do /bin/true; i=$((i+1)); done; "$0" -c "$1" "$2"'
    worker = subprocess.Popen(["unshare", "-p", "-f", "sh", "-c", script, sys.executable, make, str(tmp_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        there, folder = worker.stdout.readline().split()
        assert int(there) == pid and not os.path.exists(f"/proc/{pid}")  # a pid that means nothing here
        assert sweep_orphaned_scratch(str(tmp_path)) == 0 and os.path.isdir(folder)
    finally:
        worker.stdin.close()
        worker.wait(timeout=30)


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/unshare"), reason="a PID namespace needs root")
def test_a_live_grader_in_another_pid_namespace_keeps_its_folder(tmp_path):
    """The review's case for real: a worker in its own PID namespace (pid 1 there, a start time
    of that namespace's /proc) makes its temp folder in a folder it shares with this grader,
    whose sweep must leave it while the worker runs."""
    from lrgym.leaderboard.pool import sweep_orphaned_scratch

    make = ("import sys, tempfile; from lrgym.leaderboard.pool import scratch_prefix; "
            "print(tempfile.mkdtemp(prefix=scratch_prefix(), dir=sys.argv[1]), flush=True); sys.stdin.read()")
    worker = subprocess.Popen(["unshare", "-p", "-f", "--mount-proc", sys.executable, "-c", make, str(tmp_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        folder = worker.stdout.readline().strip()
        assert os.path.basename(folder).startswith("lrgym-worker-1.")  # pid 1 in its namespace
        assert sweep_orphaned_scratch(str(tmp_path)) == 0 and os.path.isdir(folder)
    finally:
        worker.stdin.close()
        worker.wait(timeout=30)


def test_an_owned_temp_folder_of_a_process_killed_with_sigkill_is_removed_by_the_next_one(tmp_path):
    """``owned_temp_folder`` (a bench's or a transfer run's throwaway store): a process killed
    with SIGKILL inside its ``with`` block leaves its folder; the next ``with`` of that prefix
    removes it, and leaves a live process's; its own is removed when its block ends."""
    import signal

    make = ("import sys; from lrgym.baselines.owner_names import owned_temp_folder\n"
            "with owned_temp_folder(sys.argv[1]) as folder:\n"
            "    open(folder + '/store', 'w').close(); print(folder, flush=True); sys.stdin.read()\n")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    makers = [subprocess.Popen([sys.executable, "-c", make, PREFIX], env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True) for _ in range(2)]
    killed, live = makers
    try:
        folders = [m.stdout.readline().strip() for m in makers]
        assert [os.path.basename(f).startswith(f"{PREFIX}{m.pid}.{start_time(m.pid)}.") for m, f in zip(makers, folders)] == [True, True]
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        assert os.path.isdir(folders[0])  # no with block ends in a killed process
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("tempfile.tempdir", str(tmp_path))
            with owner_names.owned_temp_folder(PREFIX) as mine:
                assert not os.path.exists(folders[0]) and os.path.isdir(folders[1]) and os.path.isdir(mine)
        assert sorted(os.listdir(tmp_path)) == [os.path.basename(folders[1])]
    finally:
        live.stdin.close()
        live.wait(timeout=30)
    assert os.listdir(tmp_path) == []


def test_an_owned_temp_folder_sweep_leaves_another_users_folder_and_a_link(tmp_path, monkeypatch):
    """In a shared temp folder a name of an ended owner may be another user's folder (theirs to
    remove: as root, removing it would delete their files) or a link made by anyone (to a folder
    of ours: following it would empty that): both are left, with what they hold; our own such
    folder is removed."""
    dead = f"{PREFIX}{_dead_pid()}.1.{namespaces()}"
    ours, theirs, link, target = (tmp_path / f"{dead}-ours", tmp_path / f"{dead}-theirs",
                                  tmp_path / f"{dead}-link", tmp_path / "kept")
    for folder in (ours, theirs, target):
        folder.mkdir()
        (folder / "file").write_text("x")
    link.symlink_to(target, target_is_directory=True)
    other_user = os.geteuid() == 0
    if other_user:
        os.chown(theirs, 65534, 65534)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with owner_names.owned_temp_folder(PREFIX) as mine:
        assert not ours.exists() and (target / "file").exists() and link.is_symlink()
        assert (theirs / "file").exists() == other_user  # (not root: no other user's folder to make)
    assert not os.path.exists(mine)


@pytest.mark.parametrize("sweep", ["owned_temp_folder", "ray_driver_folders"])
def test_a_folder_whose_makers_start_time_was_unknown_is_swept_once_no_process_has_its_pid(tmp_path, monkeypatch,
                                                                                           sweep):
    """``<pid>.unknown.<namespaces>`` (a maker whose ``/proc`` showed another PID namespace's, or
    none: no start time to write) made in these namespaces: its maker has ended once no process
    has that pid here, so the folder is stale. ``owned_temp_folder`` (a bench's or transfer run's
    throwaway store) and the Ray drivers' sweep took it for a pid-only name, which they leave, and
    left it for ever. A live pid keeps it (that process may be the maker: no start time tells),
    and so do other or unknown namespaces and a pid-only name (both say nothing about the pid)."""
    from lrgym.baselines.backend import DRIVER_DIR_PREFIX, sweep_driver_folders

    prefix = PREFIX if sweep == "owned_temp_folder" else DRIVER_DIR_PREFIX
    dead, me, ns = _dead_pid(), os.getpid(), namespaces()
    stale = tmp_path / f"{prefix}{dead}.unknown.{ns}-ab12"
    kept = [tmp_path / f"{prefix}{me}.unknown.{ns}-ab12",  # a process has the pid: it may be the maker
            tmp_path / f"{prefix}{dead}.unknown.1x1-ab12",  # another namespace's pid: not judged
            tmp_path / f"{prefix}{dead}.unknown.unknown-ab12",  # unknown namespaces: not judged
            tmp_path / f"{prefix}{dead}-ab12"]  # the pid alone, of unknown namespaces: left
    for folder in [stale, *kept]:
        folder.mkdir()
        (folder / "file").write_text("x")
    if sweep == "owned_temp_folder":
        monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
        with owner_names.owned_temp_folder(PREFIX) as mine:
            assert os.path.isdir(mine)
    else:
        assert sweep_driver_folders(str(tmp_path)) == 1
    assert not stale.exists()
    assert [f.name for f in kept if not (f / "file").exists()] == []
    assert sorted(os.listdir(tmp_path)) == sorted(f.name for f in kept)
