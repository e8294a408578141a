"""The rules the grader's pools share: groups of jobs that fail as a whole, a deadline per group,
workers kept to one group, handed out jobs one at a time.

Two pools run the grader's jobs: :class:`lrgym.leaderboard.pool.WorkerPool` (local worker
processes) and :class:`lrgym.leaderboard.ray_pool.RayWorkerPool` (the same worker processes
inside Ray actors). They differ only in how a *unit* (a worker, an actor) is started, given a
job, waited on, read and ended; what to do with it is decided here, once, by
:class:`GroupScheduler`, and each pool supplies the transport as five methods:

* ``_start()``: a new idle unit;
* ``_send(groups, units, unit, index, job)``: hand it job ``index`` (and set ``unit.job``);
* ``_wait(busy, timeout)``: the busy units that have something to read (after at most
  ``timeout`` seconds, or as soon as one has when ``timeout`` is None);
* ``_collect(groups, units, unit, on_reply)``: read what a ready unit has, usually by passing
  ``(reply, None)`` or ``(None, why it broke)`` on to :meth:`GroupScheduler._answer`;
* ``_end(unit, graceful)``: stop an idle unit (it ends its sandboxes) or kill a busy one;
* ``_ready(unit)`` (optional, default True): whether a started unit can take a job yet. A
  unit that is not ready (a Ray actor the cluster has no free CPU for) is *starting*: it is
  given no job, its place does not count towards a group's share, and ``_wait`` is also given
  it, to report it once it is ready (a local worker is ready when started).

A unit has ``job`` (``(index, Job)`` while busy, else None) and ``groups`` (the groups whose
jobs it was given: with ``isolate_groups`` a unit serves one group only).

The rules:

* jobs are handed out in order, to ready units only, except that a job never runs at the same
  time as a job of its group whose ``apart`` set it meets (:attr:`Job.apart`: it waits, and
  the next job that meets none runs first); a unit busy, idle or starting counts
  towards ``n_workers``, and no more units are started than there are jobs to run. A job waits
  in the queue, its group not charged, until a unit is ready for it: a unit that never gets
  ready (a cluster without a free CPU for it) never holds a job, so the idle ready units run
  everything;
* with ``isolate_groups`` (untrusted submissions) an idle unit that served another group is
  ended (gracefully) before the next group's job is handed out, so each submission gets units
  (workers, sandboxes) of its own;
* a group fails as soon as one of its jobs fails (a failed reply, a unit that broke): its
  pending jobs are dropped and its busy units killed (ended, not gracefully) and let go; a unit
  lost to the machine (its grader worker killed by SIGKILL; with Ray, its actor or node gone) is
  let go and its job runs again on a new one, :data:`LOST_UNIT_RETRIES` times at most;
* a group's wall-clock ``time_limit`` counts from its first handed-out job, at the rate of the
  share of the units it could use that it holds (a pending job kept back by its own group's
  ``apart`` jobs is no unit it could use): a group running on all the units it has jobs
  for (up to ``n_workers``) is charged its wall clock, one kept to half of them by other
  groups' jobs half of it. So a group, or a hostile submission before it holding units until
  its own limit, cannot make the next group time out by starving it; a group that hangs on every
  unit it holds still fails after ``time_limit`` s. When its charged time reaches the limit
  while a job of the group is running, the group fails with "timeout: exceeded the wall-clock
  limit of T s";
* at the end (or on an exception) idle units are stopped and busy ones killed, all at once
  (``_end_all``).

:class:`Groups` keeps the books of a run: each group's replies in job order, jobs left,
deadline, result.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable

from lrgym.baselines.backend import RAY_RETRIES
from lrgym.baselines.interrupts import defer_stop_signals

__all__ = ["Job", "GroupResult", "Groups", "GroupScheduler"]


#: how many times a job runs again, on a new unit, when the unit running it is lost to a fault of
#: the grader's machines rather than of the submission: a Ray worker or its node gone (the Ray
#: pool), or the grader worker killed by SIGKILL (the kernel's OOM killer, an operator's
#: ``kill -9``; the pool kills only units it lets go, which are never read again). The lost
#: attempt's time stays charged to its group, the replies received are kept; lost once more, the
#: group fails saying so. As often as the Ray backend's tasks (:data:`~lrgym.baselines.backend.RAY_RETRIES`).
LOST_UNIT_RETRIES = RAY_RETRIES


@dataclass
class Job:
    """One job of a group. ``apart``: what the job works on that no other job of its group may
    work on at the same time (a sandboxed entry's ``(family, instance)`` tasks: the grader's
    :func:`lrgym.leaderboard.runner_jobs.grading_jobs`). Two sandboxes running at once can signal each other
    through the machine's kernel whatever their namespaces (a ``flock`` on a read-only system
    file passed 64 bits at once between a review's two sandboxes, 2026-12-05), so the seeds of one
    instance, each a job of its own, ran at once on two workers as a population: each trying
    another LR, all following the best (what jobs of one seed were made against,
    :func:`lrgym.leaderboard.runner.job_layout`)."""

    group: str
    payload: dict  # JSON-able; sent to the worker as is
    cost: float = 1.0  # rough relative cost (only for ordering)
    apart: frozenset = frozenset()


def _killed(problem: str | None) -> bool:
    """Whether a unit's ``problem`` says its grader worker was killed by SIGKILL (the words of
    :func:`lrgym.leaderboard.sandbox.death_reason`, which both pools' workers report)."""
    import signal

    from lrgym.leaderboard.sandbox import death_reason

    return problem is not None and problem.startswith(death_reason(-signal.SIGKILL, who="worker process"))


