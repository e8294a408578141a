"""What an entry records of its jobs must hold for every one of them: the code they ran, the sandbox.

Each job's reply says what it ran (``policy_info``, :func:`lrgym.leaderboard.worker.run_job`): the
sha256 of the policy's files (``source_hash``, read by the grader worker when its first job of the
policy starts: :func:`lrgym.leaderboard.worker.policy_files`; an installed ``module:Name``'s or
``package.module:Name``'s, which each job imports where it lies, at every job's start, and its job fails when the file changed
before the job ended: :func:`lrgym.leaderboard.worker.installed_module_hash`), a baseline's tuned values and weights
(``inputs``) and the sandbox that confined it (``sandbox``: the machine's mode and what was applied).
The entry recorded one hash, one set of inputs and one sandbox for all its jobs: those of the first
job that reported them. But the jobs of an entry run on several grader workers (and Ray nodes),
each of which reads the files when it starts, so:

* a policy whose files changed while it was graded (a submitter editing them between jobs, a weak
  sandbox's policy rewriting its own file, a worker started later or again after a lost one) was
  graded partly with other code, and recorded under one hash that described only some of its runs.
  Such an entry fails (:func:`disagreement`): its score belongs to no one version of the code;
* a Ray cluster whose nodes confine differently (one without namespaces, without
  ``LRGYM_SANDBOX=require``, which refuses the weak mode on every node before a job runs there:
  :func:`lrgym.leaderboard.sandbox.mode`) recorded one node's sandbox for every job. The entry now
  records the weakest sandbox its jobs ran in and lists the others (:func:`recorded_sandbox`).

An honest entry, whose jobs all agree, is recorded as before.
"""

from __future__ import annotations

import json

__all__ = ["FILES_CHANGED", "disagreement", "recorded_sandbox"]

#: how the failure reason of an entry whose jobs ran other files begins (a private suite records only this)
FILES_CHANGED = "the policy's files changed during grading"

#: the order of sandbox kinds, weakest first (:func:`lrgym.leaderboard.sandbox.mode`); any other kind
#: (one an older or newer grader records) counts as the weakest
_KIND_ORDER = ("none", "userns", "root")

#: what differs between two sandboxes of the same machine and mode: each sandbox's private uid,
#: the first of the block it claimed (:mod:`lrgym.leaderboard.sandbox_uids`)
_PER_SANDBOX = ("uid",)


def _key(value) -> str:
    """``value`` as sorted JSON: equal reports give equal keys."""
    return json.dumps(value, sort_keys=True, default=repr)


def _distinct(values: list) -> list:
    """``values`` without repeats, in the order they first came."""
    seen: dict[str, object] = {}
    for value in values:
        seen.setdefault(_key(value), value)
    return list(seen.values())


def disagreement(infos: list[dict]) -> str | None:
    """Why the jobs' reports (each job's ``policy_info``, in reply order) say they ran other code,
    or None when they agree: every job must report the same ``source_hash`` (None counts as a
    value: a job that found no file beside one that hashed one ran other code) and the same
    ``inputs``. The reason names every hash seen, in the order the jobs reported them."""
    hashes = _distinct([info.get("source_hash") for info in infos])
    if len(hashes) > 1:
        seen = ", ".join(str(h) if h is not None else "none" for h in hashes)
        return (f"{FILES_CHANGED}: its jobs ran {len(hashes)} versions of them (source sha256 {seen}), so no one "
                "version earned the score; grade it again once its files stay as they are")
    inputs = _distinct([info.get("inputs") for info in infos])
    if len(inputs) > 1:
        files = sorted({name for got in inputs for name in (got or {})})
        changed = [name for name in files if len(_distinct([(got or {}).get(name) for got in inputs])) > 1]
        return (f"{FILES_CHANGED}: its jobs ran {len(inputs)} versions of its tuned values or weights "
                f"({', '.join(changed) or 'which files they read'}), so no one version earned the score; "
                "grade it again once those files stay as they are")
    return None


def _strength(mode: dict) -> tuple:
    """How strongly ``mode`` confines a policy, for comparison: namespaces, then the kind, then a private uid."""
    kind = mode.get("kind")
    return (bool(mode.get("namespaces")), _KIND_ORDER.index(kind) if kind in _KIND_ORDER else -1,
            bool(mode.get("uid_drop")))


def recorded_sandbox(modes: list[dict | None]) -> dict | None:
    """The sandbox an entry records for jobs that ran in ``modes`` (each job's, in reply order;
    None: a job that reported none). Jobs that agree (up to each sandbox's own uid): the first
    job's, as it always was. Jobs that differ (Ray nodes that confine differently): the weakest of
    them (:func:`_strength`; the first of equals), with ``"differing_jobs"``, every other mode
    the jobs ran in (without its uid), so the entry claims no more than each of its runs had."""
    reported = [m for m in modes if m]
    if not reported:
        return None
    def shared(mode: dict) -> dict:  # what two sandboxes of one mode have alike
        return {k: v for k, v in mode.items() if k not in _PER_SANDBOX}

    kinds = _distinct([shared(m) for m in reported])
    if len(kinds) == 1:
        return reported[0]
    weakest = min(reported, key=_strength)
    return {**weakest, "differing_jobs": [m for m in kinds if _key(m) != _key(shared(weakest))]}
