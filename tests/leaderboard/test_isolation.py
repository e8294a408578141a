"""What a submission can reach besides its own sandbox (a security review's findings, 2026-12-03):

* the grader's working directory: never on a worker's import path, never bound into a sandbox
  (a ``json.py`` beside the policy ran as the grader's user; the store beside it was readable);
* the files beside the policy: read as regular files only, never through a symbolic link, a
  device or a FIFO (a link to the grader's key was copied into the sandbox), never from a kernel
  pseudo-file system (``/proc/<grader pid>/environ`` as the policy file, size 0, was read and
  copied: the grader's environment), never more than measured, and only a ``.py`` as the policy;
* System V IPC: the sandbox's own namespace (shared memory outside its memory limit, and kept
  after it ended);
* a private suite's instances and seeds: not in what the policy is told, nor in failure reasons;
* a reply nested too deep to decode: a protocol violation of the policy, not a grader error.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path
from multiprocessing.connection import Connection

import pytest
from lb_helpers import policy, probe_sandbox, tiny_suite

from lrgym.leaderboard import import_paths as paths
from lrgym.leaderboard.failures import PolicyError
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec
from lrgym.leaderboard.sandbox import PolicyProcess, SandboxError, mode
from lrgym.leaderboard.submission_files import MAX_SUBMISSION_BYTES, read_policy_files, read_submission
from lrgym.leaderboard.suite import FamilySuite, Suite
from lrgym.leaderboard.worker import policy_files
from lrgym.tasks.base import instance_set

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")
NAMESPACES = pytest.mark.skipif(mode()["kind"] == "none", reason="needs namespaces (unshare)")

KEEP = "class P:\n    name = 'p'\n    def reset(self, info):\n        pass\n    def act(self, obs, info):\n        return 2\n"


# ---- import paths ------------------------------------------------------------------------------


def test_import_paths_leave_out_the_working_directory_what_holds_it_and_named_dirs(tmp_path, monkeypatch):
    work, inner, other, named = (tmp_path / "work", tmp_path / "work" / "lib", tmp_path / "other",
                                 tmp_path / "named")
    for d in (work, inner, other, named):
        d.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv(paths.HIDDEN_DIRS_ENV, str(named))
    monkeypatch.setattr(sys, "path", ["", ".", str(tmp_path), str(work), str(inner), str(other), str(named),
                                      str(tmp_path / "missing"), str(other)])
    # the working directory, its parent (which shows it), relative entries and the named
    # directory go; a directory inside the working directory shows only itself and stays
    assert paths.import_paths() == [str(inner), str(other)]
    env = paths.child_path_env(extra_hidden=[str(other)])
    assert env["PYTHONPATH"] == str(inner) and env["PYTHONSAFEPATH"] == "1"
    assert env[paths.HIDDEN_DIRS_ENV].split(os.pathsep) == sorted(os.path.realpath(d) for d in (work, other, named))


def test_a_module_beside_the_policy_does_not_run_in_the_grader_started_from_its_folder(tmp_path, monkeypatch):
    """``cd submission && lrgym leaderboard submit policy.py:P``: a ``json.py`` there would be
    imported by the grader's worker (``python -m`` puts the working directory first) and run as
    the grader's user, outside the sandbox."""
    marker = tmp_path / "ran-in-the-grader"
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "policy.py").write_text(KEEP)
    (sub / "json.py").write_text(f"open({str(marker)!r}, 'w').write('pwned')\n"
                                 "import sys, importlib\ndel sys.modules['json']\nsys.path = [p for p in sys.path "
                                 f"if p not in ('', {str(sub)!r})]\nglobals().update(vars(importlib.import_module('json')))\n")
    suite = tiny_suite("cwd", seeds=(0,), horizon=3)
    refs = load_references(suite, n_workers=1)
    monkeypatch.chdir(sub)
    monkeypatch.syspath_prepend(str(sub))  # as `python -m` from the folder would have it
    [outcome] = run_suite([submission_spec("policy.py:P", name="cwd-module")], suite, references=refs,
                          n_workers=1, time_limit=120)
    assert not marker.exists(), "a module of the grader's working directory ran in its worker"
    assert outcome.ok, outcome.entry.failure_reason


