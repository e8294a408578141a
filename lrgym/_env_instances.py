"""The instance order of :class:`~lrgym.env.LRControlEnv`: which instance each reset takes.

:class:`InstanceOrder` is the env's part that keeps its place in the ``instances=`` list (the
cycle position of ``instance_order="cycle"`` and ``"each_once"``), the passes of ``"each_once"``
(the seeds a pass takes, those it has left, how many of its episodes have ended) and the end of
an episode, which counts in its pass. The rules themselves (the next instance, where an asked seed
moves the cycle, the blocks of a vector env's sub-environments) are
:mod:`lrgym.tasks.instance_order`'s; this class holds the env's state of them and its public
API (``cycle_position``, ``shift_cycle``, ``start_pass``, ``pass_*``, ``end_episode``).

A mixin of :class:`~lrgym.env.LRControlEnv` only: it reads the env's settings (``instances``,
``instance_order``), ``np_random``, ``instance`` and the builds ahead (``_ahead``), which
``LRControlEnv._apply_settings`` sets up with the state kept here.
"""

from __future__ import annotations

from lrgym.brief import brief
from lrgym.tasks.base import is_integer
from lrgym.tasks.instance_order import CYCLED, next_instance, position_after


class InstanceOrder:
    """:class:`~lrgym.env.LRControlEnv`'s instance order, cycle position and passes (see the module)."""

    @property
    def cycle_position(self) -> int:
        """With ``instance_order="cycle"`` or ``"each_once"``: the position in :attr:`instances` of
        the instance the next reset without ``options={"instance": k}`` takes (0 with ``"draw"``;
        an ``"each_once"`` pass start takes its block's first instead).
        ``reset(options={"instance": k})`` with a listed ``k`` moves it to the seed after ``k``;
        setting it (an integer, modulo the list's length; DACBench's ``set_inst_id``) moves it
        as :meth:`shift_cycle` does, the builds ahead with it: how a sub-env in another process
        is moved, through gymnasium's ``AsyncVectorEnv.set_attr("cycle_position", [...])``, one
        value each (``train_rllib.spread_cycles``). A ``ValueError`` with ``"draw"``, which has
        no position, and for anything but an integer."""
        return self._cycle_position

    @cycle_position.setter
    def cycle_position(self, position) -> None:
        if self.instance_order == "draw":
            raise ValueError(f"cycle_position={brief(position)} set on an env with instance_order="
                             f"{self.instance_order!r}; valid: an env made with instance_order='cycle' or 'each_once'")
        if not is_integer(position):
            raise ValueError(f"cycle_position={brief(position)} is not an integer; valid: an integer, the "
                             f"position in instances (0 to {len(self.instances) - 1})")
        self.shift_cycle(int(position) - self._cycle_position)

    def shift_cycle(self, seeds: int) -> None:
        """Move the cycle position (``instance_order="cycle"`` or ``"each_once"``) ``seeds`` seeds on
        (nothing with ``"draw"``; an ``"each_once"`` pass start goes back to its block),
        and the builds ahead with it. The vector env keeps its sub-environments apart so:
        sub-environment i starts at the list's i-th seed, and after a reset that gives all of them
        one listed seed k it goes on i seeds after the seed after k (else they would all train the
        same instance at once from then on); after a masked reset, the j-th of those it resets
        goes on j seeds after it (one reset alone: none, as a single env). ``seeds`` is an
        integer (any other value a ``ValueError``: ``int()`` took ``"2"``, ``1.7`` and ``True``)."""
        if not is_integer(seeds):
            raise ValueError(f"shift_cycle({brief(seeds)}): not an integer; valid: an integer, the number of "
                             "seeds to move the cycle on (negative: back)")
        if self.instance_order not in CYCLED or not int(seeds) % len(self.instances):
            return
        self._cycle_position = (self._cycle_position + int(seeds)) % len(self.instances)
        if self._ahead is not None:  # its chain predicted the old position: start it again
            self._ahead.cancel()
            self._ahead.refill(self.np_random, self._cycle_position)

    def start_pass(self) -> tuple[int, ...]:
        """With ``instance_order="each_once"``, make the next reset start a pass over the list
        (nothing with the other orders): it takes the first seed of this env's block and, unless
        it is given a seed, restores ``np_random`` to where the last pass started, so that every
        pass is the same episodes (:mod:`lrgym.tasks.instance_order`). The vector env calls it
        before each of its resets that is not automatic, and warns
        :class:`~lrgym.tasks.instance_order.IncompletePassWarning` if any returns seeds; a single
        env's seeded reset starts a pass without it, and warns itself. Returns the seeds that
        pass leaves unevaluated (:meth:`_unfinished_pass`)."""
        if self.instance_order != "each_once":
            return ()
        self._pass_pending = True
        return self._unfinished_pass()

    def _unfinished_pass(self) -> tuple[int, ...]:
        """The seeds of this env's block that the current pass has not evaluated, if some episode
        of it has ended (a pass started again before any did loses nothing): what a pass start now
        would leave out."""
        return self.pass_left if self._pass_episodes else ()

    def _check_each_once(self, name: str) -> None:
        if self.instance_order != "each_once":
            raise ValueError(f"{name} read on an env with instance_order={self.instance_order!r}; valid: an env "
                             "made with instance_order='each_once' (the others have no passes)")

    @property
    def pass_block(self) -> tuple[int, ...]:
        """With ``instance_order="each_once"``: the seeds a pass of this env takes, in order (a
        single env: the whole list; sub-env i of a vector env: its block,
        :func:`~lrgym.tasks.instance_order.pass_starts`). A ``ValueError`` with another order."""
        self._check_each_once("pass_block")
        return self._pass_block

    @property
    def pass_left(self) -> tuple[int, ...]:
        """With ``instance_order="each_once"``: the seeds of :attr:`pass_block` on which no episode
        of the current pass has ended yet (an episode ends when a step returns ``terminated`` or
        ``truncated``, or at the reset after a step that did not end it: a wrapper's ``TimeLimit``
        truncated it, or the caller cut it short; the vector env's steps count for its sub-envs),
        in block order; empty
        once the pass is complete. A ``ValueError`` with another order."""
        self._check_each_once("pass_left")
        return tuple(k for k in self._pass_block if k in self._pass_left)

    @property
    def pass_complete(self) -> bool:
        """With ``instance_order="each_once"``: whether every seed of :attr:`pass_block` has had an
        episode of the current pass end on it (:attr:`pass_left` is empty). A ``ValueError`` with
        another order."""
        self._check_each_once("pass_complete")
        return not self._pass_left

    @property
    def pass_episodes(self) -> int:
        """With ``instance_order="each_once"``: how many episodes have ended since the current pass
        started (past :attr:`pass_block`'s length they go on round the list: uncounted). A
        ``ValueError`` with another order."""
        self._check_each_once("pass_episodes")
        return self._pass_episodes

    def end_episode(self) -> None:
        """End the current episode, once (nothing if it has ended already): no step until the next
        reset, and with ``"each_once"`` its instance counts in the current pass. Called by the
        env's step that ends it (the horizon, a divergence), by the reset after an episode stepped
        and not ended (a wrapper's ``TimeLimit`` truncated it, or the caller cut it short), and by
        the vector env for its sub-envs at the end of their episodes."""
        if self._done:
            return
        self._done = True
        if self.instance_order == "each_once":
            self._pass_episodes += 1
            self._pass_left.discard(self.instance)

    def _begin_pass(self, seeded: bool) -> None:
        """Start an ``"each_once"`` pass, right after the reset seeded (or not) the generator. A
        generator set since the last pass start (``env.np_random = ...``, gymnasium's setter) is
        as a seed: the pass starts from it (its state replaced by the old generator's was
        NumPy's 'state must be for a MT19937 PRNG' for another kind, and the user's generator
        silently overwritten for the same kind)."""
        self._pass_pending = False
        self._cycle_position = self._pass_start
        self._pass_left = set(self._pass_block)
        self._pass_episodes = 0
        rng = self.np_random
        if seeded or self._pass_rng is not rng:  # (the first pass of an unseeded env: its entropy's)
            self._pass_rng_state, self._pass_rng = rng.bit_generator.state, rng
        else:
            rng.bit_generator.state = self._pass_rng_state

    def _choose_instance(self, asked: int | None) -> int:
        """The episode's instance seed: ``asked`` (checked), or the next of :attr:`instances`
        (the set, or the ``instances=`` list) in :attr:`instance_order`: drawn uniformly with
        ``np_random``, or the one at :attr:`cycle_position` (:mod:`lrgym.tasks.instance_order`,
        which also says how an asked seed moves the cycle)."""
        if asked is not None:
            self._cycle_position = position_after(self.instances, self.instance_order, asked, self._cycle_position)
            return asked
        k, self._cycle_position = next_instance(self.instances, self.instance_order, self.np_random,
                                               self._cycle_position)
        return k
