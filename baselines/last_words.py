"""A process's last words: a line written without waiting, and an exit that no stream can hold up.

A stop signal's handler interrupts the main thread anywhere, maybe inside a ``print`` holding a
stream's lock, and stderr may be a pipe nobody reads: a write that waits there stops the process
in the handler, deaf to every further signal. :func:`say_without_waiting` writes a short line
only if that needs no waiting (else drops it), without touching the flags stderr shares with
other processes; :func:`exit_now` ends the process at once (``os._exit``) after flushing what it
printed and saying why, each step bounded by :data:`LAST_WORDS_SECONDS`;
:func:`let_go_of_held_output` sees that Python's own flush of ``sys.stdout`` and ``sys.stderr``
as the interpreter exits finds nothing a reader must take first. Used by
:mod:`lrgym.baselines.interrupts` (the note of a further stop signal; the "interrupted" line,
:func:`say_last_line`; a stopped command about to exit; the end of a stop swallowed even
escalated).
"""

from __future__ import annotations

import _thread
import os
import select
import signal
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def say_without_waiting(line: bytes, fd: int = 2) -> None:
    """Write ``line`` (short: under ``PIPE_BUF``, so a pipe takes all of it or none) to ``fd``,
    stderr, if that needs no waiting, else drop it: the handler writes the note of a further
    stop signal, and a write that waits stops the main thread in the handler, the cleanup it
    interrupted with it. A stderr nobody reads (a full pipe: a parent that reads only stdout, or
    waits for the process to end before reading; a terminal paused by Ctrl-S) held the process
    there until it was read, deaf to every further stop signal: for good, if its reader waits for
    it to end (``kill -9`` alone ended it).

    ``O_NONBLOCK`` is a flag of the *open file description*, which a ``dup`` of fd 2 shares with
    fd 2 itself and with every process that inherited it (the shell's terminal, the pool's
    workers writing to the same pipe): set there even for a moment, their writes failed with
    ``EAGAIN`` meanwhile, and for good if this process died before clearing it. So nothing of
    fd 2 is changed: a pipe, a FIFO or a terminal is opened anew through ``/proc/self/fd`` (a
    description of its own, non-blocking, no controlling terminal taken); a socket (systemd's
    journal) is sent the line with ``MSG_DONTWAIT``, a flag of that one call; a regular file is
    written as before (a file waits for no reader). Where none of this works (no ``/proc``; a
    pipe another user made, which its mode does not let this one open again), a closed fd 2
    (SIGHUP's terminal gone) or a write that would wait, the line is dropped: it is a note,
    and the stop must go on."""
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode):
            os.write(fd, line)
        elif stat.S_ISSOCK(mode):
            sock = socket.socket(fileno=fd)
            try:
                sock.send(line, socket.MSG_DONTWAIT)
            finally:
                sock.detach()  # (fd 2 stays open)
        else:
            again = os.open(f"/proc/self/fd/{fd}", _OPENED_AGAIN)
            try:
                os.write(again, line)
            finally:
                os.close(again)
    except OSError:  # (BlockingIOError: it would wait; the others: it cannot be written here at all)
        pass


def say_last_line(line: str) -> None:
    """Say ``line`` (a line ending in ``"\\n"``, short) on ``sys.stderr`` after what the program
    wrote there, without waiting for a reader: a stopped command's "interrupted" line
    (:func:`lrgym.baselines.interrupts.run_command`), written as the process is about to exit.
    A stderr nobody reads (a full pipe whose reader waits for the process to end first, a
    terminal paused by Ctrl-S) held a plain ``print`` there for good, every further stop signal
    ignored: the line is dropped instead, whole, never cut.

    ``sys.stderr`` replaced by an object not on file descriptor 2 (pytest's capture, an
    ``io.StringIO``, a file the program opened) is written as before, through it: a program
    capturing the line still gets it. On fd 2, what ``sys.stderr`` still holds (a line not yet
    ended) is flushed first without waiting (:func:`_flush_within`), then the line is
    written with :func:`say_without_waiting`; if that flush would wait, the line is dropped (it
    must not come before what it follows). ``sys.stderr`` None (no console): nothing said."""
    stream = sys.stderr
    if stream is None:
        return
    if not _on_fd(stream, 2):
        stream.write(line)
        stream.flush()
    elif _flush_within(stream, 2, seconds=0.0):
        say_without_waiting(line.encode(getattr(stream, "encoding", None) or "utf-8", "backslashreplace"))


