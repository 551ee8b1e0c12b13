"""The /v1 API through Flask's test client, on the real pipeline and a real SQLite corpus."""

from __future__ import annotations

import pytest

from veracity.models.stance import DEFAULT_DIR as STANCE_DIR
from veracity.models.stance import StanceConfig


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert body["ok"] is False
    assert set(body["error"]) == {"code", "message", "status"}
    assert body["error"]["status"] == status
    assert len(body["error"]["message"]) > 20
    if code:
        assert body["error"]["code"] == code
    return body


def test_check_seed_article_returns_offsets_verdicts_and_summary(client, seed_text):
    response = client.post("/v1/check", json={"text": seed_text})
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is True
    sentences = body["sentences"]
    assert len(sentences) > 30
    for s in sentences:
        assert seed_text[s["start"] : s["end"]] == s["text"]
        assert (s["verdict"] is None) == (not s["checkworthy"])
        if s["verdict"]:
            assert s["verdict"]["label"] in ("supported", "unsupported", "contradicted")
            assert 0.0 <= s["verdict"]["confidence"] <= 1.0
            for e in s["verdict"]["evidence"]:
                assert e["source_url"] or e["pmid"] or e["doi"]
                assert e["grade"] in ("high", "moderate", "low", "very_low", "ungraded")
    summary = body["summary"]
    assert sum(summary.values()) == len(sentences)
    assert summary["not_checkworthy"] >= 4
    assert body["corpus"]["items"] > 0 and body["corpus"]["version"]
    assert body["model"]["embedder"].endswith("all-MiniLM-L6-v2")
    assert body["model"]["stance_model"] == StanceConfig.read(STANCE_DIR).revision  # which weights read the evidence


def test_check_accepts_text_plain(client):
    response = client.post(
        "/v1/check", data="Naloxone reverses opioid overdose.", content_type="text/plain; charset=utf-8"
    )
    assert response.status_code == 200
    assert response.get_json()["sentences"][0]["text"] == "Naloxone reverses opioid overdose."


def test_headings_and_instructions_get_no_verdict(client):
    text = "# Kratom\nExplain opioid withdrawal symptoms: physical and psychological.\nIs kratom safe?"
    sentences = client.post("/v1/check", json={"text": text}).get_json()["sentences"]
    assert [s["checkworthy"] for s in sentences] == [False, False, False]
    assert all(s["verdict"] is None for s in sentences)


def test_a_symptom_list_is_checked_as_the_claims_it_completes_with_a_priority(client):
    text = (
        "## Opioid withdrawal\nPhysical symptoms of opioid withdrawal include:\n- Nausea and vomiting\n- Muscle aches\n"
        "Withdrawal usually starts within 12 hours of the last dose. It can last for a week or longer."
    )
    sentences = {s["text"]: s for s in client.post("/v1/check", json={"text": text}).get_json()["sentences"]}
    nausea = sentences["Nausea and vomiting"]
    assert nausea["claim"] == "Physical symptoms of opioid withdrawal include nausea and vomiting."
    assert nausea["checkworthy"] and nausea["verdict"] is not None
    assert 0.0 <= nausea["priority"] <= 1.0
    lasts = sentences["It can last for a week or longer."]
    assert lasts["claim"] == "Withdrawal can last for a week or longer." and lasts["checkworthy"]
    heading = sentences["Opioid withdrawal"]
    assert heading["checkworthy"] is False and heading["priority"] is None and heading["claim"] is None
    assert sentences["Withdrawal usually starts within 12 hours of the last dose."]["claim"] is None


