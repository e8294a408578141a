"""Every baseline, built by the registry with its tuned values, runs through the one
evaluation function on every registered family; tuned values come from train instances only.

The families of ``LRControl-v1`` (:data:`lrgym.tasks.MIXED_V1`, the board's) have tuned values
for every tuned baseline. A family added to the registry without joining them (README, "Adding a task
family") has none: the baselines fall back to the mixed family's values, and the ones bound to
the info schema's families (:data:`FAMILY_BOUND`) refuse it, so adding one changes no shipped file."""

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from lrgym.baselines.evaluation import evaluate
from lrgym.baselines.families import MIXED, available_families, env_kwargs_for
from lrgym.baselines.policy import Policy, policy_env_kwargs
from lrgym.baselines.registry import BASELINES, FAMILY_BOUND, HAND_DESIGNED, LEARNED, UNTUNED, load_tuned, make_baseline, tuned_values
from lrgym.tasks import MIXED_V1
from lrgym.tasks.base import instance_set

#: every registered family (a contributor's new one included) and the mixed family
FAMILIES = [*available_families(), MIXED]
#: the families every tuned baseline has tuned values for: LRControl-v1's and the mixed family
BOARD_FAMILIES = [*MIXED_V1, MIXED]
SHORT = {"horizon": 5, "inner_steps": 2}


def test_learned_and_hand_designed_partition_the_registry():
    assert set(LEARNED) | set(HAND_DESIGNED) == set(BASELINES)
    assert not set(LEARNED) & set(HAND_DESIGNED)
    assert set(LEARNED) == {"qlearning", "dqn", "ppo", "controller"}


@pytest.mark.parametrize("name", list(BASELINES))
def test_only_family_bound_baselines_refuse_a_task_outside_the_families(name):
    """A user's PyTorch training (TorchTrainingEnv, the transfer study) has info["family"] == -1:
    every baseline drives it except the FAMILY_BOUND ones, which refuse with a clear error."""
    import gymnasium as gym

    env = gym.make("LRControl-v1", **SHORT)
    _, info = env.reset(seed=0)
    info = {**info, "family": -1}
    policy = make_baseline(name, None)
    if name in FAMILY_BOUND:
        with pytest.raises(ValueError, match="family id -1"):
            policy.reset(info)
    else:
        policy.reset(info)
        policy.act(env.observation_space.sample() * 0, info)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("name", list(BASELINES))
def test_every_baseline_runs_through_evaluate(name, family):
    with warnings.catch_warnings():
        if family not in BOARD_FAMILIES:  # no tuned values of its own: the mixed family's, with a warning
            warnings.filterwarnings("ignore", message=".*has no tuned values")
        policy = make_baseline(name, None if family == MIXED else family)
    assert isinstance(policy, Policy)
    assert policy.name == name
    kwargs = {**env_kwargs_for(None if family == MIXED else family), **SHORT}
    if name in FAMILY_BOUND and family not in BOARD_FAMILIES:
        # a family outside LRControl-v1 (a FAMILIES line without mixed_v1): refused by its index,
        # 2**32 + a CRC, and its name (the test expected -1, an index no such family has)
        from lrgym.info import family_index

        with pytest.raises(ValueError, match=rf"family id {family_index(family)} has no trained weights \(family '{family}'\)"):
            evaluate(policy, kwargs, instance_set="val", instances=[10_000], seeds=[0])
        return
    trajs = evaluate(policy, kwargs, instance_set="val", instances=[10_000], seeds=[0])
    (t,) = trajs
    assert len(t.lrs) == SHORT["horizon"] or t.diverged
    assert len(t.train_losses) == len(t.lrs) + 1
    assert all(1e-6 * (1 - 1e-6) <= lr <= 10 * (1 + 1e-6) for lr in t.lrs)
    assert math.isfinite(t.initial_loss)


@pytest.mark.parametrize("name", HAND_DESIGNED)
def test_tuned_values_exist_for_every_family(name):
    if name in UNTUNED:
        assert tuned_values(name, "linreg") == {}
        return
    values = load_tuned()["values"].get(name, {})  # a new baseline not yet shipped: named below, no KeyError
    for family in BOARD_FAMILIES:
        assert family in values, (f"{name} not tuned for {family}: python -m lrgym.baselines.tune --baselines {name} "
                                  "--ship (README, \"Adding a baseline\")")
    assert "lr" in values[MIXED]


def test_tuning_used_train_instances_only():
    tuned = load_tuned()
    train = instance_set("train")
    assert tuned["command"] == "python -m lrgym.baselines.tune"
    for family, settings in tuned["settings"].items():
        assert settings["instances"] and all(k in train for k in settings["instances"])


