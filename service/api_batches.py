"""``/v1/batches``: submit many URLs or texts, follow the job, page through the results.

The request thread only validates and stores the job (state lives in ``settings.batch_db``, so jobs
survive a restart); a separate worker process (:mod:`service.batch.worker`) fetches and checks.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for

from veracity.service.access import add_cors_headers, client_id, require_api_key
from veracity.service.api_v1 import read_json_body
from veracity.service.batch import FINISHED, ResultsStore, Source, TooManyJobs, text_key
from veracity.service.batch.store import VERDICT_COLUMNS
from veracity.service.batch.worker import WorkerSupervisor
from veracity.service.errors import VeracityError
from veracity.service.fetch import url_problem

log = logging.getLogger(__name__)
bp = Blueprint("batches", __name__, url_prefix="/v1/batches")
RESULTS_PAGE_MAX = 500


def init_app(app: Flask) -> None:
    """Register the routes and the worker supervisor. Resuming jobs a stopped server left unfinished starts a
    process, so it is the server's start-up (``veracity serve``), not the factory's."""
    supervisor = WorkerSupervisor(app.config["VERACITY"])
    app.extensions["veracity_batches"] = supervisor
    app.register_blueprint(bp)


@bp.after_request
def _cors(response: Response) -> Response:
    return add_cors_headers(response, expose="Location, Link, X-Next-Cursor, X-Job-Status")


def _store() -> ResultsStore:
    # a request thread waits at most 2 s for another writer, then answers 503 with Retry-After (service/errors.py)
    return ResultsStore(current_app.config["VERACITY"].batch_db, busy_timeout_s=2.0)


def _bad(code: str, message: str) -> VeracityError:
    return VeracityError(code, message, 400)


def _sources(payload: dict[str, Any]) -> list[Source]:
    """Validate the body's urls / texts / documents into sources; every problem names the item."""
    settings = current_app.config["VERACITY"]
    items: list[dict[str, Any]] = []
    for name in ("urls", "texts", "documents"):
        value = payload.get(name)
        if value is None:
            continue
        if not isinstance(value, list):
            raise _bad("invalid_batch", f'"{name}" must be a list, e.g. {{"{name}": [...]}}.')
        if name == "urls":
            items += [{"url": u, "_where": f"urls[{i}]"} for i, u in enumerate(value)]
        elif name == "texts":
            items += [{"text": t, "_where": f"texts[{i}]"} for i, t in enumerate(value)]
        else:
            for i, d in enumerate(value):
                if not isinstance(d, dict):
                    raise _bad(
                        "invalid_batch", f'documents[{i}] must be an object with "url", or "text" and an optional "id".'
                    )
                items.append({**d, "_where": f"documents[{i}]"})
    if not items:
        raise _bad(
            "empty_batch",
            'Send a JSON object with "urls": ["https://..."], "texts": ["..."] or "documents": [{"url": ...} | {"id": ..., "text": ...}].',
        )
    if len(items) > settings.batch_max_documents:
        raise VeracityError(
            "batch_too_large",
            f"The batch has {len(items)} documents; the limit is {settings.batch_max_documents}. Split it into several batches.",
            413,
        )
    sources: list[Source] = []
    seen: set[str] = set()
    for item in items:
        where = item["_where"]
        doc_id = item.get("id")
        if doc_id is not None and not isinstance(doc_id, (str, int)):
            raise _bad("invalid_batch", f'{where}: "id" must be a string or a number.')
        if "url" in item and "text" not in item:
            url = item["url"]
            if not isinstance(url, str):
                raise _bad("invalid_url", f"{where} must be a string URL such as https://example.org/article.")
            problem = url_problem(url.strip(), settings.allow_private_urls)
            if problem:
                code = "blocked_url" if "VERACITY_ALLOW_PRIVATE_URLS" in problem else "invalid_url"
                raise _bad(code, f"{where}: {problem}.")
            source = Source(key=str(doc_id) if doc_id is not None else url.strip(), url=url.strip())
        elif isinstance(item.get("text"), str):
            if not item["text"].strip():
                raise _bad("empty_text", f"{where} is empty; send the text to check.")
            source = Source(key=str(doc_id) if doc_id is not None else text_key(item["text"]), text=item["text"])
        else:
            raise _bad("invalid_batch", f'{where} needs a string "url" or "text".')
        if source.key in seen:
            raise _bad("duplicate_document", f"{where} repeats the document {source.key!r}; send each URL or id once.")
        seen.add(source.key)
        sources.append(source)
    return sources


