"""Main-job timing benchmark: every hand-designed baseline on a suite.

    python -m lrgym.leaderboard.bench [--suite v2] [--workers N] [--repeat 1] [--learned] [--per-family]
    python -m lrgym.leaderboard.bench --isolation [--suite v1] [--only fixed --only hypergradient]

Suite: the leaderboard's default (v2) unless ``--suite``. Runs the same code path as
``lrgym leaderboard run-baselines --no-learned`` (``--learned``: ``run-baselines``) into a temporary store (references must be cached or shipped; they are computed first, untimed, otherwise) and
prints the wall-clock time, the CPU time of the grader and its workers, the load average
before and after, and the CPU time other processes took meanwhile: on a shared machine the
wall clock is only meaningful when that was small. ``--per-family`` also runs each family's
instances alone and derives the CPU-seconds per instance of each family (what suite sizes are
chosen by: :data:`lrgym.leaderboard.selection.SIZES`). The measurements are its stdout; the
references' progress (computed, cached) is said on stderr, so ``... > timings.txt`` holds them alone.

``--isolation`` measures the cost of the sandbox: the same baselines run once in the workers
(as trusted baselines do: jobs of all seeds) and once in sandboxed policy processes (as every
submission does: jobs of one seed, :func:`lrgym.leaderboard.runner.job_layout`), alternating,
and prints the seconds per entry of both; the difference is the sandbox's and its layout's.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
import resource
import time

from lrgym.baselines.backend import workers_type
from lrgym.baselines.outputs import status
from lrgym.baselines.owner_names import owned_temp_folder
from lrgym.settings import positive_int


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _machine_busy() -> float | None:
    """CPU-seconds all processes on the machine have used (Linux /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


#: the start of the name of the temporary folder holding a run's throwaway store: this prefix
#: and its owner (:func:`lrgym.baselines.owner_names.owned_temp_folder`), so that the folder of a
#: bench killed with ``kill -9`` is removed by the next bench
STORE_PREFIX = "lrgym-bench-"

#: what ``--isolation`` runs unless ``--only`` names others: the simplest baseline and an adaptive one
ISOLATION_BASELINES = ("fixed", "hypergradient")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lrgym.leaderboard.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default=None, help="suite (default: the leaderboard's default suite)")
    parser.add_argument("--workers", type=workers_type, default=None, metavar="N",
                        help="grader workers (default: one per CPU)")
    parser.add_argument("--repeat", type=int, default=1, help="measurements of each (a positive integer; default 1)")
    parser.add_argument("--isolation", action="store_true", help="inline vs sandboxed, seconds per entry")
    parser.add_argument("--only", action="append", default=None, help="baselines to run (repeatable)")
    parser.add_argument("--learned", action="store_true",
                        help="the learned baselines too (the whole main job: `lrgym leaderboard run-baselines`)")
    parser.add_argument("--per-family", action="store_true",
                        help="also run each family's instances alone: CPU-seconds per family and per instance")
    args = parser.parse_args(argv)
    try:  # --repeat 0 (or -1) measured nothing and exited 0
        positive_int("repeat", args.repeat)
    except ValueError as exc:
        parser.error(f"--{exc}")
    from lrgym.leaderboard.runner import baseline_specs
    from lrgym.leaderboard.suite import DEFAULT_SUITE, get_suite

    try:  # a misspelt suite or baseline stops here, not after the references (minutes if not cached)
        suite = get_suite(args.suite or DEFAULT_SUITE)
        specs = baseline_specs(args.only or (list(ISOLATION_BASELINES) if args.isolation else None),
                               include_learned=args.learned)
    except ValueError as exc:
        parser.error(str(exc))
    if args.isolation:
        return isolation(suite, specs, args)

    from lrgym.leaderboard.references import load_references
    from lrgym.leaderboard.runner import cpu_description, run_suite
    from lrgym.leaderboard.store import ResultStore

    # untimed if not cached yet; its progress on stderr: stdout is the measurements alone
    refs = load_references(suite, n_workers=args.workers, log=status)
    kind = "baselines" if args.learned or args.only else "hand-designed baselines"
    print(f"{len(specs)} {kind} x {suite.n_runs} episodes on {suite.version}; {cpu_description()}")
    parts = [("all", suite)]
    if args.per_family:
        parts += [(fs.family, replace(suite, families=(fs,))) for fs in suite.families]
    cpu_of = {}
    for _ in range(args.repeat):
        for label, part in parts:
            with owned_temp_folder(STORE_PREFIX) as tmp, ResultStore(os.path.join(tmp, "bench.sqlite")) as store:
                load_before = os.getloadavg()
                busy0, cpu0, t0 = _machine_busy(), _cpu(), time.perf_counter()
                outcomes = run_suite(specs, part, store=store, references=refs, n_workers=args.workers)
                wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
                busy1 = _machine_busy()
                load_after = os.getloadavg()
            cpu_of[label] = cpu
            ok = sum(o.ok for o in outcomes)
            others = "" if busy0 is None else f"; other processes used {max(0.0, busy1 - busy0 - cpu):.1f} CPU-s meanwhile"
            print(f"{label} ({len(part.tasks())} instances): wall {wall:.1f} s, CPU {cpu:.1f} s (grader + workers), "
                  f"{ok}/{len(outcomes)} ok; load average before {load_before[0]:.2f}, after {load_after[0]:.2f}{others}")
        if args.per_family:
            print(per_family_costs(cpu_of, {fs.family: len(fs.instances) for fs in suite.families}))


