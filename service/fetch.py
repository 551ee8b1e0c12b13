"""Fetch web pages politely and safely, and extract their main text.

The batch runner checks what people read, not navigation menus, so every page goes through the same
three steps: fetch (httpx, with timeouts, a redirect limit, a size cap, retries with backoff on transient
errors, a per-host concurrency limit and a pause between requests to one host), decode (charset from the
Content-Type header, then the page's ``<meta>``, then detection) and extract (trafilatura: title, date,
main text). Every failure becomes a :class:`Page` with a short ``error_code`` and a message that says what
to do, never an exception, so one bad URL cannot stop a batch of thousands.

SSRF guard: a URL submitted to the API could name ``http://169.254.169.254/`` or a host whose DNS points
at ``127.0.0.1``. The check therefore runs where the socket is opened: :class:`GuardedBackend` resolves
the host, refuses if any address is private, loopback, link-local (or otherwise not public), and then
connects to the vetted address itself, so a second DNS answer cannot swap in another. Redirects are
followed here, hop by hop, so every hop goes through the same check.
"""

from __future__ import annotations

import codecs
import hashlib
import ipaddress
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

log = logging.getLogger(__name__)

USER_AGENT = "Veracity/0.1 batch claim checker (python-httpx; fetches each page once, honours a per-host delay)"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
# WHATWG: these labels mean windows-1252 in HTML, whatever the page says.
CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_PRIVATE_HINT = "set VERACITY_ALLOW_PRIVATE_URLS=true (or --allow-private-urls) to fetch local addresses"


@dataclass(frozen=True)
class FetchConfig:
    """How to fetch: limits that keep one batch from hurting a site or the machine running it."""

    timeout_s: float = 15.0  # per network operation (connect, each read)
    total_timeout_s: float = 60.0  # whole download of one URL, so a page trickling bytes cannot hold a worker
    max_redirects: int = 5
    max_bytes: int = 5_000_000  # decoded body; also bounds gzip bombs
    retries: int = 2  # extra attempts after a transient error (timeout, connection reset, 429, 5xx)
    backoff_s: float = 1.0  # first pause before a retry; doubles each time
    max_backoff_s: float = 30.0
    concurrency: int = 8  # pages in flight at once
    per_host: int = 2  # of those, at most this many to one host
    delay_s: float = 1.0  # pause between two request starts to the same host
    user_agent: str = USER_AGENT
    allow_private: bool = False
    allowed_networks: tuple[str, ...] = ()  # exceptions to the guard, e.g. ("10.1.2.0/24",) for an intranet


