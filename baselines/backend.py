"""Where jobs that fan out run: a local process pool (default) or a Ray cluster.

Every command that runs many independent jobs (tuning, the reference searches, the leaderboard's
grading) takes a :class:`Backend`::

    python -m lrgym.baselines.tune --backend ray --address auto     # an existing Ray cluster
    lrgym leaderboard run-baselines --backend ray --address 10.0.0.5:6379
    lrgym leaderboard submit my.py:Mine --backend ray                # a Ray instance on this machine

* ``local`` — :func:`lrgym.baselines.parallel.imap`, a process pool sized to this machine's cores.
* ``ray`` — the same jobs as Ray tasks (``num_cpus=1`` each, BLAS on one thread), results
  streamed back to the driver as they finish (:func:`ray_imap`). ``--address`` is Ray's:
  ``auto`` (the cluster this machine belongs to), ``HOST:PORT`` of a head node, or nothing (a
  Ray instance started for this run on this machine and ended with it).

The jobs, their seeds and the code they run are the same on both backends, so their results are
the same to the bit on machines of one kind (tests/test_ray_cluster.py). A job whose Ray worker
dies (its process killed, its node lost, or Ray's memory monitor killed it) runs again once, on
whichever node Ray places it, with a warning naming the job and the node it was lost on
(:class:`RunNodes`; the later losses on a node already warned of are named together, in one
line, at the end of the run); a second loss raises :class:`JobLost` naming the job and Ray's
reason. Ray's errors that are no lost worker (a runtime environment that cannot be set up: the
message names the node; a task no node can place) stop the run at once (:class:`RayCannotRun`).
Ray is an optional extra (``pip install "lrgym[ray]"``) imported only when the ``ray`` backend
is used.

Tasks still in flight when a run stops early (a job's error, a lost job, the caller closing the
generator, a stop signal) are never cancelled with ``ray.cancel``: they are stopped cooperatively
(:mod:`lrgym.baselines.ray_stop`). The driver writes the run's stop key into Ray's GCS key-value
store; each task's watcher thread reads it about once a second and interrupts the job, which
ends with :class:`~lrgym.baselines.ray_stop.RunStopped`, an error nobody waits for; the key is
deleted once those tasks have ended. So a long-lived driver (a notebook) gets the cluster's CPUs
back within seconds, not when the jobs would have ended. Ray 2.60 aborts the driver when
``ray.cancel`` (``force`` or not) meets a task whose reply is arriving: the cancel finds the task
in none of its submitter's tables and fails it, then the reply completes a task that is no longer
pending (``Check failed ... Tried to complete task that was not pending``, a SIGABRT of the whole
driver; ray-project/ray PR #54798 describes the race). Tasks stopped early are often finishing
at that moment (:func:`on_each_node`'s are alike: when one node's fails the others are ending
too); a loop cancelling finishing tasks aborted a driver here within seconds, and a CI run lost a
test process to it (2026-12-06). The cooperative stop touches none of Ray's task tables (a key
written, references waited on), so it cannot meet that race.

This module is floor 2 of the stack (``lrgym.baselines``); the leaderboard's grading pool on
Ray (:mod:`lrgym.leaderboard.ray_pool`) builds on :func:`connect`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from lrgym.baselines.interrupts import keep_stop_handlers
from lrgym.baselines.node_check import INTERPRETER_SETTINGS, CPUKinds, NodeMismatch, node_differences, node_fingerprint
from lrgym.baselines.ray_logs import TOKEN_NOTICE, notices_dropped, ray_logs_shown  # noqa: F401 (TOKEN_NOTICE: re-exported)
from lrgym.baselines.ray_stop import new_run_key, stop_run
from lrgym.tasks import families_env
from lrgym.tasks.blas import SINGLE_THREAD_ENV

__all__ = ["BACKENDS", "DRIVER_DIR_PREFIX", "Backend", "JobLost", "RAY_WORKER_ENV", "TASK_MEMORY_MB", "check_memory_request", "connect",
           "NodeTaskFailed", "RayCannotRun", "add_backend_arguments", "cannot_run", "killed_for_memory", "memory_kill_reason", "check_address_form", "check_workers", "get_backend", "import_ray", "largest_node_memory_mb", "node_name", "on_each_node", "node_report", "ray_imap", "ray_reason", "RunNodes", "sweep_driver_folders", "worker_env", "worker_lost",
           "workers_type"]

BACKENDS = ("local", "ray")
#: environment of every Ray worker lrgym starts: BLAS on one thread (the cluster gives the parallelism;
#: :data:`lrgym.tasks.blas.SINGLE_THREAD_ENV`)
RAY_WORKER_ENV = dict(SINGLE_THREAD_ENV)
#: a job whose worker dies is run again this many times before it counts as failed
RAY_RETRIES = 1
#: Ray ``memory`` (MB) each tuning / reference task, and each grader actor besides its sandbox,
#: asks for: a grader worker's peak resident memory over quick-suite jobs of four families was
#: 204 MB (bold_driver, measured 2026-12-04 with ``resource.getrusage``), plus the Ray worker
#: process holding it; Ray then places no more of them on a node than its memory holds
TASK_MEMORY_MB = 512


class JobLost(RuntimeError):
    """A job's Ray worker died on every attempt (1 + :data:`RAY_RETRIES`)."""


class RayCannotRun(RuntimeError):
    """Ray failed a task or a grader actor for a reason that is no lost worker and that running
    it again cannot change (:func:`worker_lost`): its runtime environment could not be set up on
    the node, no node can ever place it, a worker process could not start... The run stops at once
    with Ray's error; it used to run the job again and then say its worker was lost twice."""


