"""Ending a Ray grader pool's actors: one after another (as before) vs all at once (``_end_all``).

    python -m benchmarks.ray_teardown [--actors 16] [--repeats 2]

One Ray node of its own with ``--actors`` logical CPUs (Ray counts CPUs, it does not measure
them), stopped at the end. Ray binds it to the machine's address (the printed ``cluster``), as
the tests' clusters: asked for ``node_ip_address="127.0.0.1"``, Ray 2.60's clients still resolve
the loopback to the machine's address and never reach the head (tried 2026-12-06). Each round starts that many :class:`~lrgym.leaderboard.ray_pool.GraderHost`
actors, gives each one job (so each holds a live grader worker, as at the end of a run), and
ends them all gracefully: in turn, each stop a round trip waited for (``_end`` per actor, what
the end of a run did), or with every stop sent before any is waited for (``_end_all``). The two
ways alternate within the run; the ratio is the claim, the absolute times are this machine's.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def _live_slots(pool, n: int) -> list:
    slots = [pool._start() for _ in range(n)]
    for s in slots:
        pool.ray.get(s.placed, timeout=300)
        s.ready = True
    pool.ray.get([s.actor.run.remote({"op": "sleep", "seconds": 0}) for s in slots], timeout=300)
    return slots


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--actors", type=int, default=16)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    import ray
    from ray.cluster_utils import Cluster

    from lrgym.baselines.backend import connect
    from lrgym.leaderboard.ray_pool import RayWorkerPool

    cluster = Cluster(initialize_head=True, head_node_args=dict(num_cpus=args.actors, include_dashboard=False,
                                                                  object_store_memory=80 * 1024 * 1024))
    res: dict = {"actors": args.actors, "load_start": round(os.getloadavg()[0], 2), "in_turn_s": [], "at_once_s": []}
    try:
        cluster.wait_for_nodes()
        connect(cluster.address)
        res["cluster"] = cluster.address
        pool = RayWorkerPool(args.actors)
        for _ in range(args.repeats):
            for way in ("in_turn_s", "at_once_s"):
                slots = _live_slots(pool, args.actors)
                t0 = time.perf_counter()
                if way == "in_turn_s":
                    for s in slots:
                        pool._end(s, graceful=True)
                else:
                    pool._end_all(slots)
                res[way].append(round(time.perf_counter() - t0, 3))
    finally:
        ray.shutdown()
        cluster.shutdown()
    res["load_end"] = round(os.getloadavg()[0], 2)
    res["ratio_in_turn_over_at_once"] = round(min(res["in_turn_s"]) / min(res["at_once_s"]), 2)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
