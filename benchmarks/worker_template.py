"""What forking the grader's workers from a warm template saves: CPU seconds per graded submission.

    python -m benchmarks.worker_template [--rounds 3] [--submissions 3]

Grades ``--submissions`` copies of a trivial sandboxed policy (``Keep``, the tests' example) on a
small suite (quadratic and linreg, one instance each, two seeds, 8 steps) with the local pool,
``n_workers=2``, once with ``fork_workers=True`` (the default: workers forked from
:mod:`lrgym.leaderboard.worker_template`) and once with ``fork_workers=False`` (every worker a
fresh ``python -m lrgym.leaderboard.worker``), alternating within each round. Each grading is
measured as the CPU seconds of this process's children (the workers, the template, the sandboxed
policy hosts: ``RUSAGE_CHILDREN``, counted as they are reaped) and wall clock; the scores of both
ways must be equal to the bit. Then the same submissions are graded in runs of one submission each,
once inside :func:`lrgym.leaderboard.pool.kept_templates` (one template for every run) and once
without (a template per run), alternating the same way. CPU seconds move less than wall clocks on
a shared machine; the load before and after is printed. Linux only (the sandbox's own requirement).
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import statistics
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests" / "leaderboard"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _grade(fork: bool, n: int, suite, refs, policy_path: str) -> tuple[float, float, list]:
    """(children's CPU-s, wall s, runs) of grading ``n`` submissions one way."""
    from lrgym.leaderboard.pool import WorkerPool
    from lrgym.leaderboard.runner import run_suite, submission_spec

    init = WorkerPool.__init__
    WorkerPool.__init__ = functools.partialmethod(init, fork_workers=fork)
    try:
        specs = [submission_spec(policy_path, name=f"keep-{i}") for i in range(n)]
        cpu, wall = _children_cpu(), time.perf_counter()
        outcomes = run_suite(specs, suite, references=refs, n_workers=2, time_limit=300)
        cpu, wall = _children_cpu() - cpu, time.perf_counter() - wall
    finally:
        WorkerPool.__init__ = init
    failed = [o.entry.failure_reason for o in outcomes if not o.ok]
    if failed:
        raise SystemExit(f"a submission failed: {failed[0]}")
    return cpu, wall, [[(r.family, r.instance, r.seed, r.score, r.final_loss, r.curves) for r in o.runs] for o in outcomes]


def _grade_separately(kept: bool, n: int, suite, refs, policy_path: str) -> tuple[float, float, list]:
    """(children's CPU-s, wall s, runs) of grading ``n`` submissions in a run each, with the
    templates kept between the runs or not."""
    import contextlib

    from lrgym.leaderboard.pool import kept_templates
    from lrgym.leaderboard.runner import run_suite, submission_spec

    cpu, wall, outcomes = _children_cpu(), time.perf_counter(), []
    with kept_templates() if kept else contextlib.nullcontext():
        for i in range(n):
            outcomes += run_suite([submission_spec(policy_path, name=f"keep-{i}")], suite, references=refs,
                                  n_workers=2, time_limit=300)
    cpu, wall = _children_cpu() - cpu, time.perf_counter() - wall
    failed = [o.entry.failure_reason for o in outcomes if not o.ok]
    if failed:
        raise SystemExit(f"a submission failed: {failed[0]}")
    return cpu, wall, [[(r.family, r.instance, r.seed, r.score, r.final_loss, r.curves) for r in o.runs] for o in outcomes]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each grading both ways (default 3)")
    parser.add_argument("--submissions", type=int, default=3, help="submissions graded per run (default 3)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.submissions < 1:
        parser.error(f"--rounds {args.rounds} --submissions {args.submissions}: valid: 1 or more each")
    sys.path.insert(0, str(TESTS))
    from lb_helpers import policy, tiny_suite

    from lrgym.leaderboard.references import load_references

    suite = tiny_suite("template", families=("quadratic", "linreg"), n_instances=1, seeds=(0, 1), horizon=8,
                       inner_steps=3)
    refs = load_references(suite, n_workers=2)
    print(f"load before: {os.getloadavg()[0]:.2f}")
    seen: dict[bool, list] = {True: [], False: []}
    runs = {}
    for r in range(args.rounds):
        for fork in ((True, False) if r % 2 == 0 else (False, True)):
            cpu, wall, graded = _grade(fork, args.submissions, suite, refs, policy("Keep"))
            seen[fork].append((cpu, wall))
            if runs.setdefault(fork, graded) != graded:
                raise SystemExit("the same way graded differently in two rounds")
            print(f"round {r + 1}, fork_workers={fork}: {cpu:.1f} CPU-s, {wall:.1f} s wall")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    same = runs[True] == runs[False]
    forked, started = (statistics.median(c for c, _ in seen[f]) for f in (True, False))
    print(f"median CPU-s per run of {args.submissions}: forked {forked:.1f}, started {started:.1f} "
          f"(forked / started {forked / started:.2f}); scores equal to the bit: {same}")
    if not same:
        raise SystemExit("the forked and the started workers graded differently")
    seen = {True: [], False: []}
    for r in range(args.rounds):
        for kept in ((True, False) if r % 2 == 0 else (False, True)):
            cpu, wall, graded = _grade_separately(kept, args.submissions, suite, refs, policy("Keep"))
            seen[kept].append(cpu)
            if graded != runs[True]:
                raise SystemExit(f"runs of one submission each (templates kept: {kept}) graded differently")
            print(f"round {r + 1}, a run per submission, kept_templates={kept}: {cpu:.1f} CPU-s, {wall:.1f} s wall")
    kept, each = statistics.median(seen[True]), statistics.median(seen[False])
    print(f"median CPU-s of {args.submissions} runs of one submission: templates kept {kept:.1f}, a template per run "
          f"{each:.1f} (kept / per run {kept / each:.2f}); scores equal to the bit: True")


if __name__ == "__main__":
    main()
