"""Suite definitions: fixed, versioned, disjoint from training, at least 5 seeds; v1 frozen."""

import pytest

from lrgym.leaderboard.suite import DEFAULT_SUITE, SUITES, FamilySuite, Suite, get_suite
from lrgym.tasks.base import INSTANCE_SETS


def test_default_and_names():
    assert DEFAULT_SUITE == "v2"
    assert {"v2", "v1", "val", "quick"} <= set(SUITES)
    assert get_suite("v1") is SUITES["v1"] and get_suite("v2") is SUITES["v2"]
    with pytest.raises(ValueError, match="valid choices"):
        get_suite("nope")


def test_v1_shape_is_frozen():
    v1 = SUITES["v1"]
    assert v1.version == "v1/r1"
    assert all(fs.instances == tuple(range(20000, 20008)) for fs in v1.families) and v1.seeds == (0, 1, 2, 3, 4)
    assert len(v1.seeds) >= 5
    assert set(v1.family_names) == {"linreg", "quadratic", "mlp", "recsys"}
    assert v1.n_runs == len(v1.tasks()) * len(v1.seeds)


@pytest.mark.parametrize("name", list(SUITES))
def test_instances_come_from_their_set_and_not_from_train(name):
    suite = SUITES[name]
    allowed = INSTANCE_SETS[suite.instance_set]
    for task in suite.tasks():
        assert task.instance in allowed
        assert task.instance not in INSTANCE_SETS["train"]


def test_val_and_test_suites_are_disjoint():
    v1 = {(t.family, t.instance) for t in SUITES["v1"].tasks()}
    val = {(t.family, t.instance) for t in SUITES["val"].tasks()}
    assert SUITES["val"].instance_set == "val"
    assert not v1 & val


def test_env_kwargs_and_fingerprint():
    quick = SUITES["quick"]
    kw = quick.env_kwargs("quadratic")
    assert kw == {"family": "quadratic", "instance_set": "test", "horizon": 12, "inner_steps": 5}
    assert "horizon" not in SUITES["v1"].env_kwargs("linreg")  # family default
    assert quick.fingerprint() == quick.fingerprint()
    assert quick.fingerprint() != SUITES["v1"].fingerprint()
    assert len({s.version for s in SUITES.values()}) == len(SUITES)


def test_rejects_instances_outside_the_set():
    with pytest.raises(ValueError, match="not in the 'test' set"):
        Suite("bad", 1, "", "test", (FamilySuite("linreg", (5,)),), (0,))
