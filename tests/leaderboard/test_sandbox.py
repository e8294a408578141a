"""The policy process's confinement, probed from inside, and the two channels giving the same run.

A probe policy collects what it can see and do (its uid, the network, the grader's files, the
processes around it, its limits) and reports it in the exception it raises while being built:
the report reaches the test as the failure reason.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import pytest
from lb_helpers import SEEN_SOURCE, one_episode_setup, policy, probe_facts, probe_sandbox, tiny_suite

from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import baseline_specs, run_suite, submission_spec
from lrgym.leaderboard.sandbox import Limits, SandboxError, mode
from lrgym.leaderboard.settings import SettingsError, check_choices, episode_kwargs, public_info

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

PROBE = '''
import json, os, socket, resource

def _can(fn):
    try:
        fn()
        return True
    except Exception:
        return False

def _write(path):
    with open(path, "a") as f:
        f.write("x")

class Probe:
    def __init__(self):
        facts = {
            "uid": os.getuid(), "cwd": os.getcwd(),
            "network": _can(lambda: socket.create_connection(("1.1.1.1", 53), timeout=2)),
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "read": {p: _can(lambda p=p: open(p, "rb").read(1)) for p in READ},
            "write": {p: _can(lambda p=p: _write(p)) for p in WRITE},
            "exists": {p: os.path.exists(p) for p in READ},
            "tmp_writable": _can(lambda: _write("/tmp/probe.txt")),
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            "fsize": resource.getrlimit(resource.RLIMIT_FSIZE)[0],
            "as": resource.getrlimit(resource.RLIMIT_AS)[0],
            "env": sorted(os.environ),
        }
        raise RuntimeError("FACTS" + json.dumps(facts) + "END")
'''


def _probe(tmp_path, read, write) -> dict:
    return probe_sandbox(f"READ = {read!r}\nWRITE = {write!r}\n" + PROBE)


@pytest.mark.skipif(mode()["kind"] == "none", reason="needs namespaces (unshare)")
def test_the_policy_sees_a_private_machine(tmp_path):
    store = tmp_path / "results.sqlite"
    store.write_bytes(b"SQLite format 3\0")
    grader_file = os.path.abspath(__file__)
    shipped = os.path.join(os.path.dirname(__file__), "..", "..", "leaderboard", "references", "v1-r1.json")
    facts = _probe(tmp_path, read=[str(store), os.path.expanduser("~/.bashrc")],
                   write=[str(store), os.path.abspath(shipped), grader_file, "/usr/probe.txt"])
    assert facts["network"] is False
    # its job's own PID namespace: the job's process (the episodes' template, its PID 1) and
    # itself; no grader, no other entry, nothing of the sandbox's host
    assert facts["pids"] == [1, 2]
    assert not any(facts["read"].values()) and not any(facts["exists"].values())
    assert not any(facts["write"].values())
    assert facts["tmp_writable"] and facts["cwd"] == "/tmp/work/0"  # episode 0's own folder
    assert facts["nofile"] == Limits().open_files and facts["fsize"] == Limits().file_mb << 20
    assert facts["as"] == 1500 << 20
    assert "LRGYM_STORE" not in facts["env"] and "LRGYM_CACHE" not in facts["env"]
    if mode()["uid_drop"]:
        assert facts["uid"] != 0 and facts["uid"] >= 1_900_000


def test_an_ordinary_users_sandbox(tmp_path, monkeypatch):
    """The user-namespace sandbox (what a non-root grader gets; forced here): root of its
    namespace without capabilities, the same private read-only root."""
    monkeypatch.setenv("LRGYM_SANDBOX", "userns")
    mode.cache_clear()
    try:
        if mode()["kind"] != "userns":
            pytest.skip("user namespaces are not permitted on this machine")
        store = tmp_path / "results.sqlite"
        store.write_bytes(b"SQLite format 3\0")
        shipped = os.path.join(os.path.dirname(__file__), "..", "..", "leaderboard", "references", "v1-r1.json")
        facts = _probe(tmp_path, read=[str(store)], write=[os.path.abspath(shipped), os.path.abspath(__file__)])
    finally:
        mode.cache_clear()
    assert facts["uid"] == 0 and facts["pids"] == [1, 2] and facts["network"] is False
    assert not any(facts["read"].values()) and not any(facts["write"].values())
    assert facts["tmp_writable"]


def test_a_baseline_scores_the_same_in_the_worker_and_in_the_sandbox():
    """The trusted in-worker channel and the sandboxed one give the same trajectories, bit for bit."""
    suite = tiny_suite("channels", families=("quadratic", "linreg"), n_instances=1, seeds=(0, 1), horizon=8)
    refs = load_references(suite, n_workers=2)
    specs = baseline_specs(["bold_driver", "hypergradient"])
    inline = run_suite(specs, suite, references=refs, n_workers=2)
    boxed = run_suite(specs, suite, references=refs, n_workers=2, sandbox_baselines=True)
    for a, b in zip(inline, boxed):
        assert a.ok and b.ok
        assert [(r.score, r.curves) for r in a.runs] == [(r.score, r.curves) for r in b.runs]
        assert a.entry.env_spec["env_kwargs"] == b.entry.env_spec["env_kwargs"]
        assert b.entry.env_spec["sandbox"]["namespaces"] == (mode()["kind"] != "none")


def test_policy_choices_are_checked():
    assert check_choices({}) == {"optimizer": "sgd", "action_mode": "discrete"}
    assert check_choices({"optimizer": "adam", "action_mode": "log_lr", "lr_init": 0.1, "factors": (0.5, 2),
                          "rejection_threshold": 0.04}) == {
        "optimizer": "adam", "action_mode": "log_lr", "lr_init": 0.1, "factors": (0.5, 2.0),
        "rejection_threshold": 0.04}
    for bad, message in [({"inner_steps": 200}, "inner_steps are fixed by the suite"),
                         ({"horizon": 5, "reward": "final"}, "horizon, reward are fixed by the suite"),
                         ({"optimizer": "lbfgs"}, "optimizer='lbfgs' not allowed"),
                         ({"optimizer": {"name": "adam", "beta1": 0.0}}, "not allowed"),
                         ({"action_mode": "continuous"}, "valid choices: discrete, log_lr"),
                         ({"factors": [0.0]}, "factors"), ({"factors": [1.0] * 17}, "1 to 16"),
                         ({"lr_init": float("nan")}, "lr_init"), ({"rejection_threshold": -1}, "rejection_threshold")]:
        with pytest.raises(SettingsError, match=message):
            check_choices(bad)
    suite = tiny_suite("choices")
    kwargs = episode_kwargs(suite, "quadratic", {"optimizer": "adam"})
    assert kwargs["inner_steps"] == 3 and kwargs["horizon"] == 6 and kwargs["optimizer"] == "adam"
    info = {"lr": 0.1, "instance": 20000, "family": "quadratic", "train_loss": 1.0}
    assert public_info(info) == {"lr": 0.1, "family": "quadratic", "train_loss": 1.0}


def test_a_policys_own_env_options_are_refused_for_zips_too(tmp_path):
    """``--env-options`` of an SB3 zip go through the same check as a policy's attributes."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import DQN

    from lrgym.env import LRControlEnv

    suite = tiny_suite("zipopts", horizon=6, inner_steps=3)
    refs = load_references(suite, n_workers=1)
    model = DQN("MlpPolicy", LRControlEnv(**suite.env_kwargs("quadratic")), learning_starts=0,
                policy_kwargs={"net_arch": [8]}, seed=0, device="cpu")
    path = tmp_path / "tiny.zip"
    model.save(path)
    with pytest.raises(ValueError, match="inner_steps are fixed by the suite"):  # on the command line already
        submission_spec(str(path), name="cheat", env_options={"inner_steps": 200})
    # and again in the worker, for a spec that did not come through submission_spec
    honest_spec = submission_spec(str(path), name="zip", env_options={"lr_init": 0.05})
    cheat_spec = dataclasses.replace(honest_spec, name="cheat",
                                     spec={**honest_spec.spec, "env_options": {"inner_steps": 200}})
    cheat, honest = run_suite([cheat_spec, honest_spec], suite, references=refs, n_workers=2, time_limit=120)
    assert not cheat.ok and "inner_steps are fixed by the suite" in cheat.entry.failure_reason
    assert honest.ok, honest.entry.failure_reason
    assert honest.entry.env_spec["env_kwargs"]["quadratic"]["lr_init"] == 0.05
    assert honest.entry.env_spec["env_kwargs"]["quadratic"]["inner_steps"] == 3


