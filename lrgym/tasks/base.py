"""The task-family contract: what an inner training problem must provide.

A *family* (linear regression, quadratic, MLP, recommender, ...) is a distribution over
*instances*. An instance is identified by an integer *instance seed*; ``family.sample(seed)``
turns it into a :class:`TaskSpec` (a frozen dataclass of plain numbers: dimensions, batch size,
noise, conditioning, data-set name) and ``family.build(spec)`` into a :class:`Task` that holds the
data arrays and the compiled training kernel. Both steps are deterministic functions of the seed.

Instance seeds are split into disjoint sets, fixed for every environment id and version:

=======  =================  ======
set      seeds              size
=======  =================  ======
train    0 – 9,999          10,000
val      10,000 – 10,199    200
test     20,000 – 20,199    200
=======  =================  ======

so a policy trained on ``train`` and tuned on ``val`` is scored on problems it never saw.

A task's training state (:class:`TrainState`) is separate from the task: parameters, optimizer
slots, step counter and the random-generator word live there, so one task can back many
episodes and an environment pickles its whole state.

Kernels write what they measured into a float64 ``stats`` array with the layout below (the
``S_*`` indices). The environment turns it into observations, rewards and ``info``.
"""

from __future__ import annotations

import dataclasses
import decimal
import math
import numbers
import sys
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from lrgym.brief import brief

#: the compile options of the families' Numba kernels: relaxed float semantics that let short
#: dot products vectorise while NaN / inf checks keep working (never ``fastmath=True``)
FAST_MATH = {"reassoc", "contract"}
DBL_MIN = sys.float_info.min  # the smallest normal float64, 2.2e-308
DBL_MAX = sys.float_info.max  # the largest finite float64, 1.8e308

INSTANCE_SETS: dict[str, range] = {
    "train": range(0, 10_000),
    "val": range(10_000, 10_200),
    "test": range(20_000, 20_200),
    # hidden instances of a grader's private suite (lrgym.leaderboard.private): picked from this
    # range with a secret key, disjoint from the public sets. ≈ 2⁶² seeds, so that no one can
    # tabulate the pool offline: an instance is recognisable from seed-independent quantities
    # (its optimum loss, for one), and a pool of 200,000 took ≈ 35 CPU-minutes to tabulate whole.
    # Below 2⁶³ so a seed stays a signed 64-bit integer (NumPy int64, SQLite INTEGER, infos).
    "private": range(2**40, 2**62),
}

# ---- layout of the per-step ``stats`` array written by every kernel --------------------------
S_TRAIN_LOSS = 0  # training objective after the updates (evaluation rows / population / f(x))
S_VAL_LOSS = 1  # validation loss after the updates
S_VAL_METRIC = 2  # validation metric (higher is better): R², accuracy, AUC, 1 − f/f0
S_BATCH_LOSS = 3  # mean minibatch loss over this step's updates
S_LOSS_VAR = 4  # mean within-minibatch variance of the per-example losses
S_GRAD_NORM = 5  # mean norm of the raw minibatch gradients
S_GRAD_DOT = 6  # mean g_k · g_{k-1} of consecutive raw minibatch gradients (hypergradient)
S_GRAD_COS = 7  # mean cosine between consecutive raw minibatch gradients
S_DIVERGED = 8  # 1.0 when a loss or parameter went non-finite or the loss passed the cap
S_UPDATES = 9  # updates actually run in this step (fewer than asked after divergence)
N_STATS = 10

STAT_NAMES = (
    "train_loss",
    "val_loss",
    "val_metric",
    "batch_loss",
    "loss_var",
    "grad_norm",
    "grad_dot",
    "grad_cos",
    "diverged",
    "updates",
)


def instance_set(name: str) -> range:
    """The seeds of an instance set, with a clear error for an unknown name (or one that is no
    str: a list was a bare ``TypeError: unhashable type``)."""
    if not isinstance(name, str) or name not in INSTANCE_SETS:
        raise ValueError(f"unknown instance_set {name!r}; valid choices: {', '.join(INSTANCE_SETS)}")
    return INSTANCE_SETS[name]


def spec_rng(family: str, instance_seed: int) -> np.random.Generator:
    """The generator a family samples an instance from: independent across families."""
    return np.random.default_rng([zlib.crc32(family.encode()), int(instance_seed)])


