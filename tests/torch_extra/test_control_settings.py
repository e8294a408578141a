"""One set of rules for the control settings (``lrgym.settings``' checkers): the four entry points
that take them — ``gym.make``'s env, :class:`lrgym.torch.TorchTrainingEnv`,
:class:`lrgym.torch.PolicyScheduler` and :class:`lrgym.monitor.TrainingMonitor` — reject the same
bad values, each with a ``ValueError`` naming the value and the valid range, and accept the same
good ones.

Each entry point takes the settings it has: the scheduler takes ``factors`` from its policy's
``env_options`` and no ``reward_alphas``; the monitor takes ``horizon``, ``updates_per_step`` (the
env's ``inner_steps``), ``cap_factor`` and ``reward_alphas`` at construction and the LR range in
``describe`` (it has no ``lr_init`` or ``factors``)."""

from __future__ import annotations

import math
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lrgym  # noqa: E402,F401 (registers the env ids)
from lrgym.monitor import TrainingMonitor  # noqa: E402
from lrgym.torch import PolicyScheduler, TorchTrainingEnv  # noqa: E402

torch.set_num_threads(1)


class First:
    """A discrete policy that always takes action 0 (its ``env_options`` carry ``factors`` and
    ``rejection_threshold``, the settings the scheduler takes from its policy)."""

    name = "first"
    action_mode = "discrete"

    def __init__(self, factors=None, rejection_threshold=None):
        self.env_options = {} if factors is None else {"factors": factors}
        if rejection_threshold is not None:
            self.env_options["rejection_threshold"] = rejection_threshold

    def reset(self, info):
        self.start_lr = float(info["lr"])  # the scheduler's start LR, before the first action

    def act(self, obs, info):
        return 0


def make_gym(horizon=3, inner_steps=2, **kw):
    return gym.make("LRControl-LinReg-v1", horizon=horizon, inner_steps=inner_steps, **kw)


def make_torch_env(horizon=3, inner_steps=2, **kw):
    X, y = torch.zeros(8, 2), torch.zeros(8, dtype=torch.long)
    return TorchTrainingEnv(model=lambda: torch.nn.Linear(2, 2), train_data=(X, y),
                            loss_fn=torch.nn.CrossEntropyLoss(reduction="none"), batch_size=4,
                            horizon=horizon, inner_steps=inner_steps, **kw)


