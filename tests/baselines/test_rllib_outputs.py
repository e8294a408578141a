"""What ``python -m lrgym.baselines.train_rllib`` writes and where, with RLlib's algorithm and the
export stood in for (no Ray cluster, no training): the file names come from ``--out`` as given.

``Path.with_suffix`` replaced whatever followed the last dot of ``--out``: ``--out runs/ppo.lr0.5``
wrote ``runs/ppo.lr0.npz`` (and ``.py``, ``.json``) beside ``runs/ppo.lr0.5.ckpt/``, and a second
run with ``--out runs/ppo.lr0.7`` overwrote the first one's policy.
"""

from __future__ import annotations

import re
import types

import pytest

pytest.importorskip("ray.rllib")

from lrgym.baselines import backend, train_rllib  # noqa: E402


class PPO:
    """What ``Algorithm.from_checkpoint`` returns for a PPO checkpoint (by class name)."""

    def train(self):
        return {"env_runners": {"num_env_steps_sampled_lifetime": 64}}

    def save_to_path(self, path):
        from pathlib import Path

        Path(path).mkdir(parents=True, exist_ok=True)

    def get_module(self):
        return None

    def stop(self):
        pass


class _Exported:
    def __init__(self, tag: str):
        self.tag = tag

    def save(self, path):
        path.write_text(self.tag)

    def submission_source(self):
        return f"# {self.tag}\n"


def _train(tmp_path, monkeypatch, out: str, tag: str):
    from ray.rllib.algorithms.algorithm import Algorithm

    fake_ray = types.SimpleNamespace(__version__="test", cluster_resources=lambda: {"CPU": 2.0})
    monkeypatch.setattr(backend, "connect", lambda address=None: fake_ray)
    monkeypatch.setattr(Algorithm, "from_checkpoint", classmethod(lambda cls, path: PPO()))
    monkeypatch.setattr(train_rllib, "export_policy", lambda *args: _Exported(tag))
    config = train_rllib.RLlibConfig(algo="ppo", resume=str(tmp_path / "old.ckpt"), out=out, total_timesteps=10,
                                     progress=False)
    told = []
    train_rllib.train(config, log=told.append)
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
