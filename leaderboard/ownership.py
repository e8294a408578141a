"""Whether a file or folder is the grader's own: the one test behind every "is this mine?".

The grader trusts some files because it wrote them: the side files of a store that a run could
not write yet (``<db>.pending/``), a kept result it takes back (``import-kept``), the references
of a private suite (``KEY.references/``). On a machine with other local users, "it is there, so
I wrote it" is not enough: another user may have made the folder first, or planted a file in a
folder everyone can write, or put a symbolic link where the grader expects a folder. So a path
counts as the grader's own only if

- it is what it should be (a real folder, or a regular file), looked at without following a
  link (``os.lstat``): a link is never the grader's own, whoever made it;
- it belongs to the grader's user (the effective uid);
- none of the permission bits ``closed`` is set (``0o022``: no one else may write to it;
  ``0o077``: no one else may even read it).

:func:`own_problem` names the first of these that fails; each caller says what it means for
its file (where to look, what to do).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Literal, NamedTuple

from lrgym.files import kind_of  # (re-exported: one home, on the core floor, for the baselines too)

__all__ = ["NOT_WRITABLE_BY_OTHERS", "PRIVATE", "OwnProblem", "kind_of", "own_problem"]

#: group and others may not write (they may read)
NOT_WRITABLE_BY_OTHERS = 0o022
#: group and others may not read, write or enter
PRIVATE = 0o077


class OwnProblem(NamedTuple):
    """Why a path is not the grader's own: ``what`` failed first, and the path's ``lstat``."""

    what: Literal["kind", "owner", "mode"]
    st: os.stat_result

    def describe(self) -> str:
        """The path as it is, in a few words: ``a folder of uid 1001, mode 777``."""
        return f"{kind_of(self.st.st_mode)} of uid {self.st.st_uid}, mode {stat.S_IMODE(self.st.st_mode):o}"


def own_problem(path: str | os.PathLike, *, folder: bool, closed: int = NOT_WRITABLE_BY_OTHERS) -> OwnProblem | None:
    """``None`` if ``path`` is the grader's own (see the module docs): a real folder
    (``folder=True``) or regular file of the effective uid with none of the bits ``closed``;
    otherwise the first test that fails. ``FileNotFoundError`` if nothing is there."""
    st = os.lstat(Path(path))
    if not (stat.S_ISDIR if folder else stat.S_ISREG)(st.st_mode):
        return OwnProblem("kind", st)
    if st.st_uid != os.geteuid():
        return OwnProblem("owner", st)
    if st.st_mode & closed:
        return OwnProblem("mode", st)
    return None