def test_a_policy_that_never_answers_is_ended_with_its_tree(tmp_path):
    """The wall-clock limit ends the policy process and what it started (covered for children
    in their own session by test_cheats); here: the policy is still in its constructor."""
    src = tmp_path / "slow.py"
    src.write_text("import time\nclass P:\n    def __init__(self):\n        time.sleep(3600)\n")
    suite = tiny_suite("slow")
    [outcome] = run_suite([submission_spec(f"{src}:P")], suite, references=load_references(suite, n_workers=1),
                          n_workers=1, time_limit=5)
    assert "timeout" in outcome.entry.failure_reason


def test_keep_policy_module_target_runs_in_the_sandbox():
    suite = tiny_suite("module")
    [outcome] = run_suite([submission_spec("lb_policies:Keep", name="keep-module")], suite,
                          references=load_references(suite, n_workers=1), n_workers=1, time_limit=60)
    assert outcome.ok, outcome.entry.failure_reason
    assert outcome.entry.policy_source_hash and len(outcome.entry.policy_source_hash) == 64
    assert policy("Keep").endswith(":Keep")


MASK_PROBE = '''
import json, os

class Probe:
    def __init__(self):
        facts = {"file": os.path.exists(FILE), "listing": os.listdir(FOLDER) if os.path.isdir(FOLDER) else None,
                 "sub": os.path.exists(SUB)}
        raise RuntimeError("FACTS" + json.dumps(facts) + "END")
'''