# ---- the sandbox's view ------------------------------------------------------------------------

IPC_PROBE = '''
import ctypes, json
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.restype = ctypes.c_int
class Probe:
    def __init__(self):
        facts = {"exists": {p: __import__("os").path.exists(p) for p in PATHS},
                 "host_segment": libc.shmget(HOST_KEY, 0, 0),
                 "own_segment": libc.shmget(OWN_KEY, 4096, 0o1666)}  # IPC_CREAT | 0666
        raise RuntimeError("FACTS" + json.dumps(facts) + "END")
'''


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget.restype = ctypes.c_int
    return libc


@NAMESPACES
def test_the_sandbox_sees_neither_the_grader_folder_nor_its_ipc(tmp_path, monkeypatch):
    work = tmp_path / "grader"
    work.mkdir()
    store = work / "lrgym_leaderboard.sqlite"
    store.write_bytes(b"SQLite format 3\0")
    store.chmod(0o644)  # readable by anyone who can reach it: only not binding it protects it
    monkeypatch.chdir(work)
    monkeypatch.syspath_prepend(str(work))  # `python -m lrgym...` from the grader's folder
    libc = _libc()
    host_key, own_key = 0x4C52_0000 + os.getpid() % 4096, 0x4C53_0000 + os.getpid() % 4096
    host_id = libc.shmget(host_key, 4096, 0o1666)
    assert host_id >= 0, os.strerror(ctypes.get_errno())
    try:
        facts = probe_sandbox(f"PATHS = {[str(store), str(work)]!r}\nHOST_KEY = {host_key}\nOWN_KEY = {own_key}\n"
                       + IPC_PROBE)
        assert facts["exists"] == {str(store): False, str(work): False}
        assert facts["host_segment"] == -1  # the grader's segment (mode 0666) is not in its namespace
        assert facts["own_segment"] >= 0  # it may make its own ...
        assert libc.shmget(own_key, 0, 0) == -1  # ... which is gone with it, never in the grader's
    finally:
        libc.shmctl(host_id, 0, None)  # IPC_RMID


def test_a_reply_nested_too_deep_is_the_policys_protocol_violation(tmp_path):
    """``json.loads`` of ``[[[[…]]]]`` raises RecursionError, which used to escape as a grader error."""
    process = PolicyProcess.__new__(PolicyProcess)
    cmd_r, cmd_w = os.pipe()
    rep_r, rep_w = os.pipe()
    process.commands, process.replies = Connection(cmd_w, readable=False), Connection(rep_r, writable=False)
    process.output_path = str(tmp_path / "out.txt")
    writer = Connection(rep_w, readable=False)
    writer.send_bytes(b"[" * 5_000 + b"]" * 5_000)  # deeper than the recursion limit, inside the pipe buffer
    try:
        with pytest.raises(SandboxError, match="malformed reply from the policy process"):
            process.request(("act", "quadratic", []), timeout=5)
    finally:
        for conn in (process.commands, process.replies, writer):
            conn.close()
        os.close(cmd_r)


# ---- the files of a submission -------------------------------------------------------------------


