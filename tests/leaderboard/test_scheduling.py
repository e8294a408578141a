"""The scheduling rules both grader pools share (lrgym.leaderboard.scheduling), on a fake transport:
no process, no Ray. A fake unit answers a job by its payload: ``{"ok": ...}`` at once, or never
(``"hang"``, so only a deadline ends it)."""

import time

from lrgym.leaderboard.pool import WorkerPool
from lrgym.leaderboard.scheduling import GroupScheduler, Job


class FakeUnit:
    def __init__(self, n: int):
        self.n = n
        self.job = None
        self.groups: set[str] = set()
        self.ran: list[str] = []
        self.sent = 0.0

    def done(self) -> bool:
        """A job answers at once, or after ``takes`` seconds (``{"do": "ok", "takes": s}``); "hang" never."""
        payload = self.job[1].payload
        return payload.get("do") != "hang" and time.monotonic() >= self.sent + payload.get("takes", 0.0)


class FakePool(GroupScheduler):
    def __init__(self, n_workers=1, time_limit=None, isolate_groups=False):
        self.n_workers, self.time_limit, self.isolate_groups = n_workers, time_limit, isolate_groups
        self.units: list[FakeUnit] = []  # every unit started, in order
        self.ended: list[tuple[int, bool]] = []  # (unit number, graceful)

    def _start(self):
        self.units.append(FakeUnit(len(self.units)))
        return self.units[-1]

    def _send(self, groups, units, unit, index, job):
        unit.job = (index, job)
        unit.groups.add(job.group)
        unit.ran.append(job.group)
        unit.sent = time.monotonic()

    def _wait(self, busy, timeout):
        ready = [u for u in busy if u.done()]
        if not ready:
            timed = [u.sent + u.job[1].payload.get("takes", 0.0) - time.monotonic() for u in busy
                     if u.job[1].payload.get("do") != "hang"]
            waits = [t for t in (min(timed, default=None), timeout) if t is not None]
            time.sleep(max(0.0, min(waits)) if waits else 0.0)
            ready = [u for u in busy if u.done()]
        return ready

    def _collect(self, groups, units, unit, on_reply):
        payload = unit.job[1].payload
        ok = payload.get("do") == "ok"
        self._answer(groups, units, unit, {"ok": True, **payload} if ok else {"ok": False, "reason": "it broke"},
                     None, on_reply)

    def _end(self, unit, graceful):
        self.ended.append((unit.n, graceful))


def test_a_group_past_its_deadline_fails_with_the_timeout_message_and_its_busy_units_are_killed():
    pool = FakePool(n_workers=3, time_limit=0.05)
    jobs = [Job("slow", {"do": "hang"}), Job("slow", {"do": "hang"}), Job("quick", {"do": "ok"})]
    results = pool.run(jobs)
    assert results["slow"].failed
    assert results["slow"].reason == "timeout: exceeded the wall-clock limit of 0.05 s"
    assert not results["quick"].failed and results["quick"].replies == [{"ok": True, "do": "ok"}]
    assert sorted(pool.ended) == [(0, False), (1, False), (2, True)]  # the hung ones killed, the idle one stopped


def test_a_group_kept_from_its_units_by_a_hanging_one_is_not_starved_into_a_timeout():
    """A hostile submission finishes three jobs at once and hangs on its last one until its own
    limit, holding one of the two units; the honest group after it (4 jobs of 0.3 s: 0.6 s on
    two units, 1.2 s on one) had its clock run from its first job, so it timed out too (found by
    a security review). Its clock now runs at the share of the units it could use that it holds:
    half while the other group hangs."""
    pool = FakePool(n_workers=2, time_limit=1.0, isolate_groups=True)
    jobs = [Job("evil", {"do": "ok"})] * 3 + [Job("evil", {"do": "hang"})] + \
        [Job("honest", {"do": "ok", "takes": 0.3})] * 4
    t0 = time.monotonic()
    results = pool.run(jobs)
    assert results["evil"].failed and results["evil"].reason.startswith("timeout")
    assert 1.0 <= results["evil"].finished - t0 < 1.5  # the hang still ends at its own limit
    assert not results["honest"].failed, results["honest"].reason
    assert len(results["honest"].replies) == 4


