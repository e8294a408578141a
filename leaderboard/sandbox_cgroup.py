"""The sandbox's memory, processes and CPU time as a whole: a cgroup of its own.

The grader (:class:`lrgym.leaderboard.sandbox.PolicyProcess`) makes one group per sandbox before
the policy host starts (:func:`make_cgroup`; the host's first process joins it before ``exec``,
:meth:`SandboxCgroup.join`), reads its OOM-kill counter and CPU time while it waits for replies
(:meth:`SandboxCgroup.oom_kills`, :meth:`SandboxCgroup.cpu_used`, every
:data:`OOM_CHECK_SECONDS`) and removes it after the sandbox ended (:meth:`SandboxCgroup.remove`).
Groups left by a grader or worker killed with ``kill -9`` are removed by
:func:`sweep_stale_cgroups`, in whichever cgroup that grader ran: it walks every hierarchy a
sandbox uses from its top (once per process, :func:`sweep_stale_cgroups_once`: at its first
group or its pool's first run; and in the pool after a worker ended abnormally; each later group
sweeps below this process's own cgroups) and knows a sandbox's group by its name alone
(:data:`CGROUP_PREFIX` and its maker's owner tag).

Where no group can be made (no writable hierarchy: see :func:`make_cgroup` and the table in
:mod:`lrgym.leaderboard.sandbox`), each policy process has its own address-space and CPU-time
rlimits only: :func:`memory_bound` and :func:`cpu_bound` say which bound this machine gives
(probed once per process) and warn once where it is the weaker one.
"""

from __future__ import annotations

import functools
import os
import signal
import time

from lrgym.leaderboard.mountinfo import read_lines, split_line, unescape_field
from lrgym.baselines.owner_names import owner_gone, owner_tag

__all__ = ["CGROUP_PREFIX", "MIN_PROBE_MB", "OOM_CHECK_SECONDS", "SandboxCgroup", "cpu_bound", "make_cgroup",
           "memory_bound", "sweep_stale_cgroups", "sweep_stale_cgroups_once"]

#: name prefix of a sandbox's cgroup: ``lrgym-sandbox-<pid>.<start time>-<random>``, the pid and
#: start time of the process that made it (:func:`lrgym.baselines.owner_names.owner_tag`; older
#: groups: ``lrgym-sandbox-<pid>-<random>``)
CGROUP_PREFIX = "lrgym-sandbox-"
#: how often the grader reads the group's OOM-kill counter and CPU time while it waits for a
#: reply (and at most after a reply)
OOM_CHECK_SECONDS = 0.25


def _cgroup_mounts() -> list[tuple[str, str, str, set]]:
    """(file system type, root of the mount, mount point, super options) of every cgroup mount."""
    try:
        lines = read_lines()  # (a mount point not in UTF-8, or holding U+00A0, failed every sandbox start)
    except OSError:
        return []
    rows = []
    for a, b in map(split_line, lines):
        if len(a) >= 5 and len(b) >= 3 and b[0] in ("cgroup", "cgroup2"):
            rows.append((b[0], unescape_field(a[3]), unescape_field(a[4]), set(b[2].split(","))))
    return rows


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and under ``""`` its cgroup v2 path."""
    own = {}
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                hid, controllers, path = line.rstrip("\n").split(":", 2)
                if hid == "0" and not controllers:
                    own[""] = path
                for c in filter(None, controllers.split(",")):
                    own[c] = path
    except (OSError, ValueError):
        pass
    return own


def _own_cgroup_dir(version: int, controller: str = "") -> str | None:
    """The folder of this process's own cgroup in the (v2, or v1 ``controller``) hierarchy, if
    mounted here and writable: the sandboxes' groups are made inside it (never beside it)."""
    own = _own_cgroups()
    for fstype, root, point, opts in _cgroup_mounts():
        if version == 2 and fstype == "cgroup2":
            path = own.get("")
        elif version == 1 and fstype == "cgroup" and controller in opts:
            path = own.get(controller)
        else:
            continue
        if path is None:
            continue
        root = root.rstrip("/")
        if root:  # the mount shows a sub-tree only: the path must lie in it
            if path != root and not path.startswith(root + "/"):
                continue
            path = path[len(root):]
        folder = os.path.join(point, path.lstrip("/"))
        if os.path.isdir(folder) and os.access(folder, os.W_OK):
            return folder
    return None