def test_submission_files_are_regular_files_read_without_following_links(tmp_path, monkeypatch):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "policy.py").write_text(KEEP)
    assert read_submission([sub / "policy.py"]) == {"policy.py": KEEP.encode()}
    secret = tmp_path / "grader.key"
    secret.write_text("0123abcd" * 8)
    secret.chmod(0o600)
    (sub / "key.py").symlink_to(secret)
    with pytest.raises(PolicyError, match=r"key\.py is a symbolic link"):
        read_submission([sub / "policy.py", sub / "key.py"])
    (sub / "key.py").unlink()
    (sub / "zero.py").symlink_to("/dev/zero")  # a root worker used to read it until out of memory
    with pytest.raises(PolicyError, match=r"zero\.py is a symbolic link"):
        read_submission([sub / "zero.py"])
    os.mkfifo(sub / "pipe.py")  # opened without blocking, refused by its type
    with pytest.raises(PolicyError, match=r"pipe\.py is not a regular file"):
        read_submission([sub / "pipe.py"])
    with pytest.raises(PolicyError, match="not found"):
        read_submission([sub / "missing.py"])
    big = sub / "big.py"
    big.write_bytes(b"#" * 1000)
    monkeypatch.setattr("lrgym.leaderboard.submission_files.MAX_SUBMISSION_BYTES", 1500)
    with pytest.raises(PolicyError, match="submission too large"):
        read_submission([sub / "policy.py", big, big])  # 1000 + 1000 + the policy > 1500
    assert MAX_SUBMISSION_BYTES == 64 << 20


def test_no_directory_on_a_submissions_path_is_followed_through_a_link(tmp_path):
    """O_NOFOLLOW on the full path protects only its last component: the directories are opened
    one at a time from "/" without following links, so a linked one is refused by name."""
    vault = tmp_path / "vault"  # stands for a root-only folder
    vault.mkdir()
    (vault / "policy.py").write_text(KEEP)
    (vault / "secret.py").write_text("TOKEN = 'root only'\n")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "reallink").symlink_to(vault)
    spec = {"kind": "object", "target": f"{mine / 'reallink' / 'policy.py'}:P"}
    with pytest.raises(PolicyError, match=r"mine/reallink is a symbolic link; give the real path"):
        policy_files(spec)
    with pytest.raises(PolicyError, match=r"reallink is a symbolic link"):
        read_submission([mine / "reallink" / "policy.py"])
    with pytest.raises(PolicyError, match=r"reallink is a symbolic link"):
        policy_files({"kind": "sb3", "path": str(mine / "reallink" / "model.zip")})
    # ".." is resolved lexically (no link may be on the way, so it names what the kernel would)
    _, files, _ = policy_files({"kind": "object", "target": f"{mine / 'reallink' / '..' / '..' / 'vault' / 'policy.py'}:P"})
    assert set(files) == {"policy.py", "secret.py"}
    with pytest.raises(PolicyError, match=r"mine/missing not found"):
        read_submission([mine / "missing" / "policy.py"])
    (mine / "model.zip").write_bytes(b"PK zip")  # an SB3 model's sidecar .json is optional
    host, files, _ = policy_files({"kind": "sb3", "path": str(mine / "model.zip")})
    assert files == {"model.zip": b"PK zip"} and not host["sidecar"]
    (mine / "model.json").write_text("{}")  # a json that is no train_sb3 sidecar is not copied
    host, files, _ = policy_files({"kind": "sb3", "path": str(mine / "model.zip")})
    assert files == {"model.zip": b"PK zip"} and not host["sidecar"]
    sidecar = b'{"lrgym_sb3_sidecar": 2, "algo": "dqn", "env_options": {}}'
    (mine / "model.json").write_bytes(sidecar)
    host, files, _ = policy_files({"kind": "sb3", "path": str(mine / "model.zip")})
    assert files == {"model.zip": b"PK zip", "model.json": sidecar} and host["sidecar"]