@pytest.mark.skipif(mode()["kind"] == "none", reason="needs namespaces (unshare)")
@pytest.mark.parametrize("kind", ["auto", "userns"])
def test_a_grader_folder_inside_a_bound_tree_is_masked(monkeypatch, kind):
    """A grader working in a folder under a bound tree (Docker's ``WORKDIR /usr/src/app``, a folder
    in the venv) is not bound itself, but its parent is: an empty tmpfs covers it in the sandbox."""
    import secrets
    import shutil
    from pathlib import Path

    if kind == "userns":
        monkeypatch.setenv("LRGYM_SANDBOX", "userns")
        mode.cache_clear()
    folder = Path(sys.prefix) / f"lrgym-test-grader-{secrets.token_hex(6)}"
    try:
        if kind == "userns" and mode()["kind"] != "userns":
            pytest.skip("user namespaces are not permitted on this machine")
        (folder / "runs").mkdir(parents=True)
        secret = folder / "runs" / "results.json"
        secret.write_text('{"secret": 1}')
        secret.chmod(0o644)
        folder.chmod(0o755)
        (folder / "runs").chmod(0o755)
        monkeypatch.chdir(folder)
        facts = probe_sandbox(f"FILE = {str(secret)!r}\nFOLDER = {str(folder)!r}\nSUB = {str(folder / 'runs')!r}\n"
                              + MASK_PROBE)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        mode.cache_clear()  # recomputed with the restored environment
    assert facts == {"file": False, "listing": [], "sub": False}


IMPORT_PROBE = SEEN_SOURCE + '''
import importlib

class Probe:
    def __init__(self):
        try:
            value = importlib.import_module(PACKAGE).VALUE
        except ImportError as e:
            value = type(e).__name__
        try:
            open(os.path.join(SITE, "written.txt"), "w").close()
            writable = True
        except OSError:
            writable = False
        facts = {"value": value, "writable": writable, **{p: _seen(p) for p in PATHS}}
        raise RuntimeError("FACTS" + json.dumps(facts) + "END")
'''


@pytest.mark.skipif(mode()["kind"] == "none", reason="needs namespaces (unshare)")
@pytest.mark.parametrize("kind", ["auto", "userns"])
def test_a_folder_imported_from_inside_a_covered_working_directory_stays_importable(monkeypatch, kind):
    """Docker's layout: ``WORKDIR /usr/src/app`` (under the bound ``/usr``) holding the venv
    ``/usr/src/app/.venv``. The working directory is covered by an empty tmpfs; until 2026-12-07
    that cover hid the venv too, and every policy failed to start (``No module named
    'lrgym.baselines'``, run for real from /usr/src/app). Here the working directory lies in the
    venv (bound) and holds a folder on ``sys.path``: the policy imports from that folder (read-only)
    and sees nothing else of the working directory, a file the grader makes there after the sandbox
    started included."""
    import secrets
    import shutil
    from pathlib import Path

    if kind == "userns":
        monkeypatch.setenv("LRGYM_SANDBOX", "userns")
        mode.cache_clear()
    token = secrets.token_hex(6)
    app = Path(sys.prefix) / f"lrgym-test-app-{token}"
    site, package = app / "site", f"lrgym_test_pkg_{token}"
    secret, late = app / "runs" / "results.json", app / "lrgym_leaderboard.sqlite"
    paths = [str(p) for p in (app, secret, late)]
    try:
        if kind == "userns" and mode()["kind"] != "userns":
            pytest.skip("user namespaces are not permitted on this machine")
        (site / package).mkdir(parents=True)
        (site / package / "__init__.py").write_text("VALUE = 41\n")
        secret.parent.mkdir()
        secret.write_text('{"secret": 1}')
        for p in (app, site, site / package, secret.parent):
            p.chmod(0o755)
        for p in (site / package / "__init__.py", secret):
            p.chmod(0o644)
        monkeypatch.chdir(app)
        monkeypatch.syspath_prepend(str(site))

        def grader_writes_late():
            late.write_text("made after the sandbox started")
            late.chmod(0o644)

        facts = probe_sandbox(f"PACKAGE = {package!r}\nSITE = {str(site)!r}\nPATHS = {paths!r}\n" + IMPORT_PROBE,
                              after_start=grader_writes_late)
    finally:
        shutil.rmtree(app, ignore_errors=True)
        mode.cache_clear()  # recomputed with the restored environment
    assert facts == {"value": 41, "writable": False, str(app): ["folder", ["site"]], str(secret): "missing",
                     str(late): "missing"}


