"""The ``lrgym`` command's plumbing (the full flow is in test_e2e.py)."""

import subprocess
import sys

import pytest

typer_testing = pytest.importorskip("typer.testing")

from lrgym.leaderboard.cli import app  # noqa: E402


def _invoke(*args):
    result = typer_testing.CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_entry_point_lists_the_subcommands():
    out = subprocess.run([sys.executable, "-m", "lrgym.leaderboard.entry", "leaderboard", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for cmd in ("run-baselines", "submit", "show", "report", "references", "suites", "controller-ablation"):
        assert cmd in out


def test_version_names_the_installed_distribution_and_the_code_the_nodes_compare():
    """``lrgym --version`` (a cluster's machines must run the same lrgym: README "Running on a
    cluster"; until 2026-12-07 it was "No such option: --version") prints the version pip
    installed, read from the distribution's metadata, not from lrgym's own constant, and the code
    hash a Ray run compares between its driver and each node; it exits 0 and runs no command."""
    from importlib.metadata import version

    from lrgym.baselines.node_check import code_hash

    done = subprocess.run([sys.executable, "-m", "lrgym.leaderboard.entry", "--version"], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"lrgym {version('lrgym')} (code {code_hash()})\n", "")
    code, out = _invoke("--version", "leaderboard", "show", "--suite", "nope")  # eager: the command is not parsed
    assert (code, out) == (0, f"lrgym {version('lrgym')} (code {code_hash()})\n")


def test_suites_table():
    code, out = _invoke("leaderboard", "suites")
    assert code == 0
    assert "v2/r3" in out and "v1/r1" in out and "quick/r1" in out and "val/r1" in out
    assert "v2 (default)" in out


def test_read_commands_without_a_store(tmp_path):
    db = tmp_path / "missing.sqlite"
    for cmd in ("show", "report"):
        code, out = _invoke("leaderboard", cmd, "--db", str(db))
        assert code == 1 and "no results" in out
    assert not db.exists()  # reading never creates a store


def test_bad_arguments(tmp_path):
    code, out = _invoke("leaderboard", "submit", "not-a-target", "--db", str(tmp_path / "r.sqlite"))
    assert code == 2 and "expected path/to/policy.py:ClassName" in out
    code, out = _invoke("leaderboard", "show", "--suite", "v0", "--db", str(tmp_path / "r.sqlite"))
    assert code == 2 and "unknown suite" in out


@pytest.mark.parametrize("command", ["run-baselines", "submit", "references"])
def test_help_shows_the_ray_extra_literally(command):
    """Help text is rich markup: an unescaped ``[ray]`` is taken for a style tag and vanishes,
    which told users to ``pip install "lrgym"`` for the ray backend."""
    code, out = _invoke("leaderboard", command, "--help")
    assert code == 0
    assert 'pip install "lrgym[ray]"' in " ".join(out.replace("│", " ").split())


def test_the_shipped_board_is_written_only_when_asked(tmp_path, monkeypatch):
    """run-baselines and report write runs/LEADERBOARD.md; --ship, and only it, the checkout's
    LEADERBOARD.md, for the default suite, and never together with --markdown / --no-markdown."""
    from pathlib import Path

    from lrgym.leaderboard import cli_files
    from lrgym.leaderboard.suite import get_suite

    root = Path(__file__).resolve().parents[2]
    v2, quick = get_suite("v2"), get_suite("quick")
    assert cli_files.board_path(None, False, True, v2) == root / "LEADERBOARD.md"
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "out"))
    assert cli_files.board_path(None, False, False, v2) == tmp_path / "out" / "LEADERBOARD.md"
    # another suite's board has a file of its own: a quick run never replaces the default suite's
    assert cli_files.board_path(None, False, False, quick) == tmp_path / "out" / "LEADERBOARD-quick.md"
    assert cli_files.board_path(tmp_path / "b.md", False, False, quick) == tmp_path / "b.md"
    assert cli_files.board_path(None, True, False, v2) is None
    db = str(tmp_path / "missing.sqlite")
    for command in ("run-baselines", "report"):
        code, out = _invoke("leaderboard", command, "--ship", "--markdown", "x.md", "--db", db)
        assert code == 2 and "--markdown x.md and --ship both given" in " ".join(out.split()), out
        code, out = _invoke("leaderboard", command, "--ship", "--suite", "quick", "--db", db)
        assert code == 2 and "default suite 'v2' only" in " ".join(out.split()), out
    monkeypatch.setattr(cli_files, "SHIPPED_BOARD", tmp_path / "site-packages" / "lrgym" / "LEADERBOARD.md")
    code, out = _invoke("leaderboard", "report", "--ship", "--db", db)
    assert code == 2 and "not a source checkout" in " ".join(out.split()), out
    assert not (tmp_path / "out").exists() and not Path(db).exists()  # a refused command writes nothing


