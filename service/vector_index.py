"""Nearest-neighbour search over corpus vectors: exact below a size, an HNSW graph (usearch) above it.

Exact search (one matrix product) is the right tool for the bundled corpus and anything up to tens of thousands of
vectors: it is fast enough and always right. Above ``min_items`` vectors (``VERACITY_ANN_MIN_ITEMS``) an HNSW graph
answers a query in about a millisecond instead of scanning every vector; the library, usearch, was chosen by
measurement against hnswlib, faiss and sqlite-vec (``python -m bench.ann``, bench/results/ann.md, docs/scale.md).
It is an optional dependency (``pip install 'veracity[scale]'``): without it a large corpus is searched exactly,
with one warning in the log.

The graph is saved beside the SQLite database (``evidence.db.ann-statements-<corpus version>.usearch``) with a small
JSON sidecar that records the SHA-256 of the file and of the vectors it was built from. A file is loaded only when
both match; a stale, truncated or altered one is rebuilt and replaced, never trusted (a corrupt graph could send a
search out of bounds).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

# HNSW settings (bench/results/ann.md, docs/scale.md): M=16 links per node, an insertion depth of 128, and a search
# depth of 500. Depth trades recall for time: on SciFact claims against 100k vectors, 128 gave recall@10 0.933 in
# 0.6 ms and 500 gave 0.984 in 1.9 ms (1M vectors: 0.751, and 0.881 in 4.8 ms), while the FTS5 search of the same
# retrieval takes about 130 ms on a 100k-item corpus: the deeper search is nearly free. It is at least k per query.
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 500
# Vectors are stored as float16 inside the graph: 106 MB instead of 180 MB per 100k vectors, with the same recall
# (0.932 against 0.930 at 100k), and the retriever rescores the graph's candidates from its own float32 matrix.
STORAGE_DTYPE = "f16"
FORMAT = 1
_EXACT_BLOCK = 256  # queries per matrix product in exact search: bounds the (queries x items) block in memory

_warned_missing = threading.Event()


class VectorIndex(Protocol):
    """Top-k search by inner product over unit vectors (cosine similarity)."""

    kind: str

    def __len__(self) -> int: ...

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores), each (queries, k), best first; rows of -1 (score -inf) pad a short answer."""
        ...


class ExactIndex:
    """Every vector scored: exact, and the fastest choice for small corpora."""

    kind = "exact"

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = len(vectors)
        k_found = min(k, len(self.vectors))
        rows = np.full((q, k), -1, dtype=np.int64)
        scores = np.full((q, k), -np.inf, dtype=np.float32)
        if k_found == 0:
            return rows, scores
        for start in range(0, q, _EXACT_BLOCK):
            sims = vectors[start : start + _EXACT_BLOCK] @ self.vectors.T
            idx = np.argpartition(-sims, k_found - 1, axis=1)[:, :k_found]
            top = np.take_along_axis(sims, idx, axis=1)
            order = np.argsort(-top, axis=1, kind="stable")
            rows[start : start + _EXACT_BLOCK, :k_found] = np.take_along_axis(idx, order, axis=1)
            scores[start : start + _EXACT_BLOCK, :k_found] = np.take_along_axis(top, order, axis=1)
        return rows, scores


