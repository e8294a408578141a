"""What lrgym's vector env pays once per process before its steps run at their rate: typing a
batched kernel and a ``numba.typed.List`` per kernel kind (not cached on disk), and, where Numba's
disk cache lacks them, compiling the typed lists' item operations.

    python -m benchmarks.vector_warm_up [--id LRControl-v1] [--repeats 3]

Each measurement is a fresh Python process (BLAS on one thread) that imports lrgym (untimed) and
then times ``lrgym.vector.warm.warm_kernels(**gym.spec(id).kwargs)``: a vector env with one
sub-env on an instance of each kernel kind the id can draw, reset, stepped, then every sub-env
reset onto another kind (what a long run meets sooner or later), CPU seconds
(``time.process_time``) and wall clock. Its own Numba cache (``NUMBA_CACHE_DIR`` in a temporary
folder) is:

* **cold** (once, first): empty: every kernel compiles; this fills the cache;
* **warm** (``--repeats`` processes; the reference): that cache: every kernel loads, and what is
  left is the per-process typing;
* **no item operations** (``--repeats`` processes): a copy of that cache without the entries of
  the typed lists' item operations (``lrgym.tasks.batched``: ``new_items``, ``append_item``,
  ``set_item``, ``remove_item``), as after an edit of them: these compile, the rest loads. The
  difference from **warm** is their compilation.

Each process also reports how many of those four operations' signatures Numba compiled and how
many it loaded from the cache (``Dispatcher.stats``), so each row says what it measured, and the
stamp its kernels' cache entries carry (:func:`lrgym.kernel_cache.package_fingerprint`, a hash
of lrgym's source taken when the process imports it). Any edit of a ``.py`` file of lrgym makes
the next process recompile every kernel (by design: :mod:`lrgym.kernel_cache`), so an edit while
this runs would time a compilation as **warm**: on 2026-12-06 a comment edited in
``lrgym/settings.py`` during the cold process made the first warm one compile everything again
(60 CPU-s). The script stops with an error when the processes' stamps differ.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ITEM_OPERATIONS = ("new_items", "append_item", "set_item", "remove_item")

_CHILD = r"""
import json, sys, time
import gymnasium as gym
import lrgym
from lrgym.kernel_cache import PACKAGE_DIR, package_fingerprint
from lrgym.tasks import batched
from lrgym.vector.warm import warm_kernels
c0, w0 = time.process_time(), time.perf_counter()
picks = warm_kernels(**gym.spec(sys.argv[1]).kwargs)
cpu, wall = time.process_time() - c0, time.perf_counter() - w0
ops = [getattr(batched, name) for name in {ops!r}]
print(json.dumps({{"cpu": cpu, "wall": wall, "kinds": len(picks),
    "compiled": sum(sum(op.stats.cache_misses.values()) for op in ops),
    "loaded": sum(sum(op.stats.cache_hits.values()) for op in ops),
    "stamp": package_fingerprint(PACKAGE_DIR).hex()}}))  # as the locator asked for it at the import
"""


def _run(env_id: str, cache: Path) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    code = _CHILD.format(ops=ITEM_OPERATIONS)
    done = subprocess.run([sys.executable, "-c", code, env_id], check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _without_item_operations(cache: Path, copy: Path) -> int:
    """Copy ``cache`` to ``copy`` less the item operations' entries; how many files were left out."""
    shutil.copytree(cache, copy)
    dropped = [f for f in copy.rglob("batched.*") if f.name.split(".")[1].split("-")[0] in ITEM_OPERATIONS]
    for f in dropped:
        f.unlink()
    return len(dropped)


def check_one_source(runs: list[dict]) -> None:
    """Stop with an error if the processes ran different lrgym source (their kernels' cache
    stamps differ): a process after the change recompiled what its "warm" row claims it loaded."""
    stamps = [r["stamp"] for r in runs]
    if len(set(stamps)) > 1:
        changed = next(i for i, s in enumerate(stamps) if s != stamps[0])
        raise SystemExit(f"lrgym's source changed during the run (the kernel cache's stamp of process {changed + 1} "
                         f"of {len(stamps)}, in the order run, differs from the first's: {stamps[changed][:12]} "
                         f"against {stamps[0][:12]}), so that process recompiled every kernel; run again on a "
                         f"checkout that does not change meanwhile")


def _span(runs: list[dict], clock: str) -> str:
    values = [r[clock] for r in runs]
    return f"{min(values):.2f} – {max(values):.2f} ({statistics.median(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--id", default="LRControl-v1")
    p.add_argument("--repeats", type=int, default=3, help="fresh processes per warm row (default 3)")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats must be a positive integer, got {args.repeats}")

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="lrgym-warm-up-") as tmp:
        cache = Path(tmp) / "cache"
        cold = _run(args.id, cache)
        warm, stale = [], []
        for r in range(args.repeats):  # alternating, so both see the same load
            warm.append(_run(args.id, cache))
            copy = Path(tmp) / f"stale{r}"
            dropped = _without_item_operations(cache, copy)
            stale.append(_run(args.id, copy))
            shutil.rmtree(copy)
    load_after = os.getloadavg()[0]
    check_one_source([cold] + [r for pair in zip(warm, stale) for r in pair])

    print(f"{args.id}: warm_kernels on {cold['kinds']} kernel kinds, fresh processes; "
          f"load average {load_before:.1f} → {load_after:.1f}; {dropped} cache files of the item operations left out")
    print("| Numba cache | processes | CPU s: range (median) | wall s: range (median) | item operations compiled / loaded, each process |")
    print("|---|---:|---:|---:|---:|")
    print(f"| cold (every kernel compiles) | 1 | {cold['cpu']:.2f} | {cold['wall']:.2f} | {cold['compiled']} / {cold['loaded']} |")
    for name, runs in (("warm (reference)", warm), ("warm less the item operations", stale)):
        counts = ", ".join(f"{r['compiled']} / {r['loaded']}" for r in runs)
        print(f"| {name} | {len(runs)} | {_span(runs, 'cpu')} | {_span(runs, 'wall')} | {counts} |")
    extra = statistics.median(r["cpu"] for r in stale) - statistics.median(r["cpu"] for r in warm)
    print(f"the item operations' compilation, CPU medians' difference: {extra:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
