"""TorchRL (the ``torchrl`` extra) runs lrgym's envs, checked against ``gym.make`` itself.

A single ``GymEnv(id)`` with ``auto_register_info_dict``, specs checked by TorchRL's own
``check_env_specs``, info tensors with the schema's dtypes. The README's batched recipe, TorchRL's
``GymWrapper`` around lrgym's vector env with ``autoreset_mode="Disabled"`` (TorchRL resets the
finished sub-envs by ``reset_mask``), and a ``SerialEnv`` of single envs: every root and next
observation, reward, ``terminated`` / ``truncated`` flag and info value equals that of ``gym.make``
envs driven by the same seeds and actions, to the bit (the reward as float32, TorchRL's dtype),
also when sub-envs diverge at different steps. (``GymEnv(id, num_envs=n)``, which the README
recommended until 2026-12-07, fails that comparison: TorchRL 0.14.1 builds an ``AsyncVectorEnv`` in
gymnasium's ``NEXT_STEP`` autoreset mode, which it does not handle, and zeroes final observations.)
And the README's TorchRL submission: the exported NumPy policy acts as the TorchRL actor's greedy
path on normalised observations, and its file is graded on ``quick``."""

import gymnasium as gym
import numpy as np
import pytest
import torch

torchrl_envs = pytest.importorskip("torchrl.envs", reason="the torchrl extra: pip install 'lrgym[torchrl]'")

from benchmarks.clients.matrix import gym_make_steps  # noqa: E402  (gym.make's steps: the reference)
from lrgym.info import FAMILY_NAMES  # noqa: E402

from test_readme_examples import assert_graded_on_quick, run_readme_block  # noqa: E402

ENV_ID = "lrgym:LRControl-v1"
KWARGS = dict(horizon=3, inner_steps=2)
INFO_KEYS = ("train_loss", "instance", "step", "diverged")


def test_torchrl_single_env_with_auto_registered_info_dict():
    from torchrl.envs.utils import check_env_specs

    torch.set_num_threads(1)
    env = torchrl_envs.GymEnv(ENV_ID, **KWARGS)
    env.auto_register_info_dict()
    check_env_specs(env)
    td = env.rollout(12, break_when_any_done=False)  # four episodes, new instances at the resets
    assert td.batch_size == torch.Size([12])
    nxt = td["next"]
    assert nxt["family"].dtype == torch.int64 and nxt["instance"].dtype == torch.int64
    assert nxt["excess_loss"].dtype == torch.float64 and nxt["train_loss"].dtype == torch.float64
    assert nxt["diverged"].dtype == torch.bool and nxt["optimizer"].dtype == torch.int64
    family, instance = nxt["family"], nxt["instance"]
    assert torch.equal(family, instance % len(FAMILY_NAMES))  # LRControl-v1: member k mod 4
    no_optimum = (family == FAMILY_NAMES.index("mlp")) | (family == FAMILY_NAMES.index("recsys"))
    assert torch.equal(torch.isnan(nxt["excess_loss"]), no_optimum)
    assert (nxt["horizon"] == KWARGS["horizon"]).all() and (nxt["inner_steps"] == KWARGS["inner_steps"]).all()
    assert len(set(instance.tolist())) >= 2  # new instances at the resets
    env.close()


def assert_as_gym_make(td, reference: dict, info: bool = True) -> None:
    assert np.array_equal(td["observation"].numpy(), reference["root"])
    assert np.array_equal(td["next", "observation"].numpy(), reference["next"])
    assert np.array_equal(td["next", "reward"].squeeze(-1).numpy(), reference["reward"].astype(np.float32))
    assert np.array_equal(td["next", "terminated"].squeeze(-1).numpy(), reference["terminated"])
    assert np.array_equal(td["next", "truncated"].squeeze(-1).numpy(), reference["truncated"])
    for key in INFO_KEYS if info else ():
        assert np.array_equal(td["next", key].squeeze(-1).numpy(), reference[key]), key


