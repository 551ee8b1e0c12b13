"""The verdict rules on the shipped stance model and combiner: grades decide what a verdict may rest on."""

from __future__ import annotations

import pytest

from veracity.service.pipeline import load_verdict_maker
from veracity.service.retrieve import Evidence
from veracity.service.settings import Settings

# "Opioid use raises ...", not "Opioids raise ...": run 9 read the bare plural subject under its cut (run 12 does
# not); these tests are about the rules, so they use a claim every shipped model read as the evidence's paraphrase.
CLAIM = "Opioid use raises prolactin levels."
SUPPORTING = "Opioid use increases serum prolactin concentrations in men and women."
CONTRADICTING = "Opioid use lowers serum prolactin concentrations in men and women."


def evidence(item_id: str, statement: str, grade: str, similarity: float = 0.85) -> Evidence:
    return Evidence(
        item_id,
        statement,
        "A source",
        "https://example.org/" + item_id,
        None,
        None,
        "Publisher",
        2020,
        "systematic_review",
        grade,
        similarity,
        0,
    )


@pytest.fixture(scope="module")
def verdict():
    maker = load_verdict_maker(Settings())
    assert maker.name == "stance-combiner", "the stance model and combiner ship in models/"
    return maker


def test_the_same_evidence_supports_a_claim_and_contradicts_its_reversal(verdict):
    items = [
        evidence("a", SUPPORTING, "high"),
        evidence("b", SUPPORTING.replace("men and women", "adults"), "moderate"),
    ]
    raised, lowered = verdict.decide_many([CLAIM, "Opioid use lowers prolactin levels."], [items, items])
    assert raised.label == "supported" and raised.driver in ("a", "b")
    assert lowered.label == "contradicted"
    assert {e.stance for e in raised.evidence} == {"supports"}


def test_supported_never_rests_on_very_low_evidence_alone(verdict):
    items = [
        evidence("a", SUPPORTING, "very_low"),
        evidence("b", SUPPORTING.replace("men and women", "adults"), "very_low"),
    ]
    result = verdict.decide_many([CLAIM], [items])[0]
    assert result.label == "unsupported"
    assert "very low" in result.reason


def test_stronger_contradicting_evidence_wins_over_weaker_support(verdict):
    items = [
        evidence("weak", SUPPORTING, "low"),
        evidence("strong", "Opioid use does not change prolactin levels.", "high"),
    ]
    result = verdict.decide_many([CLAIM], [items])[0]
    assert result.label == "contradicted" and result.driver == "strong"


def test_antonym_evidence_is_read_as_contradiction(verdict):
    # Held by the support cut: the model still gives this antonym P(supports) 0.51, under min_support (0.58).
    result = verdict.decide_many([CLAIM], [[evidence("strong", CONTRADICTING, "high")]])[0]
    assert result.evidence[0].stance == "contradicts"


def test_conflicting_evidence_that_neither_side_outweighs_is_reported_as_such(verdict):
    no_change = "Opioid use does not change prolactin levels."
    items = [evidence("sup", SUPPORTING, "high"), evidence("con", no_change, "high", 0.7)]
    result = verdict.decide_many([CLAIM], [items])[0]
    assert [e.stance for e in result.evidence] == ["supports", "contradicts"]
    assert result.label == "unsupported" and "conflicts" in result.reason


def test_no_evidence_is_unsupported(verdict):
    result = verdict.decide_many([CLAIM], [[]])[0]
    assert result.label == "unsupported" and result.evidence == []


def test_every_verdict_names_what_it_rests_on(verdict):
    items = [
        evidence("a", SUPPORTING, "high"),
        evidence("b", SUPPORTING.replace("men and women", "adults"), "moderate"),
    ]
    raised, lowered = verdict.decide_many([CLAIM, "Opioid use lowers prolactin levels."], [items, items])
    assert (raised.reason_code, lowered.reason_code) == ("supported", "contradicted")
    weak = verdict.decide_many([CLAIM], [[evidence("a", SUPPORTING, "very_low")]])[0]
    assert weak.reason_code == "weak_evidence_only"
    assert verdict.decide_many([CLAIM], [[]])[0].reason_code == "not_covered"


def test_off_topic_text_is_not_covered_and_never_read_for_stance(verdict):
    overdose = evidence(
        "od", "Drug overdose deaths in the United States rose to more than 107,000 in 2022.", "high", 0.32
    )
    result = verdict.decide_many(["Apple released the iPhone 15 in September 2023."], [[overdose]])[0]
    assert result.label == "unsupported" and result.reason_code == "not_covered"
    assert "not covered" in result.reason
    assert result.evidence[0].stance is None and result.evidence[0].relevance < 0.5


def test_on_topic_evidence_is_still_read_when_off_topic_items_sit_beside_it(verdict):
    items = [
        evidence("od", "Drug overdose deaths in the United States rose in 2022.", "high", 0.2),
        evidence("a", SUPPORTING, "high"),
    ]
    result = verdict.decide_many([CLAIM], [items])[0]
    assert [e.stance for e in result.evidence] == [None, "supports"]
    assert result.label == "supported" and result.driver == "a"


def test_the_verdict_rules_and_the_http_schema_import_without_torch():
    """Labels and the support cut live in torch-free modules, so these layers stay cheap to import."""
    import subprocess
    import sys

    code = "import sys, veracity.service.verdict, veracity.models.labels; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_confidence_shown_is_the_calibrated_chance_that_the_label_is_right(verdict):
    """A "conflicting" verdict used to show the combiner's P(unsupported) when it leaned to supported (often under
    0.2, "7% confidence" on a label); the shipped combiner maps each reason code's probability to P(right), fitted
    on held-out claims (models/verdict/README.md)."""
    combiner = verdict.combiner
    assert {"supported", "contradicted", "conflicting", "no_side"} <= set(combiner.confidence_calibration)
    assert combiner.calibrated_confidence(0.1, "conflicting") > 0.3
    assert combiner.calibrated_confidence(0.93, "not_covered") == 0.93  # no calibration: the probability as is
    shown = verdict.decide_many(
        [CLAIM], [[evidence("a", SUPPORTING, "moderate"), evidence("b", CONTRADICTING, "moderate")]]
    )[0]
    assert shown.reason_code == "conflicting" and shown.confidence > 0.3
