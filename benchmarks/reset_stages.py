"""Where a reset's time goes in a long ``LRControl-v1`` run, per family and stage (issue #13).

    python -m benchmarks.reset_stages                 # ≈ 1 min: one seed, 20,000 steps after 4,000
    python -m benchmarks.reset_stages --seeds 3       # three seeds, summed

One ``gym.make("LRControl-v1")`` env, random actions, a new instance every episode, as
``python -m benchmarks.resets --steady-only`` runs it (``--warm-steps`` unmeasured steps, then the
cache of built tasks is emptied and ``--steps`` steps are measured), with a step on an instance
of each kind after the warm steps (:func:`_meet_every_kind`). Stage timers (CPU time of
the env's thread) wrap the build's parts and the rest of ``LRControlEnv.reset``:

* per family: reset, build (``build_task``), the build's parts (linreg's Gaussian rows and their
  rotation, its QRs and the Haar rotation; the quadratic's Haar rotation; the recommender's
  positives, top keys, split and its (user, item) order; the MLP's data), the compiled normals
  of every family, spec sampling and the cache, the new training state, the first evaluation,
  binding the kernel, and the page faults a reset takes (``getrusage``: a fresh instance lives in
  fresh memory while the cache keeps it);
* **cold against warm**: the reset's Python and NumPy run after steps that evicted the caches.
  A second table times the same calls warm (back to back) and cold (each after a 300 × 300
  matrix product, about what an MLP step leaves in the caches): spec sampling and the data
  generator (``np.random.default_rng`` of a seed list: NumPy's ``SeedSequence``), a small NumPy
  call.

Nothing here changes lrgym: the timers are patched in for the run and taken out after.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import time
from collections import Counter, defaultdict

from benchmarks import harness as _harness  # noqa: F401  (BLAS on one thread before NumPy loads)

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import lrgym  # noqa: E402, F401  (registers the ids)
from lrgym import env as env_module  # noqa: E402
from lrgym._env_tasks import TaskSupply  # noqa: E402  (where LRControlEnv.task_for lives)
from lrgym.tasks import base as base_module  # noqa: E402
from lrgym.tasks import cache as cache_module  # noqa: E402
from lrgym.tasks import linreg, make_family, mlp, pcg64, quadratic  # noqa: E402
from lrgym.tasks.recsys import family as recsys_family  # noqa: E402
from lrgym.tasks.recsys import split as recsys_split  # noqa: E402
from lrgym.tasks.recsys import synthetic as recsys_synthetic  # noqa: E402

ENV_ID = "LRControl-v1"
FAMILIES = ("linreg", "quadratic", "mlp", "recsys")
_clock = time.thread_time

#: (module or class, attribute, stage name): the parts of a reset timed inside it
STAGES = (
    (linreg.LinRegTask, "_draw", "linreg: Gaussian rows, rotation GEMM, targets"),
    (linreg, "qr_stats", "linreg: QRs (copies, kernel, R)"),
    (linreg, "random_rotation", "linreg: Haar rotation (LAPACK QR)"),
    (quadratic, "random_rotation", "quadratic: Haar rotation (LAPACK QR)"),
    (recsys_family, "synthetic_positives", "recsys: positives (factors, scores GEMM, top keys)"),
    (recsys_synthetic, "_top_keys_streamed", "recsys: top keys (uniforms, bounds, exact keys)"),
    (recsys_family, "split_positives", "recsys: split"),
    (recsys_split, "_user_item_order", "recsys: split's (user, item) order"),
    (recsys_family.RecsysTask, "init_params", "recsys: initial parameters"),
    (mlp, "synthetic_data", "mlp: synthetic data"),
    (pcg64, "fill_standard_normal", "compiled normals (every family)"),
    (cache_module, "build_task", "build"),
    (base_module.Task, "new_state", "new training state"),
    (env_module.LRControlEnv, "_bind_kernel", "bind the kernel"),
    (env_module.LRControlEnv, "_info", "info"),
)
#: ``evaluate`` of each family's task class: the reset's first evaluation
EVALUATES = (linreg.LinRegTask, quadratic.QuadraticTask, mlp.MLPTask, recsys_family.RecsysTask)


class StageClock:
    """CPU seconds per (family, stage) of the resets run while active (patched in, restored on exit)."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.resets = Counter()
        self.faults = Counter()
        self._current: dict = {}

    def _timed(self, function, stage: str):
        current = self._current

        def timed(*args, **kwargs):
            t0 = _clock()
            try:
                return function(*args, **kwargs)
            finally:
                current[stage] = current.get(stage, 0.0) + _clock() - t0

        return timed

    @contextlib.contextmanager
    def active(self):
        saved = []
        patches = [(owner, name, stage) for owner, name, stage in STAGES]
        patches += [(cls, "evaluate", "first evaluation") for cls in EVALUATES]
        patches.append((TaskSupply, "task_for", "spec, cache and build"))
        for owner, name, stage in patches:
            original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
            saved.append((owner, name, original))
            setattr(owner, name, self._timed(getattr(owner, name), stage))
        qr_kernel = linreg.qr_kernel
        saved.append((linreg, "qr_kernel", qr_kernel))
        linreg.qr_kernel = lambda: self._timed(qr_kernel(), "linreg: QR kernel")
        reset = env_module.LRControlEnv.reset
        saved.append((env_module.LRControlEnv, "reset", env_module.LRControlEnv.__dict__["reset"]))
        clock = self

        def timed_reset(env, *args, **kwargs):
            clock._current.clear()
            f0 = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
            t0 = _clock()
            try:
                return reset(env, *args, **kwargs)
            finally:
                family = env.task.spec.family
                clock._current["reset"] = _clock() - t0
                clock.faults[family] += resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - f0
                clock.resets[family] += 1
                for stage, s in clock._current.items():
                    clock.seconds[(family, stage)] += s

        env_module.LRControlEnv.reset = timed_reset
        try:
            yield self
        finally:
            for owner, name, original in reversed(saved):
                setattr(owner, name, original)


