"""Ranking and reports from a store of synthetic entries: order, comparisons, escaping, plots."""

import io
from dataclasses import replace as dataclasses_replace

import numpy as np
import pytest
from scipy.stats import trim_mean
from lb_helpers import synthetic_entry, synthetic_runs, tiny_suite

from lrgym.leaderboard import report, report_format, report_html, scoring
from lrgym.leaderboard.ranking import build_leaderboard
from lrgym.leaderboard.report_format import interval
from lrgym.leaderboard.runner import summarize
from lrgym.leaderboard.store import ResultStore

SUITE = tiny_suite("report", families=("quadratic", "linreg"), n_instances=2, seeds=(0, 1, 2))
EVIL = '<script>alert("x")</script> | [bold]$x$'

MATRICES = {  # (3 seeds, 4 tasks)
    "strong": [[1.0, 1.2, 0.9, 1.1], [1.0, 1.1, 0.8, 1.0], [0.9, 1.3, 1.0, 1.2]],
    "weak": [[0.2, 0.3, 0.1, 0.4], [0.3, 0.2, 0.2, 0.3], [0.1, 0.4, 0.3, 0.2]],
    EVIL: [[0.6, 0.7, 0.5, 0.8], [0.7, 0.6, 0.6, 0.7], [0.5, 0.8, 0.7, 0.6]],
}