def test_make_baseline_overrides_and_errors():
    p = make_baseline("cosine", "linreg", lr=0.123, warmup_frac=0.2)
    assert p.lr0 == 0.123 and p.warmup_frac == 0.2
    assert make_baseline("adam_default").lr0 == 1e-3
    assert policy_env_kwargs(make_baseline("adam"))["optimizer"] == "adam"
    assert policy_env_kwargs(make_baseline("bold_driver"))["rejection_threshold"] == 0.04
    with pytest.raises(ValueError, match="unknown baseline"):
        make_baseline("nope")
    with pytest.raises(ValueError, match=r"unknown baseline \['fixed'\]; valid choices: fixed, step"):  # was: unhashable type
        make_baseline(["fixed"])
    with pytest.raises(ValueError, match="unknown family"):
        make_baseline("fixed", "nope")


def test_learned_baselines_load_lazily():
    import subprocess
    import sys

    policy = make_baseline("dqn")
    assert policy._model is None  # torch / SB3 load on first reset
    assert policy.action_mode == "discrete"
    assert make_baseline("ppo").action_mode == "log_lr"
    q = make_baseline("qlearning")
    assert q.action_mode == "discrete" and np.isfinite(q.q).all()
    code = ("import sys; from lrgym.baselines.registry import make_baseline; "
            "[make_baseline(n) for n in ('dqn', 'ppo', 'qlearning', 'cosine')]; "
            "assert 'torch' not in sys.modules and 'stable_baselines3' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(Path(__file__).parents[2]))


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_shipped_inputs_hash_the_files_each_baseline_is_made_from():
    from lrgym.baselines.outputs import SHIPPED_TUNED, SHIPPED_WEIGHTS
    from lrgym.baselines.registry import shipped_inputs

    tuned = _sha256(SHIPPED_TUNED)
    assert shipped_inputs(["cosine"]) == {"tuned.json": tuned}
    assert shipped_inputs(["adam_default"]) == {}  # untuned: made from no shipped file
    assert shipped_inputs(["dqn", "fixed"]) == {
        "tuned.json": tuned,
        "weights/dqn_mixed.json": _sha256(SHIPPED_WEIGHTS / "dqn_mixed.json"),
        "weights/dqn_mixed.zip": _sha256(SHIPPED_WEIGHTS / "dqn_mixed.zip"),
    }
    assert set(shipped_inputs(["controller"])) == {"weights/controller_mixed.json", "weights/controller_mixed.npz"}


def test_a_retrained_baseline_has_new_inputs_and_a_new_source_hash(tmp_path, monkeypatch):
    """The grader's source hash of a learned baseline covers its weights: a board entry of the
    old weights and one of the new ones can be told apart."""
    import shutil

    from lrgym.baselines import registry
    from lrgym.leaderboard.worker import policy_files

    spec = {"kind": "baseline", "name": "qlearning"}
    _, _, before = policy_files(spec)
    inputs_before = registry.shipped_inputs(["qlearning"])
    weights = tmp_path / "weights"
    shutil.copytree(registry.WEIGHTS, weights)
    with np.load(weights / "qlearning_mixed.npz") as z:
        arrays = dict(z)
    arrays["q"] = arrays["q"] + 1.0  # "retrained"
    np.savez(weights / "qlearning_mixed.npz", **arrays)
    monkeypatch.setattr(registry, "WEIGHTS", weights)

    _, _, after = policy_files(spec)
    inputs_after = registry.shipped_inputs(["qlearning"])
    assert after != before
    assert inputs_after["weights/qlearning_mixed.npz"] == _sha256(weights / "qlearning_mixed.npz")
    assert inputs_after["weights/qlearning_mixed.npz"] != inputs_before["weights/qlearning_mixed.npz"]
    assert np.array_equal(make_baseline("qlearning").q, arrays["q"])  # it is the file that runs


def test_options_a_baseline_does_not_take_are_named_with_the_valid_ones(tmp_path):
    """``make_baseline("cosine", path=...)`` used to raise ``TypeError: Schedule.__init__() got an
    unexpected keyword argument 'path'``; a missing weights file named its sidecar, not itself."""
    with pytest.raises(ValueError, match="baseline 'cosine' got an unexpected keyword argument 'path'; valid: lr, min_ratio, warmup_frac, "
                                         "cycles, cycle_mult, optimizer"):
        make_baseline("cosine", path=tmp_path / "w.zip")
    with pytest.raises(ValueError, match="baseline 'dqn' got an unexpected keyword argument 'lr'; valid: path"):
        make_baseline("dqn", lr=0.1)
    with pytest.raises(FileNotFoundError, match="weights for the learned baseline 'dqn' not found: .*nothere.zip"):
        make_baseline("dqn", path=tmp_path / "nothere.zip")
    # what is valid still works: a schedule's base-class option (passed on by **kw) and tuned values
    assert make_baseline("cosine", optimizer="adam").optimizer == "adam"
    assert make_baseline("bold_driver", dec=0.5).name == "bold_driver"


@pytest.mark.parametrize("kwargs, named", [({"instances": [], "seeds": [0]}, "instances=[] is empty"),
                                           ({"instances": [10_000], "seeds": []}, "seeds=[] is empty"),
                                           ({"instances": (), "seeds": ()}, "instances=() is empty")])
def test_evaluate_refuses_an_empty_run_list(kwargs, named):
    """``evaluate`` runs every (instance, seed) pair; with none it returned ``[]`` as if it had run
    (a mean over it is NaN far from the cause). The counting reference: one instance and one
    seed give exactly one trajectory of that instance and seed."""
    policy = make_baseline("fixed", family="quadratic")
    with pytest.raises(ValueError, match=re.escape(named)):
        evaluate(policy, {"family": "quadratic", "horizon": 2}, instance_set="val", **kwargs)
    [trajectory] = evaluate(policy, {"family": "quadratic", "horizon": 2}, instance_set="val", instances=[10_000],
                            seeds=[3])
    assert (trajectory.instance, trajectory.seed) == (10_000, 3)


def test_evaluate_takes_instances_and_seeds_as_any_iterable():
    """``len()`` of the empty-list check (07b450b) made a generator of instances a TypeError, and
    a generator of seeds was used up by the first instance (the others ran no seed). The
    reference is run_episode on every (instance, seed) pair."""
    from lrgym.baselines.evaluation import make_env, run_episode

    policy = make_baseline("fixed", family="quadratic")
    kwargs = {"family": "quadratic", "horizon": 2, "instance_set": "val"}
    trajs = evaluate(policy, {"family": "quadratic", "horizon": 2}, instance_set="val",
                     instances=(i for i in (10_000, 10_001)), seeds=iter((0, 1)))
    env = make_env(policy, kwargs)
    expected = [run_episode(policy, env, s, i) for i in (10_000, 10_001) for s in (0, 1)]
    assert [(t.instance, t.seed) for t in trajs] == [(10_000, 0), (10_000, 1), (10_001, 0), (10_001, 1)]
    for got, want in zip(trajs, expected):
        np.testing.assert_array_equal(got.rewards, want.rewards)


@pytest.mark.parametrize("call", ["make_baseline", "BASELINES"])
def test_a_misspelt_hyper_parameter_names_the_closest_valid_one(call):
    """``BASELINES["cosine"](min_ration=0.1)`` was Python's bare ``TypeError: Cosine.__init__() got
    an unexpected keyword argument``; both ways in now name it, the closest valid name and the
    valid ones (the factory's signature, the reference), as a TypeError and a ValueError."""
    import inspect

    from lrgym.baselines.registry import BASELINES, make_baseline

    with pytest.raises(TypeError) as caught:
        make_baseline("cosine", min_ration=0.1) if call == "make_baseline" else BASELINES["cosine"](min_ration=0.1)
    assert isinstance(caught.value, ValueError)
    valid = ", ".join(inspect.signature(BASELINES["cosine"]).parameters)
    assert str(caught.value) == f"baseline 'cosine' got an unexpected keyword argument 'min_ration' (did you mean 'min_ratio'?); valid: {valid}"


def test_an_ids_keywords_build_its_env_through_the_evaluation():
    """A contributor audit (2026-12-05): ``evaluate(policy, ENV_IDS["LRControl-Digits-v1"])``
    raised Python's bare TypeError on the id's ``id_family_options``, and a misspelt keyword was
    no named error; the evaluation now builds envs as the ids do (lrgym.registry.make_env)."""
    from lrgym.baselines.evaluation import make_env
    from lrgym.keywords import UnknownKeywordError
    from lrgym.registry import ENV_IDS

    policy = make_baseline("fixed", "mlp")
    env = make_env(policy, {**ENV_IDS["LRControl-Digits-v1"], **SHORT})
    assert env.task_for(0).spec.dataset == "digits"
    [traj] = evaluate(policy, {**ENV_IDS["LRControl-Digits-v1"], **SHORT}, instance_set="val", instances=[10_000], seeds=[0])
    assert len(traj.lrs) == SHORT["horizon"] or traj.diverged
    with pytest.raises(UnknownKeywordError, match="'horizn' .*did you mean 'horizon'"):
        make_env(policy, {"family": "mlp", "horizn": 5})


def test_the_readme_lists_every_baseline_in_its_table():
    """A contributor's new baseline went unnoticed in the README's table of rules (an audit of
    2026-12-05): each name of the registry is a row of "The baselines", and each row a name."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### The baselines", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `([a-z_0-9]+)` \|", section, flags=re.M)
    assert sorted(rows) == sorted(BASELINES)


def test_a_baseline_class_without_a_docstring_registers():
    """``_named`` read the class's docstring's first line: one without a docstring broke importing
    the registry (AttributeError on None)."""
    from lrgym.baselines.registry import _named

    class Bare(Policy):
        def reset(self, info):
            pass

        def act(self, obs, info):
            return 2

    assert _named(Bare, "bare").__doc__ == "bare: Bare() — Bare (no docstring)"