def test_the_python_api_defaults_to_the_cli_suite():
    """``run_suite(specs)`` and ``load_results()`` grade and read the suite the commands default
    to (both once defaulted to v1 after the board moved to v2)."""
    import inspect

    from lrgym.leaderboard import cli
    from lrgym.leaderboard.export import load_results
    from lrgym.leaderboard.runner import run_suite
    from lrgym.leaderboard.suite import DEFAULT_SUITE

    assert cli.SuiteOpt.default == DEFAULT_SUITE
    for function in (run_suite, load_results):
        assert inspect.signature(function).parameters["suite"].default == DEFAULT_SUITE, function.__name__


def test_contradicting_or_out_of_range_options_stop_before_anything_runs(tmp_path):
    db = tmp_path / "r.sqlite"
    code, out = _invoke("leaderboard", "run-baselines", "--only", "dqn", "--no-learned", "--suite", "quick",
                        "--db", str(db))
    assert code == 2 and "--only dqn names the baselines to run; --no-learned would drop" in " ".join(out.split()), out
    code, out = _invoke("leaderboard", "report", "--top", "-3", "--db", str(db))
    assert code == 2 and "--top" in out and "'-3' invalid; valid: a whole number >= 1" in " ".join(out.split()), out
    code, out = _invoke("leaderboard", "run-baselines", "--only", "cosin", "--suite", "quick", "--db", str(db))
    flat = " ".join(out.replace("│", " ").split())  # an audit: a bare "error:" line, unlike every other bad value
    assert code == 2 and "Invalid value for --only: unknown baseline(s) ['cosin']; valid choices: fixed" in flat, out
    assert not db.exists()


@pytest.mark.parametrize("args, valid", [
    (("run-baselines", "--workers"), 1), (("run-baselines", "-j"), 1), (("submit", "x.py:A", "--workers"), 1),
    (("controller-ablation", "--workers"), 1), (("references", "--workers"), 1), (("report", "--top"), 1),
    (("report", "--submissions"), 0)])
@pytest.mark.parametrize("value", ["-1", "nan", "", "1.5", "inf", "below"])
def test_a_bad_whole_number_option_names_the_value_and_the_valid_ones(tmp_path, args, valid, value):
    """typer's own errors named neither: ``Input should be greater than or equal to 1`` (--workers
    -1), ``Input should be a valid integer, unable to parse string as an integer`` (--top nan)."""
    db = tmp_path / "r.sqlite"
    value = str(valid - 1) if value == "below" else value
    store = [] if args[0] == "references" else ["--db", str(db)]  # (references reads no store)
    code, out = _invoke("leaderboard", *args, value, *store)
    flat = " ".join(out.replace("│", " ").split())
    assert code == 2 and args[-1] in flat and f"{value!r} invalid; valid: a whole number >= {valid}" in flat, out
    assert not db.exists()


@pytest.mark.parametrize("command", ["run-baselines", "report"])
def test_markdown_and_no_markdown_together_stop_before_anything_runs(command, tmp_path):
    """``--markdown PATH --no-markdown`` contradict each other: refused naming both (``--no-markdown``
    silently won, and the file asked for was not written)."""
    db, md = tmp_path / "r.sqlite", tmp_path / "board.md"
    code, out = _invoke("leaderboard", command, "--suite", "quick", "--db", str(db), "--markdown", str(md),
                        "--no-markdown", *(["--only", "fixed"] if command == "run-baselines" else []))
    flat = " ".join(out.replace("│", " ").split())
    assert code == 2 and f"--markdown {md} and --no-markdown both given; valid: one of them" in flat, out
    assert not db.exists() and not md.exists()


