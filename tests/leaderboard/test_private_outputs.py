"""What a private suite leaves on the grader's disk: the references beside the key, and (below)
the reports and exports. Its secrets (instance ids, env seeds, reference LRs and losses) stay
readable by the grader alone (an operator's audit, 2026-12-05)."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from lb_helpers import StubReferences, synthetic_runs
from typer.testing import CliRunner

from lrgym.leaderboard.cli import app

from lrgym.leaderboard.private import create_key, private_reason, private_suite, references_dir
from lrgym.leaderboard.ranking import build_leaderboard
from lrgym.leaderboard.references import References, save_references
from lrgym.leaderboard.runner import summarize
from lrgym.leaderboard.store import EntryRecord, ResultStore


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# ---- the references folder beside the key -------------------------------------------------------


def test_an_open_references_folder_is_refused_not_kept(tmp_path, umask022):
    """``KEYFILE.references/`` that already existed with mode 0755 was kept as it was
    (``mkdir(mode=0o700, exist_ok=True)``), and the references were written 0644 into it."""
    key = tmp_path / "grader.key"
    create_key(key)
    folder = tmp_path / "grader.key.references"
    folder.mkdir()  # 0755 under this umask
    with pytest.raises(ValueError, match=rf"{folder} is open to other users \(mode 0755\): .* chmod 700 {folder}"):
        references_dir(key)
    assert _mode(folder) == 0o755  # refused, not silently changed: the operator judges the exposure
    ResultStore(tmp_path / "r.sqlite").close()
    result = CliRunner().invoke(app, ["leaderboard", "report", "--private", str(key), "--db", str(tmp_path / "r.sqlite"),
                                      "--html", str(tmp_path / "b.html"), "--no-markdown"], env={"COLUMNS": "400"})
    assert result.exit_code == 2 and "open to other users (mode 0755)" in result.output, result.output
    os.chmod(folder, 0o700)
    assert references_dir(key) == folder


def test_the_references_command_says_why_a_private_suite_shows_no_rows(tmp_path, monkeypatch):
    """``references --private`` prints no instance, LR or loss, and says so and where they are
    (it printed the empty table alone)."""
    import lrgym.leaderboard.references as references

    key = tmp_path / "grader.key"
    create_key(key)
    suite = private_suite(key)
    labels = {t.label for t in suite.tasks()}
    monkeypatch.setattr(references, "load_references", lambda s, **kw: References(
        s.version, "fp", {label: {"lr": 0.0123, "initial_loss": [4.56], "final_loss": [0.789]} for label in labels},
        (0,), {}))
    result = CliRunner().invoke(app, ["leaderboard", "references", "--private", str(key)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert f"32 references, not shown (a private suite's answers); kept in {tmp_path / 'grader.key.references'}" in result.output
    assert not any(text in result.output for text in ("0.0123", "4.56", "0.789", *labels))


def test_a_references_folder_is_made_0700_and_a_link_is_refused(tmp_path, umask022):
    key = tmp_path / "grader.key"
    create_key(key)
    assert _mode(references_dir(key)) == 0o700
    other = tmp_path / "other.key"
    create_key(other)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "other.key.references").symlink_to(elsewhere)
    with pytest.raises(ValueError, match=r"other.key.references is a symbolic link, not a folder of your own"):
        references_dir(other)


def test_a_private_suites_references_are_written_owner_only(tmp_path, umask022):
    refs = References("private-0123abcd/r2", "fp", {"quadratic/1099511627776": {"lr": 0.5}}, (7, 9), {})
    path = save_references(refs, tmp_path)
    assert _mode(path) == 0o600
    public = save_references(References("quick/r1", "fp", {}, (0,), {}), tmp_path)
    assert _mode(public) == 0o644  # public references as before


# ---- reports and exports --------------------------------------------------------------------------


@pytest.fixture
def graded(tmp_path, umask022, monkeypatch):
    """A key and a store holding a private suite's board (a baseline "controller", a submission and
    a failed submission), as run-baselines and submit leave them; ``runs/`` under tmp_path."""
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    key = tmp_path / "grader.key"
    create_key(key)
    suite = private_suite(key)
    db = tmp_path / "store.sqlite"
    with ResultStore(db) as store:
        for name, kind, level in (("controller", "baseline", 0.9), ("mine", "submission", 0.7)):
            runs = synthetic_runs(suite, np.full((len(suite.seeds), len(suite.tasks())), level))
            store.add_entry(EntryRecord(name=name, kind=kind, suite_version=suite.version, seeds=(),
                                        summary=summarize(runs, suite, reps=50)), runs)
        store.record_failure("broke", "submission", private_reason("policy raised in act(): boom"),
                             suite_version=suite.version)
    hidden = [str(t.instance) for t in suite.tasks()] + [str(s) for s in suite.seeds] + [key.read_text().strip()]
    return key, db, suite, hidden


def _invoke(*args):
    result = CliRunner().invoke(app, ["leaderboard", *map(str, args)], env={"COLUMNS": "400"})
    return result.exit_code, " ".join(result.output.replace("│", " ").split())


def _said(path, **kwargs) -> str:
    """What ``cli_files.say_wrote`` prints for ``path`` on a piped stdout's console (a log's): whatever the
    test's own stdout is (a terminal under ``pytest -s``)."""
    import io

    from lrgym.leaderboard import cli_files, cli_options

    log = io.StringIO()
    cli_files.say_wrote(path, to=cli_options.make_console(log, file=log), **kwargs)
    return log.getvalue()


