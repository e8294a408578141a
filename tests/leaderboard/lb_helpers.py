"""Shared helpers for the leaderboard tests: tiny suites and synthetic entries."""

from __future__ import annotations

import contextlib
import os
import re

from lrgym.leaderboard.store import EntryRecord, RunRecord
from lrgym.leaderboard.suite import FamilySuite, Suite

HERE = os.path.dirname(os.path.abspath(__file__))
POLICIES = os.path.join(HERE, "lb_policies.py")


#: the start of a probe policy's source: ``_seen(path)``, what a policy finds at ``path`` ("missing",
#: "unreadable", ["folder", its names], ["file", its size], or with ``contents`` its first 200
#: bytes as text); the probe fails with its facts between FACTS and END (:func:`probe_facts`)
SEEN_SOURCE = '''
import json, os

def _seen(path, contents=False):
    if os.path.isdir(path):
        return ["folder", sorted(os.listdir(path))]
    if not os.path.exists(path):
        return "missing"
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "unreadable"
    return ["file", data[:200].decode("latin-1") if contents else len(data)]
'''


def probe_facts(outcome) -> dict:
    """The facts a probe policy failed with (between FACTS and END of its failure reason)."""
    import json

    reason = outcome.entry.failure_reason
    assert reason is not None and "FACTS" in reason, reason
    return json.loads(reason[reason.index("FACTS") + 5: reason.index("END")])


def policy(name: str) -> str:
    """The submission target of a test policy class."""
    return f"{POLICIES}:{name}"


def graded_runs(outcome) -> dict:
    """A graded entry's runs as ``{(family, instance, seed): (score, LR curve)}``, asserting that it
    graded (two gradings of one policy compare equal when every run repeats to the bit)."""
    assert outcome.ok, outcome.entry.failure_reason
    return {(r.family, r.instance, r.seed): (r.score, list(r.curves["lr"])) for r in outcome.runs}


def graded_alike_on_1_and_2_workers(module: str, classes: tuple[str, str], suite: Suite, refs) -> dict:
    """Grade the two ``classes`` of the file ``module`` on ``suite`` with 1 and then 2 workers (other
    job cuts) and assert that all four gradings are the same run for run (:func:`graded_runs`);
    returns those runs."""
    from lrgym.leaderboard.runner import run_suite, submission_spec

    graded = {}
    for workers in (1, 2):
        first, second = run_suite([submission_spec(f"{module}:{c}", name=f"{c.lower()}-{workers}") for c in classes],
                                  suite, references=refs, n_workers=workers, time_limit=300)
        graded[workers] = graded_runs(first)
        assert graded[workers] == graded_runs(second)
    assert graded[1] == graded[2]
    return graded[1]


def tiny_suite(name: str = "tiny", families=("quadratic",), n_instances: int = 1, seeds=(0, 1),
               horizon: int = 6, inner_steps: int = 3) -> Suite:
    """A suite of a few short episodes on the cheapest families (seconds, not minutes)."""
    return Suite(
        name=name, revision=1, description="test suite", instance_set="test",
        families=tuple(FamilySuite(f, tuple(range(20000, 20000 + n_instances)), horizon, inner_steps)
                       for f in families),
        seeds=tuple(seeds),
    )


def one_episode_setup(folder, module: str, source: str):
    """(path of ``source`` written as ``module``.py in ``folder``, a one-episode quadratic suite
    named ``module``, its references): what the sandbox-limit tests grade their policies on."""
    from lrgym.leaderboard.references import load_references

    path = folder / f"{module}.py"
    path.write_text(source)
    suite = tiny_suite(module, families=("quadratic",), n_instances=1, seeds=(0,), horizon=3, inner_steps=2)
    return path, suite, load_references(suite, n_workers=1)


def synthetic_runs(suite: Suite, scores) -> list[RunRecord]:
    """Runs with the given (n_seeds, n_tasks) score matrix (curves are short fakes)."""
    runs = []
    for i, seed in enumerate(suite.seeds):
        for j, task in enumerate(suite.tasks()):
            runs.append(RunRecord(
                family=task.family, instance=task.instance, seed=seed, score=float(scores[i][j]),
                final_loss=0.1, initial_loss=1.0, diverged=False, steps_to_target=float(1 + (i + j) % 3),
                curves={"lr": [0.1, 0.1], "train_loss": [1.0, 0.5, 0.1], "val_loss": [1.0, 0.5, 0.1],
                        "metric": [0.0, 0.5, 0.9]},
            ))
    return runs


