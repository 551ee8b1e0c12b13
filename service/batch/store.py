"""The results store: jobs, one row per input document, and the sentences of each, in one SQLite file.

Resumable by construction: every input document gets a row in ``documents`` (status ``pending``) before
any work starts, and each chunk's results (its sentences, the document's status and counts) are written
in one transaction. A run killed at any point leaves whole chunks done and the rest ``pending``; running
it again picks up exactly the pending rows, and ``sentences`` is keyed by (document, index), so nothing
is lost or written twice. The Ray engine's workers write their chunks to shards first (``shards``), which
``ResultsStore.merge`` folds in writing only documents still pending, so the same holds for them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from veracity.corpus.migrations import Migration, migrate
from veracity.models.labels import VERDICT_LABELS
from veracity.service.batch.sources import Source
from veracity.service.fetch import now_iso

if TYPE_CHECKING:
    from veracity.service.batch.check import DocResult

FINISHED = ("checked", "failed", "skipped")
VERDICT_COLUMNS = (*VERDICT_LABELS, "not_checkworthy")
TOP_EVIDENCE = 3  # evidence ids kept per sentence: enough to audit a verdict without copying the corpus


class TooManyJobs(Exception):
    """The client already has as many jobs queued or running as the server allows."""

    def __init__(self, active: int) -> None:
        super().__init__(f"{active} jobs queued or running")
        self.active = active


# --- the schema, as named migrations (corpus/migrations.py's ``migrate`` applies them) ---------------------


def m001_results(db: sqlite_utils.Database) -> None:
    """``jobs``, ``documents`` and ``sentences``: the schema of every file written before named migrations.

    Those files carry ``user_version = 1`` and these tables but no ``_migrations`` table. Every statement
    here is ``if_not_exists``, so on such a file m001 changes nothing and only records itself as applied.
    """
    db.table("jobs").create(
        {
            "id": str,
            "origin": str,
            "status": str,
            "options": str,
            "error": str,
            "created_at": str,
            "started_at": str,
            "finished_at": str,
        },
        pk="id",
        if_not_exists=True,
    )
    columns: dict[str, Any] = {
        "id": int,
        "job": str,
        "key": str,
        "position": int,
        "url": str,
        "input_text": str,
        "input_path": str,
        "input_title": str,
        "status": str,
        "error_code": str,
        "error": str,
        "http_status": int,
        "final_url": str,
        "content_type": str,
        "encoding": str,
        "title": str,
        "published": str,
        "text_sha256": str,
        "chars": int,
        "attempts": int,
        "redirects": int,
        "sentences": int,
        "checkworthy": int,
        **{c: int for c in VERDICT_COLUMNS},
        "model": str,
        "fetched_at": str,
        "checked_at": str,
        "seq": int,
    }
    db.table("documents").create(columns, pk="id", not_null={"job", "key", "status"}, if_not_exists=True)
    db.table("documents").create_index(["job", "key"], unique=True, if_not_exists=True)
    db.table("documents").create_index(["job", "status", "position"], if_not_exists=True)
    db.table("documents").create_index(["job", "seq"], if_not_exists=True)
    db.table("sentences").create(
        {
            "document_id": int,
            "idx": int,
            "start": int,
            "end": int,
            "text": str,
            "kind": str,
            "checkworthy": int,
            "checkworthy_reason": str,
            "label": str,
            "confidence": float,
            "method": str,
            "evidence_ids": str,
            "top_similarity": float,
        },
        pk=("document_id", "idx"),
        foreign_keys=[("document_id", "documents", "id")],
        if_not_exists=True,
    )


def m002_job_client(db: sqlite_utils.Database) -> None:
    """Who submitted an API job (``service.access.client_id``: a key's hash or an address), so that the jobs one
    client may have queued at once can be bounded. Jobs from before carry none and count against nobody."""
    db.table("jobs").add_column("client", str)
    db.table("jobs").create_index(["client", "status"], if_not_exists=True)


MIGRATIONS: list[Migration] = [m001_results, m002_job_client]
# ``PRAGMA user_version`` counts the migrations applied: a file with more than this Veracity knows was written
# by a newer one and is refused, as Veracity before named migrations (which wrote 1) refuses a later file.
SCHEMA_VERSION = len(MIGRATIONS)


# --- the results store ----------------------------------------------------------------------------------


class ResultsStore:
    """``jobs``, ``documents`` (one row per input document) and ``sentences`` in one SQLite file.

    The CLI writes one job (``default``) per results file; the API keeps every submitted job in
    ``settings.batch_db``. WAL mode lets the API read progress while a worker writes.
    """

    def __init__(self, path: Path | str, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The standard library's sqlite3, never the pysqlite3 that sqlite-utils prefers when it is installed: two
        # SQLite libraries in one process do not see each other's file locks (a lock test passed through that).
        self.db = sqlite_utils.Database(sqlite3.connect(str(self.path), check_same_thread=False))
        self.db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        self.db.execute("PRAGMA foreign_keys = ON")
        if self.db.journal_mode != "wal":
            self.db.enable_wal()
        self._ensure_schema()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One transaction that takes the write lock up front, so two writers wait instead of failing."""
        self.db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.conn.execute("ROLLBACK")
            raise
        else:
            self.db.conn.execute("COMMIT")

    def _ensure_schema(self) -> None:
        """Apply pending migrations under the write lock, so two processes opening a new file at once neither
        race nor fail; a file already at ``SCHEMA_VERSION`` is only read."""
        version = self._schema_version()
        if version == SCHEMA_VERSION:
            return
        with self._write():
            version = self._schema_version()  # another process may have migrated it while we waited
            if version == SCHEMA_VERSION:
                return
            migrate(self.db, MIGRATIONS, transaction=self.db.atomic)  # nested in this transaction
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _schema_version(self) -> int:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} was written by a newer Veracity (schema {version}); upgrade Veracity to read it"
            )
        return version

    # jobs

    def ensure_job(self, job: str, options: dict[str, Any], origin: str = "cli") -> dict[str, Any] | None:
        """Create the job row, or update its options; returns the options it had before, if any."""
        with self._write():
            previous = self.job(job)
            if previous is None:
                self._insert_job(job, options, origin)
                return None
            self.db.table("jobs").update(job, {"options": json.dumps(options)})
        return json.loads(previous["options"] or "{}")

    def create_job(
        self,
        job: str,
        sources: list[Source],
        options: dict[str, Any],
        origin: str = "api",
        client: str | None = None,
        max_active: int = 0,
    ) -> None:
        """A job and all its documents in one transaction: it exists whole or not at all.

        With ``max_active`` > 0, a ``client`` that already has that many jobs queued or running gets
        ``TooManyJobs`` instead; counted inside the write lock, so two requests at once cannot both slip in.
        """
        with self._write():
            if client is not None and max_active > 0:
                active = self.active_jobs(client)
                if active >= max_active:
                    raise TooManyJobs(active)
            self._insert_job(job, options, origin, client)
            self._insert_sources(job, sources)

    def active_jobs(self, client: str) -> int:
        """Jobs of ``client`` still queued or running."""
        return int(
            self.db.execute(
                "select count(*) from jobs where client = ? and status in ('queued', 'running')", [client]
            ).fetchone()[0]
        )

    def _insert_job(self, job: str, options: dict[str, Any], origin: str, client: str | None = None) -> None:
        """A new ``queued`` job row; the caller holds the write transaction."""
        self.db.table("jobs").insert(
            {
                "id": job,
                "origin": origin,
                "status": "queued",
                "options": json.dumps(options),
                "created_at": now_iso(),
                "client": client,
            }
        )

    def job(self, job: str) -> dict[str, Any] | None:
        rows = list(self.db.table("jobs").rows_where("id = ?", [job]))
        return rows[0] if rows else None

    def next_job(self) -> dict[str, Any] | None:
        """The oldest job that is queued, or was running when its worker stopped."""
        rows = list(
            self.db.table("jobs").rows_where("status in ('queued', 'running')", order_by="created_at, rowid", limit=1)
        )
        return rows[0] if rows else None

    def set_job_status(self, job: str, status: str, error: str | None = None) -> None:
        changes: dict[str, Any] = {"status": status, "error": error}
        if status == "running":
            changes["started_at"] = now_iso()
        if status in ("done", "failed"):
            changes["finished_at"] = now_iso()
        with self._write():
            self.db.table("jobs").update(job, changes)

    def purge_finished(self, older_than_days: float) -> int:
        """Delete jobs that finished more than ``older_than_days`` ago, with their documents and sentences.

        A job submitted to the API keeps every extracted text it fetched; without an end, the file grows with every
        job and keeps pages nobody asks for any more. Queued and running jobs are never touched. Returns how many
        jobs went.
        """
        cutoff = (datetime.now(UTC) - timedelta(days=older_than_days)).isoformat(timespec="seconds")
        with self._write():
            jobs = [
                r["id"]
                for r in self.db.query(
                    "select id from jobs where status in ('done', 'failed') and finished_at < ?", [cutoff]
                )
            ]
            for job in jobs:
                self.db.execute(
                    "delete from sentences where document_id in (select id from documents where job = ?)", [job]
                )
                self.db.execute("delete from documents where job = ?", [job])
                self.db.execute("delete from jobs where id = ?", [job])
        return len(jobs)

    # documents

    def register(self, job: str, sources: Iterable[Source]) -> int:
        """Add the sources not yet in the job (by key) as pending; returns how many were new."""
        with self._write():
            return self._insert_sources(job, list(sources))

    def _insert_sources(self, job: str, sources: list[Source]) -> int:
        before = self.db.execute(
            "select count(*), coalesce(max(position), -1) from documents where job = ?", [job]
        ).fetchone()
        rows = [
            {
                "job": job,
                "key": s.key,
                "position": before[1] + 1 + i,
                "url": s.url,
                "input_text": s.text,
                "input_path": s.path,
                "input_title": s.title,
                "status": "pending",
            }
            for i, s in enumerate(sources)
        ]
        if rows:
            self.db.table("documents").insert_all(rows, ignore=True, batch_size=500)
        after = self.db.execute("select count(*) from documents where job = ?", [job]).fetchone()[0]
        return after - before[0]

    def reset(self, job: str, keys: Iterable[str] | None = None, statuses: tuple[str, ...] = FINISHED) -> int:
        """Mark finished documents pending again (``--force``, ``--retry-errors``); old sentences stay until replaced."""
        marks = ",".join("?" for _ in statuses)
        sql = f"update documents set status = 'pending' where job = ? and status in ({marks})"
        with self._write():
            if keys is None:
                return self.db.execute(sql, [job, *statuses]).rowcount
            total = 0
            keys = list(keys)
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                total += self.db.execute(
                    f"{sql} and key in ({','.join('?' for _ in part)})", [job, *statuses, *part]
                ).rowcount
            return total

    def pending_sources(self, job: str, keys: Iterable[str] | None = None) -> list[Source]:
        rows = self.db.execute(
            "select key, url, input_text, input_path, input_title from documents where job = ? and status = 'pending' order by position",
            [job],
        ).fetchall()
        wanted = set(keys) if keys is not None else None
        return [
            Source(key=r[0], url=r[1], text=r[2], path=r[3], title=r[4])
            for r in rows
            if wanted is None or r[0] in wanted
        ]

    def save(self, job: str, results: list[DocResult]) -> None:
        """Write a chunk of results in one transaction: sentences replaced, document rows finished."""
        if not results:
            return
        with self._write():
            ids = self._document_ids(job, [r.key for r in results])
            missing = [r.key for r in results if r.key not in ids]
            if missing:  # not registered: a caller bug, never silently dropped
                raise KeyError(f"document {missing[0]!r} is not part of job {job!r}")
            self._write_results(job, results, ids)

    def merge(self, job: str, results: list[DocResult]) -> tuple[int, int, int]:
        """Write the results of documents still ``pending``, in one transaction; the others are left as they are.

        For results that were stored elsewhere first (a Ray worker's shard): merging the same result twice, or one
        for a document finished since, changes nothing. Returns (written, already finished, not in the job).
        """
        with self._write():
            ids = self._document_ids(job, [r.key for r in results], status="pending")
            finished = self._document_ids(job, [r.key for r in results if r.key not in ids])
            fresh: dict[str, DocResult] = {}
            for r in results:
                if r.key in ids:
                    fresh.setdefault(r.key, r)  # a document twice in one call: the first result wins
            self._write_results(job, list(fresh.values()), ids)
        unknown = sum(1 for r in results if r.key not in ids and r.key not in finished)
        return len(fresh), len(results) - len(fresh) - unknown, unknown

    def _document_ids(self, job: str, keys: list[str], status: str | None = None) -> dict[str, int]:
        """{key: documents.id} of the given keys in ``job`` (only those with ``status``, if given)."""
        ids: dict[str, int] = {}
        extra, extra_args = (" and status = ?", [status]) if status is not None else ("", [])
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            ids.update(
                self.db.execute(
                    f"select key, id from documents where job = ? and key in ({','.join('?' for _ in part)}){extra}",
                    [job, *part, *extra_args],
                ).fetchall()
            )
        return ids

    def _write_results(self, job: str, results: list[DocResult], ids: dict[str, int]) -> None:
        """Sentences replaced and document rows finished; the caller holds the write transaction. A result may carry
        its own ``checked_at`` (a shard line records when its worker checked it); otherwise it is now."""
        seq = self.db.execute("select coalesce(max(seq), 0) from documents where job = ?", [job]).fetchone()[0]
        checked_at = now_iso()
        sentence_rows: list[dict[str, Any]] = []
        for r in results:
            doc_id = ids[r.key]
            seq += 1
            self.db.execute("delete from sentences where document_id = ?", [doc_id])
            self.db.table("documents").update(doc_id, {"checked_at": checked_at, **r.document, "seq": seq})
            sentence_rows.extend({"document_id": doc_id, **s} for s in r.sentences)
        if sentence_rows:
            self.db.table("sentences").insert_all(sentence_rows, batch_size=500)

    def progress(self, job: str) -> dict[str, int]:
        counts = {"total": 0, "pending": 0, "checked": 0, "failed": 0, "skipped": 0}
        for status, n in self.db.execute(
            "select status, count(*) from documents where job = ? group by status", [job]
        ).fetchall():
            counts[status] = n
            counts["total"] += n
        sums = self.db.execute(
            f"select coalesce(sum(sentences), 0), coalesce(sum(checkworthy), 0), {', '.join(f'coalesce(sum({c}), 0)' for c in VERDICT_COLUMNS)} "
            "from documents where job = ? and status = 'checked'",
            [job],
        ).fetchone()
        counts.update(zip(("sentences", "checkworthy", *VERDICT_COLUMNS), sums))
        return counts

    def error_counts(self, job: str | None = None) -> dict[str, int]:
        where, args = ("where job = ? and", [job]) if job else ("where", [])
        rows = self.db.execute(
            f"select error_code, count(*) from documents {where} error_code is not null group by error_code order by 2 desc",
            args,
        )
        return dict(rows.fetchall())

    def iter_documents(self, job: str | None = None, page: int = 200) -> Iterator[dict[str, Any]]:
        """Every finished document in input order, read a page at a time so exports stay small in memory."""
        where, args = ("job = ? and", [job]) if job else ("", [])
        after = 0
        while True:
            ids = [
                r[0]
                for r in self.db.execute(
                    f"select id from documents where {where} status != 'pending' and id > ? order by id limit ?",
                    [*args, after, page],
                )
            ]
            if not ids:
                return
            after = ids[-1]
            yield from self._with_sentences(
                self._rows(f"select * from documents where id in ({','.join('?' for _ in ids)}) order by id", ids)
            )

    def documents(self, job: str, after_seq: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Finished documents in the order they finished, for paging through a running job's results."""
        rows = self._rows(
            "select * from documents where job = ? and status != 'pending' and seq > ? order by seq limit ?",
            [job, after_seq, limit],
        )
        return self._with_sentences(rows)

    def _rows(self, sql: str, args: list[Any]) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql, args)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def _with_sentences(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sentences: dict[int, list[dict[str, Any]]] = {row["id"]: [] for row in rows}
        ids = list(sentences)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            for s in self._rows(
                f"select * from sentences where document_id in ({','.join('?' for _ in part)}) order by document_id, idx",
                part,
            ):
                sentences[s["document_id"]].append(s)
        return [{**document_json(row, sentences[row["id"]]), "seq": row["seq"]} for row in rows]


def document_json(row: dict[str, Any], sentences: list[dict[str, Any]]) -> dict[str, Any]:
    """The one JSON shape of a finished document: API results pages and ``batch export --format jsonl``."""
    return {
        "id": row["key"],
        "job": row["job"],
        "url": row["url"],
        "final_url": row["final_url"],
        "status": row["status"],
        "error": {"code": row["error_code"], "message": row["error"]} if row["error_code"] else None,
        "http_status": row["http_status"],
        "title": row["title"] or row["input_title"],
        "published": row["published"],
        "text_sha256": row["text_sha256"],
        "fetched_at": row["fetched_at"],
        "checked_at": row["checked_at"],
        "model": json.loads(row["model"]) if row["model"] else None,
        "counts": {
            "sentences": row["sentences"] or 0,
            "checkworthy": row["checkworthy"] or 0,
            **{c: row[c] or 0 for c in VERDICT_COLUMNS},
        },
        "sentences": [
            {
                "index": s["idx"],
                "start": s["start"],
                "end": s["end"],
                "text": s["text"],
                "kind": s["kind"],
                "checkworthy": bool(s["checkworthy"]),
                "checkworthy_reason": s["checkworthy_reason"],
                "label": s["label"],
                "confidence": s["confidence"],
                "method": s["method"],
                "evidence_ids": json.loads(s["evidence_ids"] or "[]"),
                "top_similarity": s["top_similarity"],
            }
            for s in sentences
        ],
    }
