"""RLlib algorithms built by lrgym leave no ``~/ray_results/<date-time><random>`` folder
(lrgym.baselines.rllib_logdir); the command's checkpoint restores with RLlib's own
``Algorithm.from_checkpoint`` in another process.

RLlib's ``Algorithm`` is a Ray Tune ``Trainable``, whose ``__init__`` makes that folder for its
``logdir`` outside Tune and writes nothing in it: every ``train_rllib`` run, RLlib test and
benchmark left an empty one in the user's home (≈ 170 on the project's machine, 2026-12-06).
The reference is Ray's own code path: a ``Trainable`` built outside the block makes its folder
where Ray's default says.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import pytest

pytest.importorskip("ray.rllib")

from lrgym.baselines.rllib_logdir import LOGDIR_PREFIX, logdirs_in_temp  # noqa: E402


def _trainable():
    """The smallest Tune ``Trainable``: its ``__init__`` is the one RLlib's ``Algorithm`` runs
    (``super().__init__(config=config)``), the logdir made there; no Ray instance needed."""
    from ray.tune import Trainable

    class Smallest(Trainable):
        def step(self):
            return {}

    return Smallest()


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_an_algorithm_built_in_the_block_keeps_its_logdir_in_the_blocks_folder(tmp_path, monkeypatch):
    """Ray's default folder (``~/ray_results``, here a folder of the test's) gets nothing; the
    block's folder holds the logdir while the block lasts and is gone after it; nested blocks
    each restore what was there before."""
    import ray.tune.trainable.trainable as trainable

    home_results = tmp_path / "ray_results"
    monkeypatch.setattr(trainable, "DEFAULT_STORAGE_PATH", str(home_results))
    outside = _trainable()  # the reference: Ray's default
    outside.stop()
    assert Path(outside.logdir).parent == home_results and Path(outside.logdir).is_dir()
    before = _files(home_results)
    with logdirs_in_temp() as folder:
        assert Path(folder).name.startswith(f"{LOGDIR_PREFIX}{os.getpid()}.")
        with logdirs_in_temp() as inner:
            nested = _trainable()
            nested.stop()
            assert Path(nested.logdir).parent == Path(inner)
        assert not os.path.exists(inner)
        algo = _trainable()
        assert Path(algo.logdir).parent == Path(folder) and Path(algo.logdir).is_dir()
        algo.stop()
    assert not os.path.exists(folder)
    assert _files(home_results) == before and trainable.DEFAULT_STORAGE_PATH == str(home_results)


# a new run, then a resumed one (Algorithm.from_checkpoint), as the command runs them (its main, less
# the Ray instance's end between the two), in one process
_RUN = """
import sys
import ray
from lrgym.baselines import train_rllib
out, config = sys.argv[1], sys.argv[2]
common = ["--config", config, "--env-runners", "0", "--envs-per-runner", "1", "--no-progress", "--out", out]
try:
    train_rllib.train(train_rllib.parse_config(["--algo", "ppo", "--steps", "16", *common]))
    train_rllib.train(train_rllib.parse_config(["--resume", out + ".ckpt", "--steps", "32", *common]))
finally:
    ray.shutdown()
