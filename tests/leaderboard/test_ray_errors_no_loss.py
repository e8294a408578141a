"""Ray's errors that are no lost worker stop a run at once, without a cluster: a stand-in for the
``ray`` module gives the tuning tasks (``backend.ray_imap``) and the grader's actors
(``ray_pool.RayWorkerPool``) the errors real Ray gives, Ray's own exception classes.

The driver runs a job again when its Ray worker was lost (Ray's ``max_retries=0``: the driver
retries, so it can say which job). It retried on any ``RayError`` that was not the job's own: a
runtime environment that cannot be set up on the node or a task no node can place ran again,
failed the same way, and was reported as "lost its Ray worker 2 times", after a warning that it
"runs again on a live node ... with the same result". What real Ray 2.60 gives (checked on a
local instance): a task with ``runtime_env={"conda": "no-such-env"}`` ``RuntimeEnvSetupError``,
with ``NodeAffinitySchedulingStrategy(<no node>, soft=False)`` ``TaskUnschedulableError``; an
actor's calls (its ``describe`` first) ``RuntimeEnvSetupError`` and ``ActorUnschedulableError``.
The lost-worker cases are held on a real cluster in test_ray_cluster.py (its lost nodes last);
here they are the stand-in's control: the same stand-in drives the retry they take.
"""

from __future__ import annotations

import warnings

import pytest

ray_exceptions = pytest.importorskip("ray.exceptions")  # Ray's classes, no Ray started

from lrgym.baselines import backend  # noqa: E402
from lrgym.baselines.node_check import node_fingerprint  # noqa: E402
from lrgym.leaderboard import ray_pool  # noqa: E402
from lrgym.leaderboard.scheduling import Job  # noqa: E402

NODE_ID = "3f2a9c1e" + "0" * 48
#: what a node's report says (backend.node_report) on a node like the driver's
REPORT = {**node_fingerprint(), "node": f"{NODE_ID[:8]} at 127.0.0.1 (here)", "node id": NODE_ID}


class _Ref:
    """An object reference that is ready at once: its value, or the error ``ray.get`` raises."""

    def __init__(self, value=None, error: BaseException | None = None):
        self.value, self.error = value, error


class _FakeRay:
    """What ``ray_imap`` and the pool ask of ``ray`` once connected. Task calls take their outcome
    from ``task_outcomes`` in turn (an exception, or None: run ``fn(job)``); each actor started
    takes the next of ``actors``: (what its ``describe`` gives, its ``run`` calls' outcomes in turn),
    an outcome being an exception or a reply."""

    exceptions = ray_exceptions

    def __init__(self, task_outcomes=(), actors=()):
        self.task_outcomes, self.actors = list(task_outcomes), list(actors)
        self.task_calls: list = []  # the job of each task started
        self.actors_started = 0
        self.started: list = []  # each actor started (its calls: _Method.calls)

    def nodes(self):
        return [{"Alive": True, "NodeID": NODE_ID, "NodeManagerAddress": "127.0.0.1", "NodeManagerHostname": "here",
                 "Resources": {"CPU": 1.0, "memory": 64_000 * 2**20}}]

    def cluster_resources(self):
        return {"CPU": 1.0, "memory": 64_000 * 2**20}

    def available_resources(self):
        return self.cluster_resources()

    def put(self, value):
        return _Ref(value)

    def remote(self, **options):
        def wrap(target):
            return _FakeActorClass(self) if isinstance(target, type) else _FakeTask(self)
        return wrap

    def wait(self, refs, num_returns=1, timeout=None):
        return list(refs[:num_returns]), list(refs[num_returns:])

    def get(self, ref, timeout=None):
        if ref.error is not None:
            raise ref.error
        return ref.value

    def kill(self, actor, no_restart=True):
        pass


class _FakeTask:
    def __init__(self, ray: _FakeRay):
        self.ray = ray

    def options(self, **options):
        return self

    def remote(self, fn_ref, job, expected, stop_key):  # (the run's stop key: lrgym.baselines.ray_stop)
        self.ray.task_calls.append(job)
        outcome = self.ray.task_outcomes.pop(0)
        if isinstance(outcome, BaseException):
            return _Ref(error=outcome)
        return _Ref((dict(REPORT), fn_ref.value(job)))


