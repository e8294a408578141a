"""Where the grader may keep its store and a private suite's outputs (lrgym.leaderboard.grader_places).

Two places a red-team probe reached on 2026-12-06, after the grader's files were first covered in
every sandbox: a store lying directly in the venv's folder (covered one file at a time, so a
journal removed and made again while the policy ran showed, contents and all), and a private
board written with ``report --html`` into a folder every sandbox binds (covered in no later
command's sandbox). The probe policies below are run through ``run_suite`` in the sandboxes this
machine has (``auto``; ``userns``, whose policies have the grader's uid outside, where permitted).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from lb_helpers import SEEN_SOURCE, one_episode_setup, probe_facts, synthetic_runs
from typer.testing import CliRunner

from lrgym.leaderboard.cli import app
from lrgym.leaderboard.grader_places import check_hidden_dirs, check_private_output, check_store_place, shown_by
from lrgym.leaderboard.private import create_key, private_suite
from lrgym.leaderboard.runner import baseline_specs, run_suite, submission_spec, summarize
from lrgym.leaderboard.sandbox import mode
from lrgym.leaderboard.store import EntryRecord, ResultStore

#: a policy that watches ``PATHS`` for up to ``WATCH`` seconds (until one holds ``SECRET``) and
#: fails with what it saw of each, between FACTS and END
WATCH_PROBE = SEEN_SOURCE + '''
import time

class Probe:
    def __init__(self):
        end = time.monotonic() + WATCH
        while True:
            facts = {p: _seen(p, contents=True) for p in PATHS}
            if SECRET in json.dumps(facts) or time.monotonic() > end:
                break
            time.sleep(0.05)
        raise RuntimeError("FACTS" + json.dumps(facts) + "END")
'''


@pytest.fixture(params=["auto", "userns"])
def sandbox_kind(request, monkeypatch):
    """The sandbox a test's policies run in: ``auto`` (root's uid drop here) or ``userns``."""
    if mode()["kind"] == "none":
        pytest.skip("needs namespaces (unshare)")
    if request.param == "userns":
        monkeypatch.setenv("LRGYM_SANDBOX", "userns")
        mode.cache_clear()
        if mode()["kind"] != "userns":
            mode.cache_clear()
            pytest.skip("user namespaces are not permitted on this machine")
    yield request.param
    mode.cache_clear()  # recomputed with the restored environment


class _Journal:
    """SQLite's rollback journal as a grader writing to the store makes it: removed and made again
    (here every 20 ms, holding ``secret``) until stopped, from before the sandbox starts."""

    def __init__(self, path: Path, secret: str):
        self.path, self.secret, self.stop = path, secret, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            self.path.unlink(missing_ok=True)
            self.path.write_text(self.secret)
            self.stop.wait(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.path.unlink(missing_ok=True)


def _venv_place(token: str, *parts: str) -> Path:
    return Path(sys.prefix).joinpath(*[p.format(token=token) for p in parts])


def test_a_store_in_the_venvs_folder_is_refused_its_journal_showed_to_the_policy(tmp_path, monkeypatch, sandbox_kind):
    """A store directly in the venv's folder (``--db $VENV/lb.sqlite``), which the sandbox imports
    from and so covers one file at a time: a journal the grader removed and made again while the
    policy ran showed to it, contents and all (removing a mount point from the grader's namespace
    detaches the empty file bound over it in the sandbox's). Now ``run_suite`` refuses the store
    before anything runs, naming it and a place that works; on the old code the probe read the
    journal (the failure below shows what it saw)."""
    token = secrets.token_hex(6)
    db = _venv_place(token, "lrgym-test-store-{token}.sqlite")
    secret = f"SECRET-{token}"
    monkeypatch.chdir(tmp_path)  # the grader works elsewhere: nothing is covered as its working directory
    journal = Path(str(db) + "-journal")
    path, suite, refs = one_episode_setup(tmp_path, "probe", f"PATHS = {[str(journal)]!r}\nWATCH = 60\n"
                                          f"SECRET = {secret!r}\n" + WATCH_PROBE)
    try:
        with ResultStore(db) as store, _Journal(journal, secret):
            with pytest.raises(ValueError) as refused:
                [outcome] = run_suite([submission_spec(f"{path}:Probe")], suite, store=store, references=refs,
                                      n_workers=1, time_limit=120)
                pytest.fail(f"graded; the policy saw {probe_facts(outcome)}")
    finally:
        for leftover in Path(sys.prefix).glob(f"lrgym-test-store-{token}.sqlite*"):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    message = str(refused.value)
    assert f"the results store {db} lies in {Path(sys.prefix).resolve()}" in message
    assert f"{Path(sys.prefix).resolve() / 'lrgym-store' / db.name}: covered whole" in message


def _entries(folder: Path) -> dict:
    """Every path under ``folder`` with its size and modification time (a folder's: None, time)."""
    return {str(p): (None if p.is_dir() else p.stat().st_size, p.stat().st_mtime_ns) for p in [folder, *folder.rglob("*")]}


def test_a_refused_run_suite_leaves_the_file_system_as_it_was(tmp_path, monkeypatch):
    """``run_suite`` called as a library with its store's path (``store="lb.sqlite"``): a store
    the sandboxes would show is refused before it is opened, so the refused call makes no file;
    a store ``run_suite`` was given open (the caller made it) is refused before anything is
    written to it. Until 2026-12-07 ``run_suite`` took an open store only: a library caller's
    ``ResultStore(path)`` made the file and its journals before the refusal (the CLI alone
    checked first). An accepted path is opened, written and closed by ``run_suite``."""
    from lb_helpers import policy, tiny_suite

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    token = secrets.token_hex(6)
    db = _venv_place(token, "lrgym-test-store-{token}.sqlite")
    venv_before, here_before = sorted(os.listdir(sys.prefix)), _entries(tmp_path)
    try:
        for store in (db, str(db)):
            with pytest.raises(ValueError, match=re.escape(f"the results store {db} lies in {Path(sys.prefix).resolve()}")):
                run_suite([submission_spec(policy("Keep"))], "quick", store=store, n_workers=1)
        made = sorted(str(p) for p in Path(sys.prefix).glob(f"lrgym-test-store-{token}*"))
    finally:
        for leftover in Path(sys.prefix).glob(f"lrgym-test-store-{token}*"):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    assert made == [] and _entries(tmp_path) == here_before
    assert sorted(os.listdir(sys.prefix)) == venv_before
    # accepted: a path is opened by run_suite, the entry written, the store closed on return
    suite = tiny_suite("places", seeds=(0,), horizon=3, inner_steps=2)
    [outcome] = run_suite(baseline_specs(["fixed"]), suite, store=tmp_path / "lb.sqlite", n_workers=1)
    with ResultStore(tmp_path / "lb.sqlite") as store:
        assert [e.name for e in store.entries()] == ["fixed"] and outcome.ok


def test_a_store_in_a_folder_of_its_own_keeps_a_journal_made_while_the_policy_runs_hidden(tmp_path, monkeypatch,
                                                                                        sandbox_kind):
    """The place the refusal offers, a folder of the store's own in the venv, is covered whole by
    an empty tmpfs: the journal made and remade while the policy watches (3 s) never shows, nor
    the store."""
    token = secrets.token_hex(6)
    folder = _venv_place(token, "lrgym-test-store-{token}")
    db = folder / "lb.sqlite"
    secret = f"SECRET-{token}"
    monkeypatch.chdir(tmp_path)
    journal = Path(str(db) + "-journal")
    paths = [str(journal), str(db), str(folder)]
    path, suite, refs = one_episode_setup(tmp_path, "probe", f"PATHS = {paths!r}\nWATCH = 3\n"
                                          f"SECRET = {secret!r}\n" + WATCH_PROBE)
    try:
        with ResultStore(db) as store, _Journal(journal, secret):
            [outcome] = run_suite([submission_spec(f"{path}:Probe")], suite, store=store, references=refs,
                                  n_workers=1, time_limit=120)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert probe_facts(outcome) == {str(journal): "missing", str(db): "missing", str(folder): ["folder", []]}


def test_a_private_report_in_a_bound_folder_is_refused_a_later_policy_read_it(tmp_path, monkeypatch, sandbox_kind):
    """``report --private KEY --html $VENV/boards/board.html``: the private board (0600, which
    keeps out no policy of the user-namespace sandbox) lay in a folder every sandbox binds, and a
    later submission's policy read it. Now the command refuses the path before writing anything,
    naming it, the bound folder and the places that work; the probe then finds nothing. On the old
    code the report was written and the probe (userns) read it."""
    token = secrets.token_hex(6)
    boards = _venv_place(token, "lrgym-test-boards-{token}")
    html = boards / "board.html"
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    key = tmp_path / "grader.key"
    create_key(key)
    db = tmp_path / "store.sqlite"
    ResultStore(db).close()
    path, suite, refs = one_episode_setup(tmp_path, "probe", f"PATHS = {[str(html)]!r}\nWATCH = 0\n"
                                          "SECRET = 'private'\n" + WATCH_PROBE)
    try:
        result = CliRunner().invoke(app, ["leaderboard", "report", "--private", str(key), "--db", str(db), "--html",
                                          str(html), "--no-markdown"], env={"COLUMNS": "400"})
        [outcome] = run_suite([submission_spec(f"{path}:Probe")], suite, references=refs, n_workers=1, time_limit=120)
    finally:
        shutil.rmtree(boards, ignore_errors=True)
    assert probe_facts(outcome) == {str(html): "missing"}, result.output  # the later policy sees no board
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())  # (the usage box wraps the message)
    assert f"{html} would hold a private suite's report in " in output and "$LRGYM_RUNS" in output


# ---- the checks themselves, on a made-up layout (no sandbox) ------------------------------------------


@pytest.fixture
def layout(tmp_path):
    """A venv (imported from: its folder and site-packages) and an ``etc`` bound as a system folder."""
    venv, etc = tmp_path / "venv", tmp_path / "etc"
    (venv / "lib" / "site").mkdir(parents=True)
    (etc / "lrgym").mkdir(parents=True)
    return {"paths": [str(venv), str(etc)], "hidden": [str(venv / "app")],  # a working directory in the venv
            "needed": [str(venv), str(venv / "lib" / "site")]}


def test_a_store_is_refused_where_the_sandbox_covers_it_file_by_file_only(tmp_path, layout):
    venv, etc = tmp_path / "venv", tmp_path / "etc"
    for db in (venv / "lb.sqlite", etc / "lb.sqlite"):  # the venv's own folder (imported), a bound folder itself
        with pytest.raises(ValueError, match=f"the results store {db} lies in {db.parent}, which every sandbox "
                                             f"shows \\(bound from {db.parent}\\) and cannot cover whole"):
            check_store_place(db, **layout)
    for db in (venv / "data" / "lb.sqlite", etc / "lrgym" / "lb.sqlite",  # a folder of its own: covered whole
               venv / "app" / "lb.sqlite",  # a hidden folder (the working directory)
               tmp_path / "elsewhere" / "lb.sqlite", ":memory:"):  # not bound at all; no file
        check_store_place(db, **layout)
    # the journal made later, not only the database: shown in the venv's folder, not in a folder of its own
    assert shown_by(venv / "lb.sqlite-journal", [str(venv / "lb.sqlite")], **layout) == str(venv)
    assert shown_by(venv / "data" / "lb.sqlite-journal", [str(venv / "data" / "lb.sqlite")], **layout) is None


def test_a_store_in_a_venv_inside_a_covered_working_directory_is_refused_beside_it_accepted(tmp_path):
    """Docker's layout: the grader works in ``usr/src/app`` under the bound ``usr``, its venv in
    ``usr/src/app/.venv``. The working directory is covered whole and the venv bound again over
    the cover (host_start.reshown_dirs): a store directly in the venv's folder shows its journal
    to the policy (refused; until 2026-12-07 taken as covered with the working directory), the
    default ``./lrgym_leaderboard.sqlite`` beside the venv stays covered (accepted)."""
    usr = tmp_path / "usr"
    app = usr / "src" / "app"
    (app / ".venv" / "lib" / "site").mkdir(parents=True)
    layout = {"paths": [str(usr)], "hidden": [str(app)],
              "needed": [str(app / ".venv"), str(app / ".venv" / "lib" / "site")]}
    db = app / ".venv" / "lb.sqlite"
    with pytest.raises(ValueError, match=re.escape(f"the results store {db} lies in {db.parent}, which every sandbox "
                                                   f"shows (bound from {usr}) and cannot cover whole")):
        check_store_place(db, **layout)
    check_store_place(app / "lrgym_leaderboard.sqlite", **layout)
    check_store_place(app / ".venv" / "data" / "lb.sqlite", **layout)  # a folder of its own in the venv: covered
    assert shown_by(app / ".venv" / "lb.sqlite-journal", [str(db)], **layout) == str(usr)
    assert shown_by(app / "lrgym_leaderboard.sqlite-journal", [str(app / "lrgym_leaderboard.sqlite")], **layout) is None


def test_a_private_output_is_refused_where_a_later_sandbox_shows_it(tmp_path, layout, monkeypatch):
    venv, etc = tmp_path / "venv", tmp_path / "etc"
    monkeypatch.setenv("LRGYM_RUNS", str(venv / "runs"))
    # a folder of its own does not help here: no later sandbox knows it
    for out, bound in ((venv / "board.html", venv), (venv / "boards" / "board.html", venv),
                       (etc / "lrgym" / "board.html", etc)):
        with pytest.raises(ValueError, match=re.escape(f"{out} would hold a board in {bound}, a folder bound into")):
            check_private_output(out, "a board", **layout)
    for out in (venv / "runs" / "board.html",  # $LRGYM_RUNS: covered in every sandbox
                venv / "app" / "board.html", tmp_path / "elsewhere" / "board.html"):
        check_private_output(out, "a board", **layout)


def test_run_baselines_and_export_refuse_a_private_output_in_a_bound_folder_before_any_work(tmp_path, monkeypatch):
    """The other commands writing a private suite's files: ``run-baselines --private
    --markdown`` (before a baseline runs: its ``--only`` is checked after, so the old code stopped
    at the unknown name) and ``export`` of a store holding a private suite's rows (before a file
    is written)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    token = secrets.token_hex(6)
    folder = _venv_place(token, "lrgym-test-out-{token}")
    key = tmp_path / "grader.key"
    create_key(key)
    suite = private_suite(key)
    db = tmp_path / "store.sqlite"
    with ResultStore(db) as store:
        runs = synthetic_runs(suite, np.full((len(suite.seeds), len(suite.tasks())), 0.5))
        store.add_entry(EntryRecord(name="controller", kind="baseline", suite_version=suite.version, seeds=(),
                                    summary=summarize(runs, suite, reps=50)), runs)
    runner = CliRunner()
    try:
        board = runner.invoke(app, ["leaderboard", "run-baselines", "--private", str(key), "--db", str(db),
                                    "--markdown", str(folder / "LB.md"), "--only", "no-such-baseline"], env={"COLUMNS": "400"})
        export = runner.invoke(app, ["leaderboard", "export", "--private", str(key), "--db", str(db),
                                     "--out", str(folder / "results")], env={"COLUMNS": "400"})
        assert not folder.exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for result, what in ((board, "a private suite's board"), (export, "a private suite's results")):
        assert result.exit_code == 2, result.output
        assert "would hold " + what in " ".join(result.output.split()), result.output
    exported = runner.invoke(app, ["leaderboard", "export", "--private", str(key), "--db", str(db)])
    assert exported.exit_code == 0 and os.path.isdir(tmp_path / "runs"), exported.output  # the default place


def test_submit_refuses_a_store_in_the_venvs_folder_before_making_it(tmp_path, monkeypatch):
    """``submit --db $VENV/lb.sqlite``: refused (exit 2) before the store file is made or any
    reference computed, the message naming the store and a place that works."""
    from lb_helpers import policy

    monkeypatch.chdir(tmp_path)
    db = _venv_place(secrets.token_hex(6), "lrgym-test-store-{token}.sqlite")
    try:
        result = CliRunner().invoke(app, ["leaderboard", "submit", policy("Keep"), "--suite", "quick", "--db", str(db)],
                                    env={"COLUMNS": "400"})
        made = db.exists()
    finally:
        db.unlink(missing_ok=True)
    assert result.exit_code == 2 and not made, result.output
    assert f"the results store {db} lies in" in " ".join(result.output.split()), result.output


def test_a_working_directory_that_is_a_bound_folder_is_refused_one_inside_or_around_it_accepted(tmp_path, monkeypatch):
    """A hidden folder (the working directory, ``$LRGYM_HIDDEN_DIRS``) is covered whole where it
    lies strictly inside a bound folder; one that *is* a bound folder (the venv's own, a
    site-packages, an ``etc`` bound as a system folder) cannot be covered and is refused, named
    as the working directory or as ``$LRGYM_HIDDEN_DIRS``'s."""
    venv, etc, project = tmp_path / "venv", tmp_path / "etc", tmp_path / "project"
    usr = tmp_path / "usr"
    app = usr / "src" / "app"
    for d in (venv / "lib" / "site", etc, project / ".venv" / "lib" / "site", app / ".venv" / "lib" / "site"):
        d.mkdir(parents=True)
    paths = [str(venv), str(etc), str(project / ".venv"), str(usr)]
    needed = [str(venv), str(venv / "lib" / "site"), str(project / ".venv"), str(project / ".venv" / "lib" / "site"),
              str(app / ".venv"), str(app / ".venv" / "lib" / "site")]
    monkeypatch.chdir(venv)
    for hidden, what, bound in (([str(venv)], "the working directory", venv),
                                ([str(tmp_path / "elsewhere"), str(etc)], "the folder of $LRGYM_HIDDEN_DIRS", etc),
                                ([str(project / ".venv")], "the folder of $LRGYM_HIDDEN_DIRS", project / ".venv")):
        with pytest.raises(ValueError, match=re.escape(f"{what} {hidden[-1]} is a folder every sandbox shows (bound from "
                                                       f"{bound}) and cannot cover")):
            check_hidden_dirs(hidden, paths=paths, needed=needed)
    for hidden in ([str(venv / "app")],  # strictly inside the venv: covered whole
                   [str(project)],  # holds the venv (our CI's layout): only the venv is bound, the rest is not there
                   [str(app)],  # Docker's WORKDIR /usr/src/app under /usr: covered, its venv shown again
                   [str(tmp_path / "elsewhere")], ["/"]):
        check_hidden_dirs(hidden, paths=paths, needed=needed)


def test_a_grader_working_in_its_venvs_folder_is_refused_a_policy_read_its_files_there(tmp_path, monkeypatch,
                                                                                        sandbox_kind):
    """The grader run from its venv's own folder (``cd .venv``): that folder is bound into every
    sandbox (the policy imports from it), so, as the working directory, it was covered nowhere and
    a file the grader had made there (an export, a key, the default store's journals) was read by
    the policy. ``run_suite`` now refuses before anything runs, naming the folder and what to do;
    on the old code the probe read the file (the failure below shows what it saw)."""
    token = secrets.token_hex(6)
    secret_file = _venv_place(token, "lrgym-test-secret-{token}.txt")
    secret = f"SECRET-{token}"
    path, suite, refs = one_episode_setup(tmp_path, "probe", f"PATHS = {[str(secret_file)]!r}\nWATCH = 0\n"
                                          f"SECRET = {secret!r}\n" + WATCH_PROBE)
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))  # the grader's outputs elsewhere: only the file below
    monkeypatch.chdir(sys.prefix)
    try:
        secret_file.write_text(secret)
        with pytest.raises(ValueError) as refused:
            [outcome] = run_suite([submission_spec(f"{path}:Probe")], suite, references=refs, n_workers=1,
                                  time_limit=120)
            pytest.fail(f"graded; the policy saw {probe_facts(outcome)}")
    finally:
        secret_file.unlink(missing_ok=True)
    venv = os.path.realpath(sys.prefix)
    assert f"the working directory {venv} is a folder every sandbox shows (bound from {venv})" in str(refused.value)
    assert "run the grader from the project's folder, not from its venv" in str(refused.value)


