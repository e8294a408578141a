"""A cooperative stop for the Ray tasks a run leaves in flight, without ``ray.cancel``.

When :func:`lrgym.baselines.backend.ray_imap` or :func:`~lrgym.baselines.backend.on_each_node`
stops early (a job's error, a lost job, the caller closing the generator, Ctrl-C), the tasks still
in flight are of no use: nobody will read their results. ``ray.cancel`` would end them, but Ray
2.60 aborts the whole driver when it meets a task whose reply is arriving (the backend's module
docstring), so lrgym never calls it; left alone, such tasks held the cluster's CPUs for minutes in
a long-lived driver (a notebook). Instead each run has a *stop key* (:func:`new_run_key`), passed
to every task it starts:

* the driver, when the run ends with tasks still in flight, writes the key into Ray's GCS
  key-value store (:func:`stop_run`; namespace :data:`STOP_NAMESPACE`), and deletes it once those
  tasks have ended (a daemon thread that only waits on them), or when the driver exits;
* each task runs its job under :func:`stops_when_asked`: a daemon thread reads the key every
  :data:`POLL_SECONDS` (one small GCS read; a job shorter than that reads nothing) and, once it is
  there, raises :class:`_Stopped` in the thread running the job (CPython's
  ``PyThreadState_SetAsyncExc``: the exception arrives at the job's next Python bytecode, so a
  job in Python code ends within about a second; one inside a long compiled call when it
  returns). The task then fails with :class:`RunStopped`, an error nobody waits for.

Nothing here touches Ray's task tables: the driver only writes and deletes a key and waits on
references, so a stop cannot meet Ray's cancel race. A run that ends without stopping writes
nothing; its tasks pay one thread each and a read a second. A job that already returned is
unaffected: the watch is over before its result leaves the task (a stop that arrives as it ends
is withdrawn, :func:`stops_when_asked`). A job that catches ``BaseException`` itself (or runs in
compiled code throughout) runs on to its end, as every task did before.

Checked on Ray 2.60: a task's function runs on its worker's main thread (the stop does not rely
on it: it targets whichever thread runs the job), ``ray.experimental.internal_kv`` reads and
writes the GCS store from workers as from the driver, and a worker whose task raised this way
runs the next task as usual.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator

__all__ = ["POLL_SECONDS", "STOP_NAMESPACE", "RunStopped", "new_run_key", "stop_run", "stops_when_asked"]

#: the namespace of the stop keys in Ray's GCS key-value store
STOP_NAMESPACE = "lrgym-stop"
#: how often (s) a task reads its run's stop key
POLL_SECONDS = 1.0


class RunStopped(RuntimeError):
    """The task's run stopped early (:func:`stop_run`): its job was interrupted, and nobody waits
    for its result."""


class _Stopped(BaseException):
    """Raised asynchronously in the thread running a job whose run stopped: a ``BaseException``,
    so that a job's ``except Exception`` does not swallow it (its ``finally`` blocks run)."""


def new_run_key() -> str:
    """A run's stop key: unique to the run (a random UUID), so that one run's stop never touches
    another's tasks."""
    return f"run-{uuid.uuid4().hex}"


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> None:
    """Raise ``exception`` in the thread ``thread_id`` at its next bytecode (None: withdraw one not
    yet raised)."""
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exception) if exception is not None else None)


def _stop_asked(key: str) -> bool:
    from ray.experimental.internal_kv import _internal_kv_exists

    return bool(_internal_kv_exists(key, namespace=STOP_NAMESPACE))


@contextlib.contextmanager
def stops_when_asked(key: str | None, poll: float = POLL_SECONDS) -> Iterator[None]:
    """Run the block (a job, inside a Ray task) until its run's stop key ``key`` is written
    (:func:`stop_run`), then end it with :class:`RunStopped`. ``key`` None: no watch.

    A daemon thread reads the key every ``poll`` s (a GCS out of reach counts as no stop) and,
    when it is there, raises :class:`_Stopped` in the thread that entered the block, once. The
    block's end and that raise take one lock: a stop that arrives after the block ended is never
    raised, and one raised but not yet arrived when the block ends is withdrawn (CPython's
    ``PyThreadState_SetAsyncExc`` with NULL), so nothing stray reaches Ray's own code or the
    worker's next task."""
    if key is None:
        yield
        return
    target, lock, ended = threading.get_ident(), threading.Lock(), threading.Event()
    raised = []

    def watch():
        while not ended.wait(poll):
            try:
                asked = _stop_asked(key)
            except Exception:  # noqa: BLE001 - the GCS out of reach: read again later
                continue
            if asked:
                with lock:
                    if not ended.is_set():
                        _raise_in(target, _Stopped)
                        raised.append(True)
                return

    watcher = threading.Thread(target=watch, name="lrgym-stop-watch", daemon=True)
    try:
        try:
            watcher.start()
            yield
        finally:
            with lock:
                ended.set()
                if raised:  # raised and (maybe) not arrived yet: withdraw it
                    _raise_in(target, None)
    except _Stopped:
        raise RunStopped(f"the run stopped early (its stop key {key!r} was written): this task's job was "
                         "interrupted and its result is not wanted") from None


#: stop keys written and not deleted yet (their tasks still running): deleted at the driver's exit
_written: set[str] = set()
_exit_hook = threading.Lock()
_hooked: list = []


def _delete(key: str) -> None:
    from ray.experimental.internal_kv import _internal_kv_del

    try:
        _internal_kv_del(key, namespace=STOP_NAMESPACE)
    except Exception:  # noqa: BLE001 - the GCS out of reach (the cluster gone): nothing left to stop
        pass
    _written.discard(key)


def _delete_written_at_exit() -> None:
    """At the driver's exit (before ``ray.shutdown``'s own hook, registered earlier): delete the
    stop keys whose tasks were still running, so that a long-lived cluster keeps none."""
    import ray

    if ray.is_initialized():
        for key in list(_written):
            _delete(key)


def _forget_when_ended(ray, key: str, refs: list, poll: float) -> None:
    """Wait (without fetching results) until every task of ``refs`` has ended, then delete ``key``.
    Ends quietly when Ray is shut down meanwhile (Ray raises ``SystemExit`` in such threads)."""
    try:
        waiting = list(refs)
        while waiting:
            if not ray.is_initialized():
                return
            _, waiting = ray.wait(waiting, num_returns=len(waiting), timeout=poll, fetch_local=False)
        _delete(key)
    except BaseException:  # noqa: BLE001 - Ray shut down under the wait: the exit hook or the cluster's end deletes it
        return


def stop_run(ray, key: str, refs: list, poll: float = POLL_SECONDS) -> None:
    """Stop the tasks ``refs`` of the run ``key`` (:func:`stops_when_asked`): write the key, and
    delete it once they have ended (a daemon thread waits on them; the driver's exit deletes any
    left). Never raises: it runs where a run is ending, often with an error of its own to report;
    if the key cannot be written (the GCS out of reach) the tasks run to their end, as before."""
    if not refs:
        return
    try:
        from ray.experimental.internal_kv import _internal_kv_put

        _internal_kv_put(key, b"stop", overwrite=True, namespace=STOP_NAMESPACE)
    except Exception:  # noqa: BLE001 - no GCS: the tasks run to their end
        return
    _written.add(key)
    with _exit_hook:
        if not _hooked:
            import atexit

            atexit.register(_delete_written_at_exit)
            _hooked.append(True)
    threading.Thread(target=_forget_when_ended, args=(ray, key, list(refs), poll), name="lrgym-stop-forget",
                     daemon=True).start()
