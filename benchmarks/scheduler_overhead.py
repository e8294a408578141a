"""What ``PolicyScheduler.step(loss)`` adds to a PyTorch update, against the update itself and a
plain ``torch.optim.lr_scheduler.StepLR`` step, on MLPs of ≈ 10k, ≈ 400k and ≈ 1.3 M parameters (batch 64,
SGD, one torch thread, the ``fixed`` baseline, 10 updates per step: what every update pays).

    python -m benchmarks.scheduler_overhead                 # the table, medians of CPU time
    pytest benchmarks/test_scheduler_overhead.py --benchmark-enable   # the same, as pytest-benchmark rows

Three loops on three copies of one model and batch, alternating block by block in one process so
they see the same machine load: ``update`` (zero_grad, forward, backward, ``opt.step()``), ``steplr``
(the same and ``StepLR.step()``), ``sched`` (the same and ``sched.step(losses)``; the scheduler's
optimizer step hooks run inside ``opt.step()`` and are counted too). The overhead of a scheduler is
its row minus ``update`` (``StepLR.step()`` is also timed alone, ≈ 0.01 ms: less than the
rows' noise); ``sched / update`` is how much longer an update is with the policy's
observation than without. The parts (``flat_grad``, the statistics kernel, the zero-gradient check,
the finiteness check) are timed alone on the last update's gradient, as the audit of 2026-12-06 did.
"""

from __future__ import annotations

import time
import warnings

#: hidden width of the 2-hidden-layer MLP (64 inputs, 10 classes) → parameters
SIZES = {"10k": 88, "400k": 620, "1.3M": 1104}  # 1.3M: as many as the audit's MLP of 2026-12-06 (whose shape went unrecorded)
BATCH = 64


def mlp_loops(hidden: int, seed: int = 0) -> dict:
    """The three loops (``update``, ``steplr``, ``sched``) as callables of one update each (and
    ``steplr_alone``, the StepLR step by itself), on
    three copies of one MLP, and the ``sched`` loop's model (for the parts' timing)."""
    import copy

    import torch

    from lrgym.baselines.registry import make_baseline
    from lrgym.torch import PolicyScheduler

    torch.manual_seed(seed)
    base = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                               torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
    x, y = torch.randn(BATCH, 64), torch.randint(0, 10, (BATCH,))
    loops = {}
    for kind in ("update", "steplr", "sched"):
        model = copy.deepcopy(base)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        after = None
        if kind == "steplr":
            after = torch.optim.lr_scheduler.StepLR(opt, step_size=10**9).step
        elif kind == "sched":
            sched = PolicyScheduler(opt, make_baseline("fixed"), horizon=10**9, updates_per_step=10)
            after = sched.step

        def one(model=model, opt=opt, after=after, kind=kind):
            opt.zero_grad()
            losses = torch.nn.functional.cross_entropy(model(x), y, reduction="none")
            losses.mean().backward()
            opt.step()
            if kind == "steplr":
                after()
            elif kind == "sched":
                after(losses)
        loops[kind] = one
        if kind == "steplr":
            loops["steplr_alone"] = after
        if kind == "sched":
            loops["model"] = model
    return loops


def cpu_ms(fn, n: int) -> float:
    """Median CPU time of one call of ``fn`` over ``n`` calls, in ms."""
    times = []
    for _ in range(n):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    times.sort()
    return times[len(times) // 2] * 1e3


def parts(model, n: int = 200) -> dict:
    """The scheduler's parts alone on the model's current gradient, median CPU ms."""
    import numpy as np

    from lrgym.tasks import stats
    from lrgym.torch import _tensors

    params = list(model.parameters())
    grad = _tensors.flat_grad(params)
    prev, acc = grad.copy(), np.zeros(stats.N_ACC)
    # what the scheduler calls: since 2026-12-06 the sums alone (the monitor keeps the vector), before
    # them and the copy into prev_grad; flat_grad into a vector of the right size, before a new one
    record = getattr(stats, "accumulate_gradient_pair", stats.record_gradient_pair)
    fill = (lambda: _tensors.flat_grad(params, out=prev)) if "out" in _tensors.flat_grad.__code__.co_varnames else (
        lambda: _tensors.flat_grad(params))
    out = {"flat_grad": cpu_ms(fill, n),
           "statistics kernel": cpu_ms(lambda: record(grad, prev, True, acc), n),
           "params_finite": cpu_ms(lambda: _tensors.params_finite(params), n)}
    if hasattr(_tensors, "any_nonzero"):
        out["zero check"] = cpu_ms(lambda: _tensors.any_nonzero(grad), n)
    else:
        out["zero check"] = cpu_ms(lambda: np.any(grad), n)
    return out


def measure(hidden: int, rounds: int = 5, block: int = 40) -> dict:
    """Per loop: the median over ``rounds`` alternating blocks of each block's median CPU ms."""
    import torch

    torch.set_num_threads(1)
    loops = mlp_loops(hidden)
    model = loops.pop("model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn in loops.values():  # warm-up: compilation, allocator, caches
            for _ in range(20):
                fn()
        blocks = {k: [] for k in loops}
        for _ in range(rounds):
            for k, fn in loops.items():
                blocks[k].append(cpu_ms(fn, block))
    result = {k: sorted(v)[len(v) // 2] for k, v in blocks.items()}
    result["params"] = sum(p.numel() for p in model.parameters())
    result["parts"] = parts(model)
    return result


def main() -> None:
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m benchmarks.scheduler_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| params | update | + StepLR | + sched.step | StepLR.step() | sched.step's overhead | ÷ StepLR.step() | "
          "÷ update | flat_grad | statistics kernel | zero check | params_finite |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for hidden in SIZES.values():
        r = measure(hidden, rounds=args.rounds)
        over, steplr = r["sched"] - r["update"], r["steplr_alone"]
        p = r["parts"]
        print(f"| {r['params']:,} | {r['update']:.3f} | {r['steplr']:.3f} | {r['sched']:.3f} | {steplr:.4f} | {over:.3f} | "
              f"{over / steplr:.0f}× | {over / r['update']:.0%} | {p['flat_grad']:.3f} | {p['statistics kernel']:.3f} | "
              f"{p['zero check']:.3f} | {p['params_finite']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