def test_reshown_dirs_are_the_folders_imported_from_strictly_inside_a_covered_one(tmp_path):
    from lrgym.leaderboard.host_start import reshown_dirs

    real = tmp_path / "real"
    app = real / "app"
    (app / ".venv" / "lib" / "site").mkdir(parents=True)
    (app / "src" / "pkg").mkdir(parents=True)
    alias = tmp_path / "alias"
    alias.symlink_to(real)
    needed = [str(app / ".venv"), str(app / ".venv" / "lib" / "site"), str(app / "src" / "pkg"), str(app),
              str(tmp_path / "elsewhere")]
    # nested ones dropped (the outer bind holds them), outermost first, under each name the cover has
    assert reshown_dirs([str(app)], needed) == [str(app / ".venv"), str(app / "src" / "pkg")]
    assert reshown_dirs([str(alias / "app")], needed) == [str(alias / "app" / ".venv"),
                                                          str(alias / "app" / "src" / "pkg")]
    assert reshown_dirs([str(app / ".venv" / "lib" / "site")], needed) == []  # the covered folder itself: not inside
    assert reshown_dirs([], needed) == []


GRADER_FILES_PROBE = SEEN_SOURCE + '''
class Probe:
    def __init__(self):
        raise RuntimeError("FACTS" + json.dumps({p: _seen(p) for p in PATHS}) + "END")
'''


@pytest.mark.skipif(mode()["kind"] == "none", reason="needs namespaces (unshare)")
@pytest.mark.parametrize("kind", ["auto", "userns"])
def test_the_store_and_a_private_key_inside_a_bound_tree_are_covered(tmp_path, monkeypatch, kind):
    """A store given as ``--db`` and a private suite's key (``--private``) in a folder every sandbox
    binds (the venv, ``/etc/lrgym``) while the grader works elsewhere: the policy reads neither.
    Until 2026-12-06 only the working directory was covered, and the user-namespace sandbox's
    policy, the grader's uid outside, read the 0600 key and store (a red-team submission through
    ``lrgym leaderboard submit --db $VENV/secret/lb.sqlite``). The store and the key lie each in a
    folder of its own inside the venv (covered whole by an empty folder; a store directly in the
    venv's own folder, which the sandbox needs, is refused: tests/leaderboard/test_grader_places.py);
    ``$LRGYM_RUNS``, where a private board's exports go, in the venv too (covered by an empty folder)."""
    import secrets
    import shutil
    from pathlib import Path

    from lrgym.leaderboard.store import ResultStore

    if kind == "userns":
        monkeypatch.setenv("LRGYM_SANDBOX", "userns")
        mode.cache_clear()
    token = secrets.token_hex(6)
    db = Path(sys.prefix) / f"lrgym-test-store-{token}" / "lb.sqlite"
    key_dir = Path(sys.prefix) / f"lrgym-test-grader-{token}"
    key, refs_dir = key_dir / "grader.key", key_dir / "grader.key.references"
    runs = Path(sys.prefix) / f"lrgym-test-runs-{token}"  # $LRGYM_RUNS: where a private board's exports go
    monkeypatch.setenv("LRGYM_RUNS", str(runs))
    monkeypatch.chdir(tmp_path)  # the grader works elsewhere: nothing is covered as its working directory
    try:
        if kind == "userns" and mode()["kind"] != "userns":
            pytest.skip("user namespaces are not permitted on this machine")
        refs_dir.mkdir(parents=True, mode=0o700)
        key.write_text("ab" * 32 + "\n")
        key.chmod(0o600)
        (refs_dir / "private-x-r2.json").write_text("{}")
        key_dir.chmod(0o755)  # others may look into the folder: only the files' modes protect them
        runs.mkdir(mode=0o755)
        (runs / "results-private-x.json").write_text("{}")
        paths = [str(p) for p in (db, key, key_dir, runs)]
        path, suite, refs = one_episode_setup(tmp_path, "probe", f"PATHS = {paths!r}\n" + GRADER_FILES_PROBE)
        with ResultStore(db) as store:
            [outcome] = run_suite([submission_spec(f"{path}:Probe")], suite, store=store, references=refs,
                                  n_workers=1, time_limit=120, grader_files=[key, refs_dir])
            facts = probe_facts(outcome)
    finally:
        for leftover in (key_dir, runs, db.parent):
            shutil.rmtree(leftover, ignore_errors=True)
        mode.cache_clear()  # recomputed with the restored environment
    # the store and the key: not there; their folders and runs/: empty
    assert facts == {str(db): "missing", str(key): "missing", str(key_dir): ["folder", []], str(runs): ["folder", []]}


