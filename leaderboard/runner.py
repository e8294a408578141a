"""Run policies over a suite on all cores, score every run, record one store entry per policy.

::

    specs = baseline_specs()                     # or [submission_spec("my.py:MyPolicy", "mine")]
    outcomes = run_suite(specs, "v2", store="results.sqlite")   # the default suite; opened once its place is checked

Each policy is a *group* of jobs (one job = instances of one family, with all the suite's seeds
for a trusted baseline, with one seed in the sandbox: :func:`job_layout`) on a
:class:`~lrgym.leaderboard.pool.WorkerPool`. The workers are the grader's: they build the env from
the suite's settings and the policy's allowed choices (:mod:`lrgym.leaderboard.settings`), record
the trajectories themselves and ask the policy for actions — a submission in its own sandboxed
process (:mod:`lrgym.leaderboard.sandbox`), a trusted baseline in the worker. As soon as all of a
policy's jobs are in, the trajectories are checked against the suite (one per task and seed, the
suite's length unless diverged, the references' initial loss), scored from their losses against
the references (:func:`lrgym.leaderboard.scoring.run_score`,
:func:`~lrgym.leaderboard.scoring.steps_to_target`), summarised
(:func:`~lrgym.leaderboard.scoring.aggregate`) and written as one entry in one transaction
(:meth:`~lrgym.leaderboard.store.ResultStore.add_entry_durably`: a locked database loses
nothing). A policy that fails (raises, hangs, invalid or NaN action, killed, over a limit) is
recorded as a failed entry with its reason, control characters removed.

The run's parts live in modules of one concern each, imports pointing down in this order:
:mod:`~lrgym.leaderboard.runner_specs` (what is evaluated: the specs, a submission checked before
it runs), :mod:`~lrgym.leaderboard.runner_entries` (a finished group made an entry),
:mod:`~lrgym.leaderboard.runner_jobs` (an entry cut into the pool's jobs) and
:mod:`~lrgym.leaderboard.runner_scores` (an entry's scores and aggregates). This module runs them
and re-exports what other code imports from it.
"""

from __future__ import annotations

import contextlib
import os
from typing import Callable, Sequence

from lrgym.leaderboard.limits import (MIN_MEMORY_MB, check_memory_limit, check_time_limit, check_workers,
                                     machine_memory_mb, plan_workers)
from lrgym.leaderboard.pool import GroupResult, Job, default_workers
from lrgym.leaderboard.references import References, load_references
from lrgym.leaderboard.runner_entries import EntryContext, Outcome, cpu_description, finish_entry, package_versions
from lrgym.leaderboard.runner_jobs import FAMILY_COST, JobUnit, entry_layouts, grading_jobs, job_layout
from lrgym.leaderboard.runner_scores import BOOTSTRAP_REPS, score_matrix, score_runs, summarize
from lrgym.leaderboard.runner_specs import (PolicySpec, baseline_specs, baselines_without_weights, check_zip_flags,
                                            checked_submission, submission_spec)
from lrgym.leaderboard.store import KeptResultError, NameTakenError, ResultStore, store_files
from lrgym.leaderboard.suite import DEFAULT_SUITE, Suite, get_suite
from lrgym.leaderboard.text import check_owner, clean, name_key

#: what other modules and tests import from here (its own names and those of the modules it runs)
__all__ = ["BOOTSTRAP_REPS", "DEFAULT_MEMORY_MB", "DEFAULT_TIME_LIMIT", "FAMILY_COST", "Outcome", "PolicySpec",
           "baseline_specs", "baselines_without_weights", "check_places", "check_zip_flags", "checked_submission", "cpu_description", "job_layout",
           "package_versions", "run_suite", "score_matrix", "score_runs", "submission_spec", "summarize"]

DEFAULT_TIME_LIMIT = 1800.0  # s of wall clock per submission
DEFAULT_MEMORY_MB = 4096.0  # address space per policy process


