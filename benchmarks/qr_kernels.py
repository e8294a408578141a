"""linreg's QR kernels, alone and inside the builds: main cfecd14's choice of kernel and today's.

    python -m benchmarks.qr_kernels                 # 9 rounds, 64 train instances
    python -m benchmarks.qr_kernels --quick         # 5 rounds, 32 instances

* **kernel alone**, ms per QR of the (d + 1) × n working array of ``qr_stats`` (n rows of X):
  the canonical kernel, the blocked kernel, the panel kernel unfused and fused (the running
  CPU's fused form: both rows in one loop, or ``FUSE_ROWS``), and the two choices — main cfecd14's
  (blocked; the unfused panel kernel when d + 1 > 96 and n ≥ 1,536) and today's
  (``householder.qr_kernel()``: the fused panel kernel from d ≥ 64). Every variant is first checked to
  give the canonical kernel's bits on the matrix it is timed on.
* **builds**: ``LinRegTask(spec)`` of train instances with main's choice and with today's (the
  same instances, alternating which goes first), total CPU ms per round and the QR's part of it.

Rounds interleave the variants; medians and ranges over rounds, CPU time (``time.process_time``).
"""

from __future__ import annotations

import argparse
import functools
import time

from benchmarks import harness as _harness  # noqa: F401  (BLAS on one thread before NumPy loads)

import numpy as np  # noqa: E402

from lrgym.tasks import datasets, householder, linreg, make_family  # noqa: E402

SHAPES = [(2048, d) for d in (64, 128, 200, 250)] + [(1024, d) for d in (128, 250)] + [
    (512, d) for d in (48, 64, 96, 128, 200, 250)] + [(256, d) for d in (64, 250)]


def main_cfecd14_kernel(block: int, panel: int):
    """main cfecd14's ``qr_kernel()`` on a CPU where the blocked and the panel kernel pass the
    self-check: the unfused panel kernel on matrices of more than 96 rows and at least 1,536
    columns, the blocked kernel on the others."""

    def qr(A, k):
        if A.shape[0] > 96 and A.shape[1] >= 1536:
            householder.householder_qr_panel(A, k, block, panel, False)
        else:
            householder.householder_qr_blocked(A, k, block)

    return qr


def _median_range(values) -> str:
    v = np.asarray(values) * 1e3
    return f"{np.median(v):.3f} [{v.min():.3f}–{v.max():.3f}]"


def kernel_table(rounds: int) -> None:
    """The per-shape table (see the module docstring)."""
    today = householder.qr_kernel()
    kw = getattr(today, "keywords", {})
    if "panel" not in kw:
        print("this CPU's compiled loops did not pass the panel kernel's self-check: nothing to compare")
        return
    block, panel = kw["block"], kw["panel"]
    variants = {
        "canonical": householder.householder_qr,
        "blocked": functools.partial(householder.householder_qr_blocked, block=block),
        "panel": functools.partial(householder.householder_qr_panel, block=block, panel=panel, fuse=False),
        "fused": functools.partial(householder.householder_qr_panel, block=block, panel=panel, fuse=kw["fuse"]),
        "main cfecd14": main_cfecd14_kernel(block, panel),
        "today": today,
    }
    if not kw["fuse"]:
        del variants["fused"]
    print(f"QR kernel alone, ms per QR, median [min–max] of {rounds} rounds (block {block}, panel {panel}, "
          f"fused: {kw['fuse']}):\n")
    print("| n × d | " + " | ".join(variants) + " | main / today |")
    print("|---|" + "---:|" * (len(variants) + 1))
    rng = np.random.default_rng(0)
    for n, d in SHAPES:
        X = rng.standard_normal((d + 1, n)) * np.exp(rng.uniform(-3.0, 3.0, size=(d + 1, 1)))
        k = min(n, d)
        want = X.copy()
        householder.householder_qr(want, k)
        A = X.copy()
        for name, f in variants.items():
            A[:] = X
            f(A, k)
            assert np.array_equal(A.view(np.int64), want.view(np.int64)), name
        reps = max(1, int(6e7 / (n * d * d)))
        times = {name: [] for name in variants}
        for r in range(rounds):
            for name, f in list(variants.items())[:: 1 if r % 2 == 0 else -1]:
                t0 = time.process_time()
                for _ in range(reps):
                    A[:] = X
                    f(A, k)
                times[name].append((time.process_time() - t0) / reps)
        ratio = np.median(times["main cfecd14"]) / np.median(times["today"])
        print(f"| {n} × {d} | " + " | ".join(_median_range(t) for t in times.values()) + f" | {ratio:.2f}× |",
              flush=True)


def build_table(n_instances: int, rounds: int) -> None:
    """The builds table (see the module docstring): ``householder._QR_KERNEL`` set to each path in turn."""
    kw = getattr(householder.qr_kernel(), "keywords", {})
    if "panel" not in kw:
        return
    clock = {}

    def timed(name, f):
        def qr(A, k):
            t0 = time.process_time()
            f(A, k)
            clock[name] += time.process_time() - t0
        return qr

    paths = {"main cfecd14": main_cfecd14_kernel(kw["block"], kw["panel"]), "today": householder.qr_kernel()}
    paths = {name: timed(name, f) for name, f in paths.items()}
    clock.update(dict.fromkeys(paths, 0.0))
    fam = make_family("linreg")
    specs = [fam.sample(int(s)) for s in np.linspace(1, 9_999, n_instances)]
    datasets.bundled("diabetes")  # scikit-learn's import and the bundled file: once per process
    saved = householder._QR_KERNEL
    try:
        for name, f in paths.items():  # compile / load every kernel both paths run
            householder._QR_KERNEL = f
            for s in range(10_000, 10_016):
                linreg.LinRegTask(fam.sample(s))
            for shape in ((251, 2048), (251, 512), (65, 512), (40, 300)):
                f(np.random.default_rng(0).standard_normal(shape), shape[0] - 1)
        builds = {name: [] for name in paths}
        qrs = {name: [] for name in paths}
        for r in range(rounds):
            total = dict.fromkeys(paths, 0.0)
            clock.update(dict.fromkeys(paths, 0.0))
            for i, spec in enumerate(specs):
                for name, f in list(paths.items())[:: 1 if (i + r) % 2 == 0 else -1]:
                    householder._QR_KERNEL = f
                    t0 = time.process_time()
                    linreg.LinRegTask(spec)
                    total[name] += time.process_time() - t0
            for name in paths:
                builds[name].append(total[name])
                qrs[name].append(clock[name])
    finally:
        householder._QR_KERNEL = saved
    print(f"\nlinreg builds of {n_instances} train instances, CPU ms per round, median [min–max] of {rounds}:\n")
    print("| path | builds | of which QR | QR share |")
    print("|---|---:|---:|---:|")
    for name in paths:
        share = np.median(np.array(qrs[name]) / np.array(builds[name]))
        print(f"| {name} | {_median_range(builds[name])} | {_median_range(qrs[name])} | {100 * share:.0f} % |")
    b = np.median(builds["main cfecd14"]) / np.median(builds["today"])
    q = np.median(qrs["main cfecd14"]) / np.median(qrs["today"])
    print(f"\nmain cfecd14 / today: builds {b:.3f}×, QR {q:.3f}×")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--instances", type=int, default=64)
    ap.add_argument("--quick", action="store_true", help="5 rounds, 32 instances")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.instances = 5, 32
    kernel_table(args.rounds)
    build_table(args.instances, args.rounds)


if __name__ == "__main__":
    main()
