"""A local web server for the batch tests: fixture pages plus the ways real sites misbehave.

Routes (besides the files in this folder, served with the Content-Type a real server would send):

    /redirect/N           N hops, then /methadone.html          /loop/a, /loop/b   redirect to each other
    /missing              404                                   /flaky/<token>     500 once, then 200
    /slow                 answers after SLOW_S seconds          /huge              streams 3 MB, no length
    /declared-huge        says Content-Length: 50 MB            /image.png         image/png
    /to?url=U             302 to U (any URL, to test the guard) /page/<n>          a small numbered article

It listens on 127.0.0.1 by default (``host`` picks another loopback address) and records every request
path, so tests can see what was fetched and when.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).parent
SLOW_S = 3.0
HEADERS = {
    "latin1.html": "text/html; charset=iso-8859-1",
    "cp1252_meta.html": "text/html",
    "shift_jis.html": "text/html",
    "plain.txt": "text/plain; charset=utf-8",
    "report.pdf": "application/pdf",
}

PAGE_TEMPLATE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Health note {n}</title></head>
<body><nav><a href="/">Home</a> <a href="/about">About</a></nav><article><h1>Health note {n}</h1>
<p>{a}</p><p>{b}</p><p>This is note number {n} in a series that readers send us every week.</p></article>
<footer>Copyright Health Notes</footer></body></html>"""
FACTS = [
    "Methadone maintenance reduced heroin use compared with treatments that did not involve opioid replacement.",
    "Regular vitamin C supplementation did not meaningfully reduce the risk of catching a cold in community trials.",
    "Short-term melatonin use appears not to be effective for most primary sleep disorders.",
    "Dietary supplements are regulated in the US as a category of foods rather than as drugs.",
    "Kratom has effects similar to opioid narcotics and carries similar risks of abuse and addiction.",
]


def numbered_page(n: int) -> str:
    return PAGE_TEMPLATE.format(n=n, a=FACTS[n % len(FACTS)], b=FACTS[(n + 2) % len(FACTS)])


class FixtureServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), Handler)
        self.hits: list[tuple[float, str]] = []
        self.flaky_seen: set[str] = set()
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def handle_error(self, request, client_address) -> None:  # a client that gave up (timeouts, size caps)
        pass

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for _, p in self.hits if p == path)


class Handler(BaseHTTPRequestHandler):
    server: FixtureServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: C901  (a routing table)
        parts = urlsplit(self.path)
        path = parts.path
        with self.server.lock:
            self.server.hits.append((time.monotonic(), path))
        if path.startswith("/redirect/"):
            left = int(path.rsplit("/", 1)[1])
            return self._redirect("/methadone.html" if left <= 1 else f"/redirect/{left - 1}")
        if path == "/loop/a":
            return self._redirect("/loop/b")
        if path == "/loop/b":
            return self._redirect("/loop/a")
        if path == "/to":
            return self._redirect(parse_qs(parts.query)["url"][0])
        if path.startswith("/flaky/"):
            with self.server.lock:
                first = path not in self.server.flaky_seen
                self.server.flaky_seen.add(path)
            if first:
                return self._send(500, b"temporarily broken", "text/plain")
            return self._send(200, (HERE / "kratom.html").read_bytes(), "text/html; charset=utf-8")
        if path == "/slow":
            time.sleep(SLOW_S)
            return self._send(200, (HERE / "kratom.html").read_bytes(), "text/html")
        if path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"<p>" + b"filler text " * 5000 + b"</p>\n"
            try:
                for _ in range(50):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return None
        if path == "/declared-huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(50_000_000))
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return None
        if path == "/missing":
            return self._send(404, b"<h1>Not found</h1>", "text/html")
        if path == "/image.png":
            return self._send(200, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
        if path.startswith("/page/"):
            return self._send(200, numbered_page(int(path.rsplit("/", 1)[1])).encode(), "text/html; charset=utf-8")
        name = path.lstrip("/")
        file = HERE / name
        if name and "/" not in name and file.is_file() and file.suffix != ".py":
            default = "text/html; charset=utf-8" if file.suffix == ".html" else "application/octet-stream"
            return self._send(200, file.read_bytes(), HEADERS.get(name, default))
        return self._send(404, b"not found", "text/plain")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def start(host: str = "127.0.0.1") -> FixtureServer:
    server = FixtureServer(host)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":  # pragma: no cover  (serve by hand: python tests/fixtures_web/server.py)
    s = start()
    print(s.base, flush=True)
    threading.Event().wait()
