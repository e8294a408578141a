"""Three contracts of the PyTorch bridge that a plain float LR and a model without buffers hide.

* A tensor LR (``torch.optim`` takes ``lr=torch.tensor(...)``, e.g. for capturable or fused Adam,
  whose captured graphs read that very tensor) stays the user's tensor — the same object — in
  :class:`TorchTrainingEnv` and in :class:`PolicyScheduler`, also across the bold driver's undo,
  and holds the LR the policy chose (reference: the LR product written out, rounded to float32).
* The bold driver's undo puts the model back as it was at the restored point, buffers included
  (BatchNorm's running statistics and batch counter), and a ``GradScaler``'s scale and growth
  tracker (reference: ``state_dict()`` copies taken at that point, compared with ``torch.equal``).
* ``state_dict()`` / ``load_state_dict()`` into a fresh scheduler at any point of the loop, also
  between ``opt.step()`` and ``sched.step()``, continues the run to the bit (reference: the same
  loop without the round trip) — also a real resume, where the model and the optimizer are fresh
  objects too (their ``p.grad`` None) and all three states come from one weights-only checkpoint.
"""

from __future__ import annotations

import copy
import io
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrgym.baselines.registry import make_baseline  # noqa: E402
from lrgym.settings import DEFAULT_FACTORS  # noqa: E402
from lrgym.torch import PolicyScheduler, TorchTrainingEnv  # noqa: E402

torch.set_num_threads(1)


