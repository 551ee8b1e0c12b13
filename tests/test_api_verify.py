"""POST /v1/verify: a claim against evidence the user brings, with the same models and rules as /v1/check."""

from __future__ import annotations

import pytest

SUPPORTING = "Opioid use increases serum prolactin concentrations in men and women."
REVERSED = "Opioid use lowers serum prolactin concentrations in men and women."


def test_a_claim_is_checked_against_the_texts_it_brings(client):
    r = client.post("/v1/verify", json={"claim": "Opioid use raises prolactin levels.", "evidence": [SUPPORTING]})
    assert r.status_code == 200
    body = r.get_json()
    [result] = body["results"]
    assert result["claim"] == "Opioid use raises prolactin levels."
    verdict = result["verdict"]
    assert verdict["label"] == "supported" and verdict["reason_code"] == "supported"
    [item] = verdict["evidence"]
    assert item["text"] == SUPPORTING and item["grade"] == "ungraded" and item["stance"] == "supports"
    assert set(item["stance_probs"]) == {"supports", "contradicts", "neutral"}
    assert body["model"]["verdict"] == "stance-combiner"


def test_several_claims_in_one_request_keep_their_order(client):
    r = client.post(
        "/v1/verify",
        json=[
            {"claim": "Opioid use lowers prolactin levels.", "evidence": [SUPPORTING]},
            {"claim": "Opioid use raises prolactin levels.", "evidence": SUPPORTING},
        ],
    )
    labels = [x["verdict"]["label"] for x in r.get_json()["results"]]
    assert labels == ["contradicted", "supported"]


def test_evidence_about_something_else_is_not_covered(client):
    r = client.post("/v1/verify", json={"claim": "The Eiffel Tower is in Paris.", "evidence": [REVERSED]})
    verdict = r.get_json()["results"][0]["verdict"]
    assert verdict["label"] == "unsupported" and verdict["reason_code"] == "not_covered"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"evidence": [SUPPORTING]}, 400, "missing_claim"),
        ({"claim": "  ", "evidence": [SUPPORTING]}, 400, "missing_claim"),
        ({"claim": "Opioids raise prolactin."}, 400, "invalid_evidence"),
        ({"claim": "Opioids raise prolactin.", "evidence": []}, 400, "invalid_evidence"),
        ({"claim": "Opioids raise prolactin.", "evidence": [3]}, 400, "invalid_evidence"),
        ({"claim": "Opioids raise prolactin.", "evidence": ["x"] * 21}, 413, "too_many_evidence"),
        ([{"claim": "a", "evidence": ["b"]}] * 51, 413, "too_many_items"),
        ([], 400, "missing_claim"),
    ],
)
def test_bad_requests_say_what_to_fix(client, body, status, code):
    r = client.post("/v1/verify", json=body)
    assert r.status_code == status
    error = r.get_json()["error"]
    assert error["code"] == code and error["message"]


def test_only_json_is_accepted(client):
    r = client.post("/v1/verify", data="Opioids raise prolactin.", content_type="text/plain")
    assert r.status_code == 415
    r = client.post("/v1/verify", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_json"
