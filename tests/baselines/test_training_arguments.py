"""The training commands refuse counts they cannot train with, before anything runs or is written.

``--episodes 0`` (Q-learning) and ``--steps 0`` (SB3) saved untrained weights as if trained,
``--n-envs 0`` was an IndexError deep in SB3, and the controller's ``--generations 0`` started
minutes of reference searches first. Each bad value now stops the command with argparse's error
(exit 2) naming it; the training function is stood in for by one that fails if called.
"""

from __future__ import annotations

import json
import re

import pytest


def _refused(main, module, train_name, argv, message, tmp_path, monkeypatch, capsys):
    def no_training(*args, **kwargs):
        raise AssertionError("training started before the arguments were checked")

    monkeypatch.setattr(module, train_name, no_training)
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--out", str(out)])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("argv, message", [(["--episodes", "0"], "episodes=0 out of range"),
                                           (["--episodes", "-5"], "episodes=-5 out of range")])
def test_qlearning_refuses_no_episodes(argv, message, tmp_path, monkeypatch, capsys):
    import lrgym.baselines.qlearning as q

    _refused(q.main, q, "train", argv, message, tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("argv, message", [(["--steps", "0"], "total_timesteps=0 out of range"),
                                           (["--n-envs", "0"], "n_envs=0 out of range"),
                                           # 65,537 DummyVecEnv sub-envs were made before SB3 ran (lrgym.settings.MAX_NUM_ENVS)
                                           (["--n-envs", "65537"], "n_envs=65537 out of range; valid: a positive "
                                                                   "integer (1, 2, 3, ...) at most 65,536"),
                                           (["--threads", "-1"], "threads=-1 out of range")])
def test_train_sb3_refuses_empty_runs(argv, message, tmp_path, monkeypatch, capsys):
    import lrgym.baselines.train_sb3 as t

    _refused(t.main, t, "train", ["--algo", "dqn", *argv], message, tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("argv, message", [(["--generations", "0"], "generations=0 out of range"),
                                           (["--generations", "-3"], "generations=-3 out of range"),
                                           (["--generations", "nan"], "argument --generations: 'nan' is not an "
                                            "integer; valid: a positive integer (1, 2, 3, ...)")])
def test_train_controller_refuses_no_generations(argv, message, tmp_path, monkeypatch, capsys):
    import lrgym.baselines.train_controller as c

    _refused(c.main, c, "train", argv, message, tmp_path, monkeypatch, capsys)


def test_train_controller_names_a_bad_config(tmp_path, monkeypatch, capsys):
    import lrgym.baselines.train_controller as c

    config = tmp_path / "cfg.json"
    config.write_text('{"generation": 5}')
    monkeypatch.setattr(c, "train", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(SystemExit) as stop:
        c.main(["--config", str(config), "--out", str(tmp_path / "never.npz")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "unknown config key(s) ['generation']" in err and "generations" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.json"]


@pytest.mark.parametrize("text, message", [
    ('{"generation": 5, "sigam": 0.1, "zzz": 1}',
     "unknown config key(s) ['generation', 'sigam', 'zzz'] (did you mean: 'generation' → 'generations', 'sigam' → "
     "'sigma'?); valid: base_lr, batch"),
    ("[5]", 'the file holds a JSON list; valid: an object of config fields, e.g. {"train_start": 0}'),
])
def test_train_controller_says_what_a_bad_key_meant(text, message, tmp_path, monkeypatch, capsys):
    """A typo'd key said the valid keys only, and a JSON list's error gave the example {"seed": 1},
    no field of the controller's config (its seed is --seed): refused in turn as an unknown key.
    The example is a field of the config, with its default, which the config takes."""
    import lrgym.baselines.train_controller as c

    config = tmp_path / "cfg.json"
    config.write_text(text)
    monkeypatch.setattr(c, "train", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(SystemExit) as stop:
        c.main(["--config", str(config), "--out", str(tmp_path / "never.npz")])
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert c.ControllerConfig(train_start=0) == c.ControllerConfig()


#: (config, what the error names): each crashed with a raw traceback (KeyError, ValueError of int(),
#: numpy's UFuncNoLoopError at generation 1, IndexError in run_batch, a bare TypeError, the net's
#: own ValueError after the references) or was accepted silently (a negative sigma or max_step, a
#: hard_fraction outside [0, 1], which changed the pool's size)
BAD_CONFIGS = [
    ({"families": ["linreg", "bogus"]}, "families=['linreg', 'bogus']: unknown name 'bogus'; valid choices: linreg, quadratic"),
    ({"families": []}, "families=[] is empty"),
    ({"pool": {"linreg": "many"}}, "pool['linreg']='many' is not an integer; valid: a positive integer"),
    ({"pool": {"linear": 4}}, "pool: unknown family 'linear'; valid choices: linreg"),
    ({"sigma": "big"}, "sigma='big' invalid; valid: a finite number > 0"),
    ({"sigma": -0.04}, "sigma=-0.04 out of range; valid: a finite number > 0"),
    ({"max_step": -0.3}, "max_step=-0.3 out of range"),
    # an integer too large for a float (JSON writes one): a bare OverflowError out of float()
    ({"sigma": 10**400}, "0000000 out of range; valid: a finite number > 0"),
    ({"div_penalty": 10**400}, "0000000 out of range; valid: a number >= 0"),
    ({"step_size": 0}, "step_size=0 out of range"),
    ({"div_penalty": -1}, "div_penalty=-1 out of range; valid: a number >= 0"),
    ({"pairs": 0}, "pairs=0 out of range; valid: a positive integer"),
    ({"batch": {"mlp": 0}}, "batch['mlp']=0 out of range"),
    # it ran min(batch, pool) episodes a generation without a word
    ({"batch": {"linreg": 100}}, "batch['linreg']=100 is more than pool['linreg']=32; valid: a batch of at most"),
    ({"holdout": 0}, "holdout=0 out of range"),
    ({"ref_grid": [0.5, -3.5, 0.25]}, "ref_grid=[0.5, -3.5, 0.25] invalid; valid: [lowest, highest, step]"),
    ({"ref_grid": [-3.5, 0.5, 0]}, "ref_grid=[-3.5, 0.5, 0] invalid"),
    ({"ref_grid": [-3.5, 0.5, 1e-12]}, "step > 0 and at most 200 LRs"),  # it asked for 4e12 LRs
    ({"hidden": [10**9]}, "hidden[0]=1000000000 out of range; valid: a layer width from 1 to 1,024"),
    ({"env_options": {"horizn": 100}}, "got an unexpected keyword argument 'horizn' (did you mean 'horizon'?); valid: family_options"),
    ({"env_options": {"horizon": -1}}, "horizon=-1 out of range"),
    ({"env_options": {"optimizer": "adam"}}, "env_options sets 'optimizer', which the trainer sets itself"),
    # accepted, and training ran to the same bits as without them (the references recomputed)
    ({"env_options": {"reward": "final"}}, "env_options sets 'reward', which training does not use: the fitness is "
                                           "the board's score S"),
    ({"env_options": {"reward_alphas": [1, 1]}}, "env_options sets 'reward_alphas', which training does not use"),
    ({"env_options": {"lr_init": 0.5}}, "sets 'lr_init', which training does not use: the controller sets the LR"),
    ({"env_options": {"factors": [0.5, 2.0]}}, "sets 'factors', which training does not use"),
    ({"env_options": {"instances": [0, 1]}}, "sets 'instances', which training does not use: the trainer picks its "
                                             "instances (train_start, pool, scan; holdout_start, holdout); valid: "
                                             "family_options, horizon, inner_steps"),
    ({"env_options": {"instance_order": "cycle"}}, "sets 'instance_order', which training does not use: the trainer "
                                                   "resets every episode to the instance it picked"),
    ({"mask": ["bogus"]}, "mask=['bogus']: unknown name 'bogus'; valid choices: loss, noise, gradient"),
    ({"rejection_threshold": -1}, "rejection_threshold=-1 out of range; valid: null"),
    ({"hard_fraction": 5}, "hard_fraction=5 out of range; valid: a number from 0 to 1"),
    ({"hard_fraction": -1}, "hard_fraction=-1 out of range"),
    ({"hidden": [0]}, "hidden[0]=0 out of range"),
    ({"family_progress": "yes"}, "family_progress='yes' invalid; valid: true or false"),
    ({"base_lr": {"recsys": 0}}, "base_lr['recsys']=0 out of range"),
    ({"train_start": -1}, "train_start=-1 out of range; valid: a train instance seed"),
    ({"train_start": 9990}, "linreg's pool scans instances 9990 ... 10117"),
    ({"holdout_start": 100}, "linreg's holdout (instances 100 ... 131) overlaps its training pool (0 ... 127)"),
]


@pytest.mark.parametrize("config, message", BAD_CONFIGS, ids=[json.dumps(c) for c, _ in BAD_CONFIGS])
def test_train_controller_checks_every_config_value_before_training(config, message, tmp_path, monkeypatch, capsys):
    """Every field is checked when the config is read, before the references' minutes: argparse's
    error (exit 2, the usage line) naming the field, its value and the valid ones."""
    import lrgym.baselines.train_controller as c
    import lrgym.baselines.train_controller_episodes as episodes

    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(config))
    monkeypatch.setattr(c, "train", lambda *a, **k: pytest.fail("training started"))
    monkeypatch.setattr(episodes, "grid_references", lambda *a, **k: pytest.fail("references started"))  # where episode_set calls it
    with pytest.raises(SystemExit) as stop:
        c.main(["--config", str(path), "--out", str(tmp_path / "never.npz")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage:") and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.json"]
    with pytest.raises(ValueError, match="valid"):  # the dataclass itself checks too
        c.ControllerConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})


def test_train_controller_refuses_a_negative_seed(tmp_path, monkeypatch, capsys):
    """``--seed -1`` was numpy's ``ValueError: expected non-negative integer`` traceback."""
    import lrgym.baselines.train_controller as c

    _refused(c.main, c, "train", ["--seed", "-1"], "argument --seed: '-1' out of range; valid: an integer >= 0",
             tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("module_name, argv", [("qlearning", []), ("train_sb3", ["--algo", "dqn"]),
                                               ("train_controller", [])])
@pytest.mark.parametrize("seed, message", [("-1", "argument --seed: '-1' out of range; valid: an integer >= 0"),
                                           ("x", "argument --seed: 'x' is not an integer; valid: an integer >= 0"),
                                           ("1.5", "argument --seed: '1.5' is not an integer")])
def test_every_training_command_refuses_a_seed_that_is_no_integer_from_0(module_name, argv, seed, message,
                                                                           tmp_path, monkeypatch, capsys):
    """One rule (lrgym.settings.seed_argument): ``--seed -1`` was numpy's "expected non-negative
    integer" traceback (qlearning, train_sb3), and train_controller called 'x' "out of range"."""
    import importlib

    if module_name == "train_sb3":
        pytest.importorskip("stable_baselines3")
    module = importlib.import_module(f"lrgym.baselines.{module_name}")
    _refused(module.main, module, "train", [*argv, "--seed", seed], message, tmp_path, monkeypatch, capsys)


def test_the_training_configs_and_evaluate_check_their_seeds():
    """The same rule for the API: ``evaluate(..., seeds=[-1])`` was gymnasium's error at the
    first reset; ``QLearningConfig(seed=-1)`` numpy's, at training."""
    import numpy as np

    from lrgym.baselines.evaluation import evaluate
    from lrgym.baselines.qlearning import QLearningConfig
    from lrgym.baselines.registry import make_baseline

    assert QLearningConfig(seed=np.int64(3)).seed == 3
    for bad, why in ((-1, "out of range"), (True, "is not an integer"), ("0", "is not an integer")):
        with pytest.raises(ValueError, match=f"seed={bad!r} {why}; valid: an integer >= 0"):
            QLearningConfig(seed=bad)
        with pytest.raises(ValueError, match=rf"seeds\[1\]={bad!r} {why}; valid: an integer >= 0"):
            evaluate(make_baseline("fixed"), {"family": "quadratic"}, instances=[0], seeds=[0, bad])


def test_the_smallest_valid_counts_still_train(tmp_path):
    """The bounds are not off by one: one Q-learning episode trains and writes its table."""
    import numpy as np

    import lrgym.baselines.qlearning as q

    out = tmp_path / "q.npz"
    q.main(["--episodes", "1", "--family", "quadratic", "--out", str(out)])
    with np.load(out) as saved:
        assert any(np.asarray(saved[k]).size for k in saved.files)


#: what each training command writes for ``--out DIR``: DIR/<its default name>[suffixes]
DEFAULT_NAMES = {"qlearning": ("qlearning_mixed.npz", ["qlearning_mixed.npz"]),
                 "train_sb3": ("dqn_mixed", ["dqn_mixed.json", "dqn_mixed.zip"]),
                 "train_controller": ("controller_mixed.npz", ["controller_mixed.json", "controller_mixed.npz", "controller_mixed.py"])}


def _stub_training(module_name, module, monkeypatch):
    """Stand-ins for each command's training that write what the real one writes, where told."""
    import types

    if module_name == "train_sb3":
        def train(config):
            zip_path, json_path = config.output_files()
            zip_path.write_bytes(b"zip")
            json_path.write_text("{}")
            return types.SimpleNamespace(path=zip_path)
    elif module_name == "train_controller":
        class Net:
            def to_bytes(self, meta=None):
                return b"npz"

        def train(cfg, seed, **checkpointing):
            return Net(), {"best_generation": 1, "history": []}
    else:
        return  # Q-learning trains for real: one episode is quick
    monkeypatch.setattr(module, "train", train)


@pytest.mark.parametrize("module_name, argv", [("qlearning", ["--episodes", "1"]), ("train_sb3", ["--algo", "dqn"]),
                                               ("train_controller", ["--generations", "1"])])
def test_an_out_that_is_a_folder_is_written_inside_it(module_name, argv, tmp_path, monkeypatch, capsys):
    """``--out DIR`` with DIR an existing folder writes DIR/<default name>, as ``cp`` and ``mv``
    treat a folder (it was refused, although train_sb3 writes ``DIR.zip``, not DIR itself); the
    command names the file it wrote. A new path is still taken as the file's path."""
    import importlib

    if module_name == "train_sb3":
        pytest.importorskip("stable_baselines3")
    module = importlib.import_module(f"lrgym.baselines.{module_name}")
    _stub_training(module_name, module, monkeypatch)
    folder = tmp_path / "weights"
    folder.mkdir()
    module.main([*argv, "--out", str(folder)])
    name, written = DEFAULT_NAMES[module_name]
    assert sorted(p.name for p in folder.iterdir()) == written
    assert str(folder / written[-1]) in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == [folder]  # nothing beside the folder (no weights.zip)


@pytest.mark.parametrize("module_name, argv", [("qlearning", []), ("train_sb3", ["--algo", "dqn"]),
                                               ("train_controller", [])])
def test_an_out_whose_file_would_be_a_folder_stops_before_training(module_name, argv, tmp_path, monkeypatch, capsys):
    """``--out DIR`` where DIR/<default name> is itself a folder cannot be written: refused before
    training (the controller's was an IsADirectoryError after it), naming a file path to give."""
    import importlib

    module = importlib.import_module(f"lrgym.baselines.{module_name}")
    monkeypatch.setattr(module, "train", lambda *a, **k: pytest.fail("training started"))
    folder = tmp_path / "weights"
    taken = folder / DEFAULT_NAMES[module_name][0]
    taken.mkdir(parents=True)
    with pytest.raises(SystemExit) as stop:
        module.main([*argv, "--out", str(folder)])
    assert stop.value.code == 2 and f"--out {taken} is a folder; valid: " in capsys.readouterr().err
    assert list(folder.iterdir()) == [taken] and list(taken.iterdir()) == []


def test_train_controller_adds_npz_to_an_out_without_it_as_the_other_trainers_add_their_suffix(
        tmp_path, monkeypatch, capsys):
    """``--out other/d`` wrote the weights to a file named ``d`` beside ``d.json`` and ``d.py`` (whose
    names added the suffix); qlearning writes ``d.npz``, train_sb3 ``d.zip``. Now the weights are
    ``d.npz`` too, a dotted name kept whole (``c0.5`` → ``c0.5.npz``), one ending in .npz as given;
    the printed files and the hint's path are the files written. A folder in the weights' place is
    refused before training, not written into."""
    import lrgym.baselines.train_controller as c

    _stub_training("train_controller", c, monkeypatch)
    for out in ("d", "c0.5", "e.npz"):
        c.main(["--generations", "1", "--out", str(tmp_path / out)])
        printed = capsys.readouterr()
        stem = out.removesuffix(".npz")
        assert f"wrote {tmp_path / (stem + '.npz')}, " in printed.out
        assert f'path="{tmp_path / (stem + ".npz")}"' in printed.err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{stem}{suffix}" for stem in ("d", "c0.5", "e") for suffix in (".npz", ".json", ".py"))
    (tmp_path / "f.npz").mkdir()
    monkeypatch.setattr(c, "train", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(SystemExit) as stop:
        c.main(["--generations", "1", "--out", str(tmp_path / "f")])
    assert stop.value.code == 2 and f"its weights {tmp_path / 'f.npz'} would be a folder" in capsys.readouterr().err
    assert list((tmp_path / "f.npz").iterdir()) == []


def test_qlearning_names_the_file_it_wrote(tmp_path, capsys):
    """NumPy appends ``.npz`` to a path without it; the command then reported (and stat'ed) the
    path as given and died with FileNotFoundError after training. The reference: the files that
    exist afterwards."""
    import numpy as np

    import lrgym.baselines.qlearning as q

    q.main(["--episodes", "1", "--family", "quadratic", "--out", str(tmp_path / "table")])
    [written] = list(tmp_path.iterdir())
    assert written.name == "table.npz"
    assert f"saved {written} ({written.stat().st_size} bytes)" in capsys.readouterr().out
    with np.load(written) as saved:
        assert "q" in saved.files


def test_tune_writes_inside_a_folder_and_val_table_refuses_one(tmp_path, monkeypatch, capsys):
    """``tune --out DIR`` failed with IsADirectoryError after the whole tuning; it shares
    lrgym.baselines.outputs, so an existing folder now gets DIR/tuned.json. ``val_table --json
    DIR`` (its own option) still stops first, naming the folder."""
    import json

    import lrgym.baselines.tune as tune_module
    import lrgym.leaderboard.val_table as val_table

    new = {"values": {}, "train_scores": {}, "fixed_lr": {}, "settings": {}, "last_run": "test"}
    monkeypatch.setattr(tune_module, "tune", lambda *a, **k: new)
    monkeypatch.setattr(val_table, "compute", lambda *a, **k: pytest.fail("the table was computed"))
    folder = tmp_path / "out"
    folder.mkdir()
    tune_module.main(["--families", "linreg", "--out", str(folder)])
    assert [p.name for p in folder.iterdir()] == ["tuned.json"] and f"wrote {folder / 'tuned.json'}" in capsys.readouterr().out
    assert json.loads((folder / "tuned.json").read_text())["last_run"] == "test"
    with pytest.raises(SystemExit) as stop:
        val_table.main(["--json", str(folder)])
    assert stop.value.code == 2 and f"--json {folder} is a folder; valid: a file path" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["tuned.json"]


def test_counts_given_as_numpy_integers_are_taken_as_the_python_ones():
    """The training configs' new count checks refused a NumPy integer (a sweep over np.arange)
    as 'out of range'; lrgym.settings.positive_int, the env's rule, takes it. The reference is
    the Python int: the same config, a plain int after the check; bools and 0 stay refused."""
    import numpy as np

    from lrgym.baselines.qlearning import QLearningConfig
    from lrgym.baselines.tune import check_arguments, tunable

    q = QLearningConfig(episodes=np.int64(3), repeats=np.int32(2))
    assert (q.episodes, q.repeats) == (3, 2) and type(q.episodes) is int and type(q.repeats) is int
    assert check_arguments(["quadratic"], np.int64(2), (0,), None) == tunable()
    for bad, why in ((True, "is not an integer"), (np.int64(0), "out of range")):
        with pytest.raises(ValueError, match=f"episodes=.* {why}; valid: a positive integer"):
            QLearningConfig(episodes=bad)
        with pytest.raises(ValueError, match=f"instances=.* {why}; valid: a positive integer"):
            check_arguments(["quadratic"], bad, (0,), None)
    sb3 = pytest.importorskip("stable_baselines3")  # noqa: F841 - train_sb3 imports it
    from lrgym.baselines.train_sb3 import TrainConfig

    t = TrainConfig(total_timesteps=np.int64(64), n_envs=np.int64(2), repeats=np.int64(1), threads=np.int64(1))
    assert (t.total_timesteps, t.n_envs, t.repeats, t.threads) == (64, 2, 1, 1) and type(t.n_envs) is int


@pytest.mark.parametrize("module_name, argv", [("qlearning", []), ("train_sb3", ["--algo", "dqn"]),
                                               ("train_controller", []), ("tune", ["--families", "linreg"])])
def test_an_empty_out_is_refused(module_name, argv, tmp_path, monkeypatch, capsys):
    """``--out ""`` was ``Path("")``, the working directory: the commands wrote there unasked
    (train_sb3: ./dqn_mixed.zip after training). Now argparse refuses it, naming the value."""
    import importlib

    module = importlib.import_module(f"lrgym.baselines.{module_name}")
    for name in ("train", "tune"):
        if hasattr(module, name):
            monkeypatch.setattr(module, name, lambda *a, **k: pytest.fail("work started"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        module.main([*argv, "--out", ""])
    assert stop.value.code == 2 and "argument --out: '' is empty; valid: a file path" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", [None, "{not json"])
def test_train_sb3_names_a_config_it_cannot_read(content, tmp_path, monkeypatch, capsys):
    """A missing or broken ``--config`` file was a FileNotFoundError / JSONDecodeError traceback."""
    pytest.importorskip("stable_baselines3")
    import lrgym.baselines.train_sb3 as t

    monkeypatch.setattr(t, "train", lambda *a, **k: pytest.fail("training started"))
    config = tmp_path / "cfg.json"
    if content is not None:
        config.write_text(content)
    with pytest.raises(SystemExit) as stop:
        t.main(["--config", str(config), "--out", str(tmp_path / "never")])
    assert stop.value.code == 2 and f"--config {config}: " in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == ([config] if content is not None else [])


def test_train_sb3_keeps_a_dotted_out_name_whole(tmp_path, capsys):
    """``--out runs/lr0.5`` wrote ``runs/lr0.zip`` and ``runs/lr0.json`` (``Path.with_suffix``
    replaced the ".5"), so runs given ``lr0.5`` and ``lr0.7`` overwrote each other. Now ``.zip`` is
    appended unless the name ends in it (``--out x.zip`` stays ``x.zip``), and the sidecar is the
    zip's name with ``.json``, the one :class:`SB3Policy` reads back (its algorithm)."""
    pytest.importorskip("stable_baselines3")
    from lrgym.baselines.sb3_agents import SB3Policy
    from lrgym.baselines.train_sb3 import main

    tiny = ["--algo", "ppo", "--family", "linreg", "--steps", "64", "--no-progress"]
    for out in ("lr0.5", "lr0.7", "model.zip"):
        main([*tiny, "--out", str(tmp_path / out)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lr0.5.json", "lr0.5.zip", "lr0.7.json", "lr0.7.zip",
                                                          "model.json", "model.zip"]
    assert f"saved {tmp_path / 'lr0.7.zip'} " in capsys.readouterr().out
    for name in ("lr0.5.zip", "model.zip"):
        assert SB3Policy(tmp_path / name).action_mode == "log_lr"
        assert json.loads((tmp_path / name).with_suffix(".json").read_text())["algo"] == "ppo"


def test_train_sb3s_progress_bar_is_on_stderr_and_stdout_is_the_saved_line(tmp_path, capsys):
    """``train_sb3 ... > out.txt``: stdout is its result, the ``saved ...`` line; SB3's progress bar
    (``learn(progress_bar=True)``) drew on rich's default console, stdout, ahead of that line. It is
    drawn on stderr."""
    pytest.importorskip("stable_baselines3")
    from lrgym.baselines.train_sb3 import main

    main(["--algo", "ppo", "--family", "linreg", "--steps", "64", "--n-envs", "1", "--out", str(tmp_path / "m")])
    out, err = capsys.readouterr()
    assert re.fullmatch(rf"saved {re.escape(str(tmp_path / 'm.zip'))} \(\d+ KB\) and m\.json\n", out), out
    assert re.search(r"100% .*━.* \d+/64", err), err


def test_train_sb3_refuses_an_out_whose_zip_is_a_folder(tmp_path, monkeypatch, capsys):
    """``--out runs/m`` with ``runs/m.zip`` a folder: SB3 would have saved to ``runs/m.zip_2``
    after training (and the json beside a folder named m.json would fail); refused first."""
    import lrgym.baselines.train_sb3 as t

    monkeypatch.setattr(t, "train", lambda *a, **k: pytest.fail("training started"))
    for taken in ("m.zip", "m.json"):
        (tmp_path / taken).mkdir()
        with pytest.raises(SystemExit) as stop:
            t.main(["--algo", "dqn", "--out", str(tmp_path / "m")])
        assert stop.value.code == 2 and f"output {tmp_path / taken} is a folder" in capsys.readouterr().err
        (tmp_path / taken).rmdir()


def test_with_suffix_added_appends_rather_than_replaces():
    from pathlib import Path

    from lrgym.baselines.outputs import with_suffix_added

    assert with_suffix_added("runs/lr0.5", ".zip") == Path("runs/lr0.5.zip")
    assert with_suffix_added(Path("runs/x.zip"), ".zip") == Path("runs/x.zip")
    assert with_suffix_added("runs/dqn_mixed", ".zip") == Path("runs/dqn_mixed.zip")
    assert with_suffix_added("a.b/c.tar", ".gz") == Path("a.b/c.tar.gz")


#: (train_sb3 config, what the error names): each was a traceback from inside SB3 or torch (a
#: TypeError, torch's RuntimeError, an AssertionError, a ValueError) or exited 1 without usage
BAD_SB3_CONFIGS = [
    ([1, 2], "the file holds a JSON list; valid: an object of config fields"),
    ({"net_arch": 5}, "net_arch=5 invalid; valid: a list of layer widths"),
    ({"net_arch": [64, -1]}, "net_arch[1]=-1 out of range; valid: a layer width from 1 to 65,536"),  # (said 2**63 - 1)
    ({"net_arch": [64, True]}, "net_arch[1]=True is not an integer; valid: a layer width from 1 to 65,536"),
    ({"net_arch": [10**9]}, "net_arch[0]=1000000000 out of range; valid: a layer width from 1 to 65,536"),
    ({"learning_rate": "abc"}, "learning_rate='abc' invalid; valid: a finite number > 0"),
    ({"learning_rate": 0}, "learning_rate=0 out of range"),  # was the default LR, silently
    ({"learning_rate": 10**400}, "out of range; valid: a finite number > 0"),  # was a bare OverflowError
    ({"reward_alphas": [1e400, 1]}, "reward_alphas=(inf, 1) out of range"),
    ({"family": "Linreg"}, "family='Linreg' invalid; valid: null (the mixed family) or one of linreg"),
    ({"reward": "profit"}, "reward='profit' invalid; valid choices: log_improvement"),
    ({"bogus": 1}, "unknown config key(s) ['bogus']; valid: algo, algo_kwargs"),
    ({"gamma": 1.5}, "gamma=1.5 out of range; valid: a number from 0 to 1"),
    ({"seed": -1}, "seed=-1 out of range; valid: an integer >= 0"),
    ({"seed": 2**32}, "seed=4294967296 out of range; valid: an integer >= 0 (0, 1, 2, ...) at most 4,294,967,295"),
    ({"reward_clip": [1, -1]}, "reward_clip=[1, -1] out of range; valid: two finite numbers (LOW, HIGH) with LOW < HIGH"),
    ({"reward_clip": [1]}, "reward_clip=[1] invalid"),
    ({"progress": "yes"}, "progress='yes' invalid; valid: true or false"),
    ({"env_kwargs": {"horizn": 3}}, "got an unexpected keyword argument 'horizn' (did you mean 'horizon'?)"),
    ({"env_kwargs": {"horizon": 0}}, "horizon=0 out of range"),
    ({"env_kwargs": {"action_mode": "log_lr"}}, "env_kwargs sets 'action_mode', which the trainer sets itself"),
    ({"env_kwargs": 3}, "env_kwargs=3 invalid; valid: an object of keywords"),
    ({"algo_kwargs": {"bufer_size": 10}}, "algo_kwargs (dqn) got an unexpected keyword argument 'bufer_size' "
                                          "(did you mean 'buffer_size'?)"),
    # algo_kwargs values (a review, 2026-12-05: SB3's AssertionError / TypeError tracebacks, or
    # trained and saved silently: a one-slot buffer, no epsilon schedule)
    ({"algo": "ppo", "algo_kwargs": {"batch_size": 0}},
     "algo_kwargs (ppo): batch_size=0 out of range; valid: a positive integer"),
    ({"algo": "ppo", "algo_kwargs": {"batch_size": 1}}, "batch_size=1 out of range; valid: an integer >= 2 while "
                                                        "normalize_advantage is true"),
    ({"algo": "ppo", "algo_kwargs": {"n_steps": "many"}}, "algo_kwargs (ppo): n_steps='many' is not an integer"),
    ({"algo_kwargs": {"buffer_size": -5}}, "algo_kwargs (dqn): buffer_size=-5 out of range; valid: a positive integer"),
    ({"algo_kwargs": {"exploration_fraction": -1}},
     "algo_kwargs (dqn): exploration_fraction=-1 out of range; valid: a number in (0, 1]"),
    ({"algo_kwargs": {"exploration_fraction": 0}}, "exploration_fraction=0 out of range"),  # ZeroDivisionError at step 1
    ({"algo_kwargs": {"exploration_final_eps": "0.1"}},
     "exploration_final_eps='0.1' is not a real number (a str); valid: a number in [0, 1]"),
    ({"algo_kwargs": {"learning_starts": -1}}, "learning_starts=-1 out of range; valid: an integer >= 0"),
    ({"algo_kwargs": {"gradient_steps": -2}}, "gradient_steps=-2 out of range; valid: an integer >= -1"),
    ({"algo_kwargs": {"train_freq": [4, "epoch"]}}, "train_freq=[4, 'epoch'] invalid; valid: a positive integer or"),
    ({"n_envs": 2, "algo_kwargs": {"train_freq": [1, "episode"]}}, "train_freq=[1, 'episode'] invalid with n_envs=2"),
    ({"algo_kwargs": {"tau": 0}}, "tau=0 out of range; valid: a number in (0, 1]"),
    ({"algo_kwargs": {"gamma": float("nan")}}, "gamma=nan out of range; valid: a number in [0, 1]"),
    ({"algo_kwargs": {"optimize_memory_usage": 1}}, "optimize_memory_usage=1 invalid; valid: true or false"),
    ({"algo_kwargs": {"replay_buffer_class": "ReplayBuffer"}}, "replay_buffer_class='ReplayBuffer' invalid; valid: "
                                                               "null (off) or a class (Python API only"),
    ({"algo": "ppo", "algo_kwargs": {"clip_range": 0}}, "clip_range=0 out of range; valid: a finite number > 0"),
    ({"algo": "ppo", "algo_kwargs": {"ent_coef": -0.1}}, "ent_coef=-0.1 out of range; valid: a finite number >= 0"),
    ({"algo": "ppo", "algo_kwargs": {"gae_lambda": True}}, "gae_lambda=True is not a real number (a bool)"),
    ({"algo": "ppo", "algo_kwargs": {"target_kl": -1}}, "target_kl=-1 out of range; valid: null (off) or a finite number > 0"),
    # policy_kwargs: keys against the policy class, net_arch's shape, activation_fn by name
    ({"policy_kwargs": {"net_arc": [8]}}, "policy_kwargs (dqn: DQNPolicy) got an unexpected keyword argument "
                                          "'net_arc' (did you mean 'net_arch'?)"),
    ({"policy_kwargs": {"log_std_init": 0}}, "unexpected keyword argument 'log_std_init'"),  # PPO's, not DQN's
    ({"policy_kwargs": {"net_arch": {"pi": [8], "vf": [8]}}}, "policy_kwargs (dqn): net_arch={'pi': [8], 'vf': [8]} "
                                                              "invalid; valid: a list of layer widths"),
    ({"algo": "ppo", "policy_kwargs": {"net_arch": {"pi": [8], "qf": [8]}}}, "unknown key 'qf'"),
    ({"algo": "ppo", "policy_kwargs": {"net_arch": {"pi": [8, 0]}}}, "net_arch['pi'][1]=0 out of range"),
    ({"policy_kwargs": {"net_arch": [-3]}}, "net_arch[0]=-3 out of range"),
    ({"policy_kwargs": {"activation_fn": "swish"}}, "activation_fn='swish' invalid; valid: the name of an activation, "
                                                    "one of ReLU, Tanh"),
    ({"algo": "ppo", "policy_kwargs": {"ortho_init": "no"}}, "ortho_init='no' invalid; valid: true or false"),
    ({"algo": "ppo", "policy_kwargs": {"log_std_init": "x"}}, "log_std_init='x' is not a real number (a str)"),
    ({"policy_kwargs": {"optimizer_kwargs": 3}}, "optimizer_kwargs=3 invalid; valid: an object of keywords"),
]


@pytest.mark.parametrize("config, message", BAD_SB3_CONFIGS, ids=[json.dumps(c) for c, _ in BAD_SB3_CONFIGS])
def test_train_sb3_checks_every_config_value_before_training(config, message, tmp_path, monkeypatch, capsys):
    """As train_controller's --config: every field checked when read, argparse's error (usage,
    exit 2) naming the field, the value and the valid ones; the dataclass checks too."""
    pytest.importorskip("stable_baselines3")
    import lrgym.baselines.train_sb3 as t

    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(config))
    monkeypatch.setattr(t, "train", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(SystemExit) as stop:
        t.main(["--config", str(path), "--out", str(tmp_path / "never")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("usage:") and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.json"]
    if isinstance(config, dict) and "bogus" not in config:
        with pytest.raises(ValueError, match="valid"):
            t.TrainConfig(**config)


@pytest.mark.parametrize("argv, message", [
    (["--reward-clip", "1", "-1"], "reward_clip=[1.0, -1.0] out of range"),  # every reward became -1
    (["--reward-clip", "nan", "1"], "reward_clip=[nan, 1.0] out of range"),
    (["--reward-clip", "1e400", "2"], "reward_clip=[inf, 2.0] out of range"),
    (["--reward-clip", "-inf", "inf"], "reward_clip=[-inf, inf] out of range"),  # was "expected 2 arguments"
    (["--reward-clip", "0", "1", "--no-reward-clip"], "argument --no-reward-clip: not allowed with argument --reward-clip"),
])
def test_train_sb3_refuses_reward_clips_that_clip_nonsense(argv, message, tmp_path, monkeypatch, capsys):
    pytest.importorskip("stable_baselines3")
    import lrgym.baselines.train_sb3 as t

    _refused(t.main, t, "train", ["--algo", "dqn", *argv], message, tmp_path, monkeypatch, capsys)


def test_train_sb3_takes_negative_reward_clips_argparse_took_for_options():
    """``--reward-clip -1e1 1`` failed as "expected 2 arguments" (argparse reads -1e1 as an option)."""
    pytest.importorskip("stable_baselines3")
    from lrgym.baselines.train_sb3 import parse_config

    assert parse_config(["--reward-clip", "-1e1", "-1e-1"]).reward_clip == (-10.0, -0.1)
    assert parse_config(["--reward-clip", "-5", "2", "--seed", "3"]).seed == 3


def test_clip_reward_and_qlearning_refuse_the_same_bounds():
    import gymnasium as gym

    from lrgym.baselines.qlearning import QLearningConfig
    from lrgym.baselines.wrappers import ClipReward

    env = gym.make("LRControl-Quadratic-v1")
    # (-(10**400), 1): an integer beyond the largest float was a bare OverflowError out of float()
    for low, high in ((1, -1), (0, 0), (float("nan"), 1), (-float("inf"), 1), ("-1", 1), (-(10**400), 1)):
        with pytest.raises(ValueError, match=r"ClipReward's \(low, high\)=.* valid: two finite numbers"):
            ClipReward(env, low, high)
        with pytest.raises(ValueError, match=r"reward_clip=.* valid: two finite numbers"):
            QLearningConfig(reward_clip=(low, high))
    assert (ClipReward(env, -2, 3).low, ClipReward(env, -2, 3).high) == (-2.0, 3.0)
    assert QLearningConfig(reward_clip=None).reward_clip is None


@pytest.mark.timeout(60)  # the old code waited on the FIFO forever
@pytest.mark.parametrize("module_name", ["train_sb3", "train_controller"])
@pytest.mark.parametrize("kind", ["fifo", "folder", "loop"])
def test_a_config_that_is_no_regular_file_is_named_not_read(module_name, kind, tmp_path, monkeypatch, capsys):
    """``--config FIFO`` waited forever for a writer; a folder or a link loop is named as such."""
    import importlib
    import os

    if module_name == "train_sb3":
        pytest.importorskip("stable_baselines3")
    module = importlib.import_module(f"lrgym.baselines.{module_name}")
    path = tmp_path / "cfg.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(path)
    monkeypatch.setattr(module, "train", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(SystemExit) as stop:
        module.main(["--config", str(path), "--out", str(tmp_path / "never")])
    what = {"fifo": "a FIFO (named pipe)", "folder": "a folder", "loop": "a symbolic link loop"}[kind]
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"--config {path}: {path} is {what}; valid: a JSON file" in err, err


def test_train_sb3_config_takes_every_lrcontrolenv_keyword_it_does_not_set():
    """The checks take what they should: an LRControlEnv keyword beyond the settings (build_ahead),
    list values of a JSON file, a NumPy seed; and keep the shipped defaults."""
    pytest.importorskip("stable_baselines3")
    import numpy as np

    from lrgym.baselines.train_sb3 import TrainConfig

    c = TrainConfig(env_kwargs={"build_ahead": 2, "horizon": 7}, net_arch=[32], reward_alphas=[1, 2],
                    reward_clip=[-5, 2], seed=np.int64(4))
    assert (c.net_arch, c.reward_alphas, c.reward_clip, c.seed) == ((32,), (1.0, 2.0), (-5.0, 2.0), 4)
    d = TrainConfig()
    assert (d.net_arch, d.reward_clip, d.seed, d.learning_rate) == ((64, 64), (-10.0, 1.0), 0, None)


def test_seeds_have_no_upper_bound_but_where_their_consumer_has_one(tmp_path, monkeypatch, capsys):
    """A review (2026-12-05): seeds from 2**63 up were refused (evaluate, --seed, --seeds), though
    gymnasium and NumPy take any integer >= 0; only SB3's legacy generator stops at 2**32 - 1."""
    import argparse

    from lrgym.baselines.evaluation import evaluate
    from lrgym.baselines.registry import make_baseline
    from lrgym.settings import check_seed, seed_argument

    big = 2**64 + 7
    assert check_seed("seed", big) == big and seed_argument(str(big)) == big
    runs = evaluate(make_baseline("fixed"), {"family": "quadratic", "horizon": 3}, instances=[0], seeds=[big])
    assert len(runs) == 1
    with pytest.raises(argparse.ArgumentTypeError, match=r"'4294967296' out of range; valid: an integer >= 0 .* at most 4,294,967,295"):
        seed_argument(str(2**32), maximum=2**32 - 1)
    sb3 = pytest.importorskip("lrgym.baselines.train_sb3")
    _refused(sb3.main, sb3, "train", ["--algo", "dqn", "--seed", str(2**32)], "at most 4,294,967,295", tmp_path,
             monkeypatch, capsys)


def test_a_config_handed_over_as_a_pipe_is_read(tmp_path):
    """A review (2026-12-05): ``--config /dev/stdin`` and bash's ``<(...)`` are FIFOs the user hands
    over; they were refused as FIFOs (a FIFO on disk still is: it would wait for a writer)."""
    import subprocess
    import sys

    code = ("from lrgym.files import read_regular_file\n"
            "print(read_regular_file('/dev/stdin', '--config', 'a JSON file'))\n")
    out = subprocess.run([sys.executable, "-c", code], input='{"seed": 7}', capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == '{"seed": 7}', out.stderr[-2000:]


def test_sb3_networks_may_be_wider_than_the_controllers_bound():
    sb3 = pytest.importorskip("lrgym.baselines.train_sb3")
    assert sb3.TrainConfig(net_arch=[2048, 2048]).net_arch == (2048, 2048)
    with pytest.raises(ValueError, match=r"net_arch\[0\]=100000 out of range; valid: a layer width from 1 to 65,536"):
        sb3.TrainConfig(net_arch=[100000])


@pytest.mark.parametrize("config, message", [
    # what only SB3 itself can tell: its model is built before training, a refusal is a usage error
    ({"algo": "ppo", "algo_kwargs": {"n_steps": 1}}, "algo_kwargs['n_steps']: Stable-Baselines3 refused the config "
                                                     "building its PPO (AssertionError: `n_steps * n_envs` must be"),
    ({"policy_kwargs": {"optimizer_kwargs": {"betas2": 0.9}}}, "Stable-Baselines3 refused the config building its DQN "
                                                               "(TypeError:"),
    ({"algo_kwargs": {"replay_buffer_kwargs": {"bogus": 1}}}, "algo_kwargs['replay_buffer_kwargs']"),
])
def test_train_sb3_turns_what_sb3_refuses_into_a_usage_error_before_training(config, message, tmp_path, capsys):
    """Values the table passes that SB3 refuses building its model (a cross-field assertion, an
    unknown keyword of a keyword dict): usage (exit 2) naming the field, no traceback, nothing
    written. The real train() runs: the model is built before anything is trained or written."""
    pytest.importorskip("stable_baselines3")
    import lrgym.baselines.train_sb3 as t

    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({**config, "total_timesteps": 8, "progress": False}))
    with pytest.raises(SystemExit) as stop:
        t.main(["--config", str(path), "--out", str(tmp_path / "never")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("usage:") and message in err, err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.json"]


def test_train_sb3_takes_the_valid_values_sb3_takes(tmp_path):
    """The checks refuse none of SB3's documented values: the range ends (-1 gradient steps, 0
    learning_starts, [1, "episode"] training, SB3's own TrainFreq, tau 1), PPO's dict net_arch,
    activations by name; and the model SB3 built holds them (train_freq a tuple as SB3 takes it,
    the named activation's class). (They do refuse a few values SB3 runs that train nothing or
    mean nothing: learning_rate 0, target_update_interval 0, exploration_fraction > 1, a negative
    ent_coef, an infinite max_grad_norm; the README says so.)"""
    pytest.importorskip("stable_baselines3")
    import torch

    from lrgym.baselines.train_sb3 import TrainConfig, algo_defaults, policy_defaults
    from lrgym.baselines.sb3_config import build_model, check_algo_kwargs
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.vec_env import DummyVecEnv
    import lrgym.baselines.train_sb3 as t

    dqn = TrainConfig(algo="dqn", n_envs=1, algo_kwargs={"gradient_steps": -1, "learning_starts": 0, "tau": 1,
                                                       "train_freq": [1, "episode"], "exploration_fraction": 1},
                      policy_kwargs={"activation_fn": "tanh", "net_arch": [8]})
    ppo = TrainConfig(algo="ppo", algo_kwargs={"n_steps": 2, "batch_size": 2, "clip_range_vf": None, "ent_coef": 0},
                      policy_kwargs={"net_arch": {"pi": [8], "vf": [4, 4]}, "activation_fn": "nn.ELU"})
    assert dqn.algo_kwargs["train_freq"] == (1, "episode")
    for config, cls in ((dqn, DQN), (ppo, PPO)):
        env = DummyVecEnv([lambda: t.make_train_env(config)])
        model = build_model(cls, env, device="cpu", policy_kwargs={**policy_defaults(config), **config.policy_kwargs},
                            algo_kwargs={**algo_defaults(config), **config.algo_kwargs})
        acts = {type(m) for m in model.policy.modules()}
        assert (torch.nn.Tanh if cls is DQN else torch.nn.ELU) in acts
        model.learn(4)
    assert model.policy.mlp_extractor.value_net[0].out_features == 4  # {"vf": [4, 4]}
    assert check_algo_kwargs("ppo", {"learning_rate": lambda p: 1e-3 * p})["learning_rate"](0.5) == 5e-4
    from stable_baselines3.common.type_aliases import TrainFreq, TrainFrequencyUnit

    own = TrainFreq(4, TrainFrequencyUnit.STEP)  # SB3's own form, refused before (a review, 2026-12-05)
    assert check_algo_kwargs("dqn", {"train_freq": own}, n_envs=4)["train_freq"] == own
    from lrgym.baselines.config_checks import ConfigError

    with pytest.raises(ConfigError, match=r"train_freq=\[1, <TrainFrequencyUnit.EPISODE: 'episode'>\] invalid with n_envs=2"):
        check_algo_kwargs("dqn", {"train_freq": TrainFreq(1, TrainFrequencyUnit.EPISODE)}, n_envs=2)


def test_train_sb3_help_names_the_default_of_every_flag_with_one():
    """``--help`` said no default for --algo, --steps, --n-envs, --threads: a first run of
    ``train_sb3`` could not tell it would train DQN for 150,000 steps on one env (≈ 8 min)."""
    from dataclasses import fields

    from lrgym.baselines.train_sb3 import TrainConfig, _parser

    defaults = {f.name: f.default for f in fields(TrainConfig)}
    flags = {a.dest: a for a in _parser()._actions}
    for name in ("algo", "reward", "total_timesteps", "seed", "n_envs", "threads"):
        value = defaults[name]
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        assert re.search(rf"default:? {re.escape(shown)}\b", flags[name].help or ""), (name, flags[name].help)
    low, high = defaults["reward_clip"]
    assert f"default {low:g} {high:g}" in flags["reward_clip"].help