def _blobs(n=120, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    X = torch.randn(n, d, generator=g) + 2.0 * y[:, None]
    return X, y


# ---- tensor LR ------------------------------------------------------------------------------------

def test_the_env_keeps_a_tensor_lr_and_fills_it_with_the_policys_lr():
    X, y = _blobs()
    made = []

    def tensor_sgd(params, lr):
        made.append(torch.tensor(lr))
        return torch.optim.SGD(params, lr=made[-1], foreach=False)

    env = TorchTrainingEnv(model=lambda: torch.nn.Linear(4, 2), train_data=(X, y), batch_size=16,
                           loss_fn=torch.nn.CrossEntropyLoss(reduction="none"), optimizer=tensor_sgd,
                           horizon=4, inner_steps=2, lr_init=0.01)
    env.reset(seed=0)
    lr_tensor = made[-1]
    expected = 0.01
    for action in (3, 4, 0, 1):
        env.step(action)
        expected *= DEFAULT_FACTORS[action]  # the discrete contract written out (inside [lr_min, lr_max])
        group_lr = env.optimizer.param_groups[0]["lr"]
        assert group_lr is lr_tensor and lr_tensor.dtype == torch.float32
        assert float(lr_tensor) == float(np.float32(expected))
    assert len(made) == 1


def test_the_env_keeps_a_number_lr_a_python_float_so_its_checkpoint_loads_weights_only():
    X, y = _blobs()
    env = TorchTrainingEnv(model=lambda: torch.nn.Linear(4, 2), train_data=(X, y), batch_size=16,
                           loss_fn=torch.nn.CrossEntropyLoss(reduction="none"), horizon=3, inner_steps=2,
                           lr_init=0.01)
    env.reset(seed=0)
    env.step(np.int64(4))
    lr = env.optimizer.param_groups[0]["lr"]
    assert type(lr) is float and lr == 0.02
    buf = io.BytesIO()  # a NumPy scalar in param_groups made this weights-only load fail
    torch.save(env.optimizer.state_dict(), buf)
    buf.seek(0)
    assert torch.load(buf, weights_only=True)["param_groups"][0]["lr"] == 0.02


# ---- the bold driver's undo ------------------------------------------------------------------------

def _bn_model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def _eval_loss(model, X, y):
    """The objective on fixed rows in eval mode (BatchNorm's running statistics used, not moved)."""
    model.eval()
    loss = float(torch.nn.functional.cross_entropy(model(X), y))
    model.train()
    return loss


@pytest.mark.filterwarnings("ignore:policy .* was designed for")  # SGD with momentum on purpose
def test_an_undo_restores_the_models_buffers_the_grad_scaler_and_keeps_a_tensor_lr():
    """Reference: ``state_dict()`` copies of the model and the scaler taken where each step begins
    (the point an undo returns to); after every undone step the model (BatchNorm's running mean,
    variance and batch counter included) and the scaler (scale, growth tracker) equal them."""
    X, y = _blobs(n=160)
    model = _bn_model()
    lr_tensor = torch.tensor(0.01)
    opt = torch.optim.SGD(model.parameters(), lr=lr_tensor, momentum=0.9, foreach=False)
    # the scale doubles after every clean update, so each step moves it (and an overflow halves it)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**4, growth_interval=1)
    inner = 3
    sched = PolicyScheduler(opt, make_baseline("bold_driver", lr=3.0), horizon=12, updates_per_step=inner,
                            train_loss_fn=lambda: _eval_loss(model, X[:64], y[:64]), model=model, scaler=scaler)

    def restore_point():
        return copy.deepcopy(model.state_dict()), scaler.state_dict()

    reference, undone, k = restore_point(), 0, 0
    while not sched.done:
        rows = (16 * k + torch.arange(16)) % len(X)
        k += 1
        opt.zero_grad()
        losses = torch.nn.functional.cross_entropy(model(X[rows]), y[rows], reduction="none")
        scaler.scale(losses.mean()).backward()
        scaler.step(opt)
        scaler.update()
        t = sched.monitor.t
        sched.step(losses.detach())
        assert opt.param_groups[0]["lr"] is lr_tensor  # also after optimizer.load_state_dict in the undo
        assert float(lr_tensor) == float(np.float32(sched.lr))
        if sched.monitor.t == t:
            continue  # inside a step
        if sched.last_info["rejected"]:
            undone += 1
            saved_model, saved_scaler = reference
            now = model.state_dict()
            assert now.keys() == saved_model.keys()
            for key, value in saved_model.items():
                assert torch.equal(now[key], value), key
            assert scaler.state_dict() == saved_scaler
        reference = restore_point()
    assert undone >= 2  # the test exercises undos
    assert int(model[1].num_batches_tracked) < k  # undone updates are not counted by BatchNorm either


def test_model_and_scaler_of_the_wrong_kind_are_named():
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([w], lr=0.01)
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, got dict.*valid"):
        PolicyScheduler(opt, make_baseline("bold_driver"), horizon=2, model={"w": w})
    with pytest.raises(TypeError, match=r"scaler must be a torch.amp.GradScaler, got str.*valid"):
        PolicyScheduler(opt, make_baseline("bold_driver"), horizon=2, scaler="cpu")


# ---- state_dict round trip at any point of the loop ------------------------------------------------

POLICIES = {
    "bold_driver": lambda: make_baseline("bold_driver", lr=3.0),
    "hypergradient": lambda: make_baseline("hypergradient", beta=0.02),
    "plateau": lambda: make_baseline("plateau", patience=0, threshold=0.3),
}
HORIZON, INNER = 6, 3


def _loop(policy_name, cut=None, where=None, resume=False, momentum=0.0):
    """The LRs, observations and update counts after every update of one run; with ``cut``, the
    scheduler's state goes through ``torch.save`` / ``torch.load(weights_only=True)`` into a fresh
    scheduler (fresh policy, built as the first) at update ``cut``, ``where`` in the loop. With
    ``resume``, a real resume: the model, the optimizer and the scheduler are all built anew (the
    model from another seed, so nothing carries over; no ``p.grad``) and load the three states of
    one checkpoint, in the README's order."""
    X, y = _blobs(n=160, seed=1)
    model = _bn_model(seed=3)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=momentum)

    def make():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a policy's start-LR note
            return PolicyScheduler(opt, POLICIES[policy_name](), horizon=HORIZON, updates_per_step=INNER,
                                   train_loss_fn=lambda: _eval_loss(model, X[:64], y[:64]),
                                   model=model)

    def round_trip(sched):
        nonlocal model, opt
        buf = io.BytesIO()
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buf)
        buf.seek(0)
        ckpt = torch.load(buf, weights_only=True)
        if resume:
            model = _bn_model(seed=99)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=momentum)
            assert all(p.grad is None for p in model.parameters())
        fresh = make()
        if resume:
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["opt"])
        fresh.load_state_dict(ckpt["sched"])
        return fresh

    sched, trace = make(), []
    for k in range(HORIZON * INNER):
        if k == cut and where == "before opt.step":
            sched = round_trip(sched)
        rows = (16 * k + torch.arange(16)) % len(X)
        opt.zero_grad()
        losses = torch.nn.functional.cross_entropy(model(X[rows]), y[rows], reduction="none")
        losses.mean().backward()
        opt.step()
        if k == cut and where == "between opt.step and sched.step":
            sched = round_trip(sched)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an update taken but not counted would warn
            sched.step(losses.detach())
        if k == cut and where == "after sched.step":
            sched = round_trip(sched)
        trace.append((sched.get_last_lr(), sched.last_obs.tolist(), sched.last_epoch,
                      bool(sched.last_info["rejected"])))
    return trace


