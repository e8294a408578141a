"""Where an RLlib algorithm keeps its ``logdir``: in a temp folder of the run's own, not in ``~/ray_results``.

RLlib's ``Algorithm`` is a Ray Tune ``Trainable``. Built outside Tune (``config.build_algo()``,
``Algorithm.from_checkpoint``) it makes ``~/ray_results/<date-time><random>`` for its
``algo.logdir`` (Ray 2.60: ``Trainable._setup_logdir``, a ``tempfile.mkdtemp`` in
``ray.train.constants.DEFAULT_STORAGE_PATH``, which is ``~/ray_results`` as ``$HOME`` was when Ray
was imported), and as lrgym uses it writes nothing there. Every ``train_rllib`` run, RLlib
test and benchmark left one such empty folder in the user's home (≈ 170 on the project's
machine, 2026-12-06). Ray 2.60 gives no setting for it: the ``Trainable`` no longer takes a
``logger_creator``, no environment variable moves ``DEFAULT_STORAGE_PATH``, and a ``storage``
context (Tune's) would make the process ``chdir`` into the folder and copy it to storage after
every ``train()``.

Inside :func:`logdirs_in_temp` an algorithm built makes its folder in one of the block's own
instead, ``$TMPDIR/lrgym-rllib-<owner>-<random>`` (the name says which process made it:
:func:`~lrgym.baselines.owner_names.owned_temp_folder`), removed with what is in it when the
block ends; a process killed with ``kill -9`` leaves it to the next block's sweep. Keep the
algorithm's whole life, ``stop()`` included, inside the block::

    from lrgym.baselines.rllib_logdir import logdirs_in_temp

    with logdirs_in_temp():
        algo = config.build_algo()
        try:
            algo.train()
            algo.save_to_path("runs/my_ppo_ckpt")   # a path of yours: kept
        finally:
            algo.stop()

It does so by pointing the ``DEFAULT_STORAGE_PATH`` that ``Trainable`` reads at the block's
folder for the time of the block (one process-wide name: an algorithm another thread builds then
makes its folder there too). Ray itself still keeps its token in ``~/.ray/auth_token`` (token
authentication, made at the first ``ray.init`` without one); that is Ray's setting, not a
leftover.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from lrgym.baselines.owner_names import owned_temp_folder

__all__ = ["LOGDIR_PREFIX", "logdirs_in_temp"]

#: the name of a :func:`logdirs_in_temp` block's folder in the temp folder, before its owner (the
#: process) and a random part
LOGDIR_PREFIX = "lrgym-rllib-"


@contextlib.contextmanager
def logdirs_in_temp() -> Iterator[str]:
    """For the time of the block, RLlib algorithms built make their ``logdir`` in a new folder of
    the temp folder (yielded) instead of ``~/ray_results``; the folder is removed, with what is in
    it, when the block ends (how, and why: the module's docstring). Blocks may nest; Ray must be
    installed. A Ray whose ``Trainable`` module has no ``DEFAULT_STORAGE_PATH`` (not Ray 2.60's
    layout) is left as it is: its algorithms make their folder where that Ray does."""
    import ray.tune.trainable.trainable as trainable  # the module whose Trainable._setup_logdir reads the name

    with owned_temp_folder(LOGDIR_PREFIX) as folder:
        if not hasattr(trainable, "DEFAULT_STORAGE_PATH"):
            yield folder
            return
        default = trainable.DEFAULT_STORAGE_PATH
        trainable.DEFAULT_STORAGE_PATH = folder
        try:
            yield folder
        finally:
            trainable.DEFAULT_STORAGE_PATH = default