def _kept_back(job: Job, running: list[Job]) -> bool:
    """Whether ``job`` must wait: a running job of its group shares something of its ``apart``."""
    return bool(job.apart) and any(r.group == job.group and r.apart & job.apart for r in running)


@dataclass
class GroupResult:
    """Replies of one group, in job order, or the reason it failed."""

    name: str
    replies: list = field(default_factory=list)
    failed: bool = False
    reason: str | None = None
    started: float | None = None
    finished: float | None = None

    @property
    def elapsed(self) -> float:
        if self.started is None or self.finished is None:
            return 0.0
        return self.finished - self.started


class Groups:
    """Bookkeeping of a run: each group's replies in job order, jobs left, time charged, result."""

    def __init__(self, jobs: list[Job], time_limit: float | None, on_group_done):
        self.order: list[str] = list(dict.fromkeys(job.group for job in jobs))
        self.remaining = {g: 0 for g in self.order}
        self.slot_of: list[int] = []
        for job in jobs:
            self.slot_of.append(self.remaining[job.group])
            self.remaining[job.group] += 1
        self.results = {g: GroupResult(g, replies=[None] * self.remaining[g]) for g in self.order}
        self.pending = deque(enumerate(jobs))
        self.charged: dict[str, float] = {}  # seconds charged against the time limit, per started group
        self.rates: dict[str, float] = {}  # the rate of each group's clock since the last advance
        self.last = time.monotonic()
        self.time_limit = time_limit
        self.on_group_done = on_group_done

    def started(self, group: str) -> None:
        res = self.results[group]
        if res.started is None:
            res.started = time.monotonic()
            self.charged[group] = 0.0

    def advance(self, rates: dict[str, float]) -> None:
        """Charge each group the time since the last advance at the rate then in force, and put
        ``rates`` (group -> share of its usable units it holds now) in force."""
        now = time.monotonic()
        for group, rate in self.rates.items():
            if group in self.charged:
                self.charged[group] += (now - self.last) * rate
        self.last, self.rates = now, rates

    def left(self, group: str) -> float:
        """Seconds of ``group``'s time limit not charged yet (inf: no limit)."""
        if self.time_limit is None or group not in self.charged:
            return math.inf
        return self.time_limit - self.charged[group]

    def finish(self, group: str) -> None:
        res = self.results[group]
        if res.finished is None:
            res.finished = time.monotonic()
            if res.started is None:
                res.started = res.finished
            if self.on_group_done is not None:
                self.on_group_done(res)

    def fail(self, group: str, reason: str) -> bool:
        """Mark ``group`` failed and drop its pending jobs; False if it had already ended."""
        res = self.results[group]
        if res.failed or res.finished is not None:
            return False
        res.failed, res.reason, res.replies = True, reason, []
        for item in [p for p in self.pending if p[1].group == group]:
            self.pending.remove(item)
        self.finish(group)
        return True

    def replied(self, index: int, job: Job, reply: dict) -> bool:
        """Store a successful reply; True if it counts (its group has not failed)."""
        res = self.results[job.group]
        if res.failed:
            return False
        res.replies[self.slot_of[index]] = reply
        self.remaining[job.group] -= 1
        if self.remaining[job.group] == 0:
            self.finish(job.group)
        return True


