"""The real server under pressure: one check at a time, no queue, so every refusal and every freed slot shows.

`veracity serve` (waitress) in a subprocess, as in test_server.py, with settings that make the effects visible.
"""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import httpx

SERVER_ENV = {"VERACITY_MAX_IN_FLIGHT": "1", "VERACITY_MAX_QUEUED": "0", "VERACITY_VERDICT_CACHE_SIZE": "0"}
SMALL = {"text": "Naloxone reverses an opioid overdose."}


def long_text(n: int = 2000) -> str:
    """Distinct sentences (repeats are checked once), each a checkable claim: many seconds of model work."""
    return " ".join(
        f"In trial {i}, methadone cut heroin use by {i % 90 + 5} percent over {i % 50 + 2} weeks." for i in range(n)
    )


def send_and_hang_up_later(base: str, payload: dict) -> socket.socket:
    parts = urlsplit(base)
    body = json.dumps(payload).encode()
    sock = socket.create_connection((parts.hostname, parts.port))
    head = (
        f"POST /v1/check HTTP/1.1\r\nHost: {parts.hostname}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + body)
    return sock


def test_a_busy_server_refuses_at_once_and_drops_the_work_of_a_client_that_hung_up(server):
    sock = send_and_hang_up_later(server, {"text": long_text()})
    try:
        time.sleep(1.5)  # the long check holds the only slot
        busy = httpx.post(server + "/v1/check", json=SMALL, timeout=30)
        assert busy.status_code == 503 and busy.json()["error"]["code"] == "overloaded"
        assert int(busy.headers["Retry-After"]) >= 1
    finally:
        sock.close()  # the client gives up
    # its check stops at the next chunk boundary (the access log says 499, as nginx logs a closed request; a
    # check run to the end would log 200) and the slot is free again
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "POST /v1/check 499" not in server.log_path.read_text(errors="replace"):
        time.sleep(0.2)
    log = server.log_path.read_text(errors="replace")
    assert "POST /v1/check 499" in log and "POST /v1/check 200" not in log, log[-2000:]
    assert httpx.post(server + "/v1/check", json=SMALL, timeout=60).status_code == 200
