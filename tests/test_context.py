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


def test_a_pronoun_inside_the_sentence_is_tied_to_the_page_topic():
    claims = claims_of(
        "# Fentanyl\n\nFentanyl is a synthetic opioid. Fentanyl is used in hospitals.\n\n"
        "Even in small doses, it can be deadly.4 If you need to take it for a long time, your body can get used to it.\n"
    )
    assert claims["Even in small doses, it can be deadly.4"] == "Fentanyl: even in small doses, it can be deadly.4"
    assert claims["If you need to take it for a long time, your body can get used to it."] == (
        "Fentanyl: if you need to take it for a long time, your body can get used to it."
    )


def test_the_topic_is_the_part_of_the_title_the_page_repeats():
    claims = claims_of(
        "# A Shared Approach to Preventing Opioid Overdoses\n\n"
        "Opioid overdoses rose in 2020. Naloxone reverses an opioid overdose. However, most of them can be prevented.\n"
    )
    assert claims["However, most of them can be prevented."] == "Opioid Overdoses: most of them can be prevented."
    claims = claims_of(
        "Buprenorphine is a strong opioid medicine. Buprenorphine comes as patches.\n\n"
        "The disorder it treats is common. Some people feel sleepy when they start taking the patches.\n"
    )  # no title: the subject of the opening sentence, which the page repeats
    assert claims["Some people feel sleepy when they start taking the patches."] == (
        "Buprenorphine: some people feel sleepy when they start taking the patches."
    )


def test_a_generic_noun_does_not_count_as_naming_a_longer_topic():
    claims = claims_of(
        "# Generalized Anxiety Disorder\n\nGeneralized anxiety disorder is common. Anxiety disorder can be treated.\n\n"
        "The disorder is more common in women than in men.\n"
    )
    assert claims["The disorder is more common in women than in men."] == (
        "Anxiety Disorder: the disorder is more common in women than in men."
    )


def test_a_lead_in_that_is_a_whole_clause_keeps_its_colon():
    claims = claims_of("There are 2 main approaches to stopping heroin:\n- detox, where you stop a substitute slowly\n")
    assert claims["detox, where you stop a substitute slowly"] == (
        "There are 2 main approaches to stopping heroin: detox, where you stop a substitute slowly."
    )
    claims = claims_of("People with GAD may:\n- Startle easily\n")
    assert claims["Startle easily"] == "People with GAD may startle easily."


def test_that_means_is_checked_with_the_sentence_it_points_back_to():
    claims = claims_of(
        "Taken for a long time, morphine stops working as well (tolerance). That means you need higher doses."
    )
    assert claims["That means you need higher doses."] == (
        "Taken for a long time, morphine stops working as well (tolerance). That means you need higher doses."
    )


def test_a_heading_that_names_an_activity_is_not_what_it_stands_for():
    claims = claims_of("# Getting your prescription\n\nIt may be a nurse, doctor or a pharmacist.\n")
    assert claims["It may be a nurse, doctor or a pharmacist."] is None


def test_headings_that_ask_or_number_give_no_subject_for_it():
    assert heading_topic("Can Dietary Supplements Help Older Consumers?") == ""
    assert heading_topic("2. Key facts") == ""
    assert heading_topic("3. Who can and cannot take amitriptyline") == ""
    assert heading_topic("What Is Kratom?") == "Kratom"


def test_a_page_without_a_usable_title_is_about_the_word_it_centres_on():
    claims = claims_of(
        "# Key points\n\nIn the US, fentanyl is a synthetic opioid. Fentanyl is prescribed for severe pain. "
        "Illegal fentanyl is sold as powder. Fentanyl is often mixed with heroin. Fentanyl overdoses are rising. "
        "Fentanyl test strips exist.\n\n# What is fentanyl?\n\nEven in small doses, it can be deadly.\n"
    )
    assert claims["Even in small doses, it can be deadly."] == "Fentanyl: even in small doses, it can be deadly."
