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

The grader's own files (:func:`grader_files`: its results store, a private suite's key file and
its references folder), named by the grader for its workers in :data:`GRADER_FILES_ENV`, are
covered in every sandbox where they lie inside a bound folder
(:func:`lrgym.leaderboard.host_start.masked_dirs`), wherever the grader works from: a
``--db`` or ``--private`` in the venv or under ``/etc`` was readable by the user-namespace
sandbox's policies (whose uid outside is the grader's) until 2026-12-06; a store those sandboxes
could cover only file by file is refused (:mod:`lrgym.leaderboard.grader_places`). They change no
import path.
"""

from __future__ import annotations

import os
import sys

__all__ = ["GRADER_FILES_ENV", "HIDDEN_DIRS_ENV", "child_path_env", "grader_files", "hidden_dirs", "import_paths"]

#: directories (``os.pathsep``-separated) that a grader's children never import from nor bind
HIDDEN_DIRS_ENV = "LRGYM_HIDDEN_DIRS"
#: the grader's own files and folders (``os.pathsep``-separated: its store, a private suite's key
#: and references) that every sandbox covers where they lie inside a folder bound into it
GRADER_FILES_ENV = "LRGYM_GRADER_FILES"


def hidden_dirs(extra: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The real paths of this process's working directory, the directories of
    ``$LRGYM_HIDDEN_DIRS`` and ``extra``."""
    named = os.environ.get(HIDDEN_DIRS_ENV, "").split(os.pathsep) + list(extra)
    return sorted({os.path.realpath(d) for d in [os.getcwd(), *named] if d})


def grader_files(extra: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The real paths of the files and folders named in ``$LRGYM_GRADER_FILES`` and ``extra``:
    the grader's own, which no policy may read (each sandbox covers them, and the folder holding
    each: :func:`lrgym.leaderboard.host_start.masked_dirs`)."""
    named = os.environ.get(GRADER_FILES_ENV, "").split(os.pathsep) + [os.fspath(p) for p in extra]
    return sorted({os.path.realpath(p) for p in named if p})


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


def child_path_env(extra_hidden: tuple[str, ...] | list[str] = (),
                   extra_files: tuple[str, ...] | list[str] = ()) -> dict[str, str]:
    """The environment entries that make a child import like this process, minus the hidden
    directories: ``PYTHONPATH``, ``$LRGYM_HIDDEN_DIRS`` (so the child hides them too, whatever
    its own working directory), ``$LRGYM_GRADER_FILES`` (this process's and ``extra_files``:
    its sandboxes cover them) and ``PYTHONSAFEPATH=1`` (Python ≥ 3.11 then puts neither the
    working directory nor the script's folder first on the child's path)."""
    hidden = hidden_dirs(extra_hidden)
    return {"PYTHONPATH": os.pathsep.join(import_paths(hidden)), HIDDEN_DIRS_ENV: os.pathsep.join(hidden),
            GRADER_FILES_ENV: os.pathsep.join(grader_files(extra_files)), "PYTHONSAFEPATH": "1"}