def worker_lost(ray, error: BaseException) -> bool:
    """Whether Ray's ``error`` for a task or an actor's call (a ``ray.exceptions.RayError`` that
    is no ``RayTaskError``, the job's own) says its Ray worker was lost, so that the job may run
    again on a live one: the worker process died or was killed (``WorkerCrashedError``; an
    actor's ``ActorDiedError``, unless its constructor raised, or ``ActorUnavailableError``), its
    node or raylet died (``NodeDiedError``, ``LocalRayletDiedError``), or its result was lost
    with its node (``ObjectLostError``). A worker Ray's memory monitor killed is no lost worker
    (:func:`killed_for_memory`: each caller decides). Anything else (``RuntimeEnvSetupError``,
    ``TaskUnschedulableError``, ``ActorUnschedulableError``, a full object store, a worker that
    could not start: ``RaySystemError``) fails again the same way: :class:`RayCannotRun`."""
    known = ray.exceptions
    if isinstance(error, known.RayActorError):
        return not error.actor_init_failed
    return isinstance(error, (known.WorkerCrashedError, known.NodeDiedError, known.LocalRayletDiedError,
                              known.ObjectLostError))


def killed_for_memory(ray, error: BaseException) -> bool:
    """Whether Ray's ``error`` says its memory monitor killed the worker (``OutOfMemoryError``: the
    node's memory in use went over ``RAY_memory_usage_threshold``, and the raylet killed workers
    to bring it down; a task's and an actor's call alike, checked on Ray 2.60). The node lives:
    it is no lost worker (:func:`worker_lost`). A tuning or reference task (the project's own
    code) runs again once, as for a lost worker (:func:`ray_imap`), and so does a grader actor's
    job (the monitor acts on the node's memory as a whole, not on whose); killed so again, its
    entry fails with :func:`memory_kill_reason` (:mod:`lrgym.leaderboard.ray_pool`)."""
    return isinstance(error, ray.exceptions.OutOfMemoryError)


def memory_kill_reason(error: BaseException, where: str = "") -> str:
    """The reason an entry fails with when Ray's memory monitor killed its grader actor
    (:func:`killed_for_memory`): ``killed by Ray's memory monitor`` ``where`` (`` on the Ray node
    NAME``), then Ray's own first line (how much of the node's memory was in use) and its
    ``OOM kill reason`` line (the threshold), without its lists of processes."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    said = lines[:1] + [line for line in lines[1:] if line.startswith("OOM kill reason")][:1]
    return f"killed by Ray's memory monitor{where}: {' '.join(said) or type(error).__name__}"


def cannot_run(what: str, error: BaseException, where: str = "") -> RayCannotRun:
    """The :class:`RayCannotRun` for ``what`` (a job, a grader actor) that Ray failed with ``error``
    (no lost worker: :func:`worker_lost`): Ray's error in full, and why nothing runs again.
    A runtime environment that could not be set up (``RuntimeEnvSetupError``) is a node's fault:
    the message names it first (``where``: :meth:`RunNodes.where_env_failed`) and the fix.

    Why such a run stops rather than running the job on another node: lrgym's runtime environment
    is environment variables and an empty working folder (:func:`worker_env`, :func:`connect`),
    which a sound node always sets up; a node that cannot (its runtime env agent down, its disk
    full) fails every task and actor Ray places there, and Ray goes on placing them there. A run
    that stepped round it would go on at the cluster's pace less that node, or stop later, with
    the broken node still unnamed; stopped at once it names the node, and the operator mends it
    or takes it out (finished entries are kept in the store). Ray's own retry options do not
    step round it either (tried on Ray 2.60: a task of ``max_retries=3`` and an actor of
    ``max_restarts=3, max_task_retries=3`` fail with ``RuntimeEnvSetupError``, the actor at once,
    its node keeping the failed set-up; rescheduling on another node, ray-project/ray#20188, was
    never merged)."""
    said = f"{type(error).__name__}: {error}"
    if type(error).__name__ == "RuntimeEnvSetupError":
        return RayCannotRun(
            f"Ray cannot run {what}: {where or 'a Ray node'} cannot set up the runtime environment of lrgym's Ray "
            "workers (environment variables and an empty working folder, which a sound node always can: its "
            "runtime_env_agent.log, in Ray's session logs folder on that node, says why). Mend that node or take it "
            f"out of the cluster (`ray stop` on it), then run again: jobs would be placed on it again. {said}")
    return RayCannotRun(f"Ray cannot run {what}: {said} (no Ray worker was lost, so it "
                        "does not run again: it would fail the same way)")


def worker_env() -> dict[str, str]:
    """The environment every Ray worker lrgym starts gets (``runtime_env={"env_vars": ...}``):
    BLAS on one thread (:data:`RAY_WORKER_ENV`), the driver's :data:`INTERPRETER_SETTINGS` and the
    families it registered from outside the package (:func:`lrgym.tasks.families_env`).
    Where the driver has none: ``""`` for those NumPy and Python read as unset, so a value the
    node's ``ray start`` had does not hold either; nothing for ``OPENBLAS_CORETYPE``, which some
    OpenBLAS builds read as "generic kernels" when empty (aarch64), so a node's own value stays
    and its fingerprint, which records it, stops the run as differing from the driver's."""
    env = {**RAY_WORKER_ENV, **{k: os.environ.get(k, "") for k in INTERPRETER_SETTINGS}, **families_env()}
    if not env.get("OPENBLAS_CORETYPE"):
        env.pop("OPENBLAS_CORETYPE", None)
    return env


def largest_node_memory_mb(nodes: list[dict]) -> float:
    """The most Ray ``memory`` (MB) that one live node with a CPU offers, from ``ray.nodes()``.
    Every task and actor lrgym starts needs one CPU and its memory on the same node, so a node
    without CPUs (a head started with ``ray start --head --num-cpus 0``, as Ray advises for large
    clusters) places none of them, whatever its memory: it does not count."""
    return max((float(n.get("Resources", {}).get("memory", 0)) / 2**20 for n in nodes
                if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= 1), default=0.0)


