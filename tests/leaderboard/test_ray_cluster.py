"""A real two-node Ray cluster on 127.0.0.1 runs what the local pool runs, with the same results.

The module's fixture starts a head node and a second node (one CPU each, separate raylets and
object stores, in a temp folder of their own: lb_helpers.two_node_ray_cluster) and ends both in
its teardown. If Ray cannot start, every test here FAILS with the reason
(nothing is skipped). Through it: the quick suite (same scores and curves to the bit as the local
pool), the references and tuning (same values), a submission and hostile ones from
``lb_cheats.py`` (failing with the same reasons, sandboxed inside the Ray worker), a Ray worker
killed mid-job (retried once, then failed), a driver stopped by SIGTERM (its grader workers
and sandboxes on the nodes end), and a short RLlib training whose exported policy is graded as
a submission. Last, a node lost mid-run (a third node added, then killed as a machine that dies):
the run goes on (its jobs run again elsewhere, with the same results) and says which node went
and which jobs ran again; and two nodes of one machine are named apart.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import pytest
from lb_helpers import HERE, descendants, policy, tiny_suite, two_node_ray_cluster

from lrgym.leaderboard.pool import Job, WorkerPool
from lrgym.leaderboard.references import compute_references, load_references
from lrgym.leaderboard.runner import baseline_specs, run_suite, submission_spec

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

TINY = tiny_suite("ray", families=("quadratic", "linreg"), n_instances=1, seeds=(0, 1), horizon=8, inner_steps=3)
ONE_FAMILY = tiny_suite("ray1", families=("quadratic",), n_instances=1, seeds=(0, 1), horizon=8, inner_steps=3)
CHEATS = Path(HERE) / "lb_cheats.py"


@pytest.fixture(scope="module")
def cluster():
    """A head and a second node on this machine (1 CPU each); the driver connected to the head."""
    with two_node_ray_cluster() as nodes:
        yield nodes


@pytest.fixture(scope="module")
def one_family_refs():
    """ONE_FAMILY's references, computed once on the local pool for the module's tests that grade
    on it (they only read them; each computation started a pool of its own)."""
    return compute_references(ONE_FAMILY, n_workers=2)


def _runs(outcome) -> list:
    return [(r.family, r.instance, r.seed, r.score, r.final_loss, r.initial_loss, r.steps_to_target, r.curves)
            for r in outcome.runs]


def test_the_cluster_has_two_live_nodes(cluster):
    import ray

    alive = [n for n in ray.nodes() if n["Alive"]]
    assert len({n["NodeID"] for n in alive}) == 2
    assert ray.cluster_resources()["CPU"] == 2


def _listening_addresses(pids: set[int]) -> set[str]:
    """The local addresses of the TCP sockets in LISTEN state that ``pids`` hold, read from
    ``/proc/net/tcp`` and ``tcp6`` (hex, each 32-bit word little-endian) by socket inode."""
    import ipaddress
    import os

    inodes = set()
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        inodes |= {link[8:-1] for link in links if link.startswith("socket:[")}
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                    continue
                hexaddr = fields[1].split(":")[0]
                raw = b"".join(bytes.fromhex(hexaddr[i:i + 8])[::-1] for i in range(0, len(hexaddr), 8))
                found.add(str(ipaddress.ip_address(raw)))
    return found


def test_the_clusters_nodes_listen_on_the_loopback_only(cluster):
    """The test cluster is a service the tests start, on 127.0.0.1: each node's address is the
    loopback (tests/conftest.py's ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``), and every TCP port its
    processes listen on (the GCS, raylets, object managers, agents, workers; all started below
    this test process) is bound to the loopback, not to the machine's address or all of them
    (without the setting Ray 2.60 named and bound the machine's address)."""
    import ipaddress
    import os

    import ray

    assert cluster.address.startswith("127.0.0.1:")
    assert {n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]} == {"127.0.0.1"}
    bound = _listening_addresses(descendants(os.getpid()))
    assert len(bound) >= 1  # the GCS at least
    assert all(ipaddress.ip_address(a).is_loopback or getattr(ipaddress.ip_address(a), "ipv4_mapped", None)
               and ipaddress.ip_address(a).ipv4_mapped.is_loopback for a in bound), bound


def test_ray_workers_never_import_from_the_drivers_working_directory(cluster):
    """Ray puts the driver's working directory on its workers' ``sys.path``: a grader started
    from a submission's folder made its Ray actors import that folder's ``lrgym/`` as the
    grader's user (a second security review, 2026-12-03). ``connect`` then started Ray from an
    empty private folder of the driver's ``/tmp``, but that path was on the workers' ``sys.path``
    on every node, first: on another node it names whatever a local user there made at it (a
    package ``lrgym/`` or ``json.py``; the Ray backend's open edges, 2026-12-06). Now the folder
    is shipped as the job's ``working_dir``: on each node, a worker's path holds its
    interpreter's own entries, Ray's, and that node's copy of the empty folder in Ray's temp
    folder; no path of the driver's."""
    import os
    import subprocess

    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from lrgym.baselines import ray_connect

    @ray.remote(num_cpus=1)
    def worker_path():
        import os
        import sys

        return sys.path, os.getcwd()

    fresh = subprocess.run([sys.executable, "-c", "import json, sys; print(json.dumps(sys.path))"], cwd="/",
                           capture_output=True, text=True, check=True).stdout
    own = {os.path.realpath(p) for p in json.loads(fresh) if p}  # this interpreter's entries, started with no script
    ray_dir = os.path.realpath(os.path.dirname(ray.__file__))
    ray_tmp = os.path.realpath(os.environ["RAY_TMPDIR"])  # the cluster's temp folder (lb_helpers)
    driver = {os.path.realpath(os.getcwd()), os.path.realpath(ray_connect._EMPTY_DIR),
              os.path.realpath(os.path.dirname(sys.argv[0]))}
    for n in ray.nodes():
        if not n["Alive"]:
            continue
        on = NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
        path, cwd = ray.get(worker_path.options(scheduling_strategy=on).remote(), timeout=300)
        paths = [os.path.realpath(p) for p in path if p and os.path.isabs(p)]
        assert not driver & set(paths), (driver & set(paths), path)  # the driver's folders, on no node
        others = [p for p in paths if p not in own and not p.startswith(ray_dir + os.sep)]
        assert others and all(p.startswith(ray_tmp + os.sep) and "working_dir_files" in p for p in others), path
        assert os.path.realpath(cwd) in others  # the worker runs in its node's copy of the empty folder
        assert os.listdir(cwd) == []


def test_a_node_that_cannot_set_up_the_runtime_env_stops_the_run_naming_it(cluster, monkeypatch):
    """A grader actor whose runtime environment one node cannot set up (``RuntimeEnvSetupError``;
    here a conda env that node lacks, the actor pinned there) stops the run naming that node,
    from Ray's actor table, and the fix: it named Ray's error only (its ``[Node IP]``, which two
    nodes of one machine share), and the operator had to find the node."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from lrgym.baselines.backend import RayCannotRun
    from lrgym.leaderboard.ray_pool import RayWorkerPool

    here = ray.get_runtime_context().get_node_id()
    other = next(n for n in ray.nodes() if n["Alive"] and n["NodeID"] != here)
    name = f"{other['NodeID'][:8]} at {other['NodeManagerAddress']} ({other['NodeManagerHostname']})"
    options = RayWorkerPool._actor_options

    def on_other_with_a_broken_env(self):
        given = options(self)
        return {**given, "runtime_env": {**given["runtime_env"], "conda": "no-such-env-lrgym"},
                "scheduling_strategy": NodeAffinitySchedulingStrategy(other["NodeID"], soft=False)}

    monkeypatch.setattr(RayWorkerPool, "_actor_options", on_other_with_a_broken_env)
    with pytest.raises(RayCannotRun) as stop:
        RayWorkerPool(1).run([Job("e0", {"op": "sleep", "seconds": 0})])
    assert str(stop.value).startswith(f"Ray cannot run a grader actor: the Ray node {name} cannot set up the runtime "
                                      "environment of lrgym's Ray workers"), str(stop.value)
    assert "Mend that node or take it out of the cluster" in str(stop.value)


def test_quick_suite_gives_the_local_results_to_the_bit(cluster):
    specs = baseline_specs(["bold_driver"])
    refs = load_references("quick", n_workers=2)
    local = run_suite(specs, "quick", references=refs, n_workers=2)
    on_ray = run_suite(specs, "quick", references=refs, n_workers=2, backend="ray")
    for a, b in zip(local, on_ray):
        assert a.ok and b.ok, (a.entry.failure_reason, b.entry.failure_reason)
        assert _runs(b) == _runs(a)
        assert b.entry.summary["iqm"] == a.entry.summary["iqm"]


def test_references_and_tuning_give_the_local_values(cluster):
    from lrgym.baselines.tune import tune

    local = compute_references(TINY, n_workers=2)
    on_ray = compute_references(TINY, n_workers=2, backend="ray")
    assert on_ray.tasks == local.tasks
    kwargs = dict(families=["quadratic"], instances=1, names=["fixed", "step"])
    t_local, t_ray = tune(**kwargs, workers=2), tune(**kwargs, workers=2, backend="ray")
    assert t_ray["values"] == t_local["values"] and t_ray["train_scores"] == t_local["train_scores"]


@pytest.fixture(scope="module")
def submission_runs(cluster, one_family_refs, tmp_path_factory):
    """ONE_FAMILY graded on the local pool and on the cluster, with the same entries: an honest
    submission, the hostile ones of the integrity tests (``lb_cheats.py``) and one through a
    symbolic link (a file the driver refuses to ship), in one run each, for the two tests below.
    (Each test ran both suites itself, the honest entry in each: two local pools, two sets of
    grader actors and their grader workers more.) ``(local, on_ray)``, entries in that order."""
    import os

    linked = tmp_path_factory.mktemp("linked") / "policy.py"
    os.symlink(policy("Keep").rsplit(":", 1)[0], linked)

    def specs():
        return [submission_spec(policy("Keep"), name="honest")] + \
            [submission_spec(f"{CHEATS}:{n}", name=n) for n in CHEAT_NAMES] + \
            [submission_spec(f"{linked}:Keep", name="linked")]

    kwargs = dict(references=one_family_refs, n_workers=2, time_limit=120, memory_mb=1000)
    return run_suite(specs(), ONE_FAMILY, **kwargs), run_suite(specs(), ONE_FAMILY, **kwargs, backend="ray")


#: the hostile submissions of ``lb_cheats.py`` graded through the cluster (:func:`submission_runs`)
CHEAT_NAMES = ("SuiteOverride", "TerminalInjection")


def test_submissions_and_cheats_fail_the_same_way_in_the_ray_worker(submission_runs):
    """A submission runs in its sandbox (namespaces) inside the Ray worker; the hostile ones of
    the integrity tests are recorded failed with exactly the local reasons."""
    local, on_ray = submission_runs
    assert [o.entry.name for o in on_ray] == ["honest", *CHEAT_NAMES, "linked"]
    honest_local, honest_ray = local[0], on_ray[0]
    assert honest_local.ok and honest_ray.ok, honest_ray.entry.failure_reason
    assert _runs(honest_ray) == _runs(honest_local)
    sandbox = {k: v for k, v in honest_ray.entry.env_spec["sandbox"].items() if k != "uid"}  # uid: random per sandbox
    assert sandbox == {k: v for k, v in honest_local.entry.env_spec["sandbox"].items() if k != "uid"}
    assert sandbox["kind"] in ("root", "userns")  # namespaces, in the Ray worker too
    cheats = slice(1, 1 + len(CHEAT_NAMES))
    for a, b in zip(local[cheats], on_ray[cheats]):
        assert not a.ok and not b.ok
        assert b.entry.failure_reason == a.entry.failure_reason
        assert b.runs == []
    assert "fixed by the suite" in on_ray[1].entry.failure_reason
    assert "pwned" in on_ray[2].entry.failure_reason and "\x1b" not in on_ray[2].entry.failure_reason


def test_a_submission_file_refused_by_the_driver_fails_its_entry_not_the_ray_run(submission_runs):
    """The driver reads a submission's files to ship them; a file it refuses (here a symbolic
    link: read through it as the grader, it could be any file) once raised out of the whole Ray
    run. Now that entry alone is recorded failed, with the local reason, the others graded."""
    local, on_ray = submission_runs
    assert on_ray[0].ok and _runs(on_ray[0]) == _runs(local[0])
    assert on_ray[-1].entry.name == "linked"
    assert not local[-1].ok and not on_ray[-1].ok and on_ray[-1].runs == []
    assert "symbolic link" in on_ray[-1].entry.failure_reason
    assert on_ray[-1].entry.failure_reason == local[-1].entry.failure_reason


def test_a_lost_ray_worker_is_retried_once_then_recorded_failed(cluster, tmp_path):
    """``kill_host`` SIGKILLs the Ray worker (actor process) running the job, as a lost node
    would: once → the job runs again on a new actor and its group succeeds, keeping the replies
    it had; every time → the group fails with Ray's reason after one retry."""
    from lrgym.leaderboard.ray_pool import RayWorkerPool

    marker = tmp_path / "killed-once"
    jobs = [Job("survives", {"op": "sleep", "seconds": 0.1}),
            Job("survives", {"op": "kill_host", "once": str(marker)}),
            Job("lost", {"op": "kill_host"})]
    done = []
    pool = RayWorkerPool(2)
    results = pool.run(jobs, on_group_done=done.append)
    assert marker.exists()
    ok, lost = results["survives"], results["lost"]
    assert not ok.failed and len(ok.replies) == 2 and ok.replies[0]["ok"] and "pid" in ok.replies[1]
    assert lost.failed and "lost its Ray worker 2 times" in lost.reason
    assert pool.lost_workers == 3
    assert sorted(r.name for r in done) == ["lost", "survives"]
    # the local pool has no Ray worker to lose: the same death of the host is the grader's own,
    # so it is not exercised there; a death of the grader worker itself fails alike on both
    die = [Job("g", {"op": "die", "message": "boom", "code": 3})]
    local_reason = WorkerPool(1).run(die)["g"].reason
    ray_reason = RayWorkerPool(1).run(die)["g"].reason
    assert ray_reason == local_reason and "boom" in ray_reason