def test_a_private_output_left_open_to_others_is_said_to_be(tmp_path):
    """write_output writes an existing file in place when its folder takes no new file, keeping
    its mode: then the line must not claim owner-only."""
    path = tmp_path / "board.html"
    path.write_text("x")
    os.chmod(path, 0o644)
    out = _said(path, private=True)
    assert f"but it stays mode 0644 (an existing file written in place" in out and f"chmod 600 {path}\n" in out
    assert "kept owner-only" not in out
    os.chmod(path, 0o600)
    assert "kept owner-only (mode 0600)\n" in _said(path, private=True)


_WROTE = """
import os, sys
from pathlib import Path
from lrgym.leaderboard import cli_files
for path, mode in zip(sys.argv[1::2], sys.argv[2::2]):
    os.chmod(path, int(mode, 8))
    cli_files.say_wrote(Path(path), private=True)
"""


@pytest.mark.parametrize("columns", [None, "80"])
def test_a_wrote_line_on_a_piped_stdout_is_one_line_whatever_the_paths_length(columns, tmp_path):
    """``report --private ... > log``: the ``wrote PATH ...`` line (and its ``chmod 600 PATH``
    hint) was broken where the console's 200 columns ended (``$COLUMNS`` if set), so its words
    depended on the path's length (``(mode`` and ``0600)`` on two lines with a ``$TMPDIR`` of 30 –
    40 characters) and a path longer than the columns was cut inside itself. Printed by the CLI's
    own console, its stdout a pipe, for paths of up to 300 characters, open to others and not: a
    line each, the path whole in it."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | ({"COLUMNS": columns} if columns else {})
    args, said = [], []
    for length in (60, 100, 190, 300):
        for mode, end in (("644", "chmod 600 {}"), ("600", "kept owner-only (mode 0600)")):
            folder = tmp_path / f"{length}-{mode}"
            path = folder / ("d" * max(1, length - len(str(folder)) - len("//board.html"))) / "board.html"
            path.parent.mkdir(parents=True)
            path.write_text("x")
            args += [str(path), mode]
            said.append((f"wrote {path}; it holds the private suite's details", end.format(path)))
    out = subprocess.run([sys.executable, "-c", _WROTE, *args], capture_output=True, text=True, env=env,
                         timeout=120, check=True).stdout
    lines = out.splitlines()
    assert len(lines) == len(said), out
    for line, (start, end) in zip(lines, said):
        assert line.startswith(start) and line.endswith(end), line


def test_a_private_report_is_written_owner_only_and_says_so(graded, tmp_path):
    """``report --private`` wrote its HTML (and Markdown) 0644 under any umask: the page names the
    hidden instances' curves; the Markdown, which is published, must hold none of the secrets."""
    key, db, suite, hidden = graded
    html, board = tmp_path / "board.html", tmp_path / "board.md"
    code, out = _invoke("report", "--private", key, "--db", db, "--html", html, "--markdown", board)
    assert code == 0, out
    assert _mode(html) == _mode(board) == 0o600
    assert f"wrote {html} (2 entries); it holds the private suite's details" in out and "owner-only (mode 0600)" in out
    assert f"wrote {board}; no hidden instance, seed or reference in it (fit to publish)" in out
    text = board.read_text()
    assert "mine" in text and "broke" in text and suite.name in text
    assert not [h for h in hidden if h in text]  # no instance id, env seed or the key


