"""docs/ARCHITECTURE.md's layout is the one list of the modules and what each owns (README,
"Development": "Every module, with what it owns, is in the layout"). A contributor adding a task
family, a baseline or any module is told to add it there; nothing checked it, and two modules
were missing (``baselines/shell_words.py``, ``leaderboard/cli.py``; found 2026-12-06)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the folders a new module lands in (a family, a baseline, a leaderboard part): each module there
#: is named in the layout by its own name; a module of a sub-package below them (``lrgym/tasks/recsys/``,
#: ``leaderboard/transfer/``) may instead be covered by its package's entry
NAMED_ONE_BY_ONE = ("lrgym", "lrgym/tasks", "baselines", "leaderboard")


def layout() -> str:
    """The layout block: the first fenced block of docs/ARCHITECTURE.md."""
    return (ROOT / "docs" / "ARCHITECTURE.md").read_text().split("```", 2)[1]


def named(name: str, text: str) -> bool:
    """``name`` (or ``name.py``) as a word of ``text``: not part of a longer name."""
    return re.search(rf"(?<![\w.]){re.escape(name)}(\.py)?(?!\w)", text) is not None


def unnamed_modules(text: str) -> list[str]:
    """The source modules of the three floors that the layout ``text`` does not name."""
    missing = []
    for floor in ("lrgym", "baselines", "leaderboard"):
        for path in sorted((ROOT / floor).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if path.name == "__init__.py" or "submissions" in rel.parts:  # (an example submission: data)
                continue
            folder = rel.parent.as_posix()
            if named(path.stem, text) or (folder not in NAMED_ONE_BY_ONE and named(rel.parent.name, text)):
                continue
            missing.append(rel.as_posix())
    return missing


def test_every_module_is_in_the_architecture_layout():
    missing = unnamed_modules(layout())
    assert not missing, f"modules not in the layout of docs/ARCHITECTURE.md (add each with what it owns): {missing}"


def test_the_check_sees_a_module_left_out():
    """The check is not vacuous: the layout without quadratic.py's name misses that module."""
    text = layout()
    assert named("quadratic", text)
    assert "lrgym/tasks/quadratic.py" in unnamed_modules(re.sub(r"(?<![\w.])quadratic(?!\w)", "QUAD", text))
