"""The inputs of a batch: a file of URLs, JSONL records, a directory of files, or stdin, as ``Source`` rows.

Every source gets a key that is stable across runs (the URL, the record's id, the file's path, or a hash of
the text), which is what lets a re-run find the documents it already checked.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from veracity.service.fetch import FILE_TYPES, url_problem


class BatchInputError(ValueError):
    """The input cannot be read as URLs, JSONL records or a directory; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class Source:
    """One input document: a URL to fetch, a text to check as is, or a local file."""

    key: str  # stable id across runs: the URL, the record's id, or the file's path inside the directory
    url: str | None = None
    text: str | None = None
    path: str | None = None
    title: str | None = None


# --- reading inputs -------------------------------------------------------------------------------------


def read_sources(spec: str, stdin: TextIO | None = None) -> tuple[list[Source], int]:
    """Sources from a file of URLs, a JSONL file, a directory of .html/.txt files, or ``-`` (stdin).

    Returns the sources in input order and how many repeated keys were dropped.
    """
    if spec == "-":
        return _dedupe(_parse_lines((stdin or sys.stdin).read(), "stdin"))
    path = Path(spec)
    if path.is_dir():
        return _dedupe(_directory_sources(path))
    if not path.is_file():
        raise BatchInputError(
            f"{spec} does not exist; give a file of URLs (one a line), a JSONL file, a directory, or - for stdin"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BatchInputError(
            f"{spec} is not UTF-8 text; a list of URLs or JSONL records must be UTF-8 (to check HTML files, give their directory)"
        ) from None
    return _dedupe(_parse_lines(text, path.name))


def _directory_sources(root: Path) -> list[Source]:
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    sources = [
        Source(key=p.relative_to(root).as_posix(), path=str(p.resolve()))
        for p in files
        if p.suffix.lower() in {*FILE_TYPES, ".pdf"}
    ]
    if not sources:
        raise BatchInputError(f"{root} holds no .html, .htm or .txt files; put the pages to check there")
    return sources


def _parse_lines(text: str, name: str) -> list[Source]:
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    lines = [(n, line) for n, line in lines if line and not line.startswith("#")]
    if not lines:
        raise BatchInputError(f'{name} is empty; give one URL a line, or JSONL records with "url" or "id" and "text"')
    if lines[0][1].startswith("{"):
        return [_record_source(n, line, name) for n, line in lines]
    sources = []
    for n, line in lines:
        problem = url_problem(line, allow_private=True)
        if problem:
            shown = line if len(line) <= 60 else line[:57] + "..."
            raise BatchInputError(
                f"{name} line {n}: {shown!r} is not a URL; the input must hold one http(s) URL a line, or JSONL records"
            )
        sources.append(Source(key=line, url=line))
    return sources


def _record_source(n: int, line: str, name: str) -> Source:
    hint = 'each line must be a JSON object with "url", or "text" (and an optional "id" and "title")'
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BatchInputError(f"{name} line {n}: not valid JSON ({exc.msg}); {hint}") from None
    if not isinstance(record, dict):
        raise BatchInputError(f"{name} line {n}: a JSON {type(record).__name__}, not an object; {hint}")
    title = record.get("title") if isinstance(record.get("title"), str) else None
    record_id = record.get("id")
    if record_id is not None and not isinstance(record_id, (str, int)):
        raise BatchInputError(f'{name} line {n}: "id" must be a string or a number')
    if isinstance(record.get("url"), str) and "text" not in record:
        problem = url_problem(record["url"], allow_private=True)
        if problem:
            raise BatchInputError(f"{name} line {n}: {problem}")
        return Source(key=str(record_id) if record_id is not None else record["url"], url=record["url"], title=title)
    if isinstance(record.get("text"), str):
        return Source(
            key=str(record_id) if record_id is not None else text_key(record["text"]), text=record["text"], title=title
        )
    raise BatchInputError(f'{name} line {n}: no "url" or "text" string; {hint}')


def text_key(text: str) -> str:
    """A stable id for a text given without one, so a re-run finds it again."""
    return "text:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _dedupe(sources: list[Source]) -> tuple[list[Source], int]:
    seen: set[str] = set()
    unique = []
    for s in sources:
        if s.key not in seen:
            seen.add(s.key)
            unique.append(s)
    return unique, len(sources) - len(unique)