def test_a_submission_directory_swapped_for_a_link_after_listing_is_still_read_from_where_it_was(
        tmp_path, monkeypatch):
    """The race of the review (swap the folder with a link to a root-only one between the listing
    and the opens, renameat2 RENAME_EXCHANGE in a loop), made deterministic: the swap happens right
    after the listing; the files still come from the directory that was listed."""
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "policy.py").write_text("SECRET = 'root only'\n")
    (vault / "helper.py").write_text("SECRET = 'root only too'\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "policy.py").write_text(KEEP)
    (sub / "helper.py").write_text("X = 1\n")
    real_scandir = os.scandir

    def listed_then_swapped(where=None):
        entries = list(real_scandir(where))  # what the listing sees: the real folder

        class _Listing:
            def __enter__(self):
                return iter(entries)

            def __exit__(self, *exc):
                return False

            def __iter__(self):
                return iter(entries)

            def close(self):
                pass

        if not (sub.is_symlink()):
            sub.rename(tmp_path / "was")
            sub.symlink_to(vault)
        return _Listing()

    monkeypatch.setattr(os, "scandir", listed_then_swapped)
    _, files, _ = policy_files({"kind": "object", "target": f"{sub / 'policy.py'}:P"})
    assert files == {"policy.py": KEEP.encode(), "helper.py": b"X = 1\n"}
    assert sub.is_symlink()  # the swap did happen, after the listing


@pytest.fixture
def process_with_a_secret():
    """(pid, secret) of a process whose environment holds ``secret`` (as the grader's may)."""
    import secrets
    import subprocess

    secret = f"grader-secret-{secrets.token_hex(8)}"
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                            env={"PATH": os.environ.get("PATH", ""), "LRGYM_GRADER_TOKEN": secret})
    try:
        yield proc.pid, secret
    finally:
        proc.kill()
        proc.wait()


def test_a_proc_or_sys_file_as_the_policy_is_refused_before_it_is_read(process_with_a_secret):
    """``submit /proc/<grader pid>/environ:P``: a regular file, no link, of size 0, whose read
    is the grader's environment; it was read (the size check passed: 0 bytes) and copied into
    the sandbox. A pseudo-file system is refused by name, and nothing of it is quoted."""
    pid, secret = process_with_a_secret
    environ = Path(f"/proc/{pid}/environ")
    assert secret.encode() in environ.read_bytes() and environ.stat().st_size == 0  # what the attack reads
    for read in (lambda: read_policy_files(environ), lambda: policy_files({"kind": "sb3", "path": str(environ)})):
        with pytest.raises(PolicyError, match=rf"submission directory /proc/{pid} is on the kernel's proc "
                                              "pseudo-file system") as info:
            read()
        assert secret not in str(info.value)
    with pytest.raises(PolicyError, match="proc pseudo-file system"):
        read_submission([Path(f"/proc/{pid}/mountinfo")])
    sysfs = Path("/sys/kernel/uevent_seqnum")  # a /sys file reports 4096 bytes whatever it holds
    if sysfs.exists():
        with pytest.raises(PolicyError, match="sysfs pseudo-file system"):
            read_submission([sysfs])


def test_a_policy_file_that_is_not_python_is_refused_before_it_is_read(tmp_path):
    """A ``path:Name`` whose file is not a ``.py`` was read and copied, then failed in the
    sandbox with "AttributeError: 'NoneType' object has no attribute 'loader'"."""
    (tmp_path / "notes.txt").write_text("private notes\n")
    with pytest.raises(PolicyError, match=r"notes\.txt is not a Python file; valid: path/to/file\.py:Name"):
        policy_files({"kind": "object", "target": f"{tmp_path / 'notes.txt'}:P"})


def test_a_file_whose_size_is_not_its_bytes_is_refused_without_quoting_it(process_with_a_secret, monkeypatch):
    """A pseudo-file system the list does not know (emptied here) is still refused: the bytes
    read (the environment) are not the size measured (0)."""
    pid, secret = process_with_a_secret
    monkeypatch.setattr("lrgym.leaderboard.submission_files.PSEUDO_FILE_SYSTEMS", {})
    with pytest.raises(PolicyError, match=r"environ changed while it was read \(0 bytes measured") as info:
        policy_files({"kind": "sb3", "path": f"/proc/{pid}/environ"})
    assert secret not in str(info.value)


