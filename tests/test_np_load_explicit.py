"""Every ``np.load`` of lrgym's code says ``allow_pickle=False`` itself, read from the source with
:mod:`ast`: a file lrgym loads (weights, a checkpoint, a submission's model) runs no pickle, and
that must not rest on NumPy's default (``True`` before NumPy 1.16.3)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("lrgym", "baselines", "leaderboard")


def loads_without_allow_pickle_false(source: str) -> list[int]:
    """Lines of the ``np.load(...)`` / ``numpy.load(...)`` calls in ``source`` without the keyword
    ``allow_pickle=False``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load"
                and isinstance(node.func.value, ast.Name) and node.func.value.id in ("np", "numpy")):
            if not any(k.arg == "allow_pickle" and isinstance(k.value, ast.Constant) and k.value.value is False
                       for k in node.keywords):
                lines.append(node.lineno)
    return lines


def test_the_check_finds_what_it_looks_for():
    assert loads_without_allow_pickle_false("import numpy as np\nnp.load(p)\nnp.load(p, allow_pickle=True)\n"
                                            "numpy.load(p, allow_pickle=False)\nx.load(p)\n") == [2, 3]


def test_every_np_load_refuses_pickles_explicitly():
    files = [path for folder in FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))]
    assert len(files) > 50
    found = [f"{path.relative_to(ROOT)}:{line}" for path in files
             for line in loads_without_allow_pickle_false(path.read_text())]
    assert found == []
