"""TorchRL (the ``torchrl`` extra) runs the flagship id unchanged: its batched ``GymEnv(id,
num_envs=4)`` (gymnasium's AsyncVectorEnv, one process per env, so the id is module-prefixed)
and ``auto_register_info_dict`` on a single env, specs checked by TorchRL's own
``check_env_specs``; the info tensors carry the schema's dtypes and values that agree with the
mixed family's rule (instance k has family k mod 4)."""

import pytest
import torch

torchrl_envs = pytest.importorskip("torchrl.envs", reason="the torchrl extra: pip install 'lrgym[torchrl]'")

from lrgym.info import FAMILY_NAMES  # noqa: E402

ENV_ID = "lrgym:LRControl-v1"
KWARGS = dict(horizon=3, inner_steps=2)


def check_infos(td, batched: bool) -> None:
    nxt = td["next"]
    assert nxt["family"].dtype == torch.int64 and nxt["instance"].dtype == torch.int64
    assert nxt["excess_loss"].dtype == torch.float64 and nxt["train_loss"].dtype == torch.float64
    assert nxt["diverged"].dtype == torch.bool and nxt["optimizer"].dtype == torch.int64
    # TorchRL's batched GymEnv (SAME_STEP autoreset) zero-fills the info of a step that ends an
    # episode (the terminal info goes to gymnasium's "final_info"): check the other steps
    live = ~nxt["done"].squeeze(-1) if batched else torch.ones(td.batch_size, dtype=torch.bool)
    assert live.sum() >= live.numel() // 2
    family, instance = nxt["family"][live], nxt["instance"][live]
    assert torch.equal(family, instance % len(FAMILY_NAMES))  # LRControl-v1: member k mod 4
    no_optimum = (family == FAMILY_NAMES.index("mlp")) | (family == FAMILY_NAMES.index("recsys"))
    assert torch.equal(torch.isnan(nxt["excess_loss"][live]), no_optimum)
    assert (nxt["horizon"][live] == KWARGS["horizon"]).all() and (nxt["inner_steps"][live] == KWARGS["inner_steps"]).all()
    assert len(set(instance.tolist())) >= 2  # new instances at the resets


def test_torchrl_single_env_with_auto_registered_info_dict():
    from torchrl.envs.utils import check_env_specs

    torch.set_num_threads(1)
    env = torchrl_envs.GymEnv(ENV_ID, **KWARGS)
    env.auto_register_info_dict()
    check_env_specs(env)
    td = env.rollout(12, break_when_any_done=False)  # four episodes, new instances at the resets
    assert td.batch_size == torch.Size([12])
    check_infos(td, batched=False)
    env.close()


def test_torchrl_batched_gym_env_num_envs_4():
    from torchrl.envs.utils import check_env_specs

    torch.set_num_threads(1)
    env = torchrl_envs.GymEnv(ENV_ID, num_envs=4, **KWARGS)
    try:
        check_env_specs(env)
        td = env.rollout(7, break_when_any_done=False)  # crosses the autoresets of all four
        assert td.batch_size == torch.Size([4, 7])
        check_infos(td, batched=True)
        assert td["next", "done"].any()
    finally:
        env.close()
