"""The sandboxed side of grading: the processes that run a submission's code.

Started by :func:`lrgym.leaderboard.sandbox.start` as ``python -m lrgym.leaderboard.policy_host
CMD_FD REPLY_FD`` inside new PID, network and mount namespaces (``unshare``). It holds no env,
no trajectory, no store and no references: it receives copies of observations and of the
whitelisted info (:func:`lrgym.leaderboard.settings.public_info`) and answers with actions.

This module is the entry point and the map: it runs the order of events below (:func:`main`),
and each step's work is in the module named at it.

Order of events (nothing of the submission runs before step 5):

1. PID 1 of the namespace forks and only reaps: when the host exits, PID 1 exits and the kernel
   kills every process left in the namespace (children in their own session included)
   (here: :func:`_init_then_host`);
2. the host reads its configuration (first message): limits, sandbox uid (here: :func:`main`);
3. it builds a private root file system and ``chroot`` s into it: a size-limited tmpfs with
   read-only binds of the system directories, the Python installation and the packages on
   ``sys.path`` only (no store, no references, no caches, no home; the grader's folders inside
   them covered by empty tmpfs), a few devices, a read-only ``/proc`` of its namespace and a
   writable ``/tmp`` (:mod:`lrgym.leaderboard.sandbox_root`); works in ``/tmp/work``; sets
   resource limits (address space, CPU time, open files, file size, core dumps, processes:
   :func:`lrgym.leaderboard.sandbox_privileges.bound_processes`); in the namespaces it keeps the
   privileges that setting up a job needs, non-dumpable, with every other capability out of its
   bounding set and ``PR_SET_NO_NEW_PRIVS``
   (:func:`lrgym.leaderboard.sandbox_privileges.keep_host_privileges`); all of it run by
   :func:`confine`;
4. it writes the submission's files (sent by the grader) to ``/tmp/submission`` (for an SB3 zip
   it imports torch and SB3, trusted code, before anything of the submission runs:
   :func:`lrgym.leaderboard.policy_loading.preload_sb3`);
5. for each job a job process is forked from the *job starter*, a process the host forked before
   it relayed anything of a job (:class:`lrgym.leaderboard.job_starter.JobStarter`: no job
   inherits what the host relayed for an earlier one); the job process, in the namespaces,
   enters PID, mount, network, UTS and IPC namespaces of its own with a fresh ``/proc``,
   ``/tmp`` and ``/dev/shm`` (:func:`lrgym.leaderboard.job_isolation.job_namespaces`) and drops
   every privilege (as root's sandbox to a fresh uid per job, with no groups; in the user
   namespace every capability; ``PR_SET_NO_NEW_PRIVS`` in both:
   :func:`lrgym.leaderboard.job_isolation.enter_job`): only then is the policy imported
   (:mod:`lrgym.leaderboard.policy_loading`), and one process per episode forked from it
   (:mod:`lrgym.leaderboard.job_process`), each with the global random streams of its run
   (seeded with an opaque number from the grader: :mod:`lrgym.leaderboard.global_streams`). The host
   (:class:`lrgym.leaderboard.episode_host.EpisodeHost`) relays ``reset`` / ``act`` until its
   command pipe closes (:func:`serve`), and at each job's end kills what the job left
   (:mod:`lrgym.leaderboard.job_cleanup`).

Messages: the grader sends pickled tuples (grader → policy: the policy cannot harm the grader by
unpickling the grader's data); the host answers with length-prefixed JSON, which the grader
decodes with a size limit and validates. Any exception of the policy becomes a ``{"ok": false,
"reason": ...}`` reply naming where it happened (:mod:`lrgym.leaderboard.host_messages`).

:class:`Host` serves the same requests in its own process: the grader's worker runs the trusted
baselines with it.
"""

from __future__ import annotations

import os
import sys

from lrgym.leaderboard import host_messages, sandbox_root
from lrgym.leaderboard.episode_host import EpisodeHost
from lrgym.leaderboard.failures import PolicyError, describe, traceback_text
from lrgym.leaderboard.host_messages import failure_reply, send_reply
from lrgym.leaderboard.job_isolation import JOB_SETUP, KEEP_FOLDERS, seccomp_problem
from lrgym.leaderboard.policy_loading import build_policy, described, plain_action, write_files
from lrgym.leaderboard.sandbox_privileges import bound_processes, keep_host_privileges, set_limits
from lrgym.leaderboard.sandbox_root import new_root, seal_root

__all__ = ["main"]


