"""MLP family: gradients, lock-step against a slow NumPy reference, PyTorch parity, learning,
divergence, determinism and the family's sampling / validation rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrgym import rng as lrng
from lrgym.optim import OptimizerConfig
from lrgym.tasks import make_family
from lrgym.tasks.base import (
    N_STATS,
    S_BATCH_LOSS,
    S_DIVERGED,
    S_GRAD_COS,
    S_GRAD_DOT,
    S_GRAD_NORM,
    S_LOSS_VAR,
    S_TRAIN_LOSS,
    S_UPDATES,
    S_VAL_LOSS,
    S_VAL_METRIC,
)
from lrgym.tasks.mlp import MLPFamily, MLPSpec, MLPTask, real_split_sizes

SMALL = dict(
    dataset="teacher", input_dim=8, n_classes=3, hidden=6, depth=1, activation="tanh", init="torch",
    batch_size=16, n_train=300, label_noise=0.0,
)


def small_task(**kw) -> MLPTask:
    fam = MLPFamily(**{**SMALL, **kw})
    return fam.build(fam.sample(3))


# ---- a slow, obvious reference of the same math ---------------------------------------------


def ref_layers(task, p):
    out, off = [], 0
    for n_in, n_out in zip(task.widths[:-1], task.widths[1:]):
        W = p[off : off + n_in * n_out].reshape(n_in, n_out)
        off += n_in * n_out
        b = p[off : off + n_out]
        off += n_out
        out.append((W, b))
    return out


def ref_loss_grad(task, p, X, y):
    """Per-example cross-entropies and the gradient of their sum, layer by layer."""
    layers = ref_layers(task, p)
    acts = [X]
    for l, (W, b) in enumerate(layers):
        Z = acts[-1] @ W + b
        if l < len(layers) - 1:
            Z = np.maximum(Z, 0.0) if task.relu else np.tanh(Z)
        acts.append(Z)
    logits = acts[-1]
    shift = logits - logits.max(axis=1, keepdims=True)
    logp = shift - np.log(np.exp(shift).sum(axis=1, keepdims=True))
    losses = -logp[np.arange(len(y)), y]
    D = np.exp(logp)
    D[np.arange(len(y)), y] -= 1.0
    grads = []
    for l in range(len(layers) - 1, -1, -1):
        A = acts[l]
        grads.append(np.concatenate([(A.T @ D).ravel(), D.sum(axis=0)]))
        if l > 0:
            D = (D @ layers[l][0].T) * ((A > 0) if task.relu else (1.0 - A**2))
    return losses, np.concatenate(grads[::-1]), logits


def ref_update(p, g, m, v, t, lr, cfg: OptimizerConfig, segments):
    """One update as written in lrgym.optim's docstring (PyTorch's formulas)."""
    h = cfg.hyper()
    if cfg.clip_norm is not None:  # torch's clip_grad_norm_ on the loss gradient, then the decay
        g = g * min(1.0, cfg.clip_norm / (np.linalg.norm(g) + 1e-6))
    g = g + cfg.weight_decay * p
    if cfg.normalize == "global":
        n = np.linalg.norm(g)
        if n > 0:
            g = g / n
    if cfg.normalize == "layerwise":
        for lo, hi in zip(segments[:-1], segments[1:]):
            gn = np.linalg.norm(g[lo:hi])
            if gn > 0:
                pn = np.linalg.norm(p[lo:hi])
                g[lo:hi] *= (pn if pn > 0 else 1.0) / gn
    eps = h[3]
    if cfg.name == "sgd":
        p -= lr * g
    elif cfg.name in ("momentum", "nesterov"):
        m[:] = cfg.momentum * m + g
        p -= lr * (m if cfg.name == "momentum" else g + cfg.momentum * m)
    elif cfg.name == "adam":
        m[:] = cfg.beta1 * m + (1 - cfg.beta1) * g
        v[:] = cfg.beta2 * v + (1 - cfg.beta2) * g * g
        p -= lr * (m / (1 - cfg.beta1**t)) / (np.sqrt(v / (1 - cfg.beta2**t)) + eps)
    elif cfg.name == "rmsprop":
        v[:] = cfg.alpha * v + (1 - cfg.alpha) * g * g
        p -= lr * g / (np.sqrt(v) + eps)
    else:
        v[:] = v + g * g
        p -= lr * g / (np.sqrt(v) + eps)


class RefRun:
    """Mirrors MLPTask.run: same minibatch draws (a copy of the RNG word), same statistics."""

    def __init__(self, task, state):
        self.task, self.p = task, state.params.copy()
        self.m, self.v = np.zeros_like(self.p), np.zeros_like(self.p)
        self.word, self.t, self.prev = state.rng.copy(), 0, np.zeros_like(self.p)

    def run(self, lr, n_updates, cfg):
        task, b = self.task, self.task.spec.batch_size
        batch, var, norms, dots, coss = [], [], [], [], []
        for _ in range(n_updates):
            rows = np.zeros(b, dtype=np.int64)
            lrng.fill_randint(self.word, task.X.shape[0], rows)
            losses, g, _ = ref_loss_grad(task, self.p, task.X[rows], task.y[rows])
            batch.append(losses.mean())
            var.append(losses.var())
            norms.append(np.linalg.norm(g))
            if self.t > 0:
                dots.append(g @ self.prev)
                coss.append(dots[-1] / (norms[-1] * np.linalg.norm(self.prev)))
            self.prev = g.copy()
            self.t += 1
            ref_update(self.p, g, self.m, self.v, self.t, lr, cfg, task.segments)
        n_eval = task.n_eval
        train = ref_loss_grad(task, self.p, task.X[:n_eval], task.y[:n_eval])[0].mean()
        val_losses, _, logits = ref_loss_grad(task, self.p, task.Xv, task.yv)
        return {
            S_TRAIN_LOSS: train,
            S_VAL_LOSS: val_losses.mean(),
            S_VAL_METRIC: np.mean(logits.argmax(axis=1) == task.yv),
            S_BATCH_LOSS: np.mean(batch),
            S_LOSS_VAR: np.mean(var),
            S_GRAD_NORM: np.mean(norms),
            S_GRAD_DOT: np.mean(dots) if dots else 0.0,
            S_GRAD_COS: np.mean(coss) if coss else 0.0,
        }


def run_kernel(task, state, lr, n, cfg, cap=1e12):
    stats = np.zeros(N_STATS)
    task.run(state, lr, n, cfg.code, cfg.hyper(), cap, stats)
    return stats


# ---- gradients ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw", [dict(activation="tanh", depth=1), dict(activation="relu", depth=2), dict(activation="tanh", depth=2)]
)
def test_gradient_matches_central_differences(kw):
    task = small_task(**kw)
    p = task.init_params(np.random.default_rng(0))
    rows = np.arange(11)
    loss, g = task.loss_and_grad(p, rows)
    h = 1e-6
    fd = np.empty_like(p)
    for i in range(len(p)):
        e = np.zeros_like(p)
        e[i] = h
        fd[i] = (task.loss_and_grad(p + e, rows)[0] - task.loss_and_grad(p - e, rows)[0]) / (2 * h)
    assert np.max(np.abs(fd - g)) <= 1e-6 * np.max(np.abs(g))
    ref_losses, ref_g, _ = ref_loss_grad(task, p, task.X[rows], task.y[rows])
    assert loss == pytest.approx(ref_losses.sum(), rel=1e-13)
    np.testing.assert_allclose(g, ref_g, rtol=1e-12, atol=1e-15)


# ---- lock-step against the NumPy reference --------------------------------------------------


@pytest.mark.parametrize(
    "cfg, kw",
    [
        (OptimizerConfig("sgd"), dict(activation="tanh", depth=1)),
        (OptimizerConfig("momentum", clip_norm=0.5), dict(activation="relu", depth=2)),
        (OptimizerConfig("nesterov", weight_decay=1e-3), dict(activation="tanh", depth=2)),
        (OptimizerConfig("adam"), dict(activation="relu", depth=1, init="glorot")),
        (OptimizerConfig("adam", clip_norm=0.1, weight_decay=1e-2), dict(activation="tanh", depth=2)),
        (OptimizerConfig("rmsprop", normalize="layerwise"), dict(activation="tanh", depth=1)),
        (OptimizerConfig("adagrad", normalize="global"), dict(activation="relu", depth=2)),
    ],
    ids=lambda x: x.name + (f"-clip{x.clip_norm}" if getattr(x, "clip_norm", None) else "")
    if isinstance(x, OptimizerConfig) else f"{x['activation']}{x['depth']}",
)
def test_kernel_matches_numpy_reference_in_lockstep(cfg, kw):
    task = small_task(**kw)
    state = task.new_state(np.random.default_rng(5))
    ref = RefRun(task, state)
    lr = 0.3 / 16 if cfg.name in ("sgd", "momentum", "nesterov") else 0.01  # SGD LR per example
    for _ in range(3):
        stats = run_kernel(task, state, lr, 4, cfg)
        expect = ref.run(lr, 4, cfg)
        np.testing.assert_allclose(state.params, ref.p, rtol=1e-10, atol=1e-13)
        for k, v in expect.items():
            assert stats[k] == pytest.approx(v, rel=1e-10, abs=1e-13), k
        assert stats[S_DIVERGED] == 0 and stats[S_UPDATES] == 4


def test_clipping_is_active_in_lockstep_case():
    """The clip threshold used above actually clips (so the test exercises it)."""
    task = small_task(activation="relu", depth=2)
    p = task.new_state(np.random.default_rng(5)).params
    _, g = task.loss_and_grad(p, np.arange(16))
    assert np.linalg.norm(g) > 0.5


# ---- PyTorch parity -------------------------------------------------------------------------


@pytest.mark.parametrize("opt_name, lr", [("sgd", 0.2 / 16), ("adam", 3e-3), ("momentum", 0.05 / 16)])
@pytest.mark.parametrize("kw", [dict(activation="tanh", depth=1), dict(activation="relu", depth=2)])
@pytest.mark.parametrize("transforms", [{}, {"weight_decay": 0.05, "clip_norm": 0.3}], ids=["plain", "wd+clip"])
def test_torch_parity_50_updates(opt_name, lr, kw, transforms):
    """Lock-step with an nn.Sequential: cross_entropy, backward, ``clip_grad_norm_``, then
    ``torch.optim``'s step with weight decay (PyTorch's order, as lrgym.optim)."""
    import torch

    task = small_task(hidden=12, **kw)
    state = task.new_state(np.random.default_rng(11))
    word = state.rng.copy()
    mods = []
    for l, (W, b) in enumerate(task.layers(state.params.copy())):
        lin = torch.nn.Linear(W.shape[0], W.shape[1], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        mods.append(lin)
        if l < len(task.widths) - 2:
            mods.append(torch.nn.ReLU() if task.relu else torch.nn.Tanh())
    model = torch.nn.Sequential(*mods)
    wd, clip = transforms.get("weight_decay", 0.0), transforms.get("clip_norm")
    if opt_name == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=wd, momentum=0.9 if opt_name == "momentum" else 0.0)
    cfg = OptimizerConfig(opt_name, **transforms)
    clipped = 0
    X, y = torch.from_numpy(task.X), torch.from_numpy(task.y)
    n_eval = task.n_eval
    for _ in range(50):
        rows = np.zeros(task.spec.batch_size, dtype=np.int64)
        lrng.fill_randint(word, task.X.shape[0], rows)
        idx = torch.from_numpy(rows)
        loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx], reduction="sum")
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            clipped += float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip)) > clip
        opt.step()
        stats = run_kernel(task, state, lr, 1, cfg)
        assert stats[S_BATCH_LOSS] == pytest.approx(loss.item() / len(rows), rel=1e-6)  # reported: the mean
        with torch.no_grad():
            train = torch.nn.functional.cross_entropy(model(X[:n_eval]), y[:n_eval]).item()
        assert stats[S_TRAIN_LOSS] == pytest.approx(train, rel=1e-6)
    flat = np.concatenate(
        [np.concatenate([m.weight.detach().numpy().T.ravel(), m.bias.detach().numpy()]) for m in mods[::2]]
    )
    np.testing.assert_allclose(state.params, flat, rtol=1e-6, atol=1e-9)
    if not transforms:  # it learns (with strong decay and clipping, parity is the point)
        assert stats[S_TRAIN_LOSS] < 0.9 * run_kernel_eval(task, task.new_state(np.random.default_rng(11)))
    if clip is not None:
        assert clipped >= 10  # clipping was active on a good share of the 50 updates


def run_kernel_eval(task, state):
    stats = np.zeros(N_STATS)
    task.evaluate(state, stats)
    return stats[S_TRAIN_LOSS]


# ---- learning, divergence, determinism -----------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        dict(activation="tanh", depth=1, hidden=32, batch_size=32),
        dict(activation="relu", depth=2, hidden=16, batch_size=16),
    ],
)
def test_digits_reaches_90_percent_over_default_horizon(kw):
    fam = MLPFamily(dataset="digits", **kw)
    task = fam.build(fam.sample(0))
    state = task.new_state(np.random.default_rng(0))
    cfg = OptimizerConfig("sgd")
    first = None
    for _ in range(fam.default_horizon):
        stats = run_kernel(task, state, 0.1 / kw["batch_size"], fam.default_inner_steps, cfg)
        first = stats.copy() if first is None else first
    assert stats[S_VAL_METRIC] >= 0.90
    assert stats[S_TRAIN_LOSS] < 0.3 * first[S_TRAIN_LOSS]
    assert stats[S_DIVERGED] == 0


def test_too_large_lr_reports_divergence_without_raising():
    task = small_task(activation="relu", depth=2)
    state = task.new_state(np.random.default_rng(0))
    l0 = run_kernel_eval(task, state)
    cfg = OptimizerConfig("sgd")
    stats = run_kernel(task, state, 1e6, 10, cfg, cap=10 * l0)
    assert stats[S_DIVERGED] == 1.0
    assert 1 <= stats[S_UPDATES] <= 10
    assert stats.dtype == np.float64 and stats.shape == (N_STATS,)
    for k in (S_GRAD_NORM, S_BATCH_LOSS, S_LOSS_VAR, S_GRAD_COS, S_UPDATES, S_DIVERGED):
        assert not np.isnan(stats[k]), k
    # a further step on the diverged state does not raise either
    stats2 = run_kernel(task, state, 1e6, 10, cfg, cap=10 * l0)
    assert stats2[S_DIVERGED] == 1.0
    task.evaluate(state, stats2)


def test_nan_parameters_are_reported_as_divergence():
    task = small_task()
    state = task.new_state(np.random.default_rng(0))
    state.params[0] = np.nan
    stats = run_kernel(task, state, 0.1, 5, OptimizerConfig("sgd"))
    assert stats[S_DIVERGED] == 1.0 and stats[S_UPDATES] == 1
    assert np.isnan(stats[S_TRAIN_LOSS])


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_same_rng_word_gives_identical_stats(opt_name):
    task = small_task(activation="tanh", depth=2)
    cfg = OptimizerConfig(opt_name)
    runs = []
    for _ in range(2):
        state = task.new_state(np.random.default_rng(42))
        runs.append(np.concatenate([run_kernel(task, state, 0.05, 7, cfg) for _ in range(4)] + [state.params]))
    assert np.array_equal(runs[0], runs[1])
    other = task.new_state(np.random.default_rng(43))
    assert not np.array_equal(run_kernel(task, other, 0.05, 7, cfg), runs[0][:N_STATS])


# ---- family: sampling, build, validation ----------------------------------------------------


def test_sampling_is_deterministic_and_in_documented_ranges():
    fam = make_family("mlp")
    specs = [fam.sample(k) for k in range(300)]
    assert specs[:5] == [fam.sample(k) for k in range(5)]
    datasets = {s.dataset for s in specs}
    assert datasets == {"teacher", "clusters", "digits", "breast_cancer"}
    for s in specs:
        assert isinstance(s, MLPSpec) and s.family == "mlp"
        assert 16 <= s.hidden <= 128 and s.depth in (1, 2) and s.activation in ("tanh", "relu")
        assert s.batch_size in (16, 32, 64, 128, 256) and s.init in ("torch", "glorot")
        if s.dataset in ("teacher", "clusters"):
            assert 8 <= s.input_dim <= 64 and 2 <= s.n_classes <= 10 and 512 <= s.n_train <= 8192
            assert 0 <= s.label_noise <= 0.2
        else:
            n_train, _ = real_split_sizes(s.dataset)
            assert (s.input_dim, s.n_classes, s.n_train) == (
                {"digits": 64, "breast_cancer": 30}[s.dataset],
                {"digits": 10, "breast_cancer": 2}[s.dataset],
                n_train,
            )


@pytest.mark.parametrize("dataset, shape", [("digits", (1438, 359, 64, 10)), ("breast_cancer", (455, 114, 30, 2))])
def test_real_data_sets_fixed_split_standardised(dataset, shape):
    fam = MLPFamily(dataset=dataset)
    a, b = fam.build(fam.sample(1)), fam.build(fam.sample(2))
    assert (a.X.shape[0], a.Xv.shape[0], a.X.shape[1], a.n_classes) == shape
    assert np.array_equal(a.X, b.X) and np.array_equal(a.yv, b.yv)  # the same split for every instance
    np.testing.assert_allclose(a.X.mean(0), 0, atol=1e-12)
    std = a.X.std(0)
    assert np.all((np.abs(std - 1) < 1e-12) | (std == 0))
    assert a.widths[0] == shape[2] and a.widths[-1] == shape[3]


def test_synthetic_data_shapes_and_labels():
    for dataset in ("teacher", "clusters"):
        task = MLPFamily(dataset=dataset, input_dim=12, n_classes=4, n_train=700).build(
            MLPFamily(dataset=dataset, input_dim=12, n_classes=4, n_train=700).sample(0)
        )
        assert task.X.shape == (700, 12) and task.Xv.shape == (512, 12)
        assert set(np.unique(task.y)) <= set(range(4)) and len(np.unique(task.y)) >= 3
        assert task.n_eval == 700


def test_segments_mark_each_matrix_and_bias():
    task = small_task(depth=2)  # 8 → 6 → 6 → 3
    assert task.segments.tolist() == [0, 48, 54, 90, 96, 114, 117]
    assert task.n_params == 117
    params = np.arange(117.0)
    (W1, b1), (W2, b2), (W3, b3) = task.layers(params)
    assert W1.shape == (8, 6) and b1[0] == 48 and W3.shape == (6, 3) and b3[-1] == 116


def test_init_torch_and_glorot():
    rng = np.random.default_rng(0)
    t = small_task(input_dim=50, hidden=40, init="torch")
    p = t.init_params(rng)
    (W1, b1), (W2, b2) = t.layers(p)
    assert np.abs(W1).max() <= 1 / math.sqrt(50) and np.abs(W1).max() > 0.9 / math.sqrt(50)
    assert np.abs(b2).max() <= 1 / math.sqrt(40) and np.any(b1 != 0)
    g = small_task(input_dim=50, hidden=40, init="glorot")
    (W1, b1), (W2, b2) = g.layers(g.init_params(rng))
    bound = math.sqrt(6 / 90)
    assert np.abs(W1).max() <= bound and np.abs(W1).max() > 0.9 * bound
    assert np.all(b1 == 0) and np.all(b2 == 0)
    # drawn from the generator passed in
    assert np.array_equal(t.init_params(np.random.default_rng(7)), t.init_params(np.random.default_rng(7)))


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(dataset="mnist"), "unknown mlp dataset 'mnist'"),
        (dict(depth=3), "depth=3 out of range"),
        (dict(activation="gelu"), "unknown mlp activation"),
        (dict(init="he"), "unknown mlp init"),
        # was NumPy's bare "truth value of an array ... is ambiguous"
        (dict(activation=np.array(["tanh", "relu"])), r"unknown mlp activation array\(.*; valid choices: tanh, relu"),
        (dict(hidden=0), "hidden=0 out of range"),
        (dict(n_classes=1), "n_classes=1 out of range"),
        (dict(label_noise=1.5), "label_noise=1.5 out of range"),
        (dict(dataset="digits", input_dim=10), "cannot be set with dataset='digits'"),
        (dict(dataset="breast_cancer", label_noise=0.1), "cannot be set with dataset='breast_cancer'"),
        (dict(widht=3), "unknown mlp family option"),
    ],
)
def test_override_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        MLPFamily(**kw)


def _synthetic_data_numpy(spec):
    """The synthetic data sets in plain NumPy expressions (fresh arrays, NumPy's own normals):
    the definition that ``mlp.synthetic_data`` computes in reused memory and compiled draws."""
    rng = np.random.default_rng([spec.instance, 7])
    n, d, c = spec.n_train + 512, spec.input_dim, spec.n_classes
    if spec.dataset == "teacher":
        W1 = rng.standard_normal((d, 32)) / math.sqrt(d)
        b1 = 0.5 * rng.standard_normal(32)
        W2 = rng.standard_normal((32, c)) / math.sqrt(32)
        X = rng.standard_normal((n, d))
        logits = np.tanh(X @ W1 + b1) @ W2
        logits = (logits - logits.mean(0)) / logits.std(0)
        y = np.argmax(logits, axis=1).astype(np.int64)
    else:
        centres = rng.standard_normal((2 * c, d)) * (spec.separation / math.sqrt(2 * d))
        which = rng.integers(0, 2 * c, size=n)
        X = centres[which] + rng.standard_normal((n, d))
        y = (which // 2).astype(np.int64)
    if spec.label_noise > 0:
        flip = rng.uniform(size=n) < spec.label_noise
        y = np.where(flip, rng.integers(0, c, size=n), y)
    return X[: spec.n_train], y[: spec.n_train], X[spec.n_train :], y[spec.n_train :]


@pytest.mark.parametrize("dataset", ["teacher", "clusters"])
def test_synthetic_data_is_the_numpy_definition_to_the_bit(dataset):
    """Rows and labels of synthetic instances (the temporaries in reused memory, normals drawn
    compiled) equal the plain NumPy expressions bit for bit, on specs of many sizes, label noise
    on and off, built one after another (so the reused buffers hold the last build's values)."""
    from lrgym.tasks.mlp import synthetic_data

    fam = MLPFamily(dataset=dataset)
    specs = [fam.sample(k) for k in range(0, 120, 7)] + [
        MLPFamily(dataset=dataset, input_dim=d, n_classes=c, n_train=n).sample(k)
        for k, (d, c, n) in enumerate([(1, 2, 2), (3, 10, 9000), (64, 2, 512), (8, 7, 1500)])
    ]
    for spec in specs:
        got, want = synthetic_data(spec), _synthetic_data_numpy(spec)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            assert np.array_equal(g.view(np.int64), w.view(np.int64)), spec