def test_references_names_every_suite_it_takes(tmp_path, monkeypatch):
    """``references --suite`` takes a suite name or ``all`` (its help says so); a bad name's error
    lists them all, ``all`` included (it listed the suites only), and ``all`` asks for every
    suite of the registry (the reference), each once."""
    import lrgym.leaderboard.references as refs_module
    from lrgym.leaderboard.suite import SUITES

    code, out = _invoke("leaderboard", "references", "--suite", "al")
    flat = " ".join(out.replace("│", " ").split())
    assert code == 2 and "unknown suite 'al'; valid choices: " + ", ".join(SUITES) + ", all" in flat, out
    asked = []

    class FakeReferences:  # where the references would be computed: the suites asked for are the point
        def __init__(self, suite):
            self.tasks = {t.label: {"lr": 0.1, "initial_loss": [1.0], "final_loss": [0.5], "lr_range": [1e-6, 10.0],
                                    "bracketed": True} for t in suite.tasks()}

    def fake_load(suite, **kwargs):
        asked.append(suite.name)
        return FakeReferences(suite)

    monkeypatch.setattr(refs_module, "load_references", fake_load)
    for name in [*SUITES, "all"]:
        asked.clear()
        result = typer_testing.CliRunner().invoke(app, ["leaderboard", "references", "--suite", name])
        assert result.exit_code == 0, (name, result.output)
        assert asked == (list(SUITES) if name == "all" else [name])


def test_export_csv_to_a_file_is_named(tmp_path):
    """csv writes a folder of three files: an ``--out`` that is a file was a FileExistsError
    traceback; now the error names the path and the valid forms, and the file is left as it was."""
    from lrgym.leaderboard.store import ResultStore

    db = tmp_path / "r.sqlite"
    ResultStore(db).close()
    out = tmp_path / "taken"
    out.write_text("mine")
    code, text = _invoke("leaderboard", "export", "--format", "csv", "--out", str(out), "--db", str(db))
    flat = " ".join(text.replace("│", " ").split())
    assert code == 2, text
    assert f"{out} is a file, and csv writes" in flat
    assert out.read_text() == "mine"


@pytest.mark.parametrize("fmt, written", [("json", ["results.json"]),
                                          ("csv", ["entries.csv", "runs.csv", "trajectories.csv"])])
def test_export_into_an_existing_folder(fmt, written, tmp_path):
    """An existing folder as ``--out``: json writes ``results.json`` inside it (as every command
    sharing lrgym.baselines.outputs does; it was refused), csv its three files right in it (the
    folder is csv's output itself, not a place for a ``results`` folder)."""
    from lrgym.leaderboard.store import ResultStore

    db = tmp_path / "r.sqlite"
    ResultStore(db).close()
    out = tmp_path / "mine"
    out.mkdir()
    code, text = _invoke("leaderboard", "export", "--format", fmt, "--out", str(out), "--db", str(db))
    assert code == 0, text
    assert sorted(p.name for p in out.iterdir()) == written
    assert str(out / written[0]) in " ".join(text.split())


@pytest.mark.parametrize("args, name", [(["run-baselines", "--only", "fixed", "--markdown"], "LEADERBOARD-quick.md"),
                                        (["report", "--markdown"], "LEADERBOARD-quick.md"),
                                        (["report", "--no-markdown", "--html"], "leaderboard-quick.html")])
def test_a_folder_whose_file_is_a_folder_stops_before_anything_runs(args, name, tmp_path):
    """``--markdown DIR`` / ``--html DIR`` go to the file of the default name inside DIR; where
    that is a folder too, it was an IsADirectoryError after the work (a whole run-baselines, or
    the HTML page already written beside a failing Markdown one); it is refused first, naming the
    path, and no store is made."""
    folder = tmp_path / "a-folder"
    (folder / name).mkdir(parents=True)
    db = tmp_path / "r.sqlite"
    hint = args[-1]
    code, out = _invoke("leaderboard", *args, str(folder), "--suite", "quick", "--db", str(db))
    flat = " ".join(out.replace("│", " ").split())
    assert code == 2 and f"{folder / name} is a folder; valid: a file path" in flat and hint in flat, out
    assert not db.exists() and list(folder.iterdir()) == [folder / name]


def test_report_writes_inside_an_existing_folder(tmp_path):
    """``report --markdown DIR --html DIR``: both files, under their default names, inside DIR
    (it was refused as a folder)."""
    from lrgym.leaderboard.store import ResultStore

    db = tmp_path / "r.sqlite"
    ResultStore(db).close()
    folder = tmp_path / "site"
    folder.mkdir()
    code, out = _invoke("leaderboard", "report", "--suite", "quick", "--db", str(db),
                        "--markdown", str(folder), "--html", str(folder))
    assert code == 0, out
    assert sorted(p.name for p in folder.iterdir()) == ["LEADERBOARD-quick.md", "leaderboard-quick.html"]


