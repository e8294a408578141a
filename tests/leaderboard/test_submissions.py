"""Hostile submissions: each failure mode is recorded with its reason and the store stays valid.

Every case runs on a tiny quadratic suite (two instances, two seeds, six steps) in real worker
processes and sandboxed policy processes, exactly as ``lrgym leaderboard submit`` does. (The
cheats of issue #11 are in ``test_cheats.py``.)
"""

import json
import math
import os
import sys
import time
import uuid

import pytest
from lb_helpers import policy, processes_with, tiny_suite

from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec
from lrgym.leaderboard.store import ResultStore

SUITE = tiny_suite("hostile", families=("quadratic",), n_instances=2, seeds=(0, 1))

# (policy class, expected substring of the recorded reason)
HOSTILE = [
    ("Raises", "policy raised in act() at step 0"),
    ("NaNAction", "invalid action at step 0"),
    ("InvalidAction", "invalid action at step 0"),
    ("KillsItself", "process died in act() at step 0 (quadratic, episode 1 of 1 of the job): killed by SIGKILL"),
    ("Segfaults", "process died in act() at step 0 (quadratic, episode 1 of 1 of the job): killed by SIGSEGV"),
    ("ExitsQuietly", "process died in act() at step 0 (quadratic, episode 1 of 1 of the job): exit code 0"),
    ("Hangs", "timeout: exceeded the wall-clock limit of 15 s"),
    ("EatsMemory", "MemoryError"),
    ("BadConstructor", "constructing the policy raised ValueError: cannot build"),
    ("DoesNotExist", "has no attribute 'DoesNotExist'"),
    ("CorruptsTheChannel", "process sent a malformed reply in act() at step 0"),
]


@pytest.fixture(scope="module")
def refs():
    return load_references(SUITE, n_workers=2)


@pytest.fixture(scope="module")
def hostile_results(refs, tmp_path_factory):
    """All hostile policies plus two good ones, in one run (each in its own workers)."""
    path = tmp_path_factory.mktemp("store") / "results.sqlite"
    specs = [submission_spec(policy(name)) for name, _ in HOSTILE]
    specs += [submission_spec(policy("Keep"), name="good"), submission_spec(policy("PerFamily"), name="per-family")]
    with ResultStore(path) as store:
        outcomes = run_suite(specs, SUITE, store=store, references=refs, n_workers=2, time_limit=15.0,
                             memory_mb=1500)
    return {o.spec.name: o for o in outcomes}, path


