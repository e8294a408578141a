"""A private suite over registered families of one's own (``--private KEY --families toy,linreg``):
its instances are drawn from the hidden pool as the default suite's are, its name carries the
family list beside the key id so that results and references of two lists are never mixed, and
the default suite (no ``--families``) is the one every key had before. Checked against an
independent reading of the drawing rule (:mod:`lrgym.leaderboard.private`'s docstring) and on the
toy family of ``tests/tasks/toy_family.py`` registered in this process (its workers import it from
``sys.path``, named to them by ``$LRGYM_FAMILIES``, as for a suite file of one's own)."""

from __future__ import annotations

import hashlib
import os

import pytest

from lrgym.leaderboard import private
from lrgym.leaderboard.private import (MAX_FAMILIES_TAG, check_families, parse_families, private_name,
                                       private_options, private_suite)
from lrgym.leaderboard.provenance import show_command
from lrgym.leaderboard.store import ResultStore
from lrgym.tasks import FAMILIES, MIXED_V1, register_family
from lrgym.tasks.base import instance_set

from lb_helpers import invoke_leaderboard as _invoke, private_key as _key, reference_private_draw


def test_the_default_private_suite_is_the_one_every_key_had(tmp_path):
    """Without ``--families`` (and with LRControl-v1's four in their order) the suite is the one
    of before: name ``private-<key id>``, revision 2, the four families' instances and the seeds
    of the drawing rule, and the description it had: stored entries and cached references of
    existing keys stay valid."""
    key = _key(tmp_path)
    instances, seeds, key_id = reference_private_draw(key, MIXED_V1)
    for suite in (private_suite(key), private_suite(key, families=MIXED_V1), private_suite(key, families=list(MIXED_V1))):
        assert suite.name == f"private-{key_id}" and suite.version == f"private-{key_id}/r2"
        assert suite.family_names == MIXED_V1
        assert {fs.family: list(fs.instances) for fs in suite.families} == instances
        assert list(suite.seeds) == seeds
        assert suite.description == f"private: 8 hidden instances per family x 5 hidden seeds (key {key_id})"
        assert suite.instance_set == "private"
    assert private_suite(key).fingerprint() == private_suite(key, families=MIXED_V1).fingerprint()


def test_a_private_suite_over_own_families_draws_them_in_order_under_its_own_name(toy, tmp_path):
    """``families=("toy", "linreg")``: those families in that order, each family's instances those
    of the drawing rule (linreg's the same as in the default suite: the draw depends on the
    family's name only), all in the private set; the name carries the list, so it differs from the
    default suite's and from the other order's; another key draws other instances."""
    key, other = _key(tmp_path), _key(tmp_path, "other.key")
    suite = private_suite(key, families=("toy", "linreg"))
    instances, seeds, key_id = reference_private_draw(key, ("toy", "linreg"))
    assert suite.family_names == ("toy", "linreg")
    assert {fs.family: list(fs.instances) for fs in suite.families} == instances
    assert list(suite.seeds) == seeds
    pool = instance_set("private")
    assert all(t.instance in pool for t in suite.tasks())
    assert suite.name == f"private-{key_id}+toy+linreg"
    default = private_suite(key)
    assert default.family_suite("linreg").instances == suite.family_suite("linreg").instances
    names = {default.version, suite.version, private_suite(key, families=("linreg", "toy")).version,
             private_suite(key, families=("toy",)).version}
    assert len(names) == 4  # each list its own version: stored entries and references kept apart
    elsewhere = private_suite(other, families=("toy", "linreg"))
    assert not set(elsewhere.family_suite("toy").instances) & set(suite.family_suite("toy").instances)
    assert elsewhere.name != suite.name
    assert "of toy, linreg" in suite.description


def test_a_long_family_list_is_named_by_its_hash_and_every_list_by_its_own_name():
    """A list whose names joined are longer than MAX_FAMILIES_TAG characters: ``private-<id>=<hash>``
    (the name names output files too); ``+`` and ``=`` are in no family name, so no list's name is
    another's, and a command naming a stored version gives its ``--families``."""
    long = ("a" * 40, "b" * 40)
    name = private_name("0123abcd", long)
    assert name == "private-0123abcd=" + hashlib.sha256(",".join(long).encode()).hexdigest()[:16]
    assert len("+".join(long)) > MAX_FAMILIES_TAG
    assert private_name("0123abcd", MIXED_V1) == "private-0123abcd"
    assert private_name("0123abcd", ("toy",)) == "private-0123abcd+toy"
    assert private_name("0123abcd", ("a", "b")) != private_name("0123abcd", ("b", "a"))
    assert private_options("private-0123abcd/r2") == ""
    assert private_options("private-0123abcd+toy+linreg/r2") == " --families toy,linreg"
    assert private_options(name + "/r2") == " --families FAMILIES"
    assert show_command("private-0123abcd+toy/r2") == "lrgym leaderboard show --private KEYFILE --families toy"


