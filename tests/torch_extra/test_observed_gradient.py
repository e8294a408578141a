"""Which gradient the policy observes in a torch loop: that of the parameters its LR trains.

In lrgym's env the gradient features (``log_grad_norm_rel``, ``delta_log_grad_norm``,
``grad_cos``, ``info["grad_norm"]`` / ``["grad_dot"]``) are those of the minibatch gradient of
the parameters the policy's LR updates. A parameter group held at LR 0 (a frozen backbone, its
parameters still ``requires_grad=True``) trains nothing, so its gradient is not part of it; the
bridge used to read every parameter of the optimizer, so a frozen backbone dominated the norm and
the cosine. References: the same backbone frozen the two other ways a PyTorch user freezes one
(``requires_grad_(False)``; left out of the optimizer), which must give the same observations to
the bit, and the features written out from ``torch.autograd.grad`` of the head alone.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrgym.baselines.registry import make_baseline  # noqa: E402
from lrgym.features import FEATURE_NAMES  # noqa: E402
from lrgym.settings import DEFAULT_FACTORS  # noqa: E402
from lrgym.torch import PolicyScheduler, TorchTrainingEnv  # noqa: E402

torch.set_num_threads(1)

STEPS, INNER = 3, 4
GRAD_NORM_REL, GRAD_COS = FEATURE_NAMES.index("log_grad_norm_rel"), FEATURE_NAMES.index("grad_cos")


def _data():
    g = torch.Generator().manual_seed(5)
    X = torch.randn(96, 6, generator=g, dtype=torch.float64)
    return X, torch.sin(X[:, 0]) + 0.5 * X[:, 1]


def _model():
    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()


def _run(freeze: str):
    """A constant-LR run training the head only, the backbone frozen by ``freeze``: the
    observations after each step and the head's gradients (``torch.autograd.grad``) per update."""
    X, y = _data()
    model = _model()
    backbone, head = list(model[0].parameters()), list(model[2].parameters())
    if freeze == "lr 0":  # requires_grad stays True: the backbone gets a .grad every update
        opt = torch.optim.SGD([{"params": backbone, "lr": 0.0}, {"params": head, "lr": 0.05}])
    elif freeze == "requires_grad":
        for p in backbone:
            p.requires_grad_(False)
        opt = torch.optim.SGD([{"params": backbone, "lr": 0.0}, {"params": head, "lr": 0.05}])
    else:  # "not in the optimizer"
        opt = torch.optim.SGD(head, lr=0.05)
    sched = PolicyScheduler(opt, make_baseline("fixed", lr=0.05), horizon=STEPS, updates_per_step=INNER)
    observations, head_grads = [], []
    for k in range(STEPS * INNER):
        rows = torch.arange(8 * k, 8 * k + 8)
        opt.zero_grad()
        losses = (model(X[rows]).squeeze(1) - y[rows]) ** 2
        head_grads.append(torch.cat([g.reshape(-1) for g in
                                     torch.autograd.grad(losses.mean(), head, retain_graph=True)]))
        losses.mean().backward()
        opt.step()
        sched.step(losses)
        if sched.monitor.step_updates == 0:
            observations.append(sched.last_obs.copy())
    return np.array(observations), head_grads, sched


def test_a_group_at_lr_0_is_left_out_of_the_gradient_features_as_any_frozen_backbone():
    obs, head_grads, sched = _run("lr 0")
    for other in ("requires_grad", "not in the optimizer"):
        np.testing.assert_array_equal(_run(other)[0], obs)
    norms = [float(g.norm()) for g in head_grads]
    cos = [float(head_grads[k] @ head_grads[k - 1] / (head_grads[k].norm() * head_grads[k - 1].norm()))
           for k in range(1, len(head_grads))]
    g1, g_last = np.mean(norms[:INNER]), np.mean(norms[-INNER:])
    assert obs[-1][GRAD_NORM_REL] == pytest.approx(math.log(g_last / g1), rel=1e-5)
    assert obs[-1][GRAD_COS] == pytest.approx(np.mean(cos[-INNER:]), rel=1e-5)
    assert sched.last_info["grad_norm"] == pytest.approx(g_last, rel=1e-12)


def test_the_env_of_a_custom_optimizer_observes_the_groups_its_lr_trains():
    """TorchTrainingEnv with an optimizer callable freezing the backbone at LR 0 sees what the env
    of an optimizer over the head alone sees."""
    X, y = _data()

    def env(make):
        return TorchTrainingEnv(_model, (X, y.unsqueeze(1)), torch.nn.MSELoss(reduction="none"), batch_size=8,
                                optimizer=make, horizon=STEPS, inner_steps=INNER, lr_init=0.05)

    frozen = env(lambda params, lr: torch.optim.SGD([{"params": params[:2], "lr": 0.0},
                                                     {"params": params[2:], "lr": lr}]))
    head_only = env(lambda params, lr: torch.optim.SGD(params[2:], lr=lr))
    keep = list(DEFAULT_FACTORS).index(1.0)
    runs = []
    for e in (frozen, head_only):
        e.reset(seed=4)
        runs.append([e.step(keep) for _ in range(STEPS)])
    for (obs_f, *_, info_f), (obs_h, *_, info_h) in zip(*runs):
        np.testing.assert_array_equal(obs_f, obs_h)
        assert info_f["grad_norm"] == info_h["grad_norm"] > 0
