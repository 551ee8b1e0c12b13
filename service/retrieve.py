"""Find the evidence items closest to a claim.

Dense cosine similarity (MiniLM) catches paraphrases; FTS5 bm25 catches rare exact terms (drug names,
numbers) that a small embedder blurs. Their rankings are fused with reciprocal rank fusion, which needs
no score calibration between the two. The cosine similarity of every hit is kept, because the verdict
needs an absolute measure of relatedness, not a rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from corpus.store import EvidenceMatrix, EvidenceStore


@dataclass(frozen=True, slots=True)
class Evidence:
    id: str
    statement: str
    source_title: str
    source_url: str | None
    pmid: str | None
    doi: str | None
    publisher: str
    year: int
    study_type: str
    grade: str
    similarity: float  # cosine similarity of claim and statement, -1..1
    rank: int


@dataclass(frozen=True, slots=True)
class RetrieverConfig:
    top_k: int = 5
    candidates: int = 50  # per ranking, before fusion
    rrf_k: int = 60
    lexical: bool = True


class Retriever:
    """Holds the corpus vectors in memory; one instance per process, shared across requests."""

    def __init__(self, store: EvidenceStore, config: RetrieverConfig | None = None) -> None:
        self.store = store
        self.config = config or RetrieverConfig()
        self.reload()

    def reload(self) -> None:
        self._matrix: EvidenceMatrix = self.store.matrix()
        self._row = {item_id: i for i, item_id in enumerate(self._matrix.ids)}

    @property
    def size(self) -> int:
        return len(self._matrix.ids)

    def retrieve(self, queries: list[str], vectors: np.ndarray, top_k: int | None = None) -> list[list[Evidence]]:
        """Top-k evidence per query; ``vectors`` are the queries' unit-length embeddings."""
        k = top_k or self.config.top_k
        if not queries or self.size == 0:
            return [[] for _ in queries]
        sims = vectors @ self._matrix.vectors.T  # (q, n)
        n_cand = min(self.config.candidates, self.size)
        ranked_ids: list[list[str]] = []
        for qi, query in enumerate(queries):
            dense = np.argpartition(-sims[qi], n_cand - 1)[:n_cand]
            dense = dense[np.argsort(-sims[qi][dense])]
            scores: dict[int, float] = {}
            for rank, row in enumerate(dense):
                scores[int(row)] = 1.0 / (self.config.rrf_k + rank + 1)
            if self.config.lexical:
                for rank, (item_id, _) in enumerate(self.store.search_text(query, n_cand)):
                    row = self._row.get(item_id)
                    if row is not None:
                        scores[row] = scores.get(row, 0.0) + 1.0 / (self.config.rrf_k + rank + 1)
            best = sorted(scores, key=lambda r: (-scores[r], -sims[qi][r]))[:k]
            ranked_ids.append([self._matrix.ids[r] for r in best])
        rows = self.store.get_many(sorted({i for ids in ranked_ids for i in ids}))
        results = []
        for qi, ids in enumerate(ranked_ids):
            results.append(
                [
                    _evidence(rows[item_id], float(sims[qi][self._row[item_id]]), rank)
                    for rank, item_id in enumerate(ids)
                    if item_id in rows
                ]
            )
        return results


def _evidence(row: dict, similarity: float, rank: int) -> Evidence:
    return Evidence(
        id=row["id"],
        statement=row["statement"],
        source_title=row["source_title"],
        source_url=row["source_url"],
        pmid=row["pmid"],
        doi=row["doi"],
        publisher=row["publisher"],
        year=row["year"],
        study_type=row["study_type"],
        grade=row["grade"],
        similarity=round(similarity, 4),
        rank=rank,
    )
