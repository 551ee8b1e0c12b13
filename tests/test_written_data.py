"""The stance data written here (annotations/stance): its schema, its provenance, and what it must never contain.

The training pairs and the challenge set are files the team wrote by hand; these tests are what keeps a careless
edit (a typo in a label, a claim copied from the seed article, a challenge claim leaking into training) out of the
model. The join with ../shared's evidence texts is checked where ../shared is present.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from training.stance_data import load_split
from training.stance_written import (
    ANNOTATIONS_DIR,
    WRITTEN_AGAINST,
    EvidenceResolver,
    RecordError,
    check_record,
    cohen_kappa,
    corpus_statements,
    read_challenge,
    read_records,
    read_written,
    split_of_group,
    to_pairs,
)
from veracity.service.segment import segment

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed_article.txt"
DATASETS = ROOT.parent / "shared" / "datasets"
needs_shared = pytest.mark.skipif(not DATASETS.exists(), reason="needs ../shared/datasets for the evidence texts")


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


@pytest.fixture(scope="module")
def written() -> list[dict]:
    return read_written()


@pytest.fixture(scope="module")
def challenge() -> list[dict]:
    return read_challenge()


def test_every_record_follows_the_schema(written, challenge):
    # read_* raise RecordError on the first bad line; reaching here means every line parsed and checked
    assert written and challenge
    assert len({r["id"] for r in written}) == len(written)
    assert len({r["id"] for r in challenge}) == len(challenge)


def test_a_bad_record_is_named_with_its_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    good = {
        "id": "x-1",
        "claim": "Aspirin lowers fever.",
        "label": "supports",
        "evidence_ref": "corpus:kratom-001",
        "kind": "paraphrase",
        "pass": "writer-1",
    }
    bad.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "x-2", "label": "true"}) + "\n")
    with pytest.raises(RecordError, match=r"bad.jsonl:2: label 'true' is not one of"):
        read_records(bad)
    assert check_record({**good, "kind": "direction_flip"}) == [
        "kind 'direction_flip' is not a supports kind (consequence, generalisation, hedged, negated_match, "
        "paraphrase, retrieved_related, understatement)"
    ]
    assert check_record({**good, "evidence_ref": "pubmed:123"})[0].startswith("evidence_ref 'pubmed:123'")


def test_enough_pairs_of_each_label_from_enough_evidence(written):
    labels = Counter(r["label"] for r in written)
    assert len(written) >= 20_000
    assert labels["contradicts"] >= 7_000 and labels["supports"] >= 6_000
    assert len({r["evidence_ref"] for r in written}) >= 3_000


def test_no_claim_is_a_sentence_of_the_seed_article(written, challenge):
    seed = {_norm(s.text) for s in segment(SEED.read_text(encoding="utf-8")) if len(s.text.split()) >= 4}
    claims = [_norm(r["claim"]) for r in written + challenge]
    assert not [c for c in claims if c in seed]
    long_seed = [s for s in seed if len(s.split()) >= 8]
    assert not [c for c in claims if any(s in c for s in long_seed)]


def test_the_challenge_set_is_minimal_pairs_kept_out_of_training(written, challenge):
    pairs = defaultdict(list)
    for r in challenge:
        pairs[r["pair_id"]].append(r)
    assert len(pairs) >= 600
    for members in pairs.values():
        assert len(members) == 2
        assert len({m["evidence_ref"] for m in members}) == 1 and len({m["phenomenon"] for m in members}) == 1
    assert not {r["evidence_ref"] for r in challenge} & {r["evidence_ref"] for r in written}


def test_corpus_references_resolve_without_shared_to_the_statements_their_writers_read(written, challenge):
    items = corpus_statements(WRITTEN_AGAINST)
    assert EvidenceResolver(ROOT / "no-shared").corpus_dir == WRITTEN_AGAINST  # not today's corpus, which moves on
    corpus_refs = [r for r in written + challenge if r["evidence_ref"].startswith("corpus:")]
    later = [r for r in corpus_refs if r["evidence_ref"].split(":", 1)[1] not in items]
    assert len(later) < len(corpus_refs)
    # a pair about an item added since carries the statement its annotator read
    assert all(r.get("evidence", "").strip() for r in later)


def test_kappa_is_one_for_agreement_and_zero_for_chance():
    assert cohen_kappa(["a", "b", "a"], ["a", "b", "a"]) == 1.0
    assert cohen_kappa(["a", "a", "b", "b"], ["a", "b", "a", "b"]) == 0.0


def test_split_follows_the_evidence_source_not_the_pair():
    split = load_split(ROOT / "models" / "stance" / "splits.json")
    assert {split_of_group("ei:PMC123", split) for _ in range(3)} == {split_of_group("ei:PMC123", split)}
    shares = Counter(split_of_group(f"ei:PMC{i}", split) for i in range(4000))
    assert 0.12 < shares["validation"] / 4000 < 0.18 and 0.06 < shares["dev"] / 4000 < 0.10


@needs_shared
def test_every_reference_joins_to_its_evidence_and_one_source_stays_in_one_split(written, challenge):
    resolver = EvidenceResolver(DATASETS)
    split = load_split(ROOT / "models" / "stance" / "splits.json")
    where: dict[str, set[str]] = defaultdict(set)
    for pair, s in to_pairs(written, resolver, split):
        assert pair.evidence.strip()
        where[pair.group].add(s)
    assert all(len(s) == 1 for s in where.values())
    challenge_pairs = list(to_pairs(challenge, resolver, split, source="challenge"))
    assert {s for _, s in challenge_pairs} == {"validation"}
    # nothing of the challenge set's sources is trained on: not its evidence's article, not its claims
    trained = [pair for pair, s in to_pairs(written, resolver, split) if s == "train"]
    assert not {p.group for p, _ in challenge_pairs} & {p.group for p in trained}
    assert not {_norm(p.claim) for p, _ in challenge_pairs} & {_norm(p.claim) for p in trained}


def test_the_guideline_and_data_card_sit_beside_the_data():
    for name in ("ANNOTATION.md", "DATACARD.md"):
        assert (ANNOTATIONS_DIR / name).stat().st_size > 1000
