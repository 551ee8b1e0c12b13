"""Large-corpus retrieval: above VERACITY_ANN_MIN_ITEMS the dense rankings come from a saved HNSW index.

The threshold is lowered through the config so that a test corpus of ~220 items takes the ANN path; the index is
the real usearch graph, saved beside a real SQLite file.
"""

from __future__ import annotations

import logging
import shutil
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from veracity.corpus.store import EvidenceStore
from veracity.service import vector_index
from veracity.service.retrieve import Retriever, RetrieverConfig
from veracity.service.vector_index import ExactIndex, open_index

pytest.importorskip("usearch", reason="the ANN index is the optional veracity[scale] extra")

FILLER = 200
THRESHOLD = 200  # the padded corpus: 222 statements (22 real, 200 filler) and 400 passages
CLAIMS = [
    ("Taking vitamin C every day does not stop most people from catching colds.", "health-001"),
    ("The DEA dropped its plan to put kratom's alkaloids in Schedule I in 2016.", "kratom-016"),
    ("Poison centres saw a large rise in calls about kratom exposures between 2011 and 2017.", "kratom-010"),
    ("Kratom is not approved by the FDA for any medical use.", None),
    ("Opioids raise prolactin levels.", None),
]


def _filler(n: int, start: int = 0) -> list[dict]:
    return [
        {
            "id": f"filler-{i:04d}",
            "statement": f"Filler finding number {i}. It concerns another subject. Nothing here is health. End of {i}.",
            "source_title": "Filler",
            "source_url": "https://example.org/filler",
            "publisher": "Test",
            "year": 2020,
            "study_type": "abstract",
            "grade": "ungraded",
            "topic": "filler",
            "tags": [],
        }
        for i in range(start, start + n)
    ]


