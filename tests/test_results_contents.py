"""benchmarks/RESULTS.md can be found in: its table of contents names every section, and every
link into it (from itself, README.md and docs/ARCHITECTURE.md) lands on one of its headings.

Anchors are computed as GitHub computes them for a Markdown heading (github-slugger, which
github.com's renderer uses): the heading's rendered text (code spans and emphasis marks gone)
lowercased, every character but letters, digits, ``_``, ``-`` and spaces removed, each space made
``-``; a repeated anchor gets ``-1``, ``-2``, ... Written out here from that rule, not from the
file, and checked on the anchors GitHub gave the README's hand-written links before this test.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
LINKING = [ROOT / "README.md", ROOT / "docs" / "ARCHITECTURE.md"]


def github_anchor(heading: str) -> str:
    text = re.sub(r"`|\*\*|\*|__", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def headings(markdown: str) -> list[tuple[int, str, str]]:
    """(level, text, anchor) of each ATX heading outside fenced code blocks, duplicates numbered."""
    found, seen, fenced = [], {}, False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = None if fenced else re.match(r"(#{1,6}) +(.+?) *#*$", line)
        if m:
            base = github_anchor(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.append((len(m.group(1)), m.group(2), base if n == 0 else f"{base}-{n}"))
    return found


def contents_links(markdown: str) -> list[str]:
    """The anchors listed under the ``## Contents`` heading, in order."""
    block = markdown.split("\n## Contents\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^ *- \[.*\]\(#([^)]+)\)$", block, flags=re.M)


def test_anchor_rule_matches_githubs_on_known_headings():
    # anchors GitHub produced for these headings, linked from the README before this test existed
    assert github_anchor("The sandbox's cost: `bench --isolation` (2026-12-01 – 2026-12-06)") == \
        "the-sandboxs-cost-bench---isolation-2026-12-01--2026-12-06"
    assert github_anchor("SB3's time: the env against the agent, re-run with every info key (2026-12-06)") == \
        "sb3s-time-the-env-against-the-agent-re-run-with-every-info-key-2026-12-06"
    assert [a for _, _, a in headings("## A b\n```\n## not one\n```\n## A b\n")] == ["a-b", "a-b-1"]


def test_contents_lists_every_section_in_order():
    text = RESULTS.read_text(encoding="utf-8")
    sections = [anchor for level, _, anchor in headings(text) if level in (2, 3) and anchor != "contents"]
    assert contents_links(text) == sections


def test_every_link_into_results_lands_on_a_heading():
    anchors = {anchor for _, _, anchor in headings(RESULTS.read_text(encoding="utf-8"))}
    links = [("benchmarks/RESULTS.md", a) for a in re.findall(r"\]\(#([^)]+)\)", RESULTS.read_text(encoding="utf-8"))]
    for path in LINKING:
        links += [(path.name, a) for a in re.findall(r"RESULTS\.md#([^)\s]+)\)", path.read_text(encoding="utf-8"))]
    assert len(links) > 5  # the pattern finds the links (the README alone has 9)
    assert [(where, a) for where, a in links if a not in anchors] == []
