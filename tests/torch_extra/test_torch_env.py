"""TorchTrainingEnv: gymnasium's checker, a baseline's episode, reset, divergence, and the
observation contract against PolicyScheduler (two wrappers of one monitor must agree)."""

from __future__ import annotations

import copy
import math
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")


from lrgym.baselines.evaluation import run_episode  # noqa: E402
from lrgym.baselines.registry import make_baseline  # noqa: E402
from lrgym.env import LRControlEnv  # noqa: E402
from lrgym.info import INFO_SCHEMA  # noqa: E402
from lrgym.policy import policy_env_kwargs  # noqa: E402
from lrgym.torch import TorchTrainingEnv  # noqa: E402

torch.set_num_threads(1)


def blobs(n=300, d=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, d, generator=g) * 2
    y = torch.randint(0, classes, (n,), generator=g)
    X = centers[y] + torch.randn(n, d, generator=g)
    return X, y


def accuracy(out, y):
    return float((out.argmax(1) == y).float().mean())


def make_env(**kw):
    X, y = blobs()
    return TorchTrainingEnv(
        model=lambda: torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)),
        train_data=(X[:240], y[:240]), val_data=(X[240:], y[240:]), batch_size=16,
        **{"loss_fn": torch.nn.CrossEntropyLoss(reduction="none"), "metric_fn": accuracy, "horizon": 6,
           "inner_steps": 3, **kw},
    )


def test_check_env_passes_in_both_action_modes(monkeypatch):
    from gymnasium.utils import env_checker
    from test_env import _nan_is_nan  # tests/test_env.py: NaN equals NaN (info["excess_loss"] is NaN)

    monkeypatch.setattr(env_checker, "data_equivalence", _nan_is_nan(env_checker.data_equivalence))
    env_checker.check_env(make_env(), skip_render_check=True)
    env_checker.check_env(make_env(action_mode="log_lr"), skip_render_check=True)


def test_spaces_features_and_info_keys_match_lrgym_env():
    env, ref = make_env(), LRControlEnv(family="linreg", horizon=6, inner_steps=3)
    assert env.observation_space == ref.observation_space
    assert env.action_space == ref.action_space
    assert env.feature_names == ref.feature_names
    for info, ref_info in (env.reset(seed=0)[1], ref.reset(seed=0)[1]), (env.step(2)[4], ref.step(2)[4]):
        assert list(info) == list(ref_info) == list(INFO_SCHEMA)  # the fixed schema, in order
        assert {k: np.asarray(v).dtype for k, v in info.items()} == INFO_SCHEMA
        assert info["family"] == -1 and np.isnan(info["excess_loss"])  # a task outside lrgym's table


def test_a_baseline_runs_an_episode_and_training_helps():
    policy = make_baseline("cosine", family="mlp", lr=0.5)  # an LR for this task, not a tuned one
    env = make_env(horizon=10, inner_steps=5, **policy_env_kwargs(policy))
    traj = run_episode(policy, env, seed=1)
    assert len(traj.lrs) == 10 and not traj.diverged
    assert traj.train_losses[-1] < 0.5 * traj.train_losses[0]
    assert traj.lrs[0] > traj.lrs[-1]  # cosine decays
    # log_improvement telescopes to log(L0 / LT)
    assert sum(traj.rewards) == pytest.approx(math.log(traj.train_losses[0] / traj.train_losses[-1]), rel=1e-6)