def test_a_private_boards_footer_names_the_command_that_makes_it(graded, tmp_path):
    """The footer of ``report --private``'s Markdown read "Generated by `lrgym leaderboard
    report`" (or with ``--suite X``), a command that does not make the private board;
    ``run-baselines`` wrote ``--private KEYFILE``. Neither names the grader's key path."""
    key, db, suite, _ = graded
    board = tmp_path / "board.md"
    for extra in ((), ("--suite", "quick")):  # --private overrides --suite, in the footer too
        code, out = _invoke("report", "--private", key, *extra, "--db", db, "--no-html", "--markdown", board)
        assert code == 0, out
        footer = board.read_text().rstrip().splitlines()[-1]
        assert footer.startswith("Generated by `lrgym leaderboard report --private KEYFILE` (")
        assert str(tmp_path) not in board.read_text()


def test_report_no_html_writes_only_the_markdown(graded, tmp_path):
    """There was no ``--no-html``: publishing the Markdown of a private suite always also wrote
    ``runs/leaderboard-private-<id>.html``, which names a hidden env seed."""
    key, db, suite, _ = graded
    code, out = _invoke("report", "--private", key, "--db", db, "--no-html")
    assert code == 0, out
    runs = tmp_path / "runs"
    assert sorted(p.name for p in runs.iterdir()) == [f"LEADERBOARD-{suite.name}.md"]
    assert _mode(runs / f"LEADERBOARD-{suite.name}.md") == 0o600
    code, out = _invoke("report", "--private", key, "--db", db, "--no-html", "--html", tmp_path / "x.html")
    assert code == 2 and "--html" in out and "--no-html both given; valid: one of them" in out
    code, out = _invoke("report", "--private", key, "--db", db, "--no-html", "--no-markdown")
    assert code == 2 and "nothing to write" in out
    code, out = _invoke("report", "--private", key, "--db", db, "--no-html", "--entry", "mine")
    assert code == 2 and "--entry mine draws entries in the HTML report's plots" in out


def test_a_private_pages_captions_and_legends_name_no_instance_or_seed(graded):
    """The controller figure's caption named the suite's first env seed and its legend the hidden
    instance ids; a private suite's now say "the suite's first env seed" and "1 of 8"."""
    from lrgym.leaderboard.report import controller_figure, html_page

    key, db, suite, hidden = graded
    with ResultStore(db) as store:
        lb = build_leaderboard(store, suite, reps=50)
    page = html_page(lb, references=StubReferences(), top=2)
    assert "The learned controller against the best constant LR" in page and "the suite's first env seed" in page
    assert not [h for h in hidden if h in page]
    fig = controller_figure(lb, StubReferences())
    labels = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
    assert labels[:3] == ["1 of 8", "2 of 8", "3 of 8"] and not [h for h in hidden if h in " ".join(labels)]


def test_a_private_export_is_written_owner_only(graded, tmp_path):
    key, db, suite, hidden = graded
    out = tmp_path / "private.json"
    code, text = _invoke("export", "--private", key, "--db", db, "--format", "json", "--out", out)
    assert code == 0, text
    assert _mode(out) == 0o600 and "kept owner-only (mode 0600)" in text
    assert str(suite.tasks()[0].instance) in out.read_text()  # why: it names the hidden instances
    code, text = _invoke("export", "--private", key, "--db", db, "--out", tmp_path / "csv")
    assert code == 0 and {_mode(p) for p in (tmp_path / "csv").iterdir()} == {0o600}
    code, text = _invoke("export", "--all", "--db", db, "--format", "json", "--out", tmp_path / "all.json")
    assert code == 0 and _mode(tmp_path / "all.json") == 0o600  # every entry: the private ones too
    with ResultStore(db) as store:  # a store with no private suite's entries: as before
        store.add_entry(EntryRecord(name="q", kind="baseline", suite_version="quick/r1"), [])
    code, text = _invoke("export", "--suite", "quick", "--db", db, "--format", "json", "--out", tmp_path / "q.json")
    assert code == 0 and _mode(tmp_path / "q.json") == 0o644 and "owner-only" not in text


