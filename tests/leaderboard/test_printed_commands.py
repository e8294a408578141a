"""The commands lrgym prints for a user to copy run what they say when pasted into a shell: each
value is one shell word, and none is read as an option by the command it is given to (a file
named ``-x.npz``, a store ``-r.db``, an entry named ``my run``).

Each printed command is split as a shell splits it (``shlex.split``) and parsed by the command's
own parser (train_controller's argparse, the ``lrgym`` click commands), whose values must be the
ones meant."""

import json
import re
import shlex
from pathlib import Path

import pytest
import typer

import lrgym.baselines.train_controller as tc
import lrgym.baselines.train_controller_episodes as episodes
from lrgym.baselines.controller_checkpoint import read_checkpoint
from lrgym.baselines.shell_words import shell_option, shell_path
from lrgym.leaderboard.cli import app
from lrgym.leaderboard.store import EntryRecord, ResultStore, kept_message

TINY = {"families": ["quadratic", "linreg"], "generations": 3, "pairs": 2, "pool": {"quadratic": 2, "linreg": 2},
        "batch": {"quadratic": 1, "linreg": 1}, "holdout": 1, "holdout_every": 2, "ref_grid": [-3, 0, 1]}


def _lrgym_params(words: list[str]) -> dict:
    """The parameters ``lrgym leaderboard WORDS...`` gives its command (parsed, not run)."""
    assert words[:2] == ["lrgym", "leaderboard"], words
    group = typer.main.get_command(app).commands["leaderboard"]
    command = group.commands[words[2]]
    return command.make_context(words[2], words[3:]).params


def _backticked(text: str) -> list[list[str]]:
    return [shlex.split(c) for c in re.findall(r"`(lrgym leaderboard [^`]*)`", text)]


@pytest.mark.parametrize("value", ["-x.npz", "--ship", "my run", "plain", "-", "a'b", "-1"])
def test_an_option_and_a_path_are_read_back_as_given(value):
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--out")
    p.add_argument("--ship", action="store_true")
    p.add_argument("target")
    args = p.parse_args(shlex.split(f"{shell_option('--out', value)} {shell_path(value)}"))
    assert args.out == value and not args.ship
    assert Path(args.target) == Path(value)  # ./-x.npz: the same file


def test_train_controllers_printed_commands_take_files_whose_names_start_with_a_dash(tmp_path, monkeypatch, capsys):
    """``--out -x`` (as ``--out=-x``) and ``--config -c.json``: the resume command printed after
    ``--stop-after`` said ``--config -c.json --out -x --resume``, which argparse refuses
    (``--config: expected one argument``); the ``submit -x.py:TrainedController`` printed at the
    end is an unknown option to click."""
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    Path("-c.json").write_text(json.dumps(TINY))
    assert tc.main(["--config=-c.json", "--seed", "3", "--stop-after", "1", "--out=-x"]) == 0
    printed = capsys.readouterr().err.split("go on with\n")[1].splitlines()[0].strip()
    words = shlex.split(printed)
    assert words[:3] == ["python", "-m", "lrgym.baselines.train_controller"]
    monkeypatch.setattr(episodes, "_TASKS", {})
    assert tc.main(words[3:]) == 0  # the printed command, as a shell splits it, goes on to the end
    assert read_checkpoint(tmp_path / "-x.checkpoint.npz")[0].generation == 3 and (tmp_path / "-x.npz").is_file()
    err = capsys.readouterr().err
    for start, cls in (("grade it: ", "TrainedController"), ("its ablations: ", "NoGradient")):
        submit = shlex.split(err.split(start)[1].split("   ")[0])
        target = _lrgym_params(submit)["target"]
        file, _, name = target.rpartition(":")
        assert name == cls and Path(file).resolve() == (tmp_path / "-x.py").resolve()
    for start in ("these kept: ", "of these: "):
        extend = shlex.split(err.split(start)[1].splitlines()[0].replace(" M ", " 4 "))
        args = tc.argparse.ArgumentParser()
        for option in ("--config", "--seed", "--generations", "--out"):
            args.add_argument(option)
        args.add_argument("--resume", nargs="?", const=True)
        parsed = args.parse_args(extend[3:])
        assert parsed.config == "-c.json" and parsed.generations == "4"
    assert parsed.out == "-x" and parsed.resume is True  # in place of these


def test_the_import_kept_command_a_submitter_is_told_stores_that_file(tmp_path):
    """A store ``-r.db`` keeps a result aside in ``-r.db.pending/``: the ``import-kept`` path was
    printed as is, an unknown option to click."""
    kept, db = Path("-r.db.pending/abc.name-taken"), Path("-r.db")
    text = kept_message("my run", "taken", kept, db)
    [words] = _backticked(text)
    params = _lrgym_params(words)
    assert params["kept"] == kept and params["db"] == db and params["name"] == "NEW_NAME"


def test_the_commands_for_a_result_kept_elsewhere_name_the_entry_and_store(tmp_path, monkeypatch):
    """An entry named ``my run`` in a store ``-r.db``: ``--only my run`` was two words."""
    monkeypatch.chdir(tmp_path)
    store = ResultStore(Path("-r.db"))
    side = Path("-elsewhere/t.json")
    for kind, command in (("baseline", "run-baselines"), ("submission", "import-kept")):
        entry = EntryRecord(name="my run", kind=kind, suite_version="v1")
        [words] = _backticked(store._side_files._kept_how(entry, side))
        params = _lrgym_params(words)
        assert words[2] == command and params["db"] == Path("-r.db")
        assert (params["only"] == ["my run"] if kind == "baseline" else
                (params["name"], params["kept"]) == ("my run", side))