def test_repeated_claims_are_decided_once_and_a_second_check_is_served_from_the_cache(client):
    text = "Naloxone can reverse an opioid overdose. Kratom is legal. Naloxone can reverse an opioid overdose."
    first = client.post("/v1/check", json={"text": text}).get_json()
    assert first["timings_ms"]["claims"] == 3 and first["timings_ms"]["distinct_claims"] == 2
    a, _, c = first["sentences"]
    assert a["verdict"] == c["verdict"] and a["start"] < c["start"]  # one verdict, offsets per sentence
    again = client.post("/v1/check", json={"text": text}).get_json()
    assert again["timings_ms"]["cache_hits"] == 2
    assert again["timings_ms"]["embed_cache_hits"] == 3  # nor is any sentence embedded again
    assert [s["verdict"] for s in again["sentences"]] == [s["verdict"] for s in first["sentences"]]


def test_check_all_gives_every_sentence_a_verdict(client):
    text = "# Kratom\nIs kratom safe?"
    sentences = client.post("/v1/check", json={"text": text, "check_all": True}).get_json()["sentences"]
    assert all(s["verdict"] is not None for s in sentences)


def test_empty_text_is_400(client):
    assert_error_shape(client.post("/v1/check", json={"text": "   "}), 400, "empty_text")


def test_missing_text_field_is_400(client):
    assert_error_shape(client.post("/v1/check", json={"article": "x"}), 400, "missing_text")


def test_invalid_json_is_400(client):
    assert_error_shape(client.post("/v1/check", data="{not json", content_type="application/json"), 400, "invalid_json")


def test_non_utf8_body_is_400(client):
    body = "Kratom caf\u00e9".encode("latin-1")
    assert_error_shape(client.post("/v1/check", data=body, content_type="text/plain"), 400, "invalid_encoding")


def test_wrong_content_type_is_415(client):
    assert_error_shape(client.post("/v1/check", data="text=x", content_type="application/x-www-form-urlencoded"), 415)