@pytest.mark.parametrize("text, message", [
    ("linreg,nope", "family 'nope' is not registered (or is the mixture); valid: linreg, quadratic, mlp, recsys"),
    ("mixed", "family 'mixed' is not registered (or is the mixture); valid: linreg, quadratic, mlp, recsys"),
    ("linreg,mlp,linreg", "families linreg,mlp,linreg name linreg more than once; valid: each family once"),
    ("", "no families given; valid: a comma-separated list of registered families: linreg, quadratic, mlp, recsys"),
    ("linreg,,mlp", "families 'linreg,,mlp' have an empty item; valid: registered families separated by commas"),
])
def test_a_bad_family_list_is_refused_naming_it_and_the_registered_families(text, message, tmp_path):
    with pytest.raises(ValueError) as caught:
        parse_families(text)
    assert message in str(caught.value)
    key = tmp_path / "new.key"
    code, out = _invoke("suites", "--private", key, "--families", text)
    assert code == 2 and f"Invalid value for --families: {message}" in out
    assert not key.exists()  # refused before the key was made


def test_a_string_of_families_from_python_is_refused_not_taken_letter_by_letter(tmp_path):
    with pytest.raises(ValueError, match=r"families 'linreg,mlp' is a string; valid: a list of registered "
                                         r"families such as \('linreg', 'mlp',\)"):
        private_suite(_key(tmp_path), families="linreg,mlp")


def test_a_registered_family_not_importable_here_is_refused_saying_why(monkeypatch):
    families = dict(FAMILIES)
    register_family("elsewhere", "lrgym_no_such_module_for_tests:ElsewhereFamily")
    try:
        with pytest.raises(ValueError, match="family 'elsewhere' is registered as .*whose module cannot be imported"):
            check_families(["linreg", "elsewhere"])
    finally:
        FAMILIES.clear()
        FAMILIES.update(families)


def test_families_without_a_key_is_refused():
    code, out = _invoke("show", "--families", "linreg")
    assert code == 2
    assert "Invalid value for --families: 'linreg' without --private; valid: --private KEYFILE --families linreg" in out


@pytest.mark.parametrize("suite", ["private-208027c7+linreg/r2", "private-208027c7/r2"])
def test_families_beside_a_stored_version_to_export_is_refused(tmp_path, suite):
    """``export --suite VERSION`` exports a stored version without its key, so ``--families`` there
    names nothing: it was ignored unchecked (``--families nonsense`` too), the export went on with
    the version's rows, unlike every other command's refusal of ``--families`` without ``--private``."""
    for families in ("linreg", "nonsense"):
        code, out = _invoke("export", "--suite", suite, "--families", families, "--db", tmp_path / "none.db",
                            "--format", "json", "--out", tmp_path / "out.json")
        assert code == 2, out
        assert f"Invalid value for --families: '{families}' without --private" in out
        assert not (tmp_path / "out.json").exists()


def test_run_baselines_grades_a_private_suite_of_an_own_family_apart_from_the_default(toy, tmp_path, monkeypatch):
    """``run-baselines --private KEY --families toy``: the toy family's hidden instances are graded
    in the grader's workers (which import it, as for a suite file of it), stored under the list's
    own version with their references beside the key; the board names the command with
    ``--families toy``; the same key's default suite holds no entry, and its board names the other.
    ``submit`` grades a policy on it in the sandbox."""
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path / "runs"))
    # 2 instances x 2 seeds: small (a size of its own, named by the commands beside --families)
    size = ("--instances", 2, "--seed-count", 2)
    key, db, board = _key(tmp_path), tmp_path / "store.sqlite", tmp_path / "board.md"
    code, out = _invoke("run-baselines", "--private", key, "--families", "toy", *size, "--only", "fixed",
                        "--workers", "2", "--db", db, "--markdown", board)
    assert code == 0, out
    suite = private_suite(key, n_instances=2, n_seeds=2, families=("toy",))
    with ResultStore(db) as store:
        entries = store.entries(suite.version)
        assert [(e.name, e.status) for e in entries] == [("fixed", "ok")]
        runs = store.runs(entries[0].id)
        assert store.entries(private_suite(key).version) == []
    assert sorted({(r.family, r.instance) for r in runs}) == sorted((t.family, t.instance) for t in suite.tasks())
    assert all(r.instance in instance_set("private") for r in runs)
    assert (tmp_path / "grader.key.references" / f"{suite.name}-r2.json").is_file()
    assert ("Generated by `lrgym leaderboard run-baselines --private KEYFILE --families toy --instances 2 "
            "--seed-count 2`") in board.read_text()
    code, out = _invoke("show", "--private", key, "--db", db)
    assert code == 0, out
    assert (f"{suite.version} (1 entry): `lrgym leaderboard show --private KEYFILE --families toy --instances 2 "
            "--seed-count 2") in out

    # a submission on it: graded in the namespaces sandbox (submit --private grades nowhere else),
    # whose policy process builds the toy family's envs too
    example = os.path.join(os.path.dirname(private.__file__), "submissions", "example_policy.py")
    code, out = _invoke("submit", f"{example}:LossWatcher", "--private", key, "--families", "toy", *size, "--db", db,
                        "--workers", "2")
    assert code == 0, out
    assert f"loss-watcher: rank 1 of 2 on {suite.version}" in out
    with ResultStore(db) as store:
        entry = next(e for e in store.entries(suite.version) if e.name == "loss-watcher")
        assert sorted({(r.family, r.instance) for r in store.runs(entry.id, curves=False)}) == \
            sorted((t.family, t.instance) for t in suite.tasks())