# ---- the grader's secrets a command does not name: a private key, another store (2026-12-07) ----------


def test_a_private_key_in_a_bound_folder_is_refused_a_public_submits_policy_read_it(tmp_path, monkeypatch,
                                                                                     sandbox_kind):
    """``suites --private $VENV/keys/grader.key``: the key lay in a folder every sandbox binds.
    The commands naming it (``--private``) cover it, but a public suite's ``submit`` knows no key:
    its policy read the key (userns: the grader's uid outside; 0600 keeps out root's sandbox
    only). Now every command taking ``--private`` refuses such a key before it is made or read,
    naming it and the places that work, and the later policy finds no key. On the old code the
    key was made and the probe saw it. A key in a folder of ``$LRGYM_HIDDEN_DIRS`` (covered by
    every command's sandboxes) is accepted, and the public run's policy does not see it."""
    token = secrets.token_hex(6)
    keys = _venv_place(token, "lrgym-test-keys-{token}")
    key = keys / "grader.key"
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    path, suite, refs = one_episode_setup(tmp_path, "probe", f"PATHS = {[str(key), str(keys)]!r}\nWATCH = 0\n"
                                          "SECRET = 'no secret'\n" + WATCH_PROBE)
    runner = CliRunner()
    try:
        made = runner.invoke(app, ["leaderboard", "suites", "--private", str(key)], env={"COLUMNS": "400"})
        [public] = run_suite([submission_spec(f"{path}:Probe")], suite, references=refs, n_workers=1, time_limit=120)
        keys.mkdir(exist_ok=True)  # a key put there by hand: the commands naming it refuse it too
        create_key(key)
        shown = runner.invoke(app, ["leaderboard", "show", "--private", str(key), "--db", str(tmp_path / "lb.sqlite")],
                              env={"COLUMNS": "400"})
        # named in $LRGYM_HIDDEN_DIRS (for every command): accepted, and covered in a public run
        monkeypatch.setenv("LRGYM_HIDDEN_DIRS", str(keys))
        hidden = runner.invoke(app, ["leaderboard", "suites", "--private", str(key)], env={"COLUMNS": "400"})
        [covered] = run_suite([submission_spec(f"{path}:Probe", "probe2")], suite, references=refs, n_workers=1,
                              time_limit=120)
    finally:
        shutil.rmtree(keys, ignore_errors=True)
    assert probe_facts(public) == {str(key): "missing", str(keys): "missing"}, made.output
    for result in (made, shown):
        assert result.exit_code == 2, result.output
        assert f"the private suite's key {key} lies in " in " ".join(result.output.split()), result.output
    assert hidden.exit_code == 0, hidden.output
    assert probe_facts(covered) == {str(key): "missing", str(keys): ["folder", []]}


