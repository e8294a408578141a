"""Running the processes of a distributed test at once (ddp_worker.py), for the scheduler's
tests under torch.distributed (test_scheduler_ddp.py, test_scheduler_fsdp.py,
test_scheduler_local_group.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
