"""lrgym.baselines.families: the registry's families, a broken one included (it fails where it is
used instead of vanishing from tuning and the baselines' tables)."""

from __future__ import annotations

import pytest

from lrgym.baselines.families import MIXED, available_families, env_kwargs_for
from lrgym.tasks import FAMILIES, make_family, register_family


@pytest.fixture
def broken_family():
    saved = dict(FAMILIES)
    register_family("broken", "lrgym_no_such_module_for_tests:BrokenFamily")
    yield "broken"
    FAMILIES.clear()
    FAMILIES.update(saved)


def test_the_registrys_single_families_in_order():
    assert available_families() == [name for name in FAMILIES if name != MIXED]
    assert {"linreg", "quadratic", "mlp", "recsys"} <= set(available_families())


def test_a_family_whose_module_fails_to_import_is_not_dropped_silently(broken_family):
    assert broken_family in available_families()
    with pytest.raises(ImportError):
        make_family(broken_family)


def test_a_family_whose_module_cannot_be_imported_is_an_error_naming_it_and_where_a_module_must_be(broken_family):
    """A registered target whose module is missing (a module in the working directory, which the
    console scripts and lrgym's workers do not import from; a misspelt $LRGYM_FAMILIES item) was
    a bare ModuleNotFoundError traceback in gym.make, `lrgym leaderboard --suite FILE.json` and the
    tuner; it is now an error that is an ImportError and a ValueError (what the commands report
    by message), naming the family, its target, the import's own error and the remedy."""
    from lrgym.tasks import FamilyImportError

    with pytest.raises(FamilyImportError) as caught:
        make_family(broken_family)
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, ValueError)
    said = str(caught.value)
    for part in ("family 'broken'", "'lrgym_no_such_module_for_tests:BrokenFamily'",
                 "No module named 'lrgym_no_such_module_for_tests'", "PYTHONPATH"):
        assert part in said, (part, said)


def test_a_family_whose_class_is_not_in_its_module_is_an_error_naming_the_modules_families():
    """A target whose module exists but lacks the class (a misspelt class name) was a bare
    AttributeError; the error names the module's TaskFamily classes."""
    from lrgym.tasks import FamilyImportError

    saved = dict(FAMILIES)
    try:
        register_family("misspelt", "lrgym.tasks.quadratic:QuadraticFamilly")
        with pytest.raises(FamilyImportError, match=r"family 'misspelt' is registered as "
                           r"'lrgym.tasks.quadratic:QuadraticFamilly', but module 'lrgym.tasks.quadratic' has no "
                           r"'QuadraticFamilly' \(its TaskFamily classes: QuadraticFamily\)"):
            make_family("misspelt")
    finally:
        FAMILIES.clear()
        FAMILIES.update(saved)


def test_the_tuner_refuses_a_family_it_cannot_import_before_any_search(broken_family):
    """``python -m lrgym.baselines.tune --families NAME`` checks its arguments before the minutes of
    reference searches; a family whose module the process cannot import passed that check and
    failed in the worker pool with a traceback."""
    from lrgym.baselines.tune import check_arguments

    with pytest.raises(ValueError, match="family 'broken' is registered as .*whose module cannot be imported"):
        check_arguments([broken_family], 2, (0,), ["fixed"])
    assert check_arguments(["quadratic"], 2, (0,), ["fixed"]) == ["fixed"]


def test_a_second_target_for_a_registered_name_is_refused_naming_both():
    """A misspelt $LRGYM_FAMILIES target, registered first, then the module's own register_family:
    the error named only the first target ('already registered as <the misspelt one>')."""
    saved = dict(FAMILIES)
    try:
        register_family("twice", "my_pkg.logreg:LogRegFamilx")
        with pytest.raises(ValueError, match=r"family 'twice' is already registered as 'my_pkg.logreg:LogRegFamilx', "
                                             r"not 'my_pkg.logreg:LogRegFamily'"):
            register_family("twice", "my_pkg.logreg:LogRegFamily")
    finally:
        FAMILIES.clear()
        FAMILIES.update(saved)


def test_env_kwargs_of_the_default_env_and_of_a_family():
    assert env_kwargs_for(None) == env_kwargs_for(MIXED) == {"family": "mixed"}
    assert env_kwargs_for("mlp") == {"family": "mlp"}
    with pytest.raises(ValueError, match="unknown family 'cnn'"):
        env_kwargs_for("cnn")
