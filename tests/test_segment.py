"""Segmentation: every sentence comes back with offsets that index the submitted text exactly."""

from __future__ import annotations

import pytest

from veracity.service.segment import segment


def texts(text: str) -> list[str]:
    result = segment(text)
    for s in result:
        assert text[s.start : s.end] == s.text
    return [s.text for s in result]


def test_seed_article_offsets_round_trip(seed_text):
    segments = segment(seed_text)
    assert len(segments) > 30
    for s in segments:
        assert seed_text[s.start : s.end] == s.text
    assert [s.index for s in segments] == list(range(len(segments)))
    assert all(a.end <= b.start for a, b in zip(segments, segments[1:]))


def test_seed_headings_and_outline_lines_are_their_own_segments(seed_text):
    by_text = {}
    for s in segment(seed_text):
        by_text.setdefault(s.text, []).append(s.kind)
    assert "heading" in by_text["Understanding Opioid Withdrawal and Its Challenges"]
    assert by_text["Explain opioid withdrawal symptoms: physical and psychological."] == ["list_item"] * 2


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Dr. Smith saw the patient. She recovered.", ["Dr. Smith saw the patient.", "She recovered."]),
        (
            "Methadone vs. buprenorphine, e.g. in trials, is debated. Both work.",
            ["Methadone vs. buprenorphine, e.g. in trials, is debated.", "Both work."],
        ),
        ("The dose was 2.5 mg per day. It was safe.", ["The dose was 2.5 mg per day.", "It was safe."]),
        (
            "See https://www.fda.gov/drugs/kratom.html for details. Then decide.",
            ["See https://www.fda.gov/drugs/kratom.html for details.", "Then decide."],
        ),
        ('"Is kratom safe?" she asked. The FDA says no.', ['"Is kratom safe?" she asked.', "The FDA says no."]),
        (
            "The U.S. FDA approved lofexidine in 2018. It is not an opioid.",
            ["The U.S. FDA approved lofexidine in 2018.", "It is not an opioid."],
        ),
    ],
)
def test_hard_sentence_boundaries(text, expected):
    assert texts(text) == expected


def test_lists_headings_and_lines_without_punctuation():
    text = "# Kratom and withdrawal\n\nOutline:\n- First point here\n2. Naloxone reverses overdose.\nConclusion\nKratom is not FDA approved"
    result = segment(text)
    assert [(s.text, s.kind) for s in result] == [
        ("Kratom and withdrawal", "heading"),
        ("Outline:", "heading"),
        ("First point here", "list_item"),
        ("Naloxone reverses overdose.", "list_item"),
        ("Conclusion", "heading"),
        ("Kratom is not FDA approved", "sentence"),
    ]
    for s in result:
        assert text[s.start : s.end] == s.text


def test_windows_line_endings_and_blank_text():
    text = "First claim here.\r\nSecond claim here.\r\n"
    assert texts(text) == ["First claim here.", "Second claim here."]
    assert segment("   \n\n  ") == []


def test_hard_wrapped_sentence_is_joined_and_initials_are_kept():
    text = "The study enrolled 400\nadults in three countries. J. K. Rowling wrote the foreword.\na) First option\n"
    result = segment(text)
    assert [s.text for s in result] == [
        "The study enrolled 400\nadults in three countries.",
        "J. K. Rowling wrote the foreword.",
        "First option",
    ]
    for s in result:
        assert text[s.start : s.end] == s.text


def test_a_huge_line_keeps_exact_offsets_and_stops_soon_after_the_limit():
    text = "Kratom is a plant. Dr. Smith said so. " * 3000
    segments = segment(text)
    assert len(segments) == 6000 and all(text[s.start : s.end] == s.text for s in segments)
    assert 50 < len(segment(text, limit=50)) < 400


def test_too_many_sentences_is_a_413_that_says_so(client):
    r = client.post("/v1/check", json={"text": "It is. " * 2100})  # under the test app's 20 KB body limit
    assert r.status_code == 413 and "more than 2000 sentences" in r.get_json()["error"]["message"]
