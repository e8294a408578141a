"""Grader side of the runner: a pool of isolated worker processes that speak JSON.

:class:`WorkerPool` starts ``n_workers`` fresh interpreters (``python -m lrgym.leaderboard.worker``:
nothing of the grader is inherited but ``sys.path`` without the working directory, and the
environment; :mod:`lrgym.leaderboard.import_paths`), hands them jobs one
at a time as JSON and collects JSON replies with :func:`multiprocessing.connection.wait`.

Jobs belong to *groups* (one group = one policy being evaluated). A group fails as soon as one
of its jobs fails; its other jobs are then dropped (pending) or their workers killed (running):

* the worker replied ``{"ok": false, "reason": ...}`` (policy raised, invalid action, ...);
* the worker died (a crash, ``os._exit``, a signal): "worker process died" — except that a
  worker killed by SIGKILL (the kernel's OOM killer, an operator's ``kill -9``: a fault of the
  machine, not of the policy) has its job run again on a new worker once
  (:data:`lrgym.leaderboard.scheduling.LOST_UNIT_RETRIES`), as the Ray pool does for a lost Ray
  worker; killed again, the group fails;
* the group's wall-clock ``time_limit`` passed (counted from its first dispatched job):
  its running workers are killed.

A killed worker is replaced while jobs remain. Workers that ran a group's code are not reused
for another group when ``isolate_groups`` is set (untrusted submissions): each submission gets
workers (and sandboxes) of its own.

:meth:`WorkerPool.run` is the loop of :class:`lrgym.leaderboard.scheduling.GroupScheduler`,
shared with the Ray pool: hand out jobs, wait for a reply, a death or a deadline, read what
arrived, fail the groups whose time is up. The rules above live there, with the bookkeeping of
groups (:class:`~lrgym.leaderboard.scheduling.Groups`); this module supplies the transport: a
worker process started, sent a job on its stdin, waited on (its reply pipe and its pidfd), read,
and stopped or killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection, wait

from lrgym.leaderboard.import_paths import GRADER_FILES_ENV, child_path_env
from lrgym.baselines.owner_names import owner_tag, sweep_folders
from lrgym.leaderboard.sandbox_folders import remove_folder
from lrgym.leaderboard.scheduling import GroupResult, Groups, GroupScheduler, Job
from lrgym.leaderboard.worker_template import ForkedProcess, TemplateGone, WorkerTemplate
from lrgym.tasks import families_env
from lrgym.tasks.blas import SINGLE_THREAD_ENV

# Job and GroupResult live in lrgym.leaderboard.scheduling; imported from here as before
__all__ = ["Job", "GroupResult", "WorkerPool", "default_workers", "kept_templates"]

MAX_REPLY_BYTES = 256 * 1024 * 1024


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS
        return max(1, os.cpu_count() or 1)


def _child_env(hidden: tuple[str, ...] | list[str] = (), grader_files: tuple[str, ...] | list[str] = ()) -> dict:
    """A worker's environment: the grader's, importing what the grader imports (its ``sys.path``,
    like multiprocessing's spawn) except the working directory and ``hidden``, its sandboxes
    covering ``grader_files`` (:mod:`lrgym.leaderboard.import_paths`), and knowing the families
    the grader registered (:func:`lrgym.tasks.families_env`)."""
    env = {**os.environ, **child_path_env(hidden, grader_files), **families_env()}
    for var, value in SINGLE_THREAD_ENV.items():  # BLAS on one thread unless the grader's env says otherwise
        env.setdefault(var, value)
    return env


#: prefix of a worker's temp folder: ``lrgym-worker-<pid>.<start time>-``, the pid and start time
#: of the process that owns the worker (:func:`scratch_prefix`; older folders:
#: ``lrgym-worker-<pid>-``)
SCRATCH_PREFIX = "lrgym-worker-"


def scratch_prefix() -> str:
    """The start of the name of a temp folder this process owns (a worker's, a Ray actor's copy
    of a submission): :data:`SCRATCH_PREFIX` and this process's
    :func:`~lrgym.baselines.owner_names.owner_tag`, so :func:`sweep_orphaned_scratch` removes
    the folder once this process has ended."""
    return f"{SCRATCH_PREFIX}{owner_tag()}-"


#: seconds :meth:`_Worker.kill` waits for the killed worker to be gone before removing its temp
#: folder (it was 5: on a CI machine with every core busy a killed worker outlived that once and
#: its folder stayed)
KILL_WAIT = 60.0
#: seconds :meth:`_Worker.stop` gives a worker asked to stop (it ends its sandboxes and removes
#: their cgroups) before it kills it: a worker killed so ended abnormally, and is swept after
#: (:meth:`_Worker._close`)
STOP_WAIT = 15.0
#: (process, temp folder) of killed workers that were still exiting when their pool let them go:
#: each folder is removed by the next :func:`sweep_orphaned_scratch` after its process is gone
_EXITING: list = []


def _remove_folder(path: str, tries: int = 20, pause: float = 0.05) -> bool:
    """Remove ``path`` and everything in it; True once it is gone. Right after a worker is reaped
    the last processes of its sandboxes (other PID namespaces, killed with it) may still be
    exiting and holding a folder in it busy, so the removal is retried for up to ≈ 1 s. What a
    policy made unwritable or unreadable in its scratch folder (without namespaces it lies in
    the worker's: ``chmod 500`` on a folder of files) is removed too
    (:func:`~lrgym.leaderboard.sandbox_folders.remove_folder`; ``rmtree`` left such a worker's
    whole folder behind for ever when the worker was killed mid-job, as an ordinary user)."""
    for _ in range(tries):
        remove_folder(path)
        if not os.path.lexists(path):
            return True
        time.sleep(pause)
    return False


def sweep_orphaned_scratch(tmp: str | None = None) -> int:
    """Remove the worker temp folders whose owning process has died (a grader killed with
    ``kill -9``: its workers die with it, by ``PR_SET_PDEATHSIG``, and nobody removed their
    folders), and those of this process's killed workers that have exited since (``_EXITING``).
    Folders of live processes, of other users and of other names are left alone. The owner is
    known by its pid and start time, so a folder whose owner's pid now belongs to another process
    is removed too; an older folder named by the pid only stays while any process has that pid
    (:func:`lrgym.baselines.owner_names.sweep_folders`).
    Returns how many were removed. (Assumes the graders sharing this temp dir share a PID
    namespace, as the processes of one machine or container do.)"""
    removed = 0
    for entry in list(_EXITING):
        process, path = entry
        if process.poll() is not None and _remove_folder(path):
            _EXITING.remove(entry)
            removed += 1
    removed += sweep_folders(SCRATCH_PREFIX, tmp, remove=remove_folder)
    return removed


class _Worker:
    """One ``python -m lrgym.leaderboard.worker`` process: jobs on its stdin, replies on a pipe."""

    def __init__(self, quiet: bool, hidden: tuple[str, ...] | list[str] = (),
                 grader_files: tuple[str, ...] | list[str] = (), template: tuple[WorkerTemplate, list] | None = None):
        job_r, job_w = os.pipe()
        rep_r, rep_w = os.pipe()
        out = subprocess.DEVNULL if quiet else None
        self.stderr = None
        try:
            # quiet: its stderr goes to a private file whose last lines explain a death (_death_reason)
            self.stderr = tempfile.TemporaryFile(prefix="lrgym-worker-") if quiet else None
            # the worker's temp folder (its TMPDIR: the sandboxes' private folders go there), made and
            # removed here, so a worker killed mid-job (time limit, failed group) leaves nothing behind;
            # named after this process, so that if this process is killed a later pool removes it
            sweep_orphaned_scratch()
            self.scratch = tempfile.mkdtemp(prefix=scratch_prefix())
            env = {**_child_env(hidden, grader_files), "TMPDIR": self.scratch}
            try:
                self.process = _forked(template, job_r, rep_w, self.stderr, self.scratch, env)
                if self.process is None:
                    self.process = subprocess.Popen(
                        [sys.executable, "-m", "lrgym.leaderboard.worker", str(rep_w)],
                        stdin=job_r, stdout=out, stderr=self.stderr, pass_fds=(rep_w,),
                        env=env, cwd=self.scratch,
                        close_fds=True,
                        start_new_session=True,  # its own process group: killed as a whole, spared the terminal's ^C
                    )
            except BaseException:
                shutil.rmtree(self.scratch, ignore_errors=True)
                raise
        except BaseException:  # no worker: our ends of its pipes and its stderr file are closed too
            os.close(job_w)
            os.close(rep_r)
            if self.stderr is not None:
                self.stderr.close()
            raise
        finally:
            os.close(job_r)
            os.close(rep_w)
        self.jobs = Connection(job_w, readable=False)
        self.conn = Connection(rep_r, writable=False)
        try:
            self.sentinel = os.pidfd_open(self.process.pid)
        except (AttributeError, OSError):  # pragma: no cover - old kernels / macOS: EOF only
            self.sentinel = None
        self.job: tuple[int, Job] | None = None
        self.groups: set[str] = set()

    @property
    def waitables(self) -> list:
        return [self.conn] if self.sentinel is None else [self.conn, self.sentinel]

    def send(self, index: int, job: Job) -> None:
        self.job = (index, job)
        self.groups.add(job.group)
        self.jobs.send_bytes(json.dumps(job.payload).encode())

    def receive(self) -> tuple[dict | None, str | None]:
        """(reply, None), or (None, why not) when the worker died or broke the protocol."""
        raw = None
        if self.conn.poll():
            try:
                raw = self.conn.recv_bytes(MAX_REPLY_BYTES)
            except (EOFError, OSError):  # dead, or an oversized message
                raw = None
        if raw is None:
            return None, _death_reason(self.process, self.stderr)
        try:
            reply = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            reply = None
        if not isinstance(reply, dict):
            return None, "malformed reply from the worker (protocol violated)"
        return reply, None

    def _close(self) -> None:
        for c in (self.jobs, self.conn, self.stderr):
            if c is None:
                continue
            try:
                c.close()
            except (OSError, ValueError):
                pass
        if self.sentinel is not None:
            os.close(self.sentinel)
            self.sentinel = None
        if self.process.poll() is not None:  # reaped
            # killed or crashed: its sandboxes' cgroups may be left. One that ended normally (exit
            # code 0: stopped, or its job channel closed) removed them itself, and a sweep walks the
            # host's whole cgroup tree: swept once per process before (WorkerPool._begin_run) and here
            if self.process.returncode != 0:
                from lrgym.leaderboard.sandbox_cgroup import sweep_stale_cgroups

                sweep_stale_cgroups()
            if _remove_folder(self.scratch):
                return  # gone, and nothing writes to its temp folder any more
        # still exiting, or a folder in it still busy: removed by the next sweep (sweep_orphaned_scratch)
        _EXITING.append((self.process, self.scratch))

    def signal_kill(self) -> None:
        """SIGKILL the worker process, at once and from any thread, without waiting for it: its
        sandboxes die with it (PDEATHSIG); whoever waits on it (:attr:`waitables`) reaps it with
        :meth:`kill`, which removes what it left. Sent through its pidfd where there is one, so it
        never reaches another process that took a reaped worker's pid."""
        try:
            if self.sentinel is not None:
                signal.pidfd_send_signal(self.sentinel, signal.SIGKILL)
            elif self.process.poll() is None:  # pragma: no cover - old kernels / macOS
                self.process.kill()
        except (ProcessLookupError, OSError):  # already gone
            pass

    def kill(self) -> None:
        """SIGKILL the worker and its process group (its sandboxes die with it: PDEATHSIG)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, AttributeError):
            if self.process.poll() is None:
                self.process.kill()
        try:  # a killed process dies at once; on a machine whose cores are all busy it may take seconds
            self.process.wait(KILL_WAIT)
        except subprocess.TimeoutExpired:  # pragma: no cover - left to a later sweep (_close)
            pass
        self._close()

    def stop(self) -> None:
        """Ask the worker to finish (it ends its sandboxes), kill it if it does not."""
        try:
            self.jobs.send_bytes(b'{"op": "stop"}')
        except (BrokenPipeError, OSError):
            pass
        try:
            self.process.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            self.kill()
            return
        self._close()


def _forked(template: tuple[WorkerTemplate, list] | None, job_r: int, rep_w: int, stderr, scratch: str,
            env: dict) -> ForkedProcess | None:
    """A worker with environment ``env`` forked from ``template`` (the template, the run's suite
    envs), its stdout to /dev/null, or the grader's when ``stderr`` is None: not quiet; None when
    there is no template or it has ended (the caller starts a fresh interpreter instead)."""
    if template is None:
        return None
    out = os.open(os.devnull, os.O_WRONLY) if stderr is not None else 1
    try:
        return template[0].fork(job_r, rep_w, out, stderr.fileno() if stderr is not None else 2, scratch,
                                env=env, envs=template[1])
    except TemplateGone:
        return None
    finally:
        if stderr is not None:
            os.close(out)


def _death_reason(process, stderr=None) -> str:
    """Why a worker died, with the last lines it wrote to stderr (control characters removed)."""
    from lrgym.leaderboard.sandbox import death_reason
    from lrgym.leaderboard.text import clean

    try:
        code = process.wait(1)
    except subprocess.TimeoutExpired:
        code = None
    reason = death_reason(code, who="worker process")
    tail = ""
    if stderr is not None:
        try:
            stderr.seek(0, os.SEEK_END)
            stderr.seek(max(0, stderr.tell() - 4000))
            tail = "\n".join(clean(stderr.read().decode("utf-8", "replace")).splitlines()[-20:])
        except (OSError, ValueError):
            tail = ""
    return reason + (f"\n--- last lines of the worker's stderr ---\n{tail}" if tail.strip() else "")


def _start_template(env: dict, quiet: bool, envs: list) -> tuple[WorkerTemplate, str]:
    """A new template with a temp folder of its own (named as a worker's: swept with them)."""
    folder = tempfile.mkdtemp(prefix=scratch_prefix())
    try:
        return WorkerTemplate(env, folder, quiet, envs), folder
    except BaseException:
        _remove_folder(folder)
        raise


def _close_template(template: WorkerTemplate, folder: str) -> None:
    """End ``template`` (its workers die with it) and remove its folder."""
    template.close()
    _remove_folder(folder)


#: the environment variables a template's warm-up may read (the interpreter's settings and
#: paths, lrgym's, Numba's, NumPy's and the BLAS and OpenMP libraries'): a kept template serves
#: a run only if the run's worker environment has the same of these, value for value. The
#: others (the grader files its workers' sandboxes cover, a user's own variables) are read by a
#: worker when it works: each forked worker takes its run's whole environment.
IMPORT_TIME_ENV = ("PYTHON", "LRGYM_", "NUMBA_", "NPY_", "OMP_", "OPENBLAS_", "MKL_", "BLIS_", "VECLIB_",
                   "NUMEXPR_", "GOTO", "LD_")
#: read by a worker at each job, whatever the template read (the sandboxes' covered files)
_PER_RUN_ENV = (GRADER_FILES_ENV,)


def _template_key(env: dict, quiet: bool) -> tuple:
    """What must agree for a kept template to fork a run's workers: the interpreter, whether the
    template's own output is quiet, and the :data:`IMPORT_TIME_ENV` variables of the workers'
    environment."""
    return (sys.executable, quiet, tuple(sorted((k, v) for k, v in env.items()
                                                if k.startswith(IMPORT_TIME_ENV) and k not in _PER_RUN_ENV)))


#: the templates :func:`kept_templates` keeps ({key: (template, folder)}, the least recently used
#: first), None outside it
_KEPT: dict | None = None
#: how many templates :func:`kept_templates` keeps at most (≈ 100 – 150 MB each): a run whose
#: workers import otherwise than the kept ones' ends the least recently used
KEPT_TEMPLATES = 2


def _forget_least_recent(in_use) -> None:
    """End the least recently used kept templates beyond :data:`KEPT_TEMPLATES` (not ``in_use``)."""
    for key in list(_KEPT)[:-KEPT_TEMPLATES]:
        if _KEPT[key] is not in_use:
            _close_template(*_KEPT.pop(key))


@contextlib.contextmanager
def kept_templates():
    """Within this block, local pools keep their worker templates for the next run instead of
    ending each after its run's last worker, and every run (one of a single worker too) forks
    its workers from a kept template whose workers import as its own do (:func:`_template_key`),
    starting one only if there is none (and ending the least recently used beyond
    :data:`KEPT_TEMPLATES`). A run that grades one submission spends ≈ 1.9 CPU-s of
    its ≈ 4 starting and warming its template (2026-12-07, 2-core EPYC VM): a grader that runs
    several runs (the test suite; a service grading one submission per run) pays that once per kind of
    worker. The template never runs a job, so nothing of one run reaches the next: each worker
    is still forked fresh from it, with its run's environment. The kept templates end, and their
    folders go, when the block ends (a template that ended meanwhile is replaced). Not
    thread-safe: one thread's runs at a time. Nested blocks keep them until the outermost ends."""
    global _KEPT
    if _KEPT is not None:
        yield
        return
    _KEPT = {}
    try:
        yield
    finally:
        kept, _KEPT = _KEPT, None
        for template in kept.values():
            _close_template(*template)


class WorkerPool(GroupScheduler):
    """Run groups of JSON jobs on isolated worker processes (see the module docstring).

    Args:
        n_workers: processes (default: all cores).
        time_limit: wall-clock seconds per group, or None.
        isolate_groups: never run two groups' jobs in the same worker process.
        quiet: send the workers' stdout and stderr to /dev/null.
        grader_files: the grader's own files (its store, a private suite's key), which the
            workers' sandboxes cover (:func:`lrgym.leaderboard.import_paths.grader_files`).
        fork_workers: a run that starts more than one worker (or any run inside
            :func:`kept_templates`) forks them from a warm template
            (:mod:`lrgym.leaderboard.worker_template`: ≈ 1.5 CPU-s less per worker) instead of
            starting each interpreter; False: every worker is started.
    """

    def __init__(self, n_workers: int | None = None, time_limit: float | None = None,
                 isolate_groups: bool = False, quiet: bool = True, grader_files: tuple[str, ...] | list[str] = (),
                 fork_workers: bool = True):
        self.n_workers = max(1, n_workers or default_workers())
        self.time_limit = time_limit
        self.isolate_groups = isolate_groups
        self.quiet = quiet
        self.grader_files = tuple(grader_files)
        self.fork_workers = fork_workers
        self._template: tuple[WorkerTemplate, str] | None = None  # (the run's template, its temp folder)
        self._use_template = False
        self._template_envs: list = []  # (env keywords, instances) the run's template warms

    def _begin_run(self, jobs: list[Job]) -> None:
        """Before the first run's first worker: remove the sandbox cgroups graders killed earlier
        left (:func:`~lrgym.leaderboard.sandbox_cgroup.sweep_stale_cgroups_once`, once per
        process). After that the pool sweeps when a worker ended abnormally only (:meth:`_Worker._close`).
        A run that will start more than one worker forks them from a template (started with its
        first worker, :meth:`_start`)."""
        from lrgym.leaderboard.sandbox_cgroup import sweep_stale_cgroups_once

        sweep_stale_cgroups_once()
        groups = len({job.group for job in jobs})
        starts = max(min(self.n_workers, len(jobs)), groups if self.isolate_groups else 0)  # at least
        self._use_template = self.fork_workers and (starts > 1 or _KEPT is not None)
        self._template_envs = WorkerTemplate.envs_of(job.payload for job in jobs) if self._use_template else []

    def _start(self) -> _Worker:
        return _Worker(self.quiet, grader_files=self.grader_files, template=self._worker_template())

    def _worker_template(self) -> tuple[WorkerTemplate, list] | None:
        """The run's template and its suite envs: started at its first worker, and again after
        one has ended (killed: its workers died with it); inside :func:`kept_templates`, the kept
        one whose workers import as this run's do, if there is one. None when the run starts its
        workers."""
        if not self._use_template:
            return None
        if self._template is not None and self._template[0].gone:
            self._end_template()
        if self._template is None:
            env = _child_env((), self.grader_files)
            key = _template_key(env, self.quiet)
            kept = _KEPT.pop(key, None) if _KEPT is not None else None
            if kept is not None and not kept[0].gone:
                self._template = kept
            else:
                if kept is not None:  # (ended: killed, or failed to start)
                    _close_template(*kept)
                self._template = _start_template(env, self.quiet, self._template_envs)
            if _KEPT is not None:
                _KEPT[key] = self._template  # (the most recently used last)
                _forget_least_recent(in_use=self._template)
        return self._template[0], self._template_envs

    def _end_template(self) -> None:
        """End the run's template (after its last worker) and remove its folder, unless
        :func:`kept_templates` keeps it for the next run."""
        if self._template is not None:
            template, self._template = self._template, None
            if _KEPT is None or template not in _KEPT.values() or template[0].gone:
                _close_template(*template)

    def _end_run(self) -> None:
        self._end_template()

    def _send(self, groups: Groups, workers: list[_Worker], w: _Worker, index: int, job: Job) -> None:
        try:
            w.send(index, job)
        except (BrokenPipeError, OSError):  # it died before taking the job
            reason = _death_reason(w.process, w.stderr)
            self._discard(workers, w)
            self._fail(groups, workers, job.group, reason)

    def _wait(self, busy: list[_Worker], timeout: float | None) -> list[_Worker]:
        ready = wait([x for w in busy for x in w.waitables], timeout)
        return [w for w in busy if any(x in ready for x in w.waitables)]

    def _collect(self, groups: Groups, workers: list[_Worker], w: _Worker, on_reply) -> None:
        """Read the reply (or the death) of a ready worker."""
        reply, problem = w.receive()
        self._answer(groups, workers, w, reply, problem, on_reply)

    def _end(self, w: _Worker, graceful: bool) -> None:
        w.stop() if graceful else w.kill()
