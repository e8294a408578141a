"""What grading an SB3 zip costs in the sandbox: the shipped ``ppo_mixed.zip`` submitted as a
user's zip on a suite, wall clock and CPU time (grader, workers, sandboxes), and its IQM.

    python -m benchmarks.sb3_submission_cost                    # suite v1, 2 workers
    python -m benchmarks.sb3_submission_cost --all-seeds        # jobs of all seeds (the layout before 2026-12-05)

A sandboxed job loads the zip once in its own process (``lrgym.leaderboard.job_process``), so
the number of jobs (``lrgym.leaderboard.runner.job_layout``) and what each job process imports
are what this measures. Run each way twice, alternating: the machine's load moves wall clocks.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from lrgym.baselines.backend import workers_type

WEIGHTS = Path(__file__).resolve().parents[1] / "baselines" / "weights"


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="v1")
    parser.add_argument("--workers", type=workers_type, default=2)
    parser.add_argument("--all-seeds", action="store_true", help="jobs of all seeds, as before 2026-12-05")
    args = parser.parse_args(argv)

    from lrgym.leaderboard import runner
    from lrgym.leaderboard.references import load_references
    from lrgym.leaderboard.suite import get_suite

    if args.all_seeds:
        runner.entry_layouts = lambda specs, suite, workers, sandboxed: {
            s.name: runner.job_layout(suite, workers) for s in specs}
    suite = get_suite(args.suite)
    refs = load_references(suite, n_workers=args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("ppo_mixed.zip", "ppo_mixed.json"):
            shutil.copy(WEIGHTS / name, os.path.join(tmp, name))
        layout = runner.entry_layouts([runner.submission_spec(os.path.join(tmp, "ppo_mixed.zip"), name="x")], suite,
                                 args.workers, False)["x"]
        cpu0, t0 = _cpu(), time.perf_counter()
        [outcome] = runner.run_suite([runner.submission_spec(os.path.join(tmp, "ppo_mixed.zip"), name="ppo-submitted")],
                                     suite, references=refs, n_workers=args.workers, time_limit=1800)
        wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    iqm = outcome.entry.summary.get("iqm") if outcome.ok else outcome.entry.failure_reason
    print(f"{'all seeds' if args.all_seeds else 'one seed'} per job, {len(layout)} jobs on {suite.version}: "
          f"wall {wall:.1f} s, CPU {cpu:.1f} s; {len(outcome.runs)} runs, IQM {iqm}")


if __name__ == "__main__":
    main()
