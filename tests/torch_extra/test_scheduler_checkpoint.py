"""PolicyScheduler as a PyTorch user checkpoints and feeds it.

* Checkpoints: ``torch.save`` of the model's, optimizer's and scheduler's ``state_dict()`` mid-step,
  ``torch.load`` with ``weights_only=True`` (PyTorch's default since 2.6), a fresh model, optimizer,
  policy and scheduler loaded from it must give the LRs, observations and weights of the run that
  was never interrupted, to the bit (the reference), for policies holding NumPy arrays, helper
  objects, a path, a random generator, nothing at all, or a ``state_dict()`` of their own.
* LRs are Python floats (NumPy scalars in ``param_groups`` break weights-only loading).
* Policies: the scheduler takes exactly what the leaderboard grades (``reset`` and ``act``).
* The optimizer's own LR: when it is not the start, a discrete policy says so.
"""

from __future__ import annotations

import collections
import copy
import enum
import fractions
import math
import pathlib
import random
import threading
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrgym.baselines.registry import make_baseline  # noqa: E402
from lrgym.torch import PolicyScheduler  # noqa: E402
from lrgym.torch.checkpoint import from_checkpoint, to_checkpoint  # noqa: E402
from checkpoint_files import weights_only_round_trip  # noqa: E402

torch.set_num_threads(1)

HORIZON, INNER = 8, 3
N_ROWS, BATCH = 96, 16


def regression_data():
    g = torch.Generator().manual_seed(5)
    X = torch.randn(N_ROWS, 8, generator=g, dtype=torch.float64)
    y = X @ torch.linspace(-1, 1, 8, dtype=torch.float64) + 0.1 * torch.randn(N_ROWS, generator=g, dtype=torch.float64)
    return X, y


X, Y = regression_data()


def build(policy, seed=0, lr=0.01):
    torch.manual_seed(seed)
    model = torch.nn.Linear(8, 1).double()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the start-LR warning, tested below
        sched = PolicyScheduler(opt, policy, horizon=HORIZON, updates_per_step=INNER,
                                train_loss_fn=lambda: float(((model(X).squeeze(1) - Y) ** 2).mean()))
    return model, opt, sched


def run(model, opt, sched, updates):
    """Train on the rows of each update index k (the data stream is a function of k alone)."""
    trace = []
    for k in updates:
        rows = (7 * k + torch.arange(BATCH)) % N_ROWS
        opt.zero_grad()
        losses = (model(X[rows]).squeeze(1) - Y[rows]) ** 2
        losses.mean().backward()
        opt.step()
        sched.step(losses)
        trace.append((sched.get_last_lr(), sched.last_obs.copy(), bool(sched.last_info["rejected"]),
                      [p.detach().clone() for p in model.parameters()]))
    return trace


class Keep:
    """Class attributes only: ``__getstate__()`` is None on Python ≥ 3.11."""

    name, optimizer, action_mode = "keep", "sgd", "discrete"

    def reset(self, info):
        pass

    def act(self, obs, info):
        return 3  # × 1.25


class Explorer:
    """A stochastic discrete policy: its numpy Generator, counters and arrays are its state."""

    name = "explorer"

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.counts = np.zeros(5, dtype=np.int64)
        self.py_rng = random.Random(seed)
        self.source = pathlib.Path("/nowhere/explorer.npz")

    def reset(self, info):
        self.counts[:] = 0
        self.last = np.float64(info["lr"])

    def act(self, obs, info):
        a = int(self.rng.integers(1, 4)) if self.py_rng.random() < 0.9 else 2
        self.counts[a] += 1
        return a



class TorchExplorer:
    """A PyTorch user's stochastic log_lr policy: it samples with a torch.Generator of its own
    (the checkpoint refused it as 'not data', where NumPy's and random's generators were stored)."""

    name, action_mode = "torch-explorer", "log_lr"

    def __init__(self, seed=0):
        self.generator = torch.Generator().manual_seed(seed)
        self.frames = collections.deque(maxlen=3)  # the usual frame stack (it was refused as not data too)

    def reset(self, info):
        self.frames.clear()

    def act(self, obs, info):
        self.frames.append(obs.copy())
        u = torch.rand((), generator=self.generator, dtype=torch.float64).item()
        return np.array([u - 0.6 + 0.01 * float(np.mean(self.frames))], np.float32)


class Phase(enum.Enum):
    WARM = "warm"
    DECAY = "decay"


class Bookkeeper:
    """A policy keeping its books in the standard library's types: a defaultdict(list), a Counter, an
    Enum member, a range, a Fraction and a NumPy dtype (each was refused as 'not data')."""

    name = "bookkeeper"

    def __init__(self):
        self.seen = collections.defaultdict(list)  # the actions of each phase
        self.counts = collections.Counter()
        self.phase = Phase.WARM
        self.warm_steps = range(3)
        self.share = fractions.Fraction(2, 3)
        self.dtype = np.dtype(np.float32)
        self.by_phase = collections.Counter()  # keyed by enum members (refused until 2026-12-06), empty when built
        self.books = collections.defaultdict(lambda: collections.defaultdict(int))  # refused until 2026-12-06

    def reset(self, info):
        self.seen.clear()
        self.counts.clear()
        self.phase = Phase.WARM

    def act(self, obs, info):
        if sum(self.counts.values()) >= len(self.warm_steps):
            self.phase = Phase.DECAY
        decays = self.by_phase[Phase.DECAY]
        self.by_phase[self.phase] += 1
        self.books[self.phase.value][decays % 2] += 1
        decays += self.books["decay"][1] % 2
        a = 3 if self.phase is Phase.WARM else 1 + int(decays * self.share) % 3
        self.counts[self.phase.value] += 1
        self.seen[self.phase.value].append(np.asarray(a, dtype=self.dtype))
        return a


class WithHook:
    """Keeps a lambda (not data), so only its own state_dict() can checkpoint it."""

    name, action_mode = "hooked", "log_lr"

    def __init__(self):
        self.schedule = lambda t: 10.0 ** (-1 - t / 4)
        self.t = 0
        self.loaded = False

    def reset(self, info):
        self.t = 0

    def act(self, obs, info):
        lr = self.schedule(self.t)
        self.t += 1
        return np.array([(math.log10(lr) + 6) / 7 * 2 - 1], dtype=np.float32)  # log10 LR in [-6, 1]

    def state_dict(self):
        return {"t": self.t, "history": np.arange(self.t, dtype=np.float64)}

    def load_state_dict(self, state):
        self.t = state["t"]
        assert isinstance(state["history"], np.ndarray) and state["history"].shape == (self.t,)
        self.loaded = True


class CountingNet(torch.nn.Module):
    """A submodule of user code: its step counter is state that its parameters are not."""

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(12, 1).double()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.head(x) + 0.01 * self.calls


class TorchPolicy(torch.nn.Module):
    """A policy written as a PyTorch user writes one: an ``nn.Module`` whose ``act`` reads its
    network and its own counters (a step count, a NumPy trace of past outputs). nn.Module's
    ``state_dict()`` holds its parameters only."""

    name, action_mode = "torch_policy", "log_lr"

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(4)
        self.net = CountingNet()
        with torch.no_grad():
            for p in self.net.parameters():  # the same policy every time it is built
                p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64) * 0.1)
        self.t = 0
        self.trace = np.zeros(4)
        self.device, self.dtype = torch.device("cpu"), torch.float64  # module code's usual attributes
        self.squash = torch.nn.functional.softsign  # code: built again with the policy

    def reset(self, info):
        self.t = 0

    def act(self, obs, info):
        with torch.no_grad():
            out = float(self.squash(self.net(torch.as_tensor(obs, dtype=self.dtype, device=self.device))))
        self.trace[self.t % 4] = out
        self.t += 1
        return np.array([math.tanh(out - 0.3 + 0.05 * (self.t % 3) + 0.1 * self.trace.mean())], dtype=np.float32)


class TorchPolicyWithOptimizer(TorchPolicy):
    """Trains itself online, as a learned policy with its own small net does: an Adam step (and a
    StepLR) on its net at every act, so its next LRs depend on Adam's moments and step count, state
    that only the optimizer's own state_dict() reads (refused by name until 2026-12-06)."""

    name = "torch_policy_adam"

    def __init__(self):
        super().__init__()
        self.opt = torch.optim.Adam(self.parameters(), lr=1e-2)
        self.decay = torch.optim.lr_scheduler.StepLR(self.opt, step_size=3, gamma=0.5)

    def act(self, obs, info):
        action = super().act(obs, info)
        x = torch.as_tensor(obs, dtype=torch.float64)
        self.opt.zero_grad()
        ((self.net.head(x) - 0.5) ** 2).sum().backward()  # the head alone: calls counts the acts
        self.opt.step()
        self.decay.step()
        return action


