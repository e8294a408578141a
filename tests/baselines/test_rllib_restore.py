"""A ``train_rllib`` checkpoint restored with RLlib's own ``Algorithm.from_checkpoint`` in another process.

An RLlib user's audit (2026-12-07): a ``train_rllib`` checkpoint names its env by the name its env
creator is registered under in Ray's registry (``train_rllib.ENV_NAME``), and that registry is per
Ray job. ``Algorithm.from_checkpoint`` in a process of one's own (to evaluate the run with
``algo.evaluate()``, or go on in a loop or Tune run of one's own) therefore failed: each env runner
raised ``NameNotFound: Environment `lrgym-rllib` doesn't exist`` and the driver RLlib's bare
``IndexError``. ``train_rllib.register_rllib_env()`` registers it; the restored algorithm then acts
as the run's exported policy does (the reference: the ``.npz`` written at the end of the run).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("ray.rllib")

from lrgym.baselines import train_rllib  # noqa: E402
from lrgym.baselines.mlp_policy import MLPPolicy  # noqa: E402

#: run in a fresh process (a new Ray job, whose registry holds nothing of the training's):
#: restore the checkpoint, print the restored module's logits for the given observations, then
#: train one more iteration on the restored env
RESTORE = """
import json, sys
import numpy as np, torch
from ray.rllib.algorithms.algorithm import Algorithm
from lrgym.baselines import train_rllib
from lrgym.baselines.backend import connect
from lrgym.baselines.rllib_logdir import logdirs_in_temp

ckpt, obs = sys.argv[1], np.array(json.loads(sys.argv[2]), dtype=np.float32)
ray = connect(None)
try:
    assert train_rllib.register_rllib_env() == train_rllib.ENV_NAME
    with logdirs_in_temp():
        algo = Algorithm.from_checkpoint(ckpt)
        try:
            out = algo.get_module().forward_inference({"obs": torch.as_tensor(obs)})
            logits = out["action_dist_inputs"].tolist()
            steps = algo.train()["env_runners"]["num_env_steps_sampled_lifetime"]
        finally:
            algo.stop()
finally:
    ray.shutdown()
print(json.dumps({"logits": logits, "steps": int(steps)}))
"""


def test_a_train_rllib_checkpoint_restores_with_rllibs_own_from_checkpoint(tmp_path):
    config = train_rllib.RLlibConfig(family="linreg", env_kwargs={"horizon": 8}, total_timesteps=64, env_runners=0,
                                     envs_per_runner=2, train_batch_size=64, net_arch=(16,), progress=False,
                                     out=str(tmp_path / "run"))
    try:
        policy = train_rllib.train(config, log=lambda *_: None, wrote=lambda *_: None)
    finally:
        import ray

        ray.shutdown()
    n_obs = policy.layers[0][0].shape[0]
    obs = np.random.default_rng(0).uniform(-3, 3, size=(32, n_obs)).astype(np.float32)  # (inside its ±10 clip)
    done = subprocess.run([sys.executable, "-c", RESTORE, str(tmp_path / "run.ckpt"), json.dumps(obs.tolist())],
                          capture_output=True, text=True, timeout=540, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    restored = json.loads(done.stdout.strip().splitlines()[-1])
    exported = MLPPolicy.load(tmp_path / "run.npz")
    np.testing.assert_allclose(restored["logits"], exported.outputs(obs), rtol=1e-5, atol=1e-6)
    assert restored["steps"] > 64  # it trained on: the checkpoint's steps and one more iteration's
