"""The fields of ``/proc/self/mountinfo`` as the kernel writes them: a space, tab, newline or
backslash in a mount point, a mount's root or an option is written as a three-digit octal
escape (``\\040`` for a space, ``\\134`` for a backslash); :func:`unescape_field` undoes them.

The one decoder of both sides of the sandbox: the grader finds its cgroup hierarchies with it
(``lrgym.leaderboard.sandbox_cgroup``), the policy host the mounts below a folder it binds or
seals (:func:`lrgym.leaderboard.sandbox_root.mount_points`). ``re`` is imported at the first
call, as it was in both places before.
"""

from __future__ import annotations

__all__ = ["unescape_field"]


def unescape_field(field: str) -> str:
    """``field`` (one whitespace-separated field of a mountinfo line) with every ``\\ooo`` escape
    replaced by the character it stands for."""
    import re

    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)
