"""What the speed benchmarks measure, shared by ``benchmarks/report.py`` and the pytest-benchmark
suite (``benchmarks/test_speed.py``).

For each family a reference configuration (the core and families issues'): the env id, its
``family_options``, a stable constant learning rate, and the NumPy / PyTorch reference
implementations of the same training loop (``benchmarks/reference_*.py``). Every *runner* below
returns a zero-argument function that performs one unit of work and returns how many env steps
it did (1, or ``num_envs`` for a vector env); one env step is ``inner_steps`` = 10 minibatch
updates plus the step's evaluation.

* ``single``: ``gym.make(id, ...)`` (gymnasium's wrappers included), one instance, stepping only
  (horizon 10⁹, the action that keeps the LR);
* ``single_resets``: the same with the default horizon (50) and a fresh instance drawn from the
  training set at every reset — what an RL agent sees, task building included;
* ``kernel``: the family kernel alone, 64 times per call in one compiled loop over one
  instance (no env bookkeeping) — the floor for the vector env;
* ``vector``: ``LRControlVectorEnv`` with 64 sub-envs, each on its own instance (what
  ``gym.make_vec`` gives), or all on one shared instance (``shared=True``), serial or ``prange``;
  ``resets=True``: default horizon, new instances drawn at the automatic resets;
* ``sb3_adapter`` / ``sb3_dummy``: SB3's ``VecEnv`` API over 64 envs, through :mod:`lrgym.sb3`
  or SB3's own ``DummyVecEnv`` over 64 ``gym.make`` envs;
* ``numpy`` / ``torch``: the references on one instance (PyTorch pinned to one thread).
"""

from __future__ import annotations

import os

# one core per implementation: NumPy's BLAS (also used inside the MLP kernel) and torch
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import importlib
import time
from dataclasses import dataclass, field

import numpy as np

N_ENVS = 64
INNER_STEPS = 10
KEEP = 2  # discrete action with factor 1.0: the LR stays at lr_init


@dataclass(frozen=True)
class FamilyBench:
    name: str
    env_id: str
    options: dict
    lr: float
    reference: str  # module with NumpyX / TorchX classes
    numpy_class: str
    torch_class: str
    #: targets from the issues: minimum single-env steps/s and ratios to NumPy and PyTorch
    targets: dict = field(default_factory=dict)


FAMILIES: dict[str, FamilyBench] = {
    "linreg": FamilyBench(
        "linreg", "LRControl-LinReg-v1",
        dict(dim=32, batch_size=64, n_train=2048, streaming=False, dataset="synthetic"),
        0.01, "benchmarks.reference_linreg", "NumpyLinReg", "TorchLinReg",
        targets=dict(steps_per_s=30_000, numpy=5.0, torch=50.0),
    ),
    "mlp": FamilyBench(
        "mlp", "LRControl-MLP-v1",
        dict(dataset="teacher", input_dim=64, n_classes=10, hidden=64, depth=1, activation="tanh",
             batch_size=64, n_train=4096, init="torch", label_noise=0.0),
        0.002, "benchmarks.reference_mlp", "NumpyMLP", "TorchMLP",
        targets=dict(numpy=1.2, torch=2.5),
    ),
    "recsys": FamilyBench(
        "recsys", "LRControl-Recsys-v1",
        dict(n_users=2000, n_items=1000, rank=16, batch_size=64, n_negatives=3),
        0.1, "benchmarks.reference_recsys", "NumpyRecsys", "TorchRecsys",
        targets=dict(numpy=5.0, torch=20.0),
    ),
    "quadratic": FamilyBench(
        "quadratic", "LRControl-Quadratic-v1",
        dict(dim=32, condition=100.0, scale=1.0, noise=0.1, batch_size=16, rotate=True),
        0.5, "benchmarks.reference_quadratic", "NumpyQuadratic", "TorchQuadratic",
    ),
}


def _env_kwargs(fam: FamilyBench, horizon: int | None = 10**9) -> dict:
    kw = dict(family_options=fam.options, lr_init=fam.lr, inner_steps=INNER_STEPS)
    if horizon is not None:
        kw["horizon"] = horizon
    return kw


def reference_task(fam: FamilyBench):
    """Instance 0 of the family with the benchmark options (the references' and single env's)."""
    from lrgym.tasks import make_family

    family = make_family(fam.name, **fam.options)
    return family.build(family.sample(0))