def test_actors_the_cluster_cannot_place_get_no_jobs(cluster):
    """An actor holds its CPU while it lives, so on a cluster with fewer free CPUs than the pool's
    actors (another job holding one here; a lost node, or ``--workers`` above the cluster's
    CPUs, alike) some are never placed. The pool sent jobs to them anyway: the run waited
    forever without a time limit, and a group with one failed with a timeout its jobs never ran
    into (a Ray user's audit, 2026-12-04). The placed actor now runs every job."""
    import threading

    import ray

    from lrgym.leaderboard.ray_pool import RayWorkerPool

    @ray.remote(num_cpus=1)
    class Blocker:
        def ready(self):
            return True

    blocker = Blocker.remote()
    try:
        ray.get(blocker.ready.remote(), timeout=120)
        jobs = [Job("open", {"op": "sleep", "seconds": 0.1}) for _ in range(3)] + \
               [Job("timed", {"op": "sleep", "seconds": 0.1}) for _ in range(3)]
        pool = RayWorkerPool(time_limit=None)  # as many actors as the cluster has CPUs: 2
        assert pool.n_workers == 2
        outcome = {}
        run = threading.Thread(target=lambda: outcome.update(pool.run(jobs[:3])), daemon=True)
        run.start()
        run.join(120)  # the old pool never returned
        assert not run.is_alive(), "the run waited for an actor the cluster could not place"
        assert not outcome["open"].failed and [r["ok"] for r in outcome["open"].replies] == [True] * 3
        timed = RayWorkerPool(2, time_limit=60).run(jobs[3:])["timed"]
        assert not timed.failed, timed.reason
        assert len(timed.replies) == 3
    finally:
        ray.kill(blocker)


def test_a_node_with_other_code_stops_the_run_before_its_results_count(cluster):
    """A node whose lrgym code or numerics packages differ from the driver's would give other
    scores under the same seeds, averaged silently into the entry (the README asks for the same
    environment on every node; nothing checked it: a Ray user's audit, 2026-12-04). Each actor
    reports its node's fingerprint when placed; a difference stops the run naming the node and
    what differs. Here the actors say they run another NumPy."""
    import ray.cloudpickle

    from lrgym.baselines.node_check import node_fingerprint
    from lrgym.leaderboard.ray_pool import GraderHost, NodeMismatch, RayWorkerPool

    class OtherNumPy(GraderHost):
        def describe(self):
            return {**super().describe(), "numpy": "0.0-other"}

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    pool = RayWorkerPool(1)
    pool._host = pool.ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(OtherNumPy)
    here = node_fingerprint()["numpy"]
    with pytest.raises(NodeMismatch, match=rf"numpy 0.0-other there, {here} here"):
        pool.run([Job("g", {"op": "sleep", "seconds": 0})])
    assert RayWorkerPool(1).run([Job("g", {"op": "sleep", "seconds": 0})])["g"].replies == [{"ok": True}]


