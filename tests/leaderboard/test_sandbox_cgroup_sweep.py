"""A worker killed at the time limit leaves no cgroup of its sandbox behind (a security review,
2026-12): its groups (memory, pids, cpuacct ``lrgym-sandbox-<worker pid>.<start time>-*``) stayed
until another sandbox was made on the machine; the pool now sweeps them once it has reaped the
worker (a killed or crashed one: tests/leaderboard/test_pool_cgroup_sweeps.py). A sweep knows a
group's maker by its pid and start time, so a group whose maker's pid was given to another
process is swept too."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from lb_helpers import dead_sandbox_groups, descendants_seen, sandbox_groups, tiny_suite

from lrgym.leaderboard import sandbox_cgroup
from lrgym.baselines.owner_names import namespaces, owner_gone, start_time
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")


@pytest.mark.skipif(sandbox_cgroup.memory_bound()["cgroup"] is None, reason="no sandbox cgroup on this machine")
def test_a_time_limit_kill_leaves_no_cgroup(tmp_path):
    (tmp_path / "hang.py").write_text("import time\nclass P:\n    def __init__(self):\n        time.sleep(3600)\n")
    suite = tiny_suite("hang")
    refs = load_references(suite, n_workers=1)
    before = sandbox_groups()
    with descendants_seen() as ours:  # (the makers of this test's groups, not a test's beside it)
        [outcome] = run_suite([submission_spec(f"{tmp_path}/hang.py:P")], suite, references=refs, n_workers=1,
                              time_limit=4)
    assert "timeout" in outcome.entry.failure_reason
    assert dead_sandbox_groups(before, makers=ours) == []


needs_cgroup = pytest.mark.skipif(sandbox_cgroup.memory_bound()["cgroup"] is None,
                                  reason="no sandbox cgroup on this machine")


@needs_cgroup
def test_a_sandbox_group_is_named_after_its_makers_pid_and_start_time():
    group, why = sandbox_cgroup.make_cgroup(sandbox_cgroup.MIN_PROBE_MB, 16)
    assert group is not None, why
    try:
        owner = f"{sandbox_cgroup.CGROUP_PREFIX}{os.getpid()}.{start_time(os.getpid())}.{namespaces()}-"
        assert all(os.path.basename(f).startswith(owner) for f in group.folders)
        sandbox_cgroup.sweep_stale_cgroups()
        assert all(os.path.isdir(f) for f in group.folders)  # its maker runs: kept
    finally:
        group.remove()


@needs_cgroup
def test_a_group_whose_makers_pid_was_reused_is_swept_and_no_live_makers_group():
    """A maker killed with ``kill -9`` left its groups, and the kernel gave its pid to another
    process: the groups stayed for as long as that unrelated process lived (a review, 2026-12).
    Simulated with live processes (this one, a child) and start times they did not start at."""
    version, parents = sandbox_cgroup._cgroup_parents()
    prefix = sandbox_cgroup.CGROUP_PREFIX
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    dead = subprocess.Popen(["true"])
    dead.wait()
    me, ns = os.getpid(), namespaces()
    reused = [f"{prefix}{me}.{start_time(me) - 1}.{ns}-feed", f"{prefix}{child.pid}.{start_time(child.pid) + 1}.{ns}-feed"]
    ended = [f"{prefix}{dead.pid}-dead", f"{prefix}{dead.pid}.{start_time(me)}.{ns}-dead"]
    live = [f"{prefix}{me}.{start_time(me)}.{ns}-beef", f"{prefix}{child.pid}.{start_time(child.pid)}.{ns}-beef",
            f"{prefix}{me}-cafe",  # an older name, the pid only (alive while the pid is)
            f"{prefix}{dead.pid}.{start_time(me)}.1x1-cafe"]  # another namespace's: not judged
    folders = {name: [os.path.join(p, name) for p in parents] for name in reused + ended + live}
    try:
        for name in folders:
            for folder in folders[name]:
                os.mkdir(folder)
        sandbox_cgroup.sweep_stale_cgroups()  # its count is not asserted: another process's sweep may take some first
        assert [name for name in reused + ended if any(map(os.path.exists, folders[name]))] == []
        assert [name for name in live if not all(map(os.path.isdir, folders[name]))] == []
    finally:
        child.kill()
        child.wait()
        for folder in sum(folders.values(), []):
            if os.path.isdir(folder):
                os.rmdir(folder)


def _dead_makers_tag() -> str:
    """The :func:`~lrgym.baselines.owner_names.owner_tag` of a process that has ended (a grader
    killed with ``kill -9``: its pid and start time, these namespaces)."""
    code = "from lrgym.baselines.owner_names import owner_tag; print(owner_tag())"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


@needs_cgroup
def test_the_groups_of_a_grader_killed_in_another_cgroup_are_swept_and_no_others():
    """A grader makes its sandboxes' groups inside its own cgroup; one killed with ``kill -9``
    while it ran in another cgroup than this grader (another ``/process_api/<hash>``, login
    session or service) left them there, and the sweep, which looked at the children of this
    grader's own cgroups only, never found them (a review, 2026-12-06). Simulated below this
    grader's own groups (a cgroup made here stands for the other grader's, and one below it for a
    deeper one), in every hierarchy a sandbox uses: the dead maker's groups are removed; a live
    maker's, one made in other namespaces, one named by a pid alone (said nothing about its
    namespaces: judged in this grader's own cgroups only) and the other cgroups themselves stay."""
    version, parents = sandbox_cgroup._cgroup_parents()
    prefix, ns = sandbox_cgroup.CGROUP_PREFIX, namespaces()
    killed = _dead_makers_tag()
    dead = int(killed.split(".")[0])
    other = f"lrgym-test-grader-{os.urandom(4).hex()}"
    others = [os.path.join(p, other) for p in parents] + [os.path.join(p, other, "deeper") for p in parents]
    stale = [os.path.join(o, f"{prefix}{killed}-feed") for o in others]
    kept = [os.path.join(o, name) for o in others
            for name in (f"{prefix}{os.getpid()}.{start_time(os.getpid())}.{ns}-beef",  # a live maker's
                         f"{prefix}{dead}.{start_time(os.getpid())}.1x1-cafe",  # another namespace's
                         f"{prefix}{dead}-cafe")]  # a pid alone, outside this grader's own cgroups
    made = []
    try:
        for folder in others + stale + kept:
            os.mkdir(folder)
            made.append(folder)
        sandbox_cgroup.sweep_stale_cgroups(parents)  # its count is not asserted: another process's sweep may take some first
        assert [f for f in stale if os.path.exists(f)] == []
        assert [f for f in kept + others if not os.path.isdir(f)] == []
    finally:
        for folder in reversed(made):
            if os.path.isdir(folder):
                os.rmdir(folder)


