"""Who may make the server work: the Host allow-list, CORS per kind of route, API keys, and the access log.

Why one module: these four decide together whether a web page the operator happens to visit can drive a local
Veracity (DNS rebinding through ``Host``, cross-origin writes through CORS, open batch jobs), and a reviewer
should be able to read the whole policy in one place.

* ``Host``: only names in ``VERACITY_ALLOWED_HOSTS`` (loopback by default) are served; a rebinding page reaches
  the server under its own name and is refused with 400 before any work.
* CORS: read-only routes (``GET``, ``POST /v1/check`` and ``/v1/verify``, which change nothing) answer any origin
  with ``VERACITY_CORS_ORIGINS`` (``*`` by default); routes that write or make the server fetch (``POST
  /v1/evidence``, ``/v1/batches``) allow only ``VERACITY_CORS_WRITE_ORIGINS``, whose default is the browser
  extensions' own origins.
* API keys: compared as bytes in constant time; the log names a key by a short hash, never the key.
* Rate limits (``VERACITY_RATE_LIMIT_PER_MINUTE``, off by default): per client, 429 with Retry-After beyond it.
  A client is an accepted API key, else the address the request came from (``client_id``); the same identity
  bounds the batch jobs a client may have queued (``VERACITY_BATCH_MAX_ACTIVE_JOBS``).
* One access line per request (method, path, status, duration, key id) on the ``veracity.access`` logger; the
  text checked never appears in it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from fnmatch import fnmatchcase

from flask import Flask, Response, current_app, g, request

from veracity.service.errors import VeracityError

access_log = logging.getLogger("veracity.access")

# Routes that change nothing on the server: any page may call them (the web page and the extension do).
READ_ONLY_POSTS = frozenset({"/v1/check", "/v1/verify"})


def init_app(app: Flask) -> None:
    app.before_request(_start_clock)
    app.before_request(_check_host)
    app.before_request(_check_rate)
    app.after_request(_log_request)


def _start_clock() -> None:
    g.veracity_started = time.perf_counter()


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """``host`` as the client sent it (maybe with a port, maybe a bracketed IPv6); ``*`` patterns allowed."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name[1:]
    elif name.count(":") == 1:
        name = name.rsplit(":", 1)[0]
    return any(fnmatchcase(name, pattern.lower()) for pattern in allowed)


def _check_host() -> None:
    allowed = current_app.config["VERACITY"].allowed_hosts
    host = request.headers.get("Host", "")
    if not host_allowed(host, allowed):
        raise VeracityError(
            "host_not_allowed",
            f"This server does not answer for the host {host[:100]!r}; the operator can add it to "
            "VERACITY_ALLOWED_HOSTS (comma-separated, * for any).",
            400,
        )


def client_id() -> str:
    """Whom a limit counts against: ``key:<hash>`` for an accepted API key, else ``addr:<remote address>``."""
    given = given_key()
    if given and key_accepted(given, current_app.config["VERACITY"].api_keys):
        return "key:" + key_id(given)
    return "addr:" + (request.remote_addr or "-")


def _check_rate() -> None:
    """Every /v1 request but preflights and the health probe counts; the web page and static files do not."""
    if not request.path.startswith("/v1/") or request.method == "OPTIONS" or request.path == "/v1/health":
        return
    limiter = current_app.extensions["veracity.rate_limiter"]
    wait = limiter.acquire(client_id())
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise VeracityError(
            "rate_limited",
            f"Too many requests from this client (the limit is {limiter.per_minute} a minute); retry after "
            f"{seconds} s. The operator sets VERACITY_RATE_LIMIT_PER_MINUTE.",
            429,
            retry_after=seconds,
        )


def is_write(method: str, path: str) -> bool:
    """True for requests that store something or make the server fetch: their CORS is narrower."""
    if method in ("GET", "HEAD"):
        return False
    if method == "OPTIONS":  # a preflight is judged by the method it asks for
        asked = request.headers.get("Access-Control-Request-Method", "").upper()
        return bool(asked) and is_write(asked, path)
    return path not in READ_ONLY_POSTS


def add_cors_headers(response: Response, expose: str | None = None) -> Response:
    """The CORS policy for every /v1 blueprint (see the module docstring)."""
    settings = current_app.config["VERACITY"]
    if is_write(request.method, request.path):
        origin = request.headers.get("Origin", "")
        if not origin or not any(fnmatchcase(origin, p) for p in settings.cors_write_origins):
            return response  # no Access-Control-* header: the browser keeps the response from the page
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    else:
        response.headers["Access-Control-Allow-Origin"] = settings.cors_origins
    response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization, X-API-Key"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Max-Age"] = "600"
    if expose:
        response.headers["Access-Control-Expose-Headers"] = expose
    return response


def given_key() -> str:
    auth = request.headers.get("Authorization", "")
    return request.headers.get("X-API-Key") or (auth[7:].strip() if auth.lower().startswith("bearer ") else "")


def key_id(key: str) -> str:
    """What the log says instead of the key: enough to tell keys apart, useless to an attacker."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8] if key else "-"


def key_accepted(given: str, keys: tuple[str, ...]) -> bool:
    # compared as bytes: compare_digest refuses non-ASCII str, which answered 500 for a key like "clé"
    given_bytes = given.encode("utf-8", "surrogatepass")
    return any(hmac.compare_digest(given_bytes, key.encode()) for key in keys)


def require_api_key(action: str, setting_hint: str = "VERACITY_API_KEYS") -> None:
    """401/403 unless the request carries one of the operator's keys; ``action`` names what is refused."""
    keys = current_app.config["VERACITY"].api_keys
    given = given_key()
    if not keys:
        raise VeracityError("writes_disabled", f"{action} is disabled; the operator must set {setting_hint}.", 403)
    if not given:
        raise VeracityError(
            "missing_api_key", "Send an API key in the X-API-Key header (or Authorization: Bearer KEY).", 401
        )
    if not key_accepted(given, keys):
        raise VeracityError(
            "invalid_api_key", "That API key is not accepted; check VERACITY_API_KEYS on the server.", 403
        )


def _log_request(response: Response) -> Response:
    started = g.get("veracity_started")
    ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    access_log.info(
        "%s %s %d %.0fms key=%s",
        request.method,
        request.path[:200],
        response.status_code,
        ms,
        key_id(given_key()),
    )
    return response
