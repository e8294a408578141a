"""A ``train_rllib`` run stopped while training (Ctrl-C, SIGTERM: a ``KeyboardInterrupt`` in the
main thread) keeps its last checkpoint whole and says what it kept (a Ray/RLlib user's audit,
2026-12-07).

RLlib's ``Algorithm.save_to_path`` writes its files one by one into the folder it is given; the
run saved in place, so a stop during a save left the last checkpoint's files mixed with the new
one's (here: the new ``algorithm_state.pkl`` beside the old ``learner.pkl``), and the run said
``interrupted (SIGINT)`` alone. The loop is the real one (``train_rllib._train``); the algorithm
is a stand-in whose saves write the env steps it has sampled into each of its files, so a whole
checkpoint is one whose files all hold one number. Ray is not started.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ray.rllib")

from lrgym.baselines import backend, train_rllib  # noqa: E402

FILES = ("algorithm_state.pkl", "rllib_checkpoint.json", "learner.pkl")
BATCH = 2000


class FakeAlgo:
    """Samples ``BATCH`` env steps per ``train()``; its ``stop_in_save``-th save writes its first
    file and is then stopped (as Ctrl-C arriving mid-save raises in the main thread)."""

    def __init__(self, stop_in_save: int | None = None, stop_in_train: int | None = None):
        self.steps, self.saves, self.trains, self.stopped = 0, 0, 0, False
        self.stop_in_save, self.stop_in_train = stop_in_save, stop_in_train

    def train(self):
        self.trains += 1
        if self.trains == self.stop_in_train:
            raise KeyboardInterrupt
        self.steps += BATCH
        return {"env_runners": {"num_env_steps_sampled_lifetime": self.steps}}

    def save_to_path(self, path):
        self.saves += 1
        Path(path).mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(FILES):
            if i == 1 and self.saves == self.stop_in_save:
                raise KeyboardInterrupt
            (Path(path) / name).write_text(str(self.steps))

    def stop(self):
        self.stopped = True


class FakeRay:
    __version__ = "fake"

    @staticmethod
    def cluster_resources():
        return {"CPU": 2}


def stopped_run(tmp_path, monkeypatch, algo, **config):
    """Run ``train_rllib._train`` on ``algo`` (Ray's parts stood in for) until it is stopped;
    returns its notes on stderr."""
    monkeypatch.setattr(backend, "connect", lambda address, verbose=False: FakeRay)
    monkeypatch.setattr(train_rllib, "register_rllib_env", lambda: None)
    monkeypatch.setattr(train_rllib, "warm_up_nodes", lambda config, log: None)
    monkeypatch.setattr(train_rllib, "check_env_runner_nodes", lambda algo: None)
    monkeypatch.setattr(train_rllib, "algo_config", lambda config: type("C", (), {"build_algo": lambda self: algo})())
    cfg = train_rllib.RLlibConfig(family="linreg", env_runners=1, envs_per_runner=2, progress=False,
                                  out=str(tmp_path / "run"), **config)
    notes = []
    with pytest.raises(KeyboardInterrupt):
        train_rllib._train(cfg, notes.append, print)
    assert algo.stopped
    return cfg, notes


def held(folder: Path) -> dict:
    return {p.name: p.read_text() for p in folder.iterdir()}


def test_a_stop_during_a_save_keeps_the_last_checkpoint_whole_and_says_so(tmp_path, monkeypatch):
    algo = FakeAlgo(stop_in_save=3)  # saves after iterations 1, 2; the third is stopped halfway
    cfg, notes = stopped_run(tmp_path, monkeypatch, algo, total_timesteps=10 * BATCH, checkpoint_every=1,
                             address="127.0.0.1:6379")
    ckpt = tmp_path / "run.ckpt"
    assert held(ckpt) == {name: str(2 * BATCH) for name in FILES}  # the second save, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt"]  # no half-written folder beside it
    assert len(notes) == 1
    assert f"kept this run's last checkpoint {ckpt} at {2 * BATCH} env steps" in notes[0]
    assert "--checkpoint-every 1 iteration;" in notes[0]
    assert notes[0].endswith(f"go on with\n  python -m lrgym.baselines.train_rllib --resume {ckpt} "
                             f"--steps {10 * BATCH} --address 127.0.0.1:6379 --out {tmp_path / 'run'}")


def test_a_stop_before_the_first_checkpoint_says_nothing_was_written(tmp_path, monkeypatch):
    earlier = tmp_path / "run.ckpt"  # an earlier run's checkpoint at the same --out
    earlier.mkdir()
    (earlier / "learner.pkl").write_text("earlier")
    cfg, notes = stopped_run(tmp_path, monkeypatch, FakeAlgo(stop_in_train=2), total_timesteps=10 * BATCH,
                             checkpoint_every=5)
    assert held(earlier) == {"learner.pkl": "earlier"}
    assert notes == [f"interrupted before this run's first checkpoint (--checkpoint-every 5 iterations): nothing "
                     f"written; {earlier} is not this run's"]


def test_save_checkpoint_replaces_the_folder_whole(tmp_path):
    """A save that ends replaces every file (one the new checkpoint lacks is gone too); one that
    fails leaves the last checkpoint as it was and nothing beside it."""
    from lrgym.baselines.train_rllib_resume import save_checkpoint

    ckpt = tmp_path / "a.ckpt"
    ckpt.mkdir()
    (ckpt / "stale.pkl").write_text("old")
    algo = FakeAlgo()
    algo.steps = 7
    assert save_checkpoint(algo, ckpt) == ckpt.resolve()
    assert held(ckpt) == {name: "7" for name in FILES}

    class Failing(FakeAlgo):
        def save_to_path(self, path):
            super().save_to_path(path)
            raise OSError("disk full")

    failing = Failing()
    failing.steps = 9
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(failing, ckpt)
    assert held(ckpt) == {name: "7" for name in FILES}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt"]
