import math

import numpy as np
import pytest

from lrgym.optim import OPTIMIZERS, OptimizerConfig, apply_update
from references import ReferenceOptimizer, rel_err

CONFIGS = [
    {},
    {"weight_decay": 0.01},
    {"clip_norm": 0.5},
    {"normalize": "global"},
    {"normalize": "layerwise"},
    {"clip_norm": 0.3, "weight_decay": 1e-3, "momentum": 0.5},
]


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: ",".join(o) or "plain")
def test_kernel_matches_reference_over_many_updates(name, options):
    rng = np.random.default_rng(0)
    n, segments = 9, np.array([0, 4, 9], dtype=np.int64)
    config = OptimizerConfig(name=name, **options)
    ref = ReferenceOptimizer(name, n, segments=list(segments), **options)
    p = rng.standard_normal(n)
    p_ref = p.copy()
    slots, step = np.zeros((2, n)), np.zeros(1, dtype=np.int64)
    for _ in range(25):
        g = rng.standard_normal(n)
        raw = apply_update(p, g.copy(), slots, step, 0.05, config.code, config.hyper(), segments)
        p_ref = ref.step(p_ref, g, 0.05)
        assert raw == pytest.approx(np.linalg.norm(g), rel=1e-12)
    assert step[0] == 25
    assert rel_err(p, p_ref) < 1e-12


TORCH_OPTIMIZERS = {
    "sgd": lambda params, wd: torch_optim().SGD(params, lr=0.1, weight_decay=wd),
    "momentum": lambda params, wd: torch_optim().SGD(params, lr=0.1, momentum=0.9, weight_decay=wd),
    "nesterov": lambda params, wd: torch_optim().SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=wd),
    "adam": lambda params, wd: torch_optim().Adam(params, lr=0.1, weight_decay=wd),
    "rmsprop": lambda params, wd: torch_optim().RMSprop(params, lr=0.1, weight_decay=wd),
    "adagrad": lambda params, wd: torch_optim().Adagrad(params, lr=0.1, weight_decay=wd),
}

# clip_norm 1.0 against gradients of norm ≈ 2 – 4: active on (almost) every update
TORCH_CASES = {
    "plain": {},
    "weight_decay": {"weight_decay": 0.3},
    "clip": {"clip_norm": 1.0},
    "weight_decay+clip": {"weight_decay": 0.3, "clip_norm": 1.0},
    "global": {"normalize": "global", "weight_decay": 0.3, "clip_norm": 1.0},
    "layerwise": {"normalize": "layerwise", "weight_decay": 0.3, "clip_norm": 1.0},
}


def torch_optim():
    import torch

    return torch.optim


def normalised(grads, params, mode):
    """The normalisation step written out on torch tensors (torch.optim has no LARS)."""
    import torch

    if mode == "global":
        norm = torch.sqrt(sum((g * g).sum() for g in grads))
        return [g / norm for g in grads]
    return [g * (p.norm() if p.norm() > 0 else 1.0) / g.norm() for g, p in zip(grads, params)]


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("case", TORCH_CASES)
def test_kernel_matches_torch_optim_with_clip_grad_norm(name, case):
    """lrgym's update = ``clip_grad_norm_`` on the loss gradient, then ``torch.optim``'s step
    (which adds wd·p); with normalisation, the decayed gradient is normalised by hand and torch
    steps without decay. Two parameter tensors (two "layers") of 4 and 5 coordinates."""
    import torch

    options = TORCH_CASES[case]
    wd, clip, mode = options.get("weight_decay", 0.0), options.get("clip_norm"), options.get("normalize", "none")
    rng = np.random.default_rng(1)
    sizes = (4, 5)
    p0 = rng.standard_normal(sum(sizes))
    ws = [torch.tensor(part.copy(), dtype=torch.float64, requires_grad=True) for part in np.split(p0, [sizes[0]])]
    opt = TORCH_OPTIMIZERS[name](ws, 0.0 if mode != "none" else wd)
    config = OptimizerConfig(name=name, **options)
    segments = np.array([0, sizes[0], sum(sizes)], dtype=np.int64)
    p, slots, step = p0.copy(), np.zeros((2, len(p0))), np.zeros(1, dtype=np.int64)
    clipped = 0
    for _ in range(30):
        g = 3.0 * rng.standard_normal(len(p0)) / math.sqrt(len(p0))
        for w, part in zip(ws, np.split(g, [sizes[0]])):
            w.grad = torch.tensor(part, dtype=torch.float64)
        if clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(ws, clip)
            clipped += float(norm) > clip
        if mode != "none":
            with torch.no_grad():
                decayed = [w.grad + wd * w for w in ws]
                for w, n in zip(ws, normalised(decayed, ws, mode)):
                    w.grad = n
        opt.step()
        raw = apply_update(p, g.copy(), slots, step, 0.1, config.code, config.hyper(), segments)
        assert raw == pytest.approx(np.linalg.norm(g), rel=1e-12)
        expect = np.concatenate([w.detach().numpy() for w in ws])
        assert rel_err(p, expect) < 1e-6
    assert rel_err(p, expect) < 1e-10  # the same float64 formulas: equal up to rounding
    if clip is not None:
        assert clipped >= 20  # the clipping was active
    assert rel_err(p, p0) > 0.1


def test_weight_decay_is_not_clipped():
    """With both on, torch's order (clip the loss gradient, then add wd·p) differs from the
    reverse order: the decay term passes unclipped, so the step is longer than clip_norm."""
    config = OptimizerConfig("sgd", weight_decay=1.0, clip_norm=0.1)
    p = np.full(4, 10.0)
    g = np.full(4, 5.0)
    apply_update(p, g.copy(), np.zeros((2, 4)), np.zeros(1, dtype=np.int64), 1.0, config.code, config.hyper(),
                 np.array([0, 4], dtype=np.int64))
    clipped = 5.0 * 0.1 / (10.0 + 1e-6)  # each coordinate of g · c / (‖g‖ + 1e-6), ‖g‖ = 10
    np.testing.assert_allclose(p, 10.0 - (clipped + 10.0), rtol=1e-15)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "adamw"}, "valid choices: sgd, momentum"),
        ({"normalize": "lars"}, "valid choices: none, global, layerwise"),
        ({"momentum": 1.5}, "momentum=1.5"),
        ({"clip_norm": -1.0}, "clip_norm=-1.0"),
        ({"weight_decay": float("nan")}, "weight_decay=nan"),
    ],
)
def test_bad_config_names_value_and_choices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OptimizerConfig(**kwargs)


def test_coerce_rejects_unknown_option():
    with pytest.raises(ValueError, match="unknown optimizer option"):
        OptimizerConfig.coerce({"name": "sgd", "lr": 0.1})
