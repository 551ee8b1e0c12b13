"""Split submitted text into sentences with exact character offsets.

Offsets matter more than anything else here: the browser extension maps them back onto the page, so
``text[seg.start:seg.end] == seg.text`` must hold for every segment. We split on hard line breaks first
(headings, list items and outline lines are their own segments in articles), then hand each line to
pySBD, a maintained rule-based segmenter that passes the "Golden Rules" for abbreviations, decimals,
URLs and quotes, and returns character spans.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import pysbd

# A list marker or markdown heading prefix that is not part of the sentence itself:
# "- ", "* ", "• ", "– ", "1. ", "2) ", "a) ", "## ", "> " (possibly stacked, e.g. "- – ").
# Letter markers only as "a)" or "(a)": "J. K. Rowling" must keep its initials.
_PREFIX = re.compile(r"^(?:\s*(?:#{1,6}|[-*•–—+>]|\d{1,3}[.)]|\(?[a-z]\))\s+)+")
TERMINAL_PUNCTUATION = re.compile(r"[.!?…][\"'”’)\]]*$")


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
    if not TERMINAL_PUNCTUATION.search(body) and _looks_like_title(body):
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


def _lines(text: str) -> list[tuple[int, str]]:
    """Lines with their offsets, a hard-wrapped sentence joined back into one line.

    A line continues the one before when that one has no final punctuation and this one starts in lower
    case with no list marker ("The study enrolled 400\nadults in three countries."). The newline stays in
    the joined text, so offsets are unchanged.
    """
    spans: list[list[int]] = []  # [start, end] of each (possibly joined) line: sliced once at the end, not per join
    last = ""  # the last physical line of the current joined line: its ending decides whether the next one joins
    offset = 0
    for raw in text.splitlines(keepends=True):
        start, offset = offset, offset + len(raw)
        content = raw.rstrip("\r\n")
        stripped = content.strip()
        if not stripped:
            spans.append([start, start])
            last = ""
            continue
        if last.strip() and stripped[0].islower() and not _PREFIX.match(content):
            if not TERMINAL_PUNCTUATION.search(last.strip()) and not last.rstrip().endswith(":"):
                spans[-1][1] = start + len(content)
                last = content
                continue
        spans.append([start, start + len(content)])
        last = content
    return [(a, text[a:b]) for a, b in spans if text[a:b].strip()]


# pySBD's time grows faster than the text on one long line (200 KB of short sentences took minutes), so a long
# line is cut into pieces of about this many characters, each at a sentence end, before it is segmented.
_CHUNK = 4000
_CUT = re.compile(r"[.!?][\"')\]]*\s+(?=[A-Z0-9\"'(\[])")


def _chunks(flat: str) -> list[tuple[int, str]]:
    if len(flat) <= _CHUNK:
        return [(0, flat)]
    out, start = [], 0
    while len(flat) - start > _CHUNK:
        cuts = [m.end() for m in _CUT.finditer(flat, start + _CHUNK // 2, start + _CHUNK)]
        space = flat.rfind(" ", start + _CHUNK // 2, start + _CHUNK)
        end = cuts[-1] if cuts else (space + 1 if space > 0 else start + _CHUNK)
        out.append((start, flat[start:end]))
        start = end
    out.append((start, flat[start:]))
    return out


def segment(text: str, limit: int | None = None) -> list[Segment]:
    """Return the sentences of ``text`` in order, each with offsets into ``text``.

    With ``limit``, stop once more than ``limit`` segments are found (the caller refuses the text anyway), so a
    huge request costs what its first ``limit + 1`` sentences cost.
    """
    segments: list[Segment] = []
    for offset, content in _lines(text):
        if limit is not None and len(segments) > limit:
            break
        prefix_match = _PREFIX.match(content)
        prefix = prefix_match.group(0) if prefix_match else ""
        body = content[len(prefix) :]
        kind = "sentence" if "\n" in body and not prefix else _line_kind(body, prefix)
        body_start = offset + len(prefix)
        pieces: Iterable[list[tuple[int, int]]]
        if kind == "heading":
            pieces = [[(0, len(body))]]
        else:
            # A joined hard wrap is a space to pySBD; same length, so the spans still index ``body``.
            flat = body.replace("\r", " ").replace("\n", " ")
            pieces = ([(at + s.start, at + s.end) for s in _segmenter().segment(chunk)] for at, chunk in _chunks(flat))
        for spans in pieces:
            if limit is not None and len(segments) > limit:
                break
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
