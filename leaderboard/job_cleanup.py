"""Ending a job: every process of it killed and reaped, and (without namespaces) the files it
left removed, before the next job starts (:meth:`lrgym.leaderboard.episode_host.EpisodeHost.end_episodes`).

* :func:`kill_all`: in the namespaces every process of the sandbox's PID namespace but its PID 1,
  the host and the job starter (the policy's daemons in their own sessions included, a process
  whose main thread exited alone too); without namespaces the job's process group;
* :func:`clean_files`: without namespaces only, the scratch folder emptied but for the
  submission's files, written again (in the namespaces each job had a ``/tmp``, ``/dev/shm``
  and cache folder of its own, and the host never walks a folder a policy could write to).
"""

from __future__ import annotations

import os

from lrgym.leaderboard import sandbox_root
from lrgym.leaderboard.failures import PolicyError
from lrgym.leaderboard.policy_loading import write_files

__all__ = ["clean_files", "kill_all"]


def kill_all(job: int | None, namespaces: bool, keep: tuple[int, ...] = ()) -> None:
    """Kill the job process, its episodes and everything they started (in the namespaces every
    process of the sandbox but PID 1, this one and ``keep``: the job starter); reap this
    process's children."""
    import signal
    import time

    if namespaces:
        for _ in range(1000):
            others = _other_processes(keep)
            if not others:
                break
            for pid in others:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            _reap()
            time.sleep(0.001)
        else:  # never seen: SIGKILL cannot be refused; the request fails (the entry with it) rather than
            raise PolicyError("the policy's processes could not all be killed at the end of a job")  # run on beside them
    elif job is not None:  # no PID namespace: only the job's group (its waiter ends when the job has)
        for target in (-job, job):
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                pass
    _reap()


def _other_processes(keep: tuple[int, ...]) -> list[int]:
    """The live processes of this PID namespace but PID 1, this one and ``keep`` (from ``/proc``).
    A process is live while any of its threads is: one whose main thread exited alone reads as a
    zombie in ``/proc/<pid>/stat`` while its other threads run on (a review, 2026-12-05: a job's
    PID 1 did so and outlived its job, passing the next job a number through the sandbox's task
    limit); a process all of whose threads are zombies is dead, its parent reaps it."""
    skip = {1, os.getpid(), *keep}
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in skip:
            continue
        try:
            tasks = os.listdir(f"/proc/{name}/task")
        except OSError:
            continue  # gone meanwhile
        for task in tasks:
            try:
                with open(f"/proc/{name}/task/{task}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in (b"Z", b"X"):
                found.append(int(name))
                break
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def clean_files(files: dict[str, bytes]) -> None:
    """Without namespaces: empty the policy's scratch folder but for the submission's files,
    written again as they came; its folders removed however deep or closed, following no link
    (:func:`~lrgym.leaderboard.sandbox_folders.remove_folder`: a chain of 1,500 folders made the
    recursive walk here raise RecursionError, and the job failed as the grader's error). (In the
    namespaces the host cleans nothing: each job had fresh mounts of its own, and the host never
    walks a folder a policy could have written to.)"""
    from lrgym.leaderboard.sandbox_folders import remove_folder

    for name in os.listdir(sandbox_root.ROOT):
        path = os.path.join(sandbox_root.ROOT, name)
        remove_folder(path)  # a folder (no link is followed); a file or a link is unlinked below
        try:
            os.unlink(path)
        except OSError:
            pass
    write_files(files, os.path.join(sandbox_root.ROOT, "submission"))
    os.makedirs(os.path.join(sandbox_root.ROOT, "work"), mode=0o700, exist_ok=True)
    os.chdir(os.path.join(sandbox_root.ROOT, "work"))  # the folder removed above was this process's working directory