class _FakeActorClass:
    def __init__(self, ray: _FakeRay):
        self.ray = ray

    def options(self, **options):
        return self

    def remote(self, *args):
        described, runs = self.ray.actors[self.ray.actors_started]
        self.ray.actors_started += 1
        self.ray.started.append(_FakeActor(described, list(runs)))
        return self.ray.started[-1]


class _Method:
    def __init__(self, outcomes):
        self.outcomes = outcomes
        self.calls: list = []  # the arguments of each call

    def remote(self, *args):
        self.calls.append(args)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            return _Ref(error=outcome)
        return _Ref(dict(outcome) if isinstance(outcome, dict) else outcome)  # the pool pops from a report


class _FakeActor:
    def __init__(self, described, runs):
        self.describe = _Method([described])
        self.run = _Method(runs)
        self.stop = _Method([None])


#: Ray's errors that are no lost worker, as real Ray words them
ENV_FAILED = ray_exceptions.RuntimeEnvSetupError("[Node 127.0.0.1] Traceback (most recent call last): ... "
                                                 "CondaError: no conda executable found")
UNSCHEDULABLE = ray_exceptions.TaskUnschedulableError(
    "The node specified via NodeAffinitySchedulingStrategy doesn't exist any more or is infeasible, and soft=False "
    "was specified.")
NOT_LOST = [ENV_FAILED, UNSCHEDULABLE, ray_exceptions.RaySystemError("the worker could not start")]
#: what Ray 2.60 gave a task's and an actor's call alike when its memory monitor killed their
#: workers (a local instance with RAY_memory_usage_threshold=0.02; the lists shortened)
OOM_KILL = ray_exceptions.OutOfMemoryError(
    f"2 worker(s) were killed due to the node running low on memory. Memory on the node (IP: 127.0.0.1, ID: {NODE_ID}) "
    "was 3.46GB used / 23.54GB limit (0.146895)\nOOM kill reason: Memory usage 3709005824B exceeded threshold of "
    "505524064B (2.0% of 25276203008B limit)\nObject store memory usage: [- objects spillable: 0\n]\nRay killed 2 "
    "worker(s) based on the killing policy\nConsidered workers: [\nSelected to kill: (Actor(ebc1cde2): job "
    "ID=01000000, task name=GraderHost.__init__, required resources={CPU: 1}, pid=26214, actual memory used=0.04GB)\n]")
#: Ray's NodeDiedError for a task whose node died (its id in the message, as real Ray words it)
NODE_DIED = ray_exceptions.NodeDiedError(f"Task failed because the node it was running on is dead or unavailable. "
                                         f"Node IP: 127.0.0.1, node ID: {NODE_ID}")


def _imap(monkeypatch, fake: _FakeRay, jobs):
    monkeypatch.setattr(backend, "connect", lambda address=None: fake)
    monkeypatch.setattr(backend, "_remote_call", None)  # ray_imap makes its remote function with fake.remote
    return list(backend.ray_imap(abs, jobs, workers=1))


@pytest.mark.parametrize("error", NOT_LOST, ids=lambda e: type(e).__name__)
def test_a_task_ray_cannot_run_stops_at_once_naming_rays_error(monkeypatch, error):
    fake = _FakeRay(task_outcomes=[error, error])  # real Ray: again, the same error
    with warnings.catch_warnings(record=True) as told, pytest.raises(Exception) as stop:
        warnings.simplefilter("always")
        _imap(monkeypatch, fake, [-3])
    assert fake.task_calls == [-3]  # not run again
    assert [str(w.message) for w in told if "lost its Ray worker" in str(w.message)] == []
    assert type(stop.value).__name__ == "RayCannotRun", repr(stop.value)
    if error is ENV_FAILED:  # a node's fault: named (by the address Ray's error gives), with the fix
        assert str(stop.value).startswith(f"Ray cannot run job -3: the Ray node {REPORT['node']} cannot set up the "
                                          "runtime environment of lrgym's Ray workers")
        assert "Mend that node or take it out of the cluster (`ray stop` on it), then run again" in str(stop.value)
        assert str(stop.value).endswith(f"RuntimeEnvSetupError: {error}")
    else:
        assert str(stop.value) == (f"Ray cannot run job -3: {type(error).__name__}: {error} (no Ray worker was lost, "
                                   "so it does not run again: it would fail the same way)")
    assert stop.value.__cause__ is error