def test_a_key_is_refused_where_a_sandbox_not_naming_it_shows_it(tmp_path, layout, monkeypatch):
    """The check on a made-up layout: a key (or its ``.references`` beside it) in a bound folder,
    a folder of its own there included (no public run knows that folder), or reached through a
    link from elsewhere, is refused; one in a hidden folder, under ``$LRGYM_RUNS`` or outside
    every bound folder is accepted."""
    from lrgym.leaderboard.grader_places import check_key_place

    venv, etc = tmp_path / "venv", tmp_path / "etc"
    monkeypatch.setenv("LRGYM_RUNS", str(venv / "runs"))
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "elsewhere" / "linked.key"
    link.symlink_to(venv / "keys" / "grader.key")
    for key, bound in ((venv / "grader.key", venv), (venv / "keys" / "grader.key", venv),
                       (etc / "lrgym" / "grader.key", etc), (link, venv)):
        with pytest.raises(ValueError, match=re.escape(f"the private suite's key {key} lies in {bound}, a folder bound")):
            check_key_place(key, **layout)
    for key in (venv / "app" / "grader.key", venv / "runs" / "grader.key", tmp_path / "elsewhere" / "grader.key"):
        check_key_place(key, **layout)


def test_a_store_named_in_lrgym_store_is_covered_in_a_run_writing_another(tmp_path, monkeypatch, sandbox_kind):
    """``$LRGYM_STORE`` names a store in a folder of its own in the venv, and the run writes to
    another (``--db``, ``store=``): the grader knows that store's path, and now every sandbox
    covers its folder as it covers the run's (the probe finds it empty). On the old code the
    probe read the file. One the sandboxes could cover only file by file (directly in the venv's
    folder) is refused before anything runs, as the run's own store would be."""
    token = secrets.token_hex(6)
    folder = _venv_place(token, "lrgym-test-store-{token}")
    named = folder / "other.sqlite"
    secret = f"SECRET-{token}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("LRGYM_STORE", str(named))
    path, suite, refs = one_episode_setup(tmp_path, "probe", f"PATHS = {[str(named), str(folder)]!r}\nWATCH = 0\n"
                                          f"SECRET = {secret!r}\n" + WATCH_PROBE)
    try:
        folder.mkdir()
        named.write_text(secret)  # (what the store holds: a private suite's runs, other submitters' entries)
        [outcome] = run_suite([submission_spec(f"{path}:Probe")], suite, store=tmp_path / "lb.sqlite",
                              references=refs, n_workers=1, time_limit=120)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert probe_facts(outcome) == {str(named): "missing", str(folder): ["folder", []]}
    direct = _venv_place(token, "lrgym-test-store-{token}.sqlite")
    monkeypatch.setenv("LRGYM_STORE", str(direct))
    with pytest.raises(ValueError, match=re.escape(f"the results store {direct} lies in {Path(sys.prefix).resolve()}")):
        run_suite([submission_spec(f"{path}:Probe")], suite, store=tmp_path / "lb.sqlite", references=refs,
                  n_workers=1, time_limit=120)
    assert not direct.exists()