def test_a_private_export_has_its_own_default_path(graded, tmp_path):
    """``export --private KEY`` wrote runs/results.json (runs/results/), the public export's path,
    replacing it; boards had -<suite> in their names, exports did not."""
    key, db, suite, _ = graded
    runs = tmp_path / "runs"
    runs.mkdir()
    public = runs / "results.json"
    public.write_text("the public export\n")
    for fmt in ("json", "csv"):
        code, out = _invoke("export", "--private", key, "--db", db, "--format", fmt)
        assert code == 0, out
    assert public.read_text() == "the public export\n"
    assert (runs / f"results-{suite.name}.json").is_file() and (runs / f"results-{suite.name}" / "runs.csv").is_file()
    code, out = _invoke("export", "--all", "--db", db, "--format", "json")  # every suite: a name of its own
    assert code == 0 and (runs / "results-all.json").is_file() and public.read_text() == "the public export\n"


def test_an_earlier_keys_results_export_by_their_stored_version(graded, tmp_path):
    """After a key rotation the old suite's results were reachable only through ``export --all``:
    ``export --suite private-<old>/r2`` was refused. The store has the entries; no key is needed."""
    key, db, suite, _ = graded
    key.unlink()  # rotated away
    code, out = _invoke("export", "--suite", suite.version, "--db", db, "--format", "json")
    assert code == 0, out
    path = tmp_path / "runs" / f"results-{suite.name}-r{suite.revision}.json"
    data = json.loads(path.read_text())
    assert {e["name"] for e in data["entries"]} == {"controller", "mine"} and len(data["runs"]) == 2 * suite.n_runs
    assert _mode(path) == 0o600 and "owner-only" in out
    code, out = _invoke("export", "--suite", "private-00000000/r2", "--db", db)
    assert code == 2 and "no entries of suite version 'private-00000000/r2'" in out and suite.version in out


def test_a_board_shows_a_failure_stored_before_kinds_only_as_its_kind(graded, tmp_path):
    """A submission's failure stored before the grader recorded only its kind (b2a4973) kept the
    policy's words, and every later report published them (an operator's audit: "Failed" rows
    relayed the hidden instances' losses). A private board shows the kind; the store keeps the words."""
    key, db, suite, _ = graded
    payload = ("the policy's process reported: policy raised in act() at step 2 (mlp, episode 1 of 8 of the job): "
               "RuntimeError: WALK [{'instance': 1515308535306408220, 'loss': 1.40140793}]")
    from lrgym.leaderboard.private import PRIVATE_REASON_NOTE

    with ResultStore(db) as store:
        store.record_failure("walk-2", "submission", payload, suite_version=suite.version)
        # a final review: words that merely end like a kind (the note is public) were shown as they were
        store.record_failure("walk-3", "submission", payload + PRIVATE_REASON_NOTE, suite_version=suite.version)
        lb = build_leaderboard(store, suite, reps=50)
    for name in ("walk-2", "walk-3"):
        [walk] = [f for f in lb.failures if f.name == name]
        assert walk.failure_reason == "the policy raised an exception in act()" + PRIVATE_REASON_NOTE
    board = tmp_path / "board.md"
    code, out = _invoke("report", "--private", key, "--db", db, "--no-html", "--markdown", board)
    assert code == 0 and "walk-2" in board.read_text() and "1515308535306408220" not in board.read_text()
    code, out = _invoke("show", "--private", key, "--db", db)
    assert code == 0 and "walk-2" in out and "WALK" not in out and "1.4014" not in out


class _References:
    """References whose initial loss of every run is ``l0`` (what ``runner_entries._validate`` reads)."""

    def __init__(self, l0):
        self.l0 = l0

    def initial_loss(self, task, seed):
        return self.l0