def data_rng(spec) -> np.random.Generator:
    """The generator an instance's synthetic data is drawn from (after :func:`spec_rng` chose the
    spec): seeded by the instance seed alone, the same for every family that uses it (linreg,
    mlp, recsys; part of their instances' bits)."""
    return np.random.default_rng([spec.instance, 7])


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A float in [low, high], log-uniform.

    Scalar ``math`` functions rather than NumPy's: NumPy's ``exp``/``log`` choose SIMD code by
    CPU (AVX2 vs AVX-512) and can differ in the last bit, which would make the same instance
    seed give slightly different specs on different machines.
    """
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def choose(rng: np.random.Generator, options: tuple):
    """``rng.choice(options)``: the same item and the same generator state afterwards, at a
    fraction of the cost (≈ 1 µs instead of ≈ 4, ≈ 11 instead of ≈ 40 with cold caches between
    two episodes). NumPy's ``Generator.choice`` of a sequence, with replacement and without
    ``p``, converts the sequence to an array and draws ``integers(0, len(options))``; this
    draws that index and skips the conversion (``tests/tasks/test_family_contract.py`` checks
    item and state against NumPy's ``choice`` on many seeds and generator states)."""
    return options[int(rng.integers(len(options)))]


def log_uniform_int(rng: np.random.Generator, low: int, high: int) -> int:
    """An integer in [low, high], log-uniform."""
    return int(min(high, max(low, round(log_uniform(rng, low, high + 0.5)))))


@dataclass(frozen=True)
class TaskSpec:
    """Plain-number description of one instance. Families subclass it with their own fields."""

    family: str
    instance: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class TrainState:
    """Everything that changes while an instance trains; all NumPy arrays, so it pickles.

    ``params`` flat parameter vector; ``slots`` (2, P) optimizer moments; ``step`` (1,) int64
    update counter; ``rng`` (1,) uint64 generator word; ``grad`` / ``prev_grad`` (P,) scratch and
    previous raw gradient (for the hypergradient features); ``scratch`` family-specific buffers.
    """

    params: np.ndarray
    slots: np.ndarray
    step: np.ndarray
    rng: np.ndarray
    grad: np.ndarray
    prev_grad: np.ndarray
    scratch: dict = field(default_factory=dict)

    def copy(self) -> "TrainState":
        return TrainState(
            self.params.copy(),
            self.slots.copy(),
            self.step.copy(),
            self.rng.copy(),
            self.grad.copy(),
            self.prev_grad.copy(),
            {k: v.copy() for k, v in self.scratch.items()},
        )

    def restore(self, other: "TrainState") -> None:
        """Copy ``other``'s values into this state's arrays (keeps the arrays' identity)."""
        for name in ("params", "slots", "step", "rng", "grad", "prev_grad"):
            getattr(self, name)[...] = getattr(other, name)
        for k, v in other.scratch.items():
            self.scratch[k][...] = v


class Task(ABC):
    """One built instance: data, initialisation and the compiled training kernel."""

    spec: TaskSpec
    n_params: int
    segments: np.ndarray  # layer boundaries [0, ..., n_params] (int64)
    #: loss at the known optimum (quadratic: 0; linear regression: least squares / σ²/2);
    #: ``nan`` where no optimum is known. ``info["excess_loss"]`` reports train_loss − this.
    optimal_loss: float = float("nan")
    #: the instance's typical training loss, which the divergence rule measures against: the
    #: expected loss over the initial-parameter distribution, E_θ₀ L(θ₀), plus (noisy quadratic)
    #: the loss minibatch noise alone holds SGD at with η = 1/L. The environment's loss cap is
    #: ``cap_factor · max(L₀, loss_scale)``, so an episode that starts by chance near the optimum
    #: (L₀ ≪ loss_scale) is not ended as "diverged" by a healthy noisy step. ``nan``: none stated
    #: (the cap is then relative to L₀ alone). Every built-in family states one.
    loss_scale: float = float("nan")
    metric_name: str = "metric"

    @abstractmethod
    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        """Initial parameters for one episode, drawn from ``rng`` (the env's ``np_random``)."""

    def new_state(self, rng: np.random.Generator) -> TrainState:
        """A fresh training state: initial parameters, zero optimizer state, a new RNG word."""
        from lrgym.rng import new_state as new_rng_state

        params = np.ascontiguousarray(self.init_params(rng), dtype=np.float64)
        p = params.shape[0]
        return TrainState(
            params=params,
            slots=np.zeros((2, p)),
            step=np.zeros(1, dtype=np.int64),
            rng=new_rng_state(rng),
            grad=np.zeros(p),
            prev_grad=np.zeros(p),
            scratch=self.new_scratch(),
        )

    def new_scratch(self) -> dict:
        """Family-specific mutable buffers (default: none)."""
        return {}

    @abstractmethod
    def run(
        self,
        state: TrainState,
        lr: float,
        n_updates: int,
        opt: int,
        hyper: np.ndarray,
        loss_cap: float,
        stats: np.ndarray,
    ) -> None:
        """Run ``n_updates`` minibatch updates at step size ``lr``, then evaluate.

        Writes every ``S_*`` entry of ``stats``. Never raises on divergence: stops updating,
        sets ``stats[S_DIVERGED] = 1`` and reports the losses it saw (possibly inf / nan).
        """

    @abstractmethod
    def evaluate(self, state: TrainState, stats: np.ndarray) -> None:
        """Fill the loss / metric entries of ``stats`` for the current parameters (no update)."""


class KernelTask(Task):
    """A task whose training step is one compiled ``run_*`` kernel, called in one place.

    The kernel's signature is ``(<head...>, lr, n_updates, opt, hyper, <tail...>, loss_cap,
    stats)``. The family writes its argument list once, in :meth:`kernel_item`: the pair
    ``(head, tail)`` of tuples holding one environment's arguments (its
    :class:`TrainState` arrays and the task's data). :meth:`run` (the single env) calls
    :attr:`kernel` with them, and the vector env's batched drivers
    (:mod:`lrgym.tasks.batched`) call the same compiled specialisation with the same tuples, so
    both run identical machine code on identical arguments.
    """

    #: the kernel kind: environments whose tasks share it run in one batched call (a family with
    #: two kernels, e.g. streaming vs finite linear regression, names them apart)
    kernel_name: str = ""
    #: run the BLAS library on one thread around the kernel (kernels that call ``np.dot``)
    single_thread_blas: bool = False

    @property
    @abstractmethod
    def kernel(self):
        """The family's Numba ``run_*`` dispatcher for this task."""

    @abstractmethod
    def kernel_item(self, state: TrainState) -> tuple[tuple, tuple]:
        """(head, tail): this environment's kernel arguments before ``lr`` and between ``hyper``
        and ``loss_cap``."""

    def run(self, state, lr, n_updates, opt, hyper, loss_cap, stats):
        head, tail = self.kernel_item(state)
        args = (*head, float(lr), int(n_updates), int(opt), hyper, *tail, float(loss_cap), stats)
        if self.single_thread_blas:
            from lrgym.tasks.blas import blas_single_thread

            with blas_single_thread():
                self.kernel(*args)
        else:
            self.kernel(*args)


def is_integer(value) -> bool:
    """A Python or NumPy integer (``True``/``False`` are not: they are options of their own)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_real(value) -> bool:
    """A real number — Python's (``numbers.Real``: int, float, ``Fraction``, ``Decimal``... ), NumPy's,
    or a 0-d NumPy array of one — but not a bool, nor a ``Decimal`` NaN (comparing one raises
    ``decimal.InvalidOperation``, so the range checks could not name it); range checks decide about
    a float NaN and infinities."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, decimal.Decimal):
        return not value.is_nan()
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iuf"
    return isinstance(value, (numbers.Real, np.integer, np.floating, decimal.Decimal))


def real_float(value) -> float:
    """A real number (:func:`is_real`) as a float, ±inf for one beyond the largest float
    (``float(10**400)`` raises a bare ``OverflowError``; JSON writes such an integer): range
    checks compare this, so an integer too large is out of range by name (the env's settings,
    the optimizer's numbers, the trainers' configs)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def plain_number(value):
    """A NumPy number (``np.int8(3)``, ``np.float32(0.5)``, ``np.bool_``) or a 0-d NumPy array of
    one as the Python number it holds; any other value as it is. A family's spec overrides pass
    through it before their checks: an ``np.int8`` option computed in int8 past its range (the
    MLP's ``n_train=np.int8(3)`` was a bare ``OverflowError`` at the build, the recommender's
    ``n_users=np.int8(3)`` never finished its build), and a 0-d array passed the checks but
    made the spec unhashable (a bare ``TypeError`` at the build)."""
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        if value.dtype.kind in "biuf":
            return value.item()
    return value


def check_options(family: str, options: dict, rules: dict) -> None:
    """Check a family's spec overrides: ``rules`` maps an option to ``(predicate, valid range in
    words)``; the first value the predicate rejects raises ``ValueError`` naming the option, the
    value and the valid range. Options without a rule are left to the family."""
    for key, (ok, valid) in rules.items():
        if key in options and not ok(options[key]):
            raise ValueError(f"{family} option {key}={brief(options[key])} out of range; valid: {valid}")


#: the most eight-byte numbers (float64 / int64) in one array a build may make: 2²⁸, 2 GiB. Every
#: sampled instance stays far below (linreg's largest data matrix is 8,192 × 256 = 2²¹ floats);
#: options that combine past it (n_train=10**7 with dim=4096: 305 GiB) are refused when the
#: family is made (:func:`check_build_size`), not met as a MemoryError deep in a build.
MAX_ARRAY_ITEMS = 2**28


def worst_case(overrides: dict, name: str, sampled_max: int) -> tuple[int, str]:
    """(value, words) of one size option at its worst: its override, else the largest value the
    family's sampling draws (``sampled_max``), said so in the words of the error message."""
    if name in overrides:
        return overrides[name], f"{name}={overrides[name]:,}"
    return sampled_max, f"{name} up to {sampled_max:,} (sampled)"


