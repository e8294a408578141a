"""A private suite's size chosen by its grader (``--private KEY --instances N --seed-count M``):
drawn by the same rule as the default 8 x 5 suite (checked against an independent reading of it,
:func:`lb_helpers.reference_private_draw`), the size in the suite's name so that results and
references of two sizes are never mixed, 8 x 5 named as before, and the commands a board or
hint prints naming the size."""

from __future__ import annotations

import hashlib

import pytest

from lrgym.leaderboard.private import (MAX_INSTANCES, MAX_SEEDS, private_name, private_options,
                                       private_suite)
from lrgym.leaderboard.provenance import run_baselines_command, show_command
from lrgym.leaderboard.store import ResultStore
from lrgym.tasks import MIXED_V1

from lb_helpers import invoke_leaderboard as _invoke, private_key as _key, reference_private_draw


@pytest.mark.parametrize("families", [MIXED_V1, ("linreg",)])
@pytest.mark.parametrize("n_instances, n_seeds", [(8, 5), (16, 3), (1, 2), (MAX_INSTANCES, MAX_SEEDS)])
def test_a_private_suite_of_any_size_is_drawn_by_the_rule_and_named_by_its_size(tmp_path, families, n_instances,
                                                                                n_seeds):
    """The instances and seeds of the drawing rule at that size; the name ``private-<id>`` (with
    the family list) unchanged for 8 x 5, else ending ``@<instances>x<seeds>``; the description
    says the size."""
    key = _key(tmp_path)
    instances, seeds, key_id = reference_private_draw(key, families, n_instances, n_seeds)
    suite = private_suite(key, n_instances=n_instances, n_seeds=n_seeds, families=families)
    assert {fs.family: list(fs.instances) for fs in suite.families} == instances
    assert list(suite.seeds) == seeds
    listed = "" if families == MIXED_V1 else "+" + "+".join(families)
    size = "" if (n_instances, n_seeds) == (8, 5) else f"@{n_instances}x{n_seeds}"
    assert suite.name == f"private-{key_id}{listed}{size}" and suite.version == suite.name + "/r2"
    assert f"{n_instances} hidden instances per family" in suite.description
    assert f"x {n_seeds} hidden seeds" in suite.description


def test_sizes_never_share_a_version_and_a_larger_suite_begins_with_a_smaller_ones(tmp_path):
    """Every size (and every list at a size) its own version, the key of stored entries and cached
    references; the draws are sequential, so the larger suite's instances and seeds begin with the
    smaller's (as the README says)."""
    key = _key(tmp_path)
    sizes = [(8, 5), (16, 5), (8, 3), (16, 3), (1, 1)]
    suites = {size: private_suite(key, n_instances=size[0], n_seeds=size[1]) for size in sizes}
    versions = {s.version for s in suites.values()} | {private_suite(key, 1, 1, ("linreg",)).version,
                                                       private_suite(key, families=("linreg",)).version}
    assert len(versions) == len(sizes) + 2
    small, large = suites[(8, 3)], suites[(16, 5)]
    for family in MIXED_V1:
        assert large.family_suite(family).instances[:8] == small.family_suite(family).instances
    assert large.seeds[:3] == small.seeds


def test_a_hashed_list_keeps_its_size_and_commands_read_the_size_back():
    """A long list's name (its hash) ends with the size too; the command naming a stored version
    gives ``--instances`` / ``--seed-count`` for what differs from 8 x 5, and a stored version
    named without its key says them."""
    long = ("a" * 40, "b" * 40)
    name = private_name("0123abcd", long, 3, 2)
    assert name == "private-0123abcd=" + hashlib.sha256(",".join(long).encode()).hexdigest()[:16] + "@3x2"
    assert private_name("0123abcd", MIXED_V1, 8, 5) == "private-0123abcd"
    assert private_options(name + "/r2") == " --families FAMILIES --instances 3 --seed-count 2"
    assert private_options("private-0123abcd@16x5/r2") == " --instances 16"
    assert private_options("private-0123abcd@8x2/r2") == " --seed-count 2"
    assert show_command("private-0123abcd+linreg@1x2/r2") == \
        "lrgym leaderboard show --private KEYFILE --families linreg --instances 1 --seed-count 2"
    code, out = _invoke("show", "--suite", "private-0123abcd@16x3/r2")
    assert code == 2
    assert "named by its key: --private KEYFILE --instances 16 --seed-count 3" in out


def test_run_baselines_command_of_a_sized_suite_names_its_size(tmp_path):
    key = _key(tmp_path)
    assert run_baselines_command(private_suite(key, n_instances=12)) == \
        "lrgym leaderboard run-baselines --private KEYFILE --instances 12"
    assert run_baselines_command(private_suite(key)) == "lrgym leaderboard run-baselines --private KEYFILE"


@pytest.mark.parametrize("kwargs, message", [
    ({"n_instances": 0}, "instances per family 0 invalid; valid: a whole number from 1 to 64 (default 8"),
    ({"n_instances": 65}, "instances per family 65 invalid; valid: a whole number from 1 to 64"),
    ({"n_instances": 2.0}, "instances per family 2.0 invalid"),
    ({"n_instances": True}, "instances per family True invalid"),
    ({"n_seeds": 0}, "env seed count 0 invalid; valid: a whole number from 1 to 16 (default 5"),
    ({"n_seeds": 17}, "env seed count 17 invalid; valid: a whole number from 1 to 16"),
])
def test_a_bad_size_from_python_is_refused_naming_it_and_the_range(tmp_path, kwargs, message):
    """(The old private_suite drew an empty suite for 0 and took any size, under the default's name.)"""
    with pytest.raises(ValueError) as caught:
        private_suite(_key(tmp_path), **kwargs)
    assert message in str(caught.value)


