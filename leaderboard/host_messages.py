"""The messages inside the sandbox and the host's replies to the grader.

* framing: a message is a 4-byte big-endian length, then its bytes, as
  ``multiprocessing.Connection.send_bytes`` frames it (:func:`framed`); the host reads what the
  job's processes send byte by byte into a buffer, and :func:`take_message` takes each whole
  message out of it, refusing a length beyond its limit (the policy's processes write them);
* replies: JSON, one per request (:func:`send_reply`); anything raised while answering becomes
  a ``{"ok": false, "reason": ...}`` reply (:func:`failure_reply`: a
  :class:`~lrgym.leaderboard.failures.PolicyError`'s own words, a ``MemoryError`` as the
  sandbox's memory limit, anything else with its traceback).

Used by the host (:mod:`lrgym.leaderboard.policy_host`, :mod:`lrgym.leaderboard.episode_host`)
and by the job and episode processes (:mod:`lrgym.leaderboard.job_process`).
"""

from __future__ import annotations

from lrgym.leaderboard.failures import PolicyError, describe, traceback_text, truncate

__all__ = ["LIMIT_NOTE", "STATUS_BYTES", "failure_reply", "framed", "send_reply", "take_message"]


#: the longest report of a job process the host reads (its episodes' pids as JSON)
STATUS_BYTES = 64 * 1024


def framed(data: bytes) -> bytes:
    """``data`` framed as :func:`take_message` reads it (and ``Connection.recv_bytes``)."""
    return len(data).to_bytes(4, "big", signed=True) + data


def take_message(buffer: bytearray, limit: int = 0) -> bytes | None:
    """The first whole message in ``buffer`` (removed from it), framed as
    ``multiprocessing.Connection.send_bytes`` frames it (a 4-byte big-endian length, then the
    bytes); None while it is incomplete; ``ValueError`` for a length outside 0 – ``limit``
    (default :data:`STATUS_BYTES`)."""
    if len(buffer) < 4:
        return None
    n = int.from_bytes(buffer[:4], "big", signed=True)
    if not 0 <= n <= (limit or STATUS_BYTES):
        raise ValueError(f"message of {n} bytes")
    if len(buffer) < 4 + n:
        return None
    message = bytes(buffer[4:4 + n])
    del buffer[:4 + n]
    return message


def _memory_error_reason() -> str:
    return f"MemoryError: out of memory (the sandbox's memory limit{LIMIT_NOTE})"


#: what the reason of a ``MemoryError`` says of the limit (`` of 512 MB``); set by
#: :func:`lrgym.leaderboard.policy_host.main` once it has set the limit
LIMIT_NOTE = ""


def failure_reply(exc: BaseException) -> dict:
    """The reply that reports ``exc``, raised while answering a request: a :class:`PolicyError`'s
    own words, a ``MemoryError`` as the memory limit, anything else with its traceback."""
    if isinstance(exc, PolicyError):
        return {"ok": False, "reason": truncate(str(exc))}
    if isinstance(exc, MemoryError):
        return {"ok": False, "reason": _memory_error_reason()}
    return {"ok": False, "reason": truncate(f"error: {describe(exc)}\n{traceback_text(exc)}")}


def send_reply(conn, reply: dict) -> bool:
    """Send ``reply`` as JSON on ``conn`` (one that cannot be encoded as a failure saying so);
    False when the other end is gone."""
    import json

    try:
        data = json.dumps(reply).encode()
    except (TypeError, ValueError) as exc:
        data = json.dumps({"ok": False, "reason": f"unencodable reply: {exc}"}).encode()
    try:
        conn.send_bytes(data)
    except (BrokenPipeError, OSError):
        return False
    return True