def _fake_cgroup_files(monkeypatch, mountinfo_text: str, own_cgroups: str) -> None:
    """``/proc/self/mountinfo`` and ``/proc/self/cgroup`` read as these texts."""
    import builtins

    from lrgym.leaderboard import mountinfo

    real_open = builtins.open
    fakes = {"/proc/self/mountinfo": mountinfo_text, "/proc/self/cgroup": own_cgroups}

    def fake_open(path, *args, **kwargs):
        if path in fakes:
            import io

            return io.StringIO(fakes[path])
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(mountinfo, "open", fake_open, raising=False)
    monkeypatch.setattr(sandbox_cgroup, "open", fake_open, raising=False)


def test_the_sweep_walks_every_sandbox_hierarchy_from_its_top(tmp_path, monkeypatch):
    """The sweep a grader runs (no arguments: at its first sandbox or pool run, and once a pool
    reaped a worker that ended abnormally) reaches the groups of dead makers in any cgroup of
    every hierarchy a sandbox uses (cgroup v1 memory, pids and cpuacct, cgroup v2), found from
    the mount table; it looked in this grader's own cgroups only. Folders stand for the
    hierarchies here (no root needed)."""
    prefix, ns, me = sandbox_cgroup.CGROUP_PREFIX, namespaces(), os.getpid()
    killed = _dead_makers_tag()
    dead = int(killed.split(".")[0])
    mounts = {"memory": "cgroup rw,memory", "pids": "cgroup rw,pids", "cpu,cpuacct": "cgroup rw,cpu,cpuacct",
              "cpuset": "cgroup rw,cpuset", "systemd": "cgroup rw,xattr,name=systemd", "unified": "cgroup2 rw"}
    text = "".join(f"{30 + i} 25 0:{40 + i} / {tmp_path}/{name} rw - {kind.split()[0]} {kind}\n"
                   for i, (name, kind) in enumerate(mounts.items()))
    text += f"50 25 0:60 /grader-a {tmp_path}/memory-again rw - cgroup cgroup rw,memory\n"  # a sub-tree, again
    _fake_cgroup_files(monkeypatch, text, "9:name=systemd:/\n8:pids:/\n4:memory:/grader-a\n0::/\n")
    stale = ["memory/grader-b/" + f"{prefix}{killed}-feed", "memory/grader-b/session/" + f"{prefix}{killed}-feed",
             "memory/grader-a/" + f"{prefix}{killed}-feed", "pids/grader-b/" + f"{prefix}{killed}-feed",
             "cpu,cpuacct/" + f"{prefix}{killed}-feed", "unified/grader-b/" + f"{prefix}{killed}-feed",
             "memory/grader-a/" + f"{prefix}{dead}-cafe"]  # a pid alone, in this grader's own cgroup
    kept = ["memory/grader-b/" + f"{prefix}{me}.{start_time(me)}.{ns}-beef", "memory/grader-b/" + f"{prefix}{dead}-cafe",
            "memory/grader-b/" + f"{prefix}{dead}.{start_time(me)}.1x1-cafe",
            "cpuset/grader-b/" + f"{prefix}{killed}-feed",  # no hierarchy of a sandbox's: not lrgym's
            "systemd/grader-b/" + f"{prefix}{killed}-feed", "memory/grader-b/other-feed"]
    for path in stale + kept:
        os.makedirs(tmp_path / path)
    (tmp_path / "memory-again").mkdir()
    assert sandbox_cgroup.sweep_stale_cgroups() == len(stale)
    assert [path for path in stale if (tmp_path / path).exists()] == []
    assert [path for path in kept if not (tmp_path / path).is_dir()] == []
    # each hierarchy once (the memory one mounted again, a sub-tree: its top is the whole one's)
    assert sandbox_cgroup._hierarchy_tops() == [f"{tmp_path}/{name}" for name in ("memory", "pids", "cpu,cpuacct", "unified")]


