"""What ``submit`` prints after grading, on a hosted board: the whole board built (every entry's PoI
CI against the best baseline) and then 21 of its rows printed, as before, or the board without PoIs
and the printed rows' PoIs alone (``build_leaderboard(poi=False)``, ``compare_with_best``), as now;
alternating in one run: wall and CPU seconds, and whether the printed text is the same.

    python -m benchmarks.submit_board --entries 500
    python -m benchmarks.submit_board --db STORE.sqlite   # a store of v2 entries (benchmarks.board_scale's)

Without ``--db`` the store is written by :func:`benchmarks.board_scale.build_store` into a temporary
folder (``--entries`` v2 entries, ≈ 1.1 MB each). The row printed as the new entry's is the middle one.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

from lrgym.leaderboard.ranking import build_leaderboard, compare_with_best
from lrgym.leaderboard.references import find_cached
from lrgym.leaderboard.report_terminal import print_table, printed_rows
from lrgym.leaderboard.store import ResultStore
from lrgym.leaderboard.suite import get_suite


def printed(store, suite, refs, whole: bool) -> str:
    """The table submit prints, the board built whole (before) or without the others' PoIs (now)."""
    from rich.console import Console

    lb = build_leaderboard(store, suite, references=refs, curves=False, poi=whole)
    rows = printed_rows(lb, [lb.rows[len(lb.rows) // 2].name])
    if not whole:
        compare_with_best(rows, lb.row(lb.best_baseline) if lb.best_baseline else None)
    console = Console(file=io.StringIO(), width=400)
    print_table(lb, console, show_failures=False, rows=rows)
    return console.file.getvalue()


def measure(path: Path, repeats: int) -> int:
    suite = get_suite("v2")
    refs = find_cached(suite)[0]
    wall, cpu, text = {True: [], False: []}, {True: [], False: []}, {}
    with ResultStore(path) as store:
        n = len(store.latest_entries(suite.version))
        for _ in range(repeats):
            for whole in (True, False):
                t0, c0 = time.perf_counter(), time.process_time()
                text[whole] = printed(store, suite, refs, whole)
                wall[whole].append(time.perf_counter() - t0)
                cpu[whole].append(time.process_time() - c0)
    print(f"| {n} entries | wall s (best of {repeats}) | CPU s (best of {repeats}) |")
    print("|---|---:|---:|")
    for whole, label in ((True, "whole board, 21 rows printed (before)"), (False, "the printed rows' PoIs only (now)")):
        print(f"| {label} | {min(wall[whole]):.2f} | {min(cpu[whole]):.2f} |")
    same = text[True] == text[False]
    print(f"CPU ratio {min(cpu[True]) / min(cpu[False]):.2f}x; same printed text: {same}")
    return 0 if same else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--entries", type=int, default=200)
    p.add_argument("--db", default=None, help="a store of v2 entries (default: one written for the run)")
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    if args.db:
        return measure(Path(args.db), args.repeats)
    from benchmarks.board_scale import build_store

    suite = get_suite("v2")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "board.sqlite"
        build_store(path, suite, find_cached(suite)[0], args.entries)
        return measure(path, args.repeats)


if __name__ == "__main__":
    raise SystemExit(main())