def test_masked_dirs_cover_grader_files_and_their_folder_unless_it_holds_python(tmp_path):
    from lrgym.leaderboard.host_start import masked_dirs

    venv = tmp_path / "venv"
    (venv / "lib" / "site").mkdir(parents=True)
    (venv / "secret").mkdir()
    store, key = venv / "lb.sqlite", venv / "secret" / "grader.key"
    needed = [str(venv), str(venv / "lib" / "site")]
    files = [str(store), str(store) + "-wal", str(key)]
    got = masked_dirs([str(venv)], hidden=[], files=files, needed=needed)
    # the store's folder is the venv itself (needed): its files one by one; the key's folder whole
    assert set(got) == {str(venv / "secret"), str(store), str(key), str(store) + "-wal"}
    assert got[0] == str(venv / "secret")  # a folder before what lies inside it
    assert masked_dirs(["/etc"], hidden=[], files=["/etc/grader.key"], needed=needed) == ["/etc/grader.key"]
    assert masked_dirs([str(venv / "lib")], hidden=[], files=files, needed=needed) == []  # not inside a bound one


def test_masked_dirs_are_the_hidden_ones_strictly_inside_a_bound_one(tmp_path):
    from lrgym.leaderboard.host_start import masked_dirs

    real = tmp_path / "real"
    (real / "app" / "runs").mkdir(parents=True)
    alias = tmp_path / "alias"
    alias.symlink_to(real)
    bound = [str(real), str(alias)]
    hidden = [str(real / "app"), str(real / "app" / "runs"), str(tmp_path), str(real), "/elsewhere"]
    assert masked_dirs([str(real)], hidden) == [str(real / "app"), str(real / "app" / "runs")]
    assert str(alias / "app") in masked_dirs(bound, hidden)  # under each name it is bound by
    assert masked_dirs(["/usr"], ["/", "/usr", "/usrx"]) == []


@pytest.mark.skipif(os.geteuid() != 0 or mode()["kind"] == "none", reason="root's sandbox needs root and namespaces")
def test_require_refuses_a_root_grader_whose_policies_would_keep_uid_0(monkeypatch):
    """As root, a Python installation other users cannot read costs the policies their private uid
    (root of a user namespace instead, which reads /etc/shadow): ``auto`` falls back with a note,
    ``require`` refuses, naming the unreadable folder."""
    from lrgym.leaderboard import sandbox

    monkeypatch.setattr(sandbox, "_readable_by_others", lambda path: False)
    try:
        for setting in ("auto", "require"):
            monkeypatch.setenv("LRGYM_SANDBOX", setting)
            mode.cache_clear()
            if setting == "auto":
                got = mode()
                assert got["kind"] == "userns" and not got["uid_drop"] and "not readable by other users" in got["note"]
            else:
                with pytest.raises(SandboxError, match="unprivileged uid: .* is not readable by other users"):
                    mode()
    finally:
        mode.cache_clear()


def test_a_graded_policy_sees_the_schemas_keys_but_the_instance_only():
    """``public_info`` is an allowlist (DESIGN: "a whitelisted info"): of a real env info, every
    schema key but ``instance``, in the info's order, values untouched; a key the schema does not
    list (a wrapper's, a future one: here a seed and a spec) reaches no policy. It was a denylist of
    ``instance`` alone, which passed any other key on."""
    from lrgym.env import LRControlEnv
    from lrgym.info import INFO_KEYS

    _, info = LRControlEnv(family="quadratic", horizon=2).reset(seed=0)
    seen = public_info({**info, "env_seed": 0, "spec": {"instance": int(info["instance"])}})
    assert list(seen) == [k for k in info if k != "instance"] == [k for k in INFO_KEYS if k != "instance"]
    assert all(seen[k] is info[k] for k in seen)
