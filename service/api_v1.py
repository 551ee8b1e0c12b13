"""The /v1 HTTP API: the only place where pipeline results become JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, current_app, jsonify, request

from veracity.corpus.schema import normalise, validate_item
from veracity.corpus.store import DuplicateIdError
from veracity.models.labels import STANCE_LABELS
from veracity.service.access import add_cors_headers, require_api_key
from veracity.service.errors import VeracityError
from veracity.service.pipeline import Abandoned, CheckResult, DeadlineExceeded, Pipeline, TooManySentences
from veracity.service.verdict import ScoredEvidence, Verdict

bp = Blueprint("v1", __name__, url_prefix="/v1")
T = TypeVar("T")


def _pipeline() -> Pipeline:
    return current_app.extensions["veracity"]


def _admitted(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Model work, run in a slot (service/admission.py): 503 with Retry-After when the server is saturated."""
    return current_app.extensions["veracity.admission"].run(fn, *args, **kwargs)


bp.after_request(add_cors_headers)


def _body_text() -> str:
    try:
        return request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VeracityError(
            "invalid_encoding",
            f"The body is not valid UTF-8 (bad byte at position {exc.start}); re-encode it as UTF-8.",
            400,
        ) from None


def _parse_json(body: str) -> Any:
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        raise VeracityError(
            "invalid_json", f"The body is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).", 400
        ) from None
    except RecursionError:
        raise VeracityError("invalid_json", "The JSON is nested too deeply; send a flat object.", 400) from None
    try:  # "\ud800" is valid JSON but no text: it failed later in the tokenizer or SQLite
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise VeracityError(
            "invalid_text", "The JSON holds an unpaired surrogate escape (such as \\ud800), which is not text.", 400
        ) from None
    return payload


def read_json_body() -> Any:
    """The request body as JSON: UTF-8, parseable, not absurdly nested, no lone surrogates; else a 400."""
    return _parse_json(_body_text())


# Enough for a page title and the last paragraph of the previous part; more would only cost segmenting time.
MAX_CONTEXT_CHARS = 4000


