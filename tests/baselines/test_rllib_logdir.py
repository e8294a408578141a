"""RLlib algorithms built by lrgym leave no ``~/ray_results/<date-time><random>`` folder
(lrgym.baselines.rllib_logdir).

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


def test_train_rllib_leaves_nothing_in_the_users_home(tmp_path):
    """``python -m lrgym.baselines.train_rllib`` (a new run and a ``--resume``d one, a real RLlib
    build each) with ``$HOME`` at an empty folder: it holds nothing after but Ray's token
    authentication's ``.ray/auth_token`` (Ray's own setting, made by ``ray.init``); no
    ``ray_results`` (one empty ``ray_results/<date-time><random>`` per build before), and the
    run's temp folder for them is gone too."""
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "small.json"
    config.write_text(json.dumps({"train_batch_size": 16, "net_arch": [4], "env_kwargs": {"horizon": 4}}))
    out = tmp_path / "out" / "run"
    proc = subprocess.Popen([sys.executable, "-c", _RUN, str(out), str(config)], env={**os.environ, "HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    assert stdout.count("wrote ") == 2 and json.loads(out.with_suffix(".json").read_text())["resumed_from"]
    assert not set(_files(home)) - {".ray", ".ray/auth_token"}, _files(home)
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f"{LOGDIR_PREFIX}{proc.pid}.*"))


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