@pytest.mark.parametrize("where", ["before opt.step", "between opt.step and sched.step", "after sched.step"])
@pytest.mark.parametrize("policy_name", list(POLICIES))
def test_a_state_dict_round_trip_anywhere_in_the_loop_continues_the_run_exactly(policy_name, where):
    reference = _loop(policy_name)
    assert len({lr[0] for lr, *_ in reference}) > 1  # the LR moves
    if policy_name == "bold_driver":
        assert any(rejected for *_, rejected in reference)  # undos, restoring the snapshot's buffers
    for cut in (INNER - 1, INNER + 1, 2 * INNER):  # last update of a step, inside one, first of one
        assert _loop(policy_name, cut, where) == reference, cut


@pytest.mark.parametrize("where", ["before opt.step", "between opt.step and sched.step", "after sched.step"])
@pytest.mark.parametrize("policy_name", list(POLICIES))
def test_a_checkpoint_resumed_into_a_fresh_model_optimizer_and_scheduler_continues_the_run_exactly(
        policy_name, where):
    """The README's resume: build the model, optimizer and scheduler anew and load the three states
    of one weights-only checkpoint. Saved between ``opt.step()`` and ``sched.step(loss)``, the
    fresh model has no ``p.grad``: the pending update's gradient was read as zeros (a wrong cosine
    and norm for that update, and observations that differed from there on); it is now part of
    the scheduler's state. Reference: the same loop without the round trip, to the bit."""
    reference = _loop(policy_name, momentum=0.9)
    assert len({lr[0] for lr, *_ in reference}) > 1  # the LR moves
    for cut in (INNER - 1, INNER + 1, 2 * INNER):  # last update of a step, inside one, first of one
        assert _loop(policy_name, cut, where, resume=True, momentum=0.9) == reference, cut


def test_a_scheduler_state_without_the_pending_gradient_still_loads():
    """A state of an older lrgym has no ``pending_grad`` (nor ``horizon``, ``updates_per_step``,
    ``warned_no_grad``): it loads, and with the same model (its ``p.grad`` still there) continues
    as before. Reference: the uninterrupted run."""
    X, y = _blobs(n=160, seed=1)
    runs = []
    for cut in (None, 4):
        model = _bn_model(seed=3)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        sched = PolicyScheduler(opt, POLICIES["hypergradient"](), horizon=HORIZON, updates_per_step=INNER)
        trace = []
        for k in range(HORIZON * INNER):
            rows = (16 * k + torch.arange(16)) % len(X)
            opt.zero_grad()
            losses = torch.nn.functional.cross_entropy(model(X[rows]), y[rows], reduction="none")
            losses.mean().backward()
            opt.step()
            if k == cut:
                state = sched.state_dict()
                assert state["pending_grad"].dtype == torch.float64
                for key in ("pending_grad", "horizon", "updates_per_step", "warned_no_grad"):
                    state.pop(key, None)  # the keys newer than an older lrgym's state
                sched = PolicyScheduler(opt, POLICIES["hypergradient"](), horizon=HORIZON, updates_per_step=INNER)
                sched.load_state_dict(state)
            sched.step(losses.detach())
            trace.append((sched.get_last_lr(), sched.last_obs.tolist(), sched.last_epoch))
        runs.append(trace)
    assert runs[1] == runs[0]


