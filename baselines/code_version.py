"""Which code made a file: the commit and the code's hash recorded beside what lrgym's commands
make over minutes or hours (trained weights, a suite's selection records), so that a result can
be traced to the code that made it, and an earlier run's records are reused only on that code.

Two complementary records:

- :func:`git_commit`, ``git describe --always --dirty``: where to check the code out again (``None``
  outside a git checkout; ``-dirty`` when files differ from the commit, which the commit alone
  cannot say how).
- :func:`code_version`, the SHA-256 of every ``.py`` file of lrgym, lrgym.baselines and
  lrgym.leaderboard that a node runs (:func:`lrgym.baselines.node_check.code_hash`), of the
  command's own scripts (which that hash leaves out: ``train_*.py``, ``selection.py``) and NumPy's
  version: equal exactly when the code is, uncommitted edits included.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["code_version", "git_commit", "made_by"]


def git_commit() -> str | None:
    """The git commit of this checkout (``git describe --always --dirty``: ``-dirty`` if files
    differ from it), or None outside a git checkout of lrgym. Weights reproduce on the code that
    trained them; later code may change their last bits.

    Only lrgym's own checkout counts: the folder above ``baselines/`` holding ``.git``. An
    installed lrgym (``site-packages/lrgym/baselines``) inside another repository (a project's
    ``.venv``, git-ignored or not) recorded that project's commit as the code's."""
    import subprocess

    root = Path(__file__).resolve().parent.parent  # the checkout's top: baselines/ is lrgym.baselines
    if not (root / ".git").exists():  # (a folder, or a file in a worktree or a submodule)
        return None
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], cwd=root,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def code_version(*scripts: str | Path) -> str:
    """``"code <hash>, <script> <hash>, ..., numpy <version>"``: lrgym's code
    (:func:`~lrgym.baselines.node_check.code_hash`), each of ``scripts`` (16 hex digits of its
    SHA-256) and NumPy's version (its kernels' last bits)."""
    import numpy as np

    from lrgym.baselines import node_check

    parts = [f"code {node_check.code_hash()}"]
    for script in scripts:
        path = Path(script)
        parts.append(f"{path.name} {hashlib.sha256(path.read_bytes()).hexdigest()[:16]}")
    return ", ".join([*parts, f"numpy {np.__version__}"])


def made_by(*scripts: str | Path) -> dict:
    """``{"commit": git_commit(), "code": code_version(*scripts)}``: what a file records of the
    code that made it."""
    return {"commit": git_commit(), "code": code_version(*scripts)}
