"""``LRControlVectorEnv``: N learning-rate-control environments stepped by one compiled call.

Each sub-environment is an :class:`~lrgym.env.LRControlEnv` (same arguments, same instances,
same seeds); the vector env only replaces the per-environment Python work of a step. A step is

1. the new learning rates of all sub-environments from the batch of actions (one compiled loop,
   the single env's formula),
2. per kernel kind (:mod:`lrgym.tasks.batched`; one kind for a single-family id, up to five for
   ``LRControl-v1``), **one** compiled call that runs every sub-environment's inner training with
   the family's own ``run_*`` kernel,
3. one compiled loop computing the observation features and rewards
   (:func:`lrgym.env.observe`, the single env's function),

so N sub-environments with seeds s₀, …, s_{N−1} produce exactly — to the bit — what N
:class:`LRControlEnv` with the same seeds and actions produce, including across automatic resets
(``tests/test_vector.py`` checks it). Resets go through the sub-environments' own
:meth:`LRControlEnv.reset`, so instance sampling, initial parameters and reset infos are theirs.

Gymnasium 1.x vector API: ``num_envs``, batched ``observation_space`` / ``action_space``,
``single_observation_space`` / ``single_action_space``, ``reset(seed=int | list | None,
options=...)``, ``step(actions)`` returning batched arrays and infos in gymnasium's vector
format (every key an array over sub-environments plus a boolean mask ``"_key"``).
``metadata["autoreset_mode"]`` is ``AutoresetMode.NEXT_STEP`` by default (gymnasium's default,
required by its vector observation wrappers); ``SAME_STEP`` (infos carry ``final_obs`` and
``final_info``) and ``DISABLED`` (reset finished sub-environments with
``reset(options={"reset_mask": mask})``) are available.

Threads: ``parallel=True`` runs the sub-environments of a kind in a Numba ``prange`` loop
(threads from Numba's pool; ``numba.set_num_threads`` or ``NUMBA_NUM_THREADS`` set how many).
It is opt-in: with two cores it nearly doubles the rate on an idle machine, but loses when the
other core is busy (see ``benchmarks/RESULTS.md``). Results do not depend on it.

Example::

    import gymnasium as gym
    import lrgym

    envs = gym.make_vec("LRControl-LinReg-v1", num_envs=64, vectorization_mode="vector_entry_point")
    obs, infos = envs.reset(seed=0)            # sub-env i is seeded with 0 + i
    obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from typing import Any, Sequence

import numba
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from lrgym.env import LRControlEnv, observe
from lrgym.features import M_CAP, N_FEATURES, N_MEMORY
from lrgym.info import INFO_SCHEMA
from lrgym.tasks import make_family
from lrgym.tasks.base import (
    N_STATS,
    S_BATCH_LOSS,
    S_DIVERGED,
    S_GRAD_COS,
    S_GRAD_DOT,
    S_GRAD_NORM,
    S_LOSS_VAR,
    S_TRAIN_LOSS,
    S_UPDATES,
    S_VAL_LOSS,
    S_VAL_METRIC,
    TaskFamily,
)
from lrgym.tasks.batched import (
    FALLBACK,
    append_item,
    check_item,
    kernel_address,
    kernel_args,
    kind_of,
    new_items,
    remove_item,
    run_parallel,
    run_serial,
    set_item,
)

__all__ = ["LRControlVectorEnv", "vector_entry_point"]

#: info keys whose values are fixed for an env's lifetime (LRControlEnv._constant_info's order)
_CONSTANT_KEYS = ("horizon", "inner_steps", "lr_min", "lr_max", "optimizer", "action_mode")
#: the other info keys: they change with the step or the episode
_EPISODE_KEYS = tuple(k for k in INFO_SCHEMA if k not in _CONSTANT_KEYS)

#: tasks kept built across all sub-environments (least recently used dropped first)
SHARED_TASK_CACHE = 64


# ---- compiled helpers (no fast-math: these must round exactly like the single env) ----------


@numba.njit(cache=True)
def _next_lrs_discrete(actions, active, factors, lr, lr_min, lr_max):
    for e in range(lr.shape[0]):
        if active[e]:
            lr[e] = min(lr_max, max(lr_min, lr[e] * factors[actions[e]]))


@numba.njit(cache=True)
def _next_lrs_log(actions, active, lr, log_lr_min, log_lr_max):
    for e in range(lr.shape[0]):
        if active[e]:
            lr[e] = 10.0 ** (log_lr_min + 0.5 * (actions[e] + 1.0) * (log_lr_max - log_lr_min))


@numba.njit(cache=True)
def _valid_discrete(actions, active, k):
    for e in range(actions.shape[0]):
        if active[e] and not (0 <= actions[e] < k):
            return False
    return True


@numba.njit(cache=True)
def _valid_integral(actions, active, k):
    for e in range(actions.shape[0]):
        a = actions[e]
        if active[e] and not (0.0 <= a < k and math.floor(a) == a):
            return False
    return True


@numba.njit(cache=True)
def _valid_box(actions, active):
    for e in range(actions.shape[0]):
        a = actions[e]
        if active[e] and not (-1.0 <= a <= 1.0):  # also catches NaN
            return False
    return True


@numba.njit(cache=True)
def _observe_all(
    active, stats, memory, t, updates, horizon, max_steps, lr, reward_code, reward_params, obs,
    rewards, terminated, truncated,
):
    """The single env's step bookkeeping after its kernel ran, for every active env."""
    for e in range(stats.shape[0]):
        if not active[e]:
            continue
        updates[e] += int(stats[e, S_UPDATES])
        t[e] += 1
        rewards[e] = observe(stats[e], memory[e], t[e], horizon, lr[e], reward_code, reward_params, obs[e])
        term = stats[e, S_DIVERGED] > 0.0
        terminated[e] = term
        truncated[e] = ((not term) and t[e] >= horizon) or (max_steps > 0 and t[e] >= max_steps)


