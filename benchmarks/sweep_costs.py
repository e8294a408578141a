"""What a grader worker's start pays for the sweeps of what killed graders left, against the start itself.

    python -m benchmarks.sweep_costs [--rounds 7] [--folders 100,1000,5000] [--entries 10000]

Every new grader worker (:class:`lrgym.leaderboard.pool._Worker`) runs
:func:`lrgym.leaderboard.pool.sweep_orphaned_scratch` (a listing of the temp folder, each
``lrgym-worker-*`` name's owner judged) before it starts, and the worker process walks every
cgroup hierarchy from its top at its first sandbox
(:func:`lrgym.leaderboard.sandbox_cgroup.sweep_stale_cgroups_once`, once per process, so once per
worker). Both keep the promise that what a grader killed with ``kill -9`` left is removed by the
next one. This times them against what the same worker costs anyway, in the same run:

* **reference, worker start**: a fresh interpreter importing the worker's module
  (``python -c "import lrgym.leaderboard.worker"``, wall clock), which every worker pays;
* **reference, sandbox start**: a sandbox started and closed (:func:`lrgym.leaderboard.sandbox.start`,
  after a first one that paid the once-per-process probes), which a worker's first job pays;
* **cgroup sweep, this machine**: :func:`~lrgym.leaderboard.sandbox_cgroup.sweep_stale_cgroups`
  of every hierarchy, as the first sandbox of a worker runs it (how many folders it walks is printed);
* **cgroup sweep, n folders**: the same function on a made-up tree of ``n`` folders of 30 files
  each (a cgroup v1 folder holds 20 – 40 control files), four levels deep, on a tmpfs: a
  host with many services, sessions or containers has thousands;
* **scratch sweep**: :func:`~lrgym.leaderboard.pool.sweep_orphaned_scratch` of this machine's
  temp folder, and of a made-up one of ``--entries`` names, a tenth of them
  ``lrgym-worker-<live owner>-*`` (each judged: a ``/proc`` read; none removed).

The rows alternate within each round; medians of wall clock over the rounds, and each row's
ratio to the worker start. The machine's load before and after is printed. Linux only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def _tree(top: str, folders: int, files: int = 30, fanout: int = 8) -> None:
    """``folders`` folders below ``top``, breadth first, ``fanout`` per folder, ``files`` empty files each."""
    queue, made = [top], 0
    while made < folders:
        parent = queue.pop(0)
        for k in range(fanout):
            if made >= folders:
                break
            folder = os.path.join(parent, f"group{k}")
            os.mkdir(folder)
            for f in range(files):
                open(os.path.join(folder, f"control.{f}"), "w").close()
            queue.append(folder)
            made += 1


def _temp_folder(top: str, entries: int) -> None:
    """``entries`` names in ``top``: a tenth ``lrgym-worker-<this process's tag>-k`` (live: judged,
    kept), the rest other names (files)."""
    from lrgym.baselines.owner_names import owner_tag

    tag = owner_tag()
    for k in range(entries):
        if k % 10 == 0:
            os.mkdir(os.path.join(top, f"lrgym-worker-{tag}-{k}"))
        else:
            open(os.path.join(top, f"other-{k}"), "w").close()


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--folders", default="100,1000,5000")
    parser.add_argument("--entries", type=int, default=10000)
    args = parser.parse_args(argv)

    from lrgym.leaderboard.pool import sweep_orphaned_scratch
    from lrgym.leaderboard.sandbox import Limits, mode, start
    from lrgym.leaderboard.sandbox_cgroup import _hierarchy_tops, sweep_stale_cgroups

    sizes = [int(s) for s in args.folders.split(",") if s]
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    work = tempfile.mkdtemp(prefix="lrgym-sweep-bench-", dir=shm)
    try:
        trees = {}
        for n in sizes:
            trees[n] = os.path.join(work, f"tree{n}")
            os.mkdir(trees[n])
            _tree(trees[n], n)
        temp = os.path.join(work, "temp")
        os.mkdir(temp)
        _temp_folder(temp, args.entries)
        walked = sum(1 for top in _hierarchy_tops() for _ in os.walk(top))
        print(f"load before: {os.getloadavg()}; sandbox: {mode()['kind']}; this machine's cgroup hierarchies: "
              f"{len(_hierarchy_tops())}, {walked} folders")
        start(Limits()).close()  # the once-per-process probes (mode, memory and CPU bounds) paid here

        rows = {
            "reference: worker start (import lrgym.leaderboard.worker)":
                lambda: subprocess.run([sys.executable, "-c", "import lrgym.leaderboard.worker"], check=True),
            "reference: a sandbox started and closed": lambda: start(Limits()).close(),
            f"cgroup sweep, this machine ({walked} folders)": sweep_stale_cgroups,
            **{f"cgroup sweep, {n} folders of 30 files": (lambda top=trees[n]: sweep_stale_cgroups([top]))
               for n in sizes},
            "scratch sweep, this machine's temp folder": sweep_orphaned_scratch,
            f"scratch sweep, {args.entries} names": lambda: sweep_orphaned_scratch(temp),
        }
        samples: dict[str, list[float]] = {name: [] for name in rows}
        for r in range(args.rounds):
            order = list(rows) if r % 2 == 0 else list(rows)[::-1]
            for name in order:
                samples[name].append(_seconds(rows[name]))
        median = {name: statistics.median(s) for name, s in samples.items()}
        worker, sandbox = list(median.values())[:2]
        print(f"load after: {os.getloadavg()}\n")
        print("| row | ms (median; min – max) | of a worker start | of a worker start + its first sandbox |")
        print("|---|---:|---:|---:|")
        for name, value in median.items():
            print(f"| {name} | {1e3 * value:.2f} ({1e3 * min(samples[name]):.2f} – {1e3 * max(samples[name]):.2f}) "
                  f"| {100 * value / worker:.2f} % | {100 * value / (worker + sandbox):.2f} % |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
