"""Text a submission controls (its name, its exception messages, its output), made safe to show.

A failure reason is the policy's own exception text: printed raw it could move the cursor,
rewrite the terminal or set its title (ANSI escape sequences); in Markdown a name could become a
link or a remote image. :func:`clean` removes every control character (C0 except newline, DEL,
C1, and the Unicode line/paragraph separators and bidirectional overrides) from anything a
policy can influence before it is stored or shown; :func:`markdown_escape` escapes Markdown's
and HTML's special characters for tables; :func:`check_entry_name` validates a new entry name.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_NAME_CHARS", "check_entry_name", "clean", "markdown_escape", "name_key"]

MAX_NAME_CHARS = 64
# C0 controls but \n, DEL, C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~&:\"'])")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+\-]*")


def clean(text: object, keep_newlines: bool = True) -> str:
    """``text`` without control characters (tabs become spaces; newlines kept unless told)."""
    s = str(text).replace("\t", " ").replace("\r\n", "\n")
    s = _CONTROL.sub("", s)
    return s if keep_newlines else s.replace("\n", " ")


def markdown_escape(text: object) -> str:
    """One line of :func:`clean` text with Markdown and HTML special characters escaped
    (``[x](http://...)`` and ``![](...)`` stay literal text; ``<``/``&`` become entities)."""
    s = clean(text, keep_newlines=False)
    s = _MD_SPECIAL.sub(lambda m: {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#39;"}
                        .get(m.group(1), "\\" + m.group(1)), s)
    return s


def name_key(name: str) -> str:
    """The form two names are compared in (NFKC, case-folded, spaces collapsed): ``Fixed``,
    ``ｆｉｘｅｄ`` and ``fixed `` all claim the name ``fixed``."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def check_entry_name(name: str) -> str:
    """``name`` if it is a valid entry name, else ``ValueError`` saying what is allowed."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("entry name must be a non-empty string")
    name = name.strip()
    if len(name) > MAX_NAME_CHARS or not _NAME.fullmatch(name):
        raise ValueError(
            f"entry name {clean(name, False)[:80]!r} invalid; valid: 1 to {MAX_NAME_CHARS} characters from "
            "letters, digits, space and . _ + - (starting with a letter or digit)")
    return name
