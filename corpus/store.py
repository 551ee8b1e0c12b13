"""The evidence store: one SQLite file, written and read with sqlite-utils.

Embeddings are computed once, when items are added, and stored beside each statement with the name of
the model that made them, so serving never re-embeds the corpus. The corpus version is a hash of the
content, so a response can say exactly which evidence it was checked against.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from veracity.corpus.migrations import migrate
from veracity.corpus.schema import FIELDS
from veracity.corpus.sources import host_of
from veracity.models.embedder import DIMENSIONS

EmbedFn = Callable[[list[str]], np.ndarray]
EVIDENCE_COLUMNS = FIELDS + ("added", "embedding_model")

# Long statements (abstracts) also get passages: the title, then windows of WINDOW sentences every STRIDE
# sentences. A window of three is about 100 tokens, well inside the embedder's 256; the overlap keeps a
# finding that straddles two sentences whole in some window. Short statements are their own passage.
PASSAGE_MIN_SENTENCES = 4
PASSAGE_WINDOW = 3
PASSAGE_STRIDE = 2
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]*[A-Z0-9])")


class DuplicateIdError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class EvidenceMatrix:
    """All statement vectors in row order, for brute-force cosine search in memory."""

    ids: list[str]
    vectors: np.ndarray  # (n, d) float32, unit length
    model: str | None


@dataclass(frozen=True, slots=True)
class PassageMatrix:
    """Every passage vector in row order with the evidence item it belongs to."""

    ids: list[str]
    evidence_ids: list[str]
    vectors: np.ndarray  # (p, d) float32, unit length


def split_sentences(text: str) -> list[str]:
    """A light splitter for windowing evidence: a wrong boundary only shifts a window, so speed wins."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def passages(statement: str, title: str | None = None) -> list[str]:
    """The passages of a long statement, each prefixed with the source title; [] for a short one."""
    sentences = split_sentences(statement)
    if len(sentences) < PASSAGE_MIN_SENTENCES:
        return []
    prefix = f"{title.strip().rstrip('.')}. " if title and title.strip() else ""
    starts = list(range(0, max(len(sentences) - PASSAGE_WINDOW, 0) + 1, PASSAGE_STRIDE))
    if starts[-1] + PASSAGE_WINDOW < len(sentences):
        starts.append(len(sentences) - PASSAGE_WINDOW)
    return [prefix + " ".join(sentences[i : i + PASSAGE_WINDOW]) for i in starts]


