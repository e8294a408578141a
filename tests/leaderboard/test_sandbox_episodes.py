"""Every episode gets a fresh policy instance, and nothing of one episode reaches another (an
audit, 2026-12): the sandbox built a job's instances once per family and reused them for the
worker's later jobs, and every episode ran in one process, so state kept in ``self``, in a class
attribute or in a module global crossed episodes — a warm-up counted in ``self`` scored 0.711 with
``-j 1`` and 0.743 with ``-j 2``, and a policy could learn across test instances. Each episode now
runs in a fresh process forked from a template that imported the module and ran nothing else.

``Counter`` counts its episodes in ``self``, in a class attribute, in a module global and in a
file of its working folder, and doubles the LR for its first ``WARMUP`` steps counted in a
module global: carried state would change its actions. The reference is ``Closed``, the closed
form of what it does without carried state (a warm-up counted from ``reset``, which no reuse can
change), graded alongside.
"""

from __future__ import annotations

import sys

import pytest
from lb_helpers import tiny_suite

from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

POLICIES = '''
import os

WARMUP = 3
BUILT = [0]
STEPS = [0]


class Counter:
    name = "counter"
    built = 0

    def __init__(self):
        BUILT[0] += 1
        Counter.built += 1
        self.resets = 0

    def reset(self, info):
        self.resets += 1
        with open("episodes", "a") as f:  # in its working folder
            f.write("x")
        with open("episodes") as f:
            in_file = len(f.read())
        seen = (self.resets, Counter.built, BUILT[0], in_file)
        if seen != (1, 1, 1, 1):
            raise RuntimeError(f"state carried across episodes: resets, class, global, file = {seen}")

    def act(self, obs, info):
        STEPS[0] += 1
        return 4 if STEPS[0] <= WARMUP else 2


class Closed:
    name = "closed-form"

    def reset(self, info):
        self.t = 0

    def act(self, obs, info):
        self.t += 1
        return 4 if self.t <= WARMUP else 2
'''


def test_no_state_crosses_episodes_and_scores_do_not_depend_on_the_workers(tmp_path):
    (tmp_path / "counter.py").write_text(POLICIES)
    suite = tiny_suite("episodes", families=("quadratic", "linreg"), n_instances=2, seeds=(0, 1), horizon=6,
                       inner_steps=2)
    refs = load_references(suite, n_workers=2)
    scores = {}
    for workers in (1, 2):
        counter, closed = run_suite(
            [submission_spec(f"{tmp_path}/counter.py:Counter", name=f"counter-{workers}"),
             submission_spec(f"{tmp_path}/counter.py:Closed", name=f"closed-{workers}")],
            suite, references=refs, n_workers=workers, time_limit=300)
        assert counter.ok, counter.entry.failure_reason
        assert closed.ok, closed.entry.failure_reason
        scores[workers] = {(r.family, r.instance, r.seed): (r.score, r.curves["lr"]) for r in counter.runs}
        assert scores[workers] == {(r.family, r.instance, r.seed): (r.score, r.curves["lr"]) for r in closed.runs}
    assert len(scores[1]) == 8 and scores[1] == scores[2]