@pytest.mark.parametrize("name, reason", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_failure_is_recorded_with_its_reason(hostile_results, name, reason):
    outcomes, path = hostile_results
    outcome = outcomes[name]
    assert not outcome.ok
    assert reason in outcome.entry.failure_reason
    with ResultStore(path) as store:
        stored = store.entries(SUITE.version, name=name)
        assert [e.status for e in stored] == ["failed"]
        assert reason in stored[0].failure_reason
        assert store.runs(stored[0].id) == []


def test_good_submissions_survive_their_neighbours(hostile_results):
    outcomes, path = hostile_results
    for name in ("good", "per-family"):
        assert outcomes[name].ok, outcomes[name].entry.failure_reason
    with ResultStore(path) as store:
        assert store.check_integrity()
        ok = store.latest_entries(SUITE.version)
        assert [e.name for e in ok] == ["good", "per-family"]
        for e in ok:
            runs = store.runs(e.id)
            assert len(runs) == SUITE.n_runs
            assert all(math.isfinite(r.score) for r in runs)
            assert e.policy_source_hash and len(e.policy_source_hash) == 64
            assert e.env_spec["suite"]["version"] == SUITE.version
            assert e.package_versions["lrgym"]


def test_policy_raising_in_reset(refs, tmp_path):
    src = tmp_path / "p.py"
    src.write_text(
        "class P:\n    name='p'\n    action_mode='discrete'\n    optimizer='sgd'\n"
        "    def reset(self, info):\n        raise KeyError('no such feature')\n"
        "    def act(self, obs, info):\n        return 2\n"
    )
    [outcome] = run_suite([submission_spec(f"{src}:P")], SUITE, references=refs, n_workers=1, time_limit=30)
    assert "policy raised in reset()" in outcome.entry.failure_reason
    assert "KeyError" in outcome.entry.failure_reason


def test_import_error_and_bad_target(refs, tmp_path):
    src = tmp_path / "broken.py"
    src.write_text("import numpy\nraise ImportError('missing dependency xyz')\n")
    bad = tmp_path / "syntax" / "bad.py"
    bad.parent.mkdir()
    bad.write_text("class P:\n    def act(self, obs info):\n        return 2\n")
    outcome, syntax = run_suite([submission_spec(f"{src}:P"), submission_spec(f"{bad}:P", name="syntax")], SUITE,
                                references=refs, n_workers=2, time_limit=30)
    assert "importing" in outcome.entry.failure_reason and "missing dependency xyz" in outcome.entry.failure_reason
    assert "SyntaxError" in syntax.entry.failure_reason and "bad.py" in syntax.entry.failure_reason
    with pytest.raises(FileNotFoundError):
        submission_spec(f"{tmp_path}/nope.py:P")
    with pytest.raises(ValueError):
        submission_spec("no_colon_here")


def test_module_target(refs):
    [outcome] = run_suite([submission_spec("lb_policies:HalfEvery10", name="as-module")], SUITE,
                          references=refs, n_workers=1, time_limit=60)
    assert outcome.ok, outcome.entry.failure_reason


def test_sb3_model_zip(refs, tmp_path):
    """An SB3 model file is a submission too (loaded only inside the worker, torch and all)."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import DQN

    from lrgym.env import LRControlEnv

    env = LRControlEnv(**SUITE.env_kwargs("quadratic"))
    model = DQN("MlpPolicy", env, learning_starts=0, policy_kwargs={"net_arch": [8]}, seed=0, device="cpu")
    path = tmp_path / "tiny_dqn.zip"
    model.save(path)
    spec = submission_spec(str(path), name="tiny-dqn")
    assert spec.spec["kind"] == "sb3"
    [outcome] = run_suite([spec], SUITE, references=refs, n_workers=1, time_limit=120)
    assert outcome.ok, outcome.entry.failure_reason
    assert outcome.entry.env_spec["env_kwargs"]["quadratic"]["action_mode"] == "discrete"
    assert len(outcome.runs) == SUITE.n_runs


def test_bad_zips(refs, tmp_path):
    """Not a zip, a zip without SB3's data, a zip of an unknown algorithm: each a clear failure."""
    pytest.importorskip("stable_baselines3")
    import zipfile

    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"this is not a zip file")
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "hello")
    alien = tmp_path / "alien.zip"
    with zipfile.ZipFile(alien, "w") as zf:
        zf.writestr("data", '{"policy_class": {"__module__": "somewhere.else"}}')
    outcomes = run_suite([submission_spec(str(p)) for p in (garbage, empty, alien)], SUITE, references=refs,
                         n_workers=2, time_limit=60)
    reasons = [o.entry.failure_reason for o in outcomes]
    assert all(not o.ok for o in outcomes)
    assert "BadZipFile" in reasons[0] or "not a zip" in reasons[0]
    assert "data" in reasons[1]
    assert "cannot tell the algorithm" in reasons[2]


def test_malicious_pickle_in_a_zip_runs_only_in_the_sandbox(refs, tmp_path):
    """SB3 unpickles parts of a zip's ``data``: a pickle that writes a file when loaded writes
    nothing the grader can see (the sandbox has its own root), and the grader never unpickles it."""
    pytest.importorskip("stable_baselines3")
    import base64
    import pickle
    import zipfile

    marker = tmp_path / "pwned.txt"

    class Evil:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('pwned')",))

    payload = base64.b64encode(pickle.dumps(Evil())).decode()
    data = {"policy_class": {":type:": "<class 'abc.ABCMeta'>", ":serialized:": payload,
                             "__module__": "stable_baselines3.dqn.policies"},
            "lr_schedule": {":type:": "<class 'function'>", ":serialized:": payload}}
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data", json.dumps(data))
    [outcome] = run_suite([submission_spec(str(path))], SUITE, references=refs, n_workers=1, time_limit=60)
    assert not outcome.ok
    assert not marker.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_timeout_kills_the_policys_own_children(refs, monkeypatch):
    token = uuid.uuid4().hex
    monkeypatch.setenv("LRGYM_TEST_TOKEN", token)  # inherited by the workers and their children
    [outcome] = run_suite([submission_spec(policy("ForksAndHangs"))], SUITE, references=refs, n_workers=1,
                          time_limit=3.0)
    assert "timeout" in outcome.entry.failure_reason
    deadline = time.monotonic() + 10
    while processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(token) == []