def test_the_node_check_covers_the_baselines_shipped_weights_and_tuned_values(tmp_path):
    """A node's baselines are made from its own ``baselines/weights/`` and ``tuned.json``, which
    ``--ship`` rewrites in place: a node with other ones ranked other baselines under the same
    names, and the fingerprint (``.py`` files only) did not see it (a review of the node check,
    2026-12-04). No cluster needed: the hash of a copy changes with one byte of a weights file."""
    import shutil

    import lrgym.baselines
    from lrgym.baselines.node_check import node_fingerprint, shipped_files_hash

    here = Path(lrgym.baselines.__path__[0])
    assert node_fingerprint()["baseline files"] == shipped_files_hash(here)
    copy = tmp_path / "baselines"
    copy.mkdir()
    for f in here.glob("*.json"):
        shutil.copy(f, copy / f.name)
    shutil.copytree(here / "weights", copy / "weights")
    assert shipped_files_hash(copy) == shipped_files_hash(here)
    weights = sorted((copy / "weights").glob("*.npz"))[0]
    original = weights.read_bytes()
    weights.write_bytes(original[:-1] + b"x")
    assert shipped_files_hash(copy) != shipped_files_hash(here)
    weights.write_bytes(original)
    (copy / "tuned.json").write_text("{}")
    assert shipped_files_hash(copy) != shipped_files_hash(here)