def test_a_task_whose_worker_was_lost_runs_again_and_a_second_loss_is_joblost(monkeypatch):
    """The stand-in's control: a lost worker (WorkerCrashedError, NodeDiedError) still takes the retry."""
    fake = _FakeRay(task_outcomes=[ray_exceptions.WorkerCrashedError(), None])
    with pytest.warns(RuntimeWarning, match=r"^job -3 lost its Ray worker \(WorkerCrashedError: The worker died "
                                             r"unexpectedly while executing this task\); it runs again"):
        assert _imap(monkeypatch, fake, [-3]) == [3]
    assert fake.task_calls == [-3, -3]
    died = ray_exceptions.NodeDiedError("Task failed because the node it was running on is dead or unavailable.")
    fake = _FakeRay(task_outcomes=[died, died])
    with pytest.warns(RuntimeWarning), pytest.raises(backend.JobLost, match="^job -3 lost its Ray worker 2 times"):
        _imap(monkeypatch, fake, [-3])


def test_which_errors_are_a_lost_worker():
    """By hand, from ray.exceptions' docstrings and what Ray's own max_retries retries."""
    e = ray_exceptions
    lost = [e.WorkerCrashedError(), e.NodeDiedError("dead"), e.LocalRayletDiedError(),
            e.ObjectLostError("ab" * 14, None, ""), e.ActorDiedError(), e.ActorUnavailableError("gone", None)]
    not_lost = [*NOT_LOST, e.ActorUnschedulableError("no node"), e.RayActorError(actor_init_failed=True),
                e.ObjectStoreFullError("full"), e.OutOfDiskError("full"), e.TaskCancelledError(), OOM_KILL]
    assert [backend.worker_lost(_FakeRay(), x) for x in lost] == [True] * len(lost)
    assert [backend.worker_lost(_FakeRay(), x) for x in not_lost] == [False] * len(not_lost)
    every = lost + not_lost
    assert [backend.killed_for_memory(_FakeRay(), x) for x in every] == [False] * (len(every) - 1) + [True]


def _pool_run(monkeypatch, fake: _FakeRay, jobs):
    monkeypatch.setattr(ray_pool, "connect", lambda address=None: fake)
    monkeypatch.setattr("lrgym.leaderboard.pool.sweep_orphaned_scratch", lambda: None)  # the machine's own scratch
    return ray_pool.RayWorkerPool(1).run(jobs)


SLEEP = Job("e0", {"op": "sleep", "seconds": 0})
SLEEP_E1 = Job("e1", {"op": "sleep", "seconds": 0})


@pytest.mark.parametrize("error", [ENV_FAILED, ray_exceptions.ActorUnschedulableError("no node can place it")],
                         ids=lambda e: type(e).__name__)
def test_a_grader_actor_ray_cannot_start_stops_the_run_at_once(monkeypatch, error):
    """Real Ray fails every call of such an actor, its describe first, with the same error: the
    pool took it for an actor lost before it ran, gave it the job, then a new actor, and failed
    the entry as 'lost its Ray worker 2 times'."""
    fake = _FakeRay(actors=[(error, [error])] * 3)
    with warnings.catch_warnings(record=True) as told, pytest.raises(Exception) as stop:
        warnings.simplefilter("always")
        _pool_run(monkeypatch, fake, [SLEEP])
    assert fake.actors_started == 1
    assert [str(w.message) for w in told if "lost its grader actor" in str(w.message)] == []
    assert type(stop.value).__name__ == "RayCannotRun", repr(stop.value)
    if error is ENV_FAILED:  # the node (by the address in Ray's error: the stand-in has no actor table) and the fix
        assert str(stop.value).startswith(f"Ray cannot run a grader actor: the Ray node {REPORT['node']} cannot set up "
                                          "the runtime environment"), str(stop.value)
        assert str(stop.value).endswith(f"RuntimeEnvSetupError: {error}")
    else:
        assert str(stop.value).startswith(f"Ray cannot run a grader actor: {type(error).__name__}: {error} (no Ray "
                                          "worker")