def let_go_of_held_output(seconds: float | None = None) -> None:
    """Before a stopped command exits (:func:`lrgym.baselines.interrupts.run_command`,
    ``exiting=True``): what ``sys.stdout`` and ``sys.stderr`` still hold (a line not yet ended,
    which a pipe or a terminal is written only at a newline or a flush) is flushed now, waiting for
    a reader :data:`LAST_WORDS_SECONDS` at most each time no room is made, and dropped if it still
    cannot be written (:func:`_flush_within`). Python flushes both streams again as the
    interpreter exits, and that flush waits: with the stream a full pipe nobody reads until the
    process ends, the stopped command hung there after its work was done, every stop signal
    ignored (``kill -9`` alone ended it). A reader that reads loses nothing: each bit of room it
    makes restarts the wait.

    A stream not on its own file descriptor (replaced by an ``io.StringIO``, pytest's capture, a
    file the program opened) is left as is: Python's flush of it waits for no reader."""
    seconds = LAST_WORDS_SECONDS if seconds is None else seconds
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream = getattr(sys, name, None)
        if _on_fd(stream, fd):
            _flush_within(stream, fd, seconds, drop=True)


def _on_fd(stream, fd: int) -> bool:
    """Whether ``stream`` (whatever a program put in ``sys.stderr``; None: no console) writes to
    file descriptor ``fd``."""
    try:
        return stream is not None and stream.fileno() == fd
    except (AttributeError, OSError, ValueError):  # (io.UnsupportedOperation: a capture of no fd)
        return False


def _flush_within(stream, fd: int, seconds: float, drop: bool = False) -> bool:
    """Flush ``stream``, which writes to file descriptor ``fd``, waiting at most ``seconds`` for
    the reader to make room (counted afresh each time it makes some); whether all it held was
    written. ``drop``: what could not be written is dropped, the stream left holding nothing.
    A regular file or a socket is flushed as is (a file waits for no reader; a socket waits only
    with a line not yet ended pending *and* its reader behind, left so).

    A pipe, a FIFO or a terminal: ``fd`` of this process is pointed, for the flush alone, at a
    description of its own opened non-blocking (as :func:`say_without_waiting` opens one), then
    put back (:func:`_pointed`); the description ``fd`` shares with other processes keeps its flags
    (see :func:`say_without_waiting`; a thread of this process writing to that fd in that moment
    writes there too, and is told ``BlockingIOError`` where it would have waited). A write that
    would wait ends a try with ``BlockingIOError``, what was not written still held by the
    stream; the next try comes once the reader has made room (``poll``). Dropped: the stream is
    flushed once more with ``fd`` pointed at ``/dev/null`` (Python's streams have no other way to
    let go of what they hold; left to fail at exit instead, a flush makes the exit status 120).
    No ``/proc``: False, nothing dropped."""
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode) or stat.S_ISSOCK(mode):
            stream.flush()
            return True
        again = os.open(f"/proc/self/fd/{fd}", _OPENED_AGAIN)
    except OSError:
        return False
    try:
        with _pointed(fd, again):
            while True:
                try:
                    stream.flush()
                    return True
                except BlockingIOError:  # (it would wait: again once the reader has made room)
                    if not _room_within(again, seconds):
                        break
                except OSError:  # (it cannot be written at all)
                    break
        if drop:
            nowhere = os.open(os.devnull, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
            try:
                with _pointed(fd, nowhere):
                    stream.flush()
            finally:
                os.close(nowhere)
        return False
    except OSError:  # (fd could not be pointed elsewhere: nothing flushed, nothing dropped)
        return False
    finally:
        os.close(again)


@contextmanager
def _pointed(fd: int, at: int) -> Iterator[None]:
    """File descriptor ``fd`` of this process pointed at what ``at`` is open on, for the block
    alone, then put back (inheritable, as 1 and 2 are); not inherited meanwhile by a program
    started then."""
    saved = os.dup(fd)
    try:
        os.dup2(at, fd, inheritable=False)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def _room_within(fd: int, seconds: float) -> bool:
    """Whether ``fd`` (a pipe, a FIFO, a terminal) takes a write without waiting within ``seconds``."""
    if seconds <= 0 or not hasattr(select, "poll"):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLOUT for _, events in poller.poll(seconds * 1000))


