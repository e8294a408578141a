"""Where an entry's policy came from, as the public outputs say it: the file's name, never the
submitter's folders.

A submission's stored record keeps the path the grader read it from
(``/home/alice/work/pol.py:Mine``: the grader's own provenance, in the store only). The HTML
report, ``LEADERBOARD.md``, the terminal table and ``lrgym leaderboard export`` show
:func:`public_source` (``pol.py:Mine``; an SB3 zip's file name; ``package.module:Name`` as given;
a baseline's registry name) beside the entry's name and the sha256 of its files, which identify
it; :func:`without_folders` takes the same folders out of a failure reason (an older lrgym's
sandbox named the whole path in "importing /home/alice/work/pol.py:Mine raised ...", and the
grader's own checks of the files name it). :func:`public_reason` is a failure reason as every
published output gives it (the terminal table, ``LEADERBOARD.md``, the HTML page, ``export``'s
JSON and CSV): one rule, one place.
"""

from __future__ import annotations

import os
import re

from lrgym.leaderboard.text import clean

__all__ = ["ELIDED", "public_reason", "public_source", "submission_path", "without_folders"]

#: what stands for a folder of the submitter's that a failure reason named
ELIDED = "…"


def _policy(env_spec) -> dict:
    policy = env_spec.get("policy") if isinstance(env_spec, dict) else None
    return policy if isinstance(policy, dict) else {}


def submission_path(env_spec) -> str | None:
    """The absolute path of the file a submission was read from (its ``.py`` or SB3 ``.zip``),
    from its stored ``env_spec``; None for a baseline, an installed module or a record without one."""
    policy = _policy(env_spec)
    if policy.get("kind") == "sb3":
        path = policy.get("path")
    elif policy.get("kind") == "object":
        path = str(policy.get("target", "")).rpartition(":")[0]
    else:
        return None
    return path if isinstance(path, str) and os.path.isabs(path) else None


def public_source(env_spec) -> str:
    """The entry's source without folders: ``pol.py:Mine`` for ``/home/alice/work/pol.py:Mine``,
    ``model.zip`` for an SB3 zip, the rest (``package.module:Name``, a baseline's
    ``lrgym.baselines.registry:name``) as stored; ``""`` if none is stored."""
    source = env_spec.get("source") if isinstance(env_spec, dict) else None
    if not isinstance(source, str):
        return ""
    if _policy(env_spec).get("kind") == "sb3" and submission_path(env_spec):
        # its source is the path as the submitter typed it, maybe relative (models/run3/agent.zip),
        # which names folders the absolute path's folders do not match: the zip's name alone
        return os.path.basename(submission_path(env_spec))
    return without_folders(source, env_spec)


def without_folders(text: str, env_spec) -> str:
    """``text`` with the folders of the submission's file (:func:`submission_path`) taken out:
    ``/home/alice/work/pol.py`` becomes ``pol.py``, and the folder itself or one above it but
    the top one named alone (``submission directory /home/alice is a symbolic link``) becomes
    :data:`ELIDED` (``/home/alice/other/x`` becomes ``…/other/x``).
    Text of an entry without such a path is returned as it is."""
    path = submission_path(env_spec)
    folder = os.path.dirname(path) if path else ""
    if not text or not folder or folder == "/":
        return text
    text = text.replace(folder + "/", "")
    ancestors = []
    while os.path.dirname(folder) not in ("/", ""):  # a top folder (/home, /tmp) names no one's layout
        ancestors.append(folder)
        folder = os.path.dirname(folder)
    for name in ancestors:  # the longest first: /home/alice/work before /home/alice
        text = re.sub(re.escape(name) + r"(?=$|[/\s'\":;,)\]])", ELIDED, text)
    return text


def public_reason(reason: str, env_spec) -> str:
    """A failed entry's reason (the policy's own words) as every published output gives it: without
    control characters (:func:`lrgym.leaderboard.text.clean`: escape sequences, NUL, a lone carriage
    return, bidirectional overrides; tabs as spaces, CR LF as LF, newlines kept) and without the
    folders of the submitter's file (:func:`without_folders`). The grader stores reasons cleaned;
    one recorded through the store's API, or by an older lrgym, may hold them raw: ``export``
    wrote its escape sequences, which the HTML page stripped."""
    return without_folders(clean(reason), env_spec)