def test_a_grader_working_in_site_packages_is_refused_before_its_policies_lost_their_imports(tmp_path, monkeypatch):
    """The working directory is covered in every sandbox where a bound folder shows it; a
    site-packages strictly inside the venv was covered too, so nothing leaked, but every policy
    saw it empty: one importing a module the policy host had not loaded already (``typer``,
    torch for an SB3 model) failed with ``ModuleNotFoundError``. Binding it again would show the
    grader's files made there, so the run is refused before anything runs, naming the folder; on
    the old code this policy (which imports nothing) was graded."""
    import sysconfig

    from lb_helpers import policy

    site = sysconfig.get_paths()["purelib"]
    suite = tiny_suite_for_places()
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    monkeypatch.chdir(site)
    with pytest.raises(ValueError) as refused:
        [outcome] = run_suite([submission_spec(policy("Keep"))], suite, n_workers=1, time_limit=120)
        pytest.fail(f"graded: ok={outcome.ok}, {outcome.entry.failure_reason!r}")
    assert (f"the working directory {os.path.realpath(site)} is {os.path.realpath(site)}, a folder every policy imports "
            "its modules from") in str(refused.value)


def tiny_suite_for_places():
    from lb_helpers import tiny_suite

    return tiny_suite("places", families=("quadratic",), n_instances=1, seeds=(0,), horizon=3, inner_steps=2)