def test_reset_reinitialises_the_model_reproducibly():
    env = make_env()
    env.reset(seed=5)
    first = [p.detach().clone() for p in env.model.parameters()]
    for _ in range(3):
        env.step(4)
    trained = [p.detach().clone() for p in env.model.parameters()]
    assert not all(torch.equal(a, b) for a, b in zip(first, trained))
    obs_a, _ = env.reset(seed=5)
    again = [p.detach().clone() for p in env.model.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    steps_a = [env.step(3)[0] for _ in range(3)]
    obs_b, _ = env.reset(seed=5)
    steps_b = [env.step(3)[0] for _ in range(3)]
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(np.array(steps_a), np.array(steps_b))
    env.reset(seed=6)
    other = [p.detach().clone() for p in env.model.parameters()]
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_a_module_is_reinitialised_with_reset_parameters():
    X, y = blobs()
    model = torch.nn.Linear(6, 3)
    env = TorchTrainingEnv(model, (X, y), torch.nn.CrossEntropyLoss(reduction="none"), horizon=3, inner_steps=2)
    env.reset(seed=0)
    w0 = model.weight.detach().clone()
    env.step(4)
    assert not torch.equal(w0, model.weight)
    env.reset(seed=0)
    assert torch.equal(w0, model.weight)


class _Scaled(torch.nn.Module):
    """A custom module with a bare parameter: no ``reset_parameters()`` re-draws ``scale``."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(6, 3)
        self.scale = torch.nn.Parameter(torch.full((1,), 0.5))

    def forward(self, x):
        return self.linear(x) * self.scale


def test_reset_puts_back_what_no_reset_parameters_covers():
    """The custom module's ``scale`` kept its trained value across resets: the next episode
    started from trained weights, and ``reset(seed=s)`` gave other observations each time.
    Reference: the value the module was given, and the first episode of the same seed."""
    X, y = blobs()
    model = _Scaled()
    env = TorchTrainingEnv(model, (X, y), torch.nn.CrossEntropyLoss(reduction="none"), horizon=3, inner_steps=4)

    def episode():
        obs = [env.reset(seed=3)[0]]
        assert model.scale.item() == 0.5
        obs += [env.step(4)[0] for _ in range(3)]
        return np.concatenate(obs)

    first = episode()
    assert model.scale.item() != 0.5  # trained
    np.testing.assert_array_equal(episode(), first)


def test_divergence_terminates_with_the_documented_penalty():
    """Least squares at LR 10 explodes: terminated, finite observation, return −log(cap_factor)."""
    X, _ = blobs()
    y = X @ torch.linspace(-1, 1, 6)
    env = TorchTrainingEnv(lambda: torch.nn.Linear(6, 1), (X, y), lambda out, t: 0.5 * (out[:, 0] - t) ** 2,
                           action_mode="log_lr", horizon=5, inner_steps=4, cap_factor=100.0)
    env.reset(seed=0)
    total, terminated = 0.0, False
    for _ in range(5):
        obs, r, terminated, truncated, info = env.step(np.array([1.0], dtype=np.float32))  # LR = 10
        total += r
        assert np.isfinite(obs).all() and env.observation_space.contains(obs)
        if terminated or truncated:
            break
    assert terminated and info["diverged"]
    assert total == pytest.approx(-math.log(100.0))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.array([0.0], dtype=np.float32))


def test_bad_actions_are_named():
    env = make_env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="valid choices: integers 0..4"):
        env.step(7)


def test_a_data_loader_is_cycled_and_evaluated_on_its_first_batches():
    X, y = blobs(n=96)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16, shuffle=False)
    env = TorchTrainingEnv(lambda: torch.nn.Linear(6, 3), loader, torch.nn.CrossEntropyLoss(reduction="none"),
                           eval_batches=2, horizon=4, inner_steps=5)  # 20 updates > 6 batches: cycles
    _, info = env.reset(seed=0)
    with torch.no_grad():  # the objective: mean loss over the first two batches (32 rows)
        expected = float(torch.nn.functional.cross_entropy(env.model(X[:32]), y[:32]))
    assert info["train_loss"] == pytest.approx(expected, rel=1e-6)
    rewards = [env.step(2)[1] for _ in range(4)]
    assert env.monitor.updates == 20 and sum(rewards) > 0


class _Batches:
    """A re-iterable of (x, y) batches whose ``fail_at``-th batch raises ``error`` (a dataset bug)
    and whose passes after the first may be empty."""

    def __init__(self, X, y, fail_at=None, error=TypeError, passes=None):
        self.X, self.y, self.fail_at, self.error, self.passes, self.served = X, y, fail_at, error, passes, 0

    def __iter__(self):
        self.served += 1
        if self.passes is not None and self.served > self.passes:
            return iter(())
        for k in range(0, len(self.y), 16):
            if self.fail_at is not None and k // 16 == self.fail_at:
                raise self.error("collate failed on this batch")
            yield self.X[k:k + 16], self.y[k:k + 16]


def _loader_env(data, **kw):
    return TorchTrainingEnv(lambda: torch.nn.Linear(6, 3), data, torch.nn.CrossEntropyLoss(reduction="none"),
                            eval_batches=1, **{"horizon": 3, "inner_steps": 4, **kw})


def test_batch_data_that_cannot_be_cycled_is_refused_by_name():
    """A finite generator is used up after one pass: it ended an episode with a bare StopIteration;
    it is a ValueError naming it once used up. Empty data divided by zero: refused at
    construction, naming the data and what is valid."""
    X, y = blobs(n=64)
    env = _loader_env(((X[k:k + 16], y[k:k + 16]) for k in range(0, 64, 16)))  # 1 batch for eval, 3 left
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"one-shot iterator \(generator\), is used up.*valid:.*DataLoader"):
        env.step(2)  # 4 updates
    with pytest.raises(TypeError, match=r"train_data of type int is not iterable; valid:"):
        _loader_env(7)
    with pytest.raises(ValueError, match=r"no batch.*train_data list.*valid:"):
        _loader_env([])
    env = _loader_env(_Batches(X, y, passes=2))  # construction's evaluation pass, then one training pass
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"train_data \(_Batches\) yielded no batch in a new pass; valid:"):
        for _ in range(3):
            env.step(2)  # 12 updates: the 4 batches of a pass, then an empty pass


def test_an_error_inside_the_data_is_raised_not_taken_for_the_end_of_a_pass():
    """A TypeError from the user's data (a collate bug) was caught as 'the end of the pass': the
    env silently restarted the data and never trained on the batches after it."""
    X, y = blobs(n=64)
    env = _loader_env(_Batches(X, y, fail_at=2))
    env.reset(seed=0)
    with pytest.raises(TypeError, match="collate failed"):
        env.step(2)


def test_the_start_is_measured_in_eval_mode_without_touching_the_model():
    """A fresh model is in train mode: reset measured L0 and V0 with dropout on and BatchNorm's
    batch statistics, and the measurement itself moved BatchNorm's running statistics before any
    update. The reference: PyTorch's eval-mode loss of the model reset left, whose BatchNorm
    buffers must still be the initial ones (mean 0, variance 1)."""
    X, y = blobs()

    def model():
        return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                                   torch.nn.Dropout(0.5), torch.nn.Linear(16, 3))

    env = TorchTrainingEnv(model, (X[:240], y[:240]), torch.nn.CrossEntropyLoss(reduction="none"),
                           val_data=(X[240:], y[240:]), horizon=3, inner_steps=2)
    _, info = env.reset(seed=0)
    bn = env.model[1]
    torch.testing.assert_close(bn.running_mean, torch.zeros(16), rtol=0, atol=0)
    torch.testing.assert_close(bn.running_var, torch.ones(16), rtol=0, atol=0)
    with torch.no_grad():
        env.model.eval()
        train = float(torch.nn.functional.cross_entropy(env.model(X[:240]).double(), y[:240]))
        val = float(torch.nn.functional.cross_entropy(env.model(X[240:]).double(), y[240:]))
    assert info["train_loss"] == pytest.approx(train, rel=1e-6)
    assert info["val_loss"] == pytest.approx(val, rel=1e-6)
    env.step(2)
    assert bn.running_mean.abs().sum() > 0  # the updates themselves ran in train mode


def test_an_endless_generator_of_batches_is_read_on():
    """A generator streaming batches without end (synthetic data) was refused at construction as
    a one-shot iterator, although the env never needs it to start over. The reference is the
    same batches as a list, which the env re-iterates: the same run."""
    import itertools

    X, y = blobs(n=64)
    batches = [(X[k:k + 16], y[k:k + 16]) for k in range(0, 64, 16)]
    runs = []
    for data in (batches, (b for b in itertools.cycle(batches))):
        env = _loader_env(data, eval_data=batches[:1], horizon=3, inner_steps=3)
        obs, _ = env.reset(seed=0)
        trace = [obs]
        for _ in range(3):
            obs, reward, *_ = env.step(2)
            trace += [obs, reward]
        runs.append(trace)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


class _Tagged(torch.nn.Module):
    """A module with extra state (``get_extra_state``: any object, here a dict) besides a layer."""

    def __init__(self):
        super().__init__()
        self.layer, self.tag = torch.nn.Linear(6, 3), {"calls": 0}

    def forward(self, x):
        self.tag["calls"] += 1
        return self.layer(x)

    def get_extra_state(self):
        return dict(self.tag)

    def set_extra_state(self, state):
        self.tag = dict(state)


def test_a_module_with_extra_state_is_put_back_at_reset():
    """A module whose state_dict holds extra state that is no tensor failed at construction
    ('dict' object has no attribute 'detach'); reset puts it back as given."""
    X, y = blobs(n=64)
    model = _Tagged()
    env = TorchTrainingEnv(model, (X, y), torch.nn.CrossEntropyLoss(reduction="none"), horizon=2, inner_steps=2)
    env.reset(seed=0)
    env.step(2)
    assert model.tag["calls"] > 0
    env.reset(seed=0)
    assert model.get_extra_state() == {"calls": 1}  # as given, then the reset's one measurement pass


def test_a_custom_optimizers_groups_keep_their_lr_ratio_to_the_first():
    """A callable optimizer with a head group at 10× the LR it is given: every step the first
    group holds the policy's LR (reference: the discrete factors' product written out) and the
    head ten times it, and the head's update is SGD at that LR (reference: its parameters before
    and after one single-update step, with the gradient recomputed on the same minibatch)."""
    from lrgym.settings import DEFAULT_FACTORS

    def body_and_head(params, lr):
        params = list(params)
        return torch.optim.SGD([{"params": params[:2]}, {"params": params[2:], "lr": 10 * lr}], lr=lr)

    env = make_env(optimizer=body_and_head, inner_steps=1, lr_init=0.01)
    env.reset(seed=0)
    expected = 0.01
    for action in (3, 4, 0, 2):
        head_before = [p.detach().clone() for p in env.model[2].parameters()]
        env.step(action)
        expected *= DEFAULT_FACTORS[action]
        body_lr, head_lr = (group["lr"] for group in env.optimizer.param_groups)
        assert body_lr == pytest.approx(expected, rel=1e-12) and head_lr == pytest.approx(10 * expected, rel=1e-12)
        for before, p in zip(head_before, env.model[2].parameters()):
            assert p.grad is not None
            torch.testing.assert_close(p.detach(), before - head_lr * p.grad, rtol=1e-6, atol=1e-7)


def test_a_frozen_first_group_stays_frozen_in_the_env():
    """A callable optimizer whose first group is frozen (LR 0): the env gave it the policy's LR, so
    the backbone trained. The policy's LR is the first group with a nonzero LR's; the frozen
    parameters do not move (reference: their values after reset) and the head follows the policy
    (reference: the discrete factors' product written out)."""
    from lrgym.settings import DEFAULT_FACTORS

    def frozen_body(params, lr):
        params = list(params)
        return torch.optim.SGD([{"params": params[:2], "lr": 0.0}, {"params": params[2:]}], lr=lr)

    env = make_env(optimizer=frozen_body, lr_init=0.01)
    env.reset(seed=0)
    body = [p.detach().clone() for p in env.model[0].parameters()]
    head = [p.detach().clone() for p in env.model[2].parameters()]
    expected = 0.01
    for action in (3, 4, 0):
        *_, info = env.step(action)
        expected *= DEFAULT_FACTORS[action]
        assert [group["lr"] for group in env.optimizer.param_groups] == pytest.approx([0.0, expected], rel=1e-12)
        assert info["lr"] == pytest.approx(expected, rel=1e-12)
    for before, p in zip(body, env.model[0].parameters()):
        assert torch.equal(before, p.detach())
    assert not all(torch.equal(before, p.detach()) for before, p in zip(head, env.model[2].parameters()))


def _shuffling_loader_env():
    X, y = blobs(n=160)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16, shuffle=True)
    return TorchTrainingEnv(lambda: torch.nn.Linear(6, 3), loader, torch.nn.CrossEntropyLoss(reduction="none"),
                            eval_batches=2, horizon=3, inner_steps=4)


