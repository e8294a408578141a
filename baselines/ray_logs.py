"""What of Ray's and RLlib's own logging an lrgym command shows: its run's lines, not the libraries' notices.

Ray and RLlib log notices on the driver's terminal that ask nothing of the user: Ray's that it
turned token authentication on, at every ``ray.init`` (:data:`TOKEN_NOTICE`), and on every
``train_rllib`` run RLlib's that PPO runs on its new API stack, its deprecation of the
``RLModuleConfig`` it builds itself, Tune's advice to install ``gputil`` (:data:`RLLIB_NOTICES`).
While a run lasts, :func:`notices_dropped` drops those records, found by their logger and the
start of their message; every other record of those loggers and all others — Ray's and RLlib's
real warnings and errors — is kept. :func:`connect <lrgym.baselines.backend.connect>` also starts
Ray without the workers' output on the driver (``log_to_driver=False``) and with Ray's logger at
WARNING.

``$LRGYM_RAY_LOGS=all`` (a command's ``--verbose`` too, where it has one: ``train_rllib``) shows
everything, as Ray does by itself: the notices, Ray's INFO lines and the workers' output. It is
read in one place, :func:`ray_logs_shown`, by every command that runs on Ray (``lrgym leaderboard
... --backend ray``, ``tune``, ``train_rllib``).

Not dropped: lines Ray's C++ core writes to the process's stderr itself, such as ``core_worker.cc:
... Actor with class name: 'SingleAgentEnvRunner' ... has constructor arguments in the object store
and max_restarts > 0`` (RLlib's env runners are restartable actors whose config RLlib puts in the
object store). Only ``RAY_BACKEND_LOG_LEVEL=fatal`` in the driver hides it, and that hides the
driver's ``Failed to connect to GCS within 60 seconds ... The program will terminate`` too, the one
line that says why a run ends when the cluster's head dies (tried on Ray 2.60: the process then
ends with status 1 and no word), and adds a line of its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator

__all__ = ["RAY_LOGS_CHOICES", "RAY_LOGS_ENV", "RLLIB_NOTICES", "TOKEN_NOTICE", "notices_dropped", "ray_logs_shown"]

#: the environment variable that shows Ray's and RLlib's own logging whole (:func:`ray_logs_shown`)
RAY_LOGS_ENV = "LRGYM_RAY_LOGS"
#: its values: ``quiet`` (the default; unset or empty is quiet) and ``all``
RAY_LOGS_CHOICES = ("quiet", "all")

#: the logger and the start of Ray's notice, at every ``ray.init`` where ``$RAY_AUTH_MODE`` is unset, that
#: it turned token authentication on (a new instance; ``auto`` where a token exists): Ray 2.60's
#: ``authentication_token_setup._warn_token_auth_enabled``. Ray's warning that token authentication
#: is *off* (anyone on the network may run code on the cluster) is another message, and kept.
TOKEN_NOTICE = ("ray._private.authentication.authentication_token_setup",
                "Token authentication is enabled for this Ray cluster")

#: RLlib's and Tune's notices on every ``train_rllib`` run, as (logger, start of the message) (Ray 2.60):
#: the new API stack is RLlib's default, which lrgym uses (``AlgorithmConfig.validate``, once per
#: algorithm); RLlib's ``RLModule.__init__`` builds the ``RLModuleConfig`` it deprecates itself
#: (logged by Ray's deprecation helper, on its logger); Tune's ``UtilMonitor`` (every Algorithm
#: starts one) asks for ``gputil``, which CPU training does not use
RLLIB_NOTICES = (
    ("ray.rllib.algorithms.algorithm_config", "You are running {algo} on the new API stack! This is the new default"),
    ("ray._common.deprecation", "DeprecationWarning: `RLModule(config=[RLModuleConfig object])` has been deprecated"),
    ("ray.tune.utils.util", "Install gputil for GPU system monitoring."),
)


def ray_logs_shown(verbose: bool = False) -> bool:
    """Whether a run shows Ray's and RLlib's logging whole: ``verbose`` (a command's
    ``--verbose``) or ``$LRGYM_RAY_LOGS=all``. Another value of the variable is a ``ValueError``
    naming it and :data:`RAY_LOGS_CHOICES`."""
    value = os.environ.get(RAY_LOGS_ENV, "").strip() or "quiet"
    if value not in RAY_LOGS_CHOICES:
        raise ValueError(f"${RAY_LOGS_ENV}={value!r} is no choice; valid: {', '.join(RAY_LOGS_CHOICES)} "
                         "(unset: quiet)")
    return verbose or value == "all"


def _pattern(start: str) -> re.Pattern:
    """A notice's start as a pattern: ``{algo}`` stands for a word (PPO, DQN), the rest literal."""
    return re.compile(r"\w+".join(re.escape(part) for part in start.split("{algo}")))


@contextlib.contextmanager
def notices_dropped(notices, shown: bool = False) -> Iterator[None]:
    """Drop the records of ``notices`` ((logger name, start of the message) pairs) while the block
    runs, unless ``shown`` (:func:`ray_logs_shown`); a filter on each of those loggers, taken off
    after, so nothing of the caller's logging outlives the run. Records are matched on their
    message as logged, before any formatting: only the notice, never another record of its logger."""
    if shown:
        yield
        return
    filters = []
    for name, start in notices:
        pattern = _pattern(start)

        def keep(record: logging.LogRecord, pattern=pattern) -> bool:
            return not pattern.match(str(record.msg))

        logger = logging.getLogger(name)
        logger.addFilter(keep)
        filters.append((logger, keep))
    try:
        yield
    finally:
        for logger, keep in filters:
            logger.removeFilter(keep)