def test_report_blames_entry_only_for_a_bad_entry_name(tmp_path, monkeypatch):
    """Any ValueError of the HTML page was said as "Invalid value for --entry" (exit 2), though
    --entry was not given: a board of 67 submissions made matplotlib refuse a figure, and the
    operator was told of a bad --entry. Only a name not on the board is a bad --entry now."""
    from lrgym.leaderboard import report
    from lrgym.leaderboard.store import ResultStore

    db = tmp_path / "r.sqlite"
    ResultStore(db).close()
    args = ("leaderboard", "report", "--suite", "quick", "--db", str(db), "--html", str(tmp_path / "b.html"),
            "--no-markdown")

    def failing_page(*args, **kwargs):
        raise ValueError("a figure matplotlib refused")

    with monkeypatch.context() as patch:
        patch.setattr(report, "html_page", failing_page)
        result = typer_testing.CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert "--entry" not in result.output
    assert isinstance(result.exception, ValueError) and "matplotlib refused" in str(result.exception)
    code, out = _invoke(*args, "--entry", "nope")  # (also on an empty board, where no plot checked it)
    assert code == 2 and "--entry" in out and "'nope' is not on the quick/r1 board" in " ".join(out.split())


@pytest.mark.parametrize("command", [["show"], ["export"], ["run-baselines", "--only", "fixed"]])
@pytest.mark.parametrize("kind", ["folder", "not-sqlite"])
def test_a_db_sqlite_cannot_use_is_named(command, kind, tmp_path):
    """``--db`` at a folder or at a file that is no SQLite database was an OperationalError /
    DatabaseError traceback; now the error names the path and SQLite's reason, nothing runs, and a
    foreign file is left as it was."""
    import sqlite3

    db = tmp_path / "results"
    if kind == "folder":
        db.mkdir()
    else:
        db.write_text("not a database, and mine\\n" * 100)
    with pytest.raises(sqlite3.DatabaseError) as sqlite_says:  # the reference: SQLite's own verdict
        sqlite3.connect(str(db)).execute("PRAGMA schema_version").fetchall()
    code, out = _invoke("leaderboard", *command, "--suite", "quick", "--db", str(db))
    flat = " ".join(out.replace("│", " ").split())
    assert code == 2, out
    assert f"{db}: {sqlite_says.value}; valid: an lrgym results store" in flat
    if kind != "folder":
        assert db.read_text() == "not a database, and mine\\n" * 100


def test_outputs_refuse_every_shipped_file_and_only_those(tmp_path, monkeypatch):
    """``report --markdown baselines/tuned.json`` wrote over the shipped tuned values (only the
    board was checked), ``$LRGYM_RUNS`` set to the checkout's top put the default board on the
    shipped LEADERBOARD.md; and ``--html leaderboard.html`` (nothing ships it) was refused as "the
    shipped leaderboard.html", offering a ``--ship`` that ``--html`` does not have."""
    from pathlib import Path

    from lrgym.baselines.outputs import SHIPPED_TUNED
    from lrgym.leaderboard.cli import SHIPPED_BOARD
    from lrgym.leaderboard.references import SHIPPED_DIR

    db = str(tmp_path / "missing.sqlite")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LRGYM_RUNS", raising=False)
    for args, hit in ((["--markdown", str(SHIPPED_TUNED)], "tuned.json"),
                      (["--markdown", str(SHIPPED_DIR / "v2-r3.json")], "v2-r3.json"),
                      (["--no-markdown", "--html", str(SHIPPED_BOARD)], "LEADERBOARD.md")):
        code, out = _invoke("leaderboard", "report", *args, "--db", db)
        flat = " ".join(out.replace("│", " ").split())
        assert code == 2 and f"is the shipped {hit} (" in flat and "--ship" not in flat, out
    monkeypatch.setenv("LRGYM_RUNS", str(SHIPPED_BOARD.parent))
    code, out = _invoke("leaderboard", "report", "--db", db)
    flat = " ".join(out.replace("│", " ").split())
    assert code == 2 and "on the shipped LEADERBOARD.md (" in flat, out
    monkeypatch.delenv("LRGYM_RUNS")
    code, out = _invoke("leaderboard", "report", "--no-markdown", "--html", "leaderboard.html", "--db", db)
    assert "shipped" not in out and "missing.sqlite" in " ".join(out.replace("│", " ").split()), out
    assert not Path(db).exists() and not (tmp_path / "leaderboard.html").exists()


