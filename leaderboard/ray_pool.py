"""The grader's worker pool on a Ray cluster: same jobs, same workers, same results.

:class:`RayWorkerPool` has the interface and the group semantics of
:class:`lrgym.leaderboard.pool.WorkerPool` (groups that fail as a whole, a wall-clock limit per
group, workers not shared between groups with ``isolate_groups``, ``on_reply`` /
``on_group_done`` called on the driver as results arrive), but its workers live on a Ray
cluster. Each worker slot is a Ray actor (:class:`GraderHost`, one CPU) that starts the very
same grader worker the local pool starts — ``python -m lrgym.leaderboard.worker``, a fresh
interpreter speaking JSON over pipes — on whatever node Ray placed it, and forwards jobs to it.
So the job code, its seeds and the submission's sandbox (its own process in PID, network and
mount namespaces, its limits: :mod:`lrgym.leaderboard.sandbox`) are the local pool's, inside
the Ray worker; only the driver writes the store.

Failures:

* the grader worker dies or a policy fails: the group fails with the reason, as locally;
* the *Ray* worker is lost (its actor process killed, its node gone): the job is run again on a
  new actor — which Ray places on a live node — once; a second loss fails the group with Ray's
  reason. The first loss on a node warns (``RuntimeWarning``), naming the node the actor was on
  (gone or not: :class:`~lrgym.baselines.backend.RunNodes`), the job and its entry; the later
  losses on that node are named together, in one line, when the run ends (a node that died
  running 16 jobs gave 16 warnings). Replies already received are kept: nothing finished is lost. The lost attempt's
  time stays charged to the group's time limit (the limit bounds the wall clock an entry may
  take, whatever the cause, so losing workers never buys a submission time); a group that runs
  out of it during the retry fails with the timeout reason;
* Ray's memory monitor kills an actor while it runs a job (``OutOfMemoryError``: the node's
  memory in use went over ``RAY_memory_usage_threshold``): the job runs again on a new actor,
  once, as a lost worker's (the monitor acts on the node's memory as a whole, not on whose: an
  honest job beside another's hog may be killed, and each policy is held to its own limit by its
  sandbox); killed so again, the group fails with "killed by Ray's memory monitor on the Ray node
  ...: " and Ray's figures. An actor killed so before it was given a job is a lost worker (its
  job runs on a new one);
* the driver's ``$LRGYM_SANDBOX`` (``require`` for a hosted grader) holds on every node: a Ray
  worker has its node's environment, so it did not reach the grader workers, and a node
  without namespaces graded untrusted code in the weak mode the driver had refused
  (:data:`DRIVER_SETTINGS`);
* a group over its time limit, or a run stopped (Ctrl-C, SIGTERM): each busy actor kills its
  grader worker and removes what the worker's sandbox left (its cgroup, the worker's temp
  folder: :meth:`GraderHost.abort`), then the actor is killed (``ray.kill``). An actor that does
  not answer within 20 s is killed all the same: its worker and sandbox die with it
  (``PR_SET_PDEATHSIG`` links actor → worker → sandbox) and the next sandbox made on its node
  removes their cgroup (:func:`~lrgym.leaderboard.sandbox_cgroup.sweep_stale_cgroups`);
* fewer free CPUs than actors (a lost node, other jobs on a shared cluster, ``--workers``
  above the cluster's CPUs): an actor holds its CPU while it lives, so one Ray cannot place
  yet is given no job (:meth:`GroupScheduler._ready`) and no group's clock runs for it; the
  placed actors run the jobs. (A job sent to an actor never placed waited forever: a run
  without a time limit hung, a submission failed with a timeout it never ran into.) When no
  actor at all can be placed the run waits, and says so after :attr:`RayWorkerPool.PLACEMENT_PATIENCE` s;
* Ray fails an actor for a reason that is no lost worker (its runtime environment cannot be set
  up, no node can ever place it: :func:`~lrgym.baselines.backend.worker_lost`): the run stops
  with :class:`~lrgym.baselines.backend.RayCannotRun` naming Ray's error (and, for a runtime
  environment, the node, from Ray's actor table, and the fix:
  :func:`~lrgym.baselines.backend.cannot_run`) (a new actor would fail alike; it was run again, then its entry failed as if its worker had been lost twice); entries
  finished before are kept;
* a node whose lrgym cannot report its fingerprint (one from before the check, a broken one:
  ``describe`` or the actor's constructor raises there) stops the run like one that differs
  (:class:`NodeMismatch`), instead of failing each entry as a lost Ray worker.

A submission given as a file (``path/to/policy.py:Name`` and the ``.py`` files beside it, or an
SB3 zip and its sidecar) is read on the driver and written to a private temporary folder on the
node that runs it, so the cluster's nodes need no shared file system.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from pathlib import Path

from lrgym.baselines.backend import (TASK_MEMORY_MB, RayCannotRun, RunNodes, cannot_run, check_memory_request, connect,
                                     killed_for_memory, largest_node_memory_mb, memory_kill_reason, node_report,
                                     ray_reason, worker_env, worker_lost)
from lrgym.baselines.node_check import CPUKinds, NodeMismatch, node_differences, node_fingerprint
from lrgym.leaderboard.failures import PolicyError, describe, truncate
from lrgym.leaderboard.import_paths import GRADER_FILES_ENV, grader_files, hidden_dirs
from lrgym.leaderboard.scheduling import LOST_UNIT_RETRIES, Groups, GroupScheduler, Job

__all__ = ["CONTROL_GROUP", "GraderHost", "NodeMismatch", "RayCannotRun", "RayWorkerPool", "actor_memory_mb", "ship_files"]


#: environment variables of the driver that decide how the grader confines a submission: set on
#: the driver, they hold in every actor's grader worker (a Ray worker has its node's environment,
#: the one `ray start` had there, not the driver's)
DRIVER_SETTINGS = ("LRGYM_SANDBOX",)


#: the Ray concurrency group of :meth:`GraderHost.abort`: a thread of its own, so it runs while
#: the actor's one ordinary thread waits in ``run`` on a job (a hanging policy's, say)
CONTROL_GROUP = "control"

#: Ray ``memory`` (MB) of an actor besides its submission's sandbox: the actor's Ray worker and
#: its grader worker, lrgym, NumPy and Numba loaded and a job's envs
#: (:data:`lrgym.baselines.backend.TASK_MEMORY_MB`)
ACTOR_MEMORY_MB = TASK_MEMORY_MB


def actor_memory_mb(jobs: list[Job]) -> float:
    """The Ray ``memory`` (MB) one grader actor asks for to run ``jobs``: :data:`ACTOR_MEMORY_MB`
    plus the largest sandbox memory limit among them (``payload["sandbox"]["memory_mb"]``, the
    address space a submission's process may take: :class:`lrgym.leaderboard.sandbox.Limits`).
    Ray then places no more actors on a node than its memory holds, as the local pool caps its
    workers at the machine's memory (:func:`lrgym.leaderboard.limits.plan_workers`)."""
    sandboxes = [float((job.payload.get("sandbox") or {}).get("memory_mb") or 0) for job in jobs]
    return ACTOR_MEMORY_MB + max(sandboxes, default=0.0)


def ship_files(spec: dict) -> tuple[dict, dict[str, bytes]]:
    """(spec with its file path relative, the files it needs) for a policy spec that names files
    on the driver; ``(spec, {})`` for baselines and installed modules. The worker's own rules say
    which files belong to a submission and how they are read (:func:`lrgym.leaderboard.submission_files.read_policy_files`,
    :func:`~lrgym.leaderboard.submission_files.read_sb3_files`: the directory opened once, without following links)."""
    from lrgym.leaderboard.submission_files import read_policy_files, read_sb3_files

    kind = spec.get("kind")
    if kind == "sb3":
        path = Path(spec["path"])
        return {**spec, "path": path.name}, read_sb3_files(path)
    if kind == "object":
        where, _, attr = spec["target"].rpartition(":")
        if not (where.endswith(".py") or "/" in where or os.sep in where):
            return spec, {}  # an installed module: the cluster's Python has it
        path = Path(where)
        return {**spec, "target": f"{path.name}:{attr}"}, read_policy_files(path)
    return spec, {}


def _job_name(job: Job) -> str:
    """A grading job as a warning names it: ``the job of quadratic instances [0, 1] seeds [0, 1]``
    (an episodes job's family, instances and seeds), else ``a <op> job``."""
    payload = job.payload if isinstance(job.payload, dict) else {}
    if payload.get("op") == "episodes":
        return (f"the job of {payload.get('family')} instances {payload.get('instances')} "
                f"seeds {payload.get('seeds')}")
    return f"a {payload.get('op', '?')} job"


def _actor_node(actor) -> str | None:
    """The id of the node Ray placed ``actor`` on, from Ray's actor table (an actor whose runtime
    environment could not be set up has one there, though it never ran), or None."""
    try:
        from ray._private.state import actors  # Ray's own table (the GCS's); no dashboard needed

        return actors(actor._actor_id.hex())["Address"]["NodeID"] or None
    except Exception:  # noqa: BLE001 - another Ray version, the GCS out of reach: the message names no node
        return None


class GraderHost:
    """A Ray actor holding one grader worker process (:mod:`lrgym.leaderboard.worker`).

    ``run(payload, files)`` sends one job and blocks until its reply; returns ``(reply, None)``
    or ``(None, why the worker died)``, like the local pool's worker handle.

    ``abort()`` ends a busy actor's job from the driver (a time limit, a stopped run) before Ray
    kills the actor: it runs beside ``run`` (its own concurrency group, :data:`CONTROL_GROUP`),
    kills the grader worker, and returns once ``run`` has reaped it and removed what its
    sandboxes left (their cgroups, the worker's temp folder), as the local pool does for a worker
    it kills. ``ray.kill`` alone ends the actor at once; its worker and sandbox die with it
    (``PR_SET_PDEATHSIG``) but nobody is left to remove their cgroups.
    """

    def __init__(self, quiet: bool = True, hidden: tuple[str, ...] | list[str] = (), env: dict | None = None):
        import threading

        from lrgym.leaderboard.pool import _Worker

        # env: the driver's grading settings (DRIVER_SETTINGS), for this actor's grader workers
        os.environ.update(env or {})
        # hidden: the driver's working directory and $LRGYM_HIDDEN_DIRS, hidden from this actor's grader workers
        self._make = lambda: _Worker(quiet, hidden)
        self.worker = None
        self.files_dir = None
        self._lock = threading.Lock()  # self.worker's changes, between run (one thread) and abort (another)
        self._idle = threading.Event()  # no run call under way
        self._idle.set()
        self._aborted = False  # abort was called: no job starts any more (Ray kills the actor next)

    def pid(self) -> int:
        return os.getpid()

    def describe(self) -> dict:
        """This node's :func:`~lrgym.baselines.backend.node_report`: its fingerprint, name and id
        (the first call: the driver checks it, and names the node by it if the actor is lost)."""
        return node_report()

    def _localise(self, payload: dict, files: dict) -> dict:
        """Write a submission's files into this node's private temp folder; point the spec there."""
        if not files:
            return payload
        import tempfile

        if self.files_dir is None:
            from lrgym.leaderboard.pool import scratch_prefix

            # mode 0700, named after this actor's process (its pid and start time): stop() removes
            # it, and if the actor is killed (a time limit, a failed group, ^C of the driver) the
            # next grader on this node removes it (pool.sweep_orphaned_scratch), so no copy of a
            # submission stays behind
            self.files_dir = tempfile.mkdtemp(prefix=f"{scratch_prefix()}submission-")
        for name, data in files.items():
            (Path(self.files_dir) / Path(name).name).write_bytes(data)
        policy = dict(payload["policy"])
        if policy.get("kind") == "sb3":
            policy["path"] = str(Path(self.files_dir) / policy["path"])
        else:
            policy["target"] = str(Path(self.files_dir) / policy["target"])
        return {**payload, "policy": policy}

    def run(self, payload: dict, files: dict | None = None):
        from multiprocessing.connection import wait

        from lrgym.leaderboard.pool import _death_reason

        self._idle.clear()
        try:
            with self._lock:
                if self._aborted:  # a job sent just before the driver aborted this actor
                    return None, "the grader actor was stopped before the job started"
                if self.worker is None:
                    self.worker = self._make()
                worker = self.worker
            try:
                worker.send(0, Job("", self._localise(payload, files or {})))
            except (BrokenPipeError, OSError):  # the grader worker died before taking the job
                reply, problem = None, _death_reason(worker.process, worker.stderr)
            else:
                wait(worker.waitables)
                reply, problem = worker.receive()
            if reply is None:
                with self._lock:
                    worker.kill()  # reaps it; its sandboxes' cgroups and its temp folder go
                    self.worker = None
            return reply, problem
        finally:
            self._idle.set()

    def abort(self, seconds: float = 15.0) -> None:
        """Kill the grader worker of a job under way and wait (up to ``seconds``) until ``run`` has
        reaped it and removed what it left; then :meth:`stop`. Called in :data:`CONTROL_GROUP`."""
        with self._lock:
            self._aborted = True
            if self.worker is not None:
                self.worker.signal_kill()
        self._idle.wait(seconds)
        self.stop()

    def stop(self) -> None:
        with self._lock:
            if self.worker is not None:
                self.worker.stop()
                self.worker = None
        if self.files_dir is not None:
            import shutil

            shutil.rmtree(self.files_dir, ignore_errors=True)


class _Slot:
    """The driver's handle of one actor: its current job, the groups it served, and whether Ray
    has placed it yet (``placed``: the reference that resolves once the actor runs)."""

    def __init__(self, actor):
        self.actor = actor
        self.placed = actor.describe.remote()
        self.ready = False
        self.job: tuple[int, Job] | None = None
        self.ref = None
        self.groups: set[str] = set()
        self.node_id: str | None = None  # once placed: Ray's id of the actor's node (its report's)
        self.killed_idle = False  # Ray's memory monitor killed the actor before it was given a job


class RayWorkerPool(GroupScheduler):
    """:class:`~lrgym.leaderboard.pool.WorkerPool` on a Ray cluster (see the module docstring).

    The run loop and its rules (groups, deadlines, isolation) are
    :class:`lrgym.leaderboard.scheduling.GroupScheduler`'s, shared with the local pool; this
    class supplies the transport: an actor started, given a job as a remote call (with the
    submission's files), waited on with ``ray.wait``, read with ``ray.get``, and stopped or
    killed. A lost Ray worker is its own case (:meth:`_collect`): the job runs again.

    Args:
        n_workers: actors at once (default: the cluster's CPUs).
        time_limit: wall-clock seconds per group, or None.
        isolate_groups: never run two groups' jobs on the same actor (and grader worker).
        quiet: the grader workers' stdout to /dev/null (their stderr explains a death).
        address: the Ray cluster (:func:`lrgym.baselines.backend.connect`).
    """

    def __init__(self, n_workers: int | None = None, time_limit: float | None = None,
                 isolate_groups: bool = False, quiet: bool = True, address: str | None = None,
                 grader_files: tuple[str, ...] | list[str] = ()):
        self.ray = connect(address)
        self.grader_files = tuple(grader_files)
        self.n_workers = max(1, n_workers or int(self.ray.cluster_resources().get("CPU", 1)))
        self.time_limit = time_limit
        self.isolate_groups = isolate_groups
        self.quiet = quiet
        self._host = self.ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0,
                                     concurrency_groups={CONTROL_GROUP: 1})(GraderHost)
        # during a run: policy -> (its spec, its files), read once, or why the driver could not read them
        self._files: dict[str, tuple | str] = {}
        self._fingerprint = node_fingerprint()  # the driver's: every actor's node must match it
        self._memory_mb = float(ACTOR_MEMORY_MB)  # during a run: each actor's Ray memory (actor_memory_mb)
        self._placement_warned = False  # during a run: the user was told no actor can be placed
        self._cpu_kinds = CPUKinds()  # during a run: the CPU kinds of the actors' nodes
        self._nodes: RunNodes | None = None  # during a run: the nodes seen, to name one an actor was lost on

    def _end_run(self) -> None:
        """The jobs lost on a node after its first loss, in one line per node, and a warning for
        each node of the run Ray now counts dead that no loss's warning named so
        (:meth:`~lrgym.baselines.backend.RunNodes.say_gone`); also when the run stops."""
        if self._nodes is None:  # the run stopped before it began
            return
        self._nodes.say_gone()

    def _begin_run(self, jobs: list[Job]) -> None:
        """Per-run state: each actor's Ray memory (:func:`actor_memory_mb` of ``jobs``; a request
        no node of the cluster with a CPU can hold is refused before anything runs, as its actors
        would never be placed: :func:`lrgym.baselines.backend.check_memory_request`); clean what
        killed actors of an earlier run left on this node, and start the retry counts and the
        read-once submission files afresh."""
        from lrgym.leaderboard.pool import sweep_orphaned_scratch

        self._memory_mb = actor_memory_mb(jobs)
        largest = largest_node_memory_mb(self.ray.nodes())
        check_memory_request(self.ray, self._memory_mb,
                             f"each grader actor (the sandbox's memory limit + {ACTOR_MEMORY_MB} MB for its workers)",
                             f"--memory-limit up to {largest - ACTOR_MEMORY_MB:.0f} MB, or nodes with more memory")

        sweep_orphaned_scratch()
        self._files = {}
        self._placement_warned = False
        self._cpu_kinds = CPUKinds()
        self._nodes = RunNodes(self.ray)

    # -- the transport ----------------------------------------------------------------------------

    def _start(self) -> _Slot:
        settings = {k: os.environ[k] for k in DRIVER_SETTINGS if k in os.environ}
        # the driver's store and key: covered in the sandboxes of a node that shows them (the driver's own)
        settings[GRADER_FILES_ENV] = os.pathsep.join(grader_files(self.grader_files))
        return _Slot(self._host.options(**self._actor_options()).remote(self.quiet, hidden_dirs(), settings))

    def _actor_options(self) -> dict:
        """Ray options of each actor: its memory (:func:`actor_memory_mb`), and the driver's
        interpreter settings from its first instruction (``runtime_env`` env_vars:
        :func:`lrgym.baselines.backend.worker_env`; NumPy reads ``NPY_DISABLE_CPU_FEATURES`` at
        import, Python ``PYTHONHASHSEED`` at start, so the constructor's ``env`` would be too late)."""
        return {"memory": int(self._memory_mb * 2**20), "runtime_env": {"env_vars": worker_env()}}

    def _send(self, groups: Groups, slots: list[_Slot], slot: _Slot, index: int, job: Job) -> None:
        try:
            payload, files = self._shipped(job)
        except PolicyError as exc:  # the driver cannot read the submission: its entry fails so, nothing is sent
            self._fail(groups, slots, job.group, str(exc))  # (the slot stays idle, free for another group)
            return
        slot.job, slot.ref = (index, job), slot.actor.run.remote(payload, files)
        slot.groups.add(job.group)

    def _shipped(self, job: Job) -> tuple[dict, dict]:
        """The job's payload with a submission's files attached (read once per policy and run).

        Files the driver cannot read (missing, oversized, a link...) raise :class:`PolicyError`
        with the driver's reason, the one the local worker gives (:func:`ship_files`), every time
        the policy is asked for. (The driver's absolute path went to the node instead, which read it
        again: on a remote node the entry failed with that node's reason, or, where the node had
        a file of that path, was graded with it.)"""
        policy = job.payload.get("policy")
        if not isinstance(policy, dict):
            return job.payload, {}
        key = json.dumps(policy, sort_keys=True)
        if key not in self._files:
            try:
                self._files[key] = ship_files(policy)
            except PolicyError as exc:
                self._files[key] = truncate(str(exc))
            except (OSError, ValueError, KeyError) as exc:  # as the local worker words an error that is no PolicyError
                self._files[key] = truncate(f"grader error: {describe(exc)}")
        shipped = self._files[key]
        if isinstance(shipped, str):
            raise PolicyError(shipped)
        rel, files = shipped
        return {**job.payload, "policy": rel}, files

    #: seconds with no actor placed (none running a job) before the user is warned, once per run
    PLACEMENT_PATIENCE = 60.0

    def _ready(self, slot: _Slot) -> bool:
        return slot.ready

    def _wait(self, busy: list[_Slot], timeout: float | None) -> list[_Slot]:
        """The busy slots that answered; a starting slot (no job) whose actor now runs becomes
        ready (an actor that could not start counts as ready: its first job meets the loss)."""
        refs = [s.ref if s.job is not None else s.placed for s in busy]
        if self._placement_warned or any(s.job is not None for s in busy):
            ready, _ = self.ray.wait(refs, num_returns=1, timeout=timeout)
        else:  # nothing runs, every actor waits for a CPU or memory: say so if it lasts (it may last for ever)
            t0 = time.monotonic()  # (no group holds an actor, so none has a deadline: timeout is None)
            ready, _ = self.ray.wait(refs, num_returns=1, timeout=min(math.inf if timeout is None else timeout,
                                                                     self.PLACEMENT_PATIENCE))
            if not ready and time.monotonic() - t0 >= self.PLACEMENT_PATIENCE - 0.01:
                self._placement_warned = True
                free, total = self.ray.available_resources(), self.ray.cluster_resources()
                warnings.warn(
                    f"for {self.PLACEMENT_PATIENCE:g} s no grader actor could be placed: {len(busy)} wait for a CPU "
                    f"and {self._memory_mb:g} MB of memory each on one node, and the Ray cluster has "
                    f"{free.get('CPU', 0):g} of its {total.get('CPU', 0):g} CPUs and "
                    f"{free.get('memory', 0) / 2**20:.0f} of its {total.get('memory', 0) / 2**20:.0f} MB free "
                    "(other jobs hold them, or a node is lost); the run waits until they free (no submission's "
                    "time limit counts meanwhile)",
                    RuntimeWarning, stacklevel=2)
        for s in busy:
            if s.job is None and s.placed in ready:
                s.ready = True
                self._check_node(s)
        return [s for s in busy if s.job is not None and s.ref in ready]

    def _check_node(self, slot: _Slot) -> None:
        """Stop the run if the actor's node differs from the driver in what results depend on
        (:func:`~lrgym.baselines.node_check.node_fingerprint`): its scores would not be the local engine's; warn once if its
        CPU kind differs from the first node's (:class:`~lrgym.baselines.node_check.CPUKinds`)."""
        ray = self.ray
        try:
            node = ray.get(slot.placed)
        except ray.exceptions.RayError as exc:
            # describe (RayTaskError) or GraderHost() (its creation task) raised there: the node's
            # own lrgym, from before the check or broken; every job of it would fail as a lost worker
            if isinstance(exc, ray.exceptions.RayTaskError) or getattr(exc, "actor_init_failed", False):
                lines = [line for line in str(exc).splitlines() if line.strip()]
                raise NodeMismatch(
                    f"a Ray node could not report what its results depend on ({lines[0] if lines else ''}: "
                    f"{lines[-1] if lines else type(exc).__name__}); install the same Python environment and "
                    "lrgym (the same code) on every node") from None
            if killed_for_memory(ray, exc):  # before any job: no submission's doing; its first job runs again
                slot.killed_idle = True
            elif not worker_lost(ray, exc):  # a runtime env that cannot be set up...: every actor would fail alike
                where = self._nodes.where_env_failed(exc, _actor_node(slot.actor))
                raise cannot_run("a grader actor", exc, where) from exc
            return  # the actor was lost before it ran (its node gone): its first job meets the loss
        where = node.pop("node", "?")
        slot.node_id = node.get("node id")
        self._nodes.saw(slot.node_id, where)
        problem = node_differences(self._fingerprint, node, where)
        if problem:
            raise NodeMismatch(problem)
        self._cpu_kinds.see(node, where)  # unlike CPU kinds: a warning (results equal up to rounding)

    def _collect(self, groups: Groups, slots: list[_Slot], slot: _Slot, on_reply) -> None:
        ray = self.ray
        _, job = slot.job
        try:
            reply, problem = ray.get(slot.ref)
        except ray.exceptions.RayTaskError as exc:  # GraderHost itself raised (a bug, not a loss)
            self._discard(slots, slot)
            self._fail(groups, slots, job.group, f"grader error on the Ray worker: {exc}")
            return
        except ray.exceptions.RayError as exc:  # the actor (Ray worker) or its node is gone: run again (_lost)
            # Ray's memory monitor kills by the node's memory, not by whose: a job whose sandbox keeps
            # its own memory limit may be killed beside another's hog. Once more, as a lost worker;
            # killed so again, its entry fails with Ray's figures
            memory = killed_for_memory(ray, exc) and not slot.killed_idle
            if not (worker_lost(ray, exc) or killed_for_memory(ray, exc)):  # no loss (a runtime env...): fails alike
                raise cannot_run(f"{_job_name(job)} of the entry {job.group!r} on a grader actor", exc,
                                 self._nodes.where_env_failed(exc, slot.node_id or _actor_node(slot.actor))) from exc
            said = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            index, _ = slot.job
            then = ("its entry has failed already" if groups.results[job.group].failed else
                    "it runs again on a new actor, with the same result"
                    if self._attempts.get(index, 0) < LOST_UNIT_RETRIES else "its entry fails")
            where = self._nodes.lost_on(exc, slot.node_id, job=f"{_job_name(job)} of the entry {job.group!r} ({then})")
            if where is not None:  # else: a later loss on a node already warned of, named at the end of the run
                warnings.warn(f"{_job_name(job)} of the entry {job.group!r} lost its grader actor{where} "
                              f"({ray_reason(exc)}): {then}", RuntimeWarning, stacklevel=2)
            if memory:
                name = self._nodes.names.get(slot.node_id)
                killed = memory_kill_reason(exc, f" on the Ray node {name}" if name else "")
                self._lost(groups, slots, slot, lambda n: f"{killed} ({n} times: run again on a new actor once)")
            else:
                self._lost(groups, slots, slot, lambda n: f"lost its Ray worker {n} times (retried on a new one): {said}")
            return
        slot.ref = None
        self._answer(groups, slots, slot, reply, problem, on_reply)

    def _end(self, slot: _Slot, graceful: bool) -> None:
        """Stop an idle actor's worker (it ends its sandboxes), or abort a busy actor's job; then
        kill the actor."""
        self._end_slots([slot] if graceful else [], [slot])

    def _end_all(self, slots: list[_Slot]) -> None:
        """End many actors in one round: every idle one is asked to stop and every busy one to
        abort its job at once, then all are killed. A stop is a round trip (the grader worker ends its sandboxes and exits): one after
        another, the end of a run (or a change of group with ``isolate_groups``) cost the driver
        one round trip per actor (``python -m benchmarks.ray_teardown``)."""
        self._end_slots([s for s in slots if s.job is None], slots)

    def _end_slots(self, graceful: list[_Slot], slots: list[_Slot]) -> None:
        """Stop the ``graceful`` slots' workers and abort the busy ones' jobs (each actor removes
        what its worker's sandboxes left: :meth:`GraderHost.abort`), all at once and bounded by
        one wait, then kill every actor of ``slots``."""
        ray = self.ray
        stops = []
        for s in slots:
            if not s.ready:  # an actor never placed has nothing to stop
                continue
            try:
                if s in graceful:
                    stops.append(s.actor.stop.remote())
                elif s.job is not None:
                    stops.append(s.actor.abort.options(concurrency_group=CONTROL_GROUP).remote())
            except Exception:  # noqa: BLE001 - already dead: killed below
                pass
        if stops:
            try:
                ray.wait(stops, num_returns=len(stops), timeout=20)
            except Exception:  # noqa: BLE001 - dead or stuck: killed below
                pass
        for s in slots:
            try:
                ray.kill(s.actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
            s.job = s.ref = None
