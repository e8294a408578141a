"""Every option of every ``python -m`` command the README documents says what it does in
``--help``, and the defaults a help text states are the ones the code uses.

The parser is taken from the command's own ``main`` (argparse's ``parse_known_args`` is
replaced by one that hands the parser back before anything runs), so the test reads the
parser a user gets, not a copy of it; the README's list of ``python -m lrgym.…`` commands
is read from the README itself, so a command documented later is checked too. The ``lrgym``
command's typer options are checked the same way through click's command tree.
"""

from __future__ import annotations

import argparse
import importlib
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

#: documented modules whose main is not an argparse command line (checked elsewhere or none)
NOT_ARGPARSE = {"lrgym.leaderboard.worker", "lrgym.leaderboard.worker_template"}  # a Ray node's process, started by `lrgym`, not by a user


def documented_modules() -> list[str]:
    """Every ``python -m lrgym.<module>`` the README shows, in order of first mention."""
    found = re.findall(r"python -m (lrgym(?:\.\w+)+)", README.read_text(encoding="utf-8"))
    return [m for m in dict.fromkeys(found) if m not in NOT_ARGPARSE]


class _Parsed(Exception):
    def __init__(self, parser):
        self.parser = parser


def parser_of(module: str) -> argparse.ArgumentParser:
    """The parser ``module.main`` builds, taken at its first parse (nothing of the command runs)."""
    imported = importlib.import_module(module)
    if not hasattr(imported, "main"):  # a package run by `python -m`: its __main__
        imported = importlib.import_module(module + ".__main__")
    main = imported.main

    def hand_back(self, args=None, namespace=None):
        raise _Parsed(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(argparse.ArgumentParser, "parse_known_args", hand_back)
        try:
            main([])
        except _Parsed as parsed:
            return parsed.parser
    raise AssertionError(f"{module}.main([]) returned without parsing its arguments")


def test_the_readme_documents_the_commands_checked_here():
    modules = documented_modules()
    for command in ("lrgym.baselines.qlearning", "lrgym.baselines.train_controller", "lrgym.baselines.train_sb3",
                    "lrgym.baselines.tune", "lrgym.leaderboard.val_table"):
        assert command in modules


@pytest.mark.parametrize("module", documented_modules())
def test_every_option_has_help(module):
    parser = parser_of(module)
    silent = [a.option_strings[0] if a.option_strings else a.dest for a in parser._actions if not a.help]
    assert silent == [], f"python -m {module}: options without help text: {silent}"


@pytest.mark.parametrize("module", documented_modules())
def test_stated_defaults_are_the_defaults(module):
    """A help text that says ``default N`` (a number) or ``(default: N)`` states the parser's own default."""
    parser = parser_of(module)
    for action in parser._actions:
        stated = re.search(r"default:? (-?\d[\d_.e-]*)\b", action.help or "")
        if stated is None or "%(default)" in (action.help or "") or not isinstance(action.default, (int, float)):
            continue
        assert float(stated.group(1).replace("_", "")) == float(action.default), (
            f"python -m {module} {action.option_strings}: help says {stated.group(0)!r}, the default is {action.default!r}")


def test_qlearning_episodes_help_states_the_configs_default():
    from lrgym.baselines.qlearning import QLearningConfig

    action = {a.dest: a for a in parser_of("lrgym.baselines.qlearning")._actions}["episodes"]
    assert action.default == QLearningConfig.episodes
    assert "%(default)" in action.help or str(QLearningConfig.episodes) in action.help


def test_every_lrgym_command_option_has_help():
    typer = pytest.importorskip("typer")
    import click

    from lrgym.leaderboard.cli import app

    silent = []

    def walk(command, path):
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, path + [name])
            return
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden and not param.help:
                silent.append(f"{' '.join(path)} {param.opts[0]}")

    walk(typer.main.get_command(app), ["lrgym"])
    assert silent == [], f"options without help text: {silent}"


@pytest.mark.parametrize("module, config", [("lrgym.baselines.train_sb3", "TrainConfig"),
                                            ("lrgym.baselines.train_rllib", "RLlibConfig")])
def test_defaults_in_help_are_the_configs(module, config):
    """Options whose parser default is None (a flag that overrides the config file) state the
    config's default in their help: that must be the dataclass field's own value."""
    fields = getattr(importlib.import_module(module), config).__dataclass_fields__
    checked = 0
    for action in parser_of(module)._actions:
        stated = re.search(r"default:? (-?[\w.,]+)", action.help or "")
        if action.dest not in fields or stated is None or "%(default)" in action.help:
            continue
        value = fields[action.dest].default
        word = stated.group(1).rstrip(",.;").replace(",", "")
        if not isinstance(value, (int, float, str)) or (
                not re.fullmatch(r"-?[\d.]+", word) and word not in (action.choices or ())):
            continue  # "default: the mixed family": words, not a value; a pair (--reward-clip)
        assert word == str(value) or (isinstance(value, (int, float)) and float(word) == value), (
            f"python -m {module} {action.option_strings[0]}: help says default {word}, {config}.{action.dest} is {value!r}")
        checked += 1
    assert checked >= 3
