"""The report's plots: who is in them, how they are told apart, and what the curves show.

A board of 20 synthetic entries: 18 baselines (one of them learned), a submission ranked last
and one ranked in the middle. The figures are inspected as matplotlib objects (legends, tick
labels, line data), and the median curves are checked against a direct computation.
"""

from __future__ import annotations

import numpy as np
import pytest
from lb_helpers import StubReferences, synthetic_entry, tiny_suite

pytest.importorskip("matplotlib")

from lrgym.leaderboard import report  # noqa: E402
from lrgym.leaderboard.ranking import build_leaderboard  # noqa: E402
from lrgym.leaderboard.report_plots import LEGEND_ROW_HEIGHT  # noqa: E402
from lrgym.leaderboard.runner import summarize  # noqa: E402
from lrgym.leaderboard.store import ResultStore, RunRecord  # noqa: E402

SUITE = tiny_suite("plots", families=("quadratic", "linreg"), n_instances=2, seeds=(0, 1, 2))
N_BASELINES = 18
LOW, MIDDLE, LEARNED = "my-low-entry", "my-mid-entry", "dqn"


def lr_of(level: float, j: int, seed: int) -> float:
    """A constant LR per run that differs across instances and seeds (so medians are not trivial)."""
    return level * (1 + j + 2 * seed)


def runs_for(level: float) -> list[RunRecord]:
    runs = []
    for seed in SUITE.seeds:
        for j, task in enumerate(SUITE.tasks()):
            score = level + 0.01 * (seed + j)
            lr = lr_of(level, j, seed)
            runs.append(RunRecord(
                family=task.family, instance=task.instance, seed=seed, score=score, final_loss=0.1, initial_loss=1.0,
                diverged=False, steps_to_target=float(1 + j), curves={
                    "lr": [lr] * 6, "train_loss": [2.0 * (1 - 0.1 * level) ** t for t in range(7)],
                    "val_loss": [2.0] * 7, "metric": [0.0] * 7}))
    return runs


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    path = tmp_path_factory.mktemp("plots") / "r.sqlite"
    entries = [(f"b{i:02d}", "baseline", 1.0 - 0.04 * i, {}) for i in range(N_BASELINES - 1)]
    entries.append((LEARNED, "baseline", 0.55, {"policy": {"kind": "baseline", "name": "dqn"}}))
    entries += [(MIDDLE, "submission", 0.5, {}), (LOW, "submission", 0.01, {})]
    with ResultStore(path) as store:
        for name, kind, level, spec in entries:
            runs = runs_for(level)
            store.add_entry(synthetic_entry(SUITE, name, kind, env_spec=spec, summary=summarize(runs, SUITE, reps=50)),
                            runs)
        yield build_leaderboard(store, SUITE, reps=50)


def legend_texts(fig) -> list[str]:
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
    return [t.get_text() for lg in legends for t in lg.get_texts()]


def test_a_low_ranked_submission_is_in_every_plot(board):
    names = [r.name for r in board.rows]
    assert names[-1] == LOW and len(names) == 20  # ranked last
    figs = report.figures(board, top=3)
    assert set(figs) == {"ci", "profile", "algoperf", "family:quadratic", "family:linreg"}
    for key, fig in figs.items():
        texts = " | ".join(legend_texts(fig) + [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()])
        assert f"{LOW} (submission)" in texts, key
        assert f"{MIDDLE} (submission)" in texts, key
        assert "b00" in texts and "b01" in texts and "b02" in texts, key  # the best baselines beside them
        if key != "ci":  # the CI plot holds the whole board, the others only the chosen entries
            assert "b05" not in texts, key
    page = report.html_page(board, top=3)
    assert page.count('src="data:image/png;base64,') == 3 + len(SUITE.families)