@pytest.mark.parametrize("stop", ["Interrupted", "StopEscalated"])
def test_the_interrupted_line_counts_an_entry_stored_just_before_the_signal(tmp_path, monkeypatch, stop):
    """A stop signal that lands right after an entry's commit (it waits for the commit and the
    removal of its side file, then is raised before the outcome is reported): the "interrupted"
    line still counts that entry, as the store holds it (it counted the reported outcomes, and
    said 0 here). So does a stop that code in the run swallowed again and again, raised as
    ``StopEscalated`` (a ``SystemExit``, which an ``except KeyboardInterrupt`` let through: no line)."""
    import signal

    from lrgym.baselines import interrupts

    import lrgym.leaderboard.references as refs_module
    import lrgym.leaderboard.runner as runner_module
    from lb_helpers import synthetic_entry, synthetic_runs, tiny_suite

    from lrgym.leaderboard.store import ResultStore

    suite = tiny_suite()

    class FakeReferences:
        tasks: dict = {}

    def stored_then_stopped(specs, suite_, *, store, on_outcome, **kwargs):
        store.add_entry_durably(synthetic_entry(suite, "fixed"), synthetic_runs(suite, [[1.0] * len(suite.tasks())] * len(suite.seeds)))
        raise getattr(interrupts, stop)(signal.SIGTERM)  # as defer_stop_signals raises it: before on_outcome

    monkeypatch.setattr(refs_module, "load_references", lambda *a, **k: FakeReferences())
    monkeypatch.setattr(runner_module, "run_suite", stored_then_stopped)
    db = tmp_path / "r.sqlite"
    code, out = _invoke("leaderboard", "run-baselines", "--only", "fixed", "--suite", "quick", "--db", str(db),
                        "--no-markdown")
    assert code == 128 + signal.SIGTERM, out
    with ResultStore(db) as store:
        stored = len(store.entries())
    assert stored == 1
    assert f"interrupted: {stored} finished entries are saved in {db}" in " ".join(out.split()), out


#: a Ray node that differs, and Ray's error that no retry helps (backend.RayCannotRun): each stops a command in one line
RAY_STOPS = {"NodeMismatch": "the Ray node 10.0.0.7 differs from the driver in what results depend on: code a there, "
                             "b here",
             "RayCannotRun": "Ray cannot run job 'x': RuntimeEnvSetupError: Failed to set up runtime environment. "
                             "(no Ray worker was lost, so it does not run again: it would fail the same way)"}


def _ray_stop(kind: str) -> type:
    from lrgym.baselines.backend import RayCannotRun
    from lrgym.baselines.node_check import NodeMismatch

    return {"NodeMismatch": NodeMismatch, "RayCannotRun": RayCannotRun}[kind]


@pytest.mark.parametrize("kind", sorted(RAY_STOPS))
@pytest.mark.parametrize("command", ["run-baselines", "references"])
def test_a_ray_node_that_differs_is_the_commands_error_not_a_traceback(command, kind, tmp_path, monkeypatch):
    """A Ray node with other code or packages stops the run (``NodeMismatch``, naming the node and
    each value there and here); the CLI showed it as typer's traceback of the grader pool's
    internals, the message below it (a Ray operator's audit, 2026-12-06: a node started with
    another copy of lrgym). It is now one error line, exit status 1, and for a run the finished
    entries kept in the store, as after an interrupt. Ray's errors that are no lost worker
    (``RayCannotRun``: a runtime environment that cannot be set up...) stop it alike."""
    import lrgym.leaderboard.references as references
    import lrgym.leaderboard.runner as runner

    error, message = _ray_stop(kind), RAY_STOPS[kind]

    def differs(*args, **kwargs):
        raise error(message)

    monkeypatch.setattr(runner if command == "run-baselines" else references,
                        "run_suite" if command == "run-baselines" else "load_references", differs)
    db = tmp_path / "r.sqlite"
    args = ["--only", "fixed", "--db", str(db), "--no-markdown"] if command == "run-baselines" else ["--recompute"]
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", command, "--suite", "quick", *args],
                                              env={"COLUMNS": "400"})
    out = " ".join(result.output.split())
    assert result.exit_code == 1 and not isinstance(result.exception, error), out
    assert f"error: {message}" in out and "Traceback" not in out
    if command == "run-baselines":
        assert f"0 finished entries are saved in {db}" in out