class SelfTrainingHelper:
    """Not a module: a plain policy holding a net, its optimizer and its LR scheduler."""

    name, action_mode = "self_training", "log_lr"

    def __init__(self):
        torch.manual_seed(3)
        self.net = torch.nn.Linear(12, 1).double()
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.05, momentum=0.9)
        self.decay = torch.optim.lr_scheduler.ExponentialLR(self.opt, gamma=0.9)

    def reset(self, info):
        pass

    def act(self, obs, info):
        x = torch.as_tensor(obs, dtype=torch.float64)
        out = self.net(x)
        self.opt.zero_grad()
        ((out - 0.2) ** 2).sum().backward()
        self.opt.step()
        self.decay.step()
        return np.array([math.tanh(0.1 * float(out)) - 0.4], dtype=np.float32)


class Scale:
    def __init__(self, scale):
        self.scale = scale


class Sharer:
    """Attributes sharing one dict, list, array and helper object (built so, and shared during the
    run): it writes through one name and reads through the other, so a load that gives back two
    objects changes its LRs (it did: each attribute was rebuilt on its own)."""

    name, action_mode = "sharer", "log_lr"

    def __init__(self):
        self.books = {"n": 0}
        self.view = self.books  # the same dict by another name
        self.trace = np.zeros(3)
        self.window = {"trace": self.trace}
        self.helper = Scale(0.5)
        self.helpers = [self.helper, self.helper]
        self.history, self.recent = [], None

    def reset(self, info):
        pass

    def act(self, obs, info):
        self.books["n"] += 1
        self.trace[self.view["n"] % 3] = float(obs[0])
        self.helpers[1].scale += 0.01
        self.history.append(self.view["n"])
        if self.recent is None:
            self.recent = self.history  # shared from the run's first act on
        u = 0.1 * self.window["trace"].mean() + self.helper.scale + 0.01 * len(self.recent)
        return np.array([math.tanh(u) - 0.9], dtype=np.float32)


class Steer:
    """A helper holding a back-reference to its owner and the owner's net."""

    def __init__(self, owner):
        self.owner = owner
        self.net = owner.net  # one nn.Module under two names
        self.gain = 0.5


class Steerer:
    """Its helper reads the policy's counter through its back-reference (``helper.owner = self``, a
    shape pickle and copy.deepcopy keep) and trains the policy's net through its own reference to
    it; its log holds itself. Refused as a cycle until 2026-12-06 (``policy.helper.owner``)."""

    name, action_mode = "steerer", "log_lr"

    def __init__(self, seed=0):
        torch.manual_seed(seed)
        self.t = 0
        self.net = torch.nn.Linear(12, 1).double()
        self.helper = Steer(self)
        self.log = [0]
        self.log.append(self.log)  # a list that contains itself

    def reset(self, info):
        pass

    def act(self, obs, info):
        self.t += 1
        self.helper.gain += 0.01 * self.helper.owner.t
        self.log[-1][0] += 1
        with torch.no_grad():
            self.helper.net.weight.add_(0.001 * self.log[0])
        out = float(self.net(torch.as_tensor(obs, dtype=torch.float64)))
        return np.array([math.tanh(0.1 * out + self.helper.gain) - 0.9], dtype=np.float32)


POLICIES = {
    "dqn": lambda: make_baseline("dqn"),  # SB3 agent: a pathlib path, a meta dict
    "qlearning": lambda: make_baseline("qlearning"),  # Q-table arrays, a Discretiser object
    "hypergradient": lambda: make_baseline("hypergradient", beta=0.02),
    "bold_driver": lambda: make_baseline("bold_driver", lr=0.3),  # undoes steps: the snapshot is state
    "keep": Keep,
    "explorer": Explorer,
    "torch_explorer": TorchExplorer,
    "bookkeeper": Bookkeeper,  # a defaultdict, a Counter, an Enum member, a range, a Fraction, a dtype
    "hook": WithHook,
    "torch_policy": TorchPolicy,  # an nn.Module: its own attributes are state beside its state_dict()
    "torch_policy_adam": TorchPolicyWithOptimizer,  # trains itself: its Adam and StepLR go by their state_dict()
    "self_training": SelfTrainingHelper,
    "sharer": Sharer,  # attributes sharing a dict, a list, an array and a helper: still shared
    "steerer": Steerer,  # a helper's back-reference to the policy, a net under two names, a list holding itself  # a plain object holding a net, SGD with momentum, an ExponentialLR
}


@pytest.mark.parametrize("name", list(POLICIES))
def test_weights_only_checkpoint_mid_step_continues_like_the_uninterrupted_run(name):
    total = HORIZON * INNER
    cut = 2 * INNER + 1  # in the middle of a step: the monitor's accumulators are state
    reference = run(*build(POLICIES[name]()), range(total))

    model, opt, sched = build(POLICIES[name]())
    run(model, opt, sched, range(cut))
    checkpoint = weights_only_round_trip({"model": model.state_dict(), "opt": opt.state_dict(),
                                          "sched": sched.state_dict()})

    model2, opt2, sched2 = build(POLICIES[name](), seed=1, lr=0.5)  # other weights, LR and policy state
    if name == "hypergradient":
        sched2.policy.beta = 123.0  # must come back from the checkpoint
    model2.load_state_dict(checkpoint["model"])
    opt2.load_state_dict(checkpoint["opt"])
    sched2.load_state_dict(checkpoint["sched"])
    assert sched2.last_epoch == cut
    resumed = run(model2, opt2, sched2, range(cut, total))

    assert len(resumed) == total - cut
    for (lr1, obs1, rej1, w1), (lr2, obs2, rej2, w2) in zip(reference[cut:], resumed):
        assert lr1 == lr2
        np.testing.assert_array_equal(obs1, obs2)
        assert rej1 == rej2
        assert all(torch.equal(a, b) for a, b in zip(w1, w2))
    assert len({lr[0] for lr, *_ in reference[cut:]}) > 1  # the LR moves after the cut
    if name == "bold_driver":
        assert any(rej for _, _, rej, _ in reference[cut:])  # steps undone after the cut
    if name == "hook":
        assert sched2.policy.loaded
    if name == "torch_policy":  # the counters went on from the saved ones (the LRs above depend on them)
        assert sched2.policy.t == HORIZON and sched2.policy.net.calls == HORIZON
    if name == "sharer":  # what the policy shared, saved or made during the run, is shared again
        p = sched2.policy
        assert p.view is p.books and p.window["trace"] is p.trace and p.helpers[0] is p.helpers[1] is p.helper
        assert p.recent is p.history and p.books["n"] == HORIZON
    if name == "steerer":  # the back-references point at the loaded policy, the net is one module
        p = sched2.policy
        assert p.helper.owner is p and p.helper.net is p.net and p.log[1] is p.log and p.t == HORIZON
    if name == "bookkeeper":  # its books went on from the saved ones, the enum member is the class's own
        assert sched2.policy.phase is Phase.DECAY and sum(sched2.policy.counts.values()) == HORIZON
        assert set(sched2.policy.by_phase) == {Phase.WARM, Phase.DECAY}
        assert sched2.policy.books["decay"][1] > 0 and sched2.policy.books["new"]["x"] == 0
        assert type(sched2.policy.seen) is collections.defaultdict and sched2.policy.seen.default_factory is list


@pytest.mark.parametrize("policy", [TorchPolicyWithOptimizer, SelfTrainingHelper])
def test_an_optimizer_inside_a_policy_is_stored_through_its_own_state_dict(policy):
    """Its state comes back as torch's own load_state_dict() restores it, into the live optimizer
    (the one that holds the policy's parameters) and LR scheduler; the run continuing to the bit
    is checked by the mid-step test above (both are in POLICIES)."""
    model, opt, sched = build(policy())
    run(model, opt, sched, range(2 * INNER))
    saved_opt, saved_decay = sched.policy.opt.state_dict(), sched.policy.decay.state_dict()
    state = weights_only_round_trip(sched.state_dict())
    model2, opt2, sched2 = build(policy(), seed=1)
    live_opt, live_decay = sched2.policy.opt, sched2.policy.decay
    reference = policy()  # torch's own restore of the same two states, the reference
    reference.opt.load_state_dict(saved_opt)
    reference.decay.load_state_dict(saved_decay)
    sched2.load_state_dict(state)
    assert sched2.policy.opt is live_opt and sched2.policy.decay is live_decay
    assert live_opt.param_groups[0]["params"] == list(sched2.policy.net.parameters())
    got, want = live_opt.state_dict(), reference.opt.state_dict()
    assert got["param_groups"] == want["param_groups"] and live_decay.state_dict() == reference.decay.state_dict()
    assert got["state"].keys() == want["state"].keys() and len(got["state"]) == 2
    for key in want["state"]:
        assert got["state"][key].keys() == want["state"][key].keys()
        assert all(torch.equal(got["state"][key][k], want["state"][key][k]) for k in want["state"][key])
    assert sched2.policy.decay.get_last_lr() == sched.policy.decay.get_last_lr() != [live_opt.defaults["lr"]]


def test_an_optimizer_loaded_into_another_kind_is_refused_naming_both():
    model, opt, sched = build(SelfTrainingHelper())
    run(model, opt, sched, range(INNER))
    state = weights_only_round_trip(sched.state_dict())
    other = SelfTrainingHelper()
    other.opt = torch.optim.Adam(other.net.parameters())
    model2, opt2, sched2 = build(other)
    with pytest.raises(ValueError, match=r"policy\.opt: the checkpoint holds a torch\.optim\.sgd\.SGD there, "
                                         r"this policy has a torch\.optim\.adam\.Adam"):
        sched2.load_state_dict(state)