def test_envs_built_alike_on_a_shuffling_loader_run_the_same_episodes():
    """The default evaluation batches of a shuffling DataLoader were drawn at construction from the
    global torch RNG: two envs built with the same arguments evaluated on other rows, so the same
    ``reset(seed=0)`` gave other observations and rewards. They are drawn in a forked RNG seeded
    with ``EVAL_DATA_SEED``, leaving the global RNG as it was. Reference: the first env's episode,
    to the bit, with the global RNG moved between the constructions."""
    from lrgym.torch.env import EVAL_DATA_SEED

    assert EVAL_DATA_SEED == 0
    episodes = []
    for moved in (1, 2):
        torch.manual_seed(100 + moved)
        state = torch.get_rng_state()
        env = _shuffling_loader_env()
        assert torch.equal(torch.get_rng_state(), state)  # construction leaves the global RNG alone
        obs, info = env.reset(seed=0)
        trace = [obs, info["train_loss"]]
        for action in (2, 3, 1):
            obs, reward, *_ = env.step(action)
            trace += [obs, reward]
        episodes.append(trace)
    for a, b in zip(*episodes):
        np.testing.assert_array_equal(a, b)


def test_a_first_validation_loss_of_zero_gives_the_default_metric_zero():
    """A model whose first validation loss is exactly 0 made reset divide by zero (1 − V/V0). The
    default metric floors V and V0 as the relative-loss features do (``lrgym.features.TINY``):
    0.0 while V stays 0, as the features' log(V/V0) reads 0. A nonzero V0 keeps 1 − V/V0. (The
    training loss is 1 throughout: a first training loss L0 of 0 is refused, see below.)"""
    from lrgym.features import FEATURE_NAMES

    X, Y = torch.randn(64, 8, generator=torch.Generator().manual_seed(0)), torch.zeros(64, 1)

    def zero_model():
        model = torch.nn.Linear(8, 1)
        torch.nn.init.zeros_(model.weight)
        torch.nn.init.zeros_(model.bias)
        return model  # predicts 0: every gradient 0, so it stays the zero model

    def loss(out, t):  # out**2 (0, gradient 0) plus the target: 1 on the training rows, 0 on the validation rows
        return (out ** 2).mean(1) + t.mean(1)

    env = TorchTrainingEnv(zero_model, (X, Y + 1.0), loss, val_data=(X[:16], Y[:16]), horizon=3, inner_steps=2)
    obs, info = env.reset(seed=0)
    assert info["val_loss"] == 0.0 and info["val_metric"] == 0.0
    obs, reward, terminated, _, info = env.step(2)
    assert info["val_loss"] == 0.0 and info["val_metric"] == 0.0 and not terminated
    assert obs[FEATURE_NAMES.index("log_val_loss_rel")] == 0.0
    X, y = blobs()
    env = TorchTrainingEnv(lambda: torch.nn.Linear(6, 3), (X[:240], y[:240]),
                           torch.nn.CrossEntropyLoss(reduction="none"), val_data=(X[240:], y[240:]),
                           horizon=3, inner_steps=2)
    _, info = env.reset(seed=0)
    v0 = info["val_loss"]
    *_, info = env.step(4)
    assert info["val_metric"] == 1.0 - info["val_loss"] / v0  # written out


