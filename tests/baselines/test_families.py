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


def test_env_kwargs_of_the_default_env_and_of_a_family():
    assert env_kwargs_for(None) == env_kwargs_for(MIXED) == {"family": "mixed"}
    assert env_kwargs_for("mlp") == {"family": "mlp"}
    with pytest.raises(ValueError, match="unknown family 'cnn'"):
        env_kwargs_for("cnn")
