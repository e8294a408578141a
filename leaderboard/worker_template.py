"""A warm interpreter the local pool forks its grader workers from.

A grader worker is a fresh interpreter that only ever ran the grader's code
(:mod:`lrgym.leaderboard.worker`). Started with ``python -m``, each one spends ≈ 1.7 CPU-s before
its first episode (2026-12-07, a 2-core EPYC VM): importing the worker and Numba (≈ 0.8 s),
Numba's lowering registries at its first kernel (≈ 0.7 s), SciPy's BLAS (≈ 0.4 s), then loading
its kernels from the disk cache. A run grading untrusted submissions starts two workers per
submission (:attr:`~lrgym.leaderboard.pool.WorkerPool.isolate_groups`), so most of a run's CPU went
into starting interpreters.

A :class:`WorkerTemplate` is one more interpreter, started by the pool at its run's first worker with
exactly the environment a worker gets (``python -m lrgym.leaderboard.worker_template``). It does
that common part once (:func:`warm`: imports, Numba's registries, and the kernels of the suite's
envs the run's jobs name, stepped on one instance of each kind; no job, no policy, nothing kept
of an env) and then forks each worker the pool asks for: the child
leaves the template's session, takes the pool's pipes as its stdin, stdout, stderr and reply pipe,
its own temp folder as working directory and ``TMPDIR``, and runs :func:`lrgym.leaderboard.worker.main`
exactly as a started worker does. Each worker is still a process of its own that shares nothing
with another worker; what it inherits is the template's state, which never ran a job.

The pool sees a forked worker through :class:`ForkedProcess`, which answers like the
:class:`subprocess.Popen` of a started one (``pid``, ``poll``, ``wait``, ``kill``,
``returncode``): the template reaps its children and reports each exit status over the control
socket. Lifetimes chain as before: the template gets SIGKILL when the grader dies
(``PR_SET_PDEATHSIG``), a worker when the template dies (the worker sets it itself,
:func:`lrgym.leaderboard.worker.serve`), a sandbox when its worker dies. A worker whose template
died is reported killed by SIGKILL, as it was (a machine fault to the pool: its job runs again
once, on a new worker from a new template). The pool ends the template after its last worker
(:meth:`WorkerTemplate.close`), unless the grader keeps it for its next runs
(:func:`lrgym.leaderboard.pool.kept_templates`): then each fork request carries the run's whole
worker environment, which the child takes as its own, and the suite envs of the run that the
template has not warmed yet, which it warms before it forks.

The control socket is a ``SOCK_SEQPACKET`` pair (one message per request, with its file
descriptors): grader → template ``{"scratch": folder, "env": {...}, "warm": [...]}`` (the
last two optional) and four descriptors (job pipe, reply pipe, stdout, stderr); template →
grader ``{"pid": n}`` for each fork, in order (or ``{"error": why}``), and ``{"exit": pid,
"status": wait status}`` for each child it reaped.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

__all__ = ["ForkedProcess", "TemplateGone", "WorkerTemplate", "main", "warm"]

#: bytes of one control message: a folder path, a pid, or a request with a worker's environment and
#: a run's suite envs (a few kB)
MESSAGE_BYTES = 1 << 20
#: seconds the grader waits for the template to answer a fork (its warm-up comes first: a few
#: seconds on a busy 2-core machine)
FORK_PATIENCE = 120.0


def _env_key(kwargs: dict) -> str:
    """One suite env's keywords as a key (what :meth:`WorkerTemplate.envs_of` groups by)."""
    return json.dumps(kwargs, sort_keys=True, default=str)


class TemplateGone(OSError):
    """The template process has ended (killed, or it failed to start): no worker can be forked."""


# ---- the grader's side ------------------------------------------------------------------------


