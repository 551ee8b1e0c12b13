"""Exports of a results file: JSON lines, one CSV row per sentence, or schema.org ClaimReview JSON-LD.

Each writer streams ``ResultsStore.iter_documents`` to an open text file, so an export stays small in
memory however large the batch; ``veracity batch export`` only picks one.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import IO, Any

RATING_NAMES = {
    # Honest names: an automated check found (or did not find) close evidence; it is not a journalist's verdict.
    "supported": "Supported by graded evidence (automated check)",
    "contradicted": "Contradicted by graded evidence (automated check)",
    "unsupported": "No supporting evidence found (automated check; not a rating of false)",
}


def write_jsonl(documents: Iterator[dict[str, Any]], out: IO[str]) -> None:
    """One document a line with its sentences, in the API's results shape (``document_json``)."""
    for doc in documents:
        doc.pop("seq", None)
        out.write(json.dumps(doc, ensure_ascii=False) + "\n")


CSV_COLUMNS = [
    "document_id",
    "url",
    "final_url",
    "status",
    "error_code",
    "error",
    "title",
    "sentence_index",
    "start",
    "end",
    "text",
    "checkworthy",
    "label",
    "confidence",
    "method",
    "evidence_ids",
]


def write_csv(documents: Iterator[dict[str, Any]], out: IO[str]) -> None:
    writer = csv.DictWriter(out, CSV_COLUMNS)
    writer.writeheader()
    for doc in documents:
        base = {
            "document_id": doc["id"],
            "url": doc["url"],
            "final_url": doc["final_url"],
            "status": doc["status"],
            "error_code": (doc["error"] or {}).get("code"),
            "error": (doc["error"] or {}).get("message"),
            "title": doc["title"],
        }
        if not doc["sentences"]:
            writer.writerow(base)
        for s in doc["sentences"]:
            writer.writerow(
                {
                    **base,
                    "sentence_index": s["index"],
                    "start": s["start"],
                    "end": s["end"],
                    "text": s["text"],
                    "checkworthy": s["checkworthy"],
                    "label": s["label"],
                    "confidence": s["confidence"],
                    "method": s["method"],
                    "evidence_ids": " ".join(s["evidence_ids"]),
                }
            )


def claim_reviews(documents: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One schema.org ClaimReview per checked claim (a sentence with a verdict)."""
    for doc in documents:
        appearance = {"@type": "CreativeWork", "url": doc["final_url"] or doc["url"]}
        if doc["title"]:
            appearance["headline"] = doc["title"]
        if doc["published"]:
            appearance["datePublished"] = doc["published"]
        for s in doc["sentences"]:
            if s["label"] is None:
                continue
            explanation = f"Automated check by Veracity ({s['method']}), confidence {s['confidence']}"
            if s["evidence_ids"]:
                explanation += "; closest evidence: " + ", ".join(s["evidence_ids"])
            if s["method"] == "similarity-baseline":
                explanation += (
                    ". The similarity baseline measures closeness in meaning; it cannot detect contradiction."
                )
            yield {
                "@context": "https://schema.org",
                "@type": "ClaimReview",
                "claimReviewed": s["text"],
                "datePublished": (doc["checked_at"] or "")[:10] or None,
                "author": {"@type": "Organization", "name": "Veracity (automated claim check)"},
                "itemReviewed": {"@type": "Claim", "appearance": appearance},
                "reviewRating": {
                    "@type": "Rating",
                    "alternateName": RATING_NAMES.get(s["label"], s["label"]),
                    "ratingExplanation": explanation,
                },
            }


def write_claim_reviews(documents: Iterator[dict[str, Any]], out: IO[str]) -> None:
    """A JSON array of ``claim_reviews``, written one review at a time."""
    out.write("[\n")
    first = True
    for review in claim_reviews(documents):
        out.write(("" if first else ",\n") + json.dumps(review, ensure_ascii=False))
        first = False
    out.write("\n]\n")
