"""The single env's step in one compiled call: :func:`observe`, :func:`train_and_observe` and the
two buffers they work in.

Calling a Numba function from Python costs a fixed part plus a part per argument (an integer
≈ 15 ns, an array ≈ 40 ns: Numba wraps each array in a new memory-info record; a typed list
≈ 1 µs). An env step needs the kernel's 20 – 36 arguments, the statistics, the features' memory,
the optimizer's and the reward's parameters and the observation. So
:class:`~lrgym.env.LRControlEnv` keeps everything of an episode that a compiled step reads or
writes in two arrays made once per env (:func:`new_buffers`), and a step passes six arguments:
``train_and_observe(lr, t, updates, ints, floats, obs)``.

``floats`` (float64): the statistics (``lrgym.tasks.base.S_*``), the features' memory
(``lrgym.features.M_*``), the info's changing float entries (:data:`lrgym.info.STEP_FLOAT_KEYS`),
the optimizer's hyper-parameters, the reward's parameters and the instance's optimal loss, at the
``F_*`` offsets. The env's ``stats``, ``feature_memory`` and step values are views into it.

``ints`` (int64): the bound kernel (:class:`lrgym.tasks.batched.BoundKernel`: the address of
:func:`~lrgym.tasks.batched.bound_call` compiled for the item's type, the item's address, the
kernel's address), ``inner_steps``, the optimizer code, ``horizon``, the reward code, and two
outputs of the step (the episode's updates and step count, for the info), at the ``I_*``
offsets.
"""

from __future__ import annotations

import numba
import numpy as np

from lrgym.features import M_CAP, N_MEMORY, advance_memory, features
from lrgym.info import N_STEP_VALUES, write_step_values
from lrgym.optim import N_HYPER
from lrgym.rewards import reward
from lrgym.tasks.base import N_STATS, S_DIVERGED, S_UPDATES
from lrgym.tasks.batched import call_bound

# ---- layout of ``floats`` ----------------------------------------------------------------------
F_STATS = 0  # N_STATS statistics of the last step (the env's ``stats``)
F_MEMORY = F_STATS + N_STATS  # N_MEMORY entries of the features' memory (``feature_memory``)
F_VALUES = F_MEMORY + N_MEMORY  # the info's N_STEP_VALUES changing floats (lrgym.info.STEP_FLOAT_KEYS)
F_HYPER = F_VALUES + N_STEP_VALUES  # N_HYPER optimizer hyper-parameters (EnvSettings.hyper)
F_REWARD = F_HYPER + N_HYPER  # 2 reward parameters (EnvSettings.reward_params)
F_OPTIMAL = F_REWARD + 2  # the instance's optimal loss (info["excess_loss"] = train_loss − it)
N_FLOATS = F_OPTIMAL + 1

# ---- layout of ``ints`` ------------------------------------------------------------------------
I_CALL = 0  # address of bound_call for the item's type
I_ITEM = 1  # address of the bound item
I_KERNEL = 2  # address of the kernel's compiled specialisation
I_N_UPDATES = 3  # inner_steps
I_OPT = 4  # optimizer code
I_HORIZON = 5
I_REWARD = 6  # reward code
I_UPDATES = 7  # out: the episode's inner updates after the step (info["updates"])
I_STEP = 8  # out: the step count (info["step"])
N_INTS = 9


def new_buffers(hyper: np.ndarray, reward_params: np.ndarray, inner_steps: int, opt_code: int, horizon: int,
                reward_code: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ints, floats)`` of a new env, with the entries fixed by its settings filled in (the
    bound kernel's and the instance's entries are set at each reset: :func:`bind_episode`)."""
    floats = np.zeros(N_FLOATS)
    floats[F_HYPER:F_HYPER + N_HYPER] = hyper
    floats[F_REWARD:F_REWARD + 2] = reward_params
    ints = np.zeros(N_INTS, dtype=np.int64)
    ints[I_N_UPDATES], ints[I_OPT], ints[I_HORIZON], ints[I_REWARD] = inner_steps, opt_code, horizon, reward_code
    return ints, floats


def bind_episode(ints: np.ndarray, floats: np.ndarray, bound, optimal_loss: float) -> None:
    """Enter an episode's bound kernel (:class:`lrgym.tasks.batched.BoundKernel`) and its
    instance's optimal loss."""
    ints[I_CALL], ints[I_ITEM], ints[I_KERNEL] = bound.call_addr, bound.item_addr, bound.addr
    floats[F_OPTIMAL] = optimal_loss


@numba.njit(cache=True, nogil=True, error_model="numpy")
def observe(stats, memory, t, horizon, lr, reward_kind, reward_args, obs):
    """Features of the new state and the reward (both against the previous step's memory),
    then the memory moves on to this step."""
    features(stats, memory, t, horizon, lr, True, obs)
    r = reward(stats, memory, t, horizon, reward_kind, reward_args)
    advance_memory(stats, memory)
    return r


@numba.njit(cache=True, nogil=True, error_model="numpy")
def train_and_observe(lr, t, updates, ints, floats, obs):
    """Step ``t`` at ``lr`` of an env without rejection, in one call from Python: the bound
    kernel (``inner_steps`` updates and the evaluation, into the statistics), :func:`observe`
    (into ``obs``; the reward), the info's changing floats (:func:`lrgym.info.write_step_values`)
    and counts (``updates`` before the step + the updates run, ``t``). Returns (reward,
    diverged, updates run)."""
    stats = floats[F_STATS:F_STATS + N_STATS]
    memory = floats[F_MEMORY:F_MEMORY + N_MEMORY]
    call_bound(ints[I_CALL], ints[I_ITEM], ints[I_KERNEL], lr, ints[I_N_UPDATES], ints[I_OPT],
               floats[F_HYPER:F_HYPER + N_HYPER], memory[M_CAP], stats)
    r = observe(stats, memory, t, ints[I_HORIZON], lr, ints[I_REWARD], floats[F_REWARD:F_REWARD + 2], obs)
    write_step_values(stats, lr, floats[F_OPTIMAL], floats[F_VALUES:F_VALUES + N_STEP_VALUES])
    done = np.int64(stats[S_UPDATES])
    ints[I_UPDATES] = updates + done
    ints[I_STEP] = t
    return r, stats[S_DIVERGED] > 0.0, done
