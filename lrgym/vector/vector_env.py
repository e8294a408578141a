"""``LRControlVectorEnv``: the gymnasium vector API over N sub-environments (see :mod:`lrgym.vector`).

This module is the orchestration: construction from one :class:`~lrgym.settings.EnvSettings`,
resets (through the sub-environments' own :meth:`LRControlEnv.reset`), a step (actions →
:mod:`~lrgym.vector.actions`, batched training and bookkeeping → :mod:`~lrgym.vector.training`,
infos → :mod:`~lrgym.vector.infos`) and gymnasium's three autoreset modes.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from collections.abc import Iterable, Mapping
from typing import Any, Sequence

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.utils import seeding
from gymnasium.vector.utils import batch_space

from lrgym.env import RESET_OPTIONS, LRControlEnv
from lrgym.features import FEATURE_NAMES, M_CAP, N_FEATURES, N_MEMORY
from lrgym.keywords import check_keywords, keyword_names
from lrgym.render import RECORDED_KEYS, RENDER_FPS, RENDER_MODES, check_render_mode
from lrgym.settings import (MAX_COUNT, MAX_NUM_ENVS, SETTING_ATTRIBUTES, EnvSettings, new_env_hint, positive_int,
                            setting_keyword, with_setting_attributes)
from lrgym.spec_kwargs import jsonable_spec
from lrgym.tasks import ID_FAMILY_OPTIONS, ID_FAMILY_TARGET, with_id_options
from lrgym.tasks.ahead import check_depth
from lrgym.tasks.instance_order import first_positions, pass_sizes, warn_incomplete_pass
from lrgym.tasks.base import N_STATS
from lrgym.vector.actions import apply_actions, check_actions
from lrgym.vector.infos import InfoColumns, subset
from lrgym.vector.training import KernelGroups, observe_all, snapshot, undo_rejected

__all__ = ["LRControlVectorEnv", "vector_entry_point", "vector_keyword_names", "check_settable", "check_call"]

#: the part of :data:`BATCH_OWNED` that is step state: steps and resets change it, no keyword sets it
STEP_STATE = ("lr", "t", "updates", "state", "task", "instance")
#: what sets each of :data:`BATCH_OWNED`'s attributes that is neither step state nor a setting
#: attribute (:data:`~lrgym.settings.SETTING_ATTRIBUTES`; those say it themselves: ``setting_keyword``)
OTHER_OWNED = {"action_space": "action_mode or factors", "observation_space": "the env's keywords",
               "settings": "the env's keywords", "render_mode": "render_mode", "build_ahead": "build_ahead"}
#: sub-environment attributes the batched step never reads back from a sub-environment: its
#: step state (kept in the vector env's own arrays), the settings (fixed when the env is made:
#: every setting attribute, one list in lrgym.settings) and what they make. Setting one on a
#: sub-environment would change nothing, silently, where ``SyncVectorEnv`` would step with it;
#: ``set_attr`` refuses them instead.
BATCH_OWNED = frozenset((*STEP_STATE, *SETTING_ATTRIBUTES, *OTHER_OWNED))


def check_settable(name: str) -> None:
    """Refuse a ``set_attr`` of an attribute the batched step keeps itself (:data:`BATCH_OWNED`),
    saying what sets it: a reset for the step state, the env's keyword for a setting."""
    if name not in BATCH_OWNED:
        return
    if name in STEP_STATE:
        how = ("a reset, which sets the step state: envs.reset(options={'lr_init': ..., 'instance': ...}), with "
               "'reset_mask' for chosen sub-environments")
    else:
        keyword = setting_keyword(name) if name in SETTING_ATTRIBUTES else OTHER_OWNED[name]
        how = new_env_hint(keyword, make="gym.make_vec(id, n, vectorization_mode='vector_entry_point', ")
    raise ValueError(
        f"set_attr({name!r}) would have no effect: the batched env keeps its sub-environments' step state "
        f"({', '.join(STEP_STATE)}) in its own arrays and fixes their settings when it is made; "
        f"valid: an attribute of your own (e.g. a curriculum level your wrapper reads), or {how}")