class TorchPolicyWithLogger(TorchPolicy):
    """Logs what it does: a logger is found again by its name, construction as its functions are."""

    name = "torch_policy_logging"

    def __init__(self):
        import logging

        super().__init__()
        self.log = logging.getLogger("lrgym-test-policy")
        self.activation = torch.tanh


def test_an_nn_module_policy_with_a_logger_checkpoints_its_state():
    """A review (2026-12-06): a policy holding a logger could no longer be checkpointed at all
    (TypeError: not data); its other attributes are saved and come back, the logger is its own."""
    model, opt, sched = build(TorchPolicyWithLogger())
    run(model, opt, sched, range(4))
    state = weights_only_round_trip(sched.state_dict())
    model2, opt2, sched2 = build(TorchPolicyWithLogger(), seed=1)
    sched2.load_state_dict(state)
    assert sched2.policy.t == sched.policy.t > 0 and sched2.policy.log is sched.policy.log


def test_lrs_are_python_floats_and_the_optimizer_checkpoint_loads_weights_only():
    """The audit's reproducer: DQN, 4 updates; np.float64 in param_groups broke torch.load."""
    model = torch.nn.Linear(8, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.warns(UserWarning, match="lr_init"):
        sched = PolicyScheduler(opt, make_baseline("dqn"), horizon=10, updates_per_step=2)
    torch.manual_seed(0)
    x, y = torch.randn(16, 8), torch.randint(0, 2, (16,))
    for _ in range(4):
        opt.zero_grad()
        losses = torch.nn.functional.cross_entropy(model(x), y, reduction="none")
        losses.mean().backward()
        opt.step()
        sched.step(losses)
    assert all(type(g["lr"]) is float for g in opt.param_groups)
    assert all(type(lr) is float for lr in sched.get_last_lr())
    loaded = weights_only_round_trip(opt.state_dict())
    assert loaded["param_groups"][0]["lr"] == sched.get_last_lr()[0]
    weights_only_round_trip(sched.state_dict())


def test_a_tensor_lr_is_filled_in_place():
    w = torch.nn.Parameter(torch.ones(3))
    lr = torch.tensor(0.1)
    opt = torch.optim.SGD([w], lr=lr)
    sched = PolicyScheduler(opt, make_baseline("fixed", lr=0.3), horizon=2, updates_per_step=1)
    assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(0.3)
    assert sched.get_last_lr() == [pytest.approx(0.3)] and type(sched.get_last_lr()[0]) is float


def test_a_policy_without_instance_attributes_round_trips():
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([w], lr=0.01)
    sched = PolicyScheduler(opt, Keep(), horizon=3, updates_per_step=1)
    sched.load_state_dict(sched.state_dict())  # in memory
    sched.load_state_dict(weights_only_round_trip(sched.state_dict()))
    assert sched.get_last_lr() == [0.01 * 1.25]


def test_state_that_is_not_data_is_named():
    class Scheduled(Keep):
        def __init__(self):
            self.schedule = lambda t: 0.1
            self.memory = {"recent": [1.0, threading.Lock()]}

    w = torch.nn.Parameter(torch.ones(2))
    sched = PolicyScheduler(torch.optim.SGD([w], lr=0.01), Scheduled(), horizon=3, updates_per_step=1)
    with pytest.raises(TypeError, match=r"policy\.schedule: a builtins\.function.*state_dict\(\) and load_state_dict"):
        sched.state_dict()
    del sched.policy.schedule
    with pytest.raises(TypeError, match=r"policy\.memory\['recent'\]\[1\]: a _thread\.lock"):
        sched.state_dict()


class _Pair(collections.namedtuple("_Pair", "a b")):
    """A namedtuple, as a policy keeps its last transition."""


class _Books(dict):
    """A dict subclass with an attribute of its own."""


class _Tags(list):
    pass


class _Name(str):
    pass


class _OwnState(dict):
    """A dict subclass that says its items itself (its own __getstate__ and __setstate__)."""

    def __getstate__(self):
        return {"items": dict(self)}

    def __setstate__(self, state):
        self.clear()
        self.update(state["items"])


def test_a_subclass_of_a_builtin_container_or_scalar_is_refused_naming_it():
    """A namedtuple, a dict, list or str subclass was stored as an object, its attributes alone:
    loaded, a namedtuple was the live policy's (T(0, 0) for the saved T(1, 2)), a dict or list
    subclass empty, the resumed run other than the saved one in silence (copy.deepcopy, the
    reference, keeps each). Each is refused naming where and the plain builtin to use instead; a
    subclass that states its items itself (its own __setstate__) comes back as deepcopy's."""
    class Policy(Keep):
        def __init__(self):
            self.value = None

    w = torch.nn.Parameter(torch.ones(2))
    cases = [(_Pair(1, 2), "tuple"), (_Books(x=1), "dict"), (_Tags([3]), "list"), (_Name("a"), "str")]
    for value, base in cases:
        assert copy.deepcopy(value) == value  # what Python's own copy keeps
        policy = Policy()
        policy.value = {"kept": [value]}
        sched = PolicyScheduler(torch.optim.SGD([w], lr=0.01), policy, horizon=3, updates_per_step=1)
        with pytest.raises(TypeError, match=rf"policy\.value\['kept'\]\[0\]: a .*{type(value).__name__}, a subclass "
                                            rf"of {base} .*valid: a plain {base} in its place"):
            sched.state_dict()
    saved = _OwnState(x=1, y=[2])
    restored = from_checkpoint(weights_only_round_trip(to_checkpoint(saved)), _OwnState(x=0))
    assert type(restored) is _OwnState and restored == copy.deepcopy(saved)


def test_loading_into_a_different_kind_of_policy_is_refused():
    w = torch.nn.Parameter(torch.ones(2))
    state = PolicyScheduler(torch.optim.SGD([w], lr=0.01), make_baseline("qlearning"), horizon=3).state_dict()
    other = PolicyScheduler(torch.optim.SGD([w], lr=0.01), Keep(), horizon=3)
    with pytest.raises(ValueError, match=r"saved with policy 'qlearning' \(.*QLearningPolicy.*this scheduler drives "
                                         r"policy 'keep' \(.*Keep"):
        other.load_state_dict(state)
    del state["policy_identity"]  # an older lrgym's state: the class is still checked
    with pytest.raises(ValueError, match=r"QLearningPolicy.*this policy has a .*Keep"):
        other.load_state_dict(state)


@pytest.mark.parametrize("saved, built, differs", [
    # the audit's (2026-12-05): each pair is one class, so the class check let them through: dqn's
    # state made the ppo scheduler's policy a dqn acting in log_lr (a crash at its next step), fixed's
    # and cosine's turned the adam and sgdr policies into fixed and cosine, silently
    ("dqn", "ppo", r"'dqn' \(lrgym\.baselines\.sb3_agents\.SB3Policy; action_mode='discrete'\), this scheduler "
                   r"drives policy 'ppo' \(lrgym\.baselines\.sb3_agents\.SB3Policy; action_mode='log_lr'\)"),
    ("fixed", "adam", r"'fixed' \(.*Constant; lr_init=.*; optimizer=\{'name': 'sgd'\}\), this scheduler drives "
                      r"policy 'adam' \(.*Constant; lr_init=.*; optimizer=\{'name': 'adam'\}\)"),
    ("cosine", "sgdr", r"'cosine' \(lrgym\.baselines\.schedules\.Cosine\), this scheduler drives policy 'sgdr' "
                       r"\(lrgym\.baselines\.schedules\.Cosine\)"),
])
def test_a_state_of_another_policy_of_the_same_class_is_refused_naming_both(saved, built, differs):
    model, opt, sched = build(make_baseline(saved))
    run(model, opt, sched, range(4))
    state = weights_only_round_trip(sched.state_dict())
    _, opt2, other = build(make_baseline(built))
    lr_before = other.get_last_lr()
    with pytest.raises(ValueError, match=r"^the state was saved with policy " + differs
                       + rf"; valid: build the scheduler with the policy the state was saved with \('{saved}'"):
        other.load_state_dict(state)
    assert other.get_last_lr() == lr_before and other.last_epoch == 0 and other.policy.name == built  # nothing loaded
    _, _, same = build(make_baseline(saved))
    same.load_state_dict(state)  # the policy it was saved with: loads
    assert same.last_epoch == 4


class _Helper:
    """An object with the default repr, which holds its memory address."""


class _PolicyWithNanAndObjectSettings:
    """A policy whose env options hold a NaN and an object: both are in its identity."""

    name = "p"

    def __init__(self):
        self.env_options = {"loss_scale": math.nan, "helper": _Helper()}

    def reset(self, info):
        pass

    def act(self, obs, info):
        return 2

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def test_the_same_policy_with_a_nan_or_an_object_setting_loads_its_own_state():
    """NaN != NaN, so a policy with a NaN setting was refused its own state after torch.save /
    torch.load, with identical sides printed; and an object's default repr holds its address, so
    the policy built again (a restarted run) never matched. NaN equals NaN in the comparison, and a
    repr is kept without its address. Another NaN-free value still differs."""
    model, opt, sched = build(_PolicyWithNanAndObjectSettings())
    run(model, opt, sched, range(4))
    state = weights_only_round_trip(sched.state_dict())
    assert "0x" not in repr(state["policy_identity"])
    _, _, same = build(_PolicyWithNanAndObjectSettings())
    same.load_state_dict(state)
    assert same.last_epoch == 4
    other_policy = _PolicyWithNanAndObjectSettings()
    other_policy.env_options["loss_scale"] = 2.0
    _, _, other = build(other_policy)
    with pytest.raises(ValueError, match=r"saved with policy 'p' \(.*; loss_scale=nan\), this scheduler drives "
                                         r"policy 'p' \(.*; loss_scale=2.0\)"):
        other.load_state_dict(state)


@pytest.mark.parametrize("value", [
    np.arange(6, dtype=np.uint64).reshape(2, 3) * np.uint64(2**61), np.float32([1.5, np.nan, -np.inf]),
    np.array(3.0), np.arange(10.0)[::3], np.arange(4, dtype=">i4"), np.array([True, False]),
    np.float64(0.1), np.float32(1 / 3), np.int64(-7), np.bool_(True), np.uint64(2**64 - 1), np.str_("a"),
    (1, "two", None, b"3", 4.5 + 1j), {3, "x"}, frozenset({1}), pathlib.Path("/a/b.zip"),
    collections.deque([np.float32([1, 2]), 3], maxlen=4), collections.deque([1.5]),
    torch.device("cpu"), torch.float64, torch.Size([2, 3]),
    # refused as 'not data' until 2026-12-06 (OrderedDict was stored already)
    collections.defaultdict(list, a=[1, 2]), collections.defaultdict(int, {(1, "x"): 3}),
    collections.defaultdict(None, b=1.5), collections.defaultdict(collections.Counter, c=collections.Counter("aab")),
    collections.Counter({"up": 3, "down": -1}), collections.OrderedDict([("b", 1), ("a", np.float32(2))]),
    range(2, 11, 3), range(0), fractions.Fraction(-7, 3), np.dtype(">f4"), np.dtype("U3"), np.dtype("M8[s]"),
])
def test_checkpoint_values_come_back_with_their_type_and_bits(value):
    back = from_checkpoint(weights_only_round_trip(to_checkpoint(value)))
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype.newbyteorder("=") and back.shape == value.shape
        assert back.tobytes() == value.astype(back.dtype).tobytes()
    elif isinstance(value, np.generic):
        assert back.dtype == value.dtype and back.tobytes() == value.tobytes()
    elif isinstance(value, collections.deque):  # a frame stack keeps its bound and its frames
        assert back.maxlen == value.maxlen and len(back) == len(value)
        assert all(type(a) is type(b) and np.array_equal(a, b) for a, b in zip(back, value))
    else:
        assert back == value
    if isinstance(value, dict):  # keys in their order, values of their type (an OrderedDict's order is data)
        assert list(back) == list(value) and [type(v) for v in back.values()] == [type(v) for v in value.values()]
    if isinstance(value, collections.defaultdict):  # it still makes missing values
        assert back.default_factory is value.default_factory


def _identities(value, seen=None):
    """The shape of ``value``'s sharing: each container or object met, by the order of its first
    meeting (a value met again gets its first number): equal for two values that share alike."""
    seen = {} if seen is None else seen
    if isinstance(value, (list, dict, set, collections.deque, np.ndarray, torch.Tensor, Scale)):
        if id(value) in seen:
            return ("again", seen[id(value)])
        seen[id(value)] = len(seen)
    if isinstance(value, dict):
        return ("dict", [(k, _identities(v, seen)) for k, v in value.items()])
    if isinstance(value, (list, tuple, collections.deque)):
        return (type(value).__name__, [_identities(v, seen) for v in value])
    if isinstance(value, Scale):
        return ("scale", _identities(vars(value), seen))
    return ("leaf", type(value).__name__)


def test_shared_values_stay_shared_as_copy_deepcopy_keeps_them():
    """Python's own memo (copy.deepcopy, pickle) is the reference: whatever shares one list, dict,
    deque, Counter, set, array, tensor or helper object before the round trip shares it after, and
    nothing else does (equal values stay apart)."""
    shared_list, arr, tensor, helper = [1, 2], np.arange(3.0), torch.arange(2.0), Scale(1.5)
    counts, tags, frames = collections.Counter(a=2), {"x", "y"}, collections.deque([arr], maxlen=2)
    books = collections.defaultdict(list, k=shared_list)
    value = {"a": shared_list, "b": (shared_list, [1, 2]), "arrays": [arr, arr, np.arange(3.0)],
             "tensors": {"t": tensor, "again": tensor}, "helpers": [helper, {"h": helper}, Scale(1.5)],
             "counts": [counts, counts], "tags": [tags, tags], "frames": frames, "frames2": frames, "books": books,
             "nested": collections.OrderedDict(books=books), "scale": helper}
    back = from_checkpoint(weights_only_round_trip(to_checkpoint(value)), {"helpers": [Scale(0), {"h": Scale(0)},
                                                                                       Scale(0)], "scale": Scale(0)})
    reference = copy.deepcopy(value)
    assert _identities(back) == _identities(reference) == _identities(value)
    assert back["b"][0] is back["a"] and back["b"][1] is not back["a"] and back["books"]["k"] is back["a"]
    assert back["helpers"][1]["h"] is back["scale"] and back["scale"].scale == 1.5


def test_a_forged_reference_is_refused_naming_it():
    forged = {"a": {"__lrgym__": "ref", "index": 7}}
    with pytest.raises(ValueError, match=r"value\['a'\]: a reference to value 7, which the checkpoint did not hold"):
        from_checkpoint(forged)


def test_an_optimizers_marker_forged_onto_a_module_or_an_object_is_refused_before_anything_loads():
    """A stored optimizer or LR scheduler is loaded with the live one's ``load_state_dict``: a file
    forging that marker at a module's place loaded it unchecked (torch's RuntimeError about the
    shape after the tensor before it was loaded), at a helper's a bare AttributeError."""
    from lrgym.torch.checkpoint import class_name

    live = {"a": torch.zeros(2), "net": torch.nn.Linear(2, 3), "h": _Helper()}
    forged = {"a": torch.ones(2), "net": {"__lrgym__": "torch_state_dict", "class": class_name(torch.nn.Linear),
                                          "state": {"weight": torch.ones(5, 5), "bias": torch.ones(5)}}}
    with pytest.raises(ValueError, match=r"value\['net'\]: the checkpoint holds an optimizer's or LR scheduler's "
                                         r"state_dict\(\) there, this policy has a torch\.nn\.modules\.linear\.Linear"):
        from_checkpoint(forged, live)
    assert torch.equal(live["a"], torch.zeros(2))  # nothing loaded
    forged = {"h": {"__lrgym__": "torch_state_dict", "class": class_name(_Helper), "state": {}}}
    with pytest.raises(ValueError, match=r"value\['h'\]: .* this policy has a .*_Helper; valid: a torch\.optim"):
        from_checkpoint(forged, live)


class Mode(enum.IntEnum):
    SLOW = 1
    FAST = 2


class Access(enum.Flag):
    READ = 1
    WRITE = 2


def test_enum_members_come_back_as_the_live_classs_members():
    """An Enum member is stored by its class and name (a combined Flag by its value) and looked up in
    the class of the member the live policy holds there: no class is imported from a checkpoint."""
    stored = weights_only_round_trip(to_checkpoint({"mode": Mode.FAST, "phase": Phase.DECAY,
                                                    "access": Access.READ | Access.WRITE, "modes": [Mode.SLOW]}))
    live = {"mode": Mode.SLOW, "phase": Phase.WARM, "access": Access.READ, "modes": [Mode.FAST]}
    back = from_checkpoint(stored, live)
    assert back["mode"] is Mode.FAST and back["phase"] is Phase.DECAY and back["modes"][0] is Mode.SLOW
    assert back["access"] == Access.READ | Access.WRITE and type(back["access"]) is Access
    with pytest.raises(ValueError, match=r"value\['mode'\]: the checkpoint holds a member of the enum "
                                         r".*\.Mode there, this policy has nothing"):
        from_checkpoint(stored, {})
    with pytest.raises(ValueError, match=r"holds a member of the enum .*\.Mode there, this policy has a .*\.Phase"):
        from_checkpoint(stored, {**live, "mode": Phase.WARM})


def test_enum_members_as_keys_come_back_as_the_classs_members():
    """Keys (and set items) that are enum members, refused until 2026-12-06: the round trip equals
    copy.deepcopy's (the reference), members of the class itself, found in the live keys' class or,
    for a dict filled during the run (empty when built), in the class of its imported module."""
    value = {"counts": collections.Counter({Mode.FAST: 3, Mode.SLOW: 1}),
             "by_phase": {Phase.WARM: [1], Phase.DECAY: []},
             "pairs": {(Mode.FAST, 2): "x", (1, "plain"): "y"}, "flags": {Access.READ | Access.WRITE: 1},
             "seen": {Phase.WARM, Mode.SLOW}, "frozen": frozenset({Mode.FAST}),
             "books": collections.defaultdict(list, {Phase.DECAY: [0.5]}),
             "ordered": collections.OrderedDict([(Mode.SLOW, 1), (Mode.FAST, 2)])}
    stored = weights_only_round_trip(to_checkpoint(value))
    back = from_checkpoint(stored, {"flags": {Access.READ: 0}})
    assert back == copy.deepcopy(value) and list(back["ordered"]) == [Mode.SLOW, Mode.FAST]
    assert all(type(k) in (Mode, Phase) for k in (*back["counts"], *back["by_phase"], *back["seen"], *back["books"]))
    assert next(iter(back["counts"])) is Mode.FAST and type(back["books"]) is collections.defaultdict
    assert type(next(iter(back["flags"]))) is Access
    with pytest.raises(ValueError, match=r"value\['flags'\]: a key is a member of the enum .*\.Access, which is "
                                         r"neither .*a combined Flag: a live key of its class is needed"):
        from_checkpoint(stored)  # a combined Flag is found by value: only in a live key's class
    renamed = {"k": {("__lrgym__", "enum", __name__, "Mode", "name", "MEDIUM"): 1}}
    with pytest.raises(ValueError, match=r"value\['k'\]: the enum .*Mode has no member 'MEDIUM'; valid: SLOW, FAST"):
        from_checkpoint(renamed)
    unknown = {"k": {("__lrgym__", "enum", "os", "environ", "name", "PATH"): 1}}  # not an enum: never looked into
    with pytest.raises(ValueError, match=r"a key is a member of the enum os\.environ, which is neither"):
        from_checkpoint(unknown)
    with pytest.raises(TypeError, match=r"value: its key \('__lrgym__', 1\) starts with '__lrgym__'"):
        to_checkpoint({("__lrgym__", 1): 0})
    with pytest.raises(TypeError, match=r"value: a key of type Scale .*valid keys: numbers, str, bytes, None, enum"):
        to_checkpoint({Scale(1): 0})


class Learner:
    """A net, a generator and a counter: the three kinds a failed load could leave half loaded."""

    name, action_mode = "learner", "log_lr"

    def __init__(self, seed=0):
        torch.manual_seed(seed)
        self.t = 0
        self.trace = np.zeros(3)
        self.net = torch.nn.Linear(12, 1).double()
        self.rng = np.random.default_rng(seed)

    def reset(self, info):
        pass

    def act(self, obs, info):
        self.t += 1
        self.trace[self.t % 3] = self.rng.random()
        out = float(self.net(torch.as_tensor(obs, dtype=torch.float64)))
        return np.array([math.tanh(out + self.trace.mean()) - 0.5], dtype=np.float32)


def _everything(sched):
    """What a load changes, as plain comparable values (the scheduler's and its policy's)."""
    p = sched.policy
    return (sched.last_epoch, sched.lr, sched.last_obs.tobytes(), sched.monitor.stats.tobytes(), sched.monitor.t,
            p.t, p.trace.tobytes(), [t.tolist() for t in p.net.state_dict().values()], str(p.rng.bit_generator.state))


@pytest.mark.parametrize("forge", ["generator", "module_shape", "monitor", "monitor_counter", "submodule"])
def test_a_state_that_cannot_be_loaded_changes_nothing(forge):
    """All or nothing, as optimizer.load_state_dict: a state whose last part cannot be loaded
    raised after loading the parts before it (the net's weights, a shape mismatch's other tensors
    as torch copies them, the whole policy before a bad monitor), a resumed run half of each."""
    model, opt, sched = build(Learner())
    run(model, opt, sched, range(2 * INNER + 1))
    state = weights_only_round_trip(sched.state_dict())
    policy = state["policy"]["state"]
    if forge == "generator":  # the policy's last attribute: the net before it was loaded
        policy["rng"]["state"]["bit_generator"] = "NotAGenerator"
    elif forge == "module_shape":  # the weight: torch copies the bias before it raises
        policy["net"]["state"]["weight"] = torch.zeros(2, 12, dtype=torch.float64)
    elif forge == "monitor":  # loaded after the whole policy
        state["monitor"]["stats"] = "not numbers"
    elif forge == "monitor_counter":  # was set as it came (the next step's t += 1 then raised mid-update)
        state["monitor"]["t"] = "3"
    else:
        policy["net"]["attributes"] = {"missing": {"x": 1}}
    model2, opt2, sched2 = build(Learner(seed=1), seed=1)
    run(model2, opt2, sched2, range(2))
    before = _everything(sched2)
    with pytest.raises((ValueError, RuntimeError)) as raised:
        sched2.load_state_dict(state)
    assert _everything(sched2) == before, raised.value
    if forge in ("module_shape", "submodule"):  # named, as lrgym's other refusals (torch's own: a RuntimeError)
        assert isinstance(raised.value, ValueError) and str(raised.value).startswith("cannot restore policy.net")
    if forge == "monitor":  # named too (it was NumPy's bare 'could not convert string to float')
        assert str(raised.value).startswith("monitor state 'stats' is no float")
    if forge == "monitor_counter":
        assert str(raised.value).startswith("monitor state 't' is '3' (str); valid: an integer from 0 to")
    sched2.load_state_dict(weights_only_round_trip(sched.state_dict()))  # the good state still loads, whole
    assert _everything(sched2) == _everything(sched)


@pytest.mark.parametrize("kind", ["own_method", "older_module_state"])
def test_a_policys_own_load_state_dict_that_raises_halfway_leaves_the_policy_as_it_was(kind):
    """A policy's own load_state_dict() (or an nn.Module's, for an older lrgym's state of one) may
    change part of the policy before it raises: WithHook sets its counter, then checks the history;
    torch's strict load copies the bias before it raises about the weight's shape. The policy was
    left half loaded (the scheduler itself unchanged); the state it had is loaded back."""
    from lrgym.torch.checkpoint import TAG, class_name

    policy = WithHook() if kind == "own_method" else TorchPolicy()
    model, opt, sched = build(policy)
    run(model, opt, sched, range(2 * INNER + 1))
    state = weights_only_round_trip(sched.state_dict())
    if kind == "own_method":
        state["policy"]["state"]["t"] = 99  # set by load_state_dict before the history's length is checked
    else:  # what an older lrgym saved of an nn.Module policy: its state_dict() alone
        net_state = {k: v.clone() for k, v in sched.policy.state_dict().items()}
        net_state["net.head.weight"] = torch.zeros(2, 12, dtype=torch.float64)
        net_state["net.head.bias"] += 1.0  # (the policy is built the same every time: a bias to tell)
        state["policy"] = {TAG: "state_dict", "class": class_name(TorchPolicy), "state": net_state}
    fresh = WithHook() if kind == "own_method" else TorchPolicy()
    model2, opt2, sched2 = build(fresh, seed=1)
    run(model2, opt2, sched2, range(2))
    before = copy.deepcopy(fresh.state_dict())
    epoch = sched2.last_epoch
    with pytest.raises((AssertionError, RuntimeError)):
        sched2.load_state_dict(state)
    after = fresh.state_dict()
    assert after.keys() == before.keys()
    for key in before:  # every part as it was (tensors and arrays to the bit)
        a, b = np.asarray(after[key]), np.asarray(before[key])
        assert a.tobytes() == b.tobytes() and a.shape == b.shape, key
    assert sched2.last_epoch == epoch
    sched2.load_state_dict(weights_only_round_trip(sched.state_dict()))  # the good state still loads
    assert sched2.last_epoch == sched.last_epoch


class InterruptedHook(WithHook):
    """Its load_state_dict sets the counter, then is interrupted (a Ctrl-C halfway); with
    ``refuse_put_back`` the second call (the state it had, loaded back) raises as well."""

    def __init__(self, refuse_put_back=False):
        super().__init__()
        self.refuse_put_back, self.calls = refuse_put_back, 0

    def load_state_dict(self, state):
        self.calls += 1
        if self.calls > 1 and self.refuse_put_back:
            raise RuntimeError("the put-back is refused too")
        self.t = state["t"]
        if self.calls == 1:
            raise KeyboardInterrupt


@pytest.mark.parametrize("refuse_put_back", [False, True])
def test_a_policys_own_load_state_dict_interrupted_halfway_leaves_the_policy_as_it_was(refuse_put_back):
    """Until 2026-12-06 the put-back ran on an Exception only: a Ctrl-C after the policy's own
    load_state_dict set its counter left the counter the saved run's. And a put-back that raised
    replaced the first error. The first error is raised, a failed put-back a note on it."""
    model, opt, sched = build(InterruptedHook(refuse_put_back))
    run(model, opt, sched, range(2 * INNER + 1))
    state = weights_only_round_trip(sched.state_dict())
    fresh = InterruptedHook(refuse_put_back)
    model2, opt2, sched2 = build(fresh, seed=1)
    run(model2, opt2, sched2, range(2))
    t, epoch = fresh.t, sched2.last_epoch
    assert state["policy"]["state"]["t"] != t  # (the load would change it)
    with pytest.raises(KeyboardInterrupt) as raised:
        sched2.load_state_dict(state)
    assert fresh.calls == 2 and sched2.last_epoch == epoch
    if refuse_put_back:
        assert getattr(raised.value, "__notes__", []) == [
            "lrgym could not undo part of the load: RuntimeError: the put-back is refused too"]
    else:
        assert fresh.t == t and getattr(raised.value, "__notes__", None) is None


def test_a_monitor_state_that_cannot_be_loaded_changes_no_array_and_names_the_bad_one():
    model, opt, sched = build(Learner())
    run(model, opt, sched, range(INNER + 1))
    state = sched.monitor.state_dict()
    model2, opt2, sched2 = build(Learner())
    monitor = sched2.monitor
    before = {name: getattr(monitor, name).tobytes() for name in monitor._ARRAYS}  # NaN where nothing was seen
    with pytest.raises(ValueError, match=r"monitor state 'obs' is no float32 array .*valid: a monitor's state_dict"):
        monitor.load_state_dict({**state, "obs": ["x"]})  # after stats, which was set before it raised
    assert {name: getattr(monitor, name).tobytes() for name in monitor._ARRAYS} == before


@pytest.mark.parametrize("name, forged, said", [
    ("stats", np.zeros(2), r"'stats' has shape \(2,\); valid: \(N,\)"),
    ("memory", np.zeros(0), r"'memory' has shape \(0,\); valid: \(N,\)"),
    ("obs", "OBS2D", r"'obs' has shape \(2, N\); valid: \(N,\)"),
    ("acc", np.zeros((1, 1)), r"'acc' has shape \(1, 1\); valid: \(N,\)"),
    ("prev_grad", np.zeros((2, 3)), r"'prev_grad' has shape \(2, 3\); valid: \(n,\), one dimension"),
])
def test_a_monitor_state_of_another_shape_is_refused_naming_the_array_and_its_shape(name, forged, said):
    """stats, memory, obs and acc keep their shapes for a whole run (the compiled steps index them
    without a bounds check) and prev_grad is one-dimensional: a forged shape was accepted, and a
    2-long stats then ran record_update and close_step. Refused, nothing changed; the valid
    shape is the fresh monitor's."""
    model, opt, sched = build(Learner())
    run(model, opt, sched, range(INNER + 1))
    state = sched.monitor.state_dict()
    monitor = build(Learner())[2].monitor
    n = getattr(monitor, name).shape[0] if name != "prev_grad" else 0
    forged = np.zeros((2, monitor.obs.shape[0]), np.float32) if isinstance(forged, str) else forged
    before = {k: getattr(monitor, k).tobytes() for k in monitor._ARRAYS}
    with pytest.raises(ValueError, match=f"monitor state {said.replace('N', str(n))}"):
        monitor.load_state_dict({**state, name: forged})
    assert {k: getattr(monitor, k).tobytes() for k in monitor._ARRAYS} == before
    monitor.load_state_dict({**state, "prev_grad": np.zeros(7)})  # any gradient's size


def test_the_shape_check_leaves_a_lazy_module_to_torch():
    """A fresh LazyLinear has no shape yet: torch's load_state_dict gives it the stored one."""
    net = torch.nn.Sequential(torch.nn.LazyLinear(3))
    net(torch.randn(2, 4))
    live = torch.nn.Sequential(torch.nn.LazyLinear(3))
    back = from_checkpoint(weights_only_round_trip(to_checkpoint({"net": net})), {"net": live})
    assert back["net"] is live and torch.equal(live[0].weight, net[0].weight) and live[0].weight.shape == (3, 4)


def zeros3():
    return np.zeros(3)


def test_a_defaultdict_of_a_factory_of_ones_own_comes_back_with_the_live_policys_factory():
    """A factory of one's own code (a lambda over no variable, a def, a class; refused until
    2026-12-06) is stored by its qualified name and comes back as the factory of the live
    defaultdict at the same place, as copy.deepcopy keeps it (the reference): never imported."""
    def build_books():
        return {"nested": collections.defaultdict(lambda: collections.defaultdict(int)),
                "arrays": collections.defaultdict(zeros3), "fractions": collections.defaultdict(fractions.Fraction)}
    books = build_books()
    books["nested"]["a"]["x"] += 2
    books["arrays"]["b"][1] = 5.0
    books["fractions"]["c"] += fractions.Fraction(1, 3)
    live = build_books()  # a policy built the same way: its factories, empty books
    back = from_checkpoint(weights_only_round_trip(to_checkpoint(books)), live)
    reference = copy.deepcopy(books)
    for key in books:
        assert back[key].default_factory is live[key].default_factory
        assert reference[key].default_factory is books[key].default_factory  # deepcopy keeps functions too
    assert back["nested"] == reference["nested"] and type(back["nested"]["a"]) is collections.defaultdict
    assert back["nested"]["new"]["y"] == 0 and back["nested"]["a"].default_factory is int  # still makes values
    np.testing.assert_array_equal(back["arrays"]["b"], reference["arrays"]["b"])
    np.testing.assert_array_equal(back["arrays"]["new"], zeros3())
    assert back["fractions"] == {"c": fractions.Fraction(1, 3)} and back["fractions"]["new"] == 0

    scale = 3
    with pytest.raises(TypeError, match=r"policy\.books: a defaultdict whose default_factory is <function .*lambda.*"
                                        r"holds state of its own \(a closure .*lambda: defaultdict\(int\)"):
        to_checkpoint(collections.defaultdict(lambda: scale), "policy.books")
    import functools
    with pytest.raises(TypeError, match=r"functools\.partial.*valid|a functools\.partial"):
        to_checkpoint(collections.defaultdict(functools.partial(int, 5)), "policy.books")
    stored = weights_only_round_trip(to_checkpoint(books))
    with pytest.raises(ValueError, match=r"value\['arrays'\]: the checkpoint holds a defaultdict whose default_factory "
                                         r"is '.*zeros3' there, this policy has nothing\. .*never imported"):
        from_checkpoint(stored, {**live, "arrays": None})
    with pytest.raises(ValueError, match=r"default_factory is '.*zeros3' there, this policy has a defaultdict whose "
                                         r"default_factory is <function .*lambda"):
        from_checkpoint(stored, {**live, "arrays": collections.defaultdict(lambda: 0)})
    forged = {"d": {"__lrgym__": "defaultdict", "factory": "os.abort", "items": {}}}  # a hostile file's factory
    with pytest.raises(ValueError, match=r"default_factory is 'os\.abort' there, this policy has a defaultdict whose "
                                         r"default_factory is <class 'list'>"):
        from_checkpoint(forged, {"d": collections.defaultdict(list)})


def test_a_structured_dtype_is_refused_by_name():
    with pytest.raises(TypeError, match=r"policy\.dtype: the NumPy dtype .*structured"):
        to_checkpoint(np.dtype([("a", "f4"), ("b", "i8")]), "policy.dtype")


@pytest.mark.parametrize("dtype, value", [("V1", 2**20), ("|V8", 0), ("O", [1, 2]), ("<M8[s]", 0), ("<f16", 1.0),
                                          (["f8"], 1.0)])
def test_a_forged_numpy_scalar_dtype_is_refused_naming_it(dtype, value):
    """A NumPy scalar is restored by its stored dtype's type: a forged ``V1`` made ``np.void`` of as
    many zero bytes as the stored value says (2**31 - 1: 2 GiB, one marker at a time), ``O`` any
    value; only the dtypes to_checkpoint stores are taken."""
    forged = {"x": {"__lrgym__": "numpy", "dtype": dtype, "value": value}}
    with pytest.raises(ValueError, match=r"value\['x'\]: a NumPy scalar of dtype .*; valid: a bool, integer, float"):
        from_checkpoint(forged)
    for scalar in (np.float32(1.5), np.int8(-3), np.uint64(2**63), np.complex64(1j), np.bool_(True), np.str_("é"),
                   np.bytes_(b"ab")):  # what is stored still comes back, type and value
        back = from_checkpoint(weights_only_round_trip(to_checkpoint(scalar)))
        assert type(back) is type(scalar) and back == scalar


def test_generators_and_modules_continue_in_place():
    rng, legacy, py = np.random.default_rng(1), np.random.RandomState(2), random.Random(3)
    net, torch_rng = torch.nn.Linear(2, 2), torch.Generator().manual_seed(4)
    torch.rand(5, generator=torch_rng)  # not at its seed's start
    state = weights_only_round_trip(to_checkpoint({"rng": rng, "legacy": legacy, "py": py, "net": net,
                                                   "torch": torch_rng}))
    expected = (rng.random(3), legacy.rand(3), [py.random() for _ in range(3)], torch.rand(3, generator=torch_rng))
    live = {"rng": np.random.default_rng(9), "legacy": np.random.RandomState(9), "py": random.Random(9),
            "net": torch.nn.Linear(2, 2), "torch": torch.Generator().manual_seed(9)}
    back = from_checkpoint(state, live)
    assert back["net"] is live["net"] and torch.equal(back["net"].weight, net.weight)
    assert back["rng"] is live["rng"] and back["torch"] is live["torch"]
    assert torch.equal(back["torch"].get_state(), torch.Generator().set_state(state["torch"]["state"]).get_state())
    assert torch.equal(back["torch"].get_state(), live["torch"].get_state())
    assert torch.equal(torch.rand(3, generator=back["torch"]), expected[3])
    assert type(from_checkpoint(state["torch"])) is torch.Generator  # without a live one: a new generator
    np.testing.assert_array_equal(back["rng"].random(3), expected[0])
    np.testing.assert_array_equal(back["legacy"].rand(3), expected[1])
    assert [back["py"].random() for _ in range(3)] == expected[2]


def _frozen_encoder_net():
    """A training net around a submodule kept in eval mode (a frozen BatchNorm) holding one in
    train mode, and an eval net with one submodule training: every mode differs from its parent's."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Sequential(torch.nn.BatchNorm1d(4),
                                                                         torch.nn.Dropout(0.5)))
    net[1].eval()
    net[1][1].train()
    head = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Dropout(0.1)).eval()
    head[1].train()
    return {"net": net, "head": head}


def test_every_submodules_training_mode_comes_back():
    """module.train(mode) sets every submodule alike, and the record held the module's own mode
    alone: a BatchNorm kept in eval mode inside a training policy came back training, its running
    statistics updated again by the resumed run's forward passes. The reference: the saved
    modules' modes, module by module, and a forward pass's effect on the running statistics."""
    saved = _frozen_encoder_net()
    state = weights_only_round_trip(to_checkpoint(saved))
    live = {"net": torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Sequential(torch.nn.BatchNorm1d(4),
                                                                                 torch.nn.Dropout(0.5))),
            "head": torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Dropout(0.1))}  # all training
    from_checkpoint(state, live)
    for key in saved:
        assert [(n, m.training) for n, m in live[key].named_modules()] == \
            [(n, m.training) for n, m in saved[key].named_modules()]
    x = torch.randn(8, 4)
    saved["net"](x), live["net"](x)
    assert torch.equal(live["net"][1][0].running_mean, saved["net"][1][0].running_mean)  # not updated: eval


def test_a_training_mode_of_a_submodule_the_policy_has_not_is_refused_before_anything_loads():
    state = weights_only_round_trip(to_checkpoint(_frozen_encoder_net()))
    state["net"]["other_modes"] = {"1": False, "7": True}
    live = {"net": torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Sequential(torch.nn.BatchNorm1d(4),
                                                                                 torch.nn.Dropout(0.5))),
            "head": torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Dropout(0.1))}
    before = [t.clone() for t in live["net"].state_dict().values()]
    with pytest.raises(ValueError, match=r"cannot restore value\['net'\]: the checkpoint holds the training mode "
                                         r"of a submodule '7', which this policy's torch.nn.modules.container."
                                         r"Sequential has not"):
        from_checkpoint(state, live)
    assert all(torch.equal(a, b) for a, b in zip(before, live["net"].state_dict().values()))
    assert all(m.training for m in live["net"].modules())


# ---- which policies are accepted --------------------------------------------------------------


class Minimal:  # what the README's submission section asks for: optimizer / action_mode default
    name = "minimal"

    def reset(self, info):
        pass

    def act(self, obs, info):
        return 3


class Nameless:
    def reset(self, info):
        pass

    def act(self, obs, info):
        return 2


class OnlyAct:
    def act(self, obs, info):
        return 2


class ActNotCallable:
    act = 3

    def reset(self, info):
        pass


def test_the_scheduler_takes_a_policy_with_reset_and_act_only():
    w = torch.nn.Parameter(torch.ones(2))
    sched = PolicyScheduler(torch.optim.SGD([w], lr=0.01), Minimal(), horizon=3, updates_per_step=1)
    assert sched.action_mode == "discrete" and sched.policy_optimizer == "sgd"
    assert sched.get_last_lr() == [0.01 * 1.25]  # the env's default start × factors[3]
    PolicyScheduler(torch.optim.SGD([w], lr=0.01), Nameless(), horizon=3)
    with pytest.raises(TypeError, match=r"'OnlyAct' \(OnlyAct\) has no reset\(\) method; valid: .*reset\(info\)"):
        PolicyScheduler(torch.optim.SGD([w], lr=0.01), OnlyAct(), horizon=3)
    with pytest.raises(TypeError, match=r"has no act\(\) method"):
        PolicyScheduler(torch.optim.SGD([w], lr=0.01), ActNotCallable(), horizon=3)
    with pytest.raises(TypeError, match=r"Minimal is a class; valid: an instance of it, e.g. Minimal\(\)"):
        PolicyScheduler(torch.optim.SGD([w], lr=0.01), Minimal, horizon=3)


def test_the_scheduler_accepts_what_the_leaderboard_accepts():
    policy_loading = pytest.importorskip("lrgym.leaderboard.policy_loading")
    from lrgym.leaderboard.failures import PolicyError

    w = torch.nn.Parameter(torch.ones(2))
    for candidate in (Minimal(), Nameless(), OnlyAct(), ActNotCallable(), object(), Keep(), make_baseline("cosine")):
        try:
            policy_loading.declared_choices(candidate)
            graded = True
        except PolicyError:
            graded = False
        try:
            PolicyScheduler(torch.optim.SGD([w], lr=0.01), candidate, horizon=3)
            driven = True
        except TypeError:
            driven = False
        assert driven == graded, type(candidate).__name__


# ---- the optimizer's LR and step() ------------------------------------------------------------


def test_a_discrete_policy_that_would_ignore_the_optimizers_lr_says_so():
    w = torch.nn.Parameter(torch.ones(2))
    with pytest.warns(UserWarning, match=r"'minimal'.*starts from lr_init=0\.01.*optimizer's lr=0\.1.*lr_init=0\.1"):
        sched = PolicyScheduler(torch.optim.SGD([w], lr=0.1), Minimal(), horizon=3)
    assert sched.get_last_lr() == [0.01 * 1.25]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = PolicyScheduler(torch.optim.SGD([w], lr=0.1), Minimal(), horizon=3, lr_init=0.1)  # yours
        assert sched.get_last_lr() == [0.1 * 1.25]
        PolicyScheduler(torch.optim.SGD([w], lr=0.01), Minimal(), horizon=3)  # the same start
        PolicyScheduler(torch.optim.SGD([w], lr=0.1), make_baseline("cosine"), horizon=3)  # sets the LR itself
        PolicyScheduler(torch.optim.SGD([w], lr=0.1), make_baseline("fixed", lr=0.3), horizon=3)  # its own lr_init


def test_step_without_a_loss_says_what_to_pass():
    w = torch.nn.Parameter(torch.ones(2))
    sched = PolicyScheduler(torch.optim.SGD([w], lr=0.01), Minimal(), horizon=3)
    expected = r"per-example losses .*reduction='none'.*or their mean.*after every optimizer\.step\(\)"
    with pytest.raises(TypeError, match=expected):
        sched.step()


@pytest.mark.parametrize("older", [False, True], ids=["state", "older lrgym's state"])
def test_a_state_of_another_horizon_or_updates_per_step_is_refused_naming_both(older):
    """A state saved by a scheduler with horizon=8, updates_per_step=3 loaded silently into one
    built with other values: progress t/T, the info's horizon and the step boundaries then mixed
    the two runs. A ValueError names the saved and this scheduler's values (an older lrgym's
    state, without the two keys, is checked against its info's ``horizon`` / ``inner_steps``)."""
    model, opt, sched = build(make_baseline("cosine"))
    run(model, opt, sched, range(4))
    state = sched.state_dict()
    if older:
        del state["horizon"], state["updates_per_step"]
    for kwargs, named in (({"horizon": 100}, r"horizon=8, this scheduler has horizon=100"),
                          ({"updates_per_step": 5}, r"updates_per_step=3, this scheduler has updates_per_step=5")):
        other = PolicyScheduler(opt, make_baseline("cosine"), **{"horizon": HORIZON, "updates_per_step": INNER,
                                                                  **kwargs})
        lr_before = other.get_last_lr()
        with pytest.raises(ValueError, match=r"saved by a PolicyScheduler with " + named + r".*valid:"):
            other.load_state_dict(state)
        assert other.get_last_lr() == lr_before and other.last_epoch == 0  # nothing loaded
    same = PolicyScheduler(opt, make_baseline("cosine"), horizon=HORIZON, updates_per_step=INNER)
    same.load_state_dict(state)
    assert same.last_epoch == 4


@pytest.mark.parametrize("older", [False, True], ids=["state", "older lrgym's state"])
def test_a_state_of_other_episode_settings_is_refused_naming_both(older):
    """The scheduler's own lr_min / lr_max / cap_factor / loss_scale / reward are the episode's:
    a state saved with lr_max=1 loaded silently into a scheduler built with the default 10, and the
    resumed cosine schedule (log_lr) ran at LRs about five times the saved run's from the next
    step, its info still saying lr_max 1. A ValueError names both (an older lrgym's state, without
    the settings, is checked against its info's LR range), and nothing is loaded; built alike, the
    resumed run is the uninterrupted one."""
    settings = {"lr_min": 1e-5, "lr_max": 1.0, "cap_factor": 50.0, "loss_scale": 2.0, "reward": "final"}
    total, cut = HORIZON * INNER, 2 * INNER + 1

    def built():
        model, opt, _ = build(make_baseline("cosine"))
        return model, opt, PolicyScheduler(opt, make_baseline("cosine"), horizon=HORIZON, updates_per_step=INNER,
                                           **settings)

    reference = run(*built(), range(total))
    model, opt, sched = built()
    run(model, opt, sched, range(cut))
    checkpoint = weights_only_round_trip({"model": model.state_dict(), "opt": opt.state_dict(),
                                          "sched": sched.state_dict()})
    state = checkpoint["sched"]
    if older:
        state.pop("settings", None)  # (absent before this check existed)
    for name in ["lr_min", "lr_max"] if older else list(settings):
        default = math.nan if name == "loss_scale" else None  # the argument's default
        other = PolicyScheduler(opt, make_baseline("cosine"), horizon=HORIZON, updates_per_step=INNER,
                                **{**settings, name: default})
        lr_before = other.get_last_lr()
        with pytest.raises(ValueError, match=rf"saved by a PolicyScheduler with {name}=.*, this scheduler has "
                                             rf"{name}=.*valid: build the scheduler as the saved one was"):
            other.load_state_dict(state)
        assert other.get_last_lr() == lr_before and other.last_epoch == 0  # nothing loaded
    model, opt, same = built()
    model.load_state_dict(checkpoint["model"])
    opt.load_state_dict(checkpoint["opt"])
    same.load_state_dict(state)
    resumed = run(model, opt, same, range(cut, total))
    assert [lr for lr, *_ in resumed] == [lr for lr, *_ in reference[cut:]]


@pytest.mark.parametrize("name", ["dqn", "ppo"])
def test_an_sb3_policy_leaves_the_global_random_streams_where_they_were(name):
    """An audit (2026-12-05): SB3's ``load`` seeded Python's, NumPy's and torch's global
    generators with the model's saved seed, at the scheduler's first decision and again after a
    checkpoint's reload, so runs of different seeds drew the same dropout masks and batch orders.
    The draws after building (and after reloading) equal those of a run that never did."""
    def draws():
        return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)]

    for seed in (0, 1):
        torch.manual_seed(seed), np.random.seed(seed), random.seed(seed)
        expected = draws()
        torch.manual_seed(seed), np.random.seed(seed), random.seed(seed)
        opt = torch.optim.SGD(torch.nn.Linear(4, 2).parameters(), lr=0.01)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched = PolicyScheduler(opt, make_baseline(name), horizon=5, updates_per_step=2, lr_init=0.01)
        torch.manual_seed(seed), np.random.seed(seed), random.seed(seed)
        sched.policy._model = None  # as a checkpoint's reload leaves it: the model loads again at its next use
        sched.policy.model
        assert draws() == expected, seed


