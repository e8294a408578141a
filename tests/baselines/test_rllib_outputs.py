"""What ``python -m lrgym.baselines.train_rllib`` writes and where, with RLlib's algorithm and the
export stood in for (no Ray cluster, no training): the file names come from ``--out`` as given.

``Path.with_suffix`` replaced whatever followed the last dot of ``--out``: ``--out runs/ppo.lr0.5``
wrote ``runs/ppo.lr0.npz`` (and ``.py``, ``.json``) beside ``runs/ppo.lr0.5.ckpt/``, and a second
run with ``--out runs/ppo.lr0.7`` overwrote the first one's policy.
"""

from __future__ import annotations

import json
import re
import types

import pytest

pytest.importorskip("ray.rllib")

from lrgym.baselines import backend, train_rllib  # noqa: E402


class PPO:
    """What ``Algorithm.from_checkpoint`` returns for a PPO checkpoint (by class name)."""

    trained = 0  # iterations, over all instances (reset by _stand_ins)

    def train(self):
        PPO.trained += 1
        return {"env_runners": {"num_env_steps_sampled_lifetime": 64 * PPO.trained}}

    def save_to_path(self, path):
        from pathlib import Path

        Path(path).mkdir(parents=True, exist_ok=True)

    def get_module(self):
        return None

    def stop(self):
        pass

    class env_runner_group:  # no remote env runners: nothing for the node check to ask
        @staticmethod
        def foreach_env_runner(func, local_env_runner=True):
            return []


class _Exported:
    def __init__(self, tag: str):
        self.tag = tag

    def to_bytes(self):
        return self.tag.encode()

    def submission_source(self):
        return f"# {self.tag}\n"


def _checkpoint(path, steps: int = 0, algo: str = "ppo", callback=True, **settings):
    """A checkpoint folder as ``Algorithm.save_to_path`` writes it, of the run ``settings``
    (:class:`RLlibConfig` fields) at ``steps`` env steps: the two files lrgym reads before
    building anything (the algorithm itself is stood in for by :class:`PPO`)."""
    import pickle

    from ray.rllib.algorithms.dqn import DQN
    from ray.rllib.algorithms.ppo import PPO as RLlibPPO

    path.mkdir(parents=True)
    state = train_rllib.algo_config(train_rllib.RLlibConfig(algo=algo, **settings)).get_state()
    if not callback:  # as before spread_cycles (2026-12-06)
        state["callbacks_on_environment_created"] = None
    with open(path / "class_and_ctor_args.pkl", "wb") as f:
        pickle.dump({"class": RLlibPPO if algo == "ppo" else DQN, "ctor_args_and_kwargs": ((state,), {})}, f)
    lifetime = {"stats_cls_identifier": "lifetime_sum", "lifetime_sum": float(steps)}
    with open(path / "algorithm_state.pkl", "wb") as f:
        pickle.dump({"metrics_logger": {"stats": {"env_runners--num_env_steps_sampled_lifetime": lifetime}},
                     "training_iteration": 1}, f)
    return path


def _stand_ins(monkeypatch, tag: str = "x", cpus: float = 2.0):
    """Ray (``cpus`` CPUs), the restored algorithm and the export stood in for; returns the
    addresses ``connect`` was called with."""
    from ray.rllib.algorithms.algorithm import Algorithm

    connected = []
    fake_ray = types.SimpleNamespace(__version__="test", cluster_resources=lambda: {"CPU": cpus})
    monkeypatch.setattr(backend, "connect", lambda address=None, verbose=False: connected.append(address) or fake_ray)
    monkeypatch.setattr(Algorithm, "from_checkpoint", classmethod(lambda cls, path, **kwargs: PPO()))
    monkeypatch.setattr(train_rllib, "export_policy", lambda *args: _Exported(tag))
    monkeypatch.setattr(train_rllib, "warm_up_nodes", lambda config, log: None)  # (test_rllib_warm checks it)
    PPO.trained = 0
    return connected


