"""Myths that the shipped corpus contradicts are never called "supported", end to end.

The whole default corpus, the real retriever, stance model, combiner and rules. A wrong "supported" is the
worst error Veracity can make, and these are the claims a health reader is most likely to check.
"""

from __future__ import annotations

import pytest

from veracity.corpus import builder
from veracity.service.pipeline import build_pipeline
from veracity.service.settings import Settings

MYTHS = [
    # The FDA warning-letter item (kratom-103) shares most of this claim's words and has read as support; the FDA
    # commissioner's statement (kratom-018) contradicts it.
    "Kratom is approved by the FDA to treat opioid withdrawal.",
    "Kratom is a safe and FDA-approved treatment for opioid addiction.",
    "The MMR vaccine causes autism.",
]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, embedder):
    path = tmp_path_factory.mktemp("default-corpus") / "corpus.db"
    builder.build(path, embedder.encode, embedder.name).close()
    return build_pipeline(Settings(corpus_db=path, build_corpus=False))


@pytest.mark.parametrize("claim", MYTHS)
def test_a_myth_the_corpus_contradicts_is_not_supported(pipeline, claim):
    verdict = pipeline.check(claim, check_all=True).sentences[0].verdict
    assert verdict.label != "supported", (verdict.reason, [(e.evidence.id, e.stance) for e in verdict.evidence])


@pytest.mark.parametrize(
    "sentence",
    ["Apple released the iPhone 15 in September 2023.", "The Nile flows into the Mediterranean Sea."],
)
def test_off_topic_text_is_not_covered_by_the_bundled_corpus(pipeline, sentence):
    verdict = pipeline.check(sentence, check_all=True).sentences[0].verdict
    assert verdict.label == "unsupported" and verdict.reason_code == "not_covered", verdict.reason
