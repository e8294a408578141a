"""Bad output paths and submission options are the option's error before any work (a bad-input
audit, 2026-12-05): no traceback after a finished run, nothing written inside the package."""

from __future__ import annotations

import json

import pytest

typer_testing = pytest.importorskip("typer.testing")

from lrgym.baselines import outputs  # noqa: E402
from lrgym.leaderboard.cli import app  # noqa: E402


def _invoke(*args):
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", *map(str, args)], env={"COLUMNS": "400"})
    return result.exit_code, " ".join(result.output.replace("│", " ").split())


@pytest.fixture
def package(tmp_path, monkeypatch):
    """The package's folders, for these tests a folder of tmp_path (so an output the check misses
    lands there, never in the real package); its weights folder exists, as the shipped one does."""
    pkg = tmp_path / "pkg"
    (pkg / "baselines" / "weights").mkdir(parents=True)
    monkeypatch.setattr(outputs, "package_folders", lambda: [pkg.resolve()])
    monkeypatch.chdir(tmp_path)
    return pkg


def test_package_folders_are_the_installed_packages():
    import lrgym
    import lrgym.baselines
    import lrgym.leaderboard
    from pathlib import Path

    expected = {Path(m.__file__).parent.resolve() for m in (lrgym, lrgym.baselines, lrgym.leaderboard)}
    assert set(outputs.package_folders()) == expected


@pytest.mark.parametrize("args", [
    ("report", "--suite", "quick", "--no-html", "--markdown", "{pkg}/baselines/weights"),
    ("report", "--suite", "quick", "--html", "{pkg}/baselines/weights/board.html", "--no-markdown"),
    ("export", "--suite", "quick", "--format", "csv", "--out", "{pkg}/baselines/weights"),
    ("export", "--suite", "quick", "--format", "json", "--out", "{pkg}/baselines/weights"),
    ("suites", "--private", "{pkg}/baselines/weights/new.key"),
])
def test_no_output_lands_inside_the_package(package, args):
    """``--markdown baselines/weights`` made ``weights/LEADERBOARD-quick.md``, which the wheel
    then shipped as a weights file (only an existing shipped file was refused)."""
    code, out = _invoke(*(a.format(pkg=package) for a in args), *(() if args[0] == "suites" else ("--db", "s.sqlite")))
    assert code == 2 and "in the installed package's" in out and "whose files ship with it" in out, out
    assert sorted(p.name for p in package.rglob("*")) == ["baselines", "weights"]  # nothing written


def test_only_where_files_ship_is_refused(package):
    """A review (2026-12-05): ``runs/`` made in ``baselines/`` (the working directory there) was
    refused too, though nothing in it ships: only a data folder or a Python package's folder is."""
    (package / "baselines" / "__init__.py").write_text("")
    for ships in ("baselines/x.md", "baselines/weights/sub/x.md", "baselines/weights/x"):
        with pytest.raises(ValueError, match="whose files ship with it"):
            outputs.check_outside_package(package / ships, "--out")
    for fine in ("baselines/runs/x.md", "runs/x.md", "../elsewhere/x.md"):
        outputs.check_outside_package(package / fine, "--out")


@pytest.mark.parametrize("args", [
    ("report", "--suite", "quick", "--no-html", "--markdown", "a.sh/x.md"),
    ("export", "--suite", "quick", "--format", "json", "--out", "a.sh/e.json"),
    ("export", "--suite", "quick", "--format", "csv", "--out", "a.sh/sub"),
    ("run-baselines", "--suite", "quick", "--only", "fixed", "--markdown", "a.sh/x.md"),
])
def test_an_output_under_a_file_is_refused_before_any_work(package, args):
    """``run-baselines --markdown a.sh/x.md`` (``a.sh`` a file) ran every baseline, printed the
    board, then ended in a FileExistsError traceback."""
    (package.parent / "a.sh").write_text("#!/bin/sh\n")
    code, out = _invoke(*args, "--db", "s.sqlite")
    assert code == 2 and "a.sh is a file, not a folder" in out, out
    assert not (package.parent / "s.sqlite").exists()  # nothing ran, nothing stored


def test_a_name_too_long_for_the_file_system_is_refused_by_its_length(package):
    code, out = _invoke("report", "--suite", "quick", "--no-html", "--markdown", "x" * 300 + ".md", "--db", "s.sqlite")
    assert code == 2 and "bytes long; valid: names of at most" in out, out