# ---- 1. PID 1: reap, and take the namespace down with the host ------------------------------


def _init_then_host(fds: tuple[int, ...]) -> None:
    """Fork when we are PID 1 of a fresh PID namespace: the child goes on as the host, PID 1
    waits for it and exits with its status (128 + signal when it was killed)."""
    if os.getpid() != 1:
        return
    child = os.fork()
    if child == 0:
        return
    for fd in fds:
        os.close(fd)
    status = 1
    while True:
        try:
            pid, st = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover
            continue
        if pid == child:
            status = 128 + os.WTERMSIG(st) if os.WIFSIGNALED(st) else os.WEXITSTATUS(st)
            break
    os._exit(status)  # PID 1 exits: the kernel SIGKILLs everything else in the namespace


# ---- 3. confinement -------------------------------------------------------------------------


def confine(cfg: dict) -> dict:
    """Step 3 of the module docstring; returns what was applied (recorded with the entry)."""
    applied: dict = {"namespaces": bool(cfg.get("namespaces"))}
    applied["processes"] = bound_processes(cfg)
    if cfg.get("namespaces"):
        new_root(cfg["new_root"], cfg["paths"], cfg["links"], int(cfg["tmp_mb"]), cfg.get("masked", []),
                 cfg.get("reshown", []))
        applied["file_system"] = "private root: read-only system and Python, fresh /tmp"
    else:  # documented fallback without namespaces: a folder of the grader's, which measures it
        sandbox_root.ROOT = cfg["scratch"]
    work = os.path.join(sandbox_root.ROOT, "work")
    os.makedirs(work, mode=0o700, exist_ok=True)
    uid = cfg.get("uid") if os.getuid() == 0 and cfg.get("namespaces") and cfg.get("uid") else None
    if cfg.get("namespaces") and cfg.get("numba_cache"):  # the path Numba was given, inside the new root
        os.makedirs(cfg["numba_cache"], mode=0o700, exist_ok=True)
        if uid:
            os.chown(cfg["numba_cache"], uid, uid)
    if uid:
        os.chown(work, uid, uid)
    os.chdir(work)
    os.environ.update(HOME=work, TMPDIR=work)
    set_limits(cfg)
    if cfg.get("namespaces"):
        seal_root()
        # the host keeps what setting up each job needs (a new IPC namespace, a fresh uid, the
        # clean-up of that uid's files); each job process drops it all (enter_job)
        os.umask(0o022)
        JOB_SETUP["uid"], JOB_SETUP["uids"] = uid, {uid} if uid else set()
        JOB_SETUP["tmp_mb"] = int(cfg["tmp_mb"])
        span = cfg.get("uid_range")
        JOB_SETUP["range"] = (int(span[0]), int(span[1])) if uid and span else None
        keep_host_privileges()
    applied["uid"] = uid if uid else os.getuid()
    if uid and JOB_SETUP["range"]:
        applied["job_uid"] = "a fresh uid per job (this is the first job's)"
    if cfg.get("namespaces"):
        applied["job_namespaces"] = "PID, mount, network, UTS and IPC namespaces per job"
        import platform

        from lrgym.leaderboard.seccomp import FILTERED, SUPPORTED_MACHINES

        # (recorded under "kernel_keys", its name in the entries before file locks and file watches were refused too)
        if platform.machine() not in SUPPORTED_MACHINES:
            applied["kernel_keys"] = f"kernel keys, file locks and file watches not filtered on {platform.machine()}"
        else:
            problem = seccomp_problem()
            JOB_SETUP["seccomp"] = problem is None
            applied["kernel_keys"] = (f"{FILTERED} in every job (seccomp)" if problem is None
                                      else f"kernel keys, file locks and file watches not filtered: {problem}")
    return applied


# ---- the requests, served in this process (the sandbox relays them: EpisodeHost) ------------