def make_scheduler(horizon=3, inner_steps=2, factors=None, reward_alphas=None, rejection_threshold=None, **kw):
    assert reward_alphas is None, "the scheduler takes no reward_alphas"
    w = torch.nn.Parameter(torch.zeros(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the start-LR note: not what is tested here
        return PolicyScheduler(torch.optim.SGD([w], lr=0.01), First(factors, rejection_threshold), horizon=horizon,
                               updates_per_step=inner_steps, **kw)


def make_monitor(horizon=3, inner_steps=2, lr_min=1e-6, lr_max=10.0, **kw):
    monitor = TrainingMonitor(horizon, inner_steps, **kw)
    monitor.describe(lr_min, lr_max, "sgd", "discrete")
    return monitor


ENTRY_POINTS = {"gym.make": make_gym, "TorchTrainingEnv": make_torch_env, "PolicyScheduler": make_scheduler,
                "TrainingMonitor": make_monitor}
#: the settings each entry point does not take
NOT_TAKEN = {"gym.make": {"loss_scale"}, "PolicyScheduler": {"reward_alphas"},
             "TrainingMonitor": {"lr_init", "factors", "rejection_threshold"},
             "TorchTrainingEnv": {"rejection_threshold"}}  # it undoes no step

BAD = [
    ({"horizon": True}, "horizon=True", "positive integer"),
    ({"horizon": 0}, "horizon=0", "positive integer"),
    ({"horizon": 2.5}, "horizon=2.5", "positive integer"),
    ({"horizon": np.float64(3.0)}, "horizon=", "positive integer"),
    ({"inner_steps": True}, "=True", "positive integer"),
    ({"inner_steps": -1}, "=-1", "positive integer"),
    ({"horizon": 10**9 + 1}, "horizon=1000000001", "at most 1,000,000,000"),  # the env's bound (MAX_COUNT)
    ({"inner_steps": 10**10}, "=10000000000", "at most 1,000,000,000"),
    ({"lr_min": 1.0, "lr_max": 0.1}, "lr_min=1.0, lr_max=0.1", "0 < lr_min < lr_max < inf"),
    ({"lr_min": 0.1, "lr_max": 0.1}, "lr_min=0.1, lr_max=0.1", "0 < lr_min < lr_max < inf"),
    ({"lr_min": 0.0}, "lr_min=0.0", "0 < lr_min < lr_max < inf"),
    ({"lr_min": math.nan}, "lr_min=nan", "0 < lr_min < lr_max < inf"),
    ({"lr_max": math.nan}, "lr_max=nan", "0 < lr_min < lr_max < inf"),
    ({"lr_max": math.inf}, "lr_max=inf", "0 < lr_min < lr_max < inf"),
    ({"lr_max": True}, "lr_max=True", "0 < lr_min < lr_max < inf"),
    ({"lr_init": 100.0}, "lr_init=100.0", "lr_min <= lr_init <= lr_max"),
    ({"lr_init": 1e-9}, "lr_init=1e-09", "lr_min <= lr_init <= lr_max"),
    ({"lr_init": math.nan}, "lr_init=nan", "lr_min <= lr_init <= lr_max"),
    ({"lr_init": math.inf}, "lr_init=inf", "lr_min <= lr_init <= lr_max"),
    ({"lr_min": 0.1, "lr_max": 1.0}, "lr_init=None (the default for 'sgd': 0.01)", "lr_min <= lr_init <= lr_max"),
    ({"cap_factor": 1.0}, "cap_factor=1.0", "1 < cap_factor < inf"),
    ({"cap_factor": math.nan}, "cap_factor=nan", "1 < cap_factor < inf"),
    ({"cap_factor": math.inf}, "cap_factor=inf", "1 < cap_factor < inf"),
    ({"factors": ()}, "factors=()", "positive numbers"),
    ({"factors": (1.0, -2.0)}, "factors=(1.0, -2.0)", "positive numbers"),
    ({"factors": (math.nan,)}, "factors=(nan,)", "positive numbers"),
    ({"reward_alphas": (-1.0, 1.0)}, "reward_alphas=(-1.0, 1.0)", "0 <= α <= 1e+06"),
    ({"reward_alphas": (1.0, 1e306)}, "reward_alphas=(1.0, 1e+306)", "0 <= α <= 1e+06"),  # a -inf reward
    # a value of the wrong type is named as such, not "out of range" (an audit, 2026: '1e4' was)
    ({"horizon": "x"}, "horizon='x' is not an integer", "positive integer"),
    ({"lr_max": "1"}, "lr_max='1': is not a real number (a str)", "0 < lr_min < lr_max < inf"),
    ({"cap_factor": "1e4"}, "cap_factor='1e4' is not a real number (a str)", "1 < cap_factor < inf"),
    ({"factors": (0.5, math.inf)}, "factors=(0.5, inf)", "finite positive numbers"),  # was accepted
    # the scheduler took its policy's threshold unchecked (an audit, 2026-12-05): -0.5 undid every step, so
    # the model never trained, silently; '0.04' was a bare TypeError after the first step's updates
    ({"rejection_threshold": -0.5}, "rejection_threshold=-0.5 out of range", "None or a number >= 0"),
    ({"rejection_threshold": math.nan}, "rejection_threshold=nan out of range", "None or a number >= 0"),
    ({"rejection_threshold": "0.04"}, "rejection_threshold='0.04' is not a real number (a str)",
     "None or a number >= 0"),
    # float('x') named neither the argument nor what it takes
    ({"loss_scale": "x"}, "loss_scale='x' is not a real number (a str)", "0 < loss_scale < inf, or nan"),
    # accepted silently (an audit, 2026-12-06): inf made the cap infinite (divergence never detected), a
    # scale <= 0 is no loss's scale (max(L0, loss_scale) ignored it)
    ({"loss_scale": math.inf}, "loss_scale=inf out of range", "0 < loss_scale < inf, or nan"),
    ({"loss_scale": -1}, "loss_scale=-1 out of range", "0 < loss_scale < inf, or nan"),
    ({"loss_scale": 0.0}, "loss_scale=0.0 out of range", "0 < loss_scale < inf, or nan"),
]


def _applies(entry: str, kwargs: dict, named: str) -> bool:
    """The entry point takes every setting of the case, and the one at fault (``lr_init`` when the
    default start LR falls outside the range)."""
    fault = {"lr_init"} if named.startswith("lr_init") else set()
    return not (set(kwargs) | fault) & NOT_TAKEN.get(entry, set())


#: (entry point, case) for every case the entry point takes (no skipped combinations)
BAD_CASES = [pytest.param(entry, *case, id=f"{entry}-{case[0]}") for case in BAD for entry in ENTRY_POINTS
             if _applies(entry, case[0], case[1])]


@pytest.mark.parametrize(("entry", "kwargs", "named", "valid"), BAD_CASES)
def test_every_entry_point_rejects_the_same_bad_value_naming_it_and_the_valid_range(entry, kwargs, named, valid):
    with pytest.raises(ValueError, match=re.escape(named) + ".*valid: .*" + re.escape(valid)):
        ENTRY_POINTS[entry](**kwargs)


GOOD = [
    {"horizon": np.int64(3), "inner_steps": np.int32(2)},
    {"lr_min": 1e-5, "lr_max": 1.0, "lr_init": 1e-5},  # the range's ends are valid start LRs
    {"lr_min": 1e-5, "lr_max": 1.0, "lr_init": 1.0},
    {"lr_min": np.float32(1e-4), "lr_max": 2, "lr_init": np.float64(0.5)},
    {"lr_min": 1e-3, "lr_max": 0.1},  # the default start LR (sgd: 1e-2) inside
    {"cap_factor": 1.5},
    {"factors": [0.5, 2.0]},
    {"reward_alphas": (0.0, 2.0)},
    {"rejection_threshold": np.float32(0.25)},
    {"loss_scale": np.float32(2.5)},
    {"loss_scale": math.nan},  # the default: none stated
]


GOOD_CASES = [pytest.param(entry, case, id=f"{entry}-{case}") for case in GOOD for entry in ENTRY_POINTS
              if set(case) - NOT_TAKEN.get(entry, set())]


def test_every_bad_and_good_case_reaches_at_least_two_entry_points():
    for case in BAD:
        assert sum(p.values[1] is case[0] for p in BAD_CASES) >= 2, case
    for case in GOOD:
        assert sum(p.values[1] is case for p in GOOD_CASES) >= 2, case


@pytest.mark.parametrize(("entry", "kwargs"), GOOD_CASES)
def test_every_entry_point_accepts_the_same_good_values(entry, kwargs):
    dropped = {k: v for k, v in kwargs.items() if k not in NOT_TAKEN.get(entry, set())}
    made = ENTRY_POINTS[entry](**dropped)
    if entry == "gym.make":
        made = made.unwrapped
    if "horizon" in kwargs:
        assert made.horizon == 3 and type(made.horizon) is int
    if "lr_min" in kwargs and entry != "TrainingMonitor":
        assert (made.lr_min, made.lr_max) == (float(kwargs["lr_min"]), float(kwargs["lr_max"]))
    if "lr_init" in kwargs and entry != "TrainingMonitor":
        start = made.policy.start_lr if entry == "PolicyScheduler" else made.lr_init
        assert start == float(kwargs["lr_init"])
    if "rejection_threshold" in kwargs:
        assert made.rejection_threshold == float(kwargs["rejection_threshold"])
        assert type(made.rejection_threshold) is float
    if "loss_scale" in kwargs:
        monitor = made if entry == "TrainingMonitor" else made.monitor
        assert type(monitor.loss_scale) is float
        assert monitor.loss_scale == float(kwargs["loss_scale"]) or math.isnan(kwargs["loss_scale"])


def test_the_run_label_is_a_string_kept_as_given():
    # PolicyScheduler(task_name=3) and TorchTrainingEnv(name=3) were accepted silently, and the env's
    # name was then always 'eval_data' (a loop variable of __init__ reused the parameter's name)
    for make, key in ((make_scheduler, "task_name"), (make_torch_env, "name")):
        with pytest.raises(ValueError, match=f"{key}=3 is a int; valid: a string naming the run"):
            make(**{key: 3})
        assert getattr(make(**{key: "my run"}), key) == "my run"


def test_the_defaults_have_one_home():
    import inspect

    from lrgym import settings
    from lrgym.env import LRControlEnv

    expected = {"lr_min": settings.DEFAULT_LR_MIN, "lr_max": settings.DEFAULT_LR_MAX,
                "cap_factor": settings.DEFAULT_CAP_FACTOR, "reward_alphas": settings.DEFAULT_REWARD_ALPHAS,
                "factors": settings.DEFAULT_FACTORS}
    for entry in (LRControlEnv.__init__, settings.EnvSettings.build, TorchTrainingEnv.__init__,
                  PolicyScheduler.__init__, TrainingMonitor.__init__):
        params = inspect.signature(entry).parameters
        for name, default in expected.items():
            if name in params:
                if entry is PolicyScheduler.__init__ and name in ("lr_min", "lr_max", "cap_factor"):
                    assert params[name].default is None, name  # the policy's own option, else the default
                    continue
                assert params[name].default is default, (entry.__qualname__, name)
    from lrgym.baselines.registry import make_baseline

    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.01)
    sched = PolicyScheduler(opt, make_baseline("cosine"), horizon=3)  # a policy without options: the defaults
    assert (sched.lr_min, sched.lr_max, sched.monitor.cap_factor) == (
        settings.DEFAULT_LR_MIN, settings.DEFAULT_LR_MAX, settings.DEFAULT_CAP_FACTOR)


def test_metric_delta_needs_the_scheduler_to_measure_a_metric():
    """``reward="metric_delta"`` with a ``val_fn`` that returns a loss only: the scheduler has no
    metric, every reward would be NaN; refused at construction, naming the reward and val_metric.
    With ``(loss, metric)`` it is taken."""
    from lrgym.baselines.registry import make_baseline

    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.01)
    with pytest.raises(ValueError, match="metric_delta.*val_metric"):
        PolicyScheduler(opt, make_baseline("fixed"), horizon=3, reward="metric_delta", val_fn=lambda: 1.0)
    sched = PolicyScheduler(opt, make_baseline("fixed"), horizon=3, reward="metric_delta", val_fn=lambda: (1.0, 0.5))
    assert sched.monitor.reward == "metric_delta"


