"""Ray ``memory`` requests that no node can place, without a cluster: a stand-in for the ``ray``
module answers ``ray.nodes()`` as Ray does (live flag, total resources in bytes) and fails the
test if anything is started. The cluster's own use is in tests/leaderboard/test_ray_cluster.py.

Every task and actor lrgym starts needs one CPU and its memory on the same node. A head started
with ``--num-cpus 0`` (Ray's advice for large clusters) may hold the most memory but places
nothing: counting it let a request through that stayed pending for ever, and the tuner's tasks
(``Backend.imap``) had no such check at all.
"""

from __future__ import annotations

import warnings

import pytest

from lrgym.baselines import backend
from lrgym.leaderboard import ray_pool
from lrgym.leaderboard.scheduling import Job

MB = 2**20


def _node(cpus: float, memory_mb: float, alive: bool = True) -> dict:
    return {"Alive": alive, "Resources": {"CPU": cpus, "memory": memory_mb * MB}}


#: a CPU-less head with 64 GB, a worker with 2 CPUs and 3 GB, a lost node with 128 GB
NODES = [_node(0, 64_000), _node(2, 3_000), _node(8, 128_000, alive=False)]


class _FakeRay:
    """What the code under test asks of ``ray`` before it starts anything."""

    def __init__(self, nodes, free=None):
        self._nodes, self._free = nodes, free or {}

    def nodes(self):
        return self._nodes

    def cluster_resources(self):
        return {"CPU": sum(n["Resources"]["CPU"] for n in self._nodes if n["Alive"]),
                "memory": sum(n["Resources"]["memory"] for n in self._nodes if n["Alive"])}

    def available_resources(self):
        return self._free

    def remote(self, *args, **kwargs):
        def wrap(target):
            return _FakeRemote()
        return wrap

    def wait(self, refs, num_returns=1, timeout=None):
        return [], list(refs)  # nothing placed


class _FakeRemote:
    def options(self, **kwargs):
        raise AssertionError(f"a task or actor was started with {kwargs}")


def test_the_largest_node_is_a_live_one_with_a_cpu():
    # by hand: the head has no CPU, the 128 GB node is lost: the worker's 3 GB
    assert backend.largest_node_memory_mb(NODES) == 3_000
    assert backend.largest_node_memory_mb([_node(0, 64_000)]) == 0.0
    assert backend.largest_node_memory_mb([]) == 0.0


def test_imap_refuses_tasks_no_node_can_place(monkeypatch):
    monkeypatch.setattr(backend, "connect", lambda address=None: _FakeRay(NODES))
    monkeypatch.setattr(backend, "TASK_MEMORY_MB", 4_000)
    with pytest.raises(ValueError, match=r"^each Ray task needs 4000 MB of Ray memory but the largest node of the "
                                         r"Ray cluster with a CPU offers 3000 MB; valid: a node with a CPU"):
        list(backend.ray_imap(abs, [1, 2]))


def _pool(monkeypatch, nodes, free=None):
    monkeypatch.setattr(ray_pool, "connect", lambda address=None: _FakeRay(nodes, free))
    return ray_pool.RayWorkerPool(1)


def test_the_pool_refuses_actors_only_a_cpu_less_node_could_hold(monkeypatch):
    pool = _pool(monkeypatch, NODES)
    job = Job("a", {"op": "sleep", "seconds": 0, "sandbox": {"memory_mb": 3_000 - ray_pool.ACTOR_MEMORY_MB + 1}})
    with pytest.raises(ValueError, match=r"^each grader actor \(the sandbox's memory limit \+ 512 MB for its "
                                         r"workers\) needs 3001 MB of Ray memory but the largest node of the Ray "
                                         r"cluster with a CPU offers 3000 MB; valid: --memory-limit up to 2488 MB"):
        pool.run([job])


def test_the_placement_warning_names_the_memory_each_actor_waits_for(monkeypatch):
    """Actors ask for memory as well as a CPU: with CPUs free and the memory taken, the warning
    said only that they waited "for a CPU" and that 2 of 2 CPUs were free."""
    free = {"CPU": 2.0, "memory": 1_000 * MB}
    pool = _pool(monkeypatch, NODES, free)
    pool.PLACEMENT_PATIENCE = 0.0
    pool._memory_mb = 2_900.0

    class Actor:
        class describe:
            @staticmethod
            def remote():
                return "placed-ref"

    with warnings.catch_warnings(record=True) as told:
        warnings.simplefilter("always")
        assert pool._wait([ray_pool._Slot(Actor())], None) == []
    messages = [str(w.message) for w in told]
    assert len(messages) == 1, messages
    assert ("1 wait for a CPU and 2900 MB of memory each on one node, and the Ray cluster has 2 of its 2 CPUs "
            "and 1000 of its 67000 MB free") in messages[0]