@pytest.mark.parametrize("kwargs, error, message", [
    ({"model": "mlp"}, TypeError, r"model='mlp' \(str\) is not a model; valid: a torch.nn.Module, or a "
                                  r"zero-argument callable returning one"),
    ({"train_data": "X"}, TypeError, r"train_data is a bare tensor of shape \(64, 6\).*valid: a pair \(X, y\) of "
                                     r"tensors with the same first dimension.*DataLoader.*iterator"),
    ({"train_data": "XYW"}, ValueError, r"train_data is a tuple of 3 tensors \(shapes \(64, 6\), \(64,\), \(64,\)\); "
                                        r"valid: a pair \(X, y\)"),
    ({"train_data": "short y"}, ValueError, r"train_data \(X, y\) has shapes \(64, 6\), \(10,\): not the same "
                                            r"positive number of rows; valid: a pair \(X, y\)"),
    ({"eval_rows": 0}, ValueError, r"eval_rows=0 out of range; valid: a positive integer"),
    ({"eval_batches": -1}, ValueError, r"eval_batches=-1 out of range; valid: a positive integer"),
    ({"eval_rows": 2.5}, ValueError, r"eval_rows=2.5 is not an integer; valid: a positive integer"),
    # Python's bare "__init__() got an unexpected keyword argument 'btch_size'" before (the valid names: the signature)
    ({"btch_size": 8}, TypeError, r"^TorchTrainingEnv\(\) got an unexpected keyword argument 'btch_size' \(did you mean "
                                  r"'batch_size'\?\); valid: model, train_data, loss_fn, val_data, metric_fn, batch_size, "
                                  r"eval_data, eval_rows, eval_batches, optimizer, .*, name, render_mode$"),
    ({"optimizer": "adamw"}, ValueError, r"unknown optimizer 'adamw'; valid choices: sgd, .*, adagrad; or a callable "
                                         r"\(params, lr\) returning a torch.optim.Optimizer.*torch.optim.AdamW"),
    ({"optimizer": "instance"}, ValueError, r"optimizer must be a name, dict or OptimizerConfig, got "
                                            r"Adam \([\s\S]*; or a callable \(params, lr\) returning a "
                                            r"torch.optim.Optimizer"),
])
def test_bad_arguments_are_refused_at_construction_by_name(kwargs, error, message):
    """A string model, a bare tensor or a triple as the data, ``eval_rows=0`` were accepted and
    failed later ('str' object is not callable, 'too many values to unpack'), or gave a NaN first
    loss and a divergence. Refused when the env is built, naming the argument, the value and what
    is valid."""
    X, y = blobs(n=64)
    data = {"X": X, "XYW": (X, y, y), "short y": (X, y[:10])}
    kwargs = {**kwargs, "train_data": data.get(kwargs.get("train_data"), (X, y))}
    kwargs.setdefault("model", lambda: torch.nn.Linear(6, 3))
    if kwargs.get("optimizer") == "instance":  # built once, where the env builds one at every reset
        kwargs["optimizer"] = torch.optim.Adam(torch.nn.Linear(6, 3).parameters())
    with pytest.raises(error, match=message):
        TorchTrainingEnv(loss_fn=torch.nn.CrossEntropyLoss(reduction="none"), horizon=2, inner_steps=2, **kwargs)


def test_a_model_callable_that_returns_no_module_is_named_at_reset():
    X, y = blobs(n=64)
    env = TorchTrainingEnv(lambda: "mlp", (X, y), torch.nn.CrossEntropyLoss(reduction="none"), horizon=2, inner_steps=2)
    with pytest.raises(TypeError, match=r"model\(\) returned 'mlp' \(str\); valid: a zero-argument callable "
                                        r"returning a torch.nn.Module"):
        env.reset(seed=0)



def test_an_optimizer_callable_that_returns_no_optimizer_is_named_at_reset():
    """A callable that forgot its return (or returned the class) was torch's bare
    "'NoneType' object has no attribute 'param_groups'" at reset."""
    X, y = blobs(n=64)
    for made, shown in ((lambda params, lr: None, r"None \(NoneType\)"),
                        (lambda params, lr: torch.optim.SGD, r"<class 'torch.optim.sgd.SGD'> \(type\)")):
        env = TorchTrainingEnv(lambda: torch.nn.Linear(6, 3), (X, y), torch.nn.CrossEntropyLoss(reduction="none"),
                               optimizer=made, horizon=2, inner_steps=2)
        with pytest.raises(TypeError, match=r"optimizer\(params, lr\) returned " + shown + r"; valid: an lrgym "
                                            r"optimizer name, or a callable \(params, lr\) returning a "
                                            r"torch.optim.Optimizer"):
            env.reset(seed=0)


class _Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.att = torch.nn.MultiheadAttention(6, 2, batch_first=True)
        self.out = torch.nn.Linear(6, 3)

    def forward(self, x):
        x = x.unsqueeze(1)
        return self.out(self.att(x, x, x)[0].squeeze(1))


class _Transformer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.t = torch.nn.Transformer(d_model=6, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                                      dim_feedforward=8, dropout=0.0, batch_first=True)
        self.out = torch.nn.Linear(6, 3)

    def forward(self, x):
        x = x.unsqueeze(1)
        return self.out(self.t(x, x).squeeze(1))


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
@pytest.mark.parametrize("net", [_Attention, _Transformer], ids=["MultiheadAttention", "Transformer"])
def test_reset_reinitialises_attention_as_torch_builds_it(monkeypatch, net):
    """``nn.MultiheadAttention`` and ``nn.Transformer`` name their re-initialiser
    ``_reset_parameters``: reset left the attention's ``in_proj_weight`` as given (the same for
    every seed), and the Transformer's xavier draw undone. Reference: the module torch builds under
    the torch seed the reset draws (recorded), parameter for parameter — different seeds give
    different weights, the same seed the same ones (``out_proj.bias`` 0, as torch builds it)."""
    X, y = blobs(n=64)
    model = net()
    env = TorchTrainingEnv(model, (X, y), torch.nn.CrossEntropyLoss(reduction="none"), horizon=2, inner_steps=2)
    seeds, manual_seed = [], torch.manual_seed
    monkeypatch.setattr(torch, "manual_seed", lambda s: (seeds.append(s), manual_seed(s))[1])
    states = []
    for seed in (0, 1, 0):
        env.reset(seed=seed)
        env.step(2)  # trained, so the next reset must re-draw
        env.reset(seed=seed)
        states.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        manual_seed(seeds[-1])
        built = net().state_dict()
        assert built.keys() == states[-1].keys()
        for key, value in built.items():
            assert torch.equal(states[-1][key], value), key
    in_proj = [k for k in states[0] if k.endswith("in_proj_weight")]
    assert in_proj and not any(torch.equal(states[0][k], states[1][k]) for k in in_proj)
    assert all(torch.equal(v, states[2][k]) for k, v in states[0].items())
    out_proj_bias = [v for k, v in states[0].items() if k.endswith("out_proj.bias")]
    assert out_proj_bias and all(torch.equal(v, torch.zeros(6)) for v in out_proj_bias)


