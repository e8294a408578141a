"""The memory peak of reading a ratings file's positives (``lrgym.tasks.recsys.ratings.file_positives``):
the reading before (arrays made for the file's line count, ``np.unique(..., return_inverse=True)`` of
the users and of the items, the keys and their ``np.unique`` in new arrays) vs now (the positives a
block at a time, the ids by ``np.searchsorted``, the keys sorted in place).

    python -m benchmarks.positives_memory [--rows 2000000] [--shares 1,0.1]

A synthetic ``u.data`` of ROWS rows (200,000 users, 60,000 items, about every pair once) per share
of positive ratings; each way reads it in a process of its own, twice: once under tracemalloc
(NumPy's arrays: the same on any machine) and once without, its resident peak (``VmHWM`` of
/proc/self/status, reset before the call: NumPy's hash tables of ``np.unique`` too, and the
allocator's slack). Both are given as a multiple of the result (two int64 arrays: 16 bytes a
positive pair), the ratio before / after in the same run. Both ways' results are checked equal to
the bit. Linux only (``/proc/self/clear_refs``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

_RUN = r"""
import json, sys, time, tracemalloc
import numpy as np
from lrgym.tasks.recsys import ratings

def before(path):
    # the reading before this benchmark's commit: _rows(path, positives_only=True), _remapped_pairs
    rows = ratings._line_count(path)
    users, items = np.empty(rows, np.int64), np.empty(rows, np.int64)
    n = 0
    for u, i, r in ratings._parsed_blocks(path):
        keep = r >= ratings.POSITIVE_RATING
        u, i = u[keep], i[keep]
        users[n:n + len(u)], items[n:n + len(u)] = u, i
        n += len(u)
    users, items = users[:n], items[:n]
    user_ids, u = np.unique(users, return_inverse=True)
    item_ids, i = np.unique(items, return_inverse=True)
    n_items = len(item_ids)
    keys = np.unique(u.astype(np.int64) * n_items + i)
    return keys // n_items, keys % n_items, len(user_ids), n_items

def after(path):
    return ratings._file_positives.__wrapped__(path, 0.0, 0)

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

way, path, traced, out = sys.argv[1:]
read = before if way == "before" else after
if traced == "1":
    tracemalloc.start()
else:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS
rss = status("VmRSS")
start = time.perf_counter()
pu, pi, n_users, n_items = read(path)
seconds = time.perf_counter() - start
peak = tracemalloc.get_traced_memory()[1] if traced == "1" else status("VmHWM") - rss
np.savez(out, pu=pu, pi=pi, n=np.array([n_users, n_items]))
print(json.dumps({"peak": peak, "result": pu.nbytes + pi.nbytes, "seconds": seconds}))
"""


def write_file(path: str, rows: int, share: float, seed: int = 0) -> None:
    """ROWS lines ``user item rating timestamp``, a share of them rated 4 or 5, the rest 1 to 3."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        for start in range(0, rows, 200_000):
            n = min(200_000, rows - start)
            users, items = rng.integers(1, 200_000, n), rng.integers(1, 60_000, n)
            rated = np.where(rng.random(n) < share, rng.integers(4, 6, n), rng.integers(1, 4, n))
            stamps = rng.integers(800_000_000, 1_700_000_000, n)
            f.write("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in
                            zip(users.tolist(), items.tolist(), rated.tolist(), stamps.tolist())))


def one_run(way: str, path: str, traced: bool, tmp: str) -> dict:
    out = os.path.join(tmp, f"{way}{int(traced)}.npz")
    done = subprocess.run([sys.executable, "-c", _RUN, way, path, str(int(traced)), out], check=True,
                          capture_output=True, text=True)
    with np.load(out) as result:
        return {**json.loads(done.stdout), "arrays": {k: result[k].copy() for k in result.files}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--shares", default="1,0.1", help="shares of positive ratings, comma-separated")
    args = p.parse_args(argv)
    print("| positives | result MiB | tracemalloc peak, before → after (× result) | ratio | "
          "resident peak, before → after (× result) | ratio | s, before → after |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for share in (float(s) for s in args.shares.split(",")):
            path = os.path.join(tmp, "u.data")
            write_file(path, args.rows, share)
            runs = {(way, traced): one_run(way, path, traced, tmp) for traced in (True, False)
                    for way in ("before", "after")}
            first = runs["before", True]["arrays"]
            for run in runs.values():
                assert all(np.array_equal(run["arrays"][k], first[k]) and run["arrays"][k].dtype == first[k].dtype
                           for k in first), "the two ways' positives differ"
            result = runs["after", True]["result"]
            cells = []
            for traced in (True, False):
                b, a = runs["before", traced]["peak"] / result, runs["after", traced]["peak"] / result
                cells += [f"{b:.2f} → {a:.2f}", f"{b / a:.2f}×"]
            seconds = f"{runs['before', False]['seconds']:.1f} → {runs['after', False]['seconds']:.1f}"
            print(f"| {len(first['pu']):,} of {args.rows:,} | {result / 2**20:.1f} | {' | '.join(cells)} | {seconds} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
