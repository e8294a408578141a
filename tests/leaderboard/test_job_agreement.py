"""An entry's recorded source hash and sandbox describe every one of its jobs
(:mod:`lrgym.leaderboard.job_agreement`).

A red team (2026-12, redteam2) found that ``runner.finish_entry`` recorded the first job's
``source_hash`` and ``sandbox`` for the whole entry (``source_hash or info.get(...)``). Each
grader worker reads the policy's files when its first job of it starts, so a submission whose
files changed between two workers' reads was graded partly with other code under the first
hash; on Ray, nodes that confine differently had one node's sandbox recorded for all jobs.

The probe of the hash goes through the real ``run_suite`` on one worker: without namespaces
(``LRGYM_SANDBOX=off``, the weak mode, where a policy is the grader's user) the policy appends
a line to its own file during job 1, and during job 2's first attempt kills its grader worker
with SIGKILL (as the machine's OOM killer would); the pool runs job 2 again on a new worker
(``scheduling.LOST_UNIT_RETRIES``), which reads the edited file. The old code stored an ok entry
under the original file's hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import sys
from pathlib import Path

import pytest
from lb_helpers import policy, tiny_suite
from lb_policies import Keep

from lrgym.leaderboard import runner, sandbox
from lrgym.leaderboard.job_agreement import FILES_CHANGED, disagreement, recorded_sandbox
from lrgym.leaderboard.private import PRIVATE_REASON_NOTE, private_reason
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec
from lrgym.leaderboard.store import ResultStore

SUITE = tiny_suite("job-agreement")  # one quadratic instance, seeds 0 and 1: a submission's two jobs


@pytest.fixture(scope="module")
def refs():
    return load_references(SUITE, n_workers=1)


@pytest.fixture
def fresh_mode():
    """``sandbox.mode()`` is probed once per process: forget it around a changed setting."""
    sandbox.mode.cache_clear()
    yield
    sandbox.mode.cache_clear()


#: a policy (lb_policies.Keep) that edits its own file in job 1 and kills its grader worker in
#: job 2's first attempt (module level: each job's process imports the module afresh)
SELF_EDITING = '''
import os
import signal

EDITED, KILLED, HERE = {edited!r}, {killed!r}, {original!r}  # HERE: the submitted file, not the sandbox's copy

if not os.path.exists(EDITED):  # job 1: its worker read the file when the job started
    open(EDITED, "w").close()
    with open(HERE, "a") as f:
        f.write("# edited during grading\\n")
elif not os.path.exists(KILLED):  # job 2, first attempt: its grader worker is killed
    open(KILLED, "w").close()
    pid = os.getppid()
    while pid > 1:
        with open(f"/proc/{{pid}}/cmdline", "rb") as f:
            if b"lrgym.leaderboard.worker" in f.read():
                os.kill(pid, signal.SIGKILL)
                break
        with open(f"/proc/{{pid}}/stat") as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])


''' + inspect.getsource(Keep)  # then the policy itself


def test_an_entry_whose_files_changed_between_its_jobs_fails_naming_both_hashes(tmp_path, monkeypatch, fresh_mode,
                                                                                 refs):
    folder = tmp_path / "submission"
    folder.mkdir()
    path = folder / "editing.py"
    path.write_text(SELF_EDITING.format(edited=str(tmp_path / "edited"), killed=str(tmp_path / "killed"),
                                        original=str(path)))
    before = hashlib.sha256(path.read_bytes()).hexdigest()  # sha256sum of a one-file submission
    monkeypatch.setenv("LRGYM_SANDBOX", "off")
    with ResultStore(tmp_path / "r.sqlite") as store:
        [outcome] = run_suite([submission_spec(f"{path}:Keep", name="editing")], SUITE, store=store, references=refs,
                              n_workers=1, time_limit=300)
        [stored] = list(store.entries())
    after = hashlib.sha256(path.read_bytes()).hexdigest()
    assert (tmp_path / "edited").exists() and (tmp_path / "killed").exists()  # the probe did both things
    assert path.read_text().endswith("# edited during grading\n") and after != before
    assert not outcome.ok and stored.status == "failed"
    assert stored.failure_reason == outcome.entry.failure_reason == (
        f"{FILES_CHANGED}: its jobs ran 2 versions of them (source sha256 {before}, {after}), so no one version "
        "earned the score; grade it again once its files stay as they are")
    # on a private suite the kind alone is recorded
    assert private_reason(stored.failure_reason) == FILES_CHANGED + PRIVATE_REASON_NOTE


def test_an_honest_entry_on_two_workers_records_its_one_hash_and_the_first_jobs_sandbox(tmp_path, monkeypatch, refs):
    """Two workers, two sandboxes (each its own uid): the jobs agree, and the entry is
    recorded as before (the hash of its file, the first job's sandbox)."""
    seen = []
    finish = runner.finish_entry

    def spy(spec, result, ctx, layout):
        seen.append(result)
        return finish(spec, result, ctx, layout)

    monkeypatch.setattr(runner, "finish_entry", spy)
    path = tmp_path / "keep.py"
    path.write_text(open(policy("Keep").rpartition(":")[0]).read())
    [outcome] = run_suite([submission_spec(f"{path}:Keep", name="keep")], SUITE, references=refs, n_workers=2,
                          time_limit=300)
    assert outcome.ok, outcome.entry.failure_reason
    first, second = (reply["policy_info"] for reply in seen[0].replies)
    assert outcome.entry.policy_source_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert first["source_hash"] == second["source_hash"] == outcome.entry.policy_source_hash
    assert outcome.entry.env_spec["sandbox"] == first["sandbox"]
    assert {k: v for k, v in second["sandbox"].items() if k != "uid"} == \
        {k: v for k, v in first["sandbox"].items() if k != "uid"}


def test_jobs_that_ran_in_differing_sandboxes_record_the_weakest_and_list_the_others(tmp_path, monkeypatch, refs):
    """Ray nodes that confine differently (one without namespaces): a real run's replies, the
    second job's sandbox replaced by the weak mode; the entry records the weak mode whichever
    job ran in it, and the stronger one under ``differing_jobs``."""
    seen = []
    finish = runner.finish_entry
    monkeypatch.setattr(runner, "finish_entry", lambda *args: seen.append(args) or finish(*args))
    [outcome] = run_suite([submission_spec(policy("Keep"), name="keep")], SUITE, references=refs, n_workers=1,
                          time_limit=300)
    assert outcome.ok, outcome.entry.failure_reason
    spec, result, ctx, layout = seen[0]
    strong = result.replies[0]["policy_info"]["sandbox"]
    weak = {**strong, "kind": "none", "namespaces": False, "uid_drop": False, "uid": 1000,
            "processes": "not bounded (no namespaces: ended by process group and time limit)"}
    weak.pop("file_system", None)

    def with_sandboxes(*modes):
        replies = [{**r, "policy_info": {**r["policy_info"], "sandbox": m}} for r, m in zip(result.replies, modes)]
        return dataclasses.replace(result, replies=replies)

    strong_shared = {k: v for k, v in strong.items() if k != "uid"}
    for modes in ((strong, weak), (weak, strong)):
        entry = finish(spec, with_sandboxes(*modes), ctx, layout).entry
        assert entry.status == "ok"
        assert entry.env_spec["sandbox"] == {**weak, "differing_jobs": [strong_shared]}
    # agreeing jobs (another uid each): the first job's, as before
    other_uid = {**strong, "uid": (strong.get("uid") or 0) + 1}
    assert finish(spec, with_sandboxes(strong, other_uid), ctx, layout).entry.env_spec["sandbox"] == strong


def test_disagreement_names_every_hash_and_changed_input_in_reply_order():
    a, b = "a" * 64, "b" * 64
    assert disagreement([{"source_hash": a}, {"source_hash": a}]) is None
    assert disagreement([]) is None
    assert disagreement([{"source_hash": b}, {"source_hash": a}, {"source_hash": b}]) == (
        f"{FILES_CHANGED}: its jobs ran 2 versions of them (source sha256 {b}, {a}), so no one version earned "
        "the score; grade it again once its files stay as they are")
    # a job that found no file to hash ran other code than one that hashed one
    assert f"(source sha256 {a}, none)" in disagreement([{"source_hash": a}, {"source_hash": None}])
    # a baseline: the same hash, other weights
    w1 = {"tuned.json": "1", "weights/dqn.zip": "2"}
    w2 = {"tuned.json": "1", "weights/dqn.zip": "3"}
    assert disagreement([{"source_hash": a, "inputs": w1}, {"source_hash": a, "inputs": dict(w1)}]) is None
    assert disagreement([{"source_hash": a, "inputs": w1}, {"source_hash": a, "inputs": w2}]) == (
        f"{FILES_CHANGED}: its jobs ran 2 versions of its tuned values or weights (weights/dqn.zip), so no one "
        "version earned the score; grade it again once those files stay as they are")


def test_recorded_sandbox_orders_kinds_weakest_first():
    root = {"kind": "root", "namespaces": True, "uid_drop": True, "uid": 5}
    root_no_drop = {"kind": "root", "namespaces": True, "uid_drop": False, "uid": 0}
    userns = {"kind": "userns", "namespaces": True, "uid_drop": False, "uid": 1000}
    none = {"kind": "none", "namespaces": False, "uid_drop": False, "uid": 1000}
    unknown = {"kind": "a newer grader's", "namespaces": True, "uid_drop": True, "uid": 7}
    shared = lambda m: {k: v for k, v in m.items() if k != "uid"}  # noqa: E731
    assert recorded_sandbox([root, userns, root]) == {**userns, "differing_jobs": [shared(root)]}
    assert recorded_sandbox([root, root_no_drop]) == {**root_no_drop, "differing_jobs": [shared(root)]}
    assert recorded_sandbox([userns, none, root]) == {**none, "differing_jobs": [shared(userns), shared(root)]}
    assert recorded_sandbox([root, unknown]) == {**unknown, "differing_jobs": [shared(root)]}
    assert recorded_sandbox([None, root, {**root, "uid": 6}]) == root
    assert recorded_sandbox([None, None]) is None


#: an installed ``module:Name`` policy (lb_policies.Keep) that appends a line to its own file
#: during its first job (module level: each job's process imports the module where it lies)
SELF_EDITING_MODULE = '''
import os

EDITED, HERE = {edited!r}, __file__

if not os.path.exists(EDITED):
    open(EDITED, "w").close()
    with open(HERE, "a") as f:
        f.write("# edited during grading\\n")


''' + inspect.getsource(Keep)


def test_an_installed_module_edited_during_a_job_of_one_worker_fails_the_entry(tmp_path, monkeypatch, fresh_mode,
                                                                                refs):
    """An installed ``module:Name`` policy is not copied into the sandbox: every job imports its
    file where it lies, but the worker hashed that file once, at its first job of the policy. A
    file changed after that (here by the policy itself, the grader's user in the weak mode; a
    submitter editing it would do the same) ran in the worker's later jobs under the first
    hash: both jobs of this entry ran on one worker, reported that hash, and the entry was stored
    ok (the old code), graded partly with code its hash does not describe."""
    mods = tmp_path / "mods"
    mods.mkdir()
    path = mods / "agreement_self_editing.py"
    path.write_text(SELF_EDITING_MODULE.format(edited=str(tmp_path / "edited")))
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.syspath_prepend(str(mods))
    monkeypatch.setenv("LRGYM_SANDBOX", "off")
    [outcome] = run_suite([submission_spec("agreement_self_editing:Keep", name="editing-module")], SUITE,
                          references=refs, n_workers=1, time_limit=300)
    after = hashlib.sha256(path.read_bytes()).hexdigest()
    assert (tmp_path / "edited").exists() and after != before  # the probe edited its file
    assert not outcome.ok
    assert outcome.entry.failure_reason.startswith(FILES_CHANGED)
    assert f"source sha256 {before}, then {after}" in outcome.entry.failure_reason


def test_each_job_of_an_installed_module_reports_the_hash_of_the_file_it_imported(tmp_path, monkeypatch):
    """The same worker (one ``_State``, one sandbox) runs two jobs of an installed module, whose
    file is edited between them: each job reports the sha256 of the file as it imported it
    (reference: ``hashlib`` of the file's bytes then), so ``disagreement`` sees two versions. The
    old code reported the first job's hash for both."""
    mods = tmp_path / "mods"
    mods.mkdir()
    path = mods / "agreement_between_jobs.py"
    path.write_text(inspect.getsource(Keep))
    monkeypatch.syspath_prepend(str(mods))
    _two_jobs_edited_between("agreement_between_jobs:Keep", path,
                             lambda: hashlib.sha256(path.read_bytes()).hexdigest())


def _two_jobs_edited_between(target: str, edited: Path, reference) -> None:
    """One worker's ``_State`` runs two jobs of the installed policy ``target``, ``edited``
    appended to between them: each job reports ``reference()`` as it was at the job's start, the
    two differ, and ``disagreement`` sees two versions."""
    from dataclasses import asdict

    from lrgym.leaderboard import worker
    from lrgym.leaderboard.sandbox import Limits

    spec = submission_spec(target)
    job = {"op": "episodes", "policy": spec.spec, "family": "quadratic", "env_kwargs": SUITE.env_kwargs("quadratic"),
           "optimizers": None, "instances": [20000], "seeds": [0],
           "sandbox": asdict(Limits(memory_mb=1024, cpu_seconds=60)), "hidden": False}
    state = worker._State()
    hashes, infos = [], []
    try:
        for k in range(2):
            hashes.append(reference())
            infos.append(worker.run_job(job, state)["policy_info"])
            edited.write_text(edited.read_text() + f"# edited after job {k}\n")
    finally:
        state.close()
    assert [info["source_hash"] for info in infos] == hashes and hashes[0] != hashes[1]
    assert disagreement(infos).startswith(f"{FILES_CHANGED}: its jobs ran 2 versions")


def _package_hash(files: dict[str, bytes]) -> str:
    """The reference source hash of an installed module reached through packages: sha256 of each
    file's path in the package tree, length and bytes, in path order (the rule README states)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{len(files[name])}\0".encode() + files[name])
    return digest.hexdigest()


def _dotted_policy(tmp_path, package: str, module: str, source: str, init: str | None = "") -> tuple[Path, Path | None]:
    """``package/module.py`` holding ``source`` in a folder put on ``sys.path`` by the caller
    (``tmp_path / "mods"``); ``init`` the package's ``__init__.py`` (None: a namespace package, no
    ``__init__``). Returns (the module's file, the ``__init__``'s or None)."""
    folder = tmp_path / "mods" / package
    folder.mkdir(parents=True)
    (folder / f"{module}.py").write_text(source)
    if init is not None:
        (folder / "__init__.py").write_text(init)
    return folder / f"{module}.py", (folder / "__init__.py" if init is not None else None)


def test_a_dotted_installed_module_edited_during_a_job_fails_the_entry(tmp_path, monkeypatch, fresh_mode, refs):
    """The dotted form ``package.module:Name`` as the plain one above: its policy appends to its
    own module file during its first job (one worker, the weak mode). Each job reports the hash
    of the package's ``__init__`` and the module at its start, and the job during which the file
    changed fails naming both hashes (reference: hashlib over those files' bytes before and
    after). The old code recorded no hash for a dotted name and stored the entry ok."""
    path, init = _dotted_policy(tmp_path, "agreement_pkg_editing", "policy",
                                SELF_EDITING_MODULE.format(edited=str(tmp_path / "edited")))
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    monkeypatch.setenv("LRGYM_SANDBOX", "off")

    def files_hash() -> str:
        return _package_hash({"agreement_pkg_editing/__init__.py": init.read_bytes(),
                              "agreement_pkg_editing/policy.py": path.read_bytes()})

    before = files_hash()
    [outcome] = run_suite([submission_spec("agreement_pkg_editing.policy:Keep", name="editing-package")], SUITE,
                          references=refs, n_workers=1, time_limit=300)
    after = files_hash()
    assert (tmp_path / "edited").exists() and after != before  # the probe edited its file
    assert not outcome.ok
    assert outcome.entry.failure_reason.startswith(FILES_CHANGED)
    assert f"module agreement_pkg_editing.policy's file changed while a job ran (source sha256 {before}, then {after})" \
        in outcome.entry.failure_reason


def test_a_dotted_installed_modules_stored_entry_records_the_hash_of_its_files(tmp_path, monkeypatch, refs):
    """Graded unchanged, a dotted policy's stored entry records the hash of what importing it
    runs of its own: in a namespace package (no ``__init__``) the module's one file, ``sha256sum``
    of its bytes as for a policy file; in a regular package its ``__init__`` too (reference:
    hashlib over both files). The old code stored a hash of the spec's text for both."""
    source = inspect.getsource(Keep)
    plain_file, _ = _dotted_policy(tmp_path, "agreement_ns", "policy", source, init=None)
    package_file, init = _dotted_policy(tmp_path, "agreement_pkg", "policy", source, init="VERSION = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    with ResultStore(tmp_path / "lb.sqlite") as store:
        outcomes = run_suite([submission_spec("agreement_ns.policy:Keep", name="in-namespace"),
                              submission_spec("agreement_pkg.policy:Keep", name="in-package")], SUITE, store=store,
                             references=refs, n_workers=1, time_limit=300)
        stored = {e.name: e for e in store.entries()}
    assert all(o.ok for o in outcomes), [o.entry.failure_reason for o in outcomes]
    assert stored["in-namespace"].policy_source_hash == hashlib.sha256(plain_file.read_bytes()).hexdigest()
    assert stored["in-package"].policy_source_hash == _package_hash(
        {"agreement_pkg/__init__.py": init.read_bytes(), "agreement_pkg/policy.py": package_file.read_bytes()})


def test_each_job_of_a_dotted_installed_module_reports_the_hash_of_the_files_it_imported(tmp_path, monkeypatch):
    """One worker's ``_State`` runs two jobs of ``package.module:Keep`` whose package
    ``__init__`` is edited between them (it runs at every job's import as the module does): each
    job reports the reference hash of the files as they were at its start and ``disagreement``
    sees two versions. The old code reported None for both."""
    path, init = _dotted_policy(tmp_path, "agreement_pkg_between", "policy", inspect.getsource(Keep))
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    _two_jobs_edited_between("agreement_pkg_between.policy:Keep", init,
                             lambda: _package_hash({"agreement_pkg_between/__init__.py": init.read_bytes(),
                                                    "agreement_pkg_between/policy.py": path.read_bytes()}))


def test_a_dotted_modules_hash_imports_nothing_of_its_package(tmp_path, monkeypatch):
    """Finding a dotted module's files runs none of them in the grader: ``find_spec("pkg.mod")``
    would import ``pkg`` (its ``__init__`` writes a marker here); a missing module, a module with
    no file and a module on the way that is no package give None."""
    from lrgym.leaderboard.worker import installed_module_hash

    marker = tmp_path / "ran"
    path, init = _dotted_policy(tmp_path, "agreement_pkg_marker", "policy", "RAN = True\n",
                                init=f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    got = installed_module_hash("agreement_pkg_marker.policy")
    assert got == _package_hash({"agreement_pkg_marker/__init__.py": init.read_bytes(),
                                 "agreement_pkg_marker/policy.py": path.read_bytes()})
    assert not marker.exists() and "agreement_pkg_marker" not in sys.modules
    for missing in ("agreement_pkg_marker.nothing", "agreement_pkg_marker.policy.deeper", "sys", "no_such_pkg.policy"):
        assert installed_module_hash(missing) is None, missing
