"""The small traps a new submitter meets: an SB3 PPO zip needs no ``--algo``, ``action_mode``
defaults to the env's mode, a mismatched action says which attribute to set, and ``submit``
names the entry after the policy's ``name``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lb_helpers import POLICIES, tiny_suite

from lrgym.baselines.evaluation import evaluate, make_env
from lrgym.baselines.policy import DEFAULT_ACTION_MODE, policy_env_kwargs
from lrgym.env import LRControlEnv
from lrgym.leaderboard.submission_files import declared_name
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec

SUITE = tiny_suite("defaults", families=("quadratic",), n_instances=1, seeds=(0, 1))
EXAMPLE = str(Path(__file__).resolve().parents[2] / "leaderboard" / "submissions" / "example_policy.py")


class NoMode:
    """A policy that declares nothing but name: it gets the env's default, discrete."""

    name = "no-mode"

    def reset(self, info):
        pass

    def act(self, obs, info):
        return 3  # x1.25


class FloatsWithoutMode(NoMode):
    """Returns log-LR floats but forgot ``action_mode = "log_lr"``."""

    def act(self, obs, info):
        return np.array([0.3], dtype=np.float32)


def test_action_mode_defaults_to_the_envs():
    assert DEFAULT_ACTION_MODE == LRControlEnv().action_mode == "discrete"
    assert policy_env_kwargs(NoMode())["action_mode"] == "discrete"
    [traj] = evaluate(NoMode(), env=make_env(NoMode(), {"family": "quadratic", "horizon": 3}), instances=[0], seeds=[0])
    np.testing.assert_allclose(traj.lrs, [1e-2 * 1.25 ** k for k in (1, 2, 3)])


def test_a_mismatched_action_says_which_attribute_to_set():
    env = make_env(FloatsWithoutMode(), {"family": "quadratic", "horizon": 3})
    with pytest.raises(ValueError, match=r"action_mode='discrete'.*class attribute action_mode = 'log_lr'"):
        evaluate(FloatsWithoutMode(), env=env, instances=[0], seeds=[0])
    log_env = LRControlEnv(family="quadratic", action_mode="log_lr")
    log_env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action_mode='log_lr'.*class attribute action_mode = 'discrete'"):
        log_env.step(4)


def test_submit_name_defaults_to_the_policys_name(tmp_path):
    assert declared_name(f"{EXAMPLE}:LossWatcher") == "loss-watcher"
    assert declared_name(f"{POLICIES}:Keep") == "keep"
    src = tmp_path / "p.py"
    src.write_text("class A:\n    name: str = 'annotated'\n"
                   "class B:\n    def __init__(self):\n        self.name = 'set-at-run-time'\n"
                   "class C:\n    name = f'{1}'\n"
                   "import os; os.system('echo never run')\n")
    assert declared_name(f"{src}:A") == "annotated"
    assert declared_name(f"{src}:B") is None and declared_name(f"{src}:C") is None  # the class name then
    assert declared_name(f"{src}:Missing") is None and declared_name("pkg.module:Cls") is None
    (tmp_path / "broken.py").write_text("class (:\n")
    assert declared_name(f"{tmp_path / 'broken.py'}:X") is None
    (tmp_path / "link.py").symlink_to(src)  # read as the worker reads: never through a link
    assert declared_name(f"{tmp_path / 'link.py'}:A") is None


def test_submission_spec_names_the_entry_as_submit_does(tmp_path):
    """One rule for an entry's default name, from Python as from ``submit``: the policy's declared
    ``name``, else its class's (a zip: its stem). ``submission_spec`` without a name used the
    class's name while the CLI used the declared one, so one policy had two entry names."""
    src = tmp_path / "p.py"
    src.write_text("class A:\n    name = 'annotated'\nclass B:\n    pass\n")
    assert submission_spec(f"{src}:A").name == "annotated" == declared_name(f"{src}:A")
    assert submission_spec(f"{src}:B").name == "B"
    assert submission_spec(f"{src}:A", name="mine").name == "mine"  # a name given wins
    assert submission_spec(f"{EXAMPLE}:LossWatcher").name == "loss-watcher"


