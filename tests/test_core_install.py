"""The core install runs every default id: a fresh virtual environment with exactly
``pip install .`` (no extras, no torch) runs 500 episodes of ``LRControl-v1`` over the train
instances, data-set instances included, without an exception (issue #16).

The fresh install loads the kernels instead of compiling them: the suite's own cache entries of
every kernel the episodes can need (made sure of first, in this process, under the warm-up's
lock: :func:`core_install_episodes.warm`) are copied into the install's ``__pycache__``
folders. Numba takes them because each is stamped with the fingerprint of lrgym's own sources,
the same in a checkout and an install (:mod:`lrgym.kernel_cache`), and keyed by Numba's version,
the Python and the CPU; with the suite's Numba and Python the install compiles nothing (asserted:
a stale or unused copy would silently cost the ≈ 130 CPU-s of compiling every kernel here again).
What the install then does not do is compile the kernels itself: the suite compiles the same
sources with the same Numba, and an install whose Numba differs compiles them (the copies are
ignored). Takes ≈ 1 min warm: creating the venv (pip's cache makes the wheels local), then the
episodes; on a cold suite cache the warm-up compiles first what the suite's other tests load.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from core_install_episodes import warm

REPO = Path(__file__).resolve().parents[1]
#: what `pip install .` needs of the repository (a copy, so the build leaves the work tree alone)
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "lrgym", "baselines", "leaderboard")
#: the only distributions the core install may bring (pyproject's dependencies and theirs)
CORE = {
    "lrgym", "numpy", "numba", "llvmlite", "gymnasium", "scipy", "threadpoolctl", "scikit-learn", "joblib",
    "narwhals", "cloudpickle", "farama-notifications", "typing-extensions", "pip", "setuptools",
}


def copy_kernel_cache(site_packages: Path) -> int:
    """Copy Numba's cache files of this checkout's lrgym (its ``__pycache__`` folders) into the
    installed lrgym's, folder for folder; returns how many."""
    copied = 0
    for folder, _, files in os.walk(REPO / "lrgym"):
        if os.path.basename(folder) != "__pycache__":
            continue
        target = site_packages / "lrgym" / Path(folder).relative_to(REPO / "lrgym")
        for name in files:
            if name.endswith((".nbi", ".nbc")):
                target.mkdir(exist_ok=True)
                shutil.copy2(os.path.join(folder, name), target / name)
                copied += 1
    return copied


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

    warm()  # every kernel the episodes can need is in this checkout's cache (compiled or loaded)
    site_packages = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    assert copy_kernel_cache(site_packages) > 0

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
    import numba

    if result["numba"] == numba.__version__:  # (the same Python: the venv is made by sys.executable)
        assert result["compiled"] == [], "the install compiled kernels the suite's cache should hold"