def check_memory_request(ray, memory_mb: float, what: str, valid: str) -> None:
    """Refuse (``ValueError``, naming ``what`` needs ``memory_mb``, the largest node's memory and
    ``valid``) a Ray ``memory`` request that no node can place (:func:`largest_node_memory_mb`):
    Ray would keep such a task or actor pending for ever, silently."""
    largest = largest_node_memory_mb(ray.nodes())
    if memory_mb > largest:
        raise ValueError(f"{what} needs {memory_mb:g} MB of Ray memory but the largest node of the Ray cluster "
                         f"with a CPU offers {largest:.0f} MB; valid: {valid}")


@dataclass(frozen=True)
class Backend:
    """A place to run jobs: ``name`` in :data:`BACKENDS`; ``address`` (Ray only) as ``ray.init`` takes it."""

    name: str = "local"
    address: str | None = None

    def __post_init__(self):
        if self.name not in BACKENDS:
            raise ValueError(f"unknown backend {self.name!r}; valid choices: {', '.join(BACKENDS)}")
        if self.address is not None and self.name != "ray":
            raise ValueError(f"--address {self.address!r} is for the ray backend; the {self.name} backend takes none "
                             "(valid: --backend ray --address auto|HOST:PORT)")
        check_address_form(self.address)

    @property
    def is_ray(self) -> bool:
        return self.name == "ray"

    def default_workers(self) -> int:
        """Parallel jobs by default: this machine's cores, or the Ray cluster's CPUs."""
        if self.is_ray:
            return max(1, int(connect(self.address).cluster_resources().get("CPU", 1)))
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - macOS
            return max(1, os.cpu_count() or 1)

    def imap(self, fn: Callable, jobs: Iterable, workers: int | None = None, desc: str = "") -> Iterator:
        """``fn(job)`` for every job, unordered, with a progress bar. ``fn`` must be a module-level
        function (pickled by reference) that is deterministic given its job. ``workers``: None
        (:meth:`default_workers`) or a positive integer (:func:`check_workers`)."""
        check_workers(workers)
        if self.is_ray:
            return ray_imap(fn, jobs, self.address, workers, desc)
        from lrgym.baselines.parallel import imap

        return imap(fn, jobs, workers, desc)

    def __str__(self) -> str:
        return self.name if self.address is None else f"{self.name} ({self.address})"


def check_workers(workers) -> None:
    """A ``ValueError`` naming ``workers`` unless it is None (the default: all CPUs) or a positive
    integer: 0 and negative counts were taken silently by the local pool (as "all cores") and
    crashed the Ray one (``not enough values to unpack``)."""
    import numbers

    is_int = isinstance(workers, numbers.Integral) and not isinstance(workers, bool)
    if workers is not None and not (is_int and workers >= 1):
        raise ValueError(f"workers={workers!r} {'out of range' if is_int else 'is not an integer'}; valid: a positive integer (1, 2, 3, ...), "
                         "or None for all CPUs")


