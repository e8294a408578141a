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
from lb_helpers import graded_alike_on_1_and_2_workers, tiny_suite

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
    assert len(graded_alike_on_1_and_2_workers(f"{tmp_path}/counter.py", ("Counter", "Closed"), suite, refs)) == 8


#: made by the module's top-level code, which ran once in the template for every later job of its
#: worker (a review, 2026-12): an anonymous mmap is MAP_SHARED and a pipe's descriptors are
#: inherited, so every episode of every later job wrote to the same page and the same pipe. The
#: module is now imported by each job's own process, killed with the job.
SHARED_AT_IMPORT = '''
import array
import fcntl
import mmap
import os
import struct
import termios

SHARED = mmap.mmap(-1, 8)  # anonymous: MAP_SHARED
READ, WRITE = os.pipe()


class Leaky:
    name = "leaky"

    def reset(self, info):
        n = struct.unpack("q", SHARED[:8])[0] + 1
        SHARED[:8] = struct.pack("q", n)
        os.write(WRITE, b"x")
        waiting = array.array("i", [0])
        fcntl.ioctl(READ, termios.FIONREAD, waiting)  # bytes written to the pipe and not read
        seen = (n, waiting[0])
        if seen != (1, 1):
            raise RuntimeError(f"state crossed jobs: mmap, pipe = {seen}")

    def act(self, obs, info):
        return 2
'''


def test_what_the_import_shares_does_not_cross_jobs(tmp_path):
    """Two jobs of one episode each in one worker: each episode sees 1 in the mmap and 1 byte
    in the pipe (the old code: the second job's episode saw (2, 2))."""
    (tmp_path / "leaky.py").write_text(SHARED_AT_IMPORT)
    suite = tiny_suite("shared", families=("quadratic", "linreg"), n_instances=1, seeds=(0,), horizon=3,
                       inner_steps=2)
    refs = load_references(suite, n_workers=1)
    [leaky] = run_suite([submission_spec(f"{tmp_path}/leaky.py:Leaky", name="leaky")], suite, references=refs,
                        n_workers=1, time_limit=300)
    assert leaky.ok, leaky.entry.failure_reason
    assert len(leaky.runs) == 2


#: a population across the episodes that run at the same time in one sandbox (a review,
#: 2026-12-05): they share its /tmp, so each can publish its progress there and read the others'.
#: With the seeds of one instance among them, a policy could try several LRs on one instance at
#: once and have all follow the best one. This one publishes its initial loss and, at its first
#: step, fails with the initial losses it found published beside its own.
POPULATION = '''
import glob
import os



class Population:
    name = "population"

    def reset(self, info):
        self.board = os.path.join(os.path.dirname(os.path.dirname(os.getcwd())), "population")  # beside work/<k>
        os.makedirs(self.board, exist_ok=True)
        self.mine = os.path.join(self.board, str(os.getpid()))
        with open(self.mine, "w") as f:
            f.write(repr(float(info["train_loss"])))

    def act(self, obs, info):
        peers = [open(p).read() for p in sorted(glob.glob(os.path.join(self.board, "*"))) if p != self.mine]
        raise RuntimeError("SELF " + open(self.mine).read() + " PEERS " + " ".join(peers) + " END")
'''


def test_no_episode_runs_beside_another_seed_of_its_instance(tmp_path):
    """Each sandboxed job runs one seed (lrgym.leaderboard.runner.job_layout): the episodes that
    can reach each other are of different instances. The old layout ran both seeds of each
    instance in one job, and the first episode found its instance's other seed beside it."""
    import math
    import re

    from lrgym.leaderboard.suite import Task

    (tmp_path / "population.py").write_text(POPULATION)
    suite = tiny_suite("population", families=("linreg",), n_instances=3, seeds=(0, 1), horizon=3, inner_steps=2)
    refs = load_references(suite, n_workers=1)
    [pop] = run_suite([submission_spec(f"{tmp_path}/population.py:Population", name="population")], suite,
                      references=refs, n_workers=1, time_limit=300)
    assert not pop.ok
    found = re.search(r"SELF (\S+) PEERS (.*?) END", pop.entry.failure_reason)
    assert found, pop.entry.failure_reason
    losses = {(k, s): refs.initial_loss(Task("linreg", k), s) for k in suite.families[0].instances for s in suite.seeds}

    def which(loss: str):
        [run] = [run for run, l0 in losses.items() if math.isclose(float(loss), l0, rel_tol=1e-9)]
        return run

    me, peers = which(found[1]), [which(p) for p in found[2].split()]
    assert all(instance != me[0] and seed == me[1] for instance, seed in peers), (me, peers)
    assert len(peers) == 2  # the job's other instances: the board worked
