"""Copies and pickles of :class:`~lrgym.env.LRControlEnv`.

:class:`EnvCopies` is the env's part that makes ``copy.copy``, ``copy.deepcopy`` and ``pickle``
give a usable env at the same point of the same episode: what a copy shares with the original
(the settings, the family, the built task, the ``task_cache``), what is dropped and made again
(the bound kernel, the views into the step's buffers, the builds ahead), and how an env pickled
by an older version is brought up to date.

A mixin of :class:`~lrgym.env.LRControlEnv` only: after unpickling it calls the env's own
``_new_build_ahead``, ``_view_buffers`` and ``_bind_kernel``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from lrgym.settings import SETTING_ATTRIBUTES

if TYPE_CHECKING:
    from lrgym.env import LRControlEnv


class EnvCopies:
    """:class:`~lrgym.env.LRControlEnv`'s copies and pickles (see the module)."""

    def __copy__(self) -> "LRControlEnv":
        """``copy.copy(env)``: an independent env at the same point of the same episode, as
        ``copy.deepcopy`` makes one, but sharing what never changes: the settings, the family, the
        built task and the ``task_cache`` mapping (:meth:`copy_shared`). A shallow copy that
        shared the training state (parameters, optimizer state, statistics) would change the
        original when stepped: for an env whose state lives in arrays updated in place, no
        shallow copy is a usable env."""
        return copy.deepcopy(self, self.copy_shared())

    def copy_shared(self) -> dict:
        """The objects a :meth:`__copy__` shares with the original, as a ``copy.deepcopy`` memo
        (id → object): the frozen :class:`~lrgym.settings.EnvSettings` and its values, the family,
        the episode's built task (immutable: the training state lives in ``env.state``) and the
        env's own ``task_cache``, if it has one (shared by design)."""
        shared = [self.settings, self.family, self.task, self._tasks, *vars(self.settings).values()]
        return {id(x): x for x in shared if x is not None}

    def __getstate__(self):
        # the bound kernel holds a numba typed list (not picklable) and the step arguments hold
        # native addresses into it: both are rebound after unpickling (or copying); the views
        # into the step's buffers would come back as separate arrays: they are made again. The
        # builds queued ahead stay with the original (a copy starts its own at its next reset)
        state = self.__dict__.copy()
        state["_bound_kernel"] = state["_step_args"] = state["_ahead"] = None
        for view in ("_stats", "_memory", "_step_values", "_step_counts"):
            del state[view]
        return state

    def __setstate__(self, state):
        state.setdefault("build_ahead", 0)  # (pickled before build-ahead existed)
        # (pickled while the settings were plain attributes too: they are read from the settings
        # now; a settings object pickled before a field existed gets the attribute's value)
        legacy = {name: state.pop(name) for name in SETTING_ATTRIBUTES if name in state}
        if legacy and "settings" in state:
            legacy.setdefault("instance_range", legacy.get("instances"))  # (before the instances= list)
            legacy.setdefault("instance_order", "draw")  # (before instance_order)
            for name, (field_name, _) in SETTING_ATTRIBUTES.items():
                if not hasattr(state["settings"], field_name or name) and name in legacy:
                    object.__setattr__(state["settings"], field_name or name, legacy[name])
        state.setdefault("_cycle_position", 0)
        state.setdefault("_pass_start", 0)  # (pickled before "each_once" existed)
        state.setdefault("_pass_rng_state", None)
        # (pickled before the generator was kept: the state is the env's generator's)
        state.setdefault("_pass_rng", None if state["_pass_rng_state"] is None else state.get("_np_random"))
        state.setdefault("_pass_pending", False)
        state.pop("_own_episode", None)  # (pickled while a flag told the vector env's episodes apart)
        if "_pass_block" not in state:  # (pickled before passes were counted: its whole list)
            settings = state["settings"]
            each_once = settings.instance_order == "each_once"
            n = len(settings.instances)
            state["_pass_block"] = tuple(int(settings.instances[(state["_pass_start"] + j) % n])
                                         for j in range(n if each_once else 0))
            state["_pass_left"], state["_pass_episodes"] = set(state["_pass_block"]), 0
        if "spec" in state:  # (pickled before spec was a property)
            state["_spec"] = state.pop("spec")
        self.__dict__.update(state)
        self._ahead = self._new_build_ahead()
        self._view_buffers()
        if self.task is not None and self.state is not None:
            self._bind_kernel()