def test_body_over_limit_is_413(client, settings):
    big = "Kratom is a plant. " * (settings.max_body_bytes // 10)
    assert_error_shape(client.post("/v1/check", json={"text": big}), 413, "body_too_large")


def test_unknown_route_is_404_json(client):
    assert_error_shape(client.get("/v1/nothing-here"), 404, "not_found")
    assert_error_shape(client.get("/no-such-page"), 404, "not_found")


def test_wrong_method_is_405_json(client):
    assert_error_shape(client.get("/v1/check"), 405, "method_not_allowed")


def test_bad_check_all_option_is_400(client):
    assert_error_shape(client.post("/v1/check", json={"text": "x y z", "check_all": "yes"}), 400, "invalid_option")


def test_context_before_a_part_builds_its_claims_but_is_never_checked(client):
    text = "It can be deadly even in small doses."
    alone = client.post("/v1/check", json={"text": text}).get_json()
    assert alone["sentences"][0]["claim"] is None
    body = client.post(
        "/v1/check", json={"text": text, "context": "# Fentanyl\n\nFentanyl is a synthetic opioid used for pain."}
    ).get_json()
    assert [s["text"] for s in body["sentences"]] == [text]  # nothing of the context comes back
    assert (body["sentences"][0]["start"], body["sentences"][0]["end"]) == (0, len(text))
    assert body["sentences"][0]["claim"] == "Fentanyl can be deadly even in small doses."


def test_bad_context_is_400(client):
    for context in (["a list"], "x" * 4001):
        r = client.post("/v1/check", json={"text": "Naloxone reverses overdoses.", "context": context})
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_option"


def test_health_reports_model_and_corpus(client):
    body = client.get("/v1/health").get_json()
    assert body["ok"] and body["status"] == "ok"
    assert body["corpus"]["items"] == 22
    assert body["model"]["verdict"]


def test_health_names_the_corpus_main_topics_most_common_first(client):
    topics = client.get("/v1/health").get_json()["corpus"]["topics"]
    # tests/data/evidence.jsonl: 8 kratom items, 3 on medications for OUD, then single items, ties by name.
    assert topics == [
        {"topic": "kratom", "items": 8},
        {"topic": "medications-for-oud", "items": 3},
        {"topic": "buprenorphine", "items": 1},
        {"topic": "covid-19-vaccines", "items": 1},
        {"topic": "detoxification", "items": 1},
        {"topic": "melatonin", "items": 1},
        {"topic": "methadone", "items": 1},
        {"topic": "naltrexone", "items": 1},
    ]
    check = client.post("/v1/check", json={"text": "Opioids raise prolactin levels."}).get_json()
    assert "topics" not in check["corpus"]  # only health carries them: /v1/check stays as it was


def test_health_topics_follow_evidence_added_over_the_api(corpus_db):
    from veracity.service.app import create_app
    from veracity.service.settings import Settings

    client = create_app(Settings(corpus_db=corpus_db, build_corpus=False, api_keys=("k",))).test_client()
    assert client.get("/v1/health").get_json()["corpus"]["topics"][2]["topic"] == "buprenorphine"  # now cached
    item = {
        "statement": "Lofexidine was approved by the FDA in 2018 to lessen opioid withdrawal symptoms in adults.",
        "source_title": "FDA approves the first non-opioid treatment for opioid withdrawal symptoms in adults",
        "source_url": "https://www.fda.gov/news-events/press-announcements/lofexidine",
        "publisher": "U.S. Food and Drug Administration",
        "year": 2018,
        "study_type": "regulatory_statement",
        "grade": "moderate",
        "topic": "lofexidine",
    }
    added = client.post(
        "/v1/evidence",
        json=[dict(item, id="lofexidine-001"), dict(item, id="lofexidine-002")],
        headers={"X-API-Key": "k"},
    )
    assert added.status_code == 201, added.get_json()
    topics = client.get("/v1/health").get_json()["corpus"]["topics"]
    assert topics[2] == {"topic": "lofexidine", "items": 2}  # a new corpus version, so not the cached list


def test_evidence_by_id(client):
    body = client.get("/v1/evidence/kratom-016").get_json()
    assert body["evidence"]["id"] == "kratom-016"
    assert body["evidence"]["source_url"].startswith("https://")
    assert_error_shape(client.get("/v1/evidence/no-such-id"), 404, "evidence_not_found")


def test_cors_headers_on_v1(client):
    response = client.options(
        "/v1/check", headers={"Origin": "chrome-extension://abc", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]


def test_every_stage_reports_its_own_time(client):
    timings = client.post("/v1/check", json={"text": "Opioids raise prolactin levels."}).get_json()["timings_ms"]
    stages = ("segment", "context", "embed", "checkworthy", "retrieve", "relevance", "stance", "combine")
    assert all(timings[s] >= 0 for s in stages)
    assert timings["relevance"] + timings["stance"] + timings["combine"] <= timings["verdict"] + 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/check", '{"text": ' + "[" * 5000 + "]" * 5000 + "}"),
        ("/v1/verify", "[" * 5000 + "]" * 5000),
        ("/v1/check", '{"text": "Kratom \\ud800 is safe."}'),
        ("/v1/verify", '{"claim": "\\udfff", "evidence": ["x"]}'),
    ],
)
def test_deep_nesting_and_lone_surrogates_are_a_400_not_a_500(client, path, body):
    r = client.post(path, data=body, content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]["code"] in ("invalid_json", "invalid_text")


def test_a_saturated_server_sheds_load_with_503_and_retry_after(app):
    """One slot, no waiting: while a check holds the slot, the next is refused at once, and served after."""
    import threading

    from veracity.service.admission import Admission

    admission = app.extensions["veracity.admission"]
    app.extensions["veracity.admission"] = Admission(1, wait_s=0.0, retry_after_s=3)
    try:
        with app.extensions["veracity.admission"].slot():  # a long check in flight on another thread
            busy = app.test_client().post("/v1/check", json={"text": "Naloxone reverses opioid overdose."})
            verify = app.test_client().post("/v1/verify", json={"claim": "x is y.", "evidence": ["x is y."]})
        assert_error_shape(busy, 503, "overloaded")
        assert busy.headers["Retry-After"] == "3"
        assert_error_shape(verify, 503, "overloaded")
        results = []
        threads = [
            threading.Thread(target=lambda: results.append(app.test_client().get("/v1/health").status_code))
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200, 200, 200]  # reads need no slot
        after = app.test_client().post("/v1/check", json={"text": "Naloxone reverses opioid overdose."})
        assert after.status_code == 200
    finally:
        app.extensions["veracity.admission"] = admission