class HnswIndex:
    """A usearch HNSW graph over the vectors; row i of the matrix is key i."""

    kind = "usearch"

    def __init__(self, index: Any) -> None:
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    @classmethod
    def build(cls, vectors: np.ndarray) -> HnswIndex:
        from usearch.index import Index

        index = Index(
            ndim=vectors.shape[1],
            metric="ip",
            dtype=STORAGE_DTYPE,
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        index.add(np.arange(len(vectors), dtype=np.uint64), vectors)
        return cls(index)

    @classmethod
    def load(cls, path: Path) -> HnswIndex:
        from usearch.index import Index

        # Read into memory, not mapped: the file may be replaced under us by a rebuild.
        index = Index.restore(str(path), expansion_search=EXPANSION_SEARCH)
        if index is None:
            raise ValueError(f"{path} is not a usearch index")
        return cls(index)

    def save(self, path: Path) -> None:
        self.index.save(str(path))

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = len(vectors)
        rows = np.full((q, k), -1, dtype=np.int64)
        scores = np.full((q, k), -np.inf, dtype=np.float32)
        if not len(self.index) or not q:
            return rows, scores
        matches = self.index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
        keys = np.asarray(matches.keys).reshape(q, -1)
        distances = np.asarray(matches.distances, dtype=np.float32).reshape(q, -1)
        # One query comes back as Matches (only the hits found), several as BatchMatches (padded, with counts).
        counts = np.asarray(matches.counts).reshape(q) if hasattr(matches, "counts") else np.array([keys.shape[1]])
        width = keys.shape[1]
        valid = np.arange(width)[None, :] < counts[:, None]
        rows[:, :width] = np.where(valid, keys.astype(np.int64), -1)
        scores[:, :width] = np.where(valid, 1.0 - distances, -np.inf)  # ip distance is 1 - dot
        return rows, scores


def ann_available() -> bool:
    try:
        import usearch.index  # noqa: F401
    except ImportError:
        return False
    return True


def index_path(db_path: Path | str, name: str, version: str) -> Path | None:
    """Where the graph of ``name`` (statements, passages) for corpus ``version`` lives; None for an in-memory store."""
    if str(db_path) == ":memory:":
        return None
    db = Path(db_path)
    return db.with_name(f"{db.name}.ann-{name}-{version}.usearch")


def open_index(vectors: np.ndarray, min_items: int, path: Path | None = None, name: str = "vectors") -> VectorIndex:
    """Exact search below ``min_items`` vectors (or when ``min_items`` is 0); above it the graph saved at ``path``
    when it was built from exactly these vectors, else a new graph, saved there for the next start."""
    if not min_items or len(vectors) < min_items:
        return ExactIndex(vectors)
    if not ann_available():
        if not _warned_missing.is_set():
            _warned_missing.set()
            log.warning(
                "%s: %d vectors, above VERACITY_ANN_MIN_ITEMS=%d, but usearch is not installed, so they are "
                "searched exactly (slower, more memory per query); pip install 'veracity[scale]'",
                name,
                len(vectors),
                min_items,
            )
        return ExactIndex(vectors)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    fingerprint = vectors_sha256(vectors)
    if path is not None:
        loaded = _load_verified(path, vectors, fingerprint)
        if loaded is not None:
            return loaded
    t0 = time.perf_counter()
    index = HnswIndex.build(vectors)
    log.info("%s: built an HNSW index over %d vectors in %.1f s", name, len(vectors), time.perf_counter() - t0)
    if path is not None:
        try:
            _save(index, path, vectors, fingerprint)
        except OSError as exc:  # a read-only folder: serve from memory, build again next start
            log.warning(
                "%s: could not save the index to %s (%s); it will be rebuilt at the next start", name, path, exc
            )
    return index


def vectors_sha256(vectors: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(f"{vectors.shape}{vectors.dtype}".encode())
    digest.update(np.ascontiguousarray(vectors).data)  # the buffer itself: no copy of a 1.5 GB matrix
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _expected_meta(vectors: np.ndarray, fingerprint: str) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "format": FORMAT,
        "library": f"usearch {version('usearch')}",
        "rows": int(vectors.shape[0]),
        "dims": int(vectors.shape[1]),
        "vectors_sha256": fingerprint,
        "connectivity": CONNECTIVITY,
        "expansion_add": EXPANSION_ADD,
        "dtype": STORAGE_DTYPE,
    }


def _load_verified(path: Path, vectors: np.ndarray, fingerprint: str) -> HnswIndex | None:
    """The saved graph, if its sidecar describes these vectors and the file's checksum matches; else None."""
    sidecar = _sidecar(path)
    if not path.exists() or not sidecar.exists():
        return None
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        expected = _expected_meta(vectors, fingerprint)
        stale = [key for key, value in expected.items() if meta.get(key) != value]
        if stale:
            log.info("%s is stale (%s differ); rebuilding it", path.name, ", ".join(stale))
            return None
        if _file_sha256(path) != meta.get("file_sha256"):
            log.warning("%s does not match its recorded checksum (corrupt or altered); rebuilding it", path.name)
            return None
        index = HnswIndex.load(path)
        if len(index) != len(vectors):
            log.warning("%s holds %d vectors, not %d; rebuilding it", path.name, len(index), len(vectors))
            return None
    except (OSError, ValueError, RuntimeError) as exc:
        log.warning("%s could not be read (%s); rebuilding it", path.name, exc)
        return None
    log.info("%s: loaded the saved HNSW index (%d vectors)", path.name, len(index))
    return index


def _save(index: HnswIndex, path: Path, vectors: np.ndarray, fingerprint: str) -> None:
    """Write the graph, then its sidecar, each through a temporary file and a rename, then drop older versions'
    files of the same name. Two writers racing leave a pair whose checksum fails: rebuilt, never trusted."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        index.save(tmp)
        meta = {**_expected_meta(vectors, fingerprint), "file_sha256": _file_sha256(tmp)}
        os.replace(tmp, path)
        tmp.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, _sidecar(path))
    finally:
        tmp.unlink(missing_ok=True)
    prefix = path.name.rsplit("-", 1)[0] + "-"  # evidence.db.ann-statements-
    for old in path.parent.glob(prefix + "*.usearch*"):
        if old.name not in (path.name, _sidecar(path).name) and not old.name.endswith(".tmp"):
            old.unlink(missing_ok=True)
