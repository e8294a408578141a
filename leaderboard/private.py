"""A private suite: instances a submitter cannot know, derived from a secret the grader holds.

v1 and val are public: their instances, seeds and best fixed LRs ship with the package, so a
policy could recognise an instance (by its initial loss, say) and look its answer up. A hosted
leaderboard therefore ranks on a private suite::

    lrgym leaderboard suites --private grader.key        # creates the key (mode 0600) once
    lrgym leaderboard run-baselines --private grader.key # baselines and references, kept by the grader
    lrgym leaderboard submit their_policy.py:P --private grader.key --owner ACCOUNT

The key (32 random bytes, hex) never leaves the grader. Instance seeds are
HMAC-SHA256(key, "family/i") mapped into the ``private`` instance set (2⁴⁰ … 2⁶² − 1: disjoint
from train, val and test), env seeds HMAC-SHA256(key, "seed/j") in [0, 2³¹); the suite's name
carries a key id (a hash of the key, which reveals nothing of it).

Why the pool is that large: hiding *which* seeds were drawn is not enough if the pool can be
enumerated. A policy sees seed-independent facts of its instance (train_loss − excess_loss is
the instance's optimum loss, different for every instance); with a small public pool it could
carry a table of all of them, computed offline (the first pool, 1,000,000 … 1,199,999, took
≈ 35 CPU-minutes for linreg), recognise its instance and tune its LR by simulating it inside
the sandbox, where lrgym is importable. No one tabulates 2⁶² instances. Revision 2 is the
suite drawn from this pool; results and references of revision 1 (the old pool) are kept
apart by the version (``private-<id>/r1`` vs ``/r2``). Its references are
computed by the grader and kept beside the key (``KEYFILE.references/``, mode 0700), never in
the shared cache or the package, and the stored entries describe the suite without its
instances. Rotate the key (a new suite) when results of many submissions could have leaked
information about the instances.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from lrgym.leaderboard.suite import FamilySuite, Suite
from lrgym.tasks import MIXED_V1
from lrgym.tasks.base import instance_set

__all__ = ["REVISION", "create_key", "is_private", "load_key", "private_reason", "private_suite", "references_dir"]

N_INSTANCES = 8
N_SEEDS = 5
PREFIX = "private-"
REVISION = 2
"""The revision of every private suite: 2 since the instance pool became un-enumerable (2⁴⁰ …
2⁶² − 1; revision 1 drew from 1,000,000 … 1,199,999). Bump it whenever the drawing changes, so
stored entries and cached references of the old instances are never mixed with the new."""


def create_key(path: str | os.PathLike) -> bool:
    """Create a new key file (mode 0600) unless one exists; True if it was created."""
    path = Path(path)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return True


def load_key(path: str | os.PathLike) -> bytes:
    """The secret of a key file, with clear errors for a missing, short or shared file."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ValueError(f"private suite key {path} is not a file (a folder?); valid: the path of a key file, "
                         f"e.g. {path / 'grader.key'} (`lrgym leaderboard suites --private PATH` creates it)")
    if not path.is_file():
        raise ValueError(f"private suite key {path} not found; create it with "
                         f"`lrgym leaderboard suites --private {path}`")
    if path.stat().st_mode & 0o077:
        raise ValueError(f"private suite key {path} is readable by other users; chmod 600 {path}")
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"private suite key {path} is not hex") from None
    if len(key) < 16:
        raise ValueError(f"private suite key {path} is too short ({len(key)} bytes; at least 16)")
    return key


def _draw(key: bytes, label: str) -> int:
    return int.from_bytes(hmac.new(key, label.encode(), hashlib.sha256).digest()[:8], "big")


