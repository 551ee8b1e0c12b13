"""Benchmark nearest-neighbour search for large corpora: exact numpy search against ANN libraries.

Run ``python -m bench.ann`` (``--quick``: 10k vectors only; ``--sizes 10000,100000``; ``--libraries usearch``).

* Vectors: the 5,183 SciFact abstracts embedded with the product's embedder (``load_embedder``, vectors cached in
  bench/results/cache/), padded to 10k / 100k / 1M with synthetic unit vectors. The padding is drawn from a Gaussian
  with the real abstracts' mean and covariance, then normalised, so it sits where MiniLM embeddings sit (the same
  anisotropy, the same cosines to a claim as an unrelated abstract) instead of near-orthogonal isotropic noise.
* Queries: the 809 SciFact ``claims_train`` claims, embedded the same way. Each query asks for the 100 nearest
  vectors, as the retriever asks each ranking for ``candidates=100``.
* recall@10: of the exact top 10 (numpy, float32 dot products), the share the index returns in its top 10;
  recall@100 the same for the whole candidate list.
* Latency: one query at a time on one thread (the server spreads requests over threads, not one query over
  cores), p50 / p95 over the claims. Build: two threads.
* Memory: each (library, size) runs in its own process; ``RSS MB`` is the process after building and querying
  (the corpus vectors included: 1.5 GB at 1M) and ``+index MB`` what the index added over the loaded vectors.
* Saved file: the index written to disk, and the time to read it back (``load s``), which is what a server start
  pays when the corpus has not changed.

The machine is shared (two cores, other jobs running): read medians, and the ratios between rows of one run.
Writes bench/results/ann.json and ann.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import CACHE_DIR, ROOT, machine, results_dir, table, write_result

DIMENSIONS = 384
CANDIDATES = 100  # what the retriever asks each dense ranking for
LATENCY_QUERIES = 300
# HNSW settings shared by every graph library, so the rows compare like with like: M (links per node),
# ef_construction (search depth while inserting) and ef_search (search depth per query; at least k = 100).
M = 16
EF_CONSTRUCTION = 128
EF_SEARCH = 128
EF_SWEEP = (100, 128, 200, 300, 500, 800)
LIBRARIES = ("exact", "sqlite-vec", "hnswlib", "faiss-hnsw", "usearch", "usearch-f16", "usearch-i8")


# -- data --------------------------------------------------------------------------------------------------


def real_vectors() -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(abstract vectors, claim vectors, notes): SciFact through the product's embedder and the bench cache."""
    from bench import EmbeddingCache
    from bench.retrieval import SCIFACT, corpus_items, load_claims
    from veracity.models.embedder import load_embedder

    cache = EmbeddingCache(load_embedder(threads=2))
    items = corpus_items(SCIFACT / "corpus_train.csv.gz")
    claims = load_claims(SCIFACT / "claims_train.jsonl")
    abstracts = cache.encode([i["statement"] for i in items])
    queries = cache.encode([c.text for c in claims])
    notes = {"abstracts": len(items), "claims": len(claims), "embedder": cache.name, "computed": cache.computed}
    cache.close()
    return abstracts.astype(np.float32), queries.astype(np.float32), notes


def padded(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``real`` followed by ``n - len(real)`` unit vectors from a Gaussian fitted to ``real``."""
    if n <= len(real):
        return np.ascontiguousarray(real[:n])
    mean = real.mean(axis=0).astype(np.float64)
    cov = np.cov(real, rowvar=False) + 1e-6 * np.eye(real.shape[1])
    chol = np.linalg.cholesky(cov)
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    out[: len(real)] = real
    for start in range(len(real), n, 100_000):
        stop = min(start + 100_000, n)
        block = mean + rng.standard_normal((stop - start, real.shape[1])) @ chol.T
        out[start:stop] = (block / np.linalg.norm(block, axis=1, keepdims=True)).astype(np.float32)
    return out


def exact_top(corpus: np.ndarray, queries: np.ndarray, k: int, block: int = 64) -> np.ndarray:
    """(q, k) rows of the k largest dot products, best first (the ground truth)."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), block):
        sims = queries[start : start + block] @ corpus.T
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, idx, axis=1), axis=1, kind="stable")
        out[start : start + block] = np.take_along_axis(idx, order, axis=1)
    return out