def test_plotted_rows_takes_named_entries_and_rejects_unknown_ones(board):
    shown = [r.name for r in report.plotted_rows(board, top=2)]
    assert shown == ["b00", "b01", MIDDLE, LOW]  # rank order
    shown = [r.name for r in report.plotted_rows(board, top=2, entries=["b10"])]
    assert shown == ["b00", "b01", "b10", MIDDLE, LOW]
    with pytest.raises(ValueError, match=r"entry 'nope' is not on the .* board; valid choices: b00, b01"):
        report.plotted_rows(board, entries=["nope"])
    with pytest.raises(ValueError, match="entry 'nope'"):
        report.html_page(board, entries=["nope"])


def test_styles_never_repeat_and_kinds_are_labelled(board):
    styles = report.entry_styles(board)
    assert len({s.color for s in styles.values()}) == 20  # 20 entries, 20 colours
    assert styles[LEARNED].label == "dqn (learned)"
    assert styles[LOW].label == f"{LOW} (submission)" and styles[LOW].linewidth > styles["b00"].linewidth
    assert styles["b00"].label == "b00"
    # beyond 20 entries a colour comes back only with another line style
    pairs = [(report.PALETTE[i % 20], report.LINE_STYLES[i // 20]) for i in range(40)]
    assert len(set(pairs)) == 40


#: entry names (at most 64 characters) that share their first 28 characters, and some their end too
LONG_NAMES = ["adaptive-lr-controller-tuned-on-val-variant-A", "adaptive-lr-controller-tuned-on-val-variant-B",
              "adaptive-lr-controller-1-tuned-on-the-val-set", "adaptive-lr-controller-2-tuned-on-the-val-set",
              "x" * 30 + "A" + "x" * 33, "x" * 30 + "B" + "x" * 33, "short", "x" * 28]


def test_long_names_that_share_their_start_get_distinct_readable_labels(tmp_path):
    """Labels were the first 27 characters and "…": two entries whose names share 28 first
    characters were one label in every legend. Now each label is the name's start and end around
    an ellipsis, longer where two would still read alike; a name of up to 28 characters (every
    shipped baseline's) is its own label."""
    with ResultStore(tmp_path / "r.sqlite") as store:
        for i, name in enumerate(LONG_NAMES):
            runs = runs_for(0.9 - 0.1 * i)
            store.add_entry(synthetic_entry(SUITE, name, "submission", summary=summarize(runs, SUITE, reps=50)), runs)
        board = build_leaderboard(store, SUITE, reps=50)
    labels = {name: style.label.removesuffix(" (submission)") for name, style in report.entry_styles(board).items()}
    assert len(set(labels.values())) == len(LONG_NAMES)
    for name, label in labels.items():  # each label is its name, or the name's start … end
        start, cut, end = label.partition("…")
        assert label == name if len(name) <= report.LABEL_CHARS else (
            cut and name.startswith(start) and name.endswith(end) and len(start) > len(end) > 0), (name, label)
    assert labels["short"] == "short" and labels["x" * 28] == "x" * 28
    assert len(labels[LONG_NAMES[0]]) == report.LABEL_CHARS  # told apart by their ends: no longer than the rest
    fig = report.figures(board, top=0)["profile"]
    assert sorted(legend_texts(fig)) == sorted(f"{label} (submission)" for label in labels.values())


def test_family_panels_show_the_median_and_spread_over_seeds_and_instances(board):
    fig = report.figures(board, top=1)["family:linreg"]
    ax_lr, ax_loss, _ = fig.axes[:3]
    styles = report.entry_styles(board)
    tasks = [j for j, t in enumerate(SUITE.tasks()) if t.family == "linreg"]
    for name, level in (("b00", 1.0), (LOW, 0.01)):
        want = [lr_of(level, j, s) for j in tasks for s in SUITE.seeds]
        lines = [ln for ln in ax_lr.get_lines() if ln.get_label() == styles[name].label]
        assert len(lines) == 1
        np.testing.assert_allclose(lines[0].get_ydata(), np.median(want))
        # the 25–75 % band around it
        band = np.quantile(want, [0.25, 0.75])
        polys = [c for c in ax_lr.collections if np.allclose(c.get_facecolor()[0][:3],
                                                              _rgb(styles[name].color))]
        ys = np.concatenate([p.get_paths()[0].vertices[:, 1] for p in polys])
        assert ys.min() == pytest.approx(band[0]) and ys.max() == pytest.approx(band[1])
        # one example run: the family's first instance and seed (a thin line of the same colour)
        thin = [ln for ln in ax_lr.get_lines() if ln.get_color() == styles[name].color and ln.get_linewidth() < 1]
        assert len(thin) == 1
        np.testing.assert_allclose(thin[0].get_ydata(), lr_of(level, tasks[0], SUITE.seeds[0]))
    # losses relative to the initial loss: (1 − 0.1·level)^t for every run
    med = [ln for ln in ax_loss.get_lines() if ln.get_label() == styles["b00"].label][0]
    np.testing.assert_allclose(med.get_ydata(), 0.9 ** np.arange(7))


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))


def _assert_lr_against_references(fig, level):
    """Each family's axes of an LR figure: per instance of the suite, the entry's LR curve on the
    suite's first seed (that of runs_for(level)) and, dashed in the same colour, its reference LR."""
    for ax, fs in zip(fig.axes, SUITE.families):
        curves = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 2]
        refs = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        assert len(curves) == len(refs) == len(fs.instances)
        for j, (curve, ref) in enumerate(zip(curves, refs)):
            task_index = [(t.family, t.instance) for t in SUITE.tasks()].index((fs.family, fs.instances[j]))
            np.testing.assert_allclose(curve.get_ydata(), lr_of(level, task_index, SUITE.seeds[0]))
            assert ref.get_ydata()[0] == pytest.approx(0.001 * (1 + fs.instances[j] % 7))
            assert curve.get_color() == ref.get_color()