@pytest.mark.parametrize("first_loss, length", [(0.5731, None), (None, 3)])
def test_a_baselines_failure_is_shown_by_its_kind_on_a_private_board(graded, tmp_path, first_loss, length):
    """A baseline's reason is the grader's own, but the grader's check of its runs names the task,
    seed and losses of the run that failed (``initial loss 0.57… on linreg/4548039995220109115
    seed 1955951904 differs from the references' …``), and every board published it under
    "Failed", in the Markdown ``report`` calls fit to publish (an audit, 2026-12-06)."""
    from lrgym.leaderboard.private import BASELINE_REASON_NOTE
    from lrgym.leaderboard.runner_entries import _horizon, _validate

    key, db, suite, hidden = graded
    task, seeds = suite.tasks()[3], list(suite.seeds)
    n = length or _horizon(suite, task.family)
    refs = _References(0.5724944156156873)

    def traj(seed):
        losses = [first_loss or refs.l0] + [0.1] * n
        return {"family": task.family, "instance": task.instance, "seed": seed, "lrs": [0.1] * n,
                "train_losses": losses, "val_losses": losses, "val_metrics": [0.0] * (n + 1), "diverged": False}

    reason = _validate([traj(s) for s in seeds], task, seeds, suite, refs)  # the grader's words
    assert str(task.instance) in reason and str(seeds[0]) in reason
    with ResultStore(db) as store:
        store.record_failure("fixed", "baseline", reason, suite_version=suite.version)
    board = tmp_path / "board.md"
    code, out = _invoke("report", "--private", key, "--db", db, "--no-html", "--markdown", board)
    assert code == 0, out
    code, shown = _invoke("show", "--private", key, "--db", db)
    assert code == 0, shown
    kind = "the runs did not match the suite"
    for text in (board.read_text(), shown):
        assert "fixed" in text
        assert not [h for h in hidden if h in text] and "0.5724944156" not in text and "0.5731" not in text
        assert kind in text
    assert " ".join(BASELINE_REASON_NOTE.split()) in shown
    with ResultStore(db) as store:  # the store keeps the grader's words for the operator
        assert [e.failure_reason for e in store.entries(suite.version, status="failed") if e.name == "fixed"] == [reason]


def test_a_private_suite_asked_for_by_its_name_says_to_give_its_key(graded):
    """``show --suite private-<id>/r2`` (the name every board and export of it gives) said only
    "unknown suite ...; valid choices: v2, v1, val, quick, or a suite file": a private suite is
    shown with its key, and without it its results are exported by their stored version."""
    key, db, suite, _ = graded
    for name in (suite.version, suite.name):
        code, out = _invoke("show", "--suite", name, "--db", db)
        assert code == 2 and f"unknown suite '{name}'" in out
        assert "--private KEYFILE" in out and f"export --suite {suite.version}" in out
    code, out = _invoke("export", "--suite", suite.version, "--db", db, "--format", "csv")  # as it says
    assert code == 0, out


@pytest.mark.parametrize("setting, kind", [("off", "root"), ("auto", "none")])
def test_a_private_submission_is_graded_only_in_namespaces(graded, monkeypatch, setting, kind):
    """Without namespaces (LRGYM_SANDBOX=off, or auto where unshare is not permitted, which went
    on with a warning) a policy is the grader's user: an audit's (2026-12-06) found --private
    KEYFILE in the grader's /proc/<pid>/cmdline, read KEYFILE.references/ and acted at every hidden
    run's reference LR: family IQM 1.000. submit --private refuses before anything runs."""
    from lrgym.leaderboard import cli, cli_grading, sandbox

    key, db, suite, _ = graded
    ran = []
    monkeypatch.setattr(cli_grading, "_run", lambda *a, **k: ran.append(a) or pytest.fail("graded without namespaces"))
    monkeypatch.setenv("LRGYM_SANDBOX", setting)
    monkeypatch.setattr(sandbox, "mode", lambda: {"kind": kind, "uid_drop": False, "note": ""})
    example = os.path.join(os.path.dirname(cli.__file__), "submissions", "example_policy.py")
    code, out = _invoke("submit", f"{example}:LossWatcher", "--private", key, "--db", db)
    assert code == 2 and not ran, out
    assert "graded only in the namespaces sandbox" in out and "KEYFILE.references/" in out
    assert ("LRGYM_SANDBOX=off" if setting == "off" else "unshare is missing or not permitted") in out


def test_a_private_suite_run_from_python_without_namespaces_runs_nothing(graded, monkeypatch):
    """``run_suite`` called directly (no CLI) graded a private suite's submission without namespaces,
    where the policy reads the hidden suite's answers: it is the grader's error before any job."""
    from lrgym.leaderboard import runner, sandbox

    key, db, suite, _ = graded
    monkeypatch.setattr(sandbox, "mode", lambda: {"kind": "none", "uid_drop": False, "note": "no namespaces"})
    monkeypatch.setattr(runner, "load_references", lambda *a, **k: pytest.fail("went on to the references"))
    example = os.path.join(os.path.dirname(runner.__file__), "submissions", "example_policy.py")
    spec = runner.submission_spec(f"{example}:LossWatcher")
    with pytest.raises(ValueError, match=r"graded only in the namespaces sandbox \(no namespaces on this machine"):
        runner.run_suite([spec], suite, n_workers=1)
    monkeypatch.setenv("LRGYM_SANDBOX", "off")  # a Ray driver judges the setting alone
    with pytest.raises(ValueError, match=r"graded only in the namespaces sandbox \(LRGYM_SANDBOX=off\)"):
        runner.run_suite([spec], suite, n_workers=1, backend="ray")


