"""The web page at ``/``: paste text, press Check, see each sentence highlighted by verdict.

Plain HTML, CSS and JS from ``service/static/`` with no build step. The page calls ``POST /v1/check``
on its own origin. It has no inline script or style, so every response of this blueprint carries a
strict Content-Security-Policy: a script injected through the pasted text or a crafted evidence record
could not run even if the page's escaping had a bug.
"""

from __future__ import annotations

from flask import Blueprint, Response

bp = Blueprint("web", __name__, static_folder="static", static_url_path="/assets")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


@bp.get("/")
def index() -> Response:
    response = bp.send_static_file("index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