def test_report_reads_the_curves_of_the_rows_it_draws_only(tmp_path, monkeypatch):
    """A hosted board's curves are gigabytes (2,005 entries: 7 GB of memory for `report`), and
    its figures draw a few rows: `report` builds the board without curves and reads those of the
    drawn rows (the best submissions, the --top baselines, --entry names, the learned controller),
    and its figures are those of the board read with every curve."""
    import re

    from lb_helpers import synthetic_entry

    from lrgym.leaderboard.ranking import build_leaderboard
    from lrgym.leaderboard.references import find_cached
    from lrgym.leaderboard.report import html_page
    from lrgym.leaderboard.runner import score_runs, summarize
    from lrgym.leaderboard.store import ResultStore
    from lrgym.leaderboard.suite import get_suite

    suite = get_suite("quick")
    [refs, *_] = find_cached(suite)

    def trajectories(level: float):
        out = []
        for seed in suite.seeds:
            for task in suite.tasks():
                l0 = refs.initial_loss(task, seed)
                final = l0 * level ** (1 + 0.1 * (task.instance % 3))
                out.append({"family": task.family, "instance": task.instance, "seed": seed, "diverged": False,
                            "train_losses": [l0, l0 * (1 + level) / 2, final], "lrs": [0.1 * level, 0.05],
                            "val_losses": [l0, l0, final], "val_metrics": [0.0, 0.0, 0.0]})
        return out

    db = tmp_path / "r.sqlite"
    names = [("b-best", "baseline", 0.2), ("controller", "baseline", 0.6), ("b-worst", "baseline", 0.7)]
    names += [(f"sub{i:02d}", "submission", 0.3 + 0.01 * i) for i in range(12)]
    with ResultStore(db) as store:
        for name, kind, level in names:
            runs = score_runs(trajectories(level), refs)
            store.add_entry(synthetic_entry(suite, name, kind, summary=summarize(runs, suite, reps=20)), runs)
    read_with_curves = []
    runs = ResultStore.runs

    def recording_runs(self, entry_id, *, curves=True):
        if curves:
            read_with_curves.append(entry_id)
        return runs(self, entry_id, curves=curves)

    monkeypatch.setattr(ResultStore, "runs", recording_runs)
    page = tmp_path / "b.html"
    code, out = _invoke("leaderboard", "report", "--suite", "quick", "--db", str(db), "--html", str(page),
                        "--no-markdown", "--top", "1", "--submissions", "3", "--entry", "sub11")
    assert code == 0, out
    read_by_report = list(read_with_curves)
    with ResultStore(db) as store:
        ids = {e.name: e.id for e in store.latest_entries(suite.version)}
        full = build_leaderboard(store, suite, references=refs)  # every curve
    assert sorted(read_by_report) == sorted(ids[n] for n in ("b-best", "controller", "sub00", "sub01", "sub02",
                                                               "sub11"))
    assert len(full.rows) == len(names)
    images = re.compile(r'src="data:image/png;base64,([^"]+)"')
    want = images.findall(html_page(full, references=refs, top=1, entries=("sub11",), submissions=3))
    assert len(want) == 3 + len(suite.families) + 2  # ci, 2 profiles, one per family, the controller's LR, sub11's
    assert images.findall(page.read_text()) == want



def _command_in(text: str, start: str) -> list[str]:
    """The words of the first `...` command in ``text`` that starts with ``start``, split as a shell does."""
    import re
    import shlex

    flat = " ".join(text.split())
    return shlex.split(next(c for c in re.findall(r"`([^`]*)`", flat) if c.startswith(start)))