@pytest.mark.skipif(torch.cuda.is_available(), reason="the forged device must be one this machine lacks")
def test_a_cuda_generator_resumed_without_cuda_names_the_device_and_what_to_do():
    """A policy's torch.Generator saved on a GPU machine (its device stored as 'cuda:0', forged
    here), loaded on one without CUDA: torch's bare RuntimeError ('Cannot get CUDA generator without
    ATen_cuda library'), naming neither the policy's attribute nor what to do."""
    model, opt, sched = build(TorchExplorer(seed=1))
    run(model, opt, sched, range(2))
    state = weights_only_round_trip(sched.state_dict())
    stored = state["policy"]["state"]["generator"]
    assert stored["device"] == "cpu"
    stored["device"] = "cuda:0"
    _, _, fresh = build(TorchExplorer(seed=2))
    with pytest.raises(ValueError, match=r"cannot restore policy\.generator: the checkpoint holds a torch\.Generator "
                                         r"on device 'cuda:0', which this machine's torch cannot make .*devices here: "
                                         r"cpu\. Resume it on a machine with 'cuda:0'"):
        fresh.load_state_dict(state)


class _Helper:
    def __init__(self):
        self.x = 1


def _records() -> dict:
    """One record of each kind to_checkpoint writes, with the live value it loads into."""
    net = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(net.parameters())
    net(torch.ones(2)).sum().backward()
    opt.step()
    values = {"numpy": np.float32(1.5), "ndarray": np.arange(3), "path": pathlib.Path("/a"),
              "frozenset": frozenset({1, 2}), "range": range(1, 5, 2), "fraction": fractions.Fraction(1, 3),
              "dtype": np.dtype("f4"), "enum": Mode.FAST, "counter": collections.Counter(a=1),
              "defaultdict": collections.defaultdict(list, a=[1]), "deque": collections.deque([1, 2], maxlen=3),
              "generator": np.random.default_rng(0), "random_state": np.random.RandomState(0),
              "py_random": random.Random(0), "torch_generator": torch.Generator(), "module": net,
              "torch_state_dict": opt, "object": _Helper()}
    return {kind: (to_checkpoint(value), value) for kind, value in values.items()}