def per_family_costs(cpu_of: dict[str, float], sizes: dict[str, int]) -> str:
    """CPU-seconds per instance of each family and the fixed cost of a run (start-up, kernel
    loading), from the whole suite's CPU time and each family's alone: each of the F one-family
    runs pays the fixed cost once, so fixed = (Σ_f cpu_f − cpu_all) / (F − 1)."""
    n = len(sizes)
    fixed = (sum(cpu_of[f] for f in sizes) - cpu_of["all"]) / (n - 1) if n > 1 else 0.0
    per = {f: (cpu_of[f] - fixed) / k for f, k in sizes.items()}
    return ("CPU-s per instance: " + ", ".join(f"{f} {v:.2f}" for f, v in per.items())
            + f"; fixed cost of a run {fixed:.1f} CPU-s")


def isolation(suite, specs, args) -> None:
    """Seconds per entry of the same baselines (``specs``) on ``suite`` in the workers and in
    sandboxed processes."""
    from lrgym.leaderboard.references import load_references
    from lrgym.leaderboard.runner import cpu_description, run_suite
    from lrgym.leaderboard.sandbox import mode

    refs = load_references(suite, n_workers=args.workers, log=status)
    print(f"{len(specs)} baselines x {suite.n_runs} episodes on {suite.version}; {cpu_description()}; "
          f"sandbox {mode()['kind']}")
    for _ in range(args.repeat):
        for sandboxed in (False, True):
            load_before = os.getloadavg()
            busy0, cpu0, t0 = _machine_busy(), _cpu(), time.perf_counter()
            outcomes = run_suite(specs, suite, references=refs, n_workers=args.workers, sandbox_baselines=sandboxed)
            wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
            busy1 = _machine_busy()
            others = "" if busy0 is None else f"; other processes used {max(0.0, busy1 - busy0 - cpu):.1f} CPU-s"
            scores = ", ".join(f"{o.spec.name} IQM {o.entry.summary['iqm'][0]:.6f}" for o in outcomes if o.ok)
            episode = sum(o.entry.summary["episode_seconds"] for o in outcomes if o.ok)
            waiting = sum(o.entry.summary["policy_seconds"] for o in outcomes if o.ok)
            steps = sum(o.entry.summary["policy_steps"] for o in outcomes if o.ok)
            print(f"{'sandboxed' if sandboxed else 'in worker'}: {wall / len(specs):.1f} s per entry "
                  f"(wall {wall:.1f} s, CPU {cpu:.1f} s; load {load_before[0]:.1f}{others}); waiting for the "
                  f"policy {100 * waiting / episode:.1f} % of episode time ({1e6 * waiting / steps:.0f} µs per step); "
                  f"{scores}")


if __name__ == "__main__":  # SIGTERM / SIGHUP stop it as Ctrl-C does (its pool cleaned up), exit 128 + signal
    from lrgym.baselines.interrupts import run_command

    raise SystemExit(run_command(main, "python -m lrgym.leaderboard.bench", exiting=True))
