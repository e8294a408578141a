"""The sandboxed side of grading: the processes that run a submission's code.

Started by :func:`lrgym.leaderboard.sandbox.start` as ``python -m lrgym.leaderboard.policy_host
CMD_FD REPLY_FD`` inside new PID, network and mount namespaces (``unshare``). It holds no env,
no trajectory, no store and no references: it receives copies of observations and of the
whitelisted info (:func:`lrgym.leaderboard.settings.public_info`) and answers with actions.

Order of events (nothing of the submission runs before step 5):

1. PID 1 of the namespace forks and only reaps: when the host exits, PID 1 exits and the kernel
   kills every process left in the namespace (children in their own session included);
2. the host reads its configuration (first message): limits, sandbox uid;
3. it builds a private root file system and ``chroot`` s into it: a size-limited tmpfs with
   read-only binds of the system directories, the Python installation and the packages on
   ``sys.path`` only (no store, no references, no caches, no home; the grader's folders inside
   them covered by empty tmpfs), a few devices, a read-only ``/proc`` of its namespace and a
   writable ``/tmp``; works in ``/tmp/work``; sets resource limits (address space, CPU time,
   open files, file size, core dumps, processes: :func:`bound_processes`); in the namespaces
   it keeps the privileges that setting up a job needs, non-dumpable, with every other
   capability out of its bounding set and ``PR_SET_NO_NEW_PRIVS`` (:func:`keep_host_privileges`);
4. it writes the submission's files (sent by the grader) to ``/tmp/submission`` (for an SB3 zip
   it imports torch and SB3, trusted code, before anything of the submission runs:
   :func:`preload_sb3`);
5. for each job a job process is forked from the *job starter*, a process the host forked before
   it relayed anything of a job (:class:`JobStarter`: no job inherits what the host relayed for
   an earlier one); the job process, in the namespaces, enters PID, mount, network, UTS
   and IPC namespaces of its own with a fresh ``/proc``, ``/tmp`` and ``/dev/shm``
   (:func:`job_namespaces`) and drops every privilege (as root's sandbox to a fresh uid per job,
   with no groups; in the user namespace every capability; ``PR_SET_NO_NEW_PRIVS`` in both):
   only then is the policy imported, and one process per episode forked from it
   (:class:`EpisodeHost`). The host relays ``reset`` / ``act`` until its command pipe closes.

Messages: the grader sends pickled tuples (grader → policy: the policy cannot harm the grader by
unpickling the grader's data); the host answers with length-prefixed JSON, which the grader
decodes with a size limit and validates. Any exception of the policy becomes a ``{"ok": false,
"reason": ...}`` reply naming where it happened.
"""

from __future__ import annotations

import os
import sys

from lrgym.leaderboard import host_messages, sandbox_root
from lrgym.leaderboard.failures import PolicyError, describe, policy_reported, traceback_text
from lrgym.leaderboard.host_messages import STATUS_BYTES, failure_reply, framed, send_reply, take_message
from lrgym.leaderboard.job_cleanup import clean_files, kill_all
from lrgym.leaderboard.job_isolation import JOB_SETUP, KEEP_FOLDERS, next_job_uid, seccomp_problem
from lrgym.leaderboard.job_starter import JobStarter
from lrgym.leaderboard.policy_loading import build_policy, described, plain_action, preload_sb3, write_files
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
        new_root(cfg["new_root"], cfg["paths"], cfg["links"], int(cfg["tmp_mb"]), cfg.get("masked", []))
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

        from lrgym.leaderboard.seccomp import SUPPORTED_MACHINES

        if platform.machine() not in SUPPORTED_MACHINES:
            applied["kernel_keys"] = f"kernel keys not filtered on {platform.machine()}"
        else:
            problem = seccomp_problem()
            JOB_SETUP["seccomp"] = problem is None
            applied["kernel_keys"] = ("add_key, request_key and keyctl refused in every job (seccomp)"
                                      if problem is None else f"kernel keys not filtered: {problem}")
    return applied


