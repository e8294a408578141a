"""A misspelt keyword of ``gym.make`` / ``gym.make_vec`` on an lrgym id names itself, the closest
valid keyword and every valid one (it was Python's bare ``__init__() got an unexpected keyword
argument``); the error stays a TypeError (gymnasium's and Python's type for it), and specs,
copies, pickles and render modes of the envs work as with the class as entry point. The valid
names are checked against the signatures themselves (``inspect``), the reference.
"""

from __future__ import annotations

import copy
import inspect
import pickle

import gymnasium as gym
import pytest

import lrgym  # noqa: F401  (registers the ids)
from lrgym.env import LRControlEnv
from lrgym.keywords import UnknownKeywordError, check_keywords, keyword_names
from lrgym.registry import CLASS_ENTRY_POINT, make_env
from lrgym.sb3 import lrgym_env_kwargs
from lrgym.settings import EnvSettings
from lrgym.vector import LRControlVectorEnv


def test_make_env_names_a_misspelt_keyword_and_the_valid_ones():
    with pytest.raises(UnknownKeywordError) as caught:
        make_env(horizn=10, optimiser="adam")
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, ValueError)
    valid = list(inspect.signature(LRControlEnv).parameters)  # the reference: the signature
    assert str(caught.value) == ("LRControlEnv() got an unexpected keyword argument 'horizn' (did you mean 'horizon'?); "
                                 f"also unexpected: 'optimiser' (did you mean 'optimizer'?); valid: {', '.join(valid)}")


def test_a_name_with_no_close_match_gets_the_valid_list_only():
    with pytest.raises(UnknownKeywordError, match=r"^f got an unexpected keyword argument 'zzz'; valid: a, b$"):
        check_keywords("f", ["zzz"], keyword_names(lambda a, b=1, *args, **kwargs: None))


def test_a_flood_of_unknown_names_is_listed_briefly():
    """A hostile mapping's 60,000 keys (a submission's 1 MB sidecar) made a 600 KB message, a key
    of 900 KB another (a review, 2026-12-05): ten further names at most, then how many more, each
    shortened. Reference: the names given, counted."""
    given = [f"k{i:05d}" for i in range(60_000)]
    with pytest.raises(UnknownKeywordError) as caught:
        check_keywords("f", given, ["a", "b"])
    text = str(caught.value)
    assert text == ("f got an unexpected keyword argument 'k00000'; also unexpected: "
                    f"{', '.join(repr(k) for k in given[1:11])} and {60_000 - 11} more; valid: a, b")
    with pytest.raises(UnknownKeywordError) as caught:
        check_keywords("f", ["x" * 900_000, "y" * 900_000], ["a"])
    assert len(str(caught.value)) < 300 and "'xxxxx" in str(caught.value) and "'yyyyy" in str(caught.value)


def test_the_registered_ids_check_their_keywords():
    with pytest.raises(TypeError, match=r"LRControlEnv\(\) got an unexpected keyword argument 'horizn' \(did you mean 'horizon'\?\); valid: "):
        gym.make("LRControl-v1", horizn=10)


def test_the_class_built_directly_names_a_misspelt_keyword_as_make_does():
    """``LRControlEnv(horizn=5)`` was Python's bare "LRControlEnv.__init__() got an unexpected keyword
    argument 'horizn'", naming no valid keyword, where gym.make named them. The class keeps its
    signature (no **kwargs: the reference of the valid names), and builds, copies and pickles as before."""
    with pytest.raises(UnknownKeywordError) as direct:
        LRControlEnv(horizn=10, optimiser="adam")
    with pytest.raises(UnknownKeywordError) as made:
        make_env(horizn=10, optimiser="adam")
    assert str(direct.value) == str(made.value)
    parameters = inspect.signature(LRControlEnv).parameters
    assert all(p.kind == p.POSITIONAL_OR_KEYWORD for p in parameters.values())
    assert keyword_names(LRControlEnv) == list(parameters)
    env = LRControlEnv("linreg", None, "val", horizon=3, inner_steps=2)  # positional arguments as before
    env.reset(seed=1)
    expected = copy.deepcopy(env).step(2)[0].tobytes()
    for clone in (copy.copy(env), pickle.loads(pickle.dumps(env))):
        assert clone.step(2)[0].tobytes() == expected

    class Scaled(LRControlEnv):  # a subclass with a keyword of its own passes the others on
        def __init__(self, scale=1.0, **kwargs):
            self.scale = scale
            super().__init__(**kwargs)

    assert Scaled(scale=2.0, horizon=3).horizon == 3
    with pytest.raises(UnknownKeywordError, match=r"^LRControlEnv\(\) got an unexpected keyword argument 'horizn' "
                                                  r"\(did you mean 'horizon'\?\); valid: family, "):
        Scaled(scale=2.0, horizn=3)