def test_hostile_submissions_leave_no_temp_files(refs, tmp_path, monkeypatch):
    """Every sandbox's private folder is removed: after a clean run, a policy that fails to
    load, one killed with its worker at the time limit and one that kills itself. (The workers
    inherit TMPDIR; before the fix each of these left an ``lrgym-grader-*`` folder behind.)"""
    import tempfile

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    # the clean run gets a generous limit (on a loaded machine its 4 sandboxed episodes can take
    # more than the 8 s that end "Hangs" quickly: it once timed out during CI beside other jobs)
    outcomes = run_suite([submission_spec(policy("Keep"))], SUITE, references=refs, n_workers=1, time_limit=120.0)
    specs = [submission_spec(policy(name)) for name in ("BadConstructor", "Hangs", "KillsItself")]
    outcomes += run_suite(specs, SUITE, references=refs, n_workers=2, time_limit=8.0)
    reasons = {o.spec.name: o.entry.failure_reason for o in outcomes}
    assert reasons["keep"] is None and all(reasons[n] for n in ("BadConstructor", "Hangs", "KillsItself")), reasons
    assert sorted(p.name for p in tmp.iterdir()) == []


def test_a_killed_graders_worker_folders_are_swept_by_the_next_pool(tmp_path):
    """``kill -9`` of a grader leaves its workers' temp folders (nobody is left to remove
    them); the next pool removes exactly those whose owning process is dead."""
    import os
    import subprocess

    from lrgym.leaderboard.pool import sweep_orphaned_scratch

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"lrgym-worker-{dead.pid}-a1" / "lrgym-grader-b2" / "root").mkdir(parents=True)
    keep = [f"lrgym-worker-{os.getpid()}-c3", "lrgym-worker-notapid", "lrgym-grader-d4", "other"]
    for name in keep:
        (tmp_path / name).mkdir()
    assert sweep_orphaned_scratch(str(tmp_path)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)


def test_a_worker_folder_whose_owners_pid_was_reused_is_swept_and_no_live_owners_folder(tmp_path):
    """A grader killed with ``kill -9`` whose pid the kernel gave to another process: its workers'
    folders stayed for as long as that process lived (a review, 2026-12). A folder is now named
    after its owner's pid and start time; reuse is simulated with live processes (this one, a
    child) and start times they did not start at. Older pid-only names keep the pid rule."""
    import os
    import subprocess

    from lrgym.leaderboard import pool
    from lrgym.baselines.owner_names import namespaces, start_time

    me, started, ns = os.getpid(), start_time(os.getpid()), namespaces()
    assert pool.scratch_prefix() == f"lrgym-worker-{me}.{started}.{ns}-"
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        swept = [f"lrgym-worker-{me}.{started - 1}.{ns}-a1", f"lrgym-worker-{me}.{started + 1}.{ns}-submission-b2",
                 f"lrgym-worker-{child.pid}.{start_time(child.pid) + 1}.{ns}-c3",
                 f"lrgym-worker-{dead.pid}.{started}.{ns}-d4", f"lrgym-worker-{dead.pid}-e5"]
        kept = [f"lrgym-worker-{me}.{started}.{ns}-f6", f"lrgym-worker-{child.pid}.{start_time(child.pid)}.{ns}-g7",
                f"lrgym-worker-{me}-h8", f"lrgym-worker-{me}-submission-i9", "lrgym-worker-1.x-j0", "other",
                f"lrgym-worker-{dead.pid}.{started}.1x1-k1"]  # another namespace's: not judged
        for name in swept + kept:
            (tmp_path / name / "lrgym-grader-b2").mkdir(parents=True)
        assert pool.sweep_orphaned_scratch(str(tmp_path)) == len(swept)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)
    finally:
        child.kill()
        child.wait()


