import numpy as np
import pytest

from lrgym.env import LRControlEnv
from lrgym.info import FAMILY_NAMES
from lrgym.tasks import make_family
from lrgym.tasks.base import INSTANCE_SETS


def test_instance_k_is_member_k_mod_n_and_the_same_spec_as_that_family():
    mixed = make_family("mixed")
    assert mixed.members == ("linreg", "quadratic", "mlp", "recsys")
    for k in [0, 1, 2, 3, 10_001, 20_199]:
        member = mixed.members[k % 4]
        assert mixed.sample(k) == make_family(member).sample(k)


def test_every_set_gives_each_member_an_equal_share():
    """Every public set, counted whole; the private pool (2^40 ... 2^62 - 1, too large to count)
    at its two ends: member k mod 4 makes any run of consecutive seeds equal shares."""
    mixed = make_family("mixed")
    private = INSTANCE_SETS["private"]
    runs = [seeds for name, seeds in INSTANCE_SETS.items() if name != "private"]
    runs += [private[:10_001], private[-10_001:]]
    for seeds in runs:
        assert len(seeds) <= 20_000
        counts = np.bincount([mixed.members.index(mixed.member_of(k)) for k in seeds], minlength=4)
        assert counts.max() - counts.min() <= 1


def test_mixed_env_visits_every_family_with_one_observation_layout():
    env = LRControlEnv(family="mixed", horizon=2, inner_steps=2)
    seen = set()
    for seed in range(40):
        obs, info = env.reset(seed=seed)
        seen.add(FAMILY_NAMES[info["family"]])
        assert FAMILY_NAMES[info["family"]] == env.family.member_of(info["instance"])
        assert obs.shape == (len(env.feature_names),)
    assert seen == {"linreg", "quadratic", "mlp", "recsys"}


@pytest.mark.parametrize("kwargs, message", [
    ({"members": ("linreg", "cnn")}, "unknown member family 'cnn'"),
    ({"members": ()}, "at least one family"),
    ({"member_options": {"mlp": {}}, "members": ("linreg",)}, "not members"),
    # a member's option at the top level: the mixture's options, and who takes it, how
    ({"dim": 32}, r"unknown mixed family option\(s\) \['dim'\]; valid choices: members, member_options .*"
                  r"'dim' is an option of linreg, quadratic: "
                  r"family_options=\{'member_options': \{'linreg': \{'dim': 32\}, 'quadratic': \{'dim': 32\}\}\}"),
    ({"colour": "red"}, r"unknown mixed family option\(s\) \['colour'\]; valid choices: members, member_options"),
    ({"members": "linreg"}, r"members='linreg' invalid; valid: a sequence of family names, e.g. \('linreg',\)"),
    ({"member_options": {"linreg": 32}}, r"member_options\['linreg'\]=32 invalid; valid: a dict of linreg's"),
    ({"member_options": [("linreg", {})]}, r"member_options=\[.*\] invalid; valid: a dict"),
    # not a sequence: a number was a bare TypeError, a set's order (its str hashes) differs between processes
    ({"members": 3}, r"members=3 invalid; valid: a sequence of family names \(in order"),
    ({"members": None}, r"members=None invalid; valid: a sequence of family names"),
    ({"members": {"linreg", "mlp"}}, r"members=\{.*\} invalid; valid: a sequence of family names \(in order"),
    # a member is a name: a list was a bare "unhashable type: 'list'"
    ({"members": [["linreg"]]}, r"member family \['linreg'\] is not a name \(a list\); valid choices: linreg, "),
    ({"members": [np.array(["linreg", "mlp"])]}, r"member family array\(.*\) is not a name \(a ndarray\)"),
])
def test_bad_mixture_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_family("mixed", **kwargs)


def test_member_options_reach_the_members():
    mixed = make_family("mixed", member_options={"linreg": {"dim": 32}, "quadratic": {"dim": 7}})
    assert mixed.sample(0).dim == 32 and mixed.sample(1).dim == 7  # seeds 0, 1: linreg, quadratic


@pytest.mark.parametrize("bad", ["mixed", "cnn", None])
def test_a_bad_member_error_lists_exactly_the_families_a_mixture_takes(bad):
    """The valid choices an error names are the families that work as members, tried one by one
    (the mixture itself was listed as a valid choice, also in the error refusing it)."""
    from lrgym.tasks import FAMILIES

    works = []
    for name in FAMILIES:
        try:
            make_family("mixed", members=(name,))
        except ValueError:
            continue
        works.append(name)
    assert works and "mixed" not in works
    with pytest.raises(ValueError) as err:
        make_family("mixed", members=() if bad is None else ("linreg", bad))
    listed = str(err.value).split("valid choices: ")[1].split(", ")
    assert listed == works
    if bad is not None:
        assert repr(bad) in str(err.value)


def test_members_as_an_array_of_names_are_taken_in_order():
    assert make_family("mixed", members=np.array(["mlp", "linreg"])).members == ("mlp", "linreg")