# -- one (library, size) cell, in its own process -------------------------------------------------------------


def _status() -> dict[str, float]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


class Cell:
    """Build, save, load and query one library's index over ``corpus``; subclasses adapt one library."""

    ef_settable = False

    def build(self, corpus: np.ndarray) -> None:
        raise NotImplementedError

    def save(self, path: Path) -> None:
        raise NotImplementedError

    def load(self, path: Path) -> None:
        raise NotImplementedError

    def search(self, query: np.ndarray, k: int) -> np.ndarray:
        """Rows of the k best, best first, for one (d,) query."""
        raise NotImplementedError

    def search_many(self, queries: np.ndarray, k: int) -> np.ndarray:
        return np.stack([self.search(q, k) for q in queries])

    def set_ef(self, ef: int) -> None:
        pass


class Exact(Cell):
    def build(self, corpus: np.ndarray) -> None:
        self.corpus = corpus

    def save(self, path: Path) -> None:
        pass  # the vectors are already in the SQLite file

    def load(self, path: Path) -> None:
        pass

    def search(self, query: np.ndarray, k: int) -> np.ndarray:
        sims = self.corpus @ query
        idx = np.argpartition(-sims, k - 1)[:k]
        return idx[np.argsort(-sims[idx], kind="stable")]

    def search_many(self, queries: np.ndarray, k: int) -> np.ndarray:
        return exact_top(self.corpus, queries, k)


class SqliteVec(Cell):
    """sqlite-vec 0.1's vec0 table in a SQLite file: a brute-force scan inside SQLite (no ANN index in 0.1).

    Python's own sqlite3 module here is built without loadable extensions (pyenv's default), so the bench reaches it
    through pysqlite3-binary, which bundles its own SQLite; the store would have to switch bindings to use it."""

    def _connect(self, path: Path):  # type: ignore[no-untyped-def]
        import pysqlite3  # type: ignore[import-not-found]
        import sqlite_vec  # type: ignore[import-not-found]

        conn = pysqlite3.connect(str(path))
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
        return conn

    def build(self, corpus: np.ndarray) -> None:
        self.path = Path(tempfile.mkdtemp(dir=CACHE_DIR)) / "vec.db"
        self.conn = self._connect(self.path)
        self.conn.execute(f"CREATE VIRTUAL TABLE v USING vec0(embedding float[{corpus.shape[1]}])")
        with self.conn:
            self.conn.executemany(
                "INSERT INTO v (rowid, embedding) VALUES (?, ?)", ((i, corpus[i].tobytes()) for i in range(len(corpus)))
            )

    def save(self, path: Path) -> None:
        self.conn.close()
        os.replace(self.path, path)
        self.path.parent.rmdir()

    def load(self, path: Path) -> None:
        self.conn = self._connect(path)

    def search(self, query: np.ndarray, k: int) -> np.ndarray:
        rows = self.conn.execute(
            "SELECT rowid FROM v WHERE embedding MATCH ? AND k = ? ORDER BY distance", (query.tobytes(), k)
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)


class Hnswlib(Cell):
    ef_settable = True

    def build(self, corpus: np.ndarray) -> None:
        import hnswlib  # type: ignore[import-not-found]

        self.index = hnswlib.Index(space="ip", dim=corpus.shape[1])
        self.index.init_index(max_elements=len(corpus), ef_construction=EF_CONSTRUCTION, M=M, random_seed=0)
        self.index.add_items(corpus, np.arange(len(corpus)), num_threads=2)
        self.index.set_ef(EF_SEARCH)
        self.dim = corpus.shape[1]

    def save(self, path: Path) -> None:
        self.index.save_index(str(path))

    def load(self, path: Path) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=self.dim)
        self.index.load_index(str(path))
        self.index.set_ef(EF_SEARCH)

    def set_ef(self, ef: int) -> None:
        self.index.set_ef(ef)

    def search(self, query: np.ndarray, k: int) -> np.ndarray:
        labels, _ = self.index.knn_query(query[None, :], k=k, num_threads=1)
        return labels[0].astype(np.int64)

    def search_many(self, queries: np.ndarray, k: int) -> np.ndarray:
        labels, _ = self.index.knn_query(queries, k=k, num_threads=1)
        return labels.astype(np.int64)