def _train(tmp_path, monkeypatch, out: str, tag: str):
    _stand_ins(monkeypatch, tag)
    old = tmp_path / "old.ckpt"
    if not old.exists():
        _checkpoint(old)
    config = train_rllib.RLlibConfig(algo="ppo", resume=str(old), out=out, total_timesteps=10,
                                     progress=False)
    told = []
    train_rllib.train(config, log=told.append, wrote=told.append)
    return told[-1]


def test_a_dotted_out_keeps_its_whole_name_in_every_file(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    runs.mkdir()
    for tag in ("lr0.5", "lr0.7"):
        told = _train(tmp_path, monkeypatch, str(runs / f"ppo.{tag}"), tag)
        assert f"wrote {runs / f'ppo.{tag}.npz'}, {runs / f'ppo.{tag}.py'}, {runs / f'ppo.{tag}.json'}" in told
    assert sorted(p.name for p in runs.iterdir()) == [
        "ppo.lr0.5.ckpt", "ppo.lr0.5.json", "ppo.lr0.5.npz", "ppo.lr0.5.py",
        "ppo.lr0.7.ckpt", "ppo.lr0.7.json", "ppo.lr0.7.npz", "ppo.lr0.7.py"]
    assert (runs / "ppo.lr0.5.npz").read_text() == "lr0.5"  # not overwritten by the second run
    assert (runs / "ppo.lr0.5.ckpt").is_dir()


def test_an_out_ending_in_npz_is_the_policy_file_itself(tmp_path):
    config = train_rllib.RLlibConfig(algo="ppo", out=str(tmp_path / "mine.npz"))
    assert config.output_files() == {s: tmp_path / f"mine{s}" for s in (".npz", ".py", ".json", ".ckpt")}


@pytest.mark.parametrize("content", [None, "{not json"])
def test_a_config_file_it_cannot_read_is_named(content, tmp_path, capsys):
    """A missing or broken ``--config`` file was a FileNotFoundError / JSONDecodeError traceback."""
    config = tmp_path / "cfg.json"
    if content is not None:
        config.write_text(content)
    with pytest.raises(SystemExit) as stop:
        train_rllib.parse_config(["--config", str(config)])
    assert stop.value.code == 2 and f"--config {config}: " in capsys.readouterr().err


def test_an_out_naming_the_shipped_weights_is_refused_before_anything_starts(monkeypatch, capsys):
    from lrgym.baselines.outputs import SHIPPED_WEIGHTS

    monkeypatch.setattr(backend, "connect", lambda address=None: pytest.fail("Ray started before --out was checked"))
    with pytest.raises(SystemExit) as exit_:
        train_rllib.main(["--algo", "ppo", "--out", str(SHIPPED_WEIGHTS)])
    assert exit_.value.code == 2  # as argparse's other option errors
    assert re.search(r"error: --out .* is the shipped rllib_ppo_mixed .*--ship", capsys.readouterr().err)


def test_a_resumed_run_is_named_and_recorded_as_its_checkpoint(tmp_path, monkeypatch):
    """A ``--family linreg --horizon 20`` run resumed without ``--family`` wrote
    ``runs/rllib_ppo_mixed.*`` (over a mixed run's files, checkpoint included) and recorded
    family mixed, 2 env runners, 8 envs per runner: the flags' defaults, not the checkpoint's
    settings it trained with (a Ray user's audit, 2026-12-05)."""
    import json

    runs = tmp_path / "runs"
    monkeypatch.setenv("LRGYM_RUNS", str(runs))
    _stand_ins(monkeypatch)
    ckpt = _checkpoint(tmp_path / "lin.ckpt", steps=32, family="linreg", env_kwargs={"horizon": 20}, env_runners=1,
                       envs_per_runner=2, seed=3, train_batch_size=500)
    told = []
    train_rllib.train(train_rllib.parse_config(["--resume", str(ckpt), "--steps", "100", "--no-progress"]),
                      log=told.append)
    assert sorted(p.name for p in runs.iterdir()) == [f"rllib_ppo_linreg{s}" for s in (".ckpt", ".json", ".npz", ".py")]
    meta = json.loads((runs / "rllib_ppo_linreg.json").read_text())
    assert {k: meta["config"][k] for k in ("family", "env_kwargs", "env_runners", "envs_per_runner", "seed",
                                           "train_batch_size", "total_timesteps")} == {
        "family": "linreg", "env_kwargs": {"horizon": 20}, "env_runners": 1, "envs_per_runner": 2, "seed": 3,
        "train_batch_size": 500, "total_timesteps": 100}
    assert meta["trained_on"]["family"] == "linreg" and meta["trained_on"]["horizon"] == 20
    assert meta["resumed_from"] == {"checkpoint": str(ckpt), "env_steps": 32} and "given" not in meta["config"]
    from lrgym.baselines.code_version import made_by

    assert {k: meta[k] for k in ("commit", "code")} == made_by(*train_rllib.TRAINER_FILES)  # the code that trained it


@pytest.mark.parametrize("steps, said", [
    (100, "128 env steps (--steps 100 rounded up to whole training iterations: 2 this run, 28 steps more) in "),
    (128, "128 env steps in "),
])
def test_steps_rounded_up_to_whole_iterations_are_said(steps, said, tmp_path, monkeypatch):
    """RLlib trains whole iterations (here 64 env steps each), so ``--steps 100`` trains 128: the
    ``.json`` recorded both numbers, the last line said "128 env steps" as if asked for (an audit
    of the Ray backend, 2026-12-06). The line now says the rounding where there is one."""
    import json

    _stand_ins(monkeypatch)
    ckpt = _checkpoint(tmp_path / "old.ckpt")
    told = []
    out = tmp_path / "o"
    train_rllib.train(train_rllib.RLlibConfig(algo="ppo", resume=str(ckpt), out=str(out), total_timesteps=steps,
                                              progress=False), log=told.append, wrote=told.append)
    assert told[-1].startswith(said), told[-1]
    meta = json.loads(out.with_suffix(".json").read_text())
    assert (meta["env_steps"], meta["config"]["total_timesteps"]) == (128, steps)
    assert "rounded up to whole training iterations" in " ".join(train_rllib._parser().format_help().split())


@pytest.mark.parametrize("flags, message", [
    (["--family", "mlp"], "holds --family linreg but --family mlp was given; valid: leave --family out, "
                          "or --family linreg (a resumed run goes on with the checkpoint's settings"),
    (["--horizon", "30"], "holds --horizon 20 but --horizon 30 was given; valid: leave --horizon out"),
    (["--env-runners", "2"], "holds --env-runners 1 but --env-runners 2 was given"),
    (["--envs-per-runner", "8"], "holds --envs-per-runner 2 but --envs-per-runner 8 was given"),
    (["--seed", "4"], "holds --seed 3 but --seed 4 was given"),
    (["--algo", "dqn"], "holds --algo ppo but --algo dqn was given"),
])
def test_a_flag_contradicting_the_resumed_checkpoint_is_refused_naming_both(flags, message, tmp_path, monkeypatch,
                                                                              capsys):
    connected = _stand_ins(monkeypatch)
    ckpt = _checkpoint(tmp_path / "lin.ckpt", family="linreg", env_kwargs={"horizon": 20}, env_runners=1,
                       envs_per_runner=2, seed=3)
    with pytest.raises(SystemExit) as stop:
        train_rllib.main(["--resume", str(ckpt), "--steps", "100", "--out", str(tmp_path / "o"), *flags])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"error: --resume {ckpt} {message}" in err and "Traceback" not in err
    assert "only --steps, --checkpoint-every, --address, --out / --ship, --no-progress and --verbose may differ" in err
    assert connected == [] and PPO.trained == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lin.ckpt"]
    # the checkpoint's own values, given again, and the flags that may differ, are taken
    train_rllib.main(["--resume", str(ckpt), "--steps", "100", "--out", str(tmp_path / "o"), "--family", "linreg",
                      "--horizon", "20", "--env-runners", "1", "--checkpoint-every", "3", "--no-progress",
                      "--verbose"])
    assert PPO.trained == 2 and (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("environment", ["class", "no family", "a connector's folder"])
def test_another_programs_checkpoint_is_refused_before_anything_runs(environment, tmp_path, monkeypatch, capsys):
    """A checkpoint of the README's own ``PPOConfig().environment(LRControlEnv, env_config=
    {"horizon": 10})`` was resumed: it trained on its own env (linreg, the class's default, no
    reward clip) and recorded family mixed and the default clip, under the name of a mixed run's
    outputs (a Ray user's audit, 2026-12-05). Only a train_rllib run's checkpoint is taken."""
    import pickle

    from ray.rllib.algorithms.ppo import PPO as RLlibPPO
    from ray.rllib.algorithms.ppo import PPOConfig

    from lrgym.env import LRControlEnv

    connected = _stand_ins(monkeypatch)
    import gymnasium as gym

    config = PPOConfig().environment(LRControlEnv, env_config={"horizon": 10}) if environment == "class" else \
        PPOConfig().environment(train_rllib.ENV_NAME, env_config={"horizon": 10, "reward_clip": None})
    # a connector's sub-folder pickles other arguments (a Box): an AttributeError traceback before
    state = gym.spaces.Box(-1, 1, (2,)) if environment == "a connector's folder" else config.get_state()
    ckpt = tmp_path / "theirs.ckpt"
    ckpt.mkdir()
    with open(ckpt / "class_and_ctor_args.pkl", "wb") as f:
        pickle.dump({"class": RLlibPPO, "ctor_args_and_kwargs": ((state,), {})}, f)
    with pytest.raises(SystemExit) as stop:
        train_rllib.main(["--resume", str(ckpt), "--steps", "100", "--out", str(tmp_path / "o")])
    err = " ".join(capsys.readouterr().err.split())
    assert stop.value.code == 2 and "Traceback" not in err
    if environment == "a connector's folder":
        assert f"{ckpt}/class_and_ctor_args.pkl holds a Box, not an algorithm's config; valid: the OUT.ckpt folder " \
               "a train_rllib run wrote, whole (not a folder inside it)" in err
    else:
        assert f"--resume {ckpt}: {ckpt} is an RLlib checkpoint of env " in err
        assert "not one train_rllib wrote (env 'lrgym-rllib', its env_config naming the family and reward_clip); " \
               "valid: the OUT.ckpt folder a train_rllib run wrote" in err
    assert connected == [] and PPO.trained == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theirs.ckpt"]


@pytest.mark.parametrize("steps", [500, 1001])
def test_a_checkpoint_already_at_steps_trains_nothing_and_writes_nothing(steps, tmp_path, monkeypatch):
    """``--resume`` of a checkpoint of 1,001 steps with ``--steps 500`` trained one more
    iteration anyway (1,001 -> 1,501) and rewrote the outputs."""
    connected = _stand_ins(monkeypatch)
    ckpt = _checkpoint(tmp_path / "p.ckpt", steps=1001)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    told = []
    config = train_rllib.RLlibConfig(resume=str(ckpt), total_timesteps=steps, out=str(tmp_path / "p"), progress=False)
    assert train_rllib.train(config, log=told.append) is None
    assert told == [f"--resume {ckpt} already has 1001 env steps, at or beyond --steps {steps}: nothing to train, "
                    "nothing written (give --steps above 1001 to go on)"]
    assert PPO.trained == 0 and connected == []  # not even Ray started
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_the_commands_stdout_is_the_line_naming_the_files_it_wrote(tmp_path, monkeypatch, capsys):
    """``train_rllib ... > out.txt``: stdout is its result, the last line naming the files written;
    its notes are on stderr (the progress bar is tqdm's, on stderr). Every line went through
    ``log=print``, on stdout: here the note that a resumed checkpoint already has the steps asked
    for (nothing written: stdout stays empty), then a whole run, whose stdout is its one line."""
    _stand_ins(monkeypatch, "s")
    ckpt = _checkpoint(tmp_path / "p.ckpt", steps=1001)
    train_rllib.main(["--resume", str(ckpt), "--steps", "500", "--out", str(tmp_path / "p"), "--no-progress"])
    out, err = capsys.readouterr()
    assert out == "" and f"--resume {ckpt} already has 1001 env steps" in err
    train_rllib.main(["--resume", str(ckpt), "--steps", "1100", "--out", str(tmp_path / "p"), "--no-progress"])
    out, err = capsys.readouterr()
    files = ", ".join(str(tmp_path / f"p.{k}") for k in ("npz", "py", "json"))
    assert re.fullmatch(rf"\d+ env steps.* in [\d.]+ s; wrote {re.escape(files)} and {re.escape(str(ckpt))}/\n", out), out
    assert err == ""


@pytest.mark.parametrize("flags, message", [
    (["--steps", "0"], "total_timesteps=0 (--steps 0) out of range; valid: an integer >= 1"),
    (["--env-runners", "-1"], "env_runners=-1 (--env-runners -1) out of range; valid: 0"),
    (["--envs-per-runner", "0"], "envs_per_runner=0 (--envs-per-runner 0) out of range"),
    # each runner's vector env refused it, after Ray started (lrgym.settings.MAX_NUM_ENVS)
    (["--envs-per-runner", "65537"], "envs_per_runner=65537 (--envs-per-runner 65537) out of range; valid: an "
                                     "integer from 1 to 65,536"),
    (["--address", "foo"], "--address 'foo' is not a Ray cluster address; valid: auto, or HOST:PORT"),
    (["--env-runners", "5"], "--env-runners 5 needs 5 CPUs (one per runner), but this Ray instance has 2; "
                             "valid: --env-runners 0 to 2"),
    (["--resume", "RESUME_DQN"], "holds --algo dqn but --algo ppo was given; valid: leave --algo out"),
    (["--resume", "NOTHING"], "no RLlib checkpoint there (no class_and_ctor_args.pkl); valid: the OUT.ckpt folder"),
    (["--resume", "DAMAGED"], "is no readable RLlib checkpoint file (EOFError"),  # a second review, 2026-12-05
])
def test_bad_values_are_the_parsers_errors(flags, message, tmp_path, monkeypatch, capsys):
    """Each of these was a Python traceback (a Ray user's audit, 2026-12-05)."""
    _stand_ins(monkeypatch)
    dqn = _checkpoint(tmp_path / "dqn.ckpt", algo="dqn")
    damaged = tmp_path / "damaged.ckpt"
    damaged.mkdir()
    (damaged / "class_and_ctor_args.pkl").write_bytes(b"\x80\x04")  # a pickle cut short
    flags = [{"RESUME_DQN": str(dqn), "NOTHING": str(tmp_path / "none.ckpt"), "DAMAGED": str(damaged)}.get(f, f)
             for f in flags]
    if "--resume" in flags:
        flags += ["--algo", "ppo"]
    with pytest.raises(SystemExit) as stop:
        train_rllib.main([*flags, "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "error: " in err and message in err and "Traceback" not in err
    assert PPO.trained == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["damaged.ckpt", "dqn.ckpt"]


@pytest.mark.parametrize("algo_kwargs, message", [
    ({"lamda": 0.9}, "algo_kwargs (PPOConfig.training()) got an unexpected keyword argument 'lamda' (did you mean "
                     "'lambda_'?); valid: "),
    ({"framework": "tf2"}, "algo_kwargs sets 'framework' ('tf2'); valid: leave it out: train_rllib trains torch"),
])
def test_algo_kwargs_training_does_not_take_are_the_parsers_error_before_ray_starts(algo_kwargs, message, tmp_path,
                                                                                   monkeypatch, capsys):
    """RLlib's own TypeError ('AlgorithmConfig.training() got an unexpected keyword argument
    'lamda'') came after Ray had started, as a traceback naming no valid key (an RLlib user's
    audit, 2026-12-06)."""
    connected = _stand_ins(monkeypatch)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"algo_kwargs": algo_kwargs}))
    with pytest.raises(SystemExit) as stop:
        train_rllib.main(["--config", str(path), "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and "Traceback" not in err, err
    assert connected == [] and sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_an_address_with_no_ray_head_is_the_parsers_error(tmp_path, monkeypatch, capsys):
    def refused(address=None, verbose=False):
        raise ConnectionError(f"could not connect to the Ray cluster at {address!r}: Connection refused")

    monkeypatch.setattr(backend, "connect", refused)
    with pytest.raises(SystemExit) as stop:
        train_rllib.main(["--address", "127.0.0.1:1", "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "error: could not connect to the Ray cluster at '127.0.0.1:1'" in err
    assert list(tmp_path.iterdir()) == []


def test_without_ray_the_install_hint_is_said_once(tmp_path, monkeypatch, capsys):
    """main()'s cleanup imported Ray again, so the hint came twice, in four tracebacks."""
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the [ray] extra were not installed
    with pytest.raises(SystemExit) as stop:
        train_rllib.main(["--steps", "100", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count('pip install "lrgym[ray]"') == 1 and "Traceback" not in err


def test_a_runs_policy_choices_go_with_its_exported_policy(tmp_path, monkeypatch):
    """A run whose env_kwargs chose the optimizer, start LR, factors or step rejection (what a graded
    policy may choose) exported a policy without them (its meta had no "choices"): MLPPolicy and the
    grader ran it with SGD, the env's start LR and factors, no rejection, in silence. The written
    ``.npz`` and ``.py`` now act in the env the run trained in."""
    import numpy as np

    from lrgym.baselines.mlp_policy import MLPPolicy

    runs = tmp_path / "runs"
    monkeypatch.setenv("LRGYM_RUNS", str(runs))
    _stand_ins(monkeypatch)
    layer = (np.zeros((12, 5)), np.arange(5.0), "linear")  # the network itself is export_policy's (tested elsewhere)
    monkeypatch.setattr(train_rllib, "export_policy", lambda module, algo, name, meta: MLPPolicy([layer], name, meta))
    chosen = {"optimizer": "adam", "lr_init": 0.003, "factors": [0.5, 1.0, 2.0], "rejection_threshold": 0.1}
    ckpt = _checkpoint(tmp_path / "mine.ckpt", family="linreg", env_kwargs={**chosen, "horizon": 20}, env_runners=1)
    train_rllib.train(train_rllib.parse_config(["--resume", str(ckpt), "--steps", "100", "--no-progress"]),
                      log=lambda _: None)
    policy = MLPPolicy.load(runs / "rllib_ppo_linreg.npz")
    assert (policy.optimizer, policy.lr_init, policy.action_mode) == ("adam", 0.003, "discrete")
    assert policy.env_options == {"factors": [0.5, 1.0, 2.0], "rejection_threshold": 0.1}
    source = (runs / "rllib_ppo_linreg.py").read_text()
    namespace: dict = {}
    exec(compile(source, "rllib_ppo_linreg.py", "exec"), namespace)
    graded = namespace["RLlibPolicy"]()
    assert (graded.optimizer, graded.lr_init, graded.env_options) == ("adam", 0.003, policy.env_options)


@pytest.mark.parametrize("order", ["cycle", "draw"])
def test_a_checkpoint_without_the_cycle_callback_is_rebuilt_with_it(order, tmp_path, monkeypatch):
    """RLlib rebuilds a checkpoint from the config it holds: one written before spread_cycles
    existed resumed without it, its runners walking an instance_order="cycle" list in lockstep,
    without a word. The resumed algorithm's config now has the callback (on a cycle list the
    run says so on its log; the real runners: test_ray_cluster.py)."""
    from ray.rllib.algorithms.algorithm import Algorithm

    _stand_ins(monkeypatch)
    given = []
    monkeypatch.setattr(Algorithm, "from_checkpoint",
                        classmethod(lambda cls, path, **kwargs: given.append(kwargs) or PPO()))
    env_kwargs = {"instances": [0, 1, 2, 3], "instance_order": order}
    ckpt = _checkpoint(tmp_path / "old.ckpt", callback=False, env_runners=2, env_kwargs=env_kwargs)
    told = []
    train_rllib.train(train_rllib.RLlibConfig(resume=str(ckpt), out=str(tmp_path / "o"), total_timesteps=10,
                                              progress=False), log=told.append, wrote=told.append)
    assert [kw["config"]["callbacks_on_environment_created"] for kw in given] == [train_rllib.spread_cycles]
    assert given[0]["config"]["env_config"]["instance_order"] == order  # the checkpoint's config otherwise
    noted = [m for m in told if "was written before train_rllib spread its env runners' instance cycles" in m]
    assert len(noted) == (order == "cycle"), told


def test_a_resumed_run_draws_its_runners_seeds_from_the_checkpoints_steps(tmp_path, monkeypatch):
    """A resumed algorithm is built with the checkpoint's env steps in its env config
    (``resumed_at``: the runners draw other instances than the run started with,
    test_rllib_env.py); a checkpoint a resumed run wrote holds it, and neither its settings nor
    its export read it as an env keyword of the user's, and a resume of it puts its own steps."""
    from ray.rllib.algorithms.algorithm import Algorithm

    from lrgym.baselines import rllib_export

    _stand_ins(monkeypatch)
    given = []
    monkeypatch.setattr(Algorithm, "from_checkpoint",
                        classmethod(lambda cls, path, **kwargs: given.append(kwargs) or PPO()))
    ckpt = _checkpoint(tmp_path / "old.ckpt", steps=4000, env_kwargs={"horizon": 7})
    config = train_rllib.RLlibConfig(resume=str(ckpt), out=str(tmp_path / "o"), total_timesteps=5000, progress=False)
    train_rllib.train(config, log=lambda _: None, wrote=lambda _: None)
    env_config = given[0]["config"]["env_config"]
    assert env_config["resumed_at"] == 4000 and env_config["horizon"] == 7
    # a checkpoint the resumed run wrote (its config holds the key): read as the run's own settings
    state = dict(env_config)
    assert train_rllib.make_env({**state, "num_envs": 1}).num_envs == 1
    import pickle

    again = tmp_path / "again.ckpt"
    _checkpoint(again, steps=6000, env_kwargs={"horizon": 7})
    saved = pickle.loads((again / "class_and_ctor_args.pkl").read_bytes())
    saved["ctor_args_and_kwargs"][0][0]["env_config"]["resumed_at"] = 4000
    (again / "class_and_ctor_args.pkl").write_bytes(pickle.dumps(saved))
    assert train_rllib.checkpoint_settings(again)["env_kwargs"] == {"horizon": 7}
    assert "resumed_at" not in rllib_export._env_settings(train_rllib.ENV_NAME, state)
    resumed = train_rllib.resumed_algo_config(again, config, lambda _: None, 6000)
    assert resumed["env_config"]["resumed_at"] == 6000
    assert "resumed_at" not in train_rllib.resumed_algo_config(again, config, lambda _: None, None)["env_config"]


def _seed_drawn(seed: int, resumed_at: int, bits: int) -> int:
    """The reference: the top ``bits`` bits of the word NumPy's SeedSequence draws from both."""
    import numpy as np

    return int(np.random.SeedSequence([seed, resumed_at]).generate_state(1, np.uint64)[0]) >> (64 - bits)


def test_a_resumed_runs_rllib_seed_is_drawn_from_its_seed_and_steps():
    """RLlib seeds Python's, NumPy's and torch's generators from its config's seed at every build
    and checkpoints none of their states: a resumed run built with the run's seed again sampled
    actions and shuffled minibatches as its first iteration had. A resumed run's RLlib seed is
    drawn from (seed, steps) as its env seeds are (63 bits there, 31 here: NumPy's global
    generator takes seeds below 2³², RLlib adds the runner's index and 10⁶ on evaluation runners);
    a new run's is its seed."""
    assert train_rllib.rllib_seed(3) == train_rllib.rllib_seed(3, None) == train_rllib.rllib_seed(3, 0) == 3
    for seed, steps in ((0, 4000), (3, 4000), (3, 6000), (2**40 + 7, 128)):
        drawn = train_rllib.rllib_seed(seed, steps)
        assert drawn == _seed_drawn(seed, steps, 31) and 0 <= drawn < 2**31 and drawn != seed
    assert len({train_rllib.rllib_seed(0, s) for s in range(2000, 40000, 2000)}) == 19
    # the runners' env seeds are still the same draw, now through the one derivation (63 bits)
    assert train_rllib.runner_seeds(1, 3, 4000) == [_seed_drawn(3 + i, 4000, 63) for i in range(3)]
    with pytest.raises(ValueError, match="bits=65 out of range; valid: 1 to 64"):
        train_rllib.resumed_seed(0, 1, 65)


def test_a_resumed_run_is_built_with_its_own_rllib_seed_and_keeps_its_run_seed(tmp_path, monkeypatch):
    """The resumed algorithm's config has the drawn seed (RLlib's) and the run's seed in its env
    config (``run_seed``): a checkpoint the resumed run writes holds both, and is read back with the
    run's seed (its record, a later ``--seed`` check), its next resume drawn from the run's seed and
    its own steps, not from the drawn one. The ``.json`` records what RLlib was built with; a
    ``--seed`` given again with the resume is taken."""
    import pickle

    from ray.rllib.algorithms.algorithm import Algorithm

    from lrgym.baselines import rllib_export

    _stand_ins(monkeypatch)
    given = []
    monkeypatch.setattr(Algorithm, "from_checkpoint",
                        classmethod(lambda cls, path, **kwargs: given.append(kwargs) or PPO()))
    ckpt = _checkpoint(tmp_path / "old.ckpt", steps=4000, seed=3, env_kwargs={"horizon": 7})
    out = tmp_path / "o"
    train_rllib.train(train_rllib.parse_config(["--resume", str(ckpt), "--seed", "3", "--out", str(out), "--steps",
                                                "5000", "--no-progress"]), log=lambda _: None, wrote=lambda _: None)
    state = given[0]["config"]
    assert state["seed"] == _seed_drawn(3, 4000, 31) and state["env_config"]["run_seed"] == 3
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["rllib_seed"] == _seed_drawn(3, 4000, 31) and meta["config"]["seed"] == 3
    assert train_rllib.make_env({**state["env_config"], "num_envs": 1}).num_envs == 1  # not an env keyword
    assert "run_seed" not in rllib_export._env_settings(train_rllib.ENV_NAME, state["env_config"])
    # the checkpoint that resumed build writes holds its config as it was built
    again = tmp_path / "again.ckpt"
    _checkpoint(again, steps=6000, seed=3, env_kwargs={"horizon": 7})
    saved = pickle.loads((again / "class_and_ctor_args.pkl").read_bytes())
    saved["ctor_args_and_kwargs"][0][0].update(seed=state["seed"], env_config=state["env_config"])
    (again / "class_and_ctor_args.pkl").write_bytes(pickle.dumps(saved))
    settings = train_rllib.checkpoint_settings(again)
    assert settings["seed"] == 3 and settings["env_kwargs"] == {"horizon": 7}
    given.clear()
    out = tmp_path / "o2"
    train_rllib.train(train_rllib.parse_config(["--resume", str(again), "--seed", "3", "--out", str(out), "--steps",
                                                "7000", "--no-progress"]), log=lambda _: None, wrote=lambda _: None)
    assert given[0]["config"]["seed"] == _seed_drawn(3, 6000, 31)
    assert given[0]["config"]["env_config"]["run_seed"] == 3
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["config"]["seed"] == 3 and meta["rllib_seed"] == _seed_drawn(3, 6000, 31)
    # the steps not found in the checkpoint's files: built with the run's seed, as before, and said so
    config = train_rllib.resumed_config(train_rllib.RLlibConfig(resume=str(again)), settings)
    unknown = train_rllib.resumed_algo_config(again, config, lambda _: None, None)
    assert unknown["seed"] == 3 and not {"run_seed", "resumed_at"} & set(unknown["env_config"])


def test_a_new_runs_rllib_seed_is_its_seed(tmp_path, monkeypatch):
    """A new run is built with ``--seed`` itself (its results unchanged) and records it."""
    built = []

    class Config:
        def build_algo(self):
            return PPO()

    _stand_ins(monkeypatch)
    real = train_rllib.algo_config
    monkeypatch.setattr(train_rllib, "algo_config", lambda config: built.append(real(config).seed) or Config())
    out = tmp_path / "new"
    train_rllib.train(train_rllib.RLlibConfig(seed=5, out=str(out), total_timesteps=10, progress=False),
                      log=lambda _: None, wrote=lambda _: None)
    assert set(built) == {5} and json.loads(out.with_suffix(".json").read_text())["rllib_seed"] == 5
