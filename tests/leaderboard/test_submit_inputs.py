"""``submit`` refuses what it can judge without running the submitted code, before any run or
store write, naming the bad value and the valid forms (audit of 2026-12: an empty ``--name`` was
replaced by the declared one, ``file.py:`` was blamed on the entry name, and a folder, a linked
policy file or a class name that is no identifier each cost a sandbox run and a failed entry that
claimed the name). Whether the class exists is known only by importing the code, in the sandbox:
that stays a failed run."""

import os
from pathlib import Path

import pytest

typer_testing = pytest.importorskip("typer.testing")

from lrgym.leaderboard import cli_grading, runner  # noqa: E402
from lrgym.leaderboard.cli import app  # noqa: E402

EXAMPLE = Path(runner.__file__).resolve().parent / "submissions" / "example_policy.py"


class _Ran(Exception):
    pass


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A submitter's folder as the audit had it (ex/ with the example, lnk/pol.py a link to it),
    the working directory, with the CLI's run replaced by a tripwire: nothing may run."""
    (tmp_path / "ex").mkdir()
    (tmp_path / "ex" / "example_policy.py").write_bytes(EXAMPLE.read_bytes())
    (tmp_path / "lnk").mkdir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "lnk" / "pol.py").symlink_to(EXAMPLE)
    monkeypatch.chdir(tmp_path)
    calls = []

    def tripwire(specs, *args, **kw):
        calls.append([s.name for s in specs])
        raise _Ran

    monkeypatch.setattr(cli_grading, "_run", tripwire)  # where submit starts the store, references and run
    return tmp_path, calls


def _submit(*args):
    result = typer_testing.CliRunner().invoke(app, ["leaderboard", "submit", *args, "--suite", "quick",
                                                    "--db", "r.sqlite"], env={"COLUMNS": "400"})
    return result.exit_code, " ".join(result.output.replace("│", " ").split()), result.exception


@pytest.mark.parametrize("args, said", [
    (["ex/example_policy.py:LossWatcher", "--name", ""],
     ["entry name '' is empty", "valid: 1 to 64 characters from letters, digits, space and . _ + -"]),
    (["ex/example_policy.py:LossWatcher", "--name", "   "], ["entry name ' ' is empty"]),
    (["ex/example_policy.py:"], ["submission 'ex/example_policy.py:' names no class after the ':'",
                                 "valid: path/to/policy.py:ClassName, package.module:ClassName or model.zip"]),
    ([":LossWatcher"], ["names no policy file or module before the ':'"]),
    # a trainer's weights: the .py it writes beside them is the submission (it said only "expected ...")
    (["runs/controller_mixed.npz"], ["expected path/to/policy.py:ClassName, module:ClassName or model.zip",
                                     "runs/controller_mixed.py:TrainedController (train_controller)"]),
    # the folder's own .py files (it named ex/policy.py, which is not there)
    (["ex:X"], ["ex is a folder, not a policy file", "valid: ex/example_policy.py:X (a policy file inside it)",
                "package.module:X of an installed package"]),
    (["lnk:X"], ["lnk is a folder", "valid: lnk/policy.py:X (a policy file inside it)"]),  # no link offered
    (["empty:X"], ["empty is a folder", "valid: empty/policy.py:X (a policy file inside it)"]),
    (["lnk/pol.py:LossWatcher"], ["lnk/pol.py is a symbolic link", "refused before anything ran"]),
    (["ex/example_policy.py:1Bad"], ["class name '1Bad'", "is not a Python identifier",
                                     "valid: letters, digits and _, not starting with a digit"]),
    (["ex/example_policy.py:Loss-Watcher"], ["class name 'Loss-Watcher'", "not a Python identifier"]),
    (["ex/example_policy.py:class"], ["class name 'class'", "not a Python identifier"]),
    (["my-module:Policy"], ["'my-module' in submission 'my-module:Policy' is neither a policy file",
                            "valid: path/to/policy.py:ClassName"]),
])
def test_refused_before_anything_runs(folder, args, said):
    tmp_path, calls = folder
    code, out, _ = _submit(*args)
    assert code == 2, out
    for text in said:
        assert text in out, out
    assert "non-empty string" not in out
    assert calls == [] and not (tmp_path / "r.sqlite").exists()  # no run, no store, no name claimed


@pytest.mark.parametrize("args, name", [
    (["ex/example_policy.py:LossWatcher"], "loss-watcher"),  # the declared name
    (["ex/example_policy.py:LossWatcher", "--name", "mine"], "mine"),
    (["ex/example_policy.py:NoSuchClass"], "NoSuchClass"),  # existence: only the sandbox's import knows
    (["ex/example_policy.py:Outer.Inner"], "Outer.Inner"),  # a nested class
    (["json:JSONDecoder"], "JSONDecoder"),  # an installed module
])
def test_what_may_be_valid_goes_on_to_the_run(folder, args, name):
    tmp_path, calls = folder
    (tmp_path / "json").mkdir()  # a folder of an installed module's name does not hide the module
    code, out, exc = _submit(*args)
    assert isinstance(exc, _Ran) and calls == [[name]], out


def test_the_python_api_refuses_the_same_names():
    with pytest.raises(ValueError, match="entry name '' is empty"):
        runner.submission_spec(f"{EXAMPLE}:LossWatcher", name="")
    with pytest.raises(ValueError, match="names no class after the ':'"):
        runner.submission_spec(f"{EXAMPLE}:")
    assert runner.submission_spec(f"{EXAMPLE}:LossWatcher").name == "loss-watcher"  # its declared name, as submit
    assert os.path.isfile(EXAMPLE)
