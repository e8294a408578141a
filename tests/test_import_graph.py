"""The stack, read from the source: ``lrgym`` ← ``lrgym.baselines`` ← ``lrgym.leaderboard``.

Every ``import`` / ``from ... import`` statement of the repository's Python files (module level
and inside functions, relative imports resolved) is parsed with :mod:`ast`; nothing is imported,
so the test also sees imports that only run on some code path. Rules:

* the core (``lrgym/``) never imports ``lrgym.baselines`` or ``lrgym.leaderboard``;
* the baselines (``baselines/`` = ``lrgym.baselines``) never import ``lrgym.leaderboard``;
* nothing imports a top-level ``baselines`` or ``leaderboard`` (they are installed only as
  ``lrgym.baselines`` / ``lrgym.leaderboard``; OpenAI Baselines owns the other name).

A module can also be imported by its name in a string (``importlib.import_module("lrgym.
leaderboard.scoring")``, an entry point ``"lrgym.baselines.x:Y"``): every string constant that is
a dotted module name (with an optional ``:attribute``) counts as an import of that module, so
such an import breaks the same rules. The one known exception, :data:`STRING_KNOWN`, reads a
floor's files without importing them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: source folder → the package name it installs as (pyproject's package-dir mapping)
FLOORS = {"lrgym": "lrgym", "baselines": "lrgym.baselines", "leaderboard": "lrgym.leaderboard"}
#: folders whose files must not import the top-level names either
OTHER_FOLDERS = ("tests", "benchmarks")


def module_name(path: Path, root: Path = ROOT) -> str:
    """The dotted name a source file installs as (``baselines/tune.py`` → ``lrgym.baselines.tune``)."""
    rel = path.relative_to(root)
    parts = list(rel.with_suffix("").parts)
    if parts[0] in FLOORS:
        parts = FLOORS[parts[0]].split(".") + parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import statement in ``source``.

    ``from a.b import c`` yields both ``a.b`` and ``a.b.c`` (c may be a submodule); relative
    imports are resolved against ``module`` (a package's own name when ``is_package``).
    """
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            out.append((node.lineno, prefix))
            out += [(node.lineno, f"{prefix}.{alias.name}") for alias in node.names if alias.name != "*"]
    return out


#: a string that names a module (``a.b.c``, optionally ``:attr``), as importlib and entry points take it
_MODULE_STRING = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+(:[A-Za-z_][A-Za-z0-9_.]*)?")


