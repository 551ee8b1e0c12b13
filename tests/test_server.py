"""The real server: `veracity serve` (waitress) in a subprocess, checked over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(built_corpus_db):
    port = free_port()
    env = dict(os.environ, VERACITY_PORT=str(port), VERACITY_CORPUS_DB=str(built_corpus_db), HF_HUB_OFFLINE="1")
    veracity = Path(sys.executable).parent / "veracity"
    process = subprocess.Popen([str(veracity), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("server exited: " + process.stdout.read().decode(errors="replace"))
        try:
            if httpx.get(base + "/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("server did not start within 120 s")
    yield base
    process.terminate()
    process.wait(timeout=10)


def test_real_server_checks_the_seed_article_over_http(server, seed_text):
    response = httpx.post(server + "/v1/check", json={"text": seed_text}, timeout=60)
    assert response.status_code == 200
    assert response.headers["Server"] == "veracity"
    body = response.json()
    for s in body["sentences"]:
        assert seed_text[s["start"] : s["end"]] == s["text"]
    assert sum(body["summary"].values()) == len(body["sentences"])


def test_real_server_answers_errors_as_json(server):
    response = httpx.post(server + "/v1/check", content=b"\xff\xfe", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_encoding"