class FaissHnsw(Cell):
    ef_settable = True

    def build(self, corpus: np.ndarray) -> None:
        import faiss  # type: ignore[import-not-found]

        faiss.omp_set_num_threads(2)
        self.index = faiss.IndexHNSWFlat(corpus.shape[1], M, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = EF_CONSTRUCTION
        self.index.add(corpus)
        self.index.hnsw.efSearch = EF_SEARCH
        faiss.omp_set_num_threads(1)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    def load(self, path: Path) -> None:
        import faiss

        self.index = faiss.read_index(str(path))
        self.index.hnsw.efSearch = EF_SEARCH

    def set_ef(self, ef: int) -> None:
        self.index.hnsw.efSearch = ef

    def search(self, query: np.ndarray, k: int) -> np.ndarray:
        _, labels = self.index.search(query[None, :], k)
        return labels[0].astype(np.int64)

    def search_many(self, queries: np.ndarray, k: int) -> np.ndarray:
        _, labels = self.index.search(queries, k)
        return labels.astype(np.int64)


class Usearch(Cell):
    ef_settable = True

    def __init__(self, dtype: str = "f32") -> None:
        self.dtype = dtype

    def build(self, corpus: np.ndarray) -> None:
        from usearch.index import Index  # type: ignore[import-not-found]

        self.index = Index(
            ndim=corpus.shape[1],
            metric="ip",
            dtype=self.dtype,
            connectivity=M,
            expansion_add=EF_CONSTRUCTION,
            expansion_search=EF_SEARCH,
        )
        self.index.add(np.arange(len(corpus), dtype=np.uint64), corpus, threads=2)

    def save(self, path: Path) -> None:
        self.index.save(str(path))

    def load(self, path: Path) -> None:
        from usearch.index import Index

        self.index = Index.restore(str(path))  # read into memory, as service/vector_index.py does
        self.index.expansion_search = EF_SEARCH

    def set_ef(self, ef: int) -> None:
        self.index.expansion_search = ef

    def search(self, query: np.ndarray, k: int) -> np.ndarray:
        return self.index.search(query, k, threads=1).keys.astype(np.int64)

    def search_many(self, queries: np.ndarray, k: int) -> np.ndarray:
        return self.index.search(queries, k, threads=1).keys.astype(np.int64)


def make_cell(library: str) -> Cell:
    cells = {
        "exact": Exact,
        "sqlite-vec": SqliteVec,
        "hnswlib": Hnswlib,
        "faiss-hnsw": FaissHnsw,
        "usearch": Usearch,
        "usearch-f16": lambda: Usearch("f16"),
        "usearch-i8": lambda: Usearch("i8"),
    }
    return cells[library]()  # type: ignore[no-any-return,operator]


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k].tolist()) & set(t[:k].tolist())) / k for f, t in zip(found, truth)]))