# ---- 4. the policy --------------------------------------------------------------------------


class Host:
    """Serves one submission. Requests (tuples; one message per step for all the episodes of a
    job, which run in lockstep, each with its own policy instance):

    * ``("load", spec, files)``: write the submission's files, remember its spec;
    * ``("policies", family, n)``: build ``n`` new instances for ``family`` (the previous job's
      are dropped: never reused); answers the name and the env options it asks for (checked by
      the grader);
    * ``("reset", family, infos, wheres)``: ``reset(info)`` of instance i with ``infos[i]``;
    * ``("act", family, items)``: ``act(obs, info)`` of instance i for each ``(i, obs, info)``;
      answers the actions as JSON (:func:`plain_action`).

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
            _, family, n = msg
            self.policies[family] = built = [build_policy(self.spec, family, self.loaded) for _ in range(n)]
            return described(built)
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


# ---- one process per episode -----------------------------------------------------------------

#: largest reply of an episode's process (the grader's limit for the whole reply is 64 KB)
EPISODE_REPLY_BYTES = 64 * 1024
#: an episode's "reply" when a message to it could not be written whole (EpisodeHost._send)
STOPPED_READING = object()


class EpisodeHost:
    """Serves one submission in the sandbox with **a fresh process per job and per episode**, so
    that no state of one episode reaches another job: not its instance, its class attributes, the
    module's globals, what the module's import made that the kernel shares across ``fork`` (an
    anonymous ``MAP_SHARED`` mapping, a pipe, a socket) nor (between jobs) its files.

    This process (the *pristine host*) never imports the policy's module. At ``policies`` (a
    new job) it has a *job process* forked from the job starter (:class:`JobStarter`, forked
    from this process before it relayed anything of a job: this process's memory holds the
    earlier jobs' messages and replies, which no job may inherit), which imports the policy's module (its top-level code
    runs there, nothing else of it: no constructor, ``reset`` or ``act``; for an SB3 zip it
    imports torch and stable_baselines3 and loads the model, :func:`job_main`), freezes its
    objects out of the garbage collector and forks one process per episode of the job: each
    builds its own instance in its own copy-on-write copy of the job process, in a fresh folder
    of its own (``/tmp/work/<k>``, also its ``HOME`` and ``TMPDIR``), and answers that episode's
    ``reset`` / ``act`` over a pipe the pristine host made and holds the other end of, so the
    host relays the job's lockstep messages directly (one message per step from the grader, one
    per episode inside the sandbox; an ``act`` is forwarded as the bytes the grader encoded for
    that episode, :mod:`lrgym.leaderboard.step_message`, never unpickled here). The job process
    then only reports its episodes' pids and how they ended (JSON over a pipe: the host unpickles
    nothing the policy wrote). In the namespaces each job has PID, mount, network, UTS and IPC
    namespaces of its own, with fresh ``/proc``, ``/tmp``, ``/dev/shm`` and cache folder
    (:func:`job_namespaces`), so the host cleans nothing a job could write to. At the next
    ``policies`` and at the end, the whole job is killed (in the namespaces every process of the
    sandbox's PID namespace but its PID 1, this process and the job starter: all the policy's
    processes, its daemons in their own sessions included, :func:`kill_all`; without namespaces the job's
    process group, and the scratch folder is emptied but for the submission's files).

    What the module's import makes and the kernel shares across ``fork`` is shared by the
    episodes of **that job** (they run in lockstep on the job's instances); it is gone with the
    job."""

    def __init__(self, namespaces: bool = True, grader_fds: tuple[int, ...] = ()):
        self.namespaces = namespaces
        self.grader_fds = grader_fds  # the pipes to the grader: closed in the job's processes
        self.spec: dict | None = None
        self.files: dict[str, bytes] = {}
        self.episodes: list = []  # (None, connection) per episode of the current job
        self.buffers: list[bytearray] = []  # per episode: bytes of a reply not yet complete (_receive)
        self.stopped: list[bool] = []  # per episode: a message to it could not be written whole (_send)
        self.wheres: list[str] = []
        self.steps: list[int] = []
        self.job: int | None = None  # the job process's pid
        self.starter: JobStarter | None = None  # the process jobs are forked from
        self.exit_pipe: int | None = None  # the job's waiter reports on it (_job_report)
        self.exit_buffer = b""
        self.job_reports: dict = {}
        self.status = None  # the job process's reports: its episodes' pids, then how each ended
        self.status_buffer = bytearray()  # bytes of a report not yet complete (_read_status)
        self.pids: list[int] = []
        self.exits: dict[int, int] = {}
        self.used = False  # processes ran since the last clean-up
        self.out_fd: int | None = None  # the current job's own output file (its stdout and stderr)
        self.out_pos = 0  # how much of it pump_output has copied

    # -- the grader's requests

    def handle(self, msg: tuple) -> dict:
        op = msg[0]
        if op == "act":  # each episode's ("act", obs, info), pickled by the grader (step_message)
            _, family, items = msg
            for i, payload in items:
                self._send(i, payload)
            replies = self._receive([i for i, _ in items], lambda i: f"act() at step {self.steps[i]}")
            for i, _ in items:
                self.steps[i] += 1
            return {"ok": True, "actions": [reply.get("action") for reply in replies]}
        if op == "reset":
            _, family, infos, wheres = msg
            if len(infos) != len(self.episodes):
                raise PolicyError(f"reset of {len(infos)} episodes, {len(self.episodes)} built")
            self.wheres, self.steps = list(wheres), [0] * len(infos)
            for i, info in enumerate(infos):
                self._send(i, ("reset", info, wheres[i]))
            self._receive(range(len(infos)), lambda i: "reset()")
            return {"ok": True}
        if op == "policies":
            _, family, n = msg
            return self._fork(family, int(n))
        if op == "load":
            _, spec, files = msg
            self.spec, self.files = spec, dict(files)
            write_files(files, os.path.join(sandbox_root.ROOT, "submission"))
            if spec.get("kind") == "sb3":
                preload_sb3()
            return {"ok": True}
        raise PolicyError(f"unknown request {op!r}")

    def _send(self, i: int, msg) -> None:
        """Send ``msg`` to episode ``i``'s process: bytes as they are (an ``act`` the grader
        encoded, :mod:`lrgym.leaderboard.step_message`), anything else pickled as
        ``Connection.send`` does, framed as ``Connection.send_bytes`` frames it, in one write that
        never waits: the host's ends are non-blocking (:meth:`_fork`). An episode in lockstep has
        at most one message unread; one whose process stopped reading (its pipe full: a review,
        2026-12-05, had the host block in that write, so an earlier episode's failure came back
        as a timeout) is failed with its reply (:data:`STOPPED_READING`)."""
        from multiprocessing.reduction import ForkingPickler

        frame = framed(msg if isinstance(msg, bytes) else bytes(ForkingPickler.dumps(msg)))
        try:
            written = os.write(self.episodes[i][1].fileno(), frame)
        except BlockingIOError:
            written = 0
        except (OSError, IndexError):
            return  # its death is read with its reply
        if written < len(frame):  # its stream is cut mid-message: it gets nothing more
            self.stopped[i] = True

    def _receive(self, order, what) -> list[dict]:
        """The replies of the episodes ``order`` (indices), in that order; ``what(i)`` names the
        call episode ``i`` answers, for a failure's reason.

        They are read as they arrive (one ``poll`` for all of them, the job's output pumped to
        the grader while none comes), byte by byte into a buffer per episode, never waiting for
        the rest of a message (an episode that sends half a reply holds up nothing else), and
        judged in ``order``: the first episode in that order whose process died or failed
        raises, as soon as every episode before it has answered, whatever the others do
        meanwhile (one may never answer, or answer half)."""
        import select

        order = list(order)
        raw: dict[int, object] = {}  # episode → its reply's bytes, or the exception reading them raised
        conns = {}
        for i in order:
            try:
                message = STOPPED_READING if self.stopped[i] else take_message(self.buffers[i], EPISODE_REPLY_BYTES)
            except ValueError:
                message = OSError("bad message length")
            if message is None:
                conns[self.episodes[i][1].fileno()] = i
            else:
                raw[i] = message
        poller = select.poll()
        for fd in conns:
            poller.register(fd, select.POLLIN)
        replies = []
        for i in order:
            while i not in raw:
                ready = poller.poll(OUTPUT_PUMP_SECONDS * 1000)
                if not ready:  # the job's output reaches the grader while it runs
                    self.pump_output()
                for fd, _ in ready:
                    j = conns[fd]
                    try:
                        chunk = os.read(fd, EPISODE_REPLY_BYTES)
                        if not chunk:
                            raise EOFError
                        self.buffers[j] += chunk
                        message = take_message(self.buffers[j], EPISODE_REPLY_BYTES)
                    except BlockingIOError:  # nothing after all: poll again
                        continue
                    except (EOFError, OSError) as exc:
                        message = exc
                    except ValueError:  # a length beyond the limit, or below 0
                        message = OSError("bad message length")
                    if message is not None:
                        poller.unregister(fd)
                        raw[j] = message
            replies.append(self._judged(i, raw.pop(i), what(i)))
        return replies

    def _judged(self, i: int, raw, what: str) -> dict:
        """Episode ``i``'s reply from its bytes (or why they could not be read)."""
        import json

        if raw is STOPPED_READING:
            raise PolicyError(f"the policy's process stopped reading its messages before {what} ({self._where(i)}): "
                              "a message of the grader could not be delivered")
        try:
            if isinstance(raw, BaseException):
                raise raw
            reply = json.loads(raw.decode("utf-8"))  # bytes to json.loads would look up (import) a codec
        except (EOFError, ConnectionError):
            raise PolicyError(f"the policy's process died in {what} ({self._where(i)}): {self._death(i)}") from None
        except (OSError, ValueError, RecursionError):
            raise PolicyError(f"the policy's process sent a malformed reply in {what} ({self._where(i)})") from None
        if not isinstance(reply, dict):
            raise PolicyError(f"the policy's process sent a malformed reply in {what} ({self._where(i)})")
        if not reply.get("ok"):  # its words, which the policy's code can choose: labelled so
            raise PolicyError(policy_reported(str(reply.get("reason", "unknown failure"))))
        return reply

    def _where(self, i: int) -> str:
        return self.wheres[i] if i < len(self.wheres) else f"episode {i + 1} of the job"

    def _read_status(self, timeout: float) -> bool:
        """Read one report of the job process (False: none within ``timeout``, or no more). The
        policy's import runs in that process, so a report is untrusted input: it is read here
        byte by byte against this deadline (half a message cannot block the host, as
        ``recv_bytes`` would), at most :data:`STATUS_BYTES` long, and only in-range pids and wait
        statuses are kept; a malformed report ends the reading."""
        import json
        import select
        import time

        if self.status is None:
            return False
        deadline = time.monotonic() + max(0.0, timeout)
        try:
            while (raw := take_message(self.status_buffer)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([self.status], [], [], remaining)[0]:
                    return False
                chunk = os.read(self.status.fileno(), STATUS_BYTES)
                if not chunk:
                    raise EOFError
                self.status_buffer += chunk
            msg = json.loads(raw.decode("utf-8"))  # no codec looked up (imported) for the policy's bytes
        except (EOFError, OSError, ValueError, RecursionError):
            self.status.close()
            self.status = None
            return False
        if isinstance(msg, dict) and isinstance(msg.get("pids"), list):
            self.pids = [p for p in msg["pids"] if _is_int_in(p, 1, 2**22)]
        elif isinstance(msg, dict) and _is_int_in(msg.get("pid"), 1, 2**22) and _is_int_in(msg.get("status"), 0, 0xFFFF):
            self.exits[msg["pid"]] = msg["status"]
        return True

    def _death(self, i: int) -> str:
        """How episode ``i``'s process ended, as its job process reported it; the job process's
        own end when it died before forking it (its import, or loading an SB3 model)."""
        import time

        deadline = time.monotonic() + 5
        while True:
            pid = self.pids[i] if i < len(self.pids) else None
            if pid is not None and pid in self.exits:
                return _status_text(self.exits[pid])
            if time.monotonic() > deadline or not self._read_status(deadline - time.monotonic()):
                break
        if not self.pids:  # the job process died before forking: its waiter says how
            status = self._job_report("status", max(0.0, deadline - time.monotonic()))
            if status is not None:
                return _status_text(status)
        return "ended"

    # -- jobs and episodes

    def _fork(self, family: str, n: int) -> dict:
        from multiprocessing.connection import Pipe

        self.end_episodes()
        if self.spec is None:
            raise PolicyError("no submission loaded")
        if self.starter is None:  # now, before this process relays anything of a job
            self.starter = JobStarter(self)
        pipes = [Pipe(duplex=True) for _ in range(n)]
        status_r, status_w = Pipe(duplex=False)
        exit_r, exit_w = os.pipe()
        uid = next_job_uid() if self.namespaces else None
        self.out_fd, self.out_pos = _job_output(self.namespaces), 0
        self.used = True
        try:
            self.starter.start(family, uid, [exit_w, self.out_fd, status_w.fileno(), *(t.fileno() for _, t in pipes)])
        except BaseException:
            os.close(exit_r)
            status_r.close()
            raise
        finally:
            os.close(exit_w)
            status_w.close()
            for _, theirs in pipes:
                theirs.close()
        self.status, self.exit_pipe = status_r, exit_r
        self.episodes = [(None, mine) for mine, _ in pipes]
        for mine, _ in pipes:
            os.set_blocking(mine.fileno(), False)  # the host never waits on an episode (_send, _receive)
        self.buffers = [bytearray() for _ in pipes]
        self.stopped = [False] * n
        self.job = self._job_report("pid", JOB_START_SECONDS)
        built = self._receive(range(n), lambda k: "the constructor")
        if any(b.get("choices") != built[0].get("choices") for b in built):
            raise PolicyError("instances of the policy ask for different env options")
        return {"ok": True, "name": built[0].get("name"), "choices": built[0].get("choices")}

    def _job_report(self, key: str | None, timeout: float):
        """What the job's waiter (trusted: :func:`_wait_for_job`) reported under ``key`` (``"pid"``:
        the job process's pid, ``"status"``: how it ended), waiting at most ``timeout`` seconds;
        None when it has not (yet). ``key=None`` waits for the waiter's end."""
        import json
        import select
        import time

        deadline = time.monotonic() + timeout
        while key is None or key not in self.job_reports:
            if self.exit_pipe is None:
                return None
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.exit_pipe], [], [], left)[0]:
                return None
            chunk = os.read(self.exit_pipe, 4096)
            if not chunk:  # the waiter is gone (it ended, or was killed with the job)
                os.close(self.exit_pipe)
                self.exit_pipe = None
                continue
            self.exit_buffer += chunk
            *lines, self.exit_buffer = self.exit_buffer.split(b"\n")
            self.exit_buffer = self.exit_buffer[-STATUS_BYTES:]  # a report is a short line
            for line in lines:
                try:  # only the waiter writes here (without namespaces a job of the same uid could too)
                    report = json.loads(line.decode("utf-8"))
                except (ValueError, RecursionError):
                    continue
                if isinstance(report, dict):
                    self.job_reports.update((k, v) for k, v in report.items() if k in ("pid", "status") and _is_int_in(v, 0, 2**31))
        return self.job_reports[key]

    def pump_output(self) -> None:
        """Copy what the job wrote to its own output file since the last call (its last
        :data:`OUTPUT_TAIL_BYTES` at most) to the host's stdout, the sandbox's output file, whose
        tail the grader reads for a failure's reason. The job never holds that file: a job
        cannot pass a value to a later one by its size (``ftruncate``, ``fstat``) or contents."""
        if self.out_fd is None:
            return
        try:
            size = os.fstat(self.out_fd).st_size
            if size < self.out_pos:  # the job truncated its file
                self.out_pos = 0
            if size == self.out_pos:
                return
            start = max(self.out_pos, size - OUTPUT_TAIL_BYTES)
            data = os.pread(self.out_fd, size - start, start)
            self.out_pos = start + len(data)
            if os.fstat(1).st_size + len(data) > OUTPUT_KEEP_BYTES:  # only the tail is ever read
                os.ftruncate(1, 0)
            while data:
                data = data[os.write(1, data):]
        except OSError:
            pass

    def end_episodes(self) -> None:
        """Kill every process of the previous job and clean what they left (see the class)."""
        self.pump_output()
        if self.out_fd is not None:
            os.close(self.out_fd)
            self.out_fd = None
        for _, conn in self.episodes:
            try:
                conn.close()
            except OSError:
                pass
        if self.status is not None:
            self.status.close()
        job = self.job
        self.episodes, self.wheres, self.steps, self.buffers, self.stopped = [], [], [], [], []
        self.job, self.status, self.pids, self.exits = None, None, [], {}
        self.status_buffer = bytearray()
        if not self.used:
            return
        kill_all(job, self.namespaces, keep=(self.starter.pid,) if self.starter else ())
        self._job_report(None, JOB_END_SECONDS)  # the job process is gone when its waiter is
        if self.exit_pipe is not None:
            os.close(self.exit_pipe)
        self.exit_pipe, self.exit_buffer, self.job_reports = None, b"", {}
        if not self.namespaces:  # in the namespaces each job had its own /tmp, /dev/shm and cache (job_namespaces)
            clean_files(self.files)
        self.used = False


