"""The README's "Coming from DACBench's SGD benchmark" recipes do what it says.

* ``instance_order="cycle"`` (DACBench's round robin over a fixed instance list) runs, for each
  reset, the episode a bare env runs when reset with that instance and seed: the same trajectory
  to the bit.
* The "each instance once" recipe (SB3's ``EvalCallback`` over a batched
  ``instance_order="each_once"`` env) runs every listed instance once at every evaluation, the
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


def test_the_evaluation_recipe_takes_every_listed_instance_once_at_every_evaluation(monkeypatch):
    """The README's "each instance once" block, run (a tiny PPO: 2 rollouts of 16 steps, an
    evaluation every 8): at every evaluation of SB3's EvalCallback the episodes it counts (sub-env
    i's first (5 + i) // 2, as evaluate_policy counts them) take each listed instance once, sub-env
    i its block of the list (5 seeds on 2 sub-envs: n_envs not dividing the list), and are the same
    episodes at every evaluation, training in between: the same instances and first observations,
    those of bare envs seeded 0 + i asked for the block's seeds by name (resets alone: steps draw
    nothing from the generator)."""
    pytest.importorskip("stable_baselines3")
    import gymnasium as gym

    import lrgym.sb3

    short = {"horizon": 3, "inner_steps": 2}
    made = lrgym.sb3.make_sb3_vec_env
    evaluations: list[list[list[tuple[int, bytes]]]] = []  # per reset of the eval env: per sub-env its episodes

    def recording(env_id, n_envs=1, seed=None, **kwargs):
        env = made(env_id, n_envs, seed, **short, **kwargs)
        if kwargs.get("instance_order") != "each_once":
            return env
        reset, step_wait = env.reset, env.step_wait

        def reset_recorded():
            obs = reset()
            evaluations.append([[(int(env.reset_infos[i]["instance"]), obs[i].tobytes())] for i in range(n_envs)])
            return obs

        def step_wait_recorded():
            obs, rewards, dones, infos = step_wait()
            for i in np.flatnonzero(dones):  # obs[i] starts sub-env i's next episode
                evaluations[-1][i].append((int(env.reset_infos[i]["instance"]), obs[i].tobytes()))
            return obs, rewards, dones, infos

        env.reset, env.step_wait = reset_recorded, step_wait_recorded
        return env

    monkeypatch.setattr(lrgym.sb3, "make_sb3_vec_env", recording)
    code = readme_block("EvalCallback(eval_env, n_eval_episodes=len(listed)")
    for old, new in [("n_steps=64)", "n_steps=16)"), ("learn(5_000,", "learn(96,"), ("eval_freq=250", "eval_freq=8")]:
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    ns = run_block(code)
    listed, eval_env = ns["listed"], ns["eval_env"]
    assert listed == [3, 7, 11, 15, 19] and eval_env.num_envs == 2
    assert len(evaluations) == 4  # EvalCallback's, at callback calls 8, 16, 24 and 32
    blocks = [[3, 7], [11, 15, 19]]
    counted = [[episodes[i][:(len(listed) + i) // 2] for i in range(2)] for episodes in evaluations]
    want = []
    for i, block in enumerate(blocks):
        bare = gym.make("LRControl-LinReg-v1", **short)
        want.append([(k, bare.reset(seed=0 + i if e == 0 else None, options={"instance": k})[0].tobytes())
                     for e, k in enumerate(block)])
    assert all(c == want for c in counted)
    assert ns["model"].num_timesteps == 128  # (trained between the second and the third)
    eval_env.close()