#: sub-environment methods that :meth:`LRControlVectorEnv.call` (and the SB3 adapter's
#: ``env_method``) refuses, with what to use instead: run on a sub-environment directly, each
#: would change its step state (or its render recorder) behind the batched step, which keeps that
#: state in its own arrays and would go on from the old one. ``reset`` is not here: a call of it
#: goes through the vector env's own reset of that sub-environment (:meth:`~LRControlVectorEnv.call`).
CALL_REFUSED = {
    "step": "the vector env's step(actions), one action per sub-environment (for SB3: venv.step(actions))",
    "load_step": "nothing: the vector env brings a sub-environment's step state up to date itself "
                 "(envs, sub_env(i))",
    "record_step": "nothing: the vector env feeds every step to the sub-environments' render recorders itself",
}
#: sub-environment methods that set an attribute named by their first argument: checked as
#: ``set_attr`` checks its name (:func:`check_settable`)
CALL_SETTERS = frozenset({"set_wrapper_attr", "__setattr__"})


def check_call(name, args: tuple, kwargs: dict, via: str = "call") -> None:
    """Refuse a ``call`` (``via``: or SB3's ``env_method``) of a sub-environment method that would
    desynchronise the batched env: :data:`CALL_REFUSED`, an attribute setter given an attribute the
    batched step keeps itself (:func:`check_settable`), and private methods (``_bind_kernel``,
    ``__init__``, ``__setstate__``, ...: the env's internals)."""
    if not isinstance(name, str):
        raise TypeError(f"{via}() needs a method name (a str), got {name!r}")
    if name in CALL_REFUSED:
        raise ValueError(
            f"{via}({name!r}) refused: run on the sub-environments directly it would desynchronise the batched "
            f"env, which keeps their step state in its own arrays and would go on from the old one; valid: "
            f"{CALL_REFUSED[name]}")
    if name in CALL_SETTERS:
        attribute = args[0] if args else kwargs.get("name")
        if isinstance(attribute, str):
            check_settable(attribute)
    elif name.startswith("_"):
        raise ValueError(
            f"{via}({name!r}) refused: a private method of the sub-environments (their internals, which the "
            "batched step keeps in step itself); valid: a public method (reset, render, close, lr_to_action, "
            "task_for, check_reset_options, ...) or an attribute")