def test_a_proc_file_bound_into_an_ordinary_folder_is_refused(tmp_path, process_with_a_secret):
    """The file itself is checked too, not only its folder: a bind mount of ``environ`` over
    ``policy.py`` (made in a private mount namespace here) is found by ``fstatfs``."""
    import subprocess

    pid, secret = process_with_a_secret
    (tmp_path / "policy.py").write_text(KEEP)
    target = str(tmp_path / "policy.py")
    script = ("import subprocess, sys\nfrom pathlib import Path\n"
              "from lrgym.leaderboard.submission_files import read_policy_files\n"
              f"subprocess.run(['mount', '--bind', '/proc/{pid}/environ', {target!r}], check=True)\n"
              f"assert {secret!r}.encode() in Path({target!r}).read_bytes()\n"
              f"try:\n    read_policy_files(Path({target!r}))\n"
              "except Exception as exc:\n    print(exc)\nelse:\n    print('READ')\n")
    flags = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    try:
        done = subprocess.run(["unshare", *flags, "--mount", "--propagation", "private", sys.executable, "-c", script],
                              capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        pytest.skip("no unshare to make a private mount namespace")
    if done.returncode != 0 and done.stderr.startswith("unshare:"):  # not permitted here
        pytest.skip(f"no private mount namespace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert "policy.py is on the kernel's proc pseudo-file system" in done.stdout, done.stdout
    assert secret not in done.stdout


def test_a_linked_sibling_fails_the_submission_and_nothing_of_it_is_copied(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "policy.py").write_text(KEEP)
    secret = tmp_path / "store.sqlite"
    secret.write_bytes(b"SQLite format 3\0secret rows")
    (sub / "store.py").symlink_to(secret)
    suite = tiny_suite("links", seeds=(0,), horizon=3)
    [outcome] = run_suite([submission_spec(f"{sub / 'policy.py'}:P", name="linked")], suite,
                          references=load_references(suite, n_workers=1), n_workers=1, time_limit=120)
    assert not outcome.ok and "store.py is a symbolic link" in outcome.entry.failure_reason
    assert "secret rows" not in outcome.entry.failure_reason


# ---- what the policy and the failure reasons say about episodes ----------------------------------


def _suite(name: str, instance_set_name: str, first: int) -> Suite:
    return Suite(name=name, revision=1, description="test", instance_set=instance_set_name,
                 families=(FamilySuite("quadratic", (first,), 4, 2),), seeds=(1_234_567, 7_654_321))


WHERE = ("class P:\n    name = 'p'\n    def reset(self, info):\n        pass\n"
         "    def act(self, obs, info):\n        raise RuntimeError('told nothing')\n")


@pytest.mark.parametrize("hidden", [True, False])
def test_a_private_suites_instances_and_seeds_stay_out_of_failure_reasons(tmp_path, hidden):
    first = instance_set("private" if hidden else "test").start + 3
    suite = _suite(f"labels-{hidden}", "private" if hidden else "test", first)
    refs = load_references(suite, n_workers=1)
    src = tmp_path / "where.py"
    src.write_text(WHERE)
    invalid, raises = run_suite([submission_spec(policy("InvalidAction"), name="invalid"),
                                 submission_spec(f"{src}:P", name="raises")],
                                suite, references=refs, n_workers=1, time_limit=120)
    if hidden:  # a private suite records the kind of failure only (see the next test)
        assert invalid.entry.failure_reason.startswith("the policy returned an invalid action (a private suite")
        assert raises.entry.failure_reason.startswith("the policy raised an exception in act() (a private suite")
        assert "told nothing" not in raises.entry.failure_reason
    else:
        assert "invalid action at step 0 (quadratic, episode 1 of 1 of the job" in invalid.entry.failure_reason
        assert "policy raised in act() at step 0 (quadratic, episode 1 of 1 of the job)" in raises.entry.failure_reason
    # the policy's own messages never name a seed; the grader's name instance and seed on public suites only
    for secret in (str(first), "1234567", "7654321"):
        assert secret not in raises.entry.failure_reason
        if hidden:
            assert secret not in invalid.entry.failure_reason
    if not hidden:  # public instances and seeds: named, for the submitter to reproduce the failure
        assert f"episode 1 of 1 of the job: instance {first} seed 1234567)" in invalid.entry.failure_reason


REPORTS = {  # policies that fail on purpose to carry what they saw out in the failure reason
    "raises": "    def act(self, obs, info):\n        raise RuntimeError(f'LOSS={info[\"train_loss\"]!r}')\n",
    "exits": "    def act(self, obs, info):\n        import os; os._exit(int(info['train_loss'] * 1000) % 256)\n",
    "prints": "    def act(self, obs, info):\n        print('LOSS', info['train_loss'], flush=True); return 'x'\n",
    "acts": "    def act(self, obs, info):\n        return float(info['train_loss']) + 10.0\n",
}


def test_a_private_suites_failure_reasons_carry_nothing_the_policy_chose(tmp_path):
    """An operator's audit (2026-12-05): a policy failing on purpose wrote its instances' losses
    into the failure reason (its exception, its output, the actions it returned, its exit code),
    which ``submit`` printed and the board published; in six failed submissions it had the best
    LRs of 8 hidden mlp instances. On a private suite a reason is now the kind of failure only."""
    first = instance_set("private").start + 11
    suite = _suite("reports", "private", first)
    refs = load_references(suite, n_workers=1)
    specs = []
    for name, act in REPORTS.items():
        (tmp_path / f"{name}.py").write_text("action_mode = 'log_lr'\nclass P:\n    action_mode = 'log_lr'\n"
                                             "    def reset(self, info):\n        pass\n" + act)
        specs.append(submission_spec(f"{tmp_path / name}.py:P", name=name))
    outcomes = run_suite(specs, suite, references=refs, n_workers=1, time_limit=120)
    kinds = {o.spec.name: o.entry.failure_reason for o in outcomes}
    assert all(not o.ok for o in outcomes)
    assert kinds["raises"].startswith("the policy raised an exception in act() (a private suite")
    assert kinds["exits"].startswith("the policy's process died (a private suite")
    assert kinds["prints"].startswith("the policy returned an invalid action (a private suite")
    assert kinds["acts"].startswith("the policy returned an invalid action (a private suite")
    loss = None
    for reason in kinds.values():
        assert "LOSS" not in reason and not any(ch.isdigit() for ch in reason), reason
    del loss


def test_a_killed_ray_actors_copy_of_a_submission_is_swept_by_the_next_grader(tmp_path, monkeypatch):
    """A Ray actor writes the submission's files into a private folder that only its ``stop()``
    removed; ``ray.kill`` (time limit, failed group, ^C) left copies of submissions behind (a Ray
    user's audit, 2026-12-03). The folder is named after the actor's process, so the next
    grader on the node removes it once that process is gone."""
    import subprocess

    from lrgym.leaderboard.pool import sweep_orphaned_scratch
    from lrgym.leaderboard.ray_pool import GraderHost

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with monkeypatch.context() as m:
        m.setattr(os, "getpid", lambda: dead.pid)  # the actor's process, gone
        payload = GraderHost(quiet=True)._localise({"policy": {"kind": "object", "target": "policy.py:P"}},
                                                   {"policy.py": KEEP.encode()})
    copy = Path(payload["policy"]["target"].rpartition(":")[0])
    assert copy.read_text() == KEEP and copy.parent.parent == tmp_path
    live = GraderHost(quiet=True)._localise({"policy": {"kind": "object", "target": "policy.py:P"}},
                                             {"policy.py": KEEP.encode()})
    live_dir = Path(live["policy"]["target"].rpartition(":")[0]).parent
    assert sweep_orphaned_scratch(str(tmp_path)) == 1
    assert not copy.parent.exists() and live_dir.exists()  # a live actor's folder stays
