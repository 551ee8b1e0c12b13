"""/v1/openapi.json describes every route, and real responses match what it says."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

SUPPORTING = "Opioid use increases serum prolactin concentrations in men and women."


@pytest.fixture(scope="module")
def spec(app):
    r = app.test_client().get("/v1/openapi.json")
    assert r.status_code == 200
    return r.get_json()


def conforms(spec, path, method, status, body):
    schema = spec["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": spec["components"]})
    errors = sorted(validator.iter_errors(body), key=str)
    assert not errors, [e.message for e in errors[:5]]


def test_every_route_of_the_app_is_described(app, spec):
    rules = {r.rule for r in app.url_map.iter_rules() if not r.endpoint.endswith("static")}  # files, not API
    documented = {p.replace("{", "<").replace("}", ">") for p in spec["paths"]}
    assert rules <= documented, rules - documented
    assert {"/v1/check", "/v1/verify", "/v1/batches", "/v1/batches/{job}/results"} <= set(spec["paths"])
    assert spec["openapi"].startswith("3.1") and spec["info"]["version"]


def test_check_and_its_errors_match_the_document(client, spec):
    r = client.post("/v1/check", json={"text": "Opioids raise prolactin levels. Kratom is not approved by the FDA."})
    conforms(spec, "/v1/check", "post", 200, r.get_json())
    r = client.post("/v1/check", json={"text": "  "})
    conforms(spec, "/v1/check", "post", 400, r.get_json())


def test_verify_health_and_search_match_the_document(client, spec):
    r = client.post("/v1/verify", json={"claim": "Opioids raise prolactin levels.", "evidence": [SUPPORTING]})
    conforms(spec, "/v1/verify", "post", 200, r.get_json())
    conforms(spec, "/v1/health", "get", 200, client.get("/v1/health").get_json())
    conforms(spec, "/v1/evidence", "get", 200, client.get("/v1/evidence?q=prolactin&limit=3").get_json())
    conforms(spec, "/v1/evidence/{item_id}", "get", 404, client.get("/v1/evidence/nope").get_json())