# ---- runners ---------------------------------------------------------------------------------


def single(fam: FamilyBench):
    import gymnasium as gym

    import lrgym  # noqa: F401

    env = gym.make(fam.env_id, **_env_kwargs(fam))
    env.reset(seed=0, options={"instance": 0})

    def step():
        _, _, terminated, truncated, _ = env.step(KEEP)
        if terminated or truncated:
            env.reset()
        return 1

    return step


def single_resets(fam: FamilyBench):
    """Default horizon, a new training-set instance at every reset (task building included)."""
    import gymnasium as gym

    import lrgym  # noqa: F401

    env = gym.make(fam.env_id, **_env_kwargs(fam, horizon=None))
    env.reset(seed=0)

    def step():
        _, _, terminated, truncated, _ = env.step(KEEP)
        if terminated or truncated:
            env.reset()
        return 1

    return step


def vector(fam: FamilyBench, parallel: bool = False, shared: bool = False, n: int = N_ENVS, resets: bool = False):
    from lrgym.vector import LRControlVectorEnv

    kwargs = _env_kwargs(fam, horizon=None if resets else 10**9)
    env = LRControlVectorEnv(n, family=fam.name, parallel=parallel, **kwargs)
    env.reset(seed=0, options={"instance": 0} if shared else None)
    actions = np.full(n, KEEP)
    env.step(actions)

    def step():
        env.step(actions)
        return n

    step.env = env
    return step


def sb3_adapter(fam: FamilyBench, n: int = N_ENVS):
    """``lrgym.sb3.make_sb3_vec_env`` (the SB3 ``VecEnv`` over the vector env), 64 instances."""
    from lrgym.sb3 import make_sb3_vec_env

    # render_mode None: as the gym.make envs it is compared with (make_vec_env's rgb_array default records frames)
    venv = make_sb3_vec_env(fam.env_id, n_envs=n, seed=0, render_mode=None, **_env_kwargs(fam))
    venv.reset()
    actions = np.full(n, KEEP)

    def step():
        venv.step_async(actions)
        venv.step_wait()
        return n

    return step


def sb3_dummy(fam: FamilyBench, n: int = N_ENVS):
    """SB3's own ``DummyVecEnv`` over 64 single envs (``gym.make``), 64 instances."""
    import gymnasium as gym
    from stable_baselines3.common.vec_env import DummyVecEnv

    import lrgym  # noqa: F401

    venv = DummyVecEnv([lambda: gym.make(fam.env_id, **_env_kwargs(fam)) for _ in range(n)])
    venv.seed(0)
    venv.reset()
    actions = np.full(n, KEEP)

    def step():
        venv.step_async(actions)
        venv.step_wait()
        return n

    return step


def kernel(fam: FamilyBench, n: int = N_ENVS):
    """The family kernel on one instance, ``n`` times per call in the vector env's compiled loop."""
    from numba.typed import List

    from lrgym.features import M_CAP, N_MEMORY
    from lrgym.optim import OptimizerConfig
    from lrgym.tasks.base import N_STATS
    from lrgym.tasks.batched import kernel_address, kernel_args, kind_of, run_serial

    task = reference_task(fam)
    state = task.new_state(np.random.default_rng(0))
    kind = kind_of(task)
    item = kind.item(task, state)
    cfg = OptimizerConfig("sgd")
    stats = np.zeros((n, N_STATS))
    memory = np.zeros((n, N_MEMORY))
    memory[:, M_CAP] = 1e300
    caps = memory[:, M_CAP]  # each env's loss cap, as the vector env passes it
    items = List([item] * n)
    addr = kernel_address(kind.kernel, kernel_args(item, fam.lr, INNER_STEPS, cfg.code, cfg.hyper(), 1e300, stats[0]))
    idx, active, lrs = np.arange(n), np.ones(n, dtype=np.bool_), np.full(n, fam.lr)
    hyper = cfg.hyper()

    def step():
        run_serial(items, addr, idx, active, lrs, INNER_STEPS, cfg.code, hyper, caps, stats)
        return n

    step.call = (run_serial, items, addr, idx, active, lrs, INNER_STEPS, cfg.code, hyper)  # for the tests
    step.stats, step.memory = stats, memory
    return step


