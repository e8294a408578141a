"""Running the processes of the scheduler's tests under torch.distributed (ddp_worker.py:
test_scheduler_ddp.py, test_scheduler_fsdp.py, test_scheduler_fsdp_mixed.py,
test_scheduler_local_group.py, test_scheduler_zero.py), and the few updates of a linear model
those tests train outside torch.distributed (:func:`train_linear`), and the comparison of a
distributed run with its one-process reference (:func:`assert_reference_run`).

Every distributed run of those modules is made by three processes, once per pytest run
(:func:`scheduler_runs`): rank 0 and rank 1, each running every mode (DDP, FSDP, FSDP in mixed
precision, ZeRO, local schedules) in turn, a process group of its own for each, and the reference
process, which runs every one-process reference in turn. Importing torch costs each process
seconds: before, each module started three or four processes of its own (16 in all, ≈ 120 s of
the five modules on a 2-core machine); the runs and the references themselves are unchanged.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")
WORLD = 2
#: the policies every run trains under, with overrides that make them decide within 10 steps
POLICIES = [["plateau", {"lr": 0.3, "patience": 0, "threshold": 0.02}], ["bold_driver", {}]]
#: SGD's momentum of the ZeRO run and its reference (a state the bold driver's undo must put back)
ZERO_MOMENTUM = 0.5
#: each test module's ranks: their run's config beside the rank and the rendezvous
RANK_RUNS = {
    "ddp": {"mode": "ddp"},
    "fsdp": {"mode": "fsdp"},
    "fsdp_mixed": {"mode": "fsdp", "mixed": True},
    "zero": {"mode": "zero", "momentum": ZERO_MOMENTUM},
    "local": {"mode": "local"},
}
#: the one-process references, each its own run in the reference process (independent of the ranks)
REFERENCE_RUNS = {
    "single": {"mode": "single"},  # DDP's, FSDP's and FSDP in mixed precision's
    "single momentum": {"mode": "single", "momentum": ZERO_MOMENTUM},  # ZeRO's
    **{f"alone {r}": {"mode": "single_rank", "rank": r} for r in range(WORLD)},  # the local schedules'
}
#: for each test module: {its key: (which process, which run)} (its ranks and its references)
MODULE_RUNS = {
    **{module: {**{str(r): (str(r), module) for r in range(WORLD)}, "single": ("single", "single")}
       for module in ("ddp", "fsdp", "fsdp_mixed")},
    "zero": {**{str(r): (str(r), "zero") for r in range(WORLD)}, "single": ("single", "single momentum")},
    "local": {**{str(r): (str(r), "local") for r in range(WORLD)},
              **{f"alone {r}": ("single", f"alone {r}") for r in range(WORLD)}},
}


def run_workers(folder: Path, processes: dict, timeout: float = 480) -> dict:
    """Run one ddp_worker.py process per entry of ``processes`` (key: the list of its runs, each a
    ``(name, config)``, e.g. ``("ddp", {"mode": "ddp", "rank": 0, "init": ...})``), all at once,
    gloo on the loopback, and return {key: {name: what that run saved}}. A process that outlives
    ``timeout`` seconds is killed; one that failed fails the test with its output."""
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    procs = {}
    try:
        for key, runs in processes.items():
            path = folder / f"{key}.json"
            path.write_text(json.dumps([{**config, "world": WORLD, "policies": POLICIES,
                                         "out": str(folder / f"{key} {name}.pt")} for name, config in runs]))
            procs[key] = subprocess.Popen([sys.executable, str(WORKER), str(path)], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        logs = {key: proc.communicate(timeout=timeout)[0] for key, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for key, proc in procs.items():
        assert proc.returncode == 0, f"{key}: exit {proc.returncode}\n{logs[key][-3000:]}"
    return {key: {name: torch.load(folder / f"{key} {name}.pt", weights_only=False) for name, _ in runs}
            for key, runs in processes.items()}


def run_all(folder: Path) -> dict:
    """Every run of RANK_RUNS and REFERENCE_RUNS, by three processes at once: {"0", "1": the
    ranks' {module: results}, "single": {reference: results}}. Each mode's process group has its
    own ``file://`` rendezvous in ``folder``."""
    processes = {str(r): [(module, {**config, "rank": r, "init": f"file://{folder}/rendezvous-{module}"})
                          for module, config in RANK_RUNS.items()] for r in range(WORLD)}
    processes["single"] = list(REFERENCE_RUNS.items())
    return run_workers(folder, processes)


def scheduler_runs(tmp_path_factory, module: str) -> dict:
    """``module``'s runs (a key of MODULE_RUNS): {"0", "1": the ranks' results, "single" or
    "alone 0", "alone 1": the references'}. The first module of a pytest run to ask makes every
    module's runs (:func:`run_all`) under a lock in the temporary folder that pytest-xdist's
    workers share, and saves them; the next ones, on any worker, load them (a worker asking while
    they are being made waits for them)."""
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent  # the session's folder, above each worker's own
    folder = root / "scheduler-dist-runs"
    folder.mkdir(exist_ok=True)
    saved = folder / "runs.pt"
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not saved.exists():  # (a failed attempt saved nothing: the next module tries again)
            torch.save(run_all(folder), folder / "runs.pt.part")
            os.replace(folder / "runs.pt.part", saved)
    runs = torch.load(saved, weights_only=False)
    return {key: runs[process][name] for key, (process, name) in MODULE_RUNS[module].items()}


def train_linear(model, opt, sched, updates: int) -> None:
    """``updates`` updates of ``model`` (a ``Linear(2, 1)``) on three rows of ones, per-example
    losses (its squared output plus 1) told to ``sched`` after each ``opt.step()``."""
    for _ in range(updates):
        loss = model(torch.ones(3, 2)).pow(2).squeeze(-1) + 1.0
        opt.zero_grad()
        loss.mean().backward()
        opt.step()
        sched.step(loss)


def assert_reference_run(run: dict, reference: dict) -> None:
    """``run`` (one rank's results under one policy) is ``reference``'s (the one-process run's):
    the same LR at every update (discrete decisions far from their thresholds), the observation
    after every step within float32 rounding, the final parameters within float64 rounding."""
    assert run["lrs"] == reference["lrs"]
    assert len(run["obs"]) == len(reference["obs"])
    for a, b in zip(run["obs"], reference["obs"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # float32 observations
    for a, b in zip(run["params"], reference["params"]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
