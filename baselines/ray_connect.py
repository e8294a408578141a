"""A Ray driver's connection to its cluster (:func:`connect`, once per process): the ``--address``
checked before ``ray.init`` retries for minutes (its form, :data:`ADDRESS_FORMS`; a Ray head
answering there, or where ``auto`` resolves), Ray started from an empty folder of its own so that
no worker imports from the driver's folders (and those left by drivers that ended without removing
theirs swept: :func:`sweep_driver_folders`), and the environment every Ray worker lrgym starts
gets (:func:`worker_env`). Ray is an optional extra, imported only here (:func:`import_ray`).

:mod:`lrgym.baselines.backend` runs jobs on what :func:`connect` returns; its failures are
:mod:`lrgym.baselines.ray_failures`'.
"""

from __future__ import annotations

import contextlib
import os

from lrgym.baselines.interrupts import keep_stop_handlers
from lrgym.baselines.node_check import INTERPRETER_SETTINGS
from lrgym.baselines.ray_logs import TOKEN_NOTICE, notices_dropped, ray_logs_shown
from lrgym.tasks import families_env
from lrgym.tasks.blas import SINGLE_THREAD_ENV

__all__ = ["ADDRESS_FORMS", "DRIVER_DIR_PREFIX", "RAY_WORKER_ENV", "check_address_form", "connect", "import_ray",
           "sweep_driver_folders", "worker_env"]


#: environment of every Ray worker lrgym starts: BLAS on one thread (the cluster gives the parallelism;
#: :data:`lrgym.tasks.blas.SINGLE_THREAD_ENV`)
RAY_WORKER_ENV = dict(SINGLE_THREAD_ENV)


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
#: the GCS address of the Ray instance :func:`connect` started on this machine (``address=None``)
#: while it may still run, which a later ``connect(address)`` must not take for a cluster
_local_instance: str | None = None
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
    The error names where the address came from: ``$RAY_ADDRESS``, the record, or a head process
    found on this machine (with nothing recorded; it was worded as the record's before).
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
    elif _recorded(record):
        where = f"the cluster recorded in {record} ({found})"
        todo = ("that cluster is gone: run `ray stop` to clear the record, then `ray start --head` for a new "
                "cluster, or pass --address HOST:PORT of a running head")
    else:  # Ray's fallback: the address of a GCS process it found running on this machine
        where = f"a Ray head process found running on this machine ({found}; nothing recorded in {record})"
        todo = ("that process (maybe another user's, or one starting or stuck) does not serve there: pass "
                "--address HOST:PORT of a running head, or `ray start --head` for a cluster of your own")
    try:
        _check_reachable(found, gone=todo)
    except (ConnectionError, ValueError) as exc:
        raise ConnectionError(f"--address auto resolves to {where}, where no Ray head runs: {exc}") from None


def _recorded(record: str) -> bool:
    """Whether ``record`` (Ray's ``ray_current_cluster`` file) names a cluster: ``--address auto``
    resolves to it then, else to a Ray head process Ray finds running on this machine."""
    try:
        with open(record) as f:
            return bool(f.read().strip())
    except OSError:
        return False


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
    you do not trust. One exception: the Ray instance an earlier ``connect(None)`` of this process
    started (``train_rllib.train`` and the leaderboard's runs leave it running for the next run) is
    no cluster, and an ``address`` asked for while it runs is a ``ValueError`` saying so (it was
    used without a word: a notebook's second ``train`` with ``address="auto"`` trained on this
    machine, or waited for ever for env runners the local instance's CPUs could not place). Ray's
    own notices are not said, the workers' output not shown on the driver,
    and Ray's logger is at WARNING, unless ``verbose`` or ``$LRGYM_RAY_LOGS=all``
    (:mod:`lrgym.baselines.ray_logs`; another value of it is a ``ValueError``).
    """
    shown = ray_logs_shown(verbose)  # (a bad $LRGYM_RAY_LOGS before anything starts)
    global _local_instance
    ray = import_ray()
    if ray.is_initialized():
        if address is not None and _local_instance and ray.get_runtime_context().gcs_address == _local_instance:
            raise ValueError(f"address {address!r} asked for, but Ray is already running in this process as the Ray "
                             "instance of this machine an earlier run without an address started (at "
                             f"{_local_instance}), which it would use, not joining that cluster; valid: ray.shutdown() "
                             "first, then run with the address (or run without one on this instance)")
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
    started_here = address is None and ray.is_initialized()  # (a Ray that did start: not a stand-in's)
    _local_instance = ray.get_runtime_context().gcs_address if started_here else None
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