def test_a_node_without_the_module_of_a_family_of_ones_own_stops_the_run(cluster, tmp_path, monkeypatch):
    """A family of one's own (``$LRGYM_FAMILIES``) runs its module on every node; this one is on
    the driver's ``sys.path`` only, as when the module's folder is on the driver's PYTHONPATH and
    not on the one each node's ``ray start`` had. The node check hashed lrgym's code alone, so
    the run started: every job of the family failed in a ModuleNotFoundError, and a node with
    another copy of the module gave other scores, silently (a Ray operator's audit, 2026-12-06).
    The first actor placed now stops the run, naming the family and what the node has."""
    import lrgym.tasks
    from lrgym.leaderboard.ray_pool import NodeMismatch, RayWorkerPool
    from lrgym.tasks import FamilyEntry

    (tmp_path / "nodeless_family.py").write_text("class Family:\n    name = 'nodeless'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(lrgym.tasks.FAMILIES, "nodeless", FamilyEntry("nodeless_family:Family"))
    with pytest.raises(NodeMismatch, match=r"family code nodeless=nodeless_family:Family not importable \(no module "
                                           r"named 'nodeless_family' on sys.path\) there, "
                                           r"nodeless=nodeless_family:Family [0-9a-f]{16} here"):
        RayWorkerPool(1).run([Job("g", {"op": "sleep", "seconds": 0})])
    monkeypatch.undo()
    assert RayWorkerPool(1).run([Job("g", {"op": "sleep", "seconds": 0})])["g"].replies == [{"ok": True}]


def test_a_node_that_cannot_report_its_code_stops_the_run(cluster):
    """A node with another lrgym runs its own GraderHost (Ray imports the class there): one from
    before the check has no ``describe``, and its error was taken for an actor that did not
    start, so the node ran jobs unchecked; one from before the driver's settings were passed
    fails in its constructor, taken for a lost worker, so every entry failed with "lost its Ray
    worker" (a review of the node check, 2026-12-04). The run now stops, naming what the node
    said."""
    import ray.cloudpickle

    from lrgym.leaderboard.ray_pool import GraderHost, NodeMismatch, RayWorkerPool

    class NoDescribe(GraderHost):
        def describe(self):
            raise AttributeError("'GraderHost' object has no attribute 'describe'")

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    pool = RayWorkerPool(1)
    pool._host = pool.ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(NoDescribe)
    with pytest.raises(NodeMismatch, match=r"could not report .*no attribute 'describe'"):
        pool.run([Job("g", {"op": "sleep", "seconds": 0})])

    class OldSignature(GraderHost):  # one from before the driver's settings were passed
        def __init__(self, quiet=True, hidden=(), env=None):
            raise TypeError("GraderHost.__init__() takes from 1 to 3 positional arguments but 4 were given")

    pool._host = pool.ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(OldSignature)
    with pytest.raises(NodeMismatch, match=r"could not report .*takes from 1 to 3 positional"):
        pool.run([Job("g", {"op": "sleep", "seconds": 0})])  # was: the entry failed, "lost its Ray worker"


def test_the_user_is_told_when_no_actor_can_be_placed(cluster):
    """With every CPU of the cluster held by another job, no actor is placed, no job handed out,
    no time limit counts: the run waits, and without a word it waited for ever (a review of the
    placement rule, 2026-12-04). After ``PLACEMENT_PATIENCE`` s a warning says why; once a CPU
    frees, the run goes on."""
    import threading
    import time
    import warnings

    import ray

    from lrgym.leaderboard.ray_pool import RayWorkerPool

    @ray.remote(num_cpus=1)
    class Blocker:
        def ready(self):
            return True

    blockers = [Blocker.remote() for _ in range(2)]
    caught: list = []

    def free_a_cpu_once_told():
        deadline = time.monotonic() + 60
        while not caught and time.monotonic() < deadline:
            time.sleep(0.1)
        ray.kill(blockers[0])

    try:
        ray.get([b.ready.remote() for b in blockers], timeout=120)
        pool = RayWorkerPool(1, time_limit=60)
        pool.PLACEMENT_PATIENCE = 2.0
        freer = threading.Thread(target=free_a_cpu_once_told, daemon=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            freer.start()
            result = pool.run([Job("g", {"op": "sleep", "seconds": 0})])["g"]
        freer.join()
        told = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        assert any("no grader actor could be placed" in m and re.search(r"0 of its 2 CPUs and \d+ of its \d+ MB free", m)
                   for m in told), told
        assert not result.failed and result.replies == [{"ok": True}]
    finally:
        for b in blockers:
            ray.kill(b)


def test_the_drivers_sandbox_setting_holds_on_the_nodes(cluster, one_family_refs, monkeypatch):
    """A Ray worker has its node's environment (what ``ray start`` had), not the driver's: a
    hosted grader's ``LRGYM_SANDBOX=require`` never reached the grader workers, so a node
    without namespaces graded untrusted code in the weak mode the driver refuses (a Ray user's
    audit, 2026-12-04). Set after the nodes started, the driver's setting now holds there:
    ``off`` is seen as the weak mode in the entry."""
    refs = one_family_refs
    monkeypatch.setenv("LRGYM_SANDBOX", "off")
    out = run_suite([submission_spec(policy("Keep"), name="honest")], ONE_FAMILY, references=refs, n_workers=1,
                    time_limit=120, memory_mb=1000, backend="ray")[0]
    assert out.ok, out.entry.failure_reason
    assert out.entry.env_spec["sandbox"]["kind"] == "none"


def _grader_workers(module: bytes = b"lrgym.leaderboard.worker") -> set[int]:
    """Pids of live grader worker processes (python -m lrgym.leaderboard.worker; ``module``:
    another, e.g. a sandbox's ``lrgym.leaderboard.policy_host``) descending from this test
    process: the fixture's Ray nodes are its children, their workers start the grader workers.
    Those of any other process on the machine (a parallel test run, ``pytest -n``) are not
    counted."""
    import os

    parent, graders = {}, set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                after_name = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except (OSError, IndexError):
            continue
        if after_name[0] == "Z":
            continue
        parent[int(pid)] = int(after_name[1])
        if module in cmdline:
            graders.add(int(pid))
    me = os.getpid()

    def descends(pid: int) -> bool:
        seen = set()
        while pid in parent and pid not in seen:
            seen.add(pid)
            pid = parent[pid]
            if pid == me:
                return True
        return False

    return {pid for pid in graders if descends(pid)}


def test_a_group_over_its_time_limit_is_killed_with_its_grader_worker(cluster):
    """The time limit holds on Ray: the actor is killed, and its grader worker dies with it.

    The grader worker is watched while the job runs, so the check after it has seen it live. The
    limit counted from the group's start, Ray actor start included (≈ 2.7 s on a slow 2-core VM
    when idle): with a 2-s limit the actor was killed before it had started a grader worker at
    all, and a 12-s limit was not enough once, with the full suite on both cores and a PyTorch
    run beside it: it was 30 s, waited out in full (a third of the module's time-limit tests).
    Since the placement rule (9f9134c) the limit counts from the job's hand-out, after the actor
    is placed: the run's end is timed from the grader worker's start, not from before the actor's
    (whose start, unbounded on a loaded machine, is outside the limit now). So 10 s is enough:
    the job sleeps 120 s, and its grader worker, started after the hand-out, lives until the
    limit's kill, watched every 0.05 s."""
    import threading
    import time

    from lrgym.leaderboard.ray_pool import RayWorkerPool

    limit = 10
    before = _grader_workers()
    outcome = {}

    def grade():
        try:
            outcome.update(RayWorkerPool(1, time_limit=limit).run([Job("slow", {"op": "sleep", "seconds": 120})]))
        except BaseException as exc:  # noqa: BLE001 - shown by the assertion below, not lost in the thread
            outcome["error"] = exc

    run = threading.Thread(target=grade)
    run.start()
    seen, first_seen = set(), None
    while run.is_alive():
        now = _grader_workers() - before
        if now and first_seen is None:
            first_seen = time.monotonic()
        seen |= now
        time.sleep(0.05)
    run.join()
    ended = time.monotonic()
    assert "error" not in outcome, f"the run raised {outcome.get('error')!r}"
    result = outcome["slow"]
    assert result.failed and f"exceeded the wall-clock limit of {limit} s" in result.reason
    assert seen, "the slow job's grader worker was never seen running under this test process"
    # the limit counts from the job's hand-out, once the actor is placed (its start is not
    # charged, and takes long on a loaded machine): timed from the grader worker's start
    assert ended - first_seen < limit + 40
    deadline = time.monotonic() + 15
    while _grader_workers() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _grader_workers() - before == set()


def _dead_scratch(before=()) -> list[str]:
    """The grader's temp folders (a grader worker's, an actor's copy of a submission) not in
    ``before`` whose owner has ended: left behind."""
    import os
    import tempfile

    from lrgym.baselines.owner_names import owner_gone
    from lrgym.leaderboard.pool import SCRATCH_PREFIX

    tmp = tempfile.gettempdir()
    return [n for n in set(os.listdir(tmp)) - set(before) if owner_gone(n, SCRATCH_PREFIX)]


def test_a_submission_over_its_time_limit_on_ray_leaves_no_sandbox_cgroup_or_folder(cluster, one_family_refs, tmp_path):
    """A submission that hangs in act(), graded on Ray with a time limit: its entry fails with
    the limit, and its busy actor, before Ray kills it, kills its grader worker and removes what
    the worker's sandbox left (:meth:`GraderHost.abort`). ``ray.kill`` alone ended the actor,
    its worker and sandbox with it (``PR_SET_PDEATHSIG``), and left the sandbox's cgroup and the
    worker's temp folder behind, with nobody to remove them until the next grader on that node."""
    import os
    import tempfile
    import time

    from lb_helpers import dead_sandbox_groups, descendants_seen, sandbox_groups

    refs = one_family_refs
    before_groups, before_scratch = sandbox_groups(), os.listdir(tempfile.gettempdir())
    before_workers, before_sandboxes = _grader_workers(), _grader_workers(b"lrgym.leaderboard.policy_host")
    limit = 20  # room for the actor's and the sandbox's start on a loaded machine
    with descendants_seen() as ours:  # (the fixture's nodes are children of this process: so are their workers)
        outcome = run_suite([submission_spec(policy("Hangs"), name="hangs")], ONE_FAMILY, references=refs,
                            n_workers=1, time_limit=limit, memory_mb=1000, backend="ray")[0]
    assert not outcome.ok and f"exceeded the wall-clock limit of {limit} s" in outcome.entry.failure_reason, \
        outcome.entry.failure_reason
    deadline = time.monotonic() + 15  # the killed processes may still be exiting
    while (_grader_workers() - before_workers or _grader_workers(b"lrgym.leaderboard.policy_host") - before_sandboxes
           or dead_sandbox_groups(before_groups, makers=ours) or _dead_scratch(before_scratch)) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _grader_workers() - before_workers == set()
    assert _grader_workers(b"lrgym.leaderboard.policy_host") - before_sandboxes == set()
    assert dead_sandbox_groups(before_groups, makers=ours) == []  # (of this test's grader workers only)
    assert _dead_scratch(before_scratch) == []


def _as_from_before_spread_cycles(ckpt: Path) -> None:
    """Make the train_rllib checkpoint ``ckpt`` one written before spread_cycles existed: the
    config RLlib builds a resumed algorithm from (its ``class_and_ctor_args.pkl``, an
    ``AlgorithmConfig`` state) without the ``on_environment_created`` callback, as such a
    checkpoint's holds it (``.callbacks(on_environment_created=None)``)."""
    import pickle

    from ray.rllib.utils.checkpoints import Checkpointable

    from lrgym.baselines.rllib_env import spread_cycles

    file = ckpt / Checkpointable.CLASS_AND_CTOR_ARGS_FILE_NAME
    saved = pickle.loads(file.read_bytes())
    args, kwargs = saved["ctor_args_and_kwargs"]
    state = dict(args[0])
    assert state["callbacks_on_environment_created"] is spread_cycles  # a new run's checkpoint holds it
    state["callbacks_on_environment_created"] = None
    saved["ctor_args_and_kwargs"] = ((state, *args[1:]), kwargs)
    file.write_bytes(pickle.dumps(saved))


def test_short_rllib_training_exports_a_gradable_policy(cluster, one_family_refs, tmp_path, monkeypatch):
    """PPO with two env runners (Ray actors stepping the batched vector env) on the cluster,
    checkpointed and resumed; the exported NumPy policy is graded as a submission through the
    cluster. With ``--address`` and 2 env runners, ``train_rllib`` runs the warm-up once on each
    node of the cluster (with the runners' env config), then trains; the ``.json`` says how long
    it took. (Two tests before, one PPO run each: one env runner without the address, and this
    first run alone.) It trains on linreg, as the module's other RLlib tests do: on the mixed
    family (the default) each node's warm-up compiled every family's kernels on a fresh clone
    (the mixed family's warm-up alone: 2.5 min from an empty cache; tests/baselines/
    test_rllib_warm.py covers it), which is not what this test is about.

    Its env runners walk a list of instances in "cycle" order: train_rllib's PPO with 2 env
    runners × 2 sub-envs started each runner's sub-env i at the list's i-th seed, so the two
    runners trained the same instances at the same time. Now (its on_environment_created
    callback, spread_cycles) runner k's sub-env i starts at (k − 1)·2 + i, as sub-env (k − 1)·2 + i
    of one vector env of all four would: read where train_rllib first sees the built runners (its
    node check, before any sample). (A test of its own built an algorithm, 2 env runner actors
    more, for that alone.)

    The checkpoint resumed to 128 steps is made one from before spread_cycles existed (the Ray
    audit's loose end): a checkpoint holds the config it was built from, callbacks included, and
    one without the callback was rebuilt without it on ``--resume``, its 2 runners walking the
    cycle list in lockstep again, without a word. The resumed run is built with the callback, and
    says so. (A test of its own built and saved an algorithm without the callback, then resumed
    it to where the runners are first seen: 4 env runner actors more.)"""
    import json

    import numpy as np

    from lrgym.baselines import backend, train_rllib
    from lrgym.baselines.mlp_policy import MLPPolicy
    from lrgym.baselines.train_rllib import RLlibConfig, checkpoint_settings, checkpoint_steps, train

    real, calls = backend.on_each_node, []
    monkeypatch.setattr(backend, "on_each_node", lambda fn, job, address=None: calls.append(job) or real(fn, job, address))
    check, starts = train_rllib.check_env_runner_nodes, []

    def first_seen(algo):  # the runners' cycle positions where train_rllib first sees them, then its check
        starts.append(dict(algo.env_runner_group.foreach_env_runner(
            lambda r: (r.worker_index, list(r.env.unwrapped.call("cycle_position"))), local_env_runner=False)))
        return check(algo)

    monkeypatch.setattr(train_rllib, "check_env_runner_nodes", first_seen)
    out = tmp_path / "ppo"
    cycle = {"horizon": 8, "instances": [0, 1, 2, 3, 4], "instance_order": "cycle"}
    common = dict(algo="ppo", family="linreg", env_runners=2, envs_per_runner=2, train_batch_size=64,
                  env_kwargs=cycle, address=cluster.address, out=str(out), progress=False)
    config = RLlibConfig(total_timesteps=64, **common)
    first = train(config, log=lambda m: None)
    assert calls == [config.full_env_kwargs()]  # the warm-up, once on each node
    assert starts == [{1: [0, 1], 2: [2, 3]}]  # ({1: [0, 1], 2: [0, 1]} before spread_cycles)
    assert (tmp_path / "ppo.ckpt").is_dir()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["warm_up_s"] >= 0 and meta["env_steps"] >= 64
    done = meta["env_steps"]
    # what a resumed run reads of a real checkpoint before building anything: its steps, its settings
    assert checkpoint_steps(tmp_path / "ppo.ckpt") == done
    settings = checkpoint_settings(tmp_path / "ppo.ckpt")
    assert {k: v for k, v in settings.items() if (k in common and k != "address") or k == "family"} == {
        "algo": "ppo", "family": "linreg", "env_runners": 2, "envs_per_runner": 2, "train_batch_size": 64,
        "env_kwargs": cycle}
    told = []  # already there: nothing trained, nothing rewritten
    assert train(RLlibConfig(total_timesteps=done, resume=str(tmp_path / "ppo.ckpt"), **common), log=told.append) is None
    assert "nothing to train, nothing written" in told[0]
    _as_from_before_spread_cycles(tmp_path / "ppo.ckpt")
    told = []
    second = train(RLlibConfig(total_timesteps=128, resume=str(tmp_path / "ppo.ckpt"), **common), log=told.append)
    assert starts[1:] == [{1: [0, 1], 2: [2, 3]}]  # resumed apart ({1: [0, 1], 2: [0, 1]} before), and said so
    assert any("was written before train_rllib spread its env runners' instance cycles apart" in m for m in told), told
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["env_steps"] >= 128 and meta["history"][0]["env_steps"] > 64  # continued, not restarted
    loaded = MLPPolicy.load(out.with_suffix(".npz"))
    obs = np.random.default_rng(1).normal(size=(16, 12))
    np.testing.assert_array_equal(loaded.outputs(obs), second.outputs(obs))
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first.layers, second.layers))  # it trained
    refs = one_family_refs
    graded = run_suite([submission_spec(f"{out.with_suffix('.py')}:RLlibPolicy", name="rllib-ppo")], ONE_FAMILY,
                       references=refs, n_workers=2, time_limit=300, memory_mb=1000, backend="ray")[0]
    assert graded.ok, graded.entry.failure_reason
    assert len(graded.runs) == len(ONE_FAMILY.tasks()) * len(ONE_FAMILY.seeds)


