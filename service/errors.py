"""One JSON error shape for every non-2xx response under /v1.

``{"ok": false, "error": {"code", "message", "status"}}``: clients parse one shape, and every message
says what went wrong and what to do about it. A 500 never carries a traceback to the client.
"""

from __future__ import annotations

import logging

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


HTTP_MESSAGES = {
    404: ("not_found", "No such endpoint. See the README for the API: POST /v1/check, GET /v1/health."),
    405: ("method_not_allowed", "This endpoint does not accept that method; see the README for the API."),
    413: ("body_too_large", "The request body is too large; send less text or split it into several requests."),
}


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

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response("internal_error", "Veracity failed on this request; the server log has details.", 500)