def _stepped_scheduler(**kw):
    """A scheduler on a tiny model whose optimizer has just taken an update (step(loss) is due)."""
    from lrgym.baselines.registry import make_baseline

    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    sched = PolicyScheduler(opt, make_baseline("fixed"), horizon=3, **kw)
    model(torch.ones(1, 2)).sum().backward()
    opt.step()
    return sched


@pytest.mark.parametrize("bad, kind", [
    ("x", "a str"), ([1.0, "x"], "a list"), ({"loss": 1.0}, "a dict"),
    # accepted before (an audit, 2026-12-05): "0.5" read as 0.5, True as 1.0, a complex loss as its real part
    ("0.5", "a str"), (True, "a bool"), (np.bool_(True), "a bool"), (1 + 2j, "a complex"), ([0.5, 1j], "a list"),
    (torch.tensor(1 + 2j), "a torch.complex64 tensor"), (torch.tensor([True, False]), "a torch.bool tensor"),
    # a bool inside a list or an object array was read as 1.0 (a review, 2026-12-05)
    ([0.5, True], "a list holding the bool True"), ((0.5, [np.bool_(False)]), "a tuple holding the bool np.False_"),
    (np.array([0.5, True], dtype=object), "a ndarray holding the bool True"),
    # None inside a list was read as NaN (NumPy 2 casts it so): a divergence, not an error (2026-12-05)
    ([0.5, None], "a list holding None"), (np.array([None, 0.5], dtype=object), "a ndarray holding None"),
])
def test_a_loss_that_is_not_a_real_number_is_named(bad, kind):
    """``step('x')`` was NumPy's "could not convert string to float: 'x'", naming no argument."""
    sched = _stepped_scheduler()
    with pytest.raises(ValueError, match=re.escape(f"loss={bad!r} is not ") + r"(a number|real) \(" + re.escape(kind)
                       + r".*valid: a real number or a real tensor \(a scalar loss, or per-example losses\)"):
        sched.step(bad)
    assert sched.last_epoch == 0  # nothing recorded: the update is still there for the corrected call
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not taken for a skipped update
        sched.step(torch.tensor([0.5, 1.5], dtype=torch.float16))  # real numbers of any dtype still are losses
    assert sched.last_epoch == 1


