"""The README's "Coming from DACBench's SGD benchmark" recipes do what it says.

* ``instance_order="cycle"`` (DACBench's round robin over a fixed instance list) runs, for each
  reset, the episode a bare env runs when reset with that instance and seed: the same trajectory
  to the bit.
* The "each instance once" recipe (SB3's ``evaluate_policy`` over a batched cycled env, each
  sub-env given its block of the list) runs every listed instance once at every call, the
  episodes bare envs run when asked for those instances by hand.
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


class ByFeatureSigns:
    """A stand-in SB3 model whose action depends on the observation (the signs of its first three
    features: exact, so a batch acts as its rows one by one)."""

    def __init__(self, n_actions: int):
        self.n_actions = n_actions

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        return (obs[:, :3] > 0).astype(np.int64) @ np.array([1, 2, 4]) % self.n_actions, state


def hand_returns(policy, env_kwargs: dict, listed: list[int], starts: list[int], per_env: int, seed: int) -> list[float]:
    """The reference: sub-env i as a bare env (no list, no order) reset with ``seed + i`` and the
    listed seed at position ``starts[i]``, then the next listed seeds one by one, each reset asking
    for its instance by name; the returns in the order ``evaluate_policy`` counts episodes of equal
    length (episode e of every sub-env, sub-env by sub-env), summed as it sums them."""
    import gymnasium as gym

    returns = [[] for _ in starts]
    for i, start in enumerate(starts):
        env = gym.make("LRControl-LinReg-v1", **env_kwargs)
        for e in range(per_env):
            obs, _ = env.reset(seed=seed + i if e == 0 else None, options={"instance": listed[(start + e) % len(listed)]})
            total, done = 0.0, False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(int(policy.predict(obs[None])[0][0]))
                total += float(np.float32(reward))  # SB3 adds the vec env's float32 rewards into float64
                done = terminated or truncated
            returns[i].append(total)
        env.close()
    return [returns[i][e] for e in range(per_env) for i in range(len(starts))]


def test_the_evaluation_recipe_takes_every_listed_instance_once_at_every_call():
    """The README's "each instance once" block: ``evaluate_policy`` after its ``set_options`` runs
    sub-env i over its block of the list, every listed instance once, the same episodes to the bit
    at every call, whatever evaluations moved the cycles in between. Without it (the call the
    README warns of) sub-env i takes the list's i-th seed and the next: 3, 7 and 7, 11, never 15."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.evaluation import evaluate_policy

    from lrgym.sb3 import make_sb3_vec_env

    short = {"horizon": 3, "inner_steps": 2}
    code = readme_block("def evaluate_each_once(model, seed=0):")
    assert code.count('instance_order="cycle")') == 1
    ns = run_block(code.replace('instance_order="cycle")', 'instance_order="cycle", horizon=3, inner_steps=2)'))
    listed, n, block, eval_env = ns["listed"], ns["n_envs"], ns["block"], ns["eval_env"]
    assert (listed, n, block) == ([3, 7, 11, 15], 2, 2)
    policy = ByFeatureSigns(int(eval_env.action_space.n))

    want = hand_returns(policy, short, listed, starts=[i * block for i in range(n)], per_env=block, seed=0)
    first = ns["evaluate_each_once"](policy)
    evaluate_policy(policy, eval_env, n_eval_episodes=3, warn=False)  # moves the cycles
    again = ns["evaluate_each_once"](policy)
    assert first == again == (want, [3] * len(listed))

    plain = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=n, seed=0, instances=listed, instance_order="cycle", **short)
    got = evaluate_policy(policy, plain, n_eval_episodes=len(listed), return_episode_rewards=True, warn=False)
    assert got == (hand_returns(policy, short, listed, starts=list(range(n)), per_env=block, seed=0), [3] * len(listed))
    assert sorted(want) != sorted(got[0])  # not the same instances: 15 was never run
    eval_env.close()
    plain.close()