@with_setting_attributes
class LRControlVectorEnv(VectorEnv):
    """``num_envs`` :class:`~lrgym.env.LRControlEnv` stepped together by compiled batched kernels.

    ## Arguments

    ``num_envs`` (1 to 65,536: :data:`~lrgym.settings.MAX_NUM_ENVS`); ``parallel`` (a bool, default
    False): run each kernel kind's sub-environments in a Numba ``prange`` loop; ``autoreset_mode``: ``AutoresetMode.NEXT_STEP`` (default),
    ``SAME_STEP`` or ``DISABLED`` (or their string values); ``max_episode_steps`` (optional, as
    gymnasium's ``TimeLimit``: also truncate after that many steps); ``build_ahead`` (default 0):
    each sub-environment's next n instances are built in a background thread while the envs
    step (the same episodes to the bit; :mod:`lrgym.tasks.ahead`); every other keyword is an
    :class:`~lrgym.env.LRControlEnv` argument, shared by all sub-environments (``family``,
    ``family_options``, ``instance_set``, ``instances``, ``optimizer``, ``action_mode``,
    ``horizon``, ``inner_steps``, ``reward``, ...). With ``instances=(3, 7, 11)`` every reset
    without ``options["instance"]``, the automatic ones included, draws each sub-environment's
    instance from that list with its own generator, as a single env does. With
    ``instance_order="cycle"`` each sub-environment takes the list in turn, sub-environment i
    from its i-th seed (modulo the list's length; so the N sub-environments do not all train the
    same instance at once): it is the single env whose first reset is given that seed
    (``reset(options={"instance": instances[i % len(instances)]})``; a listed seed moves the
    cycle to the seed after it, :mod:`lrgym.tasks.instance_order`; a reset that gives every
    sub-environment one listed seed k moves sub-environment i to i seeds after the seed after k,
    so they stay apart: :meth:`~lrgym.env.LRControlEnv.shift_cycle`; a masked reset so moves the
    j-th sub-environment it resets j seeds on, and one it resets alone as a single env given k,
    as the SB3 adapter's per-sub-environment options reset each). With
    ``instance_order="each_once"`` every reset but the automatic ones starts a pass over the list
    (:mod:`lrgym.tasks.instance_order`; a masked reset of a sub-environment whose episode finished
    is its automatic one: ``DISABLED`` leaves those to the user): sub-environment i at the first seed of its block, the
    ``(len(instances) + i) // num_envs`` seeds SB3's ``evaluate_policy(..., n_eval_episodes=len(instances))``
    counts for it (so the sub-environments cover the list once, whatever ``num_envs``), and
    unseeded, from the generator state its last pass started at (the same episodes at every pass);
    automatic resets go on in turn. Sub-environments may draw
    instances of different sizes and families (``LRControl-v1``). Those keywords are checked once into one
    :class:`~lrgym.settings.EnvSettings` (``envs.settings``), the object every sub-environment and
    the batched step read.

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
    The seeds and every sub-environment's options are checked before any is reset: a bad one
    raises and resets none.

    ## Step

    Returns ``(obs (N, 12) float32, rewards (N,) float64, terminated (N,) bool, truncated (N,)
    bool, infos)``. ``infos`` holds the single env's fixed info schema (:mod:`lrgym.info`: the
    same 22 keys at every reset and step) as arrays of the schema's dtypes (float64, int64,
    bool) over the sub-environments, each with its ``_key`` mask (all True after a step; after a
    masked ``reset`` True for the sub-environments it reset). A sub-environment reset within a
    step (autoreset) reports its reset info there, as ``SyncVectorEnv`` does. Stepping with an action outside the space raises
    ``ValueError`` (as the single env does) and changes nothing.

    ## Rendering

    ``render_mode="ansi"`` or ``"rgb_array"`` (as the single env): :meth:`render` returns a tuple
    of one frame per sub-environment, each the frame its single env would draw.

    ## Version History

    * v1 (2026-12-06, same id): ``num_envs`` above 65,536 (:data:`~lrgym.settings.MAX_NUM_ENVS`) is
      refused at once; the bound was 10⁹, and 10⁹ sub-envs ran out of memory before any error.
    * v1: the fixed info schema (every key at every step, integer ``family``).
    * v0: initial release.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": RENDER_FPS, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        *,
        parallel: bool = False,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        build_ahead: int = 0,
        **env_kwargs: Any,
    ):
        num_envs = positive_int("num_envs", num_envs, MAX_NUM_ENVS)  # a bool is not a count (True was one sub-env)
        if not isinstance(parallel, (bool, np.bool_)):  # anything truthy used to turn it on
            raise ValueError(f"parallel={parallel!r} invalid; valid: True or False")
        try:
            mode = autoreset_mode if isinstance(autoreset_mode, AutoresetMode) else AutoresetMode(autoreset_mode)
        except ValueError:
            raise ValueError(
                f"unknown autoreset_mode {autoreset_mode!r}; valid choices: "
                + ", ".join(m.value for m in AutoresetMode)
            ) from None
        self.num_envs = num_envs
        self.parallel = bool(parallel)
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        #: None, or truncate after that many steps (as gymnasium's TimeLimit)
        self.max_episode_steps = (None if max_episode_steps is None
                                  else positive_int("max_episode_steps", max_episode_steps, MAX_COUNT))
        kwargs = dict(env_kwargs)
        self.render_mode = check_render_mode(kwargs.pop("render_mode", None), vector=True)
        check_keywords("LRControlVectorEnv()", kwargs, vector_keyword_names())

        #: the settings of every sub-environment: one object, built and checked once
        self.settings = settings = EnvSettings.build(**kwargs)  # (self.family, self.horizon, ... read it: lrgym.settings.Setting)
        #: the sub-environments' keyword arguments (``family`` built)
        self.env_kwargs = {"family": settings.family, **{k: v for k, v in env_kwargs.items() if k not in ("family", "family_options")}}
        # the sub-envs draw their tasks from the process-wide cache (lrgym.tasks.cache, keyed by
        # the instance's spec): one built task serves every sub-env that draws it
        self.build_ahead = check_depth(build_ahead)
        # with instance_order="cycle", sub-env i starts its cycle at the list's i-th seed (mod its
        # length); with "each_once", every pass at its block's first (lrgym.tasks.instance_order)
        starts = first_positions(settings.instance_order, len(settings.instances), self.num_envs)
        sizes = pass_sizes(len(settings.instances), self.num_envs)
        self._sub_envs = [LRControlEnv.from_settings(settings, render_mode=self.render_mode, build_ahead=self.build_ahead,
                                                     cycle_start=start, pass_size=size)
                          for start, size in zip(starts, sizes)]
        self.feature_names = FEATURE_NAMES

        first = self._sub_envs[0]
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        # one row per sub-environment: the step state the batched step reads and writes
        n = self.num_envs
        self._stats = np.zeros((n, N_STATS))
        self._memory = np.zeros((n, N_MEMORY))
        self._obs = np.zeros((n, N_FEATURES), dtype=np.float32)
        self._lr = np.full(n, settings.lr_init)
        self._t = np.zeros(n, dtype=np.int64)
        self._updates = np.zeros(n, dtype=np.int64)
        self._rewards = np.zeros(n)
        self._terminated = np.zeros(n, dtype=np.bool_)
        self._truncated = np.zeros(n, dtype=np.bool_)
        self._rejected = np.zeros(n, dtype=np.bool_)
        self._optimal_loss = np.zeros(n)
        self._families = np.zeros(n, dtype=np.int64)  # info["family"]: lrgym.info.family_index
        self._instances = np.zeros(n, dtype=np.int64)
        self._started = np.zeros(n, dtype=np.bool_)  # reset at least once
        self._autoreset = np.zeros(n, dtype=np.bool_)  # finished last step (NEXT_STEP / DISABLED)
        self._all = np.ones(n, dtype=np.bool_)
        self._ready = False  # every sub-env has been reset

        self._kernels = KernelGroups(n, settings, self.parallel)
        self._infos = InfoColumns(n, settings)

    # ---- sub-environments ---------------------------------------------------------------------

    def _adopt(self, i: int, obs: np.ndarray) -> None:
        """Take over sub-environment i right after its reset: episode arrays and kernel slot."""
        env = self._sub_envs[i]
        self._stats[i] = env.stats
        self._memory[i] = env.feature_memory
        self._obs[i] = obs
        self._lr[i] = env.lr
        self._t[i] = 0
        self._updates[i] = 0
        self._rejected[i] = False
        self._optimal_loss[i] = env.task.optimal_loss
        self._families[i] = env.family_index
        self._instances[i] = env.instance
        self._kernels.place(i, env.task, env.state, float(self._lr[i]), float(self._memory[i, M_CAP]), self._stats[i])

    def sub_env(self, i: int) -> LRControlEnv:
        """Sub-environment i as a single env, its step state brought up to date (for inspection)."""
        env = self._sub_envs[i]
        if self._started[i]:
            env.load_step(self._stats[i], self._memory[i], self._obs[i], self._lr[i], self._t[i], self._updates[i],
                          self._terminated[i] or self._truncated[i])
        return env

    def kernel_groups(self) -> list[tuple[str, int]]:
        """How the batched step runs: (kernel kind, number of sub-environments) per compiled
        call (:mod:`lrgym.tasks.batched`), ``("python", n)`` for tasks without a compiled kind."""
        return self._kernels.summary()

    @property
    def spec(self):
        """The vector env's ``EnvSpec`` (``gym.make_vec`` sets it: the id's, its kwargs with
        ``num_envs``, ``vectorization_mode``, ...), None if made directly; a kwarg JSON has no
        type for is recorded as the JSON value that makes the same env (:mod:`lrgym.spec_kwargs`)."""
        return self.__dict__.get("_spec")

    @spec.setter
    def spec(self, spec) -> None:
        """Set the vector env's spec and give each sub-environment the spec ``gym.make`` records
        for it (:func:`sub_env_spec`), as ``SyncVectorEnv``'s sub-environments have:
        ``get_attr("spec")`` was None for each."""
        self._spec = spec = jsonable_spec(spec)
        if spec is not None:
            made = sub_env_spec(spec)
            for env in self._sub_envs:
                env.spec = copy.deepcopy(made)

    @property
    def envs(self) -> tuple[LRControlEnv, ...]:
        """The sub-environments (brought up to date; stepping them directly desynchronises the vector env)."""
        return tuple(self.sub_env(i) for i in range(self.num_envs))

    def get_attr(self, name: str) -> tuple:
        """``getattr`` of every sub-environment (as ``SyncVectorEnv.get_attr``)."""
        return tuple(getattr(env, name) for env in self.envs)

    def set_attr(self, name: str, values) -> None:
        """Set an attribute on every sub-environment (one value, or a sequence of N); one the
        batched step keeps itself is refused (:func:`check_settable`). All or nothing: a value
        one sub-environment refuses leaves every one as it was (:meth:`set_attr_at`)."""
        check_settable(name)
        if not isinstance(values, (list, tuple)):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError(f"set_attr needs one value or {self.num_envs} values, got {len(values)}")
        self.set_attr_at(range(self.num_envs), name, values)

    def set_attr_at(self, indices, name: str, values: Sequence) -> None:
        """``setattr(sub-environment i, name, value)`` for each of ``indices`` (valid indices) and
        its value (:meth:`set_attr`; SB3's ``set_attr`` through :class:`lrgym.sb3.LRControlSB3VecEnv`),
        all or nothing: when a setter refuses a value (``cycle_position="x"``, a ``task_cache``
        that is no ``OrderedDict``), the sub-environments set before it, and it, get back the
        attributes they had (their ``__dict__``, which is where an attribute or a property's
        value lives) and the error is raised: none was changed. (They were kept changed: a
        ``set_attr("cycle_position", [3, 4, "x"])`` moved two cycles and said it had failed.) One
        value per index: other counts are a ``ValueError`` and nothing is set (``zip`` set the
        first ones and dropped the rest in silence)."""
        check_settable(name)
        indices, values = list(indices), list(values)
        if len(values) != len(indices):
            raise ValueError(f"set_attr_at({name!r}) got {len(indices)} indices and {len(values)} values; valid: one "
                             "value per index")
        touched = []
        try:
            for i, value in zip(indices, values):
                env = self._sub_envs[i]
                touched.append((env, dict(vars(env))))
                setattr(env, name, value)
        except BaseException:
            for env, before in reversed(touched):  # (last first: an index given twice gets its first state)
                vars(env).clear()
                vars(env).update(before)
            raise

    def call(self, name: str, *args, **kwargs) -> tuple:
        """Call a method (or read an attribute) of every sub-environment, as ``SyncVectorEnv.call``.

        ``call("reset", seed=s, options=o)`` resets every sub-environment for real, as
        ``SyncVectorEnv``'s does: through the vector env's own reset of each (the batched step
        goes on from the new episodes), each with the same ``seed`` and ``options`` as the single
        env's ``reset`` takes them; it returns each one's ``(obs, info)``. Like
        ``SyncVectorEnv``'s, it leaves the autoreset bookkeeping alone: a sub-environment that
        finished at the last step is still reset by the next step (``NEXT_STEP``) or refused by it
        (``DISABLED``); ``reset(options={"reset_mask": mask})`` restarts chosen sub-environments
        and clears that. Methods that would desynchronise the batched env (``step``, ``load_step``,
        ``record_step``, private methods, ``set_wrapper_attr`` of an attribute ``set_attr``
        refuses) raise ``ValueError`` naming what to use instead (:func:`check_call`).
        """
        return tuple(self.call_at(range(self.num_envs), name, args, kwargs))

    def call_at(self, indices, name: str, args: tuple = (), kwargs: dict | None = None, *,
                via: str = "call", attributes: bool = True) -> list:
        """:meth:`call` for the sub-environments ``indices`` (valid indices, in order; SB3's
        ``env_method`` through :class:`lrgym.sb3.LRControlSB3VecEnv`, ``via="env_method"``).
        ``attributes``: an attribute that is not callable is returned as it is (``call``), else
        it is called (``env_method``: SB3's ``DummyVecEnv`` calls whatever it finds)."""
        kwargs = {} if kwargs is None else kwargs
        out = []
        for i in indices:
            if name == "reset":
                out.append(self._reset_by_call(i, *args, **kwargs))
                continue
            check_call(name, args, kwargs, via)
            member = getattr(self.sub_env(i), name)
            out.append(member(*args, **kwargs) if callable(member) or not attributes else member)
        return out

    @property
    def pass_left(self) -> tuple[int, ...]:
        """With ``instance_order="each_once"``: the seeds of the list on which no episode of the
        current pass has ended yet (every sub-environment's
        :attr:`~lrgym.env.LRControlEnv.pass_left`, in list order); empty once the pass is
        complete. A ``ValueError`` with another order."""
        return tuple(k for env in self._sub_envs for k in env.pass_left)

    @property
    def pass_complete(self) -> bool:
        """With ``instance_order="each_once"``: whether the current pass has evaluated every seed
        of the list (each sub-environment its block; :attr:`pass_left` is empty): the moment a
        reset may start the next pass without leaving seeds out. A ``ValueError`` with another
        order."""
        return all([env.pass_complete for env in self._sub_envs])

    @property
    def np_random(self) -> tuple[np.random.Generator, ...]:
        """The sub-environments' generators."""
        return tuple(env.np_random for env in self._sub_envs)

    @property
    def np_random_seed(self) -> tuple[int | None, ...]:
        return tuple(env.np_random_seed for env in self._sub_envs)

    # ---- reset ----------------------------------------------------------------------------

    def _seeds(self, seed) -> list:
        """One seed (or None) per sub-environment: ``None``, an int ``s`` (s, s+1, ...) or a
        sequence of N; anything else raises gymnasium's own seeding error, as the single env's
        ``reset(seed=...)`` does (a float was ``TypeError: 'float' object is not iterable``, a
        str was read as one seed per character)."""
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, (int, np.integer)):
            return [int(seed) + i for i in range(self.num_envs)]
        if (isinstance(seed, (str, bytes, bytearray, Mapping)) or not isinstance(seed, Iterable)
                or getattr(seed, "ndim", None) == 0):  # (a 0-d array: "iteration over a 0-d array")
            seeding.np_random(seed)  # raises gymnasium's error naming the seed's type
        seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(
                f"If seeds are passed as a list the length must match num_envs={self.num_envs} but got length={len(seeds)}."
            )
        for s in seeds:  # a bad seed raises gymnasium's own error here, before any sub-env is reset
            if s is not None and not (isinstance(s, int) and s >= 0):
                seeding.np_random(s)
        return seeds

    def _reset_one(self, i: int, seed=None, options=None, *, automatic: bool = False,
                   unfinished: list | None = None) -> dict:
        """Reset sub-environment i and take it over; a reset that is not ``automatic`` starts an
        ``instance_order="each_once"`` pass (:meth:`LRControlEnv.start_pass`); one its options or
        seed refuse (``call("reset", ...)``) starts none: they are checked first. The seeds the
        pass it ends leaves unevaluated go into ``unfinished``, for the caller's one warning."""
        if not automatic and self._sub_envs[i].instance_order == "each_once":  # (start_pass: nothing otherwise)
            self._sub_envs[i].check_reset_options(options)
            if seed is not None:
                seeding.np_random(seed)  # gymnasium's error naming a bad seed, as the reset's
            if unfinished is not None:
                unfinished.extend(self._sub_envs[i].start_pass())
            else:
                self._sub_envs[i].start_pass()
        obs, info = self._sub_envs[i].reset(seed=seed, options=options)
        self._adopt(i, obs)
        self._started[i] = True
        self._terminated[i] = False
        self._truncated[i] = False
        self._autoreset[i] = False
        return info

    def _reset_by_call(self, i: int, *, seed=None, options=None) -> tuple[np.ndarray, dict]:
        """``call("reset", seed=..., options=...)`` for sub-environment i: the single env's reset
        (one seed and options, as ``SyncVectorEnv.call`` passes them to each sub-environment),
        taken over by the batched step; the autoreset flag stays as it was (as ``SyncVectorEnv``'s
        call leaves its own; it starts an ``"each_once"`` pass, as every reset that is not
        automatic). Returns the sub-environment's ``(obs, info)``."""
        pending = self._autoreset[i]
        unfinished: list = []
        info = self._reset_one(i, seed, options, unfinished=unfinished)
        self._autoreset[i] = pending
        warn_incomplete_pass(unfinished, stacklevel=5)
        return self._obs[i].copy(), info

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict | None = None):
        """Reset all sub-environments (or those in ``options["reset_mask"]``)."""
        seeds = self._seeds(seed)
        if options is not None and not isinstance(options, Mapping):
            raise ValueError(f"options={options!r} invalid; valid: None or a dict with the keys reset_mask, "
                             f"{', '.join(RESET_OPTIONS)}")
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if mask is None:
            mask = self._all
        else:
            if not isinstance(mask, np.ndarray) or mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
                raise ValueError(f"options['reset_mask'] must be a bool numpy array of shape ({self.num_envs},)")
            if not mask.any():
                raise ValueError("options['reset_mask'] must contain at least one True value")
        instance = options_instance = options.pop("instance", None)
        per_env_instance = instance is not None and not isinstance(instance, (int, np.integer))
        if per_env_instance:
            try:  # a sequence of seeds; not a str or bytes (b"abc" read as seeds 97, 98, 99)
                instance = None if isinstance(instance, (str, bytes, bytearray, Mapping)) else list(instance)
            except TypeError:
                instance = None
            if instance is None or len(instance) != self.num_envs:
                raise ValueError(f"options['instance']={options_instance!r} invalid; valid: one instance seed or a "
                                 f"sequence of {self.num_envs}")
        env_options = {int(i): dict(options) for i in np.flatnonzero(mask)}
        for i, o in env_options.items():  # every sub-env's options checked before any is reset
            if instance is not None:
                o["instance"] = instance[i] if per_env_instance else instance
            self._sub_envs[i].check_reset_options(o)
        # one listed seed for the reset ones moved their cycles to the seed after it: keep them apart
        # (an unlisted one moved none: shifting them would close the gaps they start with)
        apart = instance is not None and not per_env_instance and int(instance) in self.settings.instances
        infos: dict = {}
        unfinished: list = []  # the seeds the passes this reset ends leave unevaluated
        for rank, (i, o) in enumerate(env_options.items()):
            # a masked reset of a sub-env whose episode finished is the reset its autoreset would
            # do (DISABLED leaves it to the user): the next episode, not an "each_once" pass start
            next_episode = mask is not self._all and bool(self._autoreset[i])
            info = self._reset_one(i, seeds[i], o or None, automatic=next_episode, unfinished=unfinished)
            if apart:  # the reset ones apart (one alone moves as a single env)
                self._sub_envs[i].shift_cycle(rank)
            self._infos.add_reset(infos, info, i)
        self._rewards[mask] = 0.0
        warn_incomplete_pass(unfinished)
        return self._obs.copy(), infos

    # ---- step -----------------------------------------------------------------------------

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
        self._train(check_actions(actions, active, self.settings), active)
        infos = self._infos.step(self._stats, self._lr, self._optimal_loss, self._rejected, self._updates, self._t,
                                 self._families, self._instances)
        if self.render_mode is not None:
            self._record(infos, active)
        self._autoreset_step(infos, resetting, active)
        return (
            self._obs.copy(),
            self._rewards.copy(),
            self._terminated.copy(),
            self._truncated.copy(),
            infos,
        )

    def _train(self, checked_actions: np.ndarray, active: np.ndarray) -> None:
        """One step of every active sub-environment: new LRs, inner training (one compiled call
        per kernel kind), the rejection rule, then features, rewards and episode ends."""
        s = self.settings
        apply_actions(checked_actions, active, s, self._lr)
        if s.rejection_threshold is not None:
            before = snapshot([env.state for env in self._sub_envs], self._stats, active)
        self._kernels.run(active, self._lr, self._memory, self._stats)
        self._rejected[:] = False
        if s.rejection_threshold is not None:
            undo_rejected(before, [env.state for env in self._sub_envs], self._stats, s.rejection_threshold,
                          self._rejected)
        observe_all(
            active, self._stats, self._memory, self._t, self._updates, s.horizon, self.max_episode_steps or 0,
            self._lr, s.reward_code, s.reward_params, self._obs, self._rewards, self._terminated, self._truncated,
        )

    def _autoreset_step(self, infos: dict, resetting: np.ndarray | None, active: np.ndarray) -> None:
        """Gymnasium's autoreset after a step, in this env's mode (see the class docstring)."""
        done = self._terminated | self._truncated
        if self.settings.instance_order == "each_once":  # the ended episodes count in their passes
            for i in np.flatnonzero(done & active):
                self._sub_envs[i].end_episode()
        if resetting is not None:  # NEXT_STEP: the envs that finished last step restart now
            for i in np.flatnonzero(resetting) if resetting.any() else ():
                info = self._reset_one(int(i), automatic=True)
                self._rewards[i] = 0.0
                self._infos.overwrite(infos, info, int(i))
            self._autoreset = done & active
        elif self.autoreset_mode == AutoresetMode.SAME_STEP:
            finished = np.flatnonzero(done)
            if len(finished):
                final_obs = np.full(self.num_envs, None, dtype=object)
                final_info = subset(infos, done)
                for i in finished:
                    final_obs[i] = self._obs[i].copy()
                term, trunc = self._terminated.copy(), self._truncated.copy()
                for i in finished:
                    info = self._reset_one(int(i), automatic=True)
                    self._infos.overwrite(infos, info, int(i))
                self._terminated, self._truncated = term, trunc
                infos["final_obs"], infos["_final_obs"] = final_obs, done.copy()
                infos["final_info"], infos["_final_info"] = final_info, done.copy()
        else:  # DISABLED
            self._autoreset = done.copy()

    # ---- rendering ------------------------------------------------------------------------

    def _record(self, infos: dict, active: np.ndarray) -> None:
        """Feed this step of every active sub-env to its recorder (the sub-envs' own resets
        start their episodes)."""
        for i in np.flatnonzero(active):
            self._sub_envs[i].record_step({key: infos[key][i] for key in RECORDED_KEYS})

    def render(self) -> tuple | None:
        """One frame per sub-env (a line of text or an image; see :mod:`lrgym.render`), as
        gymnasium's vector API returns them; None without a render mode."""
        if self.render_mode is None:
            return None
        return tuple(env.render() for env in self._sub_envs)

    # ---- copies ---------------------------------------------------------------------------

    def __copy__(self) -> "LRControlVectorEnv":
        """``copy.copy(envs)``: an independent vector env at the same point of the same episodes,
        as ``copy.deepcopy`` makes one, but sharing what never changes (the settings, the family,
        each sub-environment's built task: :meth:`LRControlEnv.copy_shared
        <lrgym.env.LRControlEnv.copy_shared>`). A shallow copy shared the sub-environments and
        the step arrays, so stepping it stepped the original."""
        memo: dict = {}
        for env in self._sub_envs:
            memo.update(env.copy_shared())
        return copy.deepcopy(self, memo)

    def __getstate__(self):
        # the kernel groups hold Numba typed lists of kernel arguments (not picklable) that point
        # into the sub-environments' training states: they are made again for the copy's own
        # sub-environments (which copy themselves), and the info columns from the settings
        state = self.__dict__.copy()
        state["_kernels"] = state["_infos"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._kernels = KernelGroups(self.num_envs, self.settings, self.parallel)
        self._infos = InfoColumns(self.num_envs, self.settings)
        for i in np.flatnonzero(self._started):
            env = self._sub_envs[i]
            self._kernels.place(int(i), env.task, env.state, float(self._lr[i]), float(self._memory[i, M_CAP]),
                                self._stats[i])

    # ---- misc -----------------------------------------------------------------------------

    def close_extras(self, **kwargs) -> None:
        for env in getattr(self, "_sub_envs", ()):  # none yet if the constructor refused its arguments
            env.close()

    def __repr__(self) -> str:
        if self.spec is None:
            return f"LRControlVectorEnv(num_envs={self.num_envs})"
        return f"LRControlVectorEnv({self.spec.id}, num_envs={self.num_envs})"


def sub_env_spec(spec):
    """The ``EnvSpec`` ``gym.make`` records for one sub-environment of a vector env made from
    ``spec`` (an id's spec, its kwargs the id's and the caller's): ``spec`` with the
    :class:`~lrgym.env.LRControlEnv` keywords of its kwargs only (and the id's own family options;
    not ``num_envs``, ``vectorization_mode``, ``parallel``, ...) and the ``max_episode_steps`` of
    its kwargs if they give one — what each sub-environment of ``SyncVectorEnv`` has."""
    # (the id's own data set: Digits'; the family's module:Class of an id of your own)
    env_keywords = {*keyword_names(LRControlEnv), ID_FAMILY_OPTIONS, ID_FAMILY_TARGET}
    return dataclasses.replace(
        spec, kwargs={k: copy.deepcopy(v) for k, v in spec.kwargs.items() if k in env_keywords},
        max_episode_steps=spec.kwargs.get("max_episode_steps", spec.max_episode_steps),
    )


#: the keyword arguments that make an env's settings (:meth:`EnvSettings.build`'s)
_SETTINGS_ARGS = tuple(p for p in inspect.signature(EnvSettings.build).parameters if p != "cls")


def vector_keyword_names() -> list[str]:
    """Every keyword :class:`LRControlVectorEnv` takes, in the order its errors list them: its
    own (``num_envs``, ``parallel``, ``autoreset_mode``, ...), ``render_mode``, then every env
    setting (``family``, ``horizon``, ...). Read from the signatures, so it cannot drift; the SB3
    adapter (:mod:`lrgym.sb3`) names its own keywords from it."""
    return [*keyword_names(LRControlVectorEnv), "render_mode", *_SETTINGS_ARGS]


def vector_entry_point(num_envs: int = 1, **kwargs) -> LRControlVectorEnv:
    """``LRControlVectorEnv(num_envs, **kwargs)`` as a function: the vector entry point of lrgym's
    ids (:data:`lrgym.registry.VECTOR_ENTRY_POINT`), which ``gym.make_vec`` calls, with an id's
    own family options merged under the user's (:func:`lrgym.tasks.with_id_options`); an id of
    your own may register it or the class."""
    return LRControlVectorEnv(num_envs=num_envs, **with_id_options(kwargs))