def private_suite(keyfile: str | os.PathLike, n_instances: int = N_INSTANCES, n_seeds: int = N_SEEDS) -> Suite:
    """The hidden suite of ``keyfile``: ``n_instances`` per family × ``n_seeds`` env seeds, v1's
    episode settings (family-default horizons)."""
    key = load_key(keyfile)
    pool = instance_set("private")
    families = []
    for family in MIXED_V1:  # the suites' families
        chosen: list[int] = []
        i = 0
        while len(chosen) < n_instances:
            k = pool.start + _draw(key, f"{family}/{i}") % len(pool)
            if k not in chosen:
                chosen.append(k)
            i += 1
        families.append(FamilySuite(family, tuple(chosen)))
    seeds: list[int] = []
    j = 0
    while len(seeds) < n_seeds:
        s = _draw(key, f"seed/{j}") % 2**31
        if s not in seeds:
            seeds.append(s)
        j += 1
    key_id = hashlib.sha256(b"lrgym private suite id\0" + key).hexdigest()[:8]
    return Suite(
        name=PREFIX + key_id, revision=REVISION,
        description=f"private: {n_instances} hidden instances per family x {n_seeds} hidden seeds (key {key_id})",
        instance_set="private", families=tuple(families), seeds=tuple(seeds),
    )


def is_private(suite: Suite) -> bool:
    return suite.instance_set == "private"


#: (pattern of a failure reason, what a private suite records instead), first match wins: the
#: grader's own words decide the kind; the policy's words, numbers and output are dropped
_PRIVATE_REASONS = (
    (r"^the policy's process reported: (importing|constructing|loading|reading the policy's env|the policy \S+ has no )"
     r"|^policy (file|target) |^unknown policy kind ", "the policy could not be loaded"),
    (r"^the policy's process reported: MemoryError: out of memory \(the sandbox's memory limit"
     r"|^the policy's process reported: policy raised in (reset|act)\(\)[^\n]*: MemoryError: ",
     "the policy went over its memory limit"),
    (r"^the policy's process reported: policy raised in reset\(\)", "the policy raised an exception in reset()"),
    (r"^the policy's process reported: policy raised in act\(\)", "the policy raised an exception in act()"),
    (r"^the policy's process reported:", "the policy's process reported a failure"),
    (r"^invalid action ", "the policy returned an invalid action"),
    (r"^the policy's settings are invalid|^invalid policy settings|^the policy asked for different env options",
     "the policy's settings are invalid"),
    (r"^the policy went over its memory limit|^the policy process went over its memory limit", "the policy went over its memory limit"),
    (r"CPU time limit", "the policy went over its CPU time limit"),
    (r"^the policy process did not answer within|^timeout|timed out|time limit", "the policy went over its time limit"),
    (r"scratch folder", "the policy went over its scratch-folder limit"),
    (r"malformed|protocol|larger than|stopped reading", "the policy's process broke the grader's protocol"),
    (r"died|killed|exit code|signal", "the policy's process died"),
)
#: what follows the kind in every failure reason of a private suite
PRIVATE_REASON_NOTE = (" (a private suite records only the kind of failure: the policy's own words, numbers and "
                       "output could carry what it saw of the hidden instances; test a policy on a public suite)")


def private_reason(reason: str) -> str:
    """The failure ``reason`` of a submission on a private suite as it is recorded, printed and
    published: only its kind, from the grader's own wording (:data:`_PRIVATE_REASONS`), never the
    text a policy chose. A reason carried up to 4,000 characters of it (its exception, the
    actions it returned, its output), so a policy could fail on purpose to report the hidden
    instances' losses, one submission after another, and map a private suite (an operator's audit,
    2026-12-05: 8 mlp instances' best LRs to within 1.5× in six submissions)."""
    import re

    for pattern, kind in _PRIVATE_REASONS:
        if re.search(pattern, reason):
            return kind + PRIVATE_REASON_NOTE
    return "the policy failed" + PRIVATE_REASON_NOTE


def references_dir(keyfile: str | os.PathLike) -> Path:
    """Where the grader keeps the references of a private suite (created mode 0700)."""
    path = Path(str(keyfile) + ".references")
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def public_description(suite: Suite) -> dict:
    """What an entry stores about a private suite: its shape, not its instances or seeds."""
    return {"name": suite.name, "revision": suite.revision, "version": suite.version,
            "instance_set": suite.instance_set, "n_seeds": len(suite.seeds),
            "families": [{"family": fs.family, "n_instances": len(fs.instances)} for fs in suite.families]}
