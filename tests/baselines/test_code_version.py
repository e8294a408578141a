"""What a trained file records of the code that made it (lrgym.baselines.code_version)."""

import hashlib

import numpy as np

from lrgym.baselines import node_check
from lrgym.baselines.code_version import code_version, git_commit, made_by


def test_code_version_names_the_code_each_script_and_numpy(tmp_path):
    script = tmp_path / "train_x.py"
    script.write_text("print('a')\n")
    digest = hashlib.sha256(b"print('a')\n").hexdigest()[:16]
    assert code_version(script) == f"code {node_check.code_hash()}, train_x.py {digest}, numpy {np.__version__}"
    before = code_version(script)
    script.write_text("print('b')\n")  # an edit of the script alone changes it
    assert code_version(script) != before
    assert code_version() == f"code {node_check.code_hash()}, numpy {np.__version__}"


def test_made_by_is_the_commit_and_the_code():
    assert made_by() == {"commit": git_commit(), "code": code_version()}