@pytest.mark.parametrize("kwargs, error, message", [
    # were "could not convert string to float: 'abc'", "'float' object is not callable" and "only one
    # element tensors can be converted to Python scalars": none named the argument (an audit, 2026-12-05)
    ({"val_fn": lambda: "abc"}, ValueError, "val_fn()='abc' is not a number (a str); valid: a real number"),
    ({"val_fn": 0.5}, TypeError, "val_fn=0.5 is not callable; valid: None or a function () -> loss or () -> (loss, "),
    ({"train_loss_fn": "objective"}, TypeError, "train_loss_fn='objective' is not callable; valid: None or a function"),
    ({"train_loss_fn": lambda: torch.ones(3)}, ValueError, "train_loss_fn() returned 3 values; valid: one number"),
    ({"val_fn": lambda: (torch.tensor(0.5), "high")}, ValueError, "val_fn()'s metric='high' is not a number"),
    ({"val_fn": lambda: (0.5, 0.9, 1)}, ValueError, "val_fn() returned (0.5, 0.9, 1); valid: a loss, or (loss, metric)"),
    # a function that forgot its return gave None, read as NaN: a divergence (2026-12-05)
    ({"train_loss_fn": lambda: None}, ValueError, "train_loss_fn()=None is not a number (None); valid: a real number"),
    ({"val_fn": lambda: (None, 0.5)}, ValueError, "val_fn()'s loss=None is not a number (None); valid: a real number"),
    # a list of two was read as (loss, metric): per-example losses of a 2-example set made the second
    # a metric (a review, 2026-12-05)
    ({"val_fn": lambda: [0.5, 0.25]}, ValueError, "val_fn() returned a list, [0.5, 0.25]; valid: one number (the mean "
                                                   "validation loss), or a tuple (loss, metric)"),
    # per-example losses as a tuple: named briefly (the list's case was; this one was repeated whole)
    ({"val_fn": lambda: tuple(torch.full((1,), 0.5) for _ in range(10_000))}, ValueError,
     "val_fn() returned (tensor([0.5000]), tensor([0.5000]), tensor([0.5000]), tensor([0.5000]), tensor([0.5000]), "
     "tensor([0.5000]), ...); valid: a loss, or (loss, metric)"),
    ({"val_fn": lambda: np.array([0.5, None], dtype=object)}, ValueError,
     "val_fn()=array([0.5, None], dtype=object) is not a number (a ndarray holding None); valid:"),
])
def test_bad_measuring_functions_are_named(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        _stepped_scheduler(**kwargs)


def test_a_metric_of_none_is_no_metric():
    """``val_fn() -> (loss, None)``: the loss, and no metric (NaN, as with ``val_fn() -> loss``)."""
    sched = _stepped_scheduler(train_loss_fn=lambda: 0.75, val_fn=lambda: (0.5, None))
    assert sched.last_info["val_loss"] == 0.5 and math.isnan(sched.last_info["val_metric"])


def test_good_measuring_functions_give_numbers_of_any_real_kind():
    sched = _stepped_scheduler(train_loss_fn=lambda: torch.tensor([0.75], dtype=torch.float64),
                               val_fn=lambda: (np.float32(0.5), torch.tensor(0.25)))
    assert (sched.last_info["train_loss"], sched.last_info["val_loss"], sched.last_info["val_metric"]) == (0.75, 0.5, 0.25)


def test_a_bad_action_through_the_scheduler_gives_the_schedulers_advice_not_the_envs():
    """The action errors said "This env has action_mode=... create it with action_mode=..." where
    there is no env: through the scheduler they say where the mode comes from (the policy)."""
    class TooFar:
        action_mode = "log_lr"

        def reset(self, info):
            pass

        def act(self, obs, info):
            return 5.0

    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.01)
    with pytest.raises(ValueError, match=re.escape("invalid action 5.0; valid: one float in [-1, 1]") + ".*"
                       + re.escape("PolicyScheduler applies the policy's action_mode='log_lr' (its attribute")
                       + ".*" + re.escape("a policy declares it as its class attribute action_mode = 'discrete'")) as err:
        PolicyScheduler(opt, TooFar(), horizon=3)
    assert "env" not in str(err.value)
    with pytest.raises(ValueError, match=re.escape("This env has action_mode='log_lr'")):  # the env keeps its words
        env = make_gym(action_mode="log_lr")
        env.reset(seed=0)
        env.step(5.0)


@pytest.mark.parametrize("empty", [torch.zeros(0), [], np.zeros((0, 3))])
def test_an_empty_loss_is_named_whatever_its_kind(empty):
    """``step(loss)`` with no losses: a ValueError naming what is valid, for a tensor too (an
    empty tensor went on to the monitor, whose step mean is then 0/0)."""
    from lrgym.baselines.registry import make_baseline

    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    sched = PolicyScheduler(opt, make_baseline("fixed"), horizon=3)
    model(torch.ones(1, 2)).sum().backward()
    opt.step()
    with pytest.raises(ValueError, match="empty loss.*per-example losses"):
        sched.step(empty)