def test_a_private_suites_job_starts_no_sandbox_without_namespaces(monkeypatch):
    """Each Ray node (and any worker) judges its own sandbox: a private suite's submission job
    (``hidden``) on a node whose ``auto`` fell back to no namespaces fails with why, before its
    policy process starts; a public suite's job there, or a sandboxed baseline's, still runs."""
    from lrgym.leaderboard import sandbox, worker

    monkeypatch.setattr(sandbox, "mode", lambda: {"kind": "none", "uid_drop": False, "note": "no namespaces"})
    started = []
    monkeypatch.setattr(sandbox, "PolicyProcess", lambda limits: started.append(limits) or pytest.fail("started"))
    limits = {"memory_mb": 1024.0}
    with pytest.raises(worker.PolicyError, match="graded only in the namespaces sandbox"):
        worker._SandboxChannel({"kind": "object"}, {}, limits, namespaces_only=True)
    assert started == []
    with pytest.raises(sandbox.SandboxError, match="graded only in the namespaces sandbox"):
        sandbox.start(sandbox.Limits(), namespaces_only=True)
    monkeypatch.setattr(sandbox, "become_subreaper", lambda: None)
    with pytest.raises(pytest.fail.Exception):  # without the flag it goes on to start the process
        sandbox.start(sandbox.Limits())
    assert len(started) == 1
    seen = []
    monkeypatch.setattr(worker, "_SandboxChannel", lambda *a, **k: seen.append(k["namespaces_only"]) or object())
    monkeypatch.setattr(worker, "policy_files", lambda spec, family: (spec, {}, "sha"))
    state = worker._State()
    for spec, hidden in (({"kind": "object", "target": "a.py:P"}, True), ({"kind": "object", "target": "b.py:P"}, False),
                         ({"kind": "baseline", "name": "fixed"}, True)):
        state.channel(spec, limits, "linreg", hidden)
    assert seen == [True, False, False]


def test_a_broken_suite_file_named_private_is_not_taken_for_a_private_suite(tmp_path, monkeypatch):
    """A suite file whose path starts with "private-" is a suite file: its error said it was a
    private suite, named by its key, whose results ``export --suite private-mine.json/r2`` gives."""
    path = tmp_path / "private-mine.json"
    path.write_text('{"name": "x"')
    monkeypatch.chdir(tmp_path)
    code, out = _invoke("show", "--suite", path.name, "--db", tmp_path / "s.sqlite")
    assert code == 2 and "not JSON" in out
    assert "--private KEYFILE" not in out and "export --suite" not in out


@pytest.mark.parametrize("command", ["submit", "run-baselines"])
def test_the_key_and_its_references_go_to_the_grading_as_grader_files(graded, monkeypatch, command):
    """``--private KEYFILE`` hands the key and its references folder to ``run_suite`` as grader
    files, which every sandbox covers where its bound folders show them (the store's own files
    run_suite adds itself: tests/leaderboard/test_sandbox.py grades a probe against both). A
    red-team submission read a key kept in the venv through the user-namespace sandbox
    (2026-12-06)."""
    from lrgym.leaderboard import cli, cli_grading, runner

    key, db, _, _ = graded
    given = []

    def run_suite(specs, suite, **kwargs):
        given.append(kwargs.get("grader_files"))
        raise ValueError("stopped by the test")

    monkeypatch.setattr(cli_grading, "_references", lambda *a, **k: None)
    monkeypatch.setattr(runner, "run_suite", run_suite)
    example = os.path.join(os.path.dirname(cli.__file__), "submissions", "example_policy.py")
    args = (f"{example}:LossWatcher",) if command == "submit" else ("--only", "fixed", "--no-markdown")
    code, out = _invoke(command, *args, "--private", key, "--db", db)
    assert code == 2 and "stopped by the test" in out, out
    assert [list(map(str, files)) for files in given] == [[str(key), str(references_dir(key))]]