def test_controller_figure_sets_its_lr_against_each_instances_reference(tmp_path):
    path = tmp_path / "c.sqlite"
    with ResultStore(path) as store:
        for name, level in (("controller", 0.9), ("b00", 0.5)):
            runs = runs_for(level)
            store.add_entry(synthetic_entry(SUITE, name, "baseline", summary=summarize(runs, SUITE, reps=50)), runs)
        lb = build_leaderboard(store, SUITE, reps=50)
    assert report.controller_figure(lb, None) is None  # needs the references
    fig = report.controller_figure(lb, StubReferences())
    _assert_lr_against_references(fig, 0.9)
    assert "controller" in report.figures(lb, references=StubReferences())
    # its row recorded no weights: not those this install ships, which the figure says (it travels alone)
    assert report.stale_baselines(lb) == ["controller"] and "stale row" in fig._suptitle.get_text()
    from lrgym.baselines.registry import shipped_inputs

    with ResultStore(tmp_path / "fresh.sqlite") as store:
        runs = runs_for(0.9)
        store.add_entry(synthetic_entry(SUITE, "controller", "baseline", summary=summarize(runs, SUITE, reps=50),
                                        env_spec={"inputs": shipped_inputs(["controller"])}), runs)
        fresh = build_leaderboard(store, SUITE, reps=50)
    assert report.stale_baselines(fresh) == [] and report.controller_figure(fresh, StubReferences())._suptitle is None
    no_controller = [r for r in lb.rows if r.name != "controller"]
    lb.rows[:] = no_controller
    assert report.controller_figure(lb, StubReferences()) is None