"""


@pytest.fixture(scope="module")
def command_run(tmp_path_factory):
    """``python -m lrgym.baselines.train_rllib``'s two runs (:data:`_RUN`) with ``$HOME`` at an
    empty folder, once for the module: what the home test reads, and the checkpoint and ``.npz``
    the restore test restores (it trained a run of its own in the test process for that, a Ray
    instance and an RLlib build more: ≈ 25 s of a test worker's time, measured). Linreg alone: the family
    is not what either test is about (the mixed family's kernels on a fresh clone took minutes)."""
    folder = tmp_path_factory.mktemp("command-run")
    home = folder / "home"
    home.mkdir()
    config = folder / "small.json"
    config.write_text(json.dumps({"family": "linreg", "train_batch_size": 16, "net_arch": [4],
                                  "env_kwargs": {"horizon": 4}}))
    out = folder / "out" / "run"
    proc = subprocess.Popen([sys.executable, "-c", _RUN, str(out), str(config)], env={**os.environ, "HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate(timeout=600)
    return types.SimpleNamespace(home=home, out=out, pid=proc.pid, returncode=proc.returncode, stdout=stdout,
                                 stderr=stderr)


def test_train_rllib_leaves_nothing_in_the_users_home(command_run):
    """``python -m lrgym.baselines.train_rllib`` (a new run and a ``--resume``d one, a real RLlib
    build each) with ``$HOME`` at an empty folder: it holds nothing after but Ray's token
    authentication's ``.ray/auth_token`` (Ray's own setting, made by ``ray.init``); no
    ``ray_results`` (one empty ``ray_results/<date-time><random>`` per build before), and the
    run's temp folder for them is gone too."""
    run = command_run
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("wrote ") == 2 and json.loads(run.out.with_suffix(".json").read_text())["resumed_from"]
    assert not set(_files(run.home)) - {".ray", ".ray/auth_token"}, _files(run.home)
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f"{LOGDIR_PREFIX}{run.pid}.*"))


# ---- a train_rllib checkpoint restored with RLlib's own Algorithm.from_checkpoint in another process ----
# (until 2026-12-07 tests/baselines/test_rllib_restore.py, which trained its own run in the test process)
#
# An RLlib user's audit (2026-12-07): a ``train_rllib`` checkpoint names its env by the name its env
# creator is registered under in Ray's registry (``train_rllib.ENV_NAME``), and that registry is per
# Ray job. ``Algorithm.from_checkpoint`` in a process of one's own (to evaluate the run with
# ``algo.evaluate()``, or go on in a loop or Tune run of one's own) therefore failed: each env runner
# raised ``NameNotFound: Environment `lrgym-rllib` doesn't exist`` and the driver RLlib's bare
# ``IndexError``. ``train_rllib.register_rllib_env()`` registers it; the restored algorithm then acts
# as the run's exported policy does (the reference: the ``.npz`` written at the end of the run).

#: run in a fresh process (a new Ray job, whose registry holds nothing of the training's):
#: restore the checkpoint, print the restored module's logits for the given observations, then
#: train one more iteration on the restored env
RESTORE = """
import json, sys
import numpy as np, torch
from ray.rllib.algorithms.algorithm import Algorithm
from lrgym.baselines import train_rllib
from lrgym.baselines.backend import connect
from lrgym.baselines.rllib_logdir import logdirs_in_temp

ckpt, obs = sys.argv[1], np.array(json.loads(sys.argv[2]), dtype=np.float32)
ray = connect(None)
try:
    assert train_rllib.register_rllib_env() == train_rllib.ENV_NAME
    with logdirs_in_temp():
        algo = Algorithm.from_checkpoint(ckpt)
        try:
            out = algo.get_module().forward_inference({"obs": torch.as_tensor(obs)})
            logits = out["action_dist_inputs"].tolist()
            steps = algo.train()["env_runners"]["num_env_steps_sampled_lifetime"]
        finally:
            algo.stop()
finally:
    ray.shutdown()
print(json.dumps({"logits": logits, "steps": int(steps)}))
"""


def test_a_train_rllib_checkpoint_restores_with_rllibs_own_from_checkpoint(command_run, tmp_path):
    """The command's run (resumed: its checkpoint and ``.npz`` written at its end), restored in a
    fresh process: the module's logits are the exported ``.npz``'s, and it trains on."""
    import numpy as np

    from lrgym.baselines.mlp_policy import MLPPolicy

    assert command_run.returncode == 0, command_run.stderr
    exported = MLPPolicy.load(command_run.out.with_suffix(".npz"))
    trained = json.loads(command_run.out.with_suffix(".json").read_text())["env_steps"]
    n_obs = exported.layers[0][0].shape[0]
    obs = np.random.default_rng(0).uniform(-3, 3, size=(32, n_obs)).astype(np.float32)  # (inside its ±10 clip)
    done = subprocess.run([sys.executable, "-c", RESTORE, str(command_run.out.with_suffix(".ckpt")),
                           json.dumps(obs.tolist())], capture_output=True, text=True, timeout=540, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    restored = json.loads(done.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(restored["logits"], exported.outputs(obs), rtol=1e-5, atol=1e-6)
    assert restored["steps"] > trained  # it trained on: the checkpoint's steps and one more iteration's


@pytest.mark.slow
def test_the_client_matrix_rllib_client_leaves_nothing_in_ray_results(tmp_path, monkeypatch):
    """``benchmarks.clients.matrix``'s RLlib client (one training iteration of its PPO, a Ray
    instance of its own) with Ray's default folder at one of the test's: nothing is made there."""
    import ray.tune.trainable.trainable as trainable

    from benchmarks.clients.matrix import client_rllib

    monkeypatch.setattr(trainable, "DEFAULT_STORAGE_PATH", str(tmp_path / "ray_results"))
    row = client_rllib(1)
    assert row["steps"] >= 1  # it trained
    assert not (tmp_path / "ray_results").exists()