def test_a_group_slower_than_its_limit_on_all_its_units_still_times_out():
    pool = FakePool(n_workers=2, time_limit=0.5)
    results = pool.run([Job("slow", {"do": "ok", "takes": 0.4})] * 4)  # 0.8 s on its two units
    assert results["slow"].failed and results["slow"].reason == "timeout: exceeded the wall-clock limit of 0.5 s"


def test_a_failed_job_drops_its_groups_pending_jobs_and_kills_its_running_ones():
    pool = FakePool(n_workers=2)
    jobs = [Job("a", {"do": "hang"}), Job("a", {"do": "fail"}), Job("a", {"do": "ok"}), Job("b", {"do": "ok"})]
    results = pool.run(jobs)
    assert results["a"].failed and results["a"].reason == "it broke" and results["a"].replies == []
    assert not results["b"].failed
    assert (0, False) in pool.ended  # the hung job of "a" killed at once, not left to finish
    assert "a" not in pool.units[1].ran[1:]  # the third job of "a" was never handed out


def test_isolate_groups_keeps_a_unit_to_one_group():
    pool = FakePool(n_workers=1, isolate_groups=True)
    jobs = [Job(g, {"do": "ok"}) for g in ("a", "a", "b", "c", "c")]
    results = pool.run(jobs)
    assert not any(r.failed for r in results.values())
    assert [u.ran for u in pool.units] == [["a", "a"], ["b"], ["c", "c"]]
    assert pool.ended == [(0, True), (1, True), (2, True)]  # each stopped (idle), none killed

    shared = FakePool(n_workers=1, isolate_groups=False)
    shared.run(jobs)
    assert [u.ran for u in shared.units] == [["a", "a", "b", "c", "c"]]


def test_a_unit_that_broke_fails_its_group_with_why_and_is_let_go():
    class Breaking(FakePool):
        def _collect(self, groups, units, unit, on_reply):
            self._answer(groups, units, unit, None, "worker process died", on_reply)

    pool = Breaking(n_workers=1)
    results = pool.run([Job("a", {}), Job("b", {})])
    assert results["a"].reason == results["b"].reason == "worker process died"
    assert pool.ended == [(0, False), (1, False)]


def test_a_unit_that_is_never_ready_gets_no_job_and_charges_no_group():
    """A Ray actor the cluster has no free CPU for is never placed; a job sent to it waited for
    it forever (a Ray user's audit, 2026-12-04). Here unit 1 never gets ready (a job given to it
    would never answer): the ready unit runs all three jobs, the group within its limit, and the
    unit never ready is ended without a graceful stop being waited for."""

    class OneNeverReady(FakePool):
        def _ready(self, unit):
            return unit.n != 1

        def _wait(self, busy, timeout):  # a job given to unit 1 would never answer
            return super()._wait([u for u in busy if u.job is not None and u.n != 1], timeout)

    pool = OneNeverReady(n_workers=2, time_limit=5.0)
    results = pool.run([Job("g", {"do": "ok", "takes": 0.05})] * 3)
    assert not results["g"].failed, results["g"].reason
    assert len(pool.units) == 2 and pool.units[0].ran == ["g"] * 3 and pool.units[1].ran == []


