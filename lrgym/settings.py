"""``EnvSettings``: an environment's settings, checked once, shared by the single and vector env.

:class:`~lrgym.env.LRControlEnv` and :class:`~lrgym.vector.LRControlVectorEnv` take the same
keyword arguments (``family``, ``optimizer``, ``action_mode``, ``horizon``, ...). Both turn them
into one frozen :class:`EnvSettings` with :meth:`EnvSettings.build`, which checks every value
(a bad one raises ``ValueError`` naming it and the valid choices) and derives once what the
compiled step needs (optimizer code and hyper-parameters, reward code and parameters, log10 of
the LR range, the info entries fixed for the env's lifetime). The vector env builds the settings
once and hands the same object to each of its sub-environments, so every sub-environment and the
batched step read their settings from one place::

    settings = EnvSettings.build(family="linreg", optimizer="adam", horizon=20)
    env = LRControlEnv.from_settings(settings)
    env.settings is settings              # True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrgym.brief import brief
from lrgym.info import ACTION_MODES, info_constants
from lrgym.optim import OPTIMIZERS, OptimizerConfig, check_choice
from lrgym.rewards import REWARDS, check_reward_alphas, reward_code, reward_params
from lrgym.tasks import make_family
from lrgym.tasks.base import TaskFamily, is_integer, is_real, real_float
from lrgym.tasks.base import instance_set as lookup_instance_set
from lrgym.tasks.instance_order import check_instance_order

# ---- the control settings' defaults: one home for LRControlEnv, EnvSettings, lrgym.torch's
# TorchTrainingEnv and PolicyScheduler, and TrainingMonitor ----------------------------------------
#: the discrete action's LR factors: halve, ×0.8, keep, ×1.25, double
DEFAULT_FACTORS = (0.5, 0.8, 1.0, 1.25, 2.0)
#: the LR range ``[lr_min, lr_max]`` an action can set
DEFAULT_LR_MIN = 1e-6
DEFAULT_LR_MAX = 10.0
#: divergence cap ``cap_factor · max(L0, loss_scale)``
DEFAULT_CAP_FACTOR = 1e4
#: ``sign_delta``'s weights (α1, α2)
DEFAULT_REWARD_ALPHAS = (1.0, 1.0)
#: the largest ``horizon``, ``inner_steps`` and ``max_episode_steps``: they become
#: int64 values (the info's ``horizon``, ``inner_steps``, ``step``; the compiled step's integers)
#: and the ``updates`` counter sums up to ``horizon · inner_steps`` minibatch updates in an int64:
#: 10⁹ · 10⁹ = 10¹⁸ < 2⁶³ − 1 ≈ 9.2 · 10¹⁸, and 10⁹ < 2³¹ − 1 fits even a 32-bit C long. (Beyond
#: it a value was a bare ``OverflowError`` from NumPy, or an unusable env.)
MAX_COUNT = 10**9
#: the most sub-environments of one vector env (``num_envs`` of :class:`~lrgym.vector.LRControlVectorEnv`,
#: ``gym.make_vec``, ``make_sb3_vec_env``'s ``n_envs``): 2¹⁶ = 65,536, a thousand times the benchmarks'
#: 64. Each sub-env costs ≈ 5 KB and 0.2 ms of CPU when the vector env is made and, at its first
#: reset, its own built instance (≈ 1.5 MB on ``LRControl-v1``, the mean of train draws 0 – 63:
#: ``benchmarks/vector_sub_env_cost.py``); ``num_envs=10**9`` (then :data:`MAX_COUNT`) ran
#: out of memory or ran for days before a clear error could say so.
MAX_NUM_ENVS = 2**16
#: the env keywords that say how a policy acts, not how hard its problem is: the ones a graded
#: policy may choose (the leaderboard's ``lrgym.leaderboard.settings``), a train_sb3 sidecar and an
#: exported MLP policy record as the policy's own. Every other keyword (LR range, cap, horizon,
#: inner steps, reward, family options, ...) is the suite's.
POLICY_CHOICES = ("optimizer", "action_mode", "lr_init", "factors", "rejection_threshold")
#: the largest int64, the default bound of :func:`positive_int` (any count that NumPy keeps)
MAX_INT64 = 2**63 - 1
#: inner optimizers whose customary initial LR is 1e-3 (the others start at 1e-2)
ADAPTIVE_OPTIMIZERS = ("adam", "rmsprop")

#: the info keys whose values are fixed for an env's lifetime, in :attr:`EnvSettings.constant_info`'s order
CONSTANT_INFO_KEYS = ("horizon", "inner_steps", "lr_min", "lr_max", "optimizer", "action_mode")


def read_only_view(array: np.ndarray) -> np.ndarray:
    """A view of ``array`` that refuses writes (``ValueError: assignment destination is read-only``),
    ``array`` itself staying writeable."""
    view = array.view()
    view.flags.writeable = False
    return view


def default_lr_init(optimizer: str) -> float:
    """1e-3 for Adam and RMSprop (their customary default), 1e-2 otherwise."""
    return 1e-3 if optimizer in ADAPTIVE_OPTIMIZERS else 1e-2


class Setting:
    """An env attribute that is one of its settings: ``env.horizon`` reads ``env.settings.horizon``,
    and assigning it raises ``AttributeError`` naming the keyword that sets it.

    The compiled step, the features and the info read the settings the env was made with, and
    parts of the Python step read the attributes: a plain attribute assigned after the env was made
    half applied (``env.unwrapped.horizon = 3``, or ``SyncVectorEnv.set_attr("horizon", 3)``, on a
    horizon-5 env truncated at step 3 while ``progress`` said 3/5 and ``info["horizon"]`` 5; with
    ``rejection_threshold`` the Python step said 3/3; ``factors`` moved the LR of a NumPy-integer
    action but not of a plain ``int``). An array setting (``factors``) reads as a read-only view
    (:attr:`EnvSettings.factors_view`, made once with the settings), since writing into it half
    applied the same way (``env.factors[4] = 10.0``: the vector env's step took the new factor, the
    single env's the one it had cached). A setting is changed by making a new env."""

    def __init__(self, field_name: str | None = None, keyword: str | None = None):
        #: the :class:`EnvSettings` field read (the attribute's own name if None) and the keyword
        #: that sets it (the field's name if None)
        self.field_name, self.keyword = field_name, keyword

    def __set_name__(self, owner, name: str) -> None:
        self.name = name
        self.field_name = self.field_name or name
        self.keyword = self.keyword or self.field_name

    def __get__(self, env, owner=None):
        if env is None:
            return self
        return getattr(env.settings, self.field_name)

    def __set__(self, env, value) -> None:
        raise AttributeError(
            f"{type(env).__name__}.{self.name} = {brief(value)} refused: {self.name} is a setting, fixed when the env "
            f"is made ({brief(getattr(env.settings, self.field_name))} here), which its compiled step, observation "
            f"and info go on reading; valid: {new_env_hint(self.keyword)}")


def new_env_hint(keyword: str, make: str = "gym.make(id, ") -> str:
    """The valid choice a refused change of a setting offers: a new env made with the ``keyword``
    that sets it (:func:`setting_keyword`), by ``make`` (the single env's ``gym.make(id, ``, the
    vector env's ``gym.make_vec(id, n, ...``): ``a new env made with the setting you want:
    gym.make(id, horizon=...)``; a keyword that is no identifier (``instance_set or instances``)
    ends ``gym.make(id, ...) with instance_set or instances``. One wording for an assignment
    (:class:`Setting`) and the vector env's ``set_attr`` (:func:`lrgym.vector.check_settable`)."""
    how = f"{keyword}=...)" if keyword.isidentifier() else f"...) with {keyword}"
    return f"a new env made with the setting you want: {make}{how}"


#: the settings an env shows as attributes (:class:`Setting`): attribute name → (the field of
#: :class:`EnvSettings` it reads, the keyword that sets it); None: the attribute's own name.
#: ``factors`` reads the read-only view of the settings' array (``factors_view``)
SETTING_ATTRIBUTES = {
    "family": (None, None), "instance_set": (None, None), "instances": (None, None),
    "instance_range": (None, "instance_set or instances"), "instance_order": (None, None), "optimizer": (None, None),
    "action_mode": (None, None), "reward_name": ("reward", None), "horizon": (None, None), "inner_steps": (None, None),
    "lr_init": (None, None), "lr_min": (None, None), "lr_max": (None, None), "cap_factor": (None, None),
    "rejection_threshold": (None, None), "factors": ("factors_view", "factors"),
}


def setting_keyword(name: str) -> str:
    """The env keyword that sets the setting attribute ``name`` (:data:`SETTING_ATTRIBUTES`), as
    its :class:`Setting` names it: ``reward`` for ``reward_name``, ``instance_set or instances``
    for ``instance_range``, the attribute's own name for the others."""
    field_name, keyword = SETTING_ATTRIBUTES[name]
    return keyword or field_name or name


def with_setting_attributes(cls):
    """Class decorator: every :data:`SETTING_ATTRIBUTES` name of ``cls`` becomes a :class:`Setting`
    (the class keeps its checked settings in ``self.settings``)."""
    for name, (field_name, keyword) in SETTING_ATTRIBUTES.items():
        attribute = Setting(field_name, keyword)
        attribute.__set_name__(cls, name)
        setattr(cls, name, attribute)
    return cls


@dataclass(frozen=True, eq=False)
class EnvSettings:
    """Everything fixed for an env's lifetime (see :class:`~lrgym.env.LRControlEnv`'s Arguments).

    Build it with :meth:`build` (it checks the values); the fields after ``rejection_threshold``
    are derived from the others. Its arrays are passed to compiled kernels as they are (writeable, so
    the kernels keep their cached signatures): treat them as read-only.
    """

    family: TaskFamily
    instance_set: str
    #: the instance seeds a reset without ``options={"instance": k}`` draws from: the whole set
    #: (:attr:`instance_range`) by default, else the ``instances=`` list (a tuple, in its order)
    instances: Sequence[int]
    #: every seed of ``instance_set``: what ``options={"instance": k}`` may ask for
    instance_range: range
    optimizer: OptimizerConfig
    action_mode: str
    factors: np.ndarray
    horizon: int
    inner_steps: int
    reward: str
    reward_alphas: tuple[float, float]
    lr_init: float
    lr_min: float
    lr_max: float
    cap_factor: float
    rejection_threshold: float | None
    #: the order resets take :attr:`instances` in: ``"draw"`` (uniformly with ``np_random``),
    #: ``"cycle"`` (each in turn) or ``"each_once"`` (each once per pass, the same episodes at every
    #: pass; :mod:`lrgym.tasks.instance_order`). Its default also serves
    #: settings pickled before the keyword existed
    instance_order: str = "draw"
    # ---- derived: what the compiled step and the info need -----------------------------------
    opt_code: int = field(init=False)
    hyper: np.ndarray = field(init=False)
    reward_code: int = field(init=False)
    reward_params: np.ndarray = field(init=False)
    log_lr_min: float = field(init=False)
    log_lr_max: float = field(init=False)
    #: the info entries fixed for the env's lifetime, as the schema's NumPy scalars, in
    #: :data:`CONSTANT_INFO_KEYS`' order
    constant_info: tuple = field(init=False)
    #: :attr:`factors` as the env shows it (``env.factors``, :class:`Setting`): a read-only view of
    #: the kernels' array, made once here (and again by :meth:`__setstate__`: a view pickled or
    #: copied comes back as a writeable array of its own)
    factors_view: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        derived = {
            "opt_code": self.optimizer.code,
            "hyper": self.optimizer.hyper(),
            "reward_code": reward_code(self.reward),
            "reward_params": reward_params(*self.reward_alphas),
            "log_lr_min": math.log10(self.lr_min),
            "log_lr_max": math.log10(self.lr_max),
            "constant_info": info_constants(
                self.horizon, self.inner_steps, self.lr_min, self.lr_max, OPTIMIZERS.index(self.optimizer.name),
                ACTION_MODES.index(self.action_mode),
            ),
            "factors_view": read_only_view(self.factors),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    def __getstate__(self) -> dict:
        # the view is made again on loading (a view pickles, and deep-copies, as a writeable array of
        # its own); without it the state is as settings pickled before the view existed
        state = self.__dict__.copy()
        state.pop("factors_view", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        object.__setattr__(self, "factors_view", read_only_view(self.factors))

    @classmethod
    def build(
        cls,
        family: str | TaskFamily = "linreg",
        family_options: dict | None = None,
        instance_set: str = "train",
        optimizer: str | dict | OptimizerConfig = "sgd",
        action_mode: str = "discrete",
        factors: tuple[float, ...] = DEFAULT_FACTORS,
        horizon: int | None = None,
        inner_steps: int | None = None,
        reward: str = "log_improvement",
        reward_alphas: tuple[float, float] = DEFAULT_REWARD_ALPHAS,
        lr_init: float | None = None,
        lr_min: float = DEFAULT_LR_MIN,
        lr_max: float = DEFAULT_LR_MAX,
        cap_factor: float = DEFAULT_CAP_FACTOR,
        rejection_threshold: float | None = None,
        instances: Sequence[int] | None = None,
        instance_order: str = "draw",
    ) -> "EnvSettings":
        """Check the env's keyword arguments and derive the rest (a bad value raises
        ``ValueError`` naming it and the valid choices). ``family``: a name (with
        ``family_options``, spec overrides) or a built :class:`~lrgym.tasks.base.TaskFamily`."""
        family = check_family(family, family_options)
        instance_range = lookup_instance_set(instance_set)
        instances = check_instances(instances, instance_range, instance_set)
        instance_order = check_instance_order(instance_order)
        opt = OptimizerConfig.coerce(optimizer)
        check_choice("action_mode", action_mode, ACTION_MODES)
        check_choice("reward", reward, REWARDS)
        alphas = check_reward_alphas(reward_alphas)
        horizon = positive_int("horizon", family.default_horizon if horizon is None else horizon, MAX_COUNT)
        inner_steps = positive_int("inner_steps", family.default_inner_steps if inner_steps is None else inner_steps,
                                   MAX_COUNT)
        lo, hi = check_lr_range(lr_min, lr_max)
        init = resolve_lr_init(lr_init, opt.name, lo, hi)
        cap = check_cap_factor(cap_factor)
        rejection_threshold = check_rejection_threshold(rejection_threshold)
        factor_array = check_factors(factors)
        return cls(
            family=family, instance_set=instance_set, instances=instances, instance_range=instance_range,
            optimizer=opt, action_mode=action_mode,
            factors=factor_array, horizon=horizon, inner_steps=inner_steps, reward=reward,
            reward_alphas=alphas, lr_init=init, lr_min=lo, lr_max=hi, cap_factor=cap,
            rejection_threshold=rejection_threshold, instance_order=instance_order,
        )

    def constant_info_items(self) -> dict[str, Any]:
        """The fixed info entries by key (``horizon``, ``inner_steps``, ``lr_min``, ...)."""
        return dict(zip(CONSTANT_INFO_KEYS, self.constant_info))


# ---- the control settings' checks: one home (EnvSettings.build, lrgym.torch's TorchTrainingEnv and
# PolicyScheduler, TrainingMonitor). Each returns the checked value, or raises ValueError naming the
# bad value and the valid choices. Numbers are Python or NumPy reals, never bools. -------------------

def check_family(family, family_options) -> TaskFamily:
    """The episode's family: a built :class:`~lrgym.tasks.base.TaskFamily` as it is (without
    ``family_options``: they build a family from its name), or a family name built with the
    ``family_options`` (None or a dict of spec overrides; the family checks their names and values)."""
    if isinstance(family, TaskFamily):
        if family_options:
            raise ValueError(f"family_options={brief(family_options)} given with a built family ({family.name!r}); "
                             "valid: the family's name with these options, or the built family alone")
        return family
    if family_options is not None and not isinstance(family_options, Mapping):
        raise ValueError(f"family_options={brief(family_options)} invalid; valid: None or a dict of the family's "
                         "options, e.g. {'dim': 32}")
    return make_family(family, **(family_options or {}))


def check_instances(instances, instance_range: range, instance_set: str) -> Sequence[int]:
    """The instance seeds an env's resets draw from (``instances=``): ``instance_range`` itself
    for None (the whole set, the default), else the listed seeds as a tuple of ints in their
    order (a range stays a range) — a non-empty sequence (a list, a tuple, a range, a 1-D integer array) of distinct
    integers of ``instance_range``, the seeds of ``instance_set`` (as ``options={"instance":
    k}`` takes them: ``(10_003, 10_007)`` in ``val``, not indices). Not a set (no order: the
    draws index the list), a str, a mapping or a one-shot iterator; no bools; a duplicate is
    refused rather than drawn twice as often."""
    if instances is None:
        return instance_range
    valid = (f"None (the whole set) or a non-empty sequence of distinct instance seeds of the "
             f"{instance_set!r} set, integers {instance_range.start}..{instance_range.stop - 1}, e.g. "
             f"instances=({instance_range.start + 3}, {instance_range.start + 7}, {instance_range.start + 11})")
    if isinstance(instances, range) and len(instances) > 0:  # kept as it is: O(1), distinct, the ends bound it
        for i in (0, len(instances) - 1):
            if instances[i] not in instance_range:
                raise ValueError(f"instances[{i}]={instances[i]} not in the {instance_set!r} set; valid: {valid}")
        return instances
    values = None
    if hasattr(instances, "__array__"):  # an array (NumPy's, torch's): judged by its dtype
        try:
            array = np.asarray(instances)
        except (TypeError, ValueError, RuntimeError):
            array = None
        if array is not None and array.ndim == 1 and array.dtype.kind in "iu":
            values = [int(v) for v in array]
    elif isinstance(instances, Sequence) and not isinstance(instances, (str, bytes, bytearray)):
        values = list(instances)
    if values is None or len(values) == 0:
        why = ("is empty" if values is not None else "is unordered (a set: the draws index the list; sorted() it)"
               if isinstance(instances, (set, frozenset)) else "invalid")
        raise ValueError(f"instances={brief(instances)} {why}; valid: {valid}")
    seen: set[int] = set()
    for i, k in enumerate(values):
        # int(k): a range tests a Python int in O(1), a NumPy integer by scanning it
        if not is_integer(k) or int(k) not in instance_range:
            why = f"not in the {instance_set!r} set" if is_integer(k) else f"is not an integer (a {type(k).__name__})"
            raise ValueError(f"instances[{i}]={brief(k)} {why}; valid: {valid}")
        if int(k) in seen:
            raise ValueError(f"instances[{i}]={int(k)} repeats an earlier seed; valid: {valid}")
        seen.add(int(k))
    return tuple(int(k) for k in values)


def positive_int(name: str, value, maximum: int = MAX_INT64) -> int:
    """``value`` as an ``int`` if it is a Python or NumPy integer from 1 to ``maximum`` (a bool
    is not one: ``horizon=True`` is an error, not 1). ``maximum``: the int64 range by default
    (a count NumPy can hold), :data:`MAX_COUNT` for the env's counts."""
    if not (is_integer(value) and 1 <= value <= maximum):
        raise ValueError(f"{name}={brief(value)} {'out of range' if is_integer(value) else 'is not an integer'}; "
                         f"valid: a positive integer (1, 2, 3, ...) at most {maximum:,}")
    return int(value)


def check_seed(name: str, value, maximum: int | None = None) -> int:
    """A random seed: ``value`` as an ``int`` if it is a Python or NumPy integer from 0 up
    (NumPy's and gymnasium's generators take any integer >= 0 and no negative one; a bool is no
    seed), at most ``maximum`` where a consumer takes no more (SB3 seeds NumPy's legacy
    generator: 2**32 - 1). The one rule of every seed the baselines take (``--seed``,
    ``--seeds``, ``seeds=``, ``seed=``)."""
    if not (is_integer(value) and 0 <= value and (maximum is None or value <= maximum)):
        raise ValueError(f"{name}={brief(value)} {'out of range' if is_integer(value) else 'is not an integer'}; "
                         f"valid: {_seed_range(maximum)}")
    return int(value)


def _seed_range(maximum: int | None) -> str:
    return "an integer >= 0 (0, 1, 2, ...)" + ("" if maximum is None else f" at most {maximum:,}")


def seed_argument(text: str, maximum: int | None = None) -> int:
    """The argparse ``type`` of every ``--seed`` / ``--seeds`` flag (:func:`check_seed`'s rule): the
    parser's error names the value, ``argument --seed: '-1' out of range; valid: ...`` (exit 2).
    A flag whose consumer takes seeds up to a bound: ``functools.partial(seed_argument,
    maximum=...)``."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; valid: {_seed_range(maximum)}") from None
    try:
        return check_seed("seed", value, maximum)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} {str(exc).split(' ', 1)[1]}") from None


def range_or_type(value) -> str:
    """The error's verb for a number that fails its check: a real number is ``out of range``;
    anything else (a string, a bool) ``is not a real number (a str)``. Every settings check,
    the env's and the leaderboard's (:mod:`lrgym.leaderboard.settings`), words it so."""
    return "out of range" if is_real(value) else f"is not a real number (a {type(value).__name__})"


def check_lr_range(lr_min, lr_max) -> tuple[float, float]:
    """``(lr_min, lr_max)`` as floats if ``0 < lr_min < lr_max < inf`` (NaN is rejected)."""
    if not (is_real(lr_min) and is_real(lr_max) and 0 < real_float(lr_min) < real_float(lr_max) < math.inf):
        why = range_or_type(lr_max if is_real(lr_min) else lr_min)
        raise ValueError(f"lr_min={brief(lr_min)}, lr_max={brief(lr_max)}: {why}; valid: numbers with "
                         f"0 < lr_min < lr_max < inf (default {DEFAULT_LR_MIN}, {DEFAULT_LR_MAX})")
    return float(lr_min), float(lr_max)


def check_lr_init(lr_init, lr_min: float, lr_max: float, default_of: str | None = None) -> float:
    """``lr_init`` as a float if it is a number in ``[lr_min, lr_max]`` (a checked range).
    ``default_of``: the optimizer whose default LR it is (named in the error)."""
    if not (is_real(lr_init) and lr_min <= real_float(lr_init) <= lr_max):
        what = f"lr_init={brief(lr_init)}" if default_of is None else \
            f"lr_init=None (the default for {default_of!r}: {lr_init!r})"
        why = "out of range" if is_real(lr_init) else (
            f"is not a real number (a {type(lr_init).__name__}{'; float() it' if hasattr(lr_init, '__float__') else ''})")
        raise ValueError(f"{what} {why}; valid: a number with lr_min <= lr_init <= lr_max ({lr_min}, {lr_max})")
    return float(lr_init)


def resolve_lr_init(lr_init, optimizer: str, lr_min: float, lr_max: float) -> float:
    """The episode's start LR: ``lr_init``, or None for :func:`default_lr_init` of ``optimizer``;
    within the (checked) range ``[lr_min, lr_max]``."""
    if lr_init is None:
        return check_lr_init(default_lr_init(optimizer), lr_min, lr_max, default_of=optimizer)
    return check_lr_init(lr_init, lr_min, lr_max)


def check_cap_factor(cap_factor) -> float:
    """``cap_factor`` as a float if ``1 < cap_factor < inf``."""
    if not (is_real(cap_factor) and 1 < real_float(cap_factor) < math.inf):
        raise ValueError(f"cap_factor={brief(cap_factor)} {range_or_type(cap_factor)}; valid: a number with 1 < cap_factor < inf "
                         f"(default {DEFAULT_CAP_FACTOR:g})")
    return float(cap_factor)


def check_loss_scale(loss_scale) -> float:
    """``loss_scale`` (a task's typical loss, which with ``cap_factor`` sets the divergence cap
    ``cap_factor · max(L0, loss_scale)``) as a float if ``0 < loss_scale < inf``, or NaN (none
    stated: the cap is ``cap_factor · L0``). An infinite one would turn divergence detection off, a
    negative or zero one is no loss's scale (the cap would silently ignore it)."""
    if not (is_real(loss_scale) and (math.isnan(real_float(loss_scale)) or 0 < real_float(loss_scale) < math.inf)):
        raise ValueError(f"loss_scale={brief(loss_scale)} {range_or_type(loss_scale)}; valid: the task's typical "
                         "loss, a number with 0 < loss_scale < inf, or nan (the default: the initial loss alone)")
    return real_float(loss_scale)


def check_label(name: str, value) -> str:
    """A run's label (``PolicyScheduler``'s ``task_name``, ``TorchTrainingEnv``'s ``name``): a str."""
    if not isinstance(value, str):
        raise ValueError(f"{name}={brief(value)} is a {type(value).__name__}; valid: a string naming the run")
    return value


def check_rejection_threshold(rejection_threshold, name: str = "rejection_threshold") -> float | None:
    """The step-rejection threshold as a float, or None (no step is undone): a number >= 0 (a step
    whose training loss rises above ``(1 + threshold)`` times the loss before it is undone; a
    negative one would undo every step, so nothing would ever train). ``name``: how the error
    names it (the scheduler reads it from its policy's ``env_options``)."""
    if rejection_threshold is None:
        return None
    if not (is_real(rejection_threshold) and rejection_threshold >= 0):
        raise ValueError(f"{name}={brief(rejection_threshold)} {range_or_type(rejection_threshold)}; "
                         "valid: None or a number >= 0 (e.g. 0.04: undo a step that raises the loss by over 4 %)")
    return real_float(rejection_threshold)


def check_factors(factors, name: str = "factors") -> np.ndarray:
    """The discrete action's factors as a float64 array, if a non-empty 1-D array of positive
    numbers: an array-like of integers or floats (a NumPy array, a torch tensor), or a sequence of
    reals (a list, a tuple; Fractions and 0-d arrays too) — not bools, strings, mappings or
    one-shot iterators."""
    array = None
    try:
        if hasattr(factors, "__array__"):  # an array (NumPy's, torch's, ...): judged by its dtype
            values = np.asarray(factors)
            if values.dtype.kind in "iuf":
                array = values.astype(np.float64)
        elif isinstance(factors, Sequence) and not isinstance(factors, (str, bytes)):
            if all(is_real(f) for f in factors):
                array = np.asarray([float(f) for f in factors], dtype=np.float64)
    except (TypeError, ValueError, RuntimeError, OverflowError):  # ragged, not convertible (a tensor needing grad), > max float
        array = None
    if array is None or array.ndim != 1 or len(array) == 0 or not np.all((array > 0) & (array < math.inf)):
        raise ValueError(f"{name}={brief(factors)} invalid; valid: a non-empty sequence of finite positive numbers "
                         f"(default {DEFAULT_FACTORS})")
    return array