def _write(path: str, value) -> None:
    with open(path, "w") as f:
        f.write(str(value))


def _read_counter(path: str, key: str) -> int:
    """The value of ``key`` in a flat-keyed cgroup file (``oom_kill 2``); 0 if absent."""
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == key:
                    return int(parts[1])
    except (OSError, ValueError):
        pass
    return 0


class SandboxCgroup:
    """The cgroup(s) of one sandbox: its memory limit, process bound and CPU-time limit hold for
    the policy process and everything it forks together, shared memory and memfd pages included
    (the address-space and CPU-time rlimits are per process: they do not count shared memory,
    and every episode process, :class:`~lrgym.leaderboard.episode_host.EpisodeHost`, and every
    child a policy forks starts with its own full CPU budget). Made by :func:`make_cgroup`
    before the sandbox starts (its first process joins it before ``exec``:
    :meth:`join`), removed by :meth:`remove` after it ended; groups of sandboxes whose grader
    was killed are removed by :func:`sweep_stale_cgroups`.

    * cgroup v2 (``memory`` enabled in the grader's own group's ``cgroup.subtree_control``,
      which the kernel's "no internal processes" rule allows only in the root cgroup, since the
      grader's own group holds the grader: a systemd unit, session or container never gets it;
      the grader does not move itself to a leaf of its own; untested): ``memory.max``,
      ``memory.swap.max`` 0, ``memory.oom.group`` 1 (an OOM kill ends the whole sandbox),
      ``pids.max``;
    * cgroup v1: ``memory.limit_in_bytes`` and ``memory.memsw.limit_in_bytes`` (no swap beyond
      it) in the memory hierarchy, ``pids.max`` in the pids one (when mounted), and a group in
      the ``cpuacct`` hierarchy (when mounted writable) to count its CPU time.

    Over its memory limit the kernel reclaims what it can, then its OOM killer kills a process of
    the group (only of the group): :meth:`oom_kills` counts them, and the grader fails the
    submission naming the memory limit. The CPU time is counted only, never throttled:
    :meth:`cpu_used` is the CPU time of every process that ever ran in the group, ended ones
    included (v2: ``usage_usec`` of ``cpu.stat``, which every v2 group has, with or without the
    ``cpu`` controller; v1: ``cpuacct.usage``); the grader compares it with ``cpu_seconds``
    while it waits (:meth:`lrgym.leaderboard.sandbox.PolicyProcess._check_cgroup`)."""

    def __init__(self, version: int, folders: list[str], memory_folder: str, memory_mb: float | None,
                 processes: int, cpu_file: str | None = None, cpu_seconds: float | None = None):
        self.version, self.folders, self.memory_folder = version, folders, memory_folder
        self.memory_mb, self.processes = memory_mb, processes
        self.cpu_file, self.cpu_seconds = cpu_file, cpu_seconds

    def describe(self) -> str:
        bound = f"{self.memory_mb:g} MB (memory of all its processes, shared memory included)"
        if any(os.path.exists(os.path.join(f, "pids.max")) for f in self.folders):
            bound += f" and {self.processes} tasks"
        return f"cgroup v{self.version} of its own: {bound}"

    def describe_cpu(self) -> str:
        source = "cpu.stat" if self.version == 2 else "cpuacct"
        return (f"cgroup v{self.version} of its own ({source}): {self.cpu_seconds:g} s of CPU for all its "
                f"processes together, read every {OOM_CHECK_SECONDS:g} s; each process also RLIMIT_CPU")

    def cpu_used(self) -> float | None:
        """CPU seconds used by every process that ran in the group so far (None if it cannot be read)."""
        if self.cpu_file is None:
            return None
        try:
            if self.version == 2:
                with open(self.cpu_file) as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) == 2 and parts[0] == "usage_usec":
                            return int(parts[1]) / 1e6
                return None
            with open(self.cpu_file) as f:
                return int(f.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            return None

    def join(self) -> None:  # pragma: no cover - runs in the child between fork and exec
        """Move the calling process into the group(s) (writing 0 moves the writer)."""
        for folder in self.folders:
            fd = os.open(os.path.join(folder, "cgroup.procs"), os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)

    def oom_kills(self) -> int:
        """How many processes the OOM killer killed in the group (the group over its limit)."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        return _read_counter(os.path.join(self.memory_folder, name), "oom_kill")

    def peak_mb(self) -> float | None:
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            with open(os.path.join(self.memory_folder, name)) as f:
                return int(f.read().split()[0]) / 2**20
        except (OSError, ValueError, IndexError):
            return None

    def remove(self, wait: float = 10.0) -> None:
        """Kill what is left in the group (nothing, normally: the namespace is gone) and remove it."""
        _remove_group_folders(self.folders, wait)


def _remove_group_folders(folders: list[str], wait: float = 10.0) -> bool:
    deadline = time.monotonic() + wait
    left = [f for f in folders if os.path.isdir(f)]
    while left:
        for folder in list(left):
            try:
                with open(os.path.join(folder, "cgroup.procs")) as f:
                    pids = [int(p) for p in f.read().split()]
            except (OSError, ValueError):
                pids = []
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                os.rmdir(folder)
                left.remove(folder)
            except FileNotFoundError:
                left.remove(folder)
            except OSError:  # EBUSY: its last processes are still exiting
                pass
        if not left:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _cgroup_parents() -> tuple[int, list[str]] | tuple[None, str]:
    """(version, [memory parent, then pids and cpuacct parents where mounted]) where this
    process may make groups, or (None, why not); cgroup v2 has one parent for everything."""
    v2 = _own_cgroup_dir(2)
    if v2 is not None:
        try:
            with open(os.path.join(v2, "cgroup.subtree_control")) as f:
                enabled = f.read().split()
        except OSError:
            enabled = []
        if "memory" in enabled:
            return 2, [v2]
    memory = _own_cgroup_dir(1, "memory")
    if memory is not None:
        parents = [memory]
        for controller in ("pids", "cpuacct"):  # one folder each, unless mounted together
            folder = _own_cgroup_dir(1, controller)
            if folder is not None and folder not in parents:
                parents.append(folder)
        return 1, parents
    why = ("no writable cgroup: cgroup v1 needs a writable memory hierarchy (root); cgroup v2 needs "
           "'memory' in cgroup.subtree_control of the grader's own group, which the kernel allows only in "
           "the root cgroup (a systemd service or session, a Delegate= unit or a container's own cgroup "
           "namespace holds the grader itself, so never gets it; the grader does not move itself)")
    return None, why


def make_cgroup(memory_mb: float | None, processes: int,
                cpu_seconds: float | None = None) -> tuple[SandboxCgroup | None, str]:
    """A new group for one sandbox with these limits, or (None, why not). Its CPU time is
    counted where the group can (``cpu_file``: v2 always, v1 with a writable ``cpuacct``
    hierarchy); :class:`lrgym.leaderboard.sandbox.PolicyProcess` compares it with ``cpu_seconds``."""
    if not memory_mb:
        return None, "no memory limit"
    version, parents = _cgroup_parents()
    if version is None:
        return None, parents
    sweep_stale_cgroups_once()
    sweep_stale_cgroups(parents)
    name = f"{CGROUP_PREFIX}{owner_tag()}-{os.urandom(6).hex()}"
    folders: list[str] = []
    limit = int(memory_mb * 2**20)
    try:
        for parent in parents:
            folder = os.path.join(parent, name)
            os.mkdir(folder, 0o755)
            folders.append(folder)
        memory = folders[0]
        if version == 2:
            _write(os.path.join(memory, "memory.max"), limit)
            for key, value in (("memory.swap.max", 0), ("memory.oom.group", 1)):
                if os.path.exists(os.path.join(memory, key)):
                    _write(os.path.join(memory, key), value)
            if os.path.exists(os.path.join(memory, "pids.max")):
                _write(os.path.join(memory, "pids.max"), int(processes))
            cpu_files = [os.path.join(memory, "cpu.stat")]
        else:
            _write(os.path.join(memory, "memory.limit_in_bytes"), limit)
            if os.path.exists(os.path.join(memory, "memory.memsw.limit_in_bytes")):
                _write(os.path.join(memory, "memory.memsw.limit_in_bytes"), limit)
            for folder in folders[1:]:  # the pids and cpuacct hierarchies' groups: each by its files
                if os.path.exists(os.path.join(folder, "pids.max")):
                    _write(os.path.join(folder, "pids.max"), int(processes))
            cpu_files = [os.path.join(f, "cpuacct.usage") for f in folders]
    except BaseException as exc:  # none of it is left (a KeyboardInterrupt halfway left the groups made so far)
        _remove_group_folders(folders, wait=1.0)
        if not isinstance(exc, OSError):
            raise
        return None, f"a cgroup could not be made ({exc.strerror or exc})"
    cpu_file = next((f for f in cpu_files if os.path.exists(f)), None)
    return SandboxCgroup(version, folders, folders[0], memory_mb, processes, cpu_file, cpu_seconds), ""


#: the cgroup v1 controllers a sandbox's group is made for (:func:`make_cgroup`)
_SANDBOX_CONTROLLERS = frozenset({"memory", "pids", "cpuacct"})


def _hierarchy_tops() -> list[str]:
    """The mount point of every cgroup hierarchy a sandbox's group may be made in (cgroup v2;
    v1 ``memory``, ``pids``, ``cpuacct``), each hierarchy once (known by its controllers; one
    mounted twice: the mount showing the most of it, the shortest root)."""
    tops: dict[tuple, tuple[int, str]] = {}
    for fstype, root, point, opts in _cgroup_mounts():
        hierarchy = (fstype, frozenset(opts & _SANDBOX_CONTROLLERS) if fstype == "cgroup" else frozenset())
        if fstype == "cgroup" and not hierarchy[1]:
            continue
        depth = len([part for part in root.split("/") if part])
        if hierarchy not in tops or depth < tops[hierarchy][0]:
            tops[hierarchy] = (depth, point)
    return [point for _, point in tops.values()]


def sweep_stale_cgroups(tops: list[str] | None = None) -> int:
    """Remove the sandbox groups whose maker has died (a worker or grader killed with ``kill -9``:
    its sandboxes died with it, their groups stayed), as :func:`lrgym.leaderboard.pool.sweep_orphaned_scratch`
    does for temp folders, wherever they lie below ``tops`` (default: every cgroup hierarchy
    from its top, :func:`_hierarchy_tops`): a grader killed in another cgroup (another login
    session's, service's, ``/process_api/<hash>``) made its groups inside that one, and they
    stayed until a grader ran there (until 2026-12-06). A sandbox's group is known by its
    name alone, :data:`CGROUP_PREFIX` and its maker's :func:`~lrgym.baselines.owner_names.owner_tag`:
    no other cgroup is touched, nor is a group below one (a sandbox's group is a leaf), nor one
    in a folder this process may not write (it could not remove it). The maker is known by its
    pid, start time and namespaces, so a group whose maker's pid now belongs to another process
    is removed too, a live maker's never, and one made in other namespaces (a grader in another
    container) is not judged; an older group named by the pid only is judged inside this
    process's own groups only, as before (its maker counts as alive while any process has that
    pid), and left elsewhere: a pid that does not say its namespaces may be another container's
    (:func:`lrgym.baselines.owner_names.owner_gone`). Returns how many were removed."""
    version, own = _cgroup_parents()
    own = {os.path.normpath(p) for p in own} if version is not None else set()
    removed = 0
    for top in _hierarchy_tops() if tops is None else tops:
        for folder, subfolders, _ in os.walk(os.path.normpath(top)):
            groups = [name for name in subfolders if name.startswith(CGROUP_PREFIX)]
            subfolders[:] = [name for name in subfolders if not name.startswith(CGROUP_PREFIX)]
            if not groups or not os.access(folder, os.W_OK):
                continue
            for name in groups:
                if owner_gone(name, CGROUP_PREFIX, pid_only_names=folder in own):
                    removed += _remove_group_folders([os.path.join(folder, name)], wait=1.0)
    return removed


@functools.lru_cache(maxsize=1)
def sweep_stale_cgroups_once() -> int:
    """:func:`sweep_stale_cgroups` of every hierarchy, once per process: at its first group
    (:func:`make_cgroup`) or its first pool run
    (:meth:`lrgym.leaderboard.pool.WorkerPool.run`), whichever comes first. It removes what
    graders killed before this process started left; the walk covers the host's whole cgroup
    tree (≈ 1 ms on the project's machine, ≈ 0.03 ms more per cgroup folder: ``python -m
    benchmarks.sweep_costs``), so every later group sweeps
    this process's own cgroups only, and a pool sweeps again only after a worker ended
    abnormally (a worker that ended normally removed its sandboxes' groups itself). Returns how
    many groups the first call removed (later calls: the same number, nothing is walked)."""
    return sweep_stale_cgroups()


@functools.lru_cache(maxsize=1)
def _probe_cgroup() -> tuple[int | None, bool, str]:
    """(cgroup version or None, whether it counts CPU time, why there is none): made and removed
    once per process."""
    group, why = make_cgroup(MIN_PROBE_MB, 16, 1.0)
    if group is None:
        return None, False, why
    group.remove()
    return group.version, group.cpu_file is not None, ""


@functools.lru_cache(maxsize=1)
def memory_bound() -> dict:
    """How ``--memory-limit`` bounds a sandbox on this machine (probed once per process by
    making and removing a group): ``{"cgroup": 1 | 2 | None, "note": str}``. Without a cgroup
    each process of the policy has its own address-space limit only, which its children and
    its shared memory escape: said once as a warning."""
    version, _, why = _probe_cgroup()
    if version is not None:
        return {"cgroup": version, "note": f"the memory limit holds for the whole sandbox (cgroup v{version})"}
    note = (f"{why}: the memory limit is each policy process's address space only (RLIMIT_AS); a policy's "
            "children and its shared memory (memfd, /dev/shm) are not counted (run the grader as root, or "
            "delegate the cgroup v2 memory controller to it)")
    import warnings

    warnings.warn(f"lrgym sandbox: {note}", RuntimeWarning, stacklevel=2)
    return {"cgroup": None, "note": note}


@functools.lru_cache(maxsize=1)
def cpu_bound() -> dict:
    """How the CPU-time part of ``--time-limit`` bounds a sandbox on this machine: ``{"cgroup":
    1 | 2 | None, "note": str}``. With a cgroup that counts CPU time (:func:`make_cgroup`) the
    limit holds for all the sandbox's processes together; without, each process has its own
    ``RLIMIT_CPU`` only, so every episode process and every child a policy forks gets the whole
    budget (the wall clock still bounds the total): said once as a warning."""
    version, counts, why = _probe_cgroup()
    if version is not None and counts:
        return {"cgroup": version, "note": f"the CPU-time limit holds for the whole sandbox (cgroup v{version})"}
    why = why if version is None else f"the sandbox's cgroup v{version} has no CPU accounting (no writable cpuacct hierarchy)"
    note = (f"{why}: the CPU-time limit is each policy process's own (RLIMIT_CPU); every episode process and "
            "every child a policy forks has the whole budget, only the wall clock bounds their total")
    import warnings

    warnings.warn(f"lrgym sandbox: {note}", RuntimeWarning, stacklevel=2)
    return {"cgroup": None, "note": note}


MIN_PROBE_MB = 64