def test_an_entry_asked_for_gets_its_lr_against_the_reference(tmp_path):
    """Only the entry named ``controller`` had its LR set against each instance's reference LR: a
    controller trained by ``train_controller`` is a submission under a name of its own (the name
    ``controller`` is the baseline's), whose curves the report could not show. ``--entry NAME``
    draws them, each instance's LR curve (the suite's first seed) beside its reference."""
    from lrgym.leaderboard.report_html import html_page
    from lrgym.leaderboard.report_plots import lr_figure_key

    path = tmp_path / "v.sqlite"
    with ResultStore(path) as store:
        for name, kind, level in (("controller", "baseline", 0.9), ("my variant", "submission", 0.7)):
            runs = runs_for(level)
            store.add_entry(synthetic_entry(SUITE, name, kind, summary=summarize(runs, SUITE, reps=50)), runs)
        lb = build_leaderboard(store, SUITE, reps=50)
    figs = report.figures(lb, references=StubReferences(), entries=("my variant", "controller"))
    assert lr_figure_key("my variant") in figs and lr_figure_key("controller") not in figs  # drawn once, as before
    assert lr_figure_key("my variant") not in report.figures(lb, references=StubReferences())
    fig = figs[lr_figure_key("my variant")]
    assert fig._suptitle.get_text() == "my variant: LR against the reference LR"  # a figure travels alone
    _assert_lr_against_references(fig, 0.7)
    page = html_page(lb, references=StubReferences(), entries=("my variant",))
    assert 'alt="my variant LR against the reference LR"' in page and "<code>my variant</code> entry" in page
    assert 'alt="controller LR against the reference LR"' in page
    assert "against the reference LR" not in html_page(lb, references=StubReferences()).replace(
        'alt="controller LR against the reference LR"', "")


def test_a_diverged_run_scores_minus_one_in_the_progress_panel_from_its_diverging_step():
    """An audit (2026-12-06): the progress panel scored a diverged run's last loss as if it had
    not diverged: the env's cap is 1e4 × L0, and against a reference 1e-8 × L0 that loss is
    S = −log(2e4) / log(1e8) ≈ −0.54, not −1 (the board's score of the run; plateau's diverged
    val quadratic runs read −0.51 … −0.56). Before the diverging step the run keeps its S(t)."""
    from lrgym.leaderboard.report_plots import progress_matrix

    losses = [1.0, 1e-2, 2e4]  # L0, one good step, then the diverging step (above 1e4 · L0)

    class Refs:
        def final_loss(self, task, seed):
            return 1e-8

    run = RunRecord(family="linreg", instance=20000, seed=0, score=-1.0, final_loss=float("inf"), initial_loss=1.0,
                    diverged=True, curves={"lr": [0.1, 10.0], "train_loss": losses})
    np.testing.assert_allclose(progress_matrix([run], Refs(), "linreg", 5)[0], [0.0, 0.25, -1.0, -1.0, -1.0])
    kept = RunRecord(**{**run.__dict__, "diverged": False, "score": -0.54})  # not diverged: the ratio, clipped
    assert progress_matrix([kept], Refs(), "linreg", 3)[0][2] == pytest.approx(-np.log(2e4) / np.log(1e8))


def test_relative_losses_are_drawn_down_to_the_scores_precision_floor_only():
    """An audit (2026-12-06): noise-free quadratics' losses reach 1e-127 × L0, and the loss panel
    drew them there although the score counts every loss below 1e-12 × L0 as 1e-12 × L0 (float
    noise beyond): a hundred decades of noise, every other curve squeezed into the top tenth."""
    from lrgym.leaderboard.report_plots import curve_matrix
    from lrgym.leaderboard.scoring import PRECISION_FLOOR

    run = RunRecord(family="quadratic", instance=20000, seed=0, score=1.0, final_loss=1e-130, initial_loss=2.0,
                    diverged=False, curves={"train_loss": [2.0, 2e-6, 2e-20, 1e-130, float("nan")]})
    np.testing.assert_array_equal(curve_matrix([run], "train_loss", 6, relative=True)[0],
                                  [1.0, 1e-6, PRECISION_FLOOR, PRECISION_FLOOR, np.nan, np.inf])
    np.testing.assert_array_equal(curve_matrix([run], "train_loss", 3)[0], [2.0, 2e-6, 2e-20])  # absolute: as stored



