"""The order in which an env's resets take their instances (``instance_order=``).

A reset without ``options={"instance": k}`` takes the next instance seed of the env's
``instances`` (the whole instance set, or the ``instances=`` list) in one of two orders:

* ``"draw"`` (the default): ``instances[np_random.integers(len(instances))]``, uniformly with
  the env's generator; the cycle position is not used.
* ``"cycle"``: each listed seed in turn, from the first, and again from the first after the
  last (DACBench's round robin, its ``instance_index``): ``instances[position]``, then
  ``position + 1`` modulo the list's length. It draws nothing from ``np_random``; a seed does
  not move the position (``reset(seed=s)`` seeds the initial parameters and minibatches, the
  cycle goes on), and a reset given a listed seed ``k`` moves it to the seed after ``k``
  (DACBench's ``set_inst_id``), one given a seed off the list leaves it where it is.

The env (:meth:`lrgym.env.LRControlEnv.reset`) and its build-ahead chain
(:mod:`lrgym.tasks.ahead`), which predicts the next resets, both take the next seed here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["INSTANCE_ORDERS", "check_instance_order", "next_instance", "position_after"]

#: the valid ``instance_order`` values
INSTANCE_ORDERS = ("draw", "cycle")


def check_instance_order(order) -> str:
    """``order`` if it is one of :data:`INSTANCE_ORDERS`, else a ``ValueError`` naming it."""
    if not isinstance(order, str) or order not in INSTANCE_ORDERS:
        raise ValueError(f"instance_order={order!r} invalid; valid choices: {', '.join(map(repr, INSTANCE_ORDERS))} "
                         "('draw': uniformly with the env's np_random; 'cycle': each of the instances in turn)")
    return order


def next_instance(instances: Sequence[int], order: str, rng: np.random.Generator, position: int) -> tuple[int, int]:
    """The next reset's instance seed and the cycle position after it: a uniform draw from
    ``rng`` (``"draw"``: ``position`` unchanged) or ``instances[position]`` (``"cycle"``)."""
    if order == "cycle":
        return int(instances[position]), (position + 1) % len(instances)
    return int(instances[int(rng.integers(len(instances)))]), position


def position_after(instances: Sequence[int], order: str, asked: int, position: int) -> int:
    """The cycle position after a reset given the seed ``asked``: the seed after it, if it is
    listed and the order is ``"cycle"``; else ``position`` unchanged."""
    if order != "cycle":
        return position
    try:
        return (instances.index(asked) + 1) % len(instances)  # (a range: O(1); a tuple: a scan)
    except ValueError:
        return position