@dataclass(frozen=True, slots=True)
class Page:
    """One input document after fetching and extraction: text to check, or why there is none."""

    url: str | None
    status: str  # "ok", "failed" or "skipped"
    text: str | None = None
    final_url: str | None = None
    title: str | None = None
    published: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    encoding: str | None = None
    error_code: str | None = None
    error: str | None = None
    attempts: int = 0
    redirects: int = 0
    fetched_at: str = field(default_factory=lambda: now_iso())

    @property
    def text_sha256(self) -> str | None:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest() if self.text is not None else None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class FetchError(Exception):
    """A failure that retrying will not fix; ``status`` is "failed" or "skipped"."""

    def __init__(self, code: str, message: str, status: str = "failed", http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.http_status = http_status


class TransientError(FetchError):
    """A failure worth retrying after a pause (``retry_after_s`` from the server when it said)."""

    def __init__(
        self, code: str, message: str, http_status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(code, message, "failed", http_status)
        self.retry_after_s = retry_after_s


class BlockedAddressError(Exception):
    """Raised inside the connection pool; not an httpcore error, so httpx passes it through unchanged."""


# --- the SSRF guard ---------------------------------------------------------------------------------


def address_problem(ip: str, allowed_networks: tuple[str, ...] = ()) -> str | None:
    """Why this address may not be fetched ("a loopback address", ...), or None when it is public."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address):
        # An IPv4 address carried inside IPv6 (mapped, 6to4 2002::/16, Teredo 2001::/32) is judged as that
        # address: [2002:7f00:1::] reaches 127.0.0.1 through a 6to4 relay.
        embedded = addr.ipv4_mapped or addr.sixtofour or (addr.teredo[1] if addr.teredo else None)
        if embedded is not None:
            problem = address_problem(str(embedded), allowed_networks)
            if problem:
                return problem
    if any(addr in ipaddress.ip_network(net, strict=False) for net in allowed_networks):
        return None
    if addr.is_loopback:
        return "a loopback address"
    if addr.is_link_local:
        return "a link-local address"
    if addr.is_unspecified:
        return "an unspecified address"
    if addr.is_multicast:
        return "a multicast address"
    if addr.is_private:
        return "a private address"
    if addr.is_reserved or not addr.is_global:
        return "a reserved address"
    return None


class GuardedBackend(httpcore.NetworkBackend):
    """Resolve, vet every address, then connect to a vetted address (no second lookup to rebind)."""

    def __init__(self, allow_private: bool, allowed_networks: tuple[str, ...] = ()) -> None:
        self.allow_private = allow_private
        self.allowed_networks = allowed_networks
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self.allow_private:
            for ip in addresses:
                problem = address_problem(ip, self.allowed_networks)
                if problem:
                    raise BlockedAddressError(f"{host} resolves to {ip}, {problem}")
        last: Exception | None = None
        for ip in addresses:
            try:
                return self._inner.connect_tcp(ip, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover
        raise BlockedAddressError("unix sockets are never fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport with its connection pool rebuilt on :class:`GuardedBackend`.

    httpx does not take a network backend directly, so we replace ``_pool`` (stable across httpx 0.2x);
    tests/test_fetch.py fails loudly if a future httpx stops honouring it.
    """

    def __init__(self, config: FetchConfig) -> None:
        limits = httpx.Limits(
            max_connections=max(config.concurrency, 1) * 2, max_keepalive_connections=config.concurrency
        )
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(config.allow_private, config.allowed_networks),
        )


def url_problem(url: str, allow_private: bool = False) -> str | None:
    """A cheap check before any network use: scheme, host, and literal addresses.

    Names (``localhost`` included) are not looked up here: DNS can change, so they are vetted after
    resolution, when connecting.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        return f"{url!r} is not a valid URL; give an absolute http:// or https:// URL"
    if parts.scheme not in ("http", "https"):
        return f"{url!r} is not an http:// or https:// URL; only web pages can be fetched"
    if not parts.hostname:
        return f"{url!r} has no host name; give an absolute URL such as https://example.org/article"
    if parts.username is not None or parts.password is not None:
        # stored with the job and returned with its results: a password must never get that far
        return "the URL carries a user name or password (user:password@host); remove them, only public pages can be fetched"
    try:  # a name the HTTP client cannot encode would fail later, as an internal error
        parts.hostname.encode("idna")
    except UnicodeError:
        return f"{url!r} has a host name that is not a valid internationalised domain name"
    if allow_private:
        return None
    try:
        problem = address_problem(parts.hostname)
    except ValueError:
        return None  # a name: checked after DNS resolution, when connecting
    return f"{url!r} points to {problem}; {_PRIVATE_HINT}" if problem else None


# --- politeness --------------------------------------------------------------------------------------


class HostLimiter:
    """At most ``per_host`` requests to one host at once, and request starts ``delay_s`` apart."""

    def __init__(self, per_host: int, delay_s: float) -> None:
        self.per_host = max(per_host, 1)
        self.delay_s = delay_s
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        with self._lock:
            semaphore = self._slots.setdefault(host, threading.Semaphore(self.per_host))
        with semaphore:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start.get(host, now))
                self._next_start[host] = start + self.delay_s
            if start > now:
                time.sleep(start - now)
            yield


# --- fetching ----------------------------------------------------------------------------------------


class Fetcher:
    """Thread-safe: one client and one limiter shared by every fetch thread of a batch."""

    def __init__(self, config: FetchConfig) -> None:
        self.config = config
        self.limiter = HostLimiter(config.per_host, config.delay_s)
        self.client = httpx.Client(
            transport=GuardedTransport(config),
            timeout=httpx.Timeout(config.timeout_s),
            headers={
                "User-Agent": config.user_agent,
                "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1",
            },
            follow_redirects=False,
            trust_env=False,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def fetch(self, url: str) -> Page:
        """Fetch and extract one URL; never raises for anything the page or network did."""
        problem = url_problem(url, allow_private=True)  # syntax only: addresses are vetted after DNS, on connect
        if problem:
            return Page(url, "failed", error_code="invalid_url", error=problem)
        attempt = 0
        while True:
            attempt += 1
            try:
                return replace(self._fetch_once(url), attempts=attempt)
            except TransientError as exc:
                if attempt > self.config.retries:
                    tries = f"after {attempt} attempts" if attempt > 1 else "on the only attempt"
                    return Page(
                        url,
                        "failed",
                        http_status=exc.http_status,
                        error_code=exc.code,
                        error=f"{exc.message} ({tries}); try again later",
                        attempts=attempt,
                    )
                pause = min(self.config.backoff_s * 2 ** (attempt - 1), self.config.max_backoff_s)
                if exc.retry_after_s is not None:
                    pause = min(max(pause, exc.retry_after_s), self.config.max_backoff_s)
                log.debug("retrying %s in %.2f s: %s", url, pause, exc.message)
                time.sleep(pause * (0.75 + random.random() / 2))
            except FetchError as exc:
                return Page(
                    url,
                    exc.status,
                    http_status=exc.http_status,
                    error_code=exc.code,
                    error=exc.message,
                    attempts=attempt,
                )

    def _fetch_once(self, url: str) -> Page:
        seen = {url}
        current = url
        redirects = 0
        deadline = time.monotonic() + self.config.total_timeout_s
        while True:
            problem = url_problem(current, allow_private=True)  # scheme and host; addresses are vetted on connect
            if problem:
                raise FetchError(
                    "invalid_redirect" if redirects else "invalid_url",
                    f"redirect to {problem}" if redirects else problem,
                )
            host = urlsplit(current).hostname or ""
            with self.limiter.slot(host):
                try:
                    with self.client.stream("GET", current) as response:
                        if response.status_code in REDIRECT_STATUS and "location" in response.headers:
                            target = urljoin(current, response.headers["location"].strip())
                            target = target.split("#", 1)[0]
                            redirects += 1
                            if target in seen:
                                raise FetchError(
                                    "redirect_loop",
                                    f"{url} redirects in a loop ({current} → {target}); open it in a browser to see where it should go",
                                )
                            if redirects > self.config.max_redirects:
                                raise FetchError(
                                    "too_many_redirects",
                                    f"{url} redirected more than {self.config.max_redirects} times; give the final URL instead",
                                )
                            seen.add(target)
                            current = target
                            continue
                        return self._read(url, current, response, redirects, deadline)
                except BlockedAddressError as exc:
                    where = f" (redirected from {url})" if redirects else ""
                    raise FetchError(
                        "blocked_address", f"refused to fetch {current}{where}: {exc}; {_PRIVATE_HINT}"
                    ) from None
                except httpx.TimeoutException:
                    raise TransientError(
                        "timeout", f"{current} did not answer within {self.config.timeout_s:g} s"
                    ) from None
                except httpx.ConnectError as exc:
                    message = str(exc)
                    if message.startswith("cannot resolve"):
                        raise FetchError("dns_error", f"{message}; check the host name") from None
                    raise TransientError("connect_error", f"could not connect to {host}: {message}") from None
                except httpx.HTTPError as exc:  # connection reset, protocol errors
                    raise TransientError(
                        "network_error", f"{type(exc).__name__} while reading {current}: {exc}"
                    ) from None

    def _read(self, url: str, final_url: str, response: httpx.Response, redirects: int, deadline: float) -> Page:
        status = response.status_code
        if status in TRANSIENT_STATUS:
            raise TransientError(
                "http_error", f"HTTP {status} {response.reason_phrase} from {final_url}", status, _retry_after(response)
            )
        if status >= 400 or status < 200 or status in (204, 205):
            hint = (
                "the page does not exist; check the URL" if status in (404, 410) else "the server refused the request"
            )
            raise FetchError(
                "http_error", f"HTTP {status} {response.reason_phrase} from {final_url}: {hint}", http_status=status
            )
        content_type = response.headers.get("content-type")
        mime = _mime(content_type)
        if mime == "application/pdf" or final_url.lower().endswith(".pdf") and mime in ("", "application/octet-stream"):
            raise FetchError(
                "pdf",
                f"{final_url} is a PDF; PDFs are not checked yet, give the HTML version of the page",
                "skipped",
                status,
            )
        if mime and mime not in HTML_TYPES | TEXT_TYPES:
            raise FetchError(
                "unsupported_content_type",
                f"{final_url} is {mime}, not HTML or plain text; only web pages and text are checked",
                "skipped",
                status,
            )
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.config.max_bytes:
            raise FetchError("too_large", _too_large(final_url, self.config.max_bytes), "skipped", status)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.config.max_bytes:
                raise FetchError("too_large", _too_large(final_url, self.config.max_bytes), "skipped", status)
            if time.monotonic() > deadline:
                raise TransientError(
                    "timeout", f"{final_url} took longer than {self.config.total_timeout_s:g} s to download"
                )
            chunks.append(chunk)
        body = b"".join(chunks)
        page = page_from_bytes(body, content_type, url=url, final_url=final_url)
        return replace(page, http_status=status, redirects=redirects)


def _too_large(url: str, limit: int) -> str:
    return f"{url} is larger than the {limit:,}-byte cap; raise --max-bytes to check it"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _header_charset(content_type: str | None) -> str | None:
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


# --- decoding and extraction ---------------------------------------------------------------------------


def decode(body: bytes, content_type: str | None, html: bool) -> tuple[str, str]:
    """Bytes to text: BOM, then the header's charset, then ``<meta charset>``, then UTF-8, then detection."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return body.decode(name, errors="replace"), name
    candidates = [_header_charset(content_type)]
    if html:
        match = _META_CHARSET.search(body[:4096])
        candidates.append(match.group(1).decode("ascii", "replace") if match else None)
    for label in candidates:
        if not label:
            continue
        name = CHARSET_ALIASES.get(label.lower(), label)
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            continue  # an unknown label: fall through to detection
        return body.decode(codec, errors="replace"), codec
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is not None and best.encoding:
        return str(best), best.encoding
    return body.decode("cp1252", errors="replace"), "cp1252"


def _looks_like_html(body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body", b"<meta", b"<title"))


def page_from_bytes(body: bytes, content_type: str | None, url: str | None, final_url: str | None = None) -> Page:
    """Decode and extract a downloaded page or a local file; the one path both take."""
    mime = _mime(content_type)
    html = mime in HTML_TYPES or (not mime and _looks_like_html(body))
    text, encoding = decode(body, content_type, html)
    if html:
        title, published, main = extract_html(text, final_url or url)
    else:
        title, published, main = None, None, text.replace("\r\n", "\n").strip()
    if not main or not main.strip():
        what = "no main text could be extracted" if html else "the text is empty"
        where = f" from {final_url or url}" if final_url or url else ""
        return Page(
            url,
            "failed",
            final_url=final_url,
            content_type=content_type,
            encoding=encoding,
            title=title,
            error_code="no_text",
            error=f"{what}{where}; the page may be built by JavaScript or hold only navigation",
        )
    return Page(
        url,
        "ok",
        text=main,
        final_url=final_url,
        title=title,
        published=published,
        content_type=content_type,
        encoding=encoding,
    )


def extract_html(html: str, url: str | None) -> tuple[str | None, str | None, str | None]:
    """(title, date, main text) with trafilatura; boilerplate such as menus and footers is dropped."""
    import trafilatura
    from trafilatura.settings import Document

    document = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_images=False, favor_recall=True
    )
    if document is None:
        return _title_only(html), None, None
    assert isinstance(document, Document)  # as_dict=False: never the dict form
    return document.title or _title_only(html), document.date, document.text


def _title_only(html: str) -> str | None:
    match = re.search(r"<title[^>]*>(.*?)</title>", html, re.I | re.S)
    return re.sub(r"\s+", " ", match.group(1)).strip() or None if match else None


FILE_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".txt": "text/plain",
    ".md": "text/plain",
    ".text": "text/plain",
}


def page_from_file(path: Path, key: str, body: bytes | None = None) -> Page:
    """A local HTML or text file, extracted exactly as a fetched page of that type would be.

    ``body`` lets a driver read the file and ship its bytes to a worker on another machine.
    """
    suffix = path.suffix.lower()
    content_type = FILE_TYPES.get(suffix)
    if content_type is None:
        if suffix == ".pdf":
            return Page(None, "skipped", error_code="pdf", error=f"{path} is a PDF; PDFs are not checked yet")
        return Page(
            None,
            "skipped",
            error_code="unsupported_content_type",
            error=f"{path} is not .html, .htm or .txt ({suffix or 'no suffix'}); only web pages and text are checked",
        )
    if body is None:
        try:
            body = path.read_bytes()
        except OSError as exc:
            return Page(None, "failed", error_code="read_error", error=f"cannot read {path}: {exc.strerror}")
    return replace(page_from_bytes(body, content_type, url=None, final_url=None), attempts=1)