def vector_overhead(fam: FamilyBench, n: int = N_ENVS, seconds: float = 0.3, blocks: int = 5) -> tuple[float, float]:
    """(µs per env step of a 64-env vector step, µs per env step inside its compiled kernel call),
    on one shared instance, 1 thread, thread CPU time: their difference is the vector env's own
    per-env cost (actions, LR update, features and rewards, infos, Python)."""
    import lrgym.tasks.batched as vector_module  # the vector env calls batched.run_serial through the module

    step = vector(fam, shared=True, n=n)
    inner = vector_module.run_serial
    spent = [0.0]

    def timed(*args):
        t = time.thread_time()
        inner(*args)
        spent[0] += time.thread_time() - t

    vector_module.run_serial = timed
    try:
        best = None
        for _ in range(blocks):
            spent[0] = 0.0
            k, start = 0, time.thread_time()
            while time.thread_time() - start < seconds:
                k += step()
            total = time.thread_time() - start
            row = (1e6 * total / k, 1e6 * spent[0] / k)
            if best is None or row[0] < best[0]:
                best = row
        return best
    finally:
        vector_module.run_serial = inner


def _reference(fam: FamilyBench, which: str):
    module = importlib.import_module(fam.reference)
    cls = getattr(module, fam.numpy_class if which == "numpy" else fam.torch_class)
    task = reference_task(fam)
    ref = cls(task, task.init_params(np.random.default_rng(0)))

    def step():
        ref.env_step(fam.lr, INNER_STEPS)
        return 1

    return step


def numpy_ref(fam: FamilyBench):
    return _reference(fam, "numpy")


def torch_ref(fam: FamilyBench):
    import torch

    torch.set_num_threads(1)
    return _reference(fam, "torch")


def numpy_direct(fam: FamilyBench):
    """Linear regression only: the NumPy reference evaluating its losses over the rows."""
    from benchmarks.reference_linreg import NumpyLinReg

    task = reference_task(fam)
    ref = NumpyLinReg(task, task.init_params(np.random.default_rng(0)), eval="direct")

    def step():
        ref.env_step(fam.lr, INNER_STEPS)
        return 1

    return step


# ---- timing ----------------------------------------------------------------------------------


def rate(step, seconds: float = 0.3, blocks: int = 5, warmup: float = 0.1, stat=max, clock=time.thread_time) -> float:
    """Env steps per second of ``step``: the best of ``blocks`` timed blocks of ≈``seconds``.

    ``clock`` is the calling thread's CPU time by default: a single-threaded implementation's
    rate per core-second it actually ran, unaffected by other processes taking turns on the core
    (they still share caches and memory bandwidth). Multi-threaded rows pass
    ``clock=time.perf_counter`` (wall clock). Other processes only ever slow a block down, so the
    best block is the least disturbed estimate. (Rows whose cost comes in bursts, such as resets,
    pass long blocks and ``stat=statistics.median``.)
    """
    end = time.perf_counter() + warmup
    while time.perf_counter() < end:
        step()
    rates = []
    for _ in range(blocks):
        n, start = 0, clock()
        while True:
            n += step()
            elapsed = clock() - start
            if elapsed >= seconds:
                break
        rates.append(n / elapsed)
    return stat(rates)