def run_suite(
    specs: list[PolicySpec],
    suite: Suite | str = DEFAULT_SUITE,
    *,
    store: ResultStore | str | os.PathLike | None = None,
    references: References | None = None,
    n_workers: int | None = None,
    time_limit: float | None = None,
    memory_mb: float | None = None,
    isolate: bool | None = None,
    owner: str | None = None,
    sandbox_baselines: bool = False,
    store_patience: float = 600.0,
    on_progress: Callable[[int, int], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    log: Callable[[str], None] | None = None,
    quiet_workers: bool = True,
    backend=None,
    grader_files: Sequence[str | os.PathLike] = (),
) -> list[Outcome]:
    """Evaluate every spec on ``suite``; record each as soon as it is done (if ``store``).

    Submissions run sandboxed (``sandbox_baselines``: the baselines too, as in the speed
    measurement of the isolation). ``time_limit`` (seconds of wall clock per policy, also its
    CPU-time limit) and ``memory_mb`` (per policy process) default to
    :data:`DEFAULT_TIME_LIMIT` / :data:`DEFAULT_MEMORY_MB` and are checked
    (:mod:`lrgym.leaderboard.limits`); ``isolate`` (never share a worker between policies)
    defaults to true when any spec is a submission. ``owner`` owns the submissions' names
    (default: the user running the grader). ``store_patience``: how long a locked database is
    waited for before the entry is left in the store's side file. ``backend``
    (:mod:`lrgym.baselines.backend`: ``"local"``, the default, or ``"ray"``) runs the jobs
    (:func:`lrgym.leaderboard.backends.grader_pool`); the results are the same. ``grader_files``:
    the grader's own files besides the store and a private suite's key and references folder (those
    of :func:`~lrgym.leaderboard.private.private_suite`'s :attr:`~lrgym.leaderboard.suite.Suite.key_file`
    are added here), which no policy may read: every sandbox covers them, the store's files and the commands' output
    folder (:func:`lrgym.baselines.outputs.runs_dir`: exports of a private board name its hidden
    instances) where its bound folders show them (:func:`lrgym.leaderboard.host_start.masked_dirs`).
    ``store``: an open :class:`~lrgym.leaderboard.store.ResultStore`, or its path: opened here
    (and closed on return) only once its place is accepted, so a refused run makes no file. The
    places a run with sandboxes would show to its policies are refused with a ``ValueError``
    before anything is opened, written or run (:func:`check_places`: a store the sandboxes could
    cover only file by file, a working directory they cannot cover, a private suite's key where
    a run not naming it would show it). An open ``store`` exists before any refusal, but a refused
    call writes nothing to it: a bad argument (names, limits, ``n_workers``, owner, sandbox), a
    place or a submission's name already taken is refused before the store's waiting side files
    (results of earlier runs, :meth:`~lrgym.leaderboard.store.ResultStore.flush_pending`) are
    written; only a name that one of those waiting results holds is refused after that flush
    (that result is then stored, as the next run would store it, and nothing of this call's).
    """
    suite = get_suite(suite)
    names = [s.name for s in specs]
    if len({name_key(n) for n in names}) != len(names):
        raise ValueError(f"duplicate entry names in {names}")
    check_places(specs, store, sandbox_baselines=sandbox_baselines, suite=suite)  # before the store is opened or written
    untrusted = any(s.kind != "baseline" for s in specs)
    time_limit = check_time_limit(DEFAULT_TIME_LIMIT if time_limit is None and untrusted else time_limit) \
        if (time_limit is not None or untrusted) else None
    if memory_mb is None:  # the default, on a machine with less memory: what it has
        memory_mb = min(DEFAULT_MEMORY_MB, max(MIN_MEMORY_MB, machine_memory_mb() // 2))
    memory_mb = check_memory_limit(memory_mb)
    check_workers(n_workers)  # (until 2026-12-07 after the store was opened, flushed and the references read)
    if isolate is None:
        isolate = untrusted
    owner = owner if owner is not None else _current_user()
    if untrusted:  # the submissions' names are owned (baselines own none: their runs need no valid user name)
        owner = check_owner(owner)
    from lrgym.baselines.backend import get_backend
    from lrgym.leaderboard.backends import grader_pool

    backend = get_backend(backend)
    if untrusted or sandbox_baselines:
        from lrgym.leaderboard.private import is_private

        _check_sandbox(backend, log, private=is_private(suite) and untrusted)
    with contextlib.ExitStack() as opened:
        if isinstance(store, (str, os.PathLike)):  # a path: opened now that its place is accepted, closed on return
            store = opened.enter_context(ResultStore(store))
        if store is not None:
            # before anything runs; the write re-checks it (another grader may claim it meanwhile). Checked
            # first before the flush, so that a refused call writes nothing, then after it: a result
            # waiting in a side file may hold the name
            _refuse_taken_names(specs, store, suite, owner)
            store.flush_pending(log=log)
            _refuse_taken_names(specs, store, suite, owner)
        refs = references if references is not None else load_references(suite, n_workers=n_workers, log=log,
                                                                          backend=backend)
        # the memory cap is this machine's: on Ray each node's sandboxes keep their own limits
        workers, note = plan_workers(n_workers, len(specs) * len(suite.tasks()),
                                     memory_mb if (untrusted or sandbox_baselines) and not backend.is_ray else None,
                                     backend.default_workers() if backend.is_ray else default_workers())
        layouts = entry_layouts(specs, suite, workers, sandbox_baselines)
        jobs = grading_jobs(specs, suite, memory_mb, time_limit, sandbox_baselines, layouts)
        workers = min(workers, len(jobs))
        if note and log is not None:
            log(f"{workers} worker(s): {note}")
        context = EntryContext(suite, refs, package_versions(), cpu_description(), owner)
        recorder = _Recorder(specs, context, store, len(jobs), layouts, store_patience, on_progress, on_outcome, log)
        # the store's files and $LRGYM_STORE's, the commands' output folder (a private board's exports)
        # and the given grader files: covered in every sandbox whose bound folders show them
        from lrgym.baselines.outputs import runs_dir

        stores = [*(store.grader_files() if store is not None else ()), *(f for s in _named_store() for f in store_files(s))]
        key = [suite.key_file, suite.key_file + ".references"] if suite.key_file is not None else []  # a private suite's
        files = [*stores, str(runs_dir()), *key, *map(os.fspath, grader_files)]
        pool = grader_pool(backend, workers, time_limit=time_limit, isolate_groups=isolate, quiet=quiet_workers,
                           grader_files=files)
        pool.run(jobs, on_reply=recorder.on_reply, on_group_done=recorder.on_group_done)
        order = {n: i for i, n in enumerate(names)}
        return sorted(recorder.outcomes, key=lambda o: order[o.spec.name])


def _refuse_taken_names(specs: Sequence[PolicySpec], store: ResultStore, suite: Suite, owner: str) -> None:
    """``NameTakenError`` (its reason) for the first submission whose name ``owner`` may not take
    on ``suite`` in ``store`` (:meth:`~lrgym.leaderboard.store.ResultStore.name_available`: read only)."""
    for s in specs:
        taken = s.kind == "submission" and store.name_available(s.name, suite.version, owner)
        if taken:
            raise NameTakenError(taken)


def check_places(specs: Sequence[PolicySpec], store: ResultStore | str | os.PathLike | None, *,
                 sandbox_baselines: bool = False, suite: Suite | None = None) -> None:
    """Refuse the grader's places that a run of ``specs`` would show to its sandboxed policies,
    before a store is opened or anything runs (``ValueError``, naming the place and what to do;
    :mod:`lrgym.leaderboard.grader_places`). Refused: a store (an open one, or
    the path :func:`run_suite` or the CLI is about to open) whose journals the sandboxes could
    cover only file by file (:func:`~lrgym.leaderboard.grader_places.check_store_place`: one
    lying directly in the venv's own folder or in ``/etc``; the run's and ``$LRGYM_STORE``'s),
    and a working directory or ``$LRGYM_HIDDEN_DIRS`` folder that is itself bound into every
    sandbox, so none covers it, or that is (or lies in) a folder the policy imports its modules
    from (:func:`~lrgym.leaderboard.grader_places.check_hidden_dirs`: the grader run from its
    venv's folder or from its site-packages); these only when a policy runs sandboxed (not for
    trusted baselines alone, without ``sandbox_baselines``). And, whatever runs, a private
    ``suite``'s key (:attr:`~lrgym.leaderboard.suite.Suite.key_file`) where the sandbox of a run
    not naming it would show it (:func:`~lrgym.leaderboard.grader_places.check_key_place`, as
    every command taking ``--private`` refuses it). ``run_suite`` and the commands that grade
    submissions call it before opening their store: a refused call leaves nothing behind."""
    from lrgym.leaderboard.grader_places import check_hidden_dirs, check_key_place, check_store_place

    if suite is not None and suite.key_file is not None:  # until 2026-12-07 only the CLI's --private checked it
        check_key_place(suite.key_file)
    if not (sandbox_baselines or any(s.kind != "baseline" for s in specs)):
        return
    check_hidden_dirs()
    if store is not None:
        check_store_place(store.path if isinstance(store, ResultStore) else store)
    for named in _named_store():
        check_store_place(named)


def _named_store() -> list[str]:
    """``$LRGYM_STORE``'s path if set: a results store this grader knows of besides the run's
    (another one when ``--db`` or ``store=`` names a different one), which every sandbox covers
    too (:func:`run_suite`'s grader files) and :func:`check_places` refuses where it could cover
    it only file by file. Until 2026-12-07 it was not covered in a run writing to another store,
    and the policies of the user-namespace sandbox read it."""
    named = os.environ.get("LRGYM_STORE")
    return [named] if named else []


def _check_sandbox(backend, log: Callable[[str], None] | None, private: bool = False) -> None:
    """The grader's sandbox, before anything runs. A bad ``$LRGYM_SANDBOX``, ``require`` where
    this machine cannot confine a policy, or a ``private`` suite's submissions where they would run
    without namespaces (:func:`~lrgym.leaderboard.sandbox.private_refusal`), is the grader's error
    (``ValueError``: nothing runs or is stored), not a failure of each submission; the weak mode
    without namespaces is said through ``log`` (it is also stored with every entry). On Ray each
    node probes its own sandbox: only the setting is checked here."""
    from lrgym.leaderboard import sandbox

    sandbox.setting()
    try:
        refusal = sandbox.private_refusal(here=not backend.is_ray) if private else None
        confined = None if backend.is_ray else sandbox.mode()
    except sandbox.SandboxError as exc:
        raise ValueError(str(exc)) from None
    if refusal:
        raise ValueError(refusal)
    if confined is not None and confined["kind"] == "none" and log is not None:
        log(f"warning: {confined['note']}")


def _current_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry
        return f"uid{os.getuid()}"


class _Recorder:
    """Turns finished groups into stored entries (one transaction each) and reports progress."""

    def __init__(self, specs, context: EntryContext, store, n_jobs: int, layouts: dict[str, list[JobUnit]],
                 patience: float, on_progress, on_outcome, log):
        self.by_name = {s.name: s for s in specs}
        self.layouts = layouts  # each entry's jobs, in the order of its replies
        self.left = {s.name: len(layouts[s.name]) for s in specs}
        self.context, self.store, self.n_jobs, self.patience = context, store, n_jobs, patience
        self.on_progress, self.on_outcome, self.log = on_progress, on_outcome, log
        self.done = 0
        self.outcomes: list[Outcome] = []

    def on_reply(self, job: Job, reply: dict) -> None:
        self.done += 1
        self.left[job.group] -= 1
        if self.on_progress is not None:
            self.on_progress(self.done, self.n_jobs)

    def on_group_done(self, result: GroupResult) -> None:
        outcome = finish_entry(self.by_name[result.name], result, self.context, self.layouts[result.name])
        if self.store is not None:
            try:
                entry_id = self.store.add_entry_durably(outcome.entry, outcome.runs, patience=self.patience,
                                                        log=self.log)
            except KeptResultError as exc:  # name taken during the run, or refused: kept, said, never dropped
                entry_id = None
                outcome.kept, outcome.kept_message = exc.kept, str(exc)
                if self.log is not None:
                    self.log(f"warning: {exc}")
            except Exception as exc:  # noqa: BLE001 - one entry's store error must not lose the others'
                entry_id = None
                if self.log is not None:
                    self.log(f"error: entry {result.name!r} could not be stored "
                             f"({type(exc).__name__}: {clean(str(exc), False)[:300]})")
            if entry_id is not None:
                outcome.entry = self.store.entry(entry_id)
        self.outcomes.append(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        if result.failed:  # its remaining jobs are dropped
            self.done += self.left[result.name]
            self.left[result.name] = 0
            if self.on_progress is not None:
                self.on_progress(self.done, self.n_jobs)
