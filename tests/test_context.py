"""Sentences that lean on their neighbours are checked as the claim they make in context."""

from __future__ import annotations

from veracity.service.context import heading_topic, resolve_claims, subject_of
from veracity.service.segment import segment


def claims_of(text: str) -> dict[str, str | None]:
    segments = segment(text)
    return {s.text: c for s, c in zip(segments, resolve_claims(segments))}


def test_a_leading_pronoun_takes_the_subject_of_the_previous_sentence():
    claims = claims_of(
        "Opioid withdrawal is a group of symptoms that can happen after stopping opioids. "
        "It can include intense cravings, restlessness and insomnia."
    )
    assert claims["It can include intense cravings, restlessness and insomnia."] == (
        "Opioid withdrawal can include intense cravings, restlessness and insomnia."
    )
    assert claims["Opioid withdrawal is a group of symptoms that can happen after stopping opioids."] is None


def test_list_items_complete_their_lead_in_line():
    claims = claims_of("Physical symptoms of opioid withdrawal include:\n- Nausea and vomiting\n- Muscle aches\n")
    assert claims["Nausea and vomiting"] == "Physical symptoms of opioid withdrawal include nausea and vomiting."
    assert claims["Muscle aches"] == "Physical symptoms of opioid withdrawal include muscle aches."


def test_a_demonstrative_phrase_names_its_antecedent():
    claims = claims_of("Withdrawal symptoms start within 12 hours of the last dose. These symptoms can last a week.")
    assert claims["These symptoms can last a week."] == "Withdrawal symptoms can last a week."


def test_the_heading_gives_the_topic_when_the_previous_sentence_does_not():
    claims = claims_of("# What Is Kratom?\n\nIt comes from the leaves of a tree native to Southeast Asia.\n")
    assert claims["It comes from the leaves of a tree native to Southeast Asia."] == (
        "Kratom comes from the leaves of a tree native to Southeast Asia."
    )
    assert heading_topic("Overview") == ""


def test_sentences_that_stand_alone_and_dummy_subjects_are_left_as_written():
    claims = claims_of("Naloxone reverses opioid overdose. It is important to call for help. Methadone is an agonist.")
    assert set(claims.values()) == {None}
    assert subject_of("If you stop suddenly, withdrawal can start.") == ""


def test_a_sentence_that_leans_on_the_page_topic_is_prefixed_with_it():
    claims = claims_of(
        "# Methadone - Brand name: Physeptone\n\n"
        "Methadone is used to treat heroin addiction. Methadone usually comes as a green liquid.\n\n"
        "You'll usually start on 10mg to 30mg, taken once a day. However, your dose may be different for you.\n"
    )
    assert claims["You'll usually start on 10mg to 30mg, taken once a day."] == (
        "Methadone: you'll usually start on 10mg to 30mg, taken once a day."
    )
    assert claims["However, your dose may be different for you."] == "Methadone: your dose may be different for you."
    assert claims["Methadone usually comes as a green liquid."] is None  # names the topic: stands alone


def test_no_topic_when_the_page_never_repeats_its_title():
    claims = claims_of("# Halt the Hurt!\n\nPain is common in adults. You can ask a doctor about treatments for it.\n")
    assert claims["You can ask a doctor about treatments for it."] is None
