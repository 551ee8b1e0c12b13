"""Retrieval with the real embedder: paraphrases find the item that states the finding."""

from __future__ import annotations

import pytest

from corpus.store import EvidenceStore
from service.retrieve import Retriever


@pytest.fixture(scope="module")
def retriever(built_corpus_db):
    return Retriever(EvidenceStore(built_corpus_db))


@pytest.mark.parametrize(
    "claim, expected_id",
    [
        ("Taking vitamin C every day does not stop most people from catching colds.", "health-001"),
        ("The DEA dropped its plan to put kratom's alkaloids in Schedule I in 2016.", "kratom-016"),
        ("Poison centres saw a large rise in calls about kratom exposures between 2011 and 2017.", "kratom-010"),
    ],
)
def test_paraphrase_retrieves_the_matching_item_first(retriever, embedder, claim, expected_id):
    hits = retriever.retrieve([claim], embedder.encode([claim]), top_k=3)[0]
    assert hits[0].id == expected_id
    assert hits[0].similarity > 0.5
    assert [h.rank for h in hits] == [0, 1, 2]


def test_unrelated_claim_has_low_similarity(retriever, embedder):
    claim = "The Eiffel Tower is repainted every seven years."
    hits = retriever.retrieve([claim], embedder.encode([claim]))[0]
    assert max(h.similarity for h in hits) < 0.3