def test_the_readmes_batched_torchrl_env_steps_as_gym_make_to_the_bit():
    """The README's block, as printed: 4 sub-envs, 100 steps, two 50-step episodes each."""
    namespace = run_readme_block("GymWrapper(venv, categorical_action_encoding=True)")
    td, env = namespace["td"], namespace["env"]
    try:
        assert td.batch_size == torch.Size([4, 100]) and td["action"].shape == (4, 100)  # categorical
        reference = gym_make_steps(td["action"].numpy(), [0, 1, 2, 3], INFO_KEYS)
        assert_as_gym_make(td, reference)
        assert reference["truncated"].sum() >= 4  # episodes ended, the next ones went on as gym.make's
        # RewardSum: each episode's running sum of the (float32) rewards
        episode_start = np.concatenate([np.ones((4, 1), bool), (reference["terminated"] | reference["truncated"])[:, :-1]], 1)
        expected = np.zeros((4, 100), np.float64)
        for i in range(4):
            total = 0.0
            for t in range(100):
                total = (0.0 if episode_start[i, t] else total) + float(np.float32(reference["reward"][i, t]))
                expected[i, t] = total
        assert np.allclose(td["next", "episode_reward"].squeeze(-1).numpy(), expected, rtol=1e-5, atol=1e-5)
    finally:
        env.close()


def big_log_lrs(td):
    """A policy that sets LRs between 1e-2 and 10 by the observation: some episodes diverge, at
    different steps in different sub-envs."""
    x = td["observation"][..., :1].abs()
    return td.set("action", (0.6 + 0.4 * torch.sin(7 * x)).clamp(-1, 1))


@pytest.mark.parametrize("batching", ["vector_env_disabled", "serial_env"])
def test_torchrl_batched_envs_end_apart_on_divergence_as_gym_make(batching):
    torch.set_num_threads(1)
    kwargs = dict(horizon=6, inner_steps=2, action_mode="log_lr")
    n, seed = 3, 5
    if batching == "vector_env_disabled":
        venv = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", autoreset_mode="Disabled", **kwargs)
        env = torchrl_envs.GymWrapper(venv)
        env.auto_register_info_dict()
        seeds = [seed + i for i in range(n)]
    else:
        from torchrl._utils import seed_generator

        env = torchrl_envs.SerialEnv(n, lambda: torchrl_envs.GymEnv(ENV_ID, **kwargs))
        seeds = [seed]
        while len(seeds) < n:
            seeds.append(seed_generator(seeds[-1]))  # how TorchRL seeds its sub-envs
    try:
        env.set_seed(seed)
        td = env.rollout(14, big_log_lrs, break_when_any_done=False)
        reference = gym_make_steps(td["action"].numpy(), seeds, INFO_KEYS, **kwargs)
        assert_as_gym_make(td, reference, info=batching == "vector_env_disabled")
        ends = [tuple(np.flatnonzero(r)) for r in reference["terminated"] | reference["truncated"]]
        assert reference["terminated"].any() and len(set(ends)) > 1  # diverged, and not in lockstep
    finally:
        env.close()


def test_the_readmes_torchrl_submission_acts_as_the_actor_and_is_graded(tmp_path):
    """The README's export of a TorchRL actor (trained for one batch here) to an MLPPolicy with
    ObservationNorm folded in: on raw observations it takes the actor's greedy action (the argmax
    of its logits on the normalised observation), and the file it writes is graded through the
    documented CLI on ``quick`` in the sandbox: an ok entry, 8 runs."""
    target = tmp_path / "my_torchrl_ppo.py"
    namespace = run_readme_block('submission_source("TorchRLPolicy")',
                                 {"total_frames=8_000": "total_frames=800", 'Path("my_torchrl_ppo.py")': f"Path({str(target)!r})"})
    env, logits_net, policy = namespace["env"], namespace["logits_net"], namespace["policy"]
    try:
        with torch.no_grad():
            raw = env.base_env.rollout(40, break_when_any_done=False)["next", "observation"].reshape(-1, 12)
            normalised = env.transform._apply_transform(raw)
            logits = logits_net(normalised).double().numpy()
    finally:
        env.close()
    assert not np.allclose(env.transform.loc.numpy(), 0) and not np.allclose(env.transform.scale.numpy(), 1)
    outputs = np.stack([policy.outputs(obs) for obs in raw.numpy()])
    assert np.allclose(outputs, logits, rtol=1e-4, atol=1e-5)
    margin = np.sort(logits, 1)[:, -1] - np.sort(logits, 1)[:, -2]
    clear = margin > 1e-4  # no near-tie between float32 torch and float64 NumPy
    assert clear.sum() >= len(clear) // 2
    assert [policy.act(obs, {}) for obs in raw.numpy()[clear]] == logits[clear].argmax(1).tolist()

    assert_graded_on_quick(tmp_path, f"{target}:TorchRLPolicy", "my-torchrl-ppo")