class Batches(FakePool):
    """A fake pool that records each ``_end_all`` batch (the unit numbers it ended together)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.batches: list[list[int]] = []

    def _end_all(self, units):
        self.batches.append(sorted(u.n for u in units))
        super()._end_all(units)


def test_the_units_left_at_the_end_are_ended_in_one_batch():
    """``_end_all`` gets every unit at the end of a run (the Ray pool sends all their stops
    before waiting for any: one round trip, not one per actor), and with ``isolate_groups`` the
    idle units another group may not use are retired together too."""

    pool = Batches(n_workers=3, isolate_groups=True)
    pool.run([Job("a", {"do": "ok"})] * 3 + [Job("b", {"do": "ok"})] * 3)
    assert [0, 1, 2] in pool.batches  # group a's three units retired at once before b's jobs
    assert pool.batches[-1] == [3, 4, 5]  # b's three at the end
    assert sorted(pool.ended) == [(n, True) for n in range(6)]


def test_the_busy_units_of_a_failing_group_are_ended_in_one_batch():
    """A group that fails (its time limit, a broken job) ends its busy units in one ``_end_all``:
    the Ray pool aborts a busy actor's job, a round trip (GraderHost.abort), and one after another
    a group failing on n actors held the driver n of them, charged to every running group."""

    pool = Batches(n_workers=3, time_limit=0.05)
    results = pool.run([Job("slow", {"do": "hang"})] * 3)
    assert results["slow"].failed and results["slow"].reason.startswith("timeout")
    assert [0, 1, 2] in pool.batches, pool.batches
    assert sorted(pool.ended) == [(0, False), (1, False), (2, False)]


def test_both_pools_use_the_shared_rules():
    from lrgym.leaderboard.ray_pool import RayWorkerPool  # Ray itself is imported only when connecting

    for cls in (WorkerPool, RayWorkerPool):
        assert issubclass(cls, GroupScheduler)
        for step in ("run", "_dispatch", "_usable", "_charge", "_timeout", "_answer", "_expire", "_fail"):
            assert getattr(cls, step) is getattr(GroupScheduler, step), (cls, step)


def test_a_group_on_every_placed_unit_is_charged_its_wall_clock_while_a_unit_starts():
    """Three units allowed, a group of two jobs: two units started, one never placed (a cluster
    short of CPUs). The group runs on the only unit that runs, so its clock is the wall clock;
    it ran at half of it (the unstarted third unit counted as one it could use), so a job that
    hangs outlived its limit twice (a review of the Ray placement rule, 2026-12-04)."""

    class OneNeverReady(FakePool):
        def _ready(self, unit):
            return unit.n != 1

        def _wait(self, busy, timeout):
            return super()._wait([u for u in busy if u.job is not None and u.n != 1], timeout)

    pool = OneNeverReady(n_workers=3, time_limit=0.4)
    t0 = time.monotonic()
    results = pool.run([Job("evil", {"do": "hang"})] * 2)
    assert results["evil"].failed and results["evil"].reason.startswith("timeout")
    assert 0.4 <= results["evil"].finished - t0 < 0.7  # at twice its limit before
    assert len(pool.units) == 2 and pool.units[1].ran == []


class Recording(FakePool):
    """Records which jobs (by payload ``"id"``) ran at the same time as which."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.running: dict[int, object] = {}  # unit number -> its job's payload
        self.together: set[frozenset] = set()

    def _send(self, groups, units, unit, index, job):
        super()._send(groups, units, unit, index, job)
        self.running[unit.n] = job.payload
        for other in self.running.values():
            if other is not job.payload:
                self.together.add(frozenset((other["id"], job.payload["id"])))

    def _answer(self, groups, units, unit, reply, problem, on_reply):
        self.running.pop(unit.n, None)
        super()._answer(groups, units, unit, reply, problem, on_reply)


def test_no_two_sandboxed_jobs_of_one_instance_run_at_once():
    """A sandboxed entry's jobs hold one seed each, so that the episodes that can reach each other
    run on different instances; but two sandboxes running at once reach each other through the
    kernel (a review's policy passed its initial loss, 64 bits, from seed 0's sandbox to seed 1's
    through flock() on read-only system files, both on quick's mlp instance with -j 2), and the
    pool ran the seeds of one instance side by side: a population again. The grader's own jobs for
    a submission on quick, on two units: no instance ever runs in two of them at once, and the
    jobs of other instances still run beside each other (so both units are used)."""
    from lrgym.leaderboard.runner import PolicySpec
    from lrgym.leaderboard.runner_jobs import entry_layouts, grading_jobs
    from lrgym.leaderboard.suite import get_suite

    suite = get_suite("quick")
    spec = PolicySpec("mine", "submission", {"kind": "file", "path": "x.py", "cls": "X"})
    layouts = entry_layouts([spec], suite, 2, sandbox_baselines=False)
    jobs = grading_jobs([spec], suite, 1024.0, 60.0, False, layouts)
    assert len(jobs) == 2 * len(suite.families)  # one per family and seed
    for k, job in enumerate(jobs):
        job.payload = {"do": "ok", "takes": 0.05, "id": k, "tasks": [(job.payload["family"], i)
                                                                      for i in job.payload["instances"]]}
    pool = Recording(n_workers=2)
    results = pool.run(jobs)
    assert not results["mine"].failed
    same = [pair for pair in pool.together
            if set(map(tuple, jobs[min(pair)].payload["tasks"])) & set(map(tuple, jobs[max(pair)].payload["tasks"]))]
    assert same == []
    assert pool.together  # jobs of different instances ran side by side


