"""The order in which an env's resets take their instances (``instance_order=``).

A reset without ``options={"instance": k}`` takes the next instance seed of the env's
``instances`` (the whole instance set, or the ``instances=`` list) in one of three orders:

* ``"draw"`` (the default): ``instances[np_random.integers(len(instances))]``, uniformly with
  the env's generator; the cycle position is not used.
* ``"cycle"``: each listed seed in turn, from the first, and again from the first after the
  last (DACBench's round robin, its ``instance_index``): ``instances[position]``, then
  ``position + 1`` modulo the list's length. It draws nothing from ``np_random``; a seed does
  not move the position (``reset(seed=s)`` seeds the initial parameters and minibatches, the
  cycle goes on), and a reset given a listed seed ``k`` moves it to the seed after ``k``
  (DACBench's ``set_inst_id``), one given a seed off the list leaves it where it is.
* ``"each_once"``: the cycle, taken in passes over the list, each listed seed once per pass (an
  evaluation set). A pass starts at every reset that is not the next episode's: every reset of
  a vector env but its automatic ones (and a masked reset of a sub-env whose episode finished,
  which is its automatic one: ``autoreset_mode=DISABLED`` leaves those to the user), and a single env's seeded resets (a single env cannot
  tell the user's reset from a wrapper's automatic one). It starts the env at the first seed of
  its block (a single env: the list's first seed; sub-env i of N: the block of the list that
  SB3's ``evaluate_policy`` counts for it, :func:`pass_starts`, so the N sub-envs cover the list
  once whatever N is) and replays the draws of the last pass: an unseeded pass start restores
  ``np_random`` to where the last pass started, so every pass is the same episodes for the same
  actions (a seeded one starts from its seed, and one after ``env.np_random = generator`` from
  that generator). Between pass starts it is the cycle (a listed
  ``options={"instance": k}`` moves it to the seed after ``k``, automatic resets go on round the
  list), which is all it changes: the positions are the cycle's.

A pass is complete when every seed of the env's block has had an episode end in it (the env's
``pass_left`` is empty, ``pass_complete`` True; a single env's episode ends when its step returns
``terminated`` or ``truncated``, or at the reset after a step that did not end it, as when a
gymnasium ``TimeLimit`` shorter than the horizon truncated it outside the env). A pass start that ends a pass in which some
episodes ended but not every seed of the block did (a plain ``reset()`` of a vector env in a loop,
``reset(seed=s)`` of a single env before the list is through, an evaluation of fewer episodes than
the list) would leave those seeds unevaluated in silence: it warns
:class:`IncompletePassWarning`, naming them (``warnings.simplefilter("error",
IncompletePassWarning)`` makes it an error). A pass start before any episode of the pass ended
loses nothing and says nothing.

The env (:meth:`lrgym.env.LRControlEnv.reset`) and its build-ahead chain
(:mod:`lrgym.tasks.ahead`), which predicts the next resets, both take the next seed here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

__all__ = ["CYCLED", "INSTANCE_ORDERS", "IncompletePassWarning", "check_instance_order", "first_positions",
           "next_instance", "pass_sizes", "pass_starts", "position_after", "warn_incomplete_pass"]

#: the valid ``instance_order`` values
INSTANCE_ORDERS = ("draw", "cycle", "each_once")
#: the orders that take the instances in turn (a cycle position; ``"each_once"`` also restarts it)
CYCLED = frozenset({"cycle", "each_once"})


def check_instance_order(order) -> str:
    """``order`` if it is one of :data:`INSTANCE_ORDERS`, else a ``ValueError`` naming it."""
    if not isinstance(order, str) or order not in INSTANCE_ORDERS:
        raise ValueError(f"instance_order={order!r} invalid; valid choices: {', '.join(map(repr, INSTANCE_ORDERS))} "
                         "('draw': uniformly with the env's np_random; 'cycle': each of the instances in turn; "
                         "'each_once': each of them once per pass, a pass starting at every reset that is not "
                         "automatic, the same episodes at every pass)")
    return order


class IncompletePassWarning(UserWarning):
    """An ``instance_order="each_once"`` pass started again before the last one took every seed
    of its block: the seeds named were not evaluated in that pass."""


def warn_incomplete_pass(unfinished: Sequence[int], stacklevel: int = 3) -> None:
    """Warn :class:`IncompletePassWarning` naming the seeds ``unfinished`` (nothing if none)."""
    if len(unfinished):
        seeds = sorted(int(k) for k in unfinished)
        shown = ", ".join(map(str, seeds[:20])) + (f", ... ({len(seeds)} in all)" if len(seeds) > 20 else "")
        warnings.warn(
            f'instance_order="each_once": a pass started before the last one was complete, instances [{shown}] '
            "were not evaluated in it; reset (without a mask, or seeded: a single env) only once a pass is "
            "complete (env.pass_complete; env.pass_left names what is missing), reset finished sub-envs of "
            "autoreset_mode=DISABLED with reset(options={'reset_mask': done}), and give an evaluation "
            "len(instances) episodes", IncompletePassWarning, stacklevel=stacklevel)


def pass_sizes(n_instances: int, num_envs: int) -> list[int]:
    """How many seeds each of ``num_envs`` sub-envs' ``"each_once"`` blocks holds (sub-env i:
    ``(n_instances + i) // num_envs``; they sum to ``n_instances``; see :func:`pass_starts`)."""
    return [(n_instances + i) // num_envs for i in range(num_envs)]


def pass_starts(n_instances: int, num_envs: int) -> list[int]:
    """Where each of ``num_envs`` sub-envs starts its ``"each_once"`` block of a list of
    ``n_instances`` seeds: sub-env i's block holds ``(n_instances + i) // num_envs`` seeds, the
    number of episodes SB3's ``evaluate_policy(..., n_eval_episodes=n_instances)`` counts for it,
    and starts where sub-env i − 1's ends (the blocks sum to the list: 5 seeds over 2 sub-envs are
    [0, 1] and [2, 3, 4]; a sub-env of an empty block, when there are more sub-envs than seeds,
    starts at the list's first seed)."""
    starts, start = [], 0
    for size in pass_sizes(n_instances, num_envs):
        starts.append(start % n_instances)
        start += size
    return starts


def first_positions(order: str, n_instances: int, num_envs: int) -> list[int]:
    """The cycle position each sub-env of a vector env starts at: ``"cycle"``, the list's i-th
    seed (modulo its length; so they do not all train one instance at once); ``"each_once"``, its
    block's first (:func:`pass_starts`); ``"draw"``, 0 (unused)."""
    if order == "each_once":
        return pass_starts(n_instances, num_envs)
    if order == "cycle":
        return [i % n_instances for i in range(num_envs)]
    return [0] * num_envs


def next_instance(instances: Sequence[int], order: str, rng: np.random.Generator, position: int) -> tuple[int, int]:
    """The next reset's instance seed and the cycle position after it: a uniform draw from
    ``rng`` (``"draw"``: ``position`` unchanged) or ``instances[position]`` (``"cycle"``,
    ``"each_once"``)."""
    if order in CYCLED:
        return int(instances[position]), (position + 1) % len(instances)
    return int(instances[int(rng.integers(len(instances)))]), position


def position_after(instances: Sequence[int], order: str, asked: int, position: int) -> int:
    """The cycle position after a reset given the seed ``asked``: the seed after it, if it is
    listed and the order is cycled (:data:`CYCLED`); else ``position`` unchanged."""
    if order not in CYCLED:
        return position
    try:
        return (instances.index(asked) + 1) % len(instances)  # (a range: O(1); a tuple: a scan)
    except ValueError:
        return position
