"""Where the grader's child processes import from: ``sys.path`` without the working directory.

A grader worker (:mod:`lrgym.leaderboard.worker`) imports what the grader imports, and a policy
process (:mod:`lrgym.leaderboard.policy_host`) sees the directories it imports from, bound
read-only into its private root. Both are given :func:`import_paths`: this process's
``sys.path`` directories **except the working directory** and the directories named in
``$LRGYM_HIDDEN_DIRS`` (and any directory holding one of them).

Why: the working directory is where a grader keeps its store (``./lrgym_leaderboard.sqlite``),
``runs/`` and exports, and where a user may run ``lrgym leaderboard submit policy.py:P`` from the
submission's own folder. With it on the path, a ``json.py`` beside the policy would run in the
grader's worker (as the grader's user, outside the sandbox), and the folder would be visible
inside every sandbox. ``python -m`` and Ray (which gives its workers the driver's working
directory) put it there, so the grader removes it here and passes it on as hidden
(:data:`HIDDEN_DIRS_ENV`), and its children start with ``PYTHONSAFEPATH=1`` and another
working directory.

A ``package.module:ClassName`` submission must therefore be importable from the Python
installation (site-packages, ``PYTHONPATH``), not from the working directory alone.
"""

from __future__ import annotations

import os
import sys

__all__ = ["HIDDEN_DIRS_ENV", "child_path_env", "hidden_dirs", "import_paths"]

#: directories (``os.pathsep``-separated) that a grader's children never import from nor bind
HIDDEN_DIRS_ENV = "LRGYM_HIDDEN_DIRS"


def hidden_dirs(extra: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The real paths of this process's working directory, the directories of
    ``$LRGYM_HIDDEN_DIRS`` and ``extra``."""
    named = os.environ.get(HIDDEN_DIRS_ENV, "").split(os.pathsep) + list(extra)
    return sorted({os.path.realpath(d) for d in [os.getcwd(), *named] if d})


def _shows(path: str, hidden: list[str]) -> bool:
    """True if binding or importing from ``path`` would show a hidden directory: it is one, or
    holds one (``/work`` holds ``/work/main``). A directory inside a hidden one shows only itself."""
    real = os.path.realpath(path).rstrip("/") + "/"
    return any((h.rstrip("/") + "/").startswith(real) for h in hidden)


def import_paths(hidden: list[str] | None = None) -> list[str]:
    """The absolute ``sys.path`` directories of this process that do not show a hidden
    directory (:func:`hidden_dirs`), in ``sys.path`` order."""
    hidden = hidden_dirs() if hidden is None else hidden
    return [p for p in dict.fromkeys(sys.path)
            if p and os.path.isabs(p) and os.path.isdir(p) and not _shows(p, hidden)]


def child_path_env(extra_hidden: tuple[str, ...] | list[str] = ()) -> dict[str, str]:
    """The environment entries that make a child import like this process, minus the hidden
    directories: ``PYTHONPATH``, ``$LRGYM_HIDDEN_DIRS`` (so the child hides them too, whatever
    its own working directory) and ``PYTHONSAFEPATH=1`` (Python ≥ 3.11 then puts neither the
    working directory nor the script's folder first on the child's path)."""
    hidden = hidden_dirs(extra_hidden)
    return {"PYTHONPATH": os.pathsep.join(import_paths(hidden)), HIDDEN_DIRS_ENV: os.pathsep.join(hidden),
            "PYTHONSAFEPATH": "1"}
