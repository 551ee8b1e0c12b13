"""The evidence store and importers on real SQLite files: all-or-nothing imports with line-numbered errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veracity.corpus.importers import CorpusImportError, read_claimreview, read_items, read_scifact_corpus
from veracity.corpus.store import DuplicateIdError, EvidenceStore

DATA = Path(__file__).parent / "data"


def test_good_file_imports_with_embeddings_and_fts(tmp_path, embedder):
    store = EvidenceStore(tmp_path / "c.db")
    added = store.add(read_items(DATA / "evidence.jsonl"), embedder.encode, embedder.name)
    assert added == store.count() == 22
    matrix = store.matrix()
    assert matrix.vectors.shape == (22, 384)
    assert matrix.model == embedder.name
    assert store.search_text("kratom scheduling DEA")[0][0] == "kratom-016"
    assert len(store.version) == 12


def test_bad_file_reports_every_bad_line_and_field_and_imports_nothing(tmp_path):
    with pytest.raises(CorpusImportError) as info:
        read_items(DATA / "bad_evidence.jsonl")
    message = str(info.value)
    assert "line 2: grade: 'excellent' is not one of" in message
    assert "line 3: invalid JSON" in message
    assert "line 4: pmid: 'PMID123' must be digits only" in message
    assert "line 4: doi: 'doi:10.1/x' must start with '10.'" in message
    assert "line 4: source_url: every item needs" not in message  # it has a (bad) pmid and doi
    assert "nothing imported" in message


def test_duplicate_ids_are_refused_without_partial_writes(corpus_db, embedder):
    store = EvidenceStore(corpus_db)
    before = store.count()
    items = read_items(DATA / "evidence.jsonl")[:3]
    fresh = dict(items[0], id="brand-new-item")
    with pytest.raises(DuplicateIdError, match="--replace"):
        store.add([fresh] + items, embedder.encode, embedder.name)
    assert store.count() == before
    assert store.get("brand-new-item") is None


def test_replace_changes_the_corpus_version(corpus_db, embedder):
    store = EvidenceStore(corpus_db)
    version = store.version
    item = dict(read_items(DATA / "evidence.jsonl")[0], statement="A changed statement about methadone mortality.")
    store.add([item], embedder.encode, embedder.name, replace=True)
    assert store.version != version
    assert store.get(item["id"])["statement"] == item["statement"]


def test_csv_import_with_tags(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(
        "id,statement,source_title,source_url,publisher,year,study_type,grade,topic,tags\n"
        "n-1,Naloxone reverses opioid overdose.,Naloxone label,https://www.fda.gov/,FDA,2023,drug_label,moderate,naloxone,overdose;otc\n"
        "n-2,,Naloxone label,https://www.fda.gov/,FDA,2023,drug_label,moderate,naloxone,\n",
        encoding="utf-8",
    )
    with pytest.raises(CorpusImportError, match="line 3: statement: required"):
        read_items(path)
    path.write_text("\n".join(path.read_text().splitlines()[:2]) + "\n", encoding="utf-8")
    assert read_items(path)[0]["tags"] == ["overdose", "otc"]


def test_scifact_and_claimreview_importers(tmp_path):
    scifact = tmp_path / "corpus.jsonl"
    scifact.write_text(
        json.dumps({"doc_id": 42, "title": "A trial", "abstract": ["First sentence.", "Second."]}) + "\n"
    )
    items = read_scifact_corpus(scifact)
    assert items[0]["id"] == "scifact-42" and items[0]["grade"] == "ungraded"
    assert items[0]["statement"] == "First sentence. Second."

    review = tmp_path / "review.json"
    review.write_text(
        json.dumps(
            {
                "@type": "ClaimReview",
                "url": "https://www.example-factcheck.org/kratom",
                "claimReviewed": "Kratom cures opioid addiction",
                "author": {"name": "Example Fact Check"},
                "datePublished": "2023-05-01",
                "reviewRating": {"alternateName": "False"},
            }
        )
    )
    items = read_claimreview(review)
    assert items[0]["statement"] == "Example Fact Check rated the claim 'Kratom cures opioid addiction' as False."
    assert items[0]["year"] == 2023 and items[0]["study_type"] == "fact_check"
    assert read_claimreview(review)[0]["id"] == items[0]["id"]


def test_scifact_csv_abstract_stored_as_numpy_repr_is_parsed_whole(tmp_path):
    import gzip

    path = tmp_path / "corpus_train.csv.gz"
    long_sentence = "Methadone lowered mortality in the cohort. " * 60
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(
            "doc_id,title,abstract,structured\n7,T,\"['First sentence.'\n 'Second: café.' '"
            + long_sentence.strip()
            + "']\",False\n"
        )
    statement = read_scifact_corpus(path)[0]["statement"]
    assert statement.startswith("First sentence. Second: café. Methadone")
    assert "['" not in statement and len(statement) > 2000
