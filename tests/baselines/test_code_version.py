"""What a trained file records of the code that made it (lrgym.baselines.code_version)."""

import hashlib
import importlib.util
import shutil
import subprocess

import numpy as np

import lrgym.baselines.code_version
from lrgym.baselines import node_check
from lrgym.baselines.code_version import code_version


def test_code_version_names_the_code_each_script_and_numpy(tmp_path):
    script = tmp_path / "train_x.py"
    script.write_text("print('a')\n")
    digest = hashlib.sha256(b"print('a')\n").hexdigest()[:16]
    assert code_version(script) == f"code {node_check.code_hash()}, train_x.py {digest}, numpy {np.__version__}"
    before = code_version(script)
    script.write_text("print('b')\n")  # an edit of the script alone changes it
    assert code_version(script) != before
    assert code_version() == f"code {node_check.code_hash()}, numpy {np.__version__}"


def _git(folder, *args) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args], cwd=folder,
                          check=True, capture_output=True, text=True).stdout.strip()


def _git_commit_of(copy) -> str | None:
    """git_commit() of a copy of the module at ``copy`` (its own folder layout)."""
    copy.parent.mkdir(parents=True)
    shutil.copy(lrgym.baselines.code_version.__file__, copy)
    spec = importlib.util.spec_from_file_location("code_version_copy", copy)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.git_commit()


def test_git_commit_is_lrgyms_checkouts_only(tmp_path):
    """The commit of the checkout whose baselines/ the module is in; None for an installed lrgym
    inside another repository (a project's git-ignored .venv): that project's commit was recorded."""
    if shutil.which("git") is None:
        import pytest

        pytest.skip("no git")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    _git(checkout, "init", "-q")
    _git(checkout, "commit", "-q", "--allow-empty", "-m", "x")
    assert _git_commit_of(checkout / "baselines" / "code_version.py") == _git(checkout, "rev-parse", "HEAD")  # (untracked: not -dirty)
    project = tmp_path / "project"
    project.mkdir()
    (project / ".gitignore").write_text(".venv/\n")
    _git(project, "init", "-q")
    _git(project, "add", ".gitignore")
    _git(project, "commit", "-q", "-m", "x")
    site = project / ".venv" / "lib" / "site-packages"
    assert _git_commit_of(site / "lrgym" / "baselines" / "code_version.py") is None