def _locked(method):
    def wrapper(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


class EvidenceStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        # The server answers requests on several threads; one connection shared under a lock is
        # enough for a read-mostly store and keeps the in-memory matrix and the rows consistent.
        self.db = sqlite_utils.Database(sqlite3.connect(str(path), check_same_thread=False))
        self.lock = threading.RLock()
        with self.lock:
            migrate(self.db)

    # -- writing -----------------------------------------------------------------------------------
    @_locked
    def add(
        self,
        items: list[dict[str, Any]],
        embed: EmbedFn,
        embedding_model: str,
        replace: bool = False,
        progress: Callable[[int], None] | None = None,
        batch_size: int = 256,
    ) -> int:
        """Embed and insert ``items`` in one transaction; on any error nothing is written."""
        if not items:
            return 0
        ids = [item["id"] for item in items]
        repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
        if repeated:
            shown = ", ".join(repeated[:5])
            raise DuplicateIdError(
                f"{len(repeated)} id(s) appear more than once in this import ({shown}); give each item its own id"
            )
        if not replace:
            existing = self.existing_ids(ids)
            if existing:
                shown = ", ".join(sorted(existing)[:5])
                raise DuplicateIdError(
                    f"{len(existing)} id(s) already in the corpus ({shown}); use --replace to overwrite them"
                )
        added = datetime.now(UTC).isoformat(timespec="seconds")
        rows: list[dict[str, Any]] = []
        passage_rows: list[tuple[Any, ...]] = []
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            vectors = embed([item["statement"] for item in chunk]).astype(np.float32)
            for item, vector in zip(chunk, vectors):
                row = dict(item)
                row["tags"] = json.dumps(item.get("tags") or [])
                row["embedding"] = vector.tobytes()
                row["embedding_model"] = embedding_model
                row["added"] = added
                rows.append(row)
            passage_rows.extend(self._passage_rows(chunk, embed, embedding_model))
            if progress:
                progress(len(chunk))
        columns = list(EVIDENCE_COLUMNS) + ["embedding"]
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        sql = f"{verb} INTO evidence ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        # One explicit transaction: sqlite-utils' insert_all commits per chunk, which could leave
        # half a file behind on an error.
        with self.db.conn:
            self.db.conn.executemany(sql, [[row.get(c) for c in columns] for row in rows])
            self._delete_passages(ids)
            self.db.conn.executemany("INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?)", passage_rows)
            self._set_meta("version", self._content_hash())
        return len(rows)

    @staticmethod
    def _passage_rows(items: list[dict[str, Any]], embed: EmbedFn, embedding_model: str) -> list[tuple[Any, ...]]:
        texts: list[str] = []
        keys: list[tuple[str, int]] = []
        for item in items:
            for n, text in enumerate(passages(item["statement"], item.get("source_title"))):
                texts.append(text)
                keys.append((item["id"], n))
        if not texts:
            return []
        vectors = embed(texts).astype(np.float32)
        return [
            (f"{item_id}#{n}", item_id, n, text, vector.tobytes(), embedding_model)
            for (item_id, n), text, vector in zip(keys, texts, vectors)
        ]

    def _delete_passages(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            self.db.conn.execute(f"DELETE FROM passages WHERE evidence_id IN ({','.join('?' * len(chunk))})", chunk)

    @_locked
    def add_missing_passages(self, embed: EmbedFn, embedding_model: str) -> int:
        """Give long statements added before passages existed (migration m002) their passages."""
        rows = self.db.execute(
            "SELECT id, statement, source_title FROM evidence WHERE id NOT IN (SELECT evidence_id FROM passages)"
        ).fetchall()
        items = [{"id": r[0], "statement": r[1], "source_title": r[2]} for r in rows]
        items = [i for i in items if passages(i["statement"], i["source_title"])]
        passage_rows = self._passage_rows(items, embed, embedding_model)
        with self.db.conn:
            self.db.conn.executemany("INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?)", passage_rows)
        return len(passage_rows)

    @_locked
    def delete_all(self) -> None:
        with self.db.conn:
            self.db.execute("DELETE FROM evidence")
            self.db.execute("DELETE FROM passages")
            self._set_meta("version", self._content_hash())

    @_locked
    def set_meta(self, key: str, value: str) -> None:
        with self.db.conn:
            self._set_meta(key, value)

    def _set_meta(self, key: str, value: str) -> None:
        self.db.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    # -- reading -----------------------------------------------------------------------------------
    @_locked
    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    @property
    def version(self) -> str:
        return self.meta("version") or self._content_hash()

    @_locked
    def count(self) -> int:
        return self.db["evidence"].count

    @_locked
    def passage_count(self) -> int:
        return self.db["passages"].count

    @_locked
    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self.db.execute(f"SELECT id FROM evidence WHERE id IN ({marks})", chunk))
        return found

    def get(self, item_id: str) -> dict[str, Any] | None:
        rows = self.get_many([item_id])
        return rows.get(item_id)

    @_locked
    def get_many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        columns = ", ".join(EVIDENCE_COLUMNS)
        result: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            cursor = self.db.execute(f"SELECT {columns} FROM evidence WHERE id IN ({marks})", chunk)
            for values in cursor.fetchall():
                row = dict(zip(EVIDENCE_COLUMNS, values))
                row["tags"] = json.loads(row["tags"] or "[]")
                result[row["id"]] = row
        return result

    def iter_items(self) -> Iterator[dict[str, Any]]:
        """Rows are read under the lock in one go (the connection is shared between request threads, and a
        cursor left open across a concurrent write could see a half-applied import)."""
        columns = ", ".join(FIELDS)
        with self.lock:
            rows = self.db.execute(f"SELECT {columns} FROM evidence ORDER BY id").fetchall()
        for values in rows:
            row = dict(zip(FIELDS, values))
            row["tags"] = json.loads(row["tags"] or "[]")
            yield {k: v for k, v in row.items() if v not in (None, [])}

    @_locked
    def matrix(self) -> EvidenceMatrix:
        ids: list[str] = []
        blobs: list[bytes] = []
        models: set[str] = set()
        for item_id, blob, model in self.db.execute(
            "SELECT id, embedding, embedding_model FROM evidence ORDER BY rowid"
        ):
            ids.append(item_id)
            blobs.append(blob)
            models.add(model)
        if not ids:
            return EvidenceMatrix([], np.zeros((0, DIMENSIONS), dtype=np.float32), None)
        vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), -1)
        return EvidenceMatrix(ids, vectors, models.pop() if len(models) == 1 else None)

    @_locked
    def passage_matrix(self) -> PassageMatrix:
        ids: list[str] = []
        owners: list[str] = []
        blobs: list[bytes] = []
        for passage_id, evidence_id, blob in self.db.execute(
            "SELECT id, evidence_id, embedding FROM passages ORDER BY rowid"
        ):
            ids.append(passage_id)
            owners.append(evidence_id)
            blobs.append(blob)
        if not ids:
            return PassageMatrix([], [], np.zeros((0, DIMENSIONS), dtype=np.float32))
        vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), -1)
        return PassageMatrix(ids, owners, vectors)

    @_locked
    def passage_texts(self, ids: list[str]) -> dict[str, str]:
        result: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            result.update(self.db.execute(f"SELECT id, text FROM passages WHERE id IN ({marks})", chunk).fetchall())
        return result

    @_locked
    def search_text(self, query: str, limit: int = 20) -> list[tuple[str, float]]:
        """Full-text search (FTS5, bm25); returns (id, score) with higher = better."""
        terms = [t for t in _fts_terms(query)]
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        sql = (
            "SELECT evidence.id, -bm25(evidence_fts) AS score FROM evidence_fts "
            "JOIN evidence ON evidence.rowid = evidence_fts.rowid "
            "WHERE evidence_fts MATCH ? ORDER BY bm25(evidence_fts) LIMIT ?"
        )
        try:
            return [(r[0], float(r[1])) for r in self.db.execute(sql, [match, limit])]
        except sqlite3.OperationalError:
            return []

    @_locked
    def topics(self, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` most common ``topic`` values with their item counts, most common first (ties by name)."""
        rows = self.db.execute(
            "SELECT topic, COUNT(*) AS n FROM evidence WHERE topic IS NOT NULL AND topic != '' "
            "GROUP BY topic ORDER BY n DESC, topic LIMIT ?",
            [limit],
        )
        return [{"topic": topic, "items": n} for topic, n in rows]

    @_locked
    def stats(self) -> dict[str, Any]:
        rows = list(self.db.execute("SELECT topic, grade, study_type, source_url FROM evidence"))
        return {
            "items": len(rows),
            "version": self.version,
            "by_topic": dict(Counter(r[0] for r in rows).most_common()),
            "by_grade": dict(Counter(r[1] for r in rows).most_common()),
            "by_study_type": dict(Counter(r[2] for r in rows).most_common()),
            "by_host": dict(Counter(host_of(r[3] or "") or "(no URL)" for r in rows).most_common()),
        }

    @_locked
    def _content_hash(self) -> str:
        digest = hashlib.sha256()
        for row in self.db.execute(
            "SELECT id, statement, source_url, pmid, doi, grade, study_type FROM evidence ORDER BY id"
        ):
            digest.update(json.dumps(row).encode())
        return digest.hexdigest()[:12]

    @_locked
    def close(self) -> None:
        self.db.close()


_STOP = frozenset("a an and are as at be by for from has have in is it its of on or that the to was were with".split())


def _fts_terms(query: str) -> list[str]:
    words = "".join(ch.lower() if ch.isalnum() else " " for ch in query).split()
    return [w for w in dict.fromkeys(words) if w not in _STOP and len(w) > 1][:64]