def test_cgroup_mounts_keep_a_mount_point_of_any_bytes_in_its_field(tmp_path, monkeypatch):
    """A helper's reading (2026-12-05): mountinfo was read as strict UTF-8 and split on any
    whitespace, so a mount point not in UTF-8 (a UnicodeDecodeError, which no caller expects)
    or holding U+00A0 (taken for a space: the fields shifted) broke every sandbox start."""
    import builtins

    from lrgym.leaderboard import mountinfo, sandbox_cgroup

    fake = tmp_path / "mountinfo"
    fake.write_bytes(b"25 1 0:22 / /sys/fs/cgroup rw shared:8 - tmpfs tmpfs ro,mode=755\n"
                     b"30 25 0:26 / /sys/fs/cgroup/mem\xff\xc2\xa0ory rw,nosuid shared:11 - cgroup cgroup rw,memory\n"
                     b"31 25 0:27 /a\\040b /sys/fs/cgroup/unified rw shared:12 - cgroup2 cgroup2 rw,nsdelegate\n")
    real_open = builtins.open
    monkeypatch.setattr(mountinfo, "open",
                        lambda path, *a, **k: real_open(fake if path == "/proc/self/mountinfo" else path, *a, **k),
                        raising=False)
    assert sandbox_cgroup._cgroup_mounts() == [
        ("cgroup", "/", "/sys/fs/cgroup/mem\udcff\xa0ory", {"rw", "memory"}),
        ("cgroup2", "/a b", "/sys/fs/cgroup/unified", {"rw", "nsdelegate"}),
    ]


def test_mount_points_below_a_folder_keep_names_with_whitespace_the_kernel_does_not_escape(tmp_path, monkeypatch):
    """A review (2026-12-05): the policy host split mountinfo lines on any whitespace, so a mount at
    ``.../a\\vb`` was seen as ``.../a`` and left writable under a read-only bind."""
    import builtins

    from lrgym.leaderboard import mountinfo, sandbox_root

    top = tmp_path / "top"
    top.mkdir()
    fake = tmp_path / "mountinfo"
    fake.write_bytes(f"40 1 0:30 / {top} rw - tmpfs tmpfs rw\n".encode()
                     + f"41 40 0:31 / {top}/a\x0bb rw - tmpfs tmpfs rw\n".encode()
                     + f"42 40 0:32 / {top}/c\\040d\xa0e rw - tmpfs tmpfs rw\n".encode()
                     + b"43 1 0:33 / /elsewhere rw - tmpfs tmpfs rw\n")
    real_open = builtins.open
    monkeypatch.setattr(mountinfo, "open",
                        lambda path, *a, **k: real_open(fake if path == "/proc/self/mountinfo" else path, *a, **k),
                        raising=False)
    assert sandbox_root.mount_points(str(top)) == [str(top), f"{top}/a\x0bb", f"{top}/c d\xa0e"]