def synthetic_entry(suite: Suite, name: str, kind: str = "baseline", **kw) -> EntryRecord:
    return EntryRecord(name=name, kind=kind, suite_version=suite.version, seeds=suite.seeds, **kw)


def processes_with(token: str) -> list[int]:
    """Pids of live processes whose environment contains ``LRGYM_TEST_TOKEN=token`` (Linux),
    except this process's own worker templates, kept for the module's runs (tests/conftest.py:
    a template never runs a job nor sees a policy; the workers it forks are children of it, not
    of this process, and counted)."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read()
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                template = b"lrgym.leaderboard.worker_template" in f.read() and int(fields[1]) == os.getpid()
        except OSError:
            continue
        if f"LRGYM_TEST_TOKEN={token}".encode() in environ and fields[0] != "Z" and not template:
            pids.append(int(pid))
    return pids


def probe_sandbox(source: str, after_start=None) -> dict:
    """Run ``source`` as a policy module in a fresh sandbox: its class ``Probe`` collects facts
    in its constructor and raises ``RuntimeError("FACTS" + json + "END")``, which reaches the
    grader as the failure reason; returns the facts. ``after_start()``, if given, runs in the
    grader once the sandbox is built, before the policy loads."""
    import json

    import pytest

    from lrgym.leaderboard.sandbox import Limits, SandboxError, start

    process = start(Limits(memory_mb=1500, cpu_seconds=60))
    try:
        if after_start is not None:
            after_start()
        process.request(("load", {"kind": "object", "module": "probe", "attr": "Probe", "file": "probe.py",
                                  "source": "probe.py"}, {"probe.py": source.encode()}))
        with pytest.raises(SandboxError) as info:
            process.request(("policies", "quadratic", 1))
    finally:
        process.close()
    text = str(info.value)
    return json.loads(text[text.index("FACTS") + 5: text.index("END")])


def sandbox_groups() -> list[str]:
    """Every ``lrgym-sandbox-*`` cgroup on the machine (none where no sandbox cgroup can be made)."""
    from lrgym.leaderboard.sandbox_cgroup import CGROUP_PREFIX, _cgroup_parents

    version, parents = _cgroup_parents()
    if version is None:
        return []
    return [os.path.join(p, n) for p in parents for n in os.listdir(p) if n.startswith(CGROUP_PREFIX)]


def dead_sandbox_groups(before, *, makers) -> list[str]:
    """The sandbox cgroups not in ``before`` made by one of the pids ``makers`` (a test's own
    grader workers: :func:`descendants_seen`'s) whose maker (the pid and start time in their
    name) has ended: left behind. A live maker's group is a run's still in use; another maker's
    may be a test's beside this one under pytest-xdist (a grader worker it kills leaves its group
    to the next worker start's sweep), so ``makers`` is required: counting every dead group made
    such a test fail by chance."""
    from lrgym.baselines.owner_names import owner_gone
    from lrgym.leaderboard.sandbox_cgroup import CGROUP_PREFIX

    def maker(group: str) -> int | None:  # the pid its name starts with (any naming: pid only, or pid.start...)
        digits = re.match(r"\d+", os.path.basename(group)[len(CGROUP_PREFIX):])
        return int(digits[0]) if digits else None

    left = {g for g in set(sandbox_groups()) - set(before) if maker(g) in makers}
    return [group for group in left if owner_gone(os.path.basename(group), CGROUP_PREFIX)]


def descendants(root: int) -> set[int]:
    """``root`` and every process below it now (from ``/proc``'s parent links)."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, []))
    return found


@contextlib.contextmanager
def descendants_seen(interval: float = 0.05):
    """The pids of every process below this one seen while the block runs (``/proc`` polled every
    ``interval`` s in a thread): a grader worker lives for its whole run, seconds, so it is seen."""
    import threading

    seen: set[int] = set()
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            seen.update(descendants(os.getpid()))
            stop.wait(interval)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()
        seen.update(descendants(os.getpid()))


class StubReferences:
    """Stub references for the report's figures: a known best constant LR per task
    (``0.001 · (1 + instance mod 7)``) and a final loss of 0.01."""

    def lr(self, task):
        return 0.001 * (1 + task.instance % 7)

    def final_loss(self, task, seed):
        return 0.01


@contextlib.contextmanager
def two_node_ray_cluster():
    """A Ray head and a second node on this machine (one CPU and an 80 MB object store each,
    separate raylets: Ray's ``cluster_utils.Cluster``, what ``ray start --head`` and ``ray start
    --address`` make), on ports Ray picks free, the driver connected to the head
    (:func:`lrgym.baselines.backend.connect`); yields the ``Cluster`` (``add_node`` /
    ``remove_node`` for a third node). Its files live in a temp folder of its own (``RAY_TMPDIR``,
    inherited by the drivers a test starts: the address file a head writes stays there, not in
    the machine's ``/tmp/ray``, where ``--address auto`` of other Ray users on it would find it).
    On exit the driver disconnects, both nodes end (no ``ray stop``: it ends every Ray node of
    the machine) and ``RAY_TMPDIR`` is restored. If Ray is missing or cannot start, the test
    fails with the reason (the [ray] extra is part of [all]: nothing is skipped). One module uses it,
    tests/leaderboard/test_ray_cluster.py (a start is ≈ 10 s of a test worker's time): its tests that
    lose a node add a third one and kill that, last."""
    import shutil
    import tempfile

    import pytest

    try:
        import ray
        from ray.cluster_utils import Cluster

        from lrgym.baselines.backend import connect
    except ImportError as exc:
        pytest.fail(f"Ray is not installed ({exc}): pip install 'lrgym[ray]'")
    temp = tempfile.mkdtemp(prefix="lrgym-rt-")  # short: Ray's socket paths live below it
    os.makedirs(os.path.join(temp, "ray"))
    before = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = temp
    nodes = None
    try:
        try:
            small = dict(num_cpus=1, object_store_memory=80 * 1024 * 1024)
            nodes = Cluster(initialize_head=True, head_node_args={**small, "include_dashboard": False,
                                                                  "dashboard_port": None, "temp_dir": temp})
            nodes.add_node(**small)
            nodes.wait_for_nodes()
            connect(nodes.address)
        except Exception as exc:  # noqa: BLE001 - any reason Ray could not start is the test's failure
            pytest.fail(f"could not start a two-node Ray cluster on this machine: {type(exc).__name__}: {exc}")
        yield nodes
    finally:
        ray.shutdown()
        if nodes is not None:
            nodes.shutdown()
        if before is None:
            os.environ.pop("RAY_TMPDIR", None)
        else:
            os.environ["RAY_TMPDIR"] = before
        shutil.rmtree(temp, ignore_errors=True)


def reference_private_draw(keyfile, families, n_instances=8, n_seeds=5):
    """The drawing rule as the module docstring states it, written out again: instance i of a family
    is the private pool's start + HMAC-SHA256(key, "family/i")'s first 8 bytes (big-endian) mod the
    pool's size, repeats skipped; seed j is HMAC-SHA256(key, "seed/j") mod 2**31, repeats skipped;
    the key id is the first 8 hex digits of SHA-256("lrgym private suite id\\0" + key)."""
    import hashlib
    import hmac

    from lrgym.tasks.base import instance_set

    key = bytes.fromhex(open(keyfile).read().strip())

    def draw(label):
        return int.from_bytes(hmac.new(key, label.encode(), hashlib.sha256).digest()[:8], "big")

    pool = instance_set("private")
    instances = {}
    for family in families:
        chosen, i = [], 0
        while len(chosen) < n_instances:
            k = pool.start + draw(f"{family}/{i}") % len(pool)
            if k not in chosen:
                chosen.append(k)
            i += 1
        instances[family] = chosen
    seeds, j = [], 0
    while len(seeds) < n_seeds:
        s = draw(f"seed/{j}") % 2**31
        if s not in seeds:
            seeds.append(s)
        j += 1
    key_id = hashlib.sha256(b"lrgym private suite id\0" + key).hexdigest()[:8]
    return instances, seeds, key_id


def private_key(folder, name="grader.key"):
    """A new private suite key file ``folder/name`` (:func:`lrgym.leaderboard.private.create_key`)."""
    from lrgym.leaderboard.private import create_key

    path = folder / name
    create_key(path)
    return path


def invoke_leaderboard(*args):
    """``lrgym leaderboard ARGS`` in this process: its exit code and its output, table rules dropped
    and blanks collapsed (a message is matched whatever the table's wrapping)."""
    from typer.testing import CliRunner

    from lrgym.leaderboard.cli import app

    result = CliRunner().invoke(app, ["leaderboard", *map(str, args)], env={"COLUMNS": "400"})
    return result.exit_code, " ".join(result.output.replace("│", " ").split())
