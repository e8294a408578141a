"""The core install runs every default id: a fresh virtual environment with exactly
``pip install .`` (no extras, no torch) runs 500 episodes of ``LRControl-v1`` over the train
instances, data-set instances included, without an exception (issue #16).

Takes ≈ 1 – 3 min: creating the venv (pip's cache makes the wheels local), then compiling the
Numba kernels once into the fresh install's cache, then the episodes.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: what `pip install .` needs of the repository (a copy, so the build leaves the work tree alone)
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "lrgym", "baselines", "leaderboard")
#: the only distributions the core install may bring (pyproject's dependencies and theirs)
CORE = {
    "lrgym", "numpy", "numba", "llvmlite", "gymnasium", "scipy", "threadpoolctl", "scikit-learn", "joblib",
    "narwhals", "cloudpickle", "farama-notifications", "typing-extensions", "pip", "setuptools",
}


def run(cmd, **kwargs):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kwargs)
    assert out.returncode == 0, f"{cmd} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.mark.timeout(1200)
def test_core_install_runs_500_episodes_of_the_flagship_id(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    # --no-compile: pip byte-compiles none of the ≈ 4,200 installed modules (SciPy's, scikit-learn's,
    # Numba's, ...), most of which the episodes never import (those they do import compile as they
    # load); measured here: pip took 20 CPU-s instead of 33 (one run each, 2026-12-07)
    run([python, "-m", "pip", "install", "--quiet", "--no-compile", str(src)])

    listed = json.loads(run([python, "-m", "pip", "list", "--format=json"]))
    installed = {d["name"].lower().replace("_", "-") for d in listed}
    assert installed <= CORE, f"the core install brought more than the core: {sorted(installed - CORE)}"
    assert "torch" not in installed and "scikit-learn" in installed

    work = tmp_path / "run"  # not the repository: `import lrgym` must find the installed copy
    work.mkdir()
    script = shutil.copy2(REPO / "tests" / "core_install_episodes.py", work / "episodes.py")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    result = json.loads(run([python, str(script), "500"], cwd=work, env=env).splitlines()[-1])

    assert result["lrgym_file"].startswith(str(venv))
    assert result["episodes"] == 500 and result["steps"] >= 500
    counts = result["counts"]
    assert sum(counts.values()) == 500
    for family in ("linreg", "quadratic", "mlp", "recsys", "linreg/diabetes", "mlp/digits", "mlp/breast_cancer"):
        assert counts.get(family, 0) >= 3, (family, counts)
    # the train set's data-set share (README: 1 in 20 of linreg, 1 in 10 of mlp): ≈ 3.75 %
    assert 300 <= result["data_set_instances_in_train"] <= 450
