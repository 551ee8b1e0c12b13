"""The OpenAPI 3.1 description of the HTTP API, served at ``/v1/openapi.json``.

The paths come from the running app's URL map, so a route cannot exist without appearing here; what each route
takes and returns is described once, in ``OPERATIONS`` below, keyed by the Flask endpoint. ``describe(app)``
raises when a route has no entry, and the tests validate real responses against the schemas, so the document and
the code cannot drift apart silently.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

import veracity
from veracity.corpus.schema import GRADES
from veracity.models.labels import STANCE_LABELS, VERDICT_LABELS
from veracity.service.verdict import REASON_CODES

_ERROR = {"$ref": "#/components/schemas/Error"}
_JSON = "application/json"


def _body(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"description": description or "OK", "content": {_JSON: {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _body(_ERROR, "error (see `error.code`)") for c in codes}


_NULLABLE_STR = {"type": ["string", "null"]}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["ok", "error"],
        "properties": {
            "ok": {"const": False},
            "error": {
                "type": "object",
                "required": ["code", "message", "status"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "status": {"type": "integer"},
                },
            },
        },
    },
    "StanceProbs": {
        "type": "object",
        "required": list(STANCE_LABELS),
        "properties": {k: {"type": "number", "minimum": 0, "maximum": 1} for k in STANCE_LABELS},
    },
    "Evidence": {
        "type": "object",
        "required": ["id", "grade", "study_type", "score", "stance"],
        "properties": {
            "id": {"type": "string"},
            "statement": {"type": "string"},
            "text": {"type": "string", "description": "the user's own text (POST /v1/verify)"},
            "source_title": {"type": "string"},
            "source_url": _NULLABLE_STR,
            "pmid": _NULLABLE_STR,
            "doi": _NULLABLE_STR,
            "publisher": {"type": "string"},
            "year": {"type": "integer"},
            "study_type": {"type": "string"},
            "grade": {"enum": list(GRADES)},
            "score": {"type": "number", "description": "cosine similarity of claim and evidence"},
            "relevance": {"type": "number", "description": "P(the item is about the claim)"},
            "stance": {"enum": [*STANCE_LABELS, None]},
            "stance_probs": {"$ref": "#/components/schemas/StanceProbs"},
        },
    },
    "Verdict": {
        "type": "object",
        "required": ["label", "confidence", "method", "reason", "reason_code", "driven_by", "evidence"],
        "properties": {
            "label": {"enum": list(VERDICT_LABELS)},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "method": {"type": "string"},
            "reason": {"type": "string"},
            "reason_code": {"enum": list(REASON_CODES)},
            "driven_by": _NULLABLE_STR,
            "evidence": {"type": "array", "items": {"$ref": "#/components/schemas/Evidence"}},
        },
    },
    "Sentence": {
        "type": "object",
        "required": ["index", "text", "start", "end", "kind", "checkworthy", "checkworthiness", "verdict"],
        "properties": {
            "index": {"type": "integer"},
            "text": {"type": "string"},
            "start": {
                "type": "integer",
                "description": "Offset of the sentence in the submitted text, in Unicode code points (Python "
                "string indices), not UTF-16 units: JavaScript clients convert past astral characters such as emoji.",
            },
            "end": {"type": "integer", "description": "End offset (exclusive), in code points like start."},
            "kind": {"type": "string"},
            "claim": {
                "type": ["string", "null"],
                "description": "What was checked when the sentence needed its context (a pronoun, a list lead-in); "
                "null when the sentence was checked as written.",
            },
            "checkworthy": {"type": "boolean", "description": "A verifiable factual assertion: it gets a verdict."},
            "checkworthiness": {"type": "number"},
            "priority": {
                "type": ["number", "null"],
                "description": "0-1, how much checking this claim matters (health advice, numbers, causal and "
                "safety claims score high); orders claims for the reader. Null when not checkworthy.",
            },
            "checkworthy_reason": {"type": "string"},
            "verdict": {"oneOf": [{"$ref": "#/components/schemas/Verdict"}, {"type": "null"}]},
        },
    },
    "Model": {"type": "object", "required": ["embedder", "verdict"], "additionalProperties": True},
    "Corpus": {
        "type": "object",
        "required": ["version", "items"],
        "properties": {
            "version": {"type": "string"},
            "items": {"type": "integer"},
            "topics": {
                "type": "array",
                "maxItems": 8,
                "description": "GET /v1/health only: the most common evidence `topic` values, most common first.",
                "items": {
                    "type": "object",
                    "required": ["topic", "items"],
                    "properties": {"topic": {"type": "string"}, "items": {"type": "integer"}},
                },
            },
        },
    },
    "CheckRequest": {
        "type": "object",
        "required": ["text"],
        "properties": {
            "text": {"type": "string", "minLength": 1},
            "check_all": {"type": "boolean"},
            "context": {
                "type": "string",
                "maxLength": 4000,
                "description": "Text just before `text` (a page title, the end of the previous part of a long "
                "page), read only to build claims in context; never checked, no offset points into it.",
            },
        },
    },
    "CheckResponse": {
        "type": "object",
        "required": ["ok", "sentences", "summary", "corpus", "model", "timings_ms"],
        "properties": {
            "ok": {"const": True},
            "sentences": {"type": "array", "items": {"$ref": "#/components/schemas/Sentence"}},
            "summary": {"type": "object", "additionalProperties": {"type": "integer"}},
            "corpus": {"$ref": "#/components/schemas/Corpus"},
            "model": {"$ref": "#/components/schemas/Model"},
            "timings_ms": {"type": "object", "additionalProperties": {"type": "number"}},
        },
    },
    "VerifyItem": {
        "type": "object",
        "required": ["claim", "evidence"],
        "properties": {
            "claim": {"type": "string", "minLength": 1, "maxLength": 5000},
            "evidence": {
                "oneOf": [
                    {"type": "string", "minLength": 1},
                    {"type": "array", "minItems": 1, "maxItems": 20, "items": {"type": "string", "minLength": 1}},
                ]
            },
        },
    },
    "VerifyResponse": {
        "type": "object",
        "required": ["ok", "results", "model"],
        "properties": {
            "ok": {"const": True},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["claim", "verdict"],
                    "properties": {"claim": {"type": "string"}, "verdict": {"$ref": "#/components/schemas/Verdict"}},
                },
            },
            "model": {"$ref": "#/components/schemas/Model"},
            "timings_ms": {"type": "object"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["ok", "status", "model", "corpus"],
        "properties": {
            "ok": {"const": True},
            "status": {"type": "string"},
            "model": {"$ref": "#/components/schemas/Model"},
            "corpus": {"$ref": "#/components/schemas/Corpus"},
            "models_loaded": {"type": "boolean"},
        },
    },
    "EvidenceItem": {
        "type": "object",
        "required": ["id", "statement", "grade", "study_type"],
        "additionalProperties": True,
    },
    "BatchRequest": {
        "type": "object",
        "properties": {
            "urls": {"type": "array", "items": {"type": "string"}},
            "documents": {"type": "array", "items": {"type": "object"}},
            "check_all": {"type": "boolean"},
        },
    },
    "BatchCreated": {
        "type": "object",
        "required": ["ok", "id", "status", "documents", "links"],
        "properties": {
            "ok": {"const": True},
            "id": {"type": "string"},
            "status": {"type": "string"},
            "documents": {"type": "integer"},
            "links": {"type": "object"},
        },
    },
    "BatchStatus": {
        "type": "object",
        "required": ["ok", "id", "status", "progress", "documents", "sentences", "links"],
        "additionalProperties": True,
    },
}

_JOB = [{"name": "job", "in": "path", "required": True, "schema": {"type": "string"}}]

# One entry per Flask endpoint: the single place where each route's contract is written down.
OPERATIONS: dict[str, dict[str, Any]] = {
    "v1.check": {
        "summary": "Check the claims in a text against the evidence corpus",
        "requestBody": {
            "required": True,
            "content": {
                _JSON: {"schema": {"$ref": "#/components/schemas/CheckRequest"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        "responses": {"200": _body({"$ref": "#/components/schemas/CheckResponse"}), **_errors(400, 413, 415)},
    },
    "v1.verify": {
        "summary": "Check a claim against evidence texts you bring",
        "requestBody": {
            "required": True,
            "content": {
                _JSON: {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/VerifyItem"},
                            {"type": "array", "maxItems": 50, "items": {"$ref": "#/components/schemas/VerifyItem"}},
                        ]
                    }
                }
            },
        },
        "responses": {"200": _body({"$ref": "#/components/schemas/VerifyResponse"}), **_errors(400, 413, 415)},
    },
    "v1.health": {
        "summary": "Models loaded, corpus version, size and main topics",
        "responses": {"200": _body({"$ref": "#/components/schemas/Health"})},
    },
    "v1.evidence_item": {
        "summary": "One evidence item",
        "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {
            "200": _body(
                {
                    "type": "object",
                    "required": ["ok", "evidence"],
                    "properties": {"ok": {"const": True}, "evidence": {"$ref": "#/components/schemas/EvidenceItem"}},
                }
            ),
            **_errors(404),
        },
    },
    "v1.evidence_search": {
        "summary": "Search the corpus with the retriever /v1/check uses",
        "parameters": [
            {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
        ],
        "responses": {
            "200": _body(
                {
                    "type": "object",
                    "required": ["ok", "query", "evidence"],
                    "properties": {
                        "ok": {"const": True},
                        "query": {"type": "string"},
                        "evidence": {"type": "array", "items": {"$ref": "#/components/schemas/Evidence"}},
                    },
                }
            ),
            **_errors(400),
        },
    },
    "v1.evidence_add": {
        "summary": "Add evidence items (one object or a list); needs an API key",
        "security": [{"apiKey": []}],
        "requestBody": {
            "required": True,
            "content": {
                _JSON: {"schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}}
            },
        },
        "responses": {
            "201": _body({"type": "object", "required": ["ok", "added", "ids"]}, "added"),
            **_errors(400, 401, 403, 409, 415),
        },
    },
    "v1.openapi": {
        "summary": "This document",
        "responses": {"200": _body({"type": "object", "required": ["openapi", "paths"]})},
    },
    "batches.create": {
        "summary": "Start a batch job over URLs or documents",
        "requestBody": {
            "required": True,
            "content": {_JSON: {"schema": {"$ref": "#/components/schemas/BatchRequest"}}},
        },
        "responses": {
            "202": _body({"$ref": "#/components/schemas/BatchCreated"}, "queued"),
            **_errors(400, 401, 403, 413, 415, 429),
        },
    },
    "batches.status": {
        "summary": "A batch job's status and progress",
        "parameters": _JOB,
        "responses": {"200": _body({"$ref": "#/components/schemas/BatchStatus"}), **_errors(404)},
    },
    "batches.results": {
        "summary": "Finished documents as JSON lines; follow X-Next-Cursor",
        "parameters": [
            *_JOB,
            {"name": "cursor", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        ],
        "responses": {
            "200": {"description": "one JSON object per line", "content": {"application/x-ndjson": {"schema": {}}}},
            **_errors(400, 404),
        },
    },
    "web.index": {
        "summary": "The web page",
        "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
    },
}

_SKIP_METHODS = {"HEAD", "OPTIONS"}


def describe(app: Flask) -> dict[str, Any]:
    """The OpenAPI document for ``app``'s routes; KeyError naming any route without an entry in OPERATIONS."""
    paths: dict[str, dict[str, Any]] = {}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("web.static"):
            continue
        operation = OPERATIONS.get(rule.endpoint)
        if operation is None:
            missing.append(f"{rule.rule} ({rule.endpoint})")
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - _SKIP_METHODS):
            paths.setdefault(path, {})[method.lower()] = {"operationId": rule.endpoint, **operation}
    if missing:
        raise KeyError(f"routes with no entry in veracity.service.openapi.OPERATIONS: {', '.join(missing)}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Veracity",
            "version": veracity.__version__,
            "description": "Claim fact-checking: sentences in, graded evidence and calibrated verdicts out. Every "
            "error has the shape of the Error schema and a message that says what to do. A busy server answers 503 and "
            "a client over the operator's rate limit 429, both with Retry-After.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
    }
