"""Print the speed table: per family, env steps/s and inner updates/s of lrgym (single env, vector
env) next to a vectorised-NumPy and a PyTorch-CPU implementation of the same training loop, all
measured in this one run, with ratios to NumPy and the issues' targets.

    python -m benchmarks.report                       # all families, ≈3 minutes
    python -m benchmarks.report --families linreg     # one family
    python -m benchmarks.report --out speed.md      # also to a file, which it replaces (paste rows into benchmarks/RESULTS.md)

What each row measures is documented in :mod:`benchmarks.harness`. Each rate is the best of
``--blocks`` timed blocks of ``--seconds`` (other processes only ever slow a block down); rows
with resets, whose cost comes in bursts, are the median of 3 blocks of 2 s. One core
per implementation (BLAS and torch pinned to one thread) except the ``prange`` rows, which use
Numba's thread pool (all cores).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

from benchmarks import harness as h  # sets the BLAS thread variables before NumPy loads

import numpy as np  # noqa: E402

ROWS = [
    # key, label, runner, kwargs
    ("single", "lrgym single env (`gym.make`)", h.single, {}),
    ("single_resets", "lrgym single env, new instance every 50 steps", h.single_resets, {}),
    ("kernel", "lrgym kernel only (compiled loop, 1 instance)", h.kernel, {}),
    ("vector", "lrgym vector env, 64 envs, 1 thread", h.vector, {}),
    ("vector_par", "lrgym vector env, 64 envs, prange (2 threads)", h.vector, {"parallel": True}),
    ("vector_resets", "lrgym vector env, 64 envs, 1 thread, new instances every 50 steps", h.vector, {"resets": True}),
    ("vector_shared", "lrgym vector env, 64 envs on one instance, 1 thread", h.vector, {"shared": True}),
    ("vector_shared_par", "lrgym vector env, 64 envs on one instance, prange", h.vector, {"shared": True, "parallel": True}),
    ("sb3_adapter", "SB3 `VecEnv` adapter (`lrgym.sb3`), 64 envs, 1 thread", h.sb3_adapter, {}),
    ("sb3_dummy", "SB3 `DummyVecEnv` over 64 single envs", h.sb3_dummy, {}),
    ("numpy", "NumPy (vectorised), 1 thread", h.numpy_ref, {}),
    ("torch", "PyTorch CPU, 1 thread", h.torch_ref, {}),
]
EXTRA = {"linreg": [("numpy_direct", "NumPy, losses summed over the rows (O(n·d))", h.numpy_direct, {})]}


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        model = fields.get("Model name", model).strip()
        cores = fields.get("CPU(s)", "?").strip()
        l2, l3 = fields.get("L2 cache", "?").strip(), fields.get("L3 cache", "?").strip()
        hyper = fields.get("Hypervisor vendor", "").strip()
    except (OSError, subprocess.CalledProcessError):
        cores, l2, l3, hyper = str(os.cpu_count()), "?", "?", ""
    import gymnasium
    import numba

    versions = f"Python {platform.python_version()}, NumPy {np.__version__}, Numba {numba.__version__}, gymnasium {gymnasium.__version__}"
    try:
        import torch

        versions += f", PyTorch {torch.__version__}"
    except ImportError:
        pass
    vm = f" ({hyper} VM)" if hyper else ""
    return f"{model}, {cores} cores{vm}, L2 {l2}, L3 {l3}; {platform.system()} {platform.release()}; {versions}"


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


pressure: dict[tuple, float] = {}  # (family, row) -> % CPU pressure around a wall-clock row
overheads: dict[tuple, tuple] = {}  # (family, "overhead") -> (µs per env step, µs of it in kernels)


def measure_family(name: str, seconds: float, blocks: int, skip_torch: bool) -> dict[str, float]:
    fam = h.FAMILIES[name]
    rates = {}
    for key, label, runner, kwargs in ROWS + EXTRA.get(name, []):
        if key in ("torch", "sb3_adapter", "sb3_dummy") and skip_torch:
            continue
        try:
            step = runner(fam, **kwargs)
        except ImportError as e:  # torch not installed
            print(f"  ({label}: skipped, {e})", file=sys.stderr)
            continue
        clock = time.perf_counter if kwargs.get("parallel") else time.thread_time
        before = h.cpu_pressure()
        if "resets" in key:  # bursts of task building: long blocks, median
            rates[key] = h.rate(step, seconds=max(2.0, seconds), blocks=3, stat=statistics.median, clock=clock)
        else:
            rates[key] = h.rate(step, seconds=seconds, blocks=blocks, clock=clock)
        if kwargs.get("parallel"):
            pressure[(name, key)] = max(before, h.cpu_pressure())
        print(f"  {name:>9} {label:<55} {rates[key]:>10,.0f} steps/s", file=sys.stderr)
        del step
    if name == "linreg":
        overheads[(name, "overhead")] = h.vector_overhead(fam, seconds=seconds, blocks=blocks)
    return rates


def table(name: str, rates: dict[str, float]) -> list[str]:
    fam = h.FAMILIES[name]
    base = rates.get("numpy")
    lines = [
        f"**{name}** — `{fam.env_id}`, `family_options={fam.options}`, lr {fam.lr}, "
        f"{h.INNER_STEPS} updates per env step",
        "",
        "| implementation | env steps/s | inner updates/s | vs NumPy | clock |",
        "|---|---:|---:|---:|---|",
    ]
    for key, label, _, kwargs in ROWS + EXTRA.get(name, []):
        if key not in rates:
            continue
        r = rates[key]
        ratio = f"{r / base:.2f}×" if base else "–"
        clock = "wall" if kwargs.get("parallel") else "cpu"
        lines.append(f"| {label} | {r:,.0f} | {r * h.INNER_STEPS:,.0f} | {ratio} | {clock} |")
    return lines


def verdicts(name: str, rates: dict[str, float]) -> list[str]:
    fam = h.FAMILIES[name]
    t = fam.targets
    out = []

    def check(what, value, target, fmt):
        ok = "met" if value >= target else "**missed**"
        out.append(f"- {name}: {what} {fmt.format(value)} (target ≥ {fmt.format(target)}): {ok}")

    single = rates.get("single")
    if single and "steps_per_s" in t:
        check("single env", single, t["steps_per_s"], "{:,.0f} steps/s")
    if single and "numpy" in rates and "numpy" in t:
        check("single env vs NumPy", single / rates["numpy"], t["numpy"], "{:.2f}×")
    if single and "torch" in rates and "torch" in t:
        check("single env vs PyTorch", single / rates["torch"], t["torch"], "{:.1f}×")
    for key, what in (("vector_par", "64 instances"), ("vector_shared_par", "one instance")):
        if single and key in rates:
            check(f"vector env on both cores (wall clock) vs single env per core ({what})", rates[key] / single, 1.7, "{:.2f}×")
            out[-1] += f" — CPU pressure from other processes during the row: {pressure.get((name, key), float('nan')):.0f} %"
    if name == "linreg" and single and (name, "overhead") in overheads:
        total, kernel = overheads[(name, "overhead")]
        share = (total - kernel) * 1e-6 * single
        out.append(
            f"- {name}: vector-env overhead per env step = {total - kernel:.2f} µs ({total:.2f} µs per env "
            f"step, of which {kernel:.2f} µs in the compiled kernels; 64 envs, one instance, 1 thread) = "
            f"{100 * share:.1f} % of a single-env step (target ≤ 10 %): " + ("met" if share <= 0.10 else "**missed**")
        )
    return out


def measure_ids(ids: list[str], rounds: dict[int, int], step_seconds: float) -> dict[str, dict]:
    """Per default id: gymnasium's ``benchmark_step`` (single env) and SyncVectorEnv vs lrgym's
    vector env with 4 and 16 envs, interleaved over the same seeds (resets and builds included)."""
    out = {}
    for env_id in ids:
        row = {"benchmark_step": h.gymnasium_benchmark_step(env_id, seconds=step_seconds)}
        for n, r in rounds.items():
            rates = h.vector_vs_sync(env_id, n, r)
            row[f"sync{n}"], row[f"vector{n}"] = rates["sync"], rates["vector_entry_point"]
        print(f"  {env_id:<26} " + "  ".join(f"{k} {v:,.0f}" for k, v in row.items()), file=sys.stderr)
        out[env_id] = row
    return out


def ids_table(rows: dict[str, dict], rounds: dict[int, int], step_seconds: float) -> list[str]:
    sizes = list(rounds)
    lines = [
        "**Default ids as RL clients see them** — default settings (horizon 50, a new train instance "
        "built at every reset), env steps/s. `benchmark_step`: gymnasium's "
        f"`gymnasium.utils.performance.benchmark_step(gym.make(id), target_duration={step_seconds:g})` "
        "(random actions, wall clock). SyncVectorEnv vs lrgym's vector env (`gym.make_vec(id, n, "
        "vectorization_mode=\"sync\" | \"vector_entry_point\")`): the same seeds, so the same episodes "
        f"and instance builds, {h.ROLLOUT_STEPS} steps after each reset, rounds interleaved "
        f"({', '.join(f'{r} × {n} envs' for n, r in rounds.items())}), CPU time of this thread.",
        "",
        "| id | `benchmark_step` | " + " | ".join(f"SyncVectorEnv {n} | vector env {n} | ratio" for n in sizes) + " |",
        "|---|---:|" + "---:|---:|---:|" * len(sizes),
    ]
    for env_id, row in rows.items():
        cells = [f"`{env_id}`", f"{row['benchmark_step']:,.0f}"]
        for n in sizes:
            s, v = row[f"sync{n}"], row[f"vector{n}"]
            cells += [f"{s:,.0f}", f"{v:,.0f}", f"**{v / s:.2f}×**"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", default=",".join(h.FAMILIES), help="comma-separated (default: all)")
    p.add_argument("--seconds", type=float, default=0.3, help="length of one timed block")
    p.add_argument("--blocks", type=int, default=5, help="timed blocks per row (best is reported)")
    p.add_argument("--no-torch", action="store_true", help="skip the rows needing torch (PyTorch, SB3)")
    p.add_argument("--ids", default=",".join(h.DEFAULT_IDS), help="default ids for the clients' table ('' to skip)")
    p.add_argument("--id-rounds", default="4:6,16:3", help="n_envs:rounds of the vector-vs-sync rows")
    p.add_argument("--step-seconds", type=float, default=5.0, help="target_duration of benchmark_step")
    p.add_argument("--out", help="also write the Markdown report to this file")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.families.split(",") if n.strip()]
    unknown = [n for n in names if n not in h.FAMILIES]
    if unknown:
        p.error(f"unknown families {unknown}; valid choices: {', '.join(h.FAMILIES)}")

    started = time.strftime("%Y-%m-%d %H:%M")
    load_before = load()
    results = {}
    for name in names:
        results[name] = measure_family(name, args.seconds, args.blocks, args.no_torch)
    ids = [i.strip() for i in args.ids.split(",") if i.strip()]
    id_rounds = {int(a): int(b) for a, b in (x.split(":") for x in args.id_rounds.split(","))}
    id_rows = measure_ids(ids, id_rounds, args.step_seconds) if ids else {}
    lines = [
        f"Measured {started} with `python -m benchmarks.report` (best of {args.blocks} × {args.seconds} s per row).",
        "",
        f"Machine: {machine()}.",
        f"Load average (1, 5, 15 min) before: {load_before}; after: {load()}.",
        "",
    ]
    for name in names:
        lines += table(name, results[name]) + [""]
    if id_rows:
        lines += ids_table(id_rows, id_rounds, args.step_seconds) + [""]
    lines += ["Targets:", ""]
    for name in names:
        lines += verdicts(name, results[name])
    for env_id, row in id_rows.items():
        for n in id_rounds:
            ratio = row[f"vector{n}"] / row[f"sync{n}"]
            lines.append(
                f"- `{env_id}`, {n} envs: lrgym's vector env vs gymnasium's SyncVectorEnv {ratio:.2f}× "
                "(target ≥ 1×): " + ("met" if ratio >= 1.0 else "**missed**")
            )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
