"""Find the evidence items closest to a claim.

Three rankings are fused. Dense cosine similarity (MiniLM) of the whole statement catches paraphrases;
the same similarity against passages (title + three-sentence windows of long statements, item score = its
best passage) finds the one finding in an abstract that a claim restates, which one vector per abstract
blurs; FTS5 bm25 catches rare exact terms (drug names, genes, numbers) that a small embedder misses.
They are fused by a learned linear score over each candidate's cosines, their gaps to the query's best
candidate, and its bm25 relative to the query's best lexical hit: relative features carry across corpora where
raw bm25 values do not. The weights are a logistic regression fitted on SciFact training claims (`python -m
bench.retrieval --tune`) and scored on held-out ones, where it beat weighted reciprocal rank fusion (still
available, ``fusion="rrf"``) by +0.025 nDCG@10 (paired bootstrap 95% CI 0.005 to 0.048).
An optional reranker (the stance cross-encoder's relevance, 1 - P(neutral)) re-scores the top fused
candidates. The cosine similarity of claim and statement is kept on every hit, because the verdict needs
an absolute measure of relatedness, not a rank.

Large corpora: a statement or passage matrix of at least ``ann_min_items`` vectors is searched through an HNSW
index (``service.vector_index``) for the heads of the dense rankings instead of scoring every vector; the cosines
of the candidates it returns are then computed exactly, so the fused features and ``Evidence.similarity`` are the
same numbers as below the threshold, where nothing changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from veracity.corpus.store import EvidenceMatrix, EvidenceStore, PassageMatrix
from veracity.models.embedder import DIMENSIONS
from veracity.service.vector_index import ExactIndex, VectorIndex, index_path, open_index

if TYPE_CHECKING:
    from veracity.models.stance import StanceModel

# (claim, passage) pairs -> relevance in [0, 1], one per pair; e.g. 1 - P(neutral) of the stance model.
RelevanceFn = Callable[[Sequence[tuple[str, str]]], np.ndarray]
# rows -> (claim-statement cosines, item passage scores) of one query, float32, one per row.
ScoreFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
# (query index, first passage, end) -> offset of the query's best passage among passages[first:end].
BestPassageFn = Callable[[int, int, int], int]


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
    passage: str | None = None  # best-matching window of a long statement (title first); None if short


# The linear fusion's features, one row per candidate (the union of the three rankings' heads).
FUSION_FEATURES: tuple[str, ...] = (
    "dense",  # claim-statement cosine
    "passage",  # best passage cosine (the statement's own for short items)
    "dense_gap",  # dense minus the best dense among the query's candidates (<= 0)
    "passage_gap",  # the same for passages
    "bm25",  # bm25 / the query's best bm25; 0 when FTS5 did not return it
    "lexical_hit",  # 1 when FTS5 returned it
)


@dataclass(frozen=True, slots=True)
class RetrieverConfig:
    top_k: int = 5
    candidates: int = 100  # per ranking, before fusion
    fusion: str = "linear"  # "linear" (learned weights below) or "rrf" (weighted reciprocal rank fusion)
    # Logistic-regression coefficients over FUSION_FEATURES (C=0.1, balanced classes), fitted on 687 SciFact
    # training claims' candidates by `python -m bench.retrieval --tune`; only their ratios matter for ranking.
    linear_weights: tuple[float, ...] = (1.81, 4.57, 2.59, 5.78, 5.12, -0.58)
    rrf_k: int = 5  # small k: the fusion trusts the heads of the rankings (tuned: 5 and 10 beat 20 and 60)
    lexical: bool = True
    passages: bool = True
    # Weights of the rankings in the fusion, tuned by `python -m bench.retrieval --tune` on SciFact
    # training claims: exact terms (bm25) matter most for scientific claims, then the best passage.
    dense_weight: float = 0.5
    passage_weight: float = 1.0
    lexical_weight: float = 2.0
    rerank: int = 0  # top fused candidates re-scored by the reranker, if one is given; 0 = off
    rerank_weight: float = 1.0  # the reranker's ranking's weight against the fused ranking
    # A statement or passage matrix of this many vectors or more is searched through an ANN index for the dense
    # rankings' heads (VERACITY_ANN_MIN_ITEMS; 0: always exact). See service/vector_index.py and docs/scale.md.
    ann_min_items: int = 50_000

    def __post_init__(self) -> None:
        if self.fusion not in ("linear", "rrf"):
            raise ValueError(f"fusion must be 'linear' or 'rrf', not {self.fusion!r}")
        if len(self.linear_weights) != len(FUSION_FEATURES):
            raise ValueError(f"linear_weights needs {len(FUSION_FEATURES)} numbers, one per {FUSION_FEATURES}")


class Retriever:
    """Holds the corpus vectors in memory; one instance per process, shared across requests."""

    def __init__(
        self, store: EvidenceStore, config: RetrieverConfig | None = None, reranker: RelevanceFn | None = None
    ) -> None:
        self.store = store
        self.config = config or RetrieverConfig()
        self.reranker = reranker
        # Readers hold the lock while they use the index; reload() builds the new index outside it and swaps it in
        # under it, so a request never sees half an old and half a new corpus (it used to, after POST /v1/evidence).
        self._lock = threading.RLock()
        self.reload()

    def reload(self) -> None:
        """Re-read the corpus from the store (after items were added) and swap the new index in at once."""
        fresh = Retriever.__new__(Retriever)
        fresh.store, fresh.config = self.store, self.config
        fresh._build()
        with self._lock:
            for name, value in vars(fresh).items():
                if name.startswith("_"):
                    setattr(self, name, value)

    def _build(self) -> None:
        self._matrix: EvidenceMatrix = self.store.matrix()
        self._row = {item_id: i for i, item_id in enumerate(self._matrix.ids)}
        passages: PassageMatrix = (
            self.store.passage_matrix()
            if self.config.passages
            else PassageMatrix([], [], np.zeros((0, DIMENSIONS), np.float32))
        )
        owners = np.array([self._row.get(e, -1) for e in passages.evidence_ids], dtype=np.int64)
        keep = owners >= 0
        order = np.argsort(owners[keep], kind="stable")  # passages grouped by item, for reduceat
        self._passage_ids = [passages.ids[i] for i in np.flatnonzero(keep)[order]]
        self._passage_vectors = passages.vectors[keep][order]
        self._passage_owner = owners[keep][order]
        starts = (
            np.flatnonzero(np.r_[True, self._passage_owner[1:] != self._passage_owner[:-1]])
            if len(order)
            else np.zeros(0, np.int64)
        )
        self._group_starts = starts
        self._group_ends = np.r_[starts[1:], len(order)].astype(np.int64) if len(order) else starts
        self._group_rows = self._passage_owner[starts] if len(order) else np.zeros(0, np.int64)
        self._group_of = {int(r): g for g, r in enumerate(self._group_rows)}
        # Below ann_min_items both are exact and retrieval scores every vector as it always has; above it the
        # heads of the dense rankings come from the index and only the candidates are scored.
        version = self.store.version
        min_items = self.config.ann_min_items
        self._statement_index: VectorIndex = open_index(
            self._matrix.vectors, min_items, index_path(self.store.path, "statements", version), "statements"
        )
        self._passage_index: VectorIndex = open_index(
            self._passage_vectors, min_items, index_path(self.store.path, "passages", version), "passages"
        )
        self._ann = not (isinstance(self._statement_index, ExactIndex) and isinstance(self._passage_index, ExactIndex))

    @property
    def size(self) -> int:
        return len(self._matrix.ids)

    def retrieve(self, queries: list[str], vectors: np.ndarray, top_k: int | None = None) -> list[list[Evidence]]:
        """Top-k evidence per query; ``vectors`` are the queries' unit-length embeddings."""
        with self._lock:
            return self._retrieve(queries, vectors, top_k)

    def _retrieve(self, queries: list[str], vectors: np.ndarray, top_k: int | None) -> list[list[Evidence]]:
        k = top_k or self.config.top_k
        if not queries or self.size == 0:
            return [[] for _ in queries]
        cfg = self.config
        heads, scorers, best_passage = self._dense_heads(vectors)
        ranked: list[list[int]] = []
        similarity: list[dict[int, float]] = []
        for qi, query in enumerate(queries):
            rows, features, score, passage_score = self._candidates(query, *heads[qi], scorers[qi])
            by_score = np.lexsort((-passage_score, -score))  # ties: the better passage first
            ranked.append([int(rows[i]) for i in by_score])
            # the cosine column of the features: the claim-statement similarity each hit reports, not scored again
            similarity.append({int(r): float(s) for r, s in zip(rows, features[:, 0])})
        texts = self._passage_texts(best_passage, ranked, max(k, cfg.rerank if self.reranker else 0))
        if self.reranker is not None and cfg.rerank > 0:
            ranked = self._rerank(queries, ranked, texts)
        rows = self.store.get_many(sorted({self._matrix.ids[r] for order in ranked for r in order[:k]}))
        results = []
        for qi, order in enumerate(ranked):
            hits = []
            for rank, r in enumerate(order[:k]):
                item_id = self._matrix.ids[r]
                if item_id in rows:
                    hits.append(_evidence(rows[item_id], similarity[qi][r], rank, texts[qi].get(r)))
            results.append(hits)
        return results

    def _dense_heads(
        self, vectors: np.ndarray
    ) -> tuple[list[tuple[list[int], list[int]]], list[ScoreFn], BestPassageFn | None]:
        """Per query: the heads of the dense and passage rankings and a scorer of any rows; and the best passage
        of an item for a query (None without passages). Exact below the ANN threshold, the index above it."""
        n_cand = min(self.config.candidates, self.size)
        use_passages = bool(len(self._passage_ids)) and bool(
            self.config.passage_weight or self.config.fusion == "linear"
        )
        if self._ann:
            return self._ann_heads(vectors, n_cand, use_passages)
        sims, passage_sims, p_sims = self._similarities(vectors)
        heads = [
            (_top(sims[qi], n_cand), _top(passage_sims[qi], n_cand) if use_passages else [])
            for qi in range(len(vectors))
        ]
        scorers: list[ScoreFn] = [_sliced(sims[qi], passage_sims[qi]) for qi in range(len(vectors))]
        return heads, scorers, None if p_sims is None else _best_in(p_sims)

    def _ann_heads(
        self, vectors: np.ndarray, n_cand: int, use_passages: bool
    ) -> tuple[list[tuple[list[int], list[int]]], list[ScoreFn], BestPassageFn | None]:
        """The index's nearest statements and passages, rescored exactly. The passage ranking ranks items by
        max(statement, best passage): its head lies among the nearest statements and the owners of the nearest
        passages (several passages per item, hence the deeper passage search)."""
        dense_rows, _ = self._statement_index.search(vectors, n_cand)
        passage_rows = None
        if use_passages:
            passage_rows, _ = self._passage_index.search(vectors, min(3 * n_cand, len(self._passage_ids)))
        heads: list[tuple[list[int], list[int]]] = []
        scorers: list[ScoreFn] = []
        for qi, vector in enumerate(vectors):
            scorer = _OnDemandScores(self, vector)
            found = dense_rows[qi][dense_rows[qi] >= 0]
            d, _ = scorer(found)
            dense = [int(found[i]) for i in np.argsort(-d, kind="stable")[:n_cand]]
            passage: list[int] = []
            if passage_rows is not None:
                owners = self._passage_owner[passage_rows[qi][passage_rows[qi] >= 0]]
                pool = np.array(list(dict.fromkeys(found.tolist() + owners.tolist())), dtype=np.int64)
                _, p = scorer(pool)
                passage = [int(pool[i]) for i in np.argsort(-p, kind="stable")[:n_cand]]
            heads.append((dense, passage))
            scorers.append(scorer)
        passage_vectors = self._passage_vectors

        def best(qi: int, start: int, end: int) -> int:
            return int(np.argmax(passage_vectors[start:end] @ vectors[qi]))

        return heads, scorers, best if len(self._passage_ids) else None

    def _similarities(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(q, n) claim-statement cosines, (q, n) item passage scores, and (q, passages) cosines or None."""
        sims = vectors @ self._matrix.vectors.T
        if not len(self._passage_ids):
            return sims, sims, None
        # An item's passage score is its best passage; short items (no passages) keep the statement's.
        p_sims = vectors @ self._passage_vectors.T
        group_max = np.maximum.reduceat(p_sims, self._group_starts, axis=1)
        passage_sims = sims.copy()
        passage_sims[:, self._group_rows] = np.maximum(sims[:, self._group_rows], group_max)
        return sims, passage_sims, p_sims

    def fusion_features(self, queries: list[str], vectors: np.ndarray) -> list[tuple[list[str], np.ndarray]]:
        with self._lock:
            return self._fusion_features(queries, vectors)

    def _fusion_features(self, queries: list[str], vectors: np.ndarray) -> list[tuple[list[str], np.ndarray]]:
        """(candidate ids, FUSION_FEATURES matrix) per query: what `bench.retrieval --tune` fits the weights on."""
        heads, scorers, _ = self._dense_heads(vectors)
        out = []
        for qi, query in enumerate(queries):
            rows, features, _, _ = self._candidates(query, *heads[qi], scorers[qi])
            out.append(([self._matrix.ids[r] for r in rows], features))
        return out

    def _candidates(
        self, query: str, dense: list[int], passage: list[int], scores: ScoreFn
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One query's candidates (the heads of the dense, passage and FTS5 rankings), their fusion features,
        their fused score under ``config.fusion``, and their passage scores (float32, for breaking ties)."""
        cfg = self.config
        n_cand = min(cfg.candidates, self.size)
        lexical = []
        if cfg.lexical and (cfg.lexical_weight or cfg.fusion == "linear"):
            lexical = [(self._row[i], s) for i, s in self.store.search_text(query, n_cand) if i in self._row]
        rows = np.array(list(dict.fromkeys(dense + passage + [r for r, _ in lexical])), dtype=np.int64)
        bm25 = np.zeros(len(rows))
        if lexical:
            best = max(s for _, s in lexical) or 1.0
            position = {r: i for i, r in enumerate(rows.tolist())}
            for r, s in lexical:
                bm25[position[r]] = s / best
        d32, p32 = scores(rows)
        d, p = d32.astype(np.float64), p32.astype(np.float64)
        features = np.column_stack([d, p, d - d.max(), p - p.max(), bm25, (bm25 != 0).astype(np.float64)])
        if cfg.fusion == "linear":
            return rows, features, features @ np.asarray(cfg.linear_weights, dtype=np.float64), p32
        rrf: dict[int, float] = {}
        _add_rrf(rrf, dense, cfg.dense_weight, cfg.rrf_k)
        _add_rrf(rrf, passage, cfg.passage_weight, cfg.rrf_k)
        _add_rrf(rrf, [r for r, _ in lexical], cfg.lexical_weight, cfg.rrf_k)
        return rows, features, np.array([rrf.get(int(r), 0.0) for r in rows]), p32

    def _passage_texts(self, best: BestPassageFn | None, ranked: list[list[int]], depth: int) -> list[dict[int, str]]:
        """The best passage text of each query's top ``depth`` items (only items that have passages)."""
        if best is None:
            return [{} for _ in ranked]
        wanted = {}
        for qi, order in enumerate(ranked):
            for r in order[:depth]:
                g = self._group_of.get(r)
                if g is not None:
                    start, end = self._group_starts[g], self._group_ends[g]
                    wanted[(qi, r)] = self._passage_ids[start + best(qi, int(start), int(end))]
        found = self.store.passage_texts(sorted(set(wanted.values()))) if wanted else {}
        out: list[dict[int, str]] = [{} for _ in ranked]
        for (qi, r), pid in wanted.items():
            if pid in found:
                out[qi][r] = found[pid]
        return out

    def _rerank(self, queries: list[str], ranked: list[list[int]], texts: list[dict[int, str]]) -> list[list[int]]:
        """Fuse the reranker's ranking of the top candidates with the fused ranking (RRF again)."""
        cfg = self.config
        assert self.reranker is not None
        heads = [order[: cfg.rerank] for order in ranked]
        statements = self.store.get_many(sorted({self._matrix.ids[r] for head in heads for r in head}))
        pairs = []
        for qi, head in enumerate(heads):
            for r in head:
                row = statements.get(self._matrix.ids[r], {})
                pairs.append((queries[qi], texts[qi].get(r) or row.get("statement", "")))
        relevance = np.asarray(self.reranker(pairs), dtype=np.float64)
        out = []
        start = 0
        for qi, head in enumerate(heads):
            rel = relevance[start : start + len(head)]
            start += len(head)
            scores: dict[int, float] = {}
            _add_rrf(scores, head, 1.0, cfg.rrf_k)
            _add_rrf(scores, [head[i] for i in np.argsort(-rel, kind="stable")], cfg.rerank_weight, cfg.rrf_k)
            out.append(sorted(head, key=lambda r: -scores[r]) + ranked[qi][cfg.rerank :])
        return out


def stance_relevance(model: StanceModel) -> RelevanceFn:
    """Relevance from a stance model: evidence that supports or contradicts a claim is about it."""

    def relevance(pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        return 1.0 - model.predict(list(pairs))[:, 2]

    return relevance


class _OnDemandScores:
    """One query's exact cosines for the rows asked for (the ANN path), the same float32 numbers as a full scan."""

    def __init__(self, retriever: Retriever, vector: np.ndarray) -> None:
        self.r = retriever
        self.vector = vector

    def __call__(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = self.r
        rows = np.asarray(rows, dtype=np.int64)
        dense = r._matrix.vectors[rows] @ self.vector if len(rows) else np.zeros(0, np.float32)
        passage = dense.copy()
        groups = [r._group_of.get(int(row)) for row in rows]
        have = [i for i, g in enumerate(groups) if g is not None]
        if have:
            spans = [(int(r._group_starts[groups[i]]), int(r._group_ends[groups[i]])) for i in have]
            flat = np.concatenate([np.arange(s, e) for s, e in spans])
            sims = r._passage_vectors[flat] @ self.vector
            bounds = np.cumsum([0] + [e - s for s, e in spans[:-1]])
            passage[have] = np.maximum(dense[have], np.maximum.reduceat(sims, bounds))
        return dense, passage


def _sliced(sims: np.ndarray, passage_sims: np.ndarray) -> ScoreFn:
    def scores(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return sims[rows], passage_sims[rows]

    return scores


def _best_in(p_sims: np.ndarray) -> BestPassageFn:
    def best(qi: int, start: int, end: int) -> int:
        return int(np.argmax(p_sims[qi, start:end]))

    return best


def _top(scores: np.ndarray, n: int) -> list[int]:
    idx = np.argpartition(-scores, n - 1)[:n]
    return [int(i) for i in idx[np.argsort(-scores[idx], kind="stable")]]


def _add_rrf(scores: dict[int, float], ranking: list[int], weight: float, k: int) -> None:
    for rank, row in enumerate(ranking):
        scores[row] = scores.get(row, 0.0) + weight / (k + rank + 1)


def _evidence(row: dict, similarity: float, rank: int, passage: str | None = None) -> Evidence:
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
        passage=passage,
    )
