"""One JSON error shape for every non-2xx response under /v1.

``{"ok": false, "error": {"code", "message", "status"}}``: clients parse one shape, and every message
says what went wrong and what to do about it. A 500 never carries a traceback to the client.
"""

from __future__ import annotations

import logging
import sqlite3

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class VeracityError(Exception):
    def __init__(self, code: str, message: str, status: int = 400, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after  # seconds, sent as Retry-After (503 when busy)


class ModelFileError(Exception):
    """A model folder that is there but cannot be loaded (truncated, edited, the wrong folder): start-up stops
    with the folder's name and what to do, not with a stack trace from deep inside a loader."""


HTTP_MESSAGES = {
    404: ("not_found", "No such endpoint. See the README for the API: POST /v1/check, GET /v1/health."),
    405: ("method_not_allowed", "This endpoint does not accept that method; see the README for the API."),
    413: ("body_too_large", "The request body is too large; send less text or split it into several requests."),
}


def database_problem(exc: sqlite3.OperationalError) -> tuple[str, str] | None:
    """(code, message) for the database faults an operator can fix, or None for a real bug.

    A results or corpus file locked by another process (a running ``veracity batch run``, a backup) or made
    read-only used to end as a 30-second wait and a 500, or a raw traceback in the CLI."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return "database_busy", "The database is busy (locked by another process); try again in a few seconds."
    if "readonly" in text or "read-only" in text:
        return "database_read_only", "The database file is read-only; the operator must make it writable."
    return None


def error_response(code: str, message: str, status: int):
    response = jsonify({"ok": False, "error": {"code": code, "message": message, "status": status}})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(VeracityError)
    def _veracity(exc: VeracityError):
        response = error_response(exc.code, exc.message, exc.status)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        code, message = HTTP_MESSAGES.get(status, (exc.name.lower().replace(" ", "_"), exc.description or exc.name))
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"The request body is larger than the {limit:,}-byte limit; split the text into several requests."
        response = error_response(code, message, status)
        if status == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(sqlite3.OperationalError)
    def _database(exc: sqlite3.OperationalError):
        problem = database_problem(exc)
        if problem is None:
            log.exception("database error")
            return error_response("internal_error", "Veracity failed on this request; the server log has details.", 500)
        log.warning("%s: %s", problem[0], exc)
        response = error_response(problem[0], problem[1], 503)
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response("internal_error", "Veracity failed on this request; the server log has details.", 500)
