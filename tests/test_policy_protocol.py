"""The Policy protocol (``lrgym.policy``) and the one rule of what a policy must have
(:func:`lrgym.policy.missing_methods`: ``reset`` and ``act``) say the same thing.

The rule is what the grader, the evaluation loop and ``PolicyScheduler`` check; ``name``,
``optimizer`` and ``action_mode`` have defaults (README, "Submitting a policy"). Until
2026-12-06 the runtime-checkable protocol also listed those three as members, so
``isinstance(p, Policy)`` was False for a policy with only ``reset`` and ``act``, which all three
accept and drive.
"""

from lrgym.baselines.evaluation import run_episode
from lrgym.env import LRControlEnv
from lrgym.policy import Policy, missing_methods, policy_env_kwargs


class Minimal:
    """Only the required methods: keeps the LR (discrete action 2, factor 1.0)."""

    def reset(self, info):
        self.steps = 0

    def act(self, obs, info):
        self.steps += 1
        return 2


class Declared(Minimal):
    name = "declared"
    optimizer = "adam"
    action_mode = "discrete"


class NoAct:
    name = "no-act"
    optimizer = "sgd"
    action_mode = "discrete"

    def reset(self, info):
        pass


class ActNotCallable(NoAct):
    act = 3


def test_isinstance_holds_for_every_policy_the_rule_accepts():
    for policy in (Minimal(), Declared(), NoAct()):
        assert isinstance(policy, Policy) == (missing_methods(policy) == []), type(policy).__name__
    assert isinstance(Minimal(), Policy)
    assert not isinstance(NoAct(), Policy)
    # the rule is stricter than isinstance, which sees only that the attribute exists
    assert missing_methods(ActNotCallable()) == ["act"]


def test_a_minimal_policy_runs_with_the_defaults():
    policy = Minimal()
    assert policy_env_kwargs(policy) == {"optimizer": "sgd", "action_mode": "discrete"}
    traj = run_episode(policy, LRControlEnv(family="quadratic", horizon=3), seed=0)
    assert policy.steps == 3 and traj.policy == "Minimal"
    assert traj.lrs == [traj.lrs[0]] * 3  # factor 1.0 each step: the start LR kept
