"""Submitter text in ``LEADERBOARD.md`` never becomes a link on GitHub, and still reads the same.

GitHub renders Markdown with cmark-gfm, whose autolink extension turns plain ``www.x.com``,
``http(s)://``/``ftp://`` URLs, e-mail addresses and ``mailto:``/``xmpp:`` addresses into links
(an audit of 2026-12: an entry named ``www.evil-site.com`` failing with "see
www.evil-site.com/login or mail admin@evil-site.com" gave three links). The check is GitHub's own
renderer when it is installed (``pip install cmarkgfm``), and always an independent reference
written from the GFM spec's rules (https://github.github.com/gfm/#autolinks-extension-), applied
to the text as the renderer sees it (backslash escapes and entities decoded, which is when
cmark-gfm looks for e-mail addresses), so the test runs in CI without cmarkgfm too.
"""

import html
import re

import pytest
from lb_helpers import synthetic_entry, synthetic_runs, tiny_suite

from lrgym.leaderboard.ranking import build_leaderboard
from lrgym.leaderboard.report_markdown import markdown
from lrgym.leaderboard.runner import summarize
from lrgym.leaderboard.store import ResultStore
from lrgym.leaderboard.text import markdown_escape

try:
    import cmarkgfm
except ImportError:  # the reference below still checks
    cmarkgfm = None

SUITE = tiny_suite()
WORD_JOINER = "\u2060"

# ---- the reference: GFM's extended autolinks, from the spec ----------------------------------

_BEFORE = r"(?:(?<=^)|(?<=[\s*_~(]))"  # "at the beginning of a line, after whitespace, or any of * _ ~ ("
_DOMAIN = r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*"  # segments of alphanumerics, _ and -, separated by .
_WWW = re.compile(_BEFORE + r"www\." + _DOMAIN, re.IGNORECASE)  # (case: stricter than the spec's)
_URL = re.compile(_BEFORE + r"(?:https?|ftp)://" + _DOMAIN, re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9.+_-]+@[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+")  # mailto:/xmpp: contain one
_PROTOCOL = re.compile(r"(?:mailto|xmpp):[A-Za-z0-9.+_-]+@", re.IGNORECASE)
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # CommonMark backslash escapes of ASCII punctuation


def as_rendered(markdown_text: str) -> str:
    """The text the autolink extension scans: backslash escapes and entities decoded."""
    return html.unescape(_ESCAPED.sub(r"\1", markdown_text))


def reference_autolinks(markdown_text: str) -> list[str]:
    """What GFM's autolink extension would link in this (inline) text, per the spec."""
    text = as_rendered(markdown_text)
    return [m.group(0) for rule in (_WWW, _URL, _EMAIL, _PROTOCOL) for m in rule.finditer(text)]


def github_links(markdown_text: str) -> list[str]:
    """The links GitHub's renderer makes ([] without cmarkgfm)."""
    if cmarkgfm is None:
        return []
    return re.findall(r"<a [^>]*>", cmarkgfm.github_flavored_markdown_to_html(markdown_text))


def test_the_reference_finds_what_github_links():
    """The reference is not vacuous: raw hostile text is linked by it (and by GitHub)."""
    for raw in ("see www.evil-site.com/login", "mail admin@evil-site.com", "x https://evil.com/a",
                "(ftp://f.evil.com)", "mailto:x@y.com", "xmpp:foo@bar.baz/txt", "*www.r.com*"):
        assert reference_autolinks(raw), raw
        if cmarkgfm is not None:
            assert github_links(raw), raw
    assert reference_autolinks(r"www\.evil-site\.com") and reference_autolinks("a&#64;b&#46;com")


HOSTILE = [
    "www.evil-site.com",
    "see www.evil-site.com/login or mail admin@evil-site.com",
    "WWW.Evil.com Www.u.com (www.z.com) _www.q.com_ *www.r.com* ~www.s.com~",
    "http://evil.com https://evil.com/x?y=1 ftp://f.evil.com/p HTTP://W.COM <http://t.com>",
    "mailto:x@y.com xmpp:foo@bar.baz/txt user.name+tag@sub.example.org a@b.co",
    "[x](http://evil.example) ![i](http://evil.example/i.png) <img src=x> &amp; a|b",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_submitter_text_is_no_link_and_reads_the_same(text):
    escaped = markdown_escape(text)
    assert reference_autolinks(escaped) == []
    assert github_links(escaped) == []
    assert as_rendered(escaped).replace(WORD_JOINER, "") == text  # the same text to a reader


def test_the_board_links_no_submitter_text(tmp_path):
    """The whole LEADERBOARD.md: hostile names in the ranking and the failures, hostile reasons."""
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        for i, name in enumerate(["www.evil-site.com", "a@b.co", "WWW.x.org"]):
            runs = synthetic_runs(SUITE, [[0.5 + i / 10], [0.4]])
            store.add_entry(synthetic_entry(SUITE, name, kind="submission", owner="o",
                                            summary=summarize(runs, SUITE, reps=20)), runs)
        for i, reason in enumerate(HOSTILE):
            store.record_failure(f"www.fail{i}.com", "submission", reason, suite_version=SUITE.version, owner="o")
        lb = build_leaderboard(store, SUITE)
    board = markdown(lb)
    assert "www" in board and "evil-site" in board
    for line in board.splitlines():
        assert reference_autolinks(line) == [], line
    assert github_links(board) == []
    rendered = as_rendered(board).replace(WORD_JOINER, "")
    assert "see www.evil-site.com/login or mail admin@evil-site.com" in rendered