def test_apart_holds_within_a_group_and_a_kept_back_job_lets_the_next_run_first():
    pool = Recording(n_workers=2)
    jobs = [Job("a", {"do": "ok", "takes": 0.1, "id": 0}, apart=frozenset({"x"})),
            Job("a", {"do": "ok", "takes": 0.1, "id": 1}, apart=frozenset({"x"})),
            Job("a", {"do": "ok", "takes": 0.1, "id": 2}, apart=frozenset({"y"}))]
    results = pool.run(jobs)
    assert not results["a"].failed and [r["id"] for r in results["a"].replies] == [0, 1, 2]
    assert pool.together == {frozenset({0, 2}), frozenset({1, 2})} or pool.together == {frozenset({0, 2})}
    assert frozenset({0, 1}) not in pool.together


def test_a_group_kept_to_one_unit_by_its_own_apart_jobs_is_charged_its_wall_clock():
    """A hanging job whose group's other jobs must wait for it (the same instance) holds the only
    unit its group can use: its clock runs at the wall clock's rate, so it still ends at its limit
    (counted as a unit it could use, the waiting job would have halved its rate)."""
    pool = FakePool(n_workers=2, time_limit=0.4)
    t0 = time.monotonic()
    results = pool.run([Job("evil", {"do": "hang"}, apart=frozenset({"x"})),
                        Job("evil", {"do": "ok"}, apart=frozenset({"x"}))])
    assert results["evil"].failed and results["evil"].reason.startswith("timeout")
    assert 0.4 <= results["evil"].finished - t0 < 0.7


class Timeline(FakePool):
    """Records the order of hand-outs and answers: ``("sent", id)``, ``("answered", id)``."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.events: list[tuple[str, str]] = []

    def _send(self, groups, units, unit, index, job):
        super()._send(groups, units, unit, index, job)
        self.events.append(("sent", job.payload["id"]))

    def _answer(self, groups, units, unit, reply, problem, on_reply):
        self.events.append(("answered", unit.job[1].payload["id"]))
        super()._answer(groups, units, unit, reply, problem, on_reply)


def _job(group, name, takes, apart=()):
    return Job(group, {"do": "ok", "takes": takes, "id": group + name}, apart=frozenset(apart))


def test_a_unit_its_group_leaves_idle_goes_to_the_next_group_at_once():
    """Untrusted entries get units of their own (isolate_groups). A's last job waits for its
    running seed on the same instance (apart); its other unit, idle, was kept for A (the job
    first in the queue) while B's job waited a whole job of A (1 s), though a kept-back job can
    only run on the unit its own running job frees. It is now retired and B starts beside A."""
    pool = Timeline(n_workers=2, isolate_groups=True)
    results = pool.run([_job("A", "x0", 1.0, "x"), _job("A", "x1", 0.1, "x"), _job("A", "y0", 0.1, "y"),
                        _job("A", "y1", 0.1, "y"), _job("B", "z", 0.1)])
    assert not results["A"].failed and not results["B"].failed
    assert pool.events.index(("sent", "Bz")) < pool.events.index(("answered", "Ax0")), pool.events
    assert pool.events.index(("sent", "Ax1")) > pool.events.index(("answered", "Ax0"))  # apart still holds


def test_a_unit_left_idle_by_a_hand_out_goes_to_the_next_group_at_once():
    """Two units of A idle at once, A's last job handed to one: the other was kept until the next
    reply (1 s later), the retiring done only before the hand-out; B's job now starts at once."""
    pool = Timeline(n_workers=2, isolate_groups=True)
    results = pool.run([_job("A", "a", 0.1), _job("A", "b", 0.1), _job("A", "c", 1.0), _job("B", "z", 0.1)])
    assert not results["A"].failed and not results["B"].failed
    assert pool.events.index(("sent", "Bz")) < pool.events.index(("answered", "Ac")), pool.events
    assert all(set(u.ran) in ({"A"}, {"B"}) for u in pool.units)  # each unit served one group
