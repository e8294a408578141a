"""A command stopped by SIGTERM or SIGHUP cleans up as one stopped by Ctrl-C.

Python turns Ctrl-C (SIGINT) into :class:`KeyboardInterrupt`: ``finally`` blocks and context
managers run, so a pool's workers are stopped and their temp folders removed. SIGTERM (what
``kill``, ``timeout``, systemd, Slurm, ``docker stop`` and CI cancellations send) and SIGHUP (a
closed terminal) end Python at once, running none of them: worker processes die with their
parent (``PR_SET_PDEATHSIG``) but what they leave on disk stays until a later run sweeps it.

:func:`stop_signals_interrupt` makes the three signals one path for the block it guards: the
first one raises :class:`Interrupted` (a :class:`KeyboardInterrupt`, so every
``except KeyboardInterrupt`` already written takes it) in the main thread, and the block cleans up
on its way out. Any further stop signal until the block ends is ignored, with one line on stderr:
the cleanup is never cut short halfway (it is bounded: the pools kill their busy workers and wait
for them). ``kill -9`` still ends the process at once; what it leaves is removed by the next run's
sweep (:func:`lrgym.leaderboard.pool.sweep_orphaned_scratch`). A signal ignored when the block
starts (``nohup``, a background job's SIGINT) stays ignored.

Python drops an exception raised in a Python function called where none can go on: a callback
called from C (ctypes; llvmlite calls one, ``ExecutionEngine._raw_object_cache_notify``, on every
Numba compile), a ``__del__``, a weakref callback. An :class:`Interrupted` dropped so is raised
again at the next point the main thread takes signals, out of that callback (the block's
``sys.unraisablehook``, :func:`_stop_dropped`): the stop is not lost, and further signals are
ignored only once it has been raised where it goes on.

Code in the block may catch the :class:`Interrupted` and go on (a library's ``except
BaseException``, ``except KeyboardInterrupt: pass``, a retry loop, ``contextlib.suppress``): the
stop is *swallowed*. It is then raised again (:func:`_keep_stop`): at the next point the main
thread takes signals once no exception of it is being handled (a thread looks every 10 ms and
sends the signal again, which also ends a wait in a system call), at any further stop signal
meanwhile, and at the latest as the block ends (out of the ``with``, chained to any other error
leaving it). "Being handled" is Python's own ``sys.exc_info()``: an ``except`` or ``finally``
clause, or a ``with`` exit, running for the interrupt or for an exception raised while handling it
(``raise SystemExit(143) from None``), or a generator's cleanup as it is closed (a ``for`` loop's
generator the stop's unwinding leaves: ``GeneratorExit`` is then the one exception handled,
:func:`_stop_kept`), or a finalizer (a ``__del__``, a ``weakref.finalize`` callback) run, as
an object freed as the stop unwinds is (:func:`_in_finalizer`). So a further signal is ignored
only while the stop is cleaned up, never while the run goes on as if none came. Code that
catches it, leaves the ``except`` clause and cleans up afterwards, re-raising only then, is
interrupted in that cleanup: clean up inside the ``except``/``finally`` clause. With nested
blocks, the stop an inner block took is the outer block's too as it goes on out into it
(:func:`_stop_goes_out`): a further signal in the outer block's cleanup is ignored, not a first
stop.

Code that swallows the stop at every turn (a retry loop, ``while True: try: work() except
KeyboardInterrupt: continue``) would be cut at every turn yet run to its end, deaf to any number
of SIGTERMs and Ctrl-Cs: the stop escalates. Each time it is found swallowed (the keeper's look, a
further signal, the block's end) counts; the :data:`ESCALATE_AT`-th time (3) it is raised as
:class:`StopEscalated`, a ``SystemExit(128 + the signal's number)`` that ``except
KeyboardInterrupt`` and ``except Exception`` let through (``finally`` blocks and ``with`` exits
still run; :func:`run_command` says "interrupted" and exits with that status as after any stop:
catch :data:`STOP_EXCEPTIONS` to handle a stop). Found swallowed once more (an ``except
BaseException`` at every turn), one last line on stderr names the signal and the process ends at
once, ``os._exit(128 + its number)``, no cleanup run
(:func:`~lrgym.baselines.last_words.exit_now`): what it printed and Python still buffers is
flushed first, and neither that nor the last line can hold the exit up (they get a second at
most, all together: a pipe nobody reads, full, stays so).

:func:`run_command` is a command's ``main`` under it: the "interrupted" line and the conventional
exit status, 128 + the signal's number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP); once
stopped, a command that exits (``exiting=True``) ignores further stop signals until the process
has exited, while a program calling a command's ``main`` gets its own handlers back.

Only the main thread of a process can take signals in Python: elsewhere the block changes
nothing. A library function (``run_suite``) installs no handler: a program calling it keeps its
own signal handling, and wraps the call in :func:`stop_signals_interrupt` for this behaviour.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lrgym.baselines.interrupt_types import (
    ESCALATE_AT,
    STOP_EXCEPTIONS,
    STOP_SIGNALS,
    Interrupted,
    Stop,
    StopEscalated,
    interrupt_status,
)
from lrgym.baselines.last_words import exit_now, let_go_of_held_output, say_last_line, say_without_waiting

__all__ = ["ESCALATE_AT", "STOP_EXCEPTIONS", "STOP_SIGNALS", "Interrupted", "Stop", "StopEscalated",
           "defer_stop_signals", "interrupt_status", "keep_stop_handlers", "run_command", "stop_signals_interrupt"]

_AGAIN = (b"stopping: cleaning up first, further stop signals are ignored until done "
          b"(kill -9 stops at once; its temp folders are then removed by the next run)\n")


#: the handlers found by the active :func:`stop_signals_interrupt` blocks, outermost first
_FOUND: list[dict] = []


def _forked() -> None:
    """In a child forked inside a block (a ``multiprocessing`` fork pool's worker) the handlers
    found are put back: ``Pool.terminate`` SIGTERMs its workers, which must die, not raise."""
    if _FOUND:
        for sig, found in _FOUND[0].items():
            while _ended_block_handler(found):  # (an inner block not yet finalized: see _put_back)
                found = found.found.get(sig)
            try:
                signal.signal(sig, found if found is not None else signal.SIG_DFL)
            except ValueError:  # pragma: no cover - not the main thread (Python makes the forking thread it)
                pass
        _FOUND.clear()
    global _REDELIVERY
    _REDELIVERY = threading.Lock()  # (held, maybe, by a parent's thread the child has not)
    _DEFERRED.clear()  # the child is in none of its parent's sections: its own stop blocks raise at once
    _put_unraisable_hook_back()  # (the child has none of its parent's threads either: no keeper runs)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


@contextmanager
def stop_signals_interrupt(signals: tuple[int, ...] = STOP_SIGNALS) -> Iterator[Stop]:
    """Within the block, the first of ``signals`` raises :class:`Interrupted`; later ones are
    ignored (one line on stderr) until the block ends, so its cleanup runs to the end. The
    handlers found are put back on the way out, every one: a first stop signal landing while they
    are is passed on to the handler found once it is back (as if it came a moment later). Outside
    the main thread it does nothing."""
    stop = Stop()
    swallowed = None  # the stop taken, swallowed by code in the block and not raised again before its end
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        try:  # (one step: a keeper adding it meanwhile is not taken off unseen)
            stop.in_flight.remove(signum)
            redelivered = True
        except KeyError:
            redelivered = False
        if stop.closing and (stop.signum is None or stop.dropped):  # the block is ending,
            stop.late.append(signum)  # its stop not taken: the caller's handler takes it
            stop.dropped = False
            return
        if stop.signum is None or stop.dropped:  # the first one, or its Interrupted dropped
            if stop.signum is None:
                stop.signum = signum
                _keep_stop(handler)
            if _in_unraisable_hook(frame):  # raised here, Python would drop it with the hook's own:
                stop.dropped = True  # the keeper sends it again, raised once out of it
                return
            stop.dropped = False
            if _DEFERRED:  # in a section that must not be cut (defer_stop_signals): raised at its end
                _DEFERRED[-1].append(stop.signum)
                return
            raise _stop_exception(stop)
        if not stop.closing and not _stop_kept(sys.exc_info()[1], frame) and not any(_DEFERRED):
            # taken, yet no exception of it is on its way out: code in the block swallowed it
            if _in_unraisable_hook(frame):  # (raised here it would be dropped: the keeper looks again)
                return
            if _DEFERRED and not stop.escalated:  # (in a section that must not be cut: raised at its end)
                _DEFERRED[-1].append(stop.signum)
                return
            if stop.raising:  # (run within this handler raising it: the same swallow, counted once)
                return
            stop.raising = True
            try:
                raise _raised_again(stop)  # (or the process ends: swallowed even escalated)
            finally:
                stop.raising = False
        if redelivered:  # the stop sent again (its raise pending, or a look for a swallowed one): no new signal
            return
        stop.again += 1
        if stop.again == 1:
            say_without_waiting(_AGAIN)

    old = {}
    ended_here = False  # the block's code ran to its end: what is handled at its end is the caller's (outside)
    outside = sys.exc_info()[1]
    handler.stop_signals_interrupt = True  # known by keep_stop_handlers
    handler.stop, handler.found = stop, old  # (an ended block's handler is never put back: _put_back)
    try:
        _set_unraisable_hook()
        for sig in signals:
            found = signal.getsignal(sig)
            if found is signal.SIG_IGN:  # nohup, a background job: the caller asked to ignore it
                continue
            old[sig] = found
            signal.signal(sig, handler)
        _FOUND.append(old)
        yield stop
        ended_here = True
    finally:
        try:  # (a signal landing before this line raises here: the handlers are put back all the same)
            stop.closing = True
        finally:
            try:
                with _REDELIVERY:  # (the keeper sends nothing from now on: a dropped stop is passed on once)
                    if stop.dropped:  # dropped, not yet raised again: as a signal landing now
                        stop.late.append(stop.signum)
                        stop.dropped = False
                    elif stop.signum is not None and not stop.late and (not _stopping(leaving := sys.exc_info()[1])
                                                      or ended_here and leaving is outside):
                        # (GeneratorExit: the generator closed unresumed, its with cut by the stop itself)
                        if not isinstance(leaving, GeneratorExit):
                            swallowed = stop.signum  # taken, and swallowed since: raised as the block ends
                _end_block(stop, old)
            finally:
                stop.ended = True
        if swallowed is not None:  # (chained to an exception leaving the block, if any, as its __context__)
            raise _raised_again(stop)
        if stop.late:  # arrived while the handlers were put back: the handler found takes it, as a moment later
            signal.raise_signal(stop.late[0])


def _end_block(stop: Stop, old: dict) -> None:
    """Put back the handlers found (``old``) as a :func:`stop_signals_interrupt` block ends, every
    one: a stop signal landing meanwhile is kept for the handler found (:attr:`Stop.late`), not
    raised halfway (which left the block's handler on the others, every later signal ignored)."""
    if stop.restore:
        # taken off _FOUND first, while the block's own handler (which raises nothing now) is in
        # place: once an outer block's is back, a signal may raise anywhere, and an entry left
        # behind for ever gave every child forked later an ended block's handler (_forked)
        for k in range(len(_FOUND) - 1, -1, -1):
            if _FOUND[k] is old:
                del _FOUND[k]
                break
        if not _FOUND:  # the last block: the caller's sys.unraisablehook back too
            _put_unraisable_hook_back()
        if stop.signum is not None and not stop.late:
            _stop_goes_out(stop, old)
        _put_back(old)
    else:  # exiting, cleaned up: ignored to the end (Python puts its own handlers back to
        # SIG_DFL while it finalizes, which takes a while); a child forked from now on still
        # gets the handlers found (_FOUND is kept): one ignoring SIGTERM would outlive a
        # pool's terminate
        for sig in old:
            signal.signal(sig, signal.SIG_IGN)


def _stop_goes_out(stop: Stop, old: dict) -> None:
    """A block that took a ``stop`` ends, its handlers found (``old``) about to be put back: the
    stop goes on out (an exception of it leaves the block, or the block raises it as it ends) into
    the enclosing block whose handler it found for that signal, if any, which has then taken it
    too, with the times it was found swallowed (a stop escalated stays so). Before, that block had
    taken none: a further signal in its cleanup (the ``finally`` the stop went on into) was its
    first stop, raised there, and the cleanup was cut. An enclosing block that does not handle
    that signal (``stop_signals_interrupt((signal.SIGINT,))`` around a block stopped by SIGTERM)
    takes nothing: the stop is not its own (it raised it again at its end)."""
    found = old.get(stop.signum)
    if _live_block_handler(found) and found.stop.signum is None:
        found.stop.signum = stop.signum
        found.stop.swallowed = stop.swallowed
        _keep_stop(found)


def _ended_block_handler(handler) -> bool:
    """Whether ``handler`` is the handler of a :func:`stop_signals_interrupt` block that has ended."""
    return getattr(handler, "stop_signals_interrupt", False) and handler.stop.ended


def _put_back(old: dict) -> None:
    """Install the handlers found (``old``; None, a handler not set from Python: ``SIG_DFL``),
    every one: a handler already back may take a stop signal and raise (Python's own SIGINT one:
    ``KeyboardInterrupt``; a block's: :class:`Interrupted`), and the others are then put back
    all the same before its exception goes on. (Left half done, SIGTERM kept the ended block's
    handler, which ignores every later signal once the block is closing, or ``ray.init``'s
    ``sys.exit(15)``, which cut the cleanup short.)

    The handler of a block that has ended is not put back, the signal's handler left as it is:
    an inner block (or :func:`keep_stop_handlers`) whose ``with`` a stop signal cut inside
    :mod:`contextlib`, before its generator resumed, ends only when that exception is dropped,
    after the outer block ended and put back what it found; it then put the outer block's
    handler back, which ignores every signal once its block is closing (a process deaf to
    SIGTERM, SIGINT and SIGHUP for good: a stress test's signals at random times, 2026-12-06)."""
    def install() -> None:
        for sig, found in old.items():
            if not _ended_block_handler(found):
                signal.signal(sig, found if found is not None else signal.SIG_DFL)

    try:
        install()
    except BaseException:
        install()
        raise


#: the sys.unraisablehook found as the first of the active blocks began (put back as the last ends)
_UNRAISABLE_FOUND: list = []


def _set_unraisable_hook() -> None:
    """Make :func:`_stop_dropped` ``sys.unraisablehook`` (the hook found takes everything else)."""
    if sys.unraisablehook is not _stop_dropped:
        _UNRAISABLE_FOUND[:] = [sys.unraisablehook]
        sys.unraisablehook = _stop_dropped


def _put_unraisable_hook_back() -> None:
    """Put back the ``sys.unraisablehook`` found, unless one set since (someone else's) replaced ours."""
    if sys.unraisablehook is _stop_dropped:
        sys.unraisablehook = _UNRAISABLE_FOUND[0] if _UNRAISABLE_FOUND else sys.__unraisablehook__
    _UNRAISABLE_FOUND.clear()


def _stop_dropped(unraisable) -> None:
    """``sys.unraisablehook`` while a :func:`stop_signals_interrupt` block is active: Python calls
    it with each exception it drops, one raised in a Python function called where no exception
    can go on (a callback called from C by ctypes: llvmlite calls one on every Numba compile; a
    ``__del__``; a weakref callback). A block's :class:`Interrupted` dropped so left the run going
    on and every later stop signal ignored, the stop counted as taken (a ``lrgym leaderboard
    submit`` compiling could then be stopped by ``kill -9`` alone): it is raised again instead
    (:attr:`Stop.dropped`: the block's keeper sends the signal again), said nowhere. Anything else
    goes to the hook found."""
    exc = unraisable.exc_value
    handler = None
    if isinstance(exc, (Interrupted, StopEscalated)) and threading.current_thread() is threading.main_thread():
        handler = signal.getsignal(exc.signum)
    if _live_block_handler(handler) and not handler.stop.closing:
        stop = handler.stop
        if stop.signum is None:  # (an inner block's, dropped in a __del__ once it had ended: this block's now)
            stop.signum = exc.signum
            _keep_stop(handler)
        stop.dropped = True
    else:
        (_UNRAISABLE_FOUND[0] if _UNRAISABLE_FOUND else sys.__unraisablehook__)(unraisable)


def _in_unraisable_hook(frame) -> bool:
    """Whether ``frame`` (where a signal handler runs) is in :func:`_stop_dropped` or a hook it called."""
    while frame is not None:
        if frame.f_code is _stop_dropped.__code__:
            return True
        frame = frame.f_back
    return False


def _live_block_handler(handler) -> bool:
    """Whether ``handler`` is the handler of a :func:`stop_signals_interrupt` block not yet ended."""
    return getattr(handler, "stop_signals_interrupt", False) and not handler.stop.ended


#: held by the keeper (:func:`_keep_stop`) while it checks that the stop is still to be sent and
#: sends it, and by a block ending while it passes a dropped stop on (:attr:`Stop.late`): without
#: it a keeper that had checked sent the signal after the block had passed it on, and the handler
#: found took it twice
_REDELIVERY = threading.Lock()


def _stopping(exc: BaseException | None) -> bool:
    """Whether ``exc``, the exception being handled, is a stop on its way out: a
    ``KeyboardInterrupt`` (:class:`Interrupted`), a :class:`StopEscalated`, or an exception raised
    while handling one (its ``__context__`` or ``__cause__``: ``raise SystemExit(143) from None``,
    click's ``Abort``)."""
    seen, todo = set(), [exc]
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        if isinstance(exc, STOP_EXCEPTIONS):
            return True
        seen.add(id(exc))
        todo += [exc.__context__, exc.__cause__]
    return False


def _stop_kept(exc: BaseException | None, frame=None) -> bool:
    """Whether a stop taken may be on its way out while ``exc`` is the exception being handled
    and ``frame`` runs: :func:`_stopping`, a finalizer running (:func:`_in_finalizer`), or a
    ``GeneratorExit``, a generator being closed. A stop unwinding the main
    thread's frames closes the generators it leaves (a ``for`` loop's, freed as its frame's stack is
    emptied) before any ``except`` takes it; such a generator's ``finally`` runs with its own
    ``GeneratorExit`` as the one exception handled (the stop in flight is nowhere to be seen), so
    its cleanup was taken for code that swallowed the stop: cut by the stop raised again, which
    Python then dropped (an exception out of a finalizer), and raised once more in the ``except``
    that took the stop, cutting that cleanup too. A stop swallowed for real is raised again as soon
    as the generator is closed."""
    return _stopping(exc) or isinstance(exc, GeneratorExit) or _in_finalizer(frame)


def _stop_exception(stop: Stop) -> BaseException:
    """The exception ``stop`` is raised with now: :class:`Interrupted`, or :class:`StopEscalated`
    once escalated (:func:`_raised_again`)."""
    return (StopEscalated if stop.escalated else Interrupted)(stop.signum)


def _raised_again(stop: Stop) -> BaseException:
    """``stop`` was found swallowed by code in the block (by the handler, at the keeper's signal or
    a real further one, or as the block ends): counted, and the exception to raise it again with.

    The first ``ESCALATE_AT - 1`` times it is :class:`Interrupted` again (an ``except
    KeyboardInterrupt`` that swallowed it once by mistake takes it the next time); the
    :data:`ESCALATE_AT`-th time :class:`StopEscalated`, which ``except KeyboardInterrupt`` and
    ``except Exception`` let through. Before, code swallowing it at every turn (a retry loop,
    ``while True: try: work() except KeyboardInterrupt: continue``) was cut at every turn and ran
    to its end: no number of SIGTERMs or Ctrl-Cs ended the process. Found swallowed once more
    after that (an ``except BaseException`` at every turn), the process ends here
    (:func:`~lrgym.baselines.last_words.exit_now`), as SIGTERM's default action would have ended it."""
    if stop.escalated:
        exit_now(stop.signum)
    stop.swallowed += 1
    return _stop_exception(stop)


#: the code of ``weakref.finalize``'s call, through which its callbacks run
_FINALIZE_CALL = weakref.finalize.__call__.__code__


def _in_finalizer(frame) -> bool:
    """Whether ``frame`` is in a finalizer: a ``__del__`` or a ``weakref.finalize`` callback.

    An object freed as a stop unwinds the main thread (a temporary on a frame's stack, a local
    of a frame the traceback lets go, an exception variable as its ``except`` clause ends)
    is finalized with the stop in flight, which ``sys.exc_info()`` does not show there (Python
    saves it aside while the finalizer runs): its cleanup was taken for code that swallowed the
    stop and cut by the stop raised again, which Python dropped (an exception out of a finalizer)
    and the keeper sent once more, cutting the ``except`` clause that then took the original
    stop too. A stop swallowed for real is raised again as soon as the finalizer returns. (A plain
    ``weakref.ref`` callback cannot be told from any other function: it is not recognized.)"""
    while frame is not None:
        if frame.f_code.co_name == "__del__" or frame.f_code is _FINALIZE_CALL:
            return True
        frame = frame.f_back
    return False


#: how often :func:`_keep_stop` looks (a stop dropped or swallowed is raised again within about
#: this long, or as soon as the system call the main thread then waits in is interrupted)
_KEEP_SECONDS = 0.01


def _keep_stop(handler) -> None:
    """Until the block whose ``handler`` took its stop ends, see that the stop is raised where it
    goes on: a thread looks every :data:`_KEEP_SECONDS` and sends the signal to the main thread
    again (``pthread_kill``: as if it came again, a wait in a system call ends; the handler runs
    at the next point Python takes signals, :attr:`Stop.in_flight`) when

    - Python dropped the stop's :class:`Interrupted` (:attr:`Stop.dropped`: raised in a callback
      called from C, a ``__del__``, or taken in an unraisable hook): the handler raises it again,
      out of that callback (taken in a hook again, it is sent once more). Not sent from the main
      thread in the hook: Python runs a handler right after the call that set its signal
      pending, so it would be taken in that very hook, its exception dropped with the hook's own;
    - or the main thread handles no exception of the stop on its way out (``sys._current_exceptions``,
      :func:`_stop_kept`): code in the block may have swallowed it (``except KeyboardInterrupt:
      pass``, a library's ``except BaseException``, a retry loop, ``contextlib.suppress``); the
      handler, which sees the main thread's exceptions exactly, raises it again if it was
      swallowed (:attr:`Stop.swallowed`; escalating, :func:`_raised_again`), else says nothing
      (the keeper looked between a raise and its ``except``). Swallowed, the stop was lost: the run went on to its end, every later
      stop signal ignored (a cleanup was thought to be running), so nothing but ``kill -9``
      stopped it.

    Nothing is sent while a signal sent is on its way (its handler raises the stop, or the keeper
    asks again), while another handler is in place (an inner block's, ``ray.init``'s in
    :func:`keep_stop_handlers`: it waits for the block's), nor once the block is ending (a stop
    still dropped is passed on to the handler found then, once). Started from the handler: a
    low-level thread (``_thread``), since ``threading.Thread.start`` takes ``threading``'s locks,
    which the main thread the handler interrupted may hold."""
    stop = handler.stop
    signum = stop.signum
    main = threading.main_thread().ident

    def handled() -> tuple[BaseException | None, object]:  # (what the main thread handles, where it is)
        exc = sys._current_exceptions().get(main)
        return exc[1] if isinstance(exc, tuple) else exc, sys._current_frames().get(main)  # (a tuple up to 3.11)

    def keep() -> None:
        while not stop.closing:
            time.sleep(_KEEP_SECONDS)
            with _REDELIVERY:  # (checked and sent as one: the block ending between them got it twice)
                if (stop.closing or signum in stop.in_flight or signal.getsignal(signum) is not handler
                        or not stop.dropped and (any(_DEFERRED) or _stop_kept(*handled()))):
                    continue  # (a section pending raises a swallowed stop at its end)
                stop.in_flight.add(signum)
                if hasattr(signal, "pthread_kill"):  # the signal itself: a wait in a system call ends
                    signal.pthread_kill(main, signum)
                else:  # pragma: no cover - Windows: no pthread_kill
                    _thread.interrupt_main(signum)

    _thread.start_new_thread(keep, ())


#: the stop signals that arrived in each active defer_stop_signals section, innermost last
_DEFERRED: list[list[int]] = []


def _leave_section(arrived: list[int]) -> None:
    """Take the section whose list is ``arrived`` off :data:`_DEFERRED`: that very list, by
    identity (``list.remove`` compares by value: an inner section ending took its empty outer
    one off, and the outer one then found a list with a signal in it unequal to its own:
    ``ValueError``, the signal lost). Absent in a forked child (:func:`_forked` cleared them)."""
    for k in range(len(_DEFERRED) - 1, -1, -1):
        if _DEFERRED[k] is arrived:
            del _DEFERRED[k]
            return


def _deferred_stop(signum: int) -> BaseException:
    """The exception a stop deferred by a section is raised with as the section ends: the active
    block's (:class:`StopEscalated` once it escalated, :func:`_stop_exception`), else
    :class:`Interrupted`."""
    handler = signal.getsignal(signum)
    if _live_block_handler(handler) and handler.stop.signum == signum:
        return _stop_exception(handler.stop)
    return Interrupted(signum)


@contextmanager
def defer_stop_signals() -> Iterator[None]:
    """A section a stop signal must not cut in the middle (a process pool being set up: cut
    there, nobody would stop its workers): within a :func:`stop_signals_interrupt` block, the
    first stop signal arriving here is raised as :class:`Interrupted` when the section ends — also
    when the section itself raised (the interrupt then says so, its ``__context__`` the section's
    error), so a stop signal is never lost. Only the main thread takes signals: elsewhere the
    section defers nothing (the main thread's signal is raised there, not in this thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    _DEFERRED.append(arrived)
    try:
        yield
    except BaseException:
        _leave_section(arrived)
        if arrived and not _DEFERRED:
            raise _deferred_stop(arrived[0])  # raised while handling the section's error: chained to it
        if arrived:
            _DEFERRED[-1].extend(arrived)
        raise
    _leave_section(arrived)
    if arrived and _DEFERRED:
        _DEFERRED[-1].extend(arrived)
    elif arrived:
        raise _deferred_stop(arrived[0])


@contextmanager
def keep_stop_handlers() -> Iterator[None]:
    """Put back, when the block ends, the handlers of :func:`stop_signals_interrupt` that code in
    the block replaced: ``ray.init`` sets a SIGTERM handler of its own (``sys.exit(15)``: no
    "interrupted" line, status 15). Other handlers are left as the block leaves them."""
    found = {}
    if threading.current_thread() is threading.main_thread():
        found = {sig: h for sig in STOP_SIGNALS if getattr(h := signal.getsignal(sig), "stop_signals_interrupt", False)}
    try:
        yield
    finally:
        _put_back(found)


def run_command(main: Callable[[], object], name: str = "", exiting: bool = False) -> object:
    """``main()`` under :func:`stop_signals_interrupt`; its value is returned (for
    ``sys.exit``). Stopped by a signal, the command exits with :func:`interrupt_status`: a
    ``KeyboardInterrupt`` (or :class:`StopEscalated`) it let through is said in one line on
    stderr, and its own exit (the
    ``lrgym`` CLI's "interrupted" line, click's "Aborted!") or an ``OSError`` (writing to a
    terminal closed by SIGHUP) is given that status too (a ``SystemExit``).

    ``exiting``: the process exits right after (a command's ``__main__``, the ``lrgym`` script).
    Once stopped, it then ignores the stop signals until it has exited (a second ``kill`` during
    Python's finalization would otherwise end it with the signal's own status), and what
    ``sys.stdout`` and ``sys.stderr`` still hold is written, a reader waited for a second at most,
    or dropped (:func:`_exit_status`): Python's flush at exit then waits on nothing. Otherwise (a
    program calling a command's ``main`` and catching its ``SystemExit``) the handlers found are
    put back, as after any block: the caller can still be stopped, and so can what it starts."""
    try:
        with stop_signals_interrupt() as stop:
            try:
                return main()
            except STOP_EXCEPTIONS as exc:  # (StopEscalated, a SystemExit: before the clause below)
                stop.restore = not exiting
                raise SystemExit(_exit_status(_interrupted(name, stop.status or interrupt_status(exc)), exiting)) from None
            except (SystemExit, OSError):
                if stop.status is None:
                    raise
                stop.restore = not exiting
                raise SystemExit(_exit_status(stop.status, exiting)) from None
    except (Interrupted, StopEscalated) as exc:  # landed as the block ended, main() done (handlers back): a stop
        raise SystemExit(_exit_status(_interrupted(name, interrupt_status(exc)), exiting)) from None


def _exit_status(status: int, exiting: bool) -> int:
    """A stopped command's exit ``status``, returned once, if the process ``exiting`` is about to
    exit, what ``sys.stdout`` and ``sys.stderr`` still hold is written or let go of
    (:func:`~lrgym.baselines.last_words.let_go_of_held_output`): Python's own flush of them as the
    interpreter exits waited for a reader, and a full pipe nobody reads until the process ends
    held the stopped command there for good, every stop signal ignored."""
    if exiting:
        let_go_of_held_output()
    return status


def _interrupted(name: str, status: int) -> int:
    """Say on stderr that the command ``name`` was interrupted, without waiting
    (:func:`~lrgym.baselines.last_words.say_last_line`: a stderr nobody reads, full, has it
    dropped rather than hold the stopped command there for good; a terminal closed by SIGHUP: not
    said); returns its exit ``status``."""
    try:
        say_last_line(f"{name + ': ' if name else ''}interrupted ({signal.Signals(status - 128).name})\n")
    except (OSError, ValueError):
        pass
    return status
