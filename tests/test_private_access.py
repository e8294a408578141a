"""No module reaches into another object's private attributes across the env's boundaries: the
vector env reads its settings from one EnvSettings and its sub-envs through their public API,
and nothing outside the env writes ``env._tasks`` (``env.task_cache`` is the public way)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the modules checked: the vector env, and everything that shared built tasks through env._tasks
CHECKED = sorted(
    [*(ROOT / "lrgym" / "vector").glob("*.py"), ROOT / "lrgym" / "sb3.py", ROOT / "baselines" / "tune.py",
     ROOT / "leaderboard" / "selection.py", ROOT / "leaderboard" / "worker.py", ROOT / "baselines" / "reference.py"]
)


def foreign_private_attributes(source: str, name: str = "<source>") -> list[str]:
    """``x._name`` where ``x`` is not ``self`` / ``cls`` (dunder names and the standard library's
    ``os._exit`` aside), as ``name:line: x._name``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls", "os", "sys"):  # os._exit: public
                continue
            out.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    return out


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_attribute_of_another_object(path):
    assert foreign_private_attributes(path.read_text(), str(path.relative_to(ROOT))) == []


def test_the_check_finds_what_it_looks_for():
    source = "def f(env, vec):\n    env._tasks = {}\n    self._ok = vec.__class__\n    return vec._sub_envs[0]._recorder\n"
    found = sorted(f.split(": ", 1)[1] for f in foreign_private_attributes(source))
    assert found == ["env._tasks", "vec._sub_envs", "vec._sub_envs[0]._recorder"]
