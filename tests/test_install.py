"""A regular (non-editable) install puts exactly one top-level name on the path: ``lrgym``.

``pip install --no-deps --target DIR .`` builds the wheel from this checkout (pyproject's
package-dir mapping turns the folders ``baselines/`` and ``leaderboard/`` into
``lrgym.baselines`` / ``lrgym.leaderboard``); then a fresh interpreter started outside the
checkout imports both floors from DIR.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _setuptools_major() -> int:
    from importlib import metadata

    try:
        return int(metadata.version("setuptools").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return 0


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    # a clean copy: pip builds in the source tree, and a stale build/ there could hide a moved file
    src = tmp_path_factory.mktemp("src") / "lrgym"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info",
                                                             "__pycache__", ".pytest_cache", ".benchmarks", "runs",
                                                             ".lrgym-cache", "*.sqlite*"))
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target", str(out), str(src)]
    if _setuptools_major() >= 77:  # pyproject's build requirement is here already: no isolated build env
        cmd.insert(cmd.index("--no-deps"), "--no-build-isolation")
    subprocess.run(cmd, check=True, cwd=tmp_path_factory.getbasetemp(), timeout=300)
    return out


def _run_installed(code: str, target: Path, cwd: Path) -> list[str]:
    """The output lines of ``code`` run by a fresh interpreter that imports from ``target`` (and
    from outside the checkout)."""
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.split("\n")


def test_only_lrgym_is_installed(target):
    names = sorted(p.name for p in target.iterdir() if not p.name.endswith((".dist-info", ".egg-info")) and p.name != "bin")
    assert names == ["lrgym"], names  # (bin/ holds the console script `lrgym`)
    assert [p.name for p in (target / "bin").iterdir()] == ["lrgym"]
    top_level = next(target.glob("lrgym-*.dist-info"))
    record = (top_level / "RECORD").read_text().splitlines()
    assert not [r for r in record if r.startswith(("baselines/", "leaderboard/"))]
    # both floors and their data files are inside lrgym/
    assert (target / "lrgym" / "baselines" / "tuned.json").is_file()
    assert (target / "lrgym" / "leaderboard" / "cli.py").is_file()
    assert not (target / "lrgym" / "baselines" / "report.py").exists()  # moved to lrgym.leaderboard.val_table


def test_installed_floors_import_from_the_install(target, tmp_path):
    code = (
        "import importlib.util, lrgym, lrgym.baselines, lrgym.leaderboard, lrgym.leaderboard.entry\n"
        "from lrgym.baselines.registry import BASELINES\n"
        "assert 'fixed' in BASELINES\n"
        "print(lrgym.__file__); print(lrgym.baselines.__file__); print(lrgym.leaderboard.__file__)\n"
        "print(importlib.util.find_spec('baselines')); print(importlib.util.find_spec('leaderboard'))\n"
    )
    lines = _run_installed(code, target, tmp_path)
    for line in lines[:3]:
        assert Path(line).resolve().is_relative_to(target.resolve()), line
    assert lines[3:5] == ["None", "None"]  # no top-level baselines / leaderboard anywhere on the path


def test_the_editable_install_maps_the_floors_without_top_level_names(tmp_path):
    """This checkout's own (editable) install: lrgym.baselines is the folder baselines/, and
    outside the checkout no top-level baselines / leaderboard can be imported."""
    code = (
        "import importlib.util, lrgym.baselines, lrgym.leaderboard\n"
        "print(lrgym.baselines.__file__); print(lrgym.leaderboard.__file__)\n"
        "print(importlib.util.find_spec('baselines')); print(importlib.util.find_spec('leaderboard'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert Path(lines[0]).resolve() == (ROOT / "baselines" / "__init__.py").resolve()
    assert Path(lines[1]).resolve() == (ROOT / "leaderboard" / "__init__.py").resolve()
    assert lines[2:4] == ["None", "None"]


def test_every_source_package_is_installed(target):
    """A sub-package missing from pyproject's explicit ``packages`` list (e.g. ``lrgym.vector``)
    would work in the editable install and be absent from a regular one."""
    expected = set()
    for folder, installed_as in (("lrgym", "lrgym"), ("baselines", "lrgym/baselines"), ("leaderboard", "lrgym/leaderboard")):
        for init in (ROOT / folder).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                expected.add((Path(installed_as) / init.parent.relative_to(ROOT / folder)).as_posix())
    installed = {p.parent.relative_to(target).as_posix() for p in (target / "lrgym").rglob("__init__.py")}
    assert "lrgym/vector" in expected and expected <= installed, sorted(expected - installed)


def test_every_shipped_data_file_is_installed(target):
    """The weights, tuned values, references, suites and example submissions are in the wheel,
    byte for byte: every non-Python file of the three source folders (the data folders are listed
    as packages in pyproject, as setuptools asks, so no future setuptools drops them)."""
    missing, changed = [], []
    for folder, installed_as in (("lrgym", "lrgym"), ("baselines", "lrgym/baselines"), ("leaderboard", "lrgym/leaderboard")):
        for path in (ROOT / folder).rglob("*"):
            rel = path.relative_to(ROOT / folder)
            if not path.is_file() or "__pycache__" in rel.parts:
                continue
            if path.suffix == ".py" and (path.parent / "__init__.py").exists():
                continue  # a package's modules: test_every_source_package_is_installed
            installed = target / installed_as / rel
            if not installed.is_file():
                missing.append(f"{folder}/{rel}")
            elif installed.read_bytes() != path.read_bytes():
                changed.append(f"{folder}/{rel}")
    assert not missing and not changed, (missing, changed)
    assert (target / "lrgym" / "baselines" / "weights" / "controller_mixed.npz").is_file()  # (the list was not empty)


def test_an_installed_copy_trusts_its_shipped_references(target, tmp_path):
    """The grader uses shipped references only when their hashes match ``SHA256SUMS`` beside
    them (:mod:`lrgym.leaderboard.trust`): without that file in the wheel, an installed lrgym
    would recompute every suite's references (minutes each) instead of loading them."""
    code = (
        "from lrgym.leaderboard.references import SHIPPED_DIR\n"
        "from lrgym.leaderboard.trust import is_trusted\n"
        "files = sorted(SHIPPED_DIR.glob('*.json'))\n"
        "print(SHIPPED_DIR); print(len(files)); print(all(is_trusted(p) for p in files))\n"
    )
    shipped, n_files, trusted = _run_installed(code, target, tmp_path)[:3]
    assert Path(shipped).resolve().is_relative_to(target.resolve()), shipped
    assert int(n_files) == len(list((ROOT / "leaderboard" / "references").glob("*.json"))) > 0
    assert trusted == "True"
