"""Every registered task family passes the family contract (lrgym.family_contract);
a new family added with one registry line (here: a toy family from outside the package) works
with the env, gymnasium ids, the vector env, SB3's ``make_vec_env`` and the baselines."""

from __future__ import annotations

import os
import re
import sys

import gymnasium as gym

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lrgym.family_contract import check_env, check_family, check_kernels, check_specs  # noqa: E402

from lrgym.registry import ENV_IDS  # noqa: E402
from lrgym.tasks import FAMILIES, MIXED_V1, env_ids, register_family  # noqa: E402


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_specs(name):
    check_specs(name)


@pytest.mark.parametrize("name", sorted(f for f in FAMILIES if f != "mixed"))
def test_kernels(name):
    check_kernels(name, 0)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_env(name):
    check_env(name)


@pytest.fixture
def toy():
    """The toy family registered (module toy_family.py + this one line), then removed again."""
    families, ids = dict(FAMILIES), dict(ENV_IDS)
    register_family("toy", "toy_family:ToyFamily", env_id="LRControl-Toy-v0")  # the one registry line
    yield "LRControl-Toy-v0"
    FAMILIES.clear()
    FAMILIES.update(families)
    ENV_IDS.clear()
    ENV_IDS.update(ids)
    gym.registry.pop("LRControl-Toy-v0", None)


def test_a_new_family_is_its_module_its_tests_and_one_registry_line(toy):
    check_family("toy")  # the contract
    env = gym.make(toy)
    obs, info = env.reset(seed=0)
    assert env.unwrapped.task.spec.family == "toy" and env.unwrapped.horizon == 8
    from lrgym.info import FAMILY_NAMES, family_index, family_name

    # the info schema's frozen name table (lrgym.info.FAMILY_NAMES) lists built-ins only; a family
    # of one's own has an index of its name, outside the table
    assert info["family"] == family_index("toy") >= 2 ** 32 and family_name(info["family"]) == "toy"
    assert "toy" not in FAMILY_NAMES
    env.step(2)
    # the vector env (a Python loop over Task.run for kernels it has no batched kind for)
    vec = gym.make_vec(toy, num_envs=3, vectorization_mode="vector_entry_point")
    obs, _ = vec.reset(seed=0)
    single = gym.make(toy)
    for i in range(3):
        np.testing.assert_array_equal(obs[i], single.reset(seed=i)[0])
    obs, rewards, *_ = vec.step(np.array([3, 2, 1]))
    assert np.isfinite(obs).all()
    # the registry's derived tables: the id is listed; LRControl-v1 keeps its (versioned) members,
    # and the toy mixes with other families on request
    assert ENV_IDS[toy] == {"family": "toy", "id_family_target": "toy=toy_family:ToyFamily"}
    assert FAMILIES["toy"].env_ids == {toy: {}}
    assert "toy" not in MIXED_V1 and gym.make("LRControl-v1").unwrapped.family.members == MIXED_V1
    mixed = gym.make("LRControl-v1", family_options={"members": ("linreg", "toy")}, horizon=8, inner_steps=3)
    for instance, family in ((0, "linreg"), (1, "toy")):
        mixed.reset(seed=0, options={"instance": instance})
        assert mixed.unwrapped.task.spec.family == family
        assert np.isfinite(mixed.step(2)[0]).all()
    # SB3's helper, with its rgb_array render mode
    from stable_baselines3.common.env_util import make_vec_env

    sb3_vec = make_vec_env(toy, n_envs=2, seed=0)
    sb3_vec.reset()
    sb3_vec.step(np.array([2, 2]))
    # the baselines: listed, evaluated, tuned like any family
    from lrgym.baselines.evaluation import evaluate, make_env
    from lrgym.baselines.families import available_families, env_kwargs_for
    from lrgym.baselines.schedules import Constant
    from lrgym.baselines.tune import run_config

    assert "toy" in available_families()
    # a registered family off the board (not in MIXED_V1) has no tuned values: a tuned baseline
    # takes the mixed family's, saying so; one bound to the info schema's families refuses it
    from lrgym.baselines.registry import FAMILY_BOUND, make_baseline

    with pytest.warns(UserWarning, match="has no tuned values for family 'toy'"):
        fixed = make_baseline("fixed", "toy")
    [traj] = evaluate(fixed, env=make_env(fixed, env_kwargs_for("toy")), instances=[3], seeds=[0])
    assert len(traj.lrs) == 8
    for name in FAMILY_BOUND:
        bound = make_baseline(name, "toy")
        with pytest.raises(ValueError, match=f"family id {family_index('toy')} has no trained weights "
                                             r"\(family 'toy'\); valid: 0\.\.3 \(linreg, quadratic, mlp, recsys\)"):
            evaluate(bound, env=make_env(bound, env_kwargs_for("toy")), instances=[3], seeds=[0])
    policy = Constant(lr=0.05)
    [traj] = evaluate(policy, env=make_env(policy, env_kwargs_for("toy")), instances=[3], seeds=[0])
    assert len(traj.lrs) == 8 and traj.final_loss < traj.initial_loss
    job, runs = run_config(("toy", "fixed", {"lr": 0.05}, (0, 1), (0,)))
    assert [r[:2] for r in runs] == [(0, 0), (1, 0)]