class Host:
    """Serves one submission. Requests (tuples; one message per step for all the episodes of a
    job, which run in lockstep, each with its own policy instance):

    * ``("load", spec, files)``: write the submission's files, remember its spec;
    * ``("policies", family, n[, stream_seeds])``: build ``n`` new instances for ``family`` (the
      previous job's are dropped: never reused); answers the name and the env options it asks for
      (checked by the grader); ``stream_seeds`` (one per instance) seed the global streams of each
      episode's process in the sandbox (:mod:`lrgym.leaderboard.global_streams`); here (the
      worker's own process, which runs the trusted baselines) they are not used;
    * ``("reset", family, infos, wheres)``: ``reset(info)`` of instance i with ``infos[i]``;
    * ``("act", family, items)``: ``act(obs, info)`` of instance i for each ``(i, obs, info)``;
      answers the actions as JSON (:func:`plain_action`);
    * ``("end",)``: the job's episodes are over (in the sandbox its processes are ended then).

    This class runs the instances in its own process: the trusted baselines, in the worker. A
    submission runs in :class:`EpisodeHost`, one process per episode.
    """

    def __init__(self):
        self.spec: dict | None = None
        self.loaded: dict = {}
        self.policies: dict[str, list] = {}
        self.steps: dict[str, list[int]] = {}
        self.wheres: dict[str, list[str]] = {}

    def handle(self, msg: tuple) -> dict:
        op = msg[0]
        if op == "act":
            _, family, items = msg
            return {"ok": True, "actions": [self._act(family, i, obs, info) for i, obs, info in items]}
        if op == "reset":
            _, family, infos, wheres = msg
            self.steps[family] = [0] * len(infos)
            self.wheres[family] = list(wheres)
            for i, info in enumerate(infos):
                try:
                    self.policies[family][i].reset(info)
                except BaseException as exc:  # noqa: BLE001
                    raise PolicyError(f"policy raised in reset() ({wheres[i]}): {describe(exc)}\n"
                                      f"{traceback_text(exc, skip=1)}") from None
            return {"ok": True}
        if op == "policies":
            _, family, n, *_ = msg
            self.policies[family] = built = [build_policy(self.spec, family, self.loaded) for _ in range(n)]
            return described(built)
        if op == "end":  # a job is over (the sandbox's EpisodeHost ends its processes; here: nothing runs on)
            return {"ok": True}
        if op == "load":
            _, spec, files = msg
            write_files(files, os.path.join(sandbox_root.ROOT, "submission"))
            self.spec = spec
            return {"ok": True}
        raise PolicyError(f"unknown request {op!r}")

    def _act(self, family: str, i: int, obs, info):
        step = self.steps[family][i]
        try:
            action = self.policies[family][i].act(obs, info)
        except BaseException as exc:  # noqa: BLE001
            raise PolicyError(f"policy raised in act() at step {step} ({self.wheres[family][i]}): "
                              f"{describe(exc)}\n{traceback_text(exc, skip=1)}") from None
        self.steps[family][i] = step + 1
        return plain_action(action)


# ---- 2. to 5.: set up, then serve until the command pipe closes -----------------------------


def serve(commands, replies, host=None) -> None:
    host = host if host is not None else Host()
    try:
        while True:
            try:
                msg = commands.recv()
            except (EOFError, OSError):
                return
            try:
                reply = host.handle(msg)
            except BaseException as exc:  # noqa: BLE001 - everything a policy can throw is a result
                reply = failure_reply(exc)
            if isinstance(host, EpisodeHost):
                host.pump_output()  # a failure's reason ends with the job's last lines of output
            if not send_reply(replies, reply):
                return
    finally:
        if isinstance(host, EpisodeHost):
            host.end_episodes()


def main(argv: list[str] | None = None) -> None:
    """``python -m lrgym.leaderboard.policy_host CMD_FD REPLY_FD`` (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else argv
    cmd_fd, reply_fd = int(argv[0]), int(argv[1])
    _init_then_host((cmd_fd, reply_fd))
    from multiprocessing.connection import Connection

    commands = Connection(cmd_fd, writable=False)
    replies = Connection(reply_fd, readable=False)
    cfg = commands.recv()
    try:
        applied = confine(cfg)
        import numpy  # noqa: F401 - loaded before the memory limit, like any grader-side import
        import lrgym.baselines.policy  # noqa: F401

        import resource

        if cfg.get("memory_mb"):
            limit = int(cfg["memory_mb"] * 1024 * 1024)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            host_messages.LIMIT_NOTE = f" of {cfg['memory_mb']:g} MB"
        if cfg.get("namespaces") and cfg.get("numba_cache"):
            KEEP_FOLDERS.append(cfg["numba_cache"])
        reply = {"ok": True, "sandbox": applied}
    except BaseException as exc:  # noqa: BLE001
        reply = {"ok": False, "reason": f"the sandbox could not be set up: {describe(exc)}"}
    import json

    replies.send_bytes(json.dumps(reply).encode())
    if not reply["ok"]:
        os._exit(3)
    serve(commands, replies, EpisodeHost(namespaces=bool(cfg.get("namespaces")), grader_fds=(cmd_fd, reply_fd)))


if __name__ == "__main__":
    main()