def test_a_grader_call_ray_fails_without_a_loss_stops_the_run_at_once(monkeypatch):
    error = ray_exceptions.RaySystemError("the reply could not be stored")
    fake = _FakeRay(actors=[(REPORT, [error])] * 3)
    with warnings.catch_warnings(record=True) as told, pytest.raises(Exception) as stop:
        warnings.simplefilter("always")
        _pool_run(monkeypatch, fake, [SLEEP])
    assert fake.actors_started == 1
    assert [str(w.message) for w in told if "lost its grader actor" in str(w.message)] == []
    assert type(stop.value).__name__ == "RayCannotRun", repr(stop.value)
    assert str(stop.value).startswith("Ray cannot run a sleep job of the entry 'e0' on a grader actor: RaySystemError: "
                                      "System error: the reply could not be stored (no Ray worker was lost")


def test_a_lost_grader_actor_still_runs_its_job_again(monkeypatch):
    """The stand-in's control: an actor that died (ActorDiedError) is replaced, its job runs again."""
    fake = _FakeRay(actors=[(REPORT, [ray_exceptions.ActorDiedError()]), (REPORT, [({"ok": True}, None)])])
    with pytest.warns(RuntimeWarning, match=r"^a sleep job of the entry 'e0' lost its grader actor on the Ray node "
                                            r"3f2a9c1e at 127\.0\.0\.1 \(here\) \(ActorDiedError: .*\): it runs again"):
        results = _pool_run(monkeypatch, fake, [SLEEP])
    assert fake.actors_started == 2
    assert not results["e0"].failed and results["e0"].replies == [{"ok": True}]


@pytest.mark.parametrize("describe", ["report", "killed"], ids=["while-its-job-ran", "before-its-job"])
def test_a_grader_actor_killed_by_rays_memory_monitor_runs_its_job_again_once(monkeypatch, describe):
    """Ray's memory monitor kills by the node's memory, not by whose (a job's sandbox keeps its
    own memory limit): a job killed so runs again on a new actor, as a lost worker's does; so does
    one whose actor was killed while idle (its describe), where no submission ran."""
    fake = _FakeRay(actors=[(REPORT if describe == "report" else OOM_KILL, [OOM_KILL]), (REPORT, [({"ok": True}, None)])])
    with pytest.warns(RuntimeWarning, match=r"lost its grader actor .*OutOfMemoryError.*it runs again on a new actor"):
        results = _pool_run(monkeypatch, fake, [SLEEP])
    assert fake.actors_started == 2
    assert not results["e0"].failed and results["e0"].replies == [{"ok": True}]


def test_a_grader_actor_killed_by_rays_memory_monitor_twice_fails_its_entry_with_rays_figures(monkeypatch):
    """Killed so again: the entry fails with that reason and Ray's figures (it read 'lost its Ray
    worker 2 times', which blamed the machines for what may be the submission's memory)."""
    fake = _FakeRay(actors=[(REPORT, [OOM_KILL]), (REPORT, [OOM_KILL]), (REPORT, [({"ok": True}, None)])])
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        results = _pool_run(monkeypatch, fake, [SLEEP])
    assert fake.actors_started == 2
    assert results["e0"].failed
    assert results["e0"].reason == (
        f"killed by Ray's memory monitor on the Ray node {REPORT['node']}: 2 worker(s) were killed due to the node "
        f"running low on memory. Memory on the node (IP: 127.0.0.1, ID: {NODE_ID}) was 3.46GB used / 23.54GB limit "
        "(0.146895) OOM kill reason: Memory usage 3709005824B exceeded threshold of 505524064B (2.0% of 25276203008B "
        "limit) (2 times: run again on a new actor once)")