def test_submit_does_not_parse_a_huge_policy_file_in_the_graders_process(tmp_path, monkeypatch):
    """ast takes up to ≈ 900× a file's size in memory: a hostile 64 MB policy file (the submission
    limit) would take the grader's ~50 GB. Past MAX_NAME_SOURCE_BYTES the name is not read."""
    import ast

    from lrgym.leaderboard import submission_files

    big = tmp_path / "big.py"
    body = "class A:\n    name = 'declared'\n"
    big.write_text(body + "x = 1\n" * ((submission_files.MAX_NAME_SOURCE_BYTES - len(body)) // 6))
    assert big.stat().st_size <= submission_files.MAX_NAME_SOURCE_BYTES
    assert declared_name(f"{big}:A") == "declared"  # at the limit: read
    big.write_text(body + "x = 1\n" * (submission_files.MAX_NAME_SOURCE_BYTES // 6 + 1))
    parsed = []
    monkeypatch.setattr(ast, "parse", lambda *a, **k: parsed.append(1))
    assert declared_name(f"{big}:A") is None and not parsed  # past it: the class name, nothing parsed


def test_submit_cli_uses_the_policys_name(tmp_path):
    typer_testing = pytest.importorskip("typer.testing")
    from lrgym.leaderboard.cli import app

    result = typer_testing.CliRunner().invoke(
        app, ["leaderboard", "submit", f"{EXAMPLE}:LossWatcher", "--suite", "quick", "--db", str(tmp_path / "r.sqlite"),
              "--workers", "1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "loss-watcher: rank" in result.output


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_an_sb3_zip_of_ppo_or_a2c_needs_no_algo(algo, tmp_path):
    sb3 = pytest.importorskip("stable_baselines3")
    env = LRControlEnv(**SUITE.env_kwargs("quadratic"), action_mode="log_lr")
    model = getattr(sb3, algo.upper())("MlpPolicy", env, policy_kwargs={"net_arch": [8]}, seed=0, device="cpu")
    path = tmp_path / f"tiny_{algo}.zip"
    model.save(path)
    refs = load_references(SUITE, n_workers=1)
    [outcome] = run_suite([submission_spec(str(path), name=f"tiny-{algo}")], SUITE, references=refs, n_workers=1,
                          time_limit=120)
    assert outcome.ok, outcome.entry.failure_reason
    assert outcome.entry.env_spec["env_kwargs"]["quadratic"]["action_mode"] == "log_lr"
    assert len(outcome.runs) == SUITE.n_runs


def test_bad_submit_options_stop_before_anything_runs_or_is_stored(tmp_path):
    """``--algo``, ``--optimizer`` and ``--env-options`` are checked on the command line: before,
    a misspelt one failed inside the sandbox and stayed in the store as a failed entry, and on a
    policy file they were silently ignored."""
    typer_testing = pytest.importorskip("typer.testing")
    from lrgym.leaderboard.cli import app

    model = tmp_path / "m.zip"
    model.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # never opened: the options fail first
    db = tmp_path / "r.sqlite"
    cases = [
        ([str(model), "--algo", "pp0"], "--algo 'pp0' unknown; valid choices: a2c, ddpg, dqn, ppo, sac, td3"),
        ([str(model), "--optimizer", "adamw"], "optimizer='adamw' not allowed; valid choices: sgd, momentum"),
        ([str(model), "--env-options", '{"horizon": 5}'], "horizon are fixed by the suite"),
        ([str(model), "--env-options", '{"lr_init": -1}'], "lr_init=-1 out of range"),
        ([f"{EXAMPLE}:LossWatcher", "--env-options", '{"lr_init": 0.1}'], "--env-options applies to SB3 .zip models only"),
        ([f"{EXAMPLE}:LossWatcher", "--algo", "dqn", "--optimizer", "adam"],
         "--algo, --optimizer apply to SB3 .zip models only"),
    ]
    for args, message in cases:
        result = typer_testing.CliRunner().invoke(app, ["leaderboard", "submit", *args, "--suite", "quick",
                                                        "--db", str(db)], env={"COLUMNS": "400"})
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
    assert not db.exists()  # nothing ran, nothing was stored


def test_an_algo_that_contradicts_the_zip_is_named(tmp_path):
    sb3 = pytest.importorskip("stable_baselines3")
    from lrgym.baselines.sb3_agents import zip_meta

    env = LRControlEnv(**SUITE.env_kwargs("quadratic"))
    path = tmp_path / "tiny_dqn.zip"
    sb3.DQN("MlpPolicy", env, policy_kwargs={"net_arch": [8]}, seed=0, device="cpu").save(path)
    assert zip_meta(path)["algo"] == zip_meta(path, "DQN")["algo"] == "dqn"
    with pytest.raises(ValueError, match="--algo 'ppo' but tiny_dqn.zip was saved by DQN; pass --algo dqn"):
        zip_meta(path, "ppo")


def test_a_source_built_to_break_the_parser_leaves_the_class_name(tmp_path):
    """A deep expression (RecursionError in ast) or nested lambdas (MemoryError in the parser),
    small enough to be parsed, crashed ``submit`` before anything was recorded; the class name
    is used and the worker then fails the entry."""
    from lrgym.leaderboard import submission_files

    deep = tmp_path / "deep.py"
    deep.write_text("class A:\n    name = 'declared'\nx = " + "+".join(["a"] * 20_000) + "\n")
    nested = tmp_path / "nested.py"
    nested.write_text("class A:\n    name = 'declared'\nx = " + "lambda:" * 3_000 + "1\n")
    for path in (deep, nested):
        assert path.stat().st_size <= submission_files.MAX_NAME_SOURCE_BYTES
        assert declared_name(f"{path}:A") is None



class FactorsAsAttribute(NoMode):
    """Declares its factors beside ``lr_init``, as a class attribute: no env reads it there."""

    name = "factors-attribute"
    lr_init = 0.05
    factors = (0.25, 1.0, 4.0)


class FactorsInBoth(FactorsAsAttribute):
    """Keeps them as an attribute and in ``env_options`` (as the Q-learning baseline does)."""

    env_options = {"factors": [0.25, 1.0, 4.0]}


class FactorsThatDisagree(FactorsAsAttribute):
    env_options = {"factors": (0.5, 1.0, 2.0), "rejection_threshold": 1.5}
    rejection_threshold = 1.5


def test_a_setting_declared_as_an_attribute_no_env_reads_is_an_error():
    """A class attribute ``factors`` (or ``rejection_threshold``) beside ``lr_init`` was ignored:
    its episodes ran with the env's default factors, its action 2 meaning x1.0 instead of the
    x4.0 it chose. Kept in ``env_options`` too (equal, any sequence type) it is fine."""
    with pytest.raises(ValueError, match=r"attribute factors = \(0.25, 1.0, 4.0\) is read by no env: declare it as "
                                         r"env_options = \{'factors': \(0.25, 1.0, 4.0\)\}"):
        policy_env_kwargs(FactorsAsAttribute())
    with pytest.raises(ValueError, match=r"attribute factors = \(0.25, 1.0, 4.0\) differs from its env_options' factors"):
        policy_env_kwargs(FactorsThatDisagree())
    assert policy_env_kwargs(FactorsInBoth())["factors"] == [0.25, 1.0, 4.0]
    with pytest.raises(ValueError, match="read by no env"):
        make_env(FactorsAsAttribute(), {"family": "quadratic", "horizon": 3})
    from lrgym.baselines.registry import make_baseline

    qlearning = make_baseline("qlearning", "quadratic")  # keeps its factors as an attribute too, equal
    assert qlearning.factors and policy_env_kwargs(qlearning)["factors"] == qlearning.factors


def test_a_submission_declaring_factors_as_an_attribute_is_failed_naming_it(tmp_path):
    src = tmp_path / "p.py"
    src.write_text("class P:\n    name = 'factors-attribute'\n    factors = (0.25, 1.0, 4.0)\n"
                   "    def reset(self, info):\n        pass\n    def act(self, obs, info):\n        return 2\n")
    refs = load_references(SUITE, n_workers=1)
    [outcome] = run_suite([submission_spec(f"{src}:P")], SUITE, references=refs, n_workers=1, time_limit=120)
    assert not outcome.ok and not outcome.runs
    assert "attribute factors = (0.25, 1.0, 4.0) is read by no env" in outcome.entry.failure_reason
    assert "env_options = {'factors': (0.25, 1.0, 4.0)}" in outcome.entry.failure_reason