class _DeepTransformer(_Transformer):
    def __init__(self):
        torch.nn.Module.__init__(self)
        self.t = torch.nn.Transformer(d_model=6, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
                                      dim_feedforward=8, dropout=0.0, batch_first=True)
        self.out = torch.nn.Linear(6, 3)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
def test_reset_redraws_every_layer_of_a_cloned_stack_from_the_seed():
    """A Transformer of two layers per stack (torch builds them by copying one layer): a reset
    re-draws every parameter tensor of every layer (each differs from the trained model's), the
    same seed gives the same model to the bit, another seed other attention weights in every
    layer. (Not equal to torch's own build under that seed: its layers start as copies.)"""
    X, y = blobs(n=64)
    model = _DeepTransformer()
    env = TorchTrainingEnv(model, (X, y), torch.nn.CrossEntropyLoss(reduction="none"), horizon=2, inner_steps=2)
    states = []
    for seed in (0, 1, 0):
        env.reset(seed=seed)
        env.step(2)
        trained = {k: v.detach().clone() for k, v in model.state_dict().items()}
        env.reset(seed=seed)
        states.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        moved = [k for k, v in trained.items() if k.endswith("weight") and v.dim() > 1]
        assert moved and all(not torch.equal(trained[k], states[-1][k]) for k in moved)
    assert all(torch.equal(v, states[2][k]) for k, v in states[0].items())
    in_proj = [k for k in states[0] if k.endswith("in_proj_weight")]
    assert len(in_proj) == 6  # 2 encoder layers, 2 decoder layers with 2 attentions each
    assert not any(torch.equal(states[0][k], states[1][k]) for k in in_proj)


def _dropout_loader_env():
    """Everything an episode draws from torch: a fresh model, dropout in training, a shuffling
    DataLoader's order at each pass (160 rows in batches of 16: a new pass every 10 updates)."""
    X, y = blobs(n=160)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16, shuffle=True)
    return TorchTrainingEnv(
        lambda: torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Dropout(0.3), torch.nn.Linear(16, 3)),
        loader, torch.nn.CrossEntropyLoss(reduction="none"), eval_batches=2, horizon=5, inner_steps=4)


def _trace(env, seed, actions):
    obs, info = env.reset(seed=seed)
    trace = [obs, info["train_loss"]]
    for action in actions:
        obs, reward, *_ = env.step(action)
        trace += [obs, reward]
    return trace


def test_interleaved_envs_run_the_episodes_each_runs_alone():
    """Two envs stepped in turn (as ``SyncVectorEnv`` steps its envs), one reset in the middle of
    the other's episode and the user drawing from torch between steps: each episode is, to the
    bit, the one its env runs alone. They used to share torch's global stream, which every reset
    re-seeded, so dropout and the loader's order depended on the other env. The user's global
    stream is left as it was."""
    actions_a, actions_b = (2, 3, 1, 2, 4), (1, 2, 2, 3, 0)
    alone_a = _trace(_dropout_loader_env(), 0, actions_a)
    alone_b = _trace(_dropout_loader_env(), 1, actions_b)

    torch.manual_seed(123)
    env_a, env_b = _dropout_loader_env(), _dropout_loader_env()
    obs, info = env_a.reset(seed=0)
    together_a, together_b = [obs, info["train_loss"]], []
    for t, action in enumerate(actions_a):
        if t == 2:  # env b starts in the middle of env a's episode
            obs, info = env_b.reset(seed=1)
            together_b += [obs, info["train_loss"]]
        state = torch.get_rng_state()
        obs, reward, *_ = env_a.step(action)
        assert torch.equal(torch.get_rng_state(), state)  # the user's stream, untouched
        together_a += [obs, reward]
        torch.rand(7)  # the user's own draws between steps
        if t >= 2:
            obs, reward, *_ = env_b.step(actions_b[t - 2])
            together_b += [obs, reward]
    for action in actions_b[3:]:
        obs, reward, *_ = env_b.step(action)
        together_b += [obs, reward]
    for alone, together in ((alone_a, together_a), (alone_b, together_b)):
        assert len(alone) == len(together)
        for x, y in zip(alone, together):
            np.testing.assert_array_equal(x, y)


def test_a_policy_the_env_does_not_fit_is_warned_of():
    """An audit (2026-12-05): the bold driver (factors 0.7, 1, 1.05; undoes a step whose loss rose
    4 %) on this env had its actions read as indices into the env's default factors, so "keep"
    meant ×0.8, and no step was ever undone, without a word. run_episode now names the misfit."""
    bold = make_baseline("bold_driver")
    with pytest.warns(UserWarning, match=r"factors=\(0.7, 1.0, 1.05\) asked, the env has factors=\(0.5, 0.8, 1.0, 1.25, 2.0\).*"
                                         r"rejection_threshold=0.04 asked, the env has rejection_threshold=None"):
        run_episode(bold, make_env(), seed=0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a policy that fits: no warning
        run_episode(make_baseline("cosine"), make_env(action_mode="log_lr"), seed=0)  # no factors to agree on
        fixed = make_baseline("fixed")  # factors (1.0,): on the env's defaults action 0 halved the LR
        run_episode(fixed, make_env(factors=(1.0,)), seed=0)
        run_episode(bold, LRControlEnv(family="quadratic", horizon=3, **policy_env_kwargs(bold)), seed=0)


@pytest.mark.parametrize("where", ["loader", "sampler"])
def test_a_loaders_own_generator_is_seeded_per_episode_and_left_as_it_was(where):
    """An audit (2026-12-05): with ``DataLoader(..., shuffle=True, generator=g)`` two episodes of
    the same seed differed, and two envs stepped in turn changed each other's. The loader's own
    generator is now seeded at reset from the env's stream and swapped in for reset and step
    only: each episode equals the one its env runs alone, and ``g`` is left where it was."""
    X, y = blobs(n=96)
    data = torch.utils.data.TensorDataset(X, y)

    def env_with(g):
        if where == "loader":
            loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True, generator=g)
        else:
            loader = torch.utils.data.DataLoader(data, batch_size=16, sampler=torch.utils.data.RandomSampler(data, generator=g))
        return TorchTrainingEnv(lambda: torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Dropout(0.3), torch.nn.Linear(8, 3)),
                                loader, torch.nn.CrossEntropyLoss(reduction="none"), eval_batches=1, horizon=4, inner_steps=5)

    def episode(env, seed):
        losses = [env.reset(seed=seed)[1]["train_loss"]]
        losses += [env.step(2)[4]["train_loss"] for _ in range(4)]
        return losses

    g = torch.Generator().manual_seed(0)
    env = env_with(g)
    before = g.get_state()
    alone = episode(env, 5)
    assert torch.equal(g.get_state(), before)  # the user's generator is where it was
    assert episode(env, 5) == alone  # the same seed, the same episode
    assert episode(env, 6) != alone
    a, b = env_with(torch.Generator().manual_seed(0)), env_with(torch.Generator().manual_seed(0))
    first = [a.reset(seed=5)[1]["train_loss"]]
    b.reset(seed=9)
    for _ in range(4):  # stepped in turn: a's episode is still the one it runs alone
        first.append(a.step(2)[4]["train_loss"])
        b.step(0)
    assert first == alone


