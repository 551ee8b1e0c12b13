"""Who may make the server work: Host allow-list, CORS by kind of route, keys for batches, the access log."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from veracity.service.access import host_allowed, key_id
from veracity.service.app import create_app

EXTENSION = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
EVIL = "https://evil.example"


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


@pytest.mark.parametrize(
    "host, allowed",
    [
        ("localhost", True),
        ("localhost:8000", True),
        ("127.0.0.1:5000", True),
        ("[::1]:8000", True),
        ("LOCALHOST", True),
        ("evil.example", False),
        ("evil.example:8000", False),
        ("127.0.0.1.nip.io", False),
        ("", False),
    ],
)
def test_loopback_names_are_the_default_hosts(host, allowed):
    assert host_allowed(host, ("localhost", "127.0.0.1", "::1")) is allowed


def test_wildcards_in_allowed_hosts():
    assert host_allowed("api.example.org", ("*.example.org",))
    assert host_allowed("anything:80", ("*",))
    assert not host_allowed("example.org", ("*.example.org",))


def test_a_rebinding_page_is_refused_before_any_work(client):
    response = client.post("/v1/check", json={"text": "Kratom is legal."}, headers={"Host": "attacker.example"})
    assert response.status_code == 400 and error_code(response) == "host_not_allowed"
    assert "VERACITY_ALLOWED_HOSTS" in response.get_json()["error"]["message"]
    assert client.get("/v1/health", headers={"Host": "127.0.0.1:8000"}).status_code == 200


def test_checks_answer_any_origin(client):
    response = client.post("/v1/check", json={"text": "Kratom is legal."}, headers={"Origin": EVIL})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_writes_are_not_readable_from_a_foreign_page(client):
    preflight = client.options("/v1/evidence", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in preflight.headers  # the browser will not send the write
    batch = client.options("/v1/batches", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in batch.headers


def test_the_extension_may_write(client):
    preflight = client.options("/v1/evidence", headers={"Origin": EXTENSION, "Access-Control-Request-Method": "POST"})
    assert preflight.headers["Access-Control-Allow-Origin"] == EXTENSION
    assert preflight.headers["Vary"] == "Origin"


def test_batches_need_a_key(client):
    response = client.post("/v1/batches", json={"texts": ["Kratom is legal."]})
    assert response.status_code == 401 and error_code(response) == "missing_api_key"
    response = client.post("/v1/batches", json={"texts": ["Kratom is legal."]}, headers={"X-API-Key": "wrong"})
    assert response.status_code == 403 and error_code(response) == "invalid_api_key"


def test_without_keys_batches_say_how_to_open_them(settings):
    app = create_app(replace(settings, api_keys=()))
    try:
        response = app.test_client().post("/v1/batches", json={"texts": ["Kratom is legal."]})
        assert response.status_code == 403 and error_code(response) == "writes_disabled"
        assert "VERACITY_OPEN_BATCHES" in response.get_json()["error"]["message"]
    finally:
        app.extensions["veracity_batches"].stop()


def test_the_access_log_names_the_key_by_hash_and_never_the_text(client, caplog):
    claim = "A very particular sentence about kratom and prolactin."
    with caplog.at_level(logging.INFO, logger="veracity.access"):
        client.post("/v1/check", json={"text": claim}, headers={"X-API-Key": "test-key"})
    (line,) = [r.getMessage() for r in caplog.records if r.name == "veracity.access"]
    assert line.startswith("POST /v1/check 200 ") and f"key={key_id('test-key')}" in line
    assert "test-key" not in line and "prolactin" not in line


def test_a_client_over_the_rate_limit_gets_429_with_retry_after(settings):
    """Three requests a minute: the fourth from the same client waits; another key holder and the health probe
    are not held back, and a key the server does not accept counts as the address it came from."""
    app = create_app(replace(settings, rate_limit_per_minute=3, api_keys=("test-key", "other-key")))
    client = app.test_client()
    try:
        for _ in range(3):
            assert client.get("/v1/openapi.json").status_code == 200
        refused = client.get("/v1/openapi.json", headers={"X-API-Key": "made-up"})
        assert refused.status_code == 429 and error_code(refused) == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 20
        assert "VERACITY_RATE_LIMIT_PER_MINUTE" in refused.get_json()["error"]["message"]
        assert client.get("/v1/health").status_code == 200
        assert client.get("/v1/openapi.json", headers={"X-API-Key": "other-key"}).status_code == 200
        assert client.options("/v1/check", headers={"Origin": EVIL}).status_code != 429
    finally:
        app.extensions["veracity_batches"].stop()


def test_the_rate_limiter_refills_over_time():
    from veracity.service.admission import RateLimiter

    limiter = RateLimiter(per_minute=60)  # one a second, bursts of 60
    assert all(limiter.acquire("a", now=0.0) == 0.0 for _ in range(60))
    assert limiter.acquire("a", now=0.0) == pytest.approx(1.0)
    assert limiter.acquire("a", now=0.5) == pytest.approx(0.5)
    assert limiter.acquire("a", now=1.0) == 0.0
    assert limiter.acquire("b", now=1.0) == 0.0
    assert RateLimiter(per_minute=0).acquire("a") == 0.0  # off