def test_beyond_the_bounded_queue_a_request_is_refused_at_once(app):
    """One slot, one place in the queue, a long wait allowed: the waiter is served when the slot frees, and the
    request after it is refused immediately instead of piling up behind it."""
    import threading
    import time

    from veracity.service.admission import Admission

    admission = app.extensions["veracity.admission"]
    app.extensions["veracity.admission"] = small = Admission(1, wait_s=30.0, max_queued=1)
    waiter: list[int] = []
    try:
        with small.slot():
            thread = threading.Thread(
                target=lambda: waiter.append(
                    app.test_client().post("/v1/check", json={"text": "Naloxone reverses opioid overdose."}).status_code
                )
            )
            thread.start()
            deadline = time.monotonic() + 10
            while small._waiting < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            t0 = time.monotonic()
            refused = app.test_client().post("/v1/check", json={"text": "Methadone is an opioid agonist."})
            assert time.monotonic() - t0 < 5  # not the 30 s the waiter may wait
            assert_error_shape(refused, 503, "overloaded")
        thread.join(timeout=60)
        assert waiter == [200]
    finally:
        app.extensions["veracity.admission"] = admission


def test_model_work_runs_on_a_fixed_pool_of_threads(app):
    import threading

    names = {app.extensions["veracity.admission"].run(lambda: threading.current_thread().name) for _ in range(20)}
    assert all(name.startswith("veracity-model") for name in names)
    assert len(names) <= app.config["VERACITY"].max_in_flight


def test_method_not_allowed_names_the_allowed_methods(client):
    response = client.get("/v1/check")
    assert_error_shape(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_a_check_past_its_deadline_stops_with_503(settings):
    """A deadline already passed: the server stops after the first stage instead of working for nobody."""
    from dataclasses import replace

    from veracity.service.app import create_app

    app = create_app(replace(settings, request_deadline_s=1e-6))
    try:
        r = app.test_client().post("/v1/check", json={"text": "Naloxone reverses opioid overdose. " * 50})
    finally:
        app.extensions["veracity_batches"].stop()
    body = assert_error_shape(r, 503, "deadline_exceeded")
    assert "send less text" in body["error"]["message"] and r.headers["Retry-After"] == "10"


def test_the_pipeline_honours_a_deadline_between_chunks_of_claims(app):
    import time

    from veracity.service.pipeline import DeadlineExceeded

    pipeline = app.extensions["veracity"]
    with pytest.raises(DeadlineExceeded):
        pipeline.check("Methadone is a full opioid agonist.", deadline=time.monotonic() - 1)
    result = pipeline.check("Methadone is a full opioid agonist.", deadline=time.monotonic() + 60)
    assert result.sentences[0].verdict is not None


def test_text_without_words_or_without_any_sentence_end_is_never_a_claim(client):
    """A body of full stops, or 200 KB of words pasted without punctuation, is not a set of claims: skipped by rule,
    whatever a model says, and never embedded (it used to cost two seconds of embedding per 200 KB)."""
    from veracity.service.checkworthy import rule_checkworthiness
    from veracity.service.segment import Segment

    dots = Segment(0, "." * 300, 0, 300, "sentence")
    run_on = Segment(0, "word " * 400, 0, 2000, "sentence")
    assert rule_checkworthiness(dots).reason == "no words"
    assert rule_checkworthiness(run_on).reason == "run-on text"
    body = client.post("/v1/check", json={"text": "." * 5000 + "\n\n" + "word " * 400}).get_json()
    assert body["summary"]["not_checkworthy"] == len(body["sentences"]) >= 2
    assert {s["checkworthy_reason"] for s in body["sentences"]} <= {"no words", "run-on text"}