def test_the_vector_env_names_a_misspelt_keyword_and_its_valid_ones():
    with pytest.raises(UnknownKeywordError) as caught:
        gym.make_vec("LRControl-LinReg-v1", 2, vectorization_mode="vector_entry_point", optimiser="adam")
    message = str(caught.value)
    assert message.startswith("LRControlVectorEnv() got an unexpected keyword argument 'optimiser' (did you mean 'optimizer'?); "
                              "valid: ")
    valid = message.split("valid: ", 1)[1].split(", ")
    own = [p for p, v in inspect.signature(LRControlVectorEnv).parameters.items() if v.kind != v.VAR_KEYWORD]
    settings = [p for p in inspect.signature(EnvSettings.build).parameters if p != "cls"]
    assert set(valid) == {*own, "render_mode", *settings}
    assert "task_cache" not in valid  # a single env's own keyword, refused by the vector env


def test_specs_copies_pickles_and_render_modes_are_unchanged():
    env = gym.make("LRControl-LinReg-v1", horizon=3, inner_steps=2)
    again = gym.make(env.spec)
    assert again.spec.kwargs == env.spec.kwargs and again.unwrapped.horizon == 3
    env.reset(seed=1)
    expected = copy.deepcopy(env).step(2)[0].tobytes()
    for clone in (copy.deepcopy(env), pickle.loads(pickle.dumps(env))):
        assert clone.step(2)[0].tobytes() == expected
    venv = gym.make_vec("LRControl-LinReg-v1", 2, vectorization_mode="vector_entry_point", horizon=3)
    assert venv.num_envs == 2 and venv.reset(seed=0)[0].shape[0] == 2
    assert gym.make("LRControl-LinReg-v1", render_mode="rgb_array").render_mode == "rgb_array"
    assert type(gym.make("LRControl-LinReg-v1", render_mode="human")).__name__ == "HumanRendering"  # creator's metadata


@pytest.fixture
def class_id():
    env_id = "MyLinRegByClass-v0"
    gym.register(env_id, entry_point=CLASS_ENTRY_POINT, kwargs={"family": "linreg", "horizon": 4})
    yield env_id
    del gym.registry[env_id]


def test_an_id_of_your_own_registering_the_class_still_works(class_id):
    assert gym.make(class_id).unwrapped.horizon == 4
    assert lrgym_env_kwargs(class_id) == {"family": "linreg", "horizon": 4}  # lrgym's tools accept it


def test_the_message_starts_as_pythons_own_which_other_libraries_read():
    """gymnasium's make looks for "got an unexpected keyword argument 'render_mode'" in the
    creator's TypeError, TorchRL's GymEnv retries without frameskip when the message names it
    (the first wording, "has no keyword", broke TorchRL's GymEnv on every lrgym id)."""

    class Plain:
        def __init__(self, family=None):
            pass

    with pytest.raises(TypeError) as python:
        Plain(frameskip=1)
    with pytest.raises(TypeError) as ours:
        gym.make("LRControl-LinReg-v1", frameskip=1)
    expected = "got an unexpected keyword argument 'frameskip'"
    assert expected in str(python.value) and expected in str(ours.value)


@pytest.mark.parametrize("env_id, dataset", [("LRControl-Digits-v1", "digits"),
                                             ("LRControl-BreastCancer-v1", "breast_cancer")])
def test_an_ids_own_family_options_survive_the_users(env_id, dataset):
    """An audit (2026-12-05): ``gym.make("LRControl-Digits-v1", family_options={"hidden": 32})``
    trained on synthetic clusters, since gymnasium replaced the id's ``family_options`` whole.
    The id's own options are merged under the user's, through every entry point; a contradicting
    value is refused, naming both."""
    from lrgym.sb3 import make_sb3_vec_env

    made = [
        gym.make(env_id, family_options={"hidden": 32}).unwrapped,
        gym.make_vec(env_id, 2, vectorization_mode="vector_entry_point", family_options={"hidden": 32}),
        gym.make_vec(env_id, 2, vectorization_mode="sync", family_options={"hidden": 32}),
        make_sb3_vec_env(env_id, n_envs=2, family_options={"hidden": 32}),
    ]
    specs = [made[0].task_for(3).spec, made[1].unwrapped._sub_envs[0].task_for(3).spec,
             made[2].envs[0].unwrapped.task_for(3).spec, made[3].venv_gym._sub_envs[0].task_for(3).spec]
    for spec in specs:
        assert (spec.dataset, spec.hidden) == (dataset, 32)
    assert gym.make(env_id).unwrapped.task_for(3).spec.dataset == dataset
    assert gym.make(env_id, family_options={"dataset": dataset}).unwrapped.task_for(3).spec.dataset == dataset
    with pytest.raises(ValueError, match=f"contradict this id's own {{'dataset': '{dataset}'}}"):
        gym.make(env_id, family_options={"dataset": "clusters"})
    with pytest.raises(ValueError, match="contradict"):
        gym.make_vec(env_id, 2, vectorization_mode="vector_entry_point", family_options={"dataset": "teacher"})
    assert lrgym_env_kwargs(env_id) == {"family": "mlp", "family_options": {"dataset": dataset}}
