"""What an evidence item must hold, checked before anything reaches the database.

Validation returns every problem at once, each naming the field, so an importer can report the line
and the field together and the user can fix a file in one pass.
"""

from __future__ import annotations

import re
from typing import Any

GRADES = ("high", "moderate", "low", "very_low", "ungraded")
# GRADE certainty from least to most certain ("ungraded": no assessment, ranked with none of them).
GRADE_ORDER = ("very_low", "low", "moderate", "high")
STUDY_TYPES = (
    "systematic_review",
    "meta_analysis",
    "rct",
    "cohort",
    "case_control",
    "cross_sectional",
    "case_series",
    "case_report",
    "animal_or_in_vitro",
    "narrative_review",
    "regulatory_statement",
    "drug_label",
    "expert_guideline",
    "survey",
    "abstract",
    "fact_check",
    "unknown",
)
REQUIRED = ("id", "statement", "source_title", "publisher", "year", "study_type", "grade", "topic")
OPTIONAL = ("source_url", "pmid", "doi", "grade_reason", "tags", "source_note", "accessed")
FIELDS = REQUIRED + OPTIONAL
PMID = re.compile(r"^\d{1,9}$")
DOI = re.compile(r"^10\.\d{4,9}/\S+$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
MAX_STATEMENT_CHARS = 20_000  # one finding is a sentence; imported abstracts can be long


def validate_item(item: Any) -> list[str]:
    """Return a list of "field: problem" strings; empty when the item is valid."""
    if not isinstance(item, dict):
        return [f"record: expected a JSON object, got {type(item).__name__}"]
    problems: list[str] = []
    for field in REQUIRED:
        value = item.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            problems.append(f"{field}: required field is missing or empty")
    unknown = sorted(set(item) - set(FIELDS) - {"embedding", "added", "embedding_model"})
    if unknown:
        problems.append(f"{', '.join(unknown)}: unknown field(s); allowed: {', '.join(FIELDS)}")
    # Text fields must be text: a number or a list here reached the embedder or SQLite and failed a later request.
    for field in (
        "statement",
        "source_title",
        "publisher",
        "study_type",
        "grade",
        "topic",
        "grade_reason",
        "source_url",
        "source_note",
        "accessed",
    ):
        value = item.get(field)
        if value is not None and not isinstance(value, str):
            problems.append(f"{field}: must be a string, got {type(value).__name__}")
    if item.get("id") and not ID.match(str(item["id"])):
        problems.append("id: use letters, digits and . _ : - only (at most 128 characters)")
    statement = item.get("statement")
    if isinstance(statement, str) and len(statement) > MAX_STATEMENT_CHARS:
        problems.append(f"statement: {len(statement)} characters; limit is {MAX_STATEMENT_CHARS}")
    # Checked whenever present, falsy or not: a stored grade of 0 broke every check that retrieved the item.
    if item.get("grade") is not None and item["grade"] not in GRADES:
        problems.append(f"grade: {item['grade']!r} is not one of {', '.join(GRADES)}")
    if item.get("study_type") is not None and item["study_type"] not in STUDY_TYPES:
        problems.append(f"study_type: {item['study_type']!r} is not one of {', '.join(STUDY_TYPES)}")
    year = item.get("year")
    if year is not None and year != "":
        try:
            year_int = int(year)
        except (TypeError, ValueError):
            problems.append(f"year: {year!r} is not a year such as 2021")
        else:
            if not 1800 <= year_int <= 2100:
                problems.append(f"year: {year_int} is out of range")
    if item.get("pmid") and not PMID.match(str(item["pmid"])):
        problems.append(f"pmid: {item['pmid']!r} must be digits only, e.g. 29211798")
    if item.get("doi") and not DOI.match(str(item["doi"])):
        problems.append(f"doi: {item['doi']!r} must start with '10.', e.g. 10.1002/14651858.CD002025")
    accessed = item.get("accessed")
    if isinstance(accessed, str) and accessed and not ISO_DATE.match(accessed):
        problems.append(f"accessed: {accessed!r} must be a date such as 2026-12-03")
    if not (item.get("source_url") or item.get("pmid") or item.get("doi")):
        problems.append("source_url: every item needs a source URL, PMID or DOI")
    url = item.get("source_url")
    if url and not str(url).startswith(("http://", "https://")):
        problems.append(f"source_url: {url!r} must start with http:// or https://")
    tags = item.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        problems.append("tags: must be a list of strings")
    return problems


def normalise(item: dict[str, Any]) -> dict[str, Any]:
    """The row as stored: every field present, year an int, tags a list."""
    row: dict[str, Any] = {field: item.get(field) for field in FIELDS}
    row["id"] = str(row["id"])
    row["year"] = int(row["year"])
    row["pmid"] = str(row["pmid"]) if row["pmid"] else None
    row["doi"] = row["doi"] or None
    row["source_url"] = row["source_url"] or None
    row["tags"] = list(row["tags"] or [])
    return row