def run_cell(library: str, data: Path, n: int, sweep: bool) -> dict[str, Any]:
    """Build, save, reload and query one index; the numbers of one table row."""
    corpus = np.load(data / f"corpus_{n}.npy")
    queries = np.load(data / "queries.npy")
    truth = np.load(data / f"truth_{n}.npy")
    before = _status()
    cell = make_cell(library)
    t0 = time.perf_counter()
    cell.build(corpus)
    build_s = time.perf_counter() - t0
    built = _status()
    path = data / f"index_{library}_{n}"
    t0 = time.perf_counter()
    cell.save(path)
    save_s = time.perf_counter() - t0
    file_mb = path.stat().st_size / 2**20 if path.exists() else 0.0
    if path.exists():
        del cell
        cell = make_cell(library)
        if isinstance(cell, Hnswlib):
            cell.dim = corpus.shape[1]
        t0 = time.perf_counter()
        cell.load(path)
        load_s = time.perf_counter() - t0
    else:
        load_s = 0.0
    if isinstance(cell, Exact):
        cell.build(corpus)
    cell.search(queries[0], CANDIDATES)  # warm-up: first-touch of pages and lazy set-up are not timed
    measured = _recall_and_latency(cell, queries, truth)
    after = _status()
    row: dict[str, Any] = {
        "library": library,
        "n": n,
        "build_s": round(build_s, 2),
        "save_s": round(save_s, 2),
        "load_s": round(load_s, 3),
        "file_mb": round(file_mb, 1),
        **measured,
        "rss_mb": round(after["VmRSS"], 1),
        "index_mb": round(max(built["VmRSS"] - before["VmRSS"], 0.0), 1),
        "peak_mb": round(after["VmHWM"], 1),
        "vectors_mb": round(corpus.nbytes / 2**20, 1),
        "measured": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    if sweep and cell.ef_settable:
        row["sweep"] = []
        for ef in EF_SWEEP:
            cell.set_ef(ef)
            row["sweep"].append({"ef": ef, **_recall_and_latency(cell, queries, truth)})
    path.unlink(missing_ok=True)
    return row


def _recall_and_latency(cell: Any, queries: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Recall@10/100 over every query and p50/p95 of one-query searches, as the service issues them."""
    latencies = []
    for q in queries[:LATENCY_QUERIES]:
        t0 = time.perf_counter()
        cell.search(q, CANDIDATES)
        latencies.append((time.perf_counter() - t0) * 1000)
    found = cell.search_many(queries, CANDIDATES)
    return {
        "recall@10": round(recall(found, truth, 10), 4),
        "recall@100": round(recall(found, truth, 100), 4),
        "p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "p95_ms": round(float(np.percentile(latencies, 95)), 3),
    }


# -- the retriever end to end -------------------------------------------------------------------------------

RETRIEVER_QUERIES = 300
RETRIEVER_MODES = {"exact": 0, "index": 1, "index, saved": 1}  # mode -> ann_min_items (1: every matrix indexed)


def grow_store(db: Path, size: int, have: int) -> int:
    """Grow the store at ``db`` to ``size`` items the way bench.speed's scaling curve does: SciFact abstracts repeated
    with their real text (so FTS5 and the passages are real work) and their cached vectors jittered per copy."""
    from bench import EmbeddingCache
    from bench.retrieval import SCIFACT, corpus_items
    from veracity.corpus.store import EvidenceStore, passages
    from veracity.models.embedder import load_embedder

    cache = EmbeddingCache(load_embedder(threads=2))
    base = corpus_items(SCIFACT / "corpus_train.csv.gz")
    texts = [i["statement"] for i in base] + [p for i in base for p in passages(i["statement"], i["source_title"])]
    vectors = dict(zip(texts, cache.encode(texts)))
    rng = np.random.default_rng(size)

    def jittered(batch: list[str]) -> np.ndarray:
        out = np.stack([vectors[t] for t in batch]) + rng.normal(0, 0.02, (len(batch), DIMENSIONS)).astype(np.float32)
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    items = []
    for n in range(have, size):
        item = dict(base[n % len(base)])
        if n // len(base):
            item["id"] = f"{item['id']}-c{n // len(base)}"
        items.append(item)
    store = EvidenceStore(db)
    store.add(items, jittered, cache.name)
    store.close()
    cache.close()
    return size


def run_retriever_cell(mode: str, db: Path, out: Path) -> dict[str, Any]:
    """One Retriever start and RETRIEVER_QUERIES claims, one at a time, in this process."""
    from bench.retrieval import SCIFACT, load_claims
    from veracity.corpus.store import EvidenceStore
    from veracity.service.retrieve import Retriever, RetrieverConfig

    claims = load_claims(SCIFACT / "claims_train.jsonl")[:RETRIEVER_QUERIES]
    queries = np.load(out / "queries.npy")[: len(claims)]
    store = EvidenceStore(db)
    before = _status()
    t0 = time.perf_counter()
    retriever = Retriever(store, RetrieverConfig(ann_min_items=RETRIEVER_MODES[mode]))
    load_s = time.perf_counter() - t0
    retriever.retrieve([claims[0].text], queries[:1])  # warm-up
    latencies, top = [], []
    for claim, vector in zip(claims, queries):
        t0 = time.perf_counter()
        hits = retriever.retrieve([claim.text], vector[None, :], top_k=5)[0]
        latencies.append((time.perf_counter() - t0) * 1000)
        top.append([h.id for h in hits])
    after = _status()
    (out / f"top_{mode.replace(', ', '_')}.json").write_text(json.dumps(top))
    return {
        "mode": mode,
        "items": retriever.size,
        "passages": len(retriever._passage_ids),
        "indexes": f"{retriever._statement_index.kind}/{retriever._passage_index.kind}",
        "load_s": round(load_s, 2),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "rss_mb": round(after["VmRSS"], 1),
        "retriever_mb": round(after["VmRSS"] - before["VmRSS"], 1),
        "measured": time.strftime("%Y-%m-%d", time.gmtime()),
    }


def run_retriever(sizes: list[int], queries: np.ndarray, timeout_s: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
        data = Path(tmp)
        np.save(data / "queries.npy", queries)
        db, have = data / "grow.db", 0
        for size in sorted(sizes):
            have = grow_store(db, size, have)
            exact_top5: list[list[str]] = []
            for mode in RETRIEVER_MODES:
                print(f"-- retriever, {mode}, at {size:,} items", flush=True)
                args = [sys.executable, "-m", "bench.ann", "--retriever-cell", mode, "--db", str(db), "--data-dir", tmp]
                try:
                    proc = subprocess.run(
                        args, cwd=ROOT, env=_ONE_THREAD, capture_output=True, text=True, timeout=timeout_s
                    )
                    row = json.loads(proc.stdout.strip().splitlines()[-1])
                except (subprocess.TimeoutExpired, IndexError, json.JSONDecodeError) as exc:
                    rows.append({"mode": mode, "items": size, "error": str(exc)[:200]})
                    continue
                top = json.loads((data / f"top_{mode.replace(', ', '_')}.json").read_text())
                if mode == "exact":
                    exact_top5 = top
                row["top1_same"] = round(float(np.mean([a[:1] == b[:1] for a, b in zip(exact_top5, top)])), 4)
                row["top5_overlap"] = round(
                    float(np.mean([len(set(a) & set(b)) / max(len(a), 1) for a, b in zip(exact_top5, top)])), 4
                )
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


# -- the whole run ----------------------------------------------------------------------------------------


def run(
    sizes: list[int], libraries: list[str], sweep: list[str], timeout_s: int, retriever_sizes: list[int]
) -> dict[str, Any]:
    started = time.perf_counter()
    abstracts, queries, notes = real_vectors()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
        data = Path(tmp)
        np.save(data / "queries.npy", queries)
        for n in sorted(sizes):
            corpus = padded(abstracts, n)
            np.save(data / f"corpus_{n}.npy", corpus)
            t0 = time.perf_counter()
            np.save(data / f"truth_{n}.npy", exact_top(corpus, queries, CANDIDATES))
            notes[f"truth_s_{n}"] = round(time.perf_counter() - t0, 1)
            del corpus
            for library in libraries:
                print(f"-- {library} at {n:,}", flush=True)
                rows.append(_subprocess_cell(library, data, n, library in sweep, timeout_s))
                print(json.dumps({k: v for k, v in rows[-1].items() if k != "sweep"}), flush=True)
            (data / f"corpus_{n}.npy").unlink()
    retriever_rows = run_retriever(retriever_sizes, queries, timeout_s) if retriever_sizes else []
    versions = _versions()
    return {
        "rows": rows,
        "retriever": retriever_rows,
        "notes": notes,
        "versions": versions,
        "params": {"M": M, "ef_construction": EF_CONSTRUCTION, "ef_search": EF_SEARCH, "k": CANDIDATES},
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
    }


_MODULES = {
    "sqlite-vec": ("sqlite_vec", "pysqlite3"),
    "hnswlib": ("hnswlib",),
    "faiss-hnsw": ("faiss",),
    "usearch": ("usearch",),
    "usearch-f16": ("usearch",),
    "usearch-i8": ("usearch",),
}
# Queries run on one thread, numpy's BLAS included (a server answers concurrent requests, one per thread); the
# graph libraries are given two threads for building explicitly.
_ONE_THREAD = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _subprocess_cell(library: str, data: Path, n: int, sweep: bool, timeout_s: int) -> dict[str, Any]:
    missing = [m for m in _MODULES.get(library, ()) if importlib.util.find_spec(m) is None]
    if missing:
        return {"library": library, "n": n, "error": f"not installed ({', '.join(missing)}); pip install it to compare"}
    args = [sys.executable, "-m", "bench.ann", "--cell", library, "--n", str(n), "--data-dir", str(data)]
    if sweep:
        args.append("--cell-sweep")
    try:
        proc = subprocess.run(args, cwd=ROOT, env=_ONE_THREAD, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"library": library, "n": n, "error": f"timed out after {timeout_s} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"library": library, "n": n, "error": tail[0][:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("numpy", "usearch", "faiss-cpu", "hnswlib", "sqlite-vec"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new``'s rows replace ``old``'s of the same library and size; the table is ordered by size, then library."""
    fresh = {(r["library"], r["n"]) for r in new["rows"]}
    rows = [r for r in old["rows"] if (r["library"], r["n"]) not in fresh] + new["rows"]
    order = {name: i for i, name in enumerate(LIBRARIES)}
    rows.sort(key=lambda r: (r["n"], order.get(r["library"], len(order))))
    fresh_items = {r["items"] for r in new.get("retriever", [])}
    retriever = [r for r in old.get("retriever", []) if r["items"] not in fresh_items] + new.get("retriever", [])
    retriever.sort(key=lambda r: (r["items"], list(RETRIEVER_MODES).index(r["mode"])))
    return {
        **new,
        "rows": rows,
        "retriever": retriever,
        "notes": {**old["notes"], **new["notes"]},
        "seconds": old["seconds"] + new["seconds"],
    }


def render(r: dict[str, Any]) -> str:
    ok = [row for row in r["rows"] if "error" not in row]
    body = table(
        [
            "library",
            "n",
            "build s",
            "recall@10",
            "recall@100",
            "p50 ms",
            "p95 ms",
            "RSS MB",
            "+index MB",
            "file MB",
            "load s",
            "measured",
        ],
        [
            [
                row["library"],
                f"{row['n']:,}",
                f"{row['build_s']:.1f}",
                f"{row['recall@10']:.3f}",
                f"{row['recall@100']:.3f}",
                f"{row['p50_ms']:.2f}",
                f"{row['p95_ms']:.2f}",
                f"{row['rss_mb']:.0f}",
                f"{row['index_mb']:.0f}",
                f"{row['file_mb']:.0f}" if row["file_mb"] else "-",
                f"{row['load_s']:.2f}" if row["file_mb"] else "-",
                row.get("measured", ""),
            ]
            for row in ok
        ],
    )
    sweeps = [
        [
            row["library"],
            f"{row['n']:,}",
            s["ef"],
            f"{s['recall@10']:.3f}",
            f"{s['recall@100']:.3f}",
            s["p50_ms"],
            s["p95_ms"],
        ]
        for row in ok
        for s in row.get("sweep", [])
    ]
    failed = [f"{row['library']} at {row['n']:,}: {row['error']}" for row in r["rows"] if "error" in row]
    p = r["params"]
    lines = [
        "## ANN: nearest-neighbour search at scale",
        "",
        f"{r['notes']['claims']} SciFact claims against {r['notes']['abstracts']:,} SciFact abstracts ({r['notes']['embedder']}), "
        "padded with synthetic unit vectors drawn from the abstracts' mean and covariance. Each query asks for "
        f"k={p['k']} (the retriever's candidates); recall is against exact float32 search. HNSW libraries: "
        f"M={p['M']}, ef_construction={p['ef_construction']}, ef_search={p['ef_search']}; build on 2 threads, "
        "queries one at a time on 1 thread. RSS MB: the process after build and queries, corpus vectors included; "
        "+index MB: what the index added over the vectors; load s: reading the saved index back.",
        "",
        body,
    ]
    if sweeps:
        lines += [
            "",
            "Search depth (ef_search) against recall and latency:",
            "",
            table(["library", "n", "ef", "recall@10", "recall@100", "p50 ms", "p95 ms"], sweeps),
        ]
    retriever = [row for row in r.get("retriever", []) if "error" not in row]
    if retriever:
        lines += [
            "",
            "### The retriever end to end",
            "",
            f"`Retriever.retrieve`, one claim at a time, top 5, over a store grown as bench.speed grows it (SciFact "
            f"abstracts repeated with their text, vectors jittered per copy; passages and FTS5 real). exact: "
            f"VERACITY_ANN_MIN_ITEMS=0; index: every matrix through the HNSW index, built at start (load s includes "
            f"the build); index, saved: the next start, loading the saved index. Agreement: the first hit and the top "
            f"5 against exact, on the first {RETRIEVER_QUERIES} claims. MB: the retriever's share of the process.",
            "",
            table(
                [
                    "items",
                    "passages",
                    "mode",
                    "load s",
                    "p50 ms",
                    "p95 ms",
                    "MB",
                    "same first hit",
                    "top-5 overlap",
                    "measured",
                ],
                [
                    [
                        f"{row['items']:,}",
                        f"{row['passages']:,}",
                        row["mode"],
                        f"{row['load_s']:.1f}",
                        f"{row['p50_ms']:.1f}",
                        f"{row['p95_ms']:.1f}",
                        f"{row['retriever_mb']:.0f}",
                        f"{row['top1_same']:.3f}",
                        f"{row['top5_overlap']:.3f}",
                        row.get("measured", ""),
                    ]
                    for row in retriever
                ],
            ),
        ]
    failed += [
        f"retriever {row['mode']} at {row['items']:,}: {row['error']}"
        for row in r.get("retriever", [])
        if "error" in row
    ]
    if failed:
        lines += ["", "Not measured: " + "; ".join(failed)]
    versions = ", ".join(f"{k} {v}" for k, v in r["versions"].items())
    lines += ["", f"{versions}. {r['machine']}, shared with other jobs; {r['seconds']:.0f} s."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k vectors only")
    parser.add_argument("--sizes", default="", help="comma-separated corpus sizes (default 10000,100000; none: skip)")
    parser.add_argument("--libraries", default="", help=f"comma-separated, from {', '.join(LIBRARIES)}")
    parser.add_argument("--sweep", default="usearch-f16", help="libraries whose ef_search is swept")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per (library, size)")
    parser.add_argument("--out", default="ann", help="results file name (bench/results/NAME.md)")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="drop earlier rows; by default rows of other sizes (the 1M ones) are kept, with the date they were measured",
    )
    parser.add_argument("--cell", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cell-sweep", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--retriever-cell", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--retriever-sizes",
        default=None,
        help="corpus sizes in items for the end-to-end table (default 10000,30000,100000; none: skip)",
    )
    args = parser.parse_args(argv)
    if args.retriever_cell:
        print(json.dumps(run_retriever_cell(args.retriever_cell, args.db, args.data_dir)))
        return 0
    if args.cell:
        print(json.dumps(run_cell(args.cell, args.data_dir, args.n, sweep=args.cell_sweep)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.isdigit()] or ([10_000] if args.quick else [10_000, 100_000])
    if args.sizes == "none":  # only the end-to-end table
        sizes = []
    libraries = [s for s in args.libraries.split(",") if s] or list(LIBRARIES)
    unknown = set(libraries) - set(LIBRARIES)
    if unknown:
        parser.error(f"unknown libraries {', '.join(sorted(unknown))}; choose from {', '.join(LIBRARIES)}")
    default_retriever = "10000" if args.quick else "10000,30000,100000"
    retriever_sizes = [
        int(s)
        for s in (args.retriever_sizes if args.retriever_sizes is not None else default_retriever).split(",")
        if s.isdigit()
    ]
    results = run(sizes, libraries, [s for s in args.sweep.split(",") if s], args.timeout, retriever_sizes)
    previous = results_dir(args.quick) / f"{args.out}.json"
    if not args.fresh and previous.exists():
        results = merged(json.loads(previous.read_text(encoding="utf-8")), results)
    markdown = render(results)
    print(markdown)
    write_result(args.out, results, markdown, results_dir(args.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