def test_an_undo_puts_a_saved_number_lr_into_a_float64_tensor_lr_at_full_precision():
    """A float64 tensor LR that replaced a number LR during a step gets, on that step's undo, the
    number the undo returns to, exactly (reference: the Python float itself; through a float32
    tensor it would be 3.3299999237060547)."""
    X = torch.randn(64, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = X @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    model = torch.nn.Linear(3, 1, bias=False).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def loss():
        with torch.no_grad():
            return float(((model(X).squeeze(1) - y) ** 2).mean())

    # an LR far above 2/L: the one step makes the loss grow, so the bold driver undoes it
    sched = PolicyScheduler(opt, make_baseline("bold_driver", lr=3.33), horizon=1, updates_per_step=1,
                            train_loss_fn=loss)
    number_lr = opt.param_groups[0]["lr"]
    assert type(number_lr) is float and number_lr == 3.33
    lr64 = torch.tensor(number_lr, dtype=torch.float64)
    opt.param_groups[0]["lr"] = lr64  # the user's swap, in the middle of the step
    opt.zero_grad()
    batch_loss = ((model(X).squeeze(1) - y) ** 2).mean()
    batch_loss.backward()
    opt.step()
    sched.step(batch_loss.detach())
    assert sched.done and sched.last_info["rejected"]
    assert opt.param_groups[0]["lr"] is lr64
    assert lr64.item() == 3.33


def test_params_finite_answers_as_the_element_by_element_check():
    """params_finite checks a tensor element by element only when its sum is not finite (a NaN,
    an inf, or an overflow of finite values), and each tensor's sum only when the sum of the sums
    is not: the same answer as the plain check, on every case (sums that overflow together, mixed
    dtypes, complex and integer tensors)."""
    from lrgym.torch._tensors import params_finite

    cases = [torch.randn(50), torch.full((10,), 3e38), torch.tensor([1.0, float("nan")]),
             torch.tensor([float("inf"), -float("inf")]), torch.tensor([-float("inf")]),
             torch.full((4,), 6e4, dtype=torch.float16), torch.tensor([1e308, 1e308], dtype=torch.float64),
             torch.zeros(0), torch.tensor([float("nan")], dtype=torch.float64)]
    big = torch.tensor([3e38])  # its sum is finite, two of them summed are not (checked one by one)
    mixed = [torch.randn(3, dtype=torch.float16), torch.randn(4, dtype=torch.float64),
             torch.randn(2, dtype=torch.complex64), torch.arange(3)]
    complex_nan = torch.tensor([1 + 1j, complex(0, float("nan"))])
    groups = [[c] for c in cases] + [[cases[0], cases[2]], [cases[1], cases[5]], [], [big, big], [big, -big],
                                     mixed, mixed + [complex_nan], [complex_nan], mixed + [cases[3]]]
    for tensors in groups:
        assert params_finite(tensors) == all(bool(torch.isfinite(t).all()) for t in tensors), tensors


# ---- sched.step under torch.inference_mode --------------------------------------------------------

def _undoing_run(optimizer: str, inference: bool):
    """SGD with momentum or Adam under the bold driver at a start LR that makes it undo steps;
    ``sched.step(loss)`` inside ``torch.inference_mode()`` (a logging block) or not."""
    X, y = _blobs()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    opt = (torch.optim.SGD(model.parameters(), lr=3.0, momentum=0.9) if optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=0.3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the policy's optimizer is plain SGD
        sched = PolicyScheduler(opt, make_baseline("bold_driver", lr=opt.param_groups[0]["lr"]), horizon=12,
                                updates_per_step=3, model=model,
                                train_loss_fn=lambda: torch.nn.functional.cross_entropy(model(X), y))
    trace = []
    for k in range(36):
        rows = (5 * k + torch.arange(16)) % len(X)
        opt.zero_grad()
        losses = torch.nn.functional.cross_entropy(model(X[rows]), y[rows], reduction="none")
        losses.mean().backward()
        opt.step()
        if inference:
            with torch.inference_mode():
                sched.step(losses)
        else:
            sched.step(losses)
        trace.append((sched.get_last_lr(), bool(sched.last_info["rejected"]),
                      [p.detach().clone() for p in model.parameters()]))
    return trace


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_an_undo_under_inference_mode_leaves_no_inference_tensor_in_the_optimizer(optimizer):
    """The undo's snapshot was cloned under the caller's inference mode: after an undone step the
    optimizer's state (momentum, Adam's moments) held inference tensors, and the next
    ``opt.step()`` outside it raised "Inplace update to inference tensor outside InferenceMode",
    updates after the cause. The run is now the one without inference mode, to the bit."""
    reference = _undoing_run(optimizer, inference=False)
    assert any(rejected for _, rejected, _ in reference)  # steps are undone
    inside = _undoing_run(optimizer, inference=True)
    for (lr1, rej1, w1), (lr2, rej2, w2) in zip(reference, inside, strict=True):
        assert lr1 == lr2 and rej1 == rej2
        assert all(torch.equal(a, b) for a, b in zip(w1, w2))