def _layout(item: tuple) -> tuple:
    """What decides an item's Numba type, cheaply (``numba.typeof`` of a nested tuple of 20 arrays
    costs milliseconds): per element its Python type, and for arrays dtype, ndim, layout, flags."""
    out = []
    for part in item:
        for x in part:
            if isinstance(x, np.ndarray):
                f = x.flags
                out.append((x.dtype.str, x.ndim, f.c_contiguous, f.f_contiguous, f.writeable, f.aligned))
            else:
                out.append(type(x))
    return tuple(out)


class _Group:
    """The sub-environments of one kernel kind (and item type): a typed list of kernel-argument
    tuples, their vector indices, and the address of the kernel's compiled code."""

    def __init__(self, kind, addr: int):
        self.kind = kind
        self.addr = addr
        self.items = None  # numba.typed.List, created on the first append (its type is the item's)
        self.envs: list[int] = []
        self.env_idx = np.zeros(0, dtype=np.int64)

    def __len__(self):
        return len(self.envs)


class LRControlVectorEnv(VectorEnv):
    """``num_envs`` :class:`~lrgym.env.LRControlEnv` stepped together by compiled batched kernels.

    ## Arguments

    ``num_envs`` (≥ 1); ``parallel`` (default False): run each kernel kind's sub-environments in
    a Numba ``prange`` loop; ``autoreset_mode``: ``AutoresetMode.NEXT_STEP`` (default),
    ``SAME_STEP`` or ``DISABLED`` (or their string values); ``max_episode_steps`` (optional, as
    gymnasium's ``TimeLimit``: also truncate after that many steps); every other keyword is an
    :class:`~lrgym.env.LRControlEnv` argument, shared by all sub-environments (``family``,
    ``family_options``, ``instance_set``, ``optimizer``, ``action_mode``, ``horizon``,
    ``inner_steps``, ``reward``, ...). Sub-environments may draw instances of different sizes and
    families (``LRControl-v1``).

    ## Spaces

    ``single_observation_space`` / ``single_action_space`` are the sub-environment's;
    ``observation_space`` is ``Box(num_envs, 12)`` and ``action_space`` ``MultiDiscrete`` (discrete
    mode) or ``Box(num_envs, 1)`` (``log_lr``), as gymnasium's ``batch_space`` makes them.

    ## Seeding

    ``reset(seed=s)`` with an int seeds sub-environment i with ``s + i`` (gymnasium's
    convention); a sequence gives one seed (or None) per sub-environment; ``None`` leaves them
    unseeded (fresh entropy on the first reset, else continue). Sub-environment i then behaves
    exactly as ``LRControlEnv(...).reset(seed=s_i)`` followed by the same actions, with automatic
    resets drawing from its own generator like a single env's ``reset()``.

    ## Reset options

    ``instance``: an instance seed for every sub-environment, or a sequence of N;
    ``lr_init``: as for the single env; ``reset_mask``: a bool array (N,) — reset only these.

    ## Step

    Returns ``(obs (N, 12) float32, rewards (N,) float64, terminated (N,) bool, truncated (N,)
    bool, infos)``. ``infos`` holds the single env's fixed info schema (:mod:`lrgym.info`: the
    same 22 keys at every reset and step) as arrays of the schema's dtypes (float64, int64,
    bool) over the sub-environments, each with its ``_key`` mask (all True after a step; after a
    masked ``reset`` True for the sub-environments it reset). A sub-environment reset within a
    step (autoreset) reports its reset info there, as ``SyncVectorEnv`` does. Stepping with an action outside the space raises
    ``ValueError`` (as the single env does) and changes nothing.

    ## Version History

    * v1: the fixed info schema (every key at every step, integer ``family``).
    * v0: initial release.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        *,
        parallel: bool = False,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        **env_kwargs: Any,
    ):
        if not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r} out of range; valid: an integer >= 1")
        try:
            mode = autoreset_mode if isinstance(autoreset_mode, AutoresetMode) else AutoresetMode(autoreset_mode)
        except ValueError:
            raise ValueError(
                f"unknown autoreset_mode {autoreset_mode!r}; valid choices: "
                + ", ".join(m.value for m in AutoresetMode)
            ) from None
        if max_episode_steps is not None and (not isinstance(max_episode_steps, (int, np.integer)) or max_episode_steps < 1):
            raise ValueError(f"max_episode_steps={max_episode_steps!r} out of range; valid: None or an integer >= 1")
        self.num_envs = int(num_envs)
        self.parallel = bool(parallel)
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self.max_episode_steps = None if max_episode_steps is None else int(max_episode_steps)
        self.render_mode = None
        if env_kwargs.get("render_mode") is not None:
            raise ValueError(f"unknown render_mode {env_kwargs['render_mode']!r}; valid choices: None")

        kwargs = dict(env_kwargs)
        family = kwargs.pop("family", "linreg")
        family_options = kwargs.pop("family_options", None)
        if not isinstance(family, TaskFamily):
            family = make_family(family, **(family_options or {}))
        self.family = family
        self._sub_envs = [LRControlEnv(family=family, **kwargs) for _ in range(self.num_envs)]
        self._task_cache: OrderedDict = OrderedDict()
        for env in self._sub_envs:
            env._tasks = self._task_cache  # one built task serves every sub-env that draws it
        first = self._sub_envs[0]
        self.env_kwargs = {"family": family, **kwargs}
        self.horizon = first.horizon
        self.inner_steps = first.inner_steps
        self.action_mode = first.action_mode
        self.feature_names = first.feature_names
        self.factors = first.factors
        self.lr_min, self.lr_max = first.lr_min, first.lr_max
        self.rejection_threshold = first.rejection_threshold
        self._opt_code = first._opt_code
        self._hyper = first._hyper
        self._reward_code = first._reward_code
        self._reward_params = first._reward_params
        self._log_lr_min, self._log_lr_max = first._log_lr_min, first._log_lr_max

        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        n = self.num_envs
        self._stats = np.zeros((n, N_STATS))
        self._memory = np.zeros((n, N_MEMORY))
        self._obs = np.zeros((n, N_FEATURES), dtype=np.float32)
        self._lr = np.full(n, first.lr_init)
        self._t = np.zeros(n, dtype=np.int64)
        self._updates = np.zeros(n, dtype=np.int64)
        self._rewards = np.zeros(n)
        self._terminated = np.zeros(n, dtype=np.bool_)
        self._truncated = np.zeros(n, dtype=np.bool_)
        self._rejected = np.zeros(n, dtype=np.bool_)
        self._optimal_loss = np.zeros(n)
        self._families = np.zeros(n, dtype=np.int64)  # info["family"]: index into FAMILY_NAMES
        self._instances = np.zeros(n, dtype=np.int64)
        self._episode_infos = None  # read-only copies of the two columns above, until a reset
        # the info columns fixed for the vector env's lifetime (read-only, shared by every step)
        self._constant_infos = {}
        for key, value in zip(_CONSTANT_KEYS, first._constant_info):
            column = np.full(n, value, dtype=INFO_SCHEMA[key])
            column.flags.writeable = False
            self._constant_infos[key] = column
        self._started = np.zeros(n, dtype=np.bool_)  # reset at least once
        self._autoreset = np.zeros(n, dtype=np.bool_)  # finished last step (NEXT_STEP / DISABLED)
        self._all = np.ones(n, dtype=np.bool_)
        self._ready = False  # every sub-env has been reset

        self._groups: dict[tuple, _Group] = {}
        self._slot: list[tuple[_Group, int] | None] = [None] * n
        self._fallback: dict[int, tuple] = {}  # env index -> (task, state) without a compiled kind

    # ---- sub-environments ---------------------------------------------------------------------

    def _adopt(self, i: int, obs: np.ndarray) -> None:
        """Take over sub-environment i right after its reset: episode arrays and kernel slot."""
        env = self._sub_envs[i]
        self._stats[i] = env._stats
        self._memory[i] = env._memory
        self._obs[i] = obs
        self._lr[i] = env.lr
        self._t[i] = 0
        self._updates[i] = 0
        self._rejected[i] = False
        self._optimal_loss[i] = env.task.optimal_loss
        self._families[i] = env._episode_info[0]
        self._instances[i] = env.instance
        self._episode_infos = None  # the per-episode info columns changed
        self._place(i, env.task, env.state)

    def _place(self, i: int, task, state) -> None:
        kind = kind_of(task)
        old = self._slot[i]
        self._fallback.pop(i, None)
        if kind is FALLBACK:
            if old is not None:
                self._remove(i)
            self._fallback[i] = (task, state)
            return
        item = kind.item(task, state)
        key = (kind.name, _layout(item))
        if old is not None and old[0].key == key:
            set_item(old[0].items, old[1], item)
            return
        if old is not None:
            self._remove(i)
        group = self._groups.get(key)
        if group is None:
            if not check_item(kind, item):
                warnings.warn(
                    f"lrgym.tasks.batched: the {kind.name!r} kernel's arguments changed; the vector env "
                    "falls back to a Python loop over Task.run for these tasks (correct, slower)",
                    RuntimeWarning,
                )
                if old is not None:
                    self._remove(i)
                self._fallback[i] = (task, state)
                return
            args = kernel_args(item, float(self._lr[i]), self.inner_steps, self._opt_code, self._hyper,
                               float(self._memory[i, M_CAP]), self._stats[i])
            group = self._groups[key] = _Group(kind, kernel_address(kind.kernel, args))
            group.key = key
        if group.items is None:
            group.items = new_items(item)
        else:
            append_item(group.items, item)
        group.envs.append(i)
        group.env_idx = np.array(group.envs, dtype=np.int64)
        self._slot[i] = (group, len(group.envs) - 1)

    def _remove(self, i: int) -> None:
        group, pos = self._slot[i]
        last = len(group.envs) - 1
        remove_item(group.items, pos)
        if pos != last:
            moved = group.envs[last]
            group.envs[pos] = moved
            self._slot[moved] = (group, pos)
        group.envs.pop()
        group.env_idx = np.array(group.envs, dtype=np.int64)
        self._slot[i] = None

    def sub_env(self, i: int) -> LRControlEnv:
        """Sub-environment i as a single env, its step state brought up to date (for inspection)."""
        env = self._sub_envs[i]
        if self._started[i]:
            env._stats[:] = self._stats[i]
            env._memory[:] = self._memory[i]
            env._obs[:] = self._obs[i]
            env.lr = float(self._lr[i])
            env.t = int(self._t[i])
            env.updates = int(self._updates[i])
            env._done = bool(self._terminated[i] or self._truncated[i])
        return env

    @property
    def envs(self) -> tuple[LRControlEnv, ...]:
        """The sub-environments (brought up to date; stepping them directly desynchronises the vector env)."""
        return tuple(self.sub_env(i) for i in range(self.num_envs))

    def get_attr(self, name: str) -> tuple:
        """``getattr`` of every sub-environment (as ``SyncVectorEnv.get_attr``)."""
        return tuple(getattr(env, name) for env in self.envs)

    def set_attr(self, name: str, values) -> None:
        """Set an attribute on every sub-environment (one value, or a sequence of N)."""
        if not isinstance(values, (list, tuple)):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError(f"set_attr needs one value or {self.num_envs} values, got {len(values)}")
        for env, value in zip(self._sub_envs, values):
            setattr(env, name, value)

    def call(self, name: str, *args, **kwargs) -> tuple:
        """Call a method (or read an attribute) of every sub-environment."""
        out = []
        for env in self.envs:
            fn = getattr(env, name)
            out.append(fn(*args, **kwargs) if callable(fn) else fn)
        return tuple(out)

    @property
    def np_random(self) -> tuple[np.random.Generator, ...]:
        """The sub-environments' generators."""
        return tuple(env.np_random for env in self._sub_envs)

    @property
    def np_random_seed(self) -> tuple[int | None, ...]:
        return tuple(env.np_random_seed for env in self._sub_envs)

    # ---- reset ----------------------------------------------------------------------------

    def _seeds(self, seed) -> list:
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, (int, np.integer)):
            return [int(seed) + i for i in range(self.num_envs)]
        seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(
                f"If seeds are passed as a list the length must match num_envs={self.num_envs} but got length={len(seeds)}."
            )
        return seeds

    def _reset_one(self, i: int, seed=None, options=None) -> dict:
        obs, info = self._sub_envs[i].reset(seed=seed, options=options)
        self._adopt(i, obs)
        self._started[i] = True
        self._terminated[i] = False
        self._truncated[i] = False
        self._autoreset[i] = False
        return info

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict | None = None):
        """Reset all sub-environments (or those in ``options["reset_mask"]``)."""
        seeds = self._seeds(seed)
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if mask is None:
            mask = self._all
        else:
            if not isinstance(mask, np.ndarray) or mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
                raise ValueError(f"options['reset_mask'] must be a bool numpy array of shape ({self.num_envs},)")
            if not mask.any():
                raise ValueError("options['reset_mask'] must contain at least one True value")
        instance = options.pop("instance", None)
        per_env_instance = instance is not None and not isinstance(instance, (int, np.integer))
        if per_env_instance:
            instance = list(instance)
            if len(instance) != self.num_envs:
                raise ValueError(f"options['instance'] needs one int or {self.num_envs} ints, got {len(instance)}")
        infos: dict = {}
        for i in np.flatnonzero(mask):
            env_options = dict(options)
            if instance is not None:
                env_options["instance"] = instance[i] if per_env_instance else instance
            info = self._reset_one(int(i), seeds[i], env_options or None)
            self._add_reset_info(infos, info, int(i))
        self._rewards[mask] = 0.0
        return self._obs.copy(), infos

    # ---- step -----------------------------------------------------------------------------

    def _actions(self, actions, active) -> np.ndarray:
        arr = np.asarray(actions)
        n = self.num_envs
        if self.action_mode == "discrete":
            if arr.shape not in ((n,), (n, 1)):
                raise ValueError(f"actions of shape {arr.shape} invalid; valid: ({n},) integers")
            arr = arr.reshape(n)
            k = len(self.factors)
            if arr.dtype.kind in "iu":
                out = arr.astype(np.int64, copy=False)
                ok = _valid_discrete(out, active, k)
            elif arr.dtype.kind == "f":
                x = arr.astype(np.float64, copy=False)
                ok = _valid_integral(x, active, k)
                out = np.where(active, x, 0.0).astype(np.int64) if ok else None
            else:
                ok = False
            if not ok:
                raise ValueError(
                    f"invalid actions {actions!r}; valid choices: integers 0..{k - 1} "
                    f"(factors {tuple(self.factors.tolist())})"
                )
            return out
        if arr.shape not in ((n,), (n, 1)) or arr.dtype.kind not in "iuf":
            raise ValueError(f"actions of shape {arr.shape} invalid; valid: ({n}, 1) floats in [-1, 1]")
        out = arr.reshape(n).astype(np.float64)
        if not _valid_box(out, active):
            raise ValueError(f"invalid actions {actions!r}; valid: floats in [-1, 1] (NaN is not allowed)")
        return out

    def step(self, actions):
        if not self._ready:
            if not self._started.all():
                raise RuntimeError("step() called before reset(); call reset() first")
            self._ready = True
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            resetting = self._autoreset.copy()
            active = ~resetting
        else:
            if self.autoreset_mode == AutoresetMode.DISABLED and self._autoreset.any():
                raise RuntimeError(
                    "step() called on finished sub-environments "
                    f"{np.flatnonzero(self._autoreset).tolist()} with autoreset disabled; "
                    "reset them with reset(options={'reset_mask': mask}) first"
                )
            resetting = None
            active = self._all
        a = self._actions(actions, active)
        if self.action_mode == "discrete":
            _next_lrs_discrete(a, active, self.factors, self._lr, self.lr_min, self.lr_max)
        else:
            _next_lrs_log(a, active, self._lr, self._log_lr_min, self._log_lr_max)

        check_rejection = self.rejection_threshold is not None
        if check_rejection:
            before = {i: (self._state(i).copy(), self._stats[i].copy()) for i in np.flatnonzero(active)}
        self._run(active)
        self._rejected[:] = False
        if check_rejection:
            self._apply_rejection(before)
        _observe_all(
            active, self._stats, self._memory, self._t, self._updates, self.horizon,
            self.max_episode_steps or 0, self._lr, self._reward_code, self._reward_params, self._obs,
            self._rewards, self._terminated, self._truncated,
        )
        done = self._terminated | self._truncated
        infos = self._step_infos()

        if resetting is not None:  # NEXT_STEP: the envs that finished last step restart now
            for i in np.flatnonzero(resetting) if resetting.any() else ():
                info = self._reset_one(int(i))
                self._rewards[i] = 0.0
                self._add_reset_extras(infos, info, int(i))
            self._autoreset = done & active
        elif self.autoreset_mode == AutoresetMode.SAME_STEP:
            finished = np.flatnonzero(done)
            if len(finished):
                final_obs = np.full(self.num_envs, None, dtype=object)
                final_info = self._subset_infos(infos, done)
                for i in finished:
                    final_obs[i] = self._obs[i].copy()
                term, trunc = self._terminated.copy(), self._truncated.copy()
                for i in finished:
                    info = self._reset_one(int(i))
                    self._overwrite_infos(infos, info, int(i))
                self._terminated, self._truncated = term, trunc
                infos["final_obs"], infos["_final_obs"] = final_obs, done.copy()
                infos["final_info"], infos["_final_info"] = final_info, done.copy()
        else:  # DISABLED
            self._autoreset = done.copy()
        return (
            self._obs.copy(),
            self._rewards.copy(),
            self._terminated.copy(),
            self._truncated.copy(),
            infos,
        )

    def _state(self, i: int):
        return self._sub_envs[i].state

    def _run(self, active: np.ndarray) -> None:
        """The inner training of every active sub-environment: one compiled call per kind."""
        driver = run_parallel if self.parallel else run_serial
        if self.parallel:  # dynamic scheduling, one env at a time (see run_parallel)
            chunksize = numba.set_parallel_chunksize(1)
        try:
            for group in self._groups.values():
                if len(group):
                    driver(
                        group.items, group.addr, group.env_idx, active, self._lr, self.inner_steps,
                        self._opt_code, self._hyper, self._memory, self._stats,
                    )
        finally:
            if self.parallel:
                numba.set_parallel_chunksize(chunksize)
        for i, (task, state) in self._fallback.items():
            if active[i]:
                task.run(state, float(self._lr[i]), self.inner_steps, self._opt_code, self._hyper,
                         self._memory[i, M_CAP], self._stats[i])

    def _apply_rejection(self, before: dict) -> None:
        """The single env's rejection rule: undo a step whose training loss rose too much."""
        thr = self.rejection_threshold
        for i, (state_before, stats_before) in before.items():
            s = self._stats[i]
            if s[S_DIVERGED] == 0.0 and s[S_TRAIN_LOSS] > (1.0 + thr) * stats_before[S_TRAIN_LOSS]:
                self._state(i).restore(state_before)
                for k in (S_TRAIN_LOSS, S_VAL_LOSS, S_VAL_METRIC):
                    s[k] = stats_before[k]
                self._rejected[i] = True

    # ---- infos ----------------------------------------------------------------------------

    def _step_infos(self) -> dict:
        """The single env's info keys (:data:`lrgym.info.INFO_SCHEMA`, its dtypes) for every
        sub-env: columns of one copy of the stats.

        ``family`` and ``instance`` change only at resets: between resets every step returns the
        same read-only arrays for them; the constant keys (``horizon``, ...) always do.
        """
        if self._episode_infos is None:
            family, instance = self._families.copy(), self._instances.copy()
            family.flags.writeable = False
            instance.flags.writeable = False
            self._episode_infos = (family, instance)
        family, instance = self._episode_infos
        s = self._stats.copy()
        train = s[:, S_TRAIN_LOSS]
        every = np.ones(self.num_envs, dtype=np.bool_)  # one all-True mask, shared by the keys
        infos = {
            "lr": self._lr.copy(), "_lr": every,
            "train_loss": train, "_train_loss": every,
            "val_loss": s[:, S_VAL_LOSS], "_val_loss": every,
            "val_metric": s[:, S_VAL_METRIC], "_val_metric": every,
            "batch_loss": s[:, S_BATCH_LOSS], "_batch_loss": every,
            "loss_var": s[:, S_LOSS_VAR], "_loss_var": every,
            "grad_norm": s[:, S_GRAD_NORM], "_grad_norm": every,
            "grad_dot": s[:, S_GRAD_DOT], "_grad_dot": every,
            "grad_cos": s[:, S_GRAD_COS], "_grad_cos": every,
            "excess_loss": train - self._optimal_loss, "_excess_loss": every,
            "diverged": s[:, S_DIVERGED] > 0.0, "_diverged": every,
            "rejected": self._rejected.copy(), "_rejected": every,
            "updates": self._updates.copy(), "_updates": every,
            "family": family, "_family": every,
            "instance": instance, "_instance": every,
            "step": self._t.copy(), "_step": every,
        }
        for key, column in self._constant_infos.items():
            infos[key], infos["_" + key] = column, every
        return infos

    def _add_reset_info(self, infos: dict, info: dict, i: int) -> None:
        """Sub-env i's reset info into a reset's info columns (created empty, schema dtypes)."""
        if not infos:
            for key, dtype in INFO_SCHEMA.items():
                infos[key] = np.zeros(self.num_envs, dtype=dtype)
                infos["_" + key] = np.zeros(self.num_envs, dtype=np.bool_)
        for key in INFO_SCHEMA:
            infos[key][i] = info[key]
            infos["_" + key][i] = True

    def _add_reset_extras(self, infos: dict, info: dict, i: int) -> None:
        """Sub-env i was reset in this step: its info is its reset info (as SyncVectorEnv's)."""
        self._overwrite_infos(infos, info, i)

    def _overwrite_infos(self, infos: dict, info: dict, i: int) -> None:
        """Write sub-env i's (reset) info into the step's info columns (every key is there)."""
        for key in ("family", "instance"):
            if not infos[key].flags.writeable:
                infos[key] = infos[key].copy()
        for key in _EPISODE_KEYS:
            infos[key][i] = info[key]

    def _subset_infos(self, infos: dict, mask: np.ndarray) -> dict:
        """A copy of ``infos`` with every mask restricted to ``mask`` (the ``final_info``)."""
        out = {}
        for key, value in infos.items():
            if key.startswith("_"):
                out[key] = value & mask
            else:
                out[key] = value.copy()
        return out

    # ---- misc -----------------------------------------------------------------------------

    def close_extras(self, **kwargs) -> None:
        for env in self._sub_envs:
            env.close()

    def __repr__(self) -> str:
        if self.spec is None:
            return f"LRControlVectorEnv(num_envs={self.num_envs})"
        return f"LRControlVectorEnv({self.spec.id}, num_envs={self.num_envs})"


def vector_entry_point(num_envs: int = 1, **kwargs) -> LRControlVectorEnv:
    """Gymnasium's ``vector_entry_point`` for every lrgym id (what ``gym.make_vec`` calls)."""
    return LRControlVectorEnv(num_envs=num_envs, **kwargs)