def string_modules(source: str) -> list[tuple[int, str]]:
    """(line, module) of every string constant in ``source`` that is a dotted module name of the
    ``lrgym`` package (``"lrgym.leaderboard.scoring"``, ``"lrgym.baselines.tune:main"``)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_STRING.fullmatch(node.value):
            module = node.value.partition(":")[0]
            if within(module, "lrgym"):
                out.append((node.lineno, module))
    return out


#: (file, module) strings that name a higher floor without importing it: node_check hashes the
#: files of every floor a cluster node runs (``find_spec``: floor 2 reads floor 3's files only)
STRING_KNOWN = {("baselines/node_check.py", "lrgym.leaderboard")}


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(path: Path, root: Path = ROOT) -> list[str]:
    """The stack rules broken by one source file, as readable strings."""
    module = module_name(path, root)
    floor = path.relative_to(root).parts[0]
    forbidden = ["baselines", "leaderboard"]  # top-level names: never
    if floor == "lrgym":
        forbidden += ["lrgym.baselines", "lrgym.leaderboard"]
    elif floor == "baselines":
        forbidden += ["lrgym.leaderboard"]
    found = []
    source = path.read_text()
    rel = path.relative_to(root).as_posix()
    for line, name in imported_modules(source, module, path.name == "__init__.py"):
        for bad in forbidden:
            if within(name, bad):
                found.append(f"{rel}:{line} ({module}) imports {name}")
    for line, name in string_modules(source):
        for bad in forbidden:
            if within(name, bad) and (rel, name) not in STRING_KNOWN:
                found.append(f"{rel}:{line} ({module}) names {name} in a string")
    return sorted(set(found))


def source_files() -> list[Path]:
    files = []
    for folder in (*FLOORS, *OTHER_FOLDERS):
        files += sorted((ROOT / folder).rglob("*.py"))
    return [f for f in files if ".venv" not in f.parts]


def test_the_parser_sees_every_kind_of_import():
    """The checker itself, on hand-written sources with known answers."""
    src = (
        "import os, lrgym.env\n"
        "from lrgym.leaderboard import scoring\n"
        "def f():\n"
        "    from ..leaderboard.store import Store\n"
        "    import baselines.common\n"
        "from . import families\n"
    )
    got = imported_modules(src, "lrgym.baselines.tune", is_package=False)
    names = {n for _, n in got}
    assert {"os", "lrgym.env", "lrgym.leaderboard", "lrgym.leaderboard.scoring", "lrgym.leaderboard.store",
            "lrgym.leaderboard.store.Store", "baselines.common", "lrgym.baselines",
            "lrgym.baselines.families"} <= names
    # a package's relative import resolves against the package itself
    assert (1, "lrgym.tasks.base") in imported_modules("from .base import Task\n", "lrgym.tasks", is_package=True)
    assert module_name(ROOT / "baselines" / "tune.py") == "lrgym.baselines.tune"
    assert module_name(ROOT / "leaderboard" / "__init__.py") == "lrgym.leaderboard"
    assert not within("lrgym.leaderboardish", "lrgym.leaderboard")


def test_the_checker_flags_planted_upward_imports(tmp_path):
    """Upward imports planted in fake modules of each floor are reported with their lines."""
    for folder in ("baselines", "lrgym", "tests"):
        (tmp_path / folder).mkdir()
    bad = tmp_path / "baselines" / "bad.py"
    bad.write_text("import numpy\nimport lrgym.env\n\ndef f():\n    from lrgym.leaderboard.scoring import run_score\n")
    core = tmp_path / "lrgym" / "env.py"
    core.write_text("try:\n    from .baselines import registry\nexcept ImportError:\n    pass\n")
    test = tmp_path / "tests" / "test_x.py"
    test.write_text("from leaderboard.cli import app\nimport lrgym.leaderboard.cli\n")
    assert violations(core, tmp_path) == ["lrgym/env.py:2 (lrgym.env) imports lrgym.baselines",
                                          "lrgym/env.py:2 (lrgym.env) imports lrgym.baselines.registry"]
    assert violations(test, tmp_path) == ["tests/test_x.py:1 (tests.test_x) imports leaderboard.cli",
                                          "tests/test_x.py:1 (tests.test_x) imports leaderboard.cli.app"]
    assert violations(bad, tmp_path) == ["baselines/bad.py:5 (lrgym.baselines.bad) imports lrgym.leaderboard.scoring",
                                         "baselines/bad.py:5 (lrgym.baselines.bad) imports lrgym.leaderboard.scoring.run_score"]


def test_the_checker_flags_modules_imported_by_name(tmp_path):
    """A contributor audit (2026-12-05) planted ``importlib.import_module("lrgym.leaderboard.
    scoring")`` in the core, and the import-statement check passed it."""
    (tmp_path / "lrgym").mkdir()
    core = tmp_path / "lrgym" / "planted.py"
    core.write_text('import importlib\n\nscoring = importlib.import_module("lrgym.leaderboard.scoring")\n'
                    'ENTRY = "lrgym.baselines.tune:main"\nTEXT = "see lrgym.leaderboard for the board"\n')
    assert violations(core, tmp_path) == [
        "lrgym/planted.py:3 (lrgym.planted) names lrgym.leaderboard.scoring in a string",
        "lrgym/planted.py:4 (lrgym.planted) names lrgym.baselines.tune in a string"]


def test_the_known_string_exceptions_are_still_there():
    found = {(f.relative_to(ROOT).as_posix(), name) for f in source_files() for _, name in string_modules(f.read_text())}
    gone = sorted(STRING_KNOWN - found)
    assert not gone, f"known exceptions no longer needed, delete them from STRING_KNOWN: {gone}"


def test_source_files_are_found():
    files = source_files()
    floors = {f.relative_to(ROOT).parts[0] for f in files}
    assert set(FLOORS) <= floors
    assert len(files) > 40


@pytest.mark.parametrize("floor", [*FLOORS, *OTHER_FOLDERS])
def test_imports_point_down_the_stack(floor):
    bad = [v for f in source_files() if f.relative_to(ROOT).parts[0] == floor for v in violations(f)]
    assert not bad, "imports against the stack lrgym <- lrgym.baselines <- lrgym.leaderboard:\n" + "\n".join(bad)


#: what the task layer (``lrgym/tasks/``: families, kernels, batched drivers) may import of the rest
#: of ``lrgym``: itself and the leaf modules its kernels share with the env (the inner optimizers,
#: the random streams, the input files' checks that a ratings file shares with the configs, the
#: quoting of a bad value in an error, which imports only reprlib). Not the env layer above it
#: (``lrgym.env``, ``lrgym.features``, ``lrgym.registry``, ``lrgym.vector``, ...).
TASK_LAYER_MAY_IMPORT = ("lrgym.tasks", "lrgym.optim", "lrgym.rng", "lrgym.files", "lrgym.brief")
#: the one known upward import (delete it here when it goes): ``lrgym.tasks.register_family(...,
#: env_id=...)`` (README) registers the gymnasium id lazily.
TASK_LAYER_KNOWN = {
    ("lrgym/tasks/__init__.py", "lrgym.registry"),
    ("lrgym/tasks/__init__.py", "lrgym.registry.register_id"),
    ("lrgym/tasks/__init__.py", "lrgym.registry.check_id"),  # the id checked before the family is registered
}


def task_layer_imports() -> set[tuple[str, str]]:
    """(file, module) of every import of ``lrgym.*`` outside :data:`TASK_LAYER_MAY_IMPORT` in lrgym/tasks/."""
    found = set()
    for path in sorted((ROOT / "lrgym" / "tasks").rglob("*.py")):
        module = module_name(path)
        for _, name in imported_modules(path.read_text(), module, path.name == "__init__.py"):
            # ("lrgym" alone: the prefix of ``from lrgym import rng``, whose module is checked too)
            if name != "lrgym" and within(name, "lrgym") and not any(within(name, ok) for ok in TASK_LAYER_MAY_IMPORT):
                found.add((str(path.relative_to(ROOT)), name))
    return found


def test_the_task_layer_does_not_import_the_env_layer():
    found = task_layer_imports()
    new = sorted(found - TASK_LAYER_KNOWN)
    assert not new, "lrgym/tasks/ imports the env layer above it:\n" + "\n".join(f"{f} imports {m}" for f, m in new)
    gone = sorted(TASK_LAYER_KNOWN - found)
    assert not gone, f"known exceptions no longer needed, delete them from TASK_LAYER_KNOWN: {gone}"


def test_the_input_files_module_is_a_leaf():
    """``lrgym.files`` (imported by the task layer, the baselines and the leaderboard) imports
    nothing of lrgym, so it sits below every layer."""
    path = ROOT / "lrgym" / "files.py"
    found = [m for _, m in imported_modules(path.read_text(), "lrgym.files", False) if m.startswith("lrgym")]
    assert found == []
