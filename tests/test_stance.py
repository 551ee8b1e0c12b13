"""The shipped stance model and verdict combiner, loaded from the repo and run for real (no mocks)."""

from __future__ import annotations

import numpy as np
import pytest

from training.train_stance import fit_support_threshold
from veracity.models.stance import DEFAULT_DIR, LABELS, StanceModel
from veracity.models.support_rule import apply_min_support
from veracity.models.verdict_model import DEFAULT_DIR as VERDICT_DIR
from veracity.models.verdict_model import (
    FEATURE_NAMES,
    VERDICT_LABELS,
    VerdictModel,
    claim_features,
)

EVIDENCE = "Opioid use increases serum prolactin concentrations."


@pytest.fixture(scope="module")
def stance() -> StanceModel:
    return StanceModel.load(DEFAULT_DIR)


@pytest.fixture(scope="module")
def verdict() -> VerdictModel:
    return VerdictModel.load(VERDICT_DIR)


def label_of(probs: np.ndarray) -> str:
    return LABELS[int(np.argmax(probs))]


def test_stance_model_loads_offline_from_the_repo_folder(stance: StanceModel):
    # StanceModel.load passes local_files_only: a missing file fails here instead of reaching the hub
    assert (DEFAULT_DIR / "model.safetensors").exists()
    assert stance.labels == LABELS == ("supports", "contradicts", "neutral")
    assert stance.model.config.num_labels == 3
    assert stance.config.max_length == 128
    assert 0.2 < stance.config.temperature < 5.0


