"""The fields of ``/proc/self/mountinfo`` as the kernel writes them: a space, tab, newline or
backslash in a mount point, a mount's root or an option is written as a three-digit octal
escape (``\\040`` for a space, ``\\134`` for a backslash); :func:`unescape_field` undoes them.

Fields are separated by single spaces; the kernel escapes no other whitespace (``\v``, ``\f``,
``\r``, U+00A0 stay as they are in a name), so a line is split at single spaces only
(:func:`split_line`; ``str.split()`` cut such a name, and a mount below it went unseen), and
read whatever the bytes of its names (:func:`read_lines`).

The one reader of both sides of the sandbox: the grader finds its cgroup hierarchies with it
(``lrgym.leaderboard.sandbox_cgroup``), the policy host the mounts below a folder it binds or
seals (:func:`lrgym.leaderboard.sandbox_root.mount_points`). ``re`` is imported at the first
call, as it was in both places before.
"""

from __future__ import annotations

__all__ = ["read_lines", "split_line", "unescape_field"]


def unescape_field(field: str) -> str:
    """``field`` (one whitespace-separated field of a mountinfo line) with every ``\\ooo`` escape
    replaced by the character it stands for."""
    import re

    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def read_lines(path: str = "/proc/self/mountinfo") -> list[str]:
    """The lines of a mountinfo file as text, a name that is no UTF-8 kept byte for byte
    (``surrogateescape``, as ``os.fsdecode`` does)."""
    with open(path, errors="surrogateescape", newline="\n") as f:
        return [line for line in f.read().split("\n") if line]  # (splitlines() also cuts at \v, \f, \x1c, ...)


def split_line(line: str) -> tuple[list[str], list[str]]:
    """(the fields before the `` - `` separator, the fields after it) of one mountinfo line, split
    at single spaces; the fields are still escaped (:func:`unescape_field`)."""
    left, _, right = line.rstrip("\n").partition(" - ")
    return left.split(" "), right.split(" ")