@pytest.mark.parametrize("where", ["loader", "sampler"])
def test_envs_built_alike_on_a_loader_with_its_own_generator_evaluate_alike(where):
    """An audit (2026-12-06): the default evaluation batches of a ``DataLoader`` with a generator
    of its own were drawn from that generator as the user's code had left it, and advanced it: two
    envs built alike, with the generator elsewhere, evaluated on other rows (another L0), and the
    construction moved the user's generator. Reference: the batches of the same loader with its
    generator seeded with ``EVAL_DATA_SEED``, as the global stream is for a loader without one."""
    from lrgym.torch.env import EVAL_DATA_SEED

    X, y = blobs(n=512)
    data = torch.utils.data.TensorDataset(X, y)
    g = torch.Generator()

    def loader():
        if where == "loader":
            return torch.utils.data.DataLoader(data, batch_size=16, shuffle=True, generator=g)
        return torch.utils.data.DataLoader(data, batch_size=16, sampler=torch.utils.data.RandomSampler(data, generator=g))

    def env_on(train):
        return TorchTrainingEnv(lambda: torch.nn.Linear(6, 3), train, torch.nn.CrossEntropyLoss(reduction="none"),
                                eval_batches=3, horizon=2, inner_steps=2)

    expected = []
    for user_seed in (1, 2):
        train = loader()
        g.manual_seed(EVAL_DATA_SEED)
        reference = [batch for _, batch in zip(range(3), train)]
        g.manual_seed(user_seed)
        before = g.get_state()
        env = env_on(train)
        assert torch.equal(g.get_state(), before)  # building the env leaves the user's generator alone
        assert len(env.eval_data) == 3
        for (x, t), (rx, rt) in zip(env.eval_data, reference):
            assert torch.equal(x, rx) and torch.equal(t, rt)
        expected.append(env.reset(seed=0)[1]["train_loss"])
    assert expected[0] == expected[1]


def test_a_shuffling_val_loader_is_read_alike_and_leaves_the_global_stream_alone():
    """An audit (2026-12-06): ``val_data`` (or ``eval_data``) given as a shuffling ``DataLoader``
    was listed at construction from the global torch stream as the user's code had left it: the
    construction moved that stream, and envs built alike averaged the metric over other batches
    (0.455 vs 0.509 at one reset). Read now as the default evaluation batches are. Reference: the
    loader's batches at ``EVAL_DATA_SEED`` and a metric averaged over them by hand."""
    from lrgym.torch.env import EVAL_DATA_SEED

    X, y = blobs(n=100)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16, shuffle=True)
    accuracy = lambda out, t: (out.argmax(1) == t).float().mean()
    torch.manual_seed(EVAL_DATA_SEED)
    reference = list(loader)
    metrics = []
    for user_seed in (1, 2):
        torch.manual_seed(user_seed)
        before = torch.get_rng_state()
        env = TorchTrainingEnv(lambda: torch.nn.Linear(6, 3), (X, y), torch.nn.CrossEntropyLoss(reduction="none"),
                               val_data=loader, eval_data=loader, metric_fn=accuracy, horizon=2, inner_steps=2)
        assert torch.equal(torch.get_rng_state(), before)  # the construction leaves the global stream alone
        for data in (env.val_data, env.eval_data):
            assert len(data) == len(reference)
            assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(data, reference))
        info = env.reset(seed=0)[1]
        with torch.no_grad():
            by_hand = np.mean([float(accuracy(env.model(xb), tb)) for xb, tb in reference])
        assert info["val_metric"] == pytest.approx(by_hand, rel=1e-6)
        metrics.append(info["val_metric"])
    assert metrics[0] == metrics[1]


def test_numpy_data_is_refused_when_the_env_is_built():
    """An audit (2026-12-05): ``train_data=(X, y)`` of NumPy arrays was built, then failed at reset
    with "too many values to unpack"; the same for val_data. Refused when built, naming it."""
    X, y = blobs()
    Xn, yn = X.numpy(), y.numpy()
    model = lambda: torch.nn.Linear(6, 3)  # noqa: E731
    loss = torch.nn.CrossEntropyLoss(reduction="none")
    with pytest.raises(TypeError, match=r"train_data is a tuple of \(ndarray, ndarray\): NumPy arrays"):
        TorchTrainingEnv(model, (Xn, yn), loss)
    with pytest.raises(TypeError, match=r"val_data is a tuple of \(ndarray, ndarray\): NumPy arrays"):
        TorchTrainingEnv(model, (X, y), loss, val_data=(Xn, yn))
    TorchTrainingEnv(model, (torch.as_tensor(Xn), torch.as_tensor(yn)), loss).reset(seed=0)  # what it says to do


def test_metric_fn_without_val_data_reads_the_evaluation_data():
    """An audit (2026-12-05): ``metric_fn`` without ``val_data`` gave a NaN metric, though the
    docstring says val_data defaults to the evaluation data."""
    X, y = blobs()
    env = TorchTrainingEnv(lambda: torch.nn.Linear(6, 3), (X, y), torch.nn.CrossEntropyLoss(reduction="none"),
                           metric_fn=accuracy, eval_rows=64, horizon=2, inner_steps=2)
    _, info = env.reset(seed=0)
    with torch.no_grad():
        expected = float(accuracy(env.model(X[:64]), y[:64]))
    assert info["val_metric"] == pytest.approx(expected) and info["val_loss"] == info["train_loss"]


