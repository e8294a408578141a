"""An SB3 zip submission on a job as large as the board's (a review, 2026-12): the sandbox's
template imported only the grader's SB3 wrapper, so every episode's process imported torch and
stable_baselines3 and loaded the model itself — 16 episodes took 37 s of CPU and a job of 40
went over the default 4096 MB memory limit (v2 jobs hold 75 – 80). Each job's process now
imports both and loads the model once before it forks the episodes, which share it copy-on-write
(:func:`lrgym.leaderboard.job_process.job_main`).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from lb_helpers import tiny_suite

from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import baseline_specs, job_layout, run_suite, submission_spec
from lrgym.leaderboard.suite import get_suite

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

WEIGHTS = Path(__file__).resolve().parents[2] / "baselines" / "weights"


def test_an_sb3_zip_passes_a_sandboxed_job_of_80_episodes_under_the_default_memory_limit(tmp_path):
    pytest.importorskip("stable_baselines3")
    for name in ("ppo_mixed.zip", "ppo_mixed.json"):
        shutil.copy(WEIGHTS / name, tmp_path / name)
    seeds = (0, 1)
    suite = tiny_suite("sb3-jobs", families=("quadratic",), n_instances=80, seeds=seeds, horizon=3, inner_steps=2)

    def largest(layout):
        return max(len(tasks) * len(job_seeds) for tasks, job_seeds in layout)

    # a sandboxed job (one seed) of 80 episodes, 5 x the largest of v2's
    assert largest(job_layout(suite, 1, seeds_apart=True)) == 80
    assert 5 * largest(job_layout(get_suite("v2"), 1, seeds_apart=True)) <= 80
    refs = load_references(suite, n_workers=1)
    submitted, trusted = run_suite(
        [submission_spec(str(tmp_path / "ppo_mixed.zip"), name="ppo-submitted"),
         *baseline_specs(["ppo"], include_learned=True)],
        suite, references=refs, n_workers=1, time_limit=600)  # the default memory limit
    assert submitted.ok, submitted.entry.failure_reason
    assert trusted.ok, trusted.entry.failure_reason
    assert len(submitted.runs) == 160

    def runs(outcome):
        return {(r.family, r.instance, r.seed): (r.score, r.final_loss, r.curves["lr"]) for r in outcome.runs}

    assert runs(submitted) == runs(trusted)  # the model loaded once per job acts as the worker's own


PRELOAD = '''
import json, os, sys
from lrgym.leaderboard import policy_loading
before = (sorted(os.listdir(os.environ["TMPDIR"])), dict(os.environ))
policy_loading.preload_sb3()
after = (sorted(os.listdir(os.environ["TMPDIR"])), dict(os.environ))
print(json.dumps({"same": before == after, "left": after[0], "loaded": "torch._dynamo" in sys.modules
                  and "stable_baselines3" in sys.modules}))
'''


def test_the_hosts_sb3_imports_leave_no_folder_and_no_variable_behind(tmp_path):
    """The sandbox's host imports torch, torch._dynamo and SB3 for every job (a review,
    2026-12-05): torch._dynamo made root's compile cache folder in $TMPDIR, the first job's working
    folder, which the job's uid could not write to, and named it in TORCHINDUCTOR_CACHE_DIR for
    every job. Run in a fresh interpreter, whose imports are the first."""
    import json
    import os
    import subprocess

    pytest.importorskip("stable_baselines3")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("TORCHINDUCTOR_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", PRELOAD], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == {"same": True, "left": [], "loaded": True}