def test_a_task_killed_by_rays_memory_monitor_runs_again(monkeypatch):
    """Tuning and reference tasks are the project's own code, on a node short of memory: once more."""
    fake = _FakeRay(task_outcomes=[OOM_KILL, None])
    with pytest.warns(RuntimeWarning, match=r"^job -3 lost its Ray worker .*\(OutOfMemoryError: 2 worker\(s\) were "
                                            r"killed due to the node running low on memory\); it runs again"):
        assert _imap(monkeypatch, fake, [-3]) == [3]
    assert fake.task_calls == [-3, -3]


def _lost_warnings(told) -> list[str]:
    return [str(w.message) for w in told if issubclass(w.category, RuntimeWarning)]


def test_the_tasks_lost_with_one_node_warn_once_and_are_named_in_one_line_at_the_end(monkeypatch):
    """A node that died running 16 jobs printed 16 warnings; now its first loss warns, and the
    others are named in one line when the run ends (no job that ran again goes unnamed)."""
    fake = _FakeRay(task_outcomes=[NODE_DIED] * 3 + [None] * 3)
    monkeypatch.setattr(backend, "connect", lambda address=None: fake)
    monkeypatch.setattr(backend, "_remote_call", None)
    with warnings.catch_warnings(record=True) as told:
        warnings.simplefilter("always")
        assert sorted(backend.ray_imap(abs, [-1, -2, -3], workers=3)) == [1, 2, 3]
    assert fake.task_calls == [-1, -2, -3, -1, -2, -3]
    name = REPORT["node"]
    assert _lost_warnings(told) == [
        f"job -1 lost its Ray worker on the Ray node {name}, now gone (NodeDiedError: Task failed because the node it "
        "was running on is dead or unavailable); it runs again on a live node (retry 1 of 1), with the same result",
        f"the Ray node {name}, now gone, lost 2 more jobs after the one named above: job -2 (retry 1 of 1); "
        "job -3 (retry 1 of 1)"]


def test_the_jobs_lost_before_a_run_stops_are_still_named(monkeypatch):
    """A run that stops (a job lost twice) names the jobs that ran again before it stopped."""
    fake = _FakeRay(task_outcomes=[NODE_DIED] * 4 + [None] * 2)  # job -1 lost again when it ran again
    monkeypatch.setattr(backend, "connect", lambda address=None: fake)
    monkeypatch.setattr(backend, "_remote_call", None)
    with warnings.catch_warnings(record=True) as told, pytest.raises(backend.JobLost, match="^job -1 lost its Ray "
                                                                                           "worker 2 times"):
        warnings.simplefilter("always")
        list(backend.ray_imap(abs, [-1, -2, -3], workers=3))
    said = _lost_warnings(told)
    assert len(said) == 2 and said[1].endswith("lost 2 more jobs after the one named above: job -2 (retry 1 of 1); "
                                               "job -3 (retry 1 of 1)"), said


def test_the_grader_actors_lost_on_one_node_warn_once_and_are_named_in_one_line_at_the_end(monkeypatch):
    died = ray_exceptions.ActorDiedError()
    ok = ({"ok": True}, None)
    # each actor runs the job the last one lost, then loses the next entry's
    fake = _FakeRay(actors=[(REPORT, [died]), (REPORT, [ok, died]), (REPORT, [ok, died]), (REPORT, [ok])])
    jobs = [Job(f"e{i}", {"op": "sleep", "seconds": 0}) for i in range(3)]
    with warnings.catch_warnings(record=True) as told:
        warnings.simplefilter("always")
        results = _pool_run(monkeypatch, fake, jobs)
    assert fake.actors_started == 4
    assert all(not r.failed and r.replies == [{"ok": True}] for r in results.values()), results
    said = _lost_warnings(told)
    assert len(said) == 2, said
    assert said[0].startswith(f"a sleep job of the entry 'e0' lost its grader actor on the Ray node {REPORT['node']} "
                              "(ActorDiedError: ")
    assert said[1] == (f"the Ray node {REPORT['node']} lost 2 more jobs after the one named above: a sleep job of the "
                       "entry 'e1' (it runs again on a new actor, with the same result); a sleep job of the entry 'e2' "
                       "(it runs again on a new actor, with the same result)")


