"""The real server: `veracity serve` (waitress) in a subprocess, checked over HTTP."""

from __future__ import annotations

import httpx


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
