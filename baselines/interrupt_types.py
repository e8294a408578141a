"""What a stop is, for :mod:`lrgym.baselines.interrupts` and the code that handles one.

The signals that mean "stop" (:data:`STOP_SIGNALS`), the exceptions a stop is raised as
(:class:`Interrupted`, a ``KeyboardInterrupt``; :class:`StopEscalated`, a ``SystemExit``, once
code swallowed it :data:`ESCALATE_AT` times), what to catch to handle one
(:data:`STOP_EXCEPTIONS`), a stopped command's exit status (:func:`interrupt_status`: 128 + the
signal's number) and :class:`Stop`, the record of what one ``stop_signals_interrupt`` block saw.
The handlers that raise them, and the rules of when, are :mod:`lrgym.baselines.interrupts`'s;
that module re-exports every name here.
"""

from __future__ import annotations

import signal

#: the signals that mean "stop": Ctrl-C, a polite kill, a closed terminal
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A stop signal (:data:`STOP_SIGNALS`) arrived: raised in the main thread where Ctrl-C's
    :class:`KeyboardInterrupt` would be."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


class StopEscalated(SystemExit):
    """A stop signal whose :class:`Interrupted` code in the block swallowed again and again
    (:data:`ESCALATE_AT` times found swallowed): raised as ``SystemExit(128 + signum)`` instead,
    which ``except KeyboardInterrupt`` and ``except Exception`` let through, so a retry loop
    swallowing every interrupt still ends; ``finally`` blocks and ``with`` exits run as for any
    exception. Uncaught, Python exits with its code, 128 + the signal's number."""

    def __init__(self, signum: int):
        super().__init__(128 + int(signum))
        self.signum = int(signum)


#: what a stop signal is raised as in a block: catch these (not ``KeyboardInterrupt`` alone) to
#: handle a stop, as ``except STOP_EXCEPTIONS`` (a command's "interrupted" line and exit status)
STOP_EXCEPTIONS = (KeyboardInterrupt, StopEscalated)

#: the time a stop is found swallowed (:func:`~lrgym.baselines.interrupts._keep_stop`) at which it is
#: raised as :class:`StopEscalated`, no longer as :class:`Interrupted`; found swallowed once more after
#: that, the process ends at once (:func:`~lrgym.baselines.last_words.exit_now`)
ESCALATE_AT = 3


def interrupt_status(exc: BaseException | None = None, signum: int | None = None) -> int:
    """The exit status of a command stopped by ``signum`` (else the signal of ``exc``, an
    :class:`Interrupted` or :class:`StopEscalated`; a plain ``KeyboardInterrupt`` is SIGINT's):
    128 + its number."""
    if signum is None:
        signum = getattr(exc, "signum", signal.SIGINT)
    return 128 + int(signum)


class Stop:
    """What a :func:`~lrgym.baselines.interrupts.stop_signals_interrupt` block saw: ``signum``, the
    first stop signal, or None."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.again = 0  # further stop signals, ignored
        #: the :class:`Interrupted` raised for the stop was dropped by Python (a callback called from C:
        #: :func:`~lrgym.baselines.interrupts._stop_dropped`), or the stop was taken where raising it
        #: would drop it (an unraisable hook), and it has not been raised again since: the keeper sends
        #: the signal again (:func:`~lrgym.baselines.interrupts._keep_stop`), and until then a stop
        #: signal raises it, not ignored
        self.dropped = False
        #: the signals the keeper sent again (:func:`~lrgym.baselines.interrupts._keep_stop`) whose
        #: handler has not run since: the next call of the handler for one of them is (or includes:
        #: Python calls a handler once for a signal that came twice) that one, not a further stop
        #: signal, so it says nothing once the stop is taken. Per signal: the handlers of signals
        #: pending together run in the order of their numbers, so a real SIGINT's ran first and was
        #: taken for the SIGTERM sent again, and that one then counted as a further signal
        self.in_flight: set[int] = set()
        #: the times the stop was found swallowed by code in the block and raised again
        #: (:func:`~lrgym.baselines.interrupts._keep_stop`,
        #: :func:`~lrgym.baselines.interrupts._raised_again`; :attr:`escalated` from it)
        self.swallowed = 0
        #: the handler is raising the swallowed stop again: a signal whose handler Python runs
        #: within it (the keeper's, sent as it saw the main thread in the handler, or a real one)
        #: finds the stop swallowed too, and counted the one swallow twice (escalated a turn early)
        self.raising = False
        #: put the handlers found back when the block ends; False
        #: (:func:`~lrgym.baselines.interrupts.run_command` of an exiting command after a stop signal)
        #: ignores the stop signals to the end instead
        self.restore = True
        #: the block is putting the handlers back: a first stop signal now is passed on to the
        #: handler found once it is back (:attr:`late`), not raised halfway through
        self.closing = False
        self.late: list[int] = []
        #: the block has ended and put its handlers back (or set them ignored): its handler, still found
        #: by an inner block finalized only now, is not put back
        #: (:func:`~lrgym.baselines.interrupts._put_back`)
        self.ended = False

    @property
    def escalated(self) -> bool:
        """Whether the stop is raised as :class:`StopEscalated`: found swallowed
        :data:`ESCALATE_AT` times (a stop that went on out of an inner block brings its count)."""
        return self.swallowed >= ESCALATE_AT

    @property
    def status(self) -> int | None:
        """128 + ``signum``, or None if no stop signal came."""
        return None if self.signum is None else interrupt_status(signum=self.signum)
