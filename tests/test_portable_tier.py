"""The numerics tier of ``make test`` (``PORTABLE_TESTS`` in the Makefile, run again with NumPy's
and OpenBLAS's SIMD dispatch off) is a hand list: a file gets in by being written into it (README,
"Adding a task family", step 5). Selecting a pytest marker instead would collect the whole suite
(≈ 1 min on the slow VM) for the second run, so the list stays; this test guards it: every file
it names exists, and every test file that compares against the slow, obvious references of
``tests/references.py`` is in it (those are numerics against an independent reference by
construction; a new one left out would never run with the dispatch off)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def portable_tests(makefile: str) -> list[str]:
    """The file names of ``PORTABLE_TESTS := ...`` (with its backslash continuations)."""
    match = re.search(r"^PORTABLE_TESTS :=((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    assert match, "no PORTABLE_TESTS := in the Makefile"
    return match.group(1).replace("\\\n", " ").split()


def imports_references(path: Path) -> bool:
    """Does the test module import ``tests/references.py`` (``import references`` / ``from references import``)?"""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import) and any(a.name == "references" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "references":
            return True
    return False


def test_the_numerics_tier_names_existing_files_and_every_reference_comparison():
    listed = portable_tests((ROOT / "Makefile").read_text())
    assert len(listed) == len(set(listed)), "a file twice in PORTABLE_TESTS"
    missing = [f for f in listed if not (ROOT / f).is_file()]
    assert not missing, f"PORTABLE_TESTS names files that do not exist: {missing}"
    users = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("test_*.py") if imports_references(p))
    left_out = [f for f in users if f not in listed]
    assert users and not left_out, f"{left_out} compare against tests/references.py: add them to PORTABLE_TESTS in the Makefile"


def test_the_guard_sees_a_left_out_file_and_a_stale_name():
    text = "A := x\nPORTABLE_TESTS := tests/a.py \\\n\ttests/b.py\nNEXT := y\n"
    assert portable_tests(text) == ["tests/a.py", "tests/b.py"]
    assert imports_references(ROOT / "tests" / "test_rng.py")
    assert not imports_references(Path(__file__))
