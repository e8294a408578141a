"""``evaluate(policy, env_kwargs)`` given something that is no mapping of env keywords, an env id
above all (``evaluate(policy, "LRControl-MLP-v1")``, what a Gymnasium user reaches for), was
Python's "dictionary update sequence element #0 has length 1; 2 is required". It is now a
``ValueError`` naming the value and what is valid, for an lrgym id its keywords; the reference for
those is the id's registered spec (``gymnasium.spec(id).kwargs``), and the keywords shown run the
same episodes as the env the id makes."""

from __future__ import annotations

import ast
import re

import gymnasium as gym
import numpy as np
import pytest

import lrgym  # noqa: F401  (registers the ids)
from lrgym.baselines.evaluation import evaluate
from lrgym.baselines.policy import policy_env_kwargs
from lrgym.baselines.registry import make_baseline

SHORT = dict(horizon=3, inner_steps=2)


@pytest.mark.parametrize("env_id", ["LRControl-MLP-v1", "LRControl-Digits-v1"])
def test_an_env_id_is_refused_showing_its_keywords_which_run_as_the_id_does(env_id):
    policy = make_baseline("fixed", family="mlp")
    with pytest.raises(ValueError, match=rf"^env_kwargs='{env_id}' is no mapping of env keywords; valid: ") as raised:
        evaluate(policy, env_id, instance_set="val", instances=[10_000], seeds=[0])
    shown = ast.literal_eval(re.search(r"\(the id [^:]+: (\{.*\}), lrgym\.registry", str(raised.value)).group(1))
    assert shown == gym.spec(env_id).kwargs  # the reference: the id's registered keywords
    got = evaluate(policy, {**shown, **SHORT}, instance_set="val", instances=[10_000], seeds=[0])[0]
    # the id's own env with the policy's settings (its start LR, ...), stepped by hand with the
    # policy's actions, is the same episode
    env = gym.make(env_id, instance_set="val", **SHORT, **policy_env_kwargs(policy))
    obs, info = env.reset(seed=0, options={"instance": 10_000})
    policy.reset(info)
    losses = [float(info["train_loss"])]
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(policy.act(obs, info))
        losses.append(float(info["train_loss"]))
        done = terminated or truncated
    np.testing.assert_array_equal(got.train_losses, losses)


@pytest.mark.parametrize("bad", ["mlp", 3, ["family"], b"x" * 500])
def test_other_non_mappings_are_named_with_what_is_valid(bad):
    with pytest.raises(ValueError, match=r"^env_kwargs=.{1,60} is no mapping of env keywords; valid: a dict of "
                                         r"LRControlEnv's keywords such as .*, or None$"):
        evaluate(make_baseline("fixed", family="mlp"), bad, instance_set="val", instances=[10_000], seeds=[0])


def test_a_mapping_and_pairs_are_taken_as_before():
    policy = make_baseline("fixed", family="linreg")
    a = evaluate(policy, {"family": "linreg", **SHORT}, instance_set="val", instances=[10_000], seeds=[0])[0]
    b = evaluate(policy, [("family", "linreg"), *SHORT.items()], instance_set="val", instances=[10_000], seeds=[0])[0]
    assert a.train_losses == b.train_losses and len(a.train_losses) == SHORT["horizon"] + 1
