"""Running the processes of a distributed test at once (ddp_worker.py), for the scheduler's
tests under torch.distributed (test_scheduler_ddp.py, test_scheduler_fsdp.py,
test_scheduler_local_group.py, test_scheduler_zero.py), and the few updates of a linear model
those tests train outside torch.distributed (:func:`train_linear`), and the comparison of a
distributed run with its one-process reference (:func:`assert_reference_run`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")


def run_workers(folder: Path, configs: dict, world: int, policies: list, timeout: float = 240) -> dict:
    """Run one ddp_worker.py process per entry of ``configs`` (key: its run's config, e.g.
    ``{"mode": "ddp", "rank": 0, "init": ...}``), all at once, gloo on the loopback, and return
    {key: what it saved}. A process that outlives ``timeout`` seconds is killed; one that failed
    fails the test with its output."""
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    procs = {}
    try:
        for key, config in configs.items():
            path = folder / f"{key}.json"
            path.write_text(json.dumps({**config, "world": world, "policies": policies, "out": str(folder / f"{key}.pt")}))
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
    return {key: torch.load(folder / f"{key}.pt", weights_only=False) for key in configs}


def run_ranks_and_reference(folder: Path, mode: str, world: int, policies: list, **config) -> dict:
    """Run ``world`` ranks of ddp_worker.py's ``mode`` (one process group, a ``file://``
    rendezvous in ``folder``) and the one-process reference (``"single"``: the ranks' minibatches
    concatenated) at once, each with ``config`` (e.g. ``momentum``): {"0", "1", ...: the ranks'
    results, "single": the reference's}."""
    configs = {str(r): {**config, "mode": mode, "rank": r, "init": f"file://{folder}/rendezvous"} for r in range(world)}
    configs["single"] = {**config, "mode": "single"}
    return run_workers(folder, configs, world, policies)


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