@pytest.mark.parametrize("options, message", [
    ([1, 2], "env options [1, 2] are a list; valid: a dict (a JSON object) of optimizer, action_mode"),
    ("x", "env options x are a str; valid: a dict (a JSON object)"),
    ({"optimizer": "ADAM"}, "optimizer='ADAM' not allowed; valid choices: sgd"),
])
def test_env_options_that_are_no_object_or_name_a_bad_optimizer_stop_on_the_command_line(tmp_path, options, message):
    """``--env-options '[1,2]'`` was a TypeError traceback; ``'{"optimizer": "ADAM"}'`` passed the
    command line (only --optimizer was checked) and was stored as a failed entry."""
    zip_path = tmp_path / "model.zip"
    zip_path.write_bytes(b"not read on the command line")
    db = tmp_path / "s.sqlite"
    code, out = _invoke("submit", zip_path, "--suite", "quick", "--db", db, "--env-options", json.dumps(options))
    assert code == 2 and message in out, out
    assert not db.exists()


@pytest.mark.parametrize("flag, options, message", [
    ("sgd", "adam", "--optimizer 'sgd' and --env-options' optimizer 'adam' differ"),
    ("adam", "sgdx", "optimizer='sgdx' not allowed; valid choices: sgd"),  # named before the two are compared
])
def test_an_optimizer_named_twice_must_be_one_valid_optimizer(tmp_path, flag, options, message):
    zip_path = tmp_path / "model.zip"
    zip_path.write_bytes(b"not read on the command line")
    code, out = _invoke("submit", zip_path, "--suite", "quick", "--db", tmp_path / "s.sqlite", "--optimizer", flag,
                        "--env-options", json.dumps({"optimizer": options}))
    assert code == 2 and message in out, out


def test_a_fifo_given_as_the_policy_file_is_named_as_one(tmp_path):
    """``submit fifo:Keep`` said "policy file ... not found": it is there, but no file."""
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code, out = _invoke("submit", f"{fifo}:Keep", "--suite", "quick", "--db", tmp_path / "s.sqlite")
    assert code == 2 and f"policy file {fifo} is a FIFO (named pipe), not a file" in out, out
    code, out = _invoke("submit", f"{tmp_path / 'missing.py'}:Keep", "--suite", "quick", "--db", tmp_path / "s.sqlite")
    assert code == 2 and "missing.py not found" in out, out


def test_a_key_given_as_a_symbolic_link_loop_is_called_a_loop(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    code, out = _invoke("suites", "--private", tmp_path / "a")
    assert code == 2 and "is a symbolic link loop" in out and "does not exist" not in out, out


def test_a_path_longer_than_the_system_takes_is_refused_by_its_length(tmp_path):
    """25 names of 200 bytes: each name fits, the path does not (an OSError from is_dir before)."""
    long = "/".join(["d" * 200] * 25)
    with pytest.raises(ValueError, match=r"--out: the path is [\d,]+ bytes long; valid: paths of fewer than"):
        outputs.output_path(tmp_path / "x.json", out=str(tmp_path / long), option="--out")


def test_streams_are_outputs_for_any_user(tmp_path):
    """A review (2026-12-05): ``--markdown /dev/stdout`` (or /dev/null) was refused for a user who
    may not write /dev; a stream is written in place, so only the stream itself matters."""
    import os
    import subprocess
    import sys

    code = ("import os, sys, stat, tempfile\n"  # imported first: the Python install is root's alone
            "from pathlib import Path\n"
            "from lrgym.baselines import outputs\n"
            "from lrgym.files import is_descriptor_path\n"
            "if os.geteuid() == 0:\n    os.setgid(65534); os.setuid(65534)\n"
            "for p in ('/dev/stdout', '/dev/null'):\n"
            "    print(outputs.output_path(Path('board.md'), out=p, option='--markdown', in_place=True))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["/dev/stdout", "/dev/null"]


@pytest.mark.parametrize("args", [["report", "--markdown", ""], ["report", "--html", ""], ["report", "--db", ""],
                                  ["export", "--out", ""], ["report", "--private", ""], ["show", "--private", ""]])
def test_an_empty_path_is_the_options_error_not_the_current_folder(tmp_path, monkeypatch, args):
    """``--markdown ""`` (an unset shell variable) was ``Path("")``, i.e. ``.``: the report was
    written into the current folder under its default name; now nothing is written."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    code, output = _invoke(*args)
    assert code == 2, output
    assert f"Invalid value for '{args[1]}'" in output and "': an empty path; valid: a file or folder path" in output
    assert list(tmp_path.iterdir()) == []