def long_run(seed: int, warm_steps: int, steps: int, clock: StageClock) -> tuple[float, float]:
    """(CPU seconds of the measured steps, of which in resets), stages into ``clock``."""
    actions = np.random.default_rng(seed)
    env = gym.make(ENV_ID)
    env.reset(seed=seed)

    def run(n):
        for _ in range(n):
            _, _, terminated, truncated, _ = env.step(int(actions.integers(5)))
            if terminated or truncated:
                env.reset()

    run(warm_steps)
    _meet_every_kind(env)
    cache_module.shared_cache().clear()
    before = sum(v for (f, s), v in clock.seconds.items() if s == "reset")
    with clock.active():
        t0 = _clock()
        run(steps)
        total = _clock() - t0
    env.close()
    return total, sum(v for (f, s), v in clock.seconds.items() if s == "reset") - before


def _meet_every_kind(env) -> None:
    """Reset ``env`` onto one instance of each kind its resets can draw (family, streaming, data
    set, depth, activation: :func:`lrgym.vector.warm.kind_instances`), a step on each, so that
    every kernel the measured run can bind is loaded (from Numba's disk cache: ≈ 0.2 – 0.5 s for
    the first episode of a kind) before it starts, as ``benchmarks.harness.warm_up`` does for the
    vector env. The warm steps alone may not meet every kind (``LRControl-v1`` has 21), and a
    kind first met in the measured run put that one-time load into its resets' "bind the kernel"
    (a linreg reset read 0.13 ms for it in one run, 1.4 – 1.7 ms in others)."""
    from lrgym.vector.warm import kind_instances

    u = env.unwrapped
    for k in kind_instances(u.family, u.instances):
        env.reset(options={"instance": k})
        env.step(0)


def print_stages(clock: StageClock, total: float, in_resets: float, steps: int) -> None:
    n = clock.resets
    print(f"\n`{ENV_ID}`, long runs ({steps:,} measured env steps): resets {100 * in_resets / total:.1f} % of the CPU "
          f"time, {sum(n.values())} resets ({', '.join(f'{f} {n[f]}' for f in FAMILIES)})\n")
    print("| stage, CPU ms per reset of the family | " + " | ".join(FAMILIES) + " | share of all reset time |")
    print("|---|" + "---:|" * (len(FAMILIES) + 1))
    stages = ["reset", "spec, cache and build", "build"]
    for _, _, stage in STAGES:
        if stage == "new training state":
            stages.append("first evaluation")
        if stage != "build":
            stages.append(stage)
        if stage == "linreg: QRs (copies, kernel, R)":
            stages.append("linreg: QR kernel")
    for stage in stages:
        cells = []
        for f in FAMILIES:
            s = clock.seconds.get((f, stage), 0.0)
            cells.append(f"{1e3 * s / n[f]:.3f}" if s and n[f] else "")
        share = sum(clock.seconds.get((f, stage), 0.0) for f in FAMILIES) / in_resets
        print(f"| {stage} | " + " | ".join(cells) + f" | {100 * share:.1f} % |")
    print("| page faults per reset | " + " | ".join(f"{clock.faults[f] / n[f]:.0f}" for f in FAMILIES) + " | |")


def cold_and_warm(repeats: int = 300) -> dict[str, tuple[float, float]]:
    """Median µs of reset-path calls warm (back to back) and cold (each after a 300 × 300
    product that evicts the caches, as the steps between two resets do)."""
    family = make_family("mixed")
    spec = family.sample(3)
    evict = np.random.default_rng(0).standard_normal((300, 300))
    small = np.zeros(64)
    calls = {
        "spec sampling (`family.sample`)": lambda s: family.sample(s),
        "a data generator (`np.random.default_rng([seed, 7])`)": lambda s: np.random.default_rng([s, 7]),
        "`np.random.SeedSequence([seed, 7])`": lambda s: np.random.SeedSequence([s, 7]),
        "a small NumPy call (`np.sqrt` of 64 doubles)": lambda s: np.sqrt(small),
        "an instance's spec hash (cache key)": lambda s: hash(spec),
    }
    out = {}
    for name, call in calls.items():
        times = {False: [], True: []}
        for cold in (False, True):
            for s in range(repeats):
                if cold:
                    evict @ evict
                t0 = time.perf_counter()
                call(1000 + s)
                times[cold].append(time.perf_counter() - t0)
        out[name] = (1e6 * float(np.median(times[False])), 1e6 * float(np.median(times[True])))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1, help="long runs (seeds 50000, 51000, ...), summed")
    ap.add_argument("--steps", type=int, default=20_000, help="measured env steps per seed")
    ap.add_argument("--warm-steps", type=int, default=4_000, help="unmeasured env steps before each seed's run")
    args = ap.parse_args(argv)
    clock = StageClock()
    total = in_resets = 0.0
    for k in range(args.seeds):
        t, r = long_run(50_000 + 1000 * k, args.warm_steps, args.steps, clock)
        total += t
        in_resets += r
    print_stages(clock, total, in_resets, args.seeds * args.steps)
    print("\nThe reset path's Python and NumPy, warm and cold "
          "(median µs; cold: each call after a 300 × 300 product):\n")
    print("| call | warm | cold | cold / warm |")
    print("|---|---:|---:|---:|")
    for name, (warm, cold) in cold_and_warm().items():
        print(f"| {name} | {warm:.1f} | {cold:.1f} | {cold / warm:.1f}× |")


if __name__ == "__main__":
    main()
