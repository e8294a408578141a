"""Values written into a command line that lrgym prints for a user to copy (a ``--resume`` hint,
the ``lrgym leaderboard submit`` that grades a run, the ``import-kept`` that stores a kept
result): quoted for a POSIX shell, and never read as an option by the command they are given to.

Quoting alone is not enough: ``shlex.quote("-x.npz")`` is ``-x.npz``, and ``--out -x.npz`` makes
argparse say ``--out: expected one argument``; a path ``-x.py:Mine`` given to ``submit`` is read
by click as an unknown option; an entry named ``--ship`` after ``--name`` is the flag ``--ship``
to argparse. So an option's value that starts with ``-`` is joined to its option
(``--out=-x.npz``: argparse and click both read it so), and a relative path in an argument's place
starts with ``./`` (``./-x.py:Mine``, the same file)::

    shell_option("--out", "-x.npz")    # "--out=-x.npz"
    shell_option("--name", "my run")   # "--name 'my run'"
    shell_path("-x.py:Mine")           # "./-x.py:Mine"
    shell_path("runs/c.py:Mine")       # "runs/c.py:Mine"
"""

from __future__ import annotations

import shlex

__all__ = ["shell_option", "shell_path"]


def shell_option(option: str, value) -> str:
    """``option`` and ``value`` (``str(value)``) as shell words a command reads as that option and
    that value: ``--opt VALUE`` quoted, or ``--opt=VALUE`` where the value starts with ``-``."""
    text = str(value)
    if text.startswith("-"):
        return shlex.quote(f"{option}={text}")
    return f"{option} {shlex.quote(text)}"


def shell_path(path) -> str:
    """A path (or a ``PATH:CLASS`` target) in an argument's place as one shell word that no
    command reads as an option: quoted, with ``./`` before a relative one that starts with ``-``."""
    text = str(path)
    return shlex.quote(f"./{text}" if text.startswith("-") else text)