@needs_cgroup
@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()], ids=["OSError", "interrupt"])
def test_a_group_made_halfway_is_removed_from_every_hierarchy(monkeypatch, error):
    """Making a sandbox's group fails (or is interrupted: a stop signal of a grader that runs its
    sandboxes itself) after its folders were made in every hierarchy, at the first limit
    written: none of them is left (an interrupt left the memory, pids and cpuacct groups, its
    maker alive, so no sweep removed them)."""
    version, parents = sandbox_cgroup._cgroup_parents()
    real_write = sandbox_cgroup._write

    def write(path, value):
        if os.path.basename(os.path.dirname(path)).startswith(sandbox_cgroup.CGROUP_PREFIX + f"{os.getpid()}."):
            raise error
        real_write(path, value)

    monkeypatch.setattr(sandbox_cgroup, "_write", write)
    before = {p: set(os.listdir(p)) for p in parents}
    if isinstance(error, OSError):
        group, why = sandbox_cgroup.make_cgroup(sandbox_cgroup.MIN_PROBE_MB, 16)
        assert group is None and why == "a cgroup could not be made (No space left on device)"
    else:
        with pytest.raises(KeyboardInterrupt):
            sandbox_cgroup.make_cgroup(sandbox_cgroup.MIN_PROBE_MB, 16)
    mine = sandbox_cgroup.CGROUP_PREFIX + f"{os.getpid()}."
    assert [(p, n) for p in parents for n in set(os.listdir(p)) - before[p] if n.startswith(mine)] == []


def _groups_of_children_of(parents: list[str], pid: int) -> list[str]:
    """The sandbox groups of ``parents`` whose maker is a child process of ``pid`` (a grader's worker)."""
    found = []
    for parent in parents:
        for name in os.listdir(parent):
            maker = name[len(sandbox_cgroup.CGROUP_PREFIX):].split(".", 1)[0]
            if name.startswith(sandbox_cgroup.CGROUP_PREFIX) and maker.isdigit():
                try:
                    with open(f"/proc/{maker}/stat", "rb") as f:
                        ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if ppid == pid:
                    found.append(os.path.join(parent, name))
    return found


def _maker_gone(group: str) -> bool:
    return owner_gone(os.path.basename(group), sandbox_cgroup.CGROUP_PREFIX)


@needs_cgroup
def test_the_groups_of_a_grader_killed_with_sigkill_mid_job_are_removed_by_the_next_grader(tmp_path):
    """A grader killed with ``kill -9`` while its sandbox runs: its worker dies with it
    (``PR_SET_PDEATHSIG``) and nobody removes the sandbox's groups (the memory one inside the
    grader's own cgroup, the pids and cpuacct ones where those hierarchies put it). The next
    grader, run in the same cgroup, removes them (their maker's name says it has ended). Real
    graders (``lrgym leaderboard submit``), the first killed with SIGKILL mid-job. (Passed on the
    code it was written for: a check that the sweep reaches a real grader's leftovers, which the
    tests above make by name.)"""
    import signal
    import time

    (tmp_path / "hang.py").write_text("import time\nclass P:\n    def __init__(self):\n        time.sleep(3600)\n")
    (tmp_path / "const.py").write_text("from lrgym.baselines.policy import LRPolicy\n"
                                       "class C(LRPolicy):\n    def lr_at(self, t, obs, info):\n        return 1e-3\n")
    version, parents = sandbox_cgroup._cgroup_parents()
    env = {**os.environ, "TMPDIR": str(tmp_path)}

    def grader(target: str) -> list[str]:
        return [sys.executable, "-m", "lrgym.leaderboard.entry", "leaderboard", "submit", target, "--suite", "quick",
                "--db", str(tmp_path / "board.sqlite"), "--workers", "1", "--time-limit", "900"]

    killed = subprocess.Popen(grader(f"{tmp_path}/hang.py:P"), env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while (len(groups := _groups_of_children_of(parents, killed.pid)) < len(parents)
               and killed.poll() is None and time.monotonic() < deadline):
            time.sleep(0.1)
        assert len(groups) == len(parents), groups  # its sandbox's group in every hierarchy
        time.sleep(1)  # the policy's sleep: mid-job
    finally:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
    deadline = time.monotonic() + 60
    while not all(map(_maker_gone, groups)) and time.monotonic() < deadline:
        time.sleep(0.1)  # its worker is ending (PDEATHSIG); its groups are left (unless a sandbox
    assert all(map(_maker_gone, groups))  # another test starts in this cgroup sweeps them first)
    run = subprocess.run(grader(f"{tmp_path}/const.py:C"), env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert [g for g in groups if os.path.exists(g)] == []

