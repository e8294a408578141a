"""The README's validation table (:mod:`lrgym.leaderboard.val_table`) ranks like the board."""

import numpy as np
from scipy.stats import trim_mean

from lrgym.leaderboard.val_table import markdown

FAMILIES = ["linreg", "quadratic", "mlp", "recsys"]


def _rows(table: str) -> dict[str, list[str]]:
    rows = [line.strip("|").split("|") for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    return {cells[0].strip(): [c.strip().strip("*") for c in cells[1:]] for cells in rows[1:]}


def test_the_table_shows_and_sorts_by_the_family_iqm_so_a_given_up_family_costs_its_share():
    """``gives_up`` scores 1.1 everywhere but diverges on every recsys run (S = −1, a quarter of
    its runs: the pooled IQM trims them all away and reads 1.1); ``steady`` scores 0.9 to 1.0."""
    rng = np.random.default_rng(0)
    steady = {f: rng.uniform(0.9, 1.0, size=40) for f in FAMILIES}
    gives_up = {f: np.full(40, 1.1) for f in FAMILIES}
    gives_up["recsys"] = np.full(40, -1.0)
    result = {"scores": {"gives_up": gives_up, "steady": steady}, "families": FAMILIES,
              "seeds": [0, 1, 2, 3, 4], "instances": {f: list(range(8)) for f in FAMILIES}, "skipped": []}
    table = markdown(result)
    rows = _rows(table)
    for name, per in result["scores"].items():
        expected = np.mean([trim_mean(per[f], 0.25) for f in FAMILIES])  # the board's statistic, by hand
        assert rows[name][-1] == f"{expected:.2f}", name
        assert rows[name][-2] == f"{np.mean(np.concatenate(list(per.values()))):.2f}", name
    assert list(rows) == ["steady", "gives_up"]  # 0.95 against (3 × 1.1 − 1) / 4 = 0.575


def test_unknown_baselines_or_families_stop_before_the_reference_searches(monkeypatch, capsys):
    """``--baselines cosin`` started the val references (minutes) and failed only after them;
    now argparse's error names the bad value and the valid choices: the registry's baselines and
    the families of the ``val`` suite (the references)."""
    import pytest

    import lrgym.leaderboard.val_table as vt
    from lrgym.baselines.registry import BASELINES
    from lrgym.leaderboard.suite import get_suite

    def no_run(*args, **kwargs):
        raise AssertionError("the table was computed before the arguments were checked")

    monkeypatch.setattr(vt, "compute", no_run)
    for argv, valid in ((["--baselines", "fixed", "cosin"], list(BASELINES)),
                        (["--families", "mlpp"], [fs.family for fs in get_suite("val").families])):
        with pytest.raises(SystemExit) as stop:
            vt.main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2
        assert f"{argv[0]} {argv[-1]}: unknown; valid choices: {', '.join(valid)}" in err


def test_write_refuses_a_partial_table_or_a_missing_readme_before_computing(tmp_path, monkeypatch, capsys):
    """``--baselines fixed --write`` replaced the README's table of every baseline with one row
    (``--families linreg`` with one column), and ``--write`` without a README (an installed
    package) computed the table for minutes, then lost it to a FileNotFoundError traceback."""
    import pytest

    import lrgym.leaderboard.val_table as vt

    def no_run(*args, **kwargs):
        raise AssertionError("the table was computed before the arguments were checked")

    monkeypatch.setattr(vt, "compute", no_run)
    monkeypatch.setattr(vt, "write_section", no_run)
    for argv, message in ((["--baselines", "fixed"], "--write with --baselines fixed: the README's table ranks every "
                           "baseline; valid: --write without --baselines"),
                          (["--families", "linreg"], "--write with --families linreg: the README's table has every "
                           "family of the val suite")):
        with pytest.raises(SystemExit) as stop:
            vt.main([*argv, "--write"])
        assert stop.value.code == 2 and message in " ".join(capsys.readouterr().err.split())
    monkeypatch.setattr(vt, "SECTION", tmp_path / "README.md")
    with pytest.raises(SystemExit) as stop:
        vt.main(["--write"])
    err = " ".join(capsys.readouterr().err.split())
    assert stop.value.code == 2 and f"--write: {tmp_path / 'README.md'} not found; valid: --write in a source checkout" in err


def test_json_is_checked_as_every_output_before_computing(tmp_path, monkeypatch, capsys):
    """``--json`` was written after the table's minutes of runs, unchecked: a shipped file
    (``--json baselines/tuned.json`` replaced the tuned values without ``--ship``), a folder that
    takes no file (``/proc``: a traceback losing the scores), a device (as root ``--json
    /dev/null`` replaced the machine's /dev/null; a FIFO stands for it here). Refused before
    the runs, as the trainers' outputs are (lrgym.baselines.outputs.output_path)."""
    import os

    import pytest

    import lrgym.leaderboard.val_table as vt
    from lrgym.baselines import outputs

    def no_run(*args, **kwargs):
        raise AssertionError("the table was computed before the arguments were checked")

    monkeypatch.setattr(vt, "compute", no_run)
    fifo = tmp_path / "stream"
    os.mkfifo(fifo)
    for given, message in ((str(outputs.SHIPPED_TUNED), "the shipped tuned.json"),
                           (str(vt.SECTION), "the shipped README.md"),
                           (str(fifo), "is a stream or a device")):
        with pytest.raises(SystemExit) as stop:
            vt.main(["--json", given])
        err = " ".join(capsys.readouterr().err.split())
        assert stop.value.code == 2 and f"--json {given}" in err and message in err, err


def test_json_in_a_folder_to_be_made_is_written(tmp_path, monkeypatch, capsys):
    """``--json`` in folders that do not exist yet passes the check (they can be made) and is
    written after the runs, its folders made: it was a FileNotFoundError then, the scores of the
    table's minutes of runs lost."""
    import json

    import lrgym.leaderboard.val_table as vt

    monkeypatch.setattr(vt, "compute", lambda *args, **kwargs: {"scores": {"fixed": {"linreg": np.array([0.5])}}})
    monkeypatch.setattr(vt, "markdown", lambda result: "the table")
    out = tmp_path / "new" / "folder" / "val.json"
    vt.main(["--json", str(out)])
    assert json.loads(out.read_text())["scores"] == {"fixed": {"linreg": [0.5]}}


def test_tuned_only_prints_the_tuned_table_and_writes_only_it(tmp_path, monkeypatch, capsys):
    """``--tuned-only`` prints the tuned values read from tuned.json, one row per hand-designed
    baseline and one cell per tuned family, runs nothing, and with ``--write`` replaces the
    tuned block alone (the scores block left as it was)."""
    import lrgym.leaderboard.val_table as vt
    from lrgym.baselines.registry import load_tuned

    def no_run(*args, **kwargs):
        raise AssertionError("--tuned-only computed the table")

    monkeypatch.setattr(vt, "compute", no_run)
    vt.main(["--tuned-only"])
    out = capsys.readouterr().out
    tuned = load_tuned()
    lines = [line for line in out.splitlines() if line.startswith("| ")]
    assert lines[0] == "| baseline | " + " | ".join(tuned["settings"]) + " |"
    assert [line.split(" | ")[0][2:] for line in lines[1:]] == list(tuned["values"])
    name, per = next(iter(tuned["values"].items()))
    family = next(iter(tuned["settings"]))
    assert f"η={per[family]['lr']:.3g}" in lines[1]
    readme = tmp_path / "README.md"
    readme.write_text(f"a\n{vt.BEGIN}\nscores kept\n{vt.END}\nb\n{vt.TUNED_BEGIN}\nold\n{vt.TUNED_END}\nc\n")
    monkeypatch.setattr(vt, "SECTION", readme)
    write = vt.write_section
    monkeypatch.setattr(vt, "write_section", lambda **kw: write(path=readme, **kw))
    vt.main(["--tuned-only", "--write"])
    text = readme.read_text()
    assert "scores kept" in text and "\nold\n" not in text and lines[0] in text


def test_tuned_only_refuses_the_options_that_choose_runs(monkeypatch, capsys):
    """``--tuned-only`` runs nothing: with ``--json x.json`` it wrote no x.json, and with
    ``--baselines``, ``--families`` or ``--workers`` it dropped them, each without a word.
    Refused, naming what was given."""
    import pytest

    import lrgym.leaderboard.val_table as vt

    def no_run(*args, **kwargs):
        raise AssertionError("the table was computed")

    monkeypatch.setattr(vt, "compute", no_run)
    for argv in (["--json", "x.json"], ["--baselines", "fixed"], ["--families", "mlp"], ["--workers", "2"],
                 ["--json", "x.json", "--workers", "2"]):
        with pytest.raises(SystemExit) as stop:
            vt.main(["--tuned-only", *argv])
        err = " ".join(capsys.readouterr().err.split())
        given = " ".join(f for f in ("--baselines", "--families", "--workers", "--json") if f in argv)
        assert stop.value.code == 2 and f"{given}: --tuned-only runs nothing" in err, err