def test_predict_returns_one_probability_row_per_pair_in_input_order(stance: StanceModel):
    pairs = [
        ("Opioids raise prolactin levels", EVIDENCE),
        ("The Eiffel Tower is in Paris", "Photosynthesis converts light energy into chemical energy in plants."),
        ("Opioids lower prolactin levels", EVIDENCE),
    ]
    probs = stance.predict(pairs)
    assert probs.shape == (3, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # sorting by length inside predict must not reorder the output
    np.testing.assert_allclose(stance.predict(pairs[::-1])[::-1], probs, atol=1e-5)
    assert stance.predict([]).shape == (0, 3)


def test_opposite_claims_get_opposite_stances_against_the_same_evidence(stance: StanceModel):
    raise_p, lower_p = stance.predict(
        [("Opioid use raises prolactin levels", EVIDENCE), ("Opioid use lowers prolactin levels", EVIDENCE)]
    )
    assert label_of(raise_p) == "supports", raise_p
    assert label_of(lower_p) == "contradicts", lower_p


def test_a_bare_plural_subject_is_read_as_the_same_claim(stance: StanceModel):
    # run 9 read "Opioids raise" at P(supports) 0.44-0.52 here, under its cut (a strict xfail then); run 12 reads it past
    (p,) = stance.predict([("Opioids raise prolactin levels", EVIDENCE)])
    assert label_of(p) == "supports", p


@pytest.mark.xfail(
    strict=True,
    reason="known weakness of runs 9 and 12: an on-topic item with another finding (another survey, year, number) "
    "reads as contradicting (P 0.67-0.82 here); runs 10-11, trained on hand-labelled retrieved pairs, read both as "
    "neutral but were not shipped (models/stance/README.md)",
)
def test_a_neighbouring_finding_is_not_read_as_a_contradiction(stance: StanceModel):
    # both can be true at once, so neither decides the other
    probs = stance.predict(
        [
            (
                "In a 2018 national survey, 24% of Canadian adults reported chronic pain.",
                "A 2010 Canadian study estimated that 19% of adults lived with chronic pain.",
            ),
            (
                "About 30% of adults in Scotland take a vitamin D supplement in winter, a 2019 survey found.",
                "Vitamin D deficiency was found in 17% of Scottish adults tested in a 2015 study.",
            ),
        ]
    )
    assert [label_of(p) for p in probs] == ["neutral", "neutral"], probs


def test_unrelated_evidence_is_neutral(stance: StanceModel):
    (p,) = stance.predict(
        [("Opioids raise prolactin levels", "The Great Barrier Reef is the largest coral reef system on Earth.")]
    )
    assert label_of(p) == "neutral", p


def test_claim_features_has_a_fixed_length_for_any_k():
    for k in (0, 1, 5, 9):
        probs = np.tile([0.2, 0.1, 0.7], (k, 1))
        x = claim_features(probs, np.linspace(0.9, 0.3, k), ["ungraded"] * k)
        assert x.shape == (len(FEATURE_NAMES),)
    with pytest.raises(ValueError, match="unknown grade"):
        claim_features(np.array([[0.5, 0.2, 0.3]]), [0.8], ["excellent"])


def test_verdict_says_supported_only_with_supporting_evidence(stance: StanceModel, verdict: VerdictModel):
    claim = "Opioid use raises prolactin levels"
    unrelated = [
        "The Great Barrier Reef is the largest coral reef system on Earth.",
        "Regular aerobic exercise lowers resting heart rate in adults.",
    ]
    cases = {
        "supporting": [EVIDENCE, *unrelated],
        "unrelated only": unrelated,
        "contradicting": ["Opioid use decreases serum prolactin concentrations.", *unrelated],
    }
    verdicts = {}
    for name, evidence in cases.items():
        probs = stance.predict([(claim, e) for e in evidence])
        sims = [0.8] + [0.1] * (len(evidence) - 1) if name != "unrelated only" else [0.1] * len(evidence)
        x = claim_features(probs, sims, ["high"] + ["ungraded"] * (len(evidence) - 1))
        verdicts[name] = verdict.predict_proba(x)[0]
    assert VERDICT_LABELS[int(np.argmax(verdicts["supporting"]))] == "supported", verdicts
    assert VERDICT_LABELS[int(np.argmax(verdicts["unrelated only"]))] != "supported", verdicts
    assert VERDICT_LABELS[int(np.argmax(verdicts["contradicting"]))] != "supported", verdicts
    assert verdicts["supporting"][0] > verdicts["unrelated only"][0] + 0.3


def test_verdict_probabilities_are_in_label_order_and_sum_to_one(verdict: VerdictModel):
    x = np.stack(
        [claim_features(np.array([[0.9, 0.05, 0.05]]), [0.7], ["moderate"]), claim_features(np.zeros((0, 3)), [], [])]
    )
    p = verdict.predict_proba(x)
    assert p.shape == (2, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert verdict.labels == ("supported", "contradicted", "unsupported")
    assert p[1].argmax() == VERDICT_LABELS.index("unsupported")


def test_a_weak_supports_is_not_read_as_support_nor_as_contradiction():
    probs = np.array([[0.45, 0.15, 0.40], [0.80, 0.05, 0.15], [0.45, 0.40, 0.15], [0.40, 0.45, 0.15]])
    labels = apply_min_support(probs, 0.57).argmax(axis=1)
    # an untrusted support takes no side; a contradiction stays one only when the model put it first
    assert [LABELS[i] for i in labels] == ["neutral", "supports", "neutral", "contradicts"]
    np.testing.assert_allclose(apply_min_support(probs, 0.57).sum(axis=1), 1.0)


def test_the_support_cut_is_the_lowest_that_keeps_false_supported_within_the_limit():
    # gold: two supports, three not; P(supports) of the three non-supports is 0.55, 0.62 and 0.20
    y = np.array([0, 0, 1, 2, 2])
    probs = np.array([[0.9, 0.05, 0.05], [0.6, 0.2, 0.2], [0.55, 0.4, 0.05], [0.62, 0.1, 0.28], [0.2, 0.1, 0.7]])
    assert fit_support_threshold(y, probs, max_false_supported=0.0) == 0.63
    assert fit_support_threshold(y, probs, max_false_supported=0.34) == 0.56


def test_the_shipped_cut_was_set_on_dev_and_is_no_looser_than_argmax(stance: StanceModel):
    assert 0.5 <= stance.config.min_support < 1.0
