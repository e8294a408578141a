"""How the grader words a failure, and what may cross its process boundaries.

Shared by the worker (:mod:`lrgym.leaderboard.worker`, the env side) and the policy host
(:mod:`lrgym.leaderboard.policy_host`, the sandboxed policy side), which both turn anything a
policy throws into a recorded reason. Standard library only: the policy host imports it inside
the sandbox.
"""

from __future__ import annotations

import math
import traceback

__all__ = ["FamilyError", "MAX_REASON_CHARS", "POLICY_REPORTED", "PolicyError", "describe", "plain", "policy_reported", "quoted",
           "traceback_text", "truncate"]

#: a recorded failure reason is cut to this many characters
MAX_REASON_CHARS = 4000

#: what the sandbox's host puts before a reason that an episode's process sent it. That process
#: runs the policy's code, so the words after it are the policy's to choose (an honest one's are
#: the grader's wording of its exception, ``policy raised in act() ...``); a reason without it
#: was worded by the grader's own processes
POLICY_REPORTED = "the policy's process reported: "

#: what starts each further line of text the policy's code chose (see :func:`quoted`)
QUOTE = "> "


def quoted(text: str) -> str:
    """``text`` with :data:`QUOTE` before each line: text the policy's code chose (its process's
    reply, its output), so that no line of it can pass for one of the grader's, however far a
    policy pushes it from the label above it (3,800 blank lines did, in a review)."""
    return "\n".join(QUOTE + line for line in text.split("\n"))


def policy_reported(reason: str) -> str:
    """A failure reason an episode's process sent: :data:`POLICY_REPORTED` and its first line,
    then its further lines :func:`quoted` (an honest one's traceback, a liar's fake grader lines)."""
    first, newline, rest = reason.partition("\n")
    return POLICY_REPORTED + first + (newline + quoted(rest) if newline else "")


class PolicyError(Exception):
    """A policy could not be loaded or misbehaved; ``str(self)`` is the recorded reason."""


class FamilyError(Exception):
    """A task family raised in a job of the grader's own (the reference search): a bug of the
    family (a task reports divergence, it never raises), not of the grader. ``str(self)`` is the
    reason in full, sent as it is: what the family raised and where (family, target, instance,
    seed, LR) and the frames down to its code, without the "grader error" words or the grader's
    frames above them."""


def describe(exc: BaseException) -> str:
    """``"TypeError: message"``."""
    return f"{type(exc).__name__}: {exc}"


def traceback_text(exc: BaseException, limit: int = 6, skip: int = 0) -> str:
    """The last ``limit`` frames of ``exc``'s traceback, the first ``skip`` frames left out
    (the grader's own frames above a policy's code)."""
    tb = exc.__traceback__
    for _ in range(skip):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb, limit=-limit))


def truncate(text: str) -> str:
    """``text`` cut to :data:`MAX_REASON_CHARS` (marked ``...[truncated]``)."""
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 20] + "\n...[truncated]"


def plain(value):
    """A JSON-able copy (tuples → lists, NumPy numbers and arrays → Python ones, non-finite
    floats → their repr); any other object becomes its repr."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    return repr(value)
