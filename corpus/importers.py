"""Read evidence files into validated items, reporting every bad row by line and field.

Nothing is written here: importers only parse and validate, so the store can insert a whole file in one
transaction or not at all.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veracity.corpus.schema import normalise, validate_item


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class CorpusImportError(Exception):
    """Raised with every row error of a file; nothing from the file has been written."""

    def __init__(self, path: str, errors: list[RowError]) -> None:
        self.path = path
        self.errors = errors
        shown = "\n".join(f"  {e}" for e in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{path}: {len(errors)} invalid row(s), nothing imported:\n{shown}{more}")


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8", newline="")


def _records(path: Path) -> Iterator[tuple[int, Any]]:
    name = path.name.removesuffix(".gz")
    with _open_text(path) as handle:
        if name.endswith(".jsonl"):
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, exc
        elif name.endswith(".csv"):
            reader = csv.DictReader(handle)
            for number, row in enumerate(reader, start=2):
                record: dict[str, Any] = {k: (v if v != "" else None) for k, v in row.items() if k}
                if record.get("tags"):
                    record["tags"] = [t.strip() for t in str(record["tags"]).split(";") if t.strip()]
                yield number, record
        else:
            raise CorpusImportError(str(path), [RowError(0, "unsupported file type; use .jsonl or .csv")])


def read_items(path: Path) -> list[dict[str, Any]]:
    """Parse and validate an evidence JSONL or CSV file; raise CorpusImportError listing every bad row."""
    items: list[dict[str, Any]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for number, record in _records(path):
        if isinstance(record, json.JSONDecodeError):
            errors.append(RowError(number, f"invalid JSON ({record.msg} at column {record.colno})"))
            continue
        problems = validate_item(record)
        if problems:
            errors.extend(RowError(number, p) for p in problems)
            continue
        item = normalise(record)
        if item["id"] in seen:
            errors.append(RowError(number, f"id: {item['id']!r} already used on line {seen[item['id']]}"))
            continue
        seen[item["id"]] = number
        items.append(item)
    if errors:
        raise CorpusImportError(str(path), errors)
    return items


def read_scifact_corpus(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """SciFact ``corpus.jsonl`` (or the shared ``corpus_train.csv.gz``) abstracts as ungraded evidence items.

    SciFact gives no study type or certainty, so items are marked ``ungraded``: verdicts never treat
    them as graded evidence.
    """
    items: list[dict[str, Any]] = []
    for number, record in _scifact_records(path):
        if limit is not None and len(items) >= limit:
            break
        abstract = record.get("abstract")
        if isinstance(abstract, list):
            abstract = " ".join(s.strip() for s in abstract)
        if isinstance(abstract, str) and abstract.startswith("["):
            abstract = " ".join(_sentences_from_repr(abstract))
        doc_id = record.get("doc_id")
        if doc_id is None or not abstract:
            raise CorpusImportError(str(path), [RowError(number, "SciFact rows need doc_id and abstract")])
        items.append(
            normalise(
                {
                    "id": f"scifact-{doc_id}",
                    "statement": str(abstract),
                    "source_title": record.get("title") or f"SciFact document {doc_id}",
                    "source_url": f"https://www.semanticscholar.org/search?q={doc_id}",
                    "publisher": "SciFact corpus (S2ORC abstracts)",
                    "year": 2020,
                    "study_type": "abstract",
                    "grade": "ungraded",
                    "topic": "scifact",
                    "tags": ["scifact"],
                }
            )
        )
    return items


_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", re.S)


def _sentences_from_repr(text: str) -> list[str]:
    """The sentences of an abstract stored as a Python or numpy list repr (``['a' 'b']``, with or without commas)."""
    try:
        value = json.loads(text)
        if isinstance(value, list):
            return [str(v).strip() for v in value]
    except json.JSONDecodeError:
        pass
    found = [a or b for a, b in _QUOTED.findall(text)]
    return [s.strip() for s in found] or [text]


def _scifact_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    name = path.name.removesuffix(".gz")
    with _open_text(path) as handle:
        if name.endswith(".csv"):
            csv.field_size_limit(10_000_000)
            for number, row in enumerate(csv.DictReader(handle), start=2):
                yield number, dict(row)
        else:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, json.loads(line)


def read_claimreview(path: Path) -> list[dict[str, Any]]:
    """ClaimReview JSON-LD (one object, a list, or a JSONL of them) as fact-check evidence items.

    A fact-check's rating is itself evidence about a claim, so each review becomes a statement of the form
    "<publisher> rated the claim '<claim>' as <rating>." with the review URL as the source.
    """
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        reviews = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        reviews = [json.loads(line) for line in text.splitlines() if line.strip()]
    items: list[dict[str, Any]] = []
    errors: list[RowError] = []
    for number, review in enumerate(reviews, start=1):
        if isinstance(review, dict) and "@graph" in review:
            review = next((g for g in review["@graph"] if g.get("@type") == "ClaimReview"), review)
        rating = (review.get("reviewRating") or {}).get("alternateName") if isinstance(review, dict) else None
        claim = review.get("claimReviewed") if isinstance(review, dict) else None
        url = review.get("url") if isinstance(review, dict) else None
        if not (claim and rating and url):
            errors.append(RowError(number, "ClaimReview needs claimReviewed, reviewRating.alternateName and url"))
            continue
        author = review.get("author") or {}
        publisher = author.get("name") if isinstance(author, dict) else str(author)
        date = str(review.get("datePublished") or "")
        record = {
            "id": "claimreview-" + hashlib.sha1(f"{url}\n{claim}".encode()).hexdigest()[:12],
            "statement": f"{publisher or 'A fact-checker'} rated the claim '{claim}' as {rating}.",
            "source_title": review.get("name") or review.get("headline") or f"Fact check: {claim[:80]}",
            "source_url": url,
            "publisher": publisher or "unknown fact-checker",
            "year": int(date[:4]) if date[:4].isdigit() else 2000,
            "study_type": "fact_check",
            "grade": "ungraded",
            "topic": "fact-check",
            "tags": ["claimreview"],
        }
        problems = validate_item(record)
        if problems:
            errors.extend(RowError(number, p) for p in problems)
        else:
            items.append(normalise(record))
    if errors:
        raise CorpusImportError(str(path), errors)
    return items