def _synthetic_embed(texts: list[str]) -> np.ndarray:
    """A unit vector per text, seeded by the text."""
    out = []
    for text in texts:
        rng = np.random.default_rng(zlib.crc32(text.encode()))
        out.append(rng.standard_normal(384))
    vectors = np.asarray(out, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def big_db(built_corpus_db, tmp_path, embedder):
    """The test corpus plus 200 four-sentence filler items (two passages each), above the lowered threshold."""
    path = tmp_path / "evidence.db"
    shutil.copy(built_corpus_db, path)
    store = EvidenceStore(path)
    store.add(_filler(FILLER), _synthetic_embed, embedder.name)
    store.close()
    return path


def _index_files(db: Path) -> list[str]:
    return sorted(p.name for p in db.parent.iterdir() if ".ann-" in p.name)


def _named(db: Path, version: str) -> list[str]:
    return sorted(
        f"{db.name}.ann-{kind}-{version}.usearch{ext}" for kind in ("passages", "statements") for ext in ("", ".json")
    )


def test_ann_path_returns_the_same_top_hits_as_exact_search(big_db, embedder):
    store = EvidenceStore(big_db)
    exact = Retriever(store, RetrieverConfig(ann_min_items=0))
    ann = Retriever(store, RetrieverConfig(ann_min_items=THRESHOLD))
    assert isinstance(exact._statement_index, ExactIndex)
    assert ann._statement_index.kind == "usearch" and len(ann._statement_index) == 222
    assert ann._passage_index.kind == "usearch" and len(ann._passage_index) == 400
    queries = [c for c, _ in CLAIMS]
    vectors = embedder.encode(queries)
    for want, got, (_, expected) in zip(
        exact.retrieve(queries, vectors, top_k=5), ann.retrieve(queries, vectors, top_k=5), CLAIMS
    ):
        assert [h.id for h in got] == [h.id for h in want]
        assert [h.similarity for h in got] == pytest.approx([h.similarity for h in want], abs=1e-4)
        assert [h.passage for h in got] == [h.passage for h in want]
        if expected:
            assert got[0].id == expected
    # The candidate lists (100 per ranking) may differ at their tail, where filler scores are a float16 rounding
    # apart inside the graph; the features of the candidates both have are the same numbers.
    for (ids_a, feats_a), (ids_b, feats_b) in zip(
        exact.fusion_features(queries, vectors), ann.fusion_features(queries, vectors)
    ):
        common = sorted(set(ids_a) & set(ids_b))
        assert len(common) >= 0.95 * len(ids_a)
        rows_a = [ids_a.index(i) for i in common]
        rows_b = [ids_b.index(i) for i in common]
        np.testing.assert_allclose(feats_a[rows_a][:, [0, 1, 4, 5]], feats_b[rows_b][:, [0, 1, 4, 5]], atol=1e-5)


def test_index_is_saved_beside_the_database_and_reused_while_the_corpus_is_unchanged(big_db, caplog):
    store = EvidenceStore(big_db)
    Retriever(store, RetrieverConfig(ann_min_items=THRESHOLD))
    version = store.version
    assert _index_files(big_db) == _named(big_db, version)
    saved = big_db.parent / f"evidence.db.ann-statements-{version}.usearch"
    before = saved.stat()
    caplog.clear()  # another test may have set the level already: keep only the second start's lines
    with caplog.at_level(logging.INFO, logger="veracity.service.vector_index"):
        Retriever(EvidenceStore(big_db), RetrieverConfig(ann_min_items=THRESHOLD))
    assert "loaded the saved HNSW index" in caplog.text and "built" not in caplog.text
    assert (saved.stat().st_ino, saved.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_adding_evidence_rebuilds_the_index_and_finds_the_new_item(big_db, embedder):
    store = EvidenceStore(big_db)
    retriever = Retriever(store, RetrieverConfig(ann_min_items=THRESHOLD))
    old_version = store.version
    item = _filler(1, start=FILLER)[0] | {
        "id": "new-001",
        "statement": "Octopuses have three hearts and blue copper-based blood.",
    }
    store.add([item], embedder.encode, embedder.name)
    retriever.reload()  # what POST /v1/evidence does
    assert len(retriever._statement_index) == 223
    assert _index_files(big_db) == _named(big_db, store.version)  # the old version's files are gone
    assert store.version != old_version
    claim = "An octopus has three hearts."
    assert retriever.retrieve([claim], embedder.encode([claim]), top_k=1)[0][0].id == "new-001"


@pytest.mark.parametrize("damage", ["flip", "truncate", "sidecar"])
def test_a_corrupt_or_stale_index_file_is_rebuilt_not_trusted(big_db, embedder, caplog, damage):
    store = EvidenceStore(big_db)
    Retriever(store, RetrieverConfig(ann_min_items=THRESHOLD))
    saved = big_db.parent / f"evidence.db.ann-statements-{store.version}.usearch"
    good = saved.read_bytes()
    if damage == "flip":  # a graph link or a vector byte changed: the checksum catches it
        raw = bytearray(good)
        raw[len(raw) // 2] ^= 0xFF
        saved.write_bytes(bytes(raw))
    elif damage == "truncate":
        saved.write_bytes(good[: len(good) // 3])
    else:  # built from other vectors (e.g. re-embedded with another model under the same corpus version)
        sidecar = saved.with_name(saved.name + ".json")
        sidecar.write_text(sidecar.read_text().replace('"vectors_sha256": "', '"vectors_sha256": "0'))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="veracity.service.vector_index"):
        retriever = Retriever(EvidenceStore(big_db), RetrieverConfig(ann_min_items=THRESHOLD))
    assert "rebuilding it" in caplog.text and "built an HNSW index" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="veracity.service.vector_index"):
        Retriever(EvidenceStore(big_db), RetrieverConfig(ann_min_items=THRESHOLD))
    assert "loaded the saved HNSW index" in caplog.text and "rebuilding" not in caplog.text
    claim = CLAIMS[0][0]
    assert retriever.retrieve([claim], embedder.encode([claim]), top_k=1)[0][0].id == "health-001"


def test_without_usearch_a_large_corpus_is_searched_exactly_with_one_warning(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "usearch.index", None)  # import fails as if not installed
    monkeypatch.setattr(vector_index, "_warned_missing", vector_index.threading.Event())
    vectors = _synthetic_embed([f"v{i}" for i in range(50)])
    with caplog.at_level(logging.WARNING, logger="veracity.service.vector_index"):
        first = open_index(vectors, min_items=10)
        second = open_index(vectors, min_items=10)
    assert isinstance(first, ExactIndex) and isinstance(second, ExactIndex)
    assert caplog.text.count("usearch is not installed") == 1 and "veracity[scale]" in caplog.text


def test_exact_and_hnsw_search_agree_and_pad_a_short_answer():
    vectors = _synthetic_embed([f"v{i}" for i in range(300)])
    queries = vectors[:5] + 0.05 * _synthetic_embed([f"q{i}" for i in range(5)])
    exact = ExactIndex(vectors)
    graph = open_index(vectors, min_items=100)
    assert graph.kind == "usearch"
    rows_e, scores_e = exact.search(queries, 10)
    rows_g, scores_g = graph.search(queries, 10)
    assert (rows_e[:, 0] == np.arange(5)).all() and (rows_g[:, 0] == np.arange(5)).all()
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows_e, rows_g)]) >= 0.9
    assert scores_g[:, 0] == pytest.approx(scores_e[:, 0], abs=2e-3)  # float16 storage inside the graph
    rows, scores = ExactIndex(vectors[:3]).search(queries[:1], 5)
    assert rows[0, 3:].tolist() == [-1, -1] and np.isneginf(scores[0, 3:]).all()


def test_corpus_import_builds_the_index_of_a_large_corpus(tmp_path):
    from click.testing import CliRunner

    from veracity.service.cli import main

    db = tmp_path / "imported.db"
    data = tmp_path / "items.jsonl"
    shutil.copy(Path(__file__).parent / "data" / "evidence.jsonl", data)
    result = CliRunner().invoke(
        main, ["corpus", "import", str(data), "--db", str(db)], env={"VERACITY_ANN_MIN_ITEMS": "20"}
    )
    assert result.exit_code == 0, result.output
    assert "Building the nearest-neighbour index" in result.output
    version = EvidenceStore(db).version
    assert f"imported.db.ann-statements-{version}.usearch" in _index_files(db)