def test_a_grader_actor_whose_runtime_env_fails_names_its_node_from_rays_actor_table(monkeypatch):
    """The node comes from Ray's actor table (the actor never ran: its describe is the error)."""
    other = "9e8d7c6b" + "1" * 48
    fake = _FakeRay(actors=[(ENV_FAILED, [ENV_FAILED])])
    fake.nodes = lambda: [{"Alive": True, "NodeID": i, "NodeManagerAddress": "127.0.0.1", "NodeManagerHostname": "here",
                           "Resources": {"CPU": 1.0, "memory": 64_000 * 2**20}} for i in (NODE_ID, other)]
    monkeypatch.setattr(ray_pool, "_actor_node", lambda actor: other)
    with pytest.raises(Exception) as stop:
        _pool_run(monkeypatch, fake, [SLEEP])
    assert str(stop.value).startswith(f"Ray cannot run a grader actor: the Ray node {other[:8]} at 127.0.0.1 (here) "
                                      "cannot set up the runtime environment"), str(stop.value)
    # without the table: the address Ray's error gives, and the run's nodes there
    monkeypatch.setattr(ray_pool, "_actor_node", lambda actor: None)
    fake = _FakeRay(actors=[(ENV_FAILED, [ENV_FAILED])])
    fake.nodes = lambda: [{"Alive": True, "NodeID": i, "NodeManagerAddress": "127.0.0.1", "NodeManagerHostname": "here",
                           "Resources": {"CPU": 1.0, "memory": 64_000 * 2**20}} for i in (NODE_ID, other)]
    with pytest.raises(Exception) as stop:
        _pool_run(monkeypatch, fake, [SLEEP])
    assert str(stop.value).startswith(f"Ray cannot run a grader actor: a Ray node at 127.0.0.1 (one of "
                                      f"{REPORT['node']}, {other[:8]} at 127.0.0.1 (here)) cannot set up"), str(stop.value)


@pytest.mark.parametrize("case", ["missing", "link"])
def test_a_submission_the_driver_cannot_read_fails_with_the_drivers_reason_and_no_path_is_sent(monkeypatch, tmp_path,
                                                                                                case):
    """The driver reads a submission's files and ships their bytes (``RayWorkerPool._shipped``).
    When it could not (a file gone, a link), it sent the job with the driver's absolute path for
    the node to read again: on a remote node the entry failed with that node's reason, or was
    graded with whatever file the node had at that path. Now the entry fails with the driver's
    refusal, the one the local grader worker gives (``worker.policy_files``), and no job is sent."""
    from lrgym.leaderboard.failures import PolicyError
    from lrgym.leaderboard.worker import policy_files

    path = tmp_path / "policy.py"
    if case == "link":
        (tmp_path / "real.py").write_text("class Keep: pass\n")
        path.symlink_to(tmp_path / "real.py")
    policy = {"kind": "object", "target": f"{path}:Keep"}
    with pytest.raises(PolicyError) as local:  # what the local pool's worker records
        policy_files(policy)
    jobs = [Job("e0", {"op": "episodes", "policy": policy, "seed": s}) for s in (0, 1)] + [SLEEP_E1]
    fake = _FakeRay(actors=[(REPORT, [({"ok": True}, None)])] * 2)
    results = _pool_run(monkeypatch, fake, jobs)
    assert results["e0"].failed and results["e0"].reason == str(local.value)
    assert str(path) in results["e0"].reason
    sent = [args for actor in fake.started for args in actor.run.calls]
    assert sent == [(SLEEP_E1.payload, {})]  # the other entry's job only: nothing of e0 went to a node