#: how :func:`say_without_waiting` opens stderr again: writing, never waiting, taking no
#: controlling terminal, not inherited by a program exec'd meanwhile (``getattr``: Windows has
#: neither those flags nor ``/proc``, whose absence drops the line there)
_OPENED_AGAIN = os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def exit_now(signum: int) -> None:
    """End the process at once with status 128 + ``signum`` (``os._exit``: no ``finally``, no
    ``atexit``), after one line on stderr naming the signal: the stop was swallowed even as
    :class:`~lrgym.baselines.interrupt_types.StopEscalated`, so nothing else ends the run.

    What the command printed and Python still holds in ``sys.stdout``'s and ``sys.stderr``'s
    buffers is flushed first (``os._exit`` flushes nothing: a command's lines printed to a pipe or
    a file were lost), and the last line is written after it; each step is bounded
    (:func:`_within`): a stream nobody reads (a full pipe) or one whose lock the interrupted main
    thread holds (stopped inside a ``print``) blocked the process there for good, deaf to every
    further stop signal, before it could exit. What could not be written in time is lost."""
    name = signal.Signals(signum).name
    last = (f"stopping: {name} caught and swallowed again and again (even as SystemExit) by the code "
            f"running; exiting at once, status {128 + signum}, without cleanup\n").encode()

    def flush_stdout() -> None:
        _flush(getattr(sys, "stdout", None))

    def flush_stderr_then_say_why() -> None:
        _flush(getattr(sys, "stderr", None))
        os.write(2, last)

    _within(LAST_WORDS_SECONDS, flush_stdout, flush_stderr_then_say_why)
    os._exit(128 + signum)


#: how long :func:`exit_now` waits for its last output (the buffered lines, its own line) to be
#: written before it exits anyway: a pipe being read takes them at once; one nobody reads never does
LAST_WORDS_SECONDS = 1.0


def _flush(stream) -> None:
    """Flush ``stream`` (``sys.stdout``, ``sys.stderr``: whatever object a program put there), if any."""
    flush = getattr(stream, "flush", None)
    if flush is not None:
        flush()


def _within(seconds: float, *steps: Callable[[], object]) -> None:
    """Run each of ``steps`` in a thread of its own, all at once, and return once all are done or
    ``seconds`` have passed, whichever is first; their errors (a closed terminal: ``OSError``) are
    ignored. A step still blocked (a write to a full pipe) is left to the process's end. Low-level
    threads (``_thread``) and locks: the main thread, interrupted anywhere by a signal handler,
    may hold ``threading``'s locks."""
    done = []
    for step in steps:
        lock = _thread.allocate_lock()
        lock.acquire()

        def run(step=step, lock=lock) -> None:
            try:
                step()
            except BaseException:  # (best effort: nothing to tell it to)
                pass
            finally:
                lock.release()

        try:
            _thread.start_new_thread(run, ())
        except RuntimeError:  # (no thread can be started: the step is skipped)
            continue
        done.append(lock)
    deadline = time.monotonic() + seconds
    for lock in done:
        lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