def cpu_pressure() -> float:
    """The share of the last 10 s in which some runnable task waited for a CPU (Linux PSI), %."""
    try:
        with open("/proc/pressure/cpu") as f:
            return float(f.readline().split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return float("nan")


# ---- the default ids as RL clients see them: resets and instance building included --------------

#: every registered id, for the vector-env-vs-SyncVectorEnv rows and gymnasium's benchmark_step
DEFAULT_IDS = (
    "LRControl-v1", "LRControl-LinReg-v1", "LRControl-Quadratic-v1", "LRControl-MLP-v1",
    "LRControl-Digits-v1", "LRControl-BreastCancer-v1", "LRControl-Recsys-v1",
)
ROLLOUT_STEPS = 100  # vector steps per timed round: two default episodes (horizon 50) per env


def id_rollouts(env_id: str, n: int, mode: str, first_seed: int = 1_000):
    """One call = ``reset(seed=s)`` and ``ROLLOUT_STEPS`` vector steps of ``gym.make_vec(env_id,
    n, vectorization_mode=mode)`` at the default settings (horizon 50: every sub-env builds a new
    training instance at its reset and at its autoreset), keeping the LR. Call k uses seed
    ``first_seed + k·n`` for either ``mode``, so ``"sync"`` (gymnasium's SyncVectorEnv) and
    ``"vector_entry_point"`` (lrgym's vector env) do exactly the same episodes, instance builds
    included, and the ratio of their rates is the vector env's own gain. Returns env steps."""
    import gymnasium as gym

    import lrgym  # noqa: F401

    envs = gym.make_vec(env_id, num_envs=n, vectorization_mode=mode)
    actions = np.full(n, KEEP)
    calls = [0]

    def run():
        envs.reset(seed=first_seed + calls[0] * n)
        calls[0] += 1
        for _ in range(ROLLOUT_STEPS):
            envs.step(actions)
        return n * ROLLOUT_STEPS

    run.envs = envs
    return run


def warm_up(env_id: str, mode: str) -> None:
    """Load every compiled kernel an id can need, once per process: one sub-env on a train
    instance of each kind (family, streaming or not, data set, depth) among the first 400.

    lrgym's vector env types a batched kernel and a ``numba.typed.List`` per kernel kind the
    first time a kind appears in the process (not cached on disk: ≈ 2 CPU-s for all 21 kinds of
    LRControl-v1, ``benchmarks/vector_warm_up.py``), and the typed lists' item operations the
    first time a sub-env moves from one kind to another (cached helpers of
    ``lrgym.tasks.batched``: compiled, ≈ 14 CPU-s for LRControl-v1's 21 kinds on a 2.6 GHz Xeon
    VM, only where Numba's disk cache is cold or stale after an edit of lrgym): so every sub-env is then reset onto
    another kind. A short timed run that met either would measure that one-time cost instead of
    the steady rate."""
    import gymnasium as gym

    import lrgym  # noqa: F401

    family = gym.spec(env_id).kwargs
    from lrgym.tasks import make_family
    from lrgym.vector.warm import kind_instances

    fam = make_family(family["family"], **family.get("family_options", {}))
    picks = kind_instances(fam, range(400))
    envs = gym.make_vec(env_id, num_envs=len(picks), vectorization_mode=mode, horizon=2, inner_steps=1)
    envs.reset(seed=0, options={"instance": picks} if mode != "sync" else None)
    if mode == "sync":  # SyncVectorEnv takes no per-env options: reset each sub-env on its pick
        for env, k in zip(envs.envs, picks):
            env.reset(seed=0, options={"instance": k})
    for _ in range(3):
        envs.step(np.full(len(picks), KEEP))
    if mode != "sync" and len(picks) > 1:  # every sub-env changes kind: the kernel groups' typed
        shifted = picks[1:] + picks[:1]  # lists remove, pop and set
        envs.reset(seed=1, options={"instance": shifted})  # items (compiled in-process on first use)
        envs.step(np.full(len(picks), KEEP))
    envs.close()


def vector_vs_sync(env_id: str, n: int, rounds: int, clock=time.thread_time) -> dict[str, float]:
    """Env steps/s of SyncVectorEnv and lrgym's vector env on ``env_id`` with ``n`` envs, in
    interleaved rounds over the same seeds, after :func:`warm_up` and one warm-up round each."""
    runs = {mode: id_rollouts(env_id, n, mode) for mode in ("sync", "vector_entry_point")}
    for mode in runs:
        warm_up(env_id, mode)
        id_rollouts(env_id, n, mode, first_seed=900_000)()
    spent = {mode: 0.0 for mode in runs}
    done = {mode: 0 for mode in runs}
    for _ in range(rounds):
        for mode, run in runs.items():
            start = clock()
            done[mode] += run()
            spent[mode] += clock() - start
    return {mode: done[mode] / spent[mode] for mode in runs}


def gymnasium_benchmark_step(env_id: str, seconds: float = 5.0) -> float:
    """gymnasium's own ``benchmark_step`` on ``gym.make(env_id)``: random actions, default
    settings, resets (new instances) included; wall clock, after :func:`warm_up` (SyncVectorEnv's
    sub-envs are ``gym.make`` envs: it loads every single-env kernel the id can need, which a
    cold Numba cache would otherwise compile inside the timed seconds) and a short warm-up."""
    import gymnasium as gym
    from gymnasium.utils.performance import benchmark_step

    import lrgym  # noqa: F401

    warm_up(env_id, "sync")
    env = gym.make(env_id)
    benchmark_step(env, target_duration=0.5)
    return benchmark_step(env, target_duration=seconds)