def _equal(a, b) -> bool:
    """Stored values equal to the bit (tensors by torch.equal, containers item by item)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))
    return a == b


def _paths(value, path=()):
    """Every place inside a stored value (dict keys, list and tuple items), outermost first."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        yield (*path, key)
        yield from _paths(item, (*path, key))


@pytest.mark.parametrize("record, said", [
    ({"__lrgym__": "fraction", "numerator": 1, "denominator": 0},
     r"ZeroDivisionError: Fraction\(1, 0\).*'denominator': a nonzero int"),
    ({"__lrgym__": "fraction", "numerator": "1", "denominator": 3}, "not both ints"),
    ({"__lrgym__": "range", "start": 0, "stop": 1, "step": 0}, "'step': a nonzero int"),
    ({"__lrgym__": "range", "start": 0.5, "stop": 1, "step": 1}, "not all ints"),
    ({"__lrgym__": "dtype", "str": "x" * 5000}, "data type"),
    ({"__lrgym__": "numpy", "dtype": "O", "value": "x"}, "a NumPy scalar of dtype .O.; valid: a bool, integer"),
    ({"__lrgym__": "deque", "items": [1], "maxlen": -1}, "maxlen must be non-negative"),
    ({"__lrgym__": "counter", "items": "ab"}, "its items are a str"),
    ({"__lrgym__": "frozenset", "items": "ab"}, "its items are a str"),
    ({"__lrgym__": "path"}, "it has no field 'value'"),
    ({"__lrgym__": "py_random", "state": (3, (1,) * 10, None)}, "state vector is the wrong size"),
    ({"__lrgym__": [1] * 1000}, r"unknown marker __lrgym__=\[1, 1, 1, 1, 1, 1, \.\.\.\]"),
])
def test_a_forged_record_is_a_value_error_naming_its_place_and_what_is_valid(record, said):
    """A forged record raised bare: Fraction(1, 0) a ZeroDivisionError, a range of a float step a
    TypeError, a missing field a KeyError, none naming where in the policy it sits."""
    with pytest.raises(ValueError, match=rf"cannot restore policy\.memo\['k'\]: .*{said}") as info:
        from_checkpoint({"k": record}, None, "policy.memo")
    assert "valid:" in str(info.value) and len(str(info.value)) < 600