def test_rllib_env_runners_on_a_node_with_other_code_stop_the_run_before_training(cluster, tmp_path, monkeypatch):
    """train_rllib checked no node: its env runners stepped whatever lrgym their node had, and a
    run trained on other dynamics without a word (a Ray operator's audit, 2026-12-06). The driver
    now compares each remote env runner's node with its own fingerprint before the first sample;
    here the driver's says another NumPy, as a node with another NumPy would differ from it."""
    from lrgym.baselines import node_check
    from lrgym.baselines.train_rllib import RLlibConfig, train

    real = node_check.node_fingerprint()
    monkeypatch.setattr(node_check, "node_fingerprint", lambda: {**real, "numpy": "0.0-other"})
    config = RLlibConfig(algo="ppo", family="linreg", env_runners=1, envs_per_runner=2, train_batch_size=64,
                         total_timesteps=64, env_kwargs={"horizon": 8}, out=str(tmp_path / "ppo"), progress=False)
    with pytest.raises(node_check.NodeMismatch, match=rf"^the Ray node [0-9a-f]{{8}} at \S+ \(.+\) differs .*numpy {real['numpy']} there, "
                                                      r"0.0-other here"):
        train(config, log=lambda m: None)
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing written


def test_rllib_refuses_more_env_runners_than_the_instance_has_cpus(cluster, tmp_path):
    """An env runner is an actor of one CPU and RLlib waits, silently, until all are placed:
    ``--env-runners 4`` (the README's DQN example) on a 2-core machine waited forever (a Ray
    user's audit, 2026-12-04). Without ``--address`` the instance never grows: refused, naming
    the value and the valid range, before anything is built or written."""
    from lrgym.baselines.train_rllib import RLlibConfig, train

    out = tmp_path / "dqn"
    config = RLlibConfig(algo="dqn", env_runners=3, total_timesteps=64, out=str(out), progress=False)
    with pytest.raises(ValueError, match=r"--env-runners 3 needs 3 CPUs .* has 2; valid: --env-runners 0 to 2"):
        train(config, log=lambda m: None)
    assert list(tmp_path.iterdir()) == []


def _dies_first(job):
    """A task whose Ray worker dies (SIGKILL) unless its marker file exists; it creates the file."""
    import os
    import signal

    marker, value = job
    if marker is not None and os.path.exists(marker):
        return value
    if marker is not None:
        Path(marker).touch()
    os.kill(os.getpid(), signal.SIGKILL)


def test_imap_tasks_whose_worker_dies_are_retried_once(cluster, tmp_path):
    """The tuning backend: a killed Ray worker costs one retry; a second death raises JobLost."""
    import ray.cloudpickle

    from lrgym.baselines.backend import Backend, JobLost

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    backend = Backend("ray")
    jobs = [(str(tmp_path / f"m{i}"), i) for i in range(3)]
    assert sorted(backend.imap(_dies_first, jobs, workers=2)) == [0, 1, 2]
    with pytest.raises(JobLost, match="lost its Ray worker 2 times"):
        list(backend.imap(_dies_first, [(None, 7)], workers=1))


def _settings_seen(job):
    """What a Ray task's interpreter started with: its settings, a string hash and NumPy's SIMD set."""
    import os

    from lrgym.baselines.node_check import node_fingerprint

    return os.environ.get("PYTHONHASHSEED"), hash("lrgym"), node_fingerprint()["numpy simd"]


def test_imap_tasks_check_their_node_like_the_grader_actors(cluster, monkeypatch):
    """Tuning and reference tasks (``Backend.imap``) ran on any node unchecked (the audit of
    2026-12-04): a node with other code mixed its values into the driver's. Each task now
    compares its node with the driver's fingerprint before running; here the driver's says
    another NumPy, as a node with another NumPy would differ from it. The error is the node's
    ``NodeMismatch`` itself, its message without Ray's traceback."""
    import ray.cloudpickle

    from lrgym.baselines import backend

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    real = backend.node_fingerprint()
    monkeypatch.setattr(backend, "node_fingerprint", lambda: {**real, "numpy": "0.0-other"})
    with pytest.raises(backend.NodeMismatch, match=rf"numpy {real['numpy']} there, 0.0-other here") as stop:
        list(backend.Backend("ray").imap(_settings_seen, [0, 1], workers=2))
    # the node's message alone: Ray's RayTaskError(NodeMismatch) put its traceback of the task
    # around it, which the commands then printed (a Ray operator's audit, 2026-12-06)
    assert type(stop.value) is backend.NodeMismatch and str(stop.value).startswith("the Ray node ")
    monkeypatch.undo()
    assert len(list(backend.Backend("ray").imap(_settings_seen, [0, 1], workers=2))) == 2


def _job_and_node(job):
    import ray

    return job, ray.get_runtime_context().get_node_id()


def test_on_each_node_runs_one_task_on_every_node_checked_like_the_tasks(cluster, monkeypatch):
    """``train_rllib --address`` fills each node's Numba cache before RLlib builds its env
    runners (a first run's runners each compiled the same kernels at once: 239 s of sampling
    for 2,000 steps), with one task per node (``backend.on_each_node``): once on each live node,
    which is checked against the driver's fingerprint first, as the other tasks are."""
    import ray
    import ray.cloudpickle

    from lrgym.baselines import backend

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    done = backend.on_each_node(_job_and_node, "warm")
    alive = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
    assert sorted(node for _, node in done) == alive and len(alive) == 2
    assert [job for job, _ in done] == ["warm", "warm"]
    real = backend.node_fingerprint()
    monkeypatch.setattr(backend, "node_fingerprint", lambda: {**real, "numpy": "0.0-other"})
    with pytest.raises(backend.NodeMismatch, match=rf"numpy {real['numpy']} there, 0.0-other here") as stop:
        backend.on_each_node(_job_and_node, "warm")
    assert type(stop.value) is backend.NodeMismatch and str(stop.value).startswith("the Ray node ")


def _fails_on_the_node(job):
    raise ValueError(f"no kernel for {job}")


def test_on_each_node_names_the_node_a_task_failed_on(cluster):
    """``on_each_node``'s task that raised on a node was raised as Ray's error of it, naming no
    node; it is now :class:`backend.NodeTaskFailed`, naming the node first (the node order's
    first failure) and keeping the task's own exception."""
    import ray
    import ray.cloudpickle

    from lrgym.baselines import backend

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    names = {f"{n['NodeID'][:8]} at {n['NodeManagerAddress']} ({n['NodeManagerHostname']})"
             for n in ray.nodes() if n["Alive"]}
    with pytest.raises(backend.NodeTaskFailed) as failed:
        backend.on_each_node(_fails_on_the_node, "warm")
    assert failed.value.node in names and isinstance(failed.value.error, ValueError)
    assert str(failed.value) == f"on the Ray node {failed.value.node}: ValueError: no kernel for warm"


