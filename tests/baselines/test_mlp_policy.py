"""The NumPy export of RLlib modules (lrgym.baselines.mlp_policy, train_rllib.export_policy),
checked against torch computing the same network."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrgym.baselines.mlp_policy import MLPPolicy  # noqa: E402
from lrgym.baselines.train_rllib import export_policy  # noqa: E402


class _Module(torch.nn.Module):
    """Shaped like RLlib's default PPO module: encoder.actor_encoder → pi (logits)."""

    def __init__(self, extra=None):
        super().__init__()
        torch.manual_seed(0)
        self.encoder = torch.nn.Module()
        layers = [torch.nn.Linear(12, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.ReLU()]
        if extra is not None:
            layers.append(extra)
        self.encoder.actor_encoder = torch.nn.Sequential(*layers)
        self.pi = torch.nn.Sequential(torch.nn.Linear(16, 5))

    def forward_inference(self, batch):
        return {"action_dist_inputs": self.pi(self.encoder.actor_encoder(batch["obs"]))}


def test_export_matches_torch_and_survives_a_round_trip(tmp_path):
    module = _Module()
    policy = export_policy(module, "ppo", "rllib_ppo")
    obs = np.random.default_rng(0).normal(0, 3, size=(64, 12))
    with torch.no_grad():
        want = module.forward_inference({"obs": torch.from_numpy(np.clip(obs, -10, 10).astype(np.float32))})["action_dist_inputs"]
    np.testing.assert_allclose(policy.outputs(obs), want.double().numpy(), rtol=1e-5, atol=1e-6)
    again = MLPPolicy.load(policy.save(tmp_path / "p.npz"))
    np.testing.assert_array_equal(again.outputs(obs), policy.outputs(obs))
    namespace: dict = {}
    exec(compile(policy.submission_source(), "submission.py", "exec"), namespace)
    submitted = namespace["RLlibPolicy"](family="mlp")
    assert submitted.name == "rllib_ppo" and submitted.action_mode == "discrete"
    assert [submitted.act(o, {}) for o in obs] == [int(np.argmax(want[i])) for i in range(len(obs))]


def test_layers_it_cannot_export_are_refused():
    with pytest.raises(ValueError, match="LayerNorm"):
        export_policy(_Module(extra=torch.nn.LayerNorm(16)), "ppo", "x")
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        MLPPolicy([(np.zeros((2, 2)), np.zeros(2), "gelu")])


def test_resuming_a_checkpoint_of_another_algorithm_goes_on_as_it_or_fails_before_training(tmp_path):
    """``--resume`` of a DQN checkpoint under the default ``--algo ppo`` trained to the end and
    then failed to export (PPO's module layout); a Ray user's audit, 2026-12-03. Since a resumed
    run takes the checkpoint's settings (2026-12-05), it goes on as DQN; an ``--algo ppo`` given
    on purpose is refused before anything is built (tests/baselines/test_rllib_outputs.py has the
    whole run)."""
    from lrgym.baselines import train_rllib

    saved = {"algo": "dqn", "env_runners": 0, "env_kwargs": {}}
    resumed = train_rllib.resumed_config(train_rllib.RLlibConfig(resume=str(tmp_path / "x.ckpt")), saved)
    assert resumed.algo == "dqn" and resumed.output_files()[".npz"].name.startswith("rllib_dqn_")
    given = train_rllib.RLlibConfig(algo="ppo", resume=str(tmp_path / "x.ckpt"), given=("algo",))  # --algo ppo
    with pytest.raises(train_rllib.ConfigError, match="holds --algo dqn but --algo ppo was given"):
        train_rllib.resumed_config(given, saved)


def test_the_observation_clip_of_its_meta_is_the_one_it_acts_under():
    """``meta["obs_clip"]`` is the clip the policy trained with (MLPPolicy's docstring): a policy
    of ±5 clipped at train_rllib's ±10 all the same, so it acted on observations it never saw in
    training, in silence. A clip that is no positive number is refused naming the valid ones."""
    eye = [(np.eye(3), np.zeros(3), "linear")]  # the network's outputs are what it saw
    obs = np.array([-40.0, 7.5, 2.0])
    for clip, seen in ((5, np.clip(obs, -5, 5)), (10.0, np.clip(obs, -10, 10)), (None, obs)):
        policy = MLPPolicy(eye, meta={"obs_clip": clip})
        np.testing.assert_array_equal(policy.outputs(obs), seen.astype(np.float32))
    np.testing.assert_array_equal(MLPPolicy(eye).outputs(obs), np.clip(obs, -10, 10))  # train_rllib's default
    for bad in (0, -1.0, float("nan"), float("inf"), "10", True):
        with pytest.raises(ValueError, match=r"obs_clip=.*valid: a finite number > 0 .* or None"):
            MLPPolicy(eye, meta={"obs_clip": bad})