def test_the_first_training_loss_must_be_positive_and_later_losses_not_negative():
    """TorchTrainingEnv takes its losses through the same TrainingMonitor as PolicyScheduler and
    the same rule (lrgym.monitor.check_loss): an offset loss of about -45 reset and trained with
    all-zero loss features and no word; a first training loss (L0) <= 0 is now refused at reset,
    naming it, and a negative loss later in the episode at the update that gives it. A later
    exact 0 (float32 cross-entropy at large margins gives -0.0) runs the episode to its end."""
    torch.manual_seed(0)
    X = torch.randn(256, 4)
    y = X @ torch.randn(4, 1)
    shift = [50.0]

    def mse_minus_shift(out, t):
        return ((out - t) ** 2).squeeze(1) - shift[0]

    env = TorchTrainingEnv(lambda: torch.nn.Linear(4, 1), (X, y), mse_minus_shift, batch_size=32, horizon=5,
                           inner_steps=4)
    with pytest.raises(ValueError, match=r"the first training loss is -4[0-9.]*, the episode's first loss \(L0\): "
                                         r"it must be > 0.*valid: a finite first loss > 0"):
        env.reset(seed=0)
    with pytest.raises(ValueError, match=r"the first training loss is 0, the episode's first loss"):
        env_zero = TorchTrainingEnv(lambda: torch.nn.Linear(4, 1), (X, y), lambda out, t: 0.0 * out.squeeze(1),
                                    batch_size=32, horizon=5, inner_steps=4)
        env_zero.reset(seed=0)
    shift[0] = 0.0
    env.reset(seed=0)
    shift[0] = 1e6
    with pytest.raises(ValueError, match=r"the update's mean minibatch loss is -99999[0-9]: losses must be >= 0"):
        env.step(2)

    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 2, generator=g)
    labels = (X[:, 0] > 0).long()
    X[:, 0] += torch.where(labels == 1, 3.0, -3.0)
    env = TorchTrainingEnv(lambda: torch.nn.Linear(2, 2), (X, labels),
                           torch.nn.CrossEntropyLoss(reduction="none"), batch_size=64, horizon=20, inner_steps=10,
                           lr_init=5.0, lr_max=10.0)
    obs, info = env.reset(seed=0)
    done, steps = False, 0
    while not done:
        obs, _, terminated, truncated, info = env.step(2)  # keep the LR (factor 1)
        done, steps = terminated or truncated, steps + 1
    assert steps == 20 and not terminated and info["train_loss"] == 0.0 and np.all(np.isfinite(obs))


def test_a_model_whose_loss_is_not_finite_at_reset_is_refused_there():
    """The losses measured at reset are the episode's L0 and V0; nothing has trained yet. A model
    that is NaN from the start was reset with them replaced by 1.0 in silence (observations of
    log(cap) at step 0) and only diverged at the first step."""

    class Broken(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(6, 3)

        def forward(self, x):
            return self.linear(x) * math.nan

    X, y = blobs()
    env = TorchTrainingEnv(model=Broken, train_data=(X, y), loss_fn=torch.nn.CrossEntropyLoss(reduction="none"),
                           horizon=3, inner_steps=2)
    with pytest.raises(ValueError, match=r"the first training loss is nan, measured before the first update"):
        env.reset(seed=0)


def _params(env):
    return [p.detach().clone() for p in env.model.parameters()]


@pytest.mark.parametrize("data", ["tensors", "list", "module"])
def test_a_copy_steps_on_its_own_and_both_go_on_as_the_reference(data):
    """``copy.copy(env)`` mid-episode is an independent env at the same point, as
    ``LRControlEnv``'s copy is (tests/test_env_copy.py): stepping the copy leaves the original's
    model, optimizer and episode as they were, and both go on, to the bit, as an env run from the
    start with the same seed and actions (dropout: the env's own torch stream is copied too). The
    default shallow copy shared the model, the optimizer and the monitor: a step of the copy
    trained the original's model and advanced its episode."""
    X, y = blobs(n=160)

    def make():
        def net():
            return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Dropout(0.3), torch.nn.Linear(16, 3))

        train = {"tensors": (X, y), "list": [(X[i:i + 16], y[i:i + 16]) for i in range(0, 160, 16)],
                 "module": (X, y)}[data]
        return TorchTrainingEnv(net() if data == "module" else net, train,
                                torch.nn.CrossEntropyLoss(reduction="none"), batch_size=16, horizon=8, inner_steps=3)

    actions = (2, 3, 1, 2, 4, 0, 2)
    reference = _trace(make(), 5, actions)
    env = make()
    obs, info = env.reset(seed=5)
    trace = [obs, info["train_loss"]]
    for action in actions[:3]:
        obs, reward, *_ = env.step(action)
        trace += [obs, reward]
    original = _params(env)
    twin = copy.copy(env)
    assert twin.model is not env.model and twin.optimizer is not env.optimizer and twin.monitor is not env.monitor
    assert twin.train_data is env.train_data and twin.loss_fn is env.loss_fn  # what never changes, shared
    twin_trace = list(trace)
    for action in actions[3:]:
        obs, reward, *_ = twin.step(action)
        twin_trace += [obs, reward]
    assert all(torch.equal(a, b) for a, b in zip(original, _params(env))) and env.monitor.t == 3
    for action in actions[3:]:
        obs, reward, *_ = env.step(action)
        trace += [obs, reward]
    for got in (trace, twin_trace):
        assert len(got) == len(reference)
        for x, y_ in zip(reference, got):
            np.testing.assert_array_equal(x, y_)


def test_a_copy_that_would_share_a_stream_of_batches_is_refused_by_name():
    """Batches read on from an iterator cannot be copied: an endless generator would feed the copy
    and the original from one stream, and torch does not copy a DataLoader's pass under way. Each
    is a TypeError naming what works (the shallow copy shared them and the model in silence); a
    loader's env copies before the episode's first step, which starts a new pass."""
    X, y = blobs(n=160)

    def endless():
        while True:
            yield X[:16], y[:16]

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16, shuffle=True)
    for train, match in ((endless(), r"train_data is an iterator \(generator\).*one stream of batches"),
                         (loader, r"middle of a pass over its train_data \(DataLoader\).*valid: copy before")):
        env = TorchTrainingEnv(lambda: torch.nn.Linear(6, 3), train, torch.nn.CrossEntropyLoss(reduction="none"),
                               eval_data=(X, y), horizon=4, inner_steps=2)
        env.reset(seed=0)
        if train is loader:
            twin = copy.copy(env)  # no pass under way yet
            assert twin.step(1)[0].shape == env.step(1)[0].shape and twin.model is not env.model
        else:
            env.step(1)
        with pytest.raises(TypeError, match=match):
            copy.copy(env)


