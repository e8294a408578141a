"""The job starter: the process every job of a sandbox is forked from (step 5 of
:mod:`lrgym.leaderboard.policy_host`), so that no job inherits what the host relayed for an
earlier one (:class:`JobStarter`).

Per job it forks a *waiter* (trusted code, :func:`_wait_for_job`), which forks the job process
(:func:`lrgym.leaderboard.job_process.job_main`, after
:func:`lrgym.leaderboard.job_isolation.job_namespaces` and
:func:`~lrgym.leaderboard.job_isolation.enter_job`), reports its pid and then how it ended to
the host (:class:`lrgym.leaderboard.episode_host.EpisodeHost`), and exits.
"""

from __future__ import annotations

import os

from lrgym.leaderboard.failures import PolicyError
from lrgym.leaderboard.job_isolation import enter_job, job_namespaces
from lrgym.leaderboard.job_process import job_main
from lrgym.leaderboard.libc import c_library, die_with_parent

__all__ = ["JobStarter"]


class JobStarter:
    """The process every job is forked from: forked from the host at its first job, before the
    host relayed any message of an episode, so that its memory holds nothing of any job.

    The host relays each job's messages: its heap keeps what the grader sent an earlier job
    (observations and infos of the previous seed's episodes) and what that job answered (actions
    the policy chose, so any number it likes). A job forked from the host inherited all of it
    (review, 2026-12-05: the next job read the last job's reply from ``serve``'s frame, and the
    grader's last messages from the freed heap). Jobs are forked from this process instead.

    For each job the host sends it the job's descriptors (``SCM_RIGHTS`` over a socket) and the
    job's family and uid; it forks a *waiter*, trusted code, which forks the job process, tells
    the host the job's pid and then how it ended (JSON on the job's exit pipe, which the job
    process never holds), and exits. This process learns nothing of a job but its family, size,
    uid and its episodes' stream seeds (opaque numbers: :mod:`lrgym.leaderboard.global_streams`),
    and keeps nothing of it (the kernel reaps the waiters: ``SIGCHLD`` ignored)."""

    #: descriptors in one message (the kernel's SCM_MAX_FD is 253)
    CHUNK = 200
    #: the longest request read (a job's family, uid and one stream seed per episode, as JSON:
    #: ≈ 12 bytes a seed; a datagram longer than the read would be cut): thousands of episodes,
    #: and the sandbox's open-files limit allows a job ≈ 250
    REQUEST_BYTES = 64 * 1024

    def __init__(self, host: "EpisodeHost"):
        import socket

        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the job starter
            try:
                self.sock.close()
                for fd in host.grader_fds:
                    os.close(fd)
                c_library().prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG SIGKILL: it ends with the host
                _starter_main(theirs, host.spec, host.files, host.namespaces)
            finally:
                os._exit(0)
        theirs.close()
        self.pid = pid

    def start(self, family: str, uid: int | None, fds: list[int], stream_seeds: list[int] | None = None) -> None:
        """Have a job started with these descriptors: its exit pipe's write end, its output file,
        its status pipe's write end, then one connection per episode; ``stream_seeds``: the seed
        of each episode's global streams (None: the default, ``job_main``'s)."""
        import json
        import socket

        request = json.dumps({"family": family, "uid": uid, "fds": len(fds), "stream_seeds": stream_seeds}).encode()
        if len(request) > self.REQUEST_BYTES:
            raise PolicyError(f"the sandbox cannot start a job of {len(fds) - 3} episodes (its request would be "
                              f"{len(request)} bytes, over {self.REQUEST_BYTES}); valid: smaller jobs")
        try:
            for k in range(0, len(fds), self.CHUNK):
                socket.send_fds(self.sock, [b"fds"], fds[k:k + self.CHUNK])
            self.sock.send(request)
        except OSError as exc:
            raise PolicyError(f"the sandbox could not start a job (its job starter is gone: {exc})") from None


def _starter_main(sock, spec: dict, files: dict, namespaces: bool) -> None:  # pragma: no cover
    """The job starter's loop (:class:`JobStarter`): a job per request, until the host is gone."""
    import gc
    import json
    import signal
    import socket

    # what the host imported (NumPy, gymnasium, lrgym's modules: ≈ 29,000 objects) out of the
    # garbage collector, once: each job's collection before its forks (job_main) then walks only
    # the job's own objects (it walked them all: ≈ 30 ms of CPU per job, measured 2026-12-07);
    # freezing moves no object and frees none, so the jobs inherit the same memory as before
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the waiters are reaped by the kernel
    with_starter = die_with_parent()  # a waiter ends with the starter (without namespaces nothing else ends it)
    fds: list[int] = []
    while True:
        try:
            data, got, _, _ = socket.recv_fds(sock, JobStarter.REQUEST_BYTES, JobStarter.CHUNK)
        except OSError:
            return
        if not data:
            return
        fds += got
        if data == b"fds":
            continue
        request = json.loads(data.decode("utf-8"))
        if request["fds"] != len(fds):
            return  # never: the host sends them all first
        try:
            pid = os.fork()
        except OSError:  # no process left (the sandbox's limit): this job's pipes close, it fails; the starter stays
            pid = -1
        if pid == 0:
            try:
                with_starter()
                sock.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _wait_for_job(spec, files, namespaces, request["family"], request["uid"], fds, request["stream_seeds"])
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)
        fds = []


def _wait_for_job(spec: dict, files: dict, namespaces: bool, family: str, uid, fds: list[int],
                  stream_seeds: list[int] | None) -> None:  # pragma: no cover
    """The waiter: fork the job process, report its pid and then how it ended on the exit pipe."""
    import json
    from multiprocessing.connection import Connection

    exit_w, out_fd, status_fd, episode_fds = fds[0], fds[1], fds[2], fds[3:]
    with_waiter = die_with_parent()
    pid = os.fork()
    if pid == 0:  # the job process
        try:
            with_waiter()  # ends with its waiter (without namespaces nothing else ends it)
            os.close(exit_w)

            def enter() -> None:  # in the job process, before the policy's module is imported
                if namespaces:
                    job_namespaces(files, uid)
                enter_job(uid, namespaces, out_fd)

            job_main(spec, family, [Connection(fd) for fd in episode_fds], Connection(status_fd, readable=False),
                      namespaces, enter=enter, stream_seeds=stream_seeds)
        finally:
            os._exit(0)
    os.write(exit_w, json.dumps({"pid": pid}).encode() + b"\n")
    for fd in fds[1:]:
        os.close(fd)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            return
    os.write(exit_w, json.dumps({"status": status}).encode() + b"\n")