def test_every_forged_field_of_every_record_is_a_value_error_naming_its_place():
    """Each field (and each item inside it: a generator's state, an optimizer's state_dict) of a
    record of every kind replaced by values of wrong types or out of range, or the field left
    out: from_checkpoint returns or raises ValueError naming the place (nothing bare), and a
    refused one changes nothing of the live value (all or nothing)."""
    bad = [None, "x", -1, 10**30, [1], {}, torch.zeros(3), 1.5]
    for kind, (stored, live) in _records().items():
        for path in list(_paths(stored)):
            for value in bad if path[-1] != "__lrgym__" else ():
                forged = copy.deepcopy(stored)
                parent = forged
                for key in path[:-1]:
                    parent = parent[key]
                if isinstance(parent, tuple):
                    continue
                parent[path[-1]] = value
                before = copy.deepcopy(to_checkpoint(live)) if kind in ("module", "torch_state_dict") else None
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        from_checkpoint({"k": forged}, {"k": live}, "policy")
                except ValueError as exc:
                    assert str(exc).startswith("cannot restore policy['k']"), (kind, path, value, str(exc)[:300])
                    if before is not None:  # refused before anything loaded
                        assert _equal(to_checkpoint(live), before), (kind, path, value)
                except Exception as exc:  # noqa: BLE001 - what the test is about
                    pytest.fail(f"{kind} with {path} = {value!r}: bare {type(exc).__name__}: {str(exc)[:200]}")
            forged = {"__lrgym__": stored["__lrgym__"]} if isinstance(stored, dict) else None
            if forged is not None:  # every field left out
                with pytest.raises(ValueError, match=r"cannot restore policy\['k'\]"):
                    from_checkpoint({"k": forged}, {"k": live}, "policy")
