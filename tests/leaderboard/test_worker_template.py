"""The pool's workers forked from a warm template (lrgym.leaderboard.worker_template) are workers
as the started ones are: the same scores to the bit, the same working folder, environment, open
descriptors and session, the same death reasons; and when the template dies mid-run its workers
die with it and their jobs run again on a new template. The reference each time is the same run
with ``fork_workers=False``: every worker a fresh ``python -m lrgym.leaderboard.worker``."""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import time

import pytest
from lb_helpers import policy, tiny_suite

from lrgym.leaderboard import pool, worker_template
from lrgym.leaderboard.pool import Job, WorkerPool, kept_templates
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec

# (its runs start and end their own templates, unless a test keeps them: tests/conftest.py)
pytestmark = [pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux worker pool"),
              pytest.mark.fresh_templates]

SUITE = tiny_suite("forked", families=("quadratic", "linreg"), n_instances=1, seeds=(0, 1), horizon=6, inner_steps=2)


def _forks(monkeypatch) -> list:
    """The pids of the workers the templates fork from now on (the real fork runs)."""
    pids = []
    real = worker_template.WorkerTemplate.fork

    def counting(self, *args, **kwargs):
        process = real(self, *args, **kwargs)
        pids.append(process.pid)
        return process

    monkeypatch.setattr(worker_template.WorkerTemplate, "fork", counting)
    return pids


def _started_workers_only(monkeypatch) -> None:
    monkeypatch.setattr(WorkerPool, "__init__", functools.partialmethod(WorkerPool.__init__, fork_workers=False))


def _both_ways(monkeypatch, run) -> tuple[list, object, object]:
    """(pids forked, what ``run()`` gave with the workers forked, what it gave with them started)."""
    forks = _forks(monkeypatch)
    forked = run()
    forked_pids = list(forks)
    with monkeypatch.context() as m:
        _started_workers_only(m)
        started = run()
    assert forks == forked_pids  # none more: the second run started its workers
    return forked_pids, forked, started


def _runs(outcomes) -> list:
    return [[(r.family, r.instance, r.seed, r.score, r.final_loss, r.initial_loss, r.curves) for r in o.runs]
            for o in outcomes]


def test_forked_workers_grade_to_the_bit_as_started_ones(monkeypatch):
    refs = load_references(SUITE, n_workers=2)
    specs = [submission_spec(policy("Keep"), name="keep"), submission_spec(policy("Keep"), name="keep-again")]
    forks, forked, started = _both_ways(monkeypatch, lambda: run_suite(specs, SUITE, references=refs, n_workers=2,
                                                                        time_limit=120))
    assert len(forks) >= 3  # two submissions, each on workers of its own
    assert all(o.ok for o in forked + started), [o.entry.failure_reason for o in forked + started]
    assert _runs(forked) == _runs(started)


def _fds(pid: int) -> list[str]:
    """What each open descriptor of ``pid`` is: pipe, socket, /dev/null or a file (sorted)."""
    kinds = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
        kinds.append(target.split(":")[0] if ":" in target else ("devnull" if target == os.devnull else "file"))
    return sorted(kinds)


def _seen_from_outside(pid: int) -> dict:
    """A live worker as the system sees it."""
    with open(f"/proc/{pid}/environ", "rb") as f:
        environ = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return {"cwd": os.readlink(f"/proc/{pid}/cwd"), "environ": environ, "fds": _fds(pid),
            "session": int(fields[3]), "parent": int(fields[1])}


def _live_workers() -> list[dict]:
    """Two groups' jobs that each report their worker's pid, looked at while the worker lives."""
    seen = []
    jobs = [Job(f"g{i}", {"op": "die", "once": os.devnull}) for i in range(2)]  # (the marker exists: no death)
    WorkerPool(2, isolate_groups=True).run(jobs, on_reply=lambda job, reply: seen.append(_seen_from_outside(reply["pid"])))
    return seen


