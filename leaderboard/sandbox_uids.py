"""Which uids a root sandbox's policy runs as: a block of its own, that no other sandbox of this
machine holds while it runs.

Root's sandbox drops each job of a policy to an unprivileged uid of its own
(:func:`lrgym.leaderboard.job_isolation.next_job_uid`), and the kernel keeps some of its state per
uid, not per process: ``RLIMIT_NPROC`` counts every process of the uid (a sandbox's ``processes``
bound, :func:`lrgym.leaderboard.sandbox_privileges.bound_processes`), and so do the quotas of POSIX
message queues and pipe buffers. Two sandboxes that had the same uid at once were coupled: one
hostile submission's fork bomb took the other's process bound (its jobs failed to fork), and each
could read the other's use from its own failures. Until 2026-12-07 every sandbox drew its uid at
random from 50,000 (``random.randrange``) and each of its jobs another, so two sandboxes running
side by side shared a uid about once in 50,000 pairs of draws, each job of a sandbox a draw more.

Now the uid range (:data:`UID_BASE`, :data:`UID_SPAN`) is cut into :data:`BLOCKS` blocks of
:data:`BLOCK_SIZE`, and each sandbox claims one (:func:`claim_block`) before its host starts: its
first job runs as the block's first uid, every later job as another of the block
(:func:`~lrgym.leaderboard.job_isolation.next_job_uid`; after ``BLOCK_SIZE`` jobs in one sandbox,
a uid of one of its own ended jobs again, whose processes all died with that job's PID namespace).

A claim is an exclusive ``flock`` on the block's file in :data:`CLAIMS` (a folder of root's, mode
0700, on ``/run``: one per machine, or per container where containers have their own ``/run``),
held by an open file of the grader's (:class:`UidBlock`) and released by :meth:`UidBlock.release`
after the sandbox's processes ended (:meth:`lrgym.leaderboard.sandbox.PolicyProcess.close`). The
kernel releases the lock when that file's last descriptor closes, so the claim of a grader killed
with ``kill -9`` ends with it: there is no stale claim to judge (its sandbox is killed with it by
``PR_SET_PDEATHSIG``; the block may be claimed again while that sandbox's last processes exit).
The descriptor is close-on-exec: no sandbox inherits it.
"""

from __future__ import annotations

import fcntl
import os
import random
import stat

__all__ = ["BLOCKS", "BLOCK_SIZE", "CLAIMS", "UID_BASE", "UID_SPAN", "UidBlock", "claim_block"]

#: uids of sandboxes started as root: one block of its own each (resource limits are per uid)
UID_BASE, UID_SPAN = 1_900_000, 50_000
#: uids per sandbox (its first job's and the later jobs'), and how many sandboxes may run at once
BLOCK_SIZE = 200
BLOCKS = UID_SPAN // BLOCK_SIZE
#: the folder of the claims' lock files, ``<block number>.lock`` (``/tmp``'s on a machine without ``/run``)
CLAIMS = "/run/lrgym-sandbox-uids" if os.path.isdir("/run") else "/tmp/lrgym-sandbox-uids"


class UidBlock:
    """A claimed block: uids ``first`` to ``first + size - 1``, held until :meth:`release`."""

    def __init__(self, first: int, size: int, fd: int):
        self.first, self.size, self._fd = first, size, fd

    def release(self) -> None:
        """End the claim (idempotent): another sandbox may take the block from now on."""
        if self._fd is not None:
            os.close(self._fd)  # the flock goes with the file's last descriptor
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _claims_folder(folder: str) -> str:
    """``folder``, made (mode 0700) if missing; ``OSError`` naming it unless it is a real folder
    of root's that no one else may write to (anyone who could would make any block look taken)."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
        raise OSError(f"{folder} is not a folder of root's that only root may write to "
                      f"({'a folder' if stat.S_ISDIR(st.st_mode) else 'not a folder'} of uid {st.st_uid}, "
                      f"mode {stat.S_IMODE(st.st_mode):o}); valid: remove it (it is made again, 0700)")
    return folder


def claim_block(folder: str = CLAIMS) -> UidBlock:
    """Claim a block no other live claim holds (tried in random order, so that sandboxes started
    together rarely try the same file first). ``OSError`` naming the folder when it is unusable
    or every block is held."""
    folder = _claims_folder(folder)
    order = list(range(BLOCKS))
    random.shuffle(order)
    for block in order:
        fd = os.open(os.path.join(folder, f"{block}.lock"),
                     os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        return UidBlock(UID_BASE + block * BLOCK_SIZE, BLOCK_SIZE, fd)
    raise OSError(f"all {BLOCKS} uid blocks of {folder} are held: {BLOCKS} root sandboxes run on this machine "
                  "already; valid: fewer grader workers (or policies per worker) at once")