def _fails_here_or_runs_a_minute(job):
    """Raise at once on the node ``job`` names (``"*"``: on any; ``"-"``: on none, returning at
    once instead); elsewhere run for 60 s in small sleeps, then leave a file ``<node>.ended`` in
    ``job``'s folder (``<node>.<tag>.ended`` for a job's third item, its tag), or ``.stopped`` if something ends it first (the run's stop)."""
    import time

    import ray

    fails_on, folder = job[:2]
    node = ray.get_runtime_context().get_node_id()
    if fails_on in (node, "*"):
        raise ValueError("fails at once")
    if fails_on == "-":
        return node
    name = f"{node}.{job[2]}" if len(job) > 2 else node
    try:
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            time.sleep(0.05)
    except BaseException:
        (Path(folder) / f"{name}.stopped").write_text("stopped")
        raise
    (Path(folder) / f"{name}.ended").write_text("ended")
    return node


def _files_in(folder: Path, count: int, seconds: float = 30.0) -> list:
    """The names of the files in ``folder`` once there are ``count`` (or after ``seconds``), sorted."""
    import time

    deadline = time.monotonic() + seconds
    while len(list(folder.iterdir())) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return sorted(f.name for f in folder.iterdir())


def _stop_keys() -> list:
    """The stop keys in the cluster's GCS key-value store (lrgym.baselines.ray_stop)."""
    from ray.experimental.internal_kv import _internal_kv_list

    from lrgym.baselines.ray_stop import STOP_NAMESPACE

    return _internal_kv_list("", namespace=STOP_NAMESPACE)


def _until_no_stop_keys(seconds: float = 30.0) -> list:
    import time

    deadline = time.monotonic() + seconds
    while _stop_keys() and time.monotonic() < deadline:
        time.sleep(0.1)
    return _stop_keys()


def test_a_failure_on_one_node_stops_the_other_nodes_task(cluster, tmp_path):
    """``on_each_node`` cancelled the other nodes' tasks (``ray.cancel(force=True)``) when one
    node's failed. Ray 2.60 aborts the driver when a cancel meets a task whose reply is arriving
    (``Check failed ... Tried to complete task that was not pending``), and ``on_each_node``'s
    tasks are alike, so they end together: the project's CI lost a test process to it. Then
    they were left to run to their end. Now they are stopped through the run's stop key: here
    the second node's task, a minute long, ends within seconds of the first node's failure
    (the code before ran it for its minute), and the key is deleted once it has ended."""
    import time

    import ray
    import ray.cloudpickle

    from lrgym.baselines import backend

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    alive = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n.get("Resources", {}).get("CPU", 0) >= 1]
    assert len(alive) == 2
    t0 = time.monotonic()
    with pytest.raises(backend.NodeTaskFailed, match="fails at once") as failed:
        backend.on_each_node(_fails_here_or_runs_a_minute, (alive[0], str(tmp_path)))  # the first awaited fails
    assert failed.value.node.startswith(alive[0][:8])
    assert _files_in(tmp_path, 1) == [f"{alive[1]}.stopped"]
    assert time.monotonic() - t0 < 30.0  # not the task's minute
    assert _until_no_stop_keys() == []


def test_an_imap_job_that_fails_stops_the_jobs_in_flight(cluster, tmp_path):
    """``ray_imap`` cancelled its tasks in flight when a job raised (the race above), then left
    them to end; the job's error is still raised at once, and the other job, a minute long on
    the other node, is now stopped within seconds."""
    import ray.cloudpickle

    from lrgym.baselines import backend

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    jobs = [("*", str(tmp_path)), ("", str(tmp_path))]  # the first fails at once; the second runs a minute
    with pytest.raises(ValueError, match="fails at once"):
        list(backend.Backend("ray").imap(_fails_here_or_runs_a_minute, jobs, workers=2))
    found = _files_in(tmp_path, 1)
    assert len(found) == 1 and found[0].endswith(".stopped"), found
    assert _until_no_stop_keys() == []


def test_closing_an_imap_run_stops_its_tasks_and_later_runs_are_untouched(cluster, tmp_path):
    """A caller that closes ``ray_imap``'s generator after its first result (a notebook's loop
    broken off, ``itertools.islice``) left the tasks in flight running to their end: here two jobs
    of a minute each, on the cluster's two CPUs, the second started after the first result (a
    third job, pending until then). Both now end within seconds, by the stop; the stop key is
    deleted once they have ended. A run after it (its own key) runs to its end with its results,
    and writes no key."""
    import time

    import ray.cloudpickle

    from lrgym.baselines import backend

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    folder = tmp_path / "stopped"
    folder.mkdir()
    jobs = [("-", str(folder)), ("", str(folder), "a"), ("", str(folder), "b")]  # the first returns at once
    run = backend.Backend("ray").imap(_fails_here_or_runs_a_minute, jobs, workers=3)
    next(run)
    t0 = time.monotonic()
    run.close()
    found = _files_in(folder, 2)
    # (sorted by job: a name starts with the id of the node its job ran on, which orders them at random)
    assert sorted(name.rsplit(".", 2)[1:] for name in found) == [["a", "stopped"], ["b", "stopped"]], found
    assert time.monotonic() - t0 < 30.0  # not the jobs' minute
    assert _until_no_stop_keys() == []
    assert sorted(backend.Backend("ray").imap(abs, [-3, -1, -2], workers=2)) == [1, 2, 3]
    assert _stop_keys() == []


def test_runs_stopped_as_their_tasks_finish_leave_the_driver_running(cluster):
    """A stop that meets tasks just finishing (the moment ``ray.cancel`` aborted the driver at):
    runs of quick jobs closed after their first result, again and again. The driver (this test
    process) lives on, every run's key is deleted, and a later run's results are whole."""
    from lrgym.baselines import backend

    for _ in range(25):
        run = backend.Backend("ray").imap(abs, range(-6, 0), workers=2)
        assert next(run) in range(1, 7)
        run.close()
    assert _until_no_stop_keys() == []
    assert sorted(backend.Backend("ray").imap(abs, range(-6, 0), workers=2)) == [1, 2, 3, 4, 5, 6]


# A driver joining the cluster whose job's runtime environment no node can set up (a conda env
# that no node has: Ray's RuntimeEnvSetupError on each), then train_rllib's command.
_BROKEN_ENV_DRIVER = """
import sys
import ray
real = ray.init
ray.init = lambda **kw: real(**{**kw, "runtime_env": {**kw.get("runtime_env", {}), "conda": "no-such-env-lrgym"}})
from lrgym.baselines import train_rllib
train_rllib.main(sys.argv[1:])
"""