def test_a_board_of_many_submissions_gets_family_figures_with_panels_of_one_height(tmp_path):
    """Every submission drawn (``report --submissions N``) is a row of a family figure's legend; the panels had been squeezed to make room for it, until from 73 labels (67 submissions
    beside 5 baselines and the reference line) matplotlib refused the figure ("bottom cannot be >=
    top") and the whole report failed. The figure grows instead: its panels keep their height."""
    def panel_height(fig):
        return fig.axes[0].get_position().height * fig.get_size_inches()[1]

    heights = {}
    for n_subs in (1, 80):
        with ResultStore(tmp_path / f"many{n_subs}.sqlite") as store:
            for i, level in enumerate((0.9, 0.8, 0.7)):
                runs = runs_for(level)
                store.add_entry(synthetic_entry(SUITE, f"b{i}", "baseline", summary=summarize(runs, SUITE, reps=20)),
                                runs)
            for i in range(n_subs):
                runs = runs_for(0.5 + 0.001 * i)
                store.add_entry(synthetic_entry(SUITE, f"sub{i:03d}", "submission",
                                                summary=summarize(runs, SUITE, reps=20)), runs)
            lb = build_leaderboard(store, SUITE, reps=20)
        fs = SUITE.families[0]
        fig = report.family_figure(lb, fs, report.plotted_rows(lb, top=3, submissions=n_subs), report.entry_styles(lb),
                                   StubReferences())
        assert len(legend_texts(fig)) == 3 + n_subs + 1  # (the reference LR's line too)
        heights[n_subs] = panel_height(fig), fig.get_size_inches()[1]
    (few, few_fig), (many, many_fig) = heights[1], heights[80]
    assert many == pytest.approx(few)  # the panels keep their height ...
    assert many_fig > few_fig + 10 * LEGEND_ROW_HEIGHT  # ... and the figure grows by the legend's rows


def test_a_hosted_board_draws_its_best_submissions_and_the_ci_of_its_first_rows(tmp_path):
    """A board of 2,000 submissions drew every one in every plot (a CI figure 47,591 pixels tall,
    legends of 38,000): the plots draw the ``submissions`` best (20 by default, as ``report
    --submissions``), the named entries and the best baselines; the CI figure the board's first
    CI_ROWS rows and those; the page says how many of how many it draws."""
    import typer.main

    from lrgym.leaderboard.cli import report as report_command
    from lrgym.leaderboard.report_plots import CI_ROWS, PLOTTED_SUBMISSIONS

    n_subs = CI_ROWS + 10
    with ResultStore(tmp_path / "hosted.sqlite") as store:
        for i, level in enumerate((0.9, 0.8)):
            runs = runs_for(level)
            store.add_entry(synthetic_entry(SUITE, f"b{i}", "baseline", summary=summarize(runs, SUITE, reps=20)), runs)
        for i in range(n_subs):
            runs = runs_for(0.7 - 0.005 * i)
            store.add_entry(synthetic_entry(SUITE, f"sub{i:03d}", "submission", summary=summarize(runs, SUITE, reps=20)),
                            runs)
        lb = build_leaderboard(store, SUITE, reps=20)
    subs = [r.name for r in lb.rows if r.entry.kind == "submission"]
    last = subs[-1]
    shown = [r.name for r in report.plotted_rows(lb, top=1, entries=[last])]
    assert shown == ["b0", *subs[:PLOTTED_SUBMISSIONS], last]
    assert [r.name for r in report.plotted_rows(lb, top=1, submissions=n_subs)] == ["b0", *subs]
    ci = [r.name for r in report.ci_rows(lb, report.plotted_rows(lb, top=1, entries=[last]))]
    assert ci == [r.name for r in lb.rows[:CI_ROWS]] + [last]
    figs = report.figures(lb, top=1, entries=[last])
    assert len(figs["ci"].axes[0].get_yticklabels()) == CI_ROWS + 1
    assert len(legend_texts(figs["profile"])) == PLOTTED_SUBMISSIONS + 2
    page = report.html_page(lb, top=1, entries=[last])
    assert f"the {PLOTTED_SUBMISSIONS} best of the board's {n_subs} submissions" in page
    assert f"The first {CI_ROWS} of the board's {n_subs + 2} rows" in page
    default = {p.name: p.default for p in typer.main.get_params_from_function(report_command).values()}
    assert default["submissions"].default == PLOTTED_SUBMISSIONS  # the CLI's default is the plots' own