@pytest.mark.parametrize("returned, shown", [
    (lambda out, y: None, "None"),  # a loss_fn that forgot its return
    (lambda out, y: float(torch.nn.functional.cross_entropy(out, y)), "(a float), not a tensor"),  # .item()
    (lambda out, y: "0.5", "(a str), not a tensor"),
    (lambda out, y: (out.argmax(1) != y).long(), "torch.int64 tensor"),  # a count, no gradient
    (lambda out, y: out[:0, 0], "empty tensor"),
])
def test_a_loss_fn_returning_no_float_tensor_is_refused_naming_it(returned, shown):
    """What loss_fn returns is reduced in torch at reset and trained on (``.mean().backward()``) at
    each update: a value that is not a floating-point tensor was Python's or torch's bare error
    ("'NoneType' object has no attribute 'reshape'", "'float' object has no attribute 'reshape'",
    "mean(): could not infer output dtype"), naming neither loss_fn nor what it must return. Both
    places refuse it, naming loss_fn and what is valid."""
    env = make_env(loss_fn=returned)
    pattern = r"loss_fn\(outputs, targets\) returned .*" + re.escape(shown) + r".*valid: a floating-point tensor"
    with pytest.raises(ValueError, match=pattern):
        env.reset(seed=0)
    good = torch.nn.CrossEntropyLoss(reduction="none")
    calls = []

    def fails_in_training(out, y):  # right in evaluation (no_grad), wrong in the update
        calls.append(torch.is_grad_enabled())
        return returned(out, y) if torch.is_grad_enabled() else good(out, y)

    env = make_env(loss_fn=fails_in_training)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"loss_fn\(outputs, targets\) returned"):
        env.step(2)
    assert True in calls


@pytest.mark.parametrize("metric", [lambda out, y: None, lambda out, y: "high", lambda out, y: out.argmax(1).float()])
def test_a_metric_fn_returning_no_number_is_refused_naming_it(metric):
    """metric_fn's value per validation batch was float()-ed: None or a string raised Python's bare
    "float() argument must be a string or a real number", a per-example tensor torch's "only one
    element tensors can be converted to Python scalars". Refused naming metric_fn, as
    PolicyScheduler names val_fn()'s metric."""
    env = make_env(metric_fn=metric)
    with pytest.raises(ValueError, match=r"metric_fn\(outputs, targets\)"):
        env.reset(seed=0)


def test_a_metric_fn_returning_a_number_or_a_one_element_tensor_gives_that_number():
    """The accepted forms read as float() read them: a Python float, a 0-dim or one-element float32
    tensor (its float32 value, exactly)."""
    values = {}
    for form in ("float", "tensor0", "tensor1"):
        def metric(out, y, form=form):
            acc = (out.argmax(1) == y).float().mean()
            return {"float": float(acc), "tensor0": acc, "tensor1": acc.reshape(1)}[form]
        env = make_env(metric_fn=metric)
        env.reset(seed=0)
        values[form] = [float(env.step(2)[4]["val_metric"]) for _ in range(2)]
    assert values["float"] == values["tensor0"] == values["tensor1"]


def test_a_step_before_the_first_reset_says_so_as_lrcontrolenv_does():
    """A step before any reset said "step() called on a finished episode", an episode that never
    began; LRControlEnv says "before the first reset()". Both envs now say the same in both cases."""
    words = {}
    for name, env in (("lrgym", LRControlEnv()), ("torch", make_env())):
        with pytest.raises(RuntimeError) as before:
            env.step(2)
        env.reset(seed=0)
        while not any(env.step(2)[2:4]):
            pass
        with pytest.raises(RuntimeError) as after:
            env.step(2)
        words[name] = (str(before.value), str(after.value))
    assert words["torch"] == words["lrgym"]
    assert "before the first reset()" in words["torch"][0] and "finished episode" in words["torch"][1]


def test_a_step_after_a_reset_that_raised_steps_no_half_rebuilt_episode():
    """A reset that raises part way (here its loss_fn, refused at the first measurement) rebuilt
    the model and left the old episode's flag "not done", so step() went on with the old
    optimizer over a new model; now it says the reset raised, and a good reset starts afresh."""
    bad = {"on": False}
    cross_entropy = torch.nn.CrossEntropyLoss(reduction="none")

    def loss_fn(out, y):
        return None if bad["on"] else cross_entropy(out, y)

    env = make_env(loss_fn=loss_fn)
    env.reset(seed=0)
    env.step(2)
    bad["on"] = True
    with pytest.raises(ValueError, match="loss_fn"):
        env.reset(seed=1)
    with pytest.raises(RuntimeError, match=r"step\(\) called after a reset\(\) that raised; call reset\(\) again"):
        env.step(2)
    bad["on"] = False
    fresh = make_env(loss_fn=loss_fn)
    assert np.array_equal(env.reset(seed=1)[0], fresh.reset(seed=1)[0])
    assert np.array_equal(env.step(2)[0], fresh.step(2)[0])


def test_the_gradient_vectors_are_reused_and_the_episode_is_the_one_of_fresh_vectors(monkeypatch):
    """Each update's flat gradient fills the vector the monitor held as the previous gradient, and
    the monitor keeps it (record_update(keep_grad=True)), as PolicyScheduler does: flat_grad allocated
    a float64 vector of the model's size at every update and the monitor copied it into prev_grad.
    Reference: the same episodes with a new vector at every update (flat_grad without out), to the
    bit. Over an episode of 18 updates, flat_grad hands out two vectors (one allocation per episode
    after the first), where it handed out 18. The swap is lrgym.torch._tensors.record_flat_grad's,
    the scheduler's too (until 2026-12-06 each had its own copy, the env its own flat_grad name)."""
    import lrgym.torch._tensors as tensors_module

    real = tensors_module.flat_grad
    handed = []

    def reused(params, out=None):
        handed.append(real(params, out=out))
        return handed[-1]

    def fresh(params, out=None):
        return real(params)

    def episodes(flat_grad):
        monkeypatch.setattr(tensors_module, "flat_grad", flat_grad)
        env, trace = make_env(), []
        for seed in (0, 1):
            trace.append(env.reset(seed=seed)[0].tobytes())
            for action in (3, 1, 2, 4, 0, 2):
                obs, reward, terminated, truncated, info = env.step(action)
                trace.append((obs.tobytes(), np.float64(reward).tobytes(), terminated, truncated,
                              info["grad_norm"].tobytes(), info["lr"].tobytes()))
            if seed == 0:
                first_episode = len(handed)
        return trace, first_episode if flat_grad is reused else None

    reference, _ = episodes(fresh)
    got, first_episode = episodes(reused)
    assert got == reference
    assert first_episode == 18 and len(handed) == 36
    assert len({id(v) for v in handed[:first_episode]}) == 2  # (all kept alive: ids are not reused)
    assert len({id(v) for v in handed}) == 3  # the next episode reuses the vector left over, allocates one
