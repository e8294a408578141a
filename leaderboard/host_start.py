"""How the grader starts the policy host (:mod:`lrgym.leaderboard.policy_host`): what
:meth:`lrgym.leaderboard.sandbox.PolicyProcess._start` runs and sends it first.

* the command: ``unshare`` with the sandbox's namespaces in front of ``python -m
  lrgym.leaderboard.policy_host`` (:func:`unshare_flags`; without namespaces, nothing in front);
* its whole environment (:func:`sandbox_env`): nothing of the grader's but a few named variables;
* between ``fork`` and ``exec``, ``PR_SET_PDEATHSIG`` (:func:`pdeathsig`): it dies with the grader;
* in its first message, what its private root holds: the directories bound read-only and the
  symlinks recreated (:func:`root_contents`), the grader's folders covered inside them
  and the grader's own files there (:func:`masked_dirs`), the folders it imports from that
  lie inside a covered one, bound again over the cover (:func:`reshown_dirs`), and this
  machine's ``pid_max`` (:func:`machine_pid_max`).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile

from lrgym.leaderboard.import_paths import grader_files, hidden_dirs, import_paths
from lrgym.tasks.blas import SINGLE_THREAD_ENV

__all__ = ["POLICY_HASH_SEED", "SYSTEM_DIRS", "library_dirs", "machine_pid_max", "masked_dirs", "pdeathsig",
           "python_dirs", "reshown_dirs", "root_contents", "sandbox_env", "unshare_flags"]


def pdeathsig():
    """A function setting ``PR_SET_PDEATHSIG`` SIGKILL, for the child between ``fork`` and
    ``exec``: the calling process (the host's first) dies with its parent, the grader. The C
    library and its ``prctl`` are looked up here, in the grader, before the fork: a child of a
    process with threads must not load a library (another thread may have held the loader's lock
    at the fork, and the child would wait for it forever)."""
    from lrgym.leaderboard.libc import c_library

    prctl = c_library().prctl

    def set_pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
        prctl(1, int(signal.SIGKILL), 0, 0, 0)

    return set_pdeathsig


SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def python_dirs() -> list[str]:
    """The folders a policy imports from, bound into its root: the Python installation, the
    ``sys.path`` directories of :func:`~lrgym.leaderboard.import_paths.import_paths` and the
    lrgym packages (as this process names them)."""
    import lrgym
    import lrgym.baselines
    import lrgym.leaderboard

    return [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
            *import_paths(), *(os.path.dirname(m.__file__) for m in (lrgym, lrgym.baselines, lrgym.leaderboard))]


def library_dirs() -> list[str]:
    """The folders whose modules a policy imports whatever its ``PYTHONPATH`` (real paths): the
    Python installation's standard library and site-packages as the interpreter puts them on
    ``sys.path`` (:mod:`sysconfig`'s ``stdlib``, ``platstdlib``, ``purelib`` and ``platlib`` that
    are on it) and the lrgym packages. A cover over one of them, or over a folder inside one
    (``site-packages/numpy``), takes those modules from every policy: such a folder can be no
    hidden folder (:func:`lrgym.leaderboard.grader_places.check_hidden_dirs`)."""
    import sysconfig

    import lrgym
    import lrgym.baselines
    import lrgym.leaderboard

    on_path = {os.path.realpath(p) for p in sys.path if p and os.path.isabs(p)}
    installed = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    packages = {os.path.dirname(os.path.realpath(m.__file__)) for m in (lrgym, lrgym.baselines, lrgym.leaderboard)}
    return sorted((installed & on_path) | packages)


def root_contents() -> tuple[list[str], dict[str, str]]:
    """(directories bound read-only into the policy's root, symlinks recreated there): the
    system directories, the Python installation, the ``sys.path`` directories of
    :func:`~lrgym.leaderboard.import_paths.import_paths` (never the grader's working directory)
    and the lrgym packages, nested ones dropped."""
    links, wanted = {}, []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            links[d] = os.readlink(d)
        elif os.path.isdir(d):
            wanted.append(d)
    python = python_dirs()
    wanted += [os.path.realpath(p) for p in python] + [os.path.abspath(p) for p in python]
    never = {"/", "/tmp", "/dev", "/proc", "/sys", "/var/tmp", os.path.realpath(tempfile.gettempdir())}
    paths: list[str] = []
    for p in sorted(set(wanted) - never, key=len):
        if os.path.isdir(p) and not os.path.islink(p) and not any(p == q or p.startswith(q.rstrip("/") + "/")
                                                                  for q in paths):
            paths.append(p)
    return paths, links


def masked_dirs(paths: list[str], hidden: list[str] | None = None, files: list[str] | None = None,
                needed: list[str] | None = None) -> list[str]:
    """Where the hidden directories (:func:`~lrgym.leaderboard.import_paths.hidden_dirs`: this
    process's working directory and ``$LRGYM_HIDDEN_DIRS``) and the grader's own files
    (:func:`~lrgym.leaderboard.import_paths.grader_files`: its store, a private suite's key and
    references) appear inside the bound ``paths``: the policy host covers each folder with an
    empty read-only tmpfs and each file with an empty read-only file. A grader working in
    ``/usr/src/app`` (Docker's usual ``WORKDIR``) or in a folder of the venv is never bound itself,
    but ``/usr`` or the venv is; a store given as ``--db /etc/lrgym/results.sqlite`` lies in
    ``/etc``. Only paths strictly inside a bound directory are listed (one that is, or holds, a
    bound directory is the system or Python itself), under each name the bound directory has in
    the root (its real path and the path it was bound by). The folder holding each grader file
    is listed too (its side files, journals and copies appear there while a sandbox runs) unless
    it holds a folder the policy imports from (``needed``, default :func:`python_dirs`): then the
    grader files themselves are, each only while it lasts (a store there is refused:
    :mod:`lrgym.leaderboard.grader_places`). A covered folder may hold folders the policy
    imports from (Docker's ``WORKDIR /usr/src/app`` with the venv in ``/usr/src/app/.venv``):
    those are bound again over the cover (:func:`reshown_dirs`)."""
    hidden = hidden_dirs() if hidden is None else hidden
    files = grader_files() if files is None else files
    needed = [os.path.realpath(d).rstrip("/") + "/" for d in (python_dirs() if needed is None else needed)]
    folders = {os.path.dirname(os.path.realpath(f)) for f in files}
    folders = [d for d in folders if not any(n.startswith(d.rstrip("/") + "/") for n in needed)]
    masked = set()
    for p in paths:
        real = os.path.realpath(p).rstrip("/") + "/"
        for h in [*hidden, *files, *folders]:
            h = os.path.realpath(h)
            if h.startswith(real) and len(h) > len(real):
                masked.add(p.rstrip("/") + "/" + h[len(real):].rstrip("/"))
    return sorted(masked, key=lambda m: (len(m), m))


def reshown_dirs(masked: list[str], needed: list[str] | None = None) -> list[str]:
    """The folders the policy imports from (``needed``, default :func:`python_dirs`) that lie
    strictly inside a folder of ``masked`` (:func:`masked_dirs`), under each name that folder
    has in the root: the policy host binds each again, read-only, over the empty cover, so the
    rest of the covered folder stays hidden (a file made there later included). A grader working
    in ``/usr/src/app`` (Docker's usual ``WORKDIR``, under the bound ``/usr``) whose venv is
    ``/usr/src/app/.venv`` and whose project is installed editable from ``/usr/src/app`` covers
    ``/usr/src/app`` and shows ``.venv``, ``lrgym``, ``leaderboard`` and ``baselines`` in it;
    until 2026-12-07 it showed nothing there, and every policy failed to start (``No module
    named 'lrgym.baselines'``). A folder inside another one listed is dropped (the bind of
    the outer one holds it); a grader file or folder inside a reshown folder is still covered
    (:func:`lrgym.leaderboard.sandbox_root.new_root` covers and binds outermost first)."""
    needed = {os.path.realpath(d) for d in (python_dirs() if needed is None else needed)}
    shown = set()
    for m in masked:
        real = os.path.realpath(m).rstrip("/") + "/"
        for n in needed:
            if n.startswith(real) and len(n) > len(real):
                shown.add(m.rstrip("/") + "/" + n[len(real):].rstrip("/"))
    return sorted((s for s in shown if not any(s.startswith(o + "/") for o in shown)), key=lambda s: (len(s), s))


def unshare_flags(user_ns: bool) -> list[str]:
    """New PID, network, mount, System V IPC and UTS namespaces (IPC: the policy's shared-memory
    segments and semaphores are its own and vanish with it, outside its memory limit otherwise)."""
    flags = ["unshare", "--pid", "--fork", "--kill-child", "--net", "--mount", "--mount-proc", "--ipc", "--uts"]
    if user_ns:
        flags[1:1] = ["--user", "--map-root-user"]
    return flags


#: the policy host's ``PYTHONHASHSEED``, whatever the grader's: a submission's str hashes and set
#: iteration orders, hence its grade, do not depend on how the grader was started
POLICY_HASH_SEED = "0"


def sandbox_env(work: str, numba_cache: str) -> dict:
    """The policy host's whole environment: ``work`` is the folder it works in, ``numba_cache``
    Numba's cache (see :meth:`lrgym.leaderboard.sandbox.PolicyProcess._start`)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        # what the worker imports, minus the grader's working directory; nothing first on the path
        "PYTHONPATH": os.pathsep.join(import_paths()),
        "PYTHONSAFEPATH": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "USER": "sandbox",
        "NUMBA_CACHE_DIR": numba_cache,
        "MPLCONFIGDIR": f"{work}/.matplotlib",
    }
    # one thread for BLAS / OpenMP and for Numba's pool (a policy's prange): the pool is the parallelism
    env.update(SINGLE_THREAD_ENV, NUMBA_NUM_THREADS="1")
    # a policy's str hashes and set orders are the same in every host, whatever the grader's
    # PYTHONHASHSEED (unset: a random one per process, so the grade of a policy iterating a set of
    # str changed from run to run, job to job and with --workers)
    env["PYTHONHASHSEED"] = POLICY_HASH_SEED
    # LRGYM_TEST_TOKEN: a marker the tests find leftover processes by (it grants nothing)
    for var in ("NPY_DISABLE_CPU_FEATURES", "LRGYM_TEST_TOKEN"):
        if var in os.environ:
            env[var] = os.environ[var]
    return env


def machine_pid_max() -> int | None:
    """This machine's ``kernel.pid_max`` as the grader sees it (the policy host compares its own
    namespace's with it: :func:`lrgym.leaderboard.sandbox_privileges.bound_processes`)."""
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None
