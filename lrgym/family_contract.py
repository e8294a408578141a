"""The task-family contract (``lrgym/tasks/base.py``) as one check a family must pass:
``check_family("logreg")`` for a family of your own (:func:`lrgym.tasks.register_family`), the
check every built-in family passes in lrgym's tests (``tests/tasks/test_family_contract.py``).

What it runs (seconds; a failure is a :class:`FamilyContractError`, an ``AssertionError`` naming the
family and what it broke, also under ``python -O``):

- :func:`check_specs`: ``sample`` is deterministic, a frozen dataclass of plain values, of the
  instance it was asked for, at both ends of every instance set;
- :func:`check_kernels`: ``build`` is deterministic and the same seed and LRs give the same run to
  the bit; ``Task.run`` writes every statistic; a huge LR reports divergence in the stats (never
  raises); a copied state replays its run after ``restore`` (:func:`check_replay`); the inner
  optimizer it is handed is the one it runs (:func:`check_optimizer`);
- :func:`check_env`: the same seed and actions give the same trajectory in ``LRControlEnv``, with
  finite observations.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lrgym.env import LRControlEnv
from lrgym.info import family_index
from lrgym.optim import OptimizerConfig
from lrgym.tasks import FAMILIES, make_family
from lrgym.tasks.base import INSTANCE_SETS, N_STATS, S_DIVERGED, S_TRAIN_LOSS, S_UPDATES, STAT_NAMES

__all__ = ["FamilyContractError", "check_env", "check_family", "check_kernels", "check_optimizer", "check_replay",
           "check_specs", "run_steps"]

PLAIN = (int, float, str, bool, type(None))


class FamilyContractError(AssertionError):
    """A family broke the contract: the message names it and what it broke."""


def _require(condition, message: str) -> None:
    if not condition:
        raise FamilyContractError(message)


def plain(value) -> bool:
    return isinstance(value, PLAIN) or (isinstance(value, tuple) and all(plain(v) for v in value))


def check_specs(name: str) -> None:
    family = make_family(name)
    _require(family.default_horizon >= 1 and family.default_inner_steps >= 1,
             f"{name}: default_horizon {family.default_horizon!r} and default_inner_steps "
             f"{family.default_inner_steps!r}; valid: integers >= 1")
    for set_name, seeds in INSTANCE_SETS.items():
        for k in (seeds[0], seeds[-1]):
            spec = family.sample(k)
            _require(spec == family.sample(k), f"{name}: sample({k}) is not deterministic")
            _require(dataclasses.is_dataclass(spec) and spec.__dataclass_params__.frozen,
                     f"{name}: sample({k}) is {type(spec).__name__}, no frozen dataclass (a TaskSpec subclass)")
            _require(spec.instance == k, f"{name}: sample({k}).instance is {spec.instance!r}")
            _require(spec.family in FAMILIES, f"{name}: sample({k}).family {spec.family!r} is no registered family")
            bad = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec) if not plain(getattr(spec, f.name))}
            _require(not bad, f"{name}: spec fields that are not plain numbers or strings: {bad}")


def run_steps(task, lr: float, steps: int, seed: int = 0, n_updates: int = 3, optimizer: str = "sgd", state=None):
    """(stats after each step, final state) of ``steps`` calls of Task.run (plain SGD unless
    ``optimizer``), from a new state of ``seed`` or from ``state``, which it advances."""
    opt = OptimizerConfig.coerce(optimizer)
    if state is None:
        state = task.new_state(np.random.default_rng(seed))
    stats = np.full(N_STATS, np.nan)
    task.evaluate(state, stats)
    loss_cap = 1e4 * max(stats[S_TRAIN_LOSS], 1e-12)
    out = []
    for _ in range(steps):
        stats = np.full(N_STATS, np.nan)
        task.run(state, lr, n_updates, opt.code, opt.hyper(), loss_cap, stats)
        out.append(stats.copy())
        if stats[S_DIVERGED] > 0:
            break
    return out, state


def check_kernels(name: str, instance: int) -> None:
    family = make_family(name)
    spec = family.sample(instance)
    a, b = family.build(spec), family.build(spec)
    # build is deterministic and the same seed and LRs give the same run, to the bit
    sa, state_a = run_steps(a, 1e-4, 3)
    sb, state_b = run_steps(b, 1e-4, 3)
    np.testing.assert_array_equal(np.array(sa), np.array(sb))
    np.testing.assert_array_equal(state_a.params, state_b.params)
    # every statistic is written, and a small LR stays finite
    for stats in sa:
        missing = [STAT_NAMES[i] for i in np.flatnonzero(np.isnan(stats))]
        _require(not missing, f"{name}: Task.run did not write {missing}")
        _require(stats[S_DIVERGED] == 0.0 and np.isfinite(stats).all() and stats[S_UPDATES] == 3,
                 f"{name}: 3 updates at lr=1e-4 gave stats {dict(zip(STAT_NAMES, stats.tolist()))}; valid: "
                 "finite, not diverged, updates 3")
    # divergence is reported in the stats, never raised
    big, _ = run_steps(family.build(spec), 1e6, 20)
    _require(big[-1][S_DIVERGED] == 1.0, f"{name}: lr=1e6 for 20 steps did not report divergence")
    _require(big[-1][S_UPDATES] <= 3, f"{name}: a diverged step reports {big[-1][S_UPDATES]} updates of 3")
    check_replay(name, a)
    check_optimizer(name, a)


def check_optimizer(name: str, task) -> None:
    """The family runs the inner optimizer it is handed (``opt``, ``hyper``: README, "Every family
    runs every inner optimizer"): from one state and LR, SGD, Adam and SGD with weight decay end
    at different parameters. A family that ignores them (plain SGD whatever the env asks) fails."""
    finals = {}
    for label, optimizer in (("sgd", "sgd"), ("adam", "adam"), ("sgd with weight decay", {"name": "sgd", "weight_decay": 0.5})):
        _, state = run_steps(task, 1e-3, 2, seed=3, optimizer=optimizer)
        finals[label] = state.params.copy()
    for other in ("adam", "sgd with weight decay"):
        _require(not np.array_equal(finals["sgd"], finals[other]),
                 f"{name}: {other} ran the same updates as plain SGD: Task.run ignores its opt / hyper arguments "
                 "(apply them with lrgym.optim.apply_update, as every built-in family does)")


def check_replay(name: str, task) -> None:
    """A copied training state replays its run to the bit after ``restore`` (the env undoes a
    rejected step this way), optimizer slots and generator included; another seed's run differs."""
    for optimizer in ("momentum", "adam"):
        state = task.new_state(np.random.default_rng(1))
        run_steps(task, 1e-4, 2, optimizer=optimizer, state=state)  # slots and step counter in use
        saved = state.copy()
        first, _ = run_steps(task, 1e-4, 2, optimizer=optimizer, state=state)
        first = np.concatenate(first + [state.params, state.slots.ravel()])
        state.restore(saved)
        again, _ = run_steps(task, 1e-4, 2, optimizer=optimizer, state=state)
        again = np.concatenate(again + [state.params, state.slots.ravel()])
        np.testing.assert_array_equal(first, again, err_msg=f"{name}, {optimizer}: restore did not replay the run")
        other, _ = run_steps(task, 1e-4, 4, seed=2, optimizer=optimizer)
        _require(not np.array_equal(np.concatenate(other[2:]), first[: 2 * N_STATS]), f"{name}: seed 2 ran seed 1's run")


def check_env(name: str) -> None:
    """Same seed and actions, same trajectory (to the bit); observations always finite."""
    runs = []
    for _ in range(2):
        env = LRControlEnv(family=name, horizon=3, inner_steps=2)
        obs, info = env.reset(seed=5)
        trace = [obs]
        for a in (3, 4, 0):
            obs, reward, terminated, truncated, info = env.step(a)
            trace += [obs, np.array([reward, info["train_loss"], info["lr"]])]
        runs.append(np.concatenate(trace))
        _require(np.isfinite(np.concatenate(trace[::2])).all(), f"{name}: LRControlEnv observed a non-finite feature")
        _require(env.task.spec.family in FAMILIES, f"{name}: the env's task is of family {env.task.spec.family!r}")
        # the info schema's name table, or 2**32 + the CRC-32 of a name outside it (lrgym.info.family_index)
        _require(info["family"] == family_index(env.task.spec.family), f"{name}: info['family'] {info['family']}")
    np.testing.assert_array_equal(runs[0], runs[1])


def check_family(name: str, instance: int = 0) -> None:
    """Every check of the module docstring, on family ``name`` (its ``instance`` for the kernels)."""
    check_specs(name)
    check_kernels(name, instance)
    check_env(name)
