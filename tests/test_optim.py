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


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_kernel_matches_torch_optim(name):
    import torch
    rng = np.random.default_rng(1)
    n = 6
    p0 = rng.standard_normal(n)
    w = torch.tensor(p0.copy(), dtype=torch.float64, requires_grad=True)
    make = {
        "sgd": lambda: torch.optim.SGD([w], lr=0.1),
        "momentum": lambda: torch.optim.SGD([w], lr=0.1, momentum=0.9),
        "nesterov": lambda: torch.optim.SGD([w], lr=0.1, momentum=0.9, nesterov=True),
        "adam": lambda: torch.optim.Adam([w], lr=0.1),
        "rmsprop": lambda: torch.optim.RMSprop([w], lr=0.1),
        "adagrad": lambda: torch.optim.Adagrad([w], lr=0.1),
    }
    opt = make[name]()
    config = OptimizerConfig(name=name)
    p, slots, step = p0.copy(), np.zeros((2, n)), np.zeros(1, dtype=np.int64)
    segments = np.array([0, n], dtype=np.int64)
    for _ in range(20):
        g = rng.standard_normal(n)
        w.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        apply_update(p, g.copy(), slots, step, 0.1, config.code, config.hyper(), segments)
    assert rel_err(p, w.detach().numpy()) < 1e-10


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
