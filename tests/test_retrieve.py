"""Retrieval with the real embedder: paraphrases find the item that states the finding."""

from __future__ import annotations

import pytest

from veracity.corpus.store import EvidenceStore
from veracity.service.retrieve import Retriever


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


LONG_ABSTRACT = (
    "Sleep loss is common in shift workers. We recruited 240 nurses from four hospitals. "
    "Participants wore actigraphs for two weeks. Questionnaires measured mood and alertness. "
    "Night shifts reduced total sleep by 1.5 hours on average. "
    "Caffeine intake after midnight was associated with a twofold higher risk of insomnia. "
    "Older nurses reported more daytime fatigue. Larger trials are needed."
)


def _abstract_item(item_id: str, statement: str, title: str) -> dict:
    return {
        "id": item_id,
        "statement": statement,
        "source_title": title,
        "source_url": "https://example.org/a",
        "pmid": None,
        "doi": None,
        "publisher": "Test",
        "year": 2020,
        "study_type": "abstract",
        "grade": "ungraded",
        "grade_reason": None,
        "topic": "test",
        "tags": [],
    }


@pytest.fixture(scope="module")
def abstract_store(tmp_path_factory, embedder, built_corpus_db):
    import shutil

    path = tmp_path_factory.mktemp("abstracts") / "evidence.db"
    shutil.copy(built_corpus_db, path)
    store = EvidenceStore(path)
    store.add(
        [_abstract_item("abs-1", LONG_ABSTRACT, "Sleep and shift work in hospital nurses")],
        embedder.encode,
        embedder.name,
    )
    return store


def test_long_statement_is_indexed_as_title_prefixed_passages(abstract_store):
    passages = abstract_store.passage_matrix()
    assert passages.evidence_ids == ["abs-1"] * len(passages.ids) and len(passages.ids) >= 3
    texts = abstract_store.passage_texts(passages.ids)
    assert all(t.startswith("Sleep and shift work in hospital nurses. ") for t in texts.values())


def test_claim_about_one_finding_of_an_abstract_finds_it_with_its_passage(abstract_store, embedder):
    claim = "Drinking coffee late at night doubles the risk of insomnia in nurses."
    hits = Retriever(abstract_store).retrieve([claim], embedder.encode([claim]), top_k=3)[0]
    assert hits[0].id == "abs-1"
    assert "Caffeine intake after midnight" in hits[0].passage
    assert hits[0].similarity == pytest.approx(
        float(embedder.encode([claim])[0] @ embedder.encode([LONG_ABSTRACT])[0]), abs=1e-3
    )


def test_reranker_reorders_the_top_candidates(abstract_store, embedder):
    import numpy as np

    from veracity.service.retrieve import RetrieverConfig

    claim = "Taking vitamin C every day does not stop most people from catching colds."
    config = RetrieverConfig(rerank=10, rerank_weight=100.0)
    plain = Retriever(abstract_store, config).retrieve([claim], embedder.encode([claim]), top_k=10)[0]
    favour = plain[4]

    def relevance(pairs):
        return np.array([1.0 if text == favour.statement else 0.0 for _, text in pairs])

    reranked = Retriever(abstract_store, config, reranker=relevance).retrieve(
        [claim], embedder.encode([claim]), top_k=10
    )[0]
    assert reranked[0].id == favour.id
    assert sorted(h.id for h in reranked) == sorted(h.id for h in plain)


@pytest.mark.parametrize("fusion", ["linear", "rrf"])
def test_both_fusions_find_a_rare_exact_term_and_the_paraphrase(retriever, embedder, fusion):
    from veracity.service.retrieve import RetrieverConfig

    fused = Retriever(retriever.store, RetrieverConfig(fusion=fusion))
    claim = "The DEA dropped its plan to put kratom's alkaloids in Schedule I in 2016."
    assert fused.retrieve([claim], embedder.encode([claim]), top_k=3)[0][0].id == "kratom-016"


def test_fusion_features_describe_every_candidate(retriever, embedder):
    from veracity.service.retrieve import FUSION_FEATURES

    claim = "Kratom is not approved by the FDA for any medical use."
    ((ids, features),) = retriever.fusion_features([claim], embedder.encode([claim]))
    assert features.shape == (len(ids), len(FUSION_FEATURES)) and len(set(ids)) == len(ids)
    column = dict(zip(FUSION_FEATURES, features.T))
    assert column["dense_gap"].max() == pytest.approx(0.0) and (column["dense_gap"] <= 0).all()
    assert column["bm25"].max() == pytest.approx(1.0)  # relative to the query's best lexical hit
    assert set(column["lexical_hit"]) <= {0.0, 1.0}


def test_an_unknown_fusion_is_refused_with_the_choices():
    from veracity.service.retrieve import RetrieverConfig

    with pytest.raises(ValueError, match="'linear' or 'rrf'"):
        RetrieverConfig(fusion="max")


def test_readers_never_see_a_half_reloaded_index(corpus_db, embedder):
    import threading

    retriever = Retriever(EvidenceStore(corpus_db))
    queries = ["Opioids raise prolactin levels.", "Kratom is not approved by the FDA."]
    vectors = embedder.encode(queries)
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                assert all(len(hits) == 5 for hits in retriever.retrieve(queries, vectors))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    for _ in range(15):
        retriever.reload()
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