# ---- the job starter: jobs are forked from a process that never relayed a message ------------


#: the most of a job's output the host copies at once (the grader reads the last 32,000 bytes)
OUTPUT_TAIL_BYTES = 32 * 1024
#: the sandbox's output file is emptied before it would grow past this (only its tail is read)
OUTPUT_KEEP_BYTES = 8 * 1024 * 1024
#: how often the host copies a job's output while it waits for an episode's reply
OUTPUT_PUMP_SECONDS = 0.25
#: how long the host waits for a job's waiter to report the job's pid, and at the job's end for
#: the waiter to end (it ends when the job process has)
JOB_START_SECONDS, JOB_END_SECONDS = 30.0, 10.0


def _job_output(namespaces: bool = False) -> int:
    """A fresh, unnamed file for a job's stdout and stderr, appended to (a ``print`` and a
    ``/dev/stdout`` reopened by a logger interleave): a ``memfd`` (in no folder, so in no
    folder's inode numbering; counted in the memory limit, each write in the file-size limit);
    where Python or the kernel has none (CPython built against glibc < 2.27, a seccomp profile
    refusing it), a file made and unlinked at once beside ``sandbox_root.ROOT`` (the host's own ``/tmp``,
    which every job covers with its own; without namespaces the grader's private folder)."""
    import fcntl

    try:
        fd = os.memfd_create("lrgym-job-output", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        folder = sandbox_root.ROOT if namespaces else (os.path.dirname(sandbox_root.ROOT.rstrip("/")) or "/")
        path = os.path.join(folder, f".lrgym-job-output-{os.urandom(8).hex()}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        os.unlink(path)
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
    return fd


def _is_int_in(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _status_text(status: int) -> str:
    import signal

    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.valid_signals() else f"signal {sig}"
        hint = " (out of memory or killed)" if sig == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exit code {os.WEXITSTATUS(status)}"


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
