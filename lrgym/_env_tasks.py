"""The built tasks of :class:`~lrgym.env.LRControlEnv`: where a reset gets its instance's task.

:class:`TaskSupply` is the env's part that finds the built task of an instance seed: in the
process-wide, byte-bounded cache of :mod:`lrgym.tasks.cache` by default, or in a ``task_cache``
mapping of the env's own (a small LRU, possibly shared with other envs of the same family); and
the builds queued ahead (``build_ahead``, :mod:`lrgym.tasks.ahead`), whose predictions a reset
takes when they match its draws.

A mixin of :class:`~lrgym.env.LRControlEnv` only: it reads the env's settings (``family``,
``instances``, ``instance_order``), ``build_ahead``, ``np_random`` and the env's own cache
(``_tasks``) and builds ahead (``_ahead``), which ``LRControlEnv._apply_settings`` sets up.
"""

from __future__ import annotations

import functools
from collections import OrderedDict

from lrgym.tasks.ahead import BuildAhead, Prediction
from lrgym.tasks.base import Task
from lrgym.tasks.cache import build_task, cached_task

#: how many built tasks an env's own ``task_cache`` mapping keeps (least recently used out first)
TASK_CACHE_SIZE = 64


class TaskSupply:
    """:class:`~lrgym.env.LRControlEnv`'s built tasks and builds ahead (see the module)."""

    @property
    def task_cache(self) -> OrderedDict:
        """The built tasks of this env, an LRU ``OrderedDict`` instance seed → built task, if it
        has its own; by default an env draws its tasks from the process-wide, byte-bounded cache
        of :mod:`lrgym.tasks.cache` (shared by every env of the process, keyed by the
        instance's spec) and reading this property gives it its own mapping from then on.

        Envs of the same family and family options may share one: give it as ``task_cache=`` to
        another env, or assign it (``env.task_cache = shared``; takes effect at the next reset).
        Built tasks are immutable (the training state lives in the env), so sharing changes no
        trajectory; it only saves building an instance twice.
        """
        if self._tasks is None:
            self._tasks = OrderedDict()
        return self._tasks

    @task_cache.setter
    def task_cache(self, cache: OrderedDict) -> None:
        if not isinstance(cache, OrderedDict):
            raise TypeError(f"task_cache must be a collections.OrderedDict, got {type(cache).__name__}")
        self._tasks = cache

    def task_for(self, instance: int) -> Task:
        """The built task of an instance seed: from the process-wide byte-bounded LRU cache
        (:func:`lrgym.tasks.cache.cached_task`), or from the mapping given as ``task_cache``
        (then a small LRU of :data:`TASK_CACHE_SIZE` tasks)."""
        if self._tasks is None:
            return cached_task(self.family, instance)
        task = self._tasks.get(instance)
        if task is None:
            task = build_task(self.family, self.family.sample(instance))
        self._keep(instance, task)
        return task

    def _keep(self, instance: int, task: Task) -> None:
        """Put ``task`` last (most recent) in the env's own LRU ``task_cache``, within its size."""
        self._tasks[instance] = task
        self._tasks.move_to_end(instance)
        if len(self._tasks) > TASK_CACHE_SIZE:
            self._tasks.popitem(last=False)

    @property
    def build_ahead_counts(self) -> tuple[int, int]:
        """(resets whose instance a build ahead had ready or running, the other resets) since the
        env was made; (0, 0) when ``build_ahead`` is 0."""
        a = self._ahead
        return (0, 0) if a is None else (a.hits, a.misses)

    def _new_build_ahead(self) -> BuildAhead | None:
        """The env's :class:`~lrgym.tasks.ahead.BuildAhead` (None when ``build_ahead`` is 0): it
        builds into the process-wide cache, or (with an own ``task_cache``) only for this env."""
        if self.build_ahead == 0:
            return None
        family = self.family
        if self._tasks is None:
            build = functools.partial(cached_task, family)
        else:
            def build(instance: int) -> Task:
                return build_task(family, family.sample(instance))
        return BuildAhead(self.build_ahead, self.instances, build, self.instance_order)

    def _prediction(self, instance: int, drawn: bool, state_before, position_before: int) -> Prediction | None:
        """What a build ahead made of this reset (task, initial state, first evaluation), if it
        predicted it (the task kept in the env's own task cache, if it has one); else None."""
        p = self._ahead.take(self.np_random, instance, drawn, state_before, position_before)
        if p is not None and self._tasks is not None:
            self._keep(instance, p.task)
        return p