@bp.post("")
def create():
    if not current_app.config["VERACITY"].open_batches:  # each job makes the server fetch up to 1,000 URLs
        require_api_key("Submitting batch jobs", "VERACITY_API_KEYS (or VERACITY_OPEN_BATCHES=true)")
    if request.mimetype != "application/json":
        raise VeracityError(
            "unsupported_media_type", 'Send application/json, e.g. {"urls": ["https://example.org/a"]}.', 415
        )
    payload = read_json_body()
    if not isinstance(payload, dict):
        raise _bad("invalid_batch", 'Send a JSON object such as {"urls": ["https://example.org/a"]}.')
    check_all = payload.get("check_all", False)
    if not isinstance(check_all, bool):
        raise _bad("invalid_option", '"check_all" must be true or false.')
    sources = _sources(payload)
    job = secrets.token_hex(8)
    retention = current_app.config["VERACITY"].batch_retention_days
    max_active = current_app.config["VERACITY"].batch_max_active_jobs
    with _store() as store:
        if retention > 0:  # each new job clears the ones that ended long ago: the file does not grow forever
            purged = store.purge_finished(retention)
            if purged:
                log.info("deleted %d batch jobs that finished more than %g days ago", purged, retention)
        try:
            store.create_job(job, sources, {"check_all": check_all}, client=client_id(), max_active=max_active)
        except TooManyJobs as exc:
            raise VeracityError(
                "too_many_jobs",
                f"This client already has {exc.active} batch jobs queued or running (the limit is {max_active}); "
                "wait for one to finish (GET its status link), then submit again. The operator sets "
                "VERACITY_BATCH_MAX_ACTIVE_JOBS.",
                429,
                retry_after=30,
            ) from None
    current_app.extensions["veracity_batches"].ensure_running()
    body = {"ok": True, "id": job, "status": "queued", "documents": len(sources), **_links(job)}
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = body["links"]["status"]
    return response


def _links(job: str) -> dict[str, Any]:
    return {"links": {"status": url_for("batches.status", job=job), "results": url_for("batches.results", job=job)}}


def _job_or_404(store: ResultsStore, job: str) -> dict[str, Any]:
    row = store.job(job)
    if row is None or row["origin"] != "api":
        raise VeracityError(
            "batch_not_found", f"No batch job {job!r}; POST /v1/batches returns the id of a new job.", 404
        )
    return row


@bp.get("/<job>")
def status(job: str):
    with _store() as store:
        row = _job_or_404(store, job)
        progress = store.progress(job)
    done = sum(progress[s] for s in FINISHED)
    return jsonify(
        {
            "ok": True,
            "id": job,
            "status": row["status"],
            "error": row["error"],
            "created_at": row["created_at"],
            "started_at": row["started_at"],
            "finished_at": row["finished_at"],
            "progress": {
                "total": progress["total"],
                "done": done,
                "pending": progress["pending"],
                "fraction": round(done / progress["total"], 4) if progress["total"] else 1.0,
            },
            "documents": {s: progress[s] for s in FINISHED},
            "sentences": {k: progress[k] for k in ("sentences", "checkworthy", *VERDICT_COLUMNS)},
            **_links(job),
        }
    )


@bp.get("/<job>/results")
def results(job: str):
    """Finished documents as JSONL, in the order they finished; follow ``X-Next-Cursor`` for the next page."""
    try:
        cursor = int(request.args.get("cursor", "0"))
        limit = int(request.args.get("limit", "100"))
    except ValueError:
        raise _bad("invalid_cursor", "cursor and limit must be whole numbers, e.g. ?cursor=0&limit=100.") from None
    if not 0 <= cursor < 2**63 or not 1 <= limit <= RESULTS_PAGE_MAX:  # SQLite integers are 64-bit
        raise _bad("invalid_cursor", f"cursor must be 0 or more and limit between 1 and {RESULTS_PAGE_MAX}.")
    with _store() as store:
        row = _job_or_404(store, job)
        docs = store.documents(job, after_seq=cursor, limit=limit)
    lines = []
    for doc in docs:
        doc.pop("job", None)
        lines.append(json.dumps(doc, ensure_ascii=False))
    next_cursor = docs[-1].get("seq", cursor) if docs else cursor
    response = Response("".join(line + "\n" for line in lines), mimetype="application/x-ndjson")
    response.headers["X-Next-Cursor"] = str(next_cursor)
    more = len(docs) == limit or row["status"] in ("queued", "running")
    response.headers["X-Job-Status"] = row["status"]
    if more:
        response.headers["Link"] = (
            f'<{url_for("batches.results", job=job, cursor=next_cursor, limit=limit)}>; rel="next"'
        )
    return response
