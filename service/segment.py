"""Split submitted text into sentences with exact character offsets.

Offsets matter more than anything else here: the browser extension maps them back onto the page, so
``text[seg.start:seg.end] == seg.text`` must hold for every segment. We split on hard line breaks first
(headings, list items and outline lines are their own segments in articles), then hand each line to
pySBD, a maintained rule-based segmenter that passes the "Golden Rules" for abbreviations, decimals,
URLs and quotes, and returns character spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pysbd

# A list marker or markdown heading prefix that is not part of the sentence itself:
# "- ", "* ", "• ", "– ", "1. ", "2) ", "a) ", "## ", "> " (possibly stacked, e.g. "- – ").
_PREFIX = re.compile(r"^(?:\s*(?:#{1,6}|[-*•–—+>]|\d{1,3}[.)]|[a-zA-Z][.)](?=\s))\s+)+")
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*$")


@dataclass(frozen=True, slots=True)
class Segment:
    """One sentence of the submitted text; ``kind`` is what its line looked like."""

    index: int
    text: str
    start: int
    end: int
    kind: str  # "sentence", "heading" or "list_item"


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    # clean=False keeps the text unchanged so that spans index the original string.
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def _line_kind(line: str, prefix: str) -> str:
    marker = prefix.strip()
    if marker.startswith("#"):
        return "heading"
    if marker:
        return "list_item"
    body = line.strip()
    if body.endswith(":") and len(body.split()) <= 8:
        return "heading"  # "Outline:", "Key points:"
    if not _TERMINAL.search(body) and _looks_like_title(body):
        # A short line with no final punctuation, in title case: "Understanding Opioid Withdrawal and
        # Its Challenges", "Conclusion". A lower-case line such as "Kratom is not FDA approved" stays a sentence.
        return "heading"
    return "sentence"


_MINOR = frozenset("a an and as at but by for from in into of on or the to vs via with its their your".split())


def _looks_like_title(body: str) -> bool:
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'’-]*", body)]
    if not words or len(words) > 12:
        return False
    if len(words) <= 2:
        return True
    major = [w for w in words if w.lower() not in _MINOR]
    capitalised = sum(1 for w in major if w[0].isupper())
    return capitalised >= max(2, 0.7 * len(major))


def segment(text: str) -> list[Segment]:
    """Return the sentences of ``text`` in order, each with offsets into ``text``."""
    segments: list[Segment] = []
    line_start = 0
    for line in text.splitlines(keepends=True):
        offset = line_start
        line_start += len(line)
        content = line.rstrip("\r\n")
        if not content.strip():
            continue
        prefix_match = _PREFIX.match(content)
        prefix = prefix_match.group(0) if prefix_match else ""
        kind = _line_kind(content[len(prefix):], prefix)
        body_start = offset + len(prefix)
        body = content[len(prefix):]
        if kind == "heading":
            spans = [(0, len(body))]
        else:
            spans = [(s.start, s.end) for s in _segmenter().segment(body)]
        for span_start, span_end in spans:
            piece = body[span_start:span_end]
            stripped_left = len(piece) - len(piece.lstrip())
            piece = piece.strip()
            if not piece:
                continue
            start = body_start + span_start + stripped_left
            segments.append(
                Segment(index=len(segments), text=piece, start=start, end=start + len(piece), kind=kind)
            )
    return segments
