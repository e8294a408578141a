"""The README's "Coming from DACBench's SGD benchmark" recipes do what it says.

* ``instance_order="cycle"`` (DACBench's round robin over a fixed instance list) runs, for each
  reset, the episode a bare env runs when reset with that instance and seed: the same trajectory
  to the bit.
* The scoring recipe (``evaluate`` on a suite's instances and seeds, its references, the one score
  function, ``family_iqm``) gives every run the score the leaderboard's grader gives it, and the
  grader's family IQM; checked against :func:`lrgym.leaderboard.runner.run_suite` on ``quick``.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block(marker: str) -> str:
    blocks = [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)]
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, f"{len(found)} README Python blocks hold {marker!r} (want exactly one)"
    return found[0]


def run_block(code: str) -> dict:
    namespace: dict = {}
    exec(compile(code, "README DACBench example", "exec"), namespace)
    return namespace


def test_the_cycle_example_takes_the_listed_instances_in_turn_as_a_bare_env_runs_them(capsys):
    """The README's ``instance_order="cycle"`` block: each episode is the one a bare env (no list,
    no order) runs when reset with the seed and the instance the README says, to the bit."""
    import gymnasium as gym

    import lrgym  # noqa: F401 (registers the ids)
    from lrgym.actions import log_lr_action

    ns = run_block(readme_block('instance_order="cycle")\nfor episode in range(4):'))
    printed = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [int(p[0]) for p in printed] == [3, 7, 11, 3]  # the list, in turn, and round again
    ns["env"].close()
    env = gym.make("LRControl-MLP-v1", action_mode="log_lr", optimizer="rmsprop", instances=[3, 7],
                   instance_order="cycle")
    bare = gym.make("LRControl-MLP-v1", action_mode="log_lr", optimizer="rmsprop")
    try:
        for seed, instance in [(5, 3), (6, 7), (5, 3)]:  # the cycle starts over after the last
            got, _ = env.reset(seed=seed)
            want, _ = bare.reset(seed=seed, options={"instance": instance})
            assert env.unwrapped.instance == instance
            for _ in range(4):
                action = log_lr_action(2e-3, 1e-6, 10.0)
                assert np.array_equal(got, want)
                got = env.step(action)[0]
                want = bare.step(action)[0]
            assert np.array_equal(got, want)
    finally:
        env.close()
        bare.close()


def test_the_scoring_recipe_gives_the_graders_scores(tmp_path, monkeypatch):
    from lrgym.leaderboard.references import load_references
    from lrgym.leaderboard.runner import baseline_specs, run_suite

    monkeypatch.setenv("LRGYM_CACHE", str(tmp_path))  # the shipped references, not a user's cache
    code = readme_block("scores = {}  # (policy, family, instance, seed) -> S")
    assert 'get_suite("v2")' in code
    ns = run_block(code.replace('get_suite("v2")', 'get_suite("quick")'))
    suite = ns["suite"]
    outcomes = run_suite(baseline_specs(["fixed", "cosine"]), suite, references=load_references(suite), n_workers=1)
    for outcome in outcomes:
        assert outcome.ok, outcome.entry
        name = outcome.spec.name
        graded = {(name, r.family, r.instance, r.seed): r.score for r in outcome.runs}
        mine = {key: s for key, s in ns["scores"].items() if key[0] == name}
        assert len(graded) == len(suite.tasks()) * len(suite.seeds)
        assert mine == graded
        labels = [t.family for t in suite.tasks()]
        matrix = np.array([[mine[name, t.family, t.instance, s] for t in suite.tasks()] for s in suite.seeds])
        from lrgym.leaderboard.scoring import family_iqm

        assert float(family_iqm(matrix, labels)) == pytest.approx(outcome.entry.summary["family_iqm"][0], abs=1e-12)