@pytest.mark.parametrize("runners", [1, 2])
def test_a_runtime_env_the_nodes_cannot_set_up_stops_train_rllib_naming_the_node(runners, cluster, tmp_path):
    """With a runtime environment Ray cannot set up (here on every node), ``train_rllib`` ended
    after a minute in RLlib's ``IndexError: list index out of range`` traceback (one env runner:
    RLlib logged the runners' ``RuntimeEnvSetupError`` and found no runner to ask for the spaces),
    or in Ray's traceback of the warm-up task (two runners, ``--address``), neither naming the node
    nor the fix. Ray does not retry it (it would fail the same way). Now one line, exit 1: the node
    that cannot set it up, where it says why, and the fix; nothing written."""
    import os
    import subprocess

    out = tmp_path / "ppo"
    done = subprocess.run(
        [sys.executable, "-c", _BROKEN_ENV_DRIVER, "--address", cluster.address, "--env-runners", str(runners),
         "--envs-per-runner", "2", "--steps", "64", "--horizon", "8", "--family", "linreg", "--out", str(out),
         "--no-progress"], cwd=tmp_path, capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert done.returncode == 1, done.stderr[-3000:]
    said = done.stderr[done.stderr.find("python -m lrgym.baselines.train_rllib: error: "):]
    expected = "Ray cannot run " + ("warm_runner_kernels" if runners == 2 else "_nothing")
    if runners == 1:  # no warm-up task: RLlib's failed build, then the task of nothing on each node
        expected = f"RLlib could not start its env runners: {expected}"
    assert re.match(rf"python -m lrgym.baselines.train_rllib: error: {expected} on each node: the Ray node [0-9a-f]{{8}} "
                    r"at \S+ \(.+\) cannot set up the runtime environment of lrgym's Ray workers", said), done.stderr[-3000:]
    # the fix, then Ray's error as Ray gives it (its node's traceback of the set-up: conda missing)
    assert "Mend that node or take it out of the cluster" in said and "RuntimeEnvSetupError: " in said
    assert "Could not find Conda executable" in said
    # no traceback of the driver's (RLlib's IndexError, or Ray's raised through train_rllib)
    assert "IndexError" not in done.stderr and "baselines/train_rllib.py" not in done.stderr, done.stderr[-3000:]
    assert list(tmp_path.iterdir()) == []


def test_an_imap_task_on_a_node_from_before_the_check_is_a_node_mismatch(cluster, monkeypatch):
    """A node whose lrgym predates the node check runs ``_call(fn, job)``: the driver's third
    argument (its fingerprint) made it fail with Python's TypeError, read as the job's own error.
    It is now a NodeMismatch saying why. The old node's runner is stood in for by a function of
    that name and signature, called as a node calls its own (Python writes the message)."""
    import ray
    import ray.cloudpickle

    from lrgym.baselines import backend

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    monkeypatch.setattr(backend, "_remote_call", ray.remote(num_cpus=1, max_retries=0)(_old_node))
    with pytest.raises(backend.NodeMismatch, match=r"runs an older lrgym than the driver's .*_call\(\) takes 2 "):
        list(backend.Backend("ray").imap(abs, [1], workers=1))
    monkeypatch.undo()
    with pytest.raises(ValueError, match="the job's own"):  # a job's own error is still its own
        list(backend.Backend("ray").imap(_raises_its_own, [1], workers=1))


def _call(fn, job):
    """lrgym.baselines.backend._call before the node check (no ``expected`` argument)."""
    return fn(job)


def _old_node(*args):
    """What a node with that lrgym does with the driver's task: its own ``_call(*args)``."""
    return _call(*args)


def _raises_its_own(job):
    raise ValueError("the job's own error")


def test_the_drivers_interpreter_settings_hold_in_tasks_and_actors(cluster, monkeypatch):
    """NumPy picks its SIMD kernels at import and Python its hash seed at start: the driver's
    ``NPY_DISABLE_CPU_FEATURES`` / ``PYTHONHASHSEED`` reach every Ray worker from its first
    instruction (runtime_env), the nodes having been started without them; the actors' node
    check (which compares both) then passes."""
    import json
    import subprocess

    import ray.cloudpickle

    from lrgym.baselines import backend, node_check
    from lrgym.leaderboard.ray_pool import RayWorkerPool

    # a driver started with the machine's defaults (the suite's numerics tier runs with NumPy's
    # dispatch already off: nothing left to disable there)
    clean = {k: v for k, v in __import__("os").environ.items() if k not in node_check.INTERPRETER_SETTINGS}
    code = ("import json; from lrgym.baselines.node_check import node_fingerprint; "
            "print(json.dumps([hash('lrgym'), node_fingerprint()['numpy simd']]))")
    found = json.loads(subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True,
                                      check=True).stdout.splitlines()[-1])[1].split()
    disabled = found[-1]  # the highest feature NumPy dispatches to here (a dispatch target, not the baseline)
    env = {**clean, "PYTHONHASHSEED": "123", "NPY_DISABLE_CPU_FEATURES": disabled}
    reference, simd = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                                text=True, check=True).stdout.splitlines()[-1])
    assert simd.split() == found[:-1]  # a driver started with the setting: one feature fewer
    # this driver started without them: it is made to see what one started with them sees
    monkeypatch.setenv("PYTHONHASHSEED", "123")
    monkeypatch.setenv("NPY_DISABLE_CPU_FEATURES", disabled)
    monkeypatch.setattr(node_check, "_numpy_simd", lambda: simd)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    seen = list(backend.Backend("ray").imap(_settings_seen, [0, 1], workers=2))
    assert {(s[0], s[1]) for s in seen} == {("123", reference)}
    assert {s[2] for s in seen} == {simd}
    # the actors: their node check compares both settings with the driver's (set above)
    assert RayWorkerPool(2).run([Job("g", {"op": "sleep", "seconds": 0})] * 2)["g"].replies == [{"ok": True}] * 2


class _OptionsSpy:
    """Records the options an actor class or remote function is started with."""

    def __init__(self, remote, seen: list):
        self.remote_fn, self.seen = remote, seen

    def options(self, **kwargs):
        self.seen.append(kwargs)
        return self.remote_fn.options(**kwargs)


def test_actors_and_tasks_ask_ray_for_the_memory_they_may_use(cluster):
    """Ray packed actors by CPUs only: a node took as many sandboxes as it had CPUs whatever
    their memory limit (the audit of 2026-12-04). Each grader actor now asks for the largest
    sandbox memory limit of its jobs plus ACTOR_MEMORY_MB; each imap task for TASK_MEMORY_MB; a
    request no node holds is refused before anything runs."""
    import ray.cloudpickle

    from lrgym.baselines import backend
    from lrgym.leaderboard.ray_pool import ACTOR_MEMORY_MB, RayWorkerPool

    seen: list = []
    pool = RayWorkerPool(1)
    pool._host = _OptionsSpy(pool._host, seen)
    jobs = [Job("a", {"op": "sleep", "seconds": 0, "sandbox": {"memory_mb": 300.0}}),
            Job("b", {"op": "sleep", "seconds": 0, "sandbox": None})]
    assert all(r.replies == [{"ok": True}] for r in pool.run(jobs).values())
    assert seen and all(o["memory"] == int((ACTOR_MEMORY_MB + 300) * 2**20) for o in seen)
    largest = max(n["Resources"]["memory"] for n in pool.ray.nodes() if n["Alive"]) / 2**20
    with pytest.raises(ValueError, match=rf"needs [0-9.e+]+ MB of Ray memory .* offers {largest:.0f} MB"):
        pool.run([Job("a", {"op": "sleep", "seconds": 0, "sandbox": {"memory_mb": largest + 1 - ACTOR_MEMORY_MB}})])

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    calls: list = []
    backend._remote_call = None
    list(backend.Backend("ray").imap(_settings_seen, [0], workers=1))  # makes the remote function
    backend._remote_call = _OptionsSpy(backend._remote_call, calls)
    list(backend.Backend("ray").imap(_settings_seen, [0], workers=1))
    assert calls and calls[0]["memory"] == backend.TASK_MEMORY_MB * 2**20


def test_rllib_resume_checks_the_checkpoints_env_runners_against_the_cpus(cluster, tmp_path):
    """``--resume`` goes on with the checkpoint's own settings, and skipped the CPU check the
    first run has: a checkpoint of 3 env runners resumed on 2 CPUs waited for ever (the audit of
    2026-12-04). Both paths now share the check; the checkpoint's count is read from its
    settings file before anything is built."""
    import pickle

    from ray.rllib.algorithms.ppo import PPO, PPOConfig

    from lrgym.baselines.train_rllib import RLlibConfig, checkpoint_settings, train

    ckpt = tmp_path / "ppo.ckpt"
    ckpt.mkdir()
    state = PPOConfig().environment("lrgym-rllib", env_config={"family": "mixed", "reward_clip": [-10.0, 1.0]}) \
        .env_runners(num_env_runners=3).get_state()
    with open(ckpt / "class_and_ctor_args.pkl", "wb") as f:  # what Algorithm.save_to_path writes first
        pickle.dump({"class": PPO, "ctor_args_and_kwargs": ((state,), {})}, f)
    saved = checkpoint_settings(ckpt)
    assert saved["algo"] == "ppo" and saved["env_runners"] == 3
    config = RLlibConfig(algo="ppo", resume=str(ckpt), total_timesteps=64, out=str(tmp_path / "o"), progress=False)
    with pytest.raises(ValueError, match=r"ppo\.ckpt \(3 env runners, the checkpoint's own setting\) needs 3 CPUs"
                                         r".* has 2; valid: --address of a cluster"):
        train(config, log=lambda m: None)
    with pytest.raises(ValueError, match=r"holds --algo ppo but --algo dqn was given; valid: leave --algo out"):
        train(RLlibConfig(algo="dqn", resume=str(ckpt), out=str(tmp_path / "o")), log=lambda m: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ppo.ckpt"]  # nothing written


def test_a_real_head_passes_the_check_that_refuses_other_services(cluster):
    """``--address HOST:PORT`` is checked before ``ray.init`` for a peer answering the HTTP/2
    preface with a SETTINGS frame (a web server there is refused in seconds: test_backend.py);
    a real head's GCS (gRPC) passes it, at once."""
    import time

    from lrgym.baselines.ray_connect import _check_reachable

    t0 = time.monotonic()
    _check_reachable(cluster.address)
    assert time.monotonic() - t0 < 3


def test_a_ray_grader_stopped_by_sigterm_ends_its_grader_workers(cluster, tmp_path):
    """``lrgym leaderboard submit --backend ray`` of a policy that hangs in act(), stopped by
    SIGTERM mid-grading (what Slurm, ``timeout`` and ``docker stop`` send): as with the local
    pool and Ctrl-C, exit status 143 and the "interrupted" line, its grader workers on the
    cluster's nodes and their sandboxes gone, no sandbox cgroup left, the store valid and
    without the unfinished entry. (``ray.init`` puts a SIGTERM handler of its own, which ended
    the driver with status 15 and no cleanup of its own: ``keep_stop_handlers`` keeps lrgym's.)"""
    import os
    import signal
    import subprocess
    import time

    from lb_helpers import dead_sandbox_groups, descendants_seen, sandbox_groups

    from lrgym.leaderboard.store import ResultStore

    sandboxes = b"lrgym.leaderboard.policy_host"
    before_workers, before_sandboxes, before_groups = _grader_workers(), _grader_workers(sandboxes), sandbox_groups()
    db = tmp_path / "results.sqlite"
    with descendants_seen() as ours:  # (the fixture's nodes are children of this process: so are their workers)
        proc = subprocess.Popen(
            [sys.executable, "-m", "lrgym.leaderboard.cli", "leaderboard", "submit", policy("Hangs"), "--suite", "quick",
             "--db", str(db), "--workers", "1", "--time-limit", "600", "--backend", "ray", "--address", cluster.address],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, COLUMNS="200"))
        try:
            deadline = time.monotonic() + 180  # a bound on a stuck driver, not a timing assertion
            running = set()
            while not running and time.monotonic() < deadline:  # a sandbox on the cluster runs the hanging policy
                assert proc.poll() is None, proc.communicate()
                running = _grader_workers(sandboxes) - before_sandboxes
                time.sleep(0.1)
            assert running and _grader_workers() - before_workers, "the job never started on the cluster"
            time.sleep(1)  # into act()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    err = " ".join(err.decode().split())
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert f"interrupted: 0 finished entries are saved in {db}" in err, err
    assert "Traceback" not in err, err
    deadline = time.monotonic() + 30  # the killed actors' processes may still be exiting
    while (_grader_workers() - before_workers or _grader_workers(sandboxes) - before_sandboxes) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _grader_workers() - before_workers == set()
    assert _grader_workers(sandboxes) - before_sandboxes == set()
    deadline = time.monotonic() + 30
    while dead_sandbox_groups(before_groups, makers=ours) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert dead_sandbox_groups(before_groups, makers=ours) == []  # (of this test's grader workers only)
    with ResultStore(db) as store:
        assert store.check_integrity()
        assert store.entries() == [] and not store.pending_dir.exists()


