"""Checking a chunk: turn each source into a page of text, then check all the pages in one ``check_many`` call.

Runs wherever the models are: in the caller's process (the local engine) or in a Ray check actor; it never
touches SQLite: the local engine hands its ``DocResult`` rows to the one writer, a Ray check actor appends them
to its shard (``shards``), which that writer merges.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veracity.service.batch.sources import Source
from veracity.service.batch.store import TOP_EVIDENCE, VERDICT_COLUMNS
from veracity.service.fetch import Fetcher, Page, page_from_file

if TYPE_CHECKING:
    from veracity.service.pipeline import CheckResult, Pipeline

log = logging.getLogger(__name__)


# --- checking a chunk -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DocResult:
    """What a chunk produces for one document: columns for its row, and its sentence rows."""

    key: str
    document: dict[str, Any]
    sentences: list[dict[str, Any]] = field(default_factory=list)


def acquire(source: Source, fetcher: Fetcher, body: bytes | None = None) -> Page:
    """Turn a source into a page of text: fetch a URL, extract a file, or take a record's text as is."""
    try:
        if source.url is not None:
            return fetcher.fetch(source.url)
        if source.path is not None:
            return page_from_file(Path(source.path), source.key, body)
        if not (source.text or "").strip():
            return Page(
                None,
                "failed",
                error_code="no_text",
                error=f'record {source.key!r} has an empty "text"; give the text to check',
            )
        return Page(None, "ok", text=source.text, title=source.title)
    except Exception as exc:  # a bug must cost one document, not the batch
        log.exception("could not acquire %s", source.key)
        return Page(
            source.url, "failed", error_code="internal_error", error=f"{type(exc).__name__}: {exc}; please report this"
        )


def _page_columns(page: Page) -> dict[str, Any]:
    return {
        "status": page.status if page.status != "ok" else "checked",
        "error_code": page.error_code,
        "error": page.error,
        "http_status": page.http_status,
        "final_url": page.final_url,
        "content_type": page.content_type,
        "encoding": page.encoding,
        "title": page.title,
        "published": page.published,
        "text_sha256": page.text_sha256,
        "chars": len(page.text) if page.text is not None else None,
        "attempts": page.attempts,
        "redirects": page.redirects,
        "fetched_at": page.fetched_at,
        "sentences": 0,
        "checkworthy": 0,
        **{c: 0 for c in VERDICT_COLUMNS},
    }


def _sentence_rows(result: CheckResult) -> list[dict[str, Any]]:
    rows = []
    for s in result.sentences:
        v = s.verdict
        rows.append(
            {
                "idx": s.segment.index,
                "start": s.segment.start,
                "end": s.segment.end,
                "text": s.segment.text,
                "kind": s.segment.kind,
                "checkworthy": int(s.checkworthiness.checkworthy),
                "checkworthy_reason": s.checkworthiness.reason,
                "label": v.label if v else None,
                "confidence": v.confidence if v else None,
                "method": v.method if v else None,
                "evidence_ids": json.dumps([e.evidence.id for e in v.evidence[:TOP_EVIDENCE]]) if v else "[]",
                "top_similarity": round(max((e.evidence.similarity for e in v.evidence), default=0.0), 4)
                if v
                else None,
            }
        )
    return rows


def check_pages(pipeline: Pipeline, pages: list[tuple[str, Page]], check_all: bool = False) -> list[DocResult]:
    """Check every page that has text in ONE ``check_many`` call; pages without text pass through."""
    model = json.dumps(pipeline.describe(), sort_keys=True)
    with_text = [(key, page) for key, page in pages if page.status == "ok"]
    checked: dict[str, CheckResult | Exception] = {}
    if with_text:
        try:
            results = pipeline.check_many([p.text or "" for _, p in with_text], check_all=check_all)
            checked = {key: r for (key, _), r in zip(with_text, results)}
        except Exception:  # find the one document that breaks the chunk, check the others
            log.exception("a chunk of %d documents failed; checking them one at a time", len(with_text))
            for key, page in with_text:
                try:
                    checked[key] = pipeline.check(page.text or "", check_all=check_all)
                except Exception as exc:
                    checked[key] = exc
    out = []
    for key, page in pages:
        columns = _page_columns(page)
        result = checked.get(key)
        if isinstance(result, Exception):
            columns.update(
                status="failed",
                error_code="check_error",
                error=f"checking failed ({type(result).__name__}: {result}); please report this",
            )
            out.append(DocResult(key, columns))
        elif result is not None:
            summary = result.summary
            columns.update(
                model=model,
                sentences=len(result.sentences),
                checkworthy=sum(1 for s in result.sentences if s.verdict is not None),
                **{c: summary.get(c, 0) for c in VERDICT_COLUMNS},
            )
            out.append(DocResult(key, columns, _sentence_rows(result)))
        else:
            out.append(DocResult(key, columns))
    return out
