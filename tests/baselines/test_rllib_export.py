"""A policy trained with a plain RLlib config of one's own, exported as an lrgym policy.

An RLlib user's audit (2026-12-06): ``train_rllib`` exported its own runs only (discrete actions,
observations clipped as it trains), and a checkpoint of ``PPOConfig().environment(
"lrgym:LRControl-v1", env_config={"action_mode": "log_lr", ...})`` had no way to the board or to
``lrgym.torch.PolicyScheduler``. ``python -m lrgym.baselines.rllib_export CKPT --out OUT`` writes
its greedy network as ``OUT.npz`` and a submission ``OUT.py``; what it cannot carry over is refused.
"""

from __future__ import annotations

import operator
import pickle
import sys

import numpy as np
import pytest

pytest.importorskip("ray.rllib")

from lrgym.baselines import rllib_export  # noqa: E402
from lrgym.baselines.mlp_policy import MLPPolicy  # noqa: E402

ENV_CONFIG = {"action_mode": "log_lr", "optimizer": "adam", "lr_init": 0.003, "horizon": 8, "family": "quadratic"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """One PPO iteration of a plain config of one's own (the local env runner samples), saved."""
    from ray.rllib.algorithms.ppo import PPOConfig

    from lrgym.baselines.backend import connect
    from lrgym.baselines.rllib_logdir import logdirs_in_temp

    ray = connect(None)  # a Ray instance of this test's own (an empty working_dir), ended below
    folder = tmp_path_factory.mktemp("rllib") / "ckpt"
    config = (PPOConfig().environment("lrgym:LRControl-v1", env_config=ENV_CONFIG)
              .env_runners(num_env_runners=0, num_envs_per_env_runner=2)
              .training(train_batch_size_per_learner=64, minibatch_size=32, num_epochs=1)
              .rl_module(model_config={"fcnet_hiddens": [16, 16]})
              .debugging(seed=0))
    try:
        with logdirs_in_temp():  # not a new ~/ray_results/<date-time><random>
            algo = config.build_algo()
            try:
                algo.train()
                algo.save_to_path(str(folder))
            finally:
                algo.stop()
    finally:
        ray.shutdown()
    return folder


def rllib_greedy_actions(folder, obs: np.ndarray) -> np.ndarray:
    """The reference: RLlib's own deterministic action for ``obs`` (the module's inference pass,
    its action distribution made deterministic, then unsquashed into the env's action space as
    the default ``normalize_actions=True`` pipeline does)."""
    import gymnasium as gym
    import torch
    from ray.rllib.core.rl_module.rl_module import RLModule
    from ray.rllib.utils.spaces.space_utils import unsquash_action

    module = RLModule.from_checkpoint(str(folder / rllib_export.MODULE_FOLDER / "default_policy"))
    with torch.no_grad():
        inputs = module.forward_inference({"obs": torch.from_numpy(obs)})["action_dist_inputs"]
    dist = module.get_inference_action_dist_cls().from_logits(inputs).to_deterministic()
    actions = dist.sample().numpy()
    return np.stack([unsquash_action(a, gym.spaces.Box(-1.0, 1.0, (1,), np.float32)) for a in actions])


def test_a_plain_ppo_configs_log_lr_policy_is_exported_graded_and_drives_torch(checkpoint, tmp_path):
    import gymnasium as gym

    import lrgym  # noqa: F401 - the ids

    out = tmp_path / "mine"
    rllib_export.main([str(checkpoint), "--out", str(out), "--name", "my-ppo"])
    policy = MLPPolicy.load(out.with_suffix(".npz"))
    # the policy's own choices go with it; the other keys are the suite's when graded
    assert (policy.action_mode, policy.optimizer, policy.lr_init, policy.env_options) == ("log_lr", "adam", 0.003, {})
    assert policy.obs_clip is None and policy.meta["trained_on"]["horizon"] == 8

    env = gym.make("LRControl-Quadratic-v1", action_mode="log_lr", optimizer="adam", horizon=8)
    obs, info = env.reset(seed=3)
    seen = [obs]
    for _ in range(7):  # observations of a real episode, and far ones the clip of train_rllib would change
        obs, *_, info = env.step(policy.act(obs, info))
        seen.append(obs)
    far = np.random.default_rng(0).uniform(-100, 100, size=(32, 12)).astype(np.float32)
    obs = np.concatenate([np.stack(seen), far]).astype(np.float32)
    mine = np.stack([policy.act(o, {}) for o in obs])
    assert mine.dtype == np.float32 and mine.shape == (len(obs), 1)
    np.testing.assert_allclose(mine, rllib_greedy_actions(checkpoint, obs), rtol=1e-5, atol=1e-5)

    from lrgym.leaderboard.references import compute_references
    from lrgym.leaderboard.runner import run_suite, submission_spec
    from lrgym.leaderboard.suite import FamilySuite, Suite

    # the grader, on a tiny suite, through the submission file
    suite = Suite(name="rllib-export", revision=1, description="test suite", instance_set="test",
                  families=(FamilySuite("quadratic", (20000,), 4, 2),), seeds=(0,))
    graded = run_suite([submission_spec(f"{out.with_suffix('.py')}:RLlibPolicy")], suite,
                       references=compute_references(suite, n_workers=1), n_workers=1, time_limit=300,
                       memory_mb=1000)[0]
    assert graded.ok, graded.entry.failure_reason
    assert graded.entry.name == "my-ppo" and len(graded.runs) == 1

    torch = pytest.importorskip("torch")
    from lrgym.torch import PolicyScheduler

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.003)
    sched = PolicyScheduler(opt, policy, horizon=2, updates_per_step=1)
    x, y = torch.ones(4, 3), torch.zeros(4, 1)
    for _ in range(2):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step(loss.detach())
    assert 1e-6 <= opt.param_groups[0]["lr"] <= 10.0


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("action_mode", ["discrete", "log_lr"])
def test_ppo_modules_with_and_without_a_shared_encoder_export_as_rllib_acts(shared, action_mode):
    """RLlib's PPO module with ``vf_share_layers=True`` has one encoder (``encoder.encoder``) and no
    ``actor_encoder``: the export raised AttributeError on it. Both layouts, both action modes:
    the policy's actions are RLlib's deterministic ones (raw observations up to ±100)."""
    import gymnasium as gym
    import torch
    from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
    from ray.rllib.utils.spaces.space_utils import unsquash_action

    from lrgym.baselines.train_rllib import export_policy
    from lrgym.env import LRControlEnv

    env = LRControlEnv(action_mode=action_mode)
    torch.manual_seed(0)
    module = DefaultPPOTorchRLModule(observation_space=env.observation_space, action_space=env.action_space,
                                     inference_only=False, model_config={"fcnet_hiddens": [8], "vf_share_layers": shared})
    assert hasattr(module.encoder, "actor_encoder") != shared
    policy = export_policy(module, "ppo", "x", {"action_mode": action_mode, "obs_clip": None})
    obs = np.random.default_rng(1).uniform(-100, 100, size=(64, 12)).astype(np.float32)
    with torch.no_grad():
        inputs = module.forward_inference({"obs": torch.from_numpy(obs)})["action_dist_inputs"]
    theirs = module.get_inference_action_dist_cls().from_logits(inputs).to_deterministic().sample().numpy()
    mine = np.stack([policy.act(o, {}) for o in obs])
    if action_mode == "log_lr":
        theirs = np.stack([unsquash_action(a, env.action_space) for a in theirs])
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-5)
    else:
        top2 = np.sort(policy.outputs(obs), axis=1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > 1e-4
        assert np.array_equal(mine[clear], theirs[clear])


def write_checkpoint(folder, algo: str = "PPO", **state):
    """A checkpoint's config file as RLlib writes it (what the export reads first)."""
    from ray.rllib.algorithms.appo import APPO
    from ray.rllib.algorithms.dqn import DQN
    from ray.rllib.algorithms.ppo import PPO

    folder.mkdir()
    config = {"env": "lrgym:LRControl-v1", "env_config": {}, "policies": {"default_policy": None},
              "_env_to_module_connector": None, "_module_to_env_connector": None, **state}
    with open(folder / "class_and_ctor_args.pkl", "wb") as f:
        pickle.dump({"class": {"PPO": PPO, "DQN": DQN, "APPO": APPO}[algo], "ctor_args_and_kwargs": ((config,), {})}, f)
    return folder


@pytest.mark.parametrize("algo, state, message", [
    ("PPO", {"env": "CartPole-v1"}, "the checkpoint's env is 'CartPole-v1'; valid: an lrgym id (LRControl-"),
    ("PPO", {"env": "my-creator"}, "a creator of your own may wrap the env"),
    ("PPO", {"_env_to_module_connector": operator.neg},  # (a function any process unpickles; Ray tools replace builtins.print)
     "sets env_to_module_connector, connectors of your own"),
    ("PPO", {"policies": {"a": None, "b": None}}, "policies are ['a', 'b'] (multi-agent)"),
    ("APPO", {}, "the checkpoint is of APPO; valid: a checkpoint of PPO or DQN"),
    ("DQN", {"env_config": {"action_mode": "log_lr"}}, "a DQN checkpoint with action_mode='log_lr'; valid: discrete"),
    ("PPO", {"env_config": {"horizn": 5}}, "got an unexpected keyword argument 'horizn' (did you mean 'horizon'?)"),
])
def test_what_the_export_cannot_carry_over_is_refused_naming_it(algo, state, message, tmp_path, capsys):
    folder = write_checkpoint(tmp_path / "ckpt", algo, **state)
    with pytest.raises(SystemExit) as stop:
        rllib_export.main([str(folder), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # nothing written


def test_no_checkpoint_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        rllib_export.main([str(tmp_path), "--out", str(tmp_path / "out")])
    assert "no RLlib checkpoint there (no class_and_ctor_args.pkl)" in capsys.readouterr().err


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))


@pytest.mark.parametrize("logs", ["", "all"])
def test_rllibs_notices_are_dropped_as_train_rllib_drops_them(logs, checkpoint, tmp_path):
    """Loading the module logged RLlib's ``DeprecationWarning: `RLModule(config=[RLModuleConfig
    object])` has been deprecated`` (of the config RLlib builds itself) on every export, which
    train_rllib drops; ``$LRGYM_RAY_LOGS=all`` shows it, as Ray commands do. A fresh process, as
    the command is one: RLlib says the notice once per process (``log_once``)."""
    import os
    import subprocess

    env = {**os.environ, "LRGYM_RAY_LOGS": logs}
    done = subprocess.run([sys.executable, "-m", "lrgym.baselines.rllib_export", str(checkpoint), "--out",
                           str(tmp_path / "mine")], capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0 and (tmp_path / "mine.npz").is_file(), done.stderr
    assert done.stdout.startswith(f"wrote {tmp_path / 'mine.npz'}")
    said = done.stderr.count("`RLModule(config=[RLModuleConfig object])` has been deprecated")
    assert said == (logs == "all"), done.stderr