def workers_type(text: str) -> int:
    """The argparse ``type`` of every ``--workers`` flag: a positive integer, else the parser's
    error naming the value (``argument --workers: -2 is not a positive integer ...``, exit 2)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer; valid: 1, 2, 3, ... "
                                         "(parallel jobs; leave --workers out for all CPUs)")
    return value


def get_backend(backend: "Backend | str | None" = None, address: str | None = None) -> Backend:
    """A :class:`Backend` from a name (``None``: local) or an existing one; bad names fail with the choices."""
    if isinstance(backend, Backend):
        if address is not None and address != backend.address:
            return Backend(backend.name, address)
        return backend
    return Backend(backend or "local", address)


def add_backend_arguments(parser) -> None:
    """``--backend`` and ``--address`` for an argparse command whose jobs fan out."""
    parser.add_argument("--backend", choices=BACKENDS, default="local",
                        help="where the jobs run: local process pool (default) or a Ray cluster")
    parser.add_argument("--address", default=None,
                        help="Ray cluster: auto or HOST:PORT of its head (default: a Ray instance on this machine)")


def import_ray():
    """``ray``, or an ImportError that says how to install it (:func:`lrgym.extras.import_extra`)."""
    from lrgym.extras import import_extra

    return import_extra("ray", "ray", "the ray backend")


#: the start of the name of the empty folder a Ray driver starts Ray from
#: (:func:`_neutral_working_directory`), then its maker's :func:`~lrgym.baselines.owner_names.owner_tag`
#: and ``-``: a driver killed with ``kill -9`` leaves it, and a later one removes it
#: (:func:`sweep_driver_folders`)
DRIVER_DIR_PREFIX = "lrgym-ray-driver-"


def sweep_driver_folders(tmp: str | None = None) -> int:
    """Remove the folders of Ray drivers that have ended without removing theirs (a driver killed
    with ``kill -9``, or ended by Ray's core, runs no ``atexit``: each left an empty
    ``lrgym-ray-driver-*`` folder in the temp folder, for ever). Only this user's folders, named
    by their maker's pid, start time and namespaces (:func:`~lrgym.baselines.owner_names.owner_tag`),
    whose maker has ended (:func:`~lrgym.baselines.owner_names.owner_gone`) are removed: a live
    driver's folder is its local Ray instance's working folder (and was on its workers'
    ``sys.path`` before :func:`connect` shipped it as their ``working_dir``), and removed, another
    user could make one of that name. A folder named without its owner (by an lrgym
    before this sweep: ``lrgym-ray-driver-<random>``; or by an older lrgym where ``/proc``
    could not say the start time, the pid alone) is left: nothing tells whether its driver
    lives. One named where ``/proc`` could not say the start time, ``<pid>.unknown.<namespaces>``,
    is removed once no process has that pid in these namespaces (its driver has ended), and left
    while one has. Returns how many were removed."""
    from lrgym.baselines.owner_names import sweep_folders

    return sweep_folders(DRIVER_DIR_PREFIX, tmp, pid_only_names=False)


@contextlib.contextmanager
def _neutral_working_directory():
    """Run the block in an empty private folder (made once per process, kept while it lives);
    the block is given its path.

    Ray puts the driver's working directory, and its script's folder, first on every worker's
    ``sys.path``, on every node — unless the job's ``runtime_env`` ships a ``working_dir``. A
    grader started from a submission's folder made its Ray workers import that folder's
    ``lrgym/`` or ``json.py`` — outside any sandbox, as the grader's user; and on the other nodes
    of a cluster that path names whatever a local user there made at it (a folder of ``/tmp``
    any user can make). :func:`connect` therefore starts Ray from this folder, which holds
    nothing and only its owner can write (the local Ray instance's processes start here), and
    ships it as the job's ``working_dir``: Ray then adds neither path; each worker runs in, and
    imports from, its node's copy of that empty folder (in Ray's session folder there, which is
    the Ray user's); all else comes from the installation. The folder is named after this
    process (:data:`DRIVER_DIR_PREFIX`) and removed when it exits; before making it, those of
    drivers that ended without removing theirs are removed (:func:`sweep_driver_folders`)."""
    global _EMPTY_DIR
    if _EMPTY_DIR is None:
        import atexit
        import shutil
        import tempfile

        from lrgym.baselines.owner_names import owner_tag

        sweep_driver_folders()
        _EMPTY_DIR = tempfile.mkdtemp(prefix=f"{DRIVER_DIR_PREFIX}{owner_tag()}-")
        # readable by all, writable by us only: the local Ray instance's processes start in it, and
        # Ray ships it as the workers' working_dir (its copies on their sys.path, which a sandbox binds:
        # a folder other users cannot read would cost the sandbox its uid drop)
        os.chmod(_EMPTY_DIR, 0o755)
        atexit.register(shutil.rmtree, _EMPTY_DIR, True)
    previous = os.getcwd()
    os.chdir(_EMPTY_DIR)
    try:
        yield _EMPTY_DIR
    finally:
        os.chdir(previous)


_EMPTY_DIR: str | None = None


#: the forms ``--address`` takes (named by every address error)
ADDRESS_FORMS = "auto, or HOST:PORT of a Ray head's GCS port (6379 unless its `ray start --head --port` said otherwise)"
#: what an HTTP/2 client sends first: the connection preface and an empty SETTINGS frame (9-byte
#: header: length 0, type 0x4, flags 0, stream 0), as gRPC clients do (RFC 9113 §3.4)
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _split_address(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT`` (also ``ray://HOST:PORT``, Ray Client's, and ``[IPv6]:PORT``);
    anything else is a ``ValueError`` naming it and :data:`ADDRESS_FORMS` (Ray's own message,
    "Invalid address format", lists no valid form)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--address {address!r} is not a Ray cluster address; valid: {ADDRESS_FORMS}")
    return host, int(port)


def check_address_form(address: str | None) -> None:
    """A ``ValueError`` naming ``address`` and :data:`ADDRESS_FORMS` unless it is None (a Ray
    instance of lrgym's own), ``auto`` or ``HOST:PORT``: checked where the flag is read, before
    anything runs (:class:`Backend`, ``train_rllib``'s parser), and again by :func:`connect`."""
    if address is not None and address != "auto":
        _split_address(address)


def _speaks_grpc(sock, timeout: float) -> bool:
    """Whether the peer on ``sock`` answers an HTTP/2 client preface with a SETTINGS frame within
    ``timeout`` s. Every HTTP/2 server (gRPC's among them: Ray's GCS, Ray Client's server) sends
    a SETTINGS frame first; an HTTP/1 server answers with text (``HTTP/1.0 400 ...``: byte 3 is
    ``P``, not 0x4), others with nothing or by closing the connection."""
    sock.settimeout(timeout)
    try:
        sock.sendall(_H2_PREFACE)
        header = b""
        while len(header) < 9:
            chunk = sock.recv(9 - len(header))
            if not chunk:
                return False
            header += chunk
    except OSError:  # a timeout or a reset
        return False
    return header[3] == 0x4 and header[5:9] == bytes(4)  # a SETTINGS frame, on stream 0


def _check_reachable(address: str, timeout: float = 10.0, handshake: float = 3.0, gone: str | None = None) -> None:
    """Refuse, before ``ray.init`` (which retries for minutes), a ``HOST:PORT`` (or
    ``ray://HOST:PORT``) that is no Ray head: a ``ConnectionError`` when no TCP connection opens
    within ``timeout`` s, or the service there does not speak gRPC (:func:`_speaks_grpc`, within
    ``handshake`` s: e.g. a web server on the port). A cluster run with TLS (``RAY_USE_TLS``)
    answers the plain HTTP/2 preface with nothing gRPC-like, so there only the TCP connection is
    checked. ``gone``: what to say instead of the usual hints (an ``auto`` address that names a
    dead cluster: :func:`_check_auto`). A malformed address is a ``ValueError`` (:func:`_split_address`)."""
    import socket

    host, port = _split_address(address)
    hints = gone or ("start one with `ray start --head`, or pass --address HOST:PORT of its head, "
                     "or --address auto on a machine of the cluster")
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise ConnectionError(f"could not connect to the Ray cluster at {address!r}: {exc.strerror or exc} "
                              f"({hints})") from None
    with sock:
        if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true") or _speaks_grpc(sock, handshake):
            return
    raise ConnectionError(f"{address!r} answers but is no Ray head: the service on port {port} does not speak gRPC "
                          f"(Ray's GCS does); valid: --address {ADDRESS_FORMS} ({hints})")


def _check_auto() -> None:
    """``--address auto`` resolves (Ray's own :func:`ray._private.services.canonicalize_bootstrap_address`,
    the lookup ``ray.init`` does: ``$RAY_ADDRESS``, else the cluster the last ``ray start`` on this
    machine recorded in ``/tmp/ray/ray_current_cluster`` (``$RAY_TMPDIR/ray/`` if set), else a
    running GCS process) to a ``HOST:PORT`` that gets :func:`_check_reachable`: a head killed
    without ``ray stop`` leaves its address in that file, and ``ray.init`` retried it for minutes.
    No address found is left to ``ray.init``, which says so at once."""
    try:
        from ray._common.utils import get_ray_address_file

        record = get_ray_address_file(None)
    except Exception:  # noqa: BLE001 - a private helper of another Ray version
        record = os.path.join(os.environ.get("RAY_TMPDIR", "/tmp"), "ray", "ray_current_cluster")
    try:
        from ray._private.services import canonicalize_bootstrap_address

        found = canonicalize_bootstrap_address("auto")
    except ConnectionError:  # none found: ray.init raises the same at once
        return
    except Exception:  # noqa: BLE001 - a private helper of another Ray version: read the record itself
        try:
            with open(record) as f:
                found = os.environ.get("RAY_ADDRESS") or f.read().strip()
        except OSError:
            return
    if not found:
        return
    if os.environ.get("RAY_ADDRESS"):
        where, todo = f"$RAY_ADDRESS ({found})", "unset RAY_ADDRESS, or set it to a running head's HOST:PORT"
    else:
        where = f"the cluster recorded in {record} ({found})"
        todo = ("that cluster is gone: run `ray stop` to clear the record, then `ray start --head` for a new "
                "cluster, or pass --address HOST:PORT of a running head")
    try:
        _check_reachable(found, gone=todo)
    except (ConnectionError, ValueError) as exc:
        raise ConnectionError(f"--address auto resolves to {where}, where no Ray head runs: {exc}") from None


def connect(address: str | None = None, verbose: bool = False):
    """``ray``, connected to the cluster at ``address`` (once per process).

    ``address=None`` starts a Ray instance on this machine for this process (its CPUs, no
    dashboard, a small object store: lrgym's jobs pass kilobytes) — a new one, even where
    ``$RAY_ADDRESS`` or a running cluster would make ``ray.init()`` join it (``--address auto``
    joins). An address of another form than :data:`ADDRESS_FORMS` is a ``ValueError``; a
    ``HOST:PORT`` (given, or what ``auto`` resolves to) where no Ray head answers within 10 s is a
    ``ConnectionError`` (:func:`_check_reachable`; Ray itself retries for minutes). Workers get
    :func:`worker_env`. Ray is started from an empty folder, shipped to every node as the job's
    ``working_dir``, so workers never import from the driver's working directory or its script's
    folder, nor from a path of the driver's on another node (:func:`_neutral_working_directory`).
    An already initialised Ray (e.g. by the caller) is used as it is: start it away from folders
    you do not trust. Ray's own notices are not said, the workers' output not shown on the driver,
    and Ray's logger is at WARNING, unless ``verbose`` or ``$LRGYM_RAY_LOGS=all``
    (:mod:`lrgym.baselines.ray_logs`; another value of it is a ``ValueError``).
    """
    shown = ray_logs_shown(verbose)  # (a bad $LRGYM_RAY_LOGS before anything starts)
    ray = import_ray()
    if ray.is_initialized():
        return ray
    kwargs: dict = dict(address=address or "local", log_to_driver=shown, logging_level="INFO" if shown else "WARNING",
                        runtime_env={"env_vars": worker_env()})
    if address is None:
        kwargs.update(include_dashboard=False, object_store_memory=128 * 1024 * 1024)
        if os.environ.get("RAY_ADDRESS"):  # e.g. inside `ray job submit`: say that it is not joined
            import warnings

            warnings.warn(f"RAY_ADDRESS={os.environ['RAY_ADDRESS']!r} is not used: without --address lrgym starts "
                          "a Ray instance of its own on this machine; pass --address auto to join that cluster",
                          stacklevel=2)
    elif address == "auto":
        _check_auto()
    else:
        _check_reachable(address)  # its form (a ValueError) first, then a Ray head answering there
    try:
        with _neutral_working_directory() as empty, keep_stop_handlers(), notices_dropped([TOKEN_NOTICE], shown):
            # (a command's SIGTERM stays Ctrl-C's; Ray's notice that token authentication is on is not said)
            # shipped as the workers' working_dir, so Ray puts neither this folder nor the script's on their sys.path
            kwargs["runtime_env"]["working_dir"] = empty
            ray.init(**kwargs)
    except ConnectionError as exc:
        raise ConnectionError(f"could not connect to the Ray cluster at {address!r}: {exc} "
                              f"({_auth_hint(address)}{_port_hint(address)}start one with `ray start --head`, "
                              "or pass --address HOST:PORT)") from exc
    return ray


def _port_hint(address: str | None) -> str:
    """What to check when a ``HOST:PORT`` that speaks gRPC is no cluster Ray can join: the port
    must be the head's GCS port, not another gRPC port of the head (its Ray Client server, 10001
    unless ``--ray-client-server-port`` said otherwise, for ``ray://`` addresses; a raylet's or an
    object manager's port); a Ray user's audit gave the Ray Client port and was told to start a head."""
    if address in (None, "auto", "local") or str(address).startswith("ray://"):
        return ""
    return ("check that the port is the head's GCS port (6379 unless `ray start --head --port` said otherwise: "
            "the one in the `ray start --address=...` line `ray start --head` printed), not its Ray Client port "
            "(10001 by default) or another of its ports; ")


def _auth_hint(address: str | None) -> str:
    """What to try when a cluster that answers refuses the driver: Ray (>= 2.5x) runs clusters
    with token authentication (``ray start`` does where ``~/.ray/auth_token`` exists), and sends
    its token only to a cluster it found itself (``auto``), never to an address given, unless
    ``RAY_AUTH_MODE=token``; the refusal then reads as a failed connection."""
    if address in (None, "auto", "local") or os.environ.get("RAY_AUTH_MODE"):
        return ""
    return ("a cluster with Ray's token authentication needs RAY_AUTH_MODE=token and its token "
            "(RAY_AUTH_TOKEN, or ~/.ray/auth_token) for an address given, or use --address auto on its machines; ")


def _call(fn: Callable, job, expected: dict, stop_key: str | None = None):
    """One job inside a Ray worker (BLAS on one thread, like the local pool's workers), on a
    node checked against the driver's fingerprint ``expected`` first (:func:`_check_this_node`):
    ``(this node's report: fingerprint and name, fn(job))`` (:func:`node_report`). The job ends
    early, with :class:`~lrgym.baselines.ray_stop.RunStopped`, when its run's ``stop_key`` is
    written (:func:`~lrgym.baselines.ray_stop.stops_when_asked`: the run stopped early)."""
    from lrgym.baselines.parallel import single_threaded_blas
    from lrgym.baselines.ray_stop import stops_when_asked

    node = _check_this_node(expected)
    single_threaded_blas()
    with stops_when_asked(stop_key):
        out = fn(job)
    return node, out


def node_name(node_id: str, ip: str, hostname: str) -> str:
    """How lrgym's messages name a Ray node: the first 8 hex digits of its node id (what ``ray
    list nodes`` and ``ray status`` show in full), its IP address and host name, e.g.
    ``3f2a9c1e at 10.0.0.7 (gpu-07)``. An address alone named two nodes of one machine alike
    (``ray start`` twice on 127.0.0.1, or containers sharing a host's network)."""
    return f"{node_id[:8]} at {ip} ({hostname})"


def node_report() -> dict:
    """In a Ray worker: its node's :func:`node_fingerprint`, its name (``"node"``:
    :func:`node_name`) and Ray's node id (``"node id"``, in full): what the driver compares with
    its own (:func:`node_differences`) for each grader actor, tuning or reference task and RLlib
    env runner."""
    import socket

    import ray

    node_id = ray.get_runtime_context().get_node_id()
    return {**node_fingerprint(), "node": node_name(node_id, ray.util.get_node_ip_address(), socket.gethostname()),
            "node id": node_id}


class RunNodes:
    """The Ray nodes a run has seen alive (id → :func:`node_name`), to name the node a lost Ray
    worker was on in the warning a loss gives (:meth:`lost_on`). Ray survives a lost worker or
    node by running its job again elsewhere, which changes no result but should not go unsaid:
    an operator learns which node went and which jobs ran again."""

    def __init__(self, ray):
        self.ray = ray
        self.names: dict[str, str] = {}
        self.lost: dict[str, int] = {}  # node id -> jobs lost on it (lost_on)
        self.said: set[str] = set()  # nodes :meth:`say_gone` named
        self.held: dict[str, list[str]] = {}  # node id -> jobs lost on it not warned of one by one (lost_on)
        for node in self._nodes():
            if node.get("Alive"):
                self.saw(node.get("NodeID", "?"), node_name(node.get("NodeID", "?"), node.get("NodeManagerAddress", "?"),
                                                            node.get("NodeManagerHostname", "?")))

    def _nodes(self) -> list[dict]:
        try:
            return self.ray.nodes()
        except Exception:  # noqa: BLE001 - the GCS out of reach: the warning then names no node
            return []

    def saw(self, node_id: str | None, name: str) -> None:
        """A node that ran a job (a node that joined since the run started included)."""
        if node_id:
            self.names[node_id] = name

    def lost_on(self, error: BaseException, node_id: str | None = None, job: str | None = None) -> str | None:
        """Where a Ray worker was lost, for a warning: ``" on the Ray node NAME, now gone"`` for
        the node ``node_id`` (the grader's actors know theirs), else the one Ray's ``error``
        names (its node id: a ``NodeDiedError`` gives it, and says the node is dead before Ray's
        node table may), else the run's nodes dead since the last warning (``" (the Ray node NAME
        is gone)"``), else ``""`` (a worker process killed on a live node).

        ``job``: how the end of the run names this loss (the job, and what becomes of it). A node
        that dies running 16 jobs gave 16 warnings; now its first loss warns, and the ones after
        it on the same node return None (no warning) and are named together, in one line, when
        the run ends (:meth:`say_gone`)."""
        dead = {n.get("NodeID") for n in self._nodes() if not n.get("Alive")}
        said = str(error)
        named = [node_id] if node_id in self.names else [i for i in self.names if i in said]
        if named:
            self.lost[named[0]] = self.lost.get(named[0], 0) + 1
            gone = named[0] in dead or type(error).__name__ == "NodeDiedError"
            if gone:
                self.said.add(named[0])  # said here: say_gone need not
            if job is not None and self.lost[named[0]] > 1:  # the node's first loss was warned of
                self.held.setdefault(named[0], []).append(job)
                return None
            return f" on the Ray node {self.names[named[0]]}{', now gone' if gone else ''}"
        newly = [i for i in self.names if i in dead and i not in self.said]  # a node said gone once
        self.said.update(newly)
        if newly:
            names = ", ".join(self.names[i] for i in newly)
            return f" (the Ray node{'s' if len(newly) > 1 else ''} {names} {'are' if len(newly) > 1 else 'is'} gone)"
        return ""

    def where_env_failed(self, error: BaseException, node_id: str | None = None) -> str:
        """The Ray node a runtime environment could not be set up on, as :func:`cannot_run` names
        it: ``node_id``'s (an actor's node, from Ray's actor table), else the one at the address
        Ray's ``RuntimeEnvSetupError`` gives (``[Node 10.0.0.7]``; where several nodes of the run
        have it, those), else ``""``."""
        import re

        if node_id in self.names:
            return f"the Ray node {self.names[node_id]}"
        found = re.search(r"\[Node ([^\]\s]+)\]", str(error))
        if not found:
            return ""
        at = [name for name in self.names.values() if f" at {found.group(1)} (" in name]
        if len(at) == 1:
            return f"the Ray node {at[0]}"
        return f"a Ray node at {found.group(1)}" + (f" (one of {', '.join(at)})" if at else "")

    def say_gone(self) -> None:
        """At the end of a run (it returned or stopped): a ``RuntimeWarning`` for each node whose
        losses after its first were held (:meth:`lost_on`), naming those jobs and what became of
        them in one line; then one for each node of the run that Ray now counts dead and no
        warning named gone yet (a node whose jobs' loss arrived before Ray's node table said so,
        or that died running none), with how many jobs were lost on it. Each is said once."""
        import warnings

        nodes = self._nodes()
        dead = {n.get("NodeID") for n in nodes if not n.get("Alive")}
        for node_id, jobs in self.held.items():
            gone = node_id in dead or node_id in self.said
            self.said.update([node_id] if gone else [])
            warnings.warn(f"the Ray node {self.names[node_id]}{', now gone,' if gone else ''} lost {len(jobs)} more "
                          f"job{'s' if len(jobs) != 1 else ''} after the one named above: {'; '.join(jobs)}",
                          RuntimeWarning, stacklevel=2)
        self.held = {}
        for node in nodes:
            node_id = node.get("NodeID")
            if node.get("Alive") or node_id not in self.names or node_id in self.said:
                continue
            self.said.add(node_id)
            jobs = self.lost.get(node_id, 0)
            warnings.warn(f"the Ray node {self.names[node_id]} was lost during the run ("
                          + (f"{jobs} job{'s' if jobs != 1 else ''} lost on it, named above" if jobs
                             else "no job was lost on it") + ")", RuntimeWarning, stacklevel=2)


def ray_reason(error: BaseException) -> str:
    """The first sentence of Ray's message for a lost worker or node, with its type: enough to
    say why in one line (Ray's own goes on with advice on its logs and dashboard)."""
    text = " ".join(str(error).split())
    first = text.split(". ", 1)[0].rstrip(".")
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


#: this Ray worker process's :func:`node_fingerprint`, taken at its first task (≈ 20 ms, once)
_this_node: dict | None = None


def _check_this_node(expected: dict) -> dict:
    """This worker's :func:`node_report` (fingerprint, ``"node"`` name and ``"node id"``); raise :class:`NodeMismatch`
    (naming this node and what differs) unless it equals the driver's ``expected``
    (:func:`node_differences`): the grader's actors are checked the same way when placed
    (:mod:`lrgym.leaderboard.ray_pool`), and a tuning or reference task on an unlike node would
    mix its values into the driver's silently."""
    global _this_node
    if _this_node is None:
        _this_node = node_report()
    theirs = dict(_this_node)
    problem = node_differences(expected, theirs, theirs.pop("node"))
    if problem:
        raise NodeMismatch(problem)
    return dict(_this_node)


def _predates_the_check(cause) -> bool:
    """Whether a task failed because its node's :func:`_call` takes fewer arguments than the
    driver passes (its fingerprint, the run's stop key): an older lrgym, which cannot check
    itself (Python's ``TypeError`` for the extra argument names the function)."""
    return isinstance(cause, TypeError) and str(cause).startswith(f"{_call.__name__}() takes ")


_remote_call = None


def ray_imap(fn: Callable, jobs: Iterable, address: str | None = None, workers: int | None = None,
             desc: str = "") -> Iterator:
    """``fn(job)`` for every job as Ray tasks (unordered), at most ``workers`` in flight (default:
    all of the cluster's CPUs; else a positive integer: :func:`check_workers`), with a progress bar. A task whose worker dies (its
    process killed, its node lost, or Ray's memory monitor killed it: :func:`killed_for_memory`) runs
    again once, on a live node, with a ``RuntimeWarning`` naming the job and the node
    (:class:`RunNodes`: one per node, the later losses there named in one line when the run
    ends); a second loss raises :class:`JobLost`. Ray's other
    errors (a runtime environment that cannot be set up, a task no node can place: :func:`worker_lost`)
    raise :class:`RayCannotRun` at once. Exceptions raised by ``fn`` are
    not retried: they are re-raised here, like the local pool does. Each task runs on one CPU
    with :data:`TASK_MEMORY_MB` of Ray ``memory`` (a cluster where no node with a CPU has that
    much is refused first: :func:`check_memory_request`) and :func:`worker_env`, after checking its
    node against the driver's :func:`node_fingerprint` (a difference raises :class:`NodeMismatch`
    before any of that node's values is returned; nodes of unlike CPU kinds warn: :class:`CPUKinds`).

    When the run stops early (``fn``'s error, a lost job, the caller closing the generator, a
    stop signal), the tasks still in flight are stopped: they end within seconds with
    :class:`~lrgym.baselines.ray_stop.RunStopped` (:func:`~lrgym.baselines.ray_stop.stop_run`;
    never ``ray.cancel``: the module docstring says why)."""
    global _remote_call
    from tqdm.auto import tqdm

    check_workers(workers)  # before Ray starts; a limit <= 0 would wait on no task at all
    ray = connect(address)
    jobs = list(jobs)
    if jobs:  # a request no node holds would leave every task pending for ever
        check_memory_request(ray, TASK_MEMORY_MB, "each Ray task", "a node with a CPU and more memory")
    if _remote_call is None:  # no retry by Ray: the driver runs a lost job again, saying so
        _remote_call = ray.remote(num_cpus=1, max_retries=0, retry_exceptions=False)(_call)
    call = _remote_call.options(memory=TASK_MEMORY_MB * 2**20, runtime_env={"env_vars": worker_env()})
    expected = node_fingerprint()
    kinds = CPUKinds()
    limit = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    fn_ref = ray.put(fn)
    nodes = RunNodes(ray)
    stop_key = new_run_key()  # written if the run stops with tasks in flight (stop_run)
    queue = list(reversed(list(enumerate(jobs))))  # (index, job), the next one last
    lost: dict[int, int] = {}  # job index -> times its Ray worker was lost
    running: dict = {}
    bar = tqdm(total=len(jobs), desc=desc)
    try:
        while queue or running:
            while queue and len(running) < limit:
                index, job = queue.pop()
                running[call.remote(fn_ref, job, expected, stop_key)] = index, job
            (ready,), _ = ray.wait(list(running), num_returns=1)
            index, job = running.pop(ready)
            try:
                node, out = ray.get(ready)
            except ray.exceptions.RayTaskError as exc:  # fn raised: the job's own error
                if isinstance(exc.cause, NodeMismatch):  # the node's own message, without Ray's traceback of it
                    raise NodeMismatch(str(exc.cause)) from None
                if _predates_the_check(exc.cause):
                    raise NodeMismatch(f"a Ray node runs an older lrgym than the driver's (its task runner, from "
                                       f"before the node check or the runs' stop keys, says: {exc.cause}); install "
                                       "the same Python environment and lrgym (the same code) on every node") from None
                raise exc.as_instanceof_cause() from None
            except ray.exceptions.RayError as exc:  # the worker or its node died: run again, or lost for good
                # a memory monitor's kill: the project's own job, on a node short of memory: once more, as a loss
                if not (worker_lost(ray, exc) or killed_for_memory(ray, exc)):  # e.g. a runtime env: would fail again
                    raise cannot_run(f"job {job!r}", exc, nodes.where_env_failed(exc)) from exc
                lost[index] = lost.get(index, 0) + 1
                if lost[index] > RAY_RETRIES:
                    raise JobLost(f"job {job!r} lost its Ray worker {lost[index]} times: {exc}") from exc
                import warnings

                again = f"runs again on a live node (retry {lost[index]} of {RAY_RETRIES})"
                where = nodes.lost_on(exc, job=f"job {job!r} (retry {lost[index]} of {RAY_RETRIES})")
                if where is not None:  # else: a later loss on a node already warned of, said at the end
                    warnings.warn(f"job {job!r} lost its Ray worker{where} ({ray_reason(exc)}); it {again}, with the "
                                  "same result", RuntimeWarning, stacklevel=2)
                queue.append((index, job))  # next
                continue
            nodes.saw(node.get("node id"), node["node"])
            kinds.see(node, node["node"])
            yield out
            bar.update(1)
    finally:  # tasks still in flight (the run stopped early) are stopped, never cancelled (module docstring)
        stop_run(ray, stop_key, list(running))
        bar.close()
        nodes.say_gone()  # also when the run stops: the jobs that ran again are named


class NodeTaskFailed(RuntimeError):
    """:func:`on_each_node`'s task failed on one node, for a reason that need not stop the caller:
    ``fn`` raised there (:attr:`error`: its own exception), or its Ray worker was lost (the process
    died, the node went, Ray's memory monitor killed it: :func:`worker_lost`, :func:`killed_for_memory`;
    :attr:`error`: Ray's). The message names the node first: ``on the Ray node 3f2a9c1e at 10.0.0.7
    (gpu-07): ValueError: ...``; :attr:`node` is that name (:func:`node_name`)."""

    def __init__(self, node: str, error: BaseException):
        super().__init__(f"on the Ray node {node}: {type(error).__name__}: {error}")
        self.node, self.error = node, error


def on_each_node(fn: Callable, job, address: str | None = None, num_cpus: int = 1) -> list:
    """``fn(job)`` once on every live Ray node with a CPU, all at once (one task of ``num_cpus``
    CPUs pinned to each: Ray's ``NodeAffinitySchedulingStrategy``, not soft), after checking the node against
    the driver's :func:`node_fingerprint` as :func:`ray_imap`'s tasks do; returns the results in
    node order. For work that each machine needs done once before many processes start there
    (``train_rllib`` fills each node's Numba cache before its env runners start:
    :func:`lrgym.baselines.rllib_env.warm_runner_kernels`). What stops it, naming the node
    (:func:`node_name`): a node that differs raises :class:`NodeMismatch`; ``fn``'s own error or a
    lost worker raises :class:`NodeTaskFailed` (the caller decides whether to go on without that
    node's result); a runtime environment the node cannot set up, or any other of Ray's errors that
    would fail again the same way (:func:`worker_lost`), raises :class:`RayCannotRun`
    (:func:`cannot_run`: the node, and the fix). The first failure in node order is raised; the
    other nodes' tasks still running are stopped (:func:`~lrgym.baselines.ray_stop.stop_run`:
    they end within seconds; never ``ray.cancel``: the module docstring says why). Each node's result is awaited
    in turn, so that the failure is known by its node (``ray.get`` of all the tasks at once raised the first error Ray met, whose
    node Ray's error names by IP alone, or not at all)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    ray = connect(address)
    remote = ray.remote(num_cpus=num_cpus, max_retries=0, retry_exceptions=False)(_call)
    expected, fn_ref, stop_key = node_fingerprint(), ray.put(fn), new_run_key()
    nodes = {n["NodeID"]: node_name(n["NodeID"], n.get("NodeManagerAddress", "?"), n.get("NodeManagerHostname", "?"))
             for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= 1}
    refs = {node_id: remote.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                                    runtime_env={"env_vars": worker_env()}).remote(fn_ref, job, expected, stop_key)
            for node_id in nodes}
    results = []
    try:
        for node_id, ref in refs.items():
            results.append(_node_result(ray, fn, ref, nodes[node_id]))
    finally:  # on a failure (or a stop signal) the other nodes' tasks are stopped (module docstring: never cancelled)
        stop_run(ray, stop_key, list(refs.values())[len(results):])
    return results


def _node_result(ray, fn: Callable, ref, node: str):
    """:func:`on_each_node`'s result of the task ``ref`` on the Ray node ``node`` (its name), or
    that task's failure as :func:`on_each_node` raises it."""
    try:
        return ray.get(ref)[1]
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, NodeMismatch):  # the node's own message, without Ray's traceback of it
            raise NodeMismatch(str(exc.cause)) from None
        raise NodeTaskFailed(node, exc.cause) from None
    except ray.exceptions.RayError as exc:
        if worker_lost(ray, exc) or killed_for_memory(ray, exc):
            raise NodeTaskFailed(node, exc) from None
        raise cannot_run(f"{getattr(fn, '__name__', 'a task')} on each node", exc, f"the Ray node {node}") from None