def test_an_episode_of_a_family_of_ones_own_is_recorded_under_its_name(toy):
    """A trajectory names its family by the task's spec, not by the info schema's frozen table:
    a toy episode was recorded as family 'unknown' (``info["family"]`` is −1), and the grader
    then failed every entry on a suite of the family ('trajectory for the wrong task/seed')."""
    from lrgym.baselines.evaluation import evaluate
    from lrgym.baselines.schedules import Constant

    [traj] = evaluate(Constant(lr=0.05), {"family": "toy"}, instance_set="val", instances=[10_000], seeds=[0])
    assert (traj.family, traj.instance) == ("toy", 10_000)
    mixed = {"family": "mixed", "family_options": {"members": ("linreg", "toy")}, "horizon": 4,
             "inner_steps": 3}  # the members' defaults differ (linreg 50 and 10, toy 8 and 3)
    assert [t.family for t in evaluate(Constant(lr=0.01), mixed, instances=[0, 1], seeds=[0])] == ["linreg", "toy"]


def test_a_mixture_runs_its_members_default_length_or_asks_for_one(toy):
    """A mixture's default horizon and inner steps are its members' (toy: 8 and 3), not the base
    class's 50 and 10, which ran every toy episode of a mixture 50 steps of 10 updates; members
    whose defaults differ get an error naming each member's default, as an env's length is one
    for all its episodes. LRControl-v1's members share 50 and 10: nothing changes there."""
    from lrgym.env import LRControlEnv
    from lrgym.tasks import make_family

    toys = LRControlEnv(family="mixed", family_options={"members": ("toy",)})
    alone = make_family("toy")
    assert (toys.horizon, toys.inner_steps) == (alone.default_horizon, alone.default_inner_steps) == (8, 3)
    _, info = toys.reset(seed=0)
    assert (info["horizon"], info["inner_steps"]) == (8, 3)
    with pytest.raises(ValueError, match=r"horizon not given.*linreg 50, toy 8.*valid: horizon=N"):
        LRControlEnv(family="mixed", family_options={"members": ("linreg", "toy")})
    with pytest.raises(ValueError, match=r"inner_steps not given.*linreg 10, toy 3"):
        LRControlEnv(family="mixed", family_options={"members": ("linreg", "toy")}, horizon=8)
    both = LRControlEnv(family="mixed", family_options={"members": ("linreg", "toy")}, horizon=8, inner_steps=3)
    assert (both.horizon, both.inner_steps) == (8, 3)
    v1 = gym.make("LRControl-v1").unwrapped
    assert (v1.horizon, v1.inner_steps) == (50, 10)