class GroupScheduler(ABC):
    """The run loop and the rules of the module docstring; a subclass sets ``n_workers``,
    ``time_limit`` and ``isolate_groups`` and supplies the transport (``_start``, ``_send``,
    ``_wait``, ``_collect``, ``_end``)."""

    n_workers: int
    time_limit: float | None
    isolate_groups: bool
    #: units lost with their job during the last run (:data:`LOST_UNIT_RETRIES`: each cost a retry)
    lost_workers: int = 0

    def run(
        self,
        jobs: list[Job],
        on_reply: Callable[[Job, dict], None] | None = None,
        on_group_done: Callable[[GroupResult], None] | None = None,
    ) -> dict[str, GroupResult]:
        """Run every job; returns one :class:`GroupResult` per group (in first-job order).

        ``on_reply(job, reply)`` is called for every successful reply and
        ``on_group_done(result)`` once per group as soon as it has finished or failed: the
        caller can record it right away (one store transaction per finished entry).
        """
        self.lost_workers, self._attempts = 0, {}  # job index -> units lost running it
        self._begin_run(jobs)
        groups = Groups(jobs, self.time_limit, on_group_done)
        units: list = []
        try:
            while groups.pending or any(u.job is not None for u in units):
                self._dispatch(groups, units)
                busy = [u for u in units if u.job is not None]
                starting = [u for u in units if u.job is None and not self._ready(u)]
                if not busy and not starting:
                    continue
                self._charge(groups, units)
                ready = self._wait(busy + starting, self._timeout(groups))
                for u in busy:  # a unit read before may have failed the group of another one
                    if u in units and u.job is not None and u in ready:
                        self._collect(groups, units, u, on_reply)
                self._expire(groups, units)
        finally:
            try:
                self._end_all(units)
            finally:
                self._end_run()
        for g in groups.order:  # groups with no job left unfinished (cannot happen, but be total)
            groups.finish(g)
        return groups.results

    # -- the shared steps ---------------------------------------------------------------------------

    def _usable(self, unit, job: Job) -> bool:
        return not self.isolate_groups or not unit.groups or unit.groups == {job.group}

    def _dispatch(self, groups: Groups, units: list) -> None:
        """Retire idle units the next job that may run may not use, start new ones, hand out jobs;
        again as long as a pass hands one out. (With ``isolate_groups`` a unit left idle by its
        group, whose remaining jobs went to other units or wait for its own running ones
        (:attr:`Job.apart`), was kept until the next reply while the next group's jobs waited:
        retired by the job first in the queue, kept back or not, and only before a hand-out.)"""
        while self._dispatch_once(groups, units):
            pass

    def _dispatch_once(self, groups: Groups, units: list) -> bool:
        """One pass of :meth:`_dispatch`; whether it handed out a job."""
        running = [u.job[1] for u in units if u.job is not None]
        first = next((job for _, job in groups.pending if not _kept_back(job, running)), None)
        if first is not None:
            retired = [u for u in units if u.job is None and not self._usable(u, first)]
            self._end_all(retired)
            for u in retired:
                units.remove(u)
        while groups.pending and len(units) < min(self.n_workers, len(groups.pending)
                                                    + sum(u.job is not None for u in units)):
            with defer_stop_signals():  # a unit started is in units before a SIGTERM's interrupt: ended with them
                units.append(self._start())
        handed = False
        for u in list(units):  # _send may let units go (a worker dead before taking its job)
            if u in units and u.job is None and groups.pending and self._ready(u):
                running = [v.job[1] for v in units if v.job is not None]
                item = next((p for p in groups.pending if not _kept_back(p[1], running)), None)
                if item is None or not self._usable(u, item[1]):
                    continue
                groups.pending.remove(item)
                index, job = item
                groups.started(job.group)
                self._send(groups, units, u, index, job)
                handed = True
        return handed

    def _rates(self, groups: Groups, units: list) -> dict[str, float]:
        """How fast each running group's clock runs: the units it holds over the units it could
        use (its running and pending jobs, at most ``n_workers`` less the units still starting).

        While a unit is starting, the pool is taken to be the units started less those starting:
        fewer units than ``n_workers`` are started only when the jobs need no more, so a pending
        job then waits for a starting unit, not for a unit another group holds (with
        ``n_workers`` there, a group on every placed unit of a cluster short of CPUs was charged
        a fraction of its wall clock, and a hang outlived its limit that many times)."""
        held = Counter(u.job[1].group for u in units if u.job is not None)
        running = [u.job[1] for u in units if u.job is not None]
        pending = Counter(job.group for _, job in groups.pending if not _kept_back(job, running))
        starting = sum(u.job is None and not self._ready(u) for u in units)
        usable = (len(units) if starting else self.n_workers) - starting
        return {g: h / max(h, min(usable, h + pending[g])) for g, h in held.items()}

    def _charge(self, groups: Groups, units: list) -> None:
        """Charge the running groups the time since the last charge, and put the rates of the
        units held now in force (:meth:`Groups.advance`)."""
        groups.advance(self._rates(groups, units))

    def _timeout(self, groups: Groups) -> float | None:
        """Seconds until the nearest running group would use up its time limit at the rates in
        force, or None (no limit)."""
        live = [groups.left(g) / rate for g, rate in groups.rates.items() if rate > 0]
        live = [t for t in live if t != math.inf]
        return max(0.0, min(live)) if live else None

    def _answer(self, groups: Groups, units: list, unit, reply: dict | None, problem: str | None,
                on_reply) -> None:
        """Act on ``unit``'s answer to its job: ``(reply, None)``, or ``(None, why)`` when the unit
        broke (died, broke the protocol): it is let go and its group fails with ``why``."""
        index, job = unit.job
        if reply is None and _killed(problem):  # the grader worker, by the machine: not the submission's doing
            self._lost(groups, units, unit, lambda n: f"{problem} ({n} times: a job whose worker is killed runs "
                                                      f"again on a new one {LOST_UNIT_RETRIES} time(s))")
            return
        unit.job = None
        if reply is None:
            self._discard(units, unit)
            self._fail(groups, units, job.group, problem)
        elif not reply.get("ok"):
            self._fail(groups, units, job.group, str(reply.get("reason", "unknown failure")))
        elif groups.replied(index, job, reply) and on_reply is not None:
            on_reply(job, reply)

    def _lost(self, groups: Groups, units: list, unit, why: Callable[[int], str]) -> None:
        """``unit`` was lost with its job to a fault of the machines (:data:`LOST_UNIT_RETRIES`):
        it is let go, and the job runs again on a new unit, or, lost that many times more already,
        its group fails with ``why(times lost)``."""
        index, job = unit.job
        self.lost_workers += 1
        self._discard(units, unit)
        if groups.results[job.group].failed:
            return
        self._attempts[index] = self._attempts.get(index, 0) + 1
        if self._attempts[index] <= LOST_UNIT_RETRIES:
            groups.pending.appendleft((index, job))  # run again, on a new unit
        else:
            self._fail(groups, units, job.group, why(self._attempts[index]))

    def _expire(self, groups: Groups, units: list) -> None:
        """Fail the groups whose time limit is used up (their busy units are killed)."""
        self._charge(groups, units)
        for u in list(units):
            if u.job is not None and groups.left(u.job[1].group) <= 0:
                self._fail(groups, units, u.job[1].group,
                           f"timeout: exceeded the wall-clock limit of {self.time_limit:g} s")

    def _fail(self, groups: Groups, units: list, group: str, reason: str) -> None:
        """Fail ``group``: its pending jobs are dropped, its busy units killed and let go, in one
        :meth:`_end_all` (ending a busy Ray actor is a round trip, its abort: one after another, a
        group failing on n actors held the driver n round trips, charged to every running group)."""
        if not groups.fail(group, reason):
            return
        busy = [u for u in units if u.job is not None and u.job[1].group == group]
        self._end_all(busy)
        for u in busy:
            units.remove(u)

    def _discard(self, units: list, unit) -> None:
        """Kill ``unit`` (whatever it is doing) and let it go."""
        self._end(unit, graceful=False)
        units.remove(unit)

    # -- the transport: supplied by each pool -------------------------------------------------------

    def _begin_run(self, jobs: list[Job]) -> None:
        """Called once at the start of :meth:`run` with its ``jobs``, before any unit starts: a
        pool resets its per-run state and refuses a run it cannot place here (the default does
        nothing)."""

    def _end_run(self) -> None:
        """Called once when :meth:`run` has ended every unit, whether it returns or raises: a pool
        says what the run as a whole showed (the default does nothing; Ray: the nodes lost and
        the jobs that ran again)."""

    def _end_all(self, units: list) -> None:
        """End several units at once: the idle ones gracefully, the busy ones killed. The default
        ends them one after another; a pool whose graceful stop is a round trip (Ray) overlaps
        them, so that ending n units takes about one stop, not n."""
        for u in units:
            self._end(u, graceful=u.job is None)

    def _ready(self, unit) -> bool:
        """Whether ``unit`` can take a job (default: as soon as it is started)."""
        return True

    @abstractmethod
    def _start(self):
        """Start a unit (a worker process, a Ray actor) and return it."""

    @abstractmethod
    def _send(self, groups: Groups, units: list, unit, index: int, job: Job) -> None:
        """Hand ``job`` (number ``index``) to the idle ``unit``."""

    @abstractmethod
    def _wait(self, busy: list, timeout: float | None) -> list:
        """The busy units that have answered (or died) within ``timeout`` seconds (None: no limit).
        ``busy`` also holds the units still starting (``job`` None): a pool whose units can be
        not ready returns when one of them gets ready, too (it need not list it)."""

    @abstractmethod
    def _collect(self, groups: Groups, units: list, unit, on_reply) -> None:
        """Read ``unit``'s answer and act on it (:meth:`_answer`)."""

    @abstractmethod
    def _end(self, unit, graceful: bool) -> None:
        """Stop ``unit`` (``graceful``: it is idle) or kill it (it is busy or broken)."""
