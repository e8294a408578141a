"""The deep tier's list (tests/deep_tier.py) names tests that exist, and none that an issue asks
CI to run; pytest's own collection marks exactly those tests ``deep``, so ``make test`` leaves
them out and ``make test-deep`` runs them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from deep_tier import CI_KEEPS, DEEP

ROOT = Path(__file__).resolve().parents[1]


def defined_tests(path: Path) -> set[str]:
    """The module-level test functions a test file defines, by an AST read (nothing imported)."""
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test_")}


def test_every_name_is_a_test_of_its_file_once_and_none_is_one_ci_keeps():
    assert len(DEEP) == len(set(DEEP)), "a test twice in DEEP"
    for name in DEEP + CI_KEEPS:
        file, _, function = name.partition("::")
        path = ROOT / file
        assert path.is_file(), f"{name}: no file {file}"
        assert function in defined_tests(path), f"{name}: {file} defines no test {function}"
    assert not set(DEEP) & set(CI_KEEPS), f"tests an issue asks CI to run are deep: {sorted(set(DEEP) & set(CI_KEEPS))}"


def _collected(*args: str) -> set[str]:
    """The test functions (``file::function``, parametrizations folded) that pytest selects with ``args``."""
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return {line.split("[", 1)[0] for line in out.stdout.splitlines() if "::" in line}


def test_the_default_run_leaves_the_deep_tests_out_and_minus_m_deep_selects_just_them():
    """Collected, not run: the files of two deep tests, one with kept neighbours (the Ray cluster
    module) and one of a module whose every test is deep or not."""
    files = ["tests/leaderboard/test_ray_cluster.py", "tests/test_vector_warm_up_benchmark.py"]
    deep_here = {n for n in DEEP if n.split("::")[0] in files}
    default = _collected(*files)
    deep = _collected("-m", "deep", *files)
    assert deep == deep_here
    assert default and not default & deep_here
    assert "tests/leaderboard/test_ray_cluster.py::test_quick_suite_gives_the_local_results_to_the_bit" in default