def test_a_killed_worker_still_exiting_has_its_folder_removed_once_it_is_gone(tmp_path, monkeypatch):
    """A killed worker not yet gone when its pool let it go kept its temp folder for good (its
    owner, this grader, is alive, so no sweep took it): CI saw one once, on a machine with every
    core busy. Now the folder is removed by the next sweep after the process has exited."""
    import subprocess
    import tempfile
    from pathlib import Path

    from lrgym.leaderboard import pool

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    worker = pool._Worker(quiet=True)
    process = worker.process
    real_wait, real_poll = process.wait, process.poll

    def slow_wait(timeout=None):  # the killed worker outlives the pool's wait
        raise subprocess.TimeoutExpired(process.args, timeout)

    monkeypatch.setattr(process, "wait", slow_wait)
    monkeypatch.setattr(process, "poll", lambda: None)
    worker.kill()
    assert [p.name for p in tmp_path.iterdir()] == [Path(worker.scratch).name]  # not removed yet
    monkeypatch.setattr(process, "wait", real_wait)
    monkeypatch.setattr(process, "poll", real_poll)
    process.wait(30)  # now it is gone
    assert pool.sweep_orphaned_scratch() == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts this process's open files in /proc")
def test_a_worker_that_cannot_start_leaves_no_open_file_or_folder(tmp_path, monkeypatch):
    """A grader worker whose process cannot be started (``Popen`` refused: no memory, too many
    processes) raises, and leaves nothing open: its two pipes' other ends and its stderr file
    stayed open in the grader (a review, 2026-12-05), its folder is removed. Reference: the
    grader's open files before."""
    import subprocess
    import tempfile

    from lrgym.leaderboard import pool

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)

    def refused(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(subprocess, "Popen", refused)
    before = sorted(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with pytest.raises(OSError, match="Resource temporarily unavailable"):
            pool._Worker(quiet=True)
    assert sorted(os.listdir("/proc/self/fd")) == before
    assert list(tmp_path.iterdir()) == []


def test_a_misspelt_class_is_named_with_the_classes_the_file_defines(refs, tmp_path):
    """``file.py:Nope`` fails with what the file defines that a target may name as the valid
    choices (it named only the bad one): its public classes and factory functions, read back from
    the file with ``ast`` (the reference), and a policy instance (an object with ``act``); the
    imported names and the private ones are not offered. A factory or an instance was left out,
    and a file of factories only said 'it defines no class'. An object whose ``__getattr__`` never
    returns is not asked for ``act`` (listing the choices hung until the time limit)."""
    import ast

    src = tmp_path / "mine.py"
    src.write_text("from collections import OrderedDict\nfrom os.path import join\n\n"
                   "class Careful:\n    def reset(self, info): pass\n"
                   "    def act(self, obs, info): return 2\n\nclass Bold(Careful):\n    pass\n\n"
                   "class _Helper:\n    pass\n\ndef make_policy(family):\n    return Careful()\n\n"
                   "shared = Careful()\nCOUNT = 3\n"
                   "import time\n\nclass _Trap:\n    def __getattr__(self, name):\n        while True:\n"
                   "            time.sleep(0.1)\n\ntrap = _Trap()\n")  # listing must not ask it for act
    factories = tmp_path / "factories" / "only.py"
    factories.parent.mkdir()
    factories.write_text("def make(family=None):\n    class P:\n        def reset(self, info): pass\n"
                         "        def act(self, obs, info): return 2\n    return P()\n")
    empty = tmp_path / "empty" / "nothing.py"
    empty.parent.mkdir()
    empty.write_text("X = 1\n")
    body = ast.parse(src.read_text()).body
    defined = sorted([n.name for n in body if isinstance(n, (ast.ClassDef, ast.FunctionDef))
                      and not n.name.startswith("_")] + ["shared"])  # shared = Careful(): an instance
    # (trap is a module-level object too, but its class defines no act)
    assert defined == ["Bold", "Careful", "make_policy", "shared"]
    outcome, factory, none = run_suite(
        [submission_spec(f"{src}:Carefull"), submission_spec(f"{factories}:Make", name="factory"),
         submission_spec(f"{empty}:P", name="empty")], SUITE, references=refs, n_workers=1, time_limit=60)
    assert not outcome.ok and not factory.ok and not none.ok
    what = "valid choices: what it defines (a policy class, factory or instance)"
    assert outcome.entry.failure_reason.endswith(f"has no attribute 'Carefull'; {what}, {', '.join(defined)}")
    assert factory.entry.failure_reason.endswith(f"has no attribute 'Make'; {what}, make")
    assert none.entry.failure_reason.endswith("has no attribute 'P'; it defines no policy class, factory or instance")


def test_a_target_that_gives_no_policy_is_named_with_what_it_is_and_what_it_should_be(refs, tmp_path):
    """An audit (2026-12-07): a factory returning an int failed with "the policy int has no reset()
    method (see ...)", naming neither the factory nor what a target must be. Each target that
    gives no policy (a factory returning an int or None, a class whose instances lack a method, an
    instance lacking one, a module-level int) now fails naming the target, what it is, every
    method missing, and what it should be; a private suite records each as a load failure."""
    from lrgym.leaderboard.private import PRIVATE_REASON_NOTE, private_reason

    src = tmp_path / "targets.py"
    src.write_text("def make():\n    return 3\n\ndef make_none(family):\n    return None\n\n"
                   "class NoReset:\n    def act(self, obs, info): return 2\n\nclass Nothing:\n    pass\n\n"
                   "shared = NoReset()\nCOUNT = 3\n")
    expected = {
        "make": "the policy int has no reset() and no act() method: targets.py:make is a factory, and it returned an int",
        "make_none": ("the policy NoneType has no reset() and no act() method: targets.py:make_none is a factory, and "
                      "it returned None"),
        "NoReset": "the policy NoReset has no reset() method: targets.py:NoReset is a class, whose instances lack it",
        "Nothing": ("the policy Nothing has no reset() and no act() method: targets.py:Nothing is a class, whose "
                    "instances lack them"),
        "shared": "the policy NoReset has no reset() method: targets.py:shared is a NoReset instance",
        "COUNT": "the policy target targets.py:COUNT is an int: neither a policy class, a factory nor a policy instance",
    }
    outcomes = run_suite([submission_spec(f"{src}:{t}", name=t.lower()) for t in expected], SUITE, references=refs,
                         n_workers=1, time_limit=60)
    valid = "; valid: a class whose instances have reset(info) and act(obs, info), or a factory"
    for outcome, (target, words) in zip(outcomes, expected.items(), strict=True):
        reason = outcome.entry.failure_reason
        assert not outcome.ok and f"reported: {words}{valid}" in reason, (target, reason)
        assert private_reason(reason) == "the policy could not be loaded" + PRIVATE_REASON_NOTE, (target, reason)


def test_a_failure_reason_names_the_policy_file_not_the_submitters_folders(refs, tmp_path):
    """The sandbox named a submission by the path the grader read it from ("importing
    /home/alice/secret-project/bad.py:P raised ..."), and its words are the failure reason the
    board publishes; it names the file now (lrgym.leaderboard.public_source)."""
    folder = tmp_path / "alice" / "secret-project"
    folder.mkdir(parents=True)
    (folder / "bad.py").write_text("raise RuntimeError('boom')\n")
    (folder / "empty.py").write_text("X = 1\n")
    broken, empty = run_suite([submission_spec(f"{folder / 'bad.py'}:P"),
                               submission_spec(f"{folder / 'empty.py'}:P", name="empty")],
                              SUITE, references=refs, n_workers=1, time_limit=60)
    said = "the policy's process reported: "
    assert broken.entry.failure_reason.startswith(f"{said}importing bad.py:P raised RuntimeError: boom")
    assert empty.entry.failure_reason.startswith(f"{said}empty.py:P has no attribute 'P'")
    for outcome in (broken, empty):
        assert "alice" not in outcome.entry.failure_reason, outcome.entry.failure_reason