def _db_of(words: list[str]) -> list[str]:
    """The ``--db`` values of a command's words (``--db PATH`` or ``--db=PATH``)."""
    return ([w.split("=", 1)[1] for w in words if w.startswith("--db=")]
            + [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--db"])


def test_the_run_again_hints_of_show_name_the_store_it_read(tmp_path):
    """``show --db PATH`` of an empty or a missing store said to run `lrgym leaderboard
    run-baselines ...` without ``--db``: it graded into ./lrgym_leaderboard.sqlite, and the board
    asked for stayed empty. Each hint now names the store (as the shell's words: a path with a
    space or a leading '-' stays one value); without --db, none. A missing store's named no suite
    either: it graded the default suite there, and ``show --suite quick`` stayed empty."""
    from lrgym.leaderboard.store import ResultStore

    folder = tmp_path / "a dir"
    folder.mkdir()
    empty, missing = folder / "-empty.sqlite", folder / "none.sqlite"
    ResultStore(empty).close()
    for db in (empty, missing):
        result = typer_testing.CliRunner().invoke(app, ["leaderboard", "show", "--suite", "quick", f"--db={db}"],
                                                  env={"COLUMNS": "400"})
        words = _command_in(result.output, "lrgym leaderboard run-baselines")
        assert _db_of(words) == [str(db)], (words, result.output)
        # and the suite: a missing store's hint named none, and graded the default suite into it
        assert words[words.index("--suite") + 1] == "quick", (words, result.output)


def test_the_terminal_board_names_its_store_in_the_note_on_rows_of_other_files(tmp_path):
    """The note on baseline rows not made from the shipped tuned values ran `lrgym leaderboard
    run-baselines ...` into the default store whatever store the board was read from; a board
    read from one (``show --db``) names it, one of the default store none."""
    import io

    from lb_helpers import synthetic_entry, synthetic_runs, tiny_suite
    from rich.console import Console

    from lrgym.leaderboard.ranking import build_leaderboard
    from lrgym.leaderboard.report_terminal import print_table
    from lrgym.leaderboard.store import ResultStore

    suite = tiny_suite()
    db = tmp_path / "my store.sqlite"
    with ResultStore(db) as s:
        s.add_entry(synthetic_entry(suite, "cosine", "baseline", env_spec={"inputs": {"tuned.json": "0" * 64}}),
                    synthetic_runs(suite, [[0.5, 0.6], [0.7, 0.8]]))
        lb = build_leaderboard(s, suite, reps=50)
    for given, expected in ((db, [str(db)]), (None, [])):
        out = io.StringIO()
        print_table(lb, console=Console(file=out, width=400), db=given)
        assert "were not made from" in out.getvalue()
        assert _db_of(_command_in(out.getvalue(), "lrgym leaderboard run-baselines")) == expected


def _store_of_four_kinds_of_version(tmp_path):
    """A store of no v2 entry: quick's (2 ok, alpha and beta, of no run: not ranked; 1 failed),
    an earlier revision's (v2/r1), a private suite's and a suite file's; its path, and how many
    entries of each version it holds."""
    from lb_helpers import synthetic_entry

    from lrgym.leaderboard.store import EntryRecord, ResultStore
    from lrgym.leaderboard.suite import get_suite

    quick = get_suite("quick")
    db = tmp_path / "mine.sqlite"
    written = {quick.version: 3, "v2/r1": 1, "private-0123abcd/r2": 2, "myfile/r4": 1}
    with ResultStore(db) as store:
        for name in ("alpha", "beta"):
            store.add_entry(synthetic_entry(quick, name, summary={"iqm": [0.5, 0.4, 0.6]}), [])
        store.record_failure("broken", "submission", "boom", suite_version=quick.version)
        for version, n in written.items():
            for i in range(n if version != quick.version else 0):
                store.add_entry(EntryRecord(name=f"e{i}", kind="baseline", suite_version=version, seeds=(0,)), [])
    return db, written


def test_an_empty_board_names_the_suites_its_store_holds_and_how_to_show_them(tmp_path):
    """An audit (2026-12-07): ``show`` without ``--suite`` of a store holding ``quick`` results only
    printed "No entries yet: run `lrgym leaderboard run-baselines`", and a researcher took their
    results for lost. The empty board now names each suite version the store holds, its number of
    entries (counted here from what was written) and the command that shows them: a shipped suite's
    ``--suite NAME``, a private one's ``--private KEYFILE``, a suite file's ``--suite
    SUITE_FILE.json``, an earlier revision's ``export --suite VERSION``; the shipped suite's command
    shows its entries. A truly empty store still says only "No entries yet"."""
    from lrgym.leaderboard.store import ResultStore
    from lrgym.leaderboard.suite import get_suite

    quick = get_suite("quick")
    db, written = _store_of_four_kinds_of_version(tmp_path)
    code, out = _invoke("leaderboard", "show", "--db", str(db))
    flat = " ".join(out.split())
    assert code == 0 and "No entries yet" not in flat, out
    assert "No entries of suite v2/r3 yet" in flat
    expected = {quick.version: f"lrgym leaderboard show --suite quick --db {db}",
                "v2/r1": f"lrgym leaderboard export --suite v2/r1 --db {db}",
                "private-0123abcd/r2": f"lrgym leaderboard show --private KEYFILE --db {db}",
                "myfile/r4": f"lrgym leaderboard show --suite SUITE_FILE.json --db {db}"}
    for version, n in written.items():
        assert f"{version} ({n} {'entry' if n == 1 else 'entries'}" in flat, (version, flat)
        assert f"`{expected[version]}`" in flat, (version, flat)
    assert "SUITE_FILE.json is the file of suite 'myfile'" in flat
    code, shown = _invoke(*_command_in(out, "lrgym leaderboard show --suite quick")[1:])
    assert code == 0 and f"suite {quick.version}" in shown and "alpha" in shown and "beta" in shown  # (not ranked: no references)
    empty = tmp_path / "empty.sqlite"
    ResultStore(empty).close()
    code, out = _invoke("leaderboard", "show", "--db", str(empty))
    assert code == 0 and "No entries yet: run" in " ".join(out.split()) and "other suites" not in out


@pytest.mark.parametrize("words, group", [(["leaderboard", "remove"], ["leaderboard"]),
                                          (["leaderboard", "shwo", "--db", "x.sqlite"], ["leaderboard"]),
                                          (["leaderbord"], [])])
def test_an_unknown_command_lists_the_valid_ones(words, group):
    """An audit (2026-12-07): ``lrgym leaderboard remove`` said "No such command 'remove'." and
    no more. Each group of the ``lrgym`` command (one class, cli.CommandGroup) names the bad
    command, a close match as before, and every valid command, read here from the group's
    ``--help`` (the reference), in its order; exit status 2, nothing run."""
    import re

    code, out = _invoke(*group, "--help")
    listed = re.findall(r"^│ (\S+) ", out.split("Commands")[1], re.M)
    assert code == 0 and ("show" in listed and "submit" in listed if group else listed == ["leaderboard"]), out
    code, out = _invoke(*words)
    flat = " ".join(out.replace("│", " ").split())
    assert code == 2 and f"No such command '{words[len(group)]}'." in flat, out
    assert f"Valid commands: {', '.join(listed)}." in flat, flat
    assert ("Did you mean" in flat) is (words[len(group)] != "remove")


def test_the_html_report_and_export_of_a_suite_with_no_rows_name_the_suites_the_store_holds(tmp_path):
    """``show`` of a board with no row named the other suites its store holds (2026-12-07), but
    ``report`` wrote a page saying "No entries yet: run `lrgym leaderboard run-baselines`" (of any
    suite), and ``export`` wrote files of headers alone and said nothing. The page now says what
    the terminal board says (:func:`~lrgym.leaderboard.provenance.empty_board_note`: each version
    held, its entries counted from what was written, and its command, as ``<code>``; no store path:
    a page is published), ``report`` prints it with ``--db`` too, and ``export`` says its files
    hold no rows and names each version held and the ``export`` command of it, which exports its
    rows (run here)."""
    import csv
    import html
    import json
    import re

    from lrgym.leaderboard.suite import get_suite

    quick = get_suite("quick")
    db, written = _store_of_four_kinds_of_version(tmp_path)
    page_path = tmp_path / "board.html"
    code, out = _invoke("leaderboard", "report", "--db", str(db), "--html", str(page_path), "--no-markdown")
    assert code == 0, out
    page = page_path.read_text()
    said = html.unescape(re.sub(r"\s+", " ", page))
    assert "No entries yet" not in said and "No entries of suite v2/r3 yet." in said
    shown = {quick.version: "lrgym leaderboard show --suite quick", "v2/r1": "lrgym leaderboard export --suite v2/r1",
             "private-0123abcd/r2": "lrgym leaderboard show --private KEYFILE",
             "myfile/r4": "lrgym leaderboard show --suite SUITE_FILE.json"}
    for version, n in written.items():
        assert f"{version} ({n} {'entry' if n == 1 else 'entries'}" in said, (version, said)
        assert f"<code>{html.escape(shown[version])}</code>" in page, version
    assert "To grade this suite's baselines: <code>lrgym leaderboard run-baselines</code>" in said
    assert str(db) not in page  # (the page names no path of the grader's)
    flat = " ".join(out.split())
    for version in written:
        assert f"`{shown[version]} --db {db}`" in flat, (version, flat)

    code, out = _invoke("leaderboard", "export", "--db", str(db), "--out", str(tmp_path / "v2"))
    flat = " ".join(out.split())
    assert code == 0 and f"The files hold no rows: {db} has no successful entry of suite v2/r3." in flat, out
    exported = {version: f"lrgym leaderboard export --suite {'quick' if version == quick.version else version} "
                         f"--db {db}" for version in written}
    for version, n in written.items():
        assert f"{version} ({n} {'entry' if n == 1 else 'entries'}" in flat, (version, flat)
        assert f"`{exported[version]}`" in flat, (version, flat)
    assert "SUITE_FILE.json" not in flat  # export takes a stored version without its file or key
    for version in ("v2/r1", "private-0123abcd/r2", "myfile/r4"):  # each exports its rows
        words = _command_in(out, exported[version])[1:]
        code, done = _invoke(*words, "--format", "json", "--out", str(tmp_path / f"{version.replace('/', '-')}.json"))
        assert code == 0 and "no rows" not in done, done
        entries = json.loads((tmp_path / f"{version.replace('/', '-')}.json").read_text())["entries"]
        assert len(entries) == written[version], (version, entries)
    code, done = _invoke(*_command_in(out, exported[quick.version])[1:], "--out", str(tmp_path / "quick"))
    assert code == 0 and "no rows" not in done
    with open(tmp_path / "quick" / "entries.csv") as f:
        assert [row["name"] for row in csv.DictReader(f)] == ["alpha", "beta"]