# ---- lost nodes (a third node added, then killed as a machine that dies; last in the module, so
# the tests before see the two nodes alone; until 2026-12-07 test_ray_lost_nodes.py, which started a
# two-node cluster of its own for these three tests: one cluster start and teardown less) ----


def _names_by_ray():
    """node id -> what lrgym should call it (its id's first 8 hex digits, address and host name),
    from Ray's own table of the live nodes."""
    import ray

    return {n["NodeID"]: f"{n['NodeID'][:8]} at {n['NodeManagerAddress']} ({n['NodeManagerHostname']})"
            for n in ray.nodes() if n["Alive"]}


def test_two_nodes_of_one_machine_are_named_apart(cluster, monkeypatch):
    """Messages named a node by its IP address alone: the two nodes of this machine were both
    the same address in a node check's error or a CPU-kind warning (an audit of the Ray backend,
    2026-12-06). A node is now its Ray node id (short), address and host name."""
    import ray
    import ray.cloudpickle
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from lrgym.baselines import backend

    expected = _names_by_ray()
    assert len(expected) == 2
    report = ray.remote(num_cpus=1)(backend.node_report)
    seen = {}
    for node_id in expected:
        on = NodeAffinitySchedulingStrategy(node_id, soft=False)
        seen[node_id] = ray.get(report.options(scheduling_strategy=on).remote(), timeout=300)["node"]
    assert seen == expected
    assert len(set(seen.values())) == 2  # apart, though one machine (one address)
    assert all(re.fullmatch(r"[0-9a-f]{8} at \S+ \(.+\)", name) for name in seen.values())
    # a node check's error names the node so
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    real = backend.node_fingerprint()
    monkeypatch.setattr(backend, "node_fingerprint", lambda: {**real, "numpy": "0.0-other"})
    with pytest.raises(backend.NodeMismatch, match=r"^the Ray node [0-9a-f]{8} at \S+ \(.+\) differs") as stop:
        list(backend.Backend("ray").imap(abs, [1], workers=1))
    assert any(name in str(stop.value) for name in expected.values())


def _marks_and_sleeps(job):
    """A job that leaves ``<folder>/<i>.<its node id>`` when it starts, then takes 3 s: i * i."""
    import ray

    folder, i = job
    Path(folder, f"{i}.{ray.get_runtime_context().get_node_id()}").touch()
    time.sleep(3)
    return i * i


def _kill_node_when(cluster, node, started, timeout: float = 240):
    """Kill ``node`` (its raylet and workers: a machine that dies) once ``started()`` says a job
    runs there; a thread, so the run goes on in the test's own."""
    def watch():
        deadline = time.monotonic() + timeout
        while not started() and time.monotonic() < deadline:
            time.sleep(0.05)
        cluster.remove_node(node, allow_graceful=False)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_node_lost_mid_run_is_named_with_the_tasks_that_ran_again(cluster, tmp_path):
    """Tuning and reference tasks (``Backend.imap``) of a node that dies are run again on a live
    one, with the same results; Ray did it without a word from lrgym (an audit of the Ray backend,
    2026-12-06). Each job lost now warns, naming it and the node it was lost on."""
    import ray.cloudpickle

    from lrgym.baselines.backend import Backend

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    third = cluster.add_node(num_cpus=1, object_store_memory=80 * 1024 * 1024)
    cluster.wait_for_nodes()
    name = _names_by_ray()[third.node_id]

    def on_third():
        return [p.name.split(".")[0] for p in tmp_path.iterdir() if p.name.endswith(third.node_id)]

    watcher = _kill_node_when(cluster, third, on_third)
    jobs = [(str(tmp_path), i) for i in range(3)]
    with pytest.warns(RuntimeWarning) as caught:
        out = sorted(Backend("ray").imap(_marks_and_sleeps, jobs, workers=3))
    watcher.join(60)
    assert out == [0, 1, 4]  # the same results
    lost = on_third()
    assert len(lost) == 1, lost  # one job started on the node that died
    said = [str(w.message) for w in caught if "lost its Ray worker" in str(w.message)]
    assert said == [f"job ('{tmp_path}', {lost[0]}) lost its Ray worker on the Ray node {name}, now gone "
                    f"(NodeDiedError: Task failed because the node it was running on is dead or unavailable); it "
                    f"runs again on a live node (retry 1 of 1), with the same result"], said


def _grader_actors_of(raylet_pid: int) -> list[int]:
    """The Ray worker processes of one node (children of its raylet) running a grader actor's job."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                ppid = int(f.read().rpartition(b")")[2].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == raylet_pid and command.startswith(b"ray::GraderHost.run"):
            found.append(int(pid))
    return found


def test_a_grader_actor_lost_with_its_node_is_named_and_its_job_runs_again(cluster):
    """The grader's actors: a job whose actor's node dies runs again on a new actor (its entry
    not failed, the same replies); the warning names the node the actor was on, the job and the
    entry."""
    from ray._private import ray_constants

    from lrgym.leaderboard.ray_pool import RayWorkerPool

    third = cluster.add_node(num_cpus=1, object_store_memory=80 * 1024 * 1024)
    cluster.wait_for_nodes()
    name = _names_by_ray()[third.node_id]
    raylet = third.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid
    watcher = _kill_node_when(cluster, third, lambda: _grader_actors_of(raylet))
    # 8 s a job: the watcher must see one run in the third node's actor (a scan of /proc every
    # 0.05 s) before it ends; with 3 s, a CI run under load 6 - 9 once saw none (no loss, no warning)
    jobs = [Job(f"e{i}", {"op": "sleep", "seconds": 8}) for i in range(3)]
    with pytest.warns(RuntimeWarning) as caught:
        results = RayWorkerPool(3).run(jobs)
    watcher.join(60)
    assert all(not r.failed and r.replies == [{"ok": True}] for r in results.values()), results
    said = [str(w.message) for w in caught if "lost its grader actor" in str(w.message)]
    assert len(said) == 1, said
    # "now gone" where Ray's node table said so when the loss arrived (here it often does not yet)
    assert re.fullmatch(rf"a sleep job of the entry 'e[012]' lost its grader actor on the Ray node {re.escape(name)}"
                        r"(, now gone)? \(\w+: .+\): it runs again on a new actor, with the same result", said[0]), said[0]
