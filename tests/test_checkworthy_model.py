"""The trained check-worthiness model, loaded from the repository and fed real MiniLM embeddings.

These pin down the behaviour the service relies on: article scaffolding (headings, questions, outline
instructions) is never reported as a claim, and plain factual assertions are.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from veracity.models.checkworthy import (
    DEFAULT_MODEL_DIR,
    SURFACE_FEATURE_NAMES,
    CheckworthyModel,
    rule_score,
    surface_features,
)
from veracity.models.embedder import Embedder
from veracity.service.checkworthy import rule_checkworthiness
from veracity.service.segment import Segment, segment

ARTICLES = Path(__file__).resolve().parent.parent / "bench" / "data" / "checkworthy_articles.jsonl"


@pytest.fixture(scope="module")
def model() -> CheckworthyModel:
    return CheckworthyModel.load(DEFAULT_MODEL_DIR)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def scores(model: CheckworthyModel, embedder: Embedder, texts: list[str], kind: str | list[str]) -> np.ndarray:
    kinds = [kind] * len(texts) if isinstance(kind, str) else kind
    return model.score(texts, kinds, embedder.encode(texts))


def seed_rows() -> list[dict[str, object]]:
    rows = [json.loads(line) for line in ARTICLES.read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if r["source"] == "seed"]


def test_model_loads_offline_from_the_repository_without_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    model = CheckworthyModel.load(DEFAULT_MODEL_DIR)
    metrics = json.loads((DEFAULT_MODEL_DIR / "metrics.json").read_text(encoding="utf-8"))
    assert 0.0 < model.threshold < 1.0
    assert model.threshold == metrics["threshold"]
    assert model.revision == metrics["revision"]
    assert (DEFAULT_MODEL_DIR / "README.md").is_file()
    assert not list(DEFAULT_MODEL_DIR.glob("*.pkl")) and not list(DEFAULT_MODEL_DIR.glob("*.joblib"))


def test_headings_are_not_checkworthy(model: CheckworthyModel, embedder: Embedder) -> None:
    headings = [
        "Introduction",
        "Benefits of Kratom",
        "How Opioids Affect Prolactin",
        "Conclusion",
        "The Bottom Line on Vitamin D",
        "Step 2: Gradually Reduce Your Dose",
        "What Is Lofexidine?",
    ]
    assert np.all(scores(model, embedder, headings, "heading") < model.threshold)


def test_questions_are_not_checkworthy(model: CheckworthyModel, embedder: Embedder) -> None:
    questions = [
        "Is kratom legal in the United States?",
        "How long do withdrawal symptoms last?",
        "What is the best way to taper off opioids?",
        "Can prolactin levels affect your mood?",
    ]
    assert np.all(scores(model, embedder, questions, "sentence") < model.threshold)


def test_outline_instructions_and_calls_to_action_are_not_checkworthy(
    model: CheckworthyModel, embedder: Embedder
) -> None:
    lines = [
        "Explain opioid withdrawal symptoms: physical and psychological.",
        "Describe the history of methadone clinics.",
        "Discuss the evidence for kratom as a withdrawal aid.",
        "Talk to your doctor before stopping any medication.",
        "Subscribe to our newsletter for more health tips.",
    ]
    for kind in ("sentence", "list_item"):
        assert np.all(scores(model, embedder, lines, kind) < model.threshold), kind


def test_seed_article_headings_and_outline_lines_are_not_checkworthy(
    model: CheckworthyModel, embedder: Embedder
) -> None:
    outline = [r for r in seed_rows() if r["kind"] in ("heading", "list_item")]
    assert len(outline) == 6
    texts = [str(r["text"]) for r in outline]
    assert np.all(scores(model, embedder, texts, [str(r["kind"]) for r in outline]) < model.threshold)


def test_clear_factual_assertions_are_checkworthy(model: CheckworthyModel, embedder: Embedder) -> None:
    claims = [
        "Lofexidine was approved by the FDA in 2018.",
        "Kratom contains mitragynine, which binds to opioid receptors.",
        "More than 100,000 Americans died of drug overdoses in 2022.",
        "Smoking during pregnancy doubles the risk of stillbirth.",
    ]
    assert np.all(scores(model, embedder, claims, "sentence") >= model.threshold)


def test_scores_are_probabilities_in_unit_interval(model: CheckworthyModel, embedder: Embedder) -> None:
    texts = [str(r["text"]) for r in seed_rows()]
    result = scores(model, embedder, texts, [str(r["kind"]) for r in seed_rows()])
    assert result.shape == (len(texts),)
    assert np.all((result >= 0.0) & (result <= 1.0))


def test_score_rejects_embeddings_that_do_not_match_the_texts(model: CheckworthyModel) -> None:
    with pytest.raises(ValueError, match="embeddings have shape"):
        model.score(["One sentence."], ["sentence"], np.zeros((2, 384), dtype=np.float32))
    with pytest.raises(ValueError, match="kind"):
        model.score(["One sentence."], ["paragraph"], np.zeros((1, 384), dtype=np.float32))


def test_rule_score_feature_matches_the_services_rule_based_version() -> None:
    rows = [json.loads(line) for line in ARTICLES.read_text(encoding="utf-8").splitlines()]
    seed = Path(__file__).parent / "data" / "seed_article.txt"
    segments = [Segment(i, r["text"], 0, len(r["text"]), r["kind"]) for i, r in enumerate(rows)]
    segments += segment(seed.read_text(encoding="utf-8"))
    for s in segments:
        assert rule_score(s.text, s.kind) == rule_checkworthiness(s).score, s.text


def test_surface_features_are_named_and_deterministic() -> None:
    first = surface_features("Lofexidine was approved by the FDA in 2018.", "sentence")
    assert first.shape == (len(SURFACE_FEATURE_NAMES),)
    assert np.array_equal(first, surface_features("Lofexidine was approved by the FDA in 2018.", "sentence"))
    named = dict(zip(SURFACE_FEATURE_NAMES, first, strict=True))
    assert named["has_number"] == 1.0 and named["ends_with_question"] == 0.0 and named["is_heading"] == 0.0
