"""Compile (or load from Numba's disk cache) every kernel a vector env of some keywords can need,
once, before many processes start stepping such envs.

Every kernel is ``cache=True``: the first process to compile one writes it to the cache, later
ones load it. Processes that start together on a cold cache (after an install, an upgrade or an
edit of lrgym: :mod:`lrgym.kernel_cache`) each compile the same kernels at once, on cores they
share: RLlib's env runners took 239 s to sample a first 2,000 steps on two runners (a later run:
34 s in all). :func:`warm_kernels` run once first, in one process, fills the cache; the others
then load. ``lrgym.baselines.train_rllib`` runs it on the driver (and on each node of a cluster)
before RLlib builds its runners; ``benchmarks/harness.py`` before timing.

What it steps: one sub-env on an instance of each *kind* (:func:`kind_instances`: family,
streaming or not, data set, depth, activation; what decides the compiled kernels and their
argument types), reset onto the same again (the typed lists' item replaced in place), a few
steps with ``horizon=2`` (an automatic reset included), then every sub-env reset onto another
kind (the typed lists' items removed and appended).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

__all__ = ["KIND_FIELDS", "kind_instances", "warm_kernels"]

#: the :class:`~lrgym.tasks.base.TaskSpec` fields whose values pick other kernels or argument types
#: (a field a family's spec lacks counts as None)
KIND_FIELDS = ("family", "streaming", "dataset", "depth", "activation")
#: how many of the candidate seeds are looked at (the first 400 meet every kind of the mixed family)
LOOKED_AT = 400


def kind_instances(family, seeds: Iterable[int], limit: int = LOOKED_AT) -> list[int]:
    """The first seed of each kind (:data:`KIND_FIELDS` of ``family.sample(seed)``) among the
    first ``limit`` of ``seeds``, in the order met."""
    picks: dict[tuple, int] = {}
    for i, k in enumerate(seeds):
        if i >= limit:
            break
        spec = family.sample(int(k))
        picks.setdefault(tuple(getattr(spec, f, None) for f in KIND_FIELDS), int(k))
    return list(picks.values())


def warm_kernels(**env_kwargs) -> list[int]:
    """Run an :class:`~lrgym.vector.LRControlVectorEnv` of ``env_kwargs`` (less ``horizon``
    and ``inner_steps``: 2 and 1, which change no kernel) on one instance of each kind its resets
    can draw (:func:`kind_instances` of its ``instances``), so that every kernel such an env
    needs is in Numba's disk cache; returns those instances. Results of later envs do not
    depend on it (the same machine code, compiled or loaded)."""
    from lrgym.vector import LRControlVectorEnv

    kwargs = {**env_kwargs, "horizon": 2, "inner_steps": 1}
    probe = LRControlVectorEnv(1, **kwargs)  # (builds no instance)
    picks = kind_instances(probe.settings.family, probe.settings.instances)
    probe.close()
    envs = LRControlVectorEnv(len(picks), **kwargs)
    try:
        envs.action_space.seed(0)
        envs.reset(seed=0, options={"instance": picks})
        envs.reset(seed=0, options={"instance": picks})  # each sub-env onto its own kind again: set_item
        for _ in range(3):  # horizon 2: the third step is the automatic reset's
            envs.step(envs.action_space.sample())
        if len(picks) > 1:  # every sub-env onto another kind: the typed lists remove, pop and set items
            envs.reset(seed=1, options={"instance": picks[1:] + picks[:1]})
            envs.step(envs.action_space.sample())
    finally:
        envs.close()
    return picks