def test_two_families_of_ones_own_have_distinct_stable_info_indices(toy, tmp_path):
    """``info["family"]`` was −1 for every family of one's own, so a policy could not tell two
    apart in a mixture. Each now has an index of its name alone (2**32 + CRC-32): distinct,
    outside the built-in table (whose indices and trajectories stay as they were), and the same
    in another process that registered the families in the other order (a grader's worker)."""
    import subprocess
    import zlib

    from lrgym.env import LRControlEnv
    from lrgym.info import FAMILY_NAMES, OWN_FAMILY_BASE, family_index, family_name
    from lrgym.tasks import families_env
    from lrgym.vector import LRControlVectorEnv

    register_family("toy_twin", "toy_family:ToyTwinFamily")
    members = ("linreg", "toy", "toy_twin")
    env = LRControlEnv(family="mixed", family_options={"members": members}, horizon=3, inner_steps=2)
    seen = {}
    for instance in range(3):
        _, info = env.reset(seed=0, options={"instance": instance})
        seen[env.task.spec.family] = info["family"]
        assert info["family"].dtype == np.int64 and env.step(2)[4]["family"] == info["family"]
    # the documented rule, an independent statement of it
    assert seen == {"linreg": 0, "toy": OWN_FAMILY_BASE + zlib.crc32(b"toy"),
                    "toy_twin": OWN_FAMILY_BASE + zlib.crc32(b"toy_twin")}
    assert len(set(seen.values())) == 3 and [family_name(seen[m]) for m in members] == list(members)
    assert [family_index(f) for f in FAMILY_NAMES] == [0, 1, 2, 3]  # the frozen table
    # the vector env reports the same
    vec = LRControlVectorEnv(3, family="mixed", family_options={"members": members}, horizon=3, inner_steps=2)
    _, vinfo = vec.reset(seed=0, options={"instance": [0, 1, 2]})
    assert list(vinfo["family"]) == [seen[m] for m in members]
    # another process, registering them in the other order, with another hash seed
    code = ("import lrgym; from lrgym.tasks import register_family; from lrgym.info import family_index; "
            "register_family('toy_twin', 'toy_family:ToyTwinFamily'); register_family('toy', 'toy_family:ToyFamily'); "
            "print(family_index('toy'), family_index('toy_twin'))")
    here = os.path.dirname(os.path.abspath(__file__))
    env_vars = {k: v for k, v in os.environ.items() if k != "LRGYM_FAMILIES"}
    env_vars.update(PYTHONHASHSEED="12345", PYTHONPATH=os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-c", code], env=env_vars, capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == [str(seen["toy"]), str(seen["toy_twin"])]
    # an index of a family not registered here is named as such, not "unknown"
    with pytest.raises(ValueError, match="not registered in this process"):
        family_name(OWN_FAMILY_BASE + zlib.crc32(b"nobody"))
    assert "toy_twin" in families_env()["LRGYM_FAMILIES"]


def test_a_family_name_whose_info_index_is_taken_is_refused(toy, monkeypatch):
    """Two registered families with one info index could not be told apart: refused, naming both."""
    import lrgym.tasks

    monkeypatch.setattr(lrgym.tasks, "own_family_index", lambda name: 7 if name in ("toy", "toy_twin") else -5)
    with pytest.raises(ValueError, match="family name 'toy_twin' has the info index 7 of the registered family 'toy'"):
        register_family("toy_twin", "toy_family:ToyTwinFamily")
    assert "toy_twin" not in FAMILIES


def test_the_grader_ranks_a_family_registered_in_its_process(toy, tmp_path, monkeypatch):
    """The grader's workers are fresh interpreters: they register the families the grader did
    (``$LRGYM_FAMILIES``, :func:`lrgym.tasks.families_env`). They knew only the built-in ones, so
    a suite of a family of one's own failed its references with "unknown family 'toy'"."""
    from lrgym.baselines.evaluation import evaluate
    from lrgym.baselines.schedules import Constant
    from lrgym.leaderboard.references import load_references
    from lrgym.leaderboard.runner import baseline_specs, run_suite
    from lrgym.leaderboard.suite import FamilySuite, Suite

    monkeypatch.setenv("LRGYM_CACHE", str(tmp_path))
    suite = Suite("toy-suite", 1, "the toy family", "val", (FamilySuite("toy", (10_000, 10_001)),), (0, 1))
    refs = load_references(suite, n_workers=1)
    for instance in (10_000, 10_001):  # the reference's runs are this process's constant-LR episodes
        task = next(t for t in suite.tasks() if t.instance == instance)
        lr = refs.tasks[task.label]["lr"]
        runs = evaluate(Constant(lr=lr), {"family": "toy", "instance_set": "val", "lr_init": lr},
                        instances=[instance], seeds=list(suite.seeds))
        assert [refs.final_loss(task, s) for s in suite.seeds] == [t.final_loss for t in runs]
    [outcome] = run_suite(baseline_specs(["fixed"]), suite, references=refs, n_workers=1)  # in a worker
    assert outcome.ok, outcome.entry
    from lrgym.baselines.evaluation import make_env
    from lrgym.baselines.registry import make_baseline

    with pytest.warns(UserWarning, match="no tuned values for family 'toy'"):
        fixed = make_baseline("fixed", "toy")
    here = {(t.instance, t.seed): t.final_loss
            for t in evaluate(fixed, env=make_env(fixed, suite.env_kwargs("toy")), instances=[10_000, 10_001], seeds=[0, 1])}
    assert {(r.family, r.instance, r.seed): r.final_loss for r in outcome.runs} == {
        ("toy", k, s): loss for (k, s), loss in here.items()}


def test_an_id_of_ones_own_builds_its_env_in_a_process_that_never_imported_the_family(toy):
    """The id carries its family's ``name=module:Class`` (``lrgym.tasks.ID_FAMILY_TARGET``), so a
    ``spawn`` child of gymnasium's ``AsyncVectorEnv`` (``forkserver`` by default from Python 3.14),
    handed the id's spec, builds it: it failed there with "unknown family 'toy'", the child having
    imported lrgym but never the module that registered the family."""
    vec = gym.make_vec(toy, num_envs=2, vectorization_mode="async", vector_kwargs={"context": "spawn"})
    try:
        obs, _ = vec.reset(seed=0)
        stepped = vec.step(np.array([3, 1]))[0]
    finally:
        vec.close()
    single = gym.make(toy)
    for i, action in enumerate((3, 1)):
        np.testing.assert_array_equal(obs[i], single.reset(seed=i)[0])
        np.testing.assert_array_equal(stepped[i], single.step(action)[0])
    assert gym.make(toy, family="linreg").unwrapped.task_for(0).spec.family == "linreg"  # the caller's family holds


def test_families_of_ones_own_are_handed_to_child_processes(toy, monkeypatch):
    """``families_env`` names the families registered from outside the package, for the grader's
    and Ray's workers; ``$LRGYM_FAMILIES`` registers them in a new process, a bad item refused
    naming it and the valid form."""
    import subprocess

    from lrgym.baselines.backend import worker_env
    from lrgym.tasks import FAMILIES_ENV, families_env, register_from_env

    assert families_env() == {FAMILIES_ENV: "toy=toy_family:ToyFamily"}
    assert worker_env()[FAMILIES_ENV] == "toy=toy_family:ToyFamily"
    env = {**os.environ, FAMILIES_ENV: "toy=toy_family:ToyFamily",
           "PYTHONPATH": os.pathsep.join([os.path.dirname(os.path.abspath(__file__)), *sys.path])}
    code = "from lrgym.tasks import make_family; print(make_family('toy').sample(3).family)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "toy", out.stderr
    register_from_env(" toy=toy_family:ToyFamily , ")  # the same again, spaces and an empty item: fine
    for bad, message in (("toy", "item 'toy' invalid; valid: 'name=package.module:ClassName'"),
                         ("toy=other:Family", "item 'toy=other:Family': family 'toy' is already registered"),
                         ("toy3=no_colon", "item 'toy3=no_colon': target 'no_colon' invalid")):
        with pytest.raises(ValueError, match=rf"\$LRGYM_FAMILIES {message}"):
            register_from_env(bad)
    assert "toy3" not in FAMILIES


def test_ids_and_name_tables_derive_from_the_family_registry():
    from lrgym.info import FAMILY_NAMES
    from lrgym.leaderboard.suite import SUITES
    from lrgym.tasks.mixture import DEFAULT_MEMBERS

    assert {k: v for k, v in ENV_IDS.items() if k in env_ids()} == env_ids()
    assert set(env_ids()) == {i for entry in FAMILIES.values() for i in entry.env_ids}
    assert gym.make("LRControl-Digits-v1").unwrapped.task_for(0).spec.dataset == "digits"
    # LRControl-v1's members (versioned), the info name table and the suites' families: one tuple
    assert FAMILY_NAMES == DEFAULT_MEMBERS == MIXED_V1 == ("linreg", "quadratic", "mlp", "recsys")
    assert all(tuple(f.family for f in suite.families) == MIXED_V1 for suite in SUITES.values())


def test_registering_checks_its_input(toy):
    register_family("toy", "toy_family:ToyFamily")  # the same again: fine
    with pytest.raises(ValueError, match="already registered as 'toy_family:ToyFamily'"):
        register_family("toy", "other:Family")
    with pytest.raises(ValueError, match="valid: 'package.module:ClassName'"):
        register_family("toy2", "no_colon")


@pytest.mark.parametrize("name, target, said", [
    ("my,fam", "toy_family:ToyFamily", "family name 'my,fam' invalid"),
    ("a=b", "toy_family:ToyFamily", "family name 'a=b' invalid"),
    (" toy2", "toy_family:ToyFamily", "family name ' toy2' invalid"),
    ("", "toy_family:ToyFamily", "family name '' invalid"),
    (3, "toy_family:ToyFamily", "family name 3 invalid"),
    ("toy2", "toy_family:Toy,x=y:Z", "target 'toy_family:Toy,x=y:Z' invalid"),
    ("toy2", "a:b:c", "target 'a:b:c' invalid"),
    ("toy2", "toy family:ToyFamily", "target 'toy family:ToyFamily' invalid"),
])
def test_a_name_or_target_the_workers_could_not_read_is_refused(toy, name, target, said):
    """register_family refuses a name or target that $LRGYM_FAMILIES ('name=module:Class,...', what
    lrgym's workers get: families_env) cannot carry as it is, naming it, and registers nothing: 'my,fam'
    was registered, and every grader worker then failed at 'import lrgym' on the item 'my'; a target
    'a:b:c' failed at first use with a bare 'too many values to unpack'."""
    from lrgym.tasks import families_env, register_from_env

    with pytest.raises(ValueError, match=re.escape(said)):
        register_family(name, target)
    assert name not in FAMILIES and "toy2" not in FAMILIES
    register_from_env(families_env().get("LRGYM_FAMILIES", ""))  # what a worker does: reads every item


def test_a_refused_env_id_registers_no_family(toy):
    """An id taken by another family is refused before the family is registered (it was left in
    FAMILIES, half registered, after the error)."""
    with pytest.raises(ValueError, match="'LRControl-LinReg-v1' is already registered with {'family': 'linreg'}"):
        register_family("toy2", "toy_family:ToyFamily", env_id="LRControl-LinReg-v1")
    assert "toy2" not in FAMILIES and ENV_IDS["LRControl-LinReg-v1"] == {"family": "linreg"}


@pytest.mark.parametrize("bad", ["bad id!", "a/b/c-v0", "Toy-vx!", 5])
def test_a_malformed_env_id_registers_no_family(toy, bad):
    """An id gymnasium cannot take is refused, naming it and the valid form, before anything is
    registered: gymnasium's error came from ``gym.register``, after the family and the id were
    recorded (``FAMILIES``, ``ENV_IDS``), and every later ``register_all`` raised it again."""
    from lrgym.registry import register_all

    with pytest.raises(ValueError, match=rf"env id {re.escape(repr(bad))} is malformed; valid: an id of "
                                         r"gymnasium's form \[namespace/\]name\[-vN\]"):
        register_family("toy2", "toy_family:ToyFamily", env_id=bad)
    assert "toy2" not in FAMILIES and bad not in ENV_IDS
    with pytest.raises(ValueError, match="is malformed"):
        register_family("toy", "toy_family:ToyFamily", env_id=bad)  # a known family: its entry unchanged
    assert FAMILIES["toy"].env_ids == {toy: {}} and bad not in ENV_IDS
    register_all()


def test_an_env_id_taken_by_another_environment_is_refused(toy):
    """An id gymnasium holds for another environment (another package's) is refused too: it was
    recorded as the family's id while ``gym.make`` built the other environment."""
    with pytest.raises(ValueError, match="'CartPole-v1' is already registered with gymnasium as "
                                         "'gymnasium.envs.classic_control.cartpole:CartPoleEnv'"):
        register_family("toy2", "toy_family:ToyFamily", env_id="CartPole-v1")
    assert "toy2" not in FAMILIES and "CartPole-v1" not in ENV_IDS
    register_family("toy", "toy_family:ToyFamily", env_id=toy)  # its own id again: fine


def test_a_family_registered_under_another_name_than_its_own_is_refused_by_name(toy):
    """The registry key and the class's ``name`` (its specs' ``family``) must agree: a toy class
    registered as 'toy2' sampled specs of family 'toy', and a mixture with it failed with a
    bare KeyError 'toy' at its first reset."""
    from lrgym.tasks import make_family

    register_family("toy2", "toy_family:ToyFamily")
    with pytest.raises(ValueError, match=r"family 'toy2' is registered as 'toy_family:ToyFamily', whose name is "
                                         r"'toy'; valid: a TaskFamily whose name attribute is the registry key 'toy2'"):
        make_family("toy2")
    with pytest.raises(ValueError, match="whose name is 'toy'"):
        gym.make("LRControl-v1", family_options={"members": ("linreg", "toy2")})
    FAMILIES.pop("toy2")


def _numeric_options(kind: type) -> list[tuple[str, str, object]]:
    """(family, option, default) of every option of every family in the registry (the mixture
    aside: its options are its members') whose spec default is a ``kind`` (int: not a bool).
    Derived from the specs, so a new family's options are checked without a list to extend (the
    tables this replaced named one option per family by hand, and a family missing from them was
    silently left out)."""
    import dataclasses

    from lrgym.tasks import family_class
    from lrgym.tasks.mixture import MixtureFamily

    found = []
    for name in sorted(FAMILIES):
        if name == MixtureFamily.name:
            continue
        for f in dataclasses.fields(family_class(name).spec_class):
            if f.name not in ("family", "instance") and type(f.default) is kind:
                found.append((name, f.name, f.default))
    return found


# every family checks its numeric options the same way (lrgym.tasks.base.check_options)
_INTEGER_OPTIONS = _numeric_options(int)
_REAL_OPTIONS = _numeric_options(float)


def test_every_family_has_numeric_options_checked_here():
    """The derived lists reach every family (a family whose spec had no int or float field would
    go unchecked: say so here rather than pass)."""
    from lrgym.tasks.mixture import MixtureFamily

    families = {name for name in FAMILIES if name != MixtureFamily.name}
    assert {name for name, _, _ in _INTEGER_OPTIONS + _REAL_OPTIONS} == families
    assert ("mlp", "hidden", 64) in _INTEGER_OPTIONS and ("recsys", "signal", 2.0) in _REAL_OPTIONS


@pytest.mark.parametrize("name, key, default", _INTEGER_OPTIONS)
@pytest.mark.parametrize("bad", [True, 8.0, "8", None])
def test_integer_options_reject_other_types_by_name(name, key, default, bad):
    from lrgym.tasks import make_family

    # (the valid values in words: "integer 1..2048", or mlp's depth "1 or 2")
    with pytest.raises(ValueError, match=rf"{name} option {key}={re.escape(repr(bad))} out of range; valid: "):
        make_family(name, **{key: bad})
    assert getattr(make_family(name, **{key: np.int64(default)}).sample(0), key) == default


@pytest.mark.parametrize("name, key, default", _REAL_OPTIONS)
@pytest.mark.parametrize("bad", [True, "0.1", None, float("nan")])
def test_real_options_reject_other_types_and_nan_by_name(name, key, default, bad):
    from lrgym.tasks import make_family

    with pytest.raises(ValueError, match=rf"{name} option {key}="):
        make_family(name, **{key: bad})
    value = getattr(make_family(name, **{key: np.float32(default)}).sample(0), key)
    assert value == float(np.float32(default)) and type(value) is float


@pytest.mark.parametrize("options", [(8, 16, 32, 64, 128, 256), (1, 4, 16, 64, 256), (1, 2, 3, 4, 8), (7,), (3, 5)])
def test_choose_is_numpys_choice(options):
    """``lrgym.tasks.base.choose`` (the families' spec sampling) gives ``rng.choice``'s item and
    leaves the generator where ``rng.choice`` leaves it, from fresh generators and from
    generators holding a buffered 32-bit value or after other draws."""
    from lrgym.tasks.base import choose

    for seed in range(400):
        a, b = np.random.default_rng([seed, 11]), np.random.default_rng([seed, 11])
        for g in (a, b):  # the same history before the draw
            if seed % 3 == 1:
                g.integers(5)  # buffers the other half of a 64-bit output
            elif seed % 3 == 2:
                g.uniform()
        assert choose(b, options) == a.choice(options)
        assert a.bit_generator.state == b.bit_generator.state
        assert a.integers(1 << 20) == b.integers(1 << 20) and a.random() == b.random()


@pytest.mark.parametrize("broken, message", [
    ("plain_sgd", "adam ran the same updates as plain SGD: Task.run ignores its opt / hyper arguments"),
    ("no_divergence", "lr=1e6 for 20 steps did not report divergence"),
    ("unwritten", "Task.run did not write ['loss_var']"),
])
def test_the_installed_contract_names_what_a_broken_family_breaks(broken, message, monkeypatch):
    """``lrgym.family_contract`` is installed with lrgym (a family author runs ``check_family`` on
    theirs): a toy family that ignores the optimizer it is handed, never reports divergence or
    leaves a statistic unwritten fails it with a FamilyContractError (an AssertionError, also
    under ``python -O``) naming the family and what it broke."""
    import toy_family

    from lrgym.optim import apply_update
    from lrgym.tasks.base import S_DIVERGED, S_LOSS_VAR
    from lrgym.family_contract import FamilyContractError

    run = toy_family.ToyTask.run

    def broken_run(self, state, lr, n_updates, opt, hyper, loss_cap, stats):
        if broken == "plain_sgd":  # every update plain SGD (opt code 0, no hyper-parameters)
            monkeypatch.setattr(toy_family, "apply_update",
                                lambda x, g, slots, step, lr_, opt_, hyper_, seg: apply_update(
                                    x, g, slots, step, lr_, 0, np.zeros_like(hyper_), seg))
        run(self, state, lr, n_updates, opt, hyper, np.inf if broken == "no_divergence" else loss_cap, stats)
        if broken == "no_divergence":
            stats[S_DIVERGED] = 0.0
        if broken == "unwritten":
            stats[S_LOSS_VAR] = np.nan

    monkeypatch.setattr(toy_family.ToyTask, "run", broken_run)
    families = dict(FAMILIES)
    register_family("toy", "toy_family:ToyFamily")
    try:
        with pytest.raises(FamilyContractError) as err:
            check_kernels("toy", 0)
    finally:
        FAMILIES.clear()
        FAMILIES.update(families)
    assert isinstance(err.value, AssertionError) and str(err.value).startswith("toy: ") and message in str(err.value)


@pytest.mark.parametrize("name, key, value", [
    ("mlp", "n_train", np.int8(100)),  # was OverflowError: Python integer 512 out of bounds for int8
    ("recsys", "rank", np.int8(3)),  # was OverflowError (2048 out of bounds for int8)
    ("recsys", "n_negatives", np.int8(3)),  # was OverflowError (380 out of bounds for int8)
    ("linreg", "noise", np.array(0.5)),  # a 0-d array passed the check, then: unhashable type 'numpy.ndarray'
    ("quadratic", "scale", np.array(2.0)),
    ("mlp", "separation", np.array(2.0)),
    ("recsys", "zipf", np.array(0.5)),
])
def test_numpy_option_values_build_what_the_python_number_builds(name, key, value):
    """A family option given as a NumPy number (of any width) or a 0-d array is the Python number
    it holds (lrgym.tasks.base.plain_number): the same spec and the same first step."""
    from lrgym.env import LRControlEnv
    from lrgym.tasks import make_family

    plain = value.item()

    def first_step(v):
        env = LRControlEnv(family=name, family_options={key: v}, horizon=2, inner_steps=2)
        obs, _ = env.reset(seed=0, options={"instance": 0})
        return obs, env.step(2)[:2]

    (obs_np, (after_np, reward_np)), (obs_py, (after_py, reward_py)) = first_step(value), first_step(plain)
    np.testing.assert_array_equal(obs_np, obs_py)
    np.testing.assert_array_equal(after_np, after_py)
    assert reward_np == reward_py
    option = getattr(make_family(name, **{key: value}).sample(0), key)
    assert option == plain and type(option) is type(plain)


@pytest.mark.parametrize("name, key, value, said", [
    ("linreg", "scale", 5e-324, "1e-6 <= scale < 1e6"),  # passed "> 0", then NumPy's LinAlgError at the build
    ("quadratic", "scale", 5e-324, "1e-6 <= scale < 1e6"),  # passed "> 0": every loss and reward 0
    ("quadratic", "batch_size", 10**30, "integer 1..65536"),  # taken; the other families cap it
])
def test_option_values_no_instance_can_use_are_refused_with_their_range(name, key, value, said):
    from lrgym.tasks import make_family

    with pytest.raises(ValueError, match=f"{key}.*{said}"):
        make_family(name, **{key: value})
    edge = {"scale": 1e-6, "batch_size": 65536}[key]  # the edge of the range still builds and steps
    from lrgym.env import LRControlEnv

    env = LRControlEnv(family=name, family_options={key: edge}, horizon=2)
    env.reset(seed=0)
    assert np.isfinite(env.step(2)[1])
