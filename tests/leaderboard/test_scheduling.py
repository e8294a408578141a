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

    def _wait(self, busy, timeout):
        ready = [u for u in busy if u.job[1].payload.get("do") != "hang"]
        if not ready and timeout is not None:
            time.sleep(timeout)
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


def test_both_pools_use_the_shared_rules():
    from lrgym.leaderboard.ray_pool import RayWorkerPool  # Ray itself is imported only when connecting

    for cls in (WorkerPool, RayWorkerPool):
        assert issubclass(cls, GroupScheduler)
        for step in ("run", "_dispatch", "_usable", "_timeout", "_answer", "_expire", "_fail"):
            assert getattr(cls, step) is getattr(GroupScheduler, step) or step == "run", (cls, step)
