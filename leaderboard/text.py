"""Text a submission controls (its name, its exception messages, its output), made safe to show.

A failure reason is the policy's own exception text: printed raw it could move the cursor,
rewrite the terminal or set its title (ANSI escape sequences); in Markdown a name could become a
link (also a plain ``www.x.com``, ``http://x`` or e-mail address, which GitHub
links by itself) or a remote image; a lone surrogate (``"\\udc80"``, which Python strings may
hold and UTF-8 cannot) made the store refuse the entry. :func:`clean` removes every control
character (C0 except newline, DEL, C1), every invisible format character (Unicode category
``Cf``: bidirectional marks, overrides and isolates, zero-width spaces and joiners, the byte order
mark), the line and paragraph separators and every surrogate from anything a policy can
influence before it is stored or shown; :func:`markdown_escape` escapes Markdown's
and HTML's special characters for tables, :func:`markdown_code` makes a code span of a text,
:func:`check_entry_name` validates a new entry name, and :func:`name_key` says when two names
are the same name.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["LOOKALIKES", "MAX_NAME_CHARS", "check_entry_name", "check_owner", "clean", "lookalike_note", "markdown_code",
           "markdown_escape", "name_key"]

MAX_NAME_CHARS = 64
# ASCII's controls but \n (C0 and DEL): removed by one regular expression ...
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f]")
#: ... and beyond ASCII, every character of these Unicode categories: C1 controls (Cc), format
#: characters (Cf: U+061C, U+200B-U+200F, U+202A-U+202E, U+2060-U+2069, U+FEFF, ...), surrogates
#: (Cs), line and paragraph separators (Zl, Zp)
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~&:\"'])")
#: where GitHub's autolink extension (cmark-gfm; https://github.github.com/gfm/#autolinks-extension-)
#: would turn plain text into a link: ``www.`` (any case), the ``:`` of ``http:`` / ``https:`` /
#: ``ftp:`` / ``mailto:`` / ``xmpp:`` (and of any other scheme), and the ``@`` of an e-mail
#: address. It finds them in the text *after* entities and backslash escapes are decoded (``\.``,
#: ``&#64;`` do not help), so an invisible WORD JOINER (U+2060, written as its entity) goes before
#: each ``:`` and ``@`` and between ``www`` and its dot: no scheme, e-mail local part or ``www.``
#: prefix is contiguous any more, and the text reads the same.
_AUTOLINK_BREAK = re.compile(r"(?i)(?<=www)(?=\.)|(?=[:@])")
_WORD_JOINER = "&#8288;"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+\-]*")
#: an account name: useradd's default rule (``[a-z_][-a-z0-9_]*$?``: ``_grader``, ``build$``) and
#: e-mail-like accounts (``jose.nunez@example.org``), ASCII only
_OWNER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+@\-]*\$?")


def clean(text: object, keep_newlines: bool = True) -> str:
    """``text`` without control characters (tabs become spaces; newlines kept unless told)."""
    s = str(text).replace("\t", " ").replace("\r\n", "\n")
    s = _CONTROL.sub("", s)
    if not s.isascii():
        s = "".join(c for c in s if c.isascii() or unicodedata.category(c) not in _REMOVED_CATEGORIES)
    return s if keep_newlines else s.replace("\n", " ")


def markdown_escape(text: object) -> str:
    """One line of :func:`clean` text with Markdown and HTML special characters escaped
    (``[x](http://...)`` and ``![](...)`` stay literal text; ``<``/``&`` become entities) and
    GitHub's autolinks broken (``www.x.com``, ``http://x``, ``a@x.com``, ``mailto:`` stay text:
    an invisible word joiner goes before each ``:`` and ``@`` and after ``www``)."""
    s = clean(text, keep_newlines=False)
    s = _AUTOLINK_BREAK.sub("\x00", s)  # marked first: the escapes below must not touch the joiner's entity
    s = _MD_SPECIAL.sub(lambda m: {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#39;"}
                        .get(m.group(1), "\\" + m.group(1)), s)
    return s.replace("\x00", _WORD_JOINER)


def markdown_code(text: object) -> str:
    """One line of :func:`clean` text as a Markdown code span whose backticks cannot end it early:
    its fence is one backtick longer than the longest run of backticks inside (CommonMark), with a
    space inside each end when the text touches a backtick. Nothing in a code span is a link, tag
    or autolink."""
    s = clean(text, keep_newlines=False)
    fence = "`" * (max((len(run) for run in re.findall("`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


#: characters that look alike in an entry name's alphabet once case is folded (digits against
#: letters; ``i`` because a capital ``I`` folds to it and looks like ``l``) ...
_LOOKALIKE_CHARS = str.maketrans({"0": "o", "1": "l", "i": "l"})
#: ... and letter pairs that look like one letter (TR39's rn/m; vv/w and cl/d of homoglyph lists)
_LOOKALIKE_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"))
#: the separators of a name, which do not tell two names apart
_SEPARATORS = re.compile(r"[\s._+\-]+")
LOOKALIKES = "0/o, 1/l/I/i, rn/m, vv/w, cl/d, and the separators space . _ + -"
"""The lookalikes :func:`name_key` folds, as error messages state them."""


def name_key(name: str) -> str:
    """What makes two entry names *the same name*: equal keys. One rule for reserved baseline
    names, a name's owner and the versions of an entry (:mod:`lrgym.leaderboard.store`).

    The key is NFKC-normalised (full-width and other compatibility forms become ASCII),
    case-folded, its separators (space ``. _ + -``) dropped (``hypergradient-mult``,
    ``hyper gradient_mult``, ``hypergradient_mult.`` are the baseline), and then its lookalikes
    folded — a small "skeleton" in
    the sense of Unicode TR39, restricted to the characters :func:`check_entry_name` allows
    (ASCII letters, digits, space, ``. _ + -``; the rest of TR39's table is about other scripts,
    which a name cannot contain): ``0`` → ``o``, ``1`` and ``i`` → ``l``, then ``rn`` → ``m``,
    ``vv`` → ``w``, ``cl`` → ``d``. So ``Fixed``, ``ｆｉｘｅｄ`` and ``fixed `` are the name
    ``fixed``, and ``hypergradient_muIt`` (capital I) is the baseline ``hypergradient_mult``.

    Its scope is that closed list (:data:`LOOKALIKES`, which a refusal quotes): TR39's
    confusables among those characters (``0``/``O``, ``1``/``l``, ``I``/``l``, ``m``/``rn``:
    confusables.txt maps no other of them to another) and the two letter pairs that
    homoglyph lists add to it (``vv``/``w``, ``cl``/``d``: one glyph's shape, made of two). It
    is no promise that every name a reader could misread is refused: a digit and a letter that
    the usual fonts draw apart and TR39 does not list — ``5``/``S``, ``8``/``B``, ``2``/``Z``,
    ``6``/``b``, ``9``/``g``, and letters as ``g``/``q``, ``u``/``v`` — stay apart, so ``C05INE`` is a
    name of its own beside ``cosine`` (it is shown as written, upper case and digits). Folding
    them would refuse names told apart at a glance (``lr5``/``lrs``, ``b8``/``bb``, a version
    ``-2`` beside ``-z``).

    Within its scope it folds more than the eye needs (``mix`` and ``mlx`` are one name, because
    ``MIX`` is both ``mix`` and, to the eye, ``MlX``): a refused name costs its submitter another
    choice, an accepted lookalike would mislead every reader of the board. The key is for
    comparing only, never shown.
    """
    key = unicodedata.normalize("NFKC", name).casefold().translate(_LOOKALIKE_CHARS)
    key = _SEPARATORS.sub("", key)  # separators (space . _ + -) do not tell names apart
    for pair, letter in _LOOKALIKE_PAIRS:  # no replacement makes a new pair: the order is free
        key = key.replace(pair, letter)
    return key


def lookalike_note(name: str, existing: str) -> str:
    """For an error refusing ``name`` because it is the same name as ``existing`` (equal
    :func:`name_key`): nothing if the two are the same text, else why they count as one."""
    if name == existing:
        return ""
    return f" (too close to it: names are compared ignoring case, width and the lookalikes {LOOKALIKES})"


def check_owner(owner: object) -> str:
    """``owner`` (who owns a submission's name: ``--owner``, else the user running the grader) if
    it is valid, else ``ValueError`` saying what is allowed: 1 to :data:`MAX_NAME_CHARS` ASCII
    letters, digits and ``. _ + - @``, starting with a letter, digit or ``_``, and a ``$`` at the
    end (an account or user name, as ``useradd`` allows them).
    Only ASCII: a lone surrogate, which the store cannot encode, made every later grading run of
    its store fail, and invisible marks (``alice`` + U+034F) or blank letters (U+3164) let an
    owner print exactly as another one or as nothing."""
    if not isinstance(owner, str) or len(owner) > MAX_NAME_CHARS or not _OWNER.fullmatch(owner):
        shown = ascii(owner)[:100] if isinstance(owner, str) else repr(owner)[:100]
        raise ValueError(f"owner {shown} invalid; valid: 1 to {MAX_NAME_CHARS} ASCII letters, digits and . _ + - @, "
                         "starting with a letter, digit or _ (a $ may end it)")
    return owner


def check_entry_name(name: str) -> str:
    """``name`` if it is a valid entry name, else ``ValueError`` saying what is allowed."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(
            f"entry name {clean(name, False)[:80] if isinstance(name, str) else name!r} is empty; valid: 1 to {MAX_NAME_CHARS} characters from letters, "
            "digits, space and . _ + - (starting with a letter or digit)")
    name = name.strip()
    if len(name) > MAX_NAME_CHARS or not _NAME.fullmatch(name):
        raise ValueError(
            f"entry name {clean(name, False)[:80]!r} invalid; valid: 1 to {MAX_NAME_CHARS} characters from "
            "letters, digits, space and . _ + - (starting with a letter or digit)")
    return name
