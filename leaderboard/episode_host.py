"""The pristine host of a sandbox (step 5 of :mod:`lrgym.leaderboard.policy_host`): it relays the
grader's requests to a fresh process per job and per episode and never imports the policy
(:class:`EpisodeHost`).

Per job it has a job process started (:class:`lrgym.leaderboard.job_starter.JobStarter`), with
a fresh uid (:func:`lrgym.leaderboard.job_isolation.next_job_uid`) and an output file of its own
(:func:`_job_output`, copied to the grader by :meth:`EpisodeHost.pump_output`); it reads the
episodes' replies and the job's reports as untrusted bytes
(:func:`lrgym.leaderboard.host_messages.take_message`, with a size limit and a deadline), and at
the job's end kills and cleans all of it (:mod:`lrgym.leaderboard.job_cleanup`).
"""

from __future__ import annotations

import os

from lrgym.leaderboard import sandbox_root
from lrgym.leaderboard.failures import PolicyError, policy_reported
from lrgym.leaderboard.host_messages import STATUS_BYTES, framed, take_message
from lrgym.leaderboard.job_cleanup import clean_files, kill_all
from lrgym.leaderboard.job_isolation import next_job_uid
from lrgym.leaderboard.job_starter import JobStarter
from lrgym.leaderboard.policy_loading import preload_sb3, write_files

__all__ = ["EpisodeHost"]

#: largest reply of an episode's process (the grader's limit for the whole reply is 64 KB)
EPISODE_REPLY_BYTES = 64 * 1024
#: an episode's "reply" when a message to it could not be written whole (EpisodeHost._send)
STOPPED_READING = object()
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
    refusing it), a file made and unlinked at once beside ``sandbox_root.ROOT`` (the host's own
    ``/tmp``, which every job covers with its own; without namespaces the grader's private folder)."""
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


def stream_seeds(seeds, n: int) -> list[int] | None:
    """The seeds of the global streams of a job's ``n`` episodes, one each, as the grader sent
    them (:func:`lrgym.leaderboard.global_streams.episode_stream_seed`); None (not given): the
    default seed for all. Anything else is the grader's mistake, a ``ValueError`` naming it."""
    from lrgym.leaderboard.global_streams import STREAM_SEEDS

    if seeds is None:
        return None
    if not (isinstance(seeds, (list, tuple)) and len(seeds) == n and all(_is_int_in(s, 0, STREAM_SEEDS - 1) for s in seeds)):
        raise ValueError(f"stream seeds {seeds!r:.200} for {n} episodes; valid: {n} ints in [0, 2**32), or None")
    return list(seeds)


def _status_text(status: int) -> str:
    import signal

    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.valid_signals() else f"signal {sig}"
        hint = " (out of memory or killed)" if sig == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exit code {os.WEXITSTATUS(status)}"


class EpisodeHost:
    """Serves one submission in the sandbox with **a fresh process per job and per episode**, so
    that no state of one episode reaches another job: not its instance, its class attributes, the
    module's globals, what the module's import made that the kernel shares across ``fork`` (an
    anonymous ``MAP_SHARED`` mapping, a pipe, a socket) nor (between jobs) its files.

    This process (the *pristine host*) never imports the policy's module. At ``policies`` (a new
    job) it has a *job process* forked from the job starter (:class:`JobStarter`, forked from this
    process before it relayed anything of a job: this process's memory holds the earlier jobs'
    messages and replies, which no job may inherit), which imports the policy's module (its
    top-level code runs there, nothing else of it: no constructor, ``reset`` or ``act``; for an SB3
    zip it imports torch and stable_baselines3 and loads the model,
    :func:`~lrgym.leaderboard.job_process.job_main`), freezes its objects out of the garbage
    collector and forks one process per episode of the job: each builds its own instance in its own
    copy-on-write copy of the job process, in a fresh folder of its own (``/tmp/work/<k>``, also its
    ``HOME`` and ``TMPDIR``), and answers that episode's ``reset`` / ``act`` over a pipe the
    pristine host made and holds the other end of, so the host relays the job's lockstep messages
    directly (one message per step from the grader, one per episode inside the sandbox; an ``act``
    is forwarded as the bytes the grader encoded for that episode,
    :mod:`lrgym.leaderboard.step_message`, never unpickled here). The job process then only reports
    its episodes' pids and how they ended (JSON over a pipe: the host unpickles nothing the policy
    wrote). In the namespaces each job has PID, mount, network, UTS and IPC namespaces of its own,
    with fresh ``/proc``, ``/tmp``, ``/dev/shm`` and cache folder
    (:func:`~lrgym.leaderboard.job_isolation.job_namespaces`), so the host cleans nothing a job
    could write to. At the next ``policies`` and at the end, the whole job is killed (in the
    namespaces every process of the sandbox's PID namespace but its PID 1, this process and the job
    starter: all the policy's processes, its daemons in their own sessions included,
    :func:`kill_all`; without namespaces the job's process group, and the scratch folder is emptied
    but for the submission's files). The grader's worker asks for it (``("end",)``) as soon as a
    job's episodes are over, so nothing of a job runs on while its worker waits for another job
    (a red-team review, 2026-12-05: a child it left held a ``flock`` on a system file, a signal
    every sandbox of the machine sees, beside the entry's next job on the same instance).

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
        if op == "policies":  # ("policies", family, n[, stream seeds]): the grader's (worker._describe_policy)
            _, family, n, *seeds = msg
            return self._fork(family, int(n), stream_seeds(seeds[0] if seeds else None, int(n)))
        if op == "end":  # the job's last reply is in: nothing of it may run on (end_episodes)
            self.end_episodes()
            return {"ok": True}
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

    def _fork(self, family: str, n: int, seeds: list[int] | None = None) -> dict:
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
            self.starter.start(family, uid, [exit_w, self.out_fd, status_w.fileno(), *(t.fileno() for _, t in pipes)],
                               seeds)
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
        """What the job's waiter (trusted: :mod:`lrgym.leaderboard.job_starter`) reported under
        ``key`` (``"pid"``: the job process's pid, ``"status"``: how it ended), waiting at most ``timeout`` seconds;
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