def _request_text() -> tuple[str, dict[str, Any]]:
    """The submitted text and options, from a JSON or a text/plain body."""
    mimetype = request.mimetype
    if mimetype not in ("application/json", "text/plain"):
        raise VeracityError(
            "unsupported_media_type",
            f"Content-Type {mimetype or '(none)'} is not accepted; send application/json "
            '{"text": "..."} or a text/plain body.',
            415,
        )
    body = _body_text()
    options: dict[str, Any] = {}
    if mimetype == "application/json":
        payload = _parse_json(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
            raise VeracityError(
                "missing_text", 'Send a JSON object with a string field "text", e.g. {"text": "..."}.', 400
            )
        check_all = payload.get("check_all", False)
        if not isinstance(check_all, bool):
            raise VeracityError("invalid_option", '"check_all" must be true or false.', 400)
        options["check_all"] = check_all
        context = payload.get("context", "")
        if not isinstance(context, str) or len(context) > MAX_CONTEXT_CHARS:
            raise VeracityError(
                "invalid_option",
                f'"context" must be a string of at most {MAX_CONTEXT_CHARS:,} characters: the text just before '
                '"text" (a page title and the end of the previous part), read only to build claims in context.',
                400,
            )
        options["context"] = context
        body = payload["text"]
    else:
        options["check_all"] = request.args.get("check_all", "false").lower() in ("1", "true", "yes")
    if not body.strip():
        raise VeracityError("empty_text", "The text is empty; send the article or sentences to check.", 400)
    return body, options


@bp.post("/check")
def check():
    text, options = _request_text()
    settings = current_app.config["VERACITY"]
    started = time.perf_counter()
    deadline = time.monotonic() + settings.request_deadline_s if settings.request_deadline_s else None
    try:
        result = _admitted(
            _pipeline().check,
            text,
            check_all=options["check_all"],
            max_sentences=settings.max_sentences,
            deadline=deadline,
            # waitress (``veracity serve``) reports a client that hung up; other servers do not, and run to the end
            cancelled=request.environ.get("waitress.client_disconnected"),
            context=options.get("context", ""),
        )
    except Abandoned:
        # nobody reads this answer; the status is for the access log (499, as nginx logs a closed request)
        raise VeracityError(
            "client_closed_request", "The client closed the connection; the check was stopped.", 499
        ) from None
    except TooManySentences as exc:
        raise VeracityError("too_many_sentences", str(exc), 413) from None
    except DeadlineExceeded:
        raise VeracityError(
            "deadline_exceeded",
            f"The check took longer than {settings.request_deadline_s:g} s and was stopped; "
            "send less text per request, or try again when the server is less busy.",
            503,
            retry_after=10,
        ) from None
    return jsonify(
        {
            "ok": True,
            **check_result_json(result),
            "corpus": _corpus_json(),
            "model": _model_json(),
            "timings_ms": {**result.timings_ms, "total": round((time.perf_counter() - started) * 1000, 2)},
        }
    )


MAX_VERIFY_ITEMS, MAX_VERIFY_EVIDENCE, MAX_VERIFY_CHARS = 50, 20, 5000


def _verify_items(payload: Any) -> list[tuple[str, list[str]]]:
    """The (claim, evidence texts) items of a /v1/verify body, or a VeracityError that says what to fix."""
    example = '{"claim": "...", "evidence": ["...", "..."]}'
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise VeracityError("missing_claim", f"The list is empty; send {example} or a list of such objects.", 400)
    if len(items) > MAX_VERIFY_ITEMS:
        raise VeracityError(
            "too_many_items", f"{len(items)} claims in one request; the limit is {MAX_VERIFY_ITEMS}.", 413
        )
    out = []
    for n, item in enumerate(items):
        where = f"item {n}: " if isinstance(payload, list) else ""
        if not isinstance(item, dict) or not isinstance(item.get("claim"), str) or not item["claim"].strip():
            raise VeracityError(
                "missing_claim", f'{where}send an object with a non-empty string "claim", e.g. {example}.', 400
            )
        evidence = item.get("evidence")
        if isinstance(evidence, str):
            evidence = [evidence]
        if (
            not isinstance(evidence, list)
            or not evidence
            or not all(isinstance(e, str) and e.strip() for e in evidence)
        ):
            raise VeracityError(
                "invalid_evidence",
                f'{where}"evidence" must be a non-empty list of non-empty strings, e.g. {example}.',
                400,
            )
        if len(evidence) > MAX_VERIFY_EVIDENCE:
            raise VeracityError(
                "too_many_evidence",
                f"{where}{len(evidence)} evidence texts; the limit is {MAX_VERIFY_EVIDENCE} per claim.",
                413,
            )
        too_long = [len(t) for t in [item["claim"], *evidence] if len(t) > MAX_VERIFY_CHARS]
        if too_long:
            raise VeracityError(
                "text_too_long",
                f"{where}a text of {too_long[0]} characters; the limit is {MAX_VERIFY_CHARS} (the model reads about 100 words of each).",
                413,
            )
        out.append((item["claim"].strip(), [e.strip() for e in evidence]))
    return out


@bp.post("/verify")
def verify():
    """Bring your own evidence: the stance of each text toward the claim, and a verdict, with the service's rules."""
    if request.mimetype != "application/json":
        raise VeracityError(
            "unsupported_media_type", 'Send application/json: {"claim": "...", "evidence": ["..."]}.', 415
        )
    payload = read_json_body()
    items = _verify_items(payload)
    started = time.perf_counter()
    verdicts = _admitted(_pipeline().verify, items)
    results = []
    for (claim, _), verdict in zip(items, verdicts):
        data = verdict_json(verdict)
        for e in data["evidence"]:  # the user's own texts: no source fields to echo
            for key in ("source_title", "source_url", "pmid", "doi", "publisher", "year"):
                e.pop(key)
            e["text"] = e.pop("statement")
        results.append({"claim": claim, "verdict": data})
    return jsonify(
        {
            "ok": True,
            "results": results,
            "model": _model_json(),
            "timings_ms": {"total": round((time.perf_counter() - started) * 1000, 2)},
        }
    )


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI document, built from this app's routes (``service/openapi.py``)."""
    from veracity.service.openapi import describe

    return jsonify(describe(current_app))


@bp.get("/health")
def health():
    corpus = {**_corpus_json(), "topics": _corpus_topics()}
    return jsonify({"ok": True, "status": "ok", "model": _model_json(), "corpus": corpus, "models_loaded": True})


TOPICS_SHOWN = 8


def _corpus_topics() -> list[dict[str, Any]]:
    """What the corpus covers, for the web page and the extension to say: its most common topics.

    One GROUP BY over the evidence table, kept until the corpus version changes (adding evidence changes it),
    so health checks, which the extension's popup makes each time it opens, stay a meta lookup.
    """
    store = _pipeline().retriever.store
    version = store.version
    cached = current_app.extensions.get("veracity.topics")
    if cached is None or cached[0] != version:
        cached = (version, store.topics(TOPICS_SHOWN))
        current_app.extensions["veracity.topics"] = cached
    return cached[1]


@bp.get("/evidence/<item_id>")
def evidence_item(item_id: str):
    item = _pipeline().retriever.store.get(item_id)
    if item is None:
        raise VeracityError(
            "evidence_not_found", f"No evidence item with id {item_id!r}; search with GET /v1/evidence?q=...", 404
        )
    item.pop("embedding_model", None)
    return jsonify({"ok": True, "evidence": item})


def check_result_json(result: CheckResult) -> dict[str, Any]:
    return {
        "sentences": [
            {
                "index": s.segment.index,
                "text": s.segment.text,
                "start": s.segment.start,
                "end": s.segment.end,
                "kind": s.segment.kind,
                "claim": s.claim,
                "checkworthy": s.checkworthiness.checkworthy,
                "checkworthiness": round(s.checkworthiness.score, 4),
                "checkworthy_reason": s.checkworthiness.reason,
                "priority": None if s.checkworthiness.priority is None else round(s.checkworthiness.priority, 4),
                "verdict": verdict_json(s.verdict) if s.verdict else None,
            }
            for s in result.sentences
        ],
        "summary": result.summary,
    }


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "label": verdict.label,
        "confidence": round(verdict.confidence, 4),
        "method": verdict.method,
        "reason": verdict.reason,
        "reason_code": verdict.reason_code,
        "driven_by": verdict.driver,
        "evidence": [evidence_json(e) for e in verdict.evidence],
    }