class WorkerTemplate:
    """The grader's handle on one template process (see the module docstring).

    Args:
        env: the environment of the template, hence of every worker it forks (the pool's
            worker environment, ``TMPDIR`` aside).
        folder: the template's working directory and ``TMPDIR`` (made and removed by the pool,
            like a worker's temp folder).
        quiet: the template's own stdout and stderr go to /dev/null (a worker's go where the
            pool sends them).
    """

    def __init__(self, env: dict, folder: str, quiet: bool = True, envs: list | None = None):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        out = subprocess.DEVNULL if quiet else None
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lrgym.leaderboard.worker_template", str(theirs.fileno()),
                 json.dumps(envs or [])],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, pass_fds=(theirs.fileno(),),
                env={**env, "TMPDIR": folder}, cwd=folder, close_fds=True,
                start_new_session=True,  # spared the terminal's ^C, as the workers are
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.socket = ours
        self.warmed = {_env_key(kwargs) for kwargs, _ in envs or ()}  # the suite envs it has warmed
        self.exits: dict[int, int] = {}  # pid -> wait status, as reported
        self.forked: set[int] = set()  # pids forked and not reported ended
        self.gone = False

    @staticmethod
    def envs_of(payloads) -> list:
        """``[env keywords, instances]`` of each distinct suite env among job ``payloads`` (an
        ``episodes`` job's ``env_kwargs`` and ``instances``, a ``reference`` job's ``env_kwargs``
        and ``instance``): what :func:`warm` warms."""
        found: dict[str, tuple[dict, list]] = {}
        for payload in payloads:
            kwargs = payload.get("env_kwargs")
            if not isinstance(kwargs, dict):
                continue
            instances = payload.get("instances", [payload["instance"]] if "instance" in payload else [])
            entry = found.setdefault(_env_key(kwargs), (kwargs, []))
            entry[1].extend(i for i in instances if isinstance(i, int) and i not in entry[1])
        return [[kwargs, instances] for kwargs, instances in found.values() if instances]

    def fork(self, job_r: int, reply_w: int, stdout: int, stderr: int, scratch: str, env: dict | None = None,
             envs: list | None = None) -> ForkedProcess:
        """A new worker with these descriptors, working in ``scratch``; raises :class:`TemplateGone`
        if the template has ended (or does not answer within :data:`FORK_PATIENCE` s). ``env``:
        the worker's whole environment (default: the template's own, ``TMPDIR`` aside), for a
        template kept from an earlier run (:func:`lrgym.leaderboard.pool.kept_templates`); ``envs``:
        this run's suite envs (:meth:`envs_of`), of which the template first warms those it has not."""
        if self.gone:
            raise TemplateGone("the worker template has ended")
        request: dict = {"scratch": scratch}
        if env is not None:
            request["env"] = env
        new = [[kwargs, instances] for kwargs, instances in envs or () if _env_key(kwargs) not in self.warmed]
        if new:
            request["warm"] = new
            self.warmed.update(_env_key(kwargs) for kwargs, _ in new)
        try:
            socket.send_fds(self.socket, [json.dumps(request).encode()], [job_r, reply_w, stdout, stderr])
        except OSError as exc:
            self._ended()
            raise TemplateGone(f"the worker template has ended ({exc})") from None
        deadline = time.monotonic() + FORK_PATIENCE
        while True:
            message = self._next(max(0.0, deadline - time.monotonic()))
            if message is None:
                if not self.gone:  # alive but silent: of no use, and its workers must not outlive it unseen
                    self.process.kill()
                    self._ended()
                raise TemplateGone("the worker template ended or did not answer")
            if "pid" in message:
                pid = int(message["pid"])
                self.forked.add(pid)
                return ForkedProcess(self, pid)
            if "error" in message:
                raise OSError(f"the worker template could not fork a worker: {message['error']}")

    def exit_status(self, pid: int, timeout: float | None) -> int | None:
        """The wait status of forked worker ``pid`` once it has ended, None if it has not within
        ``timeout`` seconds (0: read what has arrived, do not wait). A worker of a template that
        ended without reporting it is reported killed by SIGKILL (``PR_SET_PDEATHSIG``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while pid not in self.exits:
            if self.gone:
                return _KILLED_STATUS
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if self._next(left) is None and left == 0.0:
                return None
        return self.exits[pid]

    def _next(self, timeout: float | None) -> dict | None:
        """The next message from the template (exit reports filed in :attr:`exits` on the way),
        or None when ``timeout`` passed first or the template has ended."""
        if self.gone:
            return None
        ready, _, _ = select.select([self.socket], [], [], timeout)
        if not ready:
            return None
        try:
            raw = self.socket.recv(MESSAGE_BYTES)
        except OSError:
            raw = b""
        if not raw:
            self._ended()
            return None
        message = json.loads(raw)
        if "exit" in message:
            pid = int(message["exit"])
            self.exits[pid] = int(message["status"])
            self.forked.discard(pid)
        return message

    def _ended(self) -> None:
        """The template is gone: every worker it forked that it did not report has been killed."""
        self.gone = True
        for pid in self.forked:
            self.exits.setdefault(pid, _KILLED_STATUS)
        self.forked.clear()

    def close(self, wait: float = 15.0) -> None:
        """End the template (after the pool's last worker: its workers die with it) and reap it."""
        try:
            self.socket.close()
        except OSError:
            pass
        self.gone = True
        try:
            self.process.wait(wait)
        except subprocess.TimeoutExpired:  # pragma: no cover - it exits at the socket's end
            self.process.kill()
            self.process.wait()


class ForkedProcess:
    """A forked worker, as the pool's :class:`subprocess.Popen` of a started one would be."""

    def __init__(self, template: WorkerTemplate, pid: int):
        self.template = template
        self.pid = pid
        self.returncode: int | None = None

    def _status(self, timeout: float | None) -> int | None:
        if self.returncode is None:
            status = self.template.exit_status(self.pid, timeout)
            if status is not None:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        return self._status(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._status(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(f"forked worker {self.pid}", timeout)
        return code

    def kill(self) -> None:
        if self.poll() is None:  # (not yet reaped by the template: the pid is still this worker's)
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


#: the wait status of a process killed by SIGKILL
_KILLED_STATUS = int(signal.SIGKILL)


# ---- the template's side ----------------------------------------------------------------------


def warm(envs: list | None = None) -> None:
    """What every worker does before its first episode, whatever it grades: import the worker
    and the env, let Numba load its lowering registries (done at a process's first kernel,
    compiled or loaded from the cache) and load SciPy's BLAS (which the MLP kernels call).
    Then, for each ``(env keywords, instances)`` of ``envs`` (the suite's own keywords of the
    run's jobs, :meth:`WorkerTemplate.envs_of`), the env's kernels: two steps of a short
    episode on one instance of each kind among those instances (:func:`warm_env`). On a cold
    Numba cache this is the one compilation of them, where each worker compiled them at the same
    time; on a warm one, one load from the cache instead of one per worker."""
    import lrgym.env  # noqa: F401
    import lrgym.leaderboard.worker  # noqa: F401

    try:
        import scipy.linalg.cython_blas  # noqa: F401
        from numba.core.registry import cpu_target

        cpu_target.target_context.refresh()
    except (ImportError, AttributeError):  # pragma: no cover - another Numba: the workers do it
        pass
    _warm_envs(envs)


def _warm_envs(envs: list | None) -> None:
    """:func:`warm_env` each ``(env keywords, instances)`` of ``envs``."""
    for kwargs, instances in envs or ():
        try:
            warm_env(kwargs, instances)
        except Exception:  # keywords the worker will refuse with its own words: nothing warmed
            pass


def warm_env(kwargs: dict, instances: list[int]) -> None:
    """Two steps of a two-step episode (one inner step each: the sizes change no kernel) of
    ``LRControlEnv(**kwargs)`` on one instance of each kind among ``instances`` (at most
    :data:`lrgym.vector.warm.LOOKED_AT` looked at), then on the first again (a later episode's
    kernels), random actions of a seeded action space. Nothing of it is kept: the workers build
    their own instances."""
    from lrgym.env import LRControlEnv
    from lrgym.vector.warm import kind_instances

    env = LRControlEnv(**{**kwargs, "horizon": 2, "inner_steps": 1})
    try:
        picks = kind_instances(env.settings.family, instances)
        env.action_space.seed(0)
        for instance in picks + picks[:1]:  # (an env's later episodes replace its typed lists' items: set_item)
            env.reset(seed=0, options={"instance": int(instance)})
            for _ in range(2):
                env.step(env.action_space.sample())
    finally:
        env.close()


def become_worker(fds: list[int], scratch: str, env: dict | None = None) -> None:  # pragma: no cover - in the forked worker
    """In a forked child: leave the template's session and signal handling, take the pool's
    descriptors (job pipe as stdin, its stdout and stderr, the reply pipe) and close every other,
    take ``env`` as its whole environment (if given), work in ``scratch``, and run the worker as
    ``python -m lrgym.leaderboard.worker`` would; the child then ends as a started worker does,
    through the interpreter's own exit."""
    import tempfile

    from lrgym.leaderboard import worker

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    job_r, reply_w, out, err = fds
    for fd, target in ((job_r, 0), (out, 1), (err, 2)):
        os.dup2(fd, target)
    reply = reply_w if reply_w > 2 else os.dup(reply_w)
    for name in os.listdir("/proc/self/fd"):  # what a started worker has: close_fds
        if int(name) not in (0, 1, 2, reply):
            try:
                os.close(int(name))
            except OSError:  # (the listing's own descriptor, closed by now)
                pass
    os.chdir(scratch)
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = None  # (found again from TMPDIR when first asked)
    sys.argv = [worker.__file__, str(reply)]
    worker.main([str(reply)])


def _reap(control: socket.socket) -> None:
    """Report every child that has ended."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        control.send(json.dumps({"exit": pid, "status": status}).encode())


def serve(control: socket.socket) -> tuple[list[int], str, dict | None] | None:
    """Fork a worker for each request (after warming the suite envs it names, :func:`warm_env`)
    until the grader closes the socket (then None). Returns, in each forked child only, what it is
    to become (:func:`become_worker`)."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while True:
        ready, _, _ = select.select([control, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
            _reap(control)
        if control not in ready:
            continue
        try:
            raw, fds, _, _ = socket.recv_fds(control, MESSAGE_BYTES, 4)
        except OSError:
            return None
        if not raw:
            return None
        try:
            request = json.loads(raw)
            scratch, env = request["scratch"], request.get("env")
            if len(fds) != 4 or not isinstance(scratch, str) or not isinstance(env, (dict, type(None))):
                raise ValueError(f"a request of {len(fds)} descriptors, folder {scratch!r} and "
                                 f"environment {type(env).__name__}")
            _warm_envs(request.get("warm"))
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            pid, reply = None, {"error": f"{type(exc).__name__}: {exc}"}
        if pid == 0:  # pragma: no cover - the child
            control.close()
            os.close(wake_r)
            os.close(wake_w)
            return fds, scratch, env
        for fd in fds:
            os.close(fd)
        if pid is not None:
            reply = {"pid": pid}
        control.send(json.dumps(reply).encode())
        _reap(control)


def main(argv: list[str] | None = None) -> None:
    """``python -m lrgym.leaderboard.worker_template CONTROL_FD``: warm up, then fork workers."""
    from lrgym.leaderboard.libc import c_library

    argv = sys.argv[1:] if argv is None else argv
    parent = os.getppid()
    c_library().prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG: dies with the grader
    if os.getppid() != parent:  # pragma: no cover - the grader ended before the call
        os._exit(0)
    control = socket.socket(fileno=int(argv[0]))
    warm(json.loads(argv[1]) if len(argv) > 1 else None)
    child = serve(control)
    if child is not None:  # a forked worker
        become_worker(*child)


if __name__ == "__main__":
    main()
