"""``python -m lrgym.leaderboard.transfer [--quick] [--out DIR] [--db PATH] [--reuse JSON] [--loss-reduction sum] [--ship]``

Runs the transfer study (:mod:`lrgym.leaderboard.transfer.study`) and writes ``transfer.md``,
``transfer.png`` and ``transfer.json`` into ``--out`` (default: ``runs/transfer/`` of the working
directory, or under ``$LRGYM_RUNS``, where training and tuning write too; ``transfer-sum/`` for
``--loss-reduction sum`` and a ``-quick`` suffix for ``--quick``, so no run replaces another's
results). ``--quick``
is the CI smoke run (2 seeds, 6 steps × 2 updates, small data, the ``quick`` suite; under a
minute). ``--db`` reads lrgym's side from a leaderboard store that holds every baseline on the
suite instead of running them; ``--reuse OLD/transfer.json`` takes the real side from an earlier
run (same settings) and recomputes lrgym's side only. ``--loss-reduction sum``: the real tasks
descend their summed minibatch loss, lrgym's convention, instead of the mean (the control that
puts lrgym's tuned LRs on the real tasks' scale). ``--ship`` also copies the table, plot and
results to ``docs/transfer/`` of the repository (``docs/transfer/sum-loss/`` with
``--loss-reduction sum``), the files the README shows.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

from lrgym.baselines.backend import workers_type
from lrgym.baselines.outputs import part_run_problem, replace_file, runs_dir
from lrgym.leaderboard.transfer.study import FULL_CONFIG, LOSS_REDUCTIONS, QUICK_CONFIG, run_study
from lrgym.leaderboard.transfer.tasks import TASKS

SHIP_DIR = Path(__file__).resolve().parents[2] / "docs" / "transfer"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m lrgym.leaderboard.transfer", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="CI smoke run (seconds, not minutes)")
    p.add_argument("--out", type=Path, default=None,
                   help="output directory (default: runs/transfer/ or under $LRGYM_RUNS; transfer-sum/ for "
                        "--loss-reduction sum, a -quick suffix for --quick)")
    p.add_argument("--db", type=Path, default=None, help="read lrgym's side from this leaderboard store")
    p.add_argument("--workers", type=workers_type, default=None, help="worker processes for lrgym's side")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds per real task")
    p.add_argument("--task", action="append", choices=list(TASKS), help="only these real tasks (repeatable)")
    p.add_argument("--reuse", type=Path, default=None,
                   help="take the real side from this earlier transfer.json (recompute lrgym's side only)")
    p.add_argument("--loss-reduction", choices=LOSS_REDUCTIONS, default="mean",
                   help="the real tasks descend the mean (PyTorch's usual) or the summed (lrgym's) minibatch loss")
    p.add_argument("--ship", action="store_true",
                   help="also write the table, plot and results to docs/transfer/ (sum-loss/ for --loss-reduction sum)")
    args = p.parse_args(argv)
    for flag, path in (("--db", args.db), ("--reuse", args.reuse)):
        if path is not None and not path.is_file():  # a typo'd path ran everything itself, or failed at the end
            p.error(f"{flag} {path}: no such file; valid: " + ("a leaderboard store holding the suite's baselines "
                    "(or leave --db out: lrgym's side is run)" if flag == "--db" else "an earlier run's transfer.json"))
    problem = ship_arguments_problem(args) if args.ship else None
    if problem:
        p.error(problem)
    cfg = QUICK_CONFIG if args.quick else FULL_CONFIG
    if args.seeds is not None:
        if args.seeds < 1:
            p.error(f"--seeds {args.seeds} out of range; valid: >= 1")
        cfg = replace(cfg, seeds=tuple(range(args.seeds)))
    if args.task:
        cfg = replace(cfg, tasks=tuple(args.task))
    cfg = replace(cfg, loss_reduction=args.loss_reduction)
    given = f"--out {args.out}" if args.out is not None else f"$LRGYM_RUNS={os.environ.get('LRGYM_RUNS')}"
    if args.out is None:
        args.out = default_out(args.loss_reduction, quick=args.quick)
    shipped = {Path(os.path.realpath(ship_dir(r))) for r in LOSS_REDUCTIONS}
    if Path(os.path.realpath(args.out)) in shipped:  # the study would rewrite the shipped one in place
        p.error(f"{given} puts the study in {args.out}, the shipped study's {os.path.realpath(args.out)}; valid: "
                f"another folder (default: runs/{default_out(args.loss_reduction, quick=args.quick).name} under "
                "the working directory), with --ship to copy its results there")
    result = run_study(cfg, args.out, db=args.db, workers=args.workers, reuse=args.reuse)
    print((args.out / "transfer.md").read_text())
    print(f"CPU seconds (this process): {result['cpu_seconds_this_process']}")
    if args.ship:
        where = ship_dir(cfg.loss_reduction)
        where.mkdir(parents=True, exist_ok=True)
        for name in ("transfer.md", "transfer.png", "transfer.json"):
            replace_file(where / name, (args.out / name).read_bytes())
        print(f"shipped to {where}")


def ship_arguments_problem(args) -> str | None:
    """Why ``--ship`` may not run with these arguments, or ``None``: the shipped study is the full
    one (``FULL_CONFIG``), which the README's tables and headline quote. ``--quick --ship`` replaced
    ``docs/transfer/`` with a 17-second smoke run (the quick suite, 6 steps of 2 updates), and
    ``--task`` or another ``--seeds`` would ship a smaller study under the same name."""
    full = FULL_CONFIG
    return (part_run_problem("--ship", "--quick", args.quick, False, "the shipped study is the full one, not the smoke run")
            or part_run_problem("--ship", "--task", args.task or None, full.tasks,
                                f"the shipped study runs every real task ({', '.join(full.tasks)})")
            or part_run_problem("--ship", "--seeds", args.seeds, len(full.seeds),
                                f"the shipped study runs {len(full.seeds)} seeds per real task"))


def default_out(loss_reduction: str = "mean", quick: bool = False) -> Path:
    """Where a run writes without ``--out``: ``runs/transfer[-sum][-quick]/`` under
    :func:`lrgym.baselines.outputs.runs_dir` (never the checkout's shipped ``docs/transfer/``)."""
    return runs_dir() / ("transfer" + ("-sum" if loss_reduction == "sum" else "") + ("-quick" if quick else ""))


def ship_dir(loss_reduction: str = "mean") -> Path:
    """Where ``--ship`` writes: ``docs/transfer/``, or its ``sum-loss/`` for the summed-loss control."""
    return SHIP_DIR if loss_reduction == "mean" else SHIP_DIR / "sum-loss"


if __name__ == "__main__":  # SIGTERM / SIGHUP stop it as Ctrl-C does (its pool cleaned up), exit 128 + signal
    from lrgym.baselines.interrupts import run_command

    raise SystemExit(run_command(main, "python -m lrgym.leaderboard.transfer", exiting=True))
