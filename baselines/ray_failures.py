"""What Ray's errors mean for a run, and how they are said: a lost Ray worker, which may run its job
again (:func:`worker_lost`; a worker Ray's memory monitor killed, :func:`killed_for_memory`), an
error that would fail again the same way and stops the run at once (:class:`RayCannotRun`,
:func:`cannot_run`), a job lost twice (:class:`JobLost`), a task of
:func:`~lrgym.baselines.backend.on_each_node` failed on one node (:class:`NodeTaskFailed`), and the
Ray nodes a run has seen, by which a warning names the node a worker was lost on (:func:`node_name`,
:class:`RunNodes`). No Ray import: each function is given the ``ray`` module or Ray's error.
"""

from __future__ import annotations

__all__ = ["JobLost", "NodeTaskFailed", "RayCannotRun", "RunNodes", "cannot_run", "killed_for_memory",
           "memory_kill_reason", "node_name", "ray_reason", "worker_lost"]


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


def ray_reason(error: BaseException) -> str:
    """The first sentence of Ray's message for a lost worker or node, with its type: enough to
    say why in one line (Ray's own goes on with advice on its logs and dashboard)."""
    text = " ".join(str(error).split())
    first = text.split(". ", 1)[0].rstrip(".")
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


class NodeTaskFailed(RuntimeError):
    """:func:`on_each_node`'s task failed on one node, for a reason that need not stop the caller:
    ``fn`` raised there (:attr:`error`: its own exception), or its Ray worker was lost (the process
    died, the node went, Ray's memory monitor killed it: :func:`worker_lost`, :func:`killed_for_memory`;
    :attr:`error`: Ray's). The message names the node first: ``on the Ray node 3f2a9c1e at 10.0.0.7
    (gpu-07): ValueError: ...``; :attr:`node` is that name (:func:`node_name`)."""

    def __init__(self, node: str, error: BaseException):
        super().__init__(f"on the Ray node {node}: {type(error).__name__}: {error}")
        self.node, self.error = node, error


def node_name(node_id: str, ip: str, hostname: str) -> str:
    """How lrgym's messages name a Ray node: the first 8 hex digits of its node id (what ``ray
    list nodes`` and ``ray status`` show in full), its IP address and host name, e.g.
    ``3f2a9c1e at 10.0.0.7 (gpu-07)``. An address alone named two nodes of one machine alike
    (``ray start`` twice on 127.0.0.1, or containers sharing a host's network)."""
    return f"{node_id[:8]} at {ip} ({hostname})"


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