def test_a_forked_worker_runs_where_and_as_a_started_one_does(monkeypatch):
    forks, forked, started = _both_ways(monkeypatch, _live_workers)
    assert len(forks) == 2
    for seen in forked + started:
        assert os.path.basename(seen["cwd"]).startswith(pool.SCRATCH_PREFIX)
    assert len({s["cwd"] for s in forked + started}) == 4  # each its own temp folder
    for seen in started:  # (/proc shows the environment a process was started with: a forked
        assert seen["environ"][b"TMPDIR"].decode() == seen["cwd"]  # one's own TMPDIR is set after)
    for a, b in zip(forked, started):
        assert {k: v for k, v in a["environ"].items() if k != b"TMPDIR"} == \
               {k: v for k, v in b["environ"].items() if k != b"TMPDIR"}
        assert a["fds"] == b["fds"]  # job pipe, reply pipe, /dev/null, its stderr file: nothing of the template's
    assert sorted(s["session"] for s in forked) == sorted(forks)  # each the leader of a session of its own
    assert all(s["parent"] == os.getpid() for s in started)
    assert all(s["parent"] != os.getpid() for s in forked) and len({s["parent"] for s in forked}) == 1  # the template


def test_a_forked_worker_that_crashes_is_named_as_a_started_one(monkeypatch):
    def reasons():
        jobs = [Job("crash", {"op": "die", "code": 3, "message": "boom"}), Job("fine", {"op": "sleep", "seconds": 0})]
        return {g: (not r.failed, r.reason) for g, r in WorkerPool(2, isolate_groups=True).run(jobs).items()}

    forks, forked, started = _both_ways(monkeypatch, reasons)
    assert len(forks) == 2 and forked == started
    assert not forked["crash"][0] and "boom" in forked["crash"][1] and forked["fine"] == (True, None)