def evidence_json(scored: ScoredEvidence) -> dict[str, Any]:
    e = scored.evidence
    data: dict[str, Any] = {
        "id": e.id,
        "statement": e.statement,
        "source_title": e.source_title,
        "source_url": e.source_url,
        "pmid": e.pmid,
        "doi": e.doi,
        "publisher": e.publisher,
        "year": e.year,
        "study_type": e.study_type,
        "grade": e.grade,
        "score": e.similarity,
        "stance": scored.stance,
    }
    if scored.relevance is not None:
        data["relevance"] = scored.relevance
    if scored.stance_probs is not None:
        data["stance_probs"] = dict(zip(STANCE_LABELS, (round(p, 4) for p in scored.stance_probs)))
    return data


def _corpus_json() -> dict[str, Any]:
    store = _pipeline().retriever.store
    return {"version": store.version, "items": _pipeline().retriever.size}


def _model_json() -> dict[str, Any]:
    return _pipeline().describe()


@bp.get("/evidence")
def evidence_search():
    query = request.args.get("q", "").strip()
    if not query:
        raise VeracityError("missing_query", "Add a search query, e.g. GET /v1/evidence?q=kratom+withdrawal", 400)
    try:
        limit = int(request.args.get("limit", 10))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:  # said, not silently clamped: limit=0 used to return 1 item
        raise VeracityError("invalid_limit", "limit must be a whole number between 1 and 100.", 400)
    pipeline = _pipeline()
    vectors = pipeline.embedder.encode([query])
    hits = pipeline.retriever.retrieve([query], vectors, top_k=limit)[0]
    return jsonify({"ok": True, "query": query, "evidence": [evidence_json(ScoredEvidence(e, None)) for e in hits]})


@bp.post("/evidence")
def evidence_add():
    require_api_key("Adding evidence")
    if request.mimetype != "application/json":
        raise VeracityError(
            "unsupported_media_type", "Send evidence items as application/json (one object or a list).", 415
        )
    payload = read_json_body()
    items = payload if isinstance(payload, list) else [payload]
    problems = [f"item {n}: {p}" for n, item in enumerate(items) for p in validate_item(item)]
    if problems:
        raise VeracityError("invalid_evidence", "Nothing was added. " + "; ".join(problems[:20]), 400)
    rows = [normalise(item) for item in items]
    pipeline = _pipeline()
    store = pipeline.retriever.store
    try:
        added = store.add(rows, pipeline.embedder.encode, pipeline.embedder.name)
    except DuplicateIdError as exc:
        raise VeracityError(
            "duplicate_id", f"Nothing was added: {exc.args[0].split(';')[0]}; choose new ids.", 409
        ) from None
    pipeline.retriever.reload()
    return jsonify({"ok": True, "added": added, "ids": [r["id"] for r in rows], "corpus": _corpus_json()}), 201
