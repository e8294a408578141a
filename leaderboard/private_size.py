"""A private suite's size: its default and the largest a grader may choose (``--instances``,
``--seed-count``).

Plain numbers in a module of their own, importing nothing: :mod:`lrgym.leaderboard.private`
checks a chosen size against them (``check_instances``, ``check_seed_count``) and
:mod:`lrgym.leaderboard.cli_options` says them in the options' help, which is built as the
command starts, before any key is read (``private`` imports the task layer and hashlib; the help
does not need them). One place for each number, so the help never names a limit the parser does
not enforce.
"""

from __future__ import annotations

__all__ = ["MAX_INSTANCES", "MAX_SEEDS", "N_INSTANCES", "N_SEEDS"]

#: a private suite's size unless the grader chooses another (``--instances``, ``--seed-count``):
#: instances per family, and env seeds every instance is run with
N_INSTANCES = 8
N_SEEDS = 5
#: the largest sizes a grader may choose: 8x and about 3x the defaults. Every baseline and every
#: submission runs families x instances x seeds episodes, and the references a grid of fixed LRs
#: on each (instance, seed): beyond these a board costs more than any CI it tightens is worth
MAX_INSTANCES = 64
MAX_SEEDS = 16
