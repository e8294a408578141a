"""The training commands train_controller and train_rllib are each split into modules of one
concern, all driver-only (``train_*.py``: :data:`lrgym.baselines.node_check.DRIVER_ONLY`), so
lrgym's code hash leaves them out and each command hashes its own files into what it records of
the code (the controller's training references and checkpoints, the RLlib run's ``.json``).
Each must hash every one of its files: a part left out (a new module of the command, the ES loop
once it left train_controller.py) could change without changing the record, and a resume would
go on, or a cached reference be reused, under other code."""

from __future__ import annotations

import hashlib
from pathlib import Path

BASELINES = Path(__file__).resolve().parents[2] / "baselines"


def _hashed(version: str) -> set[str]:
    """The ``<file> <16 hex digits>`` parts of a code_version string."""
    return {part for part in version.split(", ") if not part.startswith(("code ", "numpy "))}


def _expected(pattern: str) -> set[str]:
    """Each file of the command, hashed here independently of code_version."""
    return {f"{p.name} {hashlib.sha256(p.read_bytes()).hexdigest()[:16]}" for p in sorted(BASELINES.glob(pattern))}


def test_the_controller_references_and_checkpoints_hash_every_file_of_the_command():
    from lrgym.baselines.train_controller_episodes import TRAINER_FILES, references_version

    assert sorted(Path(p).name for p in TRAINER_FILES) == sorted(p.name for p in BASELINES.glob("train_controller*.py"))
    assert len(_expected("train_controller*.py")) == 4
    assert _hashed(references_version()) == _expected("train_controller*.py")


def test_the_rllib_record_hashes_every_file_of_the_command():
    from lrgym.baselines.code_version import made_by
    from lrgym.baselines.train_rllib import TRAINER_FILES

    assert sorted(Path(p).name for p in TRAINER_FILES) == sorted(p.name for p in BASELINES.glob("train_rllib*.py"))
    assert len(_expected("train_rllib*.py")) == 5
    assert _hashed(made_by(*TRAINER_FILES)["code"]) == _expected("train_rllib*.py")