@pytest.mark.parametrize("option, value, message", [
    ("--instances", "0", "instances per family '0' invalid; valid: a whole number from 1 to 64"),
    ("--instances", "65", "instances per family '65' invalid; valid: a whole number from 1 to 64"),
    ("--instances", "x", "instances per family 'x' invalid"),
    ("--seed-count", "17", "env seed count '17' invalid; valid: a whole number from 1 to 16"),
    ("--seed-count", "-1", "env seed count '-1' invalid"),
])
def test_a_bad_size_on_the_command_line_is_its_options_error_before_a_key_is_made(tmp_path, option, value, message):
    key = tmp_path / "new.key"
    code, out = _invoke("suites", "--private", key, f"{option}={value}")
    assert code == 2 and f"Invalid value for {option}: {message}" in out
    assert not key.exists()


@pytest.mark.parametrize("option, argument, keyword", [("--instances", "instances", "n_instances"),
                                                       ("--seed-count", "seed_count", "n_seeds")])
def test_a_size_option_s_help_names_the_range_the_parser_enforces(option, argument, keyword):
    """The help of ``--instances`` / ``--seed-count`` says "1 to MAX (default D;": MAX is the
    largest value the option's parser takes (MAX + 1 and 0 are refused, naming that range), D the
    size ``private_suite`` draws when the option is not given. (The help spelled the numbers as
    literals apart from the parser's.)"""
    import inspect
    import re
    from pathlib import Path

    import typer

    from lrgym.leaderboard import cli_options

    info = {"--instances": cli_options.InstancesOpt, "--seed-count": cli_options.SeedCountOpt}[option]
    said = re.search(r"\b1 to (\d+) \(default (\d+);", info.help)
    assert said, info.help
    largest, default = int(said[1]), int(said[2])
    key = Path("never-read.key")  # (parsing checks the value; no key is read)
    assert cli_options.parse_private_choices(key, **{argument: str(largest)}) == {keyword: largest}
    assert cli_options.parse_private_choices(key, **{argument: "1"}) == {keyword: 1}
    for refused in (largest + 1, 0):
        with pytest.raises(typer.BadParameter, match=rf"from 1 to {largest} \(default {default};"):
            cli_options.parse_private_choices(key, **{argument: str(refused)})
    assert inspect.signature(private_suite).parameters[keyword].default == default


@pytest.mark.parametrize("command", [("show",), ("report",), ("export", "--suite", "private-208027c7@16x5/r2")])
@pytest.mark.parametrize("option", ["--instances", "--seed-count"])
def test_a_size_without_a_key_is_refused(tmp_path, command, option):
    code, out = _invoke(*command, option, "3", "--db", tmp_path / "none.db")
    assert code == 2, out
    assert f"Invalid value for {option}: '3' without --private; valid: --private KEYFILE {option} 3" in out


def test_suites_lists_the_private_suite_at_the_size_chosen(tmp_path):
    key = _key(tmp_path)
    code, out = _invoke("suites", "--private", key, "--instances", "3", "--seed-count", "2")
    assert code == 0, out
    suite = private_suite(key, n_instances=3, n_seeds=2)
    assert f"{suite.name} {suite.version} private linreg×3, quadratic×3, mlp×3, recsys×3 2 24" in out


def test_run_baselines_grades_a_sized_private_suite_apart_from_the_default_size(tmp_path, monkeypatch):
    """``run-baselines --private KEY --families quadratic --instances 1 --seed-count 2``: the runs
    are the suite's 1 instance x 2 seeds, stored under its own version (none under the 8 x 5
    suite's), its references beside the key under its name; the board names the command with the
    size, and ``show`` of the default size names the sized suite's rows by theirs."""
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    key, db, board = _key(tmp_path), tmp_path / "store.sqlite", tmp_path / "board.md"
    code, out = _invoke("run-baselines", "--private", key, "--families", "quadratic", "--instances", "1",
                        "--seed-count", "2", "--only", "fixed", "--workers", "2", "--db", db, "--markdown", board)
    assert code == 0, out
    suite = private_suite(key, n_instances=1, n_seeds=2, families=("quadratic",))
    default_size = private_suite(key, families=("quadratic",))
    with ResultStore(db) as store:
        entries = store.entries(suite.version)
        assert [(e.name, e.status) for e in entries] == [("fixed", "ok")]
        runs = store.runs(entries[0].id, curves=False)
        assert store.entries(default_size.version) == []
    assert sorted((r.family, r.instance, r.seed) for r in runs) == \
        sorted((t.family, t.instance, seed) for t in suite.tasks() for seed in suite.seeds)
    assert len(runs) == 2
    assert (tmp_path / "grader.key.references" / f"{suite.name}-r2.json").is_file()
    assert not (tmp_path / "grader.key.references" / f"{default_size.name}-r2.json").exists()
    assert ("Generated by `lrgym leaderboard run-baselines --private KEYFILE --families quadratic --instances 1 "
            "--seed-count 2`") in board.read_text()
    code, out = _invoke("show", "--private", key, "--families", "quadratic", "--db", db)
    assert code == 0, out
    assert (f"{suite.version} (1 entry): `lrgym leaderboard show --private KEYFILE --families quadratic "
            "--instances 1 --seed-count 2") in out