def _templates_started(monkeypatch) -> list:
    """The pids of the templates started from now on."""
    templates = []
    real_init = worker_template.WorkerTemplate.__init__

    def counting(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        templates.append(self.process.pid)

    monkeypatch.setattr(worker_template.WorkerTemplate, "__init__", counting)
    return templates


def _template_pids() -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    cmd = f.read()
                with open(f"/proc/{name}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if b"lrgym.leaderboard.worker_template" in cmd and parent == os.getpid():
                pids.append(int(name))
    return pids


def test_workers_of_a_template_killed_mid_run_die_with_it_and_their_jobs_run_again(monkeypatch):
    """SIGKILL to the template while both its workers run a job: they die with it
    (``PR_SET_PDEATHSIG``), which the pool takes for a machine fault, as a worker killed by
    SIGKILL: each job runs again once, on a worker of a new template, and the run succeeds."""
    forks = _forks(monkeypatch)
    templates = _templates_started(monkeypatch)

    def kill_the_first_template():
        deadline = time.monotonic() + 120
        while len(forks) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the jobs under way
        os.kill(templates[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_the_first_template)
    killer.start()
    try:
        pool_ = WorkerPool(2, isolate_groups=True)
        results = pool_.run([Job(f"g{i}", {"op": "sleep", "seconds": 5}) for i in range(2)])
    finally:
        killer.join()
    assert not any(r.failed for r in results.values()), {g: r.reason for g, r in results.items()}
    assert len(templates) == 2 and len(forks) == 4 and pool_.lost_workers == 2
    for pid in forks[:2]:  # the first template's workers are gone
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    assert _template_pids() == []  # and the run ended its second template


def test_a_run_of_one_worker_starts_it_without_a_template(monkeypatch):
    forks = _forks(monkeypatch)
    results = WorkerPool(2).run([Job("one", {"op": "sleep", "seconds": 0})])
    assert not results["one"].failed and forks == []


def _one_workers_environ() -> dict:
    """The environment a run's (only) worker sees, as it reports it."""
    seen = []
    WorkerPool(2, isolate_groups=True).run([Job("g", {"op": "die", "once": os.devnull})],
                                           on_reply=lambda job, reply: seen.append(reply))
    return seen[0]["environ"]


def test_kept_templates_fork_each_runs_workers_with_its_environment_and_end_with_the_block(monkeypatch):
    """Inside ``kept_templates`` a run of one worker forks it too, and later runs reuse the
    template while their workers import alike: a variable read only at work reaches the next
    run's worker, as a started worker's environment would hold it; a variable read at import
    (``LRGYM_*``) gets a template of its own. The block's end ends both and removes their folders."""
    templates = _templates_started(monkeypatch)
    monkeypatch.delenv("KEPT_TEMPLATE_PROBE", raising=False)
    with kept_templates():
        first = _one_workers_environ()
        live = _template_pids()
        folders = [os.readlink(f"/proc/{pid}/cwd") for pid in live]
        monkeypatch.setenv("KEPT_TEMPLATE_PROBE", "read at work")
        second = _one_workers_environ()
        assert len(templates) == 1 and _template_pids() == live == templates  # kept between the runs
        monkeypatch.setenv("LRGYM_KEPT_TEMPLATE_PROBE", "read at import")
        third = _one_workers_environ()
        assert len(templates) == 2 and sorted(_template_pids()) == sorted(templates)
        folders.append(os.readlink(f"/proc/{templates[1]}/cwd"))
        with monkeypatch.context() as m:  # the reference: a started worker of the same run
            _started_workers_only(m)
            started = _one_workers_environ()
    assert "KEPT_TEMPLATE_PROBE" not in first and second["KEPT_TEMPLATE_PROBE"] == "read at work"
    assert third["LRGYM_KEPT_TEMPLATE_PROBE"] == "read at import"
    assert {k: v for k, v in third.items() if k != "TMPDIR"} == {k: v for k, v in started.items() if k != "TMPDIR"}
    assert _template_pids() == [] and not any(os.path.exists(f) for f in folders)


def test_runs_on_a_kept_template_grade_to_the_bit_as_runs_on_started_workers(monkeypatch, tmp_path):
    """Two runs (two workers, then one, with a store this time: its files are the grader's,
    which the second run's sandboxes cover) on one kept template score as with started workers."""
    refs = load_references(SUITE, n_workers=2)
    specs = [submission_spec(policy("Keep"), name="keep"), submission_spec(policy("Keep"), name="keep-again")]
    templates = _templates_started(monkeypatch)

    def runs(n):
        return [run_suite(specs, SUITE, references=refs, n_workers=2, time_limit=120),
                run_suite(specs[:1], SUITE, references=refs, n_workers=1, time_limit=120,
                          store=tmp_path / f"results-{n}.sqlite")]

    with kept_templates():
        kept = runs(0)
    assert len(templates) == 1
    with monkeypatch.context() as m:
        _started_workers_only(m)
        started = runs(1)
    assert all(o.ok for r in kept + started for o in r)
    assert [_runs(r) for r in kept] == [_runs(r) for r in started]


def test_the_template_warms_the_envs_its_runs_jobs_name():
    """What a template is told to warm: each distinct suite env of the jobs, with their instances."""
    a, b = {"family": "quadratic", "horizon": 6}, {"family": "linreg", "horizon": 6}
    payloads = [{"op": "episodes", "env_kwargs": a, "instances": [1, 2]},
                {"op": "episodes", "env_kwargs": dict(reversed(list(a.items()))), "instances": [2, 3]},
                {"op": "reference", "env_kwargs": b, "instance": 7}, {"op": "sleep", "seconds": 0}]
    assert worker_template.WorkerTemplate.envs_of(payloads) == [[a, [1, 2, 3]], [b, [7]]]


WARMED = """
import json, sys
from numba.core.dispatcher import Dispatcher
from lrgym.leaderboard import worker_template

def overloads():
    return {f"{m}.{k}": len(v.overloads) for m, mod in list(sys.modules.items()) if m.startswith("lrgym")
            for k, v in vars(mod).items() if isinstance(v, Dispatcher)}

kwargs, instances = json.loads(sys.argv[1])
worker_template.warm()
before = overloads()
worker_template.warm([[kwargs, instances]])
warmed = overloads()
from lrgym.env import LRControlEnv
env = LRControlEnv(**kwargs)
for k in instances:
    env.reset(seed=3, options={"instance": k})
    done = False
    while not done:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        done = term or trunc
print(json.dumps([sum(before.values()), sum(warmed.values()), {k: v for k, v in overloads().items() if v != warmed.get(k, 0)}]))
"""


@pytest.mark.parametrize("family", ["quadratic", "mlp"])
def test_a_warmed_template_has_every_kernel_its_envs_episodes_run(family):
    """In a fresh process: after :func:`warm` of a suite env and its instances (the MLP's test
    set holds synthetic and data-set instances: two kinds), whole episodes of that env on each
    of the instances compile or load no kernel more (Numba's overloads of every lrgym kernel,
    counted), and the warm-up did load some."""
    import json
    import subprocess

    kwargs = {"family": family, "instance_set": "test", "horizon": 5, "inner_steps": 2}
    instances = [20000, 20001, 20002, 20003] if family == "mlp" else [20000, 20001]
    out = subprocess.run([sys.executable, "-c", WARMED, json.dumps([kwargs, instances])], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    before, warmed, more = json.loads(out.stdout.splitlines()[-1])
    assert warmed > before and more == {}