def test_a_hidden_folder_in_a_library_folder_is_refused_one_beside_it_accepted(tmp_path, layout, monkeypatch):
    """The check on a made-up layout: a working directory (or ``$LRGYM_HIDDEN_DIRS`` folder) that
    is, or lies in, a folder the policy imports its modules from is refused; one in the venv
    beside it is covered whole and accepted."""
    venv = tmp_path / "venv"
    site = venv / "lib" / "site"
    (site / "numpy").mkdir()
    monkeypatch.chdir(site / "numpy")
    layout = {"paths": layout["paths"], "needed": layout["needed"], "libraries": [str(site)]}
    for hidden, what, inside in (([str(site)], "the folder of $LRGYM_HIDDEN_DIRS", ""),
                                 ([str(site / "numpy")], "the working directory", "inside ")):
        with pytest.raises(ValueError, match=re.escape(f"{what} {hidden[0]} is {inside}{site}, a folder every policy "
                                                       "imports its modules from")):
            check_hidden_dirs(hidden, **layout)
    check_hidden_dirs([str(venv / "app")], **layout)
    check_hidden_dirs([str(venv / "lib")], **layout)  # holds the library: covered, the library shown again


def test_run_suite_refuses_a_private_suites_key_in_a_bound_folder_before_anything_is_made(tmp_path, monkeypatch):
    """``run_suite`` called as a library with a private suite (``private_suite(key)``) whose key
    lies in a folder every sandbox binds (here a folder of its own in the venv, which a public
    run knows nothing of): refused as every command taking ``--private`` refuses it, naming the
    key and the bound folder, before the store is made or anything is read or run, for a
    submission and for baselines alone (``run-baselines --private`` refuses it too). Until
    2026-12-07 only the CLI knew the key's path: ``run_suite`` made the store, computed the
    suite's references and graded, and a later public run's policy could read the key."""
    from lb_helpers import policy

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    token = secrets.token_hex(6)
    keys = _venv_place(token, "lrgym-test-keys-{token}")
    key = keys / "grader.key"
    try:
        keys.mkdir()
        create_key(key)  # (made from Python: create_key knows no sandbox)
        suite = private_suite(key, n_instances=1, n_seeds=1).restrict(["quadratic"])  # (old code: seconds to grade)
        venv_before, here_before = sorted(os.listdir(sys.prefix)), _entries(tmp_path)
        refusals = []
        for specs in ([submission_spec(policy("Keep"))], baseline_specs(["fixed"])):
            with pytest.raises(ValueError) as refused:
                run_suite(specs, suite, store=tmp_path / "lb.sqlite", n_workers=1, time_limit=120)
            refusals.append(str(refused.value))
        in_keys, venv_after = sorted(os.listdir(keys)), sorted(os.listdir(sys.prefix))
    finally:
        shutil.rmtree(keys, ignore_errors=True)
    for message in refusals:  # (the folder named: the venv, or the project's folder holding it, imported from)
        bound = re.match(re.escape(f"the private suite's key {key} lies in ") + r"(\S+), a folder bound into every "
                         "sandbox", message)
        assert bound and Path(sys.prefix).resolve().is_relative_to(bound[1]), message
    assert in_keys == ["grader.key"]  # no references folder beside it
    assert _entries(tmp_path) == here_before  # no store, no runs/
    assert venv_after == venv_before


def test_run_suite_covers_a_private_suites_key_and_references_in_every_sandbox(tmp_path, monkeypatch):
    """A private suite's key and ``KEYFILE.references/`` go to the grader pool as grader files
    (every sandbox covers them where its bound folders show them) without the caller naming them
    (``grader_files``, which the CLI's ``--private`` passes): a library caller's run covers them
    as the command's does."""
    from lrgym.leaderboard import backends

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    key = tmp_path / "keys" / "grader.key"
    create_key(key)
    suite = private_suite(key, n_instances=1, n_seeds=1).restrict(["quadratic"])
    given = []

    def grader_pool(backend, workers, **kwargs):
        given.append(kwargs["grader_files"])
        raise RuntimeError("stopped by the test")

    monkeypatch.setattr(backends, "grader_pool", grader_pool)
    with pytest.raises(RuntimeError, match="stopped by the test"):
        run_suite(baseline_specs(["fixed"]), suite, references=object(), n_workers=1)
    [files] = given
    assert str(key) in files and f"{key}.references" in files
