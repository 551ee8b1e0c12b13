"""Searching and adding evidence over the API; writes need a configured API key."""

from __future__ import annotations

import pytest

from tests.test_api import assert_error_shape

NEW_ITEM = {
    "id": "api-added-1",
    "statement": "Lofexidine was approved by the FDA in 2018 to lessen opioid withdrawal symptoms in adults.",
    "source_title": "FDA approves the first non-opioid treatment for management of opioid withdrawal symptoms in adults",
    "source_url": "https://www.fda.gov/news-events/press-announcements/fda-approves-first-non-opioid-treatment-management-opioid-withdrawal-symptoms-adults",
    "publisher": "U.S. Food and Drug Administration",
    "year": 2018,
    "study_type": "regulatory_statement",
    "grade": "moderate",
    "topic": "opioid-withdrawal",
}


@pytest.fixture
def writable_client(corpus_db):
    from veracity.service.app import create_app
    from veracity.service.settings import Settings

    app = create_app(Settings(corpus_db=corpus_db, build_corpus=False, api_keys=("s3cret",)))
    return app.test_client()


def test_search_finds_items_by_meaning(client):
    body = client.get("/v1/evidence?q=DEA+plan+to+schedule+kratom&limit=3").get_json()
    assert body["evidence"][0]["id"] == "kratom-016"
    assert len(body["evidence"]) == 3
    assert_error_shape(client.get("/v1/evidence?q="), 400, "missing_query")
    assert_error_shape(client.get("/v1/evidence?q=x&limit=lots"), 400, "invalid_limit")
    assert_error_shape(client.get("/v1/evidence?q=x&limit=0"), 400, "invalid_limit")
    assert_error_shape(client.get("/v1/evidence?q=x&limit=101"), 400, "invalid_limit")


def test_adding_evidence_requires_a_key(writable_client):
    assert_error_shape(writable_client.post("/v1/evidence", json=NEW_ITEM), 401, "missing_api_key")
    assert_error_shape(
        writable_client.post("/v1/evidence", json=NEW_ITEM, headers={"X-API-Key": "wrong"}), 403, "invalid_api_key"
    )


def test_a_non_ascii_key_is_refused_not_a_crash(writable_client):
    response = writable_client.post("/v1/evidence", json=NEW_ITEM, headers={"Authorization": "Bearer clé-ünïcode"})
    assert_error_shape(response, 403, "invalid_api_key")


def test_added_evidence_is_searchable_at_once(writable_client):
    response = writable_client.post("/v1/evidence", json=NEW_ITEM, headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 201
    assert response.get_json()["corpus"]["items"] == 23
    hits = writable_client.get("/v1/evidence?q=lofexidine+approval&limit=1").get_json()["evidence"]
    assert hits[0]["id"] == "api-added-1"
    again = writable_client.post("/v1/evidence", json=NEW_ITEM, headers={"X-API-Key": "s3cret"})
    assert_error_shape(again, 409, "duplicate_id")


def test_the_same_new_id_twice_in_one_request_is_a_conflict_not_a_crash(writable_client):
    twice = [dict(NEW_ITEM, id="api-twice"), dict(NEW_ITEM, id="api-twice", statement="Another finding.")]
    response = writable_client.post("/v1/evidence", json=twice, headers={"X-API-Key": "s3cret"})
    assert_error_shape(response, 409, "duplicate_id")
    assert "api-twice" in response.get_json()["error"]["message"]
    found = writable_client.get("/v1/evidence?q=lofexidine&limit=30").get_json()["evidence"]
    assert "api-twice" not in {e["id"] for e in found}


def test_invalid_items_are_rejected_whole(writable_client):
    bad = dict(NEW_ITEM, id="api-bad", grade="great")
    response = writable_client.post(
        "/v1/evidence", json=[dict(NEW_ITEM, id="api-ok"), bad], headers={"X-API-Key": "s3cret"}
    )
    body = assert_error_shape(response, 400, "invalid_evidence")
    assert "item 1: grade" in body["error"]["message"]
    assert_error_shape(writable_client.get("/v1/evidence/api-ok"), 404)


def test_writes_disabled_without_configured_keys(client, app):
    # the shared test app has a key; an app without keys refuses every write
    from veracity.service.app import create_app
    from veracity.service.settings import Settings

    settings = Settings(corpus_db=app.config["VERACITY"].corpus_db, build_corpus=False)
    response = create_app(settings).test_client().post("/v1/evidence", json=NEW_ITEM, headers={"X-API-Key": "x"})
    assert_error_shape(response, 403, "writes_disabled")


def test_a_falsy_grade_or_a_non_text_statement_is_refused_not_stored(writable_client):
    for bad, field in (
        (dict(NEW_ITEM, id="api-zero", grade=0), "grade"),
        (dict(NEW_ITEM, id="api-num", statement=42), "statement"),
        (dict(NEW_ITEM, id="api-list", source_title=["a"]), "source_title"),
    ):
        body = assert_error_shape(
            writable_client.post("/v1/evidence", json=bad, headers={"X-API-Key": "s3cret"}), 400, "invalid_evidence"
        )
        assert f"item 0: {field}" in body["error"]["message"]
    # the corpus still answers checks
    assert writable_client.post("/v1/check", json={"text": "Lofexidine eases opioid withdrawal."}).status_code == 200