def check_build_size(family: str, terms: list[str], what: str, size: int, bound: int, unit: str = "float64s",
                     lower: str = "") -> None:
    """Refuse family options whose worst case makes ``what`` of ``size`` items (more than
    ``bound``): a ``ValueError`` naming the options (``terms``, from :func:`worst_case`), the size
    they make and the valid bound, in GiB when ``unit`` is an eight-byte number; ``what`` ends with
    the formula of the size (``"a data matrix of n_train × dim"``). ``lower`` says
    which options to change (default: lower one of the named ones)."""
    if size <= bound:
        return

    def amount(n: int) -> str:
        gib = f" ({8 * n / 2**30:,.3g} GiB)" if unit in ("float64s", "int64s") else ""
        return f"{n:,} {unit}{gib}"

    raise ValueError(
        f"{family} options {', '.join(terms)} make {what} = {amount(size)}; valid: at most {amount(bound)}"
        f" ({lower or 'lower one of them'})"
    )


class TaskFamily(ABC):
    """A distribution over instances. Subclasses set ``name`` and implement sample / build."""

    name: str = "base"
    #: defaults for the environment when this family is used alone
    default_horizon: int = 50
    default_inner_steps: int = 10
    spec_class: type = TaskSpec

    def __init__(self, **overrides):
        valid = [f.name for f in dataclasses.fields(self.spec_class) if f.name not in ("family", "instance")]
        unknown = sorted(set(overrides) - set(valid))
        if unknown:
            raise ValueError(
                f"unknown {self.name} family option(s) {unknown}; valid choices: {', '.join(valid)}"
            )
        self.overrides = {key: plain_number(value) for key, value in overrides.items()}
        self._validate_overrides()

    def _validate_overrides(self) -> None:
        """Check override values (families override this to name ranges)."""

    def instances(self, set_name: str) -> range:
        return instance_set(set_name)

    def sample(self, instance_seed: int) -> TaskSpec:
        """The spec of instance ``instance_seed``, with this family's overrides applied."""
        spec = self._sample(spec_rng(self.name, instance_seed), int(instance_seed))
        if self.overrides:
            spec = dataclasses.replace(spec, **self.overrides)
        return spec

    @abstractmethod
    def _sample(self, rng: np.random.Generator, instance_seed: int) -> TaskSpec:
        """Draw a spec from ``rng`` (no overrides)."""

    @abstractmethod
    def build(self, spec: TaskSpec) -> Task:
        """Data, initialisation rules and kernels of one instance, deterministic in ``spec``."""
