"""A submission's grade does not depend on the grader's ``PYTHONHASHSEED`` (a determinism audit,
2026-12): the policy host took the grader's, and a grader started without one gave every host a
random one, so a policy whose actions follow a str hash or a set of str (an innocent
``for name in {"a", "b"}``) scored differently from run to run, from job to job and with
``--workers``. The host now runs with :data:`~lrgym.leaderboard.host_start.POLICY_HASH_SEED`.

``StrHash`` picks each step's factor from ``hash()`` of a str; its reference is ``Replay``,
which plays the factors a separate interpreter started with ``PYTHONHASHSEED=POLICY_HASH_SEED``
computes. Both are graded by graders started with two other hash seeds.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from lb_helpers import tiny_suite

from lrgym.leaderboard.host_start import POLICY_HASH_SEED
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

HORIZON = 6
FACTOR = "hash(f'lr{t}') % 5"  # the factor index of step t (1-based)

POLICIES = f'''
class StrHash:
    name = "str-hash"

    def reset(self, info):
        self.t = 0

    def act(self, obs, info):
        self.t += 1
        t = self.t
        return {FACTOR}


class Replay:
    name = "replay"
    FACTORS = {{factors}}

    def reset(self, info):
        self.t = 0

    def act(self, obs, info):
        self.t += 1
        return self.FACTORS[self.t - 1]
'''


def test_a_policys_grade_does_not_depend_on_the_graders_hash_seed(tmp_path, monkeypatch):
    factors = subprocess.run(
        [sys.executable, "-c", f"print([{FACTOR} for t in range(1, {HORIZON + 1})])"],
        env={"PYTHONHASHSEED": POLICY_HASH_SEED}, capture_output=True, text=True, check=True).stdout.strip()
    (tmp_path / "hashing.py").write_text(POLICIES.replace("{factors}", factors))
    suite = tiny_suite("hash-seed", families=("quadratic",), seeds=(0, 1), horizon=HORIZON, inner_steps=2)
    refs = load_references(suite)
    graded = {}
    for seed in ("1", "2"):  # the grader's start; its pool's workers and their hosts inherit it
        monkeypatch.setenv("PYTHONHASHSEED", seed)
        hashing, replay = run_suite(
            [submission_spec(f"{tmp_path}/hashing.py:StrHash", name=f"str-hash-{seed}"),
             submission_spec(f"{tmp_path}/hashing.py:Replay", name=f"replay-{seed}")],
            suite, references=refs, n_workers=1, time_limit=300)
        assert hashing.ok, hashing.entry.failure_reason
        assert replay.ok, replay.entry.failure_reason
        graded[seed] = {(r.seed,): (r.score, list(r.curves["lr"])) for r in hashing.runs}
        assert graded[seed] == {(r.seed,): (r.score, list(r.curves["lr"])) for r in replay.runs}
    assert len(graded["1"]) == 2
