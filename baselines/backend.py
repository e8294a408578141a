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

Connecting to a cluster lives in :mod:`lrgym.baselines.ray_connect` (the address checks, the
empty working folder, :func:`~lrgym.baselines.ray_connect.worker_env`), what Ray's errors mean and
how lost nodes are named in :mod:`lrgym.baselines.ray_failures`; this module re-exports their
names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from lrgym.baselines.node_check import CPUKinds, NodeMismatch, node_differences, node_fingerprint
from lrgym.baselines.ray_connect import (DRIVER_DIR_PREFIX, RAY_WORKER_ENV, check_address_form, connect, import_ray,
                                         sweep_driver_folders, worker_env)
from lrgym.baselines.ray_failures import (JobLost, NodeTaskFailed, RayCannotRun, RunNodes, cannot_run,
                                          killed_for_memory, memory_kill_reason, node_name, ray_reason, worker_lost)
from lrgym.baselines.ray_stop import new_run_key, stop_run

__all__ = ["BACKENDS", "DRIVER_DIR_PREFIX", "Backend", "JobLost", "RAY_WORKER_ENV", "TASK_MEMORY_MB", "check_memory_request", "connect",
           "NodeTaskFailed", "RayCannotRun", "add_backend_arguments", "cannot_run", "killed_for_memory", "memory_kill_reason", "check_address_form", "check_workers", "get_backend", "import_ray", "largest_node_memory_mb", "node_name", "on_each_node", "node_report", "ray_imap", "ray_reason", "RunNodes", "sweep_driver_folders", "worker_env", "worker_lost",
           "workers_type"]

BACKENDS = ("local", "ray")
#: a job whose worker dies is run again this many times before it counts as failed
RAY_RETRIES = 1
#: Ray ``memory`` (MB) each tuning / reference task, and each grader actor besides its sandbox,
#: asks for: a grader worker's peak resident memory over quick-suite jobs of four families was
#: 204 MB (bold_driver, measured 2026-12-04 with ``resource.getrusage``), plus the Ray worker
#: process holding it; Ray then places no more of them on a node than its memory holds
TASK_MEMORY_MB = 512


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