@pytest.fixture()
def store(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as s:
        for name, kind in (("strong", "baseline"), ("weak", "baseline"), (EVIL, "submission")):
            runs = synthetic_runs(SUITE, MATRICES[name])
            s.add_entry(synthetic_entry(SUITE, name, kind, summary=summarize(runs, SUITE, reps=200)), runs)
        # a later failed attempt of "weak" does not hide its earlier success but is listed
        s.record_failure("weak", "baseline", "policy raised in act(): boom", suite_version=SUITE.version)
        s.record_failure("<img src=x onerror=alert(1)>", "submission", "timeout <b>", suite_version=SUITE.version)
        # another suite's entries never show up
        s.add_entry(synthetic_entry(tiny_suite("other"), "elsewhere"), [])
        yield s


def test_ranking_order_and_comparisons(store):
    lb = build_leaderboard(store, SUITE, reps=200)
    assert [r.name for r in lb.rows] == ["strong", EVIL, "weak"]
    assert [r.rank for r in lb.rows] == [1, 2, 3]
    assert lb.best_baseline == "strong"
    assert lb.row("strong").poi is None
    # hand-checked PoI: every run of "weak" is below every run of "strong" on every task
    assert lb.row("weak").poi[0] == 0.0
    assert lb.row(EVIL).poi[0] == pytest.approx(float(scoring.probability_of_improvement(
        np.array(MATRICES[EVIL]), np.array(MATRICES["strong"]))))
    strong = np.array(MATRICES["strong"])  # columns: quadratic ×2, linreg ×2
    assert lb.row("strong").family_iqm[0] == pytest.approx(
        (trim_mean(strong[:, :2].ravel(), 0.25) + trim_mean(strong[:, 2:].ravel(), 0.25)) / 2)
    assert lb.row("strong").summary["iqm"][0] == pytest.approx(trim_mean(strong.ravel(), 0.25))
    # AlgoPerf: all entries have identical times here → everyone is fastest everywhere
    assert [r.algoperf for r in lb.rows] == pytest.approx([1.0, 1.0, 1.0])
    assert {f.name for f in lb.failures} == {"weak", "<img src=x onerror=alert(1)>"}


def test_html_escapes_names_and_embeds_plots(store):
    lb = build_leaderboard(store, SUITE, reps=200)
    page = report.html_page(lb, references=None, top=3)
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "<script>" not in page and "<img src=x" not in page and "timeout <b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count('src="data:image/png;base64,') >= 3 + len(SUITE.families)
    assert "http://" not in page and "https://" not in page  # self-contained


def test_html_without_matplotlib_says_which_extra(store, monkeypatch):
    def no_mpl(*a, **k):
        raise ImportError("No module named 'matplotlib'")

    monkeypatch.setattr(report_html, "plots", no_mpl)  # the name the page calls
    page = report.html_page(build_leaderboard(store, SUITE, reps=200))
    assert "lrgym[report]" in page and "data:image/png" not in page


def test_markdown_and_terminal_escape_names(store):
    lb = build_leaderboard(store, SUITE, reps=200)
    md = report.markdown(lb, command="lrgym leaderboard run-baselines", elapsed=12.3, machine="test cpu")
    row = next(line for line in md.splitlines() if "alert" in line and line.startswith("| 2"))
    assert "\\|" in row and "<script>" not in md
    assert len(row.replace("\\|", "").split("|")) == len(md.splitlines()[4].split("|"))  # same columns as the header
    assert "12.3 s" in md and "test cpu" in md

    from rich.console import Console

    buf = io.StringIO()
    report.print_table(lb, Console(file=buf, width=250, color_system=None))
    out = buf.getvalue()
    assert "[bold]$x$" in out  # shown verbatim, not parsed as rich markup
    assert "boom" in out


def test_empty_board(tmp_path):
    with ResultStore(tmp_path / "empty.sqlite") as s:
        lb = build_leaderboard(s, SUITE)
    assert lb.rows == [] and lb.best_baseline is None
    assert "No entries yet" in report.html_page(lb)
    report.markdown(lb)


def test_an_empty_board_names_a_command_that_runs(tmp_path):
    """The terminal's hint names a --suite the CLI takes: a shipped suite by its name, a suite of
    one's own (a suite file's, here SUITE) by its file; 'run-baselines --suite <its name>' was
    'unknown suite'."""
    from rich.console import Console

    from lrgym.leaderboard.suite import SUITES

    assert SUITE.name not in SUITES
    said = {}
    for suite in (SUITE, SUITES["quick"]):
        buf = io.StringIO()
        with ResultStore(tmp_path / "empty.sqlite") as s:
            report.print_table(build_leaderboard(s, suite), Console(file=buf, width=250, color_system=None))
        said[suite.name] = " ".join(buf.getvalue().split())
    assert (f"run `lrgym leaderboard run-baselines --suite SUITE_FILE.json` (SUITE_FILE.json: the suite file of "
            f"{SUITE.version})"
            in said[SUITE.name]), said
    assert "run `lrgym leaderboard run-baselines --suite quick`" in said["quick"], said


@pytest.mark.parametrize("width, family_columns", [(250, True), (100, False), (80, False)])
def test_terminal_table_fits_the_terminal_and_never_truncates_the_ranking(store, width, family_columns, capsys):
    from rich.console import Console

    lb = build_leaderboard(store, SUITE, reps=200)
    buf = io.StringIO()
    report.print_table(lb, Console(file=buf, width=width, color_system=None, force_terminal=True), show_failures=False)
    # the note that columns were left out is about the terminal, not the board: on stderr, never in the table's output
    assert "narrow terminal" not in buf.getvalue()
    assert ("narrow terminal" in capsys.readouterr().err) is not family_columns
    lines = buf.getvalue().splitlines()
    header = next(line for line in lines if line.startswith("┃"))
    table = [line for line in lines if line.startswith("│")]
    assert all(len(line) <= width for line in lines)
    assert ("quadratic" in header) is family_columns
    for r in lb.rows:  # every rank, full name and family IQM with its interval, unabridged
        row = next(line for line in table if f" {r.name} " in line)
        assert f" {r.rank} " in row and report_format.interval(r.family_iqm) in row


def test_the_note_on_columns_left_out_of_redirected_output_is_one_line_and_says_how_to_get_them(store, capsys,
                                                                                              monkeypatch):
    """An audit (2026-12-07): the note that the per-family columns did not fit went through a
    default rich console, so redirected (``show > board.txt 2> log``) it was broken at 80 columns,
    against README's promise that redirected lines are printed whole, and it said "a narrow
    terminal" of output that is no terminal. Printed through the commands' consoles (here as they
    are made for a file, ``COLUMNS=100``), it is one line that says the output is no terminal,
    how wide its tables are, and the ``COLUMNS=N`` that prints every column; with that
    ``COLUMNS`` the whole table is printed (both families' columns) and no note."""
    import re

    from lrgym.leaderboard.consoles import make_console

    lb = build_leaderboard(store, SUITE, reps=200)
    monkeypatch.setenv("COLUMNS", "100")
    out = io.StringIO()
    report.print_table(lb, make_console(out, file=out), show_failures=False)
    header = next(line for line in out.getvalue().splitlines() if line.startswith("┃"))
    assert "quadratic" not in header  # too narrow for the family columns
    note = capsys.readouterr().err
    assert note.count("\n") == 1 and len(note) > 100, note  # one line, longer than the columns
    assert "narrow terminal" not in note and "no terminal and its tables are 100 columns wide" in note, note
    needed = int(re.search(r"COLUMNS=(\d+) in the command's environment", note).group(1))
    monkeypatch.setenv("COLUMNS", str(needed))
    out = io.StringIO()
    report.print_table(lb, make_console(out, file=out), show_failures=False)
    lines = out.getvalue().splitlines()
    header = " ".join(line for line in lines if line.startswith("┃"))
    assert "quadratic" in header and "linreg" in header and max(map(len, lines)) <= needed
    assert capsys.readouterr().err == ""


def test_a_family_with_12_percent_divergence_does_not_read_as_perfect(tmp_path):
    """A policy diverging in 6 of the 50 quadratic runs has a quadratic IQM of 1.00; the
    terminal table, LEADERBOARD.md and the HTML page show its mean (0.76, hand-computed:
    (44 − 6) / 50) and divergence rate (12 %) next to it."""
    import dataclasses

    from rich.console import Console

    from lrgym.leaderboard.suite import FamilySuite, Suite

    suite = Suite("flaky", 1, "test", "test",
                  (FamilySuite("quadratic", tuple(range(20000, 20010))), FamilySuite("linreg", (20000, 20001))),
                  seeds=(0, 1, 2, 3, 4))
    diverged = np.zeros((5, 12), dtype=bool)
    diverged[[0, 1, 2, 3, 4, 0], [0, 1, 2, 3, 4, 9]] = True
    scores = np.where(diverged, -1.0, 1.0)
    runs = [dataclasses.replace(r, diverged=bool(diverged[i // 12, i % 12]))
            for i, r in enumerate(synthetic_runs(suite, scores))]
    with ResultStore(tmp_path / "f.sqlite") as s:
        s.add_entry(synthetic_entry(suite, "flaky", summary=summarize(runs, suite, reps=200)), runs)
        lb = build_leaderboard(s, suite, reps=200)
    row = lb.row("flaky")
    assert row.summary["families"]["quadratic"]["iqm"][0] == 1.0
    cell = "1.00 / 0.76 / 12%"
    assert report.family_cell(row.summary["families"]["quadratic"]) == cell
    assert report.family_cell(row.summary["families"]["linreg"]) == "1.00 / 1.00 / 0%"
    assert "quadratic IQM / mean / div." in report.markdown(lb)
    assert f"| {cell} |" in report.markdown(lb)
    assert f"<td class=\"\">{cell}</td>" in report.html_page(lb, with_plots=False)
    buf = io.StringIO()
    report.print_table(lb, Console(file=buf, width=300, color_system=None))
    assert cell in buf.getvalue()
    # a rate below one percent is never shown as 0 %
    assert report.family_cell({"iqm": [1.0], "mean": 0.99, "diverged_fraction": 1 / 400}) == "1.00 / 0.99 / <1%"


def test_an_entry_that_gives_up_a_small_family_ranks_below_an_honest_one(tmp_path):
    """mlp is 1/6 of the runs here, as on suite v2: failing all of it would be trimmed away by
    the IQM of all runs (the ranking statistic before), but costs its full share of the family
    IQM. Stored summaries from before the family IQM are recomputed from their runs."""
    from lrgym.leaderboard.suite import FamilySuite, Suite

    suite = Suite(name="lopsided", revision=1, description="test suite", instance_set="test",
                  families=(FamilySuite("quadratic", tuple(range(20000, 20010)), 6, 3),
                            FamilySuite("mlp", (20000, 20001), 6, 3)), seeds=(0, 1, 2, 3))
    gives_up = [[1.05] * 10 + [-1.0] * 2] * 4
    honest = [[1.0] * 12] * 4
    with ResultStore(tmp_path / "l.sqlite") as s:
        for name, scores in (("gives_up", gives_up), ("honest", honest)):
            runs = synthetic_runs(suite, scores)
            summary = summarize(runs, suite, reps=200)
            if name == "gives_up":  # stored by an older version: no family IQM
                summary = {k: v for k, v in summary.items() if not k.startswith("family_iqm")}
            s.add_entry(synthetic_entry(suite, name, kind="submission", summary=summary), runs)
        lb = build_leaderboard(s, suite, reps=200)
    assert [r.name for r in lb.rows] == ["honest", "gives_up"]
    assert lb.row("gives_up").summary["iqm"][0] == pytest.approx(1.05)  # what used to rank it first
    assert lb.row("gives_up").family_iqm[0] == pytest.approx((1.05 - 1.0) / 2)
    assert lb.row("honest").summary["family_iqm_instances"] == [1.0, 1.0, 1.0]


def test_the_new_instances_ci_is_undefined_for_a_family_of_one_instance(tmp_path):
    """Resampling the instances of a one-instance family always draws that instance: the interval
    would be the seeds' one under another name. It is stored with bounds None and shown as "–"."""
    suite = tiny_suite("single", families=("quadratic", "linreg"), n_instances=1, seeds=(0, 1, 2))
    runs = synthetic_runs(suite, [[0.9, 1.0], [1.1, 0.8], [1.0, 1.2]])
    summary = summarize(runs, suite, reps=200)
    estimate, low, high = summary["family_iqm_instances"]
    assert estimate == summary["family_iqm"][0] and low is None and high is None
    with ResultStore(tmp_path / "s.sqlite") as s:
        s.add_entry(synthetic_entry(suite, "one", summary=summary), runs)
        lb = build_leaderboard(s, suite, reps=200)
    row = next(line for line in report.markdown(lb).splitlines() if line.startswith("| 1 | one |"))
    assert row.split(" | ")[3:5] == [interval(summary["family_iqm"]), "–"]
    two = tiny_suite("two", families=("quadratic",), n_instances=2, seeds=(0, 1))
    assert summarize(synthetic_runs(two, [[0.9, 1.0], [1.1, 0.8]]), two, reps=50)["family_iqm_instances"][1] is not None


def test_old_summaries_without_family_means_are_recomputed(tmp_path):
    """Entries stored before the per-family mean existed still show it (from their runs)."""
    runs = synthetic_runs(SUITE, MATRICES["strong"])
    old = summarize(runs, SUITE, reps=200)
    old["families"] = {f: {"iqm": v["iqm"]} for f, v in old["families"].items()}
    with ResultStore(tmp_path / "o.sqlite") as s:
        s.add_entry(synthetic_entry(SUITE, "old", summary=old), runs)
        lb = build_leaderboard(s, SUITE, reps=200)
    fam = lb.row("old").summary["families"]["quadratic"]
    assert fam["mean"] == pytest.approx(float(np.mean(np.array(MATRICES["strong"])[:, :2])))
    assert fam["diverged_fraction"] == 0.0


def test_rows_of_other_tuned_values_or_weights_than_the_shipped_ones_are_flagged(tmp_path):
    """A board read after a retune or a retrain says which baseline rows are of other files."""
    from lrgym.baselines.registry import shipped_inputs

    shipped = shipped_inputs(["fixed"])
    recorded = {"fixed": shipped, "cosine": {"tuned.json": "0" * 64}, "bold_driver": None, "strong": None}
    with ResultStore(tmp_path / "r.sqlite") as s:
        for name, inputs in recorded.items():
            runs = synthetic_runs(SUITE, MATRICES["strong"])
            env_spec = {"inputs": inputs} if inputs else {}
            s.add_entry(synthetic_entry(SUITE, name, "baseline", env_spec=env_spec,
                                        summary=summarize(runs, SUITE, reps=50)), runs)
        lb = build_leaderboard(s, SUITE, reps=50)
    # "fixed" ran the shipped tuned values; "cosine" other ones; "bold_driver" recorded none;
    # "strong" is no registered baseline (nothing to compare with)
    assert sorted(report.stale_baselines(lb)) == ["bold_driver", "cosine"]
    note = report.stale_note(lb)
    assert "cosine" in note and "bold_driver" in note and "fixed" not in note
    assert "`lrgym leaderboard run-baselines --suite SUITE_FILE.json` runs them again" in note  # no shipped suite
    from lrgym.leaderboard.provenance import run_baselines_command
    from lrgym.leaderboard.suite import get_suite

    assert run_baselines_command(get_suite("v2")) == "lrgym leaderboard run-baselines"  # the default suite
    assert run_baselines_command(get_suite("quick")) == "lrgym leaderboard run-baselines --suite quick"
    assert note in report.markdown(lb)
    assert "lrgym leaderboard run-baselines" in report.html_page(lb, with_plots=False)
    from rich.console import Console

    out = io.StringIO()
    report.print_table(lb, console=Console(file=out, width=250))
    assert "were not made from the tuned values or weights this install ships" in out.getvalue()


def test_the_report_facade_re_exports_modules_that_import_one_way():
    """``lrgym.leaderboard.report`` only re-exports; each concern's module imports only the ones
    below it (format and provenance at the bottom, the HTML page on top) and none the facade."""
    import ast
    import importlib
    from pathlib import Path

    below = {  # module → the report modules it may import
        "report_format": set(), "provenance": set(),
        "report_terminal": {"report_format", "provenance"}, "report_markdown": {"report_format", "provenance"},
        "report_plots": {"report_format", "provenance"}, "report_html": {"report_format", "provenance", "report_plots"},
    }
    for name, allowed in below.items():
        module = importlib.import_module(f"lrgym.leaderboard.{name}")
        imported = set()
        for node in ast.walk(ast.parse(Path(module.__file__).read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[2] for a in node.names if a.name.startswith("lrgym.leaderboard.")}
            elif isinstance(node, ast.ImportFrom) and node.module == "lrgym.leaderboard":
                imported |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lrgym.leaderboard."):
                imported.add(node.module.split(".")[2])
        assert imported & ({"report", *below}) <= allowed, name
        assert all(getattr(report, n) is getattr(module, n) for n in module.__all__ if n in report.__all__)
    assert all(hasattr(report, n) for n in report.__all__)
    assert {n for m in below for n in importlib.import_module(f"lrgym.leaderboard.{m}").__all__} >= set(report.__all__)


def test_an_entry_with_a_non_finite_score_is_listed_unranked_in_every_output(tmp_path):
    """The store keeps a NaN or infinite score (``RunRecord``; the grader never scores a run so,
    an older lrgym or a script writing the store may). An audit (2026-12-06) found that one such
    entry stopped ``show``, ``report`` and ``run-baselines``' table for the whole board
    ('scores must be finite'), and that an entry whose runs do not match the suite was named on the
    HTML page and in the terminal but left out of LEADERBOARD.md. Each is listed as not ranked,
    with why, in all three; every other entry is ranked as without them."""
    import dataclasses

    with ResultStore(tmp_path / "r.sqlite") as s:
        for name, kind in (("strong", "baseline"), ("weak", "baseline")):
            runs = synthetic_runs(SUITE, MATRICES[name])
            s.add_entry(synthetic_entry(SUITE, name, kind, summary=summarize(runs, SUITE, reps=200)), runs)
        alone = build_leaderboard(s, SUITE, reps=200)
        for name, bad in (("nan-one", np.nan), ("inf-one", np.inf)):
            runs = synthetic_runs(SUITE, MATRICES[EVIL])
            complete = summarize(runs, SUITE, reps=200)  # a summary the board would show as it stands
            runs[2] = dataclasses.replace(runs[2], score=float(bad))
            s.add_entry(synthetic_entry(SUITE, name, "submission", summary=complete), runs)
        short = synthetic_runs(SUITE, MATRICES["weak"])[1:]
        s.add_entry(synthetic_entry(SUITE, "short <b>", "submission", summary={"iqm": [0.2, 0.1, 0.3]}), short)
        lb = build_leaderboard(s, SUITE, reps=200)  # raised ValueError
    import html

    from rich.console import Console

    from lrgym.leaderboard.ranking import NON_FINITE_SCORE, NOT_THE_SUITES_RUNS
    from lrgym.leaderboard.text import markdown_escape

    assert [(r.name, r.family_iqm, r.poi, r.algoperf) for r in lb.rows] == [
        (r.name, r.family_iqm, r.poi, r.algoperf) for r in alone.rows]
    assert lb.skipped == {"nan-one": NON_FINITE_SCORE, "inf-one": NON_FINITE_SCORE, "short <b>": NOT_THE_SUITES_RUNS}
    buf = io.StringIO()
    report.print_table(lb, Console(file=buf, width=300, color_system=None))
    terminal, md, page = " ".join(buf.getvalue().split()), report.markdown(lb), report.html_page(lb, with_plots=False)
    for name, why in (("nan-one", NON_FINITE_SCORE), ("inf-one", NON_FINITE_SCORE),
                      ("short <b>", NOT_THE_SUITES_RUNS)):
        said = f"{name} ({why})"
        assert said in terminal and markdown_escape(said) in md and html.escape(said) in page
    assert "short <b>" not in md and "short <b>" not in page


def test_an_entry_of_other_task_dynamics_is_not_ranked_beside_todays(tmp_path):
    """An operator's audit (2026-12-06): a store written by an lrgym of 2026-11-22 ranked its
    entries beside today's under the same suite version, though the quick suite's tasks had changed
    (the same policy: 0.19 and 0.63 side by side). A run's initial loss is its instance's and
    seed's whatever the policy, so runs that started from other losses than the references' are of
    other problems: given the references, such an entry is listed as not ranked, with why."""
    import dataclasses

    from lrgym.leaderboard.ranking import INITIAL_LOSS_RTOL, OTHER_DYNAMICS

    class Refs:  # the references of today's tasks: every run starts from loss 1 (synthetic_runs)
        def initial_loss(self, task, seed):
            return 1.0

        def final_loss(self, task, seed):  # (synthetic scores: no target to rescore them against)
            raise KeyError(task)

    with ResultStore(tmp_path / "r.sqlite") as s:
        for name, start in (("today", 1.0), ("rounding", 1.0 + 1e-15), ("older", 0.083)):
            runs = [dataclasses.replace(r, initial_loss=start) for r in synthetic_runs(SUITE, MATRICES["strong"])]
            s.add_entry(synthetic_entry(SUITE, name, "submission", summary=summarize(runs, SUITE, reps=50)), runs)
        unrecorded = [dataclasses.replace(r, initial_loss=float("nan")) for r in synthetic_runs(SUITE, MATRICES["weak"])]
        s.add_entry(synthetic_entry(SUITE, "unrecorded", "submission", summary=summarize(unrecorded, SUITE, reps=50)),
                    unrecorded)
        lb = build_leaderboard(s, SUITE, reps=50, references=Refs())
        without = build_leaderboard(s, SUITE, reps=50)  # no references: nothing to compare with
    assert sorted(r.name for r in lb.rows) == ["rounding", "today", "unrecorded"] and INITIAL_LOSS_RTOL < 1e-3
    assert lb.skipped == {"older": OTHER_DYNAMICS}
    from lrgym.leaderboard.text import markdown_escape

    assert markdown_escape(f"older ({OTHER_DYNAMICS})") in report.markdown(lb)
    assert sorted(r.name for r in without.rows) == ["older", "rounding", "today", "unrecorded"]


def test_an_entry_scored_against_other_references_is_not_ranked(tmp_path):
    """A red team (2026-12-06): the toy family's gradient noise raised 5x in its module, the suite
    file's revision kept. Every run starts from the same loss, so the initial-loss check passed;
    the grader found that the code no longer reproduced the cached references and recomputed them,
    and ``fixed``, scored against the old ones on the old dynamics, ranked beside ``hypergradient``
    of the new. A run's stored score must be its own losses' score against the references the board
    uses (the grader's score_runs), else the entry is listed as not ranked."""
    from lrgym.leaderboard.ranking import OTHER_TARGETS
    from lrgym.leaderboard.runner import score_runs

    class Refs:
        def __init__(self, target):
            self.target = target

        def initial_loss(self, task, seed):
            return 1.0

        def final_loss(self, task, seed):
            return self.target * (1 + 0.1 * seed)

    def trajectories(final: float, diverge_first: bool = False):
        return [{"family": t.family, "instance": t.instance, "seed": seed, "diverged": diverge_first and k == 0,
                 "train_losses": [1.0, 0.5, final * (1 + 0.05 * k)], "lrs": [0.1, 0.1], "val_losses": [1.0, 0.5, final],
                 "val_metrics": [0.0, 0.0, 0.0]}
                for k, (t, seed) in enumerate((t, seed) for seed in SUITE.seeds for t in SUITE.tasks())]

    old, new = Refs(0.01), Refs(0.2)  # the targets of the old dynamics and of today's
    with ResultStore(tmp_path / "r.sqlite") as s:
        for name, refs, final in (("old", old, 0.02), ("today", new, 0.1), ("diverged", new, 0.3)):
            runs = score_runs(trajectories(final, diverge_first=name == "diverged"), refs)  # as the grader scores
            s.add_entry(synthetic_entry(SUITE, name, "submission", summary=summarize(runs, SUITE, reps=50)), runs)
        lb = build_leaderboard(s, SUITE, reps=50, references=new)
        back = build_leaderboard(s, SUITE, reps=50, references=old)
    assert sorted(r.name for r in lb.rows) == ["diverged", "today"] and lb.skipped == {"old": OTHER_TARGETS}
    assert sorted(r.name for r in back.rows) == ["old"]
    assert back.skipped == {"today": OTHER_TARGETS, "diverged": OTHER_TARGETS}
    # references the grader counts as the same (reproduces: within 1e-6 relative; another CPU
    # kind's last bits move a target far less) rank an entry, though where the reference itself
    # makes little progress a target 9e-7 off moves each score by ≈ 3e-6
    little, close = Refs(0.8), Refs(0.8 * (1 + 9e-7))
    assert abs(float(scoring.score(1.0, 0.85, close.target)) - float(scoring.score(1.0, 0.85, little.target))) > 2e-6
    with ResultStore(tmp_path / "little.sqlite") as s:
        runs = score_runs(trajectories(0.85), little)
        s.add_entry(synthetic_entry(SUITE, "slow", "submission", summary=summarize(runs, SUITE, reps=50)), runs)
        near = build_leaderboard(s, SUITE, reps=50, references=close)
        far = build_leaderboard(s, SUITE, reps=50, references=Refs(0.8 * (1 + 1e-4)))
    assert [r.name for r in near.rows] == ["slow"] and near.skipped == {}
    assert far.rows == [] and far.skipped == {"slow": OTHER_TARGETS}


def test_a_run_without_a_recorded_initial_loss_is_not_rescored(tmp_path):
    """A run whose initial loss is NaN (not recorded) is not judged by the initial-loss check, and
    the rescoring check raised on it instead (scoring.score takes a positive finite L0 only): one
    such entry in the store made show, report and submit fail with a ValueError for the whole board.
    It is ranked now, and an entry of other targets is still found beside its own NaN run."""
    import dataclasses

    from lrgym.leaderboard.ranking import OTHER_TARGETS
    from lrgym.leaderboard.runner import score_runs

    class Refs:
        def initial_loss(self, task, seed):
            return 1.0

        def final_loss(self, task, seed):
            return 0.2 * (1 + 0.1 * seed)

    trajectories = [{"family": t.family, "instance": t.instance, "seed": seed, "diverged": False,
                     "train_losses": [1.0, 0.5, 0.1 * (1 + 0.05 * k)], "lrs": [0.1, 0.1], "val_losses": [1.0, 0.5, 0.1],
                     "val_metrics": [0.0, 0.0, 0.0]}
                    for k, (t, seed) in enumerate((t, seed) for seed in SUITE.seeds for t in SUITE.tasks())]
    runs = score_runs(trajectories, Refs())
    unrecorded = [dataclasses.replace(r, initial_loss=float("nan")) for r in runs]
    other = [dataclasses.replace(r, score=r.score + 0.5) for r in runs]
    other[0] = dataclasses.replace(other[0], initial_loss=float("nan"))
    with ResultStore(tmp_path / "r.sqlite") as s:
        for name, rs in (("today", runs), ("unrecorded", unrecorded), ("other", other)):
            s.add_entry(synthetic_entry(SUITE, name, "submission", summary=summarize(rs, SUITE, reps=50)), rs)
        lb = build_leaderboard(s, SUITE, reps=50, references=Refs())
    assert sorted(r.name for r in lb.rows) == ["today", "unrecorded"] and lb.skipped == {"other": OTHER_TARGETS}


def test_other_targets_judges_as_each_run_rescored_alone():
    """other_targets rescores all of an entry's runs in one call; the reference is the rule run by
    run: a run whose stored score is outside the scores of its own losses against its target ±
    TARGET_RTOL (± SCORE_ATOL) is found, in any position, and nothing else is."""
    import math

    from lrgym.leaderboard.ranking import SCORE_ATOL, TARGET_RTOL, other_targets
    from lrgym.leaderboard.store import RunRecord
    from lrgym.leaderboard.suite import Task

    rng = np.random.default_rng(3)

    class Refs:
        def __init__(self, targets):
            self.targets = targets

        def final_loss(self, task, seed):
            if seed == 99:
                raise KeyError(task)  # a task the references lack: not judged
            return self.targets[(task.instance, seed)]

    def one_by_one(runs, refs):  # the rule, run by run (scalar scoring.score)
        for r in runs:
            try:
                target = refs.final_loss(Task(r.family, r.instance), r.seed)
            except KeyError:
                continue
            if not (math.isfinite(r.score) and math.isfinite(r.initial_loss) and r.initial_loss > 0):
                continue
            ends = [float(scoring.score(r.initial_loss, r.final_loss, t, r.diverged))
                    for t in (target * (1 - TARGET_RTOL), target * (1 + TARGET_RTOL))]
            if all(map(math.isfinite, ends)) and not min(ends) - SCORE_ATOL <= r.score <= max(ends) + SCORE_ATOL:
                return True
        return False

    found = 0
    for trial in range(60):
        n = int(rng.integers(1, 12))
        targets, runs = {}, []
        for i in range(n):
            seed = 99 if rng.random() < 0.1 else i
            l0, lt, lref = 10 ** rng.uniform(-1, 2), 10 ** rng.uniform(-4, 2), 10 ** rng.uniform(-4, 1)
            targets[(i, seed)] = lref
            diverged = bool(rng.random() < 0.15)
            score = float(scoring.score(l0, lt, lref, diverged))
            kind = rng.integers(0, 6)
            score = {0: score + 1e-3, 1: score + 0.5 * SCORE_ATOL, 2: float("nan")}.get(kind, score)
            if kind == 3:
                l0 = float(rng.choice([float("nan"), 0.0, -1.0, float("inf")]))
            runs.append(RunRecord("linreg", i, seed, score, lt, l0, diverged))
        refs = Refs(targets)
        assert other_targets(runs, refs) == one_by_one(runs, refs), runs
        found += one_by_one(runs, refs)
    assert 10 < found < 50  # both verdicts were tested


def test_a_board_without_curves_is_the_same_board(tmp_path):
    """``build_leaderboard(curves=False)`` (show's table) reads no curves and ranks as with them."""
    from lrgym.leaderboard.ranking import build_leaderboard as build

    with ResultStore(tmp_path / "r.sqlite") as s:
        for i, (name, key) in enumerate((("b", "strong"), ("w", "weak"), ("m", "strong"))):
            runs = synthetic_runs(SUITE, MATRICES[key])
            runs = [dataclasses_replace(r, curves={"lr": [0.1 * (i + 1)] * 3, "train_loss": [1.0, 0.5, 0.2, 0.1]})
                    for r in runs]
            s.add_entry(synthetic_entry(SUITE, name, "baseline" if name == "b" else "submission",
                                        summary=summarize(runs, SUITE, reps=50)), runs)
        s.record_failure("broken", "submission", "it raised", suite_version=SUITE.version)
        full, light = build(s, SUITE, reps=50), build(s, SUITE, reps=50, curves=False)
        stored = {r.entry.id: s.runs(r.entry.id) for r in full.rows}
    assert all(x.curves for r in full.rows for x in r.runs) and not any(x.curves for r in light.rows for x in r.runs)
    for a, b in zip(full.rows, light.rows, strict=True):
        assert (a.name, a.rank, a.summary, a.poi, a.algoperf) == (b.name, b.rank, b.summary, b.poi, b.algoperf)
        np.testing.assert_array_equal(a.scores, b.scores)
        np.testing.assert_array_equal(a.times, b.times)
        assert [dataclasses_replace(x, curves={}) for x in stored[a.entry.id]] == b.runs
    assert (full.failures, full.skipped, full.best_baseline) == (light.failures, light.skipped, light.best_baseline)
    assert report.markdown(full) == report.markdown(light)


def test_an_entry_graded_under_another_definition_of_the_version_is_not_ranked(tmp_path):
    """A red team (2026-12-06): a suite file edited without a new revision keeps its version, and
    the board ranked what it graded before beside what it grades now (``fixed`` at horizon 4 beside
    ``hypergradient`` at horizon 6 on ``mine/r1``, no word said), though the suite file's docstring
    promised such entries are skipped. Their runs start from the same losses, so the initial-loss
    check cannot see it; the env keywords each entry stored with its suite can."""
    from lrgym.leaderboard.ranking import OTHER_DEFINITION
    from lrgym.leaderboard.suite import FamilySuite, Suite

    def edited(horizon: int, cap: tuple = ()) -> Suite:  # the same name and revision each time
        return Suite("edited", 1, "a suite file", "test",
                     (FamilySuite("quadratic", (20000, 20001)), FamilySuite("linreg", (20000, 20001), horizon)),
                     (0, 1, 2), (("reward_alphas", (1.0, 0.5)), *cap))  # a tuple: stored as a list

    before, longer, capped = edited(4), edited(6), edited(4, (("cap_factor", 100.0),))
    assert before.version == longer.version == capped.version
    with ResultStore(tmp_path / "r.sqlite") as s:
        for name, suite in (("before", before), ("longer", longer), ("capped", capped), ("undescribed", None)):
            runs = synthetic_runs(before, MATRICES["strong"])
            spec = {"suite": suite.to_dict()} if suite is not None else None  # as the grader stores it
            s.add_entry(synthetic_entry(before, name, "submission", env_spec=spec,
                                        summary=summarize(runs, before, reps=50)), runs)
        boards = {name: build_leaderboard(s, suite, reps=50)
                  for name, suite in (("before", before), ("longer", longer), ("capped", capped))}
    for name, board in boards.items():  # each ranks its own entry, and the one that says nothing
        assert sorted(r.name for r in board.rows) == sorted([name, "undescribed"])
        assert board.skipped == {other: OTHER_DEFINITION for other in boards if other != name}
    from lrgym.leaderboard.text import markdown_escape

    assert markdown_escape(f"longer ({OTHER_DEFINITION})") in report.markdown(boards["before"])


def test_a_rate_just_below_one_is_never_shown_as_100_percent():
    """An audit (2026-12-06): 239 diverged runs of 240 read "100%" (every run) and 1 of 200 read
    "0%" (none: 0.5 rounds half to even), though 1 of 400 read "<1%". Only 0 and 1 read 0 % and 100 %."""
    assert [report_format.percent(f) for f in (0, 1 / 400, 1 / 200, 0.0051, 0.5, 0.994, 239 / 240, 0.9999, 1.0)] == [
        "0%", "<1%", "<1%", "1%", "50%", "99%", ">99%", ">99%", "100%"]



def test_the_plots_caption_counts_and_names_what_is_plotted_by_kind(tmp_path):
    """An audit (2026-12-07): with a submission on the board the caption read "every submission,
    the 5 best baselines (b0, b1, b2, b3, sub, b4)": six names after "5 baselines". It now counts
    every entry drawn and names each group apart, in rank order: the submissions, the best
    baselines (the ``top`` first baselines of the ranking, known here from the scores: b0 best),
    and an entry asked for that neither group holds; a board with fewer baselines than ``top``
    names the ones it has, not ``top``."""
    import re

    pytest.importorskip("matplotlib")
    suite = tiny_suite("caption", families=("quadratic",), n_instances=2, seeds=(0, 1))
    scores = {f"b{i}": 0.9 - 0.1 * i for i in range(6)} | {"sub": 0.55}
    with ResultStore(tmp_path / "r.sqlite") as s:
        for name, score in scores.items():
            runs = synthetic_runs(suite, [[score, score + 0.01], [score + 0.02, score]])
            s.add_entry(synthetic_entry(suite, name, "submission" if name == "sub" else "baseline",
                                        summary=summarize(runs, suite, reps=50)), runs)
        lb = build_leaderboard(s, suite, reps=50)
        for r in lb.rows:
            r.runs = s.runs(r.entry.id)
    assert [r.name for r in lb.rows] == ["b0", "b1", "b2", "b3", "sub", "b4", "b5"]  # by score

    def caption(**kw) -> str:
        page = report.html_page(lb, **kw)
        return " ".join(re.search(r"Shown here and below: (.*?)\. Left:", page, re.S).group(1).split())

    assert caption(top=5) == ("6 entries: the board's one submission (sub) and the 5 best baselines "
                              "(b0, b1, b2, b3, b4) (<code>--top N</code>)")
    assert caption(top=2, entries=("b5",)) == ("4 entries: the board's one submission (sub), the 2 best baselines "
                                               "(b0, b1) (<code>--top N</code>) and the entry asked for (b5) "
                                               "(<code>--entry</code>)")
    assert caption(top=9, submissions=0) == "6 entries: the board's 6 baselines (b0, b1, b2, b3, b4, b5)"


def test_a_board_of_entries_none_of_which_can_be_ranked_says_so(tmp_path):
    """A board whose entries are all stored but cannot be ranked (here: runs of no task of the
    suite; an older lrgym's, whose runs started from other losses, are the same case) opened with
    "No entries yet: run ...", above the "Not ranked (stored for ...)" line naming them; and a
    board of failed attempts alone said it too. The terminal and the HTML page now say that no
    entry can be ranked and how many are listed under "Not ranked" (counted from what was
    written), or that none has succeeded and how many failed; an empty board still says "No
    entries yet"."""
    import html
    import re

    from rich.console import Console

    def said(lb):
        buf = io.StringIO()
        report.print_table(lb, Console(file=buf, width=400, color_system=None), show_failures=False)
        page = html.unescape(re.sub(r"<[^>]+>|\s+", " ", report.html_page(lb, with_plots=False)))
        return " ".join(buf.getvalue().split()), " ".join(page.split())

    unranked = ("alpha", "beta", "gamma")
    with ResultStore(tmp_path / "unranked.sqlite") as s:
        for name in unranked:
            s.add_entry(synthetic_entry(SUITE, name), [])  # no run of the suite's tasks
        s.record_failure("broken", "submission", "boom", suite_version=SUITE.version)
        lb = build_leaderboard(s, SUITE, reps=50)
    assert not lb.rows and sorted(lb.skipped) == list(unranked)
    for text in said(lb):
        assert "No entries" not in text, text
        assert (f'No entry of suite {SUITE.version} can be ranked: its 3 stored entries are listed below under '
                f'"Not ranked", each with why.') in text, text
        assert f"Not ranked (stored for {SUITE.version}): alpha (" in text
    with ResultStore(tmp_path / "failed.sqlite") as s:
        for name in ("broken", "worse"):
            s.record_failure(name, "submission", "boom", suite_version=SUITE.version)
        lb = build_leaderboard(s, SUITE, reps=50)
    for text in said(lb):
        assert "No entries" not in text and f"No entry of suite {SUITE.version} has succeeded yet (2 entries failed)." in text
    with ResultStore(tmp_path / "empty.sqlite") as s:
        lb = build_leaderboard(s, SUITE, reps=50)
    for text in said(lb):
        assert "No entries yet: run lrgym leaderboard run-baselines --suite SUITE_FILE.json" in text.replace("`", "")
